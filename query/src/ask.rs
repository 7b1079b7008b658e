//! `ecs-query "<question>"`: parse, plan ([`ecs_query_engine::ask`]), run,
//! render.
//!
//! The question is parsed before the lake is opened, so a typo answers at
//! once. `--show-sql` prints the plan as SQL instead of running it, for
//! Athena over the same lake or for `ecs-query sql`.

use std::io::Write;

use ecs_query_engine::Lake;
use ecs_query_engine::ask::plan_query;
use ecs_query_engine::dialect::to_sql;
use ecs_query_engine::lang::{self, Query};

use crate::cli::{LakeArgs, OutputArgs};
use crate::error::CliError;
use crate::render;

/// "Now" in microseconds: `--now`, else the clock.
pub fn now(output: &OutputArgs) -> i64 {
    output.now.unwrap_or_else(ecs_lake::time::now_micros)
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
    let df = plan_query(lake, query, now(output)).await?;
    if output.show_sql {
        writeln!(out, "{}", to_sql(&df, output.dialect.into())?)?;
        return Ok(());
    }
    render::frame(df, output.format, out).await
}

pub async fn run(
    lake_args: &LakeArgs,
    question: &str,
    output: &OutputArgs,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    // A typo is reported before the lake is opened.
    let query = lang::parse(question)?;
    let lake = crate::open_lake(lake_args).await?;
    answer_query(&lake, &query, output, out).await
}
