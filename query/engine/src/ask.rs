//! Questions in the query language, and read-only SQL, as DataFusion plans.
//!
//! A question is parsed ([`crate::lang::parse`]), lowered to a plan over the
//! windowed summaries ([`crate::lang::lower`]), and either run or printed as
//! SQL (DataFusion's unparser) for Athena or `ecs-query sql`.

use datafusion::error::DataFusionError;
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::DataFrame;

use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::lang::{self, Query, lower};

/// The plan answering a parsed question over an opened lake; `now` in µs.
pub async fn plan_query(lake: &Lake, query: &Query, now: i64) -> Result<DataFrame> {
    Ok(lower::lower(&lake.ctx, query, now).await?)
}

/// The plan answering `question` over an opened lake; `now` in µs.
pub async fn plan(lake: &Lake, question: &str, now: i64) -> Result<DataFrame> {
    plan_query(lake, &lang::parse(question)?, now).await
}

/// The SQL text of a plan in DataFusion's dialect ([`crate::dialect`] has the others).
pub fn to_sql(df: &DataFrame) -> Result<String> {
    crate::dialect::to_sql(df, crate::dialect::SqlDialect::DataFusion)
}

/// What `ecs-query sql` may run: DataFusion's own plan verification
/// refuses DDL (`CREATE`, `DROP`), DML (`INSERT`, `COPY ... TO`) and
/// statements (`SET`), so a query cannot change the lake or write files.
fn read_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// Plans one read-only SQL query over the lake's tables and views.
pub async fn sql(lake: &Lake, query: &str) -> Result<DataFrame> {
    lake.ctx
        .sql_with_options(query, read_only())
        .await
        .map_err(|e| match e {
            DataFusionError::Plan(m) if m.contains("not supported") => Error::NotReadOnly(m),
            other => Error::Query(other),
        })
}
