//! Reading records: the objects a binding can hold, the values of their fields, and the
//! children a link yields. Shared by the compiled matcher and the reference evaluator;
//! nothing here allocates.

use crate::dataset::{Dataset, EventJoin};
use crate::record::*;
use palisade_lang::schema::{FieldId, Link};

/// What one evaluation sees besides the bound objects.
#[derive(Clone, Copy)]
pub struct Ctx<'r> {
    /// The dataset, for image joins.
    pub dataset: &'r Dataset,
    /// The event's joins (runtime records).
    pub join: EventJoin<'r>,
    /// "Now", Unix seconds.
    pub now: i64,
}

/// An object bound while a condition is evaluated.
#[derive(Clone, Copy, Debug, Default)]
pub enum Obj<'r> {
    /// Nothing bound.
    #[default]
    None,
    /// A deployment.
    Deployment(&'r Deployment),
    /// A container.
    Container(&'r Container),
    /// An environment variable.
    Env(&'r EnvVar),
    /// A volume.
    Volume(&'r Volume),
    /// A deployment port.
    Port(&'r DeploymentPort),
    /// An image.
    Image(&'r Image),
    /// A layer.
    Layer(&'r Layer),
    /// A component.
    Component(&'r Component),
    /// A vulnerability.
    Vuln(&'r Vuln),
    /// A process event.
    Process(&'r Process),
    /// A Kubernetes event.
    Event(&'r KubeEvent),
    /// A network flow.
    Flow(&'r NetworkFlow),
    /// A map entry.
    Entry(&'r String, &'r String),
    /// A list element.
    Element(&'r String),
}

/// A field's value.
#[derive(Clone, Copy, Debug)]
pub enum Val<'r> {
    /// Not present in the record.
    Missing,
    /// A boolean.
    Bool(bool),
    /// A number.
    Num(f64),
    /// Text (also enum values, matched loosely).
    Str(&'r str),
    /// Unix seconds.
    Time(i64),
    /// A list of strings.
    List(&'r [String]),
    /// A map.
    Map(&'r StrMap),
}

fn s(v: &Option<String>) -> Val<'_> {
    v.as_deref().map_or(Val::Missing, Val::Str)
}
fn b(v: Option<bool>) -> Val<'static> {
    v.map_or(Val::Missing, Val::Bool)
}
fn n(v: Option<f64>) -> Val<'static> {
    v.map_or(Val::Missing, Val::Num)
}
fn t(v: Option<Timestamp>) -> Val<'static> {
    v.map_or(Val::Missing, |t| Val::Time(t.0))
}
fn l(v: &Option<Vec<String>>) -> Val<'_> {
    v.as_deref().map_or(Val::Missing, Val::List)
}
fn m(v: &Option<StrMap>) -> Val<'_> {
    v.as_ref().map_or(Val::Missing, Val::Map)
}

/// Reads `field` of `obj`. A field of another subject reads as missing.
pub fn field<'r>(obj: Obj<'r>, field: FieldId, ctx: &Ctx<'r>) -> Val<'r> {
    field_reader(field)(obj, ctx)
}

/// A reader of one field: the value of that field of an object, missing for an object of
/// another subject.
pub type FieldReader = for<'r> fn(Obj<'r>, &Ctx<'r>) -> Val<'r>;

/// A reader of `field` of one subject, `|object, ctx| value`, as a function pointer.
macro_rules! read {
    ($subject:ident, |$x:ident, $ctx:tt| $value:expr) => {
        |o, $ctx| match o {
            Obj::$subject($x) => $value,
            _ => Val::Missing,
        }
    };
}

/// The reader of `field`, chosen once (compiled conditions keep it) instead of matching
/// on the field at every read.
pub fn field_reader(field: FieldId) -> FieldReader {
    use FieldId as F;
    match field {
        F::DeploymentId => read!(Deployment, |d, _| Val::Str(&d.id)),
        F::DeploymentName => read!(Deployment, |d, _| Val::Str(&d.name)),
        F::DeploymentNamespace => read!(Deployment, |d, _| s(&d.namespace)),
        F::DeploymentCluster => read!(Deployment, |d, _| s(&d.cluster)),
        F::DeploymentClusterId => read!(Deployment, |d, _| s(&d.cluster_id)),
        F::DeploymentType => read!(Deployment, |d, _| s(&d.workload_type)),
        F::DeploymentReplicas => read!(Deployment, |d, _| n(d.replicas)),
        F::DeploymentServiceAccount => read!(Deployment, |d, _| s(&d.service_account)),
        F::DeploymentAutomountToken => {
            read!(Deployment, |d, _| b(d.automount_service_account_token))
        }
        F::DeploymentHostNetwork => read!(Deployment, |d, _| b(d.host_network)),
        F::DeploymentHostPid => read!(Deployment, |d, _| b(d.host_pid)),
        F::DeploymentHostIpc => read!(Deployment, |d, _| b(d.host_ipc)),
        F::DeploymentRbacLevel => read!(Deployment, |d, _| s(&d.rbac_permission_level)),
        F::DeploymentRuntimeClass => read!(Deployment, |d, _| s(&d.runtime_class)),
        F::DeploymentHasIngressPolicy => read!(Deployment, |d, _| b(d
            .network_policies
            .as_ref()
            .and_then(|p| p.has_ingress))),
        F::DeploymentHasEgressPolicy => read!(Deployment, |d, _| b(d
            .network_policies
            .as_ref()
            .and_then(|p| p.has_egress))),
        F::DeploymentLabels => read!(Deployment, |d, _| m(&d.labels)),
        F::DeploymentAnnotations => read!(Deployment, |d, _| m(&d.annotations)),
        F::DeploymentPodLabels => read!(Deployment, |d, _| m(&d.pod_labels)),
        F::DeploymentClusterLabels => read!(Deployment, |d, _| m(&d.cluster_labels)),
        F::DeploymentNamespaceLabels => read!(Deployment, |d, _| m(&d.namespace_labels)),
        F::DeploymentPullSecrets => read!(Deployment, |d, _| l(&d.image_pull_secrets)),
        F::ContainerName => read!(Container, |c, _| Val::Str(&c.name)),
        F::ContainerType => read!(Container, |c, _| Val::Str(
            c.container_type.as_deref().unwrap_or("regular")
        )),
        F::ContainerImageName => read!(Container, |c, _| c
            .image
            .as_ref()
            .and_then(|i| i.full_name())
            .map_or(Val::Missing, Val::Str)),
        F::ContainerCommand => read!(Container, |c, _| l(&c.command)),
        F::ContainerArgs => read!(Container, |c, _| l(&c.args)),
        F::ContainerPrivileged => read!(Container, |c, _| b(c
            .security_context
            .as_ref()
            .and_then(|x| x.privileged))),
        F::ContainerReadOnlyRootFs => read!(Container, |c, _| b(c
            .security_context
            .as_ref()
            .and_then(|x| x.read_only_root_filesystem))),
        F::ContainerAllowPrivilegeEscalation => read!(Container, |c, _| b(c
            .security_context
            .as_ref()
            .and_then(|x| x.allow_privilege_escalation))),
        F::ContainerRunAsUser => read!(Container, |c, _| n(c
            .security_context
            .as_ref()
            .and_then(|x| x.run_as_user))),
        F::ContainerRunAsNonRoot => read!(Container, |c, _| b(c
            .security_context
            .as_ref()
            .and_then(|x| x.run_as_non_root))),
        F::ContainerAddCapabilities => read!(Container, |c, _| c
            .security_context
            .as_ref()
            .map_or(Val::Missing, |x| l(&x.add_capabilities))),
        F::ContainerDropCapabilities => read!(Container, |c, _| c
            .security_context
            .as_ref()
            .map_or(Val::Missing, |x| l(&x.drop_capabilities))),
        F::ContainerSeccomp => read!(Container, |c, _| c
            .security_context
            .as_ref()
            .map_or(Val::Missing, |x| s(&x.seccomp_profile))),
        F::ContainerAppArmor => read!(Container, |c, _| c
            .security_context
            .as_ref()
            .map_or(Val::Missing, |x| s(&x.apparmor_profile))),
        F::ContainerCpuRequest => read!(Container, |c, _| n(c
            .resources
            .as_ref()
            .and_then(|r| r.cpu_request_cores))),
        F::ContainerCpuLimit => read!(Container, |c, _| n(c
            .resources
            .as_ref()
            .and_then(|r| r.cpu_limit_cores))),
        F::ContainerMemoryRequest => read!(Container, |c, _| n(c
            .resources
            .as_ref()
            .and_then(|r| r.memory_request_mb))),
        F::ContainerMemoryLimit => read!(Container, |c, _| n(c
            .resources
            .as_ref()
            .and_then(|r| r.memory_limit_mb))),
        F::ContainerLivenessProbe => read!(Container, |c, _| b(c.liveness_probe_defined)),
        F::ContainerReadinessProbe => read!(Container, |c, _| b(c.readiness_probe_defined)),
        F::ContainerSecretsMounted => read!(Container, |c, _| l(&c.secrets_mounted)),
        F::EnvName => read!(Env, |e, _| Val::Str(&e.name)),
        F::EnvValue => read!(Env, |e, _| s(&e.value)),
        F::EnvSource => read!(Env, |e, _| Val::Str(e.source.as_deref().unwrap_or("unset"))),
        F::EnvSecret => read!(Env, |e, _| s(&e.secret)),
        F::VolumeName => read!(Volume, |v, _| s(&v.name)),
        F::VolumeType => read!(Volume, |v, _| s(&v.volume_type)),
        F::VolumeSource => read!(Volume, |v, _| s(&v.source)),
        F::VolumeDestination => read!(Volume, |v, _| s(&v.destination)),
        F::VolumeReadOnly => read!(Volume, |v, _| b(v.read_only)),
        F::VolumePropagation => read!(Volume, |v, _| s(&v.mount_propagation)),
        F::PortContainerPort => read!(Port, |p, _| n(p.container_port)),
        F::PortProtocol => read!(Port, |p, _| s(&p.protocol)),
        F::PortExposure => read!(Port, |p, _| s(&p.exposure)),
        F::PortExposedPort => read!(Port, |p, _| n(p.exposed_port)),
        F::PortNodePort => read!(Port, |p, _| n(p.node_port)),
        F::ImageId => read!(Image, |i, _| s(&i.id)),
        F::ImageFullName => read!(Image, |i, _| i
            .name
            .as_ref()
            .map_or(Val::Missing, |x| s(&x.full_name))),
        F::ImageRegistry => read!(Image, |i, _| i
            .name
            .as_ref()
            .map_or(Val::Missing, |x| s(&x.registry))),
        F::ImageRemote => read!(Image, |i, _| i
            .name
            .as_ref()
            .map_or(Val::Missing, |x| s(&x.remote))),
        F::ImageTag => read!(Image, |i, _| i
            .name
            .as_ref()
            .map_or(Val::Missing, |x| s(&x.tag))),
        F::ImageCreated => read!(Image, |i, _| t(i.created)),
        F::ImageOs => read!(Image, |i, _| s(&i.os)),
        F::ImageUser => read!(Image, |i, _| s(&i.user)),
        F::ImageLabels => read!(Image, |i, _| m(&i.labels)),
        F::ImageEnv => read!(Image, |i, _| l(&i.env)),
        F::ImageScanned => read!(Image, |i, _| Val::Bool(i.scan.is_some())),
        F::ImageScanTime => read!(Image, |i, _| t(i.scan.as_ref().and_then(|x| x.scanned_at))),
        F::ImageScanner => read!(Image, |i, _| i
            .scan
            .as_ref()
            .map_or(Val::Missing, |x| s(&x.scanner))),
        F::ImageVerifiedBy => read!(Image, |i, _| Val::List(
            i.signature
                .as_ref()
                .and_then(|x| x.verified_by.as_deref())
                .unwrap_or(&[]),
        )),
        F::LayerInstruction => read!(Layer, |x, _| s(&x.instruction)),
        F::LayerValue => read!(Layer, |x, _| s(&x.value)),
        F::LayerCreated => read!(Layer, |x, _| t(x.created)),
        F::ComponentName => read!(Component, |c, _| s(&c.name)),
        F::ComponentVersion => read!(Component, |c, _| s(&c.version)),
        F::ComponentType => read!(Component, |c, _| s(&c.component_type)),
        F::ComponentLocation => read!(Component, |c, _| s(&c.location)),
        F::ComponentLayerIndex => read!(Component, |c, _| n(c.layer_index)),
        F::VulnId => read!(Vuln, |v, _| s(&v.id)),
        F::VulnCvss => read!(Vuln, |v, _| n(v.cvss)),
        F::VulnNvdCvss => read!(Vuln, |v, _| n(v.nvd_cvss)),
        F::VulnSeverity => read!(Vuln, |v, _| s(&v.severity)),
        F::VulnFixedBy => read!(Vuln, |v, _| s(&v.fixed_by)),
        F::VulnFixable => read!(Vuln, |v, _| v
            .fixed_by
            .as_deref()
            .map_or(Val::Missing, |x| Val::Bool(!x.is_empty()))),
        F::VulnPublished => read!(Vuln, |v, _| t(v.published)),
        F::VulnFixAvailableAt => read!(Vuln, |v, _| t(v.fix_available_at)),
        F::VulnFirstImageOccurrence => read!(Vuln, |v, _| t(v.first_image_occurrence)),
        F::VulnFirstSystemOccurrence => read!(Vuln, |v, _| t(v.first_system_occurrence)),
        F::VulnEpss => read!(Vuln, |v, _| n(v.epss)),
        F::VulnKnownExploited => read!(Vuln, |v, _| b(v.known_exploited)),
        F::VulnSuppressed => read!(Vuln, |v, _| Val::Bool(v.suppressed.unwrap_or(false))),
        F::VulnState => read!(Vuln, |v, _| Val::Str(
            v.state.as_deref().unwrap_or("observed")
        )),
        F::ProcessId => read!(Process, |p, _| Val::Str(&p.id)),
        F::ProcessName => read!(Process, |p, _| s(&p.name)),
        F::ProcessExecPath => read!(Process, |p, _| s(&p.exec_path)),
        F::ProcessArgs => read!(Process, |p, _| s(&p.args)),
        F::ProcessUid => read!(Process, |p, _| n(p.uid)),
        F::ProcessGid => read!(Process, |p, _| n(p.gid)),
        F::ProcessLineage => read!(Process, |p, _| l(&p.lineage)),
        F::ProcessContainerName => read!(Process, |p, _| s(&p.container)),
        F::ProcessPod => read!(Process, |p, _| s(&p.pod)),
        F::ProcessNamespace => read!(Process, |p, _| s(&p.namespace)),
        F::ProcessTime => read!(Process, |p, _| t(p.time)),
        F::ProcessOutsideBaseline => read!(Process, |_p, ctx| Val::Bool(ctx.join.outside_baseline)),
        F::EventId => read!(Event, |e, _| Val::Str(&e.id)),
        F::EventResource => read!(Event, |e, _| s(&e.resource)),
        F::EventVerb => read!(Event, |e, _| s(&e.verb)),
        F::EventObjectName => read!(Event, |e, _| s(&e.object_name)),
        F::EventUsername => read!(Event, |e, _| e
            .user
            .as_ref()
            .map_or(Val::Missing, |u| s(&u.username))),
        F::EventGroups => read!(Event, |e, _| e
            .user
            .as_ref()
            .map_or(Val::Missing, |u| l(&u.groups))),
        F::EventImpersonated => read!(Event, |e, _| Val::Bool(e.impersonated_user.is_some())),
        F::EventSourceIps => read!(Event, |e, _| l(&e.source_ips)),
        F::EventUserAgent => read!(Event, |e, _| s(&e.user_agent)),
        F::EventNamespace => read!(Event, |e, _| s(&e.namespace)),
        F::EventPod => read!(Event, |e, _| s(&e.pod)),
        F::EventContainer => read!(Event, |e, _| s(&e.container)),
        F::EventCommand => read!(Event, |e, _| l(&e.command)),
        F::EventTime => read!(Event, |e, _| t(e.time)),
        F::FlowId => read!(Flow, |x, _| Val::Str(&x.id)),
        F::FlowSourceName => read!(Flow, |x, _| x
            .source
            .as_ref()
            .map_or(Val::Missing, |p| s(&p.name))),
        F::FlowSourceNamespace => read!(Flow, |x, _| x
            .source
            .as_ref()
            .map_or(Val::Missing, |p| s(&p.namespace))),
        F::FlowDestinationType => read!(Flow, |x, _| x
            .destination
            .as_ref()
            .map_or(Val::Missing, |p| s(&p.peer_type))),
        F::FlowDestinationName => read!(Flow, |x, _| x
            .destination
            .as_ref()
            .map_or(Val::Missing, |p| s(&p.name))),
        F::FlowDestinationNamespace => read!(Flow, |x, _| x
            .destination
            .as_ref()
            .map_or(Val::Missing, |p| s(&p.namespace))),
        F::FlowDestinationCidr => read!(Flow, |x, _| x
            .destination
            .as_ref()
            .map_or(Val::Missing, |p| s(&p.cidr))),
        F::FlowPort => read!(Flow, |x, _| n(x.port)),
        F::FlowProtocol => read!(Flow, |x, _| s(&x.protocol)),
        F::FlowNotInBaseline => read!(Flow, |x, _| b(x.not_in_baseline)),
        F::FlowTime => read!(Flow, |x, _| t(x.time)),
        F::EntryKey => |o, _| match o {
            Obj::Entry(k, _) => Val::Str(k),
            _ => Val::Missing,
        },
        F::EntryValue => |o, _| match o {
            Obj::Entry(_, v) => Val::Str(v),
            _ => Val::Missing,
        },
        F::ElementValue => read!(Element, |e, _| Val::Str(e)),
    }
}

/// The objects a link yields from `obj`, or `None` when that part of the record is unknown.
pub fn children<'r>(obj: Obj<'r>, link: Link, ctx: &Ctx<'r>) -> Option<Children<'r>> {
    Some(match (obj, link) {
        (Obj::Deployment(d), Link::DeploymentContainers) => {
            Children::Containers(d.containers.iter())
        }
        (Obj::Deployment(d), Link::DeploymentPorts) => Children::Ports(d.ports.as_deref()?.iter()),
        (Obj::Container(c), Link::ContainerEnv) => Children::Env(c.env.as_deref()?.iter()),
        (Obj::Container(c), Link::ContainerVolumes) => {
            Children::Volumes(c.volumes.as_deref()?.iter())
        }
        (Obj::Container(c), Link::ContainerImage) => {
            Children::One(Some(Obj::Image(ctx.dataset.image_of(c)?)))
        }
        (Obj::Image(i), Link::ImageLayers) => Children::Layers(i.layers.as_deref()?.iter()),
        (Obj::Image(i), Link::ImageComponents) => {
            Children::Components(i.scan.as_ref()?.components.as_deref().unwrap_or(&[]).iter())
        }
        (Obj::Component(c), Link::ComponentVulns) => {
            Children::Vulns(c.vulns.as_deref().unwrap_or(&[]).iter(), true)
        }
        (Obj::Component(c), Link::ComponentReportedVulns) => {
            Children::Vulns(c.vulns.as_deref().unwrap_or(&[]).iter(), false)
        }
        (Obj::Process(_) | Obj::Event(_) | Obj::Flow(_), Link::EventDeployment) => {
            Children::One(Some(Obj::Deployment(ctx.join.deployment?)))
        }
        (Obj::Process(_), Link::ProcessContainer) => {
            Children::One(Some(Obj::Container(ctx.join.container?)))
        }
        (o, Link::Elements(f)) => match field(o, f, ctx) {
            Val::List(items) => Children::Elements(items.iter()),
            _ => return None,
        },
        (o, Link::Entries(f)) => match field(o, f, ctx) {
            Val::Map(map) => Children::Entries(map.iter()),
            _ => return None,
        },
        _ => return None,
    })
}

/// An iterator over the objects a link yields.
pub enum Children<'r> {
    /// Containers.
    Containers(std::slice::Iter<'r, Container>),
    /// Ports.
    Ports(std::slice::Iter<'r, DeploymentPort>),
    /// Env vars.
    Env(std::slice::Iter<'r, EnvVar>),
    /// Volumes.
    Volumes(std::slice::Iter<'r, Volume>),
    /// Layers.
    Layers(std::slice::Iter<'r, Layer>),
    /// Components.
    Components(std::slice::Iter<'r, Component>),
    /// Vulnerabilities; `true`: active ones only.
    Vulns(std::slice::Iter<'r, Vuln>, bool),
    /// List elements.
    Elements(std::slice::Iter<'r, String>),
    /// Map entries.
    Entries(std::collections::btree_map::Iter<'r, String, String>),
    /// Zero or one object.
    One(Option<Obj<'r>>),
}

impl<'r> Children<'r> {
    /// Calls `f` on each object until it returns false; false when it stopped early. The
    /// kind of children is matched once, not per object as [`Iterator::next`] does.
    #[inline(always)]
    pub fn each_while(self, mut f: impl FnMut(Obj<'r>) -> bool) -> bool {
        match self {
            Children::Containers(it) => it.map(Obj::Container).all(&mut f),
            Children::Ports(it) => it.map(Obj::Port).all(&mut f),
            Children::Env(it) => it.map(Obj::Env).all(&mut f),
            Children::Volumes(it) => it.map(Obj::Volume).all(&mut f),
            Children::Layers(it) => it.map(Obj::Layer).all(&mut f),
            Children::Components(it) => it.map(Obj::Component).all(&mut f),
            Children::Vulns(mut it, active) => it
                .by_ref()
                .filter(|v| !active || v.is_active())
                .map(Obj::Vuln)
                .all(&mut f),
            Children::Elements(it) => it.map(Obj::Element).all(&mut f),
            Children::Entries(it) => it.map(|(k, v)| Obj::Entry(k, v)).all(&mut f),
            Children::One(o) => o.is_none_or(f),
        }
    }
}

impl<'r> Iterator for Children<'r> {
    type Item = Obj<'r>;
    fn next(&mut self) -> Option<Obj<'r>> {
        match self {
            Children::Containers(it) => it.next().map(Obj::Container),
            Children::Ports(it) => it.next().map(Obj::Port),
            Children::Env(it) => it.next().map(Obj::Env),
            Children::Volumes(it) => it.next().map(Obj::Volume),
            Children::Layers(it) => it.next().map(Obj::Layer),
            Children::Components(it) => it.next().map(Obj::Component),
            Children::Vulns(it, active) => it.find(|v| !*active || v.is_active()).map(Obj::Vuln),
            Children::Elements(it) => it.next().map(Obj::Element),
            Children::Entries(it) => it.next().map(|(k, v)| Obj::Entry(k, v)),
            Children::One(o) => o.take(),
        }
    }
}

/// Renders a value for messages and explanations.
pub fn display(v: Val<'_>) -> String {
    match v {
        Val::Missing => "<missing>".into(),
        Val::Bool(b) => b.to_string(),
        Val::Num(x) => format_num(x),
        Val::Str(s) => s.to_string(),
        Val::Time(t) => chrono::DateTime::from_timestamp(t, 0)
            .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_else(|| t.to_string()),
        Val::List(items) => format!("[{}]", items.join(", ")),
        Val::Map(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Formats a number without a trailing `.0` for integers.
pub fn format_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}
