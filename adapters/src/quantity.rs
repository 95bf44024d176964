//! Kubernetes resource quantities (`500m`, `1.5`, `128Mi`, `1G`, `2e3`).

/// CPU in cores.
pub fn cpu_cores(q: &str) -> Option<f64> {
    let q = q.trim();
    if let Some(m) = q.strip_suffix('m') {
        return m.parse::<f64>().ok().map(|v| v / 1000.0);
    }
    if let Some(n) = q.strip_suffix('n') {
        return n.parse::<f64>().ok().map(|v| v / 1e9);
    }
    if let Some(u) = q.strip_suffix('u') {
        return u.parse::<f64>().ok().map(|v| v / 1e6);
    }
    q.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Memory in MiB (StackRox's "MB").
pub fn memory_mib(q: &str) -> Option<f64> {
    let q = q.trim();
    const UNITS: [(&str, f64); 13] = [
        ("Ki", 1024.0),
        ("Mi", 1048576.0),
        ("Gi", 1073741824.0),
        ("Ti", 1099511627776.0),
        ("Pi", 1125899906842624.0),
        ("Ei", 1152921504606846976.0),
        ("k", 1e3),
        ("K", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    for (suffix, factor) in UNITS {
        if let Some(n) = q.strip_suffix(suffix) {
            return n.parse::<f64>().ok().map(|v| v * factor / 1048576.0);
        }
    }
    if let Some(m) = q.strip_suffix('m') {
        return m.parse::<f64>().ok().map(|v| v / 1000.0 / 1048576.0);
    }
    q.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .map(|v| v / 1048576.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(cpu_cores("500m"), Some(0.5));
        assert_eq!(cpu_cores("2"), Some(2.0));
        assert_eq!(cpu_cores("0.25"), Some(0.25));
        assert_eq!(memory_mib("128Mi"), Some(128.0));
        assert_eq!(memory_mib("1Gi"), Some(1024.0));
        assert_eq!(memory_mib("1048576"), Some(1.0));
        assert!(memory_mib("1G").is_some_and(|v| (v - 953.674).abs() < 0.01));
        assert_eq!(cpu_cores("lots"), None);
    }
}
