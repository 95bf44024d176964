//! Times the host API natively; `wasm/tests/bench.mjs` times the same request through the
//! WASM build. Modes: `check` (compile the request's policies and evaluate its inputs, as the
//! main module's `check` does) and `evaluate` (the policies compiled into a bundle and
//! loaded once, outside the timing; the inputs evaluated by [`palisade_api::Evaluator`], the
//! code of the `evaluator` module's `check`).
//! Usage: cargo run --release -p palisade-api --example bench_api -- REQUEST.json [RUNS] [check|evaluate]

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(text) = args.get(1).and_then(|p| std::fs::read_to_string(p).ok()) else {
        eprintln!("usage: bench_api REQUEST.json [RUNS] [check|evaluate]");
        std::process::exit(2);
    };
    let runs: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(200);
    let run: Box<dyn Fn() -> String> = match args.get(3).map_or("check", String::as_str) {
        "check" => Box::new(|| palisade_api::check_json(&text)),
        "evaluate" => {
            let (bundle, inputs) = split_request(&text);
            let mut evaluator = palisade_api::Evaluator::default();
            evaluator.load(bundle.as_bytes());
            Box::new(move || evaluator.check(inputs.as_bytes()))
        }
        other => {
            eprintln!("bench_api: unknown mode `{other}` (check or evaluate)");
            std::process::exit(2);
        }
    };
    let first = run();
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = std::time::Instant::now();
        let out = run();
        samples.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(out, first);
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    println!("{:.3}", samples[samples.len() / 2]);
}

/// The bundle of a request's policies, and the request without them (what an evaluator
/// checks); exits on a request that does not compile.
fn split_request(text: &str) -> (String, String) {
    let fail = |m: String| -> ! {
        eprintln!("bench_api: {m}");
        std::process::exit(2);
    };
    let mut request: serde_json::Value =
        serde_json::from_str(text).unwrap_or_else(|e| fail(e.to_string()));
    let policies = serde_json::json!({
        "policies": request.get("policies").cloned().unwrap_or_default(),
        "builtin": request.get("builtin").cloned().unwrap_or(serde_json::Value::Bool(false)),
    });
    let made: serde_json::Value =
        serde_json::from_str(&palisade_api::bundle_json(&policies.to_string()))
            .unwrap_or_else(|e| fail(e.to_string()));
    let Some(bundle) = made["bundle"].as_str() else {
        fail(format!("the policies do not compile: {made}"))
    };
    if let Some(fields) = request.as_object_mut() {
        fields.remove("policies");
        fields.remove("builtin");
    }
    (bundle.to_string(), request.to_string())
}
