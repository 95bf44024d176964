//! The record schema as policies see it: subjects (the objects of a record), their
//! fields and types, how subjects nest, and which lifecycle stage each is available in.

use serde::{Deserialize, Serialize};

/// A lifecycle stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Image build (CI): the image record.
    Build,
    /// Deployment admission / audit: the deployment record.
    Deploy,
    /// Runtime events: processes, Kubernetes events, network flows.
    Runtime,
}

impl Stage {
    /// Every stage.
    pub const ALL: [Stage; 3] = [Stage::Build, Stage::Deploy, Stage::Runtime];
    /// The stage's name as written in policies.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Build => "build",
            Stage::Deploy => "deploy",
            Stage::Runtime => "runtime",
        }
    }
    /// Parses a stage name.
    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// The record a policy is evaluated on (one per stage, several at runtime).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Root {
    /// Build: an image record.
    Image,
    /// Deploy: a deployment record.
    Deployment,
    /// Runtime: a process event.
    Process,
    /// Runtime: a Kubernetes API event.
    KubeEvent,
    /// Runtime: a network flow.
    NetworkFlow,
}

impl Root {
    /// Every root.
    pub const ALL: [Root; 5] = [
        Root::Image,
        Root::Deployment,
        Root::Process,
        Root::KubeEvent,
        Root::NetworkFlow,
    ];
    /// The stage records of this root are evaluated in.
    pub fn stage(self) -> Stage {
        match self {
            Root::Image => Stage::Build,
            Root::Deployment => Stage::Deploy,
            _ => Stage::Runtime,
        }
    }
    /// The record kind (`"kind"` in records.md).
    pub fn record_kind(self) -> &'static str {
        match self {
            Root::Image => "image",
            Root::Deployment => "deployment",
            Root::Process => "process",
            Root::KubeEvent => "kube_event",
            Root::NetworkFlow => "network_flow",
        }
    }
    /// The subject naming the root record.
    pub fn subject(self) -> Subject {
        match self {
            Root::Image => Subject::Image,
            Root::Deployment => Subject::Deployment,
            Root::Process => Subject::Process,
            Root::KubeEvent => Subject::Event,
            Root::NetworkFlow => Subject::Flow,
        }
    }
}

/// The objects of a record that a condition can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// The deployment.
    Deployment,
    /// A container of the deployment (at runtime: the process's container).
    Container,
    /// An environment variable of a container.
    Env,
    /// A volume mounted in a container.
    Volume,
    /// A port the deployment exposes.
    Port,
    /// The image of a container (at build: the image record).
    Image,
    /// A Dockerfile layer of the image.
    Layer,
    /// A scanned component (package) of the image.
    Component,
    /// A vulnerability of a component that is neither suppressed nor deferred / false positive.
    Vuln,
    /// Any vulnerability a scanner reported, suppressed or not.
    ReportedVuln,
    /// A process event.
    Process,
    /// A Kubernetes API event.
    Event,
    /// A network flow.
    Flow,
    /// An entry of a map (`any l in deployment.labels`).
    Entry,
    /// An element of a list of strings (`any cap in container.add_capabilities`).
    Element,
}

impl Subject {
    /// Subjects users can name directly.
    pub const NAMED: [Subject; 13] = [
        Subject::Deployment,
        Subject::Container,
        Subject::Env,
        Subject::Volume,
        Subject::Port,
        Subject::Image,
        Subject::Layer,
        Subject::Component,
        Subject::Vuln,
        Subject::ReportedVuln,
        Subject::Process,
        Subject::Event,
        Subject::Flow,
    ];
    /// The name written in policies.
    pub fn name(self) -> &'static str {
        match self {
            Subject::Deployment => "deployment",
            Subject::Container => "container",
            Subject::Env => "env",
            Subject::Volume => "volume",
            Subject::Port => "port",
            Subject::Image => "image",
            Subject::Layer => "layer",
            Subject::Component => "component",
            Subject::Vuln => "vuln",
            Subject::ReportedVuln => "reported_vuln",
            Subject::Process => "process",
            Subject::Event => "event",
            Subject::Flow => "flow",
            Subject::Entry => "entry",
            Subject::Element => "element",
        }
    }
    /// The subject with this name.
    pub fn parse(name: &str) -> Option<Subject> {
        Subject::NAMED.into_iter().find(|s| s.name() == name)
    }
    /// The subject whose fields this one has (`reported_vuln` has `vuln`'s fields).
    pub fn field_owner(self) -> Subject {
        match self {
            Subject::ReportedVuln => Subject::Vuln,
            s => s,
        }
    }
    /// The field that names one object of this subject in default messages.
    pub fn identity_field(self) -> Option<FieldId> {
        Some(match self {
            Subject::Deployment => FieldId::DeploymentName,
            Subject::Container => FieldId::ContainerName,
            Subject::Env => FieldId::EnvName,
            Subject::Volume => FieldId::VolumeName,
            Subject::Port => FieldId::PortContainerPort,
            Subject::Image => FieldId::ImageFullName,
            Subject::Layer => FieldId::LayerValue,
            Subject::Component => FieldId::ComponentName,
            Subject::Vuln | Subject::ReportedVuln => FieldId::VulnId,
            Subject::Process => FieldId::ProcessExecPath,
            Subject::Event => FieldId::EventResource,
            Subject::Flow => FieldId::FlowDestinationName,
            Subject::Entry => FieldId::EntryKey,
            Subject::Element => FieldId::ElementValue,
        })
    }
}

/// How a child subject is reached from its parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Link {
    /// deployment -> containers (list)
    DeploymentContainers,
    /// deployment -> ports (list)
    DeploymentPorts,
    /// container -> env (list)
    ContainerEnv,
    /// container -> volumes (list)
    ContainerVolumes,
    /// container -> its image (zero or one)
    ContainerImage,
    /// image -> layers (list)
    ImageLayers,
    /// image -> scanned components (list; unknown when the image was never scanned)
    ImageComponents,
    /// component -> active vulnerabilities (list)
    ComponentVulns,
    /// component -> every reported vulnerability (list)
    ComponentReportedVulns,
    /// event -> the deployment it happened in (zero or one)
    EventDeployment,
    /// process -> the container it ran in (zero or one)
    ProcessContainer,
    /// a list-of-strings field -> its elements
    Elements(FieldId),
    /// a map field -> its entries
    Entries(FieldId),
}

impl Link {
    /// Whether the link yields at most one object.
    pub fn is_single(self) -> bool {
        matches!(
            self,
            Link::ContainerImage | Link::EventDeployment | Link::ProcessContainer
        )
    }
    /// The subject the link yields.
    pub fn child(self) -> Subject {
        match self {
            Link::DeploymentContainers | Link::ProcessContainer => Subject::Container,
            Link::DeploymentPorts => Subject::Port,
            Link::ContainerEnv => Subject::Env,
            Link::ContainerVolumes => Subject::Volume,
            Link::ContainerImage => Subject::Image,
            Link::ImageLayers => Subject::Layer,
            Link::ImageComponents => Subject::Component,
            Link::ComponentVulns => Subject::Vuln,
            Link::ComponentReportedVulns => Subject::ReportedVuln,
            Link::EventDeployment => Subject::Deployment,
            Link::Elements(_) => Subject::Element,
            Link::Entries(_) => Subject::Entry,
        }
    }
}

/// Where `subject` comes from when the record is `root`: `None` when it is the root itself,
/// `Some(Err(()))` when the subject does not exist for this root.
pub fn parent_of(root: Root, subject: Subject) -> Option<Result<(Subject, Link), ()>> {
    use Subject as S;
    if root.subject() == subject {
        return None;
    }
    let runtime = root.stage() == Stage::Runtime;
    Some(match subject {
        S::Deployment if runtime => Ok((root.subject(), Link::EventDeployment)),
        S::Container if root == Root::Process => Ok((S::Process, Link::ProcessContainer)),
        S::Container if root != Root::Image => Ok((S::Deployment, Link::DeploymentContainers)),
        S::Port if root != Root::Image => Ok((S::Deployment, Link::DeploymentPorts)),
        S::Env if root != Root::Image => Ok((S::Container, Link::ContainerEnv)),
        S::Volume if root != Root::Image => Ok((S::Container, Link::ContainerVolumes)),
        S::Image => Ok((S::Container, Link::ContainerImage)),
        S::Layer => Ok((S::Image, Link::ImageLayers)),
        S::Component => Ok((S::Image, Link::ImageComponents)),
        S::Vuln => Ok((S::Component, Link::ComponentVulns)),
        S::ReportedVuln => Ok((S::Component, Link::ComponentReportedVulns)),
        _ => Err(()),
    })
}

/// The link from a parent subject to a child subject reached by a path step (`c.image`).
pub fn step_link(root: Root, parent: Subject, child: Subject) -> Option<Link> {
    match parent_of(root, child) {
        Some(Ok((p, link))) if p == parent.field_owner() || p == parent => Some(link),
        _ => None,
    }
}

/// Enumerations a field may hold. Record values match case-insensitively, ignoring `_` and `-`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnumKind {
    /// Vulnerability severity (ordered).
    Severity,
    /// RBAC permission level of the service account (ordered).
    RbacLevel,
    /// Where an environment variable's value comes from.
    EnvSource,
    /// How a port is exposed.
    Exposure,
    /// Seccomp profile type.
    Seccomp,
    /// Volume mount propagation.
    Propagation,
    /// Vulnerability triage state.
    VulnState,
    /// Container type.
    ContainerType,
    /// Kubernetes resource of an event.
    KubeResource,
    /// Kubernetes API verb.
    KubeVerb,
    /// Network flow peer type.
    PeerType,
}

impl EnumKind {
    /// The values, in order (the order is meaningful for ordered enums).
    pub fn values(self) -> &'static [&'static str] {
        match self {
            EnumKind::Severity => &["unknown", "low", "medium", "high", "critical"],
            EnumKind::RbacLevel => &[
                "none",
                "default",
                "elevated_in_namespace",
                "elevated_cluster_wide",
                "cluster_admin",
            ],
            EnumKind::EnvSource => &[
                "unset",
                "raw",
                "secret_key",
                "config_map_key",
                "field",
                "resource_field",
                "unknown",
            ],
            EnumKind::Exposure => &["none", "internal", "node", "host", "external", "route"],
            EnumKind::Seccomp => &["unconfined", "runtime_default", "localhost"],
            EnumKind::Propagation => &["none", "host_to_container", "bidirectional"],
            EnumKind::VulnState => &["observed", "deferred", "false_positive"],
            EnumKind::ContainerType => &["regular", "init", "ephemeral"],
            EnumKind::KubeResource => &[
                "pods_exec",
                "pods_attach",
                "pods_portforward",
                "secrets",
                "configmaps",
                "cluster_roles",
                "cluster_role_bindings",
                "network_policies",
                "security_context_constraints",
                "egress_firewalls",
            ],
            EnumKind::KubeVerb => &[
                "create", "delete", "get", "patch", "update", "list", "watch", "proxy",
            ],
            EnumKind::PeerType => &["deployment", "external", "internet", "internal"],
        }
    }
    /// Other spellings accepted in records (StackRox's words), with the value they stand for.
    fn aliases(self) -> &'static [(&'static str, &'static str)] {
        match self {
            EnumKind::Severity => &[("moderate", "medium"), ("important", "high")],
            EnumKind::Exposure => &[("unset", "")],
            _ => &[],
        }
    }
    /// Whether `<`/`>` make sense.
    pub fn is_ordered(self) -> bool {
        matches!(self, EnumKind::Severity | EnumKind::RbacLevel)
    }
    /// The index of a policy-side word (exact spelling).
    pub fn index_of(self, word: &str) -> Option<u8> {
        self.values()
            .iter()
            .position(|v| *v == word)
            .map(|i| i as u8)
    }
    /// The index of a record-side value, matched loosely (`RuntimeDefault`, `RUNTIME_DEFAULT`,
    /// `runtime-default` all match `runtime_default`). Never allocates.
    pub fn index_of_record_value(self, value: &str) -> Option<u8> {
        let value = strip_suffixes(value);
        if let Some(i) = self.values().iter().position(|v| loose_eq(v, value)) {
            return Some(i as u8);
        }
        let target = self
            .aliases()
            .iter()
            .find(|(a, _)| loose_eq(a, value))
            .map(|(_, t)| *t)?;
        self.index_of(target)
    }
    /// The policy-side word for an index.
    pub fn word(self, index: u8) -> &'static str {
        self.values().get(index as usize).copied().unwrap_or("?")
    }
}

/// StackRox spells some enum values with a type suffix (`HIGH_SEVERITY`, `IMPORTANT_VULNERABILITY_SEVERITY`).
fn strip_suffixes(v: &str) -> &str {
    for suffix in [
        "_VULNERABILITY_SEVERITY",
        "_vulnerability_severity",
        "_SEVERITY",
        "_severity",
    ] {
        if let Some(s) = v.strip_suffix(suffix) {
            return s;
        }
    }
    v
}

/// Compares ignoring ASCII case, `_` and `-`.
pub fn loose_eq(a: &str, b: &str) -> bool {
    let mut x = a.bytes().filter(|c| *c != b'_' && *c != b'-');
    let mut y = b.bytes().filter(|c| *c != b'_' && *c != b'-');
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some(p), Some(q)) if p.eq_ignore_ascii_case(&q) => {}
            _ => return false,
        }
    }
}

/// A field's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ty {
    /// true / false
    Bool,
    /// A plain number.
    Num,
    /// CPU, in cores (literals may say `500m`, `2 cores`).
    Cpu,
    /// Memory, in MiB (literals may say `512MiB`, `1GiB`).
    Mem,
    /// Text.
    Str,
    /// An RFC 3339 timestamp.
    Time,
    /// One of an enumeration's values.
    Enum(EnumKind),
    /// A list of strings.
    StrList,
    /// A string-to-string map.
    Map,
}

impl Ty {
    /// How the type is described in messages.
    pub fn describe(self) -> String {
        match self {
            Ty::Bool => "a boolean".into(),
            Ty::Num => "a number".into(),
            Ty::Cpu => "a CPU quantity (cores)".into(),
            Ty::Mem => "a memory quantity (MiB)".into(),
            Ty::Str => "a string".into(),
            Ty::Time => "a timestamp".into(),
            Ty::Enum(k) => format!("one of {}", k.values().join(", ")),
            Ty::StrList => "a list of strings".into(),
            Ty::Map => "a map of strings".into(),
        }
    }
}

macro_rules! fields {
    ($( $id:ident => $subject:ident, $name:literal, $ty:expr, $doc:literal; )*) => {
        /// Every field a condition can read. Names are `subject.field` in policies.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum FieldId { $( #[doc = $doc] $id, )* }

        /// Static description of one field.
        #[derive(Clone, Copy, Debug)]
        pub struct FieldDef {
            /// The id.
            pub id: FieldId,
            /// The subject that has the field.
            pub subject: Subject,
            /// The name after the dot.
            pub name: &'static str,
            /// The type.
            pub ty: Ty,
            /// What it means, and where it comes from in records.md.
            pub doc: &'static str,
        }

        /// Every field.
        pub const FIELDS: &[FieldDef] = &[ $( FieldDef { id: FieldId::$id, subject: Subject::$subject, name: $name, ty: $ty, doc: $doc }, )* ];
    };
}

use EnumKind as E;
fields! {
    DeploymentId => Deployment, "id", Ty::Str, "`id`";
    DeploymentName => Deployment, "name", Ty::Str, "`name`";
    DeploymentNamespace => Deployment, "namespace", Ty::Str, "`namespace`";
    DeploymentCluster => Deployment, "cluster", Ty::Str, "`cluster`";
    DeploymentClusterId => Deployment, "cluster_id", Ty::Str, "`cluster_id`";
    DeploymentType => Deployment, "type", Ty::Str, "`type` (Deployment, DaemonSet, ...)";
    DeploymentReplicas => Deployment, "replicas", Ty::Num, "`replicas`";
    DeploymentServiceAccount => Deployment, "service_account", Ty::Str, "`service_account`";
    DeploymentAutomountToken => Deployment, "automount_service_account_token", Ty::Bool, "`automount_service_account_token`";
    DeploymentHostNetwork => Deployment, "host_network", Ty::Bool, "`host_network`";
    DeploymentHostPid => Deployment, "host_pid", Ty::Bool, "`host_pid`";
    DeploymentHostIpc => Deployment, "host_ipc", Ty::Bool, "`host_ipc`";
    DeploymentRbacLevel => Deployment, "rbac_permission_level", Ty::Enum(E::RbacLevel), "`rbac_permission_level` (ordered)";
    DeploymentRuntimeClass => Deployment, "runtime_class", Ty::Str, "`runtime_class`";
    DeploymentHasIngressPolicy => Deployment, "has_ingress_network_policy", Ty::Bool, "`network_policies.has_ingress` (unknown when `network_policies` is absent)";
    DeploymentHasEgressPolicy => Deployment, "has_egress_network_policy", Ty::Bool, "`network_policies.has_egress`";
    DeploymentLabels => Deployment, "labels", Ty::Map, "`labels`";
    DeploymentAnnotations => Deployment, "annotations", Ty::Map, "`annotations`";
    DeploymentPodLabels => Deployment, "pod_labels", Ty::Map, "`pod_labels`";
    DeploymentClusterLabels => Deployment, "cluster_labels", Ty::Map, "`cluster_labels`";
    DeploymentNamespaceLabels => Deployment, "namespace_labels", Ty::Map, "`namespace_labels`";
    DeploymentPullSecrets => Deployment, "image_pull_secrets", Ty::StrList, "`image_pull_secrets`";

    ContainerName => Container, "name", Ty::Str, "`name`";
    ContainerType => Container, "type", Ty::Enum(E::ContainerType), "`type` (regular when absent)";
    ContainerImageName => Container, "image_name", Ty::Str, "`image.name.full_name` as the container references it";
    ContainerCommand => Container, "command", Ty::StrList, "`command`";
    ContainerArgs => Container, "args", Ty::StrList, "`args`";
    ContainerPrivileged => Container, "privileged", Ty::Bool, "`security_context.privileged`";
    ContainerReadOnlyRootFs => Container, "read_only_root_filesystem", Ty::Bool, "`security_context.read_only_root_filesystem`";
    ContainerAllowPrivilegeEscalation => Container, "allow_privilege_escalation", Ty::Bool, "`security_context.allow_privilege_escalation`";
    ContainerRunAsUser => Container, "run_as_user", Ty::Num, "`security_context.run_as_user`";
    ContainerRunAsNonRoot => Container, "run_as_non_root", Ty::Bool, "`security_context.run_as_non_root`";
    ContainerAddCapabilities => Container, "add_capabilities", Ty::StrList, "`security_context.add_capabilities`";
    ContainerDropCapabilities => Container, "drop_capabilities", Ty::StrList, "`security_context.drop_capabilities`";
    ContainerSeccomp => Container, "seccomp_profile", Ty::Enum(E::Seccomp), "`security_context.seccomp_profile`";
    ContainerAppArmor => Container, "apparmor_profile", Ty::Str, "`security_context.apparmor_profile`";
    ContainerCpuRequest => Container, "cpu_request", Ty::Cpu, "`resources.cpu_request_cores`";
    ContainerCpuLimit => Container, "cpu_limit", Ty::Cpu, "`resources.cpu_limit_cores`";
    ContainerMemoryRequest => Container, "memory_request", Ty::Mem, "`resources.memory_request_mb`";
    ContainerMemoryLimit => Container, "memory_limit", Ty::Mem, "`resources.memory_limit_mb`";
    ContainerLivenessProbe => Container, "liveness_probe_defined", Ty::Bool, "`liveness_probe_defined`";
    ContainerReadinessProbe => Container, "readiness_probe_defined", Ty::Bool, "`readiness_probe_defined`";
    ContainerSecretsMounted => Container, "secrets_mounted", Ty::StrList, "`secrets_mounted`";

    EnvName => Env, "name", Ty::Str, "`name`";
    EnvValue => Env, "value", Ty::Str, "`value`";
    EnvSource => Env, "source", Ty::Enum(E::EnvSource), "`source` (`unset` when absent)";
    EnvSecret => Env, "secret", Ty::Str, "`secret`";

    VolumeName => Volume, "name", Ty::Str, "`name`";
    VolumeType => Volume, "type", Ty::Str, "`type` (HostPath, Secret, ...)";
    VolumeSource => Volume, "source", Ty::Str, "`source`";
    VolumeDestination => Volume, "destination", Ty::Str, "`destination`";
    VolumeReadOnly => Volume, "read_only", Ty::Bool, "`read_only`";
    VolumePropagation => Volume, "mount_propagation", Ty::Enum(E::Propagation), "`mount_propagation`";

    PortContainerPort => Port, "container_port", Ty::Num, "`container_port`";
    PortProtocol => Port, "protocol", Ty::Str, "`protocol`";
    PortExposure => Port, "exposure", Ty::Enum(E::Exposure), "`exposure` (unknown when absent)";
    PortExposedPort => Port, "exposed_port", Ty::Num, "`exposed_port`";
    PortNodePort => Port, "node_port", Ty::Num, "`node_port`";

    ImageId => Image, "id", Ty::Str, "`id` (digest)";
    ImageFullName => Image, "full_name", Ty::Str, "`name.full_name`";
    ImageRegistry => Image, "registry", Ty::Str, "`name.registry`";
    ImageRemote => Image, "remote", Ty::Str, "`name.remote`";
    ImageTag => Image, "tag", Ty::Str, "`name.tag`";
    ImageCreated => Image, "created", Ty::Time, "`created`";
    ImageOs => Image, "os", Ty::Str, "`os`";
    ImageUser => Image, "user", Ty::Str, "`user`";
    ImageLabels => Image, "labels", Ty::Map, "`labels`";
    ImageEnv => Image, "env", Ty::StrList, "`env`";
    ImageScanned => Image, "scanned", Ty::Bool, "whether `scan` is present";
    ImageScanTime => Image, "scan_time", Ty::Time, "`scan.scanned_at`";
    ImageScanner => Image, "scanner", Ty::Str, "`scan.scanner`";
    ImageVerifiedBy => Image, "verified_by", Ty::StrList, "`signature.verified_by` (empty when absent)";

    LayerInstruction => Layer, "instruction", Ty::Str, "`instruction` (RUN, ADD, ...)";
    LayerValue => Layer, "value", Ty::Str, "`value`";
    LayerCreated => Layer, "created", Ty::Time, "`created`";

    ComponentName => Component, "name", Ty::Str, "`name`";
    ComponentVersion => Component, "version", Ty::Str, "`version`";
    ComponentType => Component, "type", Ty::Str, "`type`";
    ComponentLocation => Component, "location", Ty::Str, "`location`";
    ComponentLayerIndex => Component, "layer_index", Ty::Num, "`layer_index`";

    VulnId => Vuln, "id", Ty::Str, "`id` (CVE)";
    VulnCvss => Vuln, "cvss", Ty::Num, "`cvss`";
    VulnNvdCvss => Vuln, "nvd_cvss", Ty::Num, "`nvd_cvss`";
    VulnSeverity => Vuln, "severity", Ty::Enum(E::Severity), "`severity` (ordered)";
    VulnFixedBy => Vuln, "fixed_by", Ty::Str, "`fixed_by` (\"\" means no fix)";
    VulnFixable => Vuln, "fixable", Ty::Bool, "`fixed_by` is not empty (unknown when absent)";
    VulnPublished => Vuln, "published", Ty::Time, "`published`";
    VulnFixAvailableAt => Vuln, "fix_available_at", Ty::Time, "`fix_available_at`";
    VulnFirstImageOccurrence => Vuln, "first_image_occurrence", Ty::Time, "`first_image_occurrence`";
    VulnFirstSystemOccurrence => Vuln, "first_system_occurrence", Ty::Time, "`first_system_occurrence`";
    VulnEpss => Vuln, "epss", Ty::Num, "`epss`";
    VulnKnownExploited => Vuln, "known_exploited", Ty::Bool, "`known_exploited`";
    VulnSuppressed => Vuln, "suppressed", Ty::Bool, "`suppressed` (false when absent)";
    VulnState => Vuln, "state", Ty::Enum(E::VulnState), "`state` (observed when absent)";

    ProcessId => Process, "id", Ty::Str, "`id`";
    ProcessName => Process, "name", Ty::Str, "`name`";
    ProcessExecPath => Process, "exec_path", Ty::Str, "`exec_path`";
    ProcessArgs => Process, "args", Ty::Str, "`args`";
    ProcessUid => Process, "uid", Ty::Num, "`uid`";
    ProcessGid => Process, "gid", Ty::Num, "`gid`";
    ProcessLineage => Process, "lineage", Ty::StrList, "`lineage` (ancestor exec paths)";
    ProcessContainerName => Process, "container", Ty::Str, "`container`";
    ProcessPod => Process, "pod", Ty::Str, "`pod`";
    ProcessNamespace => Process, "namespace", Ty::Str, "`namespace`";
    ProcessTime => Process, "time", Ty::Time, "`time`";
    ProcessOutsideBaseline => Process, "outside_baseline", Ty::Bool, "a locked baseline exists for the container and lacks `exec_path` (processes within the baseline's startup window of their container's start are exempt)";
    ProcessBaseline => Process, "baseline", Ty::Str, "the name of the container's baseline (`namespace/workload/container`)";
    ProcessWorkload => Process, "workload", Ty::Str, "`deployment`, else the workload derived from `pod` (`api-7d4b9c5f6-x2x9z` gives `api`)";

    EventId => Event, "id", Ty::Str, "`id`";
    EventResource => Event, "resource", Ty::Enum(E::KubeResource), "`resource`";
    EventVerb => Event, "verb", Ty::Enum(E::KubeVerb), "`verb`";
    EventObjectName => Event, "object_name", Ty::Str, "`object_name`";
    EventUsername => Event, "username", Ty::Str, "`user.username`";
    EventGroups => Event, "groups", Ty::StrList, "`user.groups`";
    EventImpersonated => Event, "impersonated", Ty::Bool, "`impersonated_user` is set";
    EventSourceIps => Event, "source_ips", Ty::StrList, "`source_ips`";
    EventUserAgent => Event, "user_agent", Ty::Str, "`user_agent`";
    EventNamespace => Event, "namespace", Ty::Str, "`namespace`";
    EventPod => Event, "pod", Ty::Str, "`pod`";
    EventContainer => Event, "container", Ty::Str, "`container`";
    EventCommand => Event, "command", Ty::StrList, "`command`";
    EventTime => Event, "time", Ty::Time, "`time`";

    FlowId => Flow, "id", Ty::Str, "`id`";
    FlowSourceName => Flow, "source_name", Ty::Str, "`source.name`";
    FlowSourceNamespace => Flow, "source_namespace", Ty::Str, "`source.namespace`";
    FlowDestinationType => Flow, "destination_type", Ty::Enum(E::PeerType), "`destination.type`";
    FlowDestinationName => Flow, "destination_name", Ty::Str, "`destination.name`";
    FlowDestinationNamespace => Flow, "destination_namespace", Ty::Str, "`destination.namespace`";
    FlowDestinationCidr => Flow, "destination_cidr", Ty::Str, "`destination.cidr`";
    FlowPort => Flow, "port", Ty::Num, "`port`";
    FlowProtocol => Flow, "protocol", Ty::Str, "`protocol`";
    FlowNotInBaseline => Flow, "not_in_baseline", Ty::Bool, "`not_in_baseline`";
    FlowTime => Flow, "time", Ty::Time, "`time`";

    EntryKey => Entry, "key", Ty::Str, "the entry's key";
    EntryValue => Entry, "value", Ty::Str, "the entry's value";
    ElementValue => Element, "value", Ty::Str, "the element itself";
}

impl FieldId {
    /// The field's static description.
    pub fn def(self) -> &'static FieldDef {
        // FIELDS is declared in FieldId order.
        &FIELDS[self as usize]
    }
    /// Looks a field up by subject and name.
    pub fn lookup(subject: Subject, name: &str) -> Option<FieldId> {
        let owner = subject.field_owner();
        FIELDS
            .iter()
            .find(|f| f.subject == owner && f.name == name)
            .map(|f| f.id)
    }
    /// Field names of a subject (for "did you mean").
    pub fn names_of(subject: Subject) -> impl Iterator<Item = &'static str> {
        let owner = subject.field_owner();
        FIELDS
            .iter()
            .filter(move |f| f.subject == owner)
            .map(|f| f.name)
    }
    /// The number of fields.
    pub fn count() -> usize {
        FIELDS.len()
    }
    /// The field with index `i` (for verifying serialized bundles).
    pub fn from_index(i: usize) -> Option<FieldId> {
        FIELDS.get(i).map(|f| f.id)
    }
}

/// SOC 2 Trust Services Criteria (2017) ids a policy may cite.
pub fn is_soc2_criterion(id: &str) -> bool {
    crate::soc2::criteria().any(|c| c == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_table_is_in_id_order() {
        for (i, f) in FIELDS.iter().enumerate() {
            assert_eq!(f.id as usize, i, "{:?}", f.id);
            assert_eq!(f.id.def().name, f.name);
        }
    }

    #[test]
    fn record_enum_values_match_loosely() {
        assert_eq!(
            EnumKind::Seccomp.index_of_record_value("RuntimeDefault"),
            Some(1)
        );
        assert_eq!(
            EnumKind::Seccomp.index_of_record_value("RUNTIME_DEFAULT"),
            Some(1)
        );
        assert_eq!(
            EnumKind::Severity.index_of_record_value("IMPORTANT_VULNERABILITY_SEVERITY"),
            Some(3)
        );
        assert_eq!(
            EnumKind::Severity.index_of_record_value("moderate"),
            Some(2)
        );
        assert_eq!(
            EnumKind::Propagation.index_of_record_value("HostToContainer"),
            Some(1)
        );
        assert_eq!(EnumKind::Exposure.index_of_record_value("bogus"), None);
    }

    #[test]
    fn soc2_ids() {
        assert!(is_soc2_criterion("CC6.1"));
        assert!(is_soc2_criterion("PI1.3"));
        assert!(!is_soc2_criterion("CC6.9"));
        assert!(!is_soc2_criterion("cc6.1"));
    }
}
