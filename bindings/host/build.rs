//! Builds the plugin (wasm/plugin) for wasm32-unknown-unknown and embeds it: with a rustup
//! wasm32 target when one is installed, else Debian's rustc-web with -Zbuild-std (see
//! ../shared/notes/wasm-toolchain.md). `PALISADE_PLUGIN_WASM=FILE` embeds a prebuilt plugin
//! instead.
//!
//! Without a wasm32 toolchain (`cargo install`, the README's first command on a machine
//! with Rust alone) the committed prebuilt plugin (`plugin/palisade_plugin.wasm`) is
//! embedded when it was built from exactly these sources (`plugin/SOURCES` holds their
//! digest; a test keeps it current). Only a working tree whose plugin sources changed since
//! then, on a machine without the toolchain, builds without a plugin (a warning here;
//! `Plugin::embedded` says why): and it then rebuilds by itself once a toolchain is
//! installed, without `cargo clean`.

#[path = "plugin_sources.rs"]
mod plugin_sources;

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
            let sources = plugin_sources::PLUGIN_SOURCE_DIRS
                .iter()
                .chain(plugin_sources::PLUGIN_SOURCE_FILES.iter());
            for path in sources {
                println!("cargo:rerun-if-changed={}", root.join(path).display());
            }
            println!(
                "cargo:rerun-if-changed={}",
                manifest.join("plugin").display()
            );
            build_plugin(&root, &out_dir).or_else(|| {
                let committed = committed_plugin(&root, &manifest);
                if committed.is_none() {
                    watch_for_toolchains();
                }
                committed
            })
        }
    };
    let embedded = out_dir.join("plugin.wasm");
    let copied = wasm.and_then(|w| std::fs::copy(&w, &embedded).ok());
    if copied.is_none() {
        let _ = std::fs::write(&embedded, b"");
    }
}

/// The committed prebuilt plugin, when it was built from the current sources.
fn committed_plugin(root: &Path, manifest: &Path) -> Option<PathBuf> {
    let wasm = manifest.join("plugin/palisade_plugin.wasm");
    let recorded = std::fs::read_to_string(manifest.join("plugin/SOURCES")).ok()?;
    let current = plugin_sources::plugin_source_digest(root).ok()?;
    if recorded.trim() == current && wasm.exists() {
        println!(
            "cargo:warning=no wasm32 toolchain: embedding the committed prebuilt plugin (built from these sources)"
        );
        Some(wasm)
    } else {
        println!(
            "cargo:warning=no wasm32 toolchain, and the plugin's sources changed since the committed prebuilt plugin was built: palisade-host is built without an embedded plugin (install a wasm32 toolchain, or run scripts/update-plugin.sh where one is)"
        );
        None
    }
}

/// Makes cargo run this script again once a wasm32 toolchain appears: a path that does not
/// exist yet is stale on every build, and an existing one is stale when it changes.
fn watch_for_toolchains() {
    println!("cargo:rerun-if-changed=/usr/bin/wasm-ld-22");
    println!("cargo:rerun-if-changed=/usr/bin/rustc");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    if let Ok(o) = Command::new(rustc).args(["--print", "sysroot"]).output() {
        let sysroot = String::from_utf8_lossy(&o.stdout).trim().to_string();
        if !sysroot.is_empty() {
            println!("cargo:rerun-if-changed={sysroot}/lib/rustlib/wasm32-unknown-unknown");
        }
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
    // `PALISADE_PLUGIN_TOOLCHAIN=none` builds as a machine without a wasm32 toolchain would
    // (to try the committed-plugin path).
    println!("cargo:rerun-if-env-changed=PALISADE_PLUGIN_TOOLCHAIN");
    if std::env::var_os("PALISADE_PLUGIN_TOOLCHAIN").is_some_and(|v| v == "none") {
        return None;
    }
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
