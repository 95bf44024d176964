//! `palisade publish`: events from files onto the JetStream stream the consumers read, one
//! message per event, for tests, replays and backfills.
//!
//! Every message carries a `Nats-Msg-Id` derived from the event (the digest of its
//! canonical JSON), so the stream drops an event published again within its duplicate
//! window: a replayed file, or one published again after an interrupted run, adds nothing.

use crate::events::{connect, events_stream};
use async_nats::HeaderMap;
use async_nats::jetstream::{self, context::PublishAckFuture};
use palisade_evidence::canonical;
use serde_json::Value;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Messages published and not yet stored by the stream, at most.
const WINDOW: usize = 1024;
/// Publishes of one message tried before the run fails.
const MAX_ATTEMPTS: u32 = 10;
/// Largest file read whole (a JSON array or a multi-line object); JSON Lines are streamed.
const MAX_WHOLE_FILE: u64 = 512 << 20;
/// Largest single event.
const MAX_EVENT_BYTES: usize = 8 << 20;

/// What to publish where.
#[derive(Clone, Debug)]
pub struct PublishConfig {
    /// The NATS server.
    pub url: String,
    /// The stream (created with `subjects` when missing).
    pub stream: String,
    /// The stream's subjects, when it is created.
    pub subjects: Vec<String>,
    /// The subject of every message; by default `events.falco`, `events.tetragon` or
    /// `events.records` after each event's format.
    pub subject: Option<String>,
    /// Files of events: JSON Lines, a JSON array, or one JSON object.
    pub inputs: Vec<PathBuf>,
}

/// What a run published.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Published {
    /// Events read from the files.
    pub events: u64,
    /// Of which the stream already held (same message id within its duplicate window).
    pub duplicates: u64,
}

/// One message on its way.
struct Pending {
    subject: String,
    id: String,
    payload: bytes::Bytes,
    attempts: u32,
    ack: PublishAckFuture,
}

/// Publishes every event of the input files; an unreadable file or event stops the run
/// with an error naming the file and line.
pub async fn publish(config: &PublishConfig) -> Result<Published, String> {
    // Every file is read once before anything is sent: a bad event fails the run before
    // the stream holds part of it.
    let inputs = config.inputs.clone();
    tokio::task::spawn_blocking(move || {
        inputs
            .iter()
            .try_for_each(|path| each_event(path, |_| true))
    })
    .await
    .map_err(|e| e.to_string())??;
    let client = tokio::time::timeout(
        Duration::from_secs(30),
        connect(&config.url, "palisade-publish", false),
    )
    .await
    .map_err(|_| format!("no connection to {} within 30 s", config.url))??;
    let js = jetstream::new(client.clone());
    tokio::time::timeout(
        Duration::from_secs(30),
        events_stream(&js, &config.stream, &config.subjects),
    )
    .await
    .map_err(|_| format!("stream {}: no answer within 30 s", config.stream))??;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(Value, String)>(WINDOW);
    let inputs = config.inputs.clone();
    let reader = tokio::task::spawn_blocking(move || {
        inputs
            .iter()
            .try_for_each(|path| each_event(path, |event| tx.blocking_send(event).is_ok()))
    });
    let mut done = Published::default();
    let mut window: VecDeque<Pending> = VecDeque::new();
    while let Some((value, text)) = rx.recv().await {
        let subject = config
            .subject
            .clone()
            .unwrap_or_else(|| format!("events.{}", format_of(&value)));
        let id = canonical::digest(&value);
        let payload = bytes::Bytes::from(text);
        let ack = send(&js, &subject, &id, payload.clone()).await?;
        window.push_back(Pending {
            subject,
            id,
            payload,
            attempts: 1,
            ack,
        });
        while window.len() >= WINDOW {
            settle_oldest(&js, &mut window, &mut done).await?;
        }
    }
    reader.await.map_err(|e| e.to_string())??;
    while !window.is_empty() {
        settle_oldest(&js, &mut window, &mut done).await?;
    }
    client
        .flush()
        .await
        .map_err(|e| format!("flushing to {}: {e}", config.url))?;
    Ok(done)
}

async fn send(
    js: &jetstream::Context,
    subject: &str,
    id: &str,
    payload: bytes::Bytes,
) -> Result<PublishAckFuture, String> {
    let mut headers = HeaderMap::new();
    headers.insert(async_nats::header::NATS_MESSAGE_ID, id);
    js.publish_with_headers(subject.to_string(), headers, payload)
        .await
        .map_err(|e| format!("publishing to {subject}: {e}"))
}

/// Waits for the oldest message's store. When its ack does not come (the connection was
/// lost, as in a server restart), the acks of every message sent after it are most likely
/// lost too: all of them are sent again at once (same ids: each is stored once), rather
/// than each waiting out its own timeout.
async fn settle_oldest(
    js: &jetstream::Context,
    window: &mut VecDeque<Pending>,
    done: &mut Published,
) -> Result<(), String> {
    let Some(mut oldest) = window.pop_front() else {
        return Ok(());
    };
    loop {
        let error = match oldest.ack.await {
            Ok(ack) => {
                done.events += 1;
                if ack.duplicate {
                    done.duplicates += 1;
                }
                return Ok(());
            }
            Err(e) => e.to_string(),
        };
        if oldest.attempts >= MAX_ATTEMPTS {
            return Err(format!(
                "event {} was not stored after {MAX_ATTEMPTS} attempts: {error}",
                oldest.id
            ));
        }
        tokio::time::sleep(Duration::from_millis(200 * u64::from(oldest.attempts))).await;
        crate::log::log(
            "warn",
            "publish: sending the unconfirmed messages again",
            serde_json::json!({"messages": window.len() + 1, "error": error}),
        );
        oldest.ack = resend(
            js,
            &oldest.subject,
            &oldest.id,
            &oldest.payload,
            &mut oldest.attempts,
        )
        .await?;
        for p in window.iter_mut() {
            p.ack = resend(js, &p.subject, &p.id, &p.payload, &mut p.attempts).await?;
        }
    }
}

/// Sends a message again (the client buffers it while it reconnects).
async fn resend(
    js: &jetstream::Context,
    subject: &str,
    id: &str,
    payload: &bytes::Bytes,
    attempts: &mut u32,
) -> Result<PublishAckFuture, String> {
    loop {
        *attempts += 1;
        match send(js, subject, id, payload.clone()).await {
            Ok(ack) => return Ok(ack),
            Err(e) if *attempts < MAX_ATTEMPTS => {
                crate::log::log(
                    "warn",
                    "publish: retrying",
                    serde_json::json!({"event": id, "error": e}),
                );
                tokio::time::sleep(Duration::from_millis(200 * u64::from(*attempts))).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// `falco`, `tetragon` or `records`: the default subject's last token.
fn format_of(event: &Value) -> &'static str {
    if event.get("rule").is_some() && event.get("output_fields").is_some() {
        "falco"
    } else if [
        "process_exec",
        "process_exit",
        "process_kprobe",
        "process_tracepoint",
    ]
    .iter()
    .any(|k| event.get(k).is_some())
    {
        "tetragon"
    } else {
        "records"
    }
}

/// Calls `each` with every event of a file (its JSON and its text) until it returns false.
/// JSON Lines are streamed; a JSON array or an object over several lines is read whole.
pub fn each_event(
    path: &Path,
    mut each: impl FnMut((Value, String)) -> bool,
) -> Result<(), String> {
    let name = path.display();
    let open = || std::fs::File::open(path).map_err(|e| format!("{name}: {e}"));
    let mut first_line = String::new();
    let mut reader = BufReader::new(open()?);
    loop {
        first_line.clear();
        let n = (&mut reader)
            .take(MAX_EVENT_BYTES as u64 + 1)
            .read_line(&mut first_line)
            .map_err(|e| format!("{name}: {e}"))?;
        if n == 0 || !first_line.trim().is_empty() {
            break;
        }
    }
    let lines = first_line.len() <= MAX_EVENT_BYTES
        && serde_json::from_str::<Value>(&first_line).is_ok_and(|v| v.is_object());
    if lines {
        // Read a bounded line at a time: a line longer than an event may be is refused
        // without being held whole.
        let mut reader = BufReader::new(open()?);
        let mut bytes = Vec::new();
        for number in 1.. {
            bytes.clear();
            let n = (&mut reader)
                .take(MAX_EVENT_BYTES as u64 + 1)
                .read_until(b'\n', &mut bytes)
                .map_err(|e| format!("{name}: line {number}: {e}"))?;
            if n == 0 {
                break;
            }
            let content = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
            let content = content.strip_suffix(b"\r").unwrap_or(content);
            if content.len() > MAX_EVENT_BYTES {
                return Err(format!(
                    "{name}: line {number}: an event of more than {MAX_EVENT_BYTES} bytes"
                ));
            }
            let line = std::str::from_utf8(content)
                .map_err(|_| format!("{name}: line {number}: not UTF-8"))?;
            if line.trim().is_empty() {
                continue;
            }
            let value: Value = serde_json::from_str(line)
                .map_err(|e| format!("{name}: line {number}: not JSON: {e}"))?;
            if !value.is_object() {
                return Err(format!("{name}: line {number}: not a JSON object"));
            }
            if !each((value, line.to_string())) {
                return Ok(());
            }
        }
        return Ok(());
    }
    let size = std::fs::metadata(path)
        .map_err(|e| format!("{name}: {e}"))?
        .len();
    if size > MAX_WHOLE_FILE {
        return Err(format!(
            "{name}: {size} bytes is too large to read whole (at most {MAX_WHOLE_FILE}); write it as JSON Lines, one event per line"
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| format!("{name}: not JSON: {e}"))?;
    let events = match value {
        Value::Array(items) => items,
        v @ Value::Object(_) => vec![v],
        _ => {
            return Err(format!(
                "{name}: neither a JSON object, an array of objects nor JSON Lines"
            ));
        }
    };
    for (i, event) in events.into_iter().enumerate() {
        if !event.is_object() {
            return Err(format!("{name}: item {}: not a JSON object", i + 1));
        }
        let text = event.to_string();
        if !each((event, text)) {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn events_of(text: &str) -> Result<Vec<String>, String> {
        let mut f = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
        f.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        each_event(f.path(), |(_, t)| {
            out.push(t);
            true
        })?;
        Ok(out)
    }

    #[test]
    fn reads_json_lines_arrays_and_single_objects() {
        assert_eq!(
            events_of("{\"a\":1}\n\n{\"a\":2}\n").ok(),
            Some(vec!["{\"a\":1}".to_string(), "{\"a\":2}".to_string()])
        );
        assert_eq!(events_of("[{\"a\":1},{\"b\":2}]").map(|e| e.len()), Ok(2));
        assert_eq!(events_of("{\n  \"a\": 1\n}\n").map(|e| e.len()), Ok(1));
    }

    #[test]
    fn a_bad_event_names_its_file_and_line() {
        let err = events_of("{\"a\":1}\n{\"a\":\n").err().unwrap_or_default();
        assert!(err.contains("line 2: not JSON"), "{err}");
        let err = events_of("{\"a\":1}\n[1]\n").err().unwrap_or_default();
        assert!(err.contains("line 2: not a JSON object"), "{err}");
        let err = events_of("[1, 2]").err().unwrap_or_default();
        assert!(err.contains("item 1: not a JSON object"), "{err}");
        let err = events_of("\"text\"").err().unwrap_or_default();
        assert!(err.contains("neither a JSON object"), "{err}");
        let err = events_of("{\"a\": [").err().unwrap_or_default();
        assert!(err.contains("not JSON"), "{err}");
    }

    #[test]
    fn an_overlong_line_is_refused_without_reading_it_whole() {
        let long = format!(
            "{{\"a\":1}}\n{{\"a\":\"{}\"}}\n",
            "x".repeat(MAX_EVENT_BYTES + 10)
        );
        let err = events_of(&long).err().unwrap_or_default();
        assert!(err.contains("line 2: an event of more than"), "{err}");
        let err = events_of("{\"a\":1}\n\u{0}\u{0}\n")
            .err()
            .unwrap_or_default();
        assert!(err.contains("line 2: not JSON"), "{err}");
        let bytes = b"{\"a\":1}\n\xff\xfe\n";
        let mut f = tempfile::NamedTempFile::new().unwrap_or_else(|e| unreachable!("{e}"));
        f.write_all(bytes).unwrap_or_else(|e| unreachable!("{e}"));
        let err = each_event(f.path(), |_| true).err().unwrap_or_default();
        assert!(err.contains("line 2: not UTF-8"), "{err}");
        // Windows line ends are read too.
        assert_eq!(
            events_of("{\"a\":1}\r\n{\"a\":2}\r\n").map(|e| e.len()),
            Ok(2)
        );
    }

    #[test]
    fn the_default_subject_follows_the_format() {
        let falco = serde_json::json!({"rule": "r", "output_fields": {}});
        let tetragon = serde_json::json!({"process_exec": {}});
        let record = serde_json::json!({"kind": "process"});
        assert_eq!(format_of(&falco), "falco");
        assert_eq!(format_of(&tetragon), "tetragon");
        assert_eq!(format_of(&record), "records");
    }
}
