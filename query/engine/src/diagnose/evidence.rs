//! Evidence: what the lake says about each service in a window, reduced to
//! plain Rust values that the findings ([`super::findings`]) and the weekly
//! report read.
//!
//! Three small DataFusion plans, one pass each over the window, read into
//! typed rows straight from Arrow (`serde_arrow`: stop causes, exit kinds
//! and outcomes arrive as the core's enums, so an unknown name is an error
//! rather than a count of 0):
//! the `tasks` summary ([`crate::summary::tasks`]) cut to the columns a
//! diagnosis needs (a service's tasks of a week are thousands of rows, so
//! percentiles and medians are computed here, exactly, from the rows);
//! each task's memory slope over its uptime (`regr_slope` over the
//! Container Insights Task records); and log signatures per revision. Then
//! [`crate::summary::deployments`] for the deployments and their outcomes.

use std::collections::BTreeMap;

use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::functions_aggregate::expr_fn::{count, count_distinct, regr_intercept, regr_slope};
use datafusion::logical_expr::JoinType;
use datafusion::prelude::{DataFrame, Expr, SessionContext, cast, col, lit};
use ecs_lake::classify::{ExitKind, StopCause};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use ecs_lake::schema::task_events::col as task_events;
use ecs_lake::schema::{self, logs::col as logs, metrics::col as metrics};
use ecs_lake::sources::logs::signature::Signature;

use crate::error::{Error, Result};
use crate::summary::{self, DeploymentOutcome, Scope};

/// Which services to look at: all, or one by name (optionally in one
/// cluster), or the standalone tasks of one family.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    pub cluster: Option<String>,
    pub service: Option<String>,
    /// Standalone tasks of this family (no service).
    pub standalone_family: Option<String>,
}

/// How standalone tasks (no service) are named in place of a service.
pub const STANDALONE: &str = "standalone:";

impl Selector {
    /// `api`, `prod/api` (cluster/service), or `standalone:<family>` for
    /// tasks run outside a service.
    pub fn parse(text: &str) -> Selector {
        let (cluster, name) = match text.split_once('/') {
            Some((cluster, name)) => (Some(cluster.to_owned()), name),
            None => (None, text),
        };
        match name.strip_prefix(STANDALONE) {
            Some(family) => Selector {
                cluster,
                service: None,
                standalone_family: Some(family.to_owned()),
            },
            None => Selector {
                cluster,
                service: Some(name.to_owned()),
                standalone_family: None,
            },
        }
    }

    /// `df` cut to the selected services (`df` itself when all are).
    fn apply(&self, df: DataFrame) -> Result<DataFrame> {
        Ok(match self.predicate() {
            Some(p) => df.filter(p)?,
            None => df,
        })
    }

    /// The selection on the columns every scanned table shares with the
    /// `tasks` summary (cluster, service, family).
    fn predicate(&self) -> Option<Expr> {
        use summary::tasks_col as t;
        let parts = [
            self.cluster
                .as_ref()
                .map(|c| col(t::cluster).eq(lit(c.as_str()))),
            self.service
                .as_ref()
                .map(|s| col(t::service).eq(lit(s.as_str()))),
            self.standalone_family.as_ref().map(|f| {
                col(t::family)
                    .eq(lit(f.as_str()))
                    .and(col(t::service).is_null())
            }),
        ];
        parts.into_iter().flatten().reduce(Expr::and)
    }
}

/// One task, as the diagnosis reads it (times in microseconds since the epoch).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskRow {
    pub cluster: Option<String>,
    pub service: Option<String>,
    pub task_id: String,
    pub family: Option<String>,
    pub revision: Option<i64>,
    pub deployment_id: Option<String>,
    pub launch_type: Option<String>,
    pub stop_cause: Option<StopCause>,
    pub exit_kind: Option<ExitKind>,
    pub exit_code: Option<i64>,
    /// The container that decided how the task ended.
    pub exit_container: Option<String>,
    pub stopped_reason: Option<String>,
    pub image: Option<String>,
    pub created_at: Option<i64>,
    pub started_at: Option<i64>,
    pub stopping_at: Option<i64>,
    pub stopped_at: Option<i64>,
    pub cpu: Option<i64>,
    pub memory_limit: Option<i64>,
    pub memory_peak: Option<i64>,
    pub seconds_to_healthy: Option<f64>,
    pub health_check_failed: Option<bool>,
    /// Memory growth over the task's uptime (least squares over its
    /// per-minute Task records), MiB per hour, and the fitted MiB at start.
    pub slope_mib_per_hour: Option<f64>,
    pub intercept_mib: Option<f64>,
    pub memory_samples: Option<i64>,
}

impl TaskRow {
    /// Judges a SIGKILL after an ECS stop again, against the stop timeout
    /// the deciding container is configured with (its task definition in
    /// the lake) and, behind a load balancer, the target group's
    /// deregistration delay `drain_s` that ECS waits before SIGTERM: ingest
    /// assumed ECS's default of 30 s and no drain, so a kill at a shorter
    /// configured timeout was called another signal, and one well before a
    /// longer timeout (or before the drain ended) the stop timeout. With
    /// neither known the ingest's answer stands.
    pub fn judge_stop_timeout(
        &mut self,
        containers: &[crate::config::ContainerConfig],
        drain_s: Option<i64>,
    ) {
        let judged = matches!(
            self.exit_kind,
            Some(ExitKind::SigkillAfterStopTimeout | ExitKind::OtherSignal)
        );
        let ecs_stop = self.stop_cause.is_some_and(StopCause::ecs_initiated);
        if self.exit_code != Some(137) || !judged || !ecs_stop {
            return;
        }
        let configured = containers
            .iter()
            .filter(|c| {
                self.family.as_deref() == Some(c.family.as_str())
                    && self.revision == Some(c.revision)
            })
            .find(|c| match &self.exit_container {
                Some(name) => &c.container_name == name,
                None => c.essential != Some(false),
            })
            .and_then(|c| c.stop_timeout);
        if configured.is_none() && drain_s.is_none() {
            return;
        }
        let (Some(a), Some(b)) = (self.stopping_at, self.stopped_at) else {
            return;
        };
        let timeout = configured.map_or(ecs_lake::classify::DEFAULT_STOP_TIMEOUT_MICROS, |s| {
            s * 1_000_000
        });
        let waited = b - a - drain_s.unwrap_or(0) * 1_000_000;
        self.exit_kind = Some(
            if ecs_lake::classify::waited_for_stop_timeout(waited, timeout) {
                ExitKind::SigkillAfterStopTimeout
            } else {
                ExitKind::OtherSignal
            },
        );
    }

    /// A stop nobody asked for: an OOM kill, a failed load-balancer or
    /// container health check, an essential container that exited other
    /// than cleanly, a task that failed to start. Deployments replacing
    /// tasks, scale-in, Spot interruptions and users stopping tasks are not.
    pub fn is_abnormal(&self) -> bool {
        match self.stop_cause {
            Some(
                StopCause::OomKilled
                | StopCause::ElbHealthCheck
                | StopCause::ContainerHealthCheck
                | StopCause::FailedToStart,
            ) => true,
            Some(StopCause::EssentialContainerExited) => self.exit_kind != Some(ExitKind::Clean),
            _ => false,
        }
    }

    /// Stopped by a failed health check before it was ever healthy.
    pub fn never_healthy(&self) -> bool {
        self.seconds_to_healthy.is_none()
            && matches!(
                self.stop_cause,
                Some(StopCause::ElbHealthCheck | StopCause::ContainerHealthCheck)
            )
    }

    /// When it stopped (or began stopping), µs.
    pub fn stop_time(&self) -> Option<i64> {
        self.stopped_at.or(self.stopping_at)
    }

    /// Seconds from start to when stopping began (or stopped).
    pub fn uptime_s(&self) -> Option<f64> {
        let end = self.stopping_at.or(self.stopped_at)?;
        Some((end - self.started_at?) as f64 / 1e6)
    }
}

/// A log signature's count on one revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignatureRow {
    pub cluster: Option<String>,
    pub service: Option<String>,
    pub family: Option<String>,
    pub revision: Option<i64>,
    pub signature: Signature,
    pub lines: i64,
    pub tasks: i64,
}

/// One deployment of a service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeploymentRow {
    pub deployment_id: String,
    pub cluster: Option<String>,
    pub service: Option<String>,
    pub family: Option<String>,
    pub revision: Option<i64>,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub outcome: DeploymentOutcome,
    pub is_rollback: bool,
    pub tasks: i64,
    pub oom_kills: i64,
    pub unhealthy: i64,
    pub stopped_failed_to_start: i64,
    /// ECS's own record of it, when the deployment history is in the lake
    /// (matched by [`crate::config::ServiceDeploymentRecord::find`]).
    #[serde(skip)]
    pub ecs_record: Option<crate::config::ServiceDeploymentRecord>,
}

impl DeploymentRow {
    /// `family:revision` of what it deployed.
    pub fn label(&self) -> String {
        label(&self.family, self.revision)
    }

    /// It failed, whether or not the circuit breaker rolled it back.
    pub fn failed(&self) -> bool {
        self.outcome.failed()
    }
}

/// p50, p95, p99 and max of a sample (linear interpolation, as
/// `percentile_cont`), with its size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    pub n: usize,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Spread> {
        let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let pos = q * (v.len() - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
        };
        Some(Spread {
            n: v.len(),
            p50: at(0.5),
            p95: at(0.95),
            p99: at(0.99),
            max: v[v.len() - 1],
        })
    }
}

/// Memory that grows with uptime: the median slope of the tasks that ran
/// long enough to measure one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Growth {
    pub tasks: usize,
    pub mib_per_hour: f64,
    pub start_mib: f64,
}

/// Least samples (minutes) a task needs for its slope to count.
const MIN_SLOPE_SAMPLES: i64 = 10;

/// What one task-definition revision of a service did in the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevisionStats {
    /// `family:revision`.
    pub label: String,
    pub family: String,
    pub revision: Option<i64>,
    pub first_started_at: Option<i64>,
    pub tasks: usize,
    pub stopped: usize,
    pub by_cause: BTreeMap<StopCause, usize>,
    pub by_exit_kind: BTreeMap<ExitKind, usize>,
    pub oom_kills: usize,
    pub stop_timeout_kills: usize,
    pub exit_137: usize,
    pub memory_limit: Option<i64>,
    pub cpu: Option<i64>,
    pub launch_type: Option<String>,
    pub images: Vec<String>,
    /// Per-task memory peaks, MiB.
    pub memory_peak: Option<Spread>,
    pub growth: Option<Growth>,
    /// Uptime of the OOM-killed tasks, seconds.
    pub uptime_to_oom: Option<Spread>,
    /// Seconds from start to the first HEALTHY, of the tasks that got there.
    pub time_to_healthy: Option<Spread>,
    pub health_check_failed: usize,
    pub health_check_stops: usize,
    /// Uptime of the tasks stopped by a failed health check, seconds.
    pub uptime_to_health_stop: Option<Spread>,
    /// Seconds from stopping to stopped of the tasks SIGKILLed after the stop timeout.
    pub stop_timeout_s: Option<Spread>,
    /// Uptime of the tasks that exited with an application error, seconds.
    pub uptime_to_crash: Option<Spread>,
    /// The first stopped reason (in start order) per stop cause.
    pub first_stopped_reason: BTreeMap<StopCause, String>,
    /// Up to three task ids per stop cause and per exit kind.
    pub examples: Examples,
    pub signatures: BTreeMap<Signature, i64>,
    /// Tasks with at least one line of the signature.
    pub signature_tasks: BTreeMap<Signature, i64>,
    /// The revision's containers as configured, when its task definition is
    /// in the lake (`task_definitions`, `container_definitions`); empty if not.
    pub config: Vec<crate::config::ContainerConfig>,
}

/// Example tasks (at most [`EXAMPLES`] each, earliest started first).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Examples {
    pub by_cause: BTreeMap<StopCause, Vec<String>>,
    pub by_exit_kind: BTreeMap<ExitKind, Vec<String>>,
}

/// Example tasks kept per stop cause and per exit kind.
pub const EXAMPLES: usize = 3;

impl Examples {
    fn add(list: &mut Vec<String>, task_id: &str) {
        if list.len() < EXAMPLES {
            list.push(task_id.to_owned());
        }
    }
}

impl RevisionStats {
    /// Tasks stopped for `cause`.
    pub fn cause(&self, cause: StopCause) -> usize {
        self.by_cause.get(&cause).copied().unwrap_or(0)
    }
    /// Tasks whose deciding container ended as `kind`.
    pub fn kind(&self, kind: ExitKind) -> usize {
        self.by_exit_kind.get(&kind).copied().unwrap_or(0)
    }
    pub fn examples_of_cause(&self, cause: StopCause) -> &[String] {
        self.examples
            .by_cause
            .get(&cause)
            .map_or(&[], Vec::as_slice)
    }
    pub fn examples_of_kind(&self, kind: ExitKind) -> &[String] {
        self.examples
            .by_exit_kind
            .get(&kind)
            .map_or(&[], Vec::as_slice)
    }
    /// Not on EC2: memory must be one of Fargate's sizes for the CPU.
    pub fn on_fargate(&self) -> bool {
        self.launch_type.as_deref() != Some("EC2")
    }

    /// Memory peak as a share of the limit, percent.
    pub fn peak_pct(&self, value: f64) -> Option<f64> {
        let limit = self.memory_limit.filter(|l| *l > 0)? as f64;
        Some(100.0 * value / limit)
    }
}

/// Everything the lake says about one service in the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceEvidence {
    pub cluster: String,
    /// The service name; standalone tasks are grouped as `standalone:<family>`.
    pub service: String,
    /// Oldest revision first.
    pub revisions: Vec<RevisionStats>,
    pub deployments: Vec<DeploymentRow>,
    /// The service's load-balancer health check as configured, when the
    /// service (and its target group) is in the lake.
    pub config: Option<crate::config::ServiceConfig>,
}

impl ServiceEvidence {
    pub fn tasks(&self) -> usize {
        self.revisions.iter().map(|r| r.tasks).sum()
    }
    pub fn stopped(&self) -> usize {
        self.revisions.iter().map(|r| r.stopped).sum()
    }
    /// Sum of one count over the revisions.
    pub fn total(&self, f: impl Fn(&RevisionStats) -> usize) -> usize {
        self.revisions.iter().map(f).sum()
    }
    /// The revision before `r` (by revision number) that ran in the window.
    pub fn previous(&self, r: &RevisionStats) -> Option<&RevisionStats> {
        self.revisions
            .iter()
            .filter(|o| o.family == r.family && o.revision < r.revision)
            .max_by_key(|o| o.revision)
    }
    /// The revision after `r` that ran in the window.
    pub fn next(&self, r: &RevisionStats) -> Option<&RevisionStats> {
        self.revisions
            .iter()
            .filter(|o| o.family == r.family && o.revision > r.revision)
            .min_by_key(|o| o.revision)
    }
    pub fn signatures(&self) -> BTreeMap<Signature, i64> {
        let mut all = BTreeMap::new();
        for r in &self.revisions {
            for (s, n) in &r.signatures {
                *all.entry(*s).or_insert(0) += n;
            }
        }
        all
    }
}

/// Collects a plan into rows of `T`, read from the Arrow batches by column
/// name (a column `T` lacks is ignored; a field without a column is an error).
async fn rows<T: DeserializeOwned>(df: DataFrame) -> Result<Vec<T>> {
    rows_of(&crate::listing::collect(df).await?)
}

fn rows_of<T: DeserializeOwned>(batches: &[RecordBatch]) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for b in batches {
        let rows: Vec<T> = serde_arrow::from_record_batch(b)
            .map_err(|e| Error::Internal(format!("reading evidence rows: {e}")))?;
        out.extend(rows);
    }
    Ok(out)
}

/// An integer column widened to `Int64`, or a timestamp as µs since the
/// epoch, under its own name: what the rows' `i64` fields read.
fn int64(c: &str) -> Expr {
    cast(col(c), DataType::Int64).alias(c)
}

/// The tasks of the window (one row each) with their memory slopes.
pub async fn task_rows(
    ctx: &SessionContext,
    scope: Scope,
    selector: &Selector,
) -> Result<Vec<TaskRow>> {
    use summary::tasks_col as t;
    let tasks = selector.apply(summary::tasks(ctx, scope).await?)?;
    let tasks = tasks.select(vec![
        col(t::cluster),
        col(t::service),
        col(t::task_id),
        col(t::family),
        int64(t::revision),
        col(t::deployment_id),
        col(t::launch_type),
        col(t::stop_cause),
        col(t::exit_kind),
        int64(t::exit_code),
        col(t::exit_container),
        col(t::stopped_reason),
        col(t::image),
        int64(t::created_at),
        int64(t::started_at),
        int64(t::stopping_at),
        int64(t::stopped_at),
        int64(t::cpu),
        int64(t::memory_limit),
        int64(t::memory_peak),
        col(t::seconds_to_healthy),
        col(t::health_check_failed),
    ])?;

    // Memory over uptime, per task: Task records only (one per minute).
    let samples = selector.apply(
        summary::scan_table(ctx, &schema::metrics::DEF, scope)
            .await?
            .filter(
                col(metrics::record_type)
                    .eq(lit("Task"))
                    .and(col(metrics::task_id).is_not_null()),
            )?,
    )?;
    // Join-side names, used only in this plan.
    let starts = tasks.clone().select(vec![
        col(t::task_id).alias("start_task_id"),
        col(t::started_at).alias("task_started_at"),
    ])?;
    let hours = cast(
        cast(col(metrics::time), DataType::Int64) - col("task_started_at"),
        DataType::Float64,
    ) / lit(3.6e9);
    let mib = cast(col(metrics::memory_utilized), DataType::Float64);
    let slopes = samples
        .join(
            starts,
            JoinType::Inner,
            &[metrics::task_id],
            &["start_task_id"],
            None,
        )?
        .aggregate(
            vec![col(metrics::task_id)],
            vec![
                regr_slope(mib.clone(), hours.clone()).alias(SLOPE),
                regr_intercept(mib, hours).alias(INTERCEPT),
                count(col(metrics::memory_utilized)).alias(SAMPLES),
            ],
        )?
        .select(vec![
            col(metrics::task_id).alias("slope_task_id"),
            col(SLOPE),
            col(INTERCEPT),
            col(SAMPLES),
        ])?;
    let joined = tasks.join(
        slopes,
        JoinType::Left,
        &[t::task_id],
        &["slope_task_id"],
        None,
    )?;
    let columns: Vec<Expr> = joined
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .filter(|n| *n != "slope_task_id")
        .map(col)
        .collect();
    rows(joined.select(columns)?).await
}

/// [`TaskRow`]'s memory trend fields, as the slope plan names them.
const SLOPE: &str = "slope_mib_per_hour";
const INTERCEPT: &str = "intercept_mib";
const SAMPLES: &str = "memory_samples";

/// Log signatures per service and revision (logs joined to their tasks).
pub async fn signature_rows(
    ctx: &SessionContext,
    scope: Scope,
    selector: &Selector,
) -> Result<Vec<SignatureRow>> {
    let tasks =
        selector.apply(summary::scan_table(ctx, &schema::task_events::DEF, scope).await?)?;
    let tasks = tasks
        .aggregate(
            vec![col(task_events::task_id)],
            vec![
                summary::max_of(task_events::cluster),
                summary::max_of(task_events::service),
                summary::max_of(task_events::family),
                summary::max_of(task_events::revision),
            ],
        )?
        .select(vec![
            col(task_events::task_id).alias("t_task_id"),
            col(task_events::cluster),
            col(task_events::service),
            col(task_events::family),
            col(task_events::revision),
        ])?;
    let lines = summary::scan_table(ctx, &schema::logs::DEF, scope)
        .await?
        .filter(col(logs::signature).is_not_null())?
        .select(vec![col(logs::task_id), col(logs::signature)])?;
    let df = lines
        .join(
            tasks,
            JoinType::Inner,
            &[logs::task_id],
            &["t_task_id"],
            None,
        )?
        .aggregate(
            vec![
                col(task_events::cluster),
                col(task_events::service),
                col(task_events::family),
                int64(task_events::revision),
                col(logs::signature),
            ],
            vec![
                count(col(logs::task_id)).alias("lines"),
                count_distinct(col(logs::task_id)).alias("tasks"),
            ],
        )?;
    rows(df).await
}

/// The deployments with tasks in the window, or started in it.
pub async fn deployment_rows(
    ctx: &SessionContext,
    scope: Scope,
    selector: &Selector,
) -> Result<Vec<DeploymentRow>> {
    use summary::deployments_col as d;
    let df = selector.apply(summary::deployments(ctx, scope).await?)?;
    let df = df.select(vec![
        col(d::deployment_id),
        col(d::cluster),
        col(d::service),
        col(d::family),
        int64(d::revision),
        int64(d::started_at),
        int64(d::ended_at),
        col(d::outcome),
        col(d::is_rollback),
        col(d::tasks),
        col(d::oom_kills),
        col(d::unhealthy),
        col(summary::stopped_column(StopCause::FailedToStart)),
    ])?;
    rows(df).await
}

/// The evidence for every service the selector matches, from the lake.
pub async fn gather(
    ctx: &SessionContext,
    scope: Scope,
    selector: &Selector,
) -> Result<Vec<ServiceEvidence>> {
    let config = crate::config::Configuration::load(ctx).await?;
    gather_with(ctx, scope, selector, &config).await
}

/// [`gather`] with the configuration already read (the report reads it once
/// for both its weeks).
pub async fn gather_with(
    ctx: &SessionContext,
    scope: Scope,
    selector: &Selector,
    config: &crate::config::Configuration,
) -> Result<Vec<ServiceEvidence>> {
    let tasks = judged_task_rows(ctx, scope, selector, config).await?;
    gather_from(ctx, scope, selector, config, tasks).await
}

/// [`gather_with`], also returning the task rows it was built from (for
/// callers that need each task's own times, as the post-mortem's timeline).
pub async fn gather_with_tasks(
    ctx: &SessionContext,
    scope: Scope,
    selector: &Selector,
    config: &crate::config::Configuration,
) -> Result<(Vec<ServiceEvidence>, Vec<TaskRow>)> {
    let tasks = judged_task_rows(ctx, scope, selector, config).await?;
    let services = gather_from(ctx, scope, selector, config, tasks.clone()).await?;
    Ok((services, tasks))
}

/// The window's tasks, each 137 judged against its configured stop timeout.
async fn judged_task_rows(
    ctx: &SessionContext,
    scope: Scope,
    selector: &Selector,
    config: &crate::config::Configuration,
) -> Result<Vec<TaskRow>> {
    let mut tasks = task_rows(ctx, scope, selector).await?;
    for t in &mut tasks {
        let drain_s = config
            .services
            .iter()
            .filter(|c| c.cluster == t.cluster && Some(&c.service) == t.service.as_ref())
            .find_map(|c| c.deregistration_delay_s);
        t.judge_stop_timeout(&config.containers, drain_s);
    }
    Ok(tasks)
}

/// The evidence of `tasks` with the window's signatures, deployments and
/// configuration.
async fn gather_from(
    ctx: &SessionContext,
    scope: Scope,
    selector: &Selector,
    config: &crate::config::Configuration,
    tasks: Vec<TaskRow>,
) -> Result<Vec<ServiceEvidence>> {
    let signatures = signature_rows(ctx, scope, selector).await?;
    let deployments = deployment_rows(ctx, scope, selector).await?;
    let mut services = assemble(tasks, signatures, deployments);
    for svc in &mut services {
        svc.config = config
            .services
            .iter()
            .filter(|c| c.service == svc.service && c.cluster.as_deref() == Some(&svc.cluster))
            .max_by_key(|c| c.target_group_arn.is_some())
            .cloned();
    }
    for svc in &mut services {
        let (cluster, service) = (svc.cluster.clone(), svc.service.clone());
        for d in &mut svc.deployments {
            if let (Some(family), Some(revision), Some(started_at)) =
                (&d.family, d.revision, d.started_at)
            {
                d.ecs_record = crate::config::ServiceDeploymentRecord::find(
                    &config.deployments,
                    &cluster,
                    &service,
                    family,
                    revision,
                    started_at,
                )
                .cloned();
            }
        }
    }
    for r in services.iter_mut().flat_map(|s| s.revisions.iter_mut()) {
        r.config = config
            .containers
            .iter()
            .filter(|c| c.family == r.family && Some(c.revision) == r.revision)
            .cloned()
            .collect();
    }
    Ok(services)
}

/// The service a task belongs to: its service, or `standalone:<family>`.
pub fn service_key(
    cluster: &Option<String>,
    service: &Option<String>,
    family: &Option<String>,
) -> (String, String) {
    let cluster = cluster.clone().unwrap_or_else(|| "?".into());
    let service = match service {
        Some(s) => s.clone(),
        None => format!("{STANDALONE}{}", family.as_deref().unwrap_or("?")),
    };
    (cluster, service)
}

/// The rows of `tasks` that belong to `cluster`/`service` (grouped as
/// [`service_key`] groups them: standalone tasks by family).
pub fn tasks_of<'a>(tasks: &'a [TaskRow], cluster: &str, service: &str) -> Vec<&'a TaskRow> {
    tasks
        .iter()
        .filter(|t| {
            let (c, s) = service_key(&t.cluster, &t.service, &t.family);
            c == cluster && s == service
        })
        .collect()
}

/// `family:revision`, as findings and reports name a revision.
pub fn label(family: &Option<String>, revision: Option<i64>) -> String {
    format!(
        "{}:{}",
        family.as_deref().unwrap_or("?"),
        revision.map_or_else(|| "?".into(), |r| r.to_string())
    )
}

/// Groups rows into per-service, per-revision evidence (pure: the tests
/// feed it rows directly).
pub fn assemble(
    tasks: Vec<TaskRow>,
    signatures: Vec<SignatureRow>,
    deployments: Vec<DeploymentRow>,
) -> Vec<ServiceEvidence> {
    type Revisions = BTreeMap<(String, Option<i64>), Vec<TaskRow>>;
    let mut by_service: BTreeMap<(String, String), Revisions> = BTreeMap::new();
    for t in tasks {
        let key = service_key(&t.cluster, &t.service, &t.family);
        let rev = (t.family.clone().unwrap_or_default(), t.revision);
        by_service
            .entry(key)
            .or_default()
            .entry(rev)
            .or_default()
            .push(t);
    }
    let mut out: Vec<ServiceEvidence> = by_service
        .into_iter()
        .map(|((cluster, service), revs)| {
            let mut revisions: Vec<RevisionStats> = revs
                .into_values()
                .map(|rows| revision_stats(&rows))
                .collect();
            revisions.sort_by(|a, b| (&a.family, a.revision).cmp(&(&b.family, b.revision)));
            ServiceEvidence {
                cluster,
                service,
                revisions,
                deployments: Vec::new(),
                config: None,
            }
        })
        .collect();
    for s in signatures {
        let key = service_key(&s.cluster, &s.service, &s.family);
        if let Some(svc) = out
            .iter_mut()
            .find(|e| (&e.cluster, &e.service) == (&key.0, &key.1))
            && let Some(r) = svc
                .revisions
                .iter_mut()
                .find(|r| Some(&r.family) == s.family.as_ref() && r.revision == s.revision)
        {
            *r.signatures.entry(s.signature).or_insert(0) += s.lines;
            *r.signature_tasks.entry(s.signature).or_insert(0) += s.tasks;
        }
    }
    for d in deployments {
        let key = service_key(&d.cluster, &d.service, &d.family);
        if let Some(svc) = out
            .iter_mut()
            .find(|e| (&e.cluster, &e.service) == (&key.0, &key.1))
        {
            svc.deployments.push(d);
        }
    }
    for svc in &mut out {
        svc.deployments.sort_by_key(|d| d.started_at);
    }
    out
}

fn revision_stats(rows: &[TaskRow]) -> RevisionStats {
    let first = &rows[0];
    let count = |f: &dyn Fn(&TaskRow) -> bool| rows.iter().filter(|t| f(t)).count();
    let spread = |f: &dyn Fn(&TaskRow) -> Option<f64>| Spread::of(rows.iter().filter_map(f));
    let kind = |t: &TaskRow, k: ExitKind| t.exit_kind == Some(k);
    let cause = |t: &TaskRow, c: StopCause| t.stop_cause == Some(c);
    let is_oom = |t: &TaskRow| cause(t, StopCause::OomKilled) || kind(t, ExitKind::SigkillOom);
    let health_stop = |t: &TaskRow| {
        t.stop_cause
            .is_some_and(|c| summary::HEALTH_CHECK_CAUSES.contains(&c))
    };

    let mut by_cause = BTreeMap::new();
    let mut by_exit_kind = BTreeMap::new();
    let mut examples = Examples::default();
    let mut first_stopped_reason = BTreeMap::new();
    let mut images: Vec<String> = Vec::new();
    let mut sorted: Vec<&TaskRow> = rows.iter().collect();
    sorted.sort_by_key(|t| (t.started_at, t.task_id.clone()));
    for t in &sorted {
        if let Some(c) = t.stop_cause {
            Examples::add(examples.by_cause.entry(c).or_default(), &t.task_id);
            *by_cause.entry(c).or_insert(0) += 1;
            if let Some(r) = &t.stopped_reason {
                first_stopped_reason.entry(c).or_insert_with(|| r.clone());
            }
        }
        if let Some(k) = t.exit_kind {
            Examples::add(examples.by_exit_kind.entry(k).or_default(), &t.task_id);
            *by_exit_kind.entry(k).or_insert(0) += 1;
        }
        if let Some(i) = &t.image
            && !images.contains(i)
        {
            images.push(i.clone());
        }
    }
    let growth = {
        let measured: Vec<&TaskRow> = rows
            .iter()
            .filter(|t| {
                t.memory_samples.unwrap_or(0) >= MIN_SLOPE_SAMPLES && t.slope_mib_per_hour.is_some()
            })
            .collect();
        let median = |f: &dyn Fn(&TaskRow) -> Option<f64>| {
            Spread::of(measured.iter().filter_map(|t| f(t))).map(|s| s.p50)
        };
        match (
            median(&|t| t.slope_mib_per_hour),
            median(&|t| t.intercept_mib),
        ) {
            (Some(slope), Some(start)) => Some(Growth {
                tasks: measured.len(),
                mib_per_hour: slope,
                start_mib: start,
            }),
            _ => None,
        }
    };
    RevisionStats {
        label: label(&first.family, first.revision),
        family: first.family.clone().unwrap_or_default(),
        revision: first.revision,
        first_started_at: rows
            .iter()
            .filter_map(|t| t.started_at.or(t.created_at))
            .min(),
        tasks: rows.len(),
        stopped: count(&|t| t.stopped_at.is_some()),
        by_cause,
        by_exit_kind,
        oom_kills: count(&is_oom),
        stop_timeout_kills: count(&|t| kind(t, ExitKind::SigkillAfterStopTimeout)),
        exit_137: count(&|t| t.exit_code == Some(137)),
        memory_limit: rows.iter().filter_map(|t| t.memory_limit).max(),
        cpu: rows.iter().filter_map(|t| t.cpu).max(),
        launch_type: rows.iter().find_map(|t| t.launch_type.clone()),
        images,
        memory_peak: spread(&|t| t.memory_peak.map(|m| m as f64)),
        growth,
        uptime_to_oom: spread(&|t| is_oom(t).then(|| t.uptime_s()).flatten()),
        time_to_healthy: spread(&|t| t.seconds_to_healthy),
        health_check_failed: count(&|t| t.health_check_failed == Some(true)),
        health_check_stops: count(&health_stop),
        uptime_to_health_stop: spread(&|t| health_stop(t).then(|| t.uptime_s()).flatten()),
        stop_timeout_s: spread(&|t| {
            kind(t, ExitKind::SigkillAfterStopTimeout)
                .then(|| Some((t.stopped_at? - t.stopping_at?) as f64 / 1e6))
                .flatten()
        }),
        uptime_to_crash: spread(&|t| kind(t, ExitKind::AppError).then(|| t.uptime_s()).flatten()),
        first_stopped_reason,
        examples,
        signatures: BTreeMap::new(),
        signature_tasks: BTreeMap::new(),
        config: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{ArrayRef, StringViewArray};
    use datafusion::arrow::datatypes::{Field, Schema};

    use super::*;

    /// One batch of `task_id`, `stop_cause`, `exit_kind` strings as the
    /// summaries produce them (Utf8View).
    fn batch(stop_cause: &str, exit_kind: &str) -> RecordBatch {
        let column = |v: &str| Arc::new(StringViewArray::from(vec![v])) as ArrayRef;
        let schema = Schema::new(
            ["task_id", "stop_cause", "exit_kind"]
                .map(|n| Field::new(n, DataType::Utf8View, true))
                .to_vec(),
        );
        RecordBatch::try_new(
            Arc::new(schema),
            vec![column("t1"), column(stop_cause), column(exit_kind)],
        )
        .unwrap()
    }

    #[test]
    fn sigkills_are_judged_against_the_configured_stop_timeout() {
        let container = |stop_timeout: Option<i64>| crate::config::ContainerConfig {
            family: "worker".into(),
            revision: 8,
            container_name: "worker".into(),
            essential: Some(true),
            stop_timeout,
            ..Default::default()
        };
        let task = |waited_s: i64, kind: ExitKind, cause: StopCause| TaskRow {
            family: Some("worker".into()),
            revision: Some(8),
            exit_code: Some(137),
            exit_kind: Some(kind),
            stop_cause: Some(cause),
            exit_container: Some("worker".into()),
            stopping_at: Some(0),
            stopped_at: Some(waited_s * 1_000_000),
            ..Default::default()
        };
        use ExitKind::{OtherSignal as Other, SigkillAfterStopTimeout as Timeout};
        use StopCause::{DeploymentReplaced as Replaced, Unknown};
        #[rustfmt::skip]
        let cases = [
            // (stopTimeout, waited s, ingest's kind, cause) -> judged kind
            (Some(10), 10, Other, Replaced, Timeout),   // killed at a 10 s timeout: ingest's 30 s rule missed it
            (Some(120), 31, Timeout, Replaced, Other),  // 31 s is far from a 120 s timeout
            (Some(120), 121, Timeout, Replaced, Timeout),
            (None, 31, Timeout, Replaced, Timeout),     // unset: ECS's default, ingest's answer stands
            (None, 3, Other, Replaced, Other),
            (Some(10), 12, Other, Unknown, Other),      // no stop by ECS known: no stop timeout
        ];
        for (timeout, waited, ingest, cause, want) in cases {
            let mut t = task(waited, ingest, cause);
            t.judge_stop_timeout(&[container(timeout)], None);
            assert_eq!(t.exit_kind, Some(want), "{timeout:?} {waited} s {cause:?}");
        }
        // Behind a load balancer the stop drains first: a kill 100 s into a
        // 300 s deregistration delay is not the stop timeout; one at 300 +
        // 30 s is, with stopTimeout unset too.
        for (timeout, waited, want) in [
            (None, 100, Other),
            (None, 331, Timeout),
            (Some(10), 311, Timeout),
            (Some(10), 305, Other),
        ] {
            let mut t = task(waited, Timeout, Replaced);
            t.judge_stop_timeout(&[container(timeout)], Some(300));
            assert_eq!(
                t.exit_kind,
                Some(want),
                "{timeout:?} {waited} s drained 300 s"
            );
        }
        // Another revision's configuration does not apply.
        let mut t = task(10, Other, Replaced);
        t.revision = Some(7);
        t.judge_stop_timeout(&[container(Some(10))], None);
        assert_eq!(t.exit_kind, Some(Other));
    }

    #[test]
    fn rows_carry_the_core_enums_and_refuse_unknown_names() {
        let rows: Vec<TaskRow> = rows_of(&[batch("oom_killed", "sigkill_oom")]).unwrap();
        assert_eq!(rows[0].stop_cause, Some(StopCause::OomKilled));
        assert_eq!(rows[0].exit_kind, Some(ExitKind::SigkillOom));
        // A name the classifier never writes (a typo, or a newer writer) is
        // an error, not a task that silently counts as nothing.
        let e = rows_of::<TaskRow>(&[batch("oom_kiled", "sigkill_oom")]).unwrap_err();
        assert!(e.to_string().contains("oom_kiled"), "{e}");
        assert!(rows_of::<TaskRow>(&[batch("oom_killed", "app_eror")]).is_err());
    }

    #[test]
    fn deployment_outcomes_have_stable_names() {
        for o in DeploymentOutcome::ALL {
            assert_eq!(DeploymentOutcome::from_name(o.as_str()), Some(o));
        }
        assert_eq!(DeploymentOutcome::from_name("rolledback"), None);
        let failed: Vec<_> = DeploymentOutcome::ALL
            .into_iter()
            .filter(|o| o.failed())
            .collect();
        assert_eq!(
            failed,
            [DeploymentOutcome::Failed, DeploymentOutcome::RolledBack]
        );
    }

    #[test]
    fn spread_interpolates_like_percentile_cont() {
        let s = Spread::of([1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert_eq!((s.n, s.p50, s.max), (5, 3.0, 5.0));
        assert!((s.p95 - 4.8).abs() < 1e-9);
        assert!((s.p99 - 4.96).abs() < 1e-9);
        assert_eq!(Spread::of([]), None);
        assert_eq!(Spread::of([f64::NAN]), None);
    }

    #[test]
    fn selector_reads_cluster_slash_service() {
        assert_eq!(
            Selector::parse("prod/api"),
            Selector {
                cluster: Some("prod".into()),
                service: Some("api".into()),
                standalone_family: None,
            }
        );
        assert_eq!(Selector::parse("api").cluster, None);
        let job = Selector::parse("standalone:migrate");
        assert_eq!(
            (job.service, job.standalone_family.as_deref()),
            (None, Some("migrate"))
        );
    }
}
