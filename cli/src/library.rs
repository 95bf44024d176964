//! `palisade import stackrox`, `palisade policies list|show`.

use crate::load::{self, Fatal};
use palisade_lang::ast::ItemKind;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Output of `policies list`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    /// A table.
    Text,
    /// JSON.
    Json,
}

/// Prints a StackRox JSON file as canonical policy source.
pub fn import_stackrox(file: &Path) -> Result<i32, Fatal> {
    let text = palisade_lang::files::read_policy_text(file).map_err(Fatal)?;
    let pal = palisade_stackrox::translate_document(&text)
        .map_err(|e| Fatal(format!("{}: {e}", file.display())))?;
    let mut sources = palisade_lang::Sources::default();
    let index = sources.add(palisade_lang::SourceFile::new(
        format!("{} (translated)", file.display()),
        pal,
    ));
    // The translation must check like any policy file; it is printed formatted.
    let parsed =
        palisade_lang::parse(&sources, index).map_err(|d| Fatal(sources.to_line(&d[0])))?;
    if let Err(diags) = palisade_lang::check(&sources, &[(index, parsed)]) {
        load::print_diagnostics(&sources, &diags);
        return Ok(2);
    }
    let formatted =
        palisade_lang::format_source(&sources, index).map_err(|d| Fatal(sources.to_line(&d[0])))?;
    crate::output::emit(&formatted)?;
    Ok(0)
}

/// Lists policies, as the configuration in effect leaves them.
pub fn list(
    policies: &[PathBuf],
    builtin: bool,
    format: ListFormat,
    config: &load::ConfigFlags,
) -> Result<i32, Fatal> {
    let loaded = load::load(
        policies,
        builtin || policies.is_empty(),
        load::Items::PoliciesOnly,
    )?;
    let (_, set) = match load::checked_or_exit(loaded, false) {
        Ok(x) => x,
        Err(code) => return Ok(code),
    };
    let mut metas: Vec<palisade_lang::hir::PolicyMeta> =
        set.policies.into_iter().map(|p| p.meta).collect();
    let config = config.apply(&mut metas)?;
    let mut out = String::new();
    match format {
        ListFormat::Json => {
            let rows: Vec<serde_json::Value> = metas
                .iter()
                .map(|m| {
                    serde_json::json!({"name": m.name, "severity": m.severity, "lifecycle": m.stages, "enabled": !m.disabled, "enforcement": m.enforcement, "exclusions": m.exclusions.len(), "soc2": m.soc2, "categories": m.categories})
                })
                .collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
        }
        ListFormat::Text => {
            let width = metas
                .iter()
                .map(|m| m.name.chars().count())
                .max()
                .unwrap_or(4)
                .min(60);
            writeln!(
                out,
                "{:<width$}  {:<8}  {:<21}  {:<7}  {:<29}  SOC 2",
                "NAME", "SEVERITY", "STAGES", "ENABLED", "ENFORCE"
            )?;
            for m in &metas {
                let stages: Vec<&str> = m.stages.iter().map(|s| s.as_str()).collect();
                let enforce = if m.enforcement.is_empty() {
                    "-".to_string()
                } else {
                    m.enforcement.join(",")
                };
                writeln!(
                    out,
                    "{:<width$}  {:<8}  {:<21}  {:<7}  {:<29}  {}",
                    crate::output::shown(&m.name),
                    m.severity.as_str(),
                    stages.join(","),
                    if m.disabled { "no" } else { "yes" },
                    enforce,
                    m.soc2.join(", ")
                )?;
            }
            writeln!(
                out,
                "\n{} policies ({} enabled, {} enforcing){}",
                metas.len(),
                metas.iter().filter(|m| !m.disabled).count(),
                metas
                    .iter()
                    .filter(|m| !m.disabled && !m.enforcement.is_empty())
                    .count(),
                config
                    .map(|c| format!("; configuration: {}", c.display()))
                    .unwrap_or_default()
            )?;
        }
    }
    crate::output::emit(&out)?;
    Ok(0)
}

/// Prints one policy's source, formatted.
pub fn show(name: &str, policies: &[PathBuf]) -> Result<i32, Fatal> {
    let loaded = load::load(policies, policies.is_empty(), load::Items::PoliciesOnly)?;
    for (_, file) in &loaded.files {
        for item in &file.items {
            if let ItemKind::Policy(p) = &item.kind
                && p.name.value == name
            {
                let one = palisade_lang::ast::File {
                    items: vec![item.clone()],
                    trailing_comments: Vec::new(),
                    unplaced_comments: Vec::new(),
                };
                crate::output::emit(&palisade_lang::format_file(&one))?;
                return Ok(0);
            }
        }
    }
    let names: Vec<String> = loaded
        .files
        .iter()
        .flat_map(|(_, f)| f.items.iter())
        .filter_map(|i| match &i.kind {
            ItemKind::Policy(p) => Some(p.name.value.clone()),
            _ => None,
        })
        .collect();
    let hint = palisade_lang::diag::closest(name, names.iter().map(|s| s.as_str()))
        .map(|c| format!("; did you mean `{c}`?"))
        .unwrap_or_default();
    Err(Fatal(format!("no policy named `{name}`{hint}")))
}
