//! `impact` for people (a Gerrit comment: short, worst first, ending with
//! the command that bumps what is missing) and for Jenkins (JUnit).

use super::{sanitize, xml};
use dockyard_api::{Change, ImpactReport, PinImpact};
use std::fmt::Write as _;

fn what(c: Change) -> &'static str {
    match c {
        Change::Unbumped => "changed without a version bump: merged as is, it is never built",
        Change::StaleParent => "keeps its old parent until it is bumped",
        Change::Bumped => "bumped",
        Change::Added => "added",
        Change::Removed => "removed",
        Change::OutsideImage => "only files outside the image changed",
        Change::Unchanged => "unchanged",
        Change::Broken => "does not load: it can be neither built nor compared",
    }
}

fn versions(i: &dockyard_api::ImpactImage) -> String {
    match (&i.base_version, &i.head_version) {
        (Some(b), Some(h)) if b != h => format!(" {b} -> {h}"),
        (_, Some(h)) => format!(" {h}"),
        (Some(b), None) => format!(" {b}"),
        _ => String::new(),
    }
}

/// The text report.
pub fn text(r: &ImpactReport) -> String {
    let mut s = String::new();
    let mut counts: Vec<String> = Vec::new();
    for c in [
        Change::Broken,
        Change::Unbumped,
        Change::Removed,
        Change::StaleParent,
        Change::Bumped,
        Change::Added,
        Change::OutsideImage,
    ] {
        let n = r.images.iter().filter(|i| i.change == c).count();
        if n > 0 {
            counts.push(format!("{n} {}", c.as_str()));
        }
    }
    let errors = r.pins.iter().filter(|p| p.error).count();
    let _ = writeln!(
        s,
        "dockyard impact {}..{}: {}{}",
        sanitize(&r.base),
        sanitize(&r.head),
        if counts.is_empty() { "no image changes".to_owned() } else { counts.join(", ") },
        if errors > 0 { format!(", {errors} pin error(s)") } else { String::new() }
    );
    for i in &r.images {
        let mark = match i.change {
            Change::Broken | Change::Unbumped | Change::Removed => "✗",
            Change::StaleParent => "!",
            _ => "·",
        };
        let _ = write!(
            s,
            "{mark} {:13} {}{}: {}",
            i.change.as_str(),
            sanitize(&i.name),
            sanitize(&versions(i)),
            what(i.change)
        );
        if !i.bumped_ancestors.is_empty() {
            let _ = write!(s, " ({} bumped)", sanitize(&i.bumped_ancestors.join(", ")));
        }
        s.push('\n');
        for p in &i.unbuilt_parents {
            let _ =
                writeln!(s, "✗     its new parent {} is not published, and this change does not build it", sanitize(p));
        }
        if let Some(why) = &i.published_differs {
            let _ = writeln!(s, "✗     {}", sanitize(why));
        }
        if matches!(i.change, Change::Unbumped | Change::OutsideImage | Change::Bumped) {
            for f in i.files.iter().take(8) {
                let _ = writeln!(s, "      {}", sanitize(f));
            }
            if i.files.len() > 8 {
                let _ = writeln!(s, "      … and {} more", i.files.len() - 8);
            }
        }
    }
    for p in &r.pins {
        let tag = p.version.as_deref().unwrap_or("");
        let line = match p.impact {
            PinImpact::RemovedImage => {
                format!("✗ {}:{} pins {}:{tag}, an image this change removes", p.file, p.line, p.image)
            }
            PinImpact::UnpublishedUntilMerge => {
                let published = match p.published {
                    Some(true) => " (already published)",
                    Some(false) => " (not published yet: it fails until the image is built after the merge)",
                    None => " (fails until the image is built after the merge)",
                };
                format!("△ {}:{} pins {}:{tag}, a version this change introduces{published}", p.file, p.line, p.image)
            }
        };
        let _ = writeln!(s, "{}", sanitize(&line));
    }
    for f in &r.unowned {
        let _ = writeln!(s, "· {}: in no image (a change here builds nothing)", sanitize(f));
    }
    for p in &r.problems {
        let _ = writeln!(s, "error: {}", sanitize(&p.to_string()));
    }
    if !r.update_commands.is_empty() {
        let _ = writeln!(s, "To bump what is missing:");
        for c in &r.update_commands {
            let _ = writeln!(s, "  {}", sanitize(c));
        }
    }
    s
}

/// Whether an image fails the gate (as `ImpactReport::fails` counts it).
fn image_fails(i: &dockyard_api::ImpactImage) -> bool {
    matches!(i.change, Change::Unbumped | Change::Broken)
        || !i.unbuilt_parents.is_empty()
        || i.published_differs.is_some()
}

/// JUnit: one test case per image touched and per pin.
pub fn junit(r: &ImpactReport) -> String {
    let failures = r.images.iter().filter(|i| image_fails(i)).count() + r.pins.iter().filter(|p| p.error).count();
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuites><testsuite name=\"dockyard impact\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">",
        r.images.len() + r.pins.len()
    );
    for i in &r.images {
        let name = xml(&format!("{} {}", i.name, i.change.as_str()));
        let class = "dockyard-impact.images";
        if image_fails(i) {
            let message = i.published_differs.clone().unwrap_or_else(|| {
                if i.unbuilt_parents.is_empty() {
                    what(i.change).to_owned()
                } else {
                    format!("new parents not published: {}", i.unbuilt_parents.join(", "))
                }
            });
            let _ = writeln!(
                s,
                "  <testcase classname=\"{class}\" name=\"{name}\"><failure type=\"{}\" message=\"{}\">{}</failure></testcase>",
                i.change.as_str(),
                xml(&message),
                xml(&i.files.join("\n"))
            );
        } else {
            let _ = writeln!(
                s,
                "  <testcase classname=\"{class}\" name=\"{name}\"><system-out>{}</system-out></testcase>",
                xml(what(i.change))
            );
        }
    }
    for p in &r.pins {
        let name = xml(&format!("{}:{} {}", p.file, p.line, p.image));
        if p.error {
            let _ = writeln!(
                s,
                "  <testcase classname=\"dockyard-impact.pins\" name=\"{name}\"><failure type=\"removed-image\" message=\"the change removes {}\"/></testcase>",
                xml(&p.image)
            );
        } else {
            let _ = writeln!(
                s,
                "  <testcase classname=\"dockyard-impact.pins\" name=\"{name}\"><system-out>unpublished until merge</system-out></testcase>"
            );
        }
    }
    s.push_str("</testsuite></testsuites>\n");
    s
}
