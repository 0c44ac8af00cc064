//! Real Docker engines for the tests: a private `dockerd` per test, with
//! its own socket, data root and exec root, no bridge and no iptables (so
//! several run side by side), stopped (or killed mid-work) by the test.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A running `dockerd`; killed on drop.
pub struct Dockerd {
    /// `unix:///…/docker.sock`
    pub host: String,
    pub dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Dockerd {
    /// Starts a private engine and waits until it answers.
    pub fn start() -> Dockerd {
        Self::start_with(&[])
    }

    /// As `start`, with more `dockerd` flags (`--debug` logs every API call).
    pub fn start_with(flags: &[&str]) -> Dockerd {
        let bin = "/usr/sbin/dockerd";
        assert!(
            Path::new(bin).exists(),
            "{bin} is missing: the engine tests need Debian's docker.io (scripts/setup installs it; run them through scripts/test)"
        );
        // Short paths: unix socket paths are limited to 108 bytes.
        let dir = tempfile::Builder::new().prefix("dk").tempdir_in("/tmp").unwrap();
        let d = dir.path();
        let sock = d.join("docker.sock");
        let child = Command::new(bin)
            .arg("--host")
            .arg(format!("unix://{}", sock.display()))
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("pid"))
            .args(["--bridge", "none", "--iptables=false", "--ip-masq=false"])
            .args(flags)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("dockerd.log")).unwrap())
            .spawn()
            .expect("start dockerd");
        let host = format!("unix://{}", sock.display());
        let engine = Dockerd { host, dir, child: Some(child) };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if sock.exists() && engine.docker(&["version", "--format", "{{.Server.APIVersion}}"]).status.success() {
                break;
            }
            assert!(Instant::now() < deadline, "dockerd did not start: {}", engine.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        engine
    }

    /// Runs Debian's `docker` client against this engine.
    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new("/usr/bin/docker").args(args).env("DOCKER_HOST", &self.host).output().expect("docker client")
    }

    /// The image id (`sha256:…`) the engine has under `reference` (empty when none).
    pub fn image_id(&self, reference: &str) -> String {
        String::from_utf8_lossy(&self.docker(&["image", "inspect", "-f", "{{.Id}}", reference]).stdout)
            .trim()
            .to_owned()
    }

    /// Whether the engine has `reference`.
    pub fn has(&self, reference: &str) -> bool {
        self.docker(&["image", "inspect", reference]).status.success()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
    }

    /// Freezes the engine (SIGSTOP): it keeps its sockets and answers nothing.
    pub fn freeze(&self) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        assert!(Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
    }

    /// Lets a frozen engine go on (SIGCONT).
    pub fn thaw(&self) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill").args(["-CONT", &c.id().to_string()]).status();
        }
    }

    /// Kills the engine at once (SIGKILL), as a crashed host would go.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Containers it started die with their shims.
        let _ = Command::new("pkill")
            .args(["-9", "-f", &format!("containerd-shim.*{}", self.dir.path().display())])
            .status();
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        self.thaw();
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("umount").arg("-R").arg(self.dir.path().join("data")).stderr(Stdio::null()).status();
    }
}

/// The folder of a base image: `FROM scratch`, Debian's static busybox and
/// its applets (builds in about a second, no download).
pub fn busybox_base(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let busybox = Path::new("/bin/busybox");
    assert!(busybox.exists(), "/bin/busybox is missing: the engine tests need Debian's busybox-static");
    std::fs::copy(busybox, dir.join("busybox")).unwrap();
    std::fs::write(
        dir.join("Dockerfile.template"),
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nCMD [\"/bin/sh\"]\n",
    )
    .unwrap();
}

/// A repository whose catalog lives on `registry`, namespace `ci`, with the
/// busybox image `base` 1.0 and an empty `jjb/`.
pub fn busybox_repo(registry: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("dockerfiles");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("config.yaml"), format!("registry: {registry}\nnamespace: ci\n")).unwrap();
    busybox_base(&d.join("base"));
    std::fs::write(d.join("base/changelog"), crate::common::changelog("base", &["1.0"])).unwrap();
    std::fs::create_dir_all(dir.path().join("jjb")).unwrap();
    dir
}

/// Writes an image folder: template, changelog, control (parents), and more files.
pub fn image(root: &Path, name: &str, version: &str, parents: &[&str], body: &str, extra: &[(&str, &str)]) -> PathBuf {
    let d = root.join(name);
    std::fs::create_dir_all(&d).unwrap();
    let from = parents
        .first()
        .map(|p| format!("FROM {{{{ \"{p}\" | image_tag }}}}\n"))
        .unwrap_or_else(|| "FROM scratch\n".into());
    std::fs::write(d.join("Dockerfile.template"), format!("{from}{body}")).unwrap();
    std::fs::write(d.join("changelog"), crate::common::changelog(name, &[version])).unwrap();
    if !parents.is_empty() {
        std::fs::write(d.join("control"), format!("Package: {name}\nDepends: {}\n", parents.join(", "))).unwrap();
    }
    for (p, t) in extra {
        let f = d.join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(&f, t).unwrap();
        if p.ends_with(".sh") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    d
}
