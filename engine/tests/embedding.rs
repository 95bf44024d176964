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
