//! `ecs-query postmortem` over a simulator lake (fleet preset, 72 h, seed 11):
//! the impact figures and the timeline held to the simulator's ground truth,
//! the root cause and action items to the diagnosis.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::BTreeMap;
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

#[test]
fn the_charts_hold_the_truth_and_render_in_headless_chromium() {
    let p = draft("api");
    let c = &p.charts;
    // Every stop of the window in its hour, by cause, as the truth has them.
    let mut by_cause: BTreeMap<&str, usize> = BTreeMap::new();
    for h in &c.stops_per_hour {
        for (cause, n) in &h.causes {
            *by_cause.entry(cause).or_default() += n;
        }
    }
    let mut truth_causes: BTreeMap<&str, usize> = BTreeMap::new();
    for t in truth_tasks("api") {
        if let (Some(cause), Some(_)) = (t.stop_cause, t.stopped_at_ms) {
            *truth_causes.entry(cause).or_default() += 1;
        }
    }
    assert_eq!(by_cause, truth_causes);
    // And each in its hour.
    let mut truth_hours: BTreeMap<(i64, &str), usize> = BTreeMap::new();
    for t in truth_tasks("api") {
        if let (Some(cause), Some(at)) = (t.stop_cause, t.stopped_at_ms) {
            *truth_hours
                .entry((at * 1000 - (at * 1000).rem_euclid(3_600_000_000), cause))
                .or_default() += 1;
        }
    }
    let chart_hours: BTreeMap<(i64, &str), usize> = c
        .stops_per_hour
        .iter()
        .flat_map(|h| {
            h.causes
                .iter()
                .map(move |(cause, n)| ((h.hour, *cause), *n))
        })
        .collect();
    assert_eq!(chart_hours, truth_hours);
    let deployments = truth()
        .deployments
        .iter()
        .filter(|d| d.service == "api")
        .count();
    assert_eq!(c.deployments.len(), deployments);
    // api:42 leaks 75 MiB/h from 430 MiB (the preset): its median reaches
    // the 1024 MiB limit after (1024 - 430) / 75 = 7.9 h of uptime.
    let leak = c.memory.iter().find(|m| m.revision == "api:42").unwrap();
    let expected = (1024.0 - 430.0) / 75.0;
    let projected = leak.projected_oom_h.unwrap();
    assert!(
        (projected - expected).abs() / expected < 0.1,
        "{projected} h"
    );
    assert_eq!(leak.limit_mib, Some(1024));
    let first = leak.points[0];
    assert!((first.p50_mib - 430.0).abs() < 40.0, "{first:?}");
    let steady = c.memory.iter().find(|m| m.revision == "api:41").unwrap();
    assert!(steady.projected_oom_h.is_none());
    // Time to healthy: the warm-ups of the preset (18 s, 75 s) and the tasks
    // of api:42 stopped by the load balancer before they ever were healthy.
    let healthy = |r: &str| c.time_to_healthy.iter().find(|h| h.revision == r).unwrap();
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    assert!(median(&healthy("api:41").seconds) < 60.0);
    assert!(median(&healthy("api:42").seconds) > 60.0);
    let never = truth_tasks("api")
        .iter()
        .filter(|t| t.revision == 42 && t.stop_cause == Some("elb_health_check"))
        .filter(|t| t.time_to_healthy_s.is_none())
        .count();
    assert_eq!(healthy("api:42").never, never);

    let html = ecs_query_engine::postmortem::html(&p);
    for needle in ["src=", "href=\"http", "@import", "url(", "<script"] {
        assert!(!html.contains(needle), "{needle} in the page");
    }
    assert!(html.contains("Post-mortem draft: prod/api"));
    let Some(chrome) = common::chromium() else {
        return;
    };
    let artefacts = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("postmortem-html");
    std::fs::create_dir_all(&artefacts).unwrap();
    let (console, charts) = common::laid_out_charts(&chrome, &artefacts, &html);
    assert!(console.is_empty(), "console: {console:?}");
    let ids: Vec<&str> = charts.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        ["stops-per-hour", "memory-over-uptime", "time-to-healthy"]
    );
    for c in &charts {
        assert!(
            c["w"].as_f64().unwrap() > 100.0 && c["h"].as_f64().unwrap() > 40.0,
            "{c}"
        );
        assert!(c["marks"].as_u64().unwrap() >= 2, "{c}");
    }
    let page = artefacts.join("postmortem.html");
    std::fs::write(&page, &html).unwrap();
    common::screenshot(&chrome, &page, "postmortem");
}

#[test]
fn time_below_the_desired_count_matches_the_truth() {
    let p = draft("api");
    let desired = preset()
        .services
        .iter()
        .find(|s| s.name == "api")
        .unwrap()
        .desired;
    assert_eq!(p.impact.desired_count, Some(desired as i64));
    // The truth's own account: every simulated service has a health check,
    // so a task is healthy from its first passing check until it stopped,
    // and one that never passed never counts.
    let (lo, hi) = (preset().start_ms, common::end_micros(&preset()) / 1000 + 1);
    let healthy: Vec<(i64, i64)> = truth_tasks("api")
        .iter()
        .filter_map(|t| {
            let up = t.started_at_ms + (t.time_to_healthy_s? * 1000.0) as i64;
            let down = t.stopped_at_ms.unwrap_or(i64::MAX);
            (down > up).then_some((up, down))
        })
        .collect();
    let mut below_ms = 0;
    for ms in (lo..hi).step_by(1000) {
        if (healthy.iter().filter(|(u, d)| *u <= ms && *d > ms).count()) < desired {
            below_ms += 1000;
        }
    }
    let below = p.impact.below_desired_s.unwrap();
    assert!(
        below_ms > 60_000,
        "the OOM kills and failed health checks leave gaps"
    );
    // Sampled each second: each of the intervals' ends is off by under 1 s.
    let tolerance = 2.0 * healthy.len() as f64;
    assert!(
        tolerance * 10.0 < below,
        "the sampling error is small beside it"
    );
    assert!(
        (below - below_ms as f64 / 1000.0).abs() <= tolerance,
        "{below} s against the truth's {} s (within {tolerance} s)",
        below_ms / 1000
    );
}
