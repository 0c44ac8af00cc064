//! Who may start builds and pulls: the server's `GET /api/v1/session`,
//! read once per page and shared through context. The header shows it (log
//! in, logged in with a way out, or read-only), and the build and hosts
//! pages disable their buttons with the reason before anyone clicks.

use crate::api::{Session, get_json, post_json};
use leptos::prelude::*;

/// The session, as the server answers it for this browser.
#[derive(Clone, Copy)]
pub struct SessionCtx(pub Resource<Result<Session, String>>);

/// Reads the session and shares it with every page.
pub fn provide_session() {
    provide_context(SessionCtx(Resource::new(|| (), |_| get_json::<Session>("/api/v1/session".into()))));
}

/// The shared session.
pub fn use_session() -> SessionCtx {
    use_context::<SessionCtx>().unwrap_or_else(|| SessionCtx(Resource::new(|| (), |_| async { Err(String::new()) })))
}

impl SessionCtx {
    /// The session when it has been read.
    pub fn get(&self) -> Option<Session> {
        self.0.get().and_then(Result::ok)
    }
    /// Reads it again (after a login or a logout).
    pub fn refresh(&self) {
        self.0.refetch();
    }
}

/// The header's part: log in, or logged in with a way out, or read-only.
#[component]
pub fn SessionBadge() -> impl IntoView {
    let session = use_session();
    let logout = move |_| {
        leptos::task::spawn_local(async move {
            let _ = post_json::<_, crate::api::Ok>("/api/v1/logout", &serde_json::json!({})).await;
            session.refresh();
        });
    };
    view! {
        <Suspense fallback=|| ()>
            {move || session.get().map(|s| match (s.configured, s.logged_in) {
                (false, _) => view! {
                    <span class="who muted" id="session" title="This server has no access token: builds and pulls start from the command line.">"read-only"</span>
                }.into_any(),
                (true, true) => view! {
                    <span class="who" id="session">"logged in"</span>
                    <button type="button" class="small" id="logout" on:click=logout>"Log out"</button>
                }.into_any(),
                (true, false) => view! { <a class="who" id="session" href="/build#login">"Log in"</a> }.into_any(),
            })}
        </Suspense>
    }
}
