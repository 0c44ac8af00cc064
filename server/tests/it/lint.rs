//! `dockyard lint` and `pull-script`: the four real snapshots against their
//! oracles, `--fix` byte for byte, and synthetic repositories for what the
//! corpus does not hold.

use crate::common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

const OLD: &str = "abbe7bf2cbea31a7f8fff653ec97c442ce7aa39b";

const SNAPSHOTS: [(&str, &str); 4] = [
    ("53bd7ee8313102a4639bbde806e56c167369de90", "integration-config"),
    ("abbe7bf2cbea31a7f8fff653ec97c442ce7aa39b", "integration-config-history/abbe7bf2cbea31a7f8fff653ec97c442ce7aa39b"),
    ("63c70cb5005908cb544291824fe961c0d82e5db5", "integration-config-history/63c70cb5005908cb544291824fe961c0d82e5db5"),
    ("e6ee721afc4a6275137d48589ce873bd10b65f7a", "integration-config-history/e6ee721afc4a6275137d48589ce873bd10b65f7a"),
];

type Row = (String, u64, String, Option<String>, String);

fn rows(pins: &Value, latest_is_ok: bool) -> BTreeSet<Row> {
    pins.as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let status = p["status"].as_str().unwrap();
            let status = if latest_is_ok && status == "latest" { "ok" } else { status };
            (
                p["file"].as_str().unwrap().to_owned(),
                p["line"].as_u64().unwrap(),
                p["image"].as_str().unwrap().to_owned(),
                p["version"].as_str().map(str::to_owned),
                status.to_owned(),
            )
        })
        .collect()
}

fn lint_json(repo: &Path, extra: &[&str]) -> (Option<i32>, Value) {
    let mut args = vec!["lint", "--repo", repo.to_str().unwrap(), "--format", "json"];
    args.extend_from_slice(extra);
    let out = dockyard(&args);
    assert!(out.status.code() != Some(2), "usage error: {}", stderr(&out));
    (out.status.code(), serde_json::from_slice(&out.stdout).expect("lint json"))
}

#[test]
fn every_snapshot_matches_its_oracle() {
    for (commit, dir) in SNAPSHOTS {
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(corpus().join(format!("expected/{commit}.json"))).unwrap())
                .unwrap();
        let (code, ours) = lint_json(&corpus().join(dir), &[]);
        let (want, got) = (rows(&expected["pins"], true), rows(&ours["pins"], false));
        let missing: Vec<_> = want.difference(&got).collect();
        let extra: Vec<_> = got.difference(&want).collect();
        assert!(missing.is_empty() && extra.is_empty(), "{commit}: missing {missing:?}\nextra {extra:?}");
        let failing = want.iter().any(|r| r.4 != "ok");
        assert_eq!(code, Some(if failing { 1 } else { 0 }), "{commit} exit code");
    }
}

#[test]
fn the_named_traps_are_caught() {
    let (_, current) = lint_json(&corpus().join(SNAPSHOTS[0].1), &[]);
    let jjb_var = current["pins"].as_array().unwrap().iter().find(|p| p["image"] == "python2-build-bullseye").unwrap();
    assert_eq!((jjb_var["file"].as_str(), jjb_var["line"].as_u64()), (Some("jjb/integration.yaml"), Some(261)));
    assert!(jjb_var["written"].as_str().unwrap().ends_with("python2-build-{distribution}:0.3.2"));

    let (_, dropped) = lint_json(&corpus().join(SNAPSHOTS[2].1), &[]);
    let dangling: Vec<&Value> =
        dropped["pins"].as_array().unwrap().iter().filter(|p| p["status"] == "not-in-catalog").collect();
    assert_eq!(dangling.len(), 1);
    assert_eq!((dangling[0]["file"].as_str(), dangling[0]["line"].as_u64()), (Some("jjb/oojs.yaml"), Some(10)));

    let (_, newer) = lint_json(&corpus().join(SNAPSHOTS[3].1), &[]);
    let doxygen: Vec<&Value> = newer["pins"].as_array().unwrap().iter().filter(|p| p["image"] == "doxygen").collect();
    assert!(!doxygen.is_empty());
    for p in doxygen {
        assert_eq!((p["status"].as_str(), p["order"].as_str()), (Some("stale"), Some("newer")), "{p}");
        assert_eq!(p["latest"], "1.10-0.s3");
    }
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
            let mut perms = std::fs::metadata(&target).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            std::fs::set_permissions(&target, perms).unwrap();
        }
    }
}

#[test]
fn fix_rewrites_exactly_the_stale_tags_and_a_rerun_is_clean() {
    let (commit, dir) = SNAPSHOTS[1];
    let original = corpus().join(dir);
    let work = tempfile::tempdir().unwrap();
    copy_tree(&original, work.path());
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(corpus().join(format!("expected/{commit}.json"))).unwrap())
            .unwrap();
    let catalog = &expected["catalog"];

    let out = dockyard(&["lint", "--repo", work.path().to_str().unwrap(), "--fix", "--offline", "--allow-unpublished"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let fixed: usize =
        stdout(&out).lines().map(|l| l.split_whitespace().nth(1).unwrap().parse::<usize>().unwrap()).sum();
    assert_eq!(fixed, 184);

    // Apply the oracle's stale pins to the original text by hand: the result
    // must be the fixed file, byte for byte; every other file is untouched.
    let mut by_file: std::collections::BTreeMap<String, Vec<(u64, String, String)>> = Default::default();
    for p in expected["pins"].as_array().unwrap().iter().filter(|p| p["status"] == "stale") {
        let image = p["image"].as_str().unwrap();
        let latest = catalog[image]["latest"].as_str().unwrap().to_owned();
        by_file.entry(p["file"].as_str().unwrap().to_owned()).or_default().push((
            p["line"].as_u64().unwrap(),
            format!("releng/{image}:{}", p["version"].as_str().unwrap()),
            format!("releng/{image}:{latest}"),
        ));
    }
    for entry in walk(&original.join("jjb")) {
        let rel = entry.strip_prefix(&original).unwrap().to_str().unwrap().to_owned();
        let before = std::fs::read(&entry).unwrap();
        let after = std::fs::read(work.path().join(&rel)).unwrap();
        match by_file.get(&rel) {
            None => assert_eq!(before, after, "{rel} changed"),
            Some(edits) => {
                let text = String::from_utf8(before).unwrap();
                let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
                for (line, from, to) in edits {
                    let l = &mut lines[*line as usize - 1];
                    assert!(l.contains(from.as_str()), "{rel}:{line}");
                    *l = l.replacen(from.as_str(), to, 1);
                }
                assert_eq!(lines.join("\n").into_bytes(), after, "{rel}: more than the tags changed");
            }
        }
    }

    let (code, rerun) = lint_json(work.path(), &[]);
    assert_eq!(code, Some(0));
    assert_eq!(rerun["summary"]["by_status"]["stale"], 0);
    let again =
        dockyard(&["lint", "--repo", work.path().to_str().unwrap(), "--fix", "--offline", "--allow-unpublished"]);
    assert_eq!((again.status.code(), stdout(&again)), (Some(0), String::new()));
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

fn synthetic(jjb: &[(&str, &str)]) -> tempfile::TempDir {
    let mut files: Vec<(String, String)> = vec![
        ("dockerfiles/config.yaml".into(), "registry: reg.example\nnamespace: ci\n".into()),
        ("dockerfiles/base/Dockerfile.template".into(), "FROM scratch\n".into()),
        ("dockerfiles/base/changelog".into(), changelog("base", &["2.0-s1", "2.0", "1.0"])),
        ("dockerfiles/py-bullseye/Dockerfile.template".into(), "FROM scratch\n".into()),
        ("dockerfiles/py-bullseye/changelog".into(), changelog("py-bullseye", &["3.0", "2.0"])),
        ("dockerfiles/py-bookworm/Dockerfile.template".into(), "FROM scratch\n".into()),
        ("dockerfiles/py-bookworm/changelog".into(), changelog("py-bookworm", &["3.0", "2.0", "1.0"])),
        ("dockerfiles/orphan/Dockerfile.template".into(), "FROM scratch\n".into()),
        ("dockerfiles/orphan/changelog".into(), changelog("orphan", &["1"])),
        ("dockerfiles/child/Dockerfile.template".into(), "FROM scratch\n".into()),
        ("dockerfiles/child/changelog".into(), changelog("child", &["1"])),
        ("dockerfiles/child/control".into(), "Package: child\nDepends: base\n".into()),
    ];
    files.extend(jjb.iter().map(|(p, t)| (format!("jjb/{p}"), t.to_string())));
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    tree(&refs)
}

fn statuses(report: &Value) -> Vec<(u64, String, Option<String>, String)> {
    report["pins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["line"].as_u64().unwrap(),
                p["image"].as_str().unwrap().to_owned(),
                p["version"].as_str().map(str::to_owned),
                p["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn anchors_custom_tags_placeholders_and_every_status() {
    let yaml = "\
- job-template: &tpl
    name: 'a-{x}'
    image: reg.example/ci/base:2.0-s1
    builders:
      - shell: !include-raw: missing.sh
      - shell: !j2: |
          docker run reg.example/ci/base:1.0
- job-template:
    <<: *tpl
    name: b
- project:
    name: p
    os: [bullseye, bookworm]
    jobs:
      - 'j-{os}':
          image: 'reg.example/ci/py-{os}:3.0'
      - k:
          image: reg.example/ci/py-{nope}:3.0
- job:
    name: c
    image: reg.example/ci/base
    other: reg.example/ci/base:latest
    typo: reg.example/ci/base:2.1
    gone: reg.example/ci/removed:1.0
    newer: reg.example/ci/py-bullseye:2.0 # older
";
    let repo = synthetic(&[("jobs.yaml", yaml), ("notes.txt", "use reg.example/ci/child:1 here\n")]);
    let (code, report) = lint_json(repo.path(), &[]);
    assert_eq!(code, Some(1));
    let s = |l: u64, i: &str, v: Option<&str>, st: &str| (l, i.to_owned(), v.map(str::to_owned), st.to_owned());
    assert_eq!(
        statuses(&report),
        vec![
            s(3, "base", Some("2.0-s1"), "ok"),
            s(7, "base", Some("1.0"), "stale"),
            s(16, "py-bookworm", Some("3.0"), "ok"),
            s(16, "py-bullseye", Some("3.0"), "ok"),
            s(18, "py-{nope}", Some("3.0"), "unresolved"),
            s(21, "base", None, "untagged"),
            s(22, "base", Some("latest"), "untagged"),
            s(23, "base", Some("2.1"), "unknown-version"),
            s(24, "removed", Some("1.0"), "not-in-catalog"),
            s(25, "py-bullseye", Some("2.0"), "stale"),
            s(1, "child", Some("1"), "ok"),
        ]
    );
    let warnings: Vec<String> = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| format!("{}:{}: {}", w["file"].as_str().unwrap(), w["line"], w["message"].as_str().unwrap()))
        .collect();
    assert_eq!(warnings, ["jjb/jobs.yaml:5: !include-raw: target `missing.sh` does not exist"]);
    assert_eq!(report["summary"]["dead_images"], serde_json::json!(["orphan"]));
    assert_eq!(report["pins"][1]["order"], "older");

    // --fail-on narrows what fails; `none` never fails.
    let (code, _) = lint_json(repo.path(), &["--fail-on", "untagged"]);
    assert_eq!(code, Some(1));
    let (code, _) = lint_json(repo.path(), &["--fail-on", "none"]);
    assert_eq!(code, Some(0));
    let out = dockyard(&["lint", "--repo", repo.path().to_str().unwrap(), "--fail-on", "bogus"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn text_output_points_at_the_tag_and_is_quiet_when_clean() {
    let repo = synthetic(&[("a.yaml", "- job:\n    image: \"reg.example/ci/base:1.0\"\n")]);
    let out = dockyard(&["lint", "--repo", repo.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    // The changelog helper dates every entry 2024-01-01: the pin was
    // superseded that day.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let days = (now - 1_704_067_200) / 86_400;
    let want = format!(
        "error[stale]: `base:1.0` is stale: an older version, 2 versions and {days} days behind; the latest is 2.0-s1\n --> jjb/a.yaml:2:13\n  |\n2 |     image: \"reg.example/ci/base:1.0\"\n  |                                 ^^^\n  = fix: reg.example/ci/base:2.0-s1\n"
    );
    assert!(text.starts_with(&want), "{text}");

    let clean = synthetic(&[("a.yaml", "- job:\n    image: reg.example/ci/base:2.0-s1\n")]);
    let out = dockyard(&["lint", "--repo", clean.path().to_str().unwrap()]);
    assert_eq!((out.status.code(), stdout(&out), stderr(&out)), (Some(0), String::new(), String::new()));
}

#[test]
fn junit_is_well_formed_and_counts_failures() {
    let repo =
        synthetic(&[("a.yaml", "a: reg.example/ci/base:1.0\nb: reg.example/ci/base:2.0-s1\nc: reg.example/ci/base\n")]);
    let out = dockyard(&["lint", "--repo", repo.path().to_str().unwrap(), "--format", "junit"]);
    assert_eq!(out.status.code(), Some(1));
    let xml = stdout(&out);
    let check = piped(
        Command::new("python3").args(["-c", "import sys,xml.dom.minidom as m; d=m.parseString(sys.stdin.read()); s=d.getElementsByTagName('testsuite')[0]; print(s.getAttribute('tests'), s.getAttribute('failures'), len(d.getElementsByTagName('failure')))"]),
        xml.as_bytes(),
    );
    assert_eq!(String::from_utf8_lossy(&check.stdout).trim(), "3 1 1", "{xml}");
}

#[test]
fn fix_keeps_quotes_comments_and_crlf_and_writes_atomically() {
    let text = "# header comment\r\n- job:\r\n    a: 'reg.example/ci/base:1.0' # keep me\r\n    b: \"reg.example/ci/base:2.0\"\r\n    c: reg.example/ci/py-{os}:2.0\r\n    os: [bullseye, bookworm]\r\n";
    let repo = synthetic(&[("a.yaml", text)]);
    let file = repo.path().join("jjb/a.yaml");
    let out = dockyard(&["lint", "--repo", repo.path().to_str().unwrap(), "--fix", "--offline", "--allow-unpublished"]);
    // py-{os}:2.0 expands to two images, both stale with latest 3.0: fixed too.
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let after = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        after,
        text.replace("base:1.0'", "base:2.0-s1'")
            .replace("base:2.0\"", "base:2.0-s1\"")
            .replace("{os}:2.0", "{os}:3.0")
    );
    let leftovers: Vec<_> =
        std::fs::read_dir(repo.path().join("jjb")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 1, "temporary files left: {leftovers:?}");
}

#[test]
fn a_pin_to_an_unreadable_image_says_why() {
    let repo = synthetic(&[("a.yaml", "a: reg.example/ci/broken:1.0\n")]);
    std::fs::create_dir_all(repo.path().join("dockerfiles/broken")).unwrap();
    std::fs::write(repo.path().join("dockerfiles/broken/Dockerfile.template"), "FROM scratch\n").unwrap();
    std::fs::write(repo.path().join("dockerfiles/broken/changelog"), "not a changelog\n").unwrap();
    let (code, report) = lint_json(repo.path(), &[]);
    assert_eq!(code, Some(1));
    let pin = &report["pins"][0];
    assert_eq!(pin["status"], "not-in-catalog");
    let note = pin["note"].as_str().unwrap();
    assert!(note.contains("dockerfiles/broken/changelog:1:"), "{note}");
}

#[test]
fn extra_pin_paths_are_scanned() {
    let repo = synthetic(&[("a.yaml", "a: reg.example/ci/base:2.0-s1\n")]);
    std::fs::create_dir_all(repo.path().join("zuul.d")).unwrap();
    std::fs::write(repo.path().join("zuul.d/x.yaml"), "image: reg.example/ci/base:1.0\n").unwrap();
    std::fs::write(repo.path().join("devcontainer.json"), "{\"image\": \"reg.example/ci/child:1\"}\n").unwrap();
    let root = repo.path().to_str().unwrap();
    let (code, report) =
        lint_json(repo.path(), &["--pins", &format!("{root}/zuul.d"), "--pins", &format!("{root}/devcontainer.json")]);
    assert_eq!(code, Some(1));
    let files: Vec<&str> = report["pins"].as_array().unwrap().iter().map(|p| p["file"].as_str().unwrap()).collect();
    assert_eq!(files, ["jjb/a.yaml", "zuul.d/x.yaml", "devcontainer.json"]);
}

#[test]
fn pull_script_passes_shellcheck_and_pulls_each_image_once() {
    let repo = synthetic(&[(
        "a.yaml",
        "a: reg.example/ci/base:2.0-s1\nb: reg.example/ci/base:2.0-s1\nc: reg.example/ci/child:1\nd: reg.example/ci/gone:1\ne: reg.example/ci/base\n",
    )]);
    let script = repo.path().join("out/pull.sh");
    std::fs::create_dir_all(script.parent().unwrap()).unwrap();
    let out = dockyard(&[
        "pull-script",
        "--repo",
        repo.path().to_str().unwrap(),
        "--host",
        "ssh://ci@agent-1",
        "-o",
        script.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(&script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&script).unwrap().permissions().mode() & 0o777, 0o755);
    let pulled: Vec<&str> = text.lines().filter(|l| l.starts_with("    'reg.example")).collect();
    assert_eq!(pulled, ["    'reg.example/ci/base:2.0-s1' \\", "    'reg.example/ci/child:1' \\"]);
    assert!(text.contains("DOCKER_HOST=${DOCKER_HOST:-'ssh://ci@agent-1'}"), "{text}");
    assert!(text.contains("# skipped: reg.example/ci/gone:1 (not-in-catalog: jjb/a.yaml:4)"), "{text}");
    assert!(text.lines().nth(1).unwrap().starts_with("# Pulls every image pinned in"));
    let sc = Command::new("shellcheck").arg("--shell=sh").arg(&script).output();
    let sc = sc.expect("shellcheck is not installed (scripts/setup installs it)");
    assert!(sc.status.success(), "shellcheck: {}", String::from_utf8_lossy(&sc.stdout));
    // The script runs: with a fake `docker` on PATH it pulls each image once.
    let bin = repo.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("docker"), "#!/bin/sh\necho \"$DOCKER_HOST $*\" >> \"$LOG\"\n").unwrap();
    std::fs::set_permissions(bin.join("docker"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let log = repo.path().join("docker.log");
    let run = Command::new("sh")
        .arg(&script)
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("LOG", &log)
        .env_remove("DOCKER_HOST")
        .output()
        .unwrap();
    assert!(run.status.success());
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "ssh://ci@agent-1 pull reg.example/ci/base:2.0-s1\nssh://ci@agent-1 pull reg.example/ci/child:1\n"
    );
}

/// PyYAML's composer (a YAML parser that keeps every node's lines, and
/// leaves JJB's own tags alone), run over every JJB file: the top-level
/// item each line of a file is in (kind, name, and the `jobs:` entry of a
/// project or group the line is under).
const JOBS_ORACLE: &str = r#"
import json, sys, yaml
out = {}
for path in sys.argv[1:]:
    with open(path) as f:
        docs = list(yaml.compose_all(f))
    items = []
    for doc in docs:
        if not isinstance(doc, yaml.SequenceNode):
            continue
        for item in doc.value:
            if not isinstance(item, yaml.MappingNode) or len(item.value) != 1:
                continue
            key, body = item.value[0]
            if not isinstance(body, yaml.MappingNode):
                continue
            fields = {k.value: v for k, v in body.value if isinstance(k, yaml.ScalarNode)}
            name = fields.get("name")
            entries = []
            jobs = fields.get("jobs")
            if isinstance(jobs, yaml.SequenceNode):
                for e in jobs.value:
                    n = e.value if isinstance(e, yaml.ScalarNode) else e.value[0][0].value
                    entries.append([e.start_mark.line + 1, e.end_mark.line + 1, n])
            items.append([key.value, name.value if isinstance(name, yaml.ScalarNode) else None,
                          item.start_mark.line + 1, item.end_mark.line + 1, entries])
    out[path] = items
json.dump(out, sys.stdout)
"#;

/// The job named beside each pin is the one a real YAML parser puts
/// around its line, on the current corpus and the old snapshot.
#[test]
fn each_pin_names_the_jjb_job_a_yaml_parser_puts_around_it() {
    for repo in [corpus().join("integration-config"), corpus().join(format!("integration-config-history/{OLD}"))] {
        let out = dockyard(&["lint", "--repo", repo.to_str().unwrap(), "--format", "json"]);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let pins = report["pins"].as_array().unwrap();
        let files: std::collections::BTreeSet<String> =
            pins.iter().map(|p| p["file"].as_str().unwrap().to_owned()).collect();
        let oracle = Command::new(crate::render_docker_pkg::oracle_python())
            .arg("-c")
            .arg(JOBS_ORACLE)
            .args(files.iter().map(|f| repo.join(f)))
            .output()
            .unwrap();
        assert!(oracle.status.success(), "{}", String::from_utf8_lossy(&oracle.stderr));
        let oracle: Value = serde_json::from_slice(&oracle.stdout).unwrap();
        let mut named = 0;
        for p in pins {
            let (file, line) = (p["file"].as_str().unwrap(), p["line"].as_u64().unwrap());
            let items = oracle[repo.join(file).to_str().unwrap()].as_array().unwrap();
            // The item whose lines hold the pin (its end mark is the line
            // after its last value).
            let around = items.iter().find(|i| i[2].as_u64().unwrap() <= line && line < i[3].as_u64().unwrap());
            let want = around.filter(|i| i[1].is_string()).map(|i| {
                let entry = i[4]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|e| {
                        e[0].as_u64().unwrap() <= line && line < e[1].as_u64().unwrap().max(e[0].as_u64().unwrap() + 1)
                    })
                    .map(|e| e[2].as_str().unwrap().to_owned());
                (i[0].as_str().unwrap().to_owned(), i[1].as_str().unwrap().to_owned(), entry)
            });
            let got = p.get("job").filter(|j| !j.is_null()).map(|j| {
                (
                    j["kind"].as_str().unwrap().to_owned(),
                    j["name"].as_str().unwrap().to_owned(),
                    j.get("entry").and_then(|e| e.as_str()).map(str::to_owned),
                )
            });
            assert_eq!(got, want, "{file}:{line}");
            named += usize::from(got.is_some());
        }
        assert!(named * 10 >= pins.len() * 9, "only {named} of {} pins name a job", pins.len());
    }
}

/// A group's and a file's own patch: only their stale pins change.
#[test]
fn a_patch_of_one_group_or_one_file_changes_only_those_pins() {
    let repo = corpus().join(format!("integration-config-history/{OLD}"));
    let server = Server::start(&["--repo", repo.to_str().unwrap()]);
    let files_of = |patch: &str| -> BTreeSet<String> {
        patch.lines().filter_map(|l| l.strip_prefix("+++ b/")).map(str::to_owned).collect()
    };
    let (status, _, all) = server.get("/api/v1/pins/patch");
    assert_eq!(status, 200);
    assert!(files_of(&all).len() > 5, "{all}");
    let (_, _, file) = server.get("/api/v1/pins/patch?file=jjb/castor.yaml");
    assert_eq!(files_of(&file), BTreeSet::from(["jjb/castor.yaml".to_owned()]));
    let (_, _, group) = server.get("/api/v1/pins/patch?image=castor&version=0.4.0");
    let added: Vec<&str> = group.lines().filter(|l| l.starts_with('+') && !l.starts_with("+++")).collect();
    assert!(!added.is_empty() && added.iter().all(|l| l.contains("releng/castor:0.4.1")), "{group}");
    let (status, _, none) = server.get("/api/v1/pins/patch?image=no-such-image");
    assert_eq!((status, none.as_str()), (200, ""));
}
