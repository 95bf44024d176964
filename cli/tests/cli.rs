#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly on broken fixtures"
)]
//! End-to-end tests of the `palisade` binary: golden output for the examples, exit codes,
//! and bad input that must end with exit 2, a position, and nothing on stdout.
//! Set `BLESS=1` to rewrite the golden files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const NOW: &str = "2026-11-26T12:00:00Z";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn palisade(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .current_dir(root())
        .env("PALISADE_NOW", NOW)
        .env("NO_COLOR", "1")
        .output()
        .expect("run palisade")
}

fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, actual).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        expected, actual,
        "golden file {name} differs (BLESS=1 to update)"
    );
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn examples_json_output_is_golden() {
    for (input, code) in [
        ("deployments.json", 1),
        ("events.jsonl", 1),
        ("clean.json", 0),
    ] {
        let o = palisade(&[
            "check",
            "--policies",
            "examples/policies",
            "--input",
            &format!("examples/records/{input}"),
            "--format",
            "json",
        ]);
        assert_eq!(o.status.code(), Some(code), "{input}: {}", stderr(&o));
        let out = stdout(&o);
        let parsed: serde_json::Value = serde_json::from_str(&out).expect("stdout is JSON");
        assert_eq!(parsed["version"], 1);
        golden(&format!("{input}.out.json"), &out);
    }
}

#[test]
fn every_example_policy_fires_where_it_should_and_nowhere_else() {
    let mut fired = Vec::new();
    for input in ["deployments.json", "events.jsonl", "clean.json"] {
        let o = palisade(&[
            "check",
            "--policies",
            "examples/policies",
            "--input",
            &format!("examples/records/{input}"),
            "--format",
            "json",
        ]);
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
        for x in v["violations"].as_array().expect("violations") {
            fired.push(format!(
                "{} @ {}",
                x["policy"].as_str().unwrap_or(""),
                x["record"]["id"].as_str().unwrap_or("")
            ));
        }
    }
    fired.sort();
    let expected = [
        "Docker socket mounted @ dep-socket",
        "Exec into a pod @ audit-exec-1",
        "Fixable CVSS >= 7 @ dep-cve",
        "Fixable CVSS >= 7 @ sha256:billing410",
        "Latest tag @ dep-latest",
        "Privileged Container @ dep-privileged",
        "Secret in environment variable @ dep-secret",
        "Shell spawned in a container @ proc-shell",
    ];
    assert_eq!(fired, expected);
}

#[test]
fn text_output_and_explain_are_golden() {
    let o = palisade(&[
        "check",
        "--policies",
        "examples/policies",
        "--input",
        "examples/records/deployments.json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    golden("deployments.out.txt", &stdout(&o));
    let o = palisade(&[
        "check",
        "--policies",
        "examples/policies",
        "--input",
        "examples/records/clean.json",
        "--explain",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0));
    golden("clean.explain.json", &stdout(&o));
}

#[test]
fn ir_listing_is_golden() {
    let o = palisade(&["compile", "examples/policies", "--emit", "ir"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    golden("examples.ir.txt", &stdout(&o));
}

/// Compiles the example policies into a bundle in a fresh directory: (directory, bundle).
fn compile_examples_bundle(test: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("palisade-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let bundle = dir.join("examples.bundle.json");
    let o = palisade(&[
        "compile",
        "examples/policies",
        "-o",
        bundle.to_str().unwrap_or_default(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    (dir, bundle)
}

#[test]
fn rust_modules_embed_the_bundle_and_a_function_per_rule() {
    let o = palisade(&["compile", "examples/policies", "--emit", "rust"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let module = stdout(&o);
    assert!(module.starts_with("// Generated by palisade_engine::codegen"));
    assert!(module.contains("pub struct Policies"));
    let (dir, bundle) = compile_examples_bundle("rust");
    let bundle = std::fs::read_to_string(&bundle).expect("bundle");
    assert!(module.contains(&format!("pub const BUNDLE: &str = r#\"{bundle}\"#;")));
    let rules = palisade_engine::bundle::load_bundle(&bundle)
        .expect("load")
        .program()
        .rules
        .len();
    assert!(rules > 5, "{rules} rules");
    assert_eq!(module.matches("\nfn rule_").count(), rules);
    assert!(module.contains(&format!("\nfn rule_{}<'r>", rules - 1)));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bundles_give_the_same_verdicts_as_source() {
    let (dir, bundle) = compile_examples_bundle("bundle");
    for input in ["deployments.json", "events.jsonl"] {
        let path = format!("examples/records/{input}");
        let from_source = palisade(&[
            "check",
            "--policies",
            "examples/policies",
            "--input",
            &path,
            "--format",
            "json",
        ]);
        let from_bundle = palisade(&[
            "check",
            "--bundle",
            bundle.to_str().unwrap_or_default(),
            "--input",
            &path,
            "--format",
            "json",
        ]);
        assert_eq!(stdout(&from_source), stdout(&from_bundle));
        assert_eq!(from_source.status.code(), from_bundle.status.code());
    }
    // A damaged bundle is refused with a clear error.
    let text = std::fs::read_to_string(&bundle).expect("bundle");
    let damaged = dir.join("damaged.json");
    std::fs::write(
        &damaged,
        text.replacen("\"entry\":", "\"entry\":99999999,\"x\":", 1),
    )
    .expect("write");
    let o = palisade(&[
        "check",
        "--bundle",
        damaged.to_str().unwrap_or_default(),
        "--input",
        "examples/records/clean.json",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("invalid bundle") || stderr(&o).contains("not a palisade bundle"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fail_on_sets_the_exit_code() {
    let input = "examples/records/deployments.json";
    let o = palisade(&[
        "check",
        "--policies",
        "examples/policies",
        "--input",
        input,
        "--fail-on",
        "critical",
    ]);
    assert_eq!(o.status.code(), Some(1), "docker socket is critical");
    let o = palisade(&[
        "check",
        "--policies",
        "examples/policies",
        "--input",
        "examples/records/events.jsonl",
        "--fail-on",
        "critical",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "no critical violation among the events"
    );
    let o = palisade(&[
        "check",
        "--policies",
        "examples/policies",
        "--input",
        input,
        "--lifecycle",
        "build",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    let ids: Vec<&str> = v["violations"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|x| x["record"]["id"].as_str())
        .collect();
    assert_eq!(ids, ["sha256:billing410"]);
    assert_eq!(o.status.code(), Some(1), "fail_build enforces at build");
}

#[test]
fn sarif_and_junit_outputs_parse() {
    let o = palisade(&[
        "check",
        "--policies",
        "examples/policies",
        "--input",
        "examples/records/deployments.json",
        "--format",
        "sarif",
    ]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("sarif is json");
    assert_eq!(v["version"], "2.1.0");
    assert_eq!(v["runs"][0]["results"].as_array().map(|a| a.len()), Some(6));
    let o = palisade(&[
        "check",
        "--policies",
        "examples/policies",
        "--input",
        "examples/records/deployments.json",
        "--format",
        "junit",
    ]);
    let xml = stdout(&o);
    assert!(
        xml.starts_with("<?xml") && xml.contains("failures=\"6\""),
        "{xml}"
    );
}

/// Bad input: exit 2, a message naming the file (and line:col where there is one), empty stdout.
#[test]
fn bad_input_exits_2_with_a_position() {
    let bad = "cli/tests/bad";
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "check",
                "--policies",
                "examples/policies",
                "--input",
                "cli/tests/bad/truncated.json",
            ],
            "truncated.json:1:",
        ),
        (
            &[
                "check",
                "--policies",
                "examples/policies",
                "--input",
                "cli/tests/bad/malformed.jsonl",
            ],
            "malformed.jsonl:2:",
        ),
        (
            &[
                "check",
                "--policies",
                "examples/policies",
                "--input",
                "cli/tests/bad/unknown_kind.json",
            ],
            "unknown record kind `pod`",
        ),
        (
            &[
                "check",
                "--policies",
                "examples/policies",
                "--input",
                "cli/tests/bad/bad_time.json",
            ],
            "invalid timestamp",
        ),
        (
            &[
                "check",
                "--policies",
                "examples/policies",
                "--input",
                "cli/tests/bad/missing.json",
            ],
            "missing.json: cannot read",
        ),
        (
            &[
                "check",
                "--policies",
                "examples/policies",
                "--input",
                "cli/tests/bad/empty.json",
            ],
            "empty input",
        ),
        (
            &[
                "check",
                "--policies",
                "examples/policies",
                "--input",
                "cli/tests/bad/duplicate_ids.json",
            ],
            "duplicate deployment id",
        ),
        (
            &[
                "check",
                "--policies",
                "cli/tests/bad/several_errors.pal",
                "--input",
                "examples/records/clean.json",
            ],
            "several_errors.pal:5:",
        ),
        (
            &[
                "check",
                "--policies",
                "cli/tests/bad/pathological_regex.pal",
                "--input",
                "examples/records/clean.json",
            ],
            "pathological_regex.pal:5:",
        ),
        (
            &[
                "check",
                "--policies",
                "cli/tests/bad/deep.pal",
                "--input",
                "examples/records/clean.json",
            ],
            "deep.pal:5:",
        ),
        (
            &[
                "check",
                "--policies",
                "cli/tests/bad/nope.pal",
                "--input",
                "examples/records/clean.json",
            ],
            "nope.pal: cannot read",
        ),
        (
            &[
                "check",
                "--policies",
                "examples/policies",
                "--input",
                "examples/records/clean.json",
                "--format",
                "yaml",
            ],
            "invalid value 'yaml'",
        ),
    ];
    for (args, needle) in cases {
        let o = palisade(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(needle),
            "{args:?}: stderr lacks {needle:?}:\n{}",
            stderr(&o)
        );
        assert!(
            stdout(&o).is_empty(),
            "{args:?}: stdout must be empty, got {}",
            stdout(&o)
        );
    }
    let _ = bad;
    // Several errors in one file: every one is reported.
    let o = palisade(&["compile", "cli/tests/bad/several_errors.pal"]);
    let err = stderr(&o);
    for pos in [
        "several_errors.pal:5:8",
        "several_errors.pal:5:42",
        "several_errors.pal:6:26",
    ] {
        assert!(err.contains(pos), "missing {pos} in:\n{err}");
    }
    assert!(err.contains("3 errors"), "{err}");
}

#[test]
fn diagnostics_as_json() {
    let o = palisade(&[
        "compile",
        "cli/tests/bad/several_errors.pal",
        "--diagnostics",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_str(stderr(&o).trim()).expect("json diagnostics");
    let first = &v["diagnostics"][0];
    assert_eq!(first["line"], 5);
    assert_eq!(first["column"], 8);
    assert_eq!(first["message"], "unknown name `contaner`");
    assert_eq!(first["help"], "did you mean `container`?");
    assert!(
        first["file"]
            .as_str()
            .is_some_and(|f| f.ends_with("several_errors.pal"))
    );
}

#[test]
fn stdin_and_json_lines() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args([
            "check",
            "--policies",
            "examples/policies",
            "--input",
            "-",
            "--format",
            "json",
        ])
        .current_dir(root())
        .env("PALISADE_NOW", NOW)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let input = std::fs::read(root().join("examples/records/events.jsonl")).expect("events");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&input)
        .expect("write");
    let o = child.wait_with_output().expect("wait");
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(v["summary"]["violations"], 2);
}

#[test]
fn fmt_check_and_test_command() {
    let o = palisade(&["fmt", "--check", "examples/policies"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = palisade(&["test", "examples/policies"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("0 failed"));
}

#[test]
fn stackrox_import_errors_name_file_policy_and_field() {
    let cases: &[(&str, &[&str])] = &[
        (
            "unknown_field.json",
            &[
                "unknown_field.json",
                "Privileged Container",
                "`Privileged Contaner`",
                "not a StackRox policy criterion",
            ],
        ),
        (
            "bad_comparator.json",
            &["bad_comparator.json", "`CVSS`", "invalid number `=> 7`"],
        ),
        (
            "bad_regex.json",
            &["bad_regex.json", "`Image Tag`", "invalid regex"],
        ),
        (
            "bad_version.json",
            &["bad_version.json", "policy version `2.0`"],
        ),
        (
            "not_a_policy.json",
            &["not_a_policy.json", "not a StackRox policy export"],
        ),
        (
            "file_path.json",
            &["file_path.json", "`File Path`", "file-access events"],
        ),
    ];
    for (file, needles) in cases {
        let path = format!("cli/tests/bad/stackrox/{file}");
        for args in [
            vec![
                "check",
                "--policies",
                path.as_str(),
                "--input",
                "examples/records/clean.json",
            ],
            vec!["import", "stackrox", path.as_str()],
        ] {
            let o = palisade(&args);
            assert_eq!(o.status.code(), Some(2), "{args:?}");
            assert!(stdout(&o).is_empty(), "{args:?}");
            for n in *needles {
                assert!(
                    stderr(&o).contains(n),
                    "{args:?}: stderr lacks {n:?}: {}",
                    stderr(&o)
                );
            }
        }
    }
}

#[test]
fn stackrox_json_policies_load_and_import_prints_source() {
    let o = palisade(&["import", "stackrox", "stackrox/defaults/latest_tag.json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    golden("import_latest_tag.pal", &stdout(&o));
    // A roxctl export ({"policies": [...]}) loads with --policies.
    let dir = std::env::temp_dir().join(format!("palisade-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let a: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("stackrox/defaults/privileged.json")).expect("read"),
    )
    .expect("json");
    let b: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("stackrox/defaults/latest_tag.json")).expect("read"),
    )
    .expect("json");
    let export = dir.join("export.json");
    std::fs::write(&export, serde_json::json!({"policies": [a, b]}).to_string()).expect("write");
    let o = palisade(&[
        "check",
        "--policies",
        export.to_str().unwrap_or_default(),
        "--input",
        "examples/records/deployments.json",
        "--format",
        "json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "neither policy enforces: {}",
        stderr(&o)
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    let mut got: Vec<String> = v["violations"]
        .as_array()
        .expect("list")
        .iter()
        .map(|x| {
            format!(
                "{} @ {}",
                x["policy"].as_str().unwrap_or(""),
                x["record"]["id"].as_str().unwrap_or("")
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            "Latest tag @ dep-latest",
            "Privileged Container @ dep-privileged"
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn builtin_library_lists_and_shows_policies() {
    let o = palisade(&["policies", "list", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("json");
    let rows = rows.as_array().expect("list");
    assert_eq!(rows.len(), 89);
    assert_eq!(
        rows.iter().filter(|r| r["enabled"] == false).count(),
        26,
        "StackRox ships 26 defaults disabled"
    );
    assert!(
        rows.iter()
            .all(|r| r["soc2"].as_array().is_some_and(|a| !a.is_empty())),
        "every policy names SOC 2 criteria"
    );
    let o = palisade(&["policies", "show", "Latest tag"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stdout(&o).starts_with("policy \"Latest tag\" {"),
        "{}",
        stdout(&o)
    );
    let o = palisade(&["policies", "show", "Latest tags"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("did you mean `Latest tag`?"),
        "{}",
        stderr(&o)
    );
    // --builtin evaluates enabled policies only; --all adds the disabled ones.
    let enabled = palisade(&[
        "check",
        "--builtin",
        "--input",
        "examples/records/deployments.json",
        "--format",
        "json",
    ]);
    let all = palisade(&[
        "check",
        "--builtin",
        "--all",
        "--input",
        "examples/records/deployments.json",
        "--format",
        "json",
    ]);
    let count = |o: &Output| {
        serde_json::from_str::<serde_json::Value>(&stdout(o)).expect("json")["summary"]["policies"]
            .as_u64()
    };
    assert_eq!(count(&enabled), Some(63));
    assert_eq!(count(&all), Some(89));
}
