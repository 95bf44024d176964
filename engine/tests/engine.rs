#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly on broken fixtures"
)]
//! Engine behaviour end to end: joins, missing data, scopes, messages, bundle verification.

use palisade_engine::input::read_all;
use palisade_engine::ir::{Node, OperandIr};
use palisade_engine::report::Violation;
use palisade_engine::{Dataset, EvalOptions, Matcher};
use palisade_lang::{SourceFile, Sources};

const NOW: i64 = 1_795_000_000; // 2026-11-18

fn matcher(policies: &str) -> Matcher {
    let mut sources = Sources::default();
    let i = sources.add(SourceFile::new("t.pal", policies));
    let file = palisade_lang::parse(&sources, i).unwrap_or_else(|d| panic!("{:?}", d[0].message));
    let set = palisade_lang::check(&sources, &[(i, file)])
        .unwrap_or_else(|d| panic!("{:?}", d.iter().map(|x| &x.message).collect::<Vec<_>>()));
    Matcher::new(palisade_engine::compile(&set).expect("compiles")).expect("loads")
}

/// Runs every record; returns (record id, policy, messages) per violation.
fn run(m: &Matcher, records: &str) -> Vec<(String, String, Vec<String>)> {
    run_over(m, records, true)
}

/// [`run`]; without `indexed`, the dataset changes after `finish`, which turns its
/// per-image indexes and memos off (every image is walked).
fn run_over(m: &Matcher, records: &str, indexed: bool) -> Vec<(String, String, Vec<String>)> {
    let mut ds = Dataset::default();
    let mut events = Vec::new();
    for r in read_all(records.as_bytes()).expect("records parse") {
        if let Some(e) = ds.add(r).expect("dataset") {
            events.push(e);
        }
    }
    ds.finish();
    if !indexed {
        let extra =
            read_all(br#"{"kind":"image","id":"sha256:extra"}"#.as_slice()).expect("parses");
        for r in extra {
            ds.add(r).expect("dataset");
        }
    }
    let opts = EvalOptions {
        now: NOW,
        include_disabled: false,
        stage: None,
    };
    let roots = ds.roots(&events);
    let mut out = Vec::new();
    for root in roots {
        let (vs, _) = m
            .check(&ds, root, &opts, false)
            .expect("within the step budget");
        out.extend(
            vs.into_iter()
                .map(|v: Violation| (v.record.id, v.policy, v.messages)),
        );
    }
    out
}

fn policy(name: &str, lifecycle: &str, when: &str, extra: &str) -> String {
    format!(
        "policy \"{name}\" {{\n severity high\n lifecycle {lifecycle}\n soc2 CC6.1\n when {when}\n {extra}\n}}\n"
    )
}

#[test]
fn matcher_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Matcher>();
}

#[test]
fn images_join_by_digest_then_by_name_and_stub_from_the_name() {
    let m = matcher(
        &(policy("latest", "deploy", "image.tag == \"latest\"", "")
            + &policy("unscanned", "deploy", "not image.scanned", "")
            + &policy("root", "deploy", "image.user == \"root\"", "")),
    );
    let records = r#"[
      {"kind":"deployment","id":"by-digest","name":"a","containers":[{"name":"c","image":{"id":"sha256:1","name":{"full_name":"x/app:1"}}}]},
      {"kind":"deployment","id":"by-name","name":"b","containers":[{"name":"c","image":{"name":{"full_name":"quay.io/x/app:2"}}}]},
      {"kind":"deployment","id":"stub","name":"c","containers":[{"name":"c","image":{"name":{"full_name":"nginx"}}}]},
      {"kind":"deployment","id":"no-image","name":"d","containers":[{"name":"c"}]},
      {"kind":"image","id":"sha256:1","name":{"full_name":"other/name:9"},"user":"root","scan":{"components":[]}},
      {"kind":"image","id":"sha256:2","name":{"full_name":"quay.io/x/app:2"},"user":"root","scan":{"components":[]}}
    ]"#;
    let mut got: Vec<(String, String)> = run(&m, records)
        .into_iter()
        .filter(|(id, ..)| !id.starts_with("sha"))
        .map(|(id, p, _)| (id, p))
        .collect();
    got.sort();
    let want = [
        ("by-digest", "root"),
        ("by-name", "root"),
        ("stub", "latest"),
        ("stub", "unscanned"),
    ];
    assert_eq!(got, want.map(|(a, b)| (a.to_string(), b.to_string())));
}

#[test]
fn missing_structure_never_fires_even_negated() {
    let m = matcher(
        &(policy(
            "rw root",
            "deploy",
            "not container.read_only_root_filesystem",
            "",
        ) + &policy("no cpu request", "deploy", "container.cpu_request == 0", "")
            + &policy(
                "no labels",
                "deploy",
                "not has(deployment.labels[\"owner\"])",
                "",
            )
            + &policy(
                "no owner label",
                "deploy",
                "no l in deployment.labels: l.key == \"owner\"",
                "",
            )),
    );
    let records = r#"[
      {"kind":"deployment","id":"absent","name":"a","containers":[{"name":"c"}]},
      {"kind":"deployment","id":"explicit","name":"b","labels":{},"containers":[{"name":"c","security_context":{"read_only_root_filesystem":false},"resources":{"cpu_request_cores":0}}]}
    ]"#;
    let mut got: Vec<(String, String)> = run(&m, records)
        .into_iter()
        .map(|(id, p, _)| (id, p))
        .collect();
    got.sort();
    let want = [
        ("absent", "no labels"),
        ("explicit", "no cpu request"),
        ("explicit", "no labels"),
        ("explicit", "no owner label"),
        ("explicit", "rw root"),
    ];
    assert_eq!(got, want.map(|(a, b)| (a.to_string(), b.to_string())));
}

#[test]
fn same_name_same_object_and_one_message_per_context() {
    let m = matcher(&policy(
        "priv latest",
        "deploy",
        "container.privileged and image.tag == \"latest\"",
        "message \"{container.name}\"",
    ));
    let records = r#"[
      {"kind":"deployment","id":"split","name":"a","containers":[
        {"name":"p","security_context":{"privileged":true},"image":{"name":{"full_name":"x:1"}}},
        {"name":"l","security_context":{"privileged":false},"image":{"name":{"full_name":"x:latest"}}}]},
      {"kind":"deployment","id":"both","name":"b","containers":[
        {"name":"one","security_context":{"privileged":true},"image":{"name":{"full_name":"x:latest"}}},
        {"name":"two","security_context":{"privileged":true},"image":{"name":{"full_name":"y:latest"}}}]}
    ]"#;
    let got = run(&m, records);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "both");
    assert_eq!(got[0].2, ["one", "two"]);
}

#[test]
fn a_message_is_listed_once_in_the_order_first_rendered() {
    // Every raw variable renders its container's name: the first two combinations give
    // the same message, and the last repeats the first after another one came between.
    let m = matcher(&policy(
        "raw env",
        "deploy",
        "env.source == raw",
        "message \"{container.name}\"",
    ));
    let env = r#"{"name":"X","value":"1","source":"raw"}"#;
    let records = format!(
        r#"[{{"kind":"deployment","id":"d","name":"d","containers":[
          {{"name":"a","env":[{env},{env}]}},
          {{"name":"b","env":[{env}]}},
          {{"name":"c","env":[]}},
          {{"name":"a","env":[{env}]}}]}}]"#
    );
    let got = run(&m, &records);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].2, ["a", "b"]);
}

#[test]
fn messages_found_once_per_image_equal_a_walk_per_container_up_to_the_budget() {
    // Deployments share one image: what `any` over the image yields is found once and
    // replayed for every container. Replays must give the messages, in order, that walking
    // each container's image gives, also where the message budget (1,000) cuts them short:
    // in the image's part, or in the part after it (each environment variable).
    let m = matcher(
        &[
            policy("cvss", "deploy", "vuln.cvss >= 5", ""),
            policy(
                "cvss then env",
                "deploy",
                "vuln.cvss >= 5 and env.source == raw",
                "",
            ),
            policy(
                "fixable or old",
                "deploy",
                "vuln.fixable or component.version == \"0\"",
                "",
            ),
            // Parts that spend the budget between messages, or after the last one.
            policy(
                "cvss and layer",
                "deploy",
                "vuln.cvss >= 5 and layer.instruction == \"RUN\"",
                "",
            ),
            policy(
                "layer and cvss",
                "deploy",
                "layer.instruction == \"RUN\" and vuln.cvss >= 5",
                "",
            ),
            // The last components walked spend the budget and yield nothing (whichever part
            // of the `and` comes first).
            policy(
                "cvss and version",
                "deploy",
                "vuln.cvss >= 5 and component.version == \"1\"",
                "",
            ),
        ]
        .concat(),
    );
    let mut budget_reached = false;
    for vulns in [0, 1, 7, 333, 499, 500, 501, 999, 1000, 1001, 1500] {
        for (envs, layers) in [(0, 0), (1, 2), (2, 0), (2, 3)] {
            let vuln = |i: usize| {
                let cvss = if i.is_multiple_of(3) { 4.0 } else { 9.0 };
                let fixed = if i.is_multiple_of(2) { "1.1" } else { "" };
                format!(
                    r#"{{"id":"CVE-{i}","cvss":{cvss},"fixed_by":"{fixed}","severity":"high"}}"#
                )
            };
            let listed =
                |range: std::ops::Range<usize>| range.map(vuln).collect::<Vec<_>>().join(",");
            let layers = ["RUN", "COPY", "RUN"][..layers]
                .iter()
                .map(|i| format!(r#"{{"instruction":"{i}","value":"x"}}"#))
                .collect::<Vec<_>>()
                .join(",");
            let image = format!(
                r#"{{"kind":"image","id":"sha256:shared","name":{{"full_name":"r/app:1"}},"layers":[{layers}],"scan":{{"components":[
                  {{"name":"a","version":"0","vulns":[]}},
                  {{"name":"b","version":"1","vulns":[{}]}},
                  {{"name":"c","version":"0"}},
                  {{"name":"d","version":"2","vulns":[{}]}},
                  {{"name":"e","version":"1","vulns":[{{"id":"CVE-low","cvss":1.0}}]}}]}}}}"#,
                listed(0..vulns / 2),
                listed(vulns / 2..vulns)
            );
            let env = vec![r#"{"name":"X","value":"1","source":"raw"}"#; envs].join(",");
            let container = |name: &str| {
                format!(r#"{{"name":"{name}","image":{{"id":"sha256:shared"}},"env":[{env}]}}"#)
            };
            let deployment = |id: &str, names: &[&str]| {
                let containers: Vec<String> = names.iter().map(|n| container(n)).collect();
                format!(
                    r#"{{"kind":"deployment","id":"{id}","name":"{id}","containers":[{}]}}"#,
                    containers.join(",")
                )
            };
            let records = format!(
                "[{image},{},{},{}]",
                deployment("one", &["c0"]),
                deployment("three", &["c0", "c1", "c2"]),
                deployment("two", &["c0", "c1"])
            );
            let replayed = run_over(&m, &records, true);
            let walked = run_over(&m, &records, false);
            assert_eq!(
                replayed, walked,
                "{vulns} vulnerabilities, {envs} variables, {layers}"
            );
            budget_reached |= replayed
                .iter()
                .any(|(_, _, messages)| messages.len() == 1000);
        }
    }
    assert!(budget_reached, "some case reaches the message budget");
}

#[test]
fn an_image_with_a_huge_map_is_walked_per_container_and_answers_the_same() {
    // Map entries are not kept per image (finding an entry's place walks the map): 20,000
    // labels, most matching, under several containers stay bounded by the message budget.
    let m = matcher(&policy(
        "labels",
        "deploy",
        "image.labels contains \"x\" or any l in image.labels: l.key ~ /k.*/",
        "",
    ));
    let labels: Vec<String> = (0..20_000).map(|i| format!(r#""k{i}":"v""#)).collect();
    let records = format!(
        r#"[{{"kind":"image","id":"sha256:big","labels":{{{}}}}},
          {{"kind":"deployment","id":"d","name":"d","containers":[
            {{"name":"a","image":{{"id":"sha256:big"}}}},{{"name":"b","image":{{"id":"sha256:big"}}}}]}}]"#,
        labels.join(",")
    );
    let kept = run_over(&m, &records, true);
    assert_eq!(kept, run_over(&m, &records, false));
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].2.len(), 1000);
}

#[test]
fn process_joins_its_container_and_locked_baselines() {
    let m = matcher(
        &(policy("outside", "runtime", "process.outside_baseline", "")
            + &policy(
                "root shell",
                "runtime",
                "process.name == \"sh\" and container.privileged",
                "",
            )),
    );
    let records = r#"
{"kind":"deployment","id":"d1","name":"web","containers":[{"name":"api","security_context":{"privileged":true}},{"name":"side","security_context":{"privileged":false}}]}
{"kind":"baseline","deployment_id":"d1","container":"api","processes":["/app/server"],"locked":true}
{"kind":"baseline","deployment_id":"d1","container":"side","processes":[],"locked":false}
{"kind":"process","id":"p1","deployment_id":"d1","container":"api","name":"sh","exec_path":"/bin/sh"}
{"kind":"process","id":"p2","deployment_id":"d1","container":"api","name":"server","exec_path":"/app/server"}
{"kind":"process","id":"p3","deployment_id":"d1","container":"side","name":"sh","exec_path":"/bin/sh"}
{"kind":"process","id":"p4","deployment_id":"unknown","container":"api","name":"sh","exec_path":"/bin/sh"}
"#;
    let mut got: Vec<(String, String)> = run(&m, records)
        .into_iter()
        .map(|(id, p, _)| (id, p))
        .collect();
    got.sort();
    let want = [("p1", "outside"), ("p1", "root shell")];
    assert_eq!(got, want.map(|(a, b)| (a.to_string(), b.to_string())));
}

#[test]
fn baselines_are_found_by_workload_across_replicas_and_restarts() {
    let m = matcher(&policy(
        "outside",
        "runtime",
        "process.outside_baseline",
        "",
    ));
    let records = r#"
{"kind":"baseline","cluster":"c1","namespace":"shop","workload":"api","container":"main","processes":["/app/server"],"locked":true}
{"kind":"baseline","namespace":"shop","workload":"db","container":"pg","processes":["/postgres"],"locked":true,"startup_seconds":60}
{"kind":"process","id":"replica","cluster":"c1","namespace":"shop","pod":"api-7d4b9c5f6-x2x9z","container":"main","exec_path":"/bin/sh"}
{"kind":"process","id":"restart","cluster":"c1","namespace":"shop","pod":"api-5c8d7f9b4-q7w2k","container":"main","exec_path":"/bin/sh"}
{"kind":"process","id":"named","cluster":"c1","namespace":"shop","deployment":"api","pod":"whatever","container":"main","exec_path":"/bin/sh"}
{"kind":"process","id":"allowed","cluster":"c1","namespace":"shop","pod":"api-7d4b9c5f6-x2x9z","container":"main","exec_path":"/app/server"}
{"kind":"process","id":"other-cluster","cluster":"c2","namespace":"shop","pod":"api-7d4b9c5f6-x2x9z","container":"main","exec_path":"/bin/sh"}
{"kind":"process","id":"other-container","cluster":"c1","namespace":"shop","pod":"api-7d4b9c5f6-x2x9z","container":"side","exec_path":"/bin/sh"}
{"kind":"process","id":"statefulset","namespace":"shop","pod":"db-0","container":"pg","exec_path":"/bin/sh","time":"2026-01-01T00:10:00Z","container_start":"2026-01-01T00:00:00Z"}
{"kind":"process","id":"startup","namespace":"shop","pod":"db-1","container":"pg","exec_path":"/bin/sh","time":"2026-01-01T00:00:59Z","container_start":"2026-01-01T00:00:00Z"}
{"kind":"process","id":"no-path","namespace":"shop","pod":"db-1","container":"pg","time":"2026-01-01T00:10:00Z"}
"#;
    let mut got: Vec<String> = run(&m, records).into_iter().map(|(id, _, _)| id).collect();
    got.sort();
    assert_eq!(
        got,
        ["named", "no-path", "replica", "restart", "statefulset"]
    );
}

#[test]
fn unusable_or_duplicate_baselines_are_errors() {
    for (records, expected) in [
        (
            r#"{"kind":"baseline","container":"main","locked":true}"#,
            "a baseline needs a `workload` or a `deployment_id`",
        ),
        (
            r#"{"kind":"baseline","workload":"api","container":"main","processes":[""],"locked":true}"#,
            "`processes` holds an empty path",
        ),
        (
            "{\"kind\":\"baseline\",\"workload\":\"api\",\"container\":\"main\"}\n{\"kind\":\"baseline\",\"workload\":\"api\",\"container\":\"main\",\"locked\":true}",
            "two baselines for `/api/main`",
        ),
    ] {
        let mut dataset = palisade_engine::Dataset::default();
        let error = palisade_engine::input::read_all(records.as_bytes())
            .unwrap()
            .into_iter()
            .try_for_each(|r| dataset.add(r).map(|_| ()))
            .unwrap_err();
        assert!(error.to_string().contains(expected), "{error}");
    }
}

#[test]
fn pod_names_give_their_workload() {
    use palisade_engine::record::workload_of_pod;
    for (pod, workload) in [
        ("payments-api-7d4b9c5f6-x2x9z", "payments-api"),
        ("payments-api-5c8d7f9b4-q7w2k", "payments-api"),
        // A suffix of digits only (found by the baseline bench: one pod in 2,000).
        ("app100-7d4b9c5f6-24562", "app100"),
        ("web-24567", "web"),
        ("node-exporter-x2x9z", "node-exporter"),
        ("orders-db-0", "orders-db"),
        ("orders-db-12", "orders-db"),
        ("xwing", "xwing"),
        ("my-pod", "my-pod"),
        // `aeiou` has vowels: not a generated suffix.
        ("web-aeiou", "web-aeiou"),
        ("-x2x9z", "-x2x9z"),
        ("", ""),
    ] {
        assert_eq!(workload_of_pod(pod), workload, "{pod}");
    }
}

#[test]
fn scopes_and_exclusions() {
    let m = matcher(
        &(policy(
            "scoped",
            "deploy",
            "container.privileged",
            "scope namespace /prod-.*/\n scope label \"env\" = \"test\"",
        ) + &policy(
            "excluded",
            "deploy",
            "container.privileged",
            "exclude deployment /kube-.*/ in namespace \"kube-system\" because \"system\"\n exclude deployment \"old\" because \"expired\" until 2020-01-01",
        )),
    );
    let records = r#"[
      {"kind":"deployment","id":"prod","name":"a","namespace":"prod-eu","containers":[{"name":"c","security_context":{"privileged":true}}]},
      {"kind":"deployment","id":"dev","name":"b","namespace":"dev","containers":[{"name":"c","security_context":{"privileged":true}}]},
      {"kind":"deployment","id":"labelled","name":"c","namespace":"dev","labels":{"env":"test"},"containers":[{"name":"c","security_context":{"privileged":true}}]},
      {"kind":"deployment","id":"kube","name":"kube-proxy","namespace":"kube-system","containers":[{"name":"c","security_context":{"privileged":true}}]},
      {"kind":"deployment","id":"old","name":"old","namespace":"dev","containers":[{"name":"c","security_context":{"privileged":true}}]}
    ]"#;
    let mut got: Vec<(String, String)> = run(&m, records)
        .into_iter()
        .map(|(id, p, _)| (id, p))
        .collect();
    got.sort();
    let want = [
        ("dev", "excluded"),
        ("labelled", "excluded"),
        ("labelled", "scoped"),
        ("old", "excluded"),
        ("prod", "excluded"),
        ("prod", "scoped"),
    ];
    assert_eq!(got, want.map(|(a, b)| (a.to_string(), b.to_string())));
}

#[test]
fn excepted_names_the_exclusion_that_suppressed_a_violation() {
    let m = matcher(
        &(policy(
            "excluded",
            "deploy",
            "container.privileged",
            "scope namespace /prod|kube-system/\n exclude deployment /kube-.*/ in namespace \"kube-system\" because \"system\"\n exclude deployment \"old\" because \"expired\" until 2020-01-01\n exclude deployment \"later\" because \"migrating\" until 2027-03-31",
        ) + &policy("plain", "deploy", "container.privileged", "")),
    );
    let records = r#"[
      {"kind":"deployment","id":"kube","name":"kube-proxy","namespace":"kube-system","containers":[{"name":"c","security_context":{"privileged":true}}]},
      {"kind":"deployment","id":"old","name":"old","namespace":"prod","containers":[{"name":"c","security_context":{"privileged":true}}]},
      {"kind":"deployment","id":"later","name":"later","namespace":"prod","containers":[{"name":"c","security_context":{"privileged":true}}]},
      {"kind":"deployment","id":"calm","name":"later","namespace":"prod","containers":[{"name":"c"}]},
      {"kind":"deployment","id":"elsewhere","name":"kube-x","namespace":"dev","containers":[{"name":"c","security_context":{"privileged":true}}]}
    ]"#;
    let mut ds = Dataset::default();
    for r in read_all(records.as_bytes()).unwrap() {
        ds.add(r).unwrap();
    }
    ds.finish();
    let opts = EvalOptions {
        now: NOW,
        include_disabled: false,
        stage: None,
    };
    let mut got = Vec::new();
    for root in ds.roots(&[]) {
        let (fired, _) = m.check(&ds, root, &opts, false).unwrap();
        for e in m.excepted(&ds, root, &opts).unwrap() {
            // What an exclusion suppressed never also fires.
            assert!(!fired.iter().any(|v| v.policy == e.violation.policy));
            got.push((
                e.violation.record.id,
                e.violation.policy,
                e.reason,
                e.expires,
            ));
        }
    }
    // kube: excluded ("system"); old: the exclusion expired, so it fires instead; later:
    // excluded until 2027-03-31; calm: not privileged; elsewhere: out of scope, not excepted.
    assert_eq!(
        got,
        [
            ("kube".into(), "excluded".into(), "system".into(), None),
            (
                "later".into(),
                "excluded".into(),
                "migrating".into(),
                // `until 2027-03-31` lasts through that day.
                Some(1_806_537_600)
            ),
        ]
    );
}

#[test]
fn every_no_count_and_days_since() {
    let m = matcher(
        &(policy(
            "all limited",
            "deploy",
            "every container: container.memory_limit > 0",
            "",
        ) + &policy(
            "two privileged",
            "deploy",
            "count(container where container.privileged) >= 2",
            "",
        ) + &policy("old image", "build", "days_since(image.created) > 90", "")
            + &policy(
                "no socket",
                "deploy",
                "no volume: volume.source == \"/var/run/docker.sock\"",
                "",
            )),
    );
    let records = r#"[
      {"kind":"deployment","id":"d","name":"a","containers":[
        {"name":"a","resources":{"memory_limit_mb":64},"security_context":{"privileged":true},"volumes":[]},
        {"name":"b","resources":{"memory_limit_mb":128},"security_context":{"privileged":true},"volumes":[{"source":"/var/run/docker.sock"}]}]},
      {"kind":"deployment","id":"e","name":"b","containers":[{"name":"a","resources":{"memory_limit_mb":0},"volumes":[{"source":"/data"}]}]},
      {"kind":"image","id":"old","created":"2026-01-01T00:00:00Z"},
      {"kind":"image","id":"new","created":"2026-11-01T00:00:00Z"}
    ]"#;
    let mut got: Vec<(String, String)> = run(&m, records)
        .into_iter()
        .map(|(id, p, _)| (id, p))
        .collect();
    got.sort();
    let want = [
        ("d", "all limited"),
        ("d", "two privileged"),
        ("e", "no socket"),
        ("old", "old image"),
    ];
    assert_eq!(got, want.map(|(a, b)| (a.to_string(), b.to_string())));
}

#[test]
fn verification_rejects_broken_programs() {
    let m = matcher(&policy(
        "p",
        "deploy",
        "container.privileged and volume.read_only",
        "",
    ));
    let good = m.program().clone();
    assert!(good.verify().is_ok());

    let mut wrong_version = good.clone();
    wrong_version.version = 99;
    assert!(wrong_version.verify().is_err());

    // A child after its parent could loop.
    let mut cycle = good.clone();
    let last = cycle.nodes.len() as u32 - 1;
    cycle.nodes[0] = Node::Not(last);
    assert!(cycle.verify().is_err());

    // A node with two parents: rules must be trees.
    let mut shared = good.clone();
    if let Some(Node::And { first, len: 2 }) = shared
        .nodes
        .iter()
        .copied()
        .find(|n| matches!(n, Node::And { .. }))
    {
        shared.kids[first as usize + 1] = shared.kids[first as usize];
    }
    assert_ne!(shared, good, "the fixture has an `and` of two conditions");
    assert!(
        shared
            .verify()
            .is_err_and(|e| e.to_string().contains("more than one parent"))
    );

    // A test reading a slot that no quantifier bound.
    let mut unbound = good.clone();
    if let Some(t) = unbound.tests.first_mut() {
        t.operand = OperandIr::Field(5, palisade_lang::schema::FieldId::ContainerName);
    }
    assert!(unbound.verify().is_err());

    // A field read from the wrong subject.
    let mut wrong_field = good.clone();
    if let Some(t) = wrong_field.tests.first_mut()
        && let OperandIr::Field(slot, _) = t.operand
    {
        t.operand = OperandIr::Field(slot, palisade_lang::schema::FieldId::VulnCvss);
    }
    assert!(wrong_field.verify().is_err());

    // Nesting: a chain of `not` up to the limit loads; one deeper is refused before
    // anything recurses over it (a million levels would overflow the stack).
    let nested = |levels: usize| {
        let mut p = good.clone();
        let entry = p.rules[0].entry;
        let mut top = entry;
        for _ in 0..levels {
            p.nodes.push(Node::Not(top));
            top = p.nodes.len() as u32 - 1;
        }
        p.rules[0].entry = top;
        p
    };
    let depth = |p: &palisade_engine::ir::Program| {
        let mut d = vec![0usize; p.nodes.len()];
        for (i, n) in p.nodes.iter().enumerate() {
            d[i] = match *n {
                Node::Not(x) | Node::Any { body: x, .. } | Node::Every { body: x, .. } => {
                    d[x as usize] + 1
                }
                Node::And { first, len } | Node::Or { first, len } => {
                    1 + p.kids[first as usize..(first + len) as usize]
                        .iter()
                        .map(|k| d[*k as usize])
                        .max()
                        .unwrap_or(0)
                }
                Node::Test(_) => 0,
            };
        }
        d.into_iter().max().unwrap_or(0)
    };
    let base = depth(&good);
    let limit = palisade_engine::ir::MAX_IR_DEPTH;
    assert!(Matcher::new(nested(limit - base)).is_ok());
    let too_deep = nested(limit - base + 1);
    assert!(
        too_deep
            .verify()
            .is_err_and(|e| e.to_string().contains("nested more than"))
    );
    assert!(nested(1_000_000).verify().is_err());
    // The whole library nests far less deeply.
    let mut sources = Sources::default();
    for (name, text) in palisade_library::FILES {
        sources.add(SourceFile::new(*name, *text));
    }
    let (_, checked) = palisade_lang::parse_and_check_policies(&sources);
    let library = palisade_engine::compile(&checked.expect("library checks")).expect("compiles");
    assert!(
        depth(&library) < limit / 8,
        "library depth {}",
        depth(&library)
    );
    // The library's regexes together cost a small part of the budget (docs/language.md).
    let cost: u64 = library
        .regexes
        .iter()
        .flat_map(|r| {
            r.patterns
                .iter()
                .map(|p| palisade_lang::hir::regex_cost(p, r.search))
        })
        .sum();
    assert!(
        cost < palisade_lang::hir::MAX_TOTAL_REGEX_COST / 100,
        "library regex cost {cost}"
    );

    let mut bad_regex = good;
    bad_regex.regexes.push(palisade_engine::ir::RegexSpec {
        patterns: vec!["(".into()],
        search: false,
    });
    assert!(Matcher::new(bad_regex).is_err());
}

#[test]
fn cluster_and_namespace_label_scopes() {
    let m = matcher(&policy(
        "labelled",
        "deploy",
        "container.privileged",
        "scope cluster_label \"env\" = /prod.*/ namespace_label /team/ = \"pay\"",
    ));
    let records = r#"[
      {"kind":"deployment","id":"in","name":"a","cluster_labels":{"env":"production"},"namespace_labels":{"team":"pay"},"containers":[{"name":"c","security_context":{"privileged":true}}]},
      {"kind":"deployment","id":"wrong-ns","name":"b","cluster_labels":{"env":"production"},"namespace_labels":{"team":"web"},"containers":[{"name":"c","security_context":{"privileged":true}}]},
      {"kind":"deployment","id":"no-labels","name":"c","containers":[{"name":"c","security_context":{"privileged":true}}]}
    ]"#;
    let got: Vec<String> = run(&m, records).into_iter().map(|(id, ..)| id).collect();
    assert_eq!(got, ["in"]);
}

#[test]
fn verified_signature_results_count_as_verified_by() {
    let m = matcher(&policy(
        "unsigned",
        "build",
        "image.verified_by !~ /cosign-prod.*/",
        "",
    ));
    let records = r#"[
      {"kind":"image","id":"by-list","name":{"full_name":"r/a:1"},"signature":{"verified_by":["cosign-prod-key"]}},
      {"kind":"image","id":"by-result","name":{"full_name":"r/a:1"},"signature":{"results":[{"verifier":"cosign-prod-key","status":"verified","verified_references":["r/a:1"]}]}},
      {"kind":"image","id":"other-ref","name":{"full_name":"r/a:1"},"signature":{"results":[{"verifier":"cosign-prod-key","status":"verified","verified_references":["r/b:2"]}]}},
      {"kind":"image","id":"failed","name":{"full_name":"r/a:1"},"signature":{"results":[{"verifier":"cosign-prod-key","status":"failed"}]}},
      {"kind":"image","id":"none","name":{"full_name":"r/a:1"}}
    ]"#;
    let mut got: Vec<String> = run(&m, records).into_iter().map(|(id, ..)| id).collect();
    got.sort();
    assert_eq!(got, ["failed", "none", "other-ref"]);
}

#[test]
fn the_step_budget_turns_runaway_evaluation_into_an_error() {
    // Three nested quantifiers over the same 500 containers: 125 million steps.
    let m = matcher(&policy(
        "cubic",
        "deploy",
        "every container as a: every container as b: every container as c: has(a.name)",
        "",
    ));
    let containers: Vec<String> = (0..500).map(|i| format!("{{\"name\":\"c{i}\"}}")).collect();
    let records = format!(
        "[{{\"kind\":\"deployment\",\"id\":\"big\",\"name\":\"big\",\"containers\":[{}]}}]",
        containers.join(",")
    );
    let mut ds = Dataset::default();
    for r in read_all(records.as_bytes()).expect("records") {
        ds.add(r).expect("dataset");
    }
    ds.finish();
    let opts = EvalOptions {
        now: NOW,
        include_disabled: false,
        stage: None,
    };
    let root = palisade_engine::value::Obj::Deployment(&ds.deployments[0]);
    let err = m
        .check(&ds, root, &opts, false)
        .expect_err("budget exhausted");
    assert!(err.to_string().contains("too large"), "{err}");
    // The next record on this thread starts with a whole budget, also when its rules are
    // decided by their guards without running a quantifier (a shell fires, a server does
    // not; explanations run conditions too). Each exhaustion takes a while in a debug
    // build, hence two cases.
    let guarded = matcher(&policy("shell", "runtime", "process.name in [\"sh\"]", ""));
    for (name, fired, explain) in [("sh", 1, true), ("server", 0, false)] {
        let events =
            read_all(format!(r#"[{{"kind":"process","id":"p","name":"{name}"}}]"#).as_bytes())
                .expect("records");
        let Some(palisade_engine::record::Record::Process(p)) = events.into_iter().next() else {
            panic!("not a process");
        };
        let _ = m.check(&ds, root, &opts, false);
        let (violations, _) = guarded
            .check(
                &ds,
                palisade_engine::value::Obj::Process(&p),
                &opts,
                explain,
            )
            .unwrap_or_else(|e| panic!("{name}, explain {explain}: {e}"));
        assert_eq!(violations.len(), fired, "{name}");
    }
    // A small record under the same policy is fine.
    let small = matcher(&policy(
        "cubic",
        "deploy",
        "every container as a: every container as b: has(a.name)",
        "",
    ));
    let got = run(
        &small,
        r#"[{"kind":"deployment","id":"s","name":"s","containers":[{"name":"x"},{"name":"y"}]}]"#,
    );
    assert_eq!(got.len(), 1);
}
