//! `palisade-serve --events` against a real NATS JetStream server (Debian's `nats-server
//! -js`, started by each test on a free loopback port with a temporary store): events are
//! evaluated, their violations published and their evaluations recorded; nothing is lost
//! when a replica is killed or the server restarts; poison messages are terminated; a
//! failed policy reload keeps the last good set; a slow evidence store slows consumption.
//!
//! Without `nats-server` on PATH the tests say they are skipped, unless
//! `PALISADE_REQUIRE_NATS=1` (set by `.ci/run`), which makes that a failure.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

#[path = "common/nats.rs"]
mod nats;

use nats::*;
use palisade_evidence::entry::Entry;
use palisade_evidence::period::{Builder, Options};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const SHELL_POLICY: &str = "Shell spawned in a container";

/// (record id, policy) of every violation in the violations stream.
fn published_violations(nats: &Nats) -> Vec<(String, String)> {
    runtime().block_on(async {
        let js = jetstream_of(nats).await;
        let mut stream = js.get_stream("PALISADE_VIOLATIONS").await.unwrap();
        let state = stream.info().await.unwrap().state.clone();
        let mut out = Vec::new();
        for seq in state.first_sequence..=state.last_sequence {
            if state.messages == 0 {
                break;
            }
            let m = stream.get_raw_message(seq).await.unwrap();
            assert!(
                m.subject.starts_with("palisade.violations."),
                "{}",
                m.subject
            );
            let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
            out.push((
                v["record"]["id"].as_str().unwrap().to_string(),
                v["policy"].as_str().unwrap().to_string(),
            ));
        }
        out
    })
}

fn publish_raw(nats: &Nats, messages: &[&[u8]]) {
    runtime().block_on(async {
        let js = jetstream_of(nats).await;
        palisade_sidecar::events_stream(&js, "PALISADE_EVENTS", &["events.>".into()])
            .await
            .unwrap();
        for m in messages {
            // The replica creates the same stream as it starts: until the server has it
            // ready, an ack may say it is not found (seen on a loaded 2-core CI machine).
            // Retried for a bounded time; any other failure fails at once.
            let started = Instant::now();
            loop {
                let acked = js
                    .publish("events.test", m.to_vec().into())
                    .await
                    .unwrap()
                    .await;
                match acked {
                    Ok(_) => break,
                    Err(e)
                        if e.kind()
                            == async_nats::jetstream::context::PublishErrorKind::StreamNotFound
                            && started.elapsed() < Duration::from_secs(30) =>
                    {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => panic!("publishing an event: {e}"),
                }
            }
        }
    })
}

fn evidence_args<'a>(log: &'a Path, key: &'a Path) -> Vec<&'a str> {
    vec![
        "--evidence",
        log.to_str().unwrap(),
        "--evidence-key",
        key.to_str().unwrap(),
    ]
}

/// What the evidence logs say, read as `palisade report` reads them: every log verifies;
/// (evaluation entries, distinct events, the merged period's evaluations, violations and
/// repeated evaluations).
struct Evidence {
    evaluation_entries: u64,
    events: usize,
    evaluations: u64,
    violations: u64,
    repeated: u64,
    unfinished: usize,
}

fn read_evidence(logs: &[&Path], key: &Path) -> Evidence {
    let private = std::fs::read_to_string(key).unwrap();
    let keys = vec![
        palisade_evidence::note::SigningKey::parse(private.trim())
            .unwrap()
            .verifier(),
    ];
    let from = chrono::DateTime::parse_from_rfc3339("2026-11-26T00:00:00Z")
        .unwrap()
        .to_utc();
    let to = chrono::DateTime::parse_from_rfc3339("2026-11-27T00:00:00Z")
        .unwrap()
        .to_utc();
    let mut builder = Builder::new(Options {
        from,
        to,
        max_gap: chrono::Duration::days(1),
        generated: to,
    })
    .unwrap();
    let mut events: HashMap<String, u64> = HashMap::new();
    let mut evaluation_entries = 0;
    let mut unfinished = 0;
    for log in logs {
        let id = palisade_evidence::store::Reader::open(log)
            .unwrap()
            .meta()
            .log_id
            .clone();
        builder.start_log(&log.display().to_string(), &id);
        let v = palisade_evidence::verify::verify(log, &keys, &[], |seq, e| {
            if let Entry::Evaluation(ev) = &e {
                evaluation_entries += 1;
                *events.entry(ev.event.clone().unwrap()).or_default() += 1;
            }
            builder.entry(seq, &e).unwrap();
        })
        .unwrap();
        assert!(v.ok(), "{}: {:?}", log.display(), v.problem);
        unfinished += v.unfinished.len();
    }
    let period = builder.finish().unwrap();
    Evidence {
        evaluation_entries,
        events: events.len(),
        evaluations: period.totals.evaluations,
        violations: period.totals.violations,
        repeated: period.totals.repeated,
        unfinished,
    }
}

#[test]
fn kill_9_of_one_of_two_replicas_loses_no_event_and_counts_none_twice() {
    let Some(nats) = Nats::start("kill -9 of a replica") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let n: usize = std::env::var("PALISADE_EVENTS_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let (events, shells) = process_events(dir.path(), n, "ev");
    let key = keygen(dir.path());
    let (log_a, log_b) = (dir.path().join("a.db"), dir.path().join("b.db"));
    let policies = root().join("examples/policies");
    let common = |log: &Path| -> Vec<String> {
        let mut args: Vec<String> = vec![
            "--policies".into(),
            policies.display().to_string(),
            "--ack-wait-ms".into(),
            "2000".into(),
        ];
        args.extend(evidence_args(log, &key).into_iter().map(String::from));
        args
    };
    let args_a = common(&log_a);
    let args_b = common(&log_b);
    let mut a = Replica::start(&nats, &strs(&args_a), &[]);
    let b = Replica::start(&nats, &strs(&args_b), &[]);
    let published = std::thread::spawn({
        let url = nats.url();
        let events = events.clone();
        move || {
            let out = Command::new(env!("CARGO_BIN_EXE_palisade-serve"))
                .args(["publish", "--events", &url, "--input"])
                .arg(&events)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        }
    });
    // Kill A in the middle: once a fifth of the events were acked, with A busy.
    let started = Instant::now();
    loop {
        let acked = a.metric("palisade_events_acked_total");
        if acked + b.metric("palisade_events_acked_total") >= n as u64 / 5 && acked > 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    a.kill9();
    let out = published.join().unwrap();
    assert!(out.contains(&format!("published {n} events")), "{out}");
    let a2 = Replica::start(&nats, &strs(&args_a), &[]);
    wait_drained(&nats, "palisade", Duration::from_secs(600));
    let redelivered = a2.metric("palisade_events_redelivered_total")
        + b.metric("palisade_events_redelivered_total");
    a2.stop();
    b.stop();

    // Every violation is in the violations stream exactly once.
    let violations = published_violations(&nats);
    let found: BTreeSet<String> = violations.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(violations.len(), shells.len(), "one message per violation");
    assert_eq!(found, shells, "every shell and nothing else");
    assert!(violations.iter().all(|(_, p)| p == SHELL_POLICY));

    // Every event was evaluated; the merged logs count each once.
    let evidence = read_evidence(&[&log_a, &log_b], &key);
    assert_eq!(evidence.events, n, "every event has an evaluation entry");
    assert_eq!(evidence.evaluations, n as u64, "each counted once");
    assert_eq!(evidence.violations, shells.len() as u64);
    assert_eq!(
        evidence.repeated,
        evidence.evaluation_entries - n as u64,
        "every extra evaluation is reported as repeated"
    );
    assert_eq!(
        evidence.unfinished, 1,
        "the killed run is named as unfinished"
    );
    assert!(
        redelivered > 0,
        "A was killed while it held messages; they were redelivered"
    );
    eprintln!(
        "kill -9: {n} events, {} violations; {redelivered} redeliveries, {} evaluations recorded twice and counted once",
        shells.len(),
        evidence.repeated
    );
}

#[test]
fn a_nats_server_restart_in_the_middle_loses_nothing() {
    let Some(mut nats) = Nats::start("NATS restart") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let n = 20_000;
    let (events, shells) = process_events(dir.path(), n, "rs");
    let key = keygen(dir.path());
    let log = dir.path().join("r.db");
    let policies = root().join("examples/policies");
    let mut args = vec![
        "--policies",
        policies.to_str().unwrap(),
        "--ack-wait-ms",
        "2000",
    ];
    args.extend(evidence_args(&log, &key));
    let replica = Replica::start(&nats, &args, &[]);
    let publisher = std::thread::spawn({
        let url = nats.url();
        move || {
            Command::new(env!("CARGO_BIN_EXE_palisade-serve"))
                .args(["publish", "--events", &url, "--input"])
                .arg(&events)
                .output()
                .unwrap()
        }
    });
    let started = Instant::now();
    while replica.metric("palisade_events_acked_total") < n as u64 / 4 {
        assert!(started.elapsed() < Duration::from_secs(300), "no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    nats.restart(Duration::from_millis(1500));
    let out = publisher.join().unwrap();
    assert!(
        out.status.success(),
        "the publisher did not get through the restart: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_drained(&nats, "palisade", Duration::from_secs(300));
    assert!(
        !replica.logged("\"event\":\"disconnected\"").is_empty(),
        "the replica saw the server go"
    );
    replica.stop();
    let violations = published_violations(&nats);
    let found: BTreeSet<String> = violations.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(found, shells);
    assert_eq!(violations.len(), shells.len());
    let evidence = read_evidence(&[&log], &key);
    assert_eq!(evidence.events, n);
    assert_eq!(evidence.evaluations, n as u64);
    assert_eq!(evidence.violations, shells.len() as u64);
}

#[test]
fn poison_messages_are_terminated_counted_and_logged_and_processing_goes_on() {
    let Some(nats) = Nats::start("poison messages") else {
        return;
    };
    let policies = root().join("examples/policies");
    let replica = Replica::start(
        &nats,
        &[
            "--policies",
            policies.to_str().unwrap(),
            "--ack-wait-ms",
            "1000",
        ],
        &[],
    );
    let good = br#"{"kind":"process","id":"ok-1","time":"2026-11-26T09:00:00Z","namespace":"prod","container":"api","name":"bash","exec_path":"/bin/bash","uid":0}"#;
    publish_raw(
        &nats,
        &[
            b"not json",
            b"\xff\xfe\x00",
            b"{}",
            br#"{"kind":"bogus"}"#,
            br#"{"kind":"process","id":"#,
            good,
        ],
    );
    wait_drained(&nats, "palisade", Duration::from_secs(60));
    assert_eq!(replica.metric("palisade_events_poison_total"), 5);
    assert_eq!(replica.metric("palisade_events_acked_total"), 1);
    assert_eq!(
        replica.metric("palisade_event_violations_published_total"),
        1
    );
    let logged = replica.logged("poison message terminated");
    assert_eq!(logged.len(), 5, "{logged:?}");
    for seq in 1..=5 {
        assert!(
            logged
                .iter()
                .any(|l| l.contains(&format!("\"sequence\":{seq}"))),
            "sequence {seq} is logged: {logged:?}"
        );
    }
    // Terminated, not redelivered: after more than one ack wait nothing came back.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(replica.metric("palisade_events_consumed_total"), 6);
    assert_eq!(replica.metric("palisade_events_redelivered_total"), 0);
    assert_eq!(published_violations(&nats).len(), 1);
}

#[test]
fn a_policy_set_that_fails_to_reload_keeps_evaluating_with_the_last_good_one() {
    let Some(nats) = Nats::start("failed reload") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    for f in ["common.pal", "runtime.pal"] {
        std::fs::copy(root().join("examples/policies").join(f), policies.join(f)).unwrap();
    }
    let replica = Replica::start(&nats, &["--policies", policies.to_str().unwrap()], &[]);
    let shell = |id: &str| {
        format!(
            r#"{{"kind":"process","id":"{id}","time":"2026-11-26T09:00:00Z","namespace":"prod","container":"api","name":"bash","exec_path":"/bin/bash","uid":0}}"#
        )
    };
    publish_raw(&nats, &[shell("before").as_bytes()]);
    wait_drained(&nats, "palisade", Duration::from_secs(60));
    std::fs::write(
        policies.join("runtime.pal"),
        "policy \"broken\" {\n  when (\n",
    )
    .unwrap();
    let started = Instant::now();
    while replica.metric("palisade_reloads_total{outcome=\"failed\"}") == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no failed reload"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    publish_raw(&nats, &[shell("after").as_bytes()]);
    wait_drained(&nats, "palisade", Duration::from_secs(60));
    assert_eq!(replica.metric("palisade_events_acked_total"), 2);
    let found: BTreeSet<String> = published_violations(&nats)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        found,
        BTreeSet::from(["before".to_string(), "after".to_string()]),
        "the last good set still fires after the failed reload"
    );
    // A set that compiles again is used for the next events.
    let fixed = std::fs::read_to_string(root().join("examples/policies/runtime.pal"))
        .unwrap()
        .replace(SHELL_POLICY, "Shell spawned, v2");
    std::fs::write(policies.join("runtime.pal"), fixed).unwrap();
    let started = Instant::now();
    while replica.metric("palisade_reloads_total{outcome=\"ok\"}") < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no good reload"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    publish_raw(&nats, &[shell("fixed").as_bytes()]);
    wait_drained(&nats, "palisade", Duration::from_secs(60));
    let fixed: Vec<String> = published_violations(&nats)
        .into_iter()
        .filter(|(id, _)| id == "fixed")
        .map(|(_, policy)| policy)
        .collect();
    assert_eq!(fixed, ["Shell spawned, v2"], "the reloaded set evaluates");
}

#[test]
fn falco_and_tetragon_events_are_evaluated_and_a_replayed_file_adds_nothing() {
    let Some(nats) = Nats::start("Falco and Tetragon events") else {
        return;
    };
    let replica = Replica::start(&nats, &["--builtin"], &[]);
    let samples = root().join("adapters/tests/samples");
    let (falco, tetragon) = (
        samples.join("falco-cat-write.json"),
        samples.join("tetragon-events.json"),
    );
    let out = publish_files(&nats, &[], &[&falco, &tetragon]);
    assert!(
        out.contains("published 11 events to stream PALISADE_EVENTS (0 already in it)"),
        "{out}"
    );
    wait_drained(&nats, "palisade", Duration::from_secs(60));
    assert_eq!(replica.metric("palisade_events_acked_total"), 11);
    assert_eq!(replica.metric("palisade_events_poison_total"), 0);
    let subjects: BTreeSet<String> = runtime().block_on(async {
        let js = jetstream_of(&nats).await;
        let stream = js.get_stream("PALISADE_EVENTS").await.unwrap();
        let mut subjects = BTreeSet::new();
        for seq in 1..=11 {
            subjects.insert(
                stream
                    .get_raw_message(seq)
                    .await
                    .unwrap()
                    .subject
                    .to_string(),
            );
        }
        subjects
    });
    assert_eq!(
        subjects,
        BTreeSet::from(["events.falco".to_string(), "events.tetragon".to_string()])
    );
    // The same files again: every message id is already in the stream.
    let out = publish_files(&nats, &[], &[&falco, &tetragon]);
    assert!(out.contains("(11 already in it)"), "{out}");
    let messages = runtime().block_on(async {
        let js = jetstream_of(&nats).await;
        let mut stream = js.get_stream("PALISADE_EVENTS").await.unwrap();
        stream.info().await.unwrap().state.messages
    });
    assert_eq!(messages, 11);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(replica.metric("palisade_events_consumed_total"), 11);
}

#[test]
fn a_slow_evidence_store_slows_consumption_instead_of_growing_memory() {
    let Some(nats) = Nats::start("back-pressure") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (events, _) = process_events(dir.path(), 3_000, "bp");
    let key = keygen(dir.path());
    let log = dir.path().join("bp.db");
    let policies = root().join("examples/policies");
    let mut args = vec![
        "--policies",
        policies.to_str().unwrap(),
        "--max-in-flight",
        "16",
    ];
    args.extend(evidence_args(&log, &key));
    // Every batch written to the evidence log takes 100 ms.
    let replica = Replica::start(&nats, &args, &[("PALISADE_FAULT_EVIDENCE_DELAY_MS", "100")]);
    publish_files(&nats, &[], &[&events]);
    let mut most_in_flight = 0;
    let mut lagging = 0;
    for _ in 0..40 {
        std::thread::sleep(Duration::from_millis(50));
        most_in_flight = most_in_flight.max(replica.metric("palisade_events_in_flight"));
        if consumer_state(&nats, "palisade").is_some_and(|(pending, _, _)| pending > 0) {
            lagging += 1;
        }
    }
    // At most 16 batches of 16 events in 2 s, far fewer than the 3,000 published.
    let acked = replica.metric("palisade_events_acked_total");
    assert!(most_in_flight <= 16, "in flight: {most_in_flight}");
    assert!(most_in_flight > 0, "it was consuming");
    assert!(
        acked < 1_000,
        "the slow store did not slow consumption: {acked} acked"
    );
    assert_eq!(lagging, 40, "the backlog stays in the stream");
    let rss_kib = std::fs::read_to_string(format!("/proc/{}/status", replica.child.id()))
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("VmHWM:")?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse::<u64>()
                .ok()
        });
    eprintln!(
        "back-pressure: {acked} acked in 2 s, at most {most_in_flight} in flight, peak RSS {rss_kib:?} KiB"
    );
}
