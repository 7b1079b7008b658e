//! How a scan reads one Parquet file of the lake.
//!
//! The Lambdas write one small file per invocation, and the open day is
//! mostly such files: DataFusion's own reader fetches each one twice, the
//! footer first (the last `metadata_size_hint` bytes, which for a file
//! smaller than the hint is the whole file) and then the projected column
//! chunks, so two round trips per file where one carries everything. On S3,
//! at tens of milliseconds a request, that second round trip is most of an
//! uncompacted day's cost.
//!
//! [`LakeReaderFactory`] reads a file no larger than the metadata size hint
//! (512 KiB by default, `datafusion.execution.parquet.metadata_size_hint`) in
//! one GET and serves the footer, the page index and every column chunk
//! from those bytes: the same bytes the footer read fetched before, one
//! request fewer. Larger files (compacted days) are read as DataFusion reads
//! them, with their footers kept in its process-wide metadata cache.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::CachedParquetFileReaderFactory;
use datafusion::datasource::physical_plan::{ParquetFileMetrics, ParquetFileReaderFactory};
use datafusion::execution::cache::cache_manager::FileMetadataCache;
use datafusion::parquet::arrow::arrow_reader::ArrowReaderOptions;
use datafusion::parquet::arrow::async_reader::AsyncFileReader;
use datafusion::parquet::errors::{ParquetError, Result as ParquetResult};
use datafusion::parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use futures::FutureExt;
use futures::future::BoxFuture;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

/// Creates each file's reader: whole-file for small files, DataFusion's
/// cached-footer reader for the rest.
#[derive(Debug)]
pub struct LakeReaderFactory {
    store: Arc<dyn ObjectStore>,
    large: CachedParquetFileReaderFactory,
}

impl LakeReaderFactory {
    pub fn new(store: Arc<dyn ObjectStore>, metadata_cache: Arc<FileMetadataCache>) -> Self {
        let large = CachedParquetFileReaderFactory::new(Arc::clone(&store), metadata_cache);
        LakeReaderFactory { store, large }
    }
}

impl ParquetFileReaderFactory for LakeReaderFactory {
    fn create_reader(
        &self,
        partition_index: usize,
        file: PartitionedFile,
        metadata_size_hint: Option<usize>,
        metrics: &ExecutionPlanMetricsSet,
    ) -> datafusion::error::Result<Box<dyn AsyncFileReader + Send>> {
        let size = file.object_meta.size;
        if size > metadata_size_hint.unwrap_or(0) as u64 {
            return self
                .large
                .create_reader(partition_index, file, metadata_size_hint, metrics);
        }
        let location = file.object_meta.location;
        Ok(Box::new(WholeFile {
            metrics: ParquetFileMetrics::new(partition_index, location.as_ref(), metrics),
            store: Arc::clone(&self.store),
            location,
            bytes: None,
        }))
    }
}

/// A file read in one GET, on first use; every range is a slice of it.
struct WholeFile {
    store: Arc<dyn ObjectStore>,
    location: ObjectPath,
    bytes: Option<Bytes>,
    metrics: ParquetFileMetrics,
}

impl WholeFile {
    async fn bytes(&mut self) -> ParquetResult<Bytes> {
        if let Some(bytes) = &self.bytes {
            return Ok(bytes.clone());
        }
        let external = |e: object_store::Error| ParquetError::External(Box::new(e));
        let bytes = self
            .store
            .get(&self.location)
            .await
            .map_err(external)?
            .bytes()
            .await
            .map_err(external)?;
        self.metrics.bytes_scanned.add(bytes.len());
        self.bytes = Some(bytes.clone());
        Ok(bytes)
    }

    async fn range(&mut self, range: Range<u64>) -> ParquetResult<Bytes> {
        let bytes = self.bytes().await?;
        let (start, end) = (range.start as usize, range.end as usize);
        if start > end || end > bytes.len() {
            return Err(ParquetError::EOF(format!(
                "{}: range {start}..{end} is outside the file's {} bytes",
                self.location,
                bytes.len()
            )));
        }
        Ok(bytes.slice(start..end))
    }
}

impl AsyncFileReader for WholeFile {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, ParquetResult<Bytes>> {
        self.range(range).boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, ParquetResult<Vec<Bytes>>> {
        async move {
            let mut out = Vec::with_capacity(ranges.len());
            for range in ranges {
                out.push(self.range(range).await?);
            }
            Ok(out)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, ParquetResult<Arc<ParquetMetaData>>> {
        async move {
            let bytes = self.bytes().await?;
            let mut reader = ParquetMetaDataReader::new();
            if let Some(options) = options {
                reader = reader
                    .with_column_index_policy(options.column_index_policy())
                    .with_offset_index_policy(options.offset_index_policy())
                    .with_metadata_options(Some(options.metadata_options().clone()));
            }
            Ok(Arc::new(reader.parse_and_finish(&bytes)?))
        }
        .boxed()
    }
}
