//! Reports of a period read from a verified log: the model's figures, and every output
//! validated against its published schema (OSCAL 1.1.3, the OpenReports CRDs).
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests"
)]

mod common;

use chrono::{DateTime, Duration, Utc};
use common::*;
use palisade_evidence::entry::*;
use palisade_evidence::period::{Builder, LogSummary, Options, Period};
use palisade_evidence::store::Writer;
use palisade_evidence::verify::verify;
use palisade_evidence::{html, openreports, oscal};
use serde_json::Value;
use std::path::Path;

fn time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn options(from: &str, to: &str) -> Options {
    Options {
        from: time(from),
        to: time(to),
        max_gap: Duration::days(1),
        generated: time("2026-12-01T00:00:00Z"),
    }
}

/// November: daily runs on the 1st to 10th and 20th to 30th (a gap in between), the last
/// run with 2 violations; an admission session with a denial and an allowed violation.
fn november(path: &Path) {
    let mut w = Writer::open(path, key("ci", 1), "2026-11-01T00:00:00Z").unwrap();
    for day in (1..=10).chain(20..=30) {
        let violations = if day == 30 { 2 } else { 4 };
        write_run(
            &mut w,
            &format!("run-{day}"),
            &format!("2026-11-{day:02}T06:00:00Z"),
            violations,
            true,
        )
        .unwrap();
    }
    let session = "serve-1";
    w.append(Entry::RunStarted(RunStarted {
        run: session.into(),
        time: "2026-11-25T00:00:00Z".into(),
        source: "serve".into(),
        tool: "palisade test".into(),
        policy_set: "sha256:policies".into(),
        inputs: vec![],
        actor: None,
    }))
    .unwrap();
    for (i, (name, allowed)) in [("api", false), ("web", true), ("web", true)]
        .into_iter()
        .enumerate()
    {
        let mut v = violation(session, "2026-11-25T10:00:00Z", "Latest Tag", 50 + i as u64);
        v.record.name = Some(name.into());
        v.record.namespace = Some("shop".into());
        w.append(Entry::Admission(AdmissionEntry {
            run: session.into(),
            time: format!("2026-11-25T10:0{i}:00Z"),
            uid: format!("uid-{i}"),
            operation: "CREATE".into(),
            user: Some("alice@example.com".into()),
            object: ObjectRef {
                kind: "Deployment".into(),
                namespace: Some("shop".into()),
                name: Some(name.into()),
            },
            object_digest: format!("sha256:obj{i}"),
            allowed,
            violations: if i == 2 { vec![] } else { vec![v] },
        }))
        .unwrap();
    }
    w.flush().unwrap();
}

fn period_of(path: &Path, options: Options) -> Period {
    let mut b = Builder::new(options).unwrap();
    let mut entries = Vec::new();
    let v = verify(path, &[key("ci", 1).verifier()], &[], |seq, e| {
        entries.push((seq, e))
    })
    .unwrap();
    assert!(v.ok(), "{:?}", v.problem);
    b.start_log("evidence.db", &v.log_id);
    for (seq, e) in &entries {
        b.entry(*seq, e).unwrap();
    }
    b.log_summary(LogSummary {
        file: "evidence.db".into(),
        log_id: v.log_id.clone(),
        entries: v.entries,
        checkpoints: v.checkpoints,
        signers: v.signers.into_iter().collect(),
        verified: true,
    });
    b.finish().unwrap()
}

fn november_period() -> Period {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evidence.db");
    november(&path);
    period_of(
        &path,
        options("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z"),
    )
}

#[test]
fn the_period_counts_evaluations_open_violations_gaps_and_exceptions() {
    let p = november_period();
    assert_eq!(p.days.len(), 30);
    assert_eq!(p.totals.runs, 21);
    assert_eq!(p.totals.admissions, 3);
    assert_eq!(p.totals.denied, 1);
    assert_eq!(p.totals.evaluations, 24);
    assert_eq!(p.totals.violations, 20 * 4 + 2 + 2);
    // The last run's 2 violations; the web deployment's violation was closed by its next
    // admission; the denied api deployment never ran.
    assert_eq!(p.totals.open, 2);
    assert!(p.open_violations.iter().all(|f| f.run == "run-30"));
    // The gap: from the 10th's run to the 20th's; and the end of the month after the 30th's.
    assert_eq!(p.gaps.len(), 1, "{:?}", p.gaps);
    assert_eq!(p.gaps[0].from, "2026-11-10T06:00:00Z");
    assert_eq!(p.gaps[0].to, "2026-11-20T06:00:00Z");
    assert_eq!(p.gaps[0].hours, 240.0);
    let cc61 = p.criteria.iter().find(|c| c.id == "CC6.1").unwrap();
    assert_eq!(cc61.status, "not-satisfied");
    assert_eq!(cc61.principle, "Security (Common Criteria)");
    let cc81 = p.criteria.iter().find(|c| c.id == "CC8.1").unwrap();
    assert_eq!(cc81.status, "satisfied", "{cc81:?}");
    assert_eq!(cc81.exceptions, 21);
    assert_eq!(p.exceptions.len(), 1);
    assert_eq!(p.exceptions[0].count, 21);
    assert!(!p.exceptions[0].expired);
    assert_eq!(p.controls.len(), 3);
    // The first set of each target (the check inputs, the server) is in force from its
    // first run.
    assert_eq!(p.policy_changes.len(), 2);
    assert!(p.policy_changes.iter().all(|c| c.added.len() == 3));
    assert_eq!(p.policy_changes[1].time, "2026-11-25T00:00:00Z");
}

#[test]
fn a_period_after_the_expiry_flags_the_exception_and_an_empty_period_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evidence.db");
    let mut w = Writer::open(&path, key("ci", 1), "2027-04-01T00:00:00Z").unwrap();
    write_run(&mut w, "late", "2027-04-02T00:00:00Z", 1, true).unwrap();
    drop(w);
    let p = period_of(
        &path,
        options("2027-04-01T00:00:00Z", "2027-04-03T00:00:00Z"),
    );
    assert!(p.exceptions[0].expired, "expired 2027-03-31");
    let html = html::render(&p);
    assert!(html.contains("expired</span>"));

    let mut b = Builder::new(options("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z")).unwrap();
    b.log_summary(LogSummary {
        file: "evidence.db".into(),
        log_id: "x".into(),
        entries: 0,
        checkpoints: 0,
        signers: vec![],
        verified: true,
    });
    let e = b.finish().err().unwrap();
    assert_eq!(
        e.to_string(),
        "no evaluation between 2026-01-01T00:00:00Z and 2026-02-01T00:00:00Z in evidence.db"
    );
    assert!(Builder::new(options("2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z")).is_err());
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::validator_for(schema).unwrap()
}

fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .take(10)
        .collect()
}

fn schema(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn oscal_documents_validate_against_the_oscal_1_1_3_schemas() {
    let p = november_period();
    let ar = oscal::assessment_results(&p).unwrap();
    let v = validator(&schema("oscal_assessment-results_schema.json"));
    assert_eq!(errors(&v, &ar), Vec::<String>::new());
    let result = &ar["assessment-results"]["results"][0];
    assert_eq!(
        result["findings"].as_array().unwrap().len(),
        p.criteria.len()
    );
    assert_eq!(
        result["observations"].as_array().unwrap().len(),
        p.violations.len() + p.criteria.len()
    );
    let states: Vec<&str> = result["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["target"]["status"]["state"].as_str().unwrap())
        .collect();
    assert!(states.contains(&"satisfied") && states.contains(&"not-satisfied"));
    // A mutated document fails: the validator is not a formality.
    let mut broken = ar.clone();
    broken["assessment-results"]["results"][0]["findings"][0]["target"]["status"]["state"] =
        "fine".into();
    assert!(!errors(&v, &broken).is_empty());

    let cd = oscal::component_definition(&policies(), "sha256:policies", "2026-12-01T00:00:00Z");
    let v = validator(&schema("oscal_component_schema.json"));
    assert_eq!(errors(&v, &cd), Vec::<String>::new());
    let reqs = &cd["component-definition"]["components"][0]["control-implementations"][0]["implemented-requirements"];
    assert_eq!(
        reqs.as_array().unwrap().len(),
        4,
        "CC6.1, CC6.8, CC7.2, CC8.1"
    );
}

fn crd_schema(file: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(file);
    let crd: Value = serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

#[test]
fn openreports_validate_against_the_crds() {
    let p = november_period();
    let list = openreports::reports(&p).unwrap();
    let items = list["items"].as_array().unwrap();
    let report = validator(&crd_schema("openreports.io_reports.yaml"));
    let cluster = validator(&crd_schema("openreports.io_clusterreports.yaml"));
    let mut fails = 0;
    for item in items {
        let v = if item["kind"] == "Report" {
            &report
        } else {
            &cluster
        };
        assert_eq!(errors(v, item), Vec::<String>::new());
        fails += item["summary"]["fail"].as_u64().unwrap();
    }
    assert_eq!(fails, p.totals.open);
    let mut broken = items[0].clone();
    broken["results"][0]["result"] = "bad".into();
    let v = if broken["kind"] == "Report" {
        &report
    } else {
        &cluster
    };
    assert!(!errors(v, &broken).is_empty());
}

#[test]
fn the_html_report_is_self_contained_and_shows_every_section() {
    let p = november_period();
    let html = html::render(&p);
    for external in [
        "<script", "<link", "src=", "@import", "url(", "<img", "<iframe",
    ] {
        assert!(
            !html.contains(external),
            "the report must load nothing: {external}"
        );
    }
    for section in [
        "Evaluations per day",
        "Violations by severity per day",
        "Security (Common Criteria)",
        "Violations open at the end (2)",
        "Exceptions (1)",
        "Gaps in evaluation (1)",
        "Policy-set changes (2)",
        "Controls in force (3)",
        "vendor image, pinned upstream",
        "every entry verified",
    ] {
        assert!(html.contains(section), "missing: {section}");
    }
}

#[test]
fn a_report_of_100000_violations_is_complete() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evidence.db");
    let mut w = Writer::open(&path, key("ci", 1), "2026-11-01T00:00:00Z").unwrap();
    write_run(&mut w, "big", "2026-11-02T00:00:00Z", 100_000, true).unwrap();
    drop(w);
    let p = period_of(
        &path,
        options("2026-11-01T00:00:00Z", "2026-11-03T00:00:00Z"),
    );
    assert_eq!(p.violations.len(), 100_000);
    assert_eq!(p.open_violations.len(), 100_000);
    let html = html::render(&p);
    assert!(
        html.matches("<tr><td>").count() >= 100_000,
        "every open violation is a row"
    );
    let ar = oscal::assessment_results(&p).unwrap();
    assert_eq!(
        ar["assessment-results"]["results"][0]["observations"]
            .as_array()
            .unwrap()
            .len(),
        100_000 + p.criteria.len()
    );
    let list = openreports::reports(&p).unwrap();
    let fails: u64 = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["summary"]["fail"].as_u64().unwrap())
        .sum();
    assert_eq!(fails, 100_000);
}

#[test]
fn a_policy_set_change_and_its_reversal_are_both_listed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evidence.db");
    let mut w = Writer::open(&path, key("ci", 1), "2026-11-01T00:00:00Z").unwrap();
    let all = policies();
    let fewer: Vec<PolicySummary> = all[..2].to_vec();
    for (day, set) in [(1, &all), (2, &fewer), (3, &all)] {
        let run = format!("run-{day}");
        let time = format!("2026-11-0{day}T00:00:00Z");
        let digest = format!("sha256:set{}", set.len());
        if !w.has_policy_set(&digest).unwrap() {
            w.append(Entry::PolicySet(PolicySet {
                run: run.clone(),
                time: time.clone(),
                digest: digest.clone(),
                policies: set.clone(),
            }))
            .unwrap();
        }
        w.append(Entry::RunStarted(RunStarted {
            run: run.clone(),
            time: time.clone(),
            source: "check".into(),
            tool: "t".into(),
            policy_set: digest,
            inputs: vec![],
            actor: None,
        }))
        .unwrap();
        w.append(Entry::RunFinished(RunFinished {
            run,
            time,
            records: 1,
            violations: 0,
            exceptions: 0,
            failed: false,
        }))
        .unwrap();
    }
    w.flush().unwrap();
    drop(w);
    let p = period_of(
        &path,
        options("2026-11-01T00:00:00Z", "2026-11-04T00:00:00Z"),
    );
    let changes: Vec<(&str, Vec<String>, Vec<String>)> = p
        .policy_changes
        .iter()
        .map(|c| (c.time.as_str(), c.added.clone(), c.removed.clone()))
        .collect();
    assert_eq!(
        changes,
        [
            (
                "2026-11-01T00:00:00Z",
                vec![
                    "Latest Tag".into(),
                    "Privileged Container".into(),
                    "Root User".into()
                ],
                vec![]
            ),
            ("2026-11-02T00:00:00Z", vec![], vec!["Root User".into()]),
            ("2026-11-03T00:00:00Z", vec!["Root User".into()], vec![]),
        ]
    );
}
