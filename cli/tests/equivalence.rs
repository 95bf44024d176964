#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly on broken fixtures"
)]
//! For every default policy, the `.pal` port in `policies/` and the imported StackRox JSON in
//! `stackrox/defaults/` give identical verdicts (same records, same stages, as many messages: the port's
//! templates word them, the import names the matching objects) on
//! every record of the examples, of the library's own test cases and, when present, of the
//! conformance cases in `../shared/conformance/`.

use palisade_engine::input::read_all;
use palisade_engine::{Dataset, EvalOptions, Matcher};
use palisade_lang::{SourceFile, Sources};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == ext))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn checked(sources: &mut Sources, texts: Vec<(String, String)>) -> palisade_lang::hir::CheckedSet {
    let mut parsed = Vec::new();
    for (name, text) in texts {
        let i = sources.add(SourceFile::new(name, text));
        parsed.push((
            i,
            palisade_lang::parse(sources, i)
                .unwrap_or_else(|d| panic!("{}", sources.to_line(&d[0]))),
        ));
    }
    palisade_lang::check(sources, &parsed).unwrap_or_else(|d| panic!("{}", sources.to_line(&d[0])))
}

/// (policy, record kind, record id, stage, messages) for every violation.
type Verdicts = BTreeSet<(String, String, String, String, usize)>;

fn verdicts(m: &Matcher, records_json: &str, now: i64) -> Verdicts {
    let mut ds = Dataset::default();
    let mut events = Vec::new();
    for r in read_all(records_json.as_bytes()).expect("records") {
        if let Some(e) = ds.add(r).expect("dataset") {
            events.push(e);
        }
    }
    ds.finish();
    let opts = EvalOptions {
        now,
        include_disabled: true,
        stage: None,
    };
    let mut out = Verdicts::new();
    for root in ds.roots(&events) {
        let (vs, _) = m
            .check(&ds, root, &opts, false)
            .expect("within the step budget");
        for v in vs {
            out.insert((
                v.policy,
                v.record.kind,
                v.record.id,
                v.lifecycle.as_str().to_string(),
                v.messages.len(),
            ));
        }
    }
    out
}

#[test]
fn port_and_imported_json_agree_on_every_record() {
    let mut port_sources = Sources::default();
    let port_texts: Vec<(String, String)> = files(&root().join("policies"), "pal")
        .into_iter()
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read_to_string(&p).expect("read"),
            )
        })
        .collect();
    let port = checked(&mut port_sources, port_texts);
    let mut json_sources = Sources::default();
    let json_texts: Vec<(String, String)> = files(&root().join("stackrox/defaults"), "json")
        .into_iter()
        .map(|p| {
            (
                p.display().to_string(),
                palisade_stackrox::translate_document(&std::fs::read_to_string(&p).expect("read"))
                    .expect("translates"),
            )
        })
        .collect();
    let imported = checked(&mut json_sources, json_texts);
    assert_eq!(
        port.policies.len(),
        89,
        "the library holds every default policy"
    );
    assert_eq!(imported.policies.len(), 89);
    let names = |s: &palisade_lang::hir::CheckedSet| {
        s.policies
            .iter()
            .map(|p| p.meta.name.clone())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(names(&port), names(&imported));
    let port_m = Matcher::new(palisade_engine::compile(&port).expect("compile")).expect("load");
    let json_m = Matcher::new(palisade_engine::compile(&imported).expect("compile")).expect("load");

    // Record sets: examples, the library's own test records, the conformance inputs.
    let mut inputs: Vec<(String, String, i64)> = Vec::new();
    let now = 1_893_456_000; // 2030-01-01
    for f in files(&root().join("examples/records"), "json")
        .into_iter()
        .chain(files(&root().join("examples/records"), "jsonl"))
    {
        inputs.push((
            f.display().to_string(),
            std::fs::read_to_string(&f).expect("read"),
            now,
        ));
    }
    for t in &port.tests {
        inputs.push((
            format!("test {}", t.title),
            serde_json::to_string(&t.records).expect("json"),
            t.now.unwrap_or(now),
        ));
    }
    let conformance = palisade_testdata::shared(
        "conformance/cases",
        "StackRox port == JSON import over the conformance inputs",
    );
    let mut conformance_cases = 0;
    if let Some(rd) = conformance.and_then(|c| std::fs::read_dir(c).ok()) {
        let mut dirs: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        dirs.sort();
        for d in dirs {
            if let Ok(text) = std::fs::read_to_string(d.join("input.json")) {
                conformance_cases += 1;
                inputs.push((d.display().to_string(), text, now));
            }
        }
    }
    let mut total = 0;
    for (name, text, now) in &inputs {
        let a = verdicts(&port_m, text, *now);
        let b = verdicts(&json_m, text, *now);
        assert_eq!(a, b, "verdicts differ on {name}");
        total += a.len();
    }
    // The comparison must not be vacuous.
    assert!(total > 150, "only {total} violations compared");
    eprintln!(
        "equivalence: {} inputs ({conformance_cases} conformance cases), {total} violations compared",
        inputs.len()
    );
}
