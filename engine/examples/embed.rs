//! Embedding the engine in another Rust tool (docs/embedding.md): policies are compiled
//! once, the tool's own records go into a dataset, and each record is evaluated; the
//! violations and explanations come back as Rust values.
//!
//! `cargo run -p palisade-engine --example embed`

use palisade_engine::dataset::JoinIndex;
use palisade_engine::record::{Deployment, Image, Process, Record};
use palisade_engine::report::Violation;
use palisade_engine::value::{Ctx, Obj};
use palisade_engine::{Dataset, EvalOptions, Matcher, PolicySet};
use palisade_lang::{SourceFile, Sources};

/// The tool's policies (files of its own, or `palisade_library::FILES` for the built-in
/// library).
const POLICIES: &str = r#"
policy "Privileged container" {
  severity high
  lifecycle deploy
  soc2 CC6.1
  when container.privileged
  message "container '{container.name}' is privileged"
}

policy "Shell in a container" {
  severity high
  lifecycle runtime
  soc2 CC7.2
  when process.name in ["sh", "bash"]
  message "{process.exec_path} started in container {process.container}"
}
"#;

/// Compiles policy source into a matcher; the diagnostics (typed: message, span, help)
/// when it does not check.
fn load(policies: &str) -> Result<Matcher, Vec<String>> {
    let mut sources = Sources::default();
    sources.add(SourceFile::new("tool.pal", policies));
    let (_, checked) = palisade_lang::parse_and_check_policies(&sources);
    let set = checked.map_err(|diagnostics| {
        diagnostics
            .iter()
            .map(|d| sources.to_line(d))
            .collect::<Vec<_>>()
    })?;
    let program = palisade_engine::compile(&set).map_err(|e| vec![e.to_string()])?;
    Matcher::new(program).map_err(|e| vec![e.to_string()])
}

/// The tool's records: here read from records.md JSON, each as its own type (no tagged
/// enum in between); a tool can as well build the structs itself.
fn records() -> Result<(Deployment, Image, Process), serde_json::Error> {
    let deployment = serde_json::from_str(
        r#"{"id": "d1", "name": "agent", "namespace": "monitoring",
            "containers": [{"name": "agent", "image": {"id": "sha256:a1"},
                            "security_context": {"privileged": true}}]}"#,
    )?;
    let image = serde_json::from_str(
        r#"{"id": "sha256:a1", "name": {"full_name": "registry.example.com/agent:1.0"}}"#,
    )?;
    let process = Process {
        id: "e1".into(),
        deployment_id: Some("d1".into()),
        container: Some("agent".into()),
        name: Some("bash".into()),
        exec_path: Some("/bin/bash".into()),
        ..Process::default()
    };
    Ok((deployment, image, process))
}

/// The tool's deployment and image in a dataset (the context events join to: a process
/// to its deployment and container; `finish` indexes them once), and its process event.
fn dataset() -> Result<(Dataset, Process), String> {
    let (deployment, image, process) = records().map_err(|e| e.to_string())?;
    let mut dataset = Dataset::default();
    for r in [Record::Deployment(deployment), Record::Image(image)] {
        dataset.add(r).map_err(|e| e.to_string())?;
    }
    dataset.finish();
    Ok((dataset, process))
}

/// Evaluates the tool's records; every violation, with its explanation.
pub fn run() -> Result<Vec<Violation>, String> {
    let matcher = load(POLICIES).map_err(|d| d.join("\n"))?;
    let (dataset, process) = dataset()?;
    // One clock for the whole evaluation (image age, exclusion expiry, ...).
    let options = EvalOptions {
        now: 1_790_000_000,
        include_disabled: false,
        stage: None,
    };
    let mut violations = Vec::new();
    let roots = dataset
        .deployments
        .iter()
        .map(Obj::Deployment)
        .chain([Obj::Process(&process)]);
    for root in roots {
        let (found, _not_fired) = matcher
            .check(&dataset, root, &options, true)
            .map_err(|e| e.to_string())?;
        violations.extend(found);
    }
    Ok(violations)
}

/// A runtime agent's loop, one level down: it looked up each event's joins when the event
/// arrived and keeps them beside it (plain numbers, no borrow of the dataset), then
/// evaluates with any policy set (the matcher, or policies compiled to Rust by
/// `palisade_engine::codegen`: both are a `PolicySet`) and turns the hits into violations.
pub fn evaluate_kept_events(
    set: &impl PolicySet,
    dataset: &Dataset,
    events: &[(Process, JoinIndex)],
    now: i64,
) -> Result<Vec<Violation>, String> {
    let options = EvalOptions {
        now,
        include_disabled: false,
        stage: None,
    };
    let mut violations = Vec::new();
    for (process, join) in events {
        let root = Obj::Process(process);
        // The context carries the evaluation's one clock; a join from another dataset, or
        // from before this one changed, is refused rather than misread.
        let ctx = Ctx::with_join(dataset, *join, now).map_err(|e| e.to_string())?;
        let mut hits = Vec::new();
        set.evaluate(&ctx, root, &options, |hit| hits.push(hit))
            .map_err(|e| e.to_string())?;
        violations.extend(
            hits.into_iter()
                .filter_map(|hit| set.matcher().violation_of(hit, root, &ctx, false)),
        );
    }
    Ok(violations)
}

/// [`evaluate_kept_events`] over the example's process, its join kept from arrival.
pub fn run_kept() -> Result<Vec<Violation>, String> {
    let matcher = load(POLICIES).map_err(|d| d.join("\n"))?;
    let (dataset, process) = dataset()?;
    let join = dataset.join_index(Obj::Process(&process));
    evaluate_kept_events(&matcher, &dataset, &[(process, join)], 1_790_000_000)
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(violations) => {
            for v in &violations {
                println!(
                    "{} [{}] on {} `{}`: {}",
                    v.policy,
                    v.severity.as_str(),
                    v.record.kind,
                    v.record.id,
                    v.messages.join("; ")
                );
                for step in v.explain.iter().flatten() {
                    println!(
                        "  because {} was {} ({})",
                        step.condition, step.value, step.result
                    );
                }
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}
