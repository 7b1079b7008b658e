//! # ecs-query: ask the ECS post-mortem lake what happened
//!
//! The command line over [`ecs_query_engine`], which does the work: this
//! crate parses arguments (clap), opens the lake the arguments name, runs
//! one command, renders its answer (table, CSV, JSON, Markdown) and turns
//! the engine's errors into messages with hints. Results go to stdout;
//! progress and errors to stderr; exit code 0 on success, 2 on error.
//!
//! One module per command: [`ask`] (a question in the query language),
//! [`sql`], [`timeline`], [`diagnose`], [`report`], [`watch`], [`backfill`] (`ingest`:
//! files through the same normalization as the Lambdas, [`ecs_lake::ingest`]),
//! [`compact`], and `demo` (a lake from the fleet simulator, behind the
//! default `demo` feature). Beside them: [`cli`] (arguments), [`render`],
//! [`error`].

pub mod ask;
pub mod backfill;
pub mod cli;
pub mod compact;
#[cfg(feature = "demo")]
pub mod demo;
pub mod diagnose;
pub mod error;
pub mod from_aws;
pub mod render;
pub mod report;
pub mod sql;
pub mod timeline;
pub mod watch;

pub use error::CliError;

use std::io::Write;

use cli::{Cli, Command};
use ecs_query_engine::Lake;
use ecs_query_engine::views::VIEWS;

/// The Athena client of this process, once a command opened the lake with
/// `--engine athena`: `main` says what it scanned and stops its query on Ctrl-C.
pub static ATHENA: std::sync::OnceLock<std::sync::Arc<ecs_query_engine::athena::Athena>> =
    std::sync::OnceLock::new();

/// Opens the lake the arguments name, answered by the engine they choose.
pub async fn open_lake(lake_args: &cli::LakeArgs) -> Result<Lake, CliError> {
    let settings = lake_args.athena()?;
    let config = lake_args.config();
    let lake = Lake::open(&config).await?;
    if let Some(settings) = settings {
        let athena = match ATHENA.get() {
            Some(athena) => std::sync::Arc::clone(athena),
            None => {
                let athena = std::sync::Arc::new(
                    ecs_query_engine::athena::Athena::connect(&config, settings).await,
                );
                std::sync::Arc::clone(ATHENA.get_or_init(|| athena))
            }
        };
        lake.use_athena(athena);
    }
    Ok(lake)
}

/// Runs one command, writing results to `out`. Errors are returned for `main`
/// to print; nothing here exits the process.
pub async fn run(cli: Cli, out: &mut dyn Write) -> Result<(), CliError> {
    let Some(command) = cli.command else {
        if cli.query.is_empty() {
            return Err(CliError::Usage {
                message: "no question and no command".into(),
                hint: "ask e.g. ecs-query \"exit 137 by revision last 7d\", or see ecs-query --help",
            });
        }
        return ask::run(&cli.lake, &cli.query.join(" "), &cli.output, out).await;
    };
    match command {
        Command::Ingest(args) => backfill::run(&cli.lake, args, out).await,
        Command::Backfill(args) => from_aws::run(&cli.lake, &args, out).await,
        #[cfg(feature = "demo")]
        Command::Demo(args) => demo::run(&cli.lake, args, &cli.output, out).await,
        Command::Sql(args) => {
            let lake = open_lake(&cli.lake).await?;
            sql::run(&lake, &args.query, cli.output.format, out).await
        }
        Command::Compact(args) => compact::run(&cli.lake, &args, out).await,
        Command::Timeline(args) => timeline::run(&cli.lake, &args, &cli.output, out).await,
        Command::Diagnose(args) => diagnose::run(&cli.lake, &args, &cli.output, out).await,
        Command::Diff(args) => diagnose::diff(&cli.lake, &args, &cli.output, out).await,
        Command::Report(args) => report::run(&cli.lake, &args, &cli.output, out).await,
        Command::Postmortem(args) => diagnose::postmortem(&cli.lake, &args, &cli.output, out).await,
        Command::Watch(args) => watch::run(&cli.lake, &args, &cli.output, out).await,
        Command::Tables => render::tables(out),
        Command::Schema { table } => {
            match VIEWS.iter().find(|v| Some(v.name) == table.as_deref()) {
                Some(view) => {
                    let lake = open_lake(&cli.lake).await?;
                    render::view_schema(&lake, view, out).await
                }
                None => render::schema(table.as_deref(), out),
            }
        }
    }
}
