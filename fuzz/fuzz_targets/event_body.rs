//! One SQS body / EventBridge event, any bytes: normalization of ECS task,
//! deployment, service action and instance events, then Parquet encoding.
#![no_main]

use ecs_lake::Input;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ecs_lake_fuzz::normalize_one(&Input::new("fuzz", data.to_vec()));
});
