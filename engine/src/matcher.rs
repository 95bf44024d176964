//! The compiled matcher: an immutable [`Matcher`] (shared, `Send + Sync`) evaluating
//! records with bindings held in a fixed array on the stack; a record that violates
//! nothing allocates nothing.

use crate::Dataset;
use crate::closures::{self, Closures};
use crate::dispatch::{RuleBits, RuleEntry, RuleList};
use crate::ir::*;
use crate::runtime::ImageMemo;
use crate::scope;
use crate::value::{self, Children, Ctx, Obj, Val};
use palisade_lang::literal::LiteralPattern;
use palisade_lang::schema::{FieldId, Link, Root, Stage};

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
#[inline]
pub(crate) fn reset_budget() {
    STEPS_LEFT.with(|s| s.set(MAX_STEPS_PER_RECORD));
}

/// Takes one step; false when the budget is spent.
#[inline]
pub(crate) fn spend() -> bool {
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
#[inline]
pub(crate) fn exhausted() -> bool {
    STEPS_LEFT.with(|s| s.get() == 0)
}

/// A compiled regex: one pattern, or a set tested at once.
#[derive(Debug)]
pub(crate) enum CompiledRegex {
    /// One pattern, with the literal starts and ends every match has (none for a search).
    One(regex::Regex, crate::affixes::Affixes),
    Set(regex::RegexSet),
    /// Literal alternatives (see [`palisade_lang::literal`]): no regex engine needed.
    Literal(LiteralPattern),
}

impl CompiledRegex {
    pub(crate) fn is_match(&self, s: &str) -> bool {
        match self {
            CompiledRegex::One(r, affixes) => affixes.admit(s) && r.is_match(s),
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
    pub(crate) scope_regexes: scope::ScopeRegexes,
    /// The program's conditions as closures.
    pub(crate) closures: Closures,
    /// Rules by record kind: every rule, and the rules of enabled policies.
    by_root: [RuleList; 5],
    enabled_by_root: [RuleList; 5],
    max_slots: usize,
    /// By record kind: some rule reads the record's joins (a process's deployment,
    /// container or baseline) in its condition, scope or message.
    reads_joins: [bool; 5],
    /// Results of image-only conditions per image, per thread (see [`ImageMemo`]).
    memo: std::sync::Arc<ImageMemo>,
    /// What `check`'s enumeration found under each image, per thread (see
    /// [`crate::bindings_memo`]).
    pub(crate) bindings: crate::bindings_memo::BindingsMemo,
}

/// A policy set that evaluates records. The [`Matcher`] (policies loaded at run time) and
/// the `Policies` of a module written by [`crate::codegen`] (policies compiled to Rust)
/// both implement it and give the same hits, so a host can be written once for either.
pub trait PolicySet {
    /// Evaluates every applicable rule on one record and calls `hit` for each that fires.
    /// `root` must be the record (`Obj::Deployment`, `Obj::Process`, ...); `ctx` gives
    /// its dataset, joins and the one clock ([`Ctx::new`]).
    fn evaluate<'r>(
        &self,
        ctx: &Ctx<'r>,
        root: Obj<'r>,
        opts: &EvalOptions,
        hit: impl FnMut(Hit),
    ) -> Result<(), LimitError>;

    /// The matcher of the set's program: violations, explanations, reports, its memo.
    fn matcher(&self) -> &Matcher;
}

impl PolicySet for Matcher {
    #[inline]
    fn evaluate<'r>(
        &self,
        ctx: &Ctx<'r>,
        root: Obj<'r>,
        opts: &EvalOptions,
        hit: impl FnMut(Hit),
    ) -> Result<(), LimitError> {
        Matcher::evaluate(self, ctx, root, opts, hit)
    }

    fn matcher(&self) -> &Matcher {
        self
    }
}

/// What to evaluate.
#[derive(Clone, Copy, Debug)]
pub struct EvalOptions {
    /// "Now", Unix seconds: the clock [`Matcher::check`] and [`Matcher::excepted`] give
    /// the evaluation's context. [`Matcher::evaluate`] reads only its [`Ctx`]'s clock.
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

/// Whether a rule's condition or message reads an event's joins: a quantifier over its
/// deployment or container, or a field the dataset's baselines decide.
fn rule_reads_joins(program: &Program, rule: &RuleInfo) -> bool {
    let joined = |f: FieldId| {
        matches!(
            f,
            FieldId::ProcessOutsideBaseline | FieldId::ProcessBaseline
        )
    };
    let walks_a_join = rule.slots.iter().any(|s| {
        matches!(
            s.source,
            Some((_, Link::EventDeployment | Link::ProcessContainer))
        )
    });
    let message_reads = rule.message.iter().flatten().any(|part| match part {
        MsgPart::Field(_, f) => joined(*f),
        MsgPart::Text(_) => false,
    });
    walks_a_join || message_reads || node_reads(program, rule.entry, &joined)
}

/// Whether a test under node `id` reads a field for which `reads` holds.
fn node_reads(program: &Program, id: NodeId, reads: &dyn Fn(FieldId) -> bool) -> bool {
    match program.nodes.get(id as usize) {
        Some(Node::And { first, len } | Node::Or { first, len }) => program
            .kids
            .get(*first as usize..(*first + *len) as usize)
            .is_none_or(|kids| kids.iter().any(|k| node_reads(program, *k, reads))),
        Some(Node::Not(x)) => node_reads(program, *x, reads),
        Some(Node::Any { body, .. } | Node::Every { body, .. }) => {
            node_reads(program, *body, reads)
        }
        Some(Node::Test(t)) => match program.tests.get(*t as usize).map(|t| t.operand) {
            Some(
                OperandIr::Field(_, f) | OperandIr::MapValue(_, f, _) | OperandIr::DaysSince(_, f),
            ) => reads(f),
            Some(OperandIr::Count { filter, .. }) => {
                filter.is_some_and(|f| node_reads(program, f, reads))
            }
            None => true,
        },
        None => true,
    }
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
        let memo = std::sync::Arc::new(ImageMemo::default());
        let closures = closures::build(&program, regexes, globs, memo.clone());
        let mut all: [Vec<RuleEntry>; 5] = Default::default();
        let mut enabled: [Vec<RuleEntry>; 5] = Default::default();
        let mut reads_joins = [false; 5];
        for (i, r) in program.rules.iter().enumerate() {
            let policy = &program.policies[r.policy as usize];
            reads_joins[root_index(r.root)] |=
                !scope::unscoped(policy) || rule_reads_joins(&program, r);
            let entry = RuleEntry {
                rule: i as u32,
                policy: r.policy,
                unscoped: scope::unscoped(policy),
                cond: closures.conds[r.entry as usize].clone(),
            };
            if !policy.disabled {
                enabled[root_index(r.root)].push(entry.clone());
            }
            all[root_index(r.root)].push(entry);
        }
        let by_root = all.map(|entries| RuleList::new(&program, entries));
        let enabled_by_root = enabled.map(|entries| RuleList::new(&program, entries));
        let max_slots = program
            .rules
            .iter()
            .map(|r| r.slots.len())
            .max()
            .unwrap_or(1);
        Ok(Matcher {
            program,
            scope_regexes,
            closures,
            by_root,
            enabled_by_root,
            max_slots,
            reads_joins,
            memo,
            bindings: Default::default(),
        })
    }

    /// The context of evaluating `root` over `dataset` at `now`, with the record's joins
    /// looked up only when some rule of its kind reads them ([`Ctx::new`] always looks
    /// them up): the context a host builds per record for [`Matcher::evaluate`].
    pub fn context<'r>(&self, dataset: &'r Dataset, root: Obj<'r>, now: i64) -> Ctx<'r> {
        match root_of(root) {
            Some(kind) if !self.reads_joins[root_index(kind)] => Ctx {
                dataset,
                join: Default::default(),
                now,
            },
            _ => Ctx::new(dataset, root, now),
        }
    }

    /// The program.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// Evaluates every applicable rule on one record and calls `hit` for each that fires.
    /// `root` must be the record (`Obj::Deployment`, `Obj::Image`, `Obj::Process`, ...).
    #[inline]
    pub fn evaluate<'r>(
        &self,
        ctx: &Ctx<'r>,
        root: Obj<'r>,
        opts: &EvalOptions,
        mut hit: impl FnMut(Hit),
    ) -> Result<(), LimitError> {
        let Some(kind) = root_of(root) else {
            return Ok(());
        };
        // A record kind belongs to one stage, so the stage filter holds for all its rules or none.
        if opts.stage.is_some_and(|s| kind.stage() != s) {
            return Ok(());
        }
        let rules = if opts.include_disabled {
            &self.by_root[root_index(kind)]
        } else {
            &self.enabled_by_root[root_index(kind)]
        };
        // Whatever runs for this record (conditions here, explanations after) starts with
        // a whole budget, not what a previous record left.
        reset_budget();
        let candidates = rules.candidates(root, ctx);
        // Most records let through no rule, or only rules their guards decide: those need
        // no bindings.
        if let Some(mut decided) = candidates
            && decided & !rules.decided == 0
        {
            while decided != 0 {
                let i = decided.trailing_zeros() as usize;
                decided &= decided - 1;
                if let Some(entry) = rules.entries.get(i) {
                    self.report(entry, ctx, root, &mut hit);
                }
            }
            return Ok(());
        }
        self.evaluate_conditions(ctx, root, rules, candidates, &mut hit)
    }

    /// [`Matcher::evaluate`] for records that let through rules whose conditions must run.
    fn evaluate_conditions<'r>(
        &self,
        ctx: &Ctx<'r>,
        root: Obj<'r>,
        rules: &RuleList,
        candidates: Option<RuleBits>,
        hit: &mut impl FnMut(Hit),
    ) -> Result<(), LimitError> {
        // A slot array sized for the program, on the stack, once per record.
        let mut run = |slots: &mut [Obj<'r>]| {
            // Every slot is written before it is read (verified), so values left by the
            // previous rule are never seen.
            slots[0] = root;
            match candidates {
                Some(mut candidates) => {
                    while candidates != 0 {
                        let i = candidates.trailing_zeros() as usize;
                        candidates &= candidates - 1;
                        let Some(entry) = rules.entries.get(i) else {
                            continue;
                        };
                        if rules.decided & (1 << i) != 0 {
                            self.report(entry, ctx, root, hit);
                        } else {
                            self.try_rule(entry, slots, ctx, root, hit);
                        }
                    }
                }
                None => {
                    for entry in &rules.entries {
                        self.try_rule(entry, slots, ctx, root, hit);
                    }
                }
            }
        };
        match self.max_slots {
            0..=4 => run(&mut [Obj::None; 4]),
            5..=8 => run(&mut [Obj::None; 8]),
            9..=16 => run(&mut [Obj::None; 16]),
            _ => run(&mut [Obj::None; MAX_SLOTS]),
        }
        if exhausted() { Err(LimitError) } else { Ok(()) }
    }

    /// Reports `entry`'s rule if its condition holds and its scopes let it apply.
    #[inline]
    fn try_rule<'r>(
        &self,
        entry: &RuleEntry,
        slots: &mut [Obj<'r>],
        ctx: &Ctx<'r>,
        root: Obj<'r>,
        hit: &mut impl FnMut(Hit),
    ) {
        // The condition first: most records fire nothing, and scopes cost regex matches.
        if (entry.cond)(slots, ctx) == Tri::True {
            self.report(entry, ctx, root, hit);
        }
    }

    /// Reports `entry`'s rule, whose condition holds, if its scopes let it apply.
    #[inline]
    fn report<'r>(
        &self,
        entry: &RuleEntry,
        ctx: &Ctx<'r>,
        root: Obj<'r>,
        hit: &mut impl FnMut(Hit),
    ) {
        let applies = entry.unscoped || {
            let policy = &self.program.policies[entry.policy as usize];
            scope::applies(self, entry.policy as usize, policy, ctx, root)
        };
        if applies {
            hit(Hit {
                rule: entry.rule,
                policy: entry.policy,
            });
        }
    }

    /// This matcher's per-image memo (see [`crate::runtime::image_any`]): its own, on
    /// every thread, so other matchers never evict its entries.
    pub fn image_memo(&self) -> &ImageMemo {
        &self.memo
    }

    /// Forgets every remembered per-image result, on every thread: the next evaluation is
    /// a first pass, as over fresh records (benches measure it this way).
    pub fn clear_memo(&self) {
        self.memo.clear();
        self.bindings.clear();
    }

    /// The rules of `root`'s kind that may fire on it, from the guard index: bit `i` is the
    /// `i`-th rule of that kind in program order (counting only rules of enabled policies
    /// unless `include_disabled`); `None` when the index cannot tell (every rule may).
    /// Generated code uses it to skip rules (see [`crate::codegen`]).
    #[inline]
    pub fn candidates<'r>(
        &self,
        root: Obj<'r>,
        ctx: &Ctx<'r>,
        include_disabled: bool,
    ) -> Option<u128> {
        let kind = root_of(root)?;
        let rules = if include_disabled {
            &self.by_root[root_index(kind)]
        } else {
            &self.enabled_by_root[root_index(kind)]
        };
        rules.candidates(root, ctx)
    }

    /// Whether regex `index` of the program matches `text` (false for an index out of
    /// range). For generated evaluators, see [`crate::codegen`].
    #[inline]
    pub fn regex_matches(&self, index: u32, text: &str) -> bool {
        self.closures
            .regexes
            .get(index as usize)
            .is_some_and(|r| r.is_match(text))
    }

    /// Whether glob `index` of the program matches `text` (false out of range).
    #[inline]
    pub fn glob_matches(&self, index: u32, text: &str) -> bool {
        self.closures
            .globs
            .get(index as usize)
            .is_some_and(|g| g.is_match(text))
    }

    /// Whether string set `index` of the program holds `text` (false out of range).
    #[inline]
    pub fn set_contains(&self, index: u32, text: &str) -> bool {
        self.closures
            .sets
            .get(index as usize)
            .is_some_and(|s| s.contains(text))
    }

    /// Calls `hit` for rule `rule` of policy `policy`, whose condition holds on `root`,
    /// if the policy's scopes and exclusions let it apply (as [`Matcher::evaluate`] does).
    #[inline(never)]
    pub fn report_scoped<'r>(
        &self,
        rule: u32,
        policy: u32,
        ctx: &Ctx<'r>,
        root: Obj<'r>,
        hit: &mut impl FnMut(Hit),
    ) {
        let Some(info) = self.program.policies.get(policy as usize) else {
            return;
        };
        if scope::applies(self, policy as usize, info, ctx, root) {
            hit(Hit { rule, policy });
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
        self.node(rule.entry, &mut slots, ctx)
    }

    /// Whether the named policy's scopes and exclusions let it apply to this record
    /// (exclusions expire on the context's clock).
    pub fn applies<'r>(&self, policy: &str, ctx: &Ctx<'r>, root: Obj<'r>) -> bool {
        self.program
            .policies
            .iter()
            .enumerate()
            .find(|(_, p)| p.name == policy)
            .is_some_and(|(i, p)| scope::applies(self, i, p, ctx, root))
    }

    pub(crate) fn rule_selected(&self, rule: &RuleInfo, opts: &EvalOptions) -> bool {
        let policy = &self.program.policies[rule.policy as usize];
        (opts.include_disabled || !policy.disabled)
            && opts.stage.is_none_or(|s| rule.root.stage() == s)
    }

    /// Evaluates one node with the given bindings.
    #[inline]
    pub(crate) fn node<'r>(&self, id: NodeId, slots: &mut [Obj<'r>], ctx: &Ctx<'r>) -> Tri {
        (self.closures.conds[id as usize])(slots, ctx)
    }

    /// The value test `t` reads under the given bindings (for explanations).
    pub(crate) fn test_value<'r>(&self, t: u32, slots: &mut [Obj<'r>], ctx: &Ctx<'r>) -> Val<'r> {
        (self.closures.readers[t as usize])(slots, ctx)
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
        .collect::<Result<_, _>>()?;
    let limit = palisade_lang::hir::REGEX_SIZE_LIMIT;
    if let [one] = sources.as_slice() {
        // A search may match anywhere: only whole-string patterns have fixed ends.
        let affixes = if spec.search {
            crate::affixes::Affixes::default()
        } else {
            crate::affixes::Affixes::of(one)
        };
        regex::RegexBuilder::new(one)
            .size_limit(limit)
            .build()
            .map(|r| CompiledRegex::One(r, affixes))
            .map_err(|e| e.to_string())
    } else {
        regex::RegexSetBuilder::new(&sources)
            .size_limit(limit * sources.len().max(1))
            .build()
            .map(CompiledRegex::Set)
            .map_err(|e| e.to_string())
    }
}
