//! Lowering: [`Query`] -> a DataFusion logical plan (a [`DataFrame`]).
//!
//! Values from the query only ever become literals ([`lit`]), never SQL
//! text. The window becomes a [`Scope`] on every raw scan, so `dt`
//! partitions outside it are pruned. Each metric is a headline aggregate
//! over one base (per-task summary, per-deployment summary, or log lines
//! joined to their task), and grouped answers carry the correlated columns
//! beside it: tasks, stops, OOM kills, stop-timeout kills, health-check
//! failures and the memory peak against the limit.
//!
//! The bases' columns are named by constants, never literals: the summaries'
//! ([`tasks_col`], [`deployments_col`]) and the `logs` table's (its `col`
//! module imported as `logs`); the answer's own columns (the measures, `day`,
//! `hour`, `container` on tasks) are named here, where they are made.

use datafusion::arrow::datatypes::DataType;
use datafusion::functions::expr_fn::{date_trunc, round};
use datafusion::functions_aggregate::expr_fn::percentile_cont;
use datafusion::functions_aggregate::expr_fn::{count, count_distinct, max, median, min, sum};
use datafusion::logical_expr::{Like, SortExpr};
use datafusion::prelude::{DataFrame, Expr, SessionContext, cast, col, lit, when};
use ecs_lake::classify::{ExitKind, StopCause};
use ecs_lake::schema;
use ecs_lake::schema::logs::col as logs;
use ecs_lake::sources::logs::signature::Signature;

use super::ast::{Dim, Filter, Metric, Query, Window};
use crate::summary::{
    self, DeploymentOutcome, Scope, count_if, deployments_col, is_health_check_stop, is_oom,
    qualified, tasks_col,
};

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
            Metric::Logs(_) | Metric::HeapOom => Base::Logs,
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
            Base::Tasks => tasks_col::time,
            Base::Deployments => deployments_col::started_at,
            Base::Logs => logs::time,
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
///
/// A column several bases have is named by its `tasks_col` constant: the
/// deployments summary and the log-line base name the columns they share
/// with the tasks summary alike, and [`Base::check`] has refused the
/// dimensions a base lacks.
fn group_columns(dim: Dim, base: Base) -> Vec<Expr> {
    let day = |unit: &str| date_trunc(lit(unit), col(base.time())).alias(unit);
    match dim {
        Dim::Revision => vec![col(tasks_col::family), col(tasks_col::revision)],
        Dim::Family => vec![col(tasks_col::family)],
        Dim::Service => vec![col(tasks_col::cluster), col(tasks_col::service)],
        Dim::Cluster => vec![col(tasks_col::cluster)],
        Dim::Deployment => vec![
            col(tasks_col::service),
            col(tasks_col::deployment_id),
            col(tasks_col::revision),
        ],
        Dim::Container if base == Base::Tasks => {
            vec![col(tasks_col::exit_container).alias("container")]
        }
        Dim::Container => vec![col(logs::container)],
        Dim::Cause => vec![col(tasks_col::stop_cause)],
        Dim::ExitKind => vec![col(tasks_col::exit_kind)],
        Dim::ExitCode => vec![col(tasks_col::exit_code)],
        Dim::Day => vec![day("day")],
        Dim::Hour => vec![day("hour")],
        Dim::Az => vec![col(tasks_col::availability_zone)],
        Dim::LaunchType => vec![col(tasks_col::launch_type)],
        Dim::Image => vec![col(tasks_col::image)],
        Dim::Task => vec![
            col(tasks_col::task_id),
            col(tasks_col::service),
            col(tasks_col::revision),
        ],
        Dim::Status => vec![col(tasks_col::last_status)],
        Dim::Signature => vec![col(logs::signature)],
        Dim::Level => vec![col(logs::level)],
        Dim::Outcome => vec![col(deployments_col::outcome)],
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

/// `where field = value` as a predicate on the base's columns, named as in
/// [`group_columns`].
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
                col(tasks_col::family)
                    .eq(lit(family))
                    .and(col(tasks_col::revision).eq(lit(n)))
            }
            None => int(tasks_col::revision)?,
        },
        Dim::ExitCode => int(tasks_col::exit_code)?,
        Dim::Family => text(tasks_col::family),
        Dim::Service => text(tasks_col::service),
        Dim::Cluster => text(tasks_col::cluster),
        Dim::Deployment => text(tasks_col::deployment_id),
        Dim::Container if base == Base::Tasks => text(tasks_col::exit_container),
        Dim::Container => text(logs::container),
        Dim::Cause => lower(tasks_col::stop_cause),
        Dim::ExitKind => lower(tasks_col::exit_kind),
        Dim::Az => text(tasks_col::availability_zone),
        Dim::LaunchType => upper(tasks_col::launch_type),
        Dim::Image => text(tasks_col::image),
        // A task id, or its ARN.
        Dim::Task => col(tasks_col::task_id).eq(lit(v.rsplit('/').next().unwrap_or(v))),
        Dim::Status => upper(tasks_col::last_status),
        Dim::Signature => lower(logs::signature),
        Dim::Level => lower(logs::level),
        Dim::Outcome => lower(deployments_col::outcome),
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

/// Answer columns that [`sort_key`] ranks by, far from where they are made.
const MEM_PEAK_PCT: &str = "mem_peak_pct";
const CPU_PEAK_PCT: &str = "cpu_peak_pct";

/// The log-line base's flag for a line of a task the OOM killer ended.
const LINE_OF_OOM_KILLED_TASK: &str = "oom";

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
    let health_stop = is_health_check_stop(tasks_col::stop_cause);
    let unhealthy = count_if(col(tasks_col::health_check_failed)).alias("unhealthy");
    let stops = count(col(tasks_col::stopped_at)).alias("stops");
    let mut headline = match metric {
        Metric::Exit(code) => {
            vec![count_if(col(tasks_col::exit_code).eq(lit(*code))).alias(format!("exit_{code}"))]
        }
        Metric::Exits => vec![
            count(col(tasks_col::exit_code)).alias("exits"),
            count_if(col(tasks_col::exit_code).not_eq(lit(0i32))).alias("nonzero_exits"),
        ],
        Metric::Stops => vec![stops.clone()],
        Metric::Oom => vec![oom.clone()],
        Metric::Restarts => vec![
            count_if(col(tasks_col::stop_cause).in_list(
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
            sum(col(tasks_col::unhealthy_samples)).alias("unhealthy_samples"),
        ],
        Metric::TimeToHealthy if per_task => {
            vec![r1(max(col(tasks_col::seconds_to_healthy))).alias("s_to_healthy")]
        }
        Metric::TimeToHealthy => vec![
            r1(median(col(tasks_col::seconds_to_healthy))).alias("p50_s_to_healthy"),
            r1(p(tasks_col::seconds_to_healthy, 0.95)).alias("p95_s_to_healthy"),
            r1(max(col(tasks_col::seconds_to_healthy))).alias("max_s_to_healthy"),
            count(col(tasks_col::seconds_to_healthy)).alias("healthy_tasks"),
        ],
        Metric::MemoryPeak if per_task => vec![
            max(col(tasks_col::memory_peak)).alias("mem_peak_mib"),
            max(col(tasks_col::memory_limit)).alias("mem_limit_mib"),
            max(col(tasks_col::memory_peak_pct)).alias(MEM_PEAK_PCT),
        ],
        Metric::MemoryPeak => vec![
            r1(p(tasks_col::memory_peak, 0.5)).alias("mem_peak_p50_mib"),
            r1(p(tasks_col::memory_peak, 0.95)).alias("mem_peak_p95_mib"),
            max(col(tasks_col::memory_peak)).alias("mem_peak_mib"),
            max(col(tasks_col::memory_limit)).alias("mem_limit_mib"),
            max(col(tasks_col::memory_peak_pct)).alias(MEM_PEAK_PCT),
        ],
        Metric::CpuPeak if per_task => vec![
            r1(max(col(tasks_col::cpu_peak))).alias("cpu_peak_units"),
            max(col(tasks_col::cpu)).alias("cpu_units"),
            max(col(tasks_col::cpu_peak_pct)).alias(CPU_PEAK_PCT),
        ],
        Metric::CpuPeak => vec![
            r1(p(tasks_col::cpu_peak, 0.5)).alias("cpu_peak_p50_units"),
            r1(p(tasks_col::cpu_peak, 0.95)).alias("cpu_peak_p95_units"),
            r1(max(col(tasks_col::cpu_peak))).alias("cpu_peak_units"),
            max(col(tasks_col::cpu)).alias("cpu_units"),
            max(col(tasks_col::cpu_peak_pct)).alias(CPU_PEAK_PCT),
        ],
        Metric::Deployments | Metric::Logs(_) | Metric::HeapOom => Vec::new(),
    };
    let correlated = [
        count(col(tasks_col::task_id)).alias("tasks"),
        stops,
        oom,
        count_if(col(tasks_col::exit_kind).eq(lit(ExitKind::SigkillAfterStopTimeout.as_str())))
            .alias("stop_timeout_kills"),
        unhealthy,
        max(col(tasks_col::memory_peak)).alias("mem_peak_mib"),
        max(col(tasks_col::memory_limit)).alias("mem_limit_mib"),
        max(col(tasks_col::memory_peak_pct)).alias(MEM_PEAK_PCT),
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

fn logs_measures(metric: &Metric) -> Vec<Expr> {
    let heap_ooms = (metric == &Metric::HeapOom)
        .then(|| count_distinct(col(logs::task_id)).alias("heap_oom_tasks"));
    heap_ooms
        .into_iter()
        .chain([
            count(lit(1i64)).alias("lines"),
            count_distinct(col(logs::task_id)).alias("tasks"),
            count_distinct(
                when(col(LINE_OF_OOM_KILLED_TASK), col(logs::task_id))
                    .end()
                    .unwrap_or(lit("")),
            )
            .alias("tasks_oom_killed"),
            min(col(logs::time)).alias("first_at"),
            max(col(logs::time)).alias("last_at"),
        ])
        .collect()
}

fn deployment_measures() -> Vec<Expr> {
    vec![
        count(col(deployments_col::deployment_id)).alias("deployments"),
        count_if(col(deployments_col::outcome).eq(lit(DeploymentOutcome::RolledBack.as_str())))
            .alias("rolled_back"),
        count_if(col(deployments_col::outcome).eq(lit(DeploymentOutcome::Failed.as_str())))
            .alias("failed"),
        sum(col(deployments_col::tasks)).alias("tasks"),
        sum(col(deployments_col::oom_kills)).alias("oom_kills"),
        sum(col(deployments_col::unhealthy)).alias("unhealthy"),
        max(col(deployments_col::memory_peak_max_pct)).alias(MEM_PEAK_PCT),
    ]
}

/// The columns of `deployments` listed when no dimension is asked for.
const DEPLOYMENT_LISTING: &[&str] = &[
    deployments_col::started_at,
    deployments_col::cluster,
    deployments_col::service,
    deployments_col::deployment_id,
    deployments_col::family,
    deployments_col::revision,
    deployments_col::outcome,
    deployments_col::is_rollback,
    deployments_col::ended_at,
    deployments_col::tasks,
    deployments_col::stopped,
    deployments_col::oom_kills,
    deployments_col::unhealthy,
    deployments_col::memory_limit,
    deployments_col::memory_peak_max,
    deployments_col::memory_peak_max_pct,
    deployments_col::median_seconds_to_healthy,
];

/// Log lines in the window (containing `text`, case-insensitive, when
/// given), each with its task's identity and fate.
async fn logs_base(
    ctx: &SessionContext,
    text: Option<&str>,
    scope: Scope,
) -> Result<DataFrame, LowerError> {
    let mut lines = summary::scan_table(ctx, &schema::logs::DEF, scope).await?;
    if let Some(text) = text {
        let escaped = text
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        lines = lines.filter(Expr::Like(Like::new(
            false,
            Box::new(col(logs::message)),
            Box::new(lit(format!("%{escaped}%"))),
            Some('\\'),
            true,
        )))?;
    }
    let lines = lines
        .select_columns(&[
            logs::time,
            logs::task_id,
            logs::container,
            logs::signature,
            logs::level,
            logs::cluster,
            logs::family,
            logs::revision,
        ])?
        .alias("l")?;
    let tasks = summary::tasks(ctx, scope).await?.alias("t")?;
    // The line's own columns keep the `logs` names, its task's the `tasks`
    // names; where both have one (cluster, family, revision: the same names),
    // the line's wins.
    let from_line = |c: &str| col(qualified("l", c)).alias(c);
    let coalesced = |line: &str, task: &str| {
        datafusion::functions::expr_fn::coalesce(vec![
            col(qualified("l", line)),
            col(qualified("t", task)),
        ])
        .alias(line)
    };
    let from_task = |c: &str| col(qualified("t", c)).alias(c);
    Ok(lines
        .join(
            tasks,
            datafusion::logical_expr::JoinType::Left,
            &[logs::task_id],
            &[tasks_col::task_id],
            None,
        )?
        .select(vec![
            from_line(logs::time),
            from_line(logs::task_id),
            from_line(logs::container),
            from_line(logs::signature),
            from_line(logs::level),
            coalesced(logs::cluster, tasks_col::cluster),
            coalesced(logs::family, tasks_col::family),
            coalesced(logs::revision, tasks_col::revision),
            from_task(tasks_col::service),
            from_task(tasks_col::deployment_id),
            from_task(tasks_col::stop_cause),
            from_task(tasks_col::exit_kind),
            from_task(tasks_col::exit_code),
            from_task(tasks_col::availability_zone),
            from_task(tasks_col::launch_type),
            from_task(tasks_col::image),
            from_task(tasks_col::last_status),
            datafusion::functions::expr_fn::coalesce(vec![
                col(qualified("t", tasks_col::stop_cause)).eq(lit(StopCause::OomKilled.as_str())),
                lit(false),
            ])
            .alias(LINE_OF_OOM_KILLED_TASK),
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
        // The runtime's own out-of-memory lines, one per dying process.
        Metric::HeapOom => logs_base(ctx, None, scope).await?.filter(
            col(logs::signature).in_list(
                Signature::RUNTIME_OOM
                    .iter()
                    .map(|s| lit(s.as_str()))
                    .collect(),
                false,
            ),
        )?,
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
            col(deployments_col::started_at).sort(true, false),
            col(deployments_col::deployment_id).sort(true, false),
        ])?;
        return Ok(match q.top {
            Some(n) => listing.limit(0, Some(n))?,
            None => listing,
        });
    }

    let measures = match base {
        Base::Tasks => task_measures(&q.metric, q.by == [Dim::Task]),
        Base::Deployments => deployment_measures(),
        Base::Logs => logs_measures(&q.metric),
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
        Metric::MemoryPeak => Some(MEM_PEAK_PCT),
        Metric::CpuPeak => Some(CPU_PEAK_PCT),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::tests::empty_lake;

    /// [`group_columns`] and [`condition`] name a column shared by several
    /// bases by its `tasks_col` constant: every dimension a base accepts must
    /// find its columns there, by and where.
    #[tokio::test]
    async fn every_dimension_of_a_base_finds_its_columns() {
        let ctx = empty_lake();
        for metric in [Metric::Stops, Metric::Deployments, Metric::Logs(None)] {
            for &dim in Base::of(&metric).dims() {
                let value = match dim {
                    Dim::Revision | Dim::ExitCode => "42",
                    Dim::Day => "2026-11-19",
                    Dim::Hour => "2026-11-19T10:00",
                    _ => "x",
                };
                let q = Query {
                    metric: metric.clone(),
                    by: vec![dim],
                    window: Window::All,
                    filters: vec![Filter {
                        field: dim,
                        negated: false,
                        value: value.into(),
                    }],
                    top: None,
                };
                if let Err(e) = lower(&ctx, &q, 0).await {
                    panic!("{metric:?} by and where {}: {e}", dim.name());
                }
            }
        }
    }
}
