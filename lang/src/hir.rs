//! The checked policy set: names resolved, types checked, every quantifier explicit.
//! Produced by [`crate::check`]; compiled by the engine and walked by its reference evaluator.

use crate::ast::{CmpOp, Quant};
use crate::schema::{EnumKind, FieldId, Link, Root, Stage, Subject};
use crate::span::Span;
use serde::{Deserialize, Serialize};

/// Index of a binding in [`Rule::bindings`]; 0 is always the record itself.
pub type BindingId = usize;

/// Every policy and test of a run, checked.
#[derive(Clone, Debug, Default)]
pub struct CheckedSet {
    /// Policies in load order.
    pub policies: Vec<CheckedPolicy>,
    /// Test cases written next to the policies.
    pub tests: Vec<CheckedTest>,
}

/// Policy severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// low
    Low,
    /// medium
    Medium,
    /// high
    High,
    /// critical
    Critical,
}

impl Severity {
    /// All severities, lowest first.
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];
    /// The word.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
    /// Parses the word.
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// Enforcement actions and the stage each belongs to.
pub const ENFORCEMENT_ACTIONS: &[(&str, Stage)] = &[
    ("fail_build", Stage::Build),
    ("scale_to_zero", Stage::Deploy),
    ("unsatisfiable_node_constraint", Stage::Deploy),
    ("fail_deployment_create", Stage::Deploy),
    ("fail_deployment_update", Stage::Deploy),
    ("kill_pod", Stage::Runtime),
    ("fail_kube_request", Stage::Runtime),
];

/// A MITRE ATT&CK tactic and techniques.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mitre {
    /// Tactic id (TA0004).
    pub tactic: String,
    /// Technique ids (T1611).
    pub techniques: Vec<String>,
}

/// A name pattern in scopes and exclusions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NamePattern {
    /// Exactly this text.
    Exact(String),
    /// Whole-string, case-insensitive regex.
    Regex(String),
}

/// Where a deployment runs: all set parts must match.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Scope {
    /// Cluster name or id.
    pub cluster: Option<NamePattern>,
    /// Namespace.
    pub namespace: Option<NamePattern>,
    /// A label (key, value) of the deployment.
    pub label: Option<(NamePattern, NamePattern)>,
    /// A label of the deployment's cluster.
    #[serde(default)]
    pub cluster_label: Option<(NamePattern, NamePattern)>,
    /// A label of the deployment's namespace.
    #[serde(default)]
    pub namespace_label: Option<(NamePattern, NamePattern)>,
}

/// What an exclusion takes out of a policy's reach.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExclusionTarget {
    /// Images whose full name starts with this prefix.
    ImagePrefix(String),
    /// Deployments matching the name pattern (if any) within the scope.
    Deployment {
        /// Deployment name.
        name: Option<NamePattern>,
        /// Where it runs.
        scope: Box<Scope>,
    },
}

/// An exclusion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exclusion {
    /// What it excludes.
    pub target: ExclusionTarget,
    /// Why.
    pub reason: String,
    /// Unix seconds after which it no longer applies.
    pub until: Option<i64>,
}

/// What a policy says about itself: everything but its condition. The engine carries it
/// unchanged into the compiled program and every report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicyMeta {
    /// Unique name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Rationale.
    pub rationale: String,
    /// Remediation.
    pub remediation: String,
    /// Severity.
    pub severity: Severity,
    /// Categories.
    pub categories: Vec<String>,
    /// Lifecycle stages.
    pub stages: Vec<Stage>,
    /// Event source for runtime policies (`deployment`, `audit_log`, `node`).
    pub event_source: Option<String>,
    /// Enforcement actions.
    pub enforcement: Vec<String>,
    /// MITRE ATT&CK vectors.
    pub mitre: Vec<Mitre>,
    /// SOC 2 criteria evidenced.
    pub soc2: Vec<String>,
    /// Skipped unless `--all`.
    pub disabled: bool,
    /// Inclusion scopes (empty: everywhere).
    pub scopes: Vec<Scope>,
    /// Exclusions.
    pub exclusions: Vec<Exclusion>,
}

/// One checked policy.
#[derive(Clone, Debug)]
pub struct CheckedPolicy {
    /// Metadata, scopes and exclusions.
    pub meta: PolicyMeta,
    /// The condition, lowered once per record kind the policy applies to.
    pub rules: Vec<Rule>,
    /// Source file index.
    pub file: usize,
    /// Span of the policy name.
    pub span: Span,
}

/// A policy's condition for one kind of record.
#[derive(Clone, Debug)]
pub struct Rule {
    /// The record kind.
    pub root: Root,
    /// Bindings; index 0 is the record.
    pub bindings: Vec<Binding>,
    /// The condition.
    pub cond: Cond,
    /// The violation message template, if the policy has one.
    pub message: Option<Template>,
}

/// A name bound to one object while a condition is evaluated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Binding {
    /// The name as written (or the subject's name for implicit bindings).
    pub name: String,
    /// What kind of object.
    pub subject: Subject,
    /// The parent binding and how the object is reached from it (none for the record).
    pub source: Option<(BindingId, Link)>,
}

/// A checked condition. Truth is three-valued: a test on a missing value is unknown,
/// and a rule fires only when its condition is true.
#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    /// All hold.
    And(Vec<Cond>),
    /// One holds.
    Or(Vec<Cond>),
    /// Does not hold.
    Not(Box<Cond>),
    /// A quantifier over the objects reached by the binding's source.
    Quant {
        /// any / every / no.
        quant: Quant,
        /// The binding it introduces.
        binding: BindingId,
        /// The condition on each object.
        body: Box<Cond>,
    },
    /// A leaf test.
    Test {
        /// What is read.
        operand: Operand,
        /// How it is tested.
        test: Test,
        /// The test as written (for explanations).
        label: String,
    },
}

/// What a test reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operand {
    /// A field of a bound object.
    Field {
        /// The object.
        binding: BindingId,
        /// The field.
        field: FieldId,
    },
    /// One key of a map field.
    MapValue {
        /// The object.
        binding: BindingId,
        /// The map field.
        field: FieldId,
        /// The key.
        key: String,
    },
    /// Days from a timestamp field to now.
    DaysSince {
        /// The object.
        binding: BindingId,
        /// The timestamp field.
        field: FieldId,
    },
    /// How many objects along a chain of bindings satisfy a filter.
    Count {
        /// Bindings from outermost to the counted one; each is reached from the previous.
        chain: Vec<BindingId>,
        /// The filter, if any.
        #[serde(skip)]
        filter: Option<Box<Cond>>,
    },
}

/// A leaf test applied to an operand's value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Test {
    /// A boolean field is true.
    Truthy,
    /// The value is present.
    Present,
    /// Numeric comparison (CPU in cores, memory in MiB).
    Num(CmpOp, f64),
    /// String equality (`==`, `!=`), case-sensitive.
    Str(CmpOp, String),
    /// Boolean equality.
    Bool(CmpOp, bool),
    /// Timestamp comparison (Unix seconds).
    Time(CmpOp, i64),
    /// Enum comparison by index.
    Enum(CmpOp, EnumKind, u8),
    /// Whole-string case-insensitive regex; any of the patterns.
    Regex {
        /// Patterns as written.
        patterns: Vec<String>,
        /// `!~`
        negated: bool,
    },
    /// Unanchored case-insensitive regex search.
    Search(String),
    /// Substring, case-sensitive.
    Substring(String),
    /// Glob with `**`, case-sensitive.
    Glob(String),
    /// Prefix, case-sensitive.
    Prefix(String),
    /// Suffix, case-sensitive.
    Suffix(String),
    /// One of these strings.
    InStrs {
        /// The strings.
        values: Vec<String>,
        /// `not in`
        negated: bool,
    },
    /// One of these numbers.
    InNums {
        /// The numbers.
        values: Vec<f64>,
        /// `not in`
        negated: bool,
    },
    /// One of these enum values.
    InEnums {
        /// The enumeration.
        kind: EnumKind,
        /// Indexes.
        values: Vec<u8>,
        /// `not in`
        negated: bool,
    },
    /// A list has an element equal to this.
    ListHas(String),
    /// A list has an element equal to one of these.
    ListHasAny(Vec<String>),
    /// A list has an element matching one of these regexes (whole, case-insensitive).
    ListMatch {
        /// Patterns.
        patterns: Vec<String>,
        /// No element matches.
        negated: bool,
    },
    /// A map has this key.
    MapHasKey(String),
}

/// A violation message template.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Template {
    /// Literal text and placeholders in order.
    pub parts: Vec<TemplatePart>,
}

/// One part of a template.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplatePart {
    /// Literal text.
    Text(String),
    /// A value read from the matched objects (`{container.name}`).
    Value(Operand),
}

/// A test case written next to the policies.
#[derive(Clone, Debug)]
pub struct CheckedTest {
    /// What it checks.
    pub title: String,
    /// The policy under test.
    pub policy: String,
    /// The records, as records.md JSON.
    pub records: Vec<serde_json::Value>,
    /// Whether the policy must fire on at least one record.
    pub expect_fire: bool,
    /// The clock, Unix seconds.
    pub now: Option<i64>,
    /// Source file index.
    pub file: usize,
    /// Span of the title.
    pub span: Span,
}

/// Builds the regex source the engines compile for a pattern: case-insensitive,
/// anchored to the whole string unless `search`. The pattern must be a whole regex on its
/// own: one that is not (`x)|(.*`) would close the wrapping group and escape the anchors
/// (matching everything), so it is refused, never pasted in.
pub fn regex_source(pattern: &str, search: bool) -> Result<String, String> {
    regex_syntax::ast::parse::Parser::new()
        .parse(pattern)
        .map_err(|e| e.kind().to_string())?;
    Ok(if search {
        format!("(?i:{pattern})")
    } else {
        format!("^(?i:{pattern})$")
    })
}

/// Size limit for one compiled regex (bytes of program).
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Most that all regexes of one program may cost together ([`regex_cost`]): checked before
/// any is built, so a bundle of thousands of heavy patterns is refused in microseconds
/// instead of after gigabytes. The built-in library costs about 6,000 (0.15%).
pub const MAX_TOTAL_REGEX_COST: u64 = 4_000_000;

/// An estimate, made without building it, of what the compiled regex of `pattern` costs:
/// the states of its automaton, counting a character class as its ranges (case folding
/// included) and a counted repetition as that many copies. Unparsable patterns cost 0
/// (they are refused elsewhere).
pub fn regex_cost(pattern: &str, search: bool) -> u64 {
    // Most patterns are plain names or alternatives of them, matched without a regex.
    if crate::literal::LiteralPattern::parse(pattern).is_some() {
        return pattern.len() as u64;
    }
    let Ok(source) = regex_source(pattern, search) else {
        return 0;
    };
    match regex_syntax::ParserBuilder::new().build().parse(&source) {
        Ok(hir) => hir_cost(&hir),
        Err(_) => 0,
    }
}

fn hir_cost(h: &regex_syntax::hir::Hir) -> u64 {
    use regex_syntax::hir::{Class, HirKind};
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => 1,
        HirKind::Literal(l) => l.0.len() as u64,
        HirKind::Class(Class::Unicode(c)) => c.ranges().len().max(1) as u64,
        HirKind::Class(Class::Bytes(c)) => c.ranges().len().max(1) as u64,
        HirKind::Repetition(r) => {
            let copies = u64::from(r.max.unwrap_or(r.min).max(r.min).max(1));
            hir_cost(&r.sub).saturating_mul(copies)
        }
        HirKind::Capture(c) => hir_cost(&c.sub),
        HirKind::Concat(hs) | HirKind::Alternation(hs) => {
            hs.iter().map(hir_cost).fold(1, u64::saturating_add)
        }
    }
}

/// Builds a glob matcher the way both engines use it (`**` crosses `/`, `*` does not).
pub fn build_glob(pattern: &str) -> Result<globset::GlobMatcher, globset::Error> {
    Ok(globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()?
        .compile_matcher())
}

/// Parses a date (`2024-01-31`, midnight UTC) or an RFC 3339 time to Unix seconds.
pub fn parse_time(s: &str) -> Option<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp());
    }
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp())
}
