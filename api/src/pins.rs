//! The pin lint: `dockyard lint --format json` and `GET /api/v1/pins`.

use crate::Problem;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A pin's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The version of the image's first changelog entry.
    Ok,
    /// Another version from the image's changelog.
    Stale,
    /// No image of that name in the catalog.
    NotInCatalog,
    /// No tag, or `latest`.
    Untagged,
    /// A tag the image's changelog never had (a typo).
    UnknownVersion,
    /// The tag is not in the registry (needs a registry index).
    Unpublished,
    /// A JJB placeholder with no value in scope.
    Unresolved,
}

impl Status {
    /// Every status, in declaration order.
    pub const ALL: [Status; 7] = [
        Status::Ok,
        Status::Stale,
        Status::NotInCatalog,
        Status::Untagged,
        Status::UnknownVersion,
        Status::Unpublished,
        Status::Unresolved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Stale => "stale",
            Status::NotInCatalog => "not-in-catalog",
            Status::Untagged => "untagged",
            Status::UnknownVersion => "unknown-version",
            Status::Unpublished => "unpublished",
            Status::Unresolved => "unresolved",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// How bad a finding is, 0 for `ok`: what "worst first" sorts by.
    /// A pin to nothing that exists is worse than an old but real one.
    pub fn severity(self) -> u8 {
        match self {
            Status::NotInCatalog => 6,
            Status::UnknownVersion => 5,
            Status::Unpublished => 4,
            Status::Stale => 3,
            Status::Unresolved => 2,
            Status::Untagged => 1,
            Status::Ok => 0,
        }
    }

    /// The statuses that fail the lint unless told otherwise.
    pub fn default_fail_on() -> Vec<Status> {
        vec![Status::Stale, Status::NotInCatalog, Status::UnknownVersion]
    }

    /// A short human label, and a symbol that does not rely on colour.
    pub fn symbol(self) -> &'static str {
        match self {
            Status::Ok => "✓",
            Status::Stale => "◷",
            Status::NotInCatalog => "✗",
            Status::Untagged => "?",
            Status::UnknownVersion => "✗",
            Status::Unpublished => "△",
            Status::Unresolved => "…",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a pin's tag sorts against the latest version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    Older,
    Newer,
    /// Equal in Debian order but written differently (`1.0` vs `1.00`).
    Same,
}

impl Order {
    pub fn as_str(self) -> &'static str {
        match self {
            Order::Older => "older",
            Order::Newer => "newer",
            Order::Same => "same",
        }
    }
}

/// How far a stale pin is behind the latest version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Behind {
    /// Changelog entries between the pinned version and the latest.
    pub versions: usize,
    /// Whole days since the entry that superseded the pinned version was
    /// written (its changelog date), when that date can be read.
    pub days: Option<i64>,
}

/// One pin, resolved and checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pin {
    /// The file, relative to the repository.
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// The short image name (placeholders resolved; as written if unresolved).
    pub image: String,
    pub version: Option<String>,
    pub status: Status,
    /// The image's latest version (first changelog entry), when in the catalog.
    pub latest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Order>,
    /// The reference exactly as written.
    pub written: String,
    pub note: Option<String>,
    /// For stale pins: how far behind the latest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behind: Option<Behind>,
    /// The reference as `--fix` would write it, when it can be fixed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Whether the pinned tag is in the registry (only with a registry index).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<bool>,
    /// The JJB job the pin is written in (YAML files only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<JobRef>,
    /// What to do about a finding that has no `fix`, in one line, with the
    /// nearest catalog image or version when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
}

/// The kinds of JJB items a pin can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobKind {
    Job,
    JobTemplate,
    Project,
    JobGroup,
    /// Macros: whichever jobs use them.
    Builder,
    Publisher,
    Wrapper,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Job => "job",
            JobKind::JobTemplate => "job-template",
            JobKind::Project => "project",
            JobKind::JobGroup => "job-group",
            JobKind::Builder => "builder",
            JobKind::Publisher => "publisher",
            JobKind::Wrapper => "wrapper",
        }
    }
}

/// `GET /api/v1/file/view?path=P`: a repository file for the file viewer:
/// each line as HTML (every character escaped; YAML highlighted on the
/// server, so the browser needs no highlighter), and the JJB items with
/// the lines they span.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct FileView {
    pub path: String,
    pub lines: Vec<String>,
    pub items: Vec<FileItem>,
}

/// A JJB item of a file and its lines (1-based, inclusive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileItem {
    pub first: usize,
    pub last: usize,
    pub job: JobRef,
    /// A project's or group's `jobs:` entries, by the line each starts on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<(usize, String)>,
}

/// The JJB item around a pin.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct JobRef {
    pub kind: JobKind,
    /// The item's `name` (a template's, with its placeholders).
    pub name: String,
    /// In a project or group: the entry of its `jobs:` list the pin is
    /// under (none: the pin is a parameter of all of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// The projects that make it a job (a project: itself).
    pub projects: Vec<String>,
}

impl Pin {
    /// A key unique within one report, even when a `{placeholder}` expands
    /// one written pin into several images or tags.
    pub fn key(&self) -> String {
        format!("{}:{}:{}:{}:{}", self.file, self.line, self.column, self.image, self.version.as_deref().unwrap_or(""))
    }

    /// `image:version`, or the image alone when untagged.
    pub fn image_tag(&self) -> String {
        match &self.version {
            Some(v) => format!("{}:{v}", self.image),
            None => self.image.clone(),
        }
    }
}

/// All pins of one image and tag, for the summary and the grouped view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PinGroup {
    pub image: String,
    pub version: Option<String>,
    pub status: Status,
    pub latest: Option<String>,
    /// References, and distinct files they are in.
    pub pins: usize,
    pub files: usize,
}

/// Counts and findings that are not about one pin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PinsSummary {
    pub files_scanned: usize,
    pub references: usize,
    pub distinct_pairs: usize,
    pub distinct_images: usize,
    /// Pins per status; every status is listed.
    pub by_status: BTreeMap<Status, usize>,
    /// Catalog images pinned nowhere and parent of nothing.
    pub dead_images: Vec<String>,
    /// Whether a registry index took part (`unpublished` can only be found then).
    pub registry_checked: bool,
    /// One entry per image and tag with a finding, worst first.
    pub groups: Vec<PinGroup>,
}

/// The whole lint result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PinsReport {
    pub pins: Vec<Pin>,
    pub summary: PinsSummary,
    /// Files that could not be linted (too large, unreadable, over a limit):
    /// the rest of the files are still linted.
    pub errors: Vec<Problem>,
    /// Include targets that do not exist, YAML that cannot be read for
    /// placeholders: warnings, not pin findings.
    pub warnings: Vec<Problem>,
    /// For each image with stale pins: its changelog entries newer than
    /// the oldest pinned version, newest first (at most
    /// [`PinsReport::CHANGES_MAX`], each cut to 300 characters).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub changes: BTreeMap<String, Vec<crate::ChangelogEntry>>,
}

impl PinsReport {
    /// Changelog entries kept per image.
    pub const CHANGES_MAX: usize = 20;

    /// Pins whose status is in `fail_on`.
    pub fn failures<'a>(&'a self, fail_on: &'a [Status]) -> impl Iterator<Item = &'a Pin> + 'a {
        self.pins.iter().filter(|p| fail_on.contains(&p.status))
    }

    /// Pins with a status other than `ok`.
    pub fn findings(&self) -> impl Iterator<Item = &Pin> {
        self.pins.iter().filter(|p| p.status != Status::Ok)
    }
}

/// What `lint --fix` did: every pin file rewritten (all or none), the pins
/// it left (a version not known to be published), and what remains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct FixReport {
    pub fixed: Vec<crate::BumpedPins>,
    pub skipped: Vec<String>,
    /// Findings left after the fix (by `fail_on`), with the files' errors.
    pub remaining: usize,
    /// The fixed files do not load (it should never happen).
    pub reload_error: Option<String>,
}
