#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly"
)]
//! Every built-in policy has a message template, and on the records of its own firing test
//! cases each message says what matched (an object and its value), never merely the
//! policy's name, never a placeholder for a value that is not there (issue 15, part 5).

use palisade_engine::input::read_all;
use palisade_engine::{Dataset, EvalOptions, Matcher};
use palisade_lang::{SourceFile, Sources};

#[test]
fn every_library_message_names_what_matched() {
    let mut sources = Sources::default();
    for (name, text) in palisade_library::FILES {
        sources.add(SourceFile::new(format!("builtin/{name}"), *text));
    }
    let (_, checked) = palisade_lang::parse_and_check(&sources);
    let set = checked.unwrap_or_else(|d| panic!("{d:?}"));
    let matcher = Matcher::new(palisade_engine::compile(&set).unwrap()).unwrap();
    let program = matcher.program();
    // A template, and one that interpolates at least one value of what matched.
    let without: Vec<&str> = program
        .rules
        .iter()
        .filter(|r| {
            !r.message.as_ref().is_some_and(|parts| {
                parts
                    .iter()
                    .any(|p| matches!(p, palisade_engine::ir::MsgPart::Field(..)))
            })
        })
        .map(|r| program.policies[r.policy as usize].name.as_str())
        .collect();
    assert!(
        without.is_empty(),
        "policies without a message: {without:?}"
    );

    let mut checked_messages = 0;
    let mut policies_seen = std::collections::BTreeSet::new();
    for test in set.tests.iter().filter(|t| t.expect_fire) {
        let text = serde_json::to_string(&test.records).unwrap();
        let mut dataset = Dataset::default();
        let mut events = Vec::new();
        for record in read_all(text.as_bytes()).unwrap() {
            if let Some(event) = dataset.add(record).unwrap() {
                events.push(event);
            }
        }
        dataset.finish();
        let options = EvalOptions {
            now: test.now.unwrap_or(1_800_000_000),
            include_disabled: true,
            stage: None,
        };
        for root in dataset.roots(&events) {
            let (violations, _) = matcher.check(&dataset, root, &options, false).unwrap();
            for v in violations.iter().filter(|v| v.policy == test.policy) {
                policies_seen.insert(v.policy.clone());
                assert!(!v.messages.is_empty(), "{}: no message", v.policy);
                for m in &v.messages {
                    // The default message is "<policy name>: container 'x'".
                    assert!(
                        !m.starts_with(&v.policy) && !m.contains(&format!("{}:", v.policy)),
                        "{}: the message repeats the policy's name: {m}",
                        v.policy
                    );
                    assert!(
                        !m.contains("<missing>") && !m.contains(" - ") && !m.contains("'-'"),
                        "{} (test {:?}): a value the message names is not there: {m}",
                        v.policy,
                        test.title
                    );
                    checked_messages += 1;
                }
            }
        }
    }
    // Every policy with a firing test case had its message rendered.
    let with_fire_tests: std::collections::BTreeSet<String> = set
        .tests
        .iter()
        .filter(|t| t.expect_fire)
        .map(|t| t.policy.clone())
        .collect();
    assert_eq!(policies_seen, with_fire_tests);
    assert!(
        with_fire_tests.len() >= 80,
        "only {} of the library's policies have a firing test",
        with_fire_tests.len()
    );
    eprintln!(
        "{checked_messages} messages of {} policies checked",
        policies_seen.len()
    );
}
