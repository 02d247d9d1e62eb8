//! Helpers shared by the processors that emit metrics: a classic (bucketed) histogram and the
//! construction of output series.

use seer_model::{Exemplar, Labels, METRIC_NAME, Sample, SeriesSamples, go_format_f};

/// A cumulative classic histogram over fixed bucket bounds (upper bounds, inclusive, as
/// Prometheus' `le`); `counts` has one more slot than the bounds, for `+Inf`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Histogram {
    /// Observations per bucket (not cumulative); the last slot is above every bound.
    pub counts: Vec<u64>,
    pub sum: f64,
    pub count: u64,
}

impl Histogram {
    pub fn new(bounds: &[f64]) -> Histogram {
        Histogram { counts: vec![0; bounds.len() + 1], sum: 0.0, count: 0 }
    }

    /// Records `v` and returns the index of the bucket it fell in.
    pub fn observe(&mut self, bounds: &[f64], v: f64) -> usize {
        let i = bucket_index(bounds, v);
        self.counts[i] += 1;
        self.sum += v;
        self.count += 1;
        i
    }

    /// Appends `<name>_bucket` (cumulative, one per bound and `+Inf`), `<name>_sum` and
    /// `<name>_count`. `exemplars[i]`, when given, is attached to bucket `i`.
    pub fn emit(
        &self,
        out: &mut Vec<SeriesSamples>,
        name: &str,
        base: &Labels,
        bounds: &[f64],
        t: i64,
        exemplars: Option<&[Option<Exemplar>]>,
    ) {
        let bucket = format!("{name}_bucket");
        let mut cum = 0u64;
        for (i, c) in self.counts.iter().enumerate() {
            cum += c;
            let le = bounds.get(i).map_or_else(|| "+Inf".to_string(), |b| go_format_f(*b));
            let ex = exemplars.and_then(|e| e.get(i).cloned().flatten());
            out.push(series(&bucket, base, &[("le", le)], t, cum as f64, ex.into_iter().collect()));
        }
        out.push(series(&format!("{name}_sum"), base, &[], t, self.sum, Vec::new()));
        out.push(series(&format!("{name}_count"), base, &[], t, self.count as f64, Vec::new()));
    }
}

/// The bucket `v` falls in: the first bound `>= v`, or the `+Inf` slot.
pub(crate) fn bucket_index(bounds: &[f64], v: f64) -> usize {
    bounds.partition_point(|b| *b < v)
}

/// `base` plus `__name__` and `extra`, as one series with one sample at `t`.
pub(crate) fn series(
    name: &str,
    base: &Labels,
    extra: &[(&str, String)],
    t: i64,
    v: f64,
    exemplars: Vec<Exemplar>,
) -> SeriesSamples {
    SeriesSamples { labels: named(name, base, extra), samples: vec![Sample { t, v }], exemplars }
}

/// `base` plus `__name__` and `extra`.
pub(crate) fn named(name: &str, base: &Labels, extra: &[(&str, String)]) -> Labels {
    let mut b = base.to_builder();
    b.set(METRIC_NAME.to_string(), name.to_string());
    for (n, v) in extra {
        b.set(n.to_string(), v.clone());
    }
    b.build()
}

/// An exemplar carrying a trace id (lower-case hex) as its `trace_id` label.
pub(crate) fn trace_exemplar(trace_id: &[u8; 16], t_ms: i64, v: f64) -> Exemplar {
    Exemplar { labels: Labels::from_pairs([("trace_id", seer_model::trace::hex_id(trace_id))]), t: t_ms, v }
}

/// A Prometheus label name for an attribute key: every character outside `[A-Za-z0-9_]`
/// becomes `_`, and a leading digit gets a `_` in front (`http.method` → `http_method`).
pub(crate) fn sanitize_label_name(key: &str) -> String {
    let mut s: String = key.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

/// The label value of an attribute: strings as they are, numbers and booleans printed, the
/// rest (bytes, arrays, maps, empty) as no value.
pub(crate) fn attr_string(v: &seer_model::trace::AttrValue) -> String {
    use seer_model::trace::AttrValue;
    match v {
        AttrValue::Str(s) => s.clone(),
        AttrValue::Bool(b) => b.to_string(),
        AttrValue::Int(i) => i.to_string(),
        AttrValue::Float(f) => go_format_f(*f),
        AttrValue::Bytes(_) | AttrValue::Array(_) | AttrValue::Map(_) | AttrValue::Empty => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_inclusive_upper_bounds() {
        let b = [0.1, 0.2, 0.4];
        assert_eq!(bucket_index(&b, 0.05), 0);
        assert_eq!(bucket_index(&b, 0.1), 0);
        assert_eq!(bucket_index(&b, 0.11), 1);
        assert_eq!(bucket_index(&b, 0.4), 2);
        assert_eq!(bucket_index(&b, 5.0), 3);
    }

    #[test]
    fn emit_is_cumulative() {
        let b = [1.0, 2.0];
        let mut h = Histogram::new(&b);
        for v in [0.5, 1.5, 1.7, 9.0] {
            h.observe(&b, v);
        }
        let mut out = Vec::new();
        h.emit(&mut out, "x", &Labels::from_pairs([("a", "1")]), &b, 7, None);
        let got: Vec<String> = out.iter().map(|s| format!("{} {}", s.labels, s.samples[0].v)).collect();
        assert_eq!(
            got,
            [
                r#"{__name__="x_bucket", a="1", le="1"} 1"#,
                r#"{__name__="x_bucket", a="1", le="2"} 3"#,
                r#"{__name__="x_bucket", a="1", le="+Inf"} 4"#,
                r#"{__name__="x_sum", a="1"} 12.7"#,
                r#"{__name__="x_count", a="1"} 4"#,
            ]
        );
        assert!(out.iter().all(|s| s.samples[0].t == 7));
    }

    #[test]
    fn label_names() {
        assert_eq!(sanitize_label_name("http.method"), "http_method");
        assert_eq!(sanitize_label_name("9lives"), "_9lives");
        assert_eq!(sanitize_label_name("k8s-pod/name"), "k8s_pod_name");
    }
}
