//! `/v1/admit` under load, as the Kubernetes API server sends it: 8 clients, each on its own
//! keep-alive connection, sending AdmissionReviews one after the other (a closed loop), to a
//! server with the built-in library on loopback. For each number of cores the server gets
//! (its runtime's worker threads and its concurrent plugin calls, 1 up to the machine's),
//! prints the requests per second, the median and the 99th percentile, and the throughput
//! against one core. The clients run on a thread of their own, on the same machine.
//!
//! `cargo bench -p palisade-sidecar --bench admit_load` (ADMIT_REQUESTS sets the requests
//! per client; 500 by default; ADMIT_CLIENTS the clients, 8 by default).

mod common;

use bytes::Bytes;
use common::{percentile, review};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use palisade_sidecar::{Config, PolicySource, start};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// One client: a keep-alive connection, `n` requests in a row; their latencies.
async fn client(addr: SocketAddr, first_uid: usize, n: usize) -> Vec<Duration> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| unreachable!("{e}"));
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap_or_else(|e| unreachable!("{e}"));
    tokio::spawn(connection);
    let mut latencies = Vec::with_capacity(n);
    for uid in first_uid..first_uid + n {
        let body = review(uid);
        let request = Request::post("/v1/admit")
            .header("host", "localhost")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_else(|e| unreachable!("{e}"));
        let t = Instant::now();
        let response = sender
            .send_request(request)
            .await
            .unwrap_or_else(|e| unreachable!("{e}"));
        let status = response.status();
        let answer = response
            .into_body()
            .collect()
            .await
            .unwrap_or_else(|e| unreachable!("{e}"))
            .to_bytes();
        latencies.push(t.elapsed());
        assert!(
            status.is_success(),
            "{status}: {}",
            String::from_utf8_lossy(&answer)
        );
        let v: serde_json::Value = serde_json::from_slice(&answer).unwrap_or_default();
        // Every fourth review is privileged: the built-in library warns of it (its
        // default enforces nothing).
        let warned = v["response"]["warnings"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|w| {
                w.as_str()
                    .is_some_and(|w| w.starts_with("Privileged Container"))
            });
        assert_eq!(warned, uid.is_multiple_of(4), "{v}");
        assert_eq!(v["response"]["uid"], format!("u-{uid}"), "{v}");
    }
    latencies
}

/// Serves with `cores` worker threads and plugin calls; `clients` clients send `n` each.
/// Requests per second, p50 and p99 in ms.
fn run(cores: usize, clients: usize, n: usize) -> (f64, f64, f64) {
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .enable_all()
        .build()
        .unwrap_or_else(|e| unreachable!("{e}"));
    let mut config = Config::new(
        "127.0.0.1:0"
            .parse()
            .unwrap_or_else(|e| unreachable!("{e}")),
        PolicySource {
            builtin: true,
            ..PolicySource::default()
        },
    );
    config.now = Some("2026-11-26T12:00:00Z".into());
    config.max_concurrent_checks = cores;
    config.max_checks_per_client = Some(cores);
    let server = server_runtime
        .block_on(start(config))
        .unwrap_or_else(|e| unreachable!("{e}"));
    let addr = server.local_addr();
    let client_runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| unreachable!("{e}"));
    // Warm-up: every plugin instance created, connections made once.
    client_runtime.block_on(async {
        let warm: Vec<_> = (0..clients)
            .map(|c| tokio::spawn(client(addr, 1_000_000 + c * 20, 20)))
            .collect();
        for w in warm {
            // A wrong answer during the warm-up fails the bench as it would later.
            w.await.unwrap_or_else(|e| unreachable!("{e}"));
        }
    });
    let start_time = Instant::now();
    let mut latencies: Vec<Duration> = client_runtime.block_on(async {
        let tasks: Vec<_> = (0..clients)
            .map(|c| tokio::spawn(client(addr, c * n, n)))
            .collect();
        let mut all = Vec::with_capacity(clients * n);
        for t in tasks {
            all.extend(t.await.unwrap_or_else(|e| unreachable!("{e}")));
        }
        all
    });
    let took = start_time.elapsed();
    server_runtime.block_on(server.shutdown());
    latencies.sort();
    (
        latencies.len() as f64 / took.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
    )
}

fn main() {
    let var = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (n, clients) = (var("ADMIT_REQUESTS", 500), var("ADMIT_CLIENTS", 8));
    let machine = std::thread::available_parallelism().map_or(1, usize::from);
    let mut one_core = None;
    for cores in 1..=machine {
        let (rate, p50, p99) = run(cores, clients, n);
        let base = *one_core.get_or_insert(rate);
        println!(
            "/v1/admit, built-in library, {clients} keep-alive clients x {n} requests, server on {cores} of {machine} cores: {rate:.0} requests/s ({:.2}x of 1 core), p50 {p50:.2} ms, p99 {p99:.2} ms",
            rate / base
        );
    }
}
