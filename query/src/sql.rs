//! `ecs-query sql "<query>"`: read-only SQL over the lake
//! ([`ecs_query_engine::ask::sql`] refuses anything that writes).

use std::io::Write;

use ecs_query_engine::Lake;

use crate::cli::Format;
use crate::error::CliError;
use crate::render;

/// Plans and runs one read-only query, rendering the result.
pub async fn run(
    lake: &Lake,
    query: &str,
    format: Format,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let df = ecs_query_engine::ask::sql(lake, query).await?;
    render::frame(df, format, out).await
}
