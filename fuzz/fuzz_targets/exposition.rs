//! The Prometheus text and OpenMetrics parsers.
#![no_main]
use libfuzzer_sys::fuzz_target;
use seer_ingest::exposition::{Format, parse};

fuzz_target!(|data: &[u8]| {
    let _ = parse(data, Format::Text);
    let _ = parse(data, Format::OpenMetrics);
});
