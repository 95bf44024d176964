//! Process baselines, as users get them: a first pass over fresh JSON Lines.
//!
//! 1. `palisade baseline learn` of 1,000,000 process events (5,000 workloads × 2
//!    containers, 8 of 200 paths each, pods renamed per event, one hour of event time):
//!    the release CLI (`PALISADE_BIN`, default target/release/palisade), against the same
//!    CLI's `check` of the same events with one runtime policy and no baselines, measured
//!    in the same run; medians of 3 and their ratio. Peak memory (`/usr/bin/time -f %M`,
//!    when present) for 100,000 and 1,000,000 events: bounded by the distinct (workload,
//!    container, path), not by the events.
//! 2. `palisade check --baselines` of 1,000,000 later events (1% outside their baseline)
//!    against the 10,000 learned baselines, against the same check without --baselines.
//! 3. In process (the libraries as embedders use them): learning from the file's bytes, and
//!    the engine's baseline join of 1,000,000 parsed process records against 10,000
//!    baselines, against parsing alone.
//!
//! `cargo build --release -p palisade-cli && cargo bench -p palisade-benches --bench baseline`.

use palisade_baseline::learn::{Event, Learner, Options};
use palisade_engine::Dataset;
use palisade_engine::record::Record;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const WORKLOADS: u64 = 5_000;
const T0: i64 = 1_790_000_000;

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn time(t: i64) -> String {
    palisade_engine::record::Timestamp(t)
        .rfc3339()
        .unwrap_or_default()
}

/// `n` events from `start` (one per 3.6 ms: an hour per million), `outside` in a thousand
/// running a path outside their workload's eight.
fn write_events(path: &Path, n: u64, start: i64, outside_per_mille: u64, seed: u64) {
    let mut rng = Rng(seed);
    let file = std::fs::File::create(path).unwrap_or_else(|e| unreachable!("{e}"));
    let mut out = std::io::BufWriter::new(file);
    let alphabet = b"bcdfghjklmnpqrstvwxz2456789";
    for i in 0..n {
        let w = rng.below(WORKLOADS);
        let c = rng.below(2);
        let path = if rng.below(1000) < outside_per_mille {
            format!("/tmp/.x/implant{}", rng.below(50))
        } else {
            format!("/usr/bin/tool{}", (w * 7 + c * 3 + rng.below(8)) % 200)
        };
        let suffix: String = (0..5)
            .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize] as char)
            .collect();
        let t = start + (i as i64 * 36) / 10_000;
        let _ = writeln!(
            out,
            r#"{{"kind":"process","id":"e{i}","time":"{}","cluster":"bench","namespace":"ns{}","pod":"app{w}-7d4b9c5f6-{suffix}","container":"c{c}","name":"tool","exec_path":"{path}","args":"--serve","uid":1000}}"#,
            time(t),
            w % 50,
        );
    }
    // The clock passes every window.
    let _ = writeln!(
        out,
        r#"{{"kind":"process","id":"clock","time":"{}","namespace":"ns0","pod":"clock-x2x9z","container":"c0","exec_path":"/clock"}}"#,
        time(start + 3 * 3600)
    );
    // On disk before anything is timed, as a user's files are: the kernel's write-back of
    // 220 MB would otherwise run during the first measurements.
    let file = out.into_inner().unwrap_or_else(|e| unreachable!("{e}"));
    file.sync_all().unwrap_or_else(|e| unreachable!("{e}"));
}

/// Runs the CLI; returns the wall time.
fn run(args: &[&str]) -> Duration {
    let start = Instant::now();
    let out = Command::new(palisade_benches::release_cli())
        .args(args)
        .output()
        .unwrap_or_else(|e| unreachable!("{}: {e}", palisade_benches::release_cli().display()));
    let took = start.elapsed();
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

/// Peak resident memory of a CLI run in MB, when `/usr/bin/time` is there.
fn peak_mb(args: &[&str]) -> Option<f64> {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(palisade_benches::release_cli())
        .args(args)
        .output()
        .ok()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let kb: f64 = stderr.lines().last()?.trim().parse().ok()?;
    Some(kb / 1024.0)
}

/// Medians of 3 interleaved runs of `a` and `b`.
fn compare(a: &[&str], b: &[&str]) -> (Duration, Duration) {
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        ta.push(run(a));
        tb.push(run(b));
    }
    (palisade_benches::median(ta), palisade_benches::median(tb))
}

fn main() {
    if !palisade_benches::release_cli().is_file() {
        eprintln!(
            "baseline bench: {} is missing: cargo build --release -p palisade-cli",
            palisade_benches::release_cli().display()
        );
        return;
    }
    // PALISADE_BENCH_DIR keeps the generated files there (to profile a run by hand).
    let dir = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let kept = std::env::var_os("PALISADE_BENCH_DIR").map(PathBuf::from);
    let root = kept.as_deref().unwrap_or(dir.path()).to_path_buf();
    let d = |name: &str| root.join(name).display().to_string();
    let (learn1m, learn100k, later, baselines) = (
        d("learn-1m.jsonl"),
        d("learn-100k.jsonl"),
        d("later.jsonl"),
        d("baselines.jsonl"),
    );
    write_events(Path::new(&learn1m), 1_000_000, T0, 0, 7);
    write_events(Path::new(&learn100k), 100_000, T0, 0, 7);
    write_events(Path::new(&later), 1_000_000, T0 + 7200, 10, 11);
    let policy = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../policies/baselining_policy.pal")
        .display()
        .to_string();

    // 1. Learning.
    let learn = ["baseline", "learn", "--input", &learn1m, "-o", &baselines];
    let plain_check = [
        "check",
        "--policies",
        &policy,
        "--input",
        &learn1m,
        "--format",
        "json",
    ];
    let (t_learn, t_check) = compare(&learn, &plain_check);
    let count = std::fs::read_to_string(&baselines).map_or(0, |t| t.lines().count());
    println!(
        "learn 1,000,000 events -> {count} baselines: {:.2} s; check of the same events (1 policy, no baselines): {:.2} s; ratio {:.2}",
        t_learn.as_secs_f64(),
        t_check.as_secs_f64(),
        t_learn.as_secs_f64() / t_check.as_secs_f64()
    );
    let scratch = d("scratch.jsonl");
    if let (Some(small), Some(large)) = (
        peak_mb(&["baseline", "learn", "--input", &learn100k, "-o", &scratch]),
        peak_mb(&["baseline", "learn", "--input", &learn1m, "-o", &scratch]),
    ) {
        println!(
            "learn peak memory: 100,000 events {small:.0} MB, 1,000,000 events {large:.0} MB (ratio {:.2} for 10x the events)",
            large / small
        );
    }

    // 2. Checking against the learned baselines.
    let with = [
        "check",
        "--policies",
        &policy,
        "--baselines",
        &baselines,
        "--input",
        &later,
        "--format",
        "json",
    ];
    let without = [
        "check",
        "--policies",
        &policy,
        "--input",
        &later,
        "--format",
        "json",
    ];
    let (t_with, t_without) = compare(&with, &without);
    println!(
        "check 1,000,000 events against {count} baselines: {:.2} s; without baselines: {:.2} s; ratio {:.2}",
        t_with.as_secs_f64(),
        t_without.as_secs_f64(),
        t_with.as_secs_f64() / t_without.as_secs_f64()
    );
    if let Some(mb) = peak_mb(&with) {
        println!("check peak memory: {mb:.0} MB");
    }

    // 3. In process.
    let bytes = std::fs::read(&learn1m).unwrap_or_default();
    let start = Instant::now();
    let mut scanned = 0usize;
    let _ = palisade_engine::input::read_raw_items(&bytes[..], |_| {
        scanned += 1;
        Ok(())
    });
    let t_scan = start.elapsed();
    let start = Instant::now();
    let mut learner =
        Learner::new(Options::default(), Vec::new()).unwrap_or_else(|e| unreachable!("{e}"));
    let _ = palisade_engine::input::read_raw_items(&bytes[..], |raw| {
        if let Ok(e) = serde_json::from_str::<Event<'_>>(raw.get()) {
            learner.observe_event(&e, String::new);
        }
        Ok(())
    });
    let learned = learner.finish().unwrap_or_else(|e| unreachable!("{e}"));
    let t_lib_learn = start.elapsed();
    println!(
        "in process: learning {scanned} events {:.2} s; scanning their JSON alone {:.2} s; ratio {:.2}",
        t_lib_learn.as_secs_f64(),
        t_scan.as_secs_f64(),
        t_lib_learn.as_secs_f64() / t_scan.as_secs_f64()
    );
    let later_bytes = std::fs::read(&later).unwrap_or_default();
    let start = Instant::now();
    let mut parsed = Vec::with_capacity(1_000_001);
    let _ = palisade_engine::input::read_records(&later_bytes[..], |r| {
        parsed.push(r);
        Ok(())
    });
    let t_parse = start.elapsed();
    let mut dataset = Dataset::default();
    for b in learned.baselines {
        let _ = dataset.add(Record::Baseline(b));
    }
    dataset.finish();
    let start = Instant::now();
    let mut outside = 0usize;
    for r in &parsed {
        if let Record::Process(p) = r {
            outside += usize::from(dataset.join_process(p).outside_baseline);
        }
    }
    let t_join = start.elapsed();
    println!(
        "in process: {} processes against {} baselines: join {:.3} s ({outside} outside); parsing them {:.2} s; ratio {:.3}",
        parsed.len(),
        dataset.baselines().len(),
        t_join.as_secs_f64(),
        t_parse.as_secs_f64(),
        t_join.as_secs_f64() / t_parse.as_secs_f64()
    );
}
