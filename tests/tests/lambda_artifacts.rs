//! The shipped artifacts themselves, not the sources: each `bootstrap` that
//! `sam build` wrote (arm64, run under `qemu-aarch64` on an x86_64 machine)
//! as Lambda runs it, against a Lambda Runtime API on loopback, the
//! in-process S3 endpoint and loopback AWS APIs answering recorded or
//! scripted calls. Each invocation must answer within the function's
//! configured timeout, in less than its configured memory, and (the ingest
//! functions, the poller, the subscriber) as the same code run in process
//! answers the same input on a second endpoint; compact is held to the
//! lake's rows, report to what it wrote and published. A broken
//! link step, a wrong architecture, a missing TLS stack or an init-time panic
//! fails here.
//!
//! Needs `sam build` first (`cd sam && sam build`, or `ECS_LAKE_ARTIFACTS`
//! naming the build directory). Without artifacts the tests say so and pass,
//! unless `ECS_REQUIRE_ARTIFACTS` is set, as `.ci/run` sets it after building.
//! `-- --nocapture` prints each function's size, cold init and peak memory.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::path::PathBuf;
use std::sync::Arc;

use ecs_lake_aws::S3Store;
use ecs_lake_tests::recorded::{
    DEST, LogsAccount, OURS, capture_endpoint, elb_endpoint, sns_endpoint,
};
use ecs_lake_tests::runtime_api::{
    Answer, Function, Settings, built_bootstrap, elf_machine, settings,
};
use ecs_lake_tests::{
    JsonApiServer, S3Server, column, ecs_event_fixtures, fixture, fixtures_starting_with,
    lake_rows, list_keys, read_parquet, row_count,
};
use serde_json::value::RawValue;
use serde_json::{Value, json};

const BUCKET: &str = "lake";
const PREFIX: &str = "ecs";

/// The artifact of a function of the template and its settings, or `None`
/// (said on stderr) when nothing was built and nothing requires it.
fn artifact(logical_id: &str) -> Option<(PathBuf, Settings)> {
    let bootstrap = built_bootstrap(logical_id);
    if !bootstrap.is_file() {
        assert!(
            std::env::var_os("ECS_REQUIRE_ARTIFACTS").is_none(),
            "{} is missing: run `cd sam && sam build` first",
            bootstrap.display()
        );
        eprintln!(
            "skipped: {} not built (`cd sam && sam build`)",
            bootstrap.display()
        );
        return None;
    }
    let template = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sam/template.yaml"),
    )
    .unwrap();
    assert!(template.contains("Architectures: [arm64]"));
    assert_eq!(
        elf_machine(&bootstrap).unwrap(),
        "aarch64",
        "{}: the template deploys arm64",
        bootstrap.display()
    );
    let settings = settings(&template, logical_id)
        .unwrap_or_else(|| panic!("{logical_id} not in sam/template.yaml"));
    Some((bootstrap, settings))
}

/// The variables the template gives every function (`Globals`).
const GLOBALS: [(&str, &str); 3] = [
    ("LAKE_BUCKET", BUCKET),
    ("LAKE_PREFIX", PREFIX),
    ("RUST_LOG", "info"),
];

/// The environment of a function: a value for every variable the template
/// sets (the globals, then `values`; nothing it does not), then the
/// endpoints of the loopback APIs.
fn environment(
    settings: &Settings,
    values: &[(&str, &str)],
    endpoints: &[(&str, &str)],
) -> Vec<(String, String)> {
    let values: Vec<&(&str, &str)> = GLOBALS.iter().chain(values).collect();
    let mut given: Vec<String> = values.iter().map(|(k, _)| (*k).to_owned()).collect();
    given.sort();
    assert_eq!(given, settings.env, "the template's variables, each given");
    values
        .into_iter()
        .chain(endpoints)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// One invocation of a launched artifact, held to its configured memory; its
/// figures printed for `bench/RESULTS.md`.
async fn invoke(function: &mut Function, settings: &Settings, name: &str, event: &Value) -> Value {
    let answer = function
        .invoke(event)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let peak = function.peak_rss_kib().unwrap_or_default();
    assert!(
        peak > 0 && peak < settings.memory_mb * 1024,
        "{name}: peak {peak} KiB against {} MiB configured",
        settings.memory_mb
    );
    let size = std::fs::metadata(built_bootstrap(name))
        .map(|m| m.len())
        .unwrap_or_default();
    eprintln!(
        "artifact {name}: {:.1} MB, cold init {:?} (qemu-aarch64), peak RSS {} MiB (qemu included), \
         configured {} MiB / {:?}",
        size as f64 / 1e6,
        function.init_duration().unwrap_or_default(),
        peak / 1024,
        settings.memory_mb,
        settings.timeout
    );
    match answer {
        Answer::Response(v) => v,
        Answer::Error(e) => panic!("{name} answered an error: {e}\n{}", function.output()),
    }
}

fn text(name: &str) -> String {
    String::from_utf8(fixture(name)).unwrap()
}

/// Blocks every write of one table: a file where its directory must go.
fn block_table(s3: &S3Server, table: &str) {
    let dir = s3.bucket_dir(BUCKET).join(PREFIX);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(table), b"in the way").unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_events_answers_an_sqs_batch_of_real_events() {
    let Some((bootstrap, settings)) = artifact("IngestEventsFunction") else {
        return;
    };
    // Every recorded ECS event, one duplicate delivery, two malformed bodies;
    // the container instance's table cannot be written.
    let mut bodies: Vec<(String, String)> = ecs_event_fixtures()
        .into_iter()
        .map(|name| {
            let body = text(&name);
            (name, body)
        })
        .collect();
    let instance: Vec<String> = fixtures_starting_with("ecs_container_instance_");
    assert_eq!(instance.len(), 1);
    bodies.push((
        "duplicate".into(),
        text("ecs_task_stopped_fargate_essential_exit2_fivexl.json"),
    ));
    bodies.push(("truncated".into(), "{\"version\":\"0\",".into()));
    bodies.push(("garbage".into(), "\u{0}PK\u{3}\u{4}".into()));
    let event = ecs_lake_tests::sqs_event(&bodies);

    let s3 = S3Server::start(&[BUCKET]);
    block_table(&s3, "instance_events");
    // Over TLS, trusting the test's authority through the system root store
    // (`SSL_CERT_FILE`, read by rustls-native-certs as on Lambda's image).
    let tls = s3.start_tls();
    let env = environment(
        &settings,
        &[],
        &[
            ("AWS_ENDPOINT_URL", &tls.endpoint),
            ("SSL_CERT_FILE", tls.ca_file.to_str().unwrap()),
        ],
    );
    let mut function = Function::launch(&bootstrap, &settings, &env);
    let answer = invoke(&mut function, &settings, "IngestEventsFunction", &event).await;
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": instance[0]}]}),
        "only the record whose rows could not be written is redelivered"
    );
    let client = s3.client();
    let tasks = read_parquet(&client, BUCKET, "ecs/task_events/").await;
    let task_fixtures = bodies
        .iter()
        .filter(|(id, _)| id.starts_with("ecs_task_"))
        .count();
    assert_eq!(row_count(&tasks), task_fixtures + 1, "the duplicate kept");
    let quarantine = read_parquet(&client, BUCKET, "ecs/_quarantine/").await;
    let mut quarantined = column(&quarantine, "input_id");
    quarantined.sort();
    assert_eq!(quarantined, ["garbage", "truncated"]);

    // The same batch through the library in process: the same answer and rows.
    let peer = S3Server::start(&[BUCKET]);
    block_table(&peer, "instance_events");
    let store = S3Store::new(peer.client(), BUCKET, PREFIX);
    let raw = RawValue::from_string(event.to_string()).unwrap();
    let (response, _) = ingest_events::handle(&store, &raw, ecs_lake::time::now_micros())
        .await
        .unwrap();
    assert_eq!(answer, serde_json::to_value(response).unwrap());
    assert_eq!(
        lake_rows(&client, BUCKET, PREFIX).await,
        lake_rows(&peer.client(), BUCKET, PREFIX).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_logs_answers_subscription_payloads() {
    let Some((bootstrap, settings)) = artifact("IngestLogsFunction") else {
        return;
    };
    let s3 = S3Server::start(&[BUCKET]);
    let env = environment(&settings, &[], &[("AWS_ENDPOINT_URL", &s3.endpoint)]);
    // Two recorded subscription payloads (gzip and zlib), a Container
    // Insights payload of the documentation's records, one of neither shape.
    let insights: Vec<String> = [
        "ci_perf_Container_awsdocs.json",
        "ci_perf_Task_emf_awsdocs.json",
    ]
    .iter()
    .map(|n| {
        serde_json::from_slice::<Value>(&fixture(n))
            .unwrap()
            .to_string()
    })
    .collect();
    let perf = ecs_lake_tests::cwl_payload(
        "/aws/ecs/containerinsights/MyCluster/performance",
        "FargateTelemetry-1234",
        1_795_521_600_000,
        &insights,
    );
    let events: Vec<Value> = vec![
        serde_json::from_slice(&fixture("cwl_lambda_awslogs_aws-lambda-go.json")).unwrap(),
        serde_json::from_slice(&fixture("cwl_lambda_awslogs_policyLevel_powertools.json")).unwrap(),
        json!({"awslogs": {"data": perf}}),
        json!({"detail-type": "ECS Task State Change"}),
    ];
    let mut function = Function::launch(&bootstrap, &settings, &env);
    let mut answers = Vec::new();
    for event in &events {
        answers.push(invoke(&mut function, &settings, "IngestLogsFunction", event).await);
    }
    let outcomes: Vec<(&str, u64)> = answers
        .iter()
        .map(|a| {
            (
                a["outcome"].as_str().unwrap(),
                a["rows"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("written", 2),
            ("written", 2),
            ("written", 2),
            ("quarantined", 0)
        ]
    );
    let client = s3.client();
    let logs = read_parquet(&client, BUCKET, "ecs/logs/").await;
    assert_eq!(row_count(&logs), 4);
    assert!(column(&logs, "level").iter().all(|l| l == "error"));
    assert!(row_count(&read_parquet(&client, BUCKET, "ecs/metrics/").await) > 0);

    // The library in process: the same answers and rows.
    let peer = S3Server::start(&[BUCKET]);
    let store = S3Store::new(peer.client(), BUCKET, PREFIX);
    for (event, answer) in events.iter().zip(&answers) {
        let raw = RawValue::from_string(event.to_string()).unwrap();
        let (response, _) = ingest_logs::handle(&store, &raw, ecs_lake::time::now_micros())
            .await
            .unwrap();
        assert_eq!(answer, &serde_json::to_value(response).unwrap());
    }
    assert_eq!(
        lake_rows(&client, BUCKET, PREFIX).await,
        lake_rows(&peer.client(), BUCKET, PREFIX).await
    );
}

/// An EventBridge Scheduler/rule invocation, as the documentation prints it.
fn scheduled_event() -> Value {
    json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event", "source": "aws.events", "account": "111122223333",
        "time": "2026-11-27T06:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:111122223333:rule/ecs-post-mortem-lake-Hourly"],
        "detail": {}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_health_polls_a_recorded_cluster() {
    let Some((bootstrap, settings)) = artifact("PollHealthFunction") else {
        return;
    };
    let s3 = S3Server::start(&[BUCKET]);
    let (ecs, calls) = capture_endpoint(Arc::default(), Arc::default());
    let elb = elb_endpoint();
    let env = environment(
        &settings,
        &[("CLUSTERS", "MyCluster")],
        &[
            ("AWS_ENDPOINT_URL", &s3.endpoint),
            ("AWS_ENDPOINT_URL_ECS", &ecs.endpoint),
            ("AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2", &elb.endpoint),
        ],
    );
    let mut function = Function::launch(&bootstrap, &settings, &env);
    let answer = invoke(
        &mut function,
        &settings,
        "PollHealthFunction",
        &scheduled_event(),
    )
    .await;
    assert_eq!(
        (&answer["clusters"], &answer["tasks"], &answer["samples"]),
        (&json!(1), &json!(1), &json!(2)),
        "{answer}"
    );
    assert!(
        calls
            .lock()
            .unwrap()
            .iter()
            .any(|c| c == "DescribeServices")
    );
    let client = s3.client();
    let health = read_parquet(&client, BUCKET, "ecs/health/").await;
    let mut rows: Vec<String> = column(&health, "container")
        .into_iter()
        .zip(column(&health, "status"))
        .map(|(c, s)| format!("{c} {s}"))
        .collect();
    rows.sort();
    assert_eq!(rows, ["fargate-app UNKNOWN", "∅ UNKNOWN"]);

    // The library in process against the same recorded answers: the same
    // summary and the same tables (rows but the poll's own time).
    let peer = S3Server::start(&[BUCKET]);
    let store = S3Store::new(peer.client(), BUCKET, PREFIX);
    let (ecs, _) = capture_endpoint(Arc::default(), Arc::default());
    let summary = poll_health::poll(
        &ecs.ecs_client(),
        &elb.elbv2_client(),
        &store,
        &["MyCluster".to_owned()],
        ecs_lake::time::now_micros(),
    )
    .await
    .unwrap();
    assert_eq!(answer, serde_json::to_value(summary).unwrap());
    let counts = |rows: std::collections::BTreeMap<&'static str, Vec<String>>| {
        rows.into_iter()
            .map(|(t, r)| (t, r.len()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        counts(lake_rows(&client, BUCKET, PREFIX).await),
        counts(lake_rows(&peer.client(), BUCKET, PREFIX).await)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_logs_sweeps_a_scripted_account() {
    let Some((bootstrap, settings)) = artifact("SubscribeLogsFunction") else {
        return;
    };
    let account = Arc::new(LogsAccount::new());
    let a = Arc::clone(&account);
    let api = JsonApiServer::start(Arc::new(move |t: &str, b: &Value| a.answer(t, b)));
    let env = environment(
        &settings,
        &[
            ("DESTINATION_ARN", DEST),
            ("LOG_GROUP_PREFIXES", "/ecs/"),
            ("CONTAINER_INSIGHTS_CLUSTERS", ""),
            ("FILTER_NAME", OURS),
            ("EXCLUDE_LOG_GROUPS", "/aws/lambda/lake-IngestLogs"),
        ],
        &[("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", &api.endpoint)],
    );
    let mut function = Function::launch(&bootstrap, &settings, &env);
    let answer = invoke(
        &mut function,
        &settings,
        "SubscribeLogsFunction",
        &scheduled_event(),
    )
    .await;

    // The library in process against a second scripted account.
    let peer = Arc::new(LogsAccount::new());
    let p = Arc::clone(&peer);
    let peer_api = JsonApiServer::start(Arc::new(move |t: &str, b: &Value| p.answer(t, b)));
    let vars: std::collections::HashMap<String, String> = env.into_iter().collect();
    let config = subscribe_logs::Config::from_env(|k| vars.get(k).cloned()).unwrap();
    let sweep = subscribe_logs::sweep(&peer_api.logs_client(), &config, None, None).await;
    assert_eq!(answer, serde_json::to_value(&sweep).unwrap());
    assert!(
        answer["failures"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f.as_str().unwrap().starts_with("/ecs/worker")),
        "the group holding two filters of its own is reported: {answer}"
    );
    assert!(
        answer["subscribed"].as_array().unwrap().len() > 50,
        "{answer}"
    );
    assert_eq!(
        *account.filters.lock().unwrap(),
        *peer.filters.lock().unwrap()
    );
}

/// A simulated lake of `hours` from `start_ms`, written as the Lambdas write
/// it (several files a day), to the S3 endpoint.
async fn simulated_lake(s3: &S3Server, start_ms: i64, hours: f64) -> ecs_sim::Truth {
    let mut preset = ecs_sim::Preset::node_oom(hours);
    preset.start_ms = start_ms;
    let store = S3Store::new(s3.client(), BUCKET, PREFIX);
    ecs_lake_tests::ingest_simulation(&store, &preset, 7, 6).await
}

const DAY_MS: i64 = 86_400_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compact_merges_the_recent_days() {
    let Some((bootstrap, settings)) = artifact("CompactFunction") else {
        return;
    };
    let s3 = S3Server::start(&[BUCKET]);
    // The last six hours: the open day (and the one before, after midnight).
    let now_ms = ecs_lake::time::now_micros() / 1000;
    simulated_lake(&s3, now_ms - 6 * 3_600_000, 5.0).await;
    let client = s3.client();
    let before = lake_rows(&client, BUCKET, PREFIX).await;
    let files_before = list_keys(&client, BUCKET, "ecs/").await.len();
    let env = environment(
        &settings,
        &[("COMPACT_DAYS", "3")],
        &[("AWS_ENDPOINT_URL", &s3.endpoint)],
    );
    let mut function = Function::launch(&bootstrap, &settings, &env);
    let answer = invoke(
        &mut function,
        &settings,
        "CompactFunction",
        &scheduled_event(),
    )
    .await;
    assert_eq!(answer["files_in"], json!(files_before), "{answer}");
    let keys = list_keys(&client, BUCKET, "ecs/").await;
    let mut partitions: Vec<&str> = keys.iter().map(|k| &k[..k.rfind('/').unwrap()]).collect();
    let files = partitions.len();
    partitions.dedup();
    assert_eq!(files, partitions.len(), "one file per partition: {keys:?}");
    assert!(keys.iter().all(|k| k.contains("/compacted-")), "{keys:?}");
    // Beside each compacted source, its derived summary (task peaks, health firsts).
    let derived = ecs_lake::schema::DERIVED
        .iter()
        .map(|t| {
            keys.iter()
                .filter(|k| k.starts_with(&format!("ecs/{}/", t.name)))
                .count()
        })
        .sum::<usize>();
    assert!(derived > 0, "{keys:?}");
    assert_eq!(answer["files_out"], json!(files - derived), "{answer}");
    // Every row kept once (the simulator delivers none twice here).
    let mut after = lake_rows(&client, BUCKET, PREFIX).await;
    for table in ecs_lake::schema::DERIVED {
        after.remove(table.name);
    }
    assert_eq!(after, before);
    assert!(answer["compacted"].as_u64().unwrap() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_writes_last_week_and_publishes_its_summary() {
    let Some((bootstrap, settings)) = artifact("ReportFunction") else {
        return;
    };
    // A day inside last week (the scheduled run reports the week before).
    let today = ecs_lake::time::now_micros() / 1000 / DAY_MS;
    let monday = today - (today + 3) % 7; // 1970-01-01 was a Thursday
    let start_ms = (monday - 7 + 1) * DAY_MS;
    let s3 = S3Server::start(&[BUCKET]);
    let truth = simulated_lake(&s3, start_ms, 24.0).await;
    let oom_killed = truth
        .tasks
        .iter()
        .filter(|t| t.stop_cause == Some("oom_killed"))
        .count();
    assert!(oom_killed > 0, "the simulated leak reaches the limit");

    let (sns, published) = sns_endpoint();
    let topic = "arn:aws:sns:us-east-1:111122223333:ecs-post-mortem-lake-report";
    // As deployed with the defaults: ReportQueryEngine=datafusion (the
    // workgroup and database are named, and unused).
    let env = environment(
        &settings,
        &[
            ("SNS_TOPIC_ARN", topic),
            ("QUERY_ENGINE", "datafusion"),
            ("ATHENA_WORKGROUP", "ecs-post-mortem-lake-ecs-lake"),
            ("ATHENA_DATABASE", "ecs_lake_0a1b2c3d"),
        ],
        &[
            ("AWS_ENDPOINT_URL", &s3.endpoint),
            ("AWS_ENDPOINT_URL_SNS", &sns.endpoint),
        ],
    );
    let mut function = Function::launch(&bootstrap, &settings, &env);
    let answer = invoke(
        &mut function,
        &settings,
        "ReportFunction",
        &scheduled_event(),
    )
    .await;
    let week = answer["week"].as_str().unwrap().to_owned();
    assert_eq!(answer["services"], json!(1), "{answer}");
    assert!(answer["critical"].as_u64().unwrap() >= 1, "{answer}");
    let keys = list_keys(&s3.client(), BUCKET, &format!("ecs/reports/{week}/")).await;
    let written: Vec<String> = serde_json::from_value(answer["keys"].clone()).unwrap();
    let mut expected: Vec<String> = written.iter().map(|k| format!("ecs/{k}")).collect();
    expected.sort();
    assert_eq!(keys, expected);
    assert_eq!(keys.len(), 3, "{keys:?}");
    let published = published.lock().unwrap();
    assert_eq!(published.len(), 1);
    assert!(published[0].contains("Action=Publish"), "{}", published[0]);
    assert!(
        published[0].contains(&format!("TopicArn={}", topic.replace(':', "%3A"))),
        "{}",
        published[0]
    );
    assert!(published[0].contains(&week), "{}", published[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_says_a_new_oom_kill_once_and_keeps_its_state_in_the_lake() {
    let Some((bootstrap, settings)) = artifact("WatchFunction") else {
        return;
    };
    // The rollouts preset ending now: api:42, rolled out after an hour, is
    // OOM-killed about 3.5 h after the start, inside the watch's last hour;
    // billing's crash loop (2 to 2.5 h) is older than that.
    const HOURS: f64 = 3.75;
    let now_ms = ecs_lake::time::now_micros() / 1000;
    let mut preset = ecs_sim::Preset::rollouts(HOURS);
    preset.start_ms = now_ms - (HOURS * 3_600_000.0) as i64;
    let s3 = S3Server::start(&[BUCKET]);
    let store = S3Store::new(s3.client(), BUCKET, PREFIX);
    let truth = ecs_lake_tests::ingest_simulation(&store, &preset, 5, 6).await;
    let hour_ago = now_ms - 3_600_000;
    let mut recent: Vec<String> = truth
        .tasks
        .iter()
        .filter(|t| t.stop_cause == Some("oom_killed") || t.exit_code == Some(1))
        .filter(|t| t.stopped_at_ms.is_some_and(|at| at > hour_ago))
        .map(|t| format!("{}:{}", t.family, t.revision))
        .collect();
    recent.sort();
    recent.dedup();
    assert_eq!(
        recent,
        ["api:42"],
        "the truth's abnormal stops of the last hour"
    );

    let (sns, published) = sns_endpoint();
    let topic = "arn:aws:sns:us-east-1:111122223333:ecs-post-mortem-lake-AlertTopic";
    // The chat webhook, its URL in a Secrets Manager secret.
    let posted = Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let log = Arc::clone(&posted);
    let hook = JsonApiServer::start(Arc::new(move |_: &str, body: &Value| {
        log.lock().unwrap().push(body.clone());
        (200, "ok".into())
    }));
    let url = format!("{}/hooks/T0/B0/x", hook.endpoint);
    let secrets = JsonApiServer::start(Arc::new(move |target: &str, _: &Value| {
        assert_eq!(target, "secretsmanager.GetSecretValue");
        (200, json!({"ARN": "arn:aws:secretsmanager:us-east-1:111122223333:secret:hook-a1b2c3", "Name": "hook", "SecretString": url, "VersionId": "EXAMPLE1-90ab-cdef-fedc-ba987SECRET1", "VersionStages": ["AWSCURRENT"]}).to_string())
    }));
    let secret = "arn:aws:secretsmanager:us-east-1:111122223333:secret:hook-a1b2c3";
    let env = environment(
        &settings,
        &[
            ("JOB", "watch"),
            ("SNS_TOPIC_ARN", topic),
            ("WATCH_WINDOW_MINUTES", "60"),
            ("WATCH_MIN_STOPS", "2"),
            ("WATCH_PER_SERVICE_PER_HOUR", "4"),
            ("WEBHOOK_SECRET_ARN", secret),
        ],
        &[
            ("AWS_ENDPOINT_URL", &s3.endpoint),
            ("AWS_ENDPOINT_URL_SNS", &sns.endpoint),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", &secrets.endpoint),
        ],
    );
    let mut function = Function::launch(&bootstrap, &settings, &env);
    let first = invoke(
        &mut function,
        &settings,
        "WatchFunction",
        &scheduled_event(),
    )
    .await;
    assert_eq!(first["services"], json!(["prod/api"]), "{first}");
    assert_eq!(first["held"], json!(0), "{first}");
    let sent = first["sent"].as_array().unwrap();
    assert_eq!(sent.len(), 1, "{first}");
    assert!(
        sent[0]
            .as_str()
            .unwrap()
            .starts_with("[critical] prod/api api:42: "),
        "{first}"
    );
    {
        let published = published.lock().unwrap();
        assert_eq!(published.len(), 1);
        let form = ecs_lake_tests::recorded::form_fields(&published[0]);
        assert_eq!(form["TopicArn"], topic);
        assert_eq!(form["MessageStructure"], "json");
        let message: Value = serde_json::from_str(&form["Message"]).unwrap();
        let chat: Value = serde_json::from_str(message["https"].as_str().unwrap()).unwrap();
        assert_eq!(chat["metadata"]["threadId"], "prod/api/api:42/oom_kills");
        assert!(
            message["email"]
                .as_str()
                .unwrap()
                .contains("Where: cluster prod, service api, revision api:42")
        );
    }
    {
        let posted = posted.lock().unwrap();
        assert_eq!(posted.len(), 1, "{posted:?}");
        assert!(
            posted[0]["text"]
                .as_str()
                .unwrap()
                .starts_with("*[critical] prod/api api:42: ")
        );
    }
    let state = list_keys(&s3.client(), BUCKET, "ecs/_state/watch/").await;
    assert_eq!(state, ["ecs/_state/watch/lambda.json"]);

    // The next evaluation (a new process, as after a redeployment): nothing new to say.
    drop(function);
    let mut function = Function::launch(&bootstrap, &settings, &env);
    let second = invoke(
        &mut function,
        &settings,
        "WatchFunction",
        &scheduled_event(),
    )
    .await;
    assert_eq!(second["sent"], json!([]), "{second}");
    assert_eq!(second["open"], json!(1), "{second}");
    assert_eq!(published.lock().unwrap().len(), 1);
    assert_eq!(posted.lock().unwrap().len(), 1);
}
