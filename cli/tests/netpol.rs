#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly on broken fixtures"
)]
//! `palisade netpol map | unused | generate` end to end over examples/segmentation: golden
//! output, bad input named by file, object and field, and the library's network-policy
//! policies, which fire on the manifests alone and stop once the generated policies are
//! added. `BLESS=1` rewrites the golden files.

mod common;
use common::{golden, root, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn palisade(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .current_dir(root())
        .env("PALISADE_NOW", "2026-12-01T00:00:00Z")
        .env("NO_COLOR", "1")
        .output()
        .expect("run palisade")
}

const MANIFESTS: &str = "examples/segmentation/manifests.yaml";
const FLOWS: &str = "examples/segmentation/flows.json";

/// The example's workloads without their NetworkPolicy, and the policies generated from its
/// flows, as files in `dir`.
fn workloads_and_generated(dir: &Path) -> (PathBuf, PathBuf) {
    let o = palisade(&["netpol", "generate", "--input", MANIFESTS, FLOWS]);
    let generated = dir.join("generated.yaml");
    std::fs::write(&generated, &o.stdout).unwrap();
    let manifests = std::fs::read_to_string(root().join(MANIFESTS)).unwrap();
    let without: Vec<&str> = manifests
        .split("\n---\n")
        .filter(|d| !d.contains("kind: NetworkPolicy"))
        .collect();
    let workloads = dir.join("workloads.yaml");
    std::fs::write(&workloads, without.join("\n---\n")).unwrap();
    (workloads, generated)
}

#[test]
fn map_in_every_format_is_golden() {
    for format in ["txt", "json", "dot", "csv", "md"] {
        let o = palisade(&["netpol", "map", "--input", MANIFESTS, "--format", format]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        golden(&format!("netpol-map.{format}"), &text(&o.stdout));
    }
}

#[test]
fn unused_paths_are_golden_in_text_and_json() {
    let o = palisade(&["netpol", "unused", "--input", MANIFESTS, FLOWS]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    golden("netpol-unused.txt", &text(&o.stdout));
    // The flow from a workload no manifest defines is named, not dropped.
    assert!(
        text(&o.stderr)
            .contains("flows.json: network_flow `f7`: `source.name` `monitoring/prometheus`"),
        "{}",
        text(&o.stderr)
    );
    let o = palisade(&[
        "netpol", "unused", "--input", MANIFESTS, FLOWS, "--format", "json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["allowed_paths"], 27);
    assert_eq!(report["unused"].as_array().map(Vec::len), Some(21));
    assert_eq!(report["namespaces"]["payments"]["allowed"], 9);
    assert_eq!(report["flows"], 7);
    assert_eq!(report["flows_resolved"], 6);
    golden("netpol-unused.json", &text(&o.stdout));
}

#[test]
fn generate_is_golden_deterministic_and_verified() {
    let o = palisade(&["netpol", "generate", "--input", MANIFESTS, FLOWS]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    golden("netpol-generate.yaml", &text(&o.stdout));
    let stderr = text(&o.stderr);
    assert!(
        stderr.contains("redundant 1 (shop/redis-from-shop)"),
        "{stderr}"
    );
    assert!(stderr.contains("palisade: verified:"), "{stderr}");
    // Byte for byte the same with the inputs in another order and the flows shuffled.
    let dir = tempfile::tempdir().unwrap();
    let mut flows: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(root().join(FLOWS)).unwrap()).unwrap();
    flows.reverse();
    let shuffled = dir.path().join("flows.json");
    std::fs::write(&shuffled, serde_json::to_string(&flows).unwrap()).unwrap();
    let again = palisade(&[
        "netpol",
        "generate",
        "--input",
        shuffled.to_str().unwrap(),
        MANIFESTS,
    ]);
    assert_eq!(text(&again.stdout), text(&o.stdout));
    // Ingress only: no egress rules, no Egress policy type.
    let ingress = palisade(&[
        "netpol",
        "generate",
        "--ingress-only",
        "--input",
        MANIFESTS,
        FLOWS,
    ]);
    assert_eq!(ingress.status.code(), Some(0), "{}", text(&ingress.stderr));
    let yaml = text(&ingress.stdout);
    assert!(
        !yaml.contains("egress") && !yaml.contains("Egress"),
        "{yaml}"
    );
    golden("netpol-generate-ingress-only.yaml", &yaml);
}

#[test]
fn generated_policies_map_to_exactly_the_observed_flows() {
    let dir = tempfile::tempdir().unwrap();
    let (workloads, generated) = workloads_and_generated(dir.path());
    let map = palisade(&[
        "netpol",
        "map",
        "--input",
        workloads.to_str().unwrap(),
        generated.to_str().unwrap(),
    ]);
    assert_eq!(map.status.code(), Some(0), "{}", text(&map.stderr));
    let lines: Vec<String> = text(&map.stdout).lines().map(str::to_string).collect();
    let dns = "kube-system/coredns[Deployment] : TCP 53,UDP 53";
    let mut expected = [
        "203.0.113.0-203.0.113.255[External] => shop/frontend[Deployment] : TCP 8080".to_string(),
        "payments/payments-api[Deployment] => 198.51.100.7-198.51.100.7[External] : TCP 443".into(),
        format!("payments/payments-api[Deployment] => {dns}"),
        "shop/cart[Deployment] => payments/payments-api[Deployment] : TCP 8443".into(),
        format!("shop/cart[Deployment] => {dns}"),
        "shop/cart[Deployment] => shop/redis[StatefulSet] : TCP 6379".into(),
        format!("shop/frontend[Deployment] => {dns}"),
        "shop/frontend[Deployment] => shop/cart[Deployment] : TCP 7070".into(),
        format!("shop/redis[StatefulSet] => {dns}"),
    ];
    expected.sort();
    assert_eq!(lines, expected);
}

#[test]
fn library_network_policy_policies_fire_without_policies_and_stop_with_the_generated_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (workloads, generated) = workloads_and_generated(dir.path());
    let fired = |inputs: &[&str]| -> Vec<(String, String)> {
        let mut args = vec!["check", "--builtin", "--all", "--format", "json", "--input"];
        args.extend_from_slice(inputs);
        let o = palisade(&args);
        let report: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", text(&o.stderr)));
        let mut out: Vec<(String, String)> = report["violations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| {
                v["policy"]
                    .as_str()
                    .unwrap_or("")
                    .contains("Network Policy")
            })
            .map(|v| {
                (
                    v["policy"].as_str().unwrap_or("").to_string(),
                    v["record"]["name"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        out.sort();
        out
    };
    let before = fired(&[workloads.to_str().unwrap()]);
    // Both policies fire for every workload outside kube-system (it is excluded).
    let names: Vec<&str> = before.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(before.len(), 8, "{before:?}");
    for n in ["cart", "frontend", "payments-api", "redis"] {
        assert_eq!(names.iter().filter(|x| **x == n).count(), 2, "{before:?}");
    }
    let after = fired(&[workloads.to_str().unwrap(), generated.to_str().unwrap()]);
    assert!(after.is_empty(), "{after:?}");
}

#[test]
fn bad_policies_and_flows_are_named_by_file_object_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: bad, namespace: shop}\nspec:\n  podSelector: {matchExpressions: [{key: app, operator: Near, values: [x]}]}\n  ingress:\n    - from: [{ipBlock: {cidr: 10.0.0.0/40}}]\n      ports: [{protocol: ICMP, port: 80}]\n",
    )
    .unwrap();
    let o = palisade(&["netpol", "map", "--input", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    let stderr = text(&o.stderr);
    for field in [
        "NetworkPolicy `shop/bad`: `spec.podSelector.matchExpressions[0].operator`",
        "`spec.ingress[0].from[0].ipBlock.cidr`",
        "`spec.ingress[0].ports[0].protocol`",
    ] {
        assert!(stderr.contains(field), "{field} in {stderr}");
    }
    assert!(stderr.contains("bad.yaml"), "{stderr}");
    // `check` refuses the same file with the first error.
    let o = palisade(&["check", "--builtin", "--input", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("NetworkPolicy `shop/bad`"),
        "{}",
        text(&o.stderr)
    );
    // A flow without a port is a warning naming it; without any flow, generate is an error.
    let flows = dir.path().join("flows.json");
    std::fs::write(
        &flows,
        r#"[{"kind": "network_flow", "id": "no-port", "source": {"namespace": "a", "name": "b"}, "destination": {"namespace": "a", "name": "c"}}]"#,
    )
    .unwrap();
    let o = palisade(&[
        "netpol",
        "generate",
        "--input",
        MANIFESTS,
        flows.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let stderr = text(&o.stderr);
    assert!(
        stderr.contains("network_flow `no-port`: `port` is missing"),
        "{stderr}"
    );
    assert!(
        stderr.contains("no network flows among the inputs"),
        "{stderr}"
    );
}

#[test]
fn hubble_flows_generate_policies_for_the_workloads_they_name() {
    let o = palisade(&[
        "netpol",
        "generate",
        "--input",
        "adapters/tests/samples/hubble-tcp-flows.json",
        "adapters/tests/samples/hubble-udp-flows.json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    golden("netpol-generate-hubble.yaml", &text(&o.stdout));
    let stderr = text(&o.stderr);
    assert!(stderr.contains("palisade: verified:"), "{stderr}");
    assert!(
        stderr.contains("64 flow(s) not used: Hubble reply"),
        "replies are counted: {stderr}"
    );
}

#[test]
fn hostile_inputs_end_with_exit_2_and_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    // 5,001 bare pods: too many pairs to map in bounded time; refused before it starts.
    let pods: String = (0..5_001)
        .map(|i| format!("---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, labels: {{app: p{i}}}}}\nspec: {{containers: []}}\n"))
        .collect();
    let many = dir.path().join("many.yaml");
    std::fs::write(&many, pods).unwrap();
    for command in ["map", "unused"] {
        let o = palisade(&["netpol", command, "--input", many.to_str().unwrap(), FLOWS]);
        assert_eq!(o.status.code(), Some(2), "{command}: {}", text(&o.stderr));
        assert!(o.stdout.is_empty());
        assert!(
            text(&o.stderr).contains("too large to map: 5001 workloads"),
            "{}",
            text(&o.stderr)
        );
    }
    // Hubble JSON Lines cut in the middle of a flow: a position, not a partial answer.
    let hubble =
        std::fs::read_to_string(root().join("adapters/tests/samples/hubble-10-flows.json"))
            .unwrap();
    let truncated = dir.path().join("truncated.json");
    std::fs::write(&truncated, &hubble[..hubble.len() / 2]).unwrap();
    let o = palisade(&["netpol", "generate", "--input", truncated.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(o.stdout.is_empty());
    assert!(
        text(&o.stderr).contains("truncated.json:"),
        "{}",
        text(&o.stderr)
    );
    // Binary data is refused after its first 64 KiB, not read to the size limit.
    let o = palisade(&["netpol", "map", "--input", "/dev/zero"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("binary"), "{}", text(&o.stderr));
    // 100,000 nested lists in place of a manifest: the YAML budget refuses it at once.
    let nested = dir.path().join("nested.yaml");
    std::fs::write(&nested, "[".repeat(100_000)).unwrap();
    let o = palisade(&["netpol", "map", "--input", nested.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
}
