//! The service graph, as Tempo's metrics-generator `service-graphs` processor: requests
//! between services, found by pairing a client span with the server span it caused.
//!
//! Pairing: a `CLIENT` (or `PRODUCER`) span and a `SERVER` (or `CONSUMER`) span of the same
//! trace form one request when the server span's parent is the client span. Either half may
//! arrive first, in any batch; it waits in a bounded store for at most `wait` (measured with
//! the `now_ns` the caller passes). Then:
//!
//! * both halves: one request `client → server` (`connection_type="messaging_system"` when a
//!   half is a producer or consumer span, no `connection_type` label otherwise);
//! * a root `SERVER`/`CONSUMER` span (nothing can call it): a request from the virtual node
//!   named by its first `peer_attributes` attribute, else `user`, recorded at once;
//! * a `CLIENT` span with `db.namespace`, `db.name` or `db.system`: a request to a database
//!   node (`connection_type="database"`), recorded at once, named by the first of
//!   `peer.service`, `server.address`, `network.peer.address:network.peer.port`,
//!   `db.namespace`, `db.name`, `db.system`;
//! * a client half left alone after `wait` with a `peer_attributes` attribute: a request to
//!   that virtual node (`connection_type="virtual_node"`); any other half left alone counts
//!   in `traces_service_graph_unpaired_spans_total`;
//! * a half that finds the store full (`max_items`) counts in
//!   `traces_service_graph_dropped_spans_total`.
//!
//! A request is failed when either half has status ERROR. Client and server durations go to
//! their own histograms (only the known side for virtual and database nodes).

use crate::config::{ConfigDuration, ConfigError, check_buckets};
use crate::metrics::{Histogram, series};
use seer_model::trace::{AttrValue, Span, SpanId, SpanKind, StatusCode, TraceId, find_attr};
use seer_model::{Labels, MetricMetadata, MetricType, SeriesSamples};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// Tempo's default service-graph latency buckets, in seconds.
pub const DEFAULT_SERVICE_GRAPH_BUCKETS: [f64; 8] = [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8];

/// `service_graphs:` of a tenant (Tempo's names and defaults).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServiceGraphConfig {
    /// Whether the tenant's spans feed the service graph (true).
    #[serde(default = "crate::config::yes")]
    pub enabled: bool,
    /// How long a half waits for its pair (10s).
    #[serde(default = "d_wait")]
    pub wait: ConfigDuration,
    /// Unpaired halves held at most (10000).
    #[serde(default = "d_max_items")]
    pub max_items: usize,
    /// Latency bucket upper bounds in seconds (0.1 ... 12.8; `+Inf` is implied).
    #[serde(default = "d_buckets")]
    pub histogram_buckets: Vec<f64>,
    /// Span attributes naming an uninstrumented peer (`peer.service`, `db.name`,
    /// `db.system`).
    #[serde(default = "d_peer_attributes")]
    pub peer_attributes: Vec<String>,
    /// Label sets per family held at most; beyond, requests are counted in
    /// `seer_service_graph_series_limited_total` only (10000).
    #[serde(default = "d_max_series")]
    pub max_series: usize,
}

fn d_wait() -> ConfigDuration {
    ConfigDuration::from_millis(10_000)
}
fn d_max_items() -> usize {
    10_000
}
fn d_buckets() -> Vec<f64> {
    DEFAULT_SERVICE_GRAPH_BUCKETS.to_vec()
}
fn d_peer_attributes() -> Vec<String> {
    vec!["peer.service".into(), "db.name".into(), "db.system".into()]
}
fn d_max_series() -> usize {
    10_000
}

impl Default for ServiceGraphConfig {
    fn default() -> ServiceGraphConfig {
        ServiceGraphConfig {
            enabled: true,
            wait: d_wait(),
            max_items: d_max_items(),
            histogram_buckets: d_buckets(),
            peer_attributes: d_peer_attributes(),
            max_series: d_max_series(),
        }
    }
}

/// The `connection_type` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConnectionType {
    /// No label.
    Unset,
    VirtualNode,
    MessagingSystem,
    Database,
}

impl ConnectionType {
    /// The label value ("" for [`ConnectionType::Unset`], which leaves the label out).
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionType::Unset => "",
            ConnectionType::VirtualNode => "virtual_node",
            ConnectionType::MessagingSystem => "messaging_system",
            ConnectionType::Database => "database",
        }
    }
}

/// One edge of the graph with its cumulative request count, for Jaeger's
/// `/api/dependencies` (`parent` = client, `child` = server, `callCount` = calls).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    pub client: String,
    pub server: String,
    pub calls: u64,
}

/// The labels of a series: `client`, `server`, `connection_type` (empty ones left out).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key {
    client: String,
    server: String,
    conn: ConnectionType,
}

impl Key {
    fn labels(&self) -> Labels {
        Labels::from_pairs([
            ("client", self.client.as_str()),
            ("server", self.server.as_str()),
            ("connection_type", self.conn.as_str()),
        ])
    }
}

#[derive(Clone, Debug)]
struct EdgeStats {
    total: u64,
    failed: u64,
    client: Histogram,
    server: Histogram,
}

/// What is kept of one span while it waits for its pair.
#[derive(Clone, Debug)]
struct Half {
    service: String,
    seconds: f64,
    failed: bool,
    messaging: bool,
    /// The first `peer_attributes` value (client halves only).
    peer: Option<String>,
}

#[derive(Clone, Debug)]
struct Pending {
    seq: u64,
    arrived_ns: u64,
    client: Option<Half>,
    server: Option<Half>,
}

/// The service-graph processor of one tenant.
#[derive(Clone, Debug)]
pub struct ServiceGraph {
    wait_ns: u64,
    max_items: usize,
    bounds: Vec<f64>,
    peer_attributes: Vec<String>,
    max_series: usize,
    /// Halves waiting, keyed by trace id and the client span's id.
    pending: HashMap<(TraceId, SpanId), Pending>,
    /// `pending` by arrival, oldest first.
    order: BTreeMap<u64, (TraceId, SpanId)>,
    next_seq: u64,
    edges: BTreeMap<Key, EdgeStats>,
    unpaired: BTreeMap<Key, u64>,
    dropped: BTreeMap<Key, u64>,
    series_limited: u64,
}

impl ServiceGraph {
    /// Checks the buckets and limits.
    pub fn new(cfg: &ServiceGraphConfig) -> Result<ServiceGraph, ConfigError> {
        check_buckets("service_graphs.histogram_buckets", &cfg.histogram_buckets)?;
        if cfg.max_items == 0 {
            return Err(ConfigError::Zero("service_graphs.max_items".into()));
        }
        Ok(ServiceGraph {
            wait_ns: cfg.wait.as_nanos_u64(),
            max_items: cfg.max_items,
            bounds: cfg.histogram_buckets.clone(),
            peer_attributes: cfg.peer_attributes.clone(),
            max_series: cfg.max_series,
            pending: HashMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
            edges: BTreeMap::new(),
            unpaired: BTreeMap::new(),
            dropped: BTreeMap::new(),
            series_limited: 0,
        })
    }

    /// Expires halves older than `wait`, then pairs or stores the spans (arrived at
    /// `now_ns`).
    pub fn observe(&mut self, spans: &[Span], now_ns: u64) {
        self.expire(now_ns);
        for s in spans {
            let half = |peer| Half {
                service: s.resource.service_name().to_string(),
                seconds: s.duration_ns() as f64 / 1e9,
                failed: s.status == StatusCode::Error,
                messaging: matches!(s.kind, SpanKind::Producer | SpanKind::Consumer),
                peer,
            };
            match s.kind {
                SpanKind::Client | SpanKind::Producer => {
                    if s.kind == SpanKind::Client
                        && let Some(db) = database_name(s)
                    {
                        let h = half(None);
                        let key = Key { client: h.service.clone(), server: db, conn: ConnectionType::Database };
                        self.record(key, Some(&h), None);
                        continue;
                    }
                    let peer = self.peer(s);
                    self.put((s.trace_id, s.span_id), Some(half(peer)), None, now_ns);
                }
                SpanKind::Server | SpanKind::Consumer => {
                    if s.is_root() {
                        let h = half(None);
                        let client = self.peer(s).unwrap_or_else(|| "user".to_string());
                        let key = Key { client, server: h.service.clone(), conn: ConnectionType::VirtualNode };
                        self.record(key, None, Some(&h));
                        continue;
                    }
                    self.put((s.trace_id, s.parent_span_id), None, Some(half(None)), now_ns);
                }
                SpanKind::Internal | SpanKind::Unspecified => {}
            }
        }
    }

    /// Settles the halves that waited `wait` or longer by `now_ns` (virtual node or
    /// unpaired). [`ServiceGraph::observe`] does this first; call it alone when no spans come.
    pub fn expire(&mut self, now_ns: u64) {
        while let Some((&seq, &key)) = self.order.first_key_value() {
            let p = &self.pending[&key];
            if p.arrived_ns.saturating_add(self.wait_ns) > now_ns {
                break;
            }
            self.order.remove(&seq);
            let p = self.pending.remove(&key).expect("order and pending agree");
            match (p.client, p.server) {
                (Some(c), None) => match c.peer.clone() {
                    Some(peer) => {
                        let key = Key { client: c.service.clone(), server: peer, conn: ConnectionType::VirtualNode };
                        self.record(key, Some(&c), None);
                    }
                    None => {
                        let key = Key { client: c.service, server: String::new(), conn: conn_of(c.messaging) };
                        self.count(Counter::Unpaired, key);
                    }
                },
                (None, Some(s)) => {
                    let key = Key { client: String::new(), server: s.service, conn: conn_of(s.messaging) };
                    self.count(Counter::Unpaired, key);
                }
                _ => {}
            }
        }
    }

    /// Halves waiting for their pair.
    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// The edges seen so far with their cumulative request counts (all connection types
    /// together), sorted by client then server.
    pub fn edges(&self) -> Vec<Edge> {
        let mut out: Vec<Edge> = Vec::new();
        for (k, st) in &self.edges {
            match out.last_mut() {
                Some(e) if e.client == k.client && e.server == k.server => e.calls += st.total,
                _ => out.push(Edge { client: k.client.clone(), server: k.server.clone(), calls: st.total }),
            }
        }
        out
    }

    /// Every series with one sample at `now_ms`, family by family: `request_total`,
    /// `request_failed_total`, the client and server histograms (edges that have
    /// observations on that side), `unpaired_spans_total`, `dropped_spans_total`, and
    /// `seer_service_graph_series_limited_total`.
    pub fn collect(&self, now_ms: i64) -> Vec<SeriesSamples> {
        let mut out = Vec::new();
        let labelled: Vec<(Labels, &EdgeStats)> = self.edges.iter().map(|(k, st)| (k.labels(), st)).collect();
        for (l, st) in &labelled {
            out.push(series("traces_service_graph_request_total", l, &[], now_ms, st.total as f64, Vec::new()));
        }
        for (l, st) in &labelled {
            out.push(series("traces_service_graph_request_failed_total", l, &[], now_ms, st.failed as f64, Vec::new()));
        }
        for (l, st) in &labelled {
            if st.server.count > 0 {
                st.server.emit(&mut out, "traces_service_graph_request_server_seconds", l, &self.bounds, now_ms, None);
            }
        }
        for (l, st) in &labelled {
            if st.client.count > 0 {
                st.client.emit(&mut out, "traces_service_graph_request_client_seconds", l, &self.bounds, now_ms, None);
            }
        }
        for (name, map) in [
            ("traces_service_graph_unpaired_spans_total", &self.unpaired),
            ("traces_service_graph_dropped_spans_total", &self.dropped),
        ] {
            for (k, v) in map {
                out.push(series(name, &k.labels(), &[], now_ms, *v as f64, Vec::new()));
            }
        }
        let limited = self.series_limited as f64;
        out.push(series("seer_service_graph_series_limited_total", &Labels::empty(), &[], now_ms, limited, Vec::new()));
        out
    }

    /// Type and help of the families [`ServiceGraph::collect`] emits.
    pub fn metadata() -> Vec<MetricMetadata> {
        use MetricType::{Counter as C, Histogram as H};
        [
            ("traces_service_graph_request_total", C, "Total count of requests between two nodes.", ""),
            ("traces_service_graph_request_failed_total", C, "Total count of failed requests between two nodes.", ""),
            (
                "traces_service_graph_request_server_seconds",
                H,
                "Time for a request as seen from the server.",
                "seconds",
            ),
            (
                "traces_service_graph_request_client_seconds",
                H,
                "Time for a request as seen from the client.",
                "seconds",
            ),
            ("traces_service_graph_unpaired_spans_total", C, "Total count of unpaired spans.", ""),
            ("traces_service_graph_dropped_spans_total", C, "Total count of dropped spans.", ""),
            ("seer_service_graph_series_limited_total", C, "Updates not counted because max_series was reached.", ""),
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

    /// The first `peer_attributes` attribute of the span, as text.
    fn peer(&self, s: &Span) -> Option<String> {
        self.peer_attributes.iter().find_map(|k| str_attr(s, k))
    }

    /// Adds a half to its pending entry; records the request when both halves are there.
    fn put(&mut self, key: (TraceId, SpanId), client: Option<Half>, server: Option<Half>, now_ns: u64) {
        if let Some(p) = self.pending.get_mut(&key) {
            if client.is_some() {
                p.client = client;
            }
            if server.is_some() {
                p.server = server;
            }
            if p.client.is_some() && p.server.is_some() {
                let p = self.pending.remove(&key).expect("just found");
                self.order.remove(&p.seq);
                let (c, s) = (p.client.expect("checked"), p.server.expect("checked"));
                let conn = conn_of(c.messaging || s.messaging);
                let key = Key { client: c.service.clone(), server: s.service.clone(), conn };
                self.record(key, Some(&c), Some(&s));
            }
            return;
        }
        if self.pending.len() >= self.max_items {
            let key = match (&client, &server) {
                (Some(c), _) => Key { client: c.service.clone(), server: String::new(), conn: conn_of(c.messaging) },
                (_, Some(s)) => Key { client: String::new(), server: s.service.clone(), conn: conn_of(s.messaging) },
                _ => return,
            };
            self.count(Counter::Dropped, key);
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.insert(seq, key);
        self.pending.insert(key, Pending { seq, arrived_ns: now_ns, client, server });
    }

    /// Counts one request on an edge.
    fn record(&mut self, key: Key, client: Option<&Half>, server: Option<&Half>) {
        if !self.edges.contains_key(&key) && self.edges.len() >= self.max_series {
            self.series_limited += 1;
            return;
        }
        let bounds = &self.bounds;
        let st = self.edges.entry(key).or_insert_with(|| EdgeStats {
            total: 0,
            failed: 0,
            client: Histogram::new(bounds),
            server: Histogram::new(bounds),
        });
        st.total += 1;
        if client.is_some_and(|h| h.failed) || server.is_some_and(|h| h.failed) {
            st.failed += 1;
        }
        if let Some(c) = client {
            st.client.observe(bounds, c.seconds);
        }
        if let Some(s) = server {
            st.server.observe(bounds, s.seconds);
        }
    }

    fn count(&mut self, which: Counter, key: Key) {
        let map = match which {
            Counter::Unpaired => &mut self.unpaired,
            Counter::Dropped => &mut self.dropped,
        };
        if !map.contains_key(&key) && map.len() >= self.max_series {
            self.series_limited += 1;
            return;
        }
        *map.entry(key).or_default() += 1;
    }
}

#[derive(Clone, Copy)]
enum Counter {
    Unpaired,
    Dropped,
}

fn conn_of(messaging: bool) -> ConnectionType {
    if messaging { ConnectionType::MessagingSystem } else { ConnectionType::Unset }
}

/// A span attribute as text (strings and integers; others are not names).
fn str_attr(s: &Span, key: &str) -> Option<String> {
    match find_attr(&s.attrs, key)? {
        AttrValue::Str(v) if !v.is_empty() => Some(v.clone()),
        AttrValue::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

/// The database node a client span calls, when it is a database call.
fn database_name(s: &Span) -> Option<String> {
    if !["db.namespace", "db.name", "db.system"].iter().any(|k| find_attr(&s.attrs, k).is_some()) {
        return None;
    }
    str_attr(s, "peer.service")
        .or_else(|| str_attr(s, "server.address"))
        .or_else(|| {
            let addr = str_attr(s, "network.peer.address")?;
            let port = str_attr(s, "network.peer.port")?;
            Some(format!("{addr}:{port}"))
        })
        .or_else(|| str_attr(s, "db.namespace"))
        .or_else(|| str_attr(s, "db.name"))
        .or_else(|| str_attr(s, "db.system"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{V, from_v, span, tid};
    use seer_model::trace::Attr;

    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;

    fn client(t: u8, id: u64, svc: &str, ms: u64) -> Span {
        let mut s = span(tid(t), id, 1, svc, 0, ms * MS);
        s.kind = SpanKind::Client;
        s
    }

    fn server(t: u8, id: u64, parent: u64, svc: &str, ms: u64) -> Span {
        let mut s = span(tid(t), id, parent, svc, 0, ms * MS);
        s.kind = SpanKind::Server;
        s
    }

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

    fn graph(f: impl FnOnce(&mut ServiceGraphConfig)) -> ServiceGraph {
        let mut c = ServiceGraphConfig::default();
        f(&mut c);
        ServiceGraph::new(&c).unwrap()
    }

    #[test]
    fn pairs_across_batches() {
        let mut g = graph(|_| {});
        // Server half first (150 ms), client half 5 s later (250 ms) in another batch.
        g.observe(&[server(1, 20, 10, "cart", 150)], 0);
        assert_eq!(g.pending_count(), 1);
        g.observe(&[client(1, 10, "web", 250)], 5 * S);
        assert_eq!(g.pending_count(), 0);
        // A second request on the same edge, failed on the server side (3 s / 3.5 s).
        let mut s = server(2, 21, 11, "cart", 3000);
        s.status = StatusCode::Error;
        g.observe(&[client(2, 11, "web", 3500), s], 6 * S);
        let out = g.collect(1);
        let l = r#"{client="web", server="cart"}"#.to_string();
        assert_eq!(values(&out, "traces_service_graph_request_total"), [(l.clone(), 2.0)]);
        assert_eq!(values(&out, "traces_service_graph_request_failed_total"), [(l.clone(), 1.0)]);
        let b = |name| values(&out, name).iter().map(|x| x.1).collect::<Vec<_>>();
        //                                       le: .1   .2   .4   .8   1.6  3.2  6.4  12.8 +Inf
        assert_eq!(
            b("traces_service_graph_request_server_seconds_bucket"),
            [0.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0]
        );
        assert_eq!(
            b("traces_service_graph_request_client_seconds_bucket"),
            [0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0]
        );
        assert_eq!(b("traces_service_graph_request_server_seconds_sum"), [3.15]);
        assert_eq!(b("traces_service_graph_request_client_seconds_count"), [2.0]);
        assert_eq!(g.edges(), [Edge { client: "web".into(), server: "cart".into(), calls: 2 }]);
    }

    #[test]
    fn messaging_pairs() {
        let mut g = graph(|_| {});
        let mut p = client(1, 10, "orders", 5);
        p.kind = SpanKind::Producer;
        let mut c = server(1, 20, 10, "billing", 40);
        c.kind = SpanKind::Consumer;
        g.observe(&[c, p], 0);
        let out = g.collect(0);
        assert_eq!(
            values(&out, "traces_service_graph_request_total"),
            [(r#"{client="orders", connection_type="messaging_system", server="billing"}"#.to_string(), 1.0)]
        );
    }

    #[test]
    fn unpaired_after_wait_and_virtual_nodes() {
        let mut g = graph(|_| {});
        let mut to_payments = client(1, 10, "web", 300);
        to_payments.attrs.push(Attr::new("peer.service", AttrValue::Str("payments-api".into())));
        g.observe(&[client(2, 10, "web", 1), server(3, 20, 99, "cart", 1), to_payments], 0);
        // A root server span: called by the virtual `user` node, recorded at once.
        g.observe(&[server(4, 1, 0, "web", 50)], S);
        assert_eq!(g.pending_count(), 3);
        g.expire(10 * S - 1);
        assert_eq!(g.pending_count(), 3, "nothing expires before the 10 s wait");
        g.expire(10 * S);
        assert_eq!(g.pending_count(), 0);
        let out = g.collect(0);
        assert_eq!(
            values(&out, "traces_service_graph_request_total"),
            [
                (r#"{client="user", connection_type="virtual_node", server="web"}"#.to_string(), 1.0),
                (r#"{client="web", connection_type="virtual_node", server="payments-api"}"#.to_string(), 1.0),
            ]
        );
        assert_eq!(
            values(&out, "traces_service_graph_unpaired_spans_total"),
            [(r#"{server="cart"}"#.to_string(), 1.0), (r#"{client="web"}"#.to_string(), 1.0)]
        );
        // Virtual nodes have only the known side's histogram.
        assert_eq!(values(&out, "traces_service_graph_request_server_seconds_count").len(), 1);
        assert_eq!(values(&out, "traces_service_graph_request_client_seconds_count").len(), 1);
    }

    #[test]
    fn database_calls() {
        let mut g = graph(|_| {});
        let mut q = client(1, 10, "cart", 3);
        q.attrs.push(Attr::new("db.system", AttrValue::Str("postgresql".into())));
        q.attrs.push(Attr::new("server.address", AttrValue::Str("pg-main".into())));
        let mut r = client(1, 11, "cart", 1);
        r.attrs.push(Attr::new("db.system", AttrValue::Str("redis".into())));
        r.attrs.push(Attr::new("network.peer.address", AttrValue::Str("10.0.0.7".into())));
        r.attrs.push(Attr::new("network.peer.port", AttrValue::Int(6379)));
        g.observe(&[q, r], 0);
        assert_eq!(g.pending_count(), 0, "database calls do not wait for a pair");
        let out = g.collect(0);
        assert_eq!(
            values(&out, "traces_service_graph_request_total"),
            [
                (r#"{client="cart", connection_type="database", server="10.0.0.7:6379"}"#.to_string(), 1.0),
                (r#"{client="cart", connection_type="database", server="pg-main"}"#.to_string(), 1.0),
            ]
        );
    }

    #[test]
    fn bounded_store_drops() {
        let mut g = graph(|c| c.max_items = 2);
        g.observe(&[client(1, 10, "a", 1), client(2, 10, "a", 1), client(3, 10, "a", 1), server(4, 20, 10, "b", 1)], 0);
        assert_eq!(g.pending_count(), 2);
        let out = g.collect(0);
        assert_eq!(
            values(&out, "traces_service_graph_dropped_spans_total"),
            [(r#"{server="b"}"#.to_string(), 1.0), (r#"{client="a"}"#.to_string(), 1.0)]
        );
        // The pair of a stored half still completes.
        g.observe(&[server(1, 20, 10, "b", 1)], S);
        assert_eq!(g.edges(), [Edge { client: "a".into(), server: "b".into(), calls: 1 }]);
    }

    #[test]
    fn series_limit() {
        let mut g = graph(|c| c.max_series = 1);
        g.observe(&[server(1, 1, 0, "a", 1), server(2, 1, 0, "b", 1), server(3, 1, 0, "a", 1)], 0);
        assert_eq!(g.edges(), [Edge { client: "user".into(), server: "a".into(), calls: 2 }]);
        assert_eq!(values(&g.collect(0), "seer_service_graph_series_limited_total"), [("{}".to_string(), 1.0)]);
    }

    #[test]
    fn config_shape() {
        let c: ServiceGraphConfig = from_v(V::M(vec![
            ("enabled", V::B(true)),
            ("wait", V::S("30s")),
            ("max_items", V::U(500)),
            ("peer_attributes", V::L(vec![V::S("peer.service")])),
        ]))
        .unwrap();
        assert_eq!(c.wait, ConfigDuration::from_millis(30_000));
        assert_eq!((c.max_items, c.max_series), (500, 10_000));
        assert_eq!(c.histogram_buckets, DEFAULT_SERVICE_GRAPH_BUCKETS);
        let d: ServiceGraphConfig = from_v(V::M(vec![])).unwrap();
        assert_eq!(d, ServiceGraphConfig::default());
        assert!(ServiceGraph::new(&ServiceGraphConfig { max_items: 0, ..Default::default() }).is_err());
    }
}
