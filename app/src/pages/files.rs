//! A file of the repository with line numbers (where a pin is written).

use super::{error_box, loading};
use crate::api::{FileView, encode, get_json};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// `/files?path=jjb/x.yaml`.
#[component]
pub fn FilePage() -> impl IntoView {
    let query = use_query_map();
    let path = move || query.read().get("path").unwrap_or_default();
    let data = Resource::new(path, |p| get_json::<FileView>(format!("/api/v1/file/view?path={}", encode(&p))));
    view! {
        <leptos_meta::Title text="File" />
        <section class="file">
            <h1><code>{path}</code></h1>
            <Suspense fallback=loading>
                {move || data.get().map(|r| match r {
                    Ok(file) => {
                        // Each line knows the JJB job around it: the linked
                        // line shows it (CSS, `li:target::after`).
                        let job_of = |n: usize| {
                            file.items.iter().find(|i| i.first <= n && n <= i.last).map(|i| {
                                let entry = i.entries.iter().rev().find(|(at, _)| *at <= n);
                                let entry = entry.map(|(_, e)| format!(" → {e}")).unwrap_or_default();
                                format!("in {} {}{entry}", i.job.kind.as_str(), i.job.name)
                            })
                        };
                        let lines: Vec<(usize, String, Option<String>)> =
                            file.lines.into_iter().enumerate().map(|(i, l)| (i + 1, l, job_of(i + 1))).collect();
                        view! {
                            <ol class="source">
                                {lines.into_iter().map(|(n, html, job)| view! {
                                    <li id=format!("L{n}") data-job=job><code inner_html=html></code></li>
                                }).collect_view()}
                            </ol>
                        }.into_any()
                    }
                    Err(e) => error_box(e).into_any(),
                })}
            </Suspense>
        </section>
    }
}
