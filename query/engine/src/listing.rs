//! A lake table as DataFusion reads it: the table's declared schema, `dt`
//! as its Hive partition column, and a listing bounded by the question's
//! window.
//!
//! DataFusion's `ListingTable` lists a table's whole prefix unless a filter
//! pins `dt` to one value: on S3 a `last 7d` question over a 90-day lake of
//! small files would page through every key of every day. The windowed plans
//! put `dt >= 'first day' AND dt <= 'last day'` on every scan ([`Scope`]);
//! [`LakeTable::scan`] reads those bounds and lists only the `dt=` prefixes of
//! the days between them, concurrently, each listing kept for
//! [`LISTING_TTL`] in a process-wide cache (a long-lived process, such as a
//! warm Lambda, lists again after that and sees new files; scans that ask
//! for a day while it is being listed wait for that one listing). A scan without
//! both bounds lists the table's prefix as before. Like DataFusion's listing
//! table, the provider applies a plain comparison of `dt` with a day
//! (`=`, `<>`, `<`, `<=`, `>`, `>=`), `dt [NOT] IN (days)` and `OR`s of them
//! itself, exactly, to the days it lists ([`DayFilter`]); any other filter on
//! `dt` stays in the plan.
//!
//! Each file is read by [`LakeReaderFactory`]: a small file in one request,
//! a large one's footer from DataFusion's own metadata cache (validated
//! against the file's size and modification time). On S3 the session has
//! [`S3_READ_CONCURRENCY`] partitions, so a scan reads that many files at a
//! time.
//!
//! [`Scope`]: crate::summary::Scope

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, SchemaRef};
use datafusion::catalog::Session;
use datafusion::common::ScalarValue;
use datafusion::datasource::TableProvider;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::object_store::ObjectStoreUrl;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchemaBuilder;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{BinaryExpr, Operator, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::prelude::{DataFrame, Expr};
use ecs_lake::schema::{PARTITION_COLUMN, TableDef};
use futures::future::{BoxFuture, Shared};
use futures::{FutureExt, StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore};

use crate::lake::{query_schema, read_schema};
use crate::reader::LakeReaderFactory;

/// How long a day's listing is reused within a process.
pub const LISTING_TTL: Duration = Duration::from_secs(30);

/// Day prefixes listed at once.
const LIST_CONCURRENCY: usize = 16;

/// A scan's partitions on S3, whatever the cores: each reads one file after
/// another, so this many files are in flight, enough to hide tens of
/// milliseconds per request (`bench/RESULTS.md`: 2 -> 16 -> 32 partitions
/// took a last-7d question from 0.99 to 0.51 to 0.45 s at 20 ms a request).
/// `DATAFUSION_EXECUTION_TARGET_PARTITIONS` overrides it.
pub const S3_READ_CONCURRENCY: usize = 32;

/// A window longer than this lists the table's prefix instead of each day's.
const MAX_LISTED_DAYS: i64 = 3660;

/// One lake table, listed by day.
#[derive(Debug, Clone)]
pub struct LakeTable {
    def: &'static TableDef,
    schema: SchemaRef,
    /// Where the runtime finds the store (`s3://bucket`, `file://`).
    store_url: ObjectStoreUrl,
    objects: Arc<dyn ObjectStore>,
    /// `<prefix>/<table>`.
    table_path: ObjectPath,
}

impl LakeTable {
    pub fn new(
        def: &'static TableDef,
        store_url: ObjectStoreUrl,
        objects: Arc<dyn ObjectStore>,
        root: &ObjectPath,
    ) -> LakeTable {
        LakeTable {
            def,
            schema: query_schema(def),
            store_url,
            objects,
            table_path: root.clone().join(def.name),
        }
    }

    /// The files of the days in `[from, to]` (both `YYYY-MM-DD`), or of
    /// every day when the window is unbounded or too long to list by day.
    pub async fn files(&self, days: Option<(String, String)>) -> Result<Vec<(String, ObjectMeta)>> {
        match days.and_then(|(from, to)| days_between(&from, &to)) {
            Some(days) => {
                let listed: Vec<Vec<(String, ObjectMeta)>> = futures::stream::iter(days)
                    .map(|day| async move {
                        let prefix = self
                            .table_path
                            .clone()
                            .join(format!("{PARTITION_COLUMN}={day}").as_str());
                        let files = list_cached(&self.store_url, &self.objects, &prefix).await?;
                        Ok::<_, DataFusionError>(
                            files.iter().map(|m| (day.clone(), m.clone())).collect(),
                        )
                    })
                    .buffered(LIST_CONCURRENCY)
                    .try_collect()
                    .await?;
                Ok(listed.into_iter().flatten().collect())
            }
            None => {
                let files = list_cached(&self.store_url, &self.objects, &self.table_path).await?;
                Ok(files
                    .iter()
                    .filter_map(|m| day_of_path(&m.location).map(|d| (d, m.clone())))
                    .collect())
            }
        }
    }
}

#[async_trait]
impl TableProvider for LakeTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        // A plain `dt` comparison is applied to the listed days, exactly;
        // the rest stay above the scan (and Parquet prunes row groups with them).
        Ok(filters
            .iter()
            .map(|f| match day_filter(f) {
                Some(_) => TableProviderFilterPushDown::Exact,
                None => TableProviderFilterPushDown::Inexact,
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let day_filters: Vec<DayFilter> = filters.iter().filter_map(day_filter).collect();
        let mut files = self.files(day_bounds(filters)).await?;
        files.retain(|(day, _)| day_filters.iter().all(|f| f.holds(day)));
        if files.is_empty() {
            let schema = match projection {
                Some(p) => Arc::new(self.schema.project(p)?),
                None => Arc::clone(&self.schema),
            };
            return Ok(Arc::new(EmptyExec::new(schema)));
        }
        // Deterministic groups: by day and name, dealt round-robin, one per
        // partition (on S3 the lake sets more partitions than cores: each
        // group reads one file after another, so the partitions are the
        // files in flight).
        files.sort_by(|a, b| a.1.location.cmp(&b.1.location));
        let groups = state.config().target_partitions().max(1).min(files.len());
        let mut grouped: Vec<Vec<PartitionedFile>> = vec![Vec::new(); groups];
        for (i, (day, meta)) in files.into_iter().enumerate() {
            grouped[i % groups].push(
                PartitionedFile::from(meta)
                    .with_partition_values(vec![ScalarValue::Utf8(Some(day))]),
            );
        }
        let table_schema = TableSchemaBuilder::new(read_schema(self.def))
            .with_table_partition_cols(vec![Arc::new(Field::new(
                PARTITION_COLUMN,
                DataType::Utf8,
                false,
            ))])
            .build();
        // As `ParquetFormat::create_physical_plan` builds it, with the
        // session's Parquet options, but the lake's own reader factory.
        let options = state.table_options().parquet.clone();
        let hint = options.global.metadata_size_hint;
        let runtime = state.runtime_env();
        let readers = LakeReaderFactory::new(
            runtime.object_store(&self.store_url)?,
            runtime.cache_manager.get_file_metadata_cache(),
        );
        let mut source = ParquetSource::new(table_schema)
            .with_table_parquet_options(options)
            .with_parquet_file_reader_factory(Arc::new(readers));
        if let Some(hint) = hint {
            source = source.with_metadata_size_hint(hint);
        }
        let config = FileScanConfigBuilder::new(self.store_url.clone(), Arc::new(source))
            .with_file_groups(grouped.into_iter().map(FileGroup::new).collect())
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        Ok(DataSourceExec::from_data_source(config))
    }
}

/// `dt <op> 'day'` (or `'day' <op> dt`, turned round), for `=`, `<`, `<=`,
/// `>`, `>=`: the comparisons the provider applies itself.
pub fn dt_comparison(e: &Expr) -> Option<(Operator, String)> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = e else {
        return None;
    };
    let comparison = matches!(
        op,
        Operator::Eq
            | Operator::NotEq
            | Operator::Lt
            | Operator::LtEq
            | Operator::Gt
            | Operator::GtEq
    );
    match (left.as_ref(), right.as_ref()) {
        (Expr::Column(c), Expr::Literal(v, _)) if comparison && c.name == PARTITION_COLUMN => {
            Some((*op, utf8(v)?.to_owned()))
        }
        (Expr::Literal(v, _), Expr::Column(c)) if comparison && c.name == PARTITION_COLUMN => {
            Some((op.swap()?, utf8(v)?.to_owned()))
        }
        _ => None,
    }
}

/// A filter on `dt` alone that the provider applies to the days it lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayFilter {
    /// `dt <op> 'day'`.
    Compare(Operator, String),
    /// `dt [NOT] IN ('day', ...)`: the summaries pick days this way.
    In { days: Vec<String>, negated: bool },
    /// Either of two (the optimizer writes a short `IN` list as `OR`s).
    Or(Box<DayFilter>, Box<DayFilter>),
}

impl DayFilter {
    pub fn holds(&self, day: &str) -> bool {
        match self {
            DayFilter::Compare(op, value) => holds(day, *op, value),
            DayFilter::In { days, negated } => days.iter().any(|d| d == day) != *negated,
            DayFilter::Or(a, b) => a.holds(day) || b.holds(day),
        }
    }
}

/// The filter, if it is one the provider applies exactly: a plain `dt`
/// comparison ([`dt_comparison`]), `dt [NOT] IN` a list of day literals, or
/// an `OR` of those.
pub fn day_filter(e: &Expr) -> Option<DayFilter> {
    if let Some((op, day)) = dt_comparison(e) {
        return Some(DayFilter::Compare(op, day));
    }
    if let Expr::BinaryExpr(BinaryExpr {
        left,
        op: Operator::Or,
        right,
    }) = e
    {
        return Some(DayFilter::Or(
            Box::new(day_filter(left)?),
            Box::new(day_filter(right)?),
        ));
    }
    let Expr::InList(list) = e else {
        return None;
    };
    let Expr::Column(c) = list.expr.as_ref() else {
        return None;
    };
    if c.name != PARTITION_COLUMN {
        return None;
    }
    let days = list
        .list
        .iter()
        .map(|v| match v {
            Expr::Literal(v, _) => utf8(v).map(str::to_owned),
            _ => None,
        })
        .collect::<Option<Vec<String>>>()?;
    Some(DayFilter::In {
        days,
        negated: list.negated,
    })
}

/// `day <op> value`, as strings: `YYYY-MM-DD` orders as the days do.
fn holds(day: &str, op: Operator, value: &str) -> bool {
    match op {
        Operator::Eq => day == value,
        Operator::NotEq => day != value,
        Operator::Lt => day < value,
        Operator::LtEq => day <= value,
        Operator::Gt => day > value,
        Operator::GtEq => day >= value,
        _ => true,
    }
}

/// The days to list for a scan: from the `dt` comparisons among the filters
/// (also inside conjunctions), the first and last day, if both are bounded.
/// `>` and `<` keep their day: listing one day more loses nothing.
pub fn day_bounds(filters: &[Expr]) -> Option<(String, String)> {
    let (mut from, mut to): (Option<String>, Option<String>) = (None, None);
    let mut conjuncts: Vec<&Expr> = filters.iter().collect();
    while let Some(e) = conjuncts.pop() {
        if let Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::And,
            right,
        }) = e
        {
            conjuncts.extend([left.as_ref(), right.as_ref()]);
            continue;
        }
        let Some((op, day)) = dt_comparison(e) else {
            continue;
        };
        if matches!(op, Operator::Gt | Operator::GtEq | Operator::Eq)
            && from.as_ref().is_none_or(|f| day > *f)
        {
            from = Some(day.clone());
        }
        if matches!(op, Operator::Lt | Operator::LtEq | Operator::Eq)
            && to.as_ref().is_none_or(|t| day < *t)
        {
            to = Some(day);
        }
    }
    Some((from?, to?))
}

fn utf8(v: &ScalarValue) -> Option<&str> {
    match v {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::Utf8View(Some(s))
        | ScalarValue::LargeUtf8(Some(s)) => Some(s),
        _ => None,
    }
}

/// Every day from `from` to `to` (inclusive), if both are dates and the span
/// is short enough to list day by day.
fn days_between(from: &str, to: &str) -> Option<Vec<String>> {
    let parse = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok();
    let (first, last) = (parse(from)?, parse(to)?);
    let span = (last - first).num_days();
    if span > MAX_LISTED_DAYS {
        return None;
    }
    Some(
        first
            .iter_days()
            .take_while(|d| *d <= last)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .collect(),
    )
}

/// The `dt=` value in a file's path.
fn day_of_path(path: &ObjectPath) -> Option<String> {
    path.parts()
        .find_map(|p| p.as_ref().strip_prefix("dt=").map(str::to_owned))
}

/// A listing, shared by every scan that asks for it while it is fresh
/// (also while it is still running: two scans of one table in one plan list
/// a day once).
type Listing = Shared<BoxFuture<'static, Result<Arc<Vec<ObjectMeta>>, Arc<object_store::Error>>>>;

/// Listings by store and prefix, each with when it was started.
type Listings = HashMap<(String, String), (Instant, Listing)>;

static LISTINGS: LazyLock<Mutex<Listings>> = LazyLock::new(Default::default);

/// Forgets every cached listing: the next scan of any day lists it again.
pub fn forget_listings() {
    if let Ok(mut cache) = LISTINGS.lock() {
        cache.clear();
    }
}

/// Runs a plan. Compaction replaces a day's files (the open day every
/// hour): when a file listed for the plan is gone before it is read, the
/// listings are forgotten and the plan runs once more on the files that
/// replaced it, which hold the same rows.
pub async fn collect(df: DataFrame) -> Result<Vec<RecordBatch>> {
    let config = df.task_ctx().session_config().clone();
    let log = config.get_extension::<crate::dialect::QueryLog>();
    if let Some(athena) = config.get_extension::<crate::athena::Athena>() {
        // The same plan, answered by Athena (`Lake::use_athena`), its
        // columns named as the plan names them.
        let external = |e: Box<dyn std::error::Error + Send + Sync>| DataFusionError::External(e);
        let (sql, sent) = crate::athena::query_of(&df).map_err(|e| external(Box::new(e)))?;
        let batch = athena
            .run(&sql, &sent)
            .await
            .map_err(|e| external(Box::new(e)))?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        let answer = vec![RecordBatch::try_new(schema, batch.columns().to_vec())?];
        if let Some(log) = log {
            log.record(&df, &answer);
        }
        return Ok(answer);
    }
    let answer = match df.clone().collect().await {
        Err(e) if vanished(&e) => {
            tracing::info!(error = %e, "a listed file was replaced while the plan ran; listing again");
            forget_listings();
            df.clone().collect().await
        }
        done => done,
    }?;
    if let Some(log) = log {
        log.record(&df, &answer);
    }
    Ok(answer)
}

/// Whether the error is, at its root, an object that was listed and is not there.
fn vanished(e: &DataFusionError) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cause {
        if let Some(object_store::Error::NotFound { .. }) =
            err.downcast_ref::<object_store::Error>()
        {
            return true;
        }
        cause = err.source();
    }
    false
}

/// The `.parquet` files under `prefix`, from the cache while it is fresh.
async fn list_cached(
    store_url: &ObjectStoreUrl,
    objects: &Arc<dyn ObjectStore>,
    prefix: &ObjectPath,
) -> Result<Arc<Vec<ObjectMeta>>> {
    let key = (store_url.as_str().to_owned(), prefix.to_string());
    let listing = {
        let mut cache = LISTINGS
            .lock()
            .map_err(|_| DataFusionError::Internal("the listing cache was poisoned".into()))?;
        match cache.get(&key) {
            Some((at, listing)) if at.elapsed() < LISTING_TTL => listing.clone(),
            _ => {
                let (objects, prefix) = (Arc::clone(objects), prefix.clone());
                let listing = async move {
                    list(&*objects, &prefix)
                        .await
                        .map(Arc::new)
                        .map_err(Arc::new)
                }
                .boxed()
                .shared();
                cache.insert(key.clone(), (Instant::now(), listing.clone()));
                listing
            }
        }
    };
    match listing.await {
        Ok(files) => Ok(files),
        Err(e) => {
            // Not cached: the next scan lists again.
            if let Ok(mut cache) = LISTINGS.lock() {
                cache.remove(&key);
            }
            Err(DataFusionError::External(Box::new(ListingError(e))))
        }
    }
}

/// The `.parquet` files under `prefix` (none if it does not exist).
async fn list(
    objects: &dyn ObjectStore,
    prefix: &ObjectPath,
) -> object_store::Result<Vec<ObjectMeta>> {
    let listed = objects
        .list(Some(prefix))
        .try_filter(|m| {
            futures::future::ready(m.size > 0 && m.location.as_ref().ends_with(".parquet"))
        })
        .try_collect()
        .await;
    match listed {
        // A table or day never written to: no files.
        Err(object_store::Error::NotFound { .. }) => Ok(Vec::new()),
        other => other,
    }
}

/// A failed listing, shared by the scans that waited for it.
#[derive(Debug)]
struct ListingError(Arc<object_store::Error>);

impl std::fmt::Display for ListingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "listing the lake: {}", self.0)
    }
}

impl std::error::Error for ListingError {}

#[cfg(test)]
mod tests {
    use datafusion::prelude::{col, lit};

    use super::*;

    #[test]
    fn bounds_come_from_the_scopes_dt_range() {
        let f = [
            col("dt").gt_eq(lit("2026-11-15")),
            col("time").gt_eq(lit(1)),
            col("dt").lt_eq(lit("2026-11-22")),
        ];
        assert_eq!(
            day_bounds(&f),
            Some(("2026-11-15".into(), "2026-11-22".into()))
        );
        // Within one conjunction, reversed, and pinned to a day.
        let f = [lit("2026-11-20")
            .lt_eq(col("dt"))
            .and(col("dt").lt(lit("2026-11-21")))];
        assert_eq!(
            day_bounds(&f),
            Some(("2026-11-20".into(), "2026-11-21".into()))
        );
        let f = [col("dt").eq(lit("2026-11-20"))];
        assert_eq!(
            day_bounds(&f),
            Some(("2026-11-20".into(), "2026-11-20".into()))
        );
        // One side only, or an OR: the whole table.
        assert_eq!(day_bounds(&[col("dt").gt_eq(lit("2026-11-15"))]), None);
        let either = col("dt")
            .eq(lit("2026-11-01"))
            .or(col("dt").eq(lit("2026-11-20")));
        assert_eq!(day_bounds(&[either]), None);
    }

    #[test]
    fn plain_dt_comparisons_are_applied_exactly() {
        assert_eq!(
            dt_comparison(&lit("2026-11-20").lt(col("dt"))),
            Some((Operator::Gt, "2026-11-20".into()))
        );
        assert_eq!(
            dt_comparison(&col("dt").not_eq(lit("2026-11-20"))),
            Some((Operator::NotEq, "2026-11-20".into()))
        );
        let either = day_filter(
            &col("dt")
                .eq(lit("2026-11-20"))
                .or(col("dt").eq(lit("2026-11-22"))),
        )
        .unwrap();
        assert!(either.holds("2026-11-22") && !either.holds("2026-11-21"));
        assert_eq!(dt_comparison(&col("time").gt(lit("2026-11-20"))), None);
        assert!(holds("2026-11-21", Operator::Gt, "2026-11-20"));
        assert!(!holds("2026-11-20", Operator::Gt, "2026-11-20"));
        assert!(holds("2026-11-20", Operator::LtEq, "2026-11-20"));
        let days = vec![lit("2026-11-20"), lit("2026-11-22")];
        let not_in = day_filter(&col("dt").in_list(days.clone(), true)).unwrap();
        assert!(!not_in.holds("2026-11-20") && not_in.holds("2026-11-21"));
        let in_list = day_filter(&col("dt").in_list(days, false)).unwrap();
        assert!(in_list.holds("2026-11-22") && !in_list.holds("2026-11-21"));
        assert_eq!(
            day_filter(&col("dt").in_list(vec![col("time")], false)),
            None
        );
    }

    #[test]
    fn days_are_listed_one_by_one_up_to_ten_years() {
        assert_eq!(
            days_between("2026-02-27", "2026-03-01").unwrap(),
            ["2026-02-27", "2026-02-28", "2026-03-01"]
        );
        assert_eq!(days_between("2026-03-01", "2026-02-27").unwrap().len(), 0);
        assert_eq!(days_between("2016-01-01", "2026-12-31"), None);
        assert_eq!(days_between("junk", "2026-12-31"), None);
    }
}
