//! Evaluates the built-in library over the bench workload in a loop, for profilers
//! (`perf record`, `valgrind --tool=callgrind`). Usage: profile_library [ROUNDS]
use palisade_benches::*;
use palisade_engine::EvalOptions;
use palisade_engine::value::{Ctx, Obj};

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|r| r.parse().ok())
        .unwrap_or(50);
    let lib = library();
    let ds = workload(200, 7);
    let opts = EvalOptions {
        now: NOW,
        include_disabled: false,
        stage: None,
    };
    let mut hits = 0usize;
    for _ in 0..rounds {
        for d in &ds.deployments {
            let ctx = Ctx {
                dataset: &ds,
                join: Default::default(),
                now: NOW,
            };
            let _ = lib.evaluate(&ctx, Obj::Deployment(d), &opts, |_| hits += 1);
        }
    }
    println!("{hits}");
}
