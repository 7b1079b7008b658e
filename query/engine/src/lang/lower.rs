//! Lowering: [`Query`] -> a DataFusion logical plan (a [`DataFrame`]).
//!
//! Values from the query only ever become literals ([`lit`]), never SQL
//! text. The window becomes a [`Scope`] on every raw scan, so `dt`
//! partitions outside it are pruned. Each metric is a headline aggregate
//! over one base (per-task summary, per-deployment summary, or log lines
//! joined to their task), and grouped answers carry the correlated columns
//! beside it: tasks, stops, OOM kills, stop-timeout kills, health-check
//! failures and the memory peak against the limit.

use datafusion::arrow::datatypes::DataType;
use datafusion::functions::expr_fn::{date_trunc, round};
use datafusion::functions_aggregate::expr_fn::percentile_cont;
use datafusion::functions_aggregate::expr_fn::{count, count_distinct, max, median, min, sum};
use datafusion::logical_expr::{Like, SortExpr};
use datafusion::prelude::{DataFrame, Expr, SessionContext, cast, col, lit, when};
use ecs_lake::classify::{ExitKind, StopCause};

use super::ast::{Dim, Filter, Metric, Query, Window};
use crate::summary::{self, DeploymentOutcome, Scope, count_if, is_health_check_stop, is_oom};

/// A question the language can say but the lake cannot answer as asked.
#[derive(Debug, thiserror::Error)]
pub enum LowerError {
    #[error("{message}\n  hint: {hint}")]
    Unsupported { message: String, hint: String },
    #[error(transparent)]
    Plan(#[from] datafusion::error::DataFusionError),
}

/// The window as a [`Scope`], "now" given in microseconds.
pub fn scope(window: Window, now: i64) -> Scope {
    match window {
        Window::All => Scope::default(),
        Window::Last(span) => Scope {
            from: Some(now - span),
            to: Some(now + 1),
        },
        Window::Range { from, to } => Scope { from, to },
    }
}

/// Which rows a metric counts over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    Tasks,
    Deployments,
    Logs,
}

impl Base {
    fn of(metric: &Metric) -> Base {
        match metric {
            Metric::Deployments => Base::Deployments,
            Metric::Logs(_) => Base::Logs,
            _ => Base::Tasks,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Base::Tasks => "tasks",
            Base::Deployments => "deployments",
            Base::Logs => "log lines",
        }
    }

    fn dims(self) -> &'static [Dim] {
        use Dim::*;
        match self {
            Base::Tasks => &[
                Revision, Family, Service, Cluster, Deployment, Container, Cause, ExitKind,
                ExitCode, Day, Hour, Az, LaunchType, Image, Task, Status,
            ],
            Base::Deployments => &[
                Revision, Family, Service, Cluster, Deployment, Day, Hour, Outcome,
            ],
            Base::Logs => &[
                Revision, Family, Service, Cluster, Deployment, Container, Cause, ExitKind,
                ExitCode, Day, Hour, Az, LaunchType, Image, Task, Status, Signature, Level,
            ],
        }
    }

    fn time(self) -> &'static str {
        match self {
            Base::Deployments => "started_at",
            _ => "time",
        }
    }

    fn check(self, dim: Dim, how: &str) -> Result<(), LowerError> {
        if self.dims().contains(&dim) {
            return Ok(());
        }
        let names: Vec<&str> = self.dims().iter().map(|d| d.name()).collect();
        Err(LowerError::Unsupported {
            message: format!("{how} {} does not apply to {}", dim.name(), self.name()),
            hint: format!("for {} use one of: {}", self.name(), names.join(", ")),
        })
    }
}

/// The grouping columns of a dimension on a base, named for the output.
fn group_columns(dim: Dim, base: Base) -> Vec<Expr> {
    let day = |unit: &str| date_trunc(lit(unit), col(base.time())).alias(unit);
    match dim {
        Dim::Revision => vec![col("family"), col("revision")],
        Dim::Family => vec![col("family")],
        Dim::Service => vec![col("cluster"), col("service")],
        Dim::Cluster => vec![col("cluster")],
        Dim::Deployment => vec![col("service"), col("deployment_id"), col("revision")],
        Dim::Container if base == Base::Tasks => vec![col("exit_container").alias("container")],
        Dim::Container => vec![col("container")],
        Dim::Cause => vec![col("stop_cause")],
        Dim::ExitKind => vec![col("exit_kind")],
        Dim::ExitCode => vec![col("exit_code")],
        Dim::Day => vec![day("day")],
        Dim::Hour => vec![day("hour")],
        Dim::Az => vec![col("availability_zone")],
        Dim::LaunchType => vec![col("launch_type")],
        Dim::Image => vec![col("image")],
        Dim::Task => vec![col("task_id"), col("service"), col("revision")],
        Dim::Status => vec![col("last_status")],
        Dim::Signature => vec![col("signature")],
        Dim::Level => vec![col("level")],
        Dim::Outcome => vec![col("outcome")],
    }
}

fn bad_value(filter: &Filter, expected: &str) -> LowerError {
    LowerError::Unsupported {
        message: format!(
            "where {} = {:?}: not {expected}",
            filter.field.name(),
            filter.value
        ),
        hint: format!("write e.g. where {}", example(filter.field)),
    }
}

fn example(dim: Dim) -> &'static str {
    match dim {
        Dim::Revision => "revision=42 or revision=api:42",
        Dim::ExitCode => "exit code=137",
        Dim::Day => "day=2026-11-19",
        _ => "service=api",
    }
}

/// `where field = value` as a predicate on the base's columns.
fn condition(filter: &Filter, base: Base) -> Result<Expr, LowerError> {
    base.check(filter.field, "where")?;
    let v = filter.value.as_str();
    let text = |column: &str| col(column).eq(lit(v));
    let lower = |column: &str| col(column).eq(lit(v.to_lowercase()));
    let upper = |column: &str| col(column).eq(lit(v.to_uppercase()));
    let int = |column: &str| -> Result<Expr, LowerError> {
        let n: i32 = v.parse().map_err(|_| bad_value(filter, "a number"))?;
        Ok(col(column).eq(lit(n)))
    };
    let expr = match filter.field {
        Dim::Revision => match v.rsplit_once(':') {
            Some((family, rev)) => {
                let n: i32 = rev
                    .parse()
                    .map_err(|_| bad_value(filter, "family:revision"))?;
                col("family")
                    .eq(lit(family))
                    .and(col("revision").eq(lit(n)))
            }
            None => int("revision")?,
        },
        Dim::ExitCode => int("exit_code")?,
        Dim::Family => text("family"),
        Dim::Service => text("service"),
        Dim::Cluster => text("cluster"),
        Dim::Deployment => text("deployment_id"),
        Dim::Container if base == Base::Tasks => text("exit_container"),
        Dim::Container => text("container"),
        Dim::Cause => lower("stop_cause"),
        Dim::ExitKind => lower("exit_kind"),
        Dim::Az => text("availability_zone"),
        Dim::LaunchType => upper("launch_type"),
        Dim::Image => text("image"),
        // A task id, or its ARN.
        Dim::Task => col("task_id").eq(lit(v.rsplit('/').next().unwrap_or(v))),
        Dim::Status => upper("last_status"),
        Dim::Signature => lower("signature"),
        Dim::Level => lower("level"),
        Dim::Outcome => lower("outcome"),
        Dim::Day | Dim::Hour => {
            let unit = if filter.field == Dim::Day {
                "day"
            } else {
                "hour"
            };
            let start = super::parser::parse_time(v, false).ok_or_else(|| {
                bad_value(filter, "a date (2026-11-19) or time (2026-11-19T10:00)")
            })?;
            date_trunc(lit(unit), col(base.time())).eq(date_trunc(lit(unit), summary::ts(start)))
        }
    };
    Ok(if filter.negated {
        // `!=` keeps rows where the field is unknown (NULL) too: "not api" includes standalone tasks.
        datafusion::logical_expr::not(expr.clone()).or(expr.is_null())
    } else {
        expr
    })
}

fn r1(e: Expr) -> Expr {
    round(vec![cast(e, DataType::Float64), lit(1i64)])
}

fn p(column: &str, fraction: f64) -> Expr {
    percentile_cont(col(column).sort(true, false), lit(fraction))
}

/// The headline aggregates of a metric over per-task rows, then the
/// correlated ones not already among them.
fn task_measures(metric: &Metric, per_task: bool) -> Vec<Expr> {
    let oom = count_if(is_oom()).alias("oom_kills");
    let health_stop = is_health_check_stop("stop_cause");
    let unhealthy = count_if(col("health_check_failed")).alias("unhealthy");
    let stops = count(col("stopped_at")).alias("stops");
    let mut headline = match metric {
        Metric::Exit(code) => {
            vec![count_if(col("exit_code").eq(lit(*code))).alias(format!("exit_{code}"))]
        }
        Metric::Exits => vec![
            count(col("exit_code")).alias("exits"),
            count_if(col("exit_code").not_eq(lit(0i32))).alias("nonzero_exits"),
        ],
        Metric::Stops => vec![stops.clone()],
        Metric::Oom => vec![oom.clone()],
        Metric::Restarts => vec![
            count_if(col("stop_cause").in_list(
                vec![
                    lit(StopCause::EssentialContainerExited.as_str()),
                    lit(StopCause::OomKilled.as_str()),
                ],
                false,
            ))
            .alias("restarts"),
        ],
        Metric::Unhealthy => vec![
            unhealthy.clone(),
            count_if(health_stop).alias("health_check_stops"),
            sum(col("unhealthy_samples")).alias("unhealthy_samples"),
        ],
        Metric::TimeToHealthy if per_task => {
            vec![r1(max(col("seconds_to_healthy"))).alias("s_to_healthy")]
        }
        Metric::TimeToHealthy => vec![
            r1(median(col("seconds_to_healthy"))).alias("p50_s_to_healthy"),
            r1(p("seconds_to_healthy", 0.95)).alias("p95_s_to_healthy"),
            r1(max(col("seconds_to_healthy"))).alias("max_s_to_healthy"),
            count(col("seconds_to_healthy")).alias("healthy_tasks"),
        ],
        Metric::MemoryPeak if per_task => vec![
            max(col("memory_peak")).alias("mem_peak_mib"),
            max(col("memory_limit")).alias("mem_limit_mib"),
            max(col("memory_peak_pct")).alias("mem_peak_pct"),
        ],
        Metric::MemoryPeak => vec![
            r1(p("memory_peak", 0.5)).alias("mem_peak_p50_mib"),
            r1(p("memory_peak", 0.95)).alias("mem_peak_p95_mib"),
            max(col("memory_peak")).alias("mem_peak_mib"),
            max(col("memory_limit")).alias("mem_limit_mib"),
            max(col("memory_peak_pct")).alias("mem_peak_pct"),
        ],
        Metric::CpuPeak if per_task => vec![
            r1(max(col("cpu_peak"))).alias("cpu_peak_units"),
            max(col("cpu")).alias("cpu_units"),
            max(col("cpu_peak_pct")).alias("cpu_peak_pct"),
        ],
        Metric::CpuPeak => vec![
            r1(p("cpu_peak", 0.5)).alias("cpu_peak_p50_units"),
            r1(p("cpu_peak", 0.95)).alias("cpu_peak_p95_units"),
            r1(max(col("cpu_peak"))).alias("cpu_peak_units"),
            max(col("cpu")).alias("cpu_units"),
            max(col("cpu_peak_pct")).alias("cpu_peak_pct"),
        ],
        Metric::Deployments | Metric::Logs(_) => Vec::new(),
    };
    let correlated = [
        count(col("task_id")).alias("tasks"),
        stops,
        oom,
        count_if(col("exit_kind").eq(lit(ExitKind::SigkillAfterStopTimeout.as_str())))
            .alias("stop_timeout_kills"),
        unhealthy,
        max(col("memory_peak")).alias("mem_peak_mib"),
        max(col("memory_limit")).alias("mem_limit_mib"),
        max(col("memory_peak_pct")).alias("mem_peak_pct"),
    ];
    let names: Vec<String> = headline
        .iter()
        .map(|e| e.schema_name().to_string())
        .collect();
    headline.extend(
        correlated
            .into_iter()
            .filter(|e| !names.contains(&e.schema_name().to_string())),
    );
    headline
}

fn logs_measures() -> Vec<Expr> {
    vec![
        count(lit(1i64)).alias("lines"),
        count_distinct(col("task_id")).alias("tasks"),
        count_distinct(when(col("oom"), col("task_id")).end().unwrap_or(lit("")))
            .alias("tasks_oom_killed"),
        min(col("time")).alias("first_at"),
        max(col("time")).alias("last_at"),
    ]
}

fn deployment_measures() -> Vec<Expr> {
    vec![
        count(col("deployment_id")).alias("deployments"),
        count_if(col("outcome").eq(lit(DeploymentOutcome::RolledBack.as_str())))
            .alias("rolled_back"),
        count_if(col("outcome").eq(lit(DeploymentOutcome::Failed.as_str()))).alias("failed"),
        sum(col("tasks")).alias("tasks"),
        sum(col("oom_kills")).alias("oom_kills"),
        sum(col("unhealthy")).alias("unhealthy"),
        max(col("memory_peak_max_pct")).alias("mem_peak_pct"),
    ]
}

/// The columns of `deployments` listed when no dimension is asked for.
const DEPLOYMENT_LISTING: &[&str] = &[
    "started_at",
    "cluster",
    "service",
    "deployment_id",
    "family",
    "revision",
    "outcome",
    "is_rollback",
    "ended_at",
    "tasks",
    "stopped",
    "oom_kills",
    "unhealthy",
    "memory_limit",
    "memory_peak_max",
    "memory_peak_max_pct",
    "median_seconds_to_healthy",
];

/// Log lines in the window (containing `text`, case-insensitive, when
/// given), each with its task's identity and fate.
async fn logs_base(
    ctx: &SessionContext,
    text: Option<&str>,
    scope: Scope,
) -> Result<DataFrame, LowerError> {
    let mut lines = summary::scan(ctx, "logs", "time", scope).await?;
    if let Some(text) = text {
        let escaped = text
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        lines = lines.filter(Expr::Like(Like::new(
            false,
            Box::new(col("message")),
            Box::new(lit(format!("%{escaped}%"))),
            Some('\\'),
            true,
        )))?;
    }
    let lines = lines
        .select_columns(&[
            "time",
            "task_id",
            "container",
            "signature",
            "level",
            "cluster",
            "family",
            "revision",
        ])?
        .alias("l")?;
    let tasks = summary::tasks(ctx, scope).await?.alias("t")?;
    let coalesced = |c: &str| {
        datafusion::functions::expr_fn::coalesce(vec![col(format!("l.{c}")), col(format!("t.{c}"))])
            .alias(c)
    };
    let from_task = |c: &str| col(format!("t.{c}")).alias(c);
    Ok(lines
        .join(
            tasks,
            datafusion::logical_expr::JoinType::Left,
            &["task_id"],
            &["task_id"],
            None,
        )?
        .select(vec![
            col("l.time").alias("time"),
            col("l.task_id").alias("task_id"),
            col("l.container").alias("container"),
            col("l.signature").alias("signature"),
            col("l.level").alias("level"),
            coalesced("cluster"),
            coalesced("family"),
            coalesced("revision"),
            from_task("service"),
            from_task("deployment_id"),
            from_task("stop_cause"),
            from_task("exit_kind"),
            from_task("exit_code"),
            from_task("availability_zone"),
            from_task("launch_type"),
            from_task("image"),
            from_task("last_status"),
            datafusion::functions::expr_fn::coalesce(vec![
                col("t.stop_cause").eq(lit(StopCause::OomKilled.as_str())),
                lit(false),
            ])
            .alias("oom"),
        ])?)
}

/// Builds the plan answering `q`, with "now" in microseconds since the epoch.
pub async fn lower(ctx: &SessionContext, q: &Query, now: i64) -> Result<DataFrame, LowerError> {
    let base = Base::of(&q.metric);
    for dim in &q.by {
        base.check(*dim, "by")?;
    }
    let scope = scope(q.window, now);
    let mut df = match &q.metric {
        Metric::Deployments => summary::deployments(ctx, scope).await?,
        Metric::Logs(text) => logs_base(ctx, text.as_deref(), scope).await?,
        _ => summary::tasks(ctx, scope).await?,
    };
    for f in &q.filters {
        df = df.filter(condition(f, base)?)?;
    }

    let mut groups: Vec<Expr> = Vec::new();
    for dim in &q.by {
        for e in group_columns(*dim, base) {
            let name = output_name(&e);
            if !groups.iter().any(|g| output_name(g) == name) {
                groups.push(e);
            }
        }
    }
    let group_names: Vec<String> = groups.iter().map(output_name).collect();

    if base == Base::Deployments && groups.is_empty() {
        let mut listing = df.select_columns(DEPLOYMENT_LISTING)?;
        listing = listing.sort(vec![
            col("started_at").sort(true, false),
            col("deployment_id").sort(true, false),
        ])?;
        return Ok(match q.top {
            Some(n) => listing.limit(0, Some(n))?,
            None => listing,
        });
    }

    let measures = match base {
        Base::Tasks => task_measures(&q.metric, q.by == [Dim::Task]),
        Base::Deployments => deployment_measures(),
        Base::Logs => logs_measures(),
    };
    let measure_names: Vec<String> = measures.iter().map(output_name).collect();
    let headline = sort_key(&q.metric)
        .map(str::to_owned)
        .or_else(|| measure_names.first().cloned())
        .unwrap_or_default();
    // The final projection names the columns in reading order, and keeps
    // out what DataFusion may add to a group by a unique key.
    let columns: Vec<Expr> = group_names
        .iter()
        .chain(&measure_names)
        .map(|n| col(n.as_str()))
        .collect();
    let df = df.aggregate(groups, measures)?.select(columns)?;

    // Time dimensions read in time order; others worst first.
    let mut order: Vec<SortExpr> = Vec::new();
    for name in group_names.iter().filter(|n| *n == "day" || *n == "hour") {
        order.push(col(name.as_str()).sort(true, false));
    }
    order.push(col(headline.as_str()).sort(false, false));
    for name in group_names.iter().filter(|n| *n != "day" && *n != "hour") {
        order.push(col(name.as_str()).sort(true, false));
    }
    let df = df.sort(order)?;
    Ok(match q.top {
        Some(n) => df.limit(0, Some(n))?,
        None => df,
    })
}

/// The name a projected expression gets in the output.
fn output_name(e: &Expr) -> String {
    match e {
        Expr::Alias(a) => a.name.clone(),
        Expr::Column(c) => c.name.clone(),
        other => other.schema_name().to_string(),
    }
}

/// The column answers are ranked by, when not the first measure.
fn sort_key(metric: &Metric) -> Option<&'static str> {
    match metric {
        Metric::MemoryPeak => Some("mem_peak_pct"),
        Metric::CpuPeak => Some("cpu_peak_pct"),
        _ => None,
    }
}
