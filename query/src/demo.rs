//! `ecs-query demo`: builds a lake from the fleet simulator (no AWS account
//! needed) through the same normalization as the Lambdas, then shows what
//! happened with the queries a post-mortem starts from.

use std::io::Write;

use futures::StreamExt;

use ecs_lake::{Input, InputKind};
use ecs_sim::{DeploymentTruth, Preset, Sink, TaskTruth, simulate_into};

use crate::ask;
use crate::backfill::{Totals, ingest_inputs, open_store, print_totals};
use crate::cli::{DemoArgs, DemoPreset, LakeArgs, OutputArgs};
use crate::error::CliError;
use ecs_query_engine::Lake;

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

/// Simulator output cut into chunks of about [`CHUNK_BYTES`], sent from the
/// simulation thread to the ingest loop, so a simulation of any size streams
/// into the lake with bounded memory.
struct Chunker {
    tx: tokio::sync::mpsc::Sender<Vec<Input>>,
    buf: Vec<Input>,
    bytes: usize,
    events: usize,
    payloads: usize,
    tasks: usize,
}

const CHUNK_BYTES: usize = 64 << 20;

impl Chunker {
    fn push(&mut self, input: Input) {
        self.bytes += input.body.len();
        self.buf.push(input);
        if self.bytes >= CHUNK_BYTES {
            self.flush();
        }
    }

    fn flush(&mut self) {
        self.bytes = 0;
        let chunk = std::mem::take(&mut self.buf);
        // The receiver only goes away when ingest failed; what is left is moot.
        if !chunk.is_empty() {
            let _ = self.tx.blocking_send(chunk);
        }
    }
}

impl Sink for Chunker {
    fn event(&mut self, json: String) {
        let input = Input::new(format!("sim:event:{}", self.events), json.into_bytes());
        self.events += 1;
        self.push(input);
    }
    fn log_payload(&mut self, data: String) {
        let input = Input::of(
            InputKind::LogsPayload,
            format!("sim:logs:{}", self.payloads),
            data.into_bytes(),
        );
        self.payloads += 1;
        self.push(input);
    }
    fn task(&mut self, _: TaskTruth) {
        self.tasks += 1;
    }
    fn deployment(&mut self, _: DeploymentTruth) {}
}

pub async fn run(
    lake_args: &LakeArgs,
    args: DemoArgs,
    output: &OutputArgs,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let preset = match args.preset {
        DemoPreset::NodeOom => Preset::node_oom(args.hours),
        DemoPreset::Fleet => Preset::fleet(args.hours),
        DemoPreset::Scale => Preset::scale(args.copies, (args.copies / 10).max(1), args.hours),
        DemoPreset::Churn => Preset::churn(args.copies, args.hours),
    };
    let store = open_store(lake_args).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<Input>>(2);
    let simulation = {
        let preset = preset.clone();
        let seed = args.seed;
        std::thread::spawn(move || {
            let mut chunker = Chunker {
                tx,
                buf: Vec::new(),
                bytes: 0,
                events: 0,
                payloads: 0,
                tasks: 0,
            };
            simulate_into(&preset, seed, &mut chunker);
            chunker.flush();
            (chunker.events, chunker.payloads, chunker.tasks)
        })
    };
    // Chunks are normalized and written concurrently, one per core.
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunks = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let done = chunks
        .map(|chunk| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut t = Totals::default();
                ingest_inputs(&store, "demo", &chunk, Default::default(), &mut t).await;
                t
            })
        })
        .buffer_unordered(workers);
    let mut done = std::pin::pin!(done);
    let mut totals = Totals::default();
    while let Some(chunk_totals) = done.next().await {
        totals.merge(chunk_totals.map_err(|e| CliError::WriteFailed {
            count: 1,
            first: e.to_string(),
        })?);
    }
    let (events, payloads, tasks) = simulation.join().map_err(|_| CliError::Usage {
        message: "the simulator failed".into(),
        hint: "this is a bug: please report it with the preset and seed",
    })?;
    writeln!(
        out,
        "Simulated preset {} (seed {}): {tasks} tasks over {} hours, {events} ECS events, {payloads} CloudWatch Logs payloads.",
        preset.name, args.seed, args.hours,
    )?;
    print_totals(&totals, &lake_args.lake, out)?;
    if let Some(first) = totals.failed.first() {
        return Err(CliError::WriteFailed {
            count: totals.failed.len(),
            first: first.clone(),
        });
    }
    if args.no_questions {
        return Ok(());
    }

    let lake = Lake::open(&lake_args.config()).await?;
    // "Now" is the end of the simulated range unless pinned: the questions
    // say `last 7d` and mean the simulated days.
    let end = preset.start_ms + (preset.hours * 3_600_000.0) as i64;
    let output = OutputArgs {
        now: Some(output.now.unwrap_or(end * 1000)),
        ..output.clone()
    };
    let now_text = ecs_lake::time::date_time_of(output.now.unwrap_or_default());
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
