//! What an image was built from, as labels on the image, and whether a tag
//! that exists was built from the inputs the files give now.
//!
//! Every image dockyard builds carries:
//! - [`DOCKERFILE`]: the sha256 of the rendered Dockerfile;
//! - [`CONTEXT`]: the sha256 of the build context (a tar with fixed times,
//!   Dockerfile included), so a changed `COPY`'d file shows too;
//! - [`PARENTS`]: each catalog parent as `registry/namespace/name:tag@sha256:…`
//!   (the engine's image id of the parent it was built on);
//! - [`REVISION`] (`org.opencontainers.image.revision`): the source commit,
//!   with [`DIRTY`] when the work tree differed from it;
//! - [`VERSION`]: the dockyard version that built it.
//!
//! An image without [`CONTEXT`] (built by docker-pkg, or by hand) is not
//! judged: nothing says what it was built from.
//!
//! Pure: digests and labels come in as values.

use std::collections::BTreeMap;

pub const DOCKERFILE: &str = "org.wikimedia.dockyard.dockerfile.sha256";
pub const CONTEXT: &str = "org.wikimedia.dockyard.context.sha256";
pub const PARENTS: &str = "org.wikimedia.dockyard.parents";
pub const VERSION: &str = "org.wikimedia.dockyard.version";
pub const DIRTY: &str = "org.wikimedia.dockyard.source.dirty";
pub const REVISION: &str = "org.opencontainers.image.revision";

/// The inputs of one build.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Inputs {
    /// `sha256:…` of the rendered Dockerfile.
    pub dockerfile: String,
    /// `sha256:…` of the build context.
    pub context: String,
    /// Parent label → the engine's image id it was built on.
    pub parents: BTreeMap<String, String>,
}

/// The labels an image built from `inputs` gets.
pub fn labels(inputs: &Inputs, revision: Option<(&str, bool)>, version: &str) -> BTreeMap<String, String> {
    let mut l = BTreeMap::new();
    l.insert(DOCKERFILE.to_owned(), inputs.dockerfile.clone());
    l.insert(CONTEXT.to_owned(), inputs.context.clone());
    l.insert(
        PARENTS.to_owned(),
        inputs.parents.iter().map(|(label, id)| format!("{label}@{id}")).collect::<Vec<_>>().join(" "),
    );
    l.insert(VERSION.to_owned(), version.to_owned());
    if let Some((commit, dirty)) = revision {
        l.insert(REVISION.to_owned(), commit.to_owned());
        l.insert(DIRTY.to_owned(), dirty.to_string());
    }
    l
}

/// The parents a label names: label → image id.
pub fn parents_of(labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    labels
        .get(PARENTS)
        .map(|v| {
            v.split_whitespace()
                .filter_map(|p| p.rsplit_once('@'))
                .map(|(label, id)| (label.to_owned(), id.to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// Why an existing tag (its `labels`) was built from other inputs than the
/// files give now, or `None` when it was built from them, or when its
/// labels do not say.
///
/// `dockerfile` and `context` are the digests now (`context` may be `None`
/// when the context could not be made; then only the Dockerfile is
/// compared). `parents` are the parents' labels with the engine's image id
/// of each now (`None` when the engine lacks it, which compares as unknown).
pub fn differs(
    labels: &BTreeMap<String, String>,
    dockerfile: &str,
    context: Option<&str>,
    parents: &BTreeMap<String, Option<String>>,
) -> Option<String> {
    let built_context = labels.get(CONTEXT)?;
    if labels.get(DOCKERFILE).is_some_and(|d| d != dockerfile) {
        return Some(format!("built from another Dockerfile ({})", short(labels.get(DOCKERFILE)?)));
    }
    if let Some(c) = context
        && c != built_context
    {
        return Some(format!("built from another context ({}): a file it copies changed", short(built_context)));
    }
    let built_on = parents_of(labels);
    for (label, now) in parents {
        match (built_on.get(label), now) {
            (Some(then), Some(now)) if then != now => {
                return Some(format!("built on another {label} ({}, now {})", short(then), short(now)));
            }
            _ => {}
        }
    }
    None
}

/// `sha256:0123456789ab` from a digest.
pub fn short(digest: &str) -> &str {
    let end = digest.find(':').map_or(12, |i| i + 13).min(digest.len());
    &digest[..digest.floor_char_boundary(end)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built() -> BTreeMap<String, String> {
        let inputs = Inputs {
            dockerfile: "sha256:aaaa".into(),
            context: "sha256:cccc".into(),
            parents: BTreeMap::from([("r/ns/base:1".to_owned(), "sha256:1111".to_owned())]),
        };
        labels(&inputs, Some(("abc", false)), "0.1.0")
    }

    #[test]
    fn same_inputs_are_not_stale() {
        let parents = BTreeMap::from([("r/ns/base:1".to_owned(), Some("sha256:1111".to_owned()))]);
        assert_eq!(differs(&built(), "sha256:aaaa", Some("sha256:cccc"), &parents), None);
    }

    #[test]
    fn each_input_is_named_when_it_differs() {
        let same = BTreeMap::from([("r/ns/base:1".to_owned(), Some("sha256:1111".to_owned()))]);
        assert!(differs(&built(), "sha256:bbbb", Some("sha256:cccc"), &same).unwrap().contains("Dockerfile"));
        assert!(differs(&built(), "sha256:aaaa", Some("sha256:dddd"), &same).unwrap().contains("context"));
        let rebuilt = BTreeMap::from([("r/ns/base:1".to_owned(), Some("sha256:2222".to_owned()))]);
        assert!(differs(&built(), "sha256:aaaa", Some("sha256:cccc"), &rebuilt).unwrap().contains("r/ns/base:1"));
        // A parent the engine lacks is unknown, not a difference.
        let unknown = BTreeMap::from([("r/ns/base:1".to_owned(), None)]);
        assert_eq!(differs(&built(), "sha256:aaaa", Some("sha256:cccc"), &unknown), None);
    }

    #[test]
    fn an_image_without_labels_is_not_judged() {
        assert_eq!(differs(&BTreeMap::new(), "sha256:x", Some("sha256:y"), &BTreeMap::new()), None);
    }
}
