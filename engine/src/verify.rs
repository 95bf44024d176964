//! Verification of programs loaded from bundles: every index in range, children before
//! parents, every slot bound before it is read, every field read from the subject that has it.

use crate::ir::*;
use palisade_lang::schema::{EnumKind, FieldId, Subject};

type R = Result<(), VerifyError>;

fn bad(msg: impl Into<String>) -> VerifyError {
    VerifyError::Invalid(msg.into())
}

impl Program {
    /// Checks the program's invariants. Compiled programs always pass; bundles read from
    /// outside must pass before they are evaluated.
    pub fn verify(&self) -> R {
        if self.version != IR_VERSION {
            return Err(VerifyError::Version {
                found: self.version,
                expected: IR_VERSION,
            });
        }
        self.trees()?;
        for (ri, rule) in self.rules.iter().enumerate() {
            if rule.policy as usize >= self.policies.len() {
                return Err(bad(format!(
                    "rule {ri} names policy {} of {}",
                    rule.policy,
                    self.policies.len()
                )));
            }
            if rule.slots.is_empty() || rule.slots.len() > MAX_SLOTS {
                return Err(bad(format!("rule {ri} has {} slots", rule.slots.len())));
            }
            if rule.slots[0].subject != rule.root.subject() || rule.slots[0].source.is_some() {
                return Err(bad(format!("rule {ri}: slot 0 must be the record")));
            }
            for (si, slot) in rule.slots.iter().enumerate().skip(1) {
                let Some((parent, link)) = slot.source else {
                    return Err(bad(format!("rule {ri}: slot {si} has no source")));
                };
                if parent as usize >= si {
                    return Err(bad(format!("rule {ri}: slot {si} comes from a later slot")));
                }
                if link.child() != slot.subject {
                    return Err(bad(format!(
                        "rule {ri}: slot {si} link yields {:?}",
                        link.child()
                    )));
                }
            }
            self.node(ri, rule, rule.entry, 1, self.nodes.len() as u64)?;
            if let Some(parts) = &rule.message {
                for part in parts {
                    if let MsgPart::Field(slot, field) = part {
                        self.field_of(ri, rule, *slot, *field, u64::MAX)?;
                    }
                }
            }
        }
        for r in &self.regexes {
            if r.patterns.is_empty() {
                return Err(bad("empty regex set"));
            }
        }
        self.regex_budget()
    }

    /// All regexes together (conditions, scopes, exclusions) within
    /// [`MAX_TOTAL_REGEX_COST`](palisade_lang::hir::MAX_TOTAL_REGEX_COST), estimated
    /// without building any.
    fn regex_budget(&self) -> R {
        use palisade_lang::hir::{MAX_TOTAL_REGEX_COST, regex_cost};
        let conditions = self
            .regexes
            .iter()
            .flat_map(|r| r.patterns.iter().map(|p| (p.as_str(), r.search)));
        let scopes = self
            .policies
            .iter()
            .flat_map(crate::scope::regex_patterns)
            .map(|p| (p, false));
        let mut total: u64 = 0;
        for (pattern, search) in conditions.chain(scopes) {
            total = total.saturating_add(regex_cost(pattern, search));
            if total > MAX_TOTAL_REGEX_COST {
                return Err(bad(format!(
                    "the regexes together are too large to build (estimated cost over {MAX_TOTAL_REGEX_COST}, reached at `{}`)",
                    pattern.chars().take(80).collect::<String>()
                )));
            }
        }
        Ok(())
    }

    /// Every node has at most one parent (a rule entry counts as one): rules are trees.
    /// A node shared between rules would be evaluated with the wrong rule's bindings, and
    /// sharing within a rule can describe an exponentially large condition in a small bundle.
    /// Also: every child has a smaller id than its parent, and no tree is deeper than
    /// [`MAX_IR_DEPTH`] (checked without recursion, before anything recurses over them).
    fn trees(&self) -> R {
        let mut depths = vec![0u32; self.nodes.len()];
        let mut parents = vec![0u8; self.nodes.len()];
        let mut adopt = |child: NodeId| -> R {
            match parents.get_mut(child as usize) {
                Some(0) => {
                    parents[child as usize] = 1;
                    Ok(())
                }
                Some(_) => Err(bad(format!("node {child} has more than one parent"))),
                None => Err(bad(format!("node {child} out of range"))),
            }
        };
        for rule in &self.rules {
            adopt(rule.entry)?;
        }
        for (id, node) in self.nodes.iter().enumerate() {
            let mut child = |k: NodeId| -> R {
                adopt(k)?;
                match depths.get(k as usize) {
                    Some(d) if (k as usize) < id => {
                        let d = d + 1;
                        depths[id] = depths[id].max(d);
                        if d as usize > MAX_IR_DEPTH {
                            return Err(bad(format!(
                                "node {id} is nested more than {MAX_IR_DEPTH} levels deep"
                            )));
                        }
                        Ok(())
                    }
                    _ => Err(bad(format!("node {id}: child {k} out of order or range"))),
                }
            };
            match *node {
                Node::And { first, len } | Node::Or { first, len } => {
                    let end = first as usize + len as usize;
                    let Some(kids) = self.kids.get(first as usize..end) else {
                        return Err(bad("child list out of range"));
                    };
                    for k in kids {
                        child(*k)?;
                    }
                }
                Node::Not(x) | Node::Any { body: x, .. } | Node::Every { body: x, .. } => child(x)?,
                Node::Test(t) => {
                    if let Some(TestInstr {
                        operand:
                            OperandIr::Count {
                                filter: Some(f), ..
                            },
                        ..
                    }) = self.tests.get(t as usize)
                    {
                        child(*f)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn field_of(&self, ri: usize, rule: &RuleInfo, slot: u16, field: FieldId, bound: u64) -> R {
        let Some(info) = rule.slots.get(slot as usize) else {
            return Err(bad(format!("rule {ri}: slot {slot} out of range")));
        };
        if slot as usize >= 64 || bound & (1 << slot) == 0 {
            return Err(bad(format!(
                "rule {ri}: slot {slot} read where it is not bound"
            )));
        }
        let owner = match info.subject {
            Subject::ReportedVuln => Subject::Vuln,
            s => s,
        };
        if field.def().subject != owner {
            return Err(bad(format!(
                "rule {ri}: field {:?} read from a {:?}",
                field, info.subject
            )));
        }
        Ok(())
    }

    fn node(&self, ri: usize, rule: &RuleInfo, id: NodeId, bound: u64, below: u64) -> R {
        if id as u64 >= below || id as usize >= self.nodes.len() {
            return Err(bad(format!("rule {ri}: node {id} out of order or range")));
        }
        match self.nodes[id as usize] {
            Node::And { first, len } | Node::Or { first, len } => {
                let end = first as usize + len as usize;
                let Some(kids) = self.kids.get(first as usize..end) else {
                    return Err(bad(format!("rule {ri}: child list out of range")));
                };
                for k in kids {
                    self.node(ri, rule, *k, bound, id as u64)?;
                }
                Ok(())
            }
            Node::Not(x) => self.node(ri, rule, x, bound, id as u64),
            Node::Any { slot, body } | Node::Every { slot, body } => {
                let bound = self.bind(ri, rule, slot, bound)?;
                self.node(ri, rule, body, bound, id as u64)
            }
            Node::Test(t) => {
                let Some(test) = self.tests.get(t as usize) else {
                    return Err(bad(format!("rule {ri}: test {t} out of range")));
                };
                match test.operand {
                    OperandIr::Field(s, f) | OperandIr::DaysSince(s, f) => {
                        self.field_of(ri, rule, s, f, bound)?
                    }
                    OperandIr::MapValue(s, f, k) => {
                        self.field_of(ri, rule, s, f, bound)?;
                        self.string_id(k)?;
                    }
                    OperandIr::Count { first, len, filter } => {
                        let end = first as usize + len as usize;
                        let Some(chain) = self.chains.get(first as usize..end) else {
                            return Err(bad("count chain out of range"));
                        };
                        if chain.is_empty() {
                            return Err(bad("empty count chain"));
                        }
                        let mut inner = bound;
                        for s in chain {
                            inner = self.bind(ri, rule, *s, inner)?;
                        }
                        if let Some(f) = filter {
                            self.node(ri, rule, f, inner, id as u64)?;
                        }
                    }
                }
                self.op(&test.op)
            }
        }
    }

    fn bind(&self, ri: usize, rule: &RuleInfo, slot: u16, bound: u64) -> Result<u64, VerifyError> {
        let Some(info) = rule.slots.get(slot as usize) else {
            return Err(bad(format!("rule {ri}: slot {slot} out of range")));
        };
        let Some((parent, _)) = info.source else {
            return Err(bad(format!("rule {ri}: cannot rebind the record")));
        };
        if bound & (1 << parent) == 0 {
            return Err(bad(format!(
                "rule {ri}: slot {slot} bound before its parent"
            )));
        }
        Ok(bound | (1 << slot))
    }

    fn string_id(&self, id: StrId) -> R {
        if (id as usize) < self.strings.len() {
            Ok(())
        } else {
            Err(bad(format!("string {id} out of range")))
        }
    }

    fn op(&self, op: &OpIr) -> R {
        let in_range = |i: u32, n: usize, what: &str| {
            if (i as usize) < n {
                Ok(())
            } else {
                Err(bad(format!("{what} {i} out of range")))
            }
        };
        match *op {
            OpIr::Str(_, s)
            | OpIr::Substring(s)
            | OpIr::Prefix(s)
            | OpIr::Suffix(s)
            | OpIr::ListHas(s)
            | OpIr::MapHasKey(s) => self.string_id(s),
            OpIr::Regex(r, _) | OpIr::Search(r) | OpIr::ListMatch(r, _) => {
                in_range(r, self.regexes.len(), "regex")
            }
            OpIr::Glob(g) => in_range(g, self.globs.len(), "glob"),
            OpIr::InStrs(s, _) | OpIr::ListHasAny(s) => {
                in_range(s, self.string_sets.len(), "string set")
            }
            OpIr::InNums(s, _) => in_range(s, self.num_sets.len(), "number set"),
            OpIr::Enum(_, kind, i) => enum_index(kind, i as u32),
            OpIr::InEnums(kind, mask, _) => {
                if mask >> kind.values().len() != 0 {
                    Err(bad("enum mask out of range"))
                } else {
                    Ok(())
                }
            }
            OpIr::Truthy | OpIr::Present | OpIr::Num(..) | OpIr::Bool(..) | OpIr::Time(..) => {
                Ok(())
            }
        }
    }
}

fn enum_index(kind: EnumKind, i: u32) -> R {
    if (i as usize) < kind.values().len() {
        Ok(())
    } else {
        Err(bad(format!("enum index {i} out of range for {kind:?}")))
    }
}
