//! The language server as an editor feels it, on the built-in library's workspace (the 89
//! policy files of `policies/`, every one open):
//!
//! 1. diagnostics after a change in one file (an error typed, then fixed): the time from
//!    the `didChange` message to the `publishDiagnostics` replies, p50 / p95 / max of 200
//!    changes, against parsing and checking the same 89 files alone (what the checker
//!    costs; the ratio is what the server adds);
//! 2. completion after `container.` and hover on a field: p50 / p95 of 200 requests;
//! 3. the code lens of that file, each request the first after a change (the policy set
//!    compiled, the file's tests run): p50 / p95 of 50 requests.
//!
//! Targets (issue 21): diagnostics p95 under 50 ms, completion under 20 ms.
//!
//! `cargo bench -p palisade-benches --bench lsp`.

use palisade_lsp::{Message, Session};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const CHANGES: usize = 200;

fn message(v: Value) -> Message {
    serde_json::from_value(v).unwrap_or_else(|e| unreachable!("{e}"))
}

fn percentile(mut times: Vec<Duration>, p: f64) -> Duration {
    times.sort();
    let i = ((times.len() as f64 - 1.0) * p).round() as usize;
    times.get(i).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn report(what: &str, times: Vec<Duration>, target_ms: Option<f64>) -> Duration {
    let p50 = percentile(times.clone(), 0.5);
    let p95 = percentile(times.clone(), 0.95);
    let max = percentile(times, 1.0);
    let verdict = match target_ms {
        Some(t) if ms(p95) < t => format!(" (target p95 < {t} ms: met)"),
        Some(t) => format!(" (target p95 < {t} ms: NOT met)"),
        None => String::new(),
    };
    println!(
        "{what}: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms{verdict}",
        ms(p50),
        ms(p95),
        ms(max),
    );
    p50
}

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| unreachable!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pal"))
        .map(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| unreachable!("{e}"));
            (format!("file:///library/{name}"), text)
        })
        .collect();
    files.sort();
    let mut session = Session::new();
    session.handle(message(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"processId": null, "capabilities": {}}}),
    ));
    session.handle(message(
        json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}),
    ));
    for (uri, text) in &files {
        session.handle(message(json!({"jsonrpc": "2.0", "method": "textDocument/didOpen",
            "params": {"textDocument": {"uri": uri, "languageId": "palisade", "version": 1, "text": text}}})));
    }
    println!(
        "workspace: {} policy files, {} KB",
        files.len(),
        files.iter().map(|(_, t)| t.len()).sum::<usize>() / 1024
    );

    // The file changed: the one with a `container.privileged` condition.
    let (uri, text) = files
        .iter()
        .find(|(_, t)| t.contains("container.privileged"))
        .cloned()
        .unwrap_or_else(|| unreachable!("a policy reads container.privileged"));
    let at = text.find("container.privileged").unwrap_or(0) + "container.".len();
    let line = text[..at].matches('\n').count();
    let col = at - text[..at].rfind('\n').map_or(0, |i| i + 1);
    let range = |len: usize| json!({"start": {"line": line, "character": col}, "end": {"line": line, "character": col + len}});

    let mut change_times = Vec::new();
    for i in 0..CHANGES {
        // Alternately break the field name and fix it: every change changes diagnostics.
        let (len, new) = if i % 2 == 0 {
            (10, "privilegd")
        } else {
            (9, "privileged")
        };
        let m = message(json!({"jsonrpc": "2.0", "method": "textDocument/didChange",
            "params": {"textDocument": {"uri": uri, "version": i + 2},
                       "contentChanges": [{"range": range(len), "text": new}]}}));
        let start = Instant::now();
        let replies = session.handle(m);
        change_times.push(start.elapsed());
        assert!(
            replies.iter().any(|r| matches!(r, Message::Notification(n) if n.method == "textDocument/publishDiagnostics")),
            "a change publishes diagnostics"
        );
    }
    // The checker alone over the same files, for the ratio.
    let mut check_times = Vec::new();
    for _ in 0..CHANGES / 4 {
        let mut sources = palisade_lang::Sources::default();
        for (uri, text) in &files {
            sources.add(palisade_lang::SourceFile::new(uri.clone(), text.clone()));
        }
        let start = Instant::now();
        let (_, checked) = palisade_lang::parse_and_check(&sources);
        check_times.push(start.elapsed());
        assert!(checked.is_ok(), "the library checks");
    }
    let server = report("diagnostics after a change", change_times, Some(50.0));
    let checker = percentile(check_times, 0.5);
    println!(
        "parse and check of the same files alone: p50 {:.2} ms; ratio {:.2}",
        ms(checker),
        server.as_secs_f64() / checker.as_secs_f64()
    );

    let position = json!({"line": line, "character": col});
    let mut completion_times = Vec::new();
    let mut hover_times = Vec::new();
    for i in 0..CHANGES {
        let m = message(
            json!({"jsonrpc": "2.0", "id": 10 + i, "method": "textDocument/completion",
            "params": {"textDocument": {"uri": uri}, "position": position}}),
        );
        let start = Instant::now();
        let replies = session.handle(m);
        completion_times.push(start.elapsed());
        let answered = replies.iter().any(|r| matches!(r, Message::Response(r) if r.result.as_ref().is_some_and(|v| v.as_array().is_some_and(|a| !a.is_empty()))));
        assert!(answered, "completion offers fields");
        let m = message(
            json!({"jsonrpc": "2.0", "id": 1000 + i, "method": "textDocument/hover",
            "params": {"textDocument": {"uri": uri}, "position": {"line": line, "character": col + 2}}}),
        );
        let start = Instant::now();
        session.handle(m);
        hover_times.push(start.elapsed());
    }
    report(
        "completion after `container.`",
        completion_times,
        Some(20.0),
    );
    report("hover on a field", hover_times, None);

    // Code lens: the tests of the changed file's policy, run (the policy set compiled
    // once per request).
    let mut lens_times = Vec::new();
    for i in 0..CHANGES / 4 {
        // A change first (a trailing space, on and off): each lens request is the first
        // after a change, so the set is compiled again, as an editor sees it.
        let edited = if i % 2 == 0 {
            format!("{text} ")
        } else {
            text.clone()
        };
        session.handle(message(
            json!({"jsonrpc": "2.0", "method": "textDocument/didChange",
            "params": {"textDocument": {"uri": uri, "version": 10_000 + i},
                       "contentChanges": [{"text": edited}]}}),
        ));
        let m = message(
            json!({"jsonrpc": "2.0", "id": 5000 + i, "method": "textDocument/codeLens",
            "params": {"textDocument": {"uri": uri}}}),
        );
        let start = Instant::now();
        let replies = session.handle(m);
        lens_times.push(start.elapsed());
        let shown = replies.iter().any(|r| matches!(r, Message::Response(r) if r.result.as_ref().is_some_and(|v| v.as_array().is_some_and(|a| !a.is_empty()))));
        assert!(shown, "the policy's tests are shown");
    }
    report("code lens (the file's tests run)", lens_times, None);
}
