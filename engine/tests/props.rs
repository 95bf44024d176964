#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly on broken fixtures"
)]
//! Property tests that pay for themselves:
//! - printing a condition and parsing it back gives the same AST, and printing is a fixed point;
//! - formatting files is idempotent;
//! - the compiled matcher agrees with the reference evaluator on generated policies and records.

use palisade_engine::matcher::root_of;
use palisade_engine::record::Record;
use palisade_engine::value::{Ctx, Obj};
use palisade_engine::{Dataset, Matcher, reference};
use palisade_lang::{SourceFile, Sources};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Conditions that check at the deploy stage, covering every kind of test and quantifier.
const ATOMS: &[&str] = &[
    "container.privileged",
    "container.read_only_root_filesystem",
    "image.tag == \"latest\"",
    "image.tag != \"1.0\"",
    "vuln.cvss >= 7",
    "vuln.fixable",
    "vuln.severity >= high",
    "env.source == raw",
    "env.name ~ /.*(PASS|SECRET).*/",
    "env.value contains \"secret\"",
    "env.name ~ [/a.*/, /.*_KEY/]",
    "volume.source glob \"/var/**\"",
    "volume.read_only",
    "volume.type startswith \"Host\"",
    "port.exposure in [external, node]",
    "port.container_port in [22, 2222]",
    "deployment.host_network",
    "has(deployment.labels[\"app\"])",
    "deployment.labels[\"team\"] == \"pay\"",
    "container.add_capabilities contains \"SYS_ADMIN\"",
    "container.drop_capabilities ~ /all/",
    "days_since(image.created) > 30",
    "component.name endswith \"ssl\"",
    "container.memory_limit > 256MiB",
    "container.cpu_limit <= 500m",
    "any cap in container.drop_capabilities: cap == \"ALL\"",
    "every container: container.privileged",
    "no volume: volume.type == \"HostPath\"",
    "count(vuln where vuln.cvss > 5) >= 2",
    "any c in deployment.annotations: c.key ~ /owner/",
    "image.name_missing_is_not_a_field_but_user",
];

fn atom() -> impl Strategy<Value = String> {
    // The last entry is deliberately not a field; it is replaced by a real one here.
    (0..ATOMS.len()).prop_map(|i| {
        if i == ATOMS.len() - 1 {
            "image.user in [\"\", \"0\", \"root\"]".to_string()
        } else {
            ATOMS[i].to_string()
        }
    })
}

fn condition() -> impl Strategy<Value = String> {
    atom().prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) and ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) or ({b})")),
            inner.clone().prop_map(|a| format!("not ({a})")),
            inner.clone().prop_map(|a| format!("any container: ({a})")),
            inner.prop_map(|a| format!("every volume: ({a})")),
        ]
    })
}

fn maybe<T: std::fmt::Debug + Clone + 'static>(
    s: impl Strategy<Value = T> + 'static,
) -> impl Strategy<Value = Option<T>> {
    prop_oneof![Just(None), s.prop_map(Some)]
}

fn security_context() -> impl Strategy<Value = Value> {
    (maybe(any::<bool>()), maybe(any::<bool>()), prop::sample::subsequence(vec!["SYS_ADMIN", "NET_ADMIN"], 0..=2), prop::sample::subsequence(vec!["ALL", "NET_RAW"], 0..=2))
        .prop_map(|(p, ro, add, drop)| json!({"privileged": p, "read_only_root_filesystem": ro, "add_capabilities": add, "drop_capabilities": drop}))
}

fn vuln() -> impl Strategy<Value = Value> {
    (0.0f64..10.0, prop::sample::select(vec!["", "1.2.3"]), maybe(any::<bool>()), prop::sample::select(vec!["low", "medium", "high", "critical", "IMPORTANT"]))
        .prop_map(|(cvss, fixed, supp, sev)| json!({"id": "CVE-1", "cvss": (cvss * 10.0).round() / 10.0, "fixed_by": fixed, "suppressed": supp, "severity": sev}))
}

fn image() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec!["latest", "1.0", "2.1"]),
        maybe(prop::collection::vec((prop::sample::select(vec!["openssl", "zlib"]), prop::collection::vec(vuln(), 0..3)), 0..3)),
        prop::sample::select(vec!["2020-01-01T00:00:00Z", "2026-11-20T00:00:00Z"]),
        maybe(prop::sample::select(vec!["", "root", "1000"])),
    )
        .prop_map(|(tag, scan, created, user)| {
            let scan = scan.map(|cs| json!({"components": cs.into_iter().map(|(n, vs)| json!({"name": n, "vulns": vs})).collect::<Vec<_>>()}));
            json!({"name": {"full_name": format!("registry.example.com/app:{tag}")}, "created": created, "user": user, "scan": scan})
        })
}

fn container() -> impl Strategy<Value = Value> {
    (
        maybe(security_context()),
        maybe(prop::collection::vec((prop::sample::select(vec!["DB_PASSWORD", "A_KEY", "PORT"]), maybe(prop::sample::select(vec!["raw", "secret_key"])), prop::sample::select(vec!["secret!", "8080"])), 0..3)),
        maybe(prop::collection::vec((prop::sample::select(vec!["HostPath", "EmptyDir"]), prop::sample::select(vec!["/var/run/docker.sock", "/data"]), maybe(any::<bool>())), 0..3)),
        maybe(image()),
        maybe((0u32..1024, 0u32..2000)),
    )
        .prop_map(|(sc, env, vols, img, res)| {
            json!({
                "name": "c",
                "security_context": sc,
                "env": env.map(|e| e.into_iter().map(|(n, s, v)| json!({"name": n, "source": s, "value": v})).collect::<Vec<_>>()),
                "volumes": vols.map(|v| v.into_iter().map(|(t, s, ro)| json!({"name": "v", "type": t, "source": s, "read_only": ro})).collect::<Vec<_>>()),
                "image": img,
                "resources": res.map(|(m, c)| json!({"memory_limit_mb": m, "cpu_limit_cores": c as f64 / 1000.0})),
            })
        })
}

fn deployment() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(container(), 0..4),
        maybe(any::<bool>()),
        maybe(prop::collection::vec((prop::sample::select(vec![22.0, 8080.0]), maybe(prop::sample::select(vec!["external", "internal", "NODE"]))), 0..3)),
        maybe(prop::sample::subsequence(vec![("app", "web"), ("team", "pay"), ("owner", "me")], 0..=3)),
    )
        .prop_map(|(containers, hn, ports, labels)| {
            json!({
                "kind": "deployment", "id": "d", "name": "web", "namespace": "prod",
                "containers": containers,
                "host_network": hn,
                "ports": ports.map(|ps| ps.into_iter().map(|(p, e)| json!({"container_port": p, "exposure": e})).collect::<Vec<_>>()),
                "labels": labels.clone().map(|l| l.into_iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>()),
                "annotations": labels.map(|l| l.into_iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>()),
            })
        })
}

fn check_policy(cond: &str) -> Result<(palisade_lang::hir::CheckedSet, Matcher), String> {
    let text = format!(
        "policy \"generated\" {{\n  severity low\n  lifecycle deploy\n  soc2 CC6.1\n  when {cond}\n}}\n"
    );
    let mut sources = Sources::default();
    let index = sources.add(SourceFile::new("gen.pal", text));
    let file = palisade_lang::parse(&sources, index)
        .map_err(|d| format!("{:?}", d.first().map(|x| &x.message)))?;
    let set = palisade_lang::check(&sources, &[(index, file)])
        .map_err(|d| format!("{:?}", d.first().map(|x| &x.message)))?;
    let matcher = Matcher::new(palisade_engine::compile(&set).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    Ok((set, matcher))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn print_parse_round_trip(cond in condition()) {
        let parsed = palisade_lang::syntax::parse_expr(&cond, 0).map_err(|d| TestCaseError::fail(format!("{cond}: {:?}", d[0].message)))?;
        let printed = palisade_lang::print_expr(&parsed);
        let reparsed = palisade_lang::syntax::parse_expr(&printed, 0).map_err(|d| TestCaseError::fail(format!("{printed}: {:?}", d[0].message)))?;
        prop_assert_eq!(&parsed, &reparsed, "printed: {}", printed);
        prop_assert_eq!(palisade_lang::print_expr(&reparsed), printed);
    }

    #[test]
    fn compiled_matcher_agrees_with_reference(cond in condition(), records in prop::collection::vec(deployment(), 1..4)) {
        let (set, matcher) = check_policy(&cond).map_err(|e| TestCaseError::fail(format!("{cond}: {e}")))?;
        let mut ds = Dataset::default();
        for (i, mut r) in records.into_iter().enumerate() {
            r["id"] = json!(format!("d{i}"));
            let rec: Record = serde_json::from_value(r).map_err(|e| TestCaseError::fail(e.to_string()))?;
            ds.add(rec).map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        ds.finish();
        let rules: Vec<_> = set.policies.iter().flat_map(|p| p.rules.iter()).collect();
        for d in &ds.deployments {
            let root = Obj::Deployment(d);
            let ctx = Ctx::new(&ds, root, 1_795_000_000);
            for (ri, rule) in rules.iter().enumerate() {
                prop_assert_eq!(root_of(root), Some(rule.root));
                let compiled = matcher.eval_rule(ri, &ctx, root);
                let oracle = reference::eval_rule(rule, root, &ctx);
                prop_assert_eq!(compiled, oracle, "condition: {}\nrecord: {:?}", cond, d.id);
            }
        }
    }
}

#[test]
fn formatting_example_and_library_files_is_idempotent() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut entries: Vec<_> = ["examples/policies", "policies"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root.join(d)).expect("policy directory"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    assert!(!entries.is_empty());
    for path in entries {
        let text = std::fs::read_to_string(&path).expect("read");
        let mut sources = Sources::default();
        let i = sources.add(SourceFile::new(path.display().to_string(), text.clone()));
        let once = palisade_lang::format_source(&sources, i).expect("formats");
        let j = sources.add(SourceFile::new("again", once.clone()));
        let twice = palisade_lang::format_source(&sources, j).expect("formats again");
        assert_eq!(once, twice, "{}", path.display());
        let a = palisade_lang::parse(&sources, i).expect("parse original");
        let b = palisade_lang::parse(&sources, j).expect("parse formatted");
        assert_eq!(a, b, "formatting changed the meaning of {}", path.display());
    }
}

#[test]
fn every_generated_atom_checks() {
    for a in ATOMS.iter().take(ATOMS.len() - 1) {
        assert!(check_policy(a).is_ok(), "{a}: {:?}", check_policy(a).err());
    }
}

/// Conditions over an image's components and vulnerabilities: the shapes that walk only
/// the components listing vulnerabilities, and the shapes that must walk them all.
const VULN_ATOMS: &[&str] = &[
    "vuln.cvss >= 7",
    "vuln.fixable",
    "vuln.severity >= high",
    "component.name == \"openssl\"",
    "(vuln.cvss > 5) and (component.name == \"zlib\")",
    "(vuln.cvss > 8) or (vuln.fixable)",
    "(vuln.cvss > 8) or (component.name == \"zlib\")",
    "not (vuln.cvss > 3)",
    "count(vuln where vuln.cvss > 5) >= 2",
    "any component: (any vuln: vuln.cvss > 6)",
    "any component: ((any vuln: vuln.fixable) and (component.name endswith \"ssl\"))",
    "any component: (not (any vuln: vuln.cvss > 6))",
    "every component: (any vuln: vuln.cvss > 1)",
    "no component: (any vuln: vuln.cvss > 9)",
    "image.tag == \"latest\"",
];

fn vuln_condition() -> impl Strategy<Value = String> {
    prop::sample::select(VULN_ATOMS)
        .prop_map(str::to_string)
        .prop_recursive(2, 6, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) and ({b})")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) or ({b})")),
                inner.prop_map(|a| format!("not ({a})")),
            ]
        })
}

/// An image record with components whose vulnerability lists are absent, empty,
/// suppressed only, or not.
fn scanned_image() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec!["latest", "1.0"]),
        maybe(prop::collection::vec(
            (
                prop::sample::select(vec!["openssl", "zlib", "musl"]),
                prop_oneof![
                    Just(None),
                    Just(Some(vec![])),
                    maybe(prop::collection::vec(vuln(), 0..3)),
                ],
            ),
            0..8,
        )),
    )
        .prop_map(|(tag, scan)| {
            let scan = scan.map(|cs| json!({"components": cs.into_iter().map(|(n, vs)| json!({"name": n, "vulns": vs})).collect::<Vec<_>>()}));
            json!({"kind": "image", "name": {"full_name": format!("registry.example.com/app:{tag}")}, "scan": scan})
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// The dataset's index of components with vulnerabilities changes no verdict, message
    /// or explanation: against the reference evaluator (which walks every component),
    /// and against the same records with the index off (a dataset changed since `finish`).
    #[test]
    fn image_component_index_changes_nothing(
        cond in vuln_condition(),
        images in prop::collection::vec(scanned_image(), 1..4),
        picks in prop::collection::vec(prop::collection::vec(0usize..4, 1..4), 1..4),
    ) {
        let (set, matcher) = check_policy(&cond).map_err(|e| TestCaseError::fail(format!("{cond}: {e}")))?;
        let records: Vec<Value> = images
            .iter()
            .enumerate()
            .map(|(i, image)| {
                let mut image = image.clone();
                image["id"] = json!(format!("sha256:{i}"));
                image
            })
            .chain(picks.iter().enumerate().map(|(d, containers)| {
                json!({"kind": "deployment", "id": format!("d{d}"), "name": "web", "namespace": "prod",
                    "containers": containers.iter().map(|i| json!({"name": format!("c{i}"), "image": {"id": format!("sha256:{}", i % images.len())}})).collect::<Vec<_>>()})
            }))
            .collect();
        let dataset = |index: bool| -> Result<Dataset, TestCaseError> {
            let mut ds = Dataset::default();
            for r in &records {
                let rec: Record = serde_json::from_value(r.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
                ds.add(rec).map_err(|e| TestCaseError::fail(e.to_string()))?;
            }
            ds.finish();
            if !index {
                // A change after `finish` turns the index (and the memo) off.
                let extra = serde_json::from_value(json!({"kind": "image", "id": "sha256:extra"})).map_err(|e| TestCaseError::fail(e.to_string()))?;
                ds.add(extra).map_err(|e| TestCaseError::fail(e.to_string()))?;
            }
            Ok(ds)
        };
        let (indexed, plain) = (dataset(true)?, dataset(false)?);
        let rules: Vec<_> = set.policies.iter().flat_map(|p| p.rules.iter()).collect();
        let opts = palisade_engine::EvalOptions { now: 1_795_000_000, include_disabled: false, stage: None };
        for (d, p) in indexed.deployments.iter().zip(&plain.deployments) {
            let root = Obj::Deployment(d);
            let ctx = Ctx::new(&indexed, root, 1_795_000_000);
            for (ri, rule) in rules.iter().enumerate() {
                let compiled = matcher.eval_rule(ri, &ctx, root);
                let oracle = reference::eval_rule(rule, root, &ctx);
                prop_assert_eq!(compiled, oracle, "condition: {}\nrecord: {:?}", cond, d.id);
            }
            for explain in [false, true] {
                let with_index = matcher.check(&indexed, root, &opts, explain).map_err(|e| TestCaseError::fail(e.to_string()))?;
                let without = matcher.check(&plain, Obj::Deployment(p), &opts, explain).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(&with_index.0, &without.0, "condition: {}", cond);
                prop_assert_eq!(&with_index.1, &without.1, "condition: {}", cond);
            }
        }
    }
}
