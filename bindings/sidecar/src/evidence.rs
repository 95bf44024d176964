//! `--evidence`: every admission decision, check request and policy-set change of this
//! server session, appended to the evidence log off the request path.
//!
//! Requests hand entries to a bounded queue; one thread owns the SQLite writer and writes
//! whatever has queued up as one signed batch. A full queue makes requests wait (memory
//! stays bounded); a write that fails is retried without taking more from the queue, and
//! logged.

use crate::log::log;
use palisade_evidence::entry::{
    AdmissionEntry, Entry, EvaluationEntry, ObjectRef, PolicySet, RunFinished, RunStarted,
};
use palisade_evidence::note::SigningKey;
use palisade_evidence::store::Writer;
use palisade_evidence::{canonical, from_engine};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Entries waiting to be written, at most.
const QUEUE: usize = 10_000;
/// Entries written as one batch, at most.
const BATCH: usize = 1_000;
/// Writes of one batch tried (about 10 s in all) before its entries are given up, logged.
const MAX_ATTEMPTS: u32 = 20;

/// Where the evidence goes.
#[derive(Clone, Debug)]
pub struct EvidenceFiles {
    /// The SQLite evidence log (created when missing).
    pub log: PathBuf,
    /// The private key that signs its checkpoints.
    pub key: PathBuf,
}

/// Entries that go in together, and who waits for them to be written.
struct Job {
    entries: Vec<Entry>,
    /// Told whether the entries were written (signed and committed) or given up.
    written: Option<oneshot::Sender<bool>>,
}

/// The session's log writer.
pub struct EvidenceLog {
    queue: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// This server session's run id.
    pub run: String,
    records: AtomicU64,
    violations: AtomicU64,
}

impl EvidenceLog {
    /// Opens the log, writes the session's start (and its policy set unless the log has
    /// it) and starts the writer thread.
    pub fn open(files: &EvidenceFiles, set: &PolicySet, time: &str) -> Result<EvidenceLog, String> {
        let text = palisade_evidence::store::read_small_text(&files.key, "key")?;
        let key = SigningKey::parse(&text).map_err(|e| format!("{}: {e}", files.key.display()))?;
        let mut writer = Writer::open(&files.log, key, time)
            .map_err(|e| e.to_string())?
            .with_batch(BATCH);
        let run = palisade_evidence::store::random_id().map_err(|e| e.to_string())?;
        let mut set = set.clone();
        set.run = run.clone();
        set.time = time.to_string();
        let digest = set.digest.clone();
        writer
            .start_run(
                set,
                RunStarted {
                    run: run.clone(),
                    time: time.to_string(),
                    source: "serve".into(),
                    tool: format!("palisade-serve {}", env!("CARGO_PKG_VERSION")),
                    policy_set: digest,
                    inputs: Vec::new(),
                    actor: None,
                },
            )
            .map_err(|e| e.to_string())?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("palisade-evidence".into())
            .spawn(move || write_loop(writer, rx))
            .map_err(|e| format!("cannot start the evidence writer: {e}"))?;
        Ok(EvidenceLog {
            queue: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            run,
            records: AtomicU64::new(0),
            violations: AtomicU64::new(0),
        })
    }

    /// Queues entries (waits while the queue is full).
    pub async fn record(&self, entries: Vec<Entry>, records: u64) {
        self.enqueue(entries, records, None).await;
    }

    /// Queues entries and waits until they are written: true once they are signed and
    /// committed, false when the writer gave them up (or has stopped).
    pub async fn record_durably(&self, entries: Vec<Entry>, records: u64) -> bool {
        let (tx, rx) = oneshot::channel();
        if !self.enqueue(entries, records, Some(tx)).await {
            return false;
        }
        rx.await.unwrap_or(false)
    }

    /// False when the writer has stopped.
    async fn enqueue(
        &self,
        entries: Vec<Entry>,
        records: u64,
        written: Option<oneshot::Sender<bool>>,
    ) -> bool {
        let Some(tx) = self.queue.lock().unwrap_or_else(|p| p.into_inner()).clone() else {
            return false;
        };
        self.records.fetch_add(records, Ordering::Relaxed);
        for e in &entries {
            if matches!(e, Entry::Violation(_)) {
                self.violations.fetch_add(1, Ordering::Relaxed);
            }
            if let Entry::Admission(a) = e {
                self.violations
                    .fetch_add(a.violations.len() as u64, Ordering::Relaxed);
            }
        }
        tx.send(Job { entries, written }).await.is_ok()
    }

    /// Writes the session's end, then waits for the writer to write everything queued.
    pub async fn finish(&self, time: &str) {
        let end = Entry::RunFinished(RunFinished {
            run: self.run.clone(),
            time: time.to_string(),
            records: self.records.load(Ordering::Relaxed),
            violations: self.violations.load(Ordering::Relaxed),
            exceptions: 0,
            failed: false,
        });
        self.record(vec![end], 0).await;
        // Closing the queue ends the writer once it has written what is left.
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).take();
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = thread {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

fn write_loop(mut writer: Writer, mut rx: mpsc::Receiver<Job>) {
    // Test builds: a slow evidence store (every batch takes this long).
    let delay = cfg!(feature = "fault-injection")
        .then(|| std::env::var("PALISADE_FAULT_EVIDENCE_DELAY_MS").ok())
        .flatten()
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_millis);
    while let Some(first) = rx.blocking_recv() {
        let mut n = 0;
        let mut waiting = Vec::new();
        let mut job = Some(first);
        while let Some(Job { entries, written }) = job.take() {
            n += entries.len();
            for e in entries {
                // Appending queues in memory; a full batch is written at once.
                if let Err(e) = writer.append(e) {
                    log(
                        "error",
                        "evidence write failed",
                        json!({"error": e.to_string()}),
                    );
                }
            }
            waiting.extend(written);
            if n < BATCH {
                job = rx.try_recv().ok();
            }
        }
        if let Some(d) = delay {
            std::thread::sleep(d);
        }
        let mut attempt = 0u32;
        let mut ok = true;
        while let Err(e) = writer.flush() {
            attempt += 1;
            if attempt >= MAX_ATTEMPTS {
                let lost = writer.discard_pending();
                log(
                    "error",
                    "evidence entries could not be written and are lost",
                    json!({"error": e.to_string(), "entries": lost}),
                );
                ok = false;
                break;
            }
            log(
                "error",
                "evidence write failed; retrying",
                json!({"error": e.to_string(), "entries": n, "attempt": attempt}),
            );
            std::thread::sleep(Duration::from_millis(50 * u64::from(attempt)));
        }
        for w in waiting {
            let _ = w.send(ok);
        }
    }
}

/// Records a `/v1/check` request: an evaluation entry and one entry per violation (their
/// record digest is the request body's: the records were read from it).
pub async fn record_check(log: &EvidenceLog, report: &Value, body_digest: &str, time: &str) {
    let violations: Vec<Entry> = report["violations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| from_engine::violation_from_json(v, &log.run, time, body_digest))
        .map(Entry::Violation)
        .collect();
    let records = report["summary"]["records"].as_u64().unwrap_or(0);
    let mut entries = vec![Entry::Evaluation(EvaluationEntry {
        run: log.run.clone(),
        time: time.to_string(),
        input_digest: body_digest.to_string(),
        records,
        violations: violations.len() as u64,
        event: None,
    })];
    entries.extend(violations);
    log.record(entries, records).await;
}

/// Records an admission decision: who asked for what, the object's digest, the answer and
/// the violations behind it.
pub async fn record_admission(
    log: &EvidenceLog,
    review: &Value,
    uid: &str,
    allowed: bool,
    report: &Value,
    time: &str,
) {
    let request = &review["request"];
    // A DELETE carries the object in oldObject.
    let object = if request["object"].is_null() {
        &request["oldObject"]
    } else {
        &request["object"]
    };
    let digest = canonical::digest(object);
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    let entry = AdmissionEntry {
        run: log.run.clone(),
        time: time.to_string(),
        uid: uid.to_string(),
        operation: text(&request["operation"]).unwrap_or_else(|| "UNKNOWN".into()),
        user: text(&request["userInfo"]["username"]),
        object: ObjectRef {
            kind: text(&request["kind"]["kind"])
                .or_else(|| text(&object["kind"]))
                .unwrap_or_else(|| "Unknown".into()),
            namespace: text(&request["namespace"])
                .or_else(|| text(&object["metadata"]["namespace"])),
            name: text(&request["name"]).or_else(|| text(&object["metadata"]["name"])),
        },
        object_digest: digest.clone(),
        allowed,
        violations: report["violations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| from_engine::violation_from_json(v, &log.run, time, &digest))
            .collect(),
    };
    log.record(vec![Entry::Admission(entry)], 1).await;
}
