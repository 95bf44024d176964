//! Text to [`ast::File`]. Pest types never leave this module.

mod build;
mod scan;

use crate::ast;
use crate::diag::Diagnostic;
use crate::span::Span;
use pest::Parser;
use pest_derive::Parser;

pub(crate) use build::too_deep;
pub use scan::MAX_DEPTH;

#[derive(Parser)]
#[grammar = "syntax/grammar.pest"]
struct PalParser;

/// Parses one file. Every item is parsed on its own, so each broken item reports its own error.
pub fn parse_file(text: &str, file: usize) -> Result<ast::File, Vec<Diagnostic>> {
    let (parsed, errors, _) = parse_file_recover(text, file);
    if errors.is_empty() {
        Ok(parsed)
    } else {
        Err(errors)
    }
}

/// Parses one file and returns what parsed, every error, and whether some item failed
/// to parse at all (a syntax error) rather than parsing with a bad literal.
pub fn parse_file_recover(text: &str, file: usize) -> (ast::File, Vec<Diagnostic>, bool) {
    parse_items(text, file, Items::All)
}

/// Which items to parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Items {
    /// Every item.
    All,
    /// Everything but `test` items (skipped unparsed: loading policies to evaluate them).
    PoliciesOnly,
}

/// [`parse_file_recover`], optionally leaving `test` items out.
pub fn parse_items(text: &str, file: usize, which: Items) -> (ast::File, Vec<Diagnostic>, bool) {
    let (chunks, mut errors) = scan::split_items(text, file);
    if !errors.is_empty() {
        let empty = ast::File {
            items: Vec::new(),
            trailing_comments: Vec::new(),
            unplaced_comments: Vec::new(),
        };
        return (empty, errors, true);
    }
    let mut syntax_failed = false;
    let mut items = Vec::new();
    let mut comments: Vec<(Span, String)> = Vec::new();
    for chunk in chunks {
        let Some(chunk_text) = text.get(chunk.start..chunk.end) else {
            continue;
        };
        if which == Items::PoliciesOnly
            && scan::is_test_item(chunk_text)
            && scan::is_one_closed_item(chunk_text)
        {
            continue;
        }
        match PalParser::parse(Rule::file, chunk_text) {
            Ok(mut pairs) => {
                let Some(file_pair) = pairs.next() else {
                    continue;
                };
                for p in file_pair.clone().into_inner().flatten() {
                    if p.as_rule() == Rule::COMMENT {
                        let s = p.as_span();
                        comments.push((
                            Span::new(s.start() + chunk.start, s.end() + chunk.start),
                            // Trailing whitespace is not part of a comment (the formatter drops it).
                            p.as_str().trim_end().to_string(),
                        ));
                    }
                }
                let mut b = build::Builder {
                    file,
                    offset: chunk.start,
                    errors: &mut errors,
                    depth: 0,
                    too_deep: false,
                };
                for p in file_pair.into_inner() {
                    if let Some(item) = b.item(p) {
                        items.push(item);
                    }
                }
                syntax_failed |= b.too_deep;
            }
            Err(e) => {
                syntax_failed = true;
                errors.push(syntax_error(e, file, chunk.start, text));
            }
        }
    }
    (
        attach_comments(items, comments, text),
        errors,
        syntax_failed,
    )
}

/// Parses a standalone condition (used by tests and the formatter's round trip).
pub fn parse_expr(text: &str, file: usize) -> Result<ast::Expr, Vec<Diagnostic>> {
    let wrapped = format!("macro __expr = {text}");
    let parsed = parse_file(&wrapped, file)?;
    match parsed.items.into_iter().next().map(|i| i.kind) {
        Some(ast::ItemKind::Macro(m)) => Ok(m.body),
        _ => Err(vec![Diagnostic::error(
            file,
            Span::new(0, text.len()),
            "expected a condition",
            "here",
        )]),
    }
}

/// Whether the text between two positions holds an empty line (two line breaks with only
/// whitespace between them).
fn blank_line_between(source: &str, from: usize, to: usize) -> bool {
    source
        .get(from..to)
        .is_some_and(|gap| gap.trim().is_empty() && gap.matches('\n').count() >= 2)
}

/// Comments above an item keep the empty lines that separate them from each other and from
/// the item (an empty string in [`ast::Item::comments`]), so a file's header comment stays
/// apart from the first policy.
fn attach_comments(
    mut items: Vec<ast::Item>,
    comments: Vec<(Span, String)>,
    source: &str,
) -> ast::File {
    let mut unplaced = Vec::new();
    let mut trailing = Vec::new();
    let mut item_idx = 0;
    let mut clause_idx = 0;
    // The end of the last comment attached above the current item.
    let mut above_end: Option<usize> = None;
    let close_above = |item: &mut ast::Item, above_end: Option<usize>| {
        if let Some(end) = above_end
            && blank_line_between(source, end, item.span.start)
        {
            item.comments.push(String::new());
        }
    };
    for (span, text) in comments {
        while item_idx < items.len() && items[item_idx].span.end <= span.start {
            if let Some(item) = items.get_mut(item_idx) {
                close_above(item, above_end.take());
            }
            item_idx += 1;
            clause_idx = 0;
        }
        let Some(item) = items.get_mut(item_idx) else {
            trailing.push(text);
            continue;
        };
        if span.end <= item.span.start {
            if let Some(end) = above_end
                && blank_line_between(source, end, span.start)
            {
                item.comments.push(String::new());
            }
            item.comments.push(text);
            above_end = Some(span.end);
            continue;
        }
        close_above(item, above_end.take());
        // Inside an item: only policy clauses can carry comments.
        let placed = match &mut item.kind {
            ast::ItemKind::Policy(p) => {
                while clause_idx < p.clauses.len() && p.clauses[clause_idx].span.end <= span.start {
                    clause_idx += 1;
                }
                match p.clauses.get_mut(clause_idx) {
                    Some(c) if span.end <= c.span.start => {
                        c.comments.push(text);
                        true
                    }
                    _ => false,
                }
            }
            _ => false,
        };
        if !placed {
            unplaced.push(span);
        }
    }
    if let Some(item) = items.get_mut(item_idx) {
        close_above(item, above_end);
    }
    ast::File {
        items,
        trailing_comments: trailing,
        unplaced_comments: unplaced,
    }
}

fn syntax_error(e: pest::error::Error<Rule>, file: usize, offset: usize, text: &str) -> Diagnostic {
    use pest::error::{ErrorVariant, InputLocation};
    let (start, end) = match e.location {
        InputLocation::Pos(p) => (p, p),
        InputLocation::Span((s, e)) => (s, e),
    };
    let start = start + offset;
    let mut end = (end + offset).max(start);
    if end == start {
        // Point at the offending character (or the end of input).
        end = text[start.min(text.len())..]
            .chars()
            .next()
            .map(|c| start + c.len_utf8())
            .unwrap_or(start);
    }
    let found = text.get(start..end).filter(|s| !s.trim().is_empty());
    if let Some(d) = familiar_mistake(file, offset, start, text) {
        return d;
    }
    let (message, label) = match &e.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let mut names: Vec<&str> = positives.iter().filter_map(|r| rule_name(*r)).collect();
            names.sort();
            names.dedup();
            let expected = if names.is_empty() {
                "valid syntax".to_string()
            } else if names.len() == 1 {
                names[0].to_string()
            } else {
                let (last, rest) = names.split_last().unwrap_or((&"", &[]));
                format!("{} or {}", rest.join(", "), last)
            };
            let message = match found {
                Some(f) => format!(
                    "syntax error: expected {expected}, found `{}`",
                    f.chars().take(20).collect::<String>()
                ),
                None if start >= text.len() => {
                    format!("syntax error: expected {expected}, found end of file")
                }
                None => format!("syntax error: expected {expected}"),
            };
            (message, format!("expected {expected}"))
        }
        ErrorVariant::CustomError { message } => {
            (format!("syntax error: {message}"), "here".to_string())
        }
    };
    Diagnostic::error(file, Span::new(start, end), message, label)
        .with_help("see docs/language.md for the policy syntax")
}

/// Syntax errors with a better message than "expected ...": operators from other
/// languages (`&&`, `||`, `!`), and an item that starts while a bracket of the one before
/// is still open (the `}` it needs is missing: point at the bracket it would close).
fn familiar_mistake(file: usize, offset: usize, start: usize, text: &str) -> Option<Diagnostic> {
    let rest = text.get(start..)?;
    for (symbol, word) in [("&&", "and"), ("||", "or")] {
        if rest.starts_with(symbol) {
            return Some(
                Diagnostic::error(
                    file,
                    Span::new(start, start + 2),
                    format!("`{symbol}` is not an operator in policies: write `{word}`"),
                    format!("write `{word}`"),
                )
                .with_help("conditions combine with `and`, `or` and `not`"),
            );
        }
    }
    if rest.starts_with('!') && !rest.starts_with("!=") && !rest.starts_with("!~") {
        return Some(
            Diagnostic::error(
                file,
                Span::new(start, start + 1),
                "`!` is not an operator in policies: write `not`",
                "write `not`",
            )
            .with_help("conditions combine with `and`, `or` and `not`; `!=` and `!~` compare"),
        );
    }
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let at_line_start = text[line_start..start].trim().is_empty();
    let keyword = ["policy", "macro", "list", "test"].into_iter().find(|k| {
        rest.strip_prefix(k)
            .is_some_and(|r| r.starts_with([' ', '\t', '"']))
    });
    if let (true, Some(keyword)) = (at_line_start, keyword) {
        let chunk = text.get(offset..start)?;
        let (open_at, bracket) = *scan::open_brackets(chunk, chunk.len()).last()?;
        let open_at = offset + open_at;
        let closing = match bracket {
            b'{' => '}',
            b'[' => ']',
            _ => ')',
        };
        return Some(
            Diagnostic::error(
                file,
                Span::new(open_at, open_at + 1),
                format!(
                    "missing `{closing}`: this `{}` is not closed",
                    bracket as char
                ),
                format!("`{}` opened here", bracket as char),
            )
            .with_related(
                Span::new(start, start + keyword.len()),
                format!("the next `{keyword}` starts here"),
            )
            .with_help(format!("add `{closing}` before the next item")),
        );
    }
    None
}

fn rule_name(r: Rule) -> Option<&'static str> {
    Some(match r {
        Rule::EOI => "end of file",
        Rule::policy => "`policy`",
        Rule::list_def => "`list`",
        Rule::macro_def => "`macro`",
        Rule::test_def => "`test`",
        Rule::ident | Rule::path | Rule::operand | Rule::comparison => "a name",
        Rule::string | Rule::raw_string | Rule::text => "a string",
        Rule::regex => "a regex `/.../`",
        Rule::quantity | Rule::number => "a number",
        Rule::date => "a date",
        Rule::value | Rule::list_lit => "a value",
        Rule::expr | Rule::or_expr | Rule::and_expr | Rule::unary | Rule::primary => "a condition",
        Rule::kw_and => "`and`",
        Rule::kw_or => "`or`",
        Rule::kw_not => "`not`",
        Rule::kw_in => "`in`",
        Rule::kw_as => "`as`",
        Rule::quant_kw | Rule::quantifier => "`any`, `every` or `no`",
        Rule::binder => "a subject name",
        Rule::cmp_op | Rule::t_cmp => "a comparison",
        Rule::t_match
        | Rule::t_not_match
        | Rule::t_contains
        | Rule::t_glob
        | Rule::t_startswith
        | Rule::t_endswith
        | Rule::t_in
        | Rule::t_not_in => "a test",
        Rule::c_description
        | Rule::c_rationale
        | Rule::c_remediation
        | Rule::c_severity
        | Rule::c_categories
        | Rule::c_lifecycle
        | Rule::c_event_source
        | Rule::c_enforce
        | Rule::c_mitre
        | Rule::c_soc2
        | Rule::c_disabled
        | Rule::c_scope
        | Rule::c_exclude
        | Rule::c_when
        | Rule::c_message => "a policy clause",
        Rule::pattern => "a pattern (`/regex/` or \"exact\")",
        Rule::where_part | Rule::wp_cluster | Rule::wp_namespace | Rule::wp_label => {
            "`cluster`, `namespace` or `label`"
        }
        Rule::excl_image | Rule::excl_deployment => {
            "`deployment`, `image`, `namespace` or `because`"
        }
        Rule::mitre_id => "a MITRE ATT&CK id",
        Rule::soc2_id => "a SOC 2 criterion id",
        Rule::t_now | Rule::t_expect | Rule::t_record => "`now`, `expect` or a record",
        Rule::expect_fire | Rule::expect_no_fire => "`fire` or `no fire`",
        Rule::obj_lit | Rule::obj_field | Rule::json_array | Rule::json_number => "a record value",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_only_skips_tests_unparsed_and_keeps_the_rest() {
        let text = "policy \"p\" { severity high lifecycle deploy soc2 CC6.1 when container.privileged }\n\
                    test \"broken\" for \"p\" { deployment { oops: [ } expect fire }\n\
                    list l = [\"a\"]\n";
        let (all, errors, failed) = parse_items(text, 0, Items::All);
        assert!(
            failed && !errors.is_empty(),
            "the broken test is a syntax error when parsing everything"
        );
        assert_eq!(all.items.len(), 1, "the unclosed test swallowed the list");
        let (policies, errors, failed) = parse_items(text, 0, Items::PoliciesOnly);
        // That test swallowed the list (a bracket is never closed): it is parsed, and its
        // error reported, rather than skipped with the list.
        assert!(failed && !errors.is_empty());
        assert_eq!(policies.items.len(), 1);
        let fine = text.replace("oops: [ }", "image: { id: \"x\" } }");
        let (all, errors, _) = parse_items(&fine, 0, Items::All);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(all.items.len(), 3);
        let (policies, errors, failed) = parse_items(&fine, 0, Items::PoliciesOnly);
        assert!(!failed && errors.is_empty(), "{errors:?}");
        assert_eq!(
            policies.items.len(),
            2,
            "the policy and the list, not the test"
        );
    }
}
