//! The registry's lifecycle: which tags can be deleted safely (and why the
//! others stay), what it frees, and the images no pin or image uses. The
//! plan is the one `dockyard cleanup` prints; deleting is behind a login.

use super::{error_box, loading};
use crate::api::{CleanupPlan, get_json, human_bytes, post_json};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};

/// `/cleanup[?keep_last=N&min_age=DAYS]`.
#[component]
pub fn CleanupPage() -> impl IntoView {
    let query = use_query_map();
    let rules = move || {
        let q = query.read();
        let num = |k: &str| q.get(k).filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()));
        [("keep_last", num("keep_last")), ("min_age", num("min_age"))]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| format!("{k}={v}")))
            .collect::<Vec<_>>()
            .join("&")
    };
    let data = Resource::new(rules, |q| get_json::<CleanupPlan>(format!("/api/v1/cleanup?{q}")));
    view! {
        <leptos_meta::Title text="Cleanup" />
        <section class="cleanup">
            <h1>"Cleanup"</h1>
            <p class="muted">"Registry tags that no pin, no current version and none of the newest versions need, "
                "and the images nothing uses. The same plan as " <code>"dockyard cleanup"</code> "."</p>
            <Suspense fallback=loading>
                {move || data.get().map(|r| match r {
                    Ok(p) => plan_view(p).into_any(),
                    Err(e) => error_box(e).into_any(),
                })}
            </Suspense>
        </section>
    }
}

fn plan_view(p: CleanupPlan) -> impl IntoView {
    let n = p.delete.len();
    let mut reasons: std::collections::BTreeMap<&'static str, usize> = Default::default();
    for k in &p.keep {
        *reasons.entry(k.reason.as_str()).or_default() += 1;
    }
    let kept = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect::<Vec<_>>().join(", ");
    view! {
        {p.errors.iter().map(|e| view! { <div class="banner warn" role="status">{e.clone()}</div> }).collect_view()}
        <p id="cleanup-summary">
            {if n == 0 {
                "Nothing to delete.".to_owned()
            } else {
                format!(
                    "{n} {} can go, freeing {} after the registry's garbage collection.",
                    if n == 1 { "tag" } else { "tags" },
                    human_bytes(p.reclaimable_bytes)
                )
            }}
            " "
            <span class="muted">{format!("Kept: {kept} (rules: the {} newest of each image, younger than {} days).", p.keep_last, p.min_age_days)}</span>
        </p>
        {(n > 0).then(|| view! { <DeleteButton count=n keep_last=p.keep_last min_age=p.min_age_days /> })}
        {(n > 0).then(|| view! {
            <div class="scroll">
                <table class="grid" id="cleanup-delete">
                    <thead><tr><th>"image"</th><th>"tag"</th><th class="digest">"digest"</th><th>"why it can go"</th></tr></thead>
                    <tbody>
                        {p.delete.iter().map(|d| view! {
                            <tr data-tag=format!("{}:{}", d.image, d.tag)>
                                <td class="name">{d.image.clone()}</td>
                                <td><code>{d.tag.clone()}</code></td>
                                <td class="digest"><code title=d.digest.clone()>{d.digest.chars().take(19).collect::<String>()}</code></td>
                                <td class="wrap">{d.reason.clone()}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        })}
        <h2 id="retire">"Unused images"</h2>
        {if p.retire.is_empty() {
            view! { <p class="muted">"Every image is pinned by a job or built on by another image."</p> }.into_any()
        } else {
            view! {
                <p>{format!("{} images no job pins and no image builds on: candidates to retire.", p.retire.len())}</p>
                <div class="scroll">
                    <table class="grid" id="retire-list">
                        <thead><tr><th>"image"</th><th>"version"</th><th>"changelog last changed"</th></tr></thead>
                        <tbody>
                            {p.retire.iter().map(|r| view! {
                                <tr>
                                    <td class="name"><a href=format!("/images/{}", r.image)>{r.image.clone()}</a></td>
                                    <td><code>{r.version.clone().unwrap_or_default()}</code></td>
                                    <td class="time">{r.last_changed.clone().unwrap_or_else(|| "unknown".into())}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            }.into_any()
        }}
    }
}

#[component]
fn DeleteButton(count: usize, keep_last: usize, min_age: u64) -> impl IntoView {
    let message = RwSignal::new(None::<(bool, String)>);
    let need_login = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let navigate = use_navigate();
    let delete = move |_| {
        let navigate = navigate.clone();
        busy.set(true);
        leptos::task::spawn_local(async move {
            let path = format!("/api/v1/cleanup?keep_last={keep_last}&min_age={min_age}");
            match post_json::<_, serde_json::Value>(&path, &serde_json::json!({})).await {
                Ok(v) => match v["run"].as_i64() {
                    Some(run) => navigate(&format!("/builds/{run}"), Default::default()),
                    None => message.set(Some((true, "The registry answered, but no run was recorded.".into()))),
                },
                Err((status, text)) => {
                    need_login.set(status == 401);
                    message.set(Some((true, text)));
                }
            }
            busy.set(false);
        });
    };
    view! {
        <div class="actions">
            <button type="button" id="cleanup-delete-button" class="danger" on:click=delete disabled=move || busy.get()>
                {if count == 1 { "Delete this tag".to_owned() } else { format!("Delete these {count} tags") }}
            </button>
        </div>
        {move || message.get().map(|(bad, m)| view! {
            <div class=if bad { "banner error" } else { "banner info" } role="status" id="cleanup-message">{m}</div>
        })}
        {super::login_form(need_login, false, move |r| {
            message.set(Some(match r {
                Ok(()) => (false, "Logged in: delete again to go on.".into()),
                Err(e) => (true, e),
            }))
        })}
    }
}
