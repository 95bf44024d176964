//! `palisade`: check records against policies, compile, format and test policies.

mod check;
mod inputs;
mod library;
mod load;
mod output;
mod reports;
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
        /// Records: JSON object, array or JSON Lines; `-` for stdin (repeatable).
        #[arg(long = "input")]
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
    /// Serve the browser playground (built by wasm/build.sh and `npm run build` in wasm/playground).
    Playground {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// The built playground.
        #[arg(long, default_value = "wasm/playground/dist")]
        dir: PathBuf,
    },
    /// The sidecar: checks and Kubernetes admission over HTTP(S), evaluated by the WASM plugin.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: String,
        /// Policy files or directories (`.pal`, StackRox `.json`); watched and hot-reloaded.
        #[arg(long = "policies")]
        policies: Vec<PathBuf>,
        /// Also serve the built-in library (the default when no --policies or --bundle).
        #[arg(long)]
        builtin: bool,
        /// A compiled bundle (`palisade compile -o`) instead of policy sources; watched too.
        #[arg(long, conflicts_with_all = ["policies", "builtin"])]
        bundle: Option<PathBuf>,
        /// PEM certificate chain: serve HTTPS (reloaded when the file changes).
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key for --tls-cert.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Largest request body accepted, in bytes.
        #[arg(long, default_value_t = 8 << 20)]
        max_body_bytes: usize,
        /// Time to receive a request's headers and body, and each plugin call's deadline, in milliseconds.
        #[arg(long, default_value_t = 10_000)]
        timeout_ms: u64,
        /// Memory cap of each plugin instance, in MiB.
        #[arg(long, default_value_t = 512)]
        memory_mib: usize,
        /// Plugin calls evaluated at once (default: twice the CPUs); more requests wait.
        #[arg(long)]
        max_concurrent_checks: Option<usize>,
        /// After SIGTERM, keep serving this long (with /readyz at 503) before stopping, so
        /// requests sent while Kubernetes removes the pod from its endpoints are answered.
        #[arg(long, default_value_t = 5_000)]
        drain_ms: u64,
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
                Emit::Ir => print!("{}", program.listing()),
                Emit::Rust => print!(
                    "{}",
                    palisade_engine::codegen::rust_module(&program)
                        .map_err(|e| Fatal(e.to_string()))?
                ),
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
        Command::Serve {
            listen,
            policies,
            builtin,
            bundle,
            tls_cert,
            tls_key,
            max_body_bytes,
            timeout_ms,
            memory_mib,
            max_concurrent_checks,
            drain_ms,
        } => {
            let listen = listen
                .parse()
                .map_err(|e| Fatal(format!("--listen `{listen}`: {e} (expected ADDR:PORT)")))?;
            let source = palisade_sidecar::PolicySource {
                builtin: builtin || (policies.is_empty() && bundle.is_none()),
                paths: policies,
                bundle,
            };
            let mut config = palisade_sidecar::Config::new(listen, source);
            config.tls = tls_cert
                .zip(tls_key)
                .map(|(cert, key)| palisade_sidecar::TlsFiles { cert, key });
            config.max_body_bytes = max_body_bytes;
            config.read_timeout = std::time::Duration::from_millis(timeout_ms);
            config.limits.deadline = std::time::Duration::from_millis(timeout_ms);
            config.limits.memory_bytes = memory_mib << 20;
            if let Some(n) = max_concurrent_checks {
                config.max_concurrent_checks = n.max(1);
            }
            config.drain = std::time::Duration::from_millis(drain_ms);
            config.now = std::env::var("PALISADE_NOW").ok();
            if let Some(now) = &config.now {
                chrono::DateTime::parse_from_rfc3339(now).map_err(|e| {
                    Fatal(format!("PALISADE_NOW `{now}` is not an RFC 3339 time: {e}"))
                })?;
            }
            palisade_sidecar::run(config).map_err(|e| Fatal(e.to_string()))?;
            Ok(0)
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
                },
        } => library::list(&policies, builtin, format),
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
