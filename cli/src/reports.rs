//! SARIF and JUnit renderings of a check.
//!
//! SARIF is built as JSON and checked against the OASIS 2.1.0 schema in the tests
//! (cli/tests/sarif.rs) rather than through a typed SARIF crate, which would bring a code
//! generator and cargo's metadata reader into the lean CLI. JUnit is written by
//! `quick-junit`.

use palisade_engine::ir::Program;
use palisade_engine::report::{RecordId, Violation};
use palisade_lang::hir::{PolicyMeta, Severity};
use serde_json::{Value, json};

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

/// GitHub code scanning's scale: over 9.0 critical, 7.0 to 8.9 high, 4.0 to 6.9 medium.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "2.0",
    }
}

/// A rule id from a policy name: lowercase ASCII letters and digits, other runs as `-`
/// ("Fixable CVSS >= 7" is `fixable-cvss-7`).
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() { "policy".into() } else { out }
}

/// The rule id of every policy, in program order: its slug, with `-2`, `-3` ... after a
/// slug taken by an earlier policy.
pub fn rule_ids(policies: &[PolicyMeta]) -> Vec<String> {
    let mut taken = std::collections::BTreeSet::new();
    policies
        .iter()
        .map(|p| {
            let base = slug(&p.name);
            let mut id = base.clone();
            let mut n = 1;
            while !taken.insert(id.clone()) {
                n += 1;
                id = format!("{base}-{n}");
            }
            id
        })
        .collect()
}

/// 64-bit FNV-1a, as 16 hex digits: a fingerprint that stays the same across runs,
/// platforms and versions.
fn fingerprint(parts: &[&str]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain([0u8]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// A file name as a SARIF URI reference: relative paths stay relative (to the checkout,
/// as GitHub expects), absolute ones become `file://` URIs; characters a URI may not hold
/// are percent-encoded.
fn artifact_uri(file: &str) -> (String, bool) {
    let encode = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    let file = file.strip_prefix("./").unwrap_or(file);
    if file.starts_with('/') {
        (format!("file://{}", encode(file)), false)
    } else {
        (encode(file), true)
    }
}

fn location(record: &RecordId) -> Value {
    let file = record.file.as_deref().unwrap_or("<stdin>");
    let (uri, relative) = artifact_uri(file);
    let mut artifact = json!({ "uri": uri });
    if relative {
        artifact["uriBaseId"] = json!("%SRCROOT%");
    }
    json!({
        "physicalLocation": {
            "artifactLocation": artifact,
            "region": { "startLine": record.line.unwrap_or(1) },
        },
        "logicalLocations": [{
            "name": record.name.clone().unwrap_or_else(|| record.id.clone()),
            "fullyQualifiedName": format!("{}/{}", record.kind, record.id),
            "kind": record.kind,
        }],
    })
}

/// A SARIF 2.1.0 log as GitHub code scanning takes it: one rule per policy (id a slug of
/// its name, help with rationale and remediation, `security-severity`), one result per
/// violation with the input file and line, and a fingerprint that identifies it across runs.
pub fn sarif(program: &Program, violations: &[Violation]) -> Value {
    let ids = rule_ids(&program.policies);
    let rules: Vec<Value> = program
        .policies
        .iter()
        .zip(&ids)
        .map(|(p, id)| {
            let description = if p.description.is_empty() {
                &p.name
            } else {
                &p.description
            };
            let mut help = String::new();
            let mut markdown = String::new();
            if !p.rationale.is_empty() {
                help.push_str(&format!("Why: {}\n", p.rationale));
                markdown.push_str(&format!("**Why.** {}\n\n", p.rationale));
            }
            if !p.remediation.is_empty() {
                help.push_str(&format!("Fix: {}\n", p.remediation));
                markdown.push_str(&format!("**Fix.** {}\n\n", p.remediation));
            }
            help.push_str(&format!("SOC 2: {}", p.soc2.join(", ")));
            markdown.push_str(&format!("**SOC 2.** {}", p.soc2.join(", ")));
            let mut tags = vec!["security".to_string()];
            tags.extend(p.categories.iter().cloned());
            json!({
                "id": id,
                "name": p.name,
                "shortDescription": {"text": p.name},
                "fullDescription": {"text": description},
                "help": {"text": help, "markdown": markdown},
                "defaultConfiguration": {"level": level(p.severity)},
                "properties": {
                    "tags": tags,
                    "precision": "high",
                    "security-severity": security_severity(p.severity),
                    "severity": p.severity,
                    "soc2": p.soc2,
                },
            })
        })
        .collect();
    let results: Vec<Value> = violations
        .iter()
        .map(|v| {
            let index = program.policies.iter().position(|p| p.name == v.policy);
            let rule_id = index.map_or_else(|| slug(&v.policy), |i| ids[i].clone());
            let file = v.record.file.as_deref().unwrap_or("");
            json!({
                "ruleId": rule_id,
                "ruleIndex": index,
                "level": level(v.severity),
                "message": {"text": v.messages.join("; ")},
                "locations": [location(&v.record)],
                "partialFingerprints": {
                    "palisade/v1": fingerprint(&[&rule_id, file, &v.record.kind, &v.record.id, v.lifecycle.as_str()]),
                },
                "properties": {
                    "lifecycle": v.lifecycle,
                    "soc2": v.soc2,
                    "enforcement": v.enforcement,
                    "namespace": v.record.namespace,
                },
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "palisade",
                "version": env!("CARGO_PKG_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/palisade-dev/palisade",
                "rules": rules,
            }},
            "results": results,
        }],
    })
}

/// One evaluated (policy, record) pair for JUnit: passed, or failed with its violation.
pub struct Case {
    /// The record.
    pub record: RecordId,
    /// The policy.
    pub policy: String,
    /// The violation, when it failed.
    pub violation: Option<Violation>,
}

/// A JUnit XML report: one test case per (policy, record) evaluated, passing ones
/// included; the class name is the record (and where it was read), the name the policy.
pub fn junit(cases: &[Case]) -> Result<String, String> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new("palisade");
    for case in cases {
        let r = &case.record;
        let place = match (&r.file, r.line) {
            (Some(f), Some(l)) => format!(" ({f}:{l})"),
            (Some(f), None) => format!(" ({f})"),
            _ => String::new(),
        };
        let status = match &case.violation {
            None => TestCaseStatus::success(),
            Some(v) => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status
                    .set_type(v.severity.as_str())
                    .set_message(v.messages.first().map(String::as_str).unwrap_or(""))
                    .set_description(format!(
                        "{}\nseverity: {}; soc2: {}{}",
                        v.messages.join("\n"),
                        v.severity.as_str(),
                        v.soc2.join(", "),
                        if v.enforcement.is_empty() {
                            String::new()
                        } else {
                            format!("; enforce: {}", v.enforcement.join(", "))
                        }
                    ));
                status
            }
        };
        let mut test = TestCase::new(case.policy.as_str(), status);
        test.set_classname(format!(
            "{}/{}{place}",
            r.kind,
            r.name.as_deref().unwrap_or(&r.id)
        ));
        suite.add_test_case(test);
    }
    let mut report = Report::new("palisade");
    report.add_test_suite(suite);
    report.to_string().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_slugs_unique_within_a_set() {
        assert_eq!(slug("Fixable CVSS >= 7"), "fixable-cvss-7");
        assert_eq!(
            slug("Docker CIS 5.9 and 5.20: Ensure that the host's network namespace is not shared"),
            "docker-cis-5-9-and-5-20-ensure-that-the-host-s-network-namespace-is-not-shared"
        );
        assert_eq!(slug("!!!"), "policy");
        assert_eq!(slug("Curl in Image"), "curl-in-image");
    }

    #[test]
    fn uris_are_relative_or_file_uris_and_encoded() {
        assert_eq!(
            artifact_uri("./k8s/app.yaml"),
            ("k8s/app.yaml".into(), true)
        );
        assert_eq!(
            artifact_uri("my dir/a#b.yaml"),
            ("my%20dir/a%23b.yaml".into(), true)
        );
        assert_eq!(
            artifact_uri("/srv/x.json"),
            ("file:///srv/x.json".into(), false)
        );
    }

    #[test]
    fn fingerprints_are_stable_and_separate_their_parts() {
        assert_eq!(fingerprint(&["a", "b"]), fingerprint(&["a", "b"]));
        assert_ne!(fingerprint(&["ab", ""]), fingerprint(&["a", "b"]));
        assert_eq!(fingerprint(&[]), "cbf29ce484222325");
    }
}
