//! The listener, the routes and the background reloaders.

use crate::admission;
use crate::fairness::ClientSlots;
use crate::log::log;
use crate::metrics::Metrics;
use crate::policy_set::{Current, Fingerprint, LoadError, LoadedSet};
use crate::tls::{self, CertResolver};
use crate::{Config, ServeError};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use palisade_host::{HostError, Plugin};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Shared by every connection.
pub(crate) struct State {
    pub(crate) config: Config,
    plugin: Arc<Plugin>,
    pub(crate) current: Current,
    pub(crate) metrics: Metrics,
    generation: AtomicU64,
    pub(crate) checks: Arc<tokio::sync::Semaphore>,
    per_client: Arc<ClientSlots>,
    /// Set at SIGTERM: `/readyz` answers 503 so the pod leaves the Service's endpoints.
    draining: AtomicBool,
    /// The evidence log, with `--evidence`.
    pub(crate) evidence: Option<crate::evidence::EvidenceLog>,
}

/// A started server.
pub struct Running {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    state: Arc<State>,
}

impl Running {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The configured drain period (see [`Config::drain`]).
    pub fn drain_period(&self) -> std::time::Duration {
        self.state.config.drain
    }

    /// Answers `/readyz` with 503 while still serving everything for the drain period,
    /// then shuts down as [`Running::shutdown`] does.
    pub async fn drain_and_shutdown(self) {
        self.start_draining();
        tokio::time::sleep(self.state.config.drain).await;
        self.shutdown().await;
    }

    /// No longer ready (`/readyz` answers 503), still serving: what the drain period
    /// begins with.
    pub fn start_draining(&self) {
        self.state.draining.store(true, Ordering::SeqCst);
    }

    /// Stops accepting, lets in-flight requests finish (up to the grace period), stops the
    /// reloaders.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        if let Some(e) = &self.state.evidence {
            e.finish(&now(&self.state)).await;
        }
    }
}

/// Loads the plugin and the policies, binds, and starts serving in the background.
pub async fn start(config: Config) -> Result<Running, ServeError> {
    let plugin = tokio::task::spawn_blocking(Plugin::embedded)
        .await
        .map_err(|e| ServeError::Policies(e.to_string()))??;
    let source = config.policies.clone();
    let (limits, plugin2) = (config.limits, plugin.clone());
    let interval = config.reload_interval;
    let (first, fingerprint) = tokio::task::spawn_blocking(move || {
        // Files being written as the server starts are read once they settle, by the rule
        // reloads follow: unchanged for one interval (and, here, not modified within it).
        settle(&source, interval);
        let mut attempts = 0;
        loop {
            match source.load(&plugin2, limits, 1) {
                Err(LoadError::Changed) if attempts < 20 => {
                    attempts += 1;
                    settle(&source, interval);
                }
                other => return other,
            }
        }
    })
    .await
    .map_err(|e| ServeError::Policies(e.to_string()))?
    .map_err(|e| ServeError::Policies(e.to_string()))?;
    log(
        "info",
        "policies loaded",
        json!({"policies": first.policies, "generation": 1}),
    );
    let evidence = match config.evidence.clone() {
        None => None,
        Some(files) => {
            let (set, time) = (first.evidence.clone(), now_of(&config));
            let opened = tokio::task::spawn_blocking(move || {
                crate::evidence::EvidenceLog::open(&files, &set, &time)
            })
            .await
            .map_err(|e| ServeError::Evidence(e.to_string()))?
            .map_err(ServeError::Evidence)?;
            log(
                "info",
                "evidence log open",
                json!({"run": opened.run.clone()}),
            );
            Some(opened)
        }
    };
    let acceptor = match &config.tls {
        Some(files) => {
            let pair = tls::read_pair(files).map_err(ServeError::Tls)?;
            let resolver = Arc::new(CertResolver::new(pair));
            let server_config = tls::server_config(resolver.clone()).map_err(ServeError::Tls)?;
            Some((tokio_rustls::TlsAcceptor::from(server_config), resolver))
        }
        None => None,
    };
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let slots = config.max_concurrent_checks.max(1);
    let share = config
        .max_checks_per_client
        .unwrap_or(slots.div_ceil(2))
        .clamp(1, slots);
    let state = Arc::new(State {
        checks: Arc::new(tokio::sync::Semaphore::new(slots)),
        per_client: ClientSlots::new(share),
        draining: AtomicBool::new(false),
        evidence,
        config,
        plugin,
        current: Current::default(),
        metrics: Metrics::default(),
        generation: AtomicU64::new(1),
    });
    state.current.replace(first);
    state.metrics.reload("ok");
    let (stop, stopped) = watch::channel(false);
    let mut tasks = vec![tokio::spawn(reload_policies(
        state.clone(),
        fingerprint,
        stopped.clone(),
    ))];
    if let (Some((_, resolver)), Some(files)) = (&acceptor, state.config.tls.clone()) {
        tasks.push(tokio::spawn(reload_certificate(
            state.clone(),
            files,
            resolver.clone(),
            stopped.clone(),
        )));
    }
    if let Some(events) = state.config.events.clone() {
        tasks.push(tokio::spawn(crate::events::consume(
            state.clone(),
            events,
            stopped.clone(),
        )));
    }
    tasks.push(tokio::spawn(accept(
        state.clone(),
        listener,
        acceptor.map(|(a, _)| a),
        stopped,
    )));
    Ok(Running {
        addr,
        stop,
        tasks,
        state,
    })
}

async fn accept(
    state: Arc<State>,
    listener: TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    mut stopped: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let connections = Arc::new(tokio::sync::Semaphore::new(
        state.config.max_connections.max(1),
    ));
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    log("warn", "accept failed", json!({"error": e.to_string()}));
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped.changed() => break,
        };
        let Ok(open) = connections.clone().try_acquire_owned() else {
            state.metrics.refused_connection();
            drop(stream);
            continue;
        };
        let state2 = state.clone();
        let client = peer.ip();
        let service = hyper::service::service_fn(move |req| handle(state2.clone(), client, req));
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(state.config.read_timeout);
        match &acceptor {
            None => {
                let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    let _ = conn.await;
                    drop(open);
                });
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let timeout = state.config.read_timeout;
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let _open = open;
                    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                        Ok(Ok(tls_stream)) => {
                            let _ = watcher
                                .watch(http.serve_connection(TokioIo::new(tls_stream), service))
                                .await;
                        }
                        Ok(Err(e)) => log(
                            "warn",
                            "tls handshake failed",
                            json!({"peer": peer.to_string(), "error": e.to_string()}),
                        ),
                        Err(_) => log(
                            "warn",
                            "tls handshake timed out",
                            json!({"peer": peer.to_string()}),
                        ),
                    }
                });
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(state.config.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        log(
            "warn",
            "shutdown grace period over; closing remaining connections",
            Value::Null,
        );
    }
}

/// Most time start-up waits for policy files that keep changing (then it reads them as
/// they are, and reports what it finds).
const MAX_SETTLE: std::time::Duration = std::time::Duration::from_secs(30);

/// Waits until the policy files were not modified within the last `interval` and stay the
/// same over one `interval` (at most [`MAX_SETTLE`]).
fn settle(source: &crate::policy_set::PolicySource, interval: std::time::Duration) {
    let started = std::time::Instant::now();
    let recent = |fp: &Fingerprint| {
        let now = std::time::SystemTime::now();
        fp.iter().any(|(_, modified, _)| {
            modified.is_some_and(|m| now.duration_since(m).map_or(true, |age| age < interval))
        })
    };
    let mut last = source.fingerprint();
    while recent(&last) && started.elapsed() < MAX_SETTLE {
        std::thread::sleep(interval);
        let now = source.fingerprint();
        if now == last && !recent(&now) {
            return;
        }
        last = now;
    }
}

/// Polls the policy files; compiles and swaps on change, keeps the old set on failure.
async fn reload_policies(
    state: Arc<State>,
    mut seen: Fingerprint,
    mut stopped: watch::Receiver<bool>,
) {
    let mut settling: Option<Fingerprint> = None;
    let policies = &state.config.policies;
    if policies.paths.is_empty()
        && policies.bundle.is_none()
        && policies.config.is_none()
        && policies.baselines.is_none()
    {
        return;
    }
    loop {
        tokio::select! {
            _ = tokio::time::sleep(state.config.reload_interval) => {}
            _ = stopped.changed() => return,
        }
        let source = state.config.policies.clone();
        let now = match tokio::task::spawn_blocking(move || source.fingerprint()).await {
            Ok(f) => f,
            Err(_) => continue,
        };
        // A change is compiled once the files stay the same for one interval, so a file
        // caught mid-write (truncated, half written) is never compiled and served.
        if now == seen {
            settling = None;
            continue;
        }
        if settling.as_ref() != Some(&now) {
            settling = Some(now);
            continue;
        }
        settling = None;
        seen = now;
        let generation = state.generation.load(Ordering::SeqCst) + 1;
        let (source, plugin, limits) = (
            state.config.policies.clone(),
            state.plugin.clone(),
            state.config.limits,
        );
        let loaded = tokio::task::spawn_blocking(move || source.load(&plugin, limits, generation))
            .await
            .unwrap_or_else(|e| Err(LoadError::Failed(e.to_string())));
        // Only what was read with the settled fingerprint is swapped in: a writer that
        // truncated the file again in the meantime gives a different one.
        let loaded = match loaded {
            Ok((_, read)) if read != seen => Err(LoadError::Changed),
            other => other,
        };
        match loaded {
            Ok((set, _)) => {
                log(
                    "info",
                    "policies reloaded",
                    json!({"policies": set.policies, "generation": generation}),
                );
                state.generation.store(generation, Ordering::SeqCst);
                if let Some(e) = &state.evidence {
                    let mut change = set.evidence.clone();
                    change.run = e.run.clone();
                    change.time = now_of(&state.config);
                    e.record(vec![palisade_evidence::entry::Entry::PolicySet(change)], 0)
                        .await;
                }
                state.current.replace(set);
                state.metrics.reload("ok");
            }
            Err(LoadError::Changed) => {
                // Still being written: look again next interval.
                seen = Fingerprint::new();
            }
            Err(LoadError::Failed(message)) => {
                log(
                    "error",
                    "policy reload failed; still serving the last good set",
                    json!({"error": message}),
                );
                state.current.failed(message);
                state.metrics.reload("failed");
            }
        }
    }
}

/// Polls the certificate and key; swaps them in when both read and match.
async fn reload_certificate(
    state: Arc<State>,
    files: tls::TlsFiles,
    resolver: Arc<CertResolver>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut seen = tls::stamp(&files);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(state.config.reload_interval) => {}
            _ = stopped.changed() => return,
        }
        let now = tls::stamp(&files);
        if now == seen {
            continue;
        }
        seen = now;
        match tls::read_pair(&files) {
            Ok(pair) => {
                resolver.reload(pair);
                log(
                    "info",
                    "tls certificate reloaded",
                    json!({"cert": files.cert.display().to_string()}),
                );
            }
            Err(e) => log(
                "error",
                "tls certificate reload failed; keeping the current one",
                json!({"error": e}),
            ),
        }
    }
}

/// An HTTP answer before it becomes a response.
struct Answer {
    status: StatusCode,
    content_type: &'static str,
    body: String,
}

impl Answer {
    fn json(status: StatusCode, body: String) -> Self {
        Answer {
            status,
            content_type: "application/json",
            body,
        }
    }

    fn error(status: StatusCode, kind: &str, message: impl Into<String>) -> Self {
        Answer::json(
            status,
            json!({"error": {"kind": kind, "message": message.into()}}).to_string(),
        )
    }
}

async fn handle(
    state: Arc<State>,
    client: IpAddr,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let started = Instant::now();
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let route = match path.as_str() {
        "/v1/check" | "/v1/admit" | "/healthz" | "/readyz" | "/metrics" => path.as_str(),
        _ => "other",
    };
    let answer = match (route, &method) {
        ("/healthz", &Method::GET) => Answer {
            status: StatusCode::OK,
            content_type: "text/plain",
            body: "ok\n".into(),
        },
        ("/readyz", &Method::GET) => readyz(&state),
        ("/metrics", &Method::GET) => {
            let (policies, generation) = state
                .current
                .get()
                .map_or((0, 0), |s| (s.policies, s.generation));
            Answer {
                status: StatusCode::OK,
                content_type: "text/plain; version=0.0.4",
                body: state.metrics.render(policies, generation),
            }
        }
        ("/v1/check", &Method::POST) => check(&state, client, req).await,
        ("/v1/admit", &Method::POST) => admit(&state, client, req).await,
        ("other", _) => Answer::error(
            StatusCode::NOT_FOUND,
            "route",
            format!("no route `{path}`: try /v1/check, /v1/admit, /healthz, /readyz, /metrics"),
        ),
        _ => Answer::error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method",
            format!("`{method} {path}` is not allowed"),
        ),
    };
    let elapsed = started.elapsed();
    state
        .metrics
        .request(route, answer.status.as_u16(), elapsed);
    let level = if answer.status.is_server_error() {
        "error"
    } else {
        "info"
    };
    log(
        level,
        "request",
        json!({"method": method.as_str(), "path": path, "status": answer.status.as_u16(), "ms": (elapsed.as_secs_f64() * 1e6).round() / 1e3, "bytes": answer.body.len()}),
    );
    let mut response = Response::new(Full::new(Bytes::from(answer.body)));
    *response.status_mut() = answer.status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(answer.content_type));
    Ok(response)
}

fn readyz(state: &State) -> Answer {
    if state.draining.load(Ordering::SeqCst) {
        return Answer::json(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"ready": false, "draining": true}).to_string(),
        );
    }
    match state.current.get() {
        Some(set) => Answer::json(
            StatusCode::OK,
            json!({"ready": true, "policies": set.policies, "generation": set.generation, "last_reload_error": state.current.last_error()}).to_string(),
        ),
        None => Answer::json(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"ready": false, "last_reload_error": state.current.last_error()}).to_string(),
        ),
    }
}

/// Reads a body within the size and time limits, as UTF-8.
async fn read_body(
    state: &State,
    req: Request<Incoming>,
) -> Result<(hyper::http::request::Parts, String), Answer> {
    let max = state.config.max_body_bytes;
    let too_large = || {
        Answer::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body",
            format!("the request body is larger than {max} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let (parts, body) = req.into_parts();
    let collected =
        tokio::time::timeout(state.config.read_timeout, Limited::new(body, max).collect()).await;
    let bytes = match collected {
        Err(_) => {
            return Err(Answer::error(
                StatusCode::REQUEST_TIMEOUT,
                "body",
                format!(
                    "the request body did not arrive within {:?}",
                    state.config.read_timeout
                ),
            ));
        }
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => return Err(too_large()),
        Ok(Err(e)) => {
            return Err(Answer::error(
                StatusCode::BAD_REQUEST,
                "body",
                format!("could not read the request body: {e}"),
            ));
        }
        Ok(Ok(c)) => c.to_bytes(),
    };
    let text = String::from_utf8(Vec::from(bytes)).map_err(|_| {
        Answer::error(
            StatusCode::BAD_REQUEST,
            "body",
            "the request body is not UTF-8",
        )
    })?;
    Ok((parts, text))
}

fn now(state: &State) -> String {
    now_of(&state.config)
}

pub(crate) fn now_of(config: &Config) -> String {
    config
        .now
        .clone()
        .unwrap_or_else(|| chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// Evaluates one request with the current set; `Err` is the answer for a failed plugin call.
async fn evaluate(
    state: &Arc<State>,
    client: IpAddr,
    parts: &hyper::http::request::Parts,
    mut request: Value,
) -> Result<(String, Value), Answer> {
    let Some(set) = state.current.get() else {
        return Err(Answer::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "policies",
            "no policy set loaded",
        ));
    };
    // Processes are checked against the baselines of the same set (admission requests hold
    // no processes).
    if let Some(b) = set
        .baselines
        .as_ref()
        .filter(|_| parts.uri.path() == "/v1/check")
    {
        request["baselines"] = json!([{"name": b.name, "text": b.text}]);
    }
    // The slots move into the blocking task, so a client that goes away does not free them
    // while its evaluation still runs. The client's share first: a client at its share
    // waits for its own requests, not for everybody's.
    let Some(client_slot) = state
        .per_client
        .acquire(client, state.config.read_timeout)
        .await
    else {
        return Err(Answer::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "this client's share of the evaluation slots stayed busy; retry",
        ));
    };
    let Ok(Ok(slot)) = tokio::time::timeout(
        state.config.read_timeout,
        state.checks.clone().acquire_owned(),
    )
    .await
    else {
        return Err(Answer::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "every evaluation slot stayed busy; retry",
        ));
    };
    let forced_trap = cfg!(feature = "fault-injection")
        && parts
            .headers
            .get("x-palisade-fault")
            .is_some_and(|v| v == "trap");
    let request = request.to_string();
    // A large check takes the slots free at this moment (its client's share too) for
    // parts evaluated at once; under load there are none and it runs in one. (An
    // AdmissionReview holds one object: nothing to share out.)
    let mut extra_slots = Vec::new();
    if request.len() > INLINE_CHECK_BYTES && parts.uri.path() == "/v1/check" {
        while 1 + extra_slots.len() < state.config.max_parts_per_check {
            let Some(client_slot) = state.per_client.try_acquire(client) else {
                break;
            };
            let Ok(slot) = state.checks.clone().try_acquire_owned() else {
                break;
            };
            extra_slots.push((slot, client_slot));
        }
    }
    let pieces = 1 + extra_slots.len();
    if pieces > 1 {
        state.metrics.split_check(pieces);
    }
    let forced_delay = cfg!(feature = "fault-injection")
        .then(|| parts.headers.get("x-palisade-fault-delay-ms"))
        .flatten()
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let slots = (slot, client_slot, extra_slots);
    let outcome = plugin_check(set, request, slots, pieces, forced_delay, forced_trap).await;
    match outcome {
        Ok(text) => match read_report(state, &text) {
            Some(report) => Ok((text, report)),
            None => Err(Answer::json(StatusCode::BAD_REQUEST, text)),
        },
        Err(HostError::TooLarge(n)) => Err(Answer::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body",
            format!("{n} bytes is too large for the plugin"),
        )),
        Err(e) => {
            state.metrics.trap();
            log(
                "error",
                "plugin call failed",
                json!({"error": e.to_string()}),
            );
            let status = if matches!(e, HostError::Deadline(_)) {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            Err(Answer::error(status, "plugin", e.to_string()))
        }
    }
}

/// Plugin requests up to this size (an AdmissionReview, a few records) are evaluated on the
/// async worker that read them: their evaluation is bounded and short (the full library over
/// one object: a tenth of a millisecond), and handing them to the blocking pool and back cost
/// more than that in wake-ups (`/v1/admit` p99 under load 2.2 ms that way, 1.5 ms inline;
/// benches/admit_load.rs). Larger ones go to the blocking pool, so a large `/v1/check` does
/// not hold a worker that other connections (probes, metrics) need.
const INLINE_CHECK_BYTES: usize = 64 * 1024;

/// Runs one check on the plugin with `set`, in `parts` parts at once when it is larger
/// than [`INLINE_CHECK_BYTES`], holding `slots` until it ends (a client that goes away does
/// not free them while the evaluation still runs).
pub(crate) async fn plugin_check<Slots: Send + 'static>(
    set: Arc<LoadedSet>,
    request: String,
    slots: Slots,
    parts: usize,
    forced_delay: Option<u64>,
    forced_trap: bool,
) -> Result<String, HostError> {
    if request.len() <= INLINE_CHECK_BYTES && forced_delay.is_none() && !forced_trap {
        let _slots = slots;
        return set.pool.check(&request);
    }
    tokio::task::spawn_blocking(move || {
        let _slots = slots;
        if let Some(ms) = forced_delay {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
        if forced_trap {
            return Err(set.pool.force_trap());
        }
        set.pool.check_parts(&request, parts)
    })
    .await
    .unwrap_or_else(|e| Err(HostError::Trap(format!("the evaluation task failed: {e}"))))
}

/// Runs checks one after the other on one plugin instance of `set`, in one blocking task
/// holding `slot`: a batch pays for one hand-off to the blocking pool, not one per check.
pub(crate) async fn plugin_check_all(
    set: Arc<LoadedSet>,
    requests: Vec<String>,
    slot: tokio::sync::OwnedSemaphorePermit,
) -> Vec<Result<String, HostError>> {
    let n = requests.len();
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        requests
            .iter()
            .map(|r| set.pool.check(r))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_else(|e| {
        (0..n)
            .map(|_| Err(HostError::Trap(format!("the evaluation task failed: {e}"))))
            .collect()
    })
}

/// The plugin's report, its violations counted; None when it is an error (the input could
/// not be read).
pub(crate) fn read_report(state: &State, text: &str) -> Option<Value> {
    let report: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    if report.get("error").is_some() || report.is_null() {
        return None;
    }
    state.metrics.violations(
        report["violations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["policy"].as_str()),
    );
    Some(report)
}

/// `POST /v1/check[?lifecycle=deploy&all=true&explain=true]`.
async fn check(state: &Arc<State>, client: IpAddr, req: Request<Incoming>) -> Answer {
    let query = req.uri().query().unwrap_or("").to_string();
    let mut request = json!({"now": now(state), "all": false, "explain": false, "lifecycle": null});
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, "true"));
        match (key, value) {
            ("all" | "explain", "true" | "false") => request[key] = json!(value == "true"),
            ("lifecycle", "build" | "deploy" | "runtime") => request[key] = json!(value),
            _ => {
                return Answer::error(
                    StatusCode::BAD_REQUEST,
                    "query",
                    format!(
                        "unknown query parameter `{pair}` (expected lifecycle=build|deploy|runtime, all=true|false, explain=true|false)"
                    ),
                );
            }
        }
    }
    let (parts, body) = match read_body(state, req).await {
        Ok(b) => b,
        Err(a) => return a,
    };
    let digest = state
        .evidence
        .as_ref()
        .map(|_| palisade_evidence::canonical::digest_bytes(body.as_bytes()));
    request["inputs"] = json!([{"name": "body", "text": body}]);
    match evaluate(state, client, &parts, request).await {
        Ok((text, report)) => {
            if let (Some(e), Some(digest)) = (&state.evidence, digest) {
                crate::evidence::record_check(e, &report, &digest, &now(state)).await;
            }
            Answer::json(StatusCode::OK, text)
        }
        Err(a) => a,
    }
}

/// `POST /v1/admit`: AdmissionReview in and out.
async fn admit(state: &Arc<State>, client: IpAddr, req: Request<Incoming>) -> Answer {
    let (parts, body) = match read_body(state, req).await {
        Ok(b) => b,
        Err(a) => return a,
    };
    let review: Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(e) => {
            return Answer::error(
                StatusCode::BAD_REQUEST,
                "body",
                format!("the body is not JSON: {e}"),
            );
        }
    };
    let uid = match admission::request_uid(&review) {
        Ok(u) => u,
        Err(m) => return Answer::error(StatusCode::BAD_REQUEST, "admission", m),
    };
    let request =
        json!({"now": now(state), "inputs": [{"name": "admission-review", "text": body}]});
    match evaluate(state, client, &parts, request).await {
        Ok((_, report)) => {
            let (response, allowed) = admission::respond(&review, &uid, &report);
            state
                .metrics
                .admission(if allowed { "allowed" } else { "denied" });
            if let Some(e) = &state.evidence {
                crate::evidence::record_admission(e, &review, &uid, allowed, &report, &now(state))
                    .await;
            }
            Answer::json(StatusCode::OK, response.to_string())
        }
        Err(a) => a,
    }
}
