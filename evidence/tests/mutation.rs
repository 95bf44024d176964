//! Random tampering: every mutation of a log is detected, every untouched log verifies.
//!
//! Each trial copies a freshly written log, applies one mutation as an attacker with write
//! access to the file would (triggers dropped first), and verifies it with the public key
//! and the latest checkpoint the user kept. CI runs 1,000 trials; the long form is
//! `PALISADE_MUTATION_TRIALS=10000 cargo test --release -p palisade-evidence --test mutation`.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests"
)]

mod common;

use common::*;
use palisade_evidence::chain;
use palisade_evidence::entry::{Entry, EvaluationEntry};
use palisade_evidence::note::{Checkpoint, SigningKey};
use palisade_evidence::verify::verify;
use rusqlite::Connection;
use std::path::Path;

const KINDS: [&str; 12] = [
    "edit an entry byte",
    "edit a hash byte",
    "edit a checkpoint byte",
    "delete an entry",
    "reorder two entries",
    "truncate the tail",
    "roll back to an earlier checkpoint",
    "forge a checkpoint with another key",
    "insert an entry with a recomputed chain",
    "append an entry with a recomputed chain",
    "delete the last checkpoint",
    "flip a byte of the file",
];

fn open(path: &Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(
        "DROP TRIGGER entries_no_update; DROP TRIGGER entries_no_delete;
         DROP TRIGGER checkpoints_no_update; DROP TRIGGER checkpoints_no_delete;",
    )
    .unwrap();
    conn
}

fn count(conn: &Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

fn entries(conn: &Connection) -> Vec<(i64, String, String, Vec<u8>)> {
    let mut stmt = conn
        .prepare("SELECT seq, kind, entry, hash FROM entries ORDER BY seq")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Rewrites every entry from `from` (1-based) on with recomputed hashes, as an attacker
/// without the key would.
fn rewrite_chain(conn: &Connection, rows: &[(i64, String, String)], from: usize) {
    conn.execute("DELETE FROM entries WHERE seq >= ?1", [from as i64])
        .unwrap();
    let mut hash = chain::GENESIS;
    for (i, (_, kind, text)) in rows.iter().enumerate() {
        hash = chain::link(&hash, text.as_bytes());
        if i + 1 >= from {
            conn.execute(
                "INSERT INTO entries(seq, kind, entry, hash) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![(i + 1) as i64, kind, text, &hash[..]],
            )
            .unwrap();
        }
    }
}

fn another_entry() -> (String, String) {
    let e = Entry::Evaluation(EvaluationEntry {
        run: "run-0".into(),
        time: "2026-11-01T12:00:00Z".into(),
        input_digest: "sha256:forged".into(),
        records: 1,
        violations: 0,
        event: None,
    });
    (e.kind().to_string(), e.to_canonical())
}

/// Applies mutation `kind`; returns false when it would change nothing (the trial is
/// drawn again).
fn mutate(path: &Path, kind: usize, rng: &mut Rng, origin: &str) -> bool {
    if kind == 11 {
        let mut bytes = std::fs::read(path).unwrap();
        let at = rng.below(bytes.len() as u64) as usize;
        bytes[at] ^= 1 << rng.below(8);
        std::fs::write(path, bytes).unwrap();
        return true;
    }
    let conn = open(path);
    let rows = entries(&conn);
    let n = rows.len();
    let pick = |rng: &mut Rng| rng.below(n as u64) as usize;
    match kind {
        0 => {
            let (seq, _, text, _) = &rows[pick(rng)];
            let mut bytes = text.clone().into_bytes();
            let at = rng.below(bytes.len() as u64) as usize;
            let old = bytes[at];
            let mut new = b' ' + rng.below(95) as u8;
            if new == old {
                new = if old == b'~' { b'!' } else { old + 1 };
            }
            bytes[at] = new;
            let Ok(text) = String::from_utf8(bytes) else {
                return false;
            };
            conn.execute(
                "UPDATE entries SET entry = ?1 WHERE seq = ?2",
                rusqlite::params![text, seq],
            )
            .unwrap();
        }
        1 => {
            let (seq, _, _, hash) = &rows[pick(rng)];
            let mut hash = hash.clone();
            let at = rng.below(32) as usize;
            hash[at] ^= 1 << rng.below(8);
            conn.execute(
                "UPDATE entries SET hash = ?1 WHERE seq = ?2",
                rusqlite::params![hash, seq],
            )
            .unwrap();
        }
        2 => {
            let notes: Vec<(i64, String)> = conn
                .prepare("SELECT size, note FROM checkpoints")
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let (size, note) = &notes[rng.below(notes.len() as u64) as usize];
            let mut chars: Vec<char> = note.chars().collect();
            let at = rng.below(chars.len() as u64) as usize;
            let new = (b'!' + rng.below(90) as u8) as char;
            if chars[at] == new {
                return false;
            }
            chars[at] = new;
            let note: String = chars.into_iter().collect();
            conn.execute(
                "UPDATE checkpoints SET note = ?1 WHERE size = ?2",
                rusqlite::params![note, size],
            )
            .unwrap();
        }
        3 => {
            let (seq, ..) = &rows[pick(rng)];
            conn.execute("DELETE FROM entries WHERE seq = ?1", [seq])
                .unwrap();
        }
        4 => {
            let (a, b) = (pick(rng), pick(rng));
            if rows[a].2 == rows[b].2 {
                return false;
            }
            // Swap the contents (kind, text and hash) of two rows.
            for (to, from) in [(a, b), (b, a)] {
                conn.execute(
                    "UPDATE entries SET kind = ?1, entry = ?2, hash = ?3 WHERE seq = ?4",
                    rusqlite::params![rows[from].1, rows[from].2, rows[from].3, rows[to].0],
                )
                .unwrap();
            }
        }
        5 => {
            let keep = rng.below(n as u64) as i64;
            conn.execute("DELETE FROM entries WHERE seq > ?1", [keep])
                .unwrap();
        }
        6 => {
            // Back to an earlier checkpoint: the entries and the checkpoints after it go, so
            // the rest is a consistent, signed log; only the kept checkpoint tells.
            let sizes: Vec<i64> = conn
                .prepare("SELECT size FROM checkpoints ORDER BY size")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            if sizes.len() < 2 {
                return false;
            }
            let to = sizes[rng.below(sizes.len() as u64 - 1) as usize];
            conn.execute("DELETE FROM entries WHERE seq > ?1", [to])
                .unwrap();
            conn.execute("DELETE FROM checkpoints WHERE size > ?1", [to])
                .unwrap();
        }
        7 => {
            // Edit an entry, recompute the chain and sign every checkpoint anew with a key of
            // the same name.
            let mut plain: Vec<(i64, String, String)> = rows
                .iter()
                .map(|r| (r.0, r.1.clone(), r.2.clone()))
                .collect();
            let at = 1 + rng.below(n as u64 - 1) as usize;
            let (kind, text) = another_entry();
            plain[at] = (plain[at].0, kind, text);
            rewrite_chain(&conn, &plain, at + 1);
            let forger = SigningKey::from_seed("ci", [77; 32]).unwrap();
            let sizes: Vec<i64> = conn
                .prepare("SELECT size FROM checkpoints")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            conn.execute("DELETE FROM checkpoints", []).unwrap();
            for size in sizes {
                let head: Vec<u8> = conn
                    .query_row("SELECT hash FROM entries WHERE seq = ?1", [size], |r| {
                        r.get(0)
                    })
                    .unwrap();
                let note = Checkpoint {
                    origin: origin.to_string(),
                    size: size as u64,
                    head: head.try_into().unwrap(),
                }
                .sign(&forger);
                conn.execute(
                    "INSERT INTO checkpoints(size, note) VALUES (?1, ?2)",
                    rusqlite::params![size, note],
                )
                .unwrap();
            }
        }
        8 | 9 => {
            let mut plain: Vec<(i64, String, String)> = rows
                .iter()
                .map(|r| (r.0, r.1.clone(), r.2.clone()))
                .collect();
            let at = if kind == 9 {
                n
            } else {
                1 + rng.below(n as u64 - 1) as usize
            };
            let (k, text) = another_entry();
            plain.insert(at, (0, k, text));
            rewrite_chain(&conn, &plain, at + 1);
        }
        10 => {
            conn.execute(
                "DELETE FROM checkpoints WHERE size = (SELECT max(size) FROM checkpoints)",
                [],
            )
            .unwrap();
            // The previous checkpoint may still cover everything (a run's last batch may be
            // signed twice only if empty, which never happens); check it changed coverage.
            let left: Option<i64> = conn
                .query_row("SELECT max(size) FROM checkpoints", [], |r| r.get(0))
                .unwrap();
            if left == Some(n as i64) {
                return false;
            }
        }
        _ => unreachable!(),
    }
    let _ = count(&conn, "entries");
    true
}

/// The evidence an attacker could change: meta, entries, checkpoints, the identity pragmas
/// (not the schema's text: a flipped byte in a trigger's message changes no evidence).
fn logical_dump(path: &Path) -> Option<String> {
    let conn =
        Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    let mut out = String::new();
    for sql in [
        "SELECT key || '=' || value FROM meta ORDER BY key",
        "SELECT seq || ' ' || kind || ' ' || entry || ' ' || hex(hash) FROM entries ORDER BY seq",
        "SELECT size || ' ' || note FROM checkpoints ORDER BY size",
    ] {
        let mut stmt = conn.prepare(sql).ok()?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).ok()?;
        for r in rows {
            out.push_str(&r.ok()?);
            out.push('\n');
        }
    }
    for pragma in ["application_id", "user_version"] {
        let v: i64 = conn
            .query_row(&format!("PRAGMA {pragma}"), [], |r| r.get(0))
            .ok()?;
        out.push_str(&format!("{pragma}={v}\n"));
    }
    Some(out)
}

#[test]
fn every_mutation_is_detected_and_every_untouched_log_verifies() {
    let trials: u64 = std::env::var("PALISADE_MUTATION_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let seed: u64 = std::env::var("PALISADE_MUTATION_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_2026);
    let dir = tempfile::tempdir().unwrap();
    let signer = key("ci", 1);
    let trusted = [signer.verifier()];
    let mut rng = Rng(seed);
    let mut detected = [0u64; KINDS.len()];
    let mut harmless_flips = 0u64;
    let mut untouched = 0u64;
    let mut base = dir.path().join("base-0.db");
    let mut kept = String::new();
    let mut original = String::new();
    let mut origin = String::new();
    for trial in 0..trials {
        // A fresh log every 20 trials: 1 to 6 runs, batches of 1 to 15 entries.
        if trial % 20 == 0 {
            base = dir.path().join(format!("base-{trial}.db"));
            let runs = 1 + rng.below(6);
            let batch = 1 + rng.below(15) as usize;
            kept = write_log(&base, &signer, runs, batch, &mut rng);
            let v = verify(&base, &trusted, std::slice::from_ref(&kept), |_, _| {}).unwrap();
            assert!(v.ok(), "untouched log (trial {trial}): {:?}", v.problem);
            untouched += 1;
            original = logical_dump(&base).unwrap();
            origin = Checkpoint::open(&kept, &trusted).unwrap().0.origin;
        }
        let path = dir.path().join("trial.db");
        std::fs::copy(&base, &path).unwrap();
        let kind = loop {
            let kind = rng.below(KINDS.len() as u64) as usize;
            if mutate(&path, kind, &mut rng, &origin) {
                break kind;
            }
            std::fs::copy(&base, &path).unwrap();
        };
        let outcome = verify(&path, &trusted, std::slice::from_ref(&kept), |_, _| {});
        let verified = matches!(&outcome, Ok(v) if v.ok());
        if verified {
            // Only a flipped byte the log does not use (free space, page padding) may pass,
            // and then nothing an attacker could mean changed.
            assert_eq!(
                kind, 11,
                "trial {trial} ({}) went undetected (seed {seed})",
                KINDS[kind]
            );
            let now = logical_dump(&path).unwrap_or_default();
            let changed: Vec<String> = original
                .lines()
                .zip(now.lines())
                .filter(|(a, b)| a != b)
                .map(|(a, b)| format!("- {a}\n+ {b}"))
                .collect();
            assert!(
                now == original,
                "trial {trial}: a flipped byte changed the log and verified (seed {seed}; run ids are random, so a failure may not repeat):\n{}",
                changed.join("\n")
            );
            harmless_flips += 1;
        } else {
            detected[kind] += 1;
        }
        std::fs::remove_file(&path).unwrap();
    }
    let summary: Vec<String> = KINDS
        .iter()
        .zip(detected)
        .map(|(k, d)| format!("{k}: {d}"))
        .collect();
    eprintln!(
        "{trials} trials (seed {seed}), detected by kind: {}; flipped bytes in unused space: {harmless_flips}; untouched logs verified: {untouched}",
        summary.join(", ")
    );
    assert!(
        detected.iter().all(|d| *d > 0) || trials < 200,
        "every kind was drawn"
    );
}
