//! One component per page, and the pieces they share.

pub mod build;
pub mod builds;
pub mod cleanup;
pub mod files;
pub mod graph;
pub mod hosts;
pub mod images;
pub mod overview;
pub mod pins;

use crate::api::{ImageState, RunState, Status};
use leptos::prelude::*;
use leptos_router::components::A;

/// The 404 page.
#[component]
pub fn NotFound() -> impl IntoView {
    crate::api::not_found_status();
    view! {
        <leptos_meta::Title text="Not found" />
        <section class="notfound">
            <h1>"Nothing here"</h1>
            <p>"This page does not exist. Try one of these:"</p>
            <ul>
                <li><A href="/">"the overview"</A></li>
                <li><A href="/pins">"the pins of the job definitions"</A></li>
                <li><A href="/images">"the images of the catalog"</A></li>
                <li><A href="/graph">"the dependency graph"</A></li>
                <li><A href="/builds">"the build history"</A></li>
            </ul>
        </section>
    }
}

/// The dashboard's login (the access token, for starting and deleting):
/// shown while `need_login` is set, and with `upfront` whenever the server
/// has a token and this browser is not logged in; `done` gets the outcome.
pub fn login_form(
    need_login: RwSignal<bool>,
    upfront: bool,
    done: impl Fn(Result<(), String>) + Copy + Send + 'static,
) -> impl IntoView {
    let session = crate::session::use_session();
    let token = RwSignal::new(String::new());
    let login = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let t = token.get_untracked();
        leptos::task::spawn_local(async move {
            match crate::api::post_json::<_, serde_json::Value>("/api/v1/login", &serde_json::json!({ "token": t }))
                .await
            {
                Ok(_) => {
                    need_login.set(false);
                    session.refresh();
                    done(Ok(()));
                }
                Err((_, text)) => done(Err(text)),
            }
        });
    };
    let shown = move || {
        let wanted = upfront && session.get().is_some_and(|s| s.configured && !s.logged_in);
        need_login.get() || wanted
    };
    move || {
        shown().then(|| {
            view! {
                <form class="login" id="login-form" on:submit=login>
                    <label>"Access token "
                        <input id="token" type="password" autocomplete="current-password" prop:value=move || token.get()
                            on:input=move |ev| token.set(event_target_value(&ev)) />
                    </label>
                    <button type="submit" id="login">"Log in"</button>
                </form>
            }
        })
    }
}

/// What a page shows while its data comes (only seen after client-side navigation).
pub fn loading() -> impl IntoView {
    view! { <p class="muted" aria-busy="true">"Loading…"</p> }
}

/// A failure to get a page's data.
pub fn error_box(message: String) -> impl IntoView {
    view! {
        <div class="banner error" role="alert">
            <strong>"Cannot show this: "</strong>
            {message}
        </div>
    }
}

/// A pin status: colour, and a sign and word that do not rely on it.
pub fn status_badge(status: Status) -> impl IntoView {
    view! { <span class=format!("badge s-{}", status.as_str())>{status.symbol()} " " {status.as_str()}</span> }
}

/// An image's state in a run.
pub fn state_badge(state: ImageState) -> impl IntoView {
    let sign = match state {
        ImageState::Published | ImageState::Built | ImageState::Pulled | ImageState::Deleted => "✓",
        ImageState::Present => "·",
        ImageState::Failed | ImageState::Interrupted => "✗",
        ImageState::Skipped => "⤼",
        _ => "…",
    };
    view! { <span class=format!("badge i-{}", state.as_str())>{sign} " " {state.as_str()}</span> }
}

/// A run's state.
pub fn run_badge(state: RunState) -> impl IntoView {
    let sign = match state {
        RunState::Succeeded => "✓",
        RunState::Failed | RunState::Interrupted => "✗",
        RunState::Running => "…",
    };
    view! { <span class=format!("badge r-{}", state.as_str())>{sign} " " {state.as_str()}</span> }
}

/// Text with `backticks` shown as code (problem messages are written so).
pub fn rich(text: String) -> impl IntoView {
    text.split('`')
        .enumerate()
        .map(|(i, part)| {
            let part = part.to_owned();
            if i % 2 == 1 { view! { <code>{part}</code> }.into_any() } else { part.into_any() }
        })
        .collect_view()
}

/// A table's sort, kept in the URL (`?sort=COLUMN&dir=asc|desc`), so a
/// link, a reload and Back all keep it.
#[derive(Clone, Copy)]
pub struct Sort {
    pub column: Memo<String>,
    pub descending: Memo<bool>,
}

impl Sort {
    /// The sort in the URL, `default` when it has none.
    pub fn from_url(default: &'static str, default_desc: bool) -> Sort {
        let query = leptos_router::hooks::use_query_map();
        Sort {
            column: Memo::new(move |_| query.read().get("sort").unwrap_or_else(|| default.to_owned())),
            descending: Memo::new(move |_| query.read().get("dir").map_or(default_desc, |d| d == "desc")),
        }
    }

    /// A column header that sorts by `column` (again: the other way), with
    /// `aria-sort` on the current one.
    pub fn header(self, column: &'static str, label: &'static str, base: &'static str) -> impl IntoView {
        let on = move || self.column.get() == column;
        let query = leptos_router::hooks::use_query_map();
        let href = move || {
            let desc = if on() { !self.descending.get() } else { false };
            let mut h = format!("{base}?sort={column}&dir={}", if desc { "desc" } else { "asc" });
            if let Some(q) = query.read_untracked().get("q") {
                h.push_str(&format!("&q={}", crate::api::encode(&q)));
            }
            h
        };
        let aria = move || on().then(|| if self.descending.get() { "descending" } else { "ascending" });
        let arrow = move || if on() { if self.descending.get() { " ↓" } else { " ↑" } } else { "" };
        view! {
            <th aria-sort=aria><a class="sort" href=href data-sort=column>{label}{arrow}</a></th>
        }
    }
}

/// Calls `refetch` whenever the build history changes (the history's live
/// stream, `GET /api/v1/history/events`): a list stays current without a
/// reload. The stream closes with the page.
pub fn refresh_on_history(refetch: impl Fn() + 'static) {
    refresh_on(&[crate::api::StreamEvent::History], refetch);
}

/// Calls `refetch` whenever one of `kinds` of change is announced on the
/// history's live stream (`history`: the build history; `files`: a new
/// snapshot of the files). The stream closes with the page.
pub fn refresh_on(kinds: &'static [crate::api::StreamEvent], refetch: impl Fn() + 'static) {
    #[cfg(feature = "hydrate")]
    {
        use futures::StreamExt;
        let Ok(mut source) = gloo_net::eventsource::futures::EventSource::new("/api/v1/history/events") else {
            return;
        };
        let streams: Vec<_> = kinds.iter().filter_map(|k| source.subscribe(k.name()).ok()).collect();
        let mut events = futures::stream::select_all(streams);
        let source = send_wrapper::SendWrapper::new(source);
        on_cleanup(move || source.take().close());
        leptos::task::spawn_local(async move {
            while let Some(Ok(_)) = events.next().await {
                refetch();
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (kinds, refetch);
}
