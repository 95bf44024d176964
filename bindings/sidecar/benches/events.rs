//! Runtime events through NATS JetStream on loopback, one `nats-server -js` of its own:
//!
//! 1. throughput: a backlog of N events (process records, one in ten a shell that the
//!    example policy flags) drained by one replica, then by two (a new durable consumer each
//!    time), against `palisade check` over the same events from a file: events per second
//!    and the ratios, which show what the queue (and the per-event evidence) costs;
//! 2. latency: events published one at a time at a steady rate, each making a violation;
//!    p50 and p99 from publish to the violation's arrival on its subject;
//! 3. memory: a replica's peak RSS while it works through a backlog of BACKLOG events,
//!    against an idle replica's.
//!
//! Every replica serves the built-in library plus the example runtime policies and writes an
//! evidence log, as deployed. `cargo build --release -p palisade-cli` first (the `check`
//! baseline), then `cargo bench -p palisade-sidecar --bench events`. EVENTS_N (default
//! 100,000), EVENTS_BACKLOG (default 1,000,000; 0 skips the memory part) and EVENTS_LATENCY
//! (default 2,000) set the sizes.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "a bench fails loudly"
)]

#[path = "../tests/common/nats.rs"]
mod nats;

use futures_util::StreamExt;
use nats::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn size(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn palisade_cli() -> PathBuf {
    let cli = Path::new(env!("CARGO_BIN_EXE_palisade-serve")).with_file_name("palisade");
    assert!(
        cli.is_file(),
        "{} is missing: cargo build --release -p palisade-cli",
        cli.display()
    );
    cli
}

/// `publish` of a file to `stream` (subjects `<prefix>.>`).
fn publish_to(nats: &Nats, stream: &str, prefix: &str, file: &Path) {
    let subjects = format!("{prefix}.>");
    let subject = format!("{prefix}.records");
    publish_files(
        nats,
        &[
            "--stream",
            stream,
            "--subjects",
            &subjects,
            "--subject",
            &subject,
        ],
        &[file],
    );
}

/// The example runtime policies (with the lists they use) beside the built-in library,
/// whose deploy-time policies share names with the examples'.
fn runtime_policies(dir: &Path) -> PathBuf {
    let policies = dir.join("policies");
    if !policies.is_dir() {
        std::fs::create_dir(&policies).unwrap();
        for f in ["common.pal", "runtime.pal"] {
            std::fs::copy(root().join("examples/policies").join(f), policies.join(f)).unwrap();
        }
    }
    policies
}

fn replica_args(
    dir: &Path,
    key: &Path,
    stream: &str,
    prefix: &str,
    durable: &str,
    n: usize,
) -> Vec<String> {
    let log = dir.join(format!("{stream}-{durable}-{n}.db"));
    vec![
        "--builtin".into(),
        "--policies".into(),
        runtime_policies(dir).display().to_string(),
        "--stream".into(),
        stream.into(),
        "--subjects".into(),
        format!("{prefix}.>"),
        "--durable".into(),
        durable.into(),
        "--evidence".into(),
        log.display().to_string(),
        "--evidence-key".into(),
        key.display().to_string(),
    ]
}

fn start_replicas(nats: &Nats, args: &[Vec<String>]) -> Vec<Replica> {
    let replicas: Vec<Replica> = args
        .iter()
        .map(|a| Replica::start(nats, &strs(a), &[]))
        .collect();
    for r in &replicas {
        let started = Instant::now();
        while r.logged("events: consuming").is_empty() {
            assert!(started.elapsed() < Duration::from_secs(60));
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    replicas
}

/// Seconds until the consumer `durable` of `stream` has drained.
fn drain_seconds(nats: &Nats, stream: &str, durable: &str, started: Instant) -> f64 {
    loop {
        let state = runtime().block_on(async {
            let js = jetstream_of(nats).await;
            let s = js.get_stream(stream).await.ok()?;
            let info = s.consumer_info(durable).await.ok()?;
            Some((info.num_pending, info.num_ack_pending))
        });
        if state == Some((0, 0)) {
            return started.elapsed().as_secs_f64();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn main() {
    let Some(nats) = Nats::start("events bench") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let n = size("EVENTS_N", 100_000);
    let (file, shells) = process_events(dir.path(), n, "bench");

    // The baseline: `palisade check` over the same events, from the file.
    let started = Instant::now();
    let out = Command::new(palisade_cli())
        .args(["check", "--builtin", "--policies"])
        .arg(runtime_policies(dir.path()))
        .arg("--input")
        .arg(&file)
        .args(["--format", "json"])
        .env("PALISADE_NOW", NOW)
        .output()
        .unwrap();
    let check_seconds = started.elapsed().as_secs_f64();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["violations"].as_array().map(Vec::len),
        Some(shells.len())
    );
    let check_rate = n as f64 / check_seconds;

    // Replicas first (bound and idle), then the events: the time runs from the first
    // publish to the last ack, so no replica's start-up is counted or missed.
    let mut rates = Vec::new();
    for replicas in [1, 2] {
        let (stream, prefix) = (format!("BENCH{replicas}"), format!("b{replicas}"));
        let args: Vec<Vec<String>> = (0..replicas)
            .map(|i| replica_args(dir.path(), &key, &stream, &prefix, "bench", i))
            .collect();
        let running = start_replicas(&nats, &args);
        let started = Instant::now();
        publish_to(&nats, &stream, &prefix, &file);
        let seconds = drain_seconds(&nats, &stream, "bench", started);
        let acked: u64 = running
            .iter()
            .map(|r| r.metric("palisade_events_acked_total"))
            .sum();
        assert!(acked >= n as u64, "{acked} of {n} acked");
        rates.push(n as f64 / seconds);
        running.into_iter().for_each(Replica::stop);
    }

    println!("events: {n} process events, built-in library + example policies, evidence on");
    println!(
        "  palisade check (file)     {:>9.0} events/s   1.00",
        check_rate
    );
    for (i, rate) in rates.iter().enumerate() {
        println!(
            "  {} replica{} (JetStream)  {:>9.0} events/s   {:.2} of check",
            i + 1,
            if i == 0 { " " } else { "s" },
            rate,
            rate / check_rate
        );
    }
    println!("  two replicas / one: {:.2}", rates[1] / rates[0]);

    // Latency: publish → violation.
    let count = size("EVENTS_LATENCY", 2_000);
    let args = replica_args(dir.path(), &key, "LAT", "lat", "lat", 0);
    let replica = start_replicas(&nats, &[args]);
    let latencies = runtime().block_on(async {
        let client = async_nats::connect(nats.url()).await.unwrap();
        let js = async_nats::jetstream::new(client.clone());
        let mut violations = client.subscribe("palisade.violations.>").await.unwrap();
        client.flush().await.unwrap();
        let mut sent: HashMap<String, Instant> = HashMap::new();
        let mut got = Vec::with_capacity(count);
        let receiver = async {
            while got.len() < count {
                let m = violations.next().await.unwrap();
                let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
                got.push((v["record"]["id"].as_str().unwrap().to_string(), Instant::now()));
            }
            got
        };
        let sender = async {
            let mut tick = tokio::time::interval(Duration::from_millis(2));
            for i in 0..count {
                tick.tick().await;
                let id = format!("lat-{i}");
                let event = format!(
                    r#"{{"kind":"process","id":"{id}","time":"2026-11-26T09:00:00Z","namespace":"prod","container":"api","name":"bash","exec_path":"/bin/bash","uid":0}}"#
                );
                sent.insert(id, Instant::now());
                js.publish("lat.records", event.into()).await.unwrap();
            }
            sent
        };
        let (got, sent) = tokio::join!(receiver, sender);
        let mut latencies: Vec<Duration> = got
            .into_iter()
            .filter_map(|(id, at)| Some(at - *sent.get(&id)?))
            .collect();
        latencies.sort();
        latencies
    });
    replica.into_iter().for_each(Replica::stop);
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "latency, publish -> violation ({count} events at 500/s, one replica): p50 {:.2} ms, p99 {:.2} ms",
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3
    );

    // Memory under a backlog.
    let backlog = size("EVENTS_BACKLOG", 1_000_000);
    if backlog == 0 {
        return;
    }
    let idle = start_replicas(
        &nats,
        &[replica_args(dir.path(), &key, "IDLE", "idle", "idle", 0)],
    );
    std::thread::sleep(Duration::from_secs(2));
    let idle_rss = rss_kib(idle[0].child.id(), "VmRSS:");
    idle.into_iter().for_each(Replica::stop);
    let (big, _) = process_events(dir.path(), backlog, "backlog");
    let started = Instant::now();
    publish_to(&nats, "BACKLOG", "backlog", &big);
    let publish_seconds = started.elapsed().as_secs_f64();
    let busy = start_replicas(
        &nats,
        &[replica_args(
            dir.path(),
            &key,
            "BACKLOG",
            "backlog",
            "backlog",
            0,
        )],
    );
    let pid = busy[0].child.id();
    let mut samples = Vec::new();
    let watch = Instant::now();
    while watch.elapsed() < Duration::from_secs(20) {
        samples.push(rss_kib(pid, "VmRSS:"));
        std::thread::sleep(Duration::from_millis(100));
    }
    let consumed = busy[0].metric("palisade_events_acked_total");
    let peak = rss_kib(pid, "VmHWM:");
    busy.into_iter().for_each(Replica::stop);
    println!(
        "memory: backlog of {backlog} events (published in {publish_seconds:.1} s, {:.0}/s); over 20 s the replica acked {consumed}; RSS idle {} MiB, working through the backlog {} MiB (peak {} MiB, {:.2}x idle)",
        backlog as f64 / publish_seconds,
        idle_rss / 1024,
        samples.iter().max().copied().unwrap_or(0) / 1024,
        peak / 1024,
        peak as f64 / idle_rss.max(1) as f64
    );
}
