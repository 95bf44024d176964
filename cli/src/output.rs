//! Reports: JSON (streamed), text (grouped by record), SARIF and JUnit.

use palisade_engine::ir::Program;
use palisade_engine::json_report::{JsonReport, Summary};
use palisade_engine::report::{NotFired, RecordId, Violation, record_id};
use palisade_engine::value::Obj;
use palisade_lang::hir::Severity;
use palisade_lang::schema::Root;
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

/// One evaluated record's results as the sink takes them, with what the output shows of
/// the record read when it was evaluated: records evaluated on other threads never reach
/// the sink.
pub struct Checked {
    root: Root,
    /// The record, when the output names it (JUnit cases, text with something to show).
    id: Option<RecordId>,
    violations: Vec<Violation>,
    not_fired: Vec<NotFired>,
}

impl Checked {
    /// The results of `record`, for output in `format`; `None` for a record no policy
    /// evaluates (a baseline).
    pub fn new(
        format: Format,
        record: Obj<'_>,
        violations: Vec<Violation>,
        not_fired: Vec<NotFired>,
    ) -> Option<Checked> {
        let root = palisade_engine::matcher::root_of(record)?;
        let named = match format {
            Format::Junit => true,
            Format::Text => !violations.is_empty() || !not_fired.is_empty(),
            Format::Json | Format::Sarif => false,
        };
        Some(Checked {
            root,
            id: named.then(|| record_id(record)),
            violations,
            not_fired,
        })
    }

    /// The violations, for the caller to locate or record.
    pub fn violations_mut(&mut self) -> &mut [Violation] {
        &mut self.violations
    }

    /// The record's kind when the output shows nothing of it (no violation, no
    /// explanation, no name): the sink only counts it ([`Sink::count`]).
    pub fn quiet(&self) -> Option<Root> {
        (self.id.is_none() && self.violations.is_empty() && self.not_fired.is_empty())
            .then_some(self.root)
    }

    /// How much the results hold: one, and one per violation and explanation.
    pub fn weight(&self) -> usize {
        1 + self.violations.len() + self.not_fired.len()
    }
}

/// What of a violation decides the exit code.
pub struct Outcome {
    /// The policy.
    pub policy: String,
    /// Its severity.
    pub severity: Severity,
    /// The stage it was evaluated at.
    pub stage: palisade_lang::schema::Stage,
    /// Whether the policy enforces at that stage.
    pub enforced: bool,
}

/// The last line of text output: why the exit code is what it is.
pub fn exit_reason(outcome: &[Outcome], fail_on: Option<Severity>) -> String {
    let count = |n: usize| format!("{n} violation{}", if n == 1 { "" } else { "s" });
    let names = |failing: &[&Outcome]| {
        let mut names: Vec<String> = failing
            .iter()
            .map(|o| format!("{} at {}", shown(&o.policy), o.stage.as_str()))
            .collect();
        names.sort();
        names.dedup();
        let more = names.len().saturating_sub(3);
        names.truncate(3);
        if more > 0 {
            names.push(format!("{more} more"));
        }
        names.join(", ")
    };
    if outcome.is_empty() {
        return "exit 0: no violations".into();
    }
    let worst = outcome.iter().map(|o| o.severity).max();
    match fail_on {
        Some(threshold) => {
            let failing: Vec<&Outcome> =
                outcome.iter().filter(|o| o.severity >= threshold).collect();
            if failing.is_empty() {
                format!(
                    "exit 0: {}, none at or above {} (--fail-on {}); the most severe is {}",
                    count(outcome.len()),
                    threshold.as_str(),
                    threshold.as_str(),
                    worst.map_or("", Severity::as_str)
                )
            } else {
                format!(
                    "exit 1: {} at or above {} (--fail-on {}): {}",
                    count(failing.len()),
                    threshold.as_str(),
                    threshold.as_str(),
                    names(&failing)
                )
            }
        }
        None => {
            let failing: Vec<&Outcome> = outcome.iter().filter(|o| o.enforced).collect();
            if failing.is_empty() {
                format!(
                    "exit 0: {}, none of a policy that enforces at the stage evaluated; --fail-on {} would fail",
                    count(outcome.len()),
                    worst.map_or("", Severity::as_str)
                )
            } else {
                format!(
                    "exit 1: {} of policies that enforce: {}",
                    count(failing.len()),
                    names(&failing)
                )
            }
        }
    }
}

/// Collects or streams violations.
pub struct Sink<'p> {
    format: Format,
    explain: bool,
    /// Show each violated policy's remediation under its messages (text output).
    pub remediation: bool,
    /// Disabled policies are evaluated too (`--all`).
    pub all: bool,
    /// Only policies of this stage (`--lifecycle`).
    pub lifecycle: Option<palisade_lang::schema::Stage>,
    /// Every (policy, record) pair evaluated (JUnit).
    cases: Vec<crate::reports::Case>,
    program: &'p Program,
    out: io::BufWriter<io::StdoutLock<'static>>,
    color: bool,
    records: usize,
    kinds: std::collections::BTreeMap<String, usize>,
    /// Objects the input adapters skipped, by kind.
    pub skipped: std::collections::BTreeMap<String, usize>,
    /// Objects read for what they say about others, by kind.
    pub context: std::collections::BTreeMap<String, usize>,
    /// Records read, by kind (evaluated or not: `--lifecycle` leaves some out).
    pub read: std::collections::BTreeMap<String, usize>,
    violations: usize,
    kept: Vec<Violation>,
    not_fired: Vec<NotFired>,
    outcome: Vec<Outcome>,
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
            remediation: true,
            all: false,
            lifecycle: None,
            cases: Vec::new(),
            program,
            out: io::BufWriter::new(io::stdout().lock()),
            color,
            records: 0,
            kinds: Default::default(),
            skipped: Default::default(),
            context: Default::default(),
            read: Default::default(),
            violations: 0,
            kept: Vec::new(),
            not_fired: Vec::new(),
            outcome: Vec::new(),
            json: (format == Format::Json).then(JsonReport::default),
        }
    }

    /// Counts `n` evaluated records of kind `root` that show nothing ([`Checked::quiet`]).
    pub fn count(&mut self, root: Root, n: usize) {
        self.records += n;
        match self.kinds.get_mut(root.record_kind()) {
            Some(k) => *k += n,
            None => {
                self.kinds.insert(root.record_kind().to_string(), n);
            }
        }
    }

    /// Takes the results of one record, in input order.
    pub fn record(&mut self, checked: Checked, location: (&str, Option<u32>)) -> io::Result<()> {
        let Checked {
            root,
            id,
            violations,
            not_fired,
        } = checked;
        self.count(root, 1);
        self.not_fired.extend(not_fired.iter().cloned());
        for v in &violations {
            self.outcome.push(Outcome {
                policy: v.policy.clone(),
                severity: v.severity,
                stage: v.lifecycle,
                enforced: !v.enforcement.is_empty(),
            });
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
            Format::Text => {
                if let Some(id) = &id {
                    self.text_record(id, location, &violations, &not_fired)?;
                }
            }
            Format::Sarif => self.kept.extend(violations),
            Format::Junit => {
                if let Some(id) = id {
                    self.junit_cases(root, id, location, violations);
                }
            }
        }
        Ok(())
    }

    /// A JUnit case for every policy evaluated on the record: each enabled policy (all
    /// with `--all`) of the `--lifecycle` stage that has a rule for the record's kind.
    fn junit_cases(
        &mut self,
        kind: Root,
        mut record: RecordId,
        (file, line): (&str, Option<u32>),
        violations: Vec<Violation>,
    ) {
        record.locate(file, line);
        let mut evaluated: Vec<usize> = self
            .program
            .rules
            .iter()
            .filter(|r| r.root == kind)
            .map(|r| r.policy as usize)
            .filter(|&i| {
                self.program.policies.get(i).is_some_and(|p| {
                    (self.all || !p.disabled)
                        && self.lifecycle.is_none_or(|s| p.stages.contains(&s))
                })
            })
            .collect();
        evaluated.sort_unstable();
        evaluated.dedup();
        let mut violations = violations;
        for i in evaluated {
            let name = &self.program.policies[i].name;
            let violation = violations
                .iter()
                .position(|v| &v.policy == name)
                .map(|at| violations.swap_remove(at));
            self.cases.push(crate::reports::Case {
                record: record.clone(),
                policy: name.clone(),
                violation,
            });
        }
        // A violation of a policy not counted above (cannot happen: each comes from a rule
        // for this kind) still fails the report rather than vanish.
        for v in violations {
            self.cases.push(crate::reports::Case {
                record: record.clone(),
                policy: v.policy.clone(),
                violation: Some(v),
            });
        }
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
        id: &RecordId,
        (file, line): (&str, Option<u32>),
        violations: &[Violation],
        not_fired: &[NotFired],
    ) -> io::Result<()> {
        if violations.is_empty() && not_fired.is_empty() {
            return Ok(());
        }
        let ns = id
            .namespace
            .as_deref()
            .map(|n| format!(" in {n}"))
            .unwrap_or_default();
        let line = line.map(|l| format!(":{l}")).unwrap_or_default();
        writeln!(
            self.out,
            "{} {}{} ({}) at {}{line}",
            shown(&id.kind),
            shown(id.name.as_deref().unwrap_or(&id.id)),
            shown(&ns),
            shown(&id.id),
            shown(file)
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
            for (index, m) in v.messages.iter().enumerate() {
                writeln!(self.out, "           - {}", shown(m))?;
                // The conditions that held for these objects (--explain).
                for s in v
                    .explain
                    .iter()
                    .flatten()
                    .filter(|s| s.message == Some(index))
                {
                    writeln!(
                        self.out,
                        "             matched: {}{} -> {}{}",
                        shown(&s.condition),
                        shown(&value_note(&s.value)),
                        s.result,
                        shown(&step_note(s.note.as_deref()))
                    )?;
                }
            }
            let remediation = self
                .program
                .policies
                .iter()
                .find(|p| p.name == v.policy)
                .map(|p| p.remediation.trim())
                .filter(|r| self.remediation && !r.is_empty());
            if let Some(r) = remediation {
                writeln!(self.out, "           fix: {}", shown(r))?;
            }
        }
        for n in not_fired {
            match &n.failed {
                Some(s) => writeln!(
                    self.out,
                    "  not fired: {} - first failing condition: {}{} -> {}{}",
                    shown(&n.policy),
                    shown(&s.condition),
                    shown(&value_note(&s.value)),
                    s.result,
                    shown(&step_note(s.note.as_deref()))
                )?,
                None => writeln!(self.out, "  not fired: {}", shown(&n.policy))?,
            }
        }
        writeln!(self.out)
    }

    /// Writes the summary; returns what decides the exit code, per violation.
    pub fn finish(mut self, policies: usize) -> io::Result<Vec<Outcome>> {
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
                    crate::inputs::summary(&self.read, &self.context, &self.skipped)
                )?;
            }
            Format::Sarif => {
                let doc = crate::reports::sarif(self.program, &self.kept);
                serde_json::to_writer_pretty(&mut self.out, &doc)?;
                writeln!(self.out)?;
            }
            Format::Junit => {
                let doc = crate::reports::junit(&self.cases).map_err(io::Error::other)?;
                self.out.write_all(doc.as_bytes())?;
            }
        }
        self.out.flush()?;
        Ok(self.outcome)
    }
}

/// "  (value: x)" after a condition, or nothing for a condition with no value of its own.
pub fn value_note(value: &str) -> String {
    if value.is_empty() {
        String::new()
    } else {
        format!("  (value: {value})")
    }
}

/// " [note]" after an explanation step, or nothing.
fn step_note(note: Option<&str>) -> String {
    note.map(|n| format!(" [{n}]")).unwrap_or_default()
}

/// Writes `text` to stdout. A reader that went away (`palisade policies list | head -1`)
/// ends the output quietly, as it does for other Unix tools; other errors are errors.
pub fn emit(text: &str) -> Result<(), crate::load::Fatal> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(crate::load::Fatal(format!("cannot write the output: {e}")))
        }
        _ => Ok(()),
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
