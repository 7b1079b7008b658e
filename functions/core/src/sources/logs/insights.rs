//! Container Insights performance records (log group
//! `/aws/ecs/containerinsights/<cluster>/performance`): one `metrics` row per
//! record, plus a `health` sample when the record carries
//! `UnHealthyContainerHealthStatus`. Entry point: [`append`].

use serde::Deserialize;

use super::payload::{StreamCtx, opt};
use crate::input::RowError;
use crate::lenient::{self, Str};
use crate::rows::{HealthSample, Rows};
use crate::sources::health;
use crate::time::{self, Micros};

/// A performance record (Type Task, Container, Service, Cluster, ...). Every
/// numeric field may be a number or a string.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct PerfRecord<'a> {
    #[serde(rename = "Type", borrow)]
    record_type: Str<'a>,
    #[serde(borrow)]
    cluster_name: Str<'a>,
    #[serde(borrow)]
    service_name: Str<'a>,
    #[serde(borrow)]
    task_id: Str<'a>,
    #[serde(borrow)]
    task_definition_family: Str<'a>,
    #[serde(deserialize_with = "lenient::int")]
    task_definition_revision: Option<i64>,
    #[serde(borrow)]
    container_name: Str<'a>,
    #[serde(borrow)]
    image: Str<'a>,
    #[serde(borrow)]
    launch_type: Str<'a>,
    #[serde(borrow)]
    availability_zone: Str<'a>,
    #[serde(borrow)]
    known_status: Str<'a>,
    #[serde(borrow)]
    container_known_status: Str<'a>,
    #[serde(borrow)]
    container_instance_id: Str<'a>,
    #[serde(rename = "EC2InstanceId", borrow)]
    ec2_instance_id: Str<'a>,
    #[serde(deserialize_with = "lenient::float")]
    timestamp: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    cpu_utilized: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    cpu_reserved: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    memory_utilized: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    memory_reserved: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    network_rx_bytes: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    network_rx_packets: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    network_rx_dropped: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    network_rx_errors: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    network_tx_bytes: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    network_tx_packets: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    network_tx_dropped: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    network_tx_errors: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    storage_read_bytes: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    storage_write_bytes: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    ephemeral_storage_utilized: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    ephemeral_storage_reserved: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    restart_count: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    un_healthy_container_health_status: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    created_at: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    started_at: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    pull_started_at: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    pull_stopped_at: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    desired_task_count: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    running_task_count: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    pending_task_count: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    deployment_count: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    task_set_count: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    task_count: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    container_instance_count: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    service_count: Option<f64>,
    // Enhanced observability names the container-level metrics `Container*`;
    // they fill the same columns when the plain names are absent.
    #[serde(deserialize_with = "lenient::float")]
    container_cpu_utilized: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    container_cpu_reserved: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    container_memory_utilized: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    container_memory_reserved: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    container_network_rx_bytes: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    container_network_tx_bytes: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    container_storage_read_bytes: Option<f64>,
    #[serde(deserialize_with = "lenient::float")]
    container_storage_write_bytes: Option<f64>,
}

/// A whole-number metric (bytes, MiB, counts) as sent, rounded.
fn whole(v: Option<f64>) -> Option<i64> {
    v.map(|v| v.round() as i64)
}

/// A millisecond timestamp field.
fn millis(field: &str, v: Option<f64>) -> Result<Option<Micros>, RowError> {
    v.map(|ms| {
        time::float_millis_to_micros(ms)
            .ok_or_else(|| RowError::new(format!("{field} {ms} is not a millisecond timestamp")))
    })
    .transpose()
}

/// Appends one performance record (the log event `message`) as a `metrics`
/// row of `input`, plus its health sample; `Err` (nothing appended) when it
/// is not a valid record. `group_cluster` is the cluster its log group names.
pub fn append(
    rows: &mut Rows,
    input: u32,
    ctx: &StreamCtx<'_>,
    group_cluster: &str,
    id: Option<&str>,
    event_time: Micros,
    message: &str,
) -> Result<(), RowError> {
    let r: PerfRecord<'_> = serde_json::from_str(message).map_err(|e| {
        RowError::new(format!(
            "Container Insights performance record is not valid: {e}"
        ))
    })?;
    let record_type = opt(&r.record_type)
        .ok_or_else(|| RowError::new("Container Insights performance record has no Type"))?;
    let time = millis("Timestamp", r.timestamp)?.unwrap_or(event_time);
    let revision = r
        .task_definition_revision
        .map(|v| {
            i32::try_from(v)
                .map_err(|_| RowError::new(format!("TaskDefinitionRevision {v} is out of range")))
        })
        .transpose()?;
    let unhealthy = match r.un_healthy_container_health_status {
        None => None,
        Some(0.0) => Some(0),
        Some(1.0) => Some(1),
        Some(v) => {
            return Err(RowError::new(format!(
                "UnHealthyContainerHealthStatus is {v}, expected 0 or 1"
            )));
        }
    };
    let (created_at, started_at, pull_started_at, pull_stopped_at) = (
        millis("CreatedAt", r.created_at)?,
        millis("StartedAt", r.started_at)?,
        millis("PullStartedAt", r.pull_started_at)?,
        millis("PullStoppedAt", r.pull_stopped_at)?,
    );
    let cluster = opt(&r.cluster_name).unwrap_or(group_cluster);
    let container = opt(&r.container_name);

    let m = rows.metric(input);
    m.time.append_value(time);
    m.record_type.append_value(record_type);
    m.cluster.append_value(cluster);
    m.service.append_option(opt(&r.service_name));
    m.task_id.append_option(opt(&r.task_id));
    m.family.append_option(opt(&r.task_definition_family));
    m.revision.append_option(revision);
    m.container.append_option(container);
    m.image.append_option(opt(&r.image));
    m.launch_type.append_option(opt(&r.launch_type));
    m.availability_zone.append_option(opt(&r.availability_zone));
    m.known_status
        .append_option(opt(&r.known_status).or(opt(&r.container_known_status)));
    m.container_instance_id
        .append_option(opt(&r.container_instance_id));
    m.ec2_instance_id.append_option(opt(&r.ec2_instance_id));
    m.cpu_utilized
        .append_option(r.cpu_utilized.or(r.container_cpu_utilized));
    m.cpu_reserved
        .append_option(r.cpu_reserved.or(r.container_cpu_reserved));
    m.memory_utilized
        .append_option(whole(r.memory_utilized.or(r.container_memory_utilized)));
    m.memory_reserved
        .append_option(whole(r.memory_reserved.or(r.container_memory_reserved)));
    m.network_rx_bytes
        .append_option(whole(r.network_rx_bytes.or(r.container_network_rx_bytes)));
    m.network_rx_packets
        .append_option(whole(r.network_rx_packets));
    m.network_rx_dropped
        .append_option(whole(r.network_rx_dropped));
    m.network_rx_errors
        .append_option(whole(r.network_rx_errors));
    m.network_tx_bytes
        .append_option(whole(r.network_tx_bytes.or(r.container_network_tx_bytes)));
    m.network_tx_packets
        .append_option(whole(r.network_tx_packets));
    m.network_tx_dropped
        .append_option(whole(r.network_tx_dropped));
    m.network_tx_errors
        .append_option(whole(r.network_tx_errors));
    m.storage_read_bytes.append_option(whole(
        r.storage_read_bytes.or(r.container_storage_read_bytes),
    ));
    m.storage_write_bytes.append_option(whole(
        r.storage_write_bytes.or(r.container_storage_write_bytes),
    ));
    m.ephemeral_storage_utilized
        .append_option(r.ephemeral_storage_utilized);
    m.ephemeral_storage_reserved
        .append_option(r.ephemeral_storage_reserved);
    m.restart_count.append_option(whole(r.restart_count));
    m.unhealthy.append_option(unhealthy);
    m.created_at.append_option(created_at);
    m.started_at.append_option(started_at);
    m.pull_started_at.append_option(pull_started_at);
    m.pull_stopped_at.append_option(pull_stopped_at);
    m.desired_task_count
        .append_option(whole(r.desired_task_count));
    m.running_task_count
        .append_option(whole(r.running_task_count));
    m.pending_task_count
        .append_option(whole(r.pending_task_count));
    m.deployment_count.append_option(whole(r.deployment_count));
    m.task_set_count.append_option(whole(r.task_set_count));
    m.task_count.append_option(whole(r.task_count));
    m.container_instance_count
        .append_option(whole(r.container_instance_count));
    m.service_count.append_option(whole(r.service_count));
    m.log_group.append_value(ctx.log_group);
    m.log_stream
        .append_option(Some(ctx.log_stream).filter(|s| !s.is_empty()));
    m.event_id.append_option(id);
    m.raw.append_value(message);

    if let (Some(unhealthy), Some(task_id)) = (unhealthy, opt(&r.task_id)) {
        let sample = HealthSample {
            time,
            cluster: Some(cluster),
            service: opt(&r.service_name),
            task_id,
            family: opt(&r.task_definition_family),
            revision,
            container,
            status: if unhealthy == 1 {
                "UNHEALTHY"
            } else {
                "HEALTHY"
            },
            source: health::FROM_CONTAINER_INSIGHTS,
        };
        rows.health_sample(input, sample);
    }
    Ok(())
}
