//! A report period: what the entries of one or more logs show between two times. Every
//! report format renders this model; the JSON report is this model as it is.
//!
//! - Controls in force: the policies of every policy set in force at an evaluation of the
//!   period.
//! - Evaluations: finished `check` runs, admission decisions and `serve` check requests.
//! - Open violations at the end: the violations of the last finished run of each `check`
//!   target (the same inputs) and of the last admission decision of each object that was
//!   let in; a later run or decision without them closes them. Denied objects never ran.
//! - A criterion is not satisfied when a policy citing it has an open violation; satisfied
//!   when its controls were evaluated and nothing is open; not assessed otherwise.
//! - Gaps: every stretch longer than the maximum gap without an evaluation, from the start
//!   of the period to its end.

use crate::entry::*;
use crate::soc2;
use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// The longest period reported at once, in days (ten years).
pub const MAX_DAYS: i64 = 3660;

/// Severities, lowest first, as entries spell them.
pub const SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];

/// What a report covers.
#[derive(Clone, Debug)]
pub struct Options {
    /// Start of the period (inclusive).
    pub from: DateTime<Utc>,
    /// End of the period (exclusive).
    pub to: DateTime<Utc>,
    /// Longest stretch without an evaluation that is not flagged.
    pub max_gap: Duration,
    /// When the report is made.
    pub generated: DateTime<Utc>,
}

/// A log the report read.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LogSummary {
    /// The file as given.
    pub file: String,
    /// The log id.
    pub log_id: String,
    /// Entries in the log.
    pub entries: u64,
    /// Signed checkpoints.
    pub checkpoints: u64,
    /// Keys that signed them.
    pub signers: Vec<String>,
    /// Whether it verified.
    pub verified: bool,
}

/// A policy in force during the period.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Control {
    /// Policy name.
    pub name: String,
    /// Severity.
    pub severity: String,
    /// SOC 2 criteria.
    pub soc2: Vec<String>,
    /// Lifecycle stages.
    pub lifecycle: Vec<String>,
    /// Enforcement actions.
    pub enforcement: Vec<String>,
    /// Disabled in at least one set in force (not evaluated there).
    pub disabled: bool,
    /// Evaluations at which it was in force.
    pub evaluations: u64,
    /// Violations it found in the period.
    pub violations: u64,
}

/// A policy-set change.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PolicyChange {
    /// When.
    pub time: String,
    /// The run that loaded the set.
    pub run: String,
    /// The new set's digest.
    pub digest: String,
    /// Policies added (all of them for the first set of a log).
    pub added: Vec<String>,
    /// Policies removed.
    pub removed: Vec<String>,
    /// Policies whose severity, criteria, enforcement, stages, exclusions or state changed.
    pub changed: Vec<String>,
}

/// One criterion's result.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Criterion {
    /// Id (`CC6.1`).
    pub id: String,
    /// Trust principle.
    pub principle: String,
    /// Short title.
    pub title: String,
    /// `satisfied`, `not-satisfied` or `not-assessed`.
    pub status: String,
    /// The policies in force that cite it.
    pub controls: Vec<String>,
    /// Evaluations at which one of them was in force.
    pub evaluations: u64,
    /// Violations of its policies in the period.
    pub violations: u64,
    /// Of those, open at the end.
    pub open: u64,
    /// Violations suppressed by exclusions.
    pub exceptions: u64,
}

/// Evaluations and violations of one UTC day.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct Day {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Evaluations (runs, admission decisions, check requests).
    pub evaluations: u64,
    /// Records evaluated.
    pub records: u64,
    /// Admission decisions that denied.
    pub denied: u64,
    /// Violations by severity, lowest first.
    pub violations: [u64; 4],
}

/// A violation in the period.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Finding {
    /// When.
    pub time: String,
    /// The run or server session.
    pub run: String,
    /// Where it came from: `check`, `admission` or `serve`.
    pub source: String,
    /// Policy name.
    pub policy: String,
    /// Severity.
    pub severity: String,
    /// SOC 2 criteria.
    pub soc2: Vec<String>,
    /// The record.
    pub record: RecordRef,
    /// Its digest.
    pub record_digest: String,
    /// Messages.
    pub messages: Vec<String>,
    /// The log and entry it is in (`<log id>#<entry>`).
    pub evidence: String,
}

/// An exception (suppressed violation) in the period, merged over runs.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Exception {
    /// Policy name.
    pub policy: String,
    /// Severity.
    pub severity: String,
    /// SOC 2 criteria.
    pub soc2: Vec<String>,
    /// The record.
    pub record: RecordRef,
    /// The exclusion's reason.
    pub reason: String,
    /// Its expiry.
    pub expires: Option<String>,
    /// Whether it expired before the end of the period.
    pub expired: bool,
    /// First and last time it suppressed a violation.
    pub first_seen: String,
    /// Last time.
    pub last_seen: String,
    /// How many times.
    pub count: u64,
}

/// A stretch without an evaluation longer than the maximum gap.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Gap {
    /// Last evaluation before it (or the start of the period).
    pub from: String,
    /// First evaluation after it (or the end of the period).
    pub to: String,
    /// Its length in hours.
    pub hours: f64,
}

/// A run that started in the period and has no finish entry.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct UnfinishedRun {
    /// Run id.
    pub run: String,
    /// `check` or `serve`.
    pub source: String,
    /// Start time.
    pub started: String,
}

/// Totals of the period.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct Totals {
    /// Finished runs.
    pub runs: u64,
    /// Evaluations.
    pub evaluations: u64,
    /// Admission decisions.
    pub admissions: u64,
    /// Of which denied.
    pub denied: u64,
    /// Records evaluated.
    pub records: u64,
    /// Violations.
    pub violations: u64,
    /// Violations open at the end.
    pub open: u64,
    /// Suppressed by exclusions.
    pub exceptions: u64,
    /// Evaluations of an event already counted (a consumed message delivered again after
    /// a crash or a timeout, to the same replica or another), left out of every figure.
    pub repeated: u64,
}

/// The report model.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Period {
    /// Report format version.
    pub version: u32,
    /// Start (inclusive).
    pub from: String,
    /// End (exclusive).
    pub to: String,
    /// When the report was made.
    pub generated: String,
    /// The maximum gap, in hours.
    pub max_gap_hours: f64,
    /// The logs read.
    pub logs: Vec<LogSummary>,
    /// Totals.
    pub totals: Totals,
    /// Criteria, by principle and number.
    pub criteria: Vec<Criterion>,
    /// Policies in force.
    pub controls: Vec<Control>,
    /// Policy-set changes in the period.
    pub policy_changes: Vec<PolicyChange>,
    /// Every day of the period.
    pub days: Vec<Day>,
    /// Violations open at the end.
    pub open_violations: Vec<Finding>,
    /// Every violation in the period, in log order.
    pub violations: Vec<Finding>,
    /// Exceptions.
    pub exceptions: Vec<Exception>,
    /// Gaps.
    pub gaps: Vec<Gap>,
    /// Unfinished runs.
    pub unfinished_runs: Vec<UnfinishedRun>,
}

/// Why a period could not be built.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PeriodError {
    /// The period is empty or reversed.
    #[error("the period is empty: --from {0} is not before --to {1}")]
    Empty(String, String),
    /// The period is longer than [`MAX_DAYS`].
    #[error("the period from {0} to {1} is longer than {MAX_DAYS} days: report it in parts")]
    TooLong(String, String),
    /// An entry's time is not RFC 3339.
    #[error("{0} entry {1}: time `{2}` is not an RFC 3339 time")]
    BadTime(String, u64, String),
    /// Nothing was evaluated in the period.
    #[error("no evaluation between {0} and {1} in {2}")]
    NoEntries(String, String, String),
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A `check` run in progress while reading a log.
struct RunState {
    source: String,
    target: String,
    policy_set: String,
    started: DateTime<Utc>,
    started_text: String,
    violations: Vec<usize>,
}

/// Builds a period from logs read one after the other.
pub struct Builder {
    options: Options,
    logs: Vec<LogSummary>,
    policy_sets: HashMap<String, PolicySet>,
    /// Digests of the sets in force at an evaluation of the period.
    in_force: BTreeMap<String, u64>,
    runs: HashMap<String, RunState>,
    /// The current set of each `serve` session (reloads change it).
    session_set: HashMap<String, String>,
    /// The set the last run of each target used (for change diffs).
    last_set_by_target: HashMap<String, String>,
    totals: Totals,
    days: BTreeMap<NaiveDate, Day>,
    evaluation_times: Vec<DateTime<Utc>>,
    findings: Vec<Finding>,
    /// Last finished run of each check target: (finish time, its findings).
    last_by_target: BTreeMap<String, (DateTime<Utc>, Vec<usize>)>,
    /// Last admission decision of each object: (time, allowed, its findings).
    last_by_object: BTreeMap<ObjectRef, (DateTime<Utc>, bool, Vec<usize>)>,
    exceptions: BTreeMap<(String, RecordRef, String, Option<String>), Exception>,
    changes: Vec<PolicyChange>,
    unfinished: Vec<UnfinishedRun>,
    log_name: String,
    log_id: String,
    violations_by_policy: HashMap<String, u64>,
    evaluations_by_set: HashMap<String, u64>,
    /// Events evaluated so far (every log), with the run whose evaluation was counted: a
    /// second evaluation of one is not, nor are the violations it found.
    events: HashMap<String, String>,
    /// (event, policy, record kind, record id) of the violations found evaluating events.
    event_findings: HashSet<(String, String, String, String)>,
}

impl Builder {
    /// A builder for this period.
    pub fn new(options: Options) -> Result<Builder, PeriodError> {
        if options.from >= options.to {
            return Err(PeriodError::Empty(
                rfc3339(options.from),
                rfc3339(options.to),
            ));
        }
        // A day is a row of the report and a bar of its charts: bound them.
        if options.to - options.from > Duration::days(MAX_DAYS) {
            return Err(PeriodError::TooLong(
                rfc3339(options.from),
                rfc3339(options.to),
            ));
        }
        Ok(Builder {
            options,
            logs: Vec::new(),
            policy_sets: HashMap::new(),
            in_force: BTreeMap::new(),
            runs: HashMap::new(),
            session_set: HashMap::new(),
            last_set_by_target: HashMap::new(),
            totals: Totals::default(),
            days: BTreeMap::new(),
            evaluation_times: Vec::new(),
            findings: Vec::new(),
            last_by_target: BTreeMap::new(),
            last_by_object: BTreeMap::new(),
            exceptions: BTreeMap::new(),
            changes: Vec::new(),
            unfinished: Vec::new(),
            log_name: String::new(),
            log_id: String::new(),
            violations_by_policy: HashMap::new(),
            evaluations_by_set: HashMap::new(),
            events: HashMap::new(),
            event_findings: HashSet::new(),
        })
    }

    /// Starts reading a log (its entries follow with [`Builder::entry`]).
    pub fn start_log(&mut self, name: &str, log_id: &str) {
        self.close_runs();
        self.log_name = name.to_string();
        self.log_id = log_id.to_string();
        self.last_set_by_target.clear();
    }

    /// Records what verification said of the current log.
    pub fn log_summary(&mut self, summary: LogSummary) {
        self.logs.push(summary);
    }

    fn in_period(&self, t: DateTime<Utc>) -> bool {
        t >= self.options.from && t < self.options.to
    }

    fn day(&mut self, t: DateTime<Utc>) -> &mut Day {
        let date = t.date_naive();
        self.days.entry(date).or_insert_with(|| Day {
            date: date.to_string(),
            ..Day::default()
        })
    }

    fn evaluated(&mut self, t: DateTime<Utc>, set: Option<&str>, records: u64) {
        self.totals.evaluations += 1;
        self.totals.records += records;
        self.evaluation_times.push(t);
        let day = self.day(t);
        day.evaluations += 1;
        day.records += records;
        if let Some(set) = set {
            *self.in_force.entry(set.to_string()).or_default() += 1;
            *self.evaluations_by_set.entry(set.to_string()).or_default() += 1;
        }
    }

    fn finding(&mut self, t: DateTime<Utc>, seq: u64, source: &str, v: &ViolationEntry) -> usize {
        self.totals.violations += 1;
        let sev = SEVERITIES
            .iter()
            .position(|s| *s == v.severity)
            .unwrap_or(0);
        self.day(t).violations[sev] += 1;
        *self
            .violations_by_policy
            .entry(v.policy.clone())
            .or_default() += 1;
        self.findings.push(Finding {
            time: v.time.clone(),
            run: v.run.clone(),
            source: source.to_string(),
            policy: v.policy.clone(),
            severity: v.severity.clone(),
            soc2: v.soc2.clone(),
            record: v.record.clone(),
            record_digest: v.record_digest.clone(),
            messages: v.messages.clone(),
            evidence: format!("{}#{seq}", self.log_id),
        });
        self.findings.len() - 1
    }

    /// Records a change from `previous` (None: the first set of a target) to `digest`, at
    /// `time` in `run`, when inside the period.
    fn changed(
        &mut self,
        inside: bool,
        previous: Option<&str>,
        digest: &str,
        time: &str,
        run: &str,
    ) {
        if !inside || previous == Some(digest) {
            return;
        }
        let Some(set) = self.policy_sets.get(digest) else {
            return;
        };
        let before = previous.and_then(|d| self.policy_sets.get(d));
        let mut change = diff(before, set);
        change.time = time.to_string();
        change.run = run.to_string();
        self.changes.push(change);
    }

    /// Reads the next entry of the current log.
    pub fn entry(&mut self, seq: u64, entry: &Entry) -> Result<(), PeriodError> {
        let t = DateTime::parse_from_rfc3339(entry.time())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                PeriodError::BadTime(self.log_name.clone(), seq, entry.time().to_string())
            })?;
        let inside = self.in_period(t);
        match entry {
            Entry::Log(_) => {}
            Entry::PolicySet(set) => {
                self.policy_sets
                    .entry(set.digest.clone())
                    .or_insert_with(|| set.clone());
                // A set written inside a running `serve` session is a reload.
                if self.runs.contains_key(&set.run) {
                    let previous = self.session_set.get(&set.run).cloned();
                    self.changed(
                        inside,
                        previous.as_deref(),
                        &set.digest,
                        &set.time,
                        &set.run,
                    );
                    self.session_set.insert(set.run.clone(), set.digest.clone());
                }
            }
            Entry::RunStarted(r) => {
                let mut inputs: Vec<&str> = r.inputs.iter().map(|i| i.name.as_str()).collect();
                inputs.sort_unstable();
                let target = format!("{}:{}", r.source, inputs.join(","));
                // A change: the set differs from the one the previous run of this target
                // (the same check inputs, or the server) used.
                let previous = self.last_set_by_target.get(&target).cloned();
                self.changed(inside, previous.as_deref(), &r.policy_set, &r.time, &r.run);
                self.last_set_by_target
                    .insert(target.clone(), r.policy_set.clone());
                self.session_set.insert(r.run.clone(), r.policy_set.clone());
                self.runs.insert(
                    r.run.clone(),
                    RunState {
                        source: r.source.clone(),
                        target,
                        policy_set: r.policy_set.clone(),
                        started: t,
                        started_text: r.time.clone(),
                        violations: Vec::new(),
                    },
                );
            }
            Entry::Violation(v) => {
                let repeated = v.event.as_ref().is_some_and(|event| {
                    self.events.get(event) != Some(&v.run)
                        || !self.event_findings.insert((
                            event.clone(),
                            v.policy.clone(),
                            v.record.kind.clone(),
                            v.record.id.clone(),
                        ))
                });
                if inside && !repeated {
                    let source = self
                        .runs
                        .get(&v.run)
                        .map(|r| r.source.clone())
                        .unwrap_or_else(|| "check".into());
                    let source = if source == "serve" { "serve" } else { "check" };
                    let i = self.finding(t, seq, source, v);
                    if let Some(run) = self.runs.get_mut(&v.run) {
                        run.violations.push(i);
                    }
                }
            }
            Entry::Exception(e) => {
                if inside {
                    self.totals.exceptions += 1;
                    let key = (
                        e.policy.clone(),
                        e.record.clone(),
                        e.reason.clone(),
                        e.expires.clone(),
                    );
                    let expired = e.expires.as_deref().is_some_and(|x| {
                        DateTime::parse_from_rfc3339(x)
                            .is_ok_and(|x| x.with_timezone(&Utc) < self.options.to)
                    });
                    let item = self.exceptions.entry(key).or_insert_with(|| Exception {
                        policy: e.policy.clone(),
                        severity: e.severity.clone(),
                        soc2: e.soc2.clone(),
                        record: e.record.clone(),
                        reason: e.reason.clone(),
                        expires: e.expires.clone(),
                        expired,
                        first_seen: e.time.clone(),
                        last_seen: e.time.clone(),
                        count: 0,
                    });
                    item.count += 1;
                    item.last_seen = e.time.clone();
                }
            }
            Entry::Admission(a) => {
                if inside {
                    self.totals.admissions += 1;
                    let set = self.session_set.get(&a.run).cloned();
                    self.evaluated(t, set.as_deref(), 1);
                    if !a.allowed {
                        self.totals.denied += 1;
                        self.day(t).denied += 1;
                    }
                    let found: Vec<usize> = a
                        .violations
                        .iter()
                        .map(|v| self.finding(t, seq, "admission", v))
                        .collect();
                    let closes = a.operation == "DELETE";
                    let newer = self
                        .last_by_object
                        .get(&a.object)
                        .is_none_or(|(at, _, _)| *at <= t);
                    if newer {
                        self.last_by_object
                            .insert(a.object.clone(), (t, a.allowed && !closes, found));
                    }
                }
            }
            Entry::Evaluation(e) => {
                if inside
                    && e.event
                        .as_ref()
                        .is_some_and(|ev| self.events.contains_key(ev))
                {
                    self.totals.repeated += 1;
                } else if inside {
                    if let Some(event) = &e.event {
                        self.events.insert(event.clone(), e.run.clone());
                    }
                    let set = self.session_set.get(&e.run).cloned();
                    self.evaluated(t, set.as_deref(), e.records);
                }
            }
            Entry::RunFinished(f) => {
                if let Some(run) = self.runs.remove(&f.run) {
                    // A `serve` session's end is no evaluation: its requests were counted.
                    if inside && run.source != "serve" {
                        self.totals.runs += 1;
                        self.evaluated(t, Some(&run.policy_set), f.records);
                        let newer = self
                            .last_by_target
                            .get(&run.target)
                            .is_none_or(|(at, _)| *at <= t);
                        if newer {
                            self.last_by_target
                                .insert(run.target.clone(), (t, run.violations));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Runs of the log just read that never finished.
    fn close_runs(&mut self) {
        let mut open: Vec<(String, RunState)> = self.runs.drain().collect();
        open.sort_by(|a, b| a.1.started.cmp(&b.1.started).then(a.0.cmp(&b.0)));
        for (run, state) in open {
            if state.started >= self.options.from && state.started < self.options.to {
                self.unfinished.push(UnfinishedRun {
                    run,
                    source: state.source,
                    started: state.started_text,
                });
            }
        }
    }

    /// The period; an error when nothing was evaluated in it.
    pub fn finish(mut self) -> Result<Period, PeriodError> {
        self.close_runs();
        let o = self.options.clone();
        if self.totals.evaluations == 0 && self.unfinished.is_empty() {
            let names: Vec<&str> = self.logs.iter().map(|l| l.file.as_str()).collect();
            return Err(PeriodError::NoEntries(
                rfc3339(o.from),
                rfc3339(o.to),
                names.join(", "),
            ));
        }
        // Open violations: the last run of each target, the last decision of each object.
        let mut open: BTreeSet<usize> = BTreeSet::new();
        for (_, found) in self.last_by_target.values() {
            open.extend(found.iter().copied());
        }
        for (_, let_in, found) in self.last_by_object.values() {
            if *let_in {
                open.extend(found.iter().copied());
            }
        }
        let open_violations: Vec<Finding> =
            open.iter().map(|i| self.findings[*i].clone()).collect();
        self.totals.open = open_violations.len() as u64;
        // Controls: every policy of every set in force.
        let mut controls: BTreeMap<String, Control> = BTreeMap::new();
        for (digest, evaluations) in &self.in_force {
            let Some(set) = self.policy_sets.get(digest) else {
                continue;
            };
            for p in &set.policies {
                let c = controls.entry(p.name.clone()).or_insert_with(|| Control {
                    name: p.name.clone(),
                    severity: p.severity.clone(),
                    soc2: p.soc2.clone(),
                    lifecycle: p.lifecycle.clone(),
                    enforcement: p.enforcement.clone(),
                    disabled: false,
                    evaluations: 0,
                    violations: *self.violations_by_policy.get(&p.name).unwrap_or(&0),
                });
                c.disabled |= p.disabled;
                if !p.disabled {
                    c.evaluations += evaluations;
                }
                for id in &p.soc2 {
                    if !c.soc2.contains(id) {
                        c.soc2.push(id.clone());
                    }
                }
            }
        }
        // Criteria.
        let mut ids: BTreeSet<String> = controls
            .values()
            .flat_map(|c| c.soc2.iter().cloned())
            .collect();
        ids.extend(self.findings.iter().flat_map(|f| f.soc2.iter().cloned()));
        let mut criteria: Vec<Criterion> = ids
            .into_iter()
            .map(|id| {
                let cites = |soc2: &Vec<String>| soc2.contains(&id);
                let names: Vec<String> = controls
                    .values()
                    .filter(|c| cites(&c.soc2))
                    .map(|c| c.name.clone())
                    .collect();
                let evaluations = controls
                    .values()
                    .filter(|c| cites(&c.soc2))
                    .map(|c| c.evaluations)
                    .max()
                    .unwrap_or(0);
                let violations = self.findings.iter().filter(|f| cites(&f.soc2)).count() as u64;
                let open_n = open_violations.iter().filter(|f| cites(&f.soc2)).count() as u64;
                let exceptions = self
                    .exceptions
                    .values()
                    .filter(|e| cites(&e.soc2))
                    .map(|e| e.count)
                    .sum();
                let status = if open_n > 0 {
                    "not-satisfied"
                } else if evaluations > 0 {
                    "satisfied"
                } else {
                    "not-assessed"
                };
                Criterion {
                    principle: soc2::principle(&id).to_string(),
                    title: soc2::title(&id).to_string(),
                    status: status.to_string(),
                    controls: names,
                    evaluations,
                    violations,
                    open: open_n,
                    exceptions,
                    id,
                }
            })
            .collect();
        criteria.sort_by_key(|c| soc2::order(&c.id));
        // Every day of the period, evaluated or not.
        let mut days = Vec::new();
        let mut date = o.from.date_naive();
        let last = (o.to - Duration::nanoseconds(1)).date_naive();
        while date <= last {
            days.push(self.days.remove(&date).unwrap_or_else(|| Day {
                date: date.to_string(),
                ..Day::default()
            }));
            let Some(next) = date.succ_opt() else { break };
            date = next;
        }
        // Gaps.
        let mut times = std::mem::take(&mut self.evaluation_times);
        times.sort_unstable();
        let mut gaps = Vec::new();
        let mut previous = o.from;
        for t in times.into_iter().chain(std::iter::once(o.to)) {
            if t - previous > o.max_gap {
                gaps.push(Gap {
                    from: rfc3339(previous),
                    to: rfc3339(t),
                    hours: hours(t - previous),
                });
            }
            previous = previous.max(t);
        }
        Ok(Period {
            version: 1,
            from: rfc3339(o.from),
            to: rfc3339(o.to),
            generated: rfc3339(o.generated),
            max_gap_hours: hours(o.max_gap),
            logs: self.logs,
            totals: self.totals,
            criteria,
            controls: controls.into_values().collect(),
            policy_changes: self.changes,
            days,
            open_violations,
            violations: self.findings,
            exceptions: self.exceptions.into_values().collect(),
            gaps,
            unfinished_runs: self.unfinished,
        })
    }
}

fn hours(d: Duration) -> f64 {
    (d.num_seconds() as f64 / 36.0).round() / 100.0
}

/// What changed from `previous` (None: the first set) to `set`.
fn diff(previous: Option<&PolicySet>, set: &PolicySet) -> PolicyChange {
    let before: BTreeMap<&str, &PolicySummary> = previous
        .map(|p| p.policies.iter().map(|x| (x.name.as_str(), x)).collect())
        .unwrap_or_default();
    let after: BTreeMap<&str, &PolicySummary> =
        set.policies.iter().map(|x| (x.name.as_str(), x)).collect();
    PolicyChange {
        time: set.time.clone(),
        run: set.run.clone(),
        digest: set.digest.clone(),
        added: after
            .keys()
            .filter(|k| !before.contains_key(*k))
            .map(|k| k.to_string())
            .collect(),
        removed: before
            .keys()
            .filter(|k| !after.contains_key(*k))
            .map(|k| k.to_string())
            .collect(),
        changed: after
            .iter()
            .filter(|(k, v)| before.get(*k).is_some_and(|b| b != *v))
            .map(|(k, _)| k.to_string())
            .collect(),
    }
}

/// The entries one `check` of policies over records would write, for a period of one
/// evaluation (the playground's evidence view).
pub fn single_check(
    time: &str,
    policy_set: PolicySet,
    violations: Vec<ViolationEntry>,
    exceptions: Vec<ExceptionEntry>,
    records: u64,
) -> Vec<Entry> {
    let run = policy_set.run.clone();
    let digest = policy_set.digest.clone();
    let mut out = vec![
        Entry::PolicySet(policy_set),
        Entry::RunStarted(RunStarted {
            run: run.clone(),
            time: time.to_string(),
            source: "check".into(),
            tool: format!("palisade {}", env!("CARGO_PKG_VERSION")),
            policy_set: digest,
            inputs: Vec::new(),
            actor: None,
        }),
    ];
    let (n, e) = (violations.len() as u64, exceptions.len() as u64);
    out.extend(violations.into_iter().map(Entry::Violation));
    out.extend(exceptions.into_iter().map(Entry::Exception));
    out.push(Entry::RunFinished(RunFinished {
        run,
        time: time.to_string(),
        records,
        violations: n,
        exceptions: e,
        failed: n > 0,
    }));
    out
}
