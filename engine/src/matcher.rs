//! The compiled matcher: an immutable [`Matcher`] (shared, `Send + Sync`) evaluating
//! records with bindings held in a fixed array on the stack; a record that violates
//! nothing allocates nothing.

use crate::ir::*;
use crate::scope;
use crate::value::{self, Children, Ctx, Obj, Val};
use palisade_lang::literal::LiteralPattern;
use palisade_lang::schema::{Root, Stage};
use std::cmp::Ordering;

/// Three-valued truth: a test on a missing value is unknown, and only `True` fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tri {
    /// Holds.
    True,
    /// Does not hold.
    False,
    /// Not known (the record lacks the data).
    Unknown,
}

impl Tri {
    /// From a boolean.
    pub fn of(b: bool) -> Tri {
        if b { Tri::True } else { Tri::False }
    }
    /// Negation (unknown stays unknown).
    pub fn negate(self) -> Tri {
        match self {
            Tri::True => Tri::False,
            Tri::False => Tri::True,
            Tri::Unknown => Tri::Unknown,
        }
    }
}

/// Most quantifier steps (objects visited) one record may take across all policies. Work
/// is linear in record size, but a hostile record (millions of components) or a policy
/// nesting quantifiers over independent lists could still take long; past the budget the
/// record is an error, never a silent non-match.
pub const MAX_STEPS_PER_RECORD: u64 = 50_000_000;

/// Evaluation of one record ran out of its step budget.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error(
    "evaluation stopped after {MAX_STEPS_PER_RECORD} steps (objects visited): the record is too large for these policies"
)]
pub struct LimitError;

thread_local! {
    static STEPS_LEFT: std::cell::Cell<u64> = const { std::cell::Cell::new(MAX_STEPS_PER_RECORD) };
}

/// Starts a record's budget.
pub(crate) fn reset_budget() {
    STEPS_LEFT.with(|s| s.set(MAX_STEPS_PER_RECORD));
}

/// Takes one step; false when the budget is spent.
#[inline]
fn spend() -> bool {
    STEPS_LEFT.with(|s| {
        let left = s.get();
        if left == 0 {
            return false;
        }
        s.set(left - 1);
        true
    })
}

/// Whether the current record ran out of budget.
pub(crate) fn exhausted() -> bool {
    STEPS_LEFT.with(|s| s.get() == 0)
}

/// Results of image-only sub-conditions, per image: real clusters run many deployments from
/// few images, so a condition that reads only an image (its layers, components,
/// vulnerabilities) is evaluated once per image and reused. Keyed by matcher, dataset
/// generation, clock, node and image address; cleared when it grows past a bound.
type ImageKey = (u64, u64, i64, u32, usize);
const IMAGE_CACHE_LIMIT: usize = 1 << 16;

thread_local! {
    static IMAGE_CACHE: std::cell::RefCell<rustc_hash::FxHashMap<ImageKey, Tri>> = std::cell::RefCell::new(rustc_hash::FxHashMap::with_capacity_and_hasher(1024, Default::default()));
}

static MATCHER_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A compiled regex: one pattern, or a set tested at once.
#[derive(Debug)]
pub(crate) enum CompiledRegex {
    One(regex::Regex),
    Set(regex::RegexSet),
    /// Literal alternatives (see [`palisade_lang::literal`]): no regex engine needed.
    Literal(LiteralPattern),
}

impl CompiledRegex {
    pub(crate) fn is_match(&self, s: &str) -> bool {
        match self {
            CompiledRegex::One(r) => r.is_match(s),
            CompiledRegex::Set(r) => r.is_match(s),
            CompiledRegex::Literal(l) => l.is_match(s),
        }
    }
}

/// Why a program could not be turned into a matcher.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The program failed verification.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// A regex did not compile (only possible for hand-made bundles).
    #[error("invalid regex in bundle: {0}")]
    Regex(String),
    /// A glob did not compile.
    #[error("invalid glob in bundle: {0}")]
    Glob(String),
}

/// An immutable, shareable matcher over a verified program.
#[derive(Debug)]
pub struct Matcher {
    pub(crate) program: Program,
    pub(crate) regexes: Vec<CompiledRegex>,
    pub(crate) globs: Vec<globset::GlobMatcher>,
    pub(crate) scope_regexes: scope::ScopeRegexes,
    /// Rule indexes by record kind: every rule, and the rules of enabled policies.
    by_root: [Vec<u32>; 5],
    enabled_by_root: [Vec<u32>; 5],
    max_slots: usize,
    /// Per node: an `any` over a container's image whose body reads only that image.
    image_only: Vec<bool>,
    /// Per string set: bit `n` set when a member is `n` bytes long (bit 63: 63 or more),
    /// so most non-members are rejected without comparing a byte.
    set_lengths: Vec<u64>,
    id: u64,
}

/// What to evaluate.
#[derive(Clone, Copy, Debug)]
pub struct EvalOptions {
    /// "Now", Unix seconds.
    pub now: i64,
    /// Also evaluate disabled policies.
    pub include_disabled: bool,
    /// Only this stage, if set.
    pub stage: Option<Stage>,
}

/// A rule that fired on a record.
#[derive(Clone, Debug)]
pub struct Hit {
    /// Index of the rule in the program.
    pub rule: u32,
    /// Index of the policy.
    pub policy: u32,
}

fn root_index(r: Root) -> usize {
    match r {
        Root::Image => 0,
        Root::Deployment => 1,
        Root::Process => 2,
        Root::KubeEvent => 3,
        Root::NetworkFlow => 4,
    }
}

impl Matcher {
    /// Verifies `program` and compiles its regexes and globs.
    pub fn new(program: Program) -> Result<Matcher, LoadError> {
        program.verify()?;
        let mut regexes = Vec::with_capacity(program.regexes.len());
        for spec in &program.regexes {
            regexes.push(compile_regex(spec).map_err(LoadError::Regex)?);
        }
        let mut globs = Vec::with_capacity(program.globs.len());
        for g in &program.globs {
            globs.push(
                palisade_lang::hir::build_glob(g).map_err(|e| LoadError::Glob(e.to_string()))?,
            );
        }
        let scope_regexes =
            scope::ScopeRegexes::new(&program.policies).map_err(LoadError::Regex)?;
        let mut by_root: [Vec<u32>; 5] = Default::default();
        let mut enabled_by_root: [Vec<u32>; 5] = Default::default();
        for (i, r) in program.rules.iter().enumerate() {
            by_root[root_index(r.root)].push(i as u32);
            if !program.policies[r.policy as usize].disabled {
                enabled_by_root[root_index(r.root)].push(i as u32);
            }
        }
        let max_slots = program
            .rules
            .iter()
            .map(|r| r.slots.len())
            .max()
            .unwrap_or(1);
        let image_only = image_only_nodes(&program);
        let set_lengths = program
            .string_sets
            .iter()
            .map(|set| set.iter().fold(0u64, |mask, s| mask | length_bit(s)))
            .collect();
        let id = MATCHER_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Matcher {
            program,
            regexes,
            globs,
            scope_regexes,
            by_root,
            enabled_by_root,
            max_slots,
            image_only,
            set_lengths,
            id,
        })
    }

    /// The program.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// Evaluates every applicable rule on one record and calls `hit` for each that fires.
    /// `root` must be the record (`Obj::Deployment`, `Obj::Image`, `Obj::Process`, ...).
    pub fn evaluate<'r>(
        &self,
        ctx: &Ctx<'r>,
        root: Obj<'r>,
        opts: &EvalOptions,
        mut hit: impl FnMut(Hit),
    ) -> Result<(), LimitError> {
        reset_budget();
        // A slot array sized for the program, on the stack, once per record.
        match self.max_slots {
            0..=4 => self.evaluate_in(&mut [Obj::None; 4], ctx, root, opts, &mut hit),
            5..=8 => self.evaluate_in(&mut [Obj::None; 8], ctx, root, opts, &mut hit),
            9..=16 => self.evaluate_in(&mut [Obj::None; 16], ctx, root, opts, &mut hit),
            _ => self.evaluate_in(&mut [Obj::None; MAX_SLOTS], ctx, root, opts, &mut hit),
        }
        if exhausted() { Err(LimitError) } else { Ok(()) }
    }

    fn evaluate_in<'r>(
        &self,
        slots: &mut [Obj<'r>],
        ctx: &Ctx<'r>,
        root: Obj<'r>,
        opts: &EvalOptions,
        hit: &mut impl FnMut(Hit),
    ) {
        let Some(kind) = root_of(root) else { return };
        // Every slot is written before it is read (verified), so values left by the
        // previous rule are never seen.
        slots[0] = root;
        // A record kind belongs to one stage, so the stage filter holds for all its rules or none.
        if opts.stage.is_some_and(|s| kind.stage() != s) {
            return;
        }
        let rules = if opts.include_disabled {
            &self.by_root[root_index(kind)]
        } else {
            &self.enabled_by_root[root_index(kind)]
        };
        for &ri in rules {
            let rule = &self.program.rules[ri as usize];
            // The condition first: most records fire nothing, and scopes cost regex matches.
            if self.node(rule, rule.entry, slots, ctx) != Tri::True {
                continue;
            }
            let policy = &self.program.policies[rule.policy as usize];
            if scope::applies(self, rule.policy as usize, policy, ctx, root, opts.now) {
                hit(Hit {
                    rule: ri,
                    policy: rule.policy,
                });
            }
        }
    }

    /// Evaluates one rule's condition on a record, ignoring scopes, exclusions and the
    /// disabled flag (for differential tests against the reference evaluator).
    pub fn eval_rule<'r>(&self, rule_index: usize, ctx: &Ctx<'r>, root: Obj<'r>) -> Tri {
        let Some(rule) = self.program.rules.get(rule_index) else {
            return Tri::Unknown;
        };
        if root_of(root) != Some(rule.root) {
            return Tri::Unknown;
        }
        reset_budget();
        let mut slots = [Obj::None; MAX_SLOTS];
        slots[0] = root;
        self.node(rule, rule.entry, &mut slots, ctx)
    }

    /// Whether the named policy's scopes and exclusions let it apply to this record.
    pub fn applies<'r>(&self, policy: &str, ctx: &Ctx<'r>, root: Obj<'r>, now: i64) -> bool {
        self.program
            .policies
            .iter()
            .enumerate()
            .find(|(_, p)| p.name == policy)
            .is_some_and(|(i, p)| scope::applies(self, i, p, ctx, root, now))
    }

    pub(crate) fn rule_selected(&self, rule: &RuleInfo, opts: &EvalOptions) -> bool {
        let policy = &self.program.policies[rule.policy as usize];
        (opts.include_disabled || !policy.disabled)
            && opts.stage.is_none_or(|s| rule.root.stage() == s)
    }

    /// Evaluates one node with the given bindings.
    pub(crate) fn node<'r>(
        &self,
        rule: &RuleInfo,
        id: NodeId,
        slots: &mut [Obj<'r>],
        ctx: &Ctx<'r>,
    ) -> Tri {
        match self.program.nodes[id as usize] {
            Node::And { first, len } => {
                let mut out = Tri::True;
                for k in &self.program.kids[first as usize..(first + len) as usize] {
                    match self.node(rule, *k, slots, ctx) {
                        Tri::False => return Tri::False,
                        Tri::Unknown => out = Tri::Unknown,
                        Tri::True => {}
                    }
                }
                out
            }
            Node::Or { first, len } => {
                let mut out = Tri::False;
                for k in &self.program.kids[first as usize..(first + len) as usize] {
                    match self.node(rule, *k, slots, ctx) {
                        Tri::True => return Tri::True,
                        Tri::Unknown => out = Tri::Unknown,
                        Tri::False => {}
                    }
                }
                out
            }
            Node::Not(x) => self.node(rule, x, slots, ctx).negate(),
            Node::Any { slot, body } => {
                let Some(children) = self.children(rule, slot, slots, ctx) else {
                    return Tri::Unknown;
                };
                if self.image_only[id as usize]
                    && ctx.dataset.generation != 0
                    && let Children::One(Some(Obj::Image(img))) = children
                {
                    return self.cached_image_node(rule, id, slot, body, img, slots, ctx);
                }
                let mut out = Tri::False;
                for child in children {
                    if !spend() {
                        return Tri::Unknown;
                    }
                    slots[slot as usize] = child;
                    match self.node(rule, body, slots, ctx) {
                        Tri::True => return Tri::True,
                        Tri::Unknown => out = Tri::Unknown,
                        Tri::False => {}
                    }
                }
                out
            }
            Node::Every { slot, body } => {
                let Some(children) = self.children(rule, slot, slots, ctx) else {
                    return Tri::Unknown;
                };
                let mut out = Tri::True;
                for child in children {
                    if !spend() {
                        return Tri::Unknown;
                    }
                    slots[slot as usize] = child;
                    match self.node(rule, body, slots, ctx) {
                        Tri::False => return Tri::False,
                        Tri::Unknown => out = Tri::Unknown,
                        Tri::True => {}
                    }
                }
                out
            }
            Node::Test(t) => {
                let test = &self.program.tests[t as usize];
                let v = self.operand(rule, &test.operand, slots, ctx);
                self.op(&test.op, v)
            }
        }
    }

    #[allow(clippy::too_many_arguments, reason = "the same state node() threads")]
    fn cached_image_node<'r>(
        &self,
        rule: &RuleInfo,
        id: NodeId,
        slot: u16,
        body: NodeId,
        img: &'r crate::record::Image,
        slots: &mut [Obj<'r>],
        ctx: &Ctx<'r>,
    ) -> Tri {
        let key = (
            self.id,
            ctx.dataset.generation,
            ctx.now,
            id,
            img as *const crate::record::Image as usize,
        );
        if let Some(hit) = IMAGE_CACHE.with(|c| c.borrow().get(&key).copied()) {
            return hit;
        }
        if !spend() {
            return Tri::Unknown;
        }
        slots[slot as usize] = Obj::Image(img);
        let out = self.node(rule, body, slots, ctx);
        if !exhausted() {
            IMAGE_CACHE.with(|c| {
                let mut c = c.borrow_mut();
                if c.len() >= IMAGE_CACHE_LIMIT {
                    c.clear();
                }
                c.insert(key, out);
            });
        }
        out
    }

    pub(crate) fn children<'r>(
        &self,
        rule: &RuleInfo,
        slot: u16,
        slots: &[Obj<'r>],
        ctx: &Ctx<'r>,
    ) -> Option<Children<'r>> {
        let (parent, link) = rule.slots[slot as usize].source?;
        value::children(slots[parent as usize], link, ctx)
    }

    pub(crate) fn operand<'r>(
        &self,
        rule: &RuleInfo,
        o: &OperandIr,
        slots: &mut [Obj<'r>],
        ctx: &Ctx<'r>,
    ) -> Val<'r> {
        match *o {
            OperandIr::Field(s, f) => value::field(slots[s as usize], f, ctx),
            OperandIr::MapValue(s, f, k) => match value::field(slots[s as usize], f, ctx) {
                Val::Map(m) => m
                    .get(&self.program.strings[k as usize])
                    .map_or(Val::Missing, |v| Val::Str(v)),
                _ => Val::Missing,
            },
            OperandIr::DaysSince(s, f) => match value::field(slots[s as usize], f, ctx) {
                Val::Time(t) => Val::Num((ctx.now - t) as f64 / 86_400.0),
                _ => Val::Missing,
            },
            OperandIr::Count { first, len, filter } => {
                let chain = &self.program.chains[first as usize..(first + len) as usize];
                match self.count(rule, chain, filter, slots, ctx) {
                    Some(n) => Val::Num(n as f64),
                    None => Val::Missing,
                }
            }
        }
    }

    fn count<'r>(
        &self,
        rule: &RuleInfo,
        chain: &[u16],
        filter: Option<NodeId>,
        slots: &mut [Obj<'r>],
        ctx: &Ctx<'r>,
    ) -> Option<u64> {
        let Some((&slot, rest)) = chain.split_first() else {
            return Some(match filter {
                Some(f) => u64::from(self.node(rule, f, slots, ctx) == Tri::True),
                None => 1,
            });
        };
        let mut total = 0;
        for child in self.children(rule, slot, slots, ctx)? {
            if !spend() {
                return None;
            }
            slots[slot as usize] = child;
            total += self.count(rule, rest, filter, slots, ctx)?;
        }
        Some(total)
    }

    pub(crate) fn op(&self, op: &OpIr, v: Val<'_>) -> Tri {
        let p = &self.program;
        let ord = |a: f64, b: f64| a.partial_cmp(&b);
        match (*op, v) {
            (OpIr::Present, Val::Missing) => Tri::False,
            (OpIr::Present, _) => Tri::True,
            (_, Val::Missing) => Tri::Unknown,
            (OpIr::Truthy, Val::Bool(b)) => Tri::of(b),
            (OpIr::Num(c, x), Val::Num(y)) => {
                ord(y, x).map_or(Tri::Unknown, |o| Tri::of(c.holds(o)))
            }
            (OpIr::Str(c, s), Val::Str(y)) => {
                Tri::of(c.holds(if y == p.strings[s as usize].as_str() {
                    Ordering::Equal
                } else {
                    Ordering::Less
                }))
            }
            (OpIr::Bool(c, x), Val::Bool(y)) => Tri::of(c.holds(if x == y {
                Ordering::Equal
            } else {
                Ordering::Less
            })),
            (OpIr::Time(c, x), Val::Time(y)) => Tri::of(c.holds(y.cmp(&x))),
            (OpIr::Enum(c, kind, x), Val::Str(y)) => kind
                .index_of_record_value(y)
                .map_or(Tri::Unknown, |i| Tri::of(c.holds(i.cmp(&x)))),
            (OpIr::Regex(r, neg), Val::Str(y)) => {
                Tri::of(self.regexes[r as usize].is_match(y) != neg)
            }
            (OpIr::Search(r), Val::Str(y)) => Tri::of(self.regexes[r as usize].is_match(y)),
            (OpIr::Substring(s), Val::Str(y)) => {
                Tri::of(y.contains(p.strings[s as usize].as_str()))
            }
            (OpIr::Prefix(s), Val::Str(y)) => {
                Tri::of(y.starts_with(p.strings[s as usize].as_str()))
            }
            (OpIr::Suffix(s), Val::Str(y)) => Tri::of(y.ends_with(p.strings[s as usize].as_str())),
            (OpIr::Glob(g), Val::Str(y)) => Tri::of(self.globs[g as usize].is_match(y)),
            (OpIr::InStrs(set, neg), Val::Str(y)) => Tri::of(self.in_set(set, y) != neg),
            (OpIr::InNums(set, neg), Val::Num(y)) => {
                Tri::of(p.num_sets[set as usize].contains(&y) != neg)
            }
            (OpIr::InEnums(kind, mask, neg), Val::Str(y)) => {
                kind.index_of_record_value(y).map_or(Tri::Unknown, |i| {
                    Tri::of((i < 32 && mask & (1 << i) != 0) != neg)
                })
            }
            (OpIr::ListHas(s), Val::List(items)) => {
                Tri::of(items.iter().any(|x| *x == p.strings[s as usize]))
            }
            (OpIr::ListHasAny(set), Val::List(items)) => {
                Tri::of(items.iter().any(|x| self.in_set(set, x)))
            }
            (OpIr::ListMatch(r, neg), Val::List(items)) => {
                Tri::of(items.iter().any(|x| self.regexes[r as usize].is_match(x)) != neg)
            }
            (OpIr::MapHasKey(k), Val::Map(m)) => Tri::of(m.contains_key(&p.strings[k as usize])),
            _ => Tri::Unknown,
        }
    }
}

impl Matcher {
    /// Whether `s` is in string set `set` (sorted): the length mask first, then a binary search.
    fn in_set(&self, set: u32, s: &str) -> bool {
        self.set_lengths[set as usize] & length_bit(s) != 0
            && self.program.string_sets[set as usize]
                .binary_search_by(|x| x.as_str().cmp(s))
                .is_ok()
    }
}

/// The length-mask bit of a string.
fn length_bit(s: &str) -> u64 {
    1u64 << s.len().min(63)
}

/// Marks `any` nodes over a container's image whose body reads nothing outside the image.
fn image_only_nodes(p: &Program) -> Vec<bool> {
    let mut out = vec![false; p.nodes.len()];
    for rule in &p.rules {
        mark(p, rule, rule.entry, &mut out);
    }
    out
}

fn mark(p: &Program, rule: &RuleInfo, id: NodeId, out: &mut [bool]) {
    match p.nodes[id as usize] {
        Node::And { first, len } | Node::Or { first, len } => {
            for k in &p.kids[first as usize..(first + len) as usize] {
                mark(p, rule, *k, out);
            }
        }
        Node::Not(x) => mark(p, rule, x, out),
        Node::Any { slot, body } | Node::Every { slot, body } => {
            let info = &rule.slots[slot as usize];
            let over_image = matches!(
                info.source,
                Some((_, palisade_lang::schema::Link::ContainerImage))
            );
            if over_image
                && matches!(p.nodes[id as usize], Node::Any { .. })
                && reads_only_within(p, rule, body, slot)
            {
                out[id as usize] = true;
            }
            mark(p, rule, body, out);
        }
        Node::Test(_) => {}
    }
}

/// Whether `s` is `anc` or reached from it.
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

/// The record kind of a root object.
pub fn root_of(o: Obj<'_>) -> Option<Root> {
    Some(match o {
        Obj::Image(_) => Root::Image,
        Obj::Deployment(_) => Root::Deployment,
        Obj::Process(_) => Root::Process,
        Obj::Event(_) => Root::KubeEvent,
        Obj::Flow(_) => Root::NetworkFlow,
        _ => return None,
    })
}

pub(crate) fn compile_regex(spec: &RegexSpec) -> Result<CompiledRegex, String> {
    if !spec.search
        && let Some(literal) = LiteralPattern::parse_all(&spec.patterns)
    {
        return Ok(CompiledRegex::Literal(literal));
    }
    let sources: Vec<String> = spec
        .patterns
        .iter()
        .map(|p| palisade_lang::hir::regex_source(p, spec.search))
        .collect();
    let limit = palisade_lang::hir::REGEX_SIZE_LIMIT;
    if let [one] = sources.as_slice() {
        regex::RegexBuilder::new(one)
            .size_limit(limit)
            .build()
            .map(CompiledRegex::One)
            .map_err(|e| e.to_string())
    } else {
        regex::RegexSetBuilder::new(&sources)
            .size_limit(limit * sources.len().max(1))
            .build()
            .map(CompiledRegex::Set)
            .map_err(|e| e.to_string())
    }
}
