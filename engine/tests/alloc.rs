#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly on broken fixtures"
)]
//! The hot path allocates nothing: evaluating the example policies over records that
//! violate nothing makes zero heap allocations (counted by a counting global allocator).

use palisade_engine::input::read_all;
use palisade_engine::value::Ctx;
use palisade_engine::{Dataset, EvalOptions, Matcher};
use palisade_lang::{SourceFile, Sources};

fn example_matcher() -> Matcher {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/policies");
    let mut sources = Sources::default();
    let mut files = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("examples")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    names.sort();
    for path in names {
        let i = sources.add(SourceFile::new(
            path.display().to_string(),
            std::fs::read_to_string(&path).expect("read"),
        ));
        files.push((i, palisade_lang::parse(&sources, i).expect("parse")));
    }
    let set = palisade_lang::check(&sources, &files).expect("check");
    Matcher::new(palisade_engine::compile(&set).expect("compile")).expect("load")
}

#[test]
fn evaluating_a_clean_record_allocates_nothing() {
    let matcher = example_matcher();
    let bytes = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/records/clean.json"),
    )
    .expect("clean");
    let mut ds = Dataset::default();
    let mut events = Vec::new();
    for r in read_all(&bytes).expect("records") {
        if let Some(e) = ds.add(r).expect("dataset") {
            events.push(e);
        }
    }
    ds.finish();
    let roots = ds.roots(&events);
    assert_eq!(roots.len(), 3, "a deployment, an image and a process");
    let opts = EvalOptions {
        now: 1_795_000_000,
        include_disabled: true,
        stage: None,
    };
    let mut hits = 0;
    // Warm up: the regex engine fills its per-thread caches on first use.
    for root in &roots {
        let ctx = Ctx::new(&ds, *root, opts.now);
        let _ = matcher.evaluate(&ctx, *root, &opts, |_| hits += 1);
    }
    assert_eq!(hits, 0, "clean records violate nothing");
    let info = allocation_counter::measure(|| {
        for _ in 0..100 {
            for root in &roots {
                let ctx = Ctx::new(&ds, *root, opts.now);
                let _ = matcher.evaluate(&ctx, *root, &opts, |_| hits += 1);
            }
        }
    });
    assert_eq!(
        info.count_total, 0,
        "allocations while evaluating clean records: {info:?}"
    );
    assert_eq!(hits, 0);
}

#[test]
fn compiled_library_memory() {
    // Source -> bundle once; then measure loading the bundle (what hosts do).
    let mut sources = Sources::default();
    let mut files = Vec::new();
    for (n, t) in palisade_library::FILES {
        let i = sources.add(SourceFile::new(*n, *t));
        files.push((i, palisade_lang::parse(&sources, i).expect("parse")));
    }
    let set = palisade_lang::check(&sources, &files).expect("check");
    let bundle =
        palisade_engine::bundle::write_bundle(&palisade_engine::compile(&set).expect("compile"));
    let mut matcher = None;
    let info = allocation_counter::measure(|| {
        matcher = Some(palisade_engine::bundle::load_bundle(&bundle).expect("load"));
    });
    let retained = info.bytes_current;
    eprintln!(
        "library: bundle {} bytes; loading peaks at {} bytes, the loaded matcher holds {} bytes",
        bundle.len(),
        info.bytes_max,
        retained
    );
    assert!(matcher.is_some());
    // Issue 6's budget: the compiled library under 2 MB, while loading and once loaded.
    assert!(
        retained < 2_000_000,
        "the compiled library holds {retained} bytes"
    );
    assert!(
        info.bytes_max < 2_000_000,
        "loading the library peaks at {} bytes",
        info.bytes_max
    );
}
