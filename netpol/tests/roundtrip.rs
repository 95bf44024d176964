#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly on broken fixtures"
)]
//! Over the connectivity-map cases of np-guard/netpol-analyzer (tests/cases, and the
//! public suite in ../shared/netpol-conformance when it is there): the analyzer prints the
//! expected map, and `generate`, given that map as the observed flows, writes policies
//! whose map is the same at port granularity (the proof of point 6 of the segmentation
//! issue).

use palisade_netpol::{
    Analyzer, Connections, Endpoint, GenerateOptions, IpRange, MapFormat, Observed, PortSet,
    Protocol, Topology, build, generate, render, sourced, verify,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            files(&p, out);
        } else if p
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        {
            out.push(p);
        }
    }
}

/// The objects of a case's input, by file.
fn case_objects(case: &Path) -> Vec<(String, Vec<Value>)> {
    let mut paths = Vec::new();
    files(&case.join("input"), &mut paths);
    paths
        .iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(p).ok()?;
            let objects = palisade_adapters::manifest_objects(&text).ok()?;
            Some((p.display().to_string(), objects))
        })
        .collect()
}

fn topology_of(files: &[(String, Vec<Value>)]) -> Topology {
    build(&sourced(files), "default", false).0
}

fn lines(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// `TCP 80,8080-8081,UDP 53` or `All Connections`.
fn parse_connections(text: &str) -> Connections {
    if text == "All Connections" {
        return Connections::all();
    }
    let mut out = Connections::none();
    let mut protocol = Protocol::Tcp;
    for token in text.split(',') {
        let port_text = match token.split_once(' ') {
            Some((p, rest)) => {
                protocol = Protocol::parse(p).unwrap_or_else(|| panic!("protocol in {text}"));
                rest
            }
            None => token,
        };
        let (first, last) = match port_text.split_once('-') {
            Some((a, b)) => (a.parse(), b.parse()),
            None => (port_text.parse(), port_text.parse()),
        };
        let (Ok(first), Ok(last)) = (first, last) else {
            panic!("ports in {text}");
        };
        out.add(&Connections::of(protocol, PortSet::range(first, last)));
    }
    out
}

fn ip(text: &str) -> u32 {
    let octets: Vec<u32> = text.split('.').filter_map(|o| o.parse().ok()).collect();
    assert_eq!(octets.len(), 4, "{text}");
    octets.iter().fold(0, |acc, o| (acc << 8) | o)
}

/// The expected map as observed flows (ingress-controller lines left out: no flow names it).
fn observed_from(expected: &BTreeSet<String>, topology: &Topology) -> Observed {
    let index: BTreeMap<String, usize> = topology
        .workloads
        .iter()
        .enumerate()
        .map(|(i, w)| (w.display_name(), i))
        .collect();
    let end = |name: &str| -> Option<Endpoint> {
        if let Some(range) = name.strip_suffix("[External]") {
            let (a, b) = range.split_once('-')?;
            return Some(Endpoint::External(IpRange {
                first: ip(a),
                last: ip(b),
            }));
        }
        index.get(name).map(|w| Endpoint::Workload(*w))
    };
    let mut observed = Observed::default();
    for line in expected {
        let Some((pair, conns)) = line.split_once(" : ") else {
            panic!("not a map line: {line}");
        };
        let Some((src, dst)) = pair.split_once(" => ") else {
            panic!("not a map line: {line}");
        };
        if src == "{ingress-controller}" {
            continue;
        }
        let (Some(src), Some(dst)) = (end(src), end(dst)) else {
            panic!("unknown end in {line}");
        };
        observed.flows += 1;
        observed
            .used
            .entry((src, dst))
            .or_insert_with(Connections::none)
            .add(&parse_connections(conns));
    }
    observed
}

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in [
        root.join("tests/cases"),
        root.join("../../shared/netpol-conformance/cases"),
    ] {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            out.extend(
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.join("expected.txt").is_file()),
            );
        }
    }
    out.sort();
    out
}

#[test]
fn the_analyzer_prints_every_expected_map() {
    let cases = cases();
    assert!(cases.len() >= 19, "the cases are missing: {cases:?}");
    let mut failures = Vec::new();
    for case in &cases {
        let topology = topology_of(&case_objects(case));
        let (map, _) = Analyzer::new(&topology).map();
        let got = lines(&render(&map, MapFormat::Txt));
        let expected =
            lines(&std::fs::read_to_string(case.join("expected.txt")).unwrap_or_default());
        if got != expected {
            failures.push(format!(
                "{}: missing {:?}, unexpected {:?}",
                case.display(),
                expected.difference(&got).take(3).collect::<Vec<_>>(),
                got.difference(&expected).take(3).collect::<Vec<_>>()
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn policies_generated_from_each_expected_map_give_that_map_back() {
    let mut failures = Vec::new();
    for case in cases() {
        let topology = topology_of(&case_objects(&case));
        let expected =
            lines(&std::fs::read_to_string(case.join("expected.txt")).unwrap_or_default());
        let observed = observed_from(&expected, &topology);
        let generated = generate(&topology, &observed, GenerateOptions::default());
        let verification = verify(&topology, &observed, &generated.policies);
        if !verification.is_exact() {
            failures.push(format!("{}: {verification:#?}", case.display()));
        }
        // The map of the workloads under the generated policies alone, line by line.
        let objects: Vec<Value> = generated
            .policies
            .iter()
            .filter_map(|p| serde_json::to_value(p).ok())
            .collect();
        let mut files = case_objects(&case);
        for (_, objects) in files.iter_mut() {
            objects.retain(|o| o["kind"] != "NetworkPolicy");
        }
        files.push(("generated".into(), objects));
        let (map, _) = Analyzer::new(&topology_of(&files)).map();
        let again: BTreeSet<String> = lines(&render(&map, MapFormat::Txt))
            .into_iter()
            .filter(|l| !l.starts_with("{ingress-controller}"))
            .collect();
        let wanted: BTreeSet<String> = expected
            .iter()
            .filter(|l| !l.starts_with("{ingress-controller}"))
            .cloned()
            .collect();
        if again != wanted {
            failures.push(format!(
                "{}: map again: missing {:?}, unexpected {:?}",
                case.display(),
                wanted.difference(&again).take(4).collect::<Vec<_>>(),
                again.difference(&wanted).take(4).collect::<Vec<_>>()
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
