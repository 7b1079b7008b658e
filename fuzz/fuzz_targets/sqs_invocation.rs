//! A whole `ingest-events` invocation (an SQS batch or a direct EventBridge
//! event) through the real handler. The Lambda runtime only delivers JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(payload) = RawValue::from_string(text.to_owned()) else {
        return;
    };
    let (_, report) = futures::executor::block_on(ingest_events::handle(
        &ecs_lake_fuzz::Discard,
        &payload,
        ecs_lake_fuzz::NOW,
    ))
    .expect("the discard store never fails a write");
    assert_eq!(report.failed(), 0);
});
