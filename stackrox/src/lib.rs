//! StackRox / Red Hat ACS policy import: policy JSON (one policy, or `{"policies": [...]}`
//! as `roxctl` exports them) to Palisade policy source. The translation keeps StackRox's
//! semantics field by field (see `fields.rs`); a criterion whose data the record format
//! lacks is an error naming the policy and the field, never a dropped condition.

mod fields;
pub mod model;
pub mod soc2;

use fields::{SectionCtx, re_lit, str_lit};
use model::{Exclusion, Policy, Scope};

/// Why a document could not be imported.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ImportError {
    /// Not JSON, or JSON of another shape.
    #[error("not a StackRox policy export: {0}")]
    NotAPolicy(String),
    /// A policy uses something that cannot be translated.
    #[error("policy `{policy}`: {message}")]
    Policy {
        /// The policy name.
        policy: String,
        /// What is wrong (names the field).
        message: String,
    },
}

/// Parses a document holding one policy or `{"policies": [...]}`.
pub fn parse_document(text: &str) -> Result<Vec<Policy>, ImportError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ImportError::NotAPolicy(e.to_string()))?;
    let items = match value.get("policies") {
        Some(serde_json::Value::Array(items)) => items.clone(),
        Some(_) => return Err(ImportError::NotAPolicy("`policies` is not an array".into())),
        None => vec![value],
    };
    let mut out = Vec::new();
    for item in items {
        let looks_like_policy =
            item.get("policySections").is_some() || item.get("fields").is_some();
        if !item.is_object() || item.get("name").is_none() || !looks_like_policy {
            return Err(ImportError::NotAPolicy(
                "expected an object with `name` and `policySections`".into(),
            ));
        }
        let p: Policy =
            serde_json::from_value(item).map_err(|e| ImportError::NotAPolicy(e.to_string()))?;
        out.push(p);
    }
    if out.is_empty() {
        return Err(ImportError::NotAPolicy(
            "no policies in the document".into(),
        ));
    }
    Ok(out)
}

/// Translates a whole document to Palisade source (policies separated by blank lines).
pub fn translate_document(text: &str) -> Result<String, ImportError> {
    let policies = parse_document(text)?;
    let mut out = Vec::new();
    for p in &policies {
        out.push(translate(p)?);
    }
    Ok(out.join("\n"))
}

fn err(p: &Policy, message: impl Into<String>) -> ImportError {
    ImportError::Policy {
        policy: p.name.clone(),
        message: message.into(),
    }
}

fn stage(s: &str) -> Option<&'static str> {
    match s {
        "BUILD" => Some("build"),
        "DEPLOY" => Some("deploy"),
        "RUNTIME" => Some("runtime"),
        _ => None,
    }
}

fn enforcement(a: &str) -> Option<(&'static str, &'static str)> {
    Some(match a.trim_end_matches("_ENFORCEMENT") {
        "SCALE_TO_ZERO" => ("scale_to_zero", "deploy"),
        "UNSATISFIABLE_NODE_CONSTRAINT" => ("unsatisfiable_node_constraint", "deploy"),
        "FAIL_DEPLOYMENT_CREATE" => ("fail_deployment_create", "deploy"),
        "FAIL_DEPLOYMENT_UPDATE" => ("fail_deployment_update", "deploy"),
        "FAIL_BUILD" => ("fail_build", "build"),
        "KILL_POD" => ("kill_pod", "runtime"),
        "FAIL_KUBE_REQUEST" => ("fail_kube_request", "runtime"),
        _ => return None,
    })
}

/// Translates one policy to Palisade source.
pub fn translate(p: &Policy) -> Result<String, ImportError> {
    if !matches!(p.policy_version.as_str(), "" | "1.1") {
        return Err(err(
            p,
            format!(
                "policy version `{}` is not supported (only 1.1)",
                p.policy_version
            ),
        ));
    }
    if p.name.trim().is_empty() {
        return Err(ImportError::NotAPolicy("a policy has an empty name".into()));
    }
    let severity = match p.severity.as_str() {
        "LOW_SEVERITY" => "low",
        "MEDIUM_SEVERITY" => "medium",
        "HIGH_SEVERITY" => "high",
        "CRITICAL_SEVERITY" => "critical",
        other => return Err(err(p, format!("unknown severity `{other}`"))),
    };
    let mut stages = Vec::new();
    for s in &p.lifecycle_stages {
        stages.push(stage(s).ok_or_else(|| err(p, format!("unknown lifecycle stage `{s}`")))?);
    }
    if stages.is_empty() {
        return Err(err(p, "no lifecycle stage"));
    }
    let mut lines = vec![format!("policy {} {{", str_lit(p.name.trim()))];
    let mut clause = |s: String| lines.push(format!("  {s}"));
    if !p.description.is_empty() {
        clause(format!("description {}", str_lit(&p.description)));
    }
    if !p.rationale.is_empty() {
        clause(format!("rationale {}", str_lit(&p.rationale)));
    }
    if !p.remediation.is_empty() {
        clause(format!("remediation {}", str_lit(&p.remediation)));
    }
    clause(format!("severity {severity}"));
    if !p.categories.is_empty() {
        clause(format!(
            "categories {}",
            p.categories
                .iter()
                .map(|c| str_lit(c))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    clause(format!("lifecycle {}", stages.join(", ")));
    if stages.contains(&"runtime") {
        let source = match p.event_source.as_deref() {
            Some("AUDIT_LOG_EVENT") => "audit_log",
            Some("NODE_EVENT") => "node",
            _ => "deployment",
        };
        clause(format!("event_source {source}"));
    }
    // StackRox silently drops actions for stages the policy does not run in.
    let actions: Vec<&str> = p
        .enforcement_actions
        .iter()
        .filter_map(|a| enforcement(a))
        .filter(|(_, st)| stages.contains(st))
        .map(|(a, _)| a)
        .collect();
    if !actions.is_empty() {
        clause(format!("enforce {}", actions.join(", ")));
    }
    let mitre_id = |id: &str, prefix: &str| {
        let rest = id.strip_prefix(prefix).unwrap_or("");
        let (main, sub) = rest.split_once('.').unwrap_or((rest, ""));
        main.len() == 4
            && main.bytes().all(|b| b.is_ascii_digit())
            && (sub.is_empty() || (sub.len() == 3 && sub.bytes().all(|b| b.is_ascii_digit())))
    };
    for m in &p.mitre_attack_vectors {
        if !mitre_id(&m.tactic, "TA") {
            return Err(err(
                p,
                format!("invalid MITRE ATT&CK tactic id `{}`", m.tactic),
            ));
        }
        if let Some(t) = m.techniques.iter().find(|t| !mitre_id(t, "T")) {
            return Err(err(p, format!("invalid MITRE ATT&CK technique id `{t}`")));
        }
    }
    for m in &p.mitre_attack_vectors {
        if m.techniques.is_empty() {
            clause(format!("mitre {}", m.tactic));
        } else {
            clause(format!("mitre {}: {}", m.tactic, m.techniques.join(", ")));
        }
    }
    clause(format!("soc2 {}", soc2::criteria(p).join(", ")));
    if p.disabled {
        clause("disabled".into());
    }
    for s in &p.scope {
        if let Some(parts) = scope_parts(p, s, false)? {
            clause(format!("scope {parts}"));
        }
    }
    for e in &p.exclusions {
        if let Some(x) = exclusion(p, e)? {
            clause(x);
        }
    }
    clause(format!("when {}", condition(p, &stages)?));
    lines.push("}".into());
    Ok(lines.join("\n") + "\n")
}

fn scope_parts(p: &Policy, s: &Scope, in_exclusion: bool) -> Result<Option<String>, ImportError> {
    let prep = |w: &str| {
        if in_exclusion {
            format!("in {w}")
        } else {
            w.to_string()
        }
    };
    let mut parts = Vec::new();
    if !s.cluster.is_empty() {
        parts.push(format!("{} {}", prep("cluster"), str_lit(&s.cluster)));
    }
    if !s.namespace.is_empty() {
        check_regex(p, "scope namespace", &s.namespace)?;
        parts.push(format!("{} {}", prep("namespace"), re_lit(&s.namespace)));
    }
    for (word, l) in [
        ("label", &s.label),
        ("cluster_label", &s.cluster_label),
        ("namespace_label", &s.namespace_label),
    ] {
        let Some(l) = l else { continue };
        let k = if l.key.is_empty() { ".*" } else { &l.key };
        let v = if l.value.is_empty() { ".*" } else { &l.value };
        check_regex(p, &format!("scope {word}"), k)?;
        check_regex(p, &format!("scope {word}"), v)?;
        parts.push(format!(
            "{}{word} {} = {}",
            if in_exclusion { "with " } else { "" },
            re_lit(k),
            re_lit(v)
        ));
    }
    Ok(if parts.is_empty() {
        None
    } else {
        Some(parts.join(" "))
    })
}

/// Whether `pattern` is a whole regex as policies compile it (wrapped, never pasted:
/// `x)|(.*` is refused, not turned into match-everything).
fn compiles(pattern: &str) -> bool {
    palisade_lang::hir::regex_source(pattern, false)
        .is_ok_and(|source| regex::Regex::new(&source).is_ok())
}

fn check_regex(p: &Policy, what: &str, pattern: &str) -> Result<(), ImportError> {
    if compiles(pattern) {
        Ok(())
    } else {
        Err(err(p, format!("{what}: invalid regex `{pattern}`")))
    }
}

fn exclusion(p: &Policy, e: &Exclusion) -> Result<Option<String>, ImportError> {
    let reason = if e.name.trim().is_empty() {
        "StackRox exclusion".to_string()
    } else {
        e.name.clone()
    };
    let until = match &e.expiration {
        Some(t) if !t.is_empty() => {
            // The policy language's date token: a date, optionally followed by an RFC 3339 time.
            let valid = t.len() >= 10
                && t.as_bytes()[..10].iter().enumerate().all(|(i, b)| {
                    if i == 4 || i == 7 {
                        *b == b'-'
                    } else {
                        b.is_ascii_digit()
                    }
                })
                && (t.len() == 10
                    || (t.as_bytes()[10] == b'T'
                        && t[11..]
                            .bytes()
                            .all(|b| b.is_ascii_digit() || b":.Z+-".contains(&b))));
            if !valid {
                return Err(err(
                    p,
                    format!(
                        "exclusion `{}`: invalid expiration `{t}` (expected an RFC 3339 time)",
                        e.name
                    ),
                ));
            }
            format!(" until {t}")
        }
        _ => String::new(),
    };
    if let Some(img) = &e.image
        && !img.name.is_empty()
    {
        return Ok(Some(format!(
            "exclude image {} because {}{until}",
            str_lit(&img.name),
            str_lit(&reason)
        )));
    }
    let Some(d) = &e.deployment else {
        return Ok(None);
    };
    let mut target = Vec::new();
    if !d.name.is_empty() {
        // StackRox ignores an exclusion whose name is not a valid regex: it never matches.
        if !compiles(&d.name) {
            return Ok(None);
        }
        target.push(format!("deployment {}", re_lit(&d.name)));
    }
    if let Some(s) = &d.scope
        && let Some(parts) = scope_parts(p, s, !target.is_empty())?
    {
        target.push(parts);
    }
    if target.is_empty() {
        // An empty deployment exclusion matches every deployment.
        target.push("deployment /.*/".into());
    }
    Ok(Some(format!(
        "exclude {} because {}{until}",
        target.join(" "),
        str_lit(&reason)
    )))
}

fn condition(p: &Policy, stages: &[&str]) -> Result<String, ImportError> {
    if p.policy_sections.is_empty() {
        return Err(err(p, "no policy sections"));
    }
    let skip_types: Vec<String> = p
        .evaluation_filter
        .as_ref()
        .map(|f| {
            f.skip_container_types
                .iter()
                .map(|t| t.to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default();
    if !skip_types.is_empty() && stages.contains(&"build") {
        return Err(err(
            p,
            "`evaluationFilter` on a build-stage policy is not supported",
        ));
    }
    let mut sections = Vec::new();
    for s in &p.policy_sections {
        let mut seen: Vec<&str> = Vec::new();
        for g in &s.policy_groups {
            if seen.contains(&g.field_name.as_str()) {
                return Err(err(
                    p,
                    format!("field `{}` appears twice in one section", g.field_name),
                ));
            }
            seen.push(&g.field_name);
        }
        let ctx = SectionCtx {
            active_vulns: s
                .policy_groups
                .iter()
                .any(|g| fields::VULN_FILTERED.contains(&g.field_name.as_str())),
        };
        let mut groups = Vec::new();
        for g in &s.policy_groups {
            let expr = fields::group(g, &ctx)
                .map_err(|m| err(p, format!("field `{}` {m}", g.field_name)))?;
            groups.push(expr);
        }
        if groups.is_empty() {
            return Err(err(p, "a policy section has no criteria"));
        }
        let uses_containers = groups.iter().any(|g| {
            [
                "container.",
                "image.",
                "env.",
                "volume.",
                "vuln.",
                "component.",
                "layer.",
            ]
            .iter()
            .any(|s| g.contains(s))
        });
        if uses_containers {
            for t in &skip_types {
                groups.push(format!("container.type != {t}"));
            }
        }
        let joined = groups.join(" and ");
        sections.push(if p.policy_sections.len() > 1 {
            format!("({joined})")
        } else {
            joined
        });
    }
    Ok(sections.join(" or "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by `cargo fuzz run stackrox_import`: values copied into the source must be
    /// validated, or the translation does not parse.
    #[test]
    fn fuzz_regressions_bad_ids_and_dates_are_import_errors() {
        let base = r#"{"name":"n","severity":"LOW_SEVERITY","lifecycleStages":["DEPLOY"],"policySections":[{"policyGroups":[{"fieldName":"Privileged Container","values":[{"value":"true"}]}]}]"#;
        let bad_mitre = format!(
            r#"{base},"mitreAttackVectors":[{{"tactic":"TA00-02","techniques":["T1059.004"]}}]}}"#
        );
        assert!(translate_document(&bad_mitre).is_err_and(|e| e.to_string().contains("MITRE")));
        let bad_date = format!(
            r#"{base},"exclusions":[{{"name":"x","deployment":{{"name":"a"}},"expiration":"soon }} policy"}}]}}"#
        );
        assert!(translate_document(&bad_date).is_err_and(|e| e.to_string().contains("expiration")));
        let good = format!(
            r#"{base},"exclusions":[{{"name":"x","deployment":{{"name":"a"}},"expiration":"2030-01-01T00:00:00Z"}}]}}"#
        );
        assert!(translate_document(&good).is_ok_and(|p| p.contains("until 2030-01-01T00:00:00Z")));
    }
}
