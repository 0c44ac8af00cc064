//! `dockyard update`: the changelog entries docker-pkg's `update` writes,
//! for an image and every image below it. Pure: the caller supplies the
//! author and date, and writes the files (all of them, or none).
//!
//! Unlike docker-pkg, images are matched by exact name (docker-pkg's
//! `*NAME:*` glob also takes every image whose name ends in NAME).

use crate::catalog::Catalog;
use crate::changelog::{new_entry, next_version};
use crate::diag::Diagnostic;
use crate::graph::Graph;
use std::path::PathBuf;

/// One changelog to rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangelogUpdate {
    pub image: String,
    /// The changelog file (in the image folder).
    pub path: PathBuf,
    /// As shown in messages.
    pub display: PathBuf,
    pub old_version: String,
    pub new_version: String,
    pub original: String,
    pub contents: String,
}

/// Who writes the entries, and when.
#[derive(Debug, Clone)]
pub struct Author {
    /// `Name <email>`.
    pub signature: String,
    /// As docker-pkg formats it: `%a, %e %b %Y %H:%M:%S %z`.
    pub date: String,
}

/// The updates for `name` and everything below it: `name` gets `version`
/// (or the next `-sN`) and `reason`; the others the next `-sN` and
/// "Refresh for update in parent image NAME:" with the reason.
pub fn plan(
    catalogs: &[Catalog],
    graph: &Graph,
    name: &str,
    reason: &str,
    version: Option<&str>,
    author: &Author,
) -> Result<Vec<ChangelogUpdate>, Diagnostic> {
    let find = |n: &str| {
        catalogs.iter().find_map(|c| c.images.iter().find(|i| i.name == n && i.error.is_none()).map(|i| (c, i)))
    };
    let Some(_) = find(name) else {
        return Err(Diagnostic::new(
            catalogs.first().map_or(PathBuf::new(), |c| c.display_root.clone()),
            None,
            format!("no image named `{name}` in the catalog"),
        ));
    };
    let mut names: Vec<String> = vec![name.to_owned()];
    names.extend(graph.descendants(name).into_iter().filter(|n| n != name));
    // In a control cycle there is no order to bump in (docker-pkg bumped
    // every member, one of them twice, and the build never ran).
    let mut in_cycle: Vec<&String> = names.iter().filter(|n| graph.descendants(n).contains(*n)).collect();
    in_cycle.sort();
    if let Some(first) = in_cycle.first()
        && let Some((catalog, image)) = find(first)
    {
        return Err(Diagnostic::new(
            catalog.display_root.join(&image.rel_dir).join("control"),
            None,
            format!(
                "{} in a dependency cycle: fix the cycle before updating (nothing was changed)",
                in_cycle.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ")
                    + if in_cycle.len() == 1 { " is" } else { " are" }
            ),
        ));
    }
    let mut out = Vec::new();
    for n in &names {
        let Some((catalog, image)) = find(n) else { continue };
        let display = catalog.display_root.join(&image.rel_dir).join("changelog");
        let original = image.changelog_text(&catalog.files)?;
        let old = image.version.clone().unwrap_or_default();
        let (new_version, text) = if n == name {
            let next = next_version(&old, &catalog.config.update_id());
            let v = match version {
                // A version at or below the current one can never be built:
                // the first entry would not be the newest, or the tag exists.
                Some(v) if crate::version::DebVersion::parse(v).is_some()
                    && crate::version::compare(v, &old) != std::cmp::Ordering::Greater =>
                {
                    let hint = next.as_deref().map(|n| format!("; {n} would work")).unwrap_or_default();
                    return Err(Diagnostic::at(
                        &display,
                        1,
                        format!("--version {v} is not above the current version {old} (Debian order){hint}"),
                    ));
                }
                Some(v) => v.to_owned(),
                None => next.ok_or_else(|| {
                    Diagnostic::at(&display, 1, format!("cannot make a new version from `{old}` (docker-pkg's rule: digits, dots and dashes, then -{}N)", catalog.config.update_id()))
                })?,
            };
            (v, reason.to_owned())
        } else {
            let v = next_version(&old, &catalog.config.update_id())
                .ok_or_else(|| Diagnostic::at(&display, 1, format!("cannot make a new version from `{old}`")))?;
            (v, format!("Refresh for update in parent image {name}:\n{reason}"))
        };
        if crate::version::DebVersion::parse(&new_version).is_none() {
            return Err(Diagnostic::at(&display, 1, format!("`{new_version}` is not a valid Debian version")));
        }
        let entry = new_entry(
            &image.name,
            &new_version,
            &catalog.config.distribution(),
            &author.signature,
            &author.date,
            &text,
            true,
        );
        out.push(ChangelogUpdate {
            image: image.name.clone(),
            path: image.dir.join("changelog"),
            display,
            old_version: old,
            new_version,
            // python-debian keeps the lines before the first entry first.
            contents: {
                let lead = original.len() - original.trim_start_matches(['\n', '\r', ' ', '\t']).len();
                let lead = original[..lead].rfind('\n').map_or(0, |i| i + 1);
                format!("{}{entry}{}", &original[..lead], &original[lead..])
            },
            original,
        });
    }
    Ok(out)
}
