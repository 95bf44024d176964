//! Input files for `check` and `convert`: records.md JSON is streamed (twice: joins first,
//! then evaluation); other formats are detected from content and converted in memory.

use crate::load::Fatal;
use palisade_adapters::Format;
use palisade_engine::input::read_records;
use palisade_engine::record::Record;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, IsTerminal, Read, Write};
use std::path::PathBuf;

/// Bytes read before deciding whether a file is records.md JSON.
const SNIFF: usize = 64 * 1024;
/// Inputs larger than this show progress on a terminal.
const PROGRESS_FROM: u64 = 32 * 1024 * 1024;

/// One `--input`.
pub struct InputFile {
    /// The name shown in messages.
    pub display: String,
    path: PathBuf,
    _spool: Option<tempfile::NamedTempFile>,
    converted: Option<Vec<Record>>,
    /// The detected format.
    pub format: Format,
    /// Objects the adapter skipped, by kind.
    pub skipped: BTreeMap<String, usize>,
    size: u64,
}

/// Opens every input; converts the ones that are not records.md JSON.
pub fn open_inputs(paths: &[PathBuf]) -> Result<Vec<InputFile>, Fatal> {
    let mut out = Vec::new();
    for p in paths {
        let (display, path, spool) = if p.as_os_str() == "-" {
            let mut spool = tempfile::NamedTempFile::new()
                .map_err(|e| Fatal(format!("cannot buffer stdin: {e}")))?;
            std::io::copy(&mut std::io::stdin().lock(), &mut spool)
                .map_err(|e| Fatal(format!("<stdin>: cannot read: {e}")))?;
            (
                "<stdin>".to_string(),
                spool.path().to_path_buf(),
                Some(spool),
            )
        } else {
            let meta = std::fs::metadata(p)
                .map_err(|e| Fatal(format!("{}: cannot read: {e}", p.display())))?;
            if meta.is_dir() {
                return Err(Fatal(format!(
                    "{}: is a directory; --input takes files",
                    p.display()
                )));
            }
            (p.display().to_string(), p.clone(), None)
        };
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let mut prefix = Vec::with_capacity(SNIFF);
        File::open(&path)
            .and_then(|f| f.take(SNIFF as u64).read_to_end(&mut prefix))
            .map_err(|e| Fatal(format!("{display}: cannot read: {e}")))?;
        let prefix_text = String::from_utf8_lossy(&prefix);
        let mut input = InputFile {
            display,
            path,
            _spool: spool,
            converted: None,
            format: Format::Records,
            skipped: BTreeMap::new(),
            size,
        };
        if !palisade_adapters::sniff(&prefix_text) && !prefix_text.trim().is_empty() {
            convert_in_memory(&mut input)?;
        }
        out.push(input);
    }
    if out.is_empty() {
        return Err(Fatal("no input: pass --input FILE (or - for stdin)".into()));
    }
    Ok(out)
}

fn convert_in_memory(input: &mut InputFile) -> Result<(), Fatal> {
    let bytes = std::fs::read(&input.path)
        .map_err(|e| Fatal(format!("{}: cannot read: {e}", input.display)))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Fatal(format!("{}: not UTF-8 text", input.display)))?;
    let converted = palisade_adapters::convert(&text)
        .map_err(|e| Fatal(format!("{}:{e}", input.display)).with_space())?;
    let format = converted.format.unwrap_or(Format::Records);
    if format == Format::Records {
        // records.md JSON after all: the streaming reader reads it (and reports errors by position).
        return Ok(());
    }
    let mut records = Vec::with_capacity(converted.records.len());
    for (i, v) in converted.records.into_iter().enumerate() {
        let r: Record = serde_json::from_value(v)
            .map_err(|e| Fatal(format!("{}: record {}: {e}", input.display, i + 1)))?;
        records.push(r);
    }
    input.format = format;
    input.skipped = converted.skipped;
    input.converted = Some(records);
    Ok(())
}

trait WithSpace {
    fn with_space(self) -> Self;
}

impl WithSpace for Fatal {
    /// `file:` followed by a message without a position reads `file: message`.
    fn with_space(self) -> Self {
        match self.0.split_once(':') {
            Some((file, rest)) if !rest.starts_with(|c: char| c.is_ascii_digit()) => {
                Fatal(format!("{file}: {}", rest.trim_start()))
            }
            _ => self,
        }
    }
}

/// A reader that reports progress on stderr (a terminal only).
struct Progress<R> {
    inner: R,
    read: u64,
    total: u64,
    shown: u64,
    name: String,
}

impl<R: Read> Read for Progress<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read - self.shown >= 4 * 1024 * 1024 || (n == 0 && self.shown > 0) {
            self.shown = self.read;
            let pct = (self.read * 100)
                .checked_div(self.total)
                .unwrap_or(100)
                .min(100);
            let filled = (pct / 5) as usize;
            let bar = format!("{}{}", "#".repeat(filled), ".".repeat(20 - filled.min(20)));
            let _ = write!(std::io::stderr(), "\r{} [{bar}] {pct:>3}%", self.name);
            if n == 0 {
                let _ = writeln!(std::io::stderr());
            }
        }
        Ok(n)
    }
}

/// Calls `f` with every record of `input`, in order.
pub fn each_record(
    input: &InputFile,
    label: &str,
    mut f: impl FnMut(Record) -> Result<(), String>,
) -> Result<usize, Fatal> {
    if let Some(records) = &input.converted {
        for r in records {
            f(r.clone()).map_err(|e| Fatal(format!("{}: {e}", input.display)))?;
        }
        return Ok(records.len());
    }
    let file = File::open(&input.path)
        .map_err(|e| Fatal(format!("{}: cannot read: {e}", input.display)))?;
    let show = input.size >= PROGRESS_FROM
        && std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none();
    let reader: Box<dyn Read> = if show {
        Box::new(Progress {
            inner: file,
            read: 0,
            total: input.size,
            shown: 0,
            name: format!("{label} {}", input.display),
        })
    } else {
        Box::new(file)
    };
    read_records(BufReader::with_capacity(1 << 16, reader), &mut f).map_err(|e| {
        if e.line > 0 {
            Fatal(format!(
                "{}:{}:{}: {}",
                input.display, e.line, e.column, e.message
            ))
        } else {
            Fatal(format!("{}: {}", input.display, e.message))
        }
    })
}

/// `palisade convert`: the records of every input as one JSON array on stdout, and a
/// summary (format, records by kind, skipped objects) on stderr.
pub fn convert(paths: &[PathBuf]) -> Result<i32, Fatal> {
    let mut all = Vec::new();
    let mut lines = Vec::new();
    for p in paths {
        let (display, text) = if p.as_os_str() == "-" {
            let mut t = String::new();
            std::io::stdin()
                .read_to_string(&mut t)
                .map_err(|e| Fatal(format!("<stdin>: cannot read: {e}")))?;
            ("<stdin>".to_string(), t)
        } else {
            let bytes = std::fs::read(p)
                .map_err(|e| Fatal(format!("{}: cannot read: {e}", p.display())))?;
            (
                p.display().to_string(),
                String::from_utf8(bytes)
                    .map_err(|_| Fatal(format!("{}: not UTF-8 text", p.display())))?,
            )
        };
        let converted = palisade_adapters::convert(&text)
            .map_err(|e| Fatal(format!("{display}:{e}")).with_space())?;
        let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
        for (i, v) in converted.records.iter().enumerate() {
            // Everything printed must be a valid record.
            serde_json::from_value::<Record>(v.clone())
                .map_err(|e| Fatal(format!("{display}: record {}: {e}", i + 1)))?;
            *kinds
                .entry(
                    v.get("kind")
                        .and_then(|k| k.as_str())
                        .unwrap_or("?")
                        .to_string(),
                )
                .or_default() += 1;
        }
        lines.push(format!(
            "{display}: {}; {}",
            converted.format.map(Format::name).unwrap_or("?"),
            summary(&kinds, &converted.skipped)
        ));
        all.extend(converted.records);
    }
    println!("{}", serde_json::to_string_pretty(&all)?);
    for l in lines {
        eprintln!("{l}");
    }
    Ok(0)
}

/// "3 records (deployment 2, image 1); skipped: Service 1" for summaries.
pub fn summary(kinds: &BTreeMap<String, usize>, skipped: &BTreeMap<String, usize>) -> String {
    let total: usize = kinds.values().sum();
    let by_kind: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let mut s = format!(
        "{total} record{} ({})",
        if total == 1 { "" } else { "s" },
        by_kind.join(", ")
    );
    if !skipped.is_empty() {
        let sk: Vec<String> = skipped.iter().map(|(k, n)| format!("{k} {n}")).collect();
        s.push_str(&format!("; skipped: {}", sk.join(", ")));
    }
    s
}
