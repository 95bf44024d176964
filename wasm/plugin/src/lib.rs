//! Palisade as a sandboxed WASM plugin. The engine is built for wasm32-unknown-unknown
//! behind a small C ABI (see docs/plugin-abi.md) with no imports at all, so any WASM
//! host (wasmtime, wasmer, wazero, a browser) can embed it.
//!
//! The host compiles policies natively into a bundle ([`palisade_engine::bundle`]) and
//! loads it here; the plugin evaluates inputs against the loaded bundle and answers with
//! exactly the CLI's JSON report. [`Plugin`] is the safe core, tested natively; `abi`
//! (wasm32 only) exports it.

#[cfg(target_arch = "wasm32")]
mod abi;

use palisade_api::{CheckRequest, check_with};
use palisade_engine::Matcher;
use serde_json::{Value, json};

/// The ABI version reported by `palisade_abi_version`; bumped on any incompatible change.
pub const ABI_VERSION: u32 = 1;

/// The plugin's state: the bundle loaded last, if any.
#[derive(Default)]
pub struct Plugin {
    matcher: Option<Matcher>,
}

fn error(kind: &str, message: impl Into<String>) -> String {
    json!({"error": {"kind": kind, "message": message.into()}}).to_string()
}

impl Plugin {
    /// Loads a bundle (replacing the previous one only when it loads):
    /// `{"ok": true, "policies": N}` or `{"error": {"kind", "message"}}`.
    pub fn load(&mut self, bundle: &[u8]) -> String {
        let Ok(text) = std::str::from_utf8(bundle) else {
            return error("bundle", "the bundle is not UTF-8");
        };
        match palisade_engine::bundle::load_bundle(text) {
            Ok(m) => {
                let policies = m.program().policies.len();
                self.matcher = Some(m);
                json!({"ok": true, "policies": policies}).to_string()
            }
            Err(e) => error("bundle", e.to_string()),
        }
    }

    /// Checks a request (`{"inputs": [{"name", "text"}], "now", "all", "lifecycle",
    /// "explain"}`) against the loaded bundle: the CLI's JSON report or `{"error"}`.
    pub fn check(&self, request: &[u8]) -> String {
        let Some(matcher) = &self.matcher else {
            return error("state", "no bundle loaded: call palisade_load first");
        };
        let raw: Value = match serde_json::from_slice(request) {
            Ok(v) => v,
            Err(e) => return error("request", format!("invalid request: {e}")),
        };
        if raw.get("policies").is_some() || raw.get("builtin").is_some() {
            return error(
                "request",
                "the plugin evaluates its loaded bundle: compile policies on the host and load the bundle",
            );
        }
        let req: CheckRequest = match serde_json::from_value(raw) {
            Ok(r) => r,
            Err(e) => return error("request", format!("invalid request: {e}")),
        };
        match check_with(matcher, &req) {
            Ok(report) => report,
            Err(v) => v.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_lang::{SourceFile, Sources};

    fn bundle(src: &str) -> String {
        let mut sources = Sources::default();
        sources.add(SourceFile::new("p.pal", src));
        let (_, checked) = palisade_lang::parse_and_check(&sources);
        let set = checked.unwrap_or_default();
        let program = palisade_engine::compile(&set).unwrap_or_else(|e| unreachable!("{e}"));
        palisade_engine::bundle::write_bundle(&program)
    }

    #[test]
    fn loads_a_bundle_and_answers_with_the_cli_report() {
        let mut p = Plugin::default();
        let before = p.check(br#"{"inputs": [], "now": "2030-01-01T00:00:00Z"}"#);
        assert!(before.contains("no bundle loaded"), "{before}");
        let ok = p.load(bundle("policy \"priv\" { severity high lifecycle deploy soc2 CC6.1 when container.privileged }").as_bytes());
        assert_eq!(ok, r#"{"ok":true,"policies":1}"#);
        let req = json!({"inputs": [{"name": "d.yaml", "text": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: nginx, securityContext: {privileged: true}}]\n"}], "now": "2030-01-01T00:00:00Z"});
        let out: Value =
            serde_json::from_str(&p.check(req.to_string().as_bytes())).unwrap_or_default();
        assert_eq!(out["violations"][0]["policy"], "priv");
        assert_eq!(out["summary"]["records"], 1);
    }

    #[test]
    fn bad_bundles_and_requests_are_errors_and_keep_the_loaded_bundle() {
        let mut p = Plugin::default();
        p.load(bundle("policy \"priv\" { severity high lifecycle deploy soc2 CC6.1 when container.privileged }").as_bytes());
        for bad in [
            &b"\xff\xfe"[..],
            b"{",
            br#"{"format":"palisade-bundle","version":999,"program":{}}"#,
        ] {
            let out: Value = serde_json::from_str(&p.load(bad)).unwrap_or_default();
            assert_eq!(out["error"]["kind"], "bundle", "{bad:?}");
        }
        for bad in [
            &b"{"[..],
            br#"{"inputs": []}"#,
            br#"{"builtin": true, "now": "2030-01-01T00:00:00Z"}"#,
        ] {
            let out: Value = serde_json::from_str(&p.check(bad)).unwrap_or_default();
            assert_eq!(
                out["error"]["kind"],
                "request",
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let out: Value =
            serde_json::from_str(&p.check(br#"{"inputs": [], "now": "2030-01-01T00:00:00Z"}"#))
                .unwrap_or_default();
        assert_eq!(
            out["summary"]["policies"], 1,
            "the good bundle stays loaded"
        );
    }
}
