#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly on broken fixtures"
)]
//! The guard index (engine/src/dispatch.rs) skips rules that cannot fire; it must never
//! skip one that would. Every record here is evaluated both ways: `evaluate` (with the
//! index) against every rule of the record's kind tried on its own (`eval_rule`, then
//! scopes), over the built-in library and policies made to have every kind of guard
//! (also guards that decide their rule, under scopes and exclusions).

use palisade_engine::record::{Process, Record};
use palisade_engine::value::{Ctx, Obj};
use palisade_engine::{Dataset, EvalOptions, Matcher, Tri};
use palisade_lang::{SourceFile, Sources};

const GUARDED: &str = r#"
list shells = ["sh", "bash", "zsh"]
policy "in set" { severity high lifecycle runtime soc2 CC7.2 when process.name in shells }
policy "equal" { severity high lifecycle runtime soc2 CC7.2 when process.name == "curl" and process.args contains "|" }
policy "prefix" { severity high lifecycle runtime soc2 CC7.2 when process.exec_path startswith "/tmp/" }
policy "empty prefix" { severity low lifecycle runtime soc2 CC7.2 when process.exec_path startswith "" and process.uid == 0 }
policy "literal" { severity high lifecycle runtime soc2 CC7.2 when process.name ~ /apk|dpkg|llvm-.*/ }
policy "literal set" { severity high lifecycle runtime soc2 CC7.2 when process.name ~ [/kubectl/, /nc.*/] }
policy "anywhere" { severity low lifecycle runtime soc2 CC7.2 when process.name ~ /.*miner/ }
policy "not in" { severity low lifecycle runtime soc2 CC7.2 when process.name not in shells and process.uid == 0 }
policy "or" { severity low lifecycle runtime soc2 CC7.2 when process.name == "sh" or process.name == "nc" }
policy "second conjunct" { severity low lifecycle runtime soc2 CC7.2 when process.uid == 0 and process.name in ["ash", "ksh"] }
policy "decided, scoped" { severity low lifecycle runtime soc2 CC7.2 scope in namespace /prod-.*/ when process.name in ["nc", "ncat"] }
policy "decided, excluded" { severity low lifecycle runtime soc2 CC7.2 exclude deployment /web/ in namespace /kube-system/ because "test" when process.exec_path startswith "/tmp/" }
"#;

fn matcher(files: &[(&str, &str)]) -> Matcher {
    let mut sources = Sources::default();
    let mut parsed = Vec::new();
    for (name, text) in files {
        let i = sources.add(SourceFile::new(*name, *text));
        parsed.push((i, palisade_lang::parse(&sources, i).expect("parse")));
    }
    let set = palisade_lang::check(&sources, &parsed).expect("check");
    Matcher::new(palisade_engine::compile(&set).expect("compile")).expect("load")
}

/// Names around every word the policies mention: as written, in other cases, folded
/// (the Kelvin sign for `k`, the long s for `s`), extended, cut, with a newline; and paths.
fn names(m: &Matcher) -> Vec<String> {
    let p = m.program();
    let mut words: Vec<String> = p.strings.clone();
    words.extend(p.string_sets.iter().flatten().cloned());
    for r in &p.regexes {
        for pattern in &r.patterns {
            words.extend(
                pattern
                    .split(['|', '(', ')', '*', '.'])
                    .map(|w| w.replace('\\', "")),
            );
        }
    }
    let mut out = vec![String::new(), "x".repeat(70), "server".into()];
    for w in words.iter().filter(|w| w.len() < 40) {
        out.push(w.clone());
        out.push(w.to_uppercase());
        out.push(w.replace('k', "\u{212A}").replace('s', "\u{017F}"));
        out.push(format!("{w}-x"));
        out.push(format!("x{w}"));
        out.push(format!("{w}\n"));
        out.push(format!("/tmp/{w}"));
        out.push(format!("{}{w}", "y".repeat(64)));
        if let Some((cut, _)) = w.char_indices().last() {
            out.push(w[..cut].to_string());
        }
    }
    out.sort();
    out.dedup();
    out
}

fn events(m: &Matcher) -> Vec<Process> {
    let names = names(m);
    let mut out = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let other = &names[(i * 7 + 3) % names.len()];
        // Scopes and exclusions see the event's namespace and deployment.
        let (namespace, deployment) =
            [("prod-a", "web"), ("kube-system", "web"), ("dev", "api")][i % 3];
        for (uid, with_name) in [(0, true), (1000, true), (0, false)] {
            let mut event = serde_json::json!({
                "kind": "process", "id": format!("p{i}-{uid}"), "exec_path": other,
                "args": format!("-c {other} | sh"), "uid": uid,
                "namespace": namespace, "deployment": deployment,
            });
            if with_name {
                event["name"] = serde_json::json!(name);
            }
            match serde_json::from_value::<Record>(event) {
                Ok(Record::Process(p)) => out.push(p),
                other => panic!("not a process: {other:?}"),
            }
        }
    }
    out
}

/// The rules that fire on `p`, with the index and one by one.
fn both_ways(m: &Matcher, ds: &Dataset, p: &Process) -> (Vec<u32>, Vec<u32>) {
    let root = Obj::Process(p);
    let ctx = Ctx::new(ds, root, 1_795_000_000);
    let opts = EvalOptions {
        now: ctx.now,
        include_disabled: true,
        stage: None,
    };
    let mut indexed = Vec::new();
    m.evaluate(&ctx, root, &opts, |hit| indexed.push(hit.rule))
        .expect("within budget");
    let one_by_one = (0..m.program().rules.len())
        .filter(|ri| {
            let rule = &m.program().rules[*ri];
            let policy = &m.program().policies[rule.policy as usize];
            m.eval_rule(*ri, &ctx, root) == Tri::True && m.applies(&policy.name, &ctx, root)
        })
        .map(|ri| ri as u32)
        .collect();
    (indexed, one_by_one)
}

#[test]
fn the_index_skips_no_rule_that_fires() {
    let library: Vec<(&str, &str)> = palisade_library::FILES.to_vec();
    let mut ds = Dataset::default();
    ds.finish();
    for (what, m) in [
        ("guarded policies", matcher(&[("guarded.pal", GUARDED)])),
        ("the library", matcher(&library)),
    ] {
        let events = events(&m);
        let mut fired = 0;
        for p in &events {
            let (indexed, one_by_one) = both_ways(&m, &ds, p);
            assert_eq!(indexed, one_by_one, "{what}: {p:?}");
            fired += indexed.len();
        }
        // The events are made to fire often, or the comparison would prove little.
        assert!(
            fired > events.len() / 4,
            "{what}: {fired} hits on {} events",
            events.len()
        );
    }
}
