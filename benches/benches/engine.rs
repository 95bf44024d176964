//! Criterion benches. Cold: parse, check, compile, bundle load (the library). Hot: the
//! thirteen policies of issue 6 next to the hand-written baseline (per deployment, per
//! process event), the full library per deployment and per process event, and the
//! 1,509-match Grype report end to end.
//!
//! Every hot figure is what a host gets: each record's context (the joins its rules read,
//! and the clock) is built as `Matcher::context` builds it, and the first pass over fresh records (the matcher's
//! per-image memo cleared before it, outside the timing) is measured next to the warm
//! passes that reuse the memo.
//!
//! After the hot group, the ratios of the thirteen policies to the baseline are printed
//! (`ratio: ...` lines, medians of interleaved rounds in the same run, the first pass
//! against the 2x target), for the matcher (policies loaded at run time, as the CLI, WASM
//! and the sidecar run them) and for the same policies compiled to Rust
//! (`palisade_engine::codegen`, for hosts that embed a fixed set; built by
//! benches/build.rs); then `check` (evaluation and the report) against `evaluate`, and
//! the full library's first-pass and warm figures.
//!
//! Run a subset: `cargo bench -p palisade-benches -- hot/` (or `cold/`, `grype`).
//! Quick mode: `cargo bench -p palisade-benches -- --quick`.

use criterion::{BatchSize, Criterion, black_box, criterion_group, criterion_main};
use palisade_benches::*;
use palisade_engine::record::Process;
use palisade_engine::value::{Ctx, Obj};
use palisade_engine::{Dataset, EvalOptions, Matcher, PolicySet};
use palisade_lang::{SourceFile, Sources};

fn opts() -> EvalOptions {
    EvalOptions {
        now: NOW,
        include_disabled: false,
        stage: None,
    }
}

fn cold(c: &mut Criterion) {
    let files: Vec<(&str, &str)> = palisade_library::FILES.to_vec();
    let mut g = c.benchmark_group("cold");
    g.bench_function("parse library", |b| {
        b.iter(|| {
            let mut s = Sources::default();
            for (n, t) in &files {
                let i = s.add(SourceFile::new(*n, *t));
                black_box(palisade_lang::parse(&s, i).is_ok());
            }
        })
    });
    let mut sources = Sources::default();
    let parsed: Vec<_> = files
        .iter()
        .filter_map(|(n, t)| {
            let i = sources.add(SourceFile::new(*n, *t));
            palisade_lang::parse(&sources, i).ok().map(|f| (i, f))
        })
        .collect();
    g.bench_function("check library", |b| {
        b.iter(|| black_box(palisade_lang::check(&sources, &parsed).is_ok()))
    });
    let set = palisade_lang::check(&sources, &parsed).unwrap_or_default();
    g.bench_function("compile library", |b| {
        b.iter(|| black_box(palisade_engine::compile(&set).is_ok()))
    });
    g.bench_function(
        "parse+check+compile library, tests skipped (how check and serve load it)",
        |b| {
            b.iter(|| {
                let mut s = Sources::default();
                for (n, t) in &files {
                    s.add(SourceFile::new(*n, *t));
                }
                let (_, checked) = palisade_lang::parse_and_check_policies(&s);
                let program = checked
                    .ok()
                    .and_then(|set| palisade_engine::compile(&set).ok());
                black_box(program.map(|p| p.rules.len()))
            })
        },
    );
    g.bench_function("parse+check+compile+load library", |b| {
        b.iter(|| black_box(library().program().rules.len()))
    });
    let bundle = palisade_engine::compile(&set)
        .map(|p| palisade_engine::bundle::write_bundle(&p))
        .unwrap_or_default();
    g.bench_function("load library bundle", |b| {
        b.iter(|| black_box(palisade_engine::bundle::load_bundle(&bundle).is_ok()))
    });
    g.finish();
}

fn hot(c: &mut Criterion) {
    let thirteen = compile(&[("bench.pal", POLICIES)]);
    let lib = library();
    let (Ok(thirteen_rust), Ok(lib_rust)) = (
        thirteen_generated::Policies::new(),
        library_generated::Policies::new(),
    ) else {
        eprintln!("the policies compiled to Rust did not load");
        std::process::exit(2);
    };
    let hand = HandWritten::default();
    let ds = workload(200, 7);
    let procs = processes(1000, 11);
    let opts = opts();
    // The engine and the baseline agree before anything is timed.
    for d in &ds.deployments {
        let ctx = Ctx::new(&ds, Obj::Deployment(d), NOW);
        let mut n = 0;
        let _ = thirteen.evaluate(&ctx, Obj::Deployment(d), &opts, |_| n += 1);
        assert_eq!(n, hand.deployment(&ds, d, NOW), "deployment {}", d.id);
        let mut n = 0;
        let _ = thirteen_rust.evaluate(&ctx, Obj::Deployment(d), &opts, |_| n += 1);
        assert_eq!(n, hand.deployment(&ds, d, NOW), "deployment {}", d.id);
    }
    for p in &procs {
        let ctx = Ctx::new(&ds, Obj::Process(p), NOW);
        let mut n = 0;
        let _ = thirteen.evaluate(&ctx, Obj::Process(p), &opts, |_| n += 1);
        assert_eq!(n, hand.process(p), "process {}", p.id);
        let mut n = 0;
        let _ = thirteen_rust.evaluate(&ctx, Obj::Process(p), &opts, |_| n += 1);
        assert_eq!(n, hand.process(p), "process {}", p.id);
    }
    let mut g = c.benchmark_group("hot");
    // A first pass: the memo cleared before each iteration (outside the timing), as a CLI
    // run, an admission request or a runtime event gets it.
    g.bench_function("13 policies x 200 deployments (engine, first pass)", |b| {
        b.iter_batched(
            || thirteen.clear_memo(),
            |()| black_box(per_deployment(&thirteen, &ds, &opts)),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("13 policies x 200 deployments (engine, warm)", |b| {
        b.iter(|| black_box(per_deployment(&thirteen, &ds, &opts)))
    });
    g.bench_function("13 policies x 200 deployments (hand-written)", |b| {
        b.iter(|| {
            black_box(
                ds.deployments
                    .iter()
                    .map(|d| hand.deployment(&ds, d, NOW))
                    .sum::<usize>(),
            )
        })
    });
    g.bench_function("13 policies x 1000 processes (engine)", |b| {
        b.iter(|| black_box(per_process(&thirteen, &procs, &ds, &opts)))
    });
    g.bench_function("13 policies x 1000 processes (hand-written)", |b| {
        b.iter(|| black_box(procs.iter().map(|p| hand.process(p)).sum::<usize>()))
    });
    g.bench_function(
        "13 policies x 200 deployments (compiled to Rust, first pass)",
        |b| {
            b.iter_batched(
                || thirteen_rust.matcher().clear_memo(),
                |()| black_box(per_deployment(&thirteen_rust, &ds, &opts)),
                BatchSize::PerIteration,
            )
        },
    );
    g.bench_function("13 policies x 1000 processes (compiled to Rust)", |b| {
        b.iter(|| black_box(per_process(&thirteen_rust, &procs, &ds, &opts)))
    });
    g.bench_function("library x 200 deployments (first pass)", |b| {
        b.iter_batched(
            || lib.clear_memo(),
            |()| black_box(per_deployment(&lib, &ds, &opts)),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("library x 200 deployments (warm)", |b| {
        b.iter(|| black_box(per_deployment(&lib, &ds, &opts)))
    });
    g.bench_function("library x 1000 processes", |b| {
        b.iter(|| black_box(per_process(&lib, &procs, &ds, &opts)))
    });
    g.bench_function(
        "library x 200 deployments (compiled to Rust, first pass)",
        |b| {
            b.iter_batched(
                || lib_rust.matcher().clear_memo(),
                |()| black_box(per_deployment(&lib_rust, &ds, &opts)),
                BatchSize::PerIteration,
            )
        },
    );
    g.bench_function("library x 1000 processes (compiled to Rust)", |b| {
        b.iter(|| black_box(per_process(&lib_rust, &procs, &ds, &opts)))
    });
    g.bench_function("13 policies x 200 deployments (check, first pass)", |b| {
        b.iter_batched(
            || thirteen.clear_memo(),
            |()| {
                black_box(checked(
                    &thirteen,
                    &ds,
                    ds.deployments.iter().map(Obj::Deployment),
                    &opts,
                ))
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("13 policies x 1000 processes (check)", |b| {
        b.iter(|| {
            black_box(checked(
                &thirteen,
                &ds,
                procs.iter().map(Obj::Process),
                &opts,
            ))
        })
    });
    g.finish();
    // Issue 19's targets, measured in this run: medians of interleaved rounds, each a first
    // pass (memo cleared, untimed) and warm passes of the engine and the hand-written code.
    let hand_deployments = || {
        ds.deployments
            .iter()
            .map(|d| hand.deployment(&ds, d, NOW))
            .sum::<usize>()
    };
    let hand_processes = || procs.iter().map(|p| hand.process(p)).sum::<usize>();
    let deployments = ds.deployments.len();
    ratio(
        "13 policies per deployment: engine",
        deployments,
        || thirteen.clear_memo(),
        || per_deployment(&thirteen, &ds, &opts),
        hand_deployments,
    );
    ratio(
        "13 policies per deployment, compiled to Rust:",
        deployments,
        || thirteen_rust.matcher().clear_memo(),
        || per_deployment(&thirteen_rust, &ds, &opts),
        hand_deployments,
    );
    ratio(
        "13 policies per process event: engine",
        procs.len(),
        || thirteen.clear_memo(),
        || per_process(&thirteen, &procs, &ds, &opts),
        hand_processes,
    );
    ratio(
        "13 policies per process event, compiled to Rust:",
        procs.len(),
        || thirteen_rust.matcher().clear_memo(),
        || per_process(&thirteen_rust, &procs, &ds, &opts),
        hand_processes,
    );
    // `check` (evaluation and the report) against `evaluate`, both first passes.
    let by_kind = [
        (
            "per deployment",
            deployments,
            ds.deployments
                .iter()
                .map(Obj::Deployment)
                .collect::<Vec<_>>(),
        ),
        (
            "per process event",
            procs.len(),
            procs.iter().map(Obj::Process).collect(),
        ),
    ];
    for (what, records, roots) in &by_kind {
        let (check, evaluate) = interleaved_first(
            *records,
            || thirteen.clear_memo(),
            || checked(&thirteen, &ds, roots.iter().copied(), &opts),
            || hits_over(&thirteen, &ds, roots.iter().copied(), &opts),
        );
        println!(
            "ratio: 13 policies {what}: check first pass {check:.1} ns, evaluate first pass {evaluate:.1} ns, {:.2}x (target 3x)",
            check / evaluate
        );
    }
    // The full library, absolute: the target is twice as fast as the figures.
    for (what, records, roots) in &by_kind {
        let (first, warm, _) = interleaved(
            *records,
            || lib.clear_memo(),
            || hits_over(&lib, &ds, roots.iter().copied(), &opts),
            || 0,
        );
        println!("library {what}: first pass {first:.1} ns, warm {warm:.1} ns");
    }
}

/// The hits of `m` over the workload's deployments.
fn per_deployment(m: &impl PolicySet, ds: &Dataset, opts: &EvalOptions) -> usize {
    hits_over(m, ds, ds.deployments.iter().map(Obj::Deployment), opts)
}

/// The hits of `m` over process events.
fn per_process(m: &impl PolicySet, procs: &[Process], ds: &Dataset, opts: &EvalOptions) -> usize {
    hits_over(m, ds, procs.iter().map(Obj::Process), opts)
}

/// The hits of `m` over `roots`, each evaluated as a host does: its context (the joins its
/// rules read, and the clock) built, then evaluated.
#[inline]
fn hits_over<'r>(
    m: &impl PolicySet,
    ds: &'r Dataset,
    roots: impl Iterator<Item = Obj<'r>>,
    opts: &EvalOptions,
) -> usize {
    let mut hits = 0usize;
    for root in roots {
        let ctx = m.matcher().context(ds, root, NOW);
        let _ = m.evaluate(&ctx, root, opts, |_| hits += 1);
    }
    hits
}

/// The violations `Matcher::check` reports over `roots` (evaluation and the report).
fn checked<'r>(
    m: &Matcher,
    ds: &'r Dataset,
    roots: impl Iterator<Item = Obj<'r>>,
    opts: &EvalOptions,
) -> usize {
    roots
        .map(|root| m.check(ds, root, opts, false).map_or(0, |(v, _)| v.len()))
        .sum()
}

/// Prints the first-pass and warm figures of `engine` against `hand` per record (see
/// [`interleaved`]) and their ratios; the first pass is the one the 2x target is about.
fn ratio(
    what: &str,
    records: usize,
    reset: impl Fn(),
    engine: impl Fn() -> usize,
    hand: impl Fn() -> usize,
) {
    let (first, warm, baseline) = interleaved(records, reset, engine, hand);
    println!(
        "ratio: {what} first pass {first:.1} ns, warm {warm:.1} ns, hand-written {baseline:.1} ns: first pass {:.2}x (target 2x), warm {:.2}x",
        first / baseline,
        warm / baseline
    );
}

/// Nanoseconds per record of one pass of `f`.
fn pass_ns(records: usize, f: &dyn Fn() -> usize) -> f64 {
    let start = std::time::Instant::now();
    black_box(f());
    start.elapsed().as_nanos() as f64 / records.max(1) as f64
}

/// Medians (ns per record) of 101 interleaved rounds: `reset` (untimed) and one pass of
/// `engine` (the first pass), then nine more passes of `engine` (warm), then ten of
/// `hand`. Both see the same machine state.
fn interleaved(
    records: usize,
    reset: impl Fn(),
    engine: impl Fn() -> usize,
    hand: impl Fn() -> usize,
) -> (f64, f64, f64) {
    let mut rounds: Vec<(f64, f64, f64)> = Vec::with_capacity(101);
    for _ in 0..101 {
        reset();
        let first = pass_ns(records, &engine);
        let warm = (0..9).map(|_| pass_ns(records, &engine)).sum::<f64>() / 9.0;
        let hand = (0..10).map(|_| pass_ns(records, &hand)).sum::<f64>() / 10.0;
        rounds.push((first, warm, hand));
    }
    let median = |pick: fn(&(f64, f64, f64)) -> f64| {
        let mut v: Vec<f64> = rounds.iter().map(pick).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(|r| r.0), median(|r| r.1), median(|r| r.2))
}

/// Medians (ns per record) of 101 interleaved rounds of first passes of `a` and `b`, each
/// after `reset` (untimed).
fn interleaved_first(
    records: usize,
    reset: impl Fn(),
    a: impl Fn() -> usize,
    b: impl Fn() -> usize,
) -> (f64, f64) {
    let (mut xs, mut ys): (Vec<f64>, Vec<f64>) = (0..101)
        .map(|_| {
            reset();
            let x = pass_ns(records, &a);
            reset();
            (x, pass_ns(records, &b))
        })
        .unzip();
    xs.sort_by(f64::total_cmp);
    ys.sort_by(f64::total_cmp);
    (xs[xs.len() / 2], ys[ys.len() / 2])
}

fn grype(c: &mut Criterion) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/grype/DefectDojo__django-DefectDojo/unittests/scans/anchore_grype/many_vulns.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("grype bench skipped: {} not found", path.display());
        return;
    };
    let lib = library();
    let mut g = c.benchmark_group("grype");
    g.sample_size(10);
    g.bench_function("many_vulns.json (1,509 matches) end to end", |b| {
        b.iter_batched(
            || text.clone(),
            |t| {
                let req = serde_json::json!({"inputs": [{"name": "many_vulns.json", "text": t}], "now": "2026-11-18T00:00:00Z"}).to_string();
                black_box(palisade_api::check_json(&req).len())
            },
            BatchSize::LargeInput,
        )
    });
    let _ = lib;
    g.finish();
}

criterion_group!(benches, cold, hot, grype);
criterion_main!(benches);
