//! The read side's Lambda, one binary for two functions (SAM builds it
//! once; `JOB` in the environment picks the work):
//!
//! * the weekly report (`JOB` unset or `report`): build the reliability
//!   report from the lake ([`ecs_query_engine::report`], the same code as
//!   `ecs-query report`), write `report.md`, `report.html` and
//!   `report.json` under `reports/<week>/` in the lake, and compose the
//!   short summary that `main` publishes to SNS when a topic is configured;
//!   its queries run in the Lambda (DataFusion) or, for a fleet past one
//!   machine, on Amazon Athena over the same lake ([`athena_settings`]: the
//!   same plans, printed in Athena's dialect, the same report);
//! * the deployment watch (`JOB=watch`, every few minutes): [`watch`], the
//!   same loop as `ecs-query watch` ([`ecs_query_engine::watch`]), its state
//!   under `_state/watch/lambda.json`, its messages to the alert topic
//!   (always in the Lambda: an hour of the services that stopped, every few
//!   minutes, where Athena's 10 MB minimum per query would cost more than
//!   it saves).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ecs_lake::LakeStore;
use ecs_query_engine::Lake;
use ecs_query_engine::athena::{Athena, AthenaSettings};
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
    #[error("watching: {0}")]
    Watch(ecs_query_engine::Error),
    #[error(
        "{name}={value:?} is not a positive whole number: fix it in the function's environment (the template's parameters)"
    )]
    BadSetting { name: String, value: String },
    #[error(
        "{0}: fix it in the function's environment (the template sets QUERY_ENGINE from its ReportQueryEngine parameter, ATHENA_WORKGROUP and ATHENA_DATABASE to the stack's workgroup and Glue database)"
    )]
    BadEngine(String),
    #[error(
        "the report was not done after {after:?}, close to the function's timeout{}: run the week again by hand (ecs-query report --week ...), or give the function more time or memory, or set ReportQueryEngine=athena",
        .stopped.as_deref().map(|id| format!("; its running Athena query {id} was stopped")).unwrap_or_default()
    )]
    OutOfTime {
        after: Duration,
        stopped: Option<String>,
    },
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

/// One report invocation: [`write_report`] with its queries on `athena` when
/// given (put in the lake's session; the client is this invocation's, so
/// its usage, logged whether the report succeeds or not, is this report's),
/// within `time_left`: past it, the running Athena query is stopped (so it
/// is not billed on after the function is gone) and the report fails.
pub async fn report_week<S: LakeStore>(
    lake: &Lake,
    store: &S,
    athena: Option<Arc<Athena>>,
    period: &Period,
    selector: &Selector,
    time_left: Duration,
) -> Result<(Report, Written), ReportError> {
    if let Some(athena) = &athena {
        lake.use_athena(Arc::clone(athena));
    }
    let result = tokio::time::timeout(time_left, write_report(lake, store, period, selector)).await;
    let mut stopped = None;
    if let Some(athena) = &athena {
        if result.is_err() {
            stopped = athena
                .stop()
                .await
                .inspect_err(|e| tracing::error!(error = %e, "stopping the running Athena query"))
                .ok()
                .flatten();
        }
        let usage = athena.usage();
        info!(
            queries = usage.queries,
            bytes_scanned = usage.bytes_scanned,
            bytes_billed = usage.bytes_billed,
            cost_usd = usage.cost_usd(),
            "the report's queries on Athena"
        );
    }
    result.map_err(|_| ReportError::OutOfTime {
        after: time_left,
        stopped,
    })?
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

/// The watch's state in the lake is kept under this name (`ecs-query watch
/// --state lambda` takes over from the function).
pub const WATCH_STATE: &str = "lambda";

/// What one watch invocation did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Watched {
    /// Services with abnormal stops since the last evaluation.
    pub services: Vec<String>,
    /// Messages published (or, without a topic, only logged).
    pub sent: Vec<String>,
    /// Messages over the rate limit, for a later evaluation.
    pub held: usize,
    /// Alerts open after it.
    pub open: usize,
}

/// The watch's settings from the function's environment
/// (`WATCH_WINDOW_MINUTES`, `WATCH_MIN_STOPS`, `WATCH_PER_SERVICE_PER_HOUR`),
/// the defaults where one is unset; a value that is not a positive number
/// is an error naming it.
pub fn watch_settings(
    var: impl Fn(&str) -> Option<String>,
) -> Result<ecs_query_engine::watch::Settings, ReportError> {
    let mut settings = ecs_query_engine::watch::Settings::default();
    let number = |name: &str| -> Result<Option<i64>, ReportError> {
        match var(name).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n > 0 => Ok(Some(n)),
                _ => Err(ReportError::BadSetting {
                    name: name.to_owned(),
                    value: v,
                }),
            },
        }
    };
    if let Some(m) = number("WATCH_WINDOW_MINUTES")? {
        settings.window = m * 60_000_000;
    }
    if let Some(n) = number("WATCH_MIN_STOPS")? {
        settings.min_stops = n as usize;
    }
    if let Some(n) = number("WATCH_PER_SERVICE_PER_HOUR")? {
        settings.per_service_per_hour = n as usize;
    }
    Ok(settings)
}

/// Which engine answers the report's queries, from the function's
/// environment: `QUERY_ENGINE` unset, empty or `datafusion` is the Lambda's
/// own DataFusion (`None`); `athena` is Amazon Athena over the same lake, in
/// the workgroup `ATHENA_WORKGROUP` (`primary` when unset) and the Glue
/// database `ATHENA_DATABASE` (required), results where `ATHENA_OUTPUT` says
/// or, when unset, where the workgroup says.
pub fn athena_settings(
    var: impl Fn(&str) -> Option<String>,
) -> Result<Option<AthenaSettings>, ReportError> {
    let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    match set("QUERY_ENGINE").as_deref().map(str::trim) {
        None | Some("datafusion") => Ok(None),
        Some("athena") => Ok(Some(AthenaSettings {
            workgroup: set("ATHENA_WORKGROUP").unwrap_or_else(|| "primary".to_owned()),
            database: set("ATHENA_DATABASE").ok_or_else(|| {
                ReportError::BadEngine(
                    "QUERY_ENGINE=athena needs ATHENA_DATABASE, the Glue database of the lake's tables".to_owned(),
                )
            })?,
            output_location: set("ATHENA_OUTPUT"),
        })),
        Some(other) => Err(ReportError::BadEngine(format!(
            "QUERY_ENGINE={other:?} is not an engine: set datafusion or athena"
        ))),
    }
}

/// Where the watch's messages go: the SNS topic, and a chat webhook (its
/// URL read from Secrets Manager for this invocation).
#[derive(Default)]
pub struct Outlets<'a> {
    pub sns: Option<(&'a aws_sdk_sns::Client, &'a str)>,
    pub webhook: Option<(&'a reqwest::Client, &'a str)>,
}

/// One watch evaluation at `now`: reads the state, evaluates, publishes
/// each message to the SNS topic when given, records it, posts it to the
/// webhook when given, and saves the state. A webhook that fails does not
/// stop the others: the invocation fails once the state is saved (the
/// errors alarm says so), and those messages are not posted again. A message that fails to publish stops the invocation
/// after the state of those before it is saved: it is tried again at the
/// next evaluation (at least once: a crash between publishing and saving
/// sends it again).
pub async fn watch(
    lake: &Lake,
    outlets: &Outlets<'_>,
    now: i64,
    settings: &ecs_query_engine::watch::Settings,
) -> Result<Watched, ReportError> {
    use ecs_query_engine::watch::{self, State};
    let store = lake.store();
    let mut state = State::load(&store, WATCH_STATE)
        .await
        .map_err(ReportError::Watch)?;
    let evaluation = watch::evaluate(lake, &state, now, settings)
        .await
        .map_err(ReportError::Watch)?;
    let mut sent = Vec::new();
    let mut webhook_failure = None;
    for alert in &evaluation.alerts {
        if let Some((client, topic)) = outlets.sns
            && let Err(e) = watch::publish(client, topic, alert).await
        {
            state
                .save(&store, WATCH_STATE)
                .await
                .map_err(ReportError::Watch)?;
            return Err(ReportError::Watch(e));
        }
        info!(status = alert.status.as_str(), key = %alert.key, title = %alert.title, "watch message");
        state.record(alert, evaluation.now);
        sent.push(alert.headline());
        if let Some((http, url)) = outlets.webhook
            && let Err(e) = watch::post_webhook(http, url, alert).await
        {
            tracing::error!(key = %alert.key, error = %e, "webhook post failed");
            webhook_failure.get_or_insert(e);
        }
    }
    for held in &evaluation.held {
        tracing::warn!(key = %held.key, limit = settings.per_service_per_hour, "held by the rate limit");
    }
    state.finish(&evaluation);
    state
        .save(&store, WATCH_STATE)
        .await
        .map_err(ReportError::Watch)?;
    if let Some(e) = webhook_failure {
        return Err(ReportError::Watch(e));
    }
    Ok(Watched {
        services: evaluation.services,
        sent,
        held: evaluation.held.len(),
        open: state.open.len(),
    })
}
