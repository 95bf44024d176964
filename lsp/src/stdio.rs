//! `palisade lsp`: the session over stdin and stdout, with the workspace folders' policy
//! files read from disk.

use crate::Session;
use lsp_server::Message;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// Directory entries looked at when reading a workspace folder: a folder as large as a
/// home directory is read in part, not walked for minutes.
const MAX_ENTRIES: usize = 20_000;
/// Policy files read from a workspace folder.
const MAX_FILES: usize = 2_000;

/// Serves one client on stdin and stdout until it exits; returns the exit code (0 after
/// `shutdown` then `exit`).
pub fn serve() -> std::io::Result<i32> {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    serve_on(&mut stdin.lock(), &mut stdout.lock())
}

/// Serves one client on any reader and writer (the tests drive it in memory).
pub fn serve_on(input: &mut impl BufRead, output: &mut impl Write) -> std::io::Result<i32> {
    // A clock that does not parse is said at once, not replaced by the system's.
    if let Ok(text) = std::env::var("PALISADE_NOW")
        && !text.trim().is_empty()
        && palisade_engine::record::Timestamp::parse(text.trim()).is_none()
    {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("PALISADE_NOW=`{text}` is not an RFC 3339 time such as 2030-01-01T00:00:00Z"),
        ));
    }
    let mut session = Session::new().with_folders(read_folder).with_clock(now);
    loop {
        let message = match Message::read(input) {
            Ok(Some(message)) => message,
            Ok(None) => break,
            // A message whose body is not JSON-RPC (its length was read, so the next one
            // starts where it should): said on stderr, and the session goes on.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                eprintln!("palisade lsp: a message was not read: {e}");
                continue;
            }
            Err(e) => return Err(e),
        };
        for reply in session.handle(message) {
            reply.write(output)?;
        }
        output.flush()?;
        if session.exited() {
            break;
        }
    }
    Ok(session.exit_code())
}

/// The time now (`PALISADE_NOW`, RFC 3339, when set, as for `palisade test`; `serve_on`
/// refuses one that does not parse).
fn now() -> i64 {
    let system = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    };
    match std::env::var("PALISADE_NOW") {
        Ok(text) => {
            palisade_engine::record::Timestamp::parse(text.trim()).map_or_else(system, |t| t.0)
        }
        Err(_) => system(),
    }
}

/// The `.pal` files under a `file:` folder URI: (URI, text), sorted by path. Hidden
/// entries, `node_modules` and `target` are skipped; unreadable files are left out (the
/// editor shows nothing for them rather than failing the workspace).
pub fn read_folder(uri: &str) -> Vec<(String, String)> {
    let Some(root) = path_of(uri) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut pending = vec![root];
    let mut seen = 0usize;
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for p in entries.into_iter().rev() {
            seen += 1;
            if seen > MAX_ENTRIES || found.len() >= MAX_FILES {
                return finish(found);
            }
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with('.') || name == "node_modules" || name == "target" {
                continue;
            }
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if meta.is_dir() {
                pending.push(p);
            } else if meta.is_file() && p.extension().is_some_and(|e| e == "pal") {
                found.push(p);
            }
        }
    }
    finish(found)
}

fn finish(mut paths: Vec<PathBuf>) -> Vec<(String, String)> {
    paths.sort();
    paths
        .into_iter()
        .filter_map(|p| {
            let text = palisade_lang::files::read_policy_text(&p).ok()?;
            Some((uri_of(&p), text))
        })
        .collect()
}

/// The path of a `file:` URI (percent-decoded).
pub fn path_of(uri: &str) -> Option<PathBuf> {
    let rest = uri.strip_prefix("file://")?;
    // `file://host/path`: only the local host.
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    if !rest.starts_with('/') {
        return None;
    }
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes.get(i),
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (Some(b'%'), Some(hi), Some(lo)) => {
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                i += 3;
            }
            (Some(&b), _, _) => {
                out.push(b);
                i += 1;
            }
            (None, _, _) => break,
        }
    }
    String::from_utf8(out).ok().map(PathBuf::from)
}

/// The `file:` URI of an absolute path (percent-encoded as editors encode it).
pub fn uri_of(path: &Path) -> String {
    let mut out = String::from("file://");
    for b in path.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_uris_and_paths_convert_both_ways() {
        let path = Path::new("/home/a b/pöl%icies/x.pal");
        let uri = uri_of(path);
        assert_eq!(uri, "file:///home/a%20b/p%C3%B6l%25icies/x.pal");
        assert_eq!(path_of(&uri).as_deref(), Some(path));
        assert_eq!(path_of("file://elsewhere/x"), None);
        assert_eq!(path_of("https://x/y"), None);
        assert_eq!(
            path_of("file:///bad%zz").as_deref(),
            Some(Path::new("/bad%zz"))
        );
    }
}

#[cfg(test)]
mod folder_tests {
    use super::*;

    #[test]
    fn a_folder_is_read_in_bounds_without_hidden_entries_or_links() {
        let dir = std::env::temp_dir().join(format!("palisade-lsp-folder-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["a", ".git", "node_modules", "target", "a/b"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap_or_default();
        }
        for file in [
            "a/one.pal",
            "a/b/two.pal",
            ".git/x.pal",
            "node_modules/y.pal",
            "target/z.pal",
            "a/notes.txt",
        ] {
            std::fs::write(dir.join(file), "list l = [\"x\"]\n").unwrap_or_default();
        }
        let _ = std::os::unix::fs::symlink(dir.join("a"), dir.join("link"));
        let found: Vec<String> = read_folder(&uri_of(&dir))
            .into_iter()
            .map(|(uri, _)| uri)
            .collect();
        let base = uri_of(&dir);
        assert_eq!(
            found,
            [format!("{base}/a/b/two.pal"), format!("{base}/a/one.pal")]
        );
        // Past MAX_FILES, the rest are left out.
        for i in 0..MAX_FILES + 5 {
            std::fs::write(dir.join(format!("many{i:05}.pal")), "").unwrap_or_default();
        }
        assert_eq!(read_folder(&uri_of(&dir)).len(), MAX_FILES);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
