//! Derived views over the lake's tables, registered with every opened lake,
//! so `ecs-query sql` can use them like tables and `ecs-query tables` lists
//! them. `tasks`, `deployments` and `health_transitions` are logical plans
//! built in [`crate::summary`] (the query language and the timeline build the
//! same plans for a window); the others are plain SQL.

use datafusion::prelude::SessionContext;

use crate::summary::{self, Scope};

/// How a view is defined.
pub enum Definition {
    Sql(&'static str),
    Tasks,
    Deployments,
    HealthTransitions,
}

/// One documented view.
pub struct View {
    pub name: &'static str,
    pub doc: &'static str,
    pub definition: Definition,
}

pub static VIEWS: &[View] = &[
    View {
        name: "tasks",
        doc: "One row per task: its latest state by detail.version (duplicates removed), \
              stop cause, exit kind and exit code of the deciding container, image, memory \
              and CPU peak from Container Insights against the limit (MiB, %), first \
              HEALTHY and first UNHEALTHY times, seconds to healthy, whether a health check \
              failed, and the deployment that started it. `time` is when it stopped, or its \
              latest event while it runs.",
        definition: Definition::Tasks,
    },
    View {
        name: "deployments",
        doc: "One row per deployment: service, revision, start and end, outcome (completed, \
              failed, rolled_back by the circuit breaker, in_progress; unknown without \
              deployment events), whether it is itself a rollback, tasks started and \
              stopped by cause (stopped_<cause>), exits by kind (exit_<kind>), OOM kills, \
              memory peak p50/p95/max (MiB) against the limit, health-check failures and \
              the median seconds to healthy.",
        definition: Definition::Deployments,
    },
    View {
        name: "health_transitions",
        doc: "Health status changes per task and container: from the health samples \
              (task events, Container Insights, the poller) and from stops for failed \
              ELB or container health checks (task level, source `stop_reason:<cause>`). \
              The first sample of a task or container has from_status null.",
        definition: Definition::HealthTransitions,
    },
    View {
        name: "time_to_healthy",
        doc: "Per task and container, the first HEALTHY sample and the seconds from the \
              task's start (task events' startedAt) to it: compare with the health check's \
              startPeriod.",
        definition: Definition::Sql(
            "SELECT h.cluster, h.service, h.task_id, h.family, h.revision, h.container, \
                     t.started_at, min(h.\"time\") AS first_healthy_at, \
                     (CAST(min(h.\"time\") AS BIGINT) - CAST(t.started_at AS BIGINT)) / 1000000.0 AS seconds_to_healthy \
              FROM health h \
              LEFT JOIN (SELECT task_id, max(started_at) AS started_at FROM task_events GROUP BY task_id) t \
                ON h.task_id = t.task_id \
              WHERE h.status = 'HEALTHY' \
              GROUP BY h.cluster, h.service, h.task_id, h.family, h.revision, h.container, t.started_at",
        ),
    },
];

/// Registers every view.
pub async fn register(ctx: &SessionContext) -> datafusion::error::Result<()> {
    for v in VIEWS {
        let plan = match v.definition {
            Definition::Sql(sql) => ctx.sql(sql).await?,
            Definition::Tasks => summary::tasks(ctx, Scope::default()).await?,
            Definition::Deployments => summary::deployments(ctx, Scope::default()).await?,
            Definition::HealthTransitions => {
                summary::health_transitions(ctx, Scope::default()).await?
            }
        };
        ctx.register_table(v.name, plan.into_view())?;
    }
    Ok(())
}
