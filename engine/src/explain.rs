//! Explanations: which conditions held with which values for a violation, and the first
//! condition that failed for a policy that did not fire.

use crate::ir::{Node, NodeId, RuleInfo};
use crate::matcher::{Matcher, Tri};
use crate::report::ExplainStep;
use crate::value::{self, Ctx, Obj};
use palisade_lang::schema::Link;

/// Most steps listed for one violation.
const MAX_STEPS: usize = 64;

fn tri(t: Tri) -> String {
    match t {
        Tri::True => "true",
        Tri::False => "false",
        Tri::Unknown => "unknown",
    }
    .to_string()
}

impl Matcher {
    fn describe(&self, rule: &RuleInfo, id: NodeId) -> String {
        match self.program.nodes[id as usize] {
            Node::Test(t) => self.program.tests[t as usize].label.clone(),
            Node::Not(x) => format!("not ({})", self.describe(rule, x)),
            Node::Any { slot, body } => format!(
                "any {}: {}",
                rule.slots[slot as usize].name,
                self.describe(rule, body)
            ),
            Node::Every { slot, body } => format!(
                "every {}: {}",
                rule.slots[slot as usize].name,
                self.describe(rule, body)
            ),
            Node::And { first, len } | Node::Or { first, len } => {
                let sep = if matches!(self.program.nodes[id as usize], Node::And { .. }) {
                    " and "
                } else {
                    " or "
                };
                let parts: Vec<String> = self.program.kids[first as usize..(first + len) as usize]
                    .iter()
                    .map(|k| self.describe(rule, *k))
                    .collect();
                format!("({})", parts.join(sep))
            }
        }
    }

    fn leaf_step<'r>(
        &self,
        id: NodeId,
        t: u32,
        slots: &mut [Obj<'r>],
        ctx: &Ctx<'r>,
    ) -> ExplainStep {
        let v = self.test_value(t, slots, ctx);
        let test = &self.program.tests[t as usize];
        ExplainStep {
            condition: test.label.clone(),
            value: value::display(v),
            result: tri(self.node(id, slots, ctx)),
            message: None,
            note: self.baseline_note(test, ctx),
        }
    }

    /// For a test of `process.outside_baseline`: the baseline that decided, or that the
    /// container has none.
    fn baseline_note(&self, test: &crate::ir::TestInstr, ctx: &Ctx<'_>) -> Option<String> {
        let crate::ir::OperandIr::Field(_, field) = test.operand else {
            return None;
        };
        if field != palisade_lang::schema::FieldId::ProcessOutsideBaseline {
            return None;
        }
        Some(match (ctx.join.baseline, ctx.join.baseline_name) {
            (Some(b), Some(name)) => format!(
                "baseline {name}: {}, {} process{}{}",
                if b.locked { "locked" } else { "not locked" },
                b.processes.len(),
                if b.processes.len() == 1 { "" } else { "es" },
                match (b.startup_seconds, ctx.join.startup) {
                    (Some(s), true) => format!(
                        "; this process started within {s} s of its container: a startup process, exempt"
                    ),
                    _ => String::new(),
                }
            ),
            _ => "no baseline for this container".into(),
        })
    }

    /// The value a condition looked at: a test's (also under `not`); compound conditions
    /// have none of their own.
    fn condition_value<'r>(&self, id: NodeId, slots: &mut [Obj<'r>], ctx: &Ctx<'r>) -> String {
        match self.program.nodes[id as usize] {
            Node::Test(t) => value::display(self.test_value(t, slots, ctx)),
            Node::Not(x) => self.condition_value(x, slots, ctx),
            _ => String::new(),
        }
    }

    /// "an entry `l` of deployment.labels": what a quantifier's slot ranges over, in words.
    fn slot_phrase(&self, rule: &RuleInfo, slot: u16) -> String {
        let Some(info) = rule.slots.get(slot as usize) else {
            return "an object".into();
        };
        let kind = info.subject.name();
        let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        let named = if info.name == kind {
            String::new()
        } else {
            format!(" `{}`", info.name)
        };
        let within = match info.source {
            Some((parent, link)) => {
                let parent = rule
                    .slots
                    .get(parent as usize)
                    .map_or("the record", |p| p.name.as_str());
                match link {
                    Link::Elements(f) | Link::Entries(f) => {
                        format!(" of {parent}.{}", f.def().name)
                    }
                    _ => format!(" of the {parent}"),
                }
            }
            None => String::new(),
        };
        format!("{article} {kind}{named}{within}")
    }

    /// Lists the tests that held under one satisfying combination of bindings.
    pub(crate) fn explain_match<'r>(
        &self,
        rule: &RuleInfo,
        id: NodeId,
        slots: &mut [Obj<'r>],
        bound: u64,
        ctx: &Ctx<'r>,
        steps: &mut Vec<ExplainStep>,
    ) {
        if steps.len() >= MAX_STEPS {
            return;
        }
        match self.program.nodes[id as usize] {
            Node::Test(t) => steps.push(self.leaf_step(id, t, slots, ctx)),
            Node::And { first, len } => {
                for k in &self.program.kids[first as usize..(first + len) as usize] {
                    self.explain_match(rule, *k, slots, bound, ctx, steps);
                }
            }
            Node::Or { first, len } => {
                // The branches that held for this combination.
                for k in &self.program.kids[first as usize..(first + len) as usize] {
                    if self.holds_under(*k, slots, bound, ctx) == Tri::True {
                        self.explain_match(rule, *k, slots, bound, ctx, steps);
                    }
                }
            }
            Node::Any { slot, body } if bound & (1 << slot) != 0 => {
                self.explain_match(rule, body, slots, bound, ctx, steps)
            }
            _ => {
                let r = self.node_keeping(id, slots, ctx);
                steps.push(ExplainStep {
                    condition: self.describe(rule, id),
                    value: self.condition_value(id, slots, ctx),
                    result: tri(r),
                    message: None,
                    note: None,
                });
            }
        }
    }

    /// `id` under the combination's bindings: a quantifier over a bound slot is read as
    /// its binding (not as every object of the slot), and the bindings are left as given.
    fn holds_under<'r>(&self, id: NodeId, slots: &mut [Obj<'r>], bound: u64, ctx: &Ctx<'r>) -> Tri {
        match self.program.nodes[id as usize] {
            Node::And { first, len } | Node::Or { first, len } => {
                let decisive = match self.program.nodes[id as usize] {
                    Node::And { .. } => Tri::False,
                    _ => Tri::True,
                };
                let mut out = decisive.negate();
                for k in &self.program.kids[first as usize..(first + len) as usize] {
                    out = crate::runtime::junction(decisive, out, || {
                        self.holds_under(*k, slots, bound, ctx)
                    });
                    if out == decisive {
                        break;
                    }
                }
                out
            }
            Node::Not(x) => self.holds_under(x, slots, bound, ctx).negate(),
            Node::Any { slot, body } if bound & (1 << slot) != 0 => {
                self.holds_under(body, slots, bound, ctx)
            }
            _ => self.node_keeping(id, slots, ctx),
        }
    }

    /// `id` evaluated with the bindings restored afterwards: a quantifier within it
    /// rebinds slots, which the combination being explained still needs.
    fn node_keeping<'r>(&self, id: NodeId, slots: &mut [Obj<'r>], ctx: &Ctx<'r>) -> Tri {
        let mut kept = [Obj::None; crate::ir::MAX_SLOTS];
        let n = slots.len().min(kept.len());
        kept[..n].copy_from_slice(&slots[..n]);
        let out = self.node(id, slots, ctx);
        slots[..n].copy_from_slice(&kept[..n]);
        out
    }

    /// The first condition that kept `id` from holding.
    pub(crate) fn first_failure<'r>(
        &self,
        rule: &RuleInfo,
        id: NodeId,
        slots: &mut [Obj<'r>],
        ctx: &Ctx<'r>,
    ) -> Option<ExplainStep> {
        match self.program.nodes[id as usize] {
            Node::Test(t) => Some(self.leaf_step(id, t, slots, ctx)),
            Node::And { first, len } => {
                let kids = &self.program.kids[first as usize..(first + len) as usize];
                let failing = kids
                    .iter()
                    .find(|k| self.node(**k, slots, ctx) != Tri::True)?;
                self.first_failure(rule, *failing, slots, ctx)
            }
            Node::Any { slot, body } => {
                let phrase = self.slot_phrase(rule, slot);
                let Some(mut children) = self.children(rule, slot, slots, ctx) else {
                    return Some(ExplainStep {
                        condition: format!("{phrase} to test"),
                        value: "<missing>".into(),
                        result: "unknown".into(),
                        message: None,
                        note: None,
                    });
                };
                match children.next() {
                    None => Some(ExplainStep {
                        condition: format!("{phrase} to test"),
                        value: "none".into(),
                        result: "false".into(),
                        message: None,
                        note: None,
                    }),
                    Some(child) => {
                        slots[slot as usize] = child;
                        self.first_failure(rule, body, slots, ctx)
                    }
                }
            }
            Node::Every { slot, body } => {
                for child in self.children(rule, slot, slots, ctx)? {
                    slots[slot as usize] = child;
                    if self.node(body, slots, ctx) != Tri::True {
                        return self.first_failure(rule, body, slots, ctx);
                    }
                }
                None
            }
            Node::Or { .. } | Node::Not(_) => {
                let r = self.node(id, slots, ctx);
                Some(ExplainStep {
                    condition: self.describe(rule, id),
                    value: self.condition_value(id, slots, ctx),
                    result: tri(r),
                    message: None,
                    note: None,
                })
            }
        }
    }
}
