//! Every limit the parsers and the renderer hold untrusted input to.
//!
//! `lint` and `impact` read files exactly as an untrusted patch left them,
//! and `serve` renders them for every visitor, so no input may make the
//! process crash, hang or run out of memory. Each limit is far above what
//! real catalogs use (the Wikimedia catalog's largest changelog is 50 KB,
//! its largest JJB file 36 KB, its busiest template a few thousand
//! instructions); passing one is an error that names the file (and the line
//! where one is known), and the rest of the work goes on.
//!
//! | input | limit |
//! |---|---|
//! | `config.yaml`, the user-level config, `dockyard.toml` | [`MAX_CONFIG_BYTES`] |
//! | a `changelog` | [`MAX_CHANGELOG_BYTES`] |
//! | a `control` file, a `.dockerignore` | [`MAX_CONTROL_BYTES`] |
//! | a template or a file it includes | [`MAX_TEMPLATE_BYTES`] |
//! | a file under the pin paths | [`MAX_PIN_FILE_BYTES`] |
//! | files under the pin paths | [`MAX_PIN_FILES`] |
//! | pins in one file | [`MAX_PINS_PER_FILE`] |
//! | expansions of one pin's `{placeholders}` | [`MAX_PLACEHOLDER_EXPANSIONS`] |
//! | YAML nesting | [`MAX_YAML_DEPTH`] |
//! | YAML nodes, aliases expanded | [`MAX_YAML_NODES`] |
//! | work of one render (instructions, and bytes produced / 64) | [`RENDER_FUEL`] |
//! | template recursion (macros, includes) | [`MAX_TEMPLATE_RECURSION`] |
//! | nesting printed by `str()`/`repr()` | [`MAX_REPR_DEPTH`] |
//! | elements read by one render's comparisons, lookups and loops over lists and dicts | [`MAX_COLLECTION_STEPS`] |
//! | elements in one template list or dict | [`MAX_COLLECTION_LEN`] |
//! | image folders in a catalog | [`MAX_IMAGES`] |
//! | directory depth of a scan | [`MAX_SCAN_DEPTH`] |
//! | files in one build context | [`MAX_CONTEXT_FILES`] |
//! | bytes of one build context (it is built in memory) | [`MAX_CONTEXT_BYTES`] |
//! | git revisions from users | `server::git::check_revision` (names and `~N`/`^N` only) |
//! | patterns (`COPY`, `.dockerignore`, `--select`) | linear-time matching, no limit needed |

/// `config.yaml` and other configuration files.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;
/// One changelog (the whole history is read on demand).
pub const MAX_CHANGELOG_BYTES: u64 = 4 << 20;
/// One `control` file or `.dockerignore`.
pub const MAX_CONTROL_BYTES: u64 = 256 << 10;
/// One `Dockerfile.template` or included file.
pub const MAX_TEMPLATE_BYTES: u64 = 1 << 20;
/// One file under the pin paths.
pub const MAX_PIN_FILE_BYTES: u64 = 4 << 20;
/// Files read under the pin paths, in all.
pub const MAX_PIN_FILES: usize = 20_000;
/// Pins found in one file; the rest of the file is not linted.
pub const MAX_PINS_PER_FILE: usize = 20_000;
/// Images one written pin may expand to through its `{placeholders}`.
pub const MAX_PLACEHOLDER_EXPANSIONS: usize = 256;
/// Nesting of YAML collections.
pub const MAX_YAML_DEPTH: usize = 64;
/// YAML nodes in one file, every alias counted at its expanded size
/// ("billion laughs" stops here).
pub const MAX_YAML_NODES: usize = 250_000;
/// minijinja fuel per render: one unit per instruction, one per 64 bytes
/// of data produced (strings, list slots), so a render can produce at most
/// 64 MiB in all.
pub const RENDER_FUEL: u64 = 1_000_000;
/// Nested macro calls and includes in one render.
pub const MAX_TEMPLATE_RECURSION: usize = 100;
/// Nesting `str()`/`repr()` prints before failing (Python's own limit is
/// about 1000 frames; a list that contains itself prints `[...]` as in Python).
pub const MAX_REPR_DEPTH: usize = 200;
/// Elements of template lists and dicts read, in all, by one render where
/// minijinja has no fuel to charge: comparisons (`==`, `in`), lookups
/// (`d[k]`) and enumeration (`for`, filters). Shared structure cannot make
/// comparisons exponential, nor lookups in a big dict quadratic.
pub const MAX_COLLECTION_STEPS: u64 = 1_000_000;
/// Elements one template list or dict may hold.
pub const MAX_COLLECTION_LEN: usize = 1_000_000;
/// Image folders in one catalog root.
pub const MAX_IMAGES: usize = 10_000;
/// Directory depth a catalog or pin-path scan descends.
pub const MAX_SCAN_DEPTH: usize = 32;
/// Files in one image's build context.
pub const MAX_CONTEXT_FILES: usize = 100_000;
/// Bytes of one image's build context, its files together (the tar is
/// made in memory before it is sent to the engine).
pub const MAX_CONTEXT_BYTES: u64 = 1 << 30;
/// Characters of file content quoted in an error message.
pub const MAX_QUOTE_CHARS: usize = 120;

/// Shortens `s` for quoting in a message: at most [`MAX_QUOTE_CHARS`]
/// characters, control characters shown as `\u{…}` escapes.
pub fn quote(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == MAX_QUOTE_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}
