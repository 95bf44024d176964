//! Times the host API's `check` (compile the example policies + evaluate the example records)
//! natively; `wasm/tests/bench.mjs` times the same request through the WASM build.
//! Usage: cargo run --release -p palisade-engine --example bench_api -- REQUEST.json [RUNS]

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(text) = args.get(1).and_then(|p| std::fs::read_to_string(p).ok()) else {
        eprintln!("usage: bench_api REQUEST.json [RUNS]");
        std::process::exit(2);
    };
    let runs: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(200);
    let first = palisade_api::check_json(&text);
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = std::time::Instant::now();
        let out = palisade_api::check_json(&text);
        samples.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(out, first);
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    println!("{:.3}", samples[samples.len() / 2]);
}
