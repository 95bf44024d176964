//! Finding policy files on disk: what `--policies PATH` means for every front end (the CLI,
//! the sidecar).

use std::path::{Path, PathBuf};

/// Every `.pal` and `.json` file under the given paths (directories recursively, sorted);
/// a path given as a file must be one of those. Unreadable paths are errors, never skipped.
pub fn policy_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        let meta =
            std::fs::metadata(p).map_err(|e| format!("{}: cannot read: {e}", p.display()))?;
        if meta.is_dir() {
            walk(p, &mut out)?;
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

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: cannot read directory: {e}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: cannot read directory: {e}", dir.display()))?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
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
}
