//! Warnings: conditions that compile and still do not do what they read as.
//!
//! Records may leave fields out, a test on a missing field is unknown, and `not unknown`
//! is unknown: so `not deployment.labels["x"] == "true"` never fires on a deployment
//! without the label, and `container.user != "root"` never fires on a container that names
//! no user. Both are warned about, with the rewrite, unless a `has()` of the same field
//! guards them.

use crate::ast::{self, ClauseKind, Expr, ItemKind, Operand, Test};
use crate::diag::{Diagnostic, Severity, Sources};
use crate::span::Span;

/// Fields every record of their kind has (records.md marks them required): tests on them
/// are never unknown.
const ALWAYS_PRESENT: [&str; 6] = [
    "deployment.id",
    "deployment.name",
    "container.name",
    "process.id",
    "event.id",
    "flow.id",
];

/// Warnings for the policies in `files`: `not`, `!=`, `!~` and `not in` over a field a
/// record may leave out, where no `has()` of that field guards the test.
pub fn missing_data_traps(sources: &Sources, files: &[(usize, ast::File)]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (file, parsed) in files {
        let Some(text) = sources.get(*file).map(|f| f.text.as_str()) else {
            continue;
        };
        for item in &parsed.items {
            let ItemKind::Policy(policy) = &item.kind else {
                continue;
            };
            for clause in &policy.clauses {
                if let ClauseKind::When(e) = &clause.kind {
                    let mut lint = Lint {
                        file: *file,
                        text,
                        bound: Vec::new(),
                        out: &mut out,
                    };
                    lint.expr(e, &[]);
                }
            }
        }
    }
    out
}

struct Lint<'a> {
    file: usize,
    text: &'a str,
    /// Names bound to list elements or map entries (always present).
    bound: Vec<String>,
    out: &'a mut Vec<Diagnostic>,
}

impl Lint<'_> {
    fn source(&self, span: Span) -> &str {
        self.text.get(span.start..span.end).unwrap_or("")
    }

    /// The text of a path that may be missing, or `None`.
    fn missable(&self, path: &ast::Path, guards: &[String]) -> Option<String> {
        let text = self.source(path.span).to_string();
        let always = ALWAYS_PRESENT.contains(&text.as_str())
            || self.bound.contains(&path.root.node)
            || guards.contains(&text);
        (!always).then_some(text)
    }

    /// `has(..)` paths among the conjuncts of an `and` (and nested `and`s).
    fn guards_of(&self, conjuncts: &[Expr], out: &mut Vec<String>) {
        for c in conjuncts {
            match c {
                Expr::Has(p, _) => out.push(self.source(p.span).to_string()),
                Expr::And(kids, _) => self.guards_of(kids, out),
                _ => {}
            }
        }
    }

    /// The first test in `e` over a field that may be missing (not looking into
    /// quantifiers, which are false, not unknown, over an empty list).
    fn first_missable(&self, e: &Expr, guards: &[String]) -> Option<String> {
        match e {
            Expr::Test {
                operand: Operand::Path(p) | Operand::DaysSince(p, _),
                ..
            } => self.missable(p, guards),
            Expr::And(kids, _) => {
                let mut inner = guards.to_vec();
                self.guards_of(kids, &mut inner);
                kids.iter().find_map(|k| self.first_missable(k, &inner))
            }
            Expr::Or(kids, _) => kids.iter().find_map(|k| self.first_missable(k, guards)),
            Expr::Not(x, _) => self.first_missable(x, guards),
            _ => None,
        }
    }

    fn warn(&mut self, span: Span, message: String, label: &str, help: String) {
        self.out.push(Diagnostic {
            severity: Severity::Warning,
            message,
            file: self.file,
            span,
            label: label.to_string(),
            help: Some(help),
            related: Vec::new(),
        });
    }

    fn expr(&mut self, e: &Expr, guards: &[String]) {
        match e {
            Expr::And(kids, _) => {
                let mut inner = guards.to_vec();
                self.guards_of(kids, &mut inner);
                for k in kids {
                    self.expr(k, &inner);
                }
            }
            Expr::Or(kids, _) => {
                // `not has(p) or ...`: the other branches meet `p` only where it is present.
                let mut inner = guards.to_vec();
                for k in kids {
                    if let Expr::Not(x, _) = k
                        && let Expr::Has(p, _) = x.as_ref()
                    {
                        inner.push(self.source(p.span).to_string());
                    }
                }
                for k in kids {
                    self.expr(k, &inner);
                }
            }
            Expr::Not(x, span) => {
                if let Some(path) = self.first_missable(x, guards) {
                    let inner = match x.as_ref() {
                        Expr::Or(..) | Expr::And(..) => format!("({})", crate::print_expr(x)),
                        _ => crate::print_expr(x),
                    };
                    self.warn(
                        *span,
                        format!("`not` over `{path}`, which a record may leave out: where it is missing, the condition is unknown and the policy does not fire"),
                        "unknown where the field is missing",
                        format!("to fire where it is missing too, write `not (has({path}) and {inner})`; to require it, `has({path}) and not {inner}`"),
                    );
                } else {
                    self.expr(x, guards);
                }
            }
            Expr::Quant { binder, body, .. } => {
                let pushed = match binder {
                    ast::Binder::Elements { name, .. } => {
                        self.bound.push(name.node.clone());
                        true
                    }
                    _ => false,
                };
                self.expr(body, guards);
                if pushed {
                    self.bound.pop();
                }
            }
            Expr::Test {
                operand: Operand::Path(p),
                test: Some(test),
                span,
            } => {
                let negated = match test {
                    Test::Cmp(op, _) => (op.node == ast::CmpOp::Ne).then_some("!="),
                    Test::Match { negated: true, .. } => Some("!~"),
                    Test::In { negated: true, .. } => Some("not in"),
                    _ => None,
                };
                if let (Some(op), Some(path)) = (negated, self.missable(p, guards)) {
                    let written = crate::print_expr(e);
                    self.warn(
                        *span,
                        format!("`{op}` on `{path}`, which a record may leave out: where it is missing, the test is unknown and the policy does not fire"),
                        "unknown where the field is missing",
                        format!("to fire where it is missing too, write `not has({path}) or {written}`; to require it, `has({path}) and {written}`"),
                    );
                }
            }
            Expr::Has(..) | Expr::Test { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::SourceFile;

    fn warnings(when: &str) -> Vec<String> {
        let mut sources = Sources::default();
        let text =
            format!("policy \"p\" {{ severity low lifecycle deploy soc2 CC6.1 when {when} }}");
        let index = sources.add(SourceFile::new("p.pal".to_string(), text));
        let Ok(file) = crate::parse(&sources, index) else {
            return vec!["parse error".into()];
        };
        missing_data_traps(&sources, &[(index, file)])
            .into_iter()
            .map(|d| d.message)
            .collect()
    }

    #[test]
    fn not_and_negated_tests_over_missable_fields_are_warned() {
        let w = warnings(r#"not deployment.labels["x"] == "true""#);
        assert_eq!(w.len(), 1);
        assert!(
            w[0].starts_with(r#"`not` over `deployment.labels["x"]`"#),
            "{w:?}"
        );
        assert_eq!(warnings("not container.privileged").len(), 1);
        assert_eq!(warnings(r#"container.image.tag != "latest""#).len(), 1);
        assert_eq!(warnings("deployment.namespace !~ /kube-.*/").len(), 1);
        assert_eq!(warnings(r#"deployment.namespace not in ["a"]"#).len(), 1);
    }

    #[test]
    fn guarded_always_present_and_element_tests_are_not() {
        for when in [
            r#"not (has(deployment.labels["x"]) and deployment.labels["x"] == "true")"#,
            r#"has(deployment.labels["x"]) and not deployment.labels["x"] == "true""#,
            r#"not has(deployment.labels["x"]) or deployment.labels["x"] != "true""#,
            r#"deployment.name != "web""#,
            r#"not container.name == "web""#,
            r#"no l in deployment.labels: l.key != "team""#,
            "not (any container: container.privileged)",
            r#"container.image.tag == "latest""#,
        ] {
            assert_eq!(warnings(when), Vec::<String>::new(), "{when}");
        }
    }
}
