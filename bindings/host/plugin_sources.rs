//! The digest of the sources the WASM plugin is built from, shared by the build script (to
//! decide whether the committed prebuilt plugin may be embedded), the test that keeps that
//! plugin current, and `examples/plugin_digest.rs` (used by scripts/update-plugin.sh).

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Directories (relative to the workspace root) whose files the plugin is built from.
pub const PLUGIN_SOURCE_DIRS: [&str; 10] = [
    "lang",
    "engine",
    "api",
    "config",
    "adapters",
    "netpol",
    "stackrox",
    "library",
    "policies",
    "wasm/plugin",
];

/// Single files the plugin's build depends on.
pub const PLUGIN_SOURCE_FILES: [&str; 2] = ["Cargo.toml", "Cargo.lock"];

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden || path.file_name().is_some_and(|n| n == "target") {
            continue;
        }
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// SHA-256 (hex) over every source file's path (relative, `/`-separated) and content, in
/// sorted order: equal digests mean the plugin would be built from the same sources.
pub fn plugin_source_digest(root: &Path) -> std::io::Result<String> {
    let mut files = Vec::new();
    for dir in PLUGIN_SOURCE_DIRS {
        walk(&root.join(dir), &mut files)?;
    }
    files.extend(PLUGIN_SOURCE_FILES.iter().map(|f| root.join(f)));
    let mut named: Vec<(String, PathBuf)> = files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(root)
                .unwrap_or(&p)
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            (rel, p)
        })
        .collect();
    named.sort();
    let mut hash = Sha256::new();
    for (rel, path) in named {
        let content = std::fs::read(&path)?;
        hash.update((rel.len() as u64).to_le_bytes());
        hash.update(rel.as_bytes());
        hash.update((content.len() as u64).to_le_bytes());
        hash.update(&content);
    }
    Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
}
