//! `palisade lsp` driven over stdio with real LSP messages, as an editor drives it: a
//! recorded session (golden transcript) through every capability, and broken documents
//! that must never crash or hang the server.
//!
//! `BLESS=1` rewrites the golden transcript.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests"
)]

mod common;

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

/// Longest wait for one message (a debug build analysing a 10 MB document).
const PATIENCE: Duration = Duration::from_secs(120);

struct Client {
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Value>,
    next_id: i64,
    /// What was sent and received, with the workspace's URI replaced.
    transcript: String,
    workspace: String,
}

impl Client {
    fn start(workspace: &Path) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start palisade lsp");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (send, incoming) = channel();
        std::thread::spawn(move || {
            while let Some(message) = read_message(&mut stdout) {
                if send.send(message).is_err() {
                    break;
                }
            }
        });
        Client {
            child,
            stdin,
            incoming,
            next_id: 0,
            transcript: String::new(),
            workspace: format!("file://{}", workspace.display()),
        }
    }

    fn uri(&self, name: &str) -> String {
        format!("{}/{name}", self.workspace)
    }

    fn send(&mut self, message: Value) {
        let text = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{text}", text.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn note(&mut self, arrow: &str, v: &Value) {
        let shown = serde_json::to_string_pretty(v)
            .unwrap()
            .replace(&self.workspace, "file:///WORKSPACE");
        self.transcript.push_str(&format!("{arrow} {shown}\n"));
    }

    fn receive(&mut self) -> Value {
        self.incoming
            .recv_timeout(PATIENCE)
            .expect("the server answers (it did not crash or hang)")
    }

    /// Sends a request; returns its result, noting every message that came before it.
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let message = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.note("->", &json!({"method": method, "params": params}));
        self.send(message);
        loop {
            let m = self.receive();
            if m.get("id") == Some(&json!(id)) {
                let shown = m
                    .get("result")
                    .or(m.get("error"))
                    .cloned()
                    .unwrap_or(Value::Null);
                self.note("<-", &shown);
                return m;
            }
            self.note("<-", &m);
        }
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.note("->", &json!({"method": method, "params": params}));
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// The next diagnostics published for `uri`.
    fn diagnostics_for(&mut self, uri: &str) -> Vec<Value> {
        loop {
            let m = self.receive();
            self.note("<-", &m);
            if m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri {
                return m["params"]["diagnostics"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
            }
        }
    }

    fn stop(mut self) -> String {
        let shutdown = self.request("shutdown", Value::Null);
        assert_eq!(shutdown["result"], Value::Null);
        self.notify("exit", Value::Null);
        let status = self.child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "exit code after shutdown and exit");
        self.transcript
    }
}

fn read_message(reader: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(n) = line.strip_prefix("Content-Length: ") {
            length = n.parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

fn position(text: &str, needle: &str, delta: usize) -> Value {
    let at = text.find(needle).expect("needle") + delta;
    let line = text[..at].matches('\n').count();
    let col = at - text[..at].rfind('\n').map_or(0, |i| i + 1);
    json!({"line": line, "character": col})
}

const LISTS: &str = "// Shared names.\nlist shells = [\"sh\", \"bash\"]\n\nmacro privileged_container = container.privileged\n";

const POLICIES: &str = "policy \"Shell in a container\" {\n  severity high\n  lifecycle runtime\n  soc2 CC7.2\n  when process.name in shells and privileged_container\n}\n\ntest \"a shell fires\" for \"Shell in a container\" {\n  process { name: \"sh\", container: \"c\" }\n  expect no fire\n}\n";

#[test]
fn an_editor_session_uses_every_capability() {
    let dir = tempfile::tempdir().unwrap();
    let workspace = dir.path().canonicalize().unwrap();
    std::fs::write(workspace.join("lists.pal"), LISTS).unwrap();
    std::fs::write(workspace.join("policies.pal"), POLICIES).unwrap();
    let mut c = Client::start(&workspace);
    let root = c.workspace.clone();
    let init = c.request(
        "initialize",
        json!({"processId": null, "rootUri": root, "capabilities": {},
               "workspaceFolders": [{"uri": root, "name": "w"}]}),
    );
    let caps = &init["result"]["capabilities"];
    for cap in [
        "hoverProvider",
        "completionProvider",
        "definitionProvider",
        "referencesProvider",
        "documentFormattingProvider",
        "documentRangeFormattingProvider",
        "documentSymbolProvider",
        "codeActionProvider",
        "codeLensProvider",
    ] {
        assert!(!caps[cap].is_null(), "{cap} in {caps}");
    }
    c.notify("initialized", json!({}));
    let (lists, policies) = (c.uri("lists.pal"), c.uri("policies.pal"));
    // The workspace's files, read from disk, are clean.
    assert_eq!(c.diagnostics_for(&lists), Vec::<Value>::new());
    assert_eq!(c.diagnostics_for(&policies), Vec::<Value>::new());
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": policies, "languageId": "palisade", "version": 1, "text": POLICIES}}),
    );

    // An error typed and fixed: diagnostics, and the quick fix between.
    let at = position(POLICIES, "privileged_container\n", 0);
    let end = position(
        POLICIES,
        "privileged_container\n",
        "privileged_container".len(),
    );
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": policies, "version": 2},
               "contentChanges": [{"range": {"start": at, "end": end}, "text": "container.privilegd"}]}),
    );
    let diags = c.diagnostics_for(&policies);
    assert_eq!(diags.len(), 1, "{diags:?}");
    let message = diags[0]["message"].as_str().unwrap();
    assert!(message.contains("unknown field `privilegd`"), "{message}");
    assert!(message.contains("did you mean `privileged`?"), "{message}");
    let range = diags[0]["range"].clone();
    let actions = c.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": policies}, "range": range, "context": {"diagnostics": diags}}),
    );
    let fix = &actions["result"][0];
    assert_eq!(fix["kind"], "quickfix");
    let edit = &fix["edit"]["changes"][&policies][0];
    assert_eq!(edit["newText"], "privileged");
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": policies, "version": 3},
               "contentChanges": [{"range": edit["range"], "text": "privileged"}]}),
    );
    assert_eq!(c.diagnostics_for(&policies), Vec::<Value>::new());
    let fixed = POLICIES.replace("and privileged_container", "and container.privileged");

    // Hover: a field, a list used in another file, a policy named by a test, a criterion.
    let field = c.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": policies}, "position": position(&fixed, "privileged\n", 2)}),
    );
    let shown = field["result"]["contents"]["value"].as_str().unwrap();
    assert!(shown.contains("container.privileged: a boolean"), "{shown}");
    assert!(shown.contains("security_context.privileged"), "{shown}");
    let list = c.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": policies}, "position": position(&fixed, "shells", 1)}),
    );
    assert!(
        list["result"]["contents"]["value"]
            .as_str()
            .unwrap()
            .contains("list shells = [\"sh\", \"bash\"]")
    );
    let policy = c.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": policies}, "position": position(&fixed, "for \"Shell", 6)}),
    );
    let shown = policy["result"]["contents"]["value"].as_str().unwrap();
    assert!(
        shown.contains("Severity: high")
            && shown.contains("CC7.2 (Monitoring of system components for anomalies)"),
        "{shown}"
    );
    let criterion = c.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": policies}, "position": position(&fixed, "CC7.2", 2)}),
    );
    assert!(
        criterion["result"]["contents"]["value"]
            .as_str()
            .unwrap()
            .contains("SOC 2 CC7.2")
    );

    // Completion after `process.` in a runtime policy.
    let typed = fixed.replace("process.name in", "process.");
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": policies, "version": 4}, "contentChanges": [{"text": typed}]}),
    );
    c.diagnostics_for(&policies);
    let completion = c.request(
        "textDocument/completion",
        json!({"textDocument": {"uri": policies}, "position": position(&typed, "process.", 8)}),
    );
    let labels: Vec<&str> = completion["result"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["label"].as_str())
        .collect();
    assert!(
        labels.contains(&"exec_path") && labels.contains(&"container"),
        "{labels:?}"
    );
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": policies, "version": 5}, "contentChanges": [{"text": fixed}]}),
    );
    c.diagnostics_for(&policies);

    // Definition and references of a list defined in the other file.
    let definition = c.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": policies}, "position": position(&fixed, "shells", 2)}),
    );
    assert_eq!(definition["result"][0]["uri"], lists);
    assert_eq!(
        definition["result"][0]["range"]["start"],
        json!({"line": 1, "character": 5})
    );
    let references = c.request(
        "textDocument/references",
        json!({"textDocument": {"uri": lists}, "position": {"line": 1, "character": 6},
               "context": {"includeDeclaration": true}}),
    );
    let found: Vec<&str> = references["result"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["uri"].as_str())
        .collect();
    assert_eq!(found, [lists.as_str(), policies.as_str()]);
    let policy_refs = c.request(
        "textDocument/references",
        json!({"textDocument": {"uri": policies}, "position": {"line": 0, "character": 9},
               "context": {"includeDeclaration": false}}),
    );
    assert_eq!(
        policy_refs["result"].as_array().unwrap().len(),
        1,
        "the test names it"
    );

    // Symbols and formatting.
    let symbols = c.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": policies}}),
    );
    let names: Vec<&str> = symbols["result"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["Shell in a container", "a shell fires"]);
    // The policy's tests, run for the code lens.
    let lenses = c.request(
        "textDocument/codeLens",
        json!({"textDocument": {"uri": policies}}),
    );
    let titles: Vec<(u64, &str)> = lenses["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["range"]["start"]["line"].as_u64().unwrap(),
                l["command"]["title"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(titles, [(0, "✓ 1 test passes"), (7, "✓ passes")]);
    let messy = "list   a=[\"x\",\"y\"]\nlist b = [\"z\"]\n";
    let messy_uri = c.uri("messy.pal");
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": messy_uri, "languageId": "palisade", "version": 1, "text": messy}}),
    );
    c.diagnostics_for(&messy_uri);
    let formatted = c.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": messy_uri}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    assert_eq!(
        formatted["result"][0]["newText"],
        "list a = [\"x\", \"y\"]\n\nlist b = [\"z\"]\n"
    );
    let range = c.request(
        "textDocument/rangeFormatting",
        json!({"textDocument": {"uri": messy_uri}, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 3}},
               "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    assert_eq!(
        range["result"].as_array().unwrap().len(),
        1,
        "only the first item"
    );
    let unknown = c.request("textDocument/semanticTokens/full", json!({}));
    assert_eq!(unknown["error"]["code"], -32601);
    let transcript = c.stop();
    common::golden("lsp-session.txt", &transcript);
}

#[test]
fn broken_documents_get_diagnostics_and_the_server_keeps_answering() {
    let dir = tempfile::tempdir().unwrap();
    let workspace = dir.path().canonicalize().unwrap();
    let mut c = Client::start(&workspace);
    let root = c.workspace.clone();
    c.request(
        "initialize",
        json!({"processId": null, "rootUri": root, "capabilities": {}}),
    );
    c.notify("initialized", json!({}));
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let random: String = (0..20_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from_u32((state % 0x3000) as u32).unwrap_or('\u{fffd}')
        })
        .collect();
    let huge = format!(
        "policy \"p\" {{\n  severity high\n  lifecycle deploy\n  soc2 CC7.2\n  when {}\n}}\n",
        vec!["container.privileged"; 500_000].join(" or ")
    );
    assert!(huge.len() > 10_000_000);
    let cases: Vec<(&str, String)> = vec![
        (
            "half-typed.pal",
            "policy \"p\" {\n  severity hi".to_string(),
        ),
        (
            "unclosed.pal",
            "policy \"p\" {\n  severity high\n  when container.".to_string(),
        ),
        (
            "nested.pal",
            format!(
                "policy \"p\" {{\n  severity high\n  lifecycle deploy\n  soc2 CC7.2\n  when {}container.privileged{}\n}}\n",
                "(".repeat(5000),
                ")".repeat(5000)
            ),
        ),
        ("random.pal", random),
        ("huge.pal", huge),
        ("broken.json", "{\"policies\": [{\"name\": ".to_string()),
    ];
    for (name, text) in cases {
        let uri = c.uri(name);
        c.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "palisade", "version": 1, "text": text}}),
        );
        let diags = c.diagnostics_for(&uri);
        assert!(!diags.is_empty(), "{name}: no diagnostics");
        assert!(
            diags
                .iter()
                .all(|d| d["severity"] == 1 || d["severity"] == 2),
            "{name}"
        );
        let end = json!({"line": text.matches('\n').count(), "character": 0});
        for method in [
            "textDocument/hover",
            "textDocument/completion",
            "textDocument/definition",
        ] {
            let answer = c.request(
                method,
                json!({"textDocument": {"uri": uri}, "position": end}),
            );
            assert!(
                answer.get("error").is_none() || answer["error"]["code"] != -32603,
                "{name} {method}: {answer}"
            );
        }
        let formatted = c.request(
            "textDocument/formatting",
            json!({"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": true}}),
        );
        assert!(
            formatted.get("result").is_some() || formatted.get("error").is_some(),
            "{name}"
        );
        c.notify(
            "textDocument/didClose",
            json!({"textDocument": {"uri": uri}}),
        );
        assert_eq!(
            c.diagnostics_for(&uri),
            Vec::<Value>::new(),
            "{name}: cleared on close"
        );
    }
    // Messages that are not what they claim: an error each, and the server goes on.
    let bad = c.request("textDocument/hover", json!({"textDocument": 7}));
    assert_eq!(bad["error"]["code"], -32602);
    write!(c.stdin, "Content-Length: 6\r\n\r\n{{oops}}").unwrap();
    c.stdin.flush().unwrap();
    let after = c.request("textDocument/hover", json!({"textDocument": {"uri": c.uri("none.pal")}, "position": {"line": 0, "character": 0}}));
    assert_eq!(
        after["result"],
        Value::Null,
        "a body that is not JSON is skipped: {after}"
    );
    c.stop();
}

#[test]
fn a_clock_that_does_not_parse_is_refused_before_serving() {
    let out = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .arg("lsp")
        .env("PALISADE_NOW", "noon")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("PALISADE_NOW=`noon` is not an RFC 3339 time"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}
