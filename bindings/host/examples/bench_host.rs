//! Per-record cost of the wasmtime-hosted plugin against the native engine, in one run:
//! the full built-in library over the benches' workload (deployments joined with images of
//! 20-300 components; process events), each record with its `kind` first. Three figures per workload, medians of interleaved
//! rounds: `api::check_with` natively on a request already parsed; `api::Evaluator::check`
//! natively on the request bytes, which is what the plugin runs (parse the request, evaluate,
//! report); and `Pool::check` (copy in, the same work inside the plugin, copy out). The ratio
//! is hosted against the same work natively. Then one request in parts at once
//! (`Pool::check_parts`, what `palisade serve` does with a large `/v1/check` when slots are
//! free): records per second against the number of parts (threads), against one part in the
//! same run.
//! Run: `cargo run --release -p palisade-host --example bench_host`.

use palisade_api::{CheckRequest, CompileRequest, Evaluator, check_with, compile_policies};
use palisade_host::{Limits, Plugin, Pool};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let compiled = match compile_policies(&CompileRequest {
        policies: vec![],
        builtin: true,
        config: None,
    }) {
        Ok(c) => c,
        Err(v) => return eprintln!("library: {v}"),
    };
    let bundle = palisade_engine::bundle::write_bundle(compiled.matcher.program());
    let mut evaluator = Evaluator::default();
    let loaded = evaluator.load(bundle.as_bytes());
    if !loaded.starts_with(r#"{"ok":true"#) {
        return eprintln!("native evaluator: {loaded}");
    }
    let pool = match Plugin::embedded().and_then(|p| Pool::new(p, bundle, Limits::default())) {
        Ok(p) => p,
        Err(e) => return eprintln!("plugin: {e}"),
    };
    let workloads = [
        (
            "200 deployments + 50 images",
            palisade_benches::workload_records(200, 7),
            250usize,
        ),
        (
            "2,000 process events",
            palisade_benches::process_records(2000, 11),
            2000,
        ),
    ];
    println!(
        "{:<30} {:>14} {:>14} {:>14} {:>8}",
        "workload (full library)", "parsed/record", "native/record", "hosted/record", "ratio"
    );
    let mut requests = Vec::new();
    for (label, records, n) in workloads {
        let text = palisade_benches::records_text(&records);
        let request = json!({"inputs": [{"name": "w.json", "text": text}], "now": "2026-11-18T00:00:00Z", "all": true});
        let req: CheckRequest = match serde_json::from_value(request.clone()) {
            Ok(r) => r,
            Err(e) => return eprintln!("{e}"),
        };
        let request = request.to_string();
        requests.push((label, request.clone(), n));
        let native_out = check_with(&compiled.matcher, &req).unwrap_or_else(|v| v.to_string());
        let hosted_out = pool.check(&request).unwrap_or_else(|e| e.to_string());
        if native_out != hosted_out || evaluator.check(request.as_bytes()) != hosted_out {
            return eprintln!("{label}: the hosted plugin and the native engine disagree");
        }
        let violations = serde_json::from_str::<Value>(&native_out)
            .map(|v| v["summary"]["violations"].clone())
            .unwrap_or_default();
        let (mut parsed, mut native, mut hosted) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..15 {
            let t = Instant::now();
            std::hint::black_box(
                check_with(&compiled.matcher, &req)
                    .map(|s| s.len())
                    .unwrap_or(0),
            );
            parsed.push(t.elapsed());
            let t = Instant::now();
            std::hint::black_box(evaluator.check(request.as_bytes()).len());
            native.push(t.elapsed());
            let t = Instant::now();
            std::hint::black_box(pool.check(&request).map(|s| s.len()).unwrap_or(0));
            hosted.push(t.elapsed());
        }
        let (parsed, native, hosted) = (median(parsed), median(native), median(hosted));
        println!(
            "{:<30} {:>11.2} us {:>11.2} us {:>11.2} us {:>7.2}x   ({n} records, {violations} violations, identical output)",
            label,
            parsed.as_secs_f64() * 1e6 / n as f64,
            native.as_secs_f64() * 1e6 / n as f64,
            hosted.as_secs_f64() * 1e6 / n as f64,
            hosted.as_secs_f64() / native.as_secs_f64()
        );
    }
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let counts: Vec<usize> = [1, 2, cores, 2 * cores]
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    println!("\none request in parts at once ({cores} cores): records per second (x one part)");
    for (label, request, n) in &requests {
        let whole = pool.check(request).unwrap_or_else(|e| e.to_string());
        let mut times = vec![Vec::new(); counts.len()];
        for _ in 0..9 {
            for (k, parts) in counts.iter().enumerate() {
                let t = Instant::now();
                let out = pool.check_parts(request, *parts);
                times[k].push(t.elapsed());
                if out.as_deref().ok() != Some(whole.as_str()) {
                    return eprintln!("{label}: {parts} parts answer differently");
                }
            }
        }
        let rates: Vec<f64> = times
            .into_iter()
            .map(|t| *n as f64 / median(t).as_secs_f64())
            .collect();
        let line: Vec<String> = counts
            .iter()
            .zip(&rates)
            .map(|(parts, r)| format!("{parts}: {r:>8.0}/s ({:.2}x)", r / rates[0]))
            .collect();
        println!("{label:<30} {}   (identical output)", line.join("   "));
    }
}
