//! Hover: what a name is, in Markdown.

use crate::analysis::{Analysis, Definition};
use crate::locate::Target;
use palisade_lang::ast::{ClauseKind, ItemKind, Policy};
use palisade_lang::hir::ENFORCEMENT_ACTIONS;
use palisade_lang::schema::{FieldId, Root, Subject, parent_of};
use palisade_lang::soc2;

/// The hover text for the name at `offset` of file `file`, and its span.
pub fn hover(
    analysis: &Analysis,
    file: usize,
    offset: usize,
) -> Option<(String, palisade_lang::Span)> {
    let o = analysis.at(file, offset)?;
    let text = match &o.target {
        Target::Field(f) => field(*f),
        Target::Subject(s) => subject(*s),
        Target::Soc2(id) => criterion(id),
        Target::PolicyDef(_) | Target::PolicyRef(_) => {
            let d = analysis.definitions(&o.target).into_iter().next()?;
            policy(analysis, d)?
        }
        Target::Name(_) | Target::Word(_) | Target::ListDef(_) | Target::MacroDef(_) => {
            match analysis.definitions(&o.target).into_iter().next() {
                Some(d) => definition(analysis, d)?,
                None => match &o.target {
                    Target::Word(w) => word(w)?,
                    _ => return None,
                },
            }
        }
    };
    Some((text, o.span))
}

/// The record kinds (roots) in which a subject can be named.
fn roots_with(subject: Subject) -> Vec<Root> {
    Root::ALL
        .into_iter()
        .filter(|r| !matches!(parent_of(*r, subject), Some(Err(()))))
        .collect()
}

fn availability(subject: Subject) -> String {
    let roots = roots_with(subject.field_owner());
    let mut stages: Vec<&str> = roots.iter().map(|r| r.stage().as_str()).collect();
    stages.dedup();
    let kinds: Vec<String> = roots
        .iter()
        .map(|r| format!("`{}`", r.record_kind()))
        .collect();
    format!(
        "Stages: {}. Records: {}.",
        stages.join(", "),
        kinds.join(", ")
    )
}

fn field(f: FieldId) -> String {
    let def = f.def();
    let subject = def.subject;
    let available = if matches!(subject, Subject::Entry | Subject::Element) {
        String::new()
    } else {
        format!("\n\n{}", availability(subject))
    };
    format!(
        "```palisade\n{}.{}: {}\n```\n{}\n\nFrom the record's {}.{available}",
        subject.name(),
        def.name,
        def.ty.describe(),
        subject_doc(subject),
        def.doc
    )
}

fn subject(s: Subject) -> String {
    let available = if matches!(s, Subject::Entry | Subject::Element) {
        String::new()
    } else {
        format!("\n\n{}", availability(s))
    };
    let fields: Vec<&str> = FieldId::names_of(s).collect();
    format!(
        "```palisade\n{}\n```\n{}{available}\n\nFields: {}",
        s.name(),
        subject_doc(s),
        fields.join(", ")
    )
}

/// One line on a subject (the schema's own documentation).
fn subject_doc(s: Subject) -> &'static str {
    match s {
        Subject::Deployment => "The deployment (at runtime: the event's deployment).",
        Subject::Container => {
            "A container of the deployment; at runtime for a process, the process's container."
        }
        Subject::Env => "An environment variable of a container.",
        Subject::Volume => "A volume mounted in a container.",
        Subject::Port => "A port the deployment exposes.",
        Subject::Image => "The image of a container (at build: the image record).",
        Subject::Layer => "A Dockerfile layer of the image.",
        Subject::Component => "A scanned component (package) of the image.",
        Subject::Vuln => {
            "A vulnerability of a component that is neither suppressed nor deferred / false positive."
        }
        Subject::ReportedVuln => "Any vulnerability a scanner reported, suppressed or not.",
        Subject::Process => "A process event.",
        Subject::Event => "A Kubernetes API event.",
        Subject::Flow => "A network flow.",
        Subject::Entry => "An entry of a map (`key`, `value`).",
        Subject::Element => "An element of a list of strings.",
    }
}

fn criterion(id: &str) -> String {
    if !palisade_lang::schema::is_soc2_criterion(id) {
        return format!("`{id}` is not a SOC 2 (2017) Trust Services Criterion.");
    }
    format!(
        "**SOC 2 {id}**: {}\n\n{}",
        soc2::title(id),
        soc2::principle(id)
    )
}

/// A list's or macro's definition, as written.
fn definition(analysis: &Analysis, d: &Definition) -> Option<String> {
    let f = analysis.files.get(d.file)?;
    let text = analysis
        .sources
        .get(d.file)?
        .text
        .get(d.item.start..d.item.end)?;
    let name = f.uri.rsplit('/').next().unwrap_or(&f.uri);
    Some(format!(
        "```palisade\n{}\n```\nDefined in `{name}`.",
        text.trim()
    ))
}

/// A policy's metadata.
fn policy(analysis: &Analysis, d: &Definition) -> Option<String> {
    let f = analysis.files.get(d.file)?;
    let p = f.parsed.items.iter().find_map(|item| match &item.kind {
        ItemKind::Policy(p) if item.span.same_as(&d.item) => Some(p),
        _ => None,
    })?;
    Some(policy_text(p))
}

fn policy_text(p: &Policy) -> String {
    let mut lines = vec![format!("**{}**", p.name.value)];
    let words = |ws: &[palisade_lang::ast::Ident]| {
        ws.iter()
            .map(|w| w.node.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for c in &p.clauses {
        match &c.kind {
            ClauseKind::Description(t) => lines.push(t.value.clone()),
            ClauseKind::Severity(s) => lines.push(format!("Severity: {}", s.node)),
            ClauseKind::Lifecycle(ws) => lines.push(format!("Lifecycle: {}", words(ws))),
            ClauseKind::Enforce(ws) => lines.push(format!("Enforce: {}", words(ws))),
            ClauseKind::Soc2(ids) => {
                let cited: Vec<String> = ids
                    .iter()
                    .map(|i| format!("{} ({})", i.node, soc2::title(&i.node)))
                    .collect();
                lines.push(format!("SOC 2: {}", cited.join("; ")));
            }
            ClauseKind::Disabled => lines.push("Disabled".into()),
            _ => {}
        }
    }
    lines.join("\n\n")
}

/// Clause values: severities, stages, event sources, enforcement actions.
fn word(w: &str) -> Option<String> {
    if let Some((_, stage)) = ENFORCEMENT_ACTIONS.iter().find(|(n, _)| *n == w) {
        return Some(format!(
            "Enforcement action `{w}` ({} stage).",
            stage.as_str()
        ));
    }
    let text = match w {
        "low" | "medium" | "high" | "critical" => format!("Severity `{w}`."),
        "build" => "Lifecycle stage `build`: image records (CI).".into(),
        "deploy" => "Lifecycle stage `deploy`: deployment records (admission, audit).".into(),
        "runtime" => "Lifecycle stage `runtime`: process, Kubernetes and network events.".into(),
        "deployment" | "audit_log" | "node" => format!("Runtime event source `{w}`."),
        _ => return None,
    };
    Some(text)
}
