//! dockyard's dashboard: a Leptos app rendered on the server and hydrated in
//! the browser. `shell` is the HTML document, `App` the router, one small
//! component per page. Data comes from the server's JSON API (`api`).

pub mod api;
mod pages;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::StaticSegment;
use leptos_router::components::{A, Route, Router, Routes};

/// The HTML document around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="data:," />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Meta context, stylesheet and routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser, after hydration: tests (and people
    // debugging) can tell a hydrated page from a server-rendered one.
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Stylesheet id="dockyard" href="/pkg/app.css" />
        <Title text="dockyard" />
        <Router>
            <header class="top">
                <a href="/" class="brand">"dockyard"</a>
                <nav>
                    <A href="/">"Images"</A>
                    <A href="/pins">"Pins"</A>
                </nav>
                <span class="tagline">"keeps the CI fleet's images honest"</span>
            </header>
            <main>
                <Routes fallback=|| view! { <p class="empty">"Page not found."</p> }>
                    <Route path=StaticSegment("") view=pages::ImagesPage />
                    <Route path=StaticSegment("pins") view=pages::PinsPage />
                </Routes>
            </main>
        </Router>
    }
}

/// Entry point of the WASM bundle: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
