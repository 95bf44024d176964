//! `palisade playground`: serves the built playground (wasm/playground/dist) on localhost.

use crate::load::Fatal;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

fn content_type(p: &Path) -> &'static str {
    match p.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("css") => "text/css",
        Some("wasm") => "application/wasm",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// Serves `dir` on `listen` until interrupted.
pub fn run(dir: &Path, listen: &str) -> Result<i32, Fatal> {
    let index = dir.join("index.html");
    if !index.is_file() {
        return Err(Fatal(format!(
            "{}: no playground build here; build it with `wasm/build.sh && (cd wasm/playground && npm ci && npm run build)`",
            dir.display()
        )));
    }
    let root = dir
        .canonicalize()
        .map_err(|e| Fatal(format!("{}: {e}", dir.display())))?;
    let listener =
        TcpListener::bind(listen).map_err(|e| Fatal(format!("cannot listen on {listen}: {e}")))?;
    let addr = listener.local_addr().map_err(|e| Fatal(e.to_string()))?;
    eprintln!(
        "palisade playground: http://{addr}/ (serving {}; Ctrl-C to stop)",
        root.display()
    );
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let mut line = String::new();
        if BufReader::new(&stream).read_line(&mut line).is_err() {
            continue;
        }
        let path = line
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .split(['?', '#'])
            .next()
            .unwrap_or("/");
        let rel = if path == "/" {
            "index.html"
        } else {
            path.trim_start_matches('/')
        };
        let file: PathBuf = root.join(rel);
        // Only files inside the served directory.
        let resolved = file
            .canonicalize()
            .ok()
            .filter(|f| f.starts_with(&root) && f.is_file());
        let response = match resolved.and_then(|f| std::fs::read(&f).ok().map(|body| (f, body))) {
            Some((f, body)) => {
                let mut r = format!("HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", content_type(&f), body.len()).into_bytes();
                r.extend(body);
                r
            }
            None => {
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found"
                    .to_vec()
            }
        };
        let _ = stream.write_all(&response);
    }
    Ok(0)
}
