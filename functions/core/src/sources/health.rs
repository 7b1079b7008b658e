//! Health samples polled from the ECS API (DescribeTasks), for accounts
//! without Container Insights enhanced observability.
//!
//! The poller (`functions/poll-health`) turns each cluster's DescribeTasks
//! answers into a JSON array of [`PolledHealth`], which goes through the
//! ingest pipeline as one input ([`crate::input::InputKind::HealthSamples`]): same
//! keys, quarantine and write path as every other source. Entry point: [`append`].
//!
//! The `health.source` values of all three sources that derive health
//! samples are named here.

use serde::{Deserialize, Serialize};

use crate::input::RowError;
use crate::rows::{HealthSample, Rows};
use crate::time::Micros;

/// `health.source` values.
pub const FROM_TASK_EVENT: &str = "task_event";
pub const FROM_CONTAINER_INSIGHTS: &str = "container_insights";
pub const FROM_POLLER: &str = "poller";

/// One polled status: a task's aggregate (`container` = None) or one container's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolledHealth {
    /// When it was observed (the poll time), UTC microseconds.
    pub time: Micros,
    pub cluster: Option<String>,
    pub service: Option<String>,
    pub task_id: String,
    pub family: Option<String>,
    pub revision: Option<i32>,
    pub container: Option<String>,
    /// HEALTHY, UNHEALTHY or UNKNOWN as ECS reports it.
    pub status: String,
}

/// Appends a JSON array of [`PolledHealth`] as rows of `input`; an unreadable
/// one is refused whole (nothing appended).
pub fn append(rows: &mut Rows, input: u32, body: &[u8]) -> Result<(), RowError> {
    let samples = serde_json::from_slice::<Vec<PolledHealth>>(body)
        .map_err(|e| RowError::new(format!("not a JSON array of health samples: {e}")))?;
    if let Some(bad) = samples
        .iter()
        .find(|s| s.task_id.is_empty() || s.status.is_empty())
    {
        return Err(RowError::new(format!(
            "health sample without a task id or status: {bad:?}"
        )));
    }
    for s in &samples {
        let sample = HealthSample {
            time: s.time,
            cluster: s.cluster.as_deref(),
            service: s.service.as_deref(),
            task_id: &s.task_id,
            family: s.family.as_deref(),
            revision: s.revision,
            container: s.container.as_deref(),
            status: &s.status,
            source: FROM_POLLER,
        };
        rows.health_sample(input, sample);
    }
    Ok(())
}
