//! Errors users see: what went wrong, and what to do about it. The engine's
//! errors say what went wrong; the hints for a terminal are added here, by
//! the error's kind.

use std::path::PathBuf;

use ecs_query_engine::{Error as EngineError, LakeErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{}", with_hint(.0))]
    Engine(#[from] EngineError),

    #[error("cannot read {path}: {source}\n  hint: check the path and that the file is readable")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("lake {location}: {message}\n  hint: {hint}")]
    Lake {
        location: String,
        message: String,
        hint: &'static str,
    },

    #[error("{message}\n  hint: {hint}")]
    Usage { message: String, hint: &'static str },

    #[error("internal error: {0}\n  hint: please report it with the command that failed")]
    Internal(String),

    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),

    #[error(
        "{count} of the inputs could not be written to the lake (first error: {first})\n  hint: re-run the same command; writes are idempotent"
    )]
    WriteFailed { count: usize, first: String },

    #[error(
        "{count} AWS call(s) or write(s) failed; the rest was read (first: {first})\n  hint: {hint}"
    )]
    Incomplete {
        count: usize,
        first: String,
        hint: &'static str,
    },
}

impl From<ecs_query_engine::lang::ParseError> for CliError {
    fn from(e: ecs_query_engine::lang::ParseError) -> Self {
        CliError::Engine(e.into())
    }
}

impl From<datafusion::error::DataFusionError> for CliError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        CliError::Engine(e.into())
    }
}

impl From<datafusion::arrow::error::ArrowError> for CliError {
    fn from(e: datafusion::arrow::error::ArrowError) -> Self {
        CliError::Engine(e.into())
    }
}

/// What a user can do about an engine error, if there is advice to give.
fn hint(e: &EngineError) -> Option<&'static str> {
    Some(match e {
        EngineError::Lake { kind, .. } => match kind {
            LakeErrorKind::BadLocation => "use a directory or s3://bucket/prefix",
            LakeErrorKind::NotFound => {
                "build a lake with `ecs-query ingest --lake DIR FILE...`, or pass --lake / ECS_LAKE"
            }
            LakeErrorKind::NoCredentials => {
                "configure credentials (aws configure, aws sso login, AWS_PROFILE, or env vars)"
            }
            LakeErrorKind::BadS3Config => "check the bucket name and region",
            LakeErrorKind::BadSettings => "check the DATAFUSION_* variables",
            LakeErrorKind::Registration => "this is a bug: please report it",
        },
        EngineError::NotReadOnly(_) => {
            "the lake is read-only from here: use SELECT (and WITH); `ecs-query tables` lists the tables"
        }
        EngineError::NoSuchTask(_) => {
            "pass a task id or ARN from `ecs-query \"stops by task\"` or the tasks view"
        }
        EngineError::AmbiguousTask { .. } => "give more of the task id",
        EngineError::NoSuchTable(_) => "`ecs-query tables` lists the tables",
        EngineError::NotARevision(_) => "name revisions as family:revision, e.g. api:41 api:42",
        EngineError::NoTaskDefinition(_) => {
            "add it from the AWS CLI: aws ecs describe-task-definition --task-definition <family:revision> > td.json && ecs-query ingest td.json"
        }
        EngineError::Write { .. } => "check the lake location and that you may write to it",
        EngineError::Read { .. } => "check the lake location and that you may read it",
        EngineError::BadWatchState { .. } => {
            "or pass another --state name to keep this one for inspection"
        }
        EngineError::Webhook { .. } => {
            "check the secret (the webhook URL, or {\"url\": ...}), that your credentials may secretsmanager:GetSecretValue it, and that the webhook accepts {\"text\": ...}"
        }
        EngineError::Publish { .. } => {
            "check the topic ARN, the region (--region) and that your credentials may sns:Publish to it"
        }
        EngineError::Internal(_) => "please report it with the command that failed",
        EngineError::Athena(a) => athena_hint(a),
        // The language's errors carry their own hints; DataFusion's and
        // Arrow's say enough on their own.
        EngineError::Parse(_)
        | EngineError::Lower(_)
        | EngineError::Query(_)
        | EngineError::Arrow(_) => return None,
    })
}

/// What to set when Athena refuses, fails or is denied.
fn athena_hint(e: &ecs_query_engine::athena::AthenaError) -> &'static str {
    use ecs_query_engine::athena::AthenaError as A;
    match e {
        _ if e.code() == Some("AccessDeniedException") => {
            "your credentials may not use Athena here: they need athena:StartQueryExecution, GetQueryExecution, GetQueryResults and StopQueryExecution on the workgroup, glue:GetDatabase and glue:GetTable on the database, s3:GetObject/ListBucket on the lake and s3:PutObject/GetObject/GetBucketLocation on the results location"
        }
        A::Refused { message, .. } if message.to_ascii_lowercase().contains("output location") => {
            "the workgroup has no query result location: pass --athena-output s3://bucket/prefix/ or set one on the workgroup"
        }
        A::Refused { .. } | A::Call { .. } => {
            "check --athena-workgroup, --athena-database (the stack's GlueDatabaseName output) and --region"
        }
        A::Failed { .. } => {
            "Athena's message above says why; `--show-sql --dialect athena` prints the query to try in the Athena console"
        }
        A::Cancelled { .. } => {
            "the query was stopped (Ctrl-C, the console, or the workgroup's limits)"
        }
        A::Answer { .. } => {
            "a column Athena answered cannot be read back (arrays, maps and intervals are not read): select plain columns, or report it with the question"
        }
    }
}

fn with_hint(e: &EngineError) -> String {
    match hint(e) {
        Some(h) => format!("{e}\n  hint: {h}"),
        None => e.to_string(),
    }
}

impl CliError {
    /// True when the error is a closed stdout (`ecs-query ... | head`): not an error.
    pub fn is_broken_pipe(&self) -> bool {
        match self {
            CliError::Output(e) => e.kind() == std::io::ErrorKind::BrokenPipe,
            CliError::Engine(e) => e.is_broken_pipe(),
            _ => false,
        }
    }
}
