//! Findings in words: the only place a finding's figures become sentences.
//! [`Title`], [`Fact`] and [`Recommendation`] display as the Markdown,
//! HTML and terminal renderings print them (backticks mark settings and
//! commands); JSON carries both the figures and these sentences.

use std::fmt::{self, Display, Formatter};

use serde::ser::{SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};

use super::findings::{
    Fact, Finding, MemoryNeed, OomPattern, Recommendation, RuntimeSource, StartFailure, Title,
};
use ecs_lake::time::date_time_of;

fn mib(v: f64) -> String {
    format!("{v:.0} MiB")
}

/// A duration for people: seconds, minutes or hours.
pub fn secs(v: f64) -> String {
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

/// ` (first task 2026-11-20T06:00:00Z)`, or nothing.
fn first_task(at: Option<i64>) -> String {
    at.map(|t| format!(" (first task {})", date_time_of(t)))
        .unwrap_or_default()
}

impl Display for Title {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Title::OomKills {
                kills,
                revision,
                pattern,
            } => {
                write!(f, "{kills} OOM kills on {revision}")?;
                match pattern {
                    Some(OomPattern::Leak { mib_per_hour }) => write!(
                        f,
                        ": memory grows {mib_per_hour:.0} MiB/h until the limit (leak suspected)"
                    ),
                    Some(OomPattern::Spikes) => {
                        f.write_str(": sudden spikes to the limit, not a leak")
                    }
                    None => Ok(()),
                }
            }
            Title::HeapExhausted {
                tasks,
                revision,
                runtime,
            } => write!(
                f,
                "{tasks} tasks of {revision} ran out of {} heap: the runtime's own out-of-memory, not an OOM kill",
                runtime.map_or("their", |r| r.name())
            ),
            Title::StopTimeoutKills { kills, revision } => write!(
                f,
                "{kills} exit-137s on {revision} are SIGKILLs after the stop timeout: the app ignores SIGTERM"
            ),
            Title::HealthChecks {
                stops,
                tasks,
                revision,
                warm_up_exceeds_start_period,
            } => {
                write!(
                    f,
                    "{stops} of {tasks} tasks on {revision} fail health checks"
                )?;
                if *warm_up_exceeds_start_period {
                    f.write_str(": warm-up exceeds the health check's start period")?;
                }
                Ok(())
            }
            Title::CrashLoop { exits, revision } => {
                write!(f, "{revision} crash-loops: {exits} application-error exits")
            }
            Title::FailedRuns {
                failed,
                runs,
                revision,
            } => write!(
                f,
                "{failed} of {runs} runs of {revision} failed with an application error"
            ),
            Title::Segfaults {
                segfaults,
                revision,
            } => write!(f, "{segfaults} segfaults (exit 139) on {revision}"),
            Title::FailedDeployment {
                revision,
                rolled_back,
            } => write!(
                f,
                "deployment of {revision} failed{}",
                if *rolled_back {
                    " and was rolled back"
                } else {
                    ""
                }
            ),
            Title::StartFailures { tasks, revision } => {
                write!(f, "{tasks} tasks of {revision} failed to start")
            }
            Title::SpotInterruptions {
                interruptions,
                revision,
            } => write!(f, "{interruptions} Spot interruptions on {revision}"),
            Title::MemoryHeadroom {
                revision,
                p99_peak_pct,
            } => write!(
                f,
                "{revision} runs at {p99_peak_pct:.0}% of its memory limit (p99 peak), no OOM kill yet"
            ),
            Title::NoMemoryData => {
                f.write_str("no Container Insights memory samples for this service")
            }
        }
    }
}

impl Display for Fact {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Fact::OomKills {
                oom_kills,
                tasks,
                first_task_at,
                exit_137,
                stop_timeout_kills,
            } => write!(
                f,
                "{oom_kills} OOM kills (exit 137 with OutOfMemoryError) of {tasks} tasks{}; {exit_137} exit-137s in all, {stop_timeout_kills} of them SIGKILLs after the stop timeout",
                first_task(*first_task_at)
            ),
            Fact::HeapExhausted {
                signature,
                tasks,
                of_tasks,
                aborts,
                oom_kills,
            } => write!(
                f,
                "the logs of {tasks} of {of_tasks} tasks show `{signature}` (the runtime's own out-of-memory error); {aborts} tasks ended in an abort (exit 134, SIGABRT, as Node.js does), {oom_kills} in an OOM kill by the kernel"
            ),
            Fact::MemoryPeaks { peak, limit_mib } => {
                let limit = limit_mib
                    .map(|l| {
                        let p99_pct = if l > 0 { 100.0 * peak.p99 / l as f64 } else { 0.0 };
                        format!(" against a {l} MiB limit ({p99_pct:.0}% at p99)")
                    })
                    .unwrap_or_default();
                write!(
                    f,
                    "memory peak per task p50 {} / p95 {} / p99 {} / max {}{limit} ({} tasks with samples)",
                    mib(peak.p50),
                    mib(peak.p95),
                    mib(peak.p99),
                    mib(peak.max),
                    peak.n
                )
            }
            Fact::Leak {
                mib_per_hour,
                start_mib,
                tasks,
                limit_mib,
                hours_to_limit,
                oom_uptime_s,
            } => {
                let observed = oom_uptime_s
                    .map(|u| format!("; the OOM-killed tasks ran {} (median)", secs(u)))
                    .unwrap_or_default();
                write!(
                    f,
                    "memory grows {mib_per_hour:.1} MiB per hour of uptime from {} at start (median of {tasks} tasks): a task reaches the {limit_mib} MiB limit after {hours_to_limit:.1} h{observed}",
                    mib(*start_mib)
                )
            }
            Fact::Spikes {
                start_mib,
                mib_per_hour,
                hours_to_limit,
                oom_uptime_h,
            } => write!(
                f,
                "memory runs around {} from start (trend {mib_per_hour:.1} MiB/h{}), yet the OOM-killed tasks ran only {oom_uptime_h:.1} h (median): it jumps to the limit",
                mib(*start_mib),
                hours_to_limit
                    .map(|p| format!(", {p:.0} h to reach the limit"))
                    .unwrap_or_default()
            ),
            Fact::Runtime { runtime, seen_in } => {
                let why = match seen_in {
                    RuntimeSource::Logs(signature) => format!("the logs show `{signature}`"),
                    RuntimeSource::Image(image) => format!("the image is {image}"),
                    RuntimeSource::TaskDefinition(flag) => {
                        format!("the task definition sets {flag}")
                    }
                };
                write!(f, "runtime: {} ({why})", runtime.name())
            }
            Fact::RevisionBeforeOom {
                revision,
                oom_kills,
                tasks,
                peak_p95_mib,
                peak_p95_pct,
                growth_mib_per_hour,
            } => {
                let peak = match (peak_p95_mib, peak_p95_pct) {
                    (Some(p95), Some(pct)) => {
                        format!(", memory peak p95 {} ({pct:.0}% of the limit)", mib(*p95))
                    }
                    _ => String::new(),
                };
                let growth = growth_mib_per_hour
                    .map(|g| format!(", growth {g:.1} MiB/h"))
                    .unwrap_or_default();
                write!(
                    f,
                    "the revision before, {revision}: {oom_kills} OOM kills of {tasks} tasks{peak}{growth}"
                )
            }
            Fact::RevisionAfterWithoutOom { revision, tasks } => write!(
                f,
                "the revision after, {revision}: no OOM kills in {tasks} tasks"
            ),
            Fact::RegressionStarted { revision } => {
                write!(f, "the regression started with {revision}")
            }
            Fact::StopTimeoutKills {
                kills,
                exit_137,
                revision,
            } => write!(
                f,
                "{kills} of {exit_137} exit-137s on {revision} came after a stop request, not from the OOM killer"
            ),
            Fact::StopDuration { p50_s } => write!(
                f,
                "stopped {p50_s:.1} s after stopping began (median; the default stopTimeout is 30 s)"
            ),
            Fact::HealthCheckStops {
                stops,
                tasks,
                first_task_at,
            } => write!(
                f,
                "{stops} of {tasks} tasks ({}) stopped for failed health checks{}",
                pct(*stops, *tasks),
                first_task(*first_task_at)
            ),
            Fact::HealthStopUptime { p50_s } => write!(
                f,
                "the failing tasks were stopped {} after they started (median), before they became healthy",
                secs(*p50_s)
            ),
            Fact::TimeToHealthy { spread } => write!(
                f,
                "the tasks that passed needed p50 {} / p95 {} / max {} from start to first HEALTHY ({} tasks)",
                secs(spread.p50),
                secs(spread.p95),
                secs(spread.max),
                spread.n
            ),
            Fact::NeverHealthy { revision } => {
                write!(f, "no task of {revision} ever reported HEALTHY")
            }
            Fact::ConfiguredMemory {
                revision,
                container,
                limit_mib,
                reservation_mib,
                heap_cap_mib,
                heap_flag,
            } => {
                write!(
                    f,
                    "{revision} configures container {container} with a {} limit",
                    limit_mib.map_or_else(|| "no memory".into(), |l| format!("{l} MiB"))
                )?;
                if let Some(r) = reservation_mib {
                    write!(f, " and a {r} MiB reservation")?;
                }
                match (heap_cap_mib, heap_flag, limit_mib) {
                    (Some(h), Some(flag), Some(l)) if h >= l => write!(
                        f,
                        "; {flag} caps the heap at {h} MiB, above the {l} MiB limit: the kernel kills the container (exit 137) before the runtime can fail with its own heap error"
                    ),
                    (Some(h), Some(flag), _) => write!(f, "; {flag} caps the heap at {h} MiB"),
                    _ => f.write_str("; no heap cap in its environment"),
                }
            }
            Fact::ConfigChanged { from, to, changes } => {
                let said: Vec<String> = changes
                    .iter()
                    .map(|c| {
                        let v = |v: &Option<String>| v.clone().unwrap_or_else(|| "(unset)".into());
                        format!("{} {} {} -> {}", c.scope, c.setting, v(&c.from), v(&c.to))
                    })
                    .collect();
                write!(
                    f,
                    "what changed from {from} to {to} (`ecs-query diff {from} {to}`): {}",
                    said.join("; ")
                )
            }
            Fact::ConfigNotInLake { revision } => {
                let file = revision.replace(':', "-");
                write!(
                    f,
                    "the task definition of {revision} is not in the lake, so these figures are inferred from what the tasks did: `aws ecs describe-task-definition --task-definition {revision} > {file}.json && ecs-query ingest {file}.json` adds it"
                )
            }
            Fact::ConfiguredStopTimeout {
                container,
                stop_timeout_s,
                init_process_enabled,
            } => {
                match stop_timeout_s {
                    Some(t) => write!(
                        f,
                        "container {container}'s stopTimeout is {t} s (SIGKILL that long after SIGTERM)"
                    )?,
                    None => write!(
                        f,
                        "container {container}'s stopTimeout is unset: ECS sends SIGKILL 30 s after SIGTERM (the Fargate default; on EC2 the agent's ECS_CONTAINER_STOP_TIMEOUT)"
                    )?,
                }
                if *init_process_enabled == Some(true) {
                    f.write_str("; an init process forwards signals (initProcessEnabled)")
                } else {
                    f.write_str("; no init process (initProcessEnabled unset): an app started by a shell as PID 1 never sees SIGTERM")
                }
            }
            Fact::LoadBalancerHealthCheck {
                grace_period_s,
                path,
                interval_s,
                timeout_s,
                unhealthy_threshold,
                deadline_s,
            } => write!(
                f,
                "the load balancer gives a starting task {deadline_s} s: {} + interval {interval_s} s x {unhealthy_threshold} failed checks{}{}",
                grace_period_s.map_or_else(
                    || "healthCheckGracePeriodSeconds unset (0 s)".into(),
                    |g| format!("healthCheckGracePeriodSeconds {g} s")
                ),
                path.as_ref().map(|p| format!(" of {p}")).unwrap_or_default(),
                timeout_s.map(|t| format!(" (timeout {t} s)")).unwrap_or_default()
            ),
            Fact::ServiceNotInLake { cluster, service } => write!(
                f,
                "the service's grace period and target group are not in the lake: `aws ecs describe-services --cluster {cluster} --services {service} > {service}.json && ecs-query ingest {service}.json`, and its target group's `aws elbv2 describe-target-groups`"
            ),
            Fact::ContainerHealthCheck {
                container,
                interval_s,
                timeout_s,
                retries,
                start_period_s,
                deadline_s,
            } => write!(
                f,
                "container {container}'s health check gives a starting task {deadline_s} s: {} + interval {interval_s} s x {retries} retries (timeout {timeout_s} s)",
                start_period_s.map_or_else(|| "startPeriod unset (0 s)".into(), |s| format!("startPeriod {s} s"))
            ),
            Fact::HealthSettingsUnknown => f.write_str(
                "the start period and grace period are not in ECS events: compare the figures with the task definition's `healthCheck.startPeriod` and the service's `healthCheckGracePeriodSeconds`",
            ),
            Fact::RevisionBeforeHealth {
                revision,
                stops,
                tasks,
                time_to_healthy_p95_s,
            } => write!(
                f,
                "the revision before, {revision}: {stops} of {tasks} tasks stopped for health checks{}",
                time_to_healthy_p95_s
                    .map(|t| format!(", healthy after p95 {}", secs(t)))
                    .unwrap_or_default()
            ),
            Fact::AppErrorExits {
                exits,
                tasks,
                first_task_at,
            } => write!(
                f,
                "{exits} of {tasks} tasks exited on their own with an application error{}",
                first_task(*first_task_at)
            ),
            Fact::CrashUptime { p50_s, max_s } => write!(
                f,
                "uptime before the exit: p50 {} / max {}",
                secs(*p50_s),
                secs(*max_s)
            ),
            Fact::RevisionAfterCrashes {
                revision,
                exits,
                tasks,
            } => write!(
                f,
                "the revision after, {revision}: {exits} application-error exits in {tasks} tasks (fixed there)"
            ),
            Fact::RevisionBeforeCrashes { revision, exits } => write!(
                f,
                "the revision before, {revision}: {exits} application-error exits"
            ),
            Fact::Segfaults { segfaults, tasks } => {
                write!(f, "{segfaults} of {tasks} tasks ended with SIGSEGV")
            }
            Fact::Deployment {
                deployment_id,
                revision,
                started_at,
                tasks,
                failed_to_start,
            } => write!(
                f,
                "deployment {deployment_id} of {revision} started {}: {tasks} tasks, {failed_to_start} failed to start",
                started_at.map(date_time_of).unwrap_or_default()
            ),
            Fact::StoppedReason { reason } => write!(f, "stopped reason: {reason}"),
            Fact::RolledBack => f.write_str(
                "the deployment circuit breaker rolled the service back to the previous deployment",
            ),
            Fact::Draining {
                deregistration_delay_s,
                stop_timeout_s,
                observed_p50_s,
            } => {
                write!(
                    f,
                    "ECS first drains the task from its target group (deregistration delay {deregistration_delay_s} s), then sends SIGTERM and, {stop_timeout_s} s later, SIGKILL: a stop that is never answered takes {} s",
                    deregistration_delay_s + stop_timeout_s
                )?;
                if let Some(p50) = observed_p50_s {
                    write!(f, " (observed: p50 {p50:.0} s)")?;
                }
                Ok(())
            }
            Fact::EcsDeployment {
                id,
                status,
                status_reason,
                circuit_breaker_status,
                failure_count,
                threshold,
                triggered_alarms,
                rollback_reason,
                rolled_back_to,
            } => {
                write!(
                    f,
                    "ECS's record of it (service deployment {id}): {}",
                    status.as_deref().unwrap_or("status unknown")
                )?;
                if let Some(reason) = status_reason {
                    write!(f, " ({reason})")?;
                }
                if let Some(b) = circuit_breaker_status {
                    write!(f, "; circuit breaker {b}")?;
                    if let (Some(n), Some(t)) = (failure_count, threshold) {
                        write!(f, " at {n} failed tasks of a threshold of {t}")?;
                    }
                }
                if let Some(alarms) = triggered_alarms {
                    write!(f, "; alarms triggered: {alarms}")?;
                }
                if let Some(to) = rolled_back_to {
                    write!(f, "; rolled back to {to}")?;
                }
                if let Some(reason) = rollback_reason {
                    write!(f, " ({reason})")?;
                }
                Ok(())
            }
            Fact::DeploymentHistoryNotInLake { cluster, service } => write!(
                f,
                "ECS's record of the deployment is not in the lake: `aws ecs list-service-deployments --cluster {cluster} --service {service} > deployments.json`, then `aws ecs describe-service-deployments --service-deployment-arns ...` and `describe-service-revisions` on the ARNs it lists, each `ecs-query ingest`ed (ECS keeps 90 days)"
            ),
            Fact::SpotReclaimed {
                interruptions,
                tasks,
            } => write!(
                f,
                "{interruptions} of {tasks} tasks were reclaimed by Fargate Spot"
            ),
            Fact::NoMemorySamples { tasks } => write!(
                f,
                "{tasks} tasks, none with a MemoryUtilized sample in the lake"
            ),
        }
    }
}

impl Display for StartFailure {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            StartFailure::ImagePull => f.write_str(
                "The image cannot be pulled: check that the tag exists in the registry and that the task execution role may pull it (ecr:BatchGetImage, ecr:GetDownloadUrlForLayer), and that private subnets reach ECR (VPC endpoints or NAT).",
            ),
            StartFailure::ResourceInitialization => f.write_str(
                "Task resources could not be initialised: check secrets and parameters the task reads, the log configuration, and network access from its subnets.",
            ),
            StartFailure::Other { reason } => write!(f, "Fix the start failure: {reason}"),
        }
    }
}

impl Display for Recommendation {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Recommendation::TreatAsLeak {
                revision,
                larger_limit,
            } => {
                let postpone = larger_limit
                    .map(|p| {
                        format!(
                            ": {} MiB would move the kill from {:.1} h to about {:.1} h of uptime",
                            p.memory_mib, p.kill_after_h, p.kill_after_h_with_it
                        )
                    })
                    .unwrap_or_default();
                write!(
                    f,
                    "Treat it as a leak, not a sizing problem: a larger limit only postpones the kill{postpone}. Compare heap snapshots of one task at 1 h and at 3 h of uptime, and diff what changed in {revision}."
                )
            }
            Recommendation::SetMemory {
                memory_mib,
                reservation_mib,
                p99_peak_mib,
                cpu,
                need,
            } => {
                let why = match need {
                    MemoryNeed::Spikes => {
                        "The spikes are cut at the limit by the kill, so their height is unknown: this size is a floor, watch `memory peak by revision` after the change, and find what allocates in bursts (large requests or batch loads; cap or stream them)."
                    }
                    MemoryNeed::Steady => {
                        "Memory does not grow with uptime: the workload needs more than the limit."
                    }
                };
                write!(
                    f,
                    "Set the task memory to {memory_mib} MiB (p99 peak {} + 25% headroom, a valid size for {cpu} CPU units) and the container's memoryReservation to {reservation_mib} MiB (the p95 peak). {why}",
                    mib(*p99_peak_mib)
                )
            }
            Recommendation::RaiseCpu { p99_peak_mib, cpu } => write!(
                f,
                "p99 peak {} + 25% headroom exceeds every Fargate size for {cpu} CPU units: raise the CPU as well, or cut the memory the app holds.",
                mib(*p99_peak_mib)
            ),
            Recommendation::MeasureBeforeSizing => f.write_str(
                "No memory samples for these tasks (Container Insights off?): the evidence is insufficient to size memory; enable Container Insights before changing the limit.",
            ),
            Recommendation::CapHeap {
                runtime,
                limit_mib,
                current,
            } => write!(
                f,
                "Cap the heap below the container limit so the runtime collects harder and fails with its own error and stack instead of a SIGKILL: {}{}.",
                runtime.heap_setting(*limit_mib),
                current
                    .as_ref()
                    .map(|c| format!(", in place of {c}"))
                    .unwrap_or_default()
            ),
            Recommendation::RaiseHeapCap {
                runtime,
                limit_mib,
                current,
                peak_mib,
            } => write!(
                f,
                "The heap cap, not the container, ran out{}{}: the container has room up to {limit_mib} MiB. Raise the cap to {}; if memory grows with uptime, it only buys time: find the leak.",
                peak_mib
                    .map(|p| format!(" at {p} MiB"))
                    .unwrap_or_default(),
                current
                    .as_ref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_else(|| " (the runtime's default cap)".into()),
                runtime.heap_setting(*limit_mib),
            ),
            Recommendation::RollBackUntilFixed { to } => write!(
                f,
                "Until it is fixed, roll back to {to} (no OOM kills in the window)."
            ),
            Recommendation::HandleSigterm => f.write_str(
                "Handle SIGTERM: on it, stop taking work, finish or hand back in-flight work, exit 0. Make the app PID 1 (exec form `CMD [\"node\", \"server.js\"]`, not `sh -c`), or set `linuxParameters.initProcessEnabled: true` so an init forwards the signal.",
            ),
            Recommendation::StopTimeout { observed_s } => write!(
                f,
                "Raise the container's `stopTimeout` (at most 120 s on Fargate) only if a clean shutdown needs longer than {}; it does not help an app that ignores the signal. Do not raise memory for these: they are not OOM kills.",
                observed_s.map_or_else(|| "the timeout".into(), secs)
            ),
            Recommendation::StartPeriod {
                seconds,
                passed_p95_s,
                stopped_after_s,
            } => write!(
                f,
                "Give the app time to warm up: set the container health check's `startPeriod` and the service's `healthCheckGracePeriodSeconds` (load-balanced services) to at least {seconds} s; it covers the tasks that passed (p95 {}) and the point where the failing ones were stopped ({}), with 50% headroom. Then watch time to healthy: `ecs-query \"time to healthy by revision\"`.",
                secs(*passed_p95_s),
                stopped_after_s.map_or_else(|| "unknown".into(), secs)
            ),
            Recommendation::CheckHealthCheck => f.write_str(
                "No task ever passed, so the evidence is insufficient to size a start period: check the health check itself first (path, port, protocol, the command's exit code) against a running task.",
            ),
            Recommendation::FindSlowerStartup {
                revision,
                p95_s,
                before_p95_s,
                before_revision,
            } => write!(
                f,
                "Find what made start-up slower in {revision} (p95 {} vs {} on {before_revision}): start-up work, cache warming, migrations, connection pools.",
                secs(*p95_s),
                secs(*before_p95_s)
            ),
            Recommendation::ReadLastLines { task } => write!(
                f,
                "Read the last lines before an exit: `ecs-query timeline {}`.",
                task.as_deref().unwrap_or("<task>")
            ),
            Recommendation::RollBackWhileFixed { to } => {
                write!(f, "Roll back to {to} while it is fixed.")
            }
            Recommendation::AlertOnFailedRuns => f.write_str(
                "A standalone task has no circuit breaker: alert on its failed runs (an EventBridge rule on ECS Task State Change with a non-zero exitCode for this family) and make a run safe to retry.",
            ),
            Recommendation::CircuitBreakerForCrashLoops => f.write_str(
                "Enable the deployment circuit breaker with rollback, so a revision that cannot stay up is rolled back without a person.",
            ),
            Recommendation::NativeCrash => f.write_str(
                "A native crash: check native modules and base-image libraries changed in this revision; capture a core dump (`ulimits` core) or run with the runtime's crash reporter to get a stack.",
            ),
            Recommendation::FixStartFailure { failure } => failure.fmt(f),
            Recommendation::CircuitBreaker => {
                f.write_str("Enable the deployment circuit breaker with rollback on the service.")
            }
            Recommendation::SpotBase => f.write_str(
                "Expected on Spot: keep a base of on-demand FARGATE in the capacity provider strategy for the tasks you cannot lose, and make sure the app shuts down cleanly within the two-minute warning (SIGTERM).",
            ),
            Recommendation::MemoryForHeadroom { memory_mib } => match memory_mib {
                Some(size) => write!(
                    f,
                    "Set the task memory to {size} MiB (p99 peak + 25%, a valid size for its CPU), unless memory grows with uptime."
                ),
                None => f.write_str(
                    "p99 peak + 25% exceeds every Fargate size for this CPU: raise the CPU too, or reduce what the app holds.",
                ),
            },
            Recommendation::EnableContainerInsights => f.write_str(
                "Enable Container Insights on the cluster and subscribe its performance log group; until then the evidence is insufficient to size memory.",
            ),
        }
    }
}

impl Finding {
    /// The title in words.
    pub fn title_text(&self) -> String {
        self.title.to_string()
    }

    /// The evidence in words, one sentence per fact.
    pub fn evidence_text(&self) -> Vec<String> {
        self.evidence.iter().map(ToString::to_string).collect()
    }

    /// The recommendations in words.
    pub fn recommendation_text(&self) -> Vec<String> {
        self.recommendations
            .iter()
            .map(ToString::to_string)
            .collect()
    }
}

/// One fact or recommendation in JSON: its figures and its sentence.
struct WithText<'a, T>(&'a T);

impl<T: Serialize + Display> Serialize for WithText<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Rendered<'a, T> {
            #[serde(flatten)]
            figures: &'a T,
            text: String,
        }
        Rendered {
            figures: self.0,
            text: self.0.to_string(),
        }
        .serialize(s)
    }
}

struct AllWithText<'a, T>(&'a [T]);

impl<T: Serialize + Display> Serialize for AllWithText<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            seq.serialize_element(&WithText(item))?;
        }
        seq.end()
    }
}

/// A finding in JSON: `kind`, `severity`, the `title` in words and its
/// `headline` figures, then each fact and recommendation with its figures
/// and its sentence (`text`).
impl Serialize for Finding {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Finding", 11)?;
        st.serialize_field("severity", &self.severity)?;
        st.serialize_field("kind", &self.kind)?;
        st.serialize_field("title", &self.title_text())?;
        st.serialize_field("headline", &self.title)?;
        st.serialize_field("revisions", &self.revisions)?;
        st.serialize_field("deployments", &self.deployments)?;
        st.serialize_field("impact", &self.impact)?;
        st.serialize_field("evidence", &AllWithText(&self.evidence))?;
        st.serialize_field("recommendations", &AllWithText(&self.recommendations))?;
        st.serialize_field("example_tasks", &self.example_tasks)?;
        st.serialize_field("patches", &self.patches)?;
        st.end()
    }
}
