//! SOC 2 evidence: `palisade evidence keygen|verify|checkpoint|components`, `palisade
//! report`, and the recorder behind `check --evidence`.

use crate::load::Fatal;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use palisade_engine::ir::Program;
use palisade_engine::report::{Excepted, Violation};
use palisade_evidence::entry::{Entry, InputDigest, RunFinished, RunStarted};
use palisade_evidence::note::{SigningKey, VerifierKey};
use palisade_evidence::period::{Builder, LogSummary, Options};
use palisade_evidence::store::{Reader, StoreError, Writer};
use palisade_evidence::{from_engine, html, openreports, oscal};
use std::path::{Path, PathBuf};

/// `--evidence` and its key, for `check`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct EvidenceFlags {
    /// Record this run in the SQLite evidence log FILE (created when missing): what was in
    /// force, evaluated, found and excepted, signed with --evidence-key (docs/evidence.md).
    #[arg(long, value_name = "FILE")]
    pub evidence: Option<PathBuf>,
    /// The private key that signs the log's checkpoints (from `palisade evidence keygen`;
    /// default: $PALISADE_EVIDENCE_KEY).
    #[arg(long, value_name = "FILE", env = "PALISADE_EVIDENCE_KEY")]
    pub evidence_key: Option<PathBuf>,
    /// Who ran the check (a user, a CI job), written with the run.
    #[arg(long, value_name = "TEXT")]
    pub evidence_actor: Option<String>,
}

/// What `palisade evidence` does.
#[derive(clap::Subcommand)]
pub enum Action {
    /// Create an Ed25519 key pair: NAME.key (private, signs checkpoints) and NAME.pub
    /// (public, verifies them).
    Keygen {
        /// The key's name (shown in signatures), e.g. ci.example.com.
        #[arg(long)]
        name: String,
        /// The directory to write both files to.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Check every link and signature of evidence logs; exit 1 when one does not verify.
    Verify {
        /// Evidence logs.
        #[arg(required = true)]
        logs: Vec<PathBuf>,
        /// Trusted public keys (NAME.pub, or the key text itself).
        #[arg(long = "key", required = true)]
        keys: Vec<String>,
        /// Checkpoints kept outside the log (from `palisade evidence checkpoint`): each
        /// must still be part of it (detects a log rolled back to an earlier state).
        #[arg(long = "checkpoint")]
        checkpoints: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: VerifyFormat,
    },
    /// Print a log's latest signed checkpoint, to keep outside the log.
    Checkpoint {
        /// The evidence log.
        log: PathBuf,
    },
    /// The OSCAL component definition of a policy set: which policy implements which SOC 2
    /// criterion.
    Components {
        /// Policy files or directories (default: the built-in library).
        #[arg(long = "policies")]
        policies: Vec<PathBuf>,
        /// Also the built-in library.
        #[arg(long)]
        builtin: bool,
        #[command(flatten)]
        config: crate::load::ConfigFlags,
    },
}

/// Output of `evidence verify`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum VerifyFormat {
    /// One line a log, then its unfinished runs.
    Text,
    /// A JSON object per log in an array.
    Json,
}

/// Formats of `palisade report`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// One self-contained HTML file.
    Html,
    /// The report model as JSON.
    Json,
    /// OSCAL 1.1 assessment results.
    Oscal,
    /// OpenReports Report/ClusterReport objects in a List.
    Openreports,
}

/// Options of `palisade report`.
#[derive(clap::Args)]
pub struct ReportArgs {
    /// Evidence logs (their entries are merged).
    #[arg(required = true)]
    pub logs: Vec<PathBuf>,
    /// Trusted public keys: every log must verify before it is reported.
    #[arg(long = "key", required = true)]
    pub keys: Vec<String>,
    /// Checkpoints kept outside the logs (see `evidence verify`).
    #[arg(long = "checkpoint")]
    pub checkpoints: Vec<PathBuf>,
    /// Start of the period: a date (midnight UTC) or an RFC 3339 time.
    #[arg(long)]
    pub from: String,
    /// End of the period: a date (the end of that day, UTC) or an RFC 3339 time; default now.
    #[arg(long)]
    pub to: Option<String>,
    /// Longest stretch without an evaluation that is not flagged: 1d, 12h, 30m.
    #[arg(long = "max-gap", default_value = "1d")]
    pub max_gap: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "html")]
    pub format: ReportFormat,
    /// Write the report here instead of stdout.
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
}

impl EvidenceFlags {
    /// Refuses `--evidence` without a key before anything is read or evaluated.
    pub fn validate(&self) -> Result<(), Fatal> {
        if self.evidence.is_some() && self.evidence_key.is_none() {
            return Err(Fatal(
                "--evidence needs --evidence-key (or PALISADE_EVIDENCE_KEY): the log is signed; create a key with `palisade evidence keygen`".into(),
            ));
        }
        if let Some(key) = &self.evidence_key {
            signing_key(key)?;
        }
        Ok(())
    }
}

fn store(e: StoreError) -> Fatal {
    Fatal(e.to_string())
}

/// Reads a private key file.
fn signing_key(path: &Path) -> Result<SigningKey, Fatal> {
    let text = palisade_evidence::store::read_small_text(path, "key").map_err(Fatal)?;
    SigningKey::parse(&text).map_err(|e| Fatal(format!("{}: {e}", path.display())))
}

/// Reads public keys: files, or the key texts themselves.
fn verifier_keys(keys: &[String]) -> Result<Vec<VerifierKey>, Fatal> {
    keys.iter()
        .map(|k| {
            let path = Path::new(k);
            let (text, name) = if path.is_file() {
                let text = palisade_evidence::store::read_small_text(path, "key").map_err(Fatal)?;
                (text, k.clone())
            } else {
                (k.clone(), "--key".to_string())
            };
            if text.trim_start().starts_with("PRIVATE+KEY+") {
                return Err(Fatal(format!(
                    "{name}: a private key; verification takes the public key (NAME.pub)"
                )));
            }
            VerifierKey::parse(&text).map_err(|e| Fatal(format!("{name}: {e}")))
        })
        .collect()
}

fn kept_checkpoints(paths: &[PathBuf]) -> Result<Vec<String>, Fatal> {
    paths
        .iter()
        .map(|p| palisade_evidence::store::read_small_text(p, "checkpoint").map_err(Fatal))
        .collect()
}

/// Runs `palisade evidence ...`.
pub fn run(action: Action) -> Result<i32, Fatal> {
    match action {
        Action::Keygen { name, out } => keygen(&name, &out),
        Action::Verify {
            logs,
            keys,
            checkpoints,
            format,
        } => verify(&logs, &keys, &checkpoints, format),
        Action::Checkpoint { log } => {
            let reader = Reader::open(&log).map_err(store)?;
            let last = reader.checkpoints().map_err(store)?.pop();
            match last {
                Some((_, note)) => crate::output::emit(&note)?,
                None => {
                    return Err(Fatal(format!("{}: no checkpoint", log.display())));
                }
            }
            Ok(0)
        }
        Action::Components {
            policies,
            builtin,
            config,
        } => {
            let matcher = match crate::check::matcher(&policies, None, builtin, &config)? {
                Ok(m) => m,
                Err(code) => return Ok(code),
            };
            let program = matcher.program();
            let now = from_engine::time_of(crate::load::now()?);
            let set = from_engine::policy_set(program, "components", &now);
            let doc = oscal::component_definition(&set.policies, &set.digest, &now);
            crate::output::emit(&(serde_json::to_string_pretty(&doc)? + "\n"))?;
            Ok(0)
        }
    }
}

fn keygen(name: &str, out: &Path) -> Result<i32, Fatal> {
    let key = palisade_evidence::store::generate_key(name).map_err(Fatal)?;
    let private = out.join(format!("{name}.key"));
    let public = out.join(format!("{name}.pub"));
    for p in [&private, &public] {
        if p.exists() {
            return Err(Fatal(format!(
                "{}: exists; a key is never overwritten",
                p.display()
            )));
        }
    }
    write_private(&private, &(key.encode() + "\n"))?;
    std::fs::write(&public, key.verifier().encode() + "\n")
        .map_err(|e| Fatal(format!("{}: cannot write: {e}", public.display())))?;
    eprintln!(
        "palisade: wrote {} (private: signs checkpoints; keep it secret) and {} (public: verifies them)",
        private.display(),
        public.display()
    );
    crate::output::emit(&(key.verifier().encode() + "\n"))?;
    Ok(0)
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, text: &str) -> Result<(), Fatal> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .map_err(|e| Fatal(format!("{}: cannot write: {e}", path.display())))?;
    f.write_all(text.as_bytes())
        .map_err(|e| Fatal(format!("{}: cannot write: {e}", path.display())))
}

fn verify(
    logs: &[PathBuf],
    keys: &[String],
    checkpoints: &[PathBuf],
    format: VerifyFormat,
) -> Result<i32, Fatal> {
    let keys = verifier_keys(keys)?;
    let kept = kept_checkpoints(checkpoints)?;
    let mut failed = false;
    let mut json = Vec::new();
    let mut text = String::new();
    // Consumed events (`serve --events`) by id: a redelivered one is evaluated again, by the
    // same replica or another, and each replica writes its own log.
    let mut events: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    for log in logs {
        let v = palisade_evidence::verify::verify(log, &keys, &kept, |_, entry| {
            if let palisade_evidence::entry::Entry::Evaluation(e) = entry
                && let Some(id) = e.event
            {
                *events.entry(id).or_default() += 1;
            }
        })
        .map_err(store)?;
        failed |= !v.ok();
        let name = log.display();
        match &v.problem {
            None => text.push_str(&format!(
                "{name}: verified: {} entries, {} signed checkpoints (signed by {}), {} runs\n",
                v.entries,
                v.checkpoints,
                v.signers.iter().cloned().collect::<Vec<_>>().join(", "),
                v.runs
            )),
            Some(p) => text.push_str(&format!(
                "{name}: does not verify: entry {}: {}\n",
                p.entry, p.what
            )),
        }
        for u in &v.unfinished {
            text.push_str(&format!(
                "{name}: run {} ({}) started {} (entry {}) did not finish: it crashed, was killed or is still running\n",
                u.run, u.source, u.started, u.entry
            ));
        }
        json.push(serde_json::json!({
            "log": name.to_string(),
            "log_id": v.log_id,
            "verified": v.ok(),
            "entries": v.entries,
            "checkpoints": v.checkpoints,
            "signers": v.signers,
            "runs": v.runs,
            "unfinished": v.unfinished.iter().map(|u| serde_json::json!({"run": u.run, "source": u.source, "started": u.started, "entry": u.entry})).collect::<Vec<_>>(),
            "problem": v.problem.as_ref().map(|p| serde_json::json!({"entry": p.entry, "what": p.what})),
        }));
    }
    if !events.is_empty() {
        let evaluations: u64 = events.values().sum();
        text.push_str(&format!(
            "{} log{}: {} events evaluated; {} evaluations repeat an event after a redelivery (reports count each event once)\n",
            logs.len(),
            if logs.len() == 1 { "" } else { "s" },
            events.len(),
            evaluations - events.len() as u64
        ));
    }
    match format {
        VerifyFormat::Text => crate::output::emit(&text)?,
        VerifyFormat::Json => crate::output::emit(&(serde_json::to_string_pretty(&json)? + "\n"))?,
    }
    Ok(if failed { 1 } else { 0 })
}

/// A date (midnight UTC, or the end of that day when `end`) or an RFC 3339 time.
fn parse_time(flag: &str, text: &str, end: bool) -> Result<DateTime<Utc>, Fatal> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        Fatal(format!(
            "{flag} `{text}` is not a date (YYYY-MM-DD) or an RFC 3339 time"
        ))
    })?;
    let date = if end {
        date.succ_opt().unwrap_or(date)
    } else {
        date
    };
    Ok(date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
}

/// `1d`, `12h`, `30m`, `90s`.
fn parse_duration(text: &str) -> Result<Duration, Fatal> {
    let bad = || {
        Fatal(format!(
            "--max-gap `{text}` is not a duration such as 1d, 12h, 30m or 90s"
        ))
    };
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = number.parse().map_err(|_| bad())?;
    if n <= 0 || n > 100_000 {
        return Err(bad());
    }
    match unit {
        "d" => Ok(Duration::days(n)),
        "h" => Ok(Duration::hours(n)),
        "m" => Ok(Duration::minutes(n)),
        "s" => Ok(Duration::seconds(n)),
        _ => Err(bad()),
    }
}

/// Runs `palisade report`: exit 0 with the report written, 1 when a log does not verify, 2
/// when the report cannot be made.
pub fn report(args: ReportArgs) -> Result<i32, Fatal> {
    let now = DateTime::from_timestamp(crate::load::now()?, 0).unwrap_or_default();
    let from = parse_time("--from", &args.from, false)?;
    let to = match &args.to {
        Some(t) => parse_time("--to", t, true)?,
        None => now,
    };
    let keys = verifier_keys(&args.keys)?;
    let kept = kept_checkpoints(&args.checkpoints)?;
    let mut builder = Builder::new(Options {
        from,
        to,
        max_gap: parse_duration(&args.max_gap)?,
        generated: now,
    })
    .map_err(|e| Fatal(e.to_string()))?;
    for log in &args.logs {
        let name = log.display().to_string();
        // The period is built while the log is verified (no copy of its entries is kept);
        // it is used only if the whole log verifies.
        let log_id = Reader::open(log).map_err(store)?.meta().log_id.clone();
        builder.start_log(&name, &log_id);
        let mut bad_entry = None;
        let v = palisade_evidence::verify::verify(log, &keys, &kept, |seq, e| {
            if bad_entry.is_none()
                && let Err(e) = builder.entry(seq, &e)
            {
                bad_entry = Some(e);
            }
        })
        .map_err(store)?;
        if let Some(p) = &v.problem {
            eprintln!(
                "palisade: {name} does not verify: entry {}: {}; no report is made from it",
                p.entry, p.what
            );
            return Ok(1);
        }
        if let Some(e) = bad_entry {
            return Err(Fatal(e.to_string()));
        }
        builder.log_summary(LogSummary {
            file: name,
            log_id: v.log_id,
            entries: v.entries,
            checkpoints: v.checkpoints,
            signers: v.signers.into_iter().collect(),
            verified: true,
        });
    }
    let period = builder.finish().map_err(|e| Fatal(e.to_string()))?;
    let write = |out: &mut dyn std::io::Write| -> std::io::Result<()> {
        match args.format {
            ReportFormat::Html => out.write_all(html::render(&period).as_bytes())?,
            ReportFormat::Json => serde_json::to_writer_pretty(&mut *out, &period)?,
            ReportFormat::Oscal => oscal::write_assessment_results(&period, &mut *out)?,
            ReportFormat::Openreports => openreports::write_reports(&period, &mut *out)?,
        }
        if args.format != ReportFormat::Html {
            out.write_all(b"\n")?;
        }
        out.flush()
    };
    match &args.output {
        Some(path) => {
            let cannot =
                |e: std::io::Error| Fatal(format!("{}: cannot write: {e}", path.display()));
            let file = std::fs::File::create(path).map_err(cannot)?;
            write(&mut std::io::BufWriter::new(file)).map_err(cannot)?;
        }
        None => {
            let stdout = std::io::stdout();
            match write(&mut std::io::BufWriter::new(stdout.lock())) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    return Err(Fatal(format!("cannot write the output: {e}")));
                }
                _ => {}
            }
        }
    }
    Ok(0)
}

/// Records one `check` run in an evidence log.
pub struct Recorder {
    writer: Writer,
    run: String,
    time: String,
    violations: u64,
    exceptions: u64,
}

impl Recorder {
    /// Opens the log and writes the run's start (and the policy set when the log has not
    /// seen it); None without `--evidence`.
    pub fn start(
        flags: &EvidenceFlags,
        program: &Program,
        inputs: &[crate::inputs::InputFile],
        baselines: &[PathBuf],
        now: i64,
    ) -> Result<Option<Recorder>, Fatal> {
        let Some(path) = &flags.evidence else {
            return Ok(None);
        };
        let Some(key_path) = &flags.evidence_key else {
            return Err(Fatal(
                "--evidence needs --evidence-key (or PALISADE_EVIDENCE_KEY): the log is signed; create a key with `palisade evidence keygen`".into(),
            ));
        };
        let key = signing_key(key_path)?;
        let time = from_engine::time_of(now);
        let mut writer = Writer::open(path, key, &time).map_err(store)?;
        let run = palisade_evidence::store::random_id().map_err(store)?;
        let set = from_engine::policy_set(program, &run, &time);
        let mut digests = Vec::new();
        for input in inputs {
            digests.push(InputDigest {
                name: input.display.clone(),
                digest: input.digest()?,
            });
        }
        for path in baselines {
            let file = std::fs::File::open(path)
                .map_err(|e| Fatal(format!("{}: cannot read: {e}", path.display())))?;
            digests.push(InputDigest {
                name: format!("{} (baselines)", path.display()),
                digest: palisade_evidence::canonical::digest_reader(file)
                    .map_err(|e| Fatal(format!("{}: cannot read: {e}", path.display())))?,
            });
        }
        let digest = set.digest.clone();
        writer
            .start_run(
                set,
                RunStarted {
                    run: run.clone(),
                    time: time.clone(),
                    source: "check".into(),
                    tool: format!("palisade {}", env!("CARGO_PKG_VERSION")),
                    policy_set: digest,
                    inputs: digests,
                    actor: flags.evidence_actor.clone(),
                },
            )
            .map_err(store)?;
        Ok(Some(Recorder {
            writer,
            run,
            time,
            violations: 0,
            exceptions: 0,
        }))
    }

    /// Records a record's violations and the violations exclusions suppressed on it.
    pub fn record(
        &mut self,
        violations: &[Violation],
        excepted: &[Excepted],
        digest: impl FnOnce() -> String,
    ) -> Result<(), Fatal> {
        if violations.is_empty() && excepted.is_empty() {
            return Ok(());
        }
        let digest = digest();
        for v in violations {
            self.violations += 1;
            self.writer
                .append(Entry::Violation(from_engine::violation(
                    v, &self.run, &self.time, &digest,
                )))
                .map_err(store)?;
        }
        for e in excepted {
            self.exceptions += 1;
            self.writer
                .append(Entry::Exception(from_engine::exception(
                    e, &self.run, &self.time, &digest,
                )))
                .map_err(store)?;
        }
        Ok(())
    }

    /// Writes what was recorded so far, without finishing the run (the run stopped on an
    /// error: the log shows it did not finish).
    pub fn abandon(mut self) {
        if let Err(e) = self.writer.flush() {
            eprintln!("palisade: evidence: {e}");
        }
    }

    /// Writes the run's end and signs the log.
    pub fn finish(mut self, records: u64, failed: bool, now: i64) -> Result<(), Fatal> {
        self.writer
            .append(Entry::RunFinished(RunFinished {
                run: self.run.clone(),
                time: from_engine::time_of(now),
                records,
                violations: self.violations,
                exceptions: self.exceptions,
                failed,
            }))
            .map_err(store)?;
        self.writer.flush().map_err(store)?;
        Ok(())
    }
}
