//! The per-task and per-deployment summaries, built as DataFusion logical
//! plans over the raw tables.
//!
//! The same builders serve two callers: `ecs-query sql` sees them as the
//! views `tasks` and `deployments` (whole lake), and the query language
//! builds them again for a window ([`Scope`]), so every raw scan carries the
//! window as a `dt` range (partition pruning) and a time range (row-group
//! statistics), and reads only the columns named here.
//!
//! Derived, never stored: rebuilding them is re-running the plan, and the
//! tests hold them to the simulator's ground truth.
//!
//! Columns of the lake and of the summaries are named by constants, so that a
//! misspelled name fails to compile: a lake column is its table's generated
//! constant, each table's `col` module imported under the table's name
//! (`task_events::stop_cause` reads as SQL's `task_events.stop_cause`), and
//! the summaries' own are declared once, in [`tasks_col`] and
//! [`deployments_col`]. A name one plan gives and reads a few lines on (a
//! join side's rename) stays a literal.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::functions::expr_fn::coalesce;
use datafusion::functions_aggregate::expr_fn::{
    bool_or, count, max, median, min, percentile_cont, sum,
};
use datafusion::logical_expr::{ExprFunctionExt, JoinType};
use datafusion::prelude::{DataFrame, Expr, SessionContext, cast, col, lit, when};
use ecs_lake::classify::{ExitKind, StopCause};
use ecs_lake::schema::container_events::col as container_events;
use ecs_lake::schema::health::col as health;
use ecs_lake::schema::metrics::col as metrics;
use ecs_lake::schema::service_events::col as service_events;
use ecs_lake::schema::task_events::col as task_events;
use ecs_lake::schema::{self, PARTITION_COLUMN, TableDef};
use ecs_lake::time::date_of;

use crate::listing::LakeTable;

/// The time range a question looks at: `[from, to)`, microseconds since the
/// epoch, UTC. Both open: the whole lake.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scope {
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// A timestamp literal in the lake's type (`Timestamp(µs, "UTC")`).
pub fn ts(micros: i64) -> Expr {
    lit(ScalarValue::TimestampMicrosecond(
        Some(micros),
        Some("UTC".into()),
    ))
}

impl Scope {
    /// The window as a predicate on `time_col`, with the matching `dt` range
    /// so whole days outside it are never listed or opened.
    pub fn predicate(&self, time_col: &str) -> Option<Expr> {
        let mut parts = Vec::new();
        if let Some(from) = self.from {
            parts.push(col(PARTITION_COLUMN).gt_eq(lit(date_of(from))));
            parts.push(col(time_col).gt_eq(ts(from)));
        }
        if let Some(to) = self.to {
            parts.push(col(PARTITION_COLUMN).lt_eq(lit(date_of(to - 1))));
            parts.push(col(time_col).lt(ts(to)));
        }
        parts.into_iter().reduce(Expr::and)
    }
}

/// One lake table restricted to the window on its declared time column
/// (the table's name and time column come from one declaration).
pub async fn scan_table(ctx: &SessionContext, table: &TableDef, scope: Scope) -> Result<DataFrame> {
    let df = ctx.table(table.sql_name()).await?;
    match scope.predicate(table.time_column) {
        Some(p) => df.filter(p),
        None => Ok(df),
    }
}

/// `relation.column`: a column of a plan aliased as `relation` (`t.stop_cause`
/// after `.alias("t")`), for `col` and for join keys.
pub fn qualified(relation: &str, column: &str) -> String {
    format!("{relation}.{column}")
}

/// The largest value of a column, under the column's own name: the
/// aggregate that keeps a per-task (or per-group) attribute through a group by.
pub fn max_of(column: &str) -> Expr {
    max(col(column)).alias(column)
}

/// Rows where `cond` holds, as an aggregate.
pub fn count_if(cond: Expr) -> Expr {
    sum(when(cond, lit(1i64))
        .otherwise(lit(0i64))
        .unwrap_or(lit(0i64)))
}

fn seconds_between(later: Expr, earlier: Expr) -> Expr {
    (cast(later, DataType::Int64) - cast(earlier, DataType::Int64)) / lit(1_000_000.0)
}

fn pct(part: Expr, whole: Expr) -> Expr {
    datafusion::functions::expr_fn::round(vec![
        lit(100.0) * cast(part, DataType::Float64) / cast(whole, DataType::Float64),
        lit(1i64),
    ])
}

/// The stop causes that mean a health check failed.
pub const HEALTH_CHECK_CAUSES: [StopCause; 2] =
    [StopCause::ElbHealthCheck, StopCause::ContainerHealthCheck];

/// `stop_cause IN (<the health-check causes>)` on `column`.
pub fn is_health_check_stop(column: &str) -> Expr {
    col(column).in_list(
        HEALTH_CHECK_CAUSES
            .iter()
            .map(|c| lit(c.as_str()))
            .collect(),
        false,
    )
}

/// How a deployment ended: the `outcome` column of [`deployments`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeploymentOutcome {
    Completed,
    /// Failed, and the circuit breaker did not roll it back.
    Failed,
    /// Failed, and the circuit breaker rolled the service back.
    RolledBack,
    InProgress,
    /// No deployment events: only its tasks are known.
    #[default]
    Unknown,
}

impl DeploymentOutcome {
    pub const ALL: [DeploymentOutcome; 5] = [
        Self::Completed,
        Self::Failed,
        Self::RolledBack,
        Self::InProgress,
        Self::Unknown,
    ];

    /// The name in the `outcome` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::RolledBack => "rolled_back",
            Self::InProgress => "in_progress",
            Self::Unknown => "unknown",
        }
    }

    /// It failed, whether or not the circuit breaker rolled it back.
    pub fn failed(self) -> bool {
        matches!(self, Self::Failed | Self::RolledBack)
    }
}

ecs_lake::stored_name!(DeploymentOutcome, "deployments.outcome");

/// Declares the columns of a summary: a name constant per column (its
/// identifier, so the two cannot differ) and `ALL`, the declared names in the
/// plan's order.
macro_rules! columns {
    (
        $(#[doc = $doc:literal])*
        $module:ident { $( $(#[doc = $cdoc:literal])* $column:ident ),* $(,)? }
    ) => {
        $(#[doc = $doc])*
        #[allow(non_upper_case_globals)]
        pub mod $module {
            $( $(#[doc = $cdoc])* pub const $column: &str = stringify!($column); )*

            /// Every column declared above, in the plan's order.
            pub const ALL: &[&str] = &[$($column),*];
        }
    };
}

columns! {
    /// The columns of the `tasks` summary (and view), in its order.
    tasks_col {
        /// When it stopped, else its latest event's time.
        time,
        /// Cluster name.
        cluster,
        /// Service name; null for standalone tasks.
        service,
        /// Task id (last segment of the task ARN).
        task_id,
        /// Task definition family.
        family,
        /// Task definition revision.
        revision,
        /// The deployment that started it (`ecs-svc/...`).
        deployment_id,
        /// startedBy.
        started_by,
        /// FARGATE, EC2 or EXTERNAL.
        launch_type,
        /// Availability zone.
        availability_zone,
        /// lastStatus of its latest state.
        last_status,
        /// Why ECS stopped it (classifier); null while it runs.
        stop_cause,
        /// How the deciding container's process ended (classifier).
        exit_kind,
        /// Exit code of the deciding container.
        exit_code,
        /// The deciding container: OOM-killed, else the one that exited by itself.
        exit_container,
        /// The deciding container's image, else one of the task's images.
        image,
        /// stoppedReason.
        stopped_reason,
        /// createdAt.
        created_at,
        /// startedAt.
        started_at,
        /// stoppingAt.
        stopping_at,
        /// stoppedAt.
        stopped_at,
        /// Task CPU units.
        cpu,
        /// Highest CPU used (Container Insights), CPU units.
        cpu_peak,
        /// `cpu_peak` against the task's CPU (else the reserved CPU), %.
        cpu_peak_pct,
        /// Task memory, else the highest memory reserved (Container Insights), MiB.
        memory_limit,
        /// Highest memory used (Container Insights), MiB.
        memory_peak,
        /// `memory_peak` against `memory_limit`, %.
        memory_peak_pct,
        /// First HEALTHY sample (from events or the poller, not Container Insights).
        first_healthy_at,
        /// First UNHEALTHY sample.
        first_unhealthy_at,
        /// Seconds from `started_at` to `first_healthy_at`, for tasks that
        /// started in the window (null for the others: their first HEALTHY
        /// came before it).
        seconds_to_healthy,
        /// UNHEALTHY samples seen.
        unhealthy_samples,
        /// An UNHEALTHY sample was seen, or a failed health check stopped it.
        health_check_failed,
        /// detail.version of its latest state.
        version,
    }
}

columns! {
    /// The columns of the `deployments` summary (and view), in its order,
    /// except the counts by cause and kind that follow `stopped`: the
    /// `stopped_column` of every stop cause, then the `exit_column` of every
    /// exit kind.
    deployments_col {
        /// Deployment id (`ecs-svc/...`).
        deployment_id,
        /// Cluster name.
        cluster,
        /// Service name.
        service,
        /// Task definition family of its tasks.
        family,
        /// Task definition revision of its tasks.
        revision,
        /// Its first deployment event, else its first task's creation.
        started_at,
        /// When it completed or failed, else its last task's time.
        ended_at,
        /// How it ended: a [`DeploymentOutcome`](super::DeploymentOutcome).
        outcome,
        /// It is itself a circuit-breaker rollback.
        is_rollback,
        /// Tasks it started (in the window).
        tasks,
        /// Those tasks that stopped.
        stopped,
        /// Tasks the OOM killer ended.
        oom_kills,
        /// Tasks that failed a health check.
        unhealthy,
        /// Highest memory limit of its tasks, MiB.
        memory_limit,
        /// Median of its tasks' memory peaks, MiB.
        memory_peak_p50,
        /// 95th percentile of its tasks' memory peaks, MiB.
        memory_peak_p95,
        /// Highest memory peak of its tasks, MiB.
        memory_peak_max,
        /// Highest memory peak of its tasks against their limit, %.
        memory_peak_max_pct,
        /// Median seconds from a task's start to its first HEALTHY.
        median_seconds_to_healthy,
    }
}

/// The column of [`deployments`] counting the tasks stopped for `cause`.
pub fn stopped_column(cause: StopCause) -> String {
    format!("stopped_{}", cause.as_str())
}

/// The column of [`deployments`] counting the tasks whose deciding container
/// ended as `kind`.
pub fn exit_column(kind: ExitKind) -> String {
    format!("exit_{}", kind.as_str())
}

/// The task_events columns kept for each task's latest state.
const LATEST_COLUMNS: &[&str] = &[
    task_events::event_time,
    task_events::cluster,
    task_events::service,
    task_events::family,
    task_events::revision,
    task_events::deployment_id,
    task_events::started_by,
    task_events::launch_type,
    task_events::availability_zone,
    task_events::cpu,
    task_events::memory,
    task_events::last_status,
    task_events::stop_cause,
    task_events::exit_kind,
    task_events::exit_code,
    task_events::exit_container,
    task_events::stopped_reason,
    task_events::created_at,
    task_events::started_at,
    task_events::stopping_at,
    task_events::stopped_at,
    task_events::version,
];

/// One row per task: its latest state (highest `detail.version`, duplicates
/// removed), the classification of its stop, its memory and CPU peaks from
/// Container Insights against the limit, and its health-check history.
pub async fn tasks(ctx: &SessionContext, scope: Scope) -> Result<DataFrame> {
    // The latest state: the events at each task's highest version; the
    // duplicates among them (at-least-once delivery) are the same event, so
    // any value of theirs is the value. Built from a join and plain
    // aggregates (no window, no ordered aggregate) so that the plan unparses
    // to SQL that runs as is under `--show-sql`. `newest_task_id` and
    // `newest` are this join's own names.
    let events = scan_table(ctx, &schema::task_events::DEF, scope).await?;
    let newest = events
        .clone()
        .aggregate(
            vec![col(task_events::task_id)],
            vec![max(coalesce(vec![col(task_events::version), lit(0i64)])).alias("newest")],
        )?
        .select(vec![
            col(task_events::task_id).alias("newest_task_id"),
            col("newest"),
        ])?;
    let latest = events
        .join_on(
            newest,
            JoinType::Inner,
            vec![
                col(task_events::task_id).eq(col("newest_task_id")),
                coalesce(vec![col(task_events::version), lit(0i64)]).eq(col("newest")),
            ],
        )?
        .aggregate(
            vec![col(task_events::task_id)],
            LATEST_COLUMNS
                .iter()
                .map(|c| max(col(*c)).alias(*c))
                .collect(),
        )?
        .alias("t")?;

    // The maximum over a task's Task *and* Container records is the Task
    // record's: a task's memory and CPU (used and reserved) are at least any
    // one container's. So no filter on `record_type` (a string column read
    // and compared for every minute of every container): Cluster and Service
    // records have no task id and join nothing.
    let peaks = task_peaks(ctx, scope).await?.alias("m")?;

    let samples = task_health(ctx, scope).await?.alias("h")?;

    let containers = scan_table(ctx, &schema::container_events::DEF, scope)
        .await?
        .aggregate(
            vec![
                col(container_events::task_id),
                col(container_events::container_name),
            ],
            vec![max_of(container_events::image)],
        )?;
    let exit_image = containers.clone().alias("ci")?;
    let any_image = containers
        .aggregate(
            vec![col(container_events::task_id)],
            vec![min(col(container_events::image)).alias(container_events::image)],
        )?
        .alias("ti")?;

    // The sides of the joins below, by the aliases given above.
    let t = |c: &str| col(qualified("t", c));
    let m = |c: &str| col(qualified("m", c));
    let h = |c: &str| col(qualified("h", c));
    let t_task_id = qualified("t", task_events::task_id);
    // A task that started before the window had its first HEALTHY before it
    // too: the first one inside the window says nothing of its start-up.
    let started_in_window = |e: Expr| match scope.from {
        Some(from) => when(t(task_events::started_at).gt_eq(ts(from)), e).end(),
        None => Ok(e),
    };
    let health_stop = is_health_check_stop(&qualified("t", task_events::stop_cause));
    let memory_limit = coalesce(vec![
        cast(t(task_events::memory), DataType::Int64),
        m(metrics::memory_reserved),
    ]);
    latest
        .join(
            peaks,
            JoinType::Left,
            &[task_events::task_id],
            &[metrics::task_id],
            None,
        )?
        .join(
            samples,
            JoinType::Left,
            &[t_task_id.as_str()],
            &[health::task_id],
            None,
        )?
        .join(
            exit_image,
            JoinType::Left,
            &[
                t_task_id.as_str(),
                &qualified("t", task_events::exit_container),
            ],
            &[container_events::task_id, container_events::container_name],
            None,
        )?
        .join(
            any_image,
            JoinType::Left,
            &[t_task_id.as_str()],
            &[container_events::task_id],
            None,
        )?
        .select(vec![
            coalesce(vec![t(task_events::stopped_at), t(task_events::event_time)])
                .alias(tasks_col::time),
            t(task_events::cluster).alias(tasks_col::cluster),
            t(task_events::service).alias(tasks_col::service),
            t(task_events::task_id).alias(tasks_col::task_id),
            t(task_events::family).alias(tasks_col::family),
            t(task_events::revision).alias(tasks_col::revision),
            t(task_events::deployment_id).alias(tasks_col::deployment_id),
            t(task_events::started_by).alias(tasks_col::started_by),
            t(task_events::launch_type).alias(tasks_col::launch_type),
            t(task_events::availability_zone).alias(tasks_col::availability_zone),
            t(task_events::last_status).alias(tasks_col::last_status),
            t(task_events::stop_cause).alias(tasks_col::stop_cause),
            t(task_events::exit_kind).alias(tasks_col::exit_kind),
            t(task_events::exit_code).alias(tasks_col::exit_code),
            t(task_events::exit_container).alias(tasks_col::exit_container),
            coalesce(vec![
                col(qualified("ci", container_events::image)),
                col(qualified("ti", container_events::image)),
            ])
            .alias(tasks_col::image),
            t(task_events::stopped_reason).alias(tasks_col::stopped_reason),
            t(task_events::created_at).alias(tasks_col::created_at),
            t(task_events::started_at).alias(tasks_col::started_at),
            t(task_events::stopping_at).alias(tasks_col::stopping_at),
            t(task_events::stopped_at).alias(tasks_col::stopped_at),
            t(task_events::cpu).alias(tasks_col::cpu),
            m(tasks_col::cpu_peak).alias(tasks_col::cpu_peak),
            pct(
                m(tasks_col::cpu_peak),
                coalesce(vec![
                    cast(t(task_events::cpu), DataType::Float64),
                    m(metrics::cpu_reserved),
                ]),
            )
            .alias(tasks_col::cpu_peak_pct),
            memory_limit.clone().alias(tasks_col::memory_limit),
            m(tasks_col::memory_peak).alias(tasks_col::memory_peak),
            pct(m(tasks_col::memory_peak), memory_limit).alias(tasks_col::memory_peak_pct),
            h(tasks_col::first_healthy_at).alias(tasks_col::first_healthy_at),
            h(tasks_col::first_unhealthy_at).alias(tasks_col::first_unhealthy_at),
            started_in_window(seconds_between(
                h(tasks_col::first_healthy_at),
                t(task_events::started_at),
            ))?
            .alias(tasks_col::seconds_to_healthy),
            coalesce(vec![h(tasks_col::unhealthy_samples), lit(0i64)])
                .alias(tasks_col::unhealthy_samples),
            h(tasks_col::first_unhealthy_at)
                .is_not_null()
                .or(coalesce(vec![health_stop, lit(false)]))
                .alias(tasks_col::health_check_failed),
            t(task_events::version).alias(tasks_col::version),
        ])
}

/// The columns of [`tasks`] that say how a task ended, counted per group:
/// [`stopped_column`] for every stop cause and [`exit_column`] for every exit kind.
pub fn breakdown() -> Vec<Expr> {
    let causes = StopCause::ALL.iter().map(|c| {
        count_if(col(tasks_col::stop_cause).eq(lit(c.as_str()))).alias(stopped_column(*c))
    });
    let kinds = ExitKind::ALL
        .iter()
        .map(|k| count_if(col(tasks_col::exit_kind).eq(lit(k.as_str()))).alias(exit_column(*k)));
    causes.chain(kinds).collect()
}

/// True for a task the OOM killer ended (the cause, or the exit of its container).
pub fn is_oom() -> Expr {
    col(tasks_col::stop_cause)
        .eq(lit(StopCause::OomKilled.as_str()))
        .or(col(tasks_col::exit_kind).eq(lit(ExitKind::SigkillOom.as_str())))
}

/// One day, µs.
pub const DAY: i64 = 86_400 * 1_000_000;

/// How long before a window a deployment whose tasks ran in it may have
/// started (a stuck deployment runs until its circuit breaker or a person
/// stops it): its events are read from this far back.
pub const DEPLOYMENT_LOOK_BACK: i64 = 14 * DAY;

/// Each task's memory and CPU maxima (used and reserved) in the window:
/// `task_id`, `memory_peak`, `memory_reserved`, `cpu_peak`, `cpu_reserved`.
///
/// For the days the window covers whole whose `task_peaks` are current
/// ([`current_derived_days`]), from those per-day maxima (a row per task and
/// day); for the rest (the window's partial first and last days, days not
/// compacted yet), from the metrics themselves.
pub async fn task_peaks(ctx: &SessionContext, scope: Scope) -> Result<DataFrame> {
    use schema::task_peaks::col as peaks;
    let maxima = || {
        vec![
            max_of(peaks::memory_peak),
            max_of(peaks::memory_reserved),
            max_of(peaks::cpu_peak),
            max_of(peaks::cpu_reserved),
        ]
    };
    let raw = |frame: DataFrame| {
        frame
            .filter(col(metrics::task_id).is_not_null())?
            .aggregate(
                vec![col(metrics::task_id)],
                vec![
                    max(col(metrics::memory_utilized)).alias(tasks_col::memory_peak),
                    max_of(metrics::memory_reserved),
                    max(col(metrics::cpu_utilized)).alias(tasks_col::cpu_peak),
                    max_of(metrics::cpu_reserved),
                ],
            )
    };
    let per_task = |frame: DataFrame| frame.aggregate(vec![col(peaks::task_id)], maxima());
    raw_and_derived(ctx, &ecs_lake::derived::TASK_PEAKS, scope, raw, per_task).await
}

/// Each task's health in the window: `task_id`, `first_healthy_at` (not
/// counting Container Insights), `first_unhealthy_at`, `unhealthy_samples`.
///
/// From `task_health` for the days it is current ([`current_derived_days`]),
/// from the health rows for the rest, as [`task_peaks`].
pub async fn task_health(ctx: &SessionContext, scope: Scope) -> Result<DataFrame> {
    use schema::task_health::col as derived_health;
    let raw = |frame: DataFrame| {
        let healthy = col(health::status).eq(lit("HEALTHY")).and(
            col(health::source).not_eq(lit(ecs_lake::sources::health::FROM_CONTAINER_INSIGHTS)),
        );
        let unhealthy = col(health::status).eq(lit("UNHEALTHY"));
        frame.aggregate(
            vec![col(health::task_id)],
            vec![
                min(when(healthy, col(health::time)).end()?).alias(tasks_col::first_healthy_at),
                min(when(unhealthy.clone(), col(health::time)).end()?)
                    .alias(tasks_col::first_unhealthy_at),
                count_if(unhealthy).alias(tasks_col::unhealthy_samples),
            ],
        )
    };
    let firsts = || {
        vec![
            min(col(derived_health::first_healthy_at)).alias(tasks_col::first_healthy_at),
            min(col(derived_health::first_unhealthy_at)).alias(tasks_col::first_unhealthy_at),
            sum(col(derived_health::unhealthy_samples)).alias(tasks_col::unhealthy_samples),
        ]
    };
    let per_task = |frame: DataFrame| frame.aggregate(vec![col(derived_health::task_id)], firsts());
    raw_and_derived(ctx, &ecs_lake::derived::TASK_HEALTH, scope, raw, per_task).await
}

/// A per-task aggregate over `scope` from a derived table where it is
/// current and from its source elsewhere: `raw` aggregates the source's rows
/// of the other days; `per_task` aggregates the derived rows of the current
/// days to the same columns (same names, same order), and then the union of
/// both, by task.
async fn raw_and_derived(
    ctx: &SessionContext,
    table: &ecs_lake::derived::Derived,
    scope: Scope,
    raw: impl FnOnce(DataFrame) -> Result<DataFrame>,
    per_task: impl Fn(DataFrame) -> Result<DataFrame>,
) -> Result<DataFrame> {
    let days = current_derived_days(ctx, table, scope).await?;
    let mut source = scan_table(ctx, table.source, scope).await?;
    let day_list = || days.iter().map(|d| lit(d.as_str())).collect::<Vec<_>>();
    if !days.is_empty() {
        source = source.filter(col(PARTITION_COLUMN).in_list(day_list(), true))?;
    }
    let source = raw(source)?;
    if days.is_empty() {
        return Ok(source);
    }
    let rows = ctx
        .table(table.table.sql_name())
        .await?
        .filter(col(PARTITION_COLUMN).in_list(day_list(), false))?;
    per_task(per_task(rows)?.union(source)?)
}

/// The days inside `scope` whose derived table may stand for its source:
/// days the window covers whole, whose source files are all one compaction
/// run's outputs (`compacted-<run>-NNN.parquet`) and which have that run's
/// derived file (e.g. `compacted-<run>-peaks.parquet`). Listed through the
/// lake tables' listing cache, so the source scan that follows lists nothing
/// again.
pub async fn current_derived_days(
    ctx: &SessionContext,
    table: &ecs_lake::derived::Derived,
    scope: Scope,
) -> Result<Vec<String>> {
    let (Some(source), Some(derived)) = (
        lake_table(ctx, table.source).await?,
        lake_table(ctx, table.table).await?,
    ) else {
        return Ok(Vec::new());
    };
    let bounds = match (scope.from, scope.to) {
        (Some(from), Some(to)) => Some((date_of(from), date_of(to - 1))),
        _ => None,
    };
    let (source_files, derived_files) =
        futures::try_join!(source.files(bounds.clone()), derived.files(bounds))?;
    let name = |m: &object_store::ObjectMeta| m.location.filename().unwrap_or("").to_owned();
    let mut runs: std::collections::BTreeMap<String, Option<String>> = Default::default();
    for (day, meta) in &source_files {
        let run = ecs_lake::compact::run_of(&name(meta)).map(str::to_owned);
        let entry = runs.entry(day.clone()).or_insert_with(|| run.clone());
        if *entry != run {
            *entry = None;
        }
    }
    let whole = |day: &str| {
        let start = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc().timestamp_micros());
        start.is_some_and(|start| {
            scope.from.is_none_or(|from| start >= from)
                && scope.to.is_none_or(|to| start + DAY <= to)
        })
    };
    Ok(runs
        .into_iter()
        .filter_map(|(day, run)| {
            let file = table.file_name(&run?);
            (whole(&day)
                && derived_files
                    .iter()
                    .any(|(d, m)| *d == day && name(m) == file))
            .then_some(day)
        })
        .collect())
}

/// The lake table registered for `def`, if it is one (a test may register
/// something else under the name).
async fn lake_table(ctx: &SessionContext, def: &TableDef) -> Result<Option<LakeTable>> {
    let provider = ctx.table_provider(def.sql_name()).await?;
    Ok(provider.downcast_ref::<LakeTable>().cloned())
}

/// One row per deployment: from the service's deployment events (start, end,
/// outcome, whether the circuit breaker rolled it back) and from its tasks
/// (revision, starts and stops by cause, exits by kind, OOM kills, memory
/// peaks against the limit, health-check failures, time to healthy).
pub async fn deployments(ctx: &SessionContext, scope: Scope) -> Result<DataFrame> {
    const FAILED: &str = "SERVICE_DEPLOYMENT_FAILED";
    const COMPLETED: &str = "SERVICE_DEPLOYMENT_COMPLETED";
    // An intermediate column keeps the lake's name when it carries a lake
    // column through, takes the deployments' name when it computes one of
    // theirs, and is a literal when this plan alone reads it (`failed`,
    // `completed`, `rolled_back_id`, `rolled_back`, `first_task_at`,
    // `last_task_at`).
    //
    // Deployment events from DEPLOYMENT_LOOK_BACK before the window to a day
    // after it: a deployment that started before the window but whose tasks
    // ran in it still has its start and outcome.
    let around = Scope {
        from: scope.from.map(|t| t - DEPLOYMENT_LOOK_BACK),
        to: scope.to.map(|t| t + DAY),
    };
    let events = scan_table(ctx, &schema::service_events::DEF, around)
        .await?
        .filter(col(service_events::deployment_id).is_not_null())?
        .aggregate(
            vec![col(service_events::deployment_id)],
            vec![
                max_of(service_events::cluster),
                max_of(service_events::service),
                min(col(service_events::event_time)).alias(deployments_col::started_at),
                max(when(
                    col(service_events::event_name)
                        .in_list(vec![lit(FAILED), lit(COMPLETED)], false),
                    col(service_events::event_time),
                )
                .end()?)
                .alias(deployments_col::ended_at),
                bool_or(col(service_events::event_name).eq(lit(FAILED))).alias("failed"),
                bool_or(col(service_events::event_name).eq(lit(COMPLETED))).alias("completed"),
                bool_or(coalesce(vec![col(service_events::rollback), lit(false)]))
                    .alias(deployments_col::is_rollback),
            ],
        )?
        .alias("ev")?;
    // A failed deployment was rolled back when the circuit breaker started a
    // rollback deployment of the same service right after it failed.
    let rollbacks = events
        .clone()
        .filter(col(deployments_col::is_rollback))?
        .select(vec![
            col(service_events::cluster),
            col(service_events::service),
            col(deployments_col::started_at),
        ])?
        .alias("r")?;
    let window = |secs: i64| lit(ScalarValue::new_interval_mdn(0, 0, secs * 1_000_000_000));
    let f = |c: &str| col(qualified("f", c));
    let r = |c: &str| col(qualified("r", c));
    let rolled_back = events
        .clone()
        .filter(col("failed"))?
        .select(vec![
            col(service_events::deployment_id),
            col(service_events::cluster),
            col(service_events::service),
            col(deployments_col::ended_at),
        ])?
        .alias("f")?
        .join(
            rollbacks,
            JoinType::Inner,
            &[
                &qualified("f", service_events::cluster),
                &qualified("f", service_events::service),
            ],
            &[
                &qualified("r", service_events::cluster),
                &qualified("r", service_events::service),
            ],
            None,
        )?
        .filter(
            r(deployments_col::started_at)
                .gt_eq(f(deployments_col::ended_at) - window(60))
                .and(
                    r(deployments_col::started_at)
                        .lt_eq(f(deployments_col::ended_at) + window(900)),
                ),
        )?
        .aggregate(vec![f(service_events::deployment_id)], vec![])?
        .select(vec![
            f(service_events::deployment_id).alias("rolled_back_id"),
        ])?;
    let events = events
        .join(
            rolled_back,
            JoinType::Left,
            &[service_events::deployment_id],
            &["rolled_back_id"],
            None,
        )?
        .select(vec![
            col(service_events::deployment_id),
            col(service_events::cluster),
            col(service_events::service),
            col(deployments_col::started_at),
            col(deployments_col::ended_at),
            col("failed"),
            col("completed"),
            col(deployments_col::is_rollback),
            col("rolled_back_id").is_not_null().alias("rolled_back"),
        ])?
        .alias("e")?;

    let mut task_aggs = vec![
        max(col(tasks_col::cluster)).alias(deployments_col::cluster),
        max(col(tasks_col::service)).alias(deployments_col::service),
        max(col(tasks_col::family)).alias(deployments_col::family),
        max(col(tasks_col::revision)).alias(deployments_col::revision),
        min(coalesce(vec![
            col(tasks_col::created_at),
            col(tasks_col::started_at),
        ]))
        .alias("first_task_at"),
        max(col(tasks_col::time)).alias("last_task_at"),
        count(col(tasks_col::task_id)).alias(deployments_col::tasks),
        count(col(tasks_col::stopped_at)).alias(deployments_col::stopped),
    ];
    task_aggs.extend(breakdown());
    let peak = || col(tasks_col::memory_peak).sort(true, false);
    task_aggs.extend([
        count_if(is_oom()).alias(deployments_col::oom_kills),
        count_if(col(tasks_col::health_check_failed)).alias(deployments_col::unhealthy),
        max(col(tasks_col::memory_limit)).alias(deployments_col::memory_limit),
        percentile_cont(peak(), lit(0.5)).alias(deployments_col::memory_peak_p50),
        percentile_cont(peak(), lit(0.95)).alias(deployments_col::memory_peak_p95),
        max(col(tasks_col::memory_peak)).alias(deployments_col::memory_peak_max),
        max(col(tasks_col::memory_peak_pct)).alias(deployments_col::memory_peak_max_pct),
        median(col(tasks_col::seconds_to_healthy))
            .alias(deployments_col::median_seconds_to_healthy),
    ]);
    let by_tasks = tasks(ctx, scope)
        .await?
        .filter(col(tasks_col::deployment_id).is_not_null())?
        .aggregate(vec![col(tasks_col::deployment_id)], task_aggs)?
        .alias("d")?;

    let e = |c: &str| col(qualified("e", c));
    let d = |c: &str| col(qualified("d", c));
    use DeploymentOutcome as O;
    let outcome = when(e("rolled_back"), lit(O::RolledBack.as_str()))
        .when(e("failed"), lit(O::Failed.as_str()))
        .when(e("completed"), lit(O::Completed.as_str()))
        .when(
            e(service_events::deployment_id).is_not_null(),
            lit(O::InProgress.as_str()),
        )
        .otherwise(lit(O::Unknown.as_str()))?;
    let mut columns = vec![
        coalesce(vec![
            e(service_events::deployment_id),
            d(tasks_col::deployment_id),
        ])
        .alias(deployments_col::deployment_id),
        coalesce(vec![
            e(service_events::cluster),
            d(deployments_col::cluster),
        ])
        .alias(deployments_col::cluster),
        coalesce(vec![
            e(service_events::service),
            d(deployments_col::service),
        ])
        .alias(deployments_col::service),
        d(deployments_col::family).alias(deployments_col::family),
        d(deployments_col::revision).alias(deployments_col::revision),
        coalesce(vec![e(deployments_col::started_at), d("first_task_at")])
            .alias(deployments_col::started_at),
        coalesce(vec![e(deployments_col::ended_at), d("last_task_at")])
            .alias(deployments_col::ended_at),
        outcome.alias(deployments_col::outcome),
        coalesce(vec![e(deployments_col::is_rollback), lit(false)])
            .alias(deployments_col::is_rollback),
    ];
    let counted = [deployments_col::tasks, deployments_col::stopped]
        .into_iter()
        .map(str::to_owned)
        .chain(StopCause::ALL.into_iter().map(stopped_column))
        .chain(ExitKind::ALL.into_iter().map(exit_column))
        .chain([deployments_col::oom_kills, deployments_col::unhealthy].map(str::to_owned));
    columns.extend(counted.map(|c| coalesce(vec![d(&c), lit(0i64)]).alias(c)));
    columns.extend(
        [
            deployments_col::memory_limit,
            deployments_col::memory_peak_p50,
            deployments_col::memory_peak_p95,
            deployments_col::memory_peak_max,
            deployments_col::memory_peak_max_pct,
            deployments_col::median_seconds_to_healthy,
        ]
        .map(|c| d(c).alias(c)),
    );
    let joined = events.join(
        by_tasks,
        JoinType::Full,
        &[&qualified("e", service_events::deployment_id)],
        &[&qualified("d", tasks_col::deployment_id)],
        None,
    )?;
    // In a window: the deployments with tasks in it, or that started in it.
    let joined = match scope_on(scope, &qualified("e", deployments_col::started_at)) {
        Some(started_inside) => {
            joined.filter(d(tasks_col::deployment_id).is_not_null().or(started_inside))?
        }
        None => joined,
    };
    joined.select(columns)
}

/// The window as a predicate on one timestamp column (no `dt`: for derived rows).
fn scope_on(scope: Scope, column: &str) -> Option<Expr> {
    let mut parts = Vec::new();
    if let Some(from) = scope.from {
        parts.push(col(column).gt_eq(ts(from)));
    }
    if let Some(to) = scope.to {
        parts.push(col(column).lt(ts(to)));
    }
    parts.into_iter().reduce(Expr::and)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use datafusion::datasource::MemTable;

    use super::*;
    use crate::lake::query_schema;

    /// Every lake table registered empty, as `Lake::open` registers a table
    /// nothing was written to yet.
    pub(crate) fn empty_lake() -> SessionContext {
        let ctx = SessionContext::new();
        for table in schema::TABLES.iter().chain(schema::DERIVED) {
            let empty = MemTable::try_new(query_schema(table), vec![vec![]]).unwrap();
            ctx.register_table(table.sql_name(), Arc::new(empty))
                .unwrap();
        }
        ctx
    }

    fn columns_of(df: &DataFrame) -> Vec<String> {
        df.schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    /// What callers read by the declared names is what the plans output: a
    /// column the plan names differently, or one the declarations miss or
    /// invent, fails here rather than in a caller's plan (or, inside a `when`
    /// or a `coalesce`, nowhere).
    #[tokio::test]
    async fn summaries_output_exactly_the_declared_columns() {
        let ctx = empty_lake();
        let (head, tail) = deployments_col::ALL.split_at(
            deployments_col::ALL
                .iter()
                .position(|c| *c == deployments_col::stopped)
                .unwrap()
                + 1,
        );
        let deployments_columns: Vec<String> = head
            .iter()
            .map(|c| c.to_string())
            .chain(StopCause::ALL.map(stopped_column))
            .chain(ExitKind::ALL.map(exit_column))
            .chain(tail.iter().map(|c| c.to_string()))
            .collect();
        let day = Scope {
            from: Some(0),
            to: Some(86_400_000_000),
        };
        for scope in [Scope::default(), day] {
            let tasks = tasks(&ctx, scope).await.unwrap();
            assert_eq!(columns_of(&tasks), tasks_col::ALL, "{scope:?}");
            let deployments = deployments(&ctx, scope).await.unwrap();
            assert_eq!(columns_of(&deployments), deployments_columns, "{scope:?}");
        }
    }
}

columns! {
    /// The columns of [`health_transitions`] (and its view), in its order.
    transitions_col {
        time, cluster, service, task_id, family, revision, container,
        /// The status before; null for the first sample in the window.
        from_status,
        to_status,
        /// `task_event`, `container_insights`, `poller` or `stop_reason:<cause>`.
        source,
    }
}

/// Health status changes per task and container in the window: from the
/// health samples (task events, Container Insights, the poller) and from
/// stops for failed ELB or container health checks (task level, source
/// `stop_reason:<cause>`). The first sample of a task or container in the
/// window has `from_status` null. The `health_transitions` view is this
/// plan over the whole lake; a timeline builds it for one task's lifetime.
pub async fn health_transitions(ctx: &SessionContext, scope: Scope) -> Result<DataFrame> {
    use transitions_col as out;
    let samples = scan_table(ctx, &schema::health::DEF, scope)
        .await?
        .select(vec![
            col(health::time).alias(out::time),
            col(health::cluster).alias(out::cluster),
            col(health::service).alias(out::service),
            col(health::task_id).alias(out::task_id),
            col(health::family).alias(out::family),
            col(health::revision).alias(out::revision),
            col(health::container).alias(out::container),
            col(health::status).alias(out::to_status),
            col(health::source).alias(out::source),
        ])?;
    let stops = scan_table(ctx, &schema::task_events::DEF, scope)
        .await?
        .filter(is_health_check_stop(task_events::stop_cause))?
        .select(vec![
            coalesce(vec![
                col(task_events::stopping_at),
                col(task_events::stopped_at),
                col(task_events::event_time),
            ])
            .alias(out::time),
            col(task_events::cluster).alias(out::cluster),
            col(task_events::service).alias(out::service),
            col(task_events::task_id).alias(out::task_id),
            col(task_events::family).alias(out::family),
            col(task_events::revision).alias(out::revision),
            lit(ScalarValue::Utf8View(None)).alias(out::container),
            cast(lit("UNHEALTHY"), DataType::Utf8View).alias(out::to_status),
            cast(
                datafusion::functions::expr_fn::concat(vec![
                    lit("stop_reason:"),
                    col(task_events::stop_cause),
                ]),
                DataType::Utf8View,
            )
            .alias(out::source),
        ])?;
    let from = datafusion::functions_window::expr_fn::lag(col(out::to_status), Some(1), None)
        .partition_by(vec![col(out::task_id), col(out::container)])
        .order_by(vec![
            col(out::time).sort(true, false),
            col(out::to_status).sort(true, false),
        ])
        .build()?
        .alias(out::from_status);
    samples
        .union(stops)?
        .window(vec![from])?
        .filter(datafusion::logical_expr::binary_expr(
            col(out::from_status),
            datafusion::logical_expr::Operator::IsDistinctFrom,
            col(out::to_status),
        ))?
        .select_columns(out::ALL)
}
