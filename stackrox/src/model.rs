//! The StackRox policy JSON (`storage.Policy`, protobuf JSON, camelCase), as exported by roxctl.

use serde::Deserialize;

/// One policy.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    /// Name (unique).
    #[serde(default)]
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Rationale.
    #[serde(default)]
    pub rationale: String,
    /// Remediation.
    #[serde(default)]
    pub remediation: String,
    /// Skipped by detectors.
    #[serde(default)]
    pub disabled: bool,
    /// Categories.
    #[serde(default)]
    pub categories: Vec<String>,
    /// BUILD / DEPLOY / RUNTIME.
    #[serde(default)]
    pub lifecycle_stages: Vec<String>,
    /// DEPLOYMENT_EVENT / AUDIT_LOG_EVENT / NODE_EVENT.
    #[serde(default)]
    pub event_source: Option<String>,
    /// Exclusions.
    #[serde(default)]
    pub exclusions: Vec<Exclusion>,
    /// Inclusion scopes.
    #[serde(default)]
    pub scope: Vec<Scope>,
    /// LOW_SEVERITY ... CRITICAL_SEVERITY.
    #[serde(default)]
    pub severity: String,
    /// Enforcement actions.
    #[serde(default)]
    pub enforcement_actions: Vec<String>,
    /// "1.1" (or "" for legacy exports).
    #[serde(default)]
    pub policy_version: String,
    /// Criteria.
    #[serde(default)]
    pub policy_sections: Vec<Section>,
    /// MITRE ATT&CK.
    #[serde(default)]
    pub mitre_attack_vectors: Vec<MitreVector>,
    /// Container types removed before matching.
    #[serde(default)]
    pub evaluation_filter: Option<EvaluationFilter>,
}

/// `evaluationFilter`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvaluationFilter {
    /// REGULAR / INIT.
    #[serde(default)]
    pub skip_container_types: Vec<String>,
}

/// A MITRE tactic and its techniques.
#[derive(Clone, Debug, Deserialize)]
pub struct MitreVector {
    /// Tactic id.
    #[serde(default)]
    pub tactic: String,
    /// Technique ids.
    #[serde(default)]
    pub techniques: Vec<String>,
}

/// A section: groups AND'ed and co-located.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Section {
    /// Display name.
    #[serde(default)]
    pub section_name: String,
    /// Groups.
    #[serde(default)]
    pub policy_groups: Vec<Group>,
}

/// A group: one field, values combined by OR/AND, optionally negated.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// The criteria field.
    #[serde(default)]
    pub field_name: String,
    /// OR (default) or AND.
    #[serde(default)]
    pub boolean_operator: Option<String>,
    /// Negate.
    #[serde(default)]
    pub negate: bool,
    /// Values.
    #[serde(default)]
    pub values: Vec<GroupValue>,
}

/// One value.
#[derive(Clone, Debug, Deserialize)]
pub struct GroupValue {
    /// The value string.
    #[serde(default)]
    pub value: String,
}

/// A label selector.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct KeyValue {
    /// Key regex.
    #[serde(default)]
    pub key: String,
    /// Value regex.
    #[serde(default)]
    pub value: String,
}

/// An inclusion scope (also the scope of a deployment exclusion).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scope {
    /// Cluster id (exact).
    #[serde(default)]
    pub cluster: String,
    /// Namespace regex.
    #[serde(default)]
    pub namespace: String,
    /// Deployment label.
    pub label: Option<KeyValue>,
    /// Cluster label.
    pub cluster_label: Option<KeyValue>,
    /// Namespace label.
    pub namespace_label: Option<KeyValue>,
}

/// An exclusion.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Exclusion {
    /// A label for humans.
    #[serde(default)]
    pub name: String,
    /// Deployment exclusion.
    pub deployment: Option<DeploymentExclusion>,
    /// Image exclusion (BUILD).
    pub image: Option<ImageExclusion>,
    /// RFC 3339 expiry.
    pub expiration: Option<String>,
}

/// The deployment part of an exclusion.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct DeploymentExclusion {
    /// Name regex.
    #[serde(default)]
    pub name: String,
    /// Scope.
    pub scope: Option<Scope>,
}

/// The image part of an exclusion.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ImageExclusion {
    /// Image name prefix.
    #[serde(default)]
    pub name: String,
}
