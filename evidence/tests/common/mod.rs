//! Logs for the tests: realistic runs written through the public writer.
#![allow(dead_code, reason = "each test file uses part of it")]

use palisade_evidence::entry::*;
use palisade_evidence::note::SigningKey;
use palisade_evidence::store::Writer;
use std::path::Path;

/// A signing key from a fixed seed.
pub fn key(name: &str, seed: u8) -> SigningKey {
    SigningKey::from_seed(name, [seed; 32]).expect("a valid key name")
}

/// A small deterministic generator (xorshift), so failures replay from their seed.
pub struct Rng(pub u64);

impl Rng {
    /// The next number.
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// A number below `n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn record(i: u64) -> RecordRef {
    RecordRef {
        kind: "deployment".into(),
        id: format!("d-{i}"),
        name: Some(format!("app-{i}")),
        namespace: Some(["prod", "staging"][(i % 2) as usize].into()),
    }
}

/// A violation entry.
pub fn violation(run: &str, time: &str, policy: &str, i: u64) -> ViolationEntry {
    ViolationEntry {
        run: run.into(),
        time: time.into(),
        policy: policy.into(),
        severity: ["low", "medium", "high", "critical"][(i % 4) as usize].into(),
        lifecycle: "deploy".into(),
        soc2: vec!["CC6.1".into(), "CC7.2".into()],
        record: record(i),
        record_digest: format!("sha256:{:064x}", i),
        messages: vec![format!("container 'c{i}' is privileged")],
        enforcement: vec![],
        event: None,
    }
}

/// The policies of the test runs.
pub fn policies() -> Vec<PolicySummary> {
    ["Privileged Container", "Latest Tag", "Root User"]
        .iter()
        .enumerate()
        .map(|(i, n)| PolicySummary {
            name: n.to_string(),
            severity: ["high", "low", "medium"][i].into(),
            lifecycle: vec!["deploy".into()],
            soc2: vec![["CC6.1", "CC8.1", "CC6.8"][i].into(), "CC7.2".into()],
            enforcement: vec![],
            disabled: false,
            exclusions: vec![],
        })
        .collect()
}

/// Writes one `check` run of `violations` violations (and one exception) at `time`.
pub fn write_run(
    writer: &mut Writer,
    run: &str,
    time: &str,
    violations: u64,
    finish: bool,
) -> Result<(), palisade_evidence::store::StoreError> {
    let digest = "sha256:policies".to_string();
    if !writer.has_policy_set(&digest)? {
        writer.append(Entry::PolicySet(PolicySet {
            run: run.into(),
            time: time.into(),
            digest: digest.clone(),
            policies: policies(),
        }))?;
    }
    writer.append(Entry::RunStarted(RunStarted {
        run: run.into(),
        time: time.into(),
        source: "check".into(),
        tool: "palisade test".into(),
        policy_set: digest,
        inputs: vec![InputDigest {
            name: "deployments.json".into(),
            digest: "sha256:input".into(),
        }],
        actor: None,
    }))?;
    for i in 0..violations {
        let policy = ["Privileged Container", "Latest Tag", "Root User"][(i % 3) as usize];
        writer.append(Entry::Violation(violation(run, time, policy, i)))?;
    }
    writer.append(Entry::Exception(ExceptionEntry {
        run: run.into(),
        time: time.into(),
        policy: "Latest Tag".into(),
        severity: "low".into(),
        soc2: vec!["CC8.1".into()],
        record: record(99),
        record_digest: "sha256:rec".into(),
        reason: "vendor image, pinned upstream".into(),
        expires: Some("2027-03-31T00:00:00Z".into()),
    }))?;
    if finish {
        writer.append(Entry::RunFinished(RunFinished {
            run: run.into(),
            time: time.into(),
            records: violations + 5,
            violations,
            exceptions: 1,
            failed: violations > 0,
        }))?;
    }
    writer.flush()?;
    Ok(())
}

/// A log of `runs` finished runs with batches of `batch` entries; returns the last
/// checkpoint note.
pub fn write_log(
    path: &Path,
    signer: &SigningKey,
    runs: u64,
    batch: usize,
    rng: &mut Rng,
) -> String {
    let key = SigningKey::parse(&signer.encode()).expect("the key's own text");
    let mut w = Writer::open(path, key, "2026-11-01T00:00:00Z")
        .expect("a new log")
        .with_batch(batch);
    for r in 0..runs {
        let time = format!("2026-11-{:02}T12:00:00Z", 1 + r % 28);
        write_run(&mut w, &format!("run-{r}"), &time, rng.below(12), true).expect("a run");
    }
    let reader = palisade_evidence::store::Reader::open(path).expect("the log");
    reader
        .checkpoints()
        .expect("checkpoints")
        .pop()
        .map(|(_, note)| note)
        .expect("a checkpoint")
}
