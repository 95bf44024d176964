//! The map as text: the formats of netpol-analyzer (txt, json, csv, md, dot).

use crate::map::{ConnectivityMap, Endpoint};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Output formats of a map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapFormat {
    /// `src => dst : conn` lines.
    Txt,
    /// A JSON array of `{"src", "dst", "conn"}`.
    Json,
    /// `src,dst,conn` with a header.
    Csv,
    /// A Markdown table.
    Md,
    /// Graphviz, namespaces as clusters.
    Dot,
}

fn rows(map: &ConnectivityMap) -> Vec<(String, String, String)> {
    map.links
        .iter()
        .map(|l| {
            (
                map.name(&l.src),
                map.name(&l.dst),
                l.connections.to_string(),
            )
        })
        .collect()
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn dot_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Renders `map` in `format`; every format ends with a newline unless empty (an empty txt
/// map is empty).
pub fn render(map: &ConnectivityMap, format: MapFormat) -> String {
    let rows = rows(map);
    let mut out = String::new();
    match format {
        MapFormat::Txt => {
            for (s, d, c) in &rows {
                let _ = writeln!(out, "{s} => {d} : {c}");
            }
        }
        MapFormat::Json => {
            let items: Vec<serde_json::Value> = rows
                .iter()
                .map(|(s, d, c)| serde_json::json!({"src": s, "dst": d, "conn": c}))
                .collect();
            out = serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".into());
            out.push('\n');
        }
        MapFormat::Csv => {
            out.push_str("src,dst,conn\n");
            for (s, d, c) in &rows {
                let _ = writeln!(out, "{},{},{}", csv_field(s), csv_field(d), csv_field(c));
            }
        }
        MapFormat::Md => {
            out.push_str("| src | dst | conn |\n|-----|-----|------|\n");
            for (s, d, c) in &rows {
                let cell = |x: &str| x.replace('|', "\\|");
                let _ = writeln!(out, "| {} | {} | {} |", cell(s), cell(d), cell(c));
            }
        }
        MapFormat::Dot => out = dot(map, &rows),
    }
    out
}

fn dot(map: &ConnectivityMap, rows: &[(String, String, String)]) -> String {
    let mut out = String::from("digraph {\n");
    let mut by_namespace: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, ns) in map.namespaces.iter().enumerate() {
        by_namespace.entry(ns).or_default().push(i);
    }
    for (ns, mut members) in by_namespace {
        members.sort_by(|a, b| map.names[*a].cmp(&map.names[*b]));
        let cluster = format!("cluster_{ns}[namespace]");
        let _ = writeln!(out, "\tsubgraph {} {{", dot_quote(&cluster));
        out.push_str("\t\tcolor=\"black\"\n\t\tfontcolor=\"black\"\n");
        for i in members {
            let name = &map.names[i];
            let label = name.split_once('/').map_or(name.as_str(), |(_, rest)| rest);
            let _ = writeln!(
                out,
                "\t\t{} [label={} color=\"blue\" fontcolor=\"blue\"]",
                dot_quote(name),
                dot_quote(label)
            );
        }
        let _ = writeln!(
            out,
            "\t\tlabel={}\n\t}}",
            dot_quote(&format!("{ns}[namespace]"))
        );
    }
    let mut others: Vec<(String, &str)> = map
        .links
        .iter()
        .flat_map(|l| [l.src, l.dst])
        .filter_map(|e| match e {
            Endpoint::External(_) => Some((map.name(&e), "red2")),
            Endpoint::IngressController => Some((map.name(&e), "blue")),
            Endpoint::Workload(_) => None,
        })
        .collect();
    others.sort();
    others.dedup();
    for (name, color) in others {
        let _ = writeln!(
            out,
            "\t{} [label={} color=\"{color}\" fontcolor=\"{color}\"]",
            dot_quote(&name),
            dot_quote(&name)
        );
    }
    for (s, d, c) in rows {
        let weight = if s < d { "0.5" } else { "1" };
        let _ = writeln!(
            out,
            "\t{} -> {} [label={} color=\"gold2\" fontcolor=\"darkgreen\" weight={weight}]",
            dot_quote(s),
            dot_quote(d),
            dot_quote(c)
        );
    }
    out.push_str("}\n");
    out
}
