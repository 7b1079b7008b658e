//! # ecs-query-engine: the read side of the ECS post-mortem lake
//!
//! Everything that answers a question about the lake, as a library with no
//! command line: the `ecs-query` binary (clap, rendering, hints) and the
//! `report` Lambda both build on it, and neither builds on the other.
//!
//! ```text
//!  LakeConfig ──Lake::open──> Lake (DataFusion session: tables + views)
//!                               │
//!   "exit 137 by revision"      │   summary::{tasks, deployments}(Scope)
//!    lang::parse ─> lang::lower ┴─> DataFrame ─> collect, or ask::to_sql
//!    timeline::timeline ────────────> DataFrame (one task, time order)
//!    diagnose::evidence::gather ────> ServiceEvidence ─findings─> Diagnosis
//!    report::build ─────────────────> Report ─> Markdown, HTML, JSON
//! ```
//!
//! * [`lake`] — opening a lake (local directory, or S3 through object_store
//!   with credentials from aws-config); the declared schemas registered as
//!   Hive-partitioned tables; [`lake::Lake::store`] to write back.
//! * [`listing`] — a lake table as DataFusion reads it, listing only the
//!   days of the question's window (and caching the listings a while);
//!   [`collect`] runs a plan, once more if compaction replaced a listed file.
//! * [`reader`] — how one Parquet file is read (a small one in one request).
//! * [`views`] and [`summary`] — the derived views; the per-task and
//!   per-deployment summaries as plans built for a window ([`summary::Scope`]).
//! * [`lang`] — the query language (the `ecs-query-lang` crate) and its
//!   lowering to DataFusion plans; [`ask`] plans a question or read-only SQL.
//! * [`dialect`] — a plan as SQL for Athena (Trino) or DuckDB; [`athena`] —
//!   the same plans answered by Amazon Athena.
//! * [`timeline`] — one task in time order.
//! * [`diagnose`] — evidence per service and revision, findings with
//!   recommendations, and their rendering.
//! * [`report`] — the weekly reliability report (period, model, Markdown,
//!   self-contained HTML, JSON).
//! * [`postmortem`] — the post-mortem draft of one service's incident
//!   (Markdown, self-contained HTML, JSON).
//! * [`charts`] — stops per hour with deployments, memory over uptime,
//!   time to healthy: data and self-contained SVG, for the post-mortem and
//!   the report.
//! * [`watch`] — the deployment watch: what is new or worse since the last
//!   look, as messages for email and chat, and what was sent.
//! * [`error`] — what went wrong, without terminal advice: callers add their own.

pub mod ask;
pub mod athena;
pub mod charts;
pub mod config;
pub mod diagnose;
pub mod dialect;
pub mod error;
pub mod lake;
pub mod lang;
pub mod listing;
pub mod postmortem;
pub mod reader;
pub mod report;
pub mod summary;
pub mod timeline;
pub mod views;
pub mod watch;

pub use error::{Error, LakeErrorKind, Result};
pub use lake::{Lake, LakeConfig};
pub use listing::collect;
