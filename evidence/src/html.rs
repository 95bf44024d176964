//! The HTML report: one self-contained file (inline style, inline SVG charts, no script, no
//! font or image to fetch) that opens offline and prints.

use crate::period::{Criterion, Day, Finding, Period, SEVERITIES};
use crate::soc2::PRINCIPLES;
use std::fmt::Write;

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1d2430;margin:0;background:#f6f7f9}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d8dce3;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
.muted{color:#5b6473}.cards{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}
.card{background:#fff;border:1px solid #d8dce3;border-radius:6px;padding:10px 14px;min-width:120px}
.card b{display:block;font-size:20px}.card.bad b{color:#b3261e}
table{border-collapse:collapse;width:100%;background:#fff;margin:6px 0 12px}
th,td{border:1px solid #d8dce3;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef0f4;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;white-space:nowrap}
.satisfied{background:#d7f0dd;color:#1e6b34}.not-satisfied{background:#f9d9d6;color:#8c1d18}.not-assessed{background:#e6e8ec;color:#3d4451}
.sev-low{background:#e3eefc;color:#1f4e8c}.sev-medium{background:#fff1c7;color:#7a5a00}.sev-high{background:#ffdcc7;color:#8a3a00}.sev-critical{background:#f9d9d6;color:#8c1d18}
.flag{background:#f9d9d6;color:#8c1d18}.ok{background:#d7f0dd;color:#1e6b34}
svg{background:#fff;border:1px solid #d8dce3;border-radius:6px}
code{font-size:12px;word-break:break-all}
@media print{body{background:#fff}.card,svg,table{break-inside:avoid}}
";

const SEVERITY_COLORS: [&str; 4] = ["#6c9bd8", "#e0b400", "#e8772e", "#c0392b"];

/// Renders the period as one HTML document.
pub fn render(period: &Period) -> String {
    let mut h = String::with_capacity(64 * 1024 + period.open_violations.len() * 400);
    let title = format!(
        "SOC 2 evidence, {} to {}",
        day_of(&period.from),
        last_day(&period.to)
    );
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"generator\" content=\"palisade\"><title>{}</title><style>{STYLE}</style></head><body><main>\n",
        escape(&title)
    );
    let source = match period.logs.len() {
        0 => "from one evaluation, not from an evidence log".to_string(),
        1 => "from the evidence log below".to_string(),
        _ => "from the evidence logs below".to_string(),
    };
    let _ = writeln!(
        h,
        "<h1>{}</h1><p class=\"muted\">Period {} to {} (end exclusive). Generated {} by Palisade {source}.</p>",
        escape(&title),
        escape(&period.from),
        escape(&period.to),
        escape(&period.generated),
    );
    logs(&mut h, period);
    cards(&mut h, period);
    // Per-day charts of a single day show nothing the cards do not.
    if period.days.len() > 1 {
        h.push_str("<h2>Evaluations per day</h2>\n");
        evaluations_chart(&mut h, &period.days);
        h.push_str("<h2>Violations by severity per day</h2>\n");
        violations_chart(&mut h, &period.days);
    }
    criteria(&mut h, period);
    open_violations(&mut h, &period.open_violations);
    exceptions(&mut h, period);
    gaps(&mut h, period);
    changes(&mut h, period);
    controls(&mut h, period);
    unfinished(&mut h, period);
    h.push_str("</main></body></html>\n");
    h
}

fn day_of(time: &str) -> &str {
    time.get(..10).unwrap_or(time)
}

/// The last day a period ending (exclusively) at `end` includes.
fn last_day(end: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(end)
        .map(|t| (t - chrono::Duration::seconds(1)).date_naive().to_string())
        .unwrap_or_else(|_| day_of(end).to_string())
}

fn logs(h: &mut String, period: &Period) {
    if period.logs.is_empty() {
        return;
    }
    h.push_str("<table><tr><th>Evidence log</th><th>Log id</th><th>Entries</th><th>Signed checkpoints</th><th>Signed by</th><th>Verified</th></tr>\n");
    for l in &period.logs {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
            escape(&l.file),
            escape(&l.log_id),
            l.entries,
            l.checkpoints,
            escape(&l.signers.join(", ")),
            if l.verified {
                "<span class=\"badge ok\">every entry verified</span>"
            } else {
                "<span class=\"badge flag\">not verified</span>"
            }
        );
    }
    h.push_str("</table>\n");
}

fn cards(h: &mut String, period: &Period) {
    let t = &period.totals;
    let mut items = vec![
        ("Evaluations", t.evaluations, false),
        ("Records evaluated", t.records, false),
        ("Admission decisions", t.admissions, false),
        ("Denied", t.denied, false),
        ("Violations", t.violations, false),
        ("Open at the end", t.open, t.open > 0),
        ("Exceptions", t.exceptions, false),
        (
            "Gaps over the maximum",
            period.gaps.len() as u64,
            !period.gaps.is_empty(),
        ),
        (
            "Runs that did not finish",
            period.unfinished_runs.len() as u64,
            !period.unfinished_runs.is_empty(),
        ),
    ];
    if t.repeated > 0 {
        // Consumed events evaluated again after a redelivery: shown, counted once.
        items.push(("Repeated evaluations (counted once)", t.repeated, false));
    }
    h.push_str("<div class=\"cards\">");
    for (label, n, bad) in items {
        let _ = write!(
            h,
            "<div class=\"card{}\"><b>{n}</b>{label}</div>",
            if bad { " bad" } else { "" }
        );
    }
    h.push_str("</div>\n");
}

/// Bar geometry shared by both charts: (left, width of a bar, chart height, plot top).
fn frame(h: &mut String, days: &[Day], max: u64, label: &str) -> (f64, f64, f64, f64) {
    let width = 1100.0;
    let height = 220.0;
    let (left, top, bottom) = (48.0, 12.0, 28.0);
    let plot_h = height - top - bottom;
    let bar = (width - left - 10.0) / days.len().max(1) as f64;
    let _ = write!(
        h,
        "<svg role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {width} {height}\" width=\"100%\" xmlns=\"http://www.w3.org/2000/svg\">",
        escape(label)
    );
    // Axis with 0, half and max.
    let ticks: &[(f64, u64)] = if max >= 2 {
        &[(0.0, 0), (0.5, max / 2), (1.0, max)]
    } else {
        &[(0.0, 0), (1.0, max)]
    };
    for &(frac, value) in ticks {
        let y = top + plot_h * (1.0 - frac);
        let _ = write!(
            h,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e3e6eb\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" fill=\"#5b6473\">{value}</text>",
            width - 10.0,
            left - 6.0,
            y + 4.0
        );
    }
    // Date labels: about twelve.
    let step = days.len().div_ceil(12).max(1);
    for (i, d) in days.iter().enumerate().step_by(step) {
        let x = left + bar * (i as f64 + 0.5);
        let _ = write!(
            h,
            "<text x=\"{x:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#5b6473\">{}</text>",
            height - 8.0,
            escape(d.date.get(5..).unwrap_or(&d.date))
        );
    }
    (left, bar, plot_h, top)
}

fn evaluations_chart(h: &mut String, days: &[Day]) {
    let max = days.iter().map(|d| d.evaluations).max().unwrap_or(0).max(1);
    let (left, bar, plot_h, top) = frame(h, days, max, "Evaluations per day");
    for (i, d) in days.iter().enumerate() {
        let x = left + bar * i as f64 + bar * 0.1;
        let bh = plot_h * d.evaluations as f64 / max as f64;
        let color = if d.evaluations == 0 {
            "#c0392b"
        } else {
            "#3b7dd8"
        };
        let bh = if d.evaluations == 0 { 2.0 } else { bh };
        let _ = write!(
            h,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{color}\"><title>{}: {} evaluations, {} records</title></rect>",
            top + plot_h - bh,
            (bar * 0.8).max(1.0),
            escape(&d.date),
            d.evaluations,
            d.records
        );
    }
    h.push_str("</svg>\n<p class=\"muted\">Days without an evaluation are marked in red on the axis.</p>\n");
}

fn violations_chart(h: &mut String, days: &[Day]) {
    let max = days
        .iter()
        .map(|d| d.violations.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let (left, bar, plot_h, top) = frame(h, days, max, "Violations by severity per day");
    for (i, d) in days.iter().enumerate() {
        let x = left + bar * i as f64 + bar * 0.1;
        let mut y = top + plot_h;
        for (s, n) in d.violations.iter().enumerate() {
            if *n == 0 {
                continue;
            }
            let bh = plot_h * *n as f64 / max as f64;
            y -= bh;
            let _ = write!(
                h,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{}\"><title>{}: {n} {}</title></rect>",
                (bar * 0.8).max(1.0),
                SEVERITY_COLORS[s],
                escape(&d.date),
                SEVERITIES[s]
            );
        }
    }
    h.push_str("</svg>\n<p class=\"muted\">");
    for (s, color) in SEVERITY_COLORS.iter().enumerate() {
        let _ = write!(
            h,
            "<svg width=\"12\" height=\"12\" style=\"border:0;vertical-align:middle\"><rect width=\"12\" height=\"12\" fill=\"{color}\"/></svg> {} &nbsp; ",
            SEVERITIES[s]
        );
    }
    h.push_str("</p>\n");
}

fn status(s: &str) -> String {
    format!("<span class=\"badge {s}\">{}</span>", s.replace('-', " "))
}

fn severity(s: &str) -> String {
    format!(
        "<span class=\"badge sev-{}\">{}</span>",
        escape(s),
        escape(s)
    )
}

fn criteria(h: &mut String, period: &Period) {
    h.push_str("<h2>Trust Services Criteria</h2>\n<p class=\"muted\">A criterion is not satisfied when a policy citing it has a violation open at the end of the period; satisfied when its policies were evaluated and nothing is open; not assessed when none was evaluated.</p>\n");
    for (_, principle) in PRINCIPLES.iter().chain([&("", "Other")]) {
        let rows: Vec<&Criterion> = period
            .criteria
            .iter()
            .filter(|c| c.principle == *principle)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(h, "<h3>{}</h3>", escape(principle));
        h.push_str("<table><tr><th>Criterion</th><th>Status</th><th>Controls (policies in force)</th><th>Evaluations</th><th>Violations</th><th>Open</th><th>Exceptions</th></tr>\n");
        for c in rows {
            let _ = writeln!(
                h,
                "<tr id=\"{}\"><td><b>{}</b> {}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                escape(&c.id),
                escape(&c.id),
                escape(&c.title),
                status(&c.status),
                escape(&c.controls.join(", ")),
                c.evaluations,
                c.violations,
                c.open,
                c.exceptions
            );
        }
        h.push_str("</table>\n");
    }
}

fn open_violations(h: &mut String, open: &[Finding]) {
    let _ = writeln!(h, "<h2>Violations open at the end ({})</h2>", open.len());
    if open.is_empty() {
        h.push_str("<p>None.</p>\n");
        return;
    }
    h.push_str("<table><tr><th>Policy</th><th>Severity</th><th>Criteria</th><th>Record</th><th>Found</th><th>Messages</th><th>Evidence</th></tr>\n");
    for f in open {
        let record = f.record.label();
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}<br><code>{}</code></td><td>{} ({})</td><td>{}</td><td><code>{}</code></td></tr>",
            escape(&f.policy),
            severity(&f.severity),
            escape(&f.soc2.join(", ")),
            escape(&record),
            escape(&f.record_digest),
            escape(&f.time),
            escape(&f.source),
            escape(&f.messages.join("; ")),
            escape(&f.evidence)
        );
    }
    h.push_str("</table>\n");
}

fn exceptions(h: &mut String, period: &Period) {
    let _ = writeln!(h, "<h2>Exceptions ({})</h2>", period.exceptions.len());
    if period.exceptions.is_empty() {
        h.push_str("<p>No violation was suppressed by an exclusion.</p>\n");
        return;
    }
    h.push_str("<table><tr><th>Policy</th><th>Criteria</th><th>Record</th><th>Reason</th><th>Expires</th><th>Suppressed</th></tr>\n");
    for e in &period.exceptions {
        let expires = match (&e.expires, e.expired) {
            (None, _) => "never".to_string(),
            (Some(x), true) => format!("{} <span class=\"badge flag\">expired</span>", escape(x)),
            (Some(x), false) => escape(x),
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{} {}</td><td>{}</td><td>{expires}</td><td>{} times, {} to {}</td></tr>",
            escape(&e.policy),
            escape(&e.soc2.join(", ")),
            escape(&e.record.kind),
            escape(e.record.name.as_deref().unwrap_or(&e.record.id)),
            escape(&e.reason),
            e.count,
            escape(&e.first_seen),
            escape(&e.last_seen)
        );
    }
    h.push_str("</table>\n");
}

fn gaps(h: &mut String, period: &Period) {
    let _ = writeln!(
        h,
        "<h2>Gaps in evaluation ({})</h2><p class=\"muted\">Every stretch of more than {} hours without an evaluation.</p>",
        period.gaps.len(),
        period.max_gap_hours
    );
    if period.gaps.is_empty() {
        h.push_str("<p>None: the controls were evaluated throughout the period.</p>\n");
        return;
    }
    h.push_str("<table><tr><th>From</th><th>To</th><th>Hours</th><th></th></tr>\n");
    for g in &period.gaps {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td><span class=\"badge flag\">gap</span></td></tr>",
            escape(&g.from),
            escape(&g.to),
            g.hours
        );
    }
    h.push_str("</table>\n");
}

fn changes(h: &mut String, period: &Period) {
    let _ = writeln!(
        h,
        "<h2>Policy-set changes ({})</h2>",
        period.policy_changes.len()
    );
    if period.policy_changes.is_empty() {
        h.push_str("<p>None in the period.</p>\n");
        return;
    }
    h.push_str(
        "<table><tr><th>Time</th><th>Set</th><th>Added</th><th>Removed</th><th>Changed</th></tr>\n",
    );
    for c in &period.policy_changes {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&c.time),
            escape(c.digest.get(..19).unwrap_or(&c.digest)),
            list(&c.added),
            list(&c.removed),
            list(&c.changed)
        );
    }
    h.push_str("</table>\n");
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        return "-".into();
    }
    format!("{} ({})", escape(&items.join(", ")), items.len())
}

fn controls(h: &mut String, period: &Period) {
    let _ = writeln!(h, "<h2>Controls in force ({})</h2>", period.controls.len());
    h.push_str("<table><tr><th>Policy</th><th>Severity</th><th>Criteria</th><th>Stages</th><th>Enforcement</th><th>Evaluations</th><th>Violations</th></tr>\n");
    for c in &period.controls {
        let _ = writeln!(
            h,
            "<tr><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(&c.name),
            if c.disabled {
                " <span class=\"muted\">(disabled)</span>"
            } else {
                ""
            },
            severity(&c.severity),
            escape(&c.soc2.join(", ")),
            escape(&c.lifecycle.join(", ")),
            escape(&c.enforcement.join(", ")),
            c.evaluations,
            c.violations
        );
    }
    h.push_str("</table>\n");
}

fn unfinished(h: &mut String, period: &Period) {
    if period.unfinished_runs.is_empty() {
        return;
    }
    let _ = writeln!(
        h,
        "<h2>Runs that did not finish ({})</h2><p class=\"muted\">Started in the period with no finish entry: the process crashed, was killed, or was still running. Their violations are in the log but close nothing.</p>",
        period.unfinished_runs.len()
    );
    h.push_str("<table><tr><th>Run</th><th>Source</th><th>Started</th></tr>\n");
    for u in &period.unfinished_runs {
        let _ = writeln!(
            h,
            "<tr><td><code>{}</code></td><td>{}</td><td>{} <span class=\"badge flag\">did not finish</span></td></tr>",
            escape(&u.run),
            escape(&u.source),
            escape(&u.started)
        );
    }
    h.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
    }
}
