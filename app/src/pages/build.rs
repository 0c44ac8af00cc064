//! Build-and-pull: choose what to build, see the plan (the same as
//! `dockyard build --dry-run`), start it; then the pinned images are pulled
//! onto the engines. Behind a login.

use super::{error_box, loading};
use crate::api::{Action, BuildRequest, BuildStarted, CatalogReport, Plan, Selection, get_json, post_json};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};

/// `/build?image=NAME`.
#[component]
pub fn BuildPage() -> impl IntoView {
    let catalog = Resource::new(|| (), |_| get_json::<CatalogReport>("/api/v1/catalog".into()));
    view! {
        <leptos_meta::Title text="Build & pull" />
        <section class="buildform">
            <h1>"Build & pull"</h1>
            <p class="muted">"Builds what is missing along the dependency graph, publishes it, then pulls the pinned images onto the engines."</p>
            <Suspense fallback=loading>
                {move || catalog.get().map(|r| match r {
                    Ok(c) => view! { <BuildForm names=c.images.into_iter().filter(|i| i.error.is_none()).map(|i| i.name).collect() /> }.into_any(),
                    Err(e) => error_box(e).into_any(),
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn BuildForm(names: Vec<String>) -> impl IntoView {
    let query = use_query_map();
    let preset = query.get_untracked().get("image");
    let kind = RwSignal::new(if preset.is_some() { "image".to_owned() } else { "pin-problems".to_owned() });
    let image = RwSignal::new(preset.or_else(|| names.first().cloned()).unwrap_or_default());
    let push = RwSignal::new(true);
    let pull = RwSignal::new(true);
    let plan = RwSignal::new(None::<Plan>);
    let message = RwSignal::new(None::<String>);
    let need_login = RwSignal::new(false);
    let busy = RwSignal::new(false);
    // What keeps Start from working, said before anyone clicks.
    let session = crate::session::use_session();
    let blocked = move || session.get().and_then(|s| s.blocked());
    let request = move || BuildRequest {
        selection: match kind.get_untracked().as_str() {
            "image" => Selection::Image { name: image.get_untracked() },
            "subtree" => Selection::Subtree { name: image.get_untracked() },
            _ => Selection::PinProblems,
        },
        push: push.get_untracked(),
        pull_pins: pull.get_untracked(),
    };
    let failed = RwSignal::new(false);
    let refused = move |(status, text): (u16, String)| {
        if status == 401 {
            need_login.set(true);
        }
        failed.set(true);
        message.set(Some(text));
    };
    let show_plan = move |_| {
        let req = request();
        busy.set(true);
        leptos::task::spawn_local(async move {
            match post_json::<_, Plan>("/api/v1/plan", &req).await {
                Ok(p) => {
                    plan.set(Some(p));
                    failed.set(false);
                    message.set(None);
                }
                Err(e) => refused(e),
            }
            busy.set(false);
        });
    };
    let navigate = use_navigate();
    let start = move |_| {
        let req = request();
        let navigate = navigate.clone();
        busy.set(true);
        leptos::task::spawn_local(async move {
            match post_json::<_, BuildStarted>("/api/v1/builds", &req).await {
                Ok(s) => navigate(&format!("/builds/{}", s.run), Default::default()),
                Err(e) => refused(e),
            }
            busy.set(false);
        });
    };
    let names_view = names.clone();
    view! {
        <form class="choose" on:submit=|ev| ev.prevent_default()>
            <fieldset>
                <legend>"What to build"</legend>
                <label><input type="radio" name="kind" value="pin-problems" prop:checked=move || kind.get() == "pin-problems"
                    on:change=move |_| kind.set("pin-problems".into()) /> " everything behind a stale or unpublished pin"</label>
                <label><input type="radio" name="kind" value="image" prop:checked=move || kind.get() == "image"
                    on:change=move |_| kind.set("image".into()) /> " one image"</label>
                <label><input type="radio" name="kind" value="subtree" prop:checked=move || kind.get() == "subtree"
                    on:change=move |_| kind.set("subtree".into()) /> " an image and everything below it"</label>
                <label class="pick">"image "
                    <select id="image" prop:value=move || image.get() on:change=move |ev| image.set(event_target_value(&ev))>
                        {names_view.into_iter().map(|n| view! { <option value=n.clone()>{n.clone()}</option> }).collect_view()}
                    </select>
                </label>
            </fieldset>
            <fieldset>
                <legend>"Then"</legend>
                <label><input type="checkbox" prop:checked=move || push.get() on:change=move |ev| push.set(event_target_checked(&ev)) /> " publish what is built"</label>
                <label><input type="checkbox" prop:checked=move || pull.get() on:change=move |ev| pull.set(event_target_checked(&ev)) /> " pull the pinned images onto the engines"</label>
            </fieldset>
            <div class="actions">
                <button type="button" id="show-plan" on:click=show_plan disabled=move || busy.get()>"Show the plan"</button>
                <button type="button" id="start" class="primary" on:click=start aria-describedby="start-blocked"
                    disabled=move || busy.get() || blocked().is_some()>"Start"</button>
                {move || blocked().map(|why| view! { <span class="blocked" id="start-blocked">{why}</span> })}
            </div>
        </form>
        {move || message.get().map(|m| {
            let class = if failed.get() { "banner error" } else { "banner info" };
            view! { <div class=class role="status" id="build-message">{m}</div> }
        })}
        {super::login_form(need_login, true, move |r| {
            failed.set(r.is_err());
            message.set(Some(r.map_or_else(|e| e, |()| "Logged in.".into())));
        })}
        {move || plan.get().map(plan_table)}
    }
}

fn plan_table(p: Plan) -> impl IntoView {
    let work = p.work().count();
    view! {
        <h2>"Plan"</h2>
        {p.problems.iter().map(|x| view! { <div class="banner warn">{x.clone()}</div> }).collect_view()}
        {p.notes.iter().map(|x| view! { <p class="banner info plan-note">{x.clone()}</p> }).collect_view()}
        <p id="plan-summary">{if work == 0 {
            "Nothing to build or publish: every image selected is in the registry already.".to_owned()
        } else {
            format!("{work} images to build or publish; critical path: {}", p.critical_path.join(" → "))
        }}</p>
        <div class="scroll">
            <table class="grid plan">
                <thead><tr><th>"image"</th><th>"action"</th><th>"why"</th></tr></thead>
                <tbody>
                    {p.items.into_iter().filter(|i| i.action != Action::Present || i.selected).map(|i| view! {
                        <tr data-image=i.name.clone() data-action=i.action.as_str()>
                            <td class="name">{i.name.clone()}</td>
                            <td><span class=format!("badge a-{}", i.action.as_str())>{i.action.as_str()}</span></td>
                            <td class="wrap">{i.reason}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}
