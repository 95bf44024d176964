//! Pest pairs to AST nodes.

use super::Rule;
use crate::ast::*;
use crate::diag::Diagnostic;
use crate::span::{Span, Spanned};
use pest::iterators::Pair;

use super::scan::MAX_DEPTH;

/// The error for a condition nested past [`MAX_DEPTH`] at `at`.
pub(crate) fn too_deep(file: usize, at: Span) -> Diagnostic {
    Diagnostic::error(
        file,
        at,
        format!("condition nested too deeply (more than {MAX_DEPTH} levels)"),
        "nesting limit reached here",
    )
    .with_help("every `and`/`or` inside another, `not`, quantifier, bracket and expanded macro is a level: split the condition into policies or flatten it")
}

pub(super) struct Builder<'e> {
    pub file: usize,
    pub offset: usize,
    pub errors: &'e mut Vec<Diagnostic>,
    /// How many `and`/`or` junctions, `not`s and quantifiers enclose the condition being built.
    pub depth: usize,
    /// Set when a condition was refused for its depth (its item is then incomplete, like
    /// one with a syntax error, and is not checked further).
    pub too_deep: bool,
}

type P<'i> = Pair<'i, Rule>;

/// The non-comment children of a pair.
fn kids<'i>(p: P<'i>) -> impl Iterator<Item = P<'i>> {
    p.into_inner().filter(|c| c.as_rule() != Rule::COMMENT)
}

impl Builder<'_> {
    fn span(&self, p: &P) -> Span {
        let s = p.as_span();
        Span::new(s.start() + self.offset, s.end() + self.offset)
    }

    /// The span of a pair without comments that implicit whitespace may have swallowed at its end.
    fn content_span(&self, p: &P) -> Span {
        let full = self.span(p);
        match kids(p.clone()).last() {
            Some(last) => Span::new(full.start, self.span(&last).end.max(full.start)),
            None => full,
        }
    }

    fn ident(&self, p: P) -> Ident {
        Spanned::new(p.as_str().to_string(), self.span(&p))
    }

    fn err(&mut self, span: Span, message: impl Into<String>, label: impl Into<String>) {
        self.errors
            .push(Diagnostic::error(self.file, span, message, label));
    }

    pub fn item(&mut self, p: P) -> Option<Item> {
        let span = self.content_span(&p);
        let kind = match p.as_rule() {
            Rule::policy => ItemKind::Policy(self.policy(p)),
            Rule::list_def => {
                let mut it = kids(p);
                let name = self.ident(it.next()?);
                let values = it.next().map(|l| self.list_values(l)).unwrap_or_default();
                ItemKind::List(ListDef { name, values })
            }
            Rule::macro_def => {
                let mut it = kids(p);
                let name = self.ident(it.next()?);
                let body = self.expr(it.next()?)?;
                ItemKind::Macro(MacroDef { name, body })
            }
            Rule::test_def => ItemKind::Test(self.test_def(p)?),
            _ => return None,
        };
        Some(Item {
            comments: Vec::new(),
            kind,
            span,
        })
    }

    fn text(&mut self, p: P) -> Text {
        let span = self.span(&p);
        // `text` is silent: p is string or raw_string.
        match p.as_rule() {
            Rule::raw_string => {
                let inner = kids(p)
                    .next()
                    .map(|i| i.as_str().to_string())
                    .unwrap_or_default();
                Text {
                    value: inner,
                    raw: true,
                    span,
                }
            }
            _ => {
                let inner = kids(p).next();
                let (raw_text, inner_span) = match inner {
                    Some(i) => (i.as_str().to_string(), self.span(&i)),
                    None => (String::new(), span),
                };
                let value = self.unescape(&raw_text, inner_span);
                Text {
                    value,
                    raw: false,
                    span,
                }
            }
        }
    }

    fn unescape(&mut self, s: &str, span: Span) -> String {
        let mut out = String::with_capacity(s.len());
        let mut chars = s.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            let Some((_, e)) = chars.next() else { break };
            match e {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '0' => out.push('\0'),
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                '{' => out.push_str("\\{"),
                '}' => out.push_str("\\}"),
                'u' => {
                    let rest = &s[i + 2..];
                    let parsed = rest
                        .strip_prefix('{')
                        .and_then(|r| r.find('}').map(|end| (&r[..end], end + 2)))
                        .and_then(|(hex, len)| {
                            u32::from_str_radix(hex, 16)
                                .ok()
                                .and_then(char::from_u32)
                                .map(|ch| (ch, len))
                        });
                    match parsed {
                        Some((ch, len)) => {
                            out.push(ch);
                            for _ in 0..len {
                                chars.next();
                            }
                        }
                        None => {
                            let at = span.start + i;
                            self.err(
                                Span::new(at, at + 2),
                                "invalid unicode escape",
                                "expected `\\u{XXXX}`",
                            );
                        }
                    }
                }
                other => {
                    let at = span.start + i;
                    self.errors.push(
                        Diagnostic::error(self.file, Span::new(at, at + 1 + other.len_utf8()),
                            format!("unknown escape `\\{other}`"), "not a valid escape")
                            .with_help("valid escapes: \\n \\t \\r \\0 \\\\ \\\" \\{ \\} \\u{XXXX}; use a raw string r\"...\" for regexes"),
                    );
                }
            }
        }
        out
    }

    fn policy(&mut self, p: P) -> Policy {
        let mut it = kids(p);
        let name = it.next().map(|n| self.text(n)).unwrap_or(Text {
            value: String::new(),
            raw: false,
            span: Span::default(),
        });
        let mut clauses = Vec::new();
        for c in it {
            let span = self.content_span(&c);
            if let Some(kind) = self.clause(c) {
                clauses.push(Clause {
                    comments: Vec::new(),
                    kind,
                    span,
                });
            }
        }
        Policy { name, clauses }
    }

    fn clause(&mut self, c: P) -> Option<ClauseKind> {
        let rule = c.as_rule();
        let mut it = kids(c.clone());
        Some(match rule {
            Rule::c_description => ClauseKind::Description(self.text(it.next()?)),
            Rule::c_rationale => ClauseKind::Rationale(self.text(it.next()?)),
            Rule::c_remediation => ClauseKind::Remediation(self.text(it.next()?)),
            Rule::c_message => ClauseKind::Message(self.text(it.next()?)),
            Rule::c_severity => ClauseKind::Severity(self.ident(it.next()?)),
            Rule::c_event_source => ClauseKind::EventSource(self.ident(it.next()?)),
            Rule::c_categories => ClauseKind::Categories(it.map(|t| self.text(t)).collect()),
            Rule::c_lifecycle => ClauseKind::Lifecycle(it.map(|t| self.ident(t)).collect()),
            Rule::c_enforce => ClauseKind::Enforce(it.map(|t| self.ident(t)).collect()),
            Rule::c_soc2 => ClauseKind::Soc2(it.map(|t| self.ident(t)).collect()),
            Rule::c_mitre => {
                let tactic = self.ident(it.next()?);
                ClauseKind::Mitre {
                    tactic,
                    techniques: it.map(|t| self.ident(t)).collect(),
                }
            }
            Rule::c_disabled => ClauseKind::Disabled,
            Rule::c_scope => ClauseKind::Scope(it.filter_map(|w| self.where_part(w)).collect()),
            Rule::c_when => ClauseKind::When(self.expr(it.next()?)?),
            Rule::c_exclude => {
                let target_pair = it.next()?;
                let target = match target_pair.as_rule() {
                    Rule::excl_image => {
                        ExclusionTarget::Image(self.text(kids(target_pair).next()?))
                    }
                    _ => {
                        let mut name = None;
                        let mut parts = Vec::new();
                        for k in kids(target_pair) {
                            if k.as_rule() == Rule::pattern {
                                name = Some(self.pattern(k)?);
                            } else if let Some(w) = self.where_part(k) {
                                parts.push(w);
                            }
                        }
                        ExclusionTarget::Deployment { name, parts }
                    }
                };
                let reason = self.text(it.next()?);
                let until = it
                    .next()
                    .map(|d| Spanned::new(d.as_str().to_string(), self.span(&d)));
                ClauseKind::Exclude(Exclusion {
                    target,
                    reason,
                    until,
                })
            }
            _ => return None,
        })
    }

    fn pattern(&mut self, p: P) -> Option<Pattern> {
        let inner = kids(p).next()?;
        Some(match inner.as_rule() {
            Rule::regex => Pattern::Regex(self.regex_text(inner)),
            _ => Pattern::Exact(self.text(inner)),
        })
    }

    fn regex_text(&mut self, p: P) -> Text {
        let span = self.span(&p);
        let inner = kids(p)
            .next()
            .map(|i| i.as_str().to_string())
            .unwrap_or_default();
        // Kept verbatim: `\/` is a valid regex escape for `/`, and the formatter prints it back as written.
        Text {
            value: inner,
            raw: false,
            span,
        }
    }

    fn where_part(&mut self, w: P) -> Option<WherePart> {
        let rule = w.as_rule();
        let mut pats = kids(w).filter(|k| k.as_rule() == Rule::pattern);
        Some(match rule {
            Rule::wp_cluster => WherePart::Cluster(self.pattern(pats.next()?)?),
            Rule::wp_namespace => WherePart::Namespace(self.pattern(pats.next()?)?),
            Rule::wp_label | Rule::wp_cluster_label | Rule::wp_namespace_label => {
                let k = self.pattern(pats.next()?)?;
                let v = self.pattern(pats.next()?)?;
                match rule {
                    Rule::wp_cluster_label => WherePart::ClusterLabel(k, v),
                    Rule::wp_namespace_label => WherePart::NamespaceLabel(k, v),
                    _ => WherePart::Label(k, v),
                }
            }
            _ => return None,
        })
    }

    /// Builds `p` one nesting level deeper than its parent, refusing it (with the position
    /// of the construct past the limit) beyond [`MAX_DEPTH`]: every later pass recurses over
    /// conditions, so the bound must hold before any of them runs.
    fn nested<T>(
        &mut self,
        levels: usize,
        at: Span,
        build: impl FnOnce(&mut Self) -> Option<T>,
    ) -> Option<T> {
        if self.depth + levels > MAX_DEPTH {
            if !self.too_deep {
                self.errors.push(too_deep(self.file, at));
            }
            self.too_deep = true;
            return None;
        }
        self.depth += levels;
        let out = build(self);
        self.depth -= levels;
        out
    }

    pub fn expr(&mut self, p: P) -> Option<Expr> {
        let span = self.span(&p);
        match p.as_rule() {
            Rule::expr => self.expr(kids(p).next()?),
            Rule::or_expr | Rule::and_expr => {
                let is_or = p.as_rule() == Rule::or_expr;
                let operands: Vec<P> = kids(p)
                    .filter(|k| !matches!(k.as_rule(), Rule::kw_and | Rule::kw_or))
                    .collect();
                if operands.len() == 1 {
                    return self.expr(operands.into_iter().next()?);
                }
                let parts = self.nested(1, span, |b| {
                    let mut parts = Vec::new();
                    for k in operands {
                        parts.push(b.expr(k)?);
                    }
                    Some(parts)
                })?;
                Some(if is_or {
                    Expr::Or(parts, span)
                } else {
                    Expr::And(parts, span)
                })
            }
            Rule::unary => {
                let all: Vec<P> = kids(p).collect();
                let nots: Vec<Span> = all
                    .iter()
                    .filter(|k| k.as_rule() == Rule::kw_not)
                    .map(|k| self.span(k))
                    .collect();
                let last = all.into_iter().rfind(|k| k.as_rule() != Rule::kw_not)?;
                // The first `not` past the limit is where the error points.
                let room = MAX_DEPTH.saturating_sub(self.depth);
                let at = nots.get(room).copied().unwrap_or(span);
                let mut e = self.nested(nots.len(), at, |b| b.expr(last))?;
                for s in nots.into_iter().rev() {
                    let sp = s.to(e.span());
                    e = Expr::Not(Box::new(e), sp);
                }
                Some(e)
            }
            Rule::paren => self.expr(kids(p).next()?),
            Rule::quantifier => {
                let mut it = kids(p);
                let q = it.next()?;
                let quant = match kids(q).next()?.as_rule() {
                    Rule::kw_every => Quant::Every,
                    Rule::kw_no => Quant::No,
                    _ => Quant::Any,
                };
                let binder = self.binder(it.next()?)?;
                let body = self.nested(1, span, |b| b.expr(it.next()?))?;
                Some(Expr::Quant {
                    quant,
                    binder,
                    body: Box::new(body),
                    span,
                })
            }
            Rule::has_call => Some(Expr::Has(self.path(kids(p).next()?), span)),
            Rule::comparison => {
                let mut it = kids(p);
                let operand = self.operand(it.next()?)?;
                let test = match it.next() {
                    Some(t) => Some(self.test(t)?),
                    None => None,
                };
                Some(Expr::Test {
                    operand,
                    test,
                    span,
                })
            }
            _ => None,
        }
    }

    fn binder(&mut self, p: P) -> Option<Binder> {
        let mut it = kids(p);
        let first = self.ident(it.next()?);
        match it.next() {
            Some(k) if k.as_rule() == Rule::kw_in => Some(Binder::Elements {
                name: first,
                path: self.path(it.next()?),
            }),
            Some(k) if k.as_rule() == Rule::kw_as => Some(Binder::Subject {
                subject: first,
                alias: Some(self.ident(it.next()?)),
            }),
            _ => Some(Binder::Subject {
                subject: first,
                alias: None,
            }),
        }
    }

    fn path(&mut self, p: P) -> Path {
        let span = self.span(&p);
        let mut it = kids(p);
        let root = it
            .next()
            .map(|r| self.ident(r))
            .unwrap_or_else(|| Spanned::new(String::new(), span));
        let steps = it
            .map(|s| match s.as_rule() {
                Rule::ident => Step::Field(self.ident(s)),
                _ => Step::Key(self.text(s)),
            })
            .collect();
        Path { root, steps, span }
    }

    fn operand(&mut self, p: P) -> Option<Operand> {
        let inner = kids(p).next()?;
        let span = self.span(&inner);
        Some(match inner.as_rule() {
            Rule::days_since => Operand::DaysSince(self.path(kids(inner).next()?), span),
            Rule::count_call => {
                let mut it = kids(inner);
                let binder = self.binder(it.next()?)?;
                let filter = match it.find(|k| k.as_rule() != Rule::kw_where) {
                    Some(e) => Some(Box::new(self.nested(1, span, |b| b.expr(e))?)),
                    None => None,
                };
                Operand::Count {
                    binder,
                    filter,
                    span,
                }
            }
            _ => Operand::Path(self.path(inner)),
        })
    }

    fn test(&mut self, t: P) -> Option<Test> {
        let rule = t.as_rule();
        let mut it = kids(t).filter(|k| {
            !matches!(
                k.as_rule(),
                Rule::kw_not
                    | Rule::kw_in
                    | Rule::kw_contains
                    | Rule::kw_glob
                    | Rule::kw_startswith
                    | Rule::kw_endswith
            )
        });
        Some(match rule {
            Rule::t_cmp => {
                let op_pair = it.next()?;
                let op = match op_pair.as_str() {
                    "==" => CmpOp::Eq,
                    "!=" => CmpOp::Ne,
                    "<=" => CmpOp::Le,
                    ">=" => CmpOp::Ge,
                    "<" => CmpOp::Lt,
                    _ => CmpOp::Gt,
                };
                let op = Spanned::new(op, self.span(&op_pair));
                Test::Cmp(op, self.value(it.next()?)?)
            }
            Rule::t_match => Test::Match {
                negated: false,
                value: self.value(it.next()?)?,
            },
            Rule::t_not_match => Test::Match {
                negated: true,
                value: self.value(it.next()?)?,
            },
            Rule::t_contains => Test::Contains(self.value(it.next()?)?),
            Rule::t_glob => Test::Glob(self.value(it.next()?)?),
            Rule::t_startswith => Test::StartsWith(self.value(it.next()?)?),
            Rule::t_endswith => Test::EndsWith(self.value(it.next()?)?),
            Rule::t_in => Test::In {
                negated: false,
                value: self.value(it.next()?)?,
            },
            Rule::t_not_in => Test::In {
                negated: true,
                value: self.value(it.next()?)?,
            },
            _ => return None,
        })
    }

    fn list_values(&mut self, l: P) -> Vec<Value> {
        kids(l).filter_map(|v| self.value(v)).collect()
    }

    fn value(&mut self, v: P) -> Option<Value> {
        let span = self.span(&v);
        Some(match v.as_rule() {
            Rule::string | Rule::raw_string => Value::Str(self.text(v)),
            Rule::regex => Value::Regex(self.regex_text(v)),
            Rule::date => Value::Date(Spanned::new(v.as_str().to_string(), span)),
            Rule::boolean => Value::Bool(kids(v).next()?.as_rule() == Rule::kw_true, span),
            Rule::list_lit => Value::List(self.list_values(v), span),
            Rule::ident => Value::Word(self.ident(v)),
            Rule::quantity => {
                let mut it = kids(v);
                let num = it.next()?;
                let text = num.as_str().to_string();
                let value: f64 = match text.parse() {
                    Ok(x) => x,
                    Err(_) => {
                        self.err(span, format!("invalid number `{text}`"), "not a number");
                        0.0
                    }
                };
                let unit = it.next().map(|u| {
                    let s = u.as_str().trim();
                    let unit = match s {
                        "cores" | "core" => Unit::Cores,
                        "m" | "millicores" => Unit::Millicores,
                        "KiB" | "KB" => Unit::Memory(MemUnit::Kib),
                        "MiB" | "MB" => Unit::Memory(MemUnit::Mib),
                        "GiB" | "GB" => Unit::Memory(MemUnit::Gib),
                        _ => Unit::Memory(MemUnit::Tib),
                    };
                    (unit, s.to_string())
                });
                Value::Num {
                    value,
                    unit,
                    text,
                    span,
                }
            }
            _ => return None,
        })
    }

    fn test_def(&mut self, p: P) -> Option<TestDef> {
        let mut it = kids(p);
        let title = self.text(it.next()?);
        let policy = self.text(it.next()?);
        let mut clauses = Vec::new();
        for c in it {
            let span = self.span(&c);
            match c.as_rule() {
                Rule::t_now => {
                    let d = kids(c).next()?;
                    clauses.push(TestClause::Now(Spanned::new(
                        d.as_str().to_string(),
                        self.span(&d),
                    )));
                }
                Rule::t_expect => {
                    let fire = kids(c).next()?.as_rule() == Rule::expect_fire;
                    clauses.push(TestClause::Expect(fire, span));
                }
                Rule::t_record => {
                    let mut k = kids(c);
                    let kind = self.ident(k.next()?);
                    let body = self.json(k.next()?)?;
                    clauses.push(TestClause::Record { kind, body });
                }
                _ => {}
            }
        }
        Some(TestDef {
            title,
            policy,
            clauses,
        })
    }

    fn json(&mut self, p: P) -> Option<JsonValue> {
        Some(match p.as_rule() {
            Rule::obj_lit => {
                let mut fields = Vec::new();
                for f in kids(p) {
                    let mut it = kids(f);
                    let key = it.next()?;
                    let (name, quoted) = match key.as_rule() {
                        Rule::ident => (key.as_str().to_string(), false),
                        _ => (self.text(key).value, true),
                    };
                    fields.push((name, quoted, self.json(it.next()?)?));
                }
                JsonValue::Object(fields)
            }
            Rule::json_array => JsonValue::Array(kids(p).filter_map(|v| self.json(v)).collect()),
            Rule::string | Rule::raw_string => JsonValue::Str(self.text(p)),
            Rule::json_number => JsonValue::Number(p.as_str().to_string()),
            Rule::kw_true => JsonValue::Bool(true),
            Rule::kw_false => JsonValue::Bool(false),
            _ => JsonValue::Null,
        })
    }
}
