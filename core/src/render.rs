//! `Dockerfile.template` rendering, byte-identical to docker-pkg 4.0.4:
//! Jinja semantics with strict undefined variables, the `do` statement,
//! config keys as variables, and docker-pkg's filters with their exact output.
//! The one deliberate difference: `username` and `password` are not visible.

use crate::config::Config;
use crate::diag::Diagnostic;
use crate::files::{Files, SharedFiles};
use crate::label::{image_name, split_tag};
use crate::limits::{MAX_TEMPLATE_BYTES, MAX_TEMPLATE_RECURSION, RENDER_FUEL};
use crate::pyfmt::{py_str, py_truthy};
use crate::version::DebVersion;
use minijinja::value::{Value, ValueKind};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Fuel of one render (see [`crate::limits::RENDER_FUEL`]).
pub const FUEL: u64 = RENDER_FUEL;

/// The template file name docker-pkg renders in each image folder.
pub const TEMPLATE: &str = "Dockerfile.template";

#[derive(Clone)]
struct Shared {
    registry: String,
    namespace: String,
    /// `registry/namespace/name` → `registry/namespace/name:tag`.
    known: HashMap<String, String>,
    /// `registry/namespace/name` of catalog images whose files do not load.
    broken: std::collections::HashSet<String>,
    uid_mappings: Value,
    apt_options: String,
    apt_only_proxy: Option<String>,
}

/// Renders templates for one catalog root. Cheap to clone.
#[derive(Clone)]
pub struct Renderer {
    base: Environment<'static>,
    shared: Arc<Shared>,
}

fn op_error(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

impl Renderer {
    /// Names (short) of catalog images whose files do not load: `image_tag`
    /// says so instead of "not found".
    pub fn with_broken<'a>(mut self, names: impl IntoIterator<Item = &'a str>) -> Self {
        let shared = Arc::make_mut(&mut self.shared);
        for n in names {
            shared.broken.insert(image_name(&shared.registry, &shared.namespace, n));
        }
        self
    }

    /// `known_images` are full labels (`name:tag`): the catalog's images plus
    /// `base_images`, the set docker-pkg's `image_tag` filter searches.
    pub fn new(config: &Config, known_images: impl IntoIterator<Item = String>) -> Self {
        let mut known = HashMap::new();
        for label in known_images {
            // docker-pkg splits on every `:` and so never finds an image on a
            // registry with a port; dockyard does (a deliberate difference).
            if let (name, Some(_)) = split_tag(&label) {
                known.entry(name.to_owned()).or_insert(label.clone());
            }
        }
        let proxy = config.get("apt_only_proxy").filter(|v| py_truthy(v)).map(py_str);
        let shared = Arc::new(Shared {
            registry: config.registry(),
            namespace: config.namespace(),
            known,
            broken: Default::default(),
            uid_mappings: config.get("known_uid_mappings").cloned().unwrap_or_default(),
            apt_options: config.get("apt_options").map(py_str).unwrap_or_default(),
            apt_only_proxy: proxy,
        });

        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // A bound on work per render, so no template can hang a scan (a real
        // Dockerfile template uses a few thousand instructions).
        env.set_fuel(Some(FUEL));
        env.set_recursion_limit(MAX_TEMPLATE_RECURSION);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_formatter(|out, state, value| {
            let text = crate::pyfmt::try_py_str(value).map_err(|e| op_error(e.to_string()))?;
            state.consume_fuel(text.len() as u64 / 64)?;
            out.write_str(&text).map_err(|_| op_error("write failed"))
        });
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(crate::jinja_compat::MUTABLE, crate::pyobj::mutable);
        for (name, value) in config.template_values() {
            env.add_global(name.clone(), value.clone());
        }

        env.add_filter("upstream_version", |tag: Value| -> Result<String, Error> {
            let text = py_str(&tag);
            upstream_version(&text).ok_or_else(|| {
                op_error(format!("upstream_version({text}): not an image:tag with a valid Debian version"))
            })
        });
        let s = shared.clone();
        env.add_filter("uid", move |user: Value| uid(&s.uid_mappings, &user));
        let s = shared.clone();
        env.add_filter("add_user", move |user: Value| -> Result<String, Error> {
            let id = uid(&s.uid_mappings, &user);
            if id == user {
                return Err(op_error(format!("add_user: no mapping found for user '{}'", py_str(&user))));
            }
            let (id, usr) = (py_str(&id), py_str(&user));
            Ok(format!("groupadd -o -g {id} -r {usr} && useradd -l -o -r -m -d /var/lib/{usr} -g {usr} -u {id} {usr}"))
        });
        let s = shared.clone();
        env.add_filter("apt_install", move |pkgs: Value| -> Result<String, Error> {
            let pkgs =
                pkgs.as_str().ok_or_else(|| op_error("apt_install: expected a string of packages"))?.replace('\n', " ");
            Ok(apt_install(&s, &pkgs))
        });
        let s = shared.clone();
        env.add_filter("apt_remove", move |pkgs: Value| apt_remove(&s, &py_str(&pkgs)));
        Renderer { base: env, shared }
    }

    /// Renders `dir/Dockerfile.template`; includes resolve inside `dir` only.
    /// Errors name the file under `display_dir` and the line.
    pub fn render(&self, files: &SharedFiles, dir: &Path, display_dir: &Path) -> Result<String, Diagnostic> {
        self.render_tracking(files, dir, display_dir).0
    }

    /// Renders template text given directly (includes are not found): for
    /// fuzzing and previews.
    pub fn render_str(&self, source: &str) -> Result<String, Diagnostic> {
        let env = self.base.clone();
        let source = crate::jinja_compat::to_minijinja(source);
        let out = env.render_str(&source, ()).map_err(|e| Diagnostic::new(TEMPLATE, e.line(), e.to_string()));
        if crate::pyobj::release() {
            return Err(collection_limit(Path::new(TEMPLATE)));
        }
        out
    }

    /// Like [`Renderer::render`], also returning the short names the
    /// template passed to `image_tag`, in order.
    pub fn render_tracking(
        &self,
        files: &SharedFiles,
        dir: &Path,
        display_dir: &Path,
    ) -> (Result<String, Diagnostic>, Vec<String>) {
        let mut env = self.base.clone();
        let refs = Arc::new(Mutex::new(Vec::new()));
        let (s, seen) = (self.shared.clone(), refs.clone());
        env.add_filter("image_tag", move |name: Value| -> Result<String, Error> {
            let short = name
                .as_str()
                .ok_or_else(|| op_error(format!("image_tag: expected an image name, got {}", name.kind())))?;
            seen.lock().unwrap_or_else(|p| p.into_inner()).push(short.to_owned());
            let full = image_name(&s.registry, &s.namespace, short);
            s.known.get(&full).cloned().ok_or_else(|| {
                if s.broken.contains(&full) {
                    // Not a second error of its own: the parent's files do not load.
                    op_error(format!(
                        "image_tag: {short} is in the catalog, but its own files do not load (see its error)"
                    ))
                } else {
                    op_error(format!("image_tag: image {full} not found, or it has no tag"))
                }
            })
        });
        let root = dir.to_owned();
        let loader_files = files.clone();
        env.set_loader(move |name| load_inside(loader_files.as_ref(), &root, name));
        let to_diag = |e: Error, source: Option<&str>| {
            let file = display_dir.join(e.name().unwrap_or(TEMPLATE));
            let mut msg = match e.detail() {
                Some(d) => format!("{}: {d}", e.kind()),
                None => e.kind().to_string(),
            };
            // An unclosed block is reported where it opens, not at the end.
            let mut line = e.line();
            if e.kind() == ErrorKind::SyntaxError
                && e.detail().is_some_and(|d| d.contains("unexpected end of input"))
                && let Some((tag, at)) = source.and_then(unclosed_block)
            {
                msg.push_str(&format!(": the `{{% {tag} %}}` of line {at} is never closed"));
                line = Some(at);
            }
            // Which value was undefined: the template's line, quoted.
            if e.kind() == ErrorKind::UndefinedError
                && let (Some(src), Some(line)) = (source, e.line())
                && let Some(text) = src.lines().nth(line.saturating_sub(1))
            {
                let text: String = text.trim().chars().take(100).collect();
                msg.push_str(&format!(" in `{text}`"));
            }
            let mut src = std::error::Error::source(&e);
            while let Some(cause) = src {
                msg.push_str(&format!(": {cause}"));
                src = cause.source();
            }
            Diagnostic::new(file, line, msg)
        };
        let mut result = env.get_template(TEMPLATE).and_then(|t| t.render(())).map_err(|e| {
            // The source as the loader gives it (a template that does not
            // compile has no Template to ask).
            let source = load_inside(files.as_ref(), dir, e.name().unwrap_or(TEMPLATE)).ok().flatten();
            to_diag(e, source.as_deref())
        });
        if crate::pyobj::release() {
            result = Err(collection_limit(&display_dir.join(TEMPLATE)));
        }
        drop(env);
        let refs = std::mem::take(&mut *refs.lock().unwrap_or_else(|p| p.into_inner()));
        (result, refs)
    }
}

/// The error of a render whose list and dict comparisons ran past
/// [`crate::limits::MAX_COLLECTION_STEPS`] (they cannot fail where they run).
fn collection_limit(file: &Path) -> Diagnostic {
    Diagnostic::new(
        file,
        None,
        format!(
            "comparisons, lookups and loops read more than {} elements of lists and dicts: the limit",
            crate::limits::MAX_COLLECTION_STEPS
        ),
    )
}

/// Jinja2's FileSystemLoader: `..` segments are not found; on top of that,
/// only regular files inside the repository are read, up to
/// [`MAX_TEMPLATE_BYTES`]. CRLF and CR become LF, as Jinja2's lexer does.
fn load_inside(files: &dyn Files, root: &Path, name: &str) -> Result<Option<String>, Error> {
    let mut path = PathBuf::from(root);
    for seg in name.split('/') {
        match seg {
            "" | "." => {}
            ".." => return Ok(None),
            s => path.push(s),
        }
    }
    let text = match files.read_text(&path, MAX_TEMPLATE_BYTES) {
        Ok(text) => text,
        Err(crate::files::ReadError::NotFound) => return Ok(None),
        Err(e) => return Err(Error::new(ErrorKind::TemplateNotFound, format!("cannot read {name}: {e}"))),
    };
    let text = if text.contains('\r') { text.replace("\r\n", "\n").replace('\r', "\n") } else { text };
    Ok(Some(match crate::jinja_compat::to_minijinja(&text) {
        std::borrow::Cow::Borrowed(_) => text,
        std::borrow::Cow::Owned(fixed) => fixed,
    }))
}

fn uid(mappings: &Value, user: &Value) -> Value {
    match mappings.get_item(user) {
        Ok(id) if mappings.kind() == ValueKind::Map && !id.is_undefined() => Value::from(py_str(&id)),
        _ => user.clone(),
    }
}

/// docker-pkg's `upstream_version` filter on `name:tag`.
pub fn upstream_version(image_tag: &str) -> Option<String> {
    let (_, Some(tag)) = split_tag(image_tag) else { return None };
    if !tag.contains('-') {
        return Some(tag.to_owned());
    }
    let tag = if tag.matches('-').count() > 1 {
        tag.splitn(3, '-').take(2).collect::<Vec<_>>().join("-")
    } else {
        tag.to_owned()
    };
    DebVersion::parse(&tag).map(|v| v.upstream.to_owned())
}

fn apt_install(s: &Shared, packages: &str) -> String {
    let o = &s.apt_options;
    let mut out = String::new();
    if let Some(proxy) = &s.apt_only_proxy {
        out.push_str(&format!("echo 'Acquire::http::Proxy \"{proxy}\";' > /etc/apt/apt.conf.d/80_proxy \\\n    && "));
    }
    out.push_str(&format!(
        "apt-get update {o} \\\n    && DEBIAN_FRONTEND=noninteractive \\\n    apt-get install {o} --yes {packages} --no-install-recommends \\"
    ));
    if s.apt_only_proxy.is_some() {
        out.push_str("\n    && rm -f /etc/apt/apt.conf.d/80_proxy \\");
    }
    out.push_str("\n    && apt-get clean && rm -rf /var/lib/apt/lists/* ");
    out
}

fn apt_remove(s: &Shared, packages: &str) -> String {
    let mut out = String::new();
    if let Some(proxy) = &s.apt_only_proxy {
        // docker-pkg's `{%- endif -%}` eats the newline after the backslash.
        out.push_str(&format!("echo 'Acquire::http::Proxy \"{proxy}\";' > /etc/apt/apt.conf.d/80_proxy  && \\"));
    }
    out.push_str(&format!(
        "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get remove --yes --purge {packages} \\"
    ));
    if s.apt_only_proxy.is_some() {
        out.push_str("\n    && rm -f /etc/apt/apt.conf.d/80_proxy \\");
    }
    out.push_str("\n    && apt-get clean && rm -rf /var/lib/apt/lists/* ");
    out
}

/// The innermost block tag (`if`, `for`, …) of `src` that is opened and
/// never closed, with its 1-based line.
fn unclosed_block(src: &str) -> Option<(String, usize)> {
    const OPENERS: [&str; 9] = ["if", "for", "macro", "block", "call", "filter", "with", "raw", "autoescape"];
    let mut stack: Vec<(String, usize)> = Vec::new();
    let mut rest = src;
    let mut offset = 0;
    while let Some(start) = rest.find("{%") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("%}") else { break };
        let tag = after[..end].trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
        let word = tag.split_whitespace().next().unwrap_or("");
        let line = src[..offset + start].matches('\n').count() + 1;
        let raw_open = stack.last().is_some_and(|(w, _)| w == "raw");
        if let Some(closed) = word.strip_prefix("end") {
            if stack.last().is_some_and(|(w, _)| w == closed) {
                stack.pop();
            }
        } else if !raw_open && (OPENERS.contains(&word) || (word == "set" && !tag.contains('='))) {
            stack.push((word.to_owned(), line));
        }
        let consumed = start + 2 + end + 2;
        offset += consumed;
        rest = &rest[consumed..];
    }
    stack.pop()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_unclosed_block_is_found_where_it_opens() {
        assert_eq!(super::unclosed_block("a\n{% if x %}\n{% for y in z %}{% endfor %}\n"), Some(("if".into(), 2)));
        assert_eq!(super::unclosed_block("{% if x %}{% endif %}{% set a = 1 %}"), None);
        assert_eq!(super::unclosed_block("{% set a %}x\n\n{%- macro m() -%}"), Some(("macro".into(), 3)));
        assert_eq!(super::unclosed_block("{% raw %}{% if %}"), Some(("raw".into(), 1)));
    }

    use super::*;

    #[test]
    fn image_tag_works_on_a_registry_with_a_port() {
        let config = Config::merge("c".into(), vec![("registry".into(), Value::from("127.0.0.1:5000"))]);
        let r = Renderer::new(&config, ["127.0.0.1:5000/base:1.0-1".to_owned()]);
        let dir = std::env::temp_dir().join(format!("dockyard-port-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(TEMPLATE),
            "FROM {{ 'base' | image_tag }} {{ 'base' | image_tag | upstream_version }}\n",
        )
        .unwrap();
        let files: SharedFiles = std::sync::Arc::new(crate::files::Disk::new(&dir));
        let out = r.render(&files, &dir, &dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(out.unwrap(), "FROM 127.0.0.1:5000/base:1.0-1 1.0");
    }

    #[test]
    fn upstream_versions() {
        assert_eq!(upstream_version("r/ns/php:8.1.2-1-s3").as_deref(), Some("8.1.2"));
        assert_eq!(upstream_version("r/ns/node:24.18.0-s1").as_deref(), Some("24.18.0"));
        assert_eq!(upstream_version("r/ns/x:1.0").as_deref(), Some("1.0"));
        assert_eq!(upstream_version("no-tag"), None);
        assert_eq!(upstream_version("localhost:5000/ns/x:1.0-2").as_deref(), Some("1.0"));
    }
}
