//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `../shared/corpus` from the project root.
pub fn corpus() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    assert!(p.is_dir(), "the shared corpus is missing at {} (it sits beside the project)", p.display());
    p
}

/// The binary under test: this build's, or `DOCKYARD_TEST_BIN` (to show
/// that a regression test fails on an older build).
pub fn bin() -> PathBuf {
    std::env::var_os("DOCKYARD_TEST_BIN").map(PathBuf::from).unwrap_or_else(|| env!("CARGO_BIN_EXE_dockyard").into())
}

thread_local! {
    /// The operator file this test's commands use (see [`operator_file`]).
    static OPERATOR: std::cell::RefCell<Option<PathBuf>> = const { std::cell::RefCell::new(None) };
}

/// Writes `text` as an operator file (outside any repository) that every
/// later [`command`] of this test uses, as `$DOCKYARD_OPERATOR`. Keep the
/// folder it returns alive while it is used.
pub fn operator_file(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("operator.toml");
    std::fs::write(&path, text).unwrap();
    OPERATOR.with(|o| *o.borrow_mut() = Some(path));
    dir
}

/// A command for the real `dockyard` binary, without the user's configs.
pub fn command(args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    match OPERATOR.with(|o| o.borrow().clone()) {
        Some(p) => c.env("DOCKYARD_OPERATOR", p),
        None => c.env_remove("DOCKYARD_OPERATOR"),
    };
    c.args(args)
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .env("DOCKER_CONFIG", "/nonexistent")
        .env_remove("DOCKYARD_REGISTRY_USERNAME")
        .env_remove("DOCKYARD_REGISTRY_PASSWORD")
        .env_remove("DOCKYARD_REGISTRY_HOST")
        .env_remove("DOCKYARD_STORE")
        .env_remove("DOCKYARD_SITE")
        .env_remove("DOCKYARD_TOKEN")
        .env_remove("DOCKYARD_METRICS_TOKEN");
    c
}

/// Runs the real `dockyard` binary.
pub fn dockyard(args: &[&str]) -> Output {
    command(args).output().expect("run dockyard")
}

/// A running `dockyard serve`; stopped (SIGTERM) on drop.
pub struct Server {
    pub url: String,
    pub child: std::process::Child,
}

impl Server {
    /// Starts `dockyard serve --addr 127.0.0.1:0 ARGS` and waits for it to listen.
    pub fn start(args: &[&str]) -> Server {
        Self::start_env(args, &[])
    }

    pub fn start_env(args: &[&str], env: &[(&str, &str)]) -> Server {
        Self::start_site("/nonexistent", args, env)
    }

    /// As `start_env`, with the front end in `site`.
    pub fn start_site(site: &str, args: &[&str], env: &[(&str, &str)]) -> Server {
        use std::io::BufRead;
        let mut c = command(&["serve", "--addr", "127.0.0.1:0", "--site", site]);
        c.args(args)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit());
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c.spawn().expect("start dockyard serve");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("listening on ") {
                    let _ = tx.send(rest.trim_end_matches('/').to_owned());
                }
            }
        });
        let url = rx.recv_timeout(std::time::Duration::from_secs(30)).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("dockyard serve did not start within 30 s")
        });
        Server { url, child }
    }

    /// GET `path`: (status, headers, body).
    pub fn get(&self, path: &str) -> (u16, Vec<(String, String)>, String) {
        http(&format!("{}{path}", self.url), "GET", &[], "")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

/// A plain HTTP/1.1 request over a TCP socket (no client library between
/// the test and the server): (status, headers, body).
pub fn http(url: &str, method: &str, headers: &[(&str, &str)], body: &str) -> (u16, Vec<(String, String)>, String) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut s = std::net::TcpStream::connect(host).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: {host}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|c| c.parse().ok()).unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned())))
        .collect();
    let chunked = headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked { dechunk(body) } else { body.to_owned() };
    (status, headers, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].strip_prefix("\r\n").unwrap_or(&rest[n..]);
    }
    out
}

/// A header's value.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes `files` (path → contents) under a fresh temporary directory.
pub fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, text) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

/// `git init` and one commit of everything in `dir`.
pub fn commit_all(dir: &Path) -> String {
    for args in
        [&["init", "-q"][..], &["add", "."], &["-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "one"]]
    {
        let out = Command::new("git").arg("-C").arg(dir).args(args).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
    }
    let out = Command::new("git").arg("-C").arg(dir).args(["rev-parse", "HEAD"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A Debian changelog with one entry per version, newest first.
pub fn changelog(name: &str, versions: &[&str]) -> String {
    versions
        .iter()
        .map(|v| format!("{name} ({v}) wikimedia; urgency=medium\n\n  * Test.\n\n -- T <t@example.org>  Mon, 01 Jan 2024 00:00:00 +0000\n"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `cmd` with `input` on its standard input; its output.
pub fn piped(cmd: &mut Command, input: &[u8]) -> Output {
    use std::io::Write;
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().expect("stdin").write_all(input)?;
            c.wait_with_output()
        })
        .expect("run a piped command")
}
