//! What each name in a file is: the occurrences of fields, subjects, lists, macros, policies
//! and clause values, found by walking the syntax tree once per analysis. Hover, definition,
//! references and rename-free navigation all look names up here.

use palisade_lang::ast::{
    self, Binder, ClauseKind, Expr, ItemKind, Operand, Path, Step, Test, Value,
};
use palisade_lang::schema::{FieldId, Subject, Ty};
use palisade_lang::span::Span;
use std::collections::BTreeMap;

/// What a name in the text stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A field of a subject (`privileged` in `container.privileged`).
    Field(FieldId),
    /// A subject (`container`, or an alias bound to one).
    Subject(Subject),
    /// A name that may be a list or a macro (resolved against the workspace's definitions).
    Name(String),
    /// The name of a list at its definition.
    ListDef(String),
    /// The name of a macro at its definition.
    MacroDef(String),
    /// A policy's name at its definition.
    PolicyDef(String),
    /// A policy named by a test.
    PolicyRef(String),
    /// A SOC 2 criterion id in a `soc2` clause.
    Soc2(String),
    /// A bare word that may be an enumeration value or a clause keyword value.
    Word(String),
}

/// One name in a file and what it stands for.
#[derive(Clone, Debug)]
pub struct Occurrence {
    /// Where it is.
    pub span: Span,
    /// What it is.
    pub target: Target,
}

/// Every occurrence of a name in `file`, in no particular order.
pub fn occurrences(file: &ast::File) -> Vec<Occurrence> {
    let mut out = Vec::new();
    for item in &file.items {
        match &item.kind {
            ItemKind::List(l) => {
                out.push(at(l.name.span, Target::ListDef(l.name.node.clone())));
                for v in &l.values {
                    value(v, &mut out);
                }
            }
            ItemKind::Macro(m) => {
                out.push(at(m.name.span, Target::MacroDef(m.name.node.clone())));
                Walk::default().expr(&m.body, &mut out);
            }
            ItemKind::Test(t) => {
                out.push(at(t.policy.span, Target::PolicyRef(t.policy.value.clone())));
            }
            ItemKind::Policy(p) => {
                out.push(at(p.name.span, Target::PolicyDef(p.name.value.clone())));
                for clause in &p.clauses {
                    match &clause.kind {
                        ClauseKind::When(e) => Walk::default().expr(e, &mut out),
                        ClauseKind::Soc2(ids) => {
                            out.extend(ids.iter().map(|i| at(i.span, Target::Soc2(i.node.clone()))))
                        }
                        ClauseKind::Severity(w) | ClauseKind::EventSource(w) => {
                            out.push(at(w.span, Target::Word(w.node.clone())))
                        }
                        ClauseKind::Lifecycle(ws) | ClauseKind::Enforce(ws) => {
                            out.extend(ws.iter().map(|w| at(w.span, Target::Word(w.node.clone()))))
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    out
}

fn at(span: Span, target: Target) -> Occurrence {
    Occurrence { span, target }
}

/// The names bound inside a condition: aliases and element names, to their subjects.
#[derive(Default, Clone)]
struct Walk {
    bound: BTreeMap<String, Subject>,
}

impl Walk {
    fn expr(&self, e: &Expr, out: &mut Vec<Occurrence>) {
        match e {
            Expr::Or(parts, _) | Expr::And(parts, _) => {
                for p in parts {
                    self.expr(p, out);
                }
            }
            Expr::Not(inner, _) => self.expr(inner, out),
            Expr::Quant { binder, body, .. } => {
                let inner = self.bind(binder, out);
                inner.expr(body, out);
            }
            Expr::Has(path, _) => {
                self.path(path, out);
            }
            Expr::Test { operand, test, .. } => {
                match operand {
                    // A bare name with no test is a macro (or a boolean field's subject).
                    Operand::Path(p) if test.is_none() && p.steps.is_empty() => {
                        match self.subject_of(&p.root.node) {
                            Some(s) => out.push(at(p.root.span, Target::Subject(s))),
                            None => out.push(at(p.root.span, Target::Name(p.root.node.clone()))),
                        }
                    }
                    Operand::Path(p) | Operand::DaysSince(p, _) => {
                        self.path(p, out);
                    }
                    Operand::Count { binder, filter, .. } => {
                        let inner = self.bind(binder, out);
                        if let Some(f) = filter {
                            inner.expr(f, out);
                        }
                    }
                }
                if let Some(t) = test {
                    match t {
                        Test::Cmp(_, v)
                        | Test::Match { value: v, .. }
                        | Test::Contains(v)
                        | Test::Glob(v)
                        | Test::StartsWith(v)
                        | Test::EndsWith(v)
                        | Test::In { value: v, .. } => value(v, out),
                    }
                }
            }
        }
    }

    /// The scope inside a quantifier, with the binder's names noted.
    fn bind(&self, binder: &Binder, out: &mut Vec<Occurrence>) -> Walk {
        let mut inner = self.clone();
        match binder {
            Binder::Subject { subject, alias } => {
                if let Some(s) = self.subject_of(&subject.node) {
                    out.push(at(subject.span, Target::Subject(s)));
                    if let Some(a) = alias {
                        out.push(at(a.span, Target::Subject(s)));
                        inner.bound.insert(a.node.clone(), s);
                    }
                }
            }
            Binder::Elements { name, path } => {
                let element = match self.path(path, out) {
                    Some(f) if f.def().ty == Ty::Map => Some(Subject::Entry),
                    Some(_) => Some(Subject::Element),
                    None => None,
                };
                if let Some(s) = element {
                    out.push(at(name.span, Target::Subject(s)));
                    inner.bound.insert(name.node.clone(), s);
                }
            }
        }
        inner
    }

    /// A name bound in scope, else a subject's own name.
    fn subject_of(&self, name: &str) -> Option<Subject> {
        self.bound
            .get(name)
            .copied()
            .or_else(|| Subject::parse(name))
    }

    /// Notes a path's subjects and field; returns the field it reads.
    fn path(&self, p: &Path, out: &mut Vec<Occurrence>) -> Option<FieldId> {
        let mut subject = match self.subject_of(&p.root.node) {
            Some(s) => s,
            None => {
                out.push(at(p.root.span, Target::Name(p.root.node.clone())));
                return None;
            }
        };
        out.push(at(p.root.span, Target::Subject(subject)));
        let mut field = None;
        for step in &p.steps {
            let Step::Field(name) = step else {
                continue;
            };
            if field.is_some() {
                break;
            }
            if let Some(child) = Subject::parse(&name.node)
                && FieldId::lookup(subject, &name.node).is_none()
            {
                subject = child;
                out.push(at(name.span, Target::Subject(child)));
                continue;
            }
            match FieldId::lookup(subject, &name.node) {
                Some(f) => {
                    out.push(at(name.span, Target::Field(f)));
                    field = Some(f);
                }
                None => break,
            }
        }
        // `element` of a list binder reads the element itself.
        if field.is_none() && p.steps.is_empty() && subject == Subject::Element {
            field = Some(FieldId::ElementValue);
        }
        field
    }
}

fn value(v: &Value, out: &mut Vec<Occurrence>) {
    match v {
        Value::Word(w) => out.push(at(w.span, Target::Word(w.node.clone()))),
        Value::List(items, _) => {
            for i in items {
                value(i, out);
            }
        }
        _ => {}
    }
}

/// The innermost occurrence at byte `offset` (an offset just past a name counts as on it,
/// where an editor's cursor sits after typing it).
pub fn at_offset(occurrences: &[Occurrence], offset: usize) -> Option<&Occurrence> {
    occurrences
        .iter()
        .filter(|o| o.span.start <= offset && offset <= o.span.end)
        .min_by_key(|o| o.span.end - o.span.start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_lang::{SourceFile, Sources};

    fn occurrences_of(text: &str) -> Vec<(String, Target)> {
        let mut sources = Sources::default();
        sources.add(SourceFile::new("t.pal", text));
        let (file, _, _) = palisade_lang::parse_recover(&sources, 0);
        let mut found: Vec<(usize, String, Target)> = occurrences(&file)
            .into_iter()
            .map(|o| {
                (
                    o.span.start,
                    text[o.span.start..o.span.end].to_string(),
                    o.target,
                )
            })
            .collect();
        found.sort_by_key(|(start, _, _)| *start);
        found
            .into_iter()
            .map(|(_, t, target)| (t, target))
            .collect()
    }

    #[test]
    fn names_resolve_through_aliases_and_element_binders() {
        let text = "list shells = [\"sh\"]\nmacro root = container.run_as_user == 0\npolicy \"p\" {\n  severity high\n  lifecycle deploy\n  soc2 CC7.2\n  when any container as c: c.image.tag == \"latest\" and root and any cap in c.add_capabilities: cap in shells\n}\n";
        let found = occurrences_of(text);
        let has = |name: &str, target: Target| {
            assert!(
                found.iter().any(|(t, g)| t == name && *g == target),
                "{name} {target:?} in {found:?}"
            )
        };
        has("shells", Target::ListDef("shells".into()));
        has("root", Target::MacroDef("root".into()));
        has("run_as_user", Target::Field(FieldId::ContainerRunAsUser));
        has("\"p\"", Target::PolicyDef("p".into()));
        has("high", Target::Word("high".into()));
        has("CC7.2", Target::Soc2("CC7.2".into()));
        has("c", Target::Subject(Subject::Container));
        has("image", Target::Subject(Subject::Image));
        has("tag", Target::Field(FieldId::ImageTag));
        has("root", Target::Name("root".into()));
        has(
            "add_capabilities",
            Target::Field(FieldId::ContainerAddCapabilities),
        );
        has("cap", Target::Subject(Subject::Element));
        has("shells", Target::Word("shells".into()));
    }
}
