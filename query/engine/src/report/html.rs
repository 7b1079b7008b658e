//! The report as one self-contained HTML page: inline CSS, inline SVG
//! charts, no scripts, no fonts or files from elsewhere (it opens from an
//! e-mail attachment or an S3 download with no network).

use std::fmt::Write as _;

use ecs_lake::classify::ExitKind;

use super::{Figures, Headroom, Report, ServiceReport, by_name, delta};
use crate::diagnose::findings::Finding;
use ecs_lake::time::date_time_of;

use crate::charts::colour;
pub use crate::charts::esc;

/// A finding's text: escaped, with `code` spans as <code>.
pub(crate) fn inline(text: &str) -> String {
    let mut s = String::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(s, "<code>{}</code>", esc(part));
        } else {
            s.push_str(&esc(part));
        }
    }
    s
}

pub(crate) const CSS: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}\
h1{font-size:1.6rem}h2{margin-top:2.5rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}h3{margin-top:1.5rem}\
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.25rem .6rem;font-size:.9rem}\
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f5f5f5;text-align:left}\
.finding{border-left:4px solid #999;padding:.2rem 1rem;margin:1rem 0;background:#fafafa}\
.critical{border-color:#c0392b}.warning{border-color:#e67e22}.info{border-color:#2980b9}\
.sev{font-size:.75rem;text-transform:uppercase;font-weight:600;margin-right:.5rem}\
.up{color:#c0392b}.down{color:#27ae60}svg.chart{display:block;margin:.5rem 0}svg text{font-size:12px;fill:#333}\
code{background:#f0f0f0;padding:0 .2rem}";

/// A horizontal stacked bar per row: (row label, [(key, count)]).
pub fn stacked_bars(id: &str, title: &str, rows: &[(String, Vec<(String, usize)>)]) -> String {
    let label_w = 220.0;
    let bar_w = 640.0;
    let row_h = 26.0;
    let keys: Vec<String> = {
        let mut k: Vec<String> = rows
            .iter()
            .flat_map(|(_, v)| v.iter().map(|(k, _)| k.clone()))
            .collect();
        k.sort();
        k.dedup();
        k
    };
    let max = rows
        .iter()
        .map(|(_, v)| v.iter().map(|(_, n)| *n).sum::<usize>())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let legend_h = 22.0 * keys.len().div_ceil(3) as f64;
    let height = rows.len() as f64 * row_h + legend_h + 30.0;
    let width = label_w + bar_w + 60.0;
    let mut s = format!(
        "<svg class=\"chart\" data-chart=\"{id}\" role=\"img\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" xmlns=\"http://www.w3.org/2000/svg\"><title>{}</title>",
        esc(title)
    );
    for (i, (label, parts)) in rows.iter().enumerate() {
        let y = 10.0 + i as f64 * row_h;
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            label_w - 8.0,
            y + 15.0,
            esc(label)
        );
        let mut x = label_w;
        let mut total = 0;
        for key in &keys {
            let n = parts.iter().find(|(k, _)| k == key).map_or(0, |(_, n)| *n);
            if n == 0 {
                continue;
            }
            total += n;
            let w = bar_w * n as f64 / max;
            let _ = write!(
                s,
                "<rect class=\"mark\" x=\"{x:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"{}\"><title>{}: {n}</title></rect>",
                row_h - 6.0,
                colour(key),
                esc(key)
            );
            x += w;
        }
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{}\">{total}</text>",
            x + 6.0,
            y + 15.0
        );
    }
    let legend_y = 20.0 + rows.len() as f64 * row_h;
    for (i, key) in keys.iter().enumerate() {
        let x = label_w + (i % 3) as f64 * 220.0;
        let y = legend_y + (i / 3) as f64 * 22.0;
        let _ = write!(
            s,
            "<rect x=\"{x}\" y=\"{y}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            colour(key),
            x + 16.0,
            y + 11.0,
            esc(key)
        );
    }
    s.push_str("</svg>");
    s
}

/// Memory peak against the limit per revision: a bar to the p99 peak (% of
/// the limit), ticks at p50 and p95, a line at 100%.
pub fn memory_chart(id: &str, memory: &[Headroom]) -> String {
    let rows: Vec<&Headroom> = memory
        .iter()
        .filter(|m| m.peak.is_some() && m.limit_mib.is_some())
        .collect();
    if rows.is_empty() {
        return "<p>No Container Insights memory samples.</p>".into();
    }
    let (label_w, bar_w, row_h) = (160.0, 600.0, 28.0);
    let height = rows.len() as f64 * row_h + 40.0;
    let width = label_w + bar_w + 120.0;
    let scale = |pct: f64| label_w + bar_w * (pct.min(120.0) / 120.0);
    let mut s = format!(
        "<svg class=\"chart\" data-chart=\"{id}\" role=\"img\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" xmlns=\"http://www.w3.org/2000/svg\"><title>Memory peak per task against the limit, by revision</title>"
    );
    for (i, m) in rows.iter().enumerate() {
        let (Some(p), Some(limit)) = (m.peak, m.limit_mib) else {
            continue;
        };
        let pct = |v: f64| 100.0 * v / limit as f64;
        let y = 10.0 + i as f64 * row_h;
        let fill = if m.oom_kills > 0 {
            "#c0392b"
        } else if pct(p.p99) >= 90.0 {
            "#e67e22"
        } else {
            "#27ae60"
        };
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><rect class=\"mark\" x=\"{label_w}\" y=\"{y}\" width=\"{:.1}\" height=\"{}\" fill=\"{fill}\" opacity=\"0.8\"><title>{}: p99 {:.0} MiB of {limit} MiB</title></rect>",
            label_w - 8.0,
            y + 16.0,
            esc(&m.revision),
            scale(pct(p.p99)) - label_w,
            row_h - 8.0,
            esc(&m.revision),
            p.p99
        );
        for (q, v) in [("p50", p.p50), ("p95", p.p95)] {
            let x = scale(pct(v));
            let _ = write!(
                s,
                "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{y}\" y2=\"{}\" stroke=\"#222\" stroke-width=\"2\"><title>{q} {v:.0} MiB</title></line>",
                y + row_h - 8.0
            );
        }
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{}\">{:.0}% at p99 ({} OOM)</text>",
            scale(pct(p.p99)).max(scale(100.0)) + 6.0,
            y + 16.0,
            pct(p.p99),
            m.oom_kills
        );
    }
    let x100 = scale(100.0);
    let bottom = rows.len() as f64 * row_h + 10.0;
    let _ = write!(
        s,
        "<line x1=\"{x100:.1}\" x2=\"{x100:.1}\" y1=\"4\" y2=\"{bottom}\" stroke=\"#c0392b\" stroke-dasharray=\"4 3\"/><text x=\"{x100:.1}\" y=\"{}\" text-anchor=\"middle\">limit</text></svg>",
        bottom + 16.0
    );
    s
}

/// This week against the previous one, grouped bars for the failure counts.
pub fn week_over_week_chart(id: &str, now: &Figures, before: &Figures) -> String {
    let items = [
        ("OOM kills", now.oom_kills, before.oom_kills),
        (
            "health-check stops",
            now.health_check_stops,
            before.health_check_stops,
        ),
        ("app errors", now.app_errors, before.app_errors),
        (
            "stop-timeout kills",
            now.stop_timeout_kills,
            before.stop_timeout_kills,
        ),
        (
            "start failures",
            now.failed_to_start,
            before.failed_to_start,
        ),
    ];
    let max = items
        .iter()
        .map(|(_, a, b)| (*a).max(*b))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let (group_w, chart_h) = (130.0, 120.0);
    let width = group_w * items.len() as f64 + 40.0;
    let height = chart_h + 70.0;
    let mut s = format!(
        "<svg class=\"chart\" data-chart=\"{id}\" role=\"img\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" xmlns=\"http://www.w3.org/2000/svg\"><title>Failures this week (dark) and the week before (light)</title>"
    );
    for (i, (name, a, b)) in items.iter().enumerate() {
        let x = 20.0 + i as f64 * group_w;
        for (j, (v, fill)) in [(*b, "#bdc3c7"), (*a, "#34495e")].into_iter().enumerate() {
            let h = (chart_h * v as f64 / max).max(1.0);
            let bx = x + j as f64 * 42.0;
            let _ = write!(
                s,
                "<rect class=\"mark\" x=\"{bx}\" y=\"{:.1}\" width=\"38\" height=\"{h:.1}\" fill=\"{fill}\"><title>{}: {v}</title></rect><text x=\"{}\" y=\"{:.1}\" text-anchor=\"middle\">{v}</text>",
                20.0 + chart_h - h,
                esc(name),
                bx + 19.0,
                16.0 + chart_h - h
            );
        }
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            x + 40.0,
            chart_h + 30.0,
            esc(name)
        );
    }
    s.push_str("</svg>");
    s
}

pub(crate) fn table(head: &[&str], rows: &[Vec<String>], numeric_from: usize) -> String {
    let mut s = String::from("<table><tr>");
    for h in head {
        let _ = write!(s, "<th>{}</th>", esc(h));
    }
    s.push_str("</tr>");
    for r in rows {
        s.push_str("<tr>");
        for (i, c) in r.iter().enumerate() {
            let class = if i >= numeric_from {
                " class=\"n\""
            } else {
                ""
            };
            let _ = write!(s, "<td{class}>{}</td>", esc(c));
        }
        s.push_str("</tr>");
    }
    s.push_str("</table>");
    s
}

fn compare(now: &Figures, before: &Figures, current: &str, previous: &str) -> String {
    let mut s = format!(
        "<table><tr><th></th><th>{}</th><th>{}</th><th>change</th></tr>",
        esc(current),
        esc(previous)
    );
    for (name, a, b) in now.compare(before) {
        let class = if a > b {
            "up"
        } else if a < b {
            "down"
        } else {
            ""
        };
        let _ = write!(
            s,
            "<tr><td>{}</td><td class=\"n\">{a}</td><td class=\"n\">{b}</td><td class=\"n {class}\">{}</td></tr>",
            esc(name),
            delta(a, b)
        );
    }
    s.push_str("</table>");
    s
}

pub(crate) fn finding(f: &Finding) -> String {
    let sev = f.severity.as_str();
    let mut s = format!(
        "<div class=\"finding {sev}\"><p><span class=\"sev\">{sev}</span><strong>{}</strong></p><p>Evidence:</p><ul>",
        inline(&f.title.to_string())
    );
    for e in &f.evidence {
        let _ = write!(s, "<li>{}</li>", inline(&e.to_string()));
    }
    s.push_str("</ul>");
    if !f.recommendations.is_empty() {
        s.push_str("<p>What to change:</p><ul>");
        for r in &f.recommendations {
            let _ = write!(s, "<li>{}</li>", inline(&r.to_string()));
        }
        s.push_str("</ul>");
    }
    for p in &f.patches {
        let _ = write!(
            s,
            "<details><summary>Patch: {}</summary><pre><code>{}</code></pre><pre><code>{}</code></pre></details>",
            esc(&p.what),
            esc(&serde_json::to_string_pretty(&p.fragment).unwrap_or_default()),
            esc(&p.commands.join("\n"))
        );
    }
    if !f.example_tasks.is_empty() {
        let ids: Vec<String> = f
            .example_tasks
            .iter()
            .map(|t| format!("<code>{}</code>", esc(t)))
            .collect();
        let _ = write!(s, "<p>Example tasks: {}</p>", ids.join(", "));
    }
    s.push_str("</div>");
    s
}

fn service(i: usize, svc: &ServiceReport, current: &str, previous: &str) -> String {
    let name = format!("{}/{}", svc.cluster, svc.service);
    let mut s = format!("<section id=\"svc-{i}\"><h2>{}</h2>", esc(&name));
    s.push_str(&compare(
        &svc.this_week,
        &svc.previous_week,
        current,
        previous,
    ));
    s.push_str(&week_over_week_chart(
        &format!("wow-{i}"),
        &svc.this_week,
        &svc.previous_week,
    ));
    s.push_str("<h3>Stopped tasks per hour by cause</h3>");
    s.push_str(&crate::charts::stops_per_hour_svg(
        &format!("stops-per-hour-{i}"),
        &svc.charts,
    ));
    s.push_str("<h3>Memory peak against the limit</h3>");
    s.push_str(&memory_chart(&format!("memory-{i}"), &svc.memory));
    s.push_str("<h3>Memory over task uptime</h3>");
    s.push_str(&crate::charts::memory_over_uptime_svg(
        &format!("memory-over-uptime-{i}"),
        &svc.charts,
    ));
    let rows: Vec<Vec<String>> = svc
        .evidence
        .revisions
        .iter()
        .map(|r| {
            vec![
                r.label.clone(),
                r.tasks.to_string(),
                r.stopped.to_string(),
                r.oom_kills.to_string(),
                r.stop_timeout_kills.to_string(),
                r.health_check_stops.to_string(),
                r.kind(ExitKind::AppError).to_string(),
                r.memory_peak
                    .map_or("-".into(), |p| format!("{:.0}", p.p95)),
                r.memory_limit.map_or("-".into(), |l| l.to_string()),
                r.time_to_healthy
                    .map_or("-".into(), |t| format!("{:.0}", t.p50)),
                r.time_to_healthy
                    .map_or("-".into(), |t| format!("{:.0}", t.p95)),
            ]
        })
        .collect();
    s.push_str("<h3>Per revision</h3>");
    s.push_str(&table(
        &[
            "revision",
            "tasks",
            "stopped",
            "OOM kills",
            "stop-timeout kills",
            "health-check stops",
            "app errors",
            "memory p95 MiB",
            "limit MiB",
            "time to healthy p50 s",
            "p95 s",
        ],
        &rows,
        1,
    ));
    s.push_str("<h3>Time to healthy</h3>");
    s.push_str(&crate::charts::time_to_healthy_svg(
        &format!("time-to-healthy-{i}"),
        &svc.charts,
    ));
    let causes = by_name(&svc.stopped_by_cause);
    if !causes.is_empty() {
        s.push_str("<h3>Exits by kind</h3>");
        let kinds: Vec<Vec<String>> = by_name(&svc.exits_by_kind)
            .into_iter()
            .map(|(k, v)| vec![k, v.to_string()])
            .collect();
        s.push_str(&table(&["exit kind", "tasks"], &kinds, 1));
    }
    if !svc.deployments.is_empty() {
        s.push_str("<h3>Deployments</h3>");
        let rows: Vec<Vec<String>> = svc
            .deployments
            .iter()
            .map(|d| {
                vec![
                    d.started_at.map(date_time_of).unwrap_or_default(),
                    d.deployment_id.clone(),
                    d.label(),
                    format!(
                        "{}{}",
                        d.outcome,
                        if d.is_rollback { " (rollback)" } else { "" }
                    ),
                    d.tasks.to_string(),
                    d.oom_kills.to_string(),
                    d.unhealthy.to_string(),
                ]
            })
            .collect();
        s.push_str(&table(
            &[
                "started",
                "deployment",
                "revision",
                "outcome",
                "tasks",
                "OOM kills",
                "unhealthy",
            ],
            &rows,
            4,
        ));
    }
    if !svc.top_signatures.is_empty() {
        s.push_str("<h3>Top log signatures</h3>");
        let rows: Vec<Vec<String>> = svc
            .top_signatures
            .iter()
            .map(|(k, n)| vec![k.to_string(), n.to_string()])
            .collect();
        s.push_str(&table(&["signature", "lines"], &rows, 1));
    }
    s.push_str("<h3>Findings</h3>");
    if svc.findings.is_empty() {
        s.push_str("<p>None.</p>");
    }
    for f in &svc.findings {
        s.push_str(&finding(f));
    }
    s.push_str("</section>");
    s
}

/// The whole page.
pub fn page(r: &Report) -> String {
    let mut s = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{CSS}</style></head><body><h1>{}</h1><p>{} to {} (UTC), compared with {}.</p><h2>Summary</h2>",
        esc(&r.title),
        esc(&r.title),
        esc(&r.from),
        esc(&r.to),
        esc(&r.previous.name)
    );
    s.push_str(&compare(
        &r.totals,
        &r.previous_totals,
        r.current_label(),
        &r.previous.name,
    ));
    let rows: Vec<(String, Vec<(String, usize)>)> = r
        .services
        .iter()
        .map(|svc| {
            (
                format!("{}/{}", svc.cluster, svc.service),
                by_name(&svc.stopped_by_cause),
            )
        })
        .collect();
    if rows.is_empty() {
        s.push_str("<p>No tasks in the lake for this period.</p>");
    } else {
        s.push_str("<h3>Stopped tasks by cause</h3>");
        s.push_str(&stacked_bars(
            "stops-by-cause",
            "Stopped tasks by cause, per service",
            &rows,
        ));
        s.push_str("<ul>");
        for (i, svc) in r.services.iter().enumerate() {
            let _ = write!(
                s,
                "<li><a href=\"#svc-{i}\">{}/{}</a>: {}</li>",
                esc(&svc.cluster),
                esc(&svc.service),
                super::count_of(svc.findings.len(), "finding")
            );
        }
        s.push_str("</ul>");
    }
    for (i, svc) in r.services.iter().enumerate() {
        s.push_str(&service(i, svc, r.current_label(), &r.previous.name));
    }
    s.push_str("</body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(inline("set `a<b` now"), "set <code>a&lt;b</code> now");
    }

    #[test]
    fn stacked_bars_scale_to_the_largest_row() {
        let svg = stacked_bars(
            "t",
            "t",
            &[
                (
                    "a".into(),
                    vec![("oom_killed".into(), 2), ("sigterm".into(), 2)],
                ),
                ("b".into(), vec![("oom_killed".into(), 1)]),
            ],
        );
        // Row a fills the bar (640 px in two halves); row b is a quarter.
        assert!(svg.contains("width=\"320.0\""), "{svg}");
        assert!(svg.contains("width=\"160.0\""), "{svg}");
        assert_eq!(svg.matches("<rect").count(), 3 + 2, "bars + legend");
    }
}
