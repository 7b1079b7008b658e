//! # poll-health: container health from DescribeTasks
//!
//! Task state change events carry `healthStatus` only when a task changes
//! state, and Container Insights reports health only with enhanced
//! observability. For other clusters this scheduled function polls
//! `ListTasks` + `DescribeTasks` (running tasks, 100 per call) and writes one
//! `health` sample per task and per container that reports a health status,
//! with `source = poller`. The query side derives transitions from the samples.
//!
//! Each cluster's samples are one input to the shared ingest pipeline (same
//! object keys, quarantine and write path as the other functions). A cluster
//! whose ECS calls fail is reported and the others are still written; the
//! invocation then fails so the failure shows in the function's metrics.

pub use ecs_lake_capture::capture;

use aws_sdk_ecs::types::{DesiredStatus, Task};
use ecs_lake::arn::{self, Arn};
use ecs_lake::lake::LakeFiles;
use ecs_lake::sources::events::service_of;
use ecs_lake::sources::health::PolledHealth;
use ecs_lake::time::Micros;
use ecs_lake::{Input, InputKind, Outcome, ingest};
use serde::Serialize;
use tracing::{info, warn};

/// The ingester name in object keys and quarantine rows.
pub const SOURCE: &str = "poller";

/// DescribeTasks takes at most 100 tasks per call.
const DESCRIBE_CHUNK: usize = 100;

/// What one poll did.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct PollSummary {
    pub clusters: usize,
    pub tasks: usize,
    pub samples: usize,
    /// `cluster: error` for each cluster that could not be polled or written.
    pub failures: Vec<String>,
    /// The configuration captured from what the tasks run (see [`capture`]);
    /// its failures are retried next poll and never fail the poll.
    pub capture: capture::Capture,
}

/// A poll that could not be completed for every cluster.
#[derive(Debug, thiserror::Error)]
#[error("health poll failed for {} cluster(s): {}", .0.failures.len(), .0.failures.join("; "))]
pub struct PollFailed(pub PollSummary);

/// The health samples of described tasks, observed at `now`: the task's
/// aggregate and each container's, where ECS reports one.
pub fn samples_of(tasks: &[Task], now: Micros) -> Vec<PolledHealth> {
    let mut out = Vec::new();
    for t in tasks {
        let Some(task_arn) = t.task_arn() else {
            continue;
        };
        let Some(task_id) = Arn::parse(task_arn).map(|a| a.id().to_owned()) else {
            continue;
        };
        let cluster = arn::cluster_name(t.cluster_arn(), Some(task_arn)).map(str::to_owned);
        let service = service_of(t.group()).map(str::to_owned);
        let (family, revision) = t
            .task_definition_arn()
            .and_then(arn::task_definition)
            .unzip();
        let sample = |container: Option<&str>, status: &str| PolledHealth {
            time: now,
            cluster: cluster.clone(),
            service: service.clone(),
            task_id: task_id.clone(),
            family: family.map(str::to_owned),
            revision,
            container: container.map(str::to_owned),
            status: status.to_owned(),
        };
        if let Some(status) = t.health_status() {
            out.push(sample(None, status.as_str()));
        }
        for c in t.containers() {
            if let Some(status) = c.health_status() {
                out.push(sample(c.name(), status.as_str()));
            }
        }
    }
    out
}

/// Every running task of a cluster, described.
pub async fn describe_running(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
) -> Result<Vec<Task>, String> {
    let arns: Vec<String> = client
        .list_tasks()
        .cluster(cluster)
        .desired_status(DesiredStatus::Running)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| format!("ListTasks: {}", aws_sdk_ecs::error::DisplayErrorContext(&e)))?;
    let mut tasks = Vec::with_capacity(arns.len());
    for chunk in arns.chunks(DESCRIBE_CHUNK) {
        let out = client
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| {
                format!(
                    "DescribeTasks: {}",
                    aws_sdk_ecs::error::DisplayErrorContext(&e)
                )
            })?;
        for f in out.failures() {
            // A task that stopped between the two calls: nothing to sample.
            warn!(
                cluster,
                arn = f.arn(),
                reason = f.reason(),
                "DescribeTasks failure"
            );
        }
        tasks.extend(out.tasks().iter().cloned());
    }
    Ok(tasks)
}

/// Polls every cluster and writes the samples, then captures the task
/// definitions and services the tasks run that the lake does not have yet.
/// Fails when any cluster failed (the others are written); a failed capture
/// does not fail the poll.
pub async fn poll<S: LakeFiles>(
    client: &aws_sdk_ecs::Client,
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    store: &S,
    clusters: &[String],
    now: Micros,
) -> Result<PollSummary, PollFailed> {
    let mut summary = PollSummary {
        clusters: clusters.len(),
        ..Default::default()
    };
    let mut inputs = Vec::new();
    let mut seen = capture::Seen::default();
    for cluster in clusters {
        match describe_running(client, cluster).await {
            Ok(tasks) => {
                seen.extend(capture::seen_in(&tasks));
                let samples = samples_of(&tasks, now);
                summary.tasks += tasks.len();
                summary.samples += samples.len();
                if samples.is_empty() {
                    continue;
                }
                match serde_json::to_vec(&samples) {
                    Ok(body) => {
                        inputs.push(Input::of(InputKind::HealthSamples, cluster.clone(), body))
                    }
                    Err(e) => summary.failures.push(format!("{cluster}: {e}")),
                }
            }
            Err(e) => summary.failures.push(format!("{cluster}: {e}")),
        }
    }
    let report = ingest(store, SOURCE, &inputs, now).await;
    for (input, outcome) in inputs.iter().zip(&report.outcomes) {
        match outcome {
            Outcome::Written => {}
            Outcome::Quarantined { reason } => summary
                .failures
                .push(format!("{}: quarantined: {reason}", input.id)),
            Outcome::Failed { error } => summary.failures.push(format!("{}: {error}", input.id)),
        }
    }
    summary.capture = capture::capture(
        client,
        elb,
        store,
        &seen,
        now,
        SOURCE,
        capture::Limits::POLL,
    )
    .await;
    println!("{}", capture_metrics(&summary.capture));
    info!(
        clusters = summary.clusters,
        tasks = summary.tasks,
        samples = summary.samples,
        failures = summary.failures.len(),
        "health poll"
    );
    if summary.failures.is_empty() {
        Ok(summary)
    } else {
        Err(PollFailed(summary))
    }
}

/// The capture as CloudWatch metrics (embedded metric format, printed to
/// the function's log): `ConfigCaptured` (task definitions and services
/// written) and `ConfigCaptureFailures`.
pub fn capture_metrics(c: &capture::Capture) -> serde_json::Value {
    ecs_lake_aws::emf(
        "poll-health",
        &[
            ("ConfigCaptured", c.task_definitions + c.services),
            ("ConfigCaptureFailures", c.failures.len()),
        ],
    )
}

/// The clusters to poll, from `CLUSTERS` (names or ARNs, comma- or space-separated).
pub fn clusters_from(value: Option<&str>) -> Result<Vec<String>, String> {
    let clusters: Vec<String> = value
        .unwrap_or_default()
        .split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect();
    if clusters.is_empty() {
        return Err(
            "CLUSTERS is not set: set it to the cluster names (or ARNs) to poll, comma-separated"
                .into(),
        );
    }
    Ok(clusters)
}
