//! The engine's errors: what went wrong, as data. No advice for a terminal
//! here: the CLI adds its hints by kind ([`Error::kind`] and the variants),
//! a Lambda logs the error as it is.

use crate::lang::ParseError;
use crate::lang::lower::LowerError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a lake could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LakeErrorKind {
    /// Neither a directory nor `s3://bucket/prefix`.
    BadLocation,
    /// A local lake directory that does not exist or cannot be read.
    NotFound,
    /// No AWS credentials in the chain for an S3 lake.
    NoCredentials,
    /// The S3 store could not be configured (bucket, region, endpoint).
    BadS3Config,
    /// `DATAFUSION_*` settings that do not parse.
    BadSettings,
    /// A table or view failed to register: a bug, not the user's doing.
    Registration,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("lake {location}: {message}")]
    Lake {
        location: String,
        kind: LakeErrorKind,
        message: String,
    },

    /// A statement that would change something (DDL, DML, `SET`).
    #[error("{0}")]
    NotReadOnly(String),

    #[error("cannot read the question: {0}")]
    Parse(#[from] ParseError),

    #[error("{0}")]
    Lower(#[from] LowerError),

    #[error("no task {0:?} in the lake")]
    NoSuchTask(String),

    #[error("{count} tasks start with {prefix:?} ({examples})")]
    AmbiguousTask {
        prefix: String,
        count: usize,
        examples: String,
    },

    #[error("no table named {0:?}")]
    NoSuchTable(String),

    #[error("{0:?} is not a task definition revision (family:revision)")]
    NotARevision(String),

    #[error("the task definition of {0} is not in the lake")]
    NoTaskDefinition(String),

    #[error("query failed: {0}")]
    Query(datafusion::error::DataFusionError),

    /// A plan run on Athena (`--engine athena`) that Athena refused, failed
    /// or cancelled.
    #[error("{0}")]
    Athena(#[from] crate::athena::AthenaError),

    #[error("{0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),

    /// Writing a result (a report file) to the lake failed.
    #[error("writing {key}: {source}")]
    Write {
        key: String,
        source: ecs_lake::StoreError,
    },

    /// Reading an object the engine keeps in the lake (the watch's state) failed.
    #[error("reading {key}: {source}")]
    Read {
        key: String,
        source: ecs_lake::StoreError,
    },

    /// The watch's state is in the lake but is not its JSON.
    #[error(
        "the watch state {location}/{key} is not readable ({message}): delete it to start afresh (alerts still open are then sent again)"
    )]
    BadWatchState {
        location: String,
        key: String,
        message: String,
    },

    /// SNS refused or failed a message.
    #[error("publishing {what} to {topic}: {message}")]
    Publish {
        what: String,
        topic: String,
        message: String,
    },

    /// The watch's webhook (its secret, or the post) failed.
    #[error("webhook: {what}: {message}")]
    Webhook { what: String, message: String },

    #[error("internal error: {0}")]
    Internal(String),
}

impl From<datafusion::error::DataFusionError> for Error {
    /// Athena's own errors come back through DataFusion's `collect`
    /// signature: they are told apart again here.
    fn from(e: datafusion::error::DataFusionError) -> Self {
        match e {
            datafusion::error::DataFusionError::External(inner) => match inner
                .downcast::<crate::athena::AthenaError>(
            ) {
                Ok(athena) => Error::Athena(*athena),
                Err(other) => match other.downcast::<Error>() {
                    Ok(ours) => *ours,
                    Err(other) => Error::Query(datafusion::error::DataFusionError::External(other)),
                },
            },
            other => Error::Query(other),
        }
    }
}

impl Error {
    pub(crate) fn lake(location: &str, kind: LakeErrorKind, message: impl Into<String>) -> Error {
        Error::Lake {
            location: location.to_owned(),
            kind,
            message: message.into(),
        }
    }

    /// True when the error is a closed output (`ecs-query ... | head`)
    /// seen through DataFusion while it streamed results.
    pub fn is_broken_pipe(&self) -> bool {
        match self {
            Error::Query(datafusion::error::DataFusionError::IoError(e)) => {
                e.kind() == std::io::ErrorKind::BrokenPipe
            }
            Error::Query(datafusion::error::DataFusionError::ArrowError(e, _)) => {
                e.to_string().contains("Broken pipe")
            }
            _ => false,
        }
    }
}
