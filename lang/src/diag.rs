//! Structured diagnostics: what every stage reports, rendered by miette at the edges.

use crate::span::{SourceFile, Span};
use serde::Serialize;
use std::fmt;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The policy set cannot be used.
    Error,
    /// Worth a look; the policy set still compiles.
    Warning,
}

/// A secondary labelled span.
#[derive(Clone, Debug, Serialize)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What to say there.
    pub message: String,
}

/// One problem found in one source file.
#[derive(Clone, Debug, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Lowercase, one line, user input in backticks.
    pub message: String,
    /// Index of the file in the [`Sources`] it was reported against.
    #[serde(skip)]
    pub file: usize,
    /// The primary span.
    pub span: Span,
    /// The label printed under the primary span.
    pub label: String,
    /// How to fix it, when we know.
    pub help: Option<String>,
    /// Further labelled spans in the same file.
    pub related: Vec<Label>,
}

impl Diagnostic {
    /// An error at `span` in file `file`.
    pub fn error(
        file: usize,
        span: Span,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            file,
            span,
            label: label.into(),
            help: None,
            related: Vec::new(),
        }
    }
    /// Adds a help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    /// Adds a related labelled span.
    pub fn with_related(mut self, span: Span, message: impl Into<String>) -> Self {
        self.related.push(Label {
            span,
            message: message.into(),
        });
        self
    }
    /// Adds "did you mean" help when one of `candidates` is close to `name`.
    pub fn did_you_mean<'a>(
        self,
        name: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        match closest(name, candidates) {
            Some(best) => self.with_help(format!("did you mean `{best}`?")),
            None => self,
        }
    }
}

/// The candidate closest to `name`, if it is close enough to suggest.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        let score = strsim::jaro_winkler(&name.to_ascii_lowercase(), &c.to_ascii_lowercase());
        if score >= 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

/// The set of source files a run read; diagnostics point into it.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    /// Files by index.
    pub files: Vec<SourceFile>,
}

impl Sources {
    /// Adds a file and returns its index.
    pub fn add(&mut self, file: SourceFile) -> usize {
        self.files.push(file);
        self.files.len() - 1
    }
    /// The file at `index`.
    pub fn get(&self, index: usize) -> Option<&SourceFile> {
        self.files.get(index)
    }
    /// A diagnostic as plain JSON with file name, line and column resolved.
    pub fn to_json(&self, d: &Diagnostic) -> serde_json::Value {
        let file = self.get(d.file);
        let pos = |off: usize| file.map(|f| f.line_col(off)).unwrap_or((0, 0));
        let (line, column) = pos(d.span.start);
        let (end_line, end_column) = pos(d.span.end);
        serde_json::json!({
            "severity": d.severity,
            "message": d.message,
            "file": file.map(|f| f.name.as_str()).unwrap_or("<unknown>"),
            "line": line, "column": column, "end_line": end_line, "end_column": end_column,
            "start": d.span.start, "end": d.span.end,
            "label": d.label,
            "help": d.help,
            "related": d.related.iter().map(|l| {
                let (line, column) = pos(l.span.start);
                serde_json::json!({"message": l.message, "line": line, "column": column,
                                   "start": l.span.start, "end": l.span.end})
            }).collect::<Vec<_>>(),
        })
    }
    /// A one-line `file:line:col: error: message` rendering (no colours).
    pub fn to_line(&self, d: &Diagnostic) -> String {
        let file = self.get(d.file);
        let (line, col) = file.map(|f| f.line_col(d.span.start)).unwrap_or((0, 0));
        let name = file.map(|f| f.name.as_str()).unwrap_or("<unknown>");
        let sev = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        format!("{name}:{line}:{col}: {sev}: {}", d.message)
    }
    /// A miette report for one diagnostic, carrying its source text.
    pub fn report(&self, d: &Diagnostic) -> Report {
        let (name, text) = match self.get(d.file) {
            Some(f) => (f.name.clone(), f.text.clone()),
            None => ("<unknown>".to_string(), String::new()),
        };
        Report {
            diag: d.clone(),
            source: miette::NamedSource::new(name, text),
        }
    }
}

/// A diagnostic bundled with its source, ready for miette to render.
#[derive(Debug)]
pub struct Report {
    diag: Diagnostic,
    source: miette::NamedSource<String>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}

impl std::error::Error for Report {}

impl miette::Diagnostic for Report {
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diag.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.diag
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let primary = miette::LabeledSpan::new_primary_with_span(
            Some(self.diag.label.clone()),
            (
                self.diag.span.start,
                self.diag.span.end.saturating_sub(self.diag.span.start),
            ),
        );
        let rest = self.diag.related.iter().map(|l| {
            miette::LabeledSpan::new_with_span(
                Some(l.message.clone()),
                (l.span.start, l.span.end.saturating_sub(l.span.start)),
            )
        });
        Some(Box::new(std::iter::once(primary).chain(rest)))
    }
}

/// Characters that change what a terminal or a reader shows rather than being shown: control
/// characters (NUL, escape sequences, line breaks) and bidirectional overrides and isolates,
/// which reorder the text around them (a name could read as another).
pub fn hides_text(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}
