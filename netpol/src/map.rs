//! The analyzer: which connections NetworkPolicies allow between workloads, external
//! address ranges and an ingress controller.
//!
//! A connection from A to B is what A's egress allows towards B intersected with what B's
//! ingress allows from A. A pod no policy selects for a direction is open in that
//! direction; a selected pod allows the union of the rules of every policy that selects
//! it. External ranges are the pieces the policies' ipBlocks cut the address space into
//! (ingress ipBlocks for sources, egress ipBlocks for destinations).

use crate::diagnostics::{Diagnostic, ObjectRef};
use crate::ip::{IpRange, cut};
use crate::model::{NAMESPACE_NAME_LABEL, PeerSpec, PortRef, Rule, Topology};
use crate::ports::{Connections, PortSet, Protocol};
use crate::selector::Labels;

/// The most source and destination pairs a map decides (see [`Analyzer::check_size`]).
pub const MAX_MAP_QUESTIONS: u64 = 25_000_000;

/// The namespace the ingress controller is taken to run in.
pub const INGRESS_CONTROLLER_NAMESPACE: &str = "ingress-controller-ns";

/// One end of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    /// A workload, by index into [`Topology::workloads`].
    Workload(usize),
    /// A range of external addresses.
    External(IpRange),
    /// The ingress controller (a source only).
    IngressController,
}

/// A direction of traffic at a pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Traffic into the pod.
    Ingress,
    /// Traffic out of the pod.
    Egress,
}

impl Direction {
    fn index(self) -> usize {
        match self {
            Direction::Ingress => 0,
            Direction::Egress => 1,
        }
    }
}

/// An allowed connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// Source.
    pub src: Endpoint,
    /// Destination.
    pub dst: Endpoint,
    /// What is allowed (never empty in a map).
    pub connections: Connections,
}

/// The connectivity map: every allowed connection, sorted by source and destination name.
#[derive(Clone, Debug, Default)]
pub struct ConnectivityMap {
    /// `namespace/name[Kind]` of each workload, by index.
    pub names: Vec<String>,
    /// Namespace of each workload, by index.
    pub namespaces: Vec<String>,
    /// The allowed connections.
    pub links: Vec<Link>,
}

impl ConnectivityMap {
    /// The printed name of an endpoint.
    pub fn name(&self, e: &Endpoint) -> String {
        match e {
            Endpoint::Workload(i) => self.names.get(*i).cloned().unwrap_or_default(),
            Endpoint::External(r) => format!("{r}[External]"),
            Endpoint::IngressController => "{ingress-controller}".to_string(),
        }
    }
}

/// A peer as rules see it.
enum PeerRef<'a> {
    /// An analysis unit (a workload's pod shape).
    Unit(usize),
    /// External addresses.
    Range(&'a IpRange),
    /// A pod with these labels in a namespace with these labels.
    Pod {
        namespace: &'a str,
        labels: &'a Labels,
        namespace_labels: &'a Labels,
    },
}

struct CompiledRule<'t> {
    rule: &'t Rule,
    policy_namespace: &'t str,
    /// Which units the rule's peers match.
    matches_unit: Vec<bool>,
    /// Numeric ports; `all` when the rule has no ports.
    fixed: Connections,
    /// Named ports, resolved against the destination.
    named: Vec<(Protocol, &'t str)>,
}

/// The analysis of one topology: answers for any pair of endpoints.
pub struct Analyzer<'t> {
    topology: &'t Topology,
    /// (workload, shape) of each unit.
    units: Vec<(usize, usize)>,
    /// The first unit of each workload, and how many it has.
    workload_units: Vec<(usize, usize)>,
    rules: Vec<CompiledRule<'t>>,
    /// Per direction, per unit: the rules of the policies selecting it; `None` when no
    /// policy selects it for that direction.
    unit_rules: [Vec<Option<Vec<usize>>>; 2],
    /// Per direction, per unit: the policies selecting it.
    unit_policies: [Vec<Vec<usize>>; 2],
    empty_labels: Labels,
}

impl<'t> Analyzer<'t> {
    /// Prepares the analysis of `topology`.
    pub fn new(topology: &'t Topology) -> Analyzer<'t> {
        let mut units = Vec::new();
        let mut workload_units = Vec::new();
        for (w, workload) in topology.workloads.iter().enumerate() {
            workload_units.push((units.len(), workload.shapes.len()));
            units.extend((0..workload.shapes.len()).map(|s| (w, s)));
        }
        let mut a = Analyzer {
            topology,
            units,
            workload_units,
            rules: Vec::new(),
            unit_rules: [Vec::new(), Vec::new()],
            unit_policies: [Vec::new(), Vec::new()],
            empty_labels: Labels::new(),
        };
        let n = a.units.len();
        a.unit_rules = [vec![None; n], vec![None; n]];
        a.unit_policies = [vec![Vec::new(); n], vec![Vec::new(); n]];
        for (p, policy) in topology.policies.iter().enumerate() {
            for (dir, rules) in [
                (Direction::Ingress, &policy.ingress),
                (Direction::Egress, &policy.egress),
            ] {
                let Some(rules) = rules else { continue };
                let first = a.rules.len();
                for rule in rules {
                    let compiled = a.compile(rule, &policy.namespace);
                    a.rules.push(compiled);
                }
                let ids: Vec<usize> = (first..a.rules.len()).collect();
                for u in 0..n {
                    let (w, s) = a.units[u];
                    let workload = &topology.workloads[w];
                    if workload.namespace == policy.namespace
                        && policy.pod_selector.matches(&workload.shapes[s].labels)
                    {
                        a.unit_rules[dir.index()][u]
                            .get_or_insert_with(Vec::new)
                            .extend(&ids);
                        a.unit_policies[dir.index()][u].push(p);
                    }
                }
            }
        }
        a
    }

    fn compile(&self, rule: &'t Rule, policy_namespace: &'t str) -> CompiledRule<'t> {
        let mut fixed = Connections::none();
        let mut named = Vec::new();
        match &rule.ports {
            None => fixed = Connections::all(),
            Some(specs) => {
                for spec in specs {
                    match &spec.port {
                        None => fixed.add(&Connections::of(spec.protocol, PortSet::all())),
                        Some(PortRef::Number(n)) => fixed.add(&Connections::of(
                            spec.protocol,
                            PortSet::range(*n, spec.end_port.unwrap_or(*n)),
                        )),
                        Some(PortRef::Name(name)) => named.push((spec.protocol, name.as_str())),
                    }
                }
            }
        }
        let mut compiled = CompiledRule {
            rule,
            policy_namespace,
            matches_unit: Vec::new(),
            fixed,
            named,
        };
        compiled.matches_unit = (0..self.units.len())
            .map(|u| self.rule_matches(&compiled, &PeerRef::Unit(u)))
            .collect();
        compiled
    }

    fn namespace_labels(&self, namespace: &str) -> &Labels {
        self.topology
            .namespaces
            .get(namespace)
            .unwrap_or(&self.empty_labels)
    }

    fn rule_matches(&self, rule: &CompiledRule<'_>, peer: &PeerRef<'_>) -> bool {
        let Some(peers) = &rule.rule.peers else {
            return true;
        };
        let (namespace, labels, namespace_labels) = match peer {
            PeerRef::Unit(u) => {
                let (w, s) = self.units[*u];
                let workload = &self.topology.workloads[w];
                (
                    workload.namespace.as_str(),
                    &workload.shapes[s].labels,
                    self.namespace_labels(&workload.namespace),
                )
            }
            PeerRef::Pod {
                namespace,
                labels,
                namespace_labels,
            } => (*namespace, *labels, *namespace_labels),
            PeerRef::Range(range) => {
                return peers
                    .iter()
                    .any(|p| matches!(p, PeerSpec::IpBlock(set) if set.covers(range)));
            }
        };
        peers.iter().any(|p| match p {
            PeerSpec::IpBlock(_) => false,
            PeerSpec::Pods { pods, namespaces } => {
                let ns_ok = match namespaces {
                    None => namespace == rule.policy_namespace,
                    Some(sel) => sel.matches(namespace_labels),
                };
                ns_ok && pods.as_ref().is_none_or(|sel| sel.matches(labels))
            }
        })
    }

    /// The ports a rule allows towards `destination` (named ports resolve against its
    /// container ports; an external destination has none).
    fn rule_ports(&self, rule: &CompiledRule<'_>, destination: Option<usize>) -> Connections {
        let mut out = rule.fixed.clone();
        if rule.named.is_empty() || out.is_all() {
            return out;
        }
        let Some(u) = destination else {
            return out;
        };
        let (w, s) = self.units[u];
        for (protocol, name) in &rule.named {
            for p in &self.topology.workloads[w].shapes[s].ports {
                if p.name == *name && p.protocol == *protocol {
                    out.add(&Connections::of(
                        *protocol,
                        PortSet::range(p.number, p.number),
                    ));
                }
            }
        }
        out
    }

    /// What unit `u` allows in `dir` with `peer`; `port_owner` is the destination unit.
    fn allowed_at(
        &self,
        dir: Direction,
        u: usize,
        peer: &PeerRef<'_>,
        port_owner: Option<usize>,
    ) -> Connections {
        let Some(rules) = &self.unit_rules[dir.index()][u] else {
            return Connections::all();
        };
        let mut out = Connections::none();
        for &r in rules {
            let rule = &self.rules[r];
            let hit = match peer {
                PeerRef::Unit(p) => rule.matches_unit[*p],
                other => self.rule_matches(rule, other),
            };
            if hit {
                out.add(&self.rule_ports(rule, port_owner));
                if out.is_all() {
                    break;
                }
            }
        }
        out
    }

    /// What unit `ua` may open to unit `ub`: its egress meets `ub`'s ingress; a side no
    /// policy selects allows everything, so only the other side is evaluated.
    fn unit_pair(&self, ua: usize, ub: usize) -> Connections {
        let egress_isolated = self.unit_rules[Direction::Egress.index()][ua].is_some();
        let ingress_isolated = self.unit_rules[Direction::Ingress.index()][ub].is_some();
        let ingress = || self.allowed_at(Direction::Ingress, ub, &PeerRef::Unit(ua), Some(ub));
        if !egress_isolated {
            return if ingress_isolated {
                ingress()
            } else {
                Connections::all()
            };
        }
        let egress = self.allowed_at(Direction::Egress, ua, &PeerRef::Unit(ub), Some(ub));
        if egress.is_empty() || !ingress_isolated {
            egress
        } else {
            egress.intersect(&ingress())
        }
    }

    fn units_of(&self, w: usize) -> std::ops::Range<usize> {
        let (first, count) = self.workload_units[w];
        first..first + count
    }

    /// What is allowed from `src` to `dst`, and whether the pods of a workload disagree
    /// (then the answer is the union over them).
    pub fn allowed(&self, src: &Endpoint, dst: &Endpoint) -> (Connections, bool) {
        let mut results: Vec<Connections> = Vec::new();
        match (src, dst) {
            (Endpoint::Workload(a), Endpoint::Workload(b)) => {
                let (units_a, units_b) = (self.units_of(*a), self.units_of(*b));
                if units_a.len() == 1 && units_b.len() == 1 {
                    // One pod shape each (most workloads): no union, no disagreement.
                    return (self.unit_pair(units_a.start, units_b.start), false);
                }
                for ua in units_a {
                    for ub in units_b.clone() {
                        results.push(self.unit_pair(ua, ub));
                    }
                }
            }
            (Endpoint::Workload(a), Endpoint::External(range)) => {
                for ua in self.units_of(*a) {
                    results.push(self.allowed_at(
                        Direction::Egress,
                        ua,
                        &PeerRef::Range(range),
                        None,
                    ));
                }
            }
            (Endpoint::External(range), Endpoint::Workload(b)) => {
                for ub in self.units_of(*b) {
                    results.push(self.allowed_at(
                        Direction::Ingress,
                        ub,
                        &PeerRef::Range(range),
                        Some(ub),
                    ));
                }
            }
            (Endpoint::IngressController, Endpoint::Workload(b)) => {
                let exposed = self.exposed_ports(*b);
                let ns_labels: Labels = [(
                    NAMESPACE_NAME_LABEL.to_string(),
                    INGRESS_CONTROLLER_NAMESPACE.to_string(),
                )]
                .into();
                let pseudo = PeerRef::Pod {
                    namespace: INGRESS_CONTROLLER_NAMESPACE,
                    labels: &self.empty_labels,
                    namespace_labels: &ns_labels,
                };
                for ub in self.units_of(*b) {
                    results.push(exposed.intersect(&self.allowed_at(
                        Direction::Ingress,
                        ub,
                        &pseudo,
                        Some(ub),
                    )));
                }
            }
            _ => results.push(Connections::none()),
        }
        let disagree = results.windows(2).any(|w| w[0] != w[1]);
        let union = results
            .iter()
            .fold(Connections::none(), |acc, c| acc.union(c));
        (union, disagree)
    }

    /// The TCP ports Ingresses and Routes reach on workload `w` through its Services.
    pub fn exposed_ports(&self, w: usize) -> Connections {
        let t = self.topology;
        let workload = &t.workloads[w];
        let mut ports = PortSet::default();
        for e in t
            .exposures
            .iter()
            .filter(|e| e.namespace == workload.namespace)
        {
            let Some(service) = t
                .services
                .iter()
                .find(|s| s.namespace == e.namespace && s.name == e.service)
            else {
                continue;
            };
            if service.selector.is_empty()
                || !workload.shapes.iter().any(|s| {
                    service
                        .selector
                        .iter()
                        .all(|(k, v)| s.labels.get(k) == Some(v))
                })
            {
                continue;
            }
            let used: Vec<_> = match &e.port {
                None => service.ports.iter().collect(),
                Some(wanted) => service
                    .ports
                    .iter()
                    .find(|sp| match wanted {
                        PortRef::Name(n) => &sp.name == n || sp.target.as_ref() == Some(wanted),
                        PortRef::Number(n) => sp.port == *n || sp.target.as_ref() == Some(wanted),
                    })
                    .into_iter()
                    .collect(),
            };
            for sp in used {
                for shape in &workload.shapes {
                    let target = match sp.target.as_ref().unwrap_or(&PortRef::Number(sp.port)) {
                        PortRef::Number(n) => Some(*n),
                        PortRef::Name(n) => shape
                            .ports
                            .iter()
                            .find(|c| &c.name == n && c.protocol == Protocol::Tcp)
                            .map(|c| c.number),
                    };
                    if let Some(n) = target.filter(|n| shape.ports.iter().any(|c| c.number == *n)) {
                        ports = ports.union(&PortSet::range(n, n));
                    }
                }
            }
        }
        Connections::of(Protocol::Tcp, ports)
    }

    /// The policies that select workload `w` for `dir` (empty: it is not isolated).
    pub fn selecting_policies(&self, w: usize, dir: Direction) -> Vec<usize> {
        let mut out: Vec<usize> = self
            .units_of(w)
            .flat_map(|u| self.unit_policies[dir.index()][u].iter().copied())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The external source ranges (cut by ingress ipBlocks) and destination ranges (cut by
    /// egress ipBlocks).
    pub fn external_ranges(&self) -> (Vec<IpRange>, Vec<IpRange>) {
        let ps = &self.topology.policies;
        let ingress: Vec<_> = ps.iter().flat_map(|p| p.ingress_blocks.iter()).collect();
        let egress: Vec<_> = ps.iter().flat_map(|p| p.egress_blocks.iter()).collect();
        (cut(&ingress), cut(&egress))
    }

    /// Refuses a map too large to compute in bounded time and memory: more than
    /// [`MAX_MAP_QUESTIONS`] source and destination pairs to decide (5,000 workloads and no
    /// ipBlocks; 1,000 workloads take a quarter of a second).
    pub fn check_size(&self) -> Result<(), String> {
        let (sources, destinations) = self.external_ranges();
        let workloads = self.topology.workloads.len() as u64;
        let external = (sources.len() + destinations.len()) as u64;
        let pairs = workloads.saturating_mul(workloads.saturating_add(external));
        if pairs > MAX_MAP_QUESTIONS {
            return Err(format!(
                "too large to map: {workloads} workloads and {external} external ranges make {pairs} pairs to decide, more than {MAX_MAP_QUESTIONS}; map fewer namespaces at a time"
            ));
        }
        Ok(())
    }

    /// The whole map, with warnings about workloads whose pods the policies tell apart and
    /// Ingresses or Routes the policies block.
    pub fn map(&self) -> (ConnectivityMap, Vec<Diagnostic>) {
        let t = self.topology;
        let mut links = Vec::new();
        let mut diagnostics = Vec::new();
        let mut disagreeing = vec![false; t.workloads.len()];
        let (sources, destinations) = self.external_ranges();
        let mut push =
            |src: Endpoint, dst: Endpoint, (connections, disagree): (Connections, bool)| {
                if disagree {
                    for e in [src, dst] {
                        if let Endpoint::Workload(w) = e {
                            disagreeing[w] = true;
                        }
                    }
                }
                if !connections.is_empty() {
                    links.push(Link {
                        src,
                        dst,
                        connections,
                    });
                }
            };
        for a in 0..t.workloads.len() {
            let src = Endpoint::Workload(a);
            for b in 0..t.workloads.len() {
                if a != b {
                    let dst = Endpoint::Workload(b);
                    push(src, dst, self.allowed(&src, &dst));
                }
            }
            for range in &destinations {
                let dst = Endpoint::External(*range);
                push(src, dst, self.allowed(&src, &dst));
            }
            for range in &sources {
                let from = Endpoint::External(*range);
                push(from, src, self.allowed(&from, &src));
            }
            if !self.exposed_ports(a).is_empty() {
                let from = Endpoint::IngressController;
                let (conns, disagree) = self.allowed(&from, &src);
                if conns.is_empty() {
                    let w = &t.workloads[a];
                    diagnostics.push(Diagnostic::warning(
                        &w.file,
                        ObjectRef::new(&w.kind, &w.namespace, &w.name),
                        "",
                        "is reached by an Ingress or Route, but its ingress policies block the ingress controller".into(),
                    ));
                }
                push(from, src, (conns, disagree));
            }
        }
        for (w, flag) in disagreeing.iter().enumerate() {
            if *flag {
                let w = &t.workloads[w];
                diagnostics.push(Diagnostic::warning(
                    &w.file,
                    ObjectRef::new(&w.kind, &w.namespace, &w.name),
                    "metadata.labels",
                    "has pods with different labels or ports that the policies treat differently: the map shows the union of what they allow".into(),
                ));
            }
        }
        let map = ConnectivityMap {
            names: t.workloads.iter().map(|w| w.display_name()).collect(),
            namespaces: t.workloads.iter().map(|w| w.namespace.clone()).collect(),
            links,
        };
        // Sorted by source and destination name: each endpoint is named once and ranked.
        let mut endpoints: Vec<Endpoint> = map.links.iter().flat_map(|l| [l.src, l.dst]).collect();
        endpoints.sort_unstable();
        endpoints.dedup();
        let mut named: Vec<(String, Endpoint)> =
            endpoints.into_iter().map(|e| (map.name(&e), e)).collect();
        named.sort();
        let rank: std::collections::HashMap<Endpoint, usize> = named
            .iter()
            .enumerate()
            .map(|(i, (_, e))| (*e, i))
            .collect();
        let mut links = map.links;
        links.sort_by_cached_key(|l| (rank.get(&l.src).copied(), rank.get(&l.dst).copied()));
        (ConnectivityMap { links, ..map }, diagnostics)
    }
}
