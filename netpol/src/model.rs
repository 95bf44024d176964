//! Kubernetes objects to the analyzer's model: workloads (one per owner of pods), namespaces
//! with their labels, NetworkPolicies with every field checked, and the Services, Ingresses
//! and Routes that let an ingress controller in.

use crate::diagnostics::{Diagnostic, ObjectRef};
use crate::ip::{CidrError, IpSet, parse_cidr};
use crate::ports::Protocol;
use crate::selector::{Labels, Selector, parse_selector};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// The label every namespace carries with its own name.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// A manifest object and the file it came from.
#[derive(Clone, Copy, Debug)]
pub struct SourcedObject<'a> {
    /// The file (for messages).
    pub file: &'a str,
    /// The object.
    pub object: &'a Value,
}

/// A container port a pod declares.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerPort {
    /// `name` (may be empty).
    pub name: String,
    /// `containerPort`.
    pub number: u16,
    /// `protocol` (default TCP).
    pub protocol: Protocol,
}

/// What a workload's pods look like to policies: labels and container ports.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PodShape {
    /// Pod labels.
    pub labels: Labels,
    /// Container ports.
    pub ports: Vec<ContainerPort>,
}

/// One workload: a controller with its pods, or a bare pod.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Namespace.
    pub namespace: String,
    /// Name (the owner's, for owned pods).
    pub name: String,
    /// Kind (`Deployment`, `ReplicaSet`, `Pod`, ...).
    pub kind: String,
    /// The distinct shapes of its pods (usually one).
    pub shapes: Vec<PodShape>,
    /// The file it came from.
    pub file: String,
}

impl Workload {
    /// `namespace/name[Kind]`, as the map prints it.
    pub fn display_name(&self) -> String {
        format!("{}/{}[{}]", self.namespace, self.name, self.kind)
    }
}

/// A port of a NetworkPolicy rule or a Service target: a number or a container port name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PortRef {
    /// A port number.
    Number(u16),
    /// A named container port.
    Name(String),
}

/// One `ports` entry of a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortSpec {
    /// Protocol (default TCP).
    pub protocol: Protocol,
    /// The port; `None` is the whole protocol.
    pub port: Option<PortRef>,
    /// `endPort` (with a numeric `port`).
    pub end_port: Option<u16>,
    /// Where it is, for messages (`spec.ingress[0].ports[1]`).
    pub field: String,
}

/// One `from`/`to` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerSpec {
    /// Pods by selectors: `pods` alone is the policy's namespace, `namespaces` alone all
    /// pods of the matching namespaces, both: both.
    Pods {
        /// `podSelector`.
        pods: Option<Selector>,
        /// `namespaceSelector`.
        namespaces: Option<Selector>,
    },
    /// `ipBlock`: the CIDR minus its excepts.
    IpBlock(IpSet),
}

/// One ingress or egress rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The peers; `None` (absent or empty) matches every peer.
    pub peers: Option<Vec<PeerSpec>>,
    /// The ports; `None` (absent or empty) allows every connection.
    pub ports: Option<Vec<PortSpec>>,
}

/// A checked NetworkPolicy.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The file it came from.
    pub file: String,
    /// `spec.podSelector`.
    pub pod_selector: Selector,
    /// Ingress rules when the policy applies to ingress.
    pub ingress: Option<Vec<Rule>>,
    /// Egress rules when the policy applies to egress.
    pub egress: Option<Vec<Rule>>,
    /// Every ipBlock of its ingress rules (applied or not): they cut the source peers.
    pub ingress_blocks: Vec<IpSet>,
    /// Every ipBlock of its egress rules.
    pub egress_blocks: Vec<IpSet>,
}

/// A Service port.
#[derive(Clone, Debug)]
pub struct ServicePort {
    /// `name`.
    pub name: String,
    /// `port`.
    pub port: u16,
    /// `targetPort` (absent: `port`).
    pub target: Option<PortRef>,
}

/// A Service with a selector.
#[derive(Clone, Debug)]
pub struct Service {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `spec.selector`.
    pub selector: Labels,
    /// `spec.ports`.
    pub ports: Vec<ServicePort>,
}

/// A backend of an Ingress or Route: a Service, maybe one port of it.
#[derive(Clone, Debug)]
pub struct Exposure {
    /// What exposes it (`Ingress ns/name`), for messages.
    pub by: String,
    /// Namespace (the Service's, which must be the Ingress's or Route's own).
    pub namespace: String,
    /// The Service name.
    pub service: String,
    /// The Service port asked for; `None` for all.
    pub port: Option<PortRef>,
}

/// Everything the analyzer reads.
#[derive(Clone, Debug, Default)]
pub struct Topology {
    /// Namespace labels, by name (every namespace that appears anywhere).
    pub namespaces: BTreeMap<String, Labels>,
    /// Workloads, in input order.
    pub workloads: Vec<Workload>,
    /// NetworkPolicies, in input order.
    pub policies: Vec<Policy>,
    /// Services with selectors.
    pub services: Vec<Service>,
    /// Ingress and Route backends.
    pub exposures: Vec<Exposure>,
}

fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, key| cur.get(key))
}

fn get_str<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    get(v, path).and_then(Value::as_str)
}

fn string_labels(v: Option<&Value>) -> Labels {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    (k.clone(), text)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn list(v: Option<&Value>) -> &[Value] {
    v.and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Where the pod template's metadata and spec sit for each workload kind.
fn pod_paths(kind: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
    Some(match kind {
        "Pod" => (&["metadata"], &["spec"]),
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "ReplicationController"
        | "Job"
        | "DeploymentConfig" => (
            &["spec", "template", "metadata"],
            &["spec", "template", "spec"],
        ),
        "CronJob" => (
            &["spec", "jobTemplate", "spec", "template", "metadata"],
            &["spec", "jobTemplate", "spec", "template", "spec"],
        ),
        _ => return None,
    })
}

fn port_number(v: &Value) -> Option<u16> {
    v.as_u64()
        .or_else(|| {
            v.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                .map(|f| f as u64)
        })
        .and_then(|n| u16::try_from(n).ok())
        .filter(|n| *n > 0)
}

/// The objects of several files, each with the file it came from.
pub fn sourced(files: &[(String, Vec<Value>)]) -> Vec<SourcedObject<'_>> {
    files
        .iter()
        .flat_map(|(file, objects)| {
            objects
                .iter()
                .map(move |object| SourcedObject { file, object })
        })
        .collect()
}

/// Reads objects into a topology. `default_namespace` is where objects without
/// `metadata.namespace` go (`default`, or `--namespace`); when `strict_namespace` is set,
/// an object naming another namespace is an error, as kubectl makes it.
pub fn build(
    objects: &[SourcedObject<'_>],
    default_namespace: &str,
    strict_namespace: bool,
) -> (Topology, Vec<Diagnostic>) {
    let mut b = Builder {
        topology: Topology::default(),
        diagnostics: Vec::new(),
        by_name: HashMap::new(),
    };
    for o in objects {
        b.object(o, default_namespace, strict_namespace);
    }
    let namespaces_in_use: Vec<String> = b
        .topology
        .workloads
        .iter()
        .map(|w| w.namespace.clone())
        .chain(b.topology.policies.iter().map(|p| p.namespace.clone()))
        .collect();
    for ns in namespaces_in_use {
        b.topology.namespaces.entry(ns).or_default();
    }
    for (name, labels) in b.topology.namespaces.iter_mut() {
        labels
            .entry(NAMESPACE_NAME_LABEL.to_string())
            .or_insert_with(|| name.clone());
    }
    b.check_named_ports();
    (b.topology, b.diagnostics)
}

struct Builder {
    topology: Topology,
    diagnostics: Vec<Diagnostic>,
    by_name: HashMap<(String, String, String), usize>,
}

impl Builder {
    fn object(&mut self, o: &SourcedObject<'_>, default_namespace: &str, strict: bool) {
        let v = o.object;
        let kind = get_str(v, &["kind"]).unwrap_or_default();
        let name = get_str(v, &["metadata", "name"])
            .unwrap_or_default()
            .to_string();
        if kind == "Namespace" {
            let labels = string_labels(get(v, &["metadata", "labels"]));
            self.topology
                .namespaces
                .entry(name)
                .or_default()
                .extend(labels);
            return;
        }
        let known = pod_paths(kind).is_some()
            || matches!(kind, "NetworkPolicy" | "Service" | "Ingress" | "Route");
        if !known {
            return;
        }
        let namespace = match get(v, &["metadata", "namespace"]) {
            Some(Value::String(ns)) if !ns.is_empty() => {
                if strict && ns != default_namespace {
                    self.diagnostics.push(Diagnostic::error(
                        o.file,
                        ObjectRef::new(kind, ns, &name),
                        "metadata.namespace",
                        format!("the namespace from the object (`{ns}`) does not match the namespace `{default_namespace}` given (kubectl refuses this too)"),
                    ));
                    return;
                }
                ns.clone()
            }
            None | Some(Value::Null) | Some(Value::String(_)) => default_namespace.to_string(),
            Some(_) => {
                self.diagnostics.push(Diagnostic::error(
                    o.file,
                    ObjectRef::new(kind, "", &name),
                    "metadata.namespace",
                    "is not a string".into(),
                ));
                return;
            }
        };
        let at = ObjectRef::new(kind, &namespace, &name);
        match kind {
            "NetworkPolicy" => {
                if let Some(p) = self.policy(o.file, v, namespace, name, &at) {
                    self.topology.policies.push(p);
                }
            }
            "Service" => self.service(v, namespace, name),
            "Ingress" => self.ingress(o.file, v, &namespace, &at),
            "Route" => self.route(o.file, v, &namespace, &at),
            _ => self.workload(o.file, v, kind, namespace, name),
        }
    }

    fn workload(&mut self, file: &str, v: &Value, kind: &str, namespace: String, name: String) {
        let Some((meta_path, spec_path)) = pod_paths(kind) else {
            return;
        };
        let labels = string_labels(get(v, meta_path).and_then(|m| m.get("labels")));
        let spec = get(v, spec_path);
        let mut ports = Vec::new();
        for c in list(spec.and_then(|s| s.get("containers"))) {
            for p in list(c.get("ports")) {
                let Some(number) = p.get("containerPort").and_then(port_number) else {
                    continue;
                };
                let protocol = get_str(p, &["protocol"])
                    .and_then(Protocol::parse)
                    .unwrap_or(Protocol::Tcp);
                ports.push(ContainerPort {
                    name: get_str(p, &["name"]).unwrap_or_default().to_string(),
                    number,
                    protocol,
                });
            }
        }
        let (owner_name, owner_kind) = if kind == "Pod" {
            owner_of(v).unwrap_or((name.clone(), "Pod".to_string()))
        } else {
            (name.clone(), kind.to_string())
        };
        let shape = PodShape { labels, ports };
        let key = (namespace.clone(), owner_name.clone(), owner_kind.clone());
        if let Some(&i) = self.by_name.get(&key) {
            let w = &mut self.topology.workloads[i];
            if kind != "Pod" {
                self.diagnostics.push(Diagnostic::warning(
                    file,
                    ObjectRef::new(kind, &namespace, &name),
                    "metadata.name",
                    format!("a second {kind} `{namespace}/{name}`: the first one is analysed"),
                ));
            } else if !w.shapes.contains(&shape) {
                w.shapes.push(shape);
            }
            return;
        }
        self.by_name.insert(key, self.topology.workloads.len());
        self.topology.workloads.push(Workload {
            namespace,
            name: owner_name,
            kind: owner_kind,
            shapes: vec![shape],
            file: file.to_string(),
        });
    }

    fn service(&mut self, v: &Value, namespace: String, name: String) {
        let selector = string_labels(get(v, &["spec", "selector"]));
        let ports = list(get(v, &["spec", "ports"]))
            .iter()
            .filter_map(|p| {
                Some(ServicePort {
                    name: get_str(p, &["name"]).unwrap_or_default().to_string(),
                    port: p.get("port").and_then(port_number)?,
                    target: p.get("targetPort").and_then(port_ref),
                })
            })
            .collect();
        self.topology.services.push(Service {
            namespace,
            name,
            selector,
            ports,
        });
    }

    fn ingress(&mut self, file: &str, v: &Value, namespace: &str, at: &ObjectRef) {
        let mut backends: Vec<(&Value, String)> = Vec::new();
        if let Some(b) = get(v, &["spec", "defaultBackend"]) {
            backends.push((b, "spec.defaultBackend".into()));
        }
        for (i, r) in list(get(v, &["spec", "rules"])).iter().enumerate() {
            for (j, p) in list(get(r, &["http", "paths"])).iter().enumerate() {
                if let Some(b) = p.get("backend") {
                    backends.push((b, format!("spec.rules[{i}].http.paths[{j}].backend")));
                }
            }
        }
        for (b, field) in backends {
            let Some(service) = get_str(b, &["service", "name"]) else {
                self.diagnostics.push(Diagnostic::warning(
                    file,
                    at.clone(),
                    &field,
                    "is not a Service backend: ignored".into(),
                ));
                continue;
            };
            let port = get(b, &["service", "port"]).and_then(|p| {
                p.get("number")
                    .and_then(port_number)
                    .map(PortRef::Number)
                    .or_else(|| get_str(p, &["name"]).map(|n| PortRef::Name(n.to_string())))
            });
            self.topology.exposures.push(Exposure {
                by: at.to_string(),
                namespace: namespace.to_string(),
                service: service.to_string(),
                port,
            });
        }
    }

    fn route(&mut self, file: &str, v: &Value, namespace: &str, at: &ObjectRef) {
        let port = get(v, &["spec", "port", "targetPort"]).and_then(port_ref);
        let mut targets: Vec<(&Value, String)> = Vec::new();
        if let Some(t) = get(v, &["spec", "to"]) {
            targets.push((t, "spec.to".into()));
        }
        for (i, t) in list(get(v, &["spec", "alternateBackends"]))
            .iter()
            .enumerate()
        {
            targets.push((t, format!("spec.alternateBackends[{i}]")));
        }
        for (t, field) in targets {
            let kind = get_str(t, &["kind"]).unwrap_or("");
            if !(kind.is_empty() || kind == "Service") {
                self.diagnostics.push(Diagnostic::warning(
                    file,
                    at.clone(),
                    &format!("{field}.kind"),
                    format!("`{kind}` is not a Service: ignored"),
                ));
                continue;
            }
            let Some(service) = get_str(t, &["name"]) else {
                continue;
            };
            self.topology.exposures.push(Exposure {
                by: at.to_string(),
                namespace: namespace.to_string(),
                service: service.to_string(),
                port: port.clone(),
            });
        }
    }

    fn policy(
        &mut self,
        file: &str,
        v: &Value,
        namespace: String,
        name: String,
        at: &ObjectRef,
    ) -> Option<Policy> {
        let mut errors = Vec::new();
        let mut err = |field: String, message: String| {
            errors.push(Diagnostic::error(file, at.clone(), &field, message));
        };
        let spec = v.get("spec").unwrap_or(&Value::Null);
        let pod_selector = match parse_selector(spec.get("podSelector").unwrap_or(&Value::Null)) {
            Ok(s) => s,
            Err((f, m)) => {
                err(join("spec.podSelector", &f), m);
                Selector::default()
            }
        };
        let mut warnings = Vec::new();
        let mut rules = |key: &str, peer_key: &str, err: &mut dyn FnMut(String, String)| {
            let mut out = Vec::new();
            let mut blocks = Vec::new();
            let items = match spec.get(key) {
                None | Some(Value::Null) => return (out, blocks, false),
                Some(Value::Array(items)) => items,
                Some(_) => {
                    err(format!("spec.{key}"), "is not a list".into());
                    return (out, blocks, false);
                }
            };
            for (i, r) in items.iter().enumerate() {
                let here = format!("spec.{key}[{i}]");
                let peers = match r.get(peer_key) {
                    None | Some(Value::Null) => None,
                    Some(Value::Array(ps)) if ps.is_empty() => None,
                    Some(Value::Array(ps)) => Some(
                        ps.iter()
                            .enumerate()
                            .filter_map(|(j, p)| {
                                peer(
                                    p,
                                    &format!("{here}.{peer_key}[{j}]"),
                                    err,
                                    &mut warnings,
                                    &mut blocks,
                                )
                            })
                            .collect(),
                    ),
                    Some(_) => {
                        err(format!("{here}.{peer_key}"), "is not a list".into());
                        continue;
                    }
                };
                let ports = match r.get("ports") {
                    None | Some(Value::Null) => None,
                    Some(Value::Array(ps)) if ps.is_empty() => None,
                    Some(Value::Array(ps)) => Some(
                        ps.iter()
                            .enumerate()
                            .filter_map(|(j, p)| port_spec(p, &format!("{here}.ports[{j}]"), err))
                            .collect(),
                    ),
                    Some(_) => {
                        err(format!("{here}.ports"), "is not a list".into());
                        continue;
                    }
                };
                out.push(Rule { peers, ports });
            }
            let non_empty = !items.is_empty();
            (out, blocks, non_empty)
        };
        let (ingress, ingress_blocks, _) = rules("ingress", "from", &mut err);
        let (egress, egress_blocks, has_egress) = rules("egress", "to", &mut err);
        let (mut applies_ingress, mut applies_egress) = (true, has_egress);
        match spec.get("policyTypes") {
            None | Some(Value::Null) => {}
            Some(Value::Array(types)) if !types.is_empty() => {
                applies_ingress = false;
                applies_egress = false;
                for (i, t) in types.iter().enumerate() {
                    match t.as_str() {
                        Some("Ingress") => applies_ingress = true,
                        Some("Egress") => applies_egress = true,
                        _ => err(
                            format!("spec.policyTypes[{i}]"),
                            format!("{} is not a policy type (Ingress, Egress)", show(t)),
                        ),
                    }
                }
            }
            Some(Value::Array(_)) => {}
            Some(_) => err("spec.policyTypes".into(), "is not a list".into()),
        }
        for (field, message) in warnings {
            self.diagnostics
                .push(Diagnostic::warning(file, at.clone(), &field, message));
        }
        if !errors.is_empty() {
            self.diagnostics.extend(errors);
            return None;
        }
        Some(Policy {
            namespace,
            name,
            file: file.to_string(),
            pod_selector,
            ingress: applies_ingress.then_some(ingress),
            egress: applies_egress.then_some(egress),
            ingress_blocks,
            egress_blocks,
        })
    }

    /// Warns about named ports no pod they could apply to defines (upstream warns too).
    fn check_named_ports(&mut self) {
        let t = &self.topology;
        let mut warnings = Vec::new();
        for p in &t.policies {
            let at = ObjectRef::new("NetworkPolicy", &p.namespace, &p.name);
            for (rules, ingress) in [(&p.ingress, true), (&p.egress, false)] {
                for rule in rules.iter().flatten() {
                    for spec in rule.ports.iter().flatten() {
                        let Some(PortRef::Name(n)) = &spec.port else {
                            continue;
                        };
                        let defined = t.workloads.iter().any(|w| {
                            (!ingress
                                || (w.namespace == p.namespace
                                    && w.shapes.iter().any(|s| p.pod_selector.matches(&s.labels))))
                                && w.shapes.iter().any(|s| {
                                    s.ports
                                        .iter()
                                        .any(|c| &c.name == n && c.protocol == spec.protocol)
                                })
                        });
                        if !defined {
                            warnings.push(Diagnostic::warning(
                                &p.file,
                                at.clone(),
                                &format!("{}.port", spec.field),
                                format!(
                                    "named port `{n}` ({}) is defined by no container {}: it allows nothing",
                                    spec.protocol.name(),
                                    if ingress { "of the pods the policy selects" } else { "in the input" }
                                ),
                            ));
                        }
                    }
                }
            }
        }
        self.diagnostics.extend(warnings);
    }
}

fn show(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 40 {
        format!("`{}...`", text.chars().take(40).collect::<String>())
    } else {
        format!("`{text}`")
    }
}

fn join(at: &str, field: &str) -> String {
    if field.is_empty() {
        at.to_string()
    } else {
        format!("{at}.{field}")
    }
}

/// A pod's controller: the first owner reference with `controller: true` that is not a
/// Node; `[Pod]` when it names no kind.
fn owner_of(pod: &Value) -> Option<(String, String)> {
    let owner = list(get(pod, &["metadata", "ownerReferences"]))
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))?;
    let kind = get_str(owner, &["kind"]).unwrap_or("");
    if kind == "Node" {
        return None;
    }
    let name = get_str(owner, &["name"])?;
    let kind = if kind.is_empty() { "Pod" } else { kind };
    Some((name.to_string(), kind.to_string()))
}

fn port_ref(v: &Value) -> Option<PortRef> {
    match v {
        Value::String(s) => match s.parse::<u16>() {
            Ok(n) if n > 0 => Some(PortRef::Number(n)),
            _ => Some(PortRef::Name(s.clone())),
        },
        other => port_number(other).map(PortRef::Number),
    }
}

fn peer(
    p: &Value,
    field: &str,
    err: &mut dyn FnMut(String, String),
    warnings: &mut Vec<(String, String)>,
    blocks: &mut Vec<IpSet>,
) -> Option<PeerSpec> {
    let pods = p.get("podSelector").filter(|v| !v.is_null());
    let namespaces = p.get("namespaceSelector").filter(|v| !v.is_null());
    if let Some(block) = p.get("ipBlock").filter(|v| !v.is_null()) {
        if pods.is_some() || namespaces.is_some() {
            err(
                field.to_string(),
                "has an `ipBlock` and a selector: Kubernetes allows only one of them".into(),
            );
            return None;
        }
        let cidr_text = get_str(block, &["cidr"]).unwrap_or("");
        let cidr = match parse_cidr(cidr_text) {
            Ok(r) => r,
            Err(CidrError::Ipv6) => {
                warnings.push((
                    format!("{field}.ipBlock.cidr"),
                    format!("`{cidr_text}` is IPv6: the map covers IPv4 addresses, so this peer matches none of them"),
                ));
                return None;
            }
            Err(CidrError::Invalid) => {
                err(
                    format!("{field}.ipBlock.cidr"),
                    format!("`{cidr_text}` is not a CIDR (such as 10.0.0.0/8)"),
                );
                return None;
            }
        };
        let mut set = IpSet::of(cidr);
        for (k, e) in list(block.get("except")).iter().enumerate() {
            let text = e.as_str().unwrap_or("");
            match parse_cidr(text) {
                Ok(hole) if hole.within(&cidr) && hole != cidr => set = set.minus(&hole),
                Ok(_) => err(
                    format!("{field}.ipBlock.except[{k}]"),
                    format!("`{text}` is not strictly inside the cidr `{cidr_text}`"),
                ),
                Err(CidrError::Ipv6) => err(
                    format!("{field}.ipBlock.except[{k}]"),
                    format!("`{text}` is IPv6, inside an IPv4 cidr"),
                ),
                Err(CidrError::Invalid) => err(
                    format!("{field}.ipBlock.except[{k}]"),
                    format!("{} is not a CIDR", show(e)),
                ),
            }
        }
        blocks.push(set.clone());
        return Some(PeerSpec::IpBlock(set));
    }
    let mut selector = |v: Option<&Value>, name: &str| -> Result<Option<Selector>, ()> {
        match v {
            None => Ok(None),
            Some(v) => parse_selector(v).map(Some).map_err(|(f, m)| {
                err(join(&format!("{field}.{name}"), &f), m);
            }),
        }
    };
    let pods = selector(pods, "podSelector").ok()?;
    let namespaces = selector(namespaces, "namespaceSelector").ok()?;
    if pods.is_none() && namespaces.is_none() {
        err(
            field.to_string(),
            "names no peer: one of `podSelector`, `namespaceSelector` or `ipBlock` is required"
                .into(),
        );
        return None;
    }
    Some(PeerSpec::Pods { pods, namespaces })
}

fn port_spec(p: &Value, field: &str, err: &mut dyn FnMut(String, String)) -> Option<PortSpec> {
    let protocol = match p.get("protocol") {
        None | Some(Value::Null) => Protocol::Tcp,
        Some(v) => match v.as_str().and_then(Protocol::parse) {
            Some(proto) => proto,
            None => {
                err(
                    format!("{field}.protocol"),
                    format!("{} is not a protocol (TCP, UDP, SCTP)", show(v)),
                );
                return None;
            }
        },
    };
    let port = match p.get("port") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if is_port_name(s) => Some(PortRef::Name(s.clone())),
        Some(v) => match port_number(v) {
            Some(n) => Some(PortRef::Number(n)),
            None => {
                err(
                    format!("{field}.port"),
                    format!("{} is not a port number (1-65535) or a port name", show(v)),
                );
                return None;
            }
        },
    };
    let end_port = match p.get("endPort") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let Some(end) = port_number(v) else {
                err(
                    format!("{field}.endPort"),
                    format!("{} is not a port number (1-65535)", show(v)),
                );
                return None;
            };
            match &port {
                Some(PortRef::Number(start)) if end >= *start => Some(end),
                Some(PortRef::Number(_)) => {
                    err(
                        format!("{field}.endPort"),
                        format!("`{end}` is below `port`"),
                    );
                    return None;
                }
                _ => {
                    err(
                        format!("{field}.endPort"),
                        "needs a numeric `port` (Kubernetes refuses it otherwise)".into(),
                    );
                    return None;
                }
            }
        }
    };
    Some(PortSpec {
        protocol,
        port,
        end_port,
        field: field.to_string(),
    })
}

/// An IANA service name as Kubernetes accepts for a named port: 1-15 lower-case letters,
/// digits and `-`, with a letter, not starting or ending with `-`, no `--`.
fn is_port_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && s.bytes().any(|b| b.is_ascii_lowercase())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}
