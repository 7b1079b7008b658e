//! `ecs-query`: see the library docs. `main` wires logging, the runtime and
//! exit codes: 0 on success (and on a closed pipe), 2 on any error.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use clap::Parser;
use ecs_query::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("ECS_QUERY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(
            std::env::var_os("NO_COLOR").is_none()
                && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        )
        .try_init();

    // Worker stacks as large as the main thread's: DataFusion plans recurse.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .thread_stack_size(8 << 20)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let mut out = BufWriter::new(std::io::stdout().lock());
    let result = runtime.block_on(async {
        tokio::select! {
            done = ecs_query::run(cli, &mut out) => Some(done),
            _ = tokio::signal::ctrl_c() => None,
        }
    });
    let athena = ecs_query::ATHENA.get();
    // Results first, then what Athena scanned (stderr), whatever happened.
    let _ = out.flush();
    if let Some(athena) = athena {
        let usage = athena.usage();
        eprintln!(
            "Athena: {} queries, {:.1} MB scanned (about {:.4} USD at 5 USD per TB billed, 10 MB minimum per query)",
            usage.queries,
            usage.bytes_scanned as f64 / 1e6,
            usage.cost_usd()
        );
    }
    let Some(result) = result else {
        // Ctrl-C: a query left running on Athena would finish and be billed.
        if let Some(athena) = athena {
            let stop = runtime.block_on(async {
                tokio::time::timeout(std::time::Duration::from_secs(5), athena.stop()).await
            });
            match stop {
                Ok(Ok(Some(id))) => eprintln!("stopped Athena query {id}"),
                Ok(Ok(None)) => {}
                Ok(Err(e)) => eprintln!("error: could not stop the Athena query: {e}"),
                Err(_) => eprintln!("error: Athena did not answer the stop within 5 s"),
            }
        }
        return ExitCode::from(130);
    };
    let result = result.and_then(|()| out.flush().map_err(Into::into));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            let _ = out.flush();
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
