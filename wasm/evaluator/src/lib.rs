//! The npm package's evaluator module (`palisade-wasm/evaluator`): loads a compiled bundle
//! (`palisade compile -o`, the main module's `bundle`, or the package's
//! `library.bundle.json`) and checks Palisade records against it, with byte-for-byte the
//! CLI's JSON report. It holds no compiler, no readers of other formats and no built-in
//! library, so pages and services that evaluate load a third of the main module.

use std::cell::RefCell;
use wasm_bindgen::prelude::wasm_bindgen;

thread_local! {
    /// The bundle loaded last (a WASM instance has one thread).
    static EVALUATOR: RefCell<palisade_api::Evaluator> = RefCell::default();
}

/// Loads a bundle (JSON text), replacing the previous one only when it loads:
/// `{"ok": true, "policies": N}` or `{"error": {"kind", "message"}}`.
#[wasm_bindgen]
pub fn load(bundle: &str) -> String {
    EVALUATOR.with(|e| e.borrow_mut().load(bundle.as_bytes()))
}

/// Checks records against the loaded bundle: `{"inputs": [{"name", "text"}], "baselines",
/// "now", "all", "lifecycle", "explain"}` (inputs are Palisade records: a JSON object, an
/// array or JSON Lines) to the CLI's JSON report, or `{"error": {"kind", "message"}}`.
#[wasm_bindgen]
pub fn check(request: &str) -> String {
    EVALUATOR.with(|e| e.borrow().check(request.as_bytes()))
}

/// The version of the engine.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// A bundle of the main module's `bundle` gives, in the evaluator, the report the main
    /// module's `check` gives for the same policies and records.
    #[test]
    fn a_loaded_bundle_checks_records_as_the_main_module_does() {
        let policies = json!([{"name": "p.pal", "text": "policy \"priv\" { severity high lifecycle deploy soc2 CC6.1 when container.privileged }"}]);
        let made: Value = serde_json::from_str(&palisade_api::bundle_json(
            &json!({"policies": policies}).to_string(),
        ))
        .unwrap_or_default();
        assert_eq!(made["ok"], true, "{made}");
        let bundle = made["bundle"].as_str().unwrap_or_default();
        assert_eq!(load(bundle), r#"{"ok":true,"policies":1}"#);
        let records = r#"{"kind":"deployment","id":"d","name":"web","namespace":"shop","containers":[{"name":"c","security_context":{"privileged":true}}]}"#;
        let request =
            json!({"inputs": [{"name": "r.json", "text": records}], "now": "2030-01-01T00:00:00Z"});
        let evaluated = check(&request.to_string());
        let mut full = request.clone();
        full["policies"] = policies;
        assert_eq!(evaluated, palisade_api::check_json(&full.to_string()));
        let report: Value = serde_json::from_str(&evaluated).unwrap_or_default();
        assert_eq!(report["violations"][0]["policy"], "priv", "{report}");
        // A bad bundle is an error and the loaded one stays; policies in a request are refused.
        let bad: Value = serde_json::from_str(&load("{")).unwrap_or_default();
        assert_eq!(bad["error"]["kind"], "bundle");
        assert_eq!(check(&request.to_string()), evaluated);
        let refused: Value = serde_json::from_str(&check(&full.to_string())).unwrap_or_default();
        assert_eq!(refused["error"]["kind"], "request", "{refused}");
        // Policies that do not compile give diagnostics, not a bundle.
        let broken: Value = serde_json::from_str(&palisade_api::bundle_json(
            r#"{"policies": [{"name": "p.pal", "text": "policy \"x\" {"}]}"#,
        ))
        .unwrap_or_default();
        assert!(
            broken["ok"] == false && broken["diagnostics"].is_array(),
            "{broken}"
        );
    }

    /// Hostile bundles and requests (deeply nested, truncated, of the wrong type, large) are
    /// errors naming what is wrong, or reports; never a panic, and the loaded bundle stays.
    #[test]
    fn hostile_bundles_and_requests_are_clear_errors() {
        let made: Value = serde_json::from_str(&palisade_api::bundle_json(
            r#"{"policies": [{"name": "p.pal", "text": "policy \"priv\" { severity high lifecycle deploy soc2 CC6.1 when container.privileged }"}]}"#,
        ))
        .unwrap_or_default();
        let bundle = made["bundle"].as_str().unwrap_or_default();
        assert_eq!(load(bundle), r#"{"ok":true,"policies":1}"#);
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let error_kind = |out: String| -> String {
            let v: Value = serde_json::from_str(&out).unwrap_or_default();
            v["error"]["kind"].as_str().unwrap_or_default().to_string()
        };
        for bad in [
            deep.clone(),
            bundle[..bundle.len() / 2].to_string(),
            r#"{"format":"palisade-bundle","version":1,"program":[]}"#.to_string(),
        ] {
            assert_eq!(error_kind(load(&bad)), "bundle", "{bad:.60}");
        }
        let now = "2030-01-01T00:00:00Z";
        for (request, kind) in [
            (deep.clone(), "request"),
            (r#"{"inputs": [{"name": "a", "text": "{\"kind"#.to_string(), "request"),
            (json!({"inputs": 5, "now": now}).to_string(), "request"),
            (
                json!({"inputs": [{"name": "d", "text": format!(r#"{{"kind":"deployment","id":{deep}}}"#)}], "now": now}).to_string(),
                "input",
            ),
        ] {
            assert_eq!(error_kind(check(&request)), kind, "{request:.60}");
        }
        // Many records in one request: every one evaluated.
        let records: Vec<String> = (0..5000)
            .map(|i| {
                json!({"kind": "deployment", "id": format!("d{i}"), "name": "d", "namespace": "s",
                "containers": [{"name": "c", "security_context": {"privileged": true}}]})
                .to_string()
            })
            .collect();
        let report: Value = serde_json::from_str(&check(
            &json!({"inputs": [{"name": "big", "text": records.join("\n")}], "now": now})
                .to_string(),
        ))
        .unwrap_or_default();
        assert_eq!(
            report["summary"]["violations"],
            5000,
            "{:.200}",
            report.to_string()
        );
        // Bundling: a request of the wrong type is refused; the loaded bundle still answers.
        let refused: Value =
            serde_json::from_str(&palisade_api::bundle_json(&deep)).unwrap_or_default();
        assert_eq!(refused["error"]["kind"], "request");
        assert_eq!(load(bundle), r#"{"ok":true,"policies":1}"#);
    }
}
