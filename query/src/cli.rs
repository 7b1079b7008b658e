//! Command-line arguments (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Query the ECS post-mortem lake: what stopped, why, on which revision and deployment.
#[derive(Debug, Parser)]
#[command(name = "ecs-query", version)]
pub struct Cli {
    #[command(flatten)]
    pub lake: LakeArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Where the lake is, and how to reach it.
#[derive(Debug, Clone, Args)]
pub struct LakeArgs {
    /// The lake: a directory, or s3://bucket/prefix.
    #[arg(long, env = "ECS_LAKE", default_value = "./ecs-lake", global = true)]
    pub lake: String,

    /// AWS profile for S3 lakes (default: the standard credential chain).
    #[arg(long, global = true)]
    pub profile: Option<String>,

    /// AWS region for S3 lakes (default: auto-detected).
    #[arg(long, global = true)]
    pub region: Option<String>,

    /// S3 endpoint override, for S3-compatible stores (also AWS_ENDPOINT_URL).
    #[arg(long, env = "AWS_ENDPOINT_URL", global = true)]
    pub endpoint_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Backfill the lake from files of ECS events and CloudWatch Logs.
    ///
    /// A file holds ECS events (one EventBridge event, a JSON array, JSON lines,
    /// or an SQS event), CloudWatch Logs payloads (a subscription event
    /// {"awslogs":{"data":...}}, a Kinesis or Firehose event, a decoded payload,
    /// or JSON lines of them), or a CloudWatch Logs export (text lines
    /// "<timestamp> <message>"; needs --log-group). gzip is detected. Input that
    /// cannot be normalized is quarantined under _quarantine/ with the reason;
    /// the exit code is 2 only when a file or the lake cannot be used.
    Ingest(IngestArgs),

    /// Build a demo lake from the fleet simulator and show what happened.
    ///
    /// Simulates a Node.js API service whose new revision leaks memory until
    /// its container is OOM-killed (exit 137) and fails health checks because
    /// the start period is too short, writes the exact AWS payloads through the
    /// same normalization as the Lambdas into --lake, then prints the first
    /// queries of a post-mortem. No AWS account needed.
    Demo(DemoArgs),

    /// Run read-only SQL over the lake's tables (see `tables`).
    Sql(SqlArgs),

    /// List the lake's tables.
    Tables,

    /// Show the columns of one table, or of all.
    Schema {
        /// Table name (default: all tables).
        table: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files to ingest (.json, .jsonl, export text, optionally .gz).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,

    /// Log group of CloudWatch Logs export files (exports do not record it).
    #[arg(long)]
    pub log_group: Option<String>,

    /// Log stream of export files (default: from the path: `<prefix>/<container>/<task-id>/000000.gz`
    /// as the export lays out awslogs streams, else the file's directory name).
    #[arg(long)]
    pub log_stream: Option<String>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Hours of fleet activity to simulate.
    #[arg(long, default_value_t = 72.0)]
    pub hours: f64,

    /// Simulator seed: the same seed gives the same lake.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// What to simulate.
    #[arg(long, value_enum, default_value_t = DemoPreset::NodeOom)]
    pub preset: DemoPreset,
}

/// The simulator's presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DemoPreset {
    /// A Node.js API whose new revision leaks into OOM kills and fails health checks.
    NodeOom,
    /// node-oom plus a worker that ignores SIGTERM (137 after the stop timeout).
    Fleet,
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// The query, e.g. "SELECT stop_cause, count(*) FROM task_events GROUP BY 1".
    pub query: String,

    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned table.
    Table,
    /// CSV with a header row.
    Csv,
    /// One JSON object per row, as a JSON array.
    Json,
}
