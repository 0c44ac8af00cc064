//! Synthetic catalogs rendered by dockyard and by docker-pkg 4.0.4 itself
//! (its TemplateEngine, from the venv `scripts/setup` makes), compared byte
//! for byte. Each catalog exercises features the Wikimedia corpus does not.

use crate::common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn oracle_python() -> PathBuf {
    let path = std::env::var_os("DOCKER_PKG_PYTHON").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/dockyard/tools/docker-pkg/bin/python")
    });
    assert!(
        path.exists(),
        "docker-pkg 4.0.4 oracle not found at {} (run scripts/setup, or set DOCKER_PKG_PYTHON)",
        path.display()
    );
    path
}

/// Renders `root` with both tools (same user config dir) and compares;
/// exactly the images in `failing` must fail.
fn compare(root: &Path, xdg: &Path, failing: &[&str]) -> Value {
    let config = root.join("config.yaml");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/docker_pkg_render.py");
    let theirs = Command::new(oracle_python())
        .arg(&script)
        .arg(&config)
        .arg(root)
        .env("XDG_CONFIG_HOME", xdg)
        .output()
        .expect("run docker-pkg oracle");
    assert!(theirs.status.success(), "oracle failed: {}", String::from_utf8_lossy(&theirs.stderr));
    let theirs: Value = serde_json::from_slice(&theirs.stdout).unwrap();
    let ours = Command::new(env!("CARGO_BIN_EXE_dockyard"))
        .args(["render", "--format", "json", "--config"])
        .arg(&config)
        .arg(root)
        .env("XDG_CONFIG_HOME", xdg)
        .output()
        .unwrap();
    let ours_json: Value = serde_json::from_slice(&ours.stdout).expect("dockyard json");
    let (o, t) = (ours_json["images"].as_object().unwrap(), theirs["images"].as_object().unwrap());
    assert_eq!(o.keys().collect::<Vec<_>>(), t.keys().collect::<Vec<_>>(), "image names");
    for (name, want) in t {
        let got = &o[name];
        assert_eq!(got["label"], want["label"], "{name} label");
        assert_eq!(got["dir"], want["dir"], "{name} dir");
        assert_eq!(got["depends"], want["depends"], "{name} depends");
        assert_eq!(
            got["error"].is_null(),
            want["error"].is_null(),
            "{name} error: ours {} theirs {}",
            got["error"],
            want["error"]
        );
        assert_eq!(got["dockerfile"], want["dockerfile"], "{name} dockerfile differs from docker-pkg");
    }
    let failed: Vec<&str> = t.iter().filter(|(_, v)| !v["error"].is_null()).map(|(k, _)| k.as_str()).collect();
    assert_eq!(failed, failing, "images that failed to render: {theirs:#}");
    let any_error = !failed.is_empty();
    assert_eq!(ours.status.code(), Some(if any_error { 1 } else { 0 }), "exit code; stderr {}", stderr(&ours));
    ours_json
}

#[test]
fn nested_folders_renamed_images_and_docker_pkg_filters() {
    let base_tpl = r#"FROM {{ 'bookworm' | image_tag }}
{% set pkgs -%}
curl
git
{%- endset %}
{% set packages|replace('\n', ' ') -%}
a
b
{%- endset -%}
RUN {{ pkgs | apt_install }}
RUN {{ packages | apt_install }}
RUN {{ "curl wget" | apt_remove }}
USER {{ "nobody" | uid }}
USER {{ "somebody" | uid }}
RUN {{ "www-data" | add_user }} && {{ "builder" | add_user }}
ENV SELF={{ 'base-image' | image_tag }}
ENV UPSTREAM={{ 'base-image' | image_tag | upstream_version }}
ENV J={{ ["x", "y", "z"] | join(",") }} N={{ none_key }} T={{ true_key }} L={{ list_key }} M={{ apt_options }}
ENV P={{ http_proxy }} Q={{ force_numeric_user }} R={{ scan_workers }} S={{ known_uid_mappings }}
{% if "a" in pkgs %}ENV HAS_A=1{% endif %}
{%- for i in range(3) %}
ENV I{{ i }}={{ loop.index }}{{ "" if loop.last else "," }}
{%- endfor %}
{% do list_key.count("a") %}
RUN echo {{ "%s-%d" | format("v", 3) }} {{ 'A b' | lower }} {{ "a,b" .split(",") }}
"#;
    let child_tpl = "FROM {{ \"base-image\" | image_tag }}\nLABEL u={{ \"base-image\" | image_tag | upstream_version }}\nRUN {% include 'inc.sh' %}\n";
    let dir = tree(&[
        (
            "config.yaml",
            "registry: reg.example\nnamespace: releng\napt_options: -o Foo=1\nnone_key:\ntrue_key: yes\nlist_key: [a, 'b']\nbase_images:\n  - reg.example/releng/bookworm:20240101\nknown_uid_mappings:\n  builder: 1000\n  www-data: 33\n  nobody: 65534\n",
        ),
        ("images/base/Dockerfile.template", base_tpl),
        ("images/base/changelog", &changelog("base-image", &["2.0.1-3-s4"])),
        ("images/deep/er/child-folder/Dockerfile.template", child_tpl),
        ("images/deep/er/child-folder/inc.sh", "echo included \\\n  && true\n"),
        ("images/deep/er/child-folder/changelog", &changelog("child", &["1.0-s1"])),
        ("images/deep/er/child-folder/control", "Package: child\nDepends: base-image,\n other\n"),
        ("images/only-template/Dockerfile.template", "FROM x\n"),
    ]);
    let xdg = tempfile::tempdir().unwrap();
    let out = compare(dir.path(), xdg.path(), &[]);
    let df = out["images"]["base-image"]["dockerfile"].as_str().unwrap();
    assert!(df.contains("ENV UPSTREAM=2.0.1\n"), "{df}");
    assert!(df.contains("USER 65534\nUSER somebody\n"), "{df}");
    println!("{df}");
}

#[test]
fn proxy_config_from_the_user_level_file() {
    let tpl = "FROM scratch\nRUN {{ 'a b\\nc' | apt_install }}\nRUN {{ 'x' | apt_remove }}\nENV REG={{ registry }} NS={{ namespace }}\n";
    let dir = tree(&[
        ("config.yaml", "namespace: project\n"),
        ("img/Dockerfile.template", tpl),
        ("img/changelog", &changelog("img", &["1.0"])),
    ]);
    let xdg = tree(&[("docker-pkg.yaml", "registry: user.example\nnamespace: user\nhttp_proxy: http://proxy:3128\n")]);
    let out = compare(dir.path(), xdg.path(), &[]);
    let df = out["images"]["img"]["dockerfile"].as_str().unwrap();
    assert!(df.contains("Acquire::http::Proxy \"http://proxy:3128\""), "{df}");
    assert!(df.contains("REG=user.example NS=project"), "{df}");
}

#[test]
fn strings_escapes_crlf_and_empty_config() {
    let tpl = "FROM scratch\r\n{% set p = \"one \\\ntwo\" %}RUN {{ p }} {{ 'a\\/b' }} {{ '\\x41\\101' }}\r\nRUN {{ \"\"\"tri\"\"\" }}\r\n\r\n";
    let dir = tree(&[
        ("config.yaml", ""),
        ("img/Dockerfile.template", tpl),
        ("img/changelog", &changelog("img", &["1:2.0~rc1-1"])),
        ("self/Dockerfile.template", "FROM {{ 'self' | image_tag }}\n"),
        ("self/changelog", &changelog("self", &["3"])),
    ]);
    let xdg = tempfile::tempdir().unwrap();
    let out = compare(dir.path(), xdg.path(), &[]);
    assert_eq!(out["images"]["self"]["dockerfile"], "FROM self:3");
}

#[test]
fn errors_stay_with_their_image() {
    let dir = tree(&[
        ("config.yaml", "registry: r\n"),
        ("good/Dockerfile.template", "FROM {{ 'good' | image_tag }}\n"),
        ("good/changelog", &changelog("good", &["1.0"])),
        ("undefined/Dockerfile.template", "FROM scratch\n\nRUN {{ nope }}\n"),
        ("undefined/changelog", &changelog("undefined", &["1.0"])),
        ("unknown-image/Dockerfile.template", "FROM {{ 'ghost' | image_tag }}\n"),
        ("unknown-image/changelog", &changelog("unknown-image", &["1.0"])),
        ("syntax/Dockerfile.template", "FROM scratch\n{% if %}\n"),
        ("syntax/changelog", &changelog("syntax", &["1.0"])),
        ("nouser/Dockerfile.template", "RUN {{ 'nobody-known' | add_user }}\n"),
        ("nouser/changelog", &changelog("nouser", &["1.0"])),
        ("escape/Dockerfile.template", "{% include '../good/changelog' %}\n"),
        ("escape/changelog", &changelog("escape", &["1.0"])),
    ]);
    let xdg = tempfile::tempdir().unwrap();
    let out = compare(dir.path(), xdg.path(), &["escape", "nouser", "syntax", "undefined", "unknown-image"]);
    let err = |n: &str| out["images"][n]["error"].as_str().unwrap().to_owned();
    assert!(
        err("undefined").starts_with(&format!("{}/undefined/Dockerfile.template:3: ", dir.path().display())),
        "{}",
        err("undefined")
    );
    assert!(err("undefined").contains("undefined"), "{}", err("undefined"));
    assert!(err("unknown-image").contains("r/ghost not found"), "{}", err("unknown-image"));
    assert!(err("syntax").contains("Dockerfile.template:2:"), "{}", err("syntax"));
    assert!(err("nouser").contains("no mapping found for user 'nobody-known'"), "{}", err("nouser"));
    assert!(err("escape").contains("not found"), "{}", err("escape"));
}

#[test]
fn do_statement_mutates_lists_and_dicts() {
    let tpl = r#"FROM scratch
{% set pkgs = ["curl"] %}
{%- do pkgs.append("git") %}
{%- do pkgs.extend(["jq", "make"]) %}
{%- do pkgs.insert(0, "first") %}
{%- set env = {"A": "1"} %}
{%- do env.update({"B": "2"}) %}
{%- do env.setdefault("C", "3") %}
{%- for p in ["x", "y"] %}{% do pkgs.append(p) %}{% endfor %}
RUN {{ pkgs | join(" ") | apt_install }}
ENV {% for k, v in env.items() %}{{ k }}={{ v }} {% endfor %}
ENV PKGS={{ pkgs }} ENVD={{ env }} LEN={{ pkgs | length }} HAS={{ "git" in pkgs }} IDX={{ pkgs[-1] }}
{% set nested = {"l": []} %}{% do nested["l"].append(1) %}ENV NESTED={{ nested }} POP={{ pkgs.pop() }} AFTER={{ pkgs }}
"#;
    let dir =
        tree(&[("config.yaml", ""), ("img/Dockerfile.template", tpl), ("img/changelog", &changelog("img", &["1.0"]))]);
    let xdg = tempfile::tempdir().unwrap();
    let out = compare(dir.path(), xdg.path(), &[]);
    let df = out["images"]["img"]["dockerfile"].as_str().unwrap();
    assert!(df.contains("--yes first curl git jq make x y --no-install-recommends"), "{df}");
    assert!(df.contains("ENV A=1 B=2 C=3 \n"), "{df}");
}
