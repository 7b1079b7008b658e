//! `ecs-query ingest`: backfill the lake from files, through the same
//! normalization and writer as the Lambdas.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::Path;

use ecs_lake::envelope::{
    LogNames, looks_like_export, maybe_gunzip, split_export, split_file_named,
};
use ecs_lake::rows::LogCounts;
use ecs_lake::sources::logs::payload::awslogs_stream;
use ecs_lake::time::now_micros;
use ecs_lake::{Input, LakeStore, Outcome, ingest_with};
use ecs_lake_aws::{AnyStore, LakeLocation, LocalStore, S3Store};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{IngestArgs, LakeArgs};
use crate::error::CliError;

/// Inputs normalized and written per call into the core; bounds memory on big files.
const CHUNK_INPUTS: usize = 50_000;

/// The ingester name in object keys and quarantine rows.
const SOURCE: &str = "backfill";

/// What a backfill did, summed over files.
#[derive(Debug, Default)]
pub struct Totals {
    pub files: usize,
    /// Events, payloads and export lines read.
    pub inputs: usize,
    pub written: usize,
    pub quarantined: usize,
    pub rows: BTreeMap<&'static str, usize>,
    pub logs: LogCounts,
    pub failed: Vec<String>,
}

impl Totals {
    /// Adds another run's counts (files are not counted twice: the caller counts them).
    pub fn merge(&mut self, other: Totals) {
        self.inputs += other.inputs;
        self.written += other.written;
        self.quarantined += other.quarantined;
        for (table, n) in other.rows {
            *self.rows.entry(table).or_default() += n;
        }
        add_counts(&mut self.logs, &other.logs);
        self.failed.extend(other.failed);
    }
}

pub async fn run(
    lake_args: &LakeArgs,
    args: IngestArgs,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let store = open_store(lake_args).await?;
    let names = LogNames {
        log_group: args.log_group,
        log_stream: args.log_stream,
        owner: None,
    };
    let options = ecs_lake::Options {
        redact_secrets: !args.keep_secrets,
    };
    let totals = ingest_files(&store, &args.files, &names, options).await?;
    print_totals(&totals, &lake_args.lake, out)?;
    match totals.failed.first() {
        Some(first) => Err(CliError::WriteFailed {
            count: totals.failed.len(),
            first: first.clone(),
        }),
        None => Ok(()),
    }
}

/// The lake as a store to write to; a local directory is created if missing.
pub async fn open_store(lake_args: &LakeArgs) -> Result<AnyStore, CliError> {
    let config = lake_args.config();
    Ok(match config.parsed()? {
        LakeLocation::Local(dir) => {
            std::fs::create_dir_all(&dir).map_err(|e| CliError::Lake {
                location: lake_args.lake.clone(),
                message: format!("cannot create the lake directory: {e}"),
                hint: "pass a writable directory with --lake",
            })?;
            AnyStore::Local(LocalStore::new(dir))
        }
        LakeLocation::S3 { bucket, prefix } => AnyStore::S3(S3Store::new(
            ecs_lake_aws::s3_client(&config.sdk_config().await, config.endpoint_url.is_some()),
            bucket,
            prefix,
        )),
    })
}

/// Ingests files into a store. Stops at the first file that cannot be read
/// (what was ingested before stays: re-running is idempotent).
pub async fn ingest_files<S: LakeStore>(
    store: &S,
    files: &[impl AsRef<Path>],
    export: &LogNames,
    options: ecs_lake::Options,
) -> Result<Totals, CliError> {
    let progress = if files.len() > 1 && std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(files.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {pos}/{len} files {wide_bar} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut totals = Totals::default();
    for path in files {
        let path = path.as_ref();
        let read = |e| CliError::ReadFile {
            path: path.to_owned(),
            source: e,
        };
        let bytes = std::fs::read(path).map_err(read)?;
        let content = maybe_gunzip(bytes).map_err(read)?;
        let inputs = split(path, &content, export)?;
        drop(content);
        totals.files += 1;
        ingest_inputs(store, SOURCE, &inputs, options, &mut totals).await;
        progress.inc(1);
        progress.set_message(format!("{} inputs", totals.inputs));
    }
    progress.finish_and_clear();
    Ok(totals)
}

/// Ingests inputs in chunks (bounding memory), adding to the totals.
pub async fn ingest_inputs<S: LakeStore>(
    store: &S,
    source: &str,
    inputs: &[Input],
    options: ecs_lake::Options,
    totals: &mut Totals,
) {
    totals.inputs += inputs.len();
    for chunk in inputs.chunks(CHUNK_INPUTS) {
        let report = ingest_with(store, source, chunk, now_micros(), options).await;
        for (table, n) in &report.rows {
            *totals.rows.entry(table).or_default() += n;
        }
        add_counts(&mut totals.logs, &report.logs);
        for outcome in &report.outcomes {
            match outcome {
                Outcome::Written => totals.written += 1,
                Outcome::Quarantined { .. } => totals.quarantined += 1,
                Outcome::Failed { error } => totals.failed.push(error.clone()),
            }
        }
    }
}

/// One file's inputs: an export's lines, or the JSON documents' events and payloads.
fn split(path: &Path, content: &[u8], export: &LogNames) -> Result<Vec<Input>, CliError> {
    let name = path.display().to_string();
    if !looks_like_export(content) {
        return split_file_named(&name, content, export).map_err(|missing| CliError::Usage {
            message: format!("{name} is {missing}"),
            hint: "pass --log-group (and --log-stream for get-log-events output)",
        });
    }
    let Some(group) = &export.log_group else {
        return Err(CliError::Usage {
            message: format!(
                "{name} looks like a CloudWatch Logs export (lines start with a timestamp), which does not record its log group"
            ),
            hint: "pass --log-group (and --log-stream unless the path names it)",
        });
    };
    let stream = export
        .log_stream
        .clone()
        .unwrap_or_else(|| stream_from_path(path));
    Ok(split_export(&name, content, group, &stream))
}

/// The log stream an export file belongs to: exports write each stream under
/// `<task>/<stream name>/000000.gz`, so an awslogs stream `prefix/container/task-id`
/// is the file's last three directories; otherwise the directory's name.
fn stream_from_path(path: &Path) -> String {
    let dirs: Vec<String> = path
        .parent()
        .into_iter()
        .flat_map(Path::components)
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if dirs.len() >= 3 {
        let three = dirs[dirs.len() - 3..].join("/");
        if awslogs_stream(&three).is_some() {
            return three;
        }
    }
    dirs.last().cloned().unwrap_or_default()
}

fn add_counts(total: &mut LogCounts, more: &LogCounts) {
    total.data_messages += more.data_messages;
    total.control_messages += more.control_messages;
    total.payloads_quarantined += more.payloads_quarantined;
    total.log_events += more.log_events;
    total.rows += more.rows;
    total.ecs_events += more.ecs_events;
    total.quarantined += more.quarantined;
}

pub fn print_totals(t: &Totals, lake: &str, out: &mut dyn Write) -> std::io::Result<()> {
    if t.files > 0 {
        writeln!(
            out,
            "read {} inputs from {} file(s) into {lake}",
            t.inputs, t.files
        )?;
    } else {
        writeln!(out, "wrote {} inputs into {lake}", t.inputs)?;
    }
    writeln!(out, "  written      {}", t.written)?;
    writeln!(
        out,
        "  quarantined  {}{}",
        t.quarantined,
        if t.quarantined > 0 {
            "  (see: ecs-query sql \"SELECT input_id, reason FROM quarantine\")"
        } else {
            ""
        }
    )?;
    if !t.failed.is_empty() {
        writeln!(out, "  failed       {}", t.failed.len())?;
    }
    if t.logs.log_events > 0 || t.logs.control_messages > 0 {
        writeln!(
            out,
            "  log events   {} ({} rows, {} quarantined); control messages dropped: {}",
            t.logs.log_events, t.logs.rows, t.logs.quarantined, t.logs.control_messages
        )?;
        if t.logs.ecs_events > 0 {
            writeln!(
                out,
                "  ECS events in log groups: {} (read as events, not log lines)",
                t.logs.ecs_events
            )?;
        }
    }
    for (table, rows) in &t.rows {
        writeln!(
            out,
            "  {:<18} {rows} rows",
            ecs_lake::schema::sql_name_of(table)
        )?;
    }
    Ok(())
}
