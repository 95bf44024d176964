#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly on broken fixtures"
)]
//! Golden diagnostics: every `tests/ui/*.pal` is parsed and checked, and its diagnostics
//! (file:line:col, message, label, help) must equal `*.stderr`. Set `BLESS=1` to rewrite them.

use palisade_lang::{SourceFile, Sources};
use std::path::Path;

fn render(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let name = format!(
        "ui/{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("")
    );
    let mut sources = Sources::default();
    let index = sources.add(SourceFile::new(name, text));
    // The same recovery as the CLI: bad literals do not stop checking, syntax errors do.
    let (file, mut diags, syntax_failed) = palisade_lang::parse_recover(&sources, index);
    if !syntax_failed {
        if let Err(mut more) = palisade_lang::check(&sources, &[(index, file)]) {
            diags.append(&mut more);
        }
        diags.sort_by_key(|d| d.span.start);
    }
    let mut out = String::new();
    for d in &diags {
        out.push_str(&sources.to_line(d));
        out.push_str(&format!("\n    label: {}\n", d.label));
        if let Some(h) = &d.help {
            out.push_str(&format!("    help: {h}\n"));
        }
    }
    if diags.is_empty() {
        out.push_str("ok\n");
    }
    out
}

#[test]
fn ui_diagnostics_match_golden_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    let bless = std::env::var_os("BLESS").is_some();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/ui exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    let mut failures = Vec::new();
    let mut count = 0;
    for path in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "pal"))
    {
        count += 1;
        let actual = render(path);
        let golden = path.with_extension("stderr");
        if bless {
            std::fs::write(&golden, &actual).expect("write golden");
            continue;
        }
        let expected = std::fs::read_to_string(&golden).unwrap_or_default();
        if expected != actual {
            failures.push(format!(
                "{}:\n--- expected\n{expected}--- actual\n{actual}",
                path.display()
            ));
        }
    }
    assert!(count >= 10, "expected the ui cases, found {count}");
    assert!(
        failures.is_empty(),
        "{} golden mismatches (BLESS=1 to update):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
