//! Acceptance: `dockyard render` on the real Wikimedia catalog equals what
//! docker-pkg 4.0.4 rendered, byte for byte, for all 85 images.

use crate::common::*;
use serde_json::Value;

#[test]
fn renders_the_wikimedia_catalog_exactly_as_docker_pkg() {
    let root = corpus().join("integration-config/dockerfiles");
    let out = dockyard(&[
        "render",
        "--config",
        root.join("config.yaml").to_str().unwrap(),
        root.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let ours: Value = serde_json::from_slice(&out.stdout).expect("json");
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(corpus().join("expected/rendered-53bd7ee8313102a4639bbde806e56c167369de90.json"))
            .unwrap(),
    )
    .unwrap();
    let (ours, expected) = (ours["images"].as_object().unwrap(), expected["images"].as_object().unwrap());
    assert_eq!(expected.len(), 85);
    let names = |m: &serde_json::Map<String, Value>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(ours), names(expected));
    let mut mismatched = Vec::new();
    for (name, want) in expected {
        for field in ["label", "depends", "dir", "dockerfile", "error"] {
            if ours[name][field] != want[field] {
                mismatched.push(format!("{name}.{field}:\n  ours: {}\n  want: {}", ours[name][field], want[field]));
            }
        }
    }
    assert!(mismatched.is_empty(), "{} mismatches:\n{}", mismatched.len(), mismatched.join("\n"));
}

#[test]
fn template_image_refs_match_the_oracle_and_the_graph_is_clean() {
    let root = corpus().join("integration-config/dockerfiles");
    let out = dockyard(&["graph", root.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let graph: Value = serde_json::from_slice(&out.stdout).unwrap();
    let oracle: Value = serde_json::from_str(
        &std::fs::read_to_string(corpus().join("expected/53bd7ee8313102a4639bbde806e56c167369de90.json")).unwrap(),
    )
    .unwrap();
    for (name, entry) in oracle["catalog"].as_object().unwrap() {
        let mut want: Vec<&str> =
            entry["template_image_tag_refs"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        want.retain(|w| *w != name);
        want.sort();
        want.dedup();
        let ours: Vec<&str> = graph["edges"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["child"] == name.as_str())
            .map(|e| e["parent"].as_str().unwrap())
            .collect();
        assert_eq!(ours, want, "parents of {name}");
    }
    assert_eq!(graph["problems"], serde_json::json!([]));
}
