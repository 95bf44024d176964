//! Evaluates a policy set over the bench workload in a loop, for profilers (`perf record`,
//! `valgrind --tool=callgrind`). Usage: profile_library [ROUNDS] [SET] [RECORDS]
//! with SET `library` (default), `thirteen` (the issue-6 policies), `hand` (the same
//! thirteen checks written by hand, the baseline), `thirteen-rust` or `library-rust` (the
//! sets compiled to Rust, see `palisade_engine::codegen`) and RECORDS
//! `deployments` (default, 200) or `processes` (1,000); or `profile_library ROUNDS compile`
//! to parse, check and compile the library ROUNDS times. A fourth argument `check` runs
//! `Matcher::check` (evaluation and the report) instead of `evaluate`, and `first` (or
//! `check-first`) clears the matcher's memo before each round: first passes, as users get.
use palisade_benches::*;
use palisade_engine::EvalOptions;
use palisade_engine::value::{Ctx, Obj};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(50);
    if args.get(2).is_some_and(|a| a == "compile") {
        let policies: usize = (0..rounds)
            .map(|_| library().program().policies.len())
            .sum();
        println!("{policies}");
        return;
    }
    let ds = workload(200, 7);
    let procs = processes(1000, 11);
    let opts = EvalOptions {
        now: NOW,
        include_disabled: false,
        stage: None,
    };
    let ctx = Ctx {
        dataset: &ds,
        join: Default::default(),
        now: NOW,
    };
    let mut hits = 0usize;
    let on_processes = args.get(3).is_some_and(|r| r == "processes");
    if args.get(2).is_some_and(|a| a == "hand") {
        let hand = HandWritten::default();
        for _ in 0..rounds {
            if on_processes {
                hits += procs.iter().map(|p| hand.process(p)).sum::<usize>();
            } else {
                hits += ds
                    .deployments
                    .iter()
                    .map(|d| hand.deployment(&ds, d, NOW))
                    .sum::<usize>();
            }
        }
        println!("{hits}");
        return;
    }
    let generated = match args.get(2).map(String::as_str) {
        Some("thirteen-rust") => Some(thirteen_generated::Policies::new().map(Generated::Thirteen)),
        Some("library-rust") => Some(library_generated::Policies::new().map(Generated::Library)),
        _ => None,
    };
    if let Some(generated) = generated {
        let Ok(generated) = generated else {
            eprintln!("the generated policies did not load");
            std::process::exit(2);
        };
        let roots: Vec<Obj> = if on_processes {
            procs.iter().map(Obj::Process).collect()
        } else {
            ds.deployments.iter().map(Obj::Deployment).collect()
        };
        for _ in 0..rounds {
            for root in &roots {
                let _ = match &generated {
                    Generated::Thirteen(g) => g.evaluate(&ctx, *root, &opts, |_| hits += 1),
                    Generated::Library(g) => g.evaluate(&ctx, *root, &opts, |_| hits += 1),
                };
            }
        }
        println!("{hits}");
        return;
    }
    // Only the set measured is built: setup varies from run to run (hash seeds), and
    // per-record figures are differences of runs.
    let matcher = match args.get(2).map(String::as_str) {
        Some("thirteen") => compile(&[("bench.pal", POLICIES)]),
        Some(set) if set.starts_with("file:") => {
            let path = &set["file:".len()..];
            let Ok(text) = std::fs::read_to_string(path) else {
                eprintln!("profile_library: cannot read {path}");
                std::process::exit(2);
            };
            compile(&[(path, text.as_str())])
        }
        _ => library(),
    };
    let mode = args.get(4).map_or("", String::as_str);
    if !["", "first", "check", "check-first"].contains(&mode) {
        eprintln!("profile_library: unknown mode `{mode}` (first, check or check-first)");
        std::process::exit(2);
    }
    let roots: Vec<Obj> = if on_processes {
        procs.iter().map(Obj::Process).collect()
    } else {
        ds.deployments.iter().map(Obj::Deployment).collect()
    };
    for _ in 0..rounds {
        if mode.ends_with("first") {
            matcher.clear_memo();
        }
        for root in &roots {
            if mode.starts_with("check") {
                hits += matcher
                    .check(&ds, *root, &opts, false)
                    .map_or(0, |(v, _)| v.len());
            } else {
                // The context as hosts and `check` build it: with the joins rules read.
                let ctx = matcher.context(&ds, *root, NOW);
                let _ = matcher.evaluate(&ctx, *root, &opts, |_| hits += 1);
            }
        }
    }
    println!("{hits}");
}

/// A policy set compiled to Rust.
enum Generated {
    Thirteen(thirteen_generated::Policies),
    Library(library_generated::Policies),
}
