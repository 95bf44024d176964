//! Exported enforcer policies: Tetragon documents validate against Tetragon's CRD schema
//! (schemas/README.md), Falco rules files have what Falco requires of lists and rules.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests"
)]

use palisade_baseline::Baseline;
use palisade_baseline::export::{ExportOptions, Target, export};
use palisade_engine::record::Timestamp;
use serde_json::{Value, json};

fn baseline(workload: &str, container: &str, processes: &[&str]) -> Baseline {
    Baseline {
        namespace: Some("prod".into()),
        workload: Some(workload.into()),
        container: container.into(),
        processes: processes.iter().map(|p| p.to_string()).collect(),
        startup: vec!["/docker-entrypoint.sh".into()],
        startup_seconds: Some(60),
        pod_labels: [("app.kubernetes.io/name".to_string(), workload.to_string())].into(),
        locked: true,
        locked_at: Some(Timestamp(1_700_000_000)),
        locked_by: Some("window".into()),
        ..Baseline::default()
    }
}

fn crd_validator() -> jsonschema::Validator {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schemas/cilium.io_tracingpoliciesnamespaced.yaml"
    );
    let crd: Value = serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let version = &crd["spec"]["versions"][0];
    assert_eq!(version["name"], "v1alpha1");
    jsonschema::validator_for(&version["schema"]["openAPIV3Schema"]).unwrap()
}

fn assert_valid(validator: &jsonschema::Validator, doc: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{doc:#}");
}

fn set() -> Vec<Baseline> {
    let mut unlocked = baseline("web", "nginx", &["/usr/sbin/nginx"]);
    unlocked.locked = false;
    let mut no_labels = baseline("batch", "worker", &["/app/worker"]);
    no_labels.pod_labels.clear();
    let mut odd_path = baseline("odd", "main", &["relative/path"]);
    odd_path.pod_labels.clear();
    vec![
        baseline("payments-api", "api", &["/app/server", "/bin/sh"]),
        baseline(
            "payments-api",
            "log-shipper",
            &["/fluent-bit/bin/fluent-bit"],
        ),
        // Locked with nothing allowed: every exec is outside.
        baseline("sealed", "main", &[]),
        unlocked,
        no_labels,
        odd_path,
    ]
}

#[test]
fn tetragon_policies_validate_against_the_crd_and_scope_each_container() {
    let validator = crd_validator();
    let out = export(&set(), Target::Tetragon, ExportOptions::default()).unwrap();
    let docs: Vec<Value> = serde_saphyr::from_multiple(&out.yaml).unwrap();
    assert_eq!(docs.len(), 3);
    assert_eq!(out.exported, 3);
    assert_eq!(out.unlocked, vec!["prod/web/nginx"]);
    let refused: Vec<&str> = out.refused.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(refused, vec!["prod/batch/worker", "prod/odd/main"]);
    assert!(
        out.refused[0].1.contains("no pod labels known"),
        "{:?}",
        out.refused
    );
    assert!(
        out.refused[1].1.contains("not an absolute path"),
        "{:?}",
        out.refused
    );
    for doc in &docs {
        assert_valid(&validator, doc);
        assert_eq!(doc["kind"], "TracingPolicyNamespaced");
        assert_eq!(doc["metadata"]["namespace"], "prod");
        assert_eq!(
            doc["spec"]["options"],
            json!([{"name": "policy-mode", "value": "monitor"}])
        );
        let name = doc["metadata"]["name"].as_str().unwrap();
        assert!(
            name.len() <= 63
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{name}"
        );
        let kprobe = &doc["spec"]["kprobes"][0];
        assert_eq!(kprobe["call"], "security_bprm_check");
        assert_eq!(
            kprobe["selectors"][0]["matchActions"],
            json!([{"action": "Sigkill"}])
        );
    }
    let api = &docs[0];
    assert_eq!(
        api["metadata"]["annotations"]["palisade.dev/baseline"],
        "prod/payments-api/api"
    );
    assert_eq!(
        api["spec"]["podSelector"],
        json!({"matchLabels": {"app.kubernetes.io/name": "payments-api"}})
    );
    assert_eq!(
        api["spec"]["containerSelector"],
        json!({"matchExpressions": [{"key": "name", "operator": "In", "values": ["api"]}]})
    );
    // Startup paths are allowed too: Tetragon cannot tell a container's age.
    assert_eq!(
        api["spec"]["kprobes"][0]["selectors"][0]["matchArgs"],
        json!([{"index": 0, "operator": "NotEqual", "values": ["/app/server", "/bin/sh", "/docker-entrypoint.sh"]}])
    );
    let names: std::collections::BTreeSet<&str> = docs
        .iter()
        .map(|d| d["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "names are unique");
    let enforced = export(&set(), Target::Tetragon, ExportOptions { enforce: true }).unwrap();
    let docs: Vec<Value> = serde_saphyr::from_multiple(&enforced.yaml).unwrap();
    for doc in &docs {
        assert_valid(&validator, doc);
        assert_eq!(doc["spec"]["options"][0]["value"], "enforce");
    }
}

#[test]
fn the_crd_schema_rejects_what_tetragon_would_reject() {
    let validator = crd_validator();
    let out = export(&set(), Target::Tetragon, ExportOptions::default()).unwrap();
    let docs: Vec<Value> = serde_saphyr::from_multiple(&out.yaml).unwrap();
    let mut broken = docs[0].clone();
    broken["spec"]["kprobes"][0]["syscall"] = json!("no");
    assert!(!validator.is_valid(&broken));
    let mut broken = docs[0].clone();
    broken["spec"]["kprobes"][0]
        .as_object_mut()
        .unwrap()
        .remove("call");
    assert!(!validator.is_valid(&broken));
    let mut broken = docs[0].clone();
    broken["spec"]["kprobes"][0]["selectors"][0]["matchArgs"][0]["operator"] = json!("Sometimes");
    assert!(!validator.is_valid(&broken));
}

#[test]
fn falco_rules_have_the_fields_falco_requires_and_reference_their_lists() {
    let out = export(&set(), Target::Falco, ExportOptions::default()).unwrap();
    assert_eq!(out.exported, 4, "{:?}", out.refused);
    let items: Vec<Value> = serde_saphyr::from_str(&out.yaml).unwrap();
    let mut lists = std::collections::BTreeSet::new();
    let mut rules = Vec::new();
    for item in &items {
        let keys: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        if item.get("list").is_some() {
            assert_eq!(keys.len(), 2, "{item}");
            assert!(
                item["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|i| i.as_str().unwrap().starts_with('"'))
            );
            assert!(
                lists.insert(item["list"].as_str().unwrap().to_string()),
                "list names are unique"
            );
        } else {
            for required in ["rule", "desc", "condition", "output", "priority"] {
                assert!(
                    item[required].as_str().is_some_and(|s| !s.is_empty()),
                    "{required} in {item}"
                );
            }
            assert!(
                [
                    "EMERGENCY",
                    "ALERT",
                    "CRITICAL",
                    "ERROR",
                    "WARNING",
                    "NOTICE",
                    "INFORMATIONAL",
                    "DEBUG"
                ]
                .contains(&item["priority"].as_str().unwrap())
            );
            rules.push(item.clone());
        }
    }
    assert_eq!(rules.len(), 4);
    for rule in &rules {
        let condition = rule["condition"].as_str().unwrap();
        let referenced: Vec<&str> = condition
            .match_indices(" in (")
            .map(|(i, _)| {
                let rest = &condition[i + 5..];
                &rest[..rest.find(')').unwrap()]
            })
            .filter(|r| !r.contains(','))
            .collect();
        for r in referenced {
            assert!(lists.contains(r), "{r} is not a defined list: {condition}");
        }
        // Parentheses balance: Falco parses the condition as one expression.
        assert_eq!(
            condition.matches('(').count(),
            condition.matches(')').count(),
            "{condition}"
        );
    }
    let api = rules
        .iter()
        .find(|r| {
            r["rule"]
                .as_str()
                .unwrap()
                .ends_with("prod/payments-api/api")
        })
        .unwrap();
    let condition = api["condition"].as_str().unwrap();
    assert!(condition.contains("k8s.ns.name = \"prod\""), "{condition}");
    assert!(
        condition.contains("k8s.pod.label[app.kubernetes.io/name] = \"payments-api\""),
        "{condition}"
    );
    assert!(
        condition.contains("container.name = \"api\""),
        "{condition}"
    );
    assert!(
        condition.contains("container.duration < 60000000000"),
        "{condition}"
    );
    // Without labels the pod name's prefix scopes the rule.
    let batch = rules
        .iter()
        .find(|r| r["rule"].as_str().unwrap().ends_with("prod/batch/worker"))
        .unwrap();
    assert!(
        batch["condition"]
            .as_str()
            .unwrap()
            .contains("k8s.pod.name startswith \"batch-\"")
    );
}

#[test]
fn quotes_in_names_stay_inside_falco_strings() {
    let mut b = baseline("x\"y", "c\\d", &["/bin/a\"b"]);
    b.namespace = Some("n\"s".into());
    let out = export(&[b], Target::Falco, ExportOptions::default()).unwrap();
    let items: Vec<Value> = serde_saphyr::from_str(&out.yaml).unwrap();
    let rule = items.iter().find(|i| i.get("rule").is_some()).unwrap();
    let condition = rule["condition"].as_str().unwrap();
    assert!(condition.contains(r#"k8s.ns.name = "n\"s""#), "{condition}");
    assert!(
        condition.contains(r#"container.name = "c\\d""#),
        "{condition}"
    );
    let list = items.iter().find(|i| i.get("list").is_some()).unwrap();
    assert_eq!(list["items"], json!([r#""/bin/a\"b""#]));
}
