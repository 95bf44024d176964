//! Network segmentation at scale: the connectivity map of 1,000 workloads under 500
//! NetworkPolicies (and of a quarter and a half of that, to show how the cost grows with
//! workloads x policies), and generation from 1,000,000 observed flows.
//!
//! Each measured pass starts from the parsed objects or flows (a fresh analyzer, a fresh
//! resolution), as a CLI run does; the setup that makes them is outside the timing.
//! `cargo bench -p palisade-benches --bench netpol`.

use criterion::{BatchSize, Criterion, black_box, criterion_group, criterion_main};
use palisade_netpol::{
    Analyzer, Flow, FlowEnd, GenerateOptions, Observed, Protocol, SourcedObject, Topology, build,
    generate, resolve, unused, verify,
};
use serde_json::{Value, json};
use std::time::Duration;

const PER_NAMESPACE: usize = 20;

/// `workloads` Deployments in namespaces of 20, each labelled `app: wN` and `tier: tK`, and
/// `policies` NetworkPolicies spread over the namespaces: each selects one tier of its
/// namespace and admits, on two ports, the previous tier of its namespace and the same tier
/// of the next namespace; every fifth also restricts egress to an external block.
fn objects(workloads: usize, policies: usize) -> Vec<Value> {
    let namespaces = workloads.div_ceil(PER_NAMESPACE);
    let mut out = Vec::new();
    for n in 0..namespaces {
        out.push(json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": format!("ns{n}"), "labels": {"zone": format!("z{}", n % 4)}}}));
    }
    for w in 0..workloads {
        let ns = w / PER_NAMESPACE;
        out.push(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": format!("w{w}"), "namespace": format!("ns{ns}")},
            "spec": {"template": {
                "metadata": {"labels": {"app": format!("w{w}"), "tier": format!("t{}", w % 5)}},
                "spec": {"containers": [{"name": "c", "image": "x",
                    "ports": [{"name": "http", "containerPort": 8080}]}]}}}}));
    }
    for p in 0..policies {
        let ns = p % namespaces;
        let tier = (p / namespaces) % 5;
        let mut spec = json!({
            "podSelector": {"matchLabels": {"tier": format!("t{tier}")}},
            "ingress": [
                {"from": [{"podSelector": {"matchLabels": {"tier": format!("t{}", (tier + 4) % 5)}}}],
                 "ports": [{"port": "http"}, {"port": 9000, "endPort": 9100, "protocol": "TCP"}]},
                {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": format!("ns{}", (ns + 1) % namespaces)}},
                           "podSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": [format!("t{tier}")]}]}}],
                 "ports": [{"port": 8080}]}
            ]
        });
        if p % 5 == 0 {
            spec["egress"] = json!([{"to": [{"ipBlock": {"cidr": format!("10.{}.0.0/16", p % 256),
                "except": [format!("10.{}.1.0/24", p % 256)]}}], "ports": [{"port": 443}]}]);
        }
        out.push(
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": format!("p{p}"), "namespace": format!("ns{ns}")}, "spec": spec}),
        );
    }
    out
}

fn topology(objects: &[Value]) -> Topology {
    let sourced: Vec<SourcedObject<'_>> = objects
        .iter()
        .map(|object| SourcedObject {
            file: "bench.yaml",
            object,
        })
        .collect();
    build(&sourced, "default", false).0
}

/// `count` flows between the workloads of `topology` (each workload talks to a few
/// others, so the observed set repeats as real flow logs do) and to external addresses.
fn flows(topology: &Topology, count: usize) -> Vec<Flow> {
    let n = topology.workloads.len();
    let end = |w: usize| {
        let workload = &topology.workloads[w % n];
        FlowEnd::Workload {
            namespace: workload.namespace.clone(),
            name: workload.name.clone(),
            kind: None,
            labels: None,
        }
    };
    (0..count)
        .map(|i| {
            let src = i % n;
            let dst = if i % 11 == 0 {
                FlowEnd::External(palisade_netpol::IpRange {
                    first: 0xcb00_7100 + (i % 64) as u32,
                    last: 0xcb00_7100 + (i % 64) as u32,
                })
            } else {
                end(src + 1 + (i / n) % 3)
            };
            Flow {
                src: end(src),
                dst,
                protocol: if i % 7 == 0 {
                    Protocol::Udp
                } else {
                    Protocol::Tcp
                },
                port: [8080, 9000, 443, 53][i % 4],
                file: "flows.json".into(),
                id: format!("f{i}"),
            }
        })
        .collect()
}

fn map(c: &mut Criterion) {
    let mut g = c.benchmark_group("netpol_map");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    for (workloads, policies) in [(250, 125), (500, 250), (1000, 500)] {
        let objects = objects(workloads, policies);
        let t = topology(&objects);
        assert_eq!(t.workloads.len(), workloads);
        assert_eq!(t.policies.len(), policies);
        g.bench_function(format!("{workloads}_workloads_{policies}_policies"), |b| {
            b.iter(|| {
                let (map, _) = Analyzer::new(black_box(&t)).map();
                black_box(map.links.len())
            })
        });
    }
    // From the objects: checking every field of every policy and building the topology.
    let objects = objects(1000, 500);
    g.bench_function("build_1000_workloads_500_policies", |b| {
        b.iter(|| black_box(topology(black_box(&objects)).policies.len()))
    });
    g.finish();
}

fn generation(c: &mut Criterion) {
    let mut g = c.benchmark_group("netpol_generate");
    g.sample_size(10).measurement_time(Duration::from_secs(30));
    let base = topology(&objects(1000, 0));
    let flows = flows(&base, 1_000_000);
    g.bench_function("resolve_and_generate_1000000_flows", |b| {
        b.iter_batched(
            || base.clone(),
            |mut t| {
                let mut observed = Observed::default();
                resolve(&mut t, &flows, &mut observed);
                let generated = generate(&t, &observed, GenerateOptions::default());
                black_box(generated.policies.len())
            },
            BatchSize::LargeInput,
        )
    });
    let mut t = base.clone();
    let mut observed = Observed::default();
    resolve(&mut t, &flows, &mut observed);
    let generated = generate(&t, &observed, GenerateOptions::default());
    g.bench_function("verify_1000_generated_policies", |b| {
        b.iter(|| black_box(verify(&t, &observed, &generated.policies).is_exact()))
    });
    // Unused paths of the 1,000-workload, 500-policy map against what the flows used.
    let mut with_policies = topology(&objects(1000, 500));
    let mut seen = Observed::default();
    resolve(&mut with_policies, &flows, &mut seen);
    let (map, _) = Analyzer::new(&with_policies).map();
    g.bench_function("unused_1000_workloads_500_policies_1000000_flows", |b| {
        b.iter(|| black_box(unused(&map, &seen).unused.len()))
    });
    g.finish();
}

criterion_group!(benches, map, generation);
criterion_main!(benches);
