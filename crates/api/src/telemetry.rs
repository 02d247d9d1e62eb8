//! Seer's own metrics at `GET /metrics`, in the Prometheus text format.

use crate::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};

/// Request and ingest counters.
#[derive(Default)]
pub struct Telemetry {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    samples: Mutex<BTreeMap<&'static str, (u64, u64)>>,
}

impl Telemetry {
    /// Counts a finished request.
    pub fn request(&self, handler: &'static str, code: u16) {
        *self.requests.lock().unwrap_or_else(|e| e.into_inner()).entry((handler, code)).or_default() += 1;
    }

    /// Counts samples received and stored by a protocol.
    pub fn samples(&self, protocol: &'static str, received: u64, stored: u64) {
        let mut m = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        let e = m.entry(protocol).or_default();
        e.0 += received;
        e.1 += stored;
    }
}

fn proc_stats() -> (f64, u64) {
    let ticks = 100.0; // USER_HZ on Linux
    let cpu = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let after = s.rsplit_once(')')?.1;
            let f: Vec<&str> = after.split_whitespace().collect();
            Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / ticks)
        })
        .unwrap_or(0.0);
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024;
    (cpu, rss)
}

pub(crate) async fn handler(State(s): State<Arc<AppState>>) -> Response {
    let mut out = String::new();
    let (cpu, rss) = proc_stats();
    let _ = writeln!(
        out,
        "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total {cpu}"
    );
    let _ = writeln!(
        out,
        "# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {rss}"
    );
    let _ = writeln!(
        out,
        "# HELP seer_build_info Seer's version.\n# TYPE seer_build_info gauge\nseer_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(
        out,
        "# HELP seer_http_requests_total Requests by handler and status code.\n# TYPE seer_http_requests_total counter"
    );
    for ((h, c), n) in s.telemetry.requests.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        let _ = writeln!(out, "seer_http_requests_total{{handler=\"{h}\",code=\"{c}\"}} {n}");
    }
    let samples = s.telemetry.samples.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let _ = writeln!(
        out,
        "# HELP seer_ingest_samples_received_total Samples received by protocol.\n# TYPE seer_ingest_samples_received_total counter"
    );
    for (p, (r, _)) in &samples {
        let _ = writeln!(out, "seer_ingest_samples_received_total{{protocol=\"{p}\"}} {r}");
    }
    let _ = writeln!(
        out,
        "# HELP seer_ingest_samples_stored_total Samples stored by protocol.\n# TYPE seer_ingest_samples_stored_total counter"
    );
    for (p, (_, st)) in &samples {
        let _ = writeln!(out, "seer_ingest_samples_stored_total{{protocol=\"{p}\"}} {st}");
    }
    let _ = writeln!(
        out,
        "# HELP seer_ready 1 once storage is open.\n# TYPE seer_ready gauge\nseer_ready {}",
        s.is_ready() as u8
    );
    if let Ok(storage) = s.storage() {
        let storage = storage.clone();
        let stats = tokio::task::spawn_blocking(move || {
            storage.tenants().into_iter().map(|(t, db)| (t, db.stats())).collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        let gauges: [(&str, &str, fn(&seer_tsdb::DbStats) -> u64); 6] = [
            ("seer_tsdb_head_series", "Series in the head.", |d| d.head_series),
            ("seer_tsdb_head_bytes", "Approximate heap bytes of the head.", |d| d.head_bytes),
            ("seer_tsdb_blocks", "Blocks on disk.", |d| d.blocks),
            ("seer_tsdb_block_bytes", "Bytes of block files.", |d| d.block_bytes),
            ("seer_tsdb_wal_bytes", "Bytes of WAL files.", |d| d.wal_bytes),
            ("seer_tsdb_exemplars", "Exemplars held.", |d| d.exemplars),
        ];
        for (name, help, f) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for (t, d) in &stats {
                let _ = writeln!(out, "{name}{{tenant=\"{t}\"}} {}", f(d));
            }
        }
        let _ = writeln!(
            out,
            "# HELP seer_tsdb_samples_appended_total Samples appended since start.\n# TYPE seer_tsdb_samples_appended_total counter"
        );
        for (t, d) in &stats {
            let _ = writeln!(out, "seer_tsdb_samples_appended_total{{tenant=\"{t}\"}} {}", d.samples_appended);
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response()
}
