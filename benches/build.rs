//! Compiles the bench policy sets to Rust (see `palisade_engine::codegen`): the thirteen
//! policies of issue 6, the built-in library and `policies/every_test.pal` (every kind of
//! test, for tests/generated.rs), into `$OUT_DIR`.

use palisade_lang::{SourceFile, Sources};
use std::path::PathBuf;

fn main() -> Result<(), String> {
    println!("cargo::rerun-if-changed=policies");
    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| e.to_string())?);
    let thirteen = std::fs::read_to_string("policies/thirteen.pal").map_err(|e| e.to_string())?;
    generate(&[("bench.pal", &thirteen)], &out.join("thirteen.rs"))?;
    let every_test =
        std::fs::read_to_string("policies/every_test.pal").map_err(|e| e.to_string())?;
    generate(
        &[("every_test.pal", &every_test)],
        &out.join("every_test.rs"),
    )?;
    generate(palisade_library::FILES, &out.join("library.rs"))
}

/// Parses, checks and compiles `files` and writes the program as Rust to `to`.
fn generate(files: &[(&str, &str)], to: &std::path::Path) -> Result<(), String> {
    let mut sources = Sources::default();
    for (name, text) in files {
        sources.add(SourceFile::new(*name, *text));
    }
    let (_, checked) = palisade_lang::parse_and_check_policies(&sources);
    let set = checked.map_err(|diags| {
        diags
            .iter()
            .map(|d| sources.to_line(d))
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let program = palisade_engine::compile(&set).map_err(|e| e.to_string())?;
    let module = palisade_engine::codegen::rust_module(&program).map_err(|e| e.to_string())?;
    std::fs::write(to, module).map_err(|e| format!("{}: {e}", to.display()))
}
