//! A user's changes to baselines: lock, unlock, add and remove paths, on the baselines a
//! [`Selector`] picks.

use palisade_engine::record::{Baseline, Timestamp};

/// Which baselines an edit applies to: every given part must match (none given: all).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    /// Cluster.
    pub cluster: Option<String>,
    /// Namespace.
    pub namespace: Option<String>,
    /// Workload name or deployment id.
    pub workload: Option<String>,
    /// Container.
    pub container: Option<String>,
}

impl Selector {
    /// Whether `b` is selected.
    pub fn matches(&self, b: &Baseline) -> bool {
        let is = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| have == Some(w))
        };
        is(&self.cluster, b.cluster.as_deref())
            && is(&self.namespace, b.namespace.as_deref())
            && (is(&self.workload, b.workload.as_deref())
                || is(&self.workload, b.deployment_id.as_deref()))
            && is(&self.container, Some(&b.container))
    }

    /// Whether no part is given.
    pub fn is_empty(&self) -> bool {
        self == &Selector::default()
    }
}

/// What to do to the selected baselines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Edit {
    /// Lock at this (wall clock) time; already locked ones keep their lock.
    Lock(Timestamp),
    /// Unlock: learning continues with no window end (no automatic lock) until locked.
    Unlock,
    /// Allow these paths (and stop treating them as removed).
    Add(Vec<String>),
    /// Disallow these paths and never learn them again.
    Remove(Vec<String>),
}

/// Applies `edit` to every baseline `selector` picks; returns the names of those changed.
/// Selecting none is an error: an edit that silently does nothing hides a typo.
pub fn apply(
    baselines: &mut [Baseline],
    selector: &Selector,
    edit: &Edit,
) -> Result<Vec<String>, String> {
    if let Edit::Add(paths) | Edit::Remove(paths) = edit {
        if paths.is_empty() {
            return Err("no path given".into());
        }
        if let Some(p) = paths.iter().find(|p| p.is_empty()) {
            return Err(format!("an empty path `{p}`"));
        }
    }
    let mut selected = 0usize;
    let mut changed = Vec::new();
    for b in baselines.iter_mut().filter(|b| selector.matches(b)) {
        selected += 1;
        let before = b.clone();
        match edit {
            Edit::Lock(at) => {
                if !b.locked {
                    b.locked = true;
                    b.locked_at = Some(*at);
                    b.locked_by = Some("user".into());
                }
            }
            Edit::Unlock => {
                b.locked = false;
                b.locked_at = None;
                b.locked_by = None;
                b.observation_end = None;
            }
            Edit::Add(paths) => {
                for p in paths {
                    b.removed.retain(|r| r != p);
                    b.startup.retain(|s| s != p);
                    if !b.processes.contains(p) {
                        b.processes.push(p.clone());
                    }
                }
            }
            Edit::Remove(paths) => {
                for p in paths {
                    b.processes.retain(|x| x != p);
                    b.startup.retain(|x| x != p);
                    b.first_seen.remove(p);
                    if !b.removed.contains(p) {
                        b.removed.push(p.clone());
                    }
                }
            }
        }
        crate::file::normalize(b);
        if *b != before {
            changed.push(b.name());
        }
    }
    if selected == 0 {
        return Err("no baseline matches the selection".into());
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn baselines() -> Vec<Baseline> {
        ["api", "sidecar"]
            .iter()
            .map(|c| Baseline {
                namespace: Some("prod".into()),
                workload: Some("shop".into()),
                container: (*c).into(),
                processes: vec!["/app/server".into()],
                startup: vec!["/entrypoint.sh".into()],
                observation_end: Some(Timestamp(3600)),
                ..Baseline::default()
            })
            .collect()
    }

    fn only(container: &str) -> Selector {
        Selector {
            container: Some(container.into()),
            ..Selector::default()
        }
    }

    #[test]
    fn lock_keeps_an_earlier_lock_and_unlock_ends_the_window() {
        let mut bs = baselines();
        assert_eq!(
            apply(&mut bs, &only("api"), &Edit::Lock(Timestamp(10))).unwrap(),
            vec!["prod/shop/api"]
        );
        assert!(bs[0].locked && !bs[1].locked);
        assert_eq!(bs[0].locked_by.as_deref(), Some("user"));
        assert_eq!(
            apply(&mut bs, &Selector::default(), &Edit::Lock(Timestamp(20))).unwrap(),
            vec!["prod/shop/sidecar"]
        );
        assert_eq!(bs[0].locked_at, Some(Timestamp(10)));
        apply(&mut bs, &only("api"), &Edit::Unlock).unwrap();
        assert!(!bs[0].locked && bs[0].locked_at.is_none() && bs[0].observation_end.is_none());
    }

    #[test]
    fn remove_then_add_round_trips_and_remembers_removals() {
        let mut bs = baselines();
        apply(
            &mut bs,
            &only("api"),
            &Edit::Remove(vec!["/app/server".into(), "/entrypoint.sh".into()]),
        )
        .unwrap();
        assert!(bs[0].processes.is_empty() && bs[0].startup.is_empty());
        assert_eq!(bs[0].removed, vec!["/app/server", "/entrypoint.sh"]);
        apply(
            &mut bs,
            &only("api"),
            &Edit::Add(vec!["/app/server".into()]),
        )
        .unwrap();
        assert_eq!(bs[0].processes, vec!["/app/server"]);
        assert_eq!(bs[0].removed, vec!["/entrypoint.sh"]);
    }

    #[test]
    fn selecting_nothing_or_adding_nothing_is_an_error() {
        let mut bs = baselines();
        assert_eq!(
            apply(&mut bs, &only("db"), &Edit::Unlock).unwrap_err(),
            "no baseline matches the selection"
        );
        assert_eq!(
            apply(&mut bs, &only("api"), &Edit::Add(vec![])).unwrap_err(),
            "no path given"
        );
        let by_workload = Selector {
            workload: Some("shop".into()),
            ..Selector::default()
        };
        assert_eq!(
            apply(&mut bs, &by_workload, &Edit::Unlock).unwrap().len(),
            2
        );
    }
}
