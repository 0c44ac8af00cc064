//! One component per page.

use crate::api::{CatalogView, ImageRow, fetch_catalog};
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

fn catalog_table(view: CatalogView, filter: RwSignal<String>) -> impl IntoView {
    let total = view.images.len();
    let images = StoredValue::new(view.images);
    let shown = move || {
        let needle = filter.get().to_lowercase();
        images.with_value(|all| {
            all.iter().filter(|i| i.name.to_lowercase().contains(&needle)).cloned().collect::<Vec<_>>()
        })
    };
    let problems = view.problems;
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

fn image_row(image: ImageRow) -> impl IntoView {
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
                {image.error.clone().map(|e| view! { <div class="error">{e}</div> })}
            </td>
        </tr>
    }
}
