#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly"
)]
//! The language's worst trap and the explanations around it (issue 15, parts 6 and 7):
//! `not` over data that can be missing is warned about with the rewrite, `palisade test`
//! says why a failing test failed, and `--explain` shows the value under `not`, every
//! matching object, and no internal names.

use std::path::Path;
use std::process::{Command, Output};

const POLICIES: &str = r#"policy "not kube-system" {
  severity low
  lifecycle deploy
  soc2 CC6.1
  when not (deployment.namespace ~ /kube-system/) and container.privileged
}

policy "label trap" {
  severity low
  lifecycle deploy
  soc2 CC6.1
  when not deployment.labels["x"] == "true"
}

policy "label guarded" {
  severity low
  lifecycle deploy
  soc2 CC6.1
  when not (has(deployment.labels["x"]) and deployment.labels["x"] == "true")
}

policy "team label" {
  severity low
  lifecycle deploy
  soc2 CC6.1
  when any l in deployment.labels: l.key == "team"
}

test "the trap does not fire without the label" for "label trap" {
  deployment { id: "d1", name: "web", namespace: "prod", labels: { app: "web" } }
  expect fire
}

test "the guarded form fires without the label" for "label guarded" {
  deployment { id: "d1", name: "web", namespace: "prod", labels: { app: "web" } }
  expect fire
}

test "no labels at all" for "team label" {
  deployment { id: "d2", name: "api", namespace: "prod" }
  expect fire
}
"#;

const RECORD: &str = r#"{"kind": "deployment", "id": "d1", "name": "web", "namespace": "prod", "labels": {"app": "web"},
 "containers": [{"name": "a", "security_context": {"privileged": true}}, {"name": "b", "security_context": {"privileged": true}}]}"#;

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .current_dir(dir)
        .env("PALISADE_NOW", "2026-11-26T12:00:00Z")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.pal"), POLICIES).unwrap();
    std::fs::write(dir.path().join("r.json"), RECORD).unwrap();
    dir
}

#[test]
fn not_over_missing_data_is_a_warning_with_the_rewrite() {
    let dir = setup();
    let o = run(dir.path(), &["compile", "p.pal"]);
    assert_eq!(o.status.code(), Some(0), "warnings do not fail");
    let stderr = String::from_utf8_lossy(&o.stderr);
    // Once per trap (two: the namespace test and the label test), not for the guarded form.
    assert_eq!(stderr.matches(": warning: ").count(), 2, "{stderr}");
    assert!(stderr.contains("p.pal:12:8: warning: `not` over `deployment.labels[\"x\"]`, which a record may leave out"), "{stderr}");
    assert!(stderr.contains("help: to fire where it is missing too, write `not (has(deployment.labels[\"x\"]) and deployment.labels[\"x\"] == \"true\")`"), "{stderr}");
    assert!(
        stderr.contains("palisade: 2 warnings in policies"),
        "{stderr}"
    );
    // Each diagnostic is printed once (stderr is not a terminal: the plain form).
    assert_eq!(stderr.matches("p.pal:12:8").count(), 1, "{stderr}");
    let json = run(dir.path(), &["compile", "p.pal", "--diagnostics", "json"]);
    let stderr = String::from_utf8_lossy(&json.stderr);
    let v: serde_json::Value = serde_json::from_str(stderr.lines().next().unwrap()).unwrap();
    assert_eq!(v["diagnostics"].as_array().unwrap().len(), 2);
    assert_eq!(v["diagnostics"][0]["severity"], "warning");
}

#[test]
fn a_failing_test_says_which_condition_decided_it() {
    let dir = setup();
    let o = run(dir.path(), &["test", "p.pal"]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("ok      the guarded form fires without the label"),
        "{out}"
    );
    assert!(
        out.contains("FAILED  the trap does not fire without the label (label trap) at p.pal:")
            && out.contains("on deployment `d1`: not (deployment.labels[\"x\"] == \"true\")  (value: <missing>) -> unknown"),
        "{out}"
    );
    // A quantifier over a missing map, in words and without internal names.
    assert!(
        out.contains("on deployment `d2`: an entry `l` of deployment.labels to test  (value: <missing>) -> unknown"),
        "{out}"
    );
}

#[test]
fn explain_shows_values_under_not_and_every_matching_object() {
    let dir = setup();
    let o = run(
        dir.path(),
        &[
            "check",
            "--no-config",
            "--policies",
            "p.pal",
            "--input",
            "r.json",
            "--explain",
        ],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    let expected = "           - not kube-system: container 'a'
             matched: not (deployment.namespace ~ /kube-system/)  (value: prod) -> true
             matched: container.privileged  (value: true) -> true
           - not kube-system: container 'b'
             matched: not (deployment.namespace ~ /kube-system/)  (value: prod) -> true
             matched: container.privileged  (value: true) -> true
";
    assert!(out.contains(expected), "{out}");
    assert!(!out.contains("(value: )"), "{out}");
    let json = run(
        dir.path(),
        &[
            "check",
            "--no-config",
            "--policies",
            "p.pal",
            "--input",
            "r.json",
            "--explain",
            "--format",
            "json",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let steps = v["violations"][0]["explain"].as_array().unwrap();
    let for_message: Vec<u64> = steps
        .iter()
        .map(|s| s["message"].as_u64().unwrap())
        .collect();
    assert_eq!(for_message, [0, 0, 1, 1]);
}
