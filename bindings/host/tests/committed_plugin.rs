#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly"
)]
//! The committed prebuilt plugin (`plugin/palisade_plugin.wasm`), which builds without a
//! wasm32 toolchain embed so that `palisade serve` works from every build (issue 14,
//! defect 17): it must be built from exactly the current sources, and answer exactly as
//! the plugin built here does.

#[path = "../plugin_sources.rs"]
mod plugin_sources;

use palisade_api::{CompileRequest, compile_policies};
use palisade_host::{Limits, Plugin, Pool};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

#[test]
fn the_committed_plugin_is_built_from_these_sources() {
    let recorded = std::fs::read_to_string(manifest().join("plugin/SOURCES")).unwrap();
    let current = plugin_sources::plugin_source_digest(&manifest().join("../..")).unwrap();
    assert_eq!(
        recorded.trim(),
        current,
        "the plugin's sources changed since bindings/host/plugin/palisade_plugin.wasm was built: run scripts/update-plugin.sh and commit what it writes"
    );
}

/// Every workspace crate the plugin is built from (its `palisade-*` dependencies, and
/// theirs) is among the directories the digest covers: a crate left out would let the
/// committed plugin go stale unnoticed.
#[test]
fn the_digest_covers_every_crate_the_plugin_depends_on() {
    let root = manifest().join("../..");
    let workspace = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let path_of = |crate_name: &str| -> Option<String> {
        workspace.lines().find_map(|l| {
            let rest = l.strip_prefix(crate_name)?.trim_start().strip_prefix('=')?;
            let path = rest.split("path = \"").nth(1)?.split('"').next()?;
            Some(path.to_string())
        })
    };
    let mut pending = vec!["wasm/plugin".to_string()];
    let mut seen = Vec::new();
    while let Some(dir) = pending.pop() {
        assert!(
            plugin_sources::PLUGIN_SOURCE_DIRS.contains(&dir.as_str()),
            "{dir} is built into the plugin but not in PLUGIN_SOURCE_DIRS"
        );
        let manifest = std::fs::read_to_string(root.join(&dir).join("Cargo.toml")).unwrap();
        let dependencies = manifest
            .split("\n[dependencies]\n")
            .nth(1)
            .unwrap_or_default()
            .split("\n[")
            .next()
            .unwrap_or_default();
        for line in dependencies.lines() {
            let Some(name) = line
                .split(['.', ' ', '='])
                .next()
                .filter(|n| n.starts_with("palisade-"))
            else {
                continue;
            };
            let path = path_of(name).unwrap_or_else(|| panic!("{name}: no path in the workspace"));
            if !seen.contains(&path) {
                seen.push(path.clone());
                pending.push(path);
            }
        }
    }
    assert!(seen.contains(&"config".to_string()), "{seen:?}");
}

#[test]
fn the_committed_plugin_answers_as_the_one_built_here() {
    let committed = std::fs::read(manifest().join("plugin/palisade_plugin.wasm")).unwrap();
    let committed = Arc::new(Plugin::new(&committed).unwrap_or_else(|e| panic!("{e}")));
    let built = Plugin::embedded().unwrap_or_else(|e| panic!("{e}"));
    let examples = manifest().join("../../examples");
    let compiled = compile_policies(&CompileRequest {
        policies: Vec::new(),
        builtin: true,
        config: None,
    })
    .unwrap_or_else(|v| panic!("{v}"));
    let bundle = palisade_engine::bundle::write_bundle(compiled.matcher.program());
    let records = std::fs::read_to_string(examples.join("records/deployments.json")).unwrap();
    // Records, a manifest read with YAML 1.1 rules, and a review the adapters refuse.
    let manifest = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: nginx\n    securityContext: {privileged: yes}\n";
    let review = r#"{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "u", "operation": "CREATE", "object": "x"}}"#;
    let requests: Vec<String> = [
        ("deployments.json", records.as_str()),
        ("pod.yaml", manifest),
        ("review.json", review),
    ]
    .iter()
    .map(|(name, text)| {
        serde_json::json!({"now": "2026-11-26T12:00:00Z", "all": true, "explain": true,
                "inputs": [{"name": name, "text": text}]})
        .to_string()
    })
    .collect();
    let answers = |plugin: Arc<Plugin>| {
        let pool = Pool::new(plugin, bundle.clone(), Limits::default()).unwrap();
        requests
            .iter()
            .map(|r| pool.check(r).unwrap())
            .collect::<Vec<_>>()
    };
    let (from_committed, from_built) = (answers(committed), answers(built));
    assert!(
        from_built[0].contains("\"violations\""),
        "{}",
        from_built[0]
    );
    assert!(
        from_built[1].contains("Privileged Container"),
        "{}",
        from_built[1]
    );
    assert!(
        from_built[2].contains("malformed AdmissionReview"),
        "{}",
        from_built[2]
    );
    assert_eq!(from_committed, from_built);
}
