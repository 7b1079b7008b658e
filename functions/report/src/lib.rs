//! The `report` Lambda's work: build the weekly reliability report from the
//! lake ([`ecs_query_engine::report`], the same code as `ecs-query report`), write
//! `report.md`, `report.html` and `report.json` under
//! `reports/<week>/` in the lake, and compose the short summary that `main`
//! publishes to SNS when a topic is configured.

use std::fmt::Write as _;

use bytes::Bytes;
use ecs_lake::LakeStore;
use ecs_query_engine::Lake;
use ecs_query_engine::diagnose::evidence::Selector;
use ecs_query_engine::diagnose::findings::Severity;
use ecs_query_engine::report::{self, Period, Report};
use serde::{Deserialize, Serialize};
use tracing::info;

/// The invocation's input: a scheduled event (any JSON; its fields are
/// ignored), or `{"week": "2026-W47"}` to (re)build one week by hand.
#[derive(Debug, Default, Deserialize)]
pub struct Request {
    pub week: Option<String>,
    pub service: Option<String>,
}

/// What one invocation wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Written {
    pub week: String,
    pub keys: Vec<String>,
    pub services: usize,
    pub findings: usize,
    pub critical: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{0:?} is not an ISO week: send {{\"week\": \"2026-W47\"}} or nothing for last week")]
    BadWeek(String),
    #[error("building the report: {0}")]
    Build(#[from] ecs_query_engine::Error),
    #[error("writing {key}: {message}")]
    Write { key: String, message: String },
}

/// The week a request asks for: its `week`, else the last complete ISO week before `now`.
pub fn period(request: &Request, now_micros: i64) -> Result<Period, ReportError> {
    match &request.week {
        Some(w) => Period::week(w).ok_or_else(|| ReportError::BadWeek(w.clone())),
        None => Ok(Period::last_week(now_micros)),
    }
}

/// Builds the report for `period` and writes its three files to
/// `reports/<period>/` in `store` (the lake's bucket and prefix).
pub async fn write_report<S: LakeStore>(
    lake: &Lake,
    store: &S,
    period: &Period,
    selector: &Selector,
) -> Result<(Report, Written), ReportError> {
    let report = report::build(lake, period, selector).await?;
    let mut keys = Vec::new();
    for (name, body) in report::files(&report)? {
        let key = format!("reports/{}/{name}", period.name);
        store
            .put(&key, Bytes::from(body))
            .await
            .map_err(|e| ReportError::Write {
                key: key.clone(),
                message: e.to_string(),
            })?;
        keys.push(key);
    }
    let findings = report.services.iter().flat_map(|s| &s.findings);
    let written = Written {
        week: period.name.clone(),
        keys,
        services: report.services.len(),
        findings: findings.clone().count(),
        critical: findings
            .filter(|f| f.severity == Severity::Critical)
            .count(),
    };
    info!(week = %written.week, services = written.services, findings = written.findings, critical = written.critical, "report written");
    Ok((report, written))
}

/// The SNS subject and message: the week's totals, the critical findings
/// (at most ten), and where the full report is.
pub fn summary(report: &Report, location: &str) -> (String, String) {
    let t = &report.totals;
    let critical: Vec<(String, String)> = report
        .services
        .iter()
        .flat_map(|s| {
            s.findings
                .iter()
                .filter(|f| f.severity == Severity::Critical)
                .map(move |f| (format!("{}/{}", s.cluster, s.service), f.title_text()))
        })
        .collect();
    let mut subject = format!(
        "ECS {}: {} OOM kills, {} health-check stops, {} failed deployments",
        report.period.name, t.oom_kills, t.health_check_stops, t.failed_deployments
    );
    // SNS subjects are at most 100 characters.
    subject.truncate(100);
    let mut message = format!(
        "{}\n{} to {}\n\n{} tasks, {} stopped; {} OOM kills, {} stop-timeout kills, {} health-check stops ({}%), {} application errors, {} start failures; {} deployments, {} failed.\n",
        report.title,
        report.from,
        report.to,
        t.tasks,
        t.stopped,
        t.oom_kills,
        t.stop_timeout_kills,
        t.health_check_stops,
        t.health_check_failure_pct,
        t.app_errors,
        t.failed_to_start,
        t.deployments,
        t.failed_deployments
    );
    if critical.is_empty() {
        message.push_str("\nNo critical findings.\n");
    } else {
        let _ = writeln!(message, "\nCritical findings ({}):", critical.len());
        for (service, title) in critical.iter().take(10) {
            let _ = writeln!(message, "- {service}: {title}");
        }
        if critical.len() > 10 {
            let _ = writeln!(message, "- ... and {} more", critical.len() - 10);
        }
    }
    let _ = writeln!(
        message,
        "\nFull report: {location}/reports/{}/report.html",
        report.period.name
    );
    (subject, message)
}
