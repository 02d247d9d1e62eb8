//! Sampling: which spans Seer keeps.
//!
//! Three deciders share one notion of "a share of the traces":
//!
//! * [`HeadSampler`] decides span by span as they arrive, by a percentage per service.
//! * [`TailSampler`] buffers whole traces and decides each once it looks complete, by the
//!   ordered rules of a [`TailPolicy`] (errors, latency, a probabilistic share, ...).
//! * [`long_term_keep`] applies the same [`TailPolicy`] to a completed trace that is already
//!   stored, so the store can keep every trace for a short window and only the survivors in
//!   the long retention tier.
//!
//! # Consistent probability
//!
//! Every probabilistic decision compares the trace id's *randomness* with a threshold, as
//! OpenTelemetry's consistent probability sampling (W3C Trace Context level 2 random trace
//! ids) defines it: the randomness is the rightmost 7 bytes (56 bits) of the trace id read
//! big-endian ([`trace_randomness`]); keeping `p` % means keeping the trace when its
//! randomness is at least the rejection threshold `T = 2^56 - round(p/100 * 2^56)`
//! ([`rejection_threshold`]). No hash is involved, so the decision for a trace id is the same
//! in every process and every version, and agrees with SDKs and collectors that sample the
//! same way. Two consequences, both intended:
//!
//! * decisions nest: a trace kept at `p` % is kept at every rate above `p`. Head sampling at
//!   10 % followed by a tail share of 1 % keeps 1 % of all traffic (the tail share is a share
//!   of all traces, not of those the head kept); a tail share above the head rate keeps every
//!   trace the head let through;
//! * trace ids that are not random in their last 7 bytes (hand-made ids such as `…0001`)
//!   sample badly; every W3C, OpenTelemetry, Jaeger, Zipkin and X-Ray id generator makes
//!   those bytes random.
//!
//! # Head sampling across services
//!
//! A span's head decision uses the rate of *its own* service (`service.name` of its
//! resource), or the default rate. Because the decision is consistent, all spans of a trace
//! get the same decision wherever the services share a rate, so a trace is never cut in half
//! by sampling alone. Where rates differ, the kept spans of a trace are exactly those of the
//! services whose rate is high enough for that trace: with `payment: 100` and a default of
//! 10 %, every payment span is kept, and one trace in ten is kept whole. Deciding on the root
//! service instead would need the root span, which may arrive last, in another batch, or at
//! another replica; the per-span rule needs nothing but the span.

mod policy;
mod tail;

pub use policy::{
    AttributeMatch, PolicyConfig, PolicyKind, Rule, RuleKind, TailPolicy, default_policies, long_term_keep,
};
pub use tail::{Decided, TailSampler, TailSamplingConfig};

use crate::config::{ConfigError, check_percent};
use crate::metrics::series;
use seer_model::trace::{Span, TraceId};
use seer_model::{Labels, MetricMetadata, MetricType, SeriesSamples};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// `sampling:` of a tenant.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SamplingConfig {
    /// `sampling.head`.
    #[serde(default)]
    pub head: HeadSamplingConfig,
    /// `sampling.tail`.
    #[serde(default)]
    pub tail: TailSamplingConfig,
}

/// `sampling.head:` percentages of traces kept as spans arrive.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HeadSamplingConfig {
    /// Percentage kept for services not listed in `services` (100: keep everything).
    #[serde(default = "hundred")]
    pub default_percent: f64,
    /// Percentage per `service.name`, e.g. `payment: 100`, `logging: 1`.
    #[serde(default)]
    pub services: BTreeMap<String, f64>,
}

fn hundred() -> f64 {
    100.0
}

impl Default for HeadSamplingConfig {
    fn default() -> HeadSamplingConfig {
        HeadSamplingConfig { default_percent: 100.0, services: BTreeMap::new() }
    }
}

/// 2^56, the number of distinct randomness values.
const RANDOMNESS_RANGE: u64 = 1 << 56;

/// The randomness of a trace id: its rightmost 7 bytes as a big-endian number below 2^56.
pub fn trace_randomness(id: &TraceId) -> u64 {
    let mut b = [0u8; 8];
    b[1..].copy_from_slice(&id[9..]);
    u64::from_be_bytes(b)
}

/// The rejection threshold that keeps `percent` % of random trace ids: keep when the
/// randomness is `>=` it. 100 gives 0 (keep all); 0 (or NaN) gives 2^56 (keep none).
pub fn rejection_threshold(percent: f64) -> u64 {
    let p = if percent.is_nan() { 0.0 } else { percent.clamp(0.0, 100.0) / 100.0 };
    let keep = (p * RANDOMNESS_RANGE as f64).round() as u64;
    RANDOMNESS_RANGE - keep.min(RANDOMNESS_RANGE)
}

/// The consistent decision for `id` against a [`rejection_threshold`].
pub fn consistent_keep(id: &TraceId, threshold: u64) -> bool {
    trace_randomness(id) >= threshold
}

/// Why a span or trace was kept or dropped; the `reason` label of the sampling counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The head sampling rate of the span's service.
    Head,
    /// A tail `error` rule: some span has status ERROR.
    Error,
    /// A tail `latency` rule: the trace lasted at least the threshold.
    Latency,
    /// A tail `probabilistic` rule: the trace id fell in the kept share.
    Probabilistic,
    /// A tail `always` rule.
    Always,
    /// No tail rule kept the trace.
    NoMatch,
}

impl Reason {
    /// Every reason, in the order of their indices.
    pub const ALL: [Reason; 6] =
        [Reason::Head, Reason::Error, Reason::Latency, Reason::Probabilistic, Reason::Always, Reason::NoMatch];

    /// The label value: `head`, `tail_error`, `tail_latency`, `tail_probabilistic`,
    /// `tail_always`, `tail_no_match`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Head => "head",
            Reason::Error => "tail_error",
            Reason::Latency => "tail_latency",
            Reason::Probabilistic => "tail_probabilistic",
            Reason::Always => "tail_always",
            Reason::NoMatch => "tail_no_match",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A decision about a whole trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub keep: bool,
    pub reason: Reason,
}

/// Counters of sampling decisions, exported as `seer_sampling_*` metrics.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SamplingStats {
    /// Spans by `[kept as 0 / dropped as 1][reason index]`.
    spans: [[u64; 6]; 2],
    /// Traces by `[kept as 0 / dropped as 1][reason index]` (tail decisions only: head
    /// sampling sees spans, never whole traces).
    traces: [[u64; 6]; 2],
    /// Traces the tail sampler decided before their wait was over because the buffer held
    /// `max_traces` traces.
    pub early_buffer_full: u64,
    /// Traces the tail sampler decided early because they reached `max_spans_per_trace`.
    pub early_too_large: u64,
    /// Spans that arrived after their trace was decided and were given the same decision.
    pub late_spans: u64,
}

impl SamplingStats {
    /// Counts `spans` spans and `traces` traces under one decision.
    pub fn record(&mut self, keep: bool, reason: Reason, spans: u64, traces: u64) {
        let d = usize::from(!keep);
        self.spans[d][reason.index()] += spans;
        self.traces[d][reason.index()] += traces;
    }

    /// Spans counted under a decision.
    pub fn spans(&self, keep: bool, reason: Reason) -> u64 {
        self.spans[usize::from(!keep)][reason.index()]
    }

    /// Traces counted under a decision.
    pub fn traces(&self, keep: bool, reason: Reason) -> u64 {
        self.traces[usize::from(!keep)][reason.index()]
    }

    /// Adds `other` (e.g. the head and tail samplers' counters of one tenant).
    pub fn add(&mut self, other: &SamplingStats) {
        for d in 0..2 {
            for r in 0..6 {
                self.spans[d][r] += other.spans[d][r];
                self.traces[d][r] += other.traces[d][r];
            }
        }
        self.early_buffer_full += other.early_buffer_full;
        self.early_too_large += other.early_too_large;
        self.late_spans += other.late_spans;
    }

    /// The counters as series with one sample at `now_ms`:
    /// `seer_sampling_spans_total{decision="kept"|"dropped", reason}` and
    /// `seer_sampling_traces_total{decision, reason}` (combinations counted at least once),
    /// `seer_sampling_tail_early_decisions_total{cause="buffer_full"|"trace_too_large"}` and
    /// `seer_sampling_tail_late_spans_total`.
    pub fn collect(&self, now_ms: i64) -> Vec<SeriesSamples> {
        let mut out = Vec::new();
        let none = Labels::empty();
        for (name, table) in [("seer_sampling_spans_total", &self.spans), ("seer_sampling_traces_total", &self.traces)]
        {
            for (d, decision) in ["kept", "dropped"].into_iter().enumerate() {
                for r in Reason::ALL {
                    let v = table[d][r.index()];
                    if v > 0 {
                        let extra = [("decision", decision.to_string()), ("reason", r.as_str().to_string())];
                        out.push(series(name, &none, &extra, now_ms, v as f64, Vec::new()));
                    }
                }
            }
        }
        for (cause, v) in [("buffer_full", self.early_buffer_full), ("trace_too_large", self.early_too_large)] {
            let extra = [("cause", cause.to_string())];
            out.push(series("seer_sampling_tail_early_decisions_total", &none, &extra, now_ms, v as f64, Vec::new()));
        }
        out.push(series("seer_sampling_tail_late_spans_total", &none, &[], now_ms, self.late_spans as f64, Vec::new()));
        out
    }

    /// Type and help of the families [`SamplingStats::collect`] emits.
    pub fn metadata() -> Vec<MetricMetadata> {
        [
            ("seer_sampling_spans_total", "Spans kept or dropped by sampling, by reason."),
            ("seer_sampling_traces_total", "Traces kept or dropped by tail sampling, by reason."),
            ("seer_sampling_tail_early_decisions_total", "Traces decided before their wait was over."),
            ("seer_sampling_tail_late_spans_total", "Spans that arrived after their trace was decided."),
        ]
        .into_iter()
        .map(|(n, h)| MetricMetadata {
            metric_family: n.to_string(),
            kind: MetricType::Counter,
            help: h.to_string(),
            unit: String::new(),
        })
        .collect()
    }
}

/// Head sampling of one tenant: keeps a consistent share of trace ids per service.
#[derive(Clone, Debug)]
pub struct HeadSampler {
    default_threshold: u64,
    services: HashMap<String, u64>,
    stats: SamplingStats,
}

impl HeadSampler {
    /// Checks the percentages and precomputes their thresholds.
    pub fn new(cfg: &HeadSamplingConfig) -> Result<HeadSampler, ConfigError> {
        check_percent("sampling.head.default_percent", cfg.default_percent)?;
        let mut services = HashMap::with_capacity(cfg.services.len());
        for (name, p) in &cfg.services {
            check_percent(&format!("sampling.head.services.{name}"), *p)?;
            services.insert(name.clone(), rejection_threshold(*p));
        }
        Ok(HeadSampler {
            default_threshold: rejection_threshold(cfg.default_percent),
            services,
            stats: Default::default(),
        })
    }

    /// True when every span is kept whatever its trace id.
    pub fn keeps_everything(&self) -> bool {
        self.default_threshold == 0 && self.services.values().all(|t| *t == 0)
    }

    /// The decision for one span, by its trace id and its service's rate.
    pub fn keep(&self, span: &Span) -> bool {
        let t = self.services.get(span.resource.service_name()).copied().unwrap_or(self.default_threshold);
        consistent_keep(&span.trace_id, t)
    }

    /// Keeps the spans [`HeadSampler::keep`] accepts and counts both sides.
    pub fn filter(&mut self, mut spans: Vec<Span>) -> Vec<Span> {
        let before = spans.len() as u64;
        if !self.keeps_everything() {
            spans.retain(|s| self.keep(s));
        }
        let kept = spans.len() as u64;
        self.stats.record(true, Reason::Head, kept, 0);
        self.stats.record(false, Reason::Head, before - kept, 0);
        spans
    }

    /// The counters so far.
    pub fn stats(&self) -> &SamplingStats {
        &self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{Rng, V, from_v, span};

    /// 4 standard deviations of a binomial count: the tolerance of every counted outcome.
    fn four_sigma(n: f64, p: f64) -> f64 {
        4.0 * (n * p * (1.0 - p)).sqrt()
    }

    #[test]
    fn randomness_is_the_last_seven_bytes() {
        let mut id = [0xffu8; 16];
        id[9..].copy_from_slice(&[0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07]);
        assert_eq!(trace_randomness(&id), 0x01_0203_0405_0607);
        assert_eq!(rejection_threshold(100.0), 0);
        assert_eq!(rejection_threshold(0.0), 1 << 56);
        assert_eq!(rejection_threshold(50.0), 1 << 55);
        assert_eq!(rejection_threshold(f64::NAN), 1 << 56);
        // The extremes: 100 % keeps randomness 0, 0 % drops randomness 2^56 - 1.
        assert!(consistent_keep(&[0; 16], rejection_threshold(100.0)));
        assert!(!consistent_keep(&[0xff; 16], rejection_threshold(0.0)));
    }

    #[test]
    fn one_percent_of_100k_random_trace_ids() {
        // n = 100,000, p = 0.01: expected 1000, sigma = sqrt(n p (1-p)) = 31.46, so 4 sigma
        // = 125.9 and the count must fall in [875, 1125].
        let s = HeadSampler::new(&HeadSamplingConfig { default_percent: 1.0, services: BTreeMap::new() }).unwrap();
        let mut rng = Rng(42);
        let n = 100_000;
        let kept = (0..n).filter(|_| s.keep(&span(rng.trace_id(), 1, 0, "shop", 0, 1))).count();
        let tol = four_sigma(n as f64, 0.01);
        assert!((tol - 125.86).abs() < 0.01, "{tol}");
        assert!((kept as f64 - 1000.0).abs() <= tol, "kept {kept} of {n}");
        // The figure this seed gives, so a change in the decision function is noticed.
        assert_eq!(kept, 970);
    }

    #[test]
    fn per_service_overrides() {
        let cfg = HeadSamplingConfig {
            default_percent: 10.0,
            services: BTreeMap::from([("payment".to_string(), 100.0), ("logging".to_string(), 0.0)]),
        };
        let mut s = HeadSampler::new(&cfg).unwrap();
        let mut rng = Rng(7);
        let n = 20_000;
        let mut batch = Vec::new();
        for _ in 0..n {
            let id = rng.trace_id();
            batch.push(span(id, 1, 0, "payment", 0, 1));
            batch.push(span(id, 2, 1, "frontend", 0, 1));
            batch.push(span(id, 3, 1, "logging", 0, 1));
        }
        let kept = s.filter(batch);
        let count = |svc: &str| kept.iter().filter(|s| s.resource.service_name() == svc).count();
        assert_eq!(count("payment"), n, "payment at 100 % keeps every payment span");
        assert_eq!(count("logging"), 0);
        // frontend at the default 10 %: 2000 expected, 4 sigma = 4 * sqrt(20000 * 0.1 * 0.9) = 169.7.
        let fe = count("frontend") as f64;
        assert!((fe - 2000.0).abs() <= four_sigma(n as f64, 0.1), "frontend kept {fe}");
        assert_eq!(fe, 2056.0, "the figure this seed gives");
        assert_eq!(s.stats().spans(true, Reason::Head), n as u64 + fe as u64);
        assert_eq!(s.stats().spans(false, Reason::Head), 3 * n as u64 - (n as u64 + fe as u64));
    }

    #[test]
    fn same_rate_keeps_whole_traces_and_decisions_repeat() {
        // Five services at the same rate: each trace is kept whole or dropped whole, and a
        // second sampler (another process) decides every span the same way.
        let cfg = HeadSamplingConfig { default_percent: 25.0, services: BTreeMap::new() };
        let (mut a, mut b) = (HeadSampler::new(&cfg).unwrap(), HeadSampler::new(&cfg).unwrap());
        let mut rng = Rng(99);
        let mut batch = Vec::new();
        for _ in 0..2000 {
            let id = rng.trace_id();
            for (i, svc) in ["a", "b", "c", "d", "e"].into_iter().enumerate() {
                batch.push(span(id, i as u64 + 1, i as u64, svc, 0, 1));
            }
        }
        let ka = a.filter(batch.clone());
        let kb = b.filter(batch);
        assert_eq!(ka, kb);
        let mut per_trace: HashMap<TraceId, usize> = HashMap::new();
        for s in &ka {
            *per_trace.entry(s.trace_id).or_default() += 1;
        }
        assert!(per_trace.values().all(|c| *c == 5), "a kept trace is kept whole");
        assert!(!per_trace.is_empty());
    }

    #[test]
    fn nested_rates_keep_supersets() {
        // A trace kept at 1 % is kept at 10 % and at 50 %.
        let mut rng = Rng(3);
        let (t1, t10, t50) = (rejection_threshold(1.0), rejection_threshold(10.0), rejection_threshold(50.0));
        for _ in 0..50_000 {
            let id = rng.trace_id();
            if consistent_keep(&id, t1) {
                assert!(consistent_keep(&id, t10) && consistent_keep(&id, t50));
            }
            if consistent_keep(&id, t10) {
                assert!(consistent_keep(&id, t50));
            }
        }
    }

    #[test]
    fn config_checks_and_defaults() {
        assert!(HeadSampler::new(&HeadSamplingConfig::default()).unwrap().keeps_everything());
        let bad = HeadSamplingConfig { default_percent: 101.0, services: BTreeMap::new() };
        assert!(matches!(HeadSampler::new(&bad), Err(ConfigError::Percent { .. })));
        let bad = HeadSamplingConfig { default_percent: 1.0, services: BTreeMap::from([("x".to_string(), -1.0)]) };
        assert_eq!(
            HeadSampler::new(&bad).unwrap_err().to_string(),
            "sampling.head.services.x: percentage -1 is not between 0 and 100"
        );
    }

    #[test]
    fn config_from_yaml_shape() {
        // sampling:
        //   head: {default_percent: 5, services: {payment: 100, logging: 1}}
        //   tail: {enabled: true, decision_wait: 5s, policies: [{type: error}, {type: latency, threshold: 1s}]}
        let v = V::M(vec![
            (
                "head",
                V::M(vec![
                    ("default_percent", V::U(5)),
                    ("services", V::M(vec![("payment", V::U(100)), ("logging", V::F(1.0))])),
                ]),
            ),
            (
                "tail",
                V::M(vec![
                    ("enabled", V::B(true)),
                    ("decision_wait", V::S("5s")),
                    (
                        "policies",
                        V::L(vec![
                            V::M(vec![("type", V::S("error"))]),
                            V::M(vec![("type", V::S("latency")), ("threshold", V::S("1s"))]),
                        ]),
                    ),
                ]),
            ),
        ]);
        let c: SamplingConfig = from_v(v).unwrap();
        assert_eq!(c.head.default_percent, 5.0);
        assert_eq!(c.head.services["logging"], 1.0);
        assert!(c.tail.enabled);
        assert_eq!(c.tail.decision_wait.0, std::time::Duration::from_secs(5));
        assert_eq!(c.tail.max_traces, 50_000);
        assert_eq!(c.tail.policies.len(), 2);
        assert_eq!(c.tail.policies[1].threshold.unwrap().0, std::time::Duration::from_secs(1));

        let empty: SamplingConfig = from_v(V::M(vec![])).unwrap();
        assert_eq!(empty, SamplingConfig::default());
        assert_eq!(empty.tail.policies, default_policies());

        let err = from_v::<SamplingConfig>(V::M(vec![("head", V::M(vec![("rate", V::U(1))]))])).unwrap_err();
        assert!(err.to_string().contains("unknown field `rate`"), "{err}");
        let err = from_v::<SamplingConfig>(V::M(vec![("tail", V::M(vec![("decision_wait", V::S("10"))]))]));
        assert!(err.unwrap_err().to_string().contains("not a valid duration"));
    }

    #[test]
    fn stats_series() {
        let mut s = SamplingStats::default();
        s.record(true, Reason::Head, 3, 0);
        s.record(false, Reason::NoMatch, 5, 2);
        s.late_spans = 1;
        let got: Vec<String> = s.collect(1000).iter().map(|x| format!("{} {}", x.labels, x.samples[0].v)).collect();
        assert_eq!(
            got,
            [
                r#"{__name__="seer_sampling_spans_total", decision="kept", reason="head"} 3"#,
                r#"{__name__="seer_sampling_spans_total", decision="dropped", reason="tail_no_match"} 5"#,
                r#"{__name__="seer_sampling_traces_total", decision="dropped", reason="tail_no_match"} 2"#,
                r#"{__name__="seer_sampling_tail_early_decisions_total", cause="buffer_full"} 0"#,
                r#"{__name__="seer_sampling_tail_early_decisions_total", cause="trace_too_large"} 0"#,
                r#"{__name__="seer_sampling_tail_late_spans_total"} 1"#,
            ]
        );
        let mut t = SamplingStats::default();
        t.add(&s);
        t.add(&s);
        assert_eq!(t.spans(false, Reason::NoMatch), 10);
        assert_eq!(t.late_spans, 2);
    }
}
