//! The validating admission webhook: an AdmissionReview (admission.k8s.io/v1) in, the same
//! with a `response` out. Violations of policies that enforce (an enforcement action for
//! the evaluated stage) deny the request with a message listing them; other violations
//! come back as warnings on an allowed request.

use serde_json::{Value, json};

/// Kubernetes shows at most this many warnings; the rest are summarized in the last one.
const MAX_WARNINGS: usize = 20;

/// The `request.uid` of an AdmissionReview, or why the body is not one.
pub fn request_uid(review: &Value) -> Result<String, String> {
    if review["kind"] != "AdmissionReview" {
        return Err("expected an AdmissionReview (`kind: AdmissionReview`)".into());
    }
    let api = review["apiVersion"].as_str().unwrap_or("");
    if api != "admission.k8s.io/v1" && api != "admission.k8s.io/v1beta1" {
        return Err(format!(
            "unsupported apiVersion `{api}`: expected admission.k8s.io/v1"
        ));
    }
    review["request"]["uid"]
        .as_str()
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .ok_or_else(|| "the AdmissionReview has no `request.uid`".into())
}

/// The decision for a check report: the AdmissionReview answer, whether it allowed.
pub fn respond(review: &Value, uid: &str, report: &Value) -> (Value, bool) {
    let mut denied: Vec<String> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    for v in report["violations"].as_array().into_iter().flatten() {
        let policy = v["policy"].as_str().unwrap_or("?");
        let first = v["messages"][0].as_str().unwrap_or("");
        // A policy without a message template gets "<policy>: <objects>": say the name once.
        let first = first
            .strip_prefix(policy)
            .and_then(|rest| rest.strip_prefix(": "))
            .unwrap_or(first);
        let line = if first.is_empty() {
            format!("{policy} ({})", v["severity"].as_str().unwrap_or("?"))
        } else {
            format!(
                "{policy} ({}): {first}",
                v["severity"].as_str().unwrap_or("?")
            )
        };
        let enforces = v["enforcement"].as_array().is_some_and(|a| !a.is_empty());
        if enforces {
            denied.push(line);
        } else {
            warnings.push(line);
        }
    }
    if warnings.len() > MAX_WARNINGS {
        let more = warnings.len() - (MAX_WARNINGS - 1);
        warnings.truncate(MAX_WARNINGS - 1);
        warnings.push(format!("... and {more} more policy violations"));
    }
    let allowed = denied.is_empty();
    let mut response = json!({"uid": uid, "allowed": allowed});
    if !allowed {
        let message = format!(
            "denied by Palisade: {} enforced polic{} violated: {}",
            denied.len(),
            if denied.len() == 1 { "y" } else { "ies" },
            denied.join("; ")
        );
        response["status"] = json!({"code": 403, "reason": "Forbidden", "message": message});
    }
    if !warnings.is_empty() {
        response["warnings"] = json!(warnings);
    }
    let api = review["apiVersion"]
        .as_str()
        .unwrap_or("admission.k8s.io/v1");
    (
        json!({"apiVersion": api, "kind": "AdmissionReview", "response": response}),
        allowed,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn review() -> Value {
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "u-1"}})
    }

    #[test]
    fn enforced_violations_deny_and_the_rest_warn() {
        let report = json!({"violations": [
            {"policy": "Privileged", "severity": "high", "messages": ["container `c` is privileged"], "enforcement": ["scale_to_zero"]},
            {"policy": "Latest tag", "severity": "low", "messages": [], "enforcement": []}
        ]});
        let (out, allowed) = respond(&review(), "u-1", &report);
        assert!(!allowed);
        assert_eq!(out["response"]["uid"], "u-1");
        assert_eq!(out["response"]["allowed"], false);
        assert_eq!(out["response"]["status"]["code"], 403);
        assert_eq!(
            out["response"]["status"]["message"],
            "denied by Palisade: 1 enforced policy violated: Privileged (high): container `c` is privileged"
        );
        assert_eq!(out["response"]["warnings"], json!(["Latest tag (low)"]));
    }

    #[test]
    fn no_enforced_violation_allows_and_warnings_are_capped() {
        let many: Vec<Value> = (0..30).map(|i| json!({"policy": format!("p{i}"), "severity": "low", "messages": ["m"], "enforcement": []})).collect();
        let (out, allowed) = respond(&review(), "u-1", &json!({"violations": many}));
        assert!(allowed);
        assert!(out["response"].get("status").is_none());
        let w = out["response"]["warnings"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(w.len(), MAX_WARNINGS);
        assert_eq!(w[MAX_WARNINGS - 1], "... and 11 more policy violations");
    }

    #[test]
    fn only_admission_reviews_with_a_uid_are_accepted() {
        assert_eq!(request_uid(&review()), Ok("u-1".to_string()));
        assert!(request_uid(&json!({"kind": "Pod"})).is_err());
        assert!(
            request_uid(
                &json!({"apiVersion": "v1", "kind": "AdmissionReview", "request": {"uid": "x"}})
            )
            .is_err()
        );
        assert!(request_uid(&json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {}})).is_err());
    }
}
