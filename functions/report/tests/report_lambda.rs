//! The `report` Lambda's work against real components: a simulator lake
//! ingested into the in-process S3 endpoint (s3s) with aws-sdk-s3, read back
//! by DataFusion through object_store, the report written to
//! `reports/<week>/` through the same object store (as the Lambda's `main`
//! does) and read back over HTTP with aws-sdk-s3; and the same week's
//! report with its queries on Athena (the real aws-sdk-athena client against
//! the loopback Athena endpoint of `ecs_lake_tests::athena`), as the
//! template's `ReportQueryEngine=athena` configures the function.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ecs_lake_aws::S3Store;
use ecs_lake_tests::athena::{FakeAthena, Script};
use ecs_lake_tests::{JsonApiServer, S3Server, list_keys};
use ecs_query_engine::athena::{Athena, query_of};
use ecs_query_engine::diagnose::evidence::Selector;
use ecs_query_engine::report::Period;
use ecs_query_engine::{Lake, LakeConfig};
use report_lambda::{
    ReportError, Request, athena_settings, period, report_week, summary, write_report,
};

const HOURS: f64 = 30.0;
const SEED: u64 = 5;

/// Runs `run` on a thread with the CLI's stack size (the planner recurses
/// deeply in debug builds).
fn on_a_big_stack<F: Future<Output = ()> + 'static>(run: fn() -> F) {
    std::thread::Builder::new()
        .stack_size(16 << 20)
        .spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(run())
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn writes_the_week_to_s3_and_summarises_it() {
    on_a_big_stack(run);
}

async fn run() {
    let server = S3Server::start(&["lake"]);
    let store = S3Store::new(server.client(), "lake", "ecs/prod");
    let truth =
        ecs_lake_tests::ingest_simulation(&store, &ecs_sim::Preset::fleet(HOURS), SEED, 1).await;

    // A scheduled event's payload carries no week: the last complete one.
    let scheduled: Request =
        serde_json::from_str(r#"{"source": "aws.events", "detail-type": "Scheduled Event"}"#)
            .unwrap();
    let monday_w48 = Period::week("2026-W48").unwrap().from;
    assert_eq!(
        period(&scheduled, monday_w48 + 3_600_000_000).unwrap().name,
        "2026-W47"
    );
    let bad: Request = serde_json::from_str(r#"{"week": "2026-47"}"#).unwrap();
    assert!(
        period(&bad, 0)
            .unwrap_err()
            .to_string()
            .contains("2026-W47")
    );

    let lake = Lake::open_with_sdk(&LakeConfig::at("s3://lake/ecs/prod"), &server.sdk_config())
        .await
        .unwrap();
    let week = Period::week("2026-W47").unwrap();
    let (report, written) = write_report(&lake, &lake.store(), &week, &Selector::default())
        .await
        .unwrap();

    let keys = list_keys(&server.client(), "lake", "ecs/prod/reports/").await;
    assert_eq!(
        keys,
        [
            "ecs/prod/reports/2026-W47/report.html",
            "ecs/prod/reports/2026-W47/report.json",
            "ecs/prod/reports/2026-W47/report.md"
        ]
    );
    assert_eq!(written.keys.len(), 3);
    let html = server
        .client()
        .get_object()
        .bucket("lake")
        .key("ecs/prod/reports/2026-W47/report.html")
        .send()
        .await
        .unwrap();
    assert_eq!(html.content_type(), Some("text/html; charset=utf-8"));
    let body = html.body.collect().await.unwrap().into_bytes();
    assert!(body.starts_with(b"<!doctype html>"));
    let json: serde_json::Value = serde_json::from_slice(
        &server
            .client()
            .get_object()
            .bucket("lake")
            .key("ecs/prod/reports/2026-W47/report.json")
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes(),
    )
    .unwrap();

    // The figures are the simulator's.
    let ooms = truth
        .tasks
        .iter()
        .filter(|t| t.exit_kind == Some("sigkill_oom"))
        .count();
    assert!(ooms > 0);
    assert_eq!(report.totals.oom_kills, ooms);
    assert_eq!(json["totals"]["oom_kills"], ooms);
    assert_eq!(report.totals.tasks, truth.tasks.len());
    // Every service of the preset, the standalone job (by family) included.
    assert_eq!(
        written.services,
        ecs_sim::Preset::fleet(HOURS).services.len()
    );
    assert!(written.critical >= 2, "{written:?}");

    let (subject, message) = summary(&report, "s3://lake/ecs/prod");
    assert!(subject.len() <= 100);
    assert!(subject.contains(&format!("{ooms} OOM kills")), "{subject}");
    assert!(
        message.contains("s3://lake/ecs/prod/reports/2026-W47/report.html"),
        "{message}"
    );
    assert!(
        message.contains("prod/api: ") && message.contains("OOM kills on api:42"),
        "{message}"
    );

    // Re-running the same week overwrites the same three objects.
    write_report(&lake, &lake.store(), &week, &Selector::default())
        .await
        .unwrap();
    assert_eq!(
        list_keys(&server.client(), "lake", "ecs/prod/reports/")
            .await
            .len(),
        3
    );
}

/// The function's environment as the template sets it for
/// `ReportQueryEngine=athena` (`ATHENA_OUTPUT` unset: the workgroup's).
fn athena_environment(name: &str) -> Option<String> {
    match name {
        "QUERY_ENGINE" => Some("athena".to_owned()),
        "ATHENA_WORKGROUP" => Some("ecs-postmortem-lake-prod".to_owned()),
        "ATHENA_DATABASE" => Some("ecs_lake_prod".to_owned()),
        _ => None,
    }
}

#[test]
fn the_report_runs_on_athena_when_the_environment_says_so() {
    on_a_big_stack(on_athena);
}

async fn on_athena() {
    let server = simulated_lake().await;
    let week = Period::week("2026-W47").unwrap();
    let config = LakeConfig::at("s3://lake/ecs/prod");

    // In the Lambda (DataFusion), each query and its answer noted.
    let lake = Lake::open_with_sdk(&config, &server.sdk_config())
        .await
        .unwrap();
    let log = lake.log_queries();
    let (in_lambda, _) = write_report(&lake, &lake.store(), &week, &Selector::default())
        .await
        .unwrap();
    let json_in_lambda = get(&server, "ecs/prod/reports/2026-W47/report.json").await;
    let logged = log.take();
    assert!(!logged.is_empty());

    // On Athena: the endpoint answers each query's SQL with that answer.
    let answers: HashMap<_, _> = logged
        .iter()
        .map(|q| {
            let (sql, sent) = query_of(&q.plan).unwrap();
            (
                sql.trim_end_matches(';').to_owned(),
                (sent, q.answer.clone()),
            )
        })
        .collect();
    let fake = FakeAthena::new(answers, Script::Answer);
    let endpoint = fake.serve();
    let athena = athena_of(&endpoint);
    let lake = Lake::open_with_sdk(&config, &server.sdk_config())
        .await
        .unwrap();
    let (on_athena, written) = report_week(
        &lake,
        &lake.store(),
        Some(Arc::clone(&athena)),
        &week,
        &Selector::default(),
        Duration::from_secs(600),
    )
    .await
    .unwrap();

    assert_eq!(on_athena, in_lambda);
    assert!(written.services > 0 && written.critical > 0, "{written:?}");
    assert_eq!(
        get(&server, "ecs/prod/reports/2026-W47/report.json").await,
        json_in_lambda,
        "the same report.json, written over the first"
    );
    let seen = fake.seen();
    assert_eq!(
        seen.started.len(),
        logged.len(),
        "every query ran on Athena"
    );
    assert_eq!(athena.usage().queries, logged.len() as u64);
    for start in &seen.started {
        assert_eq!(start["WorkGroup"], "ecs-postmortem-lake-prod");
        assert_eq!(start["QueryExecutionContext"]["Database"], "ecs_lake_prod");
        assert!(
            start.get("ResultConfiguration").is_none(),
            "the workgroup's result location: {start}"
        );
    }
}

/// The function's Athena client, as `main` makes it from the environment.
fn athena_of(endpoint: &JsonApiServer) -> Arc<Athena> {
    let settings = athena_settings(athena_environment).unwrap().unwrap();
    Arc::new(
        Athena::from_sdk(&endpoint.sdk_config(), settings)
            .with_first_poll(Duration::from_millis(1)),
    )
}

#[test]
fn a_report_out_of_time_stops_its_athena_query_and_fails() {
    on_a_big_stack(out_of_time);
}

async fn out_of_time() {
    let server = simulated_lake().await;
    let fake = FakeAthena::new(HashMap::new(), Script::RunUntilStopped);
    let endpoint = fake.serve();
    let athena = athena_of(&endpoint);
    let lake = Lake::open_with_sdk(&LakeConfig::at("s3://lake/ecs/prod"), &server.sdk_config())
        .await
        .unwrap();
    let err = report_week(
        &lake,
        &lake.store(),
        Some(Arc::clone(&athena)),
        &Period::week("2026-W47").unwrap(),
        &Selector::default(),
        Duration::from_millis(300),
    )
    .await
    .unwrap_err();
    let ReportError::OutOfTime {
        stopped: Some(id), ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert!(err.to_string().contains(id.as_str()), "{err}");
    let (stops, started) = {
        let seen = fake.seen();
        let stops = seen.calls.iter().filter(|c| *c == "StopQueryExecution");
        (stops.count(), seen.started.len())
    };
    assert_eq!(stops, 1);
    assert_eq!(started, 1, "nothing started after the stop");
    assert_eq!(athena.usage().queries, 0, "no query finished");
    assert!(
        list_keys(&server.client(), "lake", "ecs/prod/reports/")
            .await
            .is_empty(),
        "no report written"
    );
}

/// The in-process S3 endpoint holding the simulated fleet's lake at
/// `s3://lake/ecs/prod`, as the ingest functions write it.
async fn simulated_lake() -> S3Server {
    let server = S3Server::start(&["lake"]);
    let store = S3Store::new(server.client(), "lake", "ecs/prod");
    ecs_lake_tests::ingest_simulation(&store, &ecs_sim::Preset::fleet(HOURS), SEED, 1).await;
    server
}

async fn get(server: &S3Server, key: &str) -> Vec<u8> {
    server
        .client()
        .get_object()
        .bucket("lake")
        .key(key)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .to_vec()
}

#[test]
fn the_engine_setting_is_read_or_refused_with_what_to_set() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    };
    assert!(athena_settings(env(&[])).unwrap().is_none());
    assert!(
        athena_settings(env(&[("QUERY_ENGINE", "datafusion")]))
            .unwrap()
            .is_none()
    );
    let defaults = athena_settings(env(&[
        ("QUERY_ENGINE", "athena"),
        ("ATHENA_DATABASE", "ecs_lake"),
        ("ATHENA_WORKGROUP", ""),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!(
        (defaults.workgroup.as_str(), defaults.output_location),
        ("primary", None)
    );
    let with_output = athena_settings(env(&[
        ("QUERY_ENGINE", "athena"),
        ("ATHENA_DATABASE", "ecs_lake"),
        ("ATHENA_OUTPUT", "s3://results/ecs/"),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!(
        with_output.output_location.as_deref(),
        Some("s3://results/ecs/")
    );

    let no_database = athena_settings(env(&[("QUERY_ENGINE", "athena")])).unwrap_err();
    assert!(matches!(no_database, ReportError::BadEngine(_)));
    assert!(
        no_database.to_string().contains("ATHENA_DATABASE"),
        "{no_database}"
    );
    let unknown = athena_settings(env(&[("QUERY_ENGINE", "spark")])).unwrap_err();
    assert!(
        unknown.to_string().contains("\"spark\"")
            && unknown.to_string().contains("datafusion or athena"),
        "{unknown}"
    );
}
