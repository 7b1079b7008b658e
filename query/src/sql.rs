//! Read-only SQL over the lake.
//!
//! DataFusion's own plan verification refuses DDL (`CREATE`, `DROP`), DML
//! (`INSERT`, `COPY ... TO`) and statements (`SET`), so a query cannot change
//! the lake or write files elsewhere.

use std::io::Write;

use datafusion::error::DataFusionError;
use datafusion::execution::context::SQLOptions;

use crate::cli::Format;
use crate::error::CliError;
use crate::lake::Lake;
use crate::render;

fn read_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// Plans and runs one read-only query, rendering the result.
pub async fn run(
    lake: &Lake,
    query: &str,
    format: Format,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let df = lake
        .ctx
        .sql_with_options(query, read_only())
        .await
        .map_err(|e| match e {
            DataFusionError::Plan(m) if m.contains("not supported") => CliError::NotReadOnly(m),
            other => CliError::Query(other),
        })?;
    let schema = df.schema().as_arrow().clone();
    let batches = df.collect().await?;
    render::batches(&schema, &batches, format, out)
}
