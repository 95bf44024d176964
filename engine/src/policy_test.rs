//! The test cases written next to policies (`test "..." for "Policy" { ... }`), run through
//! the compiled matcher and checked against the reference evaluator: what `palisade test`
//! and the editor's code lens report.

use crate::input::read_all;
use crate::matcher::root_of;
use crate::value::Ctx;
use crate::{Dataset, EvalOptions, Matcher, Tri};

/// " (value: v)" after a condition, or nothing.
fn value_note(value: &str) -> String {
    if value.is_empty() {
        String::new()
    } else {
        format!("  (value: {value})")
    }
}

/// Runs one test: `Ok` when the policy fired as expected and the reference evaluator
/// agrees; else why not (the conditions that held, or the first that failed). `default_now`
/// is the clock of a test that names none (Unix seconds).
pub fn run(
    matcher: &Matcher,
    set: &palisade_lang::hir::CheckedSet,
    test: &palisade_lang::hir::CheckedTest,
    default_now: i64,
) -> Result<(), String> {
    let text = serde_json::to_string(&test.records).map_err(|e| e.to_string())?;
    let records =
        read_all(text.as_bytes()).map_err(|e| format!("invalid test record: {}", e.message))?;
    let mut ds = Dataset::default();
    let mut events = Vec::new();
    for r in records {
        if let Some(ev) = ds.add(r).map_err(|e| e.to_string())? {
            events.push(ev);
        }
    }
    ds.finish();
    let now = test.now.unwrap_or(default_now);
    let opts = EvalOptions {
        now,
        include_disabled: true,
        stage: None,
    };
    let policy = set
        .policies
        .iter()
        .find(|p| p.meta.name == test.policy)
        .ok_or("unknown policy")?;
    let roots = ds.roots(&events);
    let mut fired = false;
    // Why it came out as it did, for a failing test: the conditions that held for the
    // violation, or the first that failed (and its value) for a policy that did not fire.
    let mut why: Vec<String> = Vec::new();
    for root in roots {
        let (violations, not_fired) = matcher
            .check(&ds, root, &opts, true)
            .map_err(|e| e.to_string())?;
        for v in violations.iter().filter(|v| v.policy == test.policy) {
            for step in v.explain.iter().flatten() {
                why.push(format!(
                    "held: {}{} -> {}",
                    step.condition,
                    value_note(&step.value),
                    step.result
                ));
            }
        }
        for n in not_fired.iter().filter(|n| n.policy == test.policy) {
            if let Some(step) = &n.failed {
                let id = &n.record;
                why.push(format!(
                    "on {} `{}`: {}{} -> {}",
                    id.kind,
                    id.id,
                    step.condition,
                    value_note(&step.value),
                    step.result
                ));
            }
        }
        let compiled = violations.iter().any(|v| v.policy == test.policy);
        // The oracle: the reference evaluator over the checked AST (scopes aside).
        let ctx = Ctx::new(&ds, root, now);
        let kind = root_of(root);
        let applies = matcher.applies(&test.policy, &ctx, root);
        let reference = applies
            && policy
                .rules
                .iter()
                .filter(|r| Some(r.root) == kind)
                .any(|r| crate::reference::eval_rule(r, root, &ctx) == Tri::True);
        if compiled != reference {
            return Err(format!(
                "compiled matcher ({compiled}) and reference evaluator ({reference}) disagree"
            ));
        }
        fired |= compiled;
    }
    let because = |what: &str| {
        if why.is_empty() {
            what.to_string()
        } else {
            format!("{what}\n          {}", why.join("\n          "))
        }
    };
    match (test.expect_fire, fired) {
        (true, false) => Err(because(
            "expected the policy to fire, it did not; the first condition that failed:",
        )),
        (false, true) => Err(because(
            "expected no violation, the policy fired; the conditions that held:",
        )),
        _ => Ok(()),
    }
}
