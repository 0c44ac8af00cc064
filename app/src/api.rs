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

/// How the server hands data to pages rendered on the server.
#[cfg(feature = "ssr")]
#[derive(Clone)]
pub struct ServerData {
    pub catalog: std::sync::Arc<dyn Fn() -> Result<CatalogView, String> + Send + Sync>,
    pub pins: std::sync::Arc<dyn Fn() -> Result<Option<PinsView>, String> + Send + Sync>,
}

#[cfg(feature = "ssr")]
async fn on_server<T: Send + 'static>(
    read: impl FnOnce(&ServerData) -> Box<dyn FnOnce() -> Result<T, String> + Send>,
) -> Result<T, String> {
    let data = leptos::prelude::use_context::<ServerData>().ok_or("no server data")?;
    let job = read(&data);
    tokio::task::spawn_blocking(job).await.map_err(|e| e.to_string())?
}

#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
async fn get_json<T: serde::de::DeserializeOwned>(url: &'static str) -> Result<T, String> {
    // gloo-net's futures are not Send; the browser has one thread.
    send_wrapper::SendWrapper::new(async move {
        let resp = gloo_net::http::Request::get(url).send().await.map_err(|e| e.to_string())?;
        if !resp.ok() {
            return Err(format!("the server answered {}", resp.status()));
        }
        resp.json::<T>().await.map_err(|e| e.to_string())
    })
    .await
}

/// The catalog.
pub async fn fetch_catalog() -> Result<CatalogView, String> {
    #[cfg(feature = "ssr")]
    {
        return on_server(|d| {
            let f = d.catalog.clone();
            Box::new(move || f())
        })
        .await;
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        return get_json("/api/catalog").await;
    }
    #[allow(unreachable_code)]
    Err("built without ssr or hydrate".into())
}

/// The pin lint, `None` when the server has no pin paths.
pub async fn fetch_pins() -> Result<Option<PinsView>, String> {
    #[cfg(feature = "ssr")]
    {
        return on_server(|d| {
            let f = d.pins.clone();
            Box::new(move || f())
        })
        .await;
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        return get_json("/api/pins").await;
    }
    #[allow(unreachable_code)]
    Err("built without ssr or hydrate".into())
}
