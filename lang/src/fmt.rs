//! The canonical printer: AST back to text. Formatting is idempotent and never changes
//! meaning (parsing the output gives an equal AST); comments above items and clauses are kept.

use crate::ast::*;
use crate::diag::{Diagnostic, Sources};

/// Lines longer than this break a `when` condition at its top-level `and`/`or`.
const WIDTH: usize = 100;

/// Formats the file at `index`; comments the formatter cannot keep are an error.
pub fn format_source(sources: &Sources, index: usize) -> Result<String, Vec<Diagnostic>> {
    let file = crate::parse(sources, index)?;
    if let Some(span) = file.unplaced_comments.first() {
        return Err(vec![
            Diagnostic::error(
                index,
                *span,
                "the formatter cannot keep a comment inside a condition or a record",
                "comment here",
            )
            .with_help("move the comment onto its own line above the clause"),
        ]);
    }
    Ok(format_file(&file))
}

/// Prints a parsed file canonically.
pub fn format_file(f: &File) -> String {
    let mut out = String::new();
    for (i, item) in f.items.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        for c in &item.comments {
            out.push_str(c.trim_end());
            out.push('\n');
        }
        match &item.kind {
            ItemKind::List(l) => {
                out.push_str(&format!("list {} = {}\n", l.name.node, list(&l.values)))
            }
            ItemKind::Macro(m) => out.push_str(&format!(
                "macro {} = {}\n",
                m.name.node,
                expr(&m.body, Pos::TOP)
            )),
            ItemKind::Policy(p) => policy(p, &mut out),
            ItemKind::Test(t) => test(t, &mut out),
        }
    }
    if !f.trailing_comments.is_empty() {
        if !f.items.is_empty() {
            out.push('\n');
        }
        for c in &f.trailing_comments {
            out.push_str(c.trim_end());
            out.push('\n');
        }
    }
    out
}

fn policy(p: &Policy, out: &mut String) {
    out.push_str(&format!("policy {} {{\n", text(&p.name)));
    for c in &p.clauses {
        for comment in &c.comments {
            out.push_str("  ");
            out.push_str(comment.trim_end());
            out.push('\n');
        }
        out.push_str("  ");
        out.push_str(&clause(&c.kind));
        out.push('\n');
    }
    out.push_str("}\n");
}

fn idents(xs: &[Ident]) -> String {
    xs.iter()
        .map(|x| x.node.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn clause(c: &ClauseKind) -> String {
    match c {
        ClauseKind::Description(t) => format!("description {}", text(t)),
        ClauseKind::Rationale(t) => format!("rationale {}", text(t)),
        ClauseKind::Remediation(t) => format!("remediation {}", text(t)),
        ClauseKind::Message(t) => format!("message {}", text(t)),
        ClauseKind::Severity(s) => format!("severity {}", s.node),
        ClauseKind::Categories(cs) => format!(
            "categories {}",
            cs.iter().map(text).collect::<Vec<_>>().join(", ")
        ),
        ClauseKind::Lifecycle(ls) => format!("lifecycle {}", idents(ls)),
        ClauseKind::EventSource(e) => format!("event_source {}", e.node),
        ClauseKind::Enforce(es) => format!("enforce {}", idents(es)),
        ClauseKind::Mitre { tactic, techniques } if techniques.is_empty() => {
            format!("mitre {}", tactic.node)
        }
        ClauseKind::Mitre { tactic, techniques } => {
            format!("mitre {}: {}", tactic.node, idents(techniques))
        }
        ClauseKind::Soc2(ids) => format!("soc2 {}", idents(ids)),
        ClauseKind::Disabled => "disabled".into(),
        ClauseKind::Scope(parts) => format!("scope {}", where_parts(parts)),
        ClauseKind::Exclude(e) => {
            let target = match &e.target {
                ExclusionTarget::Image(t) => format!("image {}", text(t)),
                ExclusionTarget::Deployment { name, parts } => {
                    let mut s = name
                        .as_ref()
                        .map(|n| format!("deployment {}", pattern(n)))
                        .unwrap_or_default();
                    // `exclude namespace /x/` reads better than `exclude in namespace /x/`.
                    let w = parts
                        .iter()
                        .enumerate()
                        .map(|(i, p)| where_part(p, name.is_some() || i > 0))
                        .collect::<Vec<_>>()
                        .join(" ");
                    if !w.is_empty() {
                        if !s.is_empty() {
                            s.push(' ');
                        }
                        s.push_str(&w);
                    }
                    s
                }
            };
            let until = e
                .until
                .as_ref()
                .map(|d| format!(" until {}", d.node))
                .unwrap_or_default();
            format!("exclude {target} because {}{until}", text(&e.reason))
        }
        ClauseKind::When(e) => when(e),
    }
}

fn when(e: &Expr) -> String {
    format!("when {}", wrapped(e, Pos::TOP, 4, 7))
}

/// A condition that starts at column `column`: on one line when it fits in [`WIDTH`], else
/// broken before each `and`/`or` of its outermost junction (continuation lines indented by
/// `indent`), looking through a leading quantifier or `not`; parenthesised junctions that
/// are still too long break the same way, indented one step further. The parentheses are
/// exactly those of [`expr`], so the text parses back to the same condition.
fn wrapped(e: &Expr, pos: Pos, indent: usize, column: usize) -> String {
    let flat = expr(e, pos);
    if column + flat.len() + 2 <= WIDTH {
        return flat;
    }
    match e {
        Expr::Or(parts, _) | Expr::And(parts, _) => {
            let is_or = matches!(e, Expr::Or(..));
            let needs_parens = match pos.ctx {
                Ctx::Top => false,
                Ctx::Or => true,
                Ctx::And | Ctx::Not => is_or || matches!(pos.ctx, Ctx::And | Ctx::Not),
            };
            let tail = if needs_parens { true } else { pos.tail };
            let ctx = if is_or { Ctx::Or } else { Ctx::And };
            let sep = if is_or { "or" } else { "and" };
            let inner_indent = if needs_parens { indent + 4 } else { indent };
            let n = parts.len();
            let mut out = String::new();
            for (i, p) in parts.iter().enumerate() {
                let part_pos = Pos {
                    ctx,
                    tail: tail && i + 1 == n,
                };
                let part_column = if i == 0 {
                    column + usize::from(needs_parens)
                } else {
                    out.push_str(&format!("\n{}{sep} ", " ".repeat(inner_indent)));
                    inner_indent + sep.len() + 1
                };
                out.push_str(&wrapped(p, part_pos, inner_indent, part_column));
            }
            if needs_parens {
                format!("({out})")
            } else {
                out
            }
        }
        Expr::Not(x, _) => format!(
            "not {}",
            wrapped(
                x,
                Pos {
                    ctx: Ctx::Not,
                    tail: pos.tail
                },
                indent,
                column + 4
            )
        ),
        Expr::Quant {
            quant,
            binder: b,
            body,
            ..
        } if pos.tail => {
            let q = match quant {
                Quant::Any => "any",
                Quant::Every => "every",
                Quant::No => "no",
            };
            // The body's lines go one step in: they belong to the quantifier.
            let head = format!("{q} {}: ", binder(b));
            let body = wrapped(body, Pos::TOP, indent + 4, column + head.len());
            format!("{head}{body}")
        }
        _ => flat,
    }
}

fn where_parts(parts: &[WherePart]) -> String {
    parts
        .iter()
        .map(|p| where_part(p, false))
        .collect::<Vec<_>>()
        .join(" ")
}

fn where_part(p: &WherePart, in_exclusion: bool) -> String {
    let prep = |word: &str| {
        if in_exclusion {
            format!("in {word}")
        } else {
            word.to_string()
        }
    };
    match p {
        WherePart::Cluster(c) => format!("{} {}", prep("cluster"), pattern(c)),
        WherePart::Namespace(n) => format!("{} {}", prep("namespace"), pattern(n)),
        WherePart::Label(k, v)
        | WherePart::ClusterLabel(k, v)
        | WherePart::NamespaceLabel(k, v) => {
            let word = match p {
                WherePart::ClusterLabel(..) => "cluster_label",
                WherePart::NamespaceLabel(..) => "namespace_label",
                _ => "label",
            };
            format!(
                "{}{word} {} = {}",
                if in_exclusion { "with " } else { "" },
                pattern(k),
                pattern(v)
            )
        }
    }
}

fn pattern(p: &Pattern) -> String {
    match p {
        Pattern::Regex(t) => format!("/{}/", t.value),
        Pattern::Exact(t) => text(t),
    }
}

/// Prints a string literal (raw strings stay raw).
pub fn text(t: &Text) -> String {
    if t.raw {
        let mut hashes = 0;
        while t.value.contains(&format!("\"{}", "#".repeat(hashes))) && hashes < 255 {
            hashes += 1;
        }
        let h = "#".repeat(hashes);
        return format!("r{h}\"{}\"{h}", t.value);
    }
    let mut s = String::from("\"");
    let mut chars = t.value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            '\t' => s.push_str("\\t"),
            '\r' => s.push_str("\\r"),
            '\0' => s.push_str("\\0"),
            // `\{` and `\}` are kept escaped in the value (message templates need to tell them apart).
            '\\' if matches!(chars.peek(), Some('{') | Some('}')) => s.push('\\'),
            '\\' => s.push_str("\\\\"),
            c if c.is_control() => s.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

#[derive(Clone, Copy, PartialEq)]
enum Ctx {
    Top,
    Or,
    And,
    Not,
}

/// Where an expression is printed: its parent, and whether nothing follows it.
#[derive(Clone, Copy)]
struct Pos {
    ctx: Ctx,
    tail: bool,
}

impl Pos {
    const TOP: Pos = Pos {
        ctx: Ctx::Top,
        tail: true,
    };
}

/// Prints a condition on one line.
pub fn print_expr(e: &Expr) -> String {
    expr(e, Pos::TOP)
}

fn expr(e: &Expr, pos: Pos) -> String {
    match e {
        Expr::Or(parts, _) | Expr::And(parts, _) => {
            let is_or = matches!(e, Expr::Or(..));
            let needs_parens = match pos.ctx {
                Ctx::Top => false,
                Ctx::Or => true,
                Ctx::And | Ctx::Not => is_or || matches!(pos.ctx, Ctx::And | Ctx::Not),
            };
            let tail = if needs_parens { true } else { pos.tail };
            let n = parts.len();
            let ctx = if is_or { Ctx::Or } else { Ctx::And };
            let inner: Vec<String> = parts
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    expr(
                        p,
                        Pos {
                            ctx,
                            tail: tail && i + 1 == n,
                        },
                    )
                })
                .collect();
            let joined = inner.join(if is_or { " or " } else { " and " });
            if needs_parens {
                format!("({joined})")
            } else {
                joined
            }
        }
        Expr::Not(x, _) => format!(
            "not {}",
            expr(
                x,
                Pos {
                    ctx: Ctx::Not,
                    tail: pos.tail
                }
            )
        ),
        Expr::Quant {
            quant,
            binder: b,
            body,
            ..
        } => {
            let q = match quant {
                Quant::Any => "any",
                Quant::Every => "every",
                Quant::No => "no",
            };
            let s = format!("{q} {}: {}", binder(b), expr(body, Pos::TOP));
            if pos.tail { s } else { format!("({s})") }
        }
        Expr::Has(p, _) => format!("has({})", path(p)),
        Expr::Test {
            operand: o,
            test: t,
            ..
        } => {
            let lhs = operand(o);
            match t {
                None => lhs,
                Some(t) => format!("{lhs} {}", test_text(t)),
            }
        }
    }
}

fn binder(b: &Binder) -> String {
    match b {
        Binder::Subject {
            subject,
            alias: Some(a),
        } => format!("{} as {}", subject.node, a.node),
        Binder::Subject {
            subject,
            alias: None,
        } => subject.node.clone(),
        Binder::Elements { name, path: p } => format!("{} in {}", name.node, path(p)),
    }
}

fn path(p: &Path) -> String {
    let mut s = p.root.node.clone();
    for step in &p.steps {
        match step {
            Step::Field(f) => {
                s.push('.');
                s.push_str(&f.node);
            }
            Step::Key(k) => s.push_str(&format!("[{}]", text(k))),
        }
    }
    s
}

fn operand(o: &Operand) -> String {
    match o {
        Operand::Path(p) => path(p),
        Operand::DaysSince(p, _) => format!("days_since({})", path(p)),
        Operand::Count {
            binder: b, filter, ..
        } => match filter {
            Some(f) => format!("count({} where {})", binder(b), expr(f, Pos::TOP)),
            None => format!("count({})", binder(b)),
        },
    }
}

fn test_text(t: &Test) -> String {
    match t {
        Test::Cmp(op, v) => format!("{} {}", op.node.as_str(), value(v)),
        Test::Match { negated, value: v } => {
            format!("{} {}", if *negated { "!~" } else { "~" }, value(v))
        }
        Test::Contains(v) => format!("contains {}", value(v)),
        Test::Glob(v) => format!("glob {}", value(v)),
        Test::StartsWith(v) => format!("startswith {}", value(v)),
        Test::EndsWith(v) => format!("endswith {}", value(v)),
        Test::In { negated, value: v } => {
            format!("{}in {}", if *negated { "not " } else { "" }, value(v))
        }
    }
}

fn list(values: &[Value]) -> String {
    format!(
        "[{}]",
        values.iter().map(value).collect::<Vec<_>>().join(", ")
    )
}

fn value(v: &Value) -> String {
    match v {
        Value::Str(t) => text(t),
        Value::Regex(t) => format!("/{}/", t.value),
        Value::Num { text, unit, .. } => match unit {
            Some((Unit::Cores, u)) | Some((Unit::Millicores, u)) if u.len() > 1 => {
                format!("{text} {u}")
            }
            Some((_, u)) => format!("{text}{u}"),
            None => text.clone(),
        },
        Value::Bool(b, _) => b.to_string(),
        Value::Date(d) => d.node.clone(),
        Value::Word(w) => w.node.clone(),
        Value::List(items, _) => list(items),
    }
}

fn test(t: &TestDef, out: &mut String) {
    out.push_str(&format!(
        "test {} for {} {{\n",
        text(&t.title),
        text(&t.policy)
    ));
    for c in &t.clauses {
        match c {
            TestClause::Now(d) => out.push_str(&format!("  now {}\n", d.node)),
            TestClause::Expect(fire, _) => out.push_str(if *fire {
                "  expect fire\n"
            } else {
                "  expect no fire\n"
            }),
            TestClause::Record { kind, body } => out.push_str(&format!(
                "  {} {}\n",
                kind.node,
                json_block(body, 3 + kind.node.len(), 2)
            )),
        }
    }
    out.push_str("}\n");
}

fn json(v: &JsonValue) -> String {
    match v {
        JsonValue::Null => "null".into(),
        JsonValue::Bool(b) => b.to_string(),
        JsonValue::Number(n) => n.clone(),
        JsonValue::Str(t) => text(t),
        JsonValue::Array(items) => format!(
            "[{}]",
            items.iter().map(json).collect::<Vec<_>>().join(", ")
        ),
        JsonValue::Object(fields) if fields.is_empty() => "{}".into(),
        JsonValue::Object(fields) => {
            let inner: Vec<String> = fields
                .iter()
                .map(|(k, quoted, v)| {
                    let key = if *quoted || !is_ident(k) {
                        text(&Text {
                            value: k.clone(),
                            raw: false,
                            span: Default::default(),
                        })
                    } else {
                        k.clone()
                    };
                    format!("{key}: {}", json(v))
                })
                .collect();
            format!("{{ {} }}", inner.join(", "))
        }
    }
}

/// A record literal: on one line when it fits, else one field per line.
fn json_block(v: &JsonValue, column: usize, indent: usize) -> String {
    let flat = json(v);
    if column + flat.len() <= WIDTH {
        return flat;
    }
    let pad = " ".repeat(indent + 2);
    match v {
        JsonValue::Object(fields) if !fields.is_empty() => {
            let inner: Vec<String> = fields
                .iter()
                .map(|(k, quoted, v)| {
                    let key = key_text(k, *quoted);
                    format!(
                        "{pad}{key}: {}",
                        json_block(v, indent + 2 + key.len() + 2, indent + 2)
                    )
                })
                .collect();
            format!("{{\n{}\n{}}}", inner.join(",\n"), " ".repeat(indent))
        }
        JsonValue::Array(items) if !items.is_empty() => {
            let inner: Vec<String> = items
                .iter()
                .map(|x| format!("{pad}{}", json_block(x, indent + 2, indent + 2)))
                .collect();
            format!("[\n{}\n{}]", inner.join(",\n"), " ".repeat(indent))
        }
        _ => flat,
    }
}

fn key_text(k: &str, quoted: bool) -> String {
    if quoted || !is_ident(k) {
        text(&Text {
            value: k.to_string(),
            raw: false,
            span: Default::default(),
        })
    } else {
        k.to_string()
    }
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !matches!(
            s,
            "and"
                | "or"
                | "not"
                | "in"
                | "as"
                | "any"
                | "every"
                | "no"
                | "where"
                | "true"
                | "false"
                | "null"
                | "contains"
                | "glob"
                | "startswith"
                | "endswith"
                | "has"
                | "count"
                | "days_since"
        )
}

#[cfg(test)]
mod tests {
    use crate::{SourceFile, Sources};

    /// Formats `text`, checks that formatting again changes nothing and that the result
    /// parses to the same file.
    fn formatted(text: &str) -> String {
        let mut sources = Sources::default();
        let i = sources.add(SourceFile::new("a.pal", text));
        let once = super::format_source(&sources, i).unwrap_or_default();
        let j = sources.add(SourceFile::new("b.pal", once.clone()));
        assert_eq!(super::format_source(&sources, j).ok().as_ref(), Some(&once));
        assert_eq!(
            crate::parse(&sources, i).ok(),
            crate::parse(&sources, j).ok()
        );
        once
    }

    #[test]
    fn a_header_comment_stays_apart_from_the_first_policy() {
        let text = "// Shop policies.\n// Owner: platform.\n\n\n// the first\npolicy \"a\" {\n  severity low\n  lifecycle deploy\n  soc2 CC6.1\n  when container.privileged\n}\n";
        assert_eq!(
            formatted(text),
            "// Shop policies.\n// Owner: platform.\n\n// the first\npolicy \"a\" {\n  severity low\n  lifecycle deploy\n  soc2 CC6.1\n  when container.privileged\n}\n"
        );
    }

    #[test]
    fn long_conditions_wrap_at_and_or_also_inside_groups_and_quantifiers() {
        let policy = |when: &str| {
            format!(
                "policy \"a\" {{\n  severity low\n  lifecycle deploy\n  soc2 CC6.1\n  when {when}\n}}\n"
            )
        };
        let out = formatted(&policy(
            "deployment.host_network and (container.privileged or container.allow_privilege_escalation == true or container.read_only_root_filesystem == false) and deployment.namespace != \"kube-system-and-friends\"",
        ));
        assert!(out.contains("  when deployment.host_network\n    and (container.privileged\n        or container.allow_privilege_escalation == true\n        or container.read_only_root_filesystem == false)\n    and deployment.namespace != \"kube-system-and-friends\"\n"), "{out}");
        let out = formatted(&policy(
            "any container: container.privileged and container.read_only_root_filesystem == false and container.allow_privilege_escalation == true",
        ));
        assert!(out.contains("  when any container: container.privileged\n        and container.read_only_root_filesystem == false\n        and container.allow_privilege_escalation == true\n"), "{out}");
        assert!(out.lines().all(|l| l.len() <= super::WIDTH), "{out}");
        // Short conditions stay on one line.
        assert!(
            formatted(&policy("container.privileged and deployment.host_network"))
                .contains("  when container.privileged and deployment.host_network\n")
        );
    }
}
