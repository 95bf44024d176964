//! The JSON report of cli.md, written incrementally. The CLI and the host API both use it,
//! so their output is byte for byte the same.

use crate::report::{NotFired, Violation};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// Writes `{"version":1,"violations":[...],"summary":{...}}` one violation at a time.
#[derive(Debug, Default)]
pub struct JsonReport {
    started: bool,
}

/// The report's `summary`.
#[derive(Debug, Default, Clone, serde::Serialize)]
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
        if self.started {
            out.write_all(b",\n")?;
        } else {
            self.start(out)?;
        }
        serde_json::to_writer(&mut *out, v).map_err(io::Error::other)
    }

    /// Ends the report with the summary (and, when given, the policies that did not fire).
    pub fn finish(
        mut self,
        out: &mut impl Write,
        summary: &Summary,
        not_fired: Option<&[NotFired]>,
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
