//! Why did ECS stop a task, and how did each process die?
//!
//! Two independent answers for every stopped task and container:
//!
//! * [`StopCause`] — why ECS stopped the task, from `stopCode`, `stoppedReason`
//!   and the containers' `reason`s. Reason strings are matched
//!   case-insensitively, by prefix or substring, because AWS has reworded them
//!   over the years.
//! * [`ExitKind`] — how one container's process ended, from its exit code, its
//!   reason, and the stop context.
//!
//! Rules, first match wins (stop cause):
//!
//! | rule | stop_cause |
//! |---|---|
//! | any container reason says `OutOfMemory` (e.g. `OutOfMemoryError: Container killed due to memory usage`) | `oom_killed` |
//! | stoppedReason mentions `ELB health check` | `elb_health_check` |
//! | stoppedReason mentions `container health check` | `container_health_check` |
//! | stopCode `SpotInterruption` or `TerminationNotice`, or reason mentions a Spot interruption | `spot_interruption` |
//! | stopCode `TaskFailedToStart`, or a start error (`CannotPullContainerError`, `ResourceInitializationError`, `CannotStartContainerError`, ...) | `failed_to_start` |
//! | reason names the host: maintenance, host EC2 stopped/terminated, instance draining/deregistered | `infrastructure` |
//! | stopCode `EssentialContainerExited` | `essential_container_exited` |
//! | stopCode `UserInitiated` (`Task stopped by user`) | `user_stopped` |
//! | `Scaling activity initiated by (deployment X)`, X not the task's own deployment | `deployment_replaced` |
//! | the same, X the task's own deployment | `scale_in` |
//! | anything else | `unknown` |
//!
//! Exit kind: no exit code → `unknown`; 0 → `clean`; 143 → `sigterm`;
//! 139 → `segfault`; 137 with an OOM reason → `sigkill_oom`; 137 without one,
//! when ECS was stopping the task (scheduler, user, Spot, health check, host,
//! another essential container) and `stoppedAt - stoppingAt` reached about the
//! stop timeout (or is unknown) → `sigkill_after_stop_timeout`; 134 →
//! `abort` (SIGABRT: how Node.js ends when V8 exhausts its heap, and how a
//! failed native assertion ends; never the kernel's OOM killer); any other
//! 137 and 129-192 → `other_signal`; 1-255 → `app_error`.
//!
//! Known AWS quirks handled: an OOM reason with exit code 0 or 1 (a child process
//! was killed, the main process exited by itself) gives stop cause `oom_killed`
//! with exit kind `clean` / `app_error` — the two questions stay independent;
//! a 137 with no reason at all is not called an OOM; Spot arrives as
//! `SpotInterruption` (current) or `TerminationNotice` (older).

use crate::time::Micros;

/// Why ECS stopped a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StopCause {
    OomKilled,
    ElbHealthCheck,
    ContainerHealthCheck,
    EssentialContainerExited,
    DeploymentReplaced,
    ScaleIn,
    SpotInterruption,
    UserStopped,
    FailedToStart,
    Infrastructure,
    Unknown,
}

/// How a container's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExitKind {
    Clean,
    AppError,
    Sigterm,
    SigkillOom,
    SigkillAfterStopTimeout,
    Segfault,
    /// SIGABRT (134): the process aborted itself, e.g. Node.js when V8's heap is exhausted.
    Abort,
    OtherSignal,
    Unknown,
}

impl StopCause {
    pub const ALL: [StopCause; 11] = [
        Self::OomKilled,
        Self::ElbHealthCheck,
        Self::ContainerHealthCheck,
        Self::EssentialContainerExited,
        Self::DeploymentReplaced,
        Self::ScaleIn,
        Self::SpotInterruption,
        Self::UserStopped,
        Self::FailedToStart,
        Self::Infrastructure,
        Self::Unknown,
    ];

    /// The stable name stored in the lake.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OomKilled => "oom_killed",
            Self::ElbHealthCheck => "elb_health_check",
            Self::ContainerHealthCheck => "container_health_check",
            Self::EssentialContainerExited => "essential_container_exited",
            Self::DeploymentReplaced => "deployment_replaced",
            Self::ScaleIn => "scale_in",
            Self::SpotInterruption => "spot_interruption",
            Self::UserStopped => "user_stopped",
            Self::FailedToStart => "failed_to_start",
            Self::Infrastructure => "infrastructure",
            Self::Unknown => "unknown",
        }
    }

    /// True when ECS (not the process itself) initiated the stop, so that the
    /// process was sent SIGTERM and, after the stop timeout, SIGKILL.
    pub fn ecs_initiated(self) -> bool {
        !matches!(self, Self::OomKilled | Self::FailedToStart | Self::Unknown)
    }
}

impl ExitKind {
    pub const ALL: [ExitKind; 9] = [
        Self::Clean,
        Self::AppError,
        Self::Sigterm,
        Self::SigkillOom,
        Self::SigkillAfterStopTimeout,
        Self::Segfault,
        Self::Abort,
        Self::OtherSignal,
        Self::Unknown,
    ];

    /// The stable name stored in the lake.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Clean => "clean",
            Self::AppError => "app_error",
            Self::Sigterm => "sigterm",
            Self::SigkillOom => "sigkill_oom",
            Self::SigkillAfterStopTimeout => "sigkill_after_stop_timeout",
            Self::Segfault => "segfault",
            Self::Abort => "abort",
            Self::OtherSignal => "other_signal",
            Self::Unknown => "unknown",
        }
    }
}

crate::stored_name!(StopCause, "stop_cause");
crate::stored_name!(ExitKind, "exit_kind");

/// One container as the classifier sees it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ContainerFacts<'a> {
    pub exit_code: Option<i64>,
    pub reason: Option<&'a str>,
}

/// A stopped task as the classifier sees it.
#[derive(Debug, Clone, Copy, Default)]
pub struct StopFacts<'a> {
    pub stop_code: Option<&'a str>,
    pub stopped_reason: Option<&'a str>,
    /// The task's own deployment (`startedBy` when it is `ecs-svc/...`).
    pub deployment_id: Option<&'a str>,
    pub stopping_at: Option<Micros>,
    pub stopped_at: Option<Micros>,
}

/// The container stop timeout assumed when judging whether a 137 came after it:
/// ECS's default `stopTimeout` of 30 s. A kill at 90% of it or later counts.
pub const DEFAULT_STOP_TIMEOUT_MICROS: Micros = 30_000_000;

/// The answer for one stopped task: its stop cause, and the container that
/// decided how it ended (see [`deciding_container`]) with that container's exit kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classification {
    pub stop_cause: StopCause,
    pub exit_kind: ExitKind,
    /// Index into the containers slice; `None` when there are no containers.
    pub container: Option<usize>,
}

/// Case-insensitive substring test; `needle` is ASCII.
pub fn contains_ci(haystack: &str, needle: &str) -> bool {
    // Needles are ASCII lower case; reasons are short, so this stays cheap.
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

fn starts_with_ci(haystack: &str, needle: &str) -> bool {
    haystack.len() >= needle.len()
        && haystack.as_bytes()[..needle.len()].eq_ignore_ascii_case(needle.as_bytes())
}

/// True when a container reason reports an out-of-memory kill.
pub fn is_oom_reason(reason: &str) -> bool {
    contains_ci(reason, "outofmemory")
        || contains_ci(reason, "out of memory")
        || contains_ci(reason, "oomkilled")
}

const START_ERRORS: &[&str] = &[
    "cannotpullcontainererror",
    "resourceinitializationerror",
    "cannotstartcontainererror",
    "cannotcreatecontainererror",
    "cannotinspectcontainererror",
    "containerruntimeerror",
    "containerruntimetimeouterror",
    "cannotcreatevolumeerror",
    "timeout waiting for network interface provisioning",
    "unable to pull secrets or registry auth",
];

const INFRASTRUCTURE: &[&str] = &[
    "ecs is performing maintenance",
    "host ec2",
    "container instance is being drained",
    "instance deregistration",
    "is no longer available",
    "underlying infrastructure",
];

/// Why ECS stopped the task. Pure; see the module docs for the rule table.
pub fn stop_cause(task: &StopFacts<'_>, containers: &[ContainerFacts<'_>]) -> StopCause {
    let reason = task.stopped_reason.unwrap_or("");
    let code = task.stop_code.unwrap_or("");
    if containers
        .iter()
        .any(|c| c.reason.is_some_and(is_oom_reason))
        || is_oom_reason(reason)
    {
        return StopCause::OomKilled;
    }
    if contains_ci(reason, "elb health check") {
        return StopCause::ElbHealthCheck;
    }
    if contains_ci(reason, "container health check") {
        return StopCause::ContainerHealthCheck;
    }
    if code.eq_ignore_ascii_case("SpotInterruption")
        || code.eq_ignore_ascii_case("TerminationNotice")
        || contains_ci(reason, "spot task was interrupted")
        || contains_ci(reason, "spot interruption")
    {
        return StopCause::SpotInterruption;
    }
    let start_error = |s: &str| START_ERRORS.iter().any(|e| contains_ci(s, e));
    if code.eq_ignore_ascii_case("TaskFailedToStart")
        || start_error(reason)
        || containers.iter().any(|c| c.reason.is_some_and(start_error))
    {
        return StopCause::FailedToStart;
    }
    if INFRASTRUCTURE.iter().any(|e| contains_ci(reason, e)) {
        return StopCause::Infrastructure;
    }
    if code.eq_ignore_ascii_case("EssentialContainerExited")
        || starts_with_ci(reason, "essential container")
    {
        return StopCause::EssentialContainerExited;
    }
    if code.eq_ignore_ascii_case("UserInitiated") || starts_with_ci(reason, "task stopped by user")
    {
        return StopCause::UserStopped;
    }
    if starts_with_ci(reason, "scaling activity initiated by") {
        let by = reason
            .find("deployment ")
            .map(|i| reason[i + "deployment ".len()..].trim_end_matches([')', ' ', '.']));
        return match (by, task.deployment_id) {
            (Some(by), Some(own)) if by == own => StopCause::ScaleIn,
            _ => StopCause::DeploymentReplaced,
        };
    }
    StopCause::Unknown
}

/// Whether a SIGKILL (137, no OOM reason) `waited` microseconds after ECS
/// began stopping the task came from the stop timeout: at 90% of it or
/// later. `timeout` is the container's `stopTimeout` when known, else
/// [`DEFAULT_STOP_TIMEOUT_MICROS`] (ingest does not know it; the query side
/// judges again with the configured one).
pub fn waited_for_stop_timeout(waited: Micros, timeout: Micros) -> bool {
    waited >= timeout * 9 / 10
}

/// How one container's process ended, given the task's stop cause.
pub fn exit_kind(
    container: &ContainerFacts<'_>,
    cause: StopCause,
    task: &StopFacts<'_>,
) -> ExitKind {
    let Some(code) = container.exit_code else {
        return ExitKind::Unknown;
    };
    match code {
        0 => ExitKind::Clean,
        143 => ExitKind::Sigterm,
        139 => ExitKind::Segfault,
        134 => ExitKind::Abort,
        137 if container.reason.is_some_and(is_oom_reason) => ExitKind::SigkillOom,
        137 => {
            let waited = match (task.stopping_at, task.stopped_at) {
                (Some(a), Some(b)) => waited_for_stop_timeout(b - a, DEFAULT_STOP_TIMEOUT_MICROS),
                _ => true,
            };
            if cause.ecs_initiated() && waited {
                ExitKind::SigkillAfterStopTimeout
            } else {
                ExitKind::OtherSignal
            }
        }
        129..=192 => ExitKind::OtherSignal,
        1..=255 => ExitKind::AppError,
        _ => ExitKind::Unknown,
    }
}

/// The container that tells how the task ended: one with an OOM reason, else
/// one that exited non-zero by itself (not 137/143), else a 137, a 143, a 0.
/// Ties go to the first in event order.
pub fn deciding_container(containers: &[ContainerFacts<'_>]) -> Option<usize> {
    let rank = |c: &ContainerFacts<'_>| match (c.reason.is_some_and(is_oom_reason), c.exit_code) {
        (true, _) => 0,
        (false, Some(137)) => 2,
        (false, Some(143)) => 3,
        (false, Some(0)) => 4,
        (false, Some(_)) => 1,
        (false, None) => 5,
    };
    containers
        .iter()
        .enumerate()
        .min_by_key(|(i, c)| (rank(c), *i))
        .map(|(i, _)| i)
}

/// Classifies a stopped task: stop cause, deciding container and its exit kind.
pub fn classify(task: &StopFacts<'_>, containers: &[ContainerFacts<'_>]) -> Classification {
    let cause = stop_cause(task, containers);
    let container = deciding_container(containers);
    let kind = container.map_or(ExitKind::Unknown, |i| {
        exit_kind(&containers[i], cause, task)
    });
    Classification {
        stop_cause: cause,
        exit_kind: kind,
        container,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_round_trip() {
        for c in super::StopCause::ALL {
            assert_eq!(super::StopCause::from_name(c.as_str()), Some(c));
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(serde_json::from_str::<super::StopCause>(&json).unwrap(), c);
        }
        for k in super::ExitKind::ALL {
            assert_eq!(super::ExitKind::from_name(k.as_str()), Some(k));
        }
        assert_eq!(super::ExitKind::from_name("sigkill_omm"), None);
        assert!(serde_json::from_str::<super::ExitKind>("\"app_eror\"").is_err());
    }

    use super::*;
    use crate::time::parse_time;

    const OOM: &str = "OutOfMemoryError: Container killed due to memory usage";

    struct Case {
        name: &'static str,
        stop_code: Option<&'static str>,
        reason: Option<&'static str>,
        stopping_to_stopped_s: Option<i64>,
        containers: &'static [(Option<i64>, Option<&'static str>)],
        cause: StopCause,
        kind: ExitKind,
    }

    const DEPLOY: &str = "ecs-svc/1111";

    #[rustfmt::skip]
    const CASES: &[Case] = &[
        Case { name: "OOM reason with exit 137", stop_code: Some("EssentialContainerExited"), reason: Some("Essential container in task exited"), stopping_to_stopped_s: Some(1),
               containers: &[(Some(137), Some(OOM))], cause: StopCause::OomKilled, kind: ExitKind::SigkillOom },
        Case { name: "OOM reason with exit 1 (child killed, app exited)", stop_code: Some("EssentialContainerExited"), reason: Some("Essential container in task exited"), stopping_to_stopped_s: Some(1),
               containers: &[(Some(1), Some(OOM))], cause: StopCause::OomKilled, kind: ExitKind::AppError },
        Case { name: "OOM reason with exit 0", stop_code: Some("EssentialContainerExited"), reason: Some("Essential container in task exited"), stopping_to_stopped_s: None,
               containers: &[(Some(0), Some("OutOfMemoryError: container killed due to memory usage"))], cause: StopCause::OomKilled, kind: ExitKind::Clean },
        Case { name: "OOM on a sidecar decides over the app's clean exit", stop_code: Some("EssentialContainerExited"), reason: None, stopping_to_stopped_s: None,
               containers: &[(Some(0), None), (Some(137), Some(OOM))], cause: StopCause::OomKilled, kind: ExitKind::SigkillOom },
        Case { name: "137 without reason after a deployment stop at the timeout", stop_code: Some("ServiceSchedulerInitiated"), reason: Some("Scaling activity initiated by (deployment ecs-svc/2222)"), stopping_to_stopped_s: Some(31),
               containers: &[(Some(137), None)], cause: StopCause::DeploymentReplaced, kind: ExitKind::SigkillAfterStopTimeout },
        Case { name: "137 without reason, killed quickly: not the stop timeout", stop_code: Some("ServiceSchedulerInitiated"), reason: Some("Scaling activity initiated by (deployment ecs-svc/2222)"), stopping_to_stopped_s: Some(3),
               containers: &[(Some(137), None)], cause: StopCause::DeploymentReplaced, kind: ExitKind::OtherSignal },
        Case { name: "137 with no reason and no ECS stop is not called OOM", stop_code: Some("EssentialContainerExited"), reason: Some("Essential container in task exited"), stopping_to_stopped_s: Some(1),
               containers: &[(Some(137), None)], cause: StopCause::EssentialContainerExited, kind: ExitKind::OtherSignal },
        Case { name: "sidecar ignoring SIGTERM after the app exited", stop_code: Some("EssentialContainerExited"), reason: Some("Essential container in task exited"), stopping_to_stopped_s: Some(30),
               containers: &[(Some(1), None), (Some(137), None)], cause: StopCause::EssentialContainerExited, kind: ExitKind::AppError },
        Case { name: "scale in of the task's own deployment", stop_code: Some("ServiceSchedulerInitiated"), reason: Some("Scaling activity initiated by (deployment ecs-svc/1111)"), stopping_to_stopped_s: Some(2),
               containers: &[(Some(143), None)], cause: StopCause::ScaleIn, kind: ExitKind::Sigterm },
        Case { name: "143 after an ELB health check stop", stop_code: Some("ServiceSchedulerInitiated"), reason: Some("Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:ap-northeast-2:653734769926:targetgroup/sin-web-target-dev/ccb1c7ee670051a0)"), stopping_to_stopped_s: Some(34),
               containers: &[(Some(143), None)], cause: StopCause::ElbHealthCheck, kind: ExitKind::Sigterm },
        Case { name: "container health check stop", stop_code: Some("ServiceSchedulerInitiated"), reason: Some("Task failed container health checks"), stopping_to_stopped_s: Some(31),
               containers: &[(Some(137), None)], cause: StopCause::ContainerHealthCheck, kind: ExitKind::SigkillAfterStopTimeout },
        Case { name: "image pull failure, no exit code", stop_code: Some("TaskFailedToStart"), reason: Some("CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref"), stopping_to_stopped_s: None,
               containers: &[(None, Some("CannotPullContainerError: pull image manifest has been retried 5 time(s)"))], cause: StopCause::FailedToStart, kind: ExitKind::Unknown },
        Case { name: "resource initialization error", stop_code: Some("TaskFailedToStart"), reason: Some("ResourceInitializationError: unable to pull secrets or registry auth"), stopping_to_stopped_s: None,
               containers: &[(None, None)], cause: StopCause::FailedToStart, kind: ExitKind::Unknown },
        Case { name: "Spot as SpotInterruption", stop_code: Some("SpotInterruption"), reason: Some("Your Spot Task was interrupted."), stopping_to_stopped_s: Some(2),
               containers: &[(Some(143), None)], cause: StopCause::SpotInterruption, kind: ExitKind::Sigterm },
        Case { name: "Spot as TerminationNotice, app ignores SIGTERM", stop_code: Some("TerminationNotice"), reason: Some("Your Spot Task was interrupted."), stopping_to_stopped_s: Some(30),
               containers: &[(Some(137), None)], cause: StopCause::SpotInterruption, kind: ExitKind::SigkillAfterStopTimeout },
        Case { name: "user initiated", stop_code: Some("UserInitiated"), reason: Some("Task stopped by user"), stopping_to_stopped_s: Some(14),
               containers: &[(Some(0), None)], cause: StopCause::UserStopped, kind: ExitKind::Clean },
        Case { name: "essential container exit 2", stop_code: Some("EssentialContainerExited"), reason: Some("Essential container in task exited"), stopping_to_stopped_s: Some(125),
               containers: &[(Some(0), None), (Some(2), None)], cause: StopCause::EssentialContainerExited, kind: ExitKind::AppError },
        Case { name: "segfault", stop_code: Some("EssentialContainerExited"), reason: Some("Essential container in task exited"), stopping_to_stopped_s: Some(1),
               containers: &[(Some(139), None)], cause: StopCause::EssentialContainerExited, kind: ExitKind::Segfault },
        Case { name: "Node.js heap exhausted: abort, not an OOM kill", stop_code: Some("EssentialContainerExited"), reason: Some("Essential container in task exited"), stopping_to_stopped_s: Some(1),
               containers: &[(Some(134), None)], cause: StopCause::EssentialContainerExited, kind: ExitKind::Abort },
        Case { name: "host terminated", stop_code: Some("ServiceSchedulerInitiated"), reason: Some("Host EC2 (instance i-0123) terminated."), stopping_to_stopped_s: Some(1),
               containers: &[(Some(143), None)], cause: StopCause::Infrastructure, kind: ExitKind::Sigterm },
        Case { name: "SIGINT is another signal", stop_code: None, reason: None, stopping_to_stopped_s: None,
               containers: &[(Some(130), None)], cause: StopCause::Unknown, kind: ExitKind::OtherSignal },
        Case { name: "case-insensitive reasons", stop_code: Some("serviceschedulerinitiated"), reason: Some("TASK FAILED ELB HEALTH CHECKS in (target-group x)"), stopping_to_stopped_s: None,
               containers: &[(Some(143), None)], cause: StopCause::ElbHealthCheck, kind: ExitKind::Sigterm },
        Case { name: "no containers", stop_code: None, reason: None, stopping_to_stopped_s: None,
               containers: &[], cause: StopCause::Unknown, kind: ExitKind::Unknown },
    ];

    #[test]
    fn classification_table() {
        let stopping = parse_time("2026-11-20T10:00:00Z").unwrap();
        let mut failures = Vec::new();
        for case in CASES {
            let task = StopFacts {
                stop_code: case.stop_code,
                stopped_reason: case.reason,
                deployment_id: Some(DEPLOY),
                stopping_at: case.stopping_to_stopped_s.map(|_| stopping),
                stopped_at: case.stopping_to_stopped_s.map(|s| stopping + s * 1_000_000),
            };
            let containers: Vec<_> = case
                .containers
                .iter()
                .map(|&(exit_code, reason)| ContainerFacts { exit_code, reason })
                .collect();
            let got = classify(&task, &containers);
            if (got.stop_cause, got.exit_kind) != (case.cause, case.kind) {
                failures.push(format!(
                    "{}: expected {}/{}, got {}/{}",
                    case.name, case.cause, case.kind, got.stop_cause, got.exit_kind
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn every_name_parses_back() {
        for c in StopCause::ALL {
            assert_eq!(c.as_str().parse::<StopCause>(), Ok(c));
            assert_eq!(StopCause::from_name(&c.to_string()), Some(c));
        }
        for k in ExitKind::ALL {
            assert_eq!(k.as_str().parse::<ExitKind>(), Ok(k));
            assert_eq!(ExitKind::from_name(&k.to_string()), Some(k));
        }
        assert!("OomKilled".parse::<StopCause>().is_err());
        assert_eq!(
            "137".parse::<ExitKind>().unwrap_err().to_string(),
            "\"137\" is not a known exit_kind"
        );
    }

    #[test]
    fn names_are_distinct_and_snake_case() {
        let names: std::collections::BTreeSet<_> =
            StopCause::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), StopCause::ALL.len());
        let kinds: std::collections::BTreeSet<_> =
            ExitKind::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(kinds.len(), ExitKind::ALL.len());
        assert!(
            names
                .iter()
                .chain(kinds.iter())
                .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        );
    }
}
