//! One file given to `ecs-query ingest`, any bytes: splitting by shape
//! (events, SQS/Kinesis/Firehose envelopes, task objects, CloudTrail trail
//! files, filter-log-events / get-log-events output, Logs Insights JSON and
//! CSV), then every input normalized.
#![no_main]

use ecs_lake::envelope::{LogNames, split_file_named};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let names = LogNames {
        log_group: Some("/ecs/fuzz".into()),
        log_stream: None,
        owner: None,
    };
    if let Ok(inputs) = split_file_named("fuzz", data, &names) {
        for input in &inputs {
            ecs_lake_fuzz::normalize_one(input);
        }
    }
});
