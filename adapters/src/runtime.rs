//! Falco alerts and Tetragon events to process records.

use serde_json::{Value, json};

fn s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An RFC 3339 time, or nothing (a malformed time is dropped, not passed on).
fn rfc3339(t: Option<&str>) -> Option<Value> {
    let t = t?;
    chrono::DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|_| json!(t))
}

/// Nanoseconds since the epoch (a number or a decimal string, as Falco prints them) as
/// RFC 3339; zero (Falco's "unknown") and times past year 9999 are dropped.
fn epoch_nanos(v: &Value) -> Option<Value> {
    let nanos: i64 = match v {
        Value::Number(n) => n.as_i64()?,
        Value::String(t) => t.trim().parse().ok()?,
        _ => return None,
    };
    if nanos <= 0 {
        return None;
    }
    chrono::DateTime::from_timestamp(nanos / 1_000_000_000, (nanos % 1_000_000_000) as u32)
        .map(|t| json!(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)))
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// A Falco alert (one JSON object), or `None` for Falco's internal events.
pub fn falco(alert: &Value, line: usize) -> Option<Value> {
    if s(alert, "source") == Some("internal")
        || s(alert, "rule").is_some_and(|r| r.starts_with("Falco internal"))
    {
        return None;
    }
    let f = alert.get("output_fields").cloned().unwrap_or(Value::Null);
    let field = |k: &str| text(f.get(k));
    let cmdline = field("proc.cmdline");
    let name = field("proc.name").or_else(|| {
        cmdline
            .as_ref()
            .and_then(|c| c.split_whitespace().next().map(str::to_string))
    });
    let args = field("proc.args").or_else(|| {
        cmdline.as_ref().map(|c| {
            c.split_once(char::is_whitespace)
                .map(|(_, rest)| rest.trim().to_string())
                .unwrap_or_default()
        })
    });
    let exec_path = field("proc.exepath").or_else(|| field("proc.exe"));
    // Ancestors from nearest to farthest: proc.pname, proc.aname[2], [3], ...; records want nearest last.
    let mut ancestors: Vec<String> = field("proc.pname").into_iter().collect();
    for n in 2..16 {
        if let Some(a) = field(&format!("proc.aname[{n}]")) {
            ancestors.push(a);
        }
    }
    ancestors.reverse();
    let id = s(alert, "uuid")
        .map(str::to_string)
        .unwrap_or_else(|| format!("falco-{line}"));
    let mut p = json!({"kind": "process", "id": id, "lineage": ancestors});
    let mut set = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            p[k] = v;
        }
    };
    set("name", name.map(Value::String));
    set("exec_path", exec_path.map(Value::String));
    set("args", args.map(Value::String));
    set(
        "uid",
        f.get("user.uid").and_then(Value::as_f64).map(|u| json!(u)),
    );
    set("namespace", field("k8s.ns.name").map(Value::String));
    set("pod", field("k8s.pod.name").map(Value::String));
    set("container", field("container.name").map(Value::String));
    set(
        "deployment",
        field("k8smeta.deployment.name")
            .or_else(|| field("k8s.deployment.name"))
            .map(Value::String),
    );
    set(
        "container_start",
        f.get("container.start_ts").and_then(epoch_nanos),
    );
    set("time", rfc3339(s(alert, "time")));
    Some(p)
}

/// Ancestor binaries, nearest last: `ancestors` (newer Tetragon, nearest first) and `parent`.
fn lineage(exec: &Value) -> Vec<String> {
    let mut out: Vec<String> = exec
        .get("ancestors")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| s(p, "binary").map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    out.reverse();
    if let Some(parent) = exec.get("parent").and_then(|p| s(p, "binary"))
        && out.last().map(String::as_str) != Some(parent)
    {
        out.push(parent.to_string());
    }
    out
}

/// A Tetragon export event: `process_exec` becomes a process record; other types are skipped.
pub fn tetragon(event: &Value, index: usize) -> Result<Value, String> {
    let Some(exec) = event.get("process_exec") else {
        let kind = event
            .as_object()
            .and_then(|m| m.keys().find(|k| k.starts_with("process_")).cloned())
            .unwrap_or_else(|| "unknown".into());
        return Err(kind);
    };
    let proc_ = exec.get("process").cloned().unwrap_or(Value::Null);
    let binary = s(&proc_, "binary").unwrap_or("");
    let id = s(&proc_, "exec_id")
        .map(str::to_string)
        .unwrap_or_else(|| format!("tetragon-{index}"));
    let mut p = json!({
        "kind": "process", "id": id, "name": basename(binary), "exec_path": binary,
        "args": s(&proc_, "arguments").unwrap_or(""),
        "lineage": lineage(exec),
    });
    if let Some(uid) = proc_.get("uid").and_then(Value::as_f64) {
        p["uid"] = json!(uid);
    }
    if let Some(pod) = proc_.get("pod") {
        if let Some(ns) = s(pod, "namespace") {
            p["namespace"] = json!(ns);
        }
        if let Some(name) = s(pod, "name") {
            p["pod"] = json!(name);
        }
        if let Some(c) = pod.get("container").and_then(|c| s(c, "name")) {
            p["container"] = json!(c);
        }
        if let Some(t) = pod
            .get("container")
            .and_then(|c| rfc3339(s(c, "start_time")))
        {
            p["container_start"] = t;
        }
        if let Some(labels) = pod.get("pod_labels").and_then(Value::as_object) {
            let text: serde_json::Map<String, Value> = labels
                .iter()
                .filter(|(_, v)| v.is_string())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            p["pod_labels"] = Value::Object(text);
        }
        if let Some(w) = s(pod, "workload") {
            p["deployment"] = json!(w);
        }
    }
    if let Some(t) = rfc3339(s(event, "time")).or_else(|| rfc3339(s(&proc_, "start_time"))) {
        p["time"] = t;
    }
    Ok(p)
}
