//! `ecs-query diagnose` over a simulator lake (fleet preset, 72 h, seed 11):
//! every finding is held to the simulator's ground truth and to the preset's
//! own parameters (leak slope, warm-up, limits), as the issue states them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::path::PathBuf;

mod common;
use common::{block_on, lake_args};
use ecs_query::cli::{DiagnoseArgs, Format};
use ecs_query::diagnose::run as diagnose_run;
use ecs_query_engine::Lake;
use ecs_query_engine::diagnose::evidence::Selector;
use ecs_query_engine::diagnose::findings::{Fact, Finding, FindingKind, Recommendation, Severity};
use ecs_query_engine::diagnose::{self, Diagnosis};
use ecs_query_engine::summary::Scope;
use ecs_sim::{Memory, Preset, TaskTruth, Truth};

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

/// The whole simulated range.
fn scope() -> Scope {
    common::whole_range(&preset())
}

fn diagnosis(service: &str) -> Diagnosis {
    lake_dir();
    let mut all = block_on(|| async {
        let lake = Lake::open(&lake_args(lake_dir()).config()).await.unwrap();
        diagnose::diagnose(&lake, &Selector::parse(service), scope())
            .await
            .unwrap()
    });
    assert_eq!(all.len(), 1, "one cluster runs {service}");
    all.remove(0)
}

fn truth_count(service: &str, revision: i32, f: impl Fn(&TaskTruth) -> bool) -> usize {
    truth()
        .tasks
        .iter()
        .filter(|t| t.service == service && t.revision == revision && f(t))
        .count()
}

fn find<'a>(d: &'a Diagnosis, kind: FindingKind, revision: &str) -> &'a Finding {
    d.findings
        .iter()
        .find(|f| f.kind == kind && f.revisions.iter().any(|r| r == revision))
        .unwrap_or_else(|| panic!("no {kind} finding on {revision}: {:#?}", d.findings))
}

fn text(f: &Finding) -> String {
    format!(
        "{}\n{}\n{}",
        f.title,
        f.evidence_text().join("\n"),
        f.recommendation_text().join("\n")
    )
}

/// The first number after `marker` in `s`.
fn number_after(s: &str, marker: &str) -> f64 {
    let rest = &s[s
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker:?} in {s}"))
        + marker.len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no number after {marker:?} in {s}"))
}

#[test]
fn node_api_137s_are_oom_kills_of_the_leaking_revision() {
    let d = diagnosis("api");
    let p = preset();
    let api = &p.services[0];
    let (_, leaking) = &api.deployments[1];
    let Memory::Leak {
        start_mib,
        mib_per_hour,
    } = leaking.memory
    else {
        panic!("the preset's second revision leaks")
    };
    let label = format!("{}:{}", api.family, leaking.revision);
    let oom_truth = truth_count("api", leaking.revision, |t| {
        t.exit_kind == Some("sigkill_oom")
    });
    assert!(oom_truth > 5, "the preset produces OOM kills: {oom_truth}");

    let f = find(&d, FindingKind::OomKills, &label);
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.impact, oom_truth);
    let all = text(f);
    // The 137s split: all OOM, none after the stop timeout.
    assert!(all.contains(&format!("{oom_truth} OOM kills")), "{all}");
    assert!(
        all.contains("0 of them SIGKILLs after the stop timeout"),
        "{all}"
    );
    // Memory climbs to the limit: peak max = limit, slope and start as simulated.
    let rev = d.revisions.iter().find(|r| r.label == label).unwrap();
    assert_eq!(rev.memory_peak.unwrap().max, f64::from(api.memory_mib));
    let g = rev.growth.unwrap();
    assert!(
        (g.mib_per_hour - mib_per_hour).abs() / mib_per_hour < 0.05,
        "{g:?}"
    );
    assert!((g.start_mib - start_mib).abs() / start_mib < 0.05, "{g:?}");
    assert!(
        f.title.to_string().contains("leak suspected"),
        "{}",
        f.title
    );
    // Projected time to OOM from the slope, against the simulated one.
    let hours = (f64::from(api.memory_mib) - start_mib) / mib_per_hour;
    let projected = number_after(&all, "limit after");
    assert!((projected - hours).abs() < 0.5, "{projected} vs {hours}");
    // The same figures, read as data rather than from the sentence.
    let (leak_hours, leak_slope) = f
        .evidence
        .iter()
        .find_map(|e| match e {
            Fact::Leak {
                hours_to_limit,
                mib_per_hour,
                ..
            } => Some((*hours_to_limit, *mib_per_hour)),
            _ => None,
        })
        .expect("a leak fact");
    assert!((leak_hours - hours).abs() < 0.5, "{leak_hours} vs {hours}");
    assert_eq!(leak_slope, g.mib_per_hour);
    assert!(
        f.recommends(|r| matches!(r, Recommendation::SetMemory { .. }))
            .is_empty(),
        "no memory size for a leak"
    );
    assert!(
        f.recommends(|r| matches!(
            r,
            Recommendation::CapHeap { limit_mib, .. } if *limit_mib == i64::from(api.memory_mib)
        ))
        .len()
            == 1
    );
    // Node.js recognised from the logs; heap flag at ~75% of the limit.
    assert!(all.contains("Node.js"), "{all}");
    assert!(
        all.contains(&format!("--max-old-space-size={}", api.memory_mib * 3 / 4)),
        "{all}"
    );
    // Never "add memory" for a leak.
    assert!(all.contains("only postpones"), "{all}");
    // The regression is placed on the new revision, against the one before.
    assert!(
        all.contains(&format!("the regression started with {label}")),
        "{all}"
    );
    for example in &f.example_tasks {
        let t = truth()
            .tasks
            .iter()
            .find(|t| &t.task_id == example)
            .unwrap();
        assert_eq!(t.exit_kind, Some("sigkill_oom"), "{example}");
    }
}

#[test]
fn node_api_health_checks_fail_because_warm_up_exceeds_the_start_period() {
    let d = diagnosis("api");
    let p = preset();
    let api = &p.services[0];
    let (_, new) = &api.deployments[1];
    let label = format!("{}:{}", api.family, new.revision);
    let stops = truth_count("api", new.revision, |t| {
        t.stop_cause == Some("elb_health_check")
    });
    let tasks = truth_count("api", new.revision, |_| true);
    // About half, as the preset says.
    let share = stops as f64 / tasks as f64;
    assert!(
        (share - new.health_failure_rate).abs() < 0.2,
        "{stops}/{tasks}"
    );

    let f = find(&d, FindingKind::HealthChecks, &label);
    assert_eq!(f.impact, stops);
    assert!(
        f.title.to_string().contains("warm-up exceeds"),
        "{}",
        f.title
    );
    let all = text(f);
    // The recommended start period covers the warm-up, within ECS's 300 s cap.
    let start_period = number_after(&all, "to at least");
    assert!(
        start_period >= new.warm_up_s && start_period <= 300.0,
        "{start_period}"
    );
    let seconds = f
        .recommendations
        .iter()
        .find_map(|r| match r {
            Recommendation::StartPeriod { seconds, .. } => Some(*seconds),
            _ => None,
        })
        .expect("a start period");
    assert_eq!(seconds as f64, start_period);
    assert!(all.contains("startPeriod") && all.contains("healthCheckGracePeriodSeconds"));
    // Time to healthy of the tasks that passed is the simulated warm-up.
    let rev = d.revisions.iter().find(|r| r.label == label).unwrap();
    assert_eq!(rev.time_to_healthy.unwrap().p50, new.warm_up_s);
}

#[test]
fn the_previous_revision_is_not_blamed() {
    let d = diagnosis("api");
    let p = preset();
    let api = &p.services[0];
    let before = format!("{}:{}", api.family, api.deployments[0].1.revision);
    for f in &d.findings {
        assert!(!f.revisions.contains(&before), "{before} blamed: {f:#?}");
    }
    assert!(d.findings.len() >= 2);
    // Ranked: severity, then tasks affected.
    for w in d.findings.windows(2) {
        assert!(
            (w[0].severity, std::cmp::Reverse(w[0].impact))
                <= (w[1].severity, std::cmp::Reverse(w[1].impact))
        );
    }
}

#[test]
fn worker_137s_are_stop_timeout_kills_not_oom() {
    let d = diagnosis("worker");
    let killed: Vec<i32> = truth()
        .tasks
        .iter()
        .filter(|t| t.service == "worker" && t.exit_kind == Some("sigkill_after_stop_timeout"))
        .map(|t| t.revision)
        .collect();
    assert!(!killed.is_empty());
    for rev in [7, 8] {
        let n = killed.iter().filter(|r| **r == rev).count();
        let label = format!("worker:{rev}");
        if n == 0 {
            assert!(d.findings.iter().all(|f| !f.revisions.contains(&label)));
            continue;
        }
        let f = find(&d, FindingKind::StopTimeoutKills, &label);
        assert_eq!(f.impact, n);
        let all = text(f);
        assert!(
            all.contains("SIGTERM") && all.contains("stopTimeout"),
            "{all}"
        );
        assert!(all.contains("not OOM kills"), "{all}");
        // Behind a load balancer the stop first drains: the delay the
        // target group is configured with, then the 30 s stop timeout.
        let delay = ecs_sim::TARGET_GROUP_DEREGISTRATION_DELAY_S;
        assert!(
            all.contains(&format!(
                "deregistration delay {delay} s), then sends SIGTERM and, 30 s later, SIGKILL: a stop that is never answered takes {} s",
                delay + 30
            )),
            "{all}"
        );
        let observed = number_after(&all, "(observed: p50");
        assert!((observed - (delay as f64 + 30.5)).abs() < 1.0, "{observed}");
    }
    assert!(
        d.findings.iter().all(|f| f.kind != FindingKind::OomKills),
        "{:#?}",
        d.findings
    );
}

#[test]
fn checkout_and_billing_findings_match_the_truth() {
    let d = diagnosis("checkout");
    let rolled = truth()
        .deployments
        .iter()
        .find(|x| x.service == "checkout" && x.outcome == "rolled_back")
        .unwrap();
    let f = find(
        &d,
        FindingKind::FailedDeployment,
        &format!("checkout:{}", rolled.revision),
    );
    assert!(f.deployments.contains(&rolled.deployment_id));
    assert!(f.title.to_string().contains("rolled back"));
    assert!(text(f).contains("CannotPullContainerError"), "{}", text(f));
    assert!(text(f).contains("execution role"));
    // ECS's own record of it, from the deployment history the simulator
    // wrote (describe-service-deployments / -revisions), matched to the
    // ecs-svc deployment by service, revision and start: the rollback, the
    // circuit breaker at its threshold (half the desired count, at least 3),
    // the revision it went back to.
    let p = preset();
    let checkout = p.services.iter().find(|s| s.name == "checkout").unwrap();
    let before = checkout.deployments[0].1.revision;
    let threshold = checkout.desired.div_ceil(2).max(3);
    let record = f
        .evidence
        .iter()
        .find_map(|e| match e {
            Fact::EcsDeployment {
                id,
                status,
                failure_count,
                threshold,
                rolled_back_to,
                ..
            } => Some((
                id.clone(),
                status.clone(),
                *failure_count,
                *threshold,
                rolled_back_to.clone(),
            )),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{}", text(f)));
    assert_eq!(
        record,
        (
            rolled
                .deployment_id
                .trim_start_matches("ecs-svc/")
                .to_owned(),
            Some("ROLLBACK_SUCCESSFUL".to_owned()),
            Some(threshold as i64),
            Some(threshold as i64),
            Some(format!("checkout:{before}")),
        )
    );
    assert!(
        text(f).contains(&format!(
            "circuit breaker TRIGGERED at {threshold} failed tasks of a threshold of {threshold}; rolled back to checkout:{before}"
        )),
        "{}",
        text(f)
    );
    let segv = truth_count("checkout", 12, |t| t.exit_kind == Some("segfault"));
    assert_eq!(find(&d, FindingKind::Segfaults, "checkout:12").impact, segv);
    let spot = truth_count("checkout", 12, |t| {
        t.stop_cause == Some("spot_interruption")
    });
    assert_eq!(
        find(&d, FindingKind::SpotInterruptions, "checkout:12").impact,
        spot
    );

    let d = diagnosis("billing");
    let crashes = truth_count("billing", 5, |t| t.exit_kind == Some("app_error"));
    let f = find(&d, FindingKind::CrashLoop, "billing:5");
    assert_eq!(f.impact, crashes);
    // billing:6 fixed it: no advice to roll back past the fix.
    assert!(text(f).contains("billing:6"), "{}", text(f));
    assert!(!text(f).contains("Roll back"), "{}", text(f));
}

#[test]
fn cli_renders_markdown_and_json_and_refuses_unknown_services() {
    lake_dir();
    let run = |service: &str, window: &[&str], format: Format| {
        block_on(|| async {
            let mut out = Vec::new();
            let r = diagnose_run(
                &lake_args(lake_dir()),
                &DiagnoseArgs {
                    service: service.into(),
                    window: window.iter().map(|w| w.to_string()).collect(),
                },
                &common::output(format, common::end_micros(&preset())),
                &mut out,
            )
            .await;
            r.map(|()| String::from_utf8(out).unwrap())
        })
    };
    let md = run("prod/api", &["last", "3d"], Format::Table).unwrap();
    assert!(md.starts_with("# Diagnosis of prod/api"), "{md}");
    assert!(
        md.contains("| api:42 |") && md.contains("What to change:"),
        "{md}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&run("api", &[], Format::Json).unwrap()).unwrap();
    assert_eq!(json[0]["service"], "api");
    assert!(
        json[0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "oom_kills")
    );

    let e = run("nope", &[], Format::Table).unwrap_err().to_string();
    assert!(
        e.contains("no tasks of service \"nope\"") && e.contains("hint:"),
        "{e}"
    );
    let e = run("api", &["lats", "7d"], Format::Table)
        .unwrap_err()
        .to_string();
    assert!(e.contains("last"), "{e}");
}

#[test]
fn standalone_tasks_are_diagnosed_by_family() {
    let d = diagnosis("standalone:migrate");
    let failed: Vec<_> = truth()
        .tasks
        .iter()
        .filter(|t| t.service.is_empty() && t.family == "migrate")
        .collect();
    assert_eq!(d.tasks, failed.len());
    let errors = failed
        .iter()
        .filter(|t| t.exit_kind == Some("app_error"))
        .count();
    let clean = failed
        .iter()
        .filter(|t| t.exit_kind == Some("clean"))
        .count();
    assert!(
        errors >= 1 && clean > errors,
        "{errors} failed, {clean} clean"
    );
    let f = find(&d, FindingKind::CrashLoop, "migrate:3");
    assert_eq!(f.impact, errors);
    assert!(
        f.title.to_string().contains("runs of migrate:3 failed"),
        "{}",
        f.title
    );
    assert!(
        !text(f).contains("circuit breaker with rollback"),
        "{}",
        text(f)
    );
}

#[test]
fn memory_spikes_to_the_limit_are_sized_not_called_a_leak() {
    let d = diagnosis("search");
    let p = preset();
    let search = p.services.iter().find(|s| s.name == "search").unwrap();
    let rev = &search.deployments[0].1;
    assert!(matches!(rev.memory, Memory::Spiky { .. }));
    let label = format!("search:{}", rev.revision);
    let ooms = truth_count("search", rev.revision, |t| {
        t.exit_kind == Some("sigkill_oom")
    });
    assert!(ooms > 3, "{ooms}");
    let f = find(&d, FindingKind::OomKills, &label);
    assert_eq!(f.impact, ooms);
    assert!(
        f.title.to_string().contains("sudden spikes")
            && !f.title.to_string().contains("leak suspected"),
        "{}",
        f.title
    );
    let all = text(f);
    // A size above the limit that Fargate offers for the task's CPU.
    let size = number_after(&all, "task memory to") as i64;
    let sized = f
        .recommendations
        .iter()
        .find_map(|r| match r {
            Recommendation::SetMemory { memory_mib, .. } => Some(*memory_mib),
            _ => None,
        })
        .expect("a memory size");
    assert_eq!(sized, size);
    assert!(size > i64::from(search.memory_mib), "{size}");
    assert!(
        ecs_query_engine::diagnose::recommend::fargate_memory_sizes(i64::from(search.cpu))
            .contains(&size),
        "{size} for {} CPU",
        search.cpu
    );
    assert!(all.contains("floor"), "{all}");
    // The JVM, recognised from the image, gets its heap flag.
    assert!(all.contains("MaxRAMPercentage=75"), "{all}");
}

#[test]
fn findings_quote_the_task_definition_and_say_when_it_is_missing() {
    let p = preset();
    let api = p.services.iter().find(|s| s.name == "api").unwrap();
    let (_, leaking) = api
        .deployments
        .iter()
        .find(|(_, r)| r.revision == 42)
        .unwrap();
    let cap = leaking
        .node_heap_cap_mib
        .expect("the leaking revision sets a heap cap");
    let flag = format!("NODE_OPTIONS=--max-old-space-size={cap}");

    let d = diagnosis("api");
    let oom = find(&d, FindingKind::OomKills, "api:42");
    assert!(
        oom.evidence.contains(&Fact::ConfiguredMemory {
            revision: "api:42".into(),
            container: api.container.clone(),
            limit_mib: Some(i64::from(api.memory_mib)),
            reservation_mib: None,
            heap_cap_mib: Some(i64::from(cap)),
            heap_flag: Some(flag.clone()),
        }),
        "{:#?}",
        oom.evidence
    );
    let said = text(oom);
    assert!(
        said.contains(&format!(
            "{flag} caps the heap at {cap} MiB, above the {} MiB limit",
            api.memory_mib
        )),
        "{said}"
    );
    assert!(
        oom.recommendations.iter().any(|r| matches!(
            r,
            Recommendation::CapHeap { current: Some(c), limit_mib, .. }
                if *c == flag && *limit_mib == i64::from(api.memory_mib)
        )),
        "{said}"
    );

    let health = find(&d, FindingKind::HealthChecks, "api:42");
    assert!(
        health.evidence.contains(&Fact::ContainerHealthCheck {
            container: api.container.clone(),
            interval_s: ecs_sim::HEALTH_CHECK_INTERVAL_S,
            timeout_s: ecs_sim::HEALTH_CHECK_TIMEOUT_S,
            retries: ecs_sim::HEALTH_CHECK_RETRIES,
            start_period_s: None,
            deadline_s: ecs_sim::HEALTH_CHECK_INTERVAL_S * ecs_sim::HEALTH_CHECK_RETRIES,
        }),
        "{:#?}",
        health.evidence
    );
    assert!(!health.evidence.contains(&Fact::HealthSettingsUnknown));
    // The load balancer's path, from the service and its target group.
    let elb_deadline_s = ecs_sim::ELB_GRACE_PERIOD_S
        + ecs_sim::TARGET_GROUP_UNHEALTHY_THRESHOLD * ecs_sim::TARGET_GROUP_INTERVAL_S;
    assert!(
        health.evidence.contains(&Fact::LoadBalancerHealthCheck {
            grace_period_s: Some(ecs_sim::ELB_GRACE_PERIOD_S),
            path: Some("/health".into()),
            interval_s: ecs_sim::TARGET_GROUP_INTERVAL_S,
            timeout_s: Some(ecs_sim::TARGET_GROUP_TIMEOUT_S),
            unhealthy_threshold: ecs_sim::TARGET_GROUP_UNHEALTHY_THRESHOLD,
            deadline_s: elb_deadline_s,
        }),
        "{:#?}",
        health.evidence
    );
    // ... which is when the failing tasks were stopped.
    let stopped_after = health.evidence.iter().find_map(|e| match e {
        Fact::HealthStopUptime { p50_s } => Some(*p50_s),
        _ => None,
    });
    assert_eq!(
        stopped_after.map(|s| s.round() as i64),
        Some(elb_deadline_s)
    );

    // The same lake without the task definitions: the findings say so and
    // tell how to add them, and infer the rest as before.
    let bare = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(lake_dir()).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if ![
            "task_definitions",
            "container_definitions",
            "services",
            "target_groups",
        ]
        .iter()
        .any(|t| name == *t)
        {
            std::os::unix::fs::symlink(entry.path(), bare.path().join(&name)).unwrap();
        }
    }
    let without = block_on(|| async {
        let lake = Lake::open(&lake_args(bare.path()).config()).await.unwrap();
        diagnose::diagnose(&lake, &Selector::parse("api"), scope())
            .await
            .unwrap()
            .remove(0)
    });
    let oom = find(&without, FindingKind::OomKills, "api:42");
    assert!(oom.evidence.contains(&Fact::ConfigNotInLake {
        revision: "api:42".into()
    }));
    assert!(
        text(oom).contains("aws ecs describe-task-definition --task-definition api:42"),
        "{}",
        text(oom)
    );
    // Without the task definition nothing names the runtime (kernel OOM
    // kills leave no heap message, the image name says nothing): no heap
    // flag is recommended blind.
    assert!(
        !oom.recommendations
            .iter()
            .any(|r| matches!(r, Recommendation::CapHeap { .. })),
        "{}",
        text(oom)
    );
    let health = find(&without, FindingKind::HealthChecks, "api:42");
    assert!(health.evidence.contains(&Fact::HealthSettingsUnknown));
}

#[test]
fn diff_names_what_changed_between_revisions_as_configured() {
    let p = preset();
    let api = p.services.iter().find(|s| s.name == "api").unwrap();
    let rev = |n: i32| {
        &api.deployments
            .iter()
            .find(|(_, r)| r.revision == n)
            .unwrap()
            .1
    };
    let image = |n: i32| {
        format!(
            "111122223333.dkr.ecr.eu-west-1.amazonaws.com/{}:{}",
            api.family,
            rev(n).image_tag
        )
    };
    let cap = rev(42).node_heap_cap_mib.unwrap();
    assert_eq!(rev(41).node_heap_cap_mib, None);

    lake_dir(); // built outside the runtime below
    let all = block_on(|| async {
        let lake = Lake::open(&lake_args(lake_dir()).config()).await.unwrap();
        ecs_query_engine::config::containers(&lake.ctx)
            .await
            .unwrap()
    });
    let changes = ecs_query_engine::config::diff(&all, "api:41", "api:42").unwrap();
    let c = &api.container;
    assert_eq!(
        changes,
        vec![
            ecs_query_engine::config::Change {
                scope: c.clone(),
                setting: "image".into(),
                from: Some(image(41)),
                to: Some(image(42)),
            },
            ecs_query_engine::config::Change {
                scope: c.clone(),
                setting: "heap settings (environment)".into(),
                from: None,
                to: Some(format!("NODE_OPTIONS=--max-old-space-size={cap}")),
            },
            ecs_query_engine::config::Change {
                scope: c.clone(),
                setting: "environment (names)".into(),
                from: Some("PORT".into()),
                to: Some("PORT,NODE_OPTIONS".into()),
            },
        ]
    );
    // The OOM finding on the regressing revision carries the same changes.
    let d = diagnosis("api");
    let oom = find(&d, FindingKind::OomKills, "api:42");
    assert!(oom.evidence.contains(&Fact::ConfigChanged {
        from: "api:41".into(),
        to: "api:42".into(),
        changes,
    }));
    // A revision the lake does not hold is an error that says how to add it.
    let err = ecs_query_engine::config::diff(&all, "api:41", "api:99").unwrap_err();
    assert_eq!(
        err.to_string(),
        "the task definition of api:99 is not in the lake"
    );
}

#[test]
fn time_to_healthy_counts_only_tasks_that_started_in_the_window() {
    // A window that opens 30 h in, while api:42's tasks (which live about
    // 8 h) are running: their first HEALTHY inside the window is not their
    // start-up, and must not count as one.
    let p = preset();
    let from = p.start_ms * 1000 + 30 * 3_600_000_000;
    let window = Scope {
        from: Some(from),
        to: Some(common::end_micros(&p) + 1),
    };
    lake_dir(); // built outside the runtime below
    let d = block_on(|| async {
        let lake = Lake::open(&lake_args(lake_dir()).config()).await.unwrap();
        diagnose::diagnose(&lake, &Selector::parse("api"), window)
            .await
            .unwrap()
            .remove(0)
    });
    let r = d.revisions.iter().find(|r| r.label == "api:42").unwrap();
    let seen = r
        .time_to_healthy
        .expect("tasks started in the window got healthy");
    let slowest = truth()
        .tasks
        .iter()
        .filter(|t| t.service == "api" && t.revision == 42)
        .filter_map(|t| t.time_to_healthy_s)
        .fold(0.0, f64::max);
    assert!(slowest > 0.0);
    // Health is sampled from events and the poller: within a minute of the truth.
    assert!(
        seen.max <= slowest + 60.0,
        "max {} s to healthy, the simulator's slowest {slowest} s",
        seen.max
    );
    assert!(
        seen.n < r.tasks,
        "tasks that started before the window are not counted"
    );
}

/// Runs a patch's `jq` edit (its second command) on a describe-task-definition
/// answer's `taskDefinition`, as the command does; `None` without jq (CI
/// installs it and sets ECS_REQUIRE_JQ=1, which makes it required).
fn apply_jq(commands: &[String], task_definition: &serde_json::Value) -> Option<serde_json::Value> {
    let jq = commands
        .iter()
        .find(|c| c.starts_with("jq '"))
        .expect("a jq command");
    let filter = jq
        .strip_prefix("jq '")
        .and_then(|c| c.strip_suffix("' td.json > td-new.json"))
        .expect("jq '<filter>' td.json > td-new.json");
    let run = std::process::Command::new("jq")
        .arg(filter)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn();
    let mut child = match run {
        Ok(child) => child,
        Err(e) if std::env::var_os("ECS_REQUIRE_JQ").is_none() => {
            eprintln!("skipped: jq not runnable ({e})");
            return None;
        }
        Err(e) => panic!("jq is required (ECS_REQUIRE_JQ): {e}"),
    };
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(task_definition.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "jq failed on: {filter}");
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
fn patches_apply_the_recommendations_to_the_task_definition() {
    let p = preset();
    let api = p.services.iter().find(|s| s.name == "api").unwrap();
    let d = diagnosis("api");
    let oom = find(&d, FindingKind::OomKills, "api:42");
    let heap = oom
        .patches
        .iter()
        .find(|p| p.what.starts_with("NODE_OPTIONS"))
        .unwrap_or_else(|| panic!("{:#?}", oom.patches));
    // 75% of the 1024 MiB limit, rounded up to 32 MiB.
    let want = format!(
        "--max-old-space-size={}",
        (api.memory_mib * 3 / 4 + 31) / 32 * 32
    );
    assert_eq!(
        heap.fragment,
        serde_json::json!({"containerDefinitions": [{"name": api.container, "environment": [{"name": "NODE_OPTIONS", "value": want}]}]})
    );
    assert_eq!(
        heap.commands.last().unwrap(),
        "aws ecs update-service --cluster prod --service api --task-definition api"
    );
    let health = find(&d, FindingKind::HealthChecks, "api:42");
    let start = health
        .patches
        .iter()
        .find(|p| p.what.contains("startPeriod"))
        .unwrap_or_else(|| panic!("{:#?}", health.patches));

    // Applied to api:42 as describe-task-definition returns it: the flag is
    // replaced inside NODE_OPTIONS (its other flag kept), the start period
    // set, the read-only fields gone, everything else as it was.
    let document = p
        .task_definition_documents()
        .into_iter()
        .find(|d| d["taskDefinition"]["revision"] == 42 && d["taskDefinition"]["family"] == "api")
        .unwrap();
    let current = &document["taskDefinition"];
    let Some(patched) = apply_jq(&heap.commands, current) else {
        return;
    };
    let env = &patched["containerDefinitions"][0]["environment"];
    let node_options = env
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "NODE_OPTIONS")
        .unwrap();
    assert_eq!(
        node_options["value"],
        format!("--enable-source-maps {want}")
    );
    for gone in [
        "taskDefinitionArn",
        "revision",
        "status",
        "registeredAt",
        "registeredBy",
    ] {
        assert!(patched.get(gone).is_none(), "{gone} left in {patched}");
    }
    assert_eq!(patched["memory"], current["memory"]);
    assert_eq!(
        patched["containerDefinitions"][0]["image"],
        current["containerDefinitions"][0]["image"]
    );
    let started = apply_jq(&start.commands, current).unwrap();
    let seconds = start.fragment["healthCheckGracePeriodSeconds"].clone();
    assert_eq!(
        started["containerDefinitions"][0]["healthCheck"]["startPeriod"],
        seconds
    );
    assert_eq!(
        started["containerDefinitions"][0]["healthCheck"]["interval"],
        ecs_sim::HEALTH_CHECK_INTERVAL_S
    );
}

#[test]
fn stop_timeout_kills_quote_the_stop_timeout_and_patch_in_an_init() {
    let p = preset();
    let worker = p.services.iter().find(|s| s.name == "worker").unwrap();
    let d = diagnosis("worker");
    let kills = d
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::StopTimeoutKills)
        .unwrap_or_else(|| panic!("{:#?}", d.findings));
    // The simulator's task definitions set no stopTimeout and no init: the
    // default 30 s applies, which is when its tasks are killed.
    assert!(
        kills.evidence.contains(&Fact::ConfiguredStopTimeout {
            container: worker.container.clone(),
            stop_timeout_s: None,
            init_process_enabled: None,
        }),
        "{:#?}",
        kills.evidence
    );
    let init = kills
        .patches
        .iter()
        .find(|p| p.what.contains("init"))
        .unwrap_or_else(|| panic!("{:#?}", kills.patches));
    assert_eq!(
        init.fragment,
        serde_json::json!({"containerDefinitions": [{"name": worker.container, "linuxParameters": {"initProcessEnabled": true}}]})
    );
    let revision: i64 = kills.revisions[0]
        .rsplit_once(':')
        .unwrap()
        .1
        .parse()
        .unwrap();
    let document = p
        .task_definition_documents()
        .into_iter()
        .find(|d| {
            d["taskDefinition"]["family"] == worker.family.as_str()
                && d["taskDefinition"]["revision"] == revision
        })
        .unwrap();
    if let Some(patched) = apply_jq(&init.commands, &document["taskDefinition"]) {
        assert_eq!(
            patched["containerDefinitions"][0]["linuxParameters"]["initProcessEnabled"],
            true
        );
        assert_eq!(
            patched["containerDefinitions"][0]["image"],
            document["taskDefinition"]["containerDefinitions"][0]["image"]
        );
    }
}

#[test]
fn a_heap_cap_below_the_limit_is_a_runtime_oom_not_an_oom_kill() {
    let p = preset();
    let render = p.services.iter().find(|s| s.name == "render").unwrap();
    let rev = &render.deployments[0].1;
    let cap = rev.node_heap_cap_mib.expect("render caps its heap");
    assert!(f64::from(cap) + ecs_sim::NODE_NON_HEAP_MIB < f64::from(render.memory_mib));
    let label = format!("render:{}", rev.revision);
    let aborts = truth_count("render", rev.revision, |t| t.exit_kind == Some("abort"));
    assert!(aborts >= 3, "{aborts}");
    // The runtime's ceiling, not the container's limit, ends them: no OOM kill.
    assert_eq!(
        truth_count("render", rev.revision, |t| t.stop_cause
            == Some("oom_killed")),
        0
    );

    let d = diagnosis("render");
    assert!(
        d.findings.iter().all(|f| f.kind != FindingKind::OomKills),
        "{:#?}",
        d.findings
    );
    let f = find(&d, FindingKind::HeapExhausted, &label);
    assert_eq!(f.impact, aborts);
    let all = text(f);
    assert!(all.contains("Node.js heap"), "{all}");
    assert!(all.contains("`node_heap_oom`"), "{all}");
    assert!(
        all.contains(&format!("{aborts} tasks ended in an abort (exit 134")),
        "{all}"
    );
    // The configured cap and limit are quoted; the cap is raised to 75% of
    // the limit (rounded up to 32 MiB), which the patch applies.
    assert!(
        all.contains(&format!(
            "--max-old-space-size={cap} caps the heap at {cap} MiB"
        )),
        "{all}"
    );
    let want = format!(
        "--max-old-space-size={}",
        (render.memory_mib * 3 / 4 + 31) / 32 * 32
    );
    assert!(
        all.contains(&format!("Raise the cap to NODE_OPTIONS={want}")),
        "{all}"
    );
    // The peak quoted is the heap ceiling (cap + what Node holds outside
    // it), far below the limit.
    let peak = truth()
        .tasks
        .iter()
        .filter(|t| t.service == "render")
        .map(|t| t.memory_peak_mib)
        .max()
        .unwrap();
    assert_eq!(peak, (f64::from(cap) + ecs_sim::NODE_NON_HEAP_MIB) as i64);
    assert!(all.contains(&format!("ran out at {peak} MiB")), "{all}");
    let patch = f
        .patches
        .iter()
        .find(|p| p.what.starts_with("NODE_OPTIONS"))
        .unwrap_or_else(|| panic!("{:#?}", f.patches));
    let document = p
        .task_definition_documents()
        .into_iter()
        .find(|d| d["taskDefinition"]["family"] == "render")
        .unwrap();
    let Some(patched) = apply_jq(&patch.commands, &document["taskDefinition"]) else {
        return;
    };
    let node_options = patched["containerDefinitions"][0]["environment"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "NODE_OPTIONS")
        .unwrap()["value"]
        .clone();
    assert_eq!(node_options, format!("--enable-source-maps {want}"));
}
