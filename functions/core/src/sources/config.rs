//! The account's own configuration, as the ECS API answers and the AWS CLI
//! prints it: task definitions (`DescribeTaskDefinition`,
//! `aws ecs describe-task-definition`, `register-task-definition`,
//! `delete-task-definitions`) become `task_definitions` and
//! `container_definitions` rows; services (`describe-services`,
//! `update-service`) `services`; target groups (`aws elbv2
//! describe-target-groups`) `target_groups`; the deployment history
//! (`list-service-deployments`, `describe-service-deployments`,
//! `describe-service-revisions`) `service_deployments` and `service_revisions`.
//!
//! What a user holds is read as it is: one `{"taskDefinition": {...}}`
//! answer, a `{"taskDefinitions": [...]}` list, or a bare task definition;
//! `registeredAt` as the CLI v1 prints it (epoch seconds, a float) or as v2
//! does (ISO-8601 with an offset).
//!
//! Secrets are never stored: every environment value is replaced by
//! [`REDACTED`] in `raw` and is in no column; what the diagnosis needs from
//! the environment, the runtime heap settings, is parsed into numbers first
//! ([`Heap`]), and only the flags themselves are kept (`heap_settings`).
//! `secrets` keep their `valueFrom` ARN, which names a secret without
//! holding it.

use serde_json::{Map, Value};

use crate::input::RowError;
use crate::rows::Rows;
use crate::time::{self, Micros};

/// What an environment value becomes in `raw`.
pub const REDACTED: &str = "<redacted>";

/// Where a row says it came from.
pub const SOURCE_DESCRIBE: &str = "describe_task_definition";

/// True when a JSON document (already parsed) is one this module reads: a
/// task definition, or an answer holding task definitions.
pub fn is_config_document(doc: &Value) -> bool {
    let Some(o) = doc.as_object() else {
        return false;
    };
    o.contains_key("taskDefinition")
        || o.contains_key("taskDefinitions")
        || (o.contains_key("taskDefinitionArn") && o.contains_key("containerDefinitions"))
        || o.contains_key("services")
        || o.get("service")
            .is_some_and(|s| s.get("serviceArn").is_some())
        || o.contains_key("TargetGroups")
        || o.contains_key("serviceDeployments")
        // describe-target-group-attributes: `Key`/`Value` items (a task's
        // own `Attributes` are `Name`/`Value`).
        || o.get("Attributes")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .is_some_and(|a| a.get("Key").is_some())
        || o.contains_key("serviceRevisions")
}

/// Appends the task definitions, services or target groups of one document
/// (see [`is_config_document`]). A document whose items cannot all be read
/// is refused whole.
pub fn append(rows: &mut Rows, input: u32, doc: &Value) -> Result<(), RowError> {
    let o = doc.as_object();
    if let Some(list) = o.and_then(|o| o.get("TargetGroups")) {
        return append_list::<TargetGroupRow>(rows, input, list);
    }
    if o.is_some_and(|o| o.contains_key("Attributes")) {
        return append_attributes(rows, input, doc).map_err(of_kind("target group attributes"));
    }
    if let Some(list) = o.and_then(|o| o.get("serviceDeployments")) {
        return append_list::<ServiceDeploymentRow>(rows, input, list);
    }
    if let Some(list) = o.and_then(|o| o.get("serviceRevisions")) {
        return append_list::<ServiceRevisionRow>(rows, input, list);
    }
    if let Some(services) = o.and_then(|o| o.get("services")) {
        return append_list::<ServiceRow>(rows, input, services);
    }
    if let Some(service) = o.and_then(|o| o.get("service")) {
        return append_list::<ServiceRow>(rows, input, &Value::Array(vec![service.clone()]));
    }
    append_task_definitions(rows, input, doc)
}

/// One item of a configuration list (a service, a target group).
trait ListItem: Sized {
    /// What it is, in errors: `service`.
    const KIND: &'static str;
    /// The list's key in the document: `services`.
    const LIST: &'static str;
    /// Reads one item (`f` names its place, `services[2]`, for errors).
    fn read(f: &Fields<'_>, raw: &Value) -> Result<Self, RowError>;
    fn append(self, rows: &mut Rows, input: u32, captured_at: Micros);
}

/// Appends every item of `list`, or none when one cannot be read.
fn append_list<T: ListItem>(rows: &mut Rows, input: u32, list: &Value) -> Result<(), RowError> {
    let Value::Array(items) = list else {
        return Err(RowError::new(format!(
            "{}: {} is {}, not a list",
            T::KIND,
            T::LIST,
            kind(list)
        )));
    };
    if items.is_empty() {
        return Err(RowError::new(format!(
            "{}: the document lists no {}",
            T::KIND,
            T::KIND
        )));
    }
    let read = items
        .iter()
        .enumerate()
        .map(|(i, v)| T::read(&Fields::of(v, format!("{}[{i}]", T::LIST))?, v))
        .collect::<Result<Vec<_>, _>>()
        .map_err(of_kind(T::KIND))?;
    let captured_at = rows.ingested_at();
    for item in read {
        item.append(rows, input, captured_at);
    }
    Ok(())
}

struct ServiceRow {
    cluster: Option<String>,
    service: String,
    service_arn: String,
    status: Option<String>,
    launch_type: Option<String>,
    desired_count: Option<i64>,
    task_definition: Option<String>,
    grace_s: Option<i64>,
    circuit_breaker: (Option<bool>, Option<bool>),
    alarms: (Option<bool>, Option<bool>, Option<String>),
    maximum_percent: Option<i64>,
    minimum_healthy_percent: Option<i64>,
    target_groups: Option<String>,
    created_at: Option<Micros>,
    raw: String,
}

impl ListItem for ServiceRow {
    const KIND: &'static str = "service";
    const LIST: &'static str = "services";

    fn read(f: &Fields<'_>, v: &Value) -> Result<Self, RowError> {
        let service_arn = f.required_str("serviceArn")?;
        let service = match f.str("serviceName")? {
            Some(name) => name,
            None => crate::arn::service_name(service_arn)
                .ok_or_else(|| error(format!("{} has no serviceName", f.at)))?,
        };
        let config = f.object("deploymentConfiguration")?;
        let breaker = match &config {
            Some(c) => c.object("deploymentCircuitBreaker")?,
            None => None,
        };
        let alarms = match &config {
            Some(c) => c.object("alarms")?,
            None => None,
        };
        let alarm_names: Vec<String> = match &alarms {
            Some(a) => a
                .list("alarmNames")?
                .iter()
                .filter_map(|n| n.as_str().map(str::to_owned))
                .collect(),
            None => Vec::new(),
        };
        let mut target_groups = Vec::new();
        for lb in f.objects("loadBalancers")? {
            if let Some(arn) = lb.str("targetGroupArn")? {
                target_groups.push(arn.to_owned());
            }
        }
        let opt = |o: &Option<Fields<'_>>, key: &str| -> Result<Option<bool>, RowError> {
            o.as_ref()
                .map(|o| o.bool(key))
                .transpose()
                .map(Option::flatten)
        };
        let int_of = |o: &Option<Fields<'_>>, key: &str| -> Result<Option<i64>, RowError> {
            o.as_ref()
                .map(|o| o.int(key))
                .transpose()
                .map(Option::flatten)
        };
        Ok(Self {
            cluster: crate::arn::cluster_name(f.str("clusterArn")?, Some(service_arn))
                .map(str::to_owned),
            service: service.to_owned(),
            service_arn: service_arn.to_owned(),
            status: f.string("status")?,
            launch_type: f.string("launchType")?,
            desired_count: f.int("desiredCount")?,
            task_definition: f.string("taskDefinition")?,
            grace_s: f.int("healthCheckGracePeriodSeconds")?,
            circuit_breaker: (opt(&breaker, "enable")?, opt(&breaker, "rollback")?),
            alarms: (
                opt(&alarms, "enable")?,
                opt(&alarms, "rollback")?,
                joined(alarm_names),
            ),
            maximum_percent: int_of(&config, "maximumPercent")?,
            minimum_healthy_percent: int_of(&config, "minimumHealthyPercent")?,
            target_groups: joined(target_groups),
            created_at: f.time("createdAt")?,
            raw: v.to_string(),
        })
    }

    fn append(self, rows: &mut Rows, input: u32, captured_at: Micros) {
        let b = rows.service(input);
        b.captured_at.append_value(captured_at);
        b.cluster.append_option(self.cluster.as_deref());
        b.service.append_value(&self.service);
        b.service_arn.append_value(&self.service_arn);
        b.status.append_option(self.status.as_deref());
        b.launch_type.append_option(self.launch_type.as_deref());
        b.desired_count.append_option(self.desired_count);
        b.task_definition
            .append_option(self.task_definition.as_deref());
        b.health_check_grace_period_seconds
            .append_option(self.grace_s);
        b.circuit_breaker_enable
            .append_option(self.circuit_breaker.0);
        b.circuit_breaker_rollback
            .append_option(self.circuit_breaker.1);
        b.alarms_enable.append_option(self.alarms.0);
        b.alarms_rollback.append_option(self.alarms.1);
        b.alarm_names.append_option(self.alarms.2.as_deref());
        b.maximum_percent.append_option(self.maximum_percent);
        b.minimum_healthy_percent
            .append_option(self.minimum_healthy_percent);
        b.target_groups.append_option(self.target_groups.as_deref());
        b.created_at.append_option(self.created_at);
        b.raw.append_value(&self.raw);
    }
}

struct TargetGroupRow {
    arn: String,
    name: Option<String>,
    protocol: Option<String>,
    port: Option<i64>,
    target_type: Option<String>,
    hc_protocol: Option<String>,
    hc_port: Option<String>,
    hc_path: Option<String>,
    hc_interval: Option<i64>,
    hc_timeout: Option<i64>,
    healthy: Option<i64>,
    unhealthy: Option<i64>,
    matcher: Option<String>,
    raw: String,
}

impl ListItem for TargetGroupRow {
    const KIND: &'static str = "target group";
    const LIST: &'static str = "TargetGroups";

    fn read(f: &Fields<'_>, v: &Value) -> Result<Self, RowError> {
        let s = |key: &str| f.string(key);
        let matcher = match f.object("Matcher")? {
            Some(m) => m.str("HttpCode")?.or(m.str("GrpcCode")?).map(str::to_owned),
            None => None,
        };
        Ok(Self {
            arn: f.required_str("TargetGroupArn")?.to_owned(),
            name: s("TargetGroupName")?,
            protocol: s("Protocol")?,
            port: f.int("Port")?,
            target_type: s("TargetType")?,
            hc_protocol: s("HealthCheckProtocol")?,
            hc_port: s("HealthCheckPort")?,
            hc_path: s("HealthCheckPath")?,
            hc_interval: f.int("HealthCheckIntervalSeconds")?,
            hc_timeout: f.int("HealthCheckTimeoutSeconds")?,
            healthy: f.int("HealthyThresholdCount")?,
            unhealthy: f.int("UnhealthyThresholdCount")?,
            matcher,
            raw: v.to_string(),
        })
    }

    fn append(self, rows: &mut Rows, input: u32, captured_at: Micros) {
        let b = rows.target_group(input);
        b.captured_at.append_value(captured_at);
        b.target_group_arn.append_value(&self.arn);
        b.name.append_option(self.name.as_deref());
        b.protocol.append_option(self.protocol.as_deref());
        b.port.append_option(self.port);
        b.target_type.append_option(self.target_type.as_deref());
        b.health_check_protocol
            .append_option(self.hc_protocol.as_deref());
        b.health_check_port.append_option(self.hc_port.as_deref());
        b.health_check_path.append_option(self.hc_path.as_deref());
        b.health_check_interval.append_option(self.hc_interval);
        b.health_check_timeout.append_option(self.hc_timeout);
        b.healthy_threshold.append_option(self.healthy);
        b.unhealthy_threshold.append_option(self.unhealthy);
        b.matcher.append_option(self.matcher.as_deref());
        b.raw.append_value(&self.raw);
    }
}

/// `describe-target-group-attributes`' answer with the ARN it was asked for.
fn append_attributes(rows: &mut Rows, input: u32, doc: &Value) -> Result<(), RowError> {
    let f = Fields::of(doc, "document")?;
    let Some(arn) = f.str("TargetGroupArn")? else {
        return Err(error(
            "the answer does not name its target group: add the ARN it was asked for, \
             e.g. `aws elbv2 describe-target-group-attributes --target-group-arn $ARN | \
             jq --arg arn $ARN '. + {TargetGroupArn: $arn}' > attributes.json`"
                .into(),
        ));
    };
    if !arn.contains(":targetgroup/") {
        // e.g. describe-load-balancer-attributes with a load balancer's ARN.
        return Err(error(format!(
            "TargetGroupArn {arn:?} is not a target group's ARN (arn:aws:elasticloadbalancing:...:targetgroup/...)"
        )));
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    for a in f.objects("Attributes")? {
        let key = a.required_str("Key")?;
        // Values are strings in the answer ("300"); absent is an empty one.
        let value = a.str("Value")?.unwrap_or_default();
        pairs.push((key.to_owned(), value.to_owned()));
    }
    if pairs.is_empty() {
        return Err(error("the answer lists no attribute".into()));
    }
    let value = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let int = |key: &str| -> Result<Option<i64>, RowError> {
        value(key)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse()
                    .map_err(|_| error(format!("{key} is {v:?}, not a whole number")))
            })
            .transpose()
    };
    let flag = |key: &str| -> Result<Option<bool>, RowError> {
        value(key)
            .filter(|v| !v.is_empty())
            .map(|v| match v {
                "true" => Ok(true),
                "false" => Ok(false),
                other => Err(error(format!("{key} is {other:?}, not true or false"))),
            })
            .transpose()
    };
    let (delay, slow_start, sticky) = (
        int("deregistration_delay.timeout_seconds")?,
        int("slow_start.duration_seconds")?,
        flag("stickiness.enabled")?,
    );
    let all: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let captured_at = rows.ingested_at();
    let b = rows.target_group_attribute(input);
    b.captured_at.append_value(captured_at);
    b.target_group_arn.append_value(arn);
    b.deregistration_delay_s.append_option(delay);
    b.slow_start_s.append_option(slow_start);
    b.stickiness_enabled.append_option(sticky);
    b.load_balancing_algorithm
        .append_option(value("load_balancing.algorithm.type"));
    b.attributes.append_value(all.join(","));
    b.raw.append_value(doc.to_string());
    Ok(())
}

/// Where a service's resource sits: its cluster, service name and ARN.
struct ServiceOf {
    cluster: Option<String>,
    service: Option<String>,
    service_arn: Option<String>,
}

impl ServiceOf {
    fn read(f: &Fields<'_>) -> Result<Self, RowError> {
        let service_arn = f.str("serviceArn")?;
        Ok(Self {
            cluster: crate::arn::cluster_name(f.str("clusterArn")?, service_arn).map(str::to_owned),
            service: service_arn
                .and_then(crate::arn::service_name)
                .map(str::to_owned),
            service_arn: service_arn.map(str::to_owned),
        })
    }
}

/// The ARNs of a list of objects (`sourceServiceRevisions[].arn`), joined.
fn arns_of(f: &Fields<'_>, list: &str, key: &str) -> Result<Option<String>, RowError> {
    let mut arns = Vec::new();
    for item in f.objects(list)? {
        if let Some(arn) = item.str(key)? {
            arns.push(arn.to_owned());
        }
    }
    Ok(joined(arns))
}

/// The strings of a list (`alarmNames`), joined.
fn strings_of(f: &Fields<'_>, list: &str) -> Result<Option<String>, RowError> {
    let mut out = Vec::new();
    for (i, v) in f.list(list)?.iter().enumerate() {
        match v.as_str() {
            Some(s) => out.push(s.to_owned()),
            None => {
                return Err(error(format!(
                    "{}.{list}[{i}] is {}, not a string",
                    f.at,
                    kind(v)
                )));
            }
        }
    }
    Ok(joined(out))
}

/// An optional object's field.
fn field<'a, T>(
    o: &Option<Fields<'a>>,
    read: impl Fn(&Fields<'a>) -> Result<Option<T>, RowError>,
) -> Result<Option<T>, RowError> {
    o.as_ref().map(read).transpose().map(Option::flatten)
}

struct ServiceDeploymentRow {
    arn: String,
    of: ServiceOf,
    detailed: bool,
    status: Option<String>,
    status_reason: Option<String>,
    lifecycle_stage: Option<String>,
    times: [Option<Micros>; 5],
    target: Option<String>,
    sources: Option<String>,
    breaker_config: (Option<bool>, Option<bool>),
    breaker: (Option<String>, Option<i64>, Option<i64>),
    alarms: (Option<String>, Option<String>, Option<String>),
    rollback: (Option<String>, Option<Micros>, Option<String>),
    raw: String,
}

/// Fields only `DescribeServiceDeployments` gives (a brief has none).
const DETAILED_ONLY: &[&str] = &[
    "targetServiceRevision",
    "sourceServiceRevisions",
    "deploymentConfiguration",
    "deploymentCircuitBreaker",
    "alarms",
    "rollback",
    "lifecycleStage",
];

impl ListItem for ServiceDeploymentRow {
    const KIND: &'static str = "service deployment";
    const LIST: &'static str = "serviceDeployments";

    fn read(f: &Fields<'_>, v: &Value) -> Result<Self, RowError> {
        let s = |key: &str| f.string(key);
        let config = f.object("deploymentConfiguration")?;
        let breaker_config = match &config {
            Some(c) => c.object("deploymentCircuitBreaker")?,
            None => None,
        };
        let breaker = f.object("deploymentCircuitBreaker")?;
        let alarms = f.object("alarms")?;
        let rollback = f.object("rollback")?;
        let target = match f.object("targetServiceRevision")? {
            Some(t) => t.string("arn")?,
            None => s("targetServiceRevisionArn")?,
        };
        Ok(Self {
            arn: f.required_str("serviceDeploymentArn")?.to_owned(),
            of: ServiceOf::read(f)?,
            detailed: DETAILED_ONLY.iter().any(|k| f.get(k).is_some()),
            status: s("status")?,
            status_reason: s("statusReason")?,
            lifecycle_stage: s("lifecycleStage")?,
            times: [
                f.time("createdAt")?,
                f.time("startedAt")?,
                f.time("finishedAt")?,
                f.time("stoppedAt")?,
                f.time("updatedAt")?,
            ],
            target,
            sources: arns_of(f, "sourceServiceRevisions", "arn")?,
            breaker_config: (
                field(&breaker_config, |c| c.bool("enable"))?,
                field(&breaker_config, |c| c.bool("rollback"))?,
            ),
            breaker: (
                field(&breaker, |b| b.string("status"))?,
                field(&breaker, |b| b.int("failureCount"))?,
                field(&breaker, |b| b.int("threshold"))?,
            ),
            alarms: (
                field(&alarms, |a| a.string("status"))?,
                field(&alarms, |a| strings_of(a, "alarmNames"))?,
                field(&alarms, |a| strings_of(a, "triggeredAlarmNames"))?,
            ),
            rollback: (
                field(&rollback, |r| r.string("reason"))?,
                field(&rollback, |r| r.time("startedAt"))?,
                field(&rollback, |r| r.string("serviceRevisionArn"))?,
            ),
            raw: v.to_string(),
        })
    }

    fn append(self, rows: &mut Rows, input: u32, captured_at: Micros) {
        let b = rows.service_deployment(input);
        b.captured_at.append_value(captured_at);
        b.service_deployment_arn.append_value(&self.arn);
        b.cluster.append_option(self.of.cluster.as_deref());
        b.service.append_option(self.of.service.as_deref());
        b.service_arn.append_option(self.of.service_arn.as_deref());
        b.detailed.append_value(self.detailed);
        b.status.append_option(self.status.as_deref());
        b.status_reason.append_option(self.status_reason.as_deref());
        b.lifecycle_stage
            .append_option(self.lifecycle_stage.as_deref());
        let [created, started, finished, stopped, updated] = self.times;
        b.created_at.append_option(created);
        b.started_at.append_option(started);
        b.finished_at.append_option(finished);
        b.stopped_at.append_option(stopped);
        b.updated_at.append_option(updated);
        b.target_service_revision_arn
            .append_option(self.target.as_deref());
        b.source_service_revision_arns
            .append_option(self.sources.as_deref());
        b.circuit_breaker_enable
            .append_option(self.breaker_config.0);
        b.circuit_breaker_rollback
            .append_option(self.breaker_config.1);
        b.circuit_breaker_status
            .append_option(self.breaker.0.as_deref());
        b.circuit_breaker_failure_count
            .append_option(self.breaker.1);
        b.circuit_breaker_threshold.append_option(self.breaker.2);
        b.alarms_status.append_option(self.alarms.0.as_deref());
        b.alarm_names.append_option(self.alarms.1.as_deref());
        b.triggered_alarm_names
            .append_option(self.alarms.2.as_deref());
        b.rollback_reason.append_option(self.rollback.0.as_deref());
        b.rollback_started_at.append_option(self.rollback.1);
        b.rollback_service_revision_arn
            .append_option(self.rollback.2.as_deref());
        b.raw.append_value(&self.raw);
    }
}

struct ServiceRevisionRow {
    arn: String,
    of: ServiceOf,
    task_definition: Option<String>,
    launch_type: Option<String>,
    capacity_providers: Option<String>,
    platform_version: Option<String>,
    images: Option<String>,
    target_groups: Option<String>,
    created_at: Option<Micros>,
    raw: String,
}

impl ListItem for ServiceRevisionRow {
    const KIND: &'static str = "service revision";
    const LIST: &'static str = "serviceRevisions";

    fn read(f: &Fields<'_>, v: &Value) -> Result<Self, RowError> {
        let s = |key: &str| f.string(key);
        let mut images = Vec::new();
        for c in f.objects("containerImages")? {
            let name = c.str("containerName")?.unwrap_or("");
            let image = c.str("image")?.unwrap_or("");
            images.push(match c.str("imageDigest")? {
                Some(digest) => format!("{name}={image}@{digest}"),
                None => format!("{name}={image}"),
            });
        }
        Ok(Self {
            arn: f.required_str("serviceRevisionArn")?.to_owned(),
            of: ServiceOf::read(f)?,
            task_definition: s("taskDefinition")?,
            launch_type: s("launchType")?,
            capacity_providers: arns_of(f, "capacityProviderStrategy", "capacityProvider")?,
            platform_version: s("platformVersion")?,
            images: joined(images),
            target_groups: arns_of(f, "loadBalancers", "targetGroupArn")?,
            created_at: f.time("createdAt")?,
            raw: v.to_string(),
        })
    }

    fn append(self, rows: &mut Rows, input: u32, captured_at: Micros) {
        let (family, revision) = self
            .task_definition
            .as_deref()
            .and_then(crate::arn::task_definition)
            .unzip();
        let b = rows.service_revision(input);
        b.captured_at.append_value(captured_at);
        b.service_revision_arn.append_value(&self.arn);
        b.cluster.append_option(self.of.cluster.as_deref());
        b.service.append_option(self.of.service.as_deref());
        b.service_arn.append_option(self.of.service_arn.as_deref());
        b.task_definition
            .append_option(self.task_definition.as_deref());
        b.family.append_option(family);
        b.revision.append_option(revision.map(i64::from));
        b.launch_type.append_option(self.launch_type.as_deref());
        b.capacity_providers
            .append_option(self.capacity_providers.as_deref());
        b.platform_version
            .append_option(self.platform_version.as_deref());
        b.container_images.append_option(self.images.as_deref());
        b.target_groups.append_option(self.target_groups.as_deref());
        b.created_at.append_option(self.created_at);
        b.raw.append_value(&self.raw);
    }
}

/// `describe-task-definition` and its kin.
fn append_task_definitions(rows: &mut Rows, input: u32, doc: &Value) -> Result<(), RowError> {
    let read = read_task_definitions(doc).map_err(of_kind("task definition"))?;
    let captured_at = rows.ingested_at();
    for def in read {
        def.append(rows, input, captured_at);
    }
    Ok(())
}

fn read_task_definitions(doc: &Value) -> Result<Vec<TaskDefinition>, RowError> {
    let defs: Vec<&Value> = match doc {
        Value::Object(o) if o.contains_key("taskDefinition") => vec![&o["taskDefinition"]],
        Value::Object(o) if o.contains_key("taskDefinitions") => match &o["taskDefinitions"] {
            Value::Array(list) => list.iter().collect(),
            other => {
                return Err(error(format!(
                    "taskDefinitions is {}, not a list",
                    kind(other)
                )));
            }
        },
        other => vec![other],
    };
    if defs.is_empty() {
        return Err(error("the document lists no task definition".into()));
    }
    defs.into_iter().map(TaskDefinition::read).collect()
}

fn error(reason: String) -> RowError {
    RowError::new(reason)
}

/// The error of a document of `what` (task definition, service, target group).
fn of_kind(what: &str) -> impl Fn(RowError) -> RowError + '_ {
    move |e| RowError::new(format!("{what}: {}", e.reason))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Typed access to one JSON object's fields, with errors that name the field.
struct Fields<'a> {
    o: &'a Map<String, Value>,
    at: String,
}

impl<'a> Fields<'a> {
    fn of(v: &'a Value, at: impl Into<String>) -> Result<Self, RowError> {
        let at = at.into();
        match v.as_object() {
            Some(o) => Ok(Self { o, at }),
            None => Err(error(format!("{at} is {}, not an object", kind(v)))),
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.o.get(key).filter(|v| !v.is_null())
    }

    fn str(&self, key: &str) -> Result<Option<&'a str>, RowError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(error(format!(
                "{}.{key} is {}, not a string",
                self.at,
                kind(v)
            ))),
        }
    }

    /// [`Fields::str`], owned.
    fn string(&self, key: &str) -> Result<Option<String>, RowError> {
        Ok(self.str(key)?.map(str::to_owned))
    }

    fn required_str(&self, key: &str) -> Result<&'a str, RowError> {
        self.str(key)?
            .ok_or_else(|| error(format!("{} has no {key}", self.at)))
    }

    /// An integer, also as ECS writes some (task `cpu` and `memory` are
    /// strings: "1024").
    fn int(&self, key: &str) -> Result<Option<i64>, RowError> {
        let bad = |v: &Value| error(format!("{}.{key} is {v}, not a whole number", self.at));
        match self.get(key) {
            None => Ok(None),
            Some(v @ Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| bad(v)),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(v @ Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad(v)),
            Some(v) => Err(bad(v)),
        }
    }

    fn bool(&self, key: &str) -> Result<Option<bool>, RowError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(error(format!(
                "{}.{key} is {}, not a boolean",
                self.at,
                kind(v)
            ))),
        }
    }

    fn list(&self, key: &str) -> Result<&'a [Value], RowError> {
        match self.get(key) {
            None => Ok(&[]),
            Some(Value::Array(a)) => Ok(a),
            Some(v) => Err(error(format!(
                "{}.{key} is {}, not a list",
                self.at,
                kind(v)
            ))),
        }
    }

    /// The objects of a list, each with its place for errors (`key[i]`).
    fn objects(&self, key: &str) -> Result<Vec<Fields<'a>>, RowError> {
        self.list(key)?
            .iter()
            .enumerate()
            .map(|(i, v)| Fields::of(v, format!("{}.{key}[{i}]", self.at)))
            .collect()
    }

    fn object(&self, key: &str) -> Result<Option<Fields<'a>>, RowError> {
        self.get(key)
            .map(|v| Fields::of(v, format!("{}.{key}", self.at)))
            .transpose()
    }

    /// A time as the CLI v1 prints it (epoch seconds, maybe fractional) or as
    /// v2 and the API reference do (RFC 3339).
    fn time(&self, key: &str) -> Result<Option<Micros>, RowError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_f64()
                .filter(|s| s.abs() < 1.0e12)
                .map(|s| Some((s * 1_000_000.0).round() as Micros))
                .ok_or_else(|| error(format!("{}.{key} is {n}, not epoch seconds", self.at))),
            Some(Value::String(s)) => time::parse_time(s)
                .map(Some)
                .map_err(|e| error(format!("{}.{key}: {e}", self.at))),
            Some(v) => Err(error(format!(
                "{}.{key} is {}, not a time",
                self.at,
                kind(v)
            ))),
        }
    }
}

/// One task definition, read and redacted, ready to append.
struct TaskDefinition {
    arn: String,
    family: String,
    revision: i32,
    status: Option<String>,
    network_mode: Option<String>,
    requires_compatibilities: Option<String>,
    cpu: Option<i64>,
    memory: Option<i64>,
    task_role_arn: Option<String>,
    execution_role_arn: Option<String>,
    registered_at: Option<Micros>,
    registered_by: Option<String>,
    deregistered_at: Option<Micros>,
    containers: Vec<Container>,
    raw: String,
}

struct Container {
    name: String,
    image: Option<String>,
    essential: Option<bool>,
    cpu: Option<i64>,
    memory: Option<i64>,
    memory_reservation: Option<i64>,
    health_check: Option<HealthCheck>,
    stop_timeout: Option<i64>,
    start_timeout: Option<i64>,
    init_process_enabled: Option<bool>,
    restart_policy: Option<bool>,
    ulimits: Option<String>,
    log_driver: Option<String>,
    log_group: Option<String>,
    environment_names: Option<String>,
    secrets: Option<String>,
    heap: Heap,
}

struct HealthCheck {
    command: Option<String>,
    interval: Option<i64>,
    timeout: Option<i64>,
    retries: Option<i64>,
    start_period: Option<i64>,
}

fn joined(items: Vec<String>) -> Option<String> {
    (!items.is_empty()).then(|| items.join(","))
}

impl TaskDefinition {
    fn read(v: &Value) -> Result<Self, RowError> {
        let f = Fields::of(v, "taskDefinition")?;
        let arn = f.required_str("taskDefinitionArn")?;
        let (arn_family, arn_revision) = crate::arn::task_definition(arn).ok_or_else(|| {
            error(format!(
                "taskDefinitionArn {arn:?} is not a task definition ARN"
            ))
        })?;
        let family = f.str("family")?.unwrap_or(arn_family);
        let revision = match f.int("revision")? {
            Some(r) => {
                i32::try_from(r).map_err(|_| error(format!("revision {r} is out of range")))?
            }
            None => arn_revision,
        };
        let containers = f
            .list("containerDefinitions")?
            .iter()
            .enumerate()
            .map(|(i, c)| Container::read(c, i))
            .collect::<Result<Vec<_>, _>>()?;
        let compat: Vec<String> = f
            .list("requiresCompatibilities")?
            .iter()
            .filter_map(|c| c.as_str().map(str::to_owned))
            .collect();
        Ok(Self {
            arn: arn.to_owned(),
            family: family.to_owned(),
            revision,
            status: f.str("status")?.map(str::to_owned),
            network_mode: f.str("networkMode")?.map(str::to_owned),
            requires_compatibilities: joined(compat),
            cpu: f.int("cpu")?,
            memory: f.int("memory")?,
            task_role_arn: f.str("taskRoleArn")?.map(str::to_owned),
            execution_role_arn: f.str("executionRoleArn")?.map(str::to_owned),
            registered_at: f.time("registeredAt")?,
            registered_by: f.str("registeredBy")?.map(str::to_owned),
            deregistered_at: f.time("deregisteredAt")?,
            containers,
            raw: redacted(v).to_string(),
        })
    }

    fn append(self, rows: &mut Rows, input: u32, captured_at: Micros) {
        let t = rows.task_definition(input);
        t.captured_at.append_value(captured_at);
        t.source.append_value(SOURCE_DESCRIBE);
        t.task_definition_arn.append_value(&self.arn);
        t.family.append_value(&self.family);
        t.revision.append_value(self.revision);
        t.status.append_option(self.status.as_deref());
        t.network_mode.append_option(self.network_mode.as_deref());
        t.requires_compatibilities
            .append_option(self.requires_compatibilities.as_deref());
        t.cpu.append_option(self.cpu);
        t.memory.append_option(self.memory);
        t.task_role_arn.append_option(self.task_role_arn.as_deref());
        t.execution_role_arn
            .append_option(self.execution_role_arn.as_deref());
        t.registered_at.append_option(self.registered_at);
        t.registered_by.append_option(self.registered_by.as_deref());
        t.deregistered_at.append_option(self.deregistered_at);
        t.containers
            .append_value(i32::try_from(self.containers.len()).unwrap_or(i32::MAX));
        t.raw.append_value(&self.raw);
        for c in self.containers {
            let b = rows.container_definition(input);
            b.captured_at.append_value(captured_at);
            b.task_definition_arn.append_value(&self.arn);
            b.family.append_value(&self.family);
            b.revision.append_value(self.revision);
            b.container_name.append_value(&c.name);
            b.image.append_option(c.image.as_deref());
            b.essential.append_option(c.essential);
            b.cpu.append_option(c.cpu);
            b.memory.append_option(c.memory);
            b.memory_reservation.append_option(c.memory_reservation);
            let hc = c.health_check.as_ref();
            b.health_check_command
                .append_option(hc.and_then(|h| h.command.as_deref()));
            b.health_check_interval
                .append_option(hc.and_then(|h| h.interval));
            b.health_check_timeout
                .append_option(hc.and_then(|h| h.timeout));
            b.health_check_retries
                .append_option(hc.and_then(|h| h.retries));
            b.health_check_start_period
                .append_option(hc.and_then(|h| h.start_period));
            b.stop_timeout.append_option(c.stop_timeout);
            b.start_timeout.append_option(c.start_timeout);
            b.init_process_enabled.append_option(c.init_process_enabled);
            b.restart_policy.append_option(c.restart_policy);
            b.ulimits.append_option(c.ulimits.as_deref());
            b.log_driver.append_option(c.log_driver.as_deref());
            b.log_group.append_option(c.log_group.as_deref());
            b.environment_names
                .append_option(c.environment_names.as_deref());
            b.secrets.append_option(c.secrets.as_deref());
            b.heap_settings.append_option(c.heap.settings());
            b.node_max_old_space_mib
                .append_option(c.heap.node_max_old_space_mib);
            b.java_xmx_mib.append_option(c.heap.java_xmx_mib);
            b.java_max_ram_percentage
                .append_option(c.heap.java_max_ram_percentage);
            b.go_memlimit_mib.append_option(c.heap.go_memlimit_mib);
        }
    }
}

impl Container {
    fn read(v: &Value, i: usize) -> Result<Self, RowError> {
        let f = Fields::of(v, format!("containerDefinitions[{i}]"))?;
        let name = f.required_str("name")?.to_owned();
        let health_check = f
            .object("healthCheck")?
            .map(|h| -> Result<HealthCheck, RowError> {
                let command: Vec<&str> = h
                    .list("command")?
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                Ok(HealthCheck {
                    command: (!command.is_empty()).then(|| command.join(" ")),
                    interval: h.int("interval")?,
                    timeout: h.int("timeout")?,
                    retries: h.int("retries")?,
                    start_period: h.int("startPeriod")?,
                })
            })
            .transpose()?;
        let mut ulimits = Vec::new();
        for u in f.objects("ulimits")? {
            ulimits.push(format!(
                "{}={}:{}",
                u.required_str("name")?,
                u.int("softLimit")?.map_or("?".into(), |n| n.to_string()),
                u.int("hardLimit")?.map_or("?".into(), |n| n.to_string()),
            ));
        }
        let log = f.object("logConfiguration")?;
        let log_group = match &log {
            Some(l) => l
                .object("options")?
                .map(|o| o.str("awslogs-group"))
                .transpose()?
                .flatten(),
            None => None,
        };
        let mut names = Vec::new();
        let mut heap = Heap::default();
        for e in f.objects("environment")? {
            let name = e.required_str("name")?;
            if let Some(value) = e.str("value")? {
                heap.read(name, value);
            }
            names.push(name.to_owned());
        }
        let mut secrets = Vec::new();
        for s in f.objects("secrets")? {
            secrets.push(format!(
                "{}={}",
                s.required_str("name")?,
                s.str("valueFrom")?.unwrap_or("")
            ));
        }
        Ok(Self {
            name,
            image: f.str("image")?.map(str::to_owned),
            essential: f.bool("essential")?,
            cpu: f.int("cpu")?,
            memory: f.int("memory")?,
            memory_reservation: f.int("memoryReservation")?,
            health_check,
            stop_timeout: f.int("stopTimeout")?,
            start_timeout: f.int("startTimeout")?,
            init_process_enabled: f
                .object("linuxParameters")?
                .map(|l| l.bool("initProcessEnabled"))
                .transpose()?
                .flatten(),
            restart_policy: f
                .object("restartPolicy")?
                .map(|r| r.bool("enabled"))
                .transpose()?
                .flatten(),
            ulimits: joined(ulimits),
            log_driver: log
                .as_ref()
                .map(|l| l.str("logDriver"))
                .transpose()?
                .flatten()
                .map(str::to_owned),
            log_group: log_group.map(str::to_owned),
            environment_names: joined(names),
            secrets: joined(secrets),
            heap,
        })
    }
}

/// A copy of a task definition with every environment value replaced by
/// [`REDACTED`] (names kept).
fn redacted(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(containers) = v
        .get_mut("containerDefinitions")
        .and_then(Value::as_array_mut)
    {
        for c in containers {
            if let Some(env) = c.get_mut("environment").and_then(Value::as_array_mut) {
                for e in env {
                    if let Some(value) = e.get_mut("value") {
                        *value = Value::String(REDACTED.to_owned());
                    }
                }
            }
        }
    }
    v
}

/// The runtime heap settings a container's environment carries, parsed.
/// The last occurrence of a flag wins, as in the runtimes.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Heap {
    /// `--max-old-space-size` in `NODE_OPTIONS`, MiB.
    pub node_max_old_space_mib: Option<i64>,
    /// `-Xmx` in `JAVA_TOOL_OPTIONS`, `JDK_JAVA_OPTIONS` or `JAVA_OPTS`, MiB.
    pub java_xmx_mib: Option<i64>,
    /// `-XX:MaxRAMPercentage` in the same variables, %.
    pub java_max_ram_percentage: Option<f64>,
    /// `GOMEMLIMIT`, MiB.
    pub go_memlimit_mib: Option<i64>,
    /// The flags as found, `NAME=flag`, and nothing else of the values.
    flags: Vec<String>,
}

const MIB: f64 = 1024.0 * 1024.0;

impl Heap {
    /// Reads one environment variable.
    pub fn read(&mut self, name: &str, value: &str) {
        match name {
            "NODE_OPTIONS" => {
                for token in value.split_whitespace() {
                    let Some((flag, n)) = token.split_once('=') else {
                        continue;
                    };
                    if matches!(flag, "--max-old-space-size" | "--max_old_space_size")
                        && let Ok(n) = n.parse::<f64>()
                    {
                        self.node_max_old_space_mib = Some(n as i64);
                        self.flags.push(format!("{name}={token}"));
                    }
                }
            }
            "JAVA_TOOL_OPTIONS" | "JDK_JAVA_OPTIONS" | "JAVA_OPTS" => {
                for token in value.split_whitespace() {
                    if let Some(size) = token.strip_prefix("-Xmx")
                        && let Some(bytes) = java_size(size)
                    {
                        self.java_xmx_mib = Some((bytes / MIB) as i64);
                        self.flags.push(format!("{name}={token}"));
                    } else if let Some(p) = token.strip_prefix("-XX:MaxRAMPercentage=")
                        && let Ok(p) = p.parse::<f64>()
                    {
                        self.java_max_ram_percentage = Some(p);
                        self.flags.push(format!("{name}={token}"));
                    }
                }
            }
            "GOMEMLIMIT" => {
                if let Some(bytes) = go_size(value.trim()) {
                    self.go_memlimit_mib = Some((bytes / MIB) as i64);
                    self.flags.push(format!("{name}={}", value.trim()));
                }
            }
            _ => {}
        }
    }

    /// The flags found, space-separated; `None` when there were none.
    pub fn settings(&self) -> Option<String> {
        (!self.flags.is_empty()).then(|| self.flags.join(" "))
    }
}

/// A JVM size (`-Xmx512m`, `2g`, `1048576`, `4096k`) in bytes.
fn java_size(s: &str) -> Option<f64> {
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: f64 = digits.parse().ok()?;
    let scale = match unit {
        "" => 1.0,
        "k" | "K" => 1024.0,
        "m" | "M" => MIB,
        "g" | "G" => MIB * 1024.0,
        "t" | "T" => MIB * MIB,
        _ => return None,
    };
    Some(n * scale)
}

/// A Go memory limit (`GOMEMLIMIT=1536MiB`, `2GiB`, `1073741824`, `off`) in bytes.
fn go_size(s: &str) -> Option<f64> {
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: f64 = digits.parse().ok()?;
    let scale = match unit {
        "" | "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => MIB,
        "GiB" => MIB * 1024.0,
        "TiB" => MIB * MIB,
        _ => return None,
    };
    Some(n * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heap(vars: &[(&str, &str)]) -> Heap {
        let mut h = Heap::default();
        for (n, v) in vars {
            h.read(n, v);
        }
        h
    }

    fn refused(doc: serde_json::Value) -> String {
        let mut rows = Rows::new(0);
        match append(&mut rows, 0, &doc) {
            Ok(()) => panic!("accepted: {doc}"),
            Err(e) => e.reason,
        }
    }

    #[test]
    fn bad_documents_are_refused_with_the_field_that_is_wrong() {
        let arn = "arn:aws:ecs:eu-west-1:111122223333:task-definition/api:17";
        let container = |c: serde_json::Value| serde_json::json!({"taskDefinition": {"taskDefinitionArn": arn, "containerDefinitions": [c]}});
        assert_eq!(
            refused(container(
                serde_json::json!({"name": "app", "memory": "lots"})
            )),
            "task definition: containerDefinitions[0].memory is \"lots\", not a whole number"
        );
        assert_eq!(
            refused(container(
                serde_json::json!({"name": "app", "environment": [{"value": "x"}]})
            )),
            "task definition: containerDefinitions[0].environment[0] has no name"
        );
        assert_eq!(
            refused(container(serde_json::json!({"image": "nginx"}))),
            "task definition: containerDefinitions[0] has no name"
        );
        assert_eq!(
            refused(serde_json::json!({"taskDefinition": {"family": "api"}})),
            "task definition: taskDefinition has no taskDefinitionArn"
        );
        assert_eq!(
            refused(serde_json::json!({"taskDefinitions": {"a": 1}})),
            "task definition: taskDefinitions is an object, not a list"
        );
        assert_eq!(
            refused(serde_json::json!({"taskDefinitions": []})),
            "task definition: the document lists no task definition"
        );
        assert_eq!(
            refused(serde_json::json!({"services": {"a": 1}})),
            "service: services is an object, not a list"
        );
        assert_eq!(
            refused(serde_json::json!({"services": [{"serviceName": "api"}]})),
            "service: services[0] has no serviceArn"
        );
        assert_eq!(
            refused(serde_json::json!({"TargetGroups": []})),
            "target group: the document lists no target group"
        );
        assert_eq!(
            refused(
                serde_json::json!({"TargetGroups": [{"TargetGroupArn": "arn:x", "Port": "eighty"}]})
            ),
            "target group: TargetGroups[0].Port is \"eighty\", not a whole number"
        );
        // Numbers as strings (as ECS writes task cpu and memory) and unknown
        // fields are fine.
        let mut rows = Rows::new(0);
        let doc = serde_json::json!({"taskDefinition": {"taskDefinitionArn": arn, "cpu": "512",
            "newField": {"x": 1}, "containerDefinitions": [{"name": "app", "memory": "1024"}]}});
        assert!(append(&mut rows, 0, &doc).is_ok());
    }

    #[test]
    fn heap_flags_are_read_from_each_runtime_and_the_last_wins() {
        let h = heap(&[(
            "NODE_OPTIONS",
            "--enable-source-maps --max-old-space-size=1024 --max_old_space_size=1536",
        )]);
        assert_eq!(h.node_max_old_space_mib, Some(1536));
        assert_eq!(
            h.settings().as_deref(),
            Some("NODE_OPTIONS=--max-old-space-size=1024 NODE_OPTIONS=--max_old_space_size=1536")
        );
        let h = heap(&[
            (
                "JAVA_TOOL_OPTIONS",
                "-Dfoo=secret -Xmx2g -XX:MaxRAMPercentage=75.0",
            ),
            ("JAVA_OPTS", "-Xmx768m"),
        ]);
        assert_eq!(h.java_xmx_mib, Some(768));
        assert_eq!(h.java_max_ram_percentage, Some(75.0));
        assert!(!h.settings().unwrap_or_default().contains("secret"));
        assert_eq!(
            heap(&[("JAVA_OPTS", "-Xmx4194304k")]).java_xmx_mib,
            Some(4096)
        );
        assert_eq!(
            heap(&[("GOMEMLIMIT", "1536MiB")]).go_memlimit_mib,
            Some(1536)
        );
        assert_eq!(heap(&[("GOMEMLIMIT", "2GiB")]).go_memlimit_mib, Some(2048));
        assert_eq!(heap(&[("GOMEMLIMIT", "off")]), Heap::default());
        assert_eq!(heap(&[("JAVA_OPTS", "-Xmx12q")]).java_xmx_mib, None);
        assert_eq!(
            heap(&[("API_KEY", "--max-old-space-size=9")]),
            Heap::default()
        );
    }
}
