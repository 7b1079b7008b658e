//! Parquet encoding with explicit, documented writer settings.
//!
//! zstd (level 1: the Lambda's CPU is the bottleneck, not S3 bytes), page
//! statistics on every column so DataFusion/DuckDB/Athena prune row groups and
//! pages, except the columns that hold whole inputs (`raw`, a log `message`):
//! their values are long and nearly all distinct, so a dictionary and min/max
//! statistics cost time and prune nothing. CloudWatch event ids are distinct
//! too: no dictionary. One row group per 128k rows.

use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

/// Columns holding whole inputs: no dictionary, no statistics.
pub const BULK_COLUMNS: &[&str] = &["raw", "message"];

/// Columns of distinct short values: statistics, but no dictionary.
pub const DISTINCT_COLUMNS: &[&str] = &["event_id"];

/// Rows per row group for files written by the ingesters.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// The writer settings every lake file uses.
pub fn writer_properties() -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_created_by(concat!("ecs-lake ", env!("CARGO_PKG_VERSION")).to_owned());
    for &c in BULK_COLUMNS {
        b = b
            .set_column_dictionary_enabled(ColumnPath::from(c), false)
            .set_column_statistics_enabled(ColumnPath::from(c), EnabledStatistics::None);
    }
    for &c in DISTINCT_COLUMNS {
        b = b.set_column_dictionary_enabled(ColumnPath::from(c), false);
    }
    b.build()
}

/// Encodes one batch as a complete Parquet file.
pub fn encode(batch: &RecordBatch) -> Result<Vec<u8>, ParquetError> {
    let mut out = Vec::with_capacity(batch.get_array_memory_size() / 4 + 1024);
    let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), Some(writer_properties()))?;
    writer.write(batch)?;
    writer.close()?;
    Ok(out)
}
