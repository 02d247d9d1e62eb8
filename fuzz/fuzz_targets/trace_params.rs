//! Query strings of the Tempo and Jaeger search APIs (`q=` TraceQL, `tags=` logfmt or JSON,
//! durations, times, limits): parsed as the handlers parse them, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = seer_api::parse_trace_search_params(s);
    }
});
