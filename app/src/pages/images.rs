//! The images of the catalog, and a page for each.

use super::{error_box, loading, rich, state_badge, status_badge};
use crate::api::{CatalogReport, ImageDetail, encode, format_duration, format_time, get_json};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

/// `/images`: every image with its version and parents, filterable.
#[component]
pub fn ImagesPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_json::<CatalogReport>("/api/v1/catalog".into()));
    super::refresh_on(&[crate::api::StreamEvent::Files], move || data.refetch());
    let query = use_query_map();
    let filter = RwSignal::new(query.get_untracked().get("q").unwrap_or_default());
    // The filter lives in the URL (`/images?q=php`): a reload or a link keeps it.
    let navigate = leptos_router::hooks::use_navigate();
    let on_input = move |ev: leptos::ev::Event| {
        let text = event_target_value(&ev);
        let url = if text.is_empty() { "/images".to_owned() } else { format!("/images?q={}", encode(&text)) };
        navigate(&url, leptos_router::NavigateOptions { replace: true, scroll: false, ..Default::default() });
        filter.set(text);
    };
    view! {
        <leptos_meta::Title text="Images" />
        <section class="images">
            <div class="toolbar">
                <h1>"Images"</h1>
                <label class="search">
                    <span class="visually-hidden">"Filter images"</span>
                    <input id="filter" type="search" placeholder="filter by name" prop:value=move || filter.get()
                        on:input=on_input />
                </label>
            </div>
            <Suspense fallback=loading>
                {move || data.get().map(|r| match r {
                    Ok(c) => catalog(c, filter).into_any(),
                    Err(e) => error_box(e).into_any(),
                })}
            </Suspense>
        </section>
    }
}

fn catalog(c: CatalogReport, filter: RwSignal<String>) -> impl IntoView {
    let total = c.images.len();
    let images = StoredValue::new(c.images);
    let sort = super::Sort::from_url("image", false);
    let shown = move || {
        let needle = filter.get().to_lowercase();
        let mut list = images.with_value(|all| {
            all.iter().filter(|i| i.name.to_lowercase().contains(&needle)).cloned().collect::<Vec<_>>()
        });
        match sort.column.get().as_str() {
            "version" => list.sort_by(|a, b| a.version.cmp(&b.version).then(a.name.cmp(&b.name))),
            "parents" => list.sort_by(|a, b| a.parents.len().cmp(&b.parents.len()).then(a.name.cmp(&b.name))),
            "children" => list.sort_by(|a, b| a.children.len().cmp(&b.children.len()).then(a.name.cmp(&b.name))),
            _ => list.sort_by(|a, b| a.name.cmp(&b.name)),
        }
        if sort.descending.get() {
            list.reverse();
        }
        list
    };
    view! {
        {c.problems.into_iter().map(|p| view! { <div class="banner warn">{rich(p.to_string())}</div> }).collect_view()}
        <p class="summary"><span id="shown-count">{move || shown().len()}</span> " of " {total} " images"</p>
        {move || {
            let list = shown();
            if list.is_empty() {
                return view! { <p class="empty">{format!("No image name contains “{}”.", filter.get())}</p> }.into_any();
            }
            view! {
                <div class="scroll">
                    <table class="grid catalog">
                        <thead><tr>
                            {sort.header("image", "image", "/images")}
                            {sort.header("version", "version", "/images")}
                            {sort.header("parents", "parents", "/images")}
                            {sort.header("children", "children", "/images")}
                        </tr></thead>
                        <tbody>
                            {list.into_iter().map(|i| {
                                let broken = i.error.is_some();
                                let (key, label, href) = (i.name.clone(), i.name.clone(), format!("/images/{}", encode(&i.name)));
                                let (parents, children) = (links(i.parents.clone()), links(i.children.clone()));
                                view! {
                                    <tr class:broken=broken data-image=key>
                                        <td class="name"><A href=href>{label}</A>
                                            {i.error.clone().map(|e| view! { <div class="error small">{rich(e.to_string())}</div> })}
                                        </td>
                                        <td class="version">{i.version.clone().unwrap_or_else(|| "?".into())}</td>
                                        <td>{parents}</td>
                                        <td>{children}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            }
            .into_any()
        }}
    }
}

fn links(names: Vec<String>) -> impl IntoView {
    names
        .into_iter()
        .enumerate()
        .map(|(i, n)| {
            let href = format!("/images/{}", encode(&n));
            view! { {(i > 0).then_some(", ")}<A href=href>{n}</A> }
        })
        .collect_view()
}

/// `/images/NAME`: history, tags, Dockerfile, relatives, pins, builds.
#[component]
pub fn ImagePage() -> impl IntoView {
    let params = use_params_map();
    let data = Resource::new(
        move || params.read().get("name").unwrap_or_default(),
        |name| get_json::<ImageDetail>(format!("/api/v1/images/{}", encode(&name))),
    );
    view! {
        <leptos_meta::Title text=move || params.read().get("name").unwrap_or_default() />
        <section class="image">
            <Suspense fallback=loading>
                {move || data.get().map(|r| match r {
                    Ok(d) => detail(d).into_any(),
                    Err(e) => error_box(e).into_any(),
                })}
            </Suspense>
        </section>
    }
}

fn detail(d: ImageDetail) -> impl IntoView {
    let i = d.image;
    let unbumped = (d.unbumped == Some(true)).then(|| {
        view! { <p class="banner warn">"✗ The work tree changes what goes into this image without a changelog bump: run "
            <code>{format!("dockyard update {}", i.name)}</code> "."</p> }
    });
    let tags = match &d.registry {
        None => view! { <p class="muted">"No registry index (start the server with --registry)."</p> }.into_any(),
        Some(e) => {
            let published = match e.published {
                Some(true) => "published",
                Some(false) => "NOT published",
                None => "unknown",
            };
            view! {
                <p>{format!("The current version is {published}; {} tags ({}).", e.tags.len(), e.state.as_str())}</p>
                <ul class="tags">
                    {e.tags.iter().rev().take(30).map(|t| {
                        let digest = e.digests.get(t).cloned();
                        let current = e.latest.as_deref() == Some(t.as_str());
                        view! { <li class:current=current><span class="version">{t.clone()}</span>
                            {digest.map(|dg| view! { " " <code class="digest" title=dg.clone()>{dg.chars().take(19).collect::<String>()}</code> })}</li> }
                    }).collect_view()}
                </ul>
            }
            .into_any()
        }
    };
    view! {
        <div class="toolbar">
            <h1>{i.name.clone()} " " <span class="version">{i.version.clone().unwrap_or_default()}</span></h1>
            <A href=format!("/build?image={}", encode(&i.name)) attr:class="button">"Build…"</A>
        </div>
        <p class="muted"><code>{i.label.clone().unwrap_or_default()}</code> " in " <code>{format!("{}/{}", i.root, i.dir)}</code></p>
        {unbumped}
        {i.error.clone().map(|e| view! { <div class="banner error">{rich(e.to_string())}</div> })}
        <div class="two">
            <div>
                <h2>"Parents"</h2>
                {if i.parents.is_empty() { view! { <p class="muted">"none (a base image)"</p> }.into_any() } else { view! { <p>{links(i.parents.clone())}</p> }.into_any() }}
                <h2>"Children"</h2>
                {if i.children.is_empty() { view! { <p class="muted">"none"</p> }.into_any() } else { view! { <p>{links(i.children.clone())}</p> }.into_any() }}
                <p class="muted small">{format!("{} ancestors, {} descendants", d.ancestors.len(), d.descendants.len())}</p>
            </div>
            <div>
                <h2>"Registry"</h2>
                {tags}
            </div>
        </div>
        <h2>"Pinned in"</h2>
        {if d.pins.is_empty() {
            view! { <p class="muted">"No job pins this image."</p> }.into_any()
        } else {
            view! {
                <ul class="pinlist">
                    {d.pins.iter().map(|p| view! {
                        <li>{status_badge(p.status)} " "
                            <A href=format!("/files?path={}#L{}", encode(&p.file), p.line)>{format!("{}:{}", p.file, p.line)}</A>
                            " " <span class="version">{p.version.clone().unwrap_or_default()}</span></li>
                    }).collect_view()}
                </ul>
            }
            .into_any()
        }}
        <h2>"Builds"</h2>
        {if let Some(e) = d.builds_error.clone() {
            view! { <div class="banner error" role="alert">"The build history cannot be read: " {e}</div> }.into_any()
        } else if d.builds.is_empty() {
            view! { <p class="muted">"Never built by dockyard."</p> }.into_any()
        } else {
            view! {
                <div class="scroll">
                <table class="grid">
                    <thead><tr><th>"run"</th><th>"state"</th><th>"host"</th><th>"started"</th><th>"took"</th></tr></thead>
                    <tbody>
                        {d.builds.iter().map(|b| view! {
                            <tr>
                                <td><A href=format!("/builds/{}", b.run)>{format!("#{}", b.run)}</A></td>
                                <td>{state_badge(b.state)}</td>
                                <td>{b.host.clone().unwrap_or_default()}</td>
                                <td class="time">{b.started_at.map(format_time).unwrap_or_default()}</td>
                                <td class="num">{b.duration_ms.map(format_duration).unwrap_or_default()}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
                </div>
            }
            .into_any()
        }}
        <h2>"Rendered Dockerfile"</h2>
        <pre class="code dockerfile">{d.dockerfile.unwrap_or_else(|| "(does not render)".into())}</pre>
        <h2>"Changelog"</h2>
        {d.changelog_error.map(|e| view! { <p class="banner error" id="changelog-error">{format!("The history cannot be read: {e}")}</p> })}
        <ol class="changelog">
            {d.changelog.into_iter().map(|e| view! {
                <li>
                    <span class="version">{e.version.clone()}</span>
                    {d.sizes.get(&e.version).map(|b| view! {
                        <span class="size" title="compressed, as the registry stores it">{format!(" {}", crate::api::human_bytes(*b))}</span>
                    })}
                    <span class="muted">{format!(" {} · {}", e.author.unwrap_or_default(), e.date.unwrap_or_default())}</span>
                    <pre class="changes">{e.changes}</pre>
                </li>
            }).collect_view()}
        </ol>
    }
}
