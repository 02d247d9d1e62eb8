//! The tail sampler: buffers spans by trace until the trace looks complete, then decides the
//! whole trace with a [`TailPolicy`].

use super::policy::{PolicyConfig, TailPolicy, default_policies};
use super::{Reason, SamplingStats, Verdict};
use crate::config::{ConfigDuration, ConfigError};
use seer_model::trace::{Span, TraceId};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// `sampling.tail:`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TailSamplingConfig {
    /// Whether the tenant's traces go through the tail sampler (false).
    #[serde(default)]
    pub enabled: bool,
    /// A trace is decided once no span of it arrived for this long, or this long after its
    /// root span arrived (10s).
    #[serde(default = "d_wait")]
    pub decision_wait: ConfigDuration,
    /// A trace is decided at the latest this long after its first span arrived, even if
    /// spans keep coming (30s; taken as `decision_wait` when shorter).
    #[serde(default = "d_max_wait")]
    pub max_decision_wait: ConfigDuration,
    /// Traces buffered at most; when full, the oldest is decided early (50000).
    #[serde(default = "d_max_traces")]
    pub max_traces: usize,
    /// A trace reaching this many buffered spans is decided at once (10000).
    #[serde(default = "d_max_spans")]
    pub max_spans_per_trace: usize,
    /// Decisions remembered (oldest forgotten first) so that spans arriving after their
    /// trace was decided get the same decision (100000; 0 disables).
    #[serde(default = "d_cache")]
    pub decision_cache_size: usize,
    /// The rules, in order (default: `error`, `latency` 500ms, `probabilistic` 10).
    #[serde(default = "default_policies")]
    pub policies: Vec<PolicyConfig>,
}

fn d_wait() -> ConfigDuration {
    ConfigDuration::from_millis(10_000)
}
fn d_max_wait() -> ConfigDuration {
    ConfigDuration::from_millis(30_000)
}
fn d_max_traces() -> usize {
    50_000
}
fn d_max_spans() -> usize {
    10_000
}
fn d_cache() -> usize {
    100_000
}

impl Default for TailSamplingConfig {
    fn default() -> TailSamplingConfig {
        TailSamplingConfig {
            enabled: false,
            decision_wait: d_wait(),
            max_decision_wait: d_max_wait(),
            max_traces: d_max_traces(),
            max_spans_per_trace: d_max_spans(),
            decision_cache_size: d_cache(),
            policies: default_policies(),
        }
    }
}

/// A decided trace (or, for spans that arrived after the decision, the late spans of it).
#[derive(Clone, Debug, PartialEq)]
pub struct Decided {
    pub trace_id: TraceId,
    pub keep: bool,
    pub reason: Reason,
    /// The spans, in arrival order; the caller stores them when `keep` is true.
    pub spans: Vec<Span>,
}

/// A trace waiting for its decision.
#[derive(Debug)]
struct Pending {
    /// Position in `TailSampler::order`.
    seq: u64,
    first_ns: u64,
    last_ns: u64,
    /// When the root span arrived.
    root_ns: Option<u64>,
    spans: Vec<Span>,
}

/// Why a trace is decided before its deadline.
#[derive(Clone, Copy)]
enum Early {
    BufferFull,
    TooLarge,
}

/// Tail sampling of one tenant. Synchronous: the caller passes spans and the time in, and
/// polls for decisions.
#[derive(Debug)]
pub struct TailSampler {
    policy: TailPolicy,
    wait_ns: u64,
    max_wait_ns: u64,
    max_traces: usize,
    max_spans_per_trace: usize,
    pending: HashMap<TraceId, Pending>,
    /// Pending traces by arrival of their first span, oldest first.
    order: BTreeMap<u64, TraceId>,
    next_seq: u64,
    buffered_spans: usize,
    /// Decisions made but not yet returned by `poll`.
    ready: Vec<Decided>,
    cache: HashMap<TraceId, Verdict>,
    cache_order: VecDeque<TraceId>,
    cache_size: usize,
    stats: SamplingStats,
}

impl TailSampler {
    /// Checks the configuration and its policies (`enabled` is the caller's business).
    pub fn new(cfg: &TailSamplingConfig) -> Result<TailSampler, ConfigError> {
        if cfg.decision_wait.0.is_zero() {
            return Err(ConfigError::Zero("sampling.tail.decision_wait".into()));
        }
        if cfg.max_traces == 0 {
            return Err(ConfigError::Zero("sampling.tail.max_traces".into()));
        }
        if cfg.max_spans_per_trace == 0 {
            return Err(ConfigError::Zero("sampling.tail.max_spans_per_trace".into()));
        }
        Ok(TailSampler {
            policy: TailPolicy::new(&cfg.policies)?,
            wait_ns: cfg.decision_wait.as_nanos_u64(),
            max_wait_ns: cfg.max_decision_wait.as_nanos_u64().max(cfg.decision_wait.as_nanos_u64()),
            max_traces: cfg.max_traces,
            max_spans_per_trace: cfg.max_spans_per_trace,
            pending: HashMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
            buffered_spans: 0,
            ready: Vec::new(),
            cache: HashMap::new(),
            cache_order: VecDeque::new(),
            cache_size: cfg.decision_cache_size,
            stats: SamplingStats::default(),
        })
    }

    /// Buffers spans that arrived at `now_ns`. Spans of an already decided trace get that
    /// decision at once; a new trace arriving while `max_traces` are buffered forces the
    /// decision of the oldest one; a trace reaching `max_spans_per_trace` is decided at once.
    /// Such decisions are returned by the next [`TailSampler::poll`].
    pub fn offer(&mut self, spans: Vec<Span>, now_ns: u64) {
        // Decisions made during this call, so that further spans of the same trace join them.
        let mut decided_now: HashMap<TraceId, usize> = HashMap::new();
        for span in spans {
            let id = span.trace_id;
            if let Some(v) = self.cache.get(&id).copied() {
                self.stats.record(v.keep, v.reason, 1, 0);
                self.stats.late_spans += 1;
                match decided_now.get(&id) {
                    Some(&i) => self.ready[i].spans.push(span),
                    None => {
                        decided_now.insert(id, self.ready.len());
                        self.ready.push(Decided { trace_id: id, keep: v.keep, reason: v.reason, spans: vec![span] });
                    }
                }
                continue;
            }
            if !self.pending.contains_key(&id) {
                if self.pending.len() >= self.max_traces
                    && let Some((_, oldest)) = self.order.first_key_value()
                {
                    let oldest = *oldest;
                    let i = self.decide(oldest, Some(Early::BufferFull));
                    decided_now.insert(oldest, i);
                }
                let seq = self.next_seq;
                self.next_seq += 1;
                self.order.insert(seq, id);
                self.pending
                    .insert(id, Pending { seq, first_ns: now_ns, last_ns: now_ns, root_ns: None, spans: Vec::new() });
            }
            let p = self.pending.get_mut(&id).expect("inserted above");
            p.last_ns = now_ns;
            if span.is_root() && p.root_ns.is_none() {
                p.root_ns = Some(now_ns);
            }
            p.spans.push(span);
            self.buffered_spans += 1;
            if p.spans.len() >= self.max_spans_per_trace {
                let i = self.decide(id, Some(Early::TooLarge));
                decided_now.insert(id, i);
            }
        }
    }

    /// Decides every trace whose deadline is `<= now_ns` and returns them with the decisions
    /// made since the last poll, in the order they were made.
    pub fn poll(&mut self, now_ns: u64) -> Vec<Decided> {
        let due: Vec<TraceId> =
            self.order.values().filter(|id| self.deadline(&self.pending[*id]) <= now_ns).copied().collect();
        for id in due {
            self.decide(id, None);
        }
        std::mem::take(&mut self.ready)
    }

    /// Decides every buffered trace now, whatever its deadline (e.g. at shutdown).
    pub fn flush(&mut self) -> Vec<Decided> {
        let all: Vec<TraceId> = self.order.values().copied().collect();
        for id in all {
            self.decide(id, None);
        }
        std::mem::take(&mut self.ready)
    }

    /// Traces waiting for their decision.
    pub fn buffered_traces(&self) -> usize {
        self.pending.len()
    }

    /// Spans waiting for their trace's decision.
    pub fn buffered_spans(&self) -> usize {
        self.buffered_spans
    }

    /// The counters so far.
    pub fn stats(&self) -> &SamplingStats {
        &self.stats
    }

    /// The policy traces are decided with.
    pub fn policy(&self) -> &TailPolicy {
        &self.policy
    }

    /// When a pending trace is due: `decision_wait` after its root span arrived, else after
    /// its last span arrived; never later than `max_decision_wait` after its first span.
    fn deadline(&self, p: &Pending) -> u64 {
        let idle = p.root_ns.unwrap_or(p.last_ns).saturating_add(self.wait_ns);
        idle.min(p.first_ns.saturating_add(self.max_wait_ns))
    }

    /// Decides a pending trace, remembers and counts the decision, and queues it; returns its
    /// index in `ready`.
    fn decide(&mut self, id: TraceId, early: Option<Early>) -> usize {
        let p = self.pending.remove(&id).expect("decide is called for pending traces");
        self.order.remove(&p.seq);
        self.buffered_spans -= p.spans.len();
        let v = self.policy.evaluate(&p.spans);
        self.stats.record(v.keep, v.reason, p.spans.len() as u64, 1);
        match early {
            Some(Early::BufferFull) => self.stats.early_buffer_full += 1,
            Some(Early::TooLarge) => self.stats.early_too_large += 1,
            None => {}
        }
        if self.cache_size > 0 {
            if self.cache.insert(id, v).is_none() {
                self.cache_order.push_back(id);
            }
            while self.cache_order.len() > self.cache_size {
                if let Some(old) = self.cache_order.pop_front() {
                    self.cache.remove(&old);
                }
            }
        }
        self.ready.push(Decided { trace_id: id, keep: v.keep, reason: v.reason, spans: p.spans });
        self.ready.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampling::{PolicyKind, rejection_threshold, trace_randomness};
    use crate::testutil::{Rng, span, tid};
    use seer_model::trace::StatusCode;

    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;

    fn sampler(f: impl FnOnce(&mut TailSamplingConfig)) -> TailSampler {
        let mut c = TailSamplingConfig { enabled: true, ..Default::default() };
        f(&mut c);
        TailSampler::new(&c).unwrap()
    }

    #[test]
    fn waits_for_quiet_then_decides_the_whole_trace() {
        let mut t = sampler(|_| {});
        let id = tid(0xf0); // randomness in the top 10 %: kept by the probabilistic rule
        t.offer(vec![span(id, 2, 1, "b", 0, MS)], 0);
        t.offer(vec![span(id, 3, 1, "c", 0, MS)], 6 * S);
        assert!(t.poll(15 * S).is_empty(), "the second span restarted the 10 s wait");
        let d = t.poll(16 * S);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].keep, d[0].reason, d[0].spans.len()), (true, Reason::Probabilistic, 2));
        assert_eq!(t.buffered_traces(), 0);
        assert_eq!(t.buffered_spans(), 0);
        assert_eq!(t.stats().traces(true, Reason::Probabilistic), 1);
        assert_eq!(t.stats().spans(true, Reason::Probabilistic), 2);
    }

    #[test]
    fn root_arrival_starts_the_wait_and_max_wait_caps_it() {
        let mut t = sampler(|_| {});
        // Root at 2 s, children trickling every 5 s: due at 12 s.
        let a = tid(1);
        t.offer(vec![span(a, 2, 1, "b", 0, 1)], 0);
        t.offer(vec![span(a, 1, 0, "a", 0, 1)], 2 * S);
        t.offer(vec![span(a, 3, 1, "c", 0, 1)], 7 * S);
        assert!(t.poll(11 * S).is_empty());
        t.offer(vec![span(a, 4, 1, "c", 0, 1)], 11 * S);
        let d = t.poll(12 * S);
        assert_eq!((d.len(), d[0].spans.len()), (1, 4));
        // No root, a span every 9 s: decided 30 s after the first span.
        let b = tid(2);
        for i in 0..4 {
            t.offer(vec![span(b, 10 + i, 1, "x", 0, 1)], 100 * S + i * 9 * S);
        }
        assert!(t.poll(129 * S).is_empty());
        assert_eq!(t.poll(130 * S).len(), 1);
    }

    #[test]
    fn every_error_trace_is_kept_and_the_rest_counted() {
        // 10,000 traces of 4 spans offered in two batches: 1000 with an error (kept, all
        // spans), 1000 lasting 800 ms (kept by latency), 8000 fast ones of which 10 % are
        // kept: 800 expected, 4 sigma = 4 * sqrt(8000 * 0.1 * 0.9) = 107.3.
        let mut t = sampler(|_| {});
        let mut rng = Rng(11);
        let mut first = Vec::new();
        let mut second = Vec::new();
        let mut errors = Vec::new();
        for i in 0..10_000u64 {
            let id = rng.trace_id();
            let dur = if i % 10 == 1 { 800 * MS } else { 20 * MS };
            first.push(span(id, 1, 0, "front", 0, dur));
            first.push(span(id, 2, 1, "cart", MS, 2 * MS));
            let mut s3 = span(id, 3, 2, "db", MS, 2 * MS);
            if i % 10 == 0 {
                s3.status = StatusCode::Error;
                errors.push(id);
            }
            second.push(s3);
            second.push(span(id, 4, 2, "cache", MS, 2 * MS));
        }
        t.offer(first, 0);
        t.offer(second, S);
        assert_eq!(t.buffered_traces(), 10_000);
        assert_eq!(t.buffered_spans(), 40_000);
        // The roots arrived at 0, so every trace is due at 10 s although spans came at 1 s.
        assert!(t.poll(10 * S - 1).is_empty());
        let d = t.poll(10 * S);
        assert_eq!(d.len(), 10_000);
        let kept: HashMap<TraceId, &Decided> = d.iter().filter(|x| x.keep).map(|x| (x.trace_id, x)).collect();
        for id in &errors {
            let x = kept[id];
            assert_eq!((x.reason, x.spans.len()), (Reason::Error, 4));
        }
        let s = t.stats();
        assert_eq!(s.traces(true, Reason::Error), 1000);
        assert_eq!(s.traces(true, Reason::Latency), 1000);
        let prob = s.traces(true, Reason::Probabilistic);
        let tol = 4.0 * (8000.0f64 * 0.1 * 0.9).sqrt();
        assert!((prob as f64 - 800.0).abs() <= tol, "kept {prob}, tolerance {tol}");
        assert_eq!(prob + s.traces(false, Reason::NoMatch), 8000);
        assert_eq!(s.spans(true, Reason::Error), 4000);
        assert_eq!(prob, 774);
    }

    #[test]
    fn latency_threshold() {
        let mut t = sampler(|c| {
            c.policies = vec![PolicyConfig {
                kind: PolicyKind::Latency,
                threshold: Some(ConfigDuration::from_millis(500)),
                percent: None,
                service: None,
                attribute: None,
            }]
        });
        for (i, ms) in [499u64, 500, 501, 2000].into_iter().enumerate() {
            t.offer(vec![span(tid(i as u8 + 1), 1, 0, "a", 10 * MS, (10 + ms) * MS)], 0);
        }
        let got: Vec<(u8, bool)> = t.poll(10 * S).iter().map(|d| (d.trace_id[0], d.keep)).collect();
        assert_eq!(got, [(1, false), (2, true), (3, true), (4, true)]);
    }

    #[test]
    fn buffer_limit_decides_oldest_first() {
        let mut t = sampler(|c| c.max_traces = 3);
        for i in 1..=5u8 {
            t.offer(vec![span(tid(i), 1, 0, "a", 0, 1)], i as u64 * S);
        }
        assert_eq!(t.buffered_traces(), 3);
        assert_eq!(t.stats().early_buffer_full, 2);
        // The two oldest were decided early; nothing else is due yet.
        let d = t.poll(6 * S);
        assert_eq!(d.iter().map(|d| d.trace_id[0]).collect::<Vec<_>>(), [1, 2]);
        // A late span of trace 1 gets the cached decision.
        t.offer(vec![span(tid(1), 2, 1, "b", 0, 1)], 7 * S);
        let d = t.poll(7 * S);
        assert_eq!((d.len(), d[0].trace_id[0], d[0].spans.len()), (1, 1, 1));
        assert_eq!(t.stats().late_spans, 1);
        assert_eq!(t.buffered_traces(), 3);
        assert_eq!(t.flush().len(), 3);
        assert_eq!(t.buffered_traces(), 0);
        assert_eq!(t.stats().traces(false, Reason::NoMatch) + t.stats().traces(true, Reason::Probabilistic), 5);
    }

    #[test]
    fn large_trace_decided_at_once_and_rest_joins_it() {
        let mut t = sampler(|c| c.max_spans_per_trace = 3);
        let batch: Vec<Span> = (1..=5).map(|i| span(tid(9), i, 0, "a", 0, 1)).collect();
        t.offer(batch, 0);
        let d = t.poll(0);
        assert_eq!(d.len(), 1, "the spans after the limit join the decision");
        assert_eq!(d[0].spans.len(), 5);
        assert_eq!(t.stats().early_too_large, 1);
        assert_eq!(t.stats().late_spans, 2);
    }

    #[test]
    fn same_trace_id_same_decision_across_samplers() {
        // Two samplers (two processes) seeing different halves of the same traces decide the
        // probabilistic share identically.
        let (mut a, mut b) = (sampler(|_| {}), sampler(|_| {}));
        let mut rng = Rng(77);
        let ids: Vec<TraceId> = (0..5000).map(|_| rng.trace_id()).collect();
        a.offer(ids.iter().map(|id| span(*id, 1, 0, "a", 0, MS)).collect(), 0);
        b.offer(ids.iter().map(|id| span(*id, 2, 1, "b", 0, 2 * MS)).collect(), 0);
        let da = a.poll(10 * S);
        let db = b.poll(10 * S);
        assert_eq!(da.len(), 5000);
        for (x, y) in da.iter().zip(&db) {
            assert_eq!((x.trace_id, x.keep, x.reason), (y.trace_id, y.keep, y.reason));
            assert_eq!(x.keep, trace_randomness(&x.trace_id) >= rejection_threshold(10.0));
        }
    }

    #[test]
    fn checks() {
        let c = TailSamplingConfig { max_traces: 0, ..Default::default() };
        assert_eq!(TailSampler::new(&c).unwrap_err().to_string(), "sampling.tail.max_traces must be greater than zero");
        let c = TailSamplingConfig { decision_wait: ConfigDuration::default(), ..Default::default() };
        assert!(TailSampler::new(&c).is_err());
    }
}
