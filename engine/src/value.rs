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
    use FieldId as F;
    match (obj, field) {
        (Obj::Deployment(d), f) => match f {
            F::DeploymentId => Val::Str(&d.id),
            F::DeploymentName => Val::Str(&d.name),
            F::DeploymentNamespace => s(&d.namespace),
            F::DeploymentCluster => s(&d.cluster),
            F::DeploymentClusterId => s(&d.cluster_id),
            F::DeploymentType => s(&d.workload_type),
            F::DeploymentReplicas => n(d.replicas),
            F::DeploymentServiceAccount => s(&d.service_account),
            F::DeploymentAutomountToken => b(d.automount_service_account_token),
            F::DeploymentHostNetwork => b(d.host_network),
            F::DeploymentHostPid => b(d.host_pid),
            F::DeploymentHostIpc => b(d.host_ipc),
            F::DeploymentRbacLevel => s(&d.rbac_permission_level),
            F::DeploymentRuntimeClass => s(&d.runtime_class),
            F::DeploymentHasIngressPolicy => {
                b(d.network_policies.as_ref().and_then(|p| p.has_ingress))
            }
            F::DeploymentHasEgressPolicy => {
                b(d.network_policies.as_ref().and_then(|p| p.has_egress))
            }
            F::DeploymentLabels => m(&d.labels),
            F::DeploymentAnnotations => m(&d.annotations),
            F::DeploymentPodLabels => m(&d.pod_labels),
            F::DeploymentClusterLabels => m(&d.cluster_labels),
            F::DeploymentNamespaceLabels => m(&d.namespace_labels),
            F::DeploymentPullSecrets => l(&d.image_pull_secrets),
            _ => Val::Missing,
        },
        (Obj::Container(c), f) => {
            let sc = c.security_context.as_ref();
            let res = c.resources.as_ref();
            match f {
                F::ContainerName => Val::Str(&c.name),
                F::ContainerType => Val::Str(c.container_type.as_deref().unwrap_or("regular")),
                F::ContainerImageName => c
                    .image
                    .as_ref()
                    .and_then(|i| i.full_name())
                    .map_or(Val::Missing, Val::Str),
                F::ContainerCommand => l(&c.command),
                F::ContainerArgs => l(&c.args),
                F::ContainerPrivileged => b(sc.and_then(|x| x.privileged)),
                F::ContainerReadOnlyRootFs => b(sc.and_then(|x| x.read_only_root_filesystem)),
                F::ContainerAllowPrivilegeEscalation => {
                    b(sc.and_then(|x| x.allow_privilege_escalation))
                }
                F::ContainerRunAsUser => n(sc.and_then(|x| x.run_as_user)),
                F::ContainerRunAsNonRoot => b(sc.and_then(|x| x.run_as_non_root)),
                F::ContainerAddCapabilities => sc.map_or(Val::Missing, |x| l(&x.add_capabilities)),
                F::ContainerDropCapabilities => {
                    sc.map_or(Val::Missing, |x| l(&x.drop_capabilities))
                }
                F::ContainerSeccomp => sc.map_or(Val::Missing, |x| s(&x.seccomp_profile)),
                F::ContainerAppArmor => sc.map_or(Val::Missing, |x| s(&x.apparmor_profile)),
                F::ContainerCpuRequest => n(res.and_then(|r| r.cpu_request_cores)),
                F::ContainerCpuLimit => n(res.and_then(|r| r.cpu_limit_cores)),
                F::ContainerMemoryRequest => n(res.and_then(|r| r.memory_request_mb)),
                F::ContainerMemoryLimit => n(res.and_then(|r| r.memory_limit_mb)),
                F::ContainerLivenessProbe => b(c.liveness_probe_defined),
                F::ContainerReadinessProbe => b(c.readiness_probe_defined),
                F::ContainerSecretsMounted => l(&c.secrets_mounted),
                _ => Val::Missing,
            }
        }
        (Obj::Env(e), f) => match f {
            F::EnvName => Val::Str(&e.name),
            F::EnvValue => s(&e.value),
            F::EnvSource => Val::Str(e.source.as_deref().unwrap_or("unset")),
            F::EnvSecret => s(&e.secret),
            _ => Val::Missing,
        },
        (Obj::Volume(v), f) => match f {
            F::VolumeName => s(&v.name),
            F::VolumeType => s(&v.volume_type),
            F::VolumeSource => s(&v.source),
            F::VolumeDestination => s(&v.destination),
            F::VolumeReadOnly => b(v.read_only),
            F::VolumePropagation => s(&v.mount_propagation),
            _ => Val::Missing,
        },
        (Obj::Port(p), f) => match f {
            F::PortContainerPort => n(p.container_port),
            F::PortProtocol => s(&p.protocol),
            F::PortExposure => s(&p.exposure),
            F::PortExposedPort => n(p.exposed_port),
            F::PortNodePort => n(p.node_port),
            _ => Val::Missing,
        },
        (Obj::Image(i), f) => {
            let name = i.name.as_ref();
            match f {
                F::ImageId => s(&i.id),
                F::ImageFullName => name.map_or(Val::Missing, |x| s(&x.full_name)),
                F::ImageRegistry => name.map_or(Val::Missing, |x| s(&x.registry)),
                F::ImageRemote => name.map_or(Val::Missing, |x| s(&x.remote)),
                F::ImageTag => name.map_or(Val::Missing, |x| s(&x.tag)),
                F::ImageCreated => t(i.created),
                F::ImageOs => s(&i.os),
                F::ImageUser => s(&i.user),
                F::ImageLabels => m(&i.labels),
                F::ImageEnv => l(&i.env),
                F::ImageScanned => Val::Bool(i.scan.is_some()),
                F::ImageScanTime => t(i.scan.as_ref().and_then(|x| x.scanned_at)),
                F::ImageScanner => i.scan.as_ref().map_or(Val::Missing, |x| s(&x.scanner)),
                F::ImageVerifiedBy => Val::List(
                    i.signature
                        .as_ref()
                        .and_then(|x| x.verified_by.as_deref())
                        .unwrap_or(&[]),
                ),
                _ => Val::Missing,
            }
        }
        (Obj::Layer(x), f) => match f {
            F::LayerInstruction => s(&x.instruction),
            F::LayerValue => s(&x.value),
            F::LayerCreated => t(x.created),
            _ => Val::Missing,
        },
        (Obj::Component(c), f) => match f {
            F::ComponentName => s(&c.name),
            F::ComponentVersion => s(&c.version),
            F::ComponentType => s(&c.component_type),
            F::ComponentLocation => s(&c.location),
            F::ComponentLayerIndex => n(c.layer_index),
            _ => Val::Missing,
        },
        (Obj::Vuln(v), f) => match f {
            F::VulnId => s(&v.id),
            F::VulnCvss => n(v.cvss),
            F::VulnNvdCvss => n(v.nvd_cvss),
            F::VulnSeverity => s(&v.severity),
            F::VulnFixedBy => s(&v.fixed_by),
            F::VulnFixable => v
                .fixed_by
                .as_deref()
                .map_or(Val::Missing, |x| Val::Bool(!x.is_empty())),
            F::VulnPublished => t(v.published),
            F::VulnFixAvailableAt => t(v.fix_available_at),
            F::VulnFirstImageOccurrence => t(v.first_image_occurrence),
            F::VulnFirstSystemOccurrence => t(v.first_system_occurrence),
            F::VulnEpss => n(v.epss),
            F::VulnKnownExploited => b(v.known_exploited),
            F::VulnSuppressed => Val::Bool(v.suppressed.unwrap_or(false)),
            F::VulnState => Val::Str(v.state.as_deref().unwrap_or("observed")),
            _ => Val::Missing,
        },
        (Obj::Process(p), f) => match f {
            F::ProcessId => Val::Str(&p.id),
            F::ProcessName => s(&p.name),
            F::ProcessExecPath => s(&p.exec_path),
            F::ProcessArgs => s(&p.args),
            F::ProcessUid => n(p.uid),
            F::ProcessGid => n(p.gid),
            F::ProcessLineage => l(&p.lineage),
            F::ProcessContainerName => s(&p.container),
            F::ProcessPod => s(&p.pod),
            F::ProcessNamespace => s(&p.namespace),
            F::ProcessTime => t(p.time),
            F::ProcessOutsideBaseline => Val::Bool(ctx.join.outside_baseline),
            _ => Val::Missing,
        },
        (Obj::Event(e), f) => match f {
            F::EventId => Val::Str(&e.id),
            F::EventResource => s(&e.resource),
            F::EventVerb => s(&e.verb),
            F::EventObjectName => s(&e.object_name),
            F::EventUsername => e.user.as_ref().map_or(Val::Missing, |u| s(&u.username)),
            F::EventGroups => e.user.as_ref().map_or(Val::Missing, |u| l(&u.groups)),
            F::EventImpersonated => Val::Bool(e.impersonated_user.is_some()),
            F::EventSourceIps => l(&e.source_ips),
            F::EventUserAgent => s(&e.user_agent),
            F::EventNamespace => s(&e.namespace),
            F::EventPod => s(&e.pod),
            F::EventContainer => s(&e.container),
            F::EventCommand => l(&e.command),
            F::EventTime => t(e.time),
            _ => Val::Missing,
        },
        (Obj::Flow(x), f) => {
            let src = x.source.as_ref();
            let dst = x.destination.as_ref();
            match f {
                F::FlowId => Val::Str(&x.id),
                F::FlowSourceName => src.map_or(Val::Missing, |p| s(&p.name)),
                F::FlowSourceNamespace => src.map_or(Val::Missing, |p| s(&p.namespace)),
                F::FlowDestinationType => dst.map_or(Val::Missing, |p| s(&p.peer_type)),
                F::FlowDestinationName => dst.map_or(Val::Missing, |p| s(&p.name)),
                F::FlowDestinationNamespace => dst.map_or(Val::Missing, |p| s(&p.namespace)),
                F::FlowDestinationCidr => dst.map_or(Val::Missing, |p| s(&p.cidr)),
                F::FlowPort => n(x.port),
                F::FlowProtocol => s(&x.protocol),
                F::FlowNotInBaseline => b(x.not_in_baseline),
                F::FlowTime => t(x.time),
                _ => Val::Missing,
            }
        }
        (Obj::Entry(k, _), F::EntryKey) => Val::Str(k),
        (Obj::Entry(_, v), F::EntryValue) => Val::Str(v),
        (Obj::Element(e), F::ElementValue) => Val::Str(e),
        _ => Val::Missing,
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
