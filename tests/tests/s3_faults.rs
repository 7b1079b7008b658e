//! S3 faults against the real `ingest-events` handler and aws-sdk-s3 with
//! the lake's retry policy: 503 SlowDown, 500 InternalError, dropped
//! connections and stalls are retried; a persistent failure fails exactly
//! the affected SQS records; after redelivery and compaction the lake holds
//! every row exactly once.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use ecs_lake::compact::{compact_partition, days};
use ecs_lake::schema::TABLES;
use ecs_lake_aws::S3Store;
use ecs_lake_tests::{
    ACCESS_KEY, Fault, Faults, REGION, S3Server, SECRET_KEY, read_parquet, row_count,
};
use ingest_events::{Response, handle};
use serde_json::value::RawValue;

const BUCKET: &str = "lake";
const PREFIX: &str = "ecs";
const NOW: i64 = 1_795_521_600_000_000;

/// The production retry policy, with a 1 s attempt timeout so a stall costs a second.
fn client(server: &S3Server) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(&server.endpoint)
        .credentials_provider(Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "faults",
        ))
        .force_path_style(true);
    aws_sdk_s3::Client::from_conf(
        ecs_lake_aws::with_lake_retries(config, Duration::from_secs(1)).build(),
    )
}

/// The fleet simulator's events (with its duplicate deliveries) as SQS batches.
fn batches() -> (Vec<String>, usize) {
    let sim = ecs_sim::simulate(&ecs_sim::Preset::fleet(12.0), 8);
    let task_events = sim
        .events
        .iter()
        .filter(|e| e.contains("\"ECS Task State Change\""))
        .count();
    (sim.sqs_batches(100), task_events)
}

fn failed_ids(response: Response) -> Vec<String> {
    let Response::Sqs(response) = response else {
        panic!("expected an SQS response")
    };
    response
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_faults_are_retried_and_nothing_is_lost() {
    let faults = Arc::new(Faults::default());
    let server = S3Server::start_with_faults(&[BUCKET], Arc::clone(&faults));
    let s3 = client(&server);
    let store = S3Store::new(s3.clone(), BUCKET, PREFIX);
    let injected = [
        Fault::SlowDown,
        Fault::InternalError,
        Fault::Reset,
        Fault::Stall,
        Fault::SlowDown,
        Fault::Reset,
    ];
    faults.transient(&injected);
    let (batches, task_events) = batches();
    for batch in &batches {
        let event = RawValue::from_string(batch.clone()).unwrap();
        let (response, report) = handle(&store, &event, NOW).await.unwrap();
        assert!(failed_ids(response).is_empty(), "a retry succeeds");
        assert_eq!(report.failed(), 0);
    }
    let hit: Vec<Fault> = faults.injected().into_iter().map(|(_, f)| f).collect();
    assert_eq!(hit, injected, "every fault was injected, once");
    let rows = row_count(&read_parquet(&s3, BUCKET, "ecs/task_events/").await);
    assert_eq!(rows, task_events, "every delivered event is a row");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_failures_fail_only_their_records_and_redelivery_loses_nothing() {
    let faults = Arc::new(Faults::default());
    let server = S3Server::start_with_faults(&[BUCKET], Arc::clone(&faults));
    let s3 = client(&server);
    let store = S3Store::new(s3.clone(), BUCKET, PREFIX);
    let (batches, task_events) = batches();

    // Every write of container rows fails (all five attempts): the task
    // events whose containers are in those objects are redelivered by SQS.
    faults.always("/container_events/", Fault::SlowDown);
    let mut redeliver: Vec<String> = Vec::new();
    for batch in &batches {
        let event = RawValue::from_string(batch.clone()).unwrap();
        let (response, _) = handle(&store, &event, NOW).await.unwrap();
        let failed: BTreeSet<String> = failed_ids(response).into_iter().collect();
        let doc: serde_json::Value = serde_json::from_str(batch).unwrap();
        let records = doc["Records"].as_array().unwrap();
        for r in records {
            let is_task = r["body"]
                .as_str()
                .unwrap()
                .contains("\"ECS Task State Change\"");
            let id = r["messageId"].as_str().unwrap();
            // Exactly the task events (they have container rows) fail.
            assert_eq!(failed.contains(id), is_task, "{id}");
        }
        let again: Vec<&serde_json::Value> = records
            .iter()
            .filter(|r| failed.contains(r["messageId"].as_str().unwrap()))
            .collect();
        if !again.is_empty() {
            redeliver.push(serde_json::json!({ "Records": again }).to_string());
        }
    }
    assert!(!redeliver.is_empty());
    let attempts = faults.injected().len();
    assert_eq!(
        attempts % ecs_lake_aws::S3_ATTEMPTS as usize,
        0,
        "each PUT tried {} times",
        ecs_lake_aws::S3_ATTEMPTS
    );

    // SQS redelivers the failed records once S3 is back.
    faults.clear();
    for batch in &redeliver {
        let event = RawValue::from_string(batch.clone()).unwrap();
        let (response, _) = handle(&store, &event, NOW).await.unwrap();
        assert!(failed_ids(response).is_empty());
    }
    // The first attempt wrote those records' task rows already: the
    // redelivery wrote them again, under other keys. Compaction removes
    // the copies: every delivered event exactly once.
    for table in TABLES {
        for day in days(&store, table).await.unwrap() {
            compact_partition(&store, table, &day).await.unwrap();
        }
    }
    let rows = read_parquet(&s3, BUCKET, "ecs/task_events/").await;
    let ids: BTreeSet<String> = ecs_lake_tests::column(&rows, "event_id")
        .into_iter()
        .collect();
    assert_eq!(row_count(&rows), ids.len(), "no event twice");
    let (sim_ids, _) = {
        let sim = ecs_sim::simulate(&ecs_sim::Preset::fleet(12.0), 8);
        let ids: BTreeSet<String> = sim
            .events
            .iter()
            .filter(|e| e.contains("\"ECS Task State Change\""))
            .map(|e| {
                serde_json::from_str::<serde_json::Value>(e).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        (ids, task_events)
    };
    assert_eq!(ids, sim_ids, "every event once");
    let containers = row_count(&read_parquet(&s3, BUCKET, "ecs/container_events/").await);
    assert_eq!(
        containers,
        sim_ids.len(),
        "one container per simulated task event"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_stop_at_the_invocation_deadline_and_fail_only_the_stalled_records() {
    let faults = Arc::new(Faults::default());
    let server = S3Server::start_with_faults(&[BUCKET], Arc::clone(&faults));
    let s3 = client(&server);
    let store = S3Store::new(s3.clone(), BUCKET, PREFIX);
    let (batches, _) = batches();
    let batch = batches
        .iter()
        .find(|b| b.contains("ECS Deployment State Change") && b.contains("ECS Task State Change"))
        .expect("a batch with deployment and task events");

    // Container writes hang; five 1 s attempts plus backoff would take over
    // 5 s, the invocation has 2.5 s.
    faults.always("/container_events/", Fault::Stall);
    let start = tokio::time::Instant::now();
    let deadline = start + Duration::from_millis(2500);
    let bounded = ecs_lake_aws::WithDeadline::new(&store, deadline);
    let event = RawValue::from_string(batch.clone()).unwrap();
    let (response, report) = handle(&bounded, &event, NOW).await.unwrap();
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(2500) && elapsed < Duration::from_millis(3500),
        "answered at the deadline, not after the retries: {elapsed:?}"
    );
    let attempts = faults.injected().len();
    assert!(
        (1..ecs_lake_aws::S3_ATTEMPTS as usize).contains(&attempts),
        "retries cut short: {attempts} attempts"
    );

    let failed: BTreeSet<String> = failed_ids(response).into_iter().collect();
    let doc: serde_json::Value = serde_json::from_str(batch).unwrap();
    for r in doc["Records"].as_array().unwrap() {
        let is_task = r["body"]
            .as_str()
            .unwrap()
            .contains("\"ECS Task State Change\"");
        assert_eq!(failed.contains(r["messageId"].as_str().unwrap()), is_task);
    }
    assert!(report.written() > 0, "the deployment events were written");
    let services = row_count(&read_parquet(&s3, BUCKET, "ecs/service_events/").await);
    assert!(services > 0, "deployment events are service_events rows");
}
