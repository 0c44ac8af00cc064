//! The registry index: for each catalog image (and each base image on the
//! same registry) its tags, whether its current changelog version is
//! published, and digests of wanted tags. Fetched with bounded concurrency,
//! stored with fetch times, refreshed incrementally (entries younger than
//! `max_age` are not asked again), and served from the store with their age
//! when the registry fails.

use super::client::{RegistryClient, RegistryError};
use crate::store::{Store, now};
use dockyard_core::catalog::Catalog;
use dockyard_core::label::{image_name, split_tag};
use dockyard_core::lint::Published;
use futures::StreamExt;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Where an entry's data comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Fetched now.
    Fresh,
    /// From the store, younger than `max_age`: not asked again.
    Cached,
    /// From the store because the registry failed now (see `error`).
    Stale,
    /// The registry has no such repository.
    Missing,
    /// Failed, and nothing is stored.
    Error,
}

/// One repository in the index.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub image: String,
    pub repo: String,
    /// A base image from the config rather than a catalog image.
    pub base: bool,
    /// The catalog's current version (first changelog entry).
    pub latest: Option<String>,
    /// Whether `latest` is among the tags (`None` when unknown).
    pub published: Option<bool>,
    pub tags: Vec<String>,
    pub state: State,
    pub fetched_at: Option<i64>,
    pub age_seconds: Option<i64>,
    pub error: Option<String>,
    /// tag → digest, for the tags asked for.
    pub digests: BTreeMap<String, String>,
}

/// The whole index of one registry.
#[derive(Debug, Clone, Serialize)]
pub struct IndexReport {
    pub registry: String,
    pub entries: Vec<Entry>,
    /// HTTP requests this run sent (token requests and retries included).
    pub requests: u64,
    pub elapsed_ms: u128,
}

impl IndexReport {
    pub fn get(&self, image: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.image == image && !e.base)
    }

    /// True when any repository could not be read now.
    pub fn has_errors(&self) -> bool {
        self.entries.iter().any(|e| e.error.is_some())
    }
}

impl Published for IndexReport {
    fn is_published(&self, image: &str, tag: &str) -> Option<bool> {
        let e = self.get(image)?;
        match e.state {
            State::Fresh | State::Cached | State::Stale => Some(e.tags.iter().any(|t| t == tag)),
            State::Missing => Some(false),
            State::Error => None,
        }
    }
}

/// Knobs of one indexing run.
#[derive(Debug, Clone)]
pub struct IndexOptions {
    pub concurrency: usize,
    pub max_age: Duration,
    /// Do not ask the registry; serve what the store has.
    pub offline: bool,
}

/// A repository's tags (`None`: no such repository), or why not.
type Listing = Result<Option<Vec<String>>, RegistryError>;

struct Target {
    image: String,
    repo: String,
    base: bool,
    latest: Option<String>,
}

/// Catalog images and same-registry base images, as registry repositories.
fn targets(catalog: &Catalog) -> Vec<Target> {
    let registry = catalog.config.registry();
    let namespace = catalog.config.namespace();
    let mut out: Vec<Target> = catalog
        .images
        .iter()
        .filter(|i| i.error.is_none())
        .map(|i| Target {
            image: i.name.clone(),
            repo: image_name("", &namespace, &i.name),
            base: false,
            latest: i.version.clone(),
        })
        .collect();
    let prefix = format!("{registry}/");
    for label in catalog.config.base_images() {
        let (name, tag) = split_tag(&label);
        if let Some(repo) = name.strip_prefix(&prefix) {
            out.push(Target {
                image: name.to_owned(),
                repo: repo.to_owned(),
                base: true,
                latest: tag.map(str::to_owned),
            });
        }
    }
    out
}

/// Builds the index. `want_digests` are (image, tag) pairs whose digests are
/// wanted (pinned versions). `client` is `None` when offline.
pub async fn build(
    catalog: &Catalog,
    client: Option<&RegistryClient>,
    store: &Store,
    want_digests: &BTreeSet<(String, String)>,
    opts: &IndexOptions,
) -> IndexReport {
    let started = std::time::Instant::now();
    let registry = catalog.config.registry();
    let t_now = now();
    let targets = targets(catalog);
    let mut entries: Vec<Entry> = Vec::with_capacity(targets.len());
    let mut to_fetch: Vec<usize> = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        let cached = store.load_tags(&registry, &t.repo).ok().flatten();
        let mut e = Entry {
            image: t.image.clone(),
            repo: t.repo.clone(),
            base: t.base,
            latest: t.latest.clone(),
            published: None,
            tags: vec![],
            state: State::Error,
            fetched_at: None,
            age_seconds: None,
            error: None,
            digests: BTreeMap::new(),
        };
        if let Some(c) = cached.as_ref().filter(|c| c.fetched_at > 0) {
            e.fetched_at = Some(c.fetched_at);
            e.age_seconds = Some(t_now - c.fetched_at);
            match &c.tags {
                Some(tags) => {
                    e.tags = tags.clone();
                    e.state = State::Cached;
                }
                None => e.state = State::Missing,
            }
        }
        let fresh_enough = e.age_seconds.is_some_and(|a| a >= 0 && (a as u64) < opts.max_age.as_secs());
        if client.is_none() || opts.offline {
            if e.fetched_at.is_some() && !fresh_enough {
                e.state = if e.state == State::Missing { State::Missing } else { State::Stale };
            }
            if e.fetched_at.is_none() {
                e.error = Some("offline, and nothing stored".into());
            }
        } else if !fresh_enough {
            to_fetch.push(i);
        }
        entries.push(e);
    }

    if let Some(client) = client.filter(|_| !opts.offline) {
        let repos: Vec<String> = to_fetch.iter().map(|&i| targets[i].repo.clone()).collect();
        let prepared = if repos.is_empty() { Ok(()) } else { client.prepare(&repos).await };
        let results: Vec<(usize, Listing)> = match prepared {
            Err(e) => to_fetch.iter().map(|&i| (i, Err(e.clone()))).collect(),
            Ok(()) => {
                futures::stream::iter(to_fetch.iter().copied())
                    .map(|i| {
                        let repo = targets[i].repo.clone();
                        async move { (i, client.list_tags(&repo).await) }
                    })
                    .buffer_unordered(opts.concurrency.max(1))
                    .collect()
                    .await
            }
        };
        let at = now();
        for (i, result) in results {
            let e = &mut entries[i];
            match result {
                Ok(tags) => {
                    let _ = store.save_tags(&registry, &e.repo, tags.as_deref(), at);
                    e.state = if tags.is_some() { State::Fresh } else { State::Missing };
                    e.tags = tags.unwrap_or_default();
                    e.fetched_at = Some(at);
                    e.age_seconds = Some(0);
                }
                Err(err) => {
                    let msg = err.to_string();
                    let _ = store.save_error(&registry, &e.repo, &msg, at);
                    e.state = match e.state {
                        State::Cached => State::Stale,
                        State::Missing => State::Missing,
                        _ => State::Error,
                    };
                    e.error = Some(msg);
                }
            }
        }
    }

    // Digests: stored ones are reused (tags are treated as immutable); the
    // registry is asked only for the others, when it lists the tag.
    let mut wanted: Vec<(usize, String)> = Vec::new();
    for (image, tag) in want_digests {
        let Some(i) = entries.iter().position(|e| &e.image == image && !e.base) else { continue };
        match store.load_digest(&registry, &entries[i].repo, tag).ok().flatten() {
            Some((d, _)) => {
                entries[i].digests.insert(tag.clone(), d);
            }
            None if entries[i].tags.contains(tag) => wanted.push((i, tag.clone())),
            None => {}
        }
    }
    if let Some(client) = client.filter(|_| !opts.offline && !wanted.is_empty()) {
        let digests: Vec<(usize, String, Result<Option<String>, RegistryError>)> = futures::stream::iter(wanted)
            .map(|(i, tag)| {
                let repo = entries[i].repo.clone();
                async move {
                    let r = client.manifest_digest(&repo, &tag).await;
                    (i, tag, r)
                }
            })
            .buffer_unordered(opts.concurrency.max(1))
            .collect()
            .await;
        for (i, tag, r) in digests {
            if let Ok(Some(d)) = r {
                let _ = store.save_digest(&registry, &entries[i].repo, &tag, &d, now());
                entries[i].digests.insert(tag, d);
            }
        }
    }

    for e in &mut entries {
        e.published = match (&e.latest, e.state) {
            (Some(v), State::Fresh | State::Cached | State::Stale) => Some(e.tags.contains(v)),
            (Some(_), State::Missing) => Some(false),
            _ => None,
        };
    }
    IndexReport {
        registry,
        entries,
        requests: client.map_or(0, RegistryClient::requests),
        elapsed_ms: started.elapsed().as_millis(),
    }
}
