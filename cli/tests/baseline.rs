#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly on broken fixtures"
)]
//! `palisade baseline learn|lock|unlock|add|remove|export` and `check --baselines` end to
//! end over the bundled sample trace (examples/baselines), the shared corpus, and bad input.
//! `BLESS=1` rewrites the golden files.

mod common;
use common::{golden, root, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn palisade_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .current_dir(dir)
        .env("PALISADE_NOW", "2026-11-04T12:00:00Z")
        .env("NO_COLOR", "1")
        .output()
        .expect("run palisade")
}

fn palisade(args: &[&str]) -> Output {
    palisade_in(&root(), args)
}

const LEARN: &str = "examples/baselines/learn.jsonl";
const RUNTIME: &str = "examples/baselines/runtime.jsonl";
const POLICY: &str = "policies/baselining_policy.pal";

/// The sample trace's lines.
fn learn_lines() -> Vec<String> {
    std::fs::read_to_string(root().join(LEARN))
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// Learns the sample trace into `dir/baselines.jsonl`.
fn learned(dir: &Path) -> PathBuf {
    let out = dir.join("baselines.jsonl");
    let run = palisade(&[
        "baseline",
        "learn",
        "--input",
        LEARN,
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    out
}

/// `check` of `input` against `baselines` with only "Unauthorized Process Execution".
fn check(baselines: &Path, input: &str, more: &[&str]) -> Output {
    let mut args = vec![
        "check",
        "--policies",
        POLICY,
        "--baselines",
        baselines.to_str().unwrap(),
        "--input",
        input,
    ];
    args.extend_from_slice(more);
    palisade(&args)
}

/// `check --baselines` of the runtime sample: (exit code, the exec paths that violate).
fn outside(baselines: &Path) -> (i32, Vec<String>) {
    let run = check(
        baselines,
        RUNTIME,
        &["--format", "json", "--fail-on", "high"],
    );
    let report: serde_json::Value = serde_json::from_slice(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&run.stdout), text(&run.stderr)));
    let mut paths: Vec<String> = report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let m = v["messages"][0].as_str().unwrap();
            m.split('\'').nth(1).unwrap().to_string()
        })
        .collect();
    paths.sort();
    (run.status.code().unwrap(), paths)
}

#[test]
fn the_sample_trace_is_learned_locked_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let run = palisade(&["baseline", "learn", "--input", LEARN]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    golden("baseline-learn.jsonl", &text(&run.stdout));
    golden("baseline-learn.txt", &text(&run.stderr));
    let baselines = learned(dir.path());
    assert_eq!(
        std::fs::read_to_string(&baselines).unwrap(),
        text(&run.stdout)
    );
    // The runtime sample: a restarted replica's entrypoint is exempt, the shell and netcat
    // in a running container are not.
    let checked = check(&baselines, RUNTIME, &["--explain", "--fail-on", "high"]);
    assert_eq!(checked.status.code(), Some(1), "{}", text(&checked.stderr));
    golden("baseline-check.txt", &text(&checked.stdout));
    assert_eq!(
        outside(&baselines),
        (1, vec!["/bin/sh".into(), "/usr/bin/nc".into()])
    );
    // The learning trace replayed: nothing outside.
    let replay = check(&baselines, LEARN, &["--fail-on", "low"]);
    assert_eq!(replay.status.code(), Some(0), "{}", text(&replay.stdout));
}

#[test]
fn learning_is_byte_identical_for_any_order_of_the_events() {
    let dir = tempfile::tempdir().unwrap();
    let lines = learn_lines();
    let reversed: Vec<&str> = lines.iter().rev().map(String::as_str).collect();
    let interleaved: Vec<&str> = lines
        .iter()
        .step_by(2)
        .chain(lines.iter().skip(1).step_by(2))
        .map(String::as_str)
        .collect();
    let mut outputs = Vec::new();
    for (name, order) in [
        ("reversed.jsonl", reversed),
        ("interleaved.jsonl", interleaved),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, order.join("\n")).unwrap();
        let run = palisade(&["baseline", "learn", "--input", path.to_str().unwrap()]);
        assert_eq!(run.status.code(), Some(0));
        outputs.push(run.stdout);
    }
    let straight = palisade(&["baseline", "learn", "--input", LEARN]).stdout;
    assert!(outputs.iter().all(|o| *o == straight));
}

/// JSON Lines are read a line at a time; any other layout (an array, pretty-printed
/// objects, JSON Lines that turn into them) learns the same, and broken JSON is an error at
/// its line in the file.
#[test]
fn every_layout_of_the_records_learns_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let lines = learn_lines();
    let pretty = |l: &String| {
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(l).unwrap())
            .unwrap()
    };
    let array = format!("[{}]", lines.join(",\n"));
    let all_pretty: Vec<String> = lines.iter().map(pretty).collect();
    let mut mixed: Vec<String> = lines[..10].to_vec();
    mixed.push(String::new());
    mixed.extend(lines[10..].iter().map(pretty));
    let straight = palisade(&["baseline", "learn", "--input", LEARN]).stdout;
    for (name, content) in [
        ("array.json", array),
        ("pretty.json", all_pretty.join("\n")),
        ("mixed.jsonl", mixed.join("\n")),
        ("crlf.jsonl", lines.join("\r\n")),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let run = palisade(&["baseline", "learn", "--input", path.to_str().unwrap()]);
        assert_eq!(run.status.code(), Some(0), "{name}: {}", text(&run.stderr));
        assert!(run.stdout == straight, "{name} learns differently");
    }
    let mut broken = lines.clone();
    broken[4] = broken[4].replace("\"container\":", "\"container\"");
    let path = dir.path().join("broken.jsonl");
    std::fs::write(&path, broken.join("\n")).unwrap();
    let run = palisade(&["baseline", "learn", "--input", path.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(2));
    assert!(
        text(&run.stderr).contains(&format!("{}:5:", path.display())),
        "{}",
        text(&run.stderr)
    );
    assert!(run.stdout.is_empty());
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "\n  \n").unwrap();
    let run = palisade(&["baseline", "learn", "--input", empty.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(2));
    assert!(
        text(&run.stderr).contains("empty input"),
        "{}",
        text(&run.stderr)
    );
}

#[test]
fn locked_baselines_report_new_paths_and_are_not_changed() {
    let dir = tempfile::tempdir().unwrap();
    let baselines = learned(dir.path());
    let before = std::fs::read_to_string(&baselines).unwrap();
    let b = baselines.to_str().unwrap();
    let run = palisade(&[
        "baseline",
        "learn",
        "--input",
        RUNTIME,
        "--baselines",
        b,
        "-o",
        b,
    ]);
    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
    let stderr = text(&run.stderr);
    assert!(
        stderr
            .contains("outside locked baseline eu-west-1/shop/payments-api/api: /bin/sh (1 events"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "outside locked baseline eu-west-1/shop/payments-api/api: /usr/bin/nc (1 events"
        ),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&baselines).unwrap(), before);
}

#[test]
fn edits_change_what_check_flags() {
    let dir = tempfile::tempdir().unwrap();
    let baselines = learned(dir.path());
    let b = baselines.to_str().unwrap();
    let api = ["--workload", "payments-api", "--container", "api"];
    let edit = |args: &[&str]| {
        let mut all = vec!["baseline"];
        all.extend_from_slice(args);
        let run = palisade(&all);
        assert_eq!(
            run.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&run.stderr)
        );
        text(&run.stderr)
    };
    assert!(
        edit(&[&["add", b, "--path", "/bin/sh"][..], &api].concat())
            .contains("changed: eu-west-1/shop/payments-api/api")
    );
    assert_eq!(outside(&baselines), (1, vec!["/usr/bin/nc".into()]));
    edit(&[&["remove", b, "--path", "/usr/bin/curl"][..], &api].concat());
    assert_eq!(
        outside(&baselines),
        (1, vec!["/usr/bin/curl".into(), "/usr/bin/nc".into()])
    );
    assert!(
        edit(&[&["unlock", b][..], &api].concat())
            .contains("unlocked: eu-west-1/shop/payments-api/api")
    );
    assert_eq!(outside(&baselines), (0, vec![]));
    // An unlocked baseline learns again, but never a removed path.
    let relearn = palisade(&[
        "baseline",
        "learn",
        "--input",
        RUNTIME,
        "--baselines",
        b,
        "-o",
        b,
    ]);
    assert_eq!(relearn.status.code(), Some(0), "{}", text(&relearn.stderr));
    let after = std::fs::read_to_string(&baselines).unwrap();
    let api_line = after
        .lines()
        .find(|l| l.contains("\"container\":\"api\""))
        .unwrap();
    assert!(
        api_line.contains("\"/usr/bin/nc\"")
            && api_line.contains("\"removed\":[\"/usr/bin/curl\"]"),
        "{api_line}"
    );
    assert!(
        edit(&["lock", b, "--container", "api"])
            .contains("locked: eu-west-1/shop/payments-api/api")
    );
    let api_line = std::fs::read_to_string(&baselines)
        .unwrap()
        .lines()
        .find(|l| l.contains("\"container\":\"api\""))
        .unwrap()
        .to_string();
    assert!(
        api_line.contains("\"locked_at\":\"2026-11-04T12:00:00Z\",\"locked_by\":\"user\""),
        "{api_line}"
    );
    assert_eq!(outside(&baselines), (1, vec!["/usr/bin/curl".into()]));
    // Selecting nothing is an error, and the file is left alone.
    let before = std::fs::read_to_string(&baselines).unwrap();
    let none = palisade(&["baseline", "lock", b, "--workload", "no-such-workload"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(text(&none.stderr).contains("no baseline matches the selection"));
    assert_eq!(std::fs::read_to_string(&baselines).unwrap(), before);
}

#[test]
fn malformed_baseline_files_are_errors_naming_the_file_and_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str)] = &[
        (
            "{\"kind\":\"baseline\",\"workload\":\"w\",\"container\":\"c\"}\n{\"kind\":\"baseline\",\"workload\":\"w\",\"container\":\"d\",\"lockd\":true}\n",
            "bad.jsonl: record 2: unknown field `lockd`",
        ),
        (
            "{\"kind\":\"baseline\",\"workload\":\"w\",\"container\":\"c\",\"processes\":[\"/a\"",
            "bad.jsonl:1:",
        ),
        (
            "{\"kind\":\"deployment\",\"id\":\"d\"}",
            "bad.jsonl: record 1: a `deployment` record, not a baseline",
        ),
        (
            "{\"kind\":\"baseline\",\"container\":\"c\",\"locked\":true}",
            "bad.jsonl: record 1: //c: a baseline needs a `workload` or a `deployment_id`",
        ),
        (
            "{\"kind\":\"baseline\",\"workload\":\"w\",\"container\":\"c\",\"locked\":\"yes\"}",
            "bad.jsonl: record 1: invalid type",
        ),
        (
            &format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000)),
            "bad.jsonl:1:",
        ),
        ("\u{0}\u{0}", "bad.jsonl:1:1:"),
    ];
    for (content, expected) in cases {
        let path = dir.path().join("bad.jsonl");
        std::fs::write(&path, content).unwrap();
        for args in [
            vec![
                "check",
                "--policies",
                POLICY,
                "--baselines",
                "bad.jsonl",
                "--input",
                RUNTIME,
            ],
            vec![
                "baseline",
                "learn",
                "--input",
                RUNTIME,
                "--baselines",
                "bad.jsonl",
            ],
            vec!["baseline", "export", "bad.jsonl", "--format", "falco"],
            vec!["baseline", "lock", "bad.jsonl"],
        ] {
            let args: Vec<String> = args
                .iter()
                .map(|a| {
                    if a.starts_with("examples") || a.starts_with("policies") {
                        root().join(a).display().to_string()
                    } else {
                        a.to_string()
                    }
                })
                .collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let run = palisade_in(dir.path(), &args);
            let stderr = text(&run.stderr);
            assert_eq!(run.status.code(), Some(2), "{args:?}: {stderr}");
            assert!(
                stderr.contains(expected),
                "{args:?}: expected {expected:?} in {stderr}"
            );
            assert!(
                run.stdout.is_empty(),
                "{args:?} wrote {}",
                text(&run.stdout)
            );
            assert!(!stderr.contains("panicked"));
        }
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            *content,
            "a failed edit leaves the file alone"
        );
    }
}

#[test]
fn bad_events_are_counted_and_reported_not_learned() {
    let dir = tempfile::tempdir().unwrap();
    let events = [
        r#"{"kind":"process","id":"ok","time":"2026-11-02T08:00:00Z","namespace":"shop","pod":"api-x2x9z","container":"main","exec_path":"/app/server"}"#,
        r#"{"kind":"process","id":"no-container","time":"2026-11-02T08:00:00Z","namespace":"shop","pod":"api-x2x9z","exec_path":"/bin/sh"}"#,
        r#"{"kind":"process","id":"no-path","time":"2026-11-02T08:00:00Z","namespace":"shop","pod":"api-x2x9z","container":"main","name":"sh"}"#,
        r#"{"kind":"process","id":"bad-time","time":"yesterday","namespace":"shop","pod":"api-x2x9z","container":"main","exec_path":"/bin/bash"}"#,
        r#"{"kind":"process","id":"no-time","namespace":"shop","pod":"api-x2x9z","container":"main","exec_path":"/bin/dash"}"#,
        r#"{"kind":"process","id":"bad-path","time":"2026-11-02T08:00:00Z","pod":"api-x2x9z","container":"main","exec_path":["/bin/ash"]}"#,
        r#"{"kind":"proces","id":"typo","time":"2026-11-02T08:00:00Z","pod":"api-x2x9z","container":"main","exec_path":"/bin/zsh"}"#,
        r#"{"kind":"deployment","id":"d1","name":"api","namespace":"shop"}"#,
    ];
    let path = dir.path().join("events.jsonl");
    std::fs::write(&path, events.join("\n")).unwrap();
    let run = palisade(&[
        "baseline",
        "learn",
        "--input",
        path.to_str().unwrap(),
        "--report",
        dir.path().join("report.json").to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    let stderr = text(&run.stderr).replace(path.to_str().unwrap(), "events.jsonl");
    golden("baseline-learn-bad.txt", &stderr);
    let baselines = text(&run.stdout);
    assert!(
        baselines.contains("\"processes\":[\"/app/server\"]"),
        "{baselines}"
    );
    for never in ["/bin/sh", "/bin/bash", "/bin/dash", "/bin/ash", "/bin/zsh"] {
        assert!(!baselines.contains(never), "{never} learned: {baselines}");
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["events"], 1);
    assert_eq!(
        report["bad"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum::<u64>(),
        6
    );
}

#[test]
fn bad_flags_are_refused() {
    for (flag, value) in [
        ("--window", "0s"),
        ("--window", "forever"),
        ("--startup", "1.5s"),
        ("--window", "20000d"),
    ] {
        let run = palisade(&["baseline", "learn", "--input", LEARN, flag, value]);
        assert_eq!(
            run.status.code(),
            Some(2),
            "{flag} {value}: {}",
            text(&run.stderr)
        );
        assert!(run.stdout.is_empty());
    }
}

#[test]
fn export_writes_tetragon_and_falco_and_exits_1_for_a_baseline_it_cannot_scope() {
    let dir = tempfile::tempdir().unwrap();
    let baselines = learned(dir.path());
    let b = baselines.to_str().unwrap();
    // The sample trace is records without pod labels: Falco scopes by pod name, Tetragon
    // cannot scope at all and says so.
    let falco = palisade(&["baseline", "export", b, "--format", "falco"]);
    assert_eq!(falco.status.code(), Some(0), "{}", text(&falco.stderr));
    golden("baseline-export-falco.yaml", &text(&falco.stdout));
    let tetragon = palisade(&["baseline", "export", b, "--format", "tetragon"]);
    assert_eq!(tetragon.status.code(), Some(1));
    assert!(
        text(&tetragon.stderr)
            .contains("cannot export eu-west-1/shop/payments-api/api: no pod labels known")
    );
    // With labels added to the file, every baseline exports.
    let labelled: String = std::fs::read_to_string(&baselines)
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let workload = v["workload"].clone();
            v["pod_labels"] = serde_json::json!({"app.kubernetes.io/name": workload});
            v.to_string() + "\n"
        })
        .collect();
    std::fs::write(&baselines, labelled).unwrap();
    let out = dir.path().join("tetragon.yaml");
    let tetragon = palisade(&[
        "baseline",
        "export",
        b,
        "--format",
        "tetragon",
        "--enforce",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        tetragon.status.code(),
        Some(0),
        "{}",
        text(&tetragon.stderr)
    );
    golden(
        "baseline-export-tetragon.yaml",
        &std::fs::read_to_string(&out).unwrap(),
    );
}

#[test]
fn the_corpus_runtime_events_learn_into_baselines() {
    let Some(corpus) = palisade_testdata::shared(
        "corpus",
        "learning baselines from the Falco and Tetragon corpus",
    ) else {
        return;
    };
    let run = palisade_in(
        &corpus,
        &["baseline", "learn", "--input", "tetragon", "falco"],
    );
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    golden("baseline-corpus.jsonl", &text(&run.stdout));
    golden("baseline-corpus.txt", &text(&run.stderr));
}

/// `baseline learn` with `PALISADE_THREADS` threads (and a report file).
fn learn_with_threads(
    input: &Path,
    threads: &str,
    dir: &Path,
) -> (Option<i32>, String, String, String) {
    let report = dir.join(format!("report-{threads}.json"));
    let run = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["baseline", "learn", "--input"])
        .arg(input)
        .arg("--report")
        .arg(&report)
        .env("PALISADE_THREADS", threads)
        .env("NO_COLOR", "1")
        .output()
        .expect("run palisade");
    (
        run.status.code(),
        text(&run.stdout),
        text(&run.stderr),
        std::fs::read_to_string(&report).unwrap_or_default(),
    )
}

/// A large input is learned by several threads, each from a piece of it; the baselines,
/// the summary (bad events with their lines, paths outside locked baselines) and the
/// report are byte for byte those of one thread, also when the input stops being JSON
/// Lines half way (then it is read again by one thread).
#[test]
fn learning_in_pieces_gives_what_one_thread_gives() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    let total = 60_000;
    for i in 0..total {
        let w = i % 300;
        let time = palisade_engine::record::Timestamp(1_790_000_000 + i as i64)
            .rfc3339()
            .unwrap();
        let path = if i % 997 == 0 {
            format!("/tmp/new{}", i % 7)
        } else {
            format!("/usr/bin/tool{}", (w * 7 + i % 5) % 40)
        };
        lines.push(match i {
            // Bad events in the second half only: their lines in the summary come from
            // the second piece's numbering.
            _ if i > total / 2 && i % 4_001 == 0 => format!(
                r#"{{"kind":"process","id":"e{i}","time":"{time}","namespace":"ns","pod":"app{w}-x2x9z","exec_path":"{path}"}}"#
            ),
            _ if i % 10_007 == 0 => format!(r#"{{"kind":"deployment","id":"d{i}","name":"app{w}"}}"#),
            _ if i % 5_003 == 0 => String::new(),
            _ => format!(
                r#"{{"kind":"process","id":"e{i}","time":"{time}","namespace":"ns","pod":"app{w}-7d4b9c5f6-x2x9z","container":"c{}","exec_path":"{path}"}}"#,
                i % 2
            ),
        });
    }
    let lines_file = dir.path().join("events.jsonl");
    std::fs::write(&lines_file, lines.join("\n") + "\n").unwrap();
    assert!(
        std::fs::metadata(&lines_file).unwrap().len() > 8 << 20,
        "large enough to cut"
    );
    let one = learn_with_threads(&lines_file, "1", dir.path());
    assert_eq!(one.0, Some(1), "{}", one.2);
    assert!(
        one.2.contains("events not learned from: 7 no container"),
        "{}",
        one.2
    );
    assert!(
        one.2
            .contains(&format!("events.jsonl:{}: no container", 32_009)),
        "{}",
        one.2
    );
    assert!(one.2.contains("outside locked baseline"), "{}", one.2);
    assert!(
        one.2.contains("not process events, ignored: 6 deployment"),
        "{}",
        one.2
    );
    for threads in ["2", "3"] {
        assert_eq!(
            learn_with_threads(&lines_file, threads, dir.path()),
            one,
            "{threads} threads"
        );
    }
    // Half way, an object over several lines: not JSON Lines from there.
    let middle = lines.len() / 2;
    let pretty = serde_json::to_string_pretty(
        &serde_json::from_str::<serde_json::Value>(&lines[middle + 1]).unwrap(),
    )
    .unwrap();
    lines[middle + 1] = pretty;
    let mixed_file = dir.path().join("mixed.jsonl");
    std::fs::write(&mixed_file, lines.join("\n") + "\n").unwrap();
    let one = learn_with_threads(&mixed_file, "1", dir.path());
    assert_eq!(one.0, Some(1), "{}", one.2);
    assert_eq!(learn_with_threads(&mixed_file, "2", dir.path()), one);
    let refused = learn_with_threads(&lines_file, "0", dir.path());
    assert_eq!(refused.0, Some(2));
    assert!(
        refused
            .2
            .contains("PALISADE_THREADS must be a number of threads"),
        "{}",
        refused.2
    );
}

/// `check --baselines` with `PALISADE_THREADS` threads: exit code, stdout, stderr.
fn check_with_threads(
    input: &Path,
    baselines: &Path,
    threads: &str,
) -> (Option<i32>, String, String) {
    let run = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .current_dir(root())
        .args([
            "check",
            "--policies",
            POLICY,
            "--format",
            "json",
            "--baselines",
        ])
        .arg(baselines)
        .arg("--input")
        .arg(input)
        .env("PALISADE_THREADS", threads)
        .env("PALISADE_NOW", "2026-11-04T12:00:00Z")
        .env("NO_COLOR", "1")
        .output()
        .expect("run palisade");
    (run.status.code(), text(&run.stdout), text(&run.stderr))
}

/// `check` reads the context of a large input (deployments, baselines) with several
/// threads: the output is byte for byte that of one thread, and so are the errors of a
/// duplicate deployment and of a malformed record in the second half.
#[test]
fn checking_in_pieces_gives_what_one_thread_gives() {
    let dir = tempfile::tempdir().unwrap();
    let baselines = dir.path().join("baselines.jsonl");
    let mut lines = Vec::new();
    for w in 0..300 {
        lines.push(format!(
            r#"{{"kind":"baseline","namespace":"ns","workload":"app{w}","container":"c0","processes":["/usr/bin/tool{}"],"locked":true}}"#,
            w % 40
        ));
    }
    std::fs::write(&baselines, lines.join("\n") + "\n").unwrap();
    lines.clear();
    let total = 60_000;
    for i in 0..total {
        let w = i % 330;
        lines.push(if i % 9_001 == 0 {
            // Deployments in both halves: processes of app{w} join them.
            format!(r#"{{"kind":"deployment","id":"d{w}","name":"app{w}","namespace":"ns","containers":[{{"name":"c0","image":{{"name":{{"full_name":"nginx:1"}}}}}}]}}"#)
        } else {
            format!(
                r#"{{"kind":"process","id":"e{i}","time":"2026-11-04T10:00:00Z","namespace":"ns","deployment_id":"d{w}","pod":"app{w}-7d4b9c5f6-x2x9z","container":"c0","name":"tool","exec_path":"/usr/bin/tool{}"}}"#,
                (w + i) % 41
            )
        });
    }
    let input = dir.path().join("events.jsonl");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    assert!(
        std::fs::metadata(&input).unwrap().len() > 8 << 20,
        "large enough to cut"
    );
    let one = check_with_threads(&input, &baselines, "1");
    assert_eq!(one.0, Some(0), "{}", one.2);
    let report: serde_json::Value = serde_json::from_str(&one.1).unwrap();
    let violations = report["violations"].as_array().unwrap().len();
    assert!(violations > 1000, "{violations} violations");
    assert_eq!(report["summary"]["records_by_kind"]["deployment"], 7);
    assert_eq!(check_with_threads(&input, &baselines, "2"), one);
    // A deployment again in the second half; then a malformed record there.
    let again = lines[9_001].clone();
    lines[50_000] = again;
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let one = check_with_threads(&input, &baselines, "1");
    assert_eq!(one.0, Some(2));
    assert!(one.2.contains("duplicate deployment id `d91`"), "{}", one.2);
    assert_eq!(check_with_threads(&input, &baselines, "2"), one);
    lines[40_000] = r#"{"kind":"process","id":"bad","time":"noon"}"#.into();
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let one = check_with_threads(&input, &baselines, "1");
    assert_eq!(one.0, Some(2));
    assert!(one.2.contains("invalid timestamp `noon`"), "{}", one.2);
    assert_eq!(check_with_threads(&input, &baselines, "2"), one);
}
