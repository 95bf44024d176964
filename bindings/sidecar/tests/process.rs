//! `palisade-serve` (what `palisade serve` runs) as a process: starts on an ephemeral port, answers, stops cleanly on
//! SIGTERM; bad flags and broken policies exit 2 with a message.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn serve_starts_answers_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade-serve"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--drain-ms",
            "3000",
            "--policies",
        ])
        .arg(root().join("examples/policies"))
        .env("PALISADE_NOW", "2026-11-26T12:00:00Z")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("serve exited before listening")
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        if v["msg"] == "listening" {
            break v["addr"].as_str().unwrap().to_string();
        }
    };
    assert!(get(&addr, "/healthz").ends_with("ok\n"));
    let ready = get(&addr, "/readyz");
    assert!(
        ready.starts_with("HTTP/1.1 200") && ready.contains("\"policies\":7"),
        "{ready}"
    );
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // Draining: still answering (new connections included), but no longer ready, so
    // Kubernetes stops sending before the server stops accepting.
    let draining = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("shutting down"));
    assert!(
        draining.is_some_and(|l| l.contains("\"drain_ms\":3000")),
        "no shutdown line"
    );
    let ready = get(&addr, "/readyz");
    assert!(
        ready.starts_with("HTTP/1.1 503") && ready.contains("\"draining\":true"),
        "{ready}"
    );
    assert!(get(&addr, "/healthz").ends_with("ok\n"));
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let code = child.wait().unwrap();
    assert_eq!(code.code(), Some(0), "{rest:?}");
    assert!(
        std::net::TcpStream::connect(&addr).is_err(),
        "stopped accepting after the drain"
    );
}

#[test]
fn serve_refuses_bad_flags_and_broken_policies() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.pal"),
        "policy \"x\" { severity high lifecycle deploy soc2 CC6.1 when container.privilegd }",
    )
    .unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--listen".into(), "nonsense".into()],
            "--listen `nonsense`",
        ),
        (
            vec![
                "--listen".into(),
                "127.0.0.1:0".into(),
                "--policies".into(),
                dir.path().display().to_string(),
            ],
            "privilegd",
        ),
        (
            vec![
                "--listen".into(),
                "127.0.0.1:0".into(),
                "--tls-cert".into(),
                "/nonexistent.crt".into(),
                "--tls-key".into(),
                "/nonexistent.key".into(),
            ],
            "tls: /nonexistent.crt",
        ),
        (vec!["--tls-cert".into(), "x.crt".into()], "--tls-key"),
    ];
    for (args, expected) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_palisade-serve"))
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    let mut now = Command::new(env!("CARGO_BIN_EXE_palisade-serve"));
    let out = now
        .args(["--listen", "127.0.0.1:0"])
        .env("PALISADE_NOW", "yesterday")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PALISADE_NOW"));
}

/// Sends an AdmissionReview of a privileged pod; returns the response's `allowed`.
fn admit_privileged_pod(addr: &str) -> serde_json::Value {
    let review = serde_json::json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "u-1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "namespace": "shop", "operation": "CREATE",
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.25", "securityContext": {"privileged": true}}]}}}})
    .to_string();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST /v1/admit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{review}",
        review.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let body = out.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(body).unwrap_or_else(|e| panic!("{e}: {out}"))
        ["response"]
        .clone()
}

/// The binary reads ./palisade.toml (or --config): with enforcement turned on for
/// "Privileged Container", /v1/admit denies a privileged pod of the built-in library; with
/// --no-config it is allowed with a warning.
#[test]
fn serve_reads_palisade_toml_from_its_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("palisade.toml"),
        "[policy.\"Privileged Container\"]\nenforce = true\n",
    )
    .unwrap();
    for (extra, denied) in [(None, true), (Some("--no-config"), false)] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_palisade-serve"))
            .args(["--listen", "127.0.0.1:0", "--drain-ms", "0"])
            .args(extra)
            .current_dir(dir.path())
            .env("PALISADE_NOW", "2026-11-26T12:00:00Z")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("serve exited before listening")
                .unwrap();
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            if v["msg"] == "listening" {
                break v["addr"].as_str().unwrap().to_string();
            }
        };
        let response = admit_privileged_pod(&addr);
        assert_eq!(response["allowed"], !denied, "{extra:?}: {response}");
        let said = if denied {
            response["status"]["message"].to_string()
        } else {
            response["warnings"].to_string()
        };
        assert!(said.contains("Privileged Container"), "{extra:?}: {said}");
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        assert_eq!(child.wait().unwrap().code(), Some(0));
    }
}

/// `--evidence`: the binary writes every admission decision to the log, and SIGTERM
/// finishes the session; the log verifies with the public key. `--evidence` without a key
/// is refused.
#[test]
fn serve_writes_the_evidence_log_and_finishes_it_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let key = palisade_evidence::note::SigningKey::from_seed("serve.process", [4; 32]).unwrap();
    std::fs::write(dir.path().join("serve.key"), key.encode()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade-serve"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--drain-ms",
            "0",
            "--evidence",
            "evidence.db",
        ])
        .current_dir(dir.path())
        .env("PALISADE_NOW", "2026-11-26T12:00:00Z")
        .env("PALISADE_EVIDENCE_KEY", dir.path().join("serve.key"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("serve exited before listening")
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if v["msg"] == "listening" {
            break v["addr"].as_str().unwrap().to_string();
        }
    };
    let response = admit_privileged_pod(&addr);
    assert_eq!(response["uid"], "u-1");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert_eq!(child.wait().unwrap().code(), Some(0), "{rest:?}");
    let mut kinds = Vec::new();
    let v = palisade_evidence::verify::verify(
        &dir.path().join("evidence.db"),
        &[key.verifier()],
        &[],
        |_, e| kinds.push(e.kind()),
    )
    .unwrap();
    assert!(v.ok(), "{:?}", v.problem);
    assert_eq!(
        kinds,
        [
            "log",
            "policy_set",
            "run_started",
            "admission",
            "run_finished"
        ]
    );

    let out = Command::new(env!("CARGO_BIN_EXE_palisade-serve"))
        .args(["--listen", "127.0.0.1:0", "--evidence", "x.db"])
        .current_dir(dir.path())
        .env_remove("PALISADE_EVIDENCE_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--evidence-key"));
    assert!(!dir.path().join("x.db").exists());
}

#[test]
fn publish_refuses_a_bad_file_before_connecting_and_an_unreachable_server_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"kind\":\"process\"}\n{\"kind\":\n").unwrap();
    // Port 1 on loopback: nothing listens there.
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_palisade-serve"))
        .args(["publish", "--events", "nats://127.0.0.1:1", "--input"])
        .arg(&bad)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("bad.jsonl: line 2: not JSON"), "{stderr}");
    let good = dir.path().join("good.jsonl");
    std::fs::write(&good, "{\"kind\":\"process\"}\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_palisade-serve"))
        .args(["publish", "--events", "nats://127.0.0.1:1", "--input"])
        .arg(&good)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot connect to nats://127.0.0.1:1"),
        "{stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "no wait for a server that is not there"
    );
    // A missing file and no --input are errors too.
    let out = Command::new(env!("CARGO_BIN_EXE_palisade-serve"))
        .args([
            "publish",
            "--events",
            "nats://127.0.0.1:1",
            "--input",
            "/nonexistent/e.json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/e.json"));
    let out = Command::new(env!("CARGO_BIN_EXE_palisade-serve"))
        .args(["publish", "--events", "nats://127.0.0.1:1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
