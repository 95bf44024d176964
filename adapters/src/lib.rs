//! Real-world inputs to records (records.md v1): Kubernetes manifests (YAML or JSON,
//! multi-document, `List`), Trivy and Grype reports, Falco alerts, Tetragon events and
//! AdmissionReviews. The format is detected from content ([`sniff`], [`convert`]).

mod hubble;
mod k8s;
mod quantity;
mod runtime;
mod scanners;

use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

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
    /// Cilium Hubble flows (`hubble observe -o json`).
    Hubble,
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
            Format::Hubble => "Hubble flows",
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
    /// Objects not turned into records but read for what they say about others (Services
    /// and Routes, which expose deployments), counted by kind.
    pub context: BTreeMap<String, usize>,
    /// The line (1-based) where each record's object starts in the text, by record index,
    /// where the format has one (Kubernetes manifests); shorter than `records` or `None`
    /// where unknown.
    pub lines: Vec<Option<u32>>,
    /// The detected format.
    pub format: Option<Format>,
    /// The NetworkPolicy objects of a Kubernetes manifest (namespace filled in), already
    /// applied to its deployments; a reader of several manifests applies all of them to
    /// all deployments with [`NetworkIsolation`].
    pub network_policies: Vec<Value>,
}

/// A record written with its `kind` first, the other fields in their order: readers of
/// records take such a record as it streams by, while one whose `kind` comes later is
/// buffered and read again (a `Value` writes its keys sorted, so `kind` would come after
/// `containers` or `args`). Anything but an object is written as it is.
pub struct KindFirst<'a>(pub &'a Value);

impl serde::Serialize for KindFirst<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Some(fields) = self.0.as_object() else {
            return self.0.serialize(serializer);
        };
        let mut map = serializer.serialize_map(Some(fields.len()))?;
        if let Some(kind) = fields.get("kind") {
            map.serialize_entry("kind", kind)?;
        }
        for (key, value) in fields.iter().filter(|(key, _)| key.as_str() != "kind") {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
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
    // serde_json writes " column C", the YAML parser ", column C".
    for sep in [" column ", ", column "] {
        if let Some(col) = rest[end..].strip_prefix(sep) {
            end += sep.len() + digits(col);
            break;
        }
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

/// Most values (scalars and collections, aliases counted at every use) one YAML input
/// may expand to: a flat anchor of K items used K times is K² values from a few bytes, so
/// the budget is on what aliases replay, not on nesting. 16 MB of YAML manifests hold well
/// under a million values.
pub const MAX_YAML_REPLAYED_EVENTS: usize = 1_000_000;
/// Deepest nesting of YAML collections (the JSON reader's limit is 128 as well).
pub const MAX_YAML_DEPTH: usize = 128;

/// Reads YAML as the Kubernetes API server does (YAML 1.1 as go-yaml reads it): merge keys
/// (`<<`) apply, `yes`/`no`/`on`/`off`/`y`/`n` are booleans, `0644` is octal (a file
/// mode), a duplicate key is an error,
/// numbers too large for a double are refused. Nesting, documents, anchors and what aliases
/// expand to are budgeted before any value is built.
fn yaml_values(text: &str) -> Result<Vec<Value>, AdapterError> {
    let values: Vec<Value> = serde_saphyr::from_multiple_with_options(text, yaml_options())
        .map_err(|e| {
            let (line, column) = e
                .location()
                .map(|l| (l.line() as usize, l.column() as usize))
                .unwrap_or((0, 0));
            AdapterError::Syntax {
                line,
                column,
                message: format!("invalid YAML: {}", strip_position(&e.to_string())),
            }
        })?;
    Ok(values.into_iter().filter(|v| !v.is_null()).collect())
}

/// The parser options of [`yaml_values`]: YAML 1.1 as the API server reads it, within the
/// budgets.
fn yaml_options() -> serde_saphyr::Options {
    let budget = serde_saphyr::budget! {
        max_depth: MAX_YAML_DEPTH,
        flow_nesting_limit: MAX_YAML_DEPTH,
        max_events: 4 * MAX_YAML_REPLAYED_EVENTS,
        max_nodes: 4 * MAX_YAML_REPLAYED_EVENTS,
        max_documents: 100_000,
    };
    serde_saphyr::options! {
        budget: budget,
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
        merge_keys: serde_saphyr::options::MergeKeyPolicy::Merge,
        strict_booleans: false,
        legacy_octal_numbers: true,
        with_snippet: false,
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: MAX_YAML_REPLAYED_EVENTS,
        },
    }
}

/// A manifest document as far as its position goes: a `List`'s items, each with its line.
#[derive(serde::Deserialize)]
struct DocumentLines {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    items: Option<Vec<serde_saphyr::Spanned<serde::de::IgnoredAny>>>,
}

/// The line where each of the `count` objects of a manifest starts, in the order
/// [`flatten`] yields them (a `List`'s items at their own lines). All `None` when the text
/// is shaped otherwise (a top-level sequence, a null document, nested lists), so a line is
/// never wrong, only absent.
fn object_lines(text: &str, count: usize) -> Vec<Option<u32>> {
    let documents: Result<Vec<serde_saphyr::Spanned<DocumentLines>>, _> =
        serde_saphyr::from_multiple_with_options(text, yaml_options());
    let mut lines = Vec::with_capacity(count);
    for doc in documents.into_iter().flatten() {
        let is_list = doc
            .value
            .kind
            .as_deref()
            .is_some_and(|k| k == "List" || k.ends_with("List"));
        match (&doc.value.items, is_list) {
            (Some(items), true) => lines.extend(
                items
                    .iter()
                    .map(|i| u32::try_from(i.referenced.line()).ok()),
            ),
            _ => lines.push(u32::try_from(doc.referenced.line()).ok()),
        }
    }
    if lines.len() != count {
        return vec![None; count];
    }
    lines
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
    let flow = v.get("flow").unwrap_or(v);
    if flow.get("verdict").is_some() && (flow.get("source").is_some() || flow.get("IP").is_some()) {
        return Some(Format::Hubble);
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

/// How a conversion reads what an input leaves unsaid.
#[derive(Clone, Debug, Default)]
pub struct ConvertOptions {
    /// The namespace of namespaced objects that name none, as `kubectl --namespace` sets
    /// it; `None` is `default`, where the API server creates them. When set, an object
    /// naming another namespace is refused, as kubectl refuses it.
    pub namespace: Option<String>,
}

impl ConvertOptions {
    /// The namespace objects without one are created in.
    fn default_namespace(&self) -> &str {
        self.namespace.as_deref().unwrap_or("default")
    }
}

/// Detects the format of `text` and converts it. Records.md JSON comes back unchanged
/// (as values) with format [`Format::Records`].
pub fn convert(text: &str) -> Result<Converted, AdapterError> {
    convert_with(text, &ConvertOptions::default())
}

/// [`convert`] with options.
pub fn convert_with(text: &str, options: &ConvertOptions) -> Result<Converted, AdapterError> {
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
        Format::Kubernetes => kubernetes(values, text, &mut out, options)?,
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
        Format::Hubble => {
            for (i, v) in events(&values).enumerate() {
                match hubble::flow(v, i + 1) {
                    Ok(r) => out.records.push(r),
                    Err(why) => *out.skipped.entry(why).or_default() += 1,
                }
            }
        }
        Format::Admission => {
            for v in &values {
                admission(v, &mut out, options)?;
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

/// Flattens `List` objects; returns the objects in order. Items of a typed list
/// (`PodList`) that name no kind or apiVersion take the list's: a `PodList` item is a `Pod`.
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
                let list_kind = v.get("kind").and_then(Value::as_str).unwrap_or("List");
                let item_kind = list_kind.strip_suffix("List").unwrap_or("");
                let api_version = v.get("apiVersion").cloned();
                let mut items = v
                    .get("items")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for item in items.iter_mut() {
                    let Value::Object(fields) = item else {
                        continue;
                    };
                    if !item_kind.is_empty() && !fields.contains_key("kind") {
                        fields.insert("kind".into(), json!(item_kind));
                    }
                    if let Some(api) = &api_version
                        && !fields.contains_key("apiVersion")
                    {
                        fields.insert("apiVersion".into(), api.clone());
                    }
                }
                out.extend(flatten(items));
            }
            v => out.push(v),
        }
    }
    out
}

/// The Kubernetes objects of a manifest text (YAML or JSON, multi-document, `List`s
/// flattened), read as [`convert`] reads them, for readers of objects other than
/// workloads (NetworkPolicies, Namespaces, Ingresses). A text that holds no Kubernetes
/// object (one with `apiVersion` and `kind`) is [`AdapterError::Unrecognized`].
pub fn manifest_objects(text: &str) -> Result<Vec<Value>, AdapterError> {
    let text = text.trim_start_matches('\u{feff}');
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    let values = if trimmed.starts_with('{') || trimmed.starts_with('[') {
        match json_values(text) {
            Ok(v) => v,
            Err(json_err) => yaml_values(text).map_err(|_| json_err)?,
        }
    } else {
        yaml_values(text)?
    };
    let objects = flatten(values);
    if !objects
        .iter()
        .any(|o| o.get("kind").is_some_and(Value::is_string) && o.get("apiVersion").is_some())
    {
        return Err(AdapterError::Unrecognized(
            "not Kubernetes manifests: no object with `apiVersion` and `kind`".into(),
        ));
    }
    Ok(objects)
}

/// Sets the namespace of a namespaced object that names none (see [`ConvertOptions`]).
fn place_in_namespace(o: &mut Value, options: &ConvertOptions) -> Result<(), AdapterError> {
    let object_name = what(o);
    let what = || object_name.clone();
    let named = match o.get("metadata").and_then(|m| m.get("namespace")) {
        None | Some(Value::Null) => None,
        Some(Value::String(ns)) if !ns.is_empty() => Some(ns.clone()),
        Some(Value::String(_)) => None,
        Some(other) => {
            return Err(AdapterError::Unrecognized(format!(
                "{}: `metadata.namespace` is {}, not a string",
                what(),
                json_type(other)
            )));
        }
    };
    match (named, &options.namespace) {
        (Some(ns), Some(wanted)) if &ns != wanted => Err(AdapterError::Unrecognized(format!(
            "{}: the namespace from the object (`{ns}`) does not match the namespace `{wanted}` given (kubectl refuses this too)",
            what()
        ))),
        (Some(_), _) => Ok(()),
        (None, _) => {
            let namespace = json!(options.default_namespace());
            match o.get_mut("metadata") {
                Some(Value::Object(meta)) => {
                    meta.insert("namespace".into(), namespace);
                }
                None | Some(Value::Null) => o["metadata"] = json!({"namespace": namespace}),
                Some(other) => {
                    return Err(AdapterError::Unrecognized(format!(
                        "{}: `metadata` is {}, not an object",
                        what(),
                        json_type(other)
                    )));
                }
            }
            Ok(())
        }
    }
}

/// "Deployment `web`", for messages.
fn what(o: &Value) -> String {
    format!(
        "{} `{}`",
        o.get("kind").and_then(Value::as_str).unwrap_or("object"),
        o.get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("(unnamed)")
    )
}

fn kubernetes(
    values: Vec<Value>,
    text: &str,
    out: &mut Converted,
    options: &ConvertOptions,
) -> Result<(), AdapterError> {
    let mut objects = flatten(values);
    let object_lines = object_lines(text, objects.len());
    for o in objects.iter_mut() {
        let kind = o.get("kind").and_then(Value::as_str).unwrap_or("");
        let namespaced =
            k8s::is_workload(o) || matches!(kind, "Service" | "Route" | "NetworkPolicy");
        if namespaced && o.is_object() {
            place_in_namespace(o, options)?;
        }
        if k8s::is_workload(o) {
            k8s::check_types(o)
                .map_err(|e| AdapterError::Unrecognized(format!("{}: {e}", what(o))))?;
        }
    }
    let mut deployments = Vec::new();
    let mut deployment_lines = Vec::new();
    let mut services = Vec::new();
    let mut routes = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        let kind = o.get("kind").and_then(Value::as_str).unwrap_or("(no kind)");
        if k8s::is_workload(o)
            && let Some(d) = k8s::workload(o, i)
        {
            deployments.push(d);
            deployment_lines.push(object_lines.get(i).copied().flatten());
            continue;
        }
        match kind {
            "Service" => services.push(o.clone()),
            "Route" => routes.push(o.clone()),
            "NetworkPolicy" => out.network_policies.push(o.clone()),
            _ => {
                *out.skipped.entry(kind.to_string()).or_default() += 1;
                continue;
            }
        }
        *out.context.entry(kind.to_string()).or_default() += 1;
    }
    k8s::expose(&mut deployments, &services, &routes);
    NetworkIsolation::new(&out.network_policies)?.apply(&mut deployments);
    out.lines.resize(out.records.len(), None);
    out.records.extend(deployments);
    out.lines.extend(deployment_lines);
    Ok(())
}

/// NetworkPolicies read once (every field checked), to set the isolation of deployments.
pub struct NetworkIsolation {
    policies: Vec<palisade_netpol::Policy>,
}

impl NetworkIsolation {
    /// Reads NetworkPolicy objects. One the API server would refuse (an invalid CIDR,
    /// protocol, port or selector) is an error naming the object and the field: a
    /// deployment's isolation must not be read from a policy that cannot exist.
    pub fn new(policies: &[Value]) -> Result<NetworkIsolation, AdapterError> {
        let objects: Vec<_> = policies
            .iter()
            .map(|object| palisade_netpol::SourcedObject { file: "", object })
            .collect();
        let (topology, diagnostics) = palisade_netpol::build(&objects, "default", false);
        if let Some(d) = diagnostics
            .iter()
            .find(|d| d.level == palisade_netpol::Level::Error)
        {
            return Err(AdapterError::Unrecognized(format!(
                "{}: `{}` {}",
                d.object, d.field, d.message
            )));
        }
        Ok(NetworkIsolation {
            policies: topology.policies,
        })
    }

    /// Sets `network_policies` of every deployment record (records.md JSON): a deployment
    /// is isolated for ingress (egress) when a policy of its namespace selects its pod
    /// labels and applies to ingress (egress), as Kubernetes defines it. The policies are
    /// taken as all there are: with none, both are `false`.
    pub fn apply(&self, deployments: &mut [Value]) {
        for d in deployments.iter_mut() {
            if d.get("kind").and_then(Value::as_str) != Some("deployment") {
                continue;
            }
            let namespace = d
                .get("namespace")
                .and_then(Value::as_str)
                .unwrap_or("default");
            let labels: palisade_netpol::Labels = d
                .get("pod_labels")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default();
            let mut ingress = BTreeSet::new();
            let mut egress = BTreeSet::new();
            for p in self
                .policies
                .iter()
                .filter(|p| p.namespace == namespace && p.pod_selector.matches(&labels))
            {
                if p.ingress.is_some() {
                    ingress.insert(p.name.clone());
                }
                if p.egress.is_some() {
                    egress.insert(p.name.clone());
                }
            }
            d["network_policies"] = json!({
                "has_ingress": !ingress.is_empty(),
                "has_egress": !egress.is_empty(),
                "ingress_policies": ingress,
                "egress_policies": egress,
            });
        }
    }
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

/// A malformed AdmissionReview: what is wrong, for a 400 answer or a CLI error.
fn malformed(what: &str) -> AdapterError {
    AdapterError::Unrecognized(format!("malformed AdmissionReview: {what}"))
}

/// The JSON type of `v`, for messages.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn admission(v: &Value, out: &mut Converted, options: &ConvertOptions) -> Result<(), AdapterError> {
    let request = if v.get("kind").and_then(Value::as_str) == Some("AdmissionReview") {
        match v.get("request") {
            Some(r @ Value::Object(_)) => r.clone(),
            Some(other) => {
                return Err(malformed(&format!(
                    "`request` is {}, not an object",
                    json_type(other)
                )));
            }
            None => return Err(malformed("no `request`")),
        }
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
    // Every object the API server sends is a JSON object (or null, e.g. on DELETE).
    for key in ["object", "oldObject"] {
        match request.get(key) {
            None | Some(Value::Null | Value::Object(_)) => {}
            Some(other) => {
                return Err(malformed(&format!(
                    "`request.{key}` is {}, not an object",
                    json_type(other)
                )));
            }
        }
    }
    match operation {
        "CREATE" | "UPDATE" => {
            let mut object = match request.get("object") {
                Some(o @ Value::Object(_)) => o.clone(),
                _ => json!({}),
            };
            match object.get("metadata") {
                None | Some(Value::Object(_)) => {}
                Some(other) => {
                    return Err(malformed(&format!(
                        "`request.object.metadata` is {}, not an object",
                        json_type(other)
                    )));
                }
            }
            if object.get("kind").is_none()
                && let Some(k) = request.get("kind").and_then(|k| k.get("kind")).cloned()
            {
                object["kind"] = k;
            }
            if object.get("metadata").is_none() {
                object["metadata"] = json!({});
            }
            if let Some(Value::Object(meta)) = object.get_mut("metadata") {
                if !meta.contains_key("namespace") {
                    // The API server names the namespace in the request; a bare request
                    // without one is in the default namespace.
                    let ns = namespace.unwrap_or(options.default_namespace());
                    meta.insert("namespace".into(), json!(ns));
                }
                if !meta.contains_key("name")
                    && let Some(name) = request.get("name").cloned()
                {
                    meta.insert("name".into(), name);
                }
            }
            if k8s::is_workload(&object) {
                k8s::check_types(&object)
                    .map_err(|e| malformed(&format!("request.object: {e}")))?;
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
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_record_is_written_with_its_kind_first_and_reads_back_the_same() {
        let record = json!({"args": "-i", "id": "p1", "kind": "process", "name": "bash"});
        let Ok(text) = serde_json::to_string(&KindFirst(&record)) else {
            unreachable!("a value writes")
        };
        assert_eq!(
            text,
            r#"{"kind":"process","args":"-i","id":"p1","name":"bash"}"#
        );
        assert_eq!(serde_json::from_str::<Value>(&text).ok(), Some(record));
        // Without a kind, and not an object: written as they are.
        for other in [json!({"b": 1, "a": [2]}), json!([1, "x"]), json!("kind")] {
            let written = serde_json::to_string(&KindFirst(&other)).ok();
            assert_eq!(written, Some(other.to_string()));
        }
    }

    use super::{
        ConvertOptions, Converted, KindFirst, NetworkIsolation, convert, convert_with,
        strip_position,
    };
    use serde_json::{Value, json};

    const TWO_DEPLOYMENTS: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec: {template: {metadata: {labels: {app: web}}, spec: {containers: [{name: c, image: x}]}}}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: db, namespace: shop}\nspec: {template: {metadata: {labels: {app: db}}, spec: {containers: [{name: c, image: x}]}}}\n";

    fn isolation(c: &Converted, name: &str) -> Value {
        c.records
            .iter()
            .find(|r| r["name"] == name)
            .map(|r| r["network_policies"].clone())
            .unwrap_or(Value::Null)
    }

    #[test]
    #[allow(clippy::unwrap_used, reason = "tests fail loudly")]
    fn deployments_learn_their_isolation_from_the_network_policies_beside_them() {
        // db is selected for ingress by one policy and for both directions by another;
        // a policy of another namespace and one selecting other labels do not count.
        let policies = "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: db-in, namespace: shop}\nspec: {podSelector: {matchLabels: {app: db}}}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: all-db, namespace: shop}\nspec: {podSelector: {matchExpressions: [{key: app, operator: In, values: [db]}]}, policyTypes: [Ingress, Egress]}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: elsewhere, namespace: other}\nspec: {podSelector: {}}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: cache, namespace: shop}\nspec: {podSelector: {matchLabels: {app: cache}}, egress: []}\n";
        let c = convert(&format!("{TWO_DEPLOYMENTS}{policies}")).unwrap();
        assert_eq!(
            isolation(&c, "db"),
            json!({"has_ingress": true, "has_egress": true,
                   "ingress_policies": ["all-db", "db-in"], "egress_policies": ["all-db"]})
        );
        assert_eq!(
            isolation(&c, "web"),
            json!({"has_ingress": false, "has_egress": false,
                   "ingress_policies": [], "egress_policies": []})
        );
        assert_eq!(c.context.get("NetworkPolicy"), Some(&4));
        // Manifests without policies: nothing isolates the deployments.
        let alone = convert(TWO_DEPLOYMENTS).unwrap();
        assert_eq!(isolation(&alone, "db")["has_ingress"], json!(false));
    }

    #[test]
    #[allow(clippy::unwrap_used, reason = "tests fail loudly")]
    fn policies_of_another_file_apply_through_network_isolation() {
        let mut c = convert(TWO_DEPLOYMENTS).unwrap();
        let other = convert("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-egress}\nspec: {podSelector: {}, policyTypes: [Egress]}\n").unwrap();
        // Placed in `default`, so it isolates nothing in `shop`...
        NetworkIsolation::new(&other.network_policies)
            .unwrap()
            .apply(&mut c.records);
        assert_eq!(isolation(&c, "web")["has_egress"], json!(false));
        // ...but one in `shop` isolates both deployments for egress only.
        let shop = convert_with(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-egress}\nspec: {podSelector: {}, policyTypes: [Egress]}\n",
            &ConvertOptions { namespace: Some("shop".into()) },
        )
        .unwrap();
        NetworkIsolation::new(&shop.network_policies)
            .unwrap()
            .apply(&mut c.records);
        assert_eq!(
            isolation(&c, "web"),
            json!({"has_ingress": false, "has_egress": true,
                   "ingress_policies": [], "egress_policies": ["deny-egress"]})
        );
    }

    #[test]
    fn an_invalid_network_policy_is_refused_naming_object_and_field() {
        let bad = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: bad, namespace: shop}\nspec: {podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/33}}]}]}\n";
        let err = convert(&format!("{TWO_DEPLOYMENTS}---\n{bad}")).err();
        let message = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains("NetworkPolicy `shop/bad`")
                && message.contains("spec.ingress[0].from[0].ipBlock.cidr"),
            "{message}"
        );
    }

    #[test]
    #[allow(clippy::unwrap_used, reason = "tests fail loudly")]
    fn records_of_manifests_carry_the_line_of_their_object() {
        let text = "# a comment\napiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: x}]}\n---\n---\napiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: skipped}\n  - apiVersion: apps/v1\n    kind: Deployment\n    metadata: {name: b}\n    spec: {template: {spec: {containers: [{name: c, image: x}]}}}\n";
        let c = convert(text).unwrap();
        let names: Vec<&str> = c
            .records
            .iter()
            .filter_map(|r| r["name"].as_str())
            .collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(c.lines, [Some(2), Some(14)]);
        // A shape the positions cannot follow (a top-level sequence) gives no lines, never
        // wrong ones.
        let sequence = "- apiVersion: v1\n  kind: Pod\n  metadata: {name: a}\n  spec: {containers: [{name: c, image: x}]}\n";
        let c = convert(sequence).unwrap();
        assert_eq!(c.records.len(), 1);
        assert_eq!(c.lines, [None]);
        // JSON manifests too.
        let json = "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n {\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"a\"}, \"spec\": {\"containers\": [{\"name\": \"c\", \"image\": \"x\"}]}}]}";
        assert_eq!(convert(json).unwrap().lines, [Some(2)]);
    }

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
        assert_eq!(
            strip_position("unclosed bracket '[' at line 3, column 11"),
            "unclosed bracket '['"
        );
    }
}
