//! The overview: counts, the health of each source, the last builds.

use super::{error_box, loading, rich, run_badge};
use crate::api::{Health, Overview, format_age, format_time, get_json, human_bytes};
use leptos::prelude::*;
use leptos_router::components::A;

/// `/`: what stands where, at a glance.
#[component]
pub fn OverviewPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_json::<Overview>("/api/v1/overview".into()));
    super::refresh_on(&[crate::api::StreamEvent::History, crate::api::StreamEvent::Files], move || data.refetch());
    view! {
        <leptos_meta::Title text="Overview" />
        <section class="overview">
            <h1>"Overview"</h1>
            <Suspense fallback=loading>
                {move || data.get().map(|r| match r {
                    Ok(o) => overview(o).into_any(),
                    Err(e) => error_box(e).into_any(),
                })}
            </Suspense>
        </section>
    }
}

fn card(label: &'static str, n: usize, href: &'static str, bad: bool) -> impl IntoView {
    view! {
        <A href=href attr:class={if bad && n > 0 { "card bad" } else { "card" }}>
            <span class="n" id=format!("count-{}", label.replace(' ', "-"))>{n}</span>
            <span class="label">{label}</span>
        </A>
    }
}

fn overview(o: Overview) -> impl IntoView {
    let now = o.server_time;
    let registry_known =
        o.sources.iter().any(|s| s.name == dockyard_api::SourceKind::Registry && s.health != Health::NotConnected);
    let pending = o.pending_error.clone().map(|p| {
        view! {
            <div class="banner warn" role="status">
                <strong>"A newer state of the files cannot be read; showing the last good one. "</strong>
                {rich(p.to_string())}
            </div>
        }
    });
    let sources = o
        .sources
        .iter()
        .map(|s| {
            let (class, word) = match s.health {
                Health::Ok => ("ok", "✓ ok"),
                Health::Degraded => ("degraded", "! degraded"),
                Health::Error => ("error", "✗ error"),
                Health::NotConnected => ("off", "○ not connected"),
            };
            let age = s.updated_at.map(|t| format!("{} ago", format_age(now - t))).unwrap_or_default();
            view! {
                <tr data-source=s.name.as_str()>
                    <th scope="row">{s.name.as_str()}</th>
                    <td><span class=format!("badge h-{class}")>{word}</span></td>
                    <td class="wrap">
                        {rich(s.detail.clone())}
                        {s.hint.clone().map(|h| view! { <div class="hint">"To connect: " {h}</div> })}
                    </td>
                    <td class="num">{age}</td>
                </tr>
            }
        })
        .collect_view();
    let builds = if let Some(e) = o.last_builds_error.clone() {
        view! { <div class="banner error" role="alert">"The build history cannot be read: " {e}</div> }.into_any()
    } else if o.last_builds.is_empty() {
        view! { <p class="muted">"No builds yet. " <A href="/build">"Start one"</A> " (or run " <code>"dockyard build"</code> ")."</p> }
            .into_any()
    } else {
        view! {
            <div class="scroll">
            <table class="grid">
                <thead><tr><th>"run"</th><th>"state"</th><th>"by"</th><th>"started"</th></tr></thead>
                <tbody>
                    {o.last_builds.iter().map(|r| view! {
                        <tr>
                            <td><A href=format!("/builds/{}", r.id)>{format!("#{}", r.id)}</A></td>
                            <td>{run_badge(r.state)}</td>
                            <td>{r.trigger.to_string()}</td>
                            <td class="time"><time title=format_time(r.started_at)>{format!("{} ago", format_age(now - r.started_at))}</time></td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            </div>
        }
        .into_any()
    };
    view! {
        {pending}
        <div class="cards">
            {card("images", o.images, "/images", false)}
            {card("pins", o.pins, "/pins?status=all", false)}
            {card("stale", o.stale, "/pins?status=stale", true)}
            {card("dangling", o.dangling, "/pins?status=dangling", true)}
            {if registry_known {
                card("unpublished", o.unpublished, "/pins?status=unpublished", true).into_any()
            } else {
                // Without a registry nobody knows: "—", never a reassuring 0.
                view! {
                    <A href="/pins?status=unpublished" attr:class="card unknown" attr:title="unknown: no registry is connected (serve --registry)">
                        <span class="n" id="count-unpublished">"—"</span>
                        <span class="label">"unpublished (no registry)"</span>
                    </A>
                }
                .into_any()
            }}
        </div>
        {(o.findings == 0 && o.pins > 0).then(|| view! {
            <p class="good" id="all-current">{format!("All {} pins are current.", o.pins)}</p>
        })}
        <ul class="lifecycle">
            <li id="fresh-agent">
                {match o.fresh_agent_bytes {
                    Some(b) => view! { "A new agent downloads " <strong>{human_bytes(b)}</strong> " to pull every pin. " <A href="/hosts">"Per host"</A> }.into_any(),
                    None => view! { <span class="muted">"What a new agent downloads is unknown until the registry is read (" <code>"serve --registry"</code> ")."</span> }.into_any(),
                }}
            </li>
            <li id="reclaimable">
                {match o.reclaimable_bytes {
                    Some(b) => view! { "Cleanup would free " <strong>{human_bytes(b)}</strong> " in the registry. " <A href="/cleanup">"See the plan"</A> }.into_any(),
                    None => view! { <A href="/cleanup">"What the registry could free"</A> }.into_any(),
                }}
            </li>
            {o.retire_candidates.filter(|n| *n > 0).map(|n| view! {
                <li id="unused-images"><A href="/cleanup#retire">{format!("{n} unused images")}</A> " (no job pins them, no image builds on them)"</li>
            })}
        </ul>
        <h2>"Sources"</h2>
        <div class="scroll">
            <table class="grid sources">
                <thead><tr><th>"source"</th><th>"health"</th><th>"what"</th><th>"age"</th></tr></thead>
                <tbody>{sources}</tbody>
            </table>
        </div>
        <h2>"Last builds"</h2>
        {builds}
        <p class="muted small">{format!("Snapshot {} read {} ago.", o.generation, format_age(now - o.loaded_at))}</p>
    }
}
