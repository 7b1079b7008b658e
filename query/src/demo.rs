//! `ecs-query demo`: builds a lake from the fleet simulator (no AWS account
//! needed) through the same normalization as the Lambdas, then shows what
//! happened with the queries a post-mortem starts from.

use std::io::Write;

use futures::StreamExt;

use ecs_lake::{Input, InputKind};
use ecs_sim::{DeploymentTruth, Preset, Sink, TaskTruth, simulate_into};

use crate::ask;
use crate::backfill::{Totals, ingest_inputs, open_store, print_totals};
use crate::cli::{DemoArgs, DemoFiles, DemoPreset, LakeArgs, OutputArgs};
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

/// Simulator output cut into ingest calls, sent from the simulation thread
/// to the ingest loop, so a simulation of any size streams into the lake
/// with bounded memory. One call writes one file per table and day it
/// touches: by default calls of about [`CHUNK_BYTES`]; with
/// `--files as-lambdas` one per Lambda invocation ([`Spill`]).
struct Chunker {
    tx: tokio::sync::mpsc::Sender<Vec<Input>>,
    buf: Vec<Input>,
    bytes: usize,
    events: usize,
    payloads: usize,
    tasks: usize,
    /// `--files as-lambdas`: the ECS events, waiting to be cut into SQS batches.
    spill: Option<Spill>,
    /// SQS batches sent (`--files as-lambdas`).
    batches: usize,
}

const CHUNK_BYTES: usize = 64 << 20;

/// What the simulation sent.
struct Counts {
    events: usize,
    payloads: usize,
    tasks: usize,
    batches: usize,
}

/// Events per SQS batch (the template's `BatchSize`).
const SQS_BATCH: usize = 100;
/// The SQS event source's batching window (`MaximumBatchingWindowInSeconds`),
/// taken on event time: a batch closes at [`SQS_BATCH`] events or once this
/// much time has passed since its first event.
const SQS_WINDOW_MS: i64 = 20_000;
const DAY_MS: i64 = 86_400_000;

impl Chunker {
    fn new(tx: tokio::sync::mpsc::Sender<Vec<Input>>, files: DemoFiles) -> std::io::Result<Self> {
        Ok(Self {
            tx,
            buf: Vec::new(),
            bytes: 0,
            events: 0,
            payloads: 0,
            tasks: 0,
            spill: match files {
                DemoFiles::Chunks => None,
                DemoFiles::AsLambdas => Some(Spill::new()?),
            },
            batches: 0,
        })
    }

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
        self.send(chunk);
    }

    fn send(&self, chunk: Vec<Input>) {
        // The receiver only goes away when ingest failed; what is left is moot.
        if !chunk.is_empty() {
            let _ = self.tx.blocking_send(chunk);
        }
    }

    /// Sends what is left: the last chunk, or every SQS batch.
    fn finish(&mut self) -> std::io::Result<()> {
        self.flush();
        let Some(spill) = self.spill.take() else {
            return Ok(());
        };
        let mut batch = Vec::with_capacity(SQS_BATCH);
        let mut first_ms = 0;
        spill.replay(|ms, input| {
            if !batch.is_empty() && (batch.len() == SQS_BATCH || ms - first_ms >= SQS_WINDOW_MS) {
                self.batches += 1;
                self.send(std::mem::replace(&mut batch, Vec::with_capacity(SQS_BATCH)));
            }
            if batch.is_empty() {
                first_ms = ms;
            }
            batch.push(input);
        })?;
        self.batches += usize::from(!batch.is_empty());
        self.send(batch);
        Ok(())
    }
}

impl Sink for Chunker {
    fn event(&mut self, json: String) {
        let id = format!("sim:event:{}", self.events);
        self.events += 1;
        match &mut self.spill {
            Some(spill) => spill.push(&id, json),
            None => self.push(Input::new(id, json.into_bytes())),
        }
    }
    fn log_payload(&mut self, data: String) {
        let input = Input::of(
            InputKind::LogsPayload,
            format!("sim:logs:{}", self.payloads),
            data.into_bytes(),
        );
        self.payloads += 1;
        // Each CloudWatch Logs subscription payload is one invocation.
        if self.spill.is_some() {
            self.send(vec![input]);
        } else {
            self.push(input);
        }
    }
    fn task(&mut self, _: TaskTruth) {
        self.tasks += 1;
    }
    /// The deployment history, as a user would backfill it from `aws ecs
    /// describe-service-deployments` / `describe-service-revisions`.
    fn document(&mut self, json: String) {
        let id = format!("sim:document:{}", self.events);
        self.push(Input::new(id, json.into_bytes()));
    }
    fn deployment(&mut self, _: DeploymentTruth) {}
}

/// ECS events on their way to SQS batches. SQS batches what arrives within
/// a window across the whole fleet, but the simulator delivers a service's
/// tasks one after the other, each task's events in time order (up to its
/// duplicate and swapped deliveries), not the fleet's events in time order.
/// So events wait on disk, one file per day of event time (the EventBridge
/// `time` field), and are replayed a day at a time, sorted, at the end:
/// memory holds one day of events.
struct Spill {
    dir: tempfile::TempDir,
    days: std::collections::BTreeMap<i64, std::io::BufWriter<std::fs::File>>,
    error: Option<std::io::Error>,
}

/// The one field of an EventBridge event the batching needs.
#[derive(serde::Deserialize)]
struct EventTime<'a> {
    time: &'a str,
}

impl Spill {
    fn new() -> std::io::Result<Self> {
        Ok(Self {
            dir: tempfile::Builder::new()
                .prefix("ecs-query-demo-events")
                .tempdir()?,
            days: Default::default(),
            error: None,
        })
    }

    /// Writes `<ms> <id> <json>` to the event's day (JSON text has no raw newline).
    fn push(&mut self, id: &str, json: String) {
        // An event without a time (the simulator always sends one) goes first.
        let ms = serde_json::from_str::<EventTime>(&json)
            .ok()
            .and_then(|e| ecs_lake::time::parse_time(e.time).ok())
            .map_or(0, |us| us.div_euclid(1000));
        let day = ms.div_euclid(DAY_MS);
        let written = match self.days.entry(day) {
            std::collections::btree_map::Entry::Occupied(e) => Ok(e.into_mut()),
            std::collections::btree_map::Entry::Vacant(e) => {
                std::fs::File::create(self.dir.path().join(day.to_string()))
                    .map(|f| e.insert(std::io::BufWriter::new(f)))
            }
        }
        .and_then(|w| writeln!(w, "{ms} {id} {json}"));
        if let Err(e) = written {
            self.error.get_or_insert(e);
        }
    }

    /// Every event in time order (stable: delivery order within a millisecond).
    fn replay(self, mut each: impl FnMut(i64, Input)) -> std::io::Result<()> {
        if let Some(e) = self.error {
            return Err(e);
        }
        for (day, mut w) in self.days {
            w.flush()?;
            drop(w);
            let path = self.dir.path().join(day.to_string());
            let text = std::fs::read_to_string(&path)?;
            let mut events: Vec<(i64, &str, &str)> = text
                .lines()
                .filter_map(|line| {
                    let (ms, rest) = line.split_once(' ')?;
                    let (id, json) = rest.split_once(' ')?;
                    Some((ms.parse().ok()?, id, json))
                })
                .collect();
            events.sort_by_key(|(ms, _, _)| *ms);
            for (ms, id, json) in events {
                each(ms, Input::new(id.to_owned(), json.as_bytes().to_vec()));
            }
            std::fs::remove_file(&path)?;
        }
        Ok(())
    }
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
    // A few chunks in flight: two of 64 MB, or many invocations' worth.
    let in_flight = match args.files {
        DemoFiles::Chunks => 2,
        DemoFiles::AsLambdas => 256,
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<Input>>(in_flight);
    let mut chunker = Chunker::new(tx, args.files).map_err(|e| {
        CliError::Internal(format!("cannot create a directory for the ECS events: {e}"))
    })?;
    let simulation = {
        let preset = preset.clone();
        let seed = args.seed;
        std::thread::spawn(move || {
            simulate_into(&preset, seed, &mut chunker);
            let finished = chunker.finish();
            // Without its sender (dropped with the chunker), the ingest loop ends.
            let counts = Counts {
                events: chunker.events,
                payloads: chunker.payloads,
                tasks: chunker.tasks,
                batches: chunker.batches,
            };
            (counts, finished)
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
    // The fleet's task definitions, services and target groups, as a user
    // would backfill them from `aws ecs describe-task-definition`,
    // `describe-services` and `aws elbv2 describe-target-groups` outputs.
    let documents: Vec<Input> = preset
        .task_definition_documents()
        .iter()
        .chain(&preset.service_documents())
        .enumerate()
        .map(|(i, doc)| Input::new(format!("sim:configuration:{i}"), doc.to_string()))
        .collect();
    ingest_inputs(&store, "demo", &documents, Default::default(), &mut totals).await;
    let (counts, finished) = simulation.join().map_err(|_| CliError::Usage {
        message: "the simulator failed".into(),
        hint: "this is a bug: please report it with the preset and seed",
    })?;
    finished
        .map_err(|e| CliError::Internal(format!("ECS events on their way to SQS batches: {e}")))?;
    writeln!(
        out,
        "Simulated preset {} (seed {}): {} tasks over {} hours, {} ECS events, {} CloudWatch Logs payloads.",
        preset.name, args.seed, counts.tasks, args.hours, counts.events, counts.payloads,
    )?;
    if args.files == DemoFiles::AsLambdas {
        writeln!(
            out,
            "Ingested as the Lambdas are invoked: {} SQS batches (<= {SQS_BATCH} events within {} s), {} CloudWatch Logs payloads.",
            counts.batches,
            SQS_WINDOW_MS / 1000,
            counts.payloads,
        )?;
    }
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

    let lake = crate::open_lake(lake_args).await?;
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
    let since = ecs_lake::time::date_time_of(preset.start_ms * 1000);
    let until = ecs_lake::time::date_time_of(end * 1000);
    let drafts = diagnosis(
        &lake,
        &lake_args.lake,
        preset.start_ms * 1000,
        end * 1000,
        out,
    )
    .await?;
    let example = drafts
        .iter()
        .flat_map(|p| &p.findings)
        .find_map(|f| f.example_tasks.first())
        .map_or("<task-id>", String::as_str);
    let service = drafts.first().map_or("api", |p| p.service.as_str());
    writeln!(
        out,
        "\nNext: ecs-query --lake {lake} --now {now_text} diagnose {service}\n      \
         ecs-query --lake {lake} postmortem {service} --since {since} --until {until}\n      \
         ecs-query --lake {lake} timeline {example}\n      \
         ecs-query --lake {lake} --now {now_text} 'oom by deployment last 24h'\n      \
         ecs-query --lake {lake} sql \"SELECT * FROM tasks LIMIT 5\"",
        lake = lake_args.lake
    )?;
    Ok(())
}

/// The demo incident's diagnosis in short (each service with findings, its
/// three most important), and the post-mortem draft of the service that
/// suffered most written into a local lake's `reports/postmortem/`. Returns
/// the drafts of the services with findings, the worst first.
async fn diagnosis(
    lake: &Lake,
    location: &str,
    from: i64,
    to: i64,
    out: &mut dyn Write,
) -> Result<Vec<ecs_query_engine::postmortem::Postmortem>, CliError> {
    use ecs_query_engine::diagnose::evidence::Selector;
    use ecs_query_engine::postmortem::{markdown, postmortems};
    let scope = ecs_query_engine::summary::Scope {
        from: Some(from),
        to: Some(to),
    };
    let mut drafts = postmortems(lake, &Selector::default(), scope).await?;
    drafts.retain(|p| !p.findings.is_empty());
    drafts.sort_by_key(|p| std::cmp::Reverse(p.impact.abnormal_stops));
    writeln!(out, "\nThe diagnosis (ecs-query diagnose <service>):")?;
    for p in &drafts {
        writeln!(out, "  {}/{}:", p.cluster, p.service)?;
        for f in p.findings.iter().take(3) {
            writeln!(out, "    [{}] {}", f.severity.as_str(), f.title)?;
        }
    }
    let Some(worst) = drafts.first() else {
        return Ok(drafts);
    };
    if location.contains("://") {
        writeln!(
            out,
            "\nThe post-mortem draft is written for local lakes only: `ecs-query postmortem` prints it."
        )?;
    } else {
        let dir = std::path::Path::new(location).join("reports/postmortem");
        let path = dir.join(format!("{}-{}.md", worst.cluster, worst.service));
        std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(&path, markdown(worst)))
            .map_err(|e| CliError::Internal(format!("writing {}: {e}", path.display())))?;
        writeln!(
            out,
            "\nThe post-mortem draft of {}/{}: {}",
            worst.cluster,
            worst.service,
            path.display()
        )?;
    }
    Ok(drafts)
}
