//! Errors users see: what went wrong, and what to do about it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
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

    #[error(
        "{0}\n  hint: the lake is read-only from here: use SELECT (and WITH); `ecs-query tables` lists the tables"
    )]
    NotReadOnly(String),

    #[error("cannot read the question: {0}")]
    Parse(#[from] crate::lang::ParseError),

    #[error("{0}")]
    Lower(#[from] crate::lang::lower::LowerError),

    #[error(
        "no task {0:?} in the lake\n  hint: pass a task id or ARN from `ecs-query \"stops by task\"` or the tasks view"
    )]
    NoSuchTask(String),

    #[error("{count} tasks start with {prefix:?} ({examples})\n  hint: give more of the task id")]
    AmbiguousTask {
        prefix: String,
        count: usize,
        examples: String,
    },

    #[error("query failed: {0}")]
    Query(#[from] datafusion::error::DataFusionError),

    #[error("{message}\n  hint: {hint}")]
    Usage { message: String, hint: &'static str },

    #[error("no table named {0:?}\n  hint: `ecs-query tables` lists the tables")]
    NoSuchTable(String),

    #[error("internal error: {0}\n  hint: please report it with the command that failed")]
    Internal(String),

    #[error("{0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),

    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),

    #[error(
        "{count} of the inputs could not be written to the lake (first error: {first})\n  hint: re-run the same command; writes are idempotent"
    )]
    WriteFailed { count: usize, first: String },
}

impl CliError {
    /// True when the error is a closed stdout (`ecs-query ... | head`): not an error.
    pub fn is_broken_pipe(&self) -> bool {
        match self {
            CliError::Output(e) => e.kind() == std::io::ErrorKind::BrokenPipe,
            CliError::Query(datafusion::error::DataFusionError::IoError(e)) => {
                e.kind() == std::io::ErrorKind::BrokenPipe
            }
            CliError::Query(datafusion::error::DataFusionError::ArrowError(e, _)) => {
                e.to_string().contains("Broken pipe")
            }
            _ => false,
        }
    }
}
