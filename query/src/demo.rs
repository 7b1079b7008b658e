//! `ecs-query demo`: builds a lake from the fleet simulator (no AWS account
//! needed) through the same normalization as the Lambdas, then shows what
//! happened with the queries a post-mortem starts from.

use std::io::Write;

use ecs_lake::{Input, InputKind};
use ecs_sim::{Preset, simulate};

use crate::ask;
use crate::backfill::{Totals, ingest_inputs, open_store, print_totals};
use crate::cli::{DemoArgs, DemoPreset, LakeArgs, OutputArgs};
use crate::error::CliError;
use crate::lake::Lake;

/// The questions the demo answers, in order: (title, question in the query language).
pub const QUESTIONS: &[(&str, &str)] = &[
    (
        "Exit 137 per revision, with the memory peak and health beside it",
        "exit 137 by revision last 7d",
    ),
    ("Why tasks stopped", "stops by service, cause last 7d"),
    (
        "Memory peak against the limit, per revision",
        "memory peak by revision last 7d",
    ),
    (
        "Time from start to first HEALTHY, per revision",
        "time to healthy by revision last 7d",
    ),
    ("Deployments and how they ended", "deployments last 7d"),
    (
        "The OOM line in the application logs",
        "logs \"heap out of memory\" by revision last 7d",
    ),
];

pub async fn run(
    lake_args: &LakeArgs,
    args: DemoArgs,
    output: &OutputArgs,
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
    // "Now" is the end of the simulated range unless pinned: the questions
    // say `last 7d` and mean the simulated days.
    let end = preset.start_ms + (preset.hours * 3_600_000.0) as i64;
    let output = OutputArgs {
        now: Some(output.now.unwrap_or(end * 1000)),
        ..output.clone()
    };
    let now_text = crate::summary::day_time_of(output.now.unwrap_or_default());
    for (title, question) in QUESTIONS {
        writeln!(out, "\n{title}:  ecs-query --now {now_text} '{question}'")?;
        ask::answer(&lake, question, &output, out).await?;
    }
    writeln!(
        out,
        "\nNext: ecs-query --lake {lake} --now {now_text} 'oom by deployment last 24h'\n      ecs-query --lake {lake} timeline <task-id>\n      ecs-query --lake {lake} sql \"SELECT * FROM tasks LIMIT 5\"",
        lake = lake_args.lake
    )?;
    Ok(())
}
