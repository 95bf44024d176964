//! Learning baselines from process events, in event time: the same events in any order give
//! the same baselines, and memory grows with the distinct (workload, container, path), not
//! with the events.
//!
//! Per container of a workload the observation window starts at its first event and lasts
//! [`Options::window_seconds`]. Paths first run inside it are learned; a process that
//! started within [`Options::startup_seconds`] of its container's start is a startup
//! process: exempt, kept apart (`startup`), never learned as a process. When the latest
//! event of the input is past a window's end, the baseline locks (`locked_by: window`,
//! `locked_at` = the window's end); paths first run after that are not learned but reported
//! as [`Outside`]. A locked baseline is never changed by events, and a path a user removed
//! is never learned again.

use crate::file::Identity;
use palisade_engine::record::{Baseline, Process, StrMap, Timestamp};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Most examples of bad events kept for the report.
const MAX_EXAMPLES: usize = 10;

/// Pod labels that differ between the pods of one workload, never used to select it.
const POD_SPECIFIC_LABELS: &[&str] = &[
    "pod-template-hash",
    "controller-revision-hash",
    "pod-template-generation",
    "statefulset.kubernetes.io/pod-name",
    "apps.kubernetes.io/pod-index",
    "batch.kubernetes.io/controller-uid",
    "controller-uid",
];

/// How to learn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// The observation window of a new baseline, from its first event (StackRox: one hour).
    pub window_seconds: u64,
    /// Processes this soon after their container's start are startup processes (StackRox:
    /// one minute).
    pub startup_seconds: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            window_seconds: 3600,
            startup_seconds: 60,
        }
    }
}

/// Why an event could not be learned from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum BadEvent {
    /// No `container`.
    NoContainer,
    /// No `exec_path`.
    NoExecPath,
    /// No `time`, or one that is not RFC 3339.
    NoTime,
    /// Neither `deployment`, `pod` nor `deployment_id`: no workload to learn for.
    NoWorkload,
    /// The event could not be read as a process record.
    Unreadable,
}

impl BadEvent {
    /// The reason in words.
    pub fn reason(self) -> &'static str {
        match self {
            BadEvent::NoContainer => "no container",
            BadEvent::NoExecPath => "no exec path",
            BadEvent::NoTime => "no time (missing, or not RFC 3339)",
            BadEvent::NoWorkload => "no workload (no deployment, pod or deployment_id)",
            BadEvent::Unreadable => "not a readable process record",
        }
    }
}

/// A path run in a container whose baseline is locked without it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, PartialOrd, Ord)]
pub struct Outside {
    /// The baseline's name.
    pub baseline: String,
    /// The exec path.
    pub path: String,
    /// Its first run outside a startup window.
    pub first: Timestamp,
    /// Events of it outside a startup window.
    pub events: u64,
}

/// What a learning run did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    /// Process events learned from or checked.
    pub events: u64,
    /// Startup processes among them (exempt).
    pub startup_events: u64,
    /// Events that could not be used, by reason.
    pub bad: BTreeMap<String, u64>,
    /// The first bad events, with where they are.
    pub bad_examples: Vec<String>,
    /// The latest event time: the clock windows are measured on.
    pub clock: Option<Timestamp>,
    /// Baselines written.
    pub baselines: usize,
    /// Of them, new.
    pub created: usize,
    /// Of them, locked.
    pub locked: usize,
    /// Of them, locked by this run (their window ended).
    pub locked_now: usize,
    /// Paths outside locked baselines.
    pub outside: Vec<Outside>,
}

/// Baselines and the report of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Learned {
    /// Every baseline, sorted by identity: the existing ones and the new ones.
    pub baselines: Vec<Baseline>,
    /// What happened.
    pub report: Report,
}

/// When a path was seen in one container.
#[derive(Clone, Copy, Debug, Default)]
struct Seen {
    /// First run outside a startup window.
    run: Option<i64>,
    /// First run inside one.
    startup: Option<i64>,
    /// Runs outside a startup window.
    runs: u64,
}

/// What was observed of one container of one workload.
#[derive(Debug, Default)]
struct Group {
    first: i64,
    paths: HashMap<String, Seen>,
    /// Up to two distinct deployment ids (two mean the workload has several).
    ids: BTreeSet<String>,
    /// Labels every event that had labels agreed on.
    labels: Option<StrMap>,
}

/// Learns baselines from process events (see the module documentation).
#[derive(Debug)]
pub struct Learner {
    options: Options,
    existing: BTreeMap<Identity, Baseline>,
    existing_by_id: HashMap<(String, String), Identity>,
    groups: HashMap<Identity, Group>,
    clock: Option<i64>,
    report: Report,
}

fn min_into(slot: &mut Option<i64>, t: i64) {
    *slot = Some(slot.map_or(t, |s| s.min(t)));
}

impl Learner {
    /// A learner continuing from `existing` baselines (distinct, as a file holds them).
    pub fn new(options: Options, existing: Vec<Baseline>) -> Result<Learner, String> {
        crate::file::check_distinct(&existing)?;
        let mut existing_by_id = HashMap::new();
        let mut by_identity = BTreeMap::new();
        for b in existing {
            let identity = Identity::of(&b);
            if let Some(id) = b.deployment_id.clone().filter(|i| !i.is_empty()) {
                existing_by_id.insert((id, b.container.clone()), identity.clone());
            }
            by_identity.insert(identity, b);
        }
        Ok(Learner {
            options,
            existing: by_identity,
            existing_by_id,
            groups: HashMap::new(),
            clock: None,
            report: Report::default(),
        })
    }

    /// Counts an event that cannot be used; `place` says where it is (`file:line`).
    pub fn reject(&mut self, why: BadEvent, place: &str) {
        self.reject_with(why, place, "");
    }

    /// [`Learner::reject`] with what exactly was wrong (a parser's message).
    pub fn reject_with(&mut self, why: BadEvent, place: &str, detail: &str) {
        *self.report.bad.entry(why.reason().to_string()).or_default() += 1;
        if self.report.bad_examples.len() < MAX_EXAMPLES {
            let detail = if detail.is_empty() {
                String::new()
            } else {
                format!(" ({detail})")
            };
            self.report
                .bad_examples
                .push(format!("{place}: {}{detail}", why.reason()));
        }
    }

    /// The identity of a process's baseline: an existing baseline with its deployment id,
    /// else its workload's name, else its deployment id.
    fn identity(&self, p: &Process, container: &str) -> Option<Identity> {
        let id = p.deployment_id.as_deref().filter(|i| !i.is_empty());
        if let Some(found) = id.and_then(|id| {
            self.existing_by_id
                .get(&(id.to_string(), container.to_string()))
        }) {
            return Some(found.clone());
        }
        let cluster = p.cluster.clone().unwrap_or_default();
        let namespace = p.namespace.clone().unwrap_or_default();
        match (p.workload(), id) {
            (Some(w), _) => Some(Identity {
                cluster,
                namespace,
                workload: w.to_string(),
                deployment_id: String::new(),
                container: container.to_string(),
            }),
            (None, Some(id)) => Some(Identity {
                cluster,
                namespace,
                workload: String::new(),
                deployment_id: id.to_string(),
                container: container.to_string(),
            }),
            (None, None) => None,
        }
    }

    /// Observes one process event; `place` says where it is, for the report.
    pub fn observe(&mut self, p: &Process, place: &str) {
        let Some(container) = p.container.as_deref().filter(|c| !c.is_empty()) else {
            return self.reject(BadEvent::NoContainer, place);
        };
        let Some(path) = p.exec_path.as_deref().filter(|x| !x.is_empty()) else {
            return self.reject(BadEvent::NoExecPath, place);
        };
        let Some(Timestamp(time)) = p.time else {
            return self.reject(BadEvent::NoTime, place);
        };
        let Some(identity) = self.identity(p, container) else {
            return self.reject(BadEvent::NoWorkload, place);
        };
        self.report.events += 1;
        self.clock = Some(self.clock.map_or(time, |c| c.max(time)));
        let startup = p.container_start.is_some_and(|Timestamp(start)| {
            time >= start && time.abs_diff(start) < self.options.startup_seconds
        });
        if startup {
            self.report.startup_events += 1;
        }
        let group = self.groups.entry(identity).or_insert_with(|| Group {
            first: time,
            ..Group::default()
        });
        group.first = group.first.min(time);
        if let Some(id) = p.deployment_id.as_deref().filter(|i| !i.is_empty())
            && group.ids.len() < 2
        {
            group.ids.insert(id.to_string());
        }
        if let Some(labels) = &p.pod_labels {
            let stable = labels
                .iter()
                .filter(|(k, _)| !POD_SPECIFIC_LABELS.contains(&k.as_str()));
            match &mut group.labels {
                None => group.labels = Some(stable.map(|(k, v)| (k.clone(), v.clone())).collect()),
                Some(agreed) => agreed.retain(|k, v| labels.get(k) == Some(v)),
            }
        }
        let seen = match group.paths.get_mut(path) {
            Some(s) => s,
            None => group.paths.entry(path.to_string()).or_default(),
        };
        if startup {
            min_into(&mut seen.startup, time);
        } else {
            min_into(&mut seen.run, time);
            seen.runs += 1;
        }
    }

    /// The baselines: existing ones (locked ones unchanged) with what was learned, new ones,
    /// each locked when the clock has passed its window.
    pub fn finish(mut self) -> Result<Learned, String> {
        let mut report = std::mem::take(&mut self.report);
        report.clock = self.clock.map(Timestamp);
        let mut identities: BTreeSet<Identity> = self.existing.keys().cloned().collect();
        identities.extend(self.groups.keys().cloned());
        let mut out = Vec::with_capacity(identities.len());
        for identity in identities {
            let group = self.groups.remove(&identity);
            let (mut b, created) = match self.existing.remove(&identity) {
                Some(b) => (b, false),
                None => (self.new_baseline(&identity, group.as_ref()), true),
            };
            let was_locked = b.locked;
            if let Some(group) = &group
                && !b.locked
            {
                self.learn_into(&mut b, group);
            }
            if !b.locked
                && let (Some(end), Some(clock)) = (b.observation_end, self.clock)
                && clock >= end.0
            {
                b.locked = true;
                b.locked_at = Some(end);
                b.locked_by = Some("window".into());
            }
            if b.locked
                && let Some(group) = &group
            {
                let name = b.name();
                for (path, seen) in &group.paths {
                    if let Some(first) = seen.run
                        && !b.processes.iter().any(|p| p == path)
                    {
                        report.outside.push(Outside {
                            baseline: name.clone(),
                            path: path.clone(),
                            first: Timestamp(first),
                            events: seen.runs,
                        });
                    }
                }
            }
            crate::file::normalize(&mut b);
            report.created += usize::from(created);
            report.locked += usize::from(b.locked);
            report.locked_now += usize::from(b.locked && !was_locked);
            out.push(b);
        }
        report.outside.sort();
        report.baselines = out.len();
        crate::file::check_distinct(&out)?;
        Ok(Learned {
            baselines: out,
            report,
        })
    }

    /// A baseline for a container seen for the first time.
    fn new_baseline(&self, identity: &Identity, group: Option<&Group>) -> Baseline {
        let nonempty = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
        let one_id = group
            .filter(|g| g.ids.len() == 1)
            .and_then(|g| g.ids.iter().next().cloned());
        let start = group.map(|g| g.first);
        Baseline {
            cluster: nonempty(&identity.cluster),
            namespace: nonempty(&identity.namespace),
            deployment_id: nonempty(&identity.deployment_id).or(one_id),
            workload: nonempty(&identity.workload),
            container: identity.container.clone(),
            startup_seconds: Some(self.options.startup_seconds),
            observation_start: start.map(Timestamp),
            observation_end: start.map(|s| {
                Timestamp(
                    s.saturating_add(
                        i64::try_from(self.options.window_seconds).unwrap_or(i64::MAX),
                    ),
                )
            }),
            ..Baseline::default()
        }
    }

    /// Adds what a group saw inside the window to an unlocked baseline.
    fn learn_into(&self, b: &mut Baseline, group: &Group) {
        let start = b
            .observation_start
            .map_or(group.first, |s| s.0.min(group.first));
        // Events older than the window's start (inputs learned out of order) move the window
        // back, keeping its length: it always starts at the first event.
        if let (Some(old), Some(end)) = (b.observation_start, b.observation_end) {
            b.observation_end = Some(Timestamp(end.0.saturating_sub(old.0.saturating_sub(start))));
        }
        b.observation_start = Some(Timestamp(start));
        let inside = |t: i64| b.observation_end.is_none_or(|end| t < end.0);
        let mut processes: BTreeSet<String> = b.processes.iter().cloned().collect();
        let mut startup: BTreeSet<String> = b.startup.iter().cloned().collect();
        let mut first_seen = std::mem::take(&mut b.first_seen);
        for (path, seen) in &group.paths {
            if b.removed.iter().any(|r| r == path) {
                continue;
            }
            let mut note = |t: i64| {
                let slot = first_seen.entry(path.clone()).or_insert(Timestamp(t));
                slot.0 = slot.0.min(t);
            };
            if let Some(t) = seen.run.filter(|t| inside(*t)) {
                processes.insert(path.clone());
                startup.remove(path);
                note(t);
            }
            if let Some(t) = seen.startup.filter(|t| inside(*t)) {
                if !processes.contains(path) {
                    startup.insert(path.clone());
                }
                note(t);
            }
        }
        b.processes = processes.into_iter().collect();
        b.startup = startup.into_iter().collect();
        b.first_seen = first_seen;
        if let Some(labels) = &group.labels {
            if b.pod_labels.is_empty() {
                b.pod_labels = labels.clone();
            } else {
                b.pod_labels.retain(|k, v| labels.get(k) == Some(v));
            }
        }
        if b.deployment_id.is_none() && group.ids.len() == 1 {
            b.deployment_id = group.ids.iter().next().cloned();
        }
    }
}
