//! Registry credentials and the parts of the distribution protocol that are
//! plain text: `WWW-Authenticate` challenges, `Link` headers, and the user's
//! `~/.docker/config.json` (`auths`, `credHelpers`, `credsStore`).

use base64::Engine;
use dockyard_core::config::Secret;
use std::path::PathBuf;

/// A user name and password (or identity token) for one registry.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
    /// Where they came from, for messages (never the secret itself).
    pub source: String,
}

/// What the registry asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer { realm: String, service: Option<String> },
}

/// Parses a `WWW-Authenticate` header value.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, params) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut realm = None;
    let mut service = None;
    for (k, v) in auth_params(params) {
        match k.to_ascii_lowercase().as_str() {
            "realm" => realm = Some(v),
            "service" => service = Some(v),
            _ => {}
        }
    }
    Some(Challenge::Bearer { realm: realm?, service })
}

/// `k="v", k2=v2` pairs; quoted values may hold commas.
fn auth_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq].trim().trim_start_matches(',').trim().to_owned();
        rest = rest[eq + 1..].trim_start();
        let value;
        if let Some(r) = rest.strip_prefix('"') {
            let end = r.find('"').unwrap_or(r.len());
            value = r[..end].to_owned();
            rest = r.get(end + 1..).unwrap_or("");
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_owned();
            rest = &rest[end..];
        }
        rest = rest.trim_start().trim_start_matches(',').trim_start();
        out.push((key, value));
    }
    out
}

/// The `rel="next"` target of a `Link` header.
pub fn parse_link_next(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| url.trim().trim_start_matches('<').trim_end_matches('>').to_owned())
    })
}

/// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub fn docker_config_path() -> Option<PathBuf> {
    match std::env::var_os("DOCKER_CONFIG") {
        Some(d) => Some(PathBuf::from(d).join("config.json")),
        None => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json")),
    }
}

/// Credentials for `host` from a docker config file: a credential helper
/// configured for the host (or the default `credsStore`), else `auths`.
pub fn from_docker_config(host: &str, path: &std::path::Path) -> Result<Option<Credentials>, String> {
    let Ok(text) = std::fs::read_to_string(path) else { return Ok(None) };
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not valid JSON: {e}", path.display()))?;
    let keys = [host.to_owned(), format!("https://{host}"), format!("http://{host}"), format!("https://{host}/v1/")];
    let helper = keys
        .iter()
        .find_map(|k| json["credHelpers"][k].as_str())
        .or_else(|| json["credsStore"].as_str())
        .map(str::to_owned);
    if let Some(helper) = helper
        && let Some(c) = from_helper(&helper, host)?
    {
        return Ok(Some(c));
    }
    for k in &keys {
        let entry = &json["auths"][k];
        if let Some(auth) = entry["auth"].as_str() {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|_| format!("{}: auths.{k}.auth is not base64", path.display()))?;
            let decoded =
                String::from_utf8(decoded).map_err(|_| format!("{}: auths.{k}.auth is not UTF-8", path.display()))?;
            let (user, pass) = decoded
                .split_once(':')
                .ok_or_else(|| format!("{}: auths.{k}.auth is not user:password", path.display()))?;
            return Ok(Some(Credentials {
                username: user.to_owned(),
                password: Secret::new(pass),
                source: format!("{} (auths)", path.display()),
            }));
        }
        if let (Some(user), Some(pass)) = (entry["username"].as_str(), entry["password"].as_str()) {
            return Ok(Some(Credentials {
                username: user.to_owned(),
                password: Secret::new(pass),
                source: format!("{} (auths)", path.display()),
            }));
        }
    }
    Ok(None)
}

/// How long a credential helper may take, and how much it may print.
const HELPER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
const HELPER_MAX_OUTPUT: u64 = 64 << 10;

/// Runs `docker-credential-HELPER get` with the host on stdin, for at most
/// [`HELPER_TIMEOUT`] (then it is killed).
fn from_helper(helper: &str, host: &str) -> Result<Option<Credentials>, String> {
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};
    if !helper.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.') {
        return Err(format!("credential helper name `{}` is not a plain name", dockyard_core::limits::quote(helper)));
    }
    let program = format!("docker-credential-{helper}");
    let mut child = match Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return Err(format!("credential helper {program}: {e}")),
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(host.as_bytes());
    }
    // Read on a thread so that a helper that never exits is killed on time.
    let stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(s) = stdout {
            let _ = s.take(HELPER_MAX_OUTPUT).read_to_end(&mut out);
        }
        out
    });
    let deadline = std::time::Instant::now() + HELPER_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("credential helper {program} did not answer within {}s", HELPER_TIMEOUT.as_secs()));
            }
            Err(e) => return Err(format!("credential helper {program}: {e}")),
        }
    };
    let stdout = reader.join().unwrap_or_default();
    if !status.success() {
        // Helpers answer "credentials not found" with a failure: not an error.
        return Ok(None);
    }
    let json: serde_json::Value =
        serde_json::from_slice(&stdout).map_err(|e| format!("credential helper {program}: bad answer: {e}"))?;
    match (json["Username"].as_str(), json["Secret"].as_str()) {
        (Some(u), Some(s)) => Ok(Some(Credentials {
            username: u.to_owned(),
            password: Secret::new(s),
            source: format!("credential helper {program}"),
        })),
        _ => Ok(None),
    }
}

/// Credentials for `host`, each source bound to the host it belongs to:
/// - the docker-pkg config's `username`/`password`, when they come from the
///   file that also names `host` as its registry;
/// - `DOCKYARD_REGISTRY_USERNAME`/`_PASSWORD`, when `DOCKYARD_REGISTRY_HOST`
///   names `host` (without it they are refused: a patch could point
///   `registry:` anywhere);
/// - the docker config file (keyed by host).
///
/// `None`: anonymous.
pub fn resolve(host: &str, config: &dockyard_core::config::Config) -> Result<Option<Credentials>, String> {
    if let (Some(u), Some(p)) = (&config.username, &config.password)
        && config.credentials_registry.as_deref() == Some(host)
    {
        return Ok(Some(Credentials {
            username: u.expose().to_owned(),
            password: p.clone(),
            source: format!("{} (username/password)", config.path.display()),
        }));
    }
    if let (Ok(u), Ok(p)) = (std::env::var("DOCKYARD_REGISTRY_USERNAME"), std::env::var("DOCKYARD_REGISTRY_PASSWORD")) {
        match std::env::var("DOCKYARD_REGISTRY_HOST") {
            Ok(h) if h.eq_ignore_ascii_case(host) => {
                return Ok(Some(Credentials {
                    username: u,
                    password: Secret::new(p),
                    source: "environment (DOCKYARD_REGISTRY_*)".into(),
                }));
            }
            Ok(_) => {}
            Err(_) => {
                return Err("DOCKYARD_REGISTRY_USERNAME and _PASSWORD are set without DOCKYARD_REGISTRY_HOST: \
                            set it to the registry host they belong to"
                    .into());
            }
        }
    }
    match docker_config_path() {
        Some(path) => from_docker_config(host, &path),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        assert_eq!(parse_challenge("Basic realm=\"Registry\""), Some(Challenge::Basic));
        assert_eq!(
            parse_challenge(
                "Bearer realm=\"https://auth.example/token\",service=\"registry.example\",scope=\"repository:a:pull\""
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into())
            })
        );
        assert_eq!(
            parse_challenge("Bearer realm=http://127.0.0.1:9/t"),
            Some(Challenge::Bearer { realm: "http://127.0.0.1:9/t".into(), service: None })
        );
        assert_eq!(parse_challenge("Negotiate"), None);
    }

    #[test]
    fn link_next() {
        assert_eq!(
            parse_link_next("</v2/ns/a/tags/list?last=b&n=2>; rel=\"next\"").as_deref(),
            Some("/v2/ns/a/tags/list?last=b&n=2")
        );
        assert_eq!(parse_link_next("<x>; rel=\"prev\""), None);
    }

    #[test]
    fn docker_config_auths() {
        let dir = std::env::temp_dir().join(format!("dockyard-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.json");
        let auth = base64::engine::general_purpose::STANDARD.encode("ci:s3cret");
        std::fs::write(&path, format!("{{\"auths\": {{\"reg.example:5000\": {{\"auth\": \"{auth}\"}}}}}}")).unwrap();
        let c = from_docker_config("reg.example:5000", &path).unwrap().unwrap();
        assert_eq!((c.username.as_str(), c.password.expose()), ("ci", "s3cret"));
        assert!(from_docker_config("other.example", &path).unwrap().is_none());
        std::fs::write(&path, "{\"credHelpers\": {\"reg.example:5000\": \"dockyard-test-missing\"}}").unwrap();
        let err = from_docker_config("reg.example:5000", &path).unwrap_err();
        assert!(err.contains("docker-credential-dockyard-test-missing"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
