//! The log: written, read back, verified; crashes, concurrent writers and bad files.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests"
)]

mod common;

use common::*;
use palisade_evidence::entry::Entry;
use palisade_evidence::store::{Reader, StoreError, Writer};
use palisade_evidence::verify::verify;

#[test]
fn a_written_log_verifies_with_the_public_key_and_reads_back_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evidence.db");
    let signer = key("ci", 1);
    let last = write_log(&path, &signer, 5, 7, &mut Rng(42));
    let mut kinds = Vec::new();
    let v = verify(&path, &[signer.verifier()], &[last], |_, e| {
        kinds.push(e.kind())
    })
    .unwrap();
    assert!(v.ok(), "{:?}", v.problem);
    assert_eq!(v.entries as usize, kinds.len());
    assert_eq!(kinds[0], "log");
    assert_eq!(kinds.iter().filter(|k| **k == "run_started").count(), 5);
    assert_eq!(
        kinds.iter().filter(|k| **k == "policy_set").count(),
        1,
        "written once"
    );
    assert_eq!(v.runs, 5);
    assert!(v.unfinished.is_empty());
    assert!(
        v.checkpoints >= 5,
        "a checkpoint per batch and per run: {}",
        v.checkpoints
    );
    // Another key does not verify it.
    let other = verify(&path, &[key("ci", 2).verifier()], &[], |_, _| {}).unwrap();
    assert!(
        other
            .problem
            .unwrap()
            .what
            .contains("no signature by a trusted key")
    );
}

#[test]
fn an_unfinished_run_is_named_and_the_rest_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evidence.db");
    let signer = key("ci", 1);
    let mut w = Writer::open(&path, key("ci", 1), "2026-11-01T00:00:00Z").unwrap();
    write_run(&mut w, "done", "2026-11-01T01:00:00Z", 3, true).unwrap();
    write_run(&mut w, "crashed", "2026-11-01T02:00:00Z", 3, false).unwrap();
    // Entries queued but never flushed are lost, as in a crash: nothing half-written remains.
    w.append(Entry::RunFinished(palisade_evidence::entry::RunFinished {
        run: "crashed".into(),
        time: "2026-11-01T02:00:01Z".into(),
        records: 1,
        violations: 0,
        exceptions: 0,
        failed: false,
    }))
    .unwrap();
    drop(w);
    let v = verify(&path, &[signer.verifier()], &[], |_, _| {}).unwrap();
    assert!(v.ok(), "{:?}", v.problem);
    assert_eq!(v.unfinished.len(), 1);
    assert_eq!(v.unfinished[0].run, "crashed");
}

#[test]
fn writers_on_one_file_share_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evidence.db");
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut w = Writer::open(&path, key("ci", 1), "2026-11-01T00:00:00Z")
                    .unwrap()
                    .with_batch(3);
                for r in 0..10 {
                    write_run(
                        &mut w,
                        &format!("t{t}-r{r}"),
                        "2026-11-02T00:00:00Z",
                        4,
                        true,
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let v = verify(&path, &[key("ci", 1).verifier()], &[], |_, _| {}).unwrap();
    assert!(v.ok(), "{:?}", v.problem);
    assert_eq!(v.runs, 40);
    assert!(v.unfinished.is_empty());
}

#[test]
fn files_that_are_not_logs_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(
        &text,
        "hello, this is not a database at all, just text\n".repeat(100),
    )
    .unwrap();
    let e = Reader::open(&text).err().unwrap();
    assert!(matches!(e, StoreError::NotALog(..)), "{e}");
    assert!(e.to_string().contains("notes.txt"), "{e}");

    let other = dir.path().join("other.db");
    let conn = rusqlite::Connection::open(&other).unwrap();
    conn.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
        .unwrap();
    drop(conn);
    let e = Reader::open(&other).err().unwrap();
    assert!(e.to_string().contains("not a Palisade evidence log"), "{e}");
    // A writer refuses it too, and leaves it alone.
    assert!(Writer::open(&other, key("ci", 1), "2026-11-01T00:00:00Z").is_err());

    let newer = dir.path().join("newer.db");
    write_log(&newer, &key("ci", 1), 1, 10, &mut Rng(1));
    let conn = rusqlite::Connection::open(&newer).unwrap();
    conn.pragma_update(None, "user_version", 2).unwrap();
    drop(conn);
    let e = Reader::open(&newer).err().unwrap();
    assert!(
        e.to_string()
            .contains("newer palisade (log format version 2"),
        "{e}"
    );

    // The header's version and meta's must agree: a flipped byte in either (or an edit
    // with the triggers dropped) is refused, not read as another version.
    for (name, sql) in [
        ("zero.db", "PRAGMA user_version = 0"),
        (
            "meta.db",
            "DROP TRIGGER meta_no_update; UPDATE meta SET value = '3' WHERE key = 'version'",
        ),
    ] {
        let path = dir.path().join(name);
        write_log(&path, &key("ci", 1), 1, 10, &mut Rng(1));
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(sql).unwrap();
        drop(conn);
        let e = Reader::open(&path).err().unwrap();
        assert!(matches!(e, StoreError::NotALog(..)), "{name}: {e}");
        assert!(
            verify(&path, &[key("ci", 1).verifier()], &[], |_, _| {}).map_or(true, |v| !v.ok()),
            "{name} verified"
        );
    }

    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, "").unwrap();
    let e = Reader::open(&empty).err().unwrap();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: not a Palisade evidence log (an empty file)",
            empty.display()
        )
    );

    let missing = dir.path().join("missing.db");
    assert!(matches!(
        Reader::open(&missing),
        Err(StoreError::Missing(_))
    ));
    assert!(!missing.exists(), "reading never creates a file");
}

#[test]
fn the_triggers_refuse_updates_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evidence.db");
    write_log(&path, &key("ci", 1), 1, 10, &mut Rng(1));
    let conn = rusqlite::Connection::open(&path).unwrap();
    for sql in [
        "UPDATE entries SET entry = 'x' WHERE seq = 2",
        "DELETE FROM entries WHERE seq = 2",
        "DELETE FROM checkpoints",
        "UPDATE meta SET value = 'x'",
    ] {
        let e = conn.execute(sql, []).err().unwrap();
        assert!(e.to_string().contains("append-only"), "{sql}: {e}");
    }
}
