//! Bench binary: the example policies over one deployment and one process event, against
//! a hand-written Rust check of the same conditions, in the same run. Prints medians and
//! the ratio. Run: `cargo run --release -p palisade-engine --example bench_examples`.

use palisade_engine::input::read_all;
use palisade_engine::record::{Deployment, Process, Record};
use palisade_engine::value::{Ctx, Obj};
use palisade_engine::{Dataset, EvalOptions, Matcher};
use std::hint::black_box;
use std::time::Instant;

fn median_ns(mut f: impl FnMut(), inner: u32) -> f64 {
    let mut samples = Vec::new();
    for _ in 0..31 {
        let t = Instant::now();
        for _ in 0..inner {
            f();
        }
        samples.push(t.elapsed().as_nanos() as f64 / inner as f64);
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[samples.len() / 2]
}

/// The example deploy-time policies written by hand over the same structs.
fn hand_deploy(
    ds: &Dataset,
    d: &Deployment,
    secret: &regex::Regex,
    socket: &regex::Regex,
) -> usize {
    let mut hits = 0;
    if d.containers
        .iter()
        .any(|c| c.security_context.as_ref().and_then(|s| s.privileged) == Some(true))
    {
        hits += 1;
    }
    if d.containers.iter().any(|c| {
        ds.image_of(c)
            .and_then(|i| i.name.as_ref())
            .and_then(|n| n.tag.as_deref())
            == Some("latest")
    }) {
        hits += 1;
    }
    let fixable_severe = d.containers.iter().any(|c| {
        ds.image_of(c)
            .and_then(|i| i.scan.as_ref())
            .is_some_and(|s| {
                s.components.iter().flatten().any(|comp| {
                    comp.vulns.iter().flatten().any(|v| {
                        v.is_active()
                            && v.fixed_by.as_deref().is_some_and(|f| !f.is_empty())
                            && v.cvss.is_some_and(|x| x >= 7.0)
                    })
                })
            })
    });
    if fixable_severe {
        hits += 1;
    }
    if d.containers.iter().any(|c| {
        c.env
            .iter()
            .flatten()
            .any(|e| e.source.as_deref() == Some("raw") && secret.is_match(&e.name))
    }) {
        hits += 1;
    }
    if d.containers.iter().any(|c| {
        c.volumes.iter().flatten().any(|v| {
            v.volume_type.as_deref() == Some("HostPath")
                && v.source.as_deref().is_some_and(|s| socket.is_match(s))
        })
    }) {
        hits += 1;
    }
    hits
}

fn hand_process(p: &Process, shells: &[&str]) -> usize {
    usize::from(p.name.as_deref().is_some_and(|n| shells.contains(&n)))
}

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut sources = palisade_lang::Sources::default();
    let mut files = Vec::new();
    for name in ["common.pal", "deploy.pal", "runtime.pal"] {
        let text =
            std::fs::read_to_string(root.join("examples/policies").join(name)).unwrap_or_default();
        let i = sources.add(palisade_lang::SourceFile::new(name, text));
        if let Ok(f) = palisade_lang::parse(&sources, i) {
            files.push((i, f));
        }
    }
    let Ok(set) = palisade_lang::check(&sources, &files) else {
        return eprintln!("example policies do not check");
    };
    let Ok(program) = palisade_engine::compile(&set) else {
        return;
    };
    let Ok(matcher) = Matcher::new(program) else {
        return;
    };
    let mut ds = Dataset::default();
    let mut events = Vec::new();
    for f in ["deployments.json", "events.jsonl", "clean.json"] {
        let bytes = std::fs::read(root.join("examples/records").join(f)).unwrap_or_default();
        for r in read_all(&bytes).unwrap_or_default() {
            if let Ok(Some(ev)) = ds.add(r) {
                events.push(ev);
            }
        }
    }
    ds.finish();
    let secret =
        regex::Regex::new("^(?i:.*(SECRET|PASSWORD|PASSWD|TOKEN|API_?KEY|PRIVATE_?KEY).*)$")
            .unwrap_or_else(|_| std::process::exit(1));
    let socket = regex::Regex::new(r"^(?i:.*\/(docker|containerd|crio)\.sock)$")
        .unwrap_or_else(|_| std::process::exit(1));
    let shells = ["sh", "bash", "zsh", "dash", "ash", "ksh", "csh", "tcsh"];
    let opts = EvalOptions {
        now: 1_795_000_000,
        include_disabled: false,
        stage: None,
    };
    println!(
        "{:<32} {:>12} {:>12} {:>8}",
        "record", "palisade ns", "by hand ns", "ratio"
    );
    for id in ["dep-clean", "dep-cve", "dep-socket"] {
        let Some(d) = ds.deployments.iter().find(|d| d.id == id) else {
            continue;
        };
        let ctx = Ctx {
            dataset: &ds,
            join: Default::default(),
            now: opts.now,
        };
        let mut fired = 0;
        let _ = matcher.evaluate(&ctx, Obj::Deployment(d), &opts, |_| fired += 1);
        let expected = hand_deploy(&ds, d, &secret, &socket);
        assert_eq!(
            fired, expected,
            "{id}: palisade and the hand-written check disagree"
        );
        let engine = median_ns(
            || {
                let _ = matcher.evaluate(&ctx, black_box(Obj::Deployment(d)), &opts, |h| {
                    black_box(h);
                });
            },
            20_000,
        );
        let hand = median_ns(
            || {
                black_box(hand_deploy(&ds, black_box(d), &secret, &socket));
            },
            20_000,
        );
        println!(
            "{:<32} {engine:>12.0} {hand:>12.0} {:>8.2}",
            format!("deployment {id} ({fired} hits)"),
            engine / hand
        );
    }
    for ev in &events {
        let Record::Process(p) = ev else { continue };
        let ctx = Ctx {
            dataset: &ds,
            join: ds.join_process(p),
            now: opts.now,
        };
        let mut fired = 0;
        let _ = matcher.evaluate(&ctx, Obj::Process(p), &opts, |_| fired += 1);
        assert_eq!(fired, hand_process(p, &shells), "{}: disagreement", p.id);
        let engine = median_ns(
            || {
                let _ = matcher.evaluate(&ctx, black_box(Obj::Process(p)), &opts, |h| {
                    black_box(h);
                });
            },
            50_000,
        );
        let hand = median_ns(
            || {
                black_box(hand_process(black_box(p), &shells));
            },
            50_000,
        );
        println!(
            "{:<32} {engine:>12.0} {hand:>12.0} {:>8.2}",
            format!("process {} ({fired} hits)", p.id),
            engine / hand
        );
    }
}
