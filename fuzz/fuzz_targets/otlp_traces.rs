//! OTLP trace bodies (protobuf and JSON) through the whole span path: translate with the span
//! limits, group by trace, encode each group as a trace fragment and decode it again, which
//! must give back the same spans; arbitrary bytes as a fragment must decode or fail cleanly.
#![no_main]
use libfuzzer_sys::fuzz_target;
use prost::Message;
use seer_ingest::otlp_traces::{SpanLimits, translate};
use seer_ingest::proto::otlp::trace::ExportTraceServiceRequest;

fn round_trip(req: &ExportTraceServiceRequest) {
    let t = translate(req, &SpanLimits::default());
    for (id, spans) in seer_tracestore::group_by_trace(t.spans) {
        let mut buf = Vec::new();
        seer_tracestore::encode_fragment(&mut buf, &spans);
        let mut out = Vec::new();
        seer_tracestore::decode_fragment(&mut seer_encoding::ByteReader::new(&buf), &id, &mut out)
            .expect("a fragment we encoded decodes");
        // NaN attributes compare unequal to themselves; compare the encodings instead.
        let mut again = Vec::new();
        seer_tracestore::encode_fragment(&mut again, &out);
        assert_eq!(buf, again, "fragment round trip changed the spans");
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = ExportTraceServiceRequest::decode(data) {
        round_trip(&req);
    }
    if let Ok(req) = seer_ingest::otlp_json::decode_traces(data) {
        round_trip(&req);
    }
    let _ = seer_tracestore::decode_fragment(&mut seer_encoding::ByteReader::new(data), &[1; 16], &mut Vec::new());
});
