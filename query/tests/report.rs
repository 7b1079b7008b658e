//! `ecs-query report` over a simulator lake (fleet preset, 72 h, seed 11,
//! all inside ISO week 2026-W47): figures held to the simulator's truth,
//! week-over-week consistent with the week before, and the HTML page opened
//! in headless Chromium (no console messages, every chart laid out, a
//! screenshot kept under the target directory).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

mod common;
use common::{block_on, chromium, headless, laid_out_charts, lake_args, screenshot};
use ecs_lake::sources::logs::signature::Signature;
use ecs_query::cli::DemoPreset;
use ecs_query_engine::Lake;
use ecs_query_engine::diagnose::evidence::Selector;
use ecs_query_engine::diagnose::findings::FindingKind;
use ecs_query_engine::report::{self, Period, Report};
use ecs_sim::{Preset, Truth};

const HOURS: f64 = 72.0;
const SEED: u64 = 11;

fn lake_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| common::build_lake(DemoPreset::Fleet, HOURS, SEED))
}

fn truth() -> &'static Truth {
    static TRUTH: OnceLock<Truth> = OnceLock::new();
    TRUTH.get_or_init(|| ecs_sim::simulate(&Preset::fleet(HOURS), SEED).truth)
}

fn build(period: &Period) -> Report {
    lake_dir();
    block_on(|| async {
        let lake = Lake::open(&lake_args(lake_dir()).config()).await.unwrap();
        report::build(&lake, period, &Selector::default())
            .await
            .unwrap()
    })
}

fn week() -> &'static Report {
    static REPORT: OnceLock<Report> = OnceLock::new();
    REPORT.get_or_init(|| build(&Period::week("2026-W47").unwrap()))
}

#[test]
fn the_simulation_lies_inside_the_week() {
    let p = Preset::fleet(HOURS);
    let w = Period::week("2026-W47").unwrap();
    assert!(p.start_ms * 1000 >= w.from && common::end_micros(&p) < w.to);
}

#[test]
fn weekly_figures_match_the_truth() {
    let r = week();
    let services: Vec<&str> = r.services.iter().map(|s| s.service.as_str()).collect();
    // Standalone tasks (no service) are reported per family.
    assert_eq!(
        services,
        [
            "api",
            "billing",
            "checkout",
            "render",
            "search",
            "standalone:migrate",
            "worker"
        ]
    );
    for svc in &r.services {
        let of_service = |t: &ecs_sim::TaskTruth| match t.service.as_str() {
            "" => svc.service == format!("standalone:{}", t.family),
            s => s == svc.service,
        };
        let tasks: Vec<_> = truth().tasks.iter().filter(|t| of_service(t)).collect();
        let count = |f: &dyn Fn(&ecs_sim::TaskTruth) -> bool| tasks.iter().filter(|t| f(t)).count();
        let f = &svc.this_week;
        let name = &svc.service;
        assert_eq!(f.tasks, tasks.len(), "{name}");
        assert_eq!(f.stopped, count(&|t| t.stop_cause.is_some()), "{name}");
        assert_eq!(
            f.oom_kills,
            count(&|t| t.exit_kind == Some("sigkill_oom")),
            "{name}"
        );
        assert_eq!(
            f.stop_timeout_kills,
            count(&|t| t.exit_kind == Some("sigkill_after_stop_timeout")),
            "{name}"
        );
        assert_eq!(
            f.health_check_stops,
            count(&|t| t.stop_cause == Some("elb_health_check")),
            "{name}"
        );
        assert_eq!(
            f.app_errors,
            count(&|t| t.exit_kind == Some("app_error")),
            "{name}"
        );
        let mut causes = BTreeMap::new();
        for t in &tasks {
            if let Some(c) = t.stop_cause {
                *causes.entry(c.to_owned()).or_insert(0) += 1;
            }
        }
        assert_eq!(
            report::by_name(&svc.stopped_by_cause),
            causes.into_iter().collect::<Vec<_>>(),
            "{name}"
        );
        let failed = truth()
            .deployments
            .iter()
            .filter(|d| d.service == *name && d.outcome != "completed")
            .count();
        assert_eq!(f.failed_deployments, failed, "{name}");
        // Nothing ran the week before.
        assert_eq!(svc.previous_week.tasks, 0, "{name}");
    }
    let api = &r.services[0];
    // Kernel OOM kills leave no heap message (the heap cap is above the limit).
    assert!(api.this_week.oom_kills > 0);
    assert_eq!(
        api.top_signatures
            .iter()
            .find(|(s, _)| *s == Signature::NodeHeapOom),
        None
    );
    assert!(api.findings.iter().any(|f| f.kind == FindingKind::OomKills));
    let headroom = api.memory.iter().find(|m| m.revision == "api:42").unwrap();
    assert_eq!(headroom.headroom_pct, Some(0.0));
}

#[test]
fn week_over_week_compares_with_the_period_before() {
    // Two days against the two days before them.
    let later = Period {
        name: "later".into(),
        from: Period::week("2026-W47").unwrap().from + 5 * 86_400_000_000,
        to: Period::week("2026-W47").unwrap().from + 7 * 86_400_000_000,
    };
    let this = build(&later);
    let before = build(&later.previous());
    assert_eq!(this.previous_totals, before.totals);
    for svc in &this.services {
        let b = before.services.iter().find(|b| b.service == svc.service);
        assert_eq!(
            svc.previous_week,
            b.map(|b| b.this_week).unwrap_or_default(),
            "{}",
            svc.service
        );
    }
    assert!(this.totals.tasks > 0 && before.totals.tasks > 0);
}

#[test]
fn markdown_and_json_carry_every_service_and_finding() {
    let r = week();
    let files = report::files(r).unwrap();
    let names: Vec<&str> = files.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["report.md", "report.html", "report.json"]);
    let md = String::from_utf8(files[0].1.clone()).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&files[2].1).unwrap();
    assert_eq!(json["period"]["name"], "2026-W47");
    for (i, svc) in r.services.iter().enumerate() {
        assert!(md.contains(&format!("## {}/{}", svc.cluster, svc.service)));
        assert_eq!(
            json["services"][i]["this_week"]["oom_kills"],
            svc.this_week.oom_kills
        );
        for f in &svc.findings {
            assert!(md.contains(&f.title.to_string()), "{}", f.title);
        }
    }
    // The fleet's task definitions are in the lake: the api OOM finding's
    // patches are in all three renderings.
    let html = String::from_utf8(files[1].1.clone()).unwrap();
    let patched = r.services[0]
        .findings
        .iter()
        .find(|f| !f.patches.is_empty())
        .expect("a finding with patches");
    for p in &patched.patches {
        assert!(md.contains(&format!("Patch ({})", p.what)), "{}", p.what);
        let in_html = ecs_query_engine::report::html::esc(&p.what);
        assert!(
            html.contains(&format!("<summary>Patch: {in_html}</summary>")),
            "{in_html}"
        );
        assert!(
            json.to_string()
                .contains(&serde_json::to_string(&p.what).unwrap())
        );
    }
}

#[test]
fn html_renders_in_headless_chromium() {
    let html = String::from_utf8(report::files(week()).unwrap().remove(1).1).unwrap();
    // Self-contained: nothing fetched from elsewhere.
    for needle in ["src=", "href=\"http", "@import", "url(", "<script"] {
        assert!(!html.contains(needle), "{needle} in the page");
    }
    let Some(chrome) = chromium() else { return };
    let artefacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-html");
    std::fs::create_dir_all(&artefacts).unwrap();
    let page = artefacts.join("report.html");
    std::fs::write(&page, &html).unwrap();

    // The console detection works: a page that logs is caught.
    let noisy = artefacts.join("noisy.html");
    std::fs::write(
        &noisy,
        "<!doctype html><body><script>console.error('boom')</script></body>",
    )
    .unwrap();
    let (_, console) = headless(&chrome, &noisy, &["--dump-dom"]);
    assert!(console.iter().any(|l| l.contains("boom")), "{console:?}");

    // The report page: no console message at all.
    let (console, charts) = laid_out_charts(&chrome, &artefacts, &html);
    assert!(console.is_empty(), "console: {console:?}");
    // One summary chart, and per service a week-over-week and a memory peak
    // chart, and stops per hour, memory over uptime and time to healthy
    // where there is data for them.
    let optional: usize = week()
        .services
        .iter()
        .map(|s| {
            let c = &s.charts;
            usize::from(!c.stops_per_hour.is_empty() || !c.deployments.is_empty())
                + usize::from(!c.memory.is_empty())
                + usize::from(!c.time_to_healthy.is_empty())
        })
        .sum();
    let api = week().services.iter().find(|s| s.service == "api").unwrap();
    assert!(
        !api.charts.stops_per_hour.is_empty()
            && !api.charts.memory.is_empty()
            && !api.charts.time_to_healthy.is_empty(),
        "the leaking api has all three"
    );
    assert_eq!(
        charts.len(),
        1 + 2 * week().services.len() + optional,
        "{charts:?}"
    );
    for c in &charts {
        assert!(
            c["w"].as_f64().unwrap() > 100.0 && c["h"].as_f64().unwrap() > 40.0,
            "{c}"
        );
        assert!(c["marks"].as_u64().unwrap() >= 1, "{c}");
    }

    // A screenshot, kept as the test's artefact.
    screenshot(&chrome, &page, "report");
}
