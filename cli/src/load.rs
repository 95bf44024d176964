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

/// Prints diagnostics to stderr (the first [`MAX_SHOWN_DIAGNOSTICS`]), each once: on a
/// terminal in miette's style (source excerpt, labels, help), elsewhere (CI logs, editors,
/// scripts) as `file:line:col: error: message` with the label and help indented below.
pub fn print_diagnostics(sources: &Sources, diags: &[Diagnostic]) {
    let terminal = std::io::stderr().is_terminal();
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
        if terminal && handler.render_report(&mut out, &sources.report(d)).is_ok() {
            eprintln!("{out}");
            continue;
        }
        eprintln!("{}", sources.to_line(d));
        if !d.label.is_empty() {
            eprintln!("  = {}", d.label);
        }
        if let Some(file) = sources.get(d.file) {
            for related in &d.related {
                let (line, col) = file.line_col(related.span.start);
                eprintln!("  = {}:{line}:{col}: {}", file.name, related.message);
            }
        }
        if let Some(help) = &d.help {
            eprintln!("  help: {help}");
        }
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
    let warnings = diags.len() - errors;
    let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    let summary = match (errors, warnings) {
        (_, 0) => count(errors, "error"),
        (0, _) => count(warnings, "warning"),
        _ => format!("{}, {}", count(errors, "error"), count(warnings, "warning")),
    };
    eprintln!("palisade: {summary} in policies");
}

/// Warnings on the policy files loaded (the built-in library's are not shown): conditions
/// that compile but never fire where data is missing ([`palisade_lang::lint`]).
pub fn warnings(loaded: &Loaded) -> Vec<Diagnostic> {
    let files: Vec<(usize, palisade_lang::ast::File)> = loaded
        .files
        .iter()
        .filter(|(i, _)| {
            loaded
                .sources
                .get(*i)
                .is_some_and(|f| !f.name.starts_with("builtin/"))
        })
        .cloned()
        .collect();
    palisade_lang::lint::missing_data_traps(&loaded.sources, &files)
}

/// The checked set, or diagnostics printed and exit code 2.
/// Warnings are printed as well (with the errors in JSON; before them in text).
pub fn checked_or_exit(loaded: Loaded, json: bool) -> Result<(Sources, CheckedSet), i32> {
    let warnings = warnings(&loaded);
    if json {
        let errors = loaded
            .checked
            .as_ref()
            .err()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if !warnings.is_empty() || !errors.is_empty() {
            let items: Vec<serde_json::Value> = warnings
                .iter()
                .chain(errors)
                .map(|d| loaded.sources.to_json(d))
                .collect();
            eprintln!("{}", serde_json::json!({ "diagnostics": items }));
        }
    } else if !warnings.is_empty() {
        print_diagnostics(&loaded.sources, &warnings);
    }
    match loaded.checked {
        Ok(set) => Ok((loaded.sources, set)),
        Err(diags) => {
            if !json {
                print_diagnostics(&loaded.sources, &diags);
            }
            Err(2)
        }
    }
}

/// Which `palisade.toml` applies (`check`, `policies list`).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ConfigFlags {
    /// A palisade.toml: which policies run, what they enforce, their severity, exclusions
    /// (docs/config.md). Default: ./palisade.toml when it exists.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Ignore ./palisade.toml.
    #[arg(long, conflicts_with = "config")]
    pub no_config: bool,
}

impl ConfigFlags {
    /// The configuration file in effect, if any.
    pub fn path(&self) -> Option<PathBuf> {
        match &self.config {
            Some(p) => Some(p.clone()),
            None if self.no_config => None,
            None => {
                let default = PathBuf::from(palisade_config::FILE_NAME);
                default.is_file().then_some(default)
            }
        }
    }

    /// Applies the configuration in effect to the policies' metadata; returns its file.
    pub fn apply(
        &self,
        policies: &mut [palisade_lang::hir::PolicyMeta],
    ) -> Result<Option<PathBuf>, Fatal> {
        let Some(path) = self.path() else {
            return Ok(None);
        };
        let name = path.display().to_string();
        let text = palisade_lang::files::read_text(&path, palisade_config::MAX_CONFIG_BYTES)
            .map_err(Fatal)?;
        palisade_config::parse(&name, &text)
            .and_then(|c| c.apply(&name, policies))
            .map_err(|e| Fatal(e.to_string()))?;
        Ok(Some(path))
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
