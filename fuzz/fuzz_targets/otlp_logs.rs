//! OTLP logs requests (protobuf and JSON) through Loki's OTLP mapping.
#![no_main]
use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = seer_ingest::proto::otlp::logs::ExportLogsServiceRequest::decode(data) {
        let _ = seer_ingest::otlp_logs::translate(&req, 0);
    }
    if let Ok(req) = seer_ingest::otlp_json::decode_logs(data) {
        let _ = seer_ingest::otlp_logs::translate(&req, 0);
    }
});
