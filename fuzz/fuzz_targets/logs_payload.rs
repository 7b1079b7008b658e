//! A CloudWatch Logs subscription payload, any bytes: base64, gzip/zlib
//! (bounded by MAX_DECODED_BYTES), the payload JSON, then application lines
//! or Container Insights records; and the same bytes as a whole
//! `ingest-logs` invocation when they are JSON.
#![no_main]

use ecs_lake::{Input, InputKind};
use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;

fuzz_target!(|data: &[u8]| {
    ecs_lake_fuzz::normalize_one(&Input::of(InputKind::LogsPayload, "fuzz", data.to_vec()));
    if let Some(payload) = std::str::from_utf8(data)
        .ok()
        .and_then(|t| RawValue::from_string(t.to_owned()).ok())
    {
        let _ = futures::executor::block_on(ingest_logs::handle(
            &ecs_lake_fuzz::Discard,
            &payload,
            ecs_lake_fuzz::NOW,
        ));
    }
});
