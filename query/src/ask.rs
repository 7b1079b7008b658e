//! `ecs-query "<question>"`: parse, lower to a DataFusion plan, run, render.
//!
//! The question is parsed before the lake is opened, so a typo answers at
//! once. `--show-sql` prints the plan as SQL (DataFusion's unparser) instead
//! of running it, for Athena over the same lake or for `ecs-query sql`.

use std::io::Write;

use datafusion::prelude::DataFrame;

use crate::cli::{LakeArgs, OutputArgs};
use crate::error::CliError;
use crate::lake::Lake;
use crate::lang::{self, Query, lower};
use crate::render;

/// "Now" in microseconds: `--now`, else the clock.
pub fn now(output: &OutputArgs) -> i64 {
    output
        .now
        .unwrap_or_else(|| chrono::Utc::now().timestamp_micros())
}

/// The plan answering `question` over an opened lake.
pub async fn plan(lake: &Lake, question: &str, now: i64) -> Result<DataFrame, CliError> {
    let query = lang::parse(question)?;
    Ok(lower::lower(&lake.ctx, &query, now).await?)
}

/// The SQL text of a plan.
pub fn to_sql(df: &DataFrame) -> Result<String, CliError> {
    let statement = datafusion::sql::unparser::plan_to_sql(df.logical_plan())?;
    Ok(format!("{statement};"))
}

/// Answers one question: rendered rows, or the SQL with `--show-sql`.
pub async fn answer(
    lake: &Lake,
    question: &str,
    output: &OutputArgs,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    answer_query(lake, &lang::parse(question)?, output, out).await
}

async fn answer_query(
    lake: &Lake,
    query: &Query,
    output: &OutputArgs,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let df = lower::lower(&lake.ctx, query, now(output)).await?;
    if output.show_sql {
        writeln!(out, "{}", to_sql(&df)?)?;
        return Ok(());
    }
    let schema = df.schema().as_arrow().clone();
    let batches = df.collect().await?;
    render::batches(&schema, &batches, output.format, out)
}

pub async fn run(
    lake_args: &LakeArgs,
    question: &str,
    output: &OutputArgs,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    // A typo is reported before the lake is opened.
    let query = lang::parse(question)?;
    let lake = Lake::open(lake_args).await?;
    answer_query(&lake, &query, output, out).await
}
