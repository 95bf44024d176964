//! `--events`: runtime events from a NATS JetStream stream, evaluated by any number of
//! replicas that bind one durable pull consumer.
//!
//! Each message is one event in any format `palisade check` reads (a record, a Falco
//! event, a Tetragon event). A message is acked only after its evaluation, the publishing
//! of its violations (each with a message id, so the violations stream drops one published
//! twice) and its evidence entries (when `--evidence` is given) all succeeded; otherwise it
//! is left to be redelivered, to this replica or another. Delivery is at least once; the
//! effects are once: violations are de-duplicated by the stream and evaluations by the
//! event id recorded in the evidence (reports count an event once across the logs of
//! every replica). A message that is not an event Palisade reads is terminated (poison):
//! counted, logged with its stream sequence, never redelivered.

use crate::log::log;
use crate::metrics::EventOutcome;
use crate::server::{State, plugin_check_all, read_report};
use async_nats::HeaderMap;
use async_nats::jetstream::{self, AckKind, consumer, stream};
use futures_util::StreamExt;
use palisade_evidence::entry::{Entry, EvaluationEntry};
use palisade_evidence::{canonical, from_engine};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

/// Deliveries of a message the plugin fails on (traps, deadline) before it is terminated
/// as poison: a message that kills every evaluation must not circle forever.
const MAX_PLUGIN_ATTEMPTS: i64 = 5;
/// Messages handled together at most (one evaluation task, one evidence commit).
const MAX_BATCH: usize = 64;
/// How long a stream created by Palisade remembers message ids to drop a republished one.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(2 * 60 * 60);
/// Longest message id taken from a `Nats-Msg-Id` header (a longer one is digested).
const MAX_ID_BYTES: usize = 256;

/// Where the events come from and where the violations go.
#[derive(Clone, Debug)]
pub struct EventsConfig {
    /// The NATS server (`nats://HOST:PORT`; several separated by commas).
    pub url: String,
    /// The JetStream stream of events (created with `subjects` when missing).
    pub stream: String,
    /// The subjects of the stream, when Palisade creates it.
    pub subjects: Vec<String>,
    /// The durable consumer every replica binds.
    pub durable: String,
    /// Where each violation is published; `<severity>` is replaced by its severity.
    pub violations_subject: String,
    /// The stream that keeps (and de-duplicates) violations, created when missing.
    pub violations_stream: String,
    /// Messages handled at once by this replica, at most (taken from the stream only when
    /// one finishes, so a slow step slows consumption instead of growing memory).
    pub max_in_flight: usize,
    /// Time the server waits for an ack before it redelivers a message.
    pub ack_wait: Duration,
}

impl EventsConfig {
    /// The defaults for events from `url`.
    pub fn new(url: impl Into<String>) -> Self {
        EventsConfig {
            url: url.into(),
            stream: "PALISADE_EVENTS".into(),
            subjects: vec!["events.>".into()],
            durable: "palisade".into(),
            violations_subject: "palisade.violations.<severity>".into(),
            violations_stream: "PALISADE_VIOLATIONS".into(),
            max_in_flight: 256,
            ack_wait: Duration::from_secs(30),
        }
    }

    /// The violations stream's subjects: the subject with `<severity>` as a wildcard.
    fn violation_subjects(&self) -> String {
        self.violations_subject.replace("<severity>", "*")
    }
}

/// Connects to NATS: reconnects forever (with the client's back-off) after a disconnect;
/// with `wait_for_server`, also keeps trying when the server is not up yet, else that is
/// an error.
pub async fn connect(
    url: &str,
    name: &str,
    wait_for_server: bool,
) -> Result<async_nats::Client, String> {
    let name_owned = name.to_string();
    let mut options = async_nats::ConnectOptions::new();
    if wait_for_server {
        options = options.retry_on_initial_connect();
    }
    options
        .name(name)
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(5))
        .event_callback(move |event| {
            let name = name_owned.clone();
            async move {
                let level = match event {
                    async_nats::Event::Connected => "info",
                    _ => "warn",
                };
                log(
                    level,
                    "nats",
                    json!({"client": name, "event": event.to_string()}),
                );
            }
        })
        .connect(url)
        .await
        .map_err(|e| format!("cannot connect to {url}: {e}"))
}

/// The events stream (created when missing) of `config`.
pub async fn events_stream(
    js: &jetstream::Context,
    name: &str,
    subjects: &[String],
) -> Result<stream::Stream, String> {
    js.get_or_create_stream(stream::Config {
        name: name.to_string(),
        subjects: subjects.to_vec(),
        duplicate_window: DUPLICATE_WINDOW,
        ..Default::default()
    })
    .await
    .map_err(|e| format!("stream {name}: {e}"))
}

/// Consumes until `stopped`; every failure of the connection, the stream or the consumer
/// is logged and retried.
pub(crate) async fn consume(
    state: Arc<State>,
    config: EventsConfig,
    mut stopped: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(config.max_in_flight.max(1)));
    let client = tokio::select! {
        c = connect(&config.url, "palisade-serve", true) => c,
        _ = stopped.changed() => return,
    };
    let client = match client {
        Ok(c) => c,
        Err(e) => {
            log("error", "events: no connection", json!({"error": e}));
            return;
        }
    };
    let js = jetstream::new(client);
    let mut backoff = Duration::from_millis(200);
    loop {
        let result = tokio::select! {
            r = consume_once(&state, &config, &js, &slots) => r,
            _ = stopped.changed() => break,
        };
        match result {
            Ok(()) => backoff = Duration::from_millis(200),
            Err(e) => {
                log(
                    "warn",
                    "events: consumer interrupted; binding again",
                    json!({"error": e, "retry_ms": backoff.as_millis() as u64}),
                );
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stopped.changed() => break,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
    // Let the messages being handled finish (their acks are what makes them done).
    let all = u32::try_from(config.max_in_flight.max(1)).unwrap_or(u32::MAX);
    let grace = state.config.shutdown_grace;
    if tokio::time::timeout(grace, slots.acquire_many(all))
        .await
        .is_err()
    {
        log(
            "warn",
            "events: shutdown grace period over; unfinished messages will be redelivered",
            Value::Null,
        );
    }
}

/// Binds the stream and the consumer and handles messages until the message stream ends
/// or fails in a way that needs a new binding.
async fn consume_once(
    state: &Arc<State>,
    config: &EventsConfig,
    js: &jetstream::Context,
    slots: &Arc<Semaphore>,
) -> Result<(), String> {
    let events = events_stream(js, &config.stream, &config.subjects).await?;
    let violations_subjects = config.violation_subjects();
    if let Err(e) = js
        .get_or_create_stream(stream::Config {
            name: config.violations_stream.clone(),
            subjects: vec![violations_subjects.clone()],
            duplicate_window: DUPLICATE_WINDOW,
            ..Default::default()
        })
        .await
    {
        // Another stream may already hold the subject: publishing finds it.
        log(
            "warn",
            "events: violations stream not created",
            json!({"stream": config.violations_stream, "subjects": violations_subjects, "error": e.to_string()}),
        );
    }
    let consumer: consumer::PullConsumer = events
        .get_or_create_consumer(
            &config.durable,
            consumer::pull::Config {
                durable_name: Some(config.durable.clone()),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: config.ack_wait,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| format!("consumer {}: {e}", config.durable))?;
    let batch = config.max_in_flight.clamp(1, 256);
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(batch)
        .heartbeat(Duration::from_secs(5))
        .expires(Duration::from_secs(30))
        .messages()
        .await
        .map_err(|e| format!("consumer {}: {e}", config.durable))?;
    log(
        "info",
        "events: consuming",
        json!({"stream": config.stream, "durable": config.durable, "max_in_flight": config.max_in_flight}),
    );
    let per_batch = batch_size(config.max_in_flight);
    loop {
        // A slot first: nothing more is taken from the stream while every slot is busy.
        let mut batch = Vec::new();
        let first = slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        let Some(message) = next_message(messages.next().await)? else {
            continue;
        };
        batch.push((message, first));
        // Then whatever else has arrived already, while slots are free: one evaluation
        // task, one evidence commit and one wake-up per batch rather than per event.
        while batch.len() < per_batch {
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                break;
            };
            // Polled with this task's waker (not a no-op one): a message stream that has
            // nothing yet must be able to wake the task when its next pull is due.
            let ready = tokio::select! {
                biased;
                next = messages.next() => next,
                () = std::future::ready(()) => break,
            };
            if let Some(message) = next_message(ready)? {
                batch.push((message, slot));
            }
        }
        let (state, js, config) = (state.clone(), js.clone(), config.clone());
        tokio::spawn(async move {
            handle_batch(&state, &js, &config, batch).await;
        });
    }
}

/// Messages per batch: at most [`MAX_BATCH`], and few enough that the messages in flight
/// make a batch for every core (a batch is evaluated on one plugin instance, one core).
fn batch_size(max_in_flight: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    (max_in_flight / cores).clamp(1, MAX_BATCH)
}

/// What the message stream gave: a message, nothing to handle (a pull error it recovers
/// from itself, logged), or an error that needs a new binding.
fn next_message(
    next: Option<Result<jetstream::Message, consumer::pull::MessagesError>>,
) -> Result<Option<jetstream::Message>, String> {
    use consumer::pull::MessagesErrorKind as Kind;
    match next {
        None => Err("the message stream ended".into()),
        Some(Ok(m)) => Ok(Some(m)),
        Some(Err(e)) => match e.kind() {
            Kind::ConsumerDeleted | Kind::PushBasedConsumer => Err(e.to_string()),
            // Heartbeats missed while the server restarts and failed pulls: the message
            // stream sends new pull requests itself.
            _ => {
                log("warn", "events: pull", json!({"error": e.to_string()}));
                Ok(None)
            }
        },
    }
}

/// The id of a message's event: its `Nats-Msg-Id` (what `palisade publish` and the
/// stream's de-duplication use), else the digest of its payload.
pub fn event_id(headers: Option<&HeaderMap>, payload: &[u8]) -> String {
    headers
        .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
        .map(|v| v.as_str())
        .filter(|id| !id.is_empty() && id.len() <= MAX_ID_BYTES)
        .map_or_else(|| canonical::digest_bytes(payload), str::to_string)
}

/// One message of a batch on its way.
struct Event {
    message: jetstream::Message,
    /// Its evaluation slot: free once it is acked, terminated or left.
    _slot: OwnedSemaphorePermit,
    started: Instant,
    sequence: u64,
    delivered: i64,
    id: String,
    /// Decided (poison, retry) before the end of the batch.
    outcome: Option<EventOutcome>,
    report: Value,
    records: u64,
    published: u64,
}

impl Event {
    fn poison(&mut self, why: &str) {
        log(
            "warn",
            "events: poison message terminated",
            json!({"sequence": self.sequence, "subject": self.message.subject.as_str(), "error": why}),
        );
        self.outcome = Some(EventOutcome::Poison);
    }

    fn retry(&mut self, why: &str) {
        log(
            "error",
            "events: event left for redelivery",
            json!({"sequence": self.sequence, "delivered": self.delivered, "error": why}),
        );
        self.outcome = Some(EventOutcome::Retried);
    }

    fn open(&self) -> bool {
        self.outcome.is_none()
    }
}

/// Handles a batch of messages, each to its ack, termination or redelivery: evaluates
/// them in one task, publishes their violations, records their evidence in one commit,
/// then acks each.
async fn handle_batch(
    state: &Arc<State>,
    js: &jetstream::Context,
    config: &EventsConfig,
    batch: Vec<(jetstream::Message, OwnedSemaphorePermit)>,
) {
    let mut events: Vec<Event> = batch
        .into_iter()
        .map(|(message, slot)| {
            let (sequence, delivered, pending) = message
                .info()
                .map_or((0, 1, 0), |i| (i.stream_sequence, i.delivered, i.pending));
            state.metrics.event_consumed(delivered, pending);
            let id = event_id(message.headers.as_ref(), &message.payload);
            Event {
                message,
                _slot: slot,
                started: Instant::now(),
                sequence,
                delivered,
                id,
                outcome: None,
                report: Value::Null,
                records: 0,
                published: 0,
            }
        })
        .collect();
    let time = crate::server::now_of(&state.config);
    evaluate(state, &mut events, &time).await;
    publish_violations(js, config, &mut events).await;
    record_evidence(state, &mut events, &time).await;
    for mut event in events {
        let outcome = *event.outcome.get_or_insert(EventOutcome::Acked);
        let ack = match outcome {
            EventOutcome::Acked => event.message.ack().await,
            EventOutcome::Poison => event.message.ack_with(AckKind::Term).await,
            // Redelivered after a short delay (the failure is most likely not gone at once).
            EventOutcome::Retried => {
                event
                    .message
                    .ack_with(AckKind::Nak(Some(Duration::from_millis(500))))
                    .await
            }
        };
        if let Err(e) = ack {
            // The server redelivers it after ack_wait; the evidence counts it once.
            log(
                "warn",
                "events: ack not sent",
                json!({"sequence": event.sequence, "error": e.to_string()}),
            );
        }
        state
            .metrics
            .event_done(outcome, event.published, event.started.elapsed());
    }
}

/// Evaluates every message of the batch with the set in force, one plugin call each, in
/// one blocking task holding one evaluation slot.
async fn evaluate(state: &Arc<State>, events: &mut [Event], time: &str) {
    let Some(set) = state.current.get() else {
        events
            .iter_mut()
            .for_each(|e| e.retry("no policy set loaded"));
        return;
    };
    let mut requests = Vec::with_capacity(events.len());
    for event in events.iter_mut() {
        let Ok(text) = std::str::from_utf8(&event.message.payload) else {
            event.poison("the message is not UTF-8");
            continue;
        };
        let mut request = json!({
            "now": time,
            "all": false,
            "explain": false,
            "lifecycle": null,
            "inputs": [{"name": format!("nats:{}#{}", event.message.subject, event.sequence), "text": text}],
        });
        if let Some(b) = &set.baselines {
            request["baselines"] = json!([{"name": b.name, "text": b.text}]);
        }
        requests.push(request.to_string());
    }
    let Ok(slot) = state.checks.clone().acquire_owned().await else {
        events
            .iter_mut()
            .filter(|e| e.open())
            .for_each(|e| e.retry("the evaluation slots are closed"));
        return;
    };
    let outcomes = plugin_check_all(set, requests, slot).await;
    let open = events.iter_mut().filter(|e| e.open());
    for (event, outcome) in open.zip(outcomes) {
        let text = match outcome {
            Ok(t) => t,
            Err(e) => {
                state.metrics.trap();
                if event.delivered >= MAX_PLUGIN_ATTEMPTS {
                    event.poison(&format!(
                        "the evaluation failed at each of {} deliveries: {e}",
                        event.delivered
                    ));
                } else {
                    event.retry(&format!("the evaluation failed: {e}"));
                }
                continue;
            }
        };
        let Some(report) = read_report(state, &text) else {
            let error: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let why = error["error"]["message"]
                .as_str()
                .map_or_else(|| text.clone(), str::to_string);
            event.poison(&why);
            continue;
        };
        event.records = report["summary"]["records"].as_u64().unwrap_or(0);
        if event.records == 0 {
            event.poison("the message holds no record, Falco event or Tetragon event");
            continue;
        }
        event.report = report;
    }
}

/// Publishes the violations of every evaluated event and waits for the stream to store
/// them; an event with a violation not stored is left for redelivery. Published before the
/// evidence is written: a crash in between republishes them (the stream drops the copies)
/// and writes the evidence on the redelivery.
async fn publish_violations(js: &jetstream::Context, config: &EventsConfig, events: &mut [Event]) {
    let mut acks = Vec::new();
    for (i, event) in events.iter_mut().enumerate().filter(|(_, e)| e.open()) {
        let violations = event.report["violations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for v in &violations {
            let severity = v["severity"].as_str().unwrap_or("unknown");
            let subject = config.violations_subject.replace("<severity>", severity);
            let mut headers = HeaderMap::new();
            headers.insert(
                async_nats::header::NATS_MESSAGE_ID,
                violation_id(&event.id, v).as_str(),
            );
            headers.insert("Palisade-Event", event.id.as_str());
            let payload = v.to_string().into_bytes().into();
            match js.publish_with_headers(subject, headers, payload).await {
                Ok(ack) => {
                    acks.push((i, ack));
                    event.published += 1;
                }
                Err(e) => {
                    event.retry(&format!("publishing a violation failed: {e}"));
                    break;
                }
            }
        }
    }
    // Awaited together: acks lost with a connection time out once for the batch, not one
    // after the other.
    let (owners, futures): (Vec<usize>, Vec<_>) = acks.into_iter().unzip();
    let stored = futures_util::future::join_all(futures.into_iter().map(|a| a.into_future())).await;
    for (i, result) in owners.into_iter().zip(stored) {
        if let Err(e) = result
            && let Some(event) = events.get_mut(i).filter(|e| e.open())
        {
            event.retry(&format!("a violation was not stored by its stream: {e}"));
        }
    }
}

/// Writes the evaluation of every evaluated event, with its violations, in one commit (with
/// `--evidence`); when it is not written, every one of them is left for redelivery.
async fn record_evidence(state: &Arc<State>, events: &mut [Event], time: &str) {
    let Some(evidence) = &state.evidence else {
        return;
    };
    let mut entries = Vec::new();
    let mut records = 0;
    for event in events.iter().filter(|e| e.open()) {
        let digest = canonical::digest_bytes(&event.message.payload);
        let violations = event.report["violations"].as_array();
        entries.push(Entry::Evaluation(EvaluationEntry {
            run: evidence.run.clone(),
            time: time.to_string(),
            input_digest: digest.clone(),
            records: event.records,
            violations: violations.map_or(0, |v| v.len() as u64),
            event: Some(event.id.clone()),
        }));
        entries.extend(
            violations
                .into_iter()
                .flatten()
                .filter_map(|v| from_engine::violation_from_json(v, &evidence.run, time, &digest))
                .map(|mut v| {
                    v.event = Some(event.id.clone());
                    Entry::Violation(v)
                }),
        );
        records += event.records;
    }
    if entries.is_empty() {
        return;
    }
    if !evidence.record_durably(entries, records).await {
        events
            .iter_mut()
            .filter(|e| e.open())
            .for_each(|e| e.retry("the evidence log did not take the evaluation"));
    }
}

/// The message id of a violation: the same event, policy and record give the same id, so
/// the violations stream keeps one copy however often the event is evaluated.
fn violation_id(event: &str, violation: &Value) -> String {
    let record = &violation["record"];
    let key = json!([event, violation["policy"], record["kind"], record["id"]]);
    canonical::digest(&key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_messages_in_flight_make_a_batch_for_every_core() {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        for in_flight in [1, 2, 7, 64, 256, 10_000] {
            let size = batch_size(in_flight);
            assert!((1..=MAX_BATCH).contains(&size), "{in_flight}: {size}");
            // Enough batches for every core whenever there are enough messages for them.
            if in_flight >= cores {
                assert!(in_flight / size >= cores, "{in_flight}: {size}");
            }
        }
    }

    #[test]
    fn an_event_is_named_by_its_message_id_else_by_its_payload() {
        let mut headers = HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, "sha256:abc");
        assert_eq!(event_id(Some(&headers), b"{}"), "sha256:abc");
        assert_eq!(event_id(None, b"{}"), canonical::digest_bytes(b"{}"));
        assert_ne!(event_id(None, b"{}"), event_id(None, b"{ }"));
        // An id too long to be one is not trusted: the payload names the event.
        let mut long = HeaderMap::new();
        long.insert(
            async_nats::header::NATS_MESSAGE_ID,
            "x".repeat(300).as_str(),
        );
        assert_eq!(event_id(Some(&long), b"{}"), canonical::digest_bytes(b"{}"));
    }

    #[test]
    fn a_violation_id_depends_on_event_policy_and_record_only() {
        let v = json!({"policy": "P", "severity": "high", "record": {"kind": "process", "id": "1"}, "messages": ["a"]});
        let same = json!({"policy": "P", "severity": "high", "record": {"kind": "process", "id": "1"}, "messages": ["b"]});
        let other =
            json!({"policy": "P", "severity": "high", "record": {"kind": "process", "id": "2"}});
        assert_eq!(violation_id("e", &v), violation_id("e", &same));
        assert_ne!(violation_id("e", &v), violation_id("e", &other));
        assert_ne!(violation_id("e", &v), violation_id("f", &v));
    }

    #[test]
    fn the_violations_stream_covers_every_severity() {
        let config = EventsConfig::new("nats://127.0.0.1:4222");
        assert_eq!(config.violation_subjects(), "palisade.violations.*");
    }
}
