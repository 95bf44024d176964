//! Policy metadata, scopes and exclusions.

use super::Globals;
use super::lower::{Lowerer, root_candidates};
use crate::ast::{self, ClauseKind, Pattern, WherePart};
use crate::diag::Diagnostic;
use crate::hir::{
    self, CheckedPolicy, ENFORCEMENT_ACTIONS, NamePattern, PolicyMeta, Scope, Severity,
};
use crate::schema::{self, Stage};
use crate::span::Span;

pub(super) fn check_policy(
    p: &ast::Policy,
    file: usize,
    text: &str,
    g: &Globals,
    diags: &mut Vec<Diagnostic>,
) -> Option<CheckedPolicy> {
    let errors_before = diags.len();
    let err = |diags: &mut Vec<Diagnostic>, span: Span, msg: String, label: &str| {
        diags.push(Diagnostic::error(file, span, msg, label))
    };
    if p.name.value.trim().is_empty() || p.name.value.contains(['\n', '\r']) {
        err(
            diags,
            p.name.span,
            "a policy name must be one non-empty line".into(),
            "invalid name",
        );
    } else if let Some(c) = p.name.value.chars().find(|c| crate::diag::hides_text(*c)) {
        err(
            diags,
            p.name.span,
            format!(
                "a policy name must not contain U+{:04X} (a control or bidirectional formatting character)",
                c as u32
            ),
            "invalid name",
        );
    }
    let mut meta = PolicyMeta {
        name: p.name.value.clone(),
        description: String::new(),
        rationale: String::new(),
        remediation: String::new(),
        severity: Severity::Low,
        categories: Vec::new(),
        stages: Vec::new(),
        event_source: None,
        enforcement: Vec::new(),
        mitre: Vec::new(),
        soc2: Vec::new(),
        disabled: false,
        scopes: Vec::new(),
        exclusions: Vec::new(),
    };
    let mut rules = Vec::new();
    let mut seen: Vec<(&'static str, Span)> = Vec::new();
    let mut when: Option<&ast::Expr> = None;
    let mut message: Option<&ast::Text> = None;
    let mut enforce_idents: Vec<&ast::Ident> = Vec::new();
    let mut event_source_span = None;
    for clause in &p.clauses {
        let key = clause_key(&clause.kind);
        let repeatable = matches!(key, "scope" | "exclude" | "mitre");
        if !repeatable && let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
            diags.push(
                Diagnostic::error(
                    file,
                    clause.span,
                    format!("`{key}` given twice"),
                    "repeated clause",
                )
                .with_related(*first, "first given here"),
            );
            continue;
        }
        seen.push((key, clause.span));
        match &clause.kind {
            ClauseKind::Description(t) => meta.description = t.value.clone(),
            ClauseKind::Rationale(t) => meta.rationale = t.value.clone(),
            ClauseKind::Remediation(t) => meta.remediation = t.value.clone(),
            ClauseKind::Severity(s) => match Severity::parse(&s.node) {
                Some(v) => meta.severity = v,
                None => diags.push(
                    Diagnostic::error(
                        file,
                        s.span,
                        format!("unknown severity `{}`", s.node),
                        "not a severity",
                    )
                    .with_help("one of low, medium, high, critical")
                    .did_you_mean(&s.node, Severity::ALL.iter().map(|x| x.as_str())),
                ),
            },
            ClauseKind::Categories(cs) => {
                meta.categories = cs.iter().map(|c| c.value.clone()).collect()
            }
            ClauseKind::Lifecycle(ls) => {
                for l in ls {
                    match Stage::parse(&l.node) {
                        Some(s) if meta.stages.contains(&s) => err(
                            diags,
                            l.span,
                            format!("stage `{}` listed twice", l.node),
                            "repeated",
                        ),
                        Some(s) => meta.stages.push(s),
                        None => diags.push(
                            Diagnostic::error(
                                file,
                                l.span,
                                format!("unknown lifecycle stage `{}`", l.node),
                                "not a stage",
                            )
                            .with_help("one of build, deploy, runtime")
                            .did_you_mean(&l.node, ["build", "deploy", "runtime"]),
                        ),
                    }
                }
            }
            ClauseKind::EventSource(e) => {
                const SOURCES: [&str; 3] = ["deployment", "audit_log", "node"];
                if SOURCES.contains(&e.node.as_str()) {
                    meta.event_source = Some(e.node.clone());
                    event_source_span = Some(e.span);
                } else {
                    diags.push(
                        Diagnostic::error(
                            file,
                            e.span,
                            format!("unknown event source `{}`", e.node),
                            "not an event source",
                        )
                        .with_help("one of deployment, audit_log, node")
                        .did_you_mean(&e.node, SOURCES),
                    );
                }
            }
            ClauseKind::Enforce(es) => enforce_idents.extend(es.iter()),
            ClauseKind::Mitre { tactic, techniques } => {
                if !is_mitre_id(&tactic.node, "TA") {
                    err(
                        diags,
                        tactic.span,
                        format!("`{}` is not a MITRE ATT&CK tactic id", tactic.node),
                        "expected TA followed by four digits",
                    );
                }
                for t in techniques {
                    if !is_mitre_id(&t.node, "T") {
                        err(
                            diags,
                            t.span,
                            format!("`{}` is not a MITRE ATT&CK technique id", t.node),
                            "expected T1234 or T1234.001",
                        );
                    }
                }
                meta.mitre.push(hir::Mitre {
                    tactic: tactic.node.clone(),
                    techniques: techniques.iter().map(|t| t.node.clone()).collect(),
                });
            }
            ClauseKind::Soc2(ids) => {
                for id in ids {
                    if schema::is_soc2_criterion(&id.node) {
                        if !meta.soc2.contains(&id.node) {
                            meta.soc2.push(id.node.clone());
                        }
                    } else {
                        diags.push(Diagnostic::error(file, id.span, format!("`{}` is not a SOC 2 trust services criterion", id.node), "unknown criterion")
                            .with_help("use a 2017 TSC id such as CC6.1, CC7.2, CC8.1, A1.2, C1.1, PI1.3 or P4.2"));
                    }
                }
            }
            ClauseKind::Disabled => meta.disabled = true,
            ClauseKind::Scope(parts) => {
                if let Some(scope) = check_scope(parts, file, clause.span, g, diags) {
                    meta.scopes.push(scope);
                }
            }
            ClauseKind::Exclude(e) => {
                if let Some(x) = check_exclusion(e, file, clause.span, g, diags) {
                    meta.exclusions.push(x);
                }
            }
            ClauseKind::When(e) => when = Some(e),
            ClauseKind::Message(t) => message = Some(t),
        }
    }
    let name_span = p.name.span;
    let missing = |diags: &mut Vec<Diagnostic>, what: &str, example: &str| {
        diags.push(
            Diagnostic::error(
                file,
                name_span,
                format!("policy `{}` has no `{what}`", p.name.value),
                format!("`{what}` missing"),
            )
            .with_help(format!("add `{example}`")),
        );
    };
    if !seen.iter().any(|(k, _)| *k == "severity") {
        missing(diags, "severity", "severity high");
    }
    if !seen.iter().any(|(k, _)| *k == "lifecycle") {
        missing(diags, "lifecycle", "lifecycle deploy");
    }
    if !seen.iter().any(|(k, _)| *k == "soc2") {
        missing(diags, "soc2", "soc2 CC6.1");
    }
    let Some(when) = when else {
        missing(diags, "when", "when container.privileged");
        return None;
    };
    if let Some(span) = event_source_span {
        if !meta.stages.contains(&Stage::Runtime) {
            err(
                diags,
                span,
                "`event_source` applies to runtime policies only".into(),
                "no runtime stage",
            );
        }
    } else if meta.stages.contains(&Stage::Runtime) {
        meta.event_source = Some("deployment".into());
    }
    for e in enforce_idents {
        match ENFORCEMENT_ACTIONS.iter().find(|(n, _)| *n == e.node) {
            Some((_, stage)) if meta.stages.contains(stage) => {
                meta.enforcement.push(e.node.clone())
            }
            Some((_, stage)) => diags.push(
                Diagnostic::error(
                    file,
                    e.span,
                    format!(
                        "`{}` enforces at the {} stage, which this policy does not run in",
                        e.node,
                        stage.as_str()
                    ),
                    "stage mismatch",
                )
                .with_help(format!(
                    "add `{}` to `lifecycle` or drop the action",
                    stage.as_str()
                )),
            ),
            None => diags.push(
                Diagnostic::error(
                    file,
                    e.span,
                    format!("unknown enforcement action `{}`", e.node),
                    "not an action",
                )
                .did_you_mean(&e.node, ENFORCEMENT_ACTIONS.iter().map(|(n, _)| *n)),
            ),
        }
    }
    for stage in meta.stages.clone() {
        for root in root_candidates(stage, when, g, file, diags) {
            let mut lowerer = Lowerer::new(g, file, text, root, diags);
            if let Some(rule) = lowerer.lower_rule(when, message) {
                rules.push(rule);
            }
        }
    }
    if diags[errors_before..]
        .iter()
        .any(|d| d.severity == crate::diag::Severity::Error)
    {
        return None;
    }
    Some(CheckedPolicy {
        meta,
        rules,
        file,
        span: p.name.span,
    })
}

fn clause_key(c: &ClauseKind) -> &'static str {
    match c {
        ClauseKind::Description(_) => "description",
        ClauseKind::Rationale(_) => "rationale",
        ClauseKind::Remediation(_) => "remediation",
        ClauseKind::Severity(_) => "severity",
        ClauseKind::Categories(_) => "categories",
        ClauseKind::Lifecycle(_) => "lifecycle",
        ClauseKind::EventSource(_) => "event_source",
        ClauseKind::Enforce(_) => "enforce",
        ClauseKind::Mitre { .. } => "mitre",
        ClauseKind::Soc2(_) => "soc2",
        ClauseKind::Disabled => "disabled",
        ClauseKind::Scope(_) => "scope",
        ClauseKind::Exclude(_) => "exclude",
        ClauseKind::When(_) => "when",
        ClauseKind::Message(_) => "message",
    }
}

fn is_mitre_id(s: &str, prefix: &str) -> bool {
    let Some(rest) = s.strip_prefix(prefix) else {
        return false;
    };
    let (main, sub) = match rest.split_once('.') {
        Some((m, s)) => (m, Some(s)),
        None => (rest, None),
    };
    let digits = |x: &str, n: usize| x.len() == n && x.bytes().all(|b| b.is_ascii_digit());
    digits(main, 4) && sub.is_none_or(|s| prefix == "T" && digits(s, 3))
}

pub(super) fn check_pattern(
    p: &Pattern,
    file: usize,
    g: &Globals,
    diags: &mut Vec<Diagnostic>,
) -> Option<NamePattern> {
    match p {
        Pattern::Exact(t) => Some(NamePattern::Exact(t.value.clone())),
        Pattern::Regex(t) => {
            super::lower::validate_regex(g, &t.value, false, t.span, file, diags)?;
            Some(NamePattern::Regex(t.value.clone()))
        }
    }
}

fn check_scope(
    parts: &[WherePart],
    file: usize,
    span: Span,
    g: &Globals,
    diags: &mut Vec<Diagnostic>,
) -> Option<Scope> {
    let mut scope = Scope::default();
    let mut ok = true;
    let pair = |k: &ast::Pattern, v: &ast::Pattern, diags: &mut Vec<Diagnostic>| {
        check_pattern(k, file, g, diags).zip(check_pattern(v, file, g, diags))
    };
    for part in parts {
        let (slot_taken, what) = match part {
            WherePart::Cluster(_) => (scope.cluster.is_some(), "cluster"),
            WherePart::Namespace(_) => (scope.namespace.is_some(), "namespace"),
            WherePart::Label(..) => (scope.label.is_some(), "label"),
            WherePart::ClusterLabel(..) => (scope.cluster_label.is_some(), "cluster_label"),
            WherePart::NamespaceLabel(..) => (scope.namespace_label.is_some(), "namespace_label"),
        };
        if slot_taken {
            diags.push(
                Diagnostic::error(
                    file,
                    span,
                    format!("`{what}` given twice in one scope"),
                    "repeated",
                )
                .with_help(
                    "write a second `scope` line: scopes are alternatives (any one may match)",
                ),
            );
            ok = false;
            continue;
        }
        match part {
            WherePart::Cluster(p) => scope.cluster = check_pattern(p, file, g, diags),
            WherePart::Namespace(p) => scope.namespace = check_pattern(p, file, g, diags),
            WherePart::Label(k, v) => scope.label = pair(k, v, diags),
            WherePart::ClusterLabel(k, v) => scope.cluster_label = pair(k, v, diags),
            WherePart::NamespaceLabel(k, v) => scope.namespace_label = pair(k, v, diags),
        }
    }
    ok.then_some(scope)
}

fn check_exclusion(
    e: &ast::Exclusion,
    file: usize,
    span: Span,
    g: &Globals,
    diags: &mut Vec<Diagnostic>,
) -> Option<hir::Exclusion> {
    let target = match &e.target {
        ast::ExclusionTarget::Image(prefix) => {
            if prefix.value.is_empty() {
                diags.push(Diagnostic::error(
                    file,
                    prefix.span,
                    "an image exclusion needs a non-empty name prefix",
                    "empty prefix",
                ));
                return None;
            }
            hir::ExclusionTarget::ImagePrefix(prefix.value.clone())
        }
        ast::ExclusionTarget::Deployment { name, parts } => {
            if name.is_none() && parts.is_empty() {
                diags.push(Diagnostic::error(file, span, "an exclusion must name a deployment, namespace, cluster, label or image", "excludes nothing")
                    .with_help("for example `exclude deployment /kube-proxy/ in namespace \"kube-system\" because \"...\"`"));
                return None;
            }
            let name = match name {
                Some(n) => Some(check_pattern(n, file, g, diags)?),
                None => None,
            };
            hir::ExclusionTarget::Deployment {
                name,
                scope: Box::new(check_scope(parts, file, span, g, diags)?),
            }
        }
    };
    if e.reason.value.trim().is_empty() {
        diags.push(Diagnostic::error(
            file,
            e.reason.span,
            "an exclusion needs a reason",
            "empty reason",
        ));
    }
    let until = match &e.until {
        // A bare date means "through that day".
        Some(d) => match hir::parse_time(&d.node) {
            Some(t) => Some(if d.node.len() == 10 { t + 86_400 } else { t }),
            None => {
                diags.push(
                    Diagnostic::error(
                        file,
                        d.span,
                        format!("invalid date `{}`", d.node),
                        "not a date",
                    )
                    .with_help("write YYYY-MM-DD or an RFC 3339 time"),
                );
                return None;
            }
        },
        None => None,
    };
    Some(hir::Exclusion {
        target,
        reason: e.reason.value.clone(),
        until,
    })
}
