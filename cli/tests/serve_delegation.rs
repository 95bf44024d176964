#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly"
)]
//! `palisade serve` (and `palisade publish`) runs the separate `palisade-serve` binary found next to `palisade`
//! (the server's own tests are in bindings/sidecar/tests/process.rs): its arguments pass
//! through untouched, its exit code comes back, and without it the user is told what to
//! build.

use std::process::Command;

#[cfg(unix)]
#[test]
fn serve_runs_the_server_binary_beside_it_with_the_same_arguments() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let palisade = dir.path().join("palisade");
    std::fs::copy(env!("CARGO_BIN_EXE_palisade"), &palisade).unwrap();

    // Without the server binary (and nothing on PATH): exit 2 and what to build.
    let out = Command::new(&palisade)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("PATH", dir.path().join("empty"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("palisade-serve"), "{stderr}");
    assert!(
        stderr.contains("cargo build --release -p palisade-sidecar"),
        "{stderr}"
    );

    // A stand-in server that records its arguments and exits 7.
    let log = dir.path().join("args.txt");
    let server = dir.path().join("palisade-serve");
    std::fs::write(
        &server,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done > '{}'\nexit 7\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&server, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new(&palisade)
        .args(["serve", "--help", "--listen=0.0.0.0:1", "--policies", "a b"])
        .env("PATH", dir.path().join("empty"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "--help\n--listen=0.0.0.0:1\n--policies\na b\n"
    );

    // `palisade publish ARGS` is `palisade-serve publish ARGS`.
    let out = Command::new(&palisade)
        .args([
            "publish",
            "--events",
            "nats://127.0.0.1:1",
            "--input",
            "e.json",
        ])
        .env("PATH", dir.path().join("empty"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "publish\n--events\nnats://127.0.0.1:1\n--input\ne.json\n"
    );
}
