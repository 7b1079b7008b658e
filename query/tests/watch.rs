//! The deployment watch over six hours of rollouts (simulator preset
//! `rollouts`, seed 5): the simulator's EventBridge events and CloudWatch
//! Logs payloads are ingested as they are delivered (each at its own time),
//! the task definitions and services as a capture would have read them, and
//! the watch evaluates every 5 minutes as the Lambda does, keeping its state
//! in the lake between evaluations. What it says is held to the simulator's
//! ground truth: when each bad revision's abnormal stops happened, which
//! deployment rolled it out, which services never misbehaved.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::io::Read as _;
use std::sync::OnceLock;

use base64::Engine as _;
use ecs_lake::{Input, InputKind, LakeStore};
use ecs_lake_aws::LocalStore;
use ecs_query::cli::{Format, WatchArgs};
use ecs_query_engine::Lake;
use ecs_query_engine::diagnose::findings::FindingKind;
use ecs_query_engine::watch::{self, Alert, Settings, State, Status};
use ecs_sim::{Preset, TaskTruth, Truth};
use serde_json::Value;

mod common;
use common::{abnormal, block_on, lake_args};

const HOURS: f64 = 6.0;
const SEED: u64 = 5;
const EVERY_MS: i64 = 5 * 60_000;

struct Run {
    lake: std::path::PathBuf,
    truth: Truth,
    /// Every evaluation's time (ms) and what it sent.
    sent: Vec<Alert>,
    evaluations: Vec<i64>,
    held: usize,
}

/// When an input is delivered (ms): an event at its `time`, a log payload
/// at its newest log event.
fn delivered_at(input: &Input) -> i64 {
    let doc: Value = match input.kind {
        InputKind::LogsPayload => {
            let gz = base64::engine::general_purpose::STANDARD
                .decode(&input.body)
                .unwrap();
            let mut text = String::new();
            flate2::read::GzDecoder::new(&gz[..])
                .read_to_string(&mut text)
                .unwrap();
            let doc: Value = serde_json::from_str(&text).unwrap();
            return doc["logEvents"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|e| e["timestamp"].as_i64())
                .max()
                .unwrap();
        }
        _ => serde_json::from_slice(&input.body).unwrap(),
    };
    let time = doc["time"].as_str().unwrap();
    chrono::DateTime::parse_from_rfc3339(time)
        .unwrap()
        .timestamp_millis()
}

fn run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let preset = Preset::rollouts(HOURS);
        let sim = ecs_sim::simulate(&preset, SEED);
        let mut inputs: Vec<(i64, Input)> = ecs_lake_tests::simulation_inputs(&sim)
            .into_iter()
            .map(|input| (delivered_at(&input), input))
            .collect();
        inputs.sort_by_key(|(at, _)| *at);
        let configuration: Vec<Input> = preset
            .task_definition_documents()
            .into_iter()
            .chain(preset.service_documents())
            .enumerate()
            .map(|(i, d)| Input::new(format!("c{i}"), d.to_string().into_bytes()))
            .collect();
        let dir = tempfile::tempdir().unwrap().keep();
        let store = LocalStore::new(&dir);
        let end_ms = preset.start_ms + (HOURS * 3_600_000.0) as i64;
        block_on(|| async {
            let report =
                ecs_lake::ingest(&store, "capture", &configuration, preset.start_ms * 1000).await;
            assert_eq!(report.failed(), 0);
            let mut next = 0;
            let mut sent = Vec::new();
            let mut evaluations = Vec::new();
            let mut held = 0;
            let mut now_ms = preset.start_ms + EVERY_MS;
            while now_ms <= end_ms {
                let due = inputs[next..]
                    .iter()
                    .take_while(|(at, _)| *at <= now_ms)
                    .count();
                if due > 0 {
                    let batch: Vec<Input> = inputs[next..next + due]
                        .iter()
                        .map(|(_, i)| i.clone())
                        .collect();
                    let report = ecs_lake::ingest(&store, "test", &batch, now_ms * 1000).await;
                    assert_eq!(report.failed(), 0, "every delivered input is written");
                    next += due;
                }
                let lake = Lake::open(&lake_args(&dir).config()).await.unwrap();
                let objects = lake.store();
                let mut state = State::load(&objects, "lambda").await.unwrap();
                let evaluation =
                    watch::evaluate(&lake, &state, now_ms * 1000, &Settings::default())
                        .await
                        .unwrap();
                for alert in &evaluation.alerts {
                    state.record(alert, evaluation.now);
                }
                held += evaluation.held.len();
                sent.extend(evaluation.alerts.iter().cloned());
                state.finish(&evaluation);
                state.save(&objects, "lambda").await.unwrap();
                evaluations.push(now_ms);
                now_ms += EVERY_MS;
            }
            assert_eq!(store.location(), dir.display().to_string());
            Run {
                lake: dir.clone(),
                truth: sim.truth.clone(),
                sent,
                evaluations,
                held,
            }
        })
    })
}

/// The abnormal stops of `service` revision `revision`, in time order (ms).
fn stops(service: &str, revision: i32, pick: impl Fn(&TaskTruth) -> bool) -> Vec<i64> {
    let mut at: Vec<i64> = run()
        .truth
        .tasks
        .iter()
        .filter(|t| t.service == service && t.revision == revision && abnormal(t) && pick(t))
        .filter_map(|t| t.stopped_at_ms)
        .collect();
    at.sort_unstable();
    at
}

/// The first evaluation at or after `ms`.
fn first_evaluation_from(ms: i64) -> i64 {
    *run()
        .evaluations
        .iter()
        .find(|e| **e >= ms)
        .expect("an evaluation after it")
}

fn messages(service: &str) -> Vec<&'static Alert> {
    run().sent.iter().filter(|a| a.service == service).collect()
}

fn deployment_of(service: &str, revision: i32) -> String {
    run()
        .truth
        .deployments
        .iter()
        .find(|d| d.service == service && d.revision == revision)
        .map(|d| d.deployment_id.clone())
        .expect("the truth has the deployment")
}

#[test]
fn the_leaking_revision_alerts_at_the_first_evaluation_after_its_second_abnormal_stop() {
    let kills = stops("api", 42, |_| true);
    assert!(
        kills.len() >= 2,
        "the preset's leak kills api:42 tasks: {kills:?}"
    );
    let first = messages("api")[0];
    assert_eq!(first.status, Status::New);
    assert_eq!(first.revision, "api:42");
    assert_eq!(first.kind, FindingKind::OomKills);
    assert_eq!(
        first.at,
        first_evaluation_from(kills[1]) * 1000,
        "{first:#?}"
    );
    assert_eq!(
        first.deployment.as_deref(),
        Some(deployment_of("api", 42).as_str())
    );
    let by_then = kills.iter().filter(|k| **k <= first.at / 1000).count();
    assert!(
        first.figures[0].starts_with(&format!("{by_then} abnormal stops of api:42")),
        "{:?}",
        first.figures
    );
    let (subject, body) = first.email();
    assert!(
        subject.starts_with("[critical] prod/api api:42:"),
        "{subject}"
    );
    assert!(body.contains("ecs-query"), "{body}");
    assert!(
        first.recommendation.is_some(),
        "a first recommendation: {first:#?}"
    );
}

#[test]
fn an_unchanged_finding_is_said_once_and_stays_open_without_a_fix() {
    // Nothing in the range recurs after it was resolved: one new message per key.
    let new: Vec<&Alert> = run()
        .sent
        .iter()
        .filter(|a| a.status == Status::New)
        .collect();
    let mut keys: Vec<&str> = new.iter().map(|a| a.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), new.len(), "one new message per key: {new:#?}");
    let api: Vec<&Alert> = messages("api");
    assert!(
        api.iter().all(|a| a.status != Status::Resolved),
        "nothing fixed api:42 in the range: {api:#?}"
    );
    // Worse only when it is: more severe, or the tasks it is about doubled
    // since the last message, a window (1 h) after it.
    for w in run().sent.iter().filter(|a| a.status == Status::Worse) {
        let before = run()
            .sent
            .iter()
            .rfind(|a| a.key == w.key && a.at < w.at)
            .expect("worse follows a message");
        let doubled = w.impact >= 2 * before.impact && w.at - before.at >= 3_600_000_000;
        assert!(doubled || w.severity < before.severity, "{w:#?}");
    }
    let kills = stops("api", 42, |_| true).len();
    assert!(
        api.len() < kills,
        "{} messages for {kills} kills",
        api.len()
    );
}

#[test]
fn the_crash_loop_alerts_once_it_loops_and_is_resolved_by_the_fix() {
    let exits = stops("billing", 5, |_| true);
    assert!(exits.len() >= 3, "{exits:?}");
    let billing = messages("billing");
    let alert = billing
        .iter()
        .find(|a| a.kind == FindingKind::CrashLoop)
        .unwrap_or_else(|| panic!("{billing:#?}"));
    assert_eq!(alert.status, Status::New);
    assert_eq!(alert.revision, "billing:5");
    // The crash-loop rule needs three exits of the revision (and the watch two abnormal stops).
    assert_eq!(
        alert.at,
        first_evaluation_from(exits[2]) * 1000,
        "{alert:#?}"
    );
    assert_eq!(
        alert.deployment.as_deref(),
        Some(deployment_of("billing", 5).as_str())
    );
    let resolved = billing
        .iter()
        .find(|a| a.key == alert.key && a.status == Status::Resolved)
        .unwrap_or_else(|| panic!("resolved after billing:6: {billing:#?}"));
    assert!(resolved.at > alert.at);
    assert!(
        resolved.figures[0].starts_with("the deployment of billing:6"),
        "{:?}",
        resolved.figures
    );
    assert!(
        resolved.at >= *exits.last().unwrap() * 1000,
        "not before the last crash"
    );
    assert!(
        billing.iter().all(|a| a.revision == "billing:5"),
        "{billing:#?}"
    );
}

#[test]
fn the_failed_deployment_alerts_and_the_rollback_resolves_it() {
    let failed = stops("checkout", 13, |_| true);
    assert!(failed.len() >= 2, "{failed:?}");
    let checkout = messages("checkout");
    assert!(
        checkout.iter().all(|a| a.revision == "checkout:13"),
        "{checkout:#?}"
    );
    let first = checkout[0];
    assert_eq!(
        first.at,
        first_evaluation_from(failed[1]) * 1000,
        "{checkout:#?}"
    );
    assert!(
        checkout
            .iter()
            .any(|a| a.kind == FindingKind::FailedDeployment && a.status == Status::New),
        "{checkout:#?}"
    );
    for open in checkout.iter().filter(|a| a.status == Status::New) {
        let resolved = checkout
            .iter()
            .find(|a| a.key == open.key && a.status == Status::Resolved)
            .unwrap_or_else(|| panic!("{} resolved by the rollback: {checkout:#?}", open.key));
        assert!(
            resolved.figures[0].starts_with("the rollback to checkout:12"),
            "{:?}",
            resolved.figures
        );
    }
}

#[test]
fn healthy_services_never_alert() {
    let worker: Vec<&TaskTruth> = run()
        .truth
        .tasks
        .iter()
        .filter(|t| t.service == "worker")
        .collect();
    assert!(
        worker
            .iter()
            .any(|t| t.stop_cause == Some("spot_interruption")),
        "the worker's Spot interruptions happen (and are not its fault)"
    );
    assert!(worker.iter().all(|t| !abnormal(t)));
    assert!(messages("worker").is_empty(), "{:#?}", messages("worker"));
    let said: Vec<String> = run()
        .sent
        .iter()
        .map(|a| format!("{} {}", a.at, a.headline()))
        .collect();
    assert_eq!(
        run().held,
        0,
        "the rate limit holds nothing back here: {said:#?}"
    );
}

#[test]
fn what_was_said_is_kept_in_the_lake_and_not_repeated_by_a_new_process() {
    let run = run();
    let end = *run.evaluations.last().unwrap();
    block_on(|| async {
        let lake = Lake::open(&lake_args(&run.lake).config()).await.unwrap();
        let state = State::load(&lake.store(), "lambda").await.unwrap();
        assert_eq!(state.last_run, Some(end * 1000));
        assert!(
            state.open.keys().any(|k| k.starts_with("prod/api/api:42/")),
            "{state:#?}"
        );
        assert!(
            !state.open.keys().any(|k| k.starts_with("prod/billing/")),
            "{state:#?}"
        );
        // The same evaluation again, as a redeployed function would run it.
        let again = watch::evaluate(&lake, &state, end * 1000, &Settings::default())
            .await
            .unwrap();
        assert!(again.alerts.is_empty(), "{:#?}", again.alerts);
        // A fresh state says it all again: the dedup is the state's doing.
        let fresh = watch::evaluate(&lake, &State::default(), end * 1000, &Settings::default())
            .await
            .unwrap();
        assert!(
            fresh.alerts.iter().any(|a| a.revision == "api:42"),
            "{fresh:#?}"
        );
    });
}

#[test]
fn the_rate_limit_holds_messages_back_instead_of_dropping_them() {
    let run = run();
    let at = run.sent.iter().find(|a| a.service == "api").unwrap().at;
    block_on(|| async {
        let lake = Lake::open(&lake_args(&run.lake).config()).await.unwrap();
        let strict = Settings {
            per_service_per_hour: 0,
            ..Settings::default()
        };
        let held = watch::evaluate(&lake, &State::default(), at, &strict)
            .await
            .unwrap();
        assert!(held.alerts.is_empty());
        assert!(
            held.held.iter().any(|a| a.revision == "api:42"),
            "{held:#?}"
        );
        let mut state = State::default();
        state.finish(&held);
        // Two hours later, the kills out of the window: what was held goes
        // out as it was decided (its time says so), not lost with the window.
        let later = at + 2 * 3_600_000_000;
        let next = watch::evaluate(&lake, &state, later, &Settings::default())
            .await
            .unwrap();
        assert!(
            next.alerts
                .iter()
                .any(|a| a.revision == "api:42" && a.status == Status::New && a.at == at),
            "{next:#?}"
        );
        assert!(next.held.is_empty());
    });
}

#[test]
fn messages_reach_sns_as_email_text_and_amazon_q_chat_notifications() {
    let alert = messages("api")[0].clone();
    let (server, published) = ecs_lake_tests::recorded::sns_endpoint();
    let topic = "arn:aws:sns:us-east-1:111122223333:ecs-post-mortem-lake-alerts";
    block_on(|| async {
        watch::publish(&server.sns_client(), topic, &alert)
            .await
            .unwrap();
    });
    let published = published.lock().unwrap();
    assert_eq!(published.len(), 1);
    let form = ecs_lake_tests::recorded::form_fields(&published[0]);
    assert_eq!(form["Action"], "Publish");
    assert_eq!(form["TopicArn"], topic);
    assert_eq!(form["MessageStructure"], "json");
    assert_eq!(form["Subject"], alert.email().0);
    let message: Value = serde_json::from_str(&form["Message"]).unwrap();
    assert_eq!(message["email"], alert.email().1);
    let chat: Value = serde_json::from_str(message["https"].as_str().unwrap()).unwrap();
    assert_eq!(chat["version"], "1.0");
    assert_eq!(chat["source"], "custom");
    assert_eq!(chat["metadata"]["threadId"], alert.key);
    assert!(
        chat["content"]["description"]
            .as_str()
            .unwrap()
            .contains("api:42")
    );
    assert!(!chat["content"]["nextSteps"].as_array().unwrap().is_empty());
}

#[test]
fn ecs_query_watch_once_prints_each_message_once_and_refuses_now_without_once() {
    let run = run();
    let at = messages("api")[0].at;
    let watch = |once: bool, format: Format| {
        let args = WatchArgs {
            once,
            every: 300_000_000,
            window: 3_600_000_000,
            min_stops: 2,
            per_hour: 4,
            topic: None,
            webhook_secret: None,
            state: "cli-test".into(),
        };
        let mut out = Vec::new();
        let result = block_on(|| async {
            ecs_query::watch::run(
                &lake_args(&run.lake),
                &args,
                &common::output(format, at),
                &mut out,
            )
            .await
        });
        result.map(|()| String::from_utf8(out).unwrap())
    };
    let first = watch(true, Format::Json).unwrap();
    let lines: Vec<Value> = first
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines
            .iter()
            .any(|a| a["revision"] == "api:42" && a["kind"] == "oom_kills" && a["status"] == "new"),
        "{first}"
    );
    assert_eq!(
        watch(true, Format::Table).unwrap(),
        "",
        "said already: the state is in the lake"
    );
    let err = watch(false, Format::Table).unwrap_err().to_string();
    assert!(err.contains("--now pins one evaluation"), "{err}");
}

/// A Secrets Manager endpoint answering `GetSecretValue` with `secret`, in
/// the shape of the API reference's example.
fn secrets_endpoint(secret: String) -> ecs_lake_tests::JsonApiServer {
    ecs_lake_tests::JsonApiServer::start(std::sync::Arc::new(move |target: &str, _: &Value| {
        assert_eq!(target, "secretsmanager.GetSecretValue");
        let answer = serde_json::json!({
            "ARN": "arn:aws:secretsmanager:us-east-1:111122223333:secret:ecs-lake-webhook-a1b2c3",
            "CreatedDate": 1.523477145713e9,
            "Name": "ecs-lake-webhook",
            "SecretString": secret,
            "VersionId": "EXAMPLE1-90ab-cdef-fedc-ba987SECRET1",
            "VersionStages": ["AWSCURRENT"]
        });
        (200, answer.to_string())
    }))
}

#[test]
fn messages_reach_a_webhook_kept_in_secrets_manager() {
    let alert = messages("api")[0].clone();
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let log = std::sync::Arc::clone(&received);
    let status = std::sync::Arc::new(std::sync::Mutex::new(200u16));
    let answer = std::sync::Arc::clone(&status);
    let hook =
        ecs_lake_tests::JsonApiServer::start(std::sync::Arc::new(move |_: &str, body: &Value| {
            log.lock().unwrap().push(body.clone());
            (*answer.lock().unwrap(), "ok".into())
        }));
    let arn = "arn:aws:secretsmanager:us-east-1:111122223333:secret:ecs-lake-webhook-a1b2c3";
    block_on(|| async {
        let http = reqwest::Client::new();
        // The URL itself, or {"url": ...}.
        for secret in [
            format!("{}/hooks/T0/B0/x", hook.endpoint),
            serde_json::json!({"url": format!("{}/hooks/T0/B0/x", hook.endpoint)}).to_string(),
        ] {
            let secrets = secrets_endpoint(secret);
            let url = watch::webhook_url(&secrets.secrets_client(), arn)
                .await
                .unwrap();
            watch::post_webhook(&http, &url, &alert).await.unwrap();
        }
        let got = received.lock().unwrap().clone();
        assert_eq!(got.len(), 2);
        let text = got[0]["text"].as_str().unwrap();
        assert!(
            text.starts_with(&format!("*{}*", alert.headline())),
            "{text}"
        );
        assert!(
            text.contains("Where: cluster prod, service api, revision api:42"),
            "{text}"
        );

        // A secret without a URL, and a webhook that refuses: errors that
        // say what, never the URL.
        let secrets = secrets_endpoint("hunter2".into());
        let err = watch::webhook_url(&secrets.secrets_client(), arn)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("holds no URL"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        *status.lock().unwrap() = 500;
        let url = format!("{}/hooks/T0/B0/x", hook.endpoint);
        let err = watch::post_webhook(&http, &url, &alert)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("HTTP 500"), "{err}");
        assert!(!err.contains("/hooks/"), "{err}");
    });
}
