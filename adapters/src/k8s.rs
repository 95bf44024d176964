//! Kubernetes objects to deployment records, written as the cluster will run them:
//! Kubernetes' defaults made explicit (not privileged, writable root filesystem, privilege
//! escalation allowed, zero requests and limits), pod- and container-level security
//! contexts merged, env sources and volume mounts resolved, and Services / Routes of the
//! same input setting the deployment-level port exposure.

use crate::quantity::{cpu_cores, memory_mib};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, key| cur.get(key))
}

fn get_str<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    get(v, path).and_then(Value::as_str)
}

fn get_bool(v: &Value, path: &[&str]) -> Option<bool> {
    get(v, path).and_then(Value::as_bool)
}

fn arr<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    get(v, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn string_map(v: Option<&Value>) -> Option<Value> {
    let m = v?.as_object()?;
    Some(Value::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), Value::String(scalar_text(v))))
            .collect(),
    ))
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Where the pod template sits for each workload kind.
fn pod_spec_path(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "Pod" => &["spec"],
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "ReplicationController"
        | "Job"
        | "DeploymentConfig" => &["spec", "template", "spec"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        _ => return None,
    })
}

fn pod_meta_path(kind: &str) -> &'static [&'static str] {
    match kind {
        "Pod" => &["metadata"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "metadata"],
        _ => &["spec", "template", "metadata"],
    }
}

/// Whether this object is a workload the adapter turns into a deployment record.
pub fn is_workload(o: &Value) -> bool {
    get_str(o, &["kind"]).is_some_and(|k| pod_spec_path(k).is_some())
}

/// A capability name without the `CAP_` prefix, upper case.
pub fn capability(c: &str) -> String {
    let up = c.trim().to_ascii_uppercase();
    up.strip_prefix("CAP_").map(str::to_string).unwrap_or(up)
}

fn profile_type(annotation: &str) -> Option<&'static str> {
    let a = annotation.trim();
    if a == "runtime/default" || a == "docker/default" {
        Some("RuntimeDefault")
    } else if a == "unconfined" {
        Some("Unconfined")
    } else if a.starts_with("localhost/") {
        Some("Localhost")
    } else {
        None
    }
}

fn env_entry(e: &Value) -> Value {
    let name = get_str(e, &["name"]).unwrap_or_default();
    if let Some(v) = e.get("value") {
        return json!({"name": name, "value": scalar_text(v), "source": "raw"});
    }
    let from = e.get("valueFrom");
    if let Some(r) = from.and_then(|f| f.get("secretKeyRef")) {
        return json!({"name": name, "value": "", "source": "secret_key", "secret": get_str(r, &["name"]).unwrap_or_default()});
    }
    let source = match from {
        Some(f) if f.get("configMapKeyRef").is_some() => "config_map_key",
        Some(f) if f.get("fieldRef").is_some() => "field",
        Some(f) if f.get("resourceFieldRef").is_some() => "resource_field",
        Some(_) => "unknown",
        // `value: ""` omitted: Kubernetes treats it as an empty literal.
        None => "raw",
    };
    json!({"name": name, "value": "", "source": source})
}

fn volume_of(v: &Value) -> (String, String) {
    let pick = |key: &str, field: &str| {
        v.get(key)
            .map(|x| get_str(x, &[field]).unwrap_or_default().to_string())
    };
    if let Some(p) = pick("hostPath", "path") {
        return ("HostPath".into(), p);
    }
    if let Some(s) = pick("secret", "secretName") {
        return ("Secret".into(), s);
    }
    if let Some(c) = pick("configMap", "name") {
        return ("ConfigMap".into(), c);
    }
    if let Some(c) = pick("persistentVolumeClaim", "claimName") {
        return ("PersistentVolumeClaim".into(), c);
    }
    if let Some(nfs) = v.get("nfs") {
        return (
            "NFS".into(),
            format!(
                "{}:{}",
                get_str(nfs, &["server"]).unwrap_or_default(),
                get_str(nfs, &["path"]).unwrap_or_default()
            ),
        );
    }
    for (key, ty) in [
        ("emptyDir", "EmptyDir"),
        ("projected", "Projected"),
        ("downwardAPI", "DownwardAPI"),
        ("csi", "CSI"),
        ("ephemeral", "Ephemeral"),
    ] {
        if v.get(key).is_some() {
            return (ty.into(), String::new());
        }
    }
    let other = v
        .as_object()
        .and_then(|m| m.keys().find(|k| *k != "name").cloned())
        .unwrap_or_default();
    (other, String::new())
}

struct PodContext<'a> {
    spec: &'a Value,
    annotations: Option<&'a Map<String, Value>>,
    volumes: BTreeMap<&'a str, &'a Value>,
}

fn container(c: &Value, ctype: &str, index: usize, pod: &PodContext<'_>) -> Value {
    let name = get_str(c, &["name"])
        .map(str::to_string)
        .unwrap_or_else(|| format!("container-{index}"));
    let pod_sc = pod.spec.get("securityContext");
    let sc = c.get("securityContext");
    let merged = |key: &str| {
        sc.and_then(|s| s.get(key))
            .or_else(|| pod_sc.and_then(|s| s.get(key)))
            .cloned()
    };
    let caps = |which: &str| -> Vec<String> {
        sc.and_then(|s| s.get("capabilities"))
            .map(|cp| {
                arr(cp, &[which])
                    .iter()
                    .filter_map(Value::as_str)
                    .map(capability)
                    .collect()
            })
            .unwrap_or_default()
    };
    let annotation = |key: String| {
        pod.annotations
            .and_then(|a| a.get(&key))
            .and_then(Value::as_str)
    };
    let seccomp = merged("seccompProfile")
        .and_then(|p| get_str(&p, &["type"]).map(str::to_string))
        .or_else(|| {
            annotation(format!(
                "container.seccomp.security.alpha.kubernetes.io/{name}"
            ))
            .and_then(profile_type)
            .map(str::to_string)
        })
        .or_else(|| {
            annotation("seccomp.security.alpha.kubernetes.io/pod".into())
                .and_then(profile_type)
                .map(str::to_string)
        });
    let apparmor = sc
        .and_then(|s| s.get("appArmorProfile"))
        .or_else(|| pod_sc.and_then(|s| s.get("appArmorProfile")))
        .and_then(|p| get_str(p, &["type"]))
        .map(|t| match t {
            "RuntimeDefault" => "runtime/default".to_string(),
            "Unconfined" => "unconfined".to_string(),
            other => format!("localhost/{}", other.to_ascii_lowercase()),
        })
        .or_else(|| {
            annotation(format!(
                "container.apparmor.security.beta.kubernetes.io/{name}"
            ))
            .map(str::to_string)
        });
    let privileged = sc
        .and_then(|s| s.get("privileged"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let add = caps("add");
    let mut security = json!({
        "privileged": privileged,
        "read_only_root_filesystem": sc.and_then(|s| s.get("readOnlyRootFilesystem")).and_then(Value::as_bool).unwrap_or(false),
        // Kubernetes allows escalation unless told otherwise (and always when privileged or with SYS_ADMIN).
        "allow_privilege_escalation": sc.and_then(|s| s.get("allowPrivilegeEscalation")).and_then(Value::as_bool).unwrap_or(true) || privileged || add.iter().any(|c| c == "SYS_ADMIN"),
        "add_capabilities": add,
        "drop_capabilities": caps("drop"),
    });
    if let Some(u) = merged("runAsUser").and_then(|v| v.as_f64()) {
        security["run_as_user"] = json!(u);
    }
    if let Some(b) = merged("runAsNonRoot").and_then(|v| v.as_bool()) {
        security["run_as_non_root"] = json!(b);
    }
    if let Some(s) = seccomp {
        security["seccomp_profile"] = json!(s);
    }
    if let Some(a) = apparmor {
        security["apparmor_profile"] = json!(a);
    }
    let mut volumes = Vec::new();
    let mut secrets = Vec::new();
    for m in arr(c, &["volumeMounts"]) {
        let vname = get_str(m, &["name"]).unwrap_or_default();
        let (vtype, source) = pod
            .volumes
            .get(vname)
            .map(|v| volume_of(v))
            .unwrap_or_default();
        if vtype == "Secret" {
            secrets.push(source.clone());
        }
        volumes.push(json!({
            "name": vname, "type": vtype, "source": source,
            "destination": get_str(m, &["mountPath"]).unwrap_or_default(),
            "read_only": get_bool(m, &["readOnly"]).unwrap_or(false),
            "mount_propagation": get_str(m, &["mountPropagation"]).unwrap_or("None"),
        }));
    }
    let res = c.get("resources");
    let q = |kind: &str, key: &str| res.and_then(|r| get(r, &[kind, key])).map(scalar_text);
    let cpu = |kind: &str| q(kind, "cpu").and_then(|s| cpu_cores(&s)).unwrap_or(0.0);
    let mem = |kind: &str| {
        q(kind, "memory")
            .and_then(|s| memory_mib(&s))
            .unwrap_or(0.0)
    };
    let mut out = json!({
        "name": name,
        "type": ctype,
        "security_context": security,
        "env": arr(c, &["env"]).iter().map(env_entry).collect::<Vec<_>>(),
        "volumes": volumes,
        "ports": arr(c, &["ports"]).iter().map(|p| json!({
            "name": get_str(p, &["name"]).unwrap_or_default(),
            "container_port": p.get("containerPort").and_then(Value::as_f64),
            "protocol": get_str(p, &["protocol"]).unwrap_or("TCP"),
            "host_port": p.get("hostPort").and_then(Value::as_f64).unwrap_or(0.0),
        })).collect::<Vec<_>>(),
        "resources": {
            "cpu_request_cores": cpu("requests"), "cpu_limit_cores": cpu("limits"),
            "memory_request_mb": mem("requests"), "memory_limit_mb": mem("limits"),
        },
        "liveness_probe_defined": c.get("livenessProbe").is_some_and(|p| !p.is_null()),
        "readiness_probe_defined": c.get("readinessProbe").is_some_and(|p| !p.is_null()),
        "secrets_mounted": secrets,
    });
    if let Some(image) = get_str(c, &["image"]).filter(|s| !s.trim().is_empty()) {
        let mut img = json!({"name": {"full_name": image.trim()}});
        if let Some((_, digest)) = image.split_once('@') {
            img["id"] = json!(digest);
        }
        out["image"] = img;
    }
    for key in ["command", "args"] {
        let items: Vec<String> = arr(c, &[key]).iter().map(scalar_text).collect();
        if !items.is_empty() {
            out[key] = json!(items);
        }
    }
    out
}

/// A stable id for an object: its uid, else namespace/kind/name.
pub fn object_id(o: &Value, index: usize) -> String {
    if let Some(uid) = get_str(o, &["metadata", "uid"]) {
        return uid.to_string();
    }
    let kind = get_str(o, &["kind"]).unwrap_or("Object");
    let ns = get_str(o, &["metadata", "namespace"]).unwrap_or("default");
    match get_str(o, &["metadata", "name"]) {
        Some(name) => format!("{ns}/{kind}/{name}"),
        None => format!("{ns}/{kind}/unnamed-{index}"),
    }
}

/// Converts one workload object (see [`is_workload`]) into a deployment record.
pub fn workload(o: &Value, index: usize) -> Option<Value> {
    let kind = get_str(o, &["kind"])?;
    let spec = get(o, pod_spec_path(kind)?).cloned().unwrap_or(Value::Null);
    let pod_meta = get(o, pod_meta_path(kind));
    let annotations = get(o, &["metadata", "annotations"]);
    let pod_annotations = pod_meta
        .and_then(|m| m.get("annotations"))
        .and_then(Value::as_object)
        .or_else(|| annotations.and_then(Value::as_object));
    let volumes = arr(&spec, &["volumes"])
        .iter()
        .filter_map(|v| Some((get_str(v, &["name"])?, v)))
        .collect();
    let pod = PodContext {
        spec: &spec,
        annotations: pod_annotations,
        volumes,
    };
    let mut containers = Vec::new();
    for (key, ctype) in [
        ("initContainers", "init"),
        ("containers", "regular"),
        ("ephemeralContainers", "ephemeral"),
    ] {
        for c in arr(&spec, &[key]) {
            containers.push(container(c, ctype, containers.len(), &pod));
        }
    }
    let name = get_str(o, &["metadata", "name"])
        .map(str::to_string)
        .unwrap_or_else(|| format!("unnamed-{index}"));
    let mut d = json!({
        "kind": "deployment",
        "id": object_id(o, index),
        "name": name,
        "type": kind,
        "labels": string_map(get(o, &["metadata", "labels"])).unwrap_or(json!({})),
        "annotations": string_map(annotations).unwrap_or(json!({})),
        "pod_labels": string_map(pod_meta.and_then(|m| m.get("labels"))).unwrap_or(json!({})),
        "service_account": get_str(&spec, &["serviceAccountName"]).or_else(|| get_str(&spec, &["serviceAccount"])).unwrap_or("default"),
        "automount_service_account_token": get_bool(&spec, &["automountServiceAccountToken"]).unwrap_or(true),
        "host_network": get_bool(&spec, &["hostNetwork"]).unwrap_or(false),
        "host_pid": get_bool(&spec, &["hostPID"]).unwrap_or(false),
        "host_ipc": get_bool(&spec, &["hostIPC"]).unwrap_or(false),
        "image_pull_secrets": arr(&spec, &["imagePullSecrets"]).iter().filter_map(|s| get_str(s, &["name"])).collect::<Vec<_>>(),
        "containers": containers,
    });
    if let Some(ns) = get_str(o, &["metadata", "namespace"]) {
        d["namespace"] = json!(ns);
    }
    if let Some(rc) = get_str(&spec, &["runtimeClassName"]) {
        d["runtime_class"] = json!(rc);
    }
    let replicas = match kind {
        "Pod" | "Job" | "CronJob" | "DaemonSet" => None,
        _ => Some(
            get(o, &["spec", "replicas"])
                .and_then(Value::as_f64)
                .unwrap_or(1.0),
        ),
    };
    if let Some(r) = replicas {
        d["replicas"] = json!(r);
    }
    Some(d)
}

fn selects(selector: Option<&Map<String, Value>>, labels: &Value) -> bool {
    match selector {
        Some(sel) if !sel.is_empty() => sel
            .iter()
            .all(|(k, v)| labels.get(k).and_then(Value::as_str) == v.as_str()),
        _ => false,
    }
}

/// Sets the deployment-level ports of `deployments` from the Services, Routes and host
/// ports of the same input: exposure `internal` (ClusterIP), `node` (NodePort), `external`
/// (LoadBalancer), `route` (an OpenShift Route to the Service), `host` (hostPort).
pub fn expose(deployments: &mut [Value], services: &[Value], routes: &[Value]) {
    for d in deployments.iter_mut() {
        let ns = d
            .get("namespace")
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_string();
        let labels = d.get("pod_labels").cloned().unwrap_or(Value::Null);
        let mut ports: Vec<Value> = Vec::new();
        let containers = d
            .get("containers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let container_ports: Vec<(f64, String, f64)> = containers
            .iter()
            .flat_map(|c| arr(c, &["ports"]).to_vec())
            .filter_map(|p| {
                Some((
                    p.get("container_port")?.as_f64()?,
                    get_str(&p, &["protocol"]).unwrap_or("TCP").to_string(),
                    p.get("host_port").and_then(Value::as_f64).unwrap_or(0.0),
                ))
            })
            .collect();
        for (port, proto, host) in &container_ports {
            if *host > 0.0 {
                ports.push(json!({"container_port": port, "protocol": proto, "exposure": "host", "exposed_port": host}));
            }
        }
        for s in services {
            let sns = get_str(s, &["metadata", "namespace"]).unwrap_or("default");
            if sns != ns
                || !selects(
                    get(s, &["spec", "selector"]).and_then(Value::as_object),
                    &labels,
                )
            {
                continue;
            }
            let stype = get_str(s, &["spec", "type"]).unwrap_or("ClusterIP");
            let sname = get_str(s, &["metadata", "name"]).unwrap_or_default();
            let routed = routes.iter().any(|r| {
                get_str(r, &["metadata", "namespace"]).unwrap_or("default") == ns
                    && get_str(r, &["spec", "to", "name"]) == Some(sname)
            });
            for p in arr(s, &["spec", "ports"]) {
                let port = p.get("port").and_then(Value::as_f64);
                let target = match p.get("targetPort") {
                    Some(Value::Number(n)) => n.as_f64(),
                    Some(Value::String(named)) => containers
                        .iter()
                        .flat_map(|c| arr(c, &["ports"]).to_vec())
                        .find(|cp| get_str(cp, &["name"]) == Some(named.as_str()))
                        .and_then(|cp| cp.get("container_port").and_then(Value::as_f64)),
                    _ => port,
                };
                let exposure = match (routed, stype) {
                    (true, _) => "route",
                    (_, "LoadBalancer") => "external",
                    (_, "NodePort") => "node",
                    _ => "internal",
                };
                let mut entry = json!({
                    "container_port": target.or(port), "protocol": get_str(p, &["protocol"]).unwrap_or("TCP"),
                    "exposure": exposure, "exposed_port": port,
                });
                if let Some(np) = p.get("nodePort").and_then(Value::as_f64) {
                    entry["node_port"] = json!(np);
                }
                ports.push(entry);
            }
        }
        if !ports.is_empty() {
            d["ports"] = json!(ports);
        }
    }
}

/// The JSON type a field of the pod template must have.
#[derive(Clone, Copy)]
enum Expect {
    Bool,
    Int,
    Object,
    Array,
    Str,
}

impl Expect {
    fn holds(self, v: &Value) -> bool {
        match self {
            Expect::Bool => v.is_boolean(),
            Expect::Int => v.as_f64().is_some_and(|f| f.fract() == 0.0),
            Expect::Object => v.is_object(),
            Expect::Array => v.is_array(),
            Expect::Str => v.is_string(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Expect::Bool => "a boolean",
            Expect::Int => "an integer",
            Expect::Object => "an object",
            Expect::Array => "a list",
            Expect::Str => "a string",
        }
    }
}

/// Fields of a pod spec the reader decides on, with the type the API server requires.
const POD_FIELDS: [(&str, Expect); 10] = [
    ("hostNetwork", Expect::Bool),
    ("hostPID", Expect::Bool),
    ("hostIPC", Expect::Bool),
    ("automountServiceAccountToken", Expect::Bool),
    ("securityContext", Expect::Object),
    ("initContainers", Expect::Array),
    ("containers", Expect::Array),
    ("ephemeralContainers", Expect::Array),
    ("volumes", Expect::Array),
    ("serviceAccountName", Expect::Str),
];

/// Fields of a security context (pod or container level).
const SECURITY_FIELDS: [(&str, Expect); 7] = [
    ("privileged", Expect::Bool),
    ("readOnlyRootFilesystem", Expect::Bool),
    ("allowPrivilegeEscalation", Expect::Bool),
    ("runAsNonRoot", Expect::Bool),
    ("runAsUser", Expect::Int),
    ("runAsGroup", Expect::Int),
    ("capabilities", Expect::Object),
];

/// Fields of a container.
const CONTAINER_FIELDS: [(&str, Expect); 7] = [
    ("securityContext", Expect::Object),
    ("ports", Expect::Array),
    ("volumeMounts", Expect::Array),
    ("env", Expect::Array),
    ("command", Expect::Array),
    ("args", Expect::Array),
    ("image", Expect::Str),
];

/// `at.key`, or `key` at the top.
fn joined(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_string()
    } else {
        format!("{at}.{key}")
    }
}

fn expect_fields(v: &Value, at: &str, fields: &[(&str, Expect)]) -> Result<(), String> {
    for (key, expect) in fields {
        match v.get(key) {
            None | Some(Value::Null) => {}
            Some(x) if expect.holds(x) => {}
            Some(x) => {
                return Err(format!(
                    "`{}` is {}, not {}: the API server would refuse it, and reading it as anything else could pass what it denies",
                    joined(at, key),
                    describe(x),
                    expect.name()
                ));
            }
        }
    }
    Ok(())
}

/// A value in a message: its JSON, cut short.
fn describe(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 40 {
        format!("`{}...`", text.chars().take(40).collect::<String>())
    } else {
        format!("`{text}`")
    }
}

/// Refuses a workload whose pod template has a field of the wrong JSON type where the
/// reader decides something from it (`privileged: "true"`, `containers: {}`): Kubernetes
/// rejects such an object, and reading it leniently would turn a privileged container
/// into an unprivileged record. YAML 1.1 booleans (`yes`, `on`) arrive here as booleans.
pub fn check_types(o: &Value) -> Result<(), String> {
    let Some(kind) = get_str(o, &["kind"]) else {
        return Ok(());
    };
    let Some(path) = pod_spec_path(kind) else {
        return Ok(());
    };
    expect_fields(o, "", &[("metadata", Expect::Object)])?;
    // Every step down to the pod spec must be an object when present.
    let mut cur = o;
    let mut at = String::new();
    for key in path {
        expect_fields(cur, &at, &[(key, Expect::Object)])?;
        let Some(next) = cur.get(key) else {
            return Ok(());
        };
        cur = next;
        at = joined(&at, key);
    }
    expect_fields(cur, &at, &POD_FIELDS)?;
    if let Some(sc) = cur.get("securityContext") {
        expect_fields(sc, &format!("{at}.securityContext"), &SECURITY_FIELDS)?;
    }
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for (i, c) in arr(cur, &[list]).iter().enumerate() {
            let here = format!("{at}.{list}[{i}]");
            if !c.is_object() {
                return Err(format!("`{here}` is {}, not an object", describe(c)));
            }
            expect_fields(c, &here, &CONTAINER_FIELDS)?;
            if let Some(sc) = c.get("securityContext") {
                expect_fields(sc, &format!("{here}.securityContext"), &SECURITY_FIELDS)?;
            }
            for (j, p) in arr(c, &["ports"]).iter().enumerate() {
                expect_fields(
                    p,
                    &format!("{here}.ports[{j}]"),
                    &[("containerPort", Expect::Int), ("hostPort", Expect::Int)],
                )?;
            }
            for (j, m) in arr(c, &["volumeMounts"]).iter().enumerate() {
                expect_fields(
                    m,
                    &format!("{here}.volumeMounts[{j}]"),
                    &[("readOnly", Expect::Bool)],
                )?;
            }
        }
    }
    Ok(())
}
