//! Finding policy files on disk: what `--policies PATH` means for every front end (the CLI,
//! the sidecar).

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest compiled bundle read from a file (the built-in library's is about 240 KB).
pub const MAX_BUNDLE_BYTES: usize = 64 * 1024 * 1024;

/// The text of a file of at most `limit` bytes, checked while reading (a larger file, or
/// a device that never ends, is refused after `limit` bytes, never read whole).
pub fn read_text(path: &Path, limit: usize) -> Result<String, String> {
    let cannot = |e: std::io::Error| format!("{}: cannot read: {e}", path.display());
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() > limit {
        return Err(format!(
            "{}: larger than {} MiB; split it into several files",
            path.display(),
            limit >> 20
        ));
    }
    String::from_utf8(bytes).map_err(|_| format!("{}: not UTF-8 text", path.display()))
}

/// The text of a policy file (`.pal` or StackRox `.json`), at most
/// [`MAX_SOURCE_BYTES`](crate::MAX_SOURCE_BYTES).
pub fn read_policy_text(path: &Path) -> Result<String, String> {
    read_text(path, crate::MAX_SOURCE_BYTES)
}

/// Every `.pal` and `.json` file under the given paths (directories recursively, sorted);
/// a path given as a file must be one of those. Unreadable paths are errors, never skipped.
///
/// Inside directories, entries whose names start with `.` are left out: a Kubernetes
/// ConfigMap volume holds each file three times (`p.pal` -> `..data/p.pal` ->
/// `..2026_11_27_.../p.pal`), and editors leave hidden swap files. A directory reached
/// twice (a symbolic link back up the tree) is walked once.
pub fn policy_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let mut walked = HashSet::new();
    for p in paths {
        let meta =
            std::fs::metadata(p).map_err(|e| format!("{}: cannot read: {e}", p.display()))?;
        if meta.is_dir() {
            walk(p, &mut out, &mut walked)?;
        } else if is_policy_file(p) {
            out.push(p.clone());
        } else {
            return Err(format!(
                "{}: not a policy file (expected `.pal`, or `.json` for StackRox policies)",
                p.display()
            ));
        }
    }
    Ok(out)
}

fn is_policy_file(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("pal" | "json"))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, walked: &mut HashSet<PathBuf>) -> Result<(), String> {
    let real = std::fs::canonicalize(dir)
        .map_err(|e| format!("{}: cannot read directory: {e}", dir.display()))?;
    if !walked.insert(real) {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: cannot read directory: {e}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: cannot read directory: {e}", dir.display()))?;
    entries.sort();
    let hidden = |p: &Path| {
        p.file_name()
            .is_some_and(|n| n.as_encoded_bytes().starts_with(b"."))
    };
    for p in entries.into_iter().filter(|p| !hidden(p)) {
        if p.is_dir() {
            walk(&p, out, walked)?;
        } else if is_policy_file(&p) {
            out.push(p);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_policy_files_and_refuses_the_rest() {
        let dir = std::env::temp_dir().join(format!("palisade-files-{}", std::process::id()));
        let sub = dir.join("sub");
        std::fs::create_dir_all(&sub).unwrap();
        for f in ["b.pal", "a.json", "notes.md", "sub/c.pal"] {
            std::fs::write(dir.join(f), "").unwrap();
        }
        let found = policy_files(std::slice::from_ref(&dir)).unwrap();
        let names: Vec<_> = found
            .iter()
            .map(|p| p.strip_prefix(&dir).unwrap().to_path_buf())
            .collect();
        assert_eq!(
            names,
            [
                PathBuf::from("a.json"),
                PathBuf::from("b.pal"),
                PathBuf::from("sub/c.pal")
            ]
        );
        assert!(
            policy_files(&[dir.join("notes.md")])
                .unwrap_err()
                .contains("not a policy file")
        );
        assert!(
            policy_files(&[dir.join("missing")])
                .unwrap_err()
                .contains("cannot read")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn a_configmap_volume_gives_each_file_once_and_loops_end() {
        use std::os::unix::fs::symlink;
        let dir = std::env::temp_dir().join(format!("palisade-cm-{}", std::process::id()));
        let version = dir.join("..2026_11_27_00_00_00.1");
        std::fs::create_dir_all(&version).unwrap();
        std::fs::write(version.join("p.pal"), "").unwrap();
        symlink("..2026_11_27_00_00_00.1", dir.join("..data")).unwrap();
        symlink("..data/p.pal", dir.join("p.pal")).unwrap();
        std::fs::write(dir.join(".p.pal.swp"), "").unwrap();
        // A link back up the tree, under a visible name.
        symlink(".", dir.join("again")).unwrap();
        let found = policy_files(std::slice::from_ref(&dir)).unwrap();
        assert_eq!(found, [dir.join("p.pal")]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
