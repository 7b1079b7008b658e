//! Derived views over the lake's tables, registered with every opened lake.
//!
//! Each view is plain SQL over the declared tables, so `ecs-query sql` can use
//! it like a table and `ecs-query tables` lists it.

use datafusion::prelude::SessionContext;

/// One documented view.
pub struct View {
    pub name: &'static str,
    pub doc: &'static str,
    pub sql: &'static str,
}

pub static VIEWS: &[View] = &[
    View {
        name: "health_transitions",
        doc: "Health status changes per task and container: from the health samples \
              (task events, Container Insights, the poller) and from stops for failed \
              ELB or container health checks (task level, source `stop_reason:<cause>`). \
              The first sample of a task or container has from_status null.",
        sql: "WITH samples AS ( \
                SELECT \"time\", cluster, service, task_id, family, revision, container, status, source FROM health \
                UNION ALL \
                SELECT coalesce(stopping_at, stopped_at, event_time) AS \"time\", cluster, service, task_id, family, revision, \
                       CAST(NULL AS VARCHAR), 'UNHEALTHY', concat('stop_reason:', stop_cause) \
                FROM task_events WHERE stop_cause IN ('elb_health_check', 'container_health_check') \
              ), ordered AS ( \
                SELECT *, lag(status) OVER (PARTITION BY task_id, container ORDER BY \"time\", status) AS from_status \
                FROM samples \
              ) \
              SELECT \"time\", cluster, service, task_id, family, revision, container, from_status, status AS to_status, source \
              FROM ordered WHERE from_status IS DISTINCT FROM status",
    },
    View {
        name: "time_to_healthy",
        doc: "Per task and container, the first HEALTHY sample and the seconds from the \
              task's start (task events' startedAt) to it: compare with the health check's \
              startPeriod.",
        sql: "SELECT h.cluster, h.service, h.task_id, h.family, h.revision, h.container, \
                     t.started_at, min(h.\"time\") AS first_healthy_at, \
                     (CAST(min(h.\"time\") AS BIGINT) - CAST(t.started_at AS BIGINT)) / 1000000.0 AS seconds_to_healthy \
              FROM health h \
              LEFT JOIN (SELECT task_id, max(started_at) AS started_at FROM task_events GROUP BY task_id) t \
                ON h.task_id = t.task_id \
              WHERE h.status = 'HEALTHY' \
              GROUP BY h.cluster, h.service, h.task_id, h.family, h.revision, h.container, t.started_at",
    },
];

/// Registers every view.
pub async fn register(ctx: &SessionContext) -> datafusion::error::Result<()> {
    for v in VIEWS {
        let plan = ctx.sql(v.sql).await?.into_view();
        ctx.register_table(v.name, plan)?;
    }
    Ok(())
}
