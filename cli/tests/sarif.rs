#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly"
)]
//! `check --format sarif` over a directory of manifests: the log validates against the
//! SARIF 2.1.0 schema (tests/fixtures, with formats checked) and carries what GitHub code
//! scanning's upload requires and uses: the input file and line of each result, a rule per
//! policy with a stable slug id, help, `security-severity`, and fingerprints that stay the
//! same from run to run. `--format junit` has one test case per (policy, record) evaluated.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

const POD: &str = "# the web tier\napiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  containers:\n    - name: web\n      image: nginx:1.25\n      securityContext:\n        privileged: true\n";

const LIST: &str = "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: settings, namespace: shop}\n  - apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: api\n      namespace: shop\n    spec:\n      template:\n        spec:\n          containers:\n            - name: api\n              image: registry.example.com/api:latest\n              env:\n                - name: DB_PASSWORD\n                  value: hunter2\n";

fn check(dir: &Path, format: &str) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args([
            "check",
            "--no-config",
            "--input",
            "manifests",
            "--format",
            format,
        ])
        .current_dir(dir)
        .env("PALISADE_NOW", "2026-11-26T12:00:00Z")
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn manifests() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("manifests/shop")).unwrap();
    std::fs::write(dir.path().join("manifests/shop/web pod.yaml"), POD).unwrap();
    std::fs::write(dir.path().join("manifests/list.yaml"), LIST).unwrap();
    dir
}

#[test]
fn sarif_validates_and_names_files_and_lines() {
    let dir = manifests();
    let raw = check(dir.path(), "sarif");
    let log: Value = serde_json::from_slice(&raw).unwrap();

    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sarif-schema-2.1.0.json"),
    )
    .unwrap();
    // The schema's `language` pattern has a stray `]`, a literal in ECMA-262 (JSON Schema's
    // regex dialect) that the validator's regex engine refuses when it checks the schema's
    // own patterns: escape it, which keeps its meaning. Formats are checked (uri,
    // uri-reference, date-time).
    let language = r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$""#;
    assert_eq!(
        text.matches(language).count(),
        2,
        "run.language, toolComponent.language"
    );
    let text = text.replace(language, r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}\\]?$""#);
    let schema: Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&log)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // The validator does reject what GitHub would: a result without a message.
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]
        .as_object_mut()
        .unwrap()
        .remove("message");
    assert!(!validator.is_valid(&broken));

    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "palisade");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for rule in rules {
        let id = rule["id"].as_str().unwrap();
        assert!(
            id.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{id}"
        );
        assert!(!rule["help"]["text"].as_str().unwrap().is_empty(), "{id}");
        let severity: f64 = rule["properties"]["security-severity"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((0.1..=10.0).contains(&severity), "{id}");
    }
    let privileged = rules
        .iter()
        .find(|r| r["name"] == "Privileged Container")
        .unwrap();
    assert_eq!(privileged["id"], "privileged-container");
    assert!(
        privileged["help"]["text"]
            .as_str()
            .unwrap()
            .contains("Fix: Remove privileged: true")
    );

    // Each result: its rule, the file (relative, URI-encoded) and the line of the object.
    let results = run["results"].as_array().unwrap();
    assert!(results.len() >= 4, "{}", results.len());
    let located = |rule: &str| -> (String, u64) {
        let r = results
            .iter()
            .find(|r| r["ruleId"] == rule)
            .unwrap_or_else(|| panic!("no result of {rule}"));
        let physical = &r["locations"][0]["physicalLocation"];
        (
            physical["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
                .to_string(),
            physical["region"]["startLine"].as_u64().unwrap(),
        )
    };
    assert_eq!(
        located("privileged-container"),
        ("manifests/shop/web%20pod.yaml".to_string(), 2)
    );
    assert_eq!(
        located("latest-tag"),
        ("manifests/list.yaml".to_string(), 7)
    );
    assert_eq!(
        located("environment-variable-contains-secret"),
        ("manifests/list.yaml".to_string(), 7)
    );
    for r in results {
        let index = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], r["ruleId"]);
        assert!(!r["message"]["text"].as_str().unwrap().is_empty());
        assert_eq!(
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uriBaseId"],
            "%SRCROOT%"
        );
        assert!(
            r["partialFingerprints"]["palisade/v1"]
                .as_str()
                .unwrap()
                .len()
                == 16
        );
    }
    // Fingerprints (and the whole log) are the same on the next run.
    assert_eq!(raw, check(dir.path(), "sarif"));
}

#[test]
fn junit_has_a_case_per_policy_and_record_evaluated() {
    let dir = manifests();
    let xml = String::from_utf8(check(dir.path(), "junit")).unwrap();
    let count = |needle: &str| xml.matches(needle).count();
    let cases = count("<testcase ");
    let failures = count("<failure ");
    // Two workloads, each evaluated by every enabled deploy policy for deployments.
    assert_eq!(cases % 2, 0, "{xml}");
    assert!(
        cases > 40 && failures >= 4 && failures < cases,
        "{cases} cases, {failures} failures"
    );
    assert!(xml.contains(&format!("tests=\"{cases}\"")));
    assert!(xml.contains(&format!("failures=\"{failures}\"")));
    assert!(
        xml.contains("classname=\"deployment/web (manifests/shop/web pod.yaml:2)\""),
        "{xml}"
    );
    assert!(xml.contains("<testcase name=\"Privileged Container\" classname=\"deployment/web"));

    // A clean run: the same cases, none failing.
    let clean = tempfile::tempdir().unwrap();
    std::fs::create_dir(clean.path().join("manifests")).unwrap();
    std::fs::write(
        clean.path().join("manifests/ok.json"),
        r#"{"kind": "deployment", "id": "d1", "name": "ok", "namespace": "shop"}"#,
    )
    .unwrap();
    let xml = String::from_utf8(check(clean.path(), "junit")).unwrap();
    assert!(xml.contains("failures=\"0\""), "{xml}");
    assert!(xml.matches("<testcase ").count() > 20, "{xml}");
}
