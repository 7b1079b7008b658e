//! The Athena engine (`--engine athena`): the real aws-sdk-athena client
//! against a loopback Athena endpoint that answers as the Athena API does
//! (the JSON shapes of the AWS CLI reference's `get-query-execution` and
//! `get-query-results` examples: a query QUEUED, then RUNNING, then
//! SUCCEEDED with its bytes scanned; results paged with NextToken, the first
//! row the column labels, every cell text, NULL a cell without VarCharValue).
//!
//! What the endpoint answers for a query is what DataFusion answered for the
//! same plan (noted with `Lake::log_queries`), printed as Athena prints it;
//! whether Athena computes that answer from the SQL is
//! `athena_sql.rs`'s question (Trino's grammar, DuckDB's answers). Here:
//! questions, a timeline, diagnose and the weekly report give the same
//! results through the client, paging and type conversion as in process;
//! a failed, refused, denied or cancelled query is an error that says so.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::arrow::util::pretty::pretty_format_batches;
use ecs_lake_tests::JsonApiServer;
use ecs_query_engine::athena::{Athena, AthenaError, AthenaSettings};
use ecs_query_engine::diagnose::{self, evidence::Selector};
use ecs_query_engine::report::{self, Period};
use ecs_query_engine::{Lake, LakeConfig, ask, collect, timeline};
use ecs_sim::Preset;
use serde_json::{Value, json};

mod common;
use common::block_on;

const HOURS: f64 = 72.0;
const SEED: u64 = 11;
const SCANNED: i64 = 12_345_678;
/// Rows per results page (Athena's MaxResults is at most 1000; a small page
/// makes the reports' answers span several).
const PAGE: usize = 40;

/// How the endpoint treats every query.
#[derive(Clone)]
enum Script {
    Answer,
    Fail(&'static str),
    Refuse(&'static str, &'static str),
    RunUntilStopped,
}

struct Execution {
    sql: String,
    polls: u32,
    stopped: bool,
}

#[derive(Default)]
struct Seen {
    calls: Vec<String>,
    states: Vec<String>,
    next_tokens: usize,
    started: Vec<Value>,
}

struct FakeAthena {
    answers: HashMap<String, (SchemaRef, Vec<RecordBatch>)>,
    script: Script,
    executions: Mutex<HashMap<String, Execution>>,
    seen: Mutex<Seen>,
}

fn athena_type(t: &DataType) -> &'static str {
    match t {
        DataType::Int8 | DataType::Int16 | DataType::Int32 => "integer",
        DataType::Int64 | DataType::UInt64 => "bigint",
        DataType::Float32 | DataType::Float64 => "double",
        DataType::Boolean => "boolean",
        DataType::Timestamp(..) => "timestamp",
        DataType::Date32 => "date",
        _ => "varchar",
    }
}

fn error(code: &str, message: &str) -> (u16, String) {
    (400, json!({"__type": code, "Message": message}).to_string())
}

impl FakeAthena {
    fn handle(&self, target: &str, body: &Value) -> (u16, String) {
        let op = target.trim_start_matches("AmazonAthena.");
        self.seen.lock().unwrap().calls.push(op.to_owned());
        let id_of = |b: &Value| {
            b["QueryExecutionId"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        };
        match op {
            "StartQueryExecution" => {
                if let Script::Refuse(code, message) = &self.script {
                    return error(code, message);
                }
                self.seen.lock().unwrap().started.push(body.clone());
                let mut executions = self.executions.lock().unwrap();
                let id = format!("a1b2c3d4-5678-90ab-cdef-{:012}", executions.len());
                let sql = body["QueryString"].as_str().unwrap_or_default().to_owned();
                executions.insert(
                    id.clone(),
                    Execution {
                        sql,
                        polls: 0,
                        stopped: false,
                    },
                );
                (200, json!({"QueryExecutionId": id}).to_string())
            }
            "GetQueryExecution" => {
                let id = id_of(body);
                let mut executions = self.executions.lock().unwrap();
                let Some(e) = executions.get_mut(&id) else {
                    return error("InvalidRequestException", "QueryExecution not found");
                };
                e.polls += 1;
                let state = match (&self.script, e.polls, e.stopped) {
                    (_, _, true) => "CANCELLED",
                    (_, 1, _) => "QUEUED",
                    (_, 2, _) | (Script::RunUntilStopped, _, _) => "RUNNING",
                    (Script::Fail(_), _, _) => "FAILED",
                    _ => "SUCCEEDED",
                };
                self.seen.lock().unwrap().states.push(state.to_owned());
                let mut status = json!({"State": state, "SubmissionDateTime": 1_795_046_400.0});
                if let (Script::Fail(reason), "FAILED") = (&self.script, state) {
                    status["StateChangeReason"] = json!(reason);
                    status["AthenaError"] = json!({"ErrorCategory": 2, "ErrorType": 1006, "Retryable": false, "ErrorMessage": reason});
                }
                let execution = json!({
                    "QueryExecutionId": id,
                    "Query": e.sql,
                    "StatementType": "DML",
                    "Status": status,
                    "Statistics": {"EngineExecutionTimeInMillis": 1200, "DataScannedInBytes": SCANNED},
                    "WorkGroup": "primary",
                });
                (200, json!({"QueryExecution": execution}).to_string())
            }
            "StopQueryExecution" => {
                let id = id_of(body);
                if let Some(e) = self.executions.lock().unwrap().get_mut(&id) {
                    e.stopped = true;
                }
                (200, "{}".to_owned())
            }
            "GetQueryResults" => {
                let id = id_of(body);
                let sql = match self.executions.lock().unwrap().get(&id) {
                    Some(e) => e.sql.clone(),
                    None => return error("InvalidRequestException", "QueryExecution not found"),
                };
                let Some((schema, batches)) = self.answers.get(&sql) else {
                    return error("InvalidRequestException", "no scripted answer for this SQL");
                };
                let start: usize = body["NextToken"].as_str().map_or(0, |t| t.parse().unwrap());
                if start > 0 {
                    self.seen.lock().unwrap().next_tokens += 1;
                }
                let max = body["MaxResults"].as_u64().unwrap_or(1000) as usize;
                (
                    200,
                    results_page(schema, batches, start, max.min(PAGE)).to_string(),
                )
            }
            other => error("UnknownOperationException", other),
        }
    }
}

/// The rows `[start, start + size)` of an answer as Athena pages them: the
/// column labels first on the first page, cells as Athena prints them.
fn results_page(schema: &SchemaRef, batches: &[RecordBatch], start: usize, size: usize) -> Value {
    let options = FormatOptions::default()
        .with_null("\u{0}")
        .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.3f"))
        .with_timestamp_tz_format(Some("%Y-%m-%d %H:%M:%S%.3f"));
    let mut rows: Vec<Value> = Vec::new();
    for batch in batches {
        let formatters: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
            .collect();
        for r in 0..batch.num_rows() {
            let data: Vec<Value> = formatters
                .iter()
                .map(|f| {
                    let text = f.value(r).to_string();
                    if text == "\u{0}" {
                        json!({})
                    } else {
                        json!({"VarCharValue": text})
                    }
                })
                .collect();
            rows.push(json!({"Data": data}));
        }
    }
    let total = rows.len();
    let mut page: Vec<Value> = rows.into_iter().skip(start).take(size).collect();
    if start == 0 {
        let labels: Vec<Value> = schema
            .fields()
            .iter()
            .map(|f| json!({"VarCharValue": f.name()}))
            .collect();
        page.insert(0, json!({"Data": labels}));
    }
    let columns: Vec<Value> = schema
        .fields()
        .iter()
        .map(|f| {
            json!({"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": f.name(),
                   "Label": f.name(), "Type": athena_type(f.data_type()), "Precision": 0, "Scale": 0,
                   "Nullable": "UNKNOWN", "CaseSensitive": athena_type(f.data_type()) == "varchar"})
        })
        .collect();
    let mut out = json!({"ResultSet": {"Rows": page, "ResultSetMetadata": {"ColumnInfo": columns}}, "UpdateCount": 0});
    if start + size < total {
        out["NextToken"] = json!((start + size).to_string());
    }
    out
}

fn serve(fake: Arc<FakeAthena>) -> JsonApiServer {
    JsonApiServer::start(Arc::new(move |target, body| fake.handle(target, body)))
}

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
        let fake = Arc::new(FakeAthena {
            answers: answers_by_sql,
            script: Script::Answer,
            executions: Mutex::default(),
            seen: Mutex::default(),
        });
        let server = serve(Arc::clone(&fake));
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

        let seen = fake.seen.lock().unwrap();
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
    let fake = Arc::new(FakeAthena {
        answers: HashMap::new(),
        script,
        executions: Mutex::default(),
        seen: Mutex::default(),
    });
    let server = serve(Arc::clone(&fake));
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
    assert!(fake.seen.lock().unwrap().started.is_empty());
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
    let fake = Arc::new(FakeAthena {
        answers: HashMap::new(),
        script: Script::RunUntilStopped,
        executions: Mutex::default(),
        seen: Mutex::default(),
    });
    let server = serve(Arc::clone(&fake));
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
    assert!(
        fake.seen
            .lock()
            .unwrap()
            .calls
            .iter()
            .any(|c| c == "StopQueryExecution")
    );
    assert!(
        matches!(&err, ecs_query_engine::Error::Athena(AthenaError::Cancelled { id, .. }) if *id == stopped),
        "{err:?}"
    );
}
