//! `ecs-query report`: the weekly reliability report, per cluster and
//! service, as Markdown, a self-contained HTML page with SVG charts, and JSON.
//!
//! Built from the same evidence and findings as `diagnose`
//! ([`crate::diagnose`]) for the week and for the week before (the
//! week-over-week change). [`Report`] is the data; [`markdown`] and
//! [`html::page`] render it; the `report` Lambda writes the three files to
//! `<lake>/reports/<week>/`.

pub mod html;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{Datelike, NaiveDate, TimeZone, Utc, Weekday};
use ecs_lake::classify::{ExitKind, StopCause};
use ecs_lake::sources::logs::signature::Signature;
use serde::Serialize;

use crate::diagnose::evidence::{self, DeploymentRow, Selector, ServiceEvidence, Spread};
use crate::diagnose::findings::{self, Finding};
use crate::diagnose::{finding_markdown, revision_table};
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::summary::Scope;
use ecs_lake::time::date_time_of;

pub const WEEK_US: i64 = 7 * 86_400_000_000;

/// The period a report covers: `[from, to)` in microseconds, with its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Period {
    /// `2026-W47`, or `2026-11-16..2026-11-23` for a custom range.
    pub name: String,
    pub from: i64,
    pub to: i64,
}

impl Period {
    /// An ISO week, `2026-W47`.
    pub fn week(text: &str) -> Option<Period> {
        let (year, week) = text.split_once("-W").or_else(|| text.split_once("-w"))?;
        let monday =
            NaiveDate::from_isoywd_opt(year.parse().ok()?, week.parse().ok()?, Weekday::Mon)?;
        let from = Utc
            .from_utc_datetime(&monday.and_hms_opt(0, 0, 0)?)
            .timestamp_micros();
        Some(Period {
            name: format!("{year}-W{:02}", monday.iso_week().week()),
            from,
            to: from + WEEK_US,
        })
    }

    /// A custom period `[from, to)` (µs), named by its first and last day;
    /// `None` when it ends before it starts.
    pub fn range(from: i64, to: i64) -> Option<Period> {
        (to > from).then(|| Period {
            name: format!(
                "{}..{}",
                &date_time_of(from)[..10],
                &date_time_of(to - 1)[..10]
            ),
            from,
            to,
        })
    }

    /// The last complete ISO week before `now`.
    pub fn last_week(now: i64) -> Period {
        let today = chrono::DateTime::from_timestamp_micros(now)
            .map_or_else(|| Utc::now().date_naive(), |t| t.date_naive());
        let iso = (today - chrono::Days::new(7)).iso_week();
        Period::week(&format!("{}-W{:02}", iso.year(), iso.week())).unwrap_or(Period {
            name: "last-7-days".into(),
            from: now - WEEK_US,
            to: now,
        })
    }

    /// The period of the same length just before this one.
    pub fn previous(&self) -> Period {
        let len = self.to - self.from;
        let name = match Period::week(&self.name) {
            Some(_) => {
                let iso = chrono::DateTime::from_timestamp_micros(self.from - len)
                    .map(|t| t.date_naive().iso_week());
                iso.map_or_else(
                    || "previous".into(),
                    |w| format!("{}-W{:02}", w.year(), w.week()),
                )
            }
            None => "previous period".into(),
        };
        Period {
            name,
            from: self.from - len,
            to: self.from,
        }
    }

    pub fn scope(&self) -> Scope {
        Scope {
            from: Some(self.from),
            to: Some(self.to),
        }
    }
}

/// The figures compared week over week.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Figures {
    pub tasks: usize,
    pub stopped: usize,
    pub oom_kills: usize,
    pub stop_timeout_kills: usize,
    pub health_check_stops: usize,
    pub app_errors: usize,
    pub failed_to_start: usize,
    pub deployments: usize,
    pub failed_deployments: usize,
    /// Health-check stops per task seen, percent.
    pub health_check_failure_pct: f64,
}

impl Figures {
    fn of(svc: &ServiceEvidence) -> Figures {
        let tasks = svc.tasks();
        let health = svc.total(|r| r.health_check_stops);
        Figures {
            tasks,
            stopped: svc.stopped(),
            oom_kills: svc.total(|r| r.oom_kills),
            stop_timeout_kills: svc.total(|r| r.stop_timeout_kills),
            health_check_stops: health,
            app_errors: svc.total(|r| r.kind(ExitKind::AppError)),
            failed_to_start: svc.total(|r| r.cause(StopCause::FailedToStart)),
            deployments: svc.deployments.len(),
            failed_deployments: svc.deployments.iter().filter(|d| d.failed()).count(),
            health_check_failure_pct: share_pct(health, tasks),
        }
    }

    fn add(&mut self, o: &Figures) {
        self.tasks += o.tasks;
        self.stopped += o.stopped;
        self.oom_kills += o.oom_kills;
        self.stop_timeout_kills += o.stop_timeout_kills;
        self.health_check_stops += o.health_check_stops;
        self.app_errors += o.app_errors;
        self.failed_to_start += o.failed_to_start;
        self.deployments += o.deployments;
        self.failed_deployments += o.failed_deployments;
        self.health_check_failure_pct = share_pct(self.health_check_stops, self.tasks);
    }

    /// (name, this, previous) for every figure.
    pub fn compare(&self, before: &Figures) -> Vec<(&'static str, f64, f64)> {
        let f = |x: usize| x as f64;
        vec![
            ("tasks", f(self.tasks), f(before.tasks)),
            ("stopped", f(self.stopped), f(before.stopped)),
            ("OOM kills", f(self.oom_kills), f(before.oom_kills)),
            (
                "stop-timeout kills",
                f(self.stop_timeout_kills),
                f(before.stop_timeout_kills),
            ),
            (
                "health-check stops",
                f(self.health_check_stops),
                f(before.health_check_stops),
            ),
            (
                "health-check failure %",
                self.health_check_failure_pct,
                before.health_check_failure_pct,
            ),
            (
                "application errors",
                f(self.app_errors),
                f(before.app_errors),
            ),
            (
                "start failures",
                f(self.failed_to_start),
                f(before.failed_to_start),
            ),
            ("deployments", f(self.deployments), f(before.deployments)),
            (
                "failed deployments",
                f(self.failed_deployments),
                f(before.failed_deployments),
            ),
        ]
    }
}

/// `part` of `whole` in percent, one decimal (0 for nothing).
fn share_pct(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (1000.0 * part as f64 / whole as f64).round() / 10.0
    }
}

/// Memory headroom of one revision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Headroom {
    pub revision: String,
    pub limit_mib: Option<i64>,
    pub peak: Option<Spread>,
    /// 100 - p99 peak as % of the limit.
    pub headroom_pct: Option<f64>,
    pub oom_kills: usize,
    pub tasks: usize,
}

/// One service's week.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceReport {
    pub cluster: String,
    pub service: String,
    pub this_week: Figures,
    pub previous_week: Figures,
    pub stopped_by_cause: BTreeMap<StopCause, usize>,
    pub exits_by_kind: BTreeMap<ExitKind, usize>,
    pub memory: Vec<Headroom>,
    pub time_to_healthy: Vec<(String, Option<Spread>)>,
    pub deployments: Vec<DeploymentRow>,
    pub top_signatures: Vec<(Signature, i64)>,
    pub findings: Vec<Finding>,
    /// Stops per hour with the deployments, memory over uptime, time to healthy.
    pub charts: crate::charts::Charts,
    #[serde(skip)]
    pub evidence: ServiceEvidence,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub title: String,
    pub period: Period,
    pub previous: Period,
    pub from: String,
    pub to: String,
    pub totals: Figures,
    pub previous_totals: Figures,
    pub services: Vec<ServiceReport>,
}

fn merge<K: Ord + Copy>(into: &mut BTreeMap<K, usize>, from: &BTreeMap<K, usize>) {
    for (k, v) in from {
        *into.entry(*k).or_insert(0) += v;
    }
}

/// Counts by the stored name of their key, in name order (as the lake and
/// the JSON spell them).
pub fn by_name<K: std::fmt::Display>(counts: &BTreeMap<K, usize>) -> Vec<(String, usize)> {
    let mut named: Vec<(String, usize)> = counts.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    named.sort();
    named
}

impl Report {
    /// "this week", or "this period" for a custom range.
    pub fn current_label(&self) -> &'static str {
        if Period::week(&self.period.name).is_some() {
            "this week"
        } else {
            "this period"
        }
    }
}

/// `1 finding`, `3 findings`.
pub fn count_of(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Builds the report for `period` from the lake.
pub async fn build(lake: &Lake, period: &Period, selector: &Selector) -> Result<Report> {
    let config = crate::config::Configuration::load(&lake.ctx).await?;
    let (this, tasks) =
        evidence::gather_with_tasks(&lake.ctx, period.scope(), selector, &config).await?;
    let previous = period.previous();
    let before = evidence::gather_with(&lake.ctx, previous.scope(), selector, &config).await?;
    let mut report = assemble(period, &previous, this, &before);
    for svc in &mut report.services {
        let own = evidence::tasks_of(&tasks, &svc.cluster, &svc.service);
        svc.charts =
            crate::charts::Charts::of(&svc.evidence, &own, Some(period.from), Some(period.to));
    }
    Ok(report)
}

/// The report from the two weeks' evidence (pure).
pub fn assemble(
    period: &Period,
    previous: &Period,
    this: Vec<ServiceEvidence>,
    before: &[ServiceEvidence],
) -> Report {
    let mut totals = Figures::default();
    let mut previous_totals = Figures::default();
    for b in before {
        previous_totals.add(&Figures::of(b));
    }
    let services: Vec<ServiceReport> = this
        .into_iter()
        .map(|svc| {
            let figures = Figures::of(&svc);
            totals.add(&figures);
            let previous_week = before
                .iter()
                .find(|b| b.cluster == svc.cluster && b.service == svc.service)
                .map(Figures::of)
                .unwrap_or_default();
            let mut stopped_by_cause = BTreeMap::new();
            let mut exits_by_kind = BTreeMap::new();
            for r in &svc.revisions {
                merge(&mut stopped_by_cause, &r.by_cause);
                merge(&mut exits_by_kind, &r.by_exit_kind);
            }
            let mut top_signatures: Vec<(Signature, i64)> = svc.signatures().into_iter().collect();
            top_signatures.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.as_str().cmp(b.0.as_str())));
            top_signatures.truncate(5);
            ServiceReport {
                cluster: svc.cluster.clone(),
                service: svc.service.clone(),
                this_week: figures,
                previous_week,
                stopped_by_cause,
                exits_by_kind,
                memory: svc
                    .revisions
                    .iter()
                    .map(|r| Headroom {
                        revision: r.label.clone(),
                        limit_mib: r.memory_limit,
                        peak: r.memory_peak,
                        headroom_pct: r
                            .memory_peak
                            .and_then(|p| r.peak_pct(p.p99))
                            .map(|p| ((100.0 - p) * 10.0).round() / 10.0),
                        oom_kills: r.oom_kills,
                        tasks: r.tasks,
                    })
                    .collect(),
                time_to_healthy: svc
                    .revisions
                    .iter()
                    .map(|r| (r.label.clone(), r.time_to_healthy))
                    .collect(),
                deployments: svc.deployments.clone(),
                top_signatures,
                findings: findings::findings(&svc),
                charts: crate::charts::Charts::default(),
                evidence: svc,
            }
        })
        .collect();
    Report {
        title: format!("ECS reliability report, {}", period.name),
        period: period.clone(),
        previous: previous.clone(),
        from: date_time_of(period.from),
        to: date_time_of(period.to),
        totals,
        previous_totals,
        services,
    }
}

/// `+3`, `-2`, `=`: the change from `before` to `now`.
pub fn delta(now: f64, before: f64) -> String {
    let d = now - before;
    if d.abs() < 1e-9 {
        "=".into()
    } else if d.fract().abs() > 1e-9 {
        format!("{d:+.1}")
    } else {
        format!("{d:+.0}")
    }
}

fn num(v: f64) -> String {
    if v.fract().abs() > 1e-9 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

fn compare_table(now: &Figures, before: &Figures, current: &str, previous: &str) -> String {
    let mut s = format!("| | {current} | {previous} | change |\n|---|---:|---:|---:|\n");
    for (name, a, b) in now.compare(before) {
        let _ = writeln!(s, "| {name} | {} | {} | {} |", num(a), num(b), delta(a, b));
    }
    s
}

fn counts_table<K: std::fmt::Display>(title: &str, counts: &BTreeMap<K, usize>) -> String {
    let mut rows = by_name(counts);
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut s = format!("| {title} | tasks |\n|---|---:|\n");
    for (k, v) in rows {
        let _ = writeln!(s, "| {k} | {v} |");
    }
    s
}

/// The report as Markdown.
pub fn markdown(r: &Report) -> String {
    let mut s = format!(
        "# {}\n\n{} to {} (UTC), compared with {}.\n\n## Summary\n\n{}\n",
        r.title,
        r.from,
        r.to,
        r.previous.name,
        compare_table(
            &r.totals,
            &r.previous_totals,
            r.current_label(),
            &r.previous.name
        )
    );
    if r.services.is_empty() {
        s.push_str("No tasks in the lake for this period.\n");
    }
    for svc in &r.services {
        let _ = write!(s, "## {}/{}\n\n", svc.cluster, svc.service);
        s.push_str(&compare_table(
            &svc.this_week,
            &svc.previous_week,
            r.current_label(),
            &r.previous.name,
        ));
        s.push_str("\n### Per revision\n\n");
        s.push_str(&revision_table(&svc.evidence.revisions));
        if !svc.stopped_by_cause.is_empty() {
            s.push_str("\n### Stopped tasks by cause\n\n");
            s.push_str(&counts_table("stop cause", &svc.stopped_by_cause));
            s.push_str("\n### Exits by kind\n\n");
            s.push_str(&counts_table("exit kind", &svc.exits_by_kind));
        }
        s.push_str("\n### Memory headroom\n\n| revision | limit MiB | peak p50 | p95 | p99 | max | headroom at p99 | OOM kills |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for m in &svc.memory {
            let p =
                |f: fn(&Spread) -> f64| m.peak.as_ref().map_or("-".into(), |s| num(f(s).round()));
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                m.revision,
                m.limit_mib.map_or("-".into(), |l| l.to_string()),
                p(|s| s.p50),
                p(|s| s.p95),
                p(|s| s.p99),
                p(|s| s.max),
                m.headroom_pct.map_or("-".into(), |h| format!("{h}%")),
                m.oom_kills
            );
        }
        s.push_str("\n### Health checks\n\n| revision | time to healthy p50 (s) | p95 (s) | tasks healthy |\n|---|---:|---:|---:|\n");
        for (rev, t) in &svc.time_to_healthy {
            let _ = writeln!(
                s,
                "| {rev} | {} | {} | {} |",
                t.map_or("-".into(), |t| num(t.p50.round())),
                t.map_or("-".into(), |t| num(t.p95.round())),
                t.map_or(0, |t| t.n)
            );
        }
        let _ = writeln!(
            s,
            "\nHealth-check failure rate: {}% of tasks ({} health-check stops).",
            svc.this_week.health_check_failure_pct, svc.this_week.health_check_stops
        );
        if !svc.deployments.is_empty() {
            s.push_str("\n### Deployments\n\n| started | deployment | revision | outcome | tasks | OOM kills | unhealthy |\n|---|---|---|---|---:|---:|---:|\n");
            for d in &svc.deployments {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {}{} | {} | {} | {} |",
                    d.started_at.map(date_time_of).unwrap_or_default(),
                    d.deployment_id,
                    d.label(),
                    d.outcome,
                    if d.is_rollback { " (rollback)" } else { "" },
                    d.tasks,
                    d.oom_kills,
                    d.unhealthy
                );
            }
        }
        if !svc.top_signatures.is_empty() {
            s.push_str("\n### Top log signatures\n\n| signature | lines |\n|---|---:|\n");
            for (sig, n) in &svc.top_signatures {
                let _ = writeln!(s, "| {sig} | {n} |");
            }
        }
        s.push_str("\n### Findings\n\n");
        if svc.findings.is_empty() {
            s.push_str("None.\n\n");
        }
        for (i, f) in svc.findings.iter().enumerate() {
            s.push_str(&finding_markdown(i + 1, f, "####"));
        }
    }
    s
}

/// The three renderings, by file name.
pub fn files(r: &Report) -> Result<Vec<(&'static str, Vec<u8>)>> {
    let json =
        serde_json::to_vec_pretty(r).map_err(|e| Error::Internal(format!("report JSON: {e}")))?;
    Ok(vec![
        ("report.md", markdown(r).into_bytes()),
        ("report.html", html::page(r).into_bytes()),
        ("report.json", json),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_weeks() {
        let w = Period::week("2026-W47").unwrap();
        assert_eq!(date_time_of(w.from), "2026-11-16T00:00:00Z");
        assert_eq!(date_time_of(w.to), "2026-11-23T00:00:00Z");
        assert_eq!(w.previous().name, "2026-W46");
        assert_eq!(date_time_of(w.previous().from), "2026-11-09T00:00:00Z");
        // Week 1 of 2027 starts on Monday 2027-01-04; 2026 has 53 weeks.
        assert_eq!(
            date_time_of(Period::week("2027-W01").unwrap().from),
            "2027-01-04T00:00:00Z"
        );
        assert_eq!(
            Period::week("2027-W01").unwrap().previous().name,
            "2026-W53"
        );
        assert_eq!(Period::week("2026-W60"), None);
        assert_eq!(Period::week("nope"), None);
        // Wednesday 2026-11-25 -> the last complete week is W47.
        let now = Period::week("2026-W48").unwrap().from + 2 * 86_400_000_000 + 5;
        assert_eq!(Period::last_week(now).name, "2026-W47");
    }

    #[test]
    fn deltas() {
        assert_eq!(delta(5.0, 3.0), "+2");
        assert_eq!(delta(1.0, 3.0), "-2");
        assert_eq!(delta(2.0, 2.0), "=");
        assert_eq!(delta(12.5, 10.0), "+2.5");
    }
}
