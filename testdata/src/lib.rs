//! Test support for the material outside the repository, in `../shared` beside the clone
//! (third-party corpus inputs, StackRox-derived conformance cases): tests use it when it is
//! there, and when it is not, each part they skip is announced on the process's stderr
//! (which `cargo test` does not capture), so a clone without it passes without hiding what
//! it did not run. `PALISADE_REQUIRE_SHARED=1` (set by `.ci/run`) turns a missing part
//! into a test failure.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `../shared/<relative>` when that directory exists; otherwise announces that `part` is
/// skipped and returns `None` (or panics under `PALISADE_REQUIRE_SHARED`).
pub fn shared(relative: &str, part: &str) -> Option<PathBuf> {
    let dir = repo_root().join("../shared").join(relative);
    if dir.is_dir() {
        return Some(dir);
    }
    let required = std::env::var_os("PALISADE_REQUIRE_SHARED").is_some_and(|v| v != "0");
    let line = announcement(relative, part, required);
    // Straight to the process's stderr: the test harness captures only `eprintln!`.
    let _ = std::io::stderr().write_all(line.as_bytes());
    assert!(!required, "{}", line.trim());
    None
}

/// The line that says a part was skipped.
fn announcement(relative: &str, part: &str, required: bool) -> String {
    format!(
        "\n!!! SKIPPED: {part}: ../shared/{relative} is not beside this clone{}\n",
        if required {
            " (PALISADE_REQUIRE_SHARED is set: failing)"
        } else {
            " (see CONTRIBUTING.md)"
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_announcement_names_the_part_and_the_directory() {
        let line = announcement("corpus", "conversion of the corpus", false);
        assert_eq!(
            line.trim(),
            "!!! SKIPPED: conversion of the corpus: ../shared/corpus is not beside this clone (see CONTRIBUTING.md)"
        );
        assert!(announcement("corpus", "x", true).contains("failing"));
        assert!(repo_root().join("Cargo.toml").is_file());
    }

    /// With `PALISADE_REQUIRE_SHARED` set (in a child process: the variable is read at
    /// each call), a missing part fails the test that asked for it.
    #[test]
    fn a_required_part_that_is_missing_fails() {
        let exe = std::env::current_exe().unwrap_or_default();
        let out = std::process::Command::new(exe)
            .args(["--exact", "tests::child_asks_for_a_missing_part"])
            .env("PALISADE_REQUIRE_SHARED", "1")
            .env("PALISADE_TESTDATA_CHILD", "1")
            .output();
        let (failed, text) = match out {
            Ok(o) => (
                !o.status.success(),
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                ),
            ),
            Err(e) => (false, e.to_string()),
        };
        assert!(
            failed && text.contains("PALISADE_REQUIRE_SHARED is set: failing"),
            "{text}"
        );
    }

    #[test]
    fn child_asks_for_a_missing_part() {
        if std::env::var_os("PALISADE_TESTDATA_CHILD").is_some() {
            let _ = shared("no-such-directory-here", "a part");
        }
    }
}
