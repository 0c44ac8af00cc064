//! The registry index: for each catalog image (and each base image on the
//! same registry) its tags, whether its current changelog version is
//! published, and digests of wanted tags. Fetched with bounded concurrency,
//! stored with fetch times, refreshed incrementally (entries younger than
//! `max_age` are not asked again), and served from the store with their age
//! when the registry fails.

use super::client::{RegistryClient, RegistryError};
use crate::store::{Store, StoreError, now};
use dockyard_api::{IndexState as State, RegistryEntry as Entry, RegistryIndex};
use dockyard_core::catalog::Catalog;
use dockyard_core::label::{image_name, split_tag};
use dockyard_core::lint::Published;
use futures::StreamExt;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The index of one registry, with what this run did.
#[derive(Debug, Clone)]
pub struct IndexReport {
    pub index: RegistryIndex,
    /// HTTP requests this run sent (token requests and retries included).
    pub requests: u64,
    pub elapsed_ms: u128,
}

impl IndexReport {
    pub fn get(&self, image: &str) -> Option<&Entry> {
        self.index.get(image)
    }

    /// True when any repository could not be read now.
    pub fn has_errors(&self) -> bool {
        self.index.entries.iter().any(|e| e.error.is_some())
    }
}

/// Registry knowledge for the lint, from one or more indexes.
pub struct Knowledge<'a>(pub &'a [RegistryIndex]);

impl Published for Knowledge<'_> {
    fn is_published(&self, image: &str, tag: &str) -> Option<bool> {
        let e = self.0.iter().find_map(|i| i.get(image))?;
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

/// What one listing left to store: the tags, or the error message.
type Write = (String, Result<Option<Vec<String>>, String>);

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
/// wanted (pinned versions). `client` is `None` when offline. A store that
/// fails is an error of the whole run, never an empty cache.
pub async fn build(
    catalog: &Catalog,
    client: Option<&RegistryClient>,
    store: &crate::store::Shared,
    want_digests: &BTreeSet<(String, String)>,
    opts: &IndexOptions,
) -> Result<IndexReport, StoreError> {
    let started = std::time::Instant::now();
    let registry = catalog.config.registry();
    let t_now = now();
    let targets = targets(catalog);
    let cached_all = {
        let (registry, repos) = (registry.clone(), targets.iter().map(|t| t.repo.clone()).collect::<Vec<_>>());
        store
            .call(move |s: &dyn Store| repos.iter().map(|r| s.load_tags(&registry, r)).collect::<Result<Vec<_>, _>>())
            .await?
    };
    let mut entries: Vec<Entry> = Vec::with_capacity(targets.len());
    let mut to_fetch: Vec<usize> = Vec::new();
    for (i, (t, cached)) in targets.iter().zip(cached_all).enumerate() {
        let mut e = Entry {
            image: t.image.clone(),
            repo: t.repo.clone(),
            base: t.base,
            latest: t.latest.clone(),
            published: None,
            tags: vec![],
            state: State::Error,
            fetched_at: None,
            error: None,
            digests: BTreeMap::new(),
        };
        let mut age = None;
        if let Some(c) = cached.as_ref().filter(|c| c.fetched_at > 0) {
            e.fetched_at = Some(c.fetched_at);
            age = Some(t_now - c.fetched_at);
            match &c.tags {
                Some(tags) => {
                    e.tags = tags.clone();
                    e.state = State::Cached;
                }
                None => e.state = State::Missing,
            }
        }
        let fresh_enough = age.is_some_and(|a| a >= 0 && (a as u64) < opts.max_age.as_secs());
        if client.is_none() || opts.offline {
            if e.fetched_at.is_some() && !fresh_enough && e.state != State::Missing {
                e.state = State::Stale;
            }
            if e.fetched_at.is_none() {
                e.error = Some(
                    cached.and_then(|c| c.last_error).unwrap_or_else(|| "not fetched yet, and nothing stored".into()),
                );
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
        let mut writes: Vec<Write> = Vec::new();
        for (i, result) in results {
            let e = &mut entries[i];
            match result {
                Ok(tags) => {
                    writes.push((e.repo.clone(), Ok(tags.clone())));
                    e.state = if tags.is_some() { State::Fresh } else { State::Missing };
                    e.tags = tags.unwrap_or_default();
                    e.fetched_at = Some(at);
                    e.error = None;
                }
                Err(err) => {
                    let msg = err.to_string();
                    writes.push((e.repo.clone(), Err(msg.clone())));
                    e.state = match e.state {
                        State::Cached => State::Stale,
                        State::Missing => State::Missing,
                        _ => State::Error,
                    };
                    e.error = Some(msg);
                }
            }
        }
        let registry = registry.clone();
        store
            .call(move |s: &dyn Store| {
                for (repo, w) in &writes {
                    match w {
                        Ok(tags) => s.save_tags(&registry, repo, tags.as_deref(), at)?,
                        Err(msg) => s.save_error(&registry, repo, msg, at)?,
                    }
                }
                Ok(())
            })
            .await?;
    }

    // Digests: stored ones younger than `max_age` are reused (so are older
    // ones offline, or when asking again fails); the registry is asked for
    // the others, when it lists the tag. A tag can move (`latest`, a
    // re-push), and `hosts` must see it as outdated.
    let lookups: Vec<(usize, String, String)> = want_digests
        .iter()
        .filter_map(|(image, tag)| {
            let i = entries.iter().position(|e| &e.image == image && !e.base)?;
            Some((i, entries[i].repo.clone(), tag.clone()))
        })
        .collect();
    let stored = {
        let (registry, lookups) = (registry.clone(), lookups.clone());
        store
            .call(move |s: &dyn Store| {
                lookups.iter().map(|(_, repo, tag)| s.load_digest(&registry, repo, tag)).collect::<Result<Vec<_>, _>>()
            })
            .await?
    };
    let mut wanted: Vec<(usize, String)> = Vec::new();
    let at = now();
    for ((i, _, tag), found) in lookups.into_iter().zip(stored) {
        let listed = entries[i].tags.contains(&tag);
        match found {
            Some((d, fetched)) => {
                let young = at - fetched >= 0 && ((at - fetched) as u64) < opts.max_age.as_secs();
                if !young && listed {
                    wanted.push((i, tag.clone()));
                }
                entries[i].digests.insert(tag, d);
            }
            None if listed => wanted.push((i, tag)),
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
        let mut saves = Vec::new();
        for (i, tag, r) in digests {
            if let Ok(Some(d)) = r {
                saves.push((entries[i].repo.clone(), tag.clone(), d.clone()));
                entries[i].digests.insert(tag, d);
            }
        }
        let registry = registry.clone();
        store
            .call(move |s: &dyn Store| {
                let at = now();
                saves.iter().try_for_each(|(repo, tag, d)| s.save_digest(&registry, repo, tag, d, at))
            })
            .await?;
    }

    for e in &mut entries {
        e.published = match (&e.latest, e.state) {
            (Some(v), State::Fresh | State::Cached | State::Stale) => Some(e.tags.contains(v)),
            (Some(_), State::Missing) => Some(false),
            _ => None,
        };
    }
    Ok(IndexReport {
        index: RegistryIndex { registry, entries },
        requests: client.map_or(0, RegistryClient::requests),
        elapsed_ms: started.elapsed().as_millis(),
    })
}
