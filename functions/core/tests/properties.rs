//! Property tests of the decoders, in the normal suite (the coverage-guided
//! fuzz targets in `fuzz/` go further; see RELIABILITY.md): for any input,
//! normalization does not panic, every input has exactly one outcome (rows or
//! quarantine), log events are conserved, and redaction leaves no key behind.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use ecs_lake::normalize::Normalizer;
use ecs_lake::redact::redact_secrets;
use proptest::prelude::*;
use serde_json::{Value, json};

mod common;
use common::fixture;

const ECS_FIXTURES: &[&str] = &[
    "ecs_task_stopped_fargate_elb_healthcheck_exit143_kx_kotlin_support.json",
    "ecs_task_running_fargate_guardduty_sidecar_docs2025.json",
    "ecs_deployment_FAILED_circuit_breaker_awsdocs.json",
    "ecs_service_action_SERVICE_TASK_PLACEMENT_FAILURE_fargate_spot_awsdocs.json",
    "ecs_container_instance_state_change_aws-lambda-go.json",
];

/// How many outcomes each input got ([`common::outcome_counts`]).
fn outcomes(n: Normalizer, inputs: usize) -> Vec<usize> {
    let (parts, quarantined) = n.finish().unwrap();
    common::outcome_counts(&parts, &quarantined, inputs)
}

/// Every JSON pointer in a document.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(child, p, out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(child, p, out);
            }
        }
        _ => {}
    }
}

fn any_json() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,40}".prop_map(Value::from),
        Just(json!("null")),
        Just(json!("2026-11-21T12:00:00Z")),
        Just(json!([])),
        Just(json!({})),
        Just(json!([{"name": 1}])),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any bytes as an SQS body: one outcome, never a panic.
    #[test]
    fn any_bytes_as_an_event(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut n = Normalizer::new(0);
        n.push_event(0, &body);
        prop_assert_eq!(outcomes(n, 1), vec![1]);
    }

    /// A real ECS event with any one field (at any depth) replaced by any
    /// JSON value: one outcome; types ECS never sends are tolerated or
    /// quarantined, never a panic.
    #[test]
    fn a_real_event_with_any_field_replaced(
        which in 0..ECS_FIXTURES.len(),
        pick in any::<prop::sample::Index>(),
        value in any_json(),
    ) {
        let mut doc: Value = serde_json::from_slice(&fixture(ECS_FIXTURES[which])).unwrap();
        let mut paths = Vec::new();
        pointers(&doc, String::new(), &mut paths);
        *doc.pointer_mut(&paths[pick.index(paths.len())]).unwrap() = value;
        let mut n = Normalizer::new(0);
        n.push_event(0, doc.to_string().as_bytes());
        prop_assert_eq!(outcomes(n, 1), vec![1]);
    }

    /// Any message in a Container Insights performance or an application log
    /// group: the one log event becomes one row or one quarantine row.
    #[test]
    fn any_log_message_is_conserved(message in "\\PC{0,300}", perf in any::<bool>()) {
        let group = if perf { "/aws/ecs/containerinsights/prod/performance" } else { "/ecs/api" };
        let payload = json!({
            "messageType": "DATA_MESSAGE", "owner": "123456789012",
            "logGroup": group, "logStream": "ecs/api/0123456789abcdef0123456789abcdef",
            "subscriptionFilters": ["lake"],
            "logEvents": [{"id": "1", "timestamp": 1_795_521_600_000_i64, "message": message}],
        });
        let mut n = Normalizer::new(0);
        n.push_logs_payload(0, payload.to_string().as_bytes());
        let counts = n.log_counts();
        prop_assert_eq!(counts.log_events, 1);
        prop_assert_eq!(counts.rows + counts.quarantined, 1);
        prop_assert_eq!(outcomes(n, 1), vec![1]);
    }

    /// Redaction is idempotent, and an access key id inserted anywhere (as a
    /// word) does not survive it.
    #[test]
    fn redaction_leaves_no_access_key(
        before in "[ -~]{0,60}",
        after in "[ -~]{0,60}",
        key in "(AKIA|ASIA)[A-Z2-7]{16}",
    ) {
        let message = format!("{before} {key} {after}");
        let once = redact_secrets(&message).into_owned();
        prop_assert!(!once.contains(&key), "{once}");
        prop_assert_eq!(redact_secrets(&once).into_owned(), once);
    }
}
