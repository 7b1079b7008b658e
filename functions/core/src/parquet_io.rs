//! Parquet encoding with explicit, documented writer settings.
//!
//! zstd (level 1: the Lambda's CPU is the bottleneck, not S3 bytes), page
//! statistics on every column so DataFusion/DuckDB/Athena prune row groups and
//! pages, except the columns that hold whole inputs (`raw`, a log `message`):
//! their values are long and nearly all distinct, so a dictionary and min/max
//! statistics cost time and prune nothing. CloudWatch event ids are distinct
//! too: no dictionary. The time a table is sorted by first (`event_time`,
//! `time`: [`SORTED_TIME_COLUMNS`]) is nearly distinct and ascending in a
//! file: delta-encoded, without a dictionary (application-log files 18%
//! smaller and faster to write, bench/RESULTS.md, issue 21). Other
//! timestamps keep the dictionary: they repeat (a task's `created_at` in
//! every metrics row, the write time of a file). One row group per 128k rows.

use arrow::datatypes::{DataType, Schema};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

/// Columns holding whole inputs: no dictionary, no statistics.
pub const BULK_COLUMNS: &[&str] = &["raw", "message"];

/// Columns of distinct short values: statistics, but no dictionary.
pub const DISTINCT_COLUMNS: &[&str] = &["event_id"];

/// The time columns files are sorted by first: delta-encoded, no dictionary.
pub const SORTED_TIME_COLUMNS: &[&str] = &["event_time", "time"];

/// Rows per row group for files written by the ingesters.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// The writer settings a lake file of `schema` uses.
pub fn writer_properties(schema: &Schema) -> WriterProperties {
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
    for field in schema.fields() {
        let name = field.name().as_str();
        if matches!(field.data_type(), DataType::Timestamp(..))
            && SORTED_TIME_COLUMNS.contains(&name)
        {
            b = b
                .set_column_dictionary_enabled(ColumnPath::from(name), false)
                .set_column_encoding(ColumnPath::from(name), Encoding::DELTA_BINARY_PACKED);
        }
    }
    b.build()
}

/// Encodes one batch as a complete Parquet file.
pub fn encode(batch: &RecordBatch) -> Result<Vec<u8>, ParquetError> {
    let schema = batch.schema();
    let mut out = Vec::with_capacity(batch.get_array_memory_size() / 4 + 1024);
    let props = writer_properties(&schema);
    let mut writer = ArrowWriter::try_new(&mut out, schema, Some(props))?;
    writer.write(batch)?;
    writer.close()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::TABLES;

    #[test]
    fn only_the_time_a_table_is_sorted_by_first_is_delta_encoded() {
        use crate::schema::DERIVED;
        for t in TABLES.iter().chain(DERIVED) {
            // A table whose time is its write time (`_quarantine`'s
            // received_at) has one value per file: the dictionary stays.
            let sorted_first =
                t.sort_by.first() == Some(&t.time_column) && t.time_column != t.ingest_column;
            for c in t.columns {
                if SORTED_TIME_COLUMNS.contains(&c.name) {
                    assert!(
                        sorted_first && c.name == t.time_column,
                        "{}.{} is delta-encoded but the table is not sorted by it first",
                        t.name,
                        c.name
                    );
                }
            }
            if sorted_first {
                assert!(
                    SORTED_TIME_COLUMNS.contains(&t.time_column),
                    "{} is sorted by {} first: add it to SORTED_TIME_COLUMNS",
                    t.name,
                    t.time_column
                );
            }
        }
    }

    #[test]
    fn event_times_are_delta_encoded_and_read_back() {
        use arrow::array::{Array, TimestampMicrosecondArray};
        use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        use parquet::file::reader::{FileReader, SerializedFileReader};
        use std::sync::Arc;

        let times: Vec<i64> = (0..10_000)
            .map(|i| 1_795_000_000_000_000 + i * 1_000_003)
            .collect();
        let ingested = vec![1_795_100_000_000_000; times.len()];
        let ts =
            |v: &[i64]| Arc::new(TimestampMicrosecondArray::from(v.to_vec()).with_timezone("UTC"));
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                arrow::datatypes::Field::new("time", ts(&[]).data_type().clone(), false),
                arrow::datatypes::Field::new("ingested_at", ts(&[]).data_type().clone(), false),
            ])),
            vec![ts(&times), ts(&ingested)],
        )
        .unwrap();
        let file = bytes::Bytes::from(encode(&batch).unwrap());
        let meta = SerializedFileReader::new(file.clone()).unwrap();
        let columns = meta.metadata().row_group(0).columns();
        assert!(
            columns[0]
                .encodings()
                .any(|e| e == Encoding::DELTA_BINARY_PACKED)
        );
        assert!(columns[0].dictionary_page_offset().is_none());
        assert!(columns[1].dictionary_page_offset().is_some());
        let back = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .with_batch_size(times.len())
            .build()
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(back.columns(), batch.columns());
    }
}
