//! SARIF and JUnit renderings of violations.

use palisade_engine::ir::Program;
use palisade_engine::report::Violation;
use palisade_lang::hir::Severity;
use serde_json::{Value, json};

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

/// A SARIF 2.1.0 log: one rule per policy, one result per violation.
pub fn sarif(program: &Program, violations: &[Violation]) -> Value {
    let rules: Vec<Value> = program
        .policies
        .iter()
        .map(|p| {
            json!({
                "id": p.name,
                "name": p.name,
                "shortDescription": {"text": p.name},
                "fullDescription": {"text": if p.description.is_empty() { &p.name } else { &p.description }},
                "help": {"text": p.remediation},
                "defaultConfiguration": {"level": level(p.severity)},
                "properties": {"severity": p.severity, "soc2": p.soc2, "categories": p.categories},
            })
        })
        .collect();
    let results: Vec<Value> = violations
        .iter()
        .map(|v| {
            let index = program.policies.iter().position(|p| p.name == v.policy);
            json!({
                "ruleId": v.policy,
                "ruleIndex": index,
                "level": level(v.severity),
                "message": {"text": v.messages.join("; ")},
                "locations": [{"logicalLocations": [{
                    "name": v.record.name.clone().unwrap_or_else(|| v.record.id.clone()),
                    "fullyQualifiedName": format!("{}/{}", v.record.kind, v.record.id),
                    "kind": v.record.kind,
                }]}],
                "properties": {"lifecycle": v.lifecycle, "soc2": v.soc2, "enforcement": v.enforcement, "namespace": v.record.namespace},
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "palisade", "version": env!("CARGO_PKG_VERSION"), "rules": rules}}, "results": results}],
    })
}

fn xml_escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&apos;".to_string(),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => " ".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// A JUnit XML report: one failing test case per violation.
pub fn junit(records: usize, violations: &[Violation]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuite name=\"palisade\" tests=\"{}\" failures=\"{}\" errors=\"0\">\n",
        violations.len().max(records),
        violations.len()
    ));
    for v in violations {
        out.push_str(&format!(
            "  <testcase classname=\"{}/{}\" name=\"{}\">\n    <failure type=\"{}\" message=\"{}\">{}</failure>\n  </testcase>\n",
            xml_escape(&v.record.kind),
            xml_escape(&v.record.id),
            xml_escape(&v.policy),
            v.severity.as_str(),
            xml_escape(v.messages.first().map(|s| s.as_str()).unwrap_or("")),
            xml_escape(&format!("soc2: {}\n{}", v.soc2.join(", "), v.messages.join("\n")))
        ));
    }
    out.push_str("</testsuite>\n");
    out
}
