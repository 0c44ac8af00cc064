//! Pin statuses and the lint report: each written pin checked against the
//! catalog (and, when one is available, the registry index), a summary, and
//! the byte-exact rewrite that `--fix` applies.

use crate::catalog::Catalog;
use crate::diag::Diagnostic;
use crate::jjb::{self, Resolution};
use crate::label::pin_prefix;
use crate::pins::{self, WrittenPin};
use crate::version;
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::path::PathBuf;

/// A pin's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
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

    /// The statuses that fail the lint unless told otherwise.
    pub fn default_fail_on() -> BTreeSet<Status> {
        [Status::Stale, Status::NotInCatalog, Status::UnknownVersion].into()
    }
}

/// Where a pin's tag sorts against the latest version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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

/// One pin, resolved and checked.
#[derive(Debug, Clone, Serialize)]
pub struct Pin {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// The short image name (placeholders resolved; as written if unresolved).
    pub image: String,
    pub version: Option<String>,
    pub status: Status,
    /// The image's latest version (first changelog entry), when in the catalog.
    pub latest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<Order>,
    /// The reference exactly as written.
    pub written: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Byte range of the written tag in the file (for `--fix`).
    #[serde(skip)]
    pub tag_span: Option<Range<usize>>,
    /// The tag text holds a placeholder, so `--fix` must not touch it.
    #[serde(skip)]
    pub tag_is_literal: bool,
    /// The whole source line, for messages.
    #[serde(skip)]
    pub line_text: String,
}

/// The line of `text` that holds byte `at`, without its line ending.
fn line_at(text: &str, at: usize) -> &str {
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    text[start..end].trim_end_matches('\r')
}

/// Counts and findings that are not about one pin.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Summary {
    pub files_scanned: usize,
    pub references: usize,
    pub distinct_pairs: usize,
    pub distinct_images: usize,
    pub by_status: BTreeMap<String, usize>,
    /// Catalog images pinned nowhere and parent of nothing.
    pub dead_images: Vec<String>,
    /// Whether a registry index took part (`unpublished` can only be found then).
    pub registry_checked: bool,
}

/// The whole lint result.
#[derive(Debug, Clone, Serialize)]
pub struct LintReport {
    pub pins: Vec<Pin>,
    pub summary: Summary,
    /// Include targets that do not exist, YAML that cannot be read for
    /// placeholders: warnings, not pin findings.
    #[serde(serialize_with = "diags")]
    pub warnings: Vec<Diagnostic>,
}

fn diags<S: serde::Serializer>(d: &[Diagnostic], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(d.iter().map(ToString::to_string))
}

impl LintReport {
    /// Pins whose status is in `fail_on`.
    pub fn failures<'a>(&'a self, fail_on: &'a BTreeSet<Status>) -> impl Iterator<Item = &'a Pin> + 'a {
        self.pins.iter().filter(|p| fail_on.contains(&p.status))
    }
}

/// What the registry holds, when a registry index is available.
pub trait Published {
    /// `Some(true)` when `image:tag` is in the registry, `Some(false)` when it
    /// is known not to be, `None` when unknown.
    fn is_published(&self, image: &str, tag: &str) -> Option<bool>;
}

/// A text file to scan: its path as shown (relative to the repository) and
/// its contents; `exists` answers whether an include target exists.
pub struct Source {
    pub display: String,
    pub path: PathBuf,
    pub text: String,
}

struct ImageFacts {
    latest: String,
    history: Option<Vec<String>>,
}

/// Lints every source against `catalog`.
pub fn lint(catalog: &Catalog, sources: &[Source], registry: Option<&dyn Published>) -> LintReport {
    let prefix = pin_prefix(&catalog.config.registry(), &catalog.config.namespace());
    let mut facts: HashMap<&str, ImageFacts> = catalog
        .images
        .iter()
        .filter(|i| i.error.is_none())
        .filter_map(|i| Some((i.name.as_str(), ImageFacts { latest: i.version.clone()?, history: None })))
        .collect();
    let mut warnings = Vec::new();
    let mut pins = Vec::new();
    for source in sources {
        let written = pins::scan(&source.text, &prefix);
        let is_yaml = source.display.ends_with(".yaml") || source.display.ends_with(".yml");
        if is_yaml {
            check_includes(source, &mut warnings);
        }
        let mut docs = None;
        for w in written {
            let expansions = if w.has_placeholder() {
                resolve(source, &w, &prefix, is_yaml, &mut docs)
            } else {
                Ok(vec![(w.name.clone(), w.tag.clone())])
            };
            match expansions {
                Err(note) => pins.push(Pin {
                    file: source.display.clone(),
                    line: w.line,
                    column: w.column,
                    image: w.name.clone(),
                    version: w.tag.clone(),
                    status: Status::Unresolved,
                    latest: None,
                    order: None,
                    written: source.text[w.span.clone()].to_owned(),
                    note: Some(note),
                    tag_span: None,
                    tag_is_literal: false,
                    line_text: line_at(&source.text, w.span.start).to_owned(),
                }),
                Ok(list) => {
                    let note = w
                        .has_placeholder()
                        .then(|| format!("resolved from JJB placeholders in `{}`", &source.text[w.span.clone()]));
                    for (image, tag) in list {
                        let mut pin = Pin {
                            file: source.display.clone(),
                            line: w.line,
                            column: w.column,
                            status: Status::Ok,
                            latest: None,
                            order: None,
                            written: source.text[w.span.clone()].to_owned(),
                            note: note.clone(),
                            tag_span: w.tag_span.clone(),
                            tag_is_literal: w.tag.as_deref().is_some_and(|t| !t.contains('{')),
                            line_text: line_at(&source.text, w.span.start).to_owned(),
                            image,
                            version: tag,
                        };
                        classify(&mut pin, catalog, &mut facts, registry);
                        pins.push(pin);
                    }
                }
            }
        }
    }
    let summary = summarize(catalog, sources.len(), &pins, registry.is_some());
    LintReport { pins, summary, warnings }
}

type Expansion = Vec<(String, Option<String>)>;

fn resolve(
    source: &Source,
    w: &WrittenPin,
    prefix: &str,
    is_yaml: bool,
    docs: &mut Option<Result<Vec<crate::yaml::Node>, String>>,
) -> Result<Expansion, String> {
    if !is_yaml {
        return Err("JJB placeholder outside a YAML file".into());
    }
    let docs = docs.get_or_insert_with(|| {
        crate::yaml::load(&source.text).map_err(|e| format!("YAML error at line {}: {}", e.line, e.message))
    });
    let docs = docs.as_ref().map_err(|e| format!("cannot resolve placeholders: {e}"))?;
    let needle = format!("{prefix}{}", w.name);
    let scope = docs
        .iter()
        .find_map(|d| jjb::scope_of(d, w.span.start, &needle))
        .ok_or("no YAML value holds this reference (a comment?)")?;
    let names = match jjb::expand(&w.name, &scope) {
        Resolution::Values(v) => v,
        Resolution::Unresolved(var) => return Err(format!("no value for `{{{var}}}` in the enclosing project or job")),
    };
    let tags = match &w.tag {
        None => vec![None],
        Some(t) => match jjb::expand(t, &scope) {
            Resolution::Values(v) => v.into_iter().map(Some).collect(),
            Resolution::Unresolved(var) => {
                return Err(format!("no value for `{{{var}}}` in the enclosing project or job"));
            }
        },
    };
    Ok(names.iter().flat_map(|n| tags.iter().map(move |t| (n.clone(), t.clone()))).collect())
}

fn classify(pin: &mut Pin, catalog: &Catalog, facts: &mut HashMap<&str, ImageFacts>, registry: Option<&dyn Published>) {
    let Some(f) = facts.get_mut(pin.image.as_str()) else {
        pin.status = Status::NotInCatalog;
        if let Some(broken) = catalog.images.iter().find(|i| i.name == pin.image && i.error.is_some()) {
            let why = broken.error.as_ref().map(ToString::to_string).unwrap_or_default();
            pin.note = Some(format!("the catalog has a folder for it, but it cannot be read: {why}"));
        }
        return;
    };
    pin.latest = Some(f.latest.clone());
    let Some(tag) = pin.version.clone().filter(|t| t != "latest") else {
        pin.status = Status::Untagged;
        return;
    };
    if tag == f.latest {
        pin.status = match registry.and_then(|r| r.is_published(&pin.image, &tag)) {
            Some(false) => Status::Unpublished,
            _ => Status::Ok,
        };
        return;
    }
    let history =
        f.history.get_or_insert_with(|| catalog.get(&pin.image).and_then(|i| i.versions().ok()).unwrap_or_default());
    if history.contains(&tag) {
        pin.status = Status::Stale;
        pin.order = Some(match version::compare(&tag, &f.latest) {
            Ordering::Less => Order::Older,
            Ordering::Greater => Order::Newer,
            Ordering::Equal => Order::Same,
        });
    } else {
        pin.status = Status::UnknownVersion;
    }
}

fn check_includes(source: &Source, warnings: &mut Vec<Diagnostic>) {
    let dir = source.path.parent().map(PathBuf::from).unwrap_or_default();
    for inc in pins::includes(&source.text) {
        if inc.target.contains('{') {
            continue;
        }
        if !dir.join(&inc.target).exists() {
            warnings.push(Diagnostic::new(
                &source.display,
                Some(inc.line),
                format!("{} target `{}` does not exist", inc.tag, inc.target),
            ));
        }
    }
}

fn summarize(catalog: &Catalog, files: usize, pins: &[Pin], registry_checked: bool) -> Summary {
    let mut by_status: BTreeMap<String, usize> = Status::ALL.iter().map(|s| (s.as_str().to_owned(), 0)).collect();
    for p in pins {
        *by_status.entry(p.status.as_str().to_owned()).or_default() += 1;
    }
    let pairs: BTreeSet<(&str, Option<&str>)> = pins.iter().map(|p| (p.image.as_str(), p.version.as_deref())).collect();
    let pinned: BTreeSet<&str> = pins.iter().map(|p| p.image.as_str()).collect();
    let parents: BTreeSet<&str> =
        catalog.images.iter().flat_map(|i| i.depends.iter().map(|d| d.name.as_str())).collect();
    let dead_images = catalog
        .images
        .iter()
        .filter(|i| i.error.is_none() && !pinned.contains(i.name.as_str()) && !parents.contains(i.name.as_str()))
        .map(|i| i.name.clone())
        .collect();
    Summary {
        files_scanned: files,
        references: pins.len(),
        distinct_pairs: pairs.len(),
        distinct_images: pinned.len(),
        by_status,
        dead_images,
        registry_checked,
    }
}

/// One file's new contents after `--fix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFix {
    pub display: String,
    pub path: PathBuf,
    pub contents: String,
    pub fixed: usize,
}

/// Rewrites each stale pin's tag to the latest version; only the tag bytes
/// change. A pin whose tag holds a placeholder, or whose placeholders expand
/// to images with different latest versions, is left alone (`skipped`).
pub fn plan_fixes(report: &LintReport, sources: &[Source]) -> (Vec<FileFix>, Vec<String>) {
    let mut by_span: BTreeMap<(&str, usize), Vec<&Pin>> = BTreeMap::new();
    for p in report.pins.iter().filter(|p| p.tag_span.is_some()) {
        by_span.entry((p.file.as_str(), p.tag_span.as_ref().map_or(0, |s| s.start))).or_default().push(p);
    }
    let mut edits: BTreeMap<&str, Vec<(Range<usize>, &str)>> = BTreeMap::new();
    let mut skipped = Vec::new();
    for ((file, _), group) in by_span {
        if !group.iter().any(|p| p.status == Status::Stale) {
            continue;
        }
        let latests: BTreeSet<&str> = group.iter().filter_map(|p| p.latest.as_deref()).collect();
        let first = group[0];
        let fixable = first.tag_is_literal
            && latests.len() == 1
            && group.iter().all(|p| matches!(p.status, Status::Stale | Status::Ok | Status::Unpublished));
        match (fixable, first.tag_span.clone(), latests.first()) {
            (true, Some(span), Some(latest)) => edits.entry(file).or_default().push((span, latest)),
            _ => skipped.push(format!("{}:{}: `{}` not fixed automatically", first.file, first.line, first.written)),
        }
    }
    let mut fixes = Vec::new();
    for source in sources {
        let Some(list) = edits.get(source.display.as_str()) else { continue };
        let mut out = String::with_capacity(source.text.len());
        let mut at = 0;
        let mut sorted = list.clone();
        sorted.sort_by_key(|(r, _)| r.start);
        for (range, latest) in &sorted {
            out.push_str(&source.text[at..range.start]);
            out.push_str(latest);
            at = range.end;
        }
        out.push_str(&source.text[at..]);
        fixes.push(FileFix {
            display: source.display.clone(),
            path: source.path.clone(),
            contents: out,
            fixed: sorted.len(),
        });
    }
    (fixes, skipped)
}
