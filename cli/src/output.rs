//! Reports: JSON (streamed), text (grouped by record), SARIF and JUnit.

use palisade_engine::ir::Program;
use palisade_engine::json_report::{JsonReport, Summary};
use palisade_engine::report::{NotFired, Violation, record_id};
use palisade_engine::value::Obj;
use palisade_lang::hir::Severity;
use std::io::{self, IsTerminal, Write};

/// Output formats of `check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable, grouped by record.
    Text,
    /// The JSON of cli.md.
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// JUnit XML.
    Junit,
}

/// Collects or streams violations.
pub struct Sink<'p> {
    format: Format,
    explain: bool,
    program: &'p Program,
    out: io::BufWriter<io::StdoutLock<'static>>,
    color: bool,
    records: usize,
    kinds: std::collections::BTreeMap<String, usize>,
    /// Objects the input adapters skipped, by kind.
    pub skipped: std::collections::BTreeMap<String, usize>,
    violations: usize,
    kept: Vec<Violation>,
    not_fired: Vec<NotFired>,
    outcome: Vec<(Severity, bool)>,
    json: Option<JsonReport>,
}

impl<'p> Sink<'p> {
    /// A sink writing to stdout.
    pub fn new(format: Format, explain: bool, program: &'p Program) -> Self {
        let color = format == Format::Text
            && std::env::var_os("NO_COLOR").is_none()
            && io::stdout().is_terminal();
        Sink {
            format,
            explain,
            program,
            out: io::BufWriter::new(io::stdout().lock()),
            color,
            records: 0,
            kinds: Default::default(),
            skipped: Default::default(),
            violations: 0,
            kept: Vec::new(),
            not_fired: Vec::new(),
            outcome: Vec::new(),
            json: (format == Format::Json).then(JsonReport::default),
        }
    }

    /// Takes the result of one record.
    pub fn record(
        &mut self,
        root: Obj<'_>,
        violations: Vec<Violation>,
        not_fired: Vec<NotFired>,
    ) -> io::Result<()> {
        self.records += 1;
        *self.kinds.entry(record_id(root).kind).or_default() += 1;
        self.not_fired.extend(not_fired.iter().cloned());
        for v in &violations {
            self.outcome.push((v.severity, !v.enforcement.is_empty()));
        }
        self.violations += violations.len();
        match self.format {
            Format::Json => {
                if let Some(json) = self.json.as_mut() {
                    for v in &violations {
                        json.violation(&mut self.out, v)?;
                    }
                }
            }
            Format::Text => self.text_record(root, &violations, &not_fired)?,
            Format::Sarif | Format::Junit => self.kept.extend(violations),
        }
        Ok(())
    }

    fn paint(&self, text: &str, severity: Severity) -> String {
        if !self.color {
            return text.to_string();
        }
        let code = match severity {
            Severity::Critical => "1;35",
            Severity::High => "1;31",
            Severity::Medium => "33",
            Severity::Low => "36",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    fn text_record(
        &mut self,
        root: Obj<'_>,
        violations: &[Violation],
        not_fired: &[NotFired],
    ) -> io::Result<()> {
        if violations.is_empty() && not_fired.is_empty() {
            return Ok(());
        }
        let id = record_id(root);
        let ns = id
            .namespace
            .as_deref()
            .map(|n| format!(" in {n}"))
            .unwrap_or_default();
        writeln!(
            self.out,
            "{} {}{} ({})",
            shown(&id.kind),
            shown(id.name.as_deref().unwrap_or(&id.id)),
            shown(&ns),
            shown(&id.id)
        )?;
        for v in violations {
            let sev = self.paint(
                &format!("{:<8}", v.severity.as_str().to_uppercase()),
                v.severity,
            );
            let enforce = if v.enforcement.is_empty() {
                String::new()
            } else {
                format!("  enforce: {}", v.enforcement.join(", "))
            };
            writeln!(
                self.out,
                "  {sev} {} [{}]  soc2: {}{enforce}",
                shown(&v.policy),
                v.lifecycle.as_str(),
                v.soc2.join(", ")
            )?;
            for m in &v.messages {
                writeln!(self.out, "           - {}", shown(m))?;
            }
            if let Some(steps) = &v.explain {
                for s in steps {
                    writeln!(
                        self.out,
                        "             matched: {}  (value: {}) -> {}",
                        shown(&s.condition),
                        shown(&s.value.to_string()),
                        s.result
                    )?;
                }
            }
        }
        for n in not_fired {
            match &n.failed {
                Some(s) => writeln!(
                    self.out,
                    "  not fired: {} - first failing condition: {} (value: {}) -> {}",
                    shown(&n.policy),
                    shown(&s.condition),
                    shown(&s.value.to_string()),
                    s.result
                )?,
                None => writeln!(self.out, "  not fired: {}", shown(&n.policy))?,
            }
        }
        writeln!(self.out)
    }

    /// Writes the summary; returns (severity, has enforcement) per violation.
    pub fn finish(mut self, policies: usize) -> io::Result<Vec<(Severity, bool)>> {
        match self.format {
            Format::Json => {
                if let Some(json) = self.json.take() {
                    let summary = Summary {
                        records: self.records,
                        policies,
                        violations: self.violations,
                        records_by_kind: self.kinds.clone(),
                        skipped: self.skipped.clone(),
                    };
                    json.finish(
                        &mut self.out,
                        &summary,
                        self.explain.then_some(self.not_fired.as_slice()),
                    )?;
                }
            }
            Format::Text => {
                writeln!(
                    self.out,
                    "{} violation{} in {} record{} ({} polic{} evaluated)",
                    self.violations,
                    if self.violations == 1 { "" } else { "s" },
                    self.records,
                    if self.records == 1 { "" } else { "s" },
                    policies,
                    if policies == 1 { "y" } else { "ies" }
                )?;
                writeln!(
                    self.out,
                    "input: {}",
                    crate::inputs::summary(&self.kinds, &self.skipped)
                )?;
            }
            Format::Sarif => {
                let doc = crate::reports::sarif(self.program, &self.kept);
                serde_json::to_writer_pretty(&mut self.out, &doc)?;
                writeln!(self.out)?;
            }
            Format::Junit => {
                let doc = crate::reports::junit(self.records, &self.kept);
                self.out.write_all(doc.as_bytes())?;
            }
        }
        self.out.flush()?;
        Ok(self.outcome)
    }
}

/// `text` safe to print on a terminal: control characters (NUL, escape sequences, line
/// breaks that would forge lines) and bidirectional overrides (which reorder what the
/// reader sees, e.g. a policy or container name) are shown as `\u{..}` escapes.
pub fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = palisade_lang::diag::hides_text;
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    text.chars()
        .map(|c| {
            if unsafe_char(c) {
                format!("\\u{{{:x}}}", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn control_and_bidirectional_characters_are_escaped() {
        assert_eq!(shown("web"), "web");
        assert_eq!(
            shown("a\u{202e}b\0c\x1b[31m\n"),
            "a\\u{202e}b\\u{0}c\\u{1b}[31m\\u{a}"
        );
        assert_eq!(shown("caf\u{e9} \u{1f600}"), "caf\u{e9} \u{1f600}");
    }
}
