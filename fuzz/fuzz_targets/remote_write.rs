//! Remote-write bodies: snappy framing, protobuf decoding, conversion to series.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // As a compressed body, and as the protobuf inside one.
    let _ = seer_ingest::remote_write::decode(data, 1 << 24);
    if let Ok(req) = <seer_ingest::proto::prompb::WriteRequest as prost::Message>::decode(data) {
        let _ = seer_ingest::remote_write::convert(req);
    }
    // The zero-copy decoder the server uses.
    let _ = seer_ingest::remote_write::decode_view(data);
});
