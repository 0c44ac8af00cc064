//! Pin statuses and the lint report: each written pin checked against the
//! catalog (and, when one is available, the registry index), a summary, and
//! the byte-exact rewrite that `--fix` applies.
//!
//! The report's public shape is [`dockyard_api::PinsReport`]; [`LintReport`]
//! adds what only the printers and `--fix` need (byte spans, the source of
//! each pin), without copying any text of the files.

use crate::catalog::Catalog;
use crate::diag::Diagnostic;
use crate::jjb::{Resolution, ScopeIndex};
use crate::label::pin_prefix;
use crate::limits::MAX_PINS_PER_FILE;
use crate::pins::{self, WrittenPin};
use crate::version;
use dockyard_api::{Behind, PinGroup, PinsReport, PinsSummary};
pub use dockyard_api::{Order, Pin, Status};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::path::PathBuf;

/// One pin with what `--fix` and the text printer need.
#[derive(Debug, Clone)]
pub struct Finding {
    pub pin: Pin,
    /// Index of the pin's file in the sources.
    pub source: usize,
    /// Byte range of the written tag in the file.
    pub tag_span: Option<Range<usize>>,
    /// The tag is written literally (no placeholder), so `--fix` may touch it.
    pub tag_is_literal: bool,
    /// Byte range of the pin's line, without its line ending.
    pub line_span: Range<usize>,
}

/// The lint of the pin paths, with the files it read.
pub struct LintState {
    pub report: LintReport,
    pub sources: Vec<Source>,
    /// The pin prefix (`registry/namespace/`).
    pub prefix: String,
}

/// The whole lint result.
#[derive(Debug, Clone, Default)]
pub struct LintReport {
    pub findings: Vec<Finding>,
    pub summary: PinsSummary,
    /// Files that could not be linted (whole or in part).
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
    /// Changelog entries above the oldest stale pin, per image.
    pub changes: BTreeMap<String, Vec<dockyard_api::ChangelogEntry>>,
}

impl LintReport {
    /// The report as the API and `--format json` show it.
    pub fn to_api(&self) -> PinsReport {
        PinsReport {
            pins: self.findings.iter().map(|f| f.pin.clone()).collect(),
            summary: self.summary.clone(),
            errors: self.errors.iter().map(Diagnostic::to_problem).collect(),
            warnings: self.warnings.iter().map(Diagnostic::to_problem).collect(),
            changes: self.changes.clone(),
        }
    }

    /// Pins whose status is in `fail_on`.
    pub fn failures<'a>(&'a self, fail_on: &'a [Status]) -> impl Iterator<Item = &'a Finding> + 'a {
        self.findings.iter().filter(|f| fail_on.contains(&f.pin.status))
    }
}

/// What the registry holds, when a registry index is available.
pub trait Published {
    /// `Some(true)` when `image:tag` is in the registry, `Some(false)` when it
    /// is known not to be, `None` when unknown.
    fn is_published(&self, image: &str, tag: &str) -> Option<bool>;
}

/// A text file to scan: its path as shown (relative to the repository), its
/// real path, and its contents.
#[derive(Debug, Clone)]
pub struct Source {
    pub display: String,
    pub path: PathBuf,
    pub text: String,
}

impl Source {
    /// The text of a finding's line.
    pub fn line(&self, f: &Finding) -> &str {
        self.text.get(f.line_span.clone()).unwrap_or("")
    }
}

/// Knobs of a lint run.
#[derive(Clone, Copy, Default)]
pub struct LintOptions<'a> {
    pub registry: Option<&'a dyn Published>,
    /// "Now" in seconds since the epoch, for how many days a pin is behind.
    pub now: i64,
}

struct ImageFacts {
    latest: String,
    /// Versions of the changelog, newest first, with their dates.
    timeline: Option<Vec<(String, Option<i64>)>>,
}

/// Lints every source against `catalog`.
pub fn lint(catalog: &Catalog, sources: &[Source], opts: LintOptions<'_>) -> LintReport {
    let prefix = pin_prefix(&catalog.config.registry(), &catalog.config.namespace());
    let mut facts: HashMap<&str, ImageFacts> = catalog
        .images
        .iter()
        .filter(|i| i.error.is_none())
        .filter_map(|i| Some((i.name.as_str(), ImageFacts { latest: i.version.clone()?, timeline: None })))
        .collect();
    let mut report = LintReport::default();
    // The JJB items of each YAML file with pins, by source, for the job
    // around each pin (`jobs`).
    let mut items: Vec<Vec<crate::jobs::Item>> = vec![Vec::new(); sources.len()];
    // The "did you mean" of one lint costs at most this many edit-distance
    // cells (about 50 ms): thousands of unknown names in a hostile file get
    // their advice without a suggestion once it is spent.
    let mut suggest_budget: u64 = 50_000_000;
    for (si, source) in sources.iter().enumerate() {
        let (written, over) = pins::scan_limited(&source.text, &prefix, MAX_PINS_PER_FILE);
        if let Some(line) = over {
            report.errors.push(Diagnostic::new(
                &source.display,
                Some(line),
                format!(
                    "more than {MAX_PINS_PER_FILE} pins in one file: the limit; the rest of the file is not linted"
                ),
            ));
        }
        let is_yaml = source.display.ends_with(".yaml") || source.display.ends_with(".yml");
        if is_yaml {
            check_includes(catalog, source, &mut report.warnings);
            if !written.is_empty() {
                items[si] = crate::jobs::items(&source.text);
            }
        }
        // The YAML tree is read only when some pin needs a placeholder resolved.
        let docs = (is_yaml && written.iter().any(WrittenPin::has_placeholder)).then(|| {
            crate::yaml::load(&source.text).map_err(|e| format!("YAML error at line {}: {}", e.line, e.message))
        });
        let indexes: Option<Result<Vec<ScopeIndex<'_>>, String>> = docs
            .as_ref()
            .map(|d| d.as_ref().map(|docs| docs.iter().map(ScopeIndex::build).collect()).map_err(Clone::clone));
        for w in written {
            let expansions = if w.has_placeholder() {
                resolve(&w, &prefix, is_yaml, indexes.as_ref())
            } else {
                Ok(vec![(w.name.clone(), w.tag.clone())])
            };
            let base = Finding {
                pin: Pin {
                    file: source.display.clone(),
                    line: w.line,
                    column: w.column,
                    image: w.name.clone(),
                    version: w.tag.clone(),
                    status: Status::Ok,
                    latest: None,
                    order: None,
                    written: source.text[w.span.clone()].to_owned(),
                    note: None,
                    behind: None,
                    fix: None,
                    published: None,
                    job: None,
                    advice: None,
                },
                source: si,
                tag_span: None,
                tag_is_literal: false,
                line_span: w.line_span.clone(),
            };
            match expansions {
                Err(note) => {
                    let mut f = base;
                    f.pin.status = Status::Unresolved;
                    f.pin.note = Some(note);
                    report.findings.push(f);
                }
                Ok(list) => {
                    let note = w
                        .has_placeholder()
                        .then(|| format!("resolved from JJB placeholders in `{}`", base.pin.written));
                    for (image, tag) in list {
                        let mut f = base.clone();
                        f.pin.image = image;
                        f.pin.version = tag;
                        f.pin.note = note.clone();
                        f.tag_span = w.tag_span.clone();
                        f.tag_is_literal = w.tag.as_deref().is_some_and(|t| !t.contains('{'));
                        classify(&mut f, catalog, &mut facts, &opts, &mut suggest_budget);
                        report.findings.push(f);
                    }
                }
            }
        }
    }
    let projects = crate::jobs::Projects::of(items.iter().map(Vec::as_slice));
    for f in &mut report.findings {
        f.pin.job = projects.job_at(&items[f.source], f.pin.line);
    }
    report.summary = summarize(catalog, sources.len(), &report.findings, opts.registry.is_some());
    report.changes = changes(catalog, &report.findings);
    report
}

/// For each image with stale pins, its changelog entries above the
/// oldest pinned version (what updating the pins brings), newest first.
fn changes(catalog: &Catalog, findings: &[Finding]) -> BTreeMap<String, Vec<dockyard_api::ChangelogEntry>> {
    let mut oldest: BTreeMap<&str, usize> = BTreeMap::new();
    for f in findings.iter().filter(|f| f.pin.status == Status::Stale) {
        if let Some(b) = f.pin.behind {
            let at = oldest.entry(f.pin.image.as_str()).or_default();
            *at = (*at).max(b.versions);
        }
    }
    let cut = |s: String| match s.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    };
    oldest
        .into_iter()
        .filter_map(|(image, behind)| {
            let entries = catalog.get(image)?.history(&catalog.files).ok()?;
            let kept = entries
                .into_iter()
                .take(behind.min(PinsReport::CHANGES_MAX))
                .map(|e| dockyard_api::ChangelogEntry {
                    version: e.version,
                    author: e.author,
                    date: e.date,
                    changes: cut(e.changes.join("\n").trim().to_owned()),
                })
                .collect();
            Some((image.to_owned(), kept))
        })
        .collect()
}

type Expansion = Vec<(String, Option<String>)>;

fn resolve(
    w: &WrittenPin,
    prefix: &str,
    is_yaml: bool,
    indexes: Option<&Result<Vec<ScopeIndex<'_>>, String>>,
) -> Result<Expansion, String> {
    if !is_yaml {
        return Err("JJB placeholder outside a YAML file".into());
    }
    let indexes = match indexes {
        Some(Ok(i)) => i,
        Some(Err(e)) => return Err(format!("cannot resolve placeholders: {e}")),
        None => return Err("internal error: YAML not loaded".into()),
    };
    let needle = format!("{prefix}{}", w.name);
    let scope = indexes
        .iter()
        .find_map(|index| index.scope_of(w.span.start, &needle))
        .ok_or("no YAML value holds this reference (a comment?)")?;
    let unresolved = |var: String| format!("no value for `{{{var}}}` in the enclosing project or job");
    let too_many = || {
        format!("the placeholders expand to more than {} images: the limit", crate::limits::MAX_PLACEHOLDER_EXPANSIONS)
    };
    let names = match scope.expand(&w.name) {
        Resolution::Values(v) => v,
        Resolution::Unresolved(var) => return Err(unresolved(var)),
        Resolution::TooMany => return Err(too_many()),
    };
    let tags = match &w.tag {
        None => vec![None],
        Some(t) => match scope.expand(t) {
            Resolution::Values(v) => v.into_iter().map(Some).collect(),
            Resolution::Unresolved(var) => return Err(unresolved(var)),
            Resolution::TooMany => return Err(too_many()),
        },
    };
    if names.len() * tags.len() > crate::limits::MAX_PLACEHOLDER_EXPANSIONS {
        return Err(too_many());
    }
    Ok(names.iter().flat_map(|n| tags.iter().map(move |t| (n.clone(), t.clone()))).collect())
}

/// The reference with its tag replaced by `latest` (the written name kept,
/// placeholders and all).
fn fixed_reference(written: &str, has_tag: bool, latest: &str) -> String {
    let name = if has_tag { written.rsplit_once(':').map_or(written, |(n, _)| n) } else { written };
    format!("{name}:{latest}")
}

fn classify(
    f: &mut Finding,
    catalog: &Catalog,
    facts: &mut HashMap<&str, ImageFacts>,
    opts: &LintOptions<'_>,
    budget: &mut u64,
) {
    let pin = &mut f.pin;
    let Some(facts) = facts.get_mut(pin.image.as_str()) else {
        pin.status = Status::NotInCatalog;
        pin.advice = Some(match nearest(&pin.image, catalog.images.iter().map(|i| i.name.as_str()), budget) {
            Some(near) => format!("no image `{}` in the catalog; did you mean `{near}`?", pin.image),
            None => {
                format!("no image `{}` in the catalog: point the job at a catalog image, or add the image", pin.image)
            }
        });
        if let Some(broken) = catalog.images.iter().find(|i| i.name == pin.image && i.error.is_some()) {
            let why = broken.error.as_ref().map(ToString::to_string).unwrap_or_default();
            pin.note = Some(format!("the catalog has a folder for it, but it cannot be read: {why}"));
        }
        return;
    };
    pin.latest = Some(facts.latest.clone());
    let Some(tag) = pin.version.clone().filter(|t| t != "latest") else {
        pin.status = Status::Untagged;
        pin.advice = Some(format!(
            "no version pinned: CI pulls whatever the registry calls latest; pin {}:{}",
            pin.image, facts.latest
        ));
        pin.fix = Some(fixed_reference(&pin.written, pin.version.is_some(), &facts.latest));
        return;
    };
    if let Some(registry) = opts.registry {
        pin.published = registry.is_published(&pin.image, &tag);
    }
    if tag == facts.latest {
        pin.status = if pin.published == Some(false) { Status::Unpublished } else { Status::Ok };
        return;
    }
    let timeline = facts.timeline.get_or_insert_with(|| {
        catalog
            .get(&pin.image)
            .and_then(|i| i.changelog_text(&catalog.files).ok())
            .map(|t| crate::changelog::timeline(&t))
            .unwrap_or_default()
    });
    match timeline.iter().position(|(v, _)| *v == tag) {
        Some(at) => {
            pin.status = Status::Stale;
            pin.order = Some(match version::compare(&tag, &facts.latest) {
                Ordering::Less => Order::Older,
                Ordering::Greater => Order::Newer,
                Ordering::Equal => Order::Same,
            });
            // The entry just above the pinned one superseded it.
            let superseded = at.checked_sub(1).and_then(|i| timeline[i].1);
            pin.behind = Some(Behind { versions: at, days: superseded.map(|t| (opts.now - t).max(0) / 86_400) });
            if f.tag_is_literal {
                pin.fix = Some(fixed_reference(&pin.written, true, &facts.latest));
            }
        }
        None => {
            pin.status = Status::UnknownVersion;
            let known = timeline.iter().map(|(v, _)| v.as_str());
            pin.advice = Some(match nearest(&tag, known, budget) {
                Some(near) if near != facts.latest => format!(
                    "{}'s changelog has no version {tag}; the nearest it has is {near}, the latest {}",
                    pin.image, facts.latest
                ),
                _ => format!("{}'s changelog has no version {tag}; the latest is {}", pin.image, facts.latest),
            });
        }
    }
}

fn check_includes(catalog: &Catalog, source: &Source, warnings: &mut Vec<Diagnostic>) {
    let dir = source.path.parent().map(PathBuf::from).unwrap_or_default();
    // One look at the file system per target named, however often a file
    // names it (a hostile 4 MiB file names one 150,000 times).
    let mut exists: std::collections::HashMap<String, bool> = std::collections::HashMap::new();
    for inc in pins::includes(&source.text) {
        if inc.target.contains('{') {
            continue;
        }
        let found = match exists.get(&inc.target) {
            Some(found) => *found,
            None => {
                let found = catalog.files.kind(&dir.join(&inc.target)).is_some();
                exists.insert(inc.target.clone(), found);
                found
            }
        };
        if !found {
            warnings.push(Diagnostic::new(
                &source.display,
                Some(inc.line),
                format!("{} target `{}` does not exist", inc.tag, crate::limits::quote(&inc.target)),
            ));
        }
    }
}

fn summarize(catalog: &Catalog, files: usize, findings: &[Finding], registry_checked: bool) -> PinsSummary {
    let mut by_status: BTreeMap<Status, usize> = Status::ALL.iter().map(|s| (*s, 0)).collect();
    for f in findings {
        *by_status.entry(f.pin.status).or_default() += 1;
    }
    let pairs: BTreeSet<(&str, Option<&str>)> =
        findings.iter().map(|f| (f.pin.image.as_str(), f.pin.version.as_deref())).collect();
    let pinned: BTreeSet<&str> = findings.iter().map(|f| f.pin.image.as_str()).collect();
    let parents: BTreeSet<&str> =
        catalog.images.iter().flat_map(|i| i.depends.iter().map(|d| d.name.as_str())).collect();
    let dead_images = catalog
        .images
        .iter()
        .filter(|i| i.error.is_none() && !pinned.contains(i.name.as_str()) && !parents.contains(i.name.as_str()))
        .map(|i| i.name.clone())
        .collect();
    // One group per image and tag with a finding.
    type Key<'a> = (&'a str, Option<&'a str>, Status);
    let mut groups: BTreeMap<Key<'_>, (PinGroup, BTreeSet<&str>)> = BTreeMap::new();
    for f in findings.iter().filter(|f| f.pin.status != Status::Ok) {
        let p = &f.pin;
        let entry = groups.entry((p.image.as_str(), p.version.as_deref(), p.status)).or_insert_with(|| {
            (
                PinGroup {
                    image: p.image.clone(),
                    version: p.version.clone(),
                    status: p.status,
                    latest: p.latest.clone(),
                    pins: 0,
                    files: 0,
                },
                BTreeSet::new(),
            )
        });
        entry.0.pins += 1;
        entry.1.insert(p.file.as_str());
    }
    let mut groups: Vec<PinGroup> = groups
        .into_values()
        .map(|(mut g, files)| {
            g.files = files.len();
            g
        })
        .collect();
    groups.sort_by(|a, b| {
        b.status.severity().cmp(&a.status.severity()).then(b.pins.cmp(&a.pins)).then(a.image.cmp(&b.image))
    });
    PinsSummary {
        files_scanned: files,
        references: findings.len(),
        distinct_pairs: pairs.len(),
        distinct_images: pinned.len(),
        by_status,
        dead_images,
        registry_checked,
        groups,
    }
}

/// One file's new contents after `--fix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFix {
    pub display: String,
    /// The real file (symlinks resolved), the one to write.
    pub path: PathBuf,
    pub original: String,
    pub contents: String,
    pub fixed: usize,
}

/// Why a stale pin is not fixed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub file: String,
    pub line: usize,
    pub written: String,
    pub why: String,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: `{}` not fixed: {}", self.file, self.line, self.written, self.why)
    }
}

/// Rewrites each stale pin's tag to the latest version; only the tag bytes
/// change. Edits are grouped by the source they were found in (one real file
/// each), never by the path as shown. A pin whose tag holds a placeholder,
/// or whose placeholders expand to images with different latest versions,
/// is left alone, and so is one whose latest version the registry is known
/// not to hold yet (it waits for a publish).
pub fn plan_fixes(
    report: &LintReport,
    sources: &[Source],
    registry: Option<&dyn Published>,
) -> (Vec<FileFix>, Vec<Skipped>) {
    plan_fixes_with(report, sources, registry, false, &|_| true)
}

/// [`plan_fixes`] of the stale pins `only` accepts (one image and tag, one
/// file): the dashboard's patch of a group or a file.
pub fn plan_fixes_of(
    report: &LintReport,
    sources: &[Source],
    registry: Option<&dyn Published>,
    only: &dyn Fn(&Pin) -> bool,
) -> (Vec<FileFix>, Vec<Skipped>) {
    plan_fixes_with(report, sources, registry, false, only)
}

/// [`plan_fixes`] that also skips versions the registry does not know to
/// be published (unknown as well as missing): `lint --fix`'s default.
pub fn plan_fixes_known(
    report: &LintReport,
    sources: &[Source],
    registry: Option<&dyn Published>,
) -> (Vec<FileFix>, Vec<Skipped>) {
    plan_fixes_with(report, sources, registry, true, &|_| true)
}

fn plan_fixes_with(
    report: &LintReport,
    sources: &[Source],
    registry: Option<&dyn Published>,
    known_only: bool,
    only: &dyn Fn(&Pin) -> bool,
) -> (Vec<FileFix>, Vec<Skipped>) {
    let mut by_span: BTreeMap<(usize, usize), Vec<&Finding>> = BTreeMap::new();
    for f in report.findings.iter().filter(|f| f.tag_span.is_some()) {
        by_span.entry((f.source, f.tag_span.as_ref().map_or(0, |s| s.start))).or_default().push(f);
    }
    let mut edits: BTreeMap<usize, Vec<(Range<usize>, &str)>> = BTreeMap::new();
    let mut skipped = Vec::new();
    for ((source, _), group) in by_span {
        if !group.iter().any(|f| f.pin.status == Status::Stale && only(&f.pin)) {
            continue;
        }
        let first = group[0];
        let skip = |why: String| Skipped {
            file: first.pin.file.clone(),
            line: first.pin.line,
            written: first.pin.written.clone(),
            why,
        };
        let latests: BTreeSet<&str> = group.iter().filter_map(|f| f.pin.latest.as_deref()).collect();
        let fixable = first.tag_is_literal
            && latests.len() == 1
            && group.iter().all(|f| matches!(f.pin.status, Status::Stale | Status::Ok | Status::Unpublished));
        let (Some(span), Some(latest), true) = (first.tag_span.clone(), latests.first(), fixable) else {
            skipped.push(skip("the tag holds a placeholder, or its images have different latest versions".into()));
            continue;
        };
        let unpublished =
            registry.is_some_and(|r| group.iter().any(|f| r.is_published(&f.pin.image, latest) == Some(false)));
        if unpublished {
            skipped.push(skip(format!("waits for a publish: {}:{latest} is not in the registry yet", first.pin.image)));
            continue;
        }
        let unknown = known_only
            && registry.is_some_and(|r| group.iter().any(|f| r.is_published(&f.pin.image, latest).is_none()));
        if unknown {
            skipped.push(skip(format!(
                "not known to be published: the registry did not say whether {}:{latest} is there (--allow-unpublished pins it anyway)",
                first.pin.image
            )));
            continue;
        }
        edits.entry(source).or_default().push((span, latest));
    }
    let mut fixes = Vec::new();
    for (si, mut list) in edits {
        let Some(source) = sources.get(si) else { continue };
        let mut out = String::with_capacity(source.text.len());
        let mut at = 0;
        list.sort_by_key(|(r, _)| r.start);
        for (range, latest) in &list {
            out.push_str(&source.text[at..range.start]);
            out.push_str(latest);
            at = range.end;
        }
        out.push_str(&source.text[at..]);
        fixes.push(FileFix {
            display: source.display.clone(),
            path: source.path.clone(),
            original: source.text.clone(),
            contents: out,
            fixed: list.len(),
        });
    }
    (fixes, skipped)
}

/// Words longer than this get no suggestion.
const SUGGEST_MAX_CHARS: usize = 64;

/// The candidate nearest to `word` by edit distance, when it is close
/// (at most a third of the word's length). Each distance computed is paid
/// from `budget` (its cells); candidates whose length alone rules them out
/// cost nothing.
fn nearest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>, budget: &mut u64) -> Option<&'a str> {
    let len = word.chars().count();
    if len > SUGGEST_MAX_CHARS {
        return None;
    }
    let limit = (len / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates.filter(|c| *c != word) {
        let clen = c.chars().count();
        if clen.abs_diff(len) > limit || clen > SUGGEST_MAX_CHARS {
            continue;
        }
        let cost = (len * clen) as u64;
        if cost > *budget {
            return None;
        }
        *budget -= cost;
        let d = edit_distance(word, c);
        if d <= limit && best.is_none_or(|b| (d, c) < b) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Levenshtein distance over characters (the words are short: image names
/// and versions).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(row[j + 1] + 1);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod nearest_tests {
    use super::*;

    #[test]
    fn the_nearest_name_is_close_or_none() {
        let names = ["composer-php81", "composer-php82", "node20", "quibble-bookworm-php81"];
        let mut budget = u64::MAX;
        let b = &mut budget;
        assert_eq!(nearest("composer-php8l", names.into_iter(), b), Some("composer-php81"));
        assert_eq!(nearest("node-20", names.into_iter(), b), Some("node20"));
        assert_eq!(nearest("tox", names.into_iter(), b), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(nearest("1.19.0-s2", ["1.19.0-s1", "1.19.0", "1.18.0"].into_iter(), b), Some("1.19.0-s1"));
        // A spent budget, or a word too long, gives no suggestion.
        assert_eq!(nearest("composer-php8l", names.into_iter(), &mut 10), None);
        assert_eq!(nearest(&"x".repeat(65), names.into_iter(), b), None);
    }
}
