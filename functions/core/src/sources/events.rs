//! ECS events from EventBridge: typed models and normalization into
//! `task_events`, `container_events`, `service_events`, `instance_events`
//! and `health` rows. Entry point: [`append`].
//!
//! `aws_lambda_events` has no ECS detail types, so they are declared here, as
//! borrowed, lenient serde models: unknown fields are ignored (they stay in the
//! `raw` column), numbers may arrive as strings, `"null"` means absent. Each
//! event is fully parsed and validated before any row is appended, so a bad
//! event never leaves half a row behind: it is quarantined with the reason.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::health;
use crate::arn::{self, Arn};
use crate::classify::{self, ContainerFacts, StopFacts};
use crate::input::{RowError, truncate};
use crate::lenient;
use crate::redact::redact_overrides;
use crate::rows::{HealthSample, Rows};
use crate::time::{self, Micros};

/// Events larger than this are quarantined unread. EventBridge caps events at
/// 256 KiB and SQS messages at 1 MiB, so a larger one is not a real ECS event.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

pub const TASK_STATE_CHANGE: &str = "ECS Task State Change";
pub const DEPLOYMENT_STATE_CHANGE: &str = "ECS Deployment State Change";
pub const SERVICE_ACTION: &str = "ECS Service Action";
pub const CONTAINER_INSTANCE_STATE_CHANGE: &str = "ECS Container Instance State Change";
/// ECS API calls recorded by CloudTrail, delivered by EventBridge: the
/// agent's state reports are read as task state changes (see
/// [`super::cloudtrail`]), other calls kept in `other_events`.
pub const CLOUDTRAIL_API_CALL: &str = "AWS API Call via CloudTrail";

/// The reason [`append`] gives for an agent's state report recorded by
/// CloudTrail: not refused, but left to `cloudtrail::append_event`, which
/// reads it (this module does not import that one: it imports this).
pub const AGENT_REPORT: &str =
    "an ECS agent state report recorded by CloudTrail: read by the cloudtrail source";

/// Whether a CloudTrail record (an event's detail) is one of the agent's
/// `SubmitTaskStateChange` / `SubmitContainerStateChange` calls.
fn is_agent_report(detail: &str) -> bool {
    #[derive(Deserialize)]
    struct Call<'a> {
        #[serde(rename = "eventSource", borrow, default)]
        source: Str<'a>,
        #[serde(rename = "eventName", borrow, default)]
        name: Str<'a>,
    }
    serde_json::from_str::<Call<'_>>(detail).is_ok_and(|c| {
        s(&c.source) == Some("ecs.amazonaws.com")
            && matches!(
                s(&c.name),
                Some("SubmitTaskStateChange" | "SubmitContainerStateChange")
            )
    })
}

use crate::lenient::Str;

/// Reads an optional string field, treating `""` and `"null"` as absent.
fn s<'b>(v: &'b Str<'_>) -> Option<&'b str> {
    v.as_deref().filter(|s| !s.is_empty() && *s != "null")
}

/// The EventBridge envelope.
///
/// Parsed in one pass: when `detail-type` comes before `detail` (as EventBridge
/// sends it) and names a task state change — the bulk of the traffic — the
/// detail is parsed straight into its typed model. Otherwise it is kept as raw
/// JSON and parsed once the detail-type is known.
pub struct Envelope<'a> {
    pub id: Cow<'a, str>,
    pub detail_type: Cow<'a, str>,
    pub source: Str<'a>,
    pub account: Str<'a>,
    pub time: Cow<'a, str>,
    pub region: Str<'a>,
    pub resources: Vec<Cow<'a, str>>,
    detail: Detail<'a>,
}

enum Detail<'a> {
    Task(Box<TaskDetail<'a>>),
    Raw(&'a RawValue),
}

/// Prefix of the error raised when a task detail fails to parse in the envelope pass.
const TASK_DETAIL_ERROR: &str = "detail of a task state change: ";

impl<'de: 'a, 'a> Deserialize<'de> for Envelope<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{Error, IgnoredAny, MapAccess, Visitor};

        #[derive(Deserialize)]
        #[serde(field_identifier)]
        enum Key {
            #[serde(rename = "id")]
            Id,
            #[serde(rename = "detail-type")]
            DetailType,
            #[serde(rename = "source")]
            Source,
            #[serde(rename = "account")]
            Account,
            #[serde(rename = "time")]
            Time,
            #[serde(rename = "region")]
            Region,
            #[serde(rename = "resources")]
            Resources,
            #[serde(rename = "detail")]
            Detail,
            #[serde(other)]
            Other,
        }
        /// Borrowing wrappers: serde borrows `Cow<str>` only through `#[serde(borrow)]`.
        #[derive(Deserialize)]
        struct S<'a>(#[serde(borrow)] Cow<'a, str>);
        #[derive(Deserialize)]
        struct L<'a>(#[serde(borrow)] Vec<Cow<'a, str>>);

        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Envelope<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an EventBridge event object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Envelope<'a>, M::Error> {
                let (mut id, mut detail_type, mut time, mut detail) = (None, None, None, None);
                let (mut source, mut account, mut region, mut resources) =
                    (None, None, None, Vec::new());
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Id => id = Some(map.next_value::<S<'a>>()?.0),
                        Key::DetailType => detail_type = Some(map.next_value::<S<'a>>()?.0),
                        Key::Source => source = map.next_value::<Str<'a>>()?.0,
                        Key::Account => account = map.next_value::<Str<'a>>()?.0,
                        Key::Time => time = Some(map.next_value::<S<'a>>()?.0),
                        Key::Region => region = map.next_value::<Str<'a>>()?.0,
                        Key::Resources => {
                            resources = map
                                .next_value::<Option<L<'a>>>()?
                                .map_or_else(Vec::new, |l| l.0)
                        }
                        Key::Detail if detail_type.as_deref() == Some(TASK_STATE_CHANGE) => {
                            let task = map
                                .next_value::<TaskDetail<'a>>()
                                .map_err(|e| M::Error::custom(format!("{TASK_DETAIL_ERROR}{e}")))?;
                            detail = Some(Detail::Task(Box::new(task)));
                        }
                        Key::Detail => detail = Some(Detail::Raw(map.next_value()?)),
                        Key::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Envelope {
                    id: id.ok_or_else(|| M::Error::missing_field("id"))?,
                    detail_type: detail_type
                        .ok_or_else(|| M::Error::missing_field("detail-type"))?,
                    time: time.ok_or_else(|| M::Error::missing_field("time"))?,
                    detail: detail.ok_or_else(|| M::Error::missing_field("detail"))?,
                    source: Str(source),
                    account: Str(account),
                    region: Str(region),
                    resources,
                })
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

impl Envelope<'_> {
    /// The detail as raw JSON, when it was not parsed in the envelope pass.
    fn raw_detail(&self) -> Result<&str, RowError> {
        match &self.detail {
            Detail::Raw(r) => Ok(r.get()),
            Detail::Task(_) => Err(RowError::new(
                "detail-type changed after the detail (duplicate detail-type keys)",
            )),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaskDetail<'a> {
    #[serde(borrow)]
    task_arn: Cow<'a, str>,
    #[serde(borrow, default)]
    cluster_arn: Str<'a>,
    #[serde(borrow, default)]
    group: Str<'a>,
    #[serde(borrow, default)]
    started_by: Str<'a>,
    #[serde(borrow, default)]
    task_definition_arn: Str<'a>,
    #[serde(borrow, default)]
    last_status: Str<'a>,
    #[serde(borrow, default)]
    desired_status: Str<'a>,
    #[serde(borrow, default)]
    health_status: Str<'a>,
    #[serde(borrow, default)]
    stop_code: Str<'a>,
    #[serde(borrow, default)]
    stopped_reason: Str<'a>,
    #[serde(borrow, default)]
    launch_type: Str<'a>,
    #[serde(borrow, default)]
    availability_zone: Str<'a>,
    #[serde(borrow, default)]
    capacity_provider_name: Str<'a>,
    #[serde(borrow, default)]
    platform_version: Str<'a>,
    #[serde(borrow, default)]
    container_instance_arn: Str<'a>,
    #[serde(borrow, default)]
    created_at: Str<'a>,
    #[serde(borrow, default)]
    connectivity_at: Str<'a>,
    #[serde(borrow, default)]
    pull_started_at: Str<'a>,
    #[serde(borrow, default)]
    pull_stopped_at: Str<'a>,
    #[serde(borrow, default)]
    started_at: Str<'a>,
    #[serde(borrow, default)]
    stopping_at: Str<'a>,
    #[serde(borrow, default)]
    execution_stopped_at: Str<'a>,
    #[serde(borrow, default)]
    stopped_at: Str<'a>,
    #[serde(borrow, default)]
    updated_at: Str<'a>,
    #[serde(default, deserialize_with = "lenient::int")]
    cpu: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    memory: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    version: Option<i64>,
    #[serde(borrow, default)]
    containers: Vec<ContainerDetail<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerDetail<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow, default)]
    container_arn: Str<'a>,
    #[serde(borrow, default)]
    image: Str<'a>,
    #[serde(borrow, default)]
    image_digest: Str<'a>,
    #[serde(borrow, default)]
    runtime_id: Str<'a>,
    #[serde(borrow, default)]
    last_status: Str<'a>,
    #[serde(borrow, default)]
    reason: Str<'a>,
    #[serde(borrow, default)]
    health_status: Str<'a>,
    #[serde(default, deserialize_with = "lenient::int")]
    exit_code: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    cpu: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    memory: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    memory_reservation: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServiceDetail<'a> {
    #[serde(borrow, default)]
    event_type: Str<'a>,
    #[serde(borrow, default)]
    event_name: Str<'a>,
    #[serde(borrow, default)]
    cluster_arn: Str<'a>,
    #[serde(borrow, default)]
    deployment_id: Str<'a>,
    #[serde(borrow, default)]
    reason: Str<'a>,
    #[serde(borrow, default)]
    created_at: Str<'a>,
    #[serde(borrow, default)]
    updated_at: Str<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InstanceDetail<'a> {
    #[serde(borrow, default)]
    cluster_arn: Str<'a>,
    #[serde(borrow, default)]
    container_instance_arn: Str<'a>,
    #[serde(borrow, default)]
    ec2_instance_id: Str<'a>,
    #[serde(borrow, default)]
    status: Str<'a>,
    #[serde(borrow, default)]
    status_reason: Str<'a>,
    #[serde(default)]
    agent_connected: Option<bool>,
    #[serde(borrow, default)]
    agent_update_status: Str<'a>,
    #[serde(borrow, default)]
    registered_resources: Vec<Resource<'a>>,
    #[serde(borrow, default)]
    remaining_resources: Vec<Resource<'a>>,
    #[serde(default, deserialize_with = "lenient::int")]
    version: Option<i64>,
    #[serde(borrow, default)]
    version_info: Option<VersionInfo<'a>>,
    #[serde(borrow, default)]
    updated_at: Str<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Resource<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(default, deserialize_with = "lenient::int")]
    integer_value: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VersionInfo<'a> {
    #[serde(borrow, default)]
    agent_version: Str<'a>,
    #[serde(borrow, default)]
    docker_version: Str<'a>,
}

fn resource(list: &[Resource<'_>], name: &str) -> Option<i64> {
    list.iter()
        .find(|r| r.name == name)
        .and_then(|r| r.integer_value)
}

fn to_i32(field: &str, v: Option<i64>) -> Result<Option<i32>, RowError> {
    v.map(|v| i32::try_from(v).map_err(|_| RowError::new(format!("{field}: {v} is out of range"))))
        .transpose()
}

fn time(field: &str, v: &Str<'_>) -> Result<Option<Micros>, RowError> {
    time::parse_opt_time(s(v)).map_err(|e| RowError::new(format!("{field}: {e}")))
}

/// The deployment a task belongs to: `startedBy` when a service deployment started it.
pub fn deployment_of(started_by: Option<&str>) -> Option<&str> {
    started_by.filter(|s| s.starts_with("ecs-svc/"))
}

/// The service a task belongs to, from its group (`service:<name>`).
pub fn service_of(group: Option<&str>) -> Option<&str> {
    group.and_then(|g| g.strip_prefix("service:"))
}

/// Context shared by every row of one event.
struct EventCtx<'e> {
    pub env: &'e Envelope<'e>,
    pub event_time: Micros,
    pub raw: &'e str,
}

/// Normalizes one EventBridge event's bytes into rows of `input`, or says
/// why it cannot (then nothing was appended, and the caller quarantines it).
pub fn append(rows: &mut Rows, input: u32, raw: &[u8]) -> Result<(), RowError> {
    if raw.len() > MAX_EVENT_BYTES {
        return Err(RowError::new(format!(
            "event is {} bytes, over the {MAX_EVENT_BYTES}-byte limit for one event (EventBridge allows 256 KiB)",
            raw.len()
        )));
    }
    let raw = std::str::from_utf8(raw)
        .map_err(|e| RowError::new(format!("event is not UTF-8 text: {e}")))?;
    let env: Envelope<'_> = serde_json::from_str(raw).map_err(|e| {
        let e = e.to_string();
        // A task detail that fails in the envelope pass is only to blame if
        // the document as a whole is valid JSON (not truncated, say).
        let whole = serde_json::from_str::<serde::de::IgnoredAny>(raw);
        match (e.strip_prefix(TASK_DETAIL_ERROR), whole) {
            (Some(_), Ok(_)) => RowError::new(e).with_detail_type(TASK_STATE_CHANGE),
            (_, Err(syntax)) => RowError::new(format!("not an EventBridge event: {syntax}")),
            (None, Ok(_)) => RowError::new(format!("not an EventBridge event: {e}")),
        }
    })?;
    let event_time = time::parse_time(&env.time)
        .map_err(|e| RowError::new(format!("time: {e}")).with_detail_type(&env.detail_type))?;
    if let Some(src) = s(&env.source)
        && src != "aws.ecs"
    {
        return Err(RowError::new(format!("source is {src:?}, not aws.ecs"))
            .with_detail_type(&env.detail_type));
    }
    let ctx = EventCtx {
        env: &env,
        event_time,
        raw,
    };
    let result = match env.detail_type.as_ref() {
        TASK_STATE_CHANGE => match &env.detail {
            Detail::Task(d) => task_event(rows, input, &ctx, d),
            Detail::Raw(r) => serde_json::from_str::<TaskDetail<'_>>(r.get())
                .map_err(|e| RowError::new(format!("{TASK_DETAIL_ERROR}{e}")))
                .and_then(|d| task_event(rows, input, &ctx, &d)),
        },
        DEPLOYMENT_STATE_CHANGE | SERVICE_ACTION => service_event(rows, input, &ctx),
        CONTAINER_INSTANCE_STATE_CHANGE => instance_event(rows, input, &ctx),
        // The agent's own reports are the cloudtrail source's to read
        // (`cloudtrail::append_event`); other API calls are kept as received.
        CLOUDTRAIL_API_CALL if is_agent_report(env.raw_detail()?) => {
            Err(RowError::new(AGENT_REPORT))
        }
        CLOUDTRAIL_API_CALL => other_event(rows, input, &ctx),
        _ if s(&env.source) == Some("aws.ecs") => other_event(rows, input, &ctx),
        other => Err(RowError::new(format!(
            "unknown detail-type {other:?} without source aws.ecs: not an ECS event"
        ))),
    };
    result.map_err(|e| e.with_detail_type(&env.detail_type))
}

fn task_event(
    rows: &mut Rows,
    input: u32,
    ctx: &EventCtx<'_>,
    d: &TaskDetail<'_>,
) -> Result<(), RowError> {
    let task_arn = d.task_arn.as_ref();
    let task_id = Arn::parse(task_arn).map(|a| a.id()).ok_or_else(|| {
        RowError::new(format!(
            "taskArn {:?} is not an ARN",
            truncate(task_arn, 80)
        ))
    })?;
    let cluster = arn::cluster_name(s(&d.cluster_arn), Some(task_arn));
    let (family, revision) = s(&d.task_definition_arn)
        .and_then(arn::task_definition)
        .unzip();
    let group = s(&d.group);
    let service = service_of(group);
    let started_by = s(&d.started_by);
    let deployment_id = deployment_of(started_by);
    let cpu = to_i32("cpu", d.cpu)?;
    let memory = to_i32("memory", d.memory)?;
    let times = [
        time("createdAt", &d.created_at)?,
        time("connectivityAt", &d.connectivity_at)?,
        time("pullStartedAt", &d.pull_started_at)?,
        time("pullStoppedAt", &d.pull_stopped_at)?,
        time("startedAt", &d.started_at)?,
        time("stoppingAt", &d.stopping_at)?,
        time("executionStoppedAt", &d.execution_stopped_at)?,
        time("stoppedAt", &d.stopped_at)?,
        time("updatedAt", &d.updated_at)?,
    ];
    let [
        created_at,
        connectivity_at,
        pull_started_at,
        pull_stopped_at,
        started_at,
        stopping_at,
        execution_stopped_at,
        stopped_at,
        updated_at,
    ] = times;
    let mut containers = Vec::with_capacity(d.containers.len());
    for c in &d.containers {
        containers.push((
            to_i32("containers.exitCode", c.exit_code)?,
            to_i32("containers.cpu", c.cpu)?,
            to_i32("containers.memory", c.memory)?,
            to_i32("containers.memoryReservation", c.memory_reservation)?,
        ));
    }

    // Classification: only for a stopped task (ECS's own word for it).
    let stopped = s(&d.last_status) == Some("STOPPED");
    let facts: Vec<ContainerFacts<'_>> = d
        .containers
        .iter()
        .map(|c| ContainerFacts {
            exit_code: c.exit_code,
            reason: s(&c.reason),
        })
        .collect();
    let stop = StopFacts {
        stop_code: s(&d.stop_code),
        stopped_reason: s(&d.stopped_reason),
        deployment_id,
        stopping_at,
        stopped_at,
    };
    let verdict = stopped.then(|| classify::classify(&stop, &facts));
    let cause = verdict.map(|v| v.stop_cause);
    let deciding = verdict.and_then(|v| v.container);

    // Every value is validated; append the rows.
    let env = ctx.env;
    let t = rows.task_event(input);
    t.event_id.append_value(&env.id);
    t.event_time.append_value(ctx.event_time);
    t.account.append_option(s(&env.account));
    t.region.append_option(s(&env.region));
    t.cluster.append_option(cluster);
    t.service.append_option(service);
    t.task_id.append_value(task_id);
    t.task_arn.append_value(task_arn);
    t.task_group.append_option(group);
    t.started_by.append_option(started_by);
    t.deployment_id.append_option(deployment_id);
    t.family.append_option(family);
    t.revision.append_option(revision);
    t.task_definition_arn
        .append_option(s(&d.task_definition_arn));
    t.last_status.append_option(s(&d.last_status));
    t.desired_status.append_option(s(&d.desired_status));
    t.health_status.append_option(s(&d.health_status));
    t.stop_code.append_option(s(&d.stop_code));
    t.stopped_reason.append_option(s(&d.stopped_reason));
    t.stop_cause.append_option(cause.map(|c| c.as_str()));
    t.exit_kind
        .append_option(verdict.map(|v| v.exit_kind.as_str()));
    t.exit_code
        .append_option(deciding.and_then(|i| containers[i].0));
    t.exit_container
        .append_option(deciding.map(|i| d.containers[i].name.as_ref()));
    t.created_at.append_option(created_at);
    t.connectivity_at.append_option(connectivity_at);
    t.pull_started_at.append_option(pull_started_at);
    t.pull_stopped_at.append_option(pull_stopped_at);
    t.started_at.append_option(started_at);
    t.stopping_at.append_option(stopping_at);
    t.execution_stopped_at.append_option(execution_stopped_at);
    t.stopped_at.append_option(stopped_at);
    t.updated_at.append_option(updated_at);
    t.cpu.append_option(cpu);
    t.memory.append_option(memory);
    t.launch_type.append_option(s(&d.launch_type));
    t.availability_zone.append_option(s(&d.availability_zone));
    t.capacity_provider
        .append_option(s(&d.capacity_provider_name));
    t.platform_version.append_option(s(&d.platform_version));
    t.container_instance_arn
        .append_option(s(&d.container_instance_arn));
    t.version.append_option(d.version);
    t.raw.append_value(redact_overrides(ctx.raw));

    for (i, (c, &(exit_code, cpu, memory, reservation))) in
        d.containers.iter().zip(&containers).enumerate()
    {
        let b = rows.container_event(input);
        b.event_id.append_value(&env.id);
        b.event_time.append_value(ctx.event_time);
        b.account.append_option(s(&env.account));
        b.region.append_option(s(&env.region));
        b.cluster.append_option(cluster);
        b.service.append_option(service);
        b.task_id.append_value(task_id);
        b.task_arn.append_value(task_arn);
        b.family.append_option(family);
        b.revision.append_option(revision);
        b.deployment_id.append_option(deployment_id);
        b.task_version.append_option(d.version);
        b.task_last_status.append_option(s(&d.last_status));
        b.stop_cause.append_option(cause.map(|c| c.as_str()));
        b.container_name.append_value(&c.name);
        b.container_arn.append_option(s(&c.container_arn));
        b.image.append_option(s(&c.image));
        b.image_digest.append_option(s(&c.image_digest));
        b.runtime_id.append_option(s(&c.runtime_id));
        b.last_status.append_option(s(&c.last_status));
        b.exit_code.append_option(exit_code);
        // A container that stopped while the task runs (a non-essential
        // sidecar) still gets an exit kind; its stop cause stays null.
        let container_stopped = stopped || s(&c.last_status) == Some("STOPPED");
        let kind = container_stopped.then(|| {
            classify::exit_kind(
                &facts[i],
                cause.unwrap_or(classify::StopCause::Unknown),
                &stop,
            )
        });
        b.exit_kind.append_option(kind.map(|k| k.as_str()));
        b.reason.append_option(s(&c.reason));
        b.health_status.append_option(s(&c.health_status));
        b.cpu.append_option(cpu);
        b.memory.append_option(memory);
        b.memory_reservation.append_option(reservation);
    }

    // Health samples: the task's aggregate (container null) and each container's.
    let health = std::iter::once((None, s(&d.health_status))).chain(
        d.containers
            .iter()
            .map(|c| (Some(c.name.as_ref()), s(&c.health_status))),
    );
    for (container, status) in health {
        if let Some(status) = status {
            let sample = HealthSample {
                time: updated_at.unwrap_or(ctx.event_time),
                cluster,
                service,
                task_id,
                family,
                revision,
                container,
                status,
                source: health::FROM_TASK_EVENT,
            };
            rows.health_sample(input, sample);
        }
    }
    Ok(())
}

fn service_event(rows: &mut Rows, input: u32, ctx: &EventCtx<'_>) -> Result<(), RowError> {
    let d: ServiceDetail<'_> = serde_json::from_str(ctx.env.raw_detail()?)
        .map_err(|e| RowError::new(format!("detail of a service event: {e}")))?;
    let env = ctx.env;
    // The service is only in resources[0] for deployment events.
    let service_arn = env
        .resources
        .iter()
        .map(|r| r.as_ref())
        .find(|r| arn::service_name(r).is_some());
    let created_at = time("createdAt", &d.created_at)?;
    let updated_at = time("updatedAt", &d.updated_at)?;
    let reason = s(&d.reason);
    let b = rows.service_event(input);
    b.event_id.append_value(&env.id);
    b.event_time.append_value(ctx.event_time);
    b.account.append_option(s(&env.account));
    b.region.append_option(s(&env.region));
    b.detail_type.append_value(&env.detail_type);
    b.event_type.append_option(s(&d.event_type));
    b.event_name.append_option(s(&d.event_name));
    b.cluster
        .append_option(arn::cluster_name(s(&d.cluster_arn), service_arn));
    b.service
        .append_option(service_arn.and_then(arn::service_name));
    b.service_arn.append_option(service_arn);
    b.deployment_id.append_option(s(&d.deployment_id));
    b.reason.append_option(reason);
    b.rollback
        .append_option(reason.map(|r| classify::contains_ci(r, "rolling back")));
    b.created_at.append_option(created_at);
    b.updated_at.append_option(updated_at);
    b.raw.append_value(ctx.raw);
    Ok(())
}

/// An ECS event of a type the other tables do not take, as received.
fn other_event(rows: &mut Rows, input: u32, ctx: &EventCtx<'_>) -> Result<(), RowError> {
    #[derive(Deserialize)]
    struct ClusterOf<'a> {
        #[serde(rename = "clusterArn", borrow, default)]
        cluster_arn: Str<'a>,
    }
    let env = ctx.env;
    let detail = env.raw_detail().ok();
    let cluster_arn = detail
        .and_then(|d| serde_json::from_str::<ClusterOf<'_>>(d).ok())
        .and_then(|c| c.cluster_arn.0.map(|a| a.into_owned()));
    let resource = env.resources.first().map(|r| r.as_ref());
    let cluster = arn::cluster_name(cluster_arn.as_deref(), None).or_else(|| {
        env.resources
            .iter()
            .find_map(|r| arn::cluster_name(None, Some(r)))
    });
    let b = rows.other_event(input);
    b.event_id.append_value(&env.id);
    b.event_time.append_value(ctx.event_time);
    b.account.append_option(s(&env.account));
    b.region.append_option(s(&env.region));
    b.detail_type.append_value(&env.detail_type);
    b.cluster.append_option(cluster);
    b.resource.append_option(resource);
    b.raw.append_value(ctx.raw);
    Ok(())
}

fn instance_event(rows: &mut Rows, input: u32, ctx: &EventCtx<'_>) -> Result<(), RowError> {
    let d: InstanceDetail<'_> = serde_json::from_str(ctx.env.raw_detail()?)
        .map_err(|e| RowError::new(format!("detail of a container instance state change: {e}")))?;
    let env = ctx.env;
    let instance_arn = s(&d.container_instance_arn).or_else(|| {
        env.resources
            .first()
            .map(|r| r.as_ref())
            .filter(|r| r.contains(":container-instance/"))
    });
    let updated_at = time("updatedAt", &d.updated_at)?;
    let b = rows.instance_event(input);
    b.event_id.append_value(&env.id);
    b.event_time.append_value(ctx.event_time);
    b.account.append_option(s(&env.account));
    b.region.append_option(s(&env.region));
    b.cluster
        .append_option(arn::cluster_name(s(&d.cluster_arn), instance_arn));
    b.container_instance_arn.append_option(instance_arn);
    b.container_instance_id
        .append_option(instance_arn.and_then(Arn::parse).map(|a| a.id()));
    b.ec2_instance_id.append_option(s(&d.ec2_instance_id));
    b.status.append_option(s(&d.status));
    b.status_reason.append_option(s(&d.status_reason));
    b.agent_connected.append_option(d.agent_connected);
    b.agent_update_status
        .append_option(s(&d.agent_update_status));
    b.registered_cpu
        .append_option(resource(&d.registered_resources, "CPU"));
    b.registered_memory
        .append_option(resource(&d.registered_resources, "MEMORY"));
    b.remaining_cpu
        .append_option(resource(&d.remaining_resources, "CPU"));
    b.remaining_memory
        .append_option(resource(&d.remaining_resources, "MEMORY"));
    b.agent_version
        .append_option(d.version_info.as_ref().and_then(|v| s(&v.agent_version)));
    b.docker_version
        .append_option(d.version_info.as_ref().and_then(|v| s(&v.docker_version)));
    b.version.append_option(d.version);
    b.updated_at.append_option(updated_at);
    b.raw.append_value(ctx.raw);
    Ok(())
}
