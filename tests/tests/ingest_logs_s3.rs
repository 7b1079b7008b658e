//! End to end: the real `ingest-logs` handler, the real aws-sdk-s3 client, a
//! real S3 endpoint on loopback; objects read back with the parquet crate.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ecs_lake::Outcome;
use ecs_lake_aws::S3Store;
use ecs_lake_tests::{
    S3Server, column, cwl_payload, fixture, gzip_base64, list_keys, read_parquet, row_count,
};
use ingest_logs::{DirectSummary, Response, handle};
use serde_json::value::RawValue;
use serde_json::{Value, json};

const BUCKET: &str = "lake";
const PREFIX: &str = "ecs";
/// 2026-11-24T12:00:00Z: the ingest time of these tests.
const NOW: i64 = 1_795_521_600_000_000;
const PERF_GROUP: &str = "/aws/ecs/containerinsights/MyCluster/performance";

fn fixture_json(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap()
}

/// A Kinesis event whose records carry these (sequence number, data) pairs.
fn kinesis_event(records: &[(String, String)]) -> Box<RawValue> {
    let records: Vec<_> = records
        .iter()
        .map(|(seq, data)| {
            json!({
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "p", "sequenceNumber": seq,
                            "data": data, "approximateArrivalTimestamp": 1_700_000_000.5},
                "eventSource": "aws:kinesis", "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{seq}"), "eventName": "aws:kinesis:record",
                "awsRegion": "us-east-1", "eventSourceARN": "arn:aws:kinesis:us-east-1:111122223333:stream/cwl"
            })
        })
        .collect();
    RawValue::from_string(json!({ "Records": records }).to_string()).unwrap()
}

/// Every payload in the Kinesis and Firehose fixtures (one is a CONTROL_MESSAGE).
fn fixture_payloads() -> Vec<String> {
    let kinesis = fixture_json("cwl_kinesis_stream_powertools.json");
    let firehose = fixture_json("cwl_firehose_transform_sam-cli_template.json");
    let k = kinesis["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["kinesis"]["data"]);
    let f = firehose["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["data"]);
    k.chain(f).map(|d| d.as_str().unwrap().to_owned()).collect()
}

fn perf_records() -> Vec<String> {
    [
        "ci_perf_Container_awsdocs.json",
        "ci_perf_Task_emf_awsdocs.json",
    ]
    .iter()
    .map(|n| fixture_json(n).to_string())
    .collect()
}

#[tokio::test]
async fn kinesis_batch_with_control_message_metrics_and_malformed_records() {
    let server = S3Server::start(&[BUCKET]);
    let client = server.client();
    let store = S3Store::new(client.clone(), BUCKET, PREFIX);

    let good = fixture_payloads();
    let mut perf = perf_records();
    perf.insert(1, "CpuUtilized=3 (not JSON)".to_owned());
    let perf_payload = cwl_payload(PERF_GROUP, "AgentTelemetry-0d76", 1_623_963_900_000, &perf);
    let compressed = STANDARD.decode(&good[0]).unwrap();
    let bomb = {
        // 32 MiB of one repeated log line: twice the decoding limit, ~40 KiB compressed.
        let line = json!({"id": "x", "timestamp": 0, "message": "a"}).to_string();
        let mut body = String::from(
            r#"{"messageType":"DATA_MESSAGE","logGroup":"g","logStream":"s","logEvents":["#,
        );
        while body.len() < 32 << 20 {
            body.push_str(&line);
            body.push(',');
        }
        body.push_str(&line);
        body.push_str("]}");
        gzip_base64(body.as_bytes())
    };
    let bad = [
        (
            "bad-base64",
            "H4sI%%%not-base64%%%".to_owned(),
            "not base64",
        ),
        (
            "truncated",
            STANDARD.encode(&compressed[..compressed.len() - 20]),
            "gzip payload is corrupt or truncated",
        ),
        ("bomb", bomb, "inflates past the 16777216-byte limit"),
    ];
    let mut records: Vec<(String, String)> = good
        .iter()
        .enumerate()
        .map(|(i, d)| (format!("4960000000000000000000000{i}"), d.clone()))
        .collect();
    records.push(("perf".into(), perf_payload));
    for (id, data, _) in &bad {
        records.push(((*id).into(), data.clone()));
    }

    let (response, report) = handle(&store, &kinesis_event(&records), NOW).await.unwrap();
    let Response::Kinesis(response) = response else {
        panic!("expected a Kinesis response")
    };
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(report.written(), good.len() + 1);
    assert_eq!(report.quarantined(), bad.len());
    for ((id, _, why), outcome) in bad.iter().zip(&report.outcomes[good.len() + 1..]) {
        match outcome {
            Outcome::Quarantined { reason } => assert!(reason.contains(why), "{id}: {reason}"),
            other => panic!("{id}: {other:?}"),
        }
    }

    // Conservation over log events: in = rows + quarantined; control messages counted.
    let counts = report.logs;
    assert_eq!(counts.control_messages, 1);
    assert_eq!(counts.payloads_quarantined, bad.len());
    assert_eq!(counts.log_events, counts.rows + counts.quarantined);
    let fixture_events = 2 * 3 + 3 * 3; // Kinesis: 2 payloads x 3; Firehose: 3 data payloads x 3
    assert_eq!(counts.log_events, fixture_events + perf.len());
    assert_eq!(counts.quarantined, 1);

    let logs = read_parquet(&client, BUCKET, "ecs/logs/").await;
    assert_eq!(row_count(&logs), fixture_events);
    assert!(
        column(&logs, "message")
            .iter()
            .any(|m| m.starts_with("REPORT RequestId: 06e46194"))
    );
    let metrics = read_parquet(&client, BUCKET, "ecs/metrics/").await;
    let mut types = column(&metrics, "record_type");
    types.sort();
    assert_eq!(types, ["Container", "Task"]);
    assert_eq!(column(&metrics, "memory_reserved"), ["10", "10"]);
    assert_eq!(
        column(&metrics, "raw"),
        perf_records(),
        "the record is kept as sent"
    );
    let keys = list_keys(&client, BUCKET, "ecs/metrics/").await;
    assert_eq!(keys.len(), 1);
    assert!(
        keys[0].starts_with("ecs/metrics/dt=2021-06-17/logs-"),
        "{keys:?}"
    );

    // Quarantine: three whole payloads byte for byte, and the one bad record
    // with its Kinesis sequence number and CloudWatch event id.
    let q = read_parquet(&client, BUCKET, "ecs/_quarantine/").await;
    assert_eq!(row_count(&q), bad.len() + 1);
    let ids = column(&q, "input_id");
    let sizes = column(&q, "size");
    for (id, data, _) in &bad {
        let i = ids
            .iter()
            .position(|q| q == id)
            .unwrap_or_else(|| panic!("{id}"));
        assert_eq!(sizes[i], data.len().to_string());
    }
    let reasons = column(&q, "reason");
    let part = ids
        .iter()
        .position(|q| q == "perf/ev1")
        .expect("the bad record by event id");
    assert!(
        reasons[part].contains("performance record is not valid"),
        "{}",
        reasons[part]
    );
    assert!(column(&q, "source").iter().all(|s| s == "logs"));

    // A retried batch overwrites its own objects.
    let before = list_keys(&client, BUCKET, "ecs/").await;
    handle(&store, &kinesis_event(&records), NOW).await.unwrap();
    assert_eq!(list_keys(&client, BUCKET, "ecs/").await, before);
}

#[tokio::test]
async fn a_failed_write_returns_exactly_the_affected_kinesis_records() {
    let server = S3Server::start(&[BUCKET]);
    let client = server.client();
    let store = S3Store::new(client.clone(), BUCKET, PREFIX);
    std::fs::create_dir_all(server.bucket_dir(BUCKET).join("ecs")).unwrap();
    std::fs::write(server.bucket_dir(BUCKET).join("ecs/metrics"), b"in the way").unwrap();
    let app = fixture_payloads().remove(0);
    let perf = cwl_payload(
        PERF_GROUP,
        "AgentTelemetry-0d76",
        1_623_963_900_000,
        &perf_records(),
    );
    let records = vec![("app".to_owned(), app), ("perf".to_owned(), perf)];
    let (response, report) = handle(&store, &kinesis_event(&records), NOW).await.unwrap();
    let Response::Kinesis(response) = response else {
        panic!("expected a Kinesis response")
    };
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["perf"]);
    assert_eq!(report.written(), 1);
    assert_eq!(
        row_count(&read_parquet(&client, BUCKET, "ecs/logs/").await),
        3
    );
}

#[tokio::test]
async fn direct_subscription_payloads() {
    let server = S3Server::start(&[BUCKET]);
    let client = server.client();
    let store = S3Store::new(client.clone(), BUCKET, PREFIX);
    for name in [
        "cwl_lambda_awslogs_aws-lambda-go.json",
        "cwl_lambda_awslogs_policyLevel_powertools.json",
    ] {
        let event = RawValue::from_string(String::from_utf8(fixture(name)).unwrap()).unwrap();
        let (response, _) = handle(&store, &event, NOW).await.unwrap();
        let Response::Direct(summary) = response else {
            panic!("expected a direct response")
        };
        assert_eq!(
            summary,
            DirectSummary {
                outcome: "written",
                reason: None,
                log_events: 2,
                rows: 2,
                quarantined_events: 0,
                control_messages: 0
            },
            "{name}"
        );
    }
    // Both fixtures hold the same two events (gzip and zlib): two rows each.
    let logs = read_parquet(&client, BUCKET, "ecs/logs/").await;
    assert_eq!(row_count(&logs), 4);
    assert!(column(&logs, "level").iter().all(|l| l == "error"));

    // A control message is counted and dropped: nothing is written.
    let control =
        fixture_json("cwl_firehose_transform_sam-cli_template.json")["records"][0]["data"].clone();
    let event = RawValue::from_string(json!({"awslogs": {"data": control}}).to_string()).unwrap();
    let before = list_keys(&client, BUCKET, "ecs/").await;
    let (response, _) = handle(&store, &event, NOW).await.unwrap();
    let Response::Direct(summary) = response else {
        panic!()
    };
    assert_eq!(
        (
            summary.outcome,
            summary.control_messages,
            summary.log_events
        ),
        ("written", 1, 0)
    );
    assert_eq!(list_keys(&client, BUCKET, "ecs/").await, before);

    // Neither shape: quarantined whole, the call succeeds.
    let other =
        RawValue::from_string(r#"{"detail-type":"ECS Task State Change"}"#.to_owned()).unwrap();
    let (response, _) = handle(&store, &other, NOW).await.unwrap();
    let Response::Direct(summary) = response else {
        panic!()
    };
    assert_eq!(summary.outcome, "quarantined");
    assert!(
        summary
            .reason
            .unwrap()
            .contains("neither a CloudWatch Logs subscription")
    );

    // A failed write fails the invocation so Lambda retries it.
    std::fs::write(server.bucket_dir(BUCKET).join("blocked"), b"in the way").unwrap();
    let blocked = S3Store::new(client, BUCKET, "blocked");
    let event = RawValue::from_string(
        String::from_utf8(fixture("cwl_lambda_awslogs_aws-lambda-go.json")).unwrap(),
    )
    .unwrap();
    let err = handle(&blocked, &event, NOW).await.unwrap_err().to_string();
    assert!(
        err.contains("PUT s3://lake/blocked/logs/dt=2015-08-24/logs-"),
        "{err}"
    );
}

/// The lifecycle-event log group Container Insights creates holds ECS
/// events: subscribed like any log group, its events land in task_events,
/// not in logs (the event is the real arkime capture, see SOURCES.md).
#[tokio::test]
async fn ecs_events_in_a_subscribed_log_group_become_task_events() {
    let server = S3Server::start(&[BUCKET]);
    let client = server.client();
    let store = S3Store::new(client.clone(), BUCKET, PREFIX);
    let decoded = fixture("cwl_ecs_lifecycle_events_log_group_arkime-event.json");
    let event =
        RawValue::from_string(json!({"awslogs": {"data": gzip_base64(&decoded)}}).to_string())
            .unwrap();
    let (response, _) = handle(&store, &event, NOW).await.unwrap();
    let Response::Direct(summary) = response else {
        panic!("expected a direct response")
    };
    assert_eq!(
        (
            summary.outcome,
            summary.log_events,
            summary.rows,
            summary.quarantined_events
        ),
        ("written", 1, 1, 0)
    );
    let tasks = read_parquet(&client, BUCKET, "ecs/task_events/").await;
    assert_eq!(
        column(&tasks, "task_id"),
        ["c50e321c974248dbaf4ae2cfa1662986"]
    );
    assert_eq!(column(&tasks, "exit_code"), ["137"]);
    assert!(list_keys(&client, BUCKET, "ecs/logs/").await.is_empty());
}
