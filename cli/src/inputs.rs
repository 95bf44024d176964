//! Input files for `check` and `convert`: records.md JSON is streamed (twice: joins first,
//! then evaluation); other formats are detected from content and converted in memory.

use crate::load::Fatal;
use palisade_adapters::{ConvertOptions, Converted, Format};
use palisade_engine::input::read_records;
use palisade_engine::record::Record;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, IsTerminal, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

/// Bytes read before deciding whether a file is records.md JSON.
const SNIFF: usize = 64 * 1024;
/// Inputs larger than this show progress on a terminal.
const PROGRESS_FROM: u64 = 32 * 1024 * 1024;
/// Largest input read from a pipe, FIFO or device (kept in a temporary file, since records
/// are read in two passes). Records in regular files stream from disk with no such limit.
pub const MAX_SPOOLED_BYTES: u64 = 4 << 30;
/// Largest input that is converted in memory (manifests, scanner reports, runtime events):
/// conversion holds the parsed document, several times the size of its text.
pub const MAX_CONVERTED_BYTES: u64 = 256 << 20;

/// Where an input's bytes are: a regular file read in place, or a copy of a pipe, FIFO or
/// device in an unnamed temporary file (gone when the process ends, however it ends).
enum Source {
    Path(PathBuf),
    Spool(File),
}

impl Source {
    /// A reader from the start.
    fn open(&self, display: &str) -> Result<File, Fatal> {
        let cannot = |e: std::io::Error| Fatal(format!("{display}: cannot read: {e}"));
        match self {
            Source::Path(p) => File::open(p).map_err(cannot),
            Source::Spool(f) => {
                let mut f = f.try_clone().map_err(cannot)?;
                f.seek(SeekFrom::Start(0)).map_err(cannot)?;
                Ok(f)
            }
        }
    }
}

/// Refuses binary data (a NUL byte) in the first bytes of an input: records, manifests and
/// reports are UTF-8 text, and `/dev/zero` must not be read for gigabytes first.
fn refuse_binary(prefix: &[u8], display: &str) -> Result<(), Fatal> {
    if prefix.contains(&0) {
        return Err(Fatal(format!(
            "{display}: binary data (a NUL byte in the first {} KiB), not text: inputs are records, manifests, scanner reports or runtime events in UTF-8",
            SNIFF / 1024
        )));
    }
    Ok(())
}

/// Copies a non-seekable input once into an unnamed temporary file, checking its first
/// bytes and its size while reading.
fn spool(mut reader: impl Read, display: &str) -> Result<File, Fatal> {
    let cannot = |e: std::io::Error| Fatal(format!("{display}: cannot read: {e}"));
    let mut file =
        tempfile::tempfile().map_err(|e| Fatal(format!("cannot buffer {display}: {e}")))?;
    let mut buf = vec![0u8; SNIFF];
    let mut total: u64 = 0;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(cannot(e)),
        };
        if total < SNIFF as u64 {
            refuse_binary(&buf[..n], display)?;
        }
        total += n as u64;
        if total > MAX_SPOOLED_BYTES {
            return Err(Fatal(format!(
                "{display}: larger than {} GiB; save it to a file and pass the file",
                MAX_SPOOLED_BYTES >> 30
            )));
        }
        file.write_all(&buf[..n])
            .map_err(|e| Fatal(format!("cannot buffer {display}: {e}")))?;
    }
    Ok(file)
}

/// The whole text of an input, refused past `limit` bytes (checked while reading).
fn read_text(reader: impl Read, limit: u64, display: &str) -> Result<String, Fatal> {
    let mut bytes = Vec::new();
    reader
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Fatal(format!("{display}: cannot read: {e}")))?;
    if bytes.len() as u64 > limit {
        return Err(Fatal(format!(
            "{display}: larger than {} MiB, the most converted in memory (records.md JSON Lines stream without a limit)",
            limit >> 20
        )));
    }
    refuse_binary(&bytes[..bytes.len().min(SNIFF)], display)?;
    String::from_utf8(bytes).map_err(|_| Fatal(format!("{display}: not UTF-8 text")))
}

/// One `--input`.
pub struct InputFile {
    /// The name shown in messages.
    pub display: String,
    source: Source,
    /// Records converted from another format, with the line each object starts at.
    converted: Option<Vec<(Record, Option<u32>)>>,
    /// The JSON of each converted record, kept when evidence digests them.
    converted_values: Option<Vec<Value>>,
    /// The detected format.
    pub format: Format,
    /// Objects the adapter skipped, by kind.
    pub skipped: BTreeMap<String, usize>,
    /// Objects read for what they say about others (Services, Routes), by kind.
    pub context: BTreeMap<String, usize>,
    size: u64,
}

/// File kinds read from a directory given as an input.
pub const INPUT_EXTENSIONS: [&str; 5] = ["json", "jsonl", "ndjson", "yaml", "yml"];

/// The inputs with directories replaced by the files of [`INPUT_EXTENSIONS`] under them
/// (recursively, in name order); a directory with none is an error.
pub fn expand_directories(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Fatal> {
    fn walk(dir: &std::path::Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), Fatal> {
        let cannot = |e: std::io::Error| Fatal(format!("{}: cannot read: {e}", dir.display()));
        let mut entries = std::fs::read_dir(dir)
            .map_err(cannot)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(cannot)?;
        entries.sort();
        for p in entries {
            // Symbolic links to directories are not followed: no cycles.
            let meta = std::fs::symlink_metadata(&p).map_err(cannot)?;
            if meta.is_dir() {
                if depth < 64 {
                    walk(&p, depth + 1, out)?;
                }
            } else if p
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| INPUT_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
            {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() != "-" && p.is_dir() {
            let before = out.len();
            walk(p, 0, &mut out)?;
            if out.len() == before {
                return Err(Fatal(format!(
                    "{}: no input files (.{}) in this directory",
                    p.display(),
                    INPUT_EXTENSIONS.join(", .")
                )));
            }
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// The text of every input (directories expanded, stdin and pipes read once), each at
/// most [`MAX_CONVERTED_BYTES`], for commands that read whole documents (`netpol`).
/// Binary data is refused after its first 64 KiB, as `check` refuses it.
pub fn read_texts(paths: &[PathBuf]) -> Result<Vec<(String, String)>, Fatal> {
    let mut out = Vec::new();
    for p in &expand_directories(paths)? {
        let (display, source) = source_of(p)?;
        let mut reader = source.open(&display)?;
        let prefix = read_prefix(&mut reader, &display)?;
        let text = read_text(
            prefix.as_slice().chain(reader),
            MAX_CONVERTED_BYTES,
            &display,
        )?;
        out.push((display, text));
    }
    Ok(out)
}

/// The first [`SNIFF`] bytes of an input, refused when they hold binary data.
fn read_prefix(reader: &mut File, display: &str) -> Result<Vec<u8>, Fatal> {
    let mut prefix = Vec::with_capacity(SNIFF);
    reader
        .take(SNIFF as u64)
        .read_to_end(&mut prefix)
        .map_err(|e| Fatal(format!("{display}: cannot read: {e}")))?;
    refuse_binary(&prefix, display)?;
    Ok(prefix)
}

/// Where input `p` is read from: a regular file in place; stdin (`-`), a pipe, FIFO or
/// device copied once into a temporary file, as they can be read once only.
fn source_of(p: &PathBuf) -> Result<(String, Source), Fatal> {
    if p.as_os_str() == "-" {
        let display = "<stdin>".to_string();
        let file = spool(std::io::stdin().lock(), &display)?;
        return Ok((display, Source::Spool(file)));
    }
    let display = p.display().to_string();
    let meta = std::fs::metadata(p).map_err(|e| Fatal(format!("{display}: cannot read: {e}")))?;
    if meta.is_file() {
        Ok((display, Source::Path(p.clone())))
    } else {
        let reader = File::open(p).map_err(|e| Fatal(format!("{display}: cannot read: {e}")))?;
        let file = spool(reader, &display)?;
        Ok((display, Source::Spool(file)))
    }
}

/// Opens every input (directories expanded); converts the ones that are not records.md JSON.
/// With `keep_values`, the JSON of converted records is kept (for [`each_record_with_json`]).
pub fn open_inputs(
    paths: &[PathBuf],
    options: &ConvertOptions,
    keep_values: bool,
) -> Result<Vec<InputFile>, Fatal> {
    let mut out = Vec::new();
    for p in &expand_directories(paths)? {
        let (display, source) = source_of(p)?;
        let mut reader = source.open(&display)?;
        let size = reader.metadata().map(|m| m.len()).unwrap_or(0);
        let prefix = read_prefix(&mut reader, &display)?;
        let prefix_text = String::from_utf8_lossy(&prefix);
        let mut input = InputFile {
            display,
            source,
            converted: None,
            converted_values: None,
            format: Format::Records,
            skipped: BTreeMap::new(),
            context: BTreeMap::new(),
            size,
        };
        let converted = if !palisade_adapters::sniff(&prefix_text) && !prefix_text.trim().is_empty()
        {
            convert_in_memory(&mut input, options)?
        } else {
            None
        };
        out.push((input, converted));
    }
    if out.is_empty() {
        return Err(Fatal("no input: pass --input FILE (or - for stdin)".into()));
    }
    let mut manifests: Vec<&mut Converted> = out
        .iter_mut()
        .filter_map(|(_, c)| c.as_mut())
        .filter(|c| c.format == Some(Format::Kubernetes))
        .collect();
    share_network_policies(&mut manifests)?;
    out.into_iter()
        .map(|(mut input, converted)| {
            if let Some(converted) = converted {
                into_records(&mut input, converted, keep_values)?;
            }
            Ok(input)
        })
        .collect()
}

/// Applies the NetworkPolicies of every manifest to the deployments of every manifest: a
/// policy and the workloads it selects are often in different files.
fn share_network_policies(manifests: &mut [&mut Converted]) -> Result<(), Fatal> {
    if manifests.len() < 2 {
        return Ok(());
    }
    let policies: Vec<Value> = manifests
        .iter()
        .flat_map(|c| c.network_policies.iter().cloned())
        .collect();
    let isolation = palisade_adapters::NetworkIsolation::new(&policies)
        .map_err(|e| Fatal(format!("NetworkPolicies: {e}")))?;
    for c in manifests.iter_mut() {
        isolation.apply(&mut c.records);
    }
    Ok(())
}

/// Converts an input that is not records.md JSON in memory; `None` when it is records.md
/// JSON after all (the streaming reader reads it and reports errors by position).
fn convert_in_memory(
    input: &mut InputFile,
    options: &ConvertOptions,
) -> Result<Option<Converted>, Fatal> {
    let reader = input.source.open(&input.display)?;
    let text = read_text(reader, MAX_CONVERTED_BYTES, &input.display)?;
    let converted = palisade_adapters::convert_with(&text, options)
        .map_err(|e| Fatal(format!("{}:{e}", input.display)).with_space())?;
    Ok(Some(converted).filter(|c| c.format.unwrap_or(Format::Records) != Format::Records))
}

/// Reads converted records into an input.
fn into_records(
    input: &mut InputFile,
    converted: Converted,
    keep_values: bool,
) -> Result<(), Fatal> {
    let format = converted.format.unwrap_or(Format::Records);
    let mut records = Vec::with_capacity(converted.records.len());
    if keep_values {
        input.converted_values = Some(converted.records.clone());
    }
    for (i, v) in converted.records.into_iter().enumerate() {
        let r: Record = serde_json::from_value(v)
            .map_err(|e| Fatal(format!("{}: record {}: {e}", input.display, i + 1)))?;
        records.push((r, converted.lines.get(i).copied().flatten()));
    }
    input.format = format;
    input.skipped = converted.skipped;
    input.context = converted.context;
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

/// Calls `f` with every record of `input`, in order, and the line its object starts at
/// (known for Kubernetes manifests).
pub fn each_record(
    input: &InputFile,
    label: &str,
    mut f: impl FnMut(Record, Option<u32>) -> Result<(), String>,
) -> Result<usize, Fatal> {
    if let Some(records) = &input.converted {
        for (r, line) in records {
            f(r.clone(), *line).map_err(|e| Fatal(format!("{}: {e}", input.display)))?;
        }
        return Ok(records.len());
    }
    let reader = with_progress(input, label)?;
    read_records(BufReader::with_capacity(1 << 16, reader), |r| f(r, None))
        .map_err(|e| located(input, e))
}

/// The input's file, opened, showing the reading's progress on a terminal when large.
fn with_progress(input: &InputFile, label: &str) -> Result<Box<dyn Read>, Fatal> {
    let file = input.source.open(&input.display)?;
    let show = input.size >= PROGRESS_FROM
        && std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none();
    Ok(if show {
        Box::new(Progress {
            inner: file,
            read: 0,
            total: input.size,
            shown: 0,
            name: format!("{label} {}", input.display),
        })
    } else {
        Box::new(file)
    })
}

/// Where an item of an input is.
pub struct Place<'a> {
    display: &'a str,
    index: usize,
    line: Option<u32>,
}

impl Place<'_> {
    /// The line the item is on (JSON Lines, Kubernetes manifests).
    pub fn line(&self) -> Option<u32> {
        self.line
    }

    /// `file:line`, or `file: record N`.
    pub fn describe(&self) -> String {
        match self.line {
            Some(l) => format!("{}:{l}", self.display),
            None => format!("{}: record {}", self.display, self.index),
        }
    }
}

/// One item of an input: a converted record, or a records.md item as its JSON text (for
/// readers that parse only what they need, and go on past a record that does not parse).
pub enum Item<'a> {
    /// A record converted from another format.
    Record(&'a Record),
    /// A records.md item: one JSON value, or (JSON Lines) one line that should be one.
    Json(&'a [u8]),
}

/// Bytes read at a time from JSON Lines.
const LINE_BLOCK: usize = 1 << 20;

/// Calls `f` with every item of `input` and its place. JSON Lines are handed over a line
/// at a time, as read (one scan of the JSON, by `f`); `f` returns false for a line that is
/// not one whole JSON value, and the rest of the input, from that line, is read as a stream
/// of JSON values (pretty-printed objects, arrays). Broken JSON ends the reading with an
/// error; what an item holds is `f`'s to judge.
pub fn each_item(
    input: &InputFile,
    mut f: impl FnMut(Item<'_>, Place<'_>) -> bool,
) -> Result<usize, Fatal> {
    if let Some(records) = &input.converted {
        for (i, (r, line)) in records.iter().enumerate() {
            let place = Place {
                display: &input.display,
                index: i + 1,
                line: *line,
            };
            f(Item::Record(r), place);
        }
        return Ok(records.len());
    }
    let mut file = input.source.open(&input.display)?;
    match each_line(input, &mut file, 0, &mut f)? {
        Lines::Done { items: 0 } => {
            // Nothing but blanks: the error every reader of records gives.
            palisade_engine::input::read_raw_items(&b""[..], |_| Ok(()))
                .map_err(|e| located(input, e))?;
            Ok(0)
        }
        Lines::Done { items } => Ok(items),
        Lines::NotLines {
            rest,
            lines,
            items: before,
        } => {
            // Not JSON Lines from here: a stream of values, with positions in the file.
            let mut items = before;
            let from = std::io::Cursor::new(rest).chain(file);
            let read = palisade_engine::input::read_raw_items(BufReader::new(from), |raw| {
                items += 1;
                let place = Place {
                    display: &input.display,
                    index: items,
                    line: None,
                };
                f(Item::Json(raw.get().as_bytes()), place);
                Ok(())
            })
            .map_err(|mut e| {
                if e.line > 0 {
                    e.line += lines;
                }
                e.message = renumber(&e.message, before);
                located(input, e)
            })?;
            Ok(before + read)
        }
    }
}

/// How reading JSON Lines ended.
enum Lines {
    /// At the end of the input, with this many items.
    Done { items: usize },
    /// At a line that is not one JSON value: the input from there (the rest to be read
    /// from the reader), with the lines and items before it.
    NotLines {
        rest: Vec<u8>,
        lines: usize,
        items: usize,
    },
}

/// Calls `f` with each non-blank line of `reader` while they are JSON values, lines
/// numbered from `first_line` + 1.
fn each_line(
    input: &InputFile,
    reader: &mut impl Read,
    first_line: usize,
    f: &mut impl FnMut(Item<'_>, Place<'_>) -> bool,
) -> Result<Lines, Fatal> {
    let cannot = |e: std::io::Error| Fatal(format!("{}: cannot read: {e}", input.display));
    let mut buf: Vec<u8> = Vec::with_capacity(LINE_BLOCK);
    let (mut lines, mut items) = (first_line, 0usize);
    let mut at_end = false;
    loop {
        if !at_end {
            let old = buf.len();
            buf.resize(old + LINE_BLOCK, 0);
            let n = loop {
                match reader.read(&mut buf[old..]) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    other => break other.map_err(cannot)?,
                }
            };
            buf.truncate(old + n);
            at_end = n == 0;
        }
        let mut start = 0usize;
        loop {
            let rest = &buf[start..];
            let (line, next) = match memchr::memchr(b'\n', rest) {
                Some(i) => (&rest[..i], start + i + 1),
                None if at_end && !rest.is_empty() => (rest, buf.len()),
                None => break,
            };
            if line.len() as u64 > palisade_engine::input::MAX_RECORD_BYTES {
                return Err(too_large(input, lines + 1));
            }
            let trimmed = line.trim_ascii();
            if trimmed.is_empty() {
                lines += 1;
                start = next;
                continue;
            }
            let place = Place {
                display: &input.display,
                index: items + 1,
                line: u32::try_from(lines + 1).ok(),
            };
            if !trimmed.starts_with(b"{") || !f(Item::Json(trimmed), place) {
                return Ok(Lines::NotLines {
                    rest: buf.split_off(start),
                    lines,
                    items,
                });
            }
            lines += 1;
            items += 1;
            start = next;
        }
        if at_end && start >= buf.len() {
            return Ok(Lines::Done { items });
        }
        buf.drain(..start);
        if buf.len() as u64 > palisade_engine::input::MAX_RECORD_BYTES {
            return Err(too_large(input, lines + 1));
        }
    }
}

/// Threads to read with: `PALISADE_THREADS` (at least 1), else one per core.
pub fn threads() -> Result<usize, Fatal> {
    match std::env::var("PALISADE_THREADS") {
        Ok(text) => match text.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(Fatal(format!(
                "PALISADE_THREADS must be a number of threads (1 or more), not `{text}`"
            ))),
        },
        Err(_) => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

/// Inputs smaller than this are read by one thread.
const PIECES_FROM: u64 = 8 << 20;

/// [`each_item`] by several threads at once, for JSON Lines: the input is cut at line
/// ends into up to `pieces` pieces, each with a new `state()`, and thread `k` calls `f`
/// with its state for the items of piece `k` (their places name their lines, as with
/// [`each_item`]). The states come back in input order. `None` (the caller reads again
/// with [`each_item`]) when the input is small, converted, or not JSON Lines throughout;
/// an error is that of the first piece that fails, so the first in the input.
pub fn each_item_in_pieces<S: Send>(
    input: &InputFile,
    pieces: usize,
    state: impl Fn() -> Result<S, Fatal>,
    f: impl Fn(&mut S, Item<'_>, Place<'_>) -> bool + Sync,
) -> Result<Option<Vec<S>>, Fatal> {
    if input.converted.is_some() || pieces < 2 || input.size < PIECES_FROM {
        return Ok(None);
    }
    let cannot = |e: std::io::Error| Fatal(format!("{}: cannot read: {e}", input.display));
    // Where each piece starts (after a line end), and the lines before it.
    let mut starts = vec![(0u64, 0usize)];
    let mut file = input.source.open(&input.display)?;
    let (mut at, mut lines) = (0u64, 0usize);
    let mut block = vec![0u8; LINE_BLOCK];
    let pieces = pieces as u64;
    for k in 1..pieces {
        let cut = input.size * k / pieces;
        let mut found = None;
        while found.is_none() {
            let n = file.read(&mut block).map_err(cannot)?;
            if n == 0 {
                break;
            }
            let read = &block[..n];
            let wanted = usize::try_from(cut.saturating_sub(at)).unwrap_or(usize::MAX);
            match read
                .get(wanted.min(n)..)
                .and_then(|tail| memchr::memchr(b'\n', tail))
            {
                Some(i) => {
                    let end = wanted.min(n) + i + 1;
                    lines += memchr::memchr_iter(b'\n', &read[..end]).count();
                    found = Some(at + end as u64);
                    file.seek(SeekFrom::Start(at + end as u64))
                        .map_err(cannot)?;
                    at += end as u64;
                }
                None => {
                    lines += memchr::memchr_iter(b'\n', read).count();
                    at += n as u64;
                }
            }
        }
        match found {
            Some(start) if start < input.size => starts.push((start, lines)),
            _ => break,
        }
    }
    if starts.len() < 2 {
        return Ok(None);
    }
    let states = (0..starts.len())
        .map(|_| state())
        .collect::<Result<Vec<S>, Fatal>>()?;
    // The last piece reads to the end, wherever it is by then (as one reader would).
    let ends: Vec<u64> = starts
        .iter()
        .skip(1)
        .map(|(start, _)| *start)
        .chain([u64::MAX])
        .collect();
    let results: Vec<Result<(S, Lines), Fatal>> = std::thread::scope(|scope| {
        let handles: Vec<_> = states
            .into_iter()
            .zip(starts.iter().zip(&ends))
            .map(|(mut state, (&(start, first_line), &end))| {
                let f = &f;
                scope.spawn(move || {
                    let mut file = input.source.open(&input.display)?;
                    file.seek(SeekFrom::Start(start)).map_err(cannot)?;
                    let mut piece = file.take(end.saturating_sub(start));
                    let lines = each_line(input, &mut piece, first_line, &mut |item, place| {
                        f(&mut state, item, place)
                    })?;
                    Ok((state, lines))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Fatal(format!("{}: a reader failed", input.display))))
            })
            .collect()
    });
    let mut done = Vec::with_capacity(results.len());
    for result in results {
        match result? {
            (state, Lines::Done { .. }) => done.push(state),
            (_, Lines::NotLines { .. }) => return Ok(None),
        }
    }
    Ok(Some(done))
}

/// Bytes of JSON Lines handed to a thread at a time by [`each_line_in_order`].
const CHUNK_BYTES: usize = 1 << 20;

/// Reads JSON Lines a chunk of whole lines at a time.
struct Chunks<R> {
    reader: R,
    /// Read past the last chunk's final line end.
    carry: Vec<u8>,
    /// Lines before the next chunk.
    lines: usize,
    at_end: bool,
}

impl<R: Read> Chunks<R> {
    /// The next chunk (about [`CHUNK_BYTES`], ending at a line end or the input's end) and
    /// the lines before it; `None` at the end. A line longer than a record may be comes
    /// whole or cut after the limit, for [`each_line`] to report.
    fn next_chunk(&mut self) -> std::io::Result<Option<(Vec<u8>, usize)>> {
        let limit = CHUNK_BYTES as u64 + palisade_engine::input::MAX_RECORD_BYTES;
        let mut buf = std::mem::take(&mut self.carry);
        let mut searched = 0usize;
        let end = loop {
            if buf.len() >= CHUNK_BYTES || self.at_end {
                match memchr::memrchr(b'\n', &buf[searched..]) {
                    Some(i) => break searched + i + 1,
                    None if self.at_end || buf.len() as u64 > limit => break buf.len(),
                    None => searched = buf.len(),
                }
            }
            let old = buf.len();
            buf.resize(old + CHUNK_BYTES, 0);
            let n = loop {
                match self.reader.read(&mut buf[old..]) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    other => break other?,
                }
            };
            buf.truncate(old + n);
            self.at_end = n == 0;
        };
        self.carry = buf.split_off(end);
        if buf.is_empty() {
            return Ok(None);
        }
        let first_line = self.lines;
        self.lines += memchr::memchr_iter(b'\n', &buf).count();
        Ok(Some((buf, first_line)))
    }
}

/// Reads JSON Lines of records on `threads` threads with results taken in input order:
/// `work` turns each line into a result on any thread, `consume` takes the results on the
/// calling thread in the order of the lines, so what it does is what one thread would do.
/// `work` words its own errors (it has the line's place); those of `consume` follow the
/// input's name.
/// At most two chunks a thread are read ahead: memory is bounded by the chunks, not by
/// the input. For inputs known to be JSON Lines throughout (a line that is not one object
/// is an error here); an error of `work` or `consume` is that of the first line in the
/// input, as with [`each_record`].
pub fn each_line_in_order<R: Send>(
    input: &InputFile,
    label: &str,
    threads: usize,
    work: impl Fn(&[u8], Place<'_>) -> Result<R, Fatal> + Sync,
    mut consume: impl FnMut(R) -> Result<(), String>,
) -> Result<(), Fatal> {
    use std::sync::mpsc;
    type Done<R> = (usize, Result<Vec<R>, Fatal>);
    let window = threads.max(1) * 2;
    let failed = |e: String| Fatal(format!("{}: {e}", input.display));
    let reader_failed = || failed("a reader failed".into());
    // One chunk, on a worker: its lines' results, or the first error.
    let run_chunk = |bytes: &[u8], first_line: usize| -> Result<Vec<R>, Fatal> {
        let mut results = Vec::new();
        let mut error = None;
        let lines = each_line(input, &mut &bytes[..], first_line, &mut |item, place| {
            let Item::Json(json) = item else { return false };
            match work(json, place) {
                Ok(r) => {
                    results.push(r);
                    true
                }
                Err(e) => {
                    error = Some(e);
                    false
                }
            }
        })?;
        match (error, lines) {
            (Some(e), _) => Err(e),
            (None, Lines::Done { .. }) => Ok(results),
            (None, Lines::NotLines { lines, .. }) => Err(Fatal(format!(
                "{}:{}: not one record on the line (the input changed while it was read?)",
                input.display,
                lines + 1
            ))),
        }
    };
    let mut chunks = Chunks {
        reader: with_progress(input, label)?,
        carry: Vec::new(),
        lines: 0,
        at_end: false,
    };
    let (job_tx, job_rx) = mpsc::sync_channel::<(usize, Vec<u8>, usize)>(window);
    let job_rx = std::sync::Mutex::new(job_rx);
    let (done_tx, done_rx) = mpsc::channel::<Done<R>>();
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            let (job_rx, done_tx, run_chunk) = (&job_rx, done_tx.clone(), &run_chunk);
            scope.spawn(move || {
                loop {
                    let job = match job_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok((k, bytes, first_line)) = job else {
                        return;
                    };
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        run_chunk(&bytes, first_line)
                    }))
                    .unwrap_or_else(|_| Err(reader_failed()));
                    if done_tx.send((k, result)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done_tx);
        let (mut sent, mut next, mut exhausted) = (0usize, 0usize, false);
        let mut ready: BTreeMap<usize, Result<Vec<R>, Fatal>> = BTreeMap::new();
        let outcome = 'reading: loop {
            while !exhausted && sent < next + window {
                match chunks.next_chunk() {
                    Ok(Some((bytes, first_line))) => {
                        if job_tx.send((sent, bytes, first_line)).is_err() {
                            break 'reading Err(reader_failed());
                        }
                        sent += 1;
                    }
                    Ok(None) => exhausted = true,
                    Err(e) => {
                        break 'reading Err(failed(format!("cannot read: {e}")));
                    }
                }
            }
            if next == sent {
                break Ok(());
            }
            let Ok((k, result)) = done_rx.recv() else {
                break Err(reader_failed());
            };
            ready.insert(k, result);
            while let Some(result) = ready.remove(&next) {
                next += 1;
                let results = match result {
                    Ok(results) => results,
                    Err(e) => break 'reading Err(e),
                };
                for r in results {
                    if let Err(e) = consume(r) {
                        break 'reading Err(failed(e));
                    }
                }
            }
        };
        // Ends the workers (after the jobs already sent, when stopping early).
        drop(job_tx);
        outcome
    })
}

/// A line longer than a record may be.
fn too_large(input: &InputFile, line: usize) -> Fatal {
    Fatal(format!(
        "{}:{line}: a record is larger than {} MiB",
        input.display,
        palisade_engine::input::MAX_RECORD_BYTES >> 20
    ))
}

/// `record N: ...` with N counted from `before` more records.
fn renumber(message: &str, before: usize) -> String {
    match message
        .strip_prefix("record ")
        .and_then(|m| m.split_once(':'))
        .and_then(|(n, rest)| n.parse::<usize>().ok().map(|n| (n, rest)))
    {
        Some((n, rest)) => format!("record {}:{rest}", n + before),
        None => message.to_string(),
    }
}

/// A read error as `file:line:column: message` (`file: message` without a position).
fn located(input: &InputFile, e: palisade_engine::input::InputError) -> Fatal {
    if e.line > 0 {
        Fatal(format!(
            "{}:{}:{}: {}",
            input.display, e.line, e.column, e.message
        ))
    } else {
        Fatal(format!("{}: {}", input.display, e.message))
    }
}

/// A record's JSON as read, for its evidence digest (computed only when asked).
pub enum RecordJson<'a> {
    /// A converted record.
    Value(&'a Value),
    /// A record read from a records.md input, as its text.
    Raw(&'a serde_json::value::RawValue),
}

impl RecordJson<'_> {
    /// `sha256:` of the record's canonical JSON.
    pub fn digest(&self) -> String {
        match self {
            RecordJson::Value(v) => palisade_evidence::canonical::digest(v),
            // The text was read as valid JSON a moment ago; it parses again.
            RecordJson::Raw(raw) => serde_json::from_str::<Value>(raw.get())
                .map(|v| palisade_evidence::canonical::digest(&v))
                .unwrap_or_else(|_| {
                    palisade_evidence::canonical::digest_bytes(raw.get().as_bytes())
                }),
        }
    }
}

/// [`each_record`] with each record's JSON as read (converted records: as converted), for
/// evidence digests. Converted inputs need [`open_inputs`] with `keep_values`.
pub fn each_record_with_json(
    input: &InputFile,
    mut f: impl FnMut(Record, Option<u32>, RecordJson<'_>) -> Result<(), String>,
) -> Result<usize, Fatal> {
    if let Some(records) = &input.converted {
        let Some(values) = &input.converted_values else {
            return Err(Fatal(format!(
                "{}: the converted records were not kept",
                input.display
            )));
        };
        for ((r, line), v) in records.iter().zip(values) {
            f(r.clone(), *line, RecordJson::Value(v))
                .map_err(|e| Fatal(format!("{}: {e}", input.display)))?;
        }
        return Ok(records.len());
    }
    let file = input.source.open(&input.display)?;
    palisade_engine::input::read_items(
        BufReader::with_capacity(1 << 16, file),
        |raw: Box<serde_json::value::RawValue>| {
            let r: Record = serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
            f(r, None, RecordJson::Raw(&raw))
        },
    )
    .map_err(|e| located(input, e))
}

impl InputFile {
    /// `sha256:` of the input's bytes as read.
    pub fn digest(&self) -> Result<String, Fatal> {
        let file = self.source.open(&self.display)?;
        palisade_evidence::canonical::digest_reader(file)
            .map_err(|e| Fatal(format!("{}: cannot read: {e}", self.display)))
    }
}

/// `palisade convert`: the records of every input as one JSON array on stdout, and a
/// summary (format, records by kind, skipped objects) on stderr.
pub fn convert(paths: &[PathBuf], options: &ConvertOptions) -> Result<i32, Fatal> {
    let mut all = Vec::new();
    let mut lines = Vec::new();
    let mut inputs = Vec::new();
    for p in paths {
        let (display, text) = if p.as_os_str() == "-" {
            let display = "<stdin>".to_string();
            let text = read_text(std::io::stdin().lock(), MAX_CONVERTED_BYTES, &display)?;
            (display, text)
        } else {
            let display = p.display().to_string();
            let file = File::open(p).map_err(|e| Fatal(format!("{display}: cannot read: {e}")))?;
            let text = read_text(file, MAX_CONVERTED_BYTES, &display)?;
            (display, text)
        };
        let converted = palisade_adapters::convert_with(&text, options)
            .map_err(|e| Fatal(format!("{display}:{e}")).with_space())?;
        inputs.push((display, converted));
    }
    let mut manifests: Vec<&mut Converted> = inputs
        .iter_mut()
        .map(|(_, c)| c)
        .filter(|c| c.format == Some(Format::Kubernetes))
        .collect();
    share_network_policies(&mut manifests)?;
    for (display, converted) in inputs {
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
            summary(&kinds, &converted.context, &converted.skipped)
        ));
        all.extend(converted.records);
    }
    let all: Vec<palisade_adapters::KindFirst<'_>> =
        all.iter().map(palisade_adapters::KindFirst).collect();
    crate::output::emit(&(serde_json::to_string_pretty(&all)? + "\n"))?;
    for l in lines {
        eprintln!("{l}");
    }
    Ok(0)
}

/// "3 records (deployment 2, image 1); read for exposure and isolation: Service 1; skipped: ConfigMap 1"
/// for summaries.
pub fn summary(
    kinds: &BTreeMap<String, usize>,
    context: &BTreeMap<String, usize>,
    skipped: &BTreeMap<String, usize>,
) -> String {
    let total: usize = kinds.values().sum();
    let by_kind: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let mut s = format!(
        "{total} record{} ({})",
        if total == 1 { "" } else { "s" },
        by_kind.join(", ")
    );
    if !context.is_empty() {
        let used: Vec<String> = context.iter().map(|(k, n)| format!("{k} {n}")).collect();
        s.push_str(&format!(
            "; read for exposure and isolation: {}",
            used.join(", ")
        ));
    }
    if !skipped.is_empty() {
        let sk: Vec<String> = skipped.iter().map(|(k, n)| format!("{k} {n}")).collect();
        s.push_str(&format!("; skipped: {}", sk.join(", ")));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::{CHUNK_BYTES, Chunks};

    /// Cuts `input` into chunks: each ends at a line end (or the input's end), they add
    /// up to the input, and each knows the lines before it.
    fn cut(input: &[u8]) -> Vec<(Vec<u8>, usize)> {
        let mut chunks = Chunks {
            reader: input,
            carry: Vec::new(),
            lines: 0,
            at_end: false,
        };
        let mut out = Vec::new();
        while let Some(chunk) = chunks.next_chunk().expect("a slice reads") {
            out.push(chunk);
        }
        assert_eq!(
            out.iter()
                .flat_map(|(c, _)| c.iter().copied())
                .collect::<Vec<u8>>(),
            input,
            "the chunks add up to the input"
        );
        let mut lines = 0;
        for (i, (chunk, first_line)) in out.iter().enumerate() {
            assert!(!chunk.is_empty());
            assert_eq!(*first_line, lines, "chunk {i}: lines before it");
            lines += chunk.iter().filter(|b| **b == b'\n').count();
            if i + 1 < out.len() {
                assert_eq!(chunk.last(), Some(&b'\n'), "chunk {i} ends a line");
            }
        }
        out
    }

    #[test]
    fn chunks_end_at_line_ends_and_count_lines() {
        assert!(cut(b"").is_empty());
        assert_eq!(cut(b"{}").len(), 1, "no line end at all");
        // Short lines: chunks of about CHUNK_BYTES.
        let line = b"{\"kind\":\"process\",\"id\":\"e\"}\r\n";
        let short: Vec<u8> = line.repeat(3 * CHUNK_BYTES / line.len());
        let chunks = cut(&short);
        assert!((3..=4).contains(&chunks.len()), "{} chunks", chunks.len());
        assert!(
            chunks
                .iter()
                .all(|(c, _)| c.len() <= CHUNK_BYTES + line.len())
        );
        // A line longer than a chunk comes whole, then the short ones go on.
        let mut long = b"{\"a\":\"".to_vec();
        long.extend(std::iter::repeat_n(b'x', 5 * CHUNK_BYTES / 2));
        long.extend(b"\"}\n");
        let mixed = [&line[..], &long, &short[..1000 * line.len()], &long, b"{}"].concat();
        let chunks = cut(&mixed);
        assert!(chunks.iter().any(|(c, _)| c.ends_with(&long)));
        assert_eq!(chunks.last().map(|(c, _)| c.ends_with(b"{}")), Some(true));
        // Blank lines only.
        assert_eq!(cut(&b"\n".repeat(2 * CHUNK_BYTES + 3)).len(), 3);
    }

    #[test]
    fn a_line_past_the_record_limit_is_cut_for_the_reader_to_refuse() {
        let limit = usize::try_from(palisade_engine::input::MAX_RECORD_BYTES).unwrap_or(0);
        let huge = vec![b'x'; limit + 3 * CHUNK_BYTES];
        let mut chunks = Chunks {
            reader: &huge[..],
            carry: Vec::new(),
            lines: 0,
            at_end: false,
        };
        let first = chunks.next_chunk().ok().flatten().map(|(c, _)| c.len());
        assert!(
            first.is_some_and(|n| n > limit && n <= limit + 2 * CHUNK_BYTES),
            "{first:?}: the line is cut just past the limit, not read whole"
        );
    }
}
