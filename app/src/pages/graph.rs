//! The dependency graph as an SVG laid out in layers (the layout is
//! computed on the server, in Rust): coloured by status, with a sign beside
//! the colour; zoom and pan; hovering shows an image's ancestors and
//! descendants; a click (or Enter) opens the image.

use super::{error_box, loading, rich};
use crate::api::{GraphView, NodeStatus, encode, fixed1, get_json};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use std::collections::{BTreeMap, BTreeSet};

/// `/graph`.
#[component]
pub fn GraphPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_json::<GraphView>("/api/v1/graph/view".into()));
    view! {
        <leptos_meta::Title text="Graph" />
        <section class="graph">
            <div class="toolbar">
                <h1>"Dependency graph"</h1>
                <a class="button" href="/api/v1/graph.dot" download="dockyard-graph.dot">"DOT"</a>
                <a class="button" href="/api/v1/graph.svg" download="dockyard-graph.svg">"SVG"</a>
            </div>
            <Suspense fallback=loading>
                {move || data.get().map(|r| match r {
                    Ok(v) => view! { <GraphView view=v /> }.into_any(),
                    Err(e) => error_box(e).into_any(),
                })}
            </Suspense>
        </section>
    }
}

/// Every image related to `name`: itself, its ancestors and descendants.
fn related(
    name: &str,
    parents: &BTreeMap<String, Vec<String>>,
    children: &BTreeMap<String, Vec<String>>,
) -> BTreeSet<String> {
    let mut out = BTreeSet::from([name.to_owned()]);
    for map in [parents, children] {
        let mut stack = vec![name.to_owned()];
        while let Some(n) = stack.pop() {
            for m in map.get(&n).into_iter().flatten() {
                if out.insert(m.clone()) {
                    stack.push(m.clone());
                }
            }
        }
    }
    out
}

#[component]
fn GraphView(view: GraphView) -> impl IntoView {
    let layout = view.layout;
    let status = view.status;
    let (w, h) = (layout.width.max(100.0), layout.height.max(60.0));
    const MIN_VIEW: (f64, f64) = (960.0, 420.0);
    // A small graph is not blown up: the view is at least MIN_VIEW wide and
    // tall, with the graph in its middle.
    let fit = {
        let (vw, vh) = (w.max(MIN_VIEW.0), h.max(MIN_VIEW.1));
        ((w - vw) / 2.0, (h - vh) / 2.0, vw, vh)
    };
    let view_box = RwSignal::new(fit);
    let hovered = RwSignal::new(None::<String>);
    let mut parents: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut children: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in &layout.edges {
        parents.entry(e.child.clone()).or_default().push(e.parent.clone());
        children.entry(e.parent.clone()).or_default().push(e.child.clone());
    }
    // What stands out: the relatives of the image hovered or focused, else
    // the images the search or the status filter picks.
    let search = RwSignal::new(String::new());
    let only = RwSignal::new(None::<NodeStatus>);
    let statuses = StoredValue::new(status.clone());
    let all_names: Vec<String> = layout.nodes.iter().map(|n| n.name.clone()).collect();
    let lit = Memo::new(move |_| {
        if let Some(n) = hovered.get() {
            return Some(related(&n, &parents, &children));
        }
        let (needle, only) = (search.get().to_lowercase(), only.get());
        if needle.is_empty() && only.is_none() {
            return None;
        }
        let status_of = |n: &str| statuses.with_value(|st| st.get(n).copied().unwrap_or(NodeStatus::Ok));
        Some(
            all_names
                .iter()
                .filter(|n| needle.is_empty() || n.to_lowercase().contains(&needle))
                .filter(|n| only.is_none_or(|s| status_of(n) == s))
                .cloned()
                .collect(),
        )
    });
    // One tab stop: the arrow keys move between images (to the nearest one
    // in that direction).
    let centres: Vec<(String, f64, f64)> =
        layout.nodes.iter().map(|n| (n.name.clone(), n.x + n.w / 2.0, n.y + n.h / 2.0)).collect();
    let current = RwSignal::new(centres.first().map(|c| c.0.clone()).unwrap_or_default());
    let centres = StoredValue::new(centres);
    let step = move |key: &str| centres.with_value(|cs| next_node(cs, &current.get_untracked(), key));
    let drag = RwSignal::new(None::<(f64, f64)>);
    let zoom = move |factor: f64| {
        view_box.update(|(x, y, vw, vh)| {
            let (cx, cy) = (*x + *vw / 2.0, *y + *vh / 2.0);
            *vw = (*vw * factor).clamp(w * 0.05, w * 4.0);
            *vh = (*vh * factor).clamp(h * 0.05, h * 4.0);
            *x = cx - *vw / 2.0;
            *y = cy - *vh / 2.0;
        })
    };
    let navigate = use_navigate();
    let open = move |name: &str| navigate(&format!("/images/{}", encode(name)), Default::default());
    let counts: BTreeMap<NodeStatus, usize> = status.values().fold(BTreeMap::new(), |mut m, s| {
        *m.entry(*s).or_default() += 1;
        m
    });
    let list = graph_list(&layout, &status, lit);
    let nodes = layout
        .nodes
        .into_iter()
        .map(|n| {
            let st = status.get(&n.name).copied().unwrap_or(NodeStatus::Ok);
            let name = n.name.clone();
            let (name_c, name_h, name_k) = (name.clone(), name.clone(), name.clone());
            let open_c = open.clone();
            let open_k = open.clone();
            let class = move || {
                let base = format!("node st-{}", st.as_str());
                match lit.get() {
                    Some(set) if set.contains(&name_c) => format!("{base} lit"),
                    Some(_) => format!("{base} dim"),
                    None => base,
                }
            };
            let sign = st.label().split(' ').next().unwrap_or("").to_owned();
            let label = if sign.is_empty() { n.name.clone() } else { format!("{sign} {}", n.name) };
            let aria = format!("{} {}", n.name, st.label());
            let (name_t, name_f) = (name.clone(), name.clone());
            let href = format!("/images/{}", encode(&name));
            view! {
                <a href=href tabindex="-1" aria-hidden="true">
                <g class=class data-image=name.clone() data-status=st.as_str() role="link" aria-label=aria
                    tabindex=move || if current.get() == name_t { "0" } else { "-1" }
                    on:focusin=move |_| current.set(name_f.clone())
                    on:mouseenter=move |_| hovered.set(Some(name_h.clone()))
                    on:mouseleave=move |_| hovered.set(None)
                    on:focus={let n = name.clone(); move |_| hovered.set(Some(n.clone()))}
                    on:blur=move |_| hovered.set(None)
                    on:click=move |ev: leptos::ev::MouseEvent| {
                        ev.prevent_default();
                        open_c(&name)
                    }
                    on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                        let key = ev.key();
                        if key == "Enter" {
                            open_k(&name_k)
                        } else if let Some(next) = step(&key) {
                            ev.prevent_default();
                            current.set(next.clone());
                            focus_node(&next);
                        }
                    }>
                    <rect x=fixed1(n.x) y=fixed1(n.y) width=fixed1(n.w) height=fixed1(n.h) rx="5" />
                    <text x=fixed1(n.x + n.w / 2.0) y=fixed1(n.y + n.h / 2.0 + 4.0) text-anchor="middle">{label}</text>
                </g>
                </a>
            }
        })
        .collect_view();
    let edges = layout
        .edges
        .into_iter()
        .map(|e| {
            let (p, c) = (e.parent.clone(), e.child.clone());
            let class = move || match lit.get() {
                Some(set) if set.contains(&p) && set.contains(&c) => "edge lit",
                Some(_) => "edge dim",
                None => "edge",
            };
            view! { <path class=class d=e.path /> }
        })
        .collect_view();
    let vb = move || {
        let (x, y, vw, vh) = view_box.get();
        format!("{} {} {} {}", fixed1(x), fixed1(y), fixed1(vw), fixed1(vh))
    };
    view! {
        {view.problems.into_iter().map(|p| view! { <div class="banner warn">{rich(p)}</div> }).collect_view()}
        <div class="legend">
            <label class="search">
                <span class="visually-hidden">"Find an image"</span>
                <input id="graph-search" type="search" placeholder="find an image" prop:value=move || search.get()
                    on:input=move |ev| search.set(event_target_value(&ev)) />
            </label>
            {status_filters(&counts, only)}
            <span class="zoom">
                <button type="button" on:click=move |_| zoom(0.8) aria-label="Zoom in">"+"</button>
                <button type="button" on:click=move |_| zoom(1.25) aria-label="Zoom out">"−"</button>
                <button type="button" on:click=move |_| view_box.set(fit)>"Fit"</button>
            </span>
        </div>
        <div class="canvas">
            <svg id="graph" xmlns="http://www.w3.org/2000/svg" viewBox=vb preserveAspectRatio="xMidYMin meet"
                role="img" aria-label="Dependency graph: parents above children"
                on:wheel=move |ev: leptos::ev::WheelEvent| {
                    ev.prevent_default();
                    zoom(if ev.delta_y() < 0.0 { 0.9 } else { 1.1 });
                }
                on:mousedown=move |ev: leptos::ev::MouseEvent| drag.set(Some((ev.client_x() as f64, ev.client_y() as f64)))
                on:mouseup=move |_| drag.set(None)
                on:mouseleave=move |_| drag.set(None)
                on:mousemove=move |ev: leptos::ev::MouseEvent| {
                    if let Some((sx, sy)) = drag.get_untracked() {
                        let (cx, cy) = (ev.client_x() as f64, ev.client_y() as f64);
                        view_box.update(|(x, y, vw, _)| {
                            let scale = *vw / 1200.0;
                            *x -= (cx - sx) * scale;
                            *y -= (cy - sy) * scale;
                        });
                        drag.set(Some((cx, cy)));
                    }
                }>
                <g class="edges">{edges}</g>
                <g class="nodes">{nodes}</g>
            </svg>
        </div>
        <p class="muted small graph-help">"Hover or focus an image to see its ancestors and descendants; click or press Enter to open it; the arrow keys move between images. Scroll to zoom, drag to pan."</p>
        {list}
    }
}

/// Moves the keyboard focus to an image of the graph.
fn focus_node(name: &str) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let selector = format!("g.node[data-image=\"{}\"]", name.replace(['\\', '"'], ""));
        if let Ok(Some(el)) = document().query_selector(&selector) {
            // An SVG element has `focus()` as HTML elements do.
            let _ = el.unchecked_into::<web_sys::HtmlElement>().focus();
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = name;
}

/// The image the arrow `key` moves to from `here`: the nearest in that
/// direction (left and right within the row).
fn next_node(centres: &[(String, f64, f64)], here: &str, key: &str) -> Option<String> {
    let (x, y) = centres.iter().find(|c| c.0 == here).map(|c| (c.1, c.2))?;
    centres
        .iter()
        .filter(|c| c.0 != here)
        .filter(|c| match key {
            "ArrowRight" => c.1 > x + 1.0 && (c.2 - y).abs() < 1.0,
            "ArrowLeft" => c.1 < x - 1.0 && (c.2 - y).abs() < 1.0,
            "ArrowDown" => c.2 > y + 1.0,
            "ArrowUp" => c.2 < y - 1.0,
            _ => false,
        })
        .min_by(|a, b| {
            let d = |c: &(String, f64, f64)| (c.1 - x).powi(2) + ((c.2 - y) * 4.0).powi(2);
            d(a).total_cmp(&d(b))
        })
        .map(|c| c.0.clone())
}

/// The legend's statuses, each a toggle that lights its images.
fn status_filters(counts: &BTreeMap<NodeStatus, usize>, only: RwSignal<Option<NodeStatus>>) -> impl IntoView + use<> {
    [NodeStatus::Ok, NodeStatus::StalePins, NodeStatus::Unpublished, NodeStatus::Failed, NodeStatus::Broken]
        .into_iter()
        .map(|s| {
            let n = counts.get(&s).copied().unwrap_or(0);
            let word = if s == NodeStatus::Ok { "ok".to_owned() } else { s.label().to_owned() };
            view! {
                <button type="button" class=format!("key st-{}", s.as_str()) data-status=s.as_str()
                    aria-pressed=move || if only.get() == Some(s) { "true" } else { "false" }
                    on:click=move |_| only.update(|o| *o = if *o == Some(s) { None } else { Some(s) })>
                    <span class="swatch"></span>{format!("{word} ({n})")}
                </button>
            }
        })
        .collect_view()
}

/// The same graph as a list, parents first (what a phone shows), filtered
/// by what stands out.
fn graph_list(
    layout: &crate::api::GraphLayout,
    status: &BTreeMap<String, NodeStatus>,
    lit: Memo<Option<BTreeSet<String>>>,
) -> impl IntoView + use<> {
    let mut ordered: Vec<&crate::api::LayoutNode> = layout.nodes.iter().collect();
    ordered.sort_by(|a, b| a.layer.cmp(&b.layer).then(a.name.cmp(&b.name)));
    let mut parents: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for e in &layout.edges {
        parents.entry(e.child.as_str()).or_default().push(e.parent.clone());
    }
    let items = ordered
        .into_iter()
        .map(|n| {
            let st = status.get(&n.name).copied().unwrap_or(NodeStatus::Ok);
            let ps = parents.get(n.name.as_str()).cloned().unwrap_or_default();
            let (name, key) = (n.name.clone(), n.name.clone());
            let shown = move || lit.with(|l| l.as_ref().is_none_or(|set| set.contains(&key)));
            view! {
                <li data-image=name.clone() data-status=st.as_str() class:hidden=move || !shown()>
                    <a href=format!("/images/{}", encode(&name))>{name.clone()}</a>
                    " " <span class=format!("badge st-{}", st.as_str())>{st.label()}</span>
                    {(!ps.is_empty()).then(|| view! { <span class="muted">{format!(" ← {}", ps.join(", "))}</span> })}
                </li>
            }
        })
        .collect_view();
    view! { <ol class="graph-list" aria-label="Images, parents first">{items}</ol> }
}
