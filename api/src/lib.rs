//! One JSON-in / JSON-out API for hosts (the WASM build, the sidecar, bindings): compile
//! policies to structured diagnostics, check inputs of any supported format producing
//! exactly the CLI's JSON report, format source, list the built-in library. Time comes
//! from the caller, so results are reproducible.
//!
//! It sits above the engine, with the readers of other formats (the adapters), the
//! StackRox importer and the built-in library: a Rust program that embeds the matcher
//! depends on `palisade-engine` alone, which needs only `palisade-lang` and what
//! evaluation needs. Each of those is a feature (`readers`, `stackrox`, `library`, and
//! `config` for `palisade.toml`), on by default; the npm package's evaluator module is
//! built without them, and a request that needs one is then an error that says so.

use palisade_engine::input::read_text;
use palisade_engine::json_report::{JsonReport, Summary};
use palisade_engine::matcher::root_of;
use palisade_engine::record::Record;
use palisade_engine::{Dataset, EvalOptions, Matcher};
use palisade_lang::schema::Stage;
use palisade_lang::syntax::Items;
use palisade_lang::{SourceFile, Sources};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// A policy file: `.json` names are StackRox exports, anything else policy source.
#[derive(Clone, Debug, Deserialize)]
pub struct SourceText {
    /// File name (shown in diagnostics).
    pub name: String,
    /// Content.
    pub text: String,
}

/// What to compile.
#[derive(Clone, Debug, Deserialize, Default)]
pub struct CompileRequest {
    /// Policy files.
    #[serde(default)]
    pub policies: Vec<SourceText>,
    /// Also load the built-in library (implied when `policies` is empty).
    #[serde(default)]
    pub builtin: bool,
    /// A `palisade.toml` (name and TOML text) applied to the policies: enabled, enforcement,
    /// severity, exclusions.
    #[serde(default)]
    pub config: Option<SourceText>,
}

/// What to check.
#[derive(Clone, Debug, Deserialize, Default)]
pub struct CheckRequest {
    /// Policies.
    #[serde(flatten)]
    pub compile: CompileRequest,
    /// Inputs (records, manifests, scanner reports, events).
    #[serde(default)]
    pub inputs: Vec<SourceText>,
    /// Also evaluate disabled policies.
    #[serde(default)]
    pub all: bool,
    /// Only this stage.
    #[serde(default)]
    pub lifecycle: Option<Stage>,
    /// "Now", RFC 3339 (required: hosts pass their clock).
    pub now: String,
    /// Include explanations and the first failing condition of policies that did not fire.
    #[serde(default)]
    pub explain: bool,
    /// Baseline files (JSON Lines of baseline records, docs/baselines.md), read strictly.
    #[serde(default)]
    pub baselines: Vec<SourceText>,
}

/// Adds the baselines of baseline files to a dataset; an error names the file and record.
pub fn add_baseline_files(dataset: &mut Dataset, files: &[SourceText]) -> Result<(), String> {
    for file in files {
        let mut index = 0usize;
        let mut failure = None;
        let read = palisade_engine::input::read_items(file.text.as_bytes(), |v: Value| {
            index += 1;
            let added = palisade_engine::record::parse_baseline(v)
                .map_err(|e| format!("record {index}: {e}"))
                .and_then(|b| {
                    dataset
                        .add(Record::Baseline(b))
                        .map(|_| ())
                        .map_err(|e| format!("record {index}: {e}"))
                });
            added.inspect_err(|e| failure = Some(e.clone()))
        });
        match (read, failure) {
            (_, Some(e)) => return Err(format!("{}: {e}", file.name)),
            (Err(e), None) if file.text.trim().is_empty() && e.line > 0 => {}
            (Err(e), None) => return Err(format!("{}:{e}", file.name)),
            (Ok(_), None) => {}
        }
    }
    Ok(())
}

/// A compiled policy set with the sources its diagnostics refer to.
pub struct Compiled {
    /// The matcher.
    pub matcher: Matcher,
    /// The policy sources (what diagnostics point into).
    pub sources: Sources,
}

fn error(kind: &str, message: impl Into<String>) -> Value {
    json!({"error": {"kind": kind, "message": message.into()}})
}

/// Compiles policies to evaluate them (`test` items are skipped unparsed); `Err` is the
/// JSON to return to the host (diagnostics or an error).
pub fn compile_policies(req: &CompileRequest) -> Result<Compiled, Value> {
    compile_items(req, Items::PoliciesOnly)
}

/// Compiles policies, parsing the items `items` says.
fn compile_items(req: &CompileRequest, items: Items) -> Result<Compiled, Value> {
    let mut sources = Sources::default();
    if req.builtin || req.policies.is_empty() {
        #[cfg(feature = "library")]
        for (name, text) in palisade_library::FILES {
            sources.add(SourceFile::new(format!("builtin/{name}"), *text));
        }
        #[cfg(not(feature = "library"))]
        return Err(error(
            "request",
            "this build has no built-in library: pass policies, or load the library as a compiled bundle (the npm package's library.bundle.json)",
        ));
    }
    for p in &req.policies {
        let text = if p.name.ends_with(".json") {
            import_stackrox(p)?
        } else {
            p.text.clone()
        };
        sources.add(SourceFile::new(p.name.clone(), text));
    }
    let (_, checked) = match items {
        Items::All => palisade_lang::parse_and_check(&sources),
        Items::PoliciesOnly => palisade_lang::parse_and_check_policies(&sources),
    };
    let set = checked.map_err(
        |ds| json!({"diagnostics": ds.iter().map(|d| sources.to_json(d)).collect::<Vec<_>>()}),
    )?;
    let mut program =
        palisade_engine::compile(&set).map_err(|e| error("compile", e.to_string()))?;
    if let Some(config) = &req.config {
        configure(&mut program, config).map_err(|e| error("config", e))?;
    }
    let matcher = Matcher::new(program).map_err(|e| error("compile", e.to_string()))?;
    Ok(Compiled { matcher, sources })
}

/// Translates a policy file in StackRox's JSON export format to policy source.
#[cfg(feature = "stackrox")]
fn import_stackrox(file: &SourceText) -> Result<String, Value> {
    palisade_stackrox::translate_document(&file.text)
        .map_err(|e| error("import", format!("{}: {e}", file.name)))
}

/// Without the importer, a StackRox export is an error naming the file.
#[cfg(not(feature = "stackrox"))]
fn import_stackrox(file: &SourceText) -> Result<String, Value> {
    Err(error(
        "import",
        format!(
            "{}: this build does not import StackRox policies; translate them with `palisade import` first",
            file.name
        ),
    ))
}

/// Applies a `palisade.toml` to a compiled program's policies (before it is loaded into a
/// [`Matcher`], which verifies what the configuration added).
pub fn configure(
    program: &mut palisade_engine::ir::Program,
    config: &SourceText,
) -> Result<(), String> {
    #[cfg(feature = "config")]
    return palisade_config::parse(&config.name, &config.text)
        .and_then(|c| c.apply(&config.name, &mut program.policies))
        .map_err(|e| e.to_string());
    #[cfg(not(feature = "config"))]
    {
        let _ = program;
        Err(format!(
            "{}: this build does not read palisade.toml",
            config.name
        ))
    }
}

/// `{"ok": true, "policies": N}` or `{"ok": false, "diagnostics": [...]}`: every item
/// is checked, `test` items included (editors show their diagnostics too).
pub fn compile_json(request: &str) -> String {
    let req: CompileRequest = match serde_json::from_str(request) {
        Ok(r) => r,
        Err(e) => return error("request", format!("invalid request: {e}")).to_string(),
    };
    match compile_items(&req, Items::All) {
        Ok(c) => {
            json!({"ok": true, "policies": c.matcher.program().policies.len(), "diagnostics": []})
                .to_string()
        }
        Err(mut v) => {
            v["ok"] = json!(false);
            v.to_string()
        }
    }
}

/// Records of one input (any supported format), and what its adapter skipped.
/// The records of one input with the line each came from (where the format has lines
/// per object: Kubernetes manifests), and the objects skipped by kind.
pub type InputRecords = (Vec<(Record, Option<u32>)>, BTreeMap<String, usize>);

/// Reads one input of any supported format.
#[cfg(feature = "readers")]
pub fn read_input(input: &SourceText) -> Result<InputRecords, String> {
    if palisade_adapters::sniff(&input.text) {
        return read_records(input);
    }
    let converted =
        palisade_adapters::convert(&input.text).map_err(|e| format!("{}: {e}", input.name))?;
    if converted.format == Some(palisade_adapters::Format::Records) {
        return read_records(input);
    }
    let mut records = Vec::new();
    for (i, v) in converted.records.into_iter().enumerate() {
        let record =
            Record::from_value(v).map_err(|e| format!("{}: record {}: {e}", input.name, i + 1))?;
        records.push((record, converted.lines.get(i).copied().flatten()));
    }
    Ok((records, converted.skipped))
}

/// Reads one input of Palisade records (the only format a build without the readers
/// knows; the error says so).
#[cfg(not(feature = "readers"))]
pub fn read_input(input: &SourceText) -> Result<InputRecords, String> {
    read_records(input).map_err(|e| {
        format!("{e} (this build reads Palisade records only: convert other formats first)")
    })
}

/// Reads an input of Palisade records (JSON, a JSON array or JSON Lines).
fn read_records(input: &SourceText) -> Result<InputRecords, String> {
    read_text(&input.text)
        .map(|r| (r.into_iter().map(|r| (r, None)).collect(), BTreeMap::new()))
        .map_err(|e| format!("{}:{e}", input.name))
}

/// Where a record read for a check is kept: in the dataset (deployments and images, found
/// by their place there; baselines, which are not evaluated) or here (the other kinds).
#[allow(
    clippy::large_enum_variant,
    reason = "one per record, as large as the records held before; a box would cost an allocation per event"
)]
enum Held {
    Deployment(usize),
    Image(usize),
    Baseline,
    Record(Record),
}

/// One of `of` parts of a check: the records from `index * n / of` up to
/// `(index + 1) * n / of` of the `n` records read, in input order. Every part reads the
/// whole input (records join to others anywhere in it); the parts' reports merged by
/// [`palisade_engine::json_report::merge_parts`] are the report of the whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    /// Which part, from 0.
    pub index: usize,
    /// How many parts the check is split into (at least 1).
    pub of: usize,
}

impl Part {
    /// The whole check as one part.
    pub const WHOLE: Part = Part { index: 0, of: 1 };
}

/// Runs a check with an already compiled set; returns the CLI's JSON report.
pub fn check_with(matcher: &Matcher, req: &CheckRequest) -> Result<String, Value> {
    check_part_with(matcher, req, Part::WHOLE)
}

/// Runs one part of a check ([`Part`]): the report of that part's records, whose
/// summary counts only them (policies and skipped inputs are the whole input's).
pub fn check_part_with(matcher: &Matcher, req: &CheckRequest, part: Part) -> Result<String, Value> {
    if part.of == 0 || part.index >= part.of {
        return Err(error(
            "request",
            format!("part {} of {} does not exist", part.index, part.of),
        ));
    }
    let now = chrono::DateTime::parse_from_rfc3339(&req.now)
        .map_err(|_| {
            error(
                "request",
                format!("`now` is not an RFC 3339 time: `{}`", req.now),
            )
        })?
        .timestamp();
    let mut dataset = Dataset::default();
    add_baseline_files(&mut dataset, &req.baselines).map_err(|m| error("baselines", m))?;
    // Every record in input order, with the input it came from and its line there.
    let mut ordered: Vec<(Held, &str, Option<u32>)> = Vec::new();
    let mut summary = Summary::default();
    for input in &req.inputs {
        let (records, skipped) = read_input(input).map_err(|m| error("input", m))?;
        for (k, n) in skipped {
            *summary.skipped.entry(k).or_default() += n;
        }
        for (r, line) in records {
            let held = match &r {
                Record::Deployment(_) => Held::Deployment(dataset.deployments.len()),
                Record::Image(_) => Held::Image(dataset.images.len()),
                Record::Baseline(_) => Held::Baseline,
                _ => {
                    ordered.push((Held::Record(r), &input.name, line));
                    continue;
                }
            };
            dataset
                .add(r)
                .map_err(|e| error("input", format!("{}: {e}", input.name)))?;
            ordered.push((held, &input.name, line));
        }
    }
    dataset.finish();
    let opts = EvalOptions {
        now,
        include_disabled: req.all,
        stage: req.lifecycle,
    };
    summary.policies = matcher
        .program()
        .policies
        .iter()
        .filter(|p| (req.all || !p.disabled) && req.lifecycle.is_none_or(|s| p.stages.contains(&s)))
        .count();
    let mut out = Vec::new();
    let mut report = JsonReport::default();
    let mut not_fired = Vec::new();
    let bound = |k: usize| {
        // Computed in u128 so that no count of records overflows the product.
        (ordered.len() as u128 * k as u128 / part.of as u128) as usize
    };
    let (start, end) = (bound(part.index), bound(part.index + 1));
    for (held, file, line) in ordered.get(start..end).unwrap_or_default() {
        use palisade_engine::value::Obj;
        let root = match held {
            Held::Deployment(i) => dataset.deployments.get(*i).map(Obj::Deployment),
            Held::Image(i) => dataset.images.get(*i).map(Obj::Image),
            Held::Baseline => None,
            Held::Record(Record::Process(p)) => Some(Obj::Process(p)),
            Held::Record(Record::KubeEvent(e)) => Some(Obj::Event(e)),
            Held::Record(Record::NetworkFlow(f)) => Some(Obj::Flow(f)),
            Held::Record(_) => None,
        };
        let Some(root) = root else { continue };
        let Some(kind) = root_of(root) else { continue };
        if req.lifecycle.is_some_and(|s| s != kind.stage()) {
            continue;
        }
        summary.records += 1;
        *summary
            .records_by_kind
            .entry(kind.record_kind().to_string())
            .or_default() += 1;
        let (mut violations, nf) =
            matcher
                .check(&dataset, root, &opts, req.explain)
                .map_err(|e| {
                    let id = palisade_engine::report::record_id(root);
                    error("limit", format!("{} `{}`: {e}", id.kind, id.id))
                })?;
        summary.violations += violations.len();
        for v in &mut violations {
            v.record.locate(file, *line);
            report
                .violation(&mut out, v)
                .map_err(|e| error("internal", e.to_string()))?;
        }
        not_fired.extend(nf);
    }
    report
        .finish(
            &mut out,
            &summary,
            req.explain.then_some(not_fired.as_slice()),
        )
        .map_err(|e| error("internal", e.to_string()))?;
    String::from_utf8(out).map_err(|e| error("internal", e.to_string()))
}

/// Compiles and checks in one call: the CLI's JSON report, or `{"diagnostics": [...]}` /
/// `{"error": {...}}`.
pub fn check_json(request: &str) -> String {
    let req: CheckRequest = match serde_json::from_str(request) {
        Ok(r) => r,
        Err(e) => return error("request", format!("invalid request: {e}")).to_string(),
    };
    let compiled = match compile_policies(&req.compile) {
        Ok(c) => c,
        Err(v) => return v.to_string(),
    };
    match check_with(&compiled.matcher, &req) {
        Ok(report) => report,
        Err(v) => v.to_string(),
    }
}

/// Compiles policies into a bundle (what `palisade compile -o` writes, and what
/// [`Evaluator::load`] and the plugin load): `{"ok": true, "policies": N, "bundle": "<bundle
/// text>"}`, or `{"ok": false, "diagnostics"}` / `{"ok": false, "error"}`.
pub fn bundle_json(request: &str) -> String {
    let req: CompileRequest = match serde_json::from_str(request) {
        Ok(r) => r,
        Err(e) => return error("request", format!("invalid request: {e}")).to_string(),
    };
    match compile_policies(&req) {
        Ok(c) => json!({"ok": true, "policies": c.matcher.program().policies.len(),
            "bundle": palisade_engine::bundle::write_bundle(c.matcher.program())})
        .to_string(),
        Err(mut v) => {
            v["ok"] = json!(false);
            v.to_string()
        }
    }
}

/// A loaded bundle and the checks run against it: the evaluator of the WASM plugin and of
/// the npm package's `evaluator` module, which run policies compiled elsewhere.
#[derive(Default)]
pub struct Evaluator {
    matcher: Option<Matcher>,
}

impl Evaluator {
    /// Loads a bundle (replacing the previous one only when it loads):
    /// `{"ok": true, "policies": N}` or `{"error": {"kind", "message"}}`.
    pub fn load(&mut self, bundle: &[u8]) -> String {
        let Ok(text) = std::str::from_utf8(bundle) else {
            return error("bundle", "the bundle is not UTF-8").to_string();
        };
        match palisade_engine::bundle::load_bundle(text) {
            Ok(m) => {
                let policies = m.program().policies.len();
                self.matcher = Some(m);
                json!({"ok": true, "policies": policies}).to_string()
            }
            Err(e) => error("bundle", e.to_string()).to_string(),
        }
    }

    /// Checks a request (`{"inputs": [{"name", "text"}], "baselines", "now", "all",
    /// "lifecycle", "explain"}`) against the loaded bundle: the CLI's JSON report or
    /// `{"error"}`.
    pub fn check(&self, request: &[u8]) -> String {
        self.check_part(request, Part::WHOLE)
    }

    /// One part of a check ([`Part`]): that part's report (merged with the others' by
    /// [`palisade_engine::json_report::merge_parts`]) or `{"error"}`.
    pub fn check_part(&self, request: &[u8], part: Part) -> String {
        let Some(matcher) = &self.matcher else {
            return error("state", "no bundle loaded: load a bundle first").to_string();
        };
        let raw: Value = match serde_json::from_slice(request) {
            Ok(v) => v,
            Err(e) => return error("request", format!("invalid request: {e}")).to_string(),
        };
        if raw.get("policies").is_some() || raw.get("builtin").is_some() {
            return error(
                "request",
                "the evaluator runs its loaded bundle: compile policies into a bundle and load it",
            )
            .to_string();
        }
        let req: CheckRequest = match serde_json::from_value(raw) {
            Ok(r) => r,
            Err(e) => return error("request", format!("invalid request: {e}")).to_string(),
        };
        match check_part_with(matcher, &req, part) {
            Ok(report) => report,
            Err(v) => v.to_string(),
        }
    }
}

/// `{"ok": true, "formatted": "..."}` or `{"ok": false, "diagnostics": [...]}`.
pub fn format_json(name: &str, text: &str) -> String {
    let mut sources = Sources::default();
    let index = sources.add(SourceFile::new(name, text));
    match palisade_lang::format_source(&sources, index) {
        Ok(f) => json!({"ok": true, "formatted": f}).to_string(),
        Err(ds) => json!({"ok": false, "diagnostics": ds.iter().map(|d| sources.to_json(d)).collect::<Vec<_>>()}).to_string(),
    }
}

/// The built-in library: name, severity, stages, enabled, SOC 2, categories, description, source.
#[cfg(feature = "library")]
pub fn builtin_json() -> String {
    let compiled = match compile_policies(&CompileRequest::default()) {
        Ok(c) => c,
        Err(v) => return v.to_string(),
    };
    let rows: Vec<Value> = compiled
        .matcher
        .program()
        .policies
        .iter()
        .map(|m| json!({"name": m.name, "severity": m.severity, "lifecycle": m.stages, "enabled": !m.disabled, "soc2": m.soc2, "categories": m.categories, "description": m.description}))
        .collect();
    let files: Vec<Value> = palisade_library::FILES
        .iter()
        .map(|(n, t)| json!({"name": n, "text": t}))
        .collect();
    json!({"policies": rows, "files": files}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A check in any number of parts, merged, is byte for byte the check of the whole:
    /// over the bundled examples and every corpus file (alone, and all readable ones in
    /// one request so that records join across files), the whole library, with and without
    /// explanations and a lifecycle, in 1 to 7 parts (more parts than records too). Errors
    /// (the corpus's broken files, a part that does not exist) are the whole's error.
    #[test]
    #[cfg(all(feature = "library", feature = "readers"))]
    fn parts_merged_are_the_whole_check() {
        use palisade_engine::json_report::merge_parts;
        let compiled = compile_policies(&CompileRequest {
            builtin: true,
            ..CompileRequest::default()
        })
        .expect("the library compiles");
        let root = palisade_testdata::repo_root();
        let mut files: Vec<std::path::PathBuf> = ["clean.json", "deployments.json", "events.jsonl"]
            .iter()
            .map(|f| root.join("examples/records").join(f))
            .collect();
        if let Some(corpus) = palisade_testdata::shared("corpus", "corpus inputs split into parts")
        {
            let mut found: Vec<_> = walkdir::WalkDir::new(corpus)
                .sort_by_file_name()
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file() && e.file_name() != "PROVENANCE.md")
                .map(|e| e.into_path())
                .collect();
            files.append(&mut found);
        }
        let text = |f: &std::path::Path| SourceText {
            name: f.display().to_string(),
            text: std::fs::read_to_string(f).unwrap_or_default(),
        };
        let mut requests: Vec<Vec<SourceText>> = files.iter().map(|f| vec![text(f)]).collect();
        let readable: Vec<SourceText> = files
            .iter()
            .map(|f| text(f))
            .filter(|t| read_input(t).is_ok())
            .collect();
        requests.push(readable);
        let (mut reports, mut errors, mut records) = (0, 0, 0);
        for inputs in requests {
            for (explain, lifecycle) in [(false, None), (true, None), (false, Some(Stage::Runtime))]
            {
                let req = CheckRequest {
                    inputs: inputs.clone(),
                    now: "2030-01-01T00:00:00Z".into(),
                    explain,
                    lifecycle,
                    ..CheckRequest::default()
                };
                let answer = |r: Result<String, Value>| r.unwrap_or_else(|v| v.to_string());
                let whole = answer(check_with(&compiled.matcher, &req));
                for of in 1..=7 {
                    let parts: Vec<String> = (0..of)
                        .map(|index| {
                            answer(check_part_with(&compiled.matcher, &req, Part { index, of }))
                        })
                        .collect();
                    let merged = merge_parts(&parts).expect("the parts merge");
                    assert_eq!(merged, whole, "{} in {of} parts", inputs[0].name);
                }
                if whole.starts_with("{\"error\"") {
                    errors += 1;
                } else {
                    reports += 1;
                    let v: Value = serde_json::from_str(&whole).expect("a report");
                    records = records.max(v["summary"]["records"].as_u64().unwrap_or(0));
                }
            }
        }
        assert!(
            reports > 0 && errors > 0 && records > 20,
            "{reports} reports, {errors} errors, {records} records at most"
        );
        let req = CheckRequest {
            now: "2030-01-01T00:00:00Z".into(),
            ..CheckRequest::default()
        };
        for part in [Part { index: 2, of: 2 }, Part { index: 0, of: 0 }] {
            let e = check_part_with(&compiled.matcher, &req, part).expect_err("no such part");
            assert_eq!(e["error"]["kind"], "request", "{part:?}");
        }
    }

    #[test]
    #[cfg(feature = "readers")]
    fn check_reports_diagnostics_and_violations() {
        let bad = json!({"policies": [{"name": "p.pal", "text": "policy \"x\" { severity high lifecycle deploy soc2 CC6.1 when container.privilegd }"}], "inputs": [], "now": "2030-01-01T00:00:00Z"});
        let out: Value = serde_json::from_str(&check_json(&bad.to_string())).expect("json");
        assert_eq!(
            out["diagnostics"][0]["message"],
            "unknown field `privilegd` on `container`"
        );
        assert_eq!(out["diagnostics"][0]["line"], 1);
        let good = json!({
            "policies": [{"name": "p.pal", "text": "policy \"x\" { severity high lifecycle deploy soc2 CC6.1 when container.privileged }"}],
            "inputs": [{"name": "d.yaml", "text": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: nginx, securityContext: {privileged: true}}]\n"}],
            "now": "2030-01-01T00:00:00Z"
        });
        let out: Value = serde_json::from_str(&check_json(&good.to_string())).expect("json");
        assert_eq!(out["violations"][0]["policy"], "x");
        assert_eq!(out["summary"]["records"], 1);
        let out: Value = serde_json::from_str(&check_json("{not json")).expect("json");
        assert_eq!(out["error"]["kind"], "request");
    }

    /// Baseline files in a request: processes outside a locked one violate; a malformed
    /// file is an error naming the file and the record.
    #[test]
    fn baseline_files_decide_outside_baseline() {
        let request = |baselines: &str| {
            json!({
                "policies": [{"name": "p.pal", "text": "policy \"outside\" { severity high lifecycle runtime soc2 PI1.3 message \"{process.exec_path} outside {process.baseline}\" when process.outside_baseline }"}],
                "inputs": [{"name": "e.jsonl", "text": "{\"kind\":\"process\",\"id\":\"p\",\"namespace\":\"shop\",\"pod\":\"api-x2x9z\",\"container\":\"main\",\"exec_path\":\"/bin/sh\"}"}],
                "baselines": [{"name": "b.jsonl", "text": baselines}],
                "now": "2030-01-01T00:00:00Z"
            })
            .to_string()
        };
        let locked = "{\"kind\":\"baseline\",\"namespace\":\"shop\",\"workload\":\"api\",\"container\":\"main\",\"processes\":[\"/app/server\"],\"locked\":true}\n";
        let out: Value = serde_json::from_str(&check_json(&request(locked))).expect("json");
        assert_eq!(
            out["violations"][0]["messages"][0], "/bin/sh outside shop/api/main",
            "{out}"
        );
        let out: Value =
            serde_json::from_str(&check_json(&request(&locked.replace("true", "false"))))
                .expect("json");
        assert_eq!(out["summary"]["violations"], 0, "{out}");
        let out: Value = serde_json::from_str(&check_json(&request(""))).expect("json");
        assert_eq!(
            out["summary"]["violations"], 0,
            "an empty file has no baselines: {out}"
        );
        for (text, message) in [
            (
                locked.replace("locked", "lockd"),
                "b.jsonl: record 1: unknown field `lockd`",
            ),
            (
                "{\"kind\":\"process\",\"id\":\"p\"}".to_string(),
                "b.jsonl: record 1: a `process` record, not a baseline",
            ),
            (
                format!("{locked}{locked}"),
                "b.jsonl: record 2: two baselines for `shop/api/main`",
            ),
            ("{\"kind\":".to_string(), "b.jsonl:1:"),
        ] {
            let out: Value = serde_json::from_str(&check_json(&request(&text))).expect("json");
            assert_eq!(out["error"]["kind"], "baselines", "{out}");
            let got = out["error"]["message"].as_str().unwrap_or_default();
            assert!(got.starts_with(message), "{got}");
        }
    }

    /// The JSON API (the WASM build's and the plugin's) takes a palisade.toml: enforcement
    /// set there shows in the report, a mistake in it is an error, and each violation names
    /// the input and the line of its object.
    #[test]
    #[cfg(all(feature = "readers", feature = "library", feature = "config"))]
    fn a_configuration_sets_enforcement_and_records_carry_their_place() {
        let pod = "# a pod\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: nginx, securityContext: {privileged: true}}]\n";
        let request = |config: &str| {
            json!({
                "config": {"name": "palisade.toml", "text": config},
                "inputs": [{"name": "k8s/pod.yaml", "text": pod}],
                "now": "2030-01-01T00:00:00Z"
            })
            .to_string()
        };
        let privileged = |out: &Value| {
            out["violations"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|v| v["policy"] == "Privileged Container")
                .cloned()
                .unwrap_or_default()
        };
        let out: Value = serde_json::from_str(&check_json(&request(""))).expect("json");
        assert_eq!(privileged(&out)["enforcement"], json!([]));
        assert_eq!(privileged(&out)["record"]["file"], "k8s/pod.yaml");
        assert_eq!(privileged(&out)["record"]["line"], 2);
        let out: Value = serde_json::from_str(&check_json(&request(
            "[policy.\"Privileged Container\"]\nenforce = true\n",
        )))
        .expect("json");
        assert_eq!(privileged(&out)["enforcement"], json!(["scale_to_zero"]));
        let out: Value = serde_json::from_str(&check_json(&request(
            "[policy.\"Privileged Containr\"]\nenforce = true\n",
        )))
        .expect("json");
        assert_eq!(out["error"]["kind"], "config");
        assert!(
            out["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("did you mean `Privileged Container`")),
            "{out}"
        );
    }

    /// Built without its features (as the npm package's evaluator module is), the API reads
    /// records and evaluates bundles, and a request for anything left out is an error that
    /// says what is missing, never a report without it.
    #[test]
    #[cfg(not(any(
        feature = "readers",
        feature = "library",
        feature = "stackrox",
        feature = "config"
    )))]
    fn without_its_features_a_request_for_what_is_left_out_is_an_error() {
        let policy = json!({"name": "p.pal", "text": "policy \"priv\" { severity high lifecycle deploy soc2 CC6.1 when container.privileged }"});
        let records = r#"{"kind":"deployment","id":"d","name":"web","namespace":"shop","containers":[{"name":"c","security_context":{"privileged":true}}]}"#;
        let out: Value = serde_json::from_str(&check_json(
            &json!({"policies": [policy], "inputs": [{"name": "r.json", "text": records}], "now": "2030-01-01T00:00:00Z"}).to_string(),
        ))
        .expect("json");
        assert_eq!(out["violations"][0]["policy"], "priv", "{out}");
        let message = |request: Value| -> String {
            let out: Value = serde_json::from_str(&check_json(&request.to_string())).expect("json");
            assert!(out.get("violations").is_none(), "{out}");
            out["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        let now = "2030-01-01T00:00:00Z";
        let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: nginx}]}\n";
        assert!(message(json!({"policies": [policy], "inputs": [{"name": "pod.yaml", "text": pod}], "now": now}))
            .contains("this build reads Palisade records only"));
        assert!(
            message(json!({"builtin": true, "inputs": [], "now": now}))
                .contains("no built-in library")
        );
        assert!(message(json!({"inputs": [], "now": now})).contains("no built-in library"));
        assert!(
            message(
                json!({"policies": [{"name": "p.json", "text": "{}"}], "inputs": [], "now": now})
            )
            .contains("p.json: this build does not import StackRox policies")
        );
        assert!(message(json!({"policies": [policy], "config": {"name": "palisade.toml", "text": ""}, "inputs": [], "now": now}))
            .contains("palisade.toml: this build does not read palisade.toml"));
    }
}
