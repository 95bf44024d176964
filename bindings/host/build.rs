//! Builds the plugin (wasm/plugin) for wasm32-unknown-unknown and embeds it: with a rustup
//! wasm32 target when one is installed, else Debian's rustc-web with -Zbuild-std (see
//! ../shared/notes/wasm-toolchain.md). `PALISADE_PLUGIN_WASM=FILE` embeds a prebuilt plugin
//! instead. When neither works the host builds without an embedded plugin (a warning here;
//! `Plugin::embedded` then says how to get one) so the rest of the workspace still builds.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=PALISADE_PLUGIN_WASM");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest.join("../..");
    let wasm = match std::env::var_os("PALISADE_PLUGIN_WASM") {
        Some(prebuilt) => Some(PathBuf::from(prebuilt)),
        None => {
            for dir in [
                "lang",
                "engine",
                "adapters",
                "stackrox",
                "library",
                "policies",
                "wasm/plugin",
            ] {
                println!("cargo:rerun-if-changed={}", root.join(dir).display());
            }
            println!(
                "cargo:rerun-if-changed={}",
                root.join("Cargo.lock").display()
            );
            build_plugin(&root, &out_dir)
        }
    };
    let embedded = out_dir.join("plugin.wasm");
    let copied = wasm.and_then(|w| std::fs::copy(&w, &embedded).ok());
    if copied.is_none() {
        let _ = std::fs::write(&embedded, b"");
    }
}

/// Where the nested build puts its artifacts: beside the workspace's own target directory.
fn wasm_target_dir(root: &Path, out_dir: &Path) -> PathBuf {
    // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out.
    match out_dir.ancestors().nth(4) {
        Some(target) => target.join("wasm"),
        None => root.join("target/wasm"),
    }
}

fn build_plugin(root: &Path, out_dir: &Path) -> Option<PathBuf> {
    let target_dir = wasm_target_dir(root, out_dir);
    let rustup_target = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .ok()
        .is_some_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == "wasm32-unknown-unknown")
        });
    let mut cmd;
    if rustup_target {
        cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        scrub(&mut cmd);
    } else if Path::new("/usr/bin/rustc").exists() && Path::new("/usr/bin/cargo").exists() {
        cmd = Command::new("/usr/bin/cargo");
        scrub(&mut cmd);
        cmd.env("RUSTC", "/usr/bin/rustc")
            .env("RUSTC_BOOTSTRAP", "1")
            .env("RUSTFLAGS", "-C linker=wasm-ld-22")
            .arg("-Zbuild-std=std,panic_abort");
    } else {
        println!(
            "cargo:warning=no wasm32 toolchain (rustup target or Debian rustc-web): palisade-host is built without an embedded plugin"
        );
        return None;
    }
    cmd.current_dir(root)
        .env("CARGO_TARGET_DIR", &target_dir)
        .args([
            "build",
            "--locked",
            "--profile",
            "wasm-release",
            "--target",
            "wasm32-unknown-unknown",
            "-p",
            "palisade-plugin",
        ]);
    match cmd.status() {
        Ok(s) if s.success() => {
            Some(target_dir.join("wasm32-unknown-unknown/wasm-release/palisade_plugin.wasm"))
        }
        other => {
            println!(
                "cargo:warning=building the wasm plugin failed ({other:?}): palisade-host is built without an embedded plugin"
            );
            None
        }
    }
}

/// Drops what the outer cargo set for this build script so the nested build is configured
/// like a top-level one.
fn scrub(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        let outer = (key.starts_with("CARGO_") && key != "CARGO_HOME")
            || key.starts_with("RUSTC")
            || key == "RUSTFLAGS"
            || key == "RUSTDOC"
            || key == "TARGET"
            || key == "HOST"
            || key == "OUT_DIR"
            || key == "OPT_LEVEL"
            || key == "PROFILE"
            || key == "DEBUG"
            || key == "NUM_JOBS";
        if outer {
            cmd.env_remove(&key);
        }
    }
}
