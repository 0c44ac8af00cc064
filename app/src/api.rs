//! The JSON API's types, shared by the server (which produces them) and the
//! browser (which reads them), and the functions pages call to get them:
//! on the server they read through `ServerData`, in the browser they fetch
//! the API (only when the server did not already send the data with the page).

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

/// `GET /api/pins`: the pin lint (`null` when the server has no pin paths).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PinsView {
    pub pins: Vec<PinRow>,
    /// Pins per status, every status listed.
    pub counts: Vec<(String, usize)>,
    pub dead_images: Vec<String>,
    pub files_scanned: usize,
}

/// One pin as the dashboard lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PinRow {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub image: String,
    pub version: Option<String>,
    pub status: String,
    pub latest: Option<String>,
    /// `older` or `newer` for stale pins.
    pub order: Option<String>,
    pub note: Option<String>,
}

/// Produces one view on the server (blocking work: file reads, rendering).
pub type Producer<T> = std::sync::Arc<dyn Fn() -> Result<T, String> + Send + Sync>;

/// How the server hands data to pages rendered on the server.
#[derive(Clone)]
pub struct ServerData {
    pub catalog: Producer<CatalogView>,
    pub pins: Producer<Option<PinsView>>,
}

/// One view: `pick` reads it through `ServerData` on the server; the browser
/// fetches `url`.
async fn fetch<T>(pick: fn(&ServerData) -> Producer<T>, url: &'static str) -> Result<T, String>
where
    T: serde::de::DeserializeOwned + Send + 'static,
{
    #[cfg(feature = "ssr")]
    {
        let _ = url;
        let data = leptos::prelude::use_context::<ServerData>().ok_or("no server data")?;
        let produce = pick(&data);
        return tokio::task::spawn_blocking(move || produce()).await.map_err(|e| e.to_string())?;
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        let _ = pick;
        // gloo-net's futures are not Send; the browser has one thread.
        return send_wrapper::SendWrapper::new(async move {
            let resp = gloo_net::http::Request::get(url).send().await.map_err(|e| e.to_string())?;
            if !resp.ok() {
                return Err(format!("the server answered {}", resp.status()));
            }
            resp.json::<T>().await.map_err(|e| e.to_string())
        })
        .await;
    }
    #[allow(unreachable_code)]
    {
        let _ = (pick, url);
        Err("built without ssr or hydrate".into())
    }
}

/// The catalog.
pub async fn fetch_catalog() -> Result<CatalogView, String> {
    fetch(|d| d.catalog.clone(), "/api/catalog").await
}

/// The pin lint, `None` when the server has no pin paths.
pub async fn fetch_pins() -> Result<Option<PinsView>, String> {
    fetch(|d| d.pins.clone(), "/api/pins").await
}
