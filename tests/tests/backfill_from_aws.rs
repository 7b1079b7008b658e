//! `backfill --from-aws` end to end: the real aws-sdk-ecs and
//! aws-sdk-cloudwatchlogs clients against a loopback endpoint scripting an
//! account (pagination, a throttled call, a cluster the caller may not read,
//! an interruption), the real ingest, the in-process S3 endpoint; Parquet
//! read back. The tasks are the AWS CLI documentation's recorded
//! DescribeTasks answer, stopped the way the ECS API reports stops; the
//! log events are real payloads (see tests/fixtures/aws/SOURCES.md).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::sync::{Arc, Mutex};

use ecs_lake_aws::S3Store;
use ecs_lake_capture::backfill::{self, Clients, Plan, Report};
use ecs_lake_tests::{
    JsonApiServer, QueryApiServer, S3Server, column, fixture, list_keys, read_parquet,
};
use serde_json::{Value, json};

/// 2026-11-24T12:00:00Z.
const NOW: i64 = 1_795_521_600_000_000;
const DAY_MS: i64 = 86_400_000;
/// Two days back: 2026-11-22T12:00Z; the days end at midnight on the 23rd and 24th.
const SINCE: i64 = NOW - 2 * DAY_MS * 1000;
const MIDNIGHT_23: i64 = 1_795_392_000_000;
const MIDNIGHT_24: i64 = MIDNIGHT_23 + DAY_MS;

const RUNNING: &str =
    "arn:aws:ecs:us-west-2:123456789012:task/prod/0a0a0a0a0a0a4a0a8a0a0a0a0a0a0a01";
const OOM: &str = "arn:aws:ecs:us-west-2:123456789012:task/prod/0b0b0b0b0b0b4b0b8b0b0b0b0b0b0b02";
const EXITED: &str =
    "arn:aws:ecs:us-west-2:123456789012:task/prod/0c0c0c0c0c0c4c0c8c0c0c0c0c0c0c03";
const APP_GROUP: &str = "/ecs/api";
const PERF_GROUP: &str = "/aws/ecs/containerinsights/prod/performance";
const LIFECYCLE_GROUP: &str = "/aws/events/ecs/containerinsights/prod/performance";

/// The recorded DescribeTasks task (AWS CLI docs: RUNNING, Fargate), as
/// each scripted task: a standalone task (no service), the OOM one stopped
/// as ECS reports an OOM kill, the other stopped by its essential container.
fn task(arn: &str) -> Value {
    let recorded: Value =
        serde_json::from_slice(&fixture("api_describe_tasks_awscli.json")).unwrap();
    let mut t = recorded["tasks"][0].clone();
    let o = t.as_object_mut().unwrap();
    o.remove("startedBy");
    t["group"] = "family:sample-fargate".into();
    t["taskArn"] = arn.into();
    t["clusterArn"] = "arn:aws:ecs:us-west-2:123456789012:cluster/prod".into();
    t["containers"][0]["taskArn"] = arn.into();
    let stop = |t: &mut Value, code: i64, reason: Option<&str>| {
        t["lastStatus"] = "STOPPED".into();
        t["desiredStatus"] = "STOPPED".into();
        t["version"] = 5.into();
        t["stopCode"] = "EssentialContainerExited".into();
        t["stoppedReason"] = "Essential container in task exited".into();
        t["executionStoppedAt"] = 1_795_518_000.5.into();
        t["stoppingAt"] = 1_795_518_001.0.into();
        t["stoppedAt"] = 1_795_518_030.25.into();
        t["containers"][0]["lastStatus"] = "STOPPED".into();
        t["containers"][0]["exitCode"] = code.into();
        if let Some(r) = reason {
            t["containers"][0]["reason"] = r.into();
        }
    };
    if arn == OOM {
        stop(
            &mut t,
            137,
            Some("OutOfMemoryError: Container killed due to memory usage"),
        );
    } else if arn == EXITED {
        stop(&mut t, 0, None);
    }
    t
}

/// One scripted log event: (group, stream, time in ms, message).
fn log_events() -> Vec<(&'static str, String, i64, String)> {
    let oom_stream = format!("ecs/api/{}", OOM.rsplit('/').next().unwrap());
    let perf = String::from_utf8(fixture("ci_perf_Task_fargate_container-patterns.json")).unwrap();
    let perf = serde_json::to_string(&serde_json::from_str::<Value>(&perf).unwrap()).unwrap();
    let event = serde_json::to_string(
        &serde_json::from_slice::<Value>(&fixture(
            "ecs_task_stopped_fargate_scaling_activity_exit137_arkime-aws-aio.json",
        ))
        .unwrap(),
    )
    .unwrap();
    vec![
        // Day 1 (the 22nd after noon) and day 2 (the 23rd): crash lines.
        (
            APP_GROUP,
            oom_stream.clone(),
            SINCE / 1000 + 3_600_000,
            "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory"
                .to_owned(),
        ),
        (
            APP_GROUP,
            oom_stream.clone(),
            MIDNIGHT_23 + 3_600_000,
            "Killed".to_owned(),
        ),
        // On midnight itself: the first instant of day 2, read once.
        (
            APP_GROUP,
            oom_stream,
            MIDNIGHT_23,
            "Segmentation fault (core dumped)".to_owned(),
        ),
        // Today: a Container Insights record, and an ECS event in the lifecycle group.
        (
            PERF_GROUP,
            "FargateTelemetry-1".to_owned(),
            MIDNIGHT_24 + 60_000,
            perf,
        ),
        (
            LIFECYCLE_GROUP,
            "events".to_owned(),
            MIDNIGHT_24 + 120_000,
            event,
        ),
    ]
}

/// The scripted account. `fail_app_from`: FilterLogEvents on the app group
/// from this start time on answers a server error (an interruption).
#[derive(Default)]
struct World {
    calls: Mutex<Vec<(String, Value)>>,
    throttled: Mutex<bool>,
    fail_app_from: Mutex<Option<i64>>,
}

impl World {
    fn calls_to(&self, op: &str) -> Vec<Value> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(o, _)| o == op)
            .map(|(_, b)| b.clone())
            .collect()
    }

    fn answer(&self, target: &str, body: &Value) -> (u16, String) {
        let op = target.rsplit('.').next().unwrap_or_default().to_owned();
        self.calls.lock().unwrap().push((op.clone(), body.clone()));
        let error = |status: u16, kind: &str, message: &str| {
            (
                status,
                json!({"__type": kind, "message": message}).to_string(),
            )
        };
        let ok = |v: Value| (200, v.to_string());
        match op.as_str() {
            "ListClusters" => match body.get("nextToken") {
                None => ok(json!({
                    "clusterArns": ["arn:aws:ecs:us-west-2:123456789012:cluster/prod"],
                    "nextToken": "clusters-2"
                })),
                Some(_) => ok(json!({
                    "clusterArns": ["arn:aws:ecs:us-west-2:123456789012:cluster/locked"]
                })),
            },
            "ListTasks" => match (
                body["cluster"].as_str(),
                body["desiredStatus"].as_str(),
                body.get("nextToken"),
            ) {
                (Some("prod"), Some("RUNNING"), _) => ok(json!({"taskArns": [RUNNING]})),
                (Some("prod"), Some("STOPPED"), None) => {
                    ok(json!({"taskArns": [OOM], "nextToken": "stopped-2"}))
                }
                (Some("prod"), Some("STOPPED"), Some(_)) => ok(json!({"taskArns": [EXITED]})),
                _ => error(
                    400,
                    "AccessDeniedException",
                    "User: arn:aws:sts::123456789012:assumed-role/readonly/me is not authorized to perform: ecs:ListTasks",
                ),
            },
            "DescribeTasks" => {
                assert_eq!(body["cluster"], "prod");
                let arns: Vec<String> = serde_json::from_value(body["tasks"].clone()).unwrap();
                let tasks: Vec<Value> = arns.iter().map(|a| task(a)).collect();
                ok(json!({"tasks": tasks, "failures": []}))
            }
            "ListTaskDefinitions" => ok(json!({"taskDefinitionArns": []})),
            "DescribeTaskDefinition" => {
                let asked = body["taskDefinition"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let mut answer: Value = serde_json::from_slice(
                    &std::fs::read(
                        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
                            "fixtures/aws-config/describe_task_definition_fargate_healthcheck_heap_cli_v1_written.json",
                        ),
                    )
                    .unwrap(),
                )
                .unwrap();
                answer["taskDefinition"]["taskDefinitionArn"] = asked.as_str().into();
                answer["taskDefinition"]["family"] = "sample-fargate".into();
                answer["taskDefinition"]["revision"] = 2.into();
                ok(answer)
            }
            "DescribeLogGroups" => {
                let prefix = body["logGroupNamePrefix"].as_str().unwrap_or_default();
                let groups: Vec<Value> = [APP_GROUP, PERF_GROUP, LIFECYCLE_GROUP]
                    .iter()
                    .filter(|g| g.starts_with(prefix))
                    .map(|g| json!({"logGroupName": g, "arn": format!("arn:aws:logs:us-west-2:123456789012:log-group:{g}:*")}))
                    .collect();
                ok(json!({"logGroups": groups}))
            }
            "FilterLogEvents" => {
                let mut throttled = self.throttled.lock().unwrap();
                if !*throttled {
                    *throttled = true;
                    return error(400, "ThrottlingException", "Rate exceeded");
                }
                let group = body["logGroupName"].as_str().unwrap().to_owned();
                let (start, end) = (
                    body["startTime"].as_i64().unwrap(),
                    body["endTime"].as_i64().unwrap(),
                );
                if group == APP_GROUP
                    && self
                        .fail_app_from
                        .lock()
                        .unwrap()
                        .is_some_and(|f| start >= f)
                {
                    return error(500, "ServiceUnavailableException", "scripted outage");
                }
                // Crash lines only from application groups; everything from Container Insights'.
                let pattern = body["filterPattern"].as_str();
                assert_eq!(pattern.is_some(), group == APP_GROUP, "{body}");
                if let Some(p) = pattern {
                    assert!(p.contains("?\"JavaScript heap out of memory\""), "{p}");
                }
                // One event per page, so every group pages.
                let matching: Vec<(usize, Value)> = log_events()
                    .into_iter()
                    .filter(|(g, _, t, _)| *g == group && *t >= start && *t <= end)
                    .enumerate()
                    .map(|(i, (_, stream, t, message))| {
                        (
                            i,
                            json!({"logStreamName": stream, "timestamp": t, "message": message,
                                   "ingestionTime": t + 500, "eventId": format!("{t}{i:04}")}),
                        )
                    })
                    .collect();
                let from: usize = body["nextToken"].as_str().map_or(0, |t| t.parse().unwrap());
                let page: Vec<Value> = matching
                    .iter()
                    .skip(from)
                    .take(1)
                    .map(|(_, e)| e.clone())
                    .collect();
                let mut answer = json!({"events": page, "searchedLogStreams": []});
                if from + 1 < matching.len() {
                    answer["nextToken"] = (from + 1).to_string().into();
                }
                ok(answer)
            }
            other => error(400, "UnknownOperationException", other),
        }
    }
}

fn no_elb() -> QueryApiServer {
    QueryApiServer::start(Arc::new(|body: &str| {
        panic!("no target group in this account: {body}")
    }))
}

/// The scripted account behind loopback endpoints, and an empty S3 lake.
struct Setup {
    world: Arc<World>,
    api: JsonApiServer,
    elb: QueryApiServer,
    s3: S3Server,
    store: S3Store,
}

fn setup() -> Setup {
    let world = Arc::new(World::default());
    let w = world.clone();
    let api = JsonApiServer::start(Arc::new(move |t: &str, b: &Value| w.answer(t, b)));
    let s3 = S3Server::start(&["lake"]);
    let store = S3Store::new(s3.client(), "lake", "ecs");
    Setup {
        world,
        api,
        elb: no_elb(),
        s3,
        store,
    }
}

async fn run(api: &JsonApiServer, elb: &QueryApiServer, store: &S3Store, now: i64) -> Report {
    run_since(api, elb, store, SINCE, now).await
}

async fn run_since(
    api: &JsonApiServer,
    elb: &QueryApiServer,
    store: &S3Store,
    since: i64,
    now: i64,
) -> Report {
    let (ecs, logs, elb) = (api.ecs_client(), api.logs_client(), elb.elbv2_client());
    let plan = Plan {
        clusters: Vec::new(),
        since,
        now,
        log_group_prefixes: vec!["/ecs/".into()],
        logs: true,
    };
    let clients = Clients {
        ecs: &ecs,
        elb: &elb,
        logs: &logs,
    };
    backfill::run(clients, store, &plan, &|_| {}).await
}

#[tokio::test]
async fn reads_tasks_configuration_and_logs_and_a_rerun_adds_nothing() {
    let Setup {
        world,
        api,
        elb,
        s3,
        store,
    } = setup();
    let client = s3.client();

    let report = run(&api, &elb, &store, NOW).await;
    // Both pages of clusters; the one the caller may not read is reported
    // with the action it needs, and the other is read.
    assert_eq!(report.clusters, ["prod", "locked"]);
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    let denied = &report.failures[0];
    assert!(denied.is_denied());
    assert_eq!(
        denied.to_string(),
        "ecs:ListTasks denied for cluster locked: allow it to the caller (see the README's IAM list)"
    );
    // Running and both pages of stopped tasks.
    assert_eq!((report.tasks_described, report.tasks_written), (3, 3));
    assert_eq!(report.configuration.task_definitions, 1);
    assert!(
        report.configuration.failures.is_empty(),
        "{:?}",
        report.configuration.failures
    );
    // The first FilterLogEvents was throttled and retried by the SDK.
    assert!(
        report
            .failures
            .iter()
            .all(|f| f.action != "logs:FilterLogEvents")
    );
    let groups: Vec<(&str, usize, usize)> = report
        .log_groups
        .iter()
        .map(|g| (g.group.as_str(), g.events, g.windows))
        .collect();
    assert_eq!(
        groups,
        [
            (PERF_GROUP, 1, 3),
            (LIFECYCLE_GROUP, 1, 3),
            (APP_GROUP, 3, 3)
        ]
    );

    // What the lake holds, read back through S3.
    let tasks = read_parquet(&client, "lake", "ecs/task_events/").await;
    let mut ids = column(&tasks, "task_id");
    ids.sort();
    assert_eq!(
        ids,
        [
            "0a0a0a0a0a0a4a0a8a0a0a0a0a0a0a01",
            "0b0b0b0b0b0b4b0b8b0b0b0b0b0b0b02",
            "0c0c0c0c0c0c4c0c8c0c0c0c0c0c0c03",
            // The lifecycle group's event (arkime).
            "c50e321c974248dbaf4ae2cfa1662986",
        ]
    );
    let oom = tasks
        .iter()
        .flat_map(|b| {
            let ids = column(std::slice::from_ref(b), "task_id");
            let causes = column(std::slice::from_ref(b), "stop_cause");
            ids.into_iter().zip(causes).collect::<Vec<_>>()
        })
        .find(|(id, _)| id.starts_with("0b0b"))
        .unwrap();
    assert_eq!(oom.1, "oom_killed");
    let logs = read_parquet(&client, "lake", "ecs/logs/").await;
    let mut signatures = column(&logs, "signature");
    signatures.sort();
    assert_eq!(signatures, ["killed", "node_heap_oom", "segfault"]);
    assert_eq!(
        column(&logs, "task_id"),
        ["0b0b0b0b0b0b4b0b8b0b0b0b0b0b0b02"; 3]
    );
    let metrics = read_parquet(&client, "lake", "ecs/metrics/").await;
    assert_eq!(
        column(&metrics, "task_id"),
        ["fd84326dd7a44ad48c74d2487f773e1e"]
    );
    let defs = read_parquet(&client, "lake", "ecs/task_definitions/").await;
    assert_eq!(column(&defs, "family"), ["sample-fargate"]);

    // A second run: nothing new in AWS, nothing new in the lake; no log day
    // read again.
    let before = list_keys(&client, "lake", "ecs/").await;
    let filters = world.calls_to("FilterLogEvents").len();
    let again = run(&api, &elb, &store, NOW).await;
    assert_eq!((again.tasks_described, again.tasks_written), (3, 0));
    assert!(
        again
            .log_groups
            .iter()
            .all(|g| g.windows == 0 && g.windows_done_before == 3)
    );
    assert_eq!(world.calls_to("FilterLogEvents").len(), filters);
    assert_eq!(list_keys(&client, "lake", "ecs/").await, before);
    assert!(again.rows.is_empty(), "{:?}", again.rows);

    // An hour later: each group is read from where the last run ended.
    let later = run(&api, &elb, &store, NOW + 3_600_000_000).await;
    let starts: Vec<i64> = world.calls_to("FilterLogEvents")[filters..]
        .iter()
        .map(|b| b["startTime"].as_i64().unwrap())
        .collect();
    // The last quarter of an hour was left for later.
    assert_eq!(starts, [NOW / 1000 - backfill::LATE_MS; 3]);
    assert!(
        later
            .log_groups
            .iter()
            .all(|g| g.windows == 1 && g.events == 0)
    );
}

#[tokio::test]
async fn an_interrupted_run_goes_on_where_it_stopped() {
    let Setup {
        world,
        api,
        elb,
        s3,
        store,
    } = setup();
    let client = s3.client();
    *world.fail_app_from.lock().unwrap() = Some(MIDNIGHT_23);

    let first = run(&api, &elb, &store, NOW).await;
    let app = first
        .log_groups
        .iter()
        .find(|g| g.group == APP_GROUP)
        .unwrap();
    // The first day was read; the second failed (after the SDK's retries).
    assert_eq!((app.windows, app.events), (1, 1));
    assert!(
        first
            .failures
            .iter()
            .any(|f| f.action == "logs:FilterLogEvents" && f.target == "log group /ecs/api"),
        "{:?}",
        first.failures
    );
    let logs = read_parquet(&client, "lake", "ecs/logs/").await;
    assert_eq!(column(&logs, "signature"), ["node_heap_oom"]);

    // The outage ends: the next run starts the app group at the failed day.
    *world.fail_app_from.lock().unwrap() = None;
    let seen = world.calls_to("FilterLogEvents").len();
    let second = run(&api, &elb, &store, NOW).await;
    let app_starts: Vec<i64> = world.calls_to("FilterLogEvents")[seen..]
        .iter()
        .filter(|b| b["logGroupName"] == APP_GROUP)
        .map(|b| b["startTime"].as_i64().unwrap())
        .collect();
    assert_eq!(app_starts[0], MIDNIGHT_23);
    let app = second
        .log_groups
        .iter()
        .find(|g| g.group == APP_GROUP)
        .unwrap();
    assert_eq!(
        (app.windows, app.windows_done_before, app.events),
        (2, 1, 2)
    );
    // Each crash line once.
    let logs = read_parquet(&client, "lake", "ecs/logs/").await;
    let mut signatures = column(&logs, "signature");
    signatures.sort();
    assert_eq!(signatures, ["killed", "node_heap_oom", "segfault"]);
}

#[tokio::test]
async fn an_earlier_since_reads_only_what_is_older() {
    let Setup {
        world,
        api,
        elb,
        s3,
        store,
    } = setup();
    let day_before = NOW - DAY_MS * 1000;
    run_since(&api, &elb, &store, day_before, NOW).await;
    let seen = world.calls_to("FilterLogEvents").len();
    let older = run_since(&api, &elb, &store, SINCE, NOW).await;
    // Only [SINCE, a day before now), cut at midnight, is asked for.
    let windows: Vec<(i64, i64)> = world.calls_to("FilterLogEvents")[seen..]
        .iter()
        .filter(|b| b["logGroupName"] == APP_GROUP && b.get("nextToken").is_none())
        .map(|b| {
            (
                b["startTime"].as_i64().unwrap(),
                b["endTime"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        windows,
        [
            (SINCE / 1000, MIDNIGHT_23 - 1),
            (MIDNIGHT_23, day_before / 1000 - 1)
        ]
    );
    let app = older
        .log_groups
        .iter()
        .find(|g| g.group == APP_GROUP)
        .unwrap();
    // The app's three lines are all older than a day: read now, each once.
    assert_eq!(
        (app.windows, app.windows_done_before, app.events),
        (2, 2, 3)
    );
    let logs = read_parquet(&s3.client(), "lake", "ecs/logs/").await;
    let mut signatures = column(&logs, "signature");
    signatures.sort();
    assert_eq!(signatures, ["killed", "node_heap_oom", "segfault"]);
}

#[tokio::test]
async fn a_window_whose_write_failed_is_not_marked_and_is_read_again() {
    let Setup {
        api,
        elb,
        s3,
        store,
        ..
    } = setup();
    // A file where the logs table's directory must go: every put under it fails.
    let blocker = s3.bucket_dir("lake").join("ecs/logs");
    std::fs::create_dir_all(blocker.parent().unwrap()).unwrap();
    std::fs::write(&blocker, b"in the way").unwrap();
    let first = run(&api, &elb, &store, NOW).await;
    assert!(
        first
            .failures
            .iter()
            .any(|f| f.action == "s3:PutObject" && f.target.starts_with("log group /ecs/api")),
        "{:?}",
        first.failures
    );
    let app = first
        .log_groups
        .iter()
        .find(|g| g.group == APP_GROUP)
        .unwrap();
    assert_eq!(app.windows, 0);
    let markers = list_keys(&s3.client(), "lake", "ecs/_state/backfill/logs/").await;
    assert!(
        markers.iter().all(|k| !k.contains("%2Fecs%2Fapi")),
        "{markers:?}"
    );

    std::fs::remove_file(&blocker).unwrap();
    let second = run(&api, &elb, &store, NOW).await;
    let app = second
        .log_groups
        .iter()
        .find(|g| g.group == APP_GROUP)
        .unwrap();
    assert_eq!(
        (app.windows, app.windows_done_before, app.events),
        (3, 0, 3)
    );
    let logs = read_parquet(&s3.client(), "lake", "ecs/logs/").await;
    assert_eq!(column(&logs, "signature").len(), 3);
}
