//! The Athena engine (`--engine athena`): the real aws-sdk-athena client
//! against a loopback Athena endpoint that answers as the Athena API does
//! (`ecs_lake_tests::athena`: what DataFusion answered for the same plan,
//! printed and paged as Athena prints it; whether Athena computes that
//! answer from the SQL is `athena_sql.rs`'s question). Here:
//! questions, a timeline, diagnose and the weekly report give the same
//! results through the client, paging and type conversion as in process;
//! a failed, refused, denied or cancelled query is an error that says so.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::util::pretty::pretty_format_batches;
use ecs_lake_tests::JsonApiServer;
use ecs_lake_tests::athena::{FakeAthena, SCANNED, Script};
use ecs_query_engine::athena::{Athena, AthenaError, AthenaSettings};
use ecs_query_engine::diagnose::{self, evidence::Selector};
use ecs_query_engine::report::{self, Period};
use ecs_query_engine::{Lake, LakeConfig, ask, collect, timeline};
use ecs_sim::Preset;

mod common;
use common::block_on;

const HOURS: f64 = 72.0;
const SEED: u64 = 11;

fn settings() -> AthenaSettings {
    AthenaSettings {
        workgroup: "ecs-postmortem".into(),
        database: "ecs_lake_test".into(),
        output_location: Some("s3://athena-results-test/ecs/".into()),
    }
}

fn athena(server: &JsonApiServer) -> Arc<Athena> {
    Arc::new(
        Athena::from_sdk(&server.sdk_config(), settings())
            .with_first_poll(Duration::from_millis(1)),
    )
}

/// What each step answers, in a comparable form.
#[derive(Debug, PartialEq)]
struct Answers {
    questions: Vec<String>,
    sql: String,
    timeline: String,
    diagnoses: Vec<diagnose::Diagnosis>,
    report: report::Report,
}

async fn answers(lake: &Lake, oom_task: &str) -> Answers {
    let preset = Preset::fleet(HOURS);
    let now = common::end_micros(&preset);
    let mut questions = Vec::new();
    for q in common::BRIEF_QUESTIONS {
        let batches = collect(ask::plan(lake, q, now).await.unwrap())
            .await
            .unwrap();
        questions.push(pretty_format_batches(&batches).unwrap().to_string());
    }
    // `ecs-query sql` over a view (the view's plan is sent in its place).
    let df = ask::sql(lake, common::SQL_OVER_A_VIEW).await.unwrap();
    let mut sql = pretty_format_batches(&collect(df).await.unwrap())
        .unwrap()
        .to_string();
    // Unaliased expressions and two columns of one name: sent as _c0, _c1, ….
    let df = ask::sql(
        lake,
        "SELECT t.task_id, t.started_at, d.started_at, length(t.task_id) FROM tasks t \
         JOIN deployments d ON t.deployment_id = d.deployment_id ORDER BY t.task_id LIMIT 50",
    )
    .await
    .unwrap();
    let batches = collect(df).await.unwrap();
    assert_eq!(batches[0].schema().field(3).name(), "length(t.task_id)");
    sql.push_str(&pretty_format_batches(&batches).unwrap().to_string());
    let (_, df) = timeline::timeline(lake, oom_task, 5, now).await.unwrap();
    let timeline = pretty_format_batches(&collect(df).await.unwrap())
        .unwrap()
        .to_string();
    let diagnoses = diagnose::diagnose(lake, &Selector::default(), common::whole_range(&preset))
        .await
        .unwrap();
    let period = Period::range(preset.start_ms * 1000, now).unwrap();
    let report = report::build(lake, &period, &Selector::default())
        .await
        .unwrap();
    Answers {
        questions,
        sql,
        timeline,
        diagnoses,
        report,
    }
}

#[test]
fn questions_timeline_diagnose_and_report_answer_the_same_through_athena() {
    let lake_dir = common::fleet_lake(HOURS, SEED).to_str().unwrap().to_owned();
    let oom_task = common::oom_killed_task(common::fleet_truth(HOURS, SEED));
    block_on(|| async move {
        let local = Lake::open(&LakeConfig::at(lake_dir.clone())).await.unwrap();
        let log = local.log_queries();
        let in_process = answers(&local, &oom_task).await;
        let logged = log.take();
        let answers_by_sql: HashMap<_, _> = logged
            .iter()
            .map(|q| {
                // As the engine sends it (columns renamed when they must be).
                let (sql, sent) = ecs_query_engine::athena::query_of(&q.plan).unwrap();
                (
                    sql.trim_end_matches(';').to_owned(),
                    (sent, q.answer.clone()),
                )
            })
            .collect();
        let fake = FakeAthena::new(answers_by_sql, Script::Answer);
        let server = fake.serve();
        let athena = athena(&server);
        let remote = Lake::open(&LakeConfig::at(lake_dir)).await.unwrap();
        remote.use_athena(Arc::clone(&athena));
        let through_athena = answers(&remote, &oom_task).await;

        assert_eq!(through_athena.questions, in_process.questions);
        assert_eq!(through_athena.sql, in_process.sql);
        assert_eq!(through_athena.timeline, in_process.timeline);
        assert_eq!(through_athena.diagnoses, in_process.diagnoses);
        assert_eq!(through_athena.report, in_process.report);
        assert!(
            !in_process.diagnoses.is_empty() && !in_process.report.services.is_empty(),
            "the fleet has something to diagnose and report"
        );

        let seen = fake.seen();
        let starts = seen
            .calls
            .iter()
            .filter(|c| *c == "StartQueryExecution")
            .count();
        assert_eq!(starts, logged.len(), "one Athena query per plan");
        assert_eq!(athena.usage().queries, logged.len() as u64);
        assert_eq!(
            athena.usage().bytes_scanned,
            logged.len() as u64 * SCANNED as u64
        );
        for state in ["QUEUED", "RUNNING", "SUCCEEDED"] {
            assert!(
                seen.states.iter().any(|s| s == state),
                "polled through {state}"
            );
        }
        assert!(
            seen.next_tokens > 0,
            "an answer longer than a page was read page by page"
        );
        for start in &seen.started {
            assert_eq!(start["WorkGroup"], "ecs-postmortem");
            assert_eq!(start["QueryExecutionContext"]["Database"], "ecs_lake_test");
            assert_eq!(
                start["ResultConfiguration"]["OutputLocation"],
                "s3://athena-results-test/ecs/"
            );
        }
    });
}

/// One question on Athena scripted to end as `script` says.
fn ask_scripted(script: Script) -> (ecs_query_engine::Error, Arc<FakeAthena>) {
    let lake_dir = common::fleet_lake(HOURS, SEED).to_str().unwrap().to_owned();
    let fake = FakeAthena::new(HashMap::new(), script);
    let server = fake.serve();
    let athena = athena(&server);
    let err = block_on(|| async move {
        let lake = Lake::open(&LakeConfig::at(lake_dir)).await.unwrap();
        lake.use_athena(athena);
        let now = common::end_micros(&Preset::fleet(HOURS));
        let df = ask::plan(&lake, "oom by service last 24h", now)
            .await
            .unwrap();
        ecs_query_engine::Error::from(collect(df).await.unwrap_err())
    });
    (err, fake)
}

#[test]
fn a_failed_query_says_athenas_reason() {
    let reason = "COLUMN_NOT_FOUND: line 1:8: Column 'exit_code' cannot be resolved";
    let (err, _) = ask_scripted(Script::Fail(reason));
    assert!(
        matches!(
            err,
            ecs_query_engine::Error::Athena(AthenaError::Failed { .. })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains(reason), "{err}");
}

#[test]
fn a_workgroup_without_an_output_location_is_refused_with_athenas_words() {
    let message = "No output location provided. An output location is required either through the Workgroup result configuration setting or as an API input.";
    let (err, fake) = ask_scripted(Script::Refuse("InvalidRequestException", message));
    let ecs_query_engine::Error::Athena(athena) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(athena.code(), Some("InvalidRequestException"));
    assert!(err.to_string().contains(message), "{err}");
    let shown = ecs_query::CliError::from(err).to_string();
    assert!(
        shown.contains("--athena-output"),
        "the hint names what to set: {shown}"
    );
    assert!(fake.seen().started.is_empty());
}

#[test]
fn a_denied_call_names_the_permissions() {
    let (err, _) = ask_scripted(Script::Refuse(
        "AccessDeniedException",
        "User: arn:aws:iam::111122223333:user/dev is not authorized to perform: athena:StartQueryExecution",
    ));
    let shown = ecs_query::CliError::from(err).to_string();
    assert!(shown.contains("not authorized"), "{shown}");
    assert!(
        shown.contains("athena:StartQueryExecution") && shown.contains("glue:GetTable"),
        "{shown}"
    );
}

#[test]
fn stop_cancels_the_running_query() {
    let lake_dir = common::fleet_lake(HOURS, SEED).to_str().unwrap().to_owned();
    let fake = FakeAthena::new(HashMap::new(), Script::RunUntilStopped);
    let server = fake.serve();
    let athena = athena(&server);
    let (err, stopped) = block_on(|| async move {
        let lake = Lake::open(&LakeConfig::at(lake_dir)).await.unwrap();
        lake.use_athena(Arc::clone(&athena));
        let now = common::end_micros(&Preset::fleet(HOURS));
        let df = ask::plan(&lake, "oom by service last 24h", now)
            .await
            .unwrap();
        let running = tokio::spawn(collect(df));
        // Wait until the query is polled RUNNING, then stop it as Ctrl-C does.
        let stopped = loop {
            tokio::time::sleep(Duration::from_millis(5)).await;
            if let Some(id) = athena.stop().await.unwrap() {
                break id;
            }
        };
        let err = ecs_query_engine::Error::from(running.await.unwrap().unwrap_err());
        (err, stopped)
    });
    assert!(fake.seen().calls.iter().any(|c| c == "StopQueryExecution"));
    assert!(
        matches!(&err, ecs_query_engine::Error::Athena(AthenaError::Cancelled { id, .. }) if *id == stopped),
        "{err:?}"
    );
}
