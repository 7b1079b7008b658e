//! A plan as SQL for another engine: DataFusion's own dialect, Athena
//! (Trino, engine version 3) and DuckDB.
//!
//! The plans the language, the timeline, `diagnose` and the report build are
//! DataFusion logical plans; [`to_sql`] unparses one with DataFusion's
//! unparser, then makes it what the target engine accepts and answers the
//! same way:
//!
//! * **Timestamps as integers.** The summaries subtract timestamps as
//!   microseconds (`CAST(ts AS BIGINT)` in DataFusion). Trino and DuckDB do
//!   not cast a timestamp to a number, so each such cast becomes the
//!   engine's own: DuckDB's `epoch_us(ts)`; on Athena the milliseconds since
//!   the epoch times 1000 (Athena reads the lake's timestamps as
//!   milliseconds: the Glue tables declare `timestamp`, Trino's
//!   `timestamp(3)`), so a difference is exact to the millisecond, and the
//!   order of two events within one millisecond is the only thing Athena
//!   cannot see.
//! * **Literals, Athena.** Timestamps as `TIMESTAMP '2026-11-20 06:00:00.000000'`
//!   (UTC, a space, microseconds: `< TIMESTAMP '… .000001'` keeps meaning
//!   "up to and including the second"), intervals in one unit
//!   (`INTERVAL '7' DAY`), and decimal numbers as doubles (`1000000.0E0`:
//!   Trino reads `1000000.0` as a DECIMAL, and a BIGINT divided by a
//!   `DECIMAL(8,1)` keeps one decimal place).
//! * **Functions, Athena.** Trino has no exact percentile:
//!   `percentile_cont(p) WITHIN GROUP (ORDER BY x)` and `median(x)` become
//!   `approx_percentile(x, p)`, a value of the data near that rank (a
//!   quantile digest), not an interpolation: the deployments' memory
//!   percentiles and median time to healthy can differ from DataFusion's.
//!   `date_bin` becomes epoch arithmetic, field extraction is
//!   `EXTRACT(field FROM ts)`, `lag`/`lead` lose their (ignored) frame, and
//!   identifiers are always quoted. `to_unixtime`/`from_unixtime` read the
//!   zone-less timestamps in the session's zone: Athena's is UTC.
//! * **Views.** The lake's views (`tasks`, `deployments`, …) exist only in
//!   DataFusion's session: a plan reading one is printed with the view's
//!   own plan in its place.
//! * **Derived tables.** The unparser refers to an unnamed subquery over one
//!   table by that table's name; such a subquery is given the name (both
//!   dialects) unless another relation of the FROM has it.
//! * **DuckDB.** `epoch_us`, `time_bucket` for `date_bin`, `/` for division
//!   and `//` only where both sides are integers (DataFusion's integer
//!   division; DuckDB's `/` always gives a double).
//!
//! Every scan keeps its `dt` predicates (the plans filter each table on the
//! window's days), so partition projection prunes what Athena reads and
//! bills.

use std::sync::{Arc, LazyLock, Mutex};

use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{DFSchema, Result as DfResult, ScalarValue, not_impl_err};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, LogicalPlanBuilder, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::DataFrame;
use datafusion::sql::sqlparser::ast::{
    self, DateTimeField, FunctionArg, FunctionArgExpr, FunctionArguments, Interval, Value,
    ValueWithSpan, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::unparser::Unparser;
use datafusion::sql::unparser::dialect::{
    CharacterLengthStyle, DateFieldExtractStyle, DefaultDialect, Dialect, DuckDBDialect,
    IntervalStyle,
};

use crate::error::Result;

/// The SQL dialect a plan is printed in (`--show-sql --dialect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqlDialect {
    /// DataFusion's own (what `ecs-query sql` runs).
    #[default]
    DataFusion,
    /// Amazon Athena, engine version 3 (Trino).
    Athena,
    /// DuckDB.
    DuckDb,
}

/// The SQL text of a plan in `dialect`, ending with `;`.
pub fn to_sql(df: &DataFrame, dialect: SqlDialect) -> Result<String> {
    let statement = match dialect {
        SqlDialect::DataFusion => {
            Unparser::new(&DefaultDialect {}).plan_to_sql(df.logical_plan())?
        }
        SqlDialect::Athena => {
            let mut statement =
                Unparser::new(&AthenaDialect).plan_to_sql(&portable(df.logical_plan())?)?;
            let _ = statement.visit(&mut Finish { trino: true });
            statement
        }
        SqlDialect::DuckDb => {
            let mut statement = Unparser::new(&DuckDb(DuckDBDialect::new()))
                .plan_to_sql(&portable(df.logical_plan())?)?;
            let _ = statement.visit(&mut Finish { trino: false });
            statement
        }
    };
    Ok(format!("{statement};"))
}

/// Every plan a lake's session runs through [`crate::collect`], beside
/// DataFusion's answer ([`crate::Lake::log_queries`]): how the SQL of
/// `diagnose`, the report and the timeline is taken in another dialect and
/// checked against another engine.
#[derive(Debug, Default)]
pub struct QueryLog {
    queries: Mutex<Vec<LoggedQuery>>,
}

/// One plan that ran, and its answer.
#[derive(Debug, Clone)]
pub struct LoggedQuery {
    pub plan: DataFrame,
    pub answer: Vec<RecordBatch>,
}

impl LoggedQuery {
    /// The plan in `dialect`.
    pub fn sql(&self, dialect: SqlDialect) -> Result<String> {
        to_sql(&self.plan, dialect)
    }

    /// The plan's columns (an answer without rows has no batch to carry them).
    pub fn schema(&self) -> SchemaRef {
        Arc::new(self.plan.schema().as_arrow().clone())
    }
}

impl QueryLog {
    /// Notes a plan that ran and what it answered.
    pub fn record(&self, df: &DataFrame, answer: &[RecordBatch]) {
        if let Ok(mut queries) = self.queries.lock() {
            queries.push(LoggedQuery {
                plan: df.clone(),
                answer: answer.to_vec(),
            });
        }
    }

    /// The plans noted so far, oldest first, leaving the log empty.
    pub fn take(&self) -> Vec<LoggedQuery> {
        self.queries
            .lock()
            .map(|mut q| std::mem::take(&mut *q))
            .unwrap_or_default()
    }
}

/// The plan as another engine must see it: the lake's views (`tasks`,
/// `deployments`, … exist only in DataFusion's session) replaced by their
/// plans, and every cast of a timestamp to a 64-bit integer (microseconds
/// since the epoch, in DataFusion) written as a call of `epoch_us`, and every
/// division of two integers as `int_div`, which each target dialect prints
/// as its own.
fn portable(plan: &LogicalPlan) -> Result<LogicalPlan> {
    let inlined = plan
        .clone()
        .transform_down_with_subqueries(|node| match &node {
            LogicalPlan::TableScan(scan)
                if scan.projection.is_none() && scan.filters.is_empty() =>
            {
                match scan.source.get_logical_plan() {
                    Some(view) => Ok(Transformed::yes(
                        LogicalPlanBuilder::from(view.into_owned())
                            .alias(scan.table_name.clone())?
                            .build()?,
                    )),
                    None => Ok(Transformed::no(node)),
                }
            }
            _ => Ok(Transformed::no(node)),
        })?;
    let rewritten = inlined.data.transform_up_with_subqueries(|node| {
        let schema = input_schema(&node)?;
        node.map_expressions(|e| {
            e.transform_up(|e| match e {
                Expr::Cast(cast)
                    if cast.field.data_type() == &DataType::Int64
                        && matches!(
                            cast.expr.get_type(&schema)?,
                            DataType::Timestamp(TimeUnit::Microsecond, _)
                        ) =>
                {
                    Ok(Transformed::yes(EPOCH_US.call(vec![*cast.expr])))
                }
                // DataFusion divides integers as integers, DuckDB's `/` does not.
                Expr::BinaryExpr(b)
                    if b.op == datafusion::logical_expr::Operator::Divide
                        && b.left.get_type(&schema).is_ok_and(|t| t.is_integer())
                        && b.right.get_type(&schema).is_ok_and(|t| t.is_integer()) =>
                {
                    Ok(Transformed::yes(INT_DIV.call(vec![*b.left, *b.right])))
                }
                other => Ok(Transformed::no(other)),
            })
        })
    });
    Ok(rewritten.data()?)
}

/// The columns a node's expressions refer to: its inputs' (a scan's own).
fn input_schema(node: &LogicalPlan) -> DfResult<DFSchema> {
    let inputs = node.inputs();
    let Some((first, rest)) = inputs.split_first() else {
        return Ok(node.schema().as_ref().clone());
    };
    let mut schema = first.schema().as_ref().clone();
    for input in rest {
        schema.merge(input.schema());
    }
    Ok(schema)
}

static EPOCH_US: LazyLock<ScalarUDF> =
    LazyLock::new(|| ScalarUDF::new_from_impl(Printed::new("epoch_us", 1)));
static INT_DIV: LazyLock<ScalarUDF> =
    LazyLock::new(|| ScalarUDF::new_from_impl(Printed::new("int_div", 2)));

/// A function only the SQL printers know (`epoch_us`: microseconds since
/// the epoch; `int_div`: integer division), never run.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Printed(&'static str, Signature);

impl Printed {
    fn new(name: &'static str, args: usize) -> Self {
        Printed(name, Signature::any(args, Volatility::Immutable))
    }
}

impl ScalarUDFImpl for Printed {
    fn name(&self) -> &str {
        self.0
    }
    fn signature(&self) -> &Signature {
        &self.1
    }
    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, _: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        not_impl_err!("{} exists only in SQL printed for another engine", self.0)
    }
}

/// DuckDB: DataFusion's DuckDB dialect, with `/` for division (its `//`
/// only where both sides are integers, `int_div`), `date_bin` as
/// `time_bucket` and the microseconds of a timestamp as `epoch_us`.
struct DuckDb(DuckDBDialect);

impl Dialect for DuckDb {
    fn identifier_quote_style(&self, identifier: &str) -> Option<char> {
        self.0.identifier_quote_style(identifier)
    }
    fn character_length_style(&self) -> CharacterLengthStyle {
        self.0.character_length_style()
    }
    fn distinct_from_style(&self) -> datafusion::sql::unparser::dialect::DistinctFromStyle {
        self.0.distinct_from_style()
    }
    fn scalar_function_to_sql_overrides(
        &self,
        unparser: &Unparser,
        func_name: &str,
        args: &[Expr],
    ) -> DfResult<Option<ast::Expr>> {
        let sql = |e: &Expr| unparser.expr_to_sql(e);
        match (func_name, args) {
            ("int_div", [a, b]) => Ok(Some(sql_expr(&format!("({} // {})", sql(a)?, sql(b)?))?)),
            ("date_bin", [stride, ts]) => Ok(Some(sql_expr(&format!(
                "time_bucket({}, {})",
                sql(stride)?,
                sql(ts)?
            ))?)),
            ("date_bin", [stride, ts, origin]) => Ok(Some(sql_expr(&format!(
                "time_bucket({}, {}, {})",
                sql(stride)?,
                sql(ts)?,
                sql(origin)?
            ))?)),
            _ => self
                .0
                .scalar_function_to_sql_overrides(unparser, func_name, args),
        }
    }
}

/// Athena (Trino) as DataFusion's unparser sees it; [`Finish`] finishes
/// what the trait cannot say.
struct AthenaDialect;

impl Dialect for AthenaDialect {
    fn identifier_quote_style(&self, _: &str) -> Option<char> {
        Some('"')
    }
    fn interval_style(&self) -> IntervalStyle {
        IntervalStyle::SQLStandard
    }
    fn date_field_extract_style(&self) -> DateFieldExtractStyle {
        DateFieldExtractStyle::Extract
    }
    fn character_length_style(&self) -> CharacterLengthStyle {
        CharacterLengthStyle::Length
    }
    fn supports_qualify(&self) -> bool {
        false
    }
    fn timestamp_cast_dtype(&self, _: &TimeUnit, _: &Option<Arc<str>>) -> ast::DataType {
        ast::DataType::Timestamp(None, ast::TimezoneInfo::None)
    }
    fn timestamp_with_tz_to_string(&self, dt: chrono::DateTime<Tz>, _: TimeUnit) -> String {
        dt.naive_utc().format("%Y-%m-%d %H:%M:%S%.6f").to_string()
    }
    fn scalar_function_to_sql_overrides(
        &self,
        unparser: &Unparser,
        func_name: &str,
        args: &[Expr],
    ) -> DfResult<Option<ast::Expr>> {
        match (func_name, args) {
            ("epoch_us", [ts]) => {
                let ts = unparser.expr_to_sql(ts)?;
                Ok(Some(sql_expr(&format!(
                    "CAST(round(to_unixtime({ts}) * 1000) AS BIGINT) * 1000"
                ))?))
            }
            // Trino divides integers as integers, as DataFusion does.
            ("int_div", [a, b]) => {
                let (a, b) = (unparser.expr_to_sql(a)?, unparser.expr_to_sql(b)?);
                Ok(Some(sql_expr(&format!("({a} / {b})"))?))
            }
            // Trino has no date_bin: the bucket's start from epoch seconds.
            ("date_bin", [stride, ts, rest @ ..]) => {
                let (Some(stride), Some(origin)) = (
                    stride_seconds(stride),
                    rest.first().map_or(Some(0.0), epoch_seconds),
                ) else {
                    return Ok(None);
                };
                let ts = unparser.expr_to_sql(ts)?;
                Ok(Some(sql_expr(&format!(
                    "CAST(from_unixtime(floor((to_unixtime({ts}) - {origin}) / {stride}) * {stride} + {origin}) AS TIMESTAMP)"
                ))?))
            }
            _ => Ok(None),
        }
    }
    /// Trino refuses a frame on the functions that do not use one.
    fn window_func_support_window_frame(
        &self,
        func_name: &str,
        _: &ast::WindowFrameBound,
        _: &ast::WindowFrameBound,
    ) -> bool {
        !matches!(
            func_name.to_ascii_lowercase().as_str(),
            "lag"
                | "lead"
                | "row_number"
                | "rank"
                | "dense_rank"
                | "ntile"
                | "percent_rank"
                | "cume_dist"
        )
    }
}

/// A literal interval of days and (nano)seconds, in seconds (`date_bin`'s stride).
fn stride_seconds(e: &Expr) -> Option<f64> {
    match e {
        Expr::Literal(ScalarValue::IntervalMonthDayNano(Some(v)), _) if v.months == 0 => {
            Some(f64::from(v.days) * 86_400.0 + v.nanoseconds as f64 / 1e9)
        }
        Expr::Literal(ScalarValue::IntervalDayTime(Some(v)), _) => {
            Some(f64::from(v.days) * 86_400.0 + f64::from(v.milliseconds) / 1e3)
        }
        _ => None,
    }
}

/// A literal timestamp in seconds since the epoch (`date_bin`'s origin).
fn epoch_seconds(e: &Expr) -> Option<f64> {
    match e {
        Expr::Literal(ScalarValue::TimestampMicrosecond(Some(us), _), _) => Some(*us as f64 / 1e6),
        Expr::Literal(ScalarValue::TimestampMillisecond(Some(ms), _), _) => Some(*ms as f64 / 1e3),
        Expr::Literal(ScalarValue::TimestampSecond(Some(s), _), _) => Some(*s as f64),
        Expr::Literal(ScalarValue::TimestampNanosecond(Some(ns), _), _) => Some(*ns as f64 / 1e9),
        _ => None,
    }
}

/// An expression written as SQL text (for the few rewrites easier read than
/// built node by node).
fn sql_expr(text: &str) -> DfResult<ast::Expr> {
    Ok(Parser::new(&GenericDialect {})
        .try_with_sql(text)?
        .parse_expr()?)
}

/// What the unparser's dialect trait cannot express: names for derived
/// tables (both dialects) and, for Trino, typed timestamp literals, one-unit
/// intervals, decimal literals as doubles, and approximate percentiles.
struct Finish {
    trino: bool,
}

impl VisitorMut for Finish {
    type Break = ();

    fn post_visit_query(&mut self, query: &mut ast::Query) -> std::ops::ControlFlow<()> {
        name_derived_tables(query);
        std::ops::ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut ast::Expr) -> std::ops::ControlFlow<()> {
        if let Some(replacement) = self.trino.then(|| for_trino(expr)).flatten() {
            *expr = replacement;
        }
        std::ops::ControlFlow::Continue(())
    }
}

/// DataFusion's unparser writes a filtered scan joined to something else
/// as `(SELECT "logs"."task_id" … FROM "logs" WHERE …) JOIN …` and goes on
/// saying `"logs"."task_id"` outside it, which only DataFusion resolves:
/// such a derived table, reading one table and named nothing, is given that
/// table's name, unless another relation of the same FROM goes by it
/// already (then the outer references are that relation's).
fn name_derived_tables(query: &mut ast::Query) {
    name_in_set_expr(query.body.as_mut());
}

/// Each SELECT of a query's body (the branches of a UNION too).
fn name_in_set_expr(body: &mut ast::SetExpr) {
    let select = match body {
        ast::SetExpr::Select(select) => select,
        ast::SetExpr::SetOperation { left, right, .. } => {
            name_in_set_expr(left);
            name_in_set_expr(right);
            return;
        }
        _ => return,
    };
    for from in &mut select.from {
        let mut taken: Vec<ast::Ident> = std::iter::once(&from.relation)
            .chain(from.joins.iter().map(|j| &j.relation))
            .filter_map(relation_name)
            .collect();
        let factors = std::iter::once(&mut from.relation)
            .chain(from.joins.iter_mut().map(|j| &mut j.relation));
        for factor in factors {
            let Some(name) = single_table_read(factor) else {
                continue;
            };
            if taken.contains(&name) {
                continue;
            }
            if let ast::TableFactor::Derived { alias, .. } = factor {
                *alias = Some(ast::TableAlias {
                    explicit: true,
                    name: name.clone(),
                    columns: vec![],
                    at: None,
                });
            }
            taken.push(name);
        }
    }
}

/// The name a relation of a FROM goes by (its alias, or a table's name).
fn relation_name(factor: &ast::TableFactor) -> Option<ast::Ident> {
    match factor {
        ast::TableFactor::Table { alias: Some(a), .. }
        | ast::TableFactor::Derived { alias: Some(a), .. } => Some(a.name.clone()),
        ast::TableFactor::Table { name, .. } => name.0.last().and_then(|p| p.as_ident()).cloned(),
        _ => None,
    }
}

/// The table an unnamed derived table reads, when it reads exactly one.
fn single_table_read(factor: &ast::TableFactor) -> Option<ast::Ident> {
    let ast::TableFactor::Derived {
        subquery,
        alias: None,
        ..
    } = factor
    else {
        return None;
    };
    let ast::SetExpr::Select(select) = subquery.body.as_ref() else {
        return None;
    };
    let [from] = select.from.as_slice() else {
        return None;
    };
    match &from.relation {
        ast::TableFactor::Table {
            name, alias: None, ..
        } if from.joins.is_empty() => name.0.last().and_then(|p| p.as_ident()).cloned(),
        _ => None,
    }
}

fn for_trino(expr: &ast::Expr) -> Option<ast::Expr> {
    match expr {
        // CAST('2026-11-20 06:00:00.000000' AS TIMESTAMP) -> TIMESTAMP '…'
        ast::Expr::Cast {
            expr: inner,
            data_type: ast::DataType::Timestamp(..),
            ..
        } => {
            let text = string_literal(inner)?;
            sql_expr(&format!("TIMESTAMP '{text}'")).ok()
        }
        ast::Expr::Interval(interval) => one_unit(interval),
        ast::Expr::Value(ValueWithSpan {
            value: Value::Number(n, long),
            span,
        }) if n.contains('.') && !n.contains(['e', 'E']) => Some(ast::Expr::Value(ValueWithSpan {
            value: Value::Number(format!("{n}E0"), *long),
            span: *span,
        })),
        ast::Expr::Function(f) => approx_percentile(f),
        _ => None,
    }
}

fn string_literal(expr: &ast::Expr) -> Option<&str> {
    match expr {
        ast::Expr::Value(ValueWithSpan {
            value: Value::SingleQuotedString(s),
            ..
        }) => Some(s),
        _ => None,
    }
}

/// `INTERVAL '0 0:15:0.000' DAY TO SECOND` -> `INTERVAL '15' MINUTE`
/// (DataFusion writes `days h:m:s.millis`, each part with its own sign, the
/// millis sometimes space-padded).
fn one_unit(interval: &Interval) -> Option<ast::Expr> {
    if interval.last_field != Some(DateTimeField::Second)
        || interval.leading_field != Some(DateTimeField::Day)
    {
        return None;
    }
    let text = string_literal(&interval.value)?;
    let (days, clock) = text.trim().split_once(' ')?;
    let mut parts = clock.split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    let (secs, frac) = s.split_once('.').unwrap_or((s, "0"));
    let int = |t: &str| t.trim().parse::<i64>().ok();
    let millis = int(days)? * 86_400_000
        + int(h)? * 3_600_000
        + int(m)? * 60_000
        + int(secs)? * 1000
        + int(frac)?;
    let (n, unit) = [
        (86_400_000, "DAY"),
        (3_600_000, "HOUR"),
        (60_000, "MINUTE"),
        (1000, "SECOND"),
    ]
    .into_iter()
    .find(|(size, _)| millis % size == 0)
    .map(|(size, unit)| ((millis / size).abs().to_string(), unit))
    .unwrap_or_else(|| (format!("{:.3}", (millis as f64 / 1000.0).abs()), "SECOND"));
    let literal = format!("INTERVAL '{n}' {unit}");
    sql_expr(&if millis < 0 {
        format!("-({literal})")
    } else {
        literal
    })
    .ok()
}

/// `percentile_cont(p) WITHIN GROUP (ORDER BY x)` and `median(x)` ->
/// `approx_percentile(x, p)`.
fn approx_percentile(f: &ast::Function) -> Option<ast::Expr> {
    let name = f.name.to_string().to_ascii_lowercase();
    let args = match &f.args {
        FunctionArguments::List(list) => list
            .args
            .iter()
            .map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.to_string()),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?,
        _ => return None,
    };
    let (value, fraction) = match (name.as_str(), args.as_slice(), f.within_group.as_slice()) {
        ("median", [x], []) => (x.clone(), "0.5".to_owned()),
        ("percentile_cont", [p], [order]) => (order.expr.to_string(), p.clone()),
        ("percentile_cont", [x, p], []) => (x.clone(), p.clone()),
        _ => return None,
    };
    // The fraction as a decimal literal: Trino coerces it to the double it
    // takes, and so does DuckDB's approx_quantile (which refuses a double).
    let fraction = fraction.trim_end_matches("E0");
    sql_expr(&format!(
        "approx_percentile(CAST({value} AS DOUBLE), {fraction})"
    ))
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trino(sql: &str) -> String {
        let mut statement = Parser::new(&GenericDialect {})
            .try_with_sql(sql)
            .unwrap()
            .parse_statement()
            .unwrap();
        let _ = statement.visit(&mut Finish { trino: true });
        statement.to_string()
    }

    #[test]
    fn literals_and_functions_become_trino() {
        assert_eq!(
            trino("SELECT CAST('2026-11-20 06:00:00.000001' AS TIMESTAMP)"),
            "SELECT TIMESTAMP '2026-11-20 06:00:00.000001'"
        );
        assert_eq!(
            trino(
                "SELECT t - INTERVAL '0 0:15:0.000' DAY TO SECOND, INTERVAL '7 0:0:0.000' DAY TO SECOND, INTERVAL '0 0:0:1.500' DAY TO SECOND"
            ),
            "SELECT t - INTERVAL '15' MINUTE, INTERVAL '7' DAY, INTERVAL '1.500' SECOND"
        );
        assert_eq!(
            trino(
                "SELECT INTERVAL '0 0:0:1.  5' DAY TO SECOND, INTERVAL '0 0:0:-1.-500' DAY TO SECOND, INTERVAL '-1 0:0:0.000' DAY TO SECOND"
            ),
            "SELECT INTERVAL '1.005' SECOND, -(INTERVAL '1.500' SECOND), -(INTERVAL '1' DAY)"
        );
        assert_eq!(
            trino(
                "SELECT * FROM t JOIN (SELECT t.a AS b FROM t WHERE t.c) ON t.a = b JOIN (SELECT u.a FROM u) ON u.a = t.a"
            ),
            "SELECT * FROM t JOIN (SELECT t.a AS b FROM t WHERE t.c) ON t.a = b JOIN (SELECT u.a FROM u) AS u ON u.a = t.a",
            "a derived table is named after the one table it reads, unless that name is taken"
        );
        assert_eq!(
            trino("SELECT x / 1000000.0, 2"),
            "SELECT x / 1000000.0E0, 2"
        );
        assert_eq!(
            trino(
                "SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY m ASC NULLS LAST), median(s)"
            ),
            "SELECT approx_percentile(CAST(m AS DOUBLE), 0.95), approx_percentile(CAST(s AS DOUBLE), 0.5)"
        );
    }
}
