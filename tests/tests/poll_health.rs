//! The DescribeTasks poller end to end: the real aws-sdk-ecs client against a
//! loopback endpoint answering with a recorded DescribeTasks response (AWS CLI
//! docs), the real ingest pipeline, and the real S3 endpoint; Parquet read back.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::sync::{Arc, Mutex};

use ecs_lake_aws::S3Store;
use ecs_lake_tests::recorded::{
    RECORDED_ARN, SECOND_ARN, TARGET_GROUP, capture_endpoint, config_fixture, describe,
    elb_endpoint, failing_elb_endpoint,
};
use ecs_lake_tests::{JsonApiServer, S3Server, column, list_keys, read_parquet};
use serde_json::{Value, json};

const NOW: i64 = 1_795_521_600_000_000; // 2026-11-24T12:00:00Z

#[tokio::test]
async fn polls_every_page_and_writes_one_sample_per_reported_status() {
    let calls = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = calls.clone();
    let ecs = JsonApiServer::start(Arc::new(move |target: &str, body: &Value| {
        seen.lock()
            .unwrap()
            .push(target.rsplit('.').next().unwrap_or_default().to_owned());
        match target {
            "AmazonEC2ContainerServiceV20141113.ListTasks" => match body["cluster"].as_str() {
                Some("MyCluster") if body.get("nextToken").is_none() => (
                    200,
                    json!({"taskArns": [RECORDED_ARN], "nextToken": "page-2"}).to_string(),
                ),
                Some("MyCluster") => (200, json!({"taskArns": [SECOND_ARN]}).to_string()),
                _ => (
                    400,
                    json!({"__type": "ClusterNotFoundException", "message": "Cluster not found."})
                        .to_string(),
                ),
            },
            "AmazonEC2ContainerServiceV20141113.DescribeTasks" => {
                let arns: Vec<String> = serde_json::from_value(body["tasks"].clone()).unwrap();
                (200, describe(&arns).to_string())
            }
            other => (
                400,
                json!({"__type": "UnknownOperationException", "message": other}).to_string(),
            ),
        }
    }));
    let s3 = S3Server::start(&["lake"]);
    let store = S3Store::new(s3.client(), "lake", "ecs");
    let client = ecs.ecs_client();
    let elb = elb_endpoint();

    // One good cluster and one that does not exist: the good one is written,
    // the poll reports the other and fails.
    let clusters = ["MyCluster".to_owned(), "Gone".to_owned()];
    let err = poll_health::poll(&client, &elb.elbv2_client(), &store, &clusters, NOW)
        .await
        .unwrap_err();
    let summary = err.0;
    assert_eq!((summary.clusters, summary.tasks), (2, 2));
    // Recorded task: task UNKNOWN + container UNKNOWN; derived task: task + 2 containers.
    assert_eq!(summary.samples, 5);
    assert_eq!(summary.failures.len(), 1);
    assert!(
        summary.failures[0].starts_with("Gone: ListTasks")
            && summary.failures[0].contains("ClusterNotFoundException"),
        "{:?}",
        summary.failures
    );
    assert_eq!(
        calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| *c == "ListTasks")
            .count(),
        3,
        "two pages, then the missing cluster"
    );

    let health = read_parquet(&s3.client(), "lake", "ecs/health/").await;
    let rows: Vec<(String, String, String)> = column(&health, "task_id")
        .into_iter()
        .zip(column(&health, "container"))
        .zip(column(&health, "status"))
        .map(|((t, c), s)| (t, c, s))
        .collect();
    let mut rows = rows;
    rows.sort();
    assert_eq!(
        rows,
        [
            (
                "1234567890123456789".into(),
                "fargate-app".into(),
                "UNKNOWN".into()
            ),
            ("1234567890123456789".into(), "∅".into(), "UNKNOWN".into()),
            (
                "9f8e7d6c5b4a39281706f5e4d3c2b1a0".into(),
                "envoy".into(),
                "HEALTHY".into()
            ),
            (
                "9f8e7d6c5b4a39281706f5e4d3c2b1a0".into(),
                "fargate-app".into(),
                "UNHEALTHY".into()
            ),
            (
                "9f8e7d6c5b4a39281706f5e4d3c2b1a0".into(),
                "∅".into(),
                "UNHEALTHY".into()
            ),
        ]
    );
    for (col, want) in [
        ("cluster", "MyCluster"),
        ("service", "fargate-service"),
        ("family", "sample-fargate"),
        ("revision", "2"),
        ("source", "poller"),
        ("time", "2026-11-24T12:00:00Z"),
    ] {
        assert!(
            column(&health, col).iter().all(|v| v == want),
            "{col}: {:?}",
            column(&health, col)
        );
    }
}

#[test]
fn clusters_come_from_the_environment_value() {
    assert_eq!(
        poll_health::clusters_from(Some("a, b\nc")).unwrap(),
        ["a", "b", "c"]
    );
    let err = poll_health::clusters_from(None).unwrap_err();
    assert!(err.contains("CLUSTERS is not set"), "{err}");
}

fn count(calls: &Mutex<Vec<String>>, op: &str) -> usize {
    calls.lock().unwrap().iter().filter(|c| *c == op).count()
}

#[tokio::test]
async fn captures_each_task_definition_and_service_deployment_once() {
    let throttle = Arc::new(Mutex::new(false));
    let (ecs, calls) = capture_endpoint(throttle.clone(), Arc::new(Mutex::new(false)));
    let s3 = S3Server::start(&["lake"]);
    let store = S3Store::new(s3.client(), "lake", "ecs");
    let client = ecs.ecs_client();
    let elb = elb_endpoint();
    let clusters = ["MyCluster".to_owned()];

    let first = poll_health::poll(&client, &elb.elbv2_client(), &store, &clusters, NOW)
        .await
        .unwrap();
    // The running revision and the one registered since (never run).
    assert_eq!(
        (first.capture.task_definitions, first.capture.services),
        (2, 1),
        "{first:?}"
    );
    assert!(first.capture.failures.is_empty(), "{first:?}");
    assert_eq!(count(&calls, "DescribeTaskDefinition"), 2);
    assert_eq!(count(&calls, "DescribeServices"), 1);
    // The deployment history: the listed deployment, final (SUCCESSFUL),
    // and the service revision it names.
    assert_eq!(
        (
            first.capture.service_deployments,
            first.capture.service_revisions
        ),
        (1, 1)
    );
    let history = read_parquet(&s3.client(), "lake", "ecs/service_deployments/").await;
    assert_eq!(column(&history, "status"), ["SUCCESSFUL"]);
    assert_eq!(column(&history, "circuit_breaker_threshold"), ["3"]);
    let revisions = read_parquet(&s3.client(), "lake", "ecs/service_revisions/").await;
    assert_eq!(column(&revisions, "family"), ["webserver"]);

    // Read back: the values of the answer, the environment values redacted.
    let defs = read_parquet(&s3.client(), "lake", "ecs/task_definitions/").await;
    assert_eq!(
        column(&defs, "family"),
        ["sample-fargate", "sample-fargate"]
    );
    let mut revisions = column(&defs, "revision");
    revisions.sort();
    assert_eq!(revisions, ["2", "3"]);
    assert_eq!(column(&defs, "memory"), ["1024", "1024"]);
    let containers = read_parquet(&s3.client(), "lake", "ecs/container_definitions/").await;
    let app = column(&containers, "container_name")
        .iter()
        .position(|c| c == "api")
        .expect("the app container");
    assert_eq!(column(&containers, "node_max_old_space_mib")[app], "1536");
    assert_eq!(column(&containers, "health_check_interval")[app], "30");
    let services = read_parquet(&s3.client(), "lake", "ecs/services/").await;
    assert_eq!(column(&services, "service"), ["fargate-service"]);
    // Its target group and attributes, the recorded values read back.
    assert_eq!(first.capture.target_groups, 1);
    let groups = read_parquet(&s3.client(), "lake", "ecs/target_groups/").await;
    for (col, want) in [
        ("target_group_arn", TARGET_GROUP),
        ("name", "my-targets"),
        ("protocol", "HTTP"),
        ("port", "80"),
        ("health_check_path", "/"),
        ("health_check_interval", "30"),
        ("unhealthy_threshold", "2"),
        ("matcher", "200"),
    ] {
        assert_eq!(column(&groups, col), [want], "{col}");
    }
    let attributes = read_parquet(&s3.client(), "lake", "ecs/target_group_attributes/").await;
    assert_eq!(column(&attributes, "target_group_arn"), [TARGET_GROUP]);
    assert_eq!(column(&attributes, "deregistration_delay_s"), ["300"]);
    let answer = String::from_utf8(config_fixture(
        "describe_task_definition_fargate_healthcheck_heap_cli_v1_written.json",
    ))
    .unwrap();
    let secret = "hunter2";
    assert!(
        answer.contains(secret),
        "the fixture holds a password in a value"
    );
    for table in ["task_definitions", "container_definitions"] {
        for key in list_keys(&s3.client(), "lake", &format!("ecs/{table}/")).await {
            let object = s3
                .client()
                .get_object()
                .bucket("lake")
                .key(&key)
                .send()
                .await
                .unwrap();
            let bytes = object.body.collect().await.unwrap().into_bytes();
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{key} holds an environment value"
            );
        }
    }

    // The next polls describe nothing again: each version costs one call.
    let second = poll_health::poll(
        &client,
        &elb.elbv2_client(),
        &store,
        &clusters,
        NOW + 60_000_000,
    )
    .await
    .unwrap();
    assert_eq!(
        (second.capture.task_definitions, second.capture.services),
        (0, 0)
    );
    assert_eq!(count(&calls, "DescribeTaskDefinition"), 2);
    assert_eq!(count(&calls, "DescribeServices"), 1);
    // Its history is complete for the deployment running: not listed again.
    for op in [
        "ListServiceDeployments",
        "DescribeServiceDeployments",
        "DescribeServiceRevisions",
    ] {
        assert_eq!(count(&calls, op), 1, "{op}");
    }
    assert_eq!(second.samples, first.samples);
}

#[tokio::test]
async fn a_throttled_describe_never_fails_the_samples_and_is_retried_next_poll() {
    let throttle = Arc::new(Mutex::new(true));
    let (ecs, calls) = capture_endpoint(throttle.clone(), Arc::new(Mutex::new(false)));
    let s3 = S3Server::start(&["lake"]);
    let store = S3Store::new(s3.client(), "lake", "ecs");
    let client = ecs.ecs_client();
    let elb = elb_endpoint();
    let clusters = ["MyCluster".to_owned()];

    let first = poll_health::poll(&client, &elb.elbv2_client(), &store, &clusters, NOW)
        .await
        .unwrap();
    assert_eq!(first.samples, 2, "the samples are written");
    assert_eq!(first.capture.task_definitions, 0);
    assert_eq!(first.capture.services, 1, "the service is still captured");
    assert_eq!(first.capture.failures.len(), 2, "{first:?}");
    assert!(
        first
            .capture
            .failures
            .iter()
            .all(|f| f.contains("ThrottlingException")),
        "{:?}",
        first.capture.failures
    );
    assert!(count(&calls, "DescribeTaskDefinition") >= 1);
    assert!(
        list_keys(&s3.client(), "lake", "ecs/task_definitions/")
            .await
            .is_empty()
    );
    assert_eq!(
        list_keys(&s3.client(), "lake", "ecs/health/").await.len(),
        1
    );

    *throttle.lock().unwrap() = false;
    let second = poll_health::poll(
        &client,
        &elb.elbv2_client(),
        &store,
        &clusters,
        NOW + 60_000_000,
    )
    .await
    .unwrap();
    assert_eq!(
        (second.capture.task_definitions, second.capture.services),
        (2, 0)
    );
    assert!(second.capture.failures.is_empty(), "{second:?}");
    assert_eq!(
        list_keys(&s3.client(), "lake", "ecs/task_definitions/")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn a_deployment_in_progress_is_described_again_until_it_is_final() {
    let pending = Arc::new(Mutex::new(true));
    let (ecs, calls) = capture_endpoint(Arc::new(Mutex::new(false)), pending.clone());
    let s3 = S3Server::start(&["lake"]);
    let store = S3Store::new(s3.client(), "lake", "ecs");
    let client = ecs.ecs_client();
    let elb = elb_endpoint();
    let clusters = ["MyCluster".to_owned()];

    // PENDING: written as it is, not final, so the next poll asks again.
    let first = poll_health::poll(&client, &elb.elbv2_client(), &store, &clusters, NOW)
        .await
        .unwrap();
    assert_eq!(first.capture.service_deployments, 1, "{first:?}");
    let second = poll_health::poll(
        &client,
        &elb.elbv2_client(),
        &store,
        &clusters,
        NOW + 60_000_000,
    )
    .await
    .unwrap();
    assert_eq!(second.capture.service_deployments, 1, "{second:?}");
    assert_eq!(count(&calls, "ListServiceDeployments"), 2);
    // Final now: captured once more, then never again.
    *pending.lock().unwrap() = false;
    for minute in 2..4 {
        poll_health::poll(
            &client,
            &elb.elbv2_client(),
            &store,
            &clusters,
            NOW + minute * 60_000_000,
        )
        .await
        .unwrap();
    }
    assert_eq!(count(&calls, "ListServiceDeployments"), 3);
    assert_eq!(count(&calls, "DescribeServiceDeployments"), 3);
    let history = read_parquet(&s3.client(), "lake", "ecs/service_deployments/").await;
    let mut statuses = column(&history, "status");
    statuses.sort();
    // The same PENDING answer twice is one object (keys hash the bytes).
    assert_eq!(statuses, ["PENDING", "SUCCESSFUL"]);
}

#[tokio::test]
async fn a_service_is_captured_only_with_its_target_groups() {
    let (ecs, calls) = capture_endpoint(Arc::new(Mutex::new(false)), Arc::new(Mutex::new(false)));
    let fail = Arc::new(Mutex::new(true));
    let elb = failing_elb_endpoint(fail.clone());
    let s3 = S3Server::start(&["lake"]);
    let store = S3Store::new(s3.client(), "lake", "ecs");
    let client = ecs.ecs_client();
    let clusters = ["MyCluster".to_owned()];

    // ELBv2 fails: the service's row is written, but it is not marked
    // captured, so the next poll describes it again, with its target group.
    let first = poll_health::poll(&client, &elb.elbv2_client(), &store, &clusters, NOW)
        .await
        .unwrap();
    assert_eq!(first.capture.target_groups, 0);
    assert!(
        first
            .capture
            .failures
            .iter()
            .any(|f| f.starts_with("DescribeTargetGroups")),
        "{first:?}"
    );
    *fail.lock().unwrap() = false;
    let second = poll_health::poll(
        &client,
        &elb.elbv2_client(),
        &store,
        &clusters,
        NOW + 60_000_000,
    )
    .await
    .unwrap();
    assert_eq!(second.capture.target_groups, 1, "{second:?}");
    assert_eq!(count(&calls, "DescribeServices"), 2);
    let attributes = read_parquet(&s3.client(), "lake", "ecs/target_group_attributes/").await;
    assert_eq!(column(&attributes, "deregistration_delay_s"), ["300"]);
    // Whole now: not described again.
    poll_health::poll(
        &client,
        &elb.elbv2_client(),
        &store,
        &clusters,
        NOW + 120_000_000,
    )
    .await
    .unwrap();
    assert_eq!(count(&calls, "DescribeServices"), 2);
}
