//! Go to definition, find references, document symbols.

use crate::analysis::Analysis;
use lsp_types::{DocumentSymbol, Location, SymbolKind};
use palisade_lang::ast::ItemKind;

/// Where the list, macro or policy named at `offset` is defined.
pub fn definition(analysis: &Analysis, file: usize, offset: usize) -> Vec<Location> {
    let Some(o) = analysis.at(file, offset) else {
        return Vec::new();
    };
    analysis
        .definitions(&o.target)
        .into_iter()
        .filter_map(|d| analysis.location(d.file, d.name))
        .collect()
}

/// Every use of the list, macro or policy named at `offset` (with its definition when
/// `include_declaration`).
pub fn references(
    analysis: &Analysis,
    file: usize,
    offset: usize,
    include_declaration: bool,
) -> Vec<Location> {
    let Some(o) = analysis.at(file, offset) else {
        return Vec::new();
    };
    let Some((kind, name)) = analysis.defined_name(&o.target) else {
        return Vec::new();
    };
    let definitions = analysis.definitions(&o.target);
    analysis
        .references(kind, &name)
        .into_iter()
        .filter(|(f, span)| {
            include_declaration
                || !definitions
                    .iter()
                    .any(|d| d.file == *f && d.name.same_as(span))
        })
        .filter_map(|(f, span)| analysis.location(f, span))
        .collect()
}

/// The policies, lists, macros and tests of a file.
pub fn symbols(analysis: &Analysis, file: usize) -> Vec<DocumentSymbol> {
    let Some(f) = analysis.files.get(file) else {
        return Vec::new();
    };
    f.parsed
        .items
        .iter()
        .map(|item| {
            let (name, detail, kind, selection) = match &item.kind {
                ItemKind::Policy(p) => (
                    p.name.value.clone(),
                    "policy",
                    SymbolKind::CLASS,
                    p.name.span,
                ),
                ItemKind::List(l) => (l.name.node.clone(), "list", SymbolKind::ARRAY, l.name.span),
                ItemKind::Macro(m) => (
                    m.name.node.clone(),
                    "macro",
                    SymbolKind::FUNCTION,
                    m.name.span,
                ),
                ItemKind::Test(t) => (
                    t.title.value.clone(),
                    "test",
                    SymbolKind::METHOD,
                    t.title.span,
                ),
            };
            #[allow(deprecated, reason = "the field is required by the type")]
            DocumentSymbol {
                name: if name.is_empty() {
                    "(unnamed)".into()
                } else {
                    name
                },
                detail: Some(detail.into()),
                kind,
                tags: None,
                deprecated: None,
                range: analysis.range(file, item.span),
                selection_range: analysis.range(file, selection),
                children: None,
            }
        })
        .collect()
}
