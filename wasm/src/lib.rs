//! wasm-bindgen bindings: thin wrappers over [`palisade_api`]. Every function takes
//! and returns JSON text; the caller supplies "now" (JS `Date`) so results are reproducible.

use palisade_netpol::{Analyzer, Endpoint, Observed};
use serde_json::{Value, json};
use wasm_bindgen::prelude::wasm_bindgen;

/// Compiles policies: `{"policies": [{"name", "text"}], "builtin": bool}` to
/// `{"ok", "policies", "diagnostics": [...]}`.
#[wasm_bindgen]
pub fn compile(request: &str) -> String {
    palisade_api::compile_json(request)
}

/// Checks inputs: `{"policies", "builtin", "inputs": [{"name", "text"}], "all", "lifecycle",
/// "now", "explain"}` to the CLI's JSON report (or `{"diagnostics"}` / `{"error"}`).
#[wasm_bindgen]
pub fn check(request: &str) -> String {
    palisade_api::check_json(request)
}

/// Compiles policies into a bundle for the `evaluator` module (or the plugin): the request
/// of [`compile`] to `{"ok": true, "policies", "bundle": "<bundle text>"}` or `{"ok": false,
/// "diagnostics"}`.
#[wasm_bindgen]
pub fn bundle(request: &str) -> String {
    palisade_api::bundle_json(request)
}

/// Formats policy source: `{"ok", "formatted"}` or `{"ok": false, "diagnostics"}`.
#[wasm_bindgen]
pub fn format(name: &str, text: &str) -> String {
    palisade_api::format_json(name, text)
}

/// The built-in library: `{"policies": [...], "files": [{"name", "text"}]}`.
#[wasm_bindgen]
pub fn builtin() -> String {
    palisade_api::builtin_json()
}

/// The version of the engine.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// The connectivity map of manifests, and what observed flows left unused:
/// `{"manifests": [{"name", "text"}], "flows": [{"name", "text"}]}` to `{"nodes": [{"id",
/// "namespace", "kind"}], "links": [{"src", "dst", "conn", "unused", "unused_conn"}],
/// "diagnostics": [text], "summary"}` (`unused` is null and `summary` has no flow counts
/// without flows), or `{"error"}`.
#[wasm_bindgen]
pub fn netpol(request: &str) -> String {
    netpol_value(request)
        .unwrap_or_else(|error| json!({ "error": error }))
        .to_string()
}

/// The evidence view of a check: the request of [`check`] to `{"html", "criteria"}`, the
/// HTML report (as `palisade report` renders it) of a period holding this one evaluation,
/// or the check's `{"diagnostics"}` / `{"error"}`.
#[wasm_bindgen]
pub fn evidence(request: &str) -> String {
    evidence_value(request).unwrap_or_else(|v| v).to_string()
}

fn evidence_value(request: &str) -> Result<Value, Value> {
    use palisade_evidence::{from_engine, html, period};
    let error = |m: String| json!({"error": {"kind": "request", "message": m}});
    let req: palisade_api::CheckRequest =
        serde_json::from_str(request).map_err(|e| error(format!("invalid request: {e}")))?;
    let now = chrono::DateTime::parse_from_rfc3339(&req.now)
        .map_err(|e| error(format!("now `{}`: {e}", req.now)))?
        .with_timezone(&chrono::Utc);
    let compiled = palisade_api::compile_policies(&req.compile)?;
    let report: Value = serde_json::from_str(&palisade_api::check_with(&compiled.matcher, &req)?)
        .map_err(|e| error(e.to_string()))?;
    let time = from_engine::time_of(now.timestamp());
    let run = "playground";
    // The records' digest: of the inputs they were read from.
    let inputs: Vec<&str> = req.inputs.iter().map(|i| i.text.as_str()).collect();
    let digest = palisade_evidence::canonical::digest_bytes(inputs.concat().as_bytes());
    let violations = report["violations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| from_engine::violation_from_json(v, run, &time, &digest))
        .collect();
    let records = report["summary"]["records"].as_u64().unwrap_or(0);
    let set = from_engine::policy_set(compiled.matcher.program(), run, &time);
    let entries = period::single_check(&time, set, violations, Vec::new(), records);
    let midnight = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc();
    let mut builder = period::Builder::new(period::Options {
        from: midnight,
        to: now + chrono::Duration::seconds(1),
        max_gap: chrono::Duration::days(1),
        generated: now,
    })
    .map_err(|e| error(e.to_string()))?;
    builder.start_log("playground", run);
    for (i, e) in entries.iter().enumerate() {
        builder
            .entry(i as u64 + 1, e)
            .map_err(|e| error(e.to_string()))?;
    }
    let period = builder.finish().map_err(|e| error(e.to_string()))?;
    Ok(json!({"html": html::render(&period), "criteria": period.criteria}))
}

fn texts(request: &Value, key: &str) -> Vec<(String, String)> {
    request
        .get(key)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| {
                    let text = i.get("text")?.as_str()?;
                    let name = i.get("name").and_then(Value::as_str).unwrap_or(key);
                    Some((name.to_string(), text.to_string()))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn netpol_value(request: &str) -> Result<Value, String> {
    let request: Value =
        serde_json::from_str(request).map_err(|e| format!("not a request: {e}"))?;
    let mut files = Vec::new();
    for (name, text) in texts(&request, "manifests") {
        if text.trim().is_empty() {
            continue;
        }
        let objects =
            palisade_adapters::manifest_objects(&text).map_err(|e| format!("{name}: {e}"))?;
        files.push((name, objects));
    }
    let objects = palisade_netpol::sourced(&files);
    let (mut topology, mut diagnostics) = palisade_netpol::build(&objects, "default", false);
    if diagnostics
        .iter()
        .any(|d| d.level == palisade_netpol::Level::Error)
    {
        let errors: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
        return Err(errors.join("\n"));
    }
    let mut observed = Observed::default();
    let mut unread = std::collections::BTreeMap::new();
    let mut flows = Vec::new();
    let mut with_flows = false;
    for (name, text) in texts(&request, "flows") {
        if text.trim().is_empty() {
            continue;
        }
        with_flows = true;
        let converted = palisade_adapters::convert(&text).map_err(|e| format!("{name}: {e}"))?;
        for (why, n) in &converted.skipped {
            *unread.entry(why.clone()).or_default() += n;
        }
        let (read, warnings) = palisade_netpol::read_flows(&name, &converted.records, &mut unread);
        flows.extend(read);
        diagnostics.extend(warnings);
    }
    observed.flows = unread.values().sum();
    observed.unresolved = unread;
    diagnostics.extend(palisade_netpol::resolve(
        &mut topology,
        &flows,
        &mut observed,
    ));
    let analyzer = Analyzer::new(&topology);
    analyzer.check_size()?;
    let (map, warnings) = analyzer.map();
    diagnostics.extend(warnings);
    let report = with_flows.then(|| palisade_netpol::unused(&map, &observed));
    let mut nodes = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut node = |e: &Endpoint| {
        let id = map.name(e);
        if seen.insert(id.clone()) {
            let (namespace, kind) = match e {
                Endpoint::Workload(w) => (json!(map.namespaces.get(*w)), "workload"),
                Endpoint::External(_) => (Value::Null, "external"),
                Endpoint::IngressController => (Value::Null, "ingress-controller"),
            };
            nodes.push(json!({"id": id, "namespace": namespace, "kind": kind}));
        }
    };
    for w in 0..map.names.len() {
        node(&Endpoint::Workload(w));
    }
    let mut links = Vec::new();
    for link in &map.links {
        node(&link.src);
        node(&link.dst);
        let (src, dst) = (map.name(&link.src), map.name(&link.dst));
        let (unused, unused_conn) = match &report {
            Some(r) => {
                let same = |p: &&palisade_netpol::PathUse| p.src == src && p.dst == dst;
                match (
                    r.unused.iter().find(same),
                    r.wider_than_used.iter().find(same),
                ) {
                    (Some(p), _) => (json!(true), json!(p.unused)),
                    (None, Some(p)) => (json!(false), json!(p.unused)),
                    (None, None) => (json!(false), Value::Null),
                }
            }
            None => (Value::Null, Value::Null),
        };
        links.push(
            json!({"src": src, "dst": dst, "conn": link.connections.to_string(),
            "unused": unused, "unused_conn": unused_conn}),
        );
    }
    let summary = match &report {
        Some(r) => json!({"allowed_paths": r.allowed_paths, "unused": r.unused.len(),
            "unused_share": r.unused_share, "flows": r.flows, "flows_resolved": r.flows_resolved}),
        None => json!({"allowed_paths": links.len()}),
    };
    Ok(json!({
        "nodes": nodes,
        "links": links,
        "diagnostics": diagnostics.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "summary": summary,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_map_of_manifests_with_flows_marks_unused_links() {
        let manifests = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a, namespace: shop}\nspec: {template: {metadata: {labels: {app: a}}, spec: {containers: []}}}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: b, namespace: shop}\nspec: {template: {metadata: {labels: {app: b}}, spec: {containers: []}}}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: shop}\nspec: {podSelector: {}, policyTypes: [Ingress, Egress], ingress: [{from: [{podSelector: {}}]}], egress: [{to: [{podSelector: {}}]}]}\n";
        let flows = r#"[{"kind": "network_flow", "id": "1", "port": 80, "source": {"namespace": "shop", "name": "a"}, "destination": {"namespace": "shop", "name": "b"}}]"#;
        let request = json!({"manifests": [{"name": "m.yaml", "text": manifests}],
            "flows": [{"name": "f.json", "text": flows}]});
        let out: Value = serde_json::from_str(&netpol(&request.to_string())).unwrap_or_default();
        let links = out["links"].as_array().cloned().unwrap_or_default();
        assert_eq!(links.len(), 2, "{out}");
        let a_to_b = links.iter().find(|l| l["src"] == "shop/a[Deployment]");
        assert_eq!(a_to_b.map(|l| l["unused"].clone()), Some(json!(false)));
        let b_to_a = links.iter().find(|l| l["src"] == "shop/b[Deployment]");
        assert_eq!(b_to_a.map(|l| l["unused"].clone()), Some(json!(true)));
        assert_eq!(out["summary"]["unused"], 1);
        let bad = json!({"manifests": [{"name": "x.yaml", "text": "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec: {podSelector: {}, ingress: [{ports: [{protocol: ICMP}]}]}\n"}]});
        let out: Value = serde_json::from_str(&netpol(&bad.to_string())).unwrap_or_default();
        assert!(
            out["error"].as_str().unwrap_or("").contains("protocol"),
            "{out}"
        );
    }

    #[test]
    fn the_evidence_view_renders_the_criteria_of_one_check() {
        let policy = "policy \"priv\" { severity high lifecycle deploy soc2 CC6.1, CC6.8 when container.privileged }\npolicy \"latest\" { severity low lifecycle deploy soc2 CC8.1 when image.tag == \"latest\" }\n";
        let records = r#"[{"kind":"deployment","id":"d","name":"web","namespace":"shop","containers":[{"name":"c","security_context":{"privileged":true},"image":{"name":{"full_name":"nginx:1.27","tag":"1.27"}}}]}]"#;
        let request = json!({"policies": [{"name": "p.pal", "text": policy}], "builtin": false,
            "inputs": [{"name": "input", "text": records}], "now": "2026-12-05T10:00:00Z"});
        let out: Value = serde_json::from_str(&evidence(&request.to_string())).unwrap_or_default();
        let status = |id: &str| {
            out["criteria"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["id"] == id)
                .map(|c| c["status"].clone())
        };
        assert_eq!(status("CC6.1"), Some(json!("not-satisfied")), "{out}");
        assert_eq!(status("CC8.1"), Some(json!("satisfied")), "{out}");
        let html = out["html"].as_str().unwrap_or("");
        assert!(
            html.contains("Violations open at the end (1)") && html.contains("deployment shop/web")
        );
        // A policy that does not compile gives its diagnostics, not a report.
        let broken = json!({"policies": [{"name": "p.pal", "text": "policy \"x\" {"}], "inputs": [], "now": "2026-12-05T10:00:00Z"});
        let out: Value = serde_json::from_str(&evidence(&broken.to_string())).unwrap_or_default();
        assert!(
            out.get("diagnostics").is_some() && out.get("html").is_none(),
            "{out}"
        );
    }
}
