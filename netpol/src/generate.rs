//! NetworkPolicies that allow exactly the observed flows, and the proof that they do.
//!
//! One policy per workload selects its pods by the labels all its pods share (plus
//! `DoesNotExist` for a label that sets another workload of the namespace apart, where its
//! labels include the first one's). Ingress rules admit each observed source (a workload
//! by its pod labels and, across namespaces, `kubernetes.io/metadata.name`; an external
//! address by an ipBlock of the observed CIDR) on the observed ports; egress rules do the
//! same for destinations and keep DNS to kube-dns open. Rules with the same ports share
//! one rule. Output is sorted, so the same flows give the same policies byte for byte.

use crate::diagnostics::{Diagnostic, ObjectRef};
use crate::flows::Observed;
use crate::ip::IpRange;
use crate::map::{Analyzer, Direction, Endpoint};
use crate::model::{NAMESPACE_NAME_LABEL, SourcedObject, Topology, build};
use crate::ports::{Connections, PortSet, Protocol};
use crate::selector::Labels;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The label generated policies carry.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "palisade");

/// Options of [`generate`].
#[derive(Clone, Copy, Debug, Default)]
pub struct GenerateOptions {
    /// Ingress rules only (as StackRox generates): egress stays open.
    pub ingress_only: bool,
}

/// A label selector as written in a policy.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SelectorDoc {
    /// `matchLabels`.
    #[serde(rename = "matchLabels", skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// `matchExpressions` (only `DoesNotExist` is generated).
    #[serde(rename = "matchExpressions", skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<ExpressionDoc>,
}

/// A `matchExpressions` item.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ExpressionDoc {
    /// The label key.
    pub key: String,
    /// `DoesNotExist`.
    pub operator: String,
}

/// An ipBlock.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct IpBlockDoc {
    /// The CIDR.
    pub cidr: String,
    /// Blocks of it left out.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<String>,
}

/// A peer of a rule.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct PeerDoc {
    /// `podSelector`.
    #[serde(rename = "podSelector", skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<SelectorDoc>,
    /// `namespaceSelector`.
    #[serde(rename = "namespaceSelector", skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<SelectorDoc>,
    /// `ipBlock`.
    #[serde(rename = "ipBlock", skip_serializing_if = "Option::is_none")]
    pub ip_block: Option<IpBlockDoc>,
}

/// A port of a rule.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct PortDoc {
    /// TCP, UDP or SCTP.
    pub protocol: String,
    /// The (first) port.
    pub port: u16,
    /// The last port of a range.
    #[serde(rename = "endPort", skip_serializing_if = "Option::is_none")]
    pub end_port: Option<u16>,
}

/// An ingress or egress rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleDoc {
    /// `from` (ingress).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Vec<PeerDoc>>,
    /// `to` (egress).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Vec<PeerDoc>>,
    /// `ports` (absent: every port of every protocol).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortDoc>,
}

/// `metadata` of a generated policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MetadataDoc {
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Labels (managed-by palisade).
    pub labels: BTreeMap<String, String>,
}

/// `spec` of a generated policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SpecDoc {
    /// `podSelector`.
    #[serde(rename = "podSelector")]
    pub pod_selector: SelectorDoc,
    /// `policyTypes`.
    #[serde(rename = "policyTypes")]
    pub policy_types: Vec<String>,
    /// `ingress`.
    pub ingress: Vec<RuleDoc>,
    /// `egress` (absent with `ingress_only`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub egress: Option<Vec<RuleDoc>>,
}

/// A generated NetworkPolicy, in the field order people write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyDoc {
    /// `networking.k8s.io/v1`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// `NetworkPolicy`.
    pub kind: String,
    /// Metadata.
    pub metadata: MetadataDoc,
    /// Spec.
    pub spec: SpecDoc,
}

/// What the generated set changes against the policies already in the input.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Change {
    /// `ns/name` of generated policies no existing policy has the name of.
    pub add: Vec<String>,
    /// `ns/name` of existing policies a generated one replaces (same name).
    pub replace: Vec<String>,
    /// `ns/name` of existing policies that select only workloads the generated policies
    /// cover: remove them, or they widen what the generated ones allow.
    pub redundant: Vec<String>,
}

/// The generated policies, with what they change and warnings.
#[derive(Clone, Debug, Default)]
pub struct Generated {
    /// One policy per workload that has pod labels, sorted by namespace and name.
    pub policies: Vec<PolicyDoc>,
    /// Against the existing policies.
    pub change: Change,
    /// Workloads that got no policy, selectors that cannot single a workload out.
    pub diagnostics: Vec<Diagnostic>,
}

/// The labels every pod of workload `w` has.
fn common_labels(topology: &Topology, w: usize) -> Labels {
    let shapes = &topology.workloads[w].shapes;
    let Some(first) = shapes.first() else {
        return Labels::new();
    };
    first
        .labels
        .iter()
        .filter(|(k, v)| shapes.iter().all(|s| s.labels.get(*k) == Some(*v)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A selector for the pods of `w` within its namespace, and the workloads it cannot tell
/// apart from `w`.
fn selector_for(topology: &Topology, w: usize) -> (SelectorDoc, Vec<usize>) {
    let labels = common_labels(topology, w);
    let namespace = &topology.workloads[w].namespace;
    let mut selector = SelectorDoc {
        match_labels: labels.clone(),
        match_expressions: Vec::new(),
    };
    let mut alike = Vec::new();
    let mut excluded: BTreeSet<String> = BTreeSet::new();
    for (x, other) in topology.workloads.iter().enumerate() {
        if x == w || &other.namespace != namespace {
            continue;
        }
        for shape in &other.shapes {
            let selected = labels.iter().all(|(k, v)| shape.labels.get(k) == Some(v))
                && !excluded.iter().any(|k| shape.labels.contains_key(k));
            if !selected {
                continue;
            }
            // A key the other pod has and none of w's pods has sets it apart.
            let apart = shape.labels.keys().find(|k| {
                topology.workloads[w]
                    .shapes
                    .iter()
                    .all(|s| !s.labels.contains_key(*k))
            });
            match apart {
                Some(k) => {
                    excluded.insert(k.clone());
                }
                None => {
                    if !alike.contains(&x) {
                        alike.push(x);
                    }
                }
            }
        }
    }
    selector.match_expressions = excluded
        .into_iter()
        .map(|key| ExpressionDoc {
            key,
            operator: "DoesNotExist".into(),
        })
        .collect();
    (selector, alike)
}

fn namespace_selector(namespace: &str) -> SelectorDoc {
    SelectorDoc {
        match_labels: [(NAMESPACE_NAME_LABEL.to_string(), namespace.to_string())].into(),
        match_expressions: Vec::new(),
    }
}

fn port_docs(connections: &Connections) -> Vec<PortDoc> {
    let mut out = Vec::new();
    if connections.is_all() {
        return out;
    }
    for (protocol, ports) in connections.by_protocol() {
        for &(first, last) in ports.ranges() {
            out.push(PortDoc {
                protocol: protocol.name().to_string(),
                port: first,
                end_port: (last > first).then_some(last),
            });
        }
    }
    out
}

/// Rules from peers and what each used: peers with the same ports share a rule.
fn rules(peers: Vec<(PeerDoc, Connections)>, ingress: bool) -> Vec<RuleDoc> {
    let mut by_ports: BTreeMap<Vec<PortDoc>, BTreeSet<PeerDoc>> = BTreeMap::new();
    for (peer, conns) in peers {
        by_ports.entry(port_docs(&conns)).or_default().insert(peer);
    }
    by_ports
        .into_iter()
        .map(|(ports, peers)| {
            let peers: Vec<PeerDoc> = peers.into_iter().collect();
            RuleDoc {
                from: ingress.then(|| peers.clone()),
                to: (!ingress).then_some(peers),
                ports,
            }
        })
        .collect()
}

/// DNS to kube-dns (UDP and TCP 53), kept open for every workload with egress rules.
fn dns_rule() -> RuleDoc {
    RuleDoc {
        from: None,
        to: Some(vec![PeerDoc {
            pod_selector: Some(SelectorDoc {
                match_labels: [("k8s-app".to_string(), "kube-dns".to_string())].into(),
                match_expressions: Vec::new(),
            }),
            namespace_selector: Some(namespace_selector("kube-system")),
            ip_block: None,
        }]),
        ports: vec![
            PortDoc {
                protocol: "TCP".into(),
                port: 53,
                end_port: None,
            },
            PortDoc {
                protocol: "UDP".into(),
                port: 53,
                end_port: None,
            },
        ],
    }
}

/// TCP and UDP 53.
fn dns_connections() -> Connections {
    Connections::of(Protocol::Udp, PortSet::range(53, 53))
        .union(&Connections::of(Protocol::Tcp, PortSet::range(53, 53)))
}

/// Whether workload `w` is kube-dns (in kube-system, labelled `k8s-app: kube-dns`).
fn is_kube_dns(topology: &Topology, w: usize) -> bool {
    let workload = &topology.workloads[w];
    workload.namespace == "kube-system"
        && workload
            .shapes
            .iter()
            .any(|s| s.labels.get("k8s-app").map(String::as_str) == Some("kube-dns"))
}

/// The most ipBlocks a generated policy names per direction: more observed external
/// ranges are merged across their smallest gaps (a policy with a million ipBlocks is
/// neither readable nor cheap for the API server or the network plugin).
pub const MAX_EXTERNAL_PEERS: usize = 256;

type Used = BTreeMap<(Endpoint, Endpoint), Connections>;

/// What `observed` used to and from workload `w`, its external ranges merged to at most
/// [`MAX_EXTERNAL_PEERS`] per direction (`merged` is told the direction and the count
/// when they were more).
fn bounded_external_peers(observed: &Used, w: usize, merged: &mut dyn FnMut(&str, usize)) -> Used {
    let me = Endpoint::Workload(w);
    let mut out: Used = BTreeMap::new();
    // Per direction: the external ranges and what each used.
    let mut external: [Vec<(IpRange, Connections)>; 2] = [Vec::new(), Vec::new()];
    for ((src, dst), conns) in observed {
        match (src, dst) {
            (Endpoint::External(r), d) if *d == me => external[0].push((*r, conns.clone())),
            (s, Endpoint::External(r)) if *s == me => external[1].push((*r, conns.clone())),
            (s, d) if *s == me || *d == me => {
                out.insert((*src, *dst), conns.clone());
            }
            _ => {}
        }
    }
    for (direction, mut ranges) in external.into_iter().enumerate() {
        let name = if direction == 0 {
            "source"
        } else {
            "destination"
        };
        if ranges.len() > MAX_EXTERNAL_PEERS {
            merged(name, ranges.len());
            ranges = merge_smallest_gaps(ranges, MAX_EXTERNAL_PEERS);
        }
        for (range, conns) in ranges {
            let key = if direction == 0 {
                (Endpoint::External(range), me)
            } else {
                (me, Endpoint::External(range))
            };
            out.entry(key).or_insert_with(Connections::none).add(&conns);
        }
    }
    out
}

/// Merges sorted ranges across their smallest gaps until at most `limit` remain; a merged
/// range allows what any of its parts allowed.
fn merge_smallest_gaps(
    mut ranges: Vec<(IpRange, Connections)>,
    limit: usize,
) -> Vec<(IpRange, Connections)> {
    ranges.sort_by_key(|(r, _)| (r.first, r.last));
    // Overlapping or adjacent ranges first (gap 0), then the smallest gaps.
    let mut gaps: Vec<u64> = ranges
        .windows(2)
        .map(|p| u64::from(p[1].0.first).saturating_sub(u64::from(p[0].0.last) + 1))
        .collect();
    gaps.sort_unstable();
    let keep = limit.saturating_sub(1);
    let threshold = gaps.len().checked_sub(keep + 1).map(|i| gaps[i]);
    let mut out: Vec<(IpRange, Connections)> = Vec::new();
    for (range, conns) in ranges {
        if let Some((last, used)) = out.last_mut() {
            let gap = u64::from(range.first).saturating_sub(u64::from(last.last) + 1);
            // At most `keep` gaps exceed the threshold, so at most `limit` ranges remain.
            if threshold.is_some_and(|t| gap <= t) || range.first <= last.last {
                last.last = last.last.max(range.last);
                used.add(&conns);
                continue;
            }
        }
        out.push((range, conns));
    }
    out
}

/// Generates policies for the workloads of `topology` from what `observed` used.
pub fn generate(topology: &Topology, observed: &Observed, options: GenerateOptions) -> Generated {
    let mut out = Generated::default();
    let mut order: Vec<usize> = (0..topology.workloads.len()).collect();
    order.sort_by(|a, b| {
        let (x, y) = (&topology.workloads[*a], &topology.workloads[*b]);
        (&x.namespace, &x.name, &x.kind).cmp(&(&y.namespace, &y.name, &y.kind))
    });
    let selectors: Vec<(SelectorDoc, Vec<usize>)> = (0..topology.workloads.len())
        .map(|w| selector_for(topology, w))
        .collect();
    let peer = |end: &Endpoint, from_namespace: &str| -> Vec<PeerDoc> {
        match end {
            Endpoint::Workload(p) => {
                let workload = &topology.workloads[*p];
                vec![PeerDoc {
                    pod_selector: Some(selectors[*p].0.clone()),
                    namespace_selector: (workload.namespace != from_namespace)
                        .then(|| namespace_selector(&workload.namespace)),
                    ip_block: None,
                }]
            }
            Endpoint::External(range) => {
                let (cidr, except) = range.as_block();
                vec![PeerDoc {
                    pod_selector: None,
                    namespace_selector: None,
                    ip_block: Some(IpBlockDoc { cidr, except }),
                }]
            }
            Endpoint::IngressController => Vec::new(),
        }
    };
    let dns = dns_connections();
    let mut generated_for = BTreeSet::new();
    let mut names: BTreeMap<(String, String), usize> = BTreeMap::new();
    for w in &topology.workloads {
        *names
            .entry((w.namespace.clone(), w.name.clone()))
            .or_default() += 1;
    }
    for &w in &order {
        let workload = &topology.workloads[w];
        let at = ObjectRef::new(&workload.kind, &workload.namespace, &workload.name);
        let (selector, alike) = &selectors[w];
        if selector.match_labels.is_empty() {
            out.diagnostics.push(Diagnostic::warning(
                &workload.file,
                at,
                "metadata.labels",
                "its pods share no label: no policy can select them alone, none is generated"
                    .into(),
            ));
            continue;
        }
        if !alike.is_empty() {
            let others: Vec<String> = alike
                .iter()
                .map(|x| topology.workloads[*x].display_name())
                .collect();
            out.diagnostics.push(Diagnostic::warning(
                &workload.file,
                at,
                "metadata.labels",
                format!(
                    "has the pod labels of {}: no selector tells them apart, so their policies apply to each other's pods",
                    others.join(", ")
                ),
            ));
        }
        let mut ingress_peers = Vec::new();
        let mut egress_peers = Vec::new();
        let used = bounded_external_peers(&observed.used, w, &mut |direction, count| {
            out.diagnostics.push(Diagnostic::warning(
                &workload.file,
                ObjectRef::new(&workload.kind, &workload.namespace, &workload.name),
                "",
                format!(
                    "{count} external {direction} ranges observed: they are merged across the smallest gaps into {MAX_EXTERNAL_PEERS} ipBlocks, which admit addresses between them that no flow used"
                ),
            ));
        });
        for ((src, dst), conns) in &used {
            if *dst == Endpoint::Workload(w) {
                // kube-dns admits DNS from every pod in a rule of its own.
                let conns = if is_kube_dns(topology, w) && matches!(src, Endpoint::Workload(_)) {
                    conns.minus(&dns)
                } else {
                    conns.clone()
                };
                if conns.is_empty() {
                    continue;
                }
                for p in peer(src, &workload.namespace) {
                    ingress_peers.push((p, conns.clone()));
                }
            }
            if *src == Endpoint::Workload(w) {
                // DNS to kube-dns has a rule of its own.
                let conns = match dst {
                    Endpoint::Workload(d) if is_kube_dns(topology, *d) => conns.minus(&dns),
                    _ => conns.clone(),
                };
                if conns.is_empty() {
                    continue;
                }
                for p in peer(dst, &workload.namespace) {
                    egress_peers.push((p, conns.clone()));
                }
            }
        }
        let shared = names
            .get(&(workload.namespace.clone(), workload.name.clone()))
            .is_some_and(|n| *n > 1);
        let name = if shared {
            format!(
                "palisade-{}-{}",
                workload.kind.to_ascii_lowercase(),
                workload.name
            )
        } else {
            format!("palisade-{}", workload.name)
        };
        let egress = (!options.ingress_only).then(|| {
            let mut rules = rules(egress_peers, false);
            rules.push(dns_rule());
            rules
        });
        let mut ingress = rules(ingress_peers, true);
        if is_kube_dns(topology, w) {
            // Every workload keeps DNS: kube-dns admits it from every pod.
            ingress.push(RuleDoc {
                from: Some(vec![PeerDoc {
                    pod_selector: None,
                    namespace_selector: Some(SelectorDoc::default()),
                    ip_block: None,
                }]),
                to: None,
                ports: dns_rule().ports,
            });
        }
        let mut policy_types = vec!["Ingress".to_string()];
        if egress.is_some() {
            policy_types.push("Egress".to_string());
        }
        generated_for.insert(w);
        out.policies.push(PolicyDoc {
            api_version: "networking.k8s.io/v1".into(),
            kind: "NetworkPolicy".into(),
            metadata: MetadataDoc {
                name,
                namespace: workload.namespace.clone(),
                labels: [(MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string())].into(),
            },
            spec: SpecDoc {
                pod_selector: selector.clone(),
                policy_types,
                ingress,
                egress,
            },
        });
    }
    out.change = change(topology, &out.policies, &generated_for);
    out
}

fn change(topology: &Topology, generated: &[PolicyDoc], generated_for: &BTreeSet<usize>) -> Change {
    let mut change = Change::default();
    let existing: BTreeSet<(String, String)> = topology
        .policies
        .iter()
        .map(|p| (p.namespace.clone(), p.name.clone()))
        .collect();
    let mut replaced = BTreeSet::new();
    for g in generated {
        let key = (g.metadata.namespace.clone(), g.metadata.name.clone());
        let name = format!("{}/{}", key.0, key.1);
        if existing.contains(&key) {
            change.replace.push(name);
            replaced.insert(key);
        } else {
            change.add.push(name);
        }
    }
    let analyzer = Analyzer::new(topology);
    let mut selects: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    for w in 0..topology.workloads.len() {
        for dir in [Direction::Ingress, Direction::Egress] {
            for p in analyzer.selecting_policies(w, dir) {
                selects.entry(p).or_default().insert(w);
            }
        }
    }
    for (p, policy) in topology.policies.iter().enumerate() {
        if replaced.contains(&(policy.namespace.clone(), policy.name.clone())) {
            continue;
        }
        let covered = selects
            .get(&p)
            .is_none_or(|selected| selected.iter().all(|w| generated_for.contains(w)));
        if covered {
            change
                .redundant
                .push(format!("{}/{}", policy.namespace, policy.name));
        }
    }
    change
}

/// What the check of a generated set found: observed connections it does not allow, and
/// workload-to-workload connections it allows that no flow used (DNS to kube-dns aside).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Verification {
    /// `src => dst : connections` the flows used and the policies do not allow.
    pub missing: Vec<String>,
    /// `src => dst : connections` allowed between workloads that no flow used.
    pub extra: Vec<String>,
}

impl Verification {
    /// Whether the generated set allows exactly what was observed.
    pub fn is_exact(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty()
    }
}

/// Checks `generated` with the analyzer over the workloads of `topology` alone (its own
/// policies left out, as the generated set replaces them).
pub fn verify(topology: &Topology, observed: &Observed, generated: &[PolicyDoc]) -> Verification {
    let objects: Vec<serde_json::Value> = generated
        .iter()
        .filter_map(|p| serde_json::to_value(p).ok())
        .collect();
    let sourced: Vec<SourcedObject<'_>> = objects
        .iter()
        .map(|object| SourcedObject {
            file: "generated",
            object,
        })
        .collect();
    let (policies, _) = build(&sourced, "default", false);
    let checked = Topology {
        policies: policies.policies,
        ..topology.clone()
    };
    let analyzer = Analyzer::new(&checked);
    let names: Vec<String> = checked.workloads.iter().map(|w| w.display_name()).collect();
    let name = |e: &Endpoint| match e {
        Endpoint::Workload(w) => names[*w].clone(),
        Endpoint::External(r) => format!("{r}[External]"),
        Endpoint::IngressController => "{ingress-controller}".into(),
    };
    let mut result = Verification::default();
    // External addresses are judged piece by piece: the pieces the generated ipBlocks cut
    // the address space into, which every policy treats alike; a range is allowed what
    // every piece it overlaps is allowed.
    let (source_pieces, destination_pieces) = analyzer.external_ranges();
    let pieces = |end: &Endpoint, cut: &[crate::ip::IpRange]| -> Vec<Endpoint> {
        match end {
            Endpoint::External(range) => {
                // The pieces are sorted and disjoint: the first that ends at or after the
                // range's start, up to the last that starts before its end.
                let from = cut.partition_point(|piece| piece.last < range.first);
                cut[from..]
                    .iter()
                    .take_while(|piece| piece.first <= range.last)
                    .map(|piece| Endpoint::External(*piece))
                    .collect()
            }
            other => vec![*other],
        }
    };
    for ((src, dst), conns) in &observed.used {
        let mut allowed: Option<Connections> = None;
        for s in pieces(src, &source_pieces) {
            for d in pieces(dst, &destination_pieces) {
                let here = analyzer.allowed(&s, &d).0;
                allowed = Some(match allowed {
                    None => here,
                    Some(so_far) => so_far.intersect(&here),
                });
            }
        }
        let missing = conns.minus(&allowed.unwrap_or_else(Connections::none));
        if !missing.is_empty() {
            result
                .missing
                .push(format!("{} => {} : {missing}", name(src), name(dst)));
        }
    }
    let dns = dns_connections();
    for a in 0..checked.workloads.len() {
        for b in 0..checked.workloads.len() {
            if a == b {
                continue;
            }
            let (src, dst) = (Endpoint::Workload(a), Endpoint::Workload(b));
            let mut extra = analyzer.allowed(&src, &dst).0;
            if let Some(used) = observed.used.get(&(src, dst)) {
                extra = extra.minus(used);
            }
            if is_kube_dns(&checked, b) {
                extra = extra.minus(&dns);
            }
            if !extra.is_empty() {
                result
                    .extra
                    .push(format!("{} => {} : {extra}", name(&src), name(&dst)));
            }
        }
    }
    result
}
