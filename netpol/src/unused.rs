//! Unnecessary paths: the connections the policies allow that no observed flow used.
//!
//! A path is a link of the connectivity map (a source, a destination and what is allowed
//! between them). It is unused when no observed flow used any of it, and wider than used
//! when flows used part of it: both are what to close. Links from the ingress controller
//! are left out (no flow source names it). Observed flows the policies do not allow are
//! listed too: they would break if the policies were enforced as they are.

use crate::flows::Observed;
use crate::map::{ConnectivityMap, Endpoint};
use crate::ports::Connections;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// One allowed path and what the flows used of it.
#[derive(Clone, Debug, Serialize)]
pub struct PathUse {
    /// Source name (`ns/name[Kind]`, `a.b.c.d-e.f.g.h[External]`).
    pub src: String,
    /// Destination name.
    pub dst: String,
    /// What the policies allow.
    pub allowed: String,
    /// What no flow used (equal to `allowed` for an unused path).
    pub unused: String,
    /// Whether any flow used the path.
    pub used: bool,
}

/// Totals of one namespace: paths with an end in it.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct NamespaceTotals {
    /// Allowed paths.
    pub allowed: usize,
    /// Of those, the ones no flow used.
    pub unused: usize,
    /// Of those, the ones flows used part of.
    pub wider_than_used: usize,
}

/// The report of `netpol unused`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct UnusedReport {
    /// Allowed paths no flow used.
    pub unused: Vec<PathUse>,
    /// Allowed paths flows used only part of.
    pub wider_than_used: Vec<PathUse>,
    /// Observed flows the policies do not allow (source, destination, connections).
    pub blocked: Vec<PathUse>,
    /// Per namespace.
    pub namespaces: BTreeMap<String, NamespaceTotals>,
    /// Allowed paths in all.
    pub allowed_paths: usize,
    /// Share of allowed paths no flow used (0 to 1).
    pub unused_share: f64,
    /// Flows read.
    pub flows: usize,
    /// Flows used (both ends resolved).
    pub flows_resolved: usize,
    /// Flows not used, by reason.
    pub flows_unresolved: BTreeMap<String, usize>,
}

fn overlaps(a: &Endpoint, b: &Endpoint) -> bool {
    match (a, b) {
        (Endpoint::External(x), Endpoint::External(y)) => x.first <= y.last && y.first <= x.last,
        _ => a == b,
    }
}

/// Compares `map` with what `observed` used.
pub fn unused(map: &ConnectivityMap, observed: &Observed) -> UnusedReport {
    let mut report = UnusedReport {
        flows: observed.flows,
        flows_resolved: observed.resolved(),
        flows_unresolved: observed.unresolved.clone(),
        ..Default::default()
    };
    let namespace_of = |e: &Endpoint| match e {
        Endpoint::Workload(w) => map.namespaces.get(*w).cloned(),
        _ => None,
    };
    let mut covered: Vec<Connections> = vec![Connections::none(); observed.used.len()];
    // Observed pairs by index: workload pairs are looked up directly; pairs with an
    // external end are grouped by their other end and matched by overlap.
    let mut exact: HashMap<(Endpoint, Endpoint), usize> = HashMap::new();
    let mut with_external: HashMap<Endpoint, Vec<usize>> = HashMap::new();
    let pairs: Vec<(&(Endpoint, Endpoint), &Connections)> = observed.used.iter().collect();
    for (i, ((src, dst), _)) in pairs.iter().enumerate() {
        match (src, dst) {
            (Endpoint::External(_), other) | (other, Endpoint::External(_)) => {
                with_external.entry(*other).or_default().push(i)
            }
            _ => {
                exact.insert((*src, *dst), i);
            }
        }
    }
    for link in &map.links {
        if link.src == Endpoint::IngressController {
            continue;
        }
        let candidates: Vec<usize> = match (&link.src, &link.dst) {
            (Endpoint::External(_), other) | (other, Endpoint::External(_)) => {
                with_external.get(other).cloned().unwrap_or_default()
            }
            (src, dst) => exact.get(&(*src, *dst)).copied().into_iter().collect(),
        };
        let mut used = Connections::none();
        for i in candidates {
            let ((src, dst), conns) = pairs[i];
            if overlaps(src, &link.src) && overlaps(dst, &link.dst) {
                let hit = conns.intersect(&link.connections);
                used.add(&hit);
                covered[i].add(&hit);
            }
        }
        let rest = link.connections.minus(&used);
        let path = PathUse {
            src: map.name(&link.src),
            dst: map.name(&link.dst),
            allowed: link.connections.to_string(),
            unused: rest.to_string(),
            used: !used.is_empty(),
        };
        report.allowed_paths += 1;
        let mut namespaces: Vec<String> = [namespace_of(&link.src), namespace_of(&link.dst)]
            .into_iter()
            .flatten()
            .collect();
        namespaces.dedup();
        for ns in namespaces {
            let totals = report.namespaces.entry(ns).or_default();
            totals.allowed += 1;
            if used.is_empty() {
                totals.unused += 1;
            } else if !rest.is_empty() {
                totals.wider_than_used += 1;
            }
        }
        if used.is_empty() {
            report.unused.push(path);
        } else if !rest.is_empty() {
            report.wider_than_used.push(path);
        }
    }
    for (((src, dst), conns), covered) in observed.used.iter().zip(&covered) {
        let blocked = conns.minus(covered);
        if !blocked.is_empty() {
            report.blocked.push(PathUse {
                src: map.name(src),
                dst: map.name(dst),
                allowed: String::new(),
                unused: blocked.to_string(),
                used: true,
            });
        }
    }
    report.unused_share = if report.allowed_paths == 0 {
        0.0
    } else {
        report.unused.len() as f64 / report.allowed_paths as f64
    };
    report
}

/// The report as text: the paths to close, then totals.
pub fn render_unused(report: &UnusedReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "unused paths (allowed, no observed flow used them):");
    for p in &report.unused {
        let _ = writeln!(out, "  {} => {} : {}", p.src, p.dst, p.allowed);
    }
    if report.unused.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    if !report.wider_than_used.is_empty() {
        let _ = writeln!(out, "paths wider than used (what no flow used):");
        for p in &report.wider_than_used {
            let _ = writeln!(out, "  {} => {} : {}", p.src, p.dst, p.unused);
        }
    }
    if !report.blocked.is_empty() {
        let _ = writeln!(out, "observed flows the policies do not allow:");
        for p in &report.blocked {
            let _ = writeln!(out, "  {} => {} : {}", p.src, p.dst, p.unused);
        }
    }
    let _ = writeln!(out, "per namespace (paths with an end in it):");
    for (ns, t) in &report.namespaces {
        let _ = writeln!(
            out,
            "  {ns}: {} allowed, {} unused, {} wider than used",
            t.allowed, t.unused, t.wider_than_used
        );
    }
    let _ = writeln!(
        out,
        "total: {} of {} allowed paths unused ({:.1}%); {} wider than used; {} of {} flows used",
        report.unused.len(),
        report.allowed_paths,
        report.unused_share * 100.0,
        report.wider_than_used.len(),
        report.flows_resolved,
        report.flows
    );
    for (why, n) in &report.flows_unresolved {
        let _ = writeln!(out, "  {n} flow(s) not used: {why}");
    }
    out
}
