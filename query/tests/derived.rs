//! The per-task tables written at compaction (`task_peaks` from `metrics`,
//! `task_health` from `health`) stand for the rows they were derived from:
//! the same rows as the raw aggregate, the same answers with and without
//! them, and never used for a day whose source changed after they were
//! written.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::path::Path;

use datafusion::arrow::util::pretty::pretty_format_batches;
use ecs_lake::compact::{compact_partition, days};
use ecs_lake::schema::{TABLES, health, metrics};
use ecs_lake_aws::LocalStore;
use ecs_query::cli::DemoPreset;
use ecs_query_engine::{Lake, LakeConfig};

mod common;
use common::block_on;

const QUESTIONS: &[&str] = &[
    "memory peak by revision last 7d",
    "exit 137 by revision last 7d",
    "top 10 tasks by memory peak last 7d",
    "oom by service last 24h",
    "unhealthy by revision last 7d",
    "time to healthy by revision last 7d",
    "unhealthy by deployment last 7d",
];

async fn answers(dir: &Path, now: i64) -> Vec<String> {
    // Files changed under the process-wide listing cache.
    ecs_query_engine::listing::forget_listings();
    let lake = Lake::open(&LakeConfig::at(dir.to_str().unwrap()))
        .await
        .unwrap();
    let mut out = Vec::new();
    for q in QUESTIONS {
        let df = ecs_query_engine::ask::plan(&lake, q, now).await.unwrap();
        let batches = ecs_query_engine::collect(df).await.unwrap();
        out.push(format!("{q}\n{}", pretty_format_batches(&batches).unwrap()));
    }
    let tasks = ecs_query_engine::ask::sql(&lake, "SELECT * FROM tasks ORDER BY task_id")
        .await
        .unwrap();
    let batches = ecs_query_engine::collect(tasks).await.unwrap();
    out.push(pretty_format_batches(&batches).unwrap().to_string());
    out
}

async fn sql(dir: &Path, query: &str) -> String {
    ecs_query_engine::listing::forget_listings();
    let lake = Lake::open(&LakeConfig::at(dir.to_str().unwrap()))
        .await
        .unwrap();
    let df = ecs_query_engine::ask::sql(&lake, query).await.unwrap();
    pretty_format_batches(&ecs_query_engine::collect(df).await.unwrap())
        .unwrap()
        .to_string()
}

/// The days a question's plan reads from `table` (its `dt IN (...)` list).
async fn derived_days_in_plan(dir: &Path, table: &str, now: i64) -> String {
    ecs_query_engine::listing::forget_listings();
    let lake = Lake::open(&LakeConfig::at(dir.to_str().unwrap()))
        .await
        .unwrap();
    let df = ecs_query_engine::ask::plan(&lake, QUESTIONS[0], now)
        .await
        .unwrap();
    let sql = ecs_query_engine::ask::to_sql(&df).unwrap();
    sql.split(&format!("{table}.dt IN ("))
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or("")
        .to_owned()
}

/// The metrics file's rows with `memory_utilized` 1000 MiB higher.
fn higher_memory(parquet: &Path) -> Vec<u8> {
    use datafusion::arrow::array::{Int64Array, RecordBatch};
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(parquet).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let mut batches = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let i = batch
            .schema()
            .index_of(metrics::col::memory_utilized)
            .unwrap();
        let memory: &Int64Array = batch.column(i).as_any().downcast_ref().unwrap();
        let higher: Int64Array = memory.iter().map(|m| m.map(|m| m + 1000)).collect();
        let mut columns = batch.columns().to_vec();
        columns[i] = std::sync::Arc::new(higher);
        batches.push(RecordBatch::try_new(batch.schema(), columns).unwrap());
    }
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, batches[0].schema(), None).unwrap();
    for batch in &batches {
        writer.write(batch).unwrap();
    }
    writer.close().unwrap();
    out
}

#[test]
fn tables_derived_at_compaction_answer_as_their_sources_do() {
    let hours = 120.0;
    let dir = common::build_lake(DemoPreset::Fleet, hours, 11);
    let preset = ecs_sim::Preset::fleet(hours);
    let now = common::end_micros(&preset);
    block_on(|| async {
        let store = LocalStore::new(&dir);
        let metric_days = days(&store, &metrics::DEF).await.unwrap();
        assert!(metric_days.len() >= 5, "{metric_days:?}");

        // A late file for a middle day, written after that day was compacted:
        // one of its files again, every memory figure 1000 MiB higher.
        let late_day = &metric_days[2];
        let late_dir = dir.join(format!("metrics/dt={late_day}"));
        let some_file = std::fs::read_dir(&late_dir)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let aside = dir.join("late.parquet");
        std::fs::write(&aside, higher_memory(&some_file)).unwrap();
        // And a copy of one of the day's health files: its observations twice.
        let late_health_dir = dir.join(format!("health/dt={late_day}"));
        let health_file = std::fs::read_dir(&late_health_dir)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let health_aside = dir.join("late-health.parquet");
        std::fs::copy(&health_file, &health_aside).unwrap();

        for table in TABLES {
            for day in days(&store, table).await.unwrap() {
                compact_partition(&store, table, &day).await.unwrap();
            }
        }
        let peaks_dir = dir.join("task_peaks");
        assert_eq!(
            std::fs::read_dir(&peaks_dir).unwrap().count(),
            metric_days.len(),
            "one peaks day per metrics day"
        );

        // Each day's peaks are the raw aggregate of that day's metrics.
        let day = &metric_days[1];
        let from_raw = sql(
            &dir,
            &format!(
                "SELECT task_id, max(memory_utilized) AS memory_peak, max(memory_reserved) AS memory_reserved, \
                 max(cpu_utilized) AS cpu_peak, max(cpu_reserved) AS cpu_reserved, count(*) AS samples \
                 FROM metrics WHERE dt = '{day}' AND task_id IS NOT NULL GROUP BY task_id ORDER BY task_id"
            ),
        )
        .await;
        let stored = sql(
            &dir,
            &format!(
                "SELECT task_id, memory_peak, memory_reserved, cpu_peak, cpu_reserved, samples \
                 FROM task_peaks WHERE dt = '{day}' ORDER BY task_id"
            ),
        )
        .await;
        assert_eq!(stored, from_raw);
        assert!(stored.lines().count() > 10, "{stored}");

        // And the day's task health is the raw aggregate of its health rows.
        let health_dir = dir.join("task_health");
        assert_eq!(
            std::fs::read_dir(&health_dir).unwrap().count(),
            days(&store, &health::DEF).await.unwrap().len(),
            "one task_health day per health day"
        );
        let from_raw = sql(
            &dir,
            &format!(
                "SELECT task_id, min(time) AS first_time, max(time) AS last_time, count(*) AS samples, \
                 min(CASE WHEN status = 'HEALTHY' AND source <> 'container_insights' THEN time END) AS first_healthy_at, \
                 min(CASE WHEN status = 'UNHEALTHY' THEN time END) AS first_unhealthy_at, \
                 sum(CASE WHEN status = 'UNHEALTHY' THEN 1 ELSE 0 END) AS unhealthy_samples \
                 FROM health WHERE dt = '{day}' GROUP BY task_id ORDER BY task_id"
            ),
        )
        .await;
        let stored = sql(
            &dir,
            &format!(
                "SELECT task_id, first_time, last_time, samples, first_healthy_at, first_unhealthy_at, \
                 unhealthy_samples FROM task_health WHERE dt = '{day}' ORDER BY task_id"
            ),
        )
        .await;
        assert_eq!(stored, from_raw);
        let unhealthy_tasks = sql(
            &dir,
            &format!(
                "SELECT count(*) AS n FROM task_health WHERE dt = '{day}' AND unhealthy_samples > 0"
            ),
        )
        .await;
        assert!(
            !unhealthy_tasks.contains("| 0 "),
            "the fleet has unhealthy tasks that day: {unhealthy_tasks}"
        );

        // Every whole day of the window is read from the peaks; the answers
        // are those of the metrics alone (peaks removed).
        let used = derived_days_in_plan(&dir, "task_peaks", now).await;
        assert!(used.contains(&metric_days[1]), "{used}");
        let used = derived_days_in_plan(&dir, "task_health", now).await;
        assert!(used.contains(&metric_days[1]), "{used}");
        let with_peaks = answers(&dir, now).await;
        let kept = dir.join("peaks-kept");
        std::fs::rename(&peaks_dir, &kept).unwrap();
        let without = answers(&dir, now).await;
        assert_eq!(with_peaks, without);
        std::fs::rename(&kept, &peaks_dir).unwrap();
        let health_kept = dir.join("health-kept");
        std::fs::rename(&health_dir, &health_kept).unwrap();
        assert_eq!(with_peaks, answers(&dir, now).await);
        std::fs::rename(&health_kept, &health_dir).unwrap();

        // The late file lands in its compacted day: that day's peaks are no
        // longer its metrics', so it is read raw, and the answers change as
        // the metrics' do.
        std::fs::rename(&aside, late_dir.join("late.parquet")).unwrap();
        std::fs::rename(&health_aside, late_health_dir.join("late.parquet")).unwrap();
        for table in ["task_peaks", "task_health"] {
            let used = derived_days_in_plan(&dir, table, now).await;
            assert!(
                !used.contains(late_day.as_str()),
                "{late_day} in {table}: {used}"
            );
            assert!(used.contains(&metric_days[1]), "{table}: {used}");
        }
        let with_late = answers(&dir, now).await;
        assert_ne!(
            with_late, with_peaks,
            "the late files raise peaks and counts"
        );
        std::fs::rename(&peaks_dir, &kept).unwrap();
        std::fs::rename(&health_dir, &health_kept).unwrap();
        assert_eq!(with_late, answers(&dir, now).await);
        std::fs::rename(&kept, &peaks_dir).unwrap();
        std::fs::rename(&health_kept, &health_dir).unwrap();

        // Compacting the days again makes their derived rows current again
        // (the health file's copy is a redelivery: compaction keeps one).
        compact_partition(&store, &metrics::DEF, late_day)
            .await
            .unwrap();
        compact_partition(&store, &health::DEF, late_day)
            .await
            .unwrap();
        for table in ["task_peaks", "task_health"] {
            let used = derived_days_in_plan(&dir, table, now).await;
            assert!(used.contains(late_day.as_str()), "{table}: {used}");
        }
        let recompacted = answers(&dir, now).await;
        std::fs::rename(&peaks_dir, &kept).unwrap();
        std::fs::rename(&health_dir, &health_kept).unwrap();
        assert_eq!(recompacted, answers(&dir, now).await);
    });
}
