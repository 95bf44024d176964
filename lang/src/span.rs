//! Byte-offset spans into one source file, and the source map that owns the text.

use serde::Serialize;

/// A half-open byte range `start..end` in one source file.
///
/// Spans never take part in equality: two ASTs that differ only in where
/// their nodes sit compare equal (the formatter's round trip relies on it).
/// Use [`Span::same_as`] to compare positions.
#[derive(Clone, Copy, Debug, Default, Serialize, serde::Deserialize)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl PartialEq for Span {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl Eq for Span {}

impl Span {
    /// A span from `start` to `end`.
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
    /// Whether both spans cover the same bytes (real positional equality).
    pub fn same_as(&self, other: &Span) -> bool {
        self.start == other.start && self.end == other.end
    }
    /// The smallest span covering both.
    pub fn to(&self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// A value with the span it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spanned<T> {
    /// The value.
    pub node: T,
    /// Where it was written.
    pub span: Span,
}

impl<T> Spanned<T> {
    /// Wraps `node` with `span`.
    pub fn new(node: T, span: Span) -> Self {
        Spanned { node, span }
    }
}

/// One source file: its display name and its text.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The name shown in diagnostics (usually the path).
    pub name: String,
    /// The full text.
    pub text: String,
    /// Byte offsets where lines start, and whether each line is ASCII (its columns are then
    /// byte differences), computed on first use: positions of thousands of diagnostics cost
    /// a binary search each, not a scan of the file each.
    line_starts: std::sync::OnceLock<Vec<(usize, bool)>>,
}

impl SourceFile {
    /// A source file named `name` holding `text`.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        SourceFile {
            name: name.into(),
            text: text.into(),
            line_starts: std::sync::OnceLock::new(),
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let starts = self.line_starts.get_or_init(|| {
            let mut starts = Vec::new();
            let mut start = 0;
            for line in self.text.split_inclusive('\n') {
                starts.push((start, line.is_ascii()));
                start += line.len();
            }
            // The empty line after a final newline (or of an empty text).
            if self.text.is_empty() || self.text.ends_with('\n') {
                starts.push((start, true));
            }
            starts
        });
        // The last line start at or before `offset`.
        let line = starts.partition_point(|&(s, _)| s <= offset).max(1);
        let (line_start, ascii) = starts.get(line - 1).copied().unwrap_or((0, true));
        let col = if ascii {
            offset - line_start
        } else {
            self.text
                .get(line_start..offset)
                .map(|s| s.chars().count())
                .unwrap_or(0)
        };
        (line, col + 1)
    }

    /// The text a span covers ("" when the span is out of range).
    pub fn slice(&self, span: Span) -> &str {
        self.text.get(span.start..span.end).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::SourceFile;

    /// The position by scanning the text, as it was computed before the line index.
    fn scanned(text: &str, offset: usize) -> (usize, usize) {
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, text[start..offset].chars().count() + 1)
    }

    #[test]
    fn line_and_column_equal_a_scan_of_the_text() {
        for text in [
            "",
            "a",
            "\n",
            "ab\ncd",
            "ab\ncd\n",
            "é\nxé\n\ny",
            "\n\n",
            "aé",
        ] {
            let file = SourceFile::new("t", text);
            for offset in (0..=text.len()).filter(|&o| text.is_char_boundary(o)) {
                assert_eq!(
                    file.line_col(offset),
                    scanned(text, offset),
                    "{text:?} at {offset}"
                );
            }
        }
    }
}
