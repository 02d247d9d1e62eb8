//! Span metrics, as Tempo's metrics-generator `span-metrics` processor: RED metrics per
//! service, span name, span kind and status code (plus configured attribute dimensions).
//!
//! Emitted families (cumulative; labels `service`, `span_name`, `span_kind` such as
//! `SPAN_KIND_SERVER`, `status_code` such as `STATUS_CODE_ERROR`, the optional
//! `status_message` and one label per configured dimension):
//!
//! * `traces_spanmetrics_calls_total`: spans counted; the error rate is
//!   `sum(rate(traces_spanmetrics_calls_total{status_code="STATUS_CODE_ERROR"}[5m]))` over
//!   the same without the matcher;
//! * `traces_spanmetrics_latency_bucket{le}`, `_sum`, `_count`: span durations in seconds;
//! * `traces_spanmetrics_size_total`: bytes of the spans as OTLP protobuf `Span` messages
//!   (resource and scope not included);
//! * `seer_spanmetrics_series_limited_spans_total`: spans not counted because `max_series`
//!   series existed already.
//!
//! Exemplars: each series remembers the trace id of the latest span counted in it, and each
//! latency bucket the latest span that fell in it; [`SpanMetrics::collect`] attaches them
//! (`trace_id` label, lower-case hex) to `calls_total` (value 1) and to the buckets (value:
//! the duration in seconds), timestamped with the span's end.

use crate::config::{ConfigDuration, ConfigError, check_buckets};
use crate::metrics::{Histogram, attr_string, sanitize_label_name, series, trace_exemplar};
use seer_model::trace::{Attr, AttrValue, Span, SpanKind, StatusCode, TraceId, find_attr};
use seer_model::{Exemplar, Labels, MetricMetadata, MetricType, SeriesSamples};
use serde::Deserialize;
use std::collections::HashMap;

/// Tempo's default latency buckets, in seconds.
pub const DEFAULT_LATENCY_BUCKETS: [f64; 12] =
    [0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.02, 2.05, 4.10];

/// `span_metrics:` of a tenant.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SpanMetricsConfig {
    /// Whether the tenant's spans feed span metrics (true).
    #[serde(default = "crate::config::yes")]
    pub enabled: bool,
    /// Latency bucket upper bounds in seconds (Tempo's: 0.002 ... 4.10; `+Inf` is implied).
    #[serde(default = "d_buckets")]
    pub histogram_buckets: Vec<f64>,
    /// Which intrinsic labels are added.
    #[serde(default)]
    pub intrinsic_dimensions: IntrinsicDimensions,
    /// Span attributes (looked up on the span, then on its resource) added as labels; the
    /// label name is the key with every character outside `[A-Za-z0-9_]` turned into `_`,
    /// prefixed with `__` when it collides with an intrinsic label (Tempo's rule).
    #[serde(default)]
    pub dimensions: Vec<String>,
    /// Series (label sets) kept at most; spans of further series are counted in
    /// `seer_spanmetrics_series_limited_spans_total` (10000).
    #[serde(default = "d_max_series")]
    pub max_series: usize,
    /// A series no span updated for this long is removed by
    /// [`SpanMetrics::remove_stale`] (15m, as Tempo's registry).
    #[serde(default = "d_stale")]
    pub stale_duration: ConfigDuration,
}

/// `span_metrics.intrinsic_dimensions:` (Tempo's names and defaults).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IntrinsicDimensions {
    /// `service` (true).
    #[serde(default = "yes")]
    pub service: bool,
    /// `span_name` (true).
    #[serde(default = "yes")]
    pub span_name: bool,
    /// `span_kind` (true).
    #[serde(default = "yes")]
    pub span_kind: bool,
    /// `status_code` (true).
    #[serde(default = "yes")]
    pub status_code: bool,
    /// `status_message` (false: arbitrary text, high cardinality).
    #[serde(default)]
    pub status_message: bool,
}

fn yes() -> bool {
    true
}
fn d_buckets() -> Vec<f64> {
    DEFAULT_LATENCY_BUCKETS.to_vec()
}
fn d_max_series() -> usize {
    10_000
}
fn d_stale() -> ConfigDuration {
    ConfigDuration::from_millis(15 * 60_000)
}

impl Default for IntrinsicDimensions {
    fn default() -> IntrinsicDimensions {
        IntrinsicDimensions {
            service: true,
            span_name: true,
            span_kind: true,
            status_code: true,
            status_message: false,
        }
    }
}

impl Default for SpanMetricsConfig {
    fn default() -> SpanMetricsConfig {
        SpanMetricsConfig {
            enabled: true,
            histogram_buckets: d_buckets(),
            intrinsic_dimensions: IntrinsicDimensions::default(),
            dimensions: Vec::new(),
            max_series: d_max_series(),
            stale_duration: d_stale(),
        }
    }
}

/// Tempo's label value of a span kind (`SPAN_KIND_SERVER`, ...).
pub fn span_kind_label(k: SpanKind) -> &'static str {
    match k {
        SpanKind::Unspecified => "SPAN_KIND_UNSPECIFIED",
        SpanKind::Internal => "SPAN_KIND_INTERNAL",
        SpanKind::Server => "SPAN_KIND_SERVER",
        SpanKind::Client => "SPAN_KIND_CLIENT",
        SpanKind::Producer => "SPAN_KIND_PRODUCER",
        SpanKind::Consumer => "SPAN_KIND_CONSUMER",
    }
}

/// Tempo's label value of a status code (`STATUS_CODE_ERROR`, ...).
pub fn status_code_label(s: StatusCode) -> &'static str {
    match s {
        StatusCode::Unset => "STATUS_CODE_UNSET",
        StatusCode::Ok => "STATUS_CODE_OK",
        StatusCode::Error => "STATUS_CODE_ERROR",
    }
}

/// What fills one label of a series.
#[derive(Clone, Debug, PartialEq)]
enum Slot {
    Service,
    SpanName,
    SpanKind,
    StatusCode,
    StatusMessage,
    /// An attribute key.
    Attr(String),
}

/// The latest span seen for an exemplar.
#[derive(Clone, Copy, Debug, PartialEq)]
struct LastSpan {
    trace_id: TraceId,
    t_ms: i64,
    seconds: f64,
}

#[derive(Clone, Debug)]
struct SeriesState {
    labels: Labels,
    calls: u64,
    size: u64,
    latency: Histogram,
    last: Option<LastSpan>,
    /// Latest span per latency bucket.
    bucket_last: Vec<Option<LastSpan>>,
    /// Updated since the last `remove_stale`.
    touched: bool,
    /// The `now_ms` of the last `remove_stale` that found the series touched.
    seen_ms: i64,
}

/// The span-metrics processor of one tenant: cumulative counters and histograms per series.
#[derive(Clone, Debug)]
pub struct SpanMetrics {
    bounds: Vec<f64>,
    /// Label names and what fills them, in slot order.
    slots: Vec<(String, Slot)>,
    max_series: usize,
    stale_ms: i64,
    /// Keyed by the slot values of the series.
    series: HashMap<Vec<String>, SeriesState>,
    series_limited: u64,
}

const INTRINSIC_NAMES: [&str; 5] = ["service", "span_name", "span_kind", "status_code", "status_message"];

impl SpanMetrics {
    /// Checks the buckets and resolves the label names.
    pub fn new(cfg: &SpanMetricsConfig) -> Result<SpanMetrics, ConfigError> {
        check_buckets("span_metrics.histogram_buckets", &cfg.histogram_buckets)?;
        let i = cfg.intrinsic_dimensions;
        let mut slots: Vec<(String, Slot)> = [
            (i.service, Slot::Service),
            (i.span_name, Slot::SpanName),
            (i.span_kind, Slot::SpanKind),
            (i.status_code, Slot::StatusCode),
            (i.status_message, Slot::StatusMessage),
        ]
        .into_iter()
        .zip(INTRINSIC_NAMES)
        .filter(|((on, _), _)| *on)
        .map(|((_, slot), name)| (name.to_string(), slot))
        .collect();
        for key in &cfg.dimensions {
            let mut name = sanitize_label_name(key);
            if INTRINSIC_NAMES.contains(&name.as_str()) {
                name.insert_str(0, "__");
            }
            if !slots.iter().any(|(n, _)| *n == name) {
                slots.push((name, Slot::Attr(key.clone())));
            }
        }
        Ok(SpanMetrics {
            bounds: cfg.histogram_buckets.clone(),
            slots,
            max_series: cfg.max_series,
            stale_ms: i64::try_from(cfg.stale_duration.0.as_millis()).unwrap_or(i64::MAX),
            series: HashMap::new(),
            series_limited: 0,
        })
    }

    /// Counts the spans.
    pub fn observe(&mut self, spans: &[Span]) {
        for span in spans {
            let key: Vec<String> = self.slots.iter().map(|(_, slot)| slot_value(slot, span)).collect();
            if !self.series.contains_key(&key) && self.series.len() >= self.max_series {
                self.series_limited += 1;
                continue;
            }
            let (slots, bounds) = (&self.slots, &self.bounds);
            let st = self.series.entry(key).or_insert_with_key(|key| SeriesState {
                labels: Labels::from_pairs(slots.iter().zip(key).map(|((n, _), v)| (n.as_str(), v.as_str()))),
                calls: 0,
                size: 0,
                latency: Histogram::new(bounds),
                last: None,
                bucket_last: vec![None; bounds.len() + 1],
                touched: true,
                seen_ms: 0,
            });
            let seconds = span.duration_ns() as f64 / 1e9;
            let last = LastSpan { trace_id: span.trace_id, t_ms: (span.end_ns / 1_000_000) as i64, seconds };
            st.calls += 1;
            st.size += span_size(span);
            let b = st.latency.observe(bounds, seconds);
            st.bucket_last[b] = Some(last);
            st.last = Some(last);
            st.touched = true;
        }
    }

    /// Removes the series no span updated for `stale_duration`, judged by the times this is
    /// called with (call it periodically, e.g. at every collection).
    pub fn remove_stale(&mut self, now_ms: i64) {
        let stale_ms = self.stale_ms;
        self.series.retain(|_, st| {
            if st.touched {
                st.touched = false;
                st.seen_ms = now_ms;
            }
            now_ms.saturating_sub(st.seen_ms) <= stale_ms
        });
    }

    /// Series currently held.
    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    /// Every series with one sample at `now_ms` and its exemplars, sorted by label set
    /// within each family.
    pub fn collect(&self, now_ms: i64) -> Vec<SeriesSamples> {
        let mut states: Vec<&SeriesState> = self.series.values().collect();
        states.sort_by(|a, b| a.labels.cmp(&b.labels));
        let mut out = Vec::with_capacity(states.len() * (self.bounds.len() + 5) + 1);
        for st in &states {
            let ex: Vec<Exemplar> = st.last.iter().map(|l| trace_exemplar(&l.trace_id, l.t_ms, 1.0)).collect();
            out.push(series("traces_spanmetrics_calls_total", &st.labels, &[], now_ms, st.calls as f64, ex));
        }
        for st in &states {
            let ex: Vec<Option<Exemplar>> =
                st.bucket_last.iter().map(|l| l.map(|l| trace_exemplar(&l.trace_id, l.t_ms, l.seconds))).collect();
            st.latency.emit(&mut out, "traces_spanmetrics_latency", &st.labels, &self.bounds, now_ms, Some(&ex));
        }
        for st in &states {
            out.push(series("traces_spanmetrics_size_total", &st.labels, &[], now_ms, st.size as f64, Vec::new()));
        }
        let limited = self.series_limited as f64;
        let name = "seer_spanmetrics_series_limited_spans_total";
        out.push(series(name, &Labels::empty(), &[], now_ms, limited, Vec::new()));
        out
    }

    /// Type and help of the families [`SpanMetrics::collect`] emits.
    pub fn metadata() -> Vec<MetricMetadata> {
        [
            ("traces_spanmetrics_calls_total", MetricType::Counter, "Total count of the span.", ""),
            ("traces_spanmetrics_latency", MetricType::Histogram, "Duration of the span.", "seconds"),
            ("traces_spanmetrics_size_total", MetricType::Counter, "Total size of spans ingested.", "bytes"),
            (
                "seer_spanmetrics_series_limited_spans_total",
                MetricType::Counter,
                "Spans not counted in span metrics because max_series was reached.",
                "",
            ),
        ]
        .into_iter()
        .map(|(n, kind, h, u)| MetricMetadata {
            metric_family: n.to_string(),
            kind,
            help: h.to_string(),
            unit: u.to_string(),
        })
        .collect()
    }
}

/// The value a slot takes for a span ("" leaves the label out).
fn slot_value(slot: &Slot, span: &Span) -> String {
    match slot {
        Slot::Service => span.resource.service_name().to_string(),
        Slot::SpanName => span.name.clone(),
        Slot::SpanKind => span_kind_label(span.kind).to_string(),
        Slot::StatusCode => status_code_label(span.status).to_string(),
        Slot::StatusMessage => span.status_message.clone(),
        Slot::Attr(key) => find_attr(&span.attrs, key)
            .or_else(|| find_attr(&span.resource.attrs, key))
            .map(attr_string)
            .unwrap_or_default(),
    }
}

// --- OTLP protobuf size of a span -----------------------------------------------------------

fn varint_len(v: u64) -> u64 {
    (64 - (v | 1).leading_zeros() as u64).div_ceil(7)
}

/// A length-delimited field of `len` bytes with a one-byte tag.
fn ld(len: u64) -> u64 {
    1 + varint_len(len) + len
}

/// A non-empty string or bytes field.
fn opt_ld(len: usize) -> u64 {
    if len == 0 { 0 } else { ld(len as u64) }
}

/// A non-zero varint field with a one-byte tag.
fn opt_varint(v: u64) -> u64 {
    if v == 0 { 0 } else { 1 + varint_len(v) }
}

fn any_value_size(v: &AttrValue) -> u64 {
    match v {
        AttrValue::Str(s) => ld(s.len() as u64),
        AttrValue::Bool(_) => 2,
        AttrValue::Int(i) => 1 + varint_len(*i as u64),
        AttrValue::Float(_) => 9,
        AttrValue::Bytes(b) => ld(b.len() as u64),
        AttrValue::Array(a) => ld(a.iter().map(|v| ld(any_value_size(v))).sum()),
        AttrValue::Map(m) => ld(m.iter().map(|kv| ld(key_value_size(kv))).sum()),
        AttrValue::Empty => 0,
    }
}

fn key_value_size(a: &Attr) -> u64 {
    opt_ld(a.key.len()) + ld(any_value_size(&a.value))
}

fn attrs_size(attrs: &[Attr]) -> u64 {
    attrs.iter().map(|a| ld(key_value_size(a))).sum()
}

/// The encoded size of the span as an OTLP `opentelemetry.proto.trace.v1.Span` message
/// (what Tempo's `traces_spanmetrics_size_total` counts).
pub fn span_size(s: &Span) -> u64 {
    let fixed64 = |v: u64| if v == 0 { 0 } else { 9 };
    let mut n = ld(16) + ld(8); // trace_id, span_id
    n += opt_ld(s.trace_state.len());
    if !s.is_root() {
        n += ld(8);
    }
    n += if s.flags == 0 { 0 } else { 6 }; // field 16: two-byte tag + fixed32
    n += opt_ld(s.name.len());
    n += opt_varint(s.kind as u64);
    n += fixed64(s.start_ns) + fixed64(s.end_ns);
    n += attrs_size(&s.attrs) + opt_varint(s.dropped_attrs as u64);
    for e in &s.events {
        let m = fixed64(e.time_ns) + opt_ld(e.name.len()) + attrs_size(&e.attrs) + opt_varint(e.dropped_attrs as u64);
        n += ld(m);
    }
    n += opt_varint(s.dropped_events as u64);
    for l in &s.links {
        let m = ld(16)
            + ld(8)
            + opt_ld(l.trace_state.len())
            + attrs_size(&l.attrs)
            + opt_varint(l.dropped_attrs as u64)
            + if l.flags == 0 { 0 } else { 5 };
        n += ld(m);
    }
    n += opt_varint(s.dropped_links as u64);
    let status = opt_ld(s.status_message.len()) + opt_varint(s.status as u64);
    if status > 0 {
        n += ld(status);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{V, from_v, span, tid};

    const MS: u64 = 1_000_000;

    fn values(out: &[SeriesSamples], name: &str) -> Vec<(String, f64)> {
        out.iter()
            .filter(|s| s.labels.metric_name() == Some(name))
            .map(|s| {
                let mut b = s.labels.to_builder();
                b.del("__name__");
                (b.build().to_string(), s.samples[0].v)
            })
            .collect()
    }

    #[test]
    fn three_spans_fill_the_buckets() {
        // 5 ms, 20 ms and 1 s with Tempo's default buckets.
        let mut m = SpanMetrics::new(&SpanMetricsConfig::default()).unwrap();
        let mut spans = Vec::new();
        for (i, ms) in [5u64, 20, 1000].into_iter().enumerate() {
            let mut s = span(tid(i as u8 + 1), 1, 0, "shop", 0, ms * MS);
            s.name = "GET /cart".into();
            s.kind = SpanKind::Server;
            spans.push(s);
        }
        m.observe(&spans);
        let out = m.collect(60_000);
        let l =
            r#"{service="shop", span_kind="SPAN_KIND_SERVER", span_name="GET /cart", status_code="STATUS_CODE_UNSET"}"#;
        assert_eq!(values(&out, "traces_spanmetrics_calls_total"), [(l.to_string(), 3.0)]);
        let buckets: Vec<f64> = values(&out, "traces_spanmetrics_latency_bucket").iter().map(|x| x.1).collect();
        //                 le: .002 .004 .008 .016 .032 .064 .128 .256 .512 1.02 2.05 4.1 +Inf
        assert_eq!(buckets, [0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 3.0, 3.0, 3.0, 3.0]);
        let les: Vec<String> = out
            .iter()
            .filter(|s| s.labels.metric_name() == Some("traces_spanmetrics_latency_bucket"))
            .map(|s| s.labels.get("le").unwrap().to_string())
            .collect();
        assert_eq!(les[9..], ["1.02", "2.05", "4.1", "+Inf"]);
        assert_eq!(values(&out, "traces_spanmetrics_latency_count")[0].1, 3.0);
        assert!((values(&out, "traces_spanmetrics_latency_sum")[0].1 - 1.025).abs() < 1e-12);
        assert!(out.iter().all(|s| s.samples[0].t == 60_000));
        // Exemplars: the 5 ms span in le=0.008, the 20 ms one in le=0.032, the last span on calls.
        let ex = |name: &str, le: Option<&str>| {
            let s = out.iter().find(|s| s.labels.metric_name() == Some(name) && s.labels.get("le") == le).unwrap();
            s.exemplars.iter().map(|e| (e.labels.get("trace_id").unwrap().to_string(), e.v)).collect::<Vec<_>>()
        };
        assert_eq!(ex("traces_spanmetrics_latency_bucket", Some("0.008")), [("01".repeat(16), 0.005)]);
        assert_eq!(ex("traces_spanmetrics_latency_bucket", Some("0.032")), [("02".repeat(16), 0.02)]);
        assert_eq!(ex("traces_spanmetrics_latency_bucket", Some("0.004")), []);
        assert_eq!(ex("traces_spanmetrics_calls_total", None), [("03".repeat(16), 1.0)]);
        let e = &out.iter().find(|s| s.labels.get("le") == Some("1.02")).unwrap().exemplars[0];
        assert_eq!(e.t, 1000, "exemplar time is the span's end in ms");
    }

    #[test]
    fn series_per_status_and_dimensions() {
        let cfg = SpanMetricsConfig {
            dimensions: vec!["http.method".into(), "status_code".into(), "deployment.environment".into()],
            ..Default::default()
        };
        let mut m = SpanMetrics::new(&cfg).unwrap();
        let mk = |status, method: &str| {
            let mut s = span(tid(1), 1, 0, "api", 0, MS);
            s.status = status;
            s.attrs.push(Attr::new("http.method", AttrValue::Str(method.into())));
            s.attrs.push(Attr::new("status_code", AttrValue::Int(503)));
            let mut r = (*s.resource).clone();
            r.attrs.push(Attr::new("deployment.environment", AttrValue::Str("prod".into())));
            s.resource = std::sync::Arc::new(r);
            s
        };
        m.observe(&[mk(StatusCode::Error, "GET"), mk(StatusCode::Ok, "GET"), mk(StatusCode::Error, "GET")]);
        m.observe(&[mk(StatusCode::Error, "POST")]);
        let out = m.collect(0);
        let calls = values(&out, "traces_spanmetrics_calls_total");
        let base = r#"__status_code="503", deployment_environment="prod""#;
        let tail = r#"service="api", span_kind="SPAN_KIND_INTERNAL", span_name="op""#;
        assert_eq!(
            calls,
            [
                (format!(r#"{{{base}, http_method="GET", {tail}, status_code="STATUS_CODE_ERROR"}}"#), 2.0),
                (format!(r#"{{{base}, http_method="GET", {tail}, status_code="STATUS_CODE_OK"}}"#), 1.0),
                (format!(r#"{{{base}, http_method="POST", {tail}, status_code="STATUS_CODE_ERROR"}}"#), 1.0),
            ]
        );
        // Error ratio from calls_total: 3 of 4.
        let errors: f64 = calls.iter().filter(|(l, _)| l.contains("STATUS_CODE_ERROR")).map(|(_, v)| v).sum::<f64>();
        assert_eq!(errors / calls.iter().map(|(_, v)| v).sum::<f64>(), 0.75);
    }

    #[test]
    fn intrinsic_dimensions_can_be_turned_off() {
        let cfg = SpanMetricsConfig {
            intrinsic_dimensions: IntrinsicDimensions { span_kind: false, status_message: true, ..Default::default() },
            ..Default::default()
        };
        let mut m = SpanMetrics::new(&cfg).unwrap();
        let mut s = span(tid(1), 1, 0, "api", 0, MS);
        s.status_message = "boom".into();
        m.observe(&[s]);
        let calls = values(&m.collect(0), "traces_spanmetrics_calls_total");
        assert_eq!(
            calls[0].0,
            r#"{service="api", span_name="op", status_code="STATUS_CODE_UNSET", status_message="boom"}"#
        );
    }

    #[test]
    fn max_series_and_staleness() {
        let cfg = SpanMetricsConfig {
            max_series: 2,
            stale_duration: ConfigDuration::from_millis(60_000),
            ..Default::default()
        };
        let mut m = SpanMetrics::new(&cfg).unwrap();
        let named_span = |name: &str| {
            let mut s = span(tid(1), 1, 0, "api", 0, MS);
            s.name = name.into();
            s
        };
        m.observe(&[named_span("a"), named_span("b"), named_span("c"), named_span("a"), named_span("d")]);
        assert_eq!(m.series_count(), 2);
        let out = m.collect(0);
        assert_eq!(values(&out, "seer_spanmetrics_series_limited_spans_total"), [("{}".to_string(), 2.0)]);
        assert_eq!(values(&out, "traces_spanmetrics_calls_total").iter().map(|x| x.1).collect::<Vec<_>>(), [2.0, 1.0]);
        // Sweeps at 0 s and 30 s; only "a" is updated in between; at 61 s "b" is stale.
        m.remove_stale(0);
        m.observe(&[named_span("a")]);
        m.remove_stale(30_000);
        m.remove_stale(61_000);
        assert_eq!(m.series_count(), 1);
        m.observe(&[named_span("c")]);
        assert_eq!(m.series_count(), 2, "room for a new series again");
        m.remove_stale(91_000);
        assert_eq!(m.series_count(), 1, "a was last seen at 30 s");
    }

    #[test]
    fn otlp_span_size() {
        // trace_id 18 + span_id 10 + name "op" 4 + kind 2 + start 9 + end 9 = 52 bytes.
        let mut s = span(tid(1), 1, 0, "api", 5, 10);
        assert_eq!(span_size(&s), 52);
        // A parent (+10), an attribute {"k": "v"} (KeyValue 3 + AnyValue 2+3 = 8, framed 10),
        // an int attribute {"n": -1} (3 + 2+11 = 16, framed 18), status ERROR "x" (3+2 = 5, framed 7).
        s.parent_span_id = [1; 8];
        s.attrs.push(Attr::new("k", AttrValue::Str("v".into())));
        s.attrs.push(Attr::new("n", AttrValue::Int(-1)));
        s.status = StatusCode::Error;
        s.status_message = "x".into();
        assert_eq!(span_size(&s), 52 + 10 + 10 + 18 + 7);
        assert_eq!(varint_len(0), 1);
        assert_eq!(varint_len(127), 1);
        assert_eq!(varint_len(128), 2);
        assert_eq!(varint_len(u64::MAX), 10);
    }

    #[test]
    fn config_shape_and_checks() {
        let c: SpanMetricsConfig = from_v(V::M(vec![
            ("enabled", V::B(true)),
            ("histogram_buckets", V::L(vec![V::F(0.1), V::U(1)])),
            ("intrinsic_dimensions", V::M(vec![("status_message", V::B(true))])),
            ("dimensions", V::L(vec![V::S("http.route")])),
            ("stale_duration", V::S("5m")),
        ]))
        .unwrap();
        assert_eq!(c.histogram_buckets, [0.1, 1.0]);
        assert!(c.intrinsic_dimensions.service && c.intrinsic_dimensions.status_message);
        assert_eq!(c.max_series, 10_000);
        assert_eq!(c.stale_duration, ConfigDuration::from_millis(300_000));
        let d: SpanMetricsConfig = from_v(V::M(vec![])).unwrap();
        assert_eq!(d, SpanMetricsConfig::default());
        assert_eq!(d.histogram_buckets, DEFAULT_LATENCY_BUCKETS);
        let bad = SpanMetricsConfig { histogram_buckets: vec![1.0, 0.5], ..Default::default() };
        assert!(matches!(SpanMetrics::new(&bad), Err(ConfigError::Buckets(_))));
    }
}
