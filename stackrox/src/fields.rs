//! Criteria groups to conditions, field by field, with StackRox's matching style per field
//! (see `../shared/reference/stackrox-model.md`, sections 2 and 3).

use crate::model::Group;

/// What a section needs to know while its groups are translated.
pub(crate) struct SectionCtx {
    /// The section has a criterion that StackRox wraps with the vulnerability filter
    /// (not snoozed, OBSERVED), so every vulnerability criterion of the section uses `vuln`.
    pub active_vulns: bool,
}

/// Fields whose StackRox query builder adds the vulnerability filter on the same vulnerability.
pub(crate) const VULN_FILTERED: [&str; 6] =
    ["CVE", "CVSS", "NVD CVSS", "Severity", "Fixable", "Fixed By"];

/// Fields that need at least one container (StackRox's container-name context query).
const NEEDS_CONTAINER: [&str; 4] = [
    "Automount Service Account Token",
    "Replicas",
    "Exposed Port",
    "Port Exposure Method",
];

/// A regex literal for `pattern` (unescaped `/` escaped; patterns with newlines as raw strings).
pub(crate) fn re_lit(pattern: &str) -> String {
    if pattern.contains('\n') {
        let mut hashes = 1;
        while pattern.contains(&format!("\"{}", "#".repeat(hashes))) {
            hashes += 1;
        }
        let h = "#".repeat(hashes);
        return format!("r{h}\"{pattern}\"{h}");
    }
    let mut out = String::from("/");
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push('\\');
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '/' => out.push_str("\\/"),
            c => out.push(c),
        }
    }
    out.push('/');
    out
}

/// A string literal.
pub(crate) fn str_lit(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '{' => out.push_str("\\{"),
            '}' => out.push_str("\\}"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn validate(pattern: &str) -> Result<(), String> {
    regex::RegexBuilder::new(&format!("^(?i:{pattern})$"))
        .size_limit(1 << 20)
        .build()
        .map(|_| ())
        .map_err(|e| {
            format!(
                "invalid regex `{pattern}`: {}",
                e.to_string().lines().last().unwrap_or("").trim()
            )
        })
}

fn matches_empty(pattern: &str) -> bool {
    regex::Regex::new(&format!("^(?i:{pattern})$")).is_ok_and(|r| r.is_match(""))
}

fn join(parts: Vec<String>, and: bool) -> String {
    if parts.len() == 1 {
        return parts.into_iter().next().unwrap_or_default();
    }
    format!("({})", parts.join(if and { " and " } else { " or " }))
}

fn negate_if(expr: String, negate: bool) -> String {
    if negate { format!("not {expr}") } else { expr }
}

fn paren(expr: String) -> String {
    if expr.starts_with('(') && expr.ends_with(')') && balanced_outer(&expr) {
        expr
    } else {
        format!("({expr})")
    }
}

fn balanced_outer(e: &str) -> bool {
    let mut depth = 0i32;
    for (i, c) in e.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 && i + 1 < e.len() {
                    return false;
                }
            }
            _ => {}
        }
    }
    true
}

/// A string value in StackRox's mini-language, as a whole-string regex.
/// `!` negates this value; `r/` is a regex (`r/c/`: contains); `"x"` exact; `*` anything; else a prefix.
fn string_value(v: &str, prefix_default: bool) -> (bool, String) {
    let (negated, v) = match v.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, v),
    };
    let pattern = if let Some(rest) = v.strip_prefix("r/") {
        match rest.strip_prefix("c/") {
            Some(c) => format!(".*(?:{c}).*"),
            None => rest.to_string(),
        }
    } else if let Some(exact) = v.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
        regex::escape(exact)
    } else if v == "*" {
        ".*".to_string()
    } else if prefix_default {
        format!("{}.*", regex::escape(v))
    } else {
        v.to_string()
    };
    (negated, pattern)
}

fn regex_value(v: &str) -> String {
    let p = v.strip_prefix("r/").unwrap_or(v);
    if p.is_empty() {
        ".*".to_string()
    } else {
        p.to_string()
    }
}

/// `path ~ patterns` for one group of a whole-string regex field.
fn regex_group(path: &str, g: &Group, values: &[&str], and: bool) -> Result<String, String> {
    let patterns: Vec<String> = values.iter().map(|v| regex_value(v)).collect();
    for p in &patterns {
        validate(p)?;
    }
    let expr = if and || patterns.len() == 1 {
        join(
            patterns
                .iter()
                .map(|p| format!("{path} ~ {}", re_lit(p)))
                .collect(),
            true,
        )
    } else {
        format!(
            "{path} ~ [{}]",
            patterns
                .iter()
                .map(|p| re_lit(p))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Ok(negate_if(paren_if_negated(expr, g.negate), g.negate))
}

fn paren_if_negated(expr: String, negate: bool) -> String {
    if negate { paren(expr) } else { expr }
}

/// A field matched by prefix (or the mini-language) on a string, or on every element of a list.
fn prefix_group(
    path: &str,
    g: &Group,
    values: &[&str],
    and: bool,
    upper: bool,
) -> Result<String, String> {
    let mut parts = Vec::new();
    for v in values {
        let v = if upper {
            v.to_uppercase()
        } else {
            v.to_string()
        };
        let (negated, pattern) = string_value(&v, true);
        validate(&pattern)?;
        parts.push(format!(
            "{path} {} {}",
            if negated { "!~" } else { "~" },
            re_lit(&pattern)
        ));
    }
    Ok(negate_if(
        paren_if_negated(join(parts, and), g.negate),
        g.negate,
    ))
}

fn num_group(path: &str, g: &Group, values: &[&str], and: bool) -> Result<String, String> {
    let mut parts = Vec::new();
    for v in values {
        let v = v.trim();
        let (op, rest) = ["<=", ">=", "<", ">"]
            .iter()
            .find_map(|op| v.strip_prefix(op).map(|r| (*op, r.trim())))
            .unwrap_or(("==", v));
        let valid = !rest.is_empty()
            && rest.chars().all(|c| c.is_ascii_digit() || c == '.')
            && rest.parse::<f64>().is_ok();
        if !valid {
            return Err(format!(
                "invalid number `{v}` (expected an optional <, <=, >, >= and a number)"
            ));
        }
        let n: f64 = rest.parse().unwrap_or(0.0);
        parts.push(format!("{path} {op} {}", fmt_num(n)));
    }
    Ok(negate_if(
        paren_if_negated(join(parts, and), g.negate),
        g.negate,
    ))
}

fn fmt_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

fn bool_value(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "1" | "yes" => Ok(true),
        "false" | "f" | "0" | "no" => Ok(false),
        _ => Err(format!("invalid boolean `{v}`")),
    }
}

fn bool_group(path: &str, g: &Group, values: &[&str]) -> Result<String, String> {
    let [v] = values else {
        return Err("takes exactly one value".into());
    };
    let b = bool_value(v)?;
    Ok(negate_if(
        paren_if_negated(format!("{path} == {b}"), g.negate),
        g.negate,
    ))
}

fn days_group(path: &str, values: &[&str]) -> Result<String, String> {
    let [v] = values else {
        return Err("takes exactly one value".into());
    };
    let n: u64 = v
        .trim()
        .parse()
        .map_err(|_| format!("invalid number of days `{v}`"))?;
    Ok(format!("days_since({path}) > {n}"))
}

fn enum_words(values: &[&str], table: &[(&str, &str)]) -> Result<Vec<String>, String> {
    values
        .iter()
        .map(|v| {
            let key = v.trim().to_ascii_uppercase();
            table
                .iter()
                .find(|(s, _)| *s == key)
                .map(|(_, w)| w.to_string())
                .ok_or_else(|| {
                    format!(
                        "unknown value `{v}` (expected one of {})",
                        table.iter().map(|(s, _)| *s).collect::<Vec<_>>().join(", ")
                    )
                })
        })
        .collect()
}

fn enum_group(
    path: &str,
    g: &Group,
    values: &[&str],
    and: bool,
    table: &[(&str, &str)],
) -> Result<String, String> {
    let words = enum_words(values, table)?;
    let expr = if and {
        join(
            words.iter().map(|w| format!("{path} == {w}")).collect(),
            true,
        )
    } else if words.len() == 1 {
        format!("{path} == {}", words[0])
    } else {
        format!("{path} in [{}]", words.join(", "))
    };
    Ok(negate_if(paren_if_negated(expr, g.negate), g.negate))
}

/// `key=value` of a map criterion, as a test on one entry `l`.
fn kv_entry(v: &str) -> Result<String, String> {
    let (k, val) = v.split_once('=').unwrap_or((v, ""));
    let k = if k.is_empty() { ".*" } else { k };
    let val = if val.is_empty() { ".*" } else { val };
    validate(k)?;
    validate(val)?;
    Ok(match (k, val) {
        (k, ".*") => format!("l.key ~ {}", re_lit(k)),
        (k, val) => format!("l.key ~ {} and l.value ~ {}", re_lit(k), re_lit(val)),
    })
}

fn map_contains(map: &str, values: &[&str], and: bool) -> Result<String, String> {
    let mut parts = Vec::new();
    for v in values {
        parts.push(format!("(any l in {map}: {})", kv_entry(v)?));
    }
    Ok(join(parts, and))
}

/// StackRox fires a `Required *` criterion when none of the pairs is present. A deployment
/// without labels or annotations has none (Kubernetes maps have no "unknown"); an image
/// without labels has no metadata, which never matches.
fn map_required(map: &str, values: &[&str], absent_is_empty: bool) -> Result<String, String> {
    let mut pairs = Vec::new();
    for v in values {
        pairs.push(paren(kv_entry(v)?));
    }
    let none = format!("(no l in {map}: {})", pairs.join(" or "));
    Ok(if absent_is_empty {
        format!("(not has({map}) or {none})")
    } else {
        none
    })
}

/// One part of a composite criterion (`a=b=c`) on `path`: omitted when it matches anything;
/// a missing value counts as "" as in StackRox's composite strings.
fn part(path: &str, pattern: &str, parts: &mut Vec<String>) -> Result<(), String> {
    if pattern.is_empty() || pattern == ".*" {
        return Ok(());
    }
    validate(pattern)?;
    if matches_empty(pattern) {
        parts.push(format!("(not has({path}) or {path} ~ {})", re_lit(pattern)));
    } else {
        parts.push(format!("{path} ~ {}", re_lit(pattern)));
    }
    Ok(())
}

fn composite(
    values: &[&str],
    and: bool,
    mut one: impl FnMut(&str) -> Result<String, String>,
) -> Result<String, String> {
    let mut parts = Vec::new();
    for v in values {
        parts.push(paren(one(v)?));
    }
    Ok(join(parts, and))
}

const ENV_SOURCES: [(&str, &str); 7] = [
    ("UNSET", "unset"),
    ("RAW", "raw"),
    ("SECRET_KEY", "secret_key"),
    ("CONFIG_MAP_KEY", "config_map_key"),
    ("FIELD", "field"),
    ("RESOURCE_FIELD", "resource_field"),
    ("UNKNOWN", "unknown"),
];

fn env_value(v: &str) -> Result<String, String> {
    let mut it = v.splitn(3, '=');
    let (source, key, value) = (
        it.next().unwrap_or(""),
        it.next().unwrap_or(""),
        it.next().unwrap_or(""),
    );
    let mut parts = Vec::new();
    if !source.is_empty() && source != ".*" {
        validate(source)?;
        let re = regex::Regex::new(&format!("^(?i:{source})$")).map_err(|e| e.to_string())?;
        let words: Vec<&str> = ENV_SOURCES
            .iter()
            .filter(|(s, _)| re.is_match(s))
            .map(|(_, w)| *w)
            .collect();
        parts.push(match words.as_slice() {
            [] => {
                return Err(format!(
                    "environment variable source `{source}` matches no source"
                ));
            }
            [one] => format!("env.source == {one}"),
            many => format!("env.source in [{}]", many.join(", ")),
        });
    }
    part("env.name", key, &mut parts)?;
    part("env.value", value, &mut parts)?;
    if parts.is_empty() {
        parts.push("has(env.name)".into());
    }
    Ok(parts.join(" and "))
}

fn pair_value(v: &str, first: &str, second: &str, anchor: &str) -> Result<String, String> {
    let (a, b) = v.split_once('=').unwrap_or((v, ""));
    let mut parts = Vec::new();
    part(first, a, &mut parts)?;
    part(second, b, &mut parts)?;
    if parts.is_empty() {
        parts.push(format!("has({anchor})"));
    }
    Ok(parts.join(" and "))
}

/// Translates one group. `Err` carries why (the caller adds policy and field names).
pub(crate) fn group(g: &Group, ctx: &SectionCtx) -> Result<String, String> {
    let values: Vec<&str> = g.values.iter().map(|v| v.value.as_str()).collect();
    if values.is_empty() {
        return Err("has no values".into());
    }
    let and = match g.boolean_operator.as_deref() {
        None | Some("") | Some("OR") => false,
        Some("AND") => true,
        Some(other) => return Err(format!("unknown boolean operator `{other}`")),
    };
    let vuln = if ctx.active_vulns {
        "vuln"
    } else {
        "reported_vuln"
    };
    let f = g.field_name.as_str();
    let negation_forbidden = [
        "Add Capabilities",
        "Allow Privilege Escalation",
        "Automount Service Account Token",
        "CVSS",
        "Container CPU Limit",
        "Container CPU Request",
        "Container Memory Limit",
        "Container Memory Request",
        "Days Since CVE Was Published",
        "Days Since CVE Fix Was Available",
        "Days Since CVE Was First Discovered In Image",
        "Days Since CVE Was First Discovered In System",
        "Disallowed Annotation",
        "Disallowed Image Label",
        "Dockerfile Line",
        "Drop Capabilities",
        "Environment Variable",
        "File Path",
        "Fixable",
        "Host IPC",
        "Host Network",
        "Host PID",
        "Image Age",
        "Image Component",
        "Image Scan Age",
        "Image Signature Verified By",
        "Is Impersonated User",
        "Kubernetes Resource",
        "Kubernetes API Verb",
        "Liveness Probe Defined",
        "NVD CVSS",
        "Privileged Container",
        "Read-Only Root Filesystem",
        "Required Annotation",
        "Required Image Label",
        "Required Label",
        "Severity",
        "Unexpected Network Flow Detected",
        "Unexpected Process Executed",
        "Unscanned Image",
        "Writable Host Mount",
        "Writable Mounted Volume",
    ];
    if g.negate && negation_forbidden.contains(&f) {
        return Err("cannot be negated".into());
    }
    let expr = match f {
        "Add Capabilities" => {
            let pats: Vec<String> = values
                .iter()
                .map(|v| re_lit(&regex::escape(v.trim())))
                .collect();
            if and {
                join(
                    pats.iter()
                        .map(|p| format!("container.add_capabilities ~ {p}"))
                        .collect(),
                    true,
                )
            } else {
                format!("container.add_capabilities ~ [{}]", pats.join(", "))
            }
        }
        "Drop Capabilities" => {
            let mut parts = Vec::new();
            if !values.iter().any(|v| v.trim().eq_ignore_ascii_case("ALL")) {
                parts.push("container.drop_capabilities !~ /ALL/".to_string());
            }
            let each: Vec<String> = values
                .iter()
                .map(|v| {
                    format!(
                        "container.drop_capabilities !~ {}",
                        re_lit(&regex::escape(v.trim()))
                    )
                })
                .collect();
            // Negated OR: none of the values is dropped; negated AND: one of them is not.
            parts.push(join(each, !and));
            join(parts, true)
        }
        "Allow Privilege Escalation" => {
            bool_group("container.allow_privilege_escalation", g, &values)?
        }
        "AppArmor Profile" => regex_group("container.apparmor_profile", g, &values, and)?,
        "Automount Service Account Token" => {
            bool_group("deployment.automount_service_account_token", g, &values)?
        }
        "CVE" => regex_group(&format!("{vuln}.id"), g, &values, and)?,
        "CVSS" => num_group(&format!("{vuln}.cvss"), g, &values, and)?,
        "NVD CVSS" => num_group(&format!("{vuln}.nvd_cvss"), g, &values, and)?,
        "Container CPU Limit" => num_group("container.cpu_limit", g, &values, and)?,
        "Container CPU Request" => num_group("container.cpu_request", g, &values, and)?,
        "Container Memory Limit" => num_group("container.memory_limit", g, &values, and)?,
        "Container Memory Request" => num_group("container.memory_request", g, &values, and)?,
        "Container Name" => regex_group("container.name", g, &values, and)?,
        "Days Since CVE Was Published" => days_group(&format!("{vuln}.published"), &values)?,
        "Days Since CVE Fix Was Available" => {
            days_group(&format!("{vuln}.fix_available_at"), &values)?
        }
        "Days Since CVE Was First Discovered In Image" => {
            days_group(&format!("{vuln}.first_image_occurrence"), &values)?
        }
        "Days Since CVE Was First Discovered In System" => {
            days_group(&format!("{vuln}.first_system_occurrence"), &values)?
        }
        "Disallowed Annotation" => map_contains("deployment.annotations", &values, and)?,
        "Disallowed Image Label" => map_contains("image.labels", &values, and)?,
        "Required Annotation" => map_required("deployment.annotations", &values, true)?,
        "Required Label" => map_required("deployment.labels", &values, true)?,
        "Required Image Label" => map_required("image.labels", &values, false)?,
        "Dockerfile Line" => composite(&values, and, |v| {
            pair_value(v, "layer.instruction", "layer.value", "layer.instruction")
        })?,
        "Image Component" => composite(&values, and, |v| {
            pair_value(v, "component.name", "component.version", "component.name")
        })?,
        "Environment Variable" => composite(&values, and, env_value)?,
        "Exposed Node Port" => num_group("port.node_port", g, &values, and)?,
        "Exposed Port" => num_group("port.container_port", g, &values, and)?,
        "Exposed Port Protocol" => prefix_group("port.protocol", g, &values, and, true)?,
        "Fixable" => {
            let [v] = values.as_slice() else {
                return Err("takes exactly one value".into());
            };
            format!("{vuln}.fixable == {}", bool_value(v)?)
        }
        "Fixed By" => {
            let fixed: Vec<&str> = values
                .iter()
                .map(|v| if v.trim() == ".*" { ".+" } else { v })
                .collect();
            regex_group(&format!("{vuln}.fixed_by"), g, &fixed, and)?
        }
        "Has Ingress Network Policy" => {
            bool_group("deployment.has_ingress_network_policy", g, &values)?
        }
        "Has Egress Network Policy" => {
            bool_group("deployment.has_egress_network_policy", g, &values)?
        }
        "Host IPC" => bool_group("deployment.host_ipc", g, &values)?,
        "Host Network" => bool_group("deployment.host_network", g, &values)?,
        "Host PID" => bool_group("deployment.host_pid", g, &values)?,
        "Image Age" => days_group("image.created", &values)?,
        "Image Scan Age" => days_group("image.scan_time", &values)?,
        "Image OS" => regex_group("image.os", g, &values, and)?,
        "Image Registry" => regex_group("image.registry", g, &values, and)?,
        "Image Remote" => regex_group("image.remote", g, &values, and)?,
        "Image Tag" => regex_group("image.tag", g, &values, and)?,
        "Image User" => regex_group("image.user", g, &values, and)?,
        "Image Signature Verified By" => {
            if and {
                return Err("takes values combined with OR only".into());
            }
            let pats: Vec<String> = values
                .iter()
                .map(|v| re_lit(&format!("{}.*", regex::escape(v.trim()))))
                .collect();
            format!("image.verified_by !~ [{}]", pats.join(", "))
        }
        "Is Impersonated User" => bool_group("event.impersonated", g, &values)?,
        "Kubernetes Resource" => enum_group(
            "event.resource",
            g,
            &values,
            and,
            &[
                ("PODS_EXEC", "pods_exec"),
                ("PODS_ATTACH", "pods_attach"),
                ("PODS_PORTFORWARD", "pods_portforward"),
                ("SECRETS", "secrets"),
                ("CONFIGMAPS", "configmaps"),
                ("CLUSTER_ROLES", "cluster_roles"),
                ("CLUSTER_ROLE_BINDINGS", "cluster_role_bindings"),
                ("NETWORK_POLICIES", "network_policies"),
                (
                    "SECURITY_CONTEXT_CONSTRAINTS",
                    "security_context_constraints",
                ),
                ("EGRESS_FIREWALLS", "egress_firewalls"),
            ],
        )?,
        "Kubernetes API Verb" => enum_group(
            "event.verb",
            g,
            &values,
            and,
            &[
                ("CREATE", "create"),
                ("DELETE", "delete"),
                ("GET", "get"),
                ("PATCH", "patch"),
                ("UPDATE", "update"),
                ("LIST", "list"),
                ("WATCH", "watch"),
                ("PROXY", "proxy"),
            ],
        )?,
        "Kubernetes Resource Name" => prefix_group("event.object_name", g, &values, and, false)?,
        "Kubernetes User Name" => prefix_group("event.username", g, &values, and, false)?,
        "Kubernetes User Groups" => prefix_group("event.groups", g, &values, and, false)?,
        "Source IP Address" => prefix_group("event.source_ips", g, &values, and, false)?,
        "User Agent" => prefix_group("event.user_agent", g, &values, and, false)?,
        "Liveness Probe Defined" => bool_group("container.liveness_probe_defined", g, &values)?,
        "Readiness Probe Defined" => bool_group("container.readiness_probe_defined", g, &values)?,
        "Minimum RBAC Permissions" => {
            let [v] = values.as_slice() else {
                return Err("takes exactly one value".into());
            };
            let words = enum_words(
                &[v],
                &[
                    ("NONE", "none"),
                    ("DEFAULT", "default"),
                    ("ELEVATED_IN_NAMESPACE", "elevated_in_namespace"),
                    ("ELEVATED_CLUSTER_WIDE", "elevated_cluster_wide"),
                    ("CLUSTER_ADMIN", "cluster_admin"),
                ],
            )?;
            let op = if g.negate { "<" } else { ">=" };
            format!("deployment.rbac_permission_level {op} {}", words[0])
        }
        "Mount Propagation" => enum_group(
            "volume.mount_propagation",
            g,
            &values,
            and,
            &[
                ("NONE", "none"),
                ("HOSTTOCONTAINER", "host_to_container"),
                ("HOST_TO_CONTAINER", "host_to_container"),
                ("BIDIRECTIONAL", "bidirectional"),
            ],
        )?,
        "Namespace" => regex_group("deployment.namespace", g, &values, and)?,
        "Port Exposure Method" => enum_group(
            "port.exposure",
            g,
            &values,
            and,
            &[
                ("EXTERNAL", "external"),
                ("NODE", "node"),
                ("HOST", "host"),
                ("INTERNAL", "internal"),
                ("ROUTE", "route"),
            ],
        )?,
        "Privileged Container" => bool_group("container.privileged", g, &values)?,
        "Process Ancestor" => {
            let pats: Vec<String> = values.iter().map(|v| regex_value(v)).collect();
            for p in &pats {
                validate(p)?;
            }
            let expr = if and {
                join(
                    pats.iter()
                        .map(|p| format!("process.lineage ~ {}", re_lit(p)))
                        .collect(),
                    true,
                )
            } else {
                format!(
                    "process.lineage ~ [{}]",
                    pats.iter()
                        .map(|p| re_lit(p))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            negate_if(paren_if_negated(expr, g.negate), g.negate)
        }
        "Process Arguments" => {
            let mut parts = Vec::new();
            for v in &values {
                let p = regex_value(v);
                validate(&p)?;
                parts.push(format!("process.args contains {}", re_lit(&p)));
            }
            negate_if(paren_if_negated(join(parts, and), g.negate), g.negate)
        }
        "Process Name" => regex_group("process.name", g, &values, and)?,
        "Process UID" => num_group("process.uid", g, &values, and)?,
        "Read-Only Root Filesystem" => {
            bool_group("container.read_only_root_filesystem", g, &values)?
        }
        "Replicas" => num_group("deployment.replicas", g, &values, and)?,
        "Runtime Class" => regex_group("deployment.runtime_class", g, &values, and)?,
        "Seccomp Profile Type" => enum_group(
            "container.seccomp_profile",
            g,
            &values,
            and,
            &[
                ("UNCONFINED", "unconfined"),
                ("RUNTIME_DEFAULT", "runtime_default"),
                ("LOCALHOST", "localhost"),
            ],
        )?,
        "Service Account" => regex_group("deployment.service_account", g, &values, and)?,
        "Severity" => {
            let mut parts = Vec::new();
            for v in &values {
                let v = v.trim();
                let (op, rest) = ["<=", ">=", "<", ">"]
                    .iter()
                    .find_map(|op| v.strip_prefix(op).map(|r| (*op, r.trim())))
                    .unwrap_or(("==", v));
                let word = enum_words(
                    &[rest.trim_end_matches("_VULNERABILITY_SEVERITY")],
                    &[
                        ("UNKNOWN", "unknown"),
                        ("LOW", "low"),
                        ("MODERATE", "medium"),
                        ("IMPORTANT", "high"),
                        ("CRITICAL", "critical"),
                    ],
                )?;
                parts.push(format!("{vuln}.severity {op} {}", word[0]));
            }
            join(parts, and)
        }
        "Unexpected Network Flow Detected" => {
            let [v] = values.as_slice() else {
                return Err("takes exactly one value".into());
            };
            format!(
                "flow.not_in_baseline == {} and flow.destination_type in [deployment, external, internet, internal]",
                bool_value(v)?
            )
        }
        "Unexpected Process Executed" => bool_group("process.outside_baseline", g, &values)?,
        "Unscanned Image" => {
            let [v] = values.as_slice() else {
                return Err("takes exactly one value".into());
            };
            format!("image.scanned == {}", !bool_value(v)?)
        }
        "Volume Destination" => regex_group("volume.destination", g, &values, and)?,
        "Volume Name" => regex_group("volume.name", g, &values, and)?,
        "Volume Source" => regex_group("volume.source", g, &values, and)?,
        "Volume Type" => regex_group("volume.type", g, &values, and)?,
        "Writable Host Mount" => {
            let [v] = values.as_slice() else {
                return Err("takes exactly one value".into());
            };
            format!(
                "volume.read_only == {} and volume.type ~ /HostPath.*/",
                !bool_value(v)?
            )
        }
        "Writable Mounted Volume" => {
            let [v] = values.as_slice() else {
                return Err("takes exactly one value".into());
            };
            format!("volume.read_only == {}", !bool_value(v)?)
        }
        "File Path" | "File Operation" => {
            return Err(
                "needs file-access events, which the record format (records.md v1) does not carry"
                    .into(),
            );
        }
        _ => return Err("is not a StackRox policy criterion".into()),
    };
    if NEEDS_CONTAINER.contains(&f) {
        return Ok(format!("{expr} and has(container.name)"));
    }
    Ok(expr)
}
