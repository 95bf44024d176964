//! `palisade check` against the number of threads (`PALISADE_THREADS`), as users run it:
//! the release CLI (`PALISADE_BIN`, default target/release/palisade), a first pass over
//! fresh JSON Lines, the whole built-in library.
//!
//! 1. Deployments with their images (8,000 deployments, 2,000 images with 20–300
//!    components and 0–40 vulnerabilities each).
//! 2. The same, then 500,000 process events.
//!
//! For each, records per second with 1, 2 and 4 threads (medians of 3, interleaved) and
//! the speed-up over one thread measured in the same run. The outputs of every thread
//! count must be byte for byte the same; the bench stops if not.
//!
//! `cargo build --release -p palisade-cli && cargo bench -p palisade-benches --bench threads`.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Writes records as JSON Lines; returns how many.
fn write_lines(path: &Path, records: impl Iterator<Item = serde_json::Value>) -> usize {
    let file = std::fs::File::create(path).unwrap_or_else(|e| unreachable!("{e}"));
    let mut out = std::io::BufWriter::new(file);
    let mut n = 0;
    for r in records {
        let _ = writeln!(out, "{r}");
        n += 1;
    }
    n
}

/// One run of `check`: its wall time and stdout.
fn run(input: &Path, threads: usize) -> (Duration, Vec<u8>) {
    let start = Instant::now();
    let out = Command::new(palisade_benches::release_cli())
        .args(["check", "--builtin", "--format", "json", "--input"])
        .arg(input)
        .env("PALISADE_THREADS", threads.to_string())
        .env("PALISADE_NOW", "2026-11-04T12:00:00Z")
        .output()
        .unwrap_or_else(|e| unreachable!("{}: {e}", palisade_benches::release_cli().display()));
    let took = start.elapsed();
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (took, out.stdout)
}

/// Prints records per second for each number of threads, against one thread.
fn measure(what: &str, input: &Path, records: usize) {
    let counts = [1usize, 2, 4];
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); counts.len()];
    let mut first: Option<Vec<u8>> = None;
    for _ in 0..3 {
        for (i, &threads) in counts.iter().enumerate() {
            let (took, out) = run(input, threads);
            match &first {
                None => first = Some(out),
                Some(one) => assert!(
                    *one == out,
                    "{what}: the output of {threads} threads differs from one thread's"
                ),
            }
            times[i].push(took);
        }
    }
    let one = palisade_benches::median(times[0].clone()).as_secs_f64();
    for (i, &threads) in counts.iter().enumerate() {
        let t = palisade_benches::median(times[i].clone()).as_secs_f64();
        println!(
            "{what}, {threads} thread{}: {:.2} s, {:.0} records/s, {:.2}x one thread",
            if threads == 1 { "" } else { "s" },
            t,
            records as f64 / t,
            one / t
        );
    }
}

fn main() {
    if !palisade_benches::release_cli().is_file() {
        eprintln!(
            "threads bench: {} is missing: cargo build --release -p palisade-cli",
            palisade_benches::release_cli().display()
        );
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("{cores} cores");
    let dir = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let workload = palisade_benches::workload_records(8_000, 42);
    let deployments = dir.path().join("deployments.jsonl");
    let n = write_lines(&deployments, workload.iter().cloned());
    measure("deployments and images", &deployments, n);
    let mixed = dir.path().join("mixed.jsonl");
    let n = write_lines(
        &mixed,
        workload
            .into_iter()
            .chain(palisade_benches::process_records(500_000, 7)),
    );
    measure("the same and 500,000 process events", &mixed, n);
}
