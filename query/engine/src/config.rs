//! The account's configuration as the lake recorded it
//! (`task_definitions`, `container_definitions`): each revision's containers
//! as configured, for the diagnosis to quote, and what changed between two
//! revisions (`ecs-query diff api:41 api:42`).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use datafusion::prelude::SessionContext;

/// One container of a task definition revision as configured (the latest
/// capture in `container_definitions`), with its task's CPU and memory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerConfig {
    pub family: String,
    pub revision: i64,
    pub container_name: String,
    pub image: Option<String>,
    pub essential: Option<bool>,
    pub cpu: Option<i64>,
    /// Hard limit, MiB.
    pub memory: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub health_check_command: Option<String>,
    pub health_check_interval: Option<i64>,
    pub health_check_timeout: Option<i64>,
    pub health_check_retries: Option<i64>,
    pub health_check_start_period: Option<i64>,
    pub stop_timeout: Option<i64>,
    pub start_timeout: Option<i64>,
    pub init_process_enabled: Option<bool>,
    pub ulimits: Option<String>,
    pub log_group: Option<String>,
    pub environment_names: Option<String>,
    pub secrets: Option<String>,
    pub heap_settings: Option<String>,
    pub node_max_old_space_mib: Option<i64>,
    pub java_xmx_mib: Option<i64>,
    pub go_memlimit_mib: Option<i64>,
    /// The task's memory, MiB, CPU units and network mode.
    pub task_memory: Option<i64>,
    pub task_cpu: Option<i64>,
    pub network_mode: Option<String>,
}

impl ContainerConfig {
    /// The memory the kernel enforces on this container: its own hard limit,
    /// else the task's.
    pub fn limit_mib(&self) -> Option<i64> {
        self.memory.or(self.task_memory)
    }

    /// The heap cap the environment sets, MiB, and the flag that sets it.
    pub fn heap_cap(&self) -> Option<(i64, String)> {
        let settings = self.heap_settings.clone().unwrap_or_default();
        let flag = |needle: &str| {
            settings
                .split_whitespace()
                .rfind(|f| f.contains(needle))
                .unwrap_or(needle)
                .to_owned()
        };
        self.node_max_old_space_mib
            .map(|m| (m, flag("old")))
            .or_else(|| self.java_xmx_mib.map(|m| (m, flag("-Xmx"))))
            .or_else(|| self.go_memlimit_mib.map(|m| (m, flag("GOMEMLIMIT"))))
    }

    /// Seconds the container health check gives a starting task before it
    /// is UNHEALTHY: startPeriod + interval x retries (ECS's defaults for
    /// what is unset: 0, 30 s, 3). `None` without a health check.
    pub fn health_check_deadline_s(&self) -> Option<i64> {
        let has_check = self.health_check_command.is_some() || self.health_check_interval.is_some();
        has_check.then(|| {
            self.health_check_start_period.unwrap_or(0)
                + self.health_check_interval.unwrap_or(30) * self.health_check_retries.unwrap_or(3)
        })
    }
}

/// What the lake records of the account's configuration, read once.
#[derive(Debug, Clone, Default)]
pub struct Configuration {
    pub containers: Vec<ContainerConfig>,
    pub services: Vec<ServiceConfig>,
    pub deployments: Vec<ServiceDeploymentRecord>,
}

impl Configuration {
    /// Every container definition and service in the lake ([`containers`], [`services`]).
    pub async fn load(ctx: &SessionContext) -> Result<Configuration> {
        Ok(Configuration {
            containers: containers(ctx).await?,
            services: services(ctx).await?,
            deployments: service_deployments(ctx).await?,
        })
    }
}

/// Every container definition in the lake, the latest capture of each
/// (a revision read on several days has a row per day).
pub async fn containers(ctx: &SessionContext) -> Result<Vec<ContainerConfig>> {
    let df = ctx
        .sql(
            "SELECT c.family, CAST(c.revision AS BIGINT) AS revision, c.container_name, c.image, \
             c.essential, c.cpu, c.memory, c.memory_reservation, c.health_check_command, \
             c.health_check_interval, c.health_check_timeout, c.health_check_retries, \
             c.health_check_start_period, c.stop_timeout, c.start_timeout, c.init_process_enabled, \
             c.ulimits, c.log_group, c.environment_names, c.secrets, c.heap_settings, \
             c.node_max_old_space_mib, c.java_xmx_mib, c.go_memlimit_mib, \
             t.memory AS task_memory, t.cpu AS task_cpu, t.network_mode \
             FROM (SELECT *, row_number() OVER (PARTITION BY task_definition_arn, container_name \
                   ORDER BY captured_at DESC) AS newest FROM container_definitions) c \
             LEFT JOIN (SELECT task_definition_arn, memory, cpu, network_mode, row_number() OVER \
                   (PARTITION BY task_definition_arn ORDER BY captured_at DESC) AS newest \
                   FROM task_definitions) t \
               ON c.task_definition_arn = t.task_definition_arn AND t.newest = 1 \
             WHERE c.newest = 1 ORDER BY c.family, revision, c.container_name",
        )
        .await?;
    rows_of::<ContainerConfig>(df, "container definitions").await
}

/// A service's load-balancer health check as configured: the service's
/// grace period (latest capture in `services`) and its target groups'
/// health checks (`target_groups`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceConfig {
    pub cluster: Option<String>,
    pub service: String,
    pub health_check_grace_period_seconds: Option<i64>,
    pub target_group_arn: Option<String>,
    pub health_check_path: Option<String>,
    pub health_check_interval: Option<i64>,
    pub health_check_timeout: Option<i64>,
    pub unhealthy_threshold: Option<i64>,
    /// The target group's `deregistration_delay.timeout_seconds`
    /// (`target_group_attributes`): ECS waits it before SIGTERM.
    pub deregistration_delay_s: Option<i64>,
}

impl ServiceConfig {
    /// Seconds the load balancer gives a starting task before it is
    /// unhealthy: the grace period + interval x unhealthy threshold (ELB's
    /// defaults for what is unset: 0, 30 s, 2). `None` without a target group.
    pub fn elb_deadline_s(&self) -> Option<i64> {
        self.target_group_arn.as_ref().map(|_| {
            self.health_check_grace_period_seconds.unwrap_or(0)
                + self.health_check_interval.unwrap_or(30) * self.unhealthy_threshold.unwrap_or(2)
        })
    }
}

/// Every service in the lake (latest capture of each), one row per target
/// group it uses (or one with none).
pub async fn services(ctx: &SessionContext) -> Result<Vec<ServiceConfig>> {
    let df = ctx
        .sql(
            "SELECT s.cluster, s.service, s.health_check_grace_period_seconds, \
             g.target_group_arn, g.health_check_path, g.health_check_interval, \
             g.health_check_timeout, g.unhealthy_threshold, a.deregistration_delay_s \
             FROM (SELECT *, row_number() OVER (PARTITION BY service_arn ORDER BY captured_at DESC) AS newest \
                   FROM services) s \
             LEFT JOIN (SELECT *, row_number() OVER (PARTITION BY target_group_arn \
                   ORDER BY captured_at DESC) AS newest FROM target_groups) g \
               ON g.newest = 1 AND strpos(coalesce(s.target_groups, ''), g.target_group_arn) > 0 \
             LEFT JOIN (SELECT target_group_arn, deregistration_delay_s, row_number() OVER \
                   (PARTITION BY target_group_arn ORDER BY captured_at DESC) AS newest \
                   FROM target_group_attributes) a \
               ON a.newest = 1 AND a.target_group_arn = g.target_group_arn \
             WHERE s.newest = 1 ORDER BY s.cluster, s.service",
        )
        .await?;
    rows_of::<ServiceConfig>(df, "services").await
}

/// ECS's own record of a service deployment (`service_deployments`, the
/// whole record preferred to a brief, then the latest capture), with the
/// task definitions of its target revision and of the revision a rollback
/// went back to (`service_revisions`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceDeploymentRecord {
    pub service_deployment_arn: String,
    pub cluster: Option<String>,
    pub service: Option<String>,
    pub status: Option<String>,
    pub status_reason: Option<String>,
    /// Microseconds since the epoch.
    pub created_at: Option<i64>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub stopped_at: Option<i64>,
    pub family: Option<String>,
    pub revision: Option<i64>,
    pub circuit_breaker_status: Option<String>,
    pub circuit_breaker_failure_count: Option<i64>,
    pub circuit_breaker_threshold: Option<i64>,
    pub triggered_alarm_names: Option<String>,
    pub rollback_reason: Option<String>,
    pub rollback_family: Option<String>,
    pub rollback_revision: Option<i64>,
}

/// How far apart (µs) ECS's record of a deployment and the deployment the
/// task events name may start and still be one deployment.
pub const SAME_DEPLOYMENT_MICROS: i64 = 15 * 60 * 1_000_000;

impl ServiceDeploymentRecord {
    /// The record of the deployment the task events call `ecs-svc/...`:
    /// ECS does not link the two ids, so a record matches when it is of the
    /// same cluster and service, rolls out the same task definition
    /// revision, and was created within [`SAME_DEPLOYMENT_MICROS`] of the
    /// deployment's start; the closest wins. Two deployments of the same
    /// revision that close together cannot be told apart.
    pub fn find<'a>(
        records: &'a [ServiceDeploymentRecord],
        cluster: &str,
        service: &str,
        family: &str,
        revision: i64,
        started_at: i64,
    ) -> Option<&'a ServiceDeploymentRecord> {
        records
            .iter()
            .filter(|r| {
                r.cluster.as_deref() == Some(cluster)
                    && r.service.as_deref() == Some(service)
                    && r.family.as_deref() == Some(family)
                    && r.revision == Some(revision)
            })
            .filter_map(|r| {
                let at = r.created_at.or(r.started_at)?;
                let gap = (at - started_at).abs();
                (gap <= SAME_DEPLOYMENT_MICROS).then_some((gap, r))
            })
            .min_by_key(|(gap, _)| *gap)
            .map(|(_, r)| r)
    }

    /// The id at the end of the ARN.
    pub fn id(&self) -> &str {
        self.service_deployment_arn
            .rsplit('/')
            .next()
            .unwrap_or(&self.service_deployment_arn)
    }
}

/// Every service deployment in the lake (see [`ServiceDeploymentRecord`]).
pub async fn service_deployments(ctx: &SessionContext) -> Result<Vec<ServiceDeploymentRecord>> {
    let df = ctx
        .sql(
            "WITH revisions AS (SELECT service_revision_arn, family, CAST(revision AS BIGINT) AS revision,                    row_number() OVER (PARTITION BY service_revision_arn ORDER BY captured_at DESC) AS newest                    FROM service_revisions)              SELECT d.service_deployment_arn, d.cluster, d.service, d.status, d.status_reason,              CAST(d.created_at AS BIGINT) AS created_at, CAST(d.started_at AS BIGINT) AS started_at,              CAST(d.finished_at AS BIGINT) AS finished_at, CAST(d.stopped_at AS BIGINT) AS stopped_at,              t.family, t.revision, d.circuit_breaker_status, d.circuit_breaker_failure_count,              d.circuit_breaker_threshold, d.triggered_alarm_names, d.rollback_reason,              b.family AS rollback_family, b.revision AS rollback_revision              FROM (SELECT *, row_number() OVER (PARTITION BY service_deployment_arn                    ORDER BY detailed DESC, captured_at DESC) AS newest FROM service_deployments) d              LEFT JOIN revisions t ON t.newest = 1 AND t.service_revision_arn = d.target_service_revision_arn              LEFT JOIN revisions b ON b.newest = 1 AND b.service_revision_arn = d.rollback_service_revision_arn              WHERE d.newest = 1 ORDER BY d.cluster, d.service, created_at",
        )
        .await?;
    rows_of::<ServiceDeploymentRecord>(df, "service deployments").await
}

/// Every row of a plan, read into `T` (`what` names them in errors).
async fn rows_of<T: serde::de::DeserializeOwned>(
    df: datafusion::prelude::DataFrame,
    what: &str,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for b in crate::listing::collect(df).await? {
        let rows: Vec<T> = serde_arrow::from_record_batch(&b)
            .map_err(|e| Error::Internal(format!("reading {what}: {e}")))?;
        out.extend(rows);
    }
    Ok(out)
}

/// `family:revision` split, e.g. `api:42`.
pub fn parse_revision(label: &str) -> Option<(&str, i64)> {
    let (family, revision) = label.rsplit_once(':')?;
    Some((family, revision.parse().ok()?))
}

/// A container setting `diff` compares: its name as the task definition
/// spells it, and its value in words.
type Setting = (&'static str, fn(&ContainerConfig) -> Option<String>);

fn number(v: Option<i64>) -> Option<String> {
    v.map(|v| v.to_string())
}

fn flag(v: Option<bool>) -> Option<String> {
    v.map(|v| v.to_string())
}

const CONTAINER_SETTINGS: &[Setting] = &[
    ("image", |c| c.image.clone()),
    ("essential", |c| flag(c.essential)),
    ("cpu", |c| number(c.cpu)),
    ("memory", |c| number(c.memory)),
    ("memoryReservation", |c| number(c.memory_reservation)),
    ("heap settings (environment)", |c| c.heap_settings.clone()),
    ("healthCheck.command", |c| c.health_check_command.clone()),
    ("healthCheck.interval", |c| number(c.health_check_interval)),
    ("healthCheck.timeout", |c| number(c.health_check_timeout)),
    ("healthCheck.retries", |c| number(c.health_check_retries)),
    ("healthCheck.startPeriod", |c| {
        number(c.health_check_start_period)
    }),
    ("stopTimeout", |c| number(c.stop_timeout)),
    ("startTimeout", |c| number(c.start_timeout)),
    ("linuxParameters.initProcessEnabled", |c| {
        flag(c.init_process_enabled)
    }),
    ("ulimits", |c| c.ulimits.clone()),
    ("logConfiguration awslogs-group", |c| c.log_group.clone()),
    ("environment (names)", |c| c.environment_names.clone()),
    ("secrets", |c| c.secrets.clone()),
];

/// One configured value that differs between two revisions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// `task` or the container's name.
    pub scope: String,
    /// The setting, as the task definition names it (`memory`, `healthCheck.startPeriod`, ...).
    pub setting: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// What changed in the configuration from revision `from` to `to` (both
/// `family:revision`): task CPU, memory and network mode; containers added
/// or removed; and per container the image, limits, health check, timeouts,
/// heap settings, ulimits, log group, and environment and secret names.
/// Errors when a revision's task definition is not in the lake.
pub fn diff(all: &[ContainerConfig], from: &str, to: &str) -> Result<Vec<Change>> {
    let of = |label: &str| -> Result<Vec<&ContainerConfig>> {
        let (family, revision) =
            parse_revision(label).ok_or_else(|| Error::NotARevision(label.to_owned()))?;
        let containers: Vec<&ContainerConfig> = all
            .iter()
            .filter(|c| c.family == family && c.revision == revision)
            .collect();
        if containers.is_empty() {
            return Err(Error::NoTaskDefinition(label.to_owned()));
        }
        Ok(containers)
    };
    let (a, b) = (of(from)?, of(to)?);
    let mut changes = Vec::new();
    let mut change = |scope: &str, setting: &str, x: Option<String>, y: Option<String>| {
        if x != y {
            changes.push(Change {
                scope: scope.to_owned(),
                setting: setting.to_owned(),
                from: x,
                to: y,
            });
        }
    };
    change("task", "cpu", number(a[0].task_cpu), number(b[0].task_cpu));
    change(
        "task",
        "memory",
        number(a[0].task_memory),
        number(b[0].task_memory),
    );
    change(
        "task",
        "networkMode",
        a[0].network_mode.clone(),
        b[0].network_mode.clone(),
    );
    let names = |list: &[&ContainerConfig]| -> Vec<String> {
        list.iter().map(|c| c.container_name.clone()).collect()
    };
    for name in names(&a).iter().filter(|n| !names(&b).contains(n)) {
        change(name, "container", Some("present".into()), None);
    }
    for name in names(&b).iter().filter(|n| !names(&a).contains(n)) {
        change(name, "container", None, Some("present".into()));
    }
    for x in &a {
        let Some(y) = b.iter().find(|y| y.container_name == x.container_name) else {
            continue;
        };
        for (setting, value) in CONTAINER_SETTINGS {
            change(&x.container_name, setting, value(x), value(y));
        }
    }
    Ok(changes)
}

/// One capture of a service's settings (`services`), with the task
/// definition revision it ran then: the capture in `poll-health` records a
/// service once per deployment, so revisions can be compared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceSnapshot {
    pub cluster: Option<String>,
    pub service: String,
    pub family: Option<String>,
    pub revision: Option<i64>,
    /// Microseconds since the epoch.
    pub captured_at: i64,
    pub desired_count: Option<i64>,
    pub health_check_grace_period_seconds: Option<i64>,
    pub circuit_breaker_enable: Option<bool>,
    pub circuit_breaker_rollback: Option<bool>,
    pub alarms_enable: Option<bool>,
    pub alarms_rollback: Option<bool>,
    pub maximum_percent: Option<i64>,
    pub minimum_healthy_percent: Option<i64>,
    pub target_groups: Option<String>,
}

/// Every capture of every service in the lake.
pub async fn service_history(ctx: &SessionContext) -> Result<Vec<ServiceSnapshot>> {
    let df = ctx
        .sql(
            "SELECT cluster, service, \
             regexp_replace(regexp_replace(task_definition, '^.*task-definition/', ''), ':[0-9]+$', '') AS family, \
             CAST(regexp_replace(task_definition, '^.*:', '') AS BIGINT) AS revision, \
             CAST(captured_at AS BIGINT) AS captured_at, desired_count, health_check_grace_period_seconds, \
             circuit_breaker_enable, circuit_breaker_rollback, alarms_enable, alarms_rollback, \
             maximum_percent, minimum_healthy_percent, target_groups \
             FROM services WHERE task_definition LIKE '%:task-definition/%:%' \
             ORDER BY cluster, service, captured_at",
        )
        .await?;
    rows_of::<ServiceSnapshot>(df, "services").await
}

/// One capture of a target group's health check and attributes
/// (`target_groups`, `target_group_attributes`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TargetGroupSnapshot {
    pub target_group_arn: String,
    pub name: Option<String>,
    /// Microseconds since the epoch.
    pub captured_at: i64,
    pub health_check_path: Option<String>,
    pub health_check_interval: Option<i64>,
    pub health_check_timeout: Option<i64>,
    pub healthy_threshold: Option<i64>,
    pub unhealthy_threshold: Option<i64>,
    pub matcher: Option<String>,
    /// From the attributes captured closest after it.
    pub deregistration_delay_s: Option<i64>,
}

/// Every capture of every target group, each with the deregistration
/// delay of the attributes captured with it ([`nearest`] in time).
pub async fn target_group_history(ctx: &SessionContext) -> Result<Vec<TargetGroupSnapshot>> {
    let df = ctx
        .sql(
            "SELECT target_group_arn, name, CAST(captured_at AS BIGINT) AS captured_at, \
             health_check_path, health_check_interval, health_check_timeout, healthy_threshold, \
             unhealthy_threshold, matcher FROM target_groups ORDER BY target_group_arn, captured_at",
        )
        .await?;
    let mut out: Vec<TargetGroupSnapshot> = rows_of(df, "target groups").await?;
    #[derive(Deserialize)]
    struct Delay {
        target_group_arn: String,
        captured_at: i64,
        deregistration_delay_s: Option<i64>,
    }
    let df = ctx
        .sql(
            "SELECT target_group_arn, CAST(captured_at AS BIGINT) AS captured_at, deregistration_delay_s \
             FROM target_group_attributes",
        )
        .await?;
    let delays: Vec<Delay> = rows_of(df, "target group attributes").await?;
    for g in &mut out {
        let of_group = delays
            .iter()
            .filter(|d| d.target_group_arn == g.target_group_arn);
        g.deregistration_delay_s = nearest(of_group, g.captured_at, |d| d.captured_at)
            .and_then(|d| d.deregistration_delay_s);
    }
    Ok(out)
}

/// The capture nearest in time to `at`: `poll-health` and `ecs-query
/// ingest` write what goes together (a service, its target groups, their
/// attributes) milliseconds apart, while captures of one thing are a poll,
/// a minute or more, apart.
fn nearest<'a, T>(
    items: impl Iterator<Item = &'a T>,
    at: i64,
    captured_at: impl Fn(&T) -> i64,
) -> Option<&'a T> {
    items.min_by_key(|x| (captured_at(x) - at).abs())
}

/// The capture of a target group that went with a service captured at `at`.
fn group_at<'a>(
    groups: &'a [TargetGroupSnapshot],
    arn: &str,
    at: i64,
) -> Option<&'a TargetGroupSnapshot> {
    let of_group = groups.iter().filter(|g| g.target_group_arn == arn);
    nearest(of_group, at, |g| g.captured_at)
}

type GroupSetting = (&'static str, fn(&TargetGroupSnapshot) -> Option<String>);
const GROUP_SETTINGS: &[GroupSetting] = &[
    ("HealthCheckPath", |g| g.health_check_path.clone()),
    ("HealthCheckIntervalSeconds", |g| {
        number(g.health_check_interval)
    }),
    ("HealthCheckTimeoutSeconds", |g| {
        number(g.health_check_timeout)
    }),
    ("HealthyThresholdCount", |g| number(g.healthy_threshold)),
    ("UnhealthyThresholdCount", |g| number(g.unhealthy_threshold)),
    ("Matcher", |g| g.matcher.clone()),
    ("deregistration_delay.timeout_seconds", |g| {
        number(g.deregistration_delay_s)
    }),
];

/// The service settings [`service_diff`] compares, as the service names them.
type ServiceSetting = (&'static str, fn(&ServiceSnapshot) -> Option<String>);
const SERVICE_SETTINGS: &[ServiceSetting] = &[
    ("desiredCount", |s| number(s.desired_count)),
    ("healthCheckGracePeriodSeconds", |s| {
        number(s.health_check_grace_period_seconds)
    }),
    ("deploymentCircuitBreaker.enable", |s| {
        flag(s.circuit_breaker_enable)
    }),
    ("deploymentCircuitBreaker.rollback", |s| {
        flag(s.circuit_breaker_rollback)
    }),
    ("alarms.enable", |s| flag(s.alarms_enable)),
    ("alarms.rollback", |s| flag(s.alarms_rollback)),
    ("maximumPercent", |s| number(s.maximum_percent)),
    ("minimumHealthyPercent", |s| {
        number(s.minimum_healthy_percent)
    }),
    ("loadBalancers (target groups)", |s| s.target_groups.clone()),
];

/// What changed in the services that ran `from` and `to`: for each service
/// captured running both, its latest capture with each revision compared,
/// and its target groups as captured with each (see [`group_at`]).
/// Nothing when the lake has no capture of a service with one of them.
pub fn service_diff(
    history: &[ServiceSnapshot],
    groups: &[TargetGroupSnapshot],
    from: &str,
    to: &str,
) -> Vec<Change> {
    let (Some((ff, fr)), Some((tf, tr))) = (parse_revision(from), parse_revision(to)) else {
        return Vec::new();
    };
    let latest = |svc: &ServiceSnapshot, family: &str, revision: i64| {
        history
            .iter()
            .filter(|s| s.cluster == svc.cluster && s.service == svc.service)
            .filter(|s| s.family.as_deref() == Some(family) && s.revision == Some(revision))
            .max_by_key(|s| s.captured_at)
    };
    let mut seen: Vec<(&Option<String>, &str)> = Vec::new();
    let mut changes = Vec::new();
    for svc in history {
        if seen.contains(&(&svc.cluster, svc.service.as_str())) {
            continue;
        }
        seen.push((&svc.cluster, svc.service.as_str()));
        let (Some(a), Some(b)) = (latest(svc, ff, fr), latest(svc, tf, tr)) else {
            continue;
        };
        for (setting, value) in SERVICE_SETTINGS {
            let (x, y) = (value(a), value(b));
            if x != y {
                changes.push(Change {
                    scope: format!("service {}", svc.service),
                    setting: (*setting).to_owned(),
                    from: x,
                    to: y,
                });
            }
        }
        let arns = |s: &ServiceSnapshot| -> Vec<String> {
            s.target_groups
                .as_deref()
                .unwrap_or_default()
                .split(',')
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect()
        };
        for arn in arns(a).iter().filter(|g| arns(b).contains(g)) {
            let (Some(x), Some(y)) = (
                group_at(groups, arn, a.captured_at),
                group_at(groups, arn, b.captured_at),
            ) else {
                continue;
            };
            let name = x.name.clone().unwrap_or_else(|| arn.clone());
            for (setting, value) in GROUP_SETTINGS {
                let (from, to) = (value(x), value(y));
                if from != to {
                    changes.push(Change {
                        scope: format!("target group {name}"),
                        setting: (*setting).to_owned(),
                        from,
                        to,
                    });
                }
            }
        }
    }
    changes
}

/// The changes as a Markdown table (or a sentence when there are none).
pub fn diff_markdown(from: &str, to: &str, changes: &[Change]) -> String {
    if changes.is_empty() {
        return format!("{from} and {to} are configured alike (as far as the lake records).\n");
    }
    let mut s = format!("| where | setting | {from} | {to} |\n|---|---|---|---|\n");
    let cell = |v: &Option<String>| v.clone().unwrap_or_else(|| "(unset)".into());
    for c in changes {
        s.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            c.scope,
            c.setting,
            cell(&c.from),
            cell(&c.to)
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_settings_are_compared_between_the_revisions_they_ran() {
        let snap = |revision: i64, at: i64, grace: Option<i64>, rollback: bool| ServiceSnapshot {
            cluster: Some("prod".into()),
            service: "api".into(),
            family: Some("api".into()),
            revision: Some(revision),
            captured_at: at,
            health_check_grace_period_seconds: grace,
            circuit_breaker_enable: Some(true),
            circuit_breaker_rollback: Some(rollback),
            ..Default::default()
        };
        // api:41 captured twice (the later one counts), api:42 once.
        let history = [
            snap(41, 1, Some(10), false),
            snap(41, 2, Some(30), true),
            snap(42, 3, None, true),
        ];
        let changes = service_diff(&history, &[], "api:41", "api:42");
        assert_eq!(
            changes,
            [Change {
                scope: "service api".into(),
                setting: "healthCheckGracePeriodSeconds".into(),
                from: Some("30".into()),
                to: None,
            }]
        );
        assert!(service_diff(&history, &[], "api:41", "api:43").is_empty());
    }
}
