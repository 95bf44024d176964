//! The log on disk: one SQLite file, append-only.
//!
//! Tables: `meta` (format, version, log id, origin), `entries` (sequence number, kind,
//! canonical JSON text, chain hash) and `checkpoints` (tree size, signed note). Triggers
//! refuse every UPDATE and DELETE. A writer appends in batches: each batch is one
//! transaction that reads the head, inserts the entries chained onto it and a checkpoint of
//! the new head signed with the writer's key, so every committed entry is signed and a
//! crash loses at most the batch in flight (SQLite rolls it back). Two processes may write
//! one file: their batches interleave on one chain.

use crate::chain;
use crate::entry::{Entry, FORMAT, LogCreated, PolicySet, RunStarted, VERSION};
use crate::note::{Checkpoint, SigningKey};
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `PRAGMA application_id` of a Palisade evidence log ("PALE").
pub const APPLICATION_ID: i32 = 0x5041_4c45;
/// Entries per batch (and checkpoint) unless the writer is told otherwise.
pub const DEFAULT_BATCH: usize = 1000;
/// How long a writer waits for another writer's batch before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the log could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file is not a Palisade evidence log.
    #[error("{0}: not a Palisade evidence log ({1})")]
    NotALog(PathBuf, String),
    /// The log was written by a newer Palisade.
    #[error("{0}: written by a newer palisade (log format version {1}; this one reads {VERSION})")]
    Newer(PathBuf, i64),
    /// The file does not exist.
    #[error("{0}: no such evidence log")]
    Missing(PathBuf),
    /// Another writer held the log for too long.
    #[error("{0}: locked by another writer for more than {1} s")]
    Busy(PathBuf, u64),
    /// SQLite failed (corrupt file, disk full, permissions).
    #[error("{0}: {1}")]
    Sqlite(PathBuf, String),
    /// A row is not what the writer expects (the log was tampered with).
    #[error("{0}: {1}")]
    Broken(PathBuf, String),
}

/// The identity of a log.
#[derive(Clone, Debug, PartialEq)]
pub struct LogMeta {
    /// Random id.
    pub log_id: String,
    /// The checkpoints' origin line.
    pub origin: String,
}

/// The origin line of a log's checkpoints.
pub fn origin_of(log_id: &str) -> String {
    format!("palisade.dev/evidence/{log_id}")
}

fn sqlite(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |e| {
        if let rusqlite::Error::SqliteFailure(f, _) = &e {
            match f.code {
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                    return StoreError::Busy(path.to_path_buf(), BUSY_TIMEOUT.as_secs());
                }
                ErrorCode::NotADatabase => {
                    return StoreError::NotALog(path.to_path_buf(), "not a SQLite database".into());
                }
                _ => {}
            }
        }
        StoreError::Sqlite(path.to_path_buf(), e.to_string())
    }
}

const SCHEMA: &str = "
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE entries(seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, entry TEXT NOT NULL, hash BLOB NOT NULL);
CREATE INDEX entries_kind ON entries(kind);
CREATE TABLE checkpoints(size INTEGER PRIMARY KEY, note TEXT NOT NULL);
CREATE TRIGGER meta_no_update BEFORE UPDATE ON meta BEGIN SELECT RAISE(ABORT, 'the evidence log is append-only'); END;
CREATE TRIGGER meta_no_delete BEFORE DELETE ON meta BEGIN SELECT RAISE(ABORT, 'the evidence log is append-only'); END;
CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries BEGIN SELECT RAISE(ABORT, 'the evidence log is append-only'); END;
CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries BEGIN SELECT RAISE(ABORT, 'the evidence log is append-only'); END;
CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints BEGIN SELECT RAISE(ABORT, 'the evidence log is append-only'); END;
CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints BEGIN SELECT RAISE(ABORT, 'the evidence log is append-only'); END;
";

/// Checks that an open database is a Palisade log this build reads.
fn check_identity(conn: &Connection, path: &Path) -> Result<LogMeta, StoreError> {
    let app: i32 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(sqlite(path))?;
    if app != APPLICATION_ID {
        return Err(StoreError::NotALog(
            path.to_path_buf(),
            if app == 0 {
                "a SQLite database of something else".into()
            } else {
                format!("application id {app:#x}")
            },
        ));
    }
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sqlite(path))?;
    if version > i64::from(VERSION) {
        return Err(StoreError::Newer(path.to_path_buf(), version));
    }
    // Every version this build knows is also in `meta`: the two must agree (a flipped
    // header or meta byte is not a readable log).
    if version < 1 {
        return Err(StoreError::NotALog(
            path.to_path_buf(),
            format!("log format version {version}"),
        ));
    }
    let get = |key: &str| -> Result<String, StoreError> {
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(sqlite(path))?
            .ok_or_else(|| StoreError::NotALog(path.to_path_buf(), format!("no `{key}` in meta")))
    };
    if get("format")? != FORMAT {
        return Err(StoreError::NotALog(
            path.to_path_buf(),
            "wrong format".into(),
        ));
    }
    let stored = get("version")?;
    if stored != version.to_string() {
        return Err(StoreError::NotALog(
            path.to_path_buf(),
            format!("`version` {stored:?} in meta, but {version} in the header"),
        ));
    }
    let log_id = get("log_id")?;
    Ok(LogMeta {
        origin: origin_of(&log_id),
        log_id,
    })
}

/// Appends entries to a log, signing a checkpoint with every batch.
pub struct Writer {
    conn: Connection,
    path: PathBuf,
    key: SigningKey,
    meta: LogMeta,
    pending: Vec<Entry>,
    batch: usize,
}

impl Writer {
    /// Opens the log at `path` for appending, creating it (with its first entry and
    /// checkpoint) if there is no file; `time` dates the creation.
    pub fn open(path: &Path, key: SigningKey, time: &str) -> Result<Writer, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sqlite(path))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite(path))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sqlite(path))?;
        let mut writer = Writer {
            conn,
            path: path.to_path_buf(),
            key,
            meta: LogMeta {
                log_id: String::new(),
                origin: String::new(),
            },
            pending: Vec::new(),
            batch: DEFAULT_BATCH,
        };
        writer.meta = writer.create_if_new(time)?;
        Ok(writer)
    }

    /// Sets how many entries make a batch (at least 1).
    pub fn with_batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// The log's identity.
    pub fn meta(&self) -> &LogMeta {
        &self.meta
    }

    fn create_if_new(&mut self, time: &str) -> Result<LogMeta, StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Exclusive)
            .map_err(sqlite(&path))?;
        let tables: i64 = tx
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(sqlite(&path))?;
        if tables > 0 {
            drop(tx);
            return check_identity(&self.conn, &path);
        }
        let log_id = random_id()?;
        tx.execute_batch(SCHEMA).map_err(sqlite(&path))?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(sqlite(&path))?;
        tx.pragma_update(None, "user_version", VERSION)
            .map_err(sqlite(&path))?;
        let version = VERSION.to_string();
        for (k, v) in [
            ("format", FORMAT),
            ("version", version.as_str()),
            ("log_id", log_id.as_str()),
        ] {
            tx.execute("INSERT INTO meta(key, value) VALUES (?1, ?2)", [k, v])
                .map_err(sqlite(&path))?;
        }
        let meta = LogMeta {
            origin: origin_of(&log_id),
            log_id: log_id.clone(),
        };
        let first = Entry::Log(LogCreated {
            format: FORMAT.into(),
            version: VERSION,
            log_id,
            time: time.to_string(),
        });
        append_signed(&tx, &path, &meta, &self.key, &[first])?;
        tx.commit().map_err(sqlite(&path))?;
        Ok(meta)
    }

    /// Queues an entry; a full batch is written (and signed) at once.
    pub fn append(&mut self, entry: Entry) -> Result<(), StoreError> {
        self.pending.push(entry);
        if self.pending.len() >= self.batch {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the queued entries and a signed checkpoint of the new head in one transaction;
    /// returns the checkpoint note (None when nothing was queued).
    pub fn flush(&mut self) -> Result<Option<String>, StoreError> {
        if self.pending.is_empty() {
            return Ok(None);
        }
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite(&path))?;
        let note = append_signed(&tx, &path, &self.meta, &self.key, &self.pending)?;
        tx.commit().map_err(sqlite(&path))?;
        self.pending.clear();
        Ok(Some(note))
    }

    /// Starts a run: its policy set (unless the log has it; before the run, so a reader
    /// knows the set when the run starts), then the start, written and signed at once.
    pub fn start_run(&mut self, set: PolicySet, started: RunStarted) -> Result<(), StoreError> {
        if !self.has_policy_set(&set.digest)? {
            self.append(Entry::PolicySet(set))?;
        }
        self.append(Entry::RunStarted(started))?;
        self.flush().map(|_| ())
    }

    /// Drops the queued entries (after writes kept failing); returns how many.
    pub fn discard_pending(&mut self) -> usize {
        let n = self.pending.len();
        self.pending.clear();
        n
    }

    /// Whether the log already holds a policy set with this digest.
    pub fn has_policy_set(&self, digest: &str) -> Result<bool, StoreError> {
        let pattern = format!("%\"digest\":{}%", serde_json::Value::String(digest.into()));
        self.conn
            .query_row(
                "SELECT 1 FROM entries WHERE kind = 'policy_set' AND entry LIKE ?1 LIMIT 1",
                [pattern],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(sqlite(&self.path))
    }
}

/// Inserts `entries` after the current head and a checkpoint of the new head; the caller
/// commits. The unsigned tail a writer finds (none, unless the file was edited) is refused.
fn append_signed(
    tx: &rusqlite::Transaction<'_>,
    path: &Path,
    meta: &LogMeta,
    key: &SigningKey,
    entries: &[Entry],
) -> Result<String, StoreError> {
    let head: Option<(i64, Vec<u8>)> = tx
        .query_row(
            "SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(sqlite(path))?;
    let (mut seq, mut hash) = match head {
        None => (0i64, chain::GENESIS),
        Some((seq, hash)) => {
            let hash: [u8; 32] = hash.try_into().map_err(|_| {
                StoreError::Broken(
                    path.to_path_buf(),
                    format!("entry {seq}: the hash is not 32 bytes"),
                )
            })?;
            (seq, hash)
        }
    };
    let signed: Option<i64> = tx
        .query_row("SELECT max(size) FROM checkpoints", [], |r| r.get(0))
        .map_err(sqlite(path))?;
    if signed.unwrap_or(0) != seq {
        return Err(StoreError::Broken(
            path.to_path_buf(),
            format!(
                "the last checkpoint covers {} entries but the log has {seq}: run `palisade evidence verify` (nothing was written)",
                signed.unwrap_or(0)
            ),
        ));
    }
    let mut insert = tx
        .prepare_cached("INSERT INTO entries(seq, kind, entry, hash) VALUES (?1, ?2, ?3, ?4)")
        .map_err(sqlite(path))?;
    for entry in entries {
        let text = entry.to_canonical();
        seq += 1;
        hash = chain::link(&hash, text.as_bytes());
        insert
            .execute(rusqlite::params![seq, entry.kind(), text, &hash[..]])
            .map_err(sqlite(path))?;
    }
    let note = Checkpoint {
        origin: meta.origin.clone(),
        size: seq as u64,
        head: hash,
    }
    .sign(key);
    tx.execute(
        "INSERT INTO checkpoints(size, note) VALUES (?1, ?2)",
        rusqlite::params![seq, note],
    )
    .map_err(sqlite(path))?;
    Ok(note)
}

/// Reads a log (never writes it).
pub struct Reader {
    conn: Connection,
    path: PathBuf,
    meta: LogMeta,
}

/// One stored entry.
pub struct StoredEntry {
    /// Sequence number (1-based).
    pub seq: i64,
    /// The kind column.
    pub kind: String,
    /// The canonical JSON text.
    pub text: String,
    /// The stored chain hash.
    pub hash: Vec<u8>,
}

impl Reader {
    /// Opens an existing log read-only.
    pub fn open(path: &Path) -> Result<Reader, StoreError> {
        match std::fs::metadata(path) {
            Err(_) => return Err(StoreError::Missing(path.to_path_buf())),
            Ok(m) if m.len() == 0 => {
                return Err(StoreError::NotALog(
                    path.to_path_buf(),
                    "an empty file".into(),
                ));
            }
            Ok(_) => {}
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sqlite(path))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite(path))?;
        let meta = check_identity(&conn, path)?;
        Ok(Reader {
            conn,
            path: path.to_path_buf(),
            meta,
        })
    }

    /// The log's identity.
    pub fn meta(&self) -> &LogMeta {
        &self.meta
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` inside one read transaction: a concurrent writer's batch (entries and their
    /// checkpoint) is either wholly seen or not at all.
    pub fn in_snapshot<T>(
        &self,
        f: impl FnOnce(&Self) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.conn
            .execute_batch("BEGIN DEFERRED")
            .map_err(sqlite(&self.path))?;
        let result = f(self);
        let _ = self.conn.execute_batch("COMMIT");
        result
    }

    /// Every checkpoint: (size, signed note), by size.
    pub fn checkpoints(&self) -> Result<Vec<(i64, String)>, StoreError> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare("SELECT size, note FROM checkpoints ORDER BY size")
            .map_err(sqlite(path))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(sqlite(path))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row.map_err(|e| {
                StoreError::Broken(path.clone(), format!("an unreadable checkpoint row: {e}"))
            })?);
        }
        Ok(out)
    }

    /// Calls `each` with every entry in sequence order.
    pub fn entries(
        &self,
        mut each: impl FnMut(StoredEntry) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare("SELECT seq, kind, entry, hash FROM entries ORDER BY seq")
            .map_err(sqlite(path))?;
        let mut rows = stmt.query([]).map_err(sqlite(path))?;
        while let Some(row) = rows.next().map_err(sqlite(path))? {
            let stored = (|| -> rusqlite::Result<StoredEntry> {
                Ok(StoredEntry {
                    seq: row.get(0)?,
                    kind: row.get(1)?,
                    text: row.get(2)?,
                    hash: row.get(3)?,
                })
            })()
            .map_err(|e| {
                let seq: i64 = row.get(0).unwrap_or(-1);
                StoreError::Broken(path.clone(), format!("entry {seq}: an unreadable row: {e}"))
            })?;
            each(stored)?;
        }
        Ok(())
    }
}

/// A random 128-bit id in hex.
pub fn random_id() -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| StoreError::Sqlite(PathBuf::new(), format!("no randomness: {e}")))?;
    Ok(crate::canonical::hex(&bytes))
}

/// A new random Ed25519 key with this name.
pub fn generate_key(name: &str) -> Result<SigningKey, String> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| format!("no randomness: {e}"))?;
    SigningKey::from_seed(name, seed).map_err(|e| e.to_string())
}

/// Largest key or checkpoint file read (they are a few hundred bytes).
pub const MAX_SMALL_FILE: u64 = 64 * 1024;

/// Reads a key or checkpoint file: UTF-8 text of at most [`MAX_SMALL_FILE`] bytes.
pub fn read_small_text(path: &Path, what: &str) -> Result<String, String> {
    use std::io::Read;
    let cannot = |e: std::io::Error| format!("{}: cannot read the {what}: {e}", path.display());
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    file.take(MAX_SMALL_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_SMALL_FILE {
        return Err(format!(
            "{}: larger than {} KiB: not a {what}",
            path.display(),
            MAX_SMALL_FILE / 1024
        ));
    }
    String::from_utf8(bytes)
        .map_err(|_| format!("{}: not UTF-8 text: not a {what}", path.display()))
}
