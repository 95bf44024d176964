#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly on broken fixtures"
)]
//! Bad NetworkPolicies: every error and warning names the file, the object and the field;
//! errors are what the API server would refuse, warnings what netpol-analyzer warns about
//! and goes on. Pods fold into their controller.

use palisade_netpol::{Analyzer, Level, MapFormat, SourcedObject, build, render};
use serde_json::Value;

fn diagnostics(yaml: &str) -> (Vec<String>, Option<String>) {
    let objects: Vec<Value> = palisade_adapters::manifest_objects(yaml).unwrap();
    let sourced: Vec<SourcedObject<'_>> = objects
        .iter()
        .map(|object| SourcedObject {
            file: "k8s/net.yaml",
            object,
        })
        .collect();
    let (topology, diagnostics) = build(&sourced, "default", false);
    let errors = diagnostics.iter().any(|d| d.level == Level::Error);
    let map = (!errors).then(|| render(&Analyzer::new(&topology).map().0, MapFormat::Txt));
    (diagnostics.iter().map(ToString::to_string).collect(), map)
}

const PODS: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web-abc, namespace: shop, labels: {app: web}, ownerReferences: [{kind: ReplicaSet, name: web-7d9c, controller: true}]}\nspec: {containers: [{name: c, image: x, ports: [{name: http, containerPort: 8080}]}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: web-def, namespace: shop, labels: {app: web}, ownerReferences: [{kind: ReplicaSet, name: web-7d9c, controller: true}]}\nspec: {containers: [{name: c, image: x, ports: [{name: http, containerPort: 8080}]}]}\n";

#[test]
fn errors_name_file_object_and_field_and_give_no_map() {
    let bad = "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: q, namespace: shop}\nspec:\n  podSelector: {matchExpressions: [{key: app, operator: Near, values: [web]}]}\n  policyTypes: [Ingress, Sideways]\n  ingress:\n    - from: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}, {ipBlock: {cidr: 10.0.0.0/33}}]\n      ports: [{port: 70000}, {port: 80, endPort: 20}, {protocol: ICMP}]\n";
    let (messages, map) = diagnostics(&format!("{PODS}{bad}"));
    assert_eq!(map, None, "no map from objects the API server refuses");
    let expected = [
        "error: k8s/net.yaml: NetworkPolicy `shop/q`: `spec.podSelector.matchExpressions[0].operator`",
        "error: k8s/net.yaml: NetworkPolicy `shop/q`: `spec.ingress[0].from[0]` has an `ipBlock` and a selector",
        "error: k8s/net.yaml: NetworkPolicy `shop/q`: `spec.ingress[0].from[1].ipBlock.cidr` `10.0.0.0/33` is not a CIDR",
        "error: k8s/net.yaml: NetworkPolicy `shop/q`: `spec.ingress[0].ports[0].port` `70000` is not a port number",
        "error: k8s/net.yaml: NetworkPolicy `shop/q`: `spec.ingress[0].ports[1].endPort` `20` is below `port`",
        "error: k8s/net.yaml: NetworkPolicy `shop/q`: `spec.ingress[0].ports[2].protocol` `\"ICMP\"` is not a protocol",
        "error: k8s/net.yaml: NetworkPolicy `shop/q`: `spec.policyTypes[1]` `\"Sideways\"` is not a policy type",
    ];
    for e in expected {
        assert!(
            messages.iter().any(|m| m.starts_with(e)),
            "{e}\nnot in {messages:#?}"
        );
    }
}

#[test]
fn warnings_keep_the_map_and_say_what_it_leaves_out() {
    let policy = "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: shop}\nspec:\n  podSelector: {}\n  ingress:\n    - from: [{ipBlock: {cidr: \"2001:db8::/32\"}}]\n    - ports: [{port: metrics}]\n";
    let (messages, map) = diagnostics(&format!("{PODS}{policy}"));
    assert_eq!(
        messages,
        [
            "warning: k8s/net.yaml: NetworkPolicy `shop/p`: `spec.ingress[0].from[0].ipBlock.cidr` `2001:db8::/32` is IPv6: the map covers IPv4 addresses, so this peer matches none of them",
            "warning: k8s/net.yaml: NetworkPolicy `shop/p`: `spec.ingress[1].ports[0].port` named port `metrics` (TCP) is defined by no container of the pods the policy selects: it allows nothing",
        ]
    );
    // Both pods fold into their ReplicaSet; ingress allows nothing, egress is open.
    assert_eq!(
        map.as_deref(),
        Some("shop/web-7d9c[ReplicaSet] => 0.0.0.0-255.255.255.255[External] : All Connections\n")
    );
}
