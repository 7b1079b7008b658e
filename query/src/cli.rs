//! Command-line arguments (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Query the ECS post-mortem lake: what stopped, why, on which revision and deployment.
///
/// Ask in the query language, e.g. `ecs-query "exit 137 by revision last 7d"`:
///
///   METRIC [by DIM, ...] [last 7d | since DATE [until DATE]] [where DIM=VALUE ...] [top N]
///
/// Metrics: exit CODE, exits, stops, oom, heap oom, restarts, unhealthy, time to healthy,
/// memory peak, cpu peak, deployments, logs "TEXT". Dimensions: revision, family,
/// service, cluster, deployment, container, cause, exit kind, exit code, day, hour,
/// az, launch type, image, task (and signature, level for logs; outcome for
/// deployments). Also: `top 10 tasks by memory peak last 24h`, `oom for api`.
#[derive(Debug, Parser)]
#[command(name = "ecs-query", version)]
pub struct Cli {
    #[command(flatten)]
    pub lake: LakeArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(subcommand)]
    pub command: Option<Command>,

    /// A question in the query language (quote it as one argument).
    pub query: Vec<String>,
}

/// How answers are computed and printed.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Format::Table, global = true)]
    pub format: Format,

    /// Pin "now" (UTC date or time) so `last 7d` means the same days in a
    /// post-mortem written later, e.g. --now 2026-11-20T06:00.
    #[arg(long, global = true, value_parser = parse_now)]
    pub now: Option<i64>,

    /// Print the SQL equivalent of the question (for Athena or `ecs-query sql`) instead of running it.
    #[arg(long, global = true)]
    pub show_sql: bool,

    /// The SQL dialect --show-sql prints: DataFusion's (`ecs-query sql`), Athena's (Trino:
    /// typed timestamp literals, approx_percentile) or DuckDB's.
    #[arg(long, value_enum, default_value_t = SqlDialectArg::Datafusion, global = true, requires = "show_sql")]
    pub dialect: SqlDialectArg,
}

/// `--dialect`: the engines `--show-sql` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SqlDialectArg {
    Datafusion,
    Athena,
    Duckdb,
}

impl From<SqlDialectArg> for ecs_query_engine::dialect::SqlDialect {
    fn from(d: SqlDialectArg) -> Self {
        use ecs_query_engine::dialect::SqlDialect;
        match d {
            SqlDialectArg::Datafusion => SqlDialect::DataFusion,
            SqlDialectArg::Athena => SqlDialect::Athena,
            SqlDialectArg::Duckdb => SqlDialect::DuckDb,
        }
    }
}

fn parse_now(text: &str) -> Result<i64, String> {
    ecs_query_engine::lang::parser::parse_time(text, false).ok_or_else(|| {
        format!("{text:?} is not a UTC date or time (2026-11-20 or 2026-11-20T06:00)")
    })
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

    /// Who answers: DataFusion in this process, or Amazon Athena over the
    /// same lake (questions, sql, timeline, diagnose, report; the same answers).
    #[arg(long, value_enum, env = "ECS_QUERY_ENGINE", default_value_t = EngineArg::Datafusion, global = true)]
    pub engine: EngineArg,

    /// The Athena workgroup (--engine athena).
    #[arg(
        long,
        env = "ECS_ATHENA_WORKGROUP",
        default_value = "primary",
        global = true
    )]
    pub athena_workgroup: String,

    /// The Glue database of the lake's tables: the stack's GlueDatabaseName
    /// output (--engine athena).
    #[arg(long, env = "ECS_ATHENA_DATABASE", global = true)]
    pub athena_database: Option<String>,

    /// Where Athena writes results, s3://bucket/prefix/ (default: the
    /// workgroup's own result location).
    #[arg(long, env = "ECS_ATHENA_OUTPUT", global = true)]
    pub athena_output: Option<String>,
}

/// `--engine`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    Datafusion,
    Athena,
}

impl LakeArgs {
    /// The engine's lake configuration.
    pub fn config(&self) -> ecs_query_engine::LakeConfig {
        ecs_query_engine::LakeConfig {
            location: self.lake.clone(),
            profile: self.profile.clone(),
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
        }
    }

    /// Where Athena runs the queries, when `--engine athena`.
    pub fn athena(
        &self,
    ) -> Result<Option<ecs_query_engine::athena::AthenaSettings>, crate::CliError> {
        if self.engine != EngineArg::Athena {
            return Ok(None);
        }
        let Some(database) = self.athena_database.clone() else {
            return Err(crate::CliError::Usage {
                message: "--engine athena needs the Glue database of the lake's tables".into(),
                hint: "pass --athena-database (or ECS_ATHENA_DATABASE): the stack's GlueDatabaseName output, e.g. aws cloudformation describe-stacks --stack-name ecs-postmortem --query \"Stacks[0].Outputs\"",
            });
        };
        Ok(Some(ecs_query_engine::athena::AthenaSettings {
            workgroup: self.athena_workgroup.clone(),
            database,
            output_location: self.athena_output.clone(),
        }))
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Backfill the lake from the files you hold: ECS events, task objects,
    /// configuration, CloudTrail and CloudWatch Logs.
    ///
    /// A file holds ECS events (one EventBridge event, a JSON array, JSON lines,
    /// or an SQS event); task objects (`aws ecs describe-tasks`, `run-task`,
    /// `stop-task`, Step Functions output); configuration (`describe-task-definition`,
    /// `describe-services`, ...); CloudTrail trail files (the agent's
    /// SubmitTaskStateChange records); CloudWatch Logs payloads (a subscription
    /// event {"awslogs":{"data":...}}, a Kinesis or Firehose event, a decoded
    /// payload, or JSON lines of them); `aws logs filter-log-events` /
    /// `get-log-events` output or Logs Insights results (JSON or CSV; need
    /// --log-group unless `@log` is among the fields); or a CloudWatch Logs
    /// export (text lines "<timestamp> <message>"; needs --log-group). ECS
    /// events found in log groups are read as events. gzip is detected. Input
    /// that cannot be normalized is quarantined under _quarantine/ with the
    /// reason; the exit code is 2 only when a file or the lake cannot be used.
    Ingest(IngestArgs),

    /// Read what AWS still holds into the lake: tasks (stopped ones for
    /// about an hour), the configuration behind them, deployment history,
    /// Container Insights and application crash lines within retention.
    ///
    /// Read-only towards AWS (the IAM actions are in the README). Idempotent
    /// and resumable: markers under _state/backfill/ in the lake remember what
    /// was read, so a re-run reads only what is new and an interrupted run
    /// goes on where it stopped. A denied or failing call is reported with the
    /// IAM action it needs and the rest goes on; the exit code is then 2.
    Backfill(BackfillArgs),

    /// Build a demo lake from the fleet simulator and show what happened.
    ///
    /// Simulates a Node.js API service whose new revision leaks memory until
    /// its container is OOM-killed (exit 137) and fails health checks because
    /// the start period is too short, writes the exact AWS payloads through the
    /// same normalization as the Lambdas into --lake, then prints the first
    /// queries of a post-mortem. No AWS account needed.
    #[cfg(feature = "demo")]
    Demo(DemoArgs),

    /// Run read-only SQL over the lake's tables (see `tables`).
    Sql(SqlArgs),

    /// Merge each closed day's small files into a few large sorted ones,
    /// without duplicate deliveries. Writes before it deletes: safe to
    /// interrupt and re-run.
    Compact(CompactArgs),

    /// One task in time order: state changes, container exits, memory
    /// (condensed), health, log signatures and the last log lines before it stopped.
    Timeline(TimelineArgs),

    /// Findings for one service, ranked by impact, with evidence and what to change.
    ///
    /// Splits exit 137s into OOM kills and stop-timeout kills, measures memory
    /// peaks against the limit and memory growth per hour of uptime, time to
    /// healthy against health-check stops, crash loops, failed deployments,
    /// start failures and Spot interruptions, per revision, against the
    /// revision before. E.g. `ecs-query diagnose api last 7d`.
    Diagnose(DiagnoseArgs),

    /// What changed in the task definition between two revisions.
    ///
    /// E.g. `ecs-query diff api:41 api:42`: task CPU and memory, containers
    /// added or removed, image, limits, heap settings, health check,
    /// timeouts, ulimits, environment and secret names. Needs both task
    /// definitions in the lake (`ecs-query ingest` of
    /// `aws ecs describe-task-definition` output).
    Diff(DiffArgs),

    /// The weekly reliability report: per cluster and service, stops by
    /// cause, exits by kind, OOM kills and memory headroom by revision,
    /// health checks, deployments, log signatures, week-over-week change and
    /// the diagnose findings. Markdown on stdout, or with --out DIR
    /// report.md, report.html (self-contained, SVG charts) and report.json.
    Report(ReportArgs),

    /// A post-mortem draft for one service over an incident's window.
    ///
    /// Summary; impact (tasks stopped by cause, abnormal stops and their
    /// span, deployments failed or rolled back); timeline (deployments, each
    /// revision's first abnormal stop, the last, steady state again); root
    /// cause (the diagnose findings with their evidence); what changed
    /// between the revisions; action items with their patches. Markdown, or
    /// JSON with -f json. E.g. `ecs-query postmortem api --since 2026-11-19
    /// --until 2026-11-21`.
    Postmortem(PostmortemArgs),

    /// Watch the lake and say what is new or worse, every few minutes.
    ///
    /// The loop the `watch` Lambda runs, in a terminal: each service with
    /// abnormal stops since the last look is diagnosed over --window; a
    /// finding on a revision with at least --min-stops abnormal stops in it
    /// is printed once (and again when it gets worse), "resolved" when a
    /// later revision or a rollback completed after its last abnormal stop.
    /// What was said is kept in the lake (_state/watch/<--state>.json).
    /// With --topic, also published to SNS (email text, and Amazon Q
    /// Developer's chat notification). E.g. `ecs-query watch --once`.
    Watch(WatchArgs),

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
    /// Files to ingest, optionally gzipped: EventBridge events, SQS, Kinesis,
    /// Firehose and CloudWatch Logs payloads, task objects (describe-tasks,
    /// run-task, stop-task, Step Functions), ECS configuration (describe-*
    /// outputs), CloudTrail trail files, CloudWatch Logs exports,
    /// filter-log-events / get-log-events outputs, Logs Insights results
    /// (JSON, CSV), bare Container Insights records.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,

    /// Log group of CloudWatch Logs exports, `aws logs filter-log-events` /
    /// `get-log-events` outputs and Insights results without `@log` (they do
    /// not record it).
    #[arg(long)]
    pub log_group: Option<String>,

    /// Log stream of export files and `get-log-events` output (default: from the path: `<prefix>/<container>/<task-id>/000000.gz`
    /// as the export lays out awslogs streams, else the file's directory name).
    #[arg(long)]
    pub log_stream: Option<String>,

    /// Store log messages as they are: by default AWS access key ids, bearer
    /// tokens and passwords in URLs are replaced by <redacted>.
    #[arg(long)]
    pub keep_secrets: bool,
}

#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// Read from the AWS account of --profile (or the standard credential
    /// chain) and --region. Required: files go through `ecs-query ingest`.
    #[arg(long, required = true)]
    pub from_aws: bool,

    /// A cluster to read (name or ARN); repeat for more. Default: every
    /// cluster of the region.
    #[arg(long = "cluster", value_name = "CLUSTER")]
    pub clusters: Vec<String>,

    /// Log events from this long ago (`30d`, `12h`) or from this time
    /// (`2026-11-01`, RFC 3339).
    #[arg(long, default_value = "30d")]
    pub since: String,

    /// Application log groups to read crash lines from: every group whose
    /// name starts with this; repeat for more.
    #[arg(
        long = "log-group-prefix",
        value_name = "PREFIX",
        default_value = "/ecs/"
    )]
    pub log_group_prefixes: Vec<String>,

    /// Do not read CloudWatch Logs (tasks and configuration only).
    #[arg(long)]
    pub no_logs: bool,
}

#[derive(Debug, Args)]
pub struct CompactArgs {
    /// Only this table (default: all).
    #[arg(long)]
    pub table: Option<String>,

    /// Only this day (YYYY-MM-DD), even if it is today.
    #[arg(long, conflicts_with_all = ["since", "include_today"])]
    pub day: Option<String>,

    /// Only days from this one (YYYY-MM-DD) on.
    #[arg(long)]
    pub since: Option<String>,

    /// Also today's partition, which may still be written to (compaction of
    /// an open day is safe, but will run again).
    #[arg(long)]
    pub include_today: bool,
}

#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    /// Service name, or cluster/service.
    pub service: String,

    /// Window: `last 7d` (the default), `since 2026-11-16 [until 2026-11-22]`.
    pub window: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PostmortemArgs {
    /// Service name, or cluster/service.
    pub service: String,

    /// Start of the incident's window (UTC date or time).
    #[arg(long)]
    pub since: String,

    /// End of the window (a date includes its day; default: now).
    #[arg(long)]
    pub until: Option<String>,

    /// Also write the draft to this file (Markdown; the HTML page with -f html).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Evaluate once and exit (cron, scripts); with --now, at that time.
    #[arg(long)]
    pub once: bool,

    /// Time between evaluations, e.g. 5m, 1h.
    #[arg(long, default_value = "5m", value_parser = parse_span)]
    pub every: i64,

    /// How far back a service with new abnormal stops is diagnosed.
    #[arg(long, default_value = "1h", value_parser = parse_span)]
    pub window: i64,

    /// Abnormal stops of a revision in the window before its findings are said.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    pub min_stops: u32,

    /// Messages per service in any hour; the rest wait for a later evaluation.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    pub per_hour: u32,

    /// Also publish each message to this SNS topic ARN.
    #[arg(long)]
    pub topic: Option<String>,

    /// Also post each message ({"text": ...}, as Slack's incoming webhooks
    /// take it) to the webhook whose URL this Secrets Manager secret holds.
    #[arg(long)]
    pub webhook_secret: Option<String>,

    /// The name the state is kept under in the lake; the watch Lambda's is
    /// `lambda` (share it only to take over from the Lambda).
    #[arg(long, default_value = "terminal")]
    pub state: String,
}

/// A span as the language writes it after `last`: 5m, 1h, 7d.
fn parse_span(text: &str) -> Result<i64, String> {
    match ecs_query_engine::lang::parser::parse_window(&format!("last {text}")) {
        Ok(ecs_query_engine::lang::Window::Last(span)) if span > 0 => Ok(span),
        _ => Err(format!("{text:?} is not a span: write e.g. 5m, 1h or 7d")),
    }
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier revision, family:revision (e.g. api:41).
    pub from: String,
    /// The later revision, family:revision (e.g. api:42).
    pub to: String,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// ISO week, e.g. 2026-W47 (default: the last complete week).
    #[arg(long, conflicts_with_all = ["since", "until"])]
    pub week: Option<String>,

    /// Start of a custom period (UTC date or time).
    #[arg(long)]
    pub since: Option<String>,

    /// End of a custom period (a date includes its day).
    #[arg(long)]
    pub until: Option<String>,

    /// Only this service (name or cluster/service).
    #[arg(long)]
    pub service: Option<String>,

    /// Write report.md, report.html and report.json into this directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TimelineArgs {
    /// Task id or ARN (a unique prefix of the id is enough).
    pub task: String,

    /// Log lines to show before the stop.
    #[arg(long, default_value_t = 10)]
    pub lines: usize,
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

    /// Copies of the fleet's services (scale), or crash-looping services (churn).
    #[arg(long, default_value_t = 10)]
    pub copies: usize,

    /// Build the lake only (for benchmarks and bigger lakes).
    #[arg(long)]
    pub no_questions: bool,

    /// How the simulator's output is cut into ingest calls, each of which
    /// writes one Parquet file per table and day it touches.
    #[arg(long, value_enum, default_value_t = DemoFiles::Chunks)]
    pub files: DemoFiles,
}

/// How `demo` cuts the simulator's output into ingest calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DemoFiles {
    /// Calls of about 64 MB of input: few, large files; the quickest to build.
    Chunks,
    /// One call per Lambda invocation, as production writes the lake: ECS
    /// events in SQS batches of at most 100 within a 20 s window (of event
    /// time), each CloudWatch Logs payload alone. Many small files (for benchmarks).
    AsLambdas,
}

/// The simulator's presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DemoPreset {
    /// A Node.js API whose new revision leaks into OOM kills and fails health checks.
    NodeOom,
    /// node-oom plus a worker that ignores SIGTERM (137 after the stop timeout).
    Fleet,
    /// --copies copies of the fleet's services, over --copies/10 clusters: a bigger lake.
    Scale,
    /// --copies crash-looping services: many task events.
    Churn,
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// The query, e.g. "SELECT stop_cause, count(*) FROM tasks GROUP BY 1".
    pub query: String,
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
    /// A Markdown table (for tickets and post-mortem documents).
    Markdown,
    /// An HTML table (questions, sql, timeline); for `postmortem` and
    /// `report`, the self-contained page (inline CSS and SVG charts); other
    /// commands print their usual text.
    Html,
}
