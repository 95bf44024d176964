//! The SOC 2 Trust Services Criteria (2017): the ids a policy may cite, the principle each
//! belongs to and a short title (our paraphrase, not the AICPA's text), as policies, reports
//! and the editor show them.

/// The criteria series: prefix, series number, and the criterion numbers in it.
const SERIES: &[(&str, u32, &[u32])] = &[
    ("CC", 1, &[1, 2, 3, 4, 5]),
    ("CC", 2, &[1, 2, 3]),
    ("CC", 3, &[1, 2, 3, 4]),
    ("CC", 4, &[1, 2]),
    ("CC", 5, &[1, 2, 3]),
    ("CC", 6, &[1, 2, 3, 4, 5, 6, 7, 8]),
    ("CC", 7, &[1, 2, 3, 4, 5]),
    ("CC", 8, &[1]),
    ("CC", 9, &[1, 2]),
    ("A", 1, &[1, 2, 3]),
    ("C", 1, &[1, 2]),
    ("PI", 1, &[1, 2, 3, 4, 5]),
    ("P", 1, &[1]),
    ("P", 2, &[1]),
    ("P", 3, &[1, 2]),
    ("P", 4, &[1, 2, 3]),
    ("P", 5, &[1, 2]),
    ("P", 6, &[1, 2, 3, 4, 5, 6, 7]),
    ("P", 7, &[1]),
    ("P", 8, &[1]),
];

/// Every criterion id, in report order (`CC1.1` ... `P8.1`).
pub fn criteria() -> impl Iterator<Item = String> {
    SERIES.iter().flat_map(|(prefix, major, minors)| {
        minors.iter().map(move |m| format!("{prefix}{major}.{m}"))
    })
}

/// The trust principles, in report order, with the criterion prefix of each.
pub const PRINCIPLES: [(&str, &str); 5] = [
    ("CC", "Security (Common Criteria)"),
    ("A", "Availability"),
    ("PI", "Processing Integrity"),
    ("C", "Confidentiality"),
    ("P", "Privacy"),
];

/// The principle of a criterion id (`CC6.1` -> Security), by its letter prefix.
pub fn principle(id: &str) -> &'static str {
    let prefix: String = id.chars().take_while(char::is_ascii_uppercase).collect();
    PRINCIPLES
        .iter()
        .find(|(p, _)| *p == prefix)
        .map(|(_, name)| *name)
        .unwrap_or("Other")
}

/// The report order of a criterion: principle, then series and number as integers.
pub fn order(id: &str) -> (usize, u32, u32, String) {
    let prefix: String = id.chars().take_while(char::is_ascii_uppercase).collect();
    let rank = PRINCIPLES
        .iter()
        .position(|(p, _)| *p == prefix)
        .unwrap_or(PRINCIPLES.len());
    let rest = &id[prefix.len()..];
    let mut parts = rest
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(u32::MAX));
    (
        rank,
        parts.next().unwrap_or(u32::MAX),
        parts.next().unwrap_or(u32::MAX),
        id.to_string(),
    )
}

/// A short title of a criterion.
pub fn title(id: &str) -> &'static str {
    match id {
        "CC6.1" => "Logical access security over protected information assets",
        "CC6.2" => "Registration and authorization of users",
        "CC6.3" => "Role-based access: authorizing, changing and removing access",
        "CC6.6" => "Protection against threats from outside the system boundaries",
        "CC6.7" => "Restriction of the transmission and movement of information",
        "CC6.8" => "Prevention and detection of unauthorized or malicious software",
        "CC7.1" => "Detection of configuration changes and new vulnerabilities",
        "CC7.2" => "Monitoring of system components for anomalies",
        "CC7.3" => "Evaluation of security events",
        "CC7.4" => "Response to security incidents",
        "CC8.1" => "Authorization, testing and approval of changes",
        "A1.1" => "Capacity management",
        "A1.2" => "Environmental protections, backup and recovery infrastructure",
        "C1.1" => "Identification and protection of confidential information",
        "C1.2" => "Disposal of confidential information",
        "PI1.2" => "Complete and accurate system inputs",
        "PI1.3" => "Complete and accurate processing",
        "P4.1" => "Use of personal information for its stated purposes",
        _ => family(id),
    }
}

/// The title of a criterion's series (`CC6` -> logical and physical access controls).
fn family(id: &str) -> &'static str {
    let series = id.split('.').next().unwrap_or(id);
    match series {
        "CC1" => "Control environment",
        "CC2" => "Communication and information",
        "CC3" => "Risk assessment",
        "CC4" => "Monitoring activities",
        "CC5" => "Control activities",
        "CC6" => "Logical and physical access controls",
        "CC7" => "System operations",
        "CC8" => "Change management",
        "CC9" => "Risk mitigation",
        "A1" => "Availability",
        "C1" => "Confidentiality",
        "PI1" => "Processing integrity",
        _ => "Privacy",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criteria_group_by_principle_and_sort_numerically() {
        assert_eq!(principle("CC6.1"), "Security (Common Criteria)");
        assert_eq!(principle("PI1.3"), "Processing Integrity");
        assert_eq!(principle("P4.1"), "Privacy");
        assert_eq!(principle("C1.1"), "Confidentiality");
        let mut ids = ["PI1.2", "CC8.1", "CC10.1", "CC6.8", "A1.1", "CC6.1"];
        ids.sort_by_key(|id| order(id));
        assert_eq!(ids, ["CC6.1", "CC6.8", "CC8.1", "CC10.1", "A1.1", "PI1.2"]);
        assert_eq!(title("CC6.5"), "Logical and physical access controls");
    }

    #[test]
    fn every_criterion_is_listed_once_with_a_principle() {
        let all: Vec<String> = criteria().collect();
        assert_eq!(all.len(), 61);
        assert_eq!(all.first().map(String::as_str), Some("CC1.1"));
        assert_eq!(all.last().map(String::as_str), Some("P8.1"));
        let distinct: std::collections::BTreeSet<&String> = all.iter().collect();
        assert_eq!(distinct.len(), all.len());
        assert!(all.iter().all(|id| principle(id) != "Other"));
    }
}
