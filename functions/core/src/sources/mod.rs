//! The sources: one module per kind of input, each with a pure entry point
//! that takes the input's bytes (and what the input kind says about them)
//! and appends rows to [`crate::rows::Rows`], or says why it cannot.
//!
//! A source never sees the pipeline: it does not know about other inputs,
//! days, files or the store. An `Err` means nothing of the input was
//! appended and the pipeline quarantines it whole; records that fail on
//! their own inside a good input (a log event) are quarantined by the
//! source with [`crate::rows::Rows::reject_part`].
//!
//! * [`events`] — EventBridge ECS events.
//! * [`logs`] — CloudWatch Logs payloads and export lines.
//! * [`health`] — health samples polled from DescribeTasks.
//! * [`config`] — the account's configuration as the ECS API and the AWS CLI
//!   print it (task definitions, services, target groups, deployment history).
//! * [`task_objects`] — task objects as `describe-tasks`, `run-task`,
//!   `stop-task` and Step Functions print them, read as task state changes.
//! * [`cloudtrail`] — the ECS agent's `SubmitTaskStateChange` and
//!   `SubmitContainerStateChange` CloudTrail records, read as task state changes.

pub mod cloudtrail;
pub mod config;
pub mod events;
pub mod health;
pub mod logs;
pub mod task_objects;
