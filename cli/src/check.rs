//! `palisade check`: evaluate policies over records.

use crate::load::{self, Fatal};
use crate::output::{Checked, Format, Sink};
use palisade_engine::record::Record;
use palisade_engine::report::Excepted;
use palisade_engine::value::Obj;
use palisade_engine::{Dataset, EvalOptions, Matcher};
use palisade_lang::hir::Severity;
use palisade_lang::schema::Stage;
use serde_json::value::RawValue;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Options of `check`.
pub struct CheckArgs {
    pub policies: Vec<PathBuf>,
    pub bundle: Option<PathBuf>,
    pub builtin: bool,
    pub all: bool,
    pub input: Vec<PathBuf>,
    pub lifecycle: Option<Stage>,
    pub format: Format,
    pub fail_on: Option<Severity>,
    pub explain: bool,
    pub convert: palisade_adapters::ConvertOptions,
    pub config: load::ConfigFlags,
    pub no_remediation: bool,
    pub evidence: crate::evidence::EvidenceFlags,
    pub baselines: Vec<PathBuf>,
}

/// Builds the matcher from `--policies`, `--bundle` and the built-in library
/// (implied when neither policies nor a bundle are given), with the configuration applied.
pub fn matcher(
    policies: &[PathBuf],
    bundle: Option<&PathBuf>,
    builtin: bool,
    config: &load::ConfigFlags,
) -> Result<Result<Matcher, i32>, Fatal> {
    if let Some(b) = bundle {
        if builtin || !policies.is_empty() {
            return Err(Fatal(
                "--bundle cannot be combined with --policies or --builtin".into(),
            ));
        }
        let text = palisade_lang::files::read_text(b, palisade_lang::files::MAX_BUNDLE_BYTES)
            .map_err(Fatal)?;
        let mut program = palisade_engine::bundle::read_program(&text)
            .map_err(|e| Fatal(format!("{}: {e}", b.display())))?;
        config.apply(&mut program.policies)?;
        return Matcher::new(program)
            .map(Ok)
            .map_err(|e| Fatal(format!("{}: {e}", b.display())));
    }
    let loaded = load::load(
        policies,
        builtin || policies.is_empty(),
        load::Items::PoliciesOnly,
    )?;
    let (_, set) = match load::checked_or_exit(loaded, false) {
        Ok(x) => x,
        Err(code) => return Ok(Err(code)),
    };
    let mut program = palisade_engine::compile(&set)?;
    config.apply(&mut program.policies)?;
    Ok(Ok(Matcher::new(program)?))
}

/// What the first pass keeps of a piece of an input.
#[derive(Default)]
struct ContextPiece {
    /// Deployments, images and baselines, in input order, with their lines.
    context: Vec<(Option<u32>, Record)>,
    /// Records by kind.
    read: std::collections::BTreeMap<&'static str, usize>,
    /// The results of the piece's events when pass 1 evaluates them ([`Ahead`]).
    held: Vec<Held>,
    /// Set when an evaluation failed: the records after it are not evaluated.
    failed: bool,
}

impl ContextPiece {
    /// Reads one line, and evaluates it `ahead` when it is an event; false (the input is
    /// read again by one reader, which reports the error in place) when it is not one
    /// record.
    fn read(
        &mut self,
        item: crate::inputs::Item<'_>,
        place: crate::inputs::Place<'_>,
        ahead: Option<&Ahead<'_>>,
    ) -> bool {
        let crate::inputs::Item::Json(json) = item else {
            return false;
        };
        let Ok(r) = palisade_engine::input::from_line::<Record>(json) else {
            return false;
        };
        *self.read.entry(r.kind()).or_default() += 1;
        let root = match &r {
            Record::Process(p) => Obj::Process(p),
            Record::KubeEvent(e) => Obj::Event(e),
            Record::NetworkFlow(f) => Obj::Flow(f),
            Record::Deployment(_) | Record::Image(_) | Record::Baseline(_) => {
                if let Some(ahead) = ahead {
                    ahead.abandon();
                }
                self.held = Vec::new();
                self.context.push((place.line(), r));
                return true;
            }
        };
        if let Some(ahead) = ahead {
            self.hold(ahead, root, json, place);
        }
        true
    }

    /// Evaluates an event and holds its results, unless evaluation was left to pass 2.
    fn hold(
        &mut self,
        ahead: &Ahead<'_>,
        root: Obj<'_>,
        json: &[u8],
        place: crate::inputs::Place<'_>,
    ) {
        if ahead.abandoned.load(Ordering::Relaxed) {
            self.held = Vec::new();
            return;
        }
        if self.failed {
            return;
        }
        let evaluated =
            match ahead
                .evaluation
                .evaluate_line(root, json, place, ahead.recording, ahead.display)
            {
                Ok(Some(evaluated)) => evaluated,
                Ok(None) => return,
                Err(fatal) => {
                    self.held.push(Held::Failed(fatal));
                    self.failed = true;
                    return;
                }
            };
        let weight = match (evaluated.quiet(), self.held.last_mut()) {
            (Some(root), Some(Held::Quiet(last, n))) if *last == root => {
                *n += 1;
                0
            }
            (Some(root), _) => {
                self.held.push(Held::Quiet(root, 1));
                1
            }
            (None, _) => {
                let weight = evaluated.weight();
                self.held.push(Held::Evaluated(Box::new(evaluated)));
                weight
            }
        };
        if weight > 0 && ahead.held.fetch_add(weight, Ordering::Relaxed) + weight > HELD_AT_MOST {
            ahead.abandon();
            self.held = Vec::new();
        }
    }
}

/// Results pass 1 holds at most (one per record with something to show, per violation,
/// explanation and exception, and per run of records that show nothing) before it leaves
/// the evaluation to pass 2: what it holds is bounded whatever the input.
const HELD_AT_MOST: usize = 50_000;

/// Pass 1 evaluates the events of an input it reads in pieces as it validates them, as
/// long as no input holds a deployment, an image or a baseline (so that the dataset it
/// evaluates with, the baselines of `--baselines`, is the final one) and what it holds
/// stays under [`HELD_AT_MOST`]. The results wait for pass 1 to validate every record;
/// pass 2 then reads nothing again.
struct Ahead<'a> {
    evaluation: Evaluation<'a>,
    recording: bool,
    display: &'a str,
    /// What every piece holds.
    held: &'a AtomicUsize,
    /// Set when pass 2 evaluates after all.
    abandoned: &'a AtomicBool,
}

impl Ahead<'_> {
    /// Leaves the evaluation to pass 2.
    fn abandon(&self) {
        self.abandoned.store(true, Ordering::Relaxed);
    }
}

/// A result pass 1 holds for the report, in input order.
enum Held {
    /// This many records of one kind, one after the other, that show nothing.
    Quiet(palisade_lang::schema::Root, usize),
    /// A record's results.
    Evaluated(Box<Evaluated>),
    /// Evaluation stopped here (a limit).
    Failed(Fatal),
}

/// Where an input's deployments and images are in the dataset.
struct Placed {
    /// The dataset's index of its first deployment, and of its first image.
    first_deployment: usize,
    first_image: usize,
    /// For an input read in pieces (JSON Lines of records throughout): its deployments
    /// and images by line, so that pass 2 reads it on every core too.
    by_line: Option<Vec<(u32, Context)>>,
    /// The results pass 1 evaluated ahead, by piece ([`Ahead`]).
    held: Option<Vec<Vec<Held>>>,
}

/// What pass 2 evaluates with, shared by its threads.
struct Evaluation<'a> {
    matcher: &'a Matcher,
    dataset: &'a Dataset,
    opts: &'a EvalOptions,
    lifecycle: Option<Stage>,
    explain: bool,
    format: Format,
}

/// One record's results, ready for the report.
struct Evaluated {
    checked: Checked,
    /// With evidence: the exceptions that applied, and the record's digest (computed
    /// only when something of the record is recorded).
    evidence: Option<(Vec<Excepted>, String)>,
}

impl Evaluated {
    /// The record's kind when neither the output nor the evidence shows anything of it.
    fn quiet(&self) -> Option<palisade_lang::schema::Root> {
        let recorded = self
            .evidence
            .as_ref()
            .is_some_and(|(excepted, _)| !excepted.is_empty());
        self.checked.quiet().filter(|_| !recorded)
    }

    /// How much the results hold ([`HELD_AT_MOST`]).
    fn weight(&self) -> usize {
        self.checked.weight() + self.evidence.as_ref().map_or(0, |(e, _)| e.len())
    }
}

/// A deployment or an image of an input read in pieces: evaluated as the dataset holds it
/// (joined), found by its line.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Context {
    Deployment(usize),
    Image(usize),
}

impl<'a> Evaluation<'a> {
    /// What `check` with `args` evaluates with.
    fn new(
        matcher: &'a Matcher,
        dataset: &'a Dataset,
        opts: &'a EvalOptions,
        args: &CheckArgs,
    ) -> Self {
        Evaluation {
            matcher,
            dataset,
            opts,
            lifecycle: args.lifecycle,
            explain: args.explain,
            format: args.format,
        }
    }

    /// Evaluates one record; `None` when no policy is (a baseline, a record of another
    /// stage than `--lifecycle`). With its JSON (evidence), the exceptions that applied
    /// come along.
    fn evaluate(
        &self,
        root: Obj<'_>,
        json: Option<crate::inputs::RecordJson<'_>>,
    ) -> Result<Option<Evaluated>, String> {
        let Some(kind) = palisade_engine::matcher::root_of(root) else {
            return Ok(None);
        };
        if self.lifecycle.is_some_and(|s| s != kind.stage()) {
            return Ok(None);
        }
        let limit = |e: palisade_engine::matcher::LimitError| {
            let id = palisade_engine::report::record_id(root);
            format!("{} `{}`: {e}", id.kind, id.id)
        };
        let (violations, not_fired) = self
            .matcher
            .check(self.dataset, root, self.opts, self.explain)
            .map_err(limit)?;
        let evidence = match json {
            Some(json) => {
                let excepted = self
                    .matcher
                    .excepted(self.dataset, root, self.opts)
                    .map_err(limit)?;
                let digest = if violations.is_empty() && excepted.is_empty() {
                    String::new()
                } else {
                    json.digest()
                };
                Some((excepted, digest))
            }
            None => None,
        };
        Ok(Checked::new(self.format, root, violations, not_fired)
            .map(|checked| Evaluated { checked, evidence }))
    }

    /// Reads and evaluates one line of an input read in pieces (on any thread): its
    /// deployments and images are those of the dataset at `context` (by line).
    fn line(
        &self,
        json: &[u8],
        place: crate::inputs::Place<'_>,
        context: &[(u32, Context)],
        recording: bool,
        display: &str,
    ) -> Result<Option<Evaluated>, Fatal> {
        let changed = || {
            Fatal(format!(
                "{}: the input changed while it was read",
                place.describe()
            ))
        };
        // A deployment or an image (pass 1 noted its line) is evaluated as the dataset
        // holds it: its line is not read again.
        let at = place.line().and_then(|line| {
            let i = context.binary_search_by_key(&line, |(l, _)| *l).ok()?;
            context.get(i).map(|(_, c)| *c)
        });
        let record;
        let root = match at {
            Some(Context::Deployment(i)) => {
                Obj::Deployment(self.dataset.deployments.get(i).ok_or_else(changed)?)
            }
            Some(Context::Image(i)) => Obj::Image(self.dataset.images.get(i).ok_or_else(changed)?),
            None => {
                record = palisade_engine::input::from_line::<Record>(json)
                    .map_err(|e| Fatal(format!("{}: {e}", place.describe())))?;
                match &record {
                    Record::Process(p) => Obj::Process(p),
                    Record::KubeEvent(e) => Obj::Event(e),
                    Record::NetworkFlow(f) => Obj::Flow(f),
                    Record::Baseline(_) => return Ok(None),
                    Record::Deployment(_) | Record::Image(_) => return Err(changed()),
                }
            }
        };
        self.evaluate_line(root, json, place, recording, display)
    }

    /// Evaluates `root`, read from the line `json`.
    fn evaluate_line(
        &self,
        root: Obj<'_>,
        json: &[u8],
        place: crate::inputs::Place<'_>,
        recording: bool,
        display: &str,
    ) -> Result<Option<Evaluated>, Fatal> {
        // Evidence digests the record's JSON: borrowed from the line, parsed only when
        // something of the record is recorded.
        let raw = if recording {
            Some(
                palisade_engine::input::from_line::<&RawValue>(json)
                    .map_err(|e| Fatal(format!("{}: {e}", place.describe())))?,
            )
        } else {
            None
        };
        let json = raw.map(crate::inputs::RecordJson::Raw);
        self.evaluate(root, json)
            .map_err(|e| Fatal(format!("{display}: {e}")))
    }
}

/// Where pass 2's results go, in input order: the output, the evidence, the count.
struct Report<'p> {
    sink: Sink<'p>,
    recorder: Option<crate::evidence::Recorder>,
    /// Records evaluated.
    evaluated: u64,
}

impl Report<'_> {
    /// Reports one record's results.
    fn deliver(
        &mut self,
        result: Evaluated,
        display: &str,
        line: Option<u32>,
    ) -> Result<(), String> {
        let Evaluated {
            mut checked,
            evidence,
        } = result;
        self.evaluated += 1;
        if let (Some(rec), Some((excepted, digest))) = (self.recorder.as_mut(), evidence) {
            rec.record(checked.violations_mut(), &excepted, || digest)
                .map_err(|e| e.0)?;
        }
        for v in checked.violations_mut() {
            v.record.locate(display, line);
        }
        self.sink
            .record(checked, (display, line))
            .map_err(|e| e.to_string())
    }

    /// Counts `n` records of kind `root` that show nothing ([`Held::Quiet`]).
    fn quiet(&mut self, root: palisade_lang::schema::Root, n: usize) {
        self.evaluated += n as u64;
        self.sink.count(root, n);
    }
}

/// Runs `check`; returns the exit code.
pub fn run(args: CheckArgs) -> Result<i32, Fatal> {
    args.evidence.validate()?;
    let matcher = match matcher(
        &args.policies,
        args.bundle.as_ref(),
        args.builtin,
        &args.config,
    )? {
        Ok(m) => m,
        Err(code) => return Ok(code),
    };
    let now = load::now()?;
    let recording = args.evidence.evidence.is_some();
    let inputs = crate::inputs::open_inputs(&args.input, &args.convert, recording)?;
    // Pass 1: context records (deployments, images, baselines); validates every record.
    let mut dataset = Dataset::default();
    let mut read: std::collections::BTreeMap<String, usize> = Default::default();
    for path in &args.baselines {
        for b in crate::baseline::read_file(path)? {
            dataset
                .add(Record::Baseline(b))
                .map_err(|e| Fatal(format!("{}: {e}", path.display())))?;
        }
    }
    dataset.finish();
    let opts = EvalOptions {
        now,
        include_disabled: args.all,
        stage: args.lifecycle,
    };
    let threads = crate::inputs::threads()?;
    let (held, abandoned) = (AtomicUsize::new(0), AtomicBool::new(false));
    // Where each input's deployments and images are in the dataset.
    let mut placed: Vec<Placed> = Vec::with_capacity(inputs.len());
    for input in &inputs {
        placed.push(Placed {
            first_deployment: dataset.deployments.len(),
            first_image: dataset.images.len(),
            by_line: None,
            held: None,
        });
        // Large JSON Lines are parsed by every core; the context records join in order.
        let ahead = (!abandoned.load(Ordering::Relaxed)).then(|| Ahead {
            evaluation: Evaluation::new(&matcher, &dataset, &opts, &args),
            recording,
            display: &input.display,
            held: &held,
            abandoned: &abandoned,
        });
        let pieces = crate::inputs::each_item_in_pieces(
            input,
            threads,
            || Ok(ContextPiece::default()),
            |piece, item, place| piece.read(item, place, ahead.as_ref()),
        )?;
        if let Some(pieces) = pieces {
            // `None` past 2^32 lines (no line number to find them by): pass 2 then reads
            // the input on one thread.
            let mut by_line = Some(Vec::new());
            let mut held = Vec::with_capacity(pieces.len());
            for piece in pieces {
                for (kind, n) in piece.read {
                    *read.entry(kind.to_string()).or_default() += n;
                }
                held.push(piece.held);
                for (line, r) in piece.context {
                    let at = match &r {
                        Record::Deployment(_) => {
                            Some(Context::Deployment(dataset.deployments.len()))
                        }
                        Record::Image(_) => Some(Context::Image(dataset.images.len())),
                        _ => None,
                    };
                    dataset
                        .add(r)
                        .map_err(|e| Fatal(format!("{}: {e}", input.display)))?;
                    if let Some(at) = at {
                        by_line = by_line.zip(line).map(|(mut b, line)| {
                            b.push((line, at));
                            b
                        });
                    }
                }
            }
            if let Some(last) = placed.last_mut() {
                last.by_line = by_line;
                last.held = Some(held);
            }
            continue;
        }
        // Read by one thread: evaluated by pass 2, with a dataset that may change.
        abandoned.store(true, Ordering::Relaxed);
        let mut err = None;
        crate::inputs::each_record(input, "reading", |r, _| {
            *read.entry(r.kind().to_string()).or_default() += 1;
            if let Err(e) = dataset.add(r) {
                err = Some(e.to_string());
                return Err(e.to_string());
            }
            Ok(())
        })
        .map_err(|f| match &err {
            Some(e) => Fatal(format!("{}: {e}", input.display)),
            None => f,
        })?;
    }
    // Evaluated ahead only when the dataset did not change since.
    if abandoned.load(Ordering::Relaxed) {
        for p in &mut placed {
            p.held = None;
        }
    }
    dataset.finish();
    let program = matcher.program();
    let policies = program
        .policies
        .iter()
        .filter(|p| {
            (args.all || !p.disabled) && args.lifecycle.is_none_or(|s| p.stages.contains(&s))
        })
        .count();
    let mut sink = Sink::new(args.format, args.explain, program);
    sink.read = read;
    sink.remediation = !args.no_remediation;
    sink.all = args.all;
    sink.lifecycle = args.lifecycle;
    for input in &inputs {
        for (kind, n) in &input.skipped {
            *sink.skipped.entry(kind.clone()).or_default() += n;
        }
        for (kind, n) in &input.context {
            *sink.context.entry(kind.clone()).or_default() += n;
        }
    }
    let recorder =
        crate::evidence::Recorder::start(&args.evidence, program, &inputs, &args.baselines, now)?;
    let mut report = Report {
        sink,
        recorder,
        evaluated: 0,
    };
    let evaluation = Evaluation::new(&matcher, &dataset, &opts, &args);
    // Pass 2: every record, reported in input order.
    let mut pass = || -> Result<(), Fatal> {
        for (input, placed) in inputs.iter().zip(&mut placed) {
            if let Some(held) = placed.held.take() {
                // Evaluated by pass 1 (every line is one record, pass 1 read it so).
                for result in held.into_iter().flatten() {
                    match result {
                        Held::Quiet(root, n) => report.quiet(root, n),
                        Held::Evaluated(result) => report
                            .deliver(*result, &input.display, None)
                            .map_err(|e| Fatal(format!("{}: {e}", input.display)))?,
                        Held::Failed(fatal) => return Err(fatal),
                    }
                }
                continue;
            }
            if let Some(by_line) = &placed.by_line {
                // Every line is one record (pass 1 read it so): evaluated on every core.
                crate::inputs::each_line_in_order(
                    input,
                    "checking",
                    threads,
                    |json, place| evaluation.line(json, place, by_line, recording, &input.display),
                    |result| match result {
                        Some(result) => report.deliver(result, &input.display, None),
                        None => Ok(()),
                    },
                )?;
                continue;
            }
            // Deployments and images are evaluated as the dataset holds them (joined).
            let (mut next_deployment, mut next_image) =
                (placed.first_deployment, placed.first_image);
            let mut check_one = |r: Record,
                                 line: Option<u32>,
                                 json: Option<crate::inputs::RecordJson<'_>>|
             -> Result<(), String> {
                let root = match &r {
                    Record::Process(p) => Some(Obj::Process(p)),
                    Record::KubeEvent(e) => Some(Obj::Event(e)),
                    Record::NetworkFlow(f) => Some(Obj::Flow(f)),
                    Record::Deployment(_) => {
                        next_deployment += 1;
                        dataset
                            .deployments
                            .get(next_deployment - 1)
                            .map(Obj::Deployment)
                    }
                    Record::Image(_) => {
                        next_image += 1;
                        dataset.images.get(next_image - 1).map(Obj::Image)
                    }
                    Record::Baseline(_) => None,
                };
                let Some(root) = root else { return Ok(()) };
                match evaluation.evaluate(root, json)? {
                    Some(result) => report.deliver(result, &input.display, line),
                    None => Ok(()),
                }
            };
            if recording {
                crate::inputs::each_record_with_json(input, |r, line, json| {
                    check_one(r, line, Some(json))
                })?;
            } else {
                crate::inputs::each_record(input, "checking", |r, line| check_one(r, line, None))?;
            }
        }
        Ok(())
    };
    if let Err(e) = pass() {
        if let Some(rec) = report.recorder {
            rec.abandon();
        }
        return Err(e);
    }
    let Report {
        sink,
        recorder,
        evaluated,
    } = report;
    let outcome = sink.finish(policies)?;
    let failing = outcome.iter().any(|o| match args.fail_on {
        Some(threshold) => o.severity >= threshold,
        None => o.enforced,
    });
    if args.format == Format::Text {
        crate::output::emit(&format!(
            "{}\n",
            crate::output::exit_reason(&outcome, args.fail_on)
        ))?;
    }
    if let Some(rec) = recorder {
        rec.finish(evaluated, failing, load::now()?)?;
    }
    Ok(if failing { 1 } else { 0 })
}
