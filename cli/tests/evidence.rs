#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly on broken fixtures"
)]
//! `check --evidence`, `evidence keygen|verify|checkpoint|components` and `report` end to
//! end: a month of runs reported in every format (golden files, ids normalized), exceptions,
//! tampering, a run killed in the middle, two writers on one log, and bad input.
//! `BLESS=1` rewrites the golden files.

mod common;
use common::{golden, root, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn palisade_at(now: &str, dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .current_dir(dir)
        .env("PALISADE_NOW", now)
        .env("NO_COLOR", "1")
        .env_remove("PALISADE_EVIDENCE_KEY")
        .output()
        .expect("run palisade")
}

/// Log ids, run ids and the UUIDs derived from them are random: the goldens show them as
/// placeholders (record and input digests stay: they are the content).
fn normalized(s: &str) -> String {
    let uuid =
        regex::Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
            .unwrap();
    let id = regex::Regex::new(r"\b[0-9a-f]{32}\b").unwrap();
    id.replace_all(&uuid.replace_all(s, "{uuid}"), "{id}")
        .into_owned()
}

const POLICIES: &str = "examples/policies";
const RECORDS: &str = "examples/records/deployments.json";

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let o = palisade_at(
            "2026-11-01T00:00:00Z",
            dir.path(),
            &["evidence", "keygen", "--name", "ci.example"],
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        Setup { dir }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn run(&self, now: &str, args: &[&str]) -> Output {
        palisade_at(now, self.dir.path(), args)
    }
    /// `check --evidence` of the examples at `now`.
    fn check(&self, now: &str, log: &str, extra: &[&str]) -> Output {
        let policies = root().join(POLICIES);
        let records = root().join(RECORDS);
        let mut args = vec![
            "check",
            "--policies",
            policies.to_str().unwrap(),
            "--input",
            records.to_str().unwrap(),
            "--evidence",
            log,
            "--evidence-key",
            "ci.example.key",
        ];
        args.extend_from_slice(extra);
        self.run(now, &args)
    }
    fn verify(&self, log: &str, extra: &[&str]) -> Output {
        let mut args = vec!["evidence", "verify", log, "--key", "ci.example.pub"];
        args.extend_from_slice(extra);
        self.run("2026-12-01T00:00:00Z", &args)
    }
}

#[test]
fn keygen_writes_a_secret_private_key_and_a_public_key_and_never_overwrites() {
    let s = Setup::new();
    let private = std::fs::read_to_string(s.path("ci.example.key")).unwrap();
    let public = std::fs::read_to_string(s.path("ci.example.pub")).unwrap();
    assert!(private.starts_with("PRIVATE+KEY+ci.example+"));
    assert!(public.starts_with("ci.example+") && !public.contains("PRIVATE"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(s.path("ci.example.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let o = s.run(
        "2026-11-01T00:00:00Z",
        &["evidence", "keygen", "--name", "ci.example"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("exists; a key is never overwritten"));
    assert_eq!(
        std::fs::read_to_string(s.path("ci.example.key")).unwrap(),
        private
    );
}

#[test]
fn a_month_of_checks_verifies_and_reports_in_every_format() {
    let s = Setup::new();
    // Daily on the 1st to 5th, then nothing until the 20th (a gap), with palisade.toml
    // excluding one deployment from one policy (an exception with a reason and expiry).
    std::fs::write(
        s.path("palisade.toml"),
        "[[exclude]]\npolicies = [\"Latest tag\"]\ndeployment = \"frontend\"\nreason = \"pinned by the vendor's release process\"\nexpires = \"2026-11-15\"\n",
    )
    .unwrap();
    for day in [1, 2, 3, 4, 5, 20] {
        let o = s.check(&format!("2026-11-{day:02}T06:00:00Z"), "evidence.db", &[]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    }
    let o = s.verify("evidence.db", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("verified: ") && text(&o.stdout).contains(", 6 runs"),
        "{}",
        text(&o.stdout)
    );
    for (format, file) in [
        ("json", "evidence-report.json"),
        ("oscal", "evidence-oscal.json"),
        ("openreports", "evidence-openreports.json"),
        ("html", "evidence-report.html"),
    ] {
        let o = s.run(
            "2026-12-01T00:00:00Z",
            &[
                "report",
                "evidence.db",
                "--key",
                "ci.example.pub",
                "--from",
                "2026-11-01",
                "--to",
                "2026-11-30",
                "--format",
                format,
            ],
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        golden(file, &normalized(&text(&o.stdout)));
    }
    let o = s.run(
        "2026-12-01T00:00:00Z",
        &[
            "report",
            "evidence.db",
            "--key",
            "ci.example.pub",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-30",
            "--format",
            "json",
        ],
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["totals"]["runs"], 6);
    assert_eq!(
        report["gaps"].as_array().unwrap().len(),
        2,
        "{}",
        report["gaps"]
    );
    // The exclusion suppressed frontend's latest tag until it expired on the 15th: 5 runs.
    let exceptions = report["exceptions"].as_array().unwrap();
    assert_eq!(exceptions.len(), 1);
    assert_eq!(exceptions[0]["count"], 5);
    assert_eq!(exceptions[0]["expired"], true);
    assert_eq!(
        exceptions[0]["reason"],
        "pinned by the vendor's release process"
    );
    // The OSCAL document validates against the schema (trestle validates it in CI too).
    let o = s.run(
        "2026-12-01T00:00:00Z",
        &[
            "report",
            "evidence.db",
            "--key",
            "ci.example.pub",
            "--from",
            "2026-11-01",
            "--format",
            "oscal",
        ],
    );
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            root().join("evidence/schemas/oscal_assessment-results_schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let v = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = v.iter_errors(&doc).map(|e| e.to_string()).take(5).collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn the_component_definition_maps_every_library_policy_to_its_criteria() {
    let s = Setup::new();
    let o = s.run("2026-12-01T00:00:00Z", &["evidence", "components"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("evidence/schemas/oscal_component_schema.json"))
            .unwrap(),
    )
    .unwrap();
    let v = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = v.iter_errors(&doc).map(|e| e.to_string()).take(5).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let reqs = doc["component-definition"]["components"][0]["control-implementations"][0]
        ["implemented-requirements"]
        .as_array()
        .unwrap();
    let policies: std::collections::BTreeSet<&str> = reqs
        .iter()
        .flat_map(|r| r["props"].as_array().unwrap())
        .map(|p| p["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        policies.len(),
        89,
        "every built-in policy cites a criterion"
    );
    assert!(reqs.iter().any(|r| r["control-id"] == "CC6.1"));
}

fn tamper(log: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(log).unwrap();
    conn.execute_batch(
        "DROP TRIGGER entries_no_update; DROP TRIGGER entries_no_delete;
         DROP TRIGGER checkpoints_no_update; DROP TRIGGER checkpoints_no_delete;",
    )
    .unwrap();
    conn.execute_batch(sql).unwrap();
}

#[test]
fn a_tampered_log_fails_verification_naming_the_entry_and_is_not_reported() {
    let s = Setup::new();
    for day in [1, 2] {
        s.check(&format!("2026-11-0{day}T06:00:00Z"), "evidence.db", &[]);
    }
    let o = s.run(
        "2026-12-01T00:00:00Z",
        &["evidence", "checkpoint", "evidence.db"],
    );
    assert_eq!(o.status.code(), Some(0));
    std::fs::write(s.path("kept.note"), &o.stdout).unwrap();
    std::fs::copy(s.path("evidence.db"), s.path("edited.db")).unwrap();
    tamper(
        &s.path("edited.db"),
        "UPDATE entries SET entry = replace(entry, '\"kind\"', '\"kind\" ') WHERE seq = 5",
    );
    let o = s.verify("edited.db", &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stdout),
        "edited.db: does not verify: entry 5: entry 5 does not link to the entries before it (edited, reordered, inserted or removed)\n"
    );
    let o = s.run(
        "2026-12-01T00:00:00Z",
        &[
            "report",
            "edited.db",
            "--key",
            "ci.example.pub",
            "--from",
            "2026-11-01",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert!(text(&o.stderr).contains("edited.db does not verify: entry 5"));

    // Rolled back to its first run: consistent and signed, caught by the kept checkpoint.
    std::fs::copy(s.path("evidence.db"), s.path("rolled.db")).unwrap();
    let first_end: i64 = {
        let conn = rusqlite::Connection::open(s.path("rolled.db")).unwrap();
        conn.query_row(
            "SELECT seq FROM entries WHERE kind = 'run_finished' ORDER BY seq LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    tamper(
        &s.path("rolled.db"),
        &format!(
            "DELETE FROM entries WHERE seq > {first_end}; DELETE FROM checkpoints WHERE size > {first_end};"
        ),
    );
    assert_eq!(s.verify("rolled.db", &[]).status.code(), Some(0));
    let o = s.verify("rolled.db", &["--checkpoint", "kept.note"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stdout).contains("rolled back or replaced"),
        "{}",
        text(&o.stdout)
    );
    assert_eq!(
        s.verify("evidence.db", &["--checkpoint", "kept.note"])
            .status
            .code(),
        Some(0)
    );

    // Another key: exit 1, naming the signer it saw.
    let other = tempfile::tempdir().unwrap();
    palisade_at(
        "2026-11-01T00:00:00Z",
        other.path(),
        &["evidence", "keygen", "--name", "ci.example"],
    );
    let o = s.run(
        "2026-12-01T00:00:00Z",
        &[
            "evidence",
            "verify",
            "evidence.db",
            "--key",
            other.path().join("ci.example.pub").to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stdout).contains("no signature by a trusted key (signed by: ci.example)"));
}

#[test]
fn bad_input_is_a_clear_error_naming_the_file() {
    let s = Setup::new();
    std::fs::write(s.path("notes.db"), "not a database\n".repeat(200)).unwrap();
    let other = s.path("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t(x)")
        .unwrap();
    std::fs::write(s.path("huge.key"), "A".repeat(1 << 20)).unwrap();
    let cases: [(&[&str], i32, &str); 11] = [
        (
            &[
                "report",
                "x.db",
                "--key",
                "ci.example.pub",
                "--from",
                "0001-01-01",
                "--to",
                "9999-12-31",
            ],
            2,
            "is longer than 3660 days: report it in parts",
        ),
        (
            &["evidence", "verify", "x.db", "--key", "huge.key"],
            2,
            "huge.key: larger than 64 KiB: not a key",
        ),
        (
            &["evidence", "verify", "notes.db", "--key", "ci.example.pub"],
            2,
            "notes.db: not a Palisade evidence log (not a SQLite database)",
        ),
        (
            &["evidence", "verify", "other.db", "--key", "ci.example.pub"],
            2,
            "other.db: not a Palisade evidence log",
        ),
        (
            &[
                "evidence",
                "verify",
                "missing.db",
                "--key",
                "ci.example.pub",
            ],
            2,
            "missing.db: no such evidence log",
        ),
        (
            &["evidence", "verify", "x.db", "--key", "ci.example.key"],
            2,
            "a private key; verification takes the public key",
        ),
        (
            &["evidence", "verify", "x.db", "--key", "nonsense"],
            2,
            "--key: not a verifier key",
        ),
        (
            &["check", "--input", "in.json", "--evidence", "x.db"],
            2,
            "--evidence needs --evidence-key",
        ),
        (
            &[
                "report",
                "x.db",
                "--key",
                "ci.example.pub",
                "--from",
                "soon",
            ],
            2,
            "--from `soon` is not a date",
        ),
        (
            &[
                "report",
                "x.db",
                "--key",
                "ci.example.pub",
                "--from",
                "2026-11-01",
                "--max-gap",
                "1w",
            ],
            2,
            "--max-gap `1w` is not a duration",
        ),
        (
            &[
                "report",
                "x.db",
                "--key",
                "ci.example.pub",
                "--from",
                "2026-11-02",
                "--to",
                "2026-10-01",
            ],
            2,
            "the period is empty",
        ),
    ];
    std::fs::copy(root().join(RECORDS), s.path("in.json")).unwrap();
    for (args, code, message) in cases {
        let o = s.run("2026-12-01T00:00:00Z", args);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {}", text(&o.stderr));
        assert!(
            text(&o.stderr).contains(message),
            "{args:?}: {}",
            text(&o.stderr)
        );
        assert!(o.stdout.is_empty(), "{args:?}");
    }
    assert!(
        !s.path("x.db").exists() && !s.path("missing.db").exists(),
        "nothing is created"
    );
    // A period with no evaluation, and a log from a newer version.
    s.check("2026-11-01T06:00:00Z", "evidence.db", &[]);
    let o = s.run(
        "2026-12-01T00:00:00Z",
        &[
            "report",
            "evidence.db",
            "--key",
            "ci.example.pub",
            "--from",
            "2025-01-01",
            "--to",
            "2025-01-31",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains(
        "no evaluation between 2025-01-01T00:00:00Z and 2025-02-01T00:00:00Z in evidence.db"
    ));
    // A log cut short (its first 4 KiB page only): an error naming the file, not a pass.
    let bytes = std::fs::read(s.path("evidence.db")).unwrap();
    std::fs::write(s.path("cut.db"), &bytes[..4096]).unwrap();
    let o = s.verify("cut.db", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stdout));
    assert!(text(&o.stderr).contains("cut.db: "), "{}", text(&o.stderr));
    rusqlite::Connection::open(s.path("evidence.db"))
        .unwrap()
        .pragma_update(None, "user_version", 9)
        .unwrap();
    let o = s.verify("evidence.db", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("evidence.db: written by a newer palisade (log format version 9")
    );
    let o = s.check("2026-11-02T06:00:00Z", "evidence.db", &[]);
    assert_eq!(o.status.code(), Some(2), "a writer refuses it too");
}

/// Records that each violate: a big input, so the run is killed in the middle.
fn many_deployments(path: &Path, n: usize) {
    let mut s = String::from("[");
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!(
            r#"{{"kind":"deployment","id":"d{i}","name":"app-{i}","namespace":"load","containers":[{{"name":"c","image":{{"name":{{"full_name":"nginx:latest","tag":"latest"}}}},"security_context":{{"privileged":true}}}}]}}"#
        ));
    }
    s.push(']');
    std::fs::write(path, s).unwrap();
}

fn entries(log: &Path) -> i64 {
    rusqlite::Connection::open_with_flags(log, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| c.query_row("SELECT count(*) FROM entries", [], |r| r.get(0)))
        .unwrap_or(0)
}

#[test]
fn a_run_killed_in_the_middle_leaves_a_log_that_verifies_and_names_the_run() {
    let s = Setup::new();
    s.check("2026-11-01T06:00:00Z", "evidence.db", &[]);
    let before = entries(&s.path("evidence.db"));
    many_deployments(&s.path("many.json"), 60_000);
    let policies = root().join(POLICIES);
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args([
            "check",
            "--policies",
            policies.to_str().unwrap(),
            "--input",
            "many.json",
            "--evidence",
            "evidence.db",
            "--evidence-key",
            "ci.example.key",
            "--format",
            "json",
        ])
        .current_dir(s.dir.path())
        .env("PALISADE_NOW", "2026-11-02T06:00:00Z")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it (SIGKILL: no destructor, no flush) once several batches are in.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    while entries(&s.path("evidence.db")) < before + 3_000 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run finished before it was killed"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "no entries were written"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let after = entries(&s.path("evidence.db"));
    assert!(after < before + 120_000, "the run did not finish");
    let o = s.verify("evidence.db", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    let out = text(&o.stdout);
    assert!(out.contains(&format!("verified: {after} entries")), "{out}");
    assert!(
        out.contains("(check) started 2026-11-02T06:00:00Z"),
        "{out}"
    );
    assert!(out.contains("did not finish"), "{out}");
    // The next run appends to it; the report lists the run that did not finish.
    let o = s.check("2026-11-03T06:00:00Z", "evidence.db", &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(s.verify("evidence.db", &[]).status.code(), Some(0));
    let o = s.run(
        "2026-12-01T00:00:00Z",
        &[
            "report",
            "evidence.db",
            "--key",
            "ci.example.pub",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-03",
            "--format",
            "json",
        ],
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["unfinished_runs"].as_array().unwrap().len(), 1);
    assert_eq!(report["totals"]["runs"], 2);
}

#[test]
fn two_processes_writing_one_log_share_its_chain() {
    let s = Setup::new();
    let policies = root().join(POLICIES);
    let records = root().join(RECORDS);
    let spawn = |day: u32| {
        Command::new(env!("CARGO_BIN_EXE_palisade"))
            .args([
                "check",
                "--policies",
                policies.to_str().unwrap(),
                "--input",
                records.to_str().unwrap(),
                "--evidence",
                "evidence.db",
                "--evidence-key",
                "ci.example.key",
            ])
            .current_dir(s.dir.path())
            .env("PALISADE_NOW", format!("2026-11-{day:02}T06:00:00Z"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    for round in 0..5 {
        let (a, b) = (spawn(1 + round), spawn(10 + round));
        for child in [a, b] {
            let o = child.wait_with_output().unwrap();
            assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
        }
    }
    let o = s.verify("evidence.db", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    assert!(
        text(&o.stdout).contains(", 10 runs\n"),
        "{}",
        text(&o.stdout)
    );
    assert!(!text(&o.stdout).contains("did not finish"));
}

/// Writes a replica's log as `serve --events` does: a run, evaluations of `events` (the
/// second one of each pair found a violation), and, unless `killed`, the run's end.
fn replica_log(path: &Path, key: &Path, run: &str, events: &[(&str, bool)], killed: bool) {
    use palisade_evidence::entry::{
        Entry, EvaluationEntry, PolicySet, RecordRef, RunFinished, RunStarted, ViolationEntry,
    };
    let time = "2026-11-26T10:00:00Z";
    let key =
        palisade_evidence::note::SigningKey::parse(std::fs::read_to_string(key).unwrap().trim())
            .unwrap();
    let mut w = palisade_evidence::store::Writer::open(path, key, time).unwrap();
    let set = PolicySet {
        run: run.into(),
        time: time.into(),
        digest: "sha256:set".into(),
        policies: Vec::new(),
    };
    w.start_run(
        set,
        RunStarted {
            run: run.into(),
            time: time.into(),
            source: "serve".into(),
            tool: "test".into(),
            policy_set: "sha256:set".into(),
            inputs: Vec::new(),
            actor: None,
        },
    )
    .unwrap();
    for (event, violates) in events {
        w.append(Entry::Evaluation(EvaluationEntry {
            run: run.into(),
            time: time.into(),
            input_digest: format!("sha256:{event}"),
            records: 1,
            violations: u64::from(*violates),
            event: Some((*event).into()),
        }))
        .unwrap();
        if *violates {
            w.append(Entry::Violation(ViolationEntry {
                run: run.into(),
                time: time.into(),
                policy: "Shell spawned in a container".into(),
                severity: "high".into(),
                lifecycle: "runtime".into(),
                soc2: vec!["CC7.2".into()],
                record: RecordRef {
                    kind: "process".into(),
                    id: format!("p-{event}"),
                    name: Some("bash".into()),
                    namespace: Some("prod".into()),
                },
                record_digest: format!("sha256:{event}"),
                messages: vec!["/bin/bash started".into()],
                enforcement: Vec::new(),
                event: Some((*event).into()),
            }))
            .unwrap();
        }
    }
    if !killed {
        w.append(Entry::RunFinished(RunFinished {
            run: run.into(),
            time: time.into(),
            records: events.len() as u64,
            violations: events.iter().filter(|(_, v)| *v).count() as u64,
            exceptions: 0,
            failed: false,
        }))
        .unwrap();
    }
    w.flush().unwrap();
}

#[test]
fn logs_of_two_replicas_merge_and_an_event_evaluated_by_both_counts_once() {
    let s = Setup::new();
    let key = s.path("ci.example.key");
    // Replica A evaluated e1 and e2 and was killed before acking e2; replica B got e2
    // again (a redelivery) and then e3.
    replica_log(
        &s.path("a.db"),
        &key,
        "run-a",
        &[("e1", false), ("e2", true)],
        true,
    );
    replica_log(
        &s.path("b.db"),
        &key,
        "run-b",
        &[("e2", true), ("e3", false)],
        false,
    );
    let o = s.run(
        "2026-11-27T00:00:00Z",
        &[
            "evidence",
            "verify",
            "a.db",
            "b.db",
            "--key",
            "ci.example.pub",
        ],
    );
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}{}", text(&o.stderr));
    assert!(out.contains("a.db: verified"), "{out}");
    assert!(out.contains("b.db: verified"), "{out}");
    assert!(
        out.contains("run run-a (serve)"),
        "the killed run is named: {out}"
    );
    assert!(
        out.contains("2 logs: 3 events evaluated; 1 evaluations repeat an event"),
        "{out}"
    );
    let o = s.run(
        "2026-11-27T00:00:00Z",
        &[
            "report",
            "a.db",
            "b.db",
            "--key",
            "ci.example.pub",
            "--from",
            "2026-11-26",
            "--to",
            "2026-11-26",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let totals = &report["totals"];
    assert_eq!(totals["evaluations"], 3, "{totals}");
    assert_eq!(totals["violations"], 1, "{totals}");
    assert_eq!(totals["repeated"], 1, "{totals}");
    // Read the other way round, the figures are the same.
    let o = s.run(
        "2026-11-27T00:00:00Z",
        &[
            "report",
            "b.db",
            "a.db",
            "--key",
            "ci.example.pub",
            "--from",
            "2026-11-26",
            "--to",
            "2026-11-26",
            "--format",
            "json",
        ],
    );
    let swapped: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(swapped["totals"], report["totals"]);
}
