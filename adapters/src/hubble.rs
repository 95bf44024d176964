//! Cilium Hubble flows (`hubble observe -o json`, and Hubble's flow export: JSON Lines of
//! `{"flow": {...}}`, or bare flow objects) to `network_flow` records.
//!
//! A record is one connection attempt: a flow that is not a reply (`is_reply`, or `reply`
//! in older Hubble), not dropped, with a TCP, UDP or SCTP destination port. An end is a
//! workload (namespace, pod labels without Cilium's own, and the owning workload's name:
//! `workloads[0]` when Hubble gives it, else the pod name without the suffixes its
//! controller adds) or, for `reserved:world`, the address. Every other flow is counted by
//! why it was left out (replies, drops, ICMP, node and host traffic).

use serde_json::{Map, Value, json};

/// The record of one Hubble flow, or why it is not one.
pub fn flow(v: &Value, index: usize) -> Result<Value, String> {
    let f = v.get("flow").unwrap_or(v);
    let reply = f.get("is_reply").and_then(Value::as_bool).unwrap_or(false)
        || f.get("reply").and_then(Value::as_bool).unwrap_or(false);
    if reply {
        return Err("Hubble reply (the other direction of a connection)".into());
    }
    let verdict = f.get("verdict").and_then(Value::as_str).unwrap_or("");
    if !matches!(
        verdict,
        "FORWARDED" | "REDIRECTED" | "TRACED" | "TRANSLATED" | ""
    ) {
        return Err(format!("Hubble flow with verdict {verdict}"));
    }
    let l4 = f.get("l4").and_then(Value::as_object);
    let Some((protocol, port)) = l4.and_then(|l4| {
        ["TCP", "UDP", "SCTP"].iter().find_map(|p| {
            let port = l4.get(*p)?.get("destination_port")?.as_u64()?;
            let port = u16::try_from(port).ok().filter(|p| *p > 0)?;
            Some((*p, port))
        })
    }) else {
        return Err("Hubble flow without a TCP, UDP or SCTP port (ICMP, L7 only)".into());
    };
    let ip = f.get("IP");
    let source = end(f.get("source"), ip.and_then(|i| i.get("source")))?;
    let destination = end(f.get("destination"), ip.and_then(|i| i.get("destination")))?;
    let id = f
        .get("uuid")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("hubble-{index}"));
    let mut record = json!({
        "kind": "network_flow",
        "id": id,
        "source": source,
        "destination": destination,
        "port": port,
        "protocol": protocol,
    });
    if let Some(t) = f
        .get("time")
        .or_else(|| v.get("time"))
        .and_then(Value::as_str)
    {
        record["time"] = json!(t);
    }
    if let Some(c) = f
        .get("source")
        .and_then(|s| s.get("cluster_name"))
        .and_then(Value::as_str)
    {
        record["cluster"] = json!(c);
    }
    Ok(record)
}

/// Labels Cilium adds that are not the pod's own.
fn is_cilium_label(key: &str) -> bool {
    key.starts_with("io.cilium.") || key == "io.kubernetes.pod.namespace"
}

fn end(e: Option<&Value>, address: Option<&Value>) -> Result<Value, String> {
    let e = e.ok_or("Hubble flow without an end")?;
    let labels: Vec<&str> = e
        .get("labels")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut pod_labels = Map::new();
    let mut label_namespace = None;
    for l in &labels {
        if let Some((k, v)) = l.strip_prefix("k8s:").and_then(|kv| kv.split_once('=')) {
            if k == "io.kubernetes.pod.namespace" {
                label_namespace = Some(v);
            } else if !is_cilium_label(k) {
                pod_labels.insert(k.to_string(), json!(v));
            }
        }
    }
    let namespace = e
        .get("namespace")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .or(label_namespace)
        .unwrap_or("");
    let mut pod = e.get("pod_name").and_then(Value::as_str).unwrap_or("");
    // A remote endpoint (another node's pod) carries its labels but no pod name: it is
    // named by its app label, and resolved by its labels.
    let by_label = ["app.kubernetes.io/name", "app", "k8s-app"]
        .iter()
        .find_map(|k| pod_labels.get(*k).and_then(Value::as_str));
    if pod.is_empty() && !namespace.is_empty() {
        pod = by_label.unwrap_or("");
    }
    if !namespace.is_empty() && !pod.is_empty() {
        let workload = e
            .get("workloads")
            .and_then(Value::as_array)
            .and_then(|w| w.first());
        let (name, kind) = match workload {
            Some(w) => (
                w.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or(pod)
                    .to_string(),
                w.get("kind").and_then(Value::as_str).map(str::to_string),
            ),
            None => owner_of_pod(pod, &pod_labels),
        };
        let mut out = json!({
            "type": "deployment", "namespace": namespace, "name": name, "labels": pod_labels,
        });
        if let Some(p) = e.get("pod_name").and_then(Value::as_str) {
            out["pod"] = json!(p);
        }
        if let Some(kind) = kind {
            out["workload_kind"] = json!(kind);
        }
        return Ok(out);
    }
    if labels.contains(&"reserved:world") {
        let Some(ip) = address.and_then(Value::as_str) else {
            return Err("Hubble flow to or from the world without an address".into());
        };
        return Ok(json!({"type": "external", "cidr": ip}));
    }
    let reserved = labels
        .iter()
        .find(|l| l.starts_with("reserved:"))
        .copied()
        .unwrap_or("an end with no pod and no address");
    Err(format!(
        "Hubble flow to or from {reserved} (not a pod NetworkPolicies select)"
    ))
}

/// The owning workload of a pod named by its controller: `web-5f7c9d8b4-x2x9q` is
/// Deployment `web`, `db-0` StatefulSet `db`, `agent-x2x9q` a DaemonSet or Job `agent`.
fn owner_of_pod(pod: &str, labels: &Map<String, Value>) -> (String, Option<String>) {
    let parts: Vec<&str> = pod.split('-').collect();
    let is_suffix = |s: &str, min: usize, max: usize| {
        (min..=max).contains(&s.len())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    };
    if labels.contains_key("statefulset.kubernetes.io/pod-name")
        && let Some((name, ordinal)) = pod.rsplit_once('-')
        && ordinal.chars().all(|c| c.is_ascii_digit())
    {
        return (name.to_string(), Some("StatefulSet".into()));
    }
    if labels.contains_key("pod-template-hash") && parts.len() >= 3 {
        return (
            parts[..parts.len() - 2].join("-"),
            Some("Deployment".into()),
        );
    }
    if let Some(job) = labels.get("job-name").and_then(Value::as_str) {
        return (job.to_string(), Some("Job".into()));
    }
    if labels.contains_key("controller-revision-hash") && parts.len() >= 2 {
        return (parts[..parts.len() - 1].join("-"), Some("DaemonSet".into()));
    }
    // Without the labels that say which controller: the shape of the name.
    if parts.len() >= 3
        && is_suffix(parts[parts.len() - 1], 5, 5)
        && is_suffix(parts[parts.len() - 2], 6, 10)
    {
        return (
            parts[..parts.len() - 2].join("-"),
            Some("Deployment".into()),
        );
    }
    (pod.to_string(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_flows_are_left_out_by_reason_never_a_panic() {
        let cases = [
            json!({"flow": {"verdict": "FORWARDED", "source": "not an object", "l4": {"TCP": {"destination_port": 80}}}}),
            json!({"flow": {"verdict": "FORWARDED", "l4": {"TCP": {"destination_port": "80"}}}}),
            json!({"flow": {"verdict": "FORWARDED", "l4": {"TCP": {"destination_port": 80}},
                "source": {"namespace": 7, "labels": "k8s:app=a", "pod_name": ["x"]},
                "destination": {"labels": ["reserved:world"]}, "IP": {"destination": 12}}}),
            json!({"flow": {"verdict": "DROPPED", "l4": {"UDP": {"destination_port": 53}}}}),
            json!({"flow": {"verdict": "FORWARDED", "is_reply": "yes", "l4": {"TCP": {"destination_port": 99999999999u64}},
                "source": {"namespace": "a", "pod_name": "p-1", "workloads": [7]},
                "destination": {"namespace": "b", "pod_name": "q", "labels": ["k8s:=", "k8s:x"]}}}),
        ];
        for (i, v) in cases.iter().enumerate() {
            // Each is a record or a reason; records always carry a port that fits.
            if let Ok(r) = flow(v, i) {
                assert!(
                    r["port"].as_u64().is_some_and(|p| (1..=65535).contains(&p)),
                    "{r}"
                );
            }
        }
        assert!(flow(&cases[0], 0).is_err());
        assert!(flow(&cases[3], 3).unwrap_err().contains("DROPPED"));
        assert!(
            flow(&cases[4], 4)
                .unwrap_err()
                .contains("without a TCP, UDP or SCTP port")
        );
    }

    #[test]
    fn pods_are_named_by_their_owners() {
        let none = Map::new();
        assert_eq!(
            owner_of_pod("reviews-v1-545db77b95-s6jb8", &none),
            ("reviews-v1".to_string(), Some("Deployment".to_string()))
        );
        let mut sts = Map::new();
        sts.insert("statefulset.kubernetes.io/pod-name".into(), json!("db-0"));
        assert_eq!(
            owner_of_pod("db-0", &sts),
            ("db".to_string(), Some("StatefulSet".to_string()))
        );
        assert_eq!(
            owner_of_pod("standalone", &none),
            ("standalone".to_string(), None)
        );
    }
}
