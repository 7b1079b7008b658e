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

use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::functions::expr_fn::coalesce;
use datafusion::functions_aggregate::expr_fn::{
    bool_or, count, max, median, min, percentile_cont, sum,
};
use datafusion::logical_expr::JoinType;
use datafusion::prelude::{DataFrame, Expr, SessionContext, cast, col, lit, when};
use ecs_lake::classify::{ExitKind, StopCause};

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

/// `YYYY-MM-DD` of a UTC instant, as the `dt` partitions are named.
pub fn day_of(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "0000-00-00".into())
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a UTC instant.
pub fn day_time_of(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

impl Scope {
    /// The window as a predicate on `time_col`, with the matching `dt` range
    /// so whole days outside it are never listed or opened.
    pub fn predicate(&self, time_col: &str) -> Option<Expr> {
        let mut parts = Vec::new();
        if let Some(from) = self.from {
            parts.push(col("dt").gt_eq(lit(day_of(from))));
            parts.push(col(time_col).gt_eq(ts(from)));
        }
        if let Some(to) = self.to {
            parts.push(col("dt").lt_eq(lit(day_of(to - 1))));
            parts.push(col(time_col).lt(ts(to)));
        }
        parts.into_iter().reduce(Expr::and)
    }
}

/// One lake table restricted to the window on its time column.
pub async fn scan(
    ctx: &SessionContext,
    table: &str,
    time_col: &str,
    scope: Scope,
) -> Result<DataFrame> {
    let df = ctx.table(table).await?;
    match scope.predicate(time_col) {
        Some(p) => df.filter(p),
        None => Ok(df),
    }
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

    /// The outcome called `name`, as the column holds it.
    pub fn from_name(name: &str) -> Option<DeploymentOutcome> {
        Self::ALL.into_iter().find(|o| o.as_str() == name)
    }

    /// It failed, whether or not the circuit breaker rolled it back.
    pub fn failed(self) -> bool {
        matches!(self, Self::Failed | Self::RolledBack)
    }
}

impl serde::Serialize for DeploymentOutcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for DeploymentOutcome {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::from_name(&name).ok_or_else(|| {
            serde::de::Error::custom(format!("{name:?} is not a deployment outcome"))
        })
    }
}

impl std::fmt::Display for DeploymentOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The task_events columns kept for each task's latest state.
const LATEST_COLUMNS: &[&str] = &[
    "event_time",
    "cluster",
    "service",
    "family",
    "revision",
    "deployment_id",
    "started_by",
    "launch_type",
    "availability_zone",
    "cpu",
    "memory",
    "last_status",
    "stop_cause",
    "exit_kind",
    "exit_code",
    "exit_container",
    "stopped_reason",
    "created_at",
    "started_at",
    "stopping_at",
    "stopped_at",
    "version",
];

/// One row per task: its latest state (highest `detail.version`, duplicates
/// removed), the classification of its stop, its memory and CPU peaks from
/// Container Insights against the limit, and its health-check history.
pub async fn tasks(ctx: &SessionContext, scope: Scope) -> Result<DataFrame> {
    // The latest state: the events at each task's highest version; the
    // duplicates among them (at-least-once delivery) are the same event, so
    // any value of theirs is the value. Built from a join and plain
    // aggregates (no window, no ordered aggregate) so that the plan unparses
    // to SQL that runs as is under `--show-sql`.
    let events = scan(ctx, "task_events", "event_time", scope).await?;
    let newest = events
        .clone()
        .aggregate(
            vec![col("task_id")],
            vec![max(coalesce(vec![col("version"), lit(0i64)])).alias("newest")],
        )?
        .select(vec![col("task_id").alias("newest_task_id"), col("newest")])?;
    let latest = events
        .join_on(
            newest,
            JoinType::Inner,
            vec![
                col("task_id").eq(col("newest_task_id")),
                coalesce(vec![col("version"), lit(0i64)]).eq(col("newest")),
            ],
        )?
        .aggregate(
            vec![col("task_id")],
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
    let peaks = scan(ctx, "metrics", "time", scope)
        .await?
        .filter(col("task_id").is_not_null())?
        .aggregate(
            vec![col("task_id")],
            vec![
                max(col("memory_utilized")).alias("memory_peak"),
                max(col("memory_reserved")).alias("memory_reserved"),
                max(col("cpu_utilized")).alias("cpu_peak"),
                max(col("cpu_reserved")).alias("cpu_reserved"),
            ],
        )?
        .alias("m")?;

    let healthy = col("status")
        .eq(lit("HEALTHY"))
        .and(col("source").not_eq(lit(ecs_lake::health::FROM_CONTAINER_INSIGHTS)));
    let unhealthy = col("status").eq(lit("UNHEALTHY"));
    let health = scan(ctx, "health", "time", scope)
        .await?
        .aggregate(
            vec![col("task_id")],
            vec![
                min(when(healthy, col("time")).end()?).alias("first_healthy_at"),
                min(when(unhealthy.clone(), col("time")).end()?).alias("first_unhealthy_at"),
                count_if(unhealthy).alias("unhealthy_samples"),
            ],
        )?
        .alias("h")?;

    let containers = scan(ctx, "container_events", "event_time", scope)
        .await?
        .aggregate(
            vec![col("task_id"), col("container_name")],
            vec![max(col("image")).alias("image")],
        )?;
    let exit_image = containers.clone().alias("ci")?;
    let any_image = containers
        .aggregate(vec![col("task_id")], vec![min(col("image")).alias("image")])?
        .alias("ti")?;

    let health_stop = is_health_check_stop("t.stop_cause");
    let memory_limit = coalesce(vec![
        cast(col("t.memory"), DataType::Int64),
        col("m.memory_reserved"),
    ]);
    latest
        .join(peaks, JoinType::Left, &["task_id"], &["task_id"], None)?
        .join(health, JoinType::Left, &["t.task_id"], &["task_id"], None)?
        .join(
            exit_image,
            JoinType::Left,
            &["t.task_id", "t.exit_container"],
            &["task_id", "container_name"],
            None,
        )?
        .join(
            any_image,
            JoinType::Left,
            &["t.task_id"],
            &["task_id"],
            None,
        )?
        .select(vec![
            coalesce(vec![col("t.stopped_at"), col("t.event_time")]).alias("time"),
            col("t.cluster").alias("cluster"),
            col("t.service").alias("service"),
            col("t.task_id").alias("task_id"),
            col("t.family").alias("family"),
            col("t.revision").alias("revision"),
            col("t.deployment_id").alias("deployment_id"),
            col("t.started_by").alias("started_by"),
            col("t.launch_type").alias("launch_type"),
            col("t.availability_zone").alias("availability_zone"),
            col("t.last_status").alias("last_status"),
            col("t.stop_cause").alias("stop_cause"),
            col("t.exit_kind").alias("exit_kind"),
            col("t.exit_code").alias("exit_code"),
            col("t.exit_container").alias("exit_container"),
            coalesce(vec![col("ci.image"), col("ti.image")]).alias("image"),
            col("t.stopped_reason").alias("stopped_reason"),
            col("t.created_at").alias("created_at"),
            col("t.started_at").alias("started_at"),
            col("t.stopping_at").alias("stopping_at"),
            col("t.stopped_at").alias("stopped_at"),
            col("t.cpu").alias("cpu"),
            col("m.cpu_peak").alias("cpu_peak"),
            pct(
                col("m.cpu_peak"),
                coalesce(vec![
                    cast(col("t.cpu"), DataType::Float64),
                    col("m.cpu_reserved"),
                ]),
            )
            .alias("cpu_peak_pct"),
            memory_limit.clone().alias("memory_limit"),
            col("m.memory_peak").alias("memory_peak"),
            pct(col("m.memory_peak"), memory_limit).alias("memory_peak_pct"),
            col("h.first_healthy_at").alias("first_healthy_at"),
            col("h.first_unhealthy_at").alias("first_unhealthy_at"),
            seconds_between(col("h.first_healthy_at"), col("t.started_at"))
                .alias("seconds_to_healthy"),
            coalesce(vec![col("h.unhealthy_samples"), lit(0i64)]).alias("unhealthy_samples"),
            col("h.first_unhealthy_at")
                .is_not_null()
                .or(coalesce(vec![health_stop, lit(false)]))
                .alias("health_check_failed"),
            col("t.version").alias("version"),
        ])
}

/// The columns of [`tasks`] that say how a task ended, counted per group:
/// `stopped_<cause>` for every stop cause and `exit_<kind>` for every exit kind.
pub fn breakdown() -> Vec<Expr> {
    let causes = StopCause::ALL.iter().map(|c| {
        count_if(col("stop_cause").eq(lit(c.as_str()))).alias(format!("stopped_{}", c.as_str()))
    });
    let kinds = ExitKind::ALL.iter().map(|k| {
        count_if(col("exit_kind").eq(lit(k.as_str()))).alias(format!("exit_{}", k.as_str()))
    });
    causes.chain(kinds).collect()
}

/// True for a task the OOM killer ended (the cause, or the exit of its container).
pub fn is_oom() -> Expr {
    col("stop_cause")
        .eq(lit(StopCause::OomKilled.as_str()))
        .or(col("exit_kind").eq(lit(ExitKind::SigkillOom.as_str())))
}

/// One row per deployment: from the service's deployment events (start, end,
/// outcome, whether the circuit breaker rolled it back) and from its tasks
/// (revision, starts and stops by cause, exits by kind, OOM kills, memory
/// peaks against the limit, health-check failures, time to healthy).
pub async fn deployments(ctx: &SessionContext, scope: Scope) -> Result<DataFrame> {
    const FAILED: &str = "SERVICE_DEPLOYMENT_FAILED";
    const COMPLETED: &str = "SERVICE_DEPLOYMENT_COMPLETED";
    // Deployment events are few: read them all, so a deployment that started
    // before the window but whose tasks ran in it still has its outcome.
    let events = scan(ctx, "service_events", "event_time", Scope::default())
        .await?
        .filter(col("deployment_id").is_not_null())?
        .aggregate(
            vec![col("deployment_id")],
            vec![
                max(col("cluster")).alias("cluster"),
                max(col("service")).alias("service"),
                min(col("event_time")).alias("started_at"),
                max(when(
                    col("event_name").in_list(vec![lit(FAILED), lit(COMPLETED)], false),
                    col("event_time"),
                )
                .end()?)
                .alias("ended_at"),
                bool_or(col("event_name").eq(lit(FAILED))).alias("failed"),
                bool_or(col("event_name").eq(lit(COMPLETED))).alias("completed"),
                bool_or(coalesce(vec![col("rollback"), lit(false)])).alias("is_rollback"),
            ],
        )?
        .alias("ev")?;
    // A failed deployment was rolled back when the circuit breaker started a
    // rollback deployment of the same service right after it failed.
    let rollbacks = events
        .clone()
        .filter(col("is_rollback"))?
        .select(vec![col("cluster"), col("service"), col("started_at")])?
        .alias("r")?;
    let window = |secs: i64| lit(ScalarValue::new_interval_mdn(0, 0, secs * 1_000_000_000));
    let rolled_back = events
        .clone()
        .filter(col("failed"))?
        .select(vec![
            col("deployment_id"),
            col("cluster"),
            col("service"),
            col("ended_at"),
        ])?
        .alias("f")?
        .join(
            rollbacks,
            JoinType::Inner,
            &["f.cluster", "f.service"],
            &["r.cluster", "r.service"],
            None,
        )?
        .filter(
            col("r.started_at")
                .gt_eq(col("f.ended_at") - window(60))
                .and(col("r.started_at").lt_eq(col("f.ended_at") + window(900))),
        )?
        .aggregate(vec![col("f.deployment_id")], vec![])?
        .select(vec![col("f.deployment_id").alias("rolled_back_id")])?;
    let events = events
        .join(
            rolled_back,
            JoinType::Left,
            &["deployment_id"],
            &["rolled_back_id"],
            None,
        )?
        .select(vec![
            col("deployment_id"),
            col("cluster"),
            col("service"),
            col("started_at"),
            col("ended_at"),
            col("failed"),
            col("completed"),
            col("is_rollback"),
            col("rolled_back_id").is_not_null().alias("rolled_back"),
        ])?
        .alias("e")?;

    let mut task_aggs = vec![
        max(col("cluster")).alias("cluster"),
        max(col("service")).alias("service"),
        max(col("family")).alias("family"),
        max(col("revision")).alias("revision"),
        min(coalesce(vec![col("created_at"), col("started_at")])).alias("first_task_at"),
        max(col("time")).alias("last_task_at"),
        count(col("task_id")).alias("tasks"),
        count(col("stopped_at")).alias("stopped"),
    ];
    task_aggs.extend(breakdown());
    task_aggs.extend([
        count_if(is_oom()).alias("oom_kills"),
        count_if(col("health_check_failed")).alias("unhealthy"),
        max(col("memory_limit")).alias("memory_limit"),
        percentile_cont(col("memory_peak").sort(true, false), lit(0.5)).alias("memory_peak_p50"),
        percentile_cont(col("memory_peak").sort(true, false), lit(0.95)).alias("memory_peak_p95"),
        max(col("memory_peak")).alias("memory_peak_max"),
        max(col("memory_peak_pct")).alias("memory_peak_max_pct"),
        median(col("seconds_to_healthy")).alias("median_seconds_to_healthy"),
    ]);
    let by_tasks = tasks(ctx, scope)
        .await?
        .filter(col("deployment_id").is_not_null())?
        .aggregate(vec![col("deployment_id")], task_aggs)?
        .alias("d")?;

    use DeploymentOutcome as O;
    let outcome = when(col("e.rolled_back"), lit(O::RolledBack.as_str()))
        .when(col("e.failed"), lit(O::Failed.as_str()))
        .when(col("e.completed"), lit(O::Completed.as_str()))
        .when(
            col("e.deployment_id").is_not_null(),
            lit(O::InProgress.as_str()),
        )
        .otherwise(lit(O::Unknown.as_str()))?;
    let mut columns = vec![
        coalesce(vec![col("e.deployment_id"), col("d.deployment_id")]).alias("deployment_id"),
        coalesce(vec![col("e.cluster"), col("d.cluster")]).alias("cluster"),
        coalesce(vec![col("e.service"), col("d.service")]).alias("service"),
        col("d.family").alias("family"),
        col("d.revision").alias("revision"),
        coalesce(vec![col("e.started_at"), col("d.first_task_at")]).alias("started_at"),
        coalesce(vec![col("e.ended_at"), col("d.last_task_at")]).alias("ended_at"),
        outcome.alias("outcome"),
        coalesce(vec![col("e.is_rollback"), lit(false)]).alias("is_rollback"),
    ];
    let counted = ["tasks", "stopped"]
        .into_iter()
        .map(str::to_owned)
        .chain(
            StopCause::ALL
                .iter()
                .map(|c| format!("stopped_{}", c.as_str())),
        )
        .chain(ExitKind::ALL.iter().map(|k| format!("exit_{}", k.as_str())))
        .chain(["oom_kills".into(), "unhealthy".into()]);
    columns.extend(counted.map(|c| coalesce(vec![col(format!("d.{c}")), lit(0i64)]).alias(c)));
    columns.extend(
        [
            "memory_limit",
            "memory_peak_p50",
            "memory_peak_p95",
            "memory_peak_max",
            "memory_peak_max_pct",
            "median_seconds_to_healthy",
        ]
        .map(|c| col(format!("d.{c}")).alias(c)),
    );
    let joined = events.join(
        by_tasks,
        JoinType::Full,
        &["e.deployment_id"],
        &["d.deployment_id"],
        None,
    )?;
    // In a window: the deployments with tasks in it, or that started in it.
    let joined = match scope_on(scope, "e.started_at") {
        Some(started_inside) => {
            joined.filter(col("d.deployment_id").is_not_null().or(started_inside))?
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
