//! Observed flows: `network_flow` records (records.md) read as connections between
//! workloads and external addresses, resolved against a topology.
//!
//! A flow end names a workload (namespace and name, maybe its kind and pod labels) or an
//! external address (`cidr`). It resolves to a workload of the topology by namespace and
//! name, else by pod labels (the one workload of that namespace whose pod template labels
//! the flow's labels include); an end that names labels but no known workload becomes a
//! workload of its own (a peer outside the manifests: policies can still select it by its
//! labels). Every other end is unresolved: counted by reason and reported, never dropped
//! in silence.

use crate::diagnostics::{Diagnostic, ObjectRef};
use crate::ip::{IpRange, parse_cidr};
use crate::map::Endpoint;
use crate::model::{PodShape, Topology, Workload};
use crate::ports::{Connections, PortSet, Protocol};
use crate::selector::Labels;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// One end of an observed flow, as the record names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlowEnd {
    /// A workload (or a pod of one).
    Workload {
        /// Namespace.
        namespace: String,
        /// Workload name.
        name: String,
        /// Workload kind, when the source knows it.
        kind: Option<String>,
        /// Pod labels, when the source knows them.
        labels: Option<Labels>,
    },
    /// External addresses.
    External(IpRange),
}

/// An observed flow: `src` opened a connection to `dst` on `protocol`/`port`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flow {
    /// The initiator.
    pub src: FlowEnd,
    /// The listener.
    pub dst: FlowEnd,
    /// Protocol.
    pub protocol: Protocol,
    /// Destination port.
    pub port: u16,
    /// The file it came from.
    pub file: String,
    /// The record's id (`#N` for the Nth record when it has none).
    pub id: String,
}

/// What the observed flows used, by pair of endpoints, after resolution.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// The connections used from each source to each destination.
    pub used: BTreeMap<(Endpoint, Endpoint), Connections>,
    /// Flows read.
    pub flows: usize,
    /// Flows not used, counted by reason.
    pub unresolved: BTreeMap<String, usize>,
}

impl Observed {
    /// Flows whose ends were resolved.
    pub fn resolved(&self) -> usize {
        self.flows - self.unresolved.values().sum::<usize>()
    }
}

fn get_str<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Reads the `network_flow` records among `records` (others are ignored) of `file`.
/// Flows that cannot be read (no port, an unknown protocol, an end that is neither a
/// workload nor an address) are counted in `unread` by reason; the first of each reason
/// are warnings naming the record and the field.
pub fn read_flows(
    file: &str,
    records: &[Value],
    unread: &mut BTreeMap<String, usize>,
) -> (Vec<Flow>, Vec<Diagnostic>) {
    let mut flows = Vec::new();
    let mut diagnostics = Vec::new();
    for (i, r) in records.iter().enumerate() {
        if get_str(r, "kind") != Some("network_flow") {
            continue;
        }
        let id = get_str(r, "id")
            .map(str::to_string)
            .unwrap_or_else(|| format!("#{}", i + 1));
        let at = ObjectRef::new("network_flow", "", &id);
        let mut fail = |field: &str, message: String, reason: &str| {
            let count = unread.entry(reason.to_string()).or_default();
            if *count < MAX_WARNINGS_PER_REASON {
                diagnostics.push(Diagnostic::warning(file, at.clone(), field, message));
            }
            *count += 1;
        };
        let protocol_text = get_str(r, "protocol").unwrap_or("TCP");
        let Some(protocol) = Protocol::parse(protocol_text) else {
            fail(
                "protocol",
                format!("`{protocol_text}` is not TCP, UDP or SCTP: the flow is not used"),
                "protocol other than TCP, UDP or SCTP",
            );
            continue;
        };
        let port = r.get("port").and_then(Value::as_u64);
        let Some(port) = port.and_then(|p| u16::try_from(p).ok()).filter(|p| *p > 0) else {
            fail(
                "port",
                "is missing or not a port number (1-65535): the flow is not used".into(),
                "no destination port",
            );
            continue;
        };
        let src = flow_end(r.get("source"));
        let dst = flow_end(r.get("destination"));
        match (src, dst) {
            (Ok(src), Ok(dst)) => flows.push(Flow {
                src,
                dst,
                protocol,
                port,
                file: file.to_string(),
                id: id.clone(),
            }),
            (Err(why), _) => fail(
                "source",
                why,
                "an end that is neither a workload nor an address",
            ),
            (_, Err(why)) => fail(
                "destination",
                why,
                "an end that is neither a workload nor an address",
            ),
        }
    }
    (flows, diagnostics)
}

fn flow_end(v: Option<&Value>) -> Result<FlowEnd, String> {
    let Some(v) = v.filter(|v| v.is_object()) else {
        return Err("is missing: the flow is not used".into());
    };
    let kind = get_str(v, "type").unwrap_or("deployment");
    if let Some(name) = get_str(v, "name").filter(|_| kind == "deployment") {
        let labels = v.get("labels").and_then(Value::as_object).map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        });
        return Ok(FlowEnd::Workload {
            namespace: get_str(v, "namespace").unwrap_or("default").to_string(),
            name: name.to_string(),
            kind: get_str(v, "workload_kind").map(str::to_string),
            labels,
        });
    }
    let address = get_str(v, "cidr").or_else(|| get_str(v, "ip"));
    match address {
        Some(a) => {
            let cidr = if a.contains('/') {
                a.to_string()
            } else {
                format!("{a}/32")
            };
            parse_cidr(&cidr)
                .map(FlowEnd::External)
                .map_err(|e| match e {
                    crate::ip::CidrError::Ipv6 => {
                        "an IPv6 address (the map covers IPv4)".to_string()
                    }
                    crate::ip::CidrError::Invalid => {
                        format!("`{a}` is not an IPv4 address or CIDR: the flow is not used")
                    }
                })
        }
        None => Err(format!(
            "names no workload (`name`) and no address (`cidr`) for type `{kind}`: the flow is not used"
        )),
    }
}

/// Resolves flows against `topology`, adding a workload for each labelled end that names
/// none of its workloads. Ends that name an unknown workload without labels are
/// unresolved: counted in `observed` and warned about (the first few per reason), naming
/// the file, the flow and the field.
pub fn resolve(
    topology: &mut Topology,
    flows: &[Flow],
    observed: &mut Observed,
) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let mut by_name: Names = HashMap::new();
    for (i, w) in topology.workloads.iter().enumerate() {
        by_name
            .entry(w.namespace.clone())
            .or_default()
            .entry(w.name.clone())
            .or_insert(i);
    }
    observed.flows += flows.len();
    // Ports used, by pair and protocol, gathered before they become port sets.
    let mut ports: HashMap<(Endpoint, Endpoint, Protocol), Vec<u16>> = HashMap::new();
    for f in flows {
        let src = endpoint(topology, &mut by_name, &f.src);
        let dst = endpoint(topology, &mut by_name, &f.dst);
        let unknown = match (&src, &dst) {
            (Err(why), _) => Some(("source", why, &f.src)),
            (_, Err(why)) => Some(("destination", why, &f.dst)),
            _ => None,
        };
        if let Some((
            field,
            why,
            FlowEnd::Workload {
                namespace, name, ..
            },
        )) = unknown
        {
            let seen = observed.unresolved.get(why).copied().unwrap_or(0);
            if seen < MAX_WARNINGS_PER_REASON {
                diagnostics.push(Diagnostic::warning(
                    &f.file,
                    ObjectRef::new("network_flow", "", &f.id),
                    &format!("{field}.name"),
                    format!("`{namespace}/{name}` is {why}: the flow is not used"),
                ));
            }
        }
        match (src, dst) {
            (Ok(src), Ok(dst)) => {
                if src == dst && matches!(src, Endpoint::Workload(_)) {
                    *observed
                        .unresolved
                        .entry("within one workload (no policy applies)".into())
                        .or_default() += 1;
                    continue;
                }
                if let (Endpoint::External(_), Endpoint::External(_)) = (src, dst) {
                    *observed
                        .unresolved
                        .entry("between two external addresses".into())
                        .or_default() += 1;
                    continue;
                }
                ports
                    .entry((src, dst, f.protocol))
                    .or_default()
                    .push(f.port);
            }
            (Err(why), _) | (_, Err(why)) => {
                *observed.unresolved.entry(why).or_default() += 1;
            }
        }
    }
    for ((src, dst, protocol), mut list) in ports {
        list.sort_unstable();
        list.dedup();
        let mut set = PortSet::default();
        let mut i = 0;
        while i < list.len() {
            // Consecutive ports make one range.
            let first = list[i];
            let mut last = first;
            while i + 1 < list.len() && list[i + 1] == last.saturating_add(1) {
                i += 1;
                last = list[i];
            }
            set = set.union(&PortSet::range(first, last));
            i += 1;
        }
        observed
            .used
            .entry((src, dst))
            .or_insert_with(Connections::none)
            .add(&Connections::of(protocol, set));
    }
    diagnostics
}

/// Workload indices by namespace and name.
type Names = HashMap<String, HashMap<String, usize>>;

/// Unresolved flows of one reason warned about one by one; the rest are counted.
const MAX_WARNINGS_PER_REASON: usize = 20;

fn endpoint(
    topology: &mut Topology,
    by_name: &mut Names,
    end: &FlowEnd,
) -> Result<Endpoint, String> {
    let (namespace, name, kind, labels) = match end {
        FlowEnd::External(range) => return Ok(Endpoint::External(*range)),
        FlowEnd::Workload {
            namespace,
            name,
            kind,
            labels,
        } => (namespace, name, kind, labels),
    };
    if let Some(i) = by_name
        .get(namespace.as_str())
        .and_then(|m| m.get(name.as_str()))
    {
        return Ok(Endpoint::Workload(*i));
    }
    let Some(labels) = labels else {
        return Err("a workload that no manifest defines and the flow gives no labels of".into());
    };
    let candidates: Vec<usize> = topology
        .workloads
        .iter()
        .enumerate()
        .filter(|(_, w)| {
            &w.namespace == namespace
                && w.shapes.iter().any(|s| {
                    !s.labels.is_empty() && s.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
                })
        })
        .map(|(i, _)| i)
        .collect();
    if let [one] = candidates[..] {
        by_name
            .entry(namespace.clone())
            .or_default()
            .insert(name.clone(), one);
        return Ok(Endpoint::Workload(one));
    }
    let index = topology.workloads.len();
    topology.workloads.push(Workload {
        namespace: namespace.clone(),
        name: name.clone(),
        kind: kind.clone().unwrap_or_else(|| "Workload".into()),
        shapes: vec![PodShape {
            labels: labels.clone(),
            ports: Vec::new(),
        }],
        file: String::new(),
    });
    topology
        .namespaces
        .entry(namespace.clone())
        .or_default()
        .entry(crate::model::NAMESPACE_NAME_LABEL.to_string())
        .or_insert_with(|| namespace.clone());
    by_name
        .entry(namespace.clone())
        .or_default()
        .insert(name.clone(), index);
    Ok(Endpoint::Workload(index))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shop() -> Topology {
        let mut t = Topology::default();
        for name in ["web", "db"] {
            t.workloads.push(Workload {
                namespace: "shop".into(),
                name: name.into(),
                kind: "Deployment".into(),
                shapes: vec![PodShape {
                    labels: [("app".to_string(), name.to_string())].into(),
                    ports: Vec::new(),
                }],
                file: "m.yaml".into(),
            });
        }
        t
    }

    #[test]
    fn a_hundred_thousand_unreadable_flows_are_counted_and_only_the_first_warned_about() {
        let bad = json!({"kind": "network_flow", "protocol": "ICMP", "port": 1,
            "source": {"namespace": "a", "name": "b"}, "destination": {"namespace": "a", "name": "c"}});
        let records = vec![bad; 100_000];
        let mut unread = BTreeMap::new();
        let (flows, diagnostics) = read_flows("f.json", &records, &mut unread);
        assert!(flows.is_empty());
        assert_eq!(diagnostics.len(), MAX_WARNINGS_PER_REASON);
        assert_eq!(
            unread.get("protocol other than TCP, UDP or SCTP"),
            Some(&100_000)
        );
    }

    #[test]
    fn flows_resolve_by_name_by_labels_or_become_workloads_of_their_own() {
        let records = vec![
            json!({"kind": "network_flow", "id": "a", "port": 5432, "protocol": "TCP",
                   "source": {"namespace": "shop", "name": "web"},
                   "destination": {"type": "deployment", "namespace": "shop", "name": "db-7d9c-xk2p",
                                   "labels": {"app": "db", "pod-template-hash": "7d9c"}}}),
            json!({"kind": "network_flow", "id": "b", "port": 443,
                   "source": {"namespace": "shop", "name": "web"},
                   "destination": {"type": "external", "cidr": "203.0.113.0/24"}}),
            json!({"kind": "network_flow", "id": "c", "port": 9090, "protocol": "TCP",
                   "source": {"namespace": "mon", "name": "prometheus", "labels": {"app": "prom"}},
                   "destination": {"namespace": "shop", "name": "web"}}),
            json!({"kind": "network_flow", "id": "d", "port": 80,
                   "source": {"namespace": "shop", "name": "ghost"},
                   "destination": {"namespace": "shop", "name": "web"}}),
            json!({"kind": "network_flow", "id": "e", "protocol": "ICMP", "port": 0,
                   "source": {"namespace": "shop", "name": "web"},
                   "destination": {"namespace": "shop", "name": "db"}}),
            json!({"kind": "process", "id": "not a flow"}),
        ];
        let mut unread = BTreeMap::new();
        let (flows, diagnostics) = read_flows("flows.json", &records, &mut unread);
        assert_eq!(flows.len(), 4);
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(
            diagnostics[0].to_string(),
            "warning: flows.json: network_flow `e`: `protocol` `ICMP` is not TCP, UDP or SCTP: the flow is not used"
        );
        let mut topology = shop();
        let mut observed = Observed {
            flows: unread.values().sum(),
            unresolved: unread,
            ..Default::default()
        };
        let warnings = resolve(&mut topology, &flows, &mut observed);
        assert_eq!(
            warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "warning: flows.json: network_flow `d`: `source.name` `shop/ghost` is a workload that no manifest defines and the flow gives no labels of: the flow is not used"
            ]
        );
        assert_eq!(observed.flows, 5);
        assert_eq!(observed.resolved(), 3);
        assert_eq!(
            topology.workloads.len(),
            3,
            "prometheus joined the topology"
        );
        assert_eq!(
            topology.workloads[2].display_name(),
            "mon/prometheus[Workload]"
        );
        let web = Endpoint::Workload(0);
        let db = Endpoint::Workload(1);
        assert!(observed.used[&(web, db)].allows(Protocol::Tcp, 5432));
        let external = Endpoint::External(parse_cidr("203.0.113.0/24").unwrap_or(IpRange::ALL));
        assert!(observed.used[&(web, external)].allows(Protocol::Tcp, 443));
        assert!(observed.used[&(Endpoint::Workload(2), web)].allows(Protocol::Tcp, 9090));
        assert_eq!(
            observed
                .unresolved
                .get("a workload that no manifest defines and the flow gives no labels of"),
            Some(&1)
        );
    }
}
