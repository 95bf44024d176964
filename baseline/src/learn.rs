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
use hashbrown::HashTable;
use palisade_engine::record::{Baseline, Process, StrMap, Timestamp, workload_name};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::BuildHasher;

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
/// A group and what finds it: its key (inline: the table's one comparison reads the line
/// the group starts on) and its identity.
#[derive(Debug)]
struct Slot {
    key: SmallVec<[u8; 48]>,
    hash: u64,
    identity: Identity,
    group: Group,
}

/// Paths a group saw, by number. The numbers sit in the group's slot and are searched in
/// order (a container runs a handful of paths, and this keeps each event to the slot's
/// cache lines); past [`PathsSeen::SCANNED`] paths an index finds them.
#[derive(Debug, Default)]
struct PathsSeen {
    numbers: SmallVec<[u32; 8]>,
    seen: Vec<Seen>,
    index: Option<FxHashMap<u32, u32>>,
}

impl PathsSeen {
    /// Paths searched in order before an index is built.
    const SCANNED: usize = 32;

    /// What was seen of path `number`, added when new.
    fn entry(&mut self, number: u32) -> &mut Seen {
        let found = match &self.index {
            Some(index) => index.get(&number).map(|&i| i as usize),
            None => self.numbers.iter().position(|&n| n == number),
        };
        let i = match found {
            Some(i) => i,
            None => {
                let i = self.numbers.len();
                self.numbers.push(number);
                self.seen.push(Seen::default());
                let position = u32::try_from(i).unwrap_or(u32::MAX);
                match &mut self.index {
                    Some(index) => {
                        index.insert(number, position);
                    }
                    None if i >= Self::SCANNED => {
                        self.index = Some(
                            self.numbers
                                .iter()
                                .zip(0u32..)
                                .map(|(&n, i)| (n, i))
                                .collect(),
                        );
                    }
                    None => {}
                }
                i
            }
        };
        // `numbers` and `seen` grow together, so `i` is in both.
        let last = self.seen.len().saturating_sub(1);
        &mut self.seen[i.min(last)]
    }

    /// Every path number seen, with what was seen.
    fn iter(&self) -> impl Iterator<Item = (u32, &Seen)> {
        self.numbers.iter().copied().zip(&self.seen)
    }
}

/// The hash of a group key.
fn key_hash(key: &[u8]) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(key)
}

#[derive(Debug, Default)]
struct Group {
    first: i64,
    /// Paths seen (by their number in [`Learner::paths`]), with when.
    paths: PathsSeen,
    /// Up to two distinct deployment ids (two mean the workload has several).
    ids: BTreeSet<String>,
    /// Labels every event that had labels agreed on.
    labels: Option<StrMap>,
}

/// A JSON string, borrowed from the input unless it holds escapes.
#[derive(Debug, Default)]
pub struct Text<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(Visit)
    }
}

/// The fields of a records.md process event that learning reads, borrowed from its JSON
/// (the others are skipped unread: this is the fast path for JSON Lines).
#[derive(Debug, Default, Deserialize)]
pub struct Event<'a> {
    /// `process` for a process event.
    #[serde(borrow, default)]
    pub kind: Option<Text<'a>>,
    /// RFC 3339.
    #[serde(borrow, default)]
    pub time: Option<Text<'a>>,
    /// Cluster.
    #[serde(borrow, default)]
    pub cluster: Option<Text<'a>>,
    /// Namespace.
    #[serde(borrow, default)]
    pub namespace: Option<Text<'a>>,
    /// Deployment id.
    #[serde(borrow, default)]
    pub deployment_id: Option<Text<'a>>,
    /// Deployment (workload) name.
    #[serde(borrow, default)]
    pub deployment: Option<Text<'a>>,
    /// Pod name.
    #[serde(borrow, default)]
    pub pod: Option<Text<'a>>,
    /// Container name.
    #[serde(borrow, default)]
    pub container: Option<Text<'a>>,
    /// Executable path.
    #[serde(borrow, default)]
    pub exec_path: Option<Text<'a>>,
    /// RFC 3339: when the container started.
    #[serde(borrow, default)]
    pub container_start: Option<Text<'a>>,
    /// Pod labels.
    #[serde(default)]
    pub pod_labels: Option<StrMap>,
}

impl Event<'_> {
    /// The record's kind, if it names one.
    pub fn kind(&self) -> Option<&str> {
        self.kind.as_ref().map(|t| t.0.as_ref())
    }
}

fn text<'a>(t: &'a Option<Text<'_>>) -> Option<&'a str> {
    t.as_ref().map(|t| t.0.as_ref())
}

/// A process event's fields, times parsed.
struct Fields<'a> {
    time: Option<i64>,
    container_start: Option<i64>,
    cluster: Option<&'a str>,
    namespace: Option<&'a str>,
    deployment_id: Option<&'a str>,
    workload: Option<&'a str>,
    container: Option<&'a str>,
    exec_path: Option<&'a str>,
    pod_labels: Option<&'a StrMap>,
}

/// Learns baselines from process events (see the module documentation).
#[derive(Debug)]
pub struct Learner {
    options: Options,
    existing: BTreeMap<Identity, Baseline>,
    /// Existing baselines' identities by `deployment id \0 container`.
    existing_by_id: HashMap<String, Identity>,
    /// What was observed, by [`Learner::key`] of the identity: numbers into `slots` in a
    /// small table that stays in cache (a fast hash: the keys are ours, and a hostile input
    /// can only make its own lookups slower).
    groups: HashTable<u32>,
    /// The groups, in the order first seen.
    slots: Vec<Slot>,
    /// A reused buffer for keys.
    key: String,
    /// Every distinct path, numbered: workloads share most of their paths, so the table
    /// stays small and in cache, and groups hold numbers.
    paths: FxHashMap<String, u32>,
    /// The paths by number.
    path_names: Vec<String>,
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
            if let Some(id) = b.deployment_id.as_deref().filter(|i| !i.is_empty()) {
                existing_by_id.insert(format!("{id}\0{}", b.container), identity.clone());
            }
            by_identity.insert(identity, b);
        }
        Ok(Learner {
            options,
            existing: by_identity,
            existing_by_id,
            groups: HashTable::new(),
            slots: Vec::new(),
            key: String::new(),
            paths: FxHashMap::default(),
            path_names: Vec::new(),
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

    /// Observes one process event; `place` says where it is, for the report (called only
    /// for a bad event).
    pub fn observe(&mut self, p: &Process, place: impl FnOnce() -> String) {
        self.observe_fields(
            &Fields {
                time: p.time.map(|t| t.0),
                container_start: p.container_start.map(|t| t.0),
                cluster: p.cluster.as_deref(),
                namespace: p.namespace.as_deref(),
                deployment_id: p.deployment_id.as_deref(),
                workload: p.workload(),
                container: p.container.as_deref(),
                exec_path: p.exec_path.as_deref(),
                pod_labels: p.pod_labels.as_ref(),
            },
            place,
        );
    }

    /// Observes one records.md event read as an [`Event`]; events of other kinds are not
    /// read (the caller counts them). A time that is not RFC 3339 is a bad event.
    pub fn observe_event(&mut self, e: &Event<'_>, place: impl FnOnce() -> String) {
        let parse = |t: &Option<Text<'_>>| match text(t) {
            None => Ok(None),
            Some(text) => Timestamp::parse(text)
                .map(|t| Some(t.0))
                .ok_or_else(|| format!("invalid timestamp `{text}`")),
        };
        let (time, container_start) = match (parse(&e.time), parse(&e.container_start)) {
            (Ok(t), Ok(s)) => (t, s),
            (Err(why), _) | (_, Err(why)) => {
                return self.reject_with(BadEvent::NoTime, &place(), &why);
            }
        };
        self.observe_fields(
            &Fields {
                time,
                container_start,
                cluster: text(&e.cluster),
                namespace: text(&e.namespace),
                deployment_id: text(&e.deployment_id),
                workload: workload_name(text(&e.deployment), text(&e.pod)),
                container: text(&e.container),
                exec_path: text(&e.exec_path),
                pod_labels: e.pod_labels.as_ref(),
            },
            place,
        );
    }

    /// The number of the group with `key`, added (first seen at `time`) when new.
    fn slot_of(&mut self, key: &[u8], time: i64, identity: impl FnOnce() -> Identity) -> usize {
        let hash = key_hash(key);
        let slots = &self.slots;
        let found = self.groups.find(hash, |&n| {
            slots
                .get(n as usize)
                .is_some_and(|s| s.key.as_slice() == key)
        });
        if let Some(&n) = found {
            return n as usize;
        }
        let n = self.slots.len();
        self.slots.push(Slot {
            key: SmallVec::from_slice(key),
            hash,
            identity: identity(),
            group: Group {
                first: time,
                ..Group::default()
            },
        });
        let slots = &self.slots;
        self.groups.insert_unique(hash, n as u32, |&m| {
            slots.get(m as usize).map_or(0, |s| s.hash)
        });
        n
    }

    /// Writes the key of an identity's parts into `out`.
    fn key(out: &mut String, parts: [&str; 5]) {
        out.clear();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                out.push('\0');
            }
            out.push_str(part);
        }
    }

    fn observe_fields(&mut self, p: &Fields<'_>, place: impl FnOnce() -> String) {
        let Some(container) = p.container.filter(|c| !c.is_empty()) else {
            return self.reject(BadEvent::NoContainer, &place());
        };
        let Some(path) = p.exec_path.filter(|x| !x.is_empty()) else {
            return self.reject(BadEvent::NoExecPath, &place());
        };
        let Some(time) = p.time else {
            return self.reject(BadEvent::NoTime, &place());
        };
        let id = p.deployment_id.filter(|i| !i.is_empty());
        // An existing baseline with the deployment id, else the workload's name, else the id.
        let mut key = std::mem::take(&mut self.key);
        let existing = id.and_then(|id| {
            Self::key(&mut key, [id, container, "", "", ""]);
            self.existing_by_id.get(key.as_str()).cloned()
        });
        let identity_parts = match (&existing, p.workload, id) {
            (Some(found), _, _) => Some([
                found.cluster.as_str(),
                found.namespace.as_str(),
                found.workload.as_str(),
                found.deployment_id.as_str(),
                found.container.as_str(),
            ]),
            (None, Some(w), _) => Some([
                p.cluster.unwrap_or(""),
                p.namespace.unwrap_or(""),
                w,
                "",
                container,
            ]),
            (None, None, Some(id)) => Some([
                p.cluster.unwrap_or(""),
                p.namespace.unwrap_or(""),
                "",
                id,
                container,
            ]),
            (None, None, None) => None,
        };
        let Some(parts) = identity_parts else {
            self.key = key;
            return self.reject(BadEvent::NoWorkload, &place());
        };
        Self::key(&mut key, parts);
        self.report.events += 1;
        self.clock = Some(self.clock.map_or(time, |c| c.max(time)));
        let startup = p.container_start.is_some_and(|start| {
            time >= start && time.abs_diff(start) < self.options.startup_seconds
        });
        if startup {
            self.report.startup_events += 1;
        }
        let number = self.slot_of(key.as_bytes(), time, || Identity {
            cluster: parts[0].to_string(),
            namespace: parts[1].to_string(),
            workload: parts[2].to_string(),
            deployment_id: parts[3].to_string(),
            container: parts[4].to_string(),
        });
        self.key = key;
        let Some(Slot { group, .. }) = self.slots.get_mut(number) else {
            return;
        };
        group.first = group.first.min(time);
        if let Some(id) = id
            && group.ids.len() < 2
            && !group.ids.contains(id)
        {
            group.ids.insert(id.to_string());
        }
        if let Some(labels) = p.pod_labels {
            let stable = labels
                .iter()
                .filter(|(k, _)| !POD_SPECIFIC_LABELS.contains(&k.as_str()));
            match &mut group.labels {
                None => group.labels = Some(stable.map(|(k, v)| (k.clone(), v.clone())).collect()),
                Some(agreed) => agreed.retain(|k, v| labels.get(k) == Some(v)),
            }
        }
        let number = match self.paths.get(path) {
            Some(n) => *n,
            None => {
                let n = u32::try_from(self.path_names.len()).unwrap_or(u32::MAX);
                self.paths.insert(path.to_string(), n);
                self.path_names.push(path.to_string());
                n
            }
        };
        let seen = group.paths.entry(number);
        if startup {
            min_into(&mut seen.startup, time);
        } else {
            min_into(&mut seen.run, time);
            seen.runs += 1;
        }
    }

    /// Takes in what `other` observed, as if its events had come after this learner's: the
    /// same baselines as one learner given all the events (learning does not depend on
    /// order), with bad examples in the order of the two. Both continue from the same
    /// existing baselines; threads each learn from a piece of the input, then merge.
    pub fn merge(&mut self, other: Learner) {
        let numbers: Vec<u32> = other
            .path_names
            .into_iter()
            .map(|path| match self.paths.get(&path) {
                Some(n) => *n,
                None => {
                    let n = u32::try_from(self.path_names.len()).unwrap_or(u32::MAX);
                    self.paths.insert(path.clone(), n);
                    self.path_names.push(path);
                    n
                }
            })
            .collect();
        for slot in other.slots {
            let theirs = slot.group;
            let identity = slot.identity;
            let number = self.slot_of(&slot.key, theirs.first, || identity);
            let Some(Slot { group: ours, .. }) = self.slots.get_mut(number) else {
                continue;
            };
            ours.first = ours.first.min(theirs.first);
            for id in theirs.ids {
                if ours.ids.len() < 2 {
                    ours.ids.insert(id);
                }
            }
            ours.labels = match (ours.labels.take(), theirs.labels) {
                (Some(mut agreed), Some(labels)) => {
                    agreed.retain(|k, v| labels.get(k) == Some(v));
                    Some(agreed)
                }
                (agreed, labels) => agreed.or(labels),
            };
            for (number, seen) in theirs.paths.iter() {
                let number = numbers.get(number as usize).copied().unwrap_or(u32::MAX);
                let slot = ours.paths.entry(number);
                if let Some(t) = seen.run {
                    min_into(&mut slot.run, t);
                }
                if let Some(t) = seen.startup {
                    min_into(&mut slot.startup, t);
                }
                slot.runs += seen.runs;
            }
        }
        self.clock = match (self.clock, other.clock) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let report = &mut self.report;
        report.events += other.report.events;
        report.startup_events += other.report.startup_events;
        for (why, n) in other.report.bad {
            *report.bad.entry(why).or_default() += n;
        }
        let room = MAX_EXAMPLES.saturating_sub(report.bad_examples.len());
        report
            .bad_examples
            .extend(other.report.bad_examples.into_iter().take(room));
    }

    /// The baselines: existing ones (locked ones unchanged) with what was learned, new ones,
    /// each locked when the clock has passed its window.
    pub fn finish(mut self) -> Result<Learned, String> {
        let mut report = std::mem::take(&mut self.report);
        report.clock = self.clock.map(Timestamp);
        // The groups and the existing baselines, both sorted by identity, walked together.
        self.groups.clear();
        let mut slots = std::mem::take(&mut self.slots);
        slots.sort_unstable_by(|a, b| a.identity.cmp(&b.identity));
        let mut slots = slots.into_iter().peekable();
        let mut existing = std::mem::take(&mut self.existing).into_iter().peekable();
        let mut out = Vec::with_capacity(slots.len() + existing.len());
        loop {
            let next = match (existing.peek(), slots.peek()) {
                (None, None) => break,
                (Some((have, _)), Some(slot)) => have.cmp(&slot.identity),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
            };
            let (found, group) = match next {
                std::cmp::Ordering::Less => (existing.next().map(|(_, b)| b), None),
                std::cmp::Ordering::Greater => (None, slots.next()),
                std::cmp::Ordering::Equal => (existing.next().map(|(_, b)| b), slots.next()),
            };
            let (group, identity) = match group {
                Some(slot) => (Some(slot.group), Some(slot.identity)),
                None => (None, None),
            };
            let (mut b, created) = match (found, &identity) {
                (Some(b), _) => (b, false),
                (None, Some(identity)) => (self.new_baseline(identity, group.as_ref()), true),
                (None, None) => continue,
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
                for (number, seen) in group.paths.iter() {
                    let path = self.path_name(number);
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

    /// The path with this number.
    fn path_name(&self, number: u32) -> &String {
        static NONE: String = String::new();
        self.path_names.get(number as usize).unwrap_or(&NONE)
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
        for (number, seen) in group.paths.iter() {
            let path = self.path_name(number);
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
