//! OpenReports (`openreports.io/v1alpha1`, the successor of the wgpolicyk8s.io
//! PolicyReport): a `Report` per namespace and a `ClusterReport` for records without one,
//! in a `List`, so dashboards that read them show Palisade's results. Each violation open
//! at the end of the period is a `fail` result; each exception in force at the end is a
//! `skip` result with its reason.

use crate::period::{Finding, Period};
use chrono::DateTime;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The API version written.
pub const API_VERSION: &str = "openreports.io/v1alpha1";

fn timestamp(time: &str) -> Value {
    let (seconds, nanos) = DateTime::parse_from_rfc3339(time)
        .map(|t| (t.timestamp(), t.timestamp_subsec_nanos()))
        .unwrap_or((0, 0));
    json!({"seconds": seconds, "nanos": nanos})
}

/// The Kubernetes kind shown for a record kind (`deployment` -> `Deployment`).
fn kind_of(record_kind: &str) -> String {
    record_kind
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn resource(kind: &str, name: Option<&str>, id: &str, namespace: Option<&str>) -> Value {
    let mut r = Map::new();
    r.insert("kind".into(), kind_of(kind).into());
    r.insert("name".into(), name.unwrap_or(id).into());
    r.insert("uid".into(), id.into());
    if let Some(ns) = namespace {
        r.insert("namespace".into(), ns.into());
    }
    Value::Object(r)
}

fn fail(f: &Finding) -> Value {
    json!({
        "source": "palisade",
        "policy": f.policy,
        "result": "fail",
        "severity": f.severity,
        "scored": true,
        "category": format!("SOC 2 {}", f.soc2.join(", ")),
        "message": f.messages.join("; "),
        "timestamp": timestamp(&f.time),
        "properties": {
            "soc2": f.soc2.join(","),
            "recordDigest": f.record_digest,
            "evidence": f.evidence,
            "origin": f.source,
        },
        "resources": [resource(&f.record.kind, f.record.name.as_deref(), &f.record.id, f.record.namespace.as_deref())],
    })
}

/// The reports of a period, as a `List`.
pub fn reports(period: &Period) -> Value {
    // Namespace ("" for cluster scope) -> results.
    let mut results: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut counts: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for f in &period.open_violations {
        let ns = f.record.namespace.clone().unwrap_or_default();
        results.entry(ns.clone()).or_default().push(fail(f));
        counts.entry(ns).or_default().0 += 1;
    }
    for e in period.exceptions.iter().filter(|e| !e.expired) {
        let ns = e.record.namespace.clone().unwrap_or_default();
        let mut properties = json!({
            "soc2": e.soc2.join(","),
            "reason": e.reason,
            "suppressed": e.count.to_string(),
        });
        if let (Some(x), Some(obj)) = (&e.expires, properties.as_object_mut()) {
            obj.insert("expires".into(), x.clone().into());
        }
        results.entry(ns.clone()).or_default().push(json!({
            "source": "palisade",
            "policy": e.policy,
            "result": "skip",
            "severity": e.severity,
            "category": format!("SOC 2 {}", e.soc2.join(", ")),
            "message": format!("excluded: {}", e.reason),
            "timestamp": timestamp(&e.last_seen),
            "properties": properties,
            "resources": [resource(&e.record.kind, e.record.name.as_deref(), &e.record.id, e.record.namespace.as_deref())],
        }));
        counts.entry(ns).or_default().1 += 1;
    }
    let labels = json!({
        "app.kubernetes.io/managed-by": "palisade",
        "palisade.dev/period-end": period.to.get(..10).unwrap_or(""),
    });
    let annotations = json!({
        "palisade.dev/period": format!("{}/{}", period.from, period.to),
        "palisade.dev/evidence-logs": period.logs.iter().map(|l| l.log_id.as_str()).collect::<Vec<_>>().join(","),
    });
    let items: Vec<Value> = results
        .into_iter()
        .map(|(ns, results)| {
            let (fails, skips) = counts.get(&ns).copied().unwrap_or_default();
            let summary = json!({"pass": 0, "fail": fails, "warn": 0, "error": 0, "skip": skips});
            if ns.is_empty() {
                json!({
                    "apiVersion": API_VERSION,
                    "kind": "ClusterReport",
                    "metadata": {"name": "palisade-cluster", "labels": labels, "annotations": annotations},
                    "source": "palisade",
                    "summary": summary,
                    "results": results,
                })
            } else {
                json!({
                    "apiVersion": API_VERSION,
                    "kind": "Report",
                    "metadata": {"name": "palisade", "namespace": ns, "labels": labels, "annotations": annotations},
                    "source": "palisade",
                    "scope": {"kind": "Namespace", "name": ns},
                    "summary": summary,
                    "results": results,
                })
            }
        })
        .collect();
    json!({"apiVersion": "v1", "kind": "List", "items": items})
}
