//! # ecs-query: ask the ECS post-mortem lake what happened
//!
//! One binary, several subcommands, one pipeline each:
//!
//! * `ingest` — backfill: files -> the same normalization as the Lambdas
//!   ([`ecs_lake::ingest`]) -> a local or S3 lake.
//! * `demo` — a lake from the fleet simulator ([`ecs_sim`]), then the first
//!   post-mortem queries.
//! * `sql` — read-only SQL over the lake's tables (DataFusion, Hive `dt`
//!   partitions pruned), rendered as a table, CSV or JSON.
//! * `tables` / `schema` — what the lake holds, from the declared schemas,
//!   plus the derived [`views`] (health transitions, time to healthy).
//!
//! Modules: [`cli`] (arguments), [`lake`] (opening a lake: local directory or
//! S3 through object_store with credentials from aws-config), [`backfill`],
//! [`sql`], [`views`], [`render`], [`error`]. Results go to stdout; progress and errors to
//! stderr; exit code 0 on success, 2 on error.

pub mod ask;
pub mod backfill;
pub mod cli;
pub mod compact;
pub mod demo;
pub mod diagnose;
pub mod error;
pub mod lake;
pub mod lang;
pub mod render;
pub mod report;
pub mod sql;
pub mod summary;
pub mod timeline;
pub mod views;

pub use error::CliError;

use std::io::Write;

use cli::{Cli, Command};

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
        Command::Demo(args) => demo::run(&cli.lake, args, &cli.output, out).await,
        Command::Sql(args) => {
            let lake = lake::Lake::open(&cli.lake).await?;
            sql::run(&lake, &args.query, cli.output.format, out).await
        }
        Command::Compact(args) => compact::run(&cli.lake, &args, out).await,
        Command::Timeline(args) => timeline::run(&cli.lake, &args, &cli.output, out).await,
        Command::Diagnose(args) => diagnose::run(&cli.lake, &args, &cli.output, out).await,
        Command::Report(args) => report::run(&cli.lake, &args, &cli.output, out).await,
        Command::Tables => render::tables(out),
        Command::Schema { table } => {
            match crate::views::VIEWS
                .iter()
                .find(|v| Some(v.name) == table.as_deref())
            {
                Some(view) => {
                    let lake = lake::Lake::open(&cli.lake).await?;
                    render::view_schema(&lake, view, out).await
                }
                None => render::schema(table.as_deref(), out),
            }
        }
    }
}
