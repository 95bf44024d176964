//! Criterion benches. Cold: parse, check, compile, bundle load (the library). Hot: the
//! thirteen policies of issue 6 next to the hand-written baseline (per deployment, per
//! process event), the full library per deployment and per process event, and the
//! 1,509-match Grype report end to end.
//!
//! After the hot group, the ratios of the thirteen policies to the baseline are printed
//! (`ratio: ...` lines, medians of interleaved rounds in the same run), for the matcher
//! (policies loaded at run time, as the CLI, WASM and the sidecar run them) and for the
//! same policies compiled to Rust (`palisade_engine::codegen`, for hosts that embed a fixed
//! set; built by benches/build.rs).
//!
//! Run a subset: `cargo bench -p palisade-benches -- hot/` (or `cold/`, `grype`).
//! Quick mode: `cargo bench -p palisade-benches -- --quick`.

use criterion::{BatchSize, Criterion, black_box, criterion_group, criterion_main};
use palisade_benches::*;
use palisade_engine::record::Process;
use palisade_engine::report::join_of;
use palisade_engine::value::{Ctx, Obj};
use palisade_engine::{Dataset, EvalOptions, Matcher};
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
        let ctx = Ctx {
            dataset: &ds,
            join: Default::default(),
            now: NOW,
        };
        let mut n = 0;
        let _ = thirteen.evaluate(&ctx, Obj::Deployment(d), &opts, |_| n += 1);
        assert_eq!(n, hand.deployment(&ds, d, NOW), "deployment {}", d.id);
        let mut n = 0;
        let _ = thirteen_rust.evaluate(&ctx, Obj::Deployment(d), &opts, |_| n += 1);
        assert_eq!(n, hand.deployment(&ds, d, NOW), "deployment {}", d.id);
    }
    for p in &procs {
        let ctx = Ctx {
            dataset: &ds,
            join: join_of(&ds, Obj::Process(p)),
            now: NOW,
        };
        let mut n = 0;
        let _ = thirteen.evaluate(&ctx, Obj::Process(p), &opts, |_| n += 1);
        assert_eq!(n, hand.process(p), "process {}", p.id);
        let mut n = 0;
        let _ = thirteen_rust.evaluate(&ctx, Obj::Process(p), &opts, |_| n += 1);
        assert_eq!(n, hand.process(p), "process {}", p.id);
    }
    let mut g = c.benchmark_group("hot");
    g.bench_function("13 policies x 200 deployments (engine)", |b| {
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
    g.bench_function("13 policies x 200 deployments (compiled to Rust)", |b| {
        b.iter(|| black_box(per_deployment(&thirteen_rust, &ds, &opts)))
    });
    g.bench_function("13 policies x 1000 processes (compiled to Rust)", |b| {
        b.iter(|| black_box(per_process(&thirteen_rust, &procs, &ds, &opts)))
    });
    g.bench_function("library x 200 deployments", |b| {
        b.iter(|| black_box(per_deployment(&lib, &ds, &opts)))
    });
    g.bench_function("library x 1000 processes", |b| {
        b.iter(|| black_box(per_process(&lib, &procs, &ds, &opts)))
    });
    g.bench_function("library x 200 deployments (compiled to Rust)", |b| {
        b.iter(|| black_box(per_deployment(&lib_rust, &ds, &opts)))
    });
    g.bench_function("library x 1000 processes (compiled to Rust)", |b| {
        b.iter(|| black_box(per_process(&lib_rust, &procs, &ds, &opts)))
    });
    g.finish();
    // Issue 6's ratio targets, measured in this run: medians of interleaved rounds.
    let hand_deployments = || {
        ds.deployments
            .iter()
            .map(|d| hand.deployment(&ds, d, NOW))
            .sum::<usize>()
    };
    ratio(
        "13 policies per deployment: engine",
        ds.deployments.len(),
        || per_deployment(&thirteen, &ds, &opts),
        hand_deployments,
    );
    ratio(
        "13 policies per deployment, compiled to Rust:",
        ds.deployments.len(),
        || per_deployment(&thirteen_rust, &ds, &opts),
        hand_deployments,
    );
    let hand_processes = || procs.iter().map(|p| hand.process(p)).sum::<usize>();
    ratio(
        "13 policies per process event: engine",
        procs.len(),
        || per_process(&thirteen, &procs, &ds, &opts),
        hand_processes,
    );
    ratio(
        "13 policies per process event, compiled to Rust:",
        procs.len(),
        || per_process(&thirteen_rust, &procs, &ds, &opts),
        hand_processes,
    );
}

/// The hits of `m` over the workload's deployments.
fn per_deployment<E: Evaluate>(m: &E, ds: &Dataset, opts: &EvalOptions) -> usize {
    hits_over(m, ds, ds.deployments.iter().map(Obj::Deployment), opts)
}

/// The hits of `m` over process events.
fn per_process<E: Evaluate>(m: &E, procs: &[Process], ds: &Dataset, opts: &EvalOptions) -> usize {
    hits_over(m, ds, procs.iter().map(Obj::Process), opts)
}

/// The hits of `m` over `roots`.
#[inline]
fn hits_over<'r, E: Evaluate>(
    m: &E,
    ds: &'r Dataset,
    roots: impl Iterator<Item = Obj<'r>>,
    opts: &EvalOptions,
) -> usize {
    let mut hits = 0usize;
    for root in roots {
        let ctx = Ctx {
            dataset: ds,
            join: Default::default(),
            now: NOW,
        };
        m.evaluate(&ctx, root, opts, &mut hits);
    }
    hits
}

/// A policy set's evaluate, counting hits: the matcher, or a set compiled to Rust.
trait Evaluate {
    fn evaluate<'r>(&self, ctx: &Ctx<'r>, root: Obj<'r>, opts: &EvalOptions, hits: &mut usize);
}

impl Evaluate for Matcher {
    #[inline]
    fn evaluate<'r>(&self, ctx: &Ctx<'r>, root: Obj<'r>, opts: &EvalOptions, hits: &mut usize) {
        let _ = Matcher::evaluate(self, ctx, root, opts, |_| *hits += 1);
    }
}

impl Evaluate for thirteen_generated::Policies {
    #[inline]
    fn evaluate<'r>(&self, ctx: &Ctx<'r>, root: Obj<'r>, opts: &EvalOptions, hits: &mut usize) {
        let _ = thirteen_generated::Policies::evaluate(self, ctx, root, opts, |_| *hits += 1);
    }
}

impl Evaluate for library_generated::Policies {
    #[inline]
    fn evaluate<'r>(&self, ctx: &Ctx<'r>, root: Obj<'r>, opts: &EvalOptions, hits: &mut usize) {
        let _ = library_generated::Policies::evaluate(self, ctx, root, opts, |_| *hits += 1);
    }
}

/// Prints the ratio of `engine` to `hand` per record (see [`interleaved`]) against the 2x
/// target.
fn ratio(what: &str, records: usize, engine: impl Fn() -> usize, hand: impl Fn() -> usize) {
    let (engine, baseline) = interleaved(records, engine, hand);
    println!(
        "ratio: {what} {engine:.1} ns, hand-written {baseline:.1} ns, {:.2}x (target 2x)",
        engine / baseline
    );
}

/// Medians (ns per record) of 101 interleaved rounds of `engine` and `hand`, each round 10
/// passes over `records` records: both see the same machine state.
fn interleaved(records: usize, engine: impl Fn() -> usize, hand: impl Fn() -> usize) -> (f64, f64) {
    let time = |f: &dyn Fn() -> usize| {
        let start = std::time::Instant::now();
        for _ in 0..10 {
            black_box(f());
        }
        start.elapsed().as_nanos() as f64 / (10 * records.max(1)) as f64
    };
    let (mut e, mut h): (Vec<f64>, Vec<f64>) =
        (0..101).map(|_| (time(&engine), time(&hand))).unzip();
    e.sort_by(f64::total_cmp);
    h.sort_by(f64::total_cmp);
    (e[e.len() / 2], h[h.len() / 2])
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
