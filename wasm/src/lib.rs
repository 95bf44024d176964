//! wasm-bindgen bindings: thin wrappers over [`palisade_engine::api`]. Every function takes
//! and returns JSON text; the caller supplies "now" (JS `Date`) so results are reproducible.

use wasm_bindgen::prelude::wasm_bindgen;

/// Compiles policies: `{"policies": [{"name", "text"}], "builtin": bool}` to
/// `{"ok", "policies", "diagnostics": [...]}`.
#[wasm_bindgen]
pub fn compile(request: &str) -> String {
    palisade_engine::api::compile_json(request)
}

/// Checks inputs: `{"policies", "builtin", "inputs": [{"name", "text"}], "all", "lifecycle",
/// "now", "explain"}` to the CLI's JSON report (or `{"diagnostics"}` / `{"error"}`).
#[wasm_bindgen]
pub fn check(request: &str) -> String {
    palisade_engine::api::check_json(request)
}

/// Formats policy source: `{"ok", "formatted"}` or `{"ok": false, "diagnostics"}`.
#[wasm_bindgen]
pub fn format(name: &str, text: &str) -> String {
    palisade_engine::api::format_json(name, text)
}

/// The built-in library: `{"policies": [...], "files": [{"name", "text"}]}`.
#[wasm_bindgen]
pub fn builtin() -> String {
    palisade_engine::api::builtin_json()
}

/// The version of the engine.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
