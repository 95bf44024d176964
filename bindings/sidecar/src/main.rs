//! `palisade-serve`: the sidecar as its own binary, so the `palisade` CLI builds without
//! wasmtime, tokio or hyper. `palisade serve ARGS` runs this binary with the same ARGS.

use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;

/// The sidecar: checks and Kubernetes admission over HTTP(S), and runtime events from NATS
/// JetStream, evaluated by the WASM plugin.
#[derive(Parser)]
#[command(
    name = "palisade-serve",
    version,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: Args,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Publish events from files to a JetStream stream (what `palisade publish` runs).
    Publish(PublishArgs),
}

/// The JetStream stream of events, as `serve --events` and `publish` name it.
#[derive(clap::Args)]
struct StreamArgs {
    /// The JetStream stream of events (created with --subjects when missing).
    #[arg(long, default_value = "PALISADE_EVENTS")]
    stream: String,
    /// The stream's subjects when it is created (comma-separated).
    #[arg(long, default_value = "events.>", value_delimiter = ',')]
    subjects: Vec<String>,
}

/// `publish`: events from files, one message each, with ids derived from the events.
#[derive(clap::Args)]
struct PublishArgs {
    /// The NATS server, nats://HOST:PORT.
    #[arg(long, value_name = "URL")]
    events: String,
    #[command(flatten)]
    stream: StreamArgs,
    /// Subject of every message (default: events.falco, events.tetragon or events.records
    /// after each event's format).
    #[arg(long)]
    subject: Option<String>,
    /// Files of events: JSON Lines, a JSON array or one JSON object (records, Falco or
    /// Tetragon events).
    #[arg(long = "input", required = true, num_args = 1..)]
    inputs: Vec<PathBuf>,
}

/// Serving.
#[derive(clap::Args)]
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
    /// A `/v1/check` over 64 KiB is evaluated in up to this many parts at once, one per
    /// evaluation slot free at that moment (default: the CPUs, at most 4; 1: never split).
    #[arg(long, value_name = "N")]
    max_parts_per_check: Option<usize>,
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
    /// Consume runtime events from NATS JetStream (nats://HOST:PORT): each message is
    /// evaluated, its violations published, its evaluation recorded, then it is acked.
    #[arg(long, value_name = "URL")]
    events: Option<String>,
    #[command(flatten)]
    stream: StreamArgs,
    /// The durable pull consumer every replica binds (they share the work).
    #[arg(long, default_value = "palisade")]
    durable: String,
    /// Subject of each violation; <severity> becomes the violation's severity.
    #[arg(long, default_value = "palisade.violations.<severity>")]
    violations_subject: String,
    /// The stream that keeps violations (created when missing; drops republished ones).
    #[arg(long, default_value = "PALISADE_VIOLATIONS")]
    violations_stream: String,
    /// Events handled at once by this replica; no more are taken from the stream until
    /// one finishes.
    #[arg(long, default_value_t = 256)]
    max_in_flight: usize,
    /// Time NATS waits for an event's ack before redelivering it, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    ack_wait_ms: u64,
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
    if let Some(n) = args.max_parts_per_check {
        config.max_parts_per_check = n.max(1);
    }
    config.drain = Duration::from_millis(args.drain_ms);
    config.evidence = args
        .evidence
        .zip(args.evidence_key)
        .map(|(log, key)| palisade_sidecar::EvidenceFiles { log, key });
    config.events = args.events.map(|url| {
        let mut events = palisade_sidecar::EventsConfig::new(url);
        events.stream = args.stream.stream;
        events.subjects = args.stream.subjects;
        events.durable = args.durable;
        events.violations_subject = args.violations_subject;
        events.violations_stream = args.violations_stream;
        events.max_in_flight = args.max_in_flight.max(1);
        events.ack_wait = Duration::from_millis(args.ack_wait_ms.max(1_000));
        events
    });
    config.now = std::env::var("PALISADE_NOW").ok();
    if let Some(now) = &config.now {
        chrono::DateTime::parse_from_rfc3339(now)
            .map_err(|e| format!("PALISADE_NOW `{now}` is not an RFC 3339 time: {e}"))?;
    }
    Ok(config)
}

/// Runs `publish`; prints what it published.
fn publish(args: PublishArgs) -> Result<(), String> {
    let config = palisade_sidecar::PublishConfig {
        url: args.events,
        stream: args.stream.stream,
        subjects: args.stream.subjects,
        subject: args.subject,
        inputs: args.inputs,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let done = runtime.block_on(palisade_sidecar::publish(&config))?;
    println!(
        "published {} events to stream {} ({} already in it)",
        done.events, config.stream, done.duplicates
    );
    Ok(())
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let result = match cli.command {
        Some(Command::Publish(args)) => publish(args),
        None => config(cli.serve).and_then(|c| palisade_sidecar::run(c).map_err(|e| e.to_string())),
    };
    if let Err(msg) = result {
        eprintln!("palisade-serve: error: {msg}");
        std::process::exit(2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The server configuration of `palisade-serve ARGS`.
    fn configured(args: &[&str]) -> palisade_sidecar::Config {
        let cli =
            Cli::try_parse_from(std::iter::once("palisade-serve").chain(args.iter().copied()));
        let Ok(cli) = cli else {
            unreachable!("{args:?} parse: {:?}", cli.err())
        };
        let Ok(config) = config(cli.serve) else {
            unreachable!("{args:?} configure")
        };
        config
    }

    #[test]
    fn parts_per_check_come_from_the_flag_and_never_drop_below_one() {
        let default = configured(&["--no-config"]).max_parts_per_check;
        assert!((1..=4).contains(&default), "{default}");
        for (given, parts) in [("1", 1), ("3", 3), ("0", 1), ("16", 16)] {
            let config = configured(&["--no-config", "--max-parts-per-check", given]);
            assert_eq!(
                config.max_parts_per_check, parts,
                "--max-parts-per-check {given}"
            );
        }
        // The largest count is taken (the server and the host bound the parts by the slots
        // and instances there are); past it, and not a count, it is refused.
        let largest = usize::MAX.to_string();
        let most = configured(&["--no-config", "--max-parts-per-check", &largest]);
        assert_eq!(most.max_parts_per_check, usize::MAX);
        let past = format!("{largest}0");
        for hostile in ["many", "-1", past.as_str(), "", "1e3"] {
            assert!(
                Cli::try_parse_from(["palisade-serve", "--max-parts-per-check", hostile]).is_err(),
                "{hostile:?}"
            );
        }
    }
}
