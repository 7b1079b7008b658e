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
use crate::summary::{self, DAY, Scope, transitions_col as transitions};

/// The timeline's columns: every projection of the union has them.
const TIME: &str = "time";
const KIND: &str = "kind";
const EVENT: &str = "event";
const DETAIL: &str = "detail";

/// How far back from `now` a task is looked for, in days: the last two
/// first (where post-mortems look), then two weeks, then the whole lake.
const LOOK_BACK_DAYS: [Option<i64>; 3] = [Some(2), Some(14), None];

/// Each side of a task's lifetime that its timeline also reads: clocks
/// differ, and log lines arrive after the stop.
const MARGIN: i64 = 3_600 * 1_000_000;

/// When a task lived, as its events tell it (µs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime {
    /// Its creation (`createdAt`, which every task event carries), else its
    /// first event.
    pub first: i64,
    /// Its stop, else its latest event.
    pub last: i64,
    /// Whether it stopped: a running task's timeline reads up to now.
    pub stopped: bool,
}

impl Lifetime {
    /// The window every scan of the timeline reads: the lifetime and a
    /// margin, so the days listed are the days the task ran; a task still
    /// running is read up to `now`.
    pub fn scope(&self, now: i64) -> Scope {
        let last = if self.stopped {
            self.last
        } else {
            now.max(self.last)
        };
        Scope {
            from: Some(self.first - MARGIN),
            to: Some(last + MARGIN),
        }
    }
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

/// Resolves a task id, ARN or unique id prefix to the task id and its
/// lifetime, looking back from `now` over [`LOOK_BACK_DAYS`]: the most
/// recent window with a match answers (a prefix is checked for ambiguity
/// within it).
pub async fn find(lake: &Lake, task: &str, now: i64) -> Result<(String, Lifetime)> {
    let wanted = task.rsplit('/').next().unwrap_or(task).to_owned();
    for days in LOOK_BACK_DAYS {
        // Bounded on both sides, so only the window's days are listed; the
        // last try reads the whole lake.
        let scope = Scope {
            from: days.map(|d| now - d * DAY),
            to: days.map(|_| now + DAY),
        };
        let found = summary::scan_table(&lake.ctx, &schema::task_events::DEF, scope)
            .await?
            .filter(starts_with(col(task_events::task_id), lit(wanted.as_str())))?
            .aggregate(
                vec![col(task_events::task_id)],
                vec![
                    min(coalesce(vec![
                        col(task_events::created_at),
                        col(task_events::event_time),
                    ]))
                    .alias("first"),
                    max(col(task_events::event_time)).alias("last"),
                    max(coalesce(vec![
                        col(task_events::stopped_at),
                        when(
                            col(task_events::last_status).eq(lit("STOPPED")),
                            col(task_events::event_time),
                        )
                        .end()?,
                    ]))
                    .alias("stopped"),
                ],
            )?
            .sort(vec![col(task_events::task_id).sort(true, false)])?
            .limit(0, Some(4))?;
        let found = crate::listing::collect(found).await?;
        let mut tasks: Vec<(String, Lifetime)> = Vec::new();
        for b in &found {
            let ids = b.column(0).as_string_view();
            let times = |i: usize| b.column(i).as_primitive::<TimestampMicrosecondType>();
            let (first, last, stopped) = (times(1), times(2), times(3));
            for row in 0..b.num_rows() {
                let stop = (!stopped.is_null(row)).then(|| stopped.value(row));
                tasks.push((
                    ids.value(row).to_owned(),
                    Lifetime {
                        first: first.value(row),
                        last: stop.map_or(last.value(row), |s| s.max(last.value(row))),
                        stopped: stop.is_some(),
                    },
                ));
            }
        }
        match tasks.as_slice() {
            [] => continue,
            [one] => return Ok(one.clone()),
            many => {
                if let Some(exact) = many.iter().find(|(id, _)| *id == wanted) {
                    return Ok(exact.clone());
                }
                return Err(Error::AmbiguousTask {
                    prefix: wanted,
                    count: many.len(),
                    examples: many
                        .iter()
                        .map(|(id, _)| id.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
    }
    Err(Error::NoSuchTask(task.to_owned()))
}

/// The timeline plan for one resolved task id, every scan restricted to
/// `scope` (the task's [`Lifetime::scope`]).
pub async fn plan(
    lake: &Lake,
    task_id: &str,
    scope: Scope,
    bucket_minutes: i64,
    last_lines: usize,
) -> Result<DataFrame> {
    let ctx = &lake.ctx;
    let table = |def: &'static TableDef| summary::scan_table(ctx, def, scope);
    // On each source's own task id column, though every one is `task_id`.
    let this = |task_id_column: &str| col(task_id_column).eq(lit(task_id));

    // One row per version, its values under their task_events names.
    let states = table(&schema::task_events::DEF)
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

    let exits = table(&schema::container_events::DEF)
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
    let memory = table(&schema::metrics::DEF)
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
                // Whole CPU units: a double printed as text is "2.56E2" on Athena.
                or_empty(cast(
                    datafusion::functions::expr_fn::round(vec![col("cpu"), lit(0i64)]),
                    DataType::Int64,
                )),
            ]),
        ))?;

    let transitions = summary::health_transitions(ctx, scope)
        .await?
        .filter(this(transitions::task_id))?
        .select(row(
            col(transitions::time),
            "health",
            concat(vec![
                coalesce(vec![col(transitions::from_status), lit("-")]),
                lit(" -> "),
                col(transitions::to_status),
            ]),
            concat(vec![
                coalesce(vec![col(transitions::container), lit("task")]),
                lit(" ("),
                col(transitions::source),
                lit(")"),
            ]),
        ))?;

    let lines = table(&schema::logs::DEF)
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
        // Every column: rows at one instant come out in one order whatever
        // the partitions (32 on S3).
        .sort(vec![
            col(TIME).sort(true, false),
            col(KIND).sort(true, false),
            col(EVENT).sort(true, false),
            col(DETAIL).sort(true, false),
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

/// The timeline of a task given by id, ARN or unique id prefix (looked for
/// back from `now`): the resolved task id and the plan, reading only the
/// days the task lived, showing `last_lines` log lines before the stop.
pub async fn timeline(
    lake: &Lake,
    task: &str,
    last_lines: usize,
    now: i64,
) -> Result<(String, DataFrame)> {
    let (task_id, life) = find(lake, task, now).await?;
    let scope = life.scope(now);
    let df = plan(
        lake,
        &task_id,
        scope,
        bucket_minutes(life.first, scope.to.unwrap_or(now) - MARGIN),
        last_lines,
    )
    .await?;
    Ok((task_id, df))
}
