//! The SQL written for Athena (engine version 3, Trino): golden text for the
//! brief's questions and a timeline, and every plan the questions, the
//! timeline, `diagnose` and the weekly report run, as Athena SQL, parsed with
//! a Trino grammar, transpiled to DuckDB and run there on the same simulator
//! lake, with DataFusion's answers (`query/tests/athena/check.py`: PyPI
//! `sqlglot` and `duckdb`; required when ECS_REQUIRE_SQLGLOT is set, as
//! `.ci/run` sets it).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::path::{Path, PathBuf};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use ecs_query_engine::diagnose::{self, evidence::Selector};
use ecs_query_engine::dialect::{LoggedQuery, SqlDialect};
use ecs_query_engine::report::{self, Period};
use ecs_query_engine::{Lake, LakeConfig, ask, collect, timeline};
use ecs_sim::Preset;

mod common;
use common::block_on;

const HOURS: f64 = 72.0;
const SEED: u64 = 11;

fn slug(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

/// One plan that ran: its SQL in both dialects (or why it has none), its
/// columns and DataFusion's answer.
struct Printed {
    athena: Result<String, String>,
    duckdb: Result<String, String>,
    schema: SchemaRef,
    answer: Vec<RecordBatch>,
}

/// Printed on the planner's deep stack (the unparser recurses as DataFusion does).
fn printed(queries: Vec<LoggedQuery>) -> Vec<Printed> {
    queries
        .into_iter()
        .map(|q| Printed {
            athena: q.sql(SqlDialect::Athena).map_err(|e| e.to_string()),
            duckdb: q.sql(SqlDialect::DuckDb).map_err(|e| e.to_string()),
            schema: q.schema(),
            answer: q.answer,
        })
        .collect()
}

/// Every plan each step ran, labelled by step.
fn run_everything(lake_dir: &Path) -> Vec<(String, Vec<Printed>)> {
    let preset = Preset::fleet(HOURS);
    let now = common::end_micros(&preset);
    let oom_task = common::oom_killed_task(common::fleet_truth(HOURS, SEED));
    let dir = lake_dir.to_str().unwrap().to_owned();
    block_on(|| async move {
        let lake = Lake::open(&LakeConfig::at(dir)).await.unwrap();
        let log = lake.log_queries();
        let mut steps = Vec::new();
        for q in common::BRIEF_QUESTIONS {
            collect(ask::plan(&lake, q, now).await.unwrap())
                .await
                .unwrap();
            steps.push((slug(q), printed(log.take())));
        }
        // Hand-written SQL over a view: the view's plan is sent in its place.
        let df = ask::sql(&lake, common::SQL_OVER_A_VIEW).await.unwrap();
        collect(df).await.unwrap();
        steps.push(("sql".to_owned(), printed(log.take())));
        let (_, df) = timeline::timeline(&lake, &oom_task, 5, now).await.unwrap();
        collect(df).await.unwrap();
        steps.push(("timeline".to_owned(), printed(log.take())));
        diagnose::diagnose(&lake, &Selector::default(), common::whole_range(&preset))
            .await
            .unwrap();
        steps.push(("diagnose".to_owned(), printed(log.take())));
        let period = Period::range(preset.start_ms * 1000, now).unwrap();
        report::build(&lake, &period, &Selector::default())
            .await
            .unwrap();
        steps.push(("report".to_owned(), printed(log.take())));
        steps
    })
}

fn csv_of(q: &Printed) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = datafusion::arrow::csv::WriterBuilder::new()
        .with_header(true)
        .build(&mut out);
    // The header even when no row came back.
    w.write(&RecordBatch::new_empty(q.schema.clone())).unwrap();
    for b in &q.answer {
        w.write(b).unwrap();
    }
    drop(w);
    out
}

/// An empty Parquet file per lake table nothing was written to, under
/// `dir`: Athena has the Glue table, DuckDB needs its columns.
fn empty_tables(lake_dir: &Path, dir: &Path) {
    use datafusion::parquet::arrow::ArrowWriter;
    for table in ecs_lake::schema::TABLES
        .iter()
        .chain(ecs_lake::schema::DERIVED)
    {
        let has_files =
            std::fs::read_dir(lake_dir.join(table.name)).is_ok_and(|mut d| d.next().is_some());
        if has_files {
            continue;
        }
        let schema = (table.schema)();
        let file =
            std::fs::File::create(dir.join(format!("{}.parquet", table.sql_name()))).unwrap();
        let mut w = ArrowWriter::try_new(file, schema.clone(), None).unwrap();
        w.write(&RecordBatch::new_empty(schema)).unwrap();
        w.close().unwrap();
    }
}

#[test]
fn athena_sql_parses_as_trino_and_answers_as_datafusion_on_duckdb() {
    let lake_dir = common::fleet_lake(HOURS, SEED);
    let steps = run_everything(lake_dir);

    // Golden text: the brief's questions and the timeline, as a user pastes
    // them into Athena's console.
    for (label, queries) in &steps {
        if ["diagnose", "report", "sql"].contains(&label.as_str()) {
            continue;
        }
        let last = queries.last().expect("each question runs a plan");
        insta::assert_snapshot!(format!("athena_{label}"), last.athena.as_ref().unwrap());
    }

    let out: PathBuf = tempfile::tempdir().unwrap().keep();
    let mut written = 0;
    for (label, queries) in &steps {
        assert!(!queries.is_empty(), "{label} ran no plan through collect");
        for (i, q) in queries.iter().enumerate() {
            let sql = q
                .athena
                .as_ref()
                .unwrap_or_else(|e| panic!("{label} #{i}: no Athena SQL: {e}"));
            for refused in [
                "AS TIMESTAMP WITH",
                "T00:00:00",
                "date_bin(",
                "percentile_cont",
                "median(",
                "date_part(",
                "DAY TO SECOND",
            ] {
                assert!(
                    !sql.contains(refused),
                    "{label} #{i}: {refused} is not Trino: {sql}"
                );
            }
            // Every windowed plan prunes partitions (hand-written SQL over
            // the whole lake has no window to give).
            assert!(
                label == "sql"
                    || !sql.contains("FROM \"task_events\"")
                    || sql.contains("\"dt\" >="),
                "{label} #{i}: a task_events scan without its dt range: {sql}"
            );
            let stem = out.join(format!("{written:03}-{label}-{i}"));
            std::fs::write(stem.with_extension("trino.sql"), sql).unwrap();
            let duckdb = q
                .duckdb
                .as_ref()
                .unwrap_or_else(|e| panic!("{label} #{i}: no DuckDB SQL: {e}"));
            std::fs::write(stem.with_extension("duckdb.sql"), duckdb).unwrap();
            std::fs::write(stem.with_extension("csv"), csv_of(q)).unwrap();
            written += 1;
        }
    }

    let empty = tempfile::tempdir().unwrap().keep();
    empty_tables(lake_dir, &empty);
    let checker = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/athena/check.py");
    let run = std::process::Command::new("python3")
        .arg(&checker)
        .arg(lake_dir)
        .arg(&out)
        .arg(&empty)
        .output();
    let required = std::env::var_os("ECS_REQUIRE_SQLGLOT").is_some();
    let run = match run {
        Ok(run) if run.status.code() == Some(3) && !required => {
            eprintln!(
                "skipped: {} (pip install sqlglot duckdb; ECS_REQUIRE_SQLGLOT=1 makes it required)",
                String::from_utf8_lossy(&run.stdout).trim()
            );
            return;
        }
        Ok(run) => run,
        Err(e) if !required => {
            eprintln!("skipped: no python3 ({e})");
            return;
        }
        Err(e) => panic!("python3 is required (ECS_REQUIRE_SQLGLOT): {e}"),
    };
    let report = String::from_utf8_lossy(&run.stdout);
    eprintln!("{report}{}", String::from_utf8_lossy(&run.stderr));
    assert!(
        run.status.success(),
        "Athena SQL that Trino's grammar refuses or DuckDB answers differently ({} plans in {}):\n{report}",
        written,
        out.display()
    );
    assert_eq!(
        report.lines().count(),
        2 * written,
        "one verdict per plan and dialect"
    );
    for label in ["sql", "timeline", "diagnose", "report"] {
        assert!(
            report.lines().any(|l| l.contains(&format!("-{label}-"))),
            "{label}'s plans were checked"
        );
    }
}
