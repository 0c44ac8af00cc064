//! The pins of the job definitions: every finding, worst first, grouped by
//! image and tag, filtered by status (the badges) and searched, with the
//! filter in the URL.

use super::{error_box, loading, rich, status_badge};
use crate::api::{ChangelogEntry, JobKind, JobRef, Pin, PinsReport, Status, encode, get_json};
use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};
use std::collections::BTreeSet;

/// `/pins?status=STATUS&q=TEXT`.
#[component]
pub fn PinsPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_json::<PinsReport>("/api/v1/pins".into()));
    // A fix applied to the files shows here without a reload.
    super::refresh_on(&[crate::api::StreamEvent::Files], move || data.refetch());
    view! {
        <leptos_meta::Title text="Pins" />
        <section class="pins">
            <div class="toolbar">
                <h1>"Pins"</h1>
            </div>
            <Suspense fallback=loading>
                {move || data.get().map(|r| match r {
                    Ok(report) => view! { <PinsView report /> }.into_any(),
                    Err(e) => error_box(e).into_any(),
                })}
            </Suspense>
        </section>
    }
}

/// Whether a pin passes the status filter.
fn wanted(filter: &str, p: &Pin) -> bool {
    match filter {
        "all" => true,
        "" | "problems" => p.status != Status::Ok,
        "dangling" => matches!(p.status, Status::NotInCatalog | Status::UnknownVersion),
        s => p.status.as_str() == s,
    }
}

/// A link to the pins page with this filter.
fn href(status: &str, q: &str) -> String {
    let mut h = format!("/pins?status={}", encode(status));
    if !q.is_empty() {
        h.push_str(&format!("&q={}", encode(q)));
    }
    h
}

#[component]
fn PinsView(report: PinsReport) -> impl IntoView {
    let query = use_query_map();
    let status = Memo::new(move |_| query.read().get("status").unwrap_or_else(|| "problems".into()));
    let q = Memo::new(move |_| query.read().get("q").unwrap_or_default());
    let total = report.pins.len();
    let findings = report.pins.iter().filter(|p| p.status != Status::Ok).count();
    let files = report.summary.files_scanned;
    let counts: Vec<(Status, usize)> =
        report.summary.by_status.iter().filter(|(_, n)| **n > 0).map(|(s, n)| (*s, *n)).collect();
    let fixable = report.pins.iter().filter(|p| p.status == Status::Stale && p.fix.is_some()).count();
    let dangling = report.pins.iter().filter(|p| wanted("dangling", p)).count();
    let changes = StoredValue::new(report.changes);
    let pins = StoredValue::new(report.pins);
    let errors = report.errors.clone();
    let warnings = report.warnings.clone();
    let unused = report.summary.dead_images.clone();

    // The groups opened are kept in the URL (`open=image:version,…`,
    // replacing the history entry), so Back comes back to them open.
    let opened: StoredValue<BTreeSet<String>> = StoredValue::new(
        query
            .get_untracked()
            .get("open")
            .map(|o| o.split(',').filter(|k| !k.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default(),
    );
    let navigate = use_navigate();
    let keep = move |text: &str| {
        navigate(
            &open_href(&status.get_untracked(), text, &opened.get_value()),
            NavigateOptions { replace: true, scroll: false, ..Default::default() },
        );
    };
    let on_search = {
        let keep = keep.clone();
        move |ev: leptos::ev::Event| keep(&event_target_value(&ev))
    };
    let on_toggle = Callback::new(move |(key, open): (String, bool)| {
        let mut changed = false;
        opened.update_value(|set| changed = if open { set.insert(key) } else { set.remove(&key) });
        if changed {
            keep(&q.get_untracked());
        }
    });
    let groups = move || pins.with_value(|all| grouped(all, &status.get(), &q.get().to_lowercase()));
    let shown = move || groups().iter().map(|g| g.3.len()).sum::<usize>();
    view! {
        <div class="toolbar actions">
            {if fixable > 0 {
                view! {
                    <a class="button primary" href="/api/v1/pins/patch" download="dockyard-stale-pins.patch" id="download-patch">
                        {format!("Fix all {fixable} stale pins (patch)")}
                    </a>
                }.into_any()
            } else {
                view! { <span class="button disabled" aria-disabled="true" id="download-patch-none">"Nothing to fix"</span> }.into_any()
            }}
            <a class="button" href="/api/v1/pull-script" download="pull-images.sh" id="download-script">"Pull script"</a>
        </div>
        <p class="summary">{format!("{} in {}", plural(total, "pin"), plural(files, "file"))}</p>
        {(!warnings.is_empty()).then(|| view! {
            <details class="warnings" id="warnings">
                <summary>{format!("{} (files the jobs include that do not exist, YAML that cannot be read)", plural(warnings.len(), "warning"))}</summary>
                <ul>
                    {warnings.into_iter().map(|w| {
                        let link = w.file.clone().map(|f| format!("/files?path={}{}", encode(&f), w.line.map(|l| format!("#L{l}")).unwrap_or_default()));
                        let place = match (&w.file, w.line) {
                            (Some(f), Some(l)) => format!("{f}:{l}"),
                            (Some(f), None) => f.clone(),
                            _ => String::new(),
                        };
                        view! { <li><a class="where" href=link>{place}</a> " " {rich(w.message)}</li> }
                    }).collect_view()}
                </ul>
            </details>
        })}
        <nav class="filters" aria-label="Filter by status">
            {chip("problems", format!("problems {findings}"), status, q)}
            {chip("all", format!("all {total}"), status, q)}
            {(dangling > 0).then(|| chip("dangling", format!("dangling {dangling}"), status, q))}
            {counts.into_iter().map(|(s, n)| chip(s.as_str(), format!("{} {} {n}", s.symbol(), s.as_str()), status, q)).collect_view()}
        </nav>
        <label class="search">
            <span class="visually-hidden">"Search pins"</span>
            <input id="pin-search" type="search" placeholder="search image, version, file, job or project" prop:value=move || q.get() on:input=on_search />
        </label>
        {errors.into_iter().map(|e| view! { <div class="banner error">{rich(e.to_string())}</div> }).collect_view()}
        {move || {
            let gs = groups();
            if gs.is_empty() {
                let msg = if findings == 0 && matches!(status.get().as_str(), "problems" | "") {
                    format!("All {total} pins are current.")
                } else {
                    "No pin matches this filter.".to_owned()
                };
                return view! { <p class="good empty" id="pins-empty">{msg}</p> }.into_any();
            }
            view! {
                <p class="shown"><span id="pin-count">{shown()}</span> " shown in " <span id="group-count">{gs.len()}</span> " groups"</p>
                <div class="groups">
                    {gs.into_iter().map(|(image, version, st, members)| {
                        let entries = changes.with_value(|c| c.get(&image).cloned().unwrap_or_default());
                        let key = group_key(&image, version.as_deref());
                        let open = opened.with_value(|o| o.contains(&key));
                        group(Group { image, version, status: st, members, entries }, open, on_toggle)
                    }).collect_view()}
                </div>
            }
            .into_any()
        }}
        {unused_images(unused)}
    }
}

/// The pins that pass the filter and the search (image, version, file, job
/// or project), in groups of (image, version, status), worst first.
fn grouped(all: &[Pin], filter: &str, needle: &str) -> Vec<(String, Option<String>, Status, Vec<Pin>)> {
    let mut groups: Vec<(String, Option<String>, Status, Vec<Pin>)> = Vec::new();
    for p in all.iter().filter(|p| wanted(filter, p)) {
        let job =
            p.job.as_ref().map(|j| format!("{} {} {}", j.name, j.entry.as_deref().unwrap_or(""), j.projects.join(" ")));
        let hay = format!("{} {} {} {}", p.image, p.version.as_deref().unwrap_or(""), p.file, job.unwrap_or_default())
            .to_lowercase();
        if !needle.is_empty() && !hay.contains(needle) {
            continue;
        }
        match groups.iter_mut().find(|g| g.0 == p.image && g.1 == p.version && g.2 == p.status) {
            Some(g) => g.3.push(p.clone()),
            None => groups.push((p.image.clone(), p.version.clone(), p.status, vec![p.clone()])),
        }
    }
    groups.sort_by(|a, b| b.2.severity().cmp(&a.2.severity()).then(b.3.len().cmp(&a.3.len())).then(a.0.cmp(&b.0)));
    groups
}

/// A filter chip: a link to the page with that filter, marked as the
/// current one (`aria-current`) only when it is.
fn chip(name: &'static str, label: String, status: Memo<String>, q: Memo<String>) -> impl IntoView {
    let on = move || status.get() == name || (name == "problems" && status.get().is_empty());
    view! {
        <a href=move || href(name, &q.get()) class=move || if on() { format!("chip on s-{name}") } else { format!("chip s-{name}") }
            data-status=name aria-current=move || on().then_some("true")>
            {label}
        </a>
    }
}

/// Catalog images no job pins and no catalog image builds on.
fn unused_images(names: Vec<String>) -> impl IntoView {
    (!names.is_empty()).then(|| view! {
        <section class="unused" id="unused">
            <h2>{format!("Unused images ({})", names.len())}</h2>
            <p class="muted">"No job pins them and no catalog image builds on them: candidates to retire (" <code>"dockyard cleanup"</code> " lists what to delete)."</p>
            <ul class="tags">
                {names.into_iter().map(|n| view! { <li><a href=format!("/images/{}", encode(&n))>{n.clone()}</a></li> }).collect_view()}
            </ul>
        </section>
    })
}

/// One group of pins: the same image, version and status.
struct Group {
    image: String,
    version: Option<String>,
    status: Status,
    members: Vec<Pin>,
    /// The image's changelog entries, newest first.
    entries: Vec<ChangelogEntry>,
}

/// How a group is named in the URL's `open=`.
fn group_key(image: &str, version: Option<&str>) -> String {
    format!("{image}:{}", version.unwrap_or(""))
}

/// The pins page with this filter, search and open groups.
fn open_href(status: &str, q: &str, open: &BTreeSet<String>) -> String {
    let mut h = href(status, q);
    if !open.is_empty() {
        h.push_str(&format!("&open={}", encode(&open.iter().cloned().collect::<Vec<_>>().join(","))));
    }
    h
}

/// Whether the `<details>` a toggle event came from is open now.
fn details_open(ev: &leptos::ev::Event) -> bool {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        ev.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()).is_some_and(|e| e.has_attribute("open"))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ev;
        false
    }
}

fn group(g: Group, open: bool, on_toggle: Callback<(String, bool)>) -> impl IntoView {
    let Group { image, version, status, members, entries } = g;
    let toggle_key = group_key(&image, version.as_deref());
    let first = members[0].clone();
    // What updating brings: the entries above the pinned version.
    let entries: Vec<ChangelogEntry> =
        first.behind.map_or(Vec::new(), |b| entries.into_iter().take(b.versions).collect());
    let fixes: std::collections::BTreeSet<String> =
        members.iter().filter(|p| p.status == Status::Stale).filter_map(|p| p.fix.clone()).collect();
    let jobs: std::collections::BTreeSet<JobRef> = members.iter().filter_map(|p| p.job.clone()).collect();
    let patch = (!fixes.is_empty()).then(|| {
        let mut h = format!("/api/v1/pins/patch?image={}", encode(&image));
        if let Some(v) = &version {
            h.push_str(&format!("&version={}", encode(v)));
        }
        h
    });
    let advice = first.advice.clone();
    let files: std::collections::BTreeSet<&str> = members.iter().map(|p| p.file.as_str()).collect();
    let behind = first.behind.map(|b| match b.days {
        Some(d) => format!("{}, {} behind", plural(b.versions, "version"), plural(d.max(0) as usize, "day")),
        None => format!("{} behind", plural(b.versions, "version")),
    });
    let tag = version.clone().unwrap_or_else(|| "(no tag)".into());
    let title = format!("{image}:{tag}");
    let count = format!("{} in {}", plural(members.len(), "pin"), plural(files.len(), "file"));
    let (key, href, label) = (image.clone(), format!("/images/{}", encode(&image)), image.clone());
    view! {
        <details class=format!("group s-{}", status.as_str()) data-image=key data-status=status.as_str() open=open
            on:toggle=move |ev| on_toggle.run((toggle_key.clone(), details_open(&ev)))>
            <summary>
                {status_badge(status)}
                <A href=href attr:class="name">{label}</A>
                <span class="version pinned">{tag}</span>
                {first.latest.clone().map(|l| view! { <span class="arrow">"→"</span> <span class="version latest">{l}</span> })}
                {behind.map(|b| view! { <span class="behind">{b}</span> })}
                <span class="count">{count}</span>
            </summary>
            <div class="act">
                {advice.map(|a| view! { <p class="advice">{rich(a)}</p> })}
                {fixes.into_iter().map(|f| view! {
                    <p class="fixed-ref"><span class="muted">"fixed: "</span><code>{f.clone()}</code> {copy_button(f)}</p>
                }).collect_view()}
                {patch.map(|h| view! {
                    <a class="button small" href=h download=format!("dockyard-{}.patch", image.replace('/', "-")) data-patch="group">"Patch for this group"</a>
                })}
                {(!jobs.is_empty()).then(|| view! {
                    <ul class="jobs" aria-label="jobs">
                        {jobs.into_iter().map(job_item).collect_view()}
                    </ul>
                })}
                {(!entries.is_empty()).then(|| view! {
                    <details class="changes">
                        <summary>{format!("What {} brings", first.latest.clone().unwrap_or_default())}</summary>
                        <ol>
                            {entries.into_iter().map(|e| view! {
                                <li>
                                    <span class="version">{e.version}</span>
                                    {e.date.map(|d| view! { <span class="muted">{format!(" · {d}")}</span> })}
                                    <pre class="entry">{e.changes}</pre>
                                </li>
                            }).collect_view()}
                        </ol>
                    </details>
                })}
            </div>
            <div class="scroll">
                <table class="grid pinrows" aria-label=title>
                    <thead><tr><th>"where"</th><th>"job"</th><th>"registry"</th><th>"fix"</th></tr></thead>
                    <tbody>
                        {members.into_iter().map(pin_row).collect_view()}
                    </tbody>
                </table>
            </div>
        </details>
    }
}

fn pin_row(p: Pin) -> impl IntoView {
    let registry = match p.published {
        Some(true) => "published",
        Some(false) => "not in the registry",
        None => "—",
    };
    let where_ = format!("{}:{}", p.file, p.line);
    let link = format!("/files?path={}#L{}", encode(&p.file), p.line);
    let file_patch =
        (p.status == Status::Stale && p.fix.is_some()).then(|| format!("/api/v1/pins/patch?file={}", encode(&p.file)));
    let job = p.job.clone().map(|j| j.entry.clone().unwrap_or(j.name));
    view! {
        <tr data-status=p.status.as_str() data-image=p.image.clone()>
            <td class="where" data-label="where"><A href=link>{where_}</A>{p.note.clone().map(|n| view! { <div class="note">{rich(n)}</div> })}</td>
            <td class="job" data-label="job">{job}</td>
            <td class="registry" data-label="registry">{registry}</td>
            <td class="fix" data-label="fix">
                {p.fix.is_some().then_some("fixable")}
                {file_patch.map(|h| view! { " · " <a class="small" href=h download="dockyard-file.patch" data-patch="file">"patch this file"</a> })}
            </td>
        </tr>
    }
}

/// One job that uses the group's pins, with the projects that make it.
fn job_item(j: JobRef) -> impl IntoView {
    let projects = match j.projects.len() {
        0 => String::new(),
        1 if j.kind == JobKind::Project => String::new(),
        _ => format!(" · project {}", j.projects.join(", ")),
    };
    let entry = j.entry.map(|e| format!(" → {e}")).unwrap_or_default();
    view! {
        <li><span class="muted">{j.kind.as_str()}</span> " " <code>{j.name}</code>{entry}<span class="muted">{projects}</span></li>
    }
}

/// A button that copies `text` (with JavaScript; the text stays selectable
/// without it).
fn copy_button(text: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    let on_click = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let _ = window().navigator().clipboard().write_text(&text);
            copied.set(true);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &text;
    };
    view! {
        <button type="button" class="copy small" on:click=on_click aria-live="polite">
            {move || if copied.get() { "Copied" } else { "Copy" }}
        </button>
    }
}

/// "1 pin", "2 pins".
fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}
