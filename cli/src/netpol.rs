//! `palisade netpol`: the connectivity map of NetworkPolicies over the workloads of
//! Kubernetes manifests, the paths observed flows leave unused, and NetworkPolicies
//! generated from flows.

use crate::inputs;
use crate::load::Fatal;
use crate::output;
use palisade_netpol::{
    Analyzer, Diagnostic, Flow, GenerateOptions, Level, MapFormat, Observed, Topology,
};
use serde_json::Value;
use std::collections::BTreeMap;
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
    /// List the connections the NetworkPolicies allow that no observed flow used (the
    /// paths to close), with totals per namespace.
    Unused {
        /// Manifests and flows (network_flow records, Hubble `hubble observe -o json`),
        /// files or directories.
        #[arg(long = "input", num_args = 1.., value_name = "PATH", required = true)]
        input: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "txt")]
        format: ReportFormat,
        /// The namespace of objects that name none.
        #[arg(long, short = 'n')]
        namespace: Option<String>,
    },
    /// Write NetworkPolicies (YAML, one per workload) that allow exactly the observed
    /// flows, checked with the analyzer; the change against the input's policies goes to
    /// stderr.
    Generate {
        /// Flows (network_flow records, Hubble JSON) and manifests, files or directories.
        #[arg(long = "input", num_args = 1.., value_name = "PATH", required = true)]
        input: Vec<PathBuf>,
        /// Ingress rules only (egress stays open), as StackRox generates.
        #[arg(long)]
        ingress_only: bool,
        /// `yaml` (the policies) or `json` (policies, change and verification).
        #[arg(long, value_enum, default_value = "yaml")]
        format: GenerateFormat,
        /// The namespace of objects that name none.
        #[arg(long, short = 'n')]
        namespace: Option<String>,
    },
}

/// `--format` of `netpol unused`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ReportFormat {
    /// Text.
    Txt,
    /// JSON.
    Json,
}

/// `--format` of `netpol generate`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum GenerateFormat {
    /// The policies as YAML documents.
    Yaml,
    /// `{policies, change, verification, flows}`.
    Json,
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
        Action::Unused {
            input,
            format,
            namespace,
        } => unused(&input, format, namespace),
        Action::Generate {
            input,
            ingress_only,
            format,
            namespace,
        } => generate(&input, ingress_only, format, namespace),
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
    let topology = match topology(&files, namespace) {
        Ok(t) => t,
        Err(code) => return Ok(code),
    };
    if topology.policies.is_empty() {
        eprintln!("palisade: warning: no NetworkPolicy in the input: every connection is allowed");
    }
    let Some((map, warnings)) = analyze(&topology) else {
        return Ok(2);
    };
    print_diagnostics(&warnings);
    output::emit(&palisade_netpol::render(&map, format.map_format()))?;
    Ok(0)
}

/// The map of a topology, or `None` after saying why it is too large to make.
fn analyze(topology: &Topology) -> Option<(palisade_netpol::ConnectivityMap, Vec<Diagnostic>)> {
    let analyzer = Analyzer::new(topology);
    if let Err(why) = analyzer.check_size() {
        eprintln!("palisade: error: {why}");
        return None;
    }
    Some(analyzer.map())
}

/// The manifests and flows of the inputs: each file is Kubernetes manifests or flows
/// (network_flow records, Hubble JSON); any other file is skipped with a warning.
struct Inputs {
    manifests: Vec<(String, Vec<Value>)>,
    flows: Vec<Flow>,
    diagnostics: Vec<Diagnostic>,
    observed: Observed,
}

fn read_inputs(paths: &[PathBuf]) -> Result<Inputs, Fatal> {
    let mut inputs = Inputs {
        manifests: Vec::new(),
        flows: Vec::new(),
        diagnostics: Vec::new(),
        observed: Observed::default(),
    };
    let mut unread: BTreeMap<String, usize> = BTreeMap::new();
    for (display, text) in inputs::read_texts(paths)? {
        let converted = match palisade_adapters::convert(&text) {
            Ok(c) => c,
            Err(palisade_adapters::AdapterError::Unrecognized(why)) => {
                eprintln!("palisade: warning: {display}: skipped: {why}");
                continue;
            }
            Err(e) => return Err(Fatal(format!("{display}:{e}"))),
        };
        if converted.format == Some(palisade_adapters::Format::Kubernetes) {
            let objects = palisade_adapters::manifest_objects(&text)
                .map_err(|e| Fatal(format!("{display}:{e}")))?;
            inputs.manifests.push((display, objects));
            continue;
        }
        for (why, n) in &converted.skipped {
            *unread
                .entry(format!("{why} (skipped when read)"))
                .or_default() += n;
        }
        let (flows, diagnostics) =
            palisade_netpol::read_flows(&display, &converted.records, &mut unread);
        if flows.is_empty() && diagnostics.is_empty() && converted.skipped.is_empty() {
            eprintln!("palisade: warning: {display}: skipped: no network flows and no manifests");
        }
        inputs.flows.extend(flows);
        inputs.diagnostics.extend(diagnostics);
    }
    inputs.observed.flows = unread.values().sum();
    inputs.observed.unresolved = unread;
    Ok(inputs)
}

/// The topology of the manifests, or the exit code 2 after the errors that prevent it.
fn topology(
    manifests: &[(String, Vec<Value>)],
    namespace: Option<String>,
) -> Result<Topology, i32> {
    let strict = namespace.is_some();
    let default_namespace = namespace.unwrap_or_else(|| "default".into());
    let objects = palisade_netpol::sourced(manifests);
    let (topology, diagnostics) = palisade_netpol::build(&objects, &default_namespace, strict);
    if print_diagnostics(&diagnostics) {
        eprintln!(
            "palisade: no result: the errors above would make the API server refuse these objects"
        );
        return Err(2);
    }
    Ok(topology)
}

fn unused(
    paths: &[PathBuf],
    format: ReportFormat,
    namespace: Option<String>,
) -> Result<i32, Fatal> {
    let mut inputs = read_inputs(paths)?;
    let mut topology = match topology(&inputs.manifests, namespace) {
        Ok(t) => t,
        Err(code) => return Ok(code),
    };
    print_diagnostics(&inputs.diagnostics);
    if inputs.manifests.is_empty() {
        return Err(Fatal("no manifests among the inputs: the policies and workloads to judge come from Kubernetes manifests".into()));
    }
    print_diagnostics(&palisade_netpol::resolve(
        &mut topology,
        &inputs.flows,
        &mut inputs.observed,
    ));
    let Some((map, warnings)) = analyze(&topology) else {
        return Ok(2);
    };
    print_diagnostics(&warnings);
    let report = palisade_netpol::unused(&map, &inputs.observed);
    match format {
        ReportFormat::Txt => output::emit(&palisade_netpol::render_unused(&report))?,
        ReportFormat::Json => output::emit(&(serde_json::to_string_pretty(&report)? + "\n"))?,
    }
    Ok(0)
}

fn generate(
    paths: &[PathBuf],
    ingress_only: bool,
    format: GenerateFormat,
    namespace: Option<String>,
) -> Result<i32, Fatal> {
    let mut inputs = read_inputs(paths)?;
    let mut topology = match topology(&inputs.manifests, namespace) {
        Ok(t) => t,
        Err(code) => return Ok(code),
    };
    print_diagnostics(&inputs.diagnostics);
    if inputs.flows.is_empty() {
        return Err(Fatal("no network flows among the inputs: pass network_flow records or Hubble flows (hubble observe -o json)".into()));
    }
    print_diagnostics(&palisade_netpol::resolve(
        &mut topology,
        &inputs.flows,
        &mut inputs.observed,
    ));
    if let Err(why) = Analyzer::new(&topology).check_size() {
        eprintln!("palisade: error: {why}");
        return Ok(2);
    }
    let observed = &inputs.observed;
    let generated =
        palisade_netpol::generate(&topology, observed, GenerateOptions { ingress_only });
    print_diagnostics(&generated.diagnostics);
    let verification = palisade_netpol::verify(&topology, observed, &generated.policies);
    let change = &generated.change;
    match format {
        GenerateFormat::Yaml => {
            let yaml = if generated.policies.is_empty() {
                String::new()
            } else {
                serde_saphyr::to_string_multiple(&generated.policies)
                    .map_err(|e| Fatal(format!("cannot write YAML: {e}")))?
            };
            output::emit(&yaml)?;
        }
        GenerateFormat::Json => {
            let doc = serde_json::json!({
                "policies": generated.policies,
                "change": change,
                "verification": verification,
                "flows": {"read": observed.flows, "used": observed.resolved(), "not_used": observed.unresolved},
            });
            output::emit(&(serde_json::to_string_pretty(&doc)? + "\n"))?;
        }
    }
    eprintln!(
        "palisade: {} policies from {} of {} flows; add {}, replace {}, redundant {}",
        generated.policies.len(),
        observed.resolved(),
        observed.flows,
        list(&change.add),
        list(&change.replace),
        list(&change.redundant)
    );
    for (why, n) in &observed.unresolved {
        eprintln!("palisade: warning: {n} flow(s) not used: {why}");
    }
    if verification.is_exact() {
        eprintln!(
            "palisade: verified: the generated policies allow every observed flow and no other connection between workloads (DNS to kube-dns aside)"
        );
        Ok(0)
    } else {
        for m in &verification.missing {
            eprintln!("palisade: error: not allowed by the generated policies: {m}");
        }
        for x in &verification.extra {
            eprintln!("palisade: warning: allowed but never observed: {x}");
        }
        Ok(if verification.missing.is_empty() {
            0
        } else {
            1
        })
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        format!("{} ({})", items.len(), items.join(", "))
    }
}
