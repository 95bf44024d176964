//! The wasmtime-hosted plugin against the native engine: byte-for-byte parity (in one call
//! and in parts on several instances at once) on the
//! examples, the public conformance cases and the corpus (when ../shared is present), and
//! the fault paths (trap, deadline, memory cap, bad requests) that must fail one call only.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // test helpers fail loudly

use palisade_api::{CheckRequest, CompileRequest, SourceText, check_with, compile_policies};
use palisade_host::{HostError, Limits, Plugin, Pool};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const NOW: &str = "2026-11-26T12:00:00Z";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every file under `dir`, sorted (none when it does not exist).
fn walk(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(walkdir::DirEntry::into_path)
        .collect()
}

fn source(p: &Path) -> SourceText {
    SourceText {
        name: p.display().to_string(),
        text: std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    }
}

fn plugin() -> Arc<Plugin> {
    Plugin::embedded().unwrap_or_else(|e| panic!("{e}"))
}

/// A policy set compiled natively, and the same set loaded into the plugin.
struct Both {
    native: palisade_engine::Matcher,
    pool: Pool,
}

fn both(compile: CompileRequest, limits: Limits) -> Both {
    let compiled = compile_policies(&compile).unwrap_or_else(|v| panic!("{v}"));
    let bundle = palisade_engine::bundle::write_bundle(compiled.matcher.program());
    let pool = Pool::new(plugin(), bundle, limits).unwrap_or_else(|e| panic!("{e}"));
    Both {
        native: compiled.matcher,
        pool,
    }
}

/// How a request is run (the CLI's flags).
#[derive(Clone, Copy)]
struct Flags<'a> {
    all: bool,
    lifecycle: Option<&'a str>,
    now: &'a str,
    explain: bool,
}

const LIBRARY_FLAGS: Flags<'static> = Flags {
    all: true,
    lifecycle: None,
    now: NOW,
    explain: false,
};
const PLAIN: Flags<'static> = Flags {
    all: false,
    lifecycle: None,
    now: NOW,
    explain: false,
};

impl Both {
    /// Compares one request; returns 1.
    fn compare(&self, label: &Path, inputs: Vec<SourceText>, flags: Flags<'_>) -> usize {
        let request = json!({
            "inputs": inputs.iter().map(|i| json!({"name": i.name, "text": i.text})).collect::<Vec<_>>(),
            "all": flags.all, "lifecycle": flags.lifecycle, "now": flags.now, "explain": flags.explain,
        });
        let req: CheckRequest =
            serde_json::from_value(request.clone()).unwrap_or_else(|e| panic!("{e}"));
        let native = check_with(&self.native, &req).unwrap_or_else(|v| v.to_string());
        let hosted = self
            .pool
            .check(&request.to_string())
            .unwrap_or_else(|e| panic!("{}: {e}", label.display()));
        assert_eq!(
            hosted,
            native,
            "{}: hosted plugin and native engine differ",
            label.display()
        );
        // In parts on several instances at once, merged: the same bytes.
        for parts in [2, 3] {
            let merged = self
                .pool
                .check_parts(&request.to_string(), parts)
                .unwrap_or_else(|e| panic!("{} in {parts} parts: {e}", label.display()));
            assert!(
                merged == native,
                "{}: in {parts} parts the hosted plugin differs from the native engine",
                label.display()
            );
        }
        1
    }
}

#[test]
fn hosted_plugin_matches_the_native_engine() {
    let root = root();
    let mut compared = 0;
    let examples = both(
        CompileRequest {
            policies: walk(&root.join("examples/policies"))
                .iter()
                .map(|p| source(p))
                .collect(),
            builtin: false,
            config: None,
        },
        Limits::default(),
    );
    let library = both(
        CompileRequest {
            policies: vec![],
            builtin: true,
            config: None,
        },
        Limits::default(),
    );
    for input in walk(&root.join("examples/records")) {
        compared += examples.compare(&input, vec![source(&input)], PLAIN);
        compared += examples.compare(
            &input,
            vec![source(&input)],
            Flags {
                explain: true,
                ..PLAIN
            },
        );
        compared += library.compare(&input, vec![source(&input)], LIBRARY_FLAGS);
    }
    for input in walk(&root.join("adapters/tests/samples"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e != "md"))
    {
        compared += library.compare(&input, vec![source(&input)], LIBRARY_FLAGS);
    }
    let cases = palisade_testdata::shared(
        "conformance/cases",
        "hosted plugin == native engine over the conformance cases",
    );
    let mut case_dirs: Vec<PathBuf> = cases
        .and_then(|c| std::fs::read_dir(c).ok())
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    case_dirs.sort();
    for dir in &case_dirs {
        let expect: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("expect.json")).unwrap_or_default(),
        )
        .unwrap_or_default();
        let flags = Flags {
            lifecycle: expect["lifecycle"].as_str(),
            now: expect["now"].as_str().unwrap_or(NOW),
            ..LIBRARY_FLAGS
        };
        let input = vec![source(&dir.join("input.json"))];
        if expect["policies"] == "custom" {
            let policies = expect["custom_policies"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
                .map(|(i, p)| SourceText {
                    name: format!("{i:02}.json"),
                    text: p.to_string(),
                })
                .collect();
            let custom = both(
                CompileRequest {
                    policies,
                    builtin: false,
                    config: None,
                },
                Limits::default(),
            );
            compared += custom.compare(dir, input, flags);
        } else {
            compared += library.compare(dir, input, flags);
        }
    }
    let corpus =
        palisade_testdata::shared("corpus", "hosted plugin == native engine over the corpus")
            .map(|c| walk(&c))
            .unwrap_or_default();
    for input in corpus
        .iter()
        .filter(|p| p.extension().is_none_or(|e| e != "md"))
    {
        let Ok(text) = std::fs::read_to_string(input) else {
            continue;
        };
        let src = SourceText {
            name: input.display().to_string(),
            text,
        };
        compared += library.compare(input, vec![src], LIBRARY_FLAGS);
    }
    let expected_min = if case_dirs.is_empty() { 10 } else { 100 };
    assert!(compared >= expected_min, "only {compared} comparisons");
    eprintln!("parity: {compared} requests identical (hosted plugin vs native engine)");
}

fn deployments(n: usize, privileged: bool) -> String {
    let records: Vec<Value> = (0..n)
        .map(|i| json!({"kind": "deployment", "id": format!("d{i}"), "name": format!("d{i}"), "namespace": "ns",
            "containers": [{"name": "c", "image": {"name": {"full_name": "nginx:1.25"}}, "security_context": {"privileged": privileged}}]}))
        .collect();
    serde_json::to_string(&records).unwrap_or_default()
}

fn request(records: &str) -> String {
    json!({"inputs": [{"name": "r.json", "text": records}], "now": NOW}).to_string()
}

const PRIVILEGED: &str =
    "policy \"priv\" { severity high lifecycle deploy soc2 CC6.1 when container.privileged }";

fn privileged_pool(limits: Limits) -> Pool {
    both(
        CompileRequest {
            policies: vec![SourceText {
                name: "p.pal".into(),
                text: PRIVILEGED.into(),
            }],
            builtin: false,
            config: None,
        },
        limits,
    )
    .pool
}

fn violations(out: &str) -> u64 {
    let v: Value = serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"));
    v["summary"]["violations"]
        .as_u64()
        .unwrap_or_else(|| panic!("no summary: {out}"))
}

#[test]
fn a_trap_fails_that_call_only() {
    let pool = privileged_pool(Limits::default());
    assert_eq!(
        violations(
            &pool
                .check(&request(&deployments(2, true)))
                .unwrap_or_default()
        ),
        2
    );
    let err = pool.force_trap();
    assert!(matches!(err, HostError::Trap(_)), "{err}");
    assert!(err.is_trap());
    assert!(err.to_string().contains("unreachable"), "{err}");
    for _ in 0..3 {
        assert_eq!(
            violations(
                &pool
                    .check(&request(&deployments(3, true)))
                    .unwrap_or_default()
            ),
            3
        );
    }
}

#[test]
fn the_deadline_interrupts_a_long_call_and_the_next_call_succeeds() {
    let pool = privileged_pool(Limits {
        deadline: Duration::from_millis(20),
        ..Limits::default()
    });
    let big = request(&deployments(100_000, true));
    let err = pool
        .check(&big)
        .err()
        .unwrap_or_else(|| panic!("100,000 deployments in 20 ms"));
    assert!(matches!(err, HostError::Deadline(_)), "{err}");
    // Any number of parts is bounded by the pool's idle instances, not one instance each.
    let one = request(&deployments(3, true));
    for parts in [0, 1, 1_000_000, usize::MAX] {
        assert_eq!(
            pool.check_parts(&one, parts).ok(),
            pool.check(&one).ok(),
            "{parts} parts"
        );
    }
    assert!(pool.idle() <= Limits::default().max_idle);
    let err = pool
        .check_parts(&big, 2)
        .err()
        .unwrap_or_else(|| panic!("100,000 deployments in two parts in 20 ms"));
    assert!(matches!(err, HostError::Deadline(_)), "{err}");
    assert_eq!(
        violations(
            &pool
                .check(&request(&deployments(1, true)))
                .unwrap_or_default()
        ),
        1
    );
}

#[test]
fn the_memory_cap_fails_a_greedy_call_and_the_next_call_succeeds() {
    let pool = privileged_pool(Limits {
        memory_bytes: 48 << 20,
        ..Limits::default()
    });
    let big = request(&deployments(120_000, false));
    assert!(big.len() > 16 << 20);
    let err = pool
        .check(&big)
        .err()
        .unwrap_or_else(|| panic!("a {} byte request within 48 MiB", big.len()));
    assert!(matches!(err, HostError::Memory(_)), "{err}");
    assert_eq!(
        violations(
            &pool
                .check(&request(&deployments(2, false)))
                .unwrap_or_default()
        ),
        0
    );
}

#[test]
fn bad_requests_and_bundles_are_errors_not_traps() {
    let pool = privileged_pool(Limits::default());
    for bad in [
        "{",
        "[]",
        r#"{"inputs": [{"name": "x.json", "text": "{\"kind\": \"deploym"}], "now": "2026-01-01T00:00:00Z"}"#,
        r#"{"inputs": [], "now": "yesterday"}"#,
    ] {
        let out = pool.check(bad).unwrap_or_else(|e| panic!("{bad}: {e}"));
        let v: Value = serde_json::from_str(&out).unwrap_or_default();
        assert!(v["error"]["message"].is_string(), "{bad}: {out}");
    }
    let refused = Pool::new(plugin(), "{\"format\": \"nope\"}".into(), Limits::default()).err();
    assert!(matches!(refused, Some(HostError::Bundle(_))), "{refused:?}");
    assert!(matches!(
        Plugin::new(b"not wasm"),
        Err(HostError::Plugin(_))
    ));
}

#[test]
fn concurrent_callers_get_their_own_instances() {
    let pool = Arc::new(privileged_pool(Limits {
        max_idle: 3,
        ..Limits::default()
    }));
    pool.warm(8).unwrap();
    assert_eq!(pool.idle(), 3, "warm stops at max_idle");
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                for i in 0..10 {
                    let n = 1 + (t * 10 + i) % 7;
                    assert_eq!(
                        violations(
                            &pool
                                .check(&request(&deployments(n, true)))
                                .unwrap_or_default()
                        ),
                        n as u64
                    );
                }
            })
        })
        .collect();
    for t in threads {
        assert!(t.join().is_ok());
    }
    assert!(pool.idle() <= 3);
}

/// A plugin built before `palisade_check_part` existed (here: the embedded plugin with that
/// export renamed away) answers a request in parts with one whole call, the answer of
/// `check`, and never a part call it cannot make.
#[test]
fn a_plugin_without_the_part_export_answers_parts_in_one_call() {
    let export = b"palisade_check_part";
    let mut older = palisade_host::EMBEDDED_PLUGIN.to_vec();
    let mut renamed = 0;
    let mut at = 0;
    while let Some(found) = older[at..].windows(export.len()).position(|w| w == export) {
        let end = at + found + export.len();
        // Same length, so every size in the module stays right; the name is unique still.
        older[end - 1] = b'X';
        renamed += 1;
        at = end;
    }
    assert!(
        renamed >= 1,
        "the embedded plugin exports palisade_check_part"
    );
    let older = Arc::new(Plugin::new(&older).unwrap_or_else(|e| panic!("{e}")));
    let compiled = compile_policies(&CompileRequest {
        policies: vec![SourceText {
            name: "p.pal".into(),
            text: PRIVILEGED.into(),
        }],
        builtin: false,
        config: None,
    })
    .unwrap_or_else(|v| panic!("{v}"));
    let bundle = palisade_engine::bundle::write_bundle(compiled.matcher.program());
    let pool =
        Pool::new(older, bundle.clone(), Limits::default()).unwrap_or_else(|e| panic!("{e}"));
    let current = Pool::new(plugin(), bundle, Limits::default()).unwrap_or_else(|e| panic!("{e}"));
    let req = request(&deployments(40, true));
    let whole = pool.check(&req).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(violations(&whole), 40);
    for parts in [2, 3, 8] {
        let answer = pool.check_parts(&req, parts);
        assert_eq!(
            answer.as_ref().ok(),
            Some(&whole),
            "{parts} parts: {answer:?}"
        );
        // The current plugin splits it, with the same answer.
        assert_eq!(current.check_parts(&req, parts).ok(), Some(whole.clone()));
    }
}
