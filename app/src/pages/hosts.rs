//! The engines: which has which pinned image, and pulling what is missing.

use super::{error_box, loading};
use crate::api::{HostsReport, Presence, PullReport, get_json, human_bytes, post_json};
use leptos::prelude::*;

/// `/hosts`.
#[component]
pub fn HostsPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_json::<HostsReport>("/api/v1/hosts".into()));
    let message = RwSignal::new(None::<String>);
    let failed = RwSignal::new(false);
    let session = crate::session::use_session();
    let blocked = move || session.get().and_then(|s| s.blocked());
    let pull = move |_| {
        message.set(Some("Pulling…".into()));
        failed.set(false);
        leptos::task::spawn_local(async move {
            match post_json::<_, PullReport>("/api/v1/pull", &serde_json::json!({})).await {
                Ok(r) => {
                    failed.set(r.failed() > 0);
                    message.set(Some(format!("{} pulls, {} failed.", r.results.len(), r.failed())))
                }
                Err((_, e)) => {
                    failed.set(true);
                    message.set(Some(e))
                }
            }
        });
    };
    let need_login = RwSignal::new(false);
    view! {
        <leptos_meta::Title text="Hosts" />
        <section class="hosts">
            <div class="toolbar">
                <h1>"Hosts"</h1>
                <button type="button" id="pull-missing" on:click=pull aria-describedby="pull-blocked"
                    disabled=move || blocked().is_some()>"Pull what is missing"</button>
            </div>
            {move || blocked().map(|why| view! { <p class="blocked" id="pull-blocked">{why}</p> })}
            {super::login_form(need_login, true, move |r| {
                failed.set(r.is_err());
                message.set(Some(r.map_or_else(|e| e, |()| "Logged in.".into())));
            })}
            {move || message.get().map(|m| {
                let class = if failed.get() { "banner error" } else { "banner info" };
                view! { <div class=class role="status" id="pull-message">{m}</div> }
            })}
            <Suspense fallback=loading>
                {move || data.get().map(|r| match r {
                    Ok(h) if h.hosts.is_empty() => view! {
                        <p class="empty">"No engine is connected. To connect one: set " <code>"DOCKER_HOST"</code>
                        ", or list engines as " <code>"[[hosts]]"</code> " in the operator file (" <code>"--operator FILE"</code> ")."</p>
                    }.into_any(),
                    Ok(h) => matrix(h).into_any(),
                    Err(e) => error_box(e).into_any(),
                })}
            </Suspense>
        </section>
    }
}

fn matrix(h: HostsReport) -> impl IntoView {
    view! {
        <div class="scroll">
            <table class="grid matrix">
                <thead>
                    <tr><th>"image"</th>{h.hosts.iter().map(|x| view! {
                        <th title=x.endpoint.clone()>{x.name.clone()}{(!x.reachable).then_some(" ✗")}</th>
                    }).collect_view()}</tr>
                </thead>
                <tbody>
                    {h.images.iter().enumerate().map(|(i, img)| view! {
                        <tr>
                            <td class="name"><code>{img.clone()}</code></td>
                            {h.cells.iter().map(|row| {
                                let p = row.get(i).copied().unwrap_or(Presence::Unknown);
                                let sign = match p { Presence::Present => "✓", Presence::Missing => "✗", Presence::Outdated => "◷", Presence::Unknown => "?" };
                                view! { <td class=format!("p-{}", p.as_str())>{sign} " " {p.as_str()}</td> }
                            }).collect_view()}
                        </tr>
                    }).collect_view()}
                </tbody>
                <tfoot>
                    {h.fresh_agent_bytes.map(|fresh| view! {
                        <tr class="download" id="still-to-download">
                            <th scope="row">{format!("still to download (a new agent: {})", human_bytes(fresh))}</th>
                            {h.missing_bytes.iter().map(|m| view! {
                                <td class="num">{m.map_or_else(|| "?".to_owned(), human_bytes)}</td>
                            }).collect_view()}
                        </tr>
                    })}
                </tfoot>
            </table>
        </div>
    }
}
