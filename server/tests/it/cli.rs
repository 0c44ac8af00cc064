//! The command line on synthetic catalogs: bad input, exit codes, formats,
//! several roots.

use crate::common::*;
use serde_json::Value;

#[test]
fn broken_files_name_file_and_line_and_the_rest_still_renders() {
    let dir = tree(&[
        ("config.yaml", "registry: r\nnamespace: n\n"),
        ("ok/Dockerfile.template", "FROM {{ 'ok' | image_tag }}\n"),
        ("ok/changelog", &changelog("ok", &["1.0"])),
        ("badlog/Dockerfile.template", "FROM scratch\n"),
        ("badlog/changelog", "\nthis is not a header\n"),
        ("badcontrol/Dockerfile.template", "FROM scratch\n"),
        ("badcontrol/changelog", &changelog("badcontrol", &["2.0"])),
        ("badcontrol/control", "Package: badcontrol\nDepends ok\n"),
        ("badtpl/Dockerfile.template", "FROM scratch\n{% for %}\n"),
        ("badtpl/changelog", &changelog("badtpl", &["3.0"])),
        ("lonely/Dockerfile.template", "FROM scratch\n"),
    ]);
    let root = dir.path().to_str().unwrap();
    let out = dockyard(&["render", root, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let images = &json["images"];
    assert_eq!(images["ok"]["dockerfile"], "FROM r/n/ok:1.0");
    assert_eq!(
        images["badlog"]["error"].as_str().unwrap().split(": ").next().unwrap(),
        format!("{root}/badlog/changelog:2")
    );
    assert_eq!(images["badlog"]["label"], Value::Null);
    assert!(images["badcontrol"]["error"].as_str().unwrap().starts_with(&format!("{root}/badcontrol/control:2: ")));
    assert_eq!(images["badcontrol"]["label"], "r/n/badcontrol:2.0");
    assert!(images["badtpl"]["error"].as_str().unwrap().starts_with(&format!("{root}/badtpl/Dockerfile.template:2: ")));
    assert!(stderr(&out).contains("lonely: ignored: has a Dockerfile.template but no changelog"), "{}", stderr(&out));
    assert!(images.get("lonely").is_none());
}

#[test]
fn usage_and_io_errors_exit_2() {
    let out = dockyard(&["render", "/nonexistent/catalog"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/nonexistent/catalog: not a folder"), "{}", stderr(&out));
    let dir = tree(&[("config.yaml", "registry: [unclosed\n")]);
    let out = dockyard(&["render", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("config.yaml:2: YAML syntax error"), "{}", stderr(&out));
    let out = dockyard(&["render", "--format", "xml", "."]);
    assert_eq!(out.status.code(), Some(2));
    let dir = tree(&[("config.yaml", ""), ("a/Dockerfile.template", "x"), ("a/changelog", &changelog("a", &["1"]))]);
    let out = dockyard(&["render", dir.path().to_str().unwrap(), "--image", "ghost"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no image named `ghost`"));
}

#[test]
fn text_render_of_one_image_is_the_dockerfile() {
    let dir = tree(&[
        ("config.yaml", ""),
        ("a/Dockerfile.template", "FROM x\nRUN y\n"),
        ("a/changelog", &changelog("a", &["1"])),
    ]);
    let out = dockyard(&["render", dir.path().to_str().unwrap(), "--image", "a"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "FROM x\nRUN y\n");
}

#[test]
fn graph_reports_disagreements_unknown_parents_and_cycles() {
    let dir = tree(&[
        ("config.yaml", "registry: r\n"),
        ("a/Dockerfile.template", "FROM {{ 'c' | image_tag }}\n"),
        ("a/changelog", &changelog("a", &["1"])),
        ("a/control", "Package: a\nDepends: c, ghost\n"),
        ("b/Dockerfile.template", "FROM {{ 'a' | image_tag }}\n"),
        ("b/changelog", &changelog("b", &["1"])),
        ("c/Dockerfile.template", "FROM {{ 'b' | image_tag }}\n"),
        ("c/changelog", &changelog("c", &["1"])),
        ("c/control", "Package: c\nDepends: b\n"),
    ]);
    let root = dir.path().to_str().unwrap();
    let out = dockyard(&["graph", root, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let g: Value = serde_json::from_slice(&out.stdout).unwrap();
    let problems: Vec<String> =
        g["problems"].as_array().unwrap().iter().map(|p| p["kind"].as_str().unwrap().to_owned()).collect();
    assert_eq!(problems, ["template-only", "unknown-parent", "cycle"]);
    assert_eq!(g["problems"][2]["images"], serde_json::json!(["a", "c", "b", "a"]));
    let out = dockyard(&["graph", root, "--format", "dot"]);
    let dot = stdout(&out);
    assert!(dot.starts_with("digraph dockyard {"), "{dot}");
    assert!(dot.contains("\"a\" -> \"b\" [style=dashed, color=red];"), "{dot}");
    assert!(dot.contains("\"c\" -> \"a\";"), "{dot}");
    let out = dockyard(&["graph", root]);
    assert!(stderr(&out).contains("problem: dependency cycle: a -> c -> b -> a"), "{}", stderr(&out));
}

#[test]
fn several_roots_each_with_its_config() {
    let dir = tree(&[
        ("config.yaml", "registry: main.example\n"),
        ("images/a/Dockerfile.template", "FROM {{ 'a' | image_tag }}\n"),
        ("images/a/changelog", &changelog("a", &["1"])),
        ("config-istio.yaml", "registry: istio.example\nnamespace: istio\n"),
        ("istio/b/Dockerfile.template", "FROM {{ 'b' | image_tag }}\n"),
        ("istio/b/changelog", &changelog("b", &["2"])),
    ]);
    let p = |s: &str| dir.path().join(s).to_str().unwrap().to_owned();
    let istio = format!("{}={}", p("config-istio.yaml"), p("istio"));
    let out = dockyard(&["render", "--config", &p("config.yaml"), &p("images"), "--root", &istio, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["images"]["a"]["dockerfile"], "FROM main.example/a:1");
    assert_eq!(json["images"]["b"]["dockerfile"], "FROM istio.example/istio/b:2");
    assert_eq!(json["images"]["b"]["root"], p("istio"));
    let out = dockyard(&["catalog", "--config", &p("config.yaml"), &p("images"), "--root", &istio]);
    assert_eq!(stdout(&out), "a  1\nb  2\n");
}

#[test]
fn duplicate_image_names_are_an_error() {
    let dir = tree(&[
        ("config.yaml", ""),
        ("one/Dockerfile.template", "FROM a\n"),
        ("one/changelog", &changelog("same", &["1"])),
        ("two/Dockerfile.template", "FROM b\n"),
        ("two/changelog", &changelog("same", &["2"])),
    ]);
    let out = dockyard(&["render", dir.path().to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("image `same` is already defined in one"), "{}", stderr(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["images"]["same"]["dockerfile"], "FROM a");
}

#[test]
fn user_level_config_is_read_beneath_the_project_file() {
    let dir = tree(&[
        ("config.yaml", "namespace: proj\n"),
        ("a/Dockerfile.template", "{{ registry }}/{{ namespace }}"),
        ("a/changelog", &changelog("a", &["1"])),
    ]);
    let xdg = tree(&[("docker-pkg.yaml", "registry: user.example\nnamespace: user\n")]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dockyard"))
        .args(["render", dir.path().to_str().unwrap(), "--image", "a"])
        .env("XDG_CONFIG_HOME", xdg.path())
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "user.example/proj\n");
}
