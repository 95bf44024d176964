//! `palisade`: check records against policies, compile, format and test policies.

mod baseline;
mod check;
mod evidence;
mod inputs;
mod library;
mod load;
mod netpol;
mod output;
mod reports;
mod serve;
mod serve_static;
mod test_cmd;

use clap::{Parser, Subcommand};
use load::Fatal;
use palisade_lang::hir::Severity;
use palisade_lang::schema::Stage;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "palisade",
    version,
    about = "Policy checks for containers and Kubernetes, with SOC 2 evidence"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum StageArg {
    Build,
    Deploy,
    Runtime,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum SeverityArg {
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Emit {
    /// Only check; print nothing on success.
    None,
    /// A readable listing of the compiled IR.
    Ir,
    /// The policies as a Rust module, for hosts that embed a fixed set
    /// (see docs/codegen.md).
    Rust,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum DiagFormat {
    /// miette's rendering.
    Text,
    /// Structured JSON on stderr.
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Evaluate policies over records.
    Check {
        /// A policy file or directory (repeatable).
        #[arg(long = "policies")]
        policies: Vec<PathBuf>,
        /// A compiled bundle (from `palisade compile -o`).
        #[arg(long)]
        bundle: Option<PathBuf>,
        /// Also load the built-in policy library.
        #[arg(long)]
        builtin: bool,
        /// Also evaluate disabled policies.
        #[arg(long)]
        all: bool,
        /// Files or directories (searched recursively for .json, .jsonl, .ndjson, .yaml,
        /// .yml), or `-` for stdin; several may follow one --input. Read: records
        /// (docs/records.md: a JSON object, array or JSON Lines), Kubernetes manifests
        /// (YAML or JSON, multi-document, List), Trivy and Grype JSON reports, Falco and
        /// Tetragon JSON events, AdmissionReviews; the format is detected from content.
        #[arg(long = "input", num_args = 1.., value_name = "PATH")]
        input: Vec<PathBuf>,
        /// Only policies of this stage.
        #[arg(long, value_enum)]
        lifecycle: Option<StageArg>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: output::Format,
        /// Exit 1 when a violation at or above this severity exists (default: any enforced violation).
        #[arg(long = "fail-on", value_enum)]
        fail_on: Option<SeverityArg>,
        /// Explain each violation and, for policies that did not fire, the first failing condition.
        #[arg(long)]
        explain: bool,
        /// The namespace of manifest objects that name none (as `kubectl --namespace`;
        /// default `default`). An object naming another namespace is an error.
        #[arg(long, short = 'n')]
        namespace: Option<String>,
        #[command(flatten)]
        config: load::ConfigFlags,
        /// Do not show each violated policy's remediation (text output).
        #[arg(long)]
        no_remediation: bool,
        #[command(flatten)]
        evidence: evidence::EvidenceFlags,
        /// Process baselines (a file of baseline records, from `palisade baseline learn`):
        /// a process outside a locked one violates "Unauthorized Process Execution".
        /// Repeatable; a malformed file is an error naming the record.
        #[arg(long = "baselines", value_name = "FILE")]
        baselines: Vec<PathBuf>,
    },
    /// Parse and type-check policies; optionally write a bundle or print the IR.
    Compile {
        /// Policy files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Write a compiled bundle here.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        /// Print a listing of the compiled IR.
        #[arg(long, value_enum, default_value = "none")]
        emit: Emit,
        /// How to print diagnostics.
        #[arg(long = "diagnostics", value_enum, default_value = "text")]
        diagnostics: DiagFormat,
    },
    /// Format policy files canonically.
    Fmt {
        /// Only check; exit 1 when a file is not formatted.
        #[arg(long)]
        check: bool,
        /// Policy files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Run the test cases written next to the policies.
    Test {
        /// Policy files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Print the records the engine sees for inputs of any supported format.
    Convert {
        /// Input files (`-` for stdin).
        #[arg(long = "input", required = true)]
        input: Vec<PathBuf>,
        /// The namespace of manifest objects that name none (as `kubectl --namespace`;
        /// default `default`). An object naming another namespace is an error.
        #[arg(long, short = 'n')]
        namespace: Option<String>,
    },
    /// Network segmentation: the connectivity map NetworkPolicies allow (as `roxctl netpol
    /// connectivity map`), the allowed paths no observed flow used, and NetworkPolicies
    /// generated from flows.
    Netpol {
        #[command(subcommand)]
        action: netpol::Action,
    },
    /// Serve the browser playground (built by wasm/build.sh and `npm run build` in wasm/playground).
    Playground {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// The built playground.
        #[arg(long, default_value = "wasm/playground/dist")]
        dir: PathBuf,
    },
    /// The sidecar (checks and Kubernetes admission over HTTP(S)): runs the separate
    /// `palisade-serve` binary with these arguments (`palisade serve --help` lists them).
    #[command(disable_help_flag = true)]
    Serve {
        /// Arguments of `palisade-serve`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Publish events from files (records, Falco, Tetragon) to the NATS JetStream stream that
    /// `palisade serve --events` consumes, with ids that make a replay add nothing; runs
    /// `palisade-serve publish` with these arguments (docs/events.md).
    #[command(disable_help_flag = true)]
    Publish {
        /// Arguments of `palisade-serve publish`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// SOC 2 evidence logs: create a signing key, verify logs, print a checkpoint, the OSCAL
    /// component definition of the policies (docs/evidence.md).
    Evidence {
        #[command(subcommand)]
        action: evidence::Action,
    },
    /// Process allow lists: learn baselines from process events, lock and edit them,
    /// export them to Tetragon and Falco (docs/baselines.md).
    Baseline {
        #[command(subcommand)]
        action: baseline::Action,
    },
    /// A SOC 2 report of a period from verified evidence logs: HTML, JSON, OSCAL
    /// assessment results or OpenReports.
    Report(evidence::ReportArgs),
    /// The language server for editors, on stdin and stdout: diagnostics, hover,
    /// completion, definitions, references, formatting and fixes (docs/editors.md).
    Lsp {
        /// Accepted for editors that pass it (stdio is the only transport).
        #[arg(long)]
        stdio: bool,
    },
    /// Translate policies from other engines.
    Import {
        #[command(subcommand)]
        from: ImportFrom,
    },
    /// The built-in policy library (and any `--policies`): list or show policies.
    Policies {
        #[command(subcommand)]
        action: PoliciesAction,
    },
}

#[derive(Subcommand)]
enum ImportFrom {
    /// Print StackRox / Red Hat ACS policy JSON (one policy or `{"policies": [...]}`) as policy source.
    Stackrox {
        /// The JSON file.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum PoliciesAction {
    /// One line per policy: name, severity, stages, enabled, SOC 2 criteria.
    List {
        /// Policy files or directories to list instead of (or with --builtin, besides) the library.
        #[arg(long = "policies")]
        policies: Vec<PathBuf>,
        /// Also list the built-in library when --policies is given.
        #[arg(long)]
        builtin: bool,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: library::ListFormat,
        #[command(flatten)]
        config: load::ConfigFlags,
    },
    /// Print one policy's source.
    Show {
        /// The policy's name.
        name: String,
        /// Policy files or directories to search instead of the library.
        #[arg(long = "policies")]
        policies: Vec<PathBuf>,
    },
}

fn stage(s: StageArg) -> Stage {
    match s {
        StageArg::Build => Stage::Build,
        StageArg::Deploy => Stage::Deploy,
        StageArg::Runtime => Stage::Runtime,
    }
}

fn severity(s: SeverityArg) -> Severity {
    match s {
        SeverityArg::Low => Severity::Low,
        SeverityArg::Medium => Severity::Medium,
        SeverityArg::High => Severity::High,
        SeverityArg::Critical => Severity::Critical,
    }
}

fn run(cli: Cli) -> Result<i32, Fatal> {
    match cli.command {
        Command::Check {
            policies,
            bundle,
            builtin,
            all,
            input,
            lifecycle,
            format,
            fail_on,
            explain,
            namespace,
            config,
            no_remediation,
            evidence,
            baselines,
        } => check::run(check::CheckArgs {
            policies,
            bundle,
            builtin,
            all,
            input,
            lifecycle: lifecycle.map(stage),
            format,
            fail_on: fail_on.map(severity),
            explain,
            convert: palisade_adapters::ConvertOptions { namespace },
            config,
            no_remediation,
            evidence,
            baselines,
        }),
        Command::Compile {
            paths,
            output,
            emit,
            diagnostics,
        } => {
            let loaded = load::load(&paths, false, load::Items::All)?;
            let (_, set) = match load::checked_or_exit(loaded, diagnostics == DiagFormat::Json) {
                Ok(x) => x,
                Err(code) => return Ok(code),
            };
            let program = palisade_engine::compile(&set)?;
            match emit {
                Emit::None => {}
                Emit::Ir => output::emit(&program.listing())?,
                Emit::Rust => output::emit(
                    &palisade_engine::codegen::rust_module(&program)
                        .map_err(|e| Fatal(e.to_string()))?,
                )?,
            }
            if let Some(path) = output {
                std::fs::write(&path, palisade_engine::bundle::write_bundle(&program))
                    .map_err(|e| Fatal(format!("{}: cannot write: {e}", path.display())))?;
            }
            eprintln!(
                "palisade: {} polic{} checked",
                set.policies.len(),
                if set.policies.len() == 1 { "y" } else { "ies" }
            );
            Ok(0)
        }
        Command::Fmt { check, paths } => fmt(check, &paths),
        Command::Test { paths } => test_cmd::run(&paths),
        Command::Convert { input, namespace } => {
            inputs::convert(&input, &palisade_adapters::ConvertOptions { namespace })
        }
        Command::Playground { listen, dir } => serve_static::run(&dir, &listen),
        Command::Netpol { action } => netpol::run(action),
        Command::Evidence { action } => evidence::run(action),
        Command::Baseline { action } => baseline::run(action),
        Command::Report(args) => evidence::report(args),
        Command::Serve { args } => serve::run(&args),
        Command::Publish { args } => {
            let mut all = vec![std::ffi::OsString::from("publish")];
            all.extend(args);
            serve::run(&all)
        }
        Command::Lsp { stdio: _ } => {
            palisade_lsp::stdio::serve().map_err(|e| Fatal(format!("lsp: {e}")))
        }
        Command::Import {
            from: ImportFrom::Stackrox { file },
        } => library::import_stackrox(&file),
        Command::Policies {
            action:
                PoliciesAction::List {
                    policies,
                    builtin,
                    format,
                    config,
                },
        } => library::list(&policies, builtin, format, &config),
        Command::Policies {
            action: PoliciesAction::Show { name, policies },
        } => library::show(&name, &policies),
    }
}

fn fmt(check: bool, paths: &[PathBuf]) -> Result<i32, Fatal> {
    let mut unformatted = 0;
    for path in load::policy_files(paths)? {
        let text = palisade_lang::files::read_policy_text(&path).map_err(Fatal)?;
        let mut sources = palisade_lang::Sources::default();
        let index = sources.add(palisade_lang::SourceFile::new(
            path.display().to_string(),
            text.clone(),
        ));
        let formatted = match palisade_lang::format_source(&sources, index) {
            Ok(f) => f,
            Err(diags) => {
                load::print_diagnostics(&sources, &diags);
                return Ok(2);
            }
        };
        if formatted != text {
            unformatted += 1;
            if check {
                eprintln!("{}: not formatted", path.display());
            } else {
                std::fs::write(&path, formatted)
                    .map_err(|e| Fatal(format!("{}: cannot write: {e}", path.display())))?;
            }
        }
    }
    Ok(if check && unformatted > 0 { 1 } else { 0 })
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let code = match run(cli) {
        Ok(c) => c,
        Err(Fatal(msg)) => {
            eprintln!("palisade: error: {msg}");
            2
        }
    };
    std::process::exit(code);
}
