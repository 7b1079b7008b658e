//! Plans answered by Amazon Athena over the same lake (`--engine athena`).
//!
//! The engine builds the same DataFusion plans whichever engine answers;
//! with an [`Athena`] in the session ([`crate::Lake::use_athena`]),
//! [`crate::collect`] prints each plan in Athena's dialect
//! ([`crate::dialect`]), runs it (`StartQueryExecution` in the workgroup,
//! `GetQueryExecution` polled with backoff, `GetQueryResults` page by page)
//! and turns Athena's text cells into Arrow arrays of the plan's own column
//! types, so every renderer, finding and chart works unchanged.
//!
//! Athena bills by bytes scanned; [`Athena::usage`] sums what each query
//! scanned, for the caller to say (the CLI prints it on stderr).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_athena::error::ProvideErrorMetadata;
use aws_sdk_athena::types::{
    QueryExecutionContext, QueryExecutionState, ResultConfiguration, ResultSet, Row,
};
use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray, new_null_array};
use datafusion::arrow::compute::{CastOptions, cast_with_options};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::util::display::FormatOptions;
use datafusion::common::Column;
use datafusion::prelude::{DataFrame, Expr};

/// Where and how Athena runs the queries.
#[derive(Debug, Clone, Default)]
pub struct AthenaSettings {
    /// The workgroup (`primary` unless set).
    pub workgroup: String,
    /// The Glue database holding the lake's tables (the stack's
    /// `GlueDatabaseName` output).
    pub database: String,
    /// Where Athena writes results (`s3://bucket/prefix/`); `None` leaves it
    /// to the workgroup's own setting.
    pub output_location: Option<String>,
}

/// What Athena did, summed over the queries of one process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AthenaUsage {
    pub queries: u64,
    pub bytes_scanned: u64,
    /// What Athena bills: each succeeded or cancelled query's bytes, at
    /// least 10 MB a query (failed queries are not billed).
    pub bytes_billed: u64,
}

/// Athena's minimum bill per query.
const MIN_BILLED_BYTES: u64 = 10 * 1_000_000;

/// How long a query may stay queued or running before it is stopped.
const DEADLINE: Duration = Duration::from_secs(30 * 60);

impl AthenaUsage {
    /// At Athena's price in most regions: 5 USD per TB billed.
    pub fn cost_usd(&self) -> f64 {
        self.bytes_billed as f64 / 1e12 * 5.0
    }
}

/// The plan as Athena runs it, and the columns to read its answer by.
/// Athena names an unaliased expression `_col0`, lower-cases names, and a
/// plan may have two columns of one name (`t.task_id`, `e.task_id`): unless
/// every column already has a distinct plain name, each is sent as `_c0`,
/// `_c1`, … and read back by that name (the caller keeps the plan's names).
pub fn query_of(df: &DataFrame) -> crate::Result<(String, SchemaRef)> {
    let plain = |n: &str| {
        n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    let names: Vec<&str> = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    let distinct = names.iter().collect::<std::collections::HashSet<_>>().len() == names.len();
    let df = if distinct && names.iter().all(|n| plain(n)) {
        df.clone()
    } else {
        let renamed = df
            .schema()
            .iter()
            .enumerate()
            .map(|(i, (qualifier, field))| {
                Expr::Column(Column::new(qualifier.cloned(), field.name())).alias(format!("_c{i}"))
            })
            .collect::<Vec<_>>();
        df.clone().select(renamed)?
    };
    let sql = crate::dialect::to_sql(&df, crate::dialect::SqlDialect::Athena)?;
    Ok((sql, Arc::new(df.schema().as_arrow().clone())))
}

/// An Athena client with its settings, in a lake's session.
#[derive(Debug)]
pub struct Athena {
    client: aws_sdk_athena::Client,
    settings: AthenaSettings,
    running: Mutex<Option<String>>,
    queries: AtomicU64,
    scanned: AtomicU64,
    billed: AtomicU64,
    first_poll: Duration,
}

/// What went wrong with a query on Athena.
#[derive(Debug, thiserror::Error)]
pub enum AthenaError {
    #[error("Athena refused the query ({code}): {message}")]
    Refused { code: String, message: String },
    #[error("Athena query {id} failed: {message}")]
    Failed { id: String, message: String },
    #[error("Athena query {id} was cancelled{}", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    Cancelled { id: String, reason: Option<String> },
    #[error("Athena {call} ({code}): {message}")]
    Call {
        call: &'static str,
        code: String,
        message: String,
    },
    #[error("Athena query {id} answered what the plan cannot read: {message}")]
    Answer { id: String, message: String },
}

impl AthenaError {
    /// The AWS error code, when Athena gave one (`AccessDeniedException`,
    /// `InvalidRequestException`).
    pub fn code(&self) -> Option<&str> {
        match self {
            AthenaError::Refused { code, .. } | AthenaError::Call { code, .. } => Some(code),
            _ => None,
        }
    }
}

fn call_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    call: &'static str,
    e: &aws_sdk_athena::error::SdkError<E>,
) -> AthenaError {
    let service = e.as_service_error();
    AthenaError::Call {
        call,
        code: service
            .and_then(|s| s.code())
            .unwrap_or("no answer")
            .to_owned(),
        message: service
            .and_then(|s| s.message())
            .map(str::to_owned)
            .unwrap_or_else(|| aws_sdk_athena::error::DisplayErrorContext(e).to_string()),
    }
}

impl Athena {
    /// A client from an AWS SDK configuration (credentials, region, and an
    /// endpoint override when one is set).
    pub fn from_sdk(sdk: &aws_config::SdkConfig, settings: AthenaSettings) -> Self {
        Athena::new(aws_sdk_athena::Client::new(sdk), settings)
    }

    /// A client with the lake configuration's profile and region, from the
    /// standard chain. Endpoints configured for every service
    /// (`AWS_ENDPOINT_URL`, a profile's `endpoint_url`: the lake's, for an
    /// S3-compatible store) are not Athena's; `AWS_ENDPOINT_URL_ATHENA` is.
    pub async fn connect(config: &crate::LakeConfig, settings: AthenaSettings) -> Self {
        let sdk = crate::LakeConfig {
            endpoint_url: None,
            ..config.clone()
        }
        .sdk_config()
        .await;
        let mut athena = aws_sdk_athena::config::Builder::from(&sdk);
        athena.set_endpoint_url(
            std::env::var("AWS_ENDPOINT_URL_ATHENA")
                .ok()
                .filter(|e| !e.is_empty()),
        );
        Athena::new(aws_sdk_athena::Client::from_conf(athena.build()), settings)
    }

    pub fn new(client: aws_sdk_athena::Client, settings: AthenaSettings) -> Self {
        Athena {
            client,
            settings,
            running: Mutex::default(),
            queries: AtomicU64::new(0),
            scanned: AtomicU64::new(0),
            billed: AtomicU64::new(0),
            first_poll: Duration::from_millis(200),
        }
    }

    /// The first wait between polls (doubling to 2 s); tests shorten it.
    pub fn with_first_poll(mut self, wait: Duration) -> Self {
        self.first_poll = wait;
        self
    }

    /// The queries run and bytes scanned so far.
    pub fn usage(&self) -> AthenaUsage {
        AthenaUsage {
            queries: self.queries.load(Ordering::Relaxed),
            bytes_scanned: self.scanned.load(Ordering::Relaxed),
            bytes_billed: self.billed.load(Ordering::Relaxed),
        }
    }

    /// Stops the query running now, if any (Ctrl-C): Athena would finish it
    /// and bill it otherwise.
    pub async fn stop(&self) -> Result<Option<String>, AthenaError> {
        let id = self.running.lock().ok().and_then(|mut r| r.take());
        let Some(id) = id else { return Ok(None) };
        self.client
            .stop_query_execution()
            .query_execution_id(&id)
            .send()
            .await
            .map_err(|e| call_error("StopQueryExecution", &e))?;
        Ok(Some(id))
    }

    /// Runs one query and reads its answer as `schema` says (columns by name).
    pub async fn run(&self, sql: &str, schema: &SchemaRef) -> Result<RecordBatch, AthenaError> {
        let mut start = self
            .client
            .start_query_execution()
            .query_string(sql.trim_end().trim_end_matches(';'))
            .work_group(&self.settings.workgroup)
            .query_execution_context(
                QueryExecutionContext::builder()
                    .database(&self.settings.database)
                    .build(),
            );
        if let Some(output) = &self.settings.output_location {
            start = start.result_configuration(
                ResultConfiguration::builder()
                    .output_location(output)
                    .build(),
            );
        }
        let id = match start.send().await {
            Ok(out) => out.query_execution_id.unwrap_or_default(),
            Err(e) => {
                return Err(match call_error("StartQueryExecution", &e) {
                    AthenaError::Call { code, message, .. } if code != "no answer" => {
                        AthenaError::Refused { code, message }
                    }
                    other => other,
                });
            }
        };
        if let Ok(mut running) = self.running.lock() {
            *running = Some(id.clone());
        }
        let done = self.wait(&id).await;
        if let Ok(mut running) = self.running.lock() {
            running.take();
        }
        done?;
        self.read(&id, schema).await
    }

    /// Polls until the query ends: SUCCEEDED, or the error for FAILED and
    /// CANCELLED.
    async fn wait(&self, id: &str) -> Result<(), AthenaError> {
        let mut pause = self.first_poll;
        let started = std::time::Instant::now();
        let mut without_state = 0;
        loop {
            let out = self
                .client
                .get_query_execution()
                .query_execution_id(id)
                .send()
                .await
                .map_err(|e| call_error("GetQueryExecution", &e))?;
            let execution = out.query_execution;
            let status = execution.as_ref().and_then(|e| e.status.as_ref());
            let reason = status.and_then(|s| {
                s.state_change_reason.clone().or_else(|| {
                    s.athena_error
                        .as_ref()
                        .and_then(|e| e.error_message.clone())
                })
            });
            let scanned = execution
                .as_ref()
                .and_then(|e| e.statistics.as_ref())
                .and_then(|s| s.data_scanned_in_bytes)
                .unwrap_or(0)
                .max(0) as u64;
            match status.and_then(|s| s.state.clone()) {
                Some(QueryExecutionState::Succeeded) => {
                    self.queries.fetch_add(1, Ordering::Relaxed);
                    self.scanned.fetch_add(scanned, Ordering::Relaxed);
                    self.billed
                        .fetch_add(scanned.max(MIN_BILLED_BYTES), Ordering::Relaxed);
                    tracing::debug!(query = id, scanned, "athena query succeeded");
                    return Ok(());
                }
                Some(QueryExecutionState::Failed) => {
                    self.queries.fetch_add(1, Ordering::Relaxed);
                    return Err(AthenaError::Failed {
                        id: id.to_owned(),
                        message: reason.unwrap_or_else(|| "no reason given".to_owned()),
                    });
                }
                Some(QueryExecutionState::Cancelled) => {
                    // Billed for what it scanned before it stopped.
                    self.scanned.fetch_add(scanned, Ordering::Relaxed);
                    self.billed
                        .fetch_add(scanned.max(MIN_BILLED_BYTES), Ordering::Relaxed);
                    return Err(AthenaError::Cancelled {
                        id: id.to_owned(),
                        reason,
                    });
                }
                state => {
                    without_state = if state.is_none() {
                        without_state + 1
                    } else {
                        0
                    };
                    if without_state >= 3 || started.elapsed() > DEADLINE {
                        let why = if without_state >= 3 {
                            "Athena gave no state for it three times".to_owned()
                        } else {
                            format!(
                                "still {state:?} after {} min; stopped",
                                DEADLINE.as_secs() / 60
                            )
                        };
                        let _ = self
                            .client
                            .stop_query_execution()
                            .query_execution_id(id)
                            .send()
                            .await;
                        return Err(AthenaError::Failed {
                            id: id.to_owned(),
                            message: why,
                        });
                    }
                    if started.elapsed() > Duration::from_secs(10) && pause < Duration::from_secs(2)
                    {
                        tracing::info!(query = id, "athena query still running");
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// Every page of the answer, as one batch of the plan's columns.
    async fn read(&self, id: &str, schema: &SchemaRef) -> Result<RecordBatch, AthenaError> {
        let answer_error = |message: String| AthenaError::Answer {
            id: id.to_owned(),
            message,
        };
        let mut names: Option<Vec<String>> = None;
        let mut rows: Vec<Row> = Vec::new();
        let mut pages = self
            .client
            .get_query_results()
            .query_execution_id(id)
            .max_results(1000)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| call_error("GetQueryResults", &e))?;
            let Some(set): Option<ResultSet> = page.result_set else {
                continue;
            };
            if names.is_none() {
                names = Some(
                    set.result_set_metadata
                        .and_then(|m| m.column_info)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|c| c.name)
                        .collect(),
                );
            }
            rows.extend(set.rows.unwrap_or_default());
        }
        let names = names.unwrap_or_default();
        // A SELECT's first row is its column labels.
        let cells = |row: &Row| -> Vec<Option<String>> {
            row.data
                .as_deref()
                .unwrap_or_default()
                .iter()
                .map(|d| d.var_char_value.clone())
                .collect()
        };
        let labels: Vec<Option<String>> = names.iter().cloned().map(Some).collect();
        let body = match rows.first() {
            Some(first) if cells(first) == labels => &rows[1..],
            _ => &rows[..],
        };
        let cast = CastOptions {
            safe: false,
            format_options: FormatOptions::default(),
        };
        let columns = schema
            .fields()
            .iter()
            .map(|field| {
                let Some(at) = names.iter().position(|n| n == field.name()) else {
                    return Err(answer_error(format!(
                        "no column {} (Athena answered {})",
                        field.name(),
                        names.join(", ")
                    )));
                };
                if field.data_type() == &DataType::Null {
                    return Ok(new_null_array(&DataType::Null, body.len()));
                }
                let text: StringArray = body
                    .iter()
                    .map(|row| {
                        row.data
                            .as_deref()
                            .and_then(|d| d.get(at))
                            .and_then(|d| d.var_char_value.as_deref())
                    })
                    .collect();
                let text: ArrayRef = Arc::new(text);
                cast_with_options(&text, field.data_type(), &cast).map_err(|e| {
                    answer_error(format!(
                        "column {} as {}: {e}",
                        field.name(),
                        field.data_type()
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        RecordBatch::try_new(Arc::clone(schema), columns).map_err(|e| answer_error(e.to_string()))
    }
}
