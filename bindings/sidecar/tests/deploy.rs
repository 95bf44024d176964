//! deploy/palisade.yaml, read by Palisade's own Kubernetes reader and checked by the
//! built-in library; and its pieces agree with each other, with the Dockerfile and with `palisade-serve`.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use serde_json::{Value, json};
use std::path::Path;

fn manifest() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/palisade.yaml"),
    )
    .unwrap()
}

fn objects(kind: &str) -> Vec<Value> {
    let text = manifest();
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
    docs.into_iter().filter(|v| v["kind"] == kind).collect()
}

/// Asserts every argument is a flag `palisade-serve --help` lists (the image runs it).
fn assert_flags_of_palisade_serve(args: &[&str]) {
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_palisade-serve"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for a in args {
        let flag = a.split('=').next().unwrap();
        let documented = help
            .lines()
            .any(|l| l.trim_start().split([' ', '=']).next() == Some(flag));
        assert!(
            flag.starts_with("--") && documented,
            "{a} is not a flag of palisade-serve"
        );
    }
}

/// The container's mount that holds `path`: whether it is read-only, and its volume.
fn volume_of(pod: &Value, container: &Value, path: &str) -> (bool, Value) {
    let mount = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| path.starts_with(m["mountPath"].as_str().unwrap()))
        .unwrap_or_else(|| panic!("{path} is not mounted"));
    let volume = pod["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap()
        .clone();
    (mount["readOnly"].as_bool().unwrap_or(false), volume)
}

/// The policies of a ConfigMap compile.
fn assert_config_map_compiles(config_map: &Value) {
    let policies: Vec<Value> = config_map["data"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(n, t)| json!({"name": n, "text": t}))
        .collect();
    let compiled: Value = serde_json::from_str(&palisade_api::compile_json(
        &json!({"policies": policies}).to_string(),
    ))
    .unwrap();
    assert_eq!(compiled["ok"], true, "{compiled}");
}

#[test]
fn the_kubernetes_reader_sees_the_sidecar_deployment() {
    let converted = palisade_adapters::convert(&manifest()).unwrap();
    assert_eq!(
        converted.format,
        Some(palisade_adapters::Format::Kubernetes)
    );
    assert_eq!(converted.records.len(), 1, "one workload");
    // The Service is read for what it exposes; the rest is not a workload.
    assert_eq!(converted.context.get("Service"), Some(&1));
    for kind in ["ValidatingWebhookConfiguration", "ConfigMap"] {
        assert_eq!(
            converted.skipped.get(kind),
            Some(&1),
            "{kind}: {:?}",
            converted.skipped
        );
    }
    let d = &converted.records[0];
    assert_eq!(
        (d["kind"].as_str(), d["namespace"].as_str()),
        (Some("deployment"), Some("palisade"))
    );
    let c = &d["containers"][0];
    assert_eq!(c["security_context"]["run_as_non_root"], true);
    assert_eq!(c["security_context"]["read_only_root_filesystem"], true);
    assert_eq!(c["security_context"]["drop_capabilities"], json!(["ALL"]));
    assert!(c["resources"]["memory_limit_mb"].as_f64().unwrap() > 0.0);
    assert_eq!(
        (
            c["liveness_probe_defined"].as_bool(),
            c["readiness_probe_defined"].as_bool()
        ),
        (Some(true), Some(true))
    );
}

#[test]
fn the_built_in_library_finds_only_the_missing_scan() {
    let request = json!({"builtin": true, "all": true, "now": "2026-11-26T12:00:00Z",
        "inputs": [{"name": "deploy/palisade.yaml", "text": manifest()}]});
    let report: Value =
        serde_json::from_str(&palisade_api::check_json(&request.to_string())).unwrap();
    let fired: Vec<&str> = report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["policy"].as_str().unwrap())
        .collect();
    // Manifests carry no image scan; the image is scanned in CI before it is published.
    assert_eq!(fired, ["Images with no scans"], "{report}");
}

#[test]
fn webhook_service_deployment_and_policies_agree() {
    let webhook = &objects("ValidatingWebhookConfiguration")[0]["webhooks"][0];
    let service = &objects("Service")[0];
    let deployment = &objects("Deployment")[0];
    let target = &webhook["clientConfig"]["service"];
    assert_eq!(target["path"], "/v1/admit");
    assert_eq!(target["name"], service["metadata"]["name"]);
    assert_eq!(target["namespace"], service["metadata"]["namespace"]);
    assert_eq!(target["port"], service["spec"]["ports"][0]["port"]);
    assert_eq!(webhook["admissionReviewVersions"], json!(["v1"]));
    let pod = &deployment["spec"]["template"];
    assert_eq!(service["spec"]["selector"], pod["metadata"]["labels"]);
    let container = &pod["spec"]["containers"][0];
    let port = &container["ports"][0];
    assert_eq!(service["spec"]["ports"][0]["targetPort"], port["name"]);
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    // The image runs `palisade-serve` (Dockerfile): every argument is one of its flags.
    assert_flags_of_palisade_serve(&args);
    let arg = |name: &str| {
        args.iter()
            .find_map(|a| a.strip_prefix(&format!("--{name}=")))
            .unwrap_or_else(|| panic!("--{name}"))
    };
    let listen: std::net::SocketAddr = arg("listen").parse().unwrap();
    assert_eq!(json!(listen.port()), port["containerPort"]);
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    // Every path the server reads is mounted from the object that provides it.
    let mount_of = |path: &str| volume_of(pod, container, path).1;
    let certificate = &objects("Certificate")[0];
    assert_eq!(
        mount_of(arg("tls-cert"))["secret"]["secretName"],
        certificate["spec"]["secretName"]
    );
    assert_eq!(
        mount_of(arg("tls-key"))["secret"]["secretName"],
        certificate["spec"]["secretName"]
    );
    let config_map = &objects("ConfigMap")[0];
    assert_eq!(
        mount_of(arg("policies"))["configMap"]["name"],
        config_map["metadata"]["name"]
    );
    // The ConfigMap's policies compile.
    assert_config_map_compiles(config_map);
}

#[test]
fn the_dockerfile_builds_the_deployments_image_with_the_server_binary_only_as_non_root() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    let stages: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(
        stages.len(),
        2,
        "multi-stage: a builder and the runtime image"
    );
    let runtime = &dockerfile[dockerfile.rfind("\nFROM ").unwrap()..];
    // The runtime stage copies one file, the server binary, and runs it as the user the
    // Deployment's securityContext names.
    let copies: Vec<&str> = runtime.lines().filter(|l| l.starts_with("COPY")).collect();
    assert_eq!(
        copies,
        ["COPY --from=build /out/palisade-serve /usr/local/bin/palisade-serve"]
    );
    assert!(runtime.contains("ENTRYPOINT [\"/usr/local/bin/palisade-serve\"]"));
    let deployment = &objects("Deployment")[0];
    let pod = &deployment["spec"]["template"]["spec"];
    let uid = pod["securityContext"]["runAsUser"].as_u64().unwrap();
    let gid = pod["securityContext"]["runAsGroup"].as_u64().unwrap();
    assert!(runtime.contains(&format!("USER {uid}:{gid}")), "{runtime}");
    assert_ne!(uid, 0);
    // The builder builds exactly that binary from the locked workspace.
    assert!(
        dockerfile
            .contains("cargo build --release --locked -p palisade-sidecar --bin palisade-serve")
    );
    let image = pod["containers"][0]["image"].as_str().unwrap();
    assert!(
        dockerfile.contains(&format!("docker build -t {image} .")),
        "{image}"
    );
}

fn events_manifest() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/palisade-events.yaml"),
    )
    .unwrap()
}

fn events_objects(kind: &str) -> Vec<Value> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(&events_manifest()).unwrap();
    docs.into_iter().filter(|v| v["kind"] == kind).collect()
}

#[test]
fn the_kubernetes_reader_sees_the_event_replicas_and_the_library_finds_only_the_missing_scan() {
    let converted = palisade_adapters::convert(&events_manifest()).unwrap();
    assert_eq!(converted.records.len(), 1, "one workload");
    for kind in ["ConfigMap", "PersistentVolumeClaim", "ServiceAccount"] {
        assert_eq!(converted.skipped.get(kind), Some(&1), "{kind}");
    }
    let d = &converted.records[0];
    assert_eq!(
        (
            d["kind"].as_str(),
            d["name"].as_str(),
            d["replicas"].as_u64()
        ),
        (Some("deployment"), Some("palisade-events"), Some(2))
    );
    let c = &d["containers"][0];
    assert_eq!(c["security_context"]["run_as_non_root"], true);
    assert_eq!(c["security_context"]["read_only_root_filesystem"], true);
    assert_eq!(c["security_context"]["drop_capabilities"], json!(["ALL"]));
    let request = json!({"builtin": true, "all": true, "now": "2026-11-26T12:00:00Z",
        "inputs": [{"name": "deploy/palisade-events.yaml", "text": events_manifest()}]});
    let report: Value =
        serde_json::from_str(&palisade_api::check_json(&request.to_string())).unwrap();
    let fired: Vec<&str> = report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["policy"].as_str().unwrap())
        .collect();
    assert_eq!(fired, ["Images with no scans"], "{report}");
}

#[test]
fn the_event_replicas_consume_nats_and_each_write_their_own_evidence_log() {
    let deployment = &events_objects("Deployment")[0];
    assert_eq!(deployment["spec"]["replicas"], 2);
    let pod = &deployment["spec"]["template"];
    let container = &pod["spec"]["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_flags_of_palisade_serve(&args);
    let arg = |name: &str| {
        args.iter()
            .find_map(|a| a.strip_prefix(&format!("--{name}=")))
            .unwrap_or_else(|| panic!("--{name}"))
    };
    // No webhook here: plain HTTP for probes and metrics, no TLS flags.
    assert!(!args.iter().any(|a| a.starts_with("--tls")));
    let listen: std::net::SocketAddr = arg("listen").parse().unwrap();
    let port = &container["ports"][0];
    assert_eq!(json!(listen.port()), port["containerPort"]);
    for probe in ["readinessProbe", "livenessProbe"] {
        assert_eq!(container[probe]["httpGet"]["port"], port["name"], "{probe}");
    }
    // Each replica its own log: the file is named after the pod (downward API).
    let log = arg("evidence");
    assert!(log.ends_with("/$(POD_NAME).db"), "{log}");
    let pod_name = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "POD_NAME")
        .unwrap();
    assert_eq!(
        pod_name["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.name"
    );
    let mount_of = |path: &str| volume_of(pod, container, path);
    let (read_only, volume) = mount_of(log);
    assert!(!read_only, "the evidence volume is written");
    let claim = &events_objects("PersistentVolumeClaim")[0];
    assert_eq!(
        volume["persistentVolumeClaim"]["claimName"],
        claim["metadata"]["name"]
    );
    assert_eq!(claim["spec"]["accessModes"], json!(["ReadWriteMany"]));
    let (_, key) = mount_of(arg("evidence-key"));
    assert_eq!(key["secret"]["secretName"], "palisade-evidence-key");
    let (_, policies) = mount_of(arg("policies"));
    let config_map = &events_objects("ConfigMap")[0];
    assert_eq!(
        policies["configMap"]["name"],
        config_map["metadata"]["name"]
    );
    assert_config_map_compiles(config_map);
    // The NetworkPolicy lets the replicas reach NATS on the port --events names.
    let events = arg("events");
    let nats_port: u64 = events.rsplit(':').next().unwrap().parse().unwrap();
    let policy = &events_objects("NetworkPolicy")[0];
    assert_eq!(
        policy["spec"]["podSelector"]["matchLabels"],
        pod["metadata"]["labels"]
    );
    let egress_ports: Vec<u64> = policy["spec"]["egress"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|rule| rule["ports"].as_array().unwrap().iter())
        .filter_map(|p| p["port"].as_u64())
        .collect();
    assert!(egress_ports.contains(&nats_port), "{egress_ports:?}");
}
