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

/// A name defined again in another file: the diagnostic names the file, line and column
/// of the first definition (a label can only point into the file it is reported against).
#[test]
fn a_second_definition_in_another_file_names_the_first() {
    let mut sources = Sources::default();
    let first = sources.add(SourceFile::new(
        "builtin/a.pal",
        "list shells = [\"sh\"]\n\npolicy \"dup\" {\n  severity low\n  lifecycle deploy\n  soc2 CC6.1\n  when container.privileged\n}\n",
    ));
    let second = sources.add(SourceFile::new(
        "mine/b.pal",
        "policy \"dup\" {\n  severity low\n  lifecycle deploy\n  soc2 CC6.1\n  when container.privileged\n}\nlist shells = [\"bash\"]\n",
    ));
    let files: Vec<_> = [first, second]
        .into_iter()
        .map(|i| (i, palisade_lang::parse(&sources, i).expect("parses")))
        .collect();
    let diags = palisade_lang::check(&sources, &files).expect_err("duplicates");
    let rendered: Vec<String> = diags
        .iter()
        .map(|d| {
            format!(
                "{} | {}",
                sources.to_line(d),
                d.help.as_deref().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        rendered,
        [
            "mine/b.pal:1:8: error: duplicate policy name `dup` | first defined at builtin/a.pal:3:8; policy names must be unique across all loaded files",
            "mine/b.pal:7:6: error: `shells` is defined twice | first defined at builtin/a.pal:1:6; lists and macros share one namespace across all loaded files",
        ]
    );
    assert!(diags.iter().all(|d| d.related.is_empty()), "{diags:?}");
}

/// Thousands of second definitions (a hostile or generated file): one error each, every one
/// naming the first definition, none of them pointing into the wrong file.
#[test]
fn many_second_definitions_each_name_the_first() {
    let policy = "policy \"dup\" {\n  severity low\n  lifecycle deploy\n  soc2 CC6.1\n  when container.privileged\n}\n";
    let mut sources = Sources::default();
    let first = sources.add(SourceFile::new("a.pal", policy));
    let second = sources.add(SourceFile::new("b.pal", policy.repeat(5000)));
    let files: Vec<_> = [first, second]
        .into_iter()
        .map(|i| (i, palisade_lang::parse(&sources, i).expect("parses")))
        .collect();
    let diags = palisade_lang::check(&sources, &files).expect_err("duplicates");
    assert_eq!(diags.len(), 5000);
    assert!(diags.iter().all(|d| {
        d.file == second
            && d.related.is_empty()
            && d.help
                .as_deref()
                .is_some_and(|h| h.starts_with("first defined at a.pal:1:8;"))
    }));
}
