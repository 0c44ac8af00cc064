//! The JSON API's types, shared by the server (which produces them) and the
//! browser (which reads them), and the functions pages call to get them:
//! on the server they read through `ServerData`, in the browser they fetch
//! the API (only when the server did not already send the data with the page).

pub use dockyard_api::*;

/// Produces one view on the server (blocking work: file reads, rendering).
pub type Producer<T> = std::sync::Arc<dyn Fn() -> Result<T, String> + Send + Sync>;

/// How the server hands data to pages rendered on the server.
#[derive(Clone)]
pub struct ServerData {
    pub catalog: Producer<CatalogReport>,
    pub pins: Producer<PinsReport>,
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
pub async fn fetch_catalog() -> Result<CatalogReport, String> {
    fetch(|d| d.catalog.clone(), "/api/v1/catalog").await
}

/// The pin lint.
pub async fn fetch_pins() -> Result<PinsReport, String> {
    fetch(|d| d.pins.clone(), "/api/v1/pins").await
}
