//! Image labels as docker-pkg forms them: `os.path.join(registry, namespace, name)`,
//! then `:version`.

/// Python's `os.path.join` for POSIX paths.
pub fn path_join(parts: &[&str]) -> String {
    let mut out = String::new();
    for part in parts {
        if part.starts_with('/') {
            out.clear();
            out.push_str(part);
        } else if out.is_empty() || out.ends_with('/') {
            out.push_str(part);
        } else {
            out.push('/');
            out.push_str(part);
        }
    }
    out
}

/// `registry/namespace/name` (empty parts skipped as `os.path.join` does).
pub fn image_name(registry: &str, namespace: &str, short: &str) -> String {
    path_join(&[registry, namespace, short])
}

/// `registry/namespace/`: what every pin of a catalog's images starts with
/// (empty when neither is set).
pub fn pin_prefix(registry: &str, namespace: &str) -> String {
    image_name(registry, namespace, "")
}

/// Splits `name:tag` the way docker-pkg does: exactly one `:` or nothing.
pub fn split_tag_strict(label: &str) -> Option<(&str, &str)> {
    let (name, tag) = label.split_once(':')?;
    (!tag.contains(':')).then_some((name, tag))
}

/// Whether `tag` is a Docker tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c))
}

/// Splits `name[:tag]` where a `:` in the registry host (a port) is not a tag.
pub fn split_tag(label: &str) -> (&str, Option<&str>) {
    let last_slash = label.rfind('/').map_or(0, |i| i + 1);
    match label[last_slash..].find(':') {
        Some(i) => (&label[..last_slash + i], Some(&label[last_slash + i + 1..])),
        None => (label, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_like_python() {
        assert_eq!(
            image_name("docker-registry.wikimedia.org", "releng", "ajv"),
            "docker-registry.wikimedia.org/releng/ajv"
        );
        assert_eq!(image_name("", "", "ajv"), "ajv");
        assert_eq!(image_name("reg", "", "ajv"), "reg/ajv");
        assert_eq!(image_name("reg/", "ns", "ajv"), "reg/ns/ajv");
        assert_eq!(image_name("reg", "/abs", "ajv"), "/abs/ajv");
        assert_eq!(pin_prefix("reg", "ns"), "reg/ns/");
        assert_eq!(pin_prefix("reg", ""), "reg/");
        assert_eq!(pin_prefix("", ""), "");
    }

    #[test]
    fn splits_tags() {
        assert_eq!(split_tag("localhost:5000/ns/a:1.0"), ("localhost:5000/ns/a", Some("1.0")));
        assert_eq!(split_tag("localhost:5000/ns/a"), ("localhost:5000/ns/a", None));
        assert_eq!(split_tag_strict("localhost:5000/ns/a:1.0"), None);
        assert_eq!(split_tag_strict("reg/a:1.0"), Some(("reg/a", "1.0")));
    }
}
