//! Real-world inputs to records (records.md v1): Kubernetes manifests (YAML or JSON,
//! multi-document, `List`), Trivy and Grype reports, Falco alerts, Tetragon events and
//! AdmissionReviews. The format is detected from content ([`sniff`], [`convert`]).

mod k8s;
mod quantity;
mod runtime;
mod scanners;

use serde_json::{Value, json};
use std::collections::BTreeMap;

pub use scanners::dockerfile_line;

/// Input formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// records.md JSON (read by the engine's streaming reader).
    Records,
    /// Kubernetes manifests.
    Kubernetes,
    /// Trivy JSON report.
    Trivy,
    /// Grype JSON report.
    Grype,
    /// Falco JSON alerts.
    Falco,
    /// Tetragon JSON events.
    Tetragon,
    /// Kubernetes AdmissionReview (or a bare AdmissionRequest).
    Admission,
}

impl Format {
    /// A short name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Format::Records => "records",
            Format::Kubernetes => "Kubernetes manifests",
            Format::Trivy => "Trivy report",
            Format::Grype => "Grype report",
            Format::Falco => "Falco alerts",
            Format::Tetragon => "Tetragon events",
            Format::Admission => "AdmissionReview",
        }
    }
}

/// What a conversion produced.
#[derive(Debug, Default)]
pub struct Converted {
    /// Records in records.md JSON.
    pub records: Vec<Value>,
    /// Objects or events not turned into records, counted by kind.
    pub skipped: BTreeMap<String, usize>,
    /// The detected format.
    pub format: Option<Format>,
}

/// Why an input could not be converted.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AdapterError {
    /// Malformed YAML or JSON, with a 1-based position.
    #[error("{line}:{column}: {message}")]
    Syntax {
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// Well-formed, but not any supported format.
    #[error("{0}")]
    Unrecognized(String),
}

const RECORD_KINDS: [&str; 6] = [
    "deployment",
    "image",
    "process",
    "kube_event",
    "network_flow",
    "baseline",
];

/// Whether the start of an input is records.md JSON (so the streaming reader can take it):
/// the first `"kind"` value is a record kind.
pub fn sniff(prefix: &str) -> bool {
    let trimmed = prefix.trim_start_matches('\u{feff}').trim_start();
    if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
        return false;
    }
    let Some(i) = trimmed.find("\"kind\"") else {
        return false;
    };
    let rest = trimmed[i + 6..].trim_start();
    let Some(rest) = rest.strip_prefix(':') else {
        return false;
    };
    let rest = rest.trim_start();
    let Some(rest) = rest.strip_prefix('"') else {
        return false;
    };
    let word: String = rest.chars().take_while(|c| *c != '"').collect();
    RECORD_KINDS.contains(&word.as_str())
}

/// A parser message without its " at line L column C" (the position is reported separately),
/// wherever the parser put it.
fn strip_position(msg: &str) -> String {
    let Some(i) = msg.find(" at line ") else {
        return msg.to_string();
    };
    let rest = &msg[i + " at line ".len()..];
    let digits = |s: &str| s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let mut end = digits(rest);
    if let Some(col) = rest[end..].strip_prefix(" column ") {
        end += " column ".len() + digits(col);
    }
    format!("{}{}", &msg[..i], &rest[end..])
}

fn json_error(e: &serde_json::Error) -> AdapterError {
    let msg = strip_position(&e.to_string());
    AdapterError::Syntax {
        line: e.line(),
        column: e.column(),
        message: format!("invalid JSON: {msg}"),
    }
}

/// Parses JSON text as one value, or as a sequence of values (JSON Lines, concatenated objects).
fn json_values(text: &str) -> Result<Vec<Value>, AdapterError> {
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return Ok(vec![v]);
    }
    let mut out = Vec::new();
    for v in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
        out.push(v.map_err(|e| json_error(&e))?);
    }
    Ok(out)
}

fn yaml_values(text: &str) -> Result<Vec<Value>, AdapterError> {
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        let v: Value = serde::Deserialize::deserialize(doc).map_err(|e| {
            let (line, column) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((0, 0));
            let msg = strip_position(&e.to_string());
            AdapterError::Syntax {
                line,
                column,
                message: format!("invalid YAML: {msg}"),
            }
        })?;
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(out)
}

fn classify(v: &Value) -> Option<Format> {
    if let Some(items) = v.as_array() {
        let first = items.first()?;
        if first.get("Target").is_some()
            && (first.get("Vulnerabilities").is_some() || first.get("Type").is_some())
        {
            return Some(Format::Trivy);
        }
        return classify(first);
    }
    let kind = v.get("kind").and_then(Value::as_str);
    // Record kinds are lower case (Kubernetes kinds are not): an unknown one is a bad record.
    if kind.is_some_and(|k| {
        RECORD_KINDS.contains(&k) || k.starts_with(|c: char| c.is_ascii_lowercase())
    }) {
        return Some(Format::Records);
    }
    if kind == Some("AdmissionReview")
        || (v.get("operation").is_some()
            && v.get("uid").is_some()
            && (v.get("object").is_some() || v.get("kind").is_some_and(Value::is_object)))
    {
        return Some(Format::Admission);
    }
    if v.get("SchemaVersion").is_some()
        || v.get("ArtifactName").is_some()
        || v.get("ClusterName").is_some()
    {
        return Some(Format::Trivy);
    }
    if v.get("matches").is_some() && (v.get("source").is_some() || v.get("descriptor").is_some()) {
        return Some(Format::Grype);
    }
    if v.as_object()
        .is_some_and(|m| m.keys().any(|k| k.starts_with("process_")))
    {
        return Some(Format::Tetragon);
    }
    if v.get("output_fields").is_some() || (v.get("rule").is_some() && v.get("priority").is_some())
    {
        return Some(Format::Falco);
    }
    if kind.is_some() && v.get("apiVersion").is_some() {
        return Some(Format::Kubernetes);
    }
    None
}

/// Detects the format of `text` and converts it. Records.md JSON comes back unchanged
/// (as values) with format [`Format::Records`].
pub fn convert(text: &str) -> Result<Converted, AdapterError> {
    let text = text.trim_start_matches('\u{feff}');
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Err(AdapterError::Unrecognized("empty input".into()));
    }
    let values = if trimmed.starts_with('{') || trimmed.starts_with('[') {
        match json_values(text) {
            Ok(v) => v,
            // Not JSON: maybe a YAML flow mapping; report the JSON error if YAML fails too.
            Err(json_err) => yaml_values(text).map_err(|_| json_err)?,
        }
    } else {
        yaml_values(text)?
    };
    // A Kubernetes object must say its apiVersion; `api_version` and friends are not Kubernetes.
    if let Some(bad) = values.iter().find(|v| {
        v.get("kind")
            .and_then(Value::as_str)
            .is_some_and(|k| k.starts_with(char::is_uppercase))
            && v.get("apiVersion").is_none()
            && v.get("metadata").is_some()
    }) {
        let hint = bad.as_object().and_then(|m| {
            m.keys()
                .find(|k| {
                    k.eq_ignore_ascii_case("api_version") || k.eq_ignore_ascii_case("apiversion")
                })
                .cloned()
        });
        return Err(AdapterError::Unrecognized(match hint {
            Some(k) => format!(
                "a Kubernetes object without `apiVersion` (found `{k}`: Kubernetes spells it `apiVersion`)"
            ),
            None => "a Kubernetes object without `apiVersion`".into(),
        }));
    }
    let Some(format) = values.iter().find_map(classify) else {
        return Err(AdapterError::Unrecognized(
            "not a recognized input: expected records (records.md), Kubernetes manifests, a Trivy or Grype report, Falco or Tetragon JSON, or an AdmissionReview".into(),
        ));
    };
    let mut out = Converted {
        format: Some(format),
        ..Default::default()
    };
    match format {
        Format::Records => {
            for v in values {
                match v {
                    Value::Array(items) => out.records.extend(items),
                    other => out.records.push(other),
                }
            }
        }
        Format::Kubernetes => kubernetes(values, &mut out),
        Format::Trivy => values
            .iter()
            .for_each(|v| out.records.extend(scanners::trivy(v))),
        Format::Grype => values
            .iter()
            .for_each(|v| out.records.extend(scanners::grype(v))),
        Format::Falco => {
            for (i, v) in events(&values).enumerate() {
                match runtime::falco(v, i + 1) {
                    Some(p) => out.records.push(p),
                    None => {
                        *out.skipped
                            .entry("Falco internal event".into())
                            .or_default() += 1
                    }
                }
            }
        }
        Format::Tetragon => {
            for (i, v) in events(&values).enumerate() {
                match runtime::tetragon(v, i + 1) {
                    Ok(p) => out.records.push(p),
                    Err(kind) => *out.skipped.entry(kind).or_default() += 1,
                }
            }
        }
        Format::Admission => {
            for v in &values {
                admission(v, &mut out);
            }
        }
    }
    if format != Format::Records {
        out.records.iter_mut().for_each(integral_numbers);
    }
    Ok(out)
}

/// Writes whole floats as integers (`8080`, not `8080.0`) in converted records.
fn integral_numbers(v: &mut Value) {
    match v {
        Value::Number(n) => {
            if let Some(f) = n
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9e15 && !n.is_i64() && !n.is_u64())
            {
                *v = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        Value::Object(m) => m.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

/// Events of JSON Lines, concatenated objects, or arrays of them, in order.
fn events(values: &[Value]) -> impl Iterator<Item = &Value> {
    values.iter().flat_map(|v| match v.as_array() {
        Some(items) => items.iter().collect::<Vec<_>>(),
        None => vec![v],
    })
}

/// Flattens `List` objects; returns the objects in order.
fn flatten(values: Vec<Value>) -> Vec<Value> {
    let mut out = Vec::new();
    for v in values {
        match v {
            Value::Array(items) => out.extend(flatten(items)),
            v if v
                .get("kind")
                .and_then(Value::as_str)
                .is_some_and(|k| k == "List" || k.ends_with("List"))
                && v.get("items").is_some() =>
            {
                out.extend(flatten(
                    v.get("items")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                ));
            }
            v => out.push(v),
        }
    }
    out
}

fn kubernetes(values: Vec<Value>, out: &mut Converted) {
    let objects = flatten(values);
    let mut deployments = Vec::new();
    let mut services = Vec::new();
    let mut routes = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        let kind = o.get("kind").and_then(Value::as_str).unwrap_or("(no kind)");
        if k8s::is_workload(o)
            && let Some(d) = k8s::workload(o, i)
        {
            deployments.push(d);
            continue;
        }
        match kind {
            "Service" => services.push(o.clone()),
            "Route" => routes.push(o.clone()),
            _ => {}
        }
        *out.skipped.entry(kind.to_string()).or_default() += 1;
    }
    k8s::expose(&mut deployments, &services, &routes);
    out.records.extend(deployments);
}

/// The strings of a JSON array (other elements as their JSON text).
fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| x.to_string())
                })
                .collect()
        })
        .unwrap_or_default()
}

fn admission(v: &Value, out: &mut Converted) {
    let request = if v.get("kind").and_then(Value::as_str) == Some("AdmissionReview") {
        v.get("request").cloned().unwrap_or(Value::Null)
    } else {
        v.clone()
    };
    let operation = request
        .get("operation")
        .and_then(Value::as_str)
        .unwrap_or("");
    let sub = request
        .get("subResource")
        .and_then(Value::as_str)
        .unwrap_or("");
    let namespace = request.get("namespace").and_then(Value::as_str);
    let uid = request
        .get("uid")
        .and_then(Value::as_str)
        .unwrap_or("admission")
        .to_string();
    match operation {
        "CREATE" | "UPDATE" => {
            let mut object = request.get("object").cloned().unwrap_or(Value::Null);
            if object.get("kind").is_none()
                && let Some(k) = request.get("kind").and_then(|k| k.get("kind")).cloned()
            {
                object["kind"] = k;
            }
            if object
                .get("metadata")
                .and_then(|m| m.get("namespace"))
                .is_none()
                && let (Some(ns), Some(meta)) = (namespace, object.get_mut("metadata"))
            {
                meta["namespace"] = json!(ns);
            }
            if object.get("metadata").and_then(|m| m.get("name")).is_none()
                && let (Some(name), Some(meta)) =
                    (request.get("name").cloned(), object.get_mut("metadata"))
            {
                meta["name"] = name;
            }
            match k8s::workload(&object, 0) {
                Some(mut d) if k8s::is_workload(&object) => {
                    d["id"] = json!(format!("admission-{uid}"));
                    out.records.push(d);
                }
                _ => {
                    *out.skipped
                        .entry(format!(
                            "{operation} {}",
                            object
                                .get("kind")
                                .and_then(Value::as_str)
                                .unwrap_or("object")
                        ))
                        .or_default() += 1
                }
            }
        }
        "CONNECT" if matches!(sub, "exec" | "attach" | "portforward") => {
            let object = request.get("object").cloned().unwrap_or(Value::Null);
            let user = request.get("userInfo").cloned().unwrap_or(Value::Null);
            let mut e = json!({
                "kind": "kube_event", "id": format!("admission-{uid}"),
                "resource": format!("pods_{sub}"), "verb": "create",
                "user": {"username": user.get("username").and_then(Value::as_str).unwrap_or(""),
                         "groups": strings(user.get("groups"))},
                "pod": request.get("name").and_then(Value::as_str).unwrap_or(""),
            });
            if let Some(ns) = namespace {
                e["namespace"] = json!(ns);
            }
            if let Some(c) = object.get("container").and_then(Value::as_str) {
                e["container"] = json!(c);
            }
            if object.get("command").is_some_and(Value::is_array) {
                e["command"] = json!(strings(object.get("command")));
            }
            out.records.push(e);
        }
        other => {
            *out.skipped
                .entry(
                    format!(
                        "{} {sub}",
                        if other.is_empty() {
                            "unknown operation"
                        } else {
                            other
                        }
                    )
                    .trim()
                    .to_string(),
                )
                .or_default() += 1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::strip_position;

    #[test]
    fn positions_are_stripped_wherever_they_are() {
        assert_eq!(
            strip_position("expected `,` at line 4 column 1"),
            "expected `,`"
        );
        assert_eq!(
            strip_position("did not find ']' at line 4 column 1, while parsing"),
            "did not find ']', while parsing"
        );
        assert_eq!(strip_position("no position here"), "no position here");
    }
}
