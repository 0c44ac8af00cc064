//! A file of the repository with line numbers (where a pin is written).

use super::{error_box, loading};
use crate::api::{encode, get_text};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// `/files?path=jjb/x.yaml`.
#[component]
pub fn FilePage() -> impl IntoView {
    let query = use_query_map();
    let path = move || query.read().get("path").unwrap_or_default();
    let data = Resource::new(path, |p| get_text(format!("/api/v1/file?path={}", encode(&p))));
    view! {
        <leptos_meta::Title text="File" />
        <section class="file">
            <h1><code>{path}</code></h1>
            <Suspense fallback=loading>
                {move || data.get().map(|r| match r {
                    Ok(text) => view! {
                        <ol class="source">
                            {text.lines().enumerate().map(|(i, l)| view! { <li id=format!("L{}", i + 1)><code>{l.to_owned()}</code></li> }).collect_view()}
                        </ol>
                    }.into_any(),
                    Err(e) => error_box(e).into_any(),
                })}
            </Suspense>
        </section>
    }
}
