//! JJB placeholder expansion on structured projects: the bytes choose axes,
//! values and pins with placeholders, so that the fuzzer reaches the shapes
//! that multiply (several axes in one pin, nested jobs, aliases of axes)
//! instead of searching for YAML syntax. Expansion stays within its limit.
#![no_main]
use dockyard_core::jjb::{Resolution, ScopeIndex};
use dockyard_core::limits::MAX_PLACEHOLDER_EXPANSIONS;
use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 6] = ["a", "b", "c", "dist", "php", "v"];

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let mut it = data.iter().copied();
    let mut next = move || it.next().unwrap_or(0);
    let mut text = String::from("- project:\n    name: p\n");
    let axes = 1 + next() % 5;
    for i in 0..axes {
        let name = NAMES[i as usize % NAMES.len()];
        let values = next() % 40;
        let vals: Vec<String> = (0..values).map(|j| format!("v{j}")).collect();
        if next() % 3 == 0 {
            text.push_str(&format!("    {name}: &{name} [{}]\n", vals.join(", ")));
        } else {
            text.push_str(&format!("    {name}: [{}]\n", vals.join(", ")));
        }
    }
    text.push_str("    jobs:\n");
    let pins = 1 + next() % 8;
    let mut offsets = Vec::new();
    for j in 0..pins {
        let mut written = String::from("img");
        for _ in 0..next() % 5 {
            written.push_str(&format!("-{{{}}}", NAMES[next() as usize % NAMES.len()]));
        }
        let tag = format!("{{{}}}", NAMES[next() as usize % NAMES.len()]);
        text.push_str(&format!("      - j{j}:\n          "));
        if next() % 4 == 0 {
            text.push_str(&format!("dist: *{}\n          ", NAMES[next() as usize % 3]));
        }
        offsets.push((text.len() + 7, written.clone(), tag.clone()));
        text.push_str(&format!("image: reg/ns/{written}:{tag}\n"));
    }
    let Ok(docs) = dockyard_core::yaml::load(&text) else { return };
    let index = ScopeIndex::build(&docs[0]);
    for (offset, written, tag) in offsets {
        let Some(scope) = index.scope_of(offset, &format!("reg/ns/{written}")) else { continue };
        for w in [written.as_str(), tag.as_str()] {
            match scope.expand(w) {
                Resolution::Values(v) => assert!(!v.is_empty() && v.len() <= MAX_PLACEHOLDER_EXPANSIONS),
                Resolution::Unresolved(_) | Resolution::TooMany => {}
            }
        }
    }
});
