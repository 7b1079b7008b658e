//! Findings: rules over one service's [`ServiceEvidence`], each giving what
//! happened (with figures, revisions, deployments and example tasks) and
//! what to change. Pure functions: the tests feed them evidence built by
//! hand as well as evidence read from simulator lakes.
//!
//! A finding is data: its [`FindingKind`], a [`Title`], [`Fact`]s and
//! [`Recommendation`]s, each carrying its figures. Prose is written only
//! when a finding is rendered ([`super::prose`]), so callers and tests read
//! the figures (the recommended memory size, the start period, the leak
//! slope) rather than scraping sentences.
//!
//! The rules never recommend more memory for a leak (it only postpones the
//! kill), never size anything without samples, and say so when the
//! evidence is insufficient.

use ecs_lake::classify::{ExitKind, StopCause};
use ecs_lake::sources::logs::signature::Signature;
use serde::Serialize;

use super::evidence::{Growth, RevisionStats, STANDALONE, ServiceEvidence, Spread};
use super::recommend::{Runtime, grace_period_s, memory_size_at_least, round_up};
use crate::summary::DeploymentOutcome;

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
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

/// The rule a finding comes from: its stable name in JSON and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingKind {
    OomKills,
    HeapExhausted,
    StopTimeoutKills,
    HealthChecks,
    CrashLoop,
    Segfaults,
    FailedDeployment,
    StartFailures,
    SpotInterruptions,
    MemoryHeadroom,
    NoMemoryData,
}

impl FindingKind {
    pub const ALL: [FindingKind; 11] = [
        Self::OomKills,
        Self::HeapExhausted,
        Self::StopTimeoutKills,
        Self::HealthChecks,
        Self::CrashLoop,
        Self::Segfaults,
        Self::FailedDeployment,
        Self::StartFailures,
        Self::SpotInterruptions,
        Self::MemoryHeadroom,
        Self::NoMemoryData,
    ];

    /// The stable name (`oom_kills`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OomKills => "oom_kills",
            Self::HeapExhausted => "heap_exhausted",
            Self::StopTimeoutKills => "stop_timeout_kills",
            Self::HealthChecks => "health_checks",
            Self::CrashLoop => "crash_loop",
            Self::Segfaults => "segfaults",
            Self::FailedDeployment => "failed_deployment",
            Self::StartFailures => "start_failures",
            Self::SpotInterruptions => "spot_interruptions",
            Self::MemoryHeadroom => "memory_headroom",
            Self::NoMemoryData => "no_memory_data",
        }
    }
}

ecs_lake::stored_name!(FindingKind, "finding kind");

/// One finding: what, the evidence, and what to change.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub severity: Severity,
    pub kind: FindingKind,
    pub title: Title,
    /// The revisions it is about (`family:revision`).
    pub revisions: Vec<String>,
    pub deployments: Vec<String>,
    /// Tasks affected: the ranking's measure.
    pub impact: usize,
    pub evidence: Vec<Fact>,
    pub recommendations: Vec<Recommendation>,
    pub example_tasks: Vec<String>,
    /// The recommendations as changes to apply, where the task definition
    /// is in the lake ([`super::patch`]).
    pub patches: Vec<super::patch::Patch>,
}

impl Finding {
    /// The recommendations of one action, e.g. every [`Recommendation::SetMemory`].
    pub fn recommends(&self, pick: impl Fn(&Recommendation) -> bool) -> Vec<&Recommendation> {
        self.recommendations.iter().filter(|r| pick(r)).collect()
    }
}

/// How OOM kills come about.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "pattern", rename_all = "snake_case")]
pub enum OomPattern {
    /// Memory grows with uptime until the limit.
    Leak { mib_per_hour: f64 },
    /// Steady memory, then the limit, long before a trend would get there.
    Spikes,
}

/// What a finding's title says, with its figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "title", rename_all = "snake_case")]
pub enum Title {
    OomKills {
        kills: usize,
        revision: String,
        pattern: Option<OomPattern>,
    },
    /// The runtime ran out of its own heap (not an OOM kill).
    HeapExhausted {
        tasks: i64,
        revision: String,
        runtime: Option<Runtime>,
    },
    StopTimeoutKills {
        kills: usize,
        revision: String,
    },
    HealthChecks {
        stops: usize,
        tasks: usize,
        revision: String,
        /// The tasks that passed needed longer than the failing ones got.
        warm_up_exceeds_start_period: bool,
    },
    CrashLoop {
        exits: usize,
        revision: String,
    },
    /// A standalone task (a job) whose runs fail.
    FailedRuns {
        failed: usize,
        runs: usize,
        revision: String,
    },
    Segfaults {
        segfaults: usize,
        revision: String,
    },
    FailedDeployment {
        revision: String,
        rolled_back: bool,
    },
    StartFailures {
        tasks: usize,
        revision: String,
    },
    SpotInterruptions {
        interruptions: usize,
        revision: String,
    },
    MemoryHeadroom {
        revision: String,
        p99_peak_pct: f64,
    },
    NoMemoryData,
}

/// Where the runtime was recognised.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuntimeSource {
    /// A crash signature in the logs.
    Logs(Signature),
    Image(String),
    /// A heap flag in the task definition's environment.
    TaskDefinition(String),
}

/// One piece of evidence, with its figures. Times are µs since the epoch,
/// durations seconds, memory MiB.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "fact", rename_all = "snake_case")]
pub enum Fact {
    /// The revision's memory as configured (its task definition is in the lake).
    ConfiguredMemory {
        revision: String,
        container: String,
        limit_mib: Option<i64>,
        reservation_mib: Option<i64>,
        /// The heap cap the environment sets, MiB, and its flag.
        heap_cap_mib: Option<i64>,
        heap_flag: Option<String>,
    },
    /// What changed in the configuration from the revision before (both
    /// task definitions in the lake).
    ConfigChanged {
        from: String,
        to: String,
        changes: Vec<crate::config::Change>,
    },
    /// The revision's task definition is not in the lake: the findings
    /// infer from observations only.
    ConfigNotInLake {
        revision: String,
    },
    /// The container's stop timeout and init process as configured.
    ConfiguredStopTimeout {
        container: String,
        stop_timeout_s: Option<i64>,
        init_process_enabled: Option<bool>,
    },
    /// The load balancer's health check as configured, and the time it
    /// gives a starting task: grace period + interval x unhealthy threshold.
    LoadBalancerHealthCheck {
        grace_period_s: Option<i64>,
        path: Option<String>,
        interval_s: i64,
        timeout_s: Option<i64>,
        unhealthy_threshold: i64,
        deadline_s: i64,
    },
    /// The service is not in the lake: its grace period and target group
    /// are unknown.
    ServiceNotInLake {
        cluster: String,
        service: String,
    },
    /// The container health check as configured, and the time it gives a
    /// starting task: startPeriod + interval x retries.
    ContainerHealthCheck {
        container: String,
        interval_s: i64,
        timeout_s: i64,
        retries: i64,
        start_period_s: Option<i64>,
        deadline_s: i64,
    },
    OomKills {
        oom_kills: usize,
        tasks: usize,
        first_task_at: Option<i64>,
        exit_137: usize,
        stop_timeout_kills: usize,
    },
    /// Tasks whose logs show the runtime's own out-of-memory.
    HeapExhausted {
        signature: Signature,
        tasks: i64,
        of_tasks: usize,
        aborts: usize,
        oom_kills: usize,
    },
    MemoryPeaks {
        peak: Spread,
        limit_mib: Option<i64>,
    },
    Leak {
        mib_per_hour: f64,
        start_mib: f64,
        tasks: usize,
        limit_mib: i64,
        hours_to_limit: f64,
        /// Median uptime of the OOM-killed tasks.
        oom_uptime_s: Option<f64>,
    },
    Spikes {
        start_mib: f64,
        mib_per_hour: f64,
        /// What the trend alone would take to reach the limit.
        hours_to_limit: Option<f64>,
        oom_uptime_h: f64,
    },
    Runtime {
        runtime: Runtime,
        seen_in: RuntimeSource,
    },
    RevisionBeforeOom {
        revision: String,
        oom_kills: usize,
        tasks: usize,
        peak_p95_mib: Option<f64>,
        peak_p95_pct: Option<f64>,
        growth_mib_per_hour: Option<f64>,
    },
    RevisionAfterWithoutOom {
        revision: String,
        tasks: usize,
    },
    RegressionStarted {
        revision: String,
    },
    StopTimeoutKills {
        kills: usize,
        exit_137: usize,
        revision: String,
    },
    StopDuration {
        p50_s: f64,
    },
    HealthCheckStops {
        stops: usize,
        tasks: usize,
        first_task_at: Option<i64>,
    },
    HealthStopUptime {
        p50_s: f64,
    },
    TimeToHealthy {
        spread: Spread,
    },
    NeverHealthy {
        revision: String,
    },
    /// The health check's timings are not in ECS events.
    HealthSettingsUnknown,
    RevisionBeforeHealth {
        revision: String,
        stops: usize,
        tasks: usize,
        time_to_healthy_p95_s: Option<f64>,
    },
    AppErrorExits {
        exits: usize,
        tasks: usize,
        first_task_at: Option<i64>,
    },
    CrashUptime {
        p50_s: f64,
        max_s: f64,
    },
    RevisionAfterCrashes {
        revision: String,
        exits: usize,
        tasks: usize,
    },
    RevisionBeforeCrashes {
        revision: String,
        exits: usize,
    },
    Segfaults {
        segfaults: usize,
        tasks: usize,
    },
    Deployment {
        deployment_id: String,
        revision: String,
        started_at: Option<i64>,
        tasks: i64,
        failed_to_start: i64,
    },
    StoppedReason {
        reason: String,
    },
    RolledBack,
    /// The target group's deregistration delay, waited before SIGTERM.
    Draining {
        deregistration_delay_s: i64,
        stop_timeout_s: i64,
        observed_p50_s: Option<f64>,
    },
    /// ECS's own record of the deployment (its deployment history).
    EcsDeployment {
        id: String,
        status: Option<String>,
        status_reason: Option<String>,
        circuit_breaker_status: Option<String>,
        failure_count: Option<i64>,
        threshold: Option<i64>,
        triggered_alarms: Option<String>,
        rollback_reason: Option<String>,
        rolled_back_to: Option<String>,
    },
    /// The deployment history is not in the lake: the commands that add it.
    DeploymentHistoryNotInLake {
        cluster: String,
        service: String,
    },
    SpotReclaimed {
        interruptions: usize,
        tasks: usize,
    },
    NoMemorySamples {
        tasks: usize,
    },
}

/// Why a memory size is recommended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MemoryNeed {
    /// Memory is steady: the workload needs more than the limit.
    Steady,
    /// Spikes are cut at the limit: the size is a floor.
    Spikes,
}

/// A larger limit's effect on a leak.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Postponed {
    pub memory_mib: i64,
    pub kill_after_h: f64,
    pub kill_after_h_with_it: f64,
}

/// Why tasks could not start, from the stopped reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "failure", rename_all = "snake_case")]
pub enum StartFailure {
    ImagePull,
    ResourceInitialization,
    Other { reason: String },
}

impl StartFailure {
    pub fn of(reason: &str) -> StartFailure {
        if reason.contains("CannotPullContainerError") {
            StartFailure::ImagePull
        } else if reason.contains("ResourceInitializationError") {
            StartFailure::ResourceInitialization
        } else {
            StartFailure::Other {
                reason: reason.to_owned(),
            }
        }
    }
}

/// What to change, with the settings' values.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Recommendation {
    /// Not more memory: find the leak.
    TreatAsLeak {
        revision: String,
        larger_limit: Option<Postponed>,
    },
    /// Task memory and the container's memoryReservation.
    SetMemory {
        memory_mib: i64,
        reservation_mib: i64,
        p99_peak_mib: f64,
        cpu: i64,
        need: MemoryNeed,
    },
    /// No Fargate size for the CPU holds the peak with headroom.
    RaiseCpu {
        p99_peak_mib: f64,
        cpu: i64,
    },
    /// No memory samples: nothing to size from.
    MeasureBeforeSizing,
    CapHeap {
        runtime: Runtime,
        limit_mib: i64,
        /// The flag the task definition sets now, to replace.
        current: Option<String>,
    },
    /// The heap cap, not the container, is too small for the workload.
    RaiseHeapCap {
        runtime: Runtime,
        limit_mib: i64,
        current: Option<String>,
        /// The highest memory use seen: the cap plus what the runtime holds outside it.
        peak_mib: Option<i64>,
    },
    RollBackUntilFixed {
        to: String,
    },
    HandleSigterm,
    StopTimeout {
        observed_s: Option<f64>,
    },
    StartPeriod {
        seconds: i64,
        passed_p95_s: f64,
        stopped_after_s: Option<f64>,
    },
    CheckHealthCheck,
    FindSlowerStartup {
        revision: String,
        p95_s: f64,
        before_p95_s: f64,
        before_revision: String,
    },
    ReadLastLines {
        task: Option<String>,
    },
    RollBackWhileFixed {
        to: String,
    },
    AlertOnFailedRuns,
    CircuitBreakerForCrashLoops,
    NativeCrash,
    FixStartFailure {
        failure: StartFailure,
    },
    CircuitBreaker,
    SpotBase,
    MemoryForHeadroom {
        memory_mib: Option<i64>,
    },
    EnableContainerInsights,
}

/// Memory growth below this (MiB per hour of uptime) is noise, not a leak.
pub const LEAK_MIB_PER_HOUR: f64 = 5.0;
/// A peak at or above this share of the limit leaves too little headroom.
const TIGHT_HEADROOM_PCT: f64 = 90.0;
/// Application-error exits on one revision from which it is a crash loop.
const CRASH_LOOP_EXITS: usize = 3;
/// A health-check failure share from which the finding is critical.
const CRITICAL_HEALTH_SHARE_PCT: f64 = 10.0;

/// The runtime, if the logs or the images say which.
fn runtime(svc: &ServiceEvidence, r: &RevisionStats) -> Option<(Runtime, RuntimeSource)> {
    // The revision's own log signatures first, then the service's.
    fn in_logs<'a>(
        mut signatures: impl Iterator<Item = &'a Signature>,
    ) -> Option<(Runtime, RuntimeSource)> {
        signatures.find_map(|s| Runtime::from_signature(*s).map(|rt| (rt, RuntimeSource::Logs(*s))))
    }
    let configured = r.config.iter().find_map(|c| {
        let (_, flag) = c.heap_cap()?;
        let runtime = if c.node_max_old_space_mib.is_some() {
            Runtime::Node
        } else if c.java_xmx_mib.is_some() {
            Runtime::Jvm
        } else {
            Runtime::Go
        };
        Some((runtime, RuntimeSource::TaskDefinition(flag)))
    });
    let from_logs = in_logs(r.signatures.keys()).or_else(|| in_logs(svc.signatures().keys()));
    from_logs.or(configured).or_else(|| {
        r.images
            .iter()
            .find_map(|i| Runtime::from_image(i).map(|rt| (rt, RuntimeSource::Image(i.clone()))))
    })
}

fn deployments_of(svc: &ServiceEvidence, r: &RevisionStats) -> Vec<String> {
    svc.deployments
        .iter()
        .filter(|d| d.revision == r.revision && d.family.as_deref() == Some(r.family.as_str()))
        .map(|d| d.deployment_id.clone())
        .collect()
}

/// What changed in the configuration from `before` to `r`, when both task
/// definitions are in the lake and something did.
fn config_changed(before: &RevisionStats, r: &RevisionStats) -> Option<Fact> {
    let both: Vec<crate::config::ContainerConfig> =
        before.config.iter().chain(&r.config).cloned().collect();
    let changes = crate::config::diff(&both, &before.label, &r.label).ok()?;
    (!changes.is_empty()).then(|| Fact::ConfigChanged {
        from: before.label.clone(),
        to: r.label.clone(),
        changes,
    })
}

/// The revision's memory as its task definition configures it: the
/// essential container with a heap cap, else the one with the largest limit;
/// or that the task definition is not in the lake.
fn memory_config(r: &RevisionStats) -> Fact {
    let essential = r.config.iter().filter(|c| c.essential != Some(false));
    let chosen = essential
        .clone()
        .find(|c| c.heap_cap().is_some())
        .or_else(|| essential.max_by_key(|c| c.limit_mib()));
    match chosen {
        Some(c) => {
            let heap = c.heap_cap();
            Fact::ConfiguredMemory {
                revision: r.label.clone(),
                container: c.container_name.clone(),
                limit_mib: c.limit_mib(),
                reservation_mib: c.memory_reservation,
                heap_cap_mib: heap.as_ref().map(|h| h.0),
                heap_flag: heap.map(|h| h.1),
            }
        }
        None => Fact::ConfigNotInLake {
            revision: r.label.clone(),
        },
    }
}

fn memory_peaks(r: &RevisionStats, peak: Spread) -> Fact {
    Fact::MemoryPeaks {
        peak,
        limit_mib: r.memory_limit,
    }
}

/// All findings for one service, most important first: severity, then tasks affected.
pub fn findings(svc: &ServiceEvidence) -> Vec<Finding> {
    let mut out = Vec::new();
    for r in &svc.revisions {
        out.extend(oom(svc, r));
        out.extend(heap_exhausted(svc, r));
        out.extend(stop_timeout(svc, r));
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
            patches: Vec::new(),
            severity: Severity::Info,
            kind: FindingKind::NoMemoryData,
            title: Title::NoMemoryData,
            revisions: Vec::new(),
            deployments: Vec::new(),
            impact: 0,
            evidence: vec![Fact::NoMemorySamples { tasks: svc.tasks() }],
            recommendations: vec![Recommendation::EnableContainerInsights],
            example_tasks: Vec::new(),
        });
    }
    for f in &mut out {
        f.patches = super::patch::patches(svc, f);
    }
    out.sort_by(|a, b| a.severity.cmp(&b.severity).then(b.impact.cmp(&a.impact)));
    out
}

fn oom(svc: &ServiceEvidence, r: &RevisionStats) -> Option<Finding> {
    if r.oom_kills == 0 {
        return None;
    }
    let mut evidence = vec![Fact::OomKills {
        oom_kills: r.oom_kills,
        tasks: r.tasks,
        first_task_at: r.first_started_at,
        exit_137: r.exit_137,
        stop_timeout_kills: r.stop_timeout_kills,
    }];
    let mut recommendations = Vec::new();
    let limit = r.memory_limit;
    if let Some(s) = r.memory_peak {
        evidence.push(memory_peaks(r, s));
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
    let mut pattern = None;
    if let (Some(g), Some(limit)) = (leak, limit) {
        let hours = (limit as f64 - g.start_mib) / g.mib_per_hour;
        pattern = Some(OomPattern::Leak {
            mib_per_hour: g.mib_per_hour,
        });
        evidence.push(Fact::Leak {
            mib_per_hour: g.mib_per_hour,
            start_mib: g.start_mib,
            tasks: g.tasks,
            limit_mib: limit,
            hours_to_limit: hours,
            oom_uptime_s: r.uptime_to_oom.map(|u| u.p50),
        });
        let larger_limit =
            memory_size_at_least(limit as f64 + 1.0, r.cpu, r.on_fargate()).map(|b| Postponed {
                memory_mib: b,
                kill_after_h: hours,
                kill_after_h_with_it: (b as f64 - g.start_mib) / g.mib_per_hour,
            });
        recommendations.push(Recommendation::TreatAsLeak {
            revision: r.label.clone(),
            larger_limit,
        });
    } else if let (Some(s), Some(_)) = (r.memory_peak, limit) {
        let need = match (r.growth, observed_h) {
            (Some(g), Some(o)) if !explains(&g) || g.mib_per_hour < LEAK_MIB_PER_HOUR => {
                pattern = Some(OomPattern::Spikes);
                evidence.push(Fact::Spikes {
                    start_mib: g.start_mib,
                    mib_per_hour: g.mib_per_hour,
                    hours_to_limit: projected_h(&g).filter(|p| p.is_finite() && *p > 0.0),
                    oom_uptime_h: o,
                });
                MemoryNeed::Spikes
            }
            _ => MemoryNeed::Steady,
        };
        let cpu = r.cpu.unwrap_or(0);
        recommendations.push(
            match memory_size_at_least(s.p99 * 1.25, r.cpu, r.on_fargate()) {
                Some(memory_mib) => Recommendation::SetMemory {
                    memory_mib,
                    reservation_mib: round_up(s.p95.ceil() as i64, 64),
                    p99_peak_mib: s.p99,
                    cpu,
                    need,
                },
                None => Recommendation::RaiseCpu {
                    p99_peak_mib: s.p99,
                    cpu,
                },
            },
        );
    } else {
        recommendations.push(Recommendation::MeasureBeforeSizing);
    }
    let configured = memory_config(r);
    evidence.push(configured.clone());
    let current_flag = match &configured {
        Fact::ConfiguredMemory { heap_flag, .. } => heap_flag.clone(),
        _ => None,
    };
    if let (Some((runtime, seen_in)), Some(limit)) = (runtime(svc, r), limit) {
        evidence.push(Fact::Runtime { runtime, seen_in });
        recommendations.push(Recommendation::CapHeap {
            runtime,
            limit_mib: limit,
            current: current_flag,
        });
    }
    if let Some(p) = svc.previous(r) {
        evidence.push(Fact::RevisionBeforeOom {
            revision: p.label.clone(),
            oom_kills: p.oom_kills,
            tasks: p.tasks,
            peak_p95_mib: p.memory_peak.map(|s| s.p95),
            peak_p95_pct: p.memory_peak.map(|s| p.peak_pct(s.p95).unwrap_or(0.0)),
            growth_mib_per_hour: p.growth.map(|g| g.mib_per_hour),
        });
        let fixed = svc.next(r).filter(|n| n.oom_kills == 0);
        if let Some(n) = fixed {
            evidence.push(Fact::RevisionAfterWithoutOom {
                revision: n.label.clone(),
                tasks: n.tasks,
            });
        }
        if p.oom_kills == 0 {
            evidence.push(Fact::RegressionStarted {
                revision: r.label.clone(),
            });
            evidence.extend(config_changed(p, r));
            if fixed.is_none() {
                recommendations.push(Recommendation::RollBackUntilFixed {
                    to: p.label.clone(),
                });
            }
        }
    }
    Some(Finding {
        patches: Vec::new(),
        severity: Severity::Critical,
        kind: FindingKind::OomKills,
        title: Title::OomKills {
            kills: r.oom_kills,
            revision: r.label.clone(),
            pattern,
        },
        revisions: vec![r.label.clone()],
        deployments: deployments_of(svc, r),
        impact: r.oom_kills,
        evidence,
        recommendations,
        example_tasks: r.examples_of_cause(StopCause::OomKilled).to_vec(),
    })
}

/// Tasks whose runtime ran out of its own heap: the logs say so (V8's
/// "JavaScript heap out of memory", Java's `OutOfMemoryError`, ...), and no
/// OOM kill is needed for it. With a cap below the container's limit the
/// cap is what ran out: raise it (a leak is still a leak: find it first).
fn heap_exhausted(svc: &ServiceEvidence, r: &RevisionStats) -> Option<Finding> {
    let (&signature, &tasks) = r
        .signature_tasks
        .iter()
        .filter(|(s, _)| s.is_runtime_oom())
        .max_by_key(|(_, n)| **n)?;
    let runtime = Runtime::from_signature(signature);
    let mut evidence = vec![Fact::HeapExhausted {
        signature,
        tasks,
        of_tasks: r.tasks,
        aborts: r.kind(ExitKind::Abort),
        oom_kills: r.oom_kills,
    }];
    if let Some(s) = r.memory_peak {
        evidence.push(memory_peaks(r, s));
    }
    let configured = memory_config(r);
    evidence.push(configured.clone());
    let mut recommendations = Vec::new();
    if r.growth
        .is_some_and(|g| g.mib_per_hour >= LEAK_MIB_PER_HOUR)
    {
        recommendations.push(Recommendation::TreatAsLeak {
            revision: r.label.clone(),
            larger_limit: None,
        });
    }
    let (limit, cap, flag) = match &configured {
        Fact::ConfiguredMemory {
            limit_mib,
            heap_cap_mib,
            heap_flag,
            ..
        } => (
            limit_mib.or(r.memory_limit),
            *heap_cap_mib,
            heap_flag.clone(),
        ),
        _ => (r.memory_limit, None, None),
    };
    if let (Some(runtime), Some(limit)) = (runtime, limit) {
        // Room to raise: a cap below what the limit allows, or the
        // runtime's default cap (unset) that ran out first.
        let room = match (cap, runtime.heap_cap_mib(limit)) {
            (Some(cap), Some(target)) => cap < target,
            (None, target) => target.is_some(),
            (Some(_), None) => false,
        };
        if room {
            recommendations.push(Recommendation::RaiseHeapCap {
                runtime,
                limit_mib: limit,
                current: flag,
                peak_mib: r.memory_peak.map(|s| s.max.round() as i64),
            });
        }
    }
    if recommendations.is_empty() {
        recommendations.push(Recommendation::ReadLastLines {
            task: r.examples_of_kind(ExitKind::Abort).first().cloned(),
        });
    }
    // Critical when tasks died of it; a line alone (a caught MemoryError,
    // a runtime that recovered) is a warning.
    let died = r.kind(ExitKind::Abort) + r.kind(ExitKind::AppError) + r.oom_kills;
    Some(Finding {
        patches: Vec::new(),
        severity: if died > 0 {
            Severity::Critical
        } else {
            Severity::Warning
        },
        kind: FindingKind::HeapExhausted,
        title: Title::HeapExhausted {
            tasks,
            revision: r.label.clone(),
            runtime,
        },
        revisions: vec![r.label.clone()],
        deployments: deployments_of(svc, r),
        impact: usize::try_from(tasks).unwrap_or(0),
        evidence,
        recommendations,
        example_tasks: r.examples_of_kind(ExitKind::Abort).to_vec(),
    })
}

fn stop_timeout(svc: &ServiceEvidence, r: &RevisionStats) -> Option<Finding> {
    if r.stop_timeout_kills == 0 {
        return None;
    }
    let mut evidence = vec![Fact::StopTimeoutKills {
        kills: r.stop_timeout_kills,
        exit_137: r.exit_137,
        revision: r.label.clone(),
    }];
    if let Some(s) = r.stop_timeout_s {
        evidence.push(Fact::StopDuration { p50_s: s.p50 });
    }
    let configured = r.config.iter().find(|c| c.essential != Some(false));
    if let Some(c) = configured {
        evidence.push(Fact::ConfiguredStopTimeout {
            container: c.container_name.clone(),
            stop_timeout_s: c.stop_timeout,
            init_process_enabled: c.init_process_enabled,
        });
    }
    // With a load balancer, ECS drains the task first: the stop takes the
    // deregistration delay, then the stop timeout.
    if let Some(delay) = svc.config.as_ref().and_then(|c| c.deregistration_delay_s) {
        let stop_timeout_s = configured
            .and_then(|c| c.stop_timeout)
            .unwrap_or(ecs_lake::classify::DEFAULT_STOP_TIMEOUT_MICROS / 1_000_000);
        evidence.push(Fact::Draining {
            deregistration_delay_s: delay,
            stop_timeout_s,
            observed_p50_s: r.stop_timeout_s.map(|s| s.p50),
        });
    }
    if let Some(s) = r.memory_peak {
        evidence.push(memory_peaks(r, s));
    }
    Some(Finding {
        patches: Vec::new(),
        severity: Severity::Warning,
        kind: FindingKind::StopTimeoutKills,
        title: Title::StopTimeoutKills {
            kills: r.stop_timeout_kills,
            revision: r.label.clone(),
        },
        revisions: vec![r.label.clone()],
        deployments: Vec::new(),
        impact: r.stop_timeout_kills,
        evidence,
        recommendations: vec![
            Recommendation::HandleSigterm,
            Recommendation::StopTimeout {
                observed_s: r.stop_timeout_s.map(|s| s.p50),
            },
        ],
        example_tasks: r
            .examples_of_kind(ExitKind::SigkillAfterStopTimeout)
            .to_vec(),
    })
}

fn health_checks(svc: &ServiceEvidence, r: &RevisionStats) -> Option<Finding> {
    if r.health_check_stops == 0 {
        return None;
    }
    let share = 100.0 * r.health_check_stops as f64 / r.tasks.max(1) as f64;
    let mut evidence = vec![Fact::HealthCheckStops {
        stops: r.health_check_stops,
        tasks: r.tasks,
        first_task_at: r.first_started_at,
    }];
    let mut recommendations = Vec::new();
    let killed_at = r.uptime_to_health_stop.map(|s| s.p50);
    if let Some(k) = killed_at {
        evidence.push(Fact::HealthStopUptime { p50_s: k });
    }
    match r.time_to_healthy {
        Some(t) => {
            evidence.push(Fact::TimeToHealthy { spread: t });
            let needed = killed_at.map_or(t.p95, |k| k.max(t.p95));
            recommendations.push(Recommendation::StartPeriod {
                seconds: grace_period_s(needed),
                passed_p95_s: t.p95,
                stopped_after_s: killed_at,
            });
        }
        None => {
            evidence.push(Fact::NeverHealthy {
                revision: r.label.clone(),
            });
            recommendations.push(Recommendation::CheckHealthCheck);
        }
    }
    match r
        .config
        .iter()
        .find_map(|c| Some((c, c.health_check_deadline_s()?)))
    {
        Some((c, deadline_s)) => evidence.push(Fact::ContainerHealthCheck {
            container: c.container_name.clone(),
            interval_s: c.health_check_interval.unwrap_or(30),
            timeout_s: c.health_check_timeout.unwrap_or(5),
            retries: c.health_check_retries.unwrap_or(3),
            start_period_s: c.health_check_start_period,
            deadline_s,
        }),
        None if r.config.is_empty() => evidence.push(Fact::HealthSettingsUnknown),
        None => {}
    }
    match &svc.config {
        Some(c) => {
            if let Some(deadline_s) = c.elb_deadline_s() {
                evidence.push(Fact::LoadBalancerHealthCheck {
                    grace_period_s: c.health_check_grace_period_seconds,
                    path: c.health_check_path.clone(),
                    interval_s: c.health_check_interval.unwrap_or(30),
                    timeout_s: c.health_check_timeout,
                    unhealthy_threshold: c.unhealthy_threshold.unwrap_or(2),
                    deadline_s,
                });
            }
        }
        None if !r.config.is_empty() && !svc.service.starts_with(super::evidence::STANDALONE) => {
            evidence.push(Fact::ServiceNotInLake {
                cluster: svc.cluster.clone(),
                service: svc.service.clone(),
            });
        }
        None => {}
    }
    if let Some(p) = svc.previous(r) {
        evidence.push(Fact::RevisionBeforeHealth {
            revision: p.label.clone(),
            stops: p.health_check_stops,
            tasks: p.tasks,
            time_to_healthy_p95_s: p.time_to_healthy.map(|t| t.p95),
        });
        if let (Some(now), Some(before)) = (r.time_to_healthy, p.time_to_healthy)
            && now.p95 > before.p95 * 1.5
        {
            recommendations.push(Recommendation::FindSlowerStartup {
                revision: r.label.clone(),
                p95_s: now.p95,
                before_p95_s: before.p95,
                before_revision: p.label.clone(),
            });
        }
    }
    Some(Finding {
        patches: Vec::new(),
        severity: if share >= CRITICAL_HEALTH_SHARE_PCT {
            Severity::Critical
        } else {
            Severity::Warning
        },
        kind: FindingKind::HealthChecks,
        title: Title::HealthChecks {
            stops: r.health_check_stops,
            tasks: r.tasks,
            revision: r.label.clone(),
            warm_up_exceeds_start_period: r.time_to_healthy.is_some(),
        },
        revisions: vec![r.label.clone()],
        deployments: deployments_of(svc, r),
        impact: r.health_check_stops,
        evidence,
        recommendations,
        example_tasks: r
            .examples_of_cause(StopCause::ElbHealthCheck)
            .iter()
            .chain(r.examples_of_cause(StopCause::ContainerHealthCheck))
            .take(3)
            .cloned()
            .collect(),
    })
}

fn crash_loop(svc: &ServiceEvidence, r: &RevisionStats) -> Option<Finding> {
    let n = r.kind(ExitKind::AppError);
    // Every failed run of a standalone task (a job) matters; a service's
    // task failing now and then is noise until it loops.
    let standalone = svc.service.starts_with(STANDALONE);
    if n == 0 || (n < CRASH_LOOP_EXITS && !standalone) {
        return None;
    }
    let mut evidence = vec![Fact::AppErrorExits {
        exits: n,
        tasks: r.tasks,
        first_task_at: r.first_started_at,
    }];
    if let Some(u) = r.uptime_to_crash {
        evidence.push(Fact::CrashUptime {
            p50_s: u.p50,
            max_s: u.max,
        });
    }
    let mut recommendations = vec![Recommendation::ReadLastLines {
        task: r.examples_of_kind(ExitKind::AppError).first().cloned(),
    }];
    let fixed = svc
        .next(r)
        .filter(|n| n.kind(ExitKind::AppError) < CRASH_LOOP_EXITS);
    if let Some(n) = fixed {
        evidence.push(Fact::RevisionAfterCrashes {
            revision: n.label.clone(),
            exits: n.kind(ExitKind::AppError),
            tasks: n.tasks,
        });
    }
    if let Some(p) = svc
        .previous(r)
        .filter(|p| p.kind(ExitKind::AppError) < CRASH_LOOP_EXITS)
    {
        evidence.push(Fact::RevisionBeforeCrashes {
            revision: p.label.clone(),
            exits: p.kind(ExitKind::AppError),
        });
        if fixed.is_none() {
            recommendations.push(Recommendation::RollBackWhileFixed {
                to: p.label.clone(),
            });
        }
    }
    // Standalone tasks (scheduled jobs) fail runs; services crash-loop.
    let (title, last) = if standalone {
        (
            Title::FailedRuns {
                failed: n,
                runs: r.tasks,
                revision: r.label.clone(),
            },
            Recommendation::AlertOnFailedRuns,
        )
    } else {
        (
            Title::CrashLoop {
                exits: n,
                revision: r.label.clone(),
            },
            Recommendation::CircuitBreakerForCrashLoops,
        )
    };
    recommendations.push(last);
    Some(Finding {
        patches: Vec::new(),
        severity: Severity::Critical,
        kind: FindingKind::CrashLoop,
        title,
        revisions: vec![r.label.clone()],
        deployments: deployments_of(svc, r),
        impact: n,
        evidence,
        recommendations,
        example_tasks: r.examples_of_kind(ExitKind::AppError).to_vec(),
    })
}

fn segfaults(r: &RevisionStats) -> Option<Finding> {
    let n = r.kind(ExitKind::Segfault);
    if n == 0 {
        return None;
    }
    Some(Finding {
        patches: Vec::new(),
        severity: Severity::Warning,
        kind: FindingKind::Segfaults,
        title: Title::Segfaults {
            segfaults: n,
            revision: r.label.clone(),
        },
        revisions: vec![r.label.clone()],
        deployments: Vec::new(),
        impact: n,
        evidence: vec![Fact::Segfaults {
            segfaults: n,
            tasks: r.tasks,
        }],
        recommendations: vec![Recommendation::NativeCrash],
        example_tasks: r.examples_of_kind(ExitKind::Segfault).to_vec(),
    })
}

fn failed_deployments(svc: &ServiceEvidence) -> Vec<Finding> {
    svc.deployments
        .iter()
        .filter(|d| d.failed())
        .map(|d| {
            let label = d.label();
            let rev = svc.revisions.iter().find(|r| r.label == label);
            let reason = rev.and_then(|r| r.first_stopped_reason.get(&StopCause::FailedToStart));
            let mut evidence = vec![Fact::Deployment {
                deployment_id: d.deployment_id.clone(),
                revision: label.clone(),
                started_at: d.started_at,
                tasks: d.tasks,
                failed_to_start: d.stopped_failed_to_start,
            }];
            if let Some(reason) = reason {
                evidence.push(Fact::StoppedReason {
                    reason: reason.clone(),
                });
            }
            let rolled_back = d.outcome == DeploymentOutcome::RolledBack;
            if rolled_back {
                evidence.push(Fact::RolledBack);
            }
            evidence.push(match &d.ecs_record {
                Some(r) => Fact::EcsDeployment {
                    id: r.id().to_owned(),
                    status: r.status.clone(),
                    status_reason: r.status_reason.clone(),
                    circuit_breaker_status: r.circuit_breaker_status.clone(),
                    failure_count: r.circuit_breaker_failure_count,
                    threshold: r.circuit_breaker_threshold,
                    triggered_alarms: r.triggered_alarm_names.clone(),
                    rollback_reason: r.rollback_reason.clone(),
                    rolled_back_to: r
                        .rollback_family
                        .as_ref()
                        .map(|f| super::evidence::label(&Some(f.clone()), r.rollback_revision)),
                },
                None => Fact::DeploymentHistoryNotInLake {
                    cluster: svc.cluster.clone(),
                    service: svc.service.clone(),
                },
            });
            let mut recommendations = Vec::new();
            if let Some(reason) = reason {
                recommendations.push(Recommendation::FixStartFailure {
                    failure: StartFailure::of(reason),
                });
            }
            if !rolled_back {
                recommendations.push(Recommendation::CircuitBreaker);
            }
            Finding {
                patches: Vec::new(),
                severity: Severity::Critical,
                kind: FindingKind::FailedDeployment,
                title: Title::FailedDeployment {
                    revision: label.clone(),
                    rolled_back,
                },
                revisions: vec![label],
                deployments: vec![d.deployment_id.clone()],
                impact: d.tasks.max(1) as usize,
                evidence,
                recommendations,
                example_tasks: rev
                    .map(|r| r.examples_of_cause(StopCause::FailedToStart).to_vec())
                    .unwrap_or_default(),
            }
        })
        .collect()
}

fn start_failures(svc: &ServiceEvidence, r: &RevisionStats) -> Option<Finding> {
    let n = r.cause(StopCause::FailedToStart);
    let covered = svc
        .deployments
        .iter()
        .any(|d| d.revision == r.revision && d.failed());
    if n == 0 || covered {
        return None;
    }
    let reason = r.first_stopped_reason.get(&StopCause::FailedToStart);
    Some(Finding {
        patches: Vec::new(),
        severity: Severity::Warning,
        kind: FindingKind::StartFailures,
        title: Title::StartFailures {
            tasks: n,
            revision: r.label.clone(),
        },
        revisions: vec![r.label.clone()],
        deployments: Vec::new(),
        impact: n,
        evidence: reason
            .map(|r| vec![Fact::StoppedReason { reason: r.clone() }])
            .unwrap_or_default(),
        recommendations: reason
            .map(|r| {
                vec![Recommendation::FixStartFailure {
                    failure: StartFailure::of(r),
                }]
            })
            .unwrap_or_default(),
        example_tasks: r.examples_of_cause(StopCause::FailedToStart).to_vec(),
    })
}

fn spot(r: &RevisionStats) -> Option<Finding> {
    let n = r.cause(StopCause::SpotInterruption);
    if n == 0 {
        return None;
    }
    Some(Finding {
        patches: Vec::new(),
        severity: Severity::Info,
        kind: FindingKind::SpotInterruptions,
        title: Title::SpotInterruptions {
            interruptions: n,
            revision: r.label.clone(),
        },
        revisions: vec![r.label.clone()],
        deployments: Vec::new(),
        impact: n,
        evidence: vec![Fact::SpotReclaimed {
            interruptions: n,
            tasks: r.tasks,
        }],
        recommendations: vec![Recommendation::SpotBase],
        example_tasks: r.examples_of_cause(StopCause::SpotInterruption).to_vec(),
    })
}

fn headroom(r: &RevisionStats) -> Option<Finding> {
    let s = r.memory_peak?;
    let p99 = r.peak_pct(s.p99)?;
    if r.oom_kills > 0 || p99 < TIGHT_HEADROOM_PCT {
        return None;
    }
    Some(Finding {
        patches: Vec::new(),
        severity: Severity::Warning,
        kind: FindingKind::MemoryHeadroom,
        title: Title::MemoryHeadroom {
            revision: r.label.clone(),
            p99_peak_pct: p99,
        },
        revisions: vec![r.label.clone()],
        deployments: Vec::new(),
        impact: 0,
        evidence: vec![memory_peaks(r, s)],
        recommendations: vec![Recommendation::MemoryForHeadroom {
            memory_mib: memory_size_at_least(s.p99 * 1.25, r.cpu, r.on_fargate()),
        }],
        example_tasks: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::evidence::{TaskRow, assemble};
    use ecs_lake::classify::{ExitKind, StopCause};

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
        t.stop_cause = Some(StopCause::OomKilled);
        t.exit_kind = Some(ExitKind::SigkillOom);
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
        let o = f.iter().find(|f| f.kind == FindingKind::OomKills).unwrap();
        assert_eq!(o.impact, 5);
        let title = o.title.to_string();
        assert!(!title.contains("leak suspected"), "{title}");
        assert!(title.contains("sudden spikes"), "{title}");
        let rec = o.recommendation_text().join("\n");
        // p99 = 2048 -> 2560 wanted -> 3072 is the next size for 1024 CPU.
        assert!(rec.contains("task memory to 3072 MiB"), "{rec}");
        assert!(rec.contains("memoryReservation to 2048 MiB"), "{rec}");
        // The same, as figures.
        assert_eq!(
            o.title,
            Title::OomKills {
                kills: 5,
                revision: "svc:3".into(),
                pattern: Some(OomPattern::Spikes)
            }
        );
        let set = o.recommends(|r| matches!(r, Recommendation::SetMemory { .. }));
        assert!(
            matches!(
                set[..],
                [Recommendation::SetMemory {
                    memory_mib: 3072,
                    reservation_mib: 2048,
                    cpu: 1024,
                    need: MemoryNeed::Spikes,
                    ..
                }]
            ),
            "{set:?}"
        );
        assert!(
            o.recommends(|r| matches!(r, Recommendation::TreatAsLeak { .. }))
                .is_empty()
        );
    }

    #[test]
    fn a_leak_is_not_sized_and_projects_the_kill() {
        // 1000 MiB at start, +200 MiB/h: the 2048 MiB limit after 5.24 h.
        let rows = tasks(8, 4, |_, t| {
            t.memory_peak = Some(2048);
            t.slope_mib_per_hour = Some(200.0);
            t.intercept_mib = Some(1000.0);
            t.memory_samples = Some(300);
            t.stopping_at = t.started_at.map(|s| s + 5 * H);
            t.stopped_at = t.stopping_at;
            oom(t);
        });
        let f = only(rows);
        let o = f.iter().find(|f| f.kind == FindingKind::OomKills).unwrap();
        assert!(matches!(
            o.title,
            Title::OomKills {
                pattern: Some(OomPattern::Leak { mib_per_hour }),
                ..
            } if mib_per_hour == 200.0
        ));
        let hours = o.evidence.iter().find_map(|e| match e {
            Fact::Leak { hours_to_limit, .. } => Some(*hours_to_limit),
            _ => None,
        });
        assert!((hours.unwrap() - 1048.0 / 200.0).abs() < 1e-9, "{hours:?}");
        // Never more memory for a leak; the next Fargate size only postpones.
        assert!(
            o.recommends(|r| matches!(r, Recommendation::SetMemory { .. }))
                .is_empty()
        );
        let leak = o.recommends(|r| matches!(r, Recommendation::TreatAsLeak { .. }));
        let [
            Recommendation::TreatAsLeak {
                larger_limit: Some(p),
                ..
            },
        ] = leak[..]
        else {
            panic!("{leak:?}")
        };
        assert_eq!(p.memory_mib, 3072);
        assert!((p.kill_after_h_with_it - 2072.0 / 200.0).abs() < 1e-9);
    }

    #[test]
    fn kinds_have_stable_names() {
        for k in FindingKind::ALL {
            assert_eq!(FindingKind::from_name(k.as_str()), Some(k));
            assert_eq!(
                serde_json::to_value(k).unwrap(),
                serde_json::Value::from(k.as_str())
            );
        }
        // A misspelt kind is no kind at all, not an empty match.
        assert_eq!(FindingKind::from_name("oom_kill"), None);
    }

    #[test]
    fn without_memory_samples_the_evidence_is_insufficient() {
        let rows = tasks(4, 1, |_, t| oom(t));
        let f = only(rows);
        let o = f.iter().find(|f| f.kind == FindingKind::OomKills).unwrap();
        assert!(
            o.recommendation_text().join(" ").contains("insufficient"),
            "{o:#?}"
        );
        assert!(!o.recommendation_text().join(" ").contains("task memory to"));
        assert!(f.iter().any(|f| f.kind == FindingKind::NoMemoryData));
    }

    #[test]
    fn a_revision_that_never_became_healthy_gets_no_start_period() {
        let rows = tasks(6, 9, |_, t| {
            t.stop_cause = Some(StopCause::ContainerHealthCheck);
            t.exit_kind = Some(ExitKind::Sigterm);
            t.health_check_failed = Some(true);
        });
        let f = only(rows);
        let h = f
            .iter()
            .find(|f| f.kind == FindingKind::HealthChecks)
            .unwrap();
        assert!(
            h.evidence_text()
                .iter()
                .any(|e| e.contains("ever reported HEALTHY"))
        );
        assert!(h.recommendation_text().join(" ").contains("insufficient"));
        assert!(!h.recommendation_text().join(" ").contains("at least"));
        assert_eq!(h.recommendations, [Recommendation::CheckHealthCheck]);
    }

    #[test]
    fn tight_headroom_without_oom_is_a_warning() {
        let rows = tasks(10, 2, |_, t| t.memory_peak = Some(1900));
        let f = only(rows);
        let h = f
            .iter()
            .find(|f| f.kind == FindingKind::MemoryHeadroom)
            .unwrap();
        assert_eq!(h.severity, Severity::Warning);
        assert!(
            h.recommendations[0].to_string().contains("3072 MiB"),
            "{h:#?}"
        );
        assert_eq!(
            h.recommendations,
            [Recommendation::MemoryForHeadroom {
                memory_mib: Some(3072)
            }]
        );
        // A healthy revision with room to spare: nothing to say.
        assert!(only(tasks(10, 2, |_, t| t.memory_peak = Some(900))).is_empty());
    }
}
