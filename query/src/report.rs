//! `ecs-query report`: the weekly reliability report of
//! [`ecs_query_engine::report`], as Markdown on stdout or as report.md,
//! report.html and report.json in a directory.

use std::io::Write;
use std::path::Path;

use ecs_query_engine::diagnose::evidence::Selector;
use ecs_query_engine::lang::parser::parse_time;
use ecs_query_engine::report::{Period, Report, WEEK_US, build, files, markdown};

use crate::cli::{Format, LakeArgs, OutputArgs, ReportArgs};
use crate::error::CliError;

/// The period the arguments ask for.
pub fn period_of(args: &ReportArgs, now: i64) -> Result<Period, CliError> {
    if let Some(w) = &args.week {
        return Period::week(w).ok_or_else(|| CliError::Usage {
            message: format!("--week {w:?} is not a ISO week"),
            hint: HINT,
        });
    }
    if args.since.is_none() && args.until.is_none() {
        return Ok(Period::last_week(now));
    }
    let (from, to) = window_of(
        args.since.as_deref(),
        args.until.as_deref(),
        now,
        WEEK_US,
        HINT,
    )?;
    // `window_of` refuses an empty window: the range exists.
    Period::range(from, to).ok_or_else(|| CliError::Internal("an empty period".into()))
}

const HINT: &str = "write --week 2026-W47, or --since 2026-11-16 --until 2026-11-22 (UTC; --until includes its day)";

/// `--since`/`--until` as a window `[from, to)` in µs: `--until` a date
/// includes its day and defaults to `now`; `--since` defaults to `default_len`
/// before the end. A value that is not a UTC date or time, or a window that
/// ends before it starts, is a usage error with `hint`.
pub fn window_of(
    since: Option<&str>,
    until: Option<&str>,
    now: i64,
    default_len: i64,
    hint: &'static str,
) -> Result<(i64, i64), CliError> {
    let bad = |what: &str, text: &str| CliError::Usage {
        message: format!("{what} {text:?} is not a UTC date"),
        hint,
    };
    let to = match until {
        Some(u) => parse_time(u, true).ok_or_else(|| bad("--until", u))?,
        None => now,
    };
    let from = match since {
        Some(s) => parse_time(s, false).ok_or_else(|| bad("--since", s))?,
        None => to - default_len,
    };
    if to <= from {
        return Err(CliError::Usage {
            message: "the period ends before it starts".into(),
            hint: "write --since EARLIER --until LATER",
        });
    }
    Ok((from, to))
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
    let lake = crate::open_lake(lake_args).await?;
    let report = build(&lake, &period, &selector).await?;
    match &args.out {
        None if output.format == Format::Html => {
            out.write_all(ecs_query_engine::report::html::page(&report).as_bytes())?
        }
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
