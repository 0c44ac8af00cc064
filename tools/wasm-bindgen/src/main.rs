//! `dockyard-wasm-bindgen INPUT.wasm OUT_DIR NAME`: what
//! `wasm-bindgen --target web --no-typescript --out-dir OUT_DIR --out-name NAME INPUT.wasm`
//! does, with the same library and the same defaults, and nothing else
//! (no test runner, no HTTP client: those made `cargo install
//! wasm-bindgen-cli` take three minutes on two cores).

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, out_dir, name] = args.as_slice() else {
        eprintln!("usage: dockyard-wasm-bindgen INPUT.wasm OUT_DIR NAME");
        return ExitCode::from(2);
    };
    // The library's defaults differ from the command's in two places (the
    // default module path, and reference types taken from the environment):
    // set them as `wasm-bindgen` does, so the output is byte-identical.
    let mut bindgen = wasm_bindgen_cli_support::Bindgen::new();
    #[allow(deprecated)] // as in wasm-bindgen's own command
    let result = bindgen
        .input_path(input)
        .web(true)
        .map(|b| b.typescript(false).omit_default_module_path(false).reference_types(false).out_name(name))
        .and_then(|b| b.generate(out_dir));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {input}: {e:?}");
            ExitCode::FAILURE
        }
    }
}
