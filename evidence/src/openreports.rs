//! OpenReports (`openreports.io/v1alpha1`, the successor of the wgpolicyk8s.io
//! PolicyReport): a `Report` per namespace and a `ClusterReport` for records without one,
//! in a `List`, so dashboards that read them show Palisade's results. Each violation open
//! at the end of the period is a `fail` result; each exception in force at the end is a
//! `skip` result with its reason. Serialized straight from the period, a result at a time.

use crate::entry::RecordRef;
use crate::period::{Exception, Finding, Period};
use chrono::DateTime;
use serde::Serialize;
use serde::ser::{SerializeSeq, Serializer};
use std::collections::BTreeMap;

/// The API version written.
pub const API_VERSION: &str = "openreports.io/v1alpha1";

#[derive(Serialize)]
struct Timestamp {
    seconds: i64,
    nanos: u32,
}

fn timestamp(time: &str) -> Timestamp {
    let (seconds, nanos) = DateTime::parse_from_rfc3339(time)
        .map(|t| (t.timestamp(), t.timestamp_subsec_nanos()))
        .unwrap_or((0, 0));
    Timestamp { seconds, nanos }
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

#[derive(Serialize)]
struct Resource<'a> {
    kind: String,
    name: &'a str,
    uid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
}

fn resource(r: &RecordRef) -> [Resource<'_>; 1] {
    [Resource {
        kind: kind_of(&r.kind),
        name: r.name.as_deref().unwrap_or(&r.id),
        uid: &r.id,
        namespace: r.namespace.as_deref(),
    }]
}

#[derive(Serialize)]
struct Properties<'a> {
    soc2: String,
    #[serde(rename = "recordDigest", skip_serializing_if = "Option::is_none")]
    record_digest: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    evidence: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    origin: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    suppressed: Option<String>,
}

#[derive(Serialize)]
struct ReportResult<'a> {
    source: &'static str,
    policy: &'a str,
    result: &'static str,
    severity: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    scored: Option<bool>,
    category: String,
    message: String,
    timestamp: Timestamp,
    properties: Properties<'a>,
    resources: [Resource<'a>; 1],
}

fn fail(f: &Finding) -> ReportResult<'_> {
    ReportResult {
        source: "palisade",
        policy: &f.policy,
        result: "fail",
        severity: &f.severity,
        scored: Some(true),
        category: format!("SOC 2 {}", f.soc2.join(", ")),
        message: f.messages.join("; "),
        timestamp: timestamp(&f.time),
        properties: Properties {
            soc2: f.soc2.join(","),
            record_digest: Some(&f.record_digest),
            evidence: Some(&f.evidence),
            origin: Some(&f.source),
            reason: None,
            expires: None,
            suppressed: None,
        },
        resources: resource(&f.record),
    }
}

fn skip(e: &Exception) -> ReportResult<'_> {
    ReportResult {
        source: "palisade",
        policy: &e.policy,
        result: "skip",
        severity: &e.severity,
        scored: None,
        category: format!("SOC 2 {}", e.soc2.join(", ")),
        message: format!("excluded: {}", e.reason),
        timestamp: timestamp(&e.last_seen),
        properties: Properties {
            soc2: e.soc2.join(","),
            record_digest: None,
            evidence: None,
            origin: None,
            reason: Some(&e.reason),
            expires: e.expires.as_deref(),
            suppressed: Some(e.count.to_string()),
        },
        resources: resource(&e.record),
    }
}

/// The results of one namespace: its open violations, then its exceptions in force.
struct Results<'a> {
    fails: Vec<&'a Finding>,
    skips: Vec<&'a Exception>,
}

impl Serialize for Results<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.fails.len() + self.skips.len()))?;
        for f in &self.fails {
            seq.serialize_element(&fail(f))?;
        }
        for e in &self.skips {
            seq.serialize_element(&skip(e))?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct Summary {
    pass: u64,
    fail: u64,
    warn: u64,
    error: u64,
    skip: u64,
}

#[derive(Serialize)]
struct Labels<'a> {
    #[serde(rename = "app.kubernetes.io/managed-by")]
    managed_by: &'static str,
    #[serde(rename = "palisade.dev/period-end")]
    period_end: &'a str,
}

#[derive(Serialize)]
struct Annotations {
    #[serde(rename = "palisade.dev/period")]
    period: String,
    #[serde(rename = "palisade.dev/evidence-logs")]
    logs: String,
}

#[derive(Serialize)]
struct Metadata<'a> {
    name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
    labels: &'a Labels<'a>,
    annotations: &'a Annotations,
}

#[derive(Serialize)]
struct Scope<'a> {
    kind: &'static str,
    name: &'a str,
}

#[derive(Serialize)]
struct Report<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata<'a>,
    source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<Scope<'a>>,
    summary: Summary,
    results: Results<'a>,
}

#[derive(Serialize)]
struct List<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    items: Vec<Report<'a>>,
}

fn build<'a>(period: &'a Period, labels: &'a Labels<'a>, annotations: &'a Annotations) -> List<'a> {
    // Namespace ("" for cluster scope) -> its results.
    let mut groups: BTreeMap<&str, Results<'a>> = BTreeMap::new();
    for f in &period.open_violations {
        groups
            .entry(f.record.namespace.as_deref().unwrap_or(""))
            .or_insert_with(|| Results {
                fails: Vec::new(),
                skips: Vec::new(),
            })
            .fails
            .push(f);
    }
    for e in period.exceptions.iter().filter(|e| !e.expired) {
        groups
            .entry(e.record.namespace.as_deref().unwrap_or(""))
            .or_insert_with(|| Results {
                fails: Vec::new(),
                skips: Vec::new(),
            })
            .skips
            .push(e);
    }
    let items = groups
        .into_iter()
        .map(|(ns, results)| {
            let summary = Summary {
                pass: 0,
                fail: results.fails.len() as u64,
                warn: 0,
                error: 0,
                skip: results.skips.len() as u64,
            };
            let cluster = ns.is_empty();
            Report {
                api_version: API_VERSION,
                kind: if cluster { "ClusterReport" } else { "Report" },
                metadata: Metadata {
                    name: if cluster {
                        "palisade-cluster"
                    } else {
                        "palisade"
                    },
                    namespace: (!cluster).then_some(ns),
                    labels,
                    annotations,
                },
                source: "palisade",
                scope: (!cluster).then_some(Scope {
                    kind: "Namespace",
                    name: ns,
                }),
                summary,
                results,
            }
        })
        .collect();
    List {
        api_version: "v1",
        kind: "List",
        items,
    }
}

fn labels_of(period: &Period) -> (Labels<'_>, Annotations) {
    (
        Labels {
            managed_by: "palisade",
            period_end: period.to.get(..10).unwrap_or(""),
        },
        Annotations {
            period: format!("{}/{}", period.from, period.to),
            logs: period
                .logs
                .iter()
                .map(|l| l.log_id.as_str())
                .collect::<Vec<_>>()
                .join(","),
        },
    )
}

/// Writes the reports of a period, as a `List`, as pretty JSON.
pub fn write_reports(period: &Period, out: impl std::io::Write) -> serde_json::Result<()> {
    let (labels, annotations) = labels_of(period);
    serde_json::to_writer_pretty(out, &build(period, &labels, &annotations))
}

/// The reports of a period as a JSON value ([`write_reports`] streams them instead).
pub fn reports(period: &Period) -> serde_json::Result<serde_json::Value> {
    let (labels, annotations) = labels_of(period);
    serde_json::to_value(build(period, &labels, &annotations))
}
