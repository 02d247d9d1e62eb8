//! OTLP JSON bodies of all three signals; metrics are also translated.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = seer_ingest::otlp_json::decode_metrics(data) {
        let _ = seer_ingest::otlp_metrics::translate(&req);
    }
    let _ = seer_ingest::otlp_json::decode_logs(data);
    let _ = seer_ingest::otlp_json::decode_traces(data);
});
