//! PromQL: any text either fails to parse or parses, prints back to parseable text, and
//! evaluates (instant and range) over a small store without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use seer_promqltest::storage::{MemStorage, Point};
use std::sync::OnceLock;

fn store() -> &'static MemStorage {
    static S: OnceLock<MemStorage> = OnceLock::new();
    S.get_or_init(|| {
        let mut s = MemStorage::default();
        for (name, job) in [("a", "x"), ("a", "y"), ("b", "x"), ("c_bucket", "x")] {
            let mut labels = vec![("__name__", name.to_string()), ("job", job.to_string())];
            if name == "c_bucket" {
                labels.push(("le", "1".into()));
            }
            let l = seer_model::Labels::from_pairs(labels);
            s.append(l, (0..40).map(|k| (k * 15_000, Point::F(k as f64 * 1.5))).collect());
        }
        let h = seer_model::FloatHistogram { count: 3.0, sum: 2.0, zero_count: 1.0, zero_threshold: 0.001, ..Default::default() };
        s.append(seer_model::Labels::from_pairs([("__name__", "h")]), (0..40).map(|k| (k * 15_000, Point::H(h.clone()))).collect());
        s
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(expr) = seer_promql::parser::parse(text) else { return };
    let printed = seer_promql::parser::printer::print(&expr);
    let again = seer_promql::parser::parse(&printed);
    assert!(again.is_ok(), "printed form does not parse: {text:?} -> {printed:?}: {:?}", again.err());
    let opts = seer_promql::EngineOptions { max_samples: 100_000, max_series: 1000, ..Default::default() };
    let _ = seer_promql::execute(store(), &opts, &expr, seer_promql::QueryParams::instant(300_000));
    let _ = seer_promql::execute(store(), &opts, &expr, seer_promql::QueryParams::range(0, 600_000, 60_000));
});
