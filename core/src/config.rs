//! docker-pkg's `config.yaml`: every key docker-pkg 4.0.4 knows with its
//! default, the user-level `$XDG_CONFIG_HOME/docker-pkg.yaml` beneath the
//! project file (shallow merge), values resolved as PyYAML resolves them.

use crate::diag::Diagnostic;
use crate::files::Files;
use crate::limits::MAX_CONFIG_BYTES;
use crate::yaml::{self, Kind, Node, Resolved};
use minijinja::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A credential: printable only on purpose, never by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret text, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Keys that never reach templates, logs or API responses.
pub const SECRET_KEYS: [&str; 2] = ["username", "password"];

/// A merged docker-pkg configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the project-level file was read from.
    pub path: PathBuf,
    /// Every key in merge order, as templates see them (no secrets).
    values: BTreeMap<String, Value>,
    pub username: Option<Secret>,
    pub password: Option<Secret>,
    /// The registry the credentials belong to: the one named by the file
    /// they were read from. A project `config.yaml` that points `registry:`
    /// elsewhere does not get the user-level file's credentials.
    pub credentials_registry: Option<String>,
}

/// docker-pkg 4.0.4's `cli.defaults`, in its order.
fn defaults() -> Vec<(&'static str, Value)> {
    let uid_map = Value::from_pairs([("root", 0), ("www-data", 33), ("nobody", 65534)]);
    vec![
        ("registry", Value::from("")),
        ("username", Value::from(())),
        ("password", Value::from(())),
        ("base_images", Value::from(Vec::<Value>::new())),
        ("apt_options", Value::from("")),
        ("http_proxy", Value::from(())),
        ("apt_only_proxy", Value::from(())),
        ("namespace", Value::from("")),
        ("scan_workers", Value::from(8)),
        ("fallback_author", Value::from("Author")),
        ("fallback_email", Value::from("email@domain")),
        ("distribution", Value::from("wikimedia")),
        ("update_id", Value::from("s")),
        ("ca_bundle", Value::from(())),
        ("force_numeric_user", Value::from(false)),
        ("known_uid_mappings", uid_map),
        ("verify_command", Value::from("/bin/bash")),
        ("verify_args", Value::from(vec![Value::from("-c"), Value::from("{path}/test.sh {image}")])),
    ]
}

/// Converts a YAML node to a template value with PyYAML's resolution.
pub fn to_value(node: &Node) -> Value {
    match &node.kind {
        Kind::Scalar(s, style) => match yaml::resolve(s, *style, node.tag.as_deref()) {
            Resolved::Null => Value::from(()),
            Resolved::Bool(b) => Value::from(b),
            Resolved::Int(i) => Value::from(i),
            Resolved::Float(f) => Value::from(f),
            Resolved::Str(s) => Value::from(s),
        },
        Kind::Seq(items) => Value::from(items.iter().map(to_value).collect::<Vec<_>>()),
        Kind::Map(pairs) => {
            // Insertion-ordered, like a Python dict: a repeated key keeps its place.
            let mut map: Vec<(String, Value)> = Vec::new();
            let mut put = |k: String, v: Value, overwrite: bool| match map.iter_mut().find(|(mk, _)| *mk == k) {
                Some(slot) if overwrite => slot.1 = v,
                Some(_) => {}
                None => map.push((k, v)),
            };
            for (k, v) in pairs {
                if k.as_str() == Some("<<") {
                    // Merge keys: the mapping's own keys win.
                    let merged: Vec<&Node> = match &v.kind {
                        Kind::Seq(items) => items.iter().collect(),
                        _ => vec![v],
                    };
                    for m in merged {
                        if let Kind::Map(mp) = &m.kind {
                            for (mk, mv) in mp {
                                put(key_string(mk), to_value(mv), false);
                            }
                        }
                    }
                    continue;
                }
                put(key_string(k), to_value(v), true);
            }
            Value::from_pairs(map)
        }
    }
}

fn key_string(node: &Node) -> String {
    crate::pyfmt::py_str(&to_value(node))
}

/// Reads one YAML config file into (key, value) pairs; an empty file is `{}`.
/// At most [`MAX_CONFIG_BYTES`] are read, and only a regular file.
pub fn read_file(files: &dyn Files, path: &Path) -> Result<Vec<(String, Value)>, Diagnostic> {
    let text = files
        .read_text(path, MAX_CONFIG_BYTES)
        .map_err(|e| Diagnostic::new(path, None, format!("cannot read: {e}")))?;
    parse_text(&text, path)
}

/// Parses config text; `path` only names the file in errors.
pub fn parse_text(text: &str, path: &Path) -> Result<Vec<(String, Value)>, Diagnostic> {
    let docs =
        yaml::load(text).map_err(|e| Diagnostic::at(path, e.line, format!("YAML syntax error: {}", e.message)))?;
    let Some(root) = docs.first() else { return Ok(vec![]) };
    match &root.kind {
        Kind::Map(pairs) => {
            let mut out = Vec::new();
            for (k, v) in pairs {
                match &k.kind {
                    Kind::Scalar(..) => out.push((key_string(k), to_value(v))),
                    _ => return Err(Diagnostic::at(path, k.line, "configuration keys must be strings")),
                }
            }
            Ok(out)
        }
        Kind::Scalar(s, _) if s.is_empty() => Ok(vec![]),
        _ => Err(Diagnostic::at(path, root.line, "the configuration must be a mapping of keys to values")),
    }
}

/// `$XDG_CONFIG_HOME/docker-pkg.yaml`, else `~/.config/docker-pkg.yaml`.
pub fn user_config_path() -> Option<PathBuf> {
    match std::env::var_os("XDG_CONFIG_HOME") {
        Some(x) => Some(PathBuf::from(x).join("docker-pkg.yaml")),
        None => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config").join("docker-pkg.yaml")),
    }
}

impl Config {
    /// Defaults only (as with an empty `config.yaml`).
    pub fn defaults() -> Self {
        Self::merge(PathBuf::new(), vec![])
    }

    /// Reads `path` (from `files`) over the user-level file (when it
    /// exists; read from disk, it is the user's own) over the defaults.
    pub fn load(files: &dyn Files, path: &Path, user_config: Option<&Path>) -> Result<Self, Diagnostic> {
        let mut layers = Vec::new();
        let mut user_layer = Vec::new();
        if let Some(user) = user_config.filter(|p| p.exists()) {
            user_layer = read_file(&crate::files::Disk::unbounded(), user)?;
            layers.extend(user_layer.iter().cloned());
        }
        let project = read_file(files, path)?;
        let has_creds =
            |layer: &[(String, Value)]| layer.iter().any(|(k, v)| SECRET_KEYS.contains(&k.as_str()) && !v.is_none());
        let project_creds = has_creds(&project);
        layers.extend(project);
        let mut config = Self::merge(path.to_owned(), layers);
        if !project_creds && has_creds(&user_layer) {
            let user_registry = user_layer
                .iter()
                .rev()
                .find(|(k, _)| k == "registry")
                .map(|(_, v)| crate::pyfmt::py_str(v))
                .unwrap_or_default();
            config.credentials_registry = Some(user_registry);
        }
        Ok(config)
    }

    /// Builds a config from explicit key/value layers over the defaults.
    pub fn merge(path: PathBuf, layers: Vec<(String, Value)>) -> Self {
        let mut values: BTreeMap<String, Value> = defaults().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        for (k, v) in layers {
            values.insert(k, v);
        }
        if !values["http_proxy"].is_none() && values["apt_only_proxy"].is_none() {
            let proxy = values["http_proxy"].clone();
            values.insert("apt_only_proxy".into(), proxy);
        }
        let secret =
            |v: Option<Value>| v.filter(crate::pyfmt::py_truthy).map(|v| Secret::new(crate::pyfmt::py_str(&v)));
        let username = secret(values.remove("username"));
        let password = secret(values.remove("password"));
        let mut config = Config { path, values, username, password, credentials_registry: None };
        config.credentials_registry = Some(config.registry());
        config
    }

    /// A key's value as templates see it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(key)
    }

    /// Every key visible to templates (secrets excluded).
    pub fn template_values(&self) -> &BTreeMap<String, Value> {
        &self.values
    }

    fn string(&self, key: &str) -> String {
        self.get(key).map(crate::pyfmt::py_str).unwrap_or_default()
    }

    pub fn registry(&self) -> String {
        self.get("registry").filter(|v| !v.is_none()).map(crate::pyfmt::py_str).unwrap_or_default()
    }

    pub fn namespace(&self) -> String {
        self.get("namespace").filter(|v| !v.is_none()).map(crate::pyfmt::py_str).unwrap_or_default()
    }

    pub fn update_id(&self) -> String {
        self.string("update_id")
    }

    pub fn distribution(&self) -> String {
        self.string("distribution")
    }

    /// `base_images`: labels known without being in the catalog.
    pub fn base_images(&self) -> Vec<String> {
        self.get("base_images")
            .and_then(|v| v.try_iter().ok())
            .map(|it| it.map(|v| crate::pyfmt::py_str(&v)).collect())
            .unwrap_or_default()
    }

    /// `verify_command` and `verify_args` with `{path}` and `{image}` filled in.
    pub fn verify_invocation(&self, path: &str, image: &str) -> (String, Vec<String>) {
        let args = self
            .get("verify_args")
            .and_then(|v| v.try_iter().ok())
            .map(|it| it.map(|v| crate::pyfmt::py_str(&v).replace("{path}", path).replace("{image}", image)).collect())
            .unwrap_or_default();
        (self.string("verify_command"), args)
    }

    pub fn force_numeric_user(&self) -> bool {
        self.get("force_numeric_user").is_some_and(crate::pyfmt::py_truthy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_docker_pkg() {
        let c = Config::defaults();
        assert_eq!(c.registry(), "");
        assert_eq!(c.update_id(), "s");
        assert_eq!(c.distribution(), "wikimedia");
        assert_eq!(
            crate::pyfmt::py_str(c.get("known_uid_mappings").unwrap()),
            "{'root': 0, 'www-data': 33, 'nobody': 65534}"
        );
        assert_eq!(
            c.verify_invocation("/p", "img:1"),
            ("/bin/bash".into(), vec!["-c".into(), "/p/test.sh img:1".into()])
        );
        assert!(c.get("http_proxy").unwrap().is_none());
    }

    #[test]
    fn project_over_user_over_defaults_and_proxy_copy() {
        let user = parse_text("registry: user.example\nhttp_proxy: http://proxy:8080\n", Path::new("u")).unwrap();
        let project = parse_text("namespace: releng\npassword: hunter2\n", Path::new("p")).unwrap();
        let c = Config::merge("p".into(), user.into_iter().chain(project).collect());
        assert_eq!(c.registry(), "user.example");
        assert_eq!(c.namespace(), "releng");
        assert_eq!(crate::pyfmt::py_str(c.get("apt_only_proxy").unwrap()), "http://proxy:8080");
        assert!(c.get("password").is_none(), "secrets are not template values");
        assert_eq!(c.password.as_ref().unwrap().expose(), "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn bad_config_names_file_and_line() {
        let err = parse_text("registry: a\n- b\n", Path::new("conf/config.yaml")).unwrap_err();
        assert!(err.to_string().starts_with("conf/config.yaml:"), "{err}");
        assert!(err.line.is_some());
        let err = parse_text("- a\n", Path::new("c.yaml")).unwrap_err();
        assert_eq!(err.to_string(), "c.yaml:1: the configuration must be a mapping of keys to values");
    }
}
