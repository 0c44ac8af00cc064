//! Build plans: which images to build, publish or leave, in which order,
//! and why, with docker-pkg's rules:
//!
//! - with pulling (the default), an image in the registry is left alone;
//!   one only in the engine is verified and published (with `--push`);
//!   one in neither is built;
//! - with `--no-pull`, an image not in the engine is built even when the
//!   registry has it;
//! - a selection (`--select GLOB`, fnmatch on the full label) takes the
//!   images it matches, and pulls in their ancestors that must be built.
//!
//! Pure: the facts about the registry and the engine come in as values.

use dockyard_api::{Action, Plan, PlanItem};
use std::collections::{BTreeMap, BTreeSet};

/// One image as the planner sees it.
#[derive(Debug, Clone)]
pub struct PlanImage {
    pub name: String,
    /// `registry/namespace/name:tag` (nightly suffix included).
    pub label: String,
    /// Catalog parents (from the graph).
    pub parents: Vec<String>,
    pub in_registry: Option<bool>,
    pub in_engine: Option<bool>,
    /// Why it cannot be built (its files do not load), when it cannot.
    pub broken: Option<String>,
    /// Why the engine's copy of the tag is stale: its labels say it was
    /// built from other inputs (see [`crate::provenance`]).
    pub stale: Option<String>,
    /// Why the registry's copy of the tag was built from other inputs than
    /// the files give now: the version must be bumped.
    pub registry_stale: Option<String>,
}

/// What the plan is for.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Globs on the full label; empty: every image.
    pub globs: Vec<String>,
    pub pull: bool,
    pub push: bool,
    pub use_cache: bool,
    pub jobs: usize,
    /// Base images pulled before anything is built (with `pull`).
    pub base_images: Vec<String>,
}

/// Python's `fnmatch.fnmatch` (POSIX, case-sensitive): `*` matches anything
/// (slashes included), `?` one character, `[seq]` / `[!seq]` a class.
pub fn fnmatch(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matching with backtracking to the last `*`.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class(&p, pi, t[ti]) {
                        if matched {
                            pi = next;
                            ti += 1;
                            continue;
                        }
                    } else if t[ti] == '[' {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
                c if c == t[ti] => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// A `[...]` class at `p[at]`: whether `c` is in it, and where the pattern
/// goes on. `None` when the class is not closed (then `[` is literal).
fn class(p: &[char], at: usize, c: char) -> Option<(bool, usize)> {
    let mut i = at + 1;
    let negate = matches!(p.get(i), Some('!'));
    if negate {
        i += 1;
    }
    let start = i;
    let mut hit = false;
    while i < p.len() {
        if p[i] == ']' && i > start {
            return Some((hit != negate, i + 1));
        }
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if p[i] <= c && c <= p[i + 2] {
                hit = true;
            }
            i += 3;
        } else {
            if p[i] == c {
                hit = true;
            }
            i += 1;
        }
    }
    None
}

/// docker-pkg's state for one image, as an action and a reason.
fn state(pull: bool, reg: Option<bool>, local: Option<bool>) -> (Action, String) {
    let reg_text = match reg {
        Some(true) => "in the registry",
        Some(false) => "not in the registry",
        None => "registry unknown",
    };
    if pull {
        if reg == Some(true) {
            (Action::Present, "in the registry".into())
        } else if local == Some(true) {
            (Action::Publish, format!("in the engine, {reg_text}"))
        } else if local.is_none() {
            (Action::Build, format!("{reg_text}, the engine unknown"))
        } else {
            (Action::Build, format!("{reg_text}, not in the engine"))
        }
    } else if local != Some(true) {
        (Action::Build, format!("not in the engine (--no-pull builds it even when {reg_text})"))
    } else if reg == Some(true) {
        (Action::Present, "in the engine and in the registry".into())
    } else {
        (Action::Publish, format!("in the engine, {reg_text}"))
    }
}

/// Parents before children, ties broken by name; images in a cycle last
/// (returned separately).
fn order(images: &[PlanImage]) -> (Vec<usize>, Vec<usize>) {
    let index: BTreeMap<&str, usize> = images.iter().enumerate().map(|(i, im)| (im.name.as_str(), i)).collect();
    let mut pending: Vec<usize> =
        images.iter().map(|im| im.parents.iter().filter(|p| index.contains_key(p.as_str())).count()).collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); images.len()];
    for (i, im) in images.iter().enumerate() {
        for p in &im.parents {
            if let Some(&pi) = index.get(p.as_str()) {
                children[pi].push(i);
            }
        }
    }
    let mut ready: BTreeSet<(&str, usize)> =
        (0..images.len()).filter(|&i| pending[i] == 0).map(|i| (images[i].name.as_str(), i)).collect();
    let mut out = Vec::new();
    while let Some(first) = ready.iter().next().copied() {
        ready.remove(&first);
        out.push(first.1);
        for &c in &children[first.1] {
            pending[c] -= 1;
            if pending[c] == 0 {
                ready.insert((images[c].name.as_str(), c));
            }
        }
    }
    let placed: BTreeSet<usize> = out.iter().copied().collect();
    let cyclic = (0..images.len()).filter(|i| !placed.contains(i)).collect();
    (out, cyclic)
}

/// Plans a run.
pub fn plan(images: &[PlanImage], opts: &PlanOptions) -> Plan {
    let (ordered, cyclic) = order(images);
    let by_name: BTreeMap<&str, usize> = images.iter().enumerate().map(|(i, im)| (im.name.as_str(), i)).collect();
    let selected: Vec<bool> =
        images.iter().map(|im| opts.globs.is_empty() || opts.globs.iter().any(|g| fnmatch(g, &im.label))).collect();
    let mut states: Vec<(Action, String)> =
        images.iter().map(|im| state(opts.pull, im.in_registry, im.in_engine)).collect();
    // A tag the engine holds from other inputs is built again, never
    // published as it is; so is one built on a parent this plan builds
    // again (parents first, so a rebuild carries down).
    for &i in &ordered {
        let im = &images[i];
        let engine_copy = states[i].0 == Action::Publish || (!opts.pull && states[i].0 == Action::Present);
        if !engine_copy || im.registry_stale.is_some() && im.in_registry == Some(true) {
            continue;
        }
        if let Some(why) = &im.stale {
            states[i] = (Action::StaleBuild, format!("stale-build: the engine's tag was {why}"));
        } else if let Some(p) = im.parents.iter().find(|p| {
            by_name.get(p.as_str()).is_some_and(|&pi| matches!(states[pi].0, Action::Build | Action::StaleBuild))
        }) {
            states[i] =
                (Action::StaleBuild, format!("stale-build: the engine's tag was built on a {p} that is built again"));
        }
    }
    let mut problems = Vec::new();
    for g in &opts.globs {
        if !images.iter().any(|im| fnmatch(g, &im.label)) {
            problems
                .push(format!("--select {g} matches no image (it matches full labels: registry/namespace/name:tag)"));
        }
    }
    for &i in &cyclic {
        problems.push(format!("{} is in a dependency cycle: not built", images[i].name));
    }
    // Selected images to build, and their ancestors that must be built.
    let mut wanted: BTreeSet<usize> = BTreeSet::new();
    let mut pulled_in: BTreeMap<usize, String> = BTreeMap::new();
    let mut stack: Vec<usize> = (0..images.len()).filter(|&i| selected[i]).collect();
    while let Some(i) = stack.pop() {
        if !wanted.insert(i) {
            continue;
        }
        for p in &images[i].parents {
            if let Some(&pi) = by_name.get(p.as_str())
                && matches!(states[pi].0, Action::Build | Action::StaleBuild)
                && !selected[pi]
            {
                pulled_in.entry(pi).or_insert_with(|| images[i].name.clone());
                stack.push(pi);
            }
        }
    }
    let cyclic: BTreeSet<usize> = cyclic.into_iter().collect();
    // Why each image cannot be built: its own files, a cycle, or a broken
    // parent (in build order, so a parent is decided before its children).
    let mut broken: BTreeMap<usize, String> = BTreeMap::new();
    for (i, im) in images.iter().enumerate() {
        if let Some(why) = &im.broken {
            broken.insert(i, why.clone());
            problems.push(format!("{} cannot be built: {why}", im.name));
        } else if let Some(why) = im.registry_stale.as_ref().filter(|_| im.in_registry == Some(true)) {
            let (_, tag) = crate::label::split_tag(&im.label);
            let why = format!(
                "{} is already published, {why}: give the change a new version (dockyard update {})",
                tag.unwrap_or("latest"),
                im.name
            );
            problems.push(format!("{}: {why}", im.name));
            broken.insert(i, why);
        } else if cyclic.contains(&i) {
            broken.insert(i, "in a dependency cycle: not built".into());
        }
    }
    let mut items = Vec::new();
    for i in ordered.into_iter().chain(cyclic.iter().copied()) {
        let im = &images[i];
        let (mut action, mut reason) = states[i].clone();
        if !broken.contains_key(&i)
            && let Some(p) =
                im.parents.iter().find(|p| by_name.get(p.as_str()).is_some_and(|pi| broken.contains_key(pi)))
        {
            broken.insert(i, format!("parent {p} cannot be built"));
        }
        if let Some(why) = broken.get(&i) {
            action = Action::Broken;
            reason = why.clone();
        } else if !wanted.contains(&i) {
            reason = format!("not selected ({reason})");
            action = Action::Present;
        } else if let Some(child) = pulled_in.get(&i) {
            reason = format!("{reason}; needed to build {child}");
        }
        if action == Action::Publish && !opts.push {
            action = Action::Present;
            reason = format!("{reason}; --push would verify and publish it");
        }
        if matches!(action, Action::Build | Action::StaleBuild) && opts.pull {
            let from_registry: Vec<&str> = im
                .parents
                .iter()
                .filter(|p| {
                    by_name
                        .get(p.as_str())
                        .is_some_and(|&pi| states[pi].0 == Action::Present && images[pi].in_engine != Some(true))
                })
                .map(String::as_str)
                .collect();
            if !from_registry.is_empty() {
                reason = format!("{reason}; pulls {} first", from_registry.join(", "));
            }
        }
        items.push(PlanItem {
            name: im.name.clone(),
            label: im.label.clone(),
            action,
            in_registry: im.in_registry,
            in_engine: im.in_engine,
            selected: selected[i],
            reason,
            parents: im.parents.clone(),
            pull: None,
        });
    }
    let critical_path = critical_path(&items);
    Plan {
        items,
        base_images: if opts.pull { opts.base_images.clone() } else { Vec::new() },
        selection: opts.globs.clone(),
        push: opts.push,
        pull: opts.pull,
        use_cache: opts.use_cache,
        jobs: opts.jobs.max(1),
        critical_path,
        problems,
        notes: Vec::new(),
    }
}

/// The longest chain of images with work to do, parents first.
pub fn critical_path(items: &[PlanItem]) -> Vec<String> {
    let pos: BTreeMap<&str, usize> = items.iter().enumerate().map(|(i, it)| (it.name.as_str(), i)).collect();
    let mut best: Vec<(usize, Option<usize>)> = vec![(0, None); items.len()];
    for (i, it) in items.iter().enumerate() {
        if matches!(it.action, Action::Present | Action::Broken) {
            continue;
        }
        let mut b = (1, None);
        for p in &it.parents {
            if let Some(&pi) = pos.get(p.as_str())
                && pi < i
                && !matches!(items[pi].action, Action::Present | Action::Broken)
                && best[pi].0 + 1 > b.0
            {
                b = (best[pi].0 + 1, Some(pi));
            }
        }
        best[i] = b;
    }
    let Some(mut end) = (0..items.len()).filter(|&i| best[i].0 > 0).max_by_key(|&i| (best[i].0, std::cmp::Reverse(i)))
    else {
        return Vec::new();
    };
    let mut path = vec![items[end].name.clone()];
    while let Some(p) = best[end].1 {
        path.push(items[p].name.clone());
        end = p;
    }
    path.reverse();
    path
}

/// The images a Dockerfile's `FROM` lines name, without build stages
/// (`FROM x AS stage` … `FROM stage`), `scratch` or `--platform=…`.
pub fn from_images(dockerfile: &str) -> Vec<String> {
    let mut stages: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for line in dockerfile.lines() {
        let mut words = line.split_whitespace();
        if !words.next().is_some_and(|w| w.eq_ignore_ascii_case("FROM")) {
            continue;
        }
        let Some(image) = words.find(|w| !w.starts_with("--")) else { continue };
        let rest: Vec<&str> = words.collect();
        if let [as_, name, ..] = rest.as_slice()
            && as_.eq_ignore_ascii_case("as")
        {
            stages.push(name.to_ascii_lowercase());
        }
        if image != "scratch" && !stages.contains(&image.to_ascii_lowercase()) && !out.iter().any(|o| o == image) {
            out.push(image.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::from_images;

    #[test]
    fn from_lines_name_images_not_stages() {
        let df = "FROM reg/ns/a:1 AS build\nRUN x\nFROM --platform=linux/amd64 docker.io/debian:12\nCOPY --from=build /a /a\nFROM build\nFROM scratch\n";
        assert_eq!(from_images(df), ["reg/ns/a:1", "docker.io/debian:12"]);
    }

    use super::*;

    #[test]
    fn broken_and_cyclic_images_and_their_children_stay_in_the_plan_as_broken() {
        let mut bad = img("php83", &["base"], Some(false), Some(false));
        bad.broken = Some("dockerfiles/php83/changelog:1: malformed changelog header".into());
        let images = vec![
            img("base", &[], Some(true), Some(true)),
            bad,
            img("child", &["php83"], Some(false), Some(false)),
            img("c1", &["c2"], Some(false), Some(false)),
            img("c2", &["c1"], Some(false), Some(false)),
            img("fine", &["base"], Some(false), Some(false)),
        ];
        let p = plan(&images, &PlanOptions { pull: true, push: true, jobs: 2, ..Default::default() });
        let got: BTreeMap<&str, (Action, &str)> =
            p.items.iter().map(|i| (i.name.as_str(), (i.action, i.reason.as_str()))).collect();
        assert_eq!(got.len(), 6, "an image left the plan: {got:?}");
        assert_eq!(got["php83"], (Action::Broken, "dockerfiles/php83/changelog:1: malformed changelog header"));
        assert_eq!(got["child"], (Action::Broken, "parent php83 cannot be built"));
        assert_eq!(got["c1"].0, Action::Broken);
        assert_eq!(got["c2"].0, Action::Broken);
        assert_eq!(got["fine"].0, Action::Build);
        assert_eq!(p.work().map(|i| i.name.as_str()).collect::<Vec<_>>(), ["fine"]);
        assert!(p.problems.iter().any(|m| m.contains("php83 cannot be built: dockerfiles/php83/changelog:1")));
        assert!(p.problems.iter().any(|m| m.contains("c1 is in a dependency cycle")));
    }

    #[test]
    fn fnmatch_like_python() {
        assert!(fnmatch("*python*", "reg/ns/python3:1.0"));
        assert!(fnmatch("*/ns/a:*", "reg/ns/a:1"));
        assert!(!fnmatch("*/ns/a:*", "reg/ns/ab:1"));
        assert!(fnmatch("reg/ns/[ab]:?", "reg/ns/b:1"));
        assert!(!fnmatch("reg/ns/[!ab]:?", "reg/ns/b:1"));
        assert!(fnmatch("a[", "a["));
        assert!(fnmatch("*", ""));
        assert!(!fnmatch("?", ""));
    }

    fn img(name: &str, parents: &[&str], reg: Option<bool>, local: Option<bool>) -> PlanImage {
        PlanImage {
            name: name.into(),
            label: format!("r/ns/{name}:1"),
            parents: parents.iter().map(|p| (*p).to_owned()).collect(),
            in_registry: reg,
            in_engine: local,
            broken: None,
            stale: None,
            registry_stale: None,
        }
    }

    #[test]
    fn a_stale_engine_copy_is_built_again_and_carries_down_and_a_stale_published_tag_is_broken() {
        let mut php = img("php83", &["bookworm"], Some(false), Some(true));
        php.stale = Some("built from another Dockerfile (sha256:0123)".into());
        let mut pub_stale = img("node", &[], Some(true), Some(true));
        pub_stale.registry_stale = Some("built from another context".into());
        let images = vec![
            img("bookworm", &[], Some(false), Some(false)),
            // In the engine only, but its parent is built again in this run.
            img("python", &["bookworm"], Some(false), Some(true)),
            php,
            img("composer", &["php83"], Some(false), Some(true)),
            pub_stale,
            img("fine", &[], Some(false), Some(true)),
        ];
        let p = plan(&images, &PlanOptions { pull: true, push: true, jobs: 2, ..Default::default() });
        let got: BTreeMap<&str, (Action, &str)> =
            p.items.iter().map(|i| (i.name.as_str(), (i.action, i.reason.as_str()))).collect();
        assert_eq!(got["bookworm"].0, Action::Build);
        assert_eq!(got["python"].0, Action::StaleBuild, "{:?}", got["python"]);
        assert!(got["python"].1.contains("bookworm"));
        assert_eq!(got["php83"].0, Action::StaleBuild);
        assert!(got["php83"].1.contains("another Dockerfile"));
        assert_eq!(got["composer"].0, Action::StaleBuild, "a child of a rebuilt parent is never published as is");
        assert_eq!(got["node"].0, Action::Broken);
        assert!(got["node"].1.contains("dockyard update node"), "{}", got["node"].1);
        assert_eq!(got["fine"].0, Action::Publish);
        assert!(p.problems.iter().any(|m| m.starts_with("node: 1 is already published")), "{:?}", p.problems);
    }

    #[test]
    fn docker_pkg_states_selection_and_order() {
        let images = vec![
            img("base", &[], Some(false), Some(false)),
            img("mid", &["base"], Some(true), Some(false)),
            img("leaf", &["mid"], Some(false), Some(false)),
            img("other", &["base"], Some(false), Some(true)),
            img("alone", &[], Some(false), Some(false)),
        ];
        let p = plan(
            &images,
            &PlanOptions { globs: vec!["*/leaf:*".into()], pull: true, push: true, jobs: 2, ..Default::default() },
        );
        let got: Vec<(&str, Action)> = p.items.iter().map(|i| (i.name.as_str(), i.action)).collect();
        // mid is in the registry: leaf builds on it, base is not needed.
        assert_eq!(
            got,
            [
                ("alone", Action::Present),
                ("base", Action::Present),
                ("mid", Action::Present),
                ("leaf", Action::Build),
                ("other", Action::Present)
            ]
        );
        assert!(p.items[3].reason.contains("pulls mid first"), "{}", p.items[3].reason);
        // --no-pull: everything not in the engine is built, ancestors pulled in.
        let p =
            plan(&images, &PlanOptions { globs: vec!["*/leaf:*".into()], pull: false, jobs: 2, ..Default::default() });
        let got: Vec<(&str, Action)> = p.items.iter().map(|i| (i.name.as_str(), i.action)).collect();
        assert_eq!(
            got,
            [
                ("alone", Action::Present),
                ("base", Action::Build),
                ("mid", Action::Build),
                ("leaf", Action::Build),
                ("other", Action::Present)
            ]
        );
        assert!(p.items[1].reason.contains("needed to build mid"), "{}", p.items[1].reason);
        assert_eq!(p.critical_path, ["base", "mid", "leaf"]);
        // Everything, with push: `other` is only local, but base is built
        // again, so it is too (docker-pkg would publish the copy built on
        // the old base).
        let p = plan(&images, &PlanOptions { pull: true, push: true, jobs: 2, ..Default::default() });
        assert_eq!(p.items.iter().find(|i| i.name == "other").unwrap().action, Action::StaleBuild);
        // With base in the engine, `other` is verified and published as it is.
        let mut kept = images.clone();
        kept[0].in_engine = Some(true);
        let p = plan(&kept, &PlanOptions { pull: true, push: true, jobs: 2, ..Default::default() });
        assert_eq!(p.items.iter().find(|i| i.name == "other").unwrap().action, Action::Publish);
        let p = plan(&images, &PlanOptions { globs: vec!["nothing".into()], pull: true, ..Default::default() });
        assert_eq!(p.problems.len(), 1);
    }
}
