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

/// Jobs and templates by the projects that list them, directly or through
/// a job group, over all the files' items.
#[derive(Debug, Default)]
pub struct Projects {
    by_job: BTreeMap<String, BTreeSet<String>>,
}

impl Projects {
    pub fn of<'a>(files: impl IntoIterator<Item = &'a [Item]>) -> Projects {
        let all: Vec<&Item> = files.into_iter().flatten().collect();
        let groups: BTreeMap<&str, &Item> = all
            .iter()
            .filter(|i| i.kind == JobKind::JobGroup)
            .filter_map(|i| i.name.as_deref().map(|n| (n, *i)))
            .collect();
        let mut by_job: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for project in all.iter().filter(|i| i.kind == JobKind::Project) {
            let Some(name) = &project.name else { continue };
            for (_, job) in &project.jobs {
                by_job.entry(job.clone()).or_default().insert(name.clone());
                if let Some(group) = groups.get(job.as_str()) {
                    for (_, member) in &group.jobs {
                        by_job.entry(member.clone()).or_default().insert(name.clone());
                    }
                }
            }
        }
        Projects { by_job }
    }

    /// The job around `line` of a file with `items`, and the projects that
    /// make it a job.
    pub fn job_at(&self, items: &[Item], line: usize) -> Option<JobRef> {
        let item = items.iter().find(|i| i.first_line <= line && line <= i.last_line)?;
        let name = item.name.clone()?;
        let entry = item.jobs.iter().rev().find(|(at, _)| *at <= line).map(|(_, job)| job.clone());
        let projects: Vec<String> = match item.kind {
            JobKind::Project => vec![name.clone()],
            JobKind::Builder | JobKind::Publisher | JobKind::Wrapper => Vec::new(),
            JobKind::Job | JobKind::JobTemplate | JobKind::JobGroup => {
                self.by_job.get(&name).map(|p| p.iter().cloned().collect()).unwrap_or_default()
            }
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
        assert!(projects.by_job.get("core-lint").is_some_and(|p| p.contains("mediawiki")));
        // Outside any item; in a macro, named as one.
        assert_eq!(at(8), None);
        assert_eq!(at(32).map(|j| (j.kind, j.name)), Some((JobKind::Builder, "not-a-job".to_owned())));
    }
}
