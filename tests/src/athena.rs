//! A loopback Amazon Athena endpoint for the real aws-sdk-athena client
//! (`query/tests/athena_engine.rs`, the report Lambda's tests): it answers as
//! the Athena API does (the JSON shapes of the AWS CLI reference's
//! `get-query-execution` and `get-query-results` examples: a query QUEUED,
//! then RUNNING, then SUCCEEDED with its bytes scanned; results paged with
//! NextToken, the first row the column labels, every cell text, NULL a cell
//! without VarCharValue).
//!
//! It computes nothing: the answer to each SQL text is given to it (what
//! DataFusion answered for the same plan, noted with the engine's
//! `Lake::log_queries`), printed as Athena prints it. Whether Athena would
//! compute that answer from the SQL is `query/tests/athena_sql.rs`'s
//! question (Trino's grammar, DuckDB's answers).

#![allow(clippy::unwrap_used)] // test support: a panic is a failed test

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, SchemaRef};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use serde_json::{Value, json};

use crate::JsonApiServer;

/// The bytes every query reports scanned.
pub const SCANNED: i64 = 12_345_678;
/// Rows per results page (Athena's MaxResults is at most 1000; a small page
/// makes the reports' answers span several).
pub const PAGE: usize = 40;

/// An answer: the columns as sent (`athena::query_of`) and the rows.
pub type Answer = (SchemaRef, Vec<RecordBatch>);

/// How the endpoint treats every query.
#[derive(Clone)]
pub enum Script {
    /// QUEUED, RUNNING, SUCCEEDED, then the given answer page by page.
    Answer,
    /// QUEUED, RUNNING, FAILED with this reason.
    Fail(&'static str),
    /// StartQueryExecution refused with this error code and message.
    Refuse(&'static str, &'static str),
    /// RUNNING until StopQueryExecution, then CANCELLED.
    RunUntilStopped,
}

struct Execution {
    sql: String,
    workgroup: String,
    polls: u32,
    stopped: bool,
}

/// What the endpoint was asked.
#[derive(Default)]
pub struct Seen {
    /// Every operation, in order (`StartQueryExecution`, …).
    pub calls: Vec<String>,
    /// Every state a `GetQueryExecution` answered.
    pub states: Vec<String>,
    /// `GetQueryResults` calls for a page after the first.
    pub next_tokens: usize,
    /// The bodies of the accepted `StartQueryExecution` calls.
    pub started: Vec<Value>,
}

/// The endpoint's state: the answers by SQL text, the script, what it saw.
pub struct FakeAthena {
    answers: HashMap<String, Answer>,
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
    /// An endpoint answering `answers` (by SQL text, without its `;`) as
    /// `script` says.
    pub fn new(answers: HashMap<String, Answer>, script: Script) -> Arc<Self> {
        Arc::new(Self {
            answers,
            script,
            executions: Mutex::default(),
            seen: Mutex::default(),
        })
    }

    /// Serves it on loopback (`JsonApiServer::sdk_config` for the client).
    pub fn serve(self: &Arc<Self>) -> JsonApiServer {
        let fake = Arc::clone(self);
        JsonApiServer::start(Arc::new(move |target, body| fake.handle(target, body)))
    }

    /// What it was asked so far.
    pub fn seen(&self) -> MutexGuard<'_, Seen> {
        self.seen.lock().unwrap()
    }

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
                        workgroup: body["WorkGroup"].as_str().unwrap_or("primary").to_owned(),
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
                    "WorkGroup": e.workgroup,
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
