//! What happens to spans between decoding and storage, per tenant: head sampling drops the
//! traces it does not keep; span metrics and the service graph then see the kept spans (so
//! every exemplar names a stored trace; with head sampling, rates count kept traffic). Tail
//! sampling runs at retention time ([`TracePipeline::keep_long`]): every span is stored (and
//! in the WAL) at once, and the tail policy decides, once a block is older than the short
//! window, which traces stay for the long one. That keeps acknowledged spans durable, which a
//! buffering tail sampler cannot.

use seer_model::trace::Span;
use seer_model::{SeriesSamples, TenantId};
use seer_traceproc::sampling::{HeadSampler, SamplingConfig, SamplingStats, TailPolicy, long_term_keep};
use seer_traceproc::servicegraph::{ServiceGraph, ServiceGraphConfig};
use seer_traceproc::spanmetrics::{SpanMetrics, SpanMetricsConfig};
use std::collections::HashMap;
use std::sync::Mutex;

/// Processing settings of one tenant.
#[derive(Clone, Debug, PartialEq)]
pub struct TenantProcessing {
    /// Head and tail sampling.
    pub sampling: SamplingConfig,
    /// Span metrics.
    pub span_metrics: SpanMetricsConfig,
    /// Service graph.
    pub service_graph: ServiceGraphConfig,
}

/// Settings for every tenant: a default and per-tenant replacements.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcessingConfig {
    /// Tenants without an entry in `tenants`.
    pub default: TenantProcessing,
    /// Per tenant.
    pub tenants: HashMap<String, TenantProcessing>,
}

struct TenantState {
    head: HeadSampler,
    tail: Option<TailPolicy>,
    long_term: SamplingStats,
    span_metrics: Option<SpanMetrics>,
    graph: Option<ServiceGraph>,
}

/// Per-tenant sampling, span metrics and service graph.
pub struct TracePipeline {
    cfg: ProcessingConfig,
    tenants: Mutex<HashMap<TenantId, TenantState>>,
}

fn now_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

impl TracePipeline {
    /// Checks every tenant's settings.
    pub fn new(cfg: ProcessingConfig) -> Result<TracePipeline, String> {
        for (name, t) in
            std::iter::once(("default", &cfg.default)).chain(cfg.tenants.iter().map(|(k, v)| (k.as_str(), v)))
        {
            build(t).map_err(|e| format!("traces settings of tenant {name}: {e}"))?;
        }
        Ok(TracePipeline { cfg, tenants: Mutex::new(HashMap::new()) })
    }

    /// A pipeline that keeps every span and computes nothing.
    pub fn pass_through() -> TracePipeline {
        let t = TenantProcessing {
            sampling: SamplingConfig::default(),
            span_metrics: SpanMetricsConfig { enabled: false, ..serde_default() },
            service_graph: ServiceGraphConfig { enabled: false, ..serde_default() },
        };
        TracePipeline {
            cfg: ProcessingConfig { default: t, tenants: HashMap::new() },
            tenants: Mutex::new(HashMap::new()),
        }
    }

    fn with_tenant<R>(&self, tenant: &TenantId, f: impl FnOnce(&mut TenantState) -> R) -> R {
        let mut m = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let st = m.entry(tenant.clone()).or_insert_with(|| {
            let cfg = self.cfg.tenants.get(tenant.as_str()).unwrap_or(&self.cfg.default);
            // Checked in `new`; a failure here would be a bug, so fall back to keeping everything.
            build(cfg)
                .unwrap_or_else(|_| build(&TracePipeline::pass_through().cfg.default).expect("pass-through builds"))
        });
        f(st)
    }

    /// Applies head sampling, then feeds span metrics and the service graph; returns the
    /// spans to store.
    pub fn process(&self, tenant: &TenantId, spans: Vec<Span>) -> Vec<Span> {
        let now = now_ns();
        self.with_tenant(tenant, |st| {
            let spans = if st.head.keeps_everything() { spans } else { st.head.filter(spans) };
            if let Some(m) = &mut st.span_metrics {
                m.observe(&spans);
            }
            if let Some(g) = &mut st.graph {
                g.observe(&spans, now);
            }
            spans
        })
    }

    /// Whether a complete trace stays for the long retention window (true without a tail policy).
    pub fn keep_long(&self, tenant: &TenantId, spans: &[Span]) -> bool {
        self.with_tenant(tenant, |st| match &st.tail {
            None => true,
            Some(p) => {
                let v = long_term_keep(p, spans);
                st.long_term.record(v.keep, v.reason, spans.len() as u64, 1);
                v.keep
            }
        })
    }

    /// Whether any tenant has a tail policy (so the store must run its long-term filter).
    pub fn has_tail_policy(&self) -> bool {
        std::iter::once(&self.cfg.default).chain(self.cfg.tenants.values()).any(|t| t.sampling.tail.enabled)
    }

    /// Current span-metrics, service-graph and sampling series of every tenant.
    pub fn collect(&self, now_ms: i64) -> Vec<(TenantId, Vec<SeriesSamples>)> {
        let now = now_ns();
        let mut m = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for (t, st) in m.iter_mut() {
            let mut series = Vec::new();
            if let Some(sm) = &mut st.span_metrics {
                sm.remove_stale(now_ms);
                series.extend(sm.collect(now_ms));
            }
            if let Some(g) = &mut st.graph {
                g.expire(now);
                series.extend(g.collect(now_ms));
            }
            let mut stats = st.head.stats().clone();
            stats.add(&st.long_term);
            series.extend(stats.collect(now_ms));
            out.push((t.clone(), series));
        }
        out
    }
}

fn serde_default<T: serde::de::DeserializeOwned>() -> T {
    serde_json::from_str("{}").expect("every field has a default")
}

fn build(cfg: &TenantProcessing) -> Result<TenantState, String> {
    let head = HeadSampler::new(&cfg.sampling.head).map_err(|e| e.to_string())?;
    let tail = if cfg.sampling.tail.enabled {
        Some(TailPolicy::new(&cfg.sampling.tail.policies).map_err(|e| e.to_string())?)
    } else {
        None
    };
    let span_metrics = if cfg.span_metrics.enabled {
        Some(SpanMetrics::new(&cfg.span_metrics).map_err(|e| e.to_string())?)
    } else {
        None
    };
    let graph = if cfg.service_graph.enabled {
        Some(ServiceGraph::new(&cfg.service_graph).map_err(|e| e.to_string())?)
    } else {
        None
    };
    Ok(TenantState { head, tail, long_term: SamplingStats::default(), span_metrics, graph })
}
