//! Reading records: the objects a binding can hold, the values of their fields, and the
//! children a link yields. Shared by the compiled matcher and the reference evaluator;
//! nothing here allocates.

use crate::dataset::{Dataset, EventJoin};
use crate::record::*;
use palisade_lang::schema::{FieldId, Link};

/// What one evaluation sees besides the bound objects. Its clock is the evaluation's only
/// one: field ages, days since a CVE and exclusion expiry all read `now`.
#[derive(Clone, Copy)]
pub struct Ctx<'r> {
    /// The dataset, for image joins.
    pub dataset: &'r Dataset,
    /// The event's joins (runtime records).
    pub join: EventJoin<'r>,
    /// "Now", Unix seconds.
    pub now: i64,
}

impl<'r> Ctx<'r> {
    /// The context of evaluating `root` over `dataset` at `now` (Unix seconds), with the
    /// record's joins looked up in the dataset.
    pub fn new(dataset: &'r Dataset, root: Obj<'r>, now: i64) -> Ctx<'r> {
        Ctx {
            dataset,
            join: dataset.join(root),
            now,
        }
    }

    /// The context of evaluating an event whose joins were looked up earlier
    /// ([`Dataset::join_index`]); an error when `dataset` did not make `join` or changed since.
    pub fn with_join(
        dataset: &'r Dataset,
        join: crate::dataset::JoinIndex,
        now: i64,
    ) -> Result<Ctx<'r>, crate::dataset::StaleJoin> {
        Ok(Ctx {
            dataset,
            join: dataset.resolve_join(join)?,
            now,
        })
    }
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

/// `obj` as `$subject`, bound to `$x`, gives `$value`; an object of another subject reads
/// as missing.
macro_rules! of {
    ($obj:ident, $subject:ident, |$x:ident| $value:expr) => {
        match $obj {
            Obj::$subject($x) => $value,
            _ => Val::Missing,
        }
    };
}

/// The body of [`field`] and [`field_inline`].
macro_rules! read_field {
    ($obj:ident, $field:ident, $ctx:ident) => {{
        let (obj, field, ctx) = ($obj, $field, $ctx);
        use FieldId as F;
        match field {
            F::DeploymentId => of!(obj, Deployment, |d| Val::Str(&d.id)),
            F::DeploymentName => of!(obj, Deployment, |d| Val::Str(&d.name)),
            F::DeploymentNamespace => of!(obj, Deployment, |d| s(&d.namespace)),
            F::DeploymentCluster => of!(obj, Deployment, |d| s(&d.cluster)),
            F::DeploymentClusterId => of!(obj, Deployment, |d| s(&d.cluster_id)),
            F::DeploymentType => of!(obj, Deployment, |d| s(&d.workload_type)),
            F::DeploymentReplicas => of!(obj, Deployment, |d| n(d.replicas)),
            F::DeploymentServiceAccount => of!(obj, Deployment, |d| s(&d.service_account)),
            F::DeploymentAutomountToken => {
                of!(obj, Deployment, |d| b(d.automount_service_account_token))
            }
            F::DeploymentHostNetwork => of!(obj, Deployment, |d| b(d.host_network)),
            F::DeploymentHostPid => of!(obj, Deployment, |d| b(d.host_pid)),
            F::DeploymentHostIpc => of!(obj, Deployment, |d| b(d.host_ipc)),
            F::DeploymentRbacLevel => of!(obj, Deployment, |d| s(&d.rbac_permission_level)),
            F::DeploymentRuntimeClass => of!(obj, Deployment, |d| s(&d.runtime_class)),
            F::DeploymentHasIngressPolicy => of!(obj, Deployment, |d| b(d
                .network_policies
                .as_ref()
                .and_then(|p| p.has_ingress))),
            F::DeploymentHasEgressPolicy => of!(obj, Deployment, |d| b(d
                .network_policies
                .as_ref()
                .and_then(|p| p.has_egress))),
            F::DeploymentLabels => of!(obj, Deployment, |d| m(&d.labels)),
            F::DeploymentAnnotations => of!(obj, Deployment, |d| m(&d.annotations)),
            F::DeploymentPodLabels => of!(obj, Deployment, |d| m(&d.pod_labels)),
            F::DeploymentClusterLabels => of!(obj, Deployment, |d| m(&d.cluster_labels)),
            F::DeploymentNamespaceLabels => of!(obj, Deployment, |d| m(&d.namespace_labels)),
            F::DeploymentPullSecrets => of!(obj, Deployment, |d| l(&d.image_pull_secrets)),
            F::ContainerName => of!(obj, Container, |c| Val::Str(&c.name)),
            F::ContainerType => of!(obj, Container, |c| Val::Str(
                c.container_type.as_deref().unwrap_or("regular")
            )),
            F::ContainerImageName => of!(obj, Container, |c| c
                .image
                .as_ref()
                .and_then(|i| i.full_name())
                .map_or(Val::Missing, Val::Str)),
            F::ContainerCommand => of!(obj, Container, |c| l(&c.command)),
            F::ContainerArgs => of!(obj, Container, |c| l(&c.args)),
            F::ContainerPrivileged => of!(obj, Container, |c| b(c
                .security_context
                .as_ref()
                .and_then(|x| x.privileged))),
            F::ContainerReadOnlyRootFs => of!(obj, Container, |c| b(c
                .security_context
                .as_ref()
                .and_then(|x| x.read_only_root_filesystem))),
            F::ContainerAllowPrivilegeEscalation => of!(obj, Container, |c| b(c
                .security_context
                .as_ref()
                .and_then(|x| x.allow_privilege_escalation))),
            F::ContainerRunAsUser => of!(obj, Container, |c| n(c
                .security_context
                .as_ref()
                .and_then(|x| x.run_as_user))),
            F::ContainerRunAsNonRoot => of!(obj, Container, |c| b(c
                .security_context
                .as_ref()
                .and_then(|x| x.run_as_non_root))),
            F::ContainerAddCapabilities => of!(obj, Container, |c| c
                .security_context
                .as_ref()
                .map_or(Val::Missing, |x| l(&x.add_capabilities))),
            F::ContainerDropCapabilities => of!(obj, Container, |c| c
                .security_context
                .as_ref()
                .map_or(Val::Missing, |x| l(&x.drop_capabilities))),
            F::ContainerSeccomp => of!(obj, Container, |c| c
                .security_context
                .as_ref()
                .map_or(Val::Missing, |x| s(&x.seccomp_profile))),
            F::ContainerAppArmor => of!(obj, Container, |c| c
                .security_context
                .as_ref()
                .map_or(Val::Missing, |x| s(&x.apparmor_profile))),
            F::ContainerCpuRequest => of!(obj, Container, |c| n(c
                .resources
                .as_ref()
                .and_then(|r| r.cpu_request_cores))),
            F::ContainerCpuLimit => of!(obj, Container, |c| n(c
                .resources
                .as_ref()
                .and_then(|r| r.cpu_limit_cores))),
            F::ContainerMemoryRequest => of!(obj, Container, |c| n(c
                .resources
                .as_ref()
                .and_then(|r| r.memory_request_mb))),
            F::ContainerMemoryLimit => of!(obj, Container, |c| n(c
                .resources
                .as_ref()
                .and_then(|r| r.memory_limit_mb))),
            F::ContainerLivenessProbe => of!(obj, Container, |c| b(c.liveness_probe_defined)),
            F::ContainerReadinessProbe => of!(obj, Container, |c| b(c.readiness_probe_defined)),
            F::ContainerSecretsMounted => of!(obj, Container, |c| l(&c.secrets_mounted)),
            F::EnvName => of!(obj, Env, |e| Val::Str(&e.name)),
            F::EnvValue => of!(obj, Env, |e| s(&e.value)),
            F::EnvSource => of!(obj, Env, |e| Val::Str(
                e.source.as_deref().unwrap_or("unset")
            )),
            F::EnvSecret => of!(obj, Env, |e| s(&e.secret)),
            F::VolumeName => of!(obj, Volume, |v| s(&v.name)),
            F::VolumeType => of!(obj, Volume, |v| s(&v.volume_type)),
            F::VolumeSource => of!(obj, Volume, |v| s(&v.source)),
            F::VolumeDestination => of!(obj, Volume, |v| s(&v.destination)),
            F::VolumeReadOnly => of!(obj, Volume, |v| b(v.read_only)),
            F::VolumePropagation => of!(obj, Volume, |v| s(&v.mount_propagation)),
            F::PortContainerPort => of!(obj, Port, |p| n(p.container_port)),
            F::PortProtocol => of!(obj, Port, |p| s(&p.protocol)),
            F::PortExposure => of!(obj, Port, |p| s(&p.exposure)),
            F::PortExposedPort => of!(obj, Port, |p| n(p.exposed_port)),
            F::PortNodePort => of!(obj, Port, |p| n(p.node_port)),
            F::ImageId => of!(obj, Image, |i| s(&i.id)),
            F::ImageFullName => of!(obj, Image, |i| i
                .name
                .as_ref()
                .map_or(Val::Missing, |x| s(&x.full_name))),
            F::ImageRegistry => of!(obj, Image, |i| i
                .name
                .as_ref()
                .map_or(Val::Missing, |x| s(&x.registry))),
            F::ImageRemote => of!(obj, Image, |i| i
                .name
                .as_ref()
                .map_or(Val::Missing, |x| s(&x.remote))),
            F::ImageTag => of!(obj, Image, |i| i
                .name
                .as_ref()
                .map_or(Val::Missing, |x| s(&x.tag))),
            F::ImageCreated => of!(obj, Image, |i| t(i.created)),
            F::ImageOs => of!(obj, Image, |i| s(&i.os)),
            F::ImageUser => of!(obj, Image, |i| s(&i.user)),
            F::ImageLabels => of!(obj, Image, |i| m(&i.labels)),
            F::ImageEnv => of!(obj, Image, |i| l(&i.env)),
            F::ImageScanned => of!(obj, Image, |i| Val::Bool(i.scan.is_some())),
            F::ImageScanTime => of!(obj, Image, |i| t(i
                .scan
                .as_ref()
                .and_then(|x| x.scanned_at))),
            F::ImageScanner => of!(obj, Image, |i| i
                .scan
                .as_ref()
                .map_or(Val::Missing, |x| s(&x.scanner))),
            F::ImageVerifiedBy => of!(obj, Image, |i| Val::List(
                i.signature
                    .as_ref()
                    .and_then(|x| x.verified_by.as_deref())
                    .unwrap_or(&[]),
            )),
            F::LayerInstruction => of!(obj, Layer, |x| s(&x.instruction)),
            F::LayerValue => of!(obj, Layer, |x| s(&x.value)),
            F::LayerCreated => of!(obj, Layer, |x| t(x.created)),
            F::ComponentName => of!(obj, Component, |c| s(&c.name)),
            F::ComponentVersion => of!(obj, Component, |c| s(&c.version)),
            F::ComponentType => of!(obj, Component, |c| s(&c.component_type)),
            F::ComponentLocation => of!(obj, Component, |c| s(&c.location)),
            F::ComponentLayerIndex => of!(obj, Component, |c| n(c.layer_index)),
            F::VulnId => of!(obj, Vuln, |v| s(&v.id)),
            F::VulnCvss => of!(obj, Vuln, |v| n(v.cvss)),
            F::VulnNvdCvss => of!(obj, Vuln, |v| n(v.nvd_cvss)),
            F::VulnSeverity => of!(obj, Vuln, |v| s(&v.severity)),
            F::VulnFixedBy => of!(obj, Vuln, |v| s(&v.fixed_by)),
            F::VulnFixable => of!(obj, Vuln, |v| v
                .fixed_by
                .as_deref()
                .map_or(Val::Missing, |x| Val::Bool(!x.is_empty()))),
            F::VulnPublished => of!(obj, Vuln, |v| t(v.published)),
            F::VulnFixAvailableAt => of!(obj, Vuln, |v| t(v.fix_available_at)),
            F::VulnFirstImageOccurrence => of!(obj, Vuln, |v| t(v.first_image_occurrence)),
            F::VulnFirstSystemOccurrence => of!(obj, Vuln, |v| t(v.first_system_occurrence)),
            F::VulnEpss => of!(obj, Vuln, |v| n(v.epss)),
            F::VulnKnownExploited => of!(obj, Vuln, |v| b(v.known_exploited)),
            F::VulnSuppressed => of!(obj, Vuln, |v| Val::Bool(v.suppressed.unwrap_or(false))),
            F::VulnState => of!(obj, Vuln, |v| Val::Str(
                v.state.as_deref().unwrap_or("observed")
            )),
            F::ProcessId => of!(obj, Process, |p| Val::Str(&p.id)),
            F::ProcessName => of!(obj, Process, |p| s(&p.name)),
            F::ProcessExecPath => of!(obj, Process, |p| s(&p.exec_path)),
            F::ProcessArgs => of!(obj, Process, |p| s(&p.args)),
            F::ProcessUid => of!(obj, Process, |p| n(p.uid)),
            F::ProcessGid => of!(obj, Process, |p| n(p.gid)),
            F::ProcessLineage => of!(obj, Process, |p| l(&p.lineage)),
            F::ProcessContainerName => of!(obj, Process, |p| s(&p.container)),
            F::ProcessPod => of!(obj, Process, |p| s(&p.pod)),
            F::ProcessNamespace => of!(obj, Process, |p| s(&p.namespace)),
            F::ProcessTime => of!(obj, Process, |p| t(p.time)),
            F::ProcessOutsideBaseline => {
                of!(obj, Process, |_p| Val::Bool(ctx.join.outside_baseline))
            }
            F::ProcessBaseline => of!(obj, Process, |_p| ctx
                .join
                .baseline_name
                .map_or(Val::Missing, Val::Str)),
            F::ProcessWorkload => of!(obj, Process, |p| p
                .workload()
                .map_or(Val::Missing, Val::Str)),
            F::EventId => of!(obj, Event, |e| Val::Str(&e.id)),
            F::EventResource => of!(obj, Event, |e| s(&e.resource)),
            F::EventVerb => of!(obj, Event, |e| s(&e.verb)),
            F::EventObjectName => of!(obj, Event, |e| s(&e.object_name)),
            F::EventUsername => of!(obj, Event, |e| e
                .user
                .as_ref()
                .map_or(Val::Missing, |u| s(&u.username))),
            F::EventGroups => of!(obj, Event, |e| e
                .user
                .as_ref()
                .map_or(Val::Missing, |u| l(&u.groups))),
            F::EventImpersonated => of!(obj, Event, |e| Val::Bool(e.impersonated_user.is_some())),
            F::EventSourceIps => of!(obj, Event, |e| l(&e.source_ips)),
            F::EventUserAgent => of!(obj, Event, |e| s(&e.user_agent)),
            F::EventNamespace => of!(obj, Event, |e| s(&e.namespace)),
            F::EventPod => of!(obj, Event, |e| s(&e.pod)),
            F::EventContainer => of!(obj, Event, |e| s(&e.container)),
            F::EventCommand => of!(obj, Event, |e| l(&e.command)),
            F::EventTime => of!(obj, Event, |e| t(e.time)),
            F::FlowId => of!(obj, Flow, |x| Val::Str(&x.id)),
            F::FlowSourceName => of!(obj, Flow, |x| x
                .source
                .as_ref()
                .map_or(Val::Missing, |p| s(&p.name))),
            F::FlowSourceNamespace => of!(obj, Flow, |x| x
                .source
                .as_ref()
                .map_or(Val::Missing, |p| s(&p.namespace))),
            F::FlowDestinationType => of!(obj, Flow, |x| x
                .destination
                .as_ref()
                .map_or(Val::Missing, |p| s(&p.peer_type))),
            F::FlowDestinationName => of!(obj, Flow, |x| x
                .destination
                .as_ref()
                .map_or(Val::Missing, |p| s(&p.name))),
            F::FlowDestinationNamespace => of!(obj, Flow, |x| x
                .destination
                .as_ref()
                .map_or(Val::Missing, |p| s(&p.namespace))),
            F::FlowDestinationCidr => of!(obj, Flow, |x| x
                .destination
                .as_ref()
                .map_or(Val::Missing, |p| s(&p.cidr))),
            F::FlowPort => of!(obj, Flow, |x| n(x.port)),
            F::FlowProtocol => of!(obj, Flow, |x| s(&x.protocol)),
            F::FlowNotInBaseline => of!(obj, Flow, |x| b(x.not_in_baseline)),
            F::FlowTime => of!(obj, Flow, |x| t(x.time)),
            F::EntryKey => match obj {
                Obj::Entry(k, _) => Val::Str(k),
                _ => Val::Missing,
            },
            F::EntryValue => match obj {
                Obj::Entry(_, v) => Val::Str(v),
                _ => Val::Missing,
            },
            F::ElementValue => of!(obj, Element, |e| Val::Str(e)),
        }
    }};
}

/// Reads `field` of `obj`. A field of another subject reads as missing. (One jump on the
/// field, then a check of the subject: compiled conditions read fields constantly.)
pub fn field<'r>(obj: Obj<'r>, field: FieldId, ctx: &Ctx<'r>) -> Val<'r> {
    read_field!(obj, field, ctx)
}

/// [`field`], inlined where it is called: with the field a constant (generated code, see
/// [`crate::codegen`]) the jump folds away and only the read is left. (The same body as
/// [`field`], which stays one function for the matcher's closures.)
#[inline(always)]
pub fn field_inline<'r>(obj: Obj<'r>, field: FieldId, ctx: &Ctx<'r>) -> Val<'r> {
    read_field!(obj, field, ctx)
}

/// The body of [`children`] and [`children_inline`].
macro_rules! link_children {
    ($obj:ident, $link:ident, $ctx:ident) => {{
        let (obj, link, ctx) = ($obj, $link, $ctx);
        // `?` of a function body, in a block: `None` leaves with `None`.
        macro_rules! known {
            ($label:lifetime, $e:expr) => {
                match $e {
                    Some(x) => x,
                    None => break $label None,
                }
            };
        }
        'yields: {
            Some(match (obj, link) {
                (Obj::Deployment(d), Link::DeploymentContainers) => {
                    Children::Containers(d.containers.iter())
                }
                (Obj::Deployment(d), Link::DeploymentPorts) => {
                    Children::Ports(known!('yields, d.ports.as_deref()).iter())
                }
                (Obj::Container(c), Link::ContainerEnv) => {
                    Children::Env(known!('yields, c.env.as_deref()).iter())
                }
                (Obj::Container(c), Link::ContainerVolumes) => {
                    Children::Volumes(known!('yields, c.volumes.as_deref()).iter())
                }
                (Obj::Container(c), Link::ContainerImage) => {
                    Children::One(Some(Obj::Image(known!('yields, ctx.dataset.image_of(c)))))
                }
                (Obj::Image(i), Link::ImageLayers) => {
                    Children::Layers(known!('yields, i.layers.as_deref()).iter())
                }
                (Obj::Image(i), Link::ImageComponents) => Children::Components(
                    known!('yields, i.scan.as_ref())
                        .components
                        .as_deref()
                        .unwrap_or(&[])
                        .iter(),
                ),
                (Obj::Component(c), Link::ComponentVulns) => {
                    Children::Vulns(c.vulns.as_deref().unwrap_or(&[]).iter(), true)
                }
                (Obj::Component(c), Link::ComponentReportedVulns) => {
                    Children::Vulns(c.vulns.as_deref().unwrap_or(&[]).iter(), false)
                }
                (Obj::Process(_) | Obj::Event(_) | Obj::Flow(_), Link::EventDeployment) => {
                    Children::One(Some(Obj::Deployment(known!('yields, ctx.join.deployment))))
                }
                (Obj::Process(_), Link::ProcessContainer) => {
                    Children::One(Some(Obj::Container(known!('yields, ctx.join.container))))
                }
                (o, Link::Elements(f)) => match field(o, f, ctx) {
                    Val::List(items) => Children::Elements(items.iter()),
                    _ => break 'yields None,
                },
                (o, Link::Entries(f)) => match field(o, f, ctx) {
                    Val::Map(map) => Children::Entries(map.iter()),
                    _ => break 'yields None,
                },
                _ => break 'yields None,
            })
        }
    }};
}

/// The objects a link yields from `obj`, or `None` when that part of the record is unknown.
pub fn children<'r>(obj: Obj<'r>, link: Link, ctx: &Ctx<'r>) -> Option<Children<'r>> {
    link_children!(obj, link, ctx)
}

/// The components of image `obj` that list vulnerabilities, in order (the others, with no
/// vulnerability, left out), or `None` when the image was never scanned. For a condition
/// that is false on a component without vulnerabilities (`any` over its vulnerabilities,
/// and conjunctions with one), walking these gives what walking every component gives.
/// Without the dataset's index (an inline image, a dataset changed since
/// [`Dataset::finish`](crate::Dataset::finish)) every component is walked.
#[inline]
pub fn components_with_vulns<'r>(obj: Obj<'r>, ctx: &Ctx<'r>) -> Option<Children<'r>> {
    let Obj::Image(image) = obj else {
        return None;
    };
    let all = image.scan.as_ref()?.components.as_deref().unwrap_or(&[]);
    Some(match ctx.dataset.components_with_vulns(image) {
        Some(listed) => Children::Picked(all, listed.iter()),
        None => Children::Components(all.iter()),
    })
}

/// The place of `item` in `list`, when it is one of its elements (found by address, so
/// equal values elsewhere are not taken for it).
pub(crate) fn offset_in<T>(list: &[T], item: &T) -> Option<usize> {
    let size = std::mem::size_of::<T>();
    let offset = (item as *const T as usize).checked_sub(list.as_ptr() as usize)?;
    (size != 0 && offset % size == 0 && offset / size < list.len()).then_some(offset / size)
}

/// The place of `child` among the objects `link` reaches from `parent` (in the underlying
/// list, counting the ones [`children`] leaves out), for the links below an image:
/// layers, components, vulnerabilities and list elements. `None` for other
/// links, or when `child` is not one of them. [`child_at`] turns it back into `child`.
pub(crate) fn position_of<'r>(
    parent: Obj<'r>,
    link: Link,
    child: Obj<'r>,
    ctx: &Ctx<'r>,
) -> Option<u32> {
    let at = match (parent, link, child) {
        (Obj::Image(i), Link::ImageLayers, Obj::Layer(l)) => offset_in(i.layers.as_deref()?, l),
        (Obj::Image(i), Link::ImageComponents, Obj::Component(c)) => {
            offset_in(i.scan.as_ref()?.components.as_deref()?, c)
        }
        (Obj::Component(c), Link::ComponentVulns | Link::ComponentReportedVulns, Obj::Vuln(v)) => {
            offset_in(c.vulns.as_deref()?, v)
        }
        (_, Link::Elements(f), Obj::Element(e)) => match field(parent, f, ctx) {
            Val::List(items) => offset_in(items, e),
            _ => None,
        },
        // A map entry's place takes a walk of the map to find and to follow: entries are
        // not kept, and their images are walked each time.
        _ => None,
    };
    at.and_then(|at| u32::try_from(at).ok())
}

/// The object at place `at` among those `link` reaches from `parent` (see [`position_of`]).
pub(crate) fn child_at<'r>(parent: Obj<'r>, link: Link, at: u32, ctx: &Ctx<'r>) -> Option<Obj<'r>> {
    let at = at as usize;
    Some(match (parent, link) {
        (Obj::Image(i), Link::ImageLayers) => Obj::Layer(i.layers.as_deref()?.get(at)?),
        (Obj::Image(i), Link::ImageComponents) => {
            Obj::Component(i.scan.as_ref()?.components.as_deref()?.get(at)?)
        }
        (Obj::Component(c), Link::ComponentVulns | Link::ComponentReportedVulns) => {
            Obj::Vuln(c.vulns.as_deref()?.get(at)?)
        }
        (_, Link::Elements(f)) => match field(parent, f, ctx) {
            Val::List(items) => Obj::Element(items.get(at)?),
            _ => return None,
        },
        _ => return None,
    })
}

/// [`children`], inlined where it is called (see [`field_inline`]).
#[inline(always)]
pub fn children_inline<'r>(obj: Obj<'r>, link: Link, ctx: &Ctx<'r>) -> Option<Children<'r>> {
    link_children!(obj, link, ctx)
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
    /// The components at some indexes of a list (those that list vulnerabilities).
    Picked(&'r [Component], std::slice::Iter<'r, usize>),
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
            Children::Picked(all, it) => it
                .filter_map(|&i| all.get(i))
                .map(Obj::Component)
                .all(&mut f),
            Children::Vulns(it, active) => it
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
            Children::Picked(all, it) => it.find_map(|&i| all.get(i)).map(Obj::Component),
            Children::Vulns(it, active) => it.find(|v| !*active || v.is_active()).map(Obj::Vuln),
            Children::Elements(it) => it.next().map(Obj::Element),
            Children::Entries(it) => it.next().map(|(k, v)| Obj::Entry(k, v)),
            Children::One(o) => o.take(),
        }
    }
}

/// Appends [`display`] of `v` to `out` (a string without a copy of its own).
pub fn display_into(out: &mut String, v: Val<'_>) {
    match v {
        Val::Str(s) => out.push_str(s),
        other => out.push_str(&display(other)),
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
