//! # ecs-lake: the pure core of the ECS post-mortem lake
//!
//! Everything here is plain Rust over bytes and Arrow: no AWS SDK, no Lambda
//! runtime, no network. The Lambdas (`functions/ingest-*`) and the query tool
//! (`query/`) both build on it, which is what keeps the lake consistent.
//!
//! Ingest is a one-way pipeline; each layer imports only the layers above it:
//!
//! ```text
//!  input, time, schema ...... types: inputs and rejections, UTC micros and days, tables
//!  rows ..................... each table's typed Arrow builder + the input of every row
//!  sources::{events, logs, health}
//!     bytes ──append──> &mut Rows     (pure: no pipeline, no store)
//!  normalize ................ Normalizer: dispatch on InputKind, then sort and cut per day
//!  ingest ................... encode (parquet_io), key (lake), put, settle each input
//!                               └── anything unreadable ──> quarantine rows (raw bytes + reason)
//! ```
//!
//! * [`input`] — [`Input`], [`InputKind`], [`Options`], and [`input::RowError`], why an input is quarantined.
//! * [`time`] — [`time::Micros`], timestamp parsing, partition days.
//! * [`schema`] — every table's Arrow schema, declared once: the contract with `query/`.
//! * [`rows`] — the rows of one batch, appended by the sources; [`rows::LogCounts`].
//! * [`sources`] — one module per kind of input, each a pure entry point.
//! * [`classify`] — stop cause and exit kind, one pure table-tested function.
//! * [`redact`] — secrets the lake never keeps (RunTask environment, log messages).
//! * [`lenient`] — serde readers for the number shapes ECS sends.
//! * [`normalize`] — the normalizer and the day split.
//! * [`parquet_io`] — writer settings and encoding.
//! * [`lake`] — key layout and the store seams [`LakeStore`] and [`lake::LakeFiles`].
//! * [`ingest`] — the pipeline with a per-input outcome (written, quarantined, failed).
//! * [`envelope`] — unwrapping SQS batches and backfill files into inputs.
//! * [`compact`] — merging a day's small files, without duplicates: the one loop.

pub mod arn;
pub mod classify;
pub mod compact;
pub mod derived;
pub mod envelope;
pub mod ingest;
pub mod input;
pub mod lake;
pub mod lenient;
pub mod normalize;
pub mod parquet_io;
pub mod redact;
pub mod rows;
pub mod schema;
pub mod sources;
pub mod time;

pub use ingest::{Outcome, Report, ingest, ingest_with};
pub use input::{Input, InputKind, Options};
pub use lake::{LakeStore, StoreError};
