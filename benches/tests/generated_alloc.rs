#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly on broken fixtures"
)]
//! Policies compiled to Rust allocate nothing either: evaluating the thirteen policies and
//! the library over records they find nothing in makes zero heap allocations (counted by
//! a counting global allocator; this file is its own test binary so that no other test
//! allocates meanwhile).

use palisade_benches::*;
use palisade_engine::input::read_all;
use palisade_engine::value::{Ctx, Obj};
use palisade_engine::{Dataset, EvalOptions};

fn ctx<'r>(ds: &'r Dataset, root: Obj<'r>) -> Ctx<'r> {
    Ctx::new(ds, root, NOW)
}

#[test]
fn generated_code_allocates_nothing_on_records_that_violate_nothing() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/records");
    let mut ds = Dataset::default();
    let mut events = Vec::new();
    for name in ["clean.json", "deployments.json", "events.jsonl"] {
        let bytes = std::fs::read(dir.join(name)).expect("example records");
        for r in read_all(&bytes).expect("records") {
            if let Ok(Some(e)) = ds.add(r) {
                events.push(e);
            }
        }
    }
    ds.finish();
    let thirteen = thirteen_generated::Policies::new().expect("load");
    let library = library_generated::Policies::new().expect("load");
    let opts = EvalOptions {
        now: NOW,
        include_disabled: true,
        stage: None,
    };
    let mut hits = 0;
    let mut evaluate_all = |roots: &[Obj<'_>]| {
        for root in roots {
            let _ = thirteen.evaluate(&ctx(&ds, *root), *root, &opts, |_| hits += 1);
            let _ = library.evaluate(&ctx(&ds, *root), *root, &opts, |_| hits += 1);
        }
    };
    // The records on which neither set fires (a hit allocates its report).
    let clean: Vec<Obj<'_>> = ds
        .roots(&events)
        .into_iter()
        .filter(|root| {
            let mut n = 0;
            let _ = thirteen.evaluate(&ctx(&ds, *root), *root, &opts, |_| n += 1);
            let _ = library.evaluate(&ctx(&ds, *root), *root, &opts, |_| n += 1);
            n == 0
        })
        .collect();
    assert!(clean.len() >= 3, "{} clean records", clean.len());
    // Warm up: the regex engine fills its per-thread caches, the image memo its table.
    evaluate_all(&clean);
    let info = allocation_counter::measure(|| {
        for _ in 0..100 {
            evaluate_all(&clean);
        }
    });
    assert_eq!(hits, 0);
    assert_eq!(info.count_total, 0, "{info:?}");
}
