#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly on broken fixtures"
)]
//! Regression tests for the defects an outside probe found (issue 14), one test per defect,
//! named `dNN_...` after its number. Each runs the `palisade` binary on a hostile input and
//! asserts the answer: a clear error (exit 2, a position or a reason, nothing on stdout) or
//! the right verdict, and that it ended. The time limits are generous hang guards, not
//! performance measurements: before the fixes these inputs took from tens of seconds to
//! forever, or crashed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const NOW: &str = "2026-11-26T12:00:00Z";
/// Longest any of these runs may take (a debug build on a loaded 2-core machine).
const HANG: Duration = Duration::from_secs(60);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn command(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_palisade"));
    c.args(args)
        .current_dir(root())
        .env("PALISADE_NOW", NOW)
        .env("NO_COLOR", "1");
    c
}

/// Runs `c` with `stdin` as its input, killing it (and failing) past [`HANG`].
fn finish(mut c: Command, stdin: Option<&[u8]>) -> Output {
    c.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = c.spawn().expect("run palisade");
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        let bytes = bytes.to_vec();
        // The child may stop reading early (an error): a broken pipe here is fine.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        });
    }
    // Both pipes are drained while the child runs (a full pipe would stall it).
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let out = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let err = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > HANG {
            let _ = child.kill();
            panic!("palisade {:?} did not finish within {HANG:?}", c.get_args());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().expect("stdout"),
        stderr: err.join().expect("stderr"),
    }
}

fn palisade(args: &[&str]) -> Output {
    finish(command(args), None)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Exit 2 with `needle` on stderr and nothing on stdout.
fn refused(o: &Output, needle: &str) {
    assert_eq!(
        o.status.code(),
        Some(2),
        "expected exit 2; stderr: {}",
        stderr(o)
    );
    assert!(
        stderr(o).contains(needle),
        "stderr lacks {needle:?}: {}",
        stderr(o)
    );
    assert!(stdout(o).is_empty(), "stdout: {}", stdout(o));
}

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

fn write(dir: &Path, name: &str, text: impl AsRef<[u8]>) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

/// A deploy-stage policy with condition `when`.
fn policy(name: &str, when: &str) -> String {
    format!(
        "policy \"{name}\" {{\n  severity low\n  lifecycle deploy\n  soc2 CC6.1\n  when {when}\n}}\n"
    )
}

/// The policies of a JSON report that fired.
fn fired(o: &Output) -> Vec<String> {
    let report: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("json report: {e}; stderr: {}", stderr(o)));
    report["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .map(|v| v["policy"].as_str().unwrap_or("").to_string())
        .collect()
}

fn check_builtin(input: &str, extra: &[&str]) -> Output {
    let mut args = vec!["check", "--builtin", "--format", "json", "--input", input];
    args.extend_from_slice(extra);
    palisade(&args)
}

#[test]
fn d01_nested_brackets_in_a_manifest_are_refused_before_parsing_deeply() {
    let dir = temp();
    let body = format!(
        "{{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {{\"name\": \"x\"}}, \"spec\": {}",
        "[".repeat(100_000)
    );
    let input = write(dir.path(), "deep.json", body);
    refused(
        &palisade(&["check", "--builtin", "--input", &input]),
        "deep.json:",
    );
    // As YAML too (no JSON parse first).
    let yaml = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: x}}\nspec: {}\n",
        "[".repeat(100_000)
    );
    let input = write(dir.path(), "deep.yaml", yaml);
    refused(&palisade(&["convert", "--input", &input]), "invalid YAML");
}

#[test]
fn d03_not_and_macro_chains_past_the_limit_are_errors_with_positions() {
    let dir = temp();
    let nots = write(
        dir.path(),
        "nots.pal",
        policy(
            "nots",
            &format!("{}container.privileged", "not ".repeat(10_000)),
        ),
    );
    let o = palisade(&[
        "check",
        "--policies",
        &nots,
        "--input",
        "examples/records/clean.json",
    ]);
    refused(&o, "nots.pal:5:");
    assert!(stderr(&o).contains("nested too deeply (more than 64 levels)"));
    // 200 nested `not`s no longer pass the documented limit.
    let two_hundred = write(
        dir.path(),
        "two_hundred.pal",
        policy(
            "200",
            &format!("{}container.privileged", "not ".repeat(200)),
        ),
    );
    refused(&palisade(&["compile", &two_hundred]), "two_hundred.pal:5:");
    // 10,000 macros chained with `and`: refused where the chain passes the limit.
    let mut chain = String::from("macro m0 = container.privileged\n");
    for i in 1..10_000 {
        chain.push_str(&format!(
            "macro m{i} = m{} and container.privileged\n",
            i - 1
        ));
    }
    chain.push_str(&policy("chain", "m9999"));
    let chain = write(dir.path(), "chain.pal", chain);
    let o = palisade(&["compile", "--emit", "ir", &chain]);
    refused(&o, "chain.pal:");
    assert!(stderr(&o).contains("nested too deeply"), "{}", stderr(&o));
    // `compile -o` writes no bundle for what `check --bundle` would refuse.
    let bundle = dir.path().join("out.json");
    let o = palisade(&["compile", &nots, "-o", bundle.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        !bundle.exists(),
        "a bundle was written for a refused policy"
    );
}

#[test]
fn d04_exponential_macro_expansion_is_refused() {
    let dir = temp();
    let mut text = String::from("macro m0 = container.privileged\n");
    // 24 levels: 2^24 tests once expanded (4.6 GB and 25 s before the bound).
    for i in 1..25 {
        text.push_str(&format!("macro m{i} = (m{} or m{})\n", i - 1, i - 1));
    }
    text.push_str(&policy("doubling", "m24"));
    let file = write(dir.path(), "doubling.pal", text);
    refused(
        &palisade(&["compile", &file]),
        "condition too large: more than 10000 conditions once macros are expanded",
    );
    // Many policies, each under the per-policy bound, are bounded together (once).
    let mut text = String::from("macro m0 = container.privileged\n");
    for i in 1..12 {
        text.push_str(&format!("macro m{i} = (m{} or m{})\n", i - 1, i - 1));
    }
    for n in 0..200 {
        text.push_str(&policy(&format!("p{n}"), "m11"));
    }
    let file = write(dir.path(), "many.pal", text);
    let o = palisade(&["compile", &file]);
    refused(
        &o,
        "policy set too large: more than 1000000 conditions in all",
    );
    assert_eq!(stderr(&o).matches(": error: ").count(), 1, "{}", stderr(&o));
}

#[test]
fn d05_a_yaml_alias_fanout_is_refused_by_its_expanded_size() {
    let dir = temp();
    // A flat anchor of K items referenced K times: K² values from ~40 KB.
    let k = 3_000;
    let mut text = format!("a: &a [{}]\nb: [", vec!["x"; k].join(","));
    text.push_str(&vec!["*a"; k].join(","));
    text.push_str("]\n");
    let input = write(dir.path(), "fanout.yaml", text);
    let o = palisade(&["convert", "--input", &input]);
    refused(&o, "fanout.yaml:2:");
    assert!(
        stderr(&o).contains("alias replay limit exceeded"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn d06_an_admission_review_whose_object_is_not_an_object_is_refused() {
    let dir = temp();
    for object in ["\"a string\"", "42", "true", "[1, 2]"] {
        let review = format!(
            "{{\"apiVersion\": \"admission.k8s.io/v1\", \"kind\": \"AdmissionReview\", \"request\": {{\"uid\": \"u\", \"operation\": \"CREATE\", \"kind\": {{\"kind\": \"Pod\"}}, \"object\": {object}}}}}"
        );
        let input = write(dir.path(), "review.json", review);
        for command in ["check", "convert"] {
            let o = palisade(&[command, "--input", &input]);
            refused(&o, "malformed AdmissionReview: `request.object` is");
        }
    }
    // Metadata of the wrong type, and a request that is not an object.
    let review = "{\"apiVersion\": \"admission.k8s.io/v1\", \"kind\": \"AdmissionReview\", \"request\": {\"uid\": \"u\", \"operation\": \"CREATE\", \"object\": {\"kind\": \"Pod\", \"metadata\": \"x\"}}}";
    let input = write(dir.path(), "meta.json", review);
    refused(
        &palisade(&["convert", "--input", &input]),
        "`request.object.metadata` is a string",
    );
}

#[test]
fn d07_yaml_is_read_as_the_api_server_reads_it() {
    let dir = temp();
    // A merge key (the second container's context merges the first's) and YAML 1.1
    // booleans (`yes`, `on`): every container here is privileged.
    let manifests = write(
        dir.path(),
        "merge.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: merged, namespace: prod}\nspec:\n  containers:\n  - name: first\n    image: nginx:1.25\n    securityContext: &base {privileged: yes}\n  - name: merged\n    image: nginx:1.25\n    securityContext: {<<: *base, runAsUser: 1000}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: onward, namespace: prod}\nspec:\n  containers:\n  - name: web\n    image: nginx:1.25\n    securityContext: {privileged: on}\n",
    );
    let o = palisade(&["convert", "--input", &manifests]);
    let records: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for (record, container) in [(0, 0), (0, 1), (1, 0)] {
        assert_eq!(
            records[record]["containers"][container]["security_context"]["privileged"],
            true,
            "record {record} container {container}: {}",
            stdout(&o)
        );
    }
    assert_eq!(
        records[0]["containers"][1]["security_context"]["run_as_user"],
        1000
    );
    let o = check_builtin(&manifests, &[]);
    let privileged = fired(&o)
        .iter()
        .filter(|p| *p == "Privileged Container")
        .count();
    assert_eq!(privileged, 2, "{}", stdout(&o));
    // A quoted "true" is a string the API server refuses for a boolean: refused, never false.
    let quoted = write(
        dir.path(),
        "quoted.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: q}\nspec:\n  containers:\n  - name: web\n    securityContext: {privileged: \"true\"}\n",
    );
    refused(
        &palisade(&["check", "--builtin", "--input", &quoted]),
        "`spec.containers[0].securityContext.privileged` is `\"true\"`, not a boolean",
    );
    // Duplicate keys and numbers beyond a double are refused, not silently resolved.
    let dup = write(
        dir.path(),
        "dup.yaml",
        "apiVersion: v1\nkind: Pod\nkind: Pod\nmetadata: {name: d}\n",
    );
    refused(&palisade(&["convert", "--input", &dup]), "dup.yaml:3:");
    let big = write(
        dir.path(),
        "big.yaml",
        "apiVersion: v1\nkind: Deployment\nmetadata: {name: b}\nspec: {replicas: 1e400}\n",
    );
    refused(&palisade(&["convert", "--input", &big]), "big.yaml:");
}

#[test]
fn d08_a_pattern_cannot_escape_the_regex_wrapper() {
    let dir = temp();
    let text = policy("escape", "container.privileged").replace(
        "  when",
        "  exclude deployment /zzz)|(.*/ because \"escape\"\n  when",
    );
    let file = write(dir.path(), "escape.pal", text);
    refused(&palisade(&["compile", &file]), "escape.pal:5:");
    // The same through `import stackrox`: the exclusion StackRox rejects never matches.
    let stackrox = r#"{"policies": [{"name": "Escape", "severity": "HIGH_SEVERITY", "lifecycleStages": ["DEPLOY"],
        "exclusions": [{"name": "all", "deployment": {"name": "x)|(.*"}}],
        "policySections": [{"policyGroups": [{"fieldName": "Privileged Container", "values": [{"value": "true"}]}]}]}]}"#;
    let file = write(dir.path(), "escape.json", stackrox);
    let o = palisade(&["import", "stackrox", &file]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stdout(&o).contains("x)|(.*"), "{}", stdout(&o));
}

#[test]
fn d09_reads_are_bounded_and_leave_nothing_behind() {
    // A device that never ends, as a path and as stdin: refused from its first bytes.
    refused(
        &palisade(&["check", "--builtin", "--input", "/dev/zero"]),
        "/dev/zero: binary data",
    );
    let mut c = command(&["check", "--builtin", "--input", "-"]);
    c.stdin(std::fs::File::open("/dev/zero").unwrap());
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let o = c.output().unwrap();
    refused(&o, "<stdin>: binary data");
    // A 3 GB sparse policy file is refused after 16 MiB and not echoed.
    let dir = temp();
    let big = dir.path().join("huge.pal");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(3 << 30)
        .unwrap();
    let o = palisade(&["compile", big.to_str().unwrap()]);
    refused(&o, "larger than 16 MiB");
    assert!(o.stderr.len() < 4096, "{} bytes of stderr", o.stderr.len());
    // Killed while reading stdin: no temporary file is left in TMPDIR.
    let tmp = temp();
    let mut c = command(&["check", "--builtin", "--input", "-"]);
    c.env("TMPDIR", tmp.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(b"{\"kind\": \"deployment\", \"id\": \"a\", \"name\": \"a\"}\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn d10_trivy_conversion_is_linear_in_findings_of_one_package() {
    let dir = temp();
    let n = 30_000;
    let vulns: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "{{\"VulnerabilityID\": \"CVE-2024-{i}\", \"PkgName\": \"openssl\", \"InstalledVersion\": \"1.0\", \"Severity\": \"HIGH\"}}"
            )
        })
        .collect();
    // Every finding twice: the repeats are dropped.
    let all = format!("{},{}", vulns.join(","), vulns.join(","));
    let report = format!(
        "{{\"SchemaVersion\": 2, \"ArtifactName\": \"img\", \"Results\": [{{\"Target\": \"img\", \"Type\": \"debian\", \"Vulnerabilities\": [{all}]}}]}}"
    );
    let input = write(dir.path(), "trivy.json", report);
    let o = palisade(&["convert", "--input", &input]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let records: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let vulns = records[0]["scan"]["components"][0]["vulns"]
        .as_array()
        .unwrap();
    assert_eq!(vulns.len(), n);
}

#[test]
fn d11_thousands_of_diagnostics_are_capped() {
    let dir = temp();
    let text: String = (0..4_000)
        .map(|i| format!("list dup = [\"{i}\"]\n"))
        .collect();
    let file = write(dir.path(), "dups.pal", text);
    let o = palisade(&["compile", &file]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("more diagnostics not shown"),
        "{}",
        &err[..err.len().min(2000)]
    );
    assert_eq!(
        err.matches(": error: ").count(),
        20,
        "only the first 20 are shown"
    );
    // JSON lists them all.
    let o = palisade(&["compile", "--diagnostics", "json", &file]);
    let report: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    assert_eq!(report["diagnostics"].as_array().unwrap().len(), 3_999);
}

#[test]
fn d12_messages_are_capped() {
    let dir = temp();
    let template = "{container.name}".repeat(100_000);
    let text = policy("loud", "container.privileged")
        .replace("  when", &format!("  message \"{template}\"\n  when"));
    let file = write(dir.path(), "loud.pal", text);
    let name = "n".repeat(100_000);
    let record = format!(
        "{{\"kind\": \"deployment\", \"id\": \"d\", \"name\": \"d\", \"namespace\": \"p\", \"containers\": [{{\"name\": \"{name}\", \"security_context\": {{\"privileged\": true}}}}]}}"
    );
    let input = write(dir.path(), "loud.json", record);
    let o = palisade(&[
        "check",
        "--policies",
        &file,
        "--input",
        &input,
        "--format",
        "json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let message = report["violations"][0]["messages"][0].as_str().unwrap();
    assert!(message.len() < 4200, "{} bytes", message.len());
    assert!(message.ends_with("(message cut at 4096 bytes)"));
}

#[test]
fn d13_pipes_and_fifos_are_read_once() {
    // Process substitution: a pipe that can be read once.
    let o = finish(
        {
            let mut c = Command::new("bash");
            c.arg("-c")
                .arg(format!(
                    "{} check --builtin --format json --input <(cat examples/records/deployments.json)",
                    env!("CARGO_BIN_EXE_palisade")
                ))
                .current_dir(root())
                .env("PALISADE_NOW", NOW);
            c
        },
        None,
    );
    assert!(!fired(&o).is_empty(), "{}", stderr(&o));
    // A FIFO with one writer, holding a manifest (converted, not streamed).
    let dir = temp();
    let fifo = dir.path().join("pods.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let writer_path = fifo.clone();
    let writer = std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(writer_path)
            .unwrap();
        f.write_all(b"apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: prod}\nspec:\n  containers:\n  - name: c\n    image: nginx:1.25\n    securityContext: {privileged: true}\n")
            .unwrap();
    });
    let o = check_builtin(fifo.to_str().unwrap(), &[]);
    writer.join().unwrap();
    assert!(
        fired(&o).iter().any(|p| p == "Privileged Container"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn d14_a_bundle_of_many_heavy_regexes_is_refused_before_building() {
    let dir = temp();
    let file = write(
        dir.path(),
        "heavy.pal",
        policy("heavy", "container.name ~ /\\w{10}x/"),
    );
    let bundle = dir.path().join("heavy.json");
    let o = palisade(&["compile", &file, "-o", bundle.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Repeat the one regex 3,000 times (distinct patterns, as a hand-made bundle can).
    let mut b: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&bundle).unwrap()).unwrap();
    let program = if b.get("program").is_some() {
        &mut b["program"]
    } else {
        &mut b
    };
    let regexes = program["regexes"].as_array_mut().expect("regexes");
    let first = regexes[0].clone();
    for i in 0..3_000 {
        let mut r = first.clone();
        r["patterns"] = serde_json::json!([format!("\\w{{10}}x{i}")]);
        regexes.push(r);
    }
    let heavy = write(dir.path(), "many.json", b.to_string());
    let o = palisade(&[
        "check",
        "--bundle",
        &heavy,
        "--input",
        "examples/records/clean.json",
    ]);
    refused(&o, "the regexes together are too large to build");
}

#[test]
fn d16_objects_without_a_namespace_are_in_default() {
    let dir = temp();
    let pod = write(
        dir.path(),
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: bare}\nspec:\n  containers:\n  - name: c\n    image: nginx:1.25\n",
    );
    let token = "Pod Service Account Token Automatically Mounted";
    assert!(fired(&check_builtin(&pod, &[])).iter().any(|p| p == token));
    // `--namespace kube-system`, as kubectl would create it: excluded there.
    let o = check_builtin(&pod, &["--namespace", "kube-system"]);
    assert!(!fired(&o).iter().any(|p| p == token), "{}", stdout(&o));
    let converted = palisade(&["convert", "--input", &pod]);
    let records: serde_json::Value = serde_json::from_slice(&converted.stdout).unwrap();
    assert_eq!(records[0]["namespace"], "default");
    // An object naming another namespace than --namespace is refused, as kubectl does.
    let other = write(
        dir.path(),
        "other.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: o, namespace: prod}\nspec: {containers: []}\n",
    );
    refused(
        &palisade(&["convert", "--namespace", "dev", "--input", &other]),
        "does not match the namespace `dev`",
    );
}

/// `convert` writes every record with its `kind` first (readers take such records as they
/// stream by, without buffering them), and what it writes checks as its input does.
#[test]
fn converted_records_lead_with_their_kind_and_check_as_their_input() {
    let input = "examples/segmentation/manifests.yaml";
    let converted = palisade(&["convert", "--input", input]);
    assert!(converted.status.success(), "{}", stderr(&converted));
    let text = stdout(&converted);
    let records = text.matches("\n  {\n").count();
    assert!(records > 3, "{text}");
    assert_eq!(
        text.matches("\n  {\n    \"kind\": \"").count(),
        records,
        "a record without its kind first: {text}"
    );
    let dir = temp();
    let file = write(dir.path(), "converted.json", &text);
    let report = |input: &str| {
        let o = check_builtin(input, &[]);
        let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        // Violations name the file they come from, and the manifests' Namespaces are
        // skipped objects there; the rest must be the same.
        v["summary"]["skipped"] = serde_json::Value::Null;
        for violation in v["violations"].as_array_mut().into_iter().flatten() {
            violation["record"]["file"] = serde_json::Value::Null;
            violation["record"]["line"] = serde_json::Value::Null;
        }
        v
    };
    let (from_manifests, from_records) = (report(input), report(&file));
    assert!(from_manifests["summary"]["violations"].as_u64().unwrap() > 0);
    assert_eq!(from_manifests, from_records);
}
