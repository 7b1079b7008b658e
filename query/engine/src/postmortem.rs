//! The post-mortem draft of one service over an incident's window
//! (`ecs-query postmortem <service> --since T1 [--until T2]`): what
//! happened (summary), how much (impact: tasks stopped by cause, abnormal
//! stops and their span, deployments that failed or rolled back), when
//! (timeline: deployments, each revision's first abnormal stop, the last
//! one, steady state again), why (the diagnosis's findings with their
//! evidence), what changed between the revisions that ran (the
//! configuration diff), and the action items (the recommendations with
//! their patches). Built from the same evidence as `diagnose`, so the two
//! never disagree.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use ecs_lake::time::date_time_of;
use serde::Serialize;

use crate::charts::{self, Charts};
use crate::config::{self, Change};
use crate::diagnose::evidence::{self, DeploymentRow, Selector, TaskRow};
use crate::diagnose::findings::{Finding, Severity};
use crate::diagnose::patch::Patch;
use crate::diagnose::{Diagnosis, finding_markdown};
use crate::error::Result;
use crate::lake::Lake;
use crate::summary::{DeploymentOutcome, Scope};

/// One service's post-mortem draft.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Postmortem {
    pub cluster: String,
    pub service: String,
    pub since: Option<String>,
    pub until: Option<String>,
    pub summary: String,
    pub impact: Impact,
    pub timeline: Vec<Moment>,
    /// The diagnosis's findings, most important first: the root cause.
    pub findings: Vec<Finding>,
    /// What changed from each revision to the next that ran in the window.
    pub changes: Vec<RevisionChange>,
    pub actions: Vec<Action>,
    /// Stops per hour with the deployments, memory over uptime, time to healthy.
    pub charts: Charts,
}

/// How much the incident cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Impact {
    pub tasks: usize,
    pub stopped: usize,
    /// Stopped tasks by cause (`oom_killed`, `elb_health_check`, ...).
    pub stopped_by_cause: BTreeMap<&'static str, usize>,
    /// Stops nobody asked for (see [`TaskRow::is_abnormal`]).
    pub abnormal_stops: usize,
    pub first_abnormal_stop: Option<String>,
    pub last_abnormal_stop: Option<String>,
    pub deployments: usize,
    pub failed_deployments: usize,
    pub rollbacks: usize,
    /// The service's desired count (its latest capture in the window), when
    /// the lake has the service's configuration.
    pub desired_count: Option<i64>,
    /// Seconds of the window with fewer healthy tasks than desired (see
    /// [`below_desired_s`]), when the desired count is known.
    pub below_desired_s: Option<f64>,
}

/// What a moment of the timeline is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MomentKind {
    DeploymentStarted,
    DeploymentEnded,
    Rollback,
    FirstAbnormalStop,
    LastAbnormalStop,
    SteadyAgain,
}

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Moment {
    pub at: String,
    #[serde(skip)]
    pub at_us: i64,
    pub kind: MomentKind,
    pub what: String,
}

/// The configuration changes from one revision to the next.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevisionChange {
    pub from: String,
    pub to: String,
    pub changes: Vec<Change>,
    /// Why the task definitions could not be compared (one is not in the
    /// lake): then `changes` holds only the service's own settings.
    pub unknown: Option<String>,
}

/// An action item: one finding's recommendations and patches.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Action {
    pub severity: Severity,
    pub finding: String,
    pub what_to_change: Vec<String>,
    pub patches: Vec<Patch>,
}

/// The post-mortem drafts of the services `selector` matches (one per cluster).
pub async fn postmortems(
    lake: &Lake,
    selector: &Selector,
    scope: Scope,
) -> Result<Vec<Postmortem>> {
    let config = config::Configuration::load(&lake.ctx).await?;
    let (services, tasks) =
        evidence::gather_with_tasks(&lake.ctx, scope, selector, &config).await?;
    let history = config::service_history(&lake.ctx).await?;
    let groups = config::target_group_history(&lake.ctx).await?;
    Ok(services
        .iter()
        .map(|svc| {
            let diagnosis = Diagnosis::of(svc, scope);
            // Grouped as the evidence groups them (standalone tasks by family).
            let own = evidence::tasks_of(&tasks, &svc.cluster, &svc.service);
            let mut changes = Vec::new();
            for pair in svc.revisions.windows(2) {
                let (from, to) = (&pair[0].label, &pair[1].label);
                let (mut c, unknown) = match config::diff(&config.containers, from, to) {
                    Ok(c) => (c, None),
                    Err(e) => (Vec::new(), Some(e.to_string())),
                };
                c.extend(config::service_diff(&history, &groups, from, to));
                changes.push(RevisionChange {
                    from: from.clone(),
                    to: to.clone(),
                    changes: c,
                    unknown,
                });
            }
            let mut draft = assemble(diagnosis, &own, &svc.deployments, changes, scope.to);
            draft.charts = Charts::of(svc, &own, scope.from, scope.to);
            let mut desired: Vec<(i64, i64)> = history
                .iter()
                .filter(|h| {
                    h.service == svc.service && h.cluster.as_deref() == Some(svc.cluster.as_str())
                })
                .filter_map(|h| Some((h.captured_at, h.desired_count?)))
                .collect();
            desired.sort_unstable();
            draft.impact.desired_count = desired
                .iter()
                .rev()
                .find(|(at, _)| scope.to.is_none_or(|to| *at < to))
                .or(desired.first())
                .map(|(_, n)| *n);
            draft.impact.below_desired_s = below_desired_s(&own, &desired, scope.from, scope.to);
            draft
        })
        .collect())
}

/// Seconds of `[from, to)` (either open: the tasks' own span) with fewer
/// healthy tasks than desired. `desired`: (captured at, desired count) in
/// time order; before the first capture its count is taken to hold. A task
/// counts as healthy from its first HEALTHY until it stopped (or began
/// stopping); a task without a health transition counts from its start
/// only if its revision has no health check the lake knows of (no task of
/// it ever turned healthy or failed one). `None` without a desired count or
/// tasks. Tasks come from the window's events: one running through the
/// whole window without an event is not seen, and its absence counts as
/// time below the desired count.
pub fn below_desired_s(
    tasks: &[&TaskRow],
    desired: &[(i64, i64)],
    from: Option<i64>,
    to: Option<i64>,
) -> Option<f64> {
    let &(_, first) = desired.first()?;
    let checked: std::collections::BTreeSet<(Option<&str>, Option<i64>)> = tasks
        .iter()
        .filter(|t| {
            t.seconds_to_healthy.is_some()
                || t.health_check_failed == Some(true)
                || t.never_healthy()
        })
        .map(|t| (t.family.as_deref(), t.revision))
        .collect();
    let healthy: Vec<(i64, i64)> = tasks
        .iter()
        .filter_map(|t| {
            let start = t.started_at?;
            let up = match t.seconds_to_healthy {
                Some(s) => start + (s * 1e6) as i64,
                None if checked.contains(&(t.family.as_deref(), t.revision)) => return None,
                None => start,
            };
            let down = t.stop_time().unwrap_or(i64::MAX);
            (down > up).then_some((up, down))
        })
        .collect();
    let lo = from.or_else(|| tasks.iter().filter_map(|t| t.started_at).min())?;
    let hi = to.or_else(|| {
        tasks
            .iter()
            .filter_map(|t| t.stop_time().or(t.started_at))
            .max()
    })?;
    if hi <= lo {
        return Some(0.0);
    }
    let mut points: Vec<i64> = healthy
        .iter()
        .flat_map(|(a, b)| [*a, *b])
        .chain(desired.iter().map(|(at, _)| *at))
        .filter(|t| *t > lo && *t < hi)
        .chain([lo, hi])
        .collect();
    points.sort_unstable();
    points.dedup();
    let desired_at = |t: i64| {
        desired
            .iter()
            .rev()
            .find(|(at, _)| *at <= t)
            .map_or(first, |(_, n)| *n)
    };
    let below: i64 = points
        .windows(2)
        .filter(|w| {
            let up = healthy
                .iter()
                .filter(|(u, d)| *u <= w[0] && *d > w[0])
                .count();
            (up as i64) < desired_at(w[0])
        })
        .map(|w| w[1] - w[0])
        .sum();
    Some(below as f64 / 1e6)
}

/// A post-mortem from its parts (pure: the tests feed it rows); `until` is
/// the window's end (µs), past which nothing is claimed.
pub fn assemble(
    diagnosis: Diagnosis,
    tasks: &[&TaskRow],
    deployments: &[DeploymentRow],
    changes: Vec<RevisionChange>,
    until: Option<i64>,
) -> Postmortem {
    let mut abnormal: Vec<(i64, &TaskRow)> = tasks
        .iter()
        .filter(|t| t.is_abnormal())
        .filter_map(|t| Some((t.stop_time()?, *t)))
        .collect();
    abnormal.sort_by_key(|(at, t)| (*at, t.task_id.clone()));
    let mut impact = Impact {
        tasks: diagnosis.tasks,
        stopped: diagnosis.stopped,
        abnormal_stops: abnormal.len(),
        first_abnormal_stop: abnormal.first().map(|(at, _)| date_time_of(*at)),
        last_abnormal_stop: abnormal.last().map(|(at, _)| date_time_of(*at)),
        deployments: deployments.len(),
        failed_deployments: deployments.iter().filter(|d| d.failed()).count(),
        rollbacks: deployments.iter().filter(|d| d.is_rollback).count(),
        ..Impact::default()
    };
    for cause in tasks.iter().filter_map(|t| t.stop_cause) {
        *impact.stopped_by_cause.entry(cause.as_str()).or_default() += 1;
    }

    let mut timeline = Vec::new();
    let moment = |at: i64, kind, what: String| Moment {
        at: date_time_of(at),
        at_us: at,
        kind,
        what,
    };
    for d in deployments {
        let label = d.label();
        if let Some(at) = d.started_at {
            let (kind, what) = if d.is_rollback {
                (MomentKind::Rollback, "rollback")
            } else {
                (MomentKind::DeploymentStarted, "deployment")
            };
            timeline.push(moment(
                at,
                kind,
                format!("{what} {} to {label} started", d.deployment_id),
            ));
        }
        if let Some(at) = d.ended_at {
            timeline.push(moment(
                at,
                MomentKind::DeploymentEnded,
                format!(
                    "deployment {} to {label} ended: {}",
                    d.deployment_id,
                    d.outcome.as_str().replace('_', " ")
                ),
            ));
        }
    }
    let mut firsts: BTreeMap<String, (i64, &TaskRow, usize)> = BTreeMap::new();
    for (at, t) in &abnormal {
        firsts
            .entry(evidence::label(&t.family, t.revision))
            .or_insert((*at, t, 0))
            .2 += 1;
    }
    for (label, (at, t, n)) in &firsts {
        timeline.push(moment(
            *at,
            MomentKind::FirstAbnormalStop,
            format!(
                "first abnormal stop of {label} ({n} in all): task {} {}",
                t.task_id,
                stop_words(t)
            ),
        ));
    }
    // The last one, unless it is a revision's first (already on the timeline).
    let last_is_a_first = |t: &TaskRow| firsts.values().any(|(_, f, _)| f.task_id == t.task_id);
    if let Some((at, t)) = abnormal.last().filter(|(_, t)| !last_is_a_first(t)) {
        timeline.push(moment(
            *at,
            MomentKind::LastAbnormalStop,
            format!(
                "last abnormal stop: task {} of {} {}",
                t.task_id,
                evidence::label(&t.family, t.revision),
                stop_words(t)
            ),
        ));
    }
    // Steady again: the first deployment to complete, inside the window,
    // after the last abnormal stop, of a revision that never stopped
    // abnormally (a redeploy of the faulty revision only resets it).
    let steady = abnormal.last().and_then(|(last, _)| {
        deployments
            .iter()
            .filter(|d| d.outcome == DeploymentOutcome::Completed)
            .filter(|d| !firsts.contains_key(&d.label()))
            .filter_map(|d| Some((d.ended_at?, d)))
            .filter(|(end, _)| end > last && until.is_none_or(|u| *end < u))
            .min_by_key(|(end, _)| *end)
    });
    if let Some((end, d)) = steady {
        timeline.push(moment(
            end,
            MomentKind::SteadyAgain,
            format!(
                "steady state again: {} runs (deployment {} completed), no abnormal stop since",
                d.label(),
                d.deployment_id
            ),
        ));
    }
    timeline.sort_by_key(|m| m.at_us);

    let actions = diagnosis
        .findings
        .iter()
        .filter(|f| !f.recommendations.is_empty())
        .map(|f| Action {
            severity: f.severity,
            finding: f.title.to_string(),
            what_to_change: f.recommendations.iter().map(ToString::to_string).collect(),
            patches: f.patches.clone(),
        })
        .collect();
    let summary = summary(&diagnosis, &impact, &abnormal, steady.map(|(_, d)| d));
    Postmortem {
        cluster: diagnosis.cluster.clone(),
        service: diagnosis.service.clone(),
        since: diagnosis.from.clone(),
        until: diagnosis.to.clone(),
        summary,
        impact,
        timeline,
        findings: diagnosis.findings,
        changes,
        actions,
        charts: Charts::default(),
    }
}

/// How a task stopped, in words: its cause and exit.
fn stop_words(t: &TaskRow) -> String {
    let cause = t.stop_cause.map_or("stopped", |c| c.as_str());
    match t.exit_code {
        Some(code) => format!("({}, exit {code})", cause.replace('_', " ")),
        None => format!("({})", cause.replace('_', " ")),
    }
}

fn summary(
    d: &Diagnosis,
    impact: &Impact,
    abnormal: &[(i64, &TaskRow)],
    steady: Option<&DeploymentRow>,
) -> String {
    let mut s = format!("{}/{}: ", d.cluster, d.service);
    let (Some((first, _)), Some((last, _))) = (abnormal.first(), abnormal.last()) else {
        s.push_str("no abnormal stop in the window");
        let _ = write!(s, " ({} tasks, {} stopped).", impact.tasks, impact.stopped);
        return s;
    };
    let mut causes: BTreeMap<&str, usize> = BTreeMap::new();
    let mut revisions: Vec<String> = Vec::new();
    for (_, t) in abnormal {
        *causes
            .entry(t.stop_cause.map_or("unknown", |c| c.as_str()))
            .or_default() += 1;
        let label = evidence::label(&t.family, t.revision);
        if !revisions.contains(&label) {
            revisions.push(label);
        }
    }
    let mut causes: Vec<(&str, usize)> = causes.into_iter().collect();
    causes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let causes: Vec<String> = causes
        .iter()
        .map(|(c, n)| format!("{n} {}", c.replace('_', " ")))
        .collect();
    let _ = write!(
        s,
        "{} abnormal stops ({}) from {} to {}, on {}.",
        abnormal.len(),
        causes.join(", "),
        date_time_of(*first),
        date_time_of(*last),
        revisions.join(", ")
    );
    if let Some(f) = d.findings.first() {
        let _ = write!(s, " Root cause: {}.", f.title);
    }
    if impact.rollbacks > 0 || impact.failed_deployments > 0 {
        let _ = write!(
            s,
            " {} deployment(s) failed, {} rolled back.",
            impact.failed_deployments, impact.rollbacks
        );
    }
    match steady {
        Some(dep) => {
            let _ = write!(
                s,
                " Steady again once {} ran ({}).",
                dep.label(),
                dep.ended_at.map(date_time_of).unwrap_or_default()
            );
        }
        None => s.push_str(" Not resolved by the end of the window."),
    }
    s
}

/// A post-mortem draft as Markdown.
pub fn markdown(p: &Postmortem) -> String {
    let mut s = format!(
        "# Post-mortem draft: {}/{} ({} to {})\n\n## Summary\n\n{}\n\n## Impact\n\n",
        p.cluster,
        p.service,
        p.since.as_deref().unwrap_or("the beginning"),
        p.until.as_deref().unwrap_or("now"),
        p.summary
    );
    let i = &p.impact;
    let _ = writeln!(s, "- tasks: {}, stopped: {}", i.tasks, i.stopped);
    let _ = writeln!(
        s,
        "- abnormal stops: {}{}",
        i.abnormal_stops,
        match (&i.first_abnormal_stop, &i.last_abnormal_stop) {
            (Some(a), Some(b)) => format!(", from {a} to {b}"),
            _ => String::new(),
        }
    );
    let _ = writeln!(
        s,
        "- deployments: {}, failed: {}, rolled back: {}",
        i.deployments, i.failed_deployments, i.rollbacks
    );
    if let Some(line) = below_desired_line(i) {
        let _ = writeln!(s, "- {line}");
    }
    s.push_str("\n| stop cause | tasks |\n|---|---:|\n");
    let mut causes: Vec<(&&str, &usize)> = i.stopped_by_cause.iter().collect();
    causes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (cause, n) in causes {
        let _ = writeln!(s, "| {cause} | {n} |");
    }
    s.push_str("\n## Timeline (UTC)\n\n| time | what |\n|---|---|\n");
    for m in &p.timeline {
        let _ = writeln!(s, "| {} | {} |", m.at, m.what);
    }
    s.push_str("\n## Root cause\n\n");
    if p.findings.is_empty() {
        s.push_str("No findings in the window.\n\n");
    }
    for (n, f) in p.findings.iter().enumerate() {
        s.push_str(&finding_markdown(n + 1, f, "###"));
    }
    s.push_str("## What changed between the revisions\n\n");
    if p.changes.is_empty() {
        s.push_str("One revision ran in the window.\n\n");
    }
    for c in &p.changes {
        let _ = write!(s, "### {} -> {}\n\n", c.from, c.to);
        if let Some(why) = &c.unknown {
            let _ = writeln!(s, "The task definitions were not compared: {why}\n");
        }
        if c.unknown.is_none() || !c.changes.is_empty() {
            let _ = writeln!(s, "{}", config::diff_markdown(&c.from, &c.to, &c.changes));
        }
    }
    s.push_str("## Action items\n\n");
    if p.actions.is_empty() {
        s.push_str("None from the findings.\n");
    }
    for a in &p.actions {
        for w in &a.what_to_change {
            let _ = writeln!(s, "- [ ] [{}] {w} ({})", a.severity.as_str(), a.finding);
        }
    }
    let example = p.findings.iter().find_map(|f| f.example_tasks.first());
    s.push_str("\n## Next\n\n```sh\n");
    let _ = writeln!(s, "ecs-query diagnose {}/{}", p.cluster, p.service);
    if let Some(task) = example {
        let _ = writeln!(s, "ecs-query timeline {task}");
    }
    s.push_str("```\n");
    s
}

/// A post-mortem draft as one self-contained HTML page (inline CSS and SVG
/// charts, no script, nothing fetched), for a wiki or an e-mail.
pub fn html(p: &Postmortem) -> String {
    use crate::report::html::{CSS, esc, finding, inline, table};
    let title = format!("Post-mortem draft: {}/{}", p.cluster, p.service);
    let mut s = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{0}</title><style>{CSS}</style></head><body><h1>{0}</h1><p>{1} to {2} (UTC)</p><h2>Summary</h2><p>{3}</p><h2>Impact</h2>",
        esc(&title),
        esc(p.since.as_deref().unwrap_or("the beginning")),
        esc(p.until.as_deref().unwrap_or("now")),
        inline(&p.summary)
    );
    let i = &p.impact;
    let _ = write!(
        s,
        "<ul><li>tasks: {}, stopped: {}</li><li>abnormal stops: {}{}</li><li>deployments: {}, failed: {}, rolled back: {}</li>",
        i.tasks,
        i.stopped,
        i.abnormal_stops,
        match (&i.first_abnormal_stop, &i.last_abnormal_stop) {
            (Some(a), Some(b)) => format!(", from {} to {}", esc(a), esc(b)),
            _ => String::new(),
        },
        i.deployments,
        i.failed_deployments,
        i.rollbacks
    );
    if let Some(line) = below_desired_line(i) {
        let _ = write!(s, "<li>{}</li>", esc(&line));
    }
    s.push_str("</ul>");
    s.push_str("<h3>Stopped tasks per hour by cause</h3>");
    s.push_str(&charts::stops_per_hour_svg("stops-per-hour", &p.charts));
    s.push_str("<h2>Timeline (UTC)</h2>");
    let rows: Vec<Vec<String>> = p
        .timeline
        .iter()
        .map(|m| vec![m.at.clone(), m.what.clone()])
        .collect();
    s.push_str(&table(&["time", "what"], &rows, 2));
    s.push_str("<h2>Root cause</h2>");
    if p.findings.is_empty() {
        s.push_str("<p>No findings in the window.</p>");
    }
    for f in &p.findings {
        s.push_str(&finding(f));
    }
    s.push_str("<h3>Memory over task uptime</h3>");
    s.push_str(&charts::memory_over_uptime_svg(
        "memory-over-uptime",
        &p.charts,
    ));
    s.push_str("<h3>Time to healthy</h3>");
    s.push_str(&charts::time_to_healthy_svg("time-to-healthy", &p.charts));
    s.push_str("<h2>What changed between the revisions</h2>");
    if p.changes.is_empty() {
        s.push_str("<p>One revision ran in the window.</p>");
    }
    for c in &p.changes {
        let _ = write!(s, "<h3>{} -> {}</h3>", esc(&c.from), esc(&c.to));
        if let Some(why) = &c.unknown {
            let _ = write!(
                s,
                "<p>The task definitions were not compared: {}</p>",
                esc(why)
            );
        }
        if c.changes.is_empty() && c.unknown.is_none() {
            s.push_str("<p>Configured alike (as far as the lake records).</p>");
        } else if !c.changes.is_empty() {
            let cell = |v: &Option<String>| v.clone().unwrap_or_else(|| "(unset)".into());
            let rows: Vec<Vec<String>> = c
                .changes
                .iter()
                .map(|x| {
                    vec![
                        x.scope.clone(),
                        x.setting.clone(),
                        cell(&x.from),
                        cell(&x.to),
                    ]
                })
                .collect();
            s.push_str(&table(&["where", "setting", &c.from, &c.to], &rows, 4));
        }
    }
    s.push_str("<h2>Action items</h2><ul>");
    for a in &p.actions {
        for w in &a.what_to_change {
            let _ = write!(
                s,
                "<li>[{}] {} ({})</li>",
                a.severity.as_str(),
                inline(w),
                inline(&a.finding)
            );
        }
    }
    if p.actions.is_empty() {
        s.push_str("<li>None from the findings.</li>");
    }
    s.push_str("</ul></body></html>\n");
    s
}

/// `time with fewer healthy tasks than desired (4): 12 min`.
fn below_desired_line(i: &Impact) -> Option<String> {
    let (desired, below) = (i.desired_count?, i.below_desired_s?);
    let span = if below >= 3600.0 {
        format!("{:.1} h", below / 3600.0)
    } else if below >= 60.0 {
        format!("{:.0} min", below / 60.0)
    } else {
        format!("{below:.0} s")
    };
    Some(format!(
        "time with fewer healthy tasks than desired ({desired}): {span}"
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const H: i64 = 3_600_000_000;

    fn task(started: i64, healthy_after_s: Option<f64>, stopped: Option<i64>) -> TaskRow {
        TaskRow {
            task_id: format!("t{started}"),
            started_at: Some(started),
            seconds_to_healthy: healthy_after_s,
            stopped_at: stopped,
            ..TaskRow::default()
        }
    }

    #[test]
    fn below_desired_counts_the_time_with_too_few_healthy_tasks() {
        // Two desired; one healthy from 0 to 10 h, one healthy from 1 h
        // (started at 0, 3600 s to healthy), one stopped by a health check
        // never counts.
        let a = task(0, Some(0.0), Some(10 * H));
        let b = task(0, Some(3600.0), None);
        let mut c = task(0, None, Some(2 * H));
        c.stop_cause = Some(ecs_lake::classify::StopCause::ElbHealthCheck);
        let tasks = vec![&a, &b, &c];
        let desired = [(0, 2)];
        assert_eq!(
            below_desired_s(&tasks, &desired, Some(0), Some(12 * H)),
            Some(3600.0 + 2.0 * 3600.0)
        );
        // Scaled to 1 at 11 h: the last hour is enough again.
        let scaled = [(0, 2), (11 * H, 1)];
        assert_eq!(
            below_desired_s(&tasks, &scaled, Some(0), Some(12 * H)),
            Some(3600.0 + 3600.0)
        );
        assert_eq!(below_desired_s(&tasks, &[], Some(0), Some(12 * H)), None);
        // A revision without any health check: its tasks count from their start.
        let mut plain = task(0, None, Some(12 * H));
        plain.revision = Some(9);
        let plain = [&plain];
        assert_eq!(
            below_desired_s(&plain, &[(0, 1)], Some(0), Some(12 * H)),
            Some(0.0)
        );
        // A window after every stop: nothing to count, not a made-up span.
        assert_eq!(
            below_desired_s(&tasks, &desired, Some(20 * H), None),
            Some(0.0)
        );
    }
}
