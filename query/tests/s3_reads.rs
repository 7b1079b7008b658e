//! Questions over an S3 lake list only the days they ask about: the
//! simulator's lake in the in-process S3 endpoint (s3s), read by the engine
//! through object_store, every request logged by the endpoint.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::BTreeSet;

use datafusion::arrow::util::pretty::pretty_format_batches;
use ecs_lake_aws::{LocalStore, S3Store};
use ecs_lake_tests::S3Server;
use ecs_query_engine::{Lake, LakeConfig};

mod common;
use common::block_on;

const HOURS: f64 = 96.0;
const SEED: u64 = 3;
const QUESTION: &str = "exit 137 by revision last 24h";

/// The answer as text, and the days (`YYYY-MM-DD`) the window touches.
async fn answer(lake: &Lake, now: i64) -> String {
    let df = ecs_query_engine::ask::plan(lake, QUESTION, now)
        .await
        .unwrap();
    pretty_format_batches(&ecs_query_engine::collect(df).await.unwrap())
        .unwrap()
        .to_string()
}

/// One task's timeline as text.
async fn timeline(lake: &Lake, task: &str, now: i64) -> String {
    let (_, df) = ecs_query_engine::timeline::timeline(lake, task, 5, now)
        .await
        .unwrap();
    pretty_format_batches(&ecs_query_engine::collect(df).await.unwrap())
        .unwrap()
        .to_string()
}

#[test]
fn a_windowed_question_and_a_timeline_list_only_their_days_and_answer_as_the_local_lake() {
    block_on(|| async {
        let preset = ecs_sim::Preset::fleet(HOURS);
        let now = common::end_micros(&preset);
        let server = S3Server::start(&["lake"]);
        let s3 = S3Store::new(server.client(), "lake", "ecs");
        ecs_lake_tests::ingest_simulation(&s3, &preset, SEED, 4).await;
        let dir = tempfile::tempdir().unwrap();
        ecs_lake_tests::ingest_simulation(&LocalStore::new(dir.path()), &preset, SEED, 4).await;

        let lake = Lake::open_with_sdk(&LakeConfig::at("s3://lake/ecs"), &server.sdk_config())
            .await
            .unwrap();
        // Files in flight: more partitions than cores on S3.
        assert_eq!(
            lake.ctx.copied_config().target_partitions(),
            ecs_query_engine::listing::S3_READ_CONCURRENCY
        );
        server.clear_requests();
        let on_s3 = answer(&lake, now).await;
        let lists: Vec<String> = server
            .requests()
            .iter()
            .filter_map(|r| r.list_prefix())
            .collect();

        // The window: the last 24 h before `now`, i.e. these days.
        let days: BTreeSet<String> = [now - 86_400_000_000, now]
            .iter()
            .map(|t| ecs_lake::time::date_of(*t))
            .collect();
        let listed_tables: BTreeSet<&str> = lists
            .iter()
            .map(|p| p.split('/').nth(1).unwrap_or(""))
            .collect();
        assert!(listed_tables.contains("task_events"), "{lists:?}");
        // Each day of each table listed once, though several scans read it.
        let distinct: BTreeSet<&String> = lists.iter().collect();
        assert_eq!(distinct.len(), lists.len(), "{lists:?}");
        for prefix in &lists {
            let parts: Vec<&str> = prefix.trim_end_matches('/').split('/').collect();
            match parts[..] {
                // Deployment events from two weeks before the window (a
                // deployment may have started before it): days one by one.
                ["ecs", "service_events", day] => assert!(day.starts_with("dt="), "{prefix}"),
                ["ecs", _table, day] => {
                    let day = day.strip_prefix("dt=").expect("a day prefix");
                    assert!(
                        days.contains(day),
                        "{prefix} is outside the window {days:?}"
                    );
                }
                _ => panic!("listed {prefix:?}: a whole table for a windowed question"),
            }
        }
        // Every file the Lambdas wrote (smaller than the 512 KiB footer
        // read) is fetched whole, in one GET per scan that reads it: no
        // footer read followed by a read of its columns.
        let gets: Vec<ecs_lake_tests::S3Request> = server
            .requests()
            .into_iter()
            .filter(|r| r.object_get().is_some())
            .collect();
        let mut small = 0;
        for get in &gets {
            let key = get.object_get().unwrap();
            let size = std::fs::metadata(server.root.path().join("lake").join(&key))
                .unwrap()
                .len();
            if size < 512 * 1024 {
                assert_eq!(get.range, None, "{key} read in parts: {get:?}");
                small += 1;
            }
        }
        assert!(small > 0, "no small file read: {gets:?}");

        // The simulation spans five days; the question lists at most two per table.
        let simulated_days = std::fs::read_dir(dir.path().join("task_events"))
            .unwrap()
            .count();
        assert!(simulated_days >= 4, "{simulated_days}");

        // The same answer as the same lake on a local disk.
        let local = Lake::open(&LakeConfig::at(dir.path().to_str().unwrap()))
            .await
            .unwrap();
        assert_eq!(on_s3, answer(&local, now).await);
        assert!(on_s3.contains("exit_137"), "{on_s3}");

        // Asked again within the listing TTL: nothing is listed again.
        server.clear_requests();
        assert_eq!(answer(&lake, now).await, on_s3);
        let again = server
            .requests()
            .iter()
            .filter(|r| r.list_prefix().is_some())
            .count();
        assert_eq!(again, 0, "{:?}", server.requests());

        // A timeline of a task that stopped on the first day reads the days
        // it lived, not the lake: its look-back lists days one by one, and
        // the metrics, logs and health it reads are of its own days.
        let first_oom = ecs_query_engine::ask::sql(
            &local,
            "SELECT task_id FROM tasks WHERE exit_code = 137 ORDER BY time LIMIT 1",
        )
        .await
        .unwrap();
        let batches = ecs_query_engine::collect(first_oom).await.unwrap();
        let task = datafusion::arrow::util::display::array_value_to_string(batches[0].column(0), 0)
            .unwrap();
        server.clear_requests();
        let on_s3_timeline = timeline(&lake, &task, now).await;
        let local_timeline = timeline(&local, &task, now).await;
        assert_eq!(on_s3_timeline, local_timeline);
        assert!(on_s3_timeline.contains("exited 137"), "{on_s3_timeline}");
        let stopped_day = on_s3_timeline
            .lines()
            .find(|l| l.contains("exited 137"))
            .and_then(|l| l.split('|').nth(1))
            .map(|t| t.trim()[..10].to_owned())
            .unwrap();
        for prefix in server.requests().iter().filter_map(|r| r.list_prefix()) {
            let parts: Vec<&str> = prefix.trim_end_matches('/').split('/').collect();
            match parts[..] {
                ["ecs", "task_events", _] => {}
                [
                    "ecs",
                    "metrics" | "logs" | "health" | "container_events",
                    day,
                ] => {
                    let day = day.strip_prefix("dt=").unwrap();
                    assert!(
                        day <= stopped_day.as_str(),
                        "{prefix}: after the task stopped on {stopped_day}"
                    );
                }
                _ => panic!("listed {prefix:?} for one task's timeline"),
            }
        }
    });
}

/// Compaction replaces the files of a day (the open day every hour) while
/// a process holds their listing: the next question still answers, from
/// the compacted files, with the same rows.
#[test]
fn a_question_after_compaction_replaced_the_listed_files_answers_the_same() {
    block_on(|| async {
        let preset = ecs_sim::Preset::fleet(30.0);
        let now = common::end_micros(&preset);
        let server = S3Server::start(&["lake"]);
        let s3 = S3Store::new(server.client(), "lake", "ecs");
        ecs_lake_tests::ingest_simulation(&s3, &preset, SEED, 4).await;
        let lake = Lake::open_with_sdk(&LakeConfig::at("s3://lake/ecs"), &server.sdk_config())
            .await
            .unwrap();
        let before = answer(&lake, now).await;
        assert!(before.contains("exit_137"), "{before}");

        // Every partition, today's included, compacted: the listed files are gone.
        let mut replaced = 0;
        for table in ecs_lake::schema::TABLES {
            for day in ecs_lake::compact::days(&s3, table).await.unwrap() {
                let report = ecs_lake::compact::compact_partition(&s3, table, &day)
                    .await
                    .unwrap();
                replaced += report.deleted;
            }
        }
        assert!(replaced > 0);

        // Within the listing TTL: the cached listing names deleted files.
        assert_eq!(answer(&lake, now).await, before);
    });
}
