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

/// The ABI version reported by `palisade_abi_version`; bumped on any incompatible change.
pub const ABI_VERSION: u32 = 1;

/// The plugin's state: the bundle loaded last, if any, and the checks run against it (the
/// same evaluator as the npm package's `evaluator` module).
pub use palisade_api::Evaluator as Plugin;

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_lang::{SourceFile, Sources};
    use serde_json::{Value, json};

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
