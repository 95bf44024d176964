//! `palisade serve`: an HTTP(S) server over the wasmtime-hosted plugin ([`palisade_host`]).
//!
//! Routes: `POST /v1/check` (any input `palisade check --input` accepts, to the CLI's JSON
//! report), `POST /v1/admit` (a Kubernetes validating admission webhook), `GET /healthz`,
//! `GET /readyz`, `GET /metrics`. Policies are compiled natively into a bundle, loaded into
//! a pool of plugin instances and hot-reloaded when their files change; TLS certificates
//! are reloaded the same way. Request bodies are size- and time-limited, every plugin call
//! has a deadline and a memory cap, and a trap fails only the request that caused it.

mod admission;
mod events;
mod evidence;
mod fairness;
mod log;
mod metrics;
mod policy_set;
mod publish;
mod server;
mod tls;

pub use events::{DUPLICATE_WINDOW, EventsConfig, connect, event_id, events_stream};
pub use evidence::EvidenceFiles;
pub use policy_set::PolicySource;
pub use publish::{PublishConfig, Published, each_event, publish};
pub use server::{Running, start};
pub use tls::TlsFiles;

use palisade_host::Limits;
use std::net::SocketAddr;
use std::time::Duration;

/// How the server runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to listen on (port 0 picks a free one; see [`Running::local_addr`]).
    pub listen: SocketAddr,
    /// The policies to serve.
    pub policies: PolicySource,
    /// Serve HTTPS with this certificate and key.
    pub tls: Option<TlsFiles>,
    /// Per-call limits of the plugin.
    pub limits: Limits,
    /// Largest request body accepted (413 above it).
    pub max_body_bytes: usize,
    /// Time allowed to receive a request's headers, and its body (408 after it).
    pub read_timeout: Duration,
    /// How often policy and certificate files are checked for changes.
    pub reload_interval: Duration,
    /// "Now" for every check (RFC 3339, from `PALISADE_NOW`); the system clock when absent.
    pub now: Option<String>,
    /// Time in-flight requests get to finish at shutdown.
    pub shutdown_grace: Duration,
    /// After SIGTERM, time the server keeps accepting (with `/readyz` answering 503) before
    /// it stops: Kubernetes removes a terminating pod from its Service's endpoints a moment
    /// after sending SIGTERM, and connections made in that moment would otherwise be
    /// refused.
    pub drain: Duration,
    /// Plugin calls running at once (each on its own instance); further requests wait up
    /// to `read_timeout` for a slot, then get 503.
    pub max_concurrent_checks: usize,
    /// Of those, the most one client (peer address) may hold; its further requests wait
    /// for one of its own to finish. `None`: half of `max_concurrent_checks`, rounded up,
    /// so a client sending slow requests cannot take every slot.
    pub max_checks_per_client: Option<usize>,
    /// A `/v1/check` larger than 64 KiB is evaluated in up to this many parts at once, one per
    /// evaluation slot free at that moment (the client's share counts them too): a single
    /// large `/v1/check` uses the cores when the server is otherwise idle, and no more
    /// than its one slot under load. The answer is the same in any number of parts.
    /// Default: the cores, at most 4 (every part reads the whole input, a third or more of
    /// a check's time, so more parts add more work than they take off).
    pub max_parts_per_check: usize,
    /// Record every admission decision, check request and policy-set change in this
    /// evidence log, signed with this key (see the `palisade-evidence` crate).
    pub evidence: Option<EvidenceFiles>,
    /// Consume runtime events from this NATS JetStream stream (see [`EventsConfig`]).
    pub events: Option<EventsConfig>,
    /// Open connections at most; one more is closed as soon as it is accepted, so idle
    /// connections cannot use up the process's file descriptors and stall `/healthz`.
    pub max_connections: usize,
}

impl Config {
    /// Defaults for everything but the address and the policies.
    pub fn new(listen: SocketAddr, policies: PolicySource) -> Self {
        Config {
            listen,
            policies,
            tls: None,
            limits: Limits::default(),
            max_body_bytes: 8 << 20,
            read_timeout: Duration::from_secs(10),
            reload_interval: Duration::from_secs(1),
            now: None,
            shutdown_grace: Duration::from_secs(10),
            drain: Duration::ZERO,
            max_concurrent_checks: 2 * std::thread::available_parallelism().map_or(2, usize::from),
            max_checks_per_client: None,
            max_parts_per_check: std::thread::available_parallelism().map_or(2, |n| n.get().min(4)),
            max_connections: 1024,
            evidence: None,
            events: None,
        }
    }
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The plugin could not be loaded.
    #[error(transparent)]
    Plugin(#[from] palisade_host::HostError),
    /// The initial policy set did not compile or load.
    #[error("policies: {0}")]
    Policies(String),
    /// The certificate or key could not be used.
    #[error("tls: {0}")]
    Tls(String),
    /// The evidence log could not be opened.
    #[error("evidence: {0}")]
    Evidence(String),
    /// Binding or serving failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Runs the server until SIGINT or SIGTERM, then shuts down gracefully.
pub fn run(config: Config) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let running = start(config).await?;
        log::log(
            "info",
            "listening",
            serde_json::json!({"addr": running.local_addr().to_string()}),
        );
        wait_for_signal().await;
        // Not ready before it says so: whoever reads the line sees a draining server.
        running.start_draining();
        log::log(
            "info",
            "shutting down",
            serde_json::json!({"drain_ms": running.drain_period().as_millis() as u64}),
        );
        running.drain_and_shutdown().await;
        Ok(())
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
