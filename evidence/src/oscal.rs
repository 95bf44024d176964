//! NIST OSCAL 1.1 documents: the assessment results of a report period (reviewed controls =
//! the SOC 2 criteria, a finding per criterion, an observation per violation carrying the
//! record digest) and the component definition of a policy set (which policy implements
//! which criterion), so GRC tools import both.
//!
//! The documents are serialized straight from the period (observations are made one at a
//! time as they are written), so a period of 100,000 violations does not hold a second copy
//! of itself in memory. UUIDs are derived from the content (SHA-256, shaped as version 5
//! UUIDs): the same input gives the same document.

use crate::entry::PolicySummary;
use crate::period::{Criterion, Finding, Period};
use crate::soc2;
use serde::Serialize;
use serde::ser::{SerializeSeq, Serializer};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
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

/// An OSCAL property in Palisade's namespace.
#[derive(Serialize)]
struct Prop<'a> {
    name: &'static str,
    value: Cow<'a, str>,
    ns: &'static str,
}

/// OSCAL's string values may not be empty or start or end with white space.
fn text(s: &str) -> Cow<'_, str> {
    let t = s.trim();
    if t.is_empty() {
        Cow::Borrowed("-")
    } else {
        Cow::Borrowed(t)
    }
}

fn prop<'a>(name: &'static str, value: Cow<'a, str>) -> Prop<'a> {
    Prop {
        name,
        value,
        ns: NS,
    }
}

#[derive(Serialize)]
struct Metadata {
    title: String,
    #[serde(rename = "last-modified")]
    last_modified: String,
    version: &'static str,
    #[serde(rename = "oscal-version")]
    oscal_version: &'static str,
}

#[derive(Serialize)]
struct Evidence {
    description: String,
}

#[derive(Serialize)]
struct Observation<'a> {
    uuid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    description: String,
    props: Vec<Prop<'a>>,
    methods: [&'static str; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    types: Option<[&'static str; 1]>,
    collected: &'a str,
    #[serde(rename = "relevant-evidence", skip_serializing_if = "Option::is_none")]
    relevant_evidence: Option<[Evidence; 1]>,
}

/// The identity of a period: the base of every UUID of its document.
fn period_key(period: &Period) -> String {
    let logs: Vec<&str> = period.logs.iter().map(|l| l.log_id.as_str()).collect();
    format!("{}|{}|{}", period.from, period.to, logs.join(","))
}

fn violation_uuid(key: &str, f: &Finding) -> String {
    uuid(&[key, "violation", &f.evidence])
}

fn violation_observation<'a>(key: &str, f: &'a Finding) -> Observation<'a> {
    let mut props = vec![
        prop("policy", text(&f.policy)),
        prop("severity", text(&f.severity)),
        prop("record-kind", text(&f.record.kind)),
        prop("record-id", text(&f.record.id)),
        prop("record-digest", text(&f.record_digest)),
        prop("evidence-entry", text(&f.evidence)),
        prop("source", text(&f.source)),
    ];
    if let Some(n) = &f.record.name {
        props.push(prop("record-name", text(n)));
    }
    if let Some(n) = &f.record.namespace {
        props.push(prop("record-namespace", text(n)));
    }
    for c in &f.soc2 {
        props.push(prop("soc2-criterion", text(c)));
    }
    let record = f.record.name.as_deref().unwrap_or(&f.record.id);
    Observation {
        uuid: violation_uuid(key, f),
        title: Some(format!("{}: {}", f.policy, record)),
        description: format!(
            "{} violated by {}: {}",
            f.policy,
            f.record.label(),
            if f.messages.is_empty() {
                "-".to_string()
            } else {
                f.messages.join("; ")
            }
        ),
        props,
        methods: ["TEST"],
        types: Some(["finding"]),
        collected: &f.time,
        relevant_evidence: Some([Evidence {
            description: format!(
                "Palisade evidence log entry {} (record {})",
                f.evidence, f.record_digest
            ),
        }]),
    }
}

fn criterion_observation<'a>(key: &str, period: &'a Period, c: &'a Criterion) -> Observation<'a> {
    Observation {
        uuid: uuid(&[key, "criterion", &c.id]),
        title: Some(format!("{} evaluations", c.id)),
        description: format!(
            "{} evaluation(s) between {} and {} with {} in force: {} violation(s), {} open at the end, {} suppressed by exclusions.",
            c.evaluations,
            period.from,
            period.to,
            if c.controls.is_empty() {
                "no policy citing it".to_string()
            } else {
                c.controls.join(", ")
            },
            c.violations,
            c.open,
            c.exceptions
        ),
        props: vec![
            prop("soc2-criterion", text(&c.id)),
            prop("evaluations", Cow::Owned(c.evaluations.to_string())),
        ],
        methods: ["TEST"],
        types: None,
        collected: &period.generated,
        relevant_evidence: None,
    }
}

/// Every observation: one per violation of the period, then one per criterion.
struct Observations<'a> {
    key: &'a str,
    period: &'a Period,
}

impl Serialize for Observations<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.period;
        let mut seq = s.serialize_seq(Some(p.violations.len() + p.criteria.len()))?;
        for f in &p.violations {
            seq.serialize_element(&violation_observation(self.key, f))?;
        }
        for c in &p.criteria {
            seq.serialize_element(&criterion_observation(self.key, p, c))?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct Status {
    state: &'static str,
    remarks: &'static str,
}

#[derive(Serialize)]
struct Target {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "target-id")]
    target_id: String,
    status: Status,
}

#[derive(Serialize)]
struct Related {
    #[serde(rename = "observation-uuid")]
    observation_uuid: String,
}

/// A criterion's related observations: its summary, then its violations open at the end.
struct RelatedObservations<'a> {
    key: &'a str,
    period: &'a Period,
    criterion: &'a Criterion,
}

impl Serialize for RelatedObservations<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        seq.serialize_element(&Related {
            observation_uuid: uuid(&[self.key, "criterion", &self.criterion.id]),
        })?;
        for f in self
            .period
            .open_violations
            .iter()
            .filter(|f| f.soc2.contains(&self.criterion.id))
        {
            seq.serialize_element(&Related {
                observation_uuid: violation_uuid(self.key, f),
            })?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct OscalFinding<'a> {
    uuid: String,
    title: String,
    description: String,
    props: [Prop<'a>; 1],
    target: Target,
    #[serde(rename = "related-observations")]
    related_observations: RelatedObservations<'a>,
}

fn finding<'a>(key: &'a str, period: &'a Period, c: &'a Criterion) -> OscalFinding<'a> {
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
    OscalFinding {
        uuid: uuid(&[key, "finding", &c.id]),
        title: format!("{} {}", c.id, c.title),
        description: format!("{} ({}): {}", c.id, c.principle, remarks),
        props: [prop("status", text(&c.status))],
        target: Target {
            kind: "objective-id",
            target_id: c.id.clone(),
            status: Status { state, remarks },
        },
        related_observations: RelatedObservations {
            key,
            period,
            criterion: c,
        },
    }
}

#[derive(Serialize)]
struct ControlId<'a> {
    #[serde(rename = "control-id")]
    control_id: &'a str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Selection<'a> {
    Include {
        #[serde(rename = "include-controls")]
        include_controls: Vec<ControlId<'a>>,
    },
    All {
        #[serde(rename = "include-all")]
        include_all: BTreeMap<(), ()>,
    },
}

#[derive(Serialize)]
struct Reviewed<'a> {
    description: &'static str,
    #[serde(rename = "control-selections")]
    control_selections: [Selection<'a>; 1],
}

#[derive(Serialize)]
struct AssessmentResult<'a> {
    uuid: String,
    title: String,
    description: String,
    start: &'a str,
    end: &'a str,
    #[serde(rename = "reviewed-controls")]
    reviewed_controls: Reviewed<'a>,
    observations: Observations<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    findings: Vec<OscalFinding<'a>>,
}

#[derive(Serialize)]
struct Href {
    href: String,
}

#[derive(Serialize)]
struct Resource<'a> {
    uuid: String,
    title: &'static str,
    description: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    props: Vec<Prop<'a>>,
}

#[derive(Serialize)]
struct BackMatter<'a> {
    resources: [Resource<'a>; 1],
}

#[derive(Serialize)]
struct AssessmentResultsBody<'a> {
    uuid: String,
    metadata: Metadata,
    #[serde(rename = "import-ap")]
    import_ap: Href,
    results: [AssessmentResult<'a>; 1],
    #[serde(rename = "back-matter")]
    back_matter: BackMatter<'a>,
}

/// An OSCAL `assessment-results` document.
#[derive(Serialize)]
struct AssessmentResults<'a> {
    #[serde(rename = "assessment-results")]
    body: AssessmentResultsBody<'a>,
}

/// The assessment-results document of a period, its UUIDs derived from `key`.
fn document<'a>(period: &'a Period, key: &'a str) -> AssessmentResults<'a> {
    let logs_resource = uuid(&[key, "logs"]);
    let selection = if period.criteria.is_empty() {
        Selection::All {
            include_all: BTreeMap::new(),
        }
    } else {
        Selection::Include {
            include_controls: period
                .criteria
                .iter()
                .map(|c| ControlId { control_id: &c.id })
                .collect(),
        }
    };
    let result = AssessmentResult {
        uuid: uuid(&[key, "result"]),
        title: format!("SOC 2 evidence, {} to {}", period.from, period.to),
        description: format!(
            "Policies evaluated by Palisade between {} and {}: {} evaluation(s) of {} record(s), {} violation(s), {} open at the end, {} exception(s), {} gap(s) longer than {} hours without an evaluation.",
            period.from,
            period.to,
            period.totals.evaluations,
            period.totals.records,
            period.totals.violations,
            period.totals.open,
            period.totals.exceptions,
            period.gaps.len(),
            period.max_gap_hours
        ),
        start: &period.from,
        end: &period.to,
        reviewed_controls: Reviewed {
            description: "The SOC 2 Trust Services Criteria cited by the policies in force.",
            control_selections: [selection],
        },
        observations: Observations { key, period },
        findings: period
            .criteria
            .iter()
            .map(|c| finding(key, period, c))
            .collect(),
    };
    let log_props = period
        .logs
        .iter()
        .flat_map(|l| {
            [
                prop("evidence-log", text(&l.log_id)),
                prop("evidence-log-entries", Cow::Owned(l.entries.to_string())),
            ]
        })
        .collect();
    AssessmentResults {
        body: AssessmentResultsBody {
            uuid: uuid(&[key, "assessment-results"]),
            metadata: Metadata {
                title: format!(
                    "Palisade SOC 2 assessment results, {} to {}",
                    period.from, period.to
                ),
                last_modified: period.generated.clone(),
                version: "1",
                oscal_version: OSCAL_VERSION,
            },
            import_ap: Href {
                href: format!("#{logs_resource}"),
            },
            results: [result],
            back_matter: BackMatter {
                resources: [Resource {
                    uuid: logs_resource,
                    title: "Palisade evidence logs",
                    description: "The signed, hash-chained evidence logs this assessment was read from; `palisade evidence verify` checks them with the public key.",
                    props: log_props,
                }],
            },
        },
    }
}

/// Writes the assessment-results document of a period as pretty JSON.
pub fn write_assessment_results(
    period: &Period,
    out: impl std::io::Write,
) -> serde_json::Result<()> {
    let key = period_key(period);
    serde_json::to_writer_pretty(out, &document(period, &key))
}

/// The assessment-results document of a period as a JSON value (for hosts that post-process
/// it; [`write_assessment_results`] streams it instead).
pub fn assessment_results(period: &Period) -> serde_json::Result<serde_json::Value> {
    let key = period_key(period);
    serde_json::to_value(document(period, &key))
}

/// The component-definition document of a policy set.
pub fn component_definition(
    policies: &[PolicySummary],
    digest: &str,
    generated: &str,
) -> serde_json::Value {
    let mut by_criterion: BTreeMap<String, Vec<&PolicySummary>> = BTreeMap::new();
    for p in policies {
        for c in &p.soc2 {
            by_criterion.entry(c.clone()).or_default().push(p);
        }
    }
    let mut ids: Vec<&String> = by_criterion.keys().collect();
    ids.sort_by_key(|id| soc2::order(id));
    let requirements: Vec<serde_json::Value> = ids
        .into_iter()
        .map(|id| {
            let ps = &by_criterion[id];
            let names: Vec<&str> = ps.iter().map(|p| p.name.as_str()).collect();
            serde_json::json!({
                "uuid": uuid(&[digest, "requirement", id]),
                "control-id": id,
                "description": format!("{} ({}) is evidenced by {} Palisade polic{}: {}.", id, soc2::title(id), ps.len(), if ps.len() == 1 { "y" } else { "ies" }, names.join(", ")),
                "props": ps.iter().map(|p| prop("policy", text(&p.name))).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut component = serde_json::json!({
        "uuid": uuid(&[digest, "component"]),
        "type": "validation",
        "title": "Palisade policies",
        "description": format!("{} Palisade policies (set {digest}) evaluated over Kubernetes workloads, images and runtime events; each cites the SOC 2 criteria it evidences.", policies.len()),
        "props": [prop("policy-set", text(digest))],
    });
    if !requirements.is_empty()
        && let Some(obj) = component.as_object_mut()
    {
        obj.insert(
            "control-implementations".into(),
            serde_json::json!([{
                "uuid": uuid(&[digest, "implementation"]),
                "source": SOC2_SOURCE,
                "description": "SOC 2 Trust Services Criteria (2017, points of focus revised 2022).",
                "implemented-requirements": requirements,
            }]),
        );
    }
    serde_json::json!({
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
