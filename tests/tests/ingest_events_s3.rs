//! End to end: the real `ingest-events` handler, the real aws-sdk-s3 client, a
//! real S3 endpoint on loopback; objects read back with the parquet crate.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::BTreeMap;

use ecs_lake::Outcome;
use ecs_lake_aws::S3Store;
use ecs_lake_tests::{
    S3Server, column, ecs_event_fixtures, fixture, list_keys, read_parquet, row_count,
};
use ingest_events::{DirectSummary, Response, handle};
use serde_json::json;
use serde_json::value::RawValue;

const BUCKET: &str = "lake";
const PREFIX: &str = "ecs";
/// 2026-11-24T12:00:00Z: the ingest time of these tests.
const NOW: i64 = 1_795_521_600_000_000;

/// [`ecs_lake_tests::sqs_event`] as the handler takes it.
fn sqs_event(bodies: &[(String, String)]) -> Box<RawValue> {
    RawValue::from_string(ecs_lake_tests::sqs_event(bodies).to_string()).unwrap()
}

fn text(name: &str) -> String {
    String::from_utf8(fixture(name)).unwrap()
}

/// Malformed bodies and why each must be quarantined.
fn bad_bodies() -> Vec<(&'static str, String, &'static str)> {
    let task = text("ecs_task_stopped_fargate_essential_exit2_fivexl.json");
    let mut huge: serde_json::Value = serde_json::from_str(&task).unwrap();
    huge["detail"]["stoppedReason"] = json!("x".repeat(10 * 1024 * 1024));
    let mut wrong: serde_json::Value = serde_json::from_str(&task).unwrap();
    wrong["detail"]["containers"] = json!("not a list");
    let mut unknown: serde_json::Value = serde_json::from_str(&task).unwrap();
    unknown["detail-type"] = json!("ECS Something New");
    // From aws.ecs it would be kept in other_events: without a source it is not ECS's.
    unknown.as_object_mut().unwrap().remove("source");
    vec![
        (
            "truncated",
            task[..task.len() / 2].to_owned(),
            "not an EventBridge event",
        ),
        (
            "wrong-type",
            wrong.to_string(),
            "detail of a task state change: invalid type",
        ),
        ("huge", huge.to_string(), "over the 1048576-byte limit"),
        (
            "unknown-type",
            unknown.to_string(),
            "unknown detail-type \"ECS Something New\" without source aws.ecs",
        ),
        (
            "garbage",
            "\u{0}\u{1}\u{fffd}\u{7f}PK\u{3}\u{4}".to_owned(),
            "not an EventBridge event",
        ),
        ("empty", String::new(), "not an EventBridge event"),
    ]
}

#[tokio::test]
async fn sqs_batch_with_good_duplicate_and_malformed_records() {
    let server = S3Server::start(&[BUCKET]);
    let client = server.client();
    let store = S3Store::new(client.clone(), BUCKET, PREFIX);

    let mut bodies: Vec<(String, String)> = Vec::new();
    let good: Vec<String> = ecs_event_fixtures();
    for name in &good {
        bodies.push((format!("good-{name}"), text(name)));
    }
    // At-least-once delivery: the same event again under another message id.
    bodies.push((
        "duplicate".into(),
        text("ecs_task_stopped_fargate_essential_exit2_fivexl.json"),
    ));
    let bad = bad_bodies();
    for (id, body, _) in &bad {
        bodies.push(((*id).into(), body.clone()));
    }

    let (response, report) = handle(&store, &sqs_event(&bodies), NOW).await.unwrap();
    let Response::Sqs(response) = response else {
        panic!("expected an SQS response")
    };
    assert!(
        response.batch_item_failures.is_empty(),
        "{:?}",
        response.batch_item_failures
    );

    // Conservation: every record is written or quarantined, exactly once.
    assert_eq!(report.outcomes.len(), bodies.len());
    assert_eq!(report.written() + report.quarantined(), bodies.len());
    assert_eq!(report.written(), good.len() + 1);
    let outcomes: BTreeMap<&str, &Outcome> = bodies
        .iter()
        .map(|(id, _)| id.as_str())
        .zip(&report.outcomes)
        .collect();
    for (id, _, why) in &bad {
        match outcomes[id] {
            Outcome::Quarantined { reason } => assert!(reason.contains(why), "{id}: {reason}"),
            other => panic!("{id}: expected quarantine, got {other:?}"),
        }
    }

    // Read the lake back through S3.
    let tasks = read_parquet(&client, BUCKET, "ecs/task_events/").await;
    let n_task_fixtures = good.iter().filter(|n| n.starts_with("ecs_task_")).count();
    assert_eq!(
        row_count(&tasks),
        n_task_fixtures + 1,
        "one row per task event, duplicate included"
    );
    let ids = column(&tasks, "event_id");
    assert_eq!(
        ids.iter()
            .filter(|i| *i == "821822b9-420a-4e36-080c-53ec5cc22df1")
            .count(),
        2
    );
    let mut causes = column(&tasks, "stop_cause");
    causes.sort();
    causes.dedup();
    assert_eq!(
        causes,
        [
            "elb_health_check",
            "essential_container_exited",
            "scale_in",
            "user_stopped",
            "∅"
        ]
    );
    // Rows are sorted by time within each file, and each file holds one day.
    let keys = list_keys(&client, BUCKET, "ecs/task_events/").await;
    assert!(
        keys.iter()
            .all(|k| k.starts_with("ecs/task_events/dt=") && k.ends_with(".parquet")),
        "{keys:?}"
    );
    for batch in &tasks {
        let times = column(std::slice::from_ref(batch), "event_time");
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    }
    let raw = column(&tasks, "raw");
    assert!(
        raw.iter()
            .any(|r| r == &text("ecs_task_stopped_ec2_bridge_userinitiated_aws-samples.json")),
        "raw event kept byte for byte"
    );

    let services = read_parquet(&client, BUCKET, "ecs/service_events/").await;
    assert_eq!(
        row_count(&services),
        good.iter()
            .filter(|n| n.starts_with("ecs_deployment_") || n.starts_with("ecs_service_action_"))
            .count()
    );
    let instances = read_parquet(&client, BUCKET, "ecs/instance_events/").await;
    assert_eq!(column(&instances, "ec2_instance_id"), ["i-f3a8506b"]);
    let containers = read_parquet(&client, BUCKET, "ecs/container_events/").await;
    assert!(column(&containers, "exit_kind").contains(&"sigterm".to_owned()));

    // Quarantine keeps every bad input byte for byte, with its reason.
    let quarantine = read_parquet(&client, BUCKET, "ecs/_quarantine/").await;
    assert_eq!(row_count(&quarantine), bad.len());
    let q_ids = column(&quarantine, "input_id");
    let q_sizes = column(&quarantine, "size");
    for (id, body, _) in &bad {
        let i = q_ids
            .iter()
            .position(|q| q == id)
            .unwrap_or_else(|| panic!("{id} not in quarantine"));
        assert_eq!(q_sizes[i], body.len().to_string());
    }
    assert!(column(&quarantine, "source").iter().all(|s| s == "events"));

    // A retried batch overwrites its own objects: same keys, no new files.
    let before = list_keys(&client, BUCKET, "ecs/").await;
    let (_, again) = handle(&store, &sqs_event(&bodies), NOW).await.unwrap();
    assert_eq!(again.written(), report.written());
    assert_eq!(list_keys(&client, BUCKET, "ecs/").await, before);
}

#[tokio::test]
async fn a_failed_write_returns_exactly_the_affected_records() {
    let server = S3Server::start(&[BUCKET]);
    let client = server.client();
    let store = S3Store::new(client.clone(), BUCKET, PREFIX);
    // Make every container_events write fail for real: a file where the
    // table's directory must go, so the S3 endpoint cannot store the object.
    std::fs::create_dir_all(server.bucket_dir(BUCKET).join("ecs")).unwrap();
    std::fs::write(
        server.bucket_dir(BUCKET).join("ecs/container_events"),
        b"in the way",
    )
    .unwrap();

    let bodies = vec![
        (
            "task".to_owned(),
            text("ecs_task_stopped_fargate_essential_exit2_fivexl.json"),
        ),
        (
            "deployment".to_owned(),
            text("ecs_deployment_COMPLETED_awsdocs.json"),
        ),
        ("bad".to_owned(), "{".to_owned()),
    ];
    let (response, report) = handle(&store, &sqs_event(&bodies), NOW).await.unwrap();
    let Response::Sqs(response) = response else {
        panic!("expected an SQS response")
    };
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(
        failed,
        ["task"],
        "only the record whose rows could not be written is redelivered"
    );
    assert_eq!(
        report.written() + report.quarantined() + report.failed(),
        bodies.len()
    );
    assert_eq!(
        row_count(&read_parquet(&client, BUCKET, "ecs/service_events/").await),
        1
    );
    assert_eq!(
        row_count(&read_parquet(&client, BUCKET, "ecs/_quarantine/").await),
        1
    );
}

#[tokio::test]
async fn direct_eventbridge_invocation() {
    let server = S3Server::start(&[BUCKET]);
    let client = server.client();
    let store = S3Store::new(client.clone(), BUCKET, PREFIX);
    let event = RawValue::from_string(text(
        "ecs_task_stopped_fargate_elb_healthcheck_exit143_kx_kotlin_support.json",
    ))
    .unwrap();
    let (response, _) = handle(&store, &event, NOW).await.unwrap();
    let Response::Direct(summary) = response else {
        panic!("expected a direct response")
    };
    assert_eq!(
        summary,
        DirectSummary {
            outcome: "written",
            reason: None
        }
    );
    let tasks = read_parquet(&client, BUCKET, "ecs/task_events/").await;
    assert_eq!(column(&tasks, "stop_cause"), ["elb_health_check"]);
    assert_eq!(column(&tasks, "exit_kind"), ["sigterm"]);

    // An unknown detail-type is quarantined, and the invocation still succeeds.
    let other = RawValue::from_string(r#"{"id":"x","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","time":"2026-11-20T00:00:00Z","detail":{}}"#.to_owned()).unwrap();
    let (response, _) = handle(&store, &other, NOW).await.unwrap();
    let Response::Direct(summary) = response else {
        panic!("expected a direct response")
    };
    assert_eq!(summary.outcome, "quarantined");
    assert!(summary.reason.unwrap().contains("aws.ec2"));

    // A payload that is neither shape is quarantined whole, with the reason.
    let neither = RawValue::from_string(r#"[{"Records": 1}]"#.to_owned()).unwrap();
    let (response, _) = handle(&store, &neither, NOW).await.unwrap();
    let Response::Direct(summary) = response else {
        panic!("expected a direct response")
    };
    assert_eq!(summary.outcome, "quarantined");
    assert!(
        summary
            .reason
            .unwrap()
            .starts_with("payload is neither an SQS event nor an EventBridge event")
    );

    // When the write fails, the invocation fails so Lambda retries it.
    // (A file stands where the lake's prefix directory must go.)
    std::fs::write(server.bucket_dir(BUCKET).join("blocked"), b"in the way").unwrap();
    let blocked = S3Store::new(client, BUCKET, "blocked");
    let err = handle(&blocked, &event, NOW).await.unwrap_err();
    let err = err.to_string();
    assert!(
        err.contains("PUT s3://lake/blocked/") && err.contains("/dt=2022-08-08/events-"),
        "{err}"
    );
}

#[tokio::test]
async fn empty_batch_writes_nothing() {
    let server = S3Server::start(&[BUCKET]);
    let client = server.client();
    let store = S3Store::new(client.clone(), BUCKET, PREFIX);
    let (response, report) = handle(&store, &sqs_event(&[]), NOW).await.unwrap();
    let Response::Sqs(response) = response else {
        panic!("expected an SQS response")
    };
    assert!(response.batch_item_failures.is_empty());
    assert!(report.outcomes.is_empty());
    assert!(list_keys(&client, BUCKET, "").await.is_empty());
}
