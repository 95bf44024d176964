//! Reading records: one JSON object, a JSON array of records, or JSON Lines, streamed
//! record by record so memory stays bounded by the largest record.

use crate::record::Record;
use std::fmt;
use std::io::{BufRead, Read};

/// A malformed input, with the position of the problem.
#[derive(Debug, Clone, PartialEq)]
pub struct InputError {
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.line, self.column, self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for InputError {}

/// Converts a JSON error; `record` is the 1-based ordinal of the record being read, named in
/// the message because errors inside a record's fields carry no position.
fn from_json(e: serde_json::Error, record: usize) -> InputError {
    let message = e.to_string();
    // serde_json appends " at line L column C"; the position is reported separately.
    let message = match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message,
    };
    let message = match message.strip_prefix("unknown variant ") {
        Some(rest) => format!("unknown record kind {rest}"),
        None => message,
    };
    let message = if e.is_eof() {
        format!("truncated input: {message}")
    } else {
        format!("record {record}: {message}")
    };
    InputError {
        line: e.line(),
        column: e.column(),
        message,
    }
}

/// Largest single record accepted (bytes of JSON).
pub const MAX_RECORD_BYTES: u64 = 64 * 1024 * 1024;

/// Counts bytes read since the last record boundary and refuses to go past the limit.
struct Limited<R> {
    inner: R,
    since_record: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: std::io::Read> std::io::Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let total = self.since_record.get() + n as u64;
        self.since_record.set(total);
        if total > MAX_RECORD_BYTES {
            return Err(std::io::Error::other(format!(
                "a record is larger than {} MiB",
                MAX_RECORD_BYTES >> 20
            )));
        }
        Ok(n)
    }
}

/// One JSON value from the bytes of one line, as serde_json's `from_slice` reads it (same
/// values, same errors), faster: valid UTF-8 is checked once for the whole line and read
/// as text, rather than string by string.
pub fn from_line<'a, T: serde::Deserialize<'a>>(line: &'a [u8]) -> serde_json::Result<T> {
    match std::str::from_utf8(line) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(line),
    }
}

/// Reads every record of `reader`, calling `each` in input order. Stops at the first
/// malformed record, or the first error `each` returns.
pub fn read_records<R: BufRead>(
    reader: R,
    each: impl FnMut(Record) -> Result<(), String>,
) -> Result<usize, InputError> {
    read_items(reader, each)
}

/// Reads every item of `reader` as [`read_records`] reads records (an array, a stream of
/// objects or JSON Lines, with the same limits), as any type: hosts that keep the record's
/// JSON (to digest it for evidence) read `serde_json::Value`s.
pub fn read_items<R: BufRead, T: serde::de::DeserializeOwned>(
    mut reader: R,
    mut each: impl FnMut(T) -> Result<(), String>,
) -> Result<usize, InputError> {
    // The whitespace before the first value is dropped here: errors after it are moved
    // past it.
    let mut start = Place::default();
    let first = loop {
        let buf = reader.fill_buf().map_err(|e| InputError {
            line: 0,
            column: 0,
            message: e.to_string(),
        })?;
        if buf.is_empty() {
            return Err(InputError {
                line: 1,
                column: 1,
                message: "empty input: expected a record, an array of records or JSON Lines".into(),
            });
        }
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => {
                let b = buf[i];
                start.pass(&buf[..i]);
                reader.consume(i);
                break b;
            }
            None => {
                let n = buf.len();
                start.pass(buf);
                reader.consume(n);
            }
        }
    };
    let since_record = std::rc::Rc::new(std::cell::Cell::new(0u64));
    // Buffered above the limiter so serde's byte-at-a-time reads stay cheap.
    let reader = std::io::BufReader::with_capacity(
        1 << 16,
        Limited {
            inner: reader,
            since_record: since_record.clone(),
        },
    );
    let mut count = 0usize;
    let mut callback_error: Option<String> = None;
    let mut handle = |r: T, count: &mut usize| -> bool {
        *count += 1;
        since_record.set(0);
        match each(r) {
            Ok(()) => true,
            Err(e) => {
                callback_error = Some(e);
                false
            }
        }
    };
    match first {
        b'[' => {
            let mut de = serde_json::Deserializer::from_reader(reader);
            let outcome = read_array(&mut de, &mut |r| handle(r, &mut count));
            if let Some(e) = callback_error {
                return Err(InputError {
                    line: 0,
                    column: 0,
                    message: e,
                });
            }
            outcome.map_err(|e| start.shift(from_json(e, count + 1)))?;
        }
        b'{' => {
            let outcome = read_object_stream(reader, start, |r| handle(r, &mut count));
            if let Some(e) = callback_error {
                return Err(InputError {
                    line: 0,
                    column: 0,
                    message: e,
                });
            }
            outcome?;
        }
        other => {
            return Err(InputError {
                line: 1,
                column: 1,
                message: format!(
                    "expected `{{` or `[` at the start of the input, found `{}`",
                    other as char
                ),
            });
        }
    }
    Ok(count)
}

/// Bytes read at a time by [`read_object_stream`].
const BLOCK_BYTES: usize = 1 << 20;

/// Where a part of the input starts in the whole: the lines before it, and the bytes of its
/// first line that came before it. serde_json places errors in the part it reads; moved by
/// this, they are placed in the whole input.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Place {
    lines: usize,
    column: usize,
}

impl Place {
    /// Moves past `bytes`, which were read and dropped.
    fn pass(&mut self, bytes: &[u8]) {
        match memchr::memrchr(b'\n', bytes) {
            Some(last) => {
                self.lines += memchr::memchr_iter(b'\n', bytes).count();
                self.column = bytes.len() - last - 1;
            }
            None => self.column += bytes.len(),
        }
    }

    /// An error placed in the part that starts here, placed in the whole input (an error
    /// with no place keeps none).
    fn shift(self, mut error: InputError) -> InputError {
        if error.line == 1 {
            error.column += self.column;
        }
        if error.line > 0 {
            error.line += self.lines;
        }
        error
    }
}

/// A buffer over a reader, refilled a block at a time, that knows where its first byte is
/// in the whole input (for error positions).
struct Blocks<R> {
    reader: R,
    buf: Vec<u8>,
    /// Where `buf` starts.
    before: Place,
    at_end: bool,
}

impl<R: Read> Blocks<R> {
    fn new(reader: R, before: Place) -> Self {
        Blocks {
            reader,
            buf: Vec::new(),
            before,
            at_end: false,
        }
    }

    /// Reads one more block (or to the end). `read_to_end` appends without zeroing the
    /// buffer first and copies in-memory input exactly: a small input (one event, one
    /// admission request) costs its own size, not a block.
    fn fill(&mut self) -> Result<(), InputError> {
        if self.at_end {
            return Ok(());
        }
        let block = BLOCK_BYTES as u64;
        match (&mut self.reader).take(block).read_to_end(&mut self.buf) {
            Ok(n) => {
                if (n as u64) < block {
                    self.at_end = true;
                }
                Ok(())
            }
            Err(e) => Err(InputError {
                line: 0,
                column: 0,
                message: e.to_string(),
            }),
        }
    }

    /// Drops the first `consumed` bytes; refuses a record that outgrew the limit.
    fn advance(&mut self, consumed: usize, records: usize) -> Result<(), InputError> {
        self.before
            .pass(self.buf.get(..consumed).unwrap_or_default());
        self.buf.drain(..consumed);
        if self.buf.len() as u64 > MAX_RECORD_BYTES {
            return Err(InputError {
                line: self.before.lines + 1,
                column: self.before.column + 1,
                message: format!(
                    "record {}: a record is larger than {} MiB",
                    records + 1,
                    MAX_RECORD_BYTES >> 20
                ),
            });
        }
        Ok(())
    }

    /// A parse error at its place in the whole input.
    fn error(&self, e: serde_json::Error, record: usize) -> InputError {
        self.before.shift(from_json(e, record))
    }
}

/// What one pass over a block's complete objects ended with.
enum Pass {
    /// The block ends inside an object (or is used up): read more.
    More(usize),
    /// The caller stopped, or the input ended.
    Done,
}

/// Objects one after another (JSON Lines, or objects separated by any whitespace), parsed
/// from a buffer refilled a block at a time: serde_json parses slices several times faster
/// than readers. An object cut by a block's end is parsed again with the next block; error
/// positions are those in the whole input. `handle` returns false to stop.
fn read_object_stream<R: Read, T: serde::de::DeserializeOwned>(
    reader: R,
    start: Place,
    mut handle: impl FnMut(T) -> bool,
) -> Result<(), InputError> {
    let mut blocks = Blocks::new(reader, start);
    let mut records = 0usize;
    loop {
        blocks.fill()?;
        let mut stream = serde_json::Deserializer::from_slice(&blocks.buf).into_iter::<T>();
        let pass = loop {
            match stream.next() {
                Some(Ok(item)) => {
                    records += 1;
                    if !handle(item) {
                        break Pass::Done;
                    }
                }
                Some(Err(e)) if e.is_eof() && !blocks.at_end => {
                    break Pass::More(stream.byte_offset());
                }
                Some(Err(e)) => return Err(blocks.error(e, records + 1)),
                None if blocks.at_end => break Pass::Done,
                None => break Pass::More(blocks.buf.len()),
            }
        };
        match pass {
            Pass::Done => return Ok(()),
            Pass::More(consumed) => blocks.advance(consumed, records)?,
        }
    }
}

/// Calls `each` with the JSON text of every item of `reader` (read as [`read_records`]
/// reads records), borrowed from the reading buffer where it can be: for hosts that parse
/// only some fields of each item, and go on past an item they cannot use.
pub fn read_raw_items<R: BufRead>(
    mut reader: R,
    mut each: impl FnMut(&serde_json::value::RawValue) -> Result<(), String>,
) -> Result<usize, InputError> {
    let first = reader.fill_buf().map_err(|e| InputError {
        line: 0,
        column: 0,
        message: e.to_string(),
    })?;
    let first = first.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if first != Some(b'{') {
        return read_items(reader, |raw: Box<serde_json::value::RawValue>| each(&raw));
    }
    let mut blocks = Blocks::new(reader, Place::default());
    let mut records = 0usize;
    loop {
        blocks.fill()?;
        let mut stream = serde_json::Deserializer::from_slice(&blocks.buf)
            .into_iter::<&serde_json::value::RawValue>();
        let pass = loop {
            match stream.next() {
                Some(Ok(item)) => {
                    records += 1;
                    each(item).map_err(|message| InputError {
                        line: 0,
                        column: 0,
                        message,
                    })?;
                }
                Some(Err(e)) if e.is_eof() && !blocks.at_end => {
                    break Pass::More(stream.byte_offset());
                }
                Some(Err(e)) => return Err(blocks.error(e, records + 1)),
                None if blocks.at_end => break Pass::Done,
                None => break Pass::More(blocks.buf.len()),
            }
        };
        match pass {
            Pass::Done => return Ok(records),
            Pass::More(consumed) => blocks.advance(consumed, records)?,
        }
    }
}

/// Every record of `bytes` through [`read_records`].
fn read_through_reader(bytes: &[u8]) -> Result<Vec<Record>, InputError> {
    let mut out = Vec::new();
    read_records(bytes, |r| {
        out.push(r);
        Ok(())
    })?;
    Ok(out)
}

/// The elements of a JSON array, each passed to `each` as it is read (`each` returning
/// false stops the read), then the end of the input.
fn read_array<'de, R: serde_json::de::Read<'de>, T: serde::de::DeserializeOwned>(
    de: &mut serde_json::Deserializer<R>,
    each: &mut dyn FnMut(T) -> bool,
) -> serde_json::Result<()> {
    serde::Deserializer::deserialize_seq(&mut *de, SeqVisitor { each })?;
    de.end()
}

/// Reads records from a byte slice (convenience for hosts and tests): the records, or the
/// error, that [`read_records`] gives for the same bytes (valid UTF-8 is read as
/// [`read_text`] reads it).
pub fn read_all(bytes: &[u8]) -> Result<Vec<Record>, InputError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => read_text(text),
        Err(_) => read_through_reader(bytes),
    }
}

/// [`read_all`] for text: a JSON array no larger than [`MAX_RECORD_BYTES`] (so no record in
/// it can pass the limit) is read from the text itself (no read call per byte); other
/// layouts as [`read_records`] reads them. Errors are those of
/// `read_records` (a value of the wrong type is placed one column earlier, where
/// `serde_json::from_str` places it: the reader has read a byte past it).
pub fn read_text(text: &str) -> Result<Vec<Record>, InputError> {
    let start = text.bytes().position(|b| !b.is_ascii_whitespace());
    let array = start
        .filter(|&i| text.as_bytes()[i] == b'[' && text.len() as u64 <= MAX_RECORD_BYTES)
        .and_then(|i| text.get(i..));
    let (Some(i), Some(array)) = (start, array) else {
        return read_through_reader(text.as_bytes());
    };
    let mut before = Place::default();
    before.pass(&text.as_bytes()[..i]);
    let mut out = Vec::new();
    // As `read_records` reads it: from the `[` on (whitespace before it consumed). As a
    // slice, which every build already reads record streams with: a reader of `&str`
    // would be one more copy of every record type's reader (100 KB of WASM).
    let mut de = serde_json::Deserializer::from_slice(array.as_bytes());
    read_array(&mut de, &mut |r| {
        out.push(r);
        true
    })
    .map_err(|e| before.shift(from_json(e, out.len() + 1)))?;
    Ok(out)
}

struct SeqVisitor<'a, T> {
    each: &'a mut dyn FnMut(T) -> bool,
}

impl<'de, T: serde::de::DeserializeOwned> serde::de::Visitor<'de> for SeqVisitor<'_, T> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(r) = seq.next_element::<T>()? {
            if !(self.each)(r) {
                // Drain nothing more: the caller reports its own error.
                return Ok(());
            }
        }
        Ok(())
    }
}

/// Whether a reader's content is empty apart from whitespace (used to reject empty files).
pub fn is_blank(mut r: impl Read) -> std::io::Result<bool> {
    let mut buf = [0u8; 4096];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok(true);
        }
        if buf[..n].iter().any(|b| !b.is_ascii_whitespace()) {
            return Ok(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_reads_as_from_slice_reads_it() {
        let lines: [&[u8]; 8] = [
            br#"{"kind":"process","id":"e1","exec_path":"/bin/sh"}"#,
            br#"{"kind":"process","id":"caf\u00e9 \"q\""}"#,
            "{\"kind\":\"process\",\"id\":\"caf\u{e9}\"}".as_bytes(),
            b"{\"kind\":\"process\",\"id\":\"caf\xe9\"}",
            b"{\"kind\":\"process\",\"id\":1}",
            br#"{"kind":"process","id":"e1"} {"#,
            br#"{"kind":"process","id":"e1","time":"noon"}"#,
            b"\xff{}",
        ];
        for line in lines {
            let fast = from_line::<crate::record::Record>(line).map_err(|e| e.to_string());
            let slow =
                serde_json::from_slice::<crate::record::Record>(line).map_err(|e| e.to_string());
            assert_eq!(
                format!("{fast:?}"),
                format!("{slow:?}"),
                "{}",
                String::from_utf8_lossy(line)
            );
            let fast = from_line::<serde_json::Value>(line).map_err(|e| e.to_string());
            let slow = serde_json::from_slice::<serde_json::Value>(line).map_err(|e| e.to_string());
            assert_eq!(fast, slow, "{}", String::from_utf8_lossy(line));
        }
        assert!(from_line::<serde_json::Value>(b"{\"a\":\"\xe9\"}").is_err());
    }

    /// Errors past the first block keep their place in the whole input, and records cut by
    /// a block's end are read whole, with objects on one line or spread over lines.
    #[test]
    fn positions_hold_across_blocks() {
        let record = |i: usize| {
            format!(
                "{{\"kind\":\"process\",\"id\":\"p{i}\",\"exec_path\":\"/bin/{}\"}}",
                "x".repeat(i % 97)
            )
        };
        for (separator, per_line) in [("\n", 1usize), (" ", 7), ("\n  ", 1)] {
            let mut text = String::new();
            let mut n = 0;
            while text.len() < 3 * BLOCK_BYTES {
                text.push_str(&record(n));
                n += 1;
                text.push_str(if n % per_line == 0 { "\n" } else { separator });
            }
            assert_eq!(read_records(text.as_bytes(), |_| Ok(())).expect("reads"), n);
            // A bad value in the last record: the same place serde_json gives for the text.
            let bad = format!("{text}{{\"kind\":\"process\",\"id\":\"bad\",\"uid\":\"root\"}}\n");
            let got = read_records(bad.as_bytes(), |_| Ok(())).expect_err("bad");
            let whole = serde_json::Deserializer::from_str(&bad)
                .into_iter::<Record>()
                .find_map(Result::err)
                .expect("serde_json finds it");
            assert_eq!(
                (got.line, got.column),
                (whole.line(), whole.column()),
                "{separator:?}: {got}"
            );
            assert!(
                got.message
                    .starts_with(&format!("record {}: invalid type", n + 1)),
                "{got}"
            );
            // Truncated in the middle of the last record.
            let cut = &bad[..bad.len() - 10];
            let got = read_records(cut.as_bytes(), |_| Ok(())).expect_err("cut");
            assert!(got.message.starts_with("truncated input"), "{got}");
        }
    }

    /// `read_all` gives what `read_records` gives for the same bytes, records or error,
    /// whether it reads the slice as text (arrays of valid UTF-8) or through the reader:
    /// every cut of an array, bad values, bytes after it, whitespace before it (a form feed
    /// too), invalid UTF-8 and the other layouts.
    #[test]
    fn read_all_reads_as_read_records_does() {
        let through_reader = |bytes: &[u8]| {
            let mut out = Vec::new();
            read_records(bytes, |r| {
                out.push(format!("{r:?}"));
                Ok(())
            })
            .map(|_| out)
        };
        // The same records, or the same error at the same place, except that the reader has
        // read one byte past a value of the wrong type when it finds it (the text reader's
        // column is that of `serde_json::from_str`).
        let same = |bytes: &[u8]| {
            let shown = String::from_utf8_lossy(bytes);
            let fast = read_all(bytes).map(|v| v.iter().map(|r| format!("{r:?}")).collect());
            match (&fast, through_reader(bytes)) {
                (Err(f), Err(r)) => {
                    assert_eq!((f.line, &f.message), (r.line, &r.message), "{shown:?}");
                    assert!(
                        f.column == r.column
                            || (f.column + 1 == r.column && f.message.contains("invalid type")),
                        "{shown:?}: {f} against {r}"
                    );
                }
                (fast, reader) => assert_eq!(fast, &reader, "{shown:?}"),
            }
            fast.is_ok()
        };
        let array = concat!(
            "[{\"kind\":\"process\",\"id\":\"p1\",\"name\":\"caf\u{e9} \\u00e9\",\"args\":\"a\\nb\"},\n",
            " {\"id\":\"i\",\"kind\":\"image\",\"name\":{\"registry\":\"r\",\"remote\":\"x\",\"tag\":\"1\"}},\n",
            " {\"kind\":\"deployment\",\"id\":\"d\",\"name\":\"d\",\"namespace\":\"n\",\"containers\":[]}]"
        );
        assert!(same(array.as_bytes()));
        let mut whole = 0;
        for cut in (0..=array.len()).filter(|&i| array.is_char_boundary(i)) {
            whole += usize::from(same(&array.as_bytes()[..cut]));
        }
        assert_eq!(whole, 1, "only the whole array reads");
        for text in [
            format!(" \n\t{array}"),
            format!("\u{c}{array}"),
            format!("{array} \n"),
            format!("{array} x"),
            format!("{array}[]"),
            array.replace("\"p1\"", "7"),
            array.replace("process", "bogus"),
            "[]".to_string(),
            "[ ]\n".to_string(),
            "[1]".to_string(),
            "{\"kind\":\"image\",\"id\":\"a\"}".to_string(),
            "{\"kind\":\"image\",\"id\":\"a\"}\n[]".to_string(),
        ] {
            same(text.as_bytes());
        }
        // Hostile nesting: an error from serde_json's depth limit, both ways, no overflow.
        let deep = "[".repeat(100_000);
        assert!(!same(deep.as_bytes()));
        let deep_field = format!(
            "[{{\"kind\":\"process\",\"id\":\"p\",\"x\":{}}}]",
            "[".repeat(100_000)
        );
        assert!(!same(deep_field.as_bytes()));
        let mut invalid = array.as_bytes().to_vec();
        invalid[array.find("caf").expect("in the array") + 3] = 0xe9;
        assert!(!same(&invalid), "invalid UTF-8 is an error");
        assert!(same(b"[]"));
    }

    /// Blank lines and spaces before the first value do not move errors: an array, a
    /// stream of objects and JSON Lines, read through a reader and from text, place a
    /// syntax error where serde_json places it in the whole input.
    #[test]
    fn errors_after_leading_whitespace_keep_their_place() {
        let bodies = [
            "[{\"kind\":\"process\",\"id\":\"p\"} x]",
            "{\"kind\":\"process\",\"id\":\"p\"} x",
            "{\"kind\":\"process\",\"id\":\"p\"}\n{\"kind\":\"process\",\"id\":\"q\",}\n",
        ];
        for lead in ["", "  ", "\n\n", " \n \r\n\t  ", "\n\n\n   "] {
            for body in bodies {
                let text = format!("{lead}{body}");
                let whole = serde_json::Deserializer::from_str(&text)
                    .into_iter::<serde_json::Value>()
                    .find_map(Result::err)
                    .expect("serde_json finds it");
                let expected = (whole.line(), whole.column());
                let read = read_records(text.as_bytes(), |_| Ok(())).expect_err("bad");
                assert_eq!((read.line, read.column), expected, "{text:?}: {read}");
                let all = read_all(text.as_bytes()).expect_err("bad");
                assert_eq!((all.line, all.column), expected, "{text:?}: {all}");
                // The place after the whitespace is the place of the part after it.
                let mut place = Place::default();
                place.pass(lead.as_bytes());
                assert_eq!(place.lines, lead.matches('\n').count(), "{lead:?}");
            }
        }
    }

    fn kinds(text: &str) -> Result<Vec<&'static str>, InputError> {
        Ok(read_all(text.as_bytes())?
            .iter()
            .map(|r| r.kind())
            .collect())
    }

    #[test]
    fn reads_object_array_and_lines() {
        assert_eq!(kinds(r#"{"kind":"image","id":"a"}"#), Ok(vec!["image"]));
        assert_eq!(
            kinds(r#" [{"kind":"image","id":"a"}, {"kind":"process","id":"p"}] "#),
            Ok(vec!["image", "process"])
        );
        assert_eq!(
            kinds("{\"kind\":\"image\",\"id\":\"a\"}\n{\"kind\":\"process\",\"id\":\"p\"}\n"),
            Ok(vec!["image", "process"])
        );
    }

    #[test]
    fn errors_carry_positions() {
        let e = kinds("{\"kind\":\"image\",\"id\":\"a\"}\n{\"kind\":\"bogus\",\"id\":\"p\"}")
            .unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("bogus"), "{e}");
        let e = kinds("[{\"kind\":\"image\",\"id\":\"a\"},").unwrap_err();
        assert!(e.message.contains("truncated"), "{e}");
        let e = kinds("").unwrap_err();
        assert!(e.message.contains("empty"));
        let e = kinds("kind: deployment").unwrap_err();
        assert!(e.message.contains("expected `{` or `[`"));
        let e = kinds(r#"[{"kind":"deployment","id":"x"}]"#).unwrap_err();
        assert!(e.message.contains("missing field `name`"), "{e}");
    }
}
