//! Debian version strings: validation (as python-debian does it) and ordering
//! (as `dpkg --compare-versions` does it).

use std::cmp::Ordering;

/// A Debian version split into epoch, upstream version and revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebVersion<'a> {
    pub epoch: Option<&'a str>,
    pub upstream: &'a str,
    pub revision: Option<&'a str>,
}

fn is_upstream_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | ':' | '~' | '-')
}

fn is_revision_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~')
}

impl<'a> DebVersion<'a> {
    /// Parses like python-debian's `BaseVersion`: the regex
    /// `^((\d+):)?([A-Za-z0-9.+:~-]+?)(-([A-Za-z0-9+.~]+))?$`.
    /// Returns `None` for a string python-debian rejects.
    pub fn parse(s: &'a str) -> Option<Self> {
        let (epoch, rest) = match s.split_once(':') {
            Some((e, r)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => (Some(e), r),
            _ => (None, s),
        };
        if rest.is_empty() || !rest.chars().all(is_upstream_char) {
            return None;
        }
        // The lazy upstream group takes the shortest prefix after which an
        // optional `-revision` ends the string: the revision holds no `-`, so
        // it is whatever follows the last `-`, when that is non-empty and valid.
        if let Some(i) = rest.rfind('-') {
            let rev = &rest[i + 1..];
            if i > 0 && !rev.is_empty() && rev.chars().all(is_revision_char) {
                return Some(DebVersion { epoch, upstream: &rest[..i], revision: Some(rev) });
            }
        }
        Some(DebVersion { epoch, upstream: rest, revision: None })
    }
}

/// Compares two version strings in Debian order (`dpkg --compare-versions`).
/// Strings that do not parse compare as if they were an upstream version alone.
pub fn compare(a: &str, b: &str) -> Ordering {
    let pa = DebVersion::parse(a).unwrap_or(DebVersion { epoch: None, upstream: a, revision: None });
    let pb = DebVersion::parse(b).unwrap_or(DebVersion { epoch: None, upstream: b, revision: None });
    let ea: u64 = pa.epoch.and_then(|e| e.parse().ok()).unwrap_or(0);
    let eb: u64 = pb.epoch.and_then(|e| e.parse().ok()).unwrap_or(0);
    ea.cmp(&eb)
        .then_with(|| verrevcmp(pa.upstream, pb.upstream))
        .then_with(|| verrevcmp(pa.revision.unwrap_or("0"), pb.revision.unwrap_or("0")))
}

fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => c as i32,
        Some(c) => c as i32 + 256,
    }
}

/// dpkg's `verrevcmp`: alternating non-digit and digit runs.
fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let mut first_diff = 0;
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ac = order(a.get(i).copied().filter(|c| !c.is_ascii_digit()));
            let bc = order(b.get(j).copied().filter(|c| !c.is_ascii_digit()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            if i < a.len() && !a[i].is_ascii_digit() {
                i += 1;
            }
            if j < b.len() && !b[j].is_ascii_digit() {
                j += 1;
            }
        }
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        while i < a.len() && a[i].is_ascii_digit() && j < b.len() && b[j].is_ascii_digit() {
            if first_diff == 0 {
                first_diff = a[i] as i32 - b[j] as i32;
            }
            i += 1;
            j += 1;
        }
        if i < a.len() && a[i].is_ascii_digit() {
            return Ordering::Greater;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            return Ordering::Less;
        }
        if first_diff != 0 {
            return first_diff.cmp(&0);
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_python_debian() {
        let v = DebVersion::parse("1:2.3-4").unwrap();
        assert_eq!((v.epoch, v.upstream, v.revision), (Some("1"), "2.3", Some("4")));
        let v = DebVersion::parse("24.18.0-s1").unwrap();
        assert_eq!((v.upstream, v.revision), ("24.18.0", Some("s1")));
        let v = DebVersion::parse("1.0-").unwrap();
        assert_eq!((v.upstream, v.revision), ("1.0-", None));
        assert!(DebVersion::parse("1.0 beta").is_none());
        assert!(DebVersion::parse("").is_none());
    }

    #[test]
    fn orders_like_dpkg() {
        use Ordering::*;
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1.0-s2", "1.0-s10", Less),
            ("1.10-0.s3", "1.10.0-s2", Less),
            ("0.8.1", "1.0.0", Less),
            ("1:0.1", "2.0", Greater),
            ("1.0a", "1.0+", Less),
            ("1.0-1", "1.0", Greater),
            ("01", "1", Equal),
        ] {
            assert_eq!(compare(a, b), want, "{a} vs {b}");
            assert_eq!(compare(b, a), want.reverse(), "{b} vs {a}");
        }
    }
}
