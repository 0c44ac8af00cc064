//! The positioned YAML tree: any text loads or fails with a position, within
//! the depth and node limits (aliases counted at their expanded size), and
//! turning it into config values terminates.
#![no_main]
use dockyard_core::limits::{MAX_YAML_DEPTH, MAX_YAML_NODES};
use dockyard_core::yaml::{self, Kind, Node};
use libfuzzer_sys::fuzz_target;

fn measure(n: &Node, depth: usize, count: &mut usize) {
    assert!(depth <= MAX_YAML_DEPTH + 1, "depth {depth}");
    *count += 1;
    match &n.kind {
        Kind::Scalar(..) => {}
        Kind::Seq(items) => items.iter().for_each(|i| measure(i, depth + 1, count)),
        Kind::Map(pairs) => pairs.iter().for_each(|(k, v)| {
            measure(k, depth + 1, count);
            measure(v, depth + 1, count);
        }),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match yaml::load(text) {
        Ok(docs) => {
            let mut count = 0;
            for d in &docs {
                measure(d, 0, &mut count);
                let _ = dockyard_core::config::to_value(d);
            }
            assert!(count <= MAX_YAML_NODES + docs.len());
        }
        Err(e) => assert!(e.line >= 1),
    }
});
