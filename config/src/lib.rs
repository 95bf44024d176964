//! `palisade.toml`: the switches a team sets on a policy set without editing it: which
//! policies run, what they enforce, their severity, and exclusions with a reason and an
//! expiry. Read by `palisade check`, `palisade-serve` (reloaded with the policies) and the
//! JSON/WASM API, and applied to the policies' metadata before evaluation.
//!
//! ```toml
//! [severity.critical]            # every critical policy
//! enforce = true
//!
//! [category."Docker CIS"]        # every policy of a category
//! enabled = true
//!
//! [policy."Privileged Container"]
//! enforce = true                 # or false, or a list of actions: ["scale_to_zero"]
//! severity = "high"
//!
//! [[exclude]]
//! policies = ["Latest tag"]      # omitted: every policy
//! namespace = "legacy"           # exact, or /regex/; deployment = ... likewise
//! reason = "migrated by the platform team in Q1"
//! expires = "2027-03-31"
//! ```
//!
//! Sections apply from the general to the specific: severity, then categories (in name
//! order), then the policy's own section, each setting only the keys it names.

use palisade_lang::hir::{
    ENFORCEMENT_ACTIONS, Exclusion, ExclusionTarget, NamePattern, PolicyMeta, Scope, Severity,
    parse_time,
};
use palisade_lang::schema::Stage;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The file `check` and `palisade-serve` look for in the working directory.
pub const FILE_NAME: &str = "palisade.toml";

/// Largest configuration file read.
pub const MAX_CONFIG_BYTES: usize = 1 << 20;

/// A configuration file that cannot be used: the message says where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// `enforce = true | false | ["action", ...]`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Enforce {
    /// `true`: the standard action of each of the policy's stages; `false`: none.
    Switch(bool),
    /// These actions (each of a stage the policy evaluates at).
    Actions(Vec<String>),
}

/// What one section sets.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Evaluate the policy (`false` disables it, `true` enables a disabled one).
    pub enabled: Option<bool>,
    /// Its enforcement actions.
    pub enforce: Option<Enforce>,
    /// Its severity.
    pub severity: Option<Severity>,
}

/// One `[[exclude]]` entry.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExcludeEntry {
    /// The policies it applies to; every policy when absent.
    pub policies: Option<Vec<String>>,
    /// Deployments of this name (exact, or `/regex/`).
    pub deployment: Option<String>,
    /// Deployments in this namespace (exact, or `/regex/`).
    pub namespace: Option<String>,
    /// Images whose full name starts with this.
    pub image: Option<String>,
    /// Why (required).
    pub reason: String,
    /// The last day it applies (`YYYY-MM-DD`) or the time it ends (RFC 3339).
    pub expires: Option<String>,
}

/// A parsed `palisade.toml`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Sections by severity.
    #[serde(default)]
    pub severity: BTreeMap<Severity, Settings>,
    /// Sections by category (as the policies name them).
    #[serde(default)]
    pub category: BTreeMap<String, Settings>,
    /// Sections by policy name.
    #[serde(default)]
    pub policy: BTreeMap<String, Settings>,
    /// Exclusions.
    #[serde(default)]
    pub exclude: Vec<ExcludeEntry>,
}

/// The standard enforcement action of a stage (what `enforce = true` turns on).
pub fn standard_action(stage: Stage) -> &'static str {
    match stage {
        Stage::Build => "fail_build",
        Stage::Deploy => "scale_to_zero",
        Stage::Runtime => "kill_pod",
    }
}

/// Parses a configuration; `name` (the file) prefixes every error.
pub fn parse(name: &str, text: &str) -> Result<Config, ConfigError> {
    if text.len() > MAX_CONFIG_BYTES {
        return Err(ConfigError(format!(
            "{name}: larger than {} KiB",
            MAX_CONFIG_BYTES >> 10
        )));
    }
    toml::from_str(text).map_err(|e| {
        let position = e
            .span()
            .map(|s| {
                let before = &text[..s.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!(":{line}:{column}")
            })
            .unwrap_or_default();
        ConfigError(format!("{name}{position}: {}", e.message()))
    })
}

fn pattern(text: &str, what: &str) -> Result<NamePattern, String> {
    match text.strip_prefix('/').and_then(|t| t.strip_suffix('/')) {
        Some(re) if !re.is_empty() => {
            regex::Regex::new(re).map_err(|e| format!("{what} /{re}/: {e}"))?;
            Ok(NamePattern::Regex(re.to_string()))
        }
        _ if text.is_empty() => Err(format!("{what} is empty")),
        _ => Ok(NamePattern::Exact(text.to_string())),
    }
}

fn closest<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> String {
    known
        .map(|k| (strsim::jaro_winkler(name, k), k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default()
}

impl Config {
    /// Whether the configuration changes nothing.
    pub fn is_empty(&self) -> bool {
        self == &Config::default()
    }

    /// Applies the configuration to the policies' metadata. Names of policies and
    /// categories the set does not have, enforcement actions of a stage a policy does not
    /// evaluate at, and malformed exclusions are errors (`name` is the file): a typo must
    /// not leave a gate silently off.
    pub fn apply(&self, name: &str, policies: &mut [PolicyMeta]) -> Result<(), ConfigError> {
        let err = |m: String| ConfigError(format!("{name}: {m}"));
        for p in self.policy.keys() {
            if !policies.iter().any(|q| &q.name == p) {
                return Err(err(format!(
                    "[policy.\"{p}\"]: no such policy{}",
                    closest(p, policies.iter().map(|q| q.name.as_str()))
                )));
            }
        }
        for c in self.category.keys() {
            if !policies.iter().any(|q| q.categories.contains(c)) {
                let mut known: Vec<&str> = policies
                    .iter()
                    .flat_map(|q| q.categories.iter().map(String::as_str))
                    .collect();
                known.sort_unstable();
                known.dedup();
                return Err(err(format!(
                    "[category.\"{c}\"]: no policy has this category{}",
                    closest(c, known.into_iter())
                )));
            }
        }
        let exclusions = self
            .exclude
            .iter()
            .enumerate()
            .map(|(i, e)| exclusion(e).map_err(|m| err(format!("[[exclude]] #{}: {m}", i + 1))))
            .collect::<Result<Vec<_>, _>>()?;
        for (i, e) in self.exclude.iter().enumerate() {
            for p in e.policies.iter().flatten() {
                if !policies.iter().any(|q| &q.name == p) {
                    return Err(err(format!(
                        "[[exclude]] #{}: no such policy `{p}`{}",
                        i + 1,
                        closest(p, policies.iter().map(|q| q.name.as_str()))
                    )));
                }
            }
        }
        for meta in policies.iter_mut() {
            let original = meta.severity;
            let categories = meta.categories.clone();
            let name = meta.name.clone();
            let layers = self
                .severity
                .get(&original)
                .map(|s| ("severity", original.as_str().to_string(), s))
                .into_iter()
                .chain(
                    self.category
                        .iter()
                        .filter(|(c, _)| categories.contains(c))
                        .map(|(c, s)| ("category", c.clone(), s)),
                )
                .chain(self.policy.get(&name).map(|s| ("policy", name.clone(), s)));
            for (kind, key, settings) in layers {
                settings
                    .apply(meta)
                    .map_err(|m| err(format!("[{kind}.\"{key}\"]: {m}")))?;
            }
            for (entry, exclusion) in self.exclude.iter().zip(&exclusions) {
                let applies = entry
                    .policies
                    .as_ref()
                    .is_none_or(|names| names.contains(&meta.name));
                if applies {
                    meta.exclusions.push(exclusion.clone());
                }
            }
        }
        Ok(())
    }
}

impl Settings {
    fn apply(&self, meta: &mut PolicyMeta) -> Result<(), String> {
        if let Some(enabled) = self.enabled {
            meta.disabled = !enabled;
        }
        if let Some(severity) = self.severity {
            meta.severity = severity;
        }
        match &self.enforce {
            None => {}
            Some(Enforce::Switch(false)) => meta.enforcement.clear(),
            Some(Enforce::Switch(true)) => {
                meta.enforcement = meta
                    .stages
                    .iter()
                    .map(|s| standard_action(*s).to_string())
                    .collect();
            }
            Some(Enforce::Actions(actions)) => {
                for a in actions {
                    let Some((_, stage)) = ENFORCEMENT_ACTIONS.iter().find(|(n, _)| n == a) else {
                        let known: Vec<&str> =
                            ENFORCEMENT_ACTIONS.iter().map(|(n, _)| *n).collect();
                        return Err(format!(
                            "unknown enforcement action `{a}` (one of: {})",
                            known.join(", ")
                        ));
                    };
                    if !meta.stages.contains(stage) {
                        return Err(format!(
                            "`{a}` acts at {} but `{}` evaluates at {}",
                            stage.as_str(),
                            meta.name,
                            meta.stages
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                }
                meta.enforcement = actions.clone();
            }
        }
        Ok(())
    }
}

fn exclusion(e: &ExcludeEntry) -> Result<Exclusion, String> {
    if e.reason.trim().is_empty() {
        return Err("an exclusion needs a reason".into());
    }
    let target = match (&e.image, &e.deployment, &e.namespace) {
        (Some(image), None, None) if !image.is_empty() => {
            ExclusionTarget::ImagePrefix(image.clone())
        }
        (Some(_), _, _) => {
            return Err("`image` excludes images; give it alone (not with deployment or namespace), non-empty".into());
        }
        (None, None, None) => {
            return Err("name what it excludes: `deployment`, `namespace` or `image`".into());
        }
        (None, deployment, namespace) => ExclusionTarget::Deployment {
            name: deployment
                .as_deref()
                .map(|d| pattern(d, "deployment"))
                .transpose()?,
            scope: Box::new(Scope {
                namespace: namespace
                    .as_deref()
                    .map(|n| pattern(n, "namespace"))
                    .transpose()?,
                ..Scope::default()
            }),
        },
    };
    let until = match &e.expires {
        // A bare date means "through that day", as in policy source.
        Some(d) => Some(match parse_time(d) {
            Some(t) if d.len() == 10 => t + 86_400,
            Some(t) => t,
            None => {
                return Err(format!(
                    "expires `{d}` is not a date (YYYY-MM-DD) or an RFC 3339 time"
                ));
            }
        }),
        None => None,
    };
    Ok(Exclusion {
        target,
        reason: e.reason.clone(),
        until,
    })
}

#[cfg(test)]
mod tests;
