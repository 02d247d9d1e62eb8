//! Loki push bodies: JSON, and snappy protobuf (raw bytes and bytes wrapped in a valid
//! snappy frame so the protobuf decoder is reached), then push-time validation.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = seer_logstore::LogLimits::default();
    for p in [
        seer_ingest::loki_push::decode_json(data),
        seer_ingest::loki_push::decode_protobuf(data, 1 << 20),
        seer_ingest::loki_push::decode_protobuf(&snap::raw::Encoder::new().compress_vec(data).unwrap_or_default(), 1 << 20),
    ] {
        if let Ok(mut p) = p {
            let _ = seer_logstore::validate(&mut p.streams, &limits, 1_700_000_000_000_000_000);
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = seer_ingest::loki_push::parse_labels(s);
    }
});
