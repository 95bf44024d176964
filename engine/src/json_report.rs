//! The JSON report of cli.md, written incrementally. The CLI and the host API both use it,
//! so their output is byte for byte the same.

use crate::report::{NotFired, Violation};
use serde::Serialize;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::io::{self, Write};

/// Writes `{"version":1,"violations":[...],"summary":{...}}` one violation at a time.
#[derive(Debug, Default)]
pub struct JsonReport {
    started: bool,
}

/// The report's `summary`.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// Records evaluated.
    pub records: usize,
    /// Policies evaluated.
    pub policies: usize,
    /// Violations reported.
    pub violations: usize,
    /// Records evaluated, by kind.
    pub records_by_kind: BTreeMap<String, usize>,
    /// Input objects not turned into records, by kind.
    pub skipped: BTreeMap<String, usize>,
}

impl JsonReport {
    fn start(&mut self, out: &mut impl Write) -> io::Result<()> {
        if !self.started {
            out.write_all(b"{\"version\":1,\"violations\":[\n")?;
            self.started = true;
        }
        Ok(())
    }

    /// Appends one violation.
    pub fn violation(&mut self, out: &mut impl Write, v: &Violation) -> io::Result<()> {
        self.item(out, v)
    }

    /// Appends one violation as given (a violation already written, or one read back).
    fn item(&mut self, out: &mut impl Write, v: &impl Serialize) -> io::Result<()> {
        if self.started {
            out.write_all(b",\n")?;
        } else {
            self.start(out)?;
        }
        serde_json::to_writer(&mut *out, v).map_err(io::Error::other)
    }

    /// Ends the report with the summary (and, when given, the policies that did not fire).
    pub fn finish(
        self,
        out: &mut impl Write,
        summary: &Summary,
        not_fired: Option<&[NotFired]>,
    ) -> io::Result<()> {
        self.finish_with(out, summary, not_fired)
    }

    /// [`JsonReport::finish`] with the not-fired entries of any serializable form.
    fn finish_with<N: Serialize>(
        mut self,
        out: &mut impl Write,
        summary: &Summary,
        not_fired: Option<&[N]>,
    ) -> io::Result<()> {
        self.start(out)?;
        out.write_all(b"\n],\n\"summary\":")?;
        serde_json::to_writer(&mut *out, summary).map_err(io::Error::other)?;
        if let Some(nf) = not_fired {
            out.write_all(b",\n\"not_fired\":")?;
            serde_json::to_writer(&mut *out, nf).map_err(io::Error::other)?;
        }
        out.write_all(b"}\n")
    }
}

/// One part's report as read back for merging: violations and not-fired entries keep their
/// exact text.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PartReport<'a> {
    version: u32,
    #[serde(borrow)]
    violations: Vec<&'a RawValue>,
    summary: Summary,
    #[serde(borrow, default)]
    not_fired: Option<Vec<&'a RawValue>>,
}

/// The report of a check run in parts (each the report of one contiguous run of the
/// input's records, in input order, as the plugin's `palisade_check_part` answers):
/// byte for byte the report of the whole check. An answer that is an error
/// (`{"error": ...}`) stands for the whole: the first such answer is returned as it is, as
/// the whole check would have stopped there. `Err` when an answer is neither, or the
/// parts disagree on what every part shares (the policies, the skipped inputs, explain).
pub fn merge_parts(parts: &[impl AsRef<str>]) -> Result<String, String> {
    let mut read = Vec::with_capacity(parts.len());
    for (k, part) in parts.iter().enumerate() {
        let text = part.as_ref();
        match serde_json::from_str::<PartReport<'_>>(text) {
            Ok(report) if report.version == 1 => read.push(report),
            Ok(report) => {
                return Err(format!(
                    "part {k}: a report of version {}, not 1",
                    report.version
                ));
            }
            Err(e) => {
                let is_error = serde_json::from_str::<serde_json::Value>(text)
                    .ok()
                    .and_then(|v| {
                        v.as_object()
                            .map(|o| o.len() == 1 && o.contains_key("error"))
                    })
                    .unwrap_or(false);
                if is_error {
                    return Ok(text.to_string());
                }
                return Err(format!("part {k}: neither a report nor an error: {e}"));
            }
        }
    }
    let Some(first) = read.first() else {
        return Err("no parts to merge".into());
    };
    let mut summary = Summary {
        policies: first.summary.policies,
        skipped: first.summary.skipped.clone(),
        ..Summary::default()
    };
    let explain = first.not_fired.is_some();
    let mut not_fired: Vec<&RawValue> = Vec::new();
    let mut out = Vec::new();
    let mut report = JsonReport::default();
    for (k, part) in read.iter().enumerate() {
        if part.summary.policies != summary.policies
            || part.summary.skipped != summary.skipped
            || part.not_fired.is_some() != explain
        {
            return Err(format!(
                "part {k} disagrees with part 0 on the policies, the skipped inputs or explain"
            ));
        }
        if part.summary.violations != part.violations.len() {
            return Err(format!(
                "part {k} counts {} violations and holds {}",
                part.summary.violations,
                part.violations.len()
            ));
        }
        summary.records += part.summary.records;
        summary.violations += part.summary.violations;
        for (kind, n) in &part.summary.records_by_kind {
            *summary.records_by_kind.entry(kind.clone()).or_default() += n;
        }
        for v in &part.violations {
            report.item(&mut out, v).map_err(|e| e.to_string())?;
        }
        not_fired.extend(part.not_fired.iter().flatten());
    }
    report
        .finish_with(&mut out, &summary, explain.then_some(not_fired.as_slice()))
        .map_err(|e| e.to_string())?;
    String::from_utf8(out).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(
        violations: &[&str],
        records: usize,
        skipped: usize,
        not_fired: Option<&str>,
    ) -> String {
        let mut text = String::from("{\"version\":1,\"violations\":[\n");
        text.push_str(&violations.join(",\n"));
        text.push_str(&format!(
            "\n],\n\"summary\":{{\"records\":{records},\"policies\":3,\"violations\":{},\"records_by_kind\":{{\"deployment\":{records}}},\"skipped\":{{\"Secret\":{skipped}}}}}",
            violations.len()
        ));
        if let Some(nf) = not_fired {
            text.push_str(&format!(",\n\"not_fired\":{nf}"));
        }
        text.push_str("}\n");
        text
    }

    #[test]
    fn parts_merge_into_one_report_keeping_each_violation_as_written() {
        let a = report(&[r#"{"policy":"p","b":1.50}"#], 2, 1, Some(r#"[{"x":1}]"#));
        let b = report(&[], 0, 1, Some("[]"));
        let c = report(
            &[r#"{"policy":"q"}"#, r#"{"policy":"r"}"#],
            1,
            1,
            Some(r#"[{"x":2}]"#),
        );
        let merged = merge_parts(&[a, b, c]).expect("merges");
        assert_eq!(
            merged,
            report(
                &[
                    r#"{"policy":"p","b":1.50}"#,
                    r#"{"policy":"q"}"#,
                    r#"{"policy":"r"}"#
                ],
                3,
                1,
                Some(r#"[{"x":1},{"x":2}]"#)
            )
        );
        let one = report(&[], 0, 0, None);
        assert_eq!(
            merge_parts(std::slice::from_ref(&one)).as_deref(),
            Ok(one.as_str())
        );
    }

    #[test]
    fn the_first_error_stands_for_the_whole_and_disagreeing_parts_are_refused() {
        let good = report(&[], 1, 0, None);
        let first = r#"{"error":{"kind":"limit","message":"deployment `a`: too many steps"}}"#;
        let second = r#"{"error":{"kind":"limit","message":"deployment `b`: too many steps"}}"#;
        assert_eq!(
            merge_parts(&[good.as_str(), first, second]).as_deref(),
            Ok(first)
        );
        for bad in [
            vec![good.clone(), report(&[], 1, 5, None)],
            vec![good.clone(), report(&[], 1, 0, Some("[]"))],
            vec![good.clone(), "{\"error\":1,\"other\":2}".into()],
            vec![good.clone(), "{\"version\":1,\"violations\":[".into()],
            vec![good.replace("\"version\":1", "\"version\":2")],
            vec![good.replace("\"violations\":0", "\"violations\":1")],
            Vec::new(),
        ] {
            assert!(merge_parts(&bad).is_err(), "{bad:?}");
        }
    }
}
