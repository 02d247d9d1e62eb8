//! The ingest workload: a fleet of instances, each exposing realistic series (request
//! counters, latency histograms, gauges), sampled every 15 s, encoded as remote-write
//! requests. Deterministic for a given seed.

/// Histogram bucket bounds (`le`).
const LE: [&str; 12] = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"];
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "PATCH"];
const STATUSES: [&str; 4] = ["200", "201", "404", "500"];
/// Series per instance: 20 (method, status) groups × (12 buckets + sum + count + counter) + 20 gauges.
pub const SERIES_PER_INSTANCE: usize = 320;

#[derive(Clone, Copy)]
enum Kind {
    /// Request counter of a group.
    Counter(u32),
    /// Cumulative bucket `le` index of a group.
    Bucket(u32, u8),
    /// Histogram sum of a group.
    Sum(u32),
    /// Histogram count of a group.
    Count(u32),
    /// Integer gauge doing a random walk (bytes, fds, queue lengths).
    GaugeInt,
    /// Gauge with two decimals (load, temperature).
    GaugeFloat,
}

struct Group {
    /// Observations per bucket (not cumulative).
    buckets: [u64; 12],
    sum: f64,
    requests: u64,
}

/// The whole fleet and its state.
pub struct Workload {
    /// Pre-encoded `Label` fields of each series (protobuf).
    labels: Vec<Vec<u8>>,
    kinds: Vec<Kind>,
    values: Vec<f64>,
    groups: Vec<Group>,
    rng: u64,
}

fn put_uvarint(dst: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        dst.push((v as u8) | 0x80);
        v >>= 7;
    }
    dst.push(v as u8);
}

fn put_label(dst: &mut Vec<u8>, name: &str, value: &str) {
    let mut l = Vec::with_capacity(name.len() + value.len() + 4);
    l.push(0x0a);
    put_uvarint(&mut l, name.len() as u64);
    l.extend_from_slice(name.as_bytes());
    l.push(0x12);
    put_uvarint(&mut l, value.len() as u64);
    l.extend_from_slice(value.as_bytes());
    dst.push(0x0a); // TimeSeries.labels = 1
    put_uvarint(dst, l.len() as u64);
    dst.extend_from_slice(&l);
}

fn encode_labels(mut pairs: Vec<(&str, String)>) -> Vec<u8> {
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = Vec::with_capacity(128);
    for (n, v) in pairs {
        put_label(&mut out, n, &v);
    }
    out
}

impl Workload {
    /// At least `series` series (rounded up to whole instances).
    pub fn new(series: usize, seed: u64) -> Workload {
        let instances = series.div_ceil(SERIES_PER_INSTANCE);
        let n = instances * SERIES_PER_INSTANCE;
        let mut w = Workload {
            labels: Vec::with_capacity(n),
            kinds: Vec::with_capacity(n),
            values: Vec::with_capacity(n),
            groups: Vec::new(),
            rng: seed | 1,
        };
        for i in 0..instances {
            let job = format!("service-{}", i % 40);
            let instance = format!("10.{}.{}.{}:8080", (i >> 16) & 255, (i >> 8) & 255, i & 255);
            let base =
                |name: &str| vec![("__name__", name.to_string()), ("job", job.clone()), ("instance", instance.clone())];
            for m in METHODS {
                for s in STATUSES {
                    let g = w.groups.len() as u32;
                    w.groups.push(Group { buckets: [0; 12], sum: 0.0, requests: 0 });
                    let with = |name: &str| {
                        let mut p = base(name);
                        p.push(("method", m.to_string()));
                        p.push(("status", s.to_string()));
                        p
                    };
                    w.push(encode_labels(with("http_requests_total")), Kind::Counter(g), 0.0);
                    for (k, le) in LE.iter().enumerate() {
                        let mut p = with("http_request_duration_seconds_bucket");
                        p.push(("le", le.to_string()));
                        w.push(encode_labels(p), Kind::Bucket(g, k as u8), 0.0);
                    }
                    w.push(encode_labels(with("http_request_duration_seconds_sum")), Kind::Sum(g), 0.0);
                    w.push(encode_labels(with("http_request_duration_seconds_count")), Kind::Count(g), 0.0);
                }
            }
            w.push(
                encode_labels(base("process_resident_memory_bytes")),
                Kind::GaugeInt,
                200_000_000.0 + (i % 1000) as f64 * 1_000_000.0,
            );
            w.push(encode_labels(base("process_open_fds")), Kind::GaugeInt, 40.0 + (i % 30) as f64);
            w.push(encode_labels(base("node_load1")), Kind::GaugeFloat, 1.0);
            w.push(encode_labels(base("node_temperature_celsius")), Kind::GaugeFloat, 45.0);
            for q in 0..16 {
                let mut p = base("queue_length");
                p.push(("queue", format!("q{q}")));
                w.push(encode_labels(p), Kind::GaugeInt, 0.0);
            }
        }
        w
    }

    fn push(&mut self, labels: Vec<u8>, kind: Kind, v: f64) {
        self.labels.push(labels);
        self.kinds.push(kind);
        self.values.push(v);
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    fn rand(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// Advances every series by one scrape interval.
    pub fn step(&mut self) {
        const WEIGHTS: [u64; 12] = [2, 4, 8, 10, 8, 6, 4, 2, 1, 1, 1, 1];
        const MID: [f64; 12] = [0.003, 0.008, 0.02, 0.04, 0.08, 0.2, 0.4, 0.8, 2.0, 4.0, 8.0, 15.0];
        for gi in 0..self.groups.len() {
            let mut total = 0u64;
            let mut added_sum = 0.0;
            for (k, w) in WEIGHTS.iter().enumerate() {
                let inc = self.rand() % (w + 1);
                let noise = (self.rand() % 1000) as f64 / 1000.0;
                added_sum += inc as f64 * MID[k] * (0.5 + noise);
                self.groups[gi].buckets[k] += inc;
                total += inc;
            }
            let g = &mut self.groups[gi];
            g.sum += added_sum;
            g.requests += total;
        }
        for i in 0..self.values.len() {
            let v = match self.kinds[i] {
                Kind::Counter(g) => self.groups[g as usize].requests as f64,
                Kind::Bucket(g, k) => self.groups[g as usize].buckets[..=k as usize].iter().sum::<u64>() as f64,
                Kind::Sum(g) => self.groups[g as usize].sum,
                Kind::Count(g) => self.groups[g as usize].buckets.iter().sum::<u64>() as f64,
                Kind::GaugeInt => {
                    let r = self.rand();
                    let step = (r % 7) as f64 - 3.0;
                    (self.values[i] + step * if self.values[i] > 1_000_000.0 { 4096.0 } else { 1.0 }).max(0.0)
                }
                Kind::GaugeFloat => {
                    let r = self.rand();
                    let d = ((r % 21) as f64 - 10.0) / 100.0;
                    ((self.values[i] + d).max(0.0) * 100.0).round() / 100.0
                }
            };
            self.values[i] = v;
        }
    }

    /// Snappy-compressed remote-write bodies for the current values at time `t`, with at
    /// most `per_request` series each.
    pub fn requests(&self, t: i64, per_request: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut enc = snap::raw::Encoder::new();
        let mut buf = Vec::with_capacity(per_request * 160);
        let mut ts = Vec::with_capacity(256);
        for start in (0..self.labels.len()).step_by(per_request) {
            buf.clear();
            for i in start..(start + per_request).min(self.labels.len()) {
                ts.clear();
                ts.extend_from_slice(&self.labels[i]);
                // Sample { value = 1 (double), timestamp = 2 (int64) }
                let mut sample = Vec::with_capacity(20);
                sample.push(0x09);
                sample.extend_from_slice(&self.values[i].to_bits().to_le_bytes());
                sample.push(0x10);
                put_uvarint(&mut sample, t as u64);
                ts.push(0x12);
                put_uvarint(&mut ts, sample.len() as u64);
                ts.extend_from_slice(&sample);
                buf.push(0x0a); // WriteRequest.timeseries = 1
                put_uvarint(&mut buf, ts.len() as u64);
                buf.extend_from_slice(&ts);
            }
            out.push(enc.compress_vec(&buf).expect("snappy"));
        }
        out
    }
}
