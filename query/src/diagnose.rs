//! `ecs-query diagnose <service> [window]`: the findings of
//! [`ecs_query_engine::diagnose`] for one service, as Markdown (also on a
//! terminal) or JSON; `ecs-query diff A B`, what changed in the
//! configuration the findings quote; and `ecs-query postmortem`, the draft
//! built from both ([`ecs_query_engine::postmortem`]).

use std::io::Write;

use ecs_query_engine::diagnose::evidence::Selector;
use ecs_query_engine::diagnose::{diagnose, markdown, scope_of};

use crate::cli::{DiagnoseArgs, DiffArgs, Format, LakeArgs, OutputArgs, PostmortemArgs};
use crate::error::CliError;

pub async fn run(
    lake_args: &LakeArgs,
    args: &DiagnoseArgs,
    output: &OutputArgs,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let scope = scope_of(&args.window, crate::ask::now(output))?;
    let selector = Selector::parse(&args.service);
    let lake = crate::open_lake(lake_args).await?;
    let diagnoses = diagnose(&lake, &selector, scope).await?;
    if diagnoses.is_empty() {
        return Err(CliError::Usage {
            message: format!("no tasks of service {:?} in the window", args.service),
            hint: "list the services with ecs-query \"stops by service, family last 30d\"; pass a longer window (e.g. last 30d), cluster/service, or standalone:<family> for tasks run outside a service",
        });
    }
    match output.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &diagnoses)
                .map_err(|e| CliError::Internal(format!("writing JSON: {e}")))?;
            writeln!(out)?;
        }
        _ => {
            for d in &diagnoses {
                out.write_all(markdown(d).as_bytes())?;
            }
        }
    }
    Ok(())
}

/// `ecs-query diff <from> <to>`: Markdown, or JSON with `-f json`.
pub async fn diff(
    lake_args: &LakeArgs,
    args: &DiffArgs,
    output: &OutputArgs,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    use ecs_query_engine::config;
    let lake = crate::open_lake(lake_args).await?;
    let all = config::containers(&lake.ctx).await?;
    let mut changes = config::diff(&all, &args.from, &args.to)?;
    // The services that ran both revisions, as captured with each.
    let history = config::service_history(&lake.ctx).await?;
    let groups = config::target_group_history(&lake.ctx).await?;
    changes.extend(config::service_diff(
        &history, &groups, &args.from, &args.to,
    ));
    match output.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &changes)
                .map_err(|e| CliError::Internal(format!("writing JSON: {e}")))?;
            writeln!(out)?;
        }
        _ => out.write_all(config::diff_markdown(&args.from, &args.to, &changes).as_bytes())?,
    }
    Ok(())
}

/// `ecs-query postmortem <service> --since T1 [--until T2]`: Markdown, the
/// self-contained page with `-f html`, or JSON with `-f json`; `--out FILE`
/// also writes the Markdown (or the page) there.
pub async fn postmortem(
    lake_args: &LakeArgs,
    args: &PostmortemArgs,
    output: &OutputArgs,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    use ecs_query_engine::postmortem::{html, markdown, postmortems};
    use ecs_query_engine::summary::Scope;
    let (from, to) = crate::report::window_of(
        Some(args.since.as_str()),
        args.until.as_deref(),
        crate::ask::now(output),
        0,
        "write e.g. --since 2026-11-19 --until 2026-11-20T06:00 (UTC; --until 2026-11-20 includes its day)",
    )?;
    let scope = Scope {
        from: Some(from),
        to: Some(to),
    };
    let lake = crate::open_lake(lake_args).await?;
    let drafts = postmortems(&lake, &Selector::parse(&args.service), scope).await?;
    if drafts.is_empty() {
        return Err(CliError::Usage {
            message: format!("no tasks of service {:?} in the window", args.service),
            hint: "list the services with ecs-query \"stops by service, family last 30d\"; widen --since/--until, or write cluster/service",
        });
    }
    let text: String = match output.format {
        Format::Html => drafts.iter().map(html).collect(),
        _ => drafts.iter().map(markdown).collect(),
    };
    if let Some(path) = &args.out {
        std::fs::write(path, &text)
            .map_err(|e| CliError::Internal(format!("writing {}: {e}", path.display())))?;
    }
    match output.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &drafts)
                .map_err(|e| CliError::Internal(format!("writing JSON: {e}")))?;
            writeln!(out)?;
        }
        _ => out.write_all(text.as_bytes())?,
    }
    Ok(())
}
