//! Scopes and exclusions: whether a policy applies to a record at all.
//!
//! Deployment records, and runtime events through their deployment (or, without one, the
//! event's own namespace and cluster), are matched against scopes and deployment
//! exclusions. Image records are matched against image exclusions only: scopes describe
//! where workloads run, which a build does not have.

use crate::ir::PolicyInfo;
use crate::matcher::Matcher;
use crate::record::StrMap;
use crate::value::{Ctx, Obj};
use palisade_lang::hir::{ExclusionTarget, NamePattern, Scope};
use palisade_lang::literal::LiteralPattern;
use rustc_hash::FxHashMap;

/// Compiled regexes of scope and exclusion patterns, by pattern text.
#[derive(Debug, Default)]
pub(crate) struct ScopeRegexes(FxHashMap<String, NameMatcher>);

/// A compiled name pattern. Most exclusion and scope patterns are plain names
/// (`kube-system`, `kube\-proxy`, `kube-.*`); those match as literal patterns
/// ([`LiteralPattern`]) instead of holding a compiled regex each (hundreds of them in the
/// built-in library).
#[derive(Debug)]
enum NameMatcher {
    Literal(LiteralPattern),
    Regex(regex::Regex),
}

/// Every regex of a policy's scopes and deployment exclusions (names, namespaces, clusters,
/// label keys and values), in order.
pub(crate) fn regex_patterns(p: &PolicyInfo) -> Vec<&str> {
    let mut out: Vec<&NamePattern> = Vec::new();
    let scopes = p
        .scopes
        .iter()
        .chain(p.exclusions.iter().filter_map(|e| match &e.target {
            ExclusionTarget::Deployment { scope, .. } => Some(scope.as_ref()),
            ExclusionTarget::ImagePrefix(_) => None,
        }));
    for s in scopes {
        out.extend([&s.cluster, &s.namespace].into_iter().flatten());
        for (k, v) in [&s.label, &s.cluster_label, &s.namespace_label]
            .into_iter()
            .flatten()
        {
            out.extend([k, v]);
        }
    }
    for e in &p.exclusions {
        if let ExclusionTarget::Deployment { name: Some(n), .. } = &e.target {
            out.push(n);
        }
    }
    out.into_iter()
        .filter_map(|pat| match pat {
            NamePattern::Regex(r) => Some(r.as_str()),
            NamePattern::Exact(_) => None,
        })
        .collect()
}

impl ScopeRegexes {
    pub(crate) fn new(policies: &[PolicyInfo]) -> Result<Self, String> {
        let mut map = FxHashMap::default();
        for r in policies.iter().flat_map(regex_patterns) {
            if map.contains_key(r) {
                continue;
            }
            let m = match LiteralPattern::parse(r) {
                Some(lit) => NameMatcher::Literal(lit),
                None => NameMatcher::Regex(
                    regex::RegexBuilder::new(&palisade_lang::hir::regex_source(r, false)?)
                        .size_limit(palisade_lang::hir::REGEX_SIZE_LIMIT)
                        .build()
                        .map_err(|e| e.to_string())?,
                ),
            };
            map.insert(r.to_string(), m);
        }
        Ok(ScopeRegexes(map))
    }

    fn matches(&self, p: &NamePattern, value: Option<&str>) -> bool {
        let Some(value) = value else { return false };
        match p {
            NamePattern::Exact(s) => s == value,
            NamePattern::Regex(r) => match self.0.get(r) {
                Some(NameMatcher::Literal(lit)) => lit.is_match(value),
                Some(NameMatcher::Regex(re)) => re.is_match(value),
                None => false,
            },
        }
    }
}

/// Where a record runs, as scopes see it.
struct Place<'r> {
    name: Option<&'r str>,
    namespace: Option<&'r str>,
    cluster: Option<&'r str>,
    cluster_id: Option<&'r str>,
    labels: Option<&'r StrMap>,
    cluster_labels: Option<&'r StrMap>,
    namespace_labels: Option<&'r StrMap>,
}

fn place<'r>(root: Obj<'r>, ctx: &Ctx<'r>) -> Option<Place<'r>> {
    let from_deployment = |d: &'r crate::record::Deployment| Place {
        name: Some(&d.name),
        namespace: d.namespace.as_deref(),
        cluster: d.cluster.as_deref(),
        cluster_id: d.cluster_id.as_deref(),
        labels: d.labels.as_ref(),
        cluster_labels: d.cluster_labels.as_ref(),
        namespace_labels: d.namespace_labels.as_ref(),
    };
    Some(match root {
        Obj::Deployment(d) => from_deployment(d),
        Obj::Process(p) => ctx.join.deployment.map(from_deployment).unwrap_or(Place {
            name: p.deployment.as_deref(),
            namespace: p.namespace.as_deref(),
            cluster: p.cluster.as_deref(),
            cluster_id: None,
            labels: None,
            cluster_labels: None,
            namespace_labels: None,
        }),
        Obj::Event(e) => ctx.join.deployment.map(from_deployment).unwrap_or(Place {
            name: None,
            namespace: e.namespace.as_deref(),
            cluster: e.cluster.as_deref(),
            cluster_id: None,
            labels: None,
            cluster_labels: None,
            namespace_labels: None,
        }),
        Obj::Flow(f) => ctx.join.deployment.map(from_deployment).unwrap_or(Place {
            name: f.source.as_ref().and_then(|s| s.name.as_deref()),
            namespace: f.source.as_ref().and_then(|s| s.namespace.as_deref()),
            cluster: f.cluster.as_deref(),
            cluster_id: None,
            labels: None,
            cluster_labels: None,
            namespace_labels: None,
        }),
        _ => return None,
    })
}

fn scope_matches(re: &ScopeRegexes, s: &Scope, at: &Place<'_>) -> bool {
    let cluster_ok = s
        .cluster
        .as_ref()
        .is_none_or(|p| re.matches(p, at.cluster) || re.matches(p, at.cluster_id));
    let ns_ok = s
        .namespace
        .as_ref()
        .is_none_or(|p| re.matches(p, at.namespace));
    let labels_ok = |want: &Option<(NamePattern, NamePattern)>, have: Option<&StrMap>| {
        want.as_ref().is_none_or(|(k, v)| {
            have.is_some_and(|m| {
                m.iter()
                    .any(|(mk, mv)| re.matches(k, Some(mk)) && re.matches(v, Some(mv)))
            })
        })
    };
    let label_ok = labels_ok(&s.label, at.labels)
        && labels_ok(&s.cluster_label, at.cluster_labels)
        && labels_ok(&s.namespace_label, at.namespace_labels);
    cluster_ok && ns_ok && label_ok
}

/// Whether `policy` applies to every record: it has neither scopes nor exclusions (most
/// policies).
pub(crate) fn unscoped(policy: &PolicyInfo) -> bool {
    policy.scopes.is_empty() && policy.exclusions.is_empty()
}

/// Whether `policy` applies to the record: in scope and not excluded by an unexpired exclusion.
pub(crate) fn applies(
    m: &Matcher,
    _index: usize,
    policy: &PolicyInfo,
    ctx: &Ctx<'_>,
    root: Obj<'_>,
) -> bool {
    unscoped(policy) || matches!(standing(m, policy, ctx, root), Standing::Applies)
}

/// How a policy stands towards a record.
pub(crate) enum Standing {
    /// Outside every scope of the policy.
    OutOfScope,
    /// In scope, but excluded by the unexpired exclusion at this index (of the policy's
    /// exclusions).
    Excluded(usize),
    /// The policy applies.
    Applies,
}

/// Whether `policy` applies to the record, and if not, why; exclusions expire on the
/// context's clock.
pub(crate) fn standing(m: &Matcher, policy: &PolicyInfo, ctx: &Ctx<'_>, root: Obj<'_>) -> Standing {
    let now = ctx.now;
    let re = &m.scope_regexes;
    let mut active = policy
        .exclusions
        .iter()
        .enumerate()
        .filter(|(_, e)| e.until.is_none_or(|u| now < u));
    if let Obj::Image(img) = root {
        let name = img.full_name().unwrap_or("");
        return match active.find(|(_, e)| matches!(&e.target, ExclusionTarget::ImagePrefix(p) if name.starts_with(p.as_str()))) {
            Some((i, _)) => Standing::Excluded(i),
            None => Standing::Applies,
        };
    }
    let Some(at) = place(root, ctx) else {
        return Standing::Applies;
    };
    if !policy.scopes.is_empty() && !policy.scopes.iter().any(|s| scope_matches(re, s, &at)) {
        return Standing::OutOfScope;
    }
    match active.find(|(_, e)| match &e.target {
        ExclusionTarget::Deployment { name, scope } => {
            name.as_ref().is_none_or(|n| re.matches(n, at.name)) && scope_matches(re, scope, &at)
        }
        ExclusionTarget::ImagePrefix(_) => false,
    }) {
        Some((i, _)) => Standing::Excluded(i),
        None => Standing::Applies,
    }
}
