use super::*;

fn meta(name: &str, severity: Severity, categories: &[&str], stages: &[Stage]) -> PolicyMeta {
    PolicyMeta {
        name: name.into(),
        description: String::new(),
        rationale: String::new(),
        remediation: String::new(),
        severity,
        categories: categories.iter().map(|c| c.to_string()).collect(),
        stages: stages.to_vec(),
        event_source: None,
        enforcement: Vec::new(),
        mitre: Vec::new(),
        soc2: vec!["CC6.1".into()],
        disabled: false,
        scopes: Vec::new(),
        exclusions: Vec::new(),
    }
}

fn set() -> Vec<PolicyMeta> {
    let mut latest = meta(
        "Latest tag",
        Severity::Low,
        &["DevOps Best Practices"],
        &[Stage::Build, Stage::Deploy],
    );
    latest.disabled = true;
    vec![
        meta(
            "Privileged Container",
            Severity::Medium,
            &["Privileges", "Docker CIS"],
            &[Stage::Deploy],
        ),
        latest,
        meta(
            "Shell Spawned",
            Severity::Critical,
            &["Runtime"],
            &[Stage::Runtime],
        ),
    ]
}

fn applied(text: &str) -> Result<Vec<PolicyMeta>, String> {
    let mut policies = set();
    parse("palisade.toml", text)
        .and_then(|c| c.apply("palisade.toml", &mut policies))
        .map_err(|e| e.0)?;
    Ok(policies)
}

#[test]
fn enforce_true_turns_on_the_standard_action_of_each_stage() {
    let p = applied("[policy.\"Privileged Container\"]\nenforce = true\n[policy.\"Latest tag\"]\nenabled = true\nenforce = true\n").unwrap();
    assert_eq!(p[0].enforcement, ["scale_to_zero"]);
    assert!(!p[1].disabled);
    assert_eq!(p[1].enforcement, ["fail_build", "scale_to_zero"]);
    assert!(p[2].enforcement.is_empty());
}

#[test]
fn sections_apply_from_severity_to_category_to_policy() {
    let text = r#"
[severity.critical]
enforce = true
[category."Docker CIS"]
enforce = true
severity = "high"
[category."Privileges"]
enabled = false
[policy."Privileged Container"]
enabled = true
"#;
    let p = applied(text).unwrap();
    assert_eq!(p[2].enforcement, ["kill_pod"]);
    // Docker CIS then Privileges (name order), then the policy's own section.
    assert_eq!(p[0].enforcement, ["scale_to_zero"]);
    assert_eq!(p[0].severity, Severity::High);
    assert!(!p[0].disabled);
    // Selection by severity uses the policy's own severity, not one set by a category.
    let p = applied(
        "[category.\"Docker CIS\"]\nseverity = \"critical\"\n[severity.critical]\nenforce = true\n",
    )
    .unwrap();
    assert!(p[0].enforcement.is_empty());
}

#[test]
fn explicit_actions_and_switching_enforcement_off() {
    let p = applied("[policy.\"Latest tag\"]\nenforce = [\"fail_build\"]\n").unwrap();
    assert_eq!(p[1].enforcement, ["fail_build"]);
    let mut policies = set();
    policies[0].enforcement = vec!["scale_to_zero".into()];
    parse("c", "[policy.\"Privileged Container\"]\nenforce = false\n")
        .unwrap()
        .apply("c", &mut policies)
        .unwrap();
    assert!(policies[0].enforcement.is_empty());
}

#[test]
fn exclusions_carry_reason_expiry_and_reach() {
    let text = r#"
[[exclude]]
policies = ["Privileged Container"]
namespace = "/legacy-.*/"
deployment = "web"
reason = "being replaced"
expires = "2027-03-31"

[[exclude]]
image = "registry.example.com/vendor/"
reason = "vendor images are scanned upstream"
"#;
    let p = applied(text).unwrap();
    assert_eq!(p[0].exclusions.len(), 2);
    assert_eq!(p[1].exclusions.len(), 1);
    let first = &p[0].exclusions[0];
    assert_eq!(first.reason, "being replaced");
    // Through the last day: the end of 2027-03-31 UTC.
    assert_eq!(
        first.until,
        Some(parse_time("2027-04-01T00:00:00Z").unwrap())
    );
    match &first.target {
        ExclusionTarget::Deployment { name, scope } => {
            assert_eq!(name, &Some(NamePattern::Exact("web".into())));
            assert_eq!(
                scope.namespace,
                Some(NamePattern::Regex("legacy-.*".into()))
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        p[1].exclusions[0].target,
        ExclusionTarget::ImagePrefix("registry.example.com/vendor/".into())
    );
}

#[test]
fn mistakes_are_errors_that_say_where_and_what() {
    let cases = [
        (
            "[policy.\"Privileged Containers\"]\nenforce = true\n",
            "no such policy (did you mean `Privileged Container`?)",
        ),
        (
            "[category.\"Docker\"]\nenabled = true\n",
            "no policy has this category",
        ),
        (
            "[policy.\"Latest tag\"]\nenforce = [\"kill_pod\"]\n",
            "`kill_pod` acts at runtime but `Latest tag` evaluates at build, deploy",
        ),
        (
            "[policy.\"Latest tag\"]\nenforce = [\"stop\"]\n",
            "unknown enforcement action `stop`",
        ),
        (
            "[policy.\"Latest tag\"]\nenforced = true\n",
            "palisade.toml:2:1: unknown field `enforced`",
        ),
        (
            "[severity.severe]\nenforce = true\n",
            "palisade.toml:1:11: unknown variant `severe`",
        ),
        (
            "[policy.\"Latest tag\"]\nenforce = \"yes\"\n",
            "palisade.toml:2:11",
        ),
        (
            "[[exclude]]\nnamespace = \"x\"\nreason = \"\"\n",
            "[[exclude]] #1: an exclusion needs a reason",
        ),
        ("[[exclude]]\nreason = \"r\"\n", "name what it excludes"),
        (
            "[[exclude]]\nimage = \"x\"\nnamespace = \"y\"\nreason = \"r\"\n",
            "give it alone",
        ),
        (
            "[[exclude]]\nnamespace = \"/(/\"\nreason = \"r\"\n",
            "namespace /(/",
        ),
        (
            "[[exclude]]\nnamespace = \"x\"\nreason = \"r\"\nexpires = \"soon\"\n",
            "expires `soon` is not a date",
        ),
        (
            "[[exclude]]\npolicies = [\"Latest\"]\nnamespace = \"x\"\nreason = \"r\"\n",
            "no such policy `Latest` (did you mean `Latest tag`?)",
        ),
        ("[policy.\"Latest tag\"\n", "palisade.toml:1:"),
    ];
    for (text, expected) in cases {
        let e = applied(text).unwrap_err();
        assert!(e.contains(expected), "{text:?}: {e}");
        assert!(e.starts_with("palisade.toml"), "{e}");
    }
    assert!(parse("c", &"#".repeat(MAX_CONFIG_BYTES + 1)).is_err());
}

#[test]
fn an_empty_file_changes_nothing() {
    let c = parse("c", "# nothing yet\n").unwrap();
    assert!(c.is_empty());
    assert_eq!(applied("").unwrap(), set());
}
