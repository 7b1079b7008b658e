//! `ecs-query report`: the weekly reliability report of
//! [`ecs_query_engine::report`], as Markdown on stdout or as report.md,
//! report.html and report.json in a directory.

use std::io::Write;
use std::path::Path;

use ecs_query_engine::Lake;
use ecs_query_engine::diagnose::evidence::Selector;
use ecs_query_engine::lang::parser::parse_time;
use ecs_query_engine::report::{Period, Report, WEEK_US, build, files, markdown};

use crate::cli::{LakeArgs, OutputArgs, ReportArgs};
use crate::error::CliError;

/// The period the arguments ask for.
pub fn period_of(args: &ReportArgs, now: i64) -> Result<Period, CliError> {
    let bad = |what: &str, text: &str| CliError::Usage {
        message: format!(
            "{what} {text:?} is not a {}",
            if what == "--week" {
                "ISO week"
            } else {
                "UTC date"
            }
        ),
        hint: "write --week 2026-W47, or --since 2026-11-16 --until 2026-11-22 (UTC; --until includes its day)",
    };
    if let Some(w) = &args.week {
        return Period::week(w).ok_or_else(|| bad("--week", w));
    }
    match (&args.since, &args.until) {
        (None, None) => Ok(Period::last_week(now)),
        (since, until) => {
            let to = match until {
                Some(u) => parse_time(u, true).ok_or_else(|| bad("--until", u))?,
                None => now,
            };
            let from = match since {
                Some(s) => parse_time(s, false).ok_or_else(|| bad("--since", s))?,
                None => to - WEEK_US,
            };
            Period::range(from, to).ok_or_else(|| CliError::Usage {
                message: "the period ends before it starts".into(),
                hint: "write --since EARLIER --until LATER",
            })
        }
    }
}

pub async fn run(
    lake_args: &LakeArgs,
    args: &ReportArgs,
    output: &OutputArgs,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let period = period_of(args, crate::ask::now(output))?;
    let selector = args
        .service
        .as_deref()
        .map(Selector::parse)
        .unwrap_or_default();
    let lake = Lake::open(&lake_args.config()).await?;
    let report = build(&lake, &period, &selector).await?;
    match &args.out {
        None => out.write_all(markdown(&report).as_bytes())?,
        Some(dir) => {
            write_files(dir, &report)?;
            writeln!(
                out,
                "{} written to {}: report.md, report.html, report.json",
                report.title,
                dir.display()
            )?;
        }
    }
    Ok(())
}

fn write_files(dir: &Path, report: &Report) -> Result<(), CliError> {
    std::fs::create_dir_all(dir).map_err(|source| CliError::ReadFile {
        path: dir.to_owned(),
        source,
    })?;
    for (name, body) in files(report)? {
        let path = dir.join(name);
        std::fs::write(&path, body).map_err(|source| CliError::ReadFile { path, source })?;
    }
    Ok(())
}
