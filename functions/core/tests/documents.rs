//! Day one: the documents a user already holds, read through the same
//! splitting (`envelope`) and normalization as `ecs-query ingest`: log
//! exports as the AWS CLI and Logs Insights print them, ECS events written
//! to log groups, the ECS agent's CloudTrail records, botocore recordings,
//! and ECS event types the other tables do not take. Expected values are
//! read off the payloads (see tests/fixtures/aws/SOURCES.md).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::BTreeMap;
use std::io::Write;

use ecs_lake::envelope::{LogNames, MissingLogGroup, split_file, split_file_named};
use ecs_lake::input::Input;
use ecs_lake::normalize::Normalizer;
use ecs_lake::rows::LogCounts;

mod common;
use common::{Row, check, fixture};

/// What a file gave: rows per table, quarantine reasons, log counts.
struct Read {
    tables: BTreeMap<&'static str, Vec<Row>>,
    quarantined: Vec<String>,
    logs: LogCounts,
}

fn read_inputs(inputs: &[Input]) -> Read {
    let mut n = Normalizer::new(0);
    for (i, input) in inputs.iter().enumerate() {
        n.push(i as u32, input);
    }
    let logs = n.log_counts();
    let (tables, quarantined) = common::finish(n);
    Read {
        tables,
        quarantined: quarantined.into_iter().map(|q| q.error.reason).collect(),
        logs,
    }
}

fn read(name: &str, content: &[u8], names: &LogNames) -> Read {
    read_inputs(&split_file_named(name, content, names).unwrap())
}

fn group(g: &str) -> LogNames {
    LogNames {
        log_group: Some(g.to_owned()),
        log_stream: None,
        owner: None,
    }
}

fn column<'a>(rows: &'a [Row], name: &str) -> Vec<&'a str> {
    rows.iter().map(|r| r[name].as_str()).collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn filter_log_events_output_is_read_with_its_log_group() {
    let doc = fixture("logs_filter_log_events_doc_aws-cli.json");
    // Without the log group the document cannot be placed: the user is told.
    assert_eq!(
        split_file_named("f.json", &doc, &LogNames::default()).unwrap_err(),
        MissingLogGroup {
            what: "an `aws logs filter-log-events` output"
        }
    );
    // The account, when the caller knows it (backfill: the group's ARN), as
    // a subscription payload's owner gives it.
    let names = LogNames {
        owner: Some("111122223333".into()),
        ..group("demo-log-group")
    };
    let r = read("f.json", &doc, &names);
    assert!(r.quarantined.is_empty(), "{:?}", r.quarantined);
    let logs = &r.tables["logs"];
    assert_eq!(logs.len(), 2);
    assert_eq!(column(logs, "account"), ["111122223333"; 2]);
    // Sorted by time: the values of the two events, as printed.
    assert_eq!(column(logs, "log_group"), ["demo-log-group"; 2]);
    assert_eq!(
        column(logs, "log_stream"),
        ["teststream", "2024/05/09/[$LATEST]abc1024"]
    );
    assert_eq!(
        column(logs, "time"),
        ["2024-04-08T09:17:23.827Z", "2024-04-08T09:21:08.991Z"]
    );
    assert_eq!(column(logs, "message"), ["Test MESSAGE1", "Test MESSAGE2"]);
    assert_eq!(
        column(logs, "event_id"),
        [
            "00091539120382912324200901570000096855579456010247667712",
            "00001544141707904000000130886135001961903807164184002560"
        ]
    );
    assert_eq!((r.logs.log_events, r.logs.rows), (2, 2));
}

#[test]
fn get_log_events_output_takes_group_and_stream_from_the_user() {
    let doc = fixture("logs_get_log_events_doc_aws-cli.json");
    assert_eq!(
        split_file_named("g.json", &doc, &LogNames::default())
            .unwrap_err()
            .what,
        "an `aws logs get-log-events` output"
    );
    let names = LogNames {
        log_group: Some("my-logs".into()),
        log_stream: Some("20150601".into()),
        owner: None,
    };
    let r = read("g.json", &doc, &names);
    assert!(r.quarantined.is_empty(), "{:?}", r.quarantined);
    let logs = &r.tables["logs"];
    // Three events as printed, the repeated one included (the output has it twice).
    assert_eq!(
        column(logs, "message"),
        ["Example Event 1", "Example Event 1", "Example Event 2"]
    );
    assert_eq!(column(logs, "log_stream"), ["20150601"; 3]);
    assert_eq!(
        column(logs, "time"),
        [
            "2015-06-01T20:23:04.356Z",
            "2015-06-01T20:23:04.356Z",
            "2015-06-01T20:23:04.358Z"
        ]
    );
}

/// The doc example's rows as the console's JSON and CSV downloads print
/// them (same fields, one object or line per row; the downloads' shape is
/// written from the CloudWatch Logs Insights console, values from the
/// `get-query-results` example).
fn insights_downloads() -> (String, String) {
    let doc: serde_json::Value =
        serde_json::from_slice(&fixture("logs_insights_get_query_results_doc_aws-cli.json"))
            .unwrap();
    let rows: Vec<serde_json::Map<String, serde_json::Value>> = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|c| (c["field"].as_str().unwrap().to_owned(), c["value"].clone()))
                .collect()
        })
        .collect();
    let json = serde_json::to_string_pretty(&rows).unwrap();
    let mut csv = String::from("@timestamp,@message,@logStream,@ptr\n");
    for r in &rows {
        let f = |k: &str| r[k].as_str().unwrap().to_owned();
        csv.push_str(&format!(
            "{},\"{}\",{},{}\n",
            f("@timestamp"),
            f("@message"),
            f("@logStream"),
            f("@ptr")
        ));
    }
    (json, csv)
}

#[test]
fn insights_results_in_three_shapes_give_the_same_rows() {
    let api = fixture("logs_insights_get_query_results_doc_aws-cli.json");
    let (json, csv) = insights_downloads();
    // No `@log` in these results: the log group must be given.
    for doc in [&api[..], json.as_bytes(), csv.as_bytes()] {
        assert_eq!(
            split_file_named("q", doc, &LogNames::default())
                .unwrap_err()
                .what,
            "Insights results without @log"
        );
    }
    let names = group("/ecs/bench");
    let from_api = read("q", &api, &names);
    assert!(
        from_api.quarantined.is_empty(),
        "{:?}",
        from_api.quarantined
    );
    let logs = &from_api.tables["logs"];
    assert_eq!(
        column(logs, "message"),
        ["Test BENCHMARK 1", "Test BENCHMARK 2", "Test BENCHMARK 3"]
    );
    assert_eq!(
        column(logs, "time"),
        [
            "2024-05-19T06:10:16.682Z",
            "2024-05-19T06:10:27.559Z",
            "2024-05-19T06:10:35.743Z"
        ]
    );
    assert_eq!(column(logs, "log_stream"), ["TestStream"; 3]);
    assert_eq!(column(logs, "log_group"), ["/ecs/bench"; 3]);
    // `@ptr` points into one query's results: it is not the event's id.
    assert_eq!(column(logs, "event_id"), ["∅"; 3]);
    for other in [json.as_bytes(), csv.as_bytes()] {
        let r = read("q", other, &names);
        assert!(r.quarantined.is_empty(), "{:?}", r.quarantined);
        assert_eq!(&r.tables["logs"], logs);
    }
}

#[test]
fn insights_rows_name_their_log_group_with_at_log() {
    // `@log` is `<account>:<log group>`: no --log-group needed, rows of two
    // groups land in their own groups.
    let csv = "@timestamp,@message,@log,@logStream\n\
               2024-05-19 06:10:16.682,\"{\"\"level\"\":\"\"error\"\",\"\"msg\"\":\"\"boom\"\"}\",111122223333:/ecs/api,ecs/api/0123456789abcdef0123456789abcdef\n\
               2024-05-19 06:10:17.000,plain line,111122223333:/ecs/worker,ecs/worker/fedcba9876543210fedcba9876543210\n";
    let r = read("q.csv", csv.as_bytes(), &LogNames::default());
    assert!(r.quarantined.is_empty(), "{:?}", r.quarantined);
    let logs = &r.tables["logs"];
    assert_eq!(column(logs, "log_group"), ["/ecs/api", "/ecs/worker"]);
    check(
        &logs[0],
        &[
            ("message", r#"{"level":"error","msg":"boom"}"#),
            ("level", "error"),
            ("container", "api"),
            ("task_id", "0123456789abcdef0123456789abcdef"),
        ],
    );
}

#[test]
fn insights_rows_that_are_not_log_events_are_quarantined_and_the_rest_kept() {
    let csv = "@timestamp,@message,@logStream\n\
               2024-05-19 06:10:16.682,kept,s\n\
               not a time,bad time,s\n";
    let r = read("q.csv", csv.as_bytes(), &group("/ecs/app"));
    assert_eq!(column(&r.tables["logs"], "message"), ["kept"]);
    assert_eq!(r.quarantined.len(), 1, "{:?}", r.quarantined);
    // The rejected row is kept, as read, for the quarantine.
    let inputs = split_file_named("q.csv", csv.as_bytes(), &group("/ecs/app")).unwrap();
    let rejected = inputs.iter().find(|i| i.rejected.is_some()).unwrap();
    assert_eq!(
        std::str::from_utf8(&rejected.body).unwrap(),
        r#"{"@logStream":"s","@message":"bad time","@timestamp":"not a time"}"#
    );
    assert!(
        r.quarantined[0].contains("@timestamp \"not a time\" is not a time"),
        "{:?}",
        r.quarantined
    );
    // A query that did not select @message: every row says so.
    let json = r#"[{"@timestamp": "2024-05-19 06:10:16.682", "@logStream": "s"},
                   {"@timestamp": "2024-05-19 06:10:17.682", "@message": "kept", "@logStream": "s"}]"#;
    let r = read("q.json", json.as_bytes(), &group("/ecs/app"));
    assert_eq!(column(&r.tables["logs"], "message"), ["kept"]);
    assert_eq!(r.quarantined.len(), 1);
    assert!(
        r.quarantined[0].contains("row 0 has no @message"),
        "{:?}",
        r.quarantined
    );
}

#[test]
fn log_events_output_with_wrong_types_keeps_the_readable_events() {
    let doc = r#"{"events": [
        {"logStreamName": "s", "timestamp": 1712567843827, "message": "kept"},
        {"logStreamName": "s", "timestamp": "yesterday", "message": "bad time"},
        {"logStreamName": "s", "timestamp": 1712567843828}
    ], "searchedLogStreams": []}"#;
    let r = read("f.json", doc.as_bytes(), &group("/ecs/app"));
    assert_eq!(column(&r.tables["logs"], "message"), ["kept"]);
    assert_eq!(r.quarantined.len(), 2, "{:?}", r.quarantined);
    assert!(r.quarantined[0].contains("is not epoch milliseconds"));
    assert!(r.quarantined[1].contains("events[2] has no message"));
    // Truncated: each line is quarantined on its own, nothing is lost silently.
    let truncated = &doc[..doc.len() / 2];
    let inputs = split_file_named("t.json", truncated.as_bytes(), &group("/ecs/app")).unwrap();
    let r = read_inputs(&inputs);
    assert!(r.tables.is_empty());
    assert_eq!(r.quarantined.len(), inputs.len());
}

/// The lifecycle-event log group Container Insights creates holds
/// EventBridge events: they become task events (the same rows as the
/// event itself), not log lines.
#[test]
fn ecs_events_in_a_log_group_are_events() {
    let payload = fixture("cwl_ecs_lifecycle_events_log_group_arkime-event.json");
    let inputs = split_file("p.json", &payload);
    let from_logs = read_inputs(&inputs);
    assert!(
        from_logs.quarantined.is_empty(),
        "{:?}",
        from_logs.quarantined
    );
    assert!(!from_logs.tables.contains_key("logs"));
    assert_eq!(
        (
            from_logs.logs.log_events,
            from_logs.logs.rows,
            from_logs.logs.ecs_events
        ),
        (1, 1, 1)
    );
    let event = fixture("ecs_task_stopped_fargate_scaling_activity_exit137_arkime-aws-aio.json");
    let direct = read_inputs(&split_file("e.json", &event));
    assert_eq!(
        from_logs.tables["task_events"],
        direct.tables["task_events"]
    );
    assert_eq!(
        from_logs.tables["container_events"],
        direct.tables["container_events"]
    );
    check(
        &from_logs.tables["task_events"][0],
        &[
            ("task_id", "c50e321c974248dbaf4ae2cfa1662986"),
            ("cluster", "DemoTrafficGen01-ClusterEB0386A7-sCRgDrfn5BP9"),
            ("service", "DemoTrafficGen01-ServiceD69D759B-EfyMIBhdCKVk"),
            ("stop_code", "ServiceSchedulerInitiated"),
            ("exit_code", "137"),
            ("deployment_id", "ecs-svc/8646900195280463695"),
            ("version", "6"),
        ],
    );

    // Other JSON in an application log group stays a log line.
    let other = serde_json::json!({
        "messageType": "DATA_MESSAGE", "logGroup": "/ecs/api",
        "logStream": "ecs/api/0123456789abcdef0123456789abcdef",
        "logEvents": [{"id": "1", "timestamp": 1_700_000_000_000_i64,
            "message": r#"{"detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","time":"2023-11-14T22:13:20Z","detail":{}}"#}],
    });
    let r = read_inputs(&split_file("o.json", other.to_string().as_bytes()));
    assert_eq!(r.tables["logs"].len(), 1);
    assert_eq!(r.logs.ecs_events, 0);
    assert!(!r.tables.contains_key("task_events"));

    // A broken ECS event in a log group is quarantined on its own, the
    // payload's other events kept.
    let mut broken: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    let good = broken["logEvents"][0].clone();
    let mut bad = good.clone();
    let message = bad["message"].as_str().unwrap().replace(
        "\"stoppedAt\":\"2023-05-02T15:29:11.177Z\"",
        "\"stoppedAt\":\"soon\"",
    );
    assert_ne!(
        message,
        bad["message"].as_str().unwrap(),
        "the edit applies"
    );
    bad["message"] = message.into();
    broken["logEvents"] = serde_json::json!([good, bad]);
    let r = read_inputs(&split_file("b.json", broken.to_string().as_bytes()));
    assert_eq!(r.tables["task_events"].len(), 1);
    assert_eq!(r.quarantined.len(), 1);
    assert!(
        r.quarantined[0].starts_with("ECS event in a log group: stoppedAt"),
        "{:?}",
        r.quarantined
    );
    assert_eq!(
        (r.logs.log_events, r.logs.rows, r.logs.quarantined),
        (2, 1, 1)
    );
}

/// The agent's report of an OOM kill, with no exit code: the OOM is read off
/// the container's reason.
#[test]
fn cloudtrail_submit_task_state_change_with_no_exit_code() {
    let trail = fixture("cloudtrail_submit_task_state_change_oom_no_exit_code_ecs-agent-5135.json");
    // Trail files are gzipped; one with another service's record too.
    let mut doc: serde_json::Value = serde_json::from_slice(&trail).unwrap();
    let records = doc["Records"].as_array_mut().unwrap();
    records.push(serde_json::json!({
        "eventVersion": "1.08", "eventTime": "2026-09-11T06:44:00Z",
        "eventSource": "s3.amazonaws.com", "eventName": "GetObject",
        "awsRegion": "ap-southeast-2", "requestParameters": {"bucketName": "b"}
    }));
    let content = ecs_lake::envelope::maybe_gunzip(gzip(doc.to_string().as_bytes())).unwrap();
    let r = read_inputs(&split_file("trail.json.gz", &content));
    let task = &r.tables["task_events"];
    assert_eq!(task.len(), 1);
    check(
        &task[0],
        &[
            (
                "event_id",
                "cloudtrail-00000000-0000-0000-0000-000000000002",
            ),
            ("task_id", "0056d389848141b6a5d81c274ff15c58"),
            ("cluster", "production"),
            ("region", "ap-southeast-2"),
            ("last_status", "STOPPED"),
            ("stop_cause", "oom_killed"),
            ("exit_code", "∅"),
            ("exit_container", "webapp"),
            ("family", "∅"),
            ("version", "∅"),
            ("event_time", "2026-09-11T06:43:59Z"),
        ],
    );
    let containers = &r.tables["container_events"];
    check(
        &containers[0],
        &[
            ("container_name", "webapp"),
            (
                "reason",
                "OutOfMemoryError: Container killed due to memory usage",
            ),
            ("exit_code", "∅"),
        ],
    );
    // The S3 record is reported, not read and not silently dropped.
    assert_eq!(r.quarantined.len(), 1);
    assert!(
        r.quarantined[0].starts_with(
            "1 CloudTrail record(s) are not the ECS agent's state reports, not read: s3.amazonaws.com GetObject x1"
        ),
        "{:?}",
        r.quarantined
    );

    // The same record delivered by EventBridge (`AWS API Call via CloudTrail`)
    // gives the same rows.
    let record = &serde_json::from_slice::<serde_json::Value>(&trail).unwrap()["Records"][0];
    let event = serde_json::json!({
        "version": "0", "id": "6f1b2c3d-0000-0000-0000-000000000003",
        "detail-type": "AWS API Call via CloudTrail", "source": "aws.ecs",
        "account": "<account-id>", "time": "2026-09-11T06:43:59Z",
        "region": "ap-southeast-2", "resources": [], "detail": record,
    });
    let via_eventbridge = read_inputs(&split_file("eb.json", event.to_string().as_bytes()));
    assert_eq!(via_eventbridge.tables["task_events"], *task);
}

#[test]
fn ecs_event_types_beyond_the_known_four_are_kept_as_received() {
    // A type the other tables do not take (written: the arkime event with
    // another detail-type, as AWS adds types) and an ECS API call other than
    // the agent's reports.
    let mut event: serde_json::Value = serde_json::from_slice(&fixture(
        "ecs_task_stopped_fargate_scaling_activity_exit137_arkime-aws-aio.json",
    ))
    .unwrap();
    event["detail-type"] = "ECS Service Deployment Lifecycle Hook".into();
    let call = serde_json::json!({
        "version": "0", "id": "7e2f0000-0000-0000-0000-000000000004",
        "detail-type": "AWS API Call via CloudTrail", "source": "aws.ecs",
        "account": "111122223333", "time": "2026-09-11T07:00:00Z", "region": "eu-west-1",
        "resources": [],
        "detail": {"eventSource": "ecs.amazonaws.com", "eventName": "RegisterTaskDefinition",
                   "requestParameters": {"family": "api"}},
    });
    let mut n = Normalizer::new(0);
    n.push_event(0, event.to_string().as_bytes());
    n.push_event(1, call.to_string().as_bytes());
    let (t, q) = common::finish(n);
    assert!(q.is_empty(), "{q:?}");
    let other = &t["other_events"];
    assert_eq!(
        column(other, "detail_type"),
        [
            "ECS Service Deployment Lifecycle Hook",
            "AWS API Call via CloudTrail"
        ]
    );
    check(
        &other[0],
        &[
            ("cluster", "DemoTrafficGen01-ClusterEB0386A7-sCRgDrfn5BP9"),
            ("region", "us-east-2"),
            ("event_time", "2023-05-02T15:29:11Z"),
            (
                "resource",
                "arn:aws:ecs:us-east-2:XXXXXXXXXXXX:task/DemoTrafficGen01-ClusterEB0386A7-sCRgDrfn5BP9/c50e321c974248dbaf4ae2cfa1662986",
            ),
        ],
    );
    check(&other[1], &[("cluster", "∅"), ("resource", "∅")]);
    assert!(!t.contains_key("task_events"));
}

/// botocore/placebo recordings (`{"status_code", "data"}`, times as datetime
/// objects) of DescribeTasks and StopTask.
#[test]
fn placebo_recordings_are_task_objects() {
    let mut n = Normalizer::new(0);
    for (i, name) in [
        "describe_tasks_placebo_cannotpull_taskfailedtostart_cloud-custodian.json",
        "stop_task_placebo_custom_reason_stopping_cloud-custodian.json",
    ]
    .iter()
    .enumerate()
    {
        n.push_event(i as u32, &fixture(name));
    }
    let (t, q) = common::finish(n);
    assert!(q.is_empty(), "{q:?}");
    let task = &t["task_events"];
    assert_eq!(task.len(), 2);
    let by_id = |id: &str| task.iter().find(|r| r["task_id"] == id).unwrap();
    check(
        by_id("21b23041dec947b996fcc7a8aa606d64"),
        &[
            ("cluster", "devx"),
            ("family", "task-public-no-vpc"),
            ("revision", "1"),
            ("last_status", "STOPPED"),
            ("stop_code", "TaskFailedToStart"),
            ("stop_cause", "failed_to_start"),
            ("created_at", "2019-01-28T07:59:11.710Z"),
            ("stopping_at", "2019-01-28T08:01:51.542Z"),
            ("stopped_at", "2019-01-28T08:02:24.674Z"),
            ("version", "4"),
        ],
    );
    // StopTask answers while the task is still RUNNING, stopping: no stop yet.
    check(
        by_id("0f3e3546-6973-4d36-82ea-292de5d9fea4"),
        &[
            ("cluster", "Default"),
            ("service", "home-web"),
            ("last_status", "RUNNING"),
            ("desired_status", "STOPPED"),
            ("stopped_reason", "custodian policy"),
            ("deployment_id", "ecs-svc/9223370520926505959"),
            ("started_at", "2018-01-15T21:15:14.984Z"),
            ("stopping_at", "2018-01-15T21:15:40.881Z"),
        ],
    );
}

/// Every real payload in tests/fixtures/aws is read: into rows, or, for a
/// document that is not ECS data, reported with the reason. Nothing of an
/// ECS document is quarantined.
#[test]
fn every_fixture_is_read_or_reported() {
    let dir = format!("{}/../../tests/fixtures/aws", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert!(names.len() >= 40, "{names:?}");
    let log_names = LogNames {
        log_group: Some("/ecs/fixture".into()),
        log_stream: Some("fixture".into()),
        owner: None,
    };
    for name in &names {
        let content = std::fs::read(format!("{dir}/{name}")).unwrap();
        let inputs = split_file_named(name, &content, &log_names).unwrap();
        assert!(!inputs.is_empty(), "{name}");
        let r = read_inputs(&inputs);
        let rows: usize = r.tables.values().map(Vec::len).sum();
        assert!(rows > 0, "{name} gave no rows: {:?}", r.quarantined);
        assert!(
            r.quarantined.is_empty(),
            "{name}: quarantined {:?}",
            r.quarantined
        );
    }
}
