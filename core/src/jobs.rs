//! Which Jenkins Job Builder job a pin is written in: the top-level items
//! of a JJB file (`- job:`, `- job-template:`, `- project:`,
//! `- job-group:`), their names, and the jobs a project or a group lists.
//!
//! Line-based on purpose: lint reads the YAML tree only when a placeholder
//! needs it (most files have none), and JJB files put one item per
//! top-level list entry, its keys indented under it. Cost: one pass over
//! the lines of a file that has pins.

use dockyard_api::{JobKind, JobRef};
use std::collections::{BTreeMap, BTreeSet};

/// One top-level item of a JJB file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub kind: JobKind,
    pub name: Option<String>,
    /// 1-based lines of the header and of the item's last line.
    pub first_line: usize,
    pub last_line: usize,
    /// The entries of its `jobs:` list (a project's or a group's): the
    /// line each starts on, and the name.
    pub jobs: Vec<(usize, String)>,
}

fn kind_of(key: &str) -> Option<JobKind> {
    Some(match key {
        "job" => JobKind::Job,
        "job-template" => JobKind::JobTemplate,
        "project" => JobKind::Project,
        "job-group" => JobKind::JobGroup,
        "builder" => JobKind::Builder,
        "publisher" => JobKind::Publisher,
        "wrapper" => JobKind::Wrapper,
        _ => return None,
    })
}

/// `'x'`, `"x"` or `x`, trimmed.
fn unquote(s: &str) -> String {
    let s = s.trim();
    let inner = s
        .strip_prefix('\'')
        .and_then(|r| r.strip_suffix('\''))
        .or_else(|| s.strip_prefix('"').and_then(|r| r.strip_suffix('"')));
    inner.unwrap_or(s).to_owned()
}

/// A list entry's name: `- name`, `- 'name':` (with parameters under it),
/// `- name: {…}`.
fn entry_name(rest: &str) -> Option<String> {
    let rest = rest.trim();
    let name = match rest.strip_prefix('\'').and_then(|r| r.split_once('\'')) {
        Some((quoted, _)) => quoted.to_owned(),
        None => match rest.strip_prefix('"').and_then(|r| r.split_once('"')) {
            Some((quoted, _)) => quoted.to_owned(),
            None => rest.split_once(": ").map_or(rest.trim_end_matches(':'), |(n, _)| n).trim().to_owned(),
        },
    };
    (!name.is_empty() && !name.starts_with('#')).then_some(name)
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// The item being read: the indentation of its keys (its first key's),
/// and, inside its `jobs:` list, the list's and its entries' indentation.
struct Open {
    item: Item,
    key_indent: Option<usize>,
    jobs: Option<(usize, Option<usize>)>,
}

/// The top-level items of a JJB file, in order.
pub fn items(text: &str) -> Vec<Item> {
    let mut items: Vec<Item> = Vec::new();
    let mut current: Option<Open> = None;
    let finish = |cur: Option<Open>, items: &mut Vec<Item>| {
        if let Some(open) = cur {
            items.push(open.item);
        }
    };
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let trimmed = line.trim_start_matches(' ');
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("- ") {
            finish(current.take(), &mut items);
            let key = rest.split(':').next().unwrap_or("").trim();
            current = kind_of(key).map(|kind| Open {
                item: Item { kind, name: None, first_line: n, last_line: n, jobs: Vec::new() },
                key_indent: None,
                jobs: None,
            });
            continue;
        }
        if indent(line) == 0 {
            // Anything else at the left margin ends the item.
            finish(current.take(), &mut items);
            continue;
        }
        let Some(Open { item, key_indent, jobs }) = current.as_mut() else { continue };
        item.last_line = n;
        let at = indent(line);
        let keys = *key_indent.get_or_insert(at);
        if at == keys {
            *jobs = None;
            if let Some(v) = trimmed.strip_prefix("name:") {
                if item.name.is_none() {
                    item.name = Some(unquote(v)).filter(|s| !s.is_empty());
                }
            } else if trimmed.trim_end() == "jobs:" {
                *jobs = Some((keys, None));
            }
        } else if let Some((_, entries)) = jobs.as_mut()
            && let Some(rest) = trimmed.strip_prefix("- ")
        {
            let entries = *entries.get_or_insert(at);
            if at == entries
                && let Some(name) = entry_name(rest)
            {
                item.jobs.push((n, name));
            }
        }
    }
    finish(current.take(), &mut items);
    items
}

/// The projects a pin's job names at most (a hostile file could make one
/// template every project's).
pub const MAX_PROJECTS: usize = 20;

/// Jobs and templates by the projects that list them, directly or through
/// a job group, over all the files' items.
#[derive(Debug, Default)]
pub struct Projects {
    /// Projects by the job, template or group they list.
    by_job: BTreeMap<String, BTreeSet<String>>,
    /// The groups each job or template is in.
    groups_of: BTreeMap<String, BTreeSet<String>>,
}

impl Projects {
    /// One pass over every project's and group's `jobs:` entries: work in
    /// proportion to the files, whatever they name.
    pub fn of<'a>(files: impl IntoIterator<Item = &'a [Item]>) -> Projects {
        let mut p = Projects::default();
        for item in files.into_iter().flatten() {
            let (Some(name), true) = (&item.name, matches!(item.kind, JobKind::Project | JobKind::JobGroup)) else {
                continue;
            };
            let map = if item.kind == JobKind::Project { &mut p.by_job } else { &mut p.groups_of };
            for (_, job) in &item.jobs {
                map.entry(job.clone()).or_default().insert(name.clone());
            }
        }
        p
    }

    /// The projects that list `job`, directly or through its groups, at
    /// most [`MAX_PROJECTS`].
    fn projects_of(&self, job: &str) -> Vec<String> {
        let direct = self.by_job.get(job).into_iter().flatten();
        let groups = self.groups_of.get(job).into_iter().flatten();
        let via_groups = groups.flat_map(|g| self.by_job.get(g).into_iter().flatten());
        let all: BTreeSet<&String> = direct.chain(via_groups).take(MAX_PROJECTS * 8).collect();
        all.into_iter().take(MAX_PROJECTS).cloned().collect()
    }

    /// The job around `line` of a file with `items`, and the projects that
    /// make it a job.
    pub fn job_at(&self, items: &[Item], line: usize) -> Option<JobRef> {
        // Items, and the entries of each, are in line order: found by
        // bisection, so a file's thousands of pins cost a log each.
        let at = items.partition_point(|i| i.first_line <= line).checked_sub(1)?;
        let item = items.get(at).filter(|i| line <= i.last_line)?;
        let name = item.name.clone()?;
        let entry = item.jobs.partition_point(|(at, _)| *at <= line).checked_sub(1).map(|i| item.jobs[i].1.clone());
        let projects: Vec<String> = match item.kind {
            JobKind::Project => vec![name.clone()],
            JobKind::Builder | JobKind::Publisher | JobKind::Wrapper => Vec::new(),
            JobKind::Job | JobKind::JobTemplate | JobKind::JobGroup => self.projects_of(&name),
        };
        Some(JobRef { kind: item.kind, name, entry, projects })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JJB: &str = "\
- job-template:
    name: '{name}-composer-{phpflavor}'
    node: Docker
    builders:
      - docker-run:
          image: docker-registry.wikimedia.org/releng/composer-php81:1.0

# a comment at the margin does not end the item
- project:
    name: 'mediawiki'
    php:
        - php81:
            image: docker-registry.wikimedia.org/releng/composer-php81:1.0
    jobs:
        - '{name}-composer-{phpflavor}':
            phpflavor:
                - php81:
                    image: docker-registry.wikimedia.org/releng/composer-php81:1.0
        - mediawiki-fresh
        - core-group

- job:
    name: mediawiki-fresh
    builders:
      - shell: docker run docker-registry.wikimedia.org/releng/node20:1.0

- job-group:
    name: core-group
    jobs:
      - core-lint
- builder:
    name: not-a-job
";

    #[test]
    fn a_hostile_file_costs_its_size_and_names_few_projects() {
        // 20,000 projects each listing one template, and 20,000 pins in it.
        let mut text = String::from("- job-template:\n    name: t\n");
        for _ in 0..20_000 {
            text.push_str("    x: reg/ns/a:1\n");
        }
        for i in 0..20_000 {
            text.push_str(&format!("- project:\n    name: p{i}\n    jobs:\n      - t\n"));
        }
        let started = std::time::Instant::now();
        let items = items(&text);
        let projects = Projects::of([&items[..]]);
        for line in 3..20_003 {
            assert_eq!(projects.job_at(&items, line).unwrap().projects.len(), MAX_PROJECTS);
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    }

    #[test]
    fn items_names_and_job_lists() {
        let items = items(JJB);
        type Summary<'a> = (JobKind, Option<&'a str>, usize, usize, Vec<&'a str>);
        let summary: Vec<Summary> = items
            .iter()
            .map(|i| {
                (i.kind, i.name.as_deref(), i.first_line, i.last_line, i.jobs.iter().map(|j| j.1.as_str()).collect())
            })
            .collect();
        assert_eq!(
            summary,
            [
                (JobKind::JobTemplate, Some("{name}-composer-{phpflavor}"), 1, 6, vec![]),
                (
                    JobKind::Project,
                    Some("mediawiki"),
                    9,
                    20,
                    vec!["{name}-composer-{phpflavor}", "mediawiki-fresh", "core-group"]
                ),
                (JobKind::Job, Some("mediawiki-fresh"), 22, 25, vec![]),
                (JobKind::JobGroup, Some("core-group"), 27, 30, vec!["core-lint"]),
                (JobKind::Builder, Some("not-a-job"), 31, 32, vec![]),
            ]
        );
    }

    #[test]
    fn a_pin_is_named_by_its_job_and_the_projects_that_make_it() {
        let items = items(JJB);
        let projects = Projects::of([&items[..]]);
        let at = |line| projects.job_at(&items, line);
        let template = at(6).unwrap();
        assert_eq!((template.kind, template.name.as_str()), (JobKind::JobTemplate, "{name}-composer-{phpflavor}"));
        assert_eq!(template.projects, ["mediawiki"]);
        // In a project, before its jobs list: the project's parameters.
        let project = at(13).unwrap();
        assert_eq!((project.kind, project.entry.as_deref()), (JobKind::Project, None));
        // Under a jobs entry: that entry.
        let entry = at(18).unwrap();
        assert_eq!(entry.entry.as_deref(), Some("{name}-composer-{phpflavor}"));
        assert_eq!(at(25).unwrap().projects, ["mediawiki"]);
        // A group a project lists is that project's, and so are its members.
        assert_eq!(projects.job_at(&items, 30).unwrap().projects, ["mediawiki"]);
        assert_eq!(projects.projects_of("core-lint"), ["mediawiki"]);
        // Outside any item; in a macro, named as one.
        assert_eq!(at(8), None);
        assert_eq!(at(32).map(|j| (j.kind, j.name)), Some((JobKind::Builder, "not-a-job".to_owned())));
    }
}
