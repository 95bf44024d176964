//! Entries from what the engine reports: the policy set of a program, violations and the
//! violations exclusions suppressed.

use crate::canonical;
use crate::entry::*;
use chrono::{DateTime, SecondsFormat};
use palisade_engine::ir::Program;
use palisade_engine::report::{Excepted, RecordId, Violation};

/// RFC 3339 (UTC, seconds) of Unix seconds.
pub fn time_of(unix: i64) -> String {
    DateTime::from_timestamp(unix, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The digest of a compiled program: of its bundle text, conditions included.
pub fn policy_set_digest(program: &Program) -> String {
    canonical::digest_bytes(palisade_engine::bundle::write_bundle(program).as_bytes())
}

/// The policy-set entry of a program.
pub fn policy_set(program: &Program, run: &str, time: &str) -> PolicySet {
    PolicySet {
        run: run.to_string(),
        time: time.to_string(),
        digest: policy_set_digest(program),
        policies: program
            .policies
            .iter()
            .map(|p| PolicySummary {
                name: p.name.clone(),
                severity: p.severity.as_str().to_string(),
                lifecycle: p.stages.iter().map(|s| s.as_str().to_string()).collect(),
                soc2: p.soc2.clone(),
                enforcement: p.enforcement.clone(),
                disabled: p.disabled,
                exclusions: p
                    .exclusions
                    .iter()
                    .map(|e| ExclusionSummary {
                        reason: e.reason.clone(),
                        expires: e.until.map(time_of),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// The record reference of an engine record id.
pub fn record_ref(id: &RecordId) -> RecordRef {
    RecordRef {
        kind: id.kind.clone(),
        id: id.id.clone(),
        name: id.name.clone(),
        namespace: id.namespace.clone(),
    }
}

/// The entry of a violation.
pub fn violation(v: &Violation, run: &str, time: &str, record_digest: &str) -> ViolationEntry {
    ViolationEntry {
        run: run.to_string(),
        time: time.to_string(),
        policy: v.policy.clone(),
        severity: v.severity.as_str().to_string(),
        lifecycle: v.lifecycle.as_str().to_string(),
        soc2: v.soc2.clone(),
        record: record_ref(&v.record),
        record_digest: record_digest.to_string(),
        messages: v.messages.clone(),
        enforcement: v.enforcement.clone(),
        event: None,
    }
}

/// The entry of a violation an exclusion suppressed.
pub fn exception(e: &Excepted, run: &str, time: &str, record_digest: &str) -> ExceptionEntry {
    ExceptionEntry {
        run: run.to_string(),
        time: time.to_string(),
        policy: e.violation.policy.clone(),
        severity: e.violation.severity.as_str().to_string(),
        soc2: e.violation.soc2.clone(),
        record: record_ref(&e.violation.record),
        record_digest: record_digest.to_string(),
        reason: e.reason.clone(),
        expires: e.expires.map(time_of),
    }
}

/// The entry of a violation as the JSON report (`check --format json`, the JSON API, the
/// plugin) writes it; None when it lacks the policy or record.
pub fn violation_from_json(
    v: &serde_json::Value,
    run: &str,
    time: &str,
    record_digest: &str,
) -> Option<ViolationEntry> {
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
    let list = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect()
    };
    let record = &v["record"];
    Some(ViolationEntry {
        run: run.to_string(),
        time: time.to_string(),
        policy: text(&v["policy"])?,
        severity: text(&v["severity"]).unwrap_or_default(),
        lifecycle: text(&v["lifecycle"]).unwrap_or_default(),
        soc2: list(&v["soc2"]),
        record: RecordRef {
            kind: text(&record["kind"])?,
            id: text(&record["id"]).unwrap_or_default(),
            name: text(&record["name"]),
            namespace: text(&record["namespace"]),
        },
        record_digest: record_digest.to_string(),
        messages: list(&v["messages"]),
        enforcement: list(&v["enforcement"]),
        event: None,
    })
}
