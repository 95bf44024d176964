//! `/v1/admit` latency with and without `--evidence`: two servers with the built-in library
//! on loopback, one writing the evidence log, answering alternate requests (so both see the
//! same machine load); prints the median and 99th percentile of each and their ratios.
//!
//! `cargo bench -p palisade-sidecar --bench admit_evidence` (ADMIT_REQUESTS sets how many
//! per server; 1,000 by default).

mod common;

use common::{percentile, review};
use palisade_sidecar::{Config, EvidenceFiles, PolicySource, Running, start};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn admit(server: &Running, body: &str) -> Duration {
    let t = Instant::now();
    let mut s = TcpStream::connect(server.local_addr())
        .await
        .unwrap_or_else(|e| unreachable!("{e}"));
    let head = format!(
        "POST /v1/admit HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())
        .await
        .unwrap_or_else(|e| unreachable!("{e}"));
    s.write_all(body.as_bytes())
        .await
        .unwrap_or_else(|e| unreachable!("{e}"));
    let mut out = Vec::new();
    s.read_to_end(&mut out)
        .await
        .unwrap_or_else(|e| unreachable!("{e}"));
    assert!(
        out.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    t.elapsed()
}

fn main() {
    let n: usize = std::env::var("ADMIT_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let dir = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let key = palisade_evidence::note::SigningKey::from_seed("bench", [9; 32])
        .unwrap_or_else(|e| unreachable!("{e}"));
    std::fs::write(dir.path().join("bench.key"), key.encode())
        .unwrap_or_else(|e| unreachable!("{e}"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| unreachable!("{e}"));
    runtime.block_on(async {
        let config = |evidence: bool| {
            let mut c = Config::new(
                "127.0.0.1:0".parse().unwrap_or_else(|e| unreachable!("{e}")),
                PolicySource { builtin: true, ..PolicySource::default() },
            );
            c.now = Some("2026-11-26T12:00:00Z".into());
            if evidence {
                c.evidence = Some(EvidenceFiles {
                    log: dir.path().join("evidence.db"),
                    key: dir.path().join("bench.key"),
                });
            }
            c
        };
        let plain = start(config(false)).await.unwrap_or_else(|e| unreachable!("{e}"));
        let recorded = start(config(true)).await.unwrap_or_else(|e| unreachable!("{e}"));
        for i in 0..50 {
            admit(&plain, &review(i)).await;
            admit(&recorded, &review(i)).await;
        }
        let (mut a, mut b) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for i in 0..n {
            let body = review(i);
            if i % 2 == 0 {
                a.push(admit(&plain, &body).await);
                b.push(admit(&recorded, &body).await);
            } else {
                b.push(admit(&recorded, &body).await);
                a.push(admit(&plain, &body).await);
            }
        }
        plain.shutdown().await;
        recorded.shutdown().await;
        a.sort();
        b.sort();
        let (a50, a99, b50, b99) = (percentile(&a, 0.5), percentile(&a, 0.99), percentile(&b, 0.5), percentile(&b, 0.99));
        println!(
            "/v1/admit, built-in library, {n} requests each: without evidence p50 {a50:.2} ms, p99 {a99:.2} ms; with --evidence p50 {b50:.2} ms ({:.2}x), p99 {b99:.2} ms ({:.2}x)",
            b50 / a50,
            b99 / a99
        );
        let mut entries = 0u64;
        let v = palisade_evidence::verify::verify(&dir.path().join("evidence.db"), &[key.verifier()], &[], |_, e| {
            entries += u64::from(matches!(e, palisade_evidence::entry::Entry::Admission(_)));
        })
        .unwrap_or_else(|e| unreachable!("{e}"));
        assert!(v.ok(), "{:?}", v.problem);
        println!("the evidence log verifies: {entries} admission decisions, {} checkpoints", v.checkpoints);
    });
}
