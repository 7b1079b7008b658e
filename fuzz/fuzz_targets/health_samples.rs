//! The DescribeTasks poller's health samples (a JSON array), any bytes.
#![no_main]

use ecs_lake::{Input, InputKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ecs_lake_fuzz::normalize_one(&Input::of(InputKind::HealthSamples, "fuzz", data.to_vec()));
});
