//! LogQL: parse, print and re-parse (the printer must produce what the parser accepts), then
//! run every pipeline of the query over a few lines and evaluate the query over a tiny store.
#![no_main]
use libfuzzer_sys::fuzz_target;
use seer_model::{Label, Labels, LogQueryable, Matcher, StorageError};

struct Tiny;

impl LogQueryable for Tiny {
    fn scan_entries(
        &self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
        f: &mut seer_model::EntryFn<'_>,
    ) -> Result<(), StorageError> {
        let labels = Labels::from_pairs([("app", "api"), ("level", "info")]);
        if !matchers.iter().all(|m| m.matches(labels.get(&m.name).unwrap_or(""))) {
            return Ok(());
        }
        let meta = vec![Label::new("trace_id", "abc")];
        let lines = [
            r#"{"status":500,"latency":"1.5s","size":"2KB","msg":"boom","nested":{"a":[1,2]}}"#,
            r#"level=error status=404 took=12ms msg="not found" path=/x"#,
            "\x1b[31mplain text\x1b[0m 10.0.0.1 GET /index.html 200",
        ];
        for (i, l) in lines.iter().enumerate() {
            let ts = 1_000_000_000 * (i as i64 + 1);
            if ts >= start && ts < end && !f(&labels, ts, l, &meta) {
                break;
            }
        }
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let Ok(expr) = seer_logql::parse(s) else { return };
    let printed = expr.to_string();
    let again = seer_logql::parse_syntax(&printed);
    assert!(again.is_ok(), "printed form does not parse: {s:?} -> {printed:?}: {again:?}");
    let p = seer_logql::engine::QueryParams {
        start_ns: 0,
        end_ns: 10_000_000_000,
        step_ns: 1_000_000_000,
        interval_ns: 0,
        limit: 100,
        direction: seer_logql::engine::Direction::Backward,
        deadline: Some(std::time::Instant::now() + std::time::Duration::from_secs(1)),
        max_series: 500,
    };
    let _ = seer_logql::engine::execute(&Tiny, &expr, &p);
    let instant = seer_logql::engine::QueryParams { start_ns: 5_000_000_000, end_ns: 5_000_000_000, step_ns: 0, ..p };
    let _ = seer_logql::engine::execute(&Tiny, &expr, &instant);
});
