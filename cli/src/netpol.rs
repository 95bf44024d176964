//! `palisade netpol`: the connectivity map of NetworkPolicies over the workloads of
//! Kubernetes manifests.

use crate::inputs;
use crate::load::Fatal;
use crate::output;
use palisade_netpol::{Analyzer, Diagnostic, Level, MapFormat, SourcedObject};
use serde_json::Value;
use std::path::PathBuf;

/// `palisade netpol` subcommands.
#[derive(clap::Subcommand)]
pub enum Action {
    /// Print every connection the NetworkPolicies allow between workloads, external
    /// address ranges and the ingress controller, as `roxctl netpol connectivity map`.
    Map {
        /// Manifest files or directories (.yaml, .yml, .json, searched recursively);
        /// several may follow one --input.
        #[arg(long = "input", num_args = 1.., value_name = "PATH", required = true)]
        input: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "txt")]
        format: FormatArg,
        /// The namespace of objects that name none (as `kubectl --namespace`; default
        /// `default`). An object naming another namespace is an error.
        #[arg(long, short = 'n')]
        namespace: Option<String>,
    },
}

/// `--format` of `netpol map`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum FormatArg {
    /// `src => dst : connections` lines.
    Txt,
    /// A JSON array of {src, dst, conn}.
    Json,
    /// Graphviz (render with `dot -Tsvg`).
    Dot,
    /// CSV with a header.
    Csv,
    /// A Markdown table.
    Md,
}

impl FormatArg {
    fn map_format(self) -> MapFormat {
        match self {
            FormatArg::Txt => MapFormat::Txt,
            FormatArg::Json => MapFormat::Json,
            FormatArg::Dot => MapFormat::Dot,
            FormatArg::Csv => MapFormat::Csv,
            FormatArg::Md => MapFormat::Md,
        }
    }
}

/// Runs a `netpol` subcommand; the exit code.
pub fn run(action: Action) -> Result<i32, Fatal> {
    match action {
        Action::Map {
            input,
            format,
            namespace,
        } => map(&input, format, namespace),
    }
}

/// Manifest objects of every input, by file. A file that holds no Kubernetes object is
/// skipped with a warning; malformed YAML or JSON is an error.
fn read_objects(paths: &[PathBuf]) -> Result<Vec<(String, Vec<Value>)>, Fatal> {
    let mut out = Vec::new();
    for (display, text) in inputs::read_texts(paths)? {
        match palisade_adapters::manifest_objects(&text) {
            Ok(objects) => out.push((display, objects)),
            Err(palisade_adapters::AdapterError::Unrecognized(why)) => {
                eprintln!("palisade: warning: {display}: skipped: {why}");
            }
            Err(e) => return Err(Fatal(format!("{display}:{e}"))),
        }
    }
    Ok(out)
}

fn print_diagnostics(diagnostics: &[Diagnostic]) -> bool {
    for d in diagnostics {
        eprintln!("palisade: {d}");
    }
    diagnostics.iter().any(|d| d.level == Level::Error)
}

fn map(paths: &[PathBuf], format: FormatArg, namespace: Option<String>) -> Result<i32, Fatal> {
    let files = read_objects(paths)?;
    let objects: Vec<SourcedObject<'_>> = files
        .iter()
        .flat_map(|(file, objects)| {
            objects
                .iter()
                .map(move |object| SourcedObject { file, object })
        })
        .collect();
    let strict = namespace.is_some();
    let default_namespace = namespace.unwrap_or_else(|| "default".into());
    let (topology, diagnostics) = palisade_netpol::build(&objects, &default_namespace, strict);
    if print_diagnostics(&diagnostics) {
        eprintln!(
            "palisade: no map: the errors above would make the API server refuse these objects"
        );
        return Ok(2);
    }
    if topology.policies.is_empty() {
        eprintln!("palisade: warning: no NetworkPolicy in the input: every connection is allowed");
    }
    let (map, warnings) = Analyzer::new(&topology).map();
    print_diagnostics(&warnings);
    output::emit(&palisade_netpol::render(&map, format.map_format()))?;
    Ok(0)
}
