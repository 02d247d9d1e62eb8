//! OTLP protobuf bodies of all three signals; metrics are also translated.
#![no_main]
use libfuzzer_sys::fuzz_target;
use prost::Message;
use seer_ingest::proto::otlp::{logs, metrics, trace};

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = metrics::ExportMetricsServiceRequest::decode(data) {
        let _ = seer_ingest::otlp_metrics::translate(&req);
    }
    let _ = logs::ExportLogsServiceRequest::decode(data);
    let _ = trace::ExportTraceServiceRequest::decode(data);
});
