//! Serde types for the records of `records.md` (v1). Unknown keys are ignored; absent
//! optional fields stay `None`, which the matcher treats as unknown.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

/// A string-to-string map (labels, annotations).
pub type StrMap = BTreeMap<String, String>;

/// An RFC 3339 time as Unix seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub i64);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Timestamp::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "invalid timestamp `{s}`: expected RFC 3339 such as 2024-03-01T12:00:00Z"
            ))
        })
    }
}

impl Timestamp {
    /// RFC 3339 in UTC with seconds (`2024-03-01T12:00:00Z`); `None` past year 9999.
    pub fn rfc3339(self) -> Option<String> {
        chrono::DateTime::from_timestamp(self.0, 0)
            .filter(|t| chrono::Datelike::year(t) <= 9999 && chrono::Datelike::year(t) >= 0)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    }

    /// Parses RFC 3339 (any offset), as records do.
    pub fn parse(text: &str) -> Option<Timestamp> {
        utc_seconds(text).or_else(|| {
            chrono::DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|t| Timestamp(t.timestamp()))
        })
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, the form nearly every event carries, without chrono's
/// general parser (`None` for any other form, which chrono then reads).
fn utc_seconds(text: &str) -> Option<Timestamp> {
    let b = text.as_bytes();
    let (head, rest) = (b.get(..19)?, b.get(19..)?);
    let fraction_ok = match rest {
        [b'Z' | b'z'] => true,
        [b'.', digits @ .., b'Z' | b'z'] => {
            !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    };
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = head.get(range)?;
        digits.iter().try_fold(0i64, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0'))
        })
    };
    if !fraction_ok
        || head[4] != b'-'
        || head[7] != b'-'
        || !matches!(head[10], b'T' | b't' | b' ')
        || head[13] != b':'
        || head[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month)
        || day < 1
        || day > *month_days.get(usize::try_from(month - 1).ok()?)?
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    // Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let shifted_month = (month + 9) % 12;
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some(Timestamp(
        days * 86_400 + hour * 3600 + minute * 60 + second,
    ))
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.rfc3339() {
            Some(text) => s.serialize_str(&text),
            None => Err(serde::ser::Error::custom(format!(
                "time {} is outside the years 0 to 9999",
                self.0
            ))),
        }
    }
}

/// One record of any kind: a JSON object whose `"kind"` names the variant. Read without
/// buffering when `"kind"` is the first key (as every writer of records puts it), else
/// its fields are kept as their text until `kind` is found and read again after it.
#[derive(Clone, Debug)]
pub enum Record {
    /// A workload.
    Deployment(Deployment),
    /// A container image.
    Image(Image),
    /// A process started in a container.
    Process(Process),
    /// Kubernetes API activity.
    KubeEvent(KubeEvent),
    /// A network connection.
    NetworkFlow(NetworkFlow),
    /// The expected processes of one container.
    Baseline(Baseline),
}

impl Record {
    /// A record from JSON already parsed (converted inputs). One instance of the reading
    /// code, here: crates that call `serde_json::from_value::<Record>` themselves compile
    /// another copy of every record type's reader (in WASM, a quarter of a megabyte).
    pub fn from_value(value: serde_json::Value) -> Result<Record, serde_json::Error> {
        use serde::de::{Error, Unexpected};
        let mut map = match value {
            serde_json::Value::Object(map) => map,
            other => {
                let unexpected = match &other {
                    serde_json::Value::Null => Unexpected::Unit,
                    serde_json::Value::Bool(b) => Unexpected::Bool(*b),
                    serde_json::Value::Number(_) => Unexpected::Other("number"),
                    serde_json::Value::String(s) => Unexpected::Str(s),
                    serde_json::Value::Array(_) => Unexpected::Seq,
                    serde_json::Value::Object(_) => Unexpected::Map,
                };
                return Err(serde_json::Error::invalid_type(
                    unexpected,
                    &"a record: an object with a `kind`",
                ));
            }
        };
        let kind = map
            .remove("kind")
            .ok_or_else(|| serde_json::Error::missing_field("kind"))?;
        let kind: Kind = serde_json::from_value(kind)?;
        kind.read(serde_json::Value::Object(map))
    }

    /// Every kind, as written in `"kind"`.
    pub const KINDS: [&'static str; 6] = [
        "deployment",
        "image",
        "process",
        "kube_event",
        "network_flow",
        "baseline",
    ];

    /// The record's kind as written in `"kind"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Record::Deployment(_) => "deployment",
            Record::Image(_) => "image",
            Record::Process(_) => "process",
            Record::KubeEvent(_) => "kube_event",
            Record::NetworkFlow(_) => "network_flow",
            Record::Baseline(_) => "baseline",
        }
    }
}

/// The `"kind"` of a record.
#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Deployment,
    Image,
    Process,
    KubeEvent,
    NetworkFlow,
    Baseline,
}

impl Kind {
    /// The kind as written in `"kind"` (the variants are in the order of [`Record::KINDS`]).
    fn name(self) -> &'static str {
        Record::KINDS[self as usize]
    }

    /// The record of this kind, read from `d`.
    fn read<'de, D: Deserializer<'de>>(self, d: D) -> Result<Record, D::Error> {
        Ok(match self {
            Kind::Deployment => Record::Deployment(Deployment::deserialize(d)?),
            Kind::Image => Record::Image(Image::deserialize(d)?),
            Kind::Process => Record::Process(Process::deserialize(d)?),
            Kind::KubeEvent => Record::KubeEvent(KubeEvent::deserialize(d)?),
            Kind::NetworkFlow => Record::NetworkFlow(NetworkFlow::deserialize(d)?),
            Kind::Baseline => Record::Baseline(Baseline::deserialize(d)?),
        })
    }
}

/// A key of a record object, borrowed from the input where it can be.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> serde::de::Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v.to_string()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v))
            }
        }
        d.deserialize_identifier(KeyVisitor)
    }
}

/// The entries of a record object after its leading `"kind"`: a second `"kind"` is an
/// error (readers that take the last one would see another record).
struct AfterKind<A>(A);

impl<'de, A: serde::de::MapAccess<'de>> serde::de::MapAccess<'de> for AfterKind<A> {
    type Error = A::Error;

    fn next_key_seed<K: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        use serde::de::{Error, IntoDeserializer, value::BorrowedStrDeserializer};
        match self.0.next_key::<Key<'de>>()? {
            None => Ok(None),
            Some(key) if key.as_str() == "kind" => Err(A::Error::duplicate_field("kind")),
            Some(Key::Borrowed(key)) => seed
                .deserialize(BorrowedStrDeserializer::new(key))
                .map(Some),
            Some(Key::Owned(key)) => seed.deserialize(key.into_deserializer()).map(Some),
        }
    }

    fn next_value_seed<V: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, A::Error> {
        self.0.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RecordVisitor;
        impl<'de> serde::de::Visitor<'de> for RecordVisitor {
            type Value = Record;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a record: an object with a `kind`")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Record, A::Error> {
                use serde::de::Error;
                use serde::de::value::MapAccessDeserializer;
                let Some(first) = map.next_key::<Key<'de>>()? else {
                    return Err(A::Error::missing_field("kind"));
                };
                if first.as_str() == "kind" {
                    let kind: Kind = map.next_value()?;
                    return kind.read(MapAccessDeserializer::new(AfterKind(map)));
                }
                // `kind` later on: the other fields are kept as their text (checked to
                // be JSON, not read into values) until it is found. A duplicate field is
                // then found by the second reading, as with `kind` first.
                let mut fields = String::with_capacity(256);
                let mut key = first;
                let mut kind = None;
                loop {
                    if key.as_str() == "kind" {
                        if kind.is_some() {
                            return Err(A::Error::duplicate_field("kind"));
                        }
                        kind = Some(map.next_value::<Kind>()?);
                    } else {
                        let value = map.next_value::<Box<serde_json::value::RawValue>>()?;
                        fields.push(',');
                        let name = key.as_str();
                        if name.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
                            fields.push('"');
                            fields.push_str(name);
                            fields.push('"');
                        } else {
                            let quoted = serde_json::to_string(name).map_err(A::Error::custom)?;
                            fields.push_str(&quoted);
                        }
                        fields.push(':');
                        fields.push_str(value.get());
                    }
                    match map.next_key::<Key<'de>>()? {
                        Some(next) => key = next,
                        None => break,
                    }
                }
                let kind = kind.ok_or_else(|| A::Error::missing_field("kind"))?;
                // Read again as text with `kind` first, by the reader of record streams
                // (one copy of every record type's reader fewer in the binary), without
                // the positions of that text in its errors.
                let text = format!("{{\"kind\":\"{}\"{fields}}}", kind.name());
                serde_json::from_slice::<Record>(text.as_bytes()).map_err(|e| {
                    let message = e.to_string();
                    let position = format!(" at line {} column {}", e.line(), e.column());
                    A::Error::custom(message.strip_suffix(&position).unwrap_or(&message))
                })
            }
        }
        d.deserialize_map(RecordVisitor)
    }
}

/// `network_policies` of a deployment.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct NetworkPolicies {
    /// An ingress policy selects the pods.
    pub has_ingress: Option<bool>,
    /// An egress policy selects the pods.
    pub has_egress: Option<bool>,
    /// The names of the NetworkPolicies (in the deployment's namespace) that isolate its pods for ingress.
    #[serde(default)]
    pub ingress_policies: Vec<String>,
    /// The names of the NetworkPolicies that isolate its pods for egress.
    #[serde(default)]
    pub egress_policies: Vec<String>,
}

/// A deployment-level port.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct DeploymentPort {
    /// Container port.
    pub container_port: Option<f64>,
    /// TCP / UDP / SCTP.
    pub protocol: Option<String>,
    /// none | internal | node | host | external | route.
    pub exposure: Option<String>,
    /// Port exposed by the service / route.
    pub exposed_port: Option<f64>,
    /// Node port.
    pub node_port: Option<f64>,
}

/// A deployment record.
#[derive(Clone, Debug, Deserialize)]
pub struct Deployment {
    /// Unique id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: Option<String>,
    /// Cluster name.
    pub cluster: Option<String>,
    /// Cluster id.
    pub cluster_id: Option<String>,
    /// Cluster labels.
    pub cluster_labels: Option<StrMap>,
    /// Namespace labels.
    pub namespace_labels: Option<StrMap>,
    /// Workload type.
    #[serde(rename = "type")]
    pub workload_type: Option<String>,
    /// Labels.
    pub labels: Option<StrMap>,
    /// Annotations.
    pub annotations: Option<StrMap>,
    /// Pod template labels.
    pub pod_labels: Option<StrMap>,
    /// Replicas.
    pub replicas: Option<f64>,
    /// Service account.
    pub service_account: Option<String>,
    /// Whether the token is mounted.
    pub automount_service_account_token: Option<bool>,
    /// hostNetwork.
    pub host_network: Option<bool>,
    /// hostPID.
    pub host_pid: Option<bool>,
    /// hostIPC.
    pub host_ipc: Option<bool>,
    /// RBAC permission level of the service account.
    pub rbac_permission_level: Option<String>,
    /// Runtime class.
    pub runtime_class: Option<String>,
    /// Network policies that apply.
    pub network_policies: Option<NetworkPolicies>,
    /// Image pull secrets.
    pub image_pull_secrets: Option<Vec<String>>,
    /// Exposed ports.
    pub ports: Option<Vec<DeploymentPort>>,
    /// Containers.
    #[serde(default)]
    pub containers: Vec<Container>,
}

/// A container's security context.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SecurityContext {
    /// privileged.
    pub privileged: Option<bool>,
    /// readOnlyRootFilesystem.
    pub read_only_root_filesystem: Option<bool>,
    /// allowPrivilegeEscalation.
    pub allow_privilege_escalation: Option<bool>,
    /// runAsUser.
    pub run_as_user: Option<f64>,
    /// runAsNonRoot.
    pub run_as_non_root: Option<bool>,
    /// Added capabilities.
    pub add_capabilities: Option<Vec<String>>,
    /// Dropped capabilities.
    pub drop_capabilities: Option<Vec<String>>,
    /// Seccomp profile type.
    pub seccomp_profile: Option<String>,
    /// AppArmor profile.
    pub apparmor_profile: Option<String>,
}

/// An environment variable.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct EnvVar {
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Value (raw values only).
    pub value: Option<String>,
    /// raw | secret_key | config_map_key | field | resource_field | unknown; absent: unset.
    pub source: Option<String>,
    /// The secret it reads.
    pub secret: Option<String>,
}

/// A mounted volume.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Volume {
    /// Name.
    pub name: Option<String>,
    /// HostPath | Secret | ConfigMap | ...
    #[serde(rename = "type")]
    pub volume_type: Option<String>,
    /// Host path, secret name, ...
    pub source: Option<String>,
    /// Mount path.
    pub destination: Option<String>,
    /// Read-only mount.
    pub read_only: Option<bool>,
    /// None | HostToContainer | Bidirectional.
    pub mount_propagation: Option<String>,
}

/// Resource requests and limits.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Resources {
    /// CPU request, cores.
    pub cpu_request_cores: Option<f64>,
    /// CPU limit, cores.
    pub cpu_limit_cores: Option<f64>,
    /// Memory request, MiB.
    pub memory_request_mb: Option<f64>,
    /// Memory limit, MiB.
    pub memory_limit_mb: Option<f64>,
}

/// A container of a deployment.
#[derive(Clone, Debug, Deserialize)]
pub struct Container {
    /// Name.
    pub name: String,
    /// regular | init.
    #[serde(rename = "type")]
    pub container_type: Option<String>,
    /// The image reference (or a full inline image).
    pub image: Option<Image>,
    /// Command.
    pub command: Option<Vec<String>>,
    /// Args.
    pub args: Option<Vec<String>>,
    /// Security context.
    pub security_context: Option<SecurityContext>,
    /// Environment.
    pub env: Option<Vec<EnvVar>>,
    /// Volumes.
    pub volumes: Option<Vec<Volume>>,
    /// Resources.
    pub resources: Option<Resources>,
    /// Liveness probe defined.
    pub liveness_probe_defined: Option<bool>,
    /// Readiness probe defined.
    pub readiness_probe_defined: Option<bool>,
    /// Secrets mounted.
    pub secrets_mounted: Option<Vec<String>>,
    /// Index of the joined image record in the dataset (set by the loader).
    #[serde(skip)]
    pub joined_image: Option<usize>,
}

/// An image name.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ImageName {
    /// Registry host.
    pub registry: Option<String>,
    /// Repository path.
    pub remote: Option<String>,
    /// Tag.
    pub tag: Option<String>,
    /// registry/remote:tag.
    pub full_name: Option<String>,
}

/// A Dockerfile layer.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Layer {
    /// RUN, ADD, ...
    pub instruction: Option<String>,
    /// The instruction's argument.
    pub value: Option<String>,
    /// When it was built.
    pub created: Option<Timestamp>,
}

/// A vulnerability of a component.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Vuln {
    /// CVE id.
    pub id: Option<String>,
    /// CVSS score.
    pub cvss: Option<f64>,
    /// Severity word.
    pub severity: Option<String>,
    /// Fixed version ("" = no fix).
    pub fixed_by: Option<String>,
    /// Published.
    pub published: Option<Timestamp>,
    /// NVD CVSS score.
    pub nvd_cvss: Option<f64>,
    /// EPSS probability.
    pub epss: Option<f64>,
    /// In CISA KEV.
    pub known_exploited: Option<bool>,
    /// When a fix became available.
    pub fix_available_at: Option<Timestamp>,
    /// First seen in this image.
    pub first_image_occurrence: Option<Timestamp>,
    /// First seen anywhere.
    pub first_system_occurrence: Option<Timestamp>,
    /// Suppressed (snoozed).
    pub suppressed: Option<bool>,
    /// observed | deferred | false_positive.
    pub state: Option<String>,
}

impl Vuln {
    /// Neither suppressed nor deferred / false positive: what vulnerability criteria see.
    pub fn is_active(&self) -> bool {
        !self.suppressed.unwrap_or(false)
            && self
                .state
                .as_deref()
                .is_none_or(|s| palisade_lang::schema::loose_eq(s, "observed"))
    }
}

/// A scanned component.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Component {
    /// Package name.
    pub name: Option<String>,
    /// Version.
    pub version: Option<String>,
    /// deb, rpm, npm, ...
    #[serde(rename = "type")]
    pub component_type: Option<String>,
    /// Path in the image.
    pub location: Option<String>,
    /// Layer that added it.
    pub layer_index: Option<f64>,
    /// Vulnerabilities.
    pub vulns: Option<Vec<Vuln>>,
}

/// A vulnerability scan.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Scan {
    /// Scanner name.
    pub scanner: Option<String>,
    /// When.
    pub scanned_at: Option<Timestamp>,
    /// Components (absent: none found).
    pub components: Option<Vec<Component>>,
}

/// Signature verification results.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Signature {
    /// Verifiers that verified this image (the loader adds verified `results` to it).
    pub verified_by: Option<Vec<String>>,
    /// Per-verifier results.
    #[serde(default)]
    pub results: Vec<SignatureResult>,
}

/// One signature verification result.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SignatureResult {
    /// The verifier (signature integration) id.
    #[serde(default)]
    pub verifier: String,
    /// verified | failed | invalid_signature | ...
    #[serde(default)]
    pub status: String,
    /// Image references the signature covers (empty: not stated).
    #[serde(default)]
    pub verified_references: Vec<String>,
}

/// An image record (also used for inline container images).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Image {
    /// Digest.
    pub id: Option<String>,
    /// Name parts.
    pub name: Option<ImageName>,
    /// Build time.
    pub created: Option<Timestamp>,
    /// Operating system.
    pub os: Option<String>,
    /// USER of the image config.
    pub user: Option<String>,
    /// Image labels.
    pub labels: Option<StrMap>,
    /// Image env.
    pub env: Option<Vec<String>>,
    /// Dockerfile history.
    pub layers: Option<Vec<Layer>>,
    /// Scan (absent or null: never scanned).
    pub scan: Option<Scan>,
    /// Signature data.
    pub signature: Option<Signature>,
}

impl Image {
    /// The full name, if known.
    pub fn full_name(&self) -> Option<&str> {
        self.name.as_ref().and_then(|n| n.full_name.as_deref())
    }
}

/// A process event.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Process {
    /// Event id.
    pub id: String,
    /// When.
    pub time: Option<Timestamp>,
    /// Cluster.
    pub cluster: Option<String>,
    /// Namespace.
    pub namespace: Option<String>,
    /// The deployment's id.
    pub deployment_id: Option<String>,
    /// The deployment's name.
    pub deployment: Option<String>,
    /// Pod.
    pub pod: Option<String>,
    /// Container name.
    pub container: Option<String>,
    /// Process name.
    pub name: Option<String>,
    /// Executable path.
    pub exec_path: Option<String>,
    /// Arguments.
    pub args: Option<String>,
    /// User id.
    pub uid: Option<f64>,
    /// Group id.
    pub gid: Option<f64>,
    /// Ancestor exec paths.
    pub lineage: Option<Vec<String>>,
    /// When the process's container started (startup processes are exempt from baselines).
    pub container_start: Option<Timestamp>,
    /// The labels of the process's pod.
    pub pod_labels: Option<StrMap>,
}

impl Process {
    /// The owning workload's name: `deployment`, else derived from the pod's name
    /// ([`workload_of_pod`]), so replicas and restarts share one name.
    pub fn workload(&self) -> Option<&str> {
        workload_name(self.deployment.as_deref(), self.pod.as_deref())
    }
}

/// A process's workload from its `deployment` and `pod` fields ([`Process::workload`]).
pub fn workload_name<'a>(deployment: Option<&'a str>, pod: Option<&'a str>) -> Option<&'a str> {
    deployment
        .filter(|d| !d.is_empty())
        .or_else(|| pod.map(workload_of_pod))
        .filter(|w| !w.is_empty())
}

/// The characters of the random suffixes Kubernetes gives pod names and ReplicaSet
/// hashes (`k8s.io/apimachinery` `rand.SafeEncodeString`: no vowels, no 0, 1, 3).
const SAFE_ENCODED: [bool; 256] = {
    let mut table = [false; 256];
    let alphabet = b"bcdfghjklmnpqrstvwxz2456789";
    let mut i = 0;
    while i < alphabet.len() {
        table[alphabet[i] as usize] = true;
        i += 1;
    }
    table
};

/// Whether `part` is a random suffix of one of `lengths`.
fn is_safe_encoded(part: &str, lengths: std::ops::RangeInclusive<usize>) -> bool {
    lengths.contains(&part.len()) && part.bytes().all(|b| SAFE_ENCODED[usize::from(b)])
}

/// The workload a pod belongs to, from its name: `api-7d4b9c5f6-x2x9z` (Deployment:
/// ReplicaSet hash and pod suffix) and `agent-x2x9z` (DaemonSet, Job) give `api` and
/// `agent`; `db-0` (StatefulSet) gives `db`; other names are their own workload.
pub fn workload_of_pod(pod: &str) -> &str {
    let Some((rest, last)) = pod.rsplit_once('-') else {
        return pod;
    };
    if rest.is_empty() || last.is_empty() {
        return pod;
    }
    // A Deployment's pod: ReplicaSet hash, then the pod's suffix (which may be all digits:
    // the alphabet has 2, 4, 5, 6, 7, 8 and 9).
    if is_safe_encoded(last, 5..=5)
        && let Some((owner, hash)) = rest.rsplit_once('-')
        && !owner.is_empty()
        && is_safe_encoded(hash, 6..=10)
    {
        return owner;
    }
    // A StatefulSet's ordinal, or a DaemonSet's or Job's suffix.
    if last.bytes().all(|b| b.is_ascii_digit()) || is_safe_encoded(last, 5..=5) {
        return rest;
    }
    pod
}

/// A Kubernetes user.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct KubeUser {
    /// User name.
    pub username: Option<String>,
    /// Groups.
    pub groups: Option<Vec<String>>,
}

/// A Kubernetes API event.
#[derive(Clone, Debug, Deserialize)]
pub struct KubeEvent {
    /// Event id.
    pub id: String,
    /// When.
    pub time: Option<Timestamp>,
    /// Cluster.
    pub cluster: Option<String>,
    /// Namespace.
    pub namespace: Option<String>,
    /// Deployment id (pod exec / attach / port-forward).
    pub deployment_id: Option<String>,
    /// Resource.
    pub resource: Option<String>,
    /// Verb.
    pub verb: Option<String>,
    /// Object name.
    pub object_name: Option<String>,
    /// Acting user.
    pub user: Option<KubeUser>,
    /// Impersonated user.
    pub impersonated_user: Option<KubeUser>,
    /// Source IPs.
    pub source_ips: Option<Vec<String>>,
    /// User agent.
    pub user_agent: Option<String>,
    /// Pod.
    pub pod: Option<String>,
    /// Container.
    pub container: Option<String>,
    /// Command (exec).
    pub command: Option<Vec<String>>,
}

/// One side of a network flow.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Peer {
    /// deployment | external | internet | internal.
    #[serde(rename = "type")]
    pub peer_type: Option<String>,
    /// Deployment id.
    pub deployment_id: Option<String>,
    /// Namespace.
    pub namespace: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// CIDR.
    pub cidr: Option<String>,
}

/// A network flow.
#[derive(Clone, Debug, Deserialize)]
pub struct NetworkFlow {
    /// Flow id.
    pub id: String,
    /// When.
    pub time: Option<Timestamp>,
    /// Cluster.
    pub cluster: Option<String>,
    /// Source.
    pub source: Option<Peer>,
    /// Destination.
    pub destination: Option<Peer>,
    /// Destination port.
    pub port: Option<f64>,
    /// Protocol.
    pub protocol: Option<String>,
    /// Outside the locked network baseline.
    pub not_in_baseline: Option<bool>,
}

/// A process baseline: the executables expected in one container of one workload
/// (docs/records.md). `palisade baseline learn` writes all fields; hand-written ones need
/// only the workload, the container and the processes.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct Baseline {
    /// Cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The deployment's id (StackRox records); processes with this id match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    /// The workload's name; processes of the same cluster, namespace and workload match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    /// Container name.
    pub container: String,
    /// Expected exec paths.
    #[serde(default)]
    pub processes: Vec<String>,
    /// Exec paths seen only within `startup_seconds` of a container's start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub startup: Vec<String>,
    /// Exec paths a user removed: never learned again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
    /// When each learned path (processes and startup) was first seen.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub first_seen: BTreeMap<String, Timestamp>,
    /// Processes this soon after their container started are exempt (none when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_seconds: Option<u64>,
    /// Pod labels every observed pod of the workload had (to scope exported rules).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_labels: StrMap,
    /// The first observed event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observation_start: Option<Timestamp>,
    /// The end of the observation window, in event time (absent: learning without end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observation_end: Option<Timestamp>,
    /// Locked baselines make other processes violations.
    #[serde(default)]
    pub locked: bool,
    /// When it was locked (event time for the window's end, wall time for a user's lock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_at: Option<Timestamp>,
    /// Who locked it: `window` (the observation window ended) or `user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_by: Option<String>,
}

impl Baseline {
    /// How messages name it: `namespace/workload/container` (cluster first when known;
    /// the deployment id stands in for an unknown workload name).
    pub fn name(&self) -> String {
        let workload = self
            .workload
            .as_deref()
            .or(self.deployment_id.as_deref())
            .unwrap_or("");
        let mut out = String::new();
        if let Some(c) = self.cluster.as_deref().filter(|c| !c.is_empty()) {
            out.push_str(c);
            out.push('/');
        }
        out.push_str(self.namespace.as_deref().unwrap_or(""));
        out.push('/');
        out.push_str(workload);
        out.push('/');
        out.push_str(&self.container);
        out
    }

    /// What makes it unusable: no container, no workload or deployment id, an empty path.
    pub fn problem(&self) -> Option<String> {
        if self.container.is_empty() {
            return Some("`container` is empty".into());
        }
        if self.deployment_id.as_deref().is_none_or(str::is_empty)
            && self.workload.as_deref().is_none_or(str::is_empty)
        {
            return Some("a baseline needs a `workload` or a `deployment_id`".into());
        }
        if let Some(list) = [
            ("processes", &self.processes),
            ("startup", &self.startup),
            ("removed", &self.removed),
        ]
        .into_iter()
        .find(|(_, l)| l.iter().any(String::is_empty))
        {
            return Some(format!("`{}` holds an empty path", list.0));
        }
        if self.locked
            && self
                .locked_by
                .as_deref()
                .is_some_and(|b| b != "window" && b != "user")
        {
            return Some("`locked_by` is `window` or `user`".into());
        }
        None
    }

    /// Whether `p` ran within the startup window of its container.
    pub fn is_startup(&self, p: &Process) -> bool {
        started_within(self.startup_seconds, p)
    }

    /// Whether a process with this exec path is outside the baseline: the baseline is
    /// locked, the process did not start within the startup window, and the path is not
    /// listed (a process without a path is outside a locked baseline too).
    pub fn excludes(&self, p: &Process) -> bool {
        excluded(self.locked, self.startup_seconds, p, |path| {
            self.processes.iter().any(|x| x == path)
        })
    }
}

/// Whether `p` started within `window` seconds of its container's start.
pub(crate) fn started_within(window: Option<u64>, p: &Process) -> bool {
    match (window, p.time, p.container_start) {
        (Some(window), Some(t), Some(start)) => t >= start && ((t.0 - start.0) as u64) < window,
        _ => false,
    }
}

/// [`Baseline::excludes`] of a baseline that is `locked` (or not), with a startup window,
/// and `listed` telling whether it lists a path.
pub(crate) fn excluded(
    locked: bool,
    window: Option<u64>,
    p: &Process,
    listed: impl Fn(&str) -> bool,
) -> bool {
    locked && !started_within(window, p) && !p.exec_path.as_deref().is_some_and(listed)
}

/// The fields of a baseline record.
pub const BASELINE_FIELDS: &[&str] = &[
    "kind",
    "cluster",
    "namespace",
    "deployment_id",
    "workload",
    "container",
    "processes",
    "startup",
    "removed",
    "first_seen",
    "startup_seconds",
    "pod_labels",
    "observation_start",
    "observation_end",
    "locked",
    "locked_at",
    "locked_by",
];

/// One baseline record from its JSON, strictly: a field a baseline does not have
/// (`lockd`) is an error, not a silently unlocked baseline.
pub fn parse_baseline(v: serde_json::Value) -> Result<Baseline, String> {
    let serde_json::Value::Object(map) = &v else {
        return Err("not a JSON object".into());
    };
    match map.get("kind").and_then(serde_json::Value::as_str) {
        Some("baseline") => {}
        Some(other) => return Err(format!("a `{other}` record, not a baseline")),
        None => return Err("no `\"kind\": \"baseline\"`".into()),
    }
    if let Some(unknown) = map.keys().find(|k| !BASELINE_FIELDS.contains(&k.as_str())) {
        return Err(format!(
            "unknown field `{unknown}` (a baseline has {})",
            BASELINE_FIELDS.join(", ")
        ));
    }
    let b: Baseline = serde_json::from_value(v).map_err(|e| e.to_string())?;
    if let Some(problem) = b.problem() {
        return Err(format!("{}: {problem}", b.name()));
    }
    Ok(b)
}

/// Splits an image reference into registry, remote and tag (Docker's rules: no registry
/// means docker.io, one path segment means library/, no tag means latest).
pub fn parse_image_name(full: &str) -> ImageName {
    let (without_digest, _digest) = match full.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (full, None),
    };
    let (first, rest) = match without_digest.split_once('/') {
        Some((f, r)) if f.contains('.') || f.contains(':') || f == "localhost" => (Some(f), r),
        _ => (None, without_digest),
    };
    let (remote, tag) = match rest.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, t),
        _ => (rest, "latest"),
    };
    let registry = first.unwrap_or("docker.io");
    let remote = if first.is_none() && !remote.contains('/') {
        format!("library/{remote}")
    } else {
        remote.to_string()
    };
    ImageName {
        registry: Some(registry.to_string()),
        remote: Some(remote),
        tag: Some(tag.to_string()),
        full_name: Some(full.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> Result<Record, String> {
        serde_json::from_str::<Record>(json).map_err(|e| e.to_string())
    }

    /// Deep nesting never overflows the stack. An unknown field is skipped by serde_json
    /// without recursion (its size is bounded by the readers' record limit), with `kind`
    /// first and when it comes later (the field kept as its text, then skipped alike). A
    /// known field nested too deep is an error either way.
    #[test]
    fn deeply_nested_records_never_overflow() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let skipped = read(&format!(r#"{{"kind":"process","id":"p","extra":{deep}}}"#));
        assert_eq!(skipped.map(|r| r.kind()), Ok("process"));
        let later = read(&format!(r#"{{"id":"p","extra":{deep},"kind":"process"}}"#));
        assert_eq!(later.map(|r| r.kind()), Ok("process"));
        let deep_objects = format!("{}{}", "{\"a\":".repeat(100_000), "}".repeat(100_000));
        for json in [
            format!(r#"{{"kind":"deployment","id":"d","name":"n","labels":{deep_objects}}}"#),
            format!(r#"{{"id":"d","name":"n","labels":{deep_objects},"kind":"deployment"}}"#),
        ] {
            assert!(read(&json).is_err(), "{json:.60}");
        }
    }

    /// Parsed JSON (converted inputs) reads as its text does; what is not an object says so.
    #[test]
    fn records_from_parsed_json_read_as_their_text() {
        let later = r#"{"id":"p","pod":"api-x2x9z","kind":"process","exec_path":"/bin/sh"}"#;
        let value: serde_json::Value = serde_json::from_str(later).unwrap_or_default();
        let Ok(Record::Process(p)) = Record::from_value(value) else {
            unreachable!("{later}")
        };
        assert_eq!(p.exec_path.as_deref(), Some("/bin/sh"));
        for (value, error) in [
            (
                serde_json::json!("x"),
                "invalid type: string \"x\", expected a record",
            ),
            (
                serde_json::json!([1]),
                "invalid type: sequence, expected a record",
            ),
            (serde_json::json!({"id": "p"}), "missing field `kind`"),
            (
                serde_json::json!({"kind": "bogus"}),
                "unknown variant `bogus`",
            ),
            (serde_json::json!({"kind": "process"}), "missing field `id`"),
        ] {
            let got = Record::from_value(value.clone())
                .map(|_| ())
                .map_err(|e| e.to_string());
            assert!(
                got.as_ref().is_err_and(|e| e.starts_with(error)),
                "{value}: {got:?}"
            );
        }
    }

    /// A record with `kind` after other fields is read again as text: for every kind, and
    /// for hostile content (deep nesting, a megabyte string, escapes, wrong types), it
    /// reads as the same object with `kind` first does, to the same record or error.
    #[test]
    fn kind_later_reads_as_kind_first_for_hostile_content() {
        let deep = format!("{}1{}", "[".repeat(120), "]".repeat(120));
        let huge = "x".repeat(1 << 20);
        let bodies: Vec<String> = vec![
            r#""id":"a","name":"n","namespace":"s","containers":[]"#.into(),
            r#""id":"p","pod":"p-1","exec_path":"/bin/sh""#.into(),
            r#""id":"i","name":{"full_name":"nginx:1"}"#.into(),
            r#""id":"e","verb":"get""#.into(),
            r#""id":"f","port":80"#.into(),
            r#""namespace":"s","workload":"w","container":"c","processes":["/a"]"#.into(),
            format!(
                r#""id":"{huge}","name":"é
"q"","namespace":"s","containers":[]"#
            ),
            format!(r#""id":"d","labels":{deep}"#),
            format!(r#""id":"d","name":{deep}"#),
            r#""id":3,"name":"n""#.into(),
            r#""id":"d","name":"n","namespace":"s","containers":[{"name":"c","ports":"x"}]"#.into(),
        ];
        // Errors compared without their position (the two texts lay the object out apart).
        let summary = |r: Result<Record, String>| match r {
            Ok(r) => Ok(format!("{} {r:?}", r.kind())),
            Err(e) => Err(e.split(" at line ").next().unwrap_or_default().to_string()),
        };
        for kind in Record::KINDS {
            for body in &bodies {
                let first = format!(r#"{{"kind":"{kind}",{body}}}"#);
                let later = format!(r#"{{{body},"kind":"{kind}"}}"#);
                assert_eq!(
                    summary(read(&first)),
                    summary(read(&later)),
                    "{kind}: {:.80}",
                    body
                );
            }
        }
    }

    /// `kind` anywhere gives the same record; a second `kind`, a duplicate field, an
    /// unknown or missing kind are errors on both paths; an unknown field given twice is
    /// skipped on both.
    #[test]
    fn records_read_with_kind_first_or_later() {
        for json in [
            r#"{"kind":"process","id":"p","x":1,"x":[2]}"#,
            r#"{"id":"p","x":1,"kind":"process","x":[2]}"#,
            r#"{"x":1,"x":[2],"id":"p","kind":"process"}"#,
        ] {
            assert_eq!(read(json).map(|r| r.kind()), Ok("process"), "{json}");
        }
        let first = r#"{"kind":"process","id":"p","pod":"api-7d4b9c5f6-x2x9z","exec_path":"/bin/sh","time":"2024-03-01T12:00:00Z"}"#;
        let later = r#"{"id":"p","pod":"api-7d4b9c5f6-x2x9z","kind":"process","exec_path":"/bin/sh","time":"2024-03-01T12:00:00Z"}"#;
        for json in [first, later] {
            let Ok(Record::Process(p)) = read(json) else {
                unreachable!("{json}: {:?}", read(json))
            };
            assert_eq!(p.id, "p");
            assert_eq!(p.exec_path.as_deref(), Some("/bin/sh"));
            assert_eq!(p.time, Some(Timestamp(1_709_294_400)));
        }
        for (json, error) in [
            (
                r#"{"kind":"process","id":"p","kind":"image"}"#,
                "duplicate field `kind`",
            ),
            (
                r#"{"id":"p","kind":"process","kind":"image"}"#,
                "duplicate field `kind`",
            ),
            (
                r#"{"kind":"process","id":"p","id":"q"}"#,
                "duplicate field `id`",
            ),
            (
                r#"{"id":"p","kind":"process","id":"q"}"#,
                "duplicate field `id`",
            ),
            (
                r#"{"kind":"bogus","id":"p"}"#,
                "unknown variant `bogus`, expected one of",
            ),
            (
                r#"{"id":"p","kind":"bogus"}"#,
                "unknown variant `bogus`, expected one of",
            ),
            (r#"{"id":"p"}"#, "missing field `kind`"),
            (r#"{}"#, "missing field `kind`"),
            (r#"{"kind":"deployment","id":"d"}"#, "missing field `name`"),
            (r#"{"id":"d","kind":"deployment"}"#, "missing field `name`"),
            (
                r#"{"kind":"deployment","id":3}"#,
                "invalid type: integer `3`, expected a string",
            ),
            (
                r#"{"id":3,"kind":"deployment"}"#,
                "invalid type: integer `3`, expected a string",
            ),
            (r#"["process"]"#, "expected a record"),
            (
                r#"{"kind":"process","id":"p","time":"yesterday"}"#,
                "invalid timestamp",
            ),
        ] {
            let got = read(json).map(|r| r.kind());
            assert!(
                got.as_ref().is_err_and(|e| e.contains(error)),
                "{json}: {got:?}, expected {error}"
            );
        }
    }

    /// The fast path agrees with chrono on every date it reads, and with it, parsing agrees
    /// with chrono everywhere (dates spread over the years 0 to 9999, invalid ones too;
    /// leap seconds and offsets are left to chrono).
    #[test]
    fn fast_utc_times_agree_with_chrono() {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let mut read = 0;
        for _ in 0..200_000 {
            let sep = ["T", "t", " ", "x"][next(4) as usize];
            let fraction = ["", ".5", ".123456789", ".", ".1a"][next(5) as usize];
            let zone = ["Z", "z", "+00:00", "+02:00", ""][next(5) as usize];
            let text = format!(
                "{:04}-{:02}-{:02}{sep}{:02}:{:02}:{:02}{fraction}{zone}",
                next(10_000),
                next(14),
                next(33),
                next(26),
                next(62),
                next(62)
            );
            let chrono = chrono::DateTime::parse_from_rfc3339(&text)
                .ok()
                .map(|t| t.timestamp());
            let fast = utc_seconds(&text).map(|t| t.0);
            if fast.is_some() {
                read += 1;
                assert_eq!(fast, chrono, "{text}");
            }
            assert_eq!(Timestamp::parse(&text).map(|t| t.0), chrono, "{text}");
        }
        assert!(read > 10_000, "{read}");
    }

    /// Timestamps print as records write them: RFC 3339 in UTC to the second, four-digit
    /// years only, and they read back as themselves.
    #[test]
    fn timestamps_print_as_rfc3339_seconds() {
        let printed = |t: i64| Timestamp(t).rfc3339();
        assert_eq!(printed(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(
            printed(1_790_000_123).as_deref(),
            Some("2026-09-21T14:15:23Z")
        );
        assert_eq!(
            printed(-62_167_219_200).as_deref(),
            Some("0000-01-01T00:00:00Z")
        );
        assert_eq!(
            printed(253_402_300_799).as_deref(),
            Some("9999-12-31T23:59:59Z")
        );
        assert_eq!(printed(253_402_300_800), None, "year 10000");
        assert_eq!(printed(-62_167_219_201), None, "year -1");
        assert_eq!(printed(i64::MAX), None);
        for t in [0, 951_782_400, 1_790_000_123, -1, 4_102_444_800] {
            let text = printed(t).unwrap_or_default();
            assert_eq!(Timestamp::parse(&text).map(|p| p.0), Some(t), "{text}");
        }
    }

    #[test]
    fn image_names_follow_docker_rules() {
        let n = parse_image_name("nginx");
        assert_eq!(
            (n.registry.as_deref(), n.remote.as_deref(), n.tag.as_deref()),
            (Some("docker.io"), Some("library/nginx"), Some("latest"))
        );
        let n = parse_image_name("quay.io/acme/app:1.2");
        assert_eq!(
            (n.registry.as_deref(), n.remote.as_deref(), n.tag.as_deref()),
            (Some("quay.io"), Some("acme/app"), Some("1.2"))
        );
        let n = parse_image_name("localhost:5000/app");
        assert_eq!(
            (n.registry.as_deref(), n.remote.as_deref(), n.tag.as_deref()),
            (Some("localhost:5000"), Some("app"), Some("latest"))
        );
    }

    #[test]
    fn bad_timestamps_are_errors() {
        let r: Result<Image, _> = serde_json::from_str(r#"{"created": "yesterday"}"#);
        assert!(r.is_err_and(|e| e.to_string().contains("invalid timestamp")));
    }
}
