//! What a catalog change will do: `dockyard impact --format json` and
//! `GET /api/v1/impact?base=REV&head=REV`.

use serde::{Deserialize, Serialize};

/// How a change touches one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// What goes into the image changed but its version did not: merged as
    /// is, it is never built.
    Unbumped,
    /// It did not change, but an ancestor is bumped: it keeps the old parent
    /// until it is bumped too.
    StaleParent,
    /// Its version changed.
    Bumped,
    Added,
    Removed,
    /// Only files of its folder changed that no `COPY`/`ADD` takes.
    OutsideImage,
    Unchanged,
    /// Its files do not load at the head (a broken changelog, control or
    /// template): it can be neither built nor compared. `files` names the
    /// error (file and line).
    Broken,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Unbumped => "unbumped",
            Change::StaleParent => "stale-parent",
            Change::Bumped => "bumped",
            Change::Added => "added",
            Change::Removed => "removed",
            Change::OutsideImage => "outside-image",
            Change::Unchanged => "unchanged",
            Change::Broken => "broken",
        }
    }

    /// Worst first: what needs action before merge comes first.
    pub fn rank(self) -> u8 {
        match self {
            Change::Broken => 0,
            Change::Unbumped => 0,
            Change::Removed => 1,
            Change::StaleParent => 2,
            Change::Bumped => 3,
            Change::Added => 4,
            Change::OutsideImage => 5,
            Change::Unchanged => 6,
        }
    }
}

/// One image's classification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImpactImage {
    pub name: String,
    pub change: Change,
    pub base_version: Option<String>,
    pub head_version: Option<String>,
    /// The files behind the classification, relative to the repository
    /// (`Dockerfile` stands for the rendered Dockerfile).
    pub files: Vec<String>,
    /// For `stale-parent`: the bumped ancestors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bumped_ancestors: Vec<String>,
    /// Parents this change gives the image that are neither published
    /// (by the registry index) nor built by the change: its build would
    /// fail on them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unbuilt_parents: Vec<String>,
    /// Its new version is already in the registry, built from other inputs
    /// than this change gives it (by the published image's labels): two
    /// changes gave one version to different contents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_differs: Option<String>,
}

/// How a pin fares in the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PinImpact {
    /// The pin was changed to a version this same change introduces: it
    /// fails until the image is built after the merge.
    UnpublishedUntilMerge,
    /// The pin names an image this change removes.
    RemovedImage,
}

/// One pin the change affects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImpactPin {
    pub file: String,
    pub line: usize,
    pub image: String,
    pub version: Option<String>,
    pub impact: PinImpact,
    /// With a registry index: whether the version is published already.
    pub published: Option<bool>,
    /// True for pins that fail the gate.
    pub error: bool,
}

/// `dockyard impact --format json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ImpactReport {
    pub base: String,
    pub head: String,
    /// Every image of either revision except the unchanged ones, worst first.
    pub images: Vec<ImpactImage>,
    pub pins: Vec<ImpactPin>,
    /// The `dockyard update …` commands that would bump what is missing.
    pub update_commands: Vec<String>,
    /// Files that could not be read or rendered at either revision.
    pub problems: Vec<crate::Problem>,
    /// Changed files under a catalog root that belong to no image: a change
    /// there builds nothing.
    #[serde(default)]
    pub unowned: Vec<String>,
}

impl ImpactReport {
    /// Images left on an old parent.
    pub fn stale_parents(&self) -> bool {
        self.images.iter().any(|i| i.change == Change::StaleParent)
    }

    /// True when the gate should fail: an unbumped or broken image, or a pin
    /// error (stale parents are the caller's choice: `--allow-stale-parents`).
    pub fn fails(&self) -> bool {
        self.images.iter().any(|i| {
            matches!(i.change, Change::Unbumped | Change::Broken)
                || !i.unbuilt_parents.is_empty()
                || i.published_differs.is_some()
        }) || self.pins.iter().any(|p| p.error)
    }
}
