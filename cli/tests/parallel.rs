#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly on broken fixtures"
)]
//! `check` evaluates a large JSON Lines input on every core: the output of any number of
//! threads is byte for byte that of one, in every format, with explanations and with the
//! evidence it records. The records are those of the bundled examples and (when it is
//! beside the clone) of every file of `../shared/corpus`, converted: deployments, images,
//! process events, Kubernetes events and network flows, evaluated by the whole library.

mod common;
use common::{root, walk};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The records of every readable file under the directories, as JSON (files that do not
/// convert, such as the corpus's deliberately broken ones, are left out).
fn records_of(dirs: &[PathBuf]) -> Vec<serde_json::Value> {
    let mut files = Vec::new();
    for d in dirs {
        walk(d, &mut files);
    }
    let mut records = Vec::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        if let Ok(c) = palisade_adapters::convert(&text) {
            records.extend(c.records);
        }
    }
    records
}

/// JSON Lines of more than 8 MiB (so that `check` cuts them): the context records (one
/// of each id) half at the start and half at the end, the others again and again between,
/// each copy with ids of its own. Without context, only the events.
fn large_input(records: &[serde_json::Value], with_context: bool) -> String {
    let is_context =
        |r: &serde_json::Value| matches!(r["kind"].as_str(), Some("deployment" | "image"));
    let mut seen = std::collections::BTreeSet::new();
    let context: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| is_context(r))
        .filter(|r| {
            seen.insert((
                r["kind"].to_string(),
                r["id"].to_string(),
                r["name"].to_string(),
            ))
        })
        .collect();
    let events: Vec<&serde_json::Value> = records.iter().filter(|r| !is_context(r)).collect();
    assert!(!events.is_empty() && (!with_context || !context.is_empty()));
    let context = if with_context { context } else { Vec::new() };
    let (first, last) = context.split_at(context.len() / 2);
    let mut out = String::new();
    for r in first {
        out.push_str(&serde_json::to_string(r).unwrap());
        out.push('\n');
    }
    let mut copy = 0;
    while out.len() < 9 << 20 {
        for r in &events {
            let mut r = (*r).clone();
            if let Some(id) = r["id"].as_str() {
                r["id"] = format!("{id}-{copy}").into();
            }
            out.push_str(&serde_json::to_string(&r).unwrap());
            out.push('\n');
        }
        copy += 1;
    }
    for r in last {
        out.push_str(&serde_json::to_string(r).unwrap());
        out.push('\n');
    }
    out
}

/// `palisade check` of the whole library over `input` with `threads` threads.
fn check(input: &Path, threads: &str, args: &[&str]) -> (Option<i32>, Vec<u8>, String) {
    let run = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .current_dir(root())
        .args(["check", "--builtin", "--input"])
        .arg(input)
        .args(args)
        .env("PALISADE_THREADS", threads)
        .env("PALISADE_NOW", "2026-11-04T12:00:00Z")
        .env("NO_COLOR", "1")
        .output()
        .expect("run palisade");
    (
        run.status.code(),
        run.stdout,
        String::from_utf8_lossy(&run.stderr).into_owned(),
    )
}

#[test]
fn parallel_check_gives_the_single_threaded_output_on_the_corpus() {
    let mut dirs = vec![root().join("examples/records")];
    if let Some(corpus) = palisade_testdata::shared("corpus", "parallel check over the corpus") {
        dirs.push(corpus);
    }
    let records = records_of(&dirs);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("records.jsonl");
    std::fs::write(&input, large_input(&records, true)).unwrap();

    let json = check(&input, "1", &["--format", "json"]);
    assert_eq!(json.0, Some(1), "{}", json.2);
    let report: serde_json::Value = serde_json::from_slice(&json.1).unwrap();
    let by_kind = &report["summary"]["records_by_kind"];
    assert!(by_kind["process"].as_u64().unwrap() > 1000, "{by_kind}");
    assert!(by_kind["deployment"].as_u64().unwrap() > 0, "{by_kind}");
    let violations = report["violations"].as_array().unwrap();
    assert!(violations.len() > 1000, "{} violations", violations.len());
    let violated: std::collections::BTreeSet<&str> = violations
        .iter()
        .filter_map(|v| v["record"]["kind"].as_str())
        .collect();
    // Events evaluated by the threads, deployments by the reader, in their order.
    for kind in ["kube_event", "deployment"] {
        assert!(
            violated.contains(kind),
            "violations of {kind} records: {violated:?}"
        );
    }
    assert_same(
        &check(&input, "2", &["--format", "json"]),
        &json,
        "json, 2 threads",
    );
    assert_same(
        &check(&input, "3", &["--format", "json"]),
        &json,
        "json, 3 threads",
    );

    for args in [
        &["--format", "text", "--explain"][..],
        &["--format", "junit"],
        &["--format", "sarif", "--lifecycle", "runtime"],
    ] {
        let one = check(&input, "1", args);
        assert!(matches!(one.0, Some(0 | 1)), "{args:?}: {}", one.2);
        assert!(!one.1.is_empty(), "{args:?}");
        assert_same(&check(&input, "2", args), &one, &format!("{args:?}"));
    }
}

/// Asserts that two runs' outputs are equal, showing the first line that differs.
fn assert_same(a: &(Option<i32>, Vec<u8>, String), b: &(Option<i32>, Vec<u8>, String), what: &str) {
    assert_eq!((a.0, &a.2), (b.0, &b.2), "{what}: exit codes and stderr");
    let (a, b) = (String::from_utf8_lossy(&a.1), String::from_utf8_lossy(&b.1));
    if let Some((n, (x, y))) = a
        .lines()
        .zip(b.lines())
        .enumerate()
        .find(|(_, (x, y))| x != y)
    {
        panic!("{what}: line {} differs:\n{x}\n{y}", n + 1);
    }
    assert_eq!(a.len(), b.len(), "{what}: one output is longer");
}

/// An evidence report without what is random or named per run (log and run ids, files).
fn without_ids(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for key in ["run", "log_id", "file"] {
                map.remove(key);
            }
            // `LOG#ENTRY`: the entry's number stays.
            if let Some(serde_json::Value::String(at)) = map.get_mut("evidence")
                && let Some((_, entry)) = at.split_once('#')
            {
                *at = entry.to_string();
            }
            map.values_mut().for_each(without_ids);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(without_ids),
        _ => {}
    }
}

#[test]
fn parallel_check_records_the_single_threaded_evidence() {
    records_the_single_threaded_evidence(true);
}

/// Events alone are evaluated while pass 1 reads them: the evidence is one thread's too.
#[test]
fn events_evaluated_while_read_record_the_single_threaded_evidence() {
    records_the_single_threaded_evidence(false);
}

/// Evidence recorded by `check` of a large input (with or without context records) on
/// one thread and on two is the same.
fn records_the_single_threaded_evidence(with_context: bool) {
    let records = records_of(&[root().join("examples/records")]);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("records.jsonl");
    std::fs::write(&input, large_input(&records, with_context)).unwrap();
    let keygen = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["evidence", "keygen", "--name", "ci", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{keygen:?}");
    let key = dir.path().join("ci.key");
    let report = |threads: &str| {
        let log = dir.path().join(format!("evidence-{threads}.db"));
        let run = check(
            &input,
            threads,
            &[
                "--format",
                "json",
                "--evidence",
                log.to_str().unwrap(),
                "--evidence-key",
                key.to_str().unwrap(),
            ],
        );
        assert_eq!(run.0, Some(u8::from(with_context).into()), "{}", run.2);
        let report = Command::new(env!("CARGO_BIN_EXE_palisade"))
            .args(["report"])
            .arg(&log)
            .arg("--key")
            .arg(dir.path().join("ci.pub"))
            .args([
                "--from",
                "2026-11-01",
                "--to",
                "2026-11-04",
                "--format",
                "json",
            ])
            .env("PALISADE_NOW", "2026-11-05T00:00:00Z")
            .output()
            .unwrap();
        assert!(
            report.status.success(),
            "{}",
            String::from_utf8_lossy(&report.stderr)
        );
        let mut evidence: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
        without_ids(&mut evidence);
        // What the check wrote, then the report of what it recorded.
        let mut out = run.1;
        let at = out.len();
        out.extend(
            serde_json::to_string_pretty(&evidence)
                .unwrap()
                .into_bytes(),
        );
        (run.0, out, at)
    };
    let one = report("1");
    let evidence: serde_json::Value = serde_json::from_slice(&one.1[one.2..]).unwrap();
    let violations = evidence["violations"].as_array().unwrap();
    assert!(violations.len() > 100, "{} violations", violations.len());
    assert!(
        violations
            .iter()
            .all(|v| v["record_digest"].as_str().unwrap().starts_with("sha256:")),
        "each violation names its record's digest"
    );
    assert_eq!(evidence["totals"]["runs"], 1);
    let two = report("2");
    assert_eq!(two.2, one.2, "the checks' outputs are as long");
    assert_same(
        &(two.0, two.1, String::new()),
        &(one.0, one.1, String::new()),
        "check with evidence",
    );
}

/// Events alone (no deployment, image or baseline in the input): the threads evaluate them
/// as they validate them, and the report waits for the last line. The output is one
/// thread's, in every format (explanations hold too much to wait, and are evaluated
/// again); a bad last line leaves no output at all.
#[test]
fn events_evaluated_while_read_give_the_single_threaded_output() {
    let mut dirs = vec![root().join("examples/records")];
    if let Some(corpus) = palisade_testdata::shared("corpus", "parallel check over the corpus") {
        dirs.push(corpus);
    }
    let records = records_of(&dirs);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("events.jsonl");
    let text = large_input(&records, false);
    std::fs::write(&input, &text).unwrap();
    let json = check(&input, "1", &["--format", "json"]);
    assert_eq!(json.0, Some(0), "{}", json.2);
    let report: serde_json::Value = serde_json::from_slice(&json.1).unwrap();
    let by_kind = &report["summary"]["records_by_kind"];
    assert!(by_kind["process"].as_u64().unwrap() > 1000, "{by_kind}");
    assert!(by_kind.get("deployment").is_none(), "{by_kind}");
    assert!(report["violations"].as_array().unwrap().len() > 100);
    assert_same(
        &check(&input, "2", &["--format", "json"]),
        &json,
        "json, 2 threads",
    );
    for args in [
        &["--format", "text"][..],
        &["--format", "text", "--explain"],
        &["--format", "junit"],
        &["--format", "sarif", "--lifecycle", "runtime"],
        &["--format", "json", "--lifecycle", "deploy"],
    ] {
        let one = check(&input, "1", args);
        assert!(matches!(one.0, Some(0 | 1)), "{args:?}: {}", one.2);
        assert_same(&check(&input, "3", args), &one, &format!("{args:?}"));
    }
    // A line that is not a record, at the end: an error and nothing else.
    let broken = dir.path().join("broken.jsonl");
    std::fs::write(
        &broken,
        format!("{text}{{\"kind\":\"process\",\"id\":7}}\n"),
    )
    .unwrap();
    let one = check(&broken, "1", &["--format", "json"]);
    assert_eq!(one.0, Some(2), "{}", one.2);
    assert!(one.1.is_empty(), "no output before the error");
    assert_same(
        &check(&broken, "2", &["--format", "json"]),
        &one,
        "a bad last line",
    );
}
