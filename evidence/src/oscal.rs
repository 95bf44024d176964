//! NIST OSCAL 1.1 documents: the assessment results of a report period (reviewed controls =
//! the SOC 2 criteria, a finding per criterion, an observation per violation carrying the
//! record digest) and the component definition of a policy set (which policy implements
//! which criterion), so GRC tools import both.
//!
//! UUIDs are derived from the content (SHA-256, shaped as version 5 UUIDs): the same input
//! gives the same document.

use crate::entry::PolicySummary;
use crate::period::{Finding, Period};
use crate::soc2;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The OSCAL version the documents conform to (validated against its schema in the tests).
pub const OSCAL_VERSION: &str = "1.1.3";
/// The namespace of Palisade's properties.
pub const NS: &str = "https://palisade.dev/ns/oscal";
/// The source of the criteria the controls refer to.
pub const SOC2_SOURCE: &str = "https://www.aicpa-cima.com/resources/download/2017-trust-services-criteria-with-revised-points-of-focus-2022";

/// A UUID (version 5 layout) from the SHA-256 of `parts`.
pub fn uuid(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = crate::canonical::hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn prop(name: &str, value: &str) -> Value {
    json!({"name": name, "value": value, "ns": NS})
}

/// OSCAL's string properties may not be empty or start/end with space.
fn text(s: &str) -> String {
    let t = s.trim();
    if t.is_empty() {
        "-".into()
    } else {
        t.to_string()
    }
}

fn observation(period_key: &str, f: &Finding) -> (String, Value) {
    let id = uuid(&[period_key, "violation", &f.evidence]);
    let mut props = vec![
        prop("policy", &text(&f.policy)),
        prop("severity", &text(&f.severity)),
        prop("record-kind", &text(&f.record.kind)),
        prop("record-id", &text(&f.record.id)),
        prop("record-digest", &text(&f.record_digest)),
        prop("evidence-entry", &text(&f.evidence)),
        prop("source", &text(&f.source)),
    ];
    if let Some(n) = &f.record.name {
        props.push(prop("record-name", &text(n)));
    }
    if let Some(n) = &f.record.namespace {
        props.push(prop("record-namespace", &text(n)));
    }
    for c in &f.soc2 {
        props.push(prop("soc2-criterion", &text(c)));
    }
    let record = f.record.name.as_deref().unwrap_or(&f.record.id);
    let description = format!(
        "{} violated by {} {}{}: {}",
        f.policy,
        f.record.kind,
        f.record
            .namespace
            .as_deref()
            .map(|n| format!("{n}/"))
            .unwrap_or_default(),
        record,
        if f.messages.is_empty() {
            "-".to_string()
        } else {
            f.messages.join("; ")
        }
    );
    (
        id.clone(),
        json!({
            "uuid": id,
            "title": format!("{}: {}", f.policy, record),
            "description": description,
            "props": props,
            "methods": ["TEST"],
            "types": ["finding"],
            "collected": f.time,
            "relevant-evidence": [{
                "description": format!("Palisade evidence log entry {} (record {})", f.evidence, f.record_digest)
            }]
        }),
    )
}

/// The assessment-results document of a period.
pub fn assessment_results(period: &Period) -> Value {
    let logs: Vec<&str> = period.logs.iter().map(|l| l.log_id.as_str()).collect();
    let period_key = format!("{}|{}|{}", period.from, period.to, logs.join(","));
    let mut observations = Vec::new();
    let mut by_evidence: BTreeMap<&str, String> = BTreeMap::new();
    for f in &period.violations {
        let (id, obs) = observation(&period_key, f);
        by_evidence.insert(f.evidence.as_str(), id);
        observations.push(obs);
    }
    let mut findings = Vec::new();
    for c in &period.criteria {
        let summary_id = uuid(&[&period_key, "criterion", &c.id]);
        observations.push(json!({
            "uuid": summary_id,
            "title": format!("{} evaluations", c.id),
            "description": format!(
                "{} evaluation(s) between {} and {} with {} in force: {} violation(s), {} open at the end, {} suppressed by exclusions.",
                c.evaluations,
                period.from,
                period.to,
                if c.controls.is_empty() { "no policy citing it".to_string() } else { c.controls.join(", ") },
                c.violations,
                c.open,
                c.exceptions
            ),
            "props": [prop("soc2-criterion", &c.id), prop("evaluations", &c.evaluations.to_string())],
            "methods": ["TEST"],
            "collected": period.generated,
        }));
        let mut related = vec![json!({"observation-uuid": summary_id})];
        for f in period
            .open_violations
            .iter()
            .filter(|f| f.soc2.contains(&c.id))
        {
            if let Some(id) = by_evidence.get(f.evidence.as_str()) {
                related.push(json!({"observation-uuid": id}));
            }
        }
        let (state, remarks) = match c.status.as_str() {
            "satisfied" => (
                "satisfied",
                "Evaluated in the period; no violation open at its end.",
            ),
            "not-satisfied" => (
                "not-satisfied",
                "Violations of policies citing it are open at the end of the period.",
            ),
            _ => (
                "not-satisfied",
                "Not assessed: no policy citing it was evaluated in the period.",
            ),
        };
        findings.push(json!({
            "uuid": uuid(&[&period_key, "finding", &c.id]),
            "title": format!("{} {}", c.id, c.title),
            "description": format!("{} ({}): {}", c.id, c.principle, remarks),
            "props": [prop("status", &c.status)],
            "target": {
                "type": "objective-id",
                "target-id": c.id,
                "status": {"state": state, "remarks": remarks}
            },
            "related-observations": related
        }));
    }
    let logs_resource = uuid(&[&period_key, "logs"]);
    let mut result = json!({
        "uuid": uuid(&[&period_key, "result"]),
        "title": format!("SOC 2 evidence, {} to {}", period.from, period.to),
        "description": format!(
            "Policies evaluated by Palisade between {} and {}: {} evaluation(s) of {} record(s), {} violation(s), {} open at the end, {} exception(s), {} gap(s) longer than {} hours without an evaluation.",
            period.from, period.to, period.totals.evaluations, period.totals.records,
            period.totals.violations, period.totals.open, period.totals.exceptions,
            period.gaps.len(), period.max_gap_hours
        ),
        "start": period.from,
        "end": period.to,
        "reviewed-controls": {
            "description": "The SOC 2 Trust Services Criteria cited by the policies in force.",
            "control-selections": [{
                "include-controls": period.criteria.iter().map(|c| json!({"control-id": c.id})).collect::<Vec<_>>()
            }]
        },
    });
    if let Some(obj) = result.as_object_mut() {
        if !observations.is_empty() {
            obj.insert("observations".into(), Value::Array(observations));
        }
        if !findings.is_empty() {
            obj.insert("findings".into(), Value::Array(findings));
        }
        if period.criteria.is_empty() {
            obj.insert(
                "reviewed-controls".into(),
                json!({"control-selections": [{"include-all": {}}]}),
            );
        }
    }
    let log_props: Vec<Value> = period
        .logs
        .iter()
        .flat_map(|l| {
            [
                prop("evidence-log", &text(&l.log_id)),
                prop("evidence-log-entries", &l.entries.to_string()),
            ]
        })
        .collect();
    let mut resource = json!({
        "uuid": logs_resource,
        "title": "Palisade evidence logs",
        "description": "The signed, hash-chained evidence logs this assessment was read from; `palisade evidence verify` checks them with the public key.",
    });
    if !log_props.is_empty()
        && let Some(obj) = resource.as_object_mut()
    {
        obj.insert("props".into(), Value::Array(log_props));
    }
    json!({
        "assessment-results": {
            "uuid": uuid(&[&period_key, "assessment-results"]),
            "metadata": {
                "title": format!("Palisade SOC 2 assessment results, {} to {}", period.from, period.to),
                "last-modified": period.generated,
                "version": "1",
                "oscal-version": OSCAL_VERSION,
            },
            "import-ap": {"href": format!("#{logs_resource}")},
            "results": [result],
            "back-matter": {"resources": [resource]}
        }
    })
}

/// The component-definition document of a policy set.
pub fn component_definition(policies: &[PolicySummary], digest: &str, generated: &str) -> Value {
    let mut by_criterion: BTreeMap<String, Vec<&PolicySummary>> = BTreeMap::new();
    for p in policies {
        for c in &p.soc2 {
            by_criterion.entry(c.clone()).or_default().push(p);
        }
    }
    let mut ids: Vec<&String> = by_criterion.keys().collect();
    ids.sort_by_key(|id| soc2::order(id));
    let requirements: Vec<Value> = ids
        .into_iter()
        .map(|id| {
            let ps = &by_criterion[id];
            let names: Vec<&str> = ps.iter().map(|p| p.name.as_str()).collect();
            json!({
                "uuid": uuid(&[digest, "requirement", id]),
                "control-id": id,
                "description": format!("{} ({}) is evidenced by {} Palisade polic{}: {}.", id, soc2::title(id), ps.len(), if ps.len() == 1 { "y" } else { "ies" }, names.join(", ")),
                "props": ps.iter().map(|p| prop("policy", &text(&p.name))).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut component = json!({
        "uuid": uuid(&[digest, "component"]),
        "type": "validation",
        "title": "Palisade policies",
        "description": format!("{} Palisade policies (set {digest}) evaluated over Kubernetes workloads, images and runtime events; each cites the SOC 2 criteria it evidences.", policies.len()),
        "props": [prop("policy-set", digest)],
    });
    if !requirements.is_empty()
        && let Some(obj) = component.as_object_mut()
    {
        obj.insert(
            "control-implementations".into(),
            json!([{
                "uuid": uuid(&[digest, "implementation"]),
                "source": SOC2_SOURCE,
                "description": "SOC 2 Trust Services Criteria (2017, points of focus revised 2022).",
                "implemented-requirements": requirements,
            }]),
        );
    }
    json!({
        "component-definition": {
            "uuid": uuid(&[digest, "component-definition"]),
            "metadata": {
                "title": "Palisade policies and the SOC 2 criteria they implement",
                "last-modified": generated,
                "version": "1",
                "oscal-version": OSCAL_VERSION,
            },
            "components": [component]
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_version_5_shaped_and_stable() {
        let a = uuid(&["x", "y"]);
        assert_eq!(a, uuid(&["x", "y"]));
        assert_ne!(a, uuid(&["xy"]));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "5");
        assert!("89ab".contains(&a[19..20]));
    }
}
