//! The Palisade policy language: text to a checked, typed policy set.
//!
//! Stages: [`parse`] (text to [`ast::File`]), [`check`] (files to [`hir::CheckedSet`]),
//! and [`format`] (AST back to canonical text).

pub mod ast;
mod check;
pub mod diag;
pub mod files;
mod fmt;
pub mod hir;
pub mod lint;
pub mod literal;
pub mod schema;
pub mod soc2;
pub mod span;
pub mod syntax;

pub use diag::{Diagnostic, Sources};
pub use span::{SourceFile, Span};

/// Largest policy file accepted (bytes).
pub const MAX_SOURCE_BYTES: usize = 16 * 1024 * 1024;

/// Parses the file at `index` of `sources`, keeping every item that parsed: returns the
/// file, all errors, and whether an item failed to parse (then checking it would only
/// report names the broken item defines as unknown).
pub fn parse_recover(sources: &Sources, index: usize) -> (ast::File, Vec<Diagnostic>, bool) {
    parse_items(sources, index, syntax::Items::All)
}

fn parse_items(
    sources: &Sources,
    index: usize,
    which: syntax::Items,
) -> (ast::File, Vec<Diagnostic>, bool) {
    match sources.get(index) {
        Some(f) if f.text.len() > MAX_SOURCE_BYTES => (
            ast::File {
                items: Vec::new(),
                trailing_comments: Vec::new(),
                unplaced_comments: Vec::new(),
            },
            vec![
                Diagnostic::error(
                    index,
                    Span::new(0, 0),
                    format!("policy file is larger than {} MiB", MAX_SOURCE_BYTES >> 20),
                    "too large",
                )
                .with_help("split the policies into several files"),
            ],
            true,
        ),
        Some(f) => syntax::parse_items(&f.text, index, which),
        None => (
            ast::File {
                items: Vec::new(),
                trailing_comments: Vec::new(),
                unplaced_comments: Vec::new(),
            },
            Vec::new(),
            false,
        ),
    }
}

/// Parses the file at `index` of `sources`.
pub fn parse(sources: &Sources, index: usize) -> Result<ast::File, Vec<Diagnostic>> {
    match sources.get(index) {
        Some(f) => syntax::parse_file(&f.text, index),
        None => Ok(ast::File {
            items: Vec::new(),
            trailing_comments: Vec::new(),
            unplaced_comments: Vec::new(),
        }),
    }
}

pub use check::check;
pub use fmt::{format_file, format_source, print_expr};

/// The checked set, or every error of the run.
pub type Checked = Result<hir::CheckedSet, Vec<Diagnostic>>;

/// Parses and checks every file of `sources`: the parsed files, and the checked set or every
/// error. Checking goes on past bad literals (one run reports every error); after a syntax
/// error the broken item is missing, so checking would only report its names as unknown.
pub fn parse_and_check(sources: &Sources) -> (Vec<(usize, ast::File)>, Checked) {
    parse_and_check_items(sources, syntax::Items::All)
}

/// [`parse_and_check`] without the `test` items, which are skipped unparsed: for loading
/// policies to evaluate them (tests run with `palisade test`, which parses everything).
/// In the built-in library three quarters of the text is test records.
pub fn parse_and_check_policies(sources: &Sources) -> (Vec<(usize, ast::File)>, Checked) {
    parse_and_check_items(sources, syntax::Items::PoliciesOnly)
}

fn parse_and_check_items(
    sources: &Sources,
    which: syntax::Items,
) -> (Vec<(usize, ast::File)>, Checked) {
    let mut files = Vec::new();
    let mut diags = Vec::new();
    let mut syntax_failed = false;
    for index in 0..sources.files.len() {
        let (file, mut errors, failed) = parse_items(sources, index, which);
        syntax_failed |= failed;
        diags.append(&mut errors);
        files.push((index, file));
    }
    if syntax_failed {
        return (files, Err(diags));
    }
    let checked = match check(sources, &files) {
        Ok(set) if diags.is_empty() => Ok(set),
        Ok(_) => Err(diags),
        Err(mut more) => {
            diags.append(&mut more);
            diags.sort_by_key(|d| (d.file, d.span.start));
            Err(diags)
        }
    };
    (files, checked)
}
