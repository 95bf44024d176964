#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly on broken fixtures"
)]
//! Property: for any topology (workloads in a few namespaces, some sharing labels) and any
//! set of observed flows between them and external addresses, the generated policies
//! allow every observed flow and no workload-to-workload connection that was not observed
//! (DNS to kube-dns aside), checked with the analyzer; and generation is deterministic.

use palisade_netpol::{
    Connections, Endpoint, GenerateOptions, IpRange, Observed, PodShape, PortSet, Protocol,
    Topology, Workload, generate, verify,
};
use proptest::prelude::*;

const NAMESPACES: [&str; 3] = ["shop", "payments", "kube-system"];

/// Workload i: namespace, name `w{i}`, a shared `tier` label and, when `named`, a unique
/// `app: w{i}` (a workload without it has labels the named ones of its tier include, so
/// its selector must leave them out); workload 0 may be kube-dns.
fn topology(spec: &[(usize, u8, bool)], with_dns: bool) -> Topology {
    let mut t = Topology::default();
    for (i, (ns, tier, named)) in spec.iter().enumerate() {
        let mut labels: std::collections::BTreeMap<String, String> =
            [("tier".to_string(), format!("t{tier}"))].into();
        let namespace = if i == 0 && with_dns {
            labels.insert("k8s-app".into(), "kube-dns".into());
            "kube-system"
        } else {
            if *named {
                labels.insert("app".into(), format!("w{i}"));
            }
            NAMESPACES[ns % 2]
        };
        t.workloads.push(Workload {
            namespace: namespace.into(),
            name: format!("w{i}"),
            kind: "Deployment".into(),
            shapes: vec![PodShape {
                labels,
                ports: Vec::new(),
            }],
            file: "generated".into(),
        });
    }
    for ns in NAMESPACES {
        t.namespaces.insert(
            ns.into(),
            [("kubernetes.io/metadata.name".to_string(), ns.to_string())].into(),
        );
    }
    t
}

fn protocol(p: u8) -> Protocol {
    match p % 3 {
        0 => Protocol::Tcp,
        1 => Protocol::Udp,
        _ => Protocol::Sctp,
    }
}

fn observed(n: usize, flows: &[(usize, usize, u8, u16, Option<u8>)]) -> Observed {
    let mut o = Observed::default();
    for &(a, b, p, port, external) in flows {
        let (src, dst) = match external {
            // An external peer: a /24 or /32 of a documentation range, either direction.
            Some(x) => {
                let base = 0xc633_6400 + u32::from(x % 4) * 256; // 198.51.100.0 + ...
                let range = if x % 2 == 0 {
                    IpRange {
                        first: base,
                        last: base + 255,
                    }
                } else {
                    IpRange {
                        first: base + 7,
                        last: base + 7,
                    }
                };
                if x % 3 == 0 {
                    (Endpoint::External(range), Endpoint::Workload(a % n))
                } else {
                    (Endpoint::Workload(a % n), Endpoint::External(range))
                }
            }
            None => {
                if a % n == b % n {
                    continue;
                }
                (Endpoint::Workload(a % n), Endpoint::Workload(b % n))
            }
        };
        o.flows += 1;
        o.used
            .entry((src, dst))
            .or_insert_with(Connections::none)
            .add(&Connections::of(protocol(p), PortSet::range(port, port)));
    }
    o
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PALISADE_PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64)
    ))]

    #[test]
    fn generated_policies_allow_exactly_the_observed_flows(
        spec in prop::collection::vec((0usize..3, 0u8..3, prop::bool::weighted(0.8)), 1..8),
        with_dns in any::<bool>(),
        flows in prop::collection::vec(
            (0usize..8, 0usize..8, 0u8..3, prop_oneof![Just(53u16), Just(80), Just(443), 1u16..=65535],
             prop::option::weighted(0.2, 0u8..12)),
            0..24),
        ingress_only in any::<bool>(),
    ) {
        let topology = topology(&spec, with_dns);
        // Workloads with the same labels in one namespace cannot be told apart by any
        // policy (generate warns about them); the property is about all the others.
        let distinct = topology.workloads.iter().enumerate().all(|(i, a)| {
            topology.workloads[..i].iter().all(|b| {
                a.namespace != b.namespace || a.shapes[0].labels != b.shapes[0].labels
            })
        });
        prop_assume!(distinct);
        let observed = observed(topology.workloads.len(), &flows);
        let options = GenerateOptions { ingress_only };
        let generated = generate(&topology, &observed, options);
        prop_assert_eq!(generated.policies.len(), topology.workloads.len());
        let verification = verify(&topology, &observed, &generated.policies);
        prop_assert!(verification.missing.is_empty(), "{:?}", verification);
        prop_assert!(verification.extra.is_empty(), "{:?}", verification);
        // The same input gives the same policies.
        let again = generate(&topology, &observed, options);
        prop_assert_eq!(again.policies, generated.policies);
    }
}

/// A workload reached from 1,000 external addresses gets at most MAX_EXTERNAL_PEERS
/// ipBlocks, which still allow every observed flow (and a warning says they were merged).
#[test]
fn many_external_peers_are_merged_into_a_bounded_number_of_ip_blocks() {
    let t = topology(&[(0, 0, true), (0, 1, true)], false);
    let mut o = Observed::default();
    for i in 0..1000u32 {
        // Every fourth address of 198.51.100.0/22 and beyond: 1,000 ranges with gaps.
        let ip = 0xc633_6400 + i * 4;
        o.flows += 1;
        o.used
            .entry((
                Endpoint::External(IpRange {
                    first: ip,
                    last: ip,
                }),
                Endpoint::Workload(0),
            ))
            .or_insert_with(Connections::none)
            .add(&Connections::of(Protocol::Tcp, PortSet::range(443, 443)));
    }
    let generated = generate(&t, &o, GenerateOptions::default());
    let blocks = serde_json::to_value(&generated.policies[0]).unwrap()["spec"]["ingress"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["from"].as_array().cloned().unwrap_or_default())
        .count();
    assert!(
        (1..=palisade_netpol::MAX_EXTERNAL_PEERS).contains(&blocks),
        "{blocks} ipBlocks"
    );
    assert!(
        generated
            .diagnostics
            .iter()
            .any(|d| d.message.contains("1000 external source ranges observed")),
        "{:?}",
        generated.diagnostics
    );
    let verification = verify(&t, &o, &generated.policies);
    assert!(verification.is_exact(), "{verification:?}");
}

/// A map of more pairs than MAX_MAP_QUESTIONS is refused before it is computed.
#[test]
fn a_map_too_large_to_compute_is_refused() {
    let spec: Vec<(usize, u8, bool)> = (0..5_001).map(|_| (0, 0, true)).collect();
    let t = topology(&spec, false);
    let why = palisade_netpol::Analyzer::new(&t).check_size().unwrap_err();
    assert!(why.starts_with("too large to map: 5001 workloads"), "{why}");
    let small = topology(&spec[..1000], false);
    assert!(palisade_netpol::Analyzer::new(&small).check_size().is_ok());
}
