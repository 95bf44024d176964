//! The compiled rule IR: plain, serializable data. See `docs/ir.md`.
//!
//! A [`Program`] holds every policy of a set. Each rule is a tree of [`Node`]s stored in
//! one flat arena; children always have smaller ids than their parents (the compiler
//! emits children first), which [`Program::verify`] checks so that a loaded bundle
//! cannot loop. Bindings are numbered slots; slot 0 is the record.

use palisade_lang::ast::CmpOp;
use palisade_lang::hir::NamePattern;
use palisade_lang::schema::{EnumKind, FieldId, Link, Root, Subject};
use serde::{Deserialize, Serialize};

/// Version of the IR and bundle format.
pub const IR_VERSION: u32 = 1;
/// Most slots (bindings) one rule may use.
pub const MAX_SLOTS: usize = 64;
/// Deepest a condition tree may nest (the language allows 64 levels of brackets; macros
/// and implicit quantifiers add some). Loading, compiling to closures and writing Rust
/// recurse over trees: a deeper bundle is refused rather than exhausting the stack.
pub const MAX_IR_DEPTH: usize = 512;

/// Index into [`Program::nodes`].
pub type NodeId = u32;
/// Index into [`Program::strings`].
pub type StrId = u32;

/// A compiled policy set.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Program {
    /// [`IR_VERSION`].
    pub version: u32,
    /// Policies in load order.
    pub policies: Vec<PolicyInfo>,
    /// Rules (one per policy and record kind).
    pub rules: Vec<RuleInfo>,
    /// The node arena.
    pub nodes: Vec<Node>,
    /// Child lists of `And`/`Or` nodes.
    pub kids: Vec<NodeId>,
    /// Leaf tests.
    pub tests: Vec<TestInstr>,
    /// String constants.
    pub strings: Vec<String>,
    /// Sorted string sets.
    pub string_sets: Vec<Vec<String>>,
    /// Number sets.
    pub num_sets: Vec<Vec<f64>>,
    /// Regexes (compiled when the program is loaded).
    pub regexes: Vec<RegexSpec>,
    /// Globs (compiled when the program is loaded).
    pub globs: Vec<String>,
    /// Slot chains of `count` operands.
    pub chains: Vec<u16>,
}

/// A policy's metadata, scopes and exclusions, as the checker produced them.
pub type PolicyInfo = palisade_lang::hir::PolicyMeta;

/// One binding slot of a rule.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SlotInfo {
    /// Name as written (for messages and explanations).
    pub name: String,
    /// What it holds.
    pub subject: Subject,
    /// Parent slot and link (none for slot 0).
    pub source: Option<(u16, Link)>,
}

/// A policy's condition for one record kind.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RuleInfo {
    /// Index of the policy.
    pub policy: u32,
    /// The record kind.
    pub root: Root,
    /// Binding slots.
    pub slots: Vec<SlotInfo>,
    /// The condition's root node.
    pub entry: NodeId,
    /// Message template.
    pub message: Option<Vec<MsgPart>>,
}

/// One part of a message template.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub enum MsgPart {
    /// Literal text.
    Text(String),
    /// A field of a slot.
    Field(u16, FieldId),
}

/// A condition node.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub enum Node {
    /// `a and b`: `kids[first..first + len]`.
    And {
        /// First child in `kids`.
        first: u32,
        /// Number of children.
        len: u32,
    },
    /// `a or b`.
    Or {
        /// First child in `kids`.
        first: u32,
        /// Number of children.
        len: u32,
    },
    /// `not a`.
    Not(NodeId),
    /// `any x: body` (also implicit subjects): some object in the slot's source satisfies body.
    Any {
        /// The slot bound to each object.
        slot: u16,
        /// The condition.
        body: NodeId,
    },
    /// `every x: body`.
    Every {
        /// The slot bound to each object.
        slot: u16,
        /// The condition.
        body: NodeId,
    },
    /// A leaf test: index into `tests`.
    Test(u32),
}

/// A leaf test.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TestInstr {
    /// What is read.
    pub operand: OperandIr,
    /// How it is tested.
    pub op: OpIr,
    /// The test as written.
    pub label: String,
}

/// What a test reads.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub enum OperandIr {
    /// `slot.field`
    Field(u16, FieldId),
    /// `slot.map["key"]`
    MapValue(u16, FieldId, StrId),
    /// `days_since(slot.field)`
    DaysSince(u16, FieldId),
    /// `count(...)`: slots `chains[first..first + len]`, filter node.
    Count {
        /// First slot in `chains`.
        first: u32,
        /// Chain length.
        len: u32,
        /// Filter.
        filter: Option<NodeId>,
    },
}

/// How a test compares.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub enum OpIr {
    /// Boolean is true.
    Truthy,
    /// Value present.
    Present,
    /// Number comparison.
    Num(CmpOp, f64),
    /// String equality.
    Str(CmpOp, StrId),
    /// Boolean equality.
    Bool(CmpOp, bool),
    /// Time comparison.
    Time(CmpOp, i64),
    /// Enum comparison by index.
    Enum(CmpOp, EnumKind, u8),
    /// Whole-string regex (or regex set).
    Regex(u32, bool),
    /// Regex search.
    Search(u32),
    /// Substring.
    Substring(StrId),
    /// Glob.
    Glob(u32),
    /// Prefix.
    Prefix(StrId),
    /// Suffix.
    Suffix(StrId),
    /// In a string set.
    InStrs(u32, bool),
    /// In a number set.
    InNums(u32, bool),
    /// In an enum set (bit mask of indexes).
    InEnums(EnumKind, u32, bool),
    /// List has element.
    ListHas(StrId),
    /// List has an element in a set.
    ListHasAny(u32),
    /// List has an element matching (negated: none matches).
    ListMatch(u32, bool),
    /// Map has key.
    MapHasKey(StrId),
}

/// A regex or regex set.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RegexSpec {
    /// Patterns as written (any may match).
    pub patterns: Vec<String>,
    /// Unanchored search instead of whole-string match.
    pub search: bool,
}

/// Scope and exclusion patterns use the same shape as the checked AST.
pub type Pattern = NamePattern;

/// Why a program (usually a loaded bundle) is unusable.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum VerifyError {
    /// Built for another IR version.
    #[error("bundle version {found} is not supported (this build reads version {expected})")]
    Version {
        /// In the bundle.
        found: u32,
        /// Supported.
        expected: u32,
    },
    /// Some index or invariant is broken.
    #[error("invalid bundle: {0}")]
    Invalid(String),
}
