//! The catalog's lifecycle, decided from facts alone: which images to
//! retire, which registry tags can be deleted safely, and what pulling the
//! pins costs.
//!
//! Pure: the registry's tags, digests and manifests, the pins and the
//! catalog come in as values.

use crate::version;
use dockyard_api::{
    CleanupDelete, CleanupKeep, CleanupPlan, HostSize, KeepReason, ManifestFacts, PinnedSize, SizeReport,
};
use std::collections::{BTreeMap, BTreeSet};

/// One repository of the registry, as `cleanup` sees it.
#[derive(Debug, Clone, Default)]
pub struct RepoTags {
    /// The short image name.
    pub image: String,
    /// The catalog's current version (none for an image no longer in the catalog).
    pub current: Option<String>,
    /// Every tag, with its manifest's facts (`None`: could not be read).
    pub tags: BTreeMap<String, Option<ManifestFacts>>,
}

/// The rules a cleanup keeps by.
#[derive(Debug, Clone, Copy)]
pub struct KeepRules {
    pub keep_last: usize,
    pub min_age_days: u64,
    /// Now, in seconds since the epoch.
    pub now: i64,
}

/// Seconds since the epoch of an RFC 3339 time (`2024-01-31T12:00:00.123Z`,
/// offsets allowed), or `None`.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, se) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let days = crate::changelog::days_from_civil(y, mo, d);
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        rest = &frac[n..];
    }
    let offset = match rest {
        "Z" | "z" | "" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (o.get(1..3)?.parse::<i64>().ok()? * 3600 + o.get(4..6)?.parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    Some(days * 86_400 + h * 3600 + mi * 60 + se - offset)
}

/// What can be deleted from `repos` and what is kept, and why.
///
/// A tag is kept when it is its image's current version, pinned anywhere
/// (`pinned`: image → versions), among the `keep_last` highest versions of
/// its image, younger than `min_age_days` (by its config's `created`; no
/// date counts as young), `latest`, or when its manifest is unknown. Then a
/// tag whose digest a kept tag also names is kept too: the registry deletes
/// by digest, and would take the kept tag with it. `reclaimable_bytes`
/// counts the blobs (layers and configs) that only deleted manifests
/// reference, each once; `other_blobs` are blobs of manifests outside
/// `repos` that stay.
pub fn cleanup(
    repos: &[RepoTags],
    pinned: &BTreeMap<String, BTreeSet<String>>,
    rules: KeepRules,
    other_blobs: &BTreeSet<String>,
) -> CleanupPlan {
    let mut keep: Vec<CleanupKeep> = Vec::new();
    let mut candidates: Vec<(&RepoTags, &str, &ManifestFacts)> = Vec::new();
    let min_age = rules.min_age_days as i64 * 86_400;
    for repo in repos {
        let mut versions: Vec<&str> = repo.tags.keys().map(String::as_str).filter(|t| *t != "latest").collect();
        versions.sort_by(|a, b| version::compare(b, a).then_with(|| b.cmp(a)));
        let recent: BTreeSet<&str> = versions.iter().take(rules.keep_last).copied().collect();
        for (tag, facts) in &repo.tags {
            let young = facts.as_ref().is_some_and(|f| {
                f.created.as_deref().and_then(parse_rfc3339).is_none_or(|at| rules.now - at < min_age)
            });
            let reason = if repo.current.as_deref() == Some(tag) {
                Some(KeepReason::Current)
            } else if pinned.get(&repo.image).is_some_and(|v| v.contains(tag)) {
                Some(KeepReason::Pinned)
            } else if tag == "latest" {
                Some(KeepReason::Latest)
            } else if facts.is_none() {
                Some(KeepReason::Unknown)
            } else if recent.contains(tag.as_str()) {
                Some(KeepReason::Recent)
            } else if young {
                Some(KeepReason::Young)
            } else {
                None
            };
            match (reason, facts) {
                (Some(reason), _) => keep.push(CleanupKeep { image: repo.image.clone(), tag: tag.clone(), reason }),
                (None, Some(f)) => candidates.push((repo, tag, f)),
                (None, None) => {}
            }
        }
    }
    // Digests a kept tag names, per repository (a digest is deleted from
    // one repository at a time).
    let kept_digests: BTreeSet<(&str, &str)> = keep
        .iter()
        .filter_map(|k| {
            let repo = repos.iter().find(|r| r.image == k.image)?;
            Some((repo.image.as_str(), repo.tags.get(&k.tag)?.as_ref()?.digest.as_str()))
        })
        .collect();
    let mut delete = Vec::new();
    let mut deleted_manifests: BTreeMap<(&str, &str), &ManifestFacts> = BTreeMap::new();
    for (repo, tag, facts) in candidates {
        if kept_digests.contains(&(repo.image.as_str(), facts.digest.as_str())) {
            keep.push(CleanupKeep { image: repo.image.clone(), tag: tag.to_owned(), reason: KeepReason::SharesDigest });
            continue;
        }
        let why = match &repo.current {
            None => format!("{} is no longer in the catalog; not pinned", repo.image),
            Some(_) => format!(
                "not current, not pinned, not among the {} newest, older than {} days",
                rules.keep_last, rules.min_age_days
            ),
        };
        delete.push(CleanupDelete {
            image: repo.image.clone(),
            tag: tag.to_owned(),
            digest: facts.digest.clone(),
            reason: why,
        });
        deleted_manifests.insert((repo.image.as_str(), facts.digest.as_str()), facts);
    }
    // Blobs that stay: every kept tag's, and every manifest's outside.
    let mut staying: BTreeSet<&str> = other_blobs.iter().map(String::as_str).collect();
    for repo in repos {
        for facts in repo.tags.values().flatten() {
            if !deleted_manifests.contains_key(&(repo.image.as_str(), facts.digest.as_str())) {
                staying.extend(blobs(facts).map(|(d, _)| d));
            }
        }
    }
    let mut freed: BTreeMap<&str, u64> = BTreeMap::new();
    for facts in deleted_manifests.values() {
        for (d, size) in blobs(facts) {
            if !staying.contains(d) {
                freed.insert(d, size);
            }
        }
    }
    keep.sort_by(|a, b| (&a.image, &a.tag).cmp(&(&b.image, &b.tag)));
    delete.sort_by(|a, b| (&a.image, &a.tag).cmp(&(&b.image, &b.tag)));
    CleanupPlan {
        delete,
        keep,
        reclaimable_bytes: freed.values().sum(),
        retire: Vec::new(),
        keep_last: rules.keep_last,
        min_age_days: rules.min_age_days,
        errors: Vec::new(),
    }
}

/// A manifest's blobs: its config and its layers.
fn blobs(f: &ManifestFacts) -> impl Iterator<Item = (&str, u64)> {
    std::iter::once((f.config.digest.as_str(), f.config.size))
        .chain(f.layers.iter().map(|l| (l.digest.as_str(), l.size)))
}

/// One catalog image, as retirement sees it.
#[derive(Debug, Clone)]
pub struct CatalogImage {
    pub name: String,
    pub version: Option<String>,
    /// Its changelog, as shown to users.
    pub changelog: String,
}

/// Images that no pin names (at any version) and no catalog image builds
/// on: candidates for retirement, a note for people (never a finding).
/// `parents` is the graph's child → parents. The caller adds each
/// candidate's `last_changed` (it reads only their changelogs).
pub fn retire_candidates(
    images: &[CatalogImage],
    parents: &BTreeMap<String, BTreeMap<String, crate::graph::Source>>,
    pinned: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<dockyard_api::RetireCandidate> {
    let has_children: BTreeSet<&str> = parents.values().flat_map(|p| p.keys().map(String::as_str)).collect();
    let mut out: Vec<dockyard_api::RetireCandidate> = images
        .iter()
        .filter(|i| !pinned.contains_key(&i.name) && !has_children.contains(i.name.as_str()))
        .map(|i| dockyard_api::RetireCandidate {
            image: i.name.clone(),
            version: i.version.clone(),
            changelog: i.changelog.clone(),
            last_changed: None,
        })
        .collect();
    out.sort_by(|a, b| a.image.cmp(&b.image));
    out
}

/// One pinned tag with its manifest (when it could be read).
#[derive(Debug, Clone)]
pub struct PinnedTag {
    pub label: String,
    pub image: String,
    pub tag: String,
    pub facts: Result<ManifestFacts, String>,
}

/// What pulling every pin costs: each pinned image's compressed bytes and
/// the part it shares with other pinned images, and what a fresh agent
/// downloads (each blob once). `hosts` are (host, labels it has, or why it
/// could not be asked).
pub fn sizes(pinned: &[PinnedTag], hosts: &[(String, Result<BTreeSet<String>, String>)], platform: &str) -> SizeReport {
    // Which pinned images each blob is in.
    let mut users: BTreeMap<&str, (u64, BTreeSet<&str>)> = BTreeMap::new();
    for p in pinned {
        if let Ok(f) = &p.facts {
            for (d, size) in blobs(f) {
                users.entry(d).or_insert((size, BTreeSet::new())).1.insert(p.label.as_str());
            }
        }
    }
    let mut images = Vec::new();
    let mut errors = Vec::new();
    for p in pinned {
        let (digest, compressed, shared, error) = match &p.facts {
            Ok(f) => {
                let unique: BTreeMap<&str, u64> = blobs(f).collect();
                let shared =
                    unique.iter().filter(|(d, _)| users.get(*d).is_some_and(|u| u.1.len() > 1)).map(|(_, s)| s).sum();
                (Some(f.digest.clone()), unique.values().sum(), shared, None)
            }
            Err(e) => {
                errors.push(format!("{}: {e}", p.label));
                (None, 0, 0, Some(e.clone()))
            }
        };
        images.push(PinnedSize {
            label: p.label.clone(),
            image: p.image.clone(),
            tag: p.tag.clone(),
            digest,
            compressed_bytes: compressed,
            shared_bytes: shared,
            error,
        });
    }
    let fresh_agent_bytes = users.values().map(|(s, _)| s).sum();
    let hosts = hosts
        .iter()
        .map(|(host, has)| match has {
            Ok(has) => {
                // Blobs of the images it has are there; the rest is to download.
                let present: BTreeSet<&str> = users
                    .iter()
                    .filter(|(_, (_, labels))| labels.iter().any(|l| has.contains(*l)))
                    .map(|(d, _)| *d)
                    .collect();
                let missing = users.iter().filter(|(d, _)| !present.contains(*d)).map(|(_, (s, _))| s).sum();
                HostSize { host: host.clone(), missing_bytes: Some(missing), error: None }
            }
            Err(e) => HostSize { host: host.clone(), missing_bytes: None, error: Some(e.clone()) },
        })
        .collect();
    SizeReport { platform: platform.to_owned(), images, fresh_agent_bytes, hosts, errors }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dockyard_api::Blob;

    fn facts(digest: &str, layers: &[(&str, u64)], created: &str) -> Option<ManifestFacts> {
        Some(ManifestFacts {
            digest: digest.into(),
            config: Blob { digest: format!("{digest}-config"), size: 10 },
            layers: layers.iter().map(|(d, s)| Blob { digest: (*d).into(), size: *s }).collect(),
            created: Some(created.into()),
            ..Default::default()
        })
    }

    const OLD: &str = "2020-01-01T00:00:00Z";

    #[test]
    fn rfc3339_times() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2024-02-29T12:00:00.123456789Z"), Some(1_709_208_000));
        assert_eq!(parse_rfc3339("2024-02-29T14:00:00+02:00"), Some(1_709_208_000));
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn keeps_current_pinned_recent_young_and_shared_digests_and_counts_only_freed_blobs() {
        let now = parse_rfc3339("2024-06-01T00:00:00Z").unwrap();
        let repo = RepoTags {
            image: "php".into(),
            current: Some("5".into()),
            tags: [
                ("1", facts("m1", &[("base", 100), ("one", 7)], OLD)),
                ("2", facts("m2", &[("base", 100), ("two", 9)], OLD)),
                // Same manifest as the pinned 3: deleting it would take 3.
                ("2b", facts("m3", &[("base", 100), ("three", 11)], OLD)),
                ("3", facts("m3", &[("base", 100), ("three", 11)], OLD)),
                ("4", facts("m4", &[("base", 100)], OLD)),
                ("5", facts("m5", &[("base", 100)], "2024-05-30T00:00:00Z")),
                ("0.9", facts("m0", &[("old", 5)], "2024-05-20T00:00:00Z")),
                ("latest", facts("m5", &[("base", 100)], OLD)),
            ]
            .into_iter()
            .map(|(t, f)| (t.to_owned(), f))
            .collect(),
        };
        let gone = RepoTags {
            image: "gone".into(),
            current: None,
            tags: [
                ("1".to_owned(), facts("g1", &[("base", 100), ("g", 3)], OLD)),
                ("2".to_owned(), None),
                ("3".to_owned(), facts("g3", &[("base", 100)], OLD)),
            ]
            .into(),
        };
        let pinned = BTreeMap::from([("php".to_owned(), BTreeSet::from(["3".to_owned()]))]);
        let rules = KeepRules { keep_last: 2, min_age_days: 30, now };
        let plan = cleanup(&[repo, gone], &pinned, rules, &BTreeSet::new());
        let deleted: Vec<(&str, &str)> = plan.delete.iter().map(|d| (d.image.as_str(), d.tag.as_str())).collect();
        assert_eq!(deleted, [("gone", "1"), ("php", "1"), ("php", "2")]);
        let why =
            |image: &str, tag: &str| plan.keep.iter().find(|k| k.image == image && k.tag == tag).map(|k| k.reason);
        assert_eq!(why("php", "5"), Some(KeepReason::Current));
        assert_eq!(why("php", "3"), Some(KeepReason::Pinned));
        assert_eq!(why("php", "4"), Some(KeepReason::Recent));
        assert_eq!(why("php", "0.9"), Some(KeepReason::Young));
        assert_eq!(why("php", "2b"), Some(KeepReason::SharesDigest));
        assert_eq!(why("php", "latest"), Some(KeepReason::Latest));
        assert_eq!(why("gone", "2"), Some(KeepReason::Unknown));
        assert_eq!(why("gone", "3"), Some(KeepReason::Recent));
        // Freed: one(7), two(9), g(3) and three configs (10 each); base stays.
        assert_eq!(plan.reclaimable_bytes, 7 + 9 + 3 + 30);
    }

    #[test]
    fn sizes_count_each_blob_once_and_what_a_host_lacks() {
        let tag = |label: &str, f: Option<ManifestFacts>| PinnedTag {
            label: label.into(),
            image: label.into(),
            tag: "1".into(),
            facts: f.ok_or_else(|| "unreachable".to_owned()),
        };
        let pinned = [
            tag("a", facts("ma", &[("base", 100), ("a", 5)], OLD)),
            tag("b", facts("mb", &[("base", 100), ("b", 7)], OLD)),
            tag("c", None),
        ];
        let hosts = vec![
            ("fresh".to_owned(), Ok(BTreeSet::new())),
            ("half".to_owned(), Ok(BTreeSet::from(["a".to_owned()]))),
            ("down".to_owned(), Err("no answer".to_owned())),
        ];
        let r = sizes(&pinned, &hosts, "linux/amd64");
        assert_eq!(r.fresh_agent_bytes, 100 + 5 + 7 + 20);
        assert_eq!((r.images[0].compressed_bytes, r.images[0].shared_bytes), (115, 100));
        assert_eq!(r.images[2].error.as_deref(), Some("unreachable"));
        assert_eq!(r.hosts[0].missing_bytes, Some(132));
        assert_eq!(r.hosts[1].missing_bytes, Some(7 + 10));
        assert_eq!(r.hosts[2].missing_bytes, None);
    }
}
