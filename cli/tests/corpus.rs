#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly on broken fixtures"
)]
//! Corpus tests over `../shared/corpus/` (third-party inputs; see its README and PROVENANCE):
//! every file is read; the deliberately broken ones fail with a clear message; every other
//! one converts into records the engine accepts, and `palisade check` runs on it.

mod common;
use common::walk;
use std::path::Path;

/// Files the corpus marks as deliberately broken, and what the error must say.
const BROKEN: [(&str, &str); 2] = [
    ("test_3/bad.yaml", "invalid YAML"),
    ("invalid-input-pod-dump.json", "apiVersion"),
];

#[test]
fn every_corpus_file_converts_or_fails_clearly() {
    let corpus = palisade_testdata::shared("corpus", "conversion of every corpus file");
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../adapters/tests/samples");
    let mut files = Vec::new();
    if let Some(root) = &corpus {
        walk(root, &mut files);
    }
    let corpus_present = !files.is_empty();
    walk(&samples, &mut files);
    let (mut records, mut converted, mut broken) = (0, 0, 0);
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let name = f.display().to_string();
        match palisade_adapters::convert(&text) {
            Err(e) => {
                let expected = BROKEN.iter().find(|(suffix, _)| name.ends_with(suffix));
                let Some((_, needle)) = expected else {
                    panic!("{name}: {e}")
                };
                assert!(e.to_string().contains(needle), "{name}: {e}");
                broken += 1;
            }
            Ok(c) => {
                assert!(
                    !BROKEN.iter().any(|(s, _)| name.ends_with(s)),
                    "{name} must fail"
                );
                assert!(
                    !c.records.is_empty() || !c.skipped.is_empty(),
                    "{name}: nothing read"
                );
                for (i, r) in c.records.iter().enumerate() {
                    serde_json::from_value::<palisade_engine::record::Record>(r.clone())
                        .unwrap_or_else(|e| panic!("{name}: record {i}: {e}"));
                }
                records += c.records.len();
                converted += 1;
            }
        }
    }
    if corpus_present {
        assert_eq!(broken, 2, "both deliberately broken files are rejected");
        assert!(converted >= 120, "{converted} files converted");
        assert!(records >= 200, "{records} records");
    }
    eprintln!(
        "corpus: {} files, {converted} converted into {records} records, {broken} rejected (corpus present: {corpus_present})",
        files.len()
    );
}

#[test]
fn check_runs_on_every_sample_format() {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../adapters/tests/samples");
    let mut files = Vec::new();
    walk(&samples, &mut files);
    for f in files {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_palisade"))
            .args([
                "check",
                "--input",
                f.to_str().unwrap_or_default(),
                "--format",
                "json",
                "--all",
            ])
            .env("PALISADE_NOW", "2026-11-26T00:00:00Z")
            .output()
            .expect("run");
        assert!(
            matches!(o.status.code(), Some(0) | Some(1)),
            "{}: {}",
            f.display(),
            String::from_utf8_lossy(&o.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        assert!(v["summary"]["records"].as_u64().is_some());
    }
}
