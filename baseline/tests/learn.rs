//! Learning, checked end to end: baselines learned from a trace, locked by the window, then
//! the engine's join (what `check` and "Unauthorized Process Execution" use) over replays
//! and injected processes.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests"
)]

use palisade_baseline::learn::{BadEvent, Learner, Options};
use palisade_baseline::{Baseline, file};
use palisade_engine::Dataset;
use palisade_engine::record::{Process, Record};
use proptest::prelude::*;
use serde_json::json;

const T0: i64 = 1_700_000_000;
const WINDOW: u64 = 3600;

fn time(t: i64) -> String {
    palisade_engine::record::Timestamp(t).rfc3339().unwrap()
}

/// One generated event: workload, container, path, seconds after T0, pod suffix, and
/// whether (and how long before) its container started.
#[derive(Clone, Debug)]
struct Event {
    workload: usize,
    container: usize,
    path: usize,
    at: i64,
    replica: usize,
    started_before: Option<i64>,
}

const WORKLOADS: [&str; 3] = ["api", "web", "db"];
const CONTAINERS: [&str; 2] = ["main", "sidecar"];
const PATHS: [&str; 6] = [
    "/app/server",
    "/bin/sh",
    "/usr/bin/curl",
    "/entrypoint.sh",
    "/usr/bin/python3",
    "/bin/ls",
];
/// Pod names of replicas and restarts (a new ReplicaSet hash, new pod suffixes).
const PODS: [&str; 3] = [
    "{w}-7d4b9c5f6-x2x9z",
    "{w}-7d4b9c5f6-bq8lm",
    "{w}-5c8d7f9b4-q7w2k",
];

fn process(
    id: &str,
    workload: &str,
    container: &str,
    path: &str,
    at: i64,
    pod: usize,
    started: Option<i64>,
) -> Process {
    let mut v = json!({
        "kind": "process", "id": id, "namespace": "prod",
        "pod": PODS[pod].replace("{w}", workload), "container": container,
        "exec_path": path, "time": time(at),
    });
    if let Some(s) = started {
        v["container_start"] = json!(time(s));
    }
    serde_json::from_value(v).unwrap()
}

fn to_process(i: usize, e: &Event) -> Process {
    let at = T0 + e.at;
    process(
        &format!("e{i}"),
        WORKLOADS[e.workload],
        CONTAINERS[e.container],
        PATHS[e.path],
        at,
        e.replica,
        e.started_before.map(|b| at - b),
    )
}

fn event() -> impl Strategy<Value = Event> {
    (
        0..3usize,
        0..2usize,
        0..6usize,
        0..(WINDOW as i64),
        0..3usize,
        prop::option::of(0..120i64),
    )
        .prop_map(
            |(workload, container, path, at, replica, started_before)| Event {
                workload,
                container,
                path,
                at,
                replica,
                started_before,
            },
        )
}

/// A process of another workload twenty windows later: the input's clock passes every
/// window (and every injected process).
fn clock() -> Process {
    process(
        "clock",
        "clock",
        "main",
        "/clock",
        T0 + 20 * WINDOW as i64,
        0,
        None,
    )
}

fn learn(events: &[Process], existing: Vec<Baseline>) -> palisade_baseline::Learned {
    let mut learner = Learner::new(
        Options {
            window_seconds: WINDOW,
            startup_seconds: 60,
        },
        existing,
    )
    .unwrap();
    for (i, p) in events.iter().enumerate() {
        learner.observe(p, || format!("event {i}"));
    }
    learner.finish().unwrap()
}

fn dataset(baselines: &[Baseline]) -> Dataset {
    let mut d = Dataset::default();
    for b in baselines {
        d.add(Record::Baseline(b.clone())).unwrap();
    }
    d.finish();
    d
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// The trace replayed after the lock gives no violation; a path injected after the lock,
    /// in any container of the trace, at any time, is flagged by the check and reported by
    /// a learning run that sees it (which does not learn it).
    #[test]
    fn replay_is_clean_and_injection_is_flagged(
        trace in prop::collection::vec(event(), 1..60),
        inject_into in any::<prop::sample::Index>(),
        inject_after in 0..(10 * WINDOW as i64),
        inject_path in "/[a-z]{1,8}/[a-z]{1,8}",
    ) {
        let mut events: Vec<Process> = trace.iter().enumerate().map(|(i, e)| to_process(i, e)).collect();
        events.push(clock());
        let learned = learn(&events, Vec::new());
        prop_assert!(learned.report.outside.is_empty(), "{:?}", learned.report.outside);
        prop_assert!(learned.baselines.iter().filter(|b| b.workload.as_deref() != Some("clock")).all(|b| b.locked));
        let data = dataset(&learned.baselines);
        for p in &events {
            let join = data.join_process(p);
            prop_assert!(join.baseline.is_some(), "{p:?} has no baseline");
            prop_assert!(!join.outside_baseline, "replayed {p:?} flagged");
        }
        prop_assume!(!PATHS.contains(&inject_path.as_str()));
        let target = inject_into.get(&trace);
        let lock = learned.baselines.iter()
            .filter(|b| b.workload.as_deref() == Some(WORKLOADS[target.workload]) && b.container == CONTAINERS[target.container])
            .map(|b| b.locked_at.unwrap().0)
            .next()
            .unwrap();
        let injected = process("injected", WORKLOADS[target.workload], CONTAINERS[target.container], &inject_path, lock + inject_after, target.replica, None);
        let join = data.join_process(&injected);
        prop_assert!(join.outside_baseline, "injected {injected:?} not flagged");
        events.push(injected);
        let again = learn(&events, Vec::new());
        prop_assert_eq!(again.report.outside.len(), 1);
        prop_assert_eq!(&again.report.outside[0].path, &inject_path);
        prop_assert_eq!(file::write(&again.baselines).unwrap(), file::write(&learned.baselines).unwrap());
    }

    /// Any order of the same events gives byte-identical baselines.
    #[test]
    fn order_does_not_matter(
        trace in prop::collection::vec(event(), 1..60)
            .prop_flat_map(|t| (Just(t.clone()), Just(t).prop_shuffle())),
        with_clock in any::<bool>(),
    ) {
        let (original, shuffled) = trace;
        let as_processes = |t: &[Event]| {
            let mut ps: Vec<Process> = t.iter().enumerate().map(|(i, e)| to_process(i, e)).collect();
            if with_clock {
                ps.push(clock());
            }
            ps
        };
        let mut reversed = as_processes(&original);
        reversed.reverse();
        let a = file::write(&learn(&as_processes(&original), Vec::new()).baselines).unwrap();
        let b = file::write(&learn(&as_processes(&shuffled), Vec::new()).baselines).unwrap();
        let c = file::write(&learn(&reversed, Vec::new()).baselines).unwrap();
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(&a, &c);
    }

    /// Learning in two runs (the second continuing from the first's file) gives what one
    /// run over both halves gives, while no window has ended.
    #[test]
    fn learning_continues_from_a_file(trace in prop::collection::vec(event(), 2..40), split in any::<prop::sample::Index>()) {
        let events: Vec<Process> = trace.iter().enumerate().map(|(i, e)| to_process(i, e)).collect();
        let at = split.index(events.len());
        let first = learn(&events[..at], Vec::new());
        let reread = file::read(std::io::Cursor::new(file::write(&first.baselines).unwrap()), "first").unwrap();
        let second = learn(&events[at..], reread);
        let whole = learn(&events, Vec::new());
        prop_assert_eq!(file::write(&second.baselines).unwrap(), file::write(&whole.baselines).unwrap());
    }

    /// Learners given consecutive pieces of a trace and merged in order learn what one
    /// learner given the whole trace learns, report included (bad examples in order,
    /// truncated as one learner truncates them), over existing baselines too.
    #[test]
    fn merged_pieces_learn_what_the_whole_learns(
        trace in prop::collection::vec(event(), 1..60),
        bad in prop::collection::vec(any::<prop::sample::Index>(), 0..14),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 1..4),
        known in any::<prop::sample::Index>(),
        with_clock in any::<bool>(),
    ) {
        let mut events: Vec<Process> = trace.iter().enumerate().map(|(i, e)| to_process(i, e)).collect();
        for (n, at) in bad.iter().enumerate() {
            let mut p = to_process(1000 + n, &trace[at.index(trace.len())]);
            p.container = None;
            events.insert(at.index(events.len() + 1), p);
        }
        if with_clock {
            events.push(clock());
        }
        // Existing baselines from a prefix, locked when the clock runs.
        let mut prefix = events[..known.index(events.len())].to_vec();
        if with_clock {
            prefix.push(clock());
        }
        let existing = learn(&prefix, Vec::new()).baselines;
        let options = Options { window_seconds: WINDOW, startup_seconds: 60 };
        let mut whole = Learner::new(options, existing.clone()).unwrap();
        for (i, p) in events.iter().enumerate() {
            whole.observe(p, || format!("event {i}"));
        }
        let mut bounds: Vec<usize> = cuts.iter().map(|c| c.index(events.len() + 1)).collect();
        bounds.push(0);
        bounds.push(events.len());
        bounds.sort_unstable();
        let mut pieces = bounds.windows(2).map(|w| {
            let mut piece = Learner::new(options, existing.clone()).unwrap();
            for (i, p) in events.iter().enumerate().take(w[1]).skip(w[0]) {
                piece.observe(p, || format!("event {i}"));
            }
            piece
        });
        let mut merged = pieces.next().unwrap();
        for piece in pieces {
            merged.merge(piece);
        }
        prop_assert_eq!(merged.finish().unwrap(), whole.finish().unwrap());
    }
}

#[test]
fn startup_processes_are_exempt_inside_the_window_and_learned_outside_it() {
    let started = T0;
    let events = vec![
        // In the first minute of the container: startup, exempt, not learned as processes.
        process(
            "a",
            "api",
            "main",
            "/entrypoint.sh",
            started + 2,
            0,
            Some(started),
        ),
        process(
            "b",
            "api",
            "main",
            "/app/migrate",
            started + 59,
            0,
            Some(started),
        ),
        // A minute or more after: learned as usual.
        process(
            "c",
            "api",
            "main",
            "/app/server",
            started + 60,
            0,
            Some(started),
        ),
        process(
            "d",
            "api",
            "main",
            "/app/migrate",
            started + 600,
            1,
            Some(started),
        ),
        clock(),
    ];
    let learned = learn(&events, Vec::new());
    let api = learned
        .baselines
        .iter()
        .find(|b| b.workload.as_deref() == Some("api"))
        .unwrap();
    assert_eq!(api.processes, vec!["/app/migrate", "/app/server"]);
    assert_eq!(api.startup, vec!["/entrypoint.sh"]);
    assert_eq!(learned.report.startup_events, 2);
    assert!(api.locked);
    let data = dataset(&learned.baselines);
    // A restarted container runs its entrypoint again in its first minute: exempt.
    let restart = T0 + 3 * WINDOW as i64;
    let again = process(
        "e",
        "api",
        "main",
        "/entrypoint.sh",
        restart + 5,
        2,
        Some(restart),
    );
    assert!(!data.join_process(&again).outside_baseline);
    // The same path later in the container's life is outside the baseline.
    let late = process(
        "f",
        "api",
        "main",
        "/entrypoint.sh",
        restart + 61,
        2,
        Some(restart),
    );
    assert!(data.join_process(&late).outside_baseline);
    // Without a container start time nothing is a startup process.
    let unknown = process("g", "api", "main", "/entrypoint.sh", restart + 5, 2, None);
    assert!(data.join_process(&unknown).outside_baseline);
}

#[test]
fn a_locked_baseline_is_not_changed_by_events_and_reports_them() {
    let first = learn(
        &[
            process("a", "api", "main", "/app/server", T0, 0, None),
            clock(),
        ],
        Vec::new(),
    );
    let before = file::write(&first.baselines).unwrap();
    let later = vec![
        process("b", "api", "main", "/bin/sh", T0 + 10, 0, None),
        process("c", "api", "main", "/bin/sh", T0 + 20, 1, None),
        process("d", "api", "main", "/app/server", T0 + 30, 0, None),
    ];
    let second = learn(&later, first.baselines);
    assert_eq!(file::write(&second.baselines).unwrap(), before);
    assert_eq!(second.report.outside.len(), 1);
    let o = &second.report.outside[0];
    assert_eq!(
        (o.baseline.as_str(), o.path.as_str(), o.events),
        ("prod/api/main", "/bin/sh", 2)
    );
}

#[test]
fn removed_paths_are_not_learned_again() {
    let existing = vec![Baseline {
        namespace: Some("prod".into()),
        workload: Some("api".into()),
        container: "main".into(),
        processes: vec!["/app/server".into()],
        removed: vec!["/bin/sh".into()],
        observation_start: Some(palisade_engine::record::Timestamp(T0)),
        observation_end: None,
        ..Baseline::default()
    }];
    let learned = learn(
        &[
            process("a", "api", "main", "/bin/sh", T0 + 5, 0, None),
            process("b", "api", "main", "/usr/bin/id", T0 + 5, 0, None),
        ],
        existing,
    );
    assert_eq!(
        learned.baselines[0].processes,
        vec!["/app/server", "/usr/bin/id"]
    );
    assert!(
        !learned.baselines[0].locked,
        "no window end: learning goes on"
    );
}

#[test]
fn bad_events_are_counted_with_their_place_and_never_learned() {
    let mut learner = Learner::new(Options::default(), Vec::new()).unwrap();
    let bad = |v: serde_json::Value| -> Process { serde_json::from_value(v).unwrap() };
    let good = json!({"kind": "process", "id": "ok", "namespace": "prod", "pod": "api-x2x9z", "container": "main", "exec_path": "/app/server", "time": time(T0)});
    let without = |key: &str| {
        let mut v = good.clone();
        v.as_object_mut().unwrap().remove(key);
        bad(v)
    };
    learner.observe(&without("container"), || "e.jsonl: record 1".into());
    learner.observe(&without("exec_path"), || "e.jsonl: record 2".into());
    learner.observe(&without("time"), || "e.jsonl: record 3".into());
    learner.observe(&without("pod"), || "e.jsonl: record 4".into());
    learner.reject_with(
        BadEvent::Unreadable,
        "e.jsonl: record 5",
        "expected `,` or `}`",
    );
    let learned = learner.finish().unwrap();
    assert!(learned.baselines.is_empty());
    assert_eq!(learned.report.events, 0);
    let counts: Vec<(&str, u64)> = learned
        .report
        .bad
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        counts,
        vec![
            ("no container", 1),
            ("no exec path", 1),
            ("no time (missing, or not RFC 3339)", 1),
            ("no workload (no deployment, pod or deployment_id)", 1),
            ("not a readable process record", 1),
        ]
    );
    assert_eq!(
        learned.report.bad_examples[2],
        "e.jsonl: record 3: no time (missing, or not RFC 3339)"
    );
    assert_eq!(
        learned.report.bad_examples[4],
        "e.jsonl: record 5: not a readable process record (expected `,` or `}`)"
    );
}

#[test]
fn replicas_and_restarts_share_one_baseline_and_deployment_ids_are_kept() {
    let mut events = Vec::new();
    for i in 0..PODS.len() {
        let mut p = process(
            &format!("p{i}"),
            "api",
            "main",
            "/app/server",
            T0 + i as i64,
            i,
            None,
        );
        p.deployment_id = Some("dep-1".into());
        events.push(p);
    }
    let learned = learn(&events, Vec::new());
    assert_eq!(learned.baselines.len(), 1);
    assert_eq!(learned.baselines[0].deployment_id.as_deref(), Some("dep-1"));
    // A StackRox-style record naming only the deployment id finds it too.
    let data = dataset(&learned.baselines);
    let by_id: Process = serde_json::from_value(json!({"kind": "process", "id": "x", "deployment_id": "dep-1", "container": "main", "exec_path": "/app/server"})).unwrap();
    assert!(data.join_process(&by_id).baseline.is_some());
}

/// A container that runs more paths than a group searches in order (its paths then go
/// through an index): every path is learned once, in any order, and when learned in
/// pieces that are merged.
#[test]
fn a_container_with_many_paths_learns_each_once_in_any_order() {
    let paths: Vec<String> = (0..100).map(|i| format!("/opt/tool{i}")).collect();
    let events: Vec<Process> = (0..300)
        .map(|i| {
            let path = &paths[(i * 37) % paths.len()];
            process(
                &format!("e{i}"),
                "api",
                "main",
                path,
                T0 + i as i64,
                0,
                None,
            )
        })
        .collect();
    let forward = learn(&events, Vec::new());
    let mut reversed = events.clone();
    reversed.reverse();
    assert_eq!(learn(&reversed, Vec::new()), forward);
    let b = &forward.baselines[0];
    let mut expected = paths.clone();
    expected.sort();
    assert_eq!(b.processes, expected);
    assert_eq!(forward.report.events, 300);
    let options = Options {
        window_seconds: WINDOW,
        startup_seconds: 60,
    };
    let mut first = Learner::new(options, Vec::new()).unwrap();
    let mut second = Learner::new(options, Vec::new()).unwrap();
    for (i, p) in events.iter().enumerate() {
        let piece = if i < 150 { &mut first } else { &mut second };
        piece.observe(p, || format!("event {i}"));
    }
    first.merge(second);
    assert_eq!(first.finish().unwrap(), forward);
}
