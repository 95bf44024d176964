//! Which SOC 2 Trust Services Criteria (2017) a StackRox policy evidences.
//!
//! The mapping security teams use: vulnerability scanning (CC7.1), network segmentation
//! (CC6.6) and runtime monitoring (CC7.2) for Security; incident response for
//! Availability (A1.2); process allow lists, insecure-image gates, configuration and change
//! management for Processing Integrity (PI1.x, CC8.1); encryption, data-store segmentation
//! and secrets management for Confidentiality (C1.1); access-control segmentation and RBAC
//! for Privacy (CC6.3, P4.1). Categories give the base; criteria fields refine it.

use crate::model::Policy;

const BY_CATEGORY: &[(&str, &[&str])] = &[
    ("Vulnerability Management", &["CC7.1"]),
    ("Anomalous Activity", &["CC7.2", "CC7.3"]),
    ("Cryptocurrency Mining", &["CC7.2", "A1.2"]),
    ("Network Tools", &["CC7.2"]),
    ("Package Management", &["CC7.2", "PI1.3"]),
    ("System Modification", &["CC7.2", "PI1.3"]),
    ("Kubernetes", &["CC7.2"]),
    ("Kubernetes Events", &["CC7.2", "CC6.1"]),
    ("Privileges", &["CC6.1", "CC6.8"]),
    ("Docker CIS", &["CC6.8", "CC7.1"]),
    ("Security Best Practices", &["CC6.1"]),
    ("DevOps Best Practices", &["CC8.1", "PI1.2"]),
    ("Supply Chain Security", &["CC8.1", "PI1.2"]),
    ("Zero Trust", &["CC6.6"]),
];

const BY_FIELD: &[(&str, &[&str])] = &[
    ("Has Ingress Network Policy", &["CC6.6"]),
    ("Has Egress Network Policy", &["CC6.6"]),
    ("Unexpected Network Flow Detected", &["CC6.6"]),
    ("Port Exposure Method", &["CC6.6"]),
    ("Exposed Port", &["CC6.6"]),
    ("Exposed Node Port", &["CC6.6"]),
    ("Environment Variable", &["C1.1"]),
    ("Unexpected Process Executed", &["PI1.3"]),
    ("Image Signature Verified By", &["PI1.2"]),
    ("Unscanned Image", &["CC7.1", "PI1.2"]),
    ("Image Scan Age", &["CC7.1"]),
    ("Minimum RBAC Permissions", &["CC6.3", "P4.1"]),
    ("Service Account", &["CC6.3", "P4.1"]),
    ("Automount Service Account Token", &["CC6.3", "P4.1"]),
    ("Kubernetes User Name", &["CC6.3", "P4.1"]),
    ("Is Impersonated User", &["CC6.3", "P4.1"]),
    ("Container CPU Request", &["A1.1"]),
    ("Container Memory Limit", &["A1.1"]),
];

/// Canonical order of criteria in output.
const ORDER: &[&str] = &[
    "CC6.1", "CC6.3", "CC6.6", "CC6.8", "CC7.1", "CC7.2", "CC7.3", "CC8.1", "A1.1", "A1.2", "C1.1",
    "PI1.2", "PI1.3", "P4.1",
];

/// The criteria a policy evidences (never empty).
pub fn criteria(p: &Policy) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    let add = |out: &mut Vec<&'static str>, ids: &[&'static str]| {
        for id in ids {
            if !out.contains(id) {
                out.push(id);
            }
        }
    };
    for c in &p.categories {
        if let Some((_, ids)) = BY_CATEGORY
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(c))
        {
            add(&mut out, ids);
        }
    }
    for s in &p.policy_sections {
        for g in &s.policy_groups {
            if let Some((_, ids)) = BY_FIELD.iter().find(|(f, _)| *f == g.field_name) {
                add(&mut out, ids);
            }
            // Secrets: reading or mounting them is a confidentiality matter.
            let secretish = g
                .values
                .iter()
                .any(|v| v.value.to_ascii_uppercase().contains("SECRET"));
            if secretish
                && matches!(
                    g.field_name.as_str(),
                    "Kubernetes Resource" | "Volume Source" | "Dockerfile Line"
                )
            {
                add(&mut out, &["C1.1"]);
            }
        }
    }
    // Runtime enforcement is incident response.
    if p.enforcement_actions
        .iter()
        .any(|a| a.starts_with("KILL_POD") || a.starts_with("FAIL_KUBE_REQUEST"))
    {
        add(&mut out, &["A1.2"]);
    }
    if out.is_empty() {
        add(&mut out, &["CC7.2"]);
    }
    out.sort_by_key(|id| ORDER.iter().position(|o| o == id).unwrap_or(usize::MAX));
    out
}
