//! Diagnosis of a service (`ecs-query diagnose <service> [window]`):
//! findings ranked by impact, each with its evidence and a concrete
//! recommendation.
//!
//! [`evidence`] reads the lake (DataFusion plans over the same summaries as
//! the query language) into plain values per service and revision;
//! [`findings`] turns them into findings (data: kinds, facts and
//! recommendations with their figures) with pure rules; [`recommend`]
//! holds the sizing tables and heap flags; [`prose`] puts findings into
//! words, and this module renders a diagnosis as Markdown. The weekly
//! report ([`crate::report`]) uses the same evidence and findings.

pub mod evidence;
pub mod findings;
pub mod patch;
pub mod prose;
pub mod recommend;

use std::fmt::Write as _;

use ecs_lake::classify::ExitKind;
use serde::Serialize;

use crate::error::Result;
use crate::lake::Lake;
use crate::lang::{Window, lower, parser};
use crate::summary::Scope;
use ecs_lake::time::date_time_of;
use evidence::{DeploymentRow, RevisionStats, Selector, ServiceEvidence};
use findings::Finding;

/// The default window of `diagnose`: the last seven days.
const DEFAULT_DAYS: i64 = 7;

/// One service's diagnosis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnosis {
    pub cluster: String,
    pub service: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub tasks: usize,
    pub stopped: usize,
    pub findings: Vec<Finding>,
    pub revisions: Vec<RevisionStats>,
    pub deployments: Vec<DeploymentRow>,
}

impl Diagnosis {
    pub fn of(svc: &ServiceEvidence, scope: Scope) -> Diagnosis {
        Diagnosis {
            cluster: svc.cluster.clone(),
            service: svc.service.clone(),
            from: scope.from.map(date_time_of),
            to: scope.to.map(date_time_of),
            tasks: svc.tasks(),
            stopped: svc.stopped(),
            findings: findings::findings(svc),
            revisions: svc.revisions.clone(),
            deployments: svc.deployments.clone(),
        }
    }
}

/// The diagnoses of the services `selector` matches (one per cluster).
pub async fn diagnose(lake: &Lake, selector: &Selector, scope: Scope) -> Result<Vec<Diagnosis>> {
    let services = evidence::gather(&lake.ctx, scope, selector).await?;
    Ok(services.iter().map(|s| Diagnosis::of(s, scope)).collect())
}

/// The window of a `diagnose` command line: its words, or the last 7 days.
pub fn scope_of(words: &[String], now: i64) -> Result<Scope> {
    let window = match parser::parse_window(&words.join(" "))? {
        Window::All if words.is_empty() => Window::Last(DEFAULT_DAYS * 86_400_000_000),
        w => w,
    };
    Ok(lower::scope(window, now))
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

/// The per-revision overview table.
pub fn revision_table(revisions: &[RevisionStats]) -> String {
    let mut s = String::from(
        "| revision | tasks | stopped | OOM kills | stop-timeout kills | health-check stops | app errors | memory peak p95 / limit (MiB) | time to healthy p50 (s) |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in revisions {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} / {} | {} |",
            r.label,
            r.tasks,
            r.stopped,
            r.oom_kills,
            r.stop_timeout_kills,
            r.health_check_stops,
            r.kind(ExitKind::AppError),
            opt(r.memory_peak.map(|p| p.p95.round())),
            opt(r.memory_limit),
            opt(r.time_to_healthy.map(|t| t.p50.round())),
        );
    }
    s
}

/// One finding as Markdown, numbered.
pub fn finding_markdown(n: usize, f: &Finding, heading: &str) -> String {
    let mut s = format!("{heading} {n}. [{}] {}\n\n", f.severity.as_str(), f.title);
    s.push_str("Evidence:\n");
    for e in &f.evidence {
        let _ = writeln!(s, "- {e}");
    }
    if !f.recommendations.is_empty() {
        s.push_str("\nWhat to change:\n");
        for r in &f.recommendations {
            let _ = writeln!(s, "- {r}");
        }
    }
    for p in &f.patches {
        let _ = writeln!(
            s,
            "\nPatch ({}):\n\n```json\n{}\n```\n\n```sh\n{}\n```",
            p.what,
            serde_json::to_string_pretty(&p.fragment).unwrap_or_default(),
            p.commands.join("\n")
        );
    }
    if !f.example_tasks.is_empty() {
        let ids: Vec<String> = f.example_tasks.iter().map(|t| format!("`{t}`")).collect();
        let _ = writeln!(
            s,
            "\nExample tasks: {} (`ecs-query timeline {}`)",
            ids.join(", "),
            f.example_tasks[0]
        );
    }
    s.push('\n');
    s
}

/// A diagnosis as Markdown (also what a terminal shows).
pub fn markdown(d: &Diagnosis) -> String {
    let mut s = format!(
        "# Diagnosis of {}/{} ({} to {})\n\n{} tasks, {} stopped. ",
        d.cluster,
        d.service,
        d.from.as_deref().unwrap_or("the beginning"),
        d.to.as_deref().unwrap_or("now"),
        d.tasks,
        d.stopped
    );
    match d.findings.len() {
        0 => s.push_str("No findings: no OOM kills, health-check stops, crash loops, stop-timeout kills, failed deployments or start failures.\n\n"),
        1 => s.push_str("1 finding.\n\n"),
        n => {
            let _ = write!(s, "{n} findings, most important first.\n\n");
        }
    }
    s.push_str(&revision_table(&d.revisions));
    s.push('\n');
    for (i, f) in d.findings.iter().enumerate() {
        s.push_str(&finding_markdown(i + 1, f, "##"));
    }
    s
}
