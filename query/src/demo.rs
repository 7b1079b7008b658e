//! `ecs-query demo`: builds a lake from the fleet simulator (no AWS account
//! needed) through the same normalization as the Lambdas, then shows what
//! happened with the queries a post-mortem starts from.

use std::io::Write;

use ecs_lake::{Input, InputKind};
use ecs_sim::{Preset, simulate};

use crate::backfill::{Totals, ingest_inputs, open_store, print_totals};
use crate::cli::{DemoArgs, DemoPreset, Format, LakeArgs};
use crate::error::CliError;
use crate::lake::Lake;
use crate::sql;

/// The questions the demo answers, in order: (title, SQL).
pub const QUERIES: &[(&str, &str)] = &[
    (
        "Why tasks stopped, per revision",
        "SELECT service, revision, stop_cause, exit_kind, exit_code, count(DISTINCT task_id) AS tasks \
         FROM task_events WHERE last_status = 'STOPPED' \
         GROUP BY service, revision, stop_cause, exit_kind, exit_code ORDER BY service, revision, tasks DESC",
    ),
    (
        "Memory peak against the limit, per revision (Container Insights)",
        "SELECT service, revision, max(memory_utilized) AS peak_mib, max(memory_reserved) AS limit_mib, \
         round(100.0 * max(memory_utilized) / max(memory_reserved), 1) AS peak_pct, \
         count(DISTINCT task_id) AS tasks \
         FROM metrics WHERE record_type = 'Container' GROUP BY service, revision ORDER BY service, revision",
    ),
    (
        "Time from start to first HEALTHY, per revision",
        "SELECT service, revision, count(*) AS containers, round(min(seconds_to_healthy), 1) AS min_s, \
         round(max(seconds_to_healthy), 1) AS max_s \
         FROM time_to_healthy WHERE container IS NOT NULL GROUP BY service, revision ORDER BY service, revision",
    ),
    (
        "Crash and shutdown lines in the application logs",
        "SELECT t.service, t.revision, l.signature, count(*) AS lines \
         FROM logs l JOIN (SELECT DISTINCT task_id, service, revision FROM task_events) t ON l.task_id = t.task_id \
         WHERE l.signature IS NOT NULL GROUP BY t.service, t.revision, l.signature ORDER BY t.service, t.revision, lines DESC",
    ),
];

pub async fn run(
    lake_args: &LakeArgs,
    args: DemoArgs,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let preset = match args.preset {
        DemoPreset::NodeOom => Preset::node_oom(args.hours),
        DemoPreset::Fleet => Preset::fleet(args.hours),
    };
    let sim = simulate(&preset, args.seed);
    let inputs: Vec<Input> = sim
        .events
        .iter()
        .enumerate()
        .map(|(i, e)| Input::new(format!("sim:event:{i}"), e.clone().into_bytes()))
        .chain(sim.log_payloads.iter().enumerate().map(|(i, p)| {
            Input::of(
                InputKind::LogsPayload,
                format!("sim:logs:{i}"),
                p.clone().into_bytes(),
            )
        }))
        .collect();
    writeln!(
        out,
        "Simulated preset {} (seed {}): {} tasks over {} hours, {} ECS events, {} CloudWatch Logs payloads.",
        preset.name,
        args.seed,
        sim.truth.tasks.len(),
        args.hours,
        sim.events.len(),
        sim.log_payloads.len()
    )?;
    let store = open_store(lake_args).await?;
    let mut totals = Totals::default();
    ingest_inputs(&store, "demo", &inputs, &mut totals).await;
    print_totals(&totals, &lake_args.lake, out)?;
    if let Some(first) = totals.failed.first() {
        return Err(CliError::WriteFailed {
            count: totals.failed.len(),
            first: first.clone(),
        });
    }

    let lake = Lake::open(lake_args).await?;
    for (title, query) in QUERIES {
        writeln!(out, "\n{title}:")?;
        sql::run(&lake, query, Format::Table, out).await?;
    }
    writeln!(
        out,
        "\nNext: ecs-query --lake {} sql \"SELECT * FROM health_transitions ORDER BY time LIMIT 20\"\n      ecs-query --lake {} tables",
        lake_args.lake, lake_args.lake
    )?;
    Ok(())
}
