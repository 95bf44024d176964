//! `palisade-serve`: the sidecar as its own binary, so the `palisade` CLI builds without
//! wasmtime, tokio or hyper. `palisade serve ARGS` runs this binary with the same ARGS.

use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;

/// The sidecar: checks and Kubernetes admission over HTTP(S), evaluated by the WASM plugin.
#[derive(Parser)]
#[command(name = "palisade-serve", version)]
struct Args {
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
    /// A palisade.toml (enabled policies, enforcement, severity, exclusions); watched and
    /// reloaded with the policies. Default: ./palisade.toml when it exists.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Ignore ./palisade.toml.
    #[arg(long, conflicts_with = "config")]
    no_config: bool,
    /// A baseline file (from `palisade baseline learn`): /v1/check evaluates processes
    /// against it ("Unauthorized Process Execution"). Watched and reloaded with the policies.
    #[arg(long, value_name = "FILE")]
    baselines: Option<PathBuf>,
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
    /// Record every admission decision, check request and policy-set change in this SQLite
    /// evidence log (created when missing; docs/evidence.md).
    #[arg(long, value_name = "FILE", requires = "evidence_key")]
    evidence: Option<PathBuf>,
    /// The private key that signs the evidence log (from `palisade evidence keygen`).
    #[arg(long, value_name = "FILE", env = "PALISADE_EVIDENCE_KEY")]
    evidence_key: Option<PathBuf>,
}

fn config(args: Args) -> Result<palisade_sidecar::Config, String> {
    let listen = args
        .listen
        .parse()
        .map_err(|e| format!("--listen `{}`: {e} (expected ADDR:PORT)", args.listen))?;
    let source = palisade_sidecar::PolicySource {
        builtin: args.builtin || (args.policies.is_empty() && args.bundle.is_none()),
        paths: args.policies,
        bundle: args.bundle,
        baselines: args.baselines,
        config: match args.config {
            Some(path) => Some(path),
            None if args.no_config => None,
            None => {
                let default = PathBuf::from(palisade_config::FILE_NAME);
                default.is_file().then_some(default)
            }
        },
    };
    let mut config = palisade_sidecar::Config::new(listen, source);
    config.tls = args
        .tls_cert
        .zip(args.tls_key)
        .map(|(cert, key)| palisade_sidecar::TlsFiles { cert, key });
    config.max_body_bytes = args.max_body_bytes;
    config.read_timeout = Duration::from_millis(args.timeout_ms);
    config.limits.deadline = Duration::from_millis(args.timeout_ms);
    config.limits.memory_bytes = args.memory_mib << 20;
    if let Some(n) = args.max_concurrent_checks {
        config.max_concurrent_checks = n.max(1);
    }
    config.drain = Duration::from_millis(args.drain_ms);
    config.evidence = args
        .evidence
        .zip(args.evidence_key)
        .map(|(log, key)| palisade_sidecar::EvidenceFiles { log, key });
    config.now = std::env::var("PALISADE_NOW").ok();
    if let Some(now) = &config.now {
        chrono::DateTime::parse_from_rfc3339(now)
            .map_err(|e| format!("PALISADE_NOW `{now}` is not an RFC 3339 time: {e}"))?;
    }
    Ok(config)
}

fn main() {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let result = config(args).and_then(|c| palisade_sidecar::run(c).map_err(|e| e.to_string()));
    if let Err(msg) = result {
        eprintln!("palisade-serve: error: {msg}");
        std::process::exit(2);
    }
}
