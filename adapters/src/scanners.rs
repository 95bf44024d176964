//! Trivy and Grype JSON reports to image records.
//!
//! CVSS rule (documented in docs/inputs.md): the NVD v3 base score first, else the v3 score
//! of the vendor that rated the finding (Trivy's `SeveritySource`, Grype's own record), else
//! any v3 score, else any v2 score. `nvd_cvss` is the NVD v3 score (v2 when only that exists).

use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};

fn s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Accepts RFC 3339 times and plain dates; other strings are dropped.
fn time(v: Option<&str>) -> Option<String> {
    let v = v?;
    if chrono::DateTime::parse_from_rfc3339(v).is_ok() {
        return Some(v.to_string());
    }
    let d = chrono::NaiveDate::parse_from_str(v.get(..10)?, "%Y-%m-%d").ok()?;
    Some(format!("{d}T00:00:00Z"))
}

fn severity(word: &str) -> &'static str {
    match word.to_ascii_lowercase().as_str() {
        "critical" => "critical",
        "high" | "important" => "high",
        "medium" | "moderate" => "medium",
        "low" | "negligible" => "low",
        _ => "unknown",
    }
}

/// Splits a "name (os version)" target into the image name.
fn target_name(t: &str) -> &str {
    match t.rfind(" (") {
        Some(i) if t.ends_with(')') => &t[..i],
        _ => t,
    }
}

/// A component's extra fields, its vulnerabilities in first-seen order, and their ids (so a
/// repeated finding is dropped in constant time: a report listing one package's 30,000
/// findings must not cost 30,000² comparisons).
type Entry = (Value, Vec<Value>, HashSet<Option<String>>);

/// Components keyed by (name, version, type), in first-seen order.
#[derive(Default)]
struct Components {
    order: Vec<(String, String, String)>,
    by_key: HashMap<(String, String, String), Entry>,
}

impl Components {
    fn add(&mut self, name: &str, version: &str, ty: &str, extra: Value, vuln: Option<Value>) {
        let key = (name.to_string(), version.to_string(), ty.to_string());
        if !self.by_key.contains_key(&key) {
            self.order.push(key.clone());
            self.by_key
                .insert(key.clone(), (extra, Vec::new(), HashSet::new()));
        }
        if let (Some(v), Some(entry)) = (vuln, self.by_key.get_mut(&key))
            && entry.2.insert(v.get("id").map(Value::to_string))
        {
            entry.1.push(v);
        }
    }

    fn into_json(mut self) -> Vec<Value> {
        self.order
            .iter()
            .filter_map(|k| {
                let (extra, vulns, _) = self.by_key.remove(k)?;
                let mut c = json!({"name": k.0, "version": k.1, "type": k.2, "vulns": vulns});
                if let (Some(obj), Some(more)) = (c.as_object_mut(), extra.as_object()) {
                    obj.extend(more.clone());
                }
                Some(c)
            })
            .collect()
    }
}

fn trivy_cvss(v: &Value) -> (Option<f64>, Option<f64>) {
    let Some(cvss) = v.get("CVSS").and_then(Value::as_object) else {
        return (None, None);
    };
    let score = |vendor: &str, key: &str| {
        cvss.get(vendor)
            .and_then(|c| c.get(key))
            .and_then(Value::as_f64)
    };
    let nvd = score("nvd", "V3Score").or_else(|| score("nvd", "V2Score"));
    let source = s(v, "SeveritySource").unwrap_or("");
    let best = score("nvd", "V3Score")
        .or_else(|| score(source, "V3Score"))
        .or_else(|| cvss.keys().find_map(|k| score(k, "V3Score")))
        .or_else(|| score("nvd", "V2Score"))
        .or_else(|| cvss.keys().find_map(|k| score(k, "V2Score")));
    (best, nvd)
}

fn trivy_vuln(v: &Value) -> Value {
    let (cvss, nvd) = trivy_cvss(v);
    // FixedVersion may list several fixed versions ("11.0.14, 10.1.49"); the first is the nearest.
    let fixed = s(v, "FixedVersion")
        .map(|f| f.split(',').next().unwrap_or("").trim().to_string())
        .unwrap_or_default();
    let mut out = json!({
        "id": s(v, "VulnerabilityID").unwrap_or_default(),
        "severity": severity(s(v, "Severity").unwrap_or("unknown")),
        "fixed_by": fixed,
        "state": "observed",
    });
    if let Some(c) = cvss {
        out["cvss"] = json!(c);
    }
    if let Some(n) = nvd {
        out["nvd_cvss"] = json!(n);
    }
    if let Some(p) = time(s(v, "PublishedDate")) {
        out["published"] = json!(p);
    }
    out
}

fn trivy_results(results: &[Value], components: &mut Components) {
    for r in results {
        let ty = s(r, "Type").unwrap_or("");
        for v in list(r, "Vulnerabilities") {
            let name = s(v, "PkgName").unwrap_or("unknown");
            let version = s(v, "InstalledVersion").unwrap_or("");
            let extra = json!({"location": s(v, "PkgPath").unwrap_or("")});
            components.add(name, version, ty, extra, Some(trivy_vuln(v)));
        }
    }
}

fn history_layers(config: Option<&Value>) -> Vec<Value> {
    let Some(history) = config
        .and_then(|c| c.get("history"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    history
        .iter()
        .map(|h| {
            let (instruction, value) = dockerfile_line(s(h, "created_by").unwrap_or(""));
            let mut l = json!({"instruction": instruction, "value": value});
            if let Some(t) = time(s(h, "created")) {
                l["created"] = json!(t);
            }
            l
        })
        .collect()
}

/// Splits a history `created_by` into Dockerfile instruction and value.
pub fn dockerfile_line(created_by: &str) -> (String, String) {
    const INSTRUCTIONS: [&str; 17] = [
        "ADD",
        "ARG",
        "CMD",
        "COPY",
        "ENTRYPOINT",
        "ENV",
        "EXPOSE",
        "FROM",
        "HEALTHCHECK",
        "LABEL",
        "MAINTAINER",
        "ONBUILD",
        "RUN",
        "SHELL",
        "STOPSIGNAL",
        "USER",
        "VOLUME",
    ];
    let text = created_by.trim();
    let text = text
        .strip_prefix("/bin/sh -c #(nop)")
        .map(str::trim)
        .unwrap_or(text);
    let (first, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let upper = first.to_ascii_uppercase();
    if INSTRUCTIONS.contains(&upper.as_str()) {
        let rest = rest.trim();
        let rest = rest.strip_prefix("/bin/sh -c ").unwrap_or(rest);
        return (upper, rest.to_string());
    }
    if let Some(cmd) = text.strip_prefix("/bin/sh -c ") {
        return ("RUN".into(), cmd.to_string());
    }
    ("RUN".into(), text.to_string())
}

fn image_record(name: &str, id: Option<&str>, scanner: &str, components: Vec<Value>) -> Value {
    let mut img = json!({"kind": "image", "id": id.unwrap_or(name), "name": {"full_name": name}, "scan": {"scanner": scanner, "components": components}});
    if id.is_none() {
        img["id"] = json!(format!("{scanner}:{name}"));
    }
    img
}

/// One image record per distinct result target ("name (os version)"), in first-seen order.
fn images_by_target<'a>(results: impl Iterator<Item = &'a Value>) -> Vec<Value> {
    let mut by_image: BTreeMap<String, Components> = BTreeMap::new();
    let mut order = Vec::new();
    for r in results {
        let name = target_name(s(r, "Target").unwrap_or("unknown")).to_string();
        if !by_image.contains_key(&name) {
            order.push(name.clone());
        }
        trivy_results(std::slice::from_ref(r), by_image.entry(name).or_default());
    }
    order
        .into_iter()
        .filter_map(|n| {
            by_image
                .remove(&n)
                .map(|c| image_record(&n, None, "trivy", c.into_json()))
        })
        .collect()
}

/// Trivy schema 2, the legacy top-level array and `trivy k8s` reports.
pub fn trivy(doc: &Value) -> Vec<Value> {
    if let Some(items) = doc.as_array() {
        // Legacy (before v0.20): [{Target, Type, Vulnerabilities}].
        return images_by_target(items.iter());
    }
    if doc.get("ClusterName").is_some() {
        // trivy k8s: one image per scanned target of every workload.
        let results = list(doc, "Vulnerabilities")
            .iter()
            .chain(list(doc, "Resources"))
            .flat_map(|w| list(w, "Results"));
        return images_by_target(
            results.filter(|r| s(r, "Class").is_none_or(|c| c == "os-pkgs" || c == "lang-pkgs")),
        );
    }
    let meta = doc.get("Metadata").cloned().unwrap_or(Value::Null);
    let name = s(&meta, "Reference")
        .or_else(|| list(&meta, "RepoTags").first().and_then(Value::as_str))
        .or_else(|| s(doc, "ArtifactName"))
        .unwrap_or("unknown");
    let digest = list(&meta, "RepoDigests")
        .first()
        .and_then(Value::as_str)
        .and_then(|d| d.split_once('@'))
        .map(|(_, d)| d);
    let id = digest.or_else(|| s(&meta, "ImageID"));
    let mut components = Components::default();
    trivy_results(list(doc, "Results"), &mut components);
    let mut img = image_record(name, id, "trivy", components.into_json());
    if let Some(os) = meta.get("OS") {
        img["os"] = json!(format!(
            "{}:{}",
            s(os, "Family").unwrap_or(""),
            s(os, "Name").unwrap_or("")
        ));
    }
    if let Some(at) = time(s(doc, "CreatedAt")) {
        img["scan"]["scanned_at"] = json!(at);
    }
    let config = meta.get("ImageConfig");
    if let Some(c) = config {
        if let Some(t) = time(s(c, "created")) {
            img["created"] = json!(t);
        }
        let cfg = c.get("config").cloned().unwrap_or(Value::Null);
        img["user"] = json!(s(&cfg, "User").unwrap_or(""));
        if let Some(labels) = cfg.get("Labels").and_then(Value::as_object) {
            let labels: serde_json::Map<String, Value> = labels
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        json!(
                            v.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| v.to_string())
                        ),
                    )
                })
                .collect();
            img["labels"] = Value::Object(labels);
        }
        let env: Vec<&str> = list(&cfg, "Env").iter().filter_map(Value::as_str).collect();
        if !env.is_empty() {
            img["env"] = json!(env);
        }
        img["layers"] = json!(history_layers(config));
    }
    vec![img]
}

fn grype_cvss(v: &Value) -> Option<f64> {
    // Newer: cvss[] {version, metrics.baseScore}; older: cvssV3 / cvssV2 {baseScore}.
    let entries = list(v, "cvss");
    let by_version = |prefix: &str| {
        entries
            .iter()
            .find(|c| s(c, "version").is_some_and(|x| x.starts_with(prefix)))
            .and_then(|c| c.get("metrics"))
            .and_then(|m| m.get("baseScore"))
            .and_then(Value::as_f64)
    };
    by_version("3")
        .or_else(|| {
            v.get("cvssV3")
                .and_then(|c| c.get("baseScore"))
                .and_then(Value::as_f64)
        })
        .or_else(|| by_version("2"))
        .or_else(|| {
            v.get("cvssV2")
                .and_then(|c| c.get("baseScore"))
                .and_then(Value::as_f64)
        })
}

/// Grype reports (old single-object and new array `matchDetails`).
pub fn grype(doc: &Value) -> Vec<Value> {
    let target = doc
        .get("source")
        .and_then(|s| s.get("target"))
        .cloned()
        .unwrap_or(Value::Null);
    let name = match &target {
        Value::String(t) => t.clone(),
        t => s(t, "userInput").unwrap_or("unknown").to_string(),
    };
    let id = s(&target, "manifestDigest").or_else(|| s(&target, "imageID"));
    let mut components = Components::default();
    for m in list(doc, "matches") {
        let art = m.get("artifact").cloned().unwrap_or(Value::Null);
        let vuln = m.get("vulnerability").cloned().unwrap_or(Value::Null);
        let nvd = list(m, "relatedVulnerabilities")
            .iter()
            .find(|r| s(r, "namespace").is_some_and(|n| n.starts_with("nvd")))
            .and_then(grype_cvss);
        let own = grype_cvss(&vuln);
        let own_is_nvd = s(&vuln, "namespace").is_some_and(|n| n.starts_with("nvd"));
        let cvss = if own_is_nvd { own.or(nvd) } else { nvd.or(own) }.or_else(|| {
            list(m, "relatedVulnerabilities")
                .iter()
                .find_map(grype_cvss)
        });
        let fixed = match vuln.get("fix") {
            Some(fix) if s(fix, "state") == Some("fixed") => list(fix, "versions")
                .first()
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            Some(_) => String::new(),
            None => s(&vuln, "fixedInVersion").unwrap_or("").to_string(),
        };
        let mut out = json!({
            "id": s(&vuln, "id").unwrap_or_default(),
            "severity": severity(s(&vuln, "severity").unwrap_or("unknown")),
            "fixed_by": fixed,
            "state": "observed",
        });
        if let Some(c) = cvss {
            out["cvss"] = json!(c);
        }
        if let Some(n) = nvd.or(if own_is_nvd { own } else { None }) {
            out["nvd_cvss"] = json!(n);
        }
        if let Some(e) = list(&vuln, "epss")
            .first()
            .and_then(|e| e.get("epss"))
            .and_then(Value::as_f64)
        {
            out["epss"] = json!(e);
        }
        if let Some(k) = vuln.get("knownExploited").and_then(Value::as_array) {
            out["known_exploited"] = json!(!k.is_empty());
        }
        let locations = list(&art, "locations")
            .first()
            .and_then(|l| s(l, "path"))
            .unwrap_or("");
        components.add(
            s(&art, "name").unwrap_or("unknown"),
            s(&art, "version").unwrap_or(""),
            s(&art, "type").unwrap_or(""),
            json!({"location": locations}),
            Some(out),
        );
    }
    let mut img = image_record(&name, id, "grype", components.into_json());
    if let Some(d) = doc.get("distro") {
        img["os"] = json!(format!(
            "{}:{}",
            s(d, "name").unwrap_or(""),
            s(d, "version").unwrap_or("")
        ));
    }
    if let Some(t) = doc
        .get("descriptor")
        .and_then(|d| s(d, "timestamp"))
        .and_then(|t| time(Some(t)))
    {
        img["scan"]["scanned_at"] = json!(t);
    }
    vec![img]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerfile_lines() {
        assert_eq!(
            dockerfile_line("/bin/sh -c #(nop)  CMD [\"sh\"]"),
            ("CMD".into(), "[\"sh\"]".into())
        );
        assert_eq!(
            dockerfile_line("/bin/sh -c apt-get update"),
            ("RUN".into(), "apt-get update".into())
        );
        assert_eq!(
            dockerfile_line("RUN /bin/sh -c apk add curl # buildkit"),
            ("RUN".into(), "apk add curl # buildkit".into())
        );
        assert_eq!(
            dockerfile_line("EXPOSE map[22/tcp:{}]"),
            ("EXPOSE".into(), "map[22/tcp:{}]".into())
        );
    }

    #[test]
    fn severities() {
        assert_eq!(severity("Negligible"), "low");
        assert_eq!(severity("MEDIUM"), "medium");
        assert_eq!(severity("whatever"), "unknown");
    }
}
