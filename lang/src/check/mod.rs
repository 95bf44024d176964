//! Name resolution and type checking: parsed files to a [`CheckedSet`].
//! Every error of a run is collected; nothing stops at the first.

mod lower;
mod meta;
mod typing;

use crate::ast::{self, ItemKind};
use crate::diag::{Diagnostic, Sources};
use crate::hir::{CheckedSet, CheckedTest};
use crate::span::Span;
use std::collections::{BTreeMap, HashSet};

/// Named lists and macros visible to every file of a run.
pub(crate) struct Globals<'a> {
    pub sources: &'a Sources,
    pub lists: BTreeMap<String, (&'a ast::ListDef, usize)>,
    pub macros: BTreeMap<String, (&'a ast::MacroDef, usize)>,
    pub policy_names: Vec<String>,
    /// Conditions lowered so far across the whole set (see `MAX_SET_CONDITIONS`).
    pub lowered: std::cell::Cell<usize>,
    /// Whether the set-wide limit was reported (once, not once per policy after it).
    pub set_limit_reported: std::cell::Cell<bool>,
    /// What the set's regexes cost so far (see `hir::MAX_TOTAL_REGEX_COST`), counted before
    /// each is built to validate it.
    pub regex_cost: std::cell::Cell<u64>,
    /// Whether the regex budget was reported (once).
    pub regex_budget_reported: std::cell::Cell<bool>,
}

/// Checks parsed files (indexed like `sources`). Returns the checked set, or every error found.
pub fn check(
    sources: &Sources,
    files: &[(usize, ast::File)],
) -> Result<CheckedSet, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let globals = collect_globals(sources, files, &mut diags);
    let mut set = CheckedSet::default();
    let mut seen_policies: BTreeMap<String, (usize, Span)> = BTreeMap::new();
    for (file, parsed) in files {
        let text = sources.get(*file).map(|f| f.text.as_str()).unwrap_or("");
        for item in &parsed.items {
            match &item.kind {
                ItemKind::Policy(p) => {
                    if let Some(&first) = seen_policies.get(&p.name.value) {
                        diags.push(first_defined(
                            sources,
                            Diagnostic::error(
                                *file,
                                p.name.span,
                                format!("duplicate policy name `{}`", p.name.value),
                                "defined again here",
                            ),
                            first,
                            "policy names must be unique across all loaded files",
                        ));
                        continue;
                    }
                    seen_policies.insert(p.name.value.clone(), (*file, p.name.span));
                    if let Some(policy) = meta::check_policy(p, *file, text, &globals, &mut diags) {
                        set.policies.push(policy);
                    }
                }
                ItemKind::Test(t) => {
                    if let Some(test) = check_test(t, *file, &globals, &mut diags) {
                        set.tests.push(test);
                    }
                }
                ItemKind::List(_) | ItemKind::Macro(_) => {}
            }
        }
    }
    // Macros are checked where they are used; report the broken ones that nobody uses too.
    let mut unique = HashSet::new();
    diags.retain(|d| unique.insert((d.file, d.span.start, d.span.end, d.message.clone())));
    if diags
        .iter()
        .any(|d| d.severity == crate::diag::Severity::Error)
    {
        diags.sort_by_key(|d| (d.file, d.span.start));
        return Err(diags);
    }
    Ok(set)
}

/// `d` (a second definition) with where the first one is: a label when it is in the same
/// file, else the help names its file, line and column (a label can only point into the
/// file the diagnostic is reported against).
fn first_defined(
    sources: &Sources,
    d: Diagnostic,
    (first_file, first_span): (usize, Span),
    help: &str,
) -> Diagnostic {
    if first_file == d.file {
        return d
            .with_related(first_span, "first defined here")
            .with_help(help);
    }
    let place = sources.get(first_file).map_or_else(
        || "another file".to_string(),
        |f| {
            let (line, column) = f.line_col(first_span.start);
            format!("{}:{line}:{column}", f.name)
        },
    );
    d.with_help(format!("first defined at {place}; {help}"))
}

fn collect_globals<'a>(
    sources: &'a Sources,
    files: &'a [(usize, ast::File)],
    diags: &mut Vec<Diagnostic>,
) -> Globals<'a> {
    let mut g = Globals {
        sources,
        lists: BTreeMap::new(),
        macros: BTreeMap::new(),
        policy_names: Vec::new(),
        lowered: std::cell::Cell::new(0),
        set_limit_reported: std::cell::Cell::new(false),
        regex_cost: std::cell::Cell::new(0),
        regex_budget_reported: std::cell::Cell::new(false),
    };
    let mut spans: BTreeMap<String, (usize, Span)> = BTreeMap::new();
    for (file, parsed) in files {
        for item in &parsed.items {
            let name = match &item.kind {
                ItemKind::List(l) => &l.name,
                ItemKind::Macro(m) => &m.name,
                ItemKind::Policy(p) => {
                    g.policy_names.push(p.name.value.clone());
                    continue;
                }
                ItemKind::Test(_) => continue,
            };
            if crate::schema::Subject::parse(&name.node).is_some() {
                diags.push(
                    Diagnostic::error(
                        *file,
                        name.span,
                        format!("`{}` is a subject name and cannot be redefined", name.node),
                        "reserved name",
                    )
                    .with_help("choose another name"),
                );
                continue;
            }
            if let Some(&first) = spans.get(&name.node) {
                diags.push(first_defined(
                    sources,
                    Diagnostic::error(
                        *file,
                        name.span,
                        format!("`{}` is defined twice", name.node),
                        "defined again here",
                    ),
                    first,
                    "lists and macros share one namespace across all loaded files",
                ));
                continue;
            }
            spans.insert(name.node.clone(), (*file, name.span));
            match &item.kind {
                ItemKind::List(l) => {
                    g.lists.insert(l.name.node.clone(), (l, *file));
                }
                ItemKind::Macro(m) => {
                    g.macros.insert(m.name.node.clone(), (m, *file));
                }
                _ => {}
            }
        }
    }
    g
}

fn check_test(
    t: &ast::TestDef,
    file: usize,
    g: &Globals,
    diags: &mut Vec<Diagnostic>,
) -> Option<CheckedTest> {
    if !g.policy_names.contains(&t.policy.value) {
        diags.push(
            Diagnostic::error(
                file,
                t.policy.span,
                format!("test refers to unknown policy `{}`", t.policy.value),
                "no such policy",
            )
            .did_you_mean(&t.policy.value, g.policy_names.iter().map(|s| s.as_str())),
        );
    }
    let mut records = Vec::new();
    let mut expect = None;
    let mut now = None;
    for c in &t.clauses {
        match c {
            ast::TestClause::Now(d) => match crate::hir::parse_time(&d.node) {
                Some(n) => now = Some(n),
                None => diags.push(
                    Diagnostic::error(
                        file,
                        d.span,
                        format!("invalid date `{}`", d.node),
                        "not a date",
                    )
                    .with_help("write YYYY-MM-DD or an RFC 3339 time such as 2030-01-01T00:00:00Z"),
                ),
            },
            ast::TestClause::Expect(fire, span) => {
                if expect.is_some() {
                    diags.push(Diagnostic::error(
                        file,
                        *span,
                        "a test has one `expect`",
                        "second expect",
                    ));
                }
                expect = Some(*fire);
            }
            ast::TestClause::Record { kind, body } => {
                const KINDS: [&str; 6] = [
                    "deployment",
                    "image",
                    "process",
                    "kube_event",
                    "network_flow",
                    "baseline",
                ];
                if !KINDS.contains(&kind.node.as_str()) {
                    diags.push(
                        Diagnostic::error(
                            file,
                            kind.span,
                            format!("unknown record kind `{}`", kind.node),
                            "not a record kind",
                        )
                        .did_you_mean(&kind.node, KINDS),
                    );
                    continue;
                }
                let mut value = json_of(body);
                if let serde_json::Value::Object(map) = &mut value {
                    map.insert("kind".into(), serde_json::Value::String(kind.node.clone()));
                    if !map.contains_key("id") {
                        map.insert(
                            "id".into(),
                            serde_json::Value::String(format!(
                                "{}-{}",
                                kind.node,
                                records.len() + 1
                            )),
                        );
                    }
                }
                records.push(value);
            }
        }
    }
    let Some(expect_fire) = expect else {
        diags.push(Diagnostic::error(
            file,
            t.title.span,
            "test has no `expect fire` or `expect no fire`",
            "incomplete test",
        ));
        return None;
    };
    if records.is_empty() {
        diags.push(
            Diagnostic::error(file, t.title.span, "test has no record", "incomplete test")
                .with_help("add a record such as `deployment { name: \"web\", containers: [] }`"),
        );
        return None;
    }
    Some(CheckedTest {
        title: t.title.value.clone(),
        policy: t.policy.value.clone(),
        records,
        expect_fire,
        now,
        file,
        span: t.title.span,
    })
}

fn json_of(v: &ast::JsonValue) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        ast::JsonValue::Null => J::Null,
        ast::JsonValue::Bool(b) => J::Bool(*b),
        ast::JsonValue::Number(n) => serde_json::from_str(n).unwrap_or(J::Null),
        ast::JsonValue::Str(t) => J::String(t.value.clone()),
        ast::JsonValue::Array(items) => J::Array(items.iter().map(json_of).collect()),
        ast::JsonValue::Object(fields) => J::Object(
            fields
                .iter()
                .map(|(k, _, v)| (k.clone(), json_of(v)))
                .collect(),
        ),
    }
}
