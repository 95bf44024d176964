//! `palisade check`: evaluate policies over records.

use crate::load::{self, Fatal};
use crate::output::{Format, Sink};
use palisade_engine::record::Record;
use palisade_engine::value::Obj;
use palisade_engine::{Dataset, EvalOptions, Matcher};
use palisade_lang::hir::Severity;
use palisade_lang::schema::Stage;
use std::path::PathBuf;

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
    /// Deployments, images and baselines, in input order.
    context: Vec<Record>,
    /// Records by kind.
    read: std::collections::BTreeMap<&'static str, usize>,
}

impl ContextPiece {
    /// Reads one line; false (the input is read again by one reader, which reports the
    /// error in place) when it is not one record.
    fn read(&mut self, item: crate::inputs::Item<'_>, _: crate::inputs::Place<'_>) -> bool {
        let crate::inputs::Item::Json(json) = item else {
            return false;
        };
        let Ok(r) = serde_json::from_slice::<Record>(json) else {
            return false;
        };
        *self.read.entry(r.kind()).or_default() += 1;
        if matches!(
            r,
            Record::Deployment(_) | Record::Image(_) | Record::Baseline(_)
        ) {
            self.context.push(r);
        }
        true
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
    let threads = crate::inputs::threads()?;
    for input in &inputs {
        // Large JSON Lines are parsed by every core; the context records join in order.
        if let Some(pieces) = crate::inputs::each_item_in_pieces(
            input,
            threads,
            || Ok(ContextPiece::default()),
            ContextPiece::read,
        )? {
            for piece in pieces {
                for (kind, n) in piece.read {
                    *read.entry(kind.to_string()).or_default() += n;
                }
                for r in piece.context {
                    dataset
                        .add(r)
                        .map_err(|e| Fatal(format!("{}: {e}", input.display)))?;
                }
            }
            continue;
        }
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
    dataset.finish();
    let opts = EvalOptions {
        now,
        include_disabled: args.all,
        stage: args.lifecycle,
    };
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
    let mut recorder =
        crate::evidence::Recorder::start(&args.evidence, program, &inputs, &args.baselines, now)?;
    let mut evaluated = 0u64;
    // Pass 2: every record in input order.
    let (mut next_deployment, mut next_image) = (0usize, 0usize);
    let mut check_one = |r: Record,
                         line: Option<u32>,
                         display: &str,
                         json: Option<crate::inputs::RecordJson<'_>>|
     -> Result<(), String> {
        {
            let root = match &r {
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
                Record::Process(p) => Some(Obj::Process(p)),
                Record::KubeEvent(e) => Some(Obj::Event(e)),
                Record::NetworkFlow(f) => Some(Obj::Flow(f)),
                Record::Baseline(_) => None,
            };
            let Some(root) = root else { return Ok(()) };
            let Some(kind) = palisade_engine::matcher::root_of(root) else {
                return Ok(());
            };
            if args.lifecycle.is_some_and(|s| s != kind.stage()) {
                return Ok(());
            }
            let limit = |e: palisade_engine::matcher::LimitError| {
                let id = palisade_engine::report::record_id(root);
                format!("{} `{}`: {e}", id.kind, id.id)
            };
            let (mut violations, not_fired) = matcher
                .check(&dataset, root, &opts, args.explain)
                .map_err(limit)?;
            evaluated += 1;
            if let (Some(rec), Some(json)) = (recorder.as_mut(), json) {
                let excepted = matcher.excepted(&dataset, root, &opts).map_err(limit)?;
                rec.record(&violations, &excepted, || json.digest())
                    .map_err(|e| e.0)?;
            }
            for v in &mut violations {
                v.record.locate(display, line);
            }
            sink.record(root, (display, line), violations, not_fired)
                .map_err(|e| e.to_string())
        }
    };
    let mut pass = || -> Result<(), Fatal> {
        for input in &inputs {
            if recording {
                crate::inputs::each_record_with_json(input, |r, line, json| {
                    check_one(r, line, &input.display, Some(json))
                })?;
            } else {
                crate::inputs::each_record(input, "checking", |r, line| {
                    check_one(r, line, &input.display, None)
                })?;
            }
        }
        Ok(())
    };
    if let Err(e) = pass() {
        if let Some(rec) = recorder {
            rec.abandon();
        }
        return Err(e);
    }
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
