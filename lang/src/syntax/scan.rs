//! A light scanner over policy text that knows where strings, regexes and comments are.
//! It splits a file into top-level items (so one syntax error does not hide the next)
//! and rejects nesting deep enough to exhaust the parser's stack.

use crate::diag::Diagnostic;
use crate::span::Span;

/// Deepest nesting of brackets and quantifiers a condition may have.
pub const MAX_DEPTH: usize = 64;

const ITEM_KEYWORDS: [&str; 4] = ["policy", "list", "macro", "test"];
const QUANT_KEYWORDS: [&str; 4] = ["any", "every", "no", "count"];

/// Byte ranges of the top-level items of `text`, and nesting errors found on the way.
pub fn split_items(text: &str, file: usize) -> (Vec<Span>, Vec<Diagnostic>) {
    let bytes = text.as_bytes();
    let mut starts = vec![0usize];
    let mut errors = Vec::new();
    // One entry per open bracket: how many quantifiers were opened inside it.
    let mut levels: Vec<usize> = vec![0];
    let mut depth_reported = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'"' => i = skip_string(bytes, i),
            b'r' if is_raw_start(bytes, i) => i = skip_raw(bytes, i),
            b'/' if matches!(bytes.get(i + 1), Some(b'/' | b'*')) => i = skip_comment(bytes, i),
            b'/' => i = skip_regex(bytes, i),
            b'(' | b'[' | b'{' => {
                levels.push(0);
                i += 1;
            }
            b')' | b']' | b'}' => {
                if levels.len() > 1 {
                    levels.pop();
                }
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                let word = &text[start..i];
                let prev_ok = start == 0 || !matches!(bytes[start - 1], b'.');
                if levels.len() == 1 && prev_ok && ITEM_KEYWORDS.contains(&word) {
                    starts.push(start);
                    levels[0] = 0;
                } else if QUANT_KEYWORDS.contains(&word)
                    && let Some(top) = levels.last_mut()
                {
                    *top += 1;
                }
            }
            _ => i += 1,
        }
        let depth = levels.len() - 1 + levels.iter().sum::<usize>();
        if depth > MAX_DEPTH && !depth_reported {
            let at = i.min(text.len()).saturating_sub(1);
            errors.push(super::build::too_deep(
                file,
                Span::new(at, (at + 1).min(text.len())),
            ));
            depth_reported = true;
        }
    }
    starts.dedup();
    let mut spans = Vec::new();
    for (k, &s) in starts.iter().enumerate() {
        let e = starts.get(k + 1).copied().unwrap_or(text.len());
        spans.push(Span::new(s, e));
    }
    (spans, errors)
}

/// Whether `chunk` is exactly one bracketed item: its brackets pair up by kind, the first
/// opening bracket closes, and only whitespace and comments follow. Items that are not
/// (a stray or mismatched bracket may have swallowed the next item) must be parsed.
pub fn is_one_closed_item(chunk: &str) -> bool {
    let bytes = chunk.as_bytes();
    let mut open: Vec<u8> = Vec::new();
    let mut closed_at = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            _ if b.is_ascii_whitespace() => i += 1,
            b'/' if matches!(bytes.get(i + 1), Some(b'/' | b'*')) => i = skip_comment(bytes, i),
            _ if closed_at.is_some() => return false,
            b'"' => i = skip_string(bytes, i),
            b'r' if is_raw_start(bytes, i) => i = skip_raw(bytes, i),
            b'/' => i = skip_regex(bytes, i),
            b'(' | b'[' | b'{' => {
                open.push(b);
                i += 1;
            }
            b')' | b']' | b'}' => {
                let expected = match b {
                    b')' => b'(',
                    b']' => b'[',
                    _ => b'{',
                };
                if open.pop() != Some(expected) {
                    return false;
                }
                if open.is_empty() {
                    closed_at = Some(i);
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    closed_at.is_some()
}

/// The brackets still open at byte `end` of `chunk` (offset and bracket), innermost last;
/// strings, regexes and comments are skipped.
pub fn open_brackets(chunk: &str, end: usize) -> Vec<(usize, u8)> {
    let bytes = chunk.as_bytes();
    let mut open = Vec::new();
    let mut i = 0;
    while i < end.min(bytes.len()) {
        let b = bytes[i];
        match b {
            b'"' => i = skip_string(bytes, i),
            b'r' if is_raw_start(bytes, i) => i = skip_raw(bytes, i),
            b'/' if matches!(bytes.get(i + 1), Some(b'/' | b'*')) => i = skip_comment(bytes, i),
            b'/' => i = skip_regex(bytes, i),
            b'(' | b'[' | b'{' => {
                open.push((i, b));
                i += 1;
            }
            b')' | b']' | b'}' => {
                open.pop();
                i += 1;
            }
            _ => i += 1,
        }
    }
    open
}

/// Whether an item's text starts with the `test` keyword (after whitespace and comments).
pub fn is_test_item(chunk: &str) -> bool {
    let bytes = chunk.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            _ if b.is_ascii_whitespace() => i += 1,
            b'/' if matches!(bytes.get(i + 1), Some(b'/' | b'*')) => i = skip_comment(bytes, i),
            _ => break,
        }
    }
    chunk
        .get(i..)
        .and_then(|rest| rest.strip_prefix("test"))
        .and_then(|r| r.chars().next())
        .is_some_and(|c| c.is_whitespace() || c == '"')
}

/// Skips a `//` or `/* */` comment starting at `i`.
fn skip_comment(bytes: &[u8], mut i: usize) -> usize {
    if bytes.get(i + 1) == Some(&b'/') {
        while i < bytes.len() && bytes[i] != b'\n' {
            i += 1;
        }
        return i;
    }
    i += 2;
    while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
        i += 1;
    }
    i + 2
}

fn skip_string(bytes: &[u8], mut i: usize) -> usize {
    i += 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            b'\n' => return i,
            _ => i += 1,
        }
    }
    i
}

fn is_raw_start(bytes: &[u8], i: usize) -> bool {
    if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_') {
        return false;
    }
    let mut j = i + 1;
    while j < bytes.len() && bytes[j] == b'#' {
        j += 1;
    }
    bytes.get(j) == Some(&b'"')
}

fn skip_raw(bytes: &[u8], mut i: usize) -> usize {
    i += 1;
    let mut hashes = 0;
    while i < bytes.len() && bytes[i] == b'#' {
        hashes += 1;
        i += 1;
    }
    i += 1;
    while i < bytes.len() {
        if bytes[i] == b'"'
            && bytes[i + 1..]
                .iter()
                .take(hashes)
                .filter(|&&c| c == b'#')
                .count()
                == hashes
            && bytes.len() >= i + 1 + hashes
        {
            return i + 1 + hashes;
        }
        i += 1;
    }
    i
}

fn skip_regex(bytes: &[u8], mut i: usize) -> usize {
    i += 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'/' => return i + 1,
            b'\n' => return i,
            _ => i += 1,
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_top_level_keywords_only() {
        let text = "list a = [\"policy\"]\npolicy \"x\" { when no container: container.privileged }\nmacro m = x.y";
        let (spans, errors) = split_items(text, 0);
        assert!(errors.is_empty());
        let firsts: Vec<&str> = spans
            .iter()
            .map(|s| text[s.start..s.end].split_whitespace().next().unwrap_or(""))
            .collect();
        assert_eq!(firsts, ["list", "policy", "macro"]);
    }

    #[test]
    fn test_items_are_recognized_after_comments() {
        assert!(is_test_item("test \"t\" for \"p\" {}"));
        assert!(is_test_item(
            "// about it\n/* more */\n  test\"t\" for \"p\" {}"
        ));
        assert!(!is_test_item("policy \"test\" {}"));
        assert!(!is_test_item("testing"));
        assert!(!is_test_item("// test \"t\"\npolicy \"p\" {}"));
    }

    #[test]
    fn one_closed_item() {
        assert!(is_one_closed_item(
            "test \"t\" for \"p\" { deployment { a: [\"}\"] } }\n// c\n"
        ));
        assert!(!is_one_closed_item(
            "test \"t\" for \"p\" { deployment { oops: [ } expect fire }\nlist l = [\"a\"]"
        ));
        assert!(!is_one_closed_item(
            "test \"t\" for \"p\" { x: [ } list l = [\"a\"] ]"
        ));
        assert!(!is_one_closed_item("test \"t\" for \"p\" { } }"));
        assert!(!is_one_closed_item("test \"t\" for \"p\" {"));
    }

    #[test]
    fn deep_nesting_is_an_error() {
        let text = format!(
            "policy \"x\" {{ when {}a.b{} }}",
            "(".repeat(100),
            ")".repeat(100)
        );
        let (_, errors) = split_items(&text, 0);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message.contains("nested too deeply"));
    }

    #[test]
    fn deep_quantifier_chains_are_an_error() {
        let text = format!(
            "policy \"x\" {{ when {} a.b }}",
            "any container: ".repeat(80)
        );
        let (_, errors) = split_items(&text, 0);
        assert_eq!(errors.len(), 1);
    }
}

#[cfg(test)]
mod fuzz_regressions {
    use crate::{SourceFile, Sources};

    /// Found by `cargo fuzz run parse`: a file ending in a comment with trailing spaces and
    /// control characters must format to a file that parses to the same AST.
    #[test]
    fn trailing_comment_with_trailing_space_round_trips() {
        let text = "// ditions shared  x?KEY|P~IVATE_?K = image.user in [\"\", \"1\", \"root\u{1}\u{0}\u{8}\u{0}shared ";
        let mut sources = Sources::default();
        let i = sources.add(SourceFile::new("a.pal", text));
        let file = crate::parse(&sources, i).expect("comment-only file parses");
        let formatted = crate::format_file(&file);
        let j = sources.add(SourceFile::new("b.pal", formatted.clone()));
        let again = crate::parse(&sources, j).expect("formatted file parses");
        assert_eq!(file, again);
        assert_eq!(formatted, crate::format_file(&again));
    }
}
