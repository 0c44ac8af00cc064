//! dockyard's dashboard: a Leptos app rendered on the server (in order, so
//! every page carries its data in the HTML) and hydrated in the browser.
//! `shell` is the HTML document, `App` the router, one component per page
//! in `pages`. Data comes from the server's JSON API (`api`).
#![recursion_limit = "256"]

pub mod api;
mod pages;
mod session;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::{SsrMode, StaticSegment, path};

/// The front end's version (from the server's context): asset URLs carry
/// it as `?v=`, so that a browser may keep them for good and still never
/// runs an old script against a new server.
#[derive(Clone, Debug)]
pub struct AssetVersion(pub Option<String>);

/// Loads the front end and hydrates the page. Leptos's `HydrationScripts`
/// also adds `<link rel=preload>` for the script and the WASM, which a
/// browser without JavaScript still downloads (about 500 KB for nothing,
/// and a warning): this script alone starts both, so without JavaScript
/// nothing is fetched.
fn hydrate_script(version: &str) -> String {
    format!(
        "import('/pkg/app.js{version}').then((m) => m.default({{ module_or_path: '/pkg/app_bg.wasm{version}' }})\
         .then(() => m.hydrate()));"
    )
}

/// The HTML document around the app (rendered on the server only: the
/// stylesheet and the script are outside what hydrates).
pub fn shell(_options: LeptosOptions) -> impl IntoView {
    let version = use_context::<AssetVersion>().and_then(|v| v.0).map(|v| format!("?v={v}")).unwrap_or_default();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" href="data:," />
                <link rel="stylesheet" id="dockyard" href=format!("/pkg/app.css{version}") />
                <script type="module" inner_html=hydrate_script(&version)></script>
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Meta context, stylesheet, navigation and routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    session::provide_session();
    // Effects run only in the browser, after hydration: tests (and people
    // debugging) can tell a hydrated page from a server-rendered one.
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        // Each page names itself: "Pins · dockyard".
        <Title formatter=|text: String| if text.is_empty() { "dockyard".to_owned() } else { format!("{text} · dockyard") } />
        // Pages of one thing (an image, a run) wait for their data before the
        // first byte, so that an unknown one answers 404, not 200.
        <Router>
            <a class="skip" href="#main">"Skip to content"</a>
            <header class="top">
                <A href="/" attr:class="brand">"dockyard"</A>
                <nav aria-label="Main">
                    <A href="/" exact=true>"Overview"</A>
                    <A href="/pins">"Pins"</A>
                    <A href="/images">"Images"</A>
                    <A href="/graph">"Graph"</A>
                    <A href="/builds">"Builds"</A>
                    <A href="/hosts">"Hosts"</A>
                    <A href="/build" attr:class="action">"Build & pull"</A>
                </nav>
                <div class="session"><session::SessionBadge /></div>
            </header>
            <main id="main">
                <Routes fallback=pages::NotFound>
                    <Route path=StaticSegment("") view=pages::overview::OverviewPage ssr=SsrMode::InOrder />
                    <Route path=StaticSegment("pins") view=pages::pins::PinsPage ssr=SsrMode::InOrder />
                    <Route path=StaticSegment("images") view=pages::images::ImagesPage ssr=SsrMode::InOrder />
                    <Route path=path!("/images/:name") view=pages::images::ImagePage ssr=SsrMode::Async />
                    <Route path=StaticSegment("graph") view=pages::graph::GraphPage ssr=SsrMode::InOrder />
                    <Route path=StaticSegment("builds") view=pages::builds::BuildsPage ssr=SsrMode::InOrder />
                    <Route path=path!("/builds/:id") view=pages::builds::RunPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("build") view=pages::build::BuildPage ssr=SsrMode::InOrder />
                    <Route path=StaticSegment("files") view=pages::files::FilePage ssr=SsrMode::InOrder />
                    <Route path=StaticSegment("hosts") view=pages::hosts::HostsPage ssr=SsrMode::InOrder />
                    <Route path=StaticSegment("cleanup") view=pages::cleanup::CleanupPage ssr=SsrMode::InOrder />
                </Routes>
            </main>
        </Router>
    }
}

/// Entry point of the WASM bundle: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    // A panic is printed to the console (console_error_panic_hook did the
    // same plus a JS stack, for 1.3 KB of the 400 KB gzipped budget).
    #[wasm_bindgen::prelude::wasm_bindgen]
    extern "C" {
        #[wasm_bindgen(js_namespace = console)]
        fn error(message: &str);
    }
    std::panic::set_hook(Box::new(|info| error(&info.to_string())));
    leptos::mount::hydrate_body(App);
}
