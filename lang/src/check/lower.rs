//! Conditions: name resolution, typing, and making every quantifier explicit.
//!
//! A subject named without a quantifier (`container.privileged`) is bound implicitly:
//! every use of the same name in one `when` is the same object, and the "there is one"
//! quantifier is placed at the smallest sub-condition holding all its uses, never under
//! a `not`. Explicit quantifiers (`any`, `every`, `no`, `count`) range over all objects
//! reachable from the nearest explicitly bound ancestor (or the record).

use super::Globals;
use crate::ast::{self, Binder, Quant, Step};
use crate::diag::Diagnostic;
use crate::hir::{self, Binding, BindingId, Cond, Operand, Rule, Template, TemplatePart, Test};
use crate::schema::{self, FieldId, Link, Root, Stage, Subject, Ty};
use crate::span::Span;
use std::collections::{BTreeSet, HashSet};

struct Info {
    frame: usize,
    implicit: bool,
}

pub(super) struct Lowerer<'a, 'd> {
    pub(super) g: &'a Globals<'a>,
    pub(super) file: usize,
    pub(super) text: &'a str,
    pub(super) root: Root,
    pub(super) diags: &'d mut Vec<Diagnostic>,
    pub(super) bindings: Vec<Binding>,
    info: Vec<Info>,
    frames: Vec<usize>,
    next_frame: usize,
    macro_stack: Vec<String>,
    /// Junctions, `not`s, quantifiers and macro uses around the condition being lowered.
    depth: usize,
    /// The set-wide count of lowered conditions when this rule began (its own count is
    /// the difference).
    rule_start: usize,
    /// Set once a size or depth limit stopped lowering (its error is already reported).
    limit_reached: bool,
    /// The file and span of the rule's whole condition, where a size error points.
    rule_site: (usize, Span),
}

/// Most conditions (tests, junctions, quantifiers) one policy may have once its macros are
/// expanded: a macro used twice in a macro used twice ... doubles per level, so a few
/// hundred bytes of policy could otherwise expand to gigabytes.
pub const MAX_EXPANDED_CONDITIONS: usize = 10_000;

/// Most conditions a whole policy set may have once macros are expanded (the library has
/// a few thousand): many policies each just under [`MAX_EXPANDED_CONDITIONS`] must not
/// add up to gigabytes either (a reloaded file is compiled inside the server).
pub const MAX_SET_CONDITIONS: usize = 1_000_000;

/// The record kinds a policy of `stage` is evaluated on.
pub(super) fn root_candidates(
    stage: Stage,
    when: &ast::Expr,
    g: &Globals,
    file: usize,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Root> {
    match stage {
        Stage::Build => vec![Root::Image],
        Stage::Deploy => vec![Root::Deployment],
        Stage::Runtime => {
            let mut names = HashSet::new();
            let mut visited = HashSet::new();
            collect_names(when, g, &mut names, &mut visited, 0);
            let roots: Vec<Root> = [
                (Subject::Process, Root::Process),
                (Subject::Event, Root::KubeEvent),
                (Subject::Flow, Root::NetworkFlow),
            ]
            .into_iter()
            .filter(|(s, _)| names.contains(s.name()))
            .map(|(_, r)| r)
            .collect();
            if roots.is_empty() {
                diags.push(Diagnostic::error(file, when.span(), "a runtime policy must test a `process`, an `event` or a `flow`", "no runtime event tested")
                    .with_help("for example `process.name in shells`, or remove `runtime` from `lifecycle`"));
            } else if roots.len() > 1 {
                diags.push(
                    Diagnostic::error(
                        file,
                        when.span(),
                        "a runtime policy tests one kind of event (`process`, `event` or `flow`)",
                        "several event kinds tested",
                    )
                    .with_help("split it into one policy per event kind"),
                );
                return Vec::new();
            }
            roots
        }
    }
}

/// The names `e` uses, through macros up to `MAX_DEPTH` deep (deeper chains are refused by
/// lowering, which reports them; here they only must not exhaust the stack).
fn collect_names<'a>(
    e: &'a ast::Expr,
    g: &'a Globals,
    names: &mut HashSet<String>,
    visited: &mut HashSet<&'a str>,
    macro_depth: usize,
) {
    let path = |p: &ast::Path, names: &mut HashSet<String>, visited: &mut HashSet<&'a str>| {
        names.insert(p.root.node.clone());
        if let Some((m, _)) = g.macros.get(&p.root.node)
            && macro_depth < crate::syntax::MAX_DEPTH
            && visited.insert(m.name.node.as_str())
        {
            collect_names(&m.body, g, names, visited, macro_depth + 1);
        }
    };
    let binder = |b: &ast::Binder, names: &mut HashSet<String>| match b {
        Binder::Subject { subject, .. } => {
            names.insert(subject.node.clone());
        }
        Binder::Elements { path, .. } => {
            names.insert(path.root.node.clone());
        }
    };
    match e {
        ast::Expr::Or(es, _) | ast::Expr::And(es, _) => es
            .iter()
            .for_each(|x| collect_names(x, g, names, visited, macro_depth)),
        ast::Expr::Not(x, _) => collect_names(x, g, names, visited, macro_depth),
        ast::Expr::Quant {
            binder: b, body, ..
        } => {
            binder(b, names);
            collect_names(body, g, names, visited, macro_depth);
        }
        ast::Expr::Has(p, _) => path(p, names, visited),
        ast::Expr::Test { operand, .. } => match operand {
            ast::Operand::Path(p) | ast::Operand::DaysSince(p, _) => path(p, names, visited),
            ast::Operand::Count {
                binder: b, filter, ..
            } => {
                binder(b, names);
                if let Some(f) = filter {
                    collect_names(f, g, names, visited, macro_depth);
                }
            }
        },
    }
}

/// Checks that a regex compiles as the engines will compile it.
pub(super) fn validate_regex(
    g: &Globals,
    pattern: &str,
    search: bool,
    span: Span,
    file: usize,
    diags: &mut Vec<Diagnostic>,
) -> Option<()> {
    if pattern.is_empty() {
        diags.push(
            Diagnostic::error(file, span, "empty regex", "matches nothing useful")
                .with_help("write `/.*/` to match anything"),
        );
        return None;
    }
    // The set's regexes are costed before each is built, as loading a bundle does: a file
    // of thousands of heavy patterns is refused, not built one by one.
    // (A pattern over the whole budget alone is left to the build, which stops at the size
    // limit of one regex and says so about that pattern.)
    let cost = hir::regex_cost(pattern, search);
    let total = g.regex_cost.get().saturating_add(cost);
    if cost <= hir::MAX_TOTAL_REGEX_COST {
        g.regex_cost.set(total);
    }
    if cost <= hir::MAX_TOTAL_REGEX_COST && total > hir::MAX_TOTAL_REGEX_COST {
        if !g.regex_budget_reported.replace(true) {
            diags.push(
                Diagnostic::error(
                    file,
                    span,
                    format!(
                        "the policies' regexes together are too large to build (estimated cost over {})",
                        hir::MAX_TOTAL_REGEX_COST
                    ),
                    "budget reached here",
                )
                .with_help("use fewer or simpler regexes (counted repetitions and classes such as `\\w` cost the most)"),
            );
        }
        return None;
    }
    // Literal alternatives are valid whichever way they are matched, and tiny: no need to
    // build a regex to know (most patterns of a policy library are such).
    if crate::literal::LiteralPattern::parse(pattern).is_some() {
        return Some(());
    }
    let built = hir::regex_source(pattern, search).and_then(|source| {
        regex::RegexBuilder::new(&source)
            .size_limit(hir::REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| e.to_string())
    });
    match built {
        Ok(_) => Some(()),
        Err(detail) => {
            let last = detail
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid regex")
                .trim()
                .to_string();
            let last = last.strip_prefix("error: ").unwrap_or(&last).to_string();
            diags.push(Diagnostic::error(file, span, format!("invalid regex `{pattern}`: {last}"), "this regex does not compile")
                .with_help("Palisade regexes use RE2 syntax (no look-around or back-references), case-insensitive, matched against the whole value"));
            None
        }
    }
}

impl<'a, 'd> Lowerer<'a, 'd> {
    pub(super) fn new(
        g: &'a Globals<'a>,
        file: usize,
        text: &'a str,
        root: Root,
        diags: &'d mut Vec<Diagnostic>,
    ) -> Self {
        let subject = root.subject();
        Lowerer {
            g,
            file,
            text,
            root,
            diags,
            bindings: vec![Binding {
                name: subject.name().into(),
                subject,
                source: None,
            }],
            info: vec![Info {
                frame: 0,
                implicit: false,
            }],
            frames: vec![0],
            next_frame: 1,
            macro_stack: Vec::new(),
            depth: 0,
            rule_start: 0,
            limit_reached: false,
            rule_site: (file, Span::default()),
        }
    }

    pub(super) fn error(
        &mut self,
        span: Span,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic::error(self.file, span, message, label)
    }

    pub(super) fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    pub(super) fn lower_rule(
        &mut self,
        when: &ast::Expr,
        message: Option<&ast::Text>,
    ) -> Option<Rule> {
        self.rule_site = (self.file, when.span());
        self.rule_start = self.g.lowered.get();
        let cond = self.expr(when);
        let cond = cond.map(|c| self.place_frame(0, c));
        let message = message.and_then(|m| self.template(m));
        let cond = cond?;
        Some(Rule {
            root: self.root,
            bindings: std::mem::take(&mut self.bindings),
            cond,
            message,
        })
    }

    fn stage_name(&self) -> &'static str {
        self.root.stage().as_str()
    }

    // ---- bindings ----

    fn add_binding(
        &mut self,
        name: String,
        subject: Subject,
        source: Option<(BindingId, Link)>,
        frame: usize,
        implicit: bool,
    ) -> BindingId {
        self.bindings.push(Binding {
            name,
            subject,
            source,
        });
        self.info.push(Info { frame, implicit });
        self.bindings.len() - 1
    }

    fn frame_position(&self, b: BindingId) -> Option<usize> {
        let frame = self.info.get(b)?.frame;
        self.frames.iter().position(|f| *f == frame)
    }

    /// The innermost visible binding satisfying `pred`.
    fn innermost(&self, pred: impl Fn(BindingId, &Binding, &Info) -> bool) -> Option<BindingId> {
        let mut best: Option<(usize, BindingId)> = None;
        for (b, binding) in self.bindings.iter().enumerate() {
            let Some(pos) = self.frame_position(b) else {
                continue;
            };
            if pred(b, binding, &self.info[b]) && best.is_none_or(|(p, _)| pos >= p) {
                best = Some((pos, b));
            }
        }
        best.map(|(_, b)| b)
    }

    fn lookup_name(&self, name: &str) -> Option<BindingId> {
        self.innermost(|_, b, i| !i.implicit && b.name == name)
    }

    fn parent_binding(&mut self, subject: Subject, span: Span) -> Option<BindingId> {
        if self.root.subject() == subject {
            return Some(0);
        }
        if let Some(b) = self.innermost(|_, b, _| b.subject == subject) {
            return Some(b);
        }
        self.implicit_subject(subject, span)
    }

    fn implicit_subject(&mut self, subject: Subject, span: Span) -> Option<BindingId> {
        match schema::parent_of(self.root, subject) {
            None => Some(0),
            Some(Err(())) => {
                self.unavailable(subject, span);
                None
            }
            Some(Ok((psub, link))) => {
                let parent = self.parent_binding(psub, span)?;
                Some(self.implicit_child(parent, subject, link))
            }
        }
    }

    fn implicit_child(&mut self, parent: BindingId, subject: Subject, link: Link) -> BindingId {
        if let Some(b) = (0..self.bindings.len())
            .find(|b| self.info[*b].implicit && self.bindings[*b].source == Some((parent, link)))
        {
            return b;
        }
        let frame = self.info[parent].frame;
        self.add_binding(
            subject.name().into(),
            subject,
            Some((parent, link)),
            frame,
            true,
        )
    }

    fn unavailable(&mut self, subject: Subject, span: Span) {
        let stage = self.stage_name();
        let sees = match self.root {
            Root::Image => {
                "build policies see only the image, its layers, components and vulnerabilities"
            }
            Root::Deployment => {
                "deploy policies see the deployment, its containers and their images"
            }
            Root::Process => {
                "process policies see the process, its container, deployment and image"
            }
            Root::KubeEvent => "event policies see the Kubernetes event and its deployment",
            Root::NetworkFlow => "flow policies see the flow and its source deployment",
        };
        let d = self
            .error(
                span,
                format!(
                    "`{}` is not available in {stage}-stage policies",
                    subject.name()
                ),
                format!("no `{}` at the {stage} stage", subject.name()),
            )
            .with_help(sees);
        self.push(d);
    }

    fn open_frame(&mut self) -> usize {
        let f = self.next_frame;
        self.next_frame += 1;
        self.frames.push(f);
        f
    }

    fn close_frame(&mut self) {
        self.frames.pop();
    }

    /// Bindings for an explicit quantifier over `subject`, from the nearest explicitly bound ancestor.
    fn explicit_chain(
        &mut self,
        subject: &ast::Ident,
        alias: Option<&ast::Ident>,
        frame: usize,
    ) -> Option<Vec<BindingId>> {
        let Some(target) = Subject::parse(&subject.node) else {
            let d = self
                .error(
                    subject.span,
                    format!("unknown subject `{}`", subject.node),
                    "not a subject",
                )
                .did_you_mean(&subject.node, Subject::NAMED.iter().map(|s| s.name()))
                .with_help(format!(
                    "quantifiers range over subjects ({}) or `x in list_field`",
                    Subject::NAMED.map(|s| s.name()).join(", ")
                ));
            self.push(d);
            return None;
        };
        if target == self.root.subject() {
            let d = self
                .error(
                    subject.span,
                    format!("`{}` is the record itself", target.name()),
                    "nothing to range over",
                )
                .with_help(format!("test `{}.field` directly", target.name()));
            self.push(d);
            return None;
        }
        // Walk up to the anchor.
        let mut path: Vec<(Subject, Link)> = Vec::new();
        let mut current = target;
        let anchor = loop {
            match schema::parent_of(self.root, current) {
                None => break 0,
                Some(Err(())) => {
                    self.unavailable(current, subject.span);
                    return None;
                }
                Some(Ok((psub, link))) => {
                    path.push((current, link));
                    if psub == self.root.subject() {
                        break 0;
                    }
                    if let Some(b) = self
                        .innermost(|_, b, i| !i.implicit && b.subject == psub && i.frame != frame)
                    {
                        break b;
                    }
                    current = psub;
                }
            }
        };
        let mut chain = Vec::new();
        let mut parent = anchor;
        for (i, (sub, link)) in path.iter().rev().enumerate() {
            let name = if i + 1 == path.len() {
                alias
                    .map(|a| a.node.clone())
                    .unwrap_or_else(|| sub.name().to_string())
            } else {
                sub.name().to_string()
            };
            let b = self.add_binding(name, *sub, Some((parent, *link)), frame, false);
            chain.push(b);
            parent = b;
        }
        Some(chain)
    }

    fn elements_binding(
        &mut self,
        name: &ast::Ident,
        path: &ast::Path,
        frame: usize,
    ) -> Option<Vec<BindingId>> {
        let (operand, ty) = self.path(path, false)?;
        let Operand::Field { binding, field } = operand else {
            let d = self
                .error(path.span, "`in` needs a list or map field", "not a list")
                .with_help("for example `any cap in container.add_capabilities: ...`");
            self.push(d);
            return None;
        };
        let (subject, link) = match ty {
            Ty::StrList => (Subject::Element, Link::Elements(field)),
            Ty::Map => (Subject::Entry, Link::Entries(field)),
            other => {
                let d = self.error(path.span, format!("cannot range over `{}`: it is {}", self.text_of(path.span), other.describe()), "not a list or map")
                    .with_help("ranging works on lists of strings and maps; use `any <subject>:` for containers, volumes, ...");
                self.push(d);
                return None;
            }
        };
        Some(vec![self.add_binding(
            name.node.clone(),
            subject,
            Some((binding, link)),
            frame,
            false,
        )])
    }

    fn binder_chain(&mut self, binder: &Binder, frame: usize) -> Option<Vec<BindingId>> {
        match binder {
            Binder::Subject { subject, alias } => {
                self.explicit_chain(subject, alias.as_ref(), frame)
            }
            Binder::Elements { name, path } => self.elements_binding(name, path, frame),
        }
    }

    // ---- conditions ----

    pub(super) fn text_of(&self, span: Span) -> String {
        self.text
            .get(span.start..span.end)
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn exprs(&mut self, es: &[ast::Expr]) -> Option<Vec<Cond>> {
        let lowered: Vec<Option<Cond>> = es.iter().map(|e| self.expr(e)).collect();
        lowered.into_iter().collect()
    }

    /// Lowers `e` under the limits on expanded size and nesting (macros included), which
    /// keep a hostile policy from taking the process's memory or stack.
    fn expr(&mut self, e: &ast::Expr) -> Option<Cond> {
        let levels = usize::from(matches!(
            e,
            ast::Expr::Or(..) | ast::Expr::And(..) | ast::Expr::Not(..) | ast::Expr::Quant { .. }
        ));
        self.g.lowered.set(self.g.lowered.get() + 1);
        if !self.within_limits(levels, e.span()) {
            return None;
        }
        self.depth += levels;
        let out = self.expr_within_limits(e);
        self.depth -= levels;
        out
    }

    /// Whether `levels` more nesting and one more condition fit; reports the first breach.
    fn within_limits(&mut self, levels: usize, at: Span) -> bool {
        if self.limit_reached {
            return false;
        }
        let d = if self.depth + levels > crate::syntax::MAX_DEPTH {
            crate::syntax::too_deep(self.file, at)
        } else if self.g.lowered.get() - self.rule_start > MAX_EXPANDED_CONDITIONS {
            let (file, span) = self.rule_site;
            Diagnostic::error(
                file,
                span,
                format!("condition too large: more than {MAX_EXPANDED_CONDITIONS} conditions once macros are expanded"),
                "this condition, its macros expanded",
            )
            .with_help("each use of a macro copies its whole condition; use a macro fewer times, or split the policy")
        } else if self.g.lowered.get() > MAX_SET_CONDITIONS {
            if self.g.set_limit_reported.replace(true) {
                self.limit_reached = true;
                return false;
            }
            let (file, span) = self.rule_site;
            Diagnostic::error(
                file,
                span,
                format!("policy set too large: more than {MAX_SET_CONDITIONS} conditions in all once macros are expanded"),
                "limit reached here",
            )
            .with_help("load fewer policies at once, or use macros fewer times")
        } else {
            return true;
        };
        self.limit_reached = true;
        self.push(d);
        false
    }

    fn expr_within_limits(&mut self, e: &ast::Expr) -> Option<Cond> {
        match e {
            ast::Expr::Or(es, _) => Some(Cond::Or(self.exprs(es)?)),
            ast::Expr::And(es, _) => Some(Cond::And(self.exprs(es)?)),
            ast::Expr::Not(x, _) => Some(Cond::Not(Box::new(self.expr(x)?))),
            ast::Expr::Quant {
                quant,
                binder,
                body,
                ..
            } => {
                let frame = self.open_frame();
                let chain = self.binder_chain(binder, frame);
                // A broken binder would only make the body report the same name again.
                let body = if chain.is_some() {
                    self.expr(body)
                } else {
                    None
                };
                self.close_frame();
                let (chain, body) = (chain?, body?);
                let mut c = self.place_frame(frame, body);
                let q = if *quant == Quant::Every {
                    Quant::Every
                } else {
                    Quant::Any
                };
                for b in chain.into_iter().rev() {
                    c = Cond::Quant {
                        quant: q,
                        binding: b,
                        body: Box::new(c),
                    };
                }
                Some(if *quant == Quant::No {
                    Cond::Not(Box::new(c))
                } else {
                    c
                })
            }
            ast::Expr::Has(p, span) => {
                let (operand, _) = self.path(p, true)?;
                Some(Cond::Test {
                    operand,
                    test: Test::Present,
                    label: self.text_of(*span),
                })
            }
            ast::Expr::Test {
                operand,
                test,
                span,
            } => {
                if let (ast::Operand::Path(p), None) = (operand, test)
                    && p.steps.is_empty()
                    && self.lookup_name(&p.root.node).is_none()
                    && let Some((m, mfile)) = self.g.macros.get(&p.root.node).map(|(m, f)| (*m, *f))
                {
                    return self.expand_macro(m, mfile, p.root.span);
                }
                let label = self.text_of(*span);
                let (operand, ty) = self.operand(operand)?;
                let test = self.test(&operand, ty, test.as_ref(), *span)?;
                Some(Cond::Test {
                    operand,
                    test,
                    label,
                })
            }
        }
    }

    fn expand_macro(&mut self, m: &'a ast::MacroDef, mfile: usize, use_span: Span) -> Option<Cond> {
        if self.macro_stack.contains(&m.name.node) {
            let d = self
                .error(
                    use_span,
                    format!("macro `{}` refers to itself", m.name.node),
                    "recursive use",
                )
                .with_help("macros are expanded where they are used; recursion has no end");
            self.push(d);
            return None;
        }
        if !self.within_limits(1, use_span) {
            return None;
        }
        let mtext = self.g.sources.get(mfile).map(|f| f.text.as_str())?;
        self.depth += 1;
        self.macro_stack.push(m.name.node.clone());
        let (file, text) = (self.file, self.text);
        self.file = mfile;
        self.text = mtext;
        let errors_before = self.diags.len();
        let out = self.expr(&m.body);
        let failed = self.diags.len() > errors_before;
        self.file = file;
        self.text = text;
        self.macro_stack.pop();
        self.depth -= 1;
        // A limit breach is reported once, where it happened, not again at every use around it.
        if failed && !self.limit_reached {
            let d = self.error(
                use_span,
                format!("macro `{}` does not check here", m.name.node),
                "used here",
            );
            self.push(d);
        }
        out
    }

    fn operand(&mut self, o: &ast::Operand) -> Option<(Operand, Ty)> {
        match o {
            ast::Operand::Path(p) => self.path(p, true),
            ast::Operand::DaysSince(p, span) => {
                let (operand, ty) = self.path(p, false)?;
                match (operand, ty) {
                    (Operand::Field { binding, field }, Ty::Time) => {
                        Some((Operand::DaysSince { binding, field }, Ty::Num))
                    }
                    (_, other) => {
                        let d = self.error(*span, format!("`days_since` needs a timestamp, but `{}` is {}", self.text_of(p.span), other.describe()), "not a timestamp")
                            .with_help("timestamps include image.created, image.scan_time, vuln.published, vuln.fix_available_at");
                        self.push(d);
                        None
                    }
                }
            }
            ast::Operand::Count { binder, filter, .. } => {
                let frame = self.open_frame();
                let chain = self.binder_chain(binder, frame);
                let filter = if chain.is_some() {
                    filter.as_ref().map(|f| self.expr(f))
                } else {
                    None
                };
                self.close_frame();
                let chain = chain?;
                let filter = match filter {
                    Some(f) => Some(Box::new(self.place_frame(frame, f?))),
                    None => None,
                };
                Some((Operand::Count { chain, filter }, Ty::Num))
            }
        }
    }

    /// Resolves a path to an operand. `allow_key`: map lookups (`labels["app"]`) are allowed.
    fn path(&mut self, p: &ast::Path, allow_key: bool) -> Option<(Operand, Ty)> {
        let mut b = self.resolve_root(&p.root)?;
        if p.steps.is_empty() {
            if self.bindings[b].subject == Subject::Element {
                return Some((
                    Operand::Field {
                        binding: b,
                        field: FieldId::ElementValue,
                    },
                    Ty::Str,
                ));
            }
            let subject = self.bindings[b].subject;
            let fields: Vec<&str> = FieldId::names_of(subject).take(6).collect();
            let d = self
                .error(
                    p.span,
                    format!("`{}` is a {}, not a value", p.root.node, subject.name()),
                    "name one of its fields",
                )
                .with_help(format!(
                    "for example `{}.{}`",
                    p.root.node,
                    fields.first().copied().unwrap_or("name")
                ));
            self.push(d);
            return None;
        }
        let mut steps = p.steps.iter().peekable();
        while let Some(step) = steps.next() {
            let subject = self.bindings[b].subject;
            let name = match step {
                Step::Field(n) => n,
                Step::Key(k) => {
                    let d = self.error(k.span, "only map fields take `[\"key\"]`", "not a map");
                    self.push(d);
                    return None;
                }
            };
            if let Some(field) = FieldId::lookup(subject, &name.node) {
                let ty = field.def().ty;
                let rest: Vec<&Step> = steps.collect();
                return match (ty, rest.as_slice()) {
                    (_, []) => Some((Operand::Field { binding: b, field }, ty)),
                    (Ty::Map, [Step::Key(k)]) if allow_key => Some((
                        Operand::MapValue {
                            binding: b,
                            field,
                            key: k.value.clone(),
                        },
                        Ty::Str,
                    )),
                    (Ty::Map, [Step::Key(k)]) => {
                        let d =
                            self.error(k.span, "a map lookup cannot be used here", "map lookup");
                        self.push(d);
                        None
                    }
                    _ => {
                        let d = self.error(
                            p.span,
                            format!(
                                "`{}.{}` is {} and has no further fields",
                                p.root.node,
                                name.node,
                                ty.describe()
                            ),
                            "too many steps",
                        );
                        self.push(d);
                        None
                    }
                };
            }
            if let Some(child) = Subject::parse(&name.node)
                && let Some(link) = schema::step_link(self.root, subject, child)
            {
                if link.is_single() {
                    b = self.implicit_child(b, child, link);
                    continue;
                }
                let d = self.error(name.span, format!("a {} has many `{}` objects", subject.name(), child.name()), "which one?")
                        .with_help(format!("use `{0}.field` (one {0}, the same throughout the condition) or `any {0}: ...`", child.name()));
                self.push(d);
                return None;
            }
            let candidates: Vec<&str> = FieldId::names_of(subject).collect();
            let d = self
                .error(
                    name.span,
                    format!("unknown field `{}` on `{}`", name.node, subject.name()),
                    format!("`{}` has no such field", subject.name()),
                )
                .did_you_mean(&name.node, candidates.iter().copied());
            let d = if d.help.is_none() {
                d.with_help(format!(
                    "fields of `{}`: {}",
                    subject.name(),
                    candidates.join(", ")
                ))
            } else {
                d
            };
            self.push(d);
            return None;
        }
        None
    }

    fn resolve_root(&mut self, root: &ast::Ident) -> Option<BindingId> {
        if let Some(b) = self.lookup_name(&root.node) {
            return Some(b);
        }
        if let Some(subject) = Subject::parse(&root.node) {
            return self.implicit_subject(subject, root.span);
        }
        let d = if self.g.lists.contains_key(&root.node) {
            self.error(
                root.span,
                format!("`{}` is a list, not a value", root.node),
                "list",
            )
            .with_help(format!("use it on the right: `x in {}`", root.node))
        } else if self.g.macros.contains_key(&root.node) {
            self.error(
                root.span,
                format!("`{}` is a macro (a whole condition)", root.node),
                "macro",
            )
            .with_help("use it alone, e.g. `when my_macro and ...`")
        } else {
            let mut names: Vec<String> = Subject::NAMED
                .iter()
                .map(|s| s.name().to_string())
                .collect();
            names.extend(self.bindings.iter().map(|b| b.name.clone()));
            names.extend(self.g.macros.keys().cloned());
            self.error(
                root.span,
                format!("unknown name `{}`", root.node),
                "not a subject, binding or macro",
            )
            .did_you_mean(&root.node, names.iter().map(|s| s.as_str()))
        };
        self.push(d);
        None
    }

    // ---- placement of implicit quantifiers ----

    fn closure(&self, b: BindingId, out: &mut BTreeSet<BindingId>) {
        let mut cur = Some(b);
        while let Some(x) = cur {
            if !self.info[x].implicit {
                break;
            }
            out.insert(x);
            cur = self.bindings[x].source.map(|(p, _)| p);
        }
    }

    fn uses(&self, c: &Cond, out: &mut BTreeSet<BindingId>) {
        match c {
            Cond::And(cs) | Cond::Or(cs) => cs.iter().for_each(|x| self.uses(x, out)),
            Cond::Not(x) => self.uses(x, out),
            Cond::Quant { binding, body, .. } => {
                if let Some((p, _)) = self.bindings[*binding].source {
                    self.closure(p, out);
                }
                self.uses(body, out);
            }
            Cond::Test { operand, .. } => self.operand_uses(operand, out),
        }
    }

    fn operand_uses(&self, o: &Operand, out: &mut BTreeSet<BindingId>) {
        match o {
            Operand::Field { binding, .. }
            | Operand::MapValue { binding, .. }
            | Operand::DaysSince { binding, .. } => self.closure(*binding, out),
            Operand::Count { chain, filter } => {
                if let Some((p, _)) = chain.first().and_then(|b| self.bindings[*b].source) {
                    self.closure(p, out);
                }
                if let Some(f) = filter {
                    self.uses(f, out);
                }
            }
        }
    }

    fn depth(&self, b: BindingId) -> usize {
        let mut d = 0;
        let mut cur = self.bindings[b].source.map(|(p, _)| p);
        while let Some(x) = cur {
            d += 1;
            cur = self.bindings[x].source.map(|(p, _)| p);
        }
        d
    }

    fn place_frame(&self, frame: usize, c: Cond) -> Cond {
        let pending: Vec<BindingId> = (0..self.bindings.len())
            .filter(|b| self.info[*b].implicit && self.info[*b].frame == frame)
            .collect();
        self.place(c, pending)
    }

    fn place(&self, c: Cond, pending: Vec<BindingId>) -> Cond {
        if pending.is_empty() {
            return c;
        }
        let (is_and, children) = match c {
            Cond::And(children) if children.len() > 1 => (true, children),
            Cond::Or(children) if children.len() > 1 => (false, children),
            other => return self.wrap(pending, other),
        };
        let child_uses: Vec<BTreeSet<BindingId>> = children
            .iter()
            .map(|x| {
                let mut s = BTreeSet::new();
                self.uses(x, &mut s);
                s
            })
            .collect();
        let mut here = Vec::new();
        let mut per_child: Vec<Vec<BindingId>> = vec![Vec::new(); children.len()];
        for b in pending {
            let users: Vec<usize> = (0..children.len())
                .filter(|i| child_uses[*i].contains(&b))
                .collect();
            match users.as_slice() {
                [only] => per_child[*only].push(b),
                _ => here.push(b),
            }
        }
        let placed: Vec<Cond> = children
            .into_iter()
            .zip(per_child)
            .map(|(x, p)| self.place(x, p))
            .collect();
        self.wrap(
            here,
            if is_and {
                Cond::And(placed)
            } else {
                Cond::Or(placed)
            },
        )
    }

    /// Wraps `c` in "there is one" quantifiers for `bs`, ancestors outermost.
    fn wrap(&self, mut bs: Vec<BindingId>, mut c: Cond) -> Cond {
        bs.sort_by_key(|b| std::cmp::Reverse(self.depth(*b)));
        for b in bs {
            c = Cond::Quant {
                quant: Quant::Any,
                binding: b,
                body: Box::new(c),
            };
        }
        c
    }

    // ---- message templates ----

    fn template(&mut self, t: &ast::Text) -> Option<Template> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let s = t.value.as_str();
        let mut i = 0;
        let bytes = s.as_bytes();
        let mut ok = true;
        while i < bytes.len() {
            if s[i..].starts_with("\\{") || s[i..].starts_with("\\}") {
                literal.push(bytes[i + 1] as char);
                i += 2;
                continue;
            }
            if bytes[i] == b'{' {
                let Some(end) = s[i..].find('}') else {
                    let d = self
                        .error(t.span, "unclosed `{` in message", "missing `}`")
                        .with_help("write `\\{` for a literal brace");
                    self.push(d);
                    return None;
                };
                let inner = s[i + 1..i + end].trim();
                match self.placeholder(inner, t.span) {
                    Some(o) => {
                        if !literal.is_empty() {
                            parts.push(TemplatePart::Text(std::mem::take(&mut literal)));
                        }
                        parts.push(TemplatePart::Value(o));
                    }
                    None => ok = false,
                }
                i += end + 1;
                continue;
            }
            let ch = s[i..].chars().next().unwrap_or(' ');
            literal.push(ch);
            i += ch.len_utf8();
        }
        if !literal.is_empty() {
            parts.push(TemplatePart::Text(literal));
        }
        ok.then_some(Template { parts })
    }

    fn placeholder(&mut self, inner: &str, span: Span) -> Option<Operand> {
        let (root, rest) = match inner.split_once('.') {
            Some((r, f)) => (r, Some(f)),
            None => (inner, None),
        };
        // Only bindings of the top level of the condition are bound when a message is written.
        let b = (0..self.bindings.len())
            .find(|b| self.info[*b].frame == 0 && self.bindings[*b].name == root);
        let Some(b) = b else {
            let names: Vec<String> = (0..self.bindings.len())
                .filter(|b| self.info[*b].frame == 0)
                .map(|b| self.bindings[b].name.clone())
                .collect();
            let d = self
                .error(
                    span,
                    format!("message uses `{{{inner}}}`, but the condition binds no `{root}`"),
                    "unbound placeholder",
                )
                .did_you_mean(root, names.iter().map(|s| s.as_str()));
            let d = if d.help.is_none() {
                d.with_help(format!("placeholders can name: {}", names.join(", ")))
            } else {
                d
            };
            self.push(d);
            return None;
        };
        let subject = self.bindings[b].subject;
        let field = match rest {
            None if subject == Subject::Element => Some(FieldId::ElementValue),
            None => None,
            Some(f) => FieldId::lookup(subject, f),
        };
        match field {
            Some(field) => Some(Operand::Field { binding: b, field }),
            None => {
                let d = self
                    .error(
                        span,
                        format!(
                            "message uses `{{{inner}}}`: `{}` has no field `{}`",
                            subject.name(),
                            rest.unwrap_or("")
                        ),
                        "unknown field",
                    )
                    .did_you_mean(rest.unwrap_or(""), FieldId::names_of(subject));
                self.push(d);
                None
            }
        }
    }
}
