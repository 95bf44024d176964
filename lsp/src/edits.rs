//! Edits: formatting (a document, or the items a range touches) and the "did you mean"
//! fixes as code actions.

use crate::analysis::{Analysis, Kind, suggestion};
use lsp_types::{CodeAction, CodeActionKind, TextEdit, Uri, WorkspaceEdit};
use palisade_lang::ast;
use std::collections::HashMap;
use std::str::FromStr;

/// Why a document cannot be formatted.
pub type Refusal = String;

/// The edit that formats the whole of file `file` (none when it is formatted already).
pub fn format_document(analysis: &Analysis, file: usize) -> Result<Vec<TextEdit>, Refusal> {
    let f = analysis.files.get(file).ok_or("no such document")?;
    if f.kind != Kind::Policy {
        return Err("only .pal files are formatted".into());
    }
    let formatted = palisade_lang::format_source(&analysis.sources, file)
        .map_err(|diags| first_message(&diags))?;
    if formatted == f.text {
        return Ok(Vec::new());
    }
    Ok(vec![TextEdit::new(
        f.lines.range(&f.text, 0, f.text.len()),
        formatted,
    )])
}

/// Edits that format each item the bytes `start..end` touch.
pub fn format_range(
    analysis: &Analysis,
    file: usize,
    start: usize,
    end: usize,
) -> Result<Vec<TextEdit>, Refusal> {
    let f = analysis.files.get(file).ok_or("no such document")?;
    if f.kind != Kind::Policy {
        return Err("only .pal files are formatted".into());
    }
    // The formatter needs the whole file to parse (it keeps every comment).
    let parsed = palisade_lang::parse(&analysis.sources, file).map_err(|d| first_message(&d))?;
    if let Some(span) = parsed.unplaced_comments.first()
        && span.start < end
        && start < span.end
    {
        return Err("the formatter cannot keep a comment inside a condition or a record".into());
    }
    let mut edits = Vec::new();
    for item in &parsed.items {
        if item.span.end < start || end < item.span.start {
            continue;
        }
        let alone = ast::File {
            items: vec![ast::Item {
                comments: Vec::new(),
                ..item.clone()
            }],
            trailing_comments: Vec::new(),
            unplaced_comments: Vec::new(),
        };
        let text = palisade_lang::format_file(&alone);
        let text = text.trim_end();
        if f.text.get(item.span.start..item.span.end) != Some(text) {
            edits.push(TextEdit::new(
                f.lines.range(&f.text, item.span.start, item.span.end),
                text.to_string(),
            ));
        }
    }
    Ok(edits)
}

fn first_message(diags: &[palisade_lang::Diagnostic]) -> String {
    diags
        .first()
        .map_or_else(|| "cannot format".to_string(), |d| d.message.clone())
}

/// A quick fix for every "did you mean" among the diagnostics of file `file` that
/// overlap the bytes `start..end`.
pub fn fixes(analysis: &Analysis, file: usize, start: usize, end: usize) -> Vec<CodeAction> {
    let (Some(f), Some(raw)) = (analysis.files.get(file), analysis.raw.get(file)) else {
        return Vec::new();
    };
    if f.kind != Kind::Policy {
        return Vec::new();
    }
    let Ok(uri) = Uri::from_str(&f.uri) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for d in raw {
        if d.span.end < start || end < d.span.start {
            continue;
        }
        let Some(wanted) = d.help.as_deref().and_then(suggestion) else {
            continue;
        };
        let Some(written) = f.text.get(d.span.start..d.span.end) else {
            continue;
        };
        let Some((from, to)) = replaced(written, wanted) else {
            continue;
        };
        let range = f
            .lines
            .range(&f.text, d.span.start + from, d.span.start + to);
        let edit = TextEdit::new(range, wanted.to_string());
        let diagnostic = analysis
            .diagnostics
            .get(&f.uri)
            .and_then(|ds| {
                ds.iter()
                    .find(|x| x.range == f.lines.range(&f.text, d.span.start, d.span.end))
            })
            .cloned();
        out.push(CodeAction {
            title: format!("change `{}` to `{wanted}`", &written[from..to]),
            kind: Some(CodeActionKind::QUICKFIX),
            diagnostics: diagnostic.map(|d| vec![d]),
            edit: Some(WorkspaceEdit {
                changes: Some(HashMap::from([(uri.clone(), vec![edit])])),
                ..Default::default()
            }),
            is_preferred: Some(true),
            ..Default::default()
        });
    }
    out
}

/// The part of `written` (a diagnostic's text) that `wanted` replaces: the inside of a
/// quoted name, else the word closest to `wanted` (`{c.nmae}` -> `nmae`).
fn replaced(written: &str, wanted: &str) -> Option<(usize, usize)> {
    if written.len() >= 2 && written.starts_with('"') && written.ends_with('"') {
        return Some((1, written.len() - 1));
    }
    let mut best: Option<(f64, usize, usize)> = None;
    let mut start = None;
    for (i, c) in written.char_indices().chain([(written.len(), ' ')]) {
        let word = c.is_ascii_alphanumeric() || c == '_' || c == '-';
        match (word, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                let score = strsim::jaro_winkler(&written[s..i], wanted);
                if best.is_none_or(|(b, _, _)| score > b) {
                    best = Some((score, s, i));
                }
                start = None;
            }
            _ => {}
        }
    }
    best.map(|(_, s, e)| (s, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_replaced_word_is_the_misspelt_one() {
        assert_eq!(replaced("privilegd", "privileged"), Some((0, 9)));
        assert_eq!(replaced("\"Shell Spawnd\"", "Shell Spawned"), Some((1, 13)));
        assert_eq!(replaced("{c.nmae}", "name"), Some((3, 7)));
        assert_eq!(replaced("", "x"), None);
    }

    #[test]
    fn a_range_formats_only_the_items_it_touches() {
        let text = "list a = [\"x\",\"y\"]\n\nlist b = [\"x\",\"y\"]\n";
        let analysis = Analysis::new([("file:///w/a.pal", text)], Analysis::default());
        let second = text.rfind("list").unwrap_or(0);
        let edits = format_range(&analysis, 0, second, second + 1).unwrap_or_default();
        assert_eq!(edits.len(), 1);
        assert_eq!(edits[0].range.start.line, 2);
        assert_eq!(edits[0].new_text, "list b = [\"x\", \"y\"]");
        let whole = format_document(&analysis, 0).unwrap_or_default();
        assert_eq!(whole.len(), 1);
        assert_eq!(
            whole[0].new_text,
            "list a = [\"x\", \"y\"]\n\nlist b = [\"x\", \"y\"]\n"
        );
    }
}
