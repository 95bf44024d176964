//! Verifying a log: every link of the chain, every checkpoint's signature and head, every
//! entry covered by a checkpoint signed by a trusted key, and (when the user kept one) that
//! an earlier checkpoint is still part of the log.

use crate::chain;
use crate::entry::{Entry, VERSION};
use crate::note::{Checkpoint, VerifierKey};
use crate::store::{Reader, StoreError, StoredEntry};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The first thing that does not verify.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// The entry it concerns (1-based).
    pub entry: u64,
    /// What is wrong.
    pub what: String,
}

/// A run with a start and no finish: it crashed, was killed, or is still running.
#[derive(Clone, Debug, PartialEq)]
pub struct Unfinished {
    /// Run id.
    pub run: String,
    /// `check` or `serve`.
    pub source: String,
    /// Its start time.
    pub started: String,
    /// The entry that started it.
    pub entry: u64,
}

/// The outcome of verifying one log.
#[derive(Clone, Debug, PartialEq)]
pub struct Verification {
    /// The file.
    pub path: PathBuf,
    /// The log's id.
    pub log_id: String,
    /// Entries read.
    pub entries: u64,
    /// Checkpoints whose signature verified.
    pub checkpoints: u64,
    /// Names of the keys that signed them.
    pub signers: BTreeSet<String>,
    /// Runs started.
    pub runs: u64,
    /// Runs without a finish entry (empty when the log does not verify).
    pub unfinished: Vec<Unfinished>,
    /// The first problem, by entry number; None when the log verifies.
    pub problem: Option<Problem>,
}

impl Verification {
    /// Whether every entry verified.
    pub fn ok(&self) -> bool {
        self.problem.is_none()
    }
}

/// The state of a scan over one log's entries.
struct Scan<'k, F> {
    meta: crate::store::LogMeta,
    problems: Vec<Problem>,
    /// Head hashes of the checkpoints that verified, by size.
    heads: BTreeMap<u64, [u8; 32]>,
    largest_checkpoint: u64,
    signers: BTreeSet<String>,
    checkpoints: u64,
    /// The kept checkpoints' heads, and the heads the scan saw at those sizes.
    kept_heads: BTreeMap<u64, [u8; 32]>,
    seen_heads: BTreeMap<u64, [u8; 32]>,
    last: u64,
    hash: [u8; 32],
    broken: bool,
    started: BTreeMap<String, Unfinished>,
    runs: u64,
    keys: &'k [VerifierKey],
    each: F,
}

impl<F: FnMut(u64, Entry)> Scan<'_, F> {
    fn kept(&mut self, note: &str) {
        match Checkpoint::open(note, self.keys) {
            Ok((cp, _)) if cp.origin != self.meta.origin => self.problems.push(Problem {
                entry: cp.size,
                what: format!(
                    "the kept checkpoint is of another log ({}, not {})",
                    cp.origin, self.meta.origin
                ),
            }),
            Ok((cp, _)) => {
                self.kept_heads.insert(cp.size, cp.head);
            }
            Err(e) => self.problems.push(Problem {
                entry: 0,
                what: format!("the kept checkpoint does not verify: {e}"),
            }),
        }
    }

    fn checkpoint(&mut self, size: i64, note: &str) {
        let at = size.max(0) as u64;
        let what = match Checkpoint::open(note, self.keys) {
            Err(e) => format!("the checkpoint at entry {at}: {e}"),
            Ok((cp, _)) if cp.size != at => {
                format!(
                    "the checkpoint stored at entry {at} says {} entries",
                    cp.size
                )
            }
            Ok((cp, _)) if cp.origin != self.meta.origin => {
                format!(
                    "the checkpoint at entry {at} is of another log ({})",
                    cp.origin
                )
            }
            Ok((cp, signer)) => {
                self.checkpoints += 1;
                self.signers.insert(signer);
                self.largest_checkpoint = self.largest_checkpoint.max(cp.size);
                self.heads.insert(cp.size, cp.head);
                return;
            }
        };
        self.problems.push(Problem { entry: at, what });
    }

    /// Checks one entry; after the first broken link nothing more is checked.
    fn entry(&mut self, stored: StoredEntry) {
        if self.broken {
            return;
        }
        let expected = self.last + 1;
        if let Err(what) = self.link(expected, &stored) {
            self.problems.push(Problem {
                entry: expected,
                what,
            });
            self.broken = true;
        }
    }

    fn link(&mut self, expected: u64, stored: &StoredEntry) -> Result<(), String> {
        if stored.seq != expected as i64 {
            return Err(format!(
                "entry {expected} is missing (the next stored entry is {})",
                stored.seq
            ));
        }
        self.hash = chain::link(&self.hash, stored.text.as_bytes());
        if stored.hash.as_slice() != self.hash.as_slice() {
            return Err(format!(
                "entry {expected} does not link to the entries before it (edited, reordered, inserted or removed)"
            ));
        }
        let entry = serde_json::from_str::<Entry>(&stored.text)
            .map_err(|e| format!("entry {expected} is not a valid entry: {e}"))?;
        if entry.to_canonical() != stored.text {
            return Err(format!("entry {expected} is not in canonical form"));
        }
        if entry.kind() != stored.kind {
            return Err(format!(
                "entry {expected} is stored as `{}` but is a `{}` entry",
                stored.kind,
                entry.kind()
            ));
        }
        match (&entry, expected) {
            (Entry::Log(first), 1)
                if first.log_id != self.meta.log_id || first.version > VERSION =>
            {
                return Err(format!(
                    "entry 1 names log {} version {}, the file says {} version {VERSION}",
                    first.log_id, first.version, self.meta.log_id
                ));
            }
            (Entry::Log(_), 1) => {}
            (_, 1) | (Entry::Log(_), _) => {
                return Err(format!(
                    "entry {expected}: a log starts with one `log` entry and has no other"
                ));
            }
            _ => {}
        }
        if self.heads.get(&expected).is_some_and(|h| *h != self.hash) {
            return Err(format!(
                "the signed checkpoint at entry {expected} does not match the entries up to it"
            ));
        }
        if self.kept_heads.contains_key(&expected) {
            self.seen_heads.insert(expected, self.hash);
        }
        match &entry {
            Entry::RunStarted(r) => {
                self.runs += 1;
                self.started.insert(
                    r.run.clone(),
                    Unfinished {
                        run: r.run.clone(),
                        source: r.source.clone(),
                        started: r.time.clone(),
                        entry: expected,
                    },
                );
            }
            Entry::RunFinished(r) => {
                self.started.remove(&r.run);
            }
            _ => {}
        }
        self.last = expected;
        (self.each)(expected, entry);
        Ok(())
    }

    /// What the whole log shows once every entry was read.
    fn finish(&mut self) {
        if self.broken {
            return;
        }
        let last = self.last;
        if let Some((&size, _)) = self.heads.range(last + 1..).next() {
            self.problems.push(Problem {
                entry: last + 1,
                what: format!(
                    "a signed checkpoint covers {size} entries but the log has {last}: entries were removed"
                ),
            });
        } else if self.largest_checkpoint < last {
            self.problems.push(Problem {
                entry: self.largest_checkpoint + 1,
                what: format!(
                    "entries {}..{last} are not covered by a checkpoint signed by a trusted key",
                    self.largest_checkpoint + 1
                ),
            });
        }
        for (size, head) in &self.kept_heads {
            if self.seen_heads.get(size) != Some(head) {
                self.problems.push(Problem {
                    entry: *size,
                    what: format!(
                        "the log does not contain the kept checkpoint of {size} entries: it was rolled back or replaced"
                    ),
                });
            }
        }
    }
}

/// Verifies the log at `path` with the trusted public `keys`; `kept` are checkpoint notes the
/// user kept outside the log (each must still be part of it). Calls `each` with every entry
/// whose link verified, in order (the caller uses them only if the whole log verifies).
pub fn verify(
    path: &Path,
    keys: &[VerifierKey],
    kept: &[String],
    each: impl FnMut(u64, Entry),
) -> Result<Verification, StoreError> {
    let reader = Reader::open(path)?;
    let mut scan = Scan {
        meta: reader.meta().clone(),
        problems: Vec::new(),
        heads: BTreeMap::new(),
        largest_checkpoint: 0,
        signers: BTreeSet::new(),
        checkpoints: 0,
        kept_heads: BTreeMap::new(),
        seen_heads: BTreeMap::new(),
        last: 0,
        hash: chain::GENESIS,
        broken: false,
        started: BTreeMap::new(),
        runs: 0,
        keys,
        each,
    };
    for note in kept {
        scan.kept(note);
    }
    reader.in_snapshot(|r| {
        for (size, note) in r.checkpoints()? {
            scan.checkpoint(size, &note);
        }
        r.entries(|stored| {
            scan.entry(stored);
            Ok(())
        })
    })?;
    scan.finish();
    scan.problems.sort_by_key(|p| p.entry);
    // Which runs finished is only known of a log that verifies.
    let mut unfinished: Vec<Unfinished> = if scan.problems.is_empty() {
        scan.started.into_values().collect()
    } else {
        Vec::new()
    };
    unfinished.sort_by_key(|u| u.entry);
    Ok(Verification {
        path: path.to_path_buf(),
        log_id: scan.meta.log_id,
        entries: scan.last,
        checkpoints: scan.checkpoints,
        signers: scan.signers,
        runs: scan.runs,
        unfinished,
        problem: scan.problems.into_iter().next(),
    })
}
