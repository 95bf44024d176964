//! Typing of leaf tests: which tests each field type takes, and literal values.

use super::lower::{Lowerer, validate_regex};
use crate::ast::{self, CmpOp, MemUnit, Unit, Value};
use crate::hir::{Operand, Test};
use crate::schema::{EnumKind, Ty};
use crate::span::Span;

impl Lowerer<'_, '_> {
    pub(super) fn test(
        &mut self,
        operand: &Operand,
        ty: Ty,
        test: Option<&ast::Test>,
        span: Span,
    ) -> Option<Test> {
        let Some(test) = test else {
            if ty == Ty::Bool {
                return Some(Test::Truthy);
            }
            let what = self.text_of(span);
            let example = match ty {
                Ty::Str => format!("{what} == \"...\""),
                Ty::Num | Ty::Cpu | Ty::Mem => format!("{what} > 0"),
                Ty::Time => format!("days_since({what}) > 30"),
                Ty::Enum(k) => format!("{what} == {}", k.word(0)),
                Ty::StrList | Ty::Map => format!("{what} contains \"...\""),
                Ty::Bool => what.clone(),
            };
            let d = self
                .error(
                    span,
                    format!("`{what}` is {}, not a condition", ty.describe()),
                    "needs a test",
                )
                .with_help(format!("compare it, e.g. `{example}`"));
            self.push(d);
            return None;
        };
        let _ = operand;
        match test {
            ast::Test::Cmp(op, value) => self.cmp(ty, op.node, op.span, value, span),
            ast::Test::Match { negated, value } => {
                let patterns = self.patterns(value)?;
                match ty {
                    Ty::Str => Some(Test::Regex {
                        patterns,
                        negated: *negated,
                    }),
                    Ty::StrList => Some(Test::ListMatch {
                        patterns,
                        negated: *negated,
                    }),
                    _ => self.mismatch(span, ty, "`~`", "strings and lists of strings"),
                }
            }
            ast::Test::Contains(value) => match (ty, value) {
                (Ty::Str, Value::Regex(t)) => {
                    validate_regex(self.g, &t.value, true, t.span, self.file, self.diags)?;
                    Some(Test::Search(t.value.clone()))
                }
                (Ty::Str, Value::Str(t)) => Some(Test::Substring(t.value.clone())),
                (Ty::StrList, Value::Str(t)) => Some(Test::ListHas(t.value.clone())),
                (Ty::StrList, Value::Regex(_)) => Some(Test::ListMatch {
                    patterns: self.patterns(value)?,
                    negated: false,
                }),
                (Ty::StrList, Value::List(..) | Value::Word(_)) => {
                    Some(Test::ListHasAny(self.strings(value)?))
                }
                (Ty::Map, Value::Str(t)) => Some(Test::MapHasKey(t.value.clone())),
                (Ty::Str | Ty::StrList | Ty::Map, _) => {
                    let d = self.error(
                        value.span(),
                        "`contains` takes a string or a `/regex/` here",
                        "unexpected value",
                    );
                    self.push(d);
                    None
                }
                _ => self.mismatch(span, ty, "`contains`", "strings, lists and maps"),
            },
            ast::Test::Glob(value) => {
                let g = self.single_string(value, "glob")?;
                if ty != Ty::Str {
                    return self.mismatch(span, ty, "`glob`", "strings");
                }
                if let Err(e) = crate::hir::build_glob(&g) {
                    let d = self.error(value.span(), format!("invalid glob `{g}`: {}", e.kind()), "this glob does not compile")
                        .with_help("globs use `*` (within one path segment), `**` (across segments), `?`, `[abc]` and `{a,b}`");
                    self.push(d);
                    return None;
                }
                Some(Test::Glob(g))
            }
            ast::Test::StartsWith(value) | ast::Test::EndsWith(value) => {
                let s = self.single_string(value, "prefix")?;
                if ty != Ty::Str {
                    return self.mismatch(span, ty, "`startswith`/`endswith`", "strings");
                }
                Some(if matches!(test, ast::Test::StartsWith(_)) {
                    Test::Prefix(s)
                } else {
                    Test::Suffix(s)
                })
            }
            ast::Test::In { negated, value } => match ty {
                Ty::Str => Some(Test::InStrs {
                    values: self.strings(value)?,
                    negated: *negated,
                }),
                Ty::Num | Ty::Cpu | Ty::Mem => {
                    let items = self.list_items(value)?;
                    let mut values = Vec::new();
                    for v in &items {
                        values.push(self.number(ty, v)?);
                    }
                    Some(Test::InNums {
                        values,
                        negated: *negated,
                    })
                }
                Ty::Enum(kind) => {
                    let items = self.list_items(value)?;
                    let mut values = Vec::new();
                    for v in &items {
                        values.push(self.enum_value(kind, v)?);
                    }
                    Some(Test::InEnums {
                        kind,
                        values,
                        negated: *negated,
                    })
                }
                _ => self.mismatch(
                    span,
                    ty,
                    "`in`",
                    "strings, numbers and enumerations (for lists use `contains`)",
                ),
            },
        }
    }

    fn mismatch(&mut self, span: Span, ty: Ty, test: &str, takes: &str) -> Option<Test> {
        let what = self.text_of(span);
        let d = self
            .error(
                span,
                format!(
                    "{test} does not apply to `{}`, which is {}",
                    what.split_whitespace().next().unwrap_or(""),
                    ty.describe()
                ),
                "type mismatch",
            )
            .with_help(format!("{test} works on {takes}"));
        self.push(d);
        None
    }

    fn cmp(&mut self, ty: Ty, op: CmpOp, op_span: Span, value: &Value, span: Span) -> Option<Test> {
        let ordered_op = !matches!(op, CmpOp::Eq | CmpOp::Ne);
        match ty {
            Ty::Bool => match value {
                Value::Bool(b, _) if !ordered_op => Some(Test::Bool(op, *b)),
                Value::Bool(..) => {
                    let d = self.error(
                        op_span,
                        format!("`{}` does not order booleans", op.as_str()),
                        "use == or !=",
                    );
                    self.push(d);
                    None
                }
                other => self.expected(other, "`true` or `false`"),
            },
            Ty::Num | Ty::Cpu | Ty::Mem => Some(Test::Num(op, self.number(ty, value)?)),
            Ty::Str => match value {
                Value::Str(t) if !ordered_op => Some(Test::Str(op, t.value.clone())),
                Value::Str(_) => {
                    let d = self
                        .error(
                            op_span,
                            format!("`{}` does not order strings", op.as_str()),
                            "use == or !=",
                        )
                        .with_help("to match text, use `~ /regex/`, `startswith` or `glob`");
                    self.push(d);
                    None
                }
                Value::Regex(_) => {
                    let d = self
                        .error(op_span, "use `~` to match a regex", "not a regex operator")
                        .with_help("write `field ~ /regex/`");
                    self.push(d);
                    None
                }
                other => self.expected(other, "a string"),
            },
            Ty::Time => match value {
                Value::Date(d) => match crate::hir::parse_time(&d.node) {
                    Some(t) => Some(Test::Time(op, t)),
                    None => {
                        let e = self
                            .error(d.span, format!("invalid date `{}`", d.node), "not a date")
                            .with_help("write YYYY-MM-DD or an RFC 3339 time");
                        self.push(e);
                        None
                    }
                },
                other => self.expected(
                    other,
                    "a date such as 2024-01-31; for ages use `days_since(...) > N`",
                ),
            },
            Ty::Enum(kind) => {
                if ordered_op && !kind.is_ordered() {
                    let d = self.error(
                        op_span,
                        format!("`{}` has no order", kind.values().join("/")),
                        "use == or != or in",
                    );
                    self.push(d);
                    return None;
                }
                Some(Test::Enum(op, kind, self.enum_value(kind, value)?))
            }
            Ty::StrList | Ty::Map => {
                let d = self
                    .error(
                        span,
                        format!("cannot compare {} with `{}`", ty.describe(), op.as_str()),
                        "not comparable",
                    )
                    .with_help("use `contains`, or `any x in ...: x ...`");
                self.push(d);
                None
            }
        }
    }

    fn expected(&mut self, value: &Value, what: &str) -> Option<Test> {
        let d = self.error(value.span(), format!("expected {what}"), "unexpected value");
        self.push(d);
        None
    }

    fn number(&mut self, ty: Ty, value: &Value) -> Option<f64> {
        let Value::Num {
            value: v,
            unit,
            span,
            ..
        } = value
        else {
            let d = self.error(
                value.span(),
                format!("expected {}", ty.describe()),
                "not a number",
            );
            self.push(d);
            return None;
        };
        let unit_kind = unit.as_ref().map(|(u, _)| *u);
        let converted = match (ty, unit_kind) {
            (_, None) => Some(*v),
            (Ty::Cpu, Some(Unit::Cores)) => Some(*v),
            (Ty::Cpu, Some(Unit::Millicores)) => Some(*v / 1000.0),
            (Ty::Mem, Some(Unit::Memory(m))) => Some(match m {
                MemUnit::Kib => *v / 1024.0,
                MemUnit::Mib => *v,
                MemUnit::Gib => *v * 1024.0,
                MemUnit::Tib => *v * 1024.0 * 1024.0,
            }),
            _ => None,
        };
        if converted.is_none() {
            let unit_text = unit.as_ref().map(|(_, t)| t.as_str()).unwrap_or("");
            let help = match ty {
                Ty::Cpu => "CPU takes `cores` or `m` (millicores), e.g. `500m`",
                Ty::Mem => "memory takes KiB, MiB, GiB (KB, MB, GB mean the same)",
                _ => "this field is a plain number",
            };
            let d = self
                .error(
                    *span,
                    format!("unit `{unit_text}` does not fit {}", ty.describe()),
                    "wrong unit",
                )
                .with_help(help);
            self.push(d);
        }
        converted
    }

    fn enum_value(&mut self, kind: EnumKind, value: &Value) -> Option<u8> {
        let (word, span) = match value {
            Value::Word(w) => (w.node.as_str(), w.span),
            Value::Str(t) => (t.value.as_str(), t.span),
            other => {
                let d = self.error(
                    other.span(),
                    format!("expected one of {}", kind.values().join(", ")),
                    "not an enum value",
                );
                self.push(d);
                return None;
            }
        };
        match kind.index_of(word) {
            Some(i) => Some(i),
            None => {
                let d = self
                    .error(
                        span,
                        format!("`{word}` is not one of {}", kind.values().join(", ")),
                        "unknown value",
                    )
                    .did_you_mean(word, kind.values().iter().copied());
                self.push(d);
                None
            }
        }
    }

    /// The items of a list literal or named list (a single value is a list of one).
    fn list_items(&mut self, value: &Value) -> Option<Vec<Value>> {
        match value {
            Value::List(items, _) => Some(items.clone()),
            Value::Word(w) => match self.g.lists.get(&w.node) {
                Some((l, _)) => Some(l.values.clone()),
                None if self.g.macros.contains_key(&w.node) => {
                    let d = self.error(
                        w.span,
                        format!("`{}` is a macro, not a list", w.node),
                        "not a list",
                    );
                    self.push(d);
                    None
                }
                None => Some(vec![value.clone()]),
            },
            other => Some(vec![other.clone()]),
        }
    }

    fn strings(&mut self, value: &Value) -> Option<Vec<String>> {
        if let Value::Word(w) = value
            && !self.g.lists.contains_key(&w.node)
        {
            let names: Vec<&str> = self.g.lists.keys().map(|s| s.as_str()).collect();
            let d = self
                .error(w.span, format!("unknown list `{}`", w.node), "not a list")
                .did_you_mean(&w.node, names);
            self.push(d);
            return None;
        }
        let items = self.list_items(value)?;
        let mut out = Vec::new();
        for v in items {
            match v {
                Value::Str(t) => out.push(t.value),
                other => {
                    let d = self.error(other.span(), "expected a string", "not a string");
                    self.push(d);
                    return None;
                }
            }
        }
        Some(out)
    }

    fn patterns(&mut self, value: &Value) -> Option<Vec<String>> {
        let items = self.list_items(value)?;
        let mut out = Vec::new();
        let mut ok = true;
        for v in items {
            match v {
                Value::Regex(t) | Value::Str(t) => {
                    if validate_regex(self.g, &t.value, false, t.span, self.file, self.diags)
                        .is_some()
                    {
                        out.push(t.value);
                    } else {
                        ok = false;
                    }
                }
                Value::Word(w) => {
                    let names: Vec<&str> = self.g.lists.keys().map(|s| s.as_str()).collect();
                    let d = self
                        .error(w.span, format!("unknown list `{}`", w.node), "not a list")
                        .did_you_mean(&w.node, names);
                    self.push(d);
                    ok = false;
                }
                other => {
                    let d = self.error(
                        other.span(),
                        "expected a `/regex/` or a string",
                        "not a pattern",
                    );
                    self.push(d);
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    fn single_string(&mut self, value: &Value, what: &str) -> Option<String> {
        match value {
            Value::Str(t) => Some(t.value.clone()),
            other => {
                let d = self.error(
                    other.span(),
                    format!("expected a string {what}"),
                    "not a string",
                );
                self.push(d);
                None
            }
        }
    }
}
