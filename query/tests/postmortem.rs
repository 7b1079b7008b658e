//! `ecs-query postmortem` over a simulator lake (fleet preset, 72 h, seed 11):
//! the impact figures and the timeline held to the simulator's ground truth,
//! the root cause and action items to the diagnosis.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::path::PathBuf;

mod common;
use common::{abnormal, block_on, lake_args};
use ecs_lake::time::date_time_of;
use ecs_query::cli::{Format, PostmortemArgs};
use ecs_query_engine::Lake;
use ecs_query_engine::diagnose::evidence::Selector;
use ecs_query_engine::diagnose::findings::FindingKind;
use ecs_query_engine::postmortem::{MomentKind, Postmortem, postmortems};
use ecs_query_engine::summary::Scope;
use ecs_sim::{Preset, TaskTruth, Truth};

const HOURS: f64 = 72.0;
const SEED: u64 = 11;

fn preset() -> Preset {
    Preset::fleet(HOURS)
}

fn lake_dir() -> &'static PathBuf {
    common::fleet_lake(HOURS, SEED)
}

fn truth() -> &'static Truth {
    common::fleet_truth(HOURS, SEED)
}

fn scope() -> Scope {
    common::whole_range(&preset())
}

fn draft(service: &str) -> Postmortem {
    lake_dir();
    let mut all = block_on(|| async {
        let lake = Lake::open(&lake_args(lake_dir()).config()).await.unwrap();
        postmortems(&lake, &Selector::parse(service), scope())
            .await
            .unwrap()
    });
    assert_eq!(all.len(), 1, "one cluster runs {service}");
    all.remove(0)
}

fn truth_tasks(service: &str) -> Vec<&'static TaskTruth> {
    truth()
        .tasks
        .iter()
        .filter(|t| t.service == service)
        .collect()
}

#[test]
fn the_leaking_api_impact_and_timeline_match_the_truth() {
    let p = draft("api");
    let tasks = truth_tasks("api");
    let mut stops: Vec<i64> = tasks
        .iter()
        .filter(|t| abnormal(t))
        .filter_map(|t| t.stopped_at_ms)
        .collect();
    stops.sort_unstable();
    assert!(stops.len() > 5, "the preset's leak kills tasks");
    assert_eq!(p.impact.tasks, tasks.len());
    assert_eq!(p.impact.abnormal_stops, stops.len());
    assert_eq!(
        p.impact.first_abnormal_stop.as_deref(),
        Some(date_time_of(stops[0] * 1000).as_str())
    );
    assert_eq!(
        p.impact.last_abnormal_stop.as_deref(),
        Some(date_time_of(stops[stops.len() - 1] * 1000).as_str())
    );
    for cause in ["oom_killed", "elb_health_check"] {
        let n = tasks.iter().filter(|t| t.stop_cause == Some(cause)).count();
        assert!(n > 0, "{cause}");
        assert_eq!(p.impact.stopped_by_cause.get(cause), Some(&n), "{cause}");
    }

    // The timeline: api:42's deployment, then its first abnormal stop (the
    // truth's first), in time order.
    let times: Vec<&str> = p.timeline.iter().map(|m| m.at.as_str()).collect();
    let mut sorted = times.clone();
    sorted.sort_unstable();
    assert_eq!(times, sorted);
    let deployed = p
        .timeline
        .iter()
        .find(|m| m.kind == MomentKind::DeploymentStarted && m.what.contains("api:42"))
        .unwrap_or_else(|| panic!("{:#?}", p.timeline));
    let first_42 = tasks
        .iter()
        .filter(|t| t.revision == 42 && abnormal(t))
        .filter_map(|t| t.stopped_at_ms)
        .min()
        .unwrap();
    let first = p
        .timeline
        .iter()
        .find(|m| m.kind == MomentKind::FirstAbnormalStop && m.what.contains("api:42"))
        .unwrap();
    assert_eq!(first.at, date_time_of(first_42 * 1000));
    assert!(deployed.at < first.at);
    let n_42 = tasks
        .iter()
        .filter(|t| t.revision == 42 && abnormal(t))
        .count();
    assert!(
        first.what.contains(&format!("({n_42} in all)")),
        "{}",
        first.what
    );
    // Revision 42 runs to the end: the incident is not over.
    assert!(
        !p.timeline.iter().any(|m| m.kind == MomentKind::SteadyAgain),
        "{:#?}",
        p.timeline
    );
    assert!(p.summary.contains("Not resolved"), "{}", p.summary);

    // Root cause and action items are the diagnosis's.
    let oom = p
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::OomKills)
        .unwrap();
    assert_eq!(oom.revisions, ["api:42"]);
    assert!(
        p.findings
            .iter()
            .all(|f| f.revisions.iter().all(|r| r == "api:42")),
        "the previous revision is not blamed"
    );
    assert!(p.summary.contains(&p.findings[0].title.to_string()));
    assert!(!p.actions.is_empty() && !p.actions[0].patches.is_empty());
    // What changed from 41 to 42, as the task definitions say.
    let change = p
        .changes
        .iter()
        .find(|c| c.from == "api:41" && c.to == "api:42");
    assert!(
        change.is_some_and(|c| !c.changes.is_empty()),
        "{:#?}",
        p.changes
    );
}

#[test]
fn the_checkout_rollback_is_on_the_timeline() {
    let p = draft("checkout");
    let failed = truth()
        .deployments
        .iter()
        .filter(|d| d.service == "checkout" && d.outcome != "completed")
        .count();
    assert!(failed > 0, "the preset's revision 13 cannot be pulled");
    assert_eq!(p.impact.failed_deployments, failed, "{:#?}", p.impact);
    assert!(p.impact.rollbacks > 0, "{:#?}", p.impact);
    let failed_to_start = truth_tasks("checkout")
        .iter()
        .filter(|t| t.stop_cause == Some("failed_to_start"))
        .count();
    assert_eq!(
        p.impact.stopped_by_cause.get("failed_to_start"),
        Some(&failed_to_start)
    );
    let ended = p
        .timeline
        .iter()
        .find(|m| m.kind == MomentKind::DeploymentEnded && m.what.contains("checkout:13"))
        .unwrap_or_else(|| panic!("{:#?}", p.timeline));
    assert!(ended.what.ends_with("rolled back"), "{}", ended.what);
    let rollback = p
        .timeline
        .iter()
        .find(|m| m.kind == MomentKind::Rollback)
        .unwrap_or_else(|| panic!("{:#?}", p.timeline));
    assert!(rollback.what.contains("checkout:12"), "{}", rollback.what);
    // Revision 12 still segfaults now and then: not steady by this draft's rule.
    assert!(!p.timeline.iter().any(|m| m.kind == MomentKind::SteadyAgain));
}

#[test]
fn the_billing_crash_loop_ends_with_the_fix() {
    let p = draft("billing");
    let tasks = truth_tasks("billing");
    let last = tasks
        .iter()
        .filter(|t| abnormal(t))
        .filter_map(|t| t.stopped_at_ms)
        .max()
        .unwrap();
    assert!(
        tasks
            .iter()
            .filter(|t| abnormal(t))
            .all(|t| t.revision == 5)
    );
    assert_eq!(
        p.impact.last_abnormal_stop.as_deref(),
        Some(date_time_of(last * 1000).as_str())
    );
    let steady = p
        .timeline
        .iter()
        .find(|m| m.kind == MomentKind::SteadyAgain)
        .unwrap_or_else(|| panic!("{:#?}", p.timeline));
    assert!(steady.what.contains("billing:6"), "{}", steady.what);
    assert!(steady.at > date_time_of(last * 1000));
    assert!(
        p.summary.contains("Steady again once billing:6 ran"),
        "{}",
        p.summary
    );
}

#[test]
fn cli_writes_markdown_and_json_and_refuses_bad_windows() {
    let p = preset();
    let since = date_time_of(p.start_ms * 1000);
    let until = date_time_of(common::end_micros(&p));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("api.md");
    let run = |args: PostmortemArgs, format: Format| {
        lake_dir();
        let mut out = Vec::new();
        let result = block_on(|| async {
            ecs_query::diagnose::postmortem(
                &lake_args(lake_dir()),
                &args,
                &common::output(format, common::end_micros(&p)),
                &mut out,
            )
            .await
        });
        result.map(|()| String::from_utf8(out).unwrap())
    };
    let args = |service: &str, since: &str| PostmortemArgs {
        service: service.into(),
        since: since.into(),
        until: Some(until.clone()),
        out: Some(file.clone()),
    };
    let md = run(args("api", &since), Format::Markdown).unwrap();
    for section in [
        "# Post-mortem draft: prod/api",
        "## Summary",
        "## Impact",
        "## Timeline (UTC)",
        "## Root cause",
        "## What changed between the revisions",
        "### api:41 -> api:42",
        "## Action items",
        "- [ ] [critical]",
        "ecs-query timeline ",
    ] {
        assert!(md.contains(section), "{section}:\n{md}");
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), md);
    let json: serde_json::Value =
        serde_json::from_str(&run(args("api", &since), Format::Json).unwrap()).unwrap();
    assert_eq!(json[0]["service"], "api");
    assert!(json[0]["impact"]["abnormal_stops"].as_u64().unwrap() > 5);
    assert!(
        json[0]["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["kind"] == "first_abnormal_stop")
    );

    let err = run(args("api", "yesterday-ish"), Format::Markdown).unwrap_err();
    assert!(err.to_string().contains("--since"), "{err}");
    let err = run(args("nope", &since), Format::Markdown).unwrap_err();
    assert!(err.to_string().contains("no tasks of service"), "{err}");
}
