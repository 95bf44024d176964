//! `palisade baseline learn|lock|unlock|add|remove|export` and the baseline files of
//! `check --baselines` (docs/baselines.md).

use crate::inputs::{Item, Place};
use crate::load::Fatal;
use palisade_baseline::edit::{self, Edit, Selector};
use palisade_baseline::export::{self, ExportOptions, Target};
use palisade_baseline::learn::{BadEvent, Event, Learner, Options};
use palisade_engine::record::{Baseline, Record, Timestamp};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Paths outside locked baselines listed on stderr (the JSON report has all).
const MAX_LISTED: usize = 20;

/// Longest observation window and startup window accepted (ten years).
const MAX_WINDOW_SECONDS: u64 = 10 * 366 * 24 * 3600;

/// Which baselines an edit applies to.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct SelectorFlags {
    /// Only baselines of this cluster.
    #[arg(long)]
    cluster: Option<String>,
    /// Only baselines of this namespace.
    #[arg(long, short = 'n')]
    namespace: Option<String>,
    /// Only baselines of this workload (name, or deployment id).
    #[arg(long)]
    workload: Option<String>,
    /// Only baselines of this container.
    #[arg(long)]
    container: Option<String>,
}

impl SelectorFlags {
    fn selector(&self) -> Selector {
        Selector {
            cluster: self.cluster.clone(),
            namespace: self.namespace.clone(),
            workload: self.workload.clone(),
            container: self.container.clone(),
        }
    }
}

/// The enforcers `export` writes for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// Tetragon TracingPolicyNamespaced documents.
    Tetragon,
    /// A Falco rules file.
    Falco,
}

/// What `palisade baseline` does.
#[derive(clap::Subcommand)]
pub enum Action {
    /// Learn baselines from process events (records, Falco, Tetragon): one per container of
    /// a workload, locked when the observation window has passed in event time. Exit 1 when
    /// processes ran outside locked baselines (listed).
    Learn {
        /// Event files or directories (as `check --input`); `-` is stdin.
        #[arg(long = "input", num_args = 1.., value_name = "PATH", required = true)]
        input: Vec<PathBuf>,
        /// Continue from these baselines (locked ones are not changed).
        #[arg(long, value_name = "FILE")]
        baselines: Option<PathBuf>,
        /// Write the baselines here (replaced atomically; may be the --baselines file).
        /// Default: stdout.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
        /// The observation window of a new baseline, from its first event (1h, 30m, 2d).
        #[arg(long, default_value = "1h", value_parser = duration_seconds)]
        window: u64,
        /// Processes this soon after their container started are startup processes: exempt,
        /// not learned.
        #[arg(long, default_value = "60s", value_parser = duration_seconds)]
        startup: u64,
        /// Also write the learning report as JSON here.
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
    },
    /// Lock baselines: from now on a process outside one is a violation.
    Lock {
        /// The baseline file (edited in place).
        file: PathBuf,
        #[command(flatten)]
        select: SelectorFlags,
    },
    /// Unlock baselines: no violations, and learning continues without a window until locked.
    Unlock {
        /// The baseline file (edited in place).
        file: PathBuf,
        #[command(flatten)]
        select: SelectorFlags,
    },
    /// Allow executable paths.
    Add {
        /// The baseline file (edited in place).
        file: PathBuf,
        /// Executable paths.
        #[arg(long = "path", required = true, value_name = "PATH")]
        paths: Vec<String>,
        #[command(flatten)]
        select: SelectorFlags,
    },
    /// Disallow executable paths; they are never learned again.
    Remove {
        /// The baseline file (edited in place).
        file: PathBuf,
        /// Executable paths.
        #[arg(long = "path", required = true, value_name = "PATH")]
        paths: Vec<String>,
        #[command(flatten)]
        select: SelectorFlags,
    },
    /// Write locked baselines as Tetragon TracingPolicies or Falco rules.
    Export {
        /// The baseline file.
        file: PathBuf,
        /// The enforcer.
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// Tetragon: policy-mode enforce (kill processes outside the baseline) instead of
        /// monitor.
        #[arg(long)]
        enforce: bool,
        /// Write here instead of stdout.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// A duration as `1h`, `90m`, `60s`, `2d` or `1h 30m` (whole seconds, at most ten years).
fn duration_seconds(text: &str) -> Result<u64, String> {
    let d = humantime::parse_duration(text.trim())
        .map_err(|e| format!("`{text}`: {e} (e.g. 1h, 30m, 60s)"))?;
    if d.subsec_nanos() != 0 {
        return Err(format!("`{text}`: whole seconds only"));
    }
    if d.as_secs() > MAX_WINDOW_SECONDS {
        return Err(format!("`{text}`: at most ten years"));
    }
    Ok(d.as_secs())
}

/// Reads a baseline file (strictly: an error names the file and the record).
pub fn read_file(path: &Path) -> Result<Vec<Baseline>, Fatal> {
    let display = path.display().to_string();
    let file =
        std::fs::File::open(path).map_err(|e| Fatal(format!("{display}: cannot read: {e}")))?;
    palisade_baseline::file::read(std::io::BufReader::new(file), &display).map_err(|e| Fatal(e.0))
}

/// Writes `text` to `path` atomically (a temporary file beside it, renamed over it).
fn write_atomically(path: &Path, text: &str) -> Result<(), Fatal> {
    let cannot = |e: std::io::Error| Fatal(format!("{}: cannot write: {e}", path.display()));
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(cannot)?;
    tmp.write_all(text.as_bytes()).map_err(cannot)?;
    tmp.as_file().sync_all().map_err(cannot)?;
    tmp.persist(path).map_err(|e| cannot(e.error))?;
    Ok(())
}

/// Writes baselines to a file, or stdout.
fn write_baselines(baselines: &[Baseline], output: Option<&Path>) -> Result<(), Fatal> {
    let text = palisade_baseline::file::write(baselines).map_err(|e| Fatal(e.0))?;
    match output {
        Some(path) => write_atomically(path, &text),
        None => crate::output::emit(&text),
    }
}

/// Runs `palisade baseline`; returns the exit code.
pub fn run(action: Action) -> Result<i32, Fatal> {
    match action {
        Action::Learn {
            input,
            baselines,
            output,
            window,
            startup,
            report,
        } => learn(
            &input,
            baselines.as_deref(),
            output.as_deref(),
            window,
            startup,
            report.as_deref(),
        ),
        Action::Lock { file, select } => {
            let now = crate::load::now()?;
            edit_file(&file, &select, &Edit::Lock(Timestamp(now)), "locked")
        }
        Action::Unlock { file, select } => edit_file(&file, &select, &Edit::Unlock, "unlocked"),
        Action::Add {
            file,
            paths,
            select,
        } => edit_file(&file, &select, &Edit::Add(paths), "changed"),
        Action::Remove {
            file,
            paths,
            select,
        } => edit_file(&file, &select, &Edit::Remove(paths), "changed"),
        Action::Export {
            file,
            format,
            enforce,
            output,
        } => export_file(&file, format, enforce, output.as_deref()),
    }
}

fn learn(
    inputs: &[PathBuf],
    baselines: Option<&Path>,
    output: Option<&Path>,
    window: u64,
    startup: u64,
    report_path: Option<&Path>,
) -> Result<i32, Fatal> {
    if window == 0 {
        return Err(Fatal("--window must be longer than 0s".into()));
    }
    let existing = match baselines {
        Some(p) => read_file(p)?,
        None => Vec::new(),
    };
    let options = Options {
        window_seconds: window,
        startup_seconds: startup,
    };
    let mut learner = Learner::new(options, existing.clone()).map_err(Fatal)?;
    let files = crate::inputs::open_inputs(inputs, &Default::default(), false)?;
    let mut other = Ignored::new();
    let threads = crate::inputs::threads()?;
    for input in &files {
        let pieces = crate::inputs::each_item_in_pieces(
            input,
            threads,
            || {
                let learner = Learner::new(options, existing.clone()).map_err(Fatal)?;
                Ok((learner, Ignored::new()))
            },
            |(learner, other), item, place| learn_item(learner, other, item, place),
        )?;
        match pieces {
            Some(pieces) => {
                for (piece, ignored) in pieces {
                    learner.merge(piece);
                    for (kind, n) in ignored {
                        *other.entry(kind).or_default() += n;
                    }
                }
            }
            None => {
                crate::inputs::each_item(input, |item, place| {
                    learn_item(&mut learner, &mut other, item, place)
                })?;
            }
        }
    }
    let learned = learner.finish().map_err(Fatal)?;
    write_baselines(&learned.baselines, output)?;
    let r = &learned.report;
    if let Some(path) = report_path {
        let json = serde_json::to_string_pretty(r).map_err(|e| Fatal(e.to_string()))?;
        write_atomically(path, &(json + "\n"))?;
    }
    let mut text = format!(
        "learned from {} process events ({} startup, exempt){}: {} baselines, {} new, {} locked ({} by this run)\n",
        r.events,
        r.startup_events,
        r.clock
            .and_then(|c| c.rfc3339())
            .map(|c| format!(" up to {c}"))
            .unwrap_or_default(),
        r.baselines,
        r.created,
        r.locked,
        r.locked_now
    );
    if !other.is_empty() {
        let kinds: Vec<String> = other.iter().map(|(k, n)| format!("{n} {k}")).collect();
        text.push_str(&format!(
            "not process events, ignored: {}\n",
            kinds.join(", ")
        ));
    }
    let bad: u64 = r.bad.values().sum();
    if bad > 0 {
        let reasons: Vec<String> = r.bad.iter().map(|(why, n)| format!("{n} {why}")).collect();
        text.push_str(&format!(
            "{bad} events not learned from: {}\n",
            reasons.join(", ")
        ));
        for example in &r.bad_examples {
            text.push_str(&format!("  {example}\n"));
        }
    }
    for o in r.outside.iter().take(MAX_LISTED) {
        text.push_str(&format!(
            "outside locked baseline {}: {} ({} events, first {})\n",
            o.baseline,
            o.path,
            o.events,
            o.first.rfc3339().unwrap_or_default()
        ));
    }
    if r.outside.len() > MAX_LISTED {
        text.push_str(&format!(
            "... and {} more paths outside locked baselines{}\n",
            r.outside.len() - MAX_LISTED,
            if report_path.is_some() {
                " (all in the report)"
            } else {
                " (--report FILE lists all)"
            }
        ));
    }
    eprint!("{text}");
    Ok(if r.outside.is_empty() { 0 } else { 1 })
}

/// Records of other kinds than process, counted by kind.
type Ignored = std::collections::BTreeMap<&'static str, u64>;

/// Learns from one item of an input; false when it is not one JSON value (the reader then
/// reads the input as a stream of values from there).
fn learn_item(
    learner: &mut Learner,
    other: &mut Ignored,
    item: Item<'_>,
    place: Place<'_>,
) -> bool {
    match item {
        Item::Record(Record::Process(p)) => learner.observe(p, || place.describe()),
        Item::Record(r) => *other.entry(r.kind()).or_default() += 1,
        Item::Json(json) => match palisade_engine::input::from_line::<Event<'_>>(json) {
            Ok(e) if e.kind() == Some("process") => learner.observe_event(&e, || place.describe()),
            // Other records are not read; an unknown kind is not a record.
            Ok(e) => match Record::KINDS.iter().find(|k| Some(**k) == e.kind()) {
                Some(kind) => *other.entry(kind).or_default() += 1,
                None => learner.reject_with(
                    BadEvent::Unreadable,
                    &place.describe(),
                    &format!("`kind` is {:?}", e.kind().unwrap_or("missing")),
                ),
            },
            // Not one whole JSON value: the reader takes it as a stream from here.
            Err(e) if !e.is_data() => return false,
            Err(e) => learner.reject_with(BadEvent::Unreadable, &place.describe(), &e.to_string()),
        },
    }
    true
}

fn edit_file(path: &Path, select: &SelectorFlags, edit: &Edit, verb: &str) -> Result<i32, Fatal> {
    let mut baselines = read_file(path)?;
    let changed = edit::apply(&mut baselines, &select.selector(), edit)
        .map_err(|e| Fatal(format!("{}: {e}", path.display())))?;
    write_baselines(&baselines, Some(path))?;
    if changed.is_empty() {
        eprintln!("{}: no baseline changed", path.display());
    }
    for name in &changed {
        eprintln!("{verb}: {name}");
    }
    Ok(0)
}

fn export_file(
    path: &Path,
    format: ExportFormat,
    enforce: bool,
    output: Option<&Path>,
) -> Result<i32, Fatal> {
    let baselines = read_file(path)?;
    let target = match format {
        ExportFormat::Tetragon => Target::Tetragon,
        ExportFormat::Falco => Target::Falco,
    };
    let exported = export::export(&baselines, target, ExportOptions { enforce }).map_err(Fatal)?;
    match output {
        Some(p) => write_atomically(p, &exported.yaml)?,
        None => crate::output::emit(&exported.yaml)?,
    }
    eprintln!(
        "exported {} locked baselines{}",
        exported.exported,
        if exported.unlocked.is_empty() {
            String::new()
        } else {
            format!("; {} unlocked ones left out", exported.unlocked.len())
        }
    );
    for (name, why) in &exported.refused {
        eprintln!("cannot export {name}: {why}");
    }
    Ok(if exported.refused.is_empty() { 0 } else { 1 })
}
