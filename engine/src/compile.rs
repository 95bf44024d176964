//! Checked policies to IR.

use crate::ir::*;
use palisade_lang::hir::{self, CheckedPolicy, CheckedSet, Cond, Operand, Test};
use palisade_lang::schema::EnumKind;
use std::collections::HashMap;

/// Why a checked set could not be compiled.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CompileError {
    /// A rule binds more subjects than the matcher has slots.
    #[error(
        "policy `{policy}` binds {count} subjects in one condition; at most {max} are supported"
    )]
    TooManySlots {
        /// The policy.
        policy: String,
        /// How many.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The program breaks a limit that loading it would enforce (e.g. the regex budget).
    #[error("{0}")]
    Limit(#[from] VerifyError),
}

/// Compiles a checked policy set into a program.
pub fn compile(set: &CheckedSet) -> Result<Program, CompileError> {
    let mut b = Builder::default();
    for (pi, p) in set.policies.iter().enumerate() {
        b.policy(pi as u32, p)?;
    }
    // What loading the bundle would refuse is refused here, where the policies are.
    b.program.verify()?;
    Ok(b.program)
}

#[derive(Default)]
struct Builder {
    program: Program,
    strings: HashMap<String, StrId>,
    string_sets: HashMap<Vec<String>, u32>,
    regexes: HashMap<(Vec<String>, bool), u32>,
    globs: HashMap<String, u32>,
}

impl Default for Program {
    fn default() -> Self {
        Program {
            version: IR_VERSION,
            policies: Vec::new(),
            rules: Vec::new(),
            nodes: Vec::new(),
            kids: Vec::new(),
            tests: Vec::new(),
            strings: Vec::new(),
            string_sets: Vec::new(),
            num_sets: Vec::new(),
            regexes: Vec::new(),
            globs: Vec::new(),
            chains: Vec::new(),
        }
    }
}

impl Builder {
    fn policy(&mut self, index: u32, p: &CheckedPolicy) -> Result<(), CompileError> {
        self.program.policies.push(p.meta.clone());
        for rule in &p.rules {
            if rule.bindings.len() > MAX_SLOTS {
                return Err(CompileError::TooManySlots {
                    policy: p.meta.name.clone(),
                    count: rule.bindings.len(),
                    max: MAX_SLOTS,
                });
            }
            let slots = rule
                .bindings
                .iter()
                .map(|bd| SlotInfo {
                    name: bd.name.clone(),
                    subject: bd.subject,
                    source: bd.source.map(|(parent, link)| (parent as u16, link)),
                })
                .collect();
            let entry = self.cond(&rule.cond);
            let message = rule.message.as_ref().map(|t| {
                t.parts
                    .iter()
                    .map(|part| match part {
                        hir::TemplatePart::Text(s) => MsgPart::Text(s.clone()),
                        hir::TemplatePart::Value(Operand::Field { binding, field }) => {
                            MsgPart::Field(*binding as u16, *field)
                        }
                        hir::TemplatePart::Value(_) => MsgPart::Text(String::new()),
                    })
                    .collect()
            });
            self.program.rules.push(RuleInfo {
                policy: index,
                root: rule.root,
                slots,
                entry,
                message,
            });
        }
        Ok(())
    }

    fn push(&mut self, node: Node) -> NodeId {
        self.program.nodes.push(node);
        (self.program.nodes.len() - 1) as NodeId
    }

    fn cond(&mut self, c: &Cond) -> NodeId {
        match c {
            Cond::And(cs) | Cond::Or(cs) => {
                let ids: Vec<NodeId> = cs.iter().map(|x| self.cond(x)).collect();
                let first = self.program.kids.len() as u32;
                self.program.kids.extend(ids);
                let len = cs.len() as u32;
                self.push(if matches!(c, Cond::And(_)) {
                    Node::And { first, len }
                } else {
                    Node::Or { first, len }
                })
            }
            Cond::Not(x) => {
                let inner = self.cond(x);
                self.push(Node::Not(inner))
            }
            Cond::Quant {
                quant,
                binding,
                body,
            } => {
                let body = self.cond(body);
                let slot = *binding as u16;
                self.push(match quant {
                    palisade_lang::ast::Quant::Every => Node::Every { slot, body },
                    _ => Node::Any { slot, body },
                })
            }
            Cond::Test {
                operand,
                test,
                label,
            } => {
                let operand = self.operand(operand);
                let op = self.op(test);
                self.program.tests.push(TestInstr {
                    operand,
                    op,
                    label: label.clone(),
                });
                let t = (self.program.tests.len() - 1) as u32;
                self.push(Node::Test(t))
            }
        }
    }

    fn operand(&mut self, o: &Operand) -> OperandIr {
        match o {
            Operand::Field { binding, field } => OperandIr::Field(*binding as u16, *field),
            Operand::MapValue {
                binding,
                field,
                key,
            } => OperandIr::MapValue(*binding as u16, *field, self.string(key)),
            Operand::DaysSince { binding, field } => OperandIr::DaysSince(*binding as u16, *field),
            Operand::Count { chain, filter } => {
                let filter = filter.as_ref().map(|f| self.cond(f));
                let first = self.program.chains.len() as u32;
                self.program.chains.extend(chain.iter().map(|b| *b as u16));
                OperandIr::Count {
                    first,
                    len: chain.len() as u32,
                    filter,
                }
            }
        }
    }

    fn op(&mut self, t: &Test) -> OpIr {
        match t {
            Test::Truthy => OpIr::Truthy,
            Test::Present => OpIr::Present,
            Test::Num(op, x) => OpIr::Num(*op, *x),
            Test::Str(op, s) => OpIr::Str(*op, self.string(s)),
            Test::Bool(op, b) => OpIr::Bool(*op, *b),
            Test::Time(op, t) => OpIr::Time(*op, *t),
            Test::Enum(op, k, i) => OpIr::Enum(*op, *k, *i),
            Test::Regex { patterns, negated } => {
                OpIr::Regex(self.regex(patterns.clone(), false), *negated)
            }
            Test::Search(p) => OpIr::Search(self.regex(vec![p.clone()], true)),
            Test::Substring(s) => OpIr::Substring(self.string(s)),
            Test::Glob(g) => OpIr::Glob(self.glob(g)),
            Test::Prefix(s) => OpIr::Prefix(self.string(s)),
            Test::Suffix(s) => OpIr::Suffix(self.string(s)),
            Test::InStrs { values, negated } => OpIr::InStrs(self.string_set(values), *negated),
            Test::InNums { values, negated } => {
                self.program.num_sets.push(values.clone());
                OpIr::InNums((self.program.num_sets.len() - 1) as u32, *negated)
            }
            Test::InEnums {
                kind,
                values,
                negated,
            } => OpIr::InEnums(*kind, enum_mask(*kind, values), *negated),
            Test::ListHas(s) => OpIr::ListHas(self.string(s)),
            Test::ListHasAny(values) => OpIr::ListHasAny(self.string_set(values)),
            Test::ListMatch { patterns, negated } => {
                OpIr::ListMatch(self.regex(patterns.clone(), false), *negated)
            }
            Test::MapHasKey(k) => OpIr::MapHasKey(self.string(k)),
        }
    }

    fn string(&mut self, s: &str) -> StrId {
        if let Some(id) = self.strings.get(s) {
            return *id;
        }
        let id = self.program.strings.len() as StrId;
        self.program.strings.push(s.to_string());
        self.strings.insert(s.to_string(), id);
        id
    }

    fn string_set(&mut self, values: &[String]) -> u32 {
        let mut sorted = values.to_vec();
        sorted.sort();
        sorted.dedup();
        if let Some(id) = self.string_sets.get(&sorted) {
            return *id;
        }
        let id = self.program.string_sets.len() as u32;
        self.program.string_sets.push(sorted.clone());
        self.string_sets.insert(sorted, id);
        id
    }

    fn regex(&mut self, patterns: Vec<String>, search: bool) -> u32 {
        let key = (patterns, search);
        if let Some(id) = self.regexes.get(&key) {
            return *id;
        }
        let id = self.program.regexes.len() as u32;
        self.program.regexes.push(RegexSpec {
            patterns: key.0.clone(),
            search,
        });
        self.regexes.insert(key, id);
        id
    }

    fn glob(&mut self, g: &str) -> u32 {
        if let Some(id) = self.globs.get(g) {
            return *id;
        }
        let id = self.program.globs.len() as u32;
        self.program.globs.push(g.to_string());
        self.globs.insert(g.to_string(), id);
        id
    }
}

fn enum_mask(kind: EnumKind, values: &[u8]) -> u32 {
    let _ = kind;
    values
        .iter()
        .filter(|v| **v < 32)
        .fold(0u32, |m, v| m | (1 << v))
}
