#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly on broken fixtures"
)]
//! The policy sets compiled to Rust (`build.rs`, `palisade_engine::codegen`) give exactly
//! the hits, in the same order, and the same errors as the matcher of the same program,
//! on every record we have: the bench workloads, every file of `../shared/corpus`, the
//! adapters' samples, the conformance inputs and the examples, and events made from every
//! word the policies mention. Between them the sets use every kind of node, operand and
//! test of the IR (checked here, so that a new kind cannot go untested).

use palisade_benches::*;
use palisade_engine::bundle::load_bundle;
use palisade_engine::ir::{Node, OpIr, OperandIr, Program};
use palisade_engine::matcher::Hit;
use palisade_engine::record::Record;
use palisade_engine::report::record_id;
use palisade_engine::value::{Ctx, Obj};
use palisade_engine::{Dataset, EvalOptions, Matcher};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A policy set compiled to Rust, and a matcher of the same program loaded on its own (the
/// generated code's own matcher shares its per-image memo, which could hide a difference).
struct Set {
    generated: Generated,
    matcher: Matcher,
}

enum Generated {
    Thirteen(thirteen_generated::Policies),
    Library(library_generated::Policies),
    EveryTest(every_test_generated::Policies),
}

fn generated() -> Vec<Set> {
    let load = |bundle: &str| load_bundle(bundle).expect("load");
    vec![
        Set {
            generated: Generated::Thirteen(thirteen_generated::Policies::new().expect("load")),
            matcher: load(thirteen_generated::BUNDLE),
        },
        Set {
            generated: Generated::Library(library_generated::Policies::new().expect("load")),
            matcher: load(library_generated::BUNDLE),
        },
        Set {
            generated: Generated::EveryTest(every_test_generated::Policies::new().expect("load")),
            matcher: load(every_test_generated::BUNDLE),
        },
    ]
}

/// Hits as (rule, policy), and whether evaluation ran out of budget.
type Outcome = (Vec<(u32, u32)>, bool);

impl Set {
    fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    fn evaluate<'r>(&self, ctx: &Ctx<'r>, root: Obj<'r>, opts: &EvalOptions) -> Outcome {
        let mut hits = Vec::new();
        let push = |h: Hit| hits.push((h.rule, h.policy));
        let result = match &self.generated {
            Generated::Thirteen(g) => g.evaluate(ctx, root, opts, push),
            Generated::Library(g) => g.evaluate(ctx, root, opts, push),
            Generated::EveryTest(g) => g.evaluate(ctx, root, opts, push),
        };
        (hits, result.is_err())
    }

    fn interpreted<'r>(&self, ctx: &Ctx<'r>, root: Obj<'r>, opts: &EvalOptions) -> Outcome {
        let mut hits = Vec::new();
        let result = self
            .matcher
            .evaluate(ctx, root, opts, |h| hits.push((h.rule, h.policy)));
        (hits, result.is_err())
    }
}

/// Compares both ways on every root of `ds` and `events` under every option; adds the
/// hits seen per set to `hits`. Each way runs over all the roots in turn, so that each
/// reuses its per-image memo across deployments as it would in use.
fn compare(sets: &[Set], ds: &Dataset, events: &[Record], from: &str, hits: &mut [usize]) {
    let option_sets = [
        (false, None),
        (true, None),
        (true, Some(palisade_lang::schema::Stage::Deploy)),
        (true, Some(palisade_lang::schema::Stage::Runtime)),
    ];
    let roots = ds.roots(events);
    for now in [NOW, 1_900_000_000] {
        for (include_disabled, stage) in option_sets {
            let opts = EvalOptions {
                now,
                include_disabled,
                stage,
            };
            for (set, count) in sets.iter().zip(hits.iter_mut()) {
                let all = |way: &dyn Fn(&Ctx<'_>, Obj<'_>) -> Outcome| -> Vec<Outcome> {
                    roots
                        .iter()
                        .map(|root| {
                            let ctx = Ctx::new(ds, *root, now);
                            way(&ctx, *root)
                        })
                        .collect()
                };
                let generated = all(&|ctx, root| set.evaluate(ctx, root, &opts));
                let interpreted = all(&|ctx, root| set.interpreted(ctx, root, &opts));
                for ((got, expected), root) in generated.iter().zip(&interpreted).zip(&roots) {
                    assert_eq!(got, expected, "{from}: {:?} {opts:?}", record_id(*root));
                    *count += got.0.len();
                }
            }
        }
    }
}

/// Records into a dataset (deployments, images, baselines) and events.
fn dataset(records: impl IntoIterator<Item = Record>) -> (Dataset, Vec<Record>) {
    let mut ds = Dataset::default();
    let mut events = Vec::new();
    for r in records {
        if let Ok(Some(event)) = ds.add(r) {
            events.push(event);
        }
    }
    ds.finish();
    (ds, events)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_none_or(|e| e != "md" && e != "pal") {
            out.push(p);
        }
    }
}

#[test]
fn generated_sets_agree_with_their_matchers_on_the_bench_workloads() {
    let sets = generated();
    let mut hits = vec![0; sets.len()];
    let (ds, events) = dataset(
        workload_records(200, 7)
            .into_iter()
            .chain(process_records(1000, 11))
            .map(|v| serde_json::from_value(v).expect("record")),
    );
    compare(&sets, &ds, &events, "bench workload", &mut hits);
    assert!(hits.iter().all(|h| *h > 100), "hits per set: {hits:?}");
}

#[test]
fn generated_sets_agree_with_their_matchers_on_every_input_we_have() {
    let root = palisade_testdata::repo_root();
    let mut files = Vec::new();
    walk(&root.join("adapters/tests/samples"), &mut files);
    walk(&root.join("examples"), &mut files);
    let bundled = files.len();
    let corpus = palisade_testdata::shared("corpus", "generated == matcher over the corpus");
    let cases = palisade_testdata::shared(
        "conformance/cases",
        "generated == matcher over the conformance inputs",
    );
    for dir in corpus.iter().chain(cases.iter()) {
        walk(dir, &mut files);
    }
    let sets = generated();
    let mut hits = vec![0; sets.len()];
    let mut converted = 0;
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        let Ok(c) = palisade_adapters::convert(&text) else {
            continue;
        };
        converted += 1;
        let records = c
            .records
            .into_iter()
            .filter_map(|r| serde_json::from_value::<Record>(r).ok());
        let (ds, events) = dataset(records);
        compare(&sets, &ds, &events, &f.display().to_string(), &mut hits);
    }
    // The bundled samples and examples convert (all but the policies' own files, which
    // are not inputs); with ../shared, its corpus and cases add well over a hundred more.
    let expected = if corpus.is_some() && cases.is_some() {
        100
    } else {
        bundled / 2
    };
    assert!(
        converted >= expected,
        "{converted} of {} input files converted ({bundled} bundled)",
        files.len()
    );
    assert!(hits[1] > 100, "the library fired {} times", hits[1]);
}

/// Events and deployments made of every word the every-test policies mention, each in
/// several places, so that each test meets values that pass and values that fail it.
#[test]
fn generated_sets_agree_with_their_matchers_on_events_made_of_their_words() {
    let sets = generated();
    let mut words: BTreeSet<String> = BTreeSet::new();
    for set in &sets {
        let p = set.matcher().program();
        words.extend(p.strings.iter().cloned());
        words.extend(p.string_sets.iter().flatten().cloned());
    }
    let words: Vec<String> = words
        .into_iter()
        .filter(|w| w.len() < 60)
        .flat_map(|w| [w.clone(), format!("/tmp/{w}"), format!("x {w} | sh http")])
        .collect();
    let word = |i: usize| words[i % words.len()].as_str();
    let mut records = vec![
        serde_json::json!({"kind": "deployment", "id": "d1", "name": "web-1",
        "namespace": "prod-a", "host_network": true, "labels": {"team": "pay"},
        "containers": [{"name": "c", "security_context": {"privileged": true}, "command": ["sh"], "args": ["bash"]}]}),
    ];
    for i in 0..words.len() {
        let time = ["2023-06-01T00:00:00Z", "2026-11-01T00:00:00Z"][i % 2];
        records.push(serde_json::json!({"kind": "process", "id": format!("p{i}"),
            "name": word(i), "exec_path": word(i * 7 + 1), "args": word(i * 3 + 2),
            "uid": (i % 4) as f64 * 500.0, "gid": (i % 2) as f64, "lineage": [word(i + 5), "/sbin/init"],
            "time": time, "namespace": (["prod-a", "dev"][i % 2]), "deployment_id": (["d1", "none"][i % 3 % 2]),
            "container": "c"}));
        records.push(serde_json::json!({"kind": "kube_event", "id": format!("k{i}"),
            "resource": (["secrets", "pods_exec", "configmaps"][i % 3]), "verb": (["get", "create"][i % 2]),
            "user": {"username": word(i), "groups": [word(i + 1)]}, "time": time}));
        records.push(
            serde_json::json!({"kind": "network_flow", "id": format!("f{i}"),
            "destination": {"type": (["internet", "internal"][i % 2]), "name": word(i)},
            "port": ([80.0, 22.0, 443.0][i % 3]), "not_in_baseline": (i % 5 == 0), "time": time}),
        );
    }
    let (ds, events) = dataset(
        records
            .into_iter()
            .map(|v| serde_json::from_value(v).expect("record")),
    );
    assert!(events.len() > 300, "{} events", events.len());
    let mut hits = vec![0; sets.len()];
    compare(&sets, &ds, &events, "made of words", &mut hits);
    assert!(hits[2] > 100, "the every-test set fired {} times", hits[2]);
}

/// What kind of node, operand or test each IR item is; exhaustive, so a new kind fails
/// to compile here until it is named (and so covered below).
fn kinds(p: &Program) -> BTreeSet<&'static str> {
    let mut out = BTreeSet::new();
    for n in &p.nodes {
        out.insert(match n {
            Node::And { .. } => "and",
            Node::Or { .. } => "or",
            Node::Not(_) => "not",
            Node::Any { .. } => "any",
            Node::Every { .. } => "every",
            Node::Test(_) => "test",
        });
    }
    for t in &p.tests {
        out.insert(match t.operand {
            OperandIr::Field(..) => "field",
            OperandIr::MapValue(..) => "map value",
            OperandIr::DaysSince(..) => "days since",
            OperandIr::Count { filter: None, .. } => "count",
            OperandIr::Count {
                filter: Some(_), ..
            } => "count where",
        });
        out.insert(match t.op {
            OpIr::Truthy => "truthy",
            OpIr::Present => "present",
            OpIr::Num(..) => "num",
            OpIr::Str(..) => "str",
            OpIr::Bool(..) => "bool",
            OpIr::Time(..) => "time",
            OpIr::Enum(..) => "enum",
            OpIr::Regex(_, false) => "regex",
            OpIr::Regex(_, true) => "not regex",
            OpIr::Search(_) => "search",
            OpIr::Substring(_) => "substring",
            OpIr::Glob(_) => "glob",
            OpIr::Prefix(_) => "prefix",
            OpIr::Suffix(_) => "suffix",
            OpIr::InStrs(_, false) => "in strs",
            OpIr::InStrs(_, true) => "not in strs",
            OpIr::InNums(_, false) => "in nums",
            OpIr::InNums(_, true) => "not in nums",
            OpIr::InEnums(..) => "in enums",
            OpIr::ListHas(_) => "list has",
            OpIr::ListHasAny(_) => "list has any",
            OpIr::ListMatch(_, false) => "list match",
            OpIr::ListMatch(_, true) => "list match none",
            OpIr::MapHasKey(_) => "map has key",
        });
    }
    out
}

#[test]
fn the_generated_sets_use_every_kind_of_node_operand_and_test() {
    let sets = generated();
    let mut used = BTreeSet::new();
    for set in &sets {
        used.extend(kinds(set.matcher().program()));
    }
    let every = [
        "and",
        "or",
        "not",
        "any",
        "every",
        "test",
        "field",
        "map value",
        "days since",
        "count",
        "count where",
        "truthy",
        "present",
        "num",
        "str",
        "bool",
        "time",
        "enum",
        "regex",
        "not regex",
        "search",
        "substring",
        "glob",
        "prefix",
        "suffix",
        "in strs",
        "not in strs",
        "in nums",
        "not in nums",
        "in enums",
        "list has",
        "list has any",
        "list match",
        "list match none",
        "map has key",
    ];
    let missing: Vec<&str> = every
        .iter()
        .filter(|k| !used.contains(*k))
        .copied()
        .collect();
    assert!(missing.is_empty(), "no policy uses {missing:?}");
    // A set of more than 64 members is looked up in the matcher's tables, not inlined.
    let p = sets[2].matcher().program();
    assert!(p.string_sets.iter().any(|s| s.len() > 64));
}

/// A record that runs out of step budget is an error both ways, and the record after it
/// starts with a whole budget (also one whose kind needs no budget at all).
#[test]
fn a_runaway_record_is_an_error_both_ways_and_the_next_starts_afresh() {
    let sets = generated();
    // "cubic": three nested quantifiers over 400 containers, 64 million steps.
    let containers: Vec<serde_json::Value> = (0..400)
        .map(|i| serde_json::json!({"name": format!("c{i}")}))
        .collect();
    let big = serde_json::json!({"kind": "deployment", "id": "big", "name": "big", "containers": containers});
    let small = serde_json::json!({"kind": "deployment", "id": "small", "name": "small",
        "containers": [{"name": "c", "command": ["sh"]}]});
    let shell =
        serde_json::json!({"kind": "process", "id": "p", "name": "bash", "exec_path": "/tmp/bash"});
    let (ds, events) = dataset(
        [big, small, shell]
            .into_iter()
            .map(|v| serde_json::from_value(v).expect("record")),
    );
    let roots = ds.roots(&events);
    let opts = EvalOptions {
        now: NOW,
        include_disabled: false,
        stage: None,
    };
    let (thirteen, every) = (&sets[0], &sets[2]);
    // The shell after the runaway record through the thirteen policies, whose process
    // rules walk no list and so take no budget at all. Each way in turn, so that one
    // does not reset the budget for the other.
    let runs = [(every, roots[0]), (thirteen, roots[2]), (every, roots[1])];
    let ctx = |root| Ctx::new(&ds, root, NOW);
    let generated: Vec<Outcome> = runs
        .iter()
        .map(|(set, root)| set.evaluate(&ctx(*root), *root, &opts))
        .collect();
    let interpreted: Vec<Outcome> = runs
        .iter()
        .map(|(set, root)| set.interpreted(&ctx(*root), *root, &opts))
        .collect();
    assert_eq!(generated, interpreted);
    let summary: Vec<(usize, bool)> = generated.iter().map(|(h, e)| (h.len(), *e)).collect();
    assert_eq!(
        summary,
        [(1, true), (2, false), (1, false)],
        "(hits, error) by record"
    );
}
