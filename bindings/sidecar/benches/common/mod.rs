//! What the `/v1/admit` benches share: the AdmissionReview they send and percentiles.

use std::time::Duration;

/// An AdmissionReview creating a Deployment of nginx; one in four (`uid` a multiple of 4)
/// runs privileged.
pub fn review(uid: usize) -> String {
    let privileged = uid.is_multiple_of(4);
    serde_json::json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": format!("u-{uid}"), "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
        "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
        "namespace": "shop", "operation": "CREATE", "userInfo": {"username": "dev"},
        "object": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": format!("web-{uid}"), "namespace": "shop"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "securityContext": {"privileged": privileged},
                    "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "100m", "memory": "64Mi"}}}]}}}}
    }})
    .to_string()
}

/// The `p` percentile (0 to 1) of sorted latencies, in milliseconds (NaN when empty).
pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
}
