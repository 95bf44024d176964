//! Conditions compiled to closures: when a matcher is loaded, every node of the IR becomes a
//! closure specialised for what it does (the field it reads, the test it applies, the link
//! it walks), with its constants (strings, sets, compiled regexes) captured. Evaluating a
//! rule is then a few direct and indirect calls instead of interpreting the node arena:
//! no dispatch on node kinds, operand kinds or operators at evaluation time.
//!
//! The IR stays the data of record (bundles, listings, explanations read it); this is
//! only how the matcher runs it, and it is built from a verified program.

use crate::ir::*;
use crate::matcher::{CompiledRegex, Tri};
use crate::runtime;
use crate::strmap::StrMap;
use crate::value::{self, Children, Ctx, Obj, Val};
use palisade_lang::ast::CmpOp;
use palisade_lang::schema::Link;
use std::sync::Arc;

/// A compiled condition: its truth under the bindings in the slots.
pub(crate) type CondFn = dyn for<'r> Fn(&mut [Obj<'r>], &Ctx<'r>) -> Tri + Send + Sync;
/// A compiled operand: the value a test reads (`count` binds slots while counting).
pub(crate) type ReadFn = dyn for<'r> Fn(&mut [Obj<'r>], &Ctx<'r>) -> Val<'r> + Send + Sync;

/// The closures of a program: one per node and one reader per test.
pub(crate) struct Closures {
    /// By node id.
    pub(crate) conds: Vec<Arc<CondFn>>,
    /// By test index (explanations show the value a test read).
    pub(crate) readers: Vec<Arc<ReadFn>>,
    /// The program's regexes, compiled.
    pub(crate) regexes: Vec<Arc<CompiledRegex>>,
    /// The program's globs, compiled.
    pub(crate) globs: Vec<Arc<globset::GlobMatcher>>,
    /// The program's string sets.
    pub(crate) sets: Vec<Arc<StrSet>>,
    /// By node id: for a node whose result is kept per image in the matcher's memo (a
    /// cheap test), its place in an image's row (see [`image_memo_ordinals`]);
    /// `memo_width` places a row.
    pub(crate) memo_ordinals: Vec<Option<u32>>,
    /// Memoised nodes in all.
    pub(crate) memo_width: usize,
    /// By node id: it binds no object (no `any` within it), so it holds under the
    /// bindings it is given or not at all.
    pub(crate) binds_nothing: Vec<bool>,
    /// By node id: `any` over the components that list vulnerabilities ([`needs_vulns`]).
    pub(crate) needs_vulns: Vec<bool>,
}

impl std::fmt::Debug for Closures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Closures({} conditions, {} readers)",
            self.conds.len(),
            self.readers.len()
        )
    }
}

/// Boxes a condition closure (naming the signature lets closures infer their lifetimes).
fn cond<F>(f: F) -> Arc<CondFn>
where
    F: for<'r> Fn(&mut [Obj<'r>], &Ctx<'r>) -> Tri + Send + Sync + 'static,
{
    Arc::new(f)
}

/// Names an operand closure's signature (see [`cond`]).
fn reader<F>(f: F) -> F
where
    F: for<'r> Fn(&mut [Obj<'r>], &Ctx<'r>) -> Val<'r> + Send + Sync + 'static,
{
    f
}

/// A string set: see [`StrMap`].
pub(crate) struct StrSet(StrMap<()>);

impl StrSet {
    fn new(members: &[String]) -> StrSet {
        StrSet(StrMap::new(
            members.iter().map(|m| (m.as_str(), ())),
            |(), ()| (),
        ))
    }

    #[inline]
    pub(crate) fn contains(&self, s: &str) -> bool {
        self.0.contains(s)
    }
}

/// Builds the closures of a verified program. `regexes` and `globs` are the program's,
/// compiled; `memo` is the matcher's per-image memo.
pub(crate) fn build(
    program: &Program,
    regexes: Vec<CompiledRegex>,
    globs: Vec<globset::GlobMatcher>,
    memo: Arc<runtime::ImageMemo>,
) -> Closures {
    let memo_ordinals = image_memo_ordinals(program);
    let memo_width = memo_ordinals.iter().flatten().count();
    let mut b = Builder {
        p: program,
        regexes: regexes.into_iter().map(Arc::new).collect(),
        globs: globs.into_iter().map(Arc::new).collect(),
        sets: program
            .string_sets
            .iter()
            .map(|s| Arc::new(StrSet::new(s)))
            .collect(),
        conds: vec![None; program.nodes.len()],
        readers: vec![None; program.tests.len()],
        memo_ordinals,
        memo_width,
        memo,
    };
    for rule in &program.rules {
        b.node(rule, rule.entry);
    }
    // A node no rule reaches is never evaluated; it reads as unknown.
    let unknown = cond(|_, _| Tri::Unknown);
    let conds = b
        .conds
        .into_iter()
        .map(|c| c.unwrap_or_else(|| unknown.clone()))
        .collect();
    let memo_ordinals = b.memo_ordinals.clone();
    let memo_width = b.memo_width;
    let binds_nothing = (0..program.nodes.len())
        .map(|id| !binds(program, id as NodeId))
        .collect();
    let mut needs = vec![false; program.nodes.len()];
    for rule in &program.rules {
        mark_needs_vulns(program, rule, rule.entry, &mut needs);
    }
    let missing: Arc<ReadFn> = Arc::new(reader(|_, _| Val::Missing));
    let readers = b
        .readers
        .into_iter()
        .map(|r| r.unwrap_or_else(|| missing.clone()))
        .collect();
    Closures {
        conds,
        readers,
        regexes: b.regexes,
        globs: b.globs,
        sets: b.sets,
        memo_ordinals,
        memo_width,
        binds_nothing,
        needs_vulns: needs,
    }
}

struct Builder<'p> {
    p: &'p Program,
    regexes: Vec<Arc<CompiledRegex>>,
    globs: Vec<Arc<globset::GlobMatcher>>,
    sets: Vec<Arc<StrSet>>,
    conds: Vec<Option<Arc<CondFn>>>,
    readers: Vec<Option<Arc<ReadFn>>>,
    /// Per node: its place in an image's memo row, for `any` nodes over a container's
    /// image whose body reads only that image.
    memo_ordinals: Vec<Option<u32>>,
    memo_width: usize,
    /// The matcher's per-image memo.
    memo: Arc<runtime::ImageMemo>,
}

impl Builder<'_> {
    /// Builds (children first) and records the closure of node `id` of `rule`.
    fn node(&mut self, rule: &RuleInfo, id: NodeId) -> Arc<CondFn> {
        let built = match self.p.nodes[id as usize] {
            Node::And { first, len } => {
                let kids = self.kids(rule, first, len);
                and(kids)
            }
            Node::Or { first, len } => {
                let kids = self.kids(rule, first, len);
                or(kids)
            }
            Node::Not(x) => {
                let inner = self.node(rule, x);
                cond(move |s, c| inner(s, c).negate())
            }
            Node::Any { slot, body } => {
                let body = self.node(rule, body);
                self.any(rule, id, slot, body)
            }
            Node::Every { slot, body } => {
                let body = self.node(rule, body);
                let source = rule.slots[slot as usize].source;
                let slot = slot as usize;
                cond(move |s, c| {
                    let children = source.and_then(|(p, l)| value::children(s[p as usize], l, c));
                    quantify(children, slot, &*body, s, c, Tri::False)
                })
            }
            Node::Test(t) => self.test(rule, t),
        };
        self.conds[id as usize] = Some(built.clone());
        built
    }

    fn kids(&mut self, rule: &RuleInfo, first: u32, len: u32) -> Vec<Arc<CondFn>> {
        let ids = self.p.kids[first as usize..(first + len) as usize].to_vec();
        ids.into_iter().map(|k| self.node(rule, k)).collect()
    }

    /// `any x: body`, walking the common links directly; the image of a container through
    /// the per-image memo when the body reads only the image.
    fn any(&self, rule: &RuleInfo, id: NodeId, slot: u16, body: Arc<CondFn>) -> Arc<CondFn> {
        let Some((parent, link)) = rule.slots[slot as usize].source else {
            return cond(|_, _| Tri::Unknown);
        };
        let (parent, slot) = (parent as usize, slot as usize);
        // The links most conditions walk, without dispatching on the link per evaluation.
        match link {
            Link::DeploymentContainers => cond(move |s, c| match s[parent] {
                Obj::Deployment(d) => {
                    let containers = Children::Containers(d.containers.iter());
                    quantify(Some(containers), slot, &*body, s, c, Tri::True)
                }
                _ => Tri::Unknown,
            }),
            Link::ContainerEnv => cond(move |s, c| match s[parent] {
                Obj::Container(ct) => {
                    let env = ct.env.as_deref().map(|env| Children::Env(env.iter()));
                    quantify(env, slot, &*body, s, c, Tri::True)
                }
                _ => Tri::Unknown,
            }),
            Link::ContainerVolumes => cond(move |s, c| match s[parent] {
                Obj::Container(ct) => {
                    let volumes = ct.volumes.as_deref().map(|v| Children::Volumes(v.iter()));
                    quantify(volumes, slot, &*body, s, c, Tri::True)
                }
                _ => Tri::Unknown,
            }),
            Link::ContainerImage => {
                let memo = self.memo_ordinals[id as usize]
                    .map(|ordinal| (self.memo.clone(), ordinal, self.memo_width));
                cond(move |s, c| {
                    let cell = memo
                        .as_ref()
                        .map(|(m, ordinal, width)| m.cell(*ordinal, *width));
                    runtime::image_any(cell, s[parent], c, |image| {
                        s[slot] = image;
                        body(s, c)
                    })
                })
            }
            Link::ImageComponents if needs_vulns(self.p, rule, id) => cond(move |s, c| {
                let components = value::components_with_vulns(s[parent], c);
                quantify(components, slot, &*body, s, c, Tri::True)
            }),
            _ => cond(move |s, c| {
                let children = value::children(s[parent], link, c);
                quantify(children, slot, &*body, s, c, Tri::True)
            }),
        }
    }

    fn test(&mut self, rule: &RuleInfo, t: u32) -> Arc<CondFn> {
        let test = &self.p.tests[t as usize];
        let read = self.boxed_reader(rule, &test.operand);
        self.readers[t as usize] = Some(read.clone());
        match test.operand {
            // The hot case: the field read inlined into the test.
            OperandIr::Field(s, f) => {
                let s = s as usize;
                self.op(
                    &test.op,
                    reader(move |slots, c| value::field(slots[s], f, c)),
                )
            }
            _ => self.op(&test.op, reader(move |s, c| read(s, c))),
        }
    }

    /// The operand as a boxed closure.
    fn boxed_reader(&mut self, rule: &RuleInfo, operand: &OperandIr) -> Arc<ReadFn> {
        match *operand {
            OperandIr::Field(s, f) => {
                let s = s as usize;
                Arc::new(reader(move |slots, c| value::field(slots[s], f, c)))
            }
            OperandIr::MapValue(s, f, k) => {
                let s = s as usize;
                let key: Box<str> = self.p.strings[k as usize].as_str().into();
                Arc::new(reader(move |slots, c| {
                    runtime::map_value(value::field(slots[s], f, c), &key)
                }))
            }
            OperandIr::DaysSince(s, f) => {
                let s = s as usize;
                Arc::new(reader(move |slots, c| {
                    runtime::days_since(value::field(slots[s], f, c), c.now)
                }))
            }
            OperandIr::Count { first, len, filter } => {
                let chain: Box<[CountStep]> = self.p.chains[first as usize..(first + len) as usize]
                    .iter()
                    .map(|s| {
                        let source = rule.slots.get(*s as usize).and_then(|i| i.source);
                        (*s as usize, source)
                    })
                    .collect();
                let filter = filter.map(|f| self.node(rule, f));
                Arc::new(reader(move |slots, c| {
                    runtime::count_value(count(&chain, filter.as_deref(), slots, c))
                }))
            }
        }
    }

    /// The test `op` on what `read` reads.
    fn op<R>(&self, op: &OpIr, read: R) -> Arc<CondFn>
    where
        R: for<'r> Fn(&mut [Obj<'r>], &Ctx<'r>) -> Val<'r> + Send + Sync + 'static,
    {
        let p = self.p;
        let text = |s: StrId| -> Box<str> { p.strings[s as usize].as_str().into() };
        match *op {
            OpIr::Present => cond(move |s, c| runtime::present(read(s, c))),
            OpIr::Truthy => cond(move |s, c| runtime::truthy(read(s, c))),
            OpIr::Num(op, x) => cond(move |s, c| runtime::num(read(s, c), op, x)),
            // Equality, the usual case, with the operator folded in.
            OpIr::Str(CmpOp::Eq, x) => {
                let x = text(x);
                cond(move |s, c| runtime::text(read(s, c), CmpOp::Eq, &x))
            }
            OpIr::Str(op, x) => {
                let x = text(x);
                cond(move |s, c| runtime::text(read(s, c), op, &x))
            }
            OpIr::Bool(op, x) => cond(move |s, c| runtime::boolean(read(s, c), op, x)),
            OpIr::Time(op, x) => cond(move |s, c| runtime::time(read(s, c), op, x)),
            OpIr::Enum(op, kind, x) => {
                let exact = runtime::exact_word(kind, x);
                cond(move |s, c| runtime::enumeration(read(s, c), op, kind, x, exact))
            }
            OpIr::Regex(r, negated) => {
                let re = self.regexes[r as usize].clone();
                on_str(read, move |y| re.is_match(y) != negated)
            }
            OpIr::Search(r) => {
                let re = self.regexes[r as usize].clone();
                on_str(read, move |y| re.is_match(y))
            }
            OpIr::Substring(x) => {
                let x = text(x);
                on_str(read, move |y| y.contains(&*x))
            }
            OpIr::Prefix(x) => {
                let x = text(x);
                on_str(read, move |y| y.starts_with(&*x))
            }
            OpIr::Suffix(x) => {
                let x = text(x);
                on_str(read, move |y| y.ends_with(&*x))
            }
            OpIr::Glob(g) => {
                let glob = self.globs[g as usize].clone();
                on_str(read, move |y| glob.is_match(y))
            }
            OpIr::InStrs(set, negated) => {
                let set = self.sets[set as usize].clone();
                on_str(read, move |y| set.contains(y) != negated)
            }
            OpIr::InNums(set, negated) => {
                let set: Box<[f64]> = p.num_sets[set as usize].as_slice().into();
                cond(move |s, c| runtime::in_nums(read(s, c), &set, negated))
            }
            OpIr::InEnums(kind, mask, negated) => {
                cond(move |s, c| runtime::in_enums(read(s, c), kind, mask, negated))
            }
            OpIr::ListHas(x) => {
                let x = text(x);
                on_list(read, move |items| items.iter().any(|i| **i == *x))
            }
            OpIr::ListHasAny(set) => {
                let set = self.sets[set as usize].clone();
                on_list(read, move |items| items.iter().any(|i| set.contains(i)))
            }
            OpIr::ListMatch(r, negated) => {
                let re = self.regexes[r as usize].clone();
                on_list(read, move |items| {
                    items.iter().any(|i| re.is_match(i)) != negated
                })
            }
            OpIr::MapHasKey(k) => {
                let key = text(k);
                cond(move |s, c| runtime::map_has_key(read(s, c), &key))
            }
        }
    }
}

/// `a and b and ...` in three-valued logic: false wins, then unknown.
fn and(kids: Vec<Arc<CondFn>>) -> Arc<CondFn> {
    junction(kids, Tri::False)
}

/// `a or b or ...` in three-valued logic: true wins, then unknown.
fn or(kids: Vec<Arc<CondFn>>) -> Arc<CondFn> {
    junction(kids, Tri::True)
}

/// A junction: `decisive` (false for `and`, true for `or`) wins, then unknown, else the
/// other value (see [`runtime::junction`]). Two conditions, the usual case, without a loop.
fn junction(kids: Vec<Arc<CondFn>>, decisive: Tri) -> Arc<CondFn> {
    match <[_; 2]>::try_from(kids) {
        Ok([a, b]) => cond(move |s, c| {
            let first = a(s, c);
            runtime::junction(decisive, first, || b(s, c))
        }),
        Err(kids) => {
            let kids: Box<[Arc<CondFn>]> = kids.into();
            cond(move |s, c| {
                let mut out = decisive.negate();
                for k in &kids {
                    out = runtime::junction(decisive, out, || k(s, c));
                    if out == decisive {
                        break;
                    }
                }
                out
            })
        }
    }
}

/// `body` on each child bound to `slot` (see [`runtime::quantify`]).
#[inline(always)]
fn quantify<'r>(
    children: Option<Children<'r>>,
    slot: usize,
    body: &CondFn,
    s: &mut [Obj<'r>],
    c: &Ctx<'r>,
    decisive: Tri,
) -> Tri {
    runtime::quantify(children, decisive, |child| {
        s[slot] = child;
        body(s, c)
    })
}

/// One slot of a `count` chain: the slot and where its objects come from.
type CountStep = (usize, Option<(u16, Link)>);

/// How many combinations of the chain's objects satisfy the filter (all, without one);
/// `None` when a part of the record is unknown or the budget runs out.
fn count<'r>(
    chain: &[CountStep],
    filter: Option<&CondFn>,
    s: &mut [Obj<'r>],
    c: &Ctx<'r>,
) -> Option<u64> {
    let Some((&(slot, source), rest)) = chain.split_first() else {
        return Some(match filter {
            Some(f) => u64::from(f(s, c) == Tri::True),
            None => 1,
        });
    };
    let (parent, link) = source?;
    let children = value::children(s[parent as usize], link, c);
    runtime::count(children, |child| {
        s[slot] = child;
        count(rest, filter, s, c)
    })
}

fn on_str<R>(read: R, f: impl Fn(&str) -> bool + Send + Sync + 'static) -> Arc<CondFn>
where
    R: for<'r> Fn(&mut [Obj<'r>], &Ctx<'r>) -> Val<'r> + Send + Sync + 'static,
{
    cond(move |s, c| runtime::on_str(read(s, c), &f))
}

fn on_list<R>(read: R, f: impl Fn(&[String]) -> bool + Send + Sync + 'static) -> Arc<CondFn>
where
    R: for<'r> Fn(&mut [Obj<'r>], &Ctx<'r>) -> Val<'r> + Send + Sync + 'static,
{
    cond(move |s, c| runtime::on_list(read(s, c), &f))
}

/// Numbers the `any` nodes over a container's image whose body reads nothing outside the
/// image and walks a list of it (layers, components, vulnerabilities): their results are
/// memoised per image. A body of plain field tests costs less than a memo lookup.
pub(crate) fn image_memo_ordinals(p: &Program) -> Vec<Option<u32>> {
    let mut out = vec![None; p.nodes.len()];
    let mut next = 0;
    for rule in &p.rules {
        mark(p, rule, rule.entry, &mut out, &mut next);
    }
    out
}

fn mark(p: &Program, rule: &RuleInfo, id: NodeId, out: &mut [Option<u32>], next: &mut u32) {
    match p.nodes[id as usize] {
        Node::And { first, len } | Node::Or { first, len } => {
            for k in &p.kids[first as usize..(first + len) as usize] {
                mark(p, rule, *k, out, next);
            }
        }
        Node::Not(x) => mark(p, rule, x, out, next),
        Node::Any { slot, body } | Node::Every { slot, body } => {
            let over_image = matches!(
                rule.slots[slot as usize].source,
                Some((_, Link::ContainerImage))
            );
            if over_image
                && matches!(p.nodes[id as usize], Node::Any { .. })
                && reads_only_within(p, rule, body, slot)
                && walks_a_list(p, body)
                && out[id as usize].is_none()
            {
                out[id as usize] = Some(*next);
                *next += 1;
            }
            mark(p, rule, body, out, next);
        }
        Node::Test(_) => {}
    }
}

/// Whether node `id` is `any` over an image's components whose body is false on a
/// component without vulnerabilities: it may walk only the components that list some
/// ([`value::components_with_vulns`]).
pub(crate) fn needs_vulns(p: &Program, rule: &RuleInfo, id: NodeId) -> bool {
    let Node::Any { slot, body } = p.nodes[id as usize] else {
        return false;
    };
    matches!(
        rule.slots[slot as usize].source,
        Some((_, Link::ImageComponents))
    ) && false_without_vulns(p, rule, body, slot)
}

/// Marks the nodes of `rule` under `id` for which [`needs_vulns`] holds.
fn mark_needs_vulns(p: &Program, rule: &RuleInfo, id: NodeId, out: &mut [bool]) {
    match p.nodes[id as usize] {
        Node::And { first, len } | Node::Or { first, len } => {
            for k in &p.kids[first as usize..(first + len) as usize] {
                mark_needs_vulns(p, rule, *k, out);
            }
        }
        Node::Not(x) => mark_needs_vulns(p, rule, x, out),
        Node::Any { body, .. } | Node::Every { body, .. } => {
            out[id as usize] |= needs_vulns(p, rule, id);
            mark_needs_vulns(p, rule, body, out);
        }
        Node::Test(_) => {}
    }
}

/// Whether `id` is false whenever the component in `component` lists no vulnerability:
/// `any` over its vulnerabilities, a conjunction with such a part, a disjunction of them.
fn false_without_vulns(p: &Program, rule: &RuleInfo, id: NodeId, component: u16) -> bool {
    match p.nodes[id as usize] {
        Node::Any { slot, .. } => matches!(
            rule.slots[slot as usize].source,
            Some((parent, Link::ComponentVulns | Link::ComponentReportedVulns)) if parent == component
        ),
        Node::And { first, len } => p.kids[first as usize..(first + len) as usize]
            .iter()
            .any(|k| false_without_vulns(p, rule, *k, component)),
        Node::Or { first, len } => {
            len > 0
                && p.kids[first as usize..(first + len) as usize]
                    .iter()
                    .all(|k| false_without_vulns(p, rule, *k, component))
        }
        Node::Not(_) | Node::Every { .. } | Node::Test(_) => false,
    }
}

/// Whether `id` binds objects: an `any` within it.
fn binds(p: &Program, id: NodeId) -> bool {
    match p.nodes[id as usize] {
        Node::And { first, len } | Node::Or { first, len } => p.kids
            [first as usize..(first + len) as usize]
            .iter()
            .any(|k| binds(p, *k)),
        Node::Any { .. } => true,
        Node::Not(_) | Node::Every { .. } | Node::Test(_) => false,
    }
}

/// Whether evaluating `id` walks a list (a quantifier or a count).
pub(crate) fn walks_a_list(p: &Program, id: NodeId) -> bool {
    match p.nodes[id as usize] {
        Node::And { first, len } | Node::Or { first, len } => p.kids
            [first as usize..(first + len) as usize]
            .iter()
            .any(|k| walks_a_list(p, *k)),
        Node::Not(x) => walks_a_list(p, x),
        Node::Any { .. } | Node::Every { .. } => true,
        Node::Test(t) => matches!(p.tests[t as usize].operand, OperandIr::Count { .. }),
    }
}

/// Whether slot `s` is `anc` or reached from it.
fn descends(rule: &RuleInfo, s: u16, anc: u16) -> bool {
    let mut cur = Some(s);
    while let Some(x) = cur {
        if x == anc {
            return true;
        }
        cur = rule
            .slots
            .get(x as usize)
            .and_then(|i| i.source)
            .map(|(p, _)| p);
    }
    false
}

fn reads_only_within(p: &Program, rule: &RuleInfo, id: NodeId, anc: u16) -> bool {
    match p.nodes[id as usize] {
        Node::And { first, len } | Node::Or { first, len } => p.kids
            [first as usize..(first + len) as usize]
            .iter()
            .all(|k| reads_only_within(p, rule, *k, anc)),
        Node::Not(x) => reads_only_within(p, rule, x, anc),
        Node::Any { slot, body } | Node::Every { slot, body } => {
            descends(rule, slot, anc) && reads_only_within(p, rule, body, anc)
        }
        Node::Test(t) => match p.tests[t as usize].operand {
            OperandIr::Field(s, _) | OperandIr::MapValue(s, _, _) | OperandIr::DaysSince(s, _) => {
                descends(rule, s, anc)
            }
            OperandIr::Count { first, len, filter } => {
                p.chains[first as usize..(first + len) as usize]
                    .iter()
                    .all(|s| descends(rule, *s, anc))
                    && filter.is_none_or(|f| reads_only_within(p, rule, f, anc))
            }
        },
    }
}
