//! The JSON API's types, shared by the server (which produces them) and the
//! browser (which reads them), and the one function pages call to get them.

use serde::{Deserialize, Serialize};

/// `GET /api/catalog`: every image of every root, with the graph's problems.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CatalogView {
    pub images: Vec<ImageRow>,
    /// Catalog-level problems: dependency disagreements, cycles, duplicates.
    pub problems: Vec<String>,
}

/// One image as the dashboard lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImageRow {
    pub name: String,
    pub version: Option<String>,
    pub label: Option<String>,
    pub dir: String,
    pub parents: Vec<String>,
    /// Why the image cannot be rendered, naming file and line.
    pub error: Option<String>,
}

/// How the server hands the catalog to pages rendered on the server.
#[cfg(feature = "ssr")]
#[derive(Clone)]
pub struct CatalogSource(pub std::sync::Arc<dyn Fn() -> Result<CatalogView, String> + Send + Sync>);

/// The catalog: read directly on the server, fetched from the API in the
/// browser (only when the server did not already send it with the page).
pub async fn fetch_catalog() -> Result<CatalogView, String> {
    #[cfg(feature = "ssr")]
    {
        let source = leptos::prelude::use_context::<CatalogSource>().ok_or("no catalog source")?;
        return tokio_blocking(move || (source.0)()).await;
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        // gloo-net's futures are not Send; the browser has one thread.
        return send_wrapper::SendWrapper::new(async {
            let resp = gloo_net::http::Request::get("/api/catalog").send().await.map_err(|e| e.to_string())?;
            if !resp.ok() {
                return Err(format!("the server answered {}", resp.status()));
            }
            resp.json::<CatalogView>().await.map_err(|e| e.to_string())
        })
        .await;
    }
    #[allow(unreachable_code)]
    Err("built without ssr or hydrate".into())
}

#[cfg(feature = "ssr")]
async fn tokio_blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f).await.map_err(|e| e.to_string())?
}
