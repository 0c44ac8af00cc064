//! Build plans, runs, their images and logs: `dockyard build --dry-run`,
//! `dockyard builds [show ID] --format json`, `GET /api/v1/builds…`, and
//! the live events the dashboard streams.

use crate::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A stored run's id.
pub type RunId = i64;

/// What the plan does with one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Build it (then verify it, and publish with `--push`).
    Build,
    /// It is in the local engine but not in the registry: verify it and,
    /// with `--push`, publish it (docker-pkg's `built` state).
    Publish,
    /// Nothing to do: the version is already in the registry or the engine.
    Present,
    /// Pull a pinned image onto one host (an item of a pull run, named
    /// `image:tag@host`).
    Pull,
    /// Cannot be built: its files do not load (a broken changelog, control
    /// or template), it is in a dependency cycle, or a parent is broken.
    /// The reason says which; it never silently leaves a plan.
    Broken,
    /// The tag is in the engine, but was built from other inputs than the
    /// files have now (its labels say what it was built from: the rendered
    /// Dockerfile, the context, the parents' images). Built again; never
    /// published as it is.
    StaleBuild,
    /// Delete a registry tag (an item of a `cleanup --delete` run, named
    /// `image:tag`).
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Build => "build",
            Action::Publish => "publish",
            Action::Present => "present",
            Action::Pull => "pull",
            Action::Broken => "broken",
            Action::StaleBuild => "stale-build",
            Action::Delete => "delete",
        }
    }
}

/// One image of a plan, in build order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanItem {
    pub name: String,
    /// `registry/namespace/name:tag` (with the nightly suffix, if any).
    pub label: String,
    pub action: Action,
    /// Whether the registry has the tag (`None`: not asked or unknown).
    pub in_registry: Option<bool>,
    /// Whether the engine has the tag (`None`: not asked).
    pub in_engine: Option<bool>,
    /// Matched by the selection (else pulled in as an ancestor to build).
    pub selected: bool,
    /// Why it will or will not be built, in a sentence.
    pub reason: String,
    /// Catalog parents (from the graph).
    pub parents: Vec<String>,
    /// What a pull item (action `pull`, named `image:tag@host`) pulls
    /// where, as fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull: Option<PullItem>,
}

/// One image pulled onto one engine, in a pull run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullItem {
    pub image: String,
    pub tag: String,
    pub host: String,
}

/// A build plan: what `build --dry-run` prints and what a run executes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Plan {
    /// Parents before children; ties broken by name, so the order is stable.
    pub items: Vec<PlanItem>,
    /// Base images that are pulled before anything is built.
    pub base_images: Vec<String>,
    /// The selection globs as given (empty: everything).
    pub selection: Vec<String>,
    pub push: bool,
    pub pull: bool,
    pub use_cache: bool,
    pub jobs: usize,
    /// The longest chain of images to build, parents first.
    pub critical_path: Vec<String>,
    /// Images or selection globs that matched nothing, problems with the graph.
    pub problems: Vec<String>,
    /// Things worth knowing that do not stop the plan (a `FROM` that is
    /// never pulled fresh).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Plan {
    /// Items with something to do (not `present`, not `broken`).
    pub fn work(&self) -> impl Iterator<Item = &PlanItem> {
        self.items.iter().filter(|i| !matches!(i.action, Action::Present | Action::Broken))
    }
}

/// A run's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    Running,
    Succeeded,
    Failed,
    /// The process running it died; found at the next start.
    Interrupted,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<RunState> {
        [RunState::Running, RunState::Succeeded, RunState::Failed, RunState::Interrupted]
            .into_iter()
            .find(|r| r.as_str() == s)
    }

    pub fn is_finished(self) -> bool {
        self != RunState::Running
    }
}

/// One image's state within a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ImageState {
    /// Waiting for its parents or a free worker.
    #[default]
    Waiting,
    /// Pulling its parents or base images.
    Pulling,
    Building,
    Verifying,
    Publishing,
    /// Built and verified (not published: no `--push`).
    Built,
    /// In the registry now.
    Published,
    /// Nothing was done: already present.
    Present,
    Failed,
    /// Not built because a parent failed.
    Skipped,
    /// The run stopped while this image was in progress.
    Interrupted,
    /// Pins pulled onto an engine (build-and-pull).
    Pulled,
    /// A registry tag deleted (`cleanup --delete`).
    Deleted,
}

impl ImageState {
    pub const ALL: [ImageState; 13] = [
        ImageState::Waiting,
        ImageState::Pulling,
        ImageState::Building,
        ImageState::Verifying,
        ImageState::Publishing,
        ImageState::Built,
        ImageState::Published,
        ImageState::Present,
        ImageState::Failed,
        ImageState::Skipped,
        ImageState::Interrupted,
        ImageState::Pulled,
        ImageState::Deleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ImageState::Waiting => "waiting",
            ImageState::Pulling => "pulling",
            ImageState::Building => "building",
            ImageState::Verifying => "verifying",
            ImageState::Publishing => "publishing",
            ImageState::Built => "built",
            ImageState::Published => "published",
            ImageState::Present => "present",
            ImageState::Failed => "failed",
            ImageState::Skipped => "skipped",
            ImageState::Interrupted => "interrupted",
            ImageState::Pulled => "pulled",
            ImageState::Deleted => "deleted",
        }
    }

    pub fn parse(s: &str) -> Option<ImageState> {
        ImageState::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// True once nothing more will happen to the image in this run.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ImageState::Built
                | ImageState::Published
                | ImageState::Present
                | ImageState::Failed
                | ImageState::Skipped
                | ImageState::Interrupted
                | ImageState::Pulled
                | ImageState::Deleted
        )
    }

    /// True for the states that count as a failure of the run.
    pub fn is_failure(self) -> bool {
        matches!(self, ImageState::Failed | ImageState::Skipped | ImageState::Interrupted)
    }
}

/// One image in a stored run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunImage {
    pub name: String,
    pub label: String,
    pub action: Action,
    pub state: ImageState,
    /// The engine it was built on.
    pub host: Option<String>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub duration_ms: Option<i64>,
    /// Why it failed or was skipped.
    pub error: Option<String>,
    /// The image id (`sha256:…`, its config's digest) it built.
    #[serde(default)]
    pub built: Option<String>,
    /// The manifest digest the registry gave its pushed tag.
    #[serde(default)]
    pub pushed: Option<String>,
}

/// Where a run came from, so that runs from two clones can be told apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RunSource {
    /// The repository's folder, as the process that ran it saw it.
    pub repo: String,
    /// `git rev-parse HEAD` of the repository (none outside git).
    pub commit: Option<String>,
    /// Whether the work tree differed from that commit (`git status`).
    pub dirty: Option<bool>,
    /// The command line (`dockyard build --push …`) or the dashboard form.
    pub command: Vec<String>,
    /// The dockyard version that ran it.
    pub dockyard: String,
}

/// Who or what started a run: the way in, the operation, and the person.
/// Stored and sent as one string, `WAY[:OPERATION][:WHO]`: `cli:alice` (a
/// build), `cli:pull:alice`, `cli:try`, `web:dashboard`,
/// `web:pull:dashboard`, `cli:cleanup:alice`. Any string parses, and
/// prints back as it was.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Trigger {
    pub way: Way,
    pub operation: Operation,
    pub who: Option<String>,
}

/// How a run was started.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Way {
    /// The command line.
    Cli,
    /// The dashboard.
    Web,
    /// Anything else (an older or another writer of the store).
    Other(String),
}

/// What a run does beyond building (the default, unnamed in the string).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Build,
    Pull,
    Try,
    Cleanup,
}

impl Trigger {
    pub fn new(way: Way, operation: Operation, who: impl Into<String>) -> Trigger {
        let who = who.into();
        Trigger { way, operation, who: (!who.is_empty()).then_some(who) }
    }
    pub fn cli(operation: Operation, who: impl Into<String>) -> Trigger {
        Trigger::new(Way::Cli, operation, who)
    }
    pub fn web(operation: Operation, who: impl Into<String>) -> Trigger {
        Trigger::new(Way::Web, operation, who)
    }
    pub fn parse(s: &str) -> Trigger {
        let (way, rest) = s.split_once(':').map_or((s, None), |(w, r)| (w, Some(r)));
        let way = match way {
            "cli" => Way::Cli,
            "web" => Way::Web,
            w => Way::Other(w.to_owned()),
        };
        let (operation, who) = match rest.map(|r| r.split_once(':').map_or((r, None), |(o, w)| (o, Some(w)))) {
            None => (Operation::Build, None),
            Some((op, who)) => match op {
                "pull" => (Operation::Pull, who),
                "try" => (Operation::Try, who),
                "cleanup" => (Operation::Cleanup, who),
                _ => (Operation::Build, rest),
            },
        };
        Trigger { way, operation, who: who.map(str::to_owned) }
    }
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match &self.way {
            Way::Cli => "cli",
            Way::Web => "web",
            Way::Other(w) => w,
        })?;
        match self.operation {
            Operation::Build => {}
            Operation::Pull => f.write_str(":pull")?,
            Operation::Try => f.write_str(":try")?,
            Operation::Cleanup => f.write_str(":cleanup")?,
        }
        match &self.who {
            Some(who) => write!(f, ":{who}"),
            None => Ok(()),
        }
    }
}

/// The empty trigger (prints as nothing).
impl Default for Trigger {
    fn default() -> Trigger {
        Trigger { way: Way::Other(String::new()), operation: Operation::Build, who: None }
    }
}

impl From<&str> for Trigger {
    fn from(s: &str) -> Trigger {
        Trigger::parse(s)
    }
}

impl Serialize for Trigger {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Trigger {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Trigger, D::Error> {
        Ok(Trigger::parse(&String::deserialize(d)?))
    }
}

#[cfg(test)]
mod trigger_tests {
    use super::*;

    #[test]
    fn every_trigger_prints_back_as_it_was_stored() {
        for s in [
            "cli:alice",
            "cli:pull:alice",
            "cli:try",
            "web",
            "web:pull:dashboard",
            "test",
            "cli:build:x",
            "a:b:c:d",
            "",
        ] {
            assert_eq!(Trigger::parse(s).to_string(), s);
        }
        assert_eq!(Trigger::parse("cli:pull:alice"), Trigger::cli(Operation::Pull, "alice"));
        assert_eq!(Trigger::parse("web:dashboard"), Trigger::web(Operation::Build, "dashboard"));
        assert_eq!(Trigger::parse("cli:try"), Trigger::cli(Operation::Try, ""));
    }
}

/// A stored run, without its images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    pub id: RunId,
    pub state: RunState,
    /// Who or what started it.
    pub trigger: Trigger,
    pub selection: Vec<String>,
    /// The engines it used.
    pub hosts: Vec<String>,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    /// Images per state.
    pub counts: BTreeMap<ImageState, usize>,
}

/// A stored run with its images and plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDetail {
    pub run: RunSummary,
    pub images: Vec<RunImage>,
    pub plan: Plan,
    /// Where it came from (runs recorded before this was kept have none).
    #[serde(default)]
    pub source: Option<RunSource>,
}

/// `dockyard builds show ID --format json` and `GET /api/v1/builds/{id}`:
/// a run and its log (the first [`RunShown::LOG_LINES`] lines, at most
/// 8 MiB of text; the rest
/// through `GET /api/v1/builds/{id}/logs?after=SEQ`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunShown {
    #[serde(flatten)]
    pub detail: RunDetail,
    pub logs: Vec<LogLine>,
    /// There are more lines than `logs` holds.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub logs_truncated: bool,
}

impl RunShown {
    /// The log lines a shown run holds at most.
    pub const LOG_LINES: usize = 100_000;
}

/// `dockyard builds --format json` and `GET /api/v1/builds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RunList {
    pub runs: Vec<RunSummary>,
    /// More runs are older than these: ask `before=` this id for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub older: Option<RunId>,
}

/// One line of an image's build log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub image: String,
    /// Increases by one per line within a run.
    pub seq: i64,
    /// Milliseconds since the epoch.
    pub at_ms: i64,
    pub line: String,
}

/// A build as the image page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageBuild {
    pub run: RunId,
    pub label: String,
    pub state: ImageState,
    pub host: Option<String>,
    pub started_at: Option<Timestamp>,
    pub duration_ms: Option<i64>,
}

/// What happens in a run, as it happens: the console, the store and the
/// dashboard's live stream all read these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum BuildEvent {
    RunStarted { run: RunSummary },
    Image { run: RunId, image: String, state: ImageState, host: Option<String>, error: Option<String>, at_ms: i64 },
    Log { run: RunId, line: LogLine },
    RunFinished { run: RunId, state: RunState, at: Timestamp },
}

impl BuildEvent {
    pub fn run_id(&self) -> RunId {
        match self {
            BuildEvent::RunStarted { run } => run.id,
            BuildEvent::Image { run, .. } | BuildEvent::Log { run, .. } | BuildEvent::RunFinished { run, .. } => *run,
        }
    }
}

/// The events of a run's live stream (`GET /api/v1/builds/{id}/events`),
/// by their server-sent event names; the server sends them and the
/// dashboard subscribes to them by these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEvent {
    /// A [`LogLine`]; the event's id is its `seq`.
    Log,
    /// A [`RunImage`] whose state changed.
    Image,
    /// The run's [`RunSummary`] at its end; the stream closes.
    End,
    /// The store could not be read; the text says why.
    Error,
    /// The build history changed (`GET /api/v1/history/events`): a run
    /// began, changed or ended, in this server or another.
    History,
    /// The repository's files (or the registry's knowledge) were read
    /// again into a new snapshot (`GET /api/v1/history/events`): pins and
    /// images may have changed.
    Files,
}

impl StreamEvent {
    pub const ALL: [StreamEvent; 6] = [
        StreamEvent::Log,
        StreamEvent::Image,
        StreamEvent::End,
        StreamEvent::Error,
        StreamEvent::History,
        StreamEvent::Files,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StreamEvent::Log => "log",
            StreamEvent::Image => "image",
            StreamEvent::End => "end",
            StreamEvent::Error => "error",
            StreamEvent::History => "history",
            StreamEvent::Files => "files",
        }
    }

    pub fn parse(name: &str) -> Option<StreamEvent> {
        StreamEvent::ALL.into_iter().find(|e| e.name() == name)
    }
}

/// What to build, as the dashboard asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Selection {
    /// One image.
    Image { name: String },
    /// An image and every image below it.
    Subtree { name: String },
    /// Every image behind a stale or unpublished pin.
    PinProblems,
    /// Globs on the full label, as `build --select`.
    Globs { globs: Vec<String> },
}

/// `POST /api/v1/builds` and `POST /api/v1/plan`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildRequest {
    pub selection: Selection,
    /// Publish what is built (default true).
    #[serde(default = "yes")]
    pub push: bool,
    /// Then pull the pinned images onto the engine(s) (default true).
    #[serde(default = "yes")]
    pub pull_pins: bool,
}

fn yes() -> bool {
    true
}

/// The answer to `POST /api/v1/builds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildStarted {
    pub run: RunId,
    pub plan: Plan,
}
