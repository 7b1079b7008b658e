//! `ecs-query backfill --from-aws`: what AWS still holds, read into the lake
//! by the same code the poll-health Lambda captures configuration with
//! (`ecs_lake_capture`), through the same ingest as `ecs-query ingest`.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use ecs_lake::time::now_micros;
use ecs_lake_capture::backfill::{self, Clients, Plan, Report};
use ecs_query_engine::lang::{Window, parser};
use indicatif::{ProgressBar, ProgressStyle};

use crate::backfill::open_store;
use crate::cli::{BackfillArgs, LakeArgs};
use crate::error::CliError;

/// Attempts per AWS call: throttled calls are retried with backoff, the
/// client slowing itself down (adaptive mode).
const MAX_ATTEMPTS: u32 = 10;

pub async fn run(
    lake_args: &LakeArgs,
    args: &BackfillArgs,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let now = now_micros();
    let since = since(&args.since, now)?;
    let store = open_store(lake_args).await?;
    // The API clients: the lake's profile and region, not its S3 endpoint
    // override (service endpoints come from AWS_ENDPOINT_URL_<SERVICE>).
    let mut config = lake_args.config();
    config.endpoint_url = None;
    let sdk = config
        .sdk_config()
        .await
        .into_builder()
        .retry_config(
            RetryConfig::adaptive()
                .with_max_attempts(MAX_ATTEMPTS)
                .with_initial_backoff(Duration::from_millis(200)),
        )
        .build();
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    let plan = Plan {
        clusters: args.clusters.clone(),
        since,
        now,
        log_group_prefixes: args.log_group_prefixes.clone(),
        logs: !args.no_logs,
    };
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    } else {
        ProgressBar::hidden()
    };
    let progress = |what: &str| bar.set_message(what.to_owned());
    let clients = Clients {
        ecs: &ecs,
        elb: &elb,
        logs: &logs,
    };
    let report = backfill::run(clients, &store, &plan, &progress).await;
    bar.finish_and_clear();
    print_report(&report, &lake_args.lake, out)?;
    let failures: Vec<String> = report
        .failures
        .iter()
        .map(ToString::to_string)
        .chain(report.configuration.failures.iter().cloned())
        .collect();
    match failures.first() {
        None => Ok(()),
        Some(first) => Err(CliError::Incomplete {
            count: failures.len(),
            first: first.clone(),
            // The capture's failures are `<call> <what>: <the SDK's error>`.
            hint: if report.failures.iter().any(|f| f.is_denied())
                || report
                    .configuration
                    .failures
                    .iter()
                    .any(|f| f.contains("AccessDenied"))
            {
                "allow the denied actions (README, `backfill --from-aws`), then re-run: what was read is not read again"
            } else {
                "re-run the same command: what was read is not read again"
            },
        }),
    }
}

/// `--since`: a duration back from now (`30d`) or a time (`2026-11-01`).
fn since(text: &str, now: i64) -> Result<i64, CliError> {
    let bad = || CliError::Usage {
        message: format!("--since {text:?} is neither a duration nor a time"),
        hint: "pass e.g. --since 30d, --since 12h or --since 2026-11-01",
    };
    if let Ok(Window::Last(us)) = parser::parse_window(&format!("last {text}")) {
        return Ok(now - us);
    }
    match parser::parse_window(&format!("since {text}")) {
        Ok(Window::Range {
            from: Some(from), ..
        }) => Ok(from),
        _ => Err(bad()),
    }
}

fn print_report(r: &Report, lake: &str, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "read from AWS into {lake}: {} cluster(s)",
        r.clusters.len()
    )?;
    writeln!(
        out,
        "  tasks              {} described, {} new states written",
        r.tasks_described, r.tasks_written
    )?;
    let c = &r.configuration;
    writeln!(
        out,
        "  configuration      {} task definitions, {} services, {} target groups, {} deployments, {} service revisions ({} calls)",
        c.task_definitions,
        c.services,
        c.target_groups,
        c.service_deployments,
        c.service_revisions,
        c.calls
    )?;
    for g in &r.log_groups {
        writeln!(
            out,
            "  log group          {}: {} events in {} window(s){}",
            g.group,
            g.events,
            g.windows,
            if g.windows_done_before > 0 {
                format!(", {} window(s) read before", g.windows_done_before)
            } else {
                String::new()
            }
        )?;
    }
    writeln!(out, "  quarantined        {}", r.quarantined)?;
    for (table, rows) in &r.rows {
        writeln!(
            out,
            "  {:<18} {rows} rows",
            ecs_lake::schema::sql_name_of(table)
        )?;
    }
    for f in &r.failures {
        writeln!(out, "  failed             {f}")?;
    }
    for f in &c.failures {
        writeln!(out, "  failed             configuration: {f}")?;
    }
    Ok(())
}
