//! The charts people would rather look at than read, as data (serialized
//! in the JSON outputs) and as self-contained SVG (no script, no font, no
//! file from elsewhere), for the post-mortem and the weekly report:
//!
//! * stops per hour by cause, with the deployments marked
//!   ([`stops_per_hour_svg`]);
//! * memory over task uptime per revision: the median and the p95 of the
//!   tasks alive at each uptime, from each task's least-squares fit of its
//!   per-minute Container Insights records, against the limit, with the
//!   uptime at which the median reaches it ([`memory_over_uptime_svg`]);
//! * time to healthy per task, per revision, against the deadline after
//!   which the load balancer (or the container health check) gives up
//!   ([`time_to_healthy_svg`]).
//!
//! [`esc`] and [`colour`] are the HTML pages' primitives too.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use ecs_lake::classify::{ExitKind, StopCause};
use ecs_lake::time::date_time_of;
use serde::Serialize;

use crate::diagnose::evidence::{ServiceEvidence, Spread, TaskRow, label};
use crate::diagnose::findings::LEAK_MIB_PER_HOUR;

const HOUR: i64 = 3_600_000_000;

/// Least per-minute samples a task's memory fit needs to be drawn.
const MIN_SAMPLES: i64 = 10;

/// Uptime steps of a memory curve.
const STEPS: usize = 24;

/// Text made safe for HTML content and attribute values.
pub fn esc(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&#39;"),
            c => s.push(c),
        }
    }
    s
}

/// A stop cause's or exit kind's colour (by its stored name): failures
/// warm, planned stops cool.
pub fn colour(key: &str) -> &'static str {
    const GREY: &str = "#95a5a6";
    if let Some(cause) = StopCause::from_name(key) {
        return match cause {
            StopCause::OomKilled => "#c0392b",
            StopCause::ElbHealthCheck | StopCause::ContainerHealthCheck => "#e67e22",
            StopCause::EssentialContainerExited => "#8e44ad",
            StopCause::FailedToStart => "#7f8c8d",
            StopCause::SpotInterruption => "#2980b9",
            StopCause::DeploymentReplaced | StopCause::ScaleIn => "#27ae60",
            StopCause::UserStopped => "#16a085",
            StopCause::Infrastructure | StopCause::Unknown => GREY,
        };
    }
    match ExitKind::from_name(key) {
        Some(ExitKind::SigkillOom) => "#c0392b",
        Some(ExitKind::AppError) => "#8e44ad",
        Some(ExitKind::Sigterm | ExitKind::Clean) => "#27ae60",
        Some(ExitKind::SigkillAfterStopTimeout) => "#d35400",
        Some(ExitKind::Segfault) => "#6c3483",
        Some(ExitKind::Abort) => "#a93226",
        Some(ExitKind::OtherSignal | ExitKind::Unknown) | None => GREY,
    }
}

/// One service's charts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Charts {
    /// The first and the last hour drawn (µs, at the hour).
    pub from_hour: i64,
    pub to_hour: i64,
    /// Hours with stops: stops by cause.
    pub stops_per_hour: Vec<HourStops>,
    pub deployments: Vec<Marker>,
    pub memory: Vec<MemoryCurve>,
    pub time_to_healthy: Vec<HealthyTimes>,
    /// Seconds a task has to become healthy before it is stopped: the load
    /// balancer's (grace period + interval x unhealthy threshold), else the
    /// container health check's (start period + interval x retries).
    pub healthy_deadline_s: Option<i64>,
}

/// One hour's stops.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HourStops {
    /// The hour's start (µs).
    pub hour: i64,
    pub causes: BTreeMap<&'static str, usize>,
}

/// A deployment, where it started.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Marker {
    pub at: i64,
    pub revision: String,
    pub failed: bool,
    pub rollback: bool,
}

/// Memory over uptime of one revision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryCurve {
    pub revision: String,
    pub limit_mib: Option<i64>,
    /// Tasks whose fit is drawn.
    pub tasks: usize,
    pub points: Vec<UptimePoint>,
    /// Uptime (hours) at which the median fit reaches the limit, when it grows.
    pub projected_oom_h: Option<f64>,
}

/// The tasks alive at one uptime.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct UptimePoint {
    pub hours: f64,
    pub p50_mib: f64,
    pub p95_mib: f64,
}

/// Time to healthy of one revision's tasks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthyTimes {
    pub revision: String,
    /// Seconds from start to the first HEALTHY, per task that got there.
    pub seconds: Vec<f64>,
    /// Tasks stopped by a failed health check before they were ever healthy.
    pub never: usize,
}

impl Charts {
    /// The charts of one service's tasks (`tasks`: its task rows) in
    /// `[from, to)` (µs; either open: the tasks' own span).
    pub fn of(
        svc: &ServiceEvidence,
        tasks: &[&TaskRow],
        from: Option<i64>,
        to: Option<i64>,
    ) -> Charts {
        let floor = |t: i64| t - t.rem_euclid(HOUR);
        let mut hours: BTreeMap<i64, BTreeMap<&'static str, usize>> = BTreeMap::new();
        for t in tasks {
            if let (Some(cause), Some(at)) = (t.stop_cause, t.stop_time()) {
                *hours
                    .entry(floor(at))
                    .or_default()
                    .entry(cause.as_str())
                    .or_default() += 1;
            }
        }
        let deployments: Vec<Marker> = svc
            .deployments
            .iter()
            .filter_map(|d| {
                Some(Marker {
                    at: d.started_at?,
                    revision: d.label(),
                    failed: d.failed(),
                    rollback: d.is_rollback,
                })
            })
            .collect();
        let times = hours
            .keys()
            .copied()
            .chain(deployments.iter().map(|d| d.at))
            .chain(tasks.iter().filter_map(|t| t.started_at));
        let from_hour = from
            .map(floor)
            .or_else(|| times.clone().min().map(floor))
            .unwrap_or(0);
        let to_hour = to
            .map(|t| floor(t - 1))
            .or_else(|| times.max().map(floor))
            .unwrap_or(from_hour);

        let memory = svc
            .revisions
            .iter()
            .filter_map(|r| {
                let own: Vec<&TaskRow> = tasks
                    .iter()
                    .copied()
                    .filter(|t| label(&t.family, t.revision) == r.label)
                    .collect();
                memory_curve(
                    &r.label,
                    r.memory_limit,
                    &own,
                    r.growth.map(|g| (g.start_mib, g.mib_per_hour)),
                    to,
                )
            })
            .collect();
        let time_to_healthy = svc
            .revisions
            .iter()
            .filter_map(|r| {
                let own = tasks
                    .iter()
                    .filter(|t| label(&t.family, t.revision) == r.label);
                let seconds: Vec<f64> = own.clone().filter_map(|t| t.seconds_to_healthy).collect();
                let never = own.filter(|t| t.never_healthy()).count();
                (!seconds.is_empty() || never > 0).then(|| HealthyTimes {
                    revision: r.label.clone(),
                    seconds,
                    never,
                })
            })
            .collect();
        let healthy_deadline_s = svc
            .config
            .as_ref()
            .and_then(|c| c.elb_deadline_s())
            .or_else(|| {
                svc.revisions
                    .iter()
                    .rev()
                    .flat_map(|r| &r.config)
                    .find_map(|c| c.health_check_deadline_s())
            });
        Charts {
            from_hour,
            to_hour,
            stops_per_hour: hours
                .into_iter()
                .map(|(hour, causes)| HourStops { hour, causes })
                .collect(),
            deployments,
            memory,
            time_to_healthy,
            healthy_deadline_s,
        }
    }
}

/// The median and p95, over the tasks alive at each uptime, of each task's
/// fitted memory (intercept + slope x uptime; a task still running at the
/// window's end `to` counts up to it); the uptime at which the revision's
/// growth (`(start MiB, MiB/h)`, the medians of its tasks' fits) reaches
/// the limit, when it grows as a leak does.
fn memory_curve(
    revision: &str,
    limit_mib: Option<i64>,
    tasks: &[&TaskRow],
    growth: Option<(f64, f64)>,
    to: Option<i64>,
) -> Option<MemoryCurve> {
    let fits: Vec<(f64, f64, f64)> = tasks
        .iter()
        .filter(|t| t.memory_samples.unwrap_or(0) >= MIN_SAMPLES)
        .filter_map(|t| {
            let end = t.stopping_at.or(t.stopped_at).or(to)?;
            Some((
                t.intercept_mib?,
                t.slope_mib_per_hour?,
                (end - t.started_at?) as f64 / 3.6e9,
            ))
        })
        .filter(|(_, _, up)| *up > 0.0)
        .collect();
    let longest = fits.iter().map(|(_, _, up)| *up).fold(0.0, f64::max);
    if fits.is_empty() || longest <= 0.0 {
        return None;
    }
    let points = (0..=STEPS)
        .filter_map(|i| {
            let hours = longest * i as f64 / STEPS as f64;
            let alive = fits
                .iter()
                .filter(|(_, _, up)| *up >= hours)
                .map(|(a, b, _)| a + b * hours);
            let s: Spread = Spread::of(alive)?;
            Some(UptimePoint {
                hours,
                p50_mib: s.p50,
                p95_mib: s.p95,
            })
        })
        .collect();
    let projected_oom_h = match (limit_mib, growth) {
        (Some(limit), Some((start, per_h))) if per_h >= LEAK_MIB_PER_HOUR => {
            Some(((limit as f64 - start) / per_h).max(0.0))
        }
        _ => None,
    };
    Some(MemoryCurve {
        revision: revision.to_owned(),
        limit_mib,
        tasks: fits.len(),
        points,
        projected_oom_h,
    })
}

fn svg_open(id: &str, title: &str, width: f64, height: f64) -> String {
    format!(
        "<svg class=\"chart\" data-chart=\"{id}\" role=\"img\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" xmlns=\"http://www.w3.org/2000/svg\"><title>{}</title>",
        esc(title)
    )
}

/// `HH:MM` of a time (UTC), or the month and day (`11-19`) at midnight.
fn clock(at: i64) -> String {
    let t = date_time_of(at);
    if t.get(11..16) == Some("00:00") {
        t.get(5..10).unwrap_or_default().to_owned()
    } else {
        t.get(11..16).unwrap_or_default().to_owned()
    }
}

/// Stops per hour by cause, stacked, with a dashed line where each
/// deployment started (red when it failed).
pub fn stops_per_hour_svg(id: &str, c: &Charts) -> String {
    if c.stops_per_hour.is_empty() && c.deployments.is_empty() {
        return "<p>No task stopped and nothing was deployed.</p>".into();
    }
    let hours = ((c.to_hour - c.from_hour) / HOUR + 1).clamp(1, 24 * 31) as usize;
    let (left, top, plot_w, plot_h) = (40.0, 24.0, 860.0, 180.0);
    let max = c
        .stops_per_hour
        .iter()
        .map(|h| h.causes.values().sum::<usize>())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let causes: Vec<&'static str> = {
        let mut k: Vec<&'static str> = c
            .stops_per_hour
            .iter()
            .flat_map(|h| h.causes.keys().copied())
            .collect();
        k.sort_unstable();
        k.dedup();
        k
    };
    let legend_h = 22.0 * causes.len().div_ceil(4) as f64;
    let (width, height) = (left + plot_w + 20.0, top + plot_h + 40.0 + legend_h);
    let col = plot_w / hours as f64;
    let x_of = |at: i64| left + plot_w * ((at - c.from_hour) as f64 / (hours as i64 * HOUR) as f64);
    let bottom = top + plot_h;
    let mut s = svg_open(
        id,
        "Stopped tasks per hour by cause, deployments marked",
        width,
        height,
    );
    let _ = write!(
        s,
        "<line x1=\"{left}\" x2=\"{}\" y1=\"{bottom}\" y2=\"{bottom}\" stroke=\"#999\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
        left + plot_w,
        left - 6.0,
        top + 10.0,
        max as usize
    );
    let last = c.from_hour + (hours as i64 - 1) * HOUR;
    for h in c
        .stops_per_hour
        .iter()
        .filter(|h| h.hour >= c.from_hour && h.hour <= last)
    {
        let x = x_of(h.hour);
        let mut y = bottom;
        for (cause, n) in &h.causes {
            let bar = plot_h * *n as f64 / max;
            y -= bar;
            let _ = write!(
                s,
                "<rect class=\"mark\" x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{bar:.1}\" fill=\"{}\"><title>{} {cause}: {n}</title></rect>",
                x + 1.0,
                (col - 2.0).max(1.0),
                colour(cause),
                esc(&date_time_of(h.hour))
            );
        }
    }
    let shown = c
        .deployments
        .iter()
        .filter(|d| d.at >= c.from_hour && d.at < last + HOUR);
    for (i, d) in shown.enumerate() {
        let x = x_of(d.at);
        let stroke = if d.failed { "#c0392b" } else { "#2c3e50" };
        let what = if d.rollback { "rollback to " } else { "" };
        let _ = write!(
            s,
            "<line class=\"deployment\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{}\" y2=\"{bottom}\" stroke=\"{stroke}\" stroke-dasharray=\"5 3\"><title>{} deployment of {what}{}</title></line><text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{what}{}</text>",
            top - 4.0,
            esc(&date_time_of(d.at)),
            esc(&d.revision),
            // A failed deployment and its rollback start minutes apart: stagger.
            if i % 2 == 0 { top - 8.0 } else { top + 8.0 },
            esc(&d.revision)
        );
    }
    // Labels on hours that divide the day, so midnights carry the date.
    let every = [1, 2, 3, 6, 12, 24, 48, 72, 168]
        .into_iter()
        .find(|e| hours / e <= 12)
        .unwrap_or(168);
    for i in (0..hours).step_by(every) {
        let at = c.from_hour + i as i64 * HOUR;
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{}\">{}</text>",
            x_of(at),
            bottom + 16.0,
            clock(at)
        );
    }
    for (i, cause) in causes.iter().enumerate() {
        let x = left + (i % 4) as f64 * 210.0;
        let y = bottom + 28.0 + (i / 4) as f64 * 22.0;
        let _ = write!(
            s,
            "<rect x=\"{x}\" y=\"{y}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{cause}</text>",
            colour(cause),
            x + 16.0,
            y + 11.0
        );
    }
    s.push_str("</svg>");
    s
}

const PALETTE: [&str; 6] = [
    "#2980b9", "#c0392b", "#27ae60", "#8e44ad", "#d35400", "#16a085",
];

/// Memory over uptime per revision: the p50-p95 band, the median line,
/// the limit (dashed), the projected OOM (a dot where the median's growth
/// meets the limit).
pub fn memory_over_uptime_svg(id: &str, c: &Charts) -> String {
    if c.memory.is_empty() {
        return "<p>No task ran long enough with Container Insights samples to draw memory over uptime.</p>".into();
    }
    let (left, top, plot_w, plot_h) = (60.0, 16.0, 820.0, 220.0);
    let longest = c
        .memory
        .iter()
        .flat_map(|m| m.points.iter().map(|p| p.hours))
        .fold(0.0, f64::max)
        .max(0.1);
    // A projected OOM kill far beyond the uptimes seen would squash the
    // curves: the axis goes at most to twice the longest uptime; a later
    // projection is only in the legend.
    let longest = c
        .memory
        .iter()
        .filter_map(|m| m.projected_oom_h)
        .filter(|h| *h <= 2.0 * longest)
        .fold(longest, f64::max);
    let top_mib = c
        .memory
        .iter()
        .flat_map(|m| {
            m.points
                .iter()
                .map(|p| p.p95_mib)
                .chain(m.limit_mib.map(|l| l as f64))
        })
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.1;
    let legend_h = 22.0 * c.memory.len() as f64;
    let (width, height) = (left + plot_w + 40.0, top + plot_h + 36.0 + legend_h);
    let x_of = |h: f64| left + plot_w * h / longest;
    let y_of = |mib: f64| top + plot_h * (1.0 - mib / top_mib);
    let bottom = top + plot_h;
    let mut s = svg_open(
        id,
        "Memory over task uptime per revision (median, p95 band) against the limit",
        width,
        height,
    );
    let _ = write!(
        s,
        "<line x1=\"{left}\" x2=\"{}\" y1=\"{bottom}\" y2=\"{bottom}\" stroke=\"#999\"/><line x1=\"{left}\" x2=\"{left}\" y1=\"{top}\" y2=\"{bottom}\" stroke=\"#999\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{:.0} MiB</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{longest:.1} h uptime</text>",
        left + plot_w,
        left - 4.0,
        top + 10.0,
        top_mib,
        left + plot_w,
        bottom + 16.0
    );
    for (i, m) in c.memory.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let upper: Vec<String> = m
            .points
            .iter()
            .map(|p| format!("{:.1},{:.1}", x_of(p.hours), y_of(p.p95_mib)))
            .collect();
        let lower: Vec<String> = m
            .points
            .iter()
            .rev()
            .map(|p| format!("{:.1},{:.1}", x_of(p.hours), y_of(p.p50_mib)))
            .collect();
        let median: Vec<String> = m
            .points
            .iter()
            .map(|p| format!("{:.1},{:.1}", x_of(p.hours), y_of(p.p50_mib)))
            .collect();
        let _ = write!(
            s,
            "<polygon class=\"mark\" points=\"{} {}\" fill=\"{colour}\" opacity=\"0.2\"><title>{}: p50 to p95 of {} tasks</title></polygon><polyline class=\"mark\" points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"><title>{}: median</title></polyline>",
            upper.join(" "),
            lower.join(" "),
            esc(&m.revision),
            m.tasks,
            median.join(" "),
            esc(&m.revision)
        );
        if let Some(limit) = m.limit_mib {
            let y = y_of(limit as f64);
            let _ = write!(
                s,
                "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"{colour}\" stroke-dasharray=\"6 4\"><title>{} limit {limit} MiB</title></line>",
                left + plot_w,
                esc(&m.revision)
            );
            if let Some(h) = m.projected_oom_h.filter(|h| *h <= longest) {
                let _ = write!(
                    s,
                    "<circle class=\"mark\" cx=\"{:.1}\" cy=\"{y:.1}\" r=\"5\" fill=\"#c0392b\"><title>{}: projected OOM kill after {h:.1} h</title></circle>",
                    x_of(h),
                    esc(&m.revision)
                );
            }
        }
        let y = bottom + 30.0 + i as f64 * 22.0;
        let _ = write!(
            s,
            "<rect x=\"{left}\" y=\"{y}\" width=\"12\" height=\"12\" fill=\"{colour}\"/><text x=\"{}\" y=\"{}\">{}: {} tasks, limit {}{}</text>",
            left + 16.0,
            y + 11.0,
            esc(&m.revision),
            m.tasks,
            m.limit_mib
                .map_or_else(|| "unknown".into(), |l| format!("{l} MiB")),
            m.projected_oom_h
                .map(|h| format!(", projected OOM kill after {h:.1} h"))
                .unwrap_or_default()
        );
    }
    s.push_str("</svg>");
    s
}

/// Each task's time to healthy (a dot), per revision, against the deadline
/// (a dashed line); tasks never healthy before a health check stopped them
/// counted beside.
pub fn time_to_healthy_svg(id: &str, c: &Charts) -> String {
    if c.time_to_healthy.is_empty() {
        return "<p>No health-check transitions recorded.</p>".into();
    }
    let (label_w, plot_w, row_h) = (160.0, 640.0, 28.0);
    let longest = c
        .time_to_healthy
        .iter()
        .flat_map(|r| r.seconds.iter().copied())
        .chain(c.healthy_deadline_s.map(|d| d as f64))
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.1;
    let height = c.time_to_healthy.len() as f64 * row_h + 44.0;
    let width = label_w + plot_w + 180.0;
    let x_of = |s: f64| label_w + plot_w * s / longest;
    let mut s = svg_open(
        id,
        "Time from start to healthy per task, against the health check's deadline",
        width,
        height,
    );
    for (i, r) in c.time_to_healthy.iter().enumerate() {
        let y = 14.0 + i as f64 * row_h;
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            label_w - 8.0,
            y + 4.0,
            esc(&r.revision)
        );
        for v in &r.seconds {
            let late = c.healthy_deadline_s.is_some_and(|d| *v > d as f64);
            let _ = write!(
                s,
                "<circle class=\"mark\" cx=\"{:.1}\" cy=\"{y}\" r=\"4\" fill=\"{}\" opacity=\"0.7\"><title>{} healthy after {v:.0} s</title></circle>",
                x_of(*v),
                if late { "#c0392b" } else { "#27ae60" },
                esc(&r.revision)
            );
        }
        if r.never > 0 {
            // Never healthy: a red mark at the end of the axis, beyond any deadline.
            let _ = write!(
                s,
                "<rect class=\"mark\" x=\"{:.1}\" y=\"{}\" width=\"8\" height=\"8\" fill=\"#c0392b\"><title>{}: {} tasks stopped by a health check before they were ever healthy</title></rect>",
                label_w + plot_w - 8.0,
                y - 4.0,
                esc(&r.revision),
                r.never
            );
        }
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\">{} healthy{}</text>",
            label_w + plot_w + 8.0,
            y + 4.0,
            r.seconds.len(),
            if r.never > 0 {
                format!(", {} never", r.never)
            } else {
                String::new()
            }
        );
    }
    let bottom = 14.0 + c.time_to_healthy.len() as f64 * row_h;
    if let Some(d) = c.healthy_deadline_s {
        let x = x_of(d as f64);
        let _ = write!(
            s,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"2\" y2=\"{bottom}\" stroke=\"#c0392b\" stroke-dasharray=\"4 3\"/><text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">deadline {d} s</text>",
            bottom + 14.0
        );
    }
    let _ = write!(
        s,
        "<text x=\"{label_w}\" y=\"{}\">0 s</text>",
        bottom + 28.0
    );
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::diagnose::evidence::assemble;

    fn task(i: i64, revision: i64, f: impl Fn(&mut TaskRow)) -> TaskRow {
        let mut t = TaskRow {
            cluster: Some("prod".into()),
            service: Some("api".into()),
            task_id: format!("t{revision}-{i}"),
            family: Some("api".into()),
            revision: Some(revision),
            started_at: Some(i * HOUR),
            memory_limit: Some(1024),
            ..TaskRow::default()
        };
        f(&mut t);
        t
    }

    #[test]
    fn stops_land_in_their_hour_and_the_axis_spans_the_window() {
        let rows = vec![
            task(0, 1, |t| {
                t.stop_cause = Some(StopCause::OomKilled);
                t.stopped_at = Some(2 * HOUR + 10);
            }),
            task(1, 1, |t| {
                t.stop_cause = Some(StopCause::OomKilled);
                t.stopped_at = Some(2 * HOUR + HOUR - 1);
            }),
            task(2, 1, |t| {
                t.stop_cause = Some(StopCause::SpotInterruption);
                t.stopped_at = Some(5 * HOUR);
            }),
        ];
        let svc = assemble(rows.clone(), Vec::new(), Vec::new()).remove(0);
        let refs: Vec<&TaskRow> = rows.iter().collect();
        let c = Charts::of(&svc, &refs, Some(HOUR / 2), Some(6 * HOUR));
        assert_eq!((c.from_hour, c.to_hour), (0, 5 * HOUR));
        assert_eq!(c.stops_per_hour.len(), 2);
        assert_eq!(c.stops_per_hour[0].hour, 2 * HOUR);
        assert_eq!(c.stops_per_hour[0].causes["oom_killed"], 2);
        assert_eq!(c.stops_per_hour[1].causes["spot_interruption"], 1);
        let svg = stops_per_hour_svg("x", &c);
        assert_eq!(
            svg.matches("<rect").count(),
            2 + 2,
            "two bars, two legend keys"
        );
    }

    #[test]
    fn memory_curves_follow_the_fits_of_the_tasks_still_alive() {
        // Two tasks leaking 100 MiB/h from 400 MiB, one up 4 h, one up 2 h.
        let rows = [
            task(0, 2, |t| {
                t.started_at = Some(0);
                t.stopped_at = Some(4 * HOUR);
                t.intercept_mib = Some(400.0);
                t.slope_mib_per_hour = Some(100.0);
                t.memory_samples = Some(240);
            }),
            task(1, 2, |t| {
                t.started_at = Some(0);
                t.stopped_at = Some(2 * HOUR);
                t.intercept_mib = Some(500.0);
                t.slope_mib_per_hour = Some(100.0);
                t.memory_samples = Some(120);
            }),
        ];
        assert!(memory_curve("api:2", Some(1024), &[], None, None).is_none());
        let r: Vec<&TaskRow> = rows.iter().collect();
        let m = memory_curve("api:2", Some(1024), &r, Some((400.0, 100.0)), None).unwrap();
        assert_eq!(m.tasks, 2);
        assert_eq!(m.points.len(), STEPS + 1);
        assert_eq!(m.points[0].p50_mib, 450.0, "both alive at start");
        let last = m.points.last().unwrap();
        assert_eq!(
            (last.hours, last.p50_mib),
            (4.0, 800.0),
            "only the long one at 4 h"
        );
        assert!((m.projected_oom_h.unwrap() - 6.24).abs() < 1e-9);
        // A slope of noise projects nothing; a task still running counts up
        // to the window's end.
        let flat = memory_curve("api:2", Some(1024), &r, Some((400.0, 0.4)), None).unwrap();
        assert!(flat.projected_oom_h.is_none());
        let mut running = rows[0].clone();
        running.stopped_at = None;
        assert!(memory_curve("api:2", Some(1024), &[&running], None, None).is_none());
        let m = memory_curve("api:2", Some(1024), &[&running], None, Some(3 * HOUR)).unwrap();
        assert_eq!(m.points.last().unwrap().hours, 3.0);
    }

    #[test]
    fn time_to_healthy_counts_the_tasks_never_healthy() {
        let rows = vec![
            task(0, 3, |t| t.seconds_to_healthy = Some(20.0)),
            task(1, 3, |t| t.stop_cause = Some(StopCause::ElbHealthCheck)),
        ];
        let svc = assemble(rows.clone(), Vec::new(), Vec::new()).remove(0);
        let refs: Vec<&TaskRow> = rows.iter().collect();
        let c = Charts::of(&svc, &refs, None, None);
        assert_eq!(c.time_to_healthy[0].seconds, vec![20.0]);
        assert_eq!(c.time_to_healthy[0].never, 1);
        assert!(time_to_healthy_svg("h", &c).contains("1 healthy, 1 never"));
    }
}
