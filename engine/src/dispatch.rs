//! The rules to try on a record kind, with a guard index: many rules can only fire when a
//! field of the record itself has one of a few values (`process.name in shells`,
//! `process.exec_path startswith "/tmp/"`, `process.name ~ /apt|dpkg/`). Such a test, the
//! rule's condition or a part of its top-level `and`, is the rule's guard. Per record, each
//! guarded field is read once and looked up (a length mask, then the exact values, see
//! [`StrMap`]; the prefixes in turn), which gives the rules that may fire; the others are
//! not run at all. A guard only has to be necessary: when it does not hold (false, or
//! unknown because the field is missing) the rule cannot be true, so skipping it changes
//! nothing but the time taken; when it holds, the whole condition is evaluated as always,
//! unless the guard is a cased test that is the whole condition: then it has decided.
//!
//! Whole-string literal regexes (see [`palisade_lang::literal`]) match ignoring case: their
//! guards look up the value lowercased, for ASCII values of up to [`FOLD_MAX`] bytes; other
//! values let every such rule through.

use crate::closures::CondFn;
use crate::ir::{Node, OpIr, OperandIr, Program, RuleInfo};
use crate::strmap::{Prefix, StrMap, merged};
use crate::value::{self, Ctx, Obj, Val};
use palisade_lang::ast::CmpOp;
use palisade_lang::literal::LiteralPattern;
use palisade_lang::schema::FieldId;
use std::sync::Arc;

/// A rule to evaluate on a record kind, with its condition at hand.
#[derive(Clone)]
pub(crate) struct RuleEntry {
    /// Index of the rule in the program.
    pub(crate) rule: u32,
    /// Index of its policy.
    pub(crate) policy: u32,
    /// Whether its policy has neither scopes nor exclusions (it applies to every record).
    pub(crate) unscoped: bool,
    /// Its condition.
    pub(crate) cond: Arc<CondFn>,
}

/// The rules of one record kind, in program order, and their guards.
pub(crate) struct RuleList {
    /// The rules.
    pub(crate) entries: Vec<RuleEntry>,
    /// The rules whose guard is their whole condition: let through, they hold.
    pub(crate) decided: RuleBits,
    /// `None` when no rule has a guard, or when there are more rules than bits.
    guards: Option<Guards>,
}

impl std::fmt::Debug for RuleList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} rules", self.entries.len())
    }
}

/// One bit per rule of a list.
pub(crate) type RuleBits = u128;

struct Guards {
    /// The rules without a guard: always tried.
    unguarded: RuleBits,
    /// The guards, by the field they read.
    fields: Vec<FieldGuards>,
}

struct FieldGuards {
    field: FieldId,
    /// Exact values and prefixes, compared as they are.
    cased: Lookup,
    /// Lowercase literals, compared with the value lowercased.
    folded: Lookup,
    /// The rules with a lowercase guard on this field.
    folded_rules: RuleBits,
}

/// Exact values and prefixes, and the rules each lets through.
struct Lookup {
    exact: StrMap<RuleBits>,
    prefixes: Vec<(Prefix, RuleBits)>,
}

/// Longest value looked up lowercased (longer ones let every such rule through).
const FOLD_MAX: usize = 64;

/// What a guard accepts.
enum Accepts<'p> {
    /// Exactly one of these.
    Exact(&'p [String]),
    /// Anything starting with this.
    Prefix(&'p str),
    /// Lowercased, one of the first or starting with one of the second.
    Folded(Vec<String>, Vec<String>),
}

/// The guards on one field while a list is built.
struct FieldGuardsBuilder {
    field: FieldId,
    cased: LookupBuilder,
    folded: LookupBuilder,
    folded_rules: RuleBits,
}

impl FieldGuardsBuilder {
    fn build(self) -> FieldGuards {
        FieldGuards {
            field: self.field,
            cased: self.cased.build(),
            folded: self.folded.build(),
            folded_rules: self.folded_rules,
        }
    }
}

/// A guard's exact values and prefixes while a list is built.
#[derive(Default)]
struct LookupBuilder {
    exact: Vec<(String, RuleBits)>,
    prefixes: Vec<(Prefix, RuleBits)>,
}

impl LookupBuilder {
    fn add_exact(&mut self, value: &str, bit: RuleBits) {
        self.exact.push((value.to_owned(), bit));
    }

    fn add_prefix(&mut self, prefix: &str, bit: RuleBits) {
        self.prefixes.push((Prefix::new(prefix), bit));
    }

    fn build(self) -> Lookup {
        Lookup {
            exact: StrMap::new(self.exact.iter().map(|(v, b)| (v.as_str(), *b)), |a, b| {
                a | b
            }),
            prefixes: merged(
                self.prefixes,
                |a, b| a.0.text().cmp(b.0.text()),
                |kept, later| kept.1 |= later.1,
            ),
        }
    }
}

impl Lookup {
    /// The rules the string whose bytes are `value` lets through.
    #[inline(always)]
    fn rules(&self, value: &[u8]) -> RuleBits {
        let mut bits = self.exact.get_bytes(value).unwrap_or(0);
        for (prefix, rules) in &self.prefixes {
            if prefix.starts_bytes(value) {
                bits |= rules;
            }
        }
        bits
    }
}

impl RuleList {
    /// The list of `entries` (rules of one record kind, in order) with their guards.
    pub(crate) fn new(program: &Program, entries: Vec<RuleEntry>) -> RuleList {
        let mut unguarded: RuleBits = 0;
        let mut decided: RuleBits = 0;
        let mut fields: Vec<FieldGuardsBuilder> = Vec::new();
        for (i, entry) in entries.iter().enumerate().take(RuleBits::BITS as usize) {
            let bit: RuleBits = 1 << i;
            let Some(found) = guard(program, &program.rules[entry.rule as usize]) else {
                unguarded |= bit;
                continue;
            };
            let at = match fields.iter().position(|g| g.field == found.field) {
                Some(at) => at,
                None => {
                    fields.push(FieldGuardsBuilder {
                        field: found.field,
                        cased: LookupBuilder::default(),
                        folded: LookupBuilder::default(),
                        folded_rules: 0,
                    });
                    fields.len() - 1
                }
            };
            // A cased guard reads and compares exactly as its test does; a folded one only
            // approximates its regex.
            if found.whole && !matches!(found.accepts, Accepts::Folded(..)) {
                decided |= bit;
            }
            let g = &mut fields[at];
            match found.accepts {
                Accepts::Exact(values) => values.iter().for_each(|v| g.cased.add_exact(v, bit)),
                Accepts::Prefix(p) => g.cased.add_prefix(p, bit),
                Accepts::Folded(exact, prefixes) => {
                    g.folded_rules |= bit;
                    exact.iter().for_each(|v| g.folded.add_exact(v, bit));
                    prefixes.iter().for_each(|p| g.folded.add_prefix(p, bit));
                }
            }
        }
        let usable = !fields.is_empty() && entries.len() <= RuleBits::BITS as usize;
        let guards = Guards {
            unguarded,
            fields: fields.into_iter().map(FieldGuardsBuilder::build).collect(),
        };
        RuleList {
            entries,
            decided: if usable { decided } else { 0 },
            guards: usable.then_some(guards),
        }
    }

    /// The rules that may fire on `root` (bit `i`: `entries[i]`), or `None` for all of them.
    #[inline(always)]
    pub(crate) fn candidates<'r>(&self, root: Obj<'r>, ctx: &Ctx<'r>) -> Option<RuleBits> {
        let guards = self.guards.as_ref()?;
        let mut bits = guards.unguarded;
        for g in &guards.fields {
            // A missing field, or one that is not text, fails every guard on it.
            let Some(v) = guard_text(root, g.field, ctx) else {
                continue;
            };
            bits |= g.cased.rules(v.as_bytes());
            if g.folded_rules != 0 {
                bits |= g.folded_candidates(v);
            }
        }
        Some(bits)
    }
}

/// The text of `field` on `root` that a guard compares, `None` when it is missing or not
/// text. The two fields process guards read (the library's runtime policies guard on
/// `process.name`, path rules on `process.exec_path`) are read in place: process events
/// are the most frequent records and most let no rule through, so the general read (a call
/// and a jump on the field) was a fifth of their time. Other fields go through
/// [`value::field`].
#[inline(always)]
fn guard_text<'r>(root: Obj<'r>, field: FieldId, ctx: &Ctx<'r>) -> Option<&'r str> {
    match (root, field) {
        (Obj::Process(p), FieldId::ProcessName) => p.name.as_deref(),
        (Obj::Process(p), FieldId::ProcessExecPath) => p.exec_path.as_deref(),
        _ => match value::field(root, field, ctx) {
            Val::Str(v) => Some(v),
            _ => None,
        },
    }
}

impl FieldGuards {
    /// The rules with a lowercase guard that `value` lets through.
    #[inline(never)]
    fn folded_candidates(&self, value: &str) -> RuleBits {
        match lowercase(value, &mut [0; FOLD_MAX]) {
            Some(lower) => self.folded.rules(lower),
            None => self.folded_rules,
        }
    }
}

/// The bytes of `value` in ASCII lowercase, in `buffer`; `None` when it is not ASCII
/// (other characters fold too: the Kelvin sign matches `k`) or does not fit. ASCII bytes
/// lowercased are still the string's bytes, so lookups take them as they are.
#[inline]
fn lowercase<'b>(value: &str, buffer: &'b mut [u8; FOLD_MAX]) -> Option<&'b [u8]> {
    let out = buffer.get_mut(..value.len())?;
    if !value.is_ascii() {
        return None;
    }
    out.copy_from_slice(value.as_bytes());
    out.make_ascii_lowercase();
    Some(out)
}

/// A rule's guard.
struct Guard<'p> {
    /// The field of the record it reads.
    field: FieldId,
    /// What it lets through.
    accepts: Accepts<'p>,
    /// Whether it is the rule's whole condition.
    whole: bool,
}

/// Whether `rule` has a guard (see [`guard`]).
pub(crate) fn has_guard(p: &Program, rule: &RuleInfo) -> bool {
    guard(p, rule).is_some()
}

/// A rule's guard: its condition, or one test of its top-level `and`, that compares a
/// text field of the record itself with constants exactly (`in`, `==`), by prefix, or by
/// a whole-string literal regex anchored at the start.
fn guard<'p>(p: &'p Program, rule: &RuleInfo) -> Option<Guard<'p>> {
    let as_guard = |id: &u32| -> Option<(FieldId, Accepts<'p>)> {
        let Node::Test(t) = p.nodes[*id as usize] else {
            return None;
        };
        let test = &p.tests[t as usize];
        let OperandIr::Field(0, field) = test.operand else {
            return None;
        };
        let accepts = match test.op {
            OpIr::InStrs(set, false) => Accepts::Exact(&p.string_sets[set as usize]),
            OpIr::Str(CmpOp::Eq, s) => Accepts::Exact(std::slice::from_ref(&p.strings[s as usize])),
            OpIr::Prefix(s) => Accepts::Prefix(&p.strings[s as usize]),
            OpIr::Regex(r, false) => {
                let spec = &p.regexes[r as usize];
                if spec.search {
                    return None;
                }
                let literal = LiteralPattern::parse_all(&spec.patterns)?;
                let (exact, prefixes) = literal.anchored_at_start()?;
                let owned = |v: Vec<&str>| v.into_iter().map(String::from).collect();
                Accepts::Folded(owned(exact), owned(prefixes))
            }
            _ => return None,
        };
        Some((field, accepts))
    };
    let (found, whole) = match p.nodes[rule.entry as usize] {
        Node::Test(_) => (as_guard(&rule.entry)?, true),
        Node::And { first, len } => (
            p.kids[first as usize..(first + len) as usize]
                .iter()
                .find_map(as_guard)?,
            false,
        ),
        _ => return None,
    };
    Some(Guard {
        field: found.0,
        accepts: found.1,
        whole,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Dataset;
    use crate::record::Process;

    #[test]
    fn a_guard_reads_the_text_value_field_reads() {
        let events: Vec<Process> = [
            serde_json::json!({"id": "p1", "name": "bash", "exec_path": "/bin/bash", "args": "-i"}),
            serde_json::json!({"id": "p2", "name": "", "exec_path": "/tmp/x"}),
            serde_json::json!({"id": "p3"}),
        ]
        .into_iter()
        .map(|v| serde_json::from_value(v).expect("a process event"))
        .collect();
        let dataset = Dataset::default();
        let ctx = Ctx {
            dataset: &dataset,
            join: Default::default(),
            now: 0,
        };
        let fields = [
            FieldId::ProcessName,
            FieldId::ProcessExecPath,
            FieldId::ProcessArgs,
            FieldId::ProcessUid,
            FieldId::DeploymentName,
        ];
        let mut texts = 0;
        for root in events.iter().map(Obj::Process).chain([Obj::None]) {
            for field in fields {
                let expected = match value::field(root, field, &ctx) {
                    Val::Str(v) => Some(v),
                    _ => None,
                };
                assert_eq!(
                    guard_text(root, field, &ctx),
                    expected,
                    "{field:?} of {root:?}"
                );
                texts += usize::from(expected.is_some());
            }
        }
        // Names, paths and arguments were read, not only missing values.
        assert_eq!(texts, 5);
    }
}
