//! Violations as the CLI's JSON reports them, with messages rendered from the bindings
//! that made a rule fire.

use crate::Dataset;
use crate::bindings_memo::Found;
use crate::ir::{MAX_SLOTS, MsgPart, Node, NodeId, RuleInfo};
use crate::matcher::{EvalOptions, Matcher, Tri, root_of};
use crate::value::{self, Ctx, Obj, Val};
use palisade_lang::hir::ENFORCEMENT_ACTIONS;
use palisade_lang::hir::Severity;
use palisade_lang::schema::{Stage, Subject};
use serde::Serialize;
use std::cell::Cell;
use std::hash::BuildHasher;
use std::sync::Arc;

/// Most binding combinations rendered into messages for one violation.
pub const MAX_MESSAGES: usize = 1000;

/// The record a violation belongs to.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RecordId {
    /// Record kind.
    pub kind: String,
    /// Record id.
    pub id: String,
    /// Deployment name, image full name, process name, event resource or flow source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Namespace, where the record has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The input the record was read from, when the host named it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The line where the record's object starts in that input (Kubernetes manifests).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

impl RecordId {
    /// Sets where the record was read from (an empty file name is no name).
    pub fn locate(&mut self, file: &str, line: Option<u32>) {
        if !file.is_empty() {
            self.file = Some(file.to_string());
            self.line = line;
        }
    }
}

/// One step of an explanation: a condition, the value it saw, and its outcome.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ExplainStep {
    /// The condition as written.
    pub condition: String,
    /// The value the record held.
    pub value: String,
    /// `true`, `false` or `unknown`.
    pub result: String,
    /// Which of the violation's messages (the matching objects) the step explains.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<usize>,
    /// What else decided the value (for `process.outside_baseline`: the baseline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One (policy, record) pair that violates.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Violation {
    /// Policy name.
    pub policy: String,
    /// Policy severity.
    pub severity: Severity,
    /// The stage the record was evaluated in.
    pub lifecycle: Stage,
    /// The record.
    pub record: RecordId,
    /// One message per matching sub-context.
    pub messages: Vec<String>,
    /// Enforcement actions of the policy for this stage.
    pub enforcement: Vec<String>,
    /// SOC 2 criteria the policy evidences.
    pub soc2: Vec<String>,
    /// Which conditions matched with which values (with `--explain`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<Vec<ExplainStep>>,
}

/// A policy that did not fire on a record, with the first condition that failed.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct NotFired {
    /// Policy name.
    pub policy: String,
    /// The record.
    pub record: RecordId,
    /// The first failing condition.
    pub failed: Option<ExplainStep>,
}

/// A violation that an exclusion suppressed: the policy's condition holds on the record,
/// which is in its scope, but an unexpired exclusion excludes it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Excepted {
    /// The violation the policy would have reported.
    pub violation: Violation,
    /// The exclusion's reason.
    pub reason: String,
    /// Unix seconds after which the exclusion no longer applies.
    pub expires: Option<i64>,
}

/// Identifies a root record for reports.
pub fn record_id(root: Obj<'_>) -> RecordId {
    let (kind, id, name, namespace) = match root {
        Obj::Deployment(d) => (
            "deployment",
            d.id.clone(),
            Some(d.name.clone()),
            d.namespace.clone(),
        ),
        Obj::Image(i) => (
            "image",
            i.id.clone()
                .or_else(|| i.full_name().map(str::to_string))
                .unwrap_or_default(),
            i.full_name().map(str::to_string),
            None,
        ),
        Obj::Process(p) => ("process", p.id.clone(), p.name.clone(), p.namespace.clone()),
        Obj::Event(e) => (
            "kube_event",
            e.id.clone(),
            e.resource.clone(),
            e.namespace.clone(),
        ),
        Obj::Flow(f) => (
            "network_flow",
            f.id.clone(),
            f.source.as_ref().and_then(|s| s.name.clone()),
            f.source.as_ref().and_then(|s| s.namespace.clone()),
        ),
        _ => ("unknown", String::new(), None, None),
    };
    RecordId {
        kind: kind.into(),
        id,
        name,
        namespace,
        file: None,
        line: None,
    }
}

impl Matcher {
    /// Evaluates one record and returns its violations (and, with `explain`, the
    /// first failing condition of every applicable policy that did not fire).
    pub fn check<'r>(
        &self,
        ds: &'r Dataset,
        root: Obj<'r>,
        opts: &EvalOptions,
        explain: bool,
    ) -> Result<(Vec<Violation>, Vec<NotFired>), crate::matcher::LimitError> {
        // Explanations name a process's baseline: the joins, whether rules read them or not.
        let ctx = if explain {
            Ctx::new(ds, root, opts.now)
        } else {
            self.context(ds, root, opts.now)
        };
        let mut violations = Vec::new();
        let mut fired = Vec::new();
        // One buffer renders every message of this record (only new messages are copied out).
        let mut rendered = String::new();
        self.evaluate(&ctx, root, opts, |hit| {
            // Only explanations ask which rules did not fire.
            if explain {
                fired.push(hit.rule);
            }
            violations.push(self.violation(
                hit.rule,
                root,
                &ctx,
                explain,
                Holds::Known,
                &mut rendered,
            ));
        })?;
        let mut not_fired = Vec::new();
        if explain && let Some(kind) = root_of(root) {
            for (ri, rule) in self.program.rules.iter().enumerate() {
                if rule.root != kind
                    || fired.contains(&(ri as u32))
                    || !self.rule_selected(rule, opts)
                {
                    continue;
                }
                let policy = &self.program.policies[rule.policy as usize];
                if !crate::scope::applies(self, rule.policy as usize, policy, &ctx, root) {
                    continue;
                }
                let mut slots = [Obj::None; MAX_SLOTS];
                slots[0] = root;
                not_fired.push(NotFired {
                    policy: policy.name.clone(),
                    record: record_id(root),
                    failed: self.first_failure(rule, rule.entry, &mut slots, &ctx),
                });
            }
        }
        if crate::matcher::exhausted() {
            return Err(crate::matcher::LimitError);
        }
        Ok((violations, not_fired))
    }

    /// The violations that exclusions suppressed on this record, each with the exclusion's
    /// reason and expiry (evidence of exceptions). Only policies with exclusions are
    /// evaluated, so most policy sets pay nothing.
    pub fn excepted<'r>(
        &self,
        ds: &'r Dataset,
        root: Obj<'r>,
        opts: &EvalOptions,
    ) -> Result<Vec<Excepted>, crate::matcher::LimitError> {
        let Some(kind) = root_of(root) else {
            return Ok(Vec::new());
        };
        let ctx = Ctx::new(ds, root, opts.now);
        crate::matcher::reset_budget();
        let mut out = Vec::new();
        for (ri, rule) in self.program.rules.iter().enumerate() {
            let policy = &self.program.policies[rule.policy as usize];
            if rule.root != kind || policy.exclusions.is_empty() || !self.rule_selected(rule, opts)
            {
                continue;
            }
            // The condition first: most records fire nothing, and scopes cost regex matches.
            let mut slots = [Obj::None; MAX_SLOTS];
            slots[0] = root;
            if self.node(rule.entry, &mut slots, &ctx) != Tri::True {
                continue;
            }
            let crate::scope::Standing::Excluded(i) =
                crate::scope::standing(self, policy, &ctx, root)
            else {
                continue;
            };
            if let Some(exclusion) = policy.exclusions.get(i) {
                out.push(Excepted {
                    violation: self.violation(
                        ri as u32,
                        root,
                        &ctx,
                        false,
                        Holds::Known,
                        &mut String::new(),
                    ),
                    reason: exclusion.reason.clone(),
                    expires: exclusion.until,
                });
            }
        }
        if crate::matcher::exhausted() {
            return Err(crate::matcher::LimitError);
        }
        Ok(out)
    }

    /// The violation a [`Hit`](crate::matcher::Hit) of [`Matcher::evaluate`] (or of a
    /// [`PolicySet`](crate::PolicySet) of this matcher's program) stands for: policy,
    /// messages and, with `explain`, the conditions that matched. `None` for a hit this
    /// program cannot have given. The rule's condition is evaluated again (the hit is not
    /// taken on trust): a hit whose condition does not hold gets no messages.
    pub fn violation_of<'r>(
        &self,
        hit: crate::matcher::Hit,
        root: Obj<'r>,
        ctx: &Ctx<'r>,
        explain: bool,
    ) -> Option<Violation> {
        let rule = self.program.rules.get(hit.rule as usize)?;
        (rule.policy == hit.policy && root_of(root) == Some(rule.root)).then(|| {
            // The caller's hit is not taken on trust: the condition is evaluated again.
            self.violation(
                hit.rule,
                root,
                ctx,
                explain,
                Holds::Unknown,
                &mut String::new(),
            )
        })
    }

    /// The violation of rule `rule_index` on `root`, its messages rendered in `rendered`
    /// (a buffer reused across calls).
    fn violation<'r>(
        &self,
        rule_index: u32,
        root: Obj<'r>,
        ctx: &Ctx<'r>,
        explain: bool,
        holds: Holds,
        rendered: &mut String,
    ) -> Violation {
        let rule = &self.program.rules[rule_index as usize];
        let policy = &self.program.policies[rule.policy as usize];
        let stage = rule.root.stage();
        let mut messages: Vec<String> = Vec::new();
        // The messages' hashes, once there are two: a new message is looked up by hash, and
        // compared with the others only when its hash was seen (a violation may list up to
        // `MAX_MESSAGES`, one per vulnerability).
        let mut hashes = SeenHashes::default();
        // The first combination of objects behind each message, to explain it.
        let mut combinations: Vec<([Obj<'r>; MAX_SLOTS], u64)> = Vec::new();
        let budget = Cell::new(MAX_MESSAGES);
        let mut slots = [Obj::None; MAX_SLOTS];
        slots[0] = root;
        // Most messages fit: the buffer grows once, not byte by byte.
        rendered.clear();
        rendered.reserve(256);
        // Each combination is rendered in `rendered`; only a new message is copied out (at
        // its size).
        let mut yielded = |s: &mut [Obj<'r>], bound: u64| {
            self.render_into(rendered, rule, &policy.name, s, bound, ctx);
            let new = match messages.first() {
                None => true,
                Some(first) => {
                    if hashes.is_empty() {
                        hashes.insert(rustc_hash::FxBuildHasher.hash_one(first.as_str()));
                    }
                    hashes.insert(rustc_hash::FxBuildHasher.hash_one(rendered.as_str()))
                        || !messages.contains(rendered)
                }
            };
            if new {
                messages.push(rendered.clone());
                if explain && combinations.len() < MAX_EXPLAINED_MESSAGES {
                    let mut copy = [Obj::None; MAX_SLOTS];
                    let n = s.len().min(MAX_SLOTS);
                    copy[..n].copy_from_slice(&s[..n]);
                    combinations.push((copy, bound));
                }
            }
        };
        // A condition that binds nothing yields the root once; when the caller has just
        // seen it hold, it is not evaluated again.
        if holds == Holds::Known
            && self.closures.binds_nothing.get(rule.entry as usize) == Some(&true)
        {
            budget.set(budget.get() - 1);
            yielded(&mut slots, 1);
        } else {
            self.enumerate(rule, rule.entry, &mut slots, 1, ctx, &budget, &mut yielded);
        }
        let explain = explain.then(|| {
            let mut steps = Vec::new();
            for (index, (mut s, bound)) in combinations.into_iter().enumerate() {
                let mut these = Vec::new();
                self.explain_match(rule, rule.entry, &mut s, bound, ctx, &mut these);
                steps.extend(these.into_iter().map(|step| ExplainStep {
                    message: Some(index),
                    ..step
                }));
            }
            steps
        });
        Violation {
            policy: policy.name.clone(),
            severity: policy.severity,
            lifecycle: stage,
            record: record_id(root),
            messages,
            enforcement: policy
                .enforcement
                .iter()
                .filter(|a| {
                    ENFORCEMENT_ACTIONS
                        .iter()
                        .any(|(n, s)| n == a && *s == stage)
                })
                .cloned()
                .collect(),
            soc2: policy.soc2.clone(),
            explain,
        }
    }

    /// Calls `k` with every combination of bindings (up to the budget) under which `id` is true.
    #[allow(
        clippy::too_many_arguments,
        reason = "the recursion threads the evaluation state explicitly"
    )]
    fn enumerate<'r>(
        &self,
        rule: &RuleInfo,
        id: NodeId,
        slots: &mut [Obj<'r>],
        bound: u64,
        ctx: &Ctx<'r>,
        budget: &Cell<usize>,
        k: &mut dyn FnMut(&mut [Obj<'r>], u64),
    ) {
        if budget.get() == 0 {
            return;
        }
        let node = self.program.nodes[id as usize];
        // A part that binds nothing holds under the bindings given, once (its parts would
        // yield the same bindings again).
        if self.closures.binds_nothing.get(id as usize) == Some(&true) {
            if self.node(id, slots, ctx) == Tri::True {
                budget.set(budget.get() - 1);
                k(slots, bound);
            }
            return;
        }
        // `any` and `or` yield only what their parts yield, each part tested on its own:
        // testing the whole first would evaluate it twice, unless the result is memoised.
        let test_whole = match node {
            Node::Any { .. } => {
                matches!(self.closures.memo_ordinals.get(id as usize), Some(Some(_)))
            }
            Node::Or { .. } => false,
            _ => true,
        };
        if test_whole && self.node(id, slots, ctx) != Tri::True {
            return;
        }
        match node {
            Node::Any { slot, body } => {
                let children = if self.closures.needs_vulns.get(id as usize) == Some(&true) {
                    rule.slots[slot as usize].source.and_then(|(parent, _)| {
                        value::components_with_vulns(slots[parent as usize], ctx)
                    })
                } else {
                    self.children(rule, slot, slots, ctx)
                };
                let Some(children) = children else {
                    return;
                };
                // `any` over a container's image whose body reads only the image: what the
                // body yields under an image is found once and replayed.
                let per_image =
                    matches!(self.closures.memo_ordinals.get(id as usize), Some(Some(_)));
                let bound = bound | (1 << slot);
                for child in children {
                    slots[slot as usize] = child;
                    let found = per_image
                        .then(|| self.found_under_image(rule, id, body, child, slots, bound, ctx))
                        .flatten();
                    match found {
                        Some(found) => self.replay(rule, &found, slots, bound, ctx, budget, k),
                        None => self.enumerate(rule, body, slots, bound, ctx, budget, k),
                    }
                }
            }
            Node::Or { first, len } => {
                for kid in &self.program.kids[first as usize..(first + len) as usize] {
                    self.enumerate(rule, *kid, slots, bound, ctx, budget, k);
                }
            }
            Node::And { first, len } => {
                let kids = &self.program.kids[first as usize..(first + len) as usize];
                self.and_from(rule, kids, slots, bound, ctx, budget, k);
            }
            _ => {
                budget.set(budget.get() - 1);
                k(slots, bound);
            }
        }
    }

    /// What the body of `any` node `id` over a container's image yields under `image`:
    /// remembered per image record (see [`crate::bindings_memo`]), else found by walking
    /// the body once. `None` when it cannot be kept (an inline image, a dataset changed
    /// since [`Dataset::finish`], more combinations than the message budget): the caller
    /// walks the body itself.
    #[allow(
        clippy::too_many_arguments,
        reason = "the walk threads the evaluation state explicitly"
    )]
    fn found_under_image<'r>(
        &self,
        rule: &RuleInfo,
        id: NodeId,
        body: NodeId,
        image: Obj<'r>,
        slots: &mut [Obj<'r>],
        bound: u64,
        ctx: &Ctx<'r>,
    ) -> Option<Arc<Found>> {
        let Obj::Image(record) = image else {
            return None;
        };
        let place = crate::bindings_memo::Place {
            image: ctx.dataset.image_index(record)?,
            ordinal: self
                .closures
                .memo_ordinals
                .get(id as usize)
                .copied()
                .flatten()?,
            width: self.closures.memo_width,
        };
        let generation = ctx.dataset.generation;
        if let Some(kept) = self.bindings.get(place, generation, ctx.now) {
            return kept;
        }
        let found = self.walk_image(rule, body, slots, bound, ctx).map(Arc::new);
        // A walk cut short by the step budget found too little: never kept.
        if crate::matcher::exhausted() {
            return None;
        }
        self.bindings.set(place, generation, ctx.now, found.clone());
        found
    }

    /// Walks `body` under the image bound in `slots` and keeps what it yields, with the
    /// message budget it spends, as places in the image's lists.
    fn walk_image<'r>(
        &self,
        rule: &RuleInfo,
        body: NodeId,
        slots: &mut [Obj<'r>],
        bound: u64,
        ctx: &Ctx<'r>,
    ) -> Option<Found> {
        let mut body_slots = Vec::new();
        binding_slots(
            &self.program.nodes,
            &self.program.kids,
            body,
            &mut body_slots,
        );
        body_slots.sort_unstable();
        body_slots.dedup();
        if body_slots.len() > 32 {
            return None;
        }
        // Each slot's objects come from an object bound before it: the image or a slot
        // of the body that comes earlier (replays rebuild them in this order).
        let mut sources = Vec::with_capacity(body_slots.len());
        for (i, &slot) in body_slots.iter().enumerate() {
            let (parent, link) = rule.slots.get(slot as usize)?.source?;
            let earlier = bound & (1 << parent) != 0 || body_slots[..i].contains(&parent);
            if !earlier {
                return None;
            }
            sources.push((parent as usize, link));
        }
        let local = Cell::new(MAX_MESSAGES);
        let mut last = MAX_MESSAGES;
        let mut words = Vec::new();
        let mut placed = true;
        self.enumerate(rule, body, slots, bound, ctx, &local, &mut |s, b| {
            words.push((last - local.get()) as u32);
            last = local.get();
            let mask_at = words.len();
            words.push(0);
            let mut mask = 0u32;
            for (i, (&slot, &(parent, link))) in body_slots.iter().zip(&sources).enumerate() {
                let at = (b & (1 << slot) != 0)
                    .then(|| value::position_of(s[parent], link, s[slot as usize], ctx));
                match at {
                    Some(Some(at)) => {
                        mask |= 1 << i;
                        words.push(at);
                    }
                    Some(None) => {
                        placed = false;
                        words.push(u32::MAX);
                    }
                    None => words.push(u32::MAX),
                }
            }
            words[mask_at] = mask;
        });
        // A walk that spent the whole budget may have been cut short.
        if !placed || local.get() == 0 {
            return None;
        }
        Some(Found {
            slots: body_slots.into(),
            words: words.into(),
            trailing: (last - local.get()) as u32,
        })
    }

    /// Yields what [`Matcher::walk_image`] found, spending the message budget as the walk
    /// did: a combination the walk reached only after the budget ran out is not yielded.
    #[allow(
        clippy::too_many_arguments,
        reason = "the replay threads the evaluation state explicitly"
    )]
    fn replay<'r>(
        &self,
        rule: &RuleInfo,
        found: &Found,
        slots: &mut [Obj<'r>],
        bound: u64,
        ctx: &Ctx<'r>,
        budget: &Cell<usize>,
        k: &mut dyn FnMut(&mut [Obj<'r>], u64),
    ) {
        for combination in found.combinations() {
            let [spent, mask, places @ ..] = combination else {
                return;
            };
            let spent = *spent as usize;
            if budget.get() < spent {
                budget.set(0);
                return;
            }
            budget.set(budget.get() - spent);
            let mut bits = bound;
            for (i, (&slot, &at)) in found.slots.iter().zip(places).enumerate() {
                if mask & (1 << i) == 0 {
                    continue;
                }
                let child = rule.slots[slot as usize].source.and_then(|(parent, link)| {
                    value::child_at(slots[parent as usize], link, at, ctx)
                });
                // Only records changed after `Dataset::finish` without calling it again
                // lack the object the walk found (see docs/embedding.md).
                let Some(child) = child else {
                    return;
                };
                slots[slot as usize] = child;
                bits |= 1 << slot;
            }
            k(slots, bits);
        }
        budget.set(budget.get().saturating_sub(found.trailing as usize));
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "the recursion threads the evaluation state explicitly"
    )]
    fn and_from<'r>(
        &self,
        rule: &RuleInfo,
        kids: &[NodeId],
        slots: &mut [Obj<'r>],
        bound: u64,
        ctx: &Ctx<'r>,
        budget: &Cell<usize>,
        k: &mut dyn FnMut(&mut [Obj<'r>], u64),
    ) {
        match kids.split_first() {
            None => {
                if budget.get() > 0 {
                    budget.set(budget.get() - 1);
                    k(slots, bound);
                }
            }
            Some((first, rest)) => {
                self.enumerate(rule, *first, slots, bound, ctx, budget, &mut |s, b| {
                    self.and_from(rule, rest, s, b, ctx, budget, k)
                });
            }
        }
    }

    /// Writes the message of one combination of bindings into `out` (emptied first).
    #[allow(
        clippy::too_many_arguments,
        reason = "the message reads the rule, its bindings and the context"
    )]
    fn render_into<'r>(
        &self,
        out: &mut String,
        rule: &RuleInfo,
        policy: &str,
        slots: &[Obj<'r>],
        bound: u64,
        ctx: &Ctx<'r>,
    ) {
        out.clear();
        if let Some(parts) = &rule.message {
            for part in parts {
                if out.len() > MAX_MESSAGE_BYTES {
                    break;
                }
                match part {
                    MsgPart::Text(t) => out.push_str(t),
                    MsgPart::Field(slot, field) if bound & (1 << slot) != 0 => {
                        value::display_into(out, value::field(slots[*slot as usize], *field, ctx));
                    }
                    MsgPart::Field(..) => out.push('-'),
                }
            }
            return cap(out);
        }
        // "<policy>: <subject> '<identity>', ..." for each bound object, else the root.
        out.push_str(policy);
        out.push_str(": ");
        let mut described = false;
        for (i, info) in rule.slots.iter().enumerate().skip(1) {
            if bound & (1 << i) == 0 {
                continue;
            }
            if described {
                out.push_str(", ");
            }
            describe_into(out, info.subject, slots[i], ctx);
            described = true;
        }
        if !described {
            describe_into(out, rule.slots[0].subject, slots[0], ctx);
        }
        cap(out)
    }
}

/// The slots the `any` nodes of `id` bind, as [`Matcher::enumerate`] reaches them
/// (through `and`, `or` and `any`).
fn binding_slots(nodes: &[Node], kids: &[NodeId], id: NodeId, out: &mut Vec<u16>) {
    match nodes[id as usize] {
        Node::And { first, len } | Node::Or { first, len } => {
            for kid in &kids[first as usize..(first + len) as usize] {
                binding_slots(nodes, kids, *kid, out);
            }
        }
        Node::Any { slot, body } => {
            out.push(slot);
            binding_slots(nodes, kids, body, out);
        }
        _ => {}
    }
}

/// Whether a rule's condition is known to hold on the record whose violation is built.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Holds {
    /// The caller has just evaluated it, and it held.
    Known,
    /// The caller says so, unchecked: it is evaluated again.
    Unknown,
}

/// Messages of one violation explained (each with the conditions that held for it).
const MAX_EXPLAINED_MESSAGES: usize = 16;

/// Longest violation message, in bytes: a template of many placeholders over large values
/// would otherwise render (and allocate) without bound.
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// Cuts `message` to [`MAX_MESSAGE_BYTES`] on a character boundary, marked when cut.
fn cap(message: &mut String) {
    if message.len() > MAX_MESSAGE_BYTES {
        let mut end = MAX_MESSAGE_BYTES;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push_str(&format!("... (message cut at {MAX_MESSAGE_BYTES} bytes)"));
    }
}

/// Writes how a message names object `o`: `key=value` for a map entry, `'element'` for a
/// list element, else `<subject> '<identity>'`.
fn describe_into(out: &mut String, subject: Subject, o: Obj<'_>, ctx: &Ctx<'_>) {
    match (subject, o) {
        (Subject::Entry, Obj::Entry(k, v)) => {
            out.push_str(k);
            out.push('=');
            out.push_str(v);
        }
        (Subject::Element, Obj::Element(e)) => {
            out.push('\'');
            out.push_str(e);
            out.push('\'');
        }
        _ => {
            let value = subject
                .identity_field()
                .map(|f| value::field(o, f, ctx))
                .unwrap_or(Val::Missing);
            out.push_str(subject.name());
            out.push_str(" '");
            value::display_into(out, value);
            out.push('\'');
        }
    }
}

/// Hashes seen, as a set: a short list scanned in place (most violations have a few
/// messages, and a hash set allocates and rehashes as it grows), a hash set past it.
#[derive(Default)]
struct SeenHashes {
    /// The first [`SEEN_INLINE`] hashes.
    few: smallvec::SmallVec<[u64; SEEN_INLINE]>,
    /// Every hash, once there are more than [`SEEN_INLINE`].
    many: rustc_hash::FxHashSet<u64>,
}

/// Hashes [`SeenHashes`] scans in place before it builds a set.
const SEEN_INLINE: usize = 16;

impl SeenHashes {
    /// Whether nothing was inserted.
    fn is_empty(&self) -> bool {
        self.few.is_empty()
    }

    /// Inserts `hash`; true when it was not there.
    fn insert(&mut self, hash: u64) -> bool {
        if self.few.len() < SEEN_INLINE {
            if self.few.contains(&hash) {
                return false;
            }
            self.few.push(hash);
            return true;
        }
        if self.many.is_empty() {
            self.many.extend(self.few.iter().copied());
        }
        self.many.insert(hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_hashes_is_a_set_below_and_past_the_inline_list() {
        let mut seen = SeenHashes::default();
        assert!(seen.is_empty());
        // Three rounds over 40 hashes: past the inline list, and every one seen again.
        let hashes: Vec<u64> = (0..40u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        for (i, &h) in hashes.iter().enumerate() {
            assert!(seen.insert(h), "hash {i} is new");
            assert!(!seen.insert(h), "hash {i} was just inserted");
        }
        for (i, &h) in hashes.iter().enumerate() {
            assert!(!seen.insert(h), "hash {i} was inserted before");
        }
        assert!(!seen.is_empty());
        assert!(seen.insert(1), "a hash never inserted is new");
    }
}
