//! One log event's message, any text, in a well-formed payload: the first
//! byte picks a Container Insights performance log group (the message is a
//! metrics record: Task, Container, Service, Cluster, EMF) or an application
//! log group (crash signatures, levels, secret redaction).
#![no_main]

use ecs_lake::{Input, InputKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, message)) = data.split_first() else {
        return;
    };
    let (group, stream) = if pick % 2 == 0 {
        (
            "/aws/ecs/containerinsights/prod/performance",
            "FargateTelemetry-1234",
        )
    } else {
        ("/ecs/api", "ecs/api/0123456789abcdef0123456789abcdef")
    };
    let payload = serde_json::json!({
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": group,
        "logStream": stream,
        "subscriptionFilters": ["lake"],
        "logEvents": [{
            "id": "1",
            "timestamp": 1_795_521_600_000_i64,
            "message": String::from_utf8_lossy(message),
        }],
    });
    ecs_lake_fuzz::normalize_one(&Input::of(
        InputKind::LogsPayload,
        "fuzz",
        payload.to_string().into_bytes(),
    ));
});
