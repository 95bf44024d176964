//! Baseline files: JSON Lines of baseline records, one per container of a workload, sorted
//! by identity (a JSON array or a stream of objects reads too). Reading is strict: an
//! unknown field (`lockd`) is an error, not a silently unlocked baseline.

use palisade_engine::record::Baseline;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::BufRead;

/// Why a baseline file cannot be used; the message names the file and the record.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct FileError(pub String);

/// What tells baselines apart: cluster, namespace, workload (the deployment id when the
/// workload's name is unknown) and container.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Identity {
    /// Cluster ("" when unknown).
    pub cluster: String,
    /// Namespace ("" when unknown).
    pub namespace: String,
    /// Workload name ("" when only the deployment id is known).
    pub workload: String,
    /// Deployment id, when the workload's name is unknown ("" otherwise).
    pub deployment_id: String,
    /// Container name.
    pub container: String,
}

impl Identity {
    /// A baseline's identity.
    pub fn of(b: &Baseline) -> Identity {
        let workload = b.workload.clone().filter(|w| !w.is_empty());
        Identity {
            cluster: b.cluster.clone().unwrap_or_default(),
            namespace: b.namespace.clone().unwrap_or_default(),
            deployment_id: match workload {
                Some(_) => String::new(),
                None => b.deployment_id.clone().unwrap_or_default(),
            },
            workload: workload.unwrap_or_default(),
            container: b.container.clone(),
        }
    }
}

/// Reads a baseline file. `display` names it in errors.
pub fn read(reader: impl BufRead, display: &str) -> Result<Vec<Baseline>, FileError> {
    let mut reader = reader;
    if skip_blank(&mut reader).map_err(|e| FileError(format!("{display}: cannot read: {e}")))? {
        return Ok(Vec::new());
    }
    let mut out: Vec<Baseline> = Vec::new();
    let mut index = 0usize;
    palisade_engine::input::read_items(reader, |v: Value| {
        index += 1;
        out.push(
            palisade_engine::record::parse_baseline(v)
                .map_err(|e| format!("record {index}: {e}"))?,
        );
        Ok(())
    })
    .map_err(|e| {
        if e.line > 0 {
            FileError(format!("{display}:{}:{}: {}", e.line, e.column, e.message))
        } else {
            FileError(format!("{display}: {}", e.message))
        }
    })?;
    check_distinct(&out).map_err(|e| FileError(format!("{display}: {e}")))?;
    Ok(out)
}

/// Skips leading whitespace; true when nothing else follows (an empty file has no baselines).
fn skip_blank(reader: &mut impl BufRead) -> std::io::Result<bool> {
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(true);
        }
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => {
                reader.consume(i);
                return Ok(false);
            }
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    }
}

/// Refuses two baselines for one container of a workload (or of a deployment id), which
/// the engine could not tell apart.
pub fn check_distinct(baselines: &[Baseline]) -> Result<(), String> {
    let mut seen: BTreeMap<(bool, Identity), usize> = BTreeMap::new();
    for (i, b) in baselines.iter().enumerate() {
        let mut keys = vec![(false, Identity::of(b))];
        if let Some(id) = b.deployment_id.as_deref().filter(|d| !d.is_empty()) {
            keys.push((
                true,
                Identity {
                    deployment_id: id.to_string(),
                    container: b.container.clone(),
                    ..Identity::of(&Baseline::default())
                },
            ));
        }
        for key in keys {
            if let Some(first) = seen.insert(key, i) {
                return Err(format!(
                    "records {} and {} are both the baseline of {}",
                    first + 1,
                    i + 1,
                    b.name()
                ));
            }
        }
    }
    Ok(())
}

/// Sorts and de-duplicates a baseline's path lists.
pub fn normalize(b: &mut Baseline) {
    for list in [&mut b.processes, &mut b.startup, &mut b.removed] {
        list.sort();
        list.dedup();
    }
}

/// A baseline file's text: one record a line, sorted by identity, lists sorted.
pub fn write(baselines: &[Baseline]) -> Result<String, FileError> {
    check_distinct(baselines).map_err(FileError)?;
    let mut sorted: Vec<Baseline> = baselines.to_vec();
    sorted.sort_by_key(Identity::of);
    let mut out = String::new();
    for mut b in sorted {
        normalize(&mut b);
        let json =
            serde_json::to_string(&b).map_err(|e| FileError(format!("{}: {e}", b.name())))?;
        out.push_str("{\"kind\":\"baseline\",");
        out.push_str(json.get(1..).unwrap_or_default());
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn read_text(text: &str) -> Result<Vec<Baseline>, FileError> {
        read(std::io::Cursor::new(text), "b.jsonl")
    }

    #[test]
    fn every_field_written_is_a_known_field() {
        let mut b = Baseline {
            cluster: Some("c".into()),
            namespace: Some("n".into()),
            deployment_id: Some("d".into()),
            workload: Some("w".into()),
            container: "api".into(),
            processes: vec!["/a".into()],
            startup: vec!["/s".into()],
            removed: vec!["/r".into()],
            startup_seconds: Some(60),
            observation_start: Some(palisade_engine::record::Timestamp(0)),
            observation_end: Some(palisade_engine::record::Timestamp(60)),
            locked: true,
            locked_at: Some(palisade_engine::record::Timestamp(60)),
            locked_by: Some("window".into()),
            ..Default::default()
        };
        b.first_seen
            .insert("/a".into(), palisade_engine::record::Timestamp(1));
        b.pod_labels.insert("app".into(), "w".into());
        let text = write(&[b.clone()]).unwrap();
        let v: serde_json::Map<String, Value> = serde_json::from_str(&text).unwrap();
        let written: Vec<&str> = v.keys().map(String::as_str).collect();
        let mut known = palisade_engine::record::BASELINE_FIELDS.to_vec();
        known.sort_unstable();
        let mut written_sorted = written.clone();
        written_sorted.sort_unstable();
        assert_eq!(written_sorted, known);
        assert_eq!(read_text(&text).unwrap(), vec![b]);
    }

    #[test]
    fn a_misspelt_field_names_the_file_and_the_record() {
        let text = "{\"kind\":\"baseline\",\"workload\":\"w\",\"container\":\"c\",\"processes\":[]}\n{\"kind\":\"baseline\",\"workload\":\"w\",\"container\":\"d\",\"lockd\":true}\n";
        let e = read_text(text).unwrap_err().0;
        assert!(
            e.starts_with("b.jsonl: record 2: unknown field `lockd`"),
            "{e}"
        );
    }

    #[test]
    fn malformed_records_are_errors_with_their_place() {
        for (text, expect) in [
            (
                "{\"kind\":\"process\",\"id\":\"p\"}",
                "record 1: a `process` record, not a baseline",
            ),
            (
                "{\"workload\":\"w\",\"container\":\"c\"}",
                "record 1: no `\"kind\": \"baseline\"`",
            ),
            (
                "{\"kind\":\"baseline\",\"container\":\"c\"}",
                "a baseline needs a `workload` or a `deployment_id`",
            ),
            (
                "{\"kind\":\"baseline\",\"workload\":\"w\",\"container\":\"\"}",
                "`container` is empty",
            ),
            (
                "{\"kind\":\"baseline\",\"workload\":\"w\",\"container\":\"c\",\"processes\":\"/bin/sh\"}",
                "record 1: invalid type",
            ),
            (
                "{\"kind\":\"baseline\",\"workload\":\"w\",\"container\":\"c\",\"locked_at\":\"noon\"}",
                "invalid timestamp `noon`",
            ),
            (
                "{\"kind\":\"baseline\",\"workload\":\"w\",\"container\":\"c\"",
                "b.jsonl:1:",
            ),
            ("[1]", "record 1: not a JSON object"),
            (
                "{\"kind\":\"baseline\",\"workload\":\"w\",\"container\":\"c\"}\n{\"kind\":\"baseline\",\"workload\":\"w\",\"container\":\"c\"}",
                "records 1 and 2 are both the baseline of /w/c",
            ),
        ] {
            let e = read_text(text).unwrap_err().0;
            assert!(e.starts_with("b.jsonl"), "{e}");
            assert!(e.contains(expect), "{text}: {e}");
        }
        assert_eq!(read_text("").unwrap(), vec![]);
        assert_eq!(read_text(" \n").unwrap(), vec![]);
    }
}
