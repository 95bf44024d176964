//! Differential: for a fixed set of policies, the compiled matcher and the reference
//! evaluator agree on arbitrary records; and evaluating a record (with the guard index
//! that skips rules) fires exactly the rules that hold one by one and apply.
#![no_main]
use libfuzzer_sys::fuzz_target;
use palisade_engine::value::Ctx;
use palisade_engine::{Dataset, Matcher, reference};
use palisade_lang::{SourceFile, Sources};
use std::sync::OnceLock;

const POLICIES: &str = include_str!("../../examples/policies/deploy.pal");
const COMMON: &str = include_str!("../../examples/policies/common.pal");
const RUNTIME: &str = include_str!("../../examples/policies/runtime.pal");

fn compiled() -> &'static (palisade_lang::hir::CheckedSet, Matcher) {
    static SET: OnceLock<(palisade_lang::hir::CheckedSet, Matcher)> = OnceLock::new();
    SET.get_or_init(|| {
        let mut s = Sources::default();
        let files: Vec<_> = [COMMON, POLICIES, RUNTIME]
            .iter()
            .enumerate()
            .map(|(n, t)| {
                let i = s.add(SourceFile::new(format!("{n}.pal"), *t));
                (i, palisade_lang::parse(&s, i).expect("parse"))
            })
            .collect();
        let set = palisade_lang::check(&s, &files).expect("check");
        let m = Matcher::new(palisade_engine::compile(&set).expect("compile")).expect("load");
        (set, m)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(records) = palisade_engine::input::read_all(data) else { return };
    let mut ds = Dataset::default();
    let mut events = Vec::new();
    for r in records {
        match ds.add(r) {
            Ok(Some(e)) => events.push(e),
            Ok(None) => {}
            Err(_) => return,
        }
    }
    ds.finish();
    let (set, m) = compiled();
    let rules: Vec<_> = set.policies.iter().flat_map(|p| p.rules.iter()).collect();
    for root in ds.roots(&events) {
        let ctx = Ctx::new(&ds, root, 1_795_000_000);
        let mut holds = Vec::new();
        for (ri, rule) in rules.iter().enumerate() {
            if palisade_engine::matcher::root_of(root) != Some(rule.root) {
                continue;
            }
            let compiled = m.eval_rule(ri, &ctx, root);
            assert_eq!(compiled, reference::eval_rule(rule, root, &ctx), "rule {ri}");
            let policy = &m.program().policies[m.program().rules[ri].policy as usize];
            if compiled == palisade_engine::Tri::True && m.applies(&policy.name, &ctx, root) {
                holds.push(ri as u32);
            }
        }
        let opts = palisade_engine::EvalOptions { now: ctx.now, include_disabled: true, stage: None };
        let mut fired = Vec::new();
        if m.evaluate(&ctx, root, &opts, |hit| fired.push(hit.rule)).is_ok() {
            assert_eq!(fired, holds, "fired rules");
        }
        let _ = m.check(&ds, root, &palisade_engine::EvalOptions { now: 1_795_000_000, include_disabled: true, stage: None }, true);
    }
});
