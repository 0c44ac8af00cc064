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
    let lit = Memo::new(move |_| hovered.get().map(|n| related(&n, &parents, &children)));
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
            view! {
                <g class=class data-image=name.clone() data-status=st.as_str() tabindex="0" role="link" aria-label=aria
                    on:mouseenter=move |_| hovered.set(Some(name_h.clone()))
                    on:mouseleave=move |_| hovered.set(None)
                    on:focus={let n = name.clone(); move |_| hovered.set(Some(n.clone()))}
                    on:blur=move |_| hovered.set(None)
                    on:click=move |_| open_c(&name)
                    on:keydown=move |ev: leptos::ev::KeyboardEvent| if ev.key() == "Enter" { open_k(&name_k) }>
                    <rect x=fixed1(n.x) y=fixed1(n.y) width=fixed1(n.w) height=fixed1(n.h) rx="5" />
                    <text x=fixed1(n.x + n.w / 2.0) y=fixed1(n.y + n.h / 2.0 + 4.0) text-anchor="middle">{label}</text>
                </g>
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
            {[NodeStatus::Ok, NodeStatus::StalePins, NodeStatus::Unpublished, NodeStatus::Failed, NodeStatus::Broken].into_iter().map(|s| {
                let n = counts.get(&s).copied().unwrap_or(0);
                let word = if s == NodeStatus::Ok { "ok".to_owned() } else { s.label().to_owned() };
                view! { <span class=format!("key st-{}", s.as_str())><span class="swatch"></span>{format!("{word} ({n})")}</span> }
            }).collect_view()}
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
        <p class="muted small">"Hover or focus an image to see its ancestors and descendants; click or press Enter to open it. Scroll to zoom, drag to pan."</p>
    }
}
