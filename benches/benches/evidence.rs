//! SOC 2 evidence, as users get it.
//!
//! 1. The cost of `check --evidence` over `check`: the release CLI (`PALISADE_BIN`, default
//!    target/release/palisade) on 2,000 deployments with the built-in library, the two runs
//!    interleaved, every evidence run appending to one growing log (as a CI job does);
//!    printed as medians and their ratio.
//! 2. `palisade report` of a period with 100,000 violations in every format: verifying the
//!    log, building the period and rendering it, from the file each time; criterion gives
//!    the time, allocation-counter the peak heap (printed once per format).
//!
//! `cargo build --release -p palisade-cli && cargo bench -p palisade-benches --bench evidence`.

use chrono::{DateTime, Duration, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use palisade_evidence::entry::*;
use palisade_evidence::note::SigningKey;
use palisade_evidence::period::{Builder, LogSummary, Options, Period};
use palisade_evidence::store::Writer;
use palisade_evidence::{html, openreports, oscal};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const VIOLATIONS: u64 = 100_000;

fn key() -> SigningKey {
    SigningKey::from_seed("bench", [5; 32]).unwrap_or_else(|e| unreachable!("{e}"))
}

fn time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// One run of 100,000 violations over 25,000 deployments and four policies.
fn write_log(path: &Path) {
    let mut w =
        Writer::open(path, key(), "2026-11-01T00:00:00Z").unwrap_or_else(|e| unreachable!("{e}"));
    let t = "2026-11-02T00:00:00Z";
    let policies: Vec<PolicySummary> = ["a", "b", "c", "d"]
        .iter()
        .enumerate()
        .map(|(i, n)| PolicySummary {
            name: format!("policy {n}"),
            severity: ["low", "medium", "high", "critical"][i].into(),
            lifecycle: vec!["deploy".into()],
            soc2: vec![["CC6.1", "CC6.8", "CC7.1", "CC8.1"][i].into()],
            enforcement: vec![],
            disabled: false,
            exclusions: vec![],
        })
        .collect();
    let entries = [
        Entry::RunStarted(RunStarted {
            run: "r".into(),
            time: t.into(),
            source: "check".into(),
            tool: "bench".into(),
            policy_set: "sha256:set".into(),
            inputs: vec![],
            actor: None,
        }),
        Entry::PolicySet(PolicySet {
            run: "r".into(),
            time: t.into(),
            digest: "sha256:set".into(),
            policies,
        }),
    ];
    for e in entries {
        w.append(e).unwrap_or_else(|e| unreachable!("{e}"));
    }
    for i in 0..VIOLATIONS {
        let p = (i % 4) as usize;
        w.append(Entry::Violation(ViolationEntry {
            run: "r".into(),
            time: t.into(),
            policy: format!("policy {}", ["a", "b", "c", "d"][p]),
            severity: ["low", "medium", "high", "critical"][p].into(),
            lifecycle: "deploy".into(),
            soc2: vec![["CC6.1", "CC6.8", "CC7.1", "CC8.1"][p].into()],
            record: RecordRef {
                kind: "deployment".into(),
                id: format!("d{}", i / 4),
                name: Some(format!("app-{}", i / 4)),
                namespace: Some(format!("ns{}", i % 50)),
            },
            record_digest: format!("sha256:{i:064x}"),
            messages: vec![format!("container 'c' of app-{} violates it", i / 4)],
            enforcement: vec![],
            event: None,
        }))
        .unwrap_or_else(|e| unreachable!("{e}"));
    }
    w.append(Entry::RunFinished(RunFinished {
        run: "r".into(),
        time: t.into(),
        records: VIOLATIONS / 4,
        violations: VIOLATIONS,
        exceptions: 0,
        failed: true,
    }))
    .unwrap_or_else(|e| unreachable!("{e}"));
    w.flush().unwrap_or_else(|e| unreachable!("{e}"));
}

/// What `palisade report` does before rendering: verify the log while building the period.
fn period(path: &Path) -> Period {
    let mut b = Builder::new(Options {
        from: time("2026-11-01T00:00:00Z"),
        to: time("2026-12-01T00:00:00Z"),
        max_gap: Duration::days(1),
        generated: time("2026-12-01T00:00:00Z"),
    })
    .unwrap_or_else(|e| unreachable!("{e}"));
    let log_id = palisade_evidence::store::Reader::open(path)
        .map(|r| r.meta().log_id.clone())
        .unwrap_or_else(|e| unreachable!("{e}"));
    b.start_log("bench.db", &log_id);
    let v = palisade_evidence::verify::verify(path, &[key().verifier()], &[], |seq, e| {
        b.entry(seq, &e).unwrap_or_else(|e| unreachable!("{e}"))
    })
    .unwrap_or_else(|e| unreachable!("{e}"));
    assert!(v.ok(), "{:?}", v.problem);
    b.log_summary(LogSummary {
        file: "bench.db".into(),
        log_id: v.log_id,
        entries: v.entries,
        checkpoints: v.checkpoints,
        signers: v.signers.into_iter().collect(),
        verified: true,
    });
    b.finish().unwrap_or_else(|e| unreachable!("{e}"))
}

/// Bytes written to a sink, as `palisade report` writes them to a file.
struct Counting(usize);

impl std::io::Write for Counting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn render(format: &str, p: &Period) -> usize {
    let mut out = std::io::BufWriter::new(Counting(0));
    let written = match format {
        "html" => std::io::Write::write_all(&mut out, html::render(p).as_bytes()).is_ok(),
        "json" => serde_json::to_writer_pretty(&mut out, p).is_ok(),
        "oscal" => oscal::write_assessment_results(p, &mut out).is_ok(),
        _ => openreports::write_reports(p, &mut out).is_ok(),
    };
    assert!(written, "{format} written");
    out.into_inner().map_or(0, |c| c.0)
}

fn reports(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let path = dir.path().join("bench.db");
    write_log(&path);
    for format in ["html", "json", "oscal", "openreports"] {
        let mut bytes = 0;
        let info = allocation_counter::measure(|| bytes = render(format, &period(&path)));
        eprintln!(
            "report of {VIOLATIONS} violations, {format}: {:.1} MB written, peak heap {:.0} MB",
            bytes as f64 / 1e6,
            info.bytes_max as f64 / 1e6
        );
    }
    let mut g = c.benchmark_group("report of 100,000 violations");
    g.sample_size(10);
    g.measurement_time(std::time::Duration::from_secs(20));
    for format in ["html", "json", "oscal", "openreports"] {
        g.bench_function(format, |b| b.iter(|| render(format, &period(&path))));
    }
    g.finish();
}

fn cli() -> Option<PathBuf> {
    let bin = std::env::var_os("PALISADE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/palisade")
        });
    bin.is_file().then_some(bin)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `check` against `check --evidence`, interleaved, on the release CLI.
fn check_overhead(_: &mut Criterion) {
    let Some(bin) = cli() else {
        eprintln!(
            "check --evidence overhead: skipped, no release CLI (cargo build --release -p palisade-cli, or PALISADE_BIN)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let input = dir.path().join("deployments.json");
    let records: Vec<serde_json::Value> = (0..2000)
        .map(|i| serde_json::json!({"kind": "deployment", "id": format!("d{i}"), "name": format!("app-{i}"),
            "namespace": format!("ns{}", i % 20), "containers": [{"name": "c",
            "image": {"name": {"full_name": if i % 3 == 0 { "nginx:latest" } else { "nginx:1.27" }}},
            "security_context": {"privileged": i % 4 == 0}}]}))
        .collect();
    std::fs::write(&input, serde_json::to_string(&records).unwrap_or_default())
        .unwrap_or_else(|e| unreachable!("{e}"));
    std::fs::write(dir.path().join("bench.key"), key().encode())
        .unwrap_or_else(|e| unreachable!("{e}"));
    let run = |evidence: bool| {
        let mut cmd = Command::new(&bin);
        cmd.current_dir(dir.path())
            .env("PALISADE_NOW", "2026-11-26T12:00:00Z")
            .args([
                "check",
                "--builtin",
                "--format",
                "json",
                "--input",
                "deployments.json",
            ]);
        if evidence {
            cmd.args(["--evidence", "evidence.db", "--evidence-key", "bench.key"]);
        }
        let t = Instant::now();
        let out = cmd.output().unwrap_or_else(|e| unreachable!("{e}"));
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        t.elapsed().as_secs_f64()
    };
    run(false);
    run(true);
    let (mut plain, mut recorded) = (Vec::new(), Vec::new());
    for _ in 0..15 {
        plain.push(run(false));
        recorded.push(run(true));
    }
    let (p, r) = (median(plain), median(recorded));
    eprintln!(
        "check of 2,000 deployments with the built-in library: {:.1} ms; with --evidence: {:.1} ms; ratio {:.2}x",
        p * 1e3,
        r * 1e3,
        r / p
    );
}

criterion_group!(benches, check_overhead, reports);
criterion_main!(benches);
