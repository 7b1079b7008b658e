//! `ecs-sim`: writes a simulation to files, for backfill (`ecs-query ingest`),
//! benchmarks and scale tests.
//!
//! `ecs-sim --preset fleet --hours 72 --out DIR` writes `DIR/events.jsonl`
//! (one EventBridge event per line), `DIR/logs.jsonl` (one CloudWatch Logs
//! subscription event per line), `DIR/truth_tasks.jsonl` and
//! `DIR/truth_deployments.jsonl`, streaming: memory stays bounded by one service.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use ecs_sim::{DeploymentTruth, Preset, Sink, TaskTruth, simulate_into};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PresetName {
    NodeOom,
    Fleet,
    /// `--copies` copies of the fleet's services.
    Scale,
    /// `--copies` crash-looping services of 10 tasks: many task events.
    Churn,
}

/// Write a simulated ECS fleet's AWS payloads and ground truth to files.
#[derive(Debug, Parser)]
#[command(name = "ecs-sim", version)]
struct Args {
    #[arg(long, value_enum, default_value_t = PresetName::Fleet)]
    preset: PresetName,
    /// Hours of activity.
    #[arg(long, default_value_t = 72.0)]
    hours: f64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Copies of the fleet's services (scale), or services (churn).
    #[arg(long, default_value_t = 100)]
    copies: usize,
    /// Output directory (created if missing).
    #[arg(long, required_unless_present = "count_only")]
    out: Option<PathBuf>,
    /// Generate everything but write nothing: counts, time (and, measured
    /// from outside, memory) of the generation alone.
    #[arg(long)]
    count_only: bool,
}

type Writer = Box<dyn Write>;

struct Files {
    events: Writer,
    logs: Writer,
    tasks: Writer,
    deployments: Writer,
    counts: [usize; 5],
    error: Option<std::io::Error>,
}

impl Files {
    fn line(file: &mut Writer, text: &str, error: &mut Option<std::io::Error>) {
        if error.is_none()
            && let Err(e) = writeln!(file, "{text}")
        {
            *error = Some(e);
        }
    }
}

impl Sink for Files {
    fn event(&mut self, json: String) {
        self.counts[0] += 1;
        Self::line(&mut self.events, &json, &mut self.error);
    }
    fn log_payload(&mut self, data: String) {
        self.counts[1] += 1;
        let event = serde_json::json!({"awslogs": {"data": data}}).to_string();
        Self::line(&mut self.logs, &event, &mut self.error);
    }
    fn task(&mut self, truth: TaskTruth) {
        self.counts[2] += 1;
        let json = serde_json::to_string(&truth).unwrap_or_default();
        Self::line(&mut self.tasks, &json, &mut self.error);
    }
    fn metric_records(&mut self, records: usize) {
        self.counts[4] += records;
    }
    fn deployment(&mut self, truth: DeploymentTruth) {
        self.counts[3] += 1;
        let json = serde_json::to_string(&truth).unwrap_or_default();
        Self::line(&mut self.deployments, &json, &mut self.error);
    }
}

fn run(args: &Args) -> std::io::Result<()> {
    let out = args.out.as_ref().filter(|_| !args.count_only);
    if let Some(dir) = out {
        std::fs::create_dir_all(dir)?;
    }
    let open = |name: &str| -> std::io::Result<Writer> {
        Ok(match out {
            Some(dir) => Box::new(BufWriter::new(File::create(dir.join(name))?)),
            None => Box::new(std::io::sink()),
        })
    };
    let mut files = Files {
        events: open("events.jsonl")?,
        logs: open("logs.jsonl")?,
        tasks: open("truth_tasks.jsonl")?,
        deployments: open("truth_deployments.jsonl")?,
        counts: [0; 5],
        error: None,
    };
    let preset = match args.preset {
        PresetName::NodeOom => Preset::node_oom(args.hours),
        PresetName::Fleet => Preset::fleet(args.hours),
        PresetName::Scale => Preset::scale(args.copies, 10, args.hours),
        PresetName::Churn => Preset::churn(args.copies, args.hours),
    };
    let t0 = Instant::now();
    simulate_into(&preset, args.seed, &mut files);
    if let Some(e) = files.error.take() {
        return Err(e);
    }
    for f in [
        &mut files.events,
        &mut files.logs,
        &mut files.tasks,
        &mut files.deployments,
    ] {
        f.flush()?;
    }
    let [events, payloads, tasks, deployments, metric_records] = files.counts;
    println!(
        "{}",
        serde_json::json!({
            "preset": preset.name, "services": preset.services.len(), "hours": args.hours, "seed": args.seed,
            "events": events, "log_payloads": payloads, "metric_records": metric_records, "tasks": tasks, "deployments": deployments,
            "seconds": t0.elapsed().as_secs_f64(), "out": args.out,
        })
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "error: writing to {}: {e}\n  hint: pass a writable --out directory",
                args.out
                    .as_deref()
                    .unwrap_or(std::path::Path::new("-"))
                    .display()
            );
            ExitCode::from(2)
        }
    }
}
