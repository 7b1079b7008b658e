//! `ecs-query demo --files as-lambdas`: the lake as the Lambdas write it,
//! one file per invocation, table and day, with the rows of the default cut.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use std::path::{Path, PathBuf};

use common::{block_on, build_lake_with, lake_args};
use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
use datafusion::parquet::file::statistics::Statistics;
use ecs_query::cli::{DemoFiles, DemoPreset, Format};
use ecs_query_engine::Lake;

fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(parquet_files(&path));
        } else if path.extension().is_some_and(|e| e == "parquet") {
            files.push(path);
        }
    }
    files
}

/// (rows, first and last event_time in microseconds) of one file.
fn rows_and_span(file: &Path) -> (i64, i64, i64) {
    let reader = SerializedFileReader::new(std::fs::File::open(file).unwrap()).unwrap();
    let meta = reader.metadata();
    let column = meta
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .position(|c| c.name() == "event_time")
        .expect("event_time");
    let (mut first, mut last) = (i64::MAX, i64::MIN);
    for rg in meta.row_groups() {
        let Some(Statistics::Int64(s)) = rg.column(column).statistics() else {
            panic!("no event_time statistics in {}", file.display());
        };
        first = first.min(*s.min_opt().unwrap());
        last = last.max(*s.max_opt().unwrap());
    }
    (meta.file_metadata().num_rows(), first, last)
}

fn answer(dir: &Path, sql: &str) -> String {
    let (dir, sql) = (dir.to_owned(), sql.to_owned());
    block_on(move || async move {
        let lake = Lake::open(&lake_args(&dir).config()).await.unwrap();
        let mut out = Vec::new();
        ecs_query::sql::run(&lake, &sql, Format::Csv, &mut out)
            .await
            .unwrap();
        String::from_utf8(out).unwrap()
    })
}

#[test]
fn as_lambdas_writes_a_file_per_sqs_batch_with_the_same_rows() {
    let chunks = build_lake_with(DemoPreset::Fleet, 48.0, 7, DemoFiles::Chunks);
    let lambdas = build_lake_with(DemoPreset::Fleet, 48.0, 7, DemoFiles::AsLambdas);
    let files = parquet_files(&lambdas.join("task_events"));
    assert!(
        files.len() > 2 * parquet_files(&chunks.join("task_events")).len(),
        "many small files: {}",
        files.len()
    );
    for file in &files {
        // One SQS batch: at most 100 events within 20 s of the first.
        let (rows, first, last) = rows_and_span(file);
        assert!(rows <= 100, "{} rows in {}", rows, file.display());
        assert!(
            last - first < 20_000_000,
            "{} spans {} µs",
            file.display(),
            last - first
        );
    }
    for sql in [
        "SELECT count(*) AS n, count(DISTINCT task_id) AS tasks FROM task_events",
        "SELECT count(*) AS n, max(time) AS last FROM metrics",
        "SELECT count(*) AS n FROM logs",
        "SELECT stop_cause, count(*) AS n FROM tasks GROUP BY 1 ORDER BY 1",
    ] {
        assert_eq!(answer(&lambdas, sql), answer(&chunks, sql), "{sql}");
    }
}
