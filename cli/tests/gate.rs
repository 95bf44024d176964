#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly"
)]
//! palisade.toml from the CLI: found in the working directory or given with --config, it
//! sets enforcement (so the default gate fails on a privileged pod), is shown by `policies
//! list`, and a mistake in it stops the run; the last line of text output says why the
//! exit code is what it is; --input takes several paths and directories.

use std::path::Path;
use std::process::{Command, Output};

const PRIVILEGED_POD: &str = "apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
spec:
  containers:
    - name: web
      image: nginx:1.25
      securityContext:
        privileged: true
      volumeMounts:
        - name: sock
          mountPath: /var/run/docker.sock
  volumes:
    - name: sock
      hostPath:
        path: /var/run/docker.sock
";

fn palisade(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .current_dir(dir)
        .env("PALISADE_NOW", "2026-11-26T12:00:00Z")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn last_line(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn enforcement_set_in_palisade_toml_fails_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pod.yaml"), PRIVILEGED_POD).unwrap();
    // The library's defaults: violations, none enforced, exit 0 - and the line says so.
    let o = palisade(dir.path(), &["check", "--input", "pod.yaml"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        last_line(&o),
        "exit 0: 6 violations, none of a policy that enforces at the stage evaluated; --fail-on medium would fail"
    );
    // Each violation names what matched and, below it, how to fix it.
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("- container 'web' runs privileged (privileged: true)"),
        "{out}"
    );
    assert!(out.contains("fix: Remove privileged: true"), "{out}");
    let quiet = palisade(
        dir.path(),
        &["check", "--input", "pod.yaml", "--no-remediation"],
    );
    assert!(!String::from_utf8_lossy(&quiet.stdout).contains("fix:"));
    let o = palisade(
        dir.path(),
        &["check", "--input", "pod.yaml", "--fail-on", "high"],
    );
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        last_line(&o),
        "exit 0: 6 violations, none at or above high (--fail-on high); the most severe is medium"
    );
    let o = palisade(
        dir.path(),
        &["check", "--input", "pod.yaml", "--fail-on", "medium"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        last_line(&o).starts_with("exit 1: 6 violations at or above medium (--fail-on medium): "),
        "{}",
        last_line(&o)
    );

    std::fs::write(
        dir.path().join("palisade.toml"),
        "[policy.\"Privileged Container\"]\nenforce = true\n",
    )
    .unwrap();
    let o = palisade(dir.path(), &["check", "--input", "pod.yaml"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        last_line(&o),
        "exit 1: 1 violation of policies that enforce: Privileged Container at deploy"
    );
    let json = palisade(
        dir.path(),
        &["check", "--input", "pod.yaml", "--format", "json"],
    );
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let privileged = report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["policy"] == "Privileged Container")
        .unwrap();
    assert_eq!(
        privileged["enforcement"],
        serde_json::json!(["scale_to_zero"])
    );
    // --no-config ignores it; --config names another file.
    assert_eq!(
        palisade(dir.path(), &["check", "--input", "pod.yaml", "--no-config"])
            .status
            .code(),
        Some(0)
    );
    std::fs::write(
        dir.path().join("strict.toml"),
        "[severity.medium]\nenforce = true\n\n[[exclude]]\npolicies = [\"Privileged Container\"]\nnamespace = \"shop\"\nreason = \"the shop's node agent; ticket SEC-12\"\nexpires = \"2026-12-31\"\n",
    )
    .unwrap();
    let o = palisade(
        dir.path(),
        &["check", "--input", "pod.yaml", "--config", "strict.toml"],
    );
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        !out.contains("Privileged Container ["),
        "excluded until 2026-12-31: {out}"
    );
    assert!(
        last_line(&o).starts_with("exit 1: 5 violations of policies that enforce"),
        "{out}"
    );
    // After the exclusion expires, the policy fires again.
    let later = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["check", "--input", "pod.yaml", "--config", "strict.toml"])
        .current_dir(dir.path())
        .env("PALISADE_NOW", "2027-01-01T00:00:00Z")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&later.stdout).contains("Privileged Container ["));

    // `policies list` shows what the configuration leaves.
    let o = palisade(dir.path(), &["policies", "list", "--format", "json"]);
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Privileged Container")
        .unwrap();
    assert_eq!(row["enforcement"], serde_json::json!(["scale_to_zero"]));
    let o = palisade(dir.path(), &["policies", "list"]);
    assert!(
        last_line(&o).ends_with("; configuration: palisade.toml"),
        "{}",
        last_line(&o)
    );
}

#[test]
fn a_mistake_in_the_configuration_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pod.yaml"), PRIVILEGED_POD).unwrap();
    std::fs::write(
        dir.path().join("palisade.toml"),
        "[policy.\"Privileged Containr\"]\nenforce = true\n",
    )
    .unwrap();
    for args in [
        &["check", "--input", "pod.yaml"][..],
        &["policies", "list"][..],
    ] {
        let o = palisade(dir.path(), args);
        assert_eq!(o.status.code(), Some(2));
        assert!(o.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(
            stderr.contains("palisade.toml: [policy.\"Privileged Containr\"]: no such policy (did you mean `Privileged Container`?)"),
            "{stderr}"
        );
    }
    std::fs::write(
        dir.path().join("palisade.toml"),
        "[policy.\"Privileged Container\"]\nenforce = \"yes\"\n",
    )
    .unwrap();
    let o = palisade(dir.path(), &["check", "--input", "pod.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("palisade.toml:2:11"));
}

#[test]
fn input_takes_several_paths_and_directories() {
    let dir = tempfile::tempdir().unwrap();
    let manifests = dir.path().join("manifests/team-a");
    std::fs::create_dir_all(&manifests).unwrap();
    std::fs::write(manifests.join("pod.yaml"), PRIVILEGED_POD).unwrap();
    std::fs::write(
        manifests.join("other.yml"),
        PRIVILEGED_POD.replace("name: web\n  namespace", "name: api\n  namespace"),
    )
    .unwrap();
    std::fs::write(dir.path().join("manifests/README.md"), "not an input").unwrap();
    std::fs::write(
        dir.path().join("records.json"),
        r#"{"kind": "deployment", "id": "d1", "name": "batch", "namespace": "jobs"}"#,
    )
    .unwrap();
    let o = palisade(
        dir.path(),
        &[
            "check",
            "--input",
            "manifests",
            "records.json",
            "--format",
            "json",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["summary"]["records"], 3);
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let o = palisade(dir.path(), &["check", "--input", "empty"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("empty: no input files"));
    let help = palisade(dir.path(), &["check", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    for format in [
        "Kubernetes manifests",
        "Trivy",
        "Grype",
        "Falco",
        "Tetragon",
        "AdmissionReview",
        "directories",
    ] {
        assert!(help.contains(format), "{format}: {help}");
    }
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["policies", "list"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read nothing and close the pipe: the writer meets EPIPE.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_input_summary_counts_what_was_read_and_what_was_used() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("app.yaml"),
        format!(
            "{PRIVILEGED_POD}---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  type: LoadBalancer\n  selector: {{app: web}}\n  ports: [{{port: 80}}]\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c, namespace: shop}}\n"
        ),
    )
    .unwrap();
    // --lifecycle build evaluates no deployment, but the deployment was read; the Service
    // was used for exposure, not skipped.
    let o = palisade(
        dir.path(),
        &["check", "--input", "app.yaml", "--lifecycle", "build"],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("0 violations in 0 records")
            && out.contains(
                "input: 1 record (deployment 1); read for exposure and isolation: Service 1; skipped: ConfigMap 1"
            ),
        "{out}"
    );
}

/// Hostile configuration files (deeply nested, not UTF-8, oversized) are refused with a
/// message and exit 2, quickly, and nothing on stdout.
#[test]
fn a_hostile_configuration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, Vec<u8>, &str); 3] = [
        (
            "deep.toml",
            format!("a = {}", "[".repeat(200_000)).into_bytes(),
            "max recursion depth",
        ),
        ("binary.toml", vec![0xff, 0xfe, 0x00], "not UTF-8"),
        (
            "huge.toml",
            format!("# {}\n", "x".repeat(2 << 20)).into_bytes(),
            "larger than 1 MiB",
        ),
    ];
    for (name, bytes, expected) in cases {
        std::fs::write(dir.path().join(name), bytes).unwrap();
        let o = palisade(dir.path(), &["policies", "list", "--config", name]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {stderr}");
        assert!(o.stdout.is_empty(), "{name}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
    }
}
