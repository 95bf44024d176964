//! The syntax tree as written, with spans. Produced by [`crate::parse`].

use crate::span::{Span, Spanned};

/// An identifier with its span.
pub type Ident = Spanned<String>;

/// One parsed `.pal` file.
#[derive(Clone, Debug, PartialEq)]
pub struct File {
    /// Top-level items in source order.
    pub items: Vec<Item>,
    /// Comments after the last item.
    pub trailing_comments: Vec<String>,
    /// Comments inside conditions or other places the formatter cannot keep.
    pub unplaced_comments: Vec<Span>,
}

/// A top-level item with the comments written above it.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// Whole-line comments directly above the item.
    pub comments: Vec<String>,
    /// The item.
    pub kind: ItemKind,
    /// Where it was written.
    pub span: Span,
}

/// The kinds of top-level item.
#[derive(Clone, Debug, PartialEq)]
pub enum ItemKind {
    /// `policy "Name" { ... }`
    Policy(Policy),
    /// `list name = [...]`
    List(ListDef),
    /// `macro name = condition`
    Macro(MacroDef),
    /// `test "what" for "Policy" { ... }`
    Test(TestDef),
}

/// A string literal, remembering whether it was written raw.
#[derive(Clone, Debug, PartialEq)]
pub struct Text {
    /// The decoded value.
    pub value: String,
    /// Written as `r"..."` / `r#"..."#`.
    pub raw: bool,
    /// Where.
    pub span: Span,
}

/// `list name = [values]`: a named list usable with `in`, `~` and `contains`.
#[derive(Clone, Debug, PartialEq)]
pub struct ListDef {
    /// The name.
    pub name: Ident,
    /// The elements.
    pub values: Vec<Value>,
}

/// `macro name = condition`: a named condition expanded where it is used.
#[derive(Clone, Debug, PartialEq)]
pub struct MacroDef {
    /// The name.
    pub name: Ident,
    /// The condition.
    pub body: Expr,
}

/// `policy "Name" { clauses }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// The unique policy name.
    pub name: Text,
    /// Clauses in source order.
    pub clauses: Vec<Clause>,
}

/// One clause of a policy with its comments.
#[derive(Clone, Debug, PartialEq)]
pub struct Clause {
    /// Whole-line comments directly above the clause.
    pub comments: Vec<String>,
    /// The clause.
    pub kind: ClauseKind,
    /// Where.
    pub span: Span,
}

/// The clauses a policy block may hold.
#[derive(Clone, Debug, PartialEq)]
pub enum ClauseKind {
    /// `description "..."`
    Description(Text),
    /// `rationale "..."`
    Rationale(Text),
    /// `remediation "..."`
    Remediation(Text),
    /// `severity low|medium|high|critical`
    Severity(Ident),
    /// `categories "A", "B"`
    Categories(Vec<Text>),
    /// `lifecycle build, deploy, runtime`
    Lifecycle(Vec<Ident>),
    /// `event_source deployment|audit_log|node`
    EventSource(Ident),
    /// `enforce scale_to_zero, fail_build, ...`
    Enforce(Vec<Ident>),
    /// `mitre TA0004: T1611, T1610`
    Mitre {
        /// The tactic id.
        tactic: Ident,
        /// Technique ids.
        techniques: Vec<Ident>,
    },
    /// `soc2 CC6.1, CC7.2`
    Soc2(Vec<Ident>),
    /// `disabled`
    Disabled,
    /// `scope cluster ".." namespace /../ label /k/ = /v/`
    Scope(Vec<WherePart>),
    /// `exclude ... because "..." until 2027-06-30`
    Exclude(Exclusion),
    /// `when condition`
    When(Expr),
    /// `message "template {container.name}"`
    Message(Text),
}

/// A name pattern: a regex literal (whole-string, case-insensitive) or an exact string.
#[derive(Clone, Debug, PartialEq)]
pub enum Pattern {
    /// `/re/`
    Regex(Text),
    /// `"exact"`
    Exact(Text),
}

/// One condition on where a deployment runs (scopes and exclusions).
#[derive(Clone, Debug, PartialEq)]
pub enum WherePart {
    /// `cluster P`: the cluster name or id.
    Cluster(Pattern),
    /// `namespace P`
    Namespace(Pattern),
    /// `label K = V`
    Label(Pattern, Pattern),
    /// `cluster_label K = V`
    ClusterLabel(Pattern, Pattern),
    /// `namespace_label K = V`
    NamespaceLabel(Pattern, Pattern),
}

/// What an exclusion removes from a policy's reach.
#[derive(Clone, Debug, PartialEq)]
pub enum ExclusionTarget {
    /// `image "prefix"`: images whose full name starts with the prefix.
    Image(Text),
    /// `deployment P in namespace P ...`
    Deployment {
        /// The deployment name pattern, if any.
        name: Option<Pattern>,
        /// Where the deployment runs.
        parts: Vec<WherePart>,
    },
}

/// An exclusion with its reason and optional expiry.
#[derive(Clone, Debug, PartialEq)]
pub struct Exclusion {
    /// What is excluded.
    pub target: ExclusionTarget,
    /// Why (required).
    pub reason: Text,
    /// After this date the exclusion no longer applies.
    pub until: Option<Spanned<String>>,
}

/// A condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// `a or b or c`
    Or(Vec<Expr>, Span),
    /// `a and b and c`
    And(Vec<Expr>, Span),
    /// `not a`
    Not(Box<Expr>, Span),
    /// `any|every|no binder: body`
    Quant {
        /// Which quantifier.
        quant: Quant,
        /// What it ranges over.
        binder: Binder,
        /// The condition on each element.
        body: Box<Expr>,
        /// Where.
        span: Span,
    },
    /// `has(path)`: a presence test.
    Has(Path, Span),
    /// `operand [test]`; a bare operand tests a boolean field.
    Test {
        /// Left-hand side.
        operand: Operand,
        /// The test applied, if any.
        test: Option<Test>,
        /// Where.
        span: Span,
    },
}

impl Expr {
    /// Where the condition was written.
    pub fn span(&self) -> Span {
        match self {
            Expr::Or(_, s) | Expr::And(_, s) | Expr::Not(_, s) | Expr::Has(_, s) => *s,
            Expr::Quant { span, .. } | Expr::Test { span, .. } => *span,
        }
    }
}

/// The three quantifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quant {
    /// At least one element satisfies the body.
    Any,
    /// Every element satisfies the body.
    Every,
    /// No element satisfies the body.
    No,
}

/// What a quantifier or `count` ranges over.
#[derive(Clone, Debug, PartialEq)]
pub enum Binder {
    /// `container` or `container as c`: a subject of the record.
    Subject {
        /// The subject name (`container`, `vuln`, ...).
        subject: Ident,
        /// An explicit binding name.
        alias: Option<Ident>,
    },
    /// `x in path`: the elements of a list field or the entries of a map field.
    Elements {
        /// The binding name.
        name: Ident,
        /// The list or map.
        path: Path,
    },
}

/// A dotted path: `container.name`, `deployment.labels["app"]`, `cap`.
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    /// The first name.
    pub root: Ident,
    /// Following steps.
    pub steps: Vec<Step>,
    /// Where.
    pub span: Span,
}

/// A path step.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// `.name`
    Field(Ident),
    /// `["key"]`
    Key(Text),
}

/// The left-hand side of a test.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    /// A field path.
    Path(Path),
    /// `days_since(path)`: whole and fractional days from a timestamp to now.
    DaysSince(Path, Span),
    /// `count(binder where cond)`
    Count {
        /// What is counted.
        binder: Binder,
        /// Only elements satisfying this.
        filter: Option<Box<Expr>>,
        /// Where.
        span: Span,
    },
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
    /// Applies the operator to an ordering of left against right.
    pub fn holds(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            CmpOp::Eq => ord == Equal,
            CmpOp::Ne => ord != Equal,
            CmpOp::Lt => ord == Less,
            CmpOp::Le => ord != Greater,
            CmpOp::Gt => ord == Greater,
            CmpOp::Ge => ord != Less,
        }
    }
}

/// The test applied to an operand.
#[derive(Clone, Debug, PartialEq)]
pub enum Test {
    /// `op value`
    Cmp(Spanned<CmpOp>, Value),
    /// `~ value` (or `!~` when negated): whole-string regex match.
    Match {
        /// `!~`
        negated: bool,
        /// A regex, a list of regexes or a list name.
        value: Value,
    },
    /// `contains value`
    Contains(Value),
    /// `glob "pattern"`
    Glob(Value),
    /// `startswith "prefix"`
    StartsWith(Value),
    /// `endswith "suffix"`
    EndsWith(Value),
    /// `in list` / `not in list`
    In {
        /// `not in`
        negated: bool,
        /// A list literal or list name.
        value: Value,
    },
}

/// Units a number may carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// CPU cores (`cores`, `core`).
    Cores,
    /// Thousandths of a core (`m`, `millicores`).
    Millicores,
    /// Memory units, stored as a factor of MiB.
    Memory(MemUnit),
}

/// Memory units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemUnit {
    /// KiB / KB
    Kib,
    /// MiB / MB
    Mib,
    /// GiB / GB
    Gib,
    /// TiB / TB
    Tib,
}

/// A literal value on the right of a test.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `"text"` or `r"text"`
    Str(Text),
    /// `/regex/`
    Regex(Text),
    /// `42`, `0.5 cores`, `512MiB`
    Num {
        /// The number as written, without unit.
        value: f64,
        /// The unit, if written.
        unit: Option<(Unit, String)>,
        /// The number's text as written.
        text: String,
        /// Where.
        span: Span,
    },
    /// `true` / `false`
    Bool(bool, Span),
    /// `2024-01-31` or an RFC 3339 time.
    Date(Spanned<String>),
    /// A bare word: an enum value or a list name.
    Word(Ident),
    /// `[a, b, c]`
    List(Vec<Value>, Span),
}

impl Value {
    /// Where the value was written.
    pub fn span(&self) -> Span {
        match self {
            Value::Str(t) | Value::Regex(t) => t.span,
            Value::Num { span, .. } | Value::Bool(_, span) | Value::List(_, span) => *span,
            Value::Date(d) => d.span,
            Value::Word(w) => w.span,
        }
    }
}

/// `test "what" for "Policy" { records; expect fire|no fire; now DATE }`.
#[derive(Clone, Debug, PartialEq)]
pub struct TestDef {
    /// What the test checks.
    pub title: Text,
    /// The policy under test.
    pub policy: Text,
    /// Clauses in source order.
    pub clauses: Vec<TestClause>,
}

/// One clause of a test.
#[derive(Clone, Debug, PartialEq)]
pub enum TestClause {
    /// `now 2030-01-01`
    Now(Spanned<String>),
    /// `expect fire` (true) or `expect no fire` (false)
    Expect(bool, Span),
    /// `deployment { ... }`: a record of that kind.
    Record {
        /// The record kind.
        kind: Ident,
        /// The record body.
        body: JsonValue,
    },
}

/// A JSON-like literal in a test record.
#[derive(Clone, Debug, PartialEq)]
pub enum JsonValue {
    /// `null`
    Null,
    /// `true`/`false`
    Bool(bool),
    /// A number, as written.
    Number(String),
    /// A string.
    Str(Text),
    /// `[ ... ]`
    Array(Vec<JsonValue>),
    /// `{ key: value, ... }`; keys keep whether they were quoted.
    Object(Vec<(String, bool, JsonValue)>),
}
