//! One task's story in time order (`ecs-query timeline <task-id>`).
//!
//! One plan: a union of five projections to `(time, kind, event, detail)`,
//! each filtered on the task id: state changes (one per `detail.version`,
//! duplicates removed), container exits, Container Insights memory condensed
//! into buckets (the peak of each), health transitions, log lines with a
//! crash signature, and the last log lines before the stop.
//!
//! Lake columns are their table's generated constants, each table's `col`
//! module imported under the table's name as in [`crate::summary`]; the
//! timeline's own columns and the few names an aggregate gives and the next
//! projection reads (`at`, `peak`, ...) are this module's.

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, TimestampMicrosecondType};
use datafusion::common::ScalarValue;
use datafusion::functions::expr_fn::{coalesce, concat, date_bin, starts_with};
use datafusion::functions_aggregate::expr_fn::{max, min};
use datafusion::prelude::{DataFrame, Expr, cast, col, lit, when};
use ecs_lake::schema::container_events::col as container_events;
use ecs_lake::schema::logs::col as logs;
use ecs_lake::schema::metrics::col as metrics;
use ecs_lake::schema::task_events::col as task_events;
use ecs_lake::schema::{self, TableDef};

use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::summary;

/// The timeline's columns: every projection of the union has them.
const TIME: &str = "time";
const KIND: &str = "kind";
const EVENT: &str = "event";
const DETAIL: &str = "detail";

/// A whole lake table: a timeline reads one task, whenever it ran.
async fn table(lake: &Lake, def: &TableDef) -> Result<DataFrame> {
    Ok(lake.ctx.table(def.sql_name()).await?)
}

fn text(e: Expr) -> Expr {
    cast(e, DataType::Utf8)
}

fn or_empty(e: Expr) -> Expr {
    coalesce(vec![text(e), lit("")])
}

fn row(time: Expr, kind: &str, event: Expr, detail: Expr) -> Vec<Expr> {
    vec![
        time.alias(TIME),
        lit(kind).alias(KIND),
        text(event).alias(EVENT),
        text(detail).alias(DETAIL),
    ]
}

/// Resolves a task id, ARN or unique id prefix to the task id.
pub async fn resolve(lake: &Lake, task: &str) -> Result<String> {
    let wanted = task.rsplit('/').next().unwrap_or(task).to_owned();
    let found = table(lake, &schema::task_events::DEF)
        .await?
        .filter(starts_with(col(task_events::task_id), lit(wanted.as_str())))?
        .aggregate(vec![col(task_events::task_id)], vec![])?
        .sort(vec![col(task_events::task_id).sort(true, false)])?
        .limit(0, Some(4))?
        .collect()
        .await?;
    let ids: Vec<String> = found
        .iter()
        .flat_map(|b| {
            let a = b.column(0).as_string_view();
            (0..a.len())
                .map(|i| a.value(i).to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    match ids.as_slice() {
        [] => Err(Error::NoSuchTask(task.to_owned())),
        [one] => Ok(one.clone()),
        _ if ids.contains(&wanted) => Ok(wanted),
        many => Err(Error::AmbiguousTask {
            prefix: wanted,
            count: many.len(),
            examples: many.join(", "),
        }),
    }
}

/// The task's first and last event times (µs), to size the memory buckets.
pub async fn lifetime(lake: &Lake, task_id: &str) -> Result<(i64, i64)> {
    let b = table(lake, &schema::task_events::DEF)
        .await?
        .filter(col(task_events::task_id).eq(lit(task_id)))?
        .aggregate(
            vec![],
            vec![
                min(col(task_events::event_time)).alias("first"),
                max(col(task_events::event_time)).alias("last"),
            ],
        )?
        .collect()
        .await?;
    let get = |i: usize| {
        b.first()
            .map(|b| b.column(i).as_primitive::<TimestampMicrosecondType>())
            .filter(|a| !a.is_empty() && !a.is_null(0))
            .map_or(0, |a| a.value(0))
    };
    Ok((get(0), get(1)))
}

/// The timeline plan for one resolved task id.
pub async fn plan(
    lake: &Lake,
    task_id: &str,
    bucket_minutes: i64,
    last_lines: usize,
) -> Result<DataFrame> {
    let ctx = &lake.ctx;
    // On each source's own task id column, though every one is `task_id`.
    let this = |task_id_column: &str| col(task_id_column).eq(lit(task_id));

    // One row per version, its values under their task_events names.
    let states = table(lake, &schema::task_events::DEF)
        .await?
        .filter(this(task_events::task_id))?
        .aggregate(
            vec![col(task_events::version)],
            vec![
                min(coalesce(vec![
                    col(task_events::updated_at),
                    col(task_events::event_time),
                ]))
                .alias("at"),
                summary::max_of(task_events::last_status),
                summary::max_of(task_events::desired_status),
                summary::max_of(task_events::health_status),
                summary::max_of(task_events::stop_cause),
                summary::max_of(task_events::exit_code),
                summary::max_of(task_events::exit_kind),
                summary::max_of(task_events::stopped_reason),
                summary::max_of(task_events::family),
                summary::max_of(task_events::revision),
                summary::max_of(task_events::deployment_id),
            ],
        )?
        .select(row(
            col("at"),
            "task",
            concat(vec![
                col(task_events::last_status),
                lit(" (desired "),
                or_empty(col(task_events::desired_status)),
                lit(")"),
            ]),
            when(
                col(task_events::stop_cause).is_not_null(),
                concat(vec![
                    lit("stopped: "),
                    col(task_events::stop_cause),
                    lit(", exit "),
                    or_empty(col(task_events::exit_code)),
                    lit(" "),
                    or_empty(col(task_events::exit_kind)),
                    lit(" — "),
                    or_empty(col(task_events::stopped_reason)),
                ]),
            )
            .otherwise(concat(vec![
                lit("health "),
                coalesce(vec![col(task_events::health_status), lit("-")]),
                lit(", "),
                or_empty(col(task_events::family)),
                lit(":"),
                or_empty(col(task_events::revision)),
                lit(" "),
                or_empty(col(task_events::deployment_id)),
            ]))?,
        ))?;

    let exits = table(lake, &schema::container_events::DEF)
        .await?
        .filter(
            this(container_events::task_id).and(
                col(container_events::exit_code)
                    .is_not_null()
                    .or(col(container_events::reason).is_not_null()),
            ),
        )?
        .aggregate(
            vec![col(container_events::container_name)],
            vec![
                min(col(container_events::event_time)).alias("at"),
                summary::max_of(container_events::exit_code),
                summary::max_of(container_events::exit_kind),
                summary::max_of(container_events::reason),
                summary::max_of(container_events::image),
            ],
        )?
        .select(row(
            col("at"),
            "container",
            concat(vec![
                col(container_events::container_name),
                lit(" exited "),
                or_empty(col(container_events::exit_code)),
            ]),
            concat(vec![
                or_empty(col(container_events::exit_kind)),
                lit(" "),
                or_empty(col(container_events::reason)),
                lit(" "),
                or_empty(col(container_events::image)),
            ]),
        ))?;

    let bucket = lit(ScalarValue::new_interval_mdn(
        0,
        0,
        bucket_minutes * 60 * 1_000_000_000,
    ));
    let memory = table(lake, &schema::metrics::DEF)
        .await?
        .filter(this(metrics::task_id).and(col(metrics::record_type).eq(lit("Task"))))?
        .aggregate(
            vec![
                date_bin(
                    bucket,
                    col(metrics::time),
                    lit(ScalarValue::TimestampMicrosecond(
                        Some(0),
                        Some("UTC".into()),
                    )),
                )
                .alias("bucket"),
            ],
            vec![
                max(col(metrics::time)).alias("at"),
                max(col(metrics::memory_utilized)).alias("peak"),
                max(col(metrics::memory_reserved)).alias("limit"),
                max(col(metrics::cpu_utilized)).alias("cpu"),
            ],
        )?
        .select(row(
            col("at"),
            "memory",
            concat(vec![
                lit("peak "),
                or_empty(col("peak")),
                lit(" of "),
                or_empty(col("limit")),
                lit(" MiB"),
            ]),
            concat(vec![
                lit(format!("max over {bucket_minutes} min; cpu peak ")),
                or_empty(datafusion::functions::expr_fn::round(vec![
                    col("cpu"),
                    lit(0i64),
                ])),
            ]),
        ))?;

    // A view in SQL text (views.rs), whose column names are literals there.
    let transitions = ctx
        .table("health_transitions")
        .await?
        .filter(this("task_id"))?
        .select(row(
            col("time"),
            "health",
            concat(vec![
                coalesce(vec![col("from_status"), lit("-")]),
                lit(" -> "),
                col("to_status"),
            ]),
            concat(vec![
                coalesce(vec![col("container"), lit("task")]),
                lit(" ("),
                col("source"),
                lit(")"),
            ]),
        ))?;

    let lines = table(lake, &schema::logs::DEF)
        .await?
        .filter(this(logs::task_id))?;
    let signatures = lines
        .clone()
        .filter(col(logs::signature).is_not_null())?
        .select(row(
            col(logs::time),
            "signature",
            col(logs::signature),
            col(logs::message),
        ))?;
    let last = lines
        .filter(col(logs::signature).is_null())?
        .sort(vec![col(logs::time).sort(false, false)])?
        .limit(0, Some(last_lines))?
        .select(row(
            col(logs::time),
            "log",
            coalesce(vec![col(logs::level), lit("")]),
            col(logs::message),
        ))?;

    Ok(states
        .union(exits)?
        .union(memory)?
        .union(transitions)?
        .union(signatures)?
        .union(last)?
        .sort(vec![
            col(TIME).sort(true, false),
            col(KIND).sort(true, false),
        ])?)
}

/// Memory bucket width (minutes) for a task that lived from `first` to
/// `last` (µs): about two dozen memory rows whatever the task's age.
pub fn bucket_minutes(first: i64, last: i64) -> i64 {
    let minutes = ((last - first) / 60_000_000 / 24).max(1);
    [1, 5, 10, 15, 30, 60, 180, 360, 720, 1440]
        .into_iter()
        .find(|b| *b >= minutes)
        .unwrap_or(1440)
}

/// The timeline of a task given by id, ARN or unique id prefix: the resolved
/// task id and the plan, showing `last_lines` log lines before the stop.
pub async fn timeline(lake: &Lake, task: &str, last_lines: usize) -> Result<(String, DataFrame)> {
    let task_id = resolve(lake, task).await?;
    let (first, last) = lifetime(lake, &task_id).await?;
    let df = plan(lake, &task_id, bucket_minutes(first, last), last_lines).await?;
    Ok((task_id, df))
}
