//! Baselines for kernel-level enforcers: a Tetragon `TracingPolicyNamespaced` and a Falco
//! list and rule per locked baseline.
//!
//! Both allow the baseline's `processes` and its `startup` paths. Falco can tell a
//! container's age (`container.duration`), so startup paths are allowed only within the
//! startup window, as `check` does; Tetragon cannot, so they are allowed at any time there.

use palisade_engine::record::Baseline;
use serde::Serialize;
use serde_json::{Value, json};

/// Which enforcer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Tetragon `TracingPolicyNamespaced` (cilium.io/v1alpha1).
    Tetragon,
    /// A Falco rules file.
    Falco,
}

/// Export options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// Tetragon: `policy-mode: enforce` (a process outside the baseline is killed);
    /// otherwise `monitor` (the kill is elided, events are posted).
    pub enforce: bool,
}

/// The exported text and what was left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exported {
    /// YAML: one document per policy (Tetragon) or one rules file (Falco).
    pub yaml: String,
    /// Baselines exported.
    pub exported: usize,
    /// Unlocked baselines, not exported (nothing to enforce yet).
    pub unlocked: Vec<String>,
    /// Locked baselines that could not be exported, with why.
    pub refused: Vec<(String, String)>,
}

/// A short stable hash for names (FNV-1a, 64 bits).
fn fnv(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:08x}", h >> 32)
}

/// `text` in the characters `allowed` keeps (others become `-`), lowercase.
fn sanitize(text: &str, keep: impl Fn(char) -> bool, sep: char) -> String {
    text.chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if keep(c) { c } else { sep })
        .collect()
}

/// A name for a baseline's policy or rule: readable, unique (a hash of the baseline's name
/// is appended), at most 63 characters.
fn object_name(b: &Baseline, keep: impl Fn(char) -> bool, sep: char) -> String {
    let workload = b
        .workload
        .as_deref()
        .or(b.deployment_id.as_deref())
        .unwrap_or("");
    let readable = sanitize(
        &format!("palisade{sep}{workload}{sep}{}", b.container),
        keep,
        sep,
    );
    let mut readable: String = readable.chars().take(54).collect();
    while readable.ends_with(sep) {
        readable.pop();
    }
    format!("{readable}{sep}{}", fnv(&b.name()))
}

/// Refuses paths no enforcer can match as written (control characters, not absolute).
fn check_paths(paths: &[String]) -> Result<(), String> {
    match paths
        .iter()
        .find(|p| !p.starts_with('/') || p.chars().any(char::is_control))
    {
        Some(p) => Err(format!(
            "path {p:?} is not an absolute path an enforcer can match"
        )),
        None => Ok(()),
    }
}

/// Exports every locked baseline for `target`.
pub fn export(
    baselines: &[Baseline],
    target: Target,
    options: ExportOptions,
) -> Result<Exported, String> {
    let mut out = Exported {
        yaml: String::new(),
        exported: 0,
        unlocked: Vec::new(),
        refused: Vec::new(),
    };
    let mut sorted: Vec<&Baseline> = baselines.iter().collect();
    sorted.sort_by_key(|b| crate::file::Identity::of(b));
    let mut tetragon = Vec::new();
    let mut falco = Vec::new();
    for b in sorted {
        if !b.locked {
            out.unlocked.push(b.name());
            continue;
        }
        let made = check_paths(&b.processes)
            .and_then(|()| check_paths(&b.startup))
            .and_then(|()| match target {
                Target::Tetragon => tetragon_policy(b, options).map(|p| tetragon.push(p)),
                Target::Falco => {
                    falco.extend(falco_items(b));
                    Ok(())
                }
            });
        match made {
            Ok(()) => out.exported += 1,
            Err(why) => out.refused.push((b.name(), why)),
        }
    }
    out.yaml = match target {
        Target::Tetragon if tetragon.is_empty() => Ok(String::new()),
        Target::Tetragon => serde_saphyr::to_string_multiple(&tetragon),
        Target::Falco if falco.is_empty() => Ok(String::new()),
        Target::Falco => serde_saphyr::to_string(&falco),
    }
    .map_err(|e| format!("cannot write YAML: {e}"))?;
    Ok(out)
}

/// One `TracingPolicyNamespaced`: at `security_bprm_check` (every exec, before the new
/// program runs), in the baseline's namespace, for pods with its labels and its container,
/// an executable whose path is not allowed is posted and, in enforce mode, killed.
fn tetragon_policy(b: &Baseline, options: ExportOptions) -> Result<Value, String> {
    let namespace = b
        .namespace
        .as_deref()
        .filter(|n| !n.is_empty())
        .ok_or("no namespace: a TracingPolicyNamespaced needs one")?;
    if b.pod_labels.is_empty() {
        return Err("no pod labels known (learn from Tetragon events, which carry them, or add `pod_labels`): Tetragon selects pods by label only, and a policy without one would cover every pod of the namespace".into());
    }
    let mut allowed: Vec<&String> = b.processes.iter().chain(&b.startup).collect();
    allowed.sort();
    allowed.dedup();
    let mut selector = serde_json::Map::new();
    if !allowed.is_empty() {
        selector.insert(
            "matchArgs".into(),
            json!([{"index": 0, "operator": "NotEqual", "values": allowed}]),
        );
    }
    selector.insert("matchActions".into(), json!([{"action": "Sigkill"}]));
    let dns = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    Ok(json!({
        "apiVersion": "cilium.io/v1alpha1",
        "kind": "TracingPolicyNamespaced",
        "metadata": {
            "name": object_name(b, dns, '-'),
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "palisade"},
            "annotations": {"palisade.dev/baseline": b.name()},
        },
        "spec": {
            "options": [{"name": "policy-mode", "value": if options.enforce { "enforce" } else { "monitor" }}],
            "podSelector": {"matchLabels": b.pod_labels},
            "containerSelector": {"matchExpressions": [{"key": "name", "operator": "In", "values": [b.container]}]},
            "kprobes": [{
                "call": "security_bprm_check",
                "syscall": false,
                "args": [{"index": 0, "type": "linux_binprm"}],
                "selectors": [Value::Object(selector)],
            }],
        },
    }))
}

/// A Falco rules-file item.
#[derive(Serialize)]
#[serde(untagged)]
enum FalcoItem {
    /// `- list:`
    List {
        /// Its name.
        list: String,
        /// Its items.
        items: Vec<String>,
    },
    /// `- rule:`
    Rule {
        /// Its name.
        rule: String,
        /// What it detects.
        desc: String,
        /// When it fires.
        condition: String,
        /// What it prints.
        output: String,
        /// How bad.
        priority: String,
        /// Tags.
        tags: Vec<String>,
    },
}

/// A Falco string literal.
fn falco_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A list of the allowed paths and a rule firing for any other exec in the container.
fn falco_items(b: &Baseline) -> Vec<FalcoItem> {
    let ident = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
    let base = object_name(b, ident, '_');
    let quoted = |paths: &[String]| paths.iter().map(|p| falco_string(p)).collect::<Vec<_>>();
    let allowed = format!("{base}_processes");
    let mut items = vec![FalcoItem::List {
        list: allowed.clone(),
        items: quoted(&b.processes),
    }];
    let mut condition = vec![
        "evt.type in (execve, execveat) and evt.dir = <".to_string(),
        "container.id != host".to_string(),
    ];
    if let Some(ns) = b.namespace.as_deref().filter(|n| !n.is_empty()) {
        condition.push(format!("k8s.ns.name = {}", falco_string(ns)));
    }
    if b.pod_labels.is_empty() {
        let workload = b
            .workload
            .as_deref()
            .or(b.deployment_id.as_deref())
            .unwrap_or("");
        condition.push(format!(
            "k8s.pod.name startswith {}",
            falco_string(&format!("{workload}-"))
        ));
    } else {
        for (k, v) in &b.pod_labels {
            condition.push(format!("k8s.pod.label[{k}] = {}", falco_string(v)));
        }
    }
    condition.push(format!("container.name = {}", falco_string(&b.container)));
    condition.push(format!("not proc.exepath in ({allowed})"));
    if !b.startup.is_empty() {
        let startup = format!("{base}_startup");
        items.push(FalcoItem::List {
            list: startup.clone(),
            items: quoted(&b.startup),
        });
        let nanos = b.startup_seconds.unwrap_or(0).saturating_mul(1_000_000_000);
        condition.push(format!(
            "not (proc.exepath in ({startup}) and container.duration < {nanos})"
        ));
    }
    let name = b.name();
    items.push(FalcoItem::Rule {
        rule: format!("Palisade process baseline {name}"),
        desc: format!(
            "A process outside the locked Palisade process baseline of {name} (Unauthorized Process Execution)"
        ),
        condition: condition.join(" and "),
        output: format!(
            "Process outside the locked baseline {name} (path=%proc.exepath cmdline=%proc.cmdline pod=%k8s.pod.name ns=%k8s.ns.name container=%container.name)"
        ),
        priority: "WARNING".into(),
        tags: ["palisade", "process_baseline", "SOC2_CC7.2", "SOC2_CC7.3", "SOC2_PI1.3"]
            .map(String::from)
            .to_vec(),
    });
    items
}
