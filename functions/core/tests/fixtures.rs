//! Every ECS payload in `tests/fixtures/aws/` normalizes to the rows its content
//! says. Expected values are read off the payloads by hand (see SOURCES.md).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::BTreeMap;

use ecs_lake::normalize::Normalizer;

mod common;
use common::{Row, check, fixture, rows};

/// Normalizes fixtures; returns rows per table and the quarantine reasons.
fn normalize(names: &[&str]) -> (BTreeMap<&'static str, Vec<Row>>, Vec<String>) {
    let mut n = Normalizer::new(0);
    for (i, name) in names.iter().enumerate() {
        n.push_event(i as u32, &fixture(name));
    }
    let (tables, quarantined) = common::finish(n);
    (
        tables,
        quarantined.into_iter().map(|q| q.error.reason).collect(),
    )
}

#[test]
fn fargate_essential_container_exit_2() {
    let (t, q) = normalize(&["ecs_task_stopped_fargate_essential_exit2_fivexl.json"]);
    assert!(q.is_empty(), "{q:?}");
    let task = &t["task_events"];
    assert_eq!(task.len(), 1);
    check(
        &task[0],
        &[
            ("event_id", "821822b9-420a-4e36-080c-53ec5cc22df1"),
            ("event_time", "2020-03-16T15:37:04Z"),
            ("account", "111111111111"),
            ("region", "eu-central-1"),
            ("cluster", "test"),
            ("service", "example-api-v1"),
            ("task_id", "a6eaf0150a4248dAA1bcbd688121014e"),
            ("task_group", "service:example-api-v1"),
            ("deployment_id", "ecs-svc/9300480928766973637"),
            ("family", "example-api-v1"),
            ("revision", "20"),
            ("last_status", "STOPPED"),
            ("stop_code", "EssentialContainerExited"),
            ("stop_cause", "essential_container_exited"),
            ("exit_kind", "app_error"),
            ("exit_code", "2"),
            ("exit_container", "app"),
            ("cpu", "512"),
            ("memory", "1024"),
            ("launch_type", "FARGATE"),
            ("availability_zone", "eu-central-1c"),
            ("capacity_provider", "FARGATE"),
            ("platform_version", "1.4.0"),
            ("version", "7"),
            ("stopping_at", "2020-03-16T15:34:59.778Z"),
            ("stopped_at", "2020-03-16T15:37:04.979Z"),
            ("connectivity_at", "2020-03-16T15:33:52.912Z"),
        ],
    );
    let containers = &t["container_events"];
    assert_eq!(containers.len(), 2);
    let by_name: BTreeMap<_, _> = containers
        .iter()
        .map(|r| (r["container_name"].as_str(), r))
        .collect();
    check(
        by_name["envoy"],
        &[
            ("exit_code", "0"),
            ("exit_kind", "clean"),
            ("cpu", "0"),
            ("image_digest", "∅"),
        ],
    );
    check(
        by_name["app"],
        &[
            ("exit_code", "2"),
            ("exit_kind", "app_error"),
            (
                "image_digest",
                "sha256:b7ea69f833204d4f63192b4abfbdc6208878098a6b98b5e876e160b26560d31d",
            ),
            ("stop_cause", "essential_container_exited"),
            ("task_version", "7"),
            ("revision", "20"),
        ],
    );
}

#[test]
fn fargate_elb_health_check_exit_143() {
    let (t, q) =
        normalize(&["ecs_task_stopped_fargate_elb_healthcheck_exit143_kx_kotlin_support.json"]);
    assert!(q.is_empty(), "{q:?}");
    check(
        &t["task_events"][0],
        &[
            ("cluster", "sin-web_cluster-dev"),
            ("service", "sin-web_service-dev"),
            ("family", "sin-web_task_def-dev"),
            ("revision", "26"),
            ("stop_code", "ServiceSchedulerInitiated"),
            ("stop_cause", "elb_health_check"),
            ("exit_kind", "sigterm"),
            ("exit_code", "143"),
            ("cpu", "1024"),
        ],
    );
    // 0-3 fractional digits: "2022-08-08T05:07:00.61Z" is 610 ms.
    check(
        &t["task_events"][0],
        &[("execution_stopped_at", "2022-08-08T05:07:00.610Z")],
    );
}

#[test]
fn ec2_user_initiated_with_old_container_arn() {
    let (t, q) = normalize(&["ecs_task_stopped_ec2_bridge_userinitiated_aws-samples.json"]);
    assert!(q.is_empty(), "{q:?}");
    check(
        &t["task_events"][0],
        &[
            ("cluster", "Features"),
            ("service", "Webapp"),
            ("stop_cause", "user_stopped"),
            ("exit_kind", "clean"),
            ("cpu", "0"),
            ("memory", "128"),
            ("launch_type", "EC2"),
            ("capacity_provider", "FeaturesASG"),
            ("family", "webapp"),
            ("revision", "15"),
            ("execution_stopped_at", "2020-06-05T12:17:10Z"),
        ],
    );
    check(
        &t["container_events"][0],
        &[
            ("container_name", "Webapp"),
            ("memory_reservation", "128"),
            ("memory", "∅"),
        ],
    );
}

#[test]
fn running_tasks_have_no_stop_classification_and_tolerate_string_null() {
    let (t, q) = normalize(&[
        "ecs_task_running_fargate_guardduty_sidecar_docs2025.json",
        "ecs_task_running_fargate_pv1.3.0_awsdocs.json",
    ]);
    assert!(q.is_empty(), "{q:?}");
    let tasks = &t["task_events"];
    assert_eq!(tasks.len(), 2);
    for task in tasks {
        check(
            task,
            &[
                ("last_status", "RUNNING"),
                ("stop_cause", "∅"),
                ("exit_kind", "∅"),
            ],
        );
    }
    let guard = tasks.iter().find(|r| r["family"] == "webserver").unwrap();
    check(
        guard,
        &[
            ("cpu", "256"),
            ("memory", "512"),
            ("service", "∅"),
            ("task_group", "family:webserver"),
            ("deployment_id", "∅"),
        ],
    );
    let sidecar = t["container_events"]
        .iter()
        .find(|r| r["container_name"] == "aws-guardduty-agent-nm40lC")
        .unwrap();
    check(sidecar, &[("cpu", "∅"), ("image", "∅"), ("exit_kind", "∅")]);
}

#[test]
fn old_arn_format_takes_the_cluster_from_cluster_arn_and_classifies_a_stopped_sidecar() {
    let (t, q) =
        normalize(&["ecs_task_running_ec2_nonessential_container_stopped_awsdocs2019.json"]);
    assert!(q.is_empty(), "{q:?}");
    check(
        &t["task_events"][0],
        &[
            ("cluster", "default"),
            ("task_id", "b99d40b3-5176-4f71-9a52-9dbd6f1cebef"),
            ("last_status", "RUNNING"),
            ("stop_cause", "∅"),
            ("started_at", "2016-12-06T16:41:06.800Z"),
        ],
    );
    check(
        &t["container_events"][0],
        &[
            ("container_name", "xray"),
            ("last_status", "STOPPED"),
            ("exit_kind", "clean"),
            ("stop_cause", "∅"),
        ],
    );
}

#[test]
fn deployment_and_service_action_events() {
    let (t, q) = normalize(&[
        "ecs_deployment_COMPLETED_awsdocs.json",
        "ecs_deployment_FAILED_circuit_breaker_awsdocs.json",
        "ecs_deployment_IN_PROGRESS_circuit_breaker_rollback_awsdocs.json",
        "ecs_service_action_SERVICE_STEADY_STATE_awsdocs.json",
        "ecs_service_action_SERVICE_TASK_PLACEMENT_FAILURE_ec2_cpu_awsdocs.json",
        "ecs_service_action_SERVICE_TASK_PLACEMENT_FAILURE_fargate_spot_awsdocs.json",
        "ecs_service_action_SERVICE_TASK_START_IMPAIRED_awsdocs.json",
    ]);
    assert!(q.is_empty(), "{q:?}");
    let rows = &t["service_events"];
    assert_eq!(rows.len(), 7);
    for r in rows {
        check(
            r,
            &[
                ("cluster", "default"),
                ("service", "servicetest"),
                ("region", "us-west-2"),
            ],
        );
    }
    let by_name = |n: &str| {
        rows.iter()
            .filter(|r| r["event_name"] == n)
            .collect::<Vec<_>>()
    };
    check(
        by_name("SERVICE_DEPLOYMENT_IN_PROGRESS")[0],
        &[
            ("detail_type", "ECS Deployment State Change"),
            ("deployment_id", "ecs-svc/123"),
            ("rollback", "true"),
            ("updated_at", "2020-05-23T11:11:11Z"),
        ],
    );
    check(
        by_name("SERVICE_DEPLOYMENT_FAILED")[0],
        &[("event_type", "ERROR"), ("rollback", "false")],
    );
    check(
        by_name("SERVICE_DEPLOYMENT_COMPLETED")[0],
        &[("event_type", "INFO")],
    );
    let placement = by_name("SERVICE_TASK_PLACEMENT_FAILURE");
    let reasons: Vec<_> = placement.iter().map(|r| r["reason"].as_str()).collect();
    assert!(
        reasons.contains(&"RESOURCE:CPU") && reasons.contains(&"RESOURCE:FARGATE"),
        "{reasons:?}"
    );
    check(
        by_name("SERVICE_STEADY_STATE")[0],
        &[
            ("detail_type", "ECS Service Action"),
            ("created_at", "2019-11-19T19:27:22.695Z"),
            ("deployment_id", "∅"),
        ],
    );
}

#[test]
fn container_instance_state_change() {
    let (t, q) = normalize(&["ecs_container_instance_state_change_aws-lambda-go.json"]);
    assert!(q.is_empty(), "{q:?}");
    check(
        &t["instance_events"][0],
        &[
            ("cluster", "default"),
            (
                "container_instance_id",
                "b54a2a04-046f-4331-9d74-3f6d7f6ca315",
            ),
            ("ec2_instance_id", "i-f3a8506b"),
            ("status", "ACTIVE"),
            ("agent_connected", "true"),
            ("registered_cpu", "2048"),
            ("registered_memory", "3767"),
            ("remaining_cpu", "1988"),
            ("remaining_memory", "767"),
            ("agent_version", "1.13.0"),
            ("version", "14801"),
        ],
    );
}

#[test]
fn a_logs_payload_is_not_an_ecs_event_but_a_bare_record_is_read() {
    // A CloudWatch Logs subscription payload sent where events go: refused.
    // A bare Container Insights record (issue 18): read as one.
    let (t, q) = normalize(&[
        "cwl_lambda_awslogs_aws-lambda-go.json",
        "ci_perf_Container_awsdocs.json",
    ]);
    assert_eq!(q.len(), 1);
    assert!(q[0].starts_with("not an EventBridge event"), "{q:?}");
    assert_eq!(t["metrics"].len(), 1);
    assert!(t.get("task_events").is_none_or(Vec::is_empty));
}

#[test]
fn binary_garbage_and_oversized_events_are_quarantined_with_reasons() {
    let mut n = Normalizer::new(0);
    n.push_event(0, &[0xff, 0xfe, 0x00, 0x9f, 0x92, 0x96, b'{']);
    let mut big = fixture("ecs_task_stopped_fargate_essential_exit2_fivexl.json");
    big.extend(std::iter::repeat_n(
        b' ',
        ecs_lake::sources::events::MAX_EVENT_BYTES,
    ));
    n.push_event(1, &big);
    n.push_event(
        2,
        &fixture("ecs_task_stopped_fargate_essential_exit2_fivexl.json"),
    );
    // Numbers that are not numbers: quarantined, not guessed.
    let bad_cpu = String::from_utf8(fixture(
        "ecs_task_stopped_fargate_essential_exit2_fivexl.json",
    ))
    .unwrap()
    .replace(r#""cpu": "512""#, r#""cpu": "lots""#);
    n.push_event(3, bad_cpu.as_bytes());
    let (parts, quarantined) = n.finish().unwrap();
    let reasons: Vec<(u32, &str)> = quarantined
        .iter()
        .map(|q| (q.input, q.error.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons[0].1.starts_with("event is not UTF-8 text"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].1.contains("over the 1048576-byte limit"),
        "{reasons:?}"
    );
    assert!(reasons[2].1.contains(r#"the string "lots""#), "{reasons:?}");
    assert_eq!(
        quarantined[2].error.detail_type.as_deref(),
        Some("ECS Task State Change")
    );
    // The good event in between is intact: one task row, two container rows.
    let rows: usize = parts
        .iter()
        .filter(|p| p.table.name == "task_events")
        .map(|p| p.batch.num_rows())
        .sum();
    assert_eq!(rows, 1);
    assert!(parts.iter().all(|p| p.inputs == [2]));
}

#[test]
fn detail_before_detail_type_gives_the_same_rows() {
    let original = fixture("ecs_task_stopped_fargate_essential_exit2_fivexl.json");
    // serde_json sorts object keys, so "detail" now precedes "detail-type".
    let value: serde_json::Value = serde_json::from_slice(&original).unwrap();
    let reordered = serde_json::to_string(&value).unwrap();
    assert!(reordered.find("\"detail\"").unwrap() < reordered.find("\"detail-type\"").unwrap());
    let rows_of = |bytes: &[u8]| {
        let mut n = Normalizer::new(0);
        n.push_event(0, bytes);
        let (parts, q) = n.finish().unwrap();
        assert!(q.is_empty(), "{q:?}");
        parts
            .iter()
            .flat_map(|p| rows(&p.batch))
            .collect::<Vec<_>>()
    };
    assert_eq!(rows_of(&original), rows_of(reordered.as_bytes()));
}

#[test]
fn events_either_side_of_utc_midnight_land_in_two_day_parts() {
    let base = String::from_utf8(fixture("ecs_deployment_COMPLETED_awsdocs.json")).unwrap();
    let at = |t: &str| base.replace("2020-05-23T12:31:14Z", t);
    let mut n = Normalizer::new(0);
    n.push_event(0, at("2026-11-21T00:00:00Z").as_bytes());
    n.push_event(1, at("2026-11-20T23:59:59.999Z").as_bytes());
    n.push_event(2, at("2026-11-21T00:00:00.001+00:00").as_bytes());
    let (parts, q) = n.finish().unwrap();
    assert!(q.is_empty(), "{q:?}");
    let summary: Vec<(&str, usize, Vec<u32>)> = parts
        .iter()
        .map(|p| (p.dt.as_str(), p.batch.num_rows(), p.inputs.clone()))
        .collect();
    assert_eq!(
        summary,
        [("2026-11-20", 1, vec![1]), ("2026-11-21", 2, vec![0, 2])]
    );
}

/// Deterministic mutations of every fixture (truncations and byte flips at
/// many positions): normalization never panics, and every input ends up
/// either as rows or in quarantine, exactly once.
#[test]
fn mutated_payloads_never_panic_and_each_input_has_one_outcome() {
    let dir = format!("{}/../../tests/fixtures/aws/", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for name in &names {
        let original = fixture(name);
        let step = (original.len() / 60).max(1);
        for cut in (0..original.len()).step_by(step) {
            inputs.push(original[..cut].to_vec());
            for flip in [b'"', b'0', b'}', b'\\', 0xff, b'-'] {
                let mut m = original.clone();
                m[cut] = flip;
                inputs.push(m);
            }
        }
    }
    let mut n = Normalizer::new(0);
    for (i, input) in inputs.iter().enumerate() {
        n.push_event(i as u32, input);
    }
    let (parts, quarantined) = n.finish().unwrap();
    let seen = common::outcome_counts(&parts, &quarantined, inputs.len());
    let bad: Vec<usize> = seen
        .iter()
        .enumerate()
        .filter(|(_, s)| **s != 1)
        .map(|(i, _)| i)
        .collect();
    assert!(
        bad.is_empty(),
        "{} of {} inputs without exactly one outcome, e.g. #{:?}",
        bad.len(),
        inputs.len(),
        bad.first()
    );
    assert!(
        quarantined.len() > inputs.len() / 2,
        "most mutations must be refused"
    );
    assert!(
        !parts.is_empty(),
        "some mutations (e.g. inside string values) still normalize"
    );
}

#[test]
fn health_statuses_in_task_events_become_health_samples() {
    // The ELB fixture with the health fields ECS adds when the task definition
    // has a container health check (none of the saved payloads has one).
    let mut event: serde_json::Value = serde_json::from_slice(&fixture(
        "ecs_task_stopped_fargate_elb_healthcheck_exit143_kx_kotlin_support.json",
    ))
    .unwrap();
    event["detail"]["healthStatus"] = "UNHEALTHY".into();
    event["detail"]["containers"][0]["healthStatus"] = "UNHEALTHY".into();
    let mut n = Normalizer::new(0);
    n.push_event(0, event.to_string().as_bytes());
    let (t, q) = common::finish(n);
    assert!(q.is_empty(), "{q:?}");
    let health = &t["health"];
    assert_eq!(
        health.len(),
        2,
        "the task's aggregate and its one container"
    );
    for (row, container) in health.iter().zip(["∅", "sin-web_container-dev"]) {
        check(
            row,
            &[
                ("time", "2022-08-08T05:07:23.184Z"),
                ("cluster", "sin-web_cluster-dev"),
                ("service", "sin-web_service-dev"),
                ("task_id", "7e12d648155541fbb8a922c39b586f82"),
                ("family", "sin-web_task_def-dev"),
                ("revision", "26"),
                ("container", container),
                ("status", "UNHEALTHY"),
                ("source", "task_event"),
            ],
        );
    }
    // Without health fields, no samples.
    let (t, _) =
        normalize(&["ecs_task_stopped_fargate_elb_healthcheck_exit143_kx_kotlin_support.json"]);
    assert!(!t.contains_key("health"));
}

#[test]
fn environment_values_in_overrides_are_never_stored() {
    let name = "ecs_task_running_fargate_guardduty_sidecar_docs2025.json";
    let original: serde_json::Value = serde_json::from_slice(&fixture(name)).unwrap();
    let vars = original["detail"]["overrides"]["containerOverrides"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["environment"].as_array())
        .flatten()
        .count();
    assert!(vars > 0, "the fixture has environment overrides");
    let stored: serde_json::Value = serde_json::from_str(&stored_raw(name)).unwrap();
    // Everything as it came, but each value replaced, each name kept.
    let mut want = original.clone();
    for c in want["detail"]["overrides"]["containerOverrides"]
        .as_array_mut()
        .unwrap()
    {
        if let Some(env) = c.get_mut("environment").and_then(|e| e.as_array_mut()) {
            for v in env {
                v["value"] = ecs_lake::redact::REDACTED.into();
            }
        }
    }
    assert_eq!(stored, want);
    assert_ne!(stored, original);
    // An event without overrides is stored byte for byte.
    let plain = "ecs_task_stopped_fargate_essential_exit2_fivexl.json";
    assert_eq!(stored_raw(plain).as_bytes(), fixture(plain).as_slice());
}

/// The `raw` column of the one task event a fixture normalizes to.
fn stored_raw(name: &str) -> String {
    let mut n = Normalizer::new(0);
    n.push_event(0, &fixture(name));
    let (parts, quarantined) = n.finish().unwrap();
    assert!(quarantined.is_empty());
    let part = parts
        .into_iter()
        .find(|p| p.table.name == "task_events")
        .unwrap();
    let raw = part.batch.column_by_name("raw").unwrap();
    arrow::util::display::array_value_to_string(raw, 0).unwrap()
}

/// Task objects as users hold them (describe-tasks, stop-task, Step
/// Functions): the rows a task state change with the same task would give,
/// times read off the payloads (epoch seconds or milliseconds).
#[test]
fn task_objects_as_users_hold_them() {
    let (t, q) = normalize(&[
        "describe_tasks_cli_v1_cannotstartcontainer_logdriver_pvm30-rabbitmq.json",
        "describe_tasks_sfn_runtask_pascalcase_exit0_5c704c7e_ndlib-marble.json",
        "describe_tasks_sfn_runtask_pascalcase_fargate_spot_exit0_umccr-elsa.json",
        "stop_task_taskfailedtostart_doc_aws-cli.json",
    ]);
    assert!(q.is_empty(), "{q:?}");
    let task = &t["task_events"];
    assert_eq!(task.len(), 4);
    let by_id = |id: &str| {
        task.iter()
            .find(|r| r["task_id"] == id)
            .unwrap_or_else(|| panic!("no task {id} in {task:#?}"))
    };
    // AWS CLI v1, EC2, 2018: no stopCode; the container could not start.
    check(
        by_id("0ea372c9-7da3-442a-88a5-a540f8c0e9ac"),
        &[
            ("account", "563290296137"),
            ("region", "eu-west-1"),
            ("cluster", "rabbitmq-cluster-created-from-console"),
            ("family", "rabbitmq-ecs-autoclustering-task-definition"),
            ("revision", "2"),
            ("last_status", "STOPPED"),
            ("stop_cause", "failed_to_start"),
            ("exit_kind", "unknown"),
            ("cpu", "512"),
            ("memory", "512"),
            ("launch_type", "EC2"),
            ("version", "2"),
            ("stopped_at", "2018-03-05T11:51:39.061Z"),
        ],
    );
    // Step Functions runTask.sync: PascalCase, epoch milliseconds.
    check(
        by_id("5c704c7e4f1348f3969072b112bdaaf0"),
        &[
            ("account", "333680067100"),
            ("region", "us-east-1"),
            ("cluster", "marble-app-infrastructure-Cluster"),
            ("family", "manifest-pipeline-v3-Manifest"),
            ("stop_code", "EssentialContainerExited"),
            ("stop_cause", "essential_container_exited"),
            ("exit_kind", "clean"),
            ("exit_code", "0"),
            ("exit_container", "manifest-pipeline-v3-Manifest"),
            ("launch_type", "FARGATE"),
            ("version", "6"),
            ("stopping_at", "2019-09-17T13:44:46.597Z"),
            ("stopped_at", "2019-09-17T13:44:59.134Z"),
        ],
    );
    check(
        by_id("2696321ed56a477d9fc75f7e4f037ba2"),
        &[
            ("region", "ap-southeast-2"),
            ("capacity_provider", "FARGATE_SPOT"),
            ("availability_zone", "ap-southeast-2b"),
            ("platform_version", "1.4.0"),
            ("cpu", "256"),
            ("memory", "512"),
            ("exit_code", "0"),
            ("stopped_at", "2023-04-04T08:21:44.771Z"),
        ],
    );
    // stop-task's documented output: failed to start, no containers.
    check(
        by_id("666fdccc2e2d4b6894dd422f4eeee8f8"),
        &[
            ("cluster", "default"),
            ("family", "sleep360"),
            ("revision", "3"),
            ("stop_code", "TaskFailedToStart"),
            ("stop_cause", "failed_to_start"),
            ("stopped_at", "2019-07-18T03:44:57.252Z"),
        ],
    );
    // Marked as read from a task object, not an EventBridge event.
    assert!(
        task.iter()
            .all(|r| r["event_id"].starts_with(ecs_lake::sources::task_objects::EVENT_ID_PREFIX))
    );
    assert_eq!(t["container_events"].len(), 3);
}

/// The same task as the CLI v1, v2 and the SDK print it gives the same rows.
#[test]
fn one_task_in_three_shapes_is_one_set_of_rows() {
    let v1: serde_json::Value = serde_json::from_slice(&fixture(
        "describe_tasks_cli_v1_cannotstartcontainer_logdriver_pvm30-rabbitmq.json",
    ))
    .unwrap();
    // CLI v2: the same times as ISO-8601 with an offset.
    let mut v2 = v1.clone();
    let iso = |secs: f64| {
        chrono::DateTime::from_timestamp_micros((secs * 1e6).round() as i64)
            .unwrap()
            .with_timezone(&chrono::FixedOffset::west_opt(5 * 3600).unwrap())
            .to_rfc3339()
    };
    // The SDK: PascalCase keys, epoch milliseconds.
    fn pascal(v: &serde_json::Value, ms: bool) -> serde_json::Value {
        match v {
            serde_json::Value::Object(o) => o
                .iter()
                .map(|(k, v)| {
                    let mut key = k.clone();
                    key.replace_range(..1, &k[..1].to_ascii_uppercase());
                    let value = match v.as_f64() {
                        Some(s) if ms && k.ends_with("At") => ((s * 1000.0).round() as i64).into(),
                        _ => pascal(v, ms),
                    };
                    (key, value)
                })
                .collect(),
            serde_json::Value::Array(a) => a.iter().map(|v| pascal(v, ms)).collect(),
            other => other.clone(),
        }
    }
    let task = &mut v2["tasks"][0];
    for key in [
        "createdAt",
        "startedAt",
        "stoppingAt",
        "stoppedAt",
        "executionStoppedAt",
    ] {
        if let Some(s) = task[key].as_f64() {
            task[key] = iso(s).into();
        }
    }
    let sdk = pascal(&v1["tasks"][0], true);
    let rows = |doc: &serde_json::Value| {
        let mut n = Normalizer::new(0);
        n.push_event(0, doc.to_string().as_bytes());
        let (mut tables, q) = common::finish(n);
        assert!(q.is_empty());
        let mut r = tables.remove("task_events").unwrap();
        for row in &mut r {
            row.remove("raw");
            row.remove("ingested_at");
        }
        r
    };
    let (a, b, c) = (rows(&v1), rows(&v2), rows(&sdk));
    assert_eq!(a, b);
    assert_eq!(a, c);
}

#[test]
fn task_object_documents_that_cannot_be_read_say_why() {
    let failures_only = br#"{"tasks": [], "failures": [{"arn": "arn:aws:ecs:us-east-1:123456789012:task/c/0123", "reason": "MISSING"}]}"#;
    let no_time = br#"{"task": {"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/c/0123", "lastStatus": "STOPPED"}}"#;
    let wrong_time = br#"{"tasks": [{"taskArn": "arn:aws:ecs:us-east-1:123456789012:task/c/0123", "lastStatus": "STOPPED", "stoppedAt": true}]}"#;
    let mut n = Normalizer::new(0);
    for (i, doc) in [&failures_only[..], no_time, wrong_time].iter().enumerate() {
        n.push_event(i as u32, doc);
    }
    let (tables, quarantined) = common::finish(n);
    assert!(tables.get("task_events").is_none_or(Vec::is_empty));
    let reasons: Vec<String> = quarantined.into_iter().map(|q| q.error.reason).collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons[0].contains("lists no task") && reasons[0].contains("MISSING"),
        "{reasons:?}"
    );
    assert!(reasons[1].contains("has no time"), "{reasons:?}");
    assert!(
        reasons[2].contains("tasks[0]") && reasons[2].contains("stoppedAt"),
        "{reasons:?}"
    );
}

/// Bare Container Insights performance records (one object per line, as
/// users copy them out of the performance log group): the rows a record
/// delivered by the subscription would give, the cluster from `ClusterName`.
#[test]
fn bare_container_insights_records() {
    let (t, q) = normalize(&[
        "ci_perf_Task_fargate_container-patterns.json",
        "ci_perf_Container_fargate_container-patterns.json",
    ]);
    assert!(q.is_empty(), "{q:?}");
    let metrics = &t["metrics"];
    assert_eq!(metrics.len(), 2);
    for (kind, time, container) in [
        ("Task", "2022-05-31T19:07:00Z", "∅"),
        ("Container", "2022-05-31T19:06:00Z", "stress-ng"),
    ] {
        let row = metrics
            .iter()
            .find(|r| r["record_type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} record in {metrics:#?}"));
        check(
            row,
            &[
                ("record_type", kind),
                ("time", time),
                ("cluster", "benchmark-cluster-ECSCluster-TOl9tY939Z2a"),
                ("service", "stress-ng"),
                ("task_id", "fd84326dd7a44ad48c74d2487f773e1e"),
                ("family", "stress-ng"),
                ("revision", "2"),
                ("container", container),
                ("memory_utilized", "270"),
                ("memory_reserved", "512"),
            ],
        );
    }
}
