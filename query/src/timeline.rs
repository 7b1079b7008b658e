//! `ecs-query timeline <task>`: one task's story in time order
//! ([`ecs_query_engine::timeline`]), rendered like any answer.

use std::io::Write;

use ecs_query_engine::dialect::to_sql;
use ecs_query_engine::timeline::timeline;

use crate::cli::{Format, LakeArgs, OutputArgs, TimelineArgs};
use crate::error::CliError;
use crate::render;

pub async fn run(
    lake_args: &LakeArgs,
    args: &TimelineArgs,
    output: &OutputArgs,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let lake = crate::open_lake(lake_args).await?;
    let now = output.now.unwrap_or_else(ecs_lake::time::now_micros);
    let (task_id, df) = timeline(&lake, &args.task, args.lines, now).await?;
    if output.show_sql {
        writeln!(out, "{}", to_sql(&df, output.dialect.into())?)?;
        return Ok(());
    }
    if matches!(output.format, Format::Table | Format::Markdown) {
        writeln!(out, "Timeline of task {task_id}")?;
    }
    render::frame(df, output.format, out).await
}
