//! One task's story in time order (`ecs-query timeline <task-id>`).
//!
//! One plan: a union of five projections to `(time, kind, event, detail)`,
//! each filtered on the task id: state changes (one per `detail.version`,
//! duplicates removed), container exits, Container Insights memory condensed
//! into buckets (the peak of each), health transitions, log lines with a
//! crash signature, and the last log lines before the stop.

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, TimestampMicrosecondType};
use datafusion::common::ScalarValue;
use datafusion::functions::expr_fn::{coalesce, concat, date_bin, starts_with};
use datafusion::functions_aggregate::expr_fn::{max, min};
use datafusion::prelude::{DataFrame, Expr, cast, col, lit, when};

use crate::error::{Error, Result};
use crate::lake::Lake;

fn text(e: Expr) -> Expr {
    cast(e, DataType::Utf8)
}

fn or_empty(e: Expr) -> Expr {
    coalesce(vec![text(e), lit("")])
}

fn row(time: Expr, kind: &str, event: Expr, detail: Expr) -> Vec<Expr> {
    vec![
        time.alias("time"),
        lit(kind).alias("kind"),
        text(event).alias("event"),
        text(detail).alias("detail"),
    ]
}

/// Resolves a task id, ARN or unique id prefix to the task id.
pub async fn resolve(lake: &Lake, task: &str) -> Result<String> {
    let wanted = task.rsplit('/').next().unwrap_or(task).to_owned();
    let found = lake
        .ctx
        .table("task_events")
        .await?
        .filter(starts_with(col("task_id"), lit(wanted.as_str())))?
        .aggregate(vec![col("task_id")], vec![])?
        .sort(vec![col("task_id").sort(true, false)])?
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
    let b = lake
        .ctx
        .table("task_events")
        .await?
        .filter(col("task_id").eq(lit(task_id)))?
        .aggregate(
            vec![],
            vec![
                min(col("event_time")).alias("first"),
                max(col("event_time")).alias("last"),
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
    let this = || col("task_id").eq(lit(task_id));

    let states = ctx
        .table("task_events")
        .await?
        .filter(this())?
        .aggregate(
            vec![col("version")],
            vec![
                min(coalesce(vec![col("updated_at"), col("event_time")])).alias("at"),
                max(col("last_status")).alias("last_status"),
                max(col("desired_status")).alias("desired_status"),
                max(col("health_status")).alias("health_status"),
                max(col("stop_cause")).alias("stop_cause"),
                max(col("exit_code")).alias("exit_code"),
                max(col("exit_kind")).alias("exit_kind"),
                max(col("stopped_reason")).alias("stopped_reason"),
                max(col("family")).alias("family"),
                max(col("revision")).alias("revision"),
                max(col("deployment_id")).alias("deployment_id"),
            ],
        )?
        .select(row(
            col("at"),
            "task",
            concat(vec![
                col("last_status"),
                lit(" (desired "),
                or_empty(col("desired_status")),
                lit(")"),
            ]),
            when(
                col("stop_cause").is_not_null(),
                concat(vec![
                    lit("stopped: "),
                    col("stop_cause"),
                    lit(", exit "),
                    or_empty(col("exit_code")),
                    lit(" "),
                    or_empty(col("exit_kind")),
                    lit(" — "),
                    or_empty(col("stopped_reason")),
                ]),
            )
            .otherwise(concat(vec![
                lit("health "),
                coalesce(vec![col("health_status"), lit("-")]),
                lit(", "),
                or_empty(col("family")),
                lit(":"),
                or_empty(col("revision")),
                lit(" "),
                or_empty(col("deployment_id")),
            ]))?,
        ))?;

    let exits = ctx
        .table("container_events")
        .await?
        .filter(
            this().and(
                col("exit_code")
                    .is_not_null()
                    .or(col("reason").is_not_null()),
            ),
        )?
        .aggregate(
            vec![col("container_name")],
            vec![
                min(col("event_time")).alias("at"),
                max(col("exit_code")).alias("exit_code"),
                max(col("exit_kind")).alias("exit_kind"),
                max(col("reason")).alias("reason"),
                max(col("image")).alias("image"),
            ],
        )?
        .select(row(
            col("at"),
            "container",
            concat(vec![
                col("container_name"),
                lit(" exited "),
                or_empty(col("exit_code")),
            ]),
            concat(vec![
                or_empty(col("exit_kind")),
                lit(" "),
                or_empty(col("reason")),
                lit(" "),
                or_empty(col("image")),
            ]),
        ))?;

    let bucket = lit(ScalarValue::new_interval_mdn(
        0,
        0,
        bucket_minutes * 60 * 1_000_000_000,
    ));
    let memory = ctx
        .table("metrics")
        .await?
        .filter(this().and(col("record_type").eq(lit("Task"))))?
        .aggregate(
            vec![
                date_bin(
                    bucket,
                    col("time"),
                    lit(ScalarValue::TimestampMicrosecond(
                        Some(0),
                        Some("UTC".into()),
                    )),
                )
                .alias("bucket"),
            ],
            vec![
                max(col("time")).alias("at"),
                max(col("memory_utilized")).alias("peak"),
                max(col("memory_reserved")).alias("limit"),
                max(col("cpu_utilized")).alias("cpu"),
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

    let health = ctx
        .table("health_transitions")
        .await?
        .filter(this())?
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

    let logs = ctx.table("logs").await?.filter(this())?;
    let signatures = logs
        .clone()
        .filter(col("signature").is_not_null())?
        .select(row(
            col("time"),
            "signature",
            col("signature"),
            col("message"),
        ))?;
    let last = logs
        .filter(col("signature").is_null())?
        .sort(vec![col("time").sort(false, false)])?
        .limit(0, Some(last_lines))?
        .select(row(
            col("time"),
            "log",
            coalesce(vec![col("level"), lit("")]),
            col("message"),
        ))?;

    Ok(states
        .union(exits)?
        .union(memory)?
        .union(health)?
        .union(signatures)?
        .union(last)?
        .sort(vec![
            col("time").sort(true, false),
            col("kind").sort(true, false),
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
