//! A readable listing of a program (`palisade compile --emit ir`).

use crate::ir::*;
use crate::value::format_num;
use std::fmt::Write;

impl Program {
    /// Renders the program as text: per rule, its slots and its node tree.
    pub fn listing(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "; palisade IR v{} - {} policies, {} rules, {} nodes, {} tests, {} regexes",
            self.version,
            self.policies.len(),
            self.rules.len(),
            self.nodes.len(),
            self.tests.len(),
            self.regexes.len()
        );
        for (ri, rule) in self.rules.iter().enumerate() {
            let p = &self.policies[rule.policy as usize];
            let _ = writeln!(
                out,
                "\nrule r{ri} policy {:?} on {} ({})",
                p.name,
                rule.root.record_kind(),
                rule.root.stage().as_str()
            );
            for (si, slot) in rule.slots.iter().enumerate() {
                match slot.source {
                    None => {
                        let _ = writeln!(out, "  slot s{si} {} = the record", slot.name);
                    }
                    Some((parent, link)) => {
                        let _ = writeln!(
                            out,
                            "  slot s{si} {} <- s{parent} via {:?}",
                            slot.name, link
                        );
                    }
                }
            }
            self.list_node(&mut out, rule.entry, 1);
        }
        out
    }

    fn list_node(&self, out: &mut String, id: NodeId, depth: usize) {
        let pad = "  ".repeat(depth);
        match self.nodes[id as usize] {
            Node::And { first, len } | Node::Or { first, len } => {
                let name = if matches!(self.nodes[id as usize], Node::And { .. }) {
                    "and"
                } else {
                    "or"
                };
                let _ = writeln!(out, "{pad}n{id} {name}");
                for k in &self.kids[first as usize..(first + len) as usize] {
                    self.list_node(out, *k, depth + 1);
                }
            }
            Node::Not(x) => {
                let _ = writeln!(out, "{pad}n{id} not");
                self.list_node(out, x, depth + 1);
            }
            Node::Any { slot, body } | Node::Every { slot, body } => {
                let name = if matches!(self.nodes[id as usize], Node::Any { .. }) {
                    "any"
                } else {
                    "every"
                };
                let _ = writeln!(out, "{pad}n{id} {name} s{slot}");
                self.list_node(out, body, depth + 1);
            }
            Node::Test(t) => {
                let test = &self.tests[t as usize];
                let operand = match test.operand {
                    OperandIr::Field(s, f) => format!("s{s}.{}", f.def().name),
                    OperandIr::MapValue(s, f, k) => {
                        format!("s{s}.{}[{:?}]", f.def().name, self.strings[k as usize])
                    }
                    OperandIr::DaysSince(s, f) => format!("days_since(s{s}.{})", f.def().name),
                    OperandIr::Count { first, len, filter } => {
                        let chain: Vec<String> = self.chains
                            [first as usize..(first + len) as usize]
                            .iter()
                            .map(|s| format!("s{s}"))
                            .collect();
                        format!(
                            "count({}{})",
                            chain.join("."),
                            filter.map(|f| format!(" where n{f}")).unwrap_or_default()
                        )
                    }
                };
                let op = self.op_text(&test.op);
                let _ = writeln!(out, "{pad}n{id} test {operand} {op}    ; {}", test.label);
                if let OperandIr::Count {
                    filter: Some(f), ..
                } = test.operand
                {
                    self.list_node(out, f, depth + 1);
                }
            }
        }
    }

    fn op_text(&self, op: &OpIr) -> String {
        let s = |i: StrId| format!("{:?}", self.strings[i as usize]);
        let re = |i: u32| format!("/{}/", self.regexes[i as usize].patterns.join("/ | /"));
        let not = |n: bool| if n { "not " } else { "" };
        match *op {
            OpIr::Truthy => "is true".into(),
            OpIr::Present => "is present".into(),
            OpIr::Num(c, x) => format!("{} {}", c.as_str(), format_num(x)),
            OpIr::Str(c, x) => format!("{} {}", c.as_str(), s(x)),
            OpIr::Bool(c, x) => format!("{} {x}", c.as_str()),
            OpIr::Time(c, x) => format!("{} @{x}", c.as_str()),
            OpIr::Enum(c, k, i) => format!("{} {}", c.as_str(), k.word(i)),
            OpIr::Regex(r, n) => format!("{}matches {}", not(n), re(r)),
            OpIr::Search(r) => format!("contains {}", re(r)),
            OpIr::Substring(x) => format!("contains {}", s(x)),
            OpIr::Glob(g) => format!("glob {:?}", self.globs[g as usize]),
            OpIr::Prefix(x) => format!("startswith {}", s(x)),
            OpIr::Suffix(x) => format!("endswith {}", s(x)),
            OpIr::InStrs(set, n) => format!("{}in {:?}", not(n), self.string_sets[set as usize]),
            OpIr::InNums(set, n) => format!("{}in {:?}", not(n), self.num_sets[set as usize]),
            OpIr::InEnums(k, mask, n) => {
                let words: Vec<&str> = (0..k.values().len() as u8)
                    .filter(|i| mask & (1 << i) != 0)
                    .map(|i| k.word(i))
                    .collect();
                format!("{}in {:?}", not(n), words)
            }
            OpIr::ListHas(x) => format!("has element {}", s(x)),
            OpIr::ListHasAny(set) => format!("has element in {:?}", self.string_sets[set as usize]),
            OpIr::ListMatch(r, n) => format!("{}has element matching {}", not(n), re(r)),
            OpIr::MapHasKey(x) => format!("has key {}", s(x)),
        }
    }
}
