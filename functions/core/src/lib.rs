//! # ecs-lake: the pure core of the ECS post-mortem lake
//!
//! Everything here is plain Rust over bytes and Arrow: no AWS SDK, no Lambda
//! runtime, no network. The Lambdas (`functions/ingest-*`) and the query tool
//! (`query/`) both build on it, which is what keeps the lake consistent.
//!
//! Data flow of one batch:
//!
//! ```text
//! bytes ──events::Normalizer──> typed Arrow builders ──normalize::split_by_day──>
//!   sorted per-day TableParts ──parquet_io::encode──> Parquet ──LakeStore::put──> lake
//!                      └── anything unreadable ──> quarantine rows (raw bytes + reason)
//! ```
//!
//! * [`schema`] — every table's Arrow schema, declared once: the contract with `query/`.
//! * [`classify`] — stop cause and exit kind, one pure table-tested function.
//! * [`events`] — lenient serde models of ECS EventBridge events and their normalization.
//! * [`health`] — health samples polled from DescribeTasks.
//! * [`logs`] — CloudWatch Logs payloads: bounded decoding, Container Insights
//!   metrics, application log lines (level, crash signature), health samples.
//! * [`normalize`] — row bookkeeping, sorting and day partitioning.
//! * [`parquet_io`] — writer settings and encoding.
//! * [`lake`] — key layout and the [`lake::LakeStore`] seam.
//! * [`ingest`] — the pipeline with a per-input outcome (written, quarantined, failed).
//! * [`envelope`] — unwrapping SQS batches and backfill files into inputs.

pub mod arn;
pub mod classify;
pub mod compact;
pub mod envelope;
pub mod events;
pub mod health;
pub mod ingest;
pub mod lake;
pub mod lenient;
pub mod logs;
pub mod normalize;
pub mod parquet_io;
pub mod schema;

pub use ingest::{Input, InputKind, Outcome, Report, ingest, ingest_with};
pub use lake::{LakeStore, StoreError};
pub use normalize::Options;
