//! The fleet simulator's payloads through the real Lambda handlers into a real
//! S3 endpoint: the lake agrees with the simulator's ground truth (row counts,
//! classification of every stopped task, memory peaks, time to healthy).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::BTreeMap;

use ecs_lake_aws::S3Store;
use ecs_lake_tests::{S3Server, column, read_parquet, row_count};
use ecs_sim::{Preset, simulate};
use serde_json::value::RawValue;

const NOW: i64 = 1_795_521_600_000_000;

#[tokio::test]
async fn lake_built_through_the_lambdas_agrees_with_ground_truth() {
    let sim = simulate(&Preset::fleet(30.0), 7);
    // Deterministic: the same seed gives the same payloads.
    assert_eq!(simulate(&Preset::fleet(30.0), 7).events, sim.events);
    let truth = &sim.truth;
    for kind in [
        "sigkill_after_stop_timeout",
        "segfault",
        "app_error",
        "sigkill_oom",
        "sigterm",
    ] {
        assert!(
            truth.tasks.iter().any(|t| t.exit_kind == Some(kind)),
            "the fleet has {kind}"
        );
    }
    for cause in [
        "spot_interruption",
        "failed_to_start",
        "essential_container_exited",
        "deployment_replaced",
    ] {
        assert!(
            truth.tasks.iter().any(|t| t.stop_cause == Some(cause)),
            "the fleet has {cause}"
        );
    }
    let rolled_back: Vec<_> = truth
        .deployments
        .iter()
        .filter(|d| d.outcome == "rolled_back")
        .collect();
    assert_eq!(rolled_back.len(), 1, "checkout 13 is rolled back");
    assert!(
        truth
            .tasks
            .iter()
            .any(|t| t.stop_cause == Some("oom_killed")),
        "the preset produces OOM kills"
    );
    assert!(
        truth
            .tasks
            .iter()
            .any(|t| t.stop_cause == Some("elb_health_check"))
    );
    assert!(
        truth
            .tasks
            .iter()
            .any(|t| t.stop_cause == Some("deployment_replaced"))
    );

    let s3 = S3Server::start(&["lake"]);
    let client = s3.client();
    let store = S3Store::new(client.clone(), "lake", "ecs");
    for batch in sim.sqs_batches(10) {
        let (_, report) =
            ingest_events::handle(&store, &RawValue::from_string(batch).unwrap(), NOW)
                .await
                .unwrap();
        assert_eq!(
            report.written(),
            report.outcomes.len(),
            "every simulated event is valid"
        );
    }
    for event in sim.subscription_events() {
        let (_, report) = ingest_logs::handle(&store, &RawValue::from_string(event).unwrap(), NOW)
            .await
            .unwrap();
        assert_eq!(report.logs.quarantined, 0);
        assert_eq!(report.written(), 1);
    }

    // Deployments: the failed one and the circuit breaker's rollback.
    let services = read_parquet(&client, "lake", "ecs/service_events/").await;
    let (names, deps, rollbacks) = (
        column(&services, "event_name"),
        column(&services, "deployment_id"),
        column(&services, "rollback"),
    );
    let failed: Vec<&str> = (0..names.len())
        .filter(|&i| names[i] == "SERVICE_DEPLOYMENT_FAILED")
        .map(|i| deps[i].as_str())
        .collect();
    assert!(
        !failed.is_empty() && failed.iter().all(|d| *d == rolled_back[0].deployment_id),
        "{failed:?}"
    );
    assert!(
        rollbacks.iter().any(|r| r == "true"),
        "the rollback's IN_PROGRESS event is flagged"
    );

    // Row counts (duplicates delivered are rows too).
    let distinct: std::collections::BTreeSet<&String> = sim.events.iter().collect();
    assert!(
        distinct.len() < sim.events.len(),
        "some events are delivered twice"
    );
    let tasks = read_parquet(&client, "lake", "ecs/task_events/").await;
    let task_event_count = sim
        .events
        .iter()
        .filter(|e| e.contains("\"ECS Task State Change\""))
        .count();
    assert_eq!(row_count(&tasks), task_event_count);
    let metrics = read_parquet(&client, "lake", "ecs/metrics/").await;
    let logs = read_parquet(&client, "lake", "ecs/logs/").await;
    assert!(row_count(&metrics) > 0 && row_count(&logs) > 0);

    assert!(
        column(&tasks, "capacity_provider")
            .iter()
            .any(|c| c == "FARGATE_SPOT")
    );

    // Classification of every task, from its latest event.
    let ids = column(&tasks, "task_id");
    let versions = column(&tasks, "version");
    let causes = column(&tasks, "stop_cause");
    let kinds = column(&tasks, "exit_kind");
    let codes = column(&tasks, "exit_code");
    let revisions = column(&tasks, "revision");
    let deployments = column(&tasks, "deployment_id");
    let mut latest: BTreeMap<&str, usize> = BTreeMap::new();
    for i in 0..ids.len() {
        let v: i64 = versions[i].parse().unwrap();
        let e = latest.entry(ids[i].as_str()).or_insert(i);
        if versions[*e].parse::<i64>().unwrap() < v {
            *e = i;
        }
    }
    assert_eq!(latest.len(), truth.tasks.len());
    let opt = |s: Option<&str>| s.unwrap_or("∅").to_owned();
    for t in &truth.tasks {
        let i = latest[t.task_id.as_str()];
        assert_eq!(causes[i], opt(t.stop_cause), "{}", t.task_id);
        assert_eq!(kinds[i], opt(t.exit_kind), "{}", t.task_id);
        assert_eq!(
            codes[i],
            t.exit_code.map_or("∅".into(), |c| c.to_string()),
            "{}",
            t.task_id
        );
        assert_eq!(revisions[i], t.revision.to_string());
        // Standalone tasks (startedBy an EventBridge rule) have no deployment.
        let deployment = Some(t.deployment_id.as_str()).filter(|d| !d.is_empty());
        assert_eq!(deployments[i], opt(deployment), "{}", t.task_id);
    }

    // Memory peak per task (Container records) against the truth.
    let m_task = column(&metrics, "task_id");
    let m_type = column(&metrics, "record_type");
    let m_mem = column(&metrics, "memory_utilized");
    let mut peaks: BTreeMap<&str, i64> = BTreeMap::new();
    for i in 0..m_task.len() {
        if m_type[i] == "Container" {
            let p = peaks.entry(m_task[i].as_str()).or_default();
            *p = (*p).max(m_mem[i].parse().unwrap());
        }
    }
    for t in &truth.tasks {
        assert_eq!(
            peaks.get(t.task_id.as_str()).copied().unwrap_or(0),
            t.memory_peak_mib,
            "{}",
            t.task_id
        );
        if t.stop_cause == Some("oom_killed") {
            assert_eq!(
                t.memory_peak_mib,
                i64::from(t.memory_limit_mib),
                "OOM at 100% of the limit"
            );
        }
    }

    // Time to healthy: the first HEALTHY sample of the container from task events.
    let health = read_parquet(&client, "lake", "ecs/health/").await;
    let (h_task, h_cont, h_status, h_source, h_time) = (
        column(&health, "task_id"),
        column(&health, "container"),
        column(&health, "status"),
        column(&health, "source"),
        column(&health, "time"),
    );
    let started_at = column(&tasks, "started_at");
    let started: BTreeMap<&str, &str> = ids
        .iter()
        .zip(&started_at)
        .filter(|(_, s)| *s != "∅")
        .map(|(id, s)| (id.as_str(), s.as_str()))
        .collect();
    let secs = |t: &str| ecs_lake::time::parse_time(t).unwrap() as f64 / 1e6;
    for t in &truth.tasks {
        let first = (0..h_task.len())
            .filter(|&i| {
                h_task[i] == t.task_id
                    && h_cont[i] != "∅"
                    && h_status[i] == "HEALTHY"
                    && h_source[i] == "task_event"
            })
            .map(|i| secs(&h_time[i]))
            .fold(f64::INFINITY, f64::min);
        match t.time_to_healthy_s {
            Some(s) => assert!(
                (first - secs(started[t.task_id.as_str()]) - s).abs() < 0.001,
                "{}",
                t.task_id
            ),
            None => assert!(first.is_infinite(), "{} never healthy", t.task_id),
        }
    }
}
