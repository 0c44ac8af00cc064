//! The build history, and each run with its images and log, live while it
//! runs (Server-Sent Events, read with gloo-net).

use super::{error_box, loading, run_badge, state_badge};
#[cfg(feature = "hydrate")]
use crate::api::RunState;
use crate::api::{ImageState, LogLine, RunDetail, RunList, RunShown, format_duration, format_time, get_json};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

/// `/builds`.
#[component]
pub fn BuildsPage() -> impl IntoView {
    // `?before=ID`: the page of runs older than that one.
    let query = leptos_router::hooks::use_query_map();
    let before = Memo::new(move |_| query.read().get("before").and_then(|b| b.parse::<i64>().ok()));
    let data = Resource::new(
        move || before.get(),
        |before| {
            get_json::<RunList>(match before {
                Some(b) => format!("/api/v1/builds?before={b}"),
                None => "/api/v1/builds".into(),
            })
        },
    );
    let sort = super::Sort::from_url("run", true);
    // Times read "3 min ago" from the server's clock of this answer (the
    // run list itself is kept by the server, so it carries no clock).
    let session = crate::session::use_session();
    super::refresh_on_history(move || {
        data.refetch();
        session.refresh();
    });
    view! {
        <leptos_meta::Title text="Builds" />
        <section class="builds">
            <div class="toolbar">
                <h1>"Builds"</h1>
                <A href="/build" attr:class="button primary">"Build & pull…"</A>
            </div>
            <Suspense fallback=loading>
                {move || data.get().map(|r| match r {
                    Ok(list) if list.runs.is_empty() => view! {
                        <p class="empty">"No builds yet: start one from " <A href="/build">"Build & pull"</A> ", or run " <code>"dockyard build"</code> "."</p>
                    }.into_any(),
                    Ok(list) => {
                        let older = list.older;
                        view! {
                        <div class="scroll">
                            <table class="grid runs">
                                <thead><tr>
                                    {sort.header("run", "run", "/builds")}
                                    {sort.header("state", "state", "/builds")}
                                    <th>"by"</th><th>"selection"</th>
                                    {sort.header("started", "started", "/builds")}
                                    {sort.header("took", "took", "/builds")}
                                    <th>"images"</th>
                                </tr></thead>
                                <tbody>
                                    {move || sorted(list.runs.clone(), sort).into_iter().map(|r| {
                                        let counts = r.counts.iter().filter(|(s, _)| **s != ImageState::Present)
                                            .map(|(s, n)| format!("{n} {}", s.as_str())).collect::<Vec<_>>().join(", ");
                                        let took = r.finished_at.map(|f| format_duration((f - r.started_at) * 1000)).unwrap_or_else(|| "…".into());
                                        let selection = if r.selection.is_empty() { "everything".to_owned() } else { r.selection.join(" ") };
                                        view! {
                                            <tr data-run=r.id>
                                                <td><A href=format!("/builds/{}", r.id)>{format!("#{}", r.id)}</A></td>
                                                <td>{run_badge(r.state)}</td>
                                                <td>{r.trigger.to_string()}</td>
                                                <td class="wrap"><code>{selection}</code></td>
                                                <td class="time">{started(r.started_at, session.get().map(|s| s.server_time))}</td>
                                                <td class="num">{took}</td>
                                                <td class="wrap">{counts}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                        <nav class="pager" aria-label="Pages of runs">
                            {before.get().map(|_| view! { <A href="/builds" attr:id="newest-runs">"← Newest runs"</A> })}
                            " "
                            {older.map(|id| view! { <A href=format!("/builds?before={id}") attr:id="older-runs">"Older runs →"</A> })}
                        </nav>
                    }.into_any()
                    }
                    Err(e) => error_box(e).into_any(),
                })}
            </Suspense>
        </section>
    }
}

/// When a run started: "3 min ago" (the exact time on hover) when the
/// server's clock is known, else the time itself.
fn started(at: i64, now: Option<i64>) -> impl IntoView + use<> {
    match now.filter(|n| *n > 0) {
        Some(now) => view! { <time title=format_time(at)>{format!("{} ago", crate::api::format_age(now - at))}</time> }
            .into_any(),
        None => view! { <time>{format_time(at)}</time> }.into_any(),
    }
}

/// `/builds/ID`.
#[component]
pub fn RunPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    // One read: the run with its log (sent once, for hydration too).
    let shown = Resource::new(id, |id| get_json::<RunShown>(format!("/api/v1/builds/{id}")));
    view! {
        <leptos_meta::Title text=move || format!("Run #{}", id()) />
        <section class="run">
            <Suspense fallback=loading>
                {move || shown.get().map(|r| match r {
                    Ok(s) => view! { <RunView detail=s.detail lines=s.logs truncated=s.logs_truncated /> }.into_any(),
                    Err(e) => error_box(e).into_any(),
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn RunView(detail: RunDetail, lines: Vec<LogLine>, truncated: bool) -> impl IntoView {
    let id = detail.run.id;
    let rerun = (detail.run.trigger.operation == crate::api::Operation::Build).then(|| rerun_request(&detail));
    let state = RwSignal::new(detail.run.state);
    let images = RwSignal::new(detail.images);
    let lines = RwSignal::new(lines);
    let only = RwSignal::new(String::new());
    #[cfg(feature = "hydrate")]
    {
        let after = lines.get_untracked().last().map_or(0, |l| l.seq);
        if state.get_untracked() == RunState::Running {
            live::follow(id, after, state, images, lines);
        }
    }
    let names = move || images.with(|i| i.iter().map(|x| x.name.clone()).collect::<Vec<_>>());
    // Where it came from, and what the plan said before it ran.
    let source = detail.source.clone().map(|src| {
        let at = match (&src.commit, src.dirty) {
            (Some(c), Some(true)) => format!(" at {} with uncommitted changes", short(c)),
            (Some(c), _) => format!(" at {}", short(c)),
            (None, _) => " (not a git work tree)".to_owned(),
        };
        view! {
            <p class="muted" id="run-source">
                {format!("from {}{at}, dockyard {}", src.repo, src.dockyard)}
                {(!src.command.is_empty()).then(|| view! { <br /> <code>{src.command.join(" ")}</code> })}
            </p>
        }
    });
    let problems = detail.plan.problems.clone();
    let work = detail.plan.work().count();
    let planned = detail.plan.items.len();
    view! {
        <div class="toolbar">
            <h1>{format!("Run #{id}")} " " {move || run_badge(state.get())}</h1>
            <div class="actions">
                <a class="button" href=format!("/api/v1/builds/{id}/log.txt") download=format!("dockyard-run-{id}.log") id="raw-log">"Raw log"</a>
                {rerun.map(|req| view! { <RerunButton request=req /> })}
            </div>
        </div>
        <p class="muted">{format!("started by {} at {} on {}", detail.run.trigger, format_time(detail.run.started_at), detail.run.hosts.join(", "))}</p>
        {source}
        {problems.into_iter().map(|p| view! { <div class="banner warn" role="status">{p}</div> }).collect_view()}
        {(work == 0).then(|| view! {
            <p class="good" id="nothing-to-do">{format!(
                "Nothing to do: {} of the plan was already present (in the registry or the engine), or not selected.",
                if planned == 1 { "the one image".to_owned() } else { format!("each of the {planned} images") }
            )}</p>
        })}
        <div class="scroll">
            <table class="grid runimages">
                <thead><tr><th>"image"</th><th>"state"</th><th>"host"</th><th>"took"</th><th>"made"</th><th>"why"</th></tr></thead>
                <tbody>
                    {move || images.get().into_iter().filter(|i| i.action != crate::api::Action::Present).map(|i| {
                        // A pull run's items are `image:tag@host`: link to the image.
                        let image = if matches!(i.action, crate::api::Action::Pull | crate::api::Action::Delete) { i.name.split(':').next().unwrap_or_default() } else { &i.name };
                        let (name, key, href) = (i.name.clone(), i.name.clone(), format!("/images/{}", crate::api::encode(image)));
                        view! {
                        <tr data-image=key data-state=i.state.as_str()>
                            <td class="name"><A href=href>{name}</A></td>
                            <td>{state_badge(i.state)}</td>
                            <td>{i.host.clone().unwrap_or_default()}</td>
                            <td class="num">{i.duration_ms.map(format_duration).unwrap_or_default()}</td>
                            <td class="made">
                                {i.built.clone().map(|d| view! { <code title=format!("image id {d}")>{format!("built {}", short(&d))}</code> })}
                                {i.pushed.clone().map(|d| view! { " " <code title=format!("manifest digest {d}")>{format!("pushed {}", short(&d))}</code> })}
                            </td>
                            <td class="wrap">{i.error.clone().unwrap_or_default()}</td>
                        </tr>
                    }}).collect_view()}
                </tbody>
            </table>
        </div>
        <div class="toolbar">
            <h2>"Log"</h2>
            <label>"image "
                <select on:change=move |ev| only.set(event_target_value(&ev))>
                    <option value="">"all"</option>
                    {move || names().into_iter().map(|n| view! { <option value=n.clone()>{n.clone()}</option> }).collect_view()}
                </select>
            </label>
        </div>
        {truncated.then(|| view! {
            <p class="banner warn">{format!("The page shows the first {} lines; the raw log has all of them.", crate::api::RunShown::LOG_LINES)}</p>
        })}
        <div class="log" id="log" aria-live="polite">
            {move || {
                let o = only.get();
                lines.with(|lines| sections(lines, &o)).into_iter().map(section).collect_view()
            }}
        </div>
    }
}

/// The lines of a section a page shows at most (the raw log has all).
const SECTION_LINES: usize = 2000;

/// The log in sections, one per image in the order they first speak.
fn sections(lines: &[LogLine], only: &str) -> Vec<(String, usize, Vec<LogLine>)> {
    let mut out: Vec<(String, usize, Vec<LogLine>)> = Vec::new();
    for l in lines.iter().filter(|l| only.is_empty() || l.image == only) {
        match out.iter_mut().find(|s| s.0 == l.image) {
            Some(s) => {
                s.1 += 1;
                s.2.push(l.clone());
                if s.2.len() > SECTION_LINES {
                    s.2.remove(0);
                }
            }
            None => out.push((l.image.clone(), 1, vec![l.clone()])),
        }
    }
    out
}

/// One image's part of the log: folded by a click, each line numbered
/// (a link to itself) and timed.
fn section((image, total, lines): (String, usize, Vec<LogLine>)) -> impl IntoView {
    let hidden = total - lines.len();
    let key = image.clone();
    view! {
        <details class="section" open data-image=key>
            <summary><span class="name">{image}</span>" "<span class="muted">{if total == 1 { "1 line".to_owned() } else { format!("{total} lines") }}</span></summary>
            {(hidden > 0).then(|| view! { <p class="muted">{format!("… {hidden} earlier lines: the raw log has them")}</p> })}
            <ol class="lines">
                {lines.into_iter().map(|l| {
                    let anchor = format!("L{}", l.seq);
                    view! {
                        <li id=anchor.clone()>
                            <a class="n" href=format!("#{anchor}")>{l.seq}</a>
                            <time class="t">{clock(l.at_ms)}</time>
                            <span class="text">{l.line}</span>
                        </li>
                    }
                }).collect_view()}
            </ol>
        </details>
    }
}

/// `HH:MM:SS` (UTC) of a time in milliseconds.
fn clock(at_ms: i64) -> String {
    let s = at_ms.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
}

/// The dashboard request that builds what a run built: its selection,
/// published if it published.
fn rerun_request(detail: &RunDetail) -> crate::api::BuildRequest {
    let command = detail.source.as_ref().map(|s| s.command.clone()).unwrap_or_default();
    crate::api::BuildRequest {
        selection: crate::api::Selection::Globs { globs: detail.run.selection.clone() },
        push: command.iter().any(|w| w == "--push") || detail.run.trigger.way == crate::api::Way::Web,
        pull_pins: command.iter().any(|w| w == "--pull-pins"),
    }
}

/// Starts the run again (behind the login, like Start).
#[component]
fn RerunButton(request: crate::api::BuildRequest) -> impl IntoView {
    let session = crate::session::use_session();
    let blocked = move || session.get().and_then(|s| s.blocked());
    let message = RwSignal::new(None::<String>);
    let navigate = leptos_router::hooks::use_navigate();
    let request = StoredValue::new(request);
    let again = move |_| {
        let (req, navigate) = (request.get_value(), navigate.clone());
        leptos::task::spawn_local(async move {
            match crate::api::post_json::<_, crate::api::BuildStarted>("/api/v1/builds", &req).await {
                Ok(s) => navigate(&format!("/builds/{}", s.run), Default::default()),
                Err((_, e)) => message.set(Some(e)),
            }
        });
    };
    view! {
        <button type="button" id="rerun" on:click=again disabled=move || blocked().is_some()
            title=move || blocked().unwrap_or("Build the same selection again")>"Re-run"</button>
        {move || message.get().map(|m| view! { <span class="banner error" role="status">{m}</span> })}
    }
}

#[cfg(feature = "hydrate")]
mod live {
    /// Whether the page is scrolled to (near) its end.
    fn at_bottom() -> bool {
        let (Some(el), Ok(h), Ok(y)) = (document().document_element(), window().inner_height(), window().scroll_y())
        else {
            return false;
        };
        y + h.as_f64().unwrap_or(0.0) >= f64::from(el.scroll_height()) - 80.0
    }

    use crate::api::{LogLine, RunImage, RunState, RunSummary, StreamEvent};
    use futures::StreamExt;
    use leptos::prelude::*;

    /// Follows a running run's events until it ends.
    pub fn follow(
        id: i64,
        after: i64,
        state: RwSignal<RunState>,
        images: RwSignal<Vec<RunImage>>,
        lines: RwSignal<Vec<LogLine>>,
    ) {
        leptos::task::spawn_local(async move {
            let url = format!("/api/v1/builds/{id}/events?after={after}");
            let Ok(mut es) = gloo_net::eventsource::futures::EventSource::new(&url) else { return };
            let (Ok(logs), Ok(imgs), Ok(ends)) = (
                es.subscribe(StreamEvent::Log.name()),
                es.subscribe(StreamEvent::Image.name()),
                es.subscribe(StreamEvent::End.name()),
            ) else {
                return;
            };
            let mut all = futures::stream::select(futures::stream::select(logs, imgs), ends);
            while let Some(Ok((kind, msg))) = all.next().await {
                let data = msg.data().as_string().unwrap_or_default();
                match StreamEvent::parse(&kind) {
                    Some(StreamEvent::Log) => {
                        if let Ok(l) = serde_json::from_str::<LogLine>(&data) {
                            // Follow the tail: a reader at the bottom stays there.
                            let at_bottom = at_bottom();
                            lines.update(|v| {
                                if v.last().is_none_or(|x| x.seq < l.seq) {
                                    v.push(l)
                                }
                            });
                            if at_bottom {
                                request_animation_frame(|| {
                                    if let Some(el) = document().document_element() {
                                        window().scroll_to_with_x_and_y(0.0, f64::from(el.scroll_height()));
                                    }
                                });
                            }
                        }
                    }
                    Some(StreamEvent::Image) => {
                        if let Ok(i) = serde_json::from_str::<RunImage>(&data) {
                            images.update(|v| {
                                if let Some(x) = v.iter_mut().find(|x| x.name == i.name) {
                                    *x = i;
                                }
                            });
                        }
                    }
                    _ => {
                        if let Ok(r) = serde_json::from_str::<RunSummary>(&data) {
                            state.set(r.state);
                        }
                        break;
                    }
                }
            }
            es.close();
        });
    }
}

/// The first 12 hex digits of a digest or commit (`sha256:0123456789ab`).
fn short(d: &str) -> String {
    let (prefix, hex) = d.split_once(':').map_or(("", d), |(p, h)| (p, h));
    let hex: String = hex.chars().take(12).collect();
    if prefix.is_empty() { hex } else { format!("{prefix}:{hex}") }
}

/// The runs in the order the URL asks for.
fn sorted(mut runs: Vec<crate::api::RunSummary>, sort: super::Sort) -> Vec<crate::api::RunSummary> {
    let took = |r: &crate::api::RunSummary| r.finished_at.map(|f| f - r.started_at);
    match sort.column.get().as_str() {
        "state" => runs.sort_by(|a, b| a.state.as_str().cmp(b.state.as_str()).then(a.id.cmp(&b.id))),
        "started" => runs.sort_by(|a, b| a.started_at.cmp(&b.started_at).then(a.id.cmp(&b.id))),
        "took" => runs.sort_by(|a, b| took(a).cmp(&took(b)).then(a.id.cmp(&b.id))),
        _ => runs.sort_by_key(|r| r.id),
    }
    if sort.descending.get() {
        runs.reverse();
    }
    runs
}
