#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly on broken fixtures"
)]
//! Golden conversions: each sample in `tests/samples/` (third-party files, see PROVENANCE.md)
//! converts to exactly `tests/golden/<sample>.json`. `BLESS=1` rewrites the golden files.

use std::path::Path;

#[test]
fn samples_convert_to_golden_records() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut samples: Vec<_> = std::fs::read_dir(dir.join("samples"))
        .expect("samples")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e != "md"))
        .collect();
    samples.sort();
    assert!(samples.len() >= 10);
    let mut formats = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    for path in samples {
        let text = std::fs::read_to_string(&path).expect("read");
        let converted =
            palisade_adapters::convert(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        formats.insert(format!("{:?}", converted.format));
        let actual = serde_json::to_string_pretty(&serde_json::json!({
            "format": converted.format.map(|f| f.name()),
            "skipped": converted.skipped,
            "records": converted.records,
        }))
        .expect("json")
            + "\n";
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("x")
            .to_string();
        let golden = dir.join("golden").join(format!("{name}.out.json"));
        if std::env::var_os("BLESS").is_some() {
            std::fs::write(&golden, &actual).expect("write");
            continue;
        }
        if std::fs::read_to_string(&golden).unwrap_or_default() != actual {
            failures.push(name);
        }
    }
    assert_eq!(
        formats.len(),
        7,
        "one sample per format at least: {formats:?}"
    );
    assert!(
        failures.is_empty(),
        "golden mismatches (BLESS=1 to update): {failures:?}"
    );
}

#[test]
fn kubernetes_defaults_are_explicit_and_contexts_merge() {
    let yaml = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, annotations: {"container.apparmor.security.beta.kubernetes.io/app": unconfined}}
spec:
  replicas: 2
  template:
    metadata: {labels: {app: web}}
    spec:
      securityContext: {runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
      volumes: [{name: sock, hostPath: {path: /var/run/docker.sock}}, {name: creds, secret: {secretName: db}}]
      initContainers: [{name: init, image: busybox}]
      containers:
      - name: app
        image: nginx@sha256:abc
        securityContext: {runAsUser: 0, capabilities: {add: [CAP_NET_ADMIN], drop: [all]}}
        env:
        - {name: A, value: "1"}
        - {name: B, valueFrom: {secretKeyRef: {name: db, key: pw}}}
        - {name: C, valueFrom: {configMapKeyRef: {name: cfg, key: c}}}
        - {name: D, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        volumeMounts: [{name: sock, mountPath: /var/run/docker.sock}, {name: creds, mountPath: /creds, readOnly: true}]
        resources: {requests: {cpu: 250m, memory: 64Mi}, limits: {memory: 1Gi}}
"#;
    let c = palisade_adapters::convert(yaml).expect("converts");
    let d = &c.records[0];
    assert_eq!(d["id"], "shop/Deployment/web");
    assert_eq!(d["replicas"], 2);
    assert_eq!(d["host_network"], false);
    assert_eq!(d["automount_service_account_token"], true);
    let init = &d["containers"][0];
    assert_eq!(init["type"], "init");
    assert_eq!(init["security_context"]["privileged"], false);
    assert_eq!(init["security_context"]["allow_privilege_escalation"], true);
    assert_eq!(init["resources"]["memory_limit_mb"], 0);
    let app = &d["containers"][1];
    assert_eq!(app["image"]["id"], "sha256:abc");
    assert_eq!(
        app["security_context"]["run_as_user"], 0,
        "container overrides pod"
    );
    assert_eq!(
        app["security_context"]["seccomp_profile"], "RuntimeDefault",
        "inherited from the pod"
    );
    assert_eq!(
        app["security_context"]["apparmor_profile"], "unconfined",
        "from the older annotation"
    );
    assert_eq!(
        app["security_context"]["add_capabilities"],
        serde_json::json!(["NET_ADMIN"])
    );
    assert_eq!(
        app["security_context"]["drop_capabilities"],
        serde_json::json!(["ALL"])
    );
    let sources: Vec<&str> = app["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["raw", "secret_key", "config_map_key", "field"]);
    assert_eq!(app["volumes"][0]["type"], "HostPath");
    assert_eq!(app["volumes"][0]["source"], "/var/run/docker.sock");
    assert_eq!(app["volumes"][1]["read_only"], true);
    assert_eq!(app["secrets_mounted"], serde_json::json!(["db"]));
    assert_eq!(app["resources"]["cpu_request_cores"], 0.25);
    assert_eq!(app["resources"]["memory_request_mb"], 64);
    assert_eq!(app["resources"]["memory_limit_mb"], 1024);
}

#[test]
fn broken_inputs_fail_with_a_position_or_a_reason() {
    let e =
        palisade_adapters::convert("apiVersion: v1\nkind: Pod\nmetadata: [unclosed\n").unwrap_err();
    assert!(e.to_string().contains("invalid YAML"), "{e}");
    let e = palisade_adapters::convert(
        r#"{"api_version": "v1", "kind": "Pod", "metadata": {"name": "x"}}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("apiVersion"), "{e}");
    let e = palisade_adapters::convert(r#"{"hello": "world"}"#).unwrap_err();
    assert!(e.to_string().contains("not a recognized input"), "{e}");
    let e = palisade_adapters::convert("{\"matches\": [").unwrap_err();
    assert!(
        matches!(e, palisade_adapters::AdapterError::Syntax { .. }),
        "{e}"
    );
}

/// Found by `cargo fuzz run adapters`: malformed times and odd values must not produce
/// records the engine rejects.
#[test]
fn fuzz_regressions_produce_valid_fields() {
    let falco = r#"{"output":"x","priority":"Warning","rule":"r","time":"2016-08-04T16:17:@57.882008208Z","output_fields":{"proc.name":"cat"}}"#;
    let c = palisade_adapters::convert(falco).expect("converts");
    assert!(
        c.records[0].get("time").is_none(),
        "a malformed time is dropped: {:?}",
        c.records[0]
    );
    let review = r#"{"kind":"AdmissionReview","request":{"uid":"u","operation":"CONNECT","subResource":"exec","name":"p","userInfo":{"username":"a","groups":"notalist"},"object":{"command":["sh",1,null]}}}"#;
    let c = palisade_adapters::convert(review).expect("converts");
    assert_eq!(
        c.records[0]["command"],
        serde_json::json!(["sh", "1", "null"])
    );
    assert_eq!(c.records[0]["user"]["groups"], serde_json::json!([]));
}
