//! `palisade serve`: runs the server binary, `palisade-serve`, kept out of this one so the
//! CLI builds without wasmtime, tokio or hyper.

use crate::load::Fatal;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

/// The server binary's file name on this platform.
fn server_file_name() -> String {
    format!("palisade-serve{}", std::env::consts::EXE_SUFFIX)
}

/// `palisade-serve` next to this executable (how releases and `cargo build` place it),
/// else the name alone, for a lookup on `PATH`.
fn server_binary() -> PathBuf {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(server_file_name())));
    match beside {
        Some(path) if path.is_file() => path,
        _ => PathBuf::from(server_file_name()),
    }
}

/// Runs `palisade-serve` with `args`; on Unix the process becomes the server, so signals
/// (SIGTERM's drain) reach it directly.
pub fn run(args: &[OsString]) -> Result<i32, Fatal> {
    let binary = server_binary();
    let mut command = Command::new(&binary);
    command.args(args);
    let missing = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Fatal(format!(
                "`palisade serve` runs the server binary `{}`, which is neither next to this \
                 executable nor on PATH; build it with `cargo build --release -p palisade-sidecar` \
                 or install it with `cargo install --path bindings/sidecar`",
                server_file_name()
            ))
        } else {
            Fatal(format!("cannot run {}: {e}", binary.display()))
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // `exec` returns only when it failed.
        Err(missing(command.exec()))
    }
    #[cfg(not(unix))]
    {
        let status = command.status().map_err(missing)?;
        Ok(status.code().unwrap_or(2))
    }
}
