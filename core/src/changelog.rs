//! Debian-format changelogs. The first entry names the image and its version
//! (as docker-pkg tags it); [`parse_head`] reads only that line, [`parse`]
//! reads the full history on demand.

use crate::diag::Diagnostic;
use crate::version::DebVersion;
use std::path::Path;

/// The header of one changelog entry: `name (version) dists; urgency=...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub version: String,
    pub distributions: Vec<String>,
    pub metadata: String,
    /// 1-based line of the header.
    pub line: usize,
    /// Body lines between the header and the trailer, verbatim.
    pub changes: Vec<String>,
    /// The ` -- Author <email>  date` trailer's author and date.
    pub author: Option<String>,
    pub date: Option<String>,
}

/// `[-+0-9a-z.]`, matched case-insensitively as python-debian does.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.')
}

/// Parses a header line with python-debian's `topline` regex:
/// `^(\w[-+0-9a-z.]*) \(([^\(\) \t]+)\)((\s+[-+0-9a-z.]+)+)\;(.*)$`.
fn parse_header(line: &str, lineno: usize, file: &Path) -> Result<Entry, Diagnostic> {
    let bad = |what: &str| {
        Diagnostic::at(
            file,
            lineno,
            format!(
                "{what}; expected `name (version) distribution; urgency=...`, found `{}`",
                crate::limits::quote(line)
            ),
        )
    };
    let (name, rest) = line.split_once(" (").ok_or_else(|| bad("malformed changelog header"))?;
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_alphanumeric() || c == '_');
    if !first_ok || !chars.all(is_name_char) {
        return Err(bad("invalid package name"));
    }
    let (version, rest) = rest.split_once(')').ok_or_else(|| bad("unclosed version"))?;
    if version.is_empty() || version.contains(['(', ' ', '\t']) {
        return Err(bad("invalid version"));
    }
    if DebVersion::parse(version).is_none() {
        return Err(bad(&format!("invalid Debian version `{version}`")));
    }
    let (dists, metadata) = rest.split_once(';').ok_or_else(|| bad("missing `;` after distributions"))?;
    if !dists.starts_with(char::is_whitespace) {
        return Err(bad("missing distribution"));
    }
    let distributions: Vec<String> = dists.split_whitespace().map(str::to_owned).collect();
    if distributions.is_empty() || !distributions.iter().all(|d| d.chars().all(is_name_char)) {
        return Err(bad("invalid distribution"));
    }
    Ok(Entry {
        name: name.to_owned(),
        version: version.to_owned(),
        distributions,
        metadata: metadata.trim().to_owned(),
        line: lineno,
        changes: Vec::new(),
        author: None,
        date: None,
    })
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// Reads the first entry's header only: the fast path used by catalog scans.
pub fn parse_head(text: &str, file: &Path) -> Result<Entry, Diagnostic> {
    for (i, line) in text.lines().enumerate() {
        if is_blank(line) {
            continue;
        }
        return parse_header(line.trim_end(), i + 1, file);
    }
    Err(Diagnostic::new(file, None, "empty changelog: no entry names the image and its version"))
}

/// Reads every entry. Fails on the first malformed header.
pub fn parse(text: &str, file: &Path) -> Result<Vec<Entry>, Diagnostic> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut in_entry = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        if let Some(trailer) = line.strip_prefix(" -- ") {
            let Some(entry) = entries.last_mut().filter(|_| in_entry) else {
                return Err(Diagnostic::at(file, i + 1, "trailer line outside of an entry"));
            };
            let (author, date) = match trailer.split_once("  ") {
                Some((a, d)) => (a.trim(), Some(d.trim().to_owned())),
                None => (trailer.trim(), None),
            };
            entry.author = Some(author.to_owned());
            entry.date = date;
            in_entry = false;
        } else if entries.is_empty() && !line.trim().is_empty() && line.starts_with([' ', '\t']) {
            // The first non-blank line must be a header, as `parse_head` requires.
            return Err(parse_header(line, i + 1, file)
                .err()
                .unwrap_or_else(|| Diagnostic::at(file, i + 1, "expected a header")));
        } else if line.starts_with([' ', '\t']) || (in_entry && line.is_empty()) {
            if let Some(entry) = entries.last_mut().filter(|_| in_entry) {
                entry.changes.push(raw.to_owned());
            }
        } else if line.is_empty() {
            continue;
        } else {
            entries.push(parse_header(line, i + 1, file)?);
            in_entry = true;
        }
    }
    if entries.is_empty() {
        return Err(Diagnostic::new(file, None, "empty changelog: no entry names the image and its version"));
    }
    Ok(entries)
}

/// Every version a header line names, skipping lines that do not parse
/// (python-debian's lenient mode): the history the lint checks pins against.
pub fn versions(text: &str) -> Vec<String> {
    let nowhere = Path::new("");
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with([' ', '\t']))
        .filter_map(|l| parse_header(l.trim_end(), 0, nowhere).ok())
        .map(|e| e.version)
        .collect()
}

/// Every entry's version with the time its trailer gives (seconds since
/// the epoch), leniently (python-debian's lenient mode): what "how long ago
/// was this version superseded" is computed from.
pub fn timeline(text: &str) -> Vec<(String, Option<i64>)> {
    let nowhere = Path::new("");
    let mut out: Vec<(String, Option<i64>)> = Vec::new();
    for line in text.lines() {
        if let Some(trailer) = line.strip_prefix(" -- ") {
            if let (Some(last), Some((_, date))) = (out.last_mut(), trailer.split_once("  "))
                && last.1.is_none()
            {
                last.1 = parse_date(date.trim());
            }
        } else if !line.is_empty()
            && !line.starts_with([' ', '\t'])
            && let Ok(e) = parse_header(line.trim_end(), 0, nowhere)
        {
            out.push((e.version, None));
        }
    }
    out
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD` (UTC) of seconds since the epoch.
pub fn ymd(unix: i64) -> String {
    let (y, m, d) = civil_from_days(unix.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Parses an RFC 2822 changelog date (`Mon, 20 Apr 2026 10:43:48 -0400`)
/// into seconds since the epoch.
pub fn parse_date(s: &str) -> Option<i64> {
    let mut parts = s.split_whitespace();
    let mut first = parts.next()?;
    if first.ends_with(',') {
        first = parts.next()?;
    }
    let day: i64 = first.parse().ok()?;
    let month_name = parts.next()?.get(..3)?;
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month_name))? as i64 + 1;
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|x| x.parse::<i64>().ok());
    let (h, mi, sec) = (hms.next()??, hms.next()??, hms.next().flatten().unwrap_or(0));
    let zone = parts.next().unwrap_or("+0000");
    let offset = match zone.as_bytes() {
        [sign @ (b'+' | b'-'), rest @ ..] if rest.len() == 4 => {
            let v: i64 = std::str::from_utf8(rest).ok()?.parse().ok()?;
            let mins = (v / 100) * 60 + v % 100;
            if *sign == b'-' { -mins } else { mins }
        }
        _ => 0,
    };
    if !(1..=31).contains(&day) || !(0..24).contains(&h) || !(0..60).contains(&mi) || !(0..=60).contains(&sec) {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + mi * 60 + sec - offset * 60)
}

/// `time.strftime("%a, %e %b %Y %H:%M:%S %z")` for a UTC time, as
/// docker-pkg dates its entries (`%e`: the day padded with a space).
pub fn format_date(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let weekday = DAYS[days.rem_euclid(7) as usize];
    format!(
        "{weekday}, {d:>2} {} {y} {:02}:{:02}:{:02} +0000",
        MONTHS[(m - 1) as usize],
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// docker-pkg's `new_tag`: `^([\d\-\.]+?)(-ID(\d+))?$` on the current
/// version; `BASE-ID(N+1)`, or `VERSION-ID1` for a version without one.
/// `None` where docker-pkg fails ("Was not able to match version").
pub fn next_version(current: &str, update_id: &str) -> Option<String> {
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'-' || b == b'.');
    let marker = format!("-{update_id}");
    if let Some(i) = current.rfind(&marker) {
        let (base, digits) = (&current[..i], &current[i + marker.len()..]);
        if numeric(base) && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            let n: u128 = digits.parse().ok()?;
            return Some(format!("{base}-{update_id}{}", n + 1));
        }
    }
    numeric(current).then(|| format!("{current}-{update_id}1"))
}

/// The entry docker-pkg's `create_update` prepends (python-debian's block
/// format: the reason's lines indented by three spaces between blank lines,
/// urgency high, and a blank line after the trailer when older entries follow).
pub fn new_entry(
    name: &str,
    version: &str,
    distribution: &str,
    author: &str,
    date: &str,
    reason: &str,
    more: bool,
) -> String {
    let mut s = format!("{name} ({version}) {distribution}; urgency=high\n\n");
    for line in reason.split('\n') {
        s.push_str("   ");
        s.push_str(line);
        s.push('\n');
    }
    s.push_str(&format!("\n -- {author}  {date}\n"));
    if more {
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "ci-trixie (0.8.1) wikimedia; urgency=high\n\n   Update\n\n -- J. F. <j@w.org>  Mon, 20 Apr 2026 10:43:48 -0400\n\nci-trixie (1.0.0) wikimedia; urgency=medium\n\n  * Initial\n\n -- J. F. <j@w.org>  Sun, 19 Apr 2026 10:43:48 -0400\n";

    #[test]
    fn head_is_the_first_entry_not_the_highest() {
        let e = parse_head(TEXT, Path::new("changelog")).unwrap();
        assert_eq!((e.name.as_str(), e.version.as_str(), e.line), ("ci-trixie", "0.8.1", 1));
    }

    #[test]
    fn full_history() {
        let all = parse(TEXT, Path::new("changelog")).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].version, "1.0.0");
        assert_eq!(all[1].line, 7);
        assert_eq!(all[0].author.as_deref(), Some("J. F. <j@w.org>"));
        assert_eq!(all[0].changes, vec!["", "   Update", ""]);
    }

    #[test]
    fn versions_are_lenient_and_case_insensitive() {
        let text = "a (2.0) wikimedia; urgency=high\n\ngarbage line\n\na (1.0) UNRELEASED; urgency=low\n";
        assert_eq!(versions(text), ["2.0", "1.0"]);
        assert!(parse(text, Path::new("c")).is_err());
    }

    #[test]
    fn dates_round_trip_and_parse() {
        assert_eq!(parse_date("Thu, 01 Jan 1970 00:00:00 +0000"), Some(0));
        assert_eq!(parse_date("Mon, 20 Apr 2026 10:43:48 -0400"), Some(1776696228));
        assert_eq!(format_date(0), "Thu,  1 Jan 1970 00:00:00 +0000");
        assert_eq!(format_date(1776696228), "Mon, 20 Apr 2026 14:43:48 +0000");
        assert_eq!(parse_date(&format_date(1_800_000_123)), Some(1_800_000_123));
        assert_eq!(parse_date("garbage"), None);
        let t = timeline(TEXT);
        assert_eq!(t[0], ("0.8.1".to_owned(), parse_date("Mon, 20 Apr 2026 10:43:48 -0400")));
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn next_versions_follow_docker_pkg() {
        assert_eq!(next_version("0.8.1", "s").as_deref(), Some("0.8.1-s1"));
        assert_eq!(next_version("3.11.2-s2", "s").as_deref(), Some("3.11.2-s3"));
        assert_eq!(next_version("20.18.0-1-s3", "s").as_deref(), Some("20.18.0-1-s4"));
        assert_eq!(next_version("1-2-3", "").as_deref(), Some("1-2-4"));
        assert_eq!(next_version("1.10-0.s3", "s"), None);
        assert_eq!(next_version("1.0-s", "s"), None);
    }

    #[test]
    fn broken_header_names_the_line() {
        let err = parse_head("\n\nfoo 1.0 wikimedia\n", Path::new("x/changelog")).unwrap_err();
        assert_eq!(err.line, Some(3));
        assert!(err.to_string().starts_with("x/changelog:3: "), "{err}");
        let err = parse_head("foo (1.0 beta) wikimedia; urgency=low", Path::new("c")).unwrap_err();
        assert!(err.message.contains("invalid version"), "{err}");
        assert!(parse_head("", Path::new("c")).is_err());
        // Found by fuzzing: an indented first line fails both parsers alike.
        let text = "  * a (1.0) wikimedia; urgency=high\n\nb (2.0) wikimedia; urgency=low\n";
        assert_eq!(parse_head(text, Path::new("c")).unwrap_err().line, Some(1));
        assert_eq!(parse(text, Path::new("c")).unwrap_err().line, Some(1));
    }
}
