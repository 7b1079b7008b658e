//! Findings: rules over one service's [`ServiceEvidence`], each giving what
//! happened (with figures, revisions, deployments and example tasks) and
//! what to change. Pure functions: the tests feed them evidence built by
//! hand as well as evidence read from simulator lakes.
//!
//! The rules never recommend more memory for a leak (it only postpones the
//! kill), never size anything without samples, and say so when the
//! evidence is insufficient.

use serde::Serialize;

use super::evidence::{Growth, RevisionStats, ServiceEvidence, Spread};
use super::recommend::{Runtime, grace_period_s, memory_size_at_least, round_up};
use crate::summary::day_time_of;

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One finding: what, the evidence, and what to change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// Stable name of the rule: `oom_kills`, `stop_timeout_kills`,
    /// `health_checks`, `crash_loop`, `segfaults`, `failed_deployment`,
    /// `start_failures`, `spot_interruptions`, `memory_headroom`, `no_memory_data`.
    pub kind: &'static str,
    pub title: String,
    /// The revisions it is about (`family:revision`).
    pub revisions: Vec<String>,
    pub deployments: Vec<String>,
    /// Tasks affected: the ranking's measure.
    pub impact: usize,
    pub evidence: Vec<String>,
    pub recommendations: Vec<String>,
    pub example_tasks: Vec<String>,
}

/// Memory growth below this (MiB per hour of uptime) is noise, not a leak.
pub const LEAK_MIB_PER_HOUR: f64 = 5.0;
/// A peak at or above this share of the limit leaves too little headroom.
const TIGHT_HEADROOM_PCT: f64 = 90.0;
/// Application-error exits on one revision from which it is a crash loop.
const CRASH_LOOP_EXITS: usize = 3;

fn mib(v: f64) -> String {
    format!("{v:.0} MiB")
}

fn secs(v: f64) -> String {
    if v >= 7200.0 {
        format!("{:.1} h", v / 3600.0)
    } else if v >= 120.0 {
        format!("{:.1} min", v / 60.0)
    } else {
        format!("{v:.0} s")
    }
}

fn pct(part: usize, whole: usize) -> String {
    if whole == 0 {
        return "0%".into();
    }
    format!("{:.0}%", 100.0 * part as f64 / whole as f64)
}

fn peaks(r: &RevisionStats, s: &Spread) -> String {
    let limit = match r.memory_limit {
        Some(l) => format!(
            " against a {l} MiB limit ({:.0}% at p99)",
            r.peak_pct(s.p99).unwrap_or(0.0)
        ),
        None => String::new(),
    };
    format!(
        "memory peak per task p50 {} / p95 {} / p99 {} / max {}{limit} ({} tasks with samples)",
        mib(s.p50),
        mib(s.p95),
        mib(s.p99),
        mib(s.max),
        s.n
    )
}

/// The runtime, if the logs or the images say which.
fn runtime(svc: &ServiceEvidence, r: &RevisionStats) -> Option<(Runtime, String)> {
    // The revision's own log signatures first, then the service's.
    fn in_logs<'a>(mut signatures: impl Iterator<Item = &'a String>) -> Option<(Runtime, String)> {
        signatures
            .find_map(|s| Runtime::from_signature(s).map(|rt| (rt, format!("the logs show `{s}`"))))
    }
    let from_logs = in_logs(r.signatures.keys()).or_else(|| in_logs(svc.signatures().keys()));
    from_logs.or_else(|| {
        r.images
            .iter()
            .find_map(|i| Runtime::from_image(i).map(|rt| (rt, format!("the image is {i}"))))
    })
}

fn deployments_of(svc: &ServiceEvidence, r: &RevisionStats) -> Vec<String> {
    svc.deployments
        .iter()
        .filter(|d| d.revision == r.revision && d.family.as_deref() == Some(r.family.as_str()))
        .map(|d| d.deployment_id.clone())
        .collect()
}

fn started(r: &RevisionStats) -> String {
    r.first_started_at
        .map(|t| format!(" (first task {})", day_time_of(t)))
        .unwrap_or_default()
}

/// All findings for one service, most important first: severity, then tasks affected.
pub fn findings(svc: &ServiceEvidence) -> Vec<Finding> {
    let mut out = Vec::new();
    for r in &svc.revisions {
        out.extend(oom(svc, r));
        out.extend(stop_timeout(r));
        out.extend(health_checks(svc, r));
        out.extend(crash_loop(svc, r));
        out.extend(segfaults(r));
        out.extend(start_failures(svc, r));
        out.extend(spot(r));
        out.extend(headroom(r));
    }
    out.extend(failed_deployments(svc));
    if svc.stopped() > 0 && svc.revisions.iter().all(|r| r.memory_peak.is_none()) {
        out.push(Finding {
            severity: Severity::Info,
            kind: "no_memory_data",
            title: "no Container Insights memory samples for this service".into(),
            revisions: Vec::new(),
            deployments: Vec::new(),
            impact: 0,
            evidence: vec![format!("{} tasks, none with a MemoryUtilized sample in the lake", svc.tasks())],
            recommendations: vec![
                "Enable Container Insights on the cluster and subscribe its performance log group; until then the evidence is insufficient to size memory.".into(),
            ],
            example_tasks: Vec::new(),
        });
    }
    out.sort_by(|a, b| a.severity.cmp(&b.severity).then(b.impact.cmp(&a.impact)));
    out
}

fn oom(svc: &ServiceEvidence, r: &RevisionStats) -> Option<Finding> {
    if r.oom_kills == 0 {
        return None;
    }
    let mut evidence = vec![format!(
        "{} OOM kills (exit 137 with OutOfMemoryError) of {} tasks{}; {} exit-137s in all, {} of them SIGKILLs after the stop timeout",
        r.oom_kills,
        r.tasks,
        started(r),
        r.exit_137,
        r.stop_timeout_kills
    )];
    let mut recommendations = Vec::new();
    let limit = r.memory_limit;
    if let Some(s) = &r.memory_peak {
        evidence.push(peaks(r, s));
    }
    // A leak: memory grows with uptime, and the trend explains when the
    // tasks died. A trend that would take far longer than the tasks lived
    // (sudden spikes to the limit) is not one.
    let projected_h = |g: &Growth| limit.map(|l| (l as f64 - g.start_mib) / g.mib_per_hour);
    let observed_h = r.uptime_to_oom.map(|u| u.p50 / 3600.0);
    let explains = |g: &Growth| match (projected_h(g), observed_h) {
        (Some(p), Some(o)) => p <= 2.0 * o.max(0.1),
        _ => true,
    };
    let leak = r
        .growth
        .filter(|g| g.mib_per_hour >= LEAK_MIB_PER_HOUR && explains(g));
    let mut title = format!("{} OOM kills on {}", r.oom_kills, r.label);
    if let (Some(g), Some(limit)) = (leak, limit) {
        let hours = (limit as f64 - g.start_mib) / g.mib_per_hour;
        title.push_str(&format!(
            ": memory grows {:.0} MiB/h until the limit (leak suspected)",
            g.mib_per_hour
        ));
        let observed = r
            .uptime_to_oom
            .map(|u| format!("; the OOM-killed tasks ran {} (median)", secs(u.p50)))
            .unwrap_or_default();
        evidence.push(format!(
            "memory grows {:.1} MiB per hour of uptime from {} at start (median of {} tasks): a task reaches the {limit} MiB limit after {:.1} h{observed}",
            g.mib_per_hour,
            mib(g.start_mib),
            g.tasks,
            hours
        ));
        let bigger = memory_size_at_least(limit as f64 + 1.0, r.cpu, r.on_fargate());
        let postpone = bigger
            .map(|b| {
                format!(
                    ": {b} MiB would move the kill from {:.1} h to about {:.1} h of uptime",
                    hours,
                    (b as f64 - g.start_mib) / g.mib_per_hour
                )
            })
            .unwrap_or_default();
        recommendations.push(format!(
            "Treat it as a leak, not a sizing problem: a larger limit only postpones the kill{postpone}. Compare heap snapshots of one task at 1 h and at 3 h of uptime, and diff what changed in {}.",
            r.label
        ));
    } else if let (Some(s), Some(_)) = (&r.memory_peak, limit) {
        // Sudden: steady memory, then the limit, long before a trend would get there.
        let spikes = match (r.growth, observed_h) {
            (Some(g), Some(o)) if !explains(&g) || g.mib_per_hour < LEAK_MIB_PER_HOUR => {
                title.push_str(": sudden spikes to the limit, not a leak");
                evidence.push(format!(
                    "memory runs around {} from start (trend {:.1} MiB/h{}), yet the OOM-killed tasks ran only {:.1} h (median): it jumps to the limit",
                    mib(g.start_mib),
                    g.mib_per_hour,
                    projected_h(&g)
                        .filter(|p| p.is_finite() && *p > 0.0)
                        .map(|p| format!(", {p:.0} h to reach the limit"))
                        .unwrap_or_default(),
                    o
                ));
                true
            }
            _ => false,
        };
        let why = if spikes {
            "The spikes are cut at the limit by the kill, so their height is unknown: this size is a floor, watch `memory peak by revision` after the change, and find what allocates in bursts (large requests or batch loads; cap or stream them)."
        } else {
            "Memory does not grow with uptime: the workload needs more than the limit."
        };
        match memory_size_at_least(s.p99 * 1.25, r.cpu, r.on_fargate()) {
            Some(size) => recommendations.push(format!(
                "Set the task memory to {size} MiB (p99 peak {} + 25% headroom, a valid size for {} CPU units) and the container's memoryReservation to {} MiB (the p95 peak). {why}",
                mib(s.p99),
                r.cpu.unwrap_or(0),
                round_up(s.p95.ceil() as i64, 64)
            )),
            None => recommendations.push(format!(
                "p99 peak {} + 25% headroom exceeds every Fargate size for {} CPU units: raise the CPU as well, or cut the memory the app holds.",
                mib(s.p99),
                r.cpu.unwrap_or(0)
            )),
        }
    } else {
        recommendations.push(
            "No memory samples for these tasks (Container Insights off?): the evidence is insufficient to size memory; enable Container Insights before changing the limit.".into(),
        );
    }
    if let (Some((rt, why)), Some(limit)) = (runtime(svc, r), limit) {
        evidence.push(format!("runtime: {} ({why})", rt.name()));
        recommendations.push(format!(
            "Cap the heap below the container limit so the runtime collects harder and fails with its own error and stack instead of a SIGKILL: {}.",
            rt.heap_setting(limit)
        ));
    }
    if let Some(p) = svc.previous(r) {
        let p_peak = p
            .memory_peak
            .map(|s| {
                format!(
                    ", memory peak p95 {} ({:.0}% of the limit)",
                    mib(s.p95),
                    p.peak_pct(s.p95).unwrap_or(0.0)
                )
            })
            .unwrap_or_default();
        let p_growth = p
            .growth
            .map(|g| format!(", growth {:.1} MiB/h", g.mib_per_hour))
            .unwrap_or_default();
        evidence.push(format!(
            "the revision before, {}: {} OOM kills of {} tasks{p_peak}{p_growth}",
            p.label, p.oom_kills, p.tasks
        ));
        let fixed = svc.next(r).filter(|n| n.oom_kills == 0);
        if let Some(n) = fixed {
            evidence.push(format!(
                "the revision after, {}: no OOM kills in {} tasks",
                n.label, n.tasks
            ));
        }
        if p.oom_kills == 0 {
            evidence.push(format!("the regression started with {}", r.label));
            if fixed.is_none() {
                recommendations.push(format!(
                    "Until it is fixed, roll back to {} (no OOM kills in the window).",
                    p.label
                ));
            }
        }
    }
    Some(Finding {
        severity: Severity::Critical,
        kind: "oom_kills",
        title,
        revisions: vec![r.label.clone()],
        deployments: deployments_of(svc, r),
        impact: r.oom_kills,
        evidence,
        recommendations,
        example_tasks: r.examples("oom_killed").to_vec(),
    })
}

fn stop_timeout(r: &RevisionStats) -> Option<Finding> {
    if r.stop_timeout_kills == 0 {
        return None;
    }
    let mut evidence = vec![format!(
        "{} of {} exit-137s on {} came after a stop request, not from the OOM killer",
        r.stop_timeout_kills, r.exit_137, r.label
    )];
    if let Some(s) = r.stop_timeout_s {
        evidence.push(format!(
            "stopped {:.1} s after stopping began (median; the default stopTimeout is 30 s)",
            s.p50
        ));
    }
    if let Some(s) = &r.memory_peak {
        evidence.push(peaks(r, s));
    }
    let observed = r
        .stop_timeout_s
        .map(|s| secs(s.p50))
        .unwrap_or_else(|| "the timeout".into());
    Some(Finding {
        severity: Severity::Warning,
        kind: "stop_timeout_kills",
        title: format!(
            "{} exit-137s on {} are SIGKILLs after the stop timeout: the app ignores SIGTERM",
            r.stop_timeout_kills, r.label
        ),
        revisions: vec![r.label.clone()],
        deployments: Vec::new(),
        impact: r.stop_timeout_kills,
        evidence,
        recommendations: vec![
            "Handle SIGTERM: on it, stop taking work, finish or hand back in-flight work, exit 0. Make the app PID 1 (exec form `CMD [\"node\", \"server.js\"]`, not `sh -c`), or set `linuxParameters.initProcessEnabled: true` so an init forwards the signal.".into(),
            format!(
                "Raise the container's `stopTimeout` (at most 120 s on Fargate) only if a clean shutdown needs longer than {observed}; it does not help an app that ignores the signal. Do not raise memory for these: they are not OOM kills."
            ),
        ],
        example_tasks: r.examples("sigkill_after_stop_timeout").to_vec(),
    })
}

fn health_checks(svc: &ServiceEvidence, r: &RevisionStats) -> Option<Finding> {
    if r.health_check_stops == 0 {
        return None;
    }
    let share = 100.0 * r.health_check_stops as f64 / r.tasks.max(1) as f64;
    let mut evidence = vec![format!(
        "{} of {} tasks ({}) stopped for failed health checks{}",
        r.health_check_stops,
        r.tasks,
        pct(r.health_check_stops, r.tasks),
        started(r)
    )];
    let mut recommendations = Vec::new();
    let killed_at = r.uptime_to_health_stop.map(|s| s.p50);
    if let Some(k) = killed_at {
        evidence.push(format!(
            "the failing tasks were stopped {} after they started (median), before they became healthy",
            secs(k)
        ));
    }
    let mut title = format!(
        "{} of {} tasks on {} fail health checks",
        r.health_check_stops, r.tasks, r.label
    );
    match r.time_to_healthy {
        Some(t) => {
            evidence.push(format!(
                "the tasks that passed needed p50 {} / p95 {} / max {} from start to first HEALTHY ({} tasks)",
                secs(t.p50),
                secs(t.p95),
                secs(t.max),
                t.n
            ));
            let needed = killed_at.map_or(t.p95, |k| k.max(t.p95));
            title.push_str(": warm-up exceeds the health check's start period");
            recommendations.push(format!(
                "Give the app time to warm up: set the container health check's `startPeriod` and the service's `healthCheckGracePeriodSeconds` (load-balanced services) to at least {} s; it covers the tasks that passed (p95 {}) and the point where the failing ones were stopped ({}), with 50% headroom. Then watch time to healthy: `ecs-query \"time to healthy by revision\"`.",
                grace_period_s(needed),
                secs(t.p95),
                killed_at.map(secs).unwrap_or_else(|| "unknown".into())
            ));
        }
        None => {
            evidence.push(format!("no task of {} ever reported HEALTHY", r.label));
            recommendations.push(
                "No task ever passed, so the evidence is insufficient to size a start period: check the health check itself first (path, port, protocol, the command's exit code) against a running task.".into(),
            );
        }
    }
    evidence.push(
        "the start period and grace period are not in ECS events: compare the figures with the task definition's `healthCheck.startPeriod` and the service's `healthCheckGracePeriodSeconds`".into(),
    );
    if let Some(p) = svc.previous(r) {
        let p_tth = p
            .time_to_healthy
            .map(|t| format!(", healthy after p95 {}", secs(t.p95)))
            .unwrap_or_default();
        evidence.push(format!(
            "the revision before, {}: {} of {} tasks stopped for health checks{p_tth}",
            p.label, p.health_check_stops, p.tasks
        ));
        if let (Some(now), Some(before)) = (r.time_to_healthy, p.time_to_healthy)
            && now.p95 > before.p95 * 1.5
        {
            recommendations.push(format!(
                "Find what made start-up slower in {} (p95 {} vs {} on {}): start-up work, cache warming, migrations, connection pools.",
                r.label,
                secs(now.p95),
                secs(before.p95),
                p.label
            ));
        }
    }
    Some(Finding {
        severity: if share >= 10.0 {
            Severity::Critical
        } else {
            Severity::Warning
        },
        kind: "health_checks",
        title,
        revisions: vec![r.label.clone()],
        deployments: deployments_of(svc, r),
        impact: r.health_check_stops,
        evidence,
        recommendations,
        example_tasks: r
            .examples("elb_health_check")
            .iter()
            .chain(r.examples("container_health_check"))
            .take(3)
            .cloned()
            .collect(),
    })
}

fn crash_loop(svc: &ServiceEvidence, r: &RevisionStats) -> Option<Finding> {
    let n = r.kind("app_error");
    // Every failed run of a standalone task (a job) matters; a service's
    // task failing now and then is noise until it loops.
    let standalone = svc.service.starts_with(super::evidence::STANDALONE);
    if n == 0 || (n < CRASH_LOOP_EXITS && !standalone) {
        return None;
    }
    let mut evidence = vec![format!(
        "{n} of {} tasks exited on their own with an application error{}",
        r.tasks,
        started(r)
    )];
    if let Some(u) = r.uptime_to_crash {
        evidence.push(format!(
            "uptime before the exit: p50 {} / max {}",
            secs(u.p50),
            secs(u.max)
        ));
    }
    let mut recommendations = vec![format!(
        "Read the last lines before an exit: `ecs-query timeline {}`.",
        r.examples("app_error")
            .first()
            .map_or("<task>", String::as_str)
    )];
    let fixed = svc
        .next(r)
        .filter(|n| n.kind("app_error") < CRASH_LOOP_EXITS);
    if let Some(n) = fixed {
        evidence.push(format!(
            "the revision after, {}: {} application-error exits in {} tasks (fixed there)",
            n.label,
            n.kind("app_error"),
            n.tasks
        ));
    }
    if let Some(p) = svc
        .previous(r)
        .filter(|p| p.kind("app_error") < CRASH_LOOP_EXITS)
    {
        evidence.push(format!(
            "the revision before, {}: {} application-error exits",
            p.label,
            p.kind("app_error")
        ));
        if fixed.is_none() {
            recommendations.push(format!("Roll back to {} while it is fixed.", p.label));
        }
    }
    // Standalone tasks (scheduled jobs) fail runs; services crash-loop.
    recommendations.push(if standalone {
        "A standalone task has no circuit breaker: alert on its failed runs (an EventBridge rule on ECS Task State Change with a non-zero exitCode for this family) and make a run safe to retry.".into()
    } else {
        "Enable the deployment circuit breaker with rollback, so a revision that cannot stay up is rolled back without a person.".into()
    });
    let title = if standalone {
        format!(
            "{n} of {} runs of {} failed with an application error",
            r.tasks, r.label
        )
    } else {
        format!("{} crash-loops: {n} application-error exits", r.label)
    };
    Some(Finding {
        severity: Severity::Critical,
        kind: "crash_loop",
        title,
        revisions: vec![r.label.clone()],
        deployments: deployments_of(svc, r),
        impact: n,
        evidence,
        recommendations,
        example_tasks: r.examples("app_error").to_vec(),
    })
}

fn segfaults(r: &RevisionStats) -> Option<Finding> {
    let n = r.kind("segfault");
    if n == 0 {
        return None;
    }
    Some(Finding {
        severity: Severity::Warning,
        kind: "segfaults",
        title: format!("{n} segfaults (exit 139) on {}", r.label),
        revisions: vec![r.label.clone()],
        deployments: Vec::new(),
        impact: n,
        evidence: vec![format!("{n} of {} tasks ended with SIGSEGV", r.tasks)],
        recommendations: vec![
            "A native crash: check native modules and base-image libraries changed in this revision; capture a core dump (`ulimits` core) or run with the runtime's crash reporter to get a stack.".into(),
        ],
        example_tasks: r.examples("segfault").to_vec(),
    })
}

fn start_advice(reason: &str) -> String {
    if reason.contains("CannotPullContainerError") {
        "The image cannot be pulled: check that the tag exists in the registry and that the task execution role may pull it (ecr:BatchGetImage, ecr:GetDownloadUrlForLayer), and that private subnets reach ECR (VPC endpoints or NAT).".into()
    } else if reason.contains("ResourceInitializationError") {
        "Task resources could not be initialised: check secrets and parameters the task reads, the log configuration, and network access from its subnets.".into()
    } else {
        format!("Fix the start failure: {reason}")
    }
}

fn failed_deployments(svc: &ServiceEvidence) -> Vec<Finding> {
    svc.deployments
        .iter()
        .filter(|d| d.failed())
        .map(|d| {
            let label = d.label();
            let rev = svc.revisions.iter().find(|r| r.label == label);
            let reason = rev.and_then(|r| r.first_stopped_reason.get("failed_to_start"));
            let mut evidence = vec![format!(
                "deployment {} of {label} started {}: {} tasks, {} failed to start",
                d.deployment_id,
                d.started_at.map(day_time_of).unwrap_or_default(),
                d.tasks,
                d.stopped_failed_to_start
            )];
            if let Some(reason) = reason {
                evidence.push(format!("stopped reason: {reason}"));
            }
            let rolled = d.outcome == "rolled_back";
            if rolled {
                evidence.push("the deployment circuit breaker rolled the service back to the previous deployment".into());
            }
            let mut recommendations = Vec::new();
            if let Some(reason) = reason {
                recommendations.push(start_advice(reason));
            }
            if !rolled {
                recommendations.push("Enable the deployment circuit breaker with rollback on the service.".into());
            }
            Finding {
                severity: Severity::Critical,
                kind: "failed_deployment",
                title: format!(
                    "deployment of {label} failed{}",
                    if rolled { " and was rolled back" } else { "" }
                ),
                revisions: vec![label.clone()],
                deployments: vec![d.deployment_id.clone()],
                impact: d.tasks.max(1) as usize,
                evidence,
                recommendations,
                example_tasks: rev.map(|r| r.examples("failed_to_start").to_vec()).unwrap_or_default(),
            }
        })
        .collect()
}

fn start_failures(svc: &ServiceEvidence, r: &RevisionStats) -> Option<Finding> {
    let n = r.cause("failed_to_start");
    let covered = svc
        .deployments
        .iter()
        .any(|d| d.revision == r.revision && d.failed());
    if n == 0 || covered {
        return None;
    }
    let reason = r.first_stopped_reason.get("failed_to_start");
    Some(Finding {
        severity: Severity::Warning,
        kind: "start_failures",
        title: format!("{n} tasks of {} failed to start", r.label),
        revisions: vec![r.label.clone()],
        deployments: Vec::new(),
        impact: n,
        evidence: reason
            .map(|r| vec![format!("stopped reason: {r}")])
            .unwrap_or_default(),
        recommendations: reason.map(|r| vec![start_advice(r)]).unwrap_or_default(),
        example_tasks: r.examples("failed_to_start").to_vec(),
    })
}

fn spot(r: &RevisionStats) -> Option<Finding> {
    let n = r.cause("spot_interruption");
    if n == 0 {
        return None;
    }
    Some(Finding {
        severity: Severity::Info,
        kind: "spot_interruptions",
        title: format!("{n} Spot interruptions on {}", r.label),
        revisions: vec![r.label.clone()],
        deployments: Vec::new(),
        impact: n,
        evidence: vec![format!("{n} of {} tasks were reclaimed by Fargate Spot", r.tasks)],
        recommendations: vec![
            "Expected on Spot: keep a base of on-demand FARGATE in the capacity provider strategy for the tasks you cannot lose, and make sure the app shuts down cleanly within the two-minute warning (SIGTERM).".into(),
        ],
        example_tasks: r.examples("spot_interruption").to_vec(),
    })
}

fn headroom(r: &RevisionStats) -> Option<Finding> {
    let s = r.memory_peak?;
    let p99 = r.peak_pct(s.p99)?;
    if r.oom_kills > 0 || p99 < TIGHT_HEADROOM_PCT {
        return None;
    }
    let size = memory_size_at_least(s.p99 * 1.25, r.cpu, r.on_fargate());
    Some(Finding {
        severity: Severity::Warning,
        kind: "memory_headroom",
        title: format!("{} runs at {p99:.0}% of its memory limit (p99 peak), no OOM kill yet", r.label),
        revisions: vec![r.label.clone()],
        deployments: Vec::new(),
        impact: 0,
        evidence: vec![peaks(r, &s)],
        recommendations: vec![match size {
            Some(size) => format!("Set the task memory to {size} MiB (p99 peak + 25%, a valid size for its CPU), unless memory grows with uptime."),
            None => "p99 peak + 25% exceeds every Fargate size for this CPU: raise the CPU too, or reduce what the app holds.".into(),
        }],
        example_tasks: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::evidence::{TaskRow, assemble};

    const H: i64 = 3_600_000_000;

    /// `n` stopped tasks of one revision; `f` sets what differs.
    fn tasks(n: usize, revision: i64, f: impl Fn(usize, &mut TaskRow)) -> Vec<TaskRow> {
        (0..n)
            .map(|i| {
                let mut t = TaskRow {
                    cluster: Some("prod".into()),
                    service: Some("svc".into()),
                    task_id: format!("t{revision}-{i}"),
                    family: Some("svc".into()),
                    revision: Some(revision),
                    launch_type: Some("FARGATE".into()),
                    started_at: Some(i as i64 * H),
                    stopping_at: Some(i as i64 * H + H),
                    stopped_at: Some(i as i64 * H + H + 1_000_000),
                    cpu: Some(1024),
                    memory_limit: Some(2048),
                    ..TaskRow::default()
                };
                f(i, &mut t);
                t
            })
            .collect()
    }

    fn oom(t: &mut TaskRow) {
        t.stop_cause = Some("oom_killed".into());
        t.exit_kind = Some("sigkill_oom".into());
        t.exit_code = Some(137);
    }

    fn only(rows: Vec<TaskRow>) -> Vec<Finding> {
        let svc = assemble(rows, Vec::new(), Vec::new());
        assert_eq!(svc.len(), 1);
        findings(&svc[0])
    }

    #[test]
    fn steady_memory_at_the_limit_gets_a_valid_fargate_size_not_a_leak() {
        let rows = tasks(20, 3, |i, t| {
            t.memory_peak = Some(if i < 5 { 2048 } else { 1500 + i as i64 });
            t.slope_mib_per_hour = Some(0.4);
            t.intercept_mib = Some(1500.0);
            t.memory_samples = Some(60);
            if i < 5 {
                oom(t);
            }
        });
        let f = only(rows);
        let o = f.iter().find(|f| f.kind == "oom_kills").unwrap();
        assert_eq!(o.impact, 5);
        assert!(!o.title.contains("leak suspected"), "{}", o.title);
        assert!(o.title.contains("sudden spikes"), "{}", o.title);
        let rec = o.recommendations.join("\n");
        // p99 = 2048 -> 2560 wanted -> 3072 is the next size for 1024 CPU.
        assert!(rec.contains("task memory to 3072 MiB"), "{rec}");
        assert!(rec.contains("memoryReservation to 2048 MiB"), "{rec}");
    }

    #[test]
    fn without_memory_samples_the_evidence_is_insufficient() {
        let rows = tasks(4, 1, |_, t| oom(t));
        let f = only(rows);
        let o = f.iter().find(|f| f.kind == "oom_kills").unwrap();
        assert!(
            o.recommendations.join(" ").contains("insufficient"),
            "{o:#?}"
        );
        assert!(!o.recommendations.join(" ").contains("task memory to"));
        assert!(f.iter().any(|f| f.kind == "no_memory_data"));
    }

    #[test]
    fn a_revision_that_never_became_healthy_gets_no_start_period() {
        let rows = tasks(6, 9, |_, t| {
            t.stop_cause = Some("container_health_check".into());
            t.exit_kind = Some("sigterm".into());
            t.health_check_failed = Some(true);
        });
        let f = only(rows);
        let h = f.iter().find(|f| f.kind == "health_checks").unwrap();
        assert!(
            h.evidence
                .iter()
                .any(|e| e.contains("ever reported HEALTHY"))
        );
        assert!(h.recommendations.join(" ").contains("insufficient"));
        assert!(!h.recommendations.join(" ").contains("at least"));
    }

    #[test]
    fn tight_headroom_without_oom_is_a_warning() {
        let rows = tasks(10, 2, |_, t| t.memory_peak = Some(1900));
        let f = only(rows);
        let h = f.iter().find(|f| f.kind == "memory_headroom").unwrap();
        assert_eq!(h.severity, Severity::Warning);
        assert!(h.recommendations[0].contains("3072 MiB"), "{h:#?}");
        // A healthy revision with room to spare: nothing to say.
        assert!(only(tasks(10, 2, |_, t| t.memory_peak = Some(900))).is_empty());
    }
}
