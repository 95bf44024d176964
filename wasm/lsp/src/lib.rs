//! The language server (`palisade lsp`) for browsers and Node.js: the same session as the
//! CLI's, one JSON-RPC message at a time. A module of its own beside the engine's, so pages
//! that only evaluate policies do not load it.

use serde_json::json;
use wasm_bindgen::prelude::wasm_bindgen;

thread_local! {
    /// The page's language server session (one per module instance: a worker).
    static LSP: std::cell::RefCell<palisade_lsp::Session> =
        std::cell::RefCell::new(palisade_lsp::Session::new().with_clock(lsp_now));
    /// The time the page last gave, Unix seconds: the clock of tests without `now`.
    static NOW: std::cell::Cell<i64> = const { std::cell::Cell::new(0) };
}

fn lsp_now() -> i64 {
    NOW.with(std::cell::Cell::get)
}

/// The language server (`palisade lsp`) in the page: one JSON-RPC message in (a request
/// or notification of LSP 3.17), the array of messages it answers with out (responses and
/// `publishDiagnostics`). `now` is the page's clock, Unix seconds. A message that is not
/// JSON-RPC gets `{"error"}`.
#[wasm_bindgen]
pub fn lsp(message: &str, now: f64) -> String {
    let message: palisade_lsp::Message = match serde_json::from_str(message) {
        Ok(m) => m,
        Err(e) => return json!({ "error": format!("not a JSON-RPC message: {e}") }).to_string(),
    };
    if now.is_finite() {
        NOW.with(|n| n.set(now as i64));
    }
    let replies = LSP.with(|session| session.borrow_mut().handle(message));
    serde_json::to_string(&replies)
        .unwrap_or_else(|e| json!({ "error": e.to_string() }).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn the_language_server_answers_messages_in_the_page() {
        let send = |m: Value| -> Value {
            serde_json::from_str(&lsp(&m.to_string(), 1_790_000_000.0)).unwrap_or_default()
        };
        let init = send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"processId": null, "capabilities": {}}}));
        assert_eq!(
            init[0]["result"]["serverInfo"]["name"], "palisade",
            "{init}"
        );
        send(json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}));
        let uri = "file:///playground/policy.pal";
        let text = "policy \"p\" {\n  severity high\n  lifecycle deploy\n  soc2 CC6.1\n  when container.privilegd\n}\n";
        let opened = send(json!({"jsonrpc": "2.0", "method": "textDocument/didOpen",
            "params": {"textDocument": {"uri": uri, "languageId": "palisade", "version": 1, "text": text}}}));
        let message = opened[0]["params"]["diagnostics"][0]["message"]
            .as_str()
            .unwrap_or("");
        assert!(message.contains("did you mean `privileged`?"), "{opened}");
        let completion = send(
            json!({"jsonrpc": "2.0", "id": 2, "method": "textDocument/completion",
            "params": {"textDocument": {"uri": uri}, "position": {"line": 4, "character": 17}}}),
        );
        let labels: Vec<&str> = completion[0]["result"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["label"].as_str())
            .collect();
        assert!(labels.contains(&"privileged"), "{completion}");
        let bad: Value = serde_json::from_str(&lsp("{\"not\": \"rpc\"}", 0.0)).unwrap_or_default();
        assert!(
            bad["error"]
                .as_str()
                .unwrap_or("")
                .contains("not a JSON-RPC message"),
            "{bad}"
        );
    }
}
