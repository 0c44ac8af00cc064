//! One component per page.

use crate::api::{CatalogImage, CatalogReport, Pin, PinsReport, fetch_catalog, fetch_pins};
use leptos::prelude::*;

/// The catalog: every image with its version and parents, filterable.
#[component]
pub fn ImagesPage() -> impl IntoView {
    let catalog = Resource::new(|| (), |_| fetch_catalog());
    let filter = RwSignal::new(String::new());
    view! {
        <section class="images">
            <div class="toolbar">
                <h1>"Images"</h1>
                <input
                    id="filter"
                    type="search"
                    placeholder="filter by name"
                    prop:value=move || filter.get()
                    on:input=move |ev| filter.set(event_target_value(&ev))
                />
            </div>
            <Suspense fallback=|| view! { <p class="empty">"Loading…"</p> }>
                {move || {
                    catalog
                        .get()
                        .map(|result| match result {
                            Ok(view) => catalog_table(view, filter).into_any(),
                            Err(e) => view! { <p class="error">{e}</p> }.into_any(),
                        })
                }}
            </Suspense>
        </section>
    }
}

fn catalog_table(view: CatalogReport, filter: RwSignal<String>) -> impl IntoView {
    let total = view.images.len();
    let images = StoredValue::new(view.images);
    let shown = move || {
        let needle = filter.get().to_lowercase();
        images.with_value(|all| {
            all.iter().filter(|i| i.name.to_lowercase().contains(&needle)).cloned().collect::<Vec<_>>()
        })
    };
    let problems: Vec<String> = view.problems.iter().map(ToString::to_string).collect();
    view! {
        <p class="summary">
            <span id="shown-count">{move || shown().len()}</span>
            " of "
            {total}
            " images"
        </p>
        <ul class="problems">{problems.into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}</ul>
        <table class="catalog">
            <thead>
                <tr>
                    <th>"image"</th>
                    <th>"version"</th>
                    <th>"parents"</th>
                    <th>"folder"</th>
                </tr>
            </thead>
            <tbody>
                <For each=shown key=|i| i.name.clone() let:image>
                    {image_row(image)}
                </For>
            </tbody>
        </table>
    }
}

fn image_row(image: CatalogImage) -> impl IntoView {
    let class = if image.error.is_some() { "broken" } else { "" };
    view! {
        <tr class=class data-image=image.name.clone()>
            <td class="name" title=image.label.clone().unwrap_or_default()>
                {image.name.clone()}
            </td>
            <td class="version">
                {image.version.clone().unwrap_or_else(|| "?".into())}
            </td>
            <td class="parents">{image.parents.join(", ")}</td>
            <td class="dir">
                {image.dir.clone()}
                {image.error.clone().map(|e| view! { <div class="error">{e.to_string()}</div> })}
            </td>
        </tr>
    }
}

/// The pins written in the job definitions, problems first, by status.
#[component]
pub fn PinsPage() -> impl IntoView {
    let pins = Resource::new(|| (), |_| fetch_pins());
    let status = RwSignal::new("problems".to_owned());
    view! {
        <section class="pins">
            <div class="toolbar">
                <h1>"Pins"</h1>
                <select
                    id="status"
                    prop:value=move || status.get()
                    on:change=move |ev| status.set(event_target_value(&ev))
                >
                    <option value="problems">"problems"</option>
                    <option value="all">"all"</option>
                    {["ok", "stale", "not-in-catalog", "untagged", "unknown-version", "unpublished", "unresolved"]
                        .into_iter()
                        .map(|s| view! { <option value=s>{s}</option> })
                        .collect_view()}
                </select>
            </div>
            <Suspense fallback=|| view! { <p class="empty">"Loading…"</p> }>
                {move || {
                    pins.get()
                        .map(|result| match result {
                            Ok(view) => pins_table(view, status).into_any(),
                            Err(e) => view! { <p class="error">{e}</p> }.into_any(),
                        })
                }}
            </Suspense>
        </section>
    }
}

fn pins_table(view: PinsReport, status: RwSignal<String>) -> impl IntoView {
    let rows = StoredValue::new(view.pins);
    let shown = move || {
        let wanted = status.get();
        rows.with_value(|all| {
            all.iter()
                .filter(|p| match wanted.as_str() {
                    "all" => true,
                    "problems" => p.status != crate::api::Status::Ok,
                    s => p.status.as_str() == s,
                })
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let counts =
        view.summary.by_status.into_iter().filter(|(_, n)| *n > 0).map(|(s, n)| (s.as_str(), n)).collect::<Vec<_>>();
    let dead = view.summary.dead_images;
    let files_scanned = view.summary.files_scanned;
    view! {
        <p class="summary">
            <span id="pin-count">{move || shown().len()}</span>
            " shown · "
            {files_scanned}
            " files · "
            {counts
                .into_iter()
                .map(|(s, n)| view! { <span class=format!("badge {s}")>{format!("{s} {n}")}</span> })
                .collect_view()}
        </p>
        {(!dead.is_empty())
            .then(|| {
                view! { <p class="summary">"Pinned nowhere and parent of nothing: " {dead.join(", ")}</p> }
            })}
        <table class="catalog">
            <thead>
                <tr>
                    <th>"where"</th>
                    <th>"image"</th>
                    <th>"pinned"</th>
                    <th>"status"</th>
                    <th>"latest"</th>
                </tr>
            </thead>
            <tbody>
                <For
                    each=shown
                    key=|p| p.key()
                    let:pin
                >
                    {pin_row(pin)}
                </For>
            </tbody>
        </table>
    }
}

fn pin_row(pin: Pin) -> impl IntoView {
    let status = match pin.order {
        Some(order) => format!("{} ({})", pin.status, order.as_str()),
        None => pin.status.to_string(),
    };
    view! {
        <tr data-status=pin.status.as_str() data-image=pin.image.clone()>
            <td class="dir">{format!("{}:{}:{}", pin.file, pin.line, pin.column)}</td>
            <td class="name">{pin.image.clone()}</td>
            <td class="version">{pin.version.clone().unwrap_or_else(|| "-".into())}</td>
            <td>
                <span class=format!("badge {}", pin.status.as_str())>{status}</span>
                {pin.note.clone().map(|n| view! { <div class="note">{n}</div> })}
            </td>
            <td class="version">{pin.latest.clone().unwrap_or_default()}</td>
        </tr>
    }
}
