//! Loading policy files and reporting diagnostics.

pub use palisade_lang::syntax::Items;
use palisade_lang::{Diagnostic, SourceFile, Sources, hir::CheckedSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// A failure that ends the run with exit code 2; the message is already user-facing.
#[derive(Debug)]
pub struct Fatal(pub String);

impl<E: std::fmt::Display> From<E> for Fatal {
    fn from(e: E) -> Self {
        Fatal(e.to_string())
    }
}

/// Every policy file under the given paths ([`palisade_lang::files::policy_files`]).
pub fn policy_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Fatal> {
    palisade_lang::files::policy_files(paths).map_err(Fatal)
}

/// Parsed and checked policy files, or the diagnostics that stopped them.
pub struct Loaded {
    /// The source files.
    pub sources: Sources,
    /// The parsed files.
    pub files: Vec<(usize, palisade_lang::ast::File)>,
    /// The checked set, when there were no errors.
    pub checked: Result<CheckedSet, Vec<Diagnostic>>,
}

/// The built-in policy library (the port of StackRox's default policies), embedded at build time.
pub use palisade_library as builtin;

/// Adds one policy file to `sources`: `.pal` as is, `.json` translated from StackRox's format.
fn add_file(sources: &mut Sources, path: &Path) -> Result<usize, Fatal> {
    let text = palisade_lang::files::read_policy_text(path).map_err(Fatal)?;
    if path.extension().is_some_and(|e| e == "json") {
        let pal = palisade_stackrox::translate_document(&text)
            .map_err(|e| Fatal(format!("{}: {e}", path.display())))?;
        return Ok(sources.add(SourceFile::new(
            format!("{} (translated from StackRox JSON)", path.display()),
            pal,
        )));
    }
    Ok(sources.add(SourceFile::new(path.display().to_string(), text)))
}

/// Reads, parses and checks policy files (and the built-in library when asked); `items`
/// says whether `test` items are parsed (`palisade test`, `compile`) or skipped (commands
/// that only evaluate or list policies). Unreadable files are fatal; language errors are
/// returned.
pub fn load(paths: &[PathBuf], with_builtin: bool, items: Items) -> Result<Loaded, Fatal> {
    let mut sources = Sources::default();
    if with_builtin {
        for (name, text) in builtin::FILES {
            sources.add(SourceFile::new(format!("builtin/{name}"), *text));
        }
    }
    for path in policy_files(paths)? {
        add_file(&mut sources, &path)?;
    }
    let (files, checked) = match items {
        Items::All => palisade_lang::parse_and_check(&sources),
        Items::PoliciesOnly => palisade_lang::parse_and_check_policies(&sources),
    };
    Ok(Loaded {
        sources,
        files,
        checked,
    })
}

/// Whether stderr gets colours.
pub fn color_stderr() -> bool {
    std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
}

/// Diagnostics rendered in full before the rest are counted.
pub const MAX_SHOWN_DIAGNOSTICS: usize = 20;

/// Prints diagnostics to stderr in miette's style (the first [`MAX_SHOWN_DIAGNOSTICS`]).
pub fn print_diagnostics(sources: &Sources, diags: &[Diagnostic]) {
    let theme = if color_stderr() {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    let handler = miette::GraphicalReportHandler::new_themed(theme).with_width(100);
    // A file with thousands of errors shows the first ones: each rendering reads its file,
    // so showing all would take time quadratic in the file, and nobody reads past a page.
    for d in diags.iter().take(MAX_SHOWN_DIAGNOSTICS) {
        let mut out = String::new();
        let report = sources.report(d);
        // The `file:line:col` line first: scripts and editors look for it.
        out.push_str(&sources.to_line(d));
        out.push('\n');
        if handler.render_report(&mut out, &report).is_err() {
            out.push_str(&d.message);
        }
        eprintln!("{out}");
    }
    if diags.len() > MAX_SHOWN_DIAGNOSTICS {
        eprintln!(
            "palisade: {} more diagnostics not shown (fix the ones above first, or use `palisade compile --diagnostics json` to list all)",
            diags.len() - MAX_SHOWN_DIAGNOSTICS
        );
    }
    let errors = diags
        .iter()
        .filter(|d| d.severity == palisade_lang::diag::Severity::Error)
        .count();
    eprintln!(
        "palisade: {errors} error{} in policies",
        if errors == 1 { "" } else { "s" }
    );
}

/// The checked set, or diagnostics printed and exit code 2.
pub fn checked_or_exit(loaded: Loaded, json: bool) -> Result<(Sources, CheckedSet), i32> {
    match loaded.checked {
        Ok(set) => Ok((loaded.sources, set)),
        Err(diags) => {
            if json {
                let items: Vec<serde_json::Value> =
                    diags.iter().map(|d| loaded.sources.to_json(d)).collect();
                eprintln!("{}", serde_json::json!({ "diagnostics": items }));
            } else {
                print_diagnostics(&loaded.sources, &diags);
            }
            Err(2)
        }
    }
}

/// "Now": `PALISADE_NOW` (RFC 3339) or the system clock.
pub fn now() -> Result<i64, Fatal> {
    match std::env::var("PALISADE_NOW") {
        Ok(s) if !s.trim().is_empty() => chrono::DateTime::parse_from_rfc3339(s.trim())
            .map(|t| t.timestamp())
            .map_err(|_| {
                Fatal(format!(
                    "PALISADE_NOW=`{s}` is not an RFC 3339 time such as 2030-01-01T00:00:00Z"
                ))
            }),
        _ => Ok(chrono::Utc::now().timestamp()),
    }
}
