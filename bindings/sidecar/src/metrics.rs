//! Prometheus metrics: requests and latency by route, violations by policy, plugin traps,
//! reloads. Rendered in the text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += secs;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (bound, n) in BUCKETS.iter().zip(self.counts) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

#[derive(Default)]
struct State {
    requests: BTreeMap<(String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    violations: BTreeMap<String, u64>,
    admission: BTreeMap<&'static str, u64>,
    traps: u64,
    refused_connections: u64,
    split_checks: BTreeMap<usize, u64>,
    reloads: BTreeMap<&'static str, u64>,
    events: Option<Events>,
}

/// The event consumer's figures (`--events`).
#[derive(Default)]
struct Events {
    consumed: u64,
    acked: u64,
    redelivered: u64,
    poison: u64,
    retried: u64,
    published: u64,
    in_flight: u64,
    pending: u64,
    latency: Histogram,
}

/// What became of one consumed event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventOutcome {
    /// Evaluated, its violations published and its evidence written, then acked.
    Acked,
    /// Could not be read as an event: terminated (not redelivered).
    Poison,
    /// A step failed (publishing, the evidence log, the plugin): left to be redelivered.
    Retried,
}

/// The server's metrics.
#[derive(Default)]
pub struct Metrics {
    state: Mutex<State>,
}

impl Metrics {
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Counts a request and its latency.
    pub fn request(&self, route: &str, status: u16, elapsed: Duration) {
        self.with(|s| {
            *s.requests.entry((route.to_string(), status)).or_default() += 1;
            let h = s.latency.entry(route.to_string()).or_default();
            h.observe(elapsed);
        })
    }

    /// Counts violations, by policy.
    pub fn violations<'a>(&self, policies: impl Iterator<Item = &'a str>) {
        self.with(|s| {
            for p in policies {
                *s.violations.entry(p.to_string()).or_default() += 1;
            }
        })
    }

    /// Counts an admission decision (`allowed` or `denied`).
    pub fn admission(&self, decision: &'static str) {
        self.with(|s| *s.admission.entry(decision).or_default() += 1)
    }

    /// Counts a plugin trap (including exceeded deadlines and memory caps).
    pub fn trap(&self) {
        self.with(|s| s.traps += 1)
    }

    /// Counts a check evaluated in `parts` parts at once (more than one).
    pub fn split_check(&self, parts: usize) {
        self.with(|s| *s.split_checks.entry(parts).or_default() += 1)
    }

    /// Counts a connection closed at once because `max_connections` were open.
    pub fn refused_connection(&self) {
        self.with(|s| s.refused_connections += 1)
    }

    /// Counts a message taken from the event stream (`delivered`: its delivery count).
    pub fn event_consumed(&self, delivered: i64, pending: u64) {
        self.with(|s| {
            let e = s.events.get_or_insert_with(Events::default);
            e.consumed += 1;
            if delivered > 1 {
                e.redelivered += 1;
            }
            e.pending = pending;
            e.in_flight += 1;
        })
    }

    /// Counts what became of a consumed message, the violations it published and how long
    /// it took from delivery to its ack.
    pub fn event_done(&self, outcome: EventOutcome, published: u64, elapsed: Duration) {
        self.with(|s| {
            let e = s.events.get_or_insert_with(Events::default);
            e.in_flight = e.in_flight.saturating_sub(1);
            e.published += published;
            match outcome {
                EventOutcome::Acked => {
                    e.acked += 1;
                    e.latency.observe(elapsed);
                }
                EventOutcome::Poison => e.poison += 1,
                EventOutcome::Retried => e.retried += 1,
            }
        })
    }

    /// Counts a reload (`ok` or `failed`).
    pub fn reload(&self, outcome: &'static str) {
        self.with(|s| *s.reloads.entry(outcome).or_default() += 1)
    }

    /// The text exposition format.
    pub fn render(&self, policies: usize, generation: u64) -> String {
        self.with(|s| {
            let mut out = String::new();
            let _ = writeln!(out, "# HELP palisade_requests_total HTTP requests by route and status.\n# TYPE palisade_requests_total counter");
            for ((route, status), n) in &s.requests {
                let _ = writeln!(out, "palisade_requests_total{{route=\"{}\",status=\"{status}\"}} {n}", escape(route));
            }
            let _ = writeln!(out, "# HELP palisade_request_duration_seconds Request latency by route.\n# TYPE palisade_request_duration_seconds histogram");
            for (route, h) in &s.latency {
                h.render(&mut out, "palisade_request_duration_seconds", &format!("route=\"{}\"", escape(route)));
            }
            let _ = writeln!(out, "# HELP palisade_violations_total Violations reported, by policy.\n# TYPE palisade_violations_total counter");
            for (policy, n) in &s.violations {
                let _ = writeln!(out, "palisade_violations_total{{policy=\"{}\"}} {n}", escape(policy));
            }
            let _ = writeln!(out, "# HELP palisade_admission_decisions_total Admission reviews answered, by decision.\n# TYPE palisade_admission_decisions_total counter");
            for (decision, n) in &s.admission {
                let _ = writeln!(out, "palisade_admission_decisions_total{{decision=\"{decision}\"}} {n}");
            }
            let _ = writeln!(out, "# HELP palisade_plugin_traps_total Plugin calls that trapped, ran past their deadline or memory cap.\n# TYPE palisade_plugin_traps_total counter\npalisade_plugin_traps_total {}", s.traps);
            let _ = writeln!(out, "# HELP palisade_refused_connections_total Connections closed at once because the connection cap was reached.\n# TYPE palisade_refused_connections_total counter\npalisade_refused_connections_total {}", s.refused_connections);
            let _ = writeln!(out, "# HELP palisade_split_checks_total Large checks evaluated in several parts at once, by the number of parts.\n# TYPE palisade_split_checks_total counter");
            for (parts, n) in &s.split_checks {
                let _ = writeln!(out, "palisade_split_checks_total{{parts=\"{parts}\"}} {n}");
            }
            let _ = writeln!(out, "# HELP palisade_reloads_total Policy reloads, by outcome.\n# TYPE palisade_reloads_total counter");
            for (outcome, n) in &s.reloads {
                let _ = writeln!(out, "palisade_reloads_total{{outcome=\"{outcome}\"}} {n}");
            }
            if let Some(e) = &s.events {
                for (name, help, kind, n) in [
                    ("palisade_events_consumed_total", "Messages taken from the event stream.", "counter", e.consumed),
                    ("palisade_events_acked_total", "Events evaluated, published and recorded, then acked.", "counter", e.acked),
                    ("palisade_events_redelivered_total", "Messages delivered more than once (after a crash, a timeout or a failed step).", "counter", e.redelivered),
                    ("palisade_events_poison_total", "Messages that are no event Palisade reads, terminated (not redelivered).", "counter", e.poison),
                    ("palisade_events_retried_total", "Events left for redelivery because a step failed.", "counter", e.retried),
                    ("palisade_event_violations_published_total", "Violations published to the violations subject.", "counter", e.published),
                    ("palisade_events_in_flight", "Messages being handled now.", "gauge", e.in_flight),
                    ("palisade_events_pending", "Consumer lag: messages of the stream not yet delivered to the consumer (as of the last delivery).", "gauge", e.pending),
                ] {
                    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {n}");
                }
                let _ = writeln!(out, "# HELP palisade_event_duration_seconds From delivery to ack, per event.\n# TYPE palisade_event_duration_seconds histogram");
                e.latency.render(&mut out, "palisade_event_duration_seconds", "");
            }
            let _ = writeln!(out, "# HELP palisade_policies Policies in the set being served.\n# TYPE palisade_policies gauge\npalisade_policies {policies}");
            let _ = writeln!(out, "# HELP palisade_policy_generation Loads of the policy set so far.\n# TYPE palisade_policy_generation gauge\npalisade_policy_generation {generation}");
            out
        })
    }
}

/// Escapes a label value.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_a_cumulative_histogram() {
        let m = Metrics::default();
        m.request("/v1/admit", 200, Duration::from_millis(3));
        m.request("/v1/admit", 200, Duration::from_millis(30));
        m.violations(["Latest \"tag\""].into_iter());
        m.trap();
        m.reload("failed");
        let text = m.render(63, 2);
        assert!(
            text.contains("palisade_requests_total{route=\"/v1/admit\",status=\"200\"} 2"),
            "{text}"
        );
        assert!(
            text.contains(
                "palisade_request_duration_seconds_bucket{route=\"/v1/admit\",le=\"0.005\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "palisade_request_duration_seconds_bucket{route=\"/v1/admit\",le=\"0.05\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains("palisade_request_duration_seconds_count{route=\"/v1/admit\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("palisade_violations_total{policy=\"Latest \\\"tag\\\"\"} 1"),
            "{text}"
        );
        assert!(text.contains("palisade_plugin_traps_total 1"));
        assert!(text.contains("palisade_reloads_total{outcome=\"failed\"} 1"));
        assert!(text.contains("palisade_policies 63"));
    }
}
