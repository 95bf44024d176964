//! The entries of the evidence log: what was in force, what was evaluated, what was found,
//! what was excepted, what was decided. Each is stored as its canonical JSON text
//! ([`crate::canonical`]) with a `kind` tag.

use serde::{Deserialize, Serialize};

/// The `format` of the first entry of every log.
pub const FORMAT: &str = "palisade-evidence";
/// The log format version this build writes and reads.
pub const VERSION: u32 = 1;

/// One entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Entry {
    /// The first entry: what this log is.
    Log(LogCreated),
    /// A run (a `check`, or a `serve` process) began.
    RunStarted(RunStarted),
    /// The policies in force (written when a run uses a set the log has not seen, and on
    /// every reload of `serve`).
    PolicySet(PolicySet),
    /// A (policy, record) pair that violates.
    Violation(ViolationEntry),
    /// A violation that an exclusion suppressed.
    Exception(ExceptionEntry),
    /// An admission decision of `serve`.
    Admission(AdmissionEntry),
    /// A check request of `serve` (its violations follow as violation entries).
    Evaluation(EvaluationEntry),
    /// A run ended.
    RunFinished(RunFinished),
}

impl Entry {
    /// The kind tag.
    pub fn kind(&self) -> &'static str {
        match self {
            Entry::Log(_) => "log",
            Entry::RunStarted(_) => "run_started",
            Entry::PolicySet(_) => "policy_set",
            Entry::Violation(_) => "violation",
            Entry::Exception(_) => "exception",
            Entry::Admission(_) => "admission",
            Entry::Evaluation(_) => "evaluation",
            Entry::RunFinished(_) => "run_finished",
        }
    }

    /// When it happened (RFC 3339).
    pub fn time(&self) -> &str {
        match self {
            Entry::Log(e) => &e.time,
            Entry::RunStarted(e) => &e.time,
            Entry::PolicySet(e) => &e.time,
            Entry::Violation(e) => &e.time,
            Entry::Exception(e) => &e.time,
            Entry::Admission(e) => &e.time,
            Entry::Evaluation(e) => &e.time,
            Entry::RunFinished(e) => &e.time,
        }
    }

    /// The canonical JSON text of the entry.
    pub fn to_canonical(&self) -> String {
        match serde_json::to_value(self) {
            Ok(v) => crate::canonical::to_string(&v),
            // Entries hold strings, integers, booleans and lists only: serializing cannot fail.
            Err(e) => unreachable!("an entry did not serialize: {e}"),
        }
    }
}

/// The first entry of a log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogCreated {
    /// Always [`FORMAT`].
    pub format: String,
    /// The format version.
    pub version: u32,
    /// Random id of this log; the checkpoints' origin names it.
    pub log_id: String,
    /// Creation time.
    pub time: String,
}

/// An input of a run and the digest of its bytes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputDigest {
    /// The input's name as given (a path, or `<stdin>`).
    pub name: String,
    /// `sha256:` of its bytes.
    pub digest: String,
}

/// A run began.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunStarted {
    /// Random id of the run.
    pub run: String,
    /// Start time.
    pub time: String,
    /// `check` or `serve`.
    pub source: String,
    /// The tool and its version.
    pub tool: String,
    /// Digest of the policy set in force.
    pub policy_set: String,
    /// The inputs (empty for `serve`).
    pub inputs: Vec<InputDigest>,
    /// Who ran it, where the host tells (`$USER@host`, a CI job); free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

/// A policy as the evidence names it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySummary {
    /// Name.
    pub name: String,
    /// Severity.
    pub severity: String,
    /// Lifecycle stages.
    pub lifecycle: Vec<String>,
    /// SOC 2 criteria.
    pub soc2: Vec<String>,
    /// Enforcement actions.
    pub enforcement: Vec<String>,
    /// Disabled policies are in the set but not evaluated.
    pub disabled: bool,
    /// Exclusions: reason and expiry of each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclusions: Vec<ExclusionSummary>,
}

/// An exclusion of a policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExclusionSummary {
    /// Why.
    pub reason: String,
    /// When it stops applying (RFC 3339), if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// The policies in force.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySet {
    /// The run that loaded it.
    pub run: String,
    /// When.
    pub time: String,
    /// Digest of the compiled bundle (conditions included).
    pub digest: String,
    /// Every policy of the set.
    pub policies: Vec<PolicySummary>,
}

/// The record a violation or exception belongs to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordRef {
    /// Record kind.
    pub kind: String,
    /// Record id.
    pub id: String,
    /// Name, where the record has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Namespace, where the record has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl RecordRef {
    /// `kind namespace/name` (the id when it has no name), as reports show it.
    pub fn label(&self) -> String {
        format!(
            "{} {}{}",
            self.kind,
            self.namespace
                .as_deref()
                .map(|n| format!("{n}/"))
                .unwrap_or_default(),
            self.name.as_deref().unwrap_or(&self.id)
        )
    }
}

/// A violation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViolationEntry {
    /// The run.
    pub run: String,
    /// When.
    pub time: String,
    /// Policy name.
    pub policy: String,
    /// Severity.
    pub severity: String,
    /// The stage evaluated.
    pub lifecycle: String,
    /// SOC 2 criteria of the policy.
    pub soc2: Vec<String>,
    /// The record.
    pub record: RecordRef,
    /// `sha256:` of the record's canonical JSON.
    pub record_digest: String,
    /// The violation's messages.
    pub messages: Vec<String>,
    /// Enforcement actions for the stage.
    pub enforcement: Vec<String>,
    /// The event whose evaluation found it (a consumed message's id), when it came from
    /// one: reports count a (event, policy, record) once across logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
}

/// A violation that an exclusion suppressed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExceptionEntry {
    /// The run.
    pub run: String,
    /// When.
    pub time: String,
    /// Policy name.
    pub policy: String,
    /// Severity.
    pub severity: String,
    /// SOC 2 criteria of the policy.
    pub soc2: Vec<String>,
    /// The record.
    pub record: RecordRef,
    /// `sha256:` of the record's canonical JSON.
    pub record_digest: String,
    /// The exclusion's reason.
    pub reason: String,
    /// Its expiry (RFC 3339), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// The object of an admission request.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectRef {
    /// Kubernetes kind.
    pub kind: String,
    /// Namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// An admission decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdmissionEntry {
    /// The server session.
    pub run: String,
    /// When.
    pub time: String,
    /// The request's uid.
    pub uid: String,
    /// CREATE, UPDATE, ...
    pub operation: String,
    /// Who asked (the request's userInfo.username).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The object.
    pub object: ObjectRef,
    /// `sha256:` of the object's canonical JSON.
    pub object_digest: String,
    /// The answer.
    pub allowed: bool,
    /// Policies that fired.
    pub violations: Vec<ViolationEntry>,
}

/// A check request of `serve`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationEntry {
    /// The server session.
    pub run: String,
    /// When.
    pub time: String,
    /// `sha256:` of the request body.
    pub input_digest: String,
    /// Records evaluated.
    pub records: u64,
    /// Violations found (each follows as a violation entry).
    pub violations: u64,
    /// The event evaluated (a consumed message's id), when it was one: an event evaluated
    /// again after a redelivery, by this replica or another, is counted once by reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
}

/// A run ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunFinished {
    /// The run.
    pub run: String,
    /// End time.
    pub time: String,
    /// Records evaluated.
    pub records: u64,
    /// Violations found.
    pub violations: u64,
    /// Violations suppressed by exclusions.
    pub exceptions: u64,
    /// Whether the run failed its gate (exit 1 of `check`).
    pub failed: bool,
}
