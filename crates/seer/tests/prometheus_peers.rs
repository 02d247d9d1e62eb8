//! Against the real Debian `prometheus` and `prometheus-node-exporter`:
//! - Prometheus remote-writes everything it scrapes (itself and a node exporter) to Seer:
//!   Seer's `/api/v1/series` lists exactly the series Prometheus holds for those jobs.
//! - Seer scrapes the same node exporter itself: `up` is 1 and its series are the ones
//!   Prometheus' own scrape produces (up to the documented Prometheus 2 → 3 change that
//!   normalises `le`/`quantile` values, e.g. `quantile="1"` → `"1.0"`).

mod common;

use common::*;
use std::collections::BTreeSet;
use std::time::Duration;

/// Prometheus 3's `le`/`quantile` normalisation applied to a series printed by
/// `series_set`, for comparing with Prometheus 2.42.
fn normalise(s: &str) -> String {
    s.split(',')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap();
            if k == "quantile" || k == "le" {
                let raw: String = serde_json::from_str(v).unwrap();
                match seer_ingest::exposition::parse_float(&raw) {
                    Some(f) => format!("{k}={:?}", seer_ingest::exposition::format_openmetrics_float(f)),
                    None => pair.to_string(),
                }
            } else {
                pair.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn diff(a: &BTreeSet<String>, b: &BTreeSet<String>) -> String {
    let only_a: Vec<&String> = a.difference(b).take(10).collect();
    let only_b: Vec<&String> = b.difference(a).take(10).collect();
    format!(
        "only in the first ({}): {only_a:?}\nonly in the second ({}): {only_b:?}",
        a.difference(b).count(),
        b.difference(a).count()
    )
}

#[test]
fn prometheus_remote_write_series_match() {
    let tmp = tempfile::tempdir().unwrap();
    let seer = Seer::start(&tmp.path().join("seer"), None);
    let node = node_exporter(tmp.path());
    let prom = prometheus(
        tmp.path(),
        &format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n- job_name: prometheus\n  static_configs: [{{targets: ['$SELF']}}]\n- job_name: node\n  static_configs: [{{targets: ['{}']}}]\nremote_write:\n- url: http://{}/api/v1/write\n  queue_config: {{batch_send_deadline: 1s, min_backoff: 100ms, max_backoff: 1s}}\n  metadata_config: {{send_interval: 2s}}\n",
            node.addr, seer.http
        ),
    );
    // Let Prometheus scrape and forward for a while.
    std::thread::sleep(Duration::from_secs(20));
    let matcher = "{job=~\"prometheus|node\"}";
    let mut last = String::new();
    let ok = wait_until(Duration::from_secs(90), || {
        let before = series_set(prom.addr, matcher);
        let in_seer = series_set(seer.http, matcher);
        let after = series_set(prom.addr, matcher);
        if before == after && before == in_seer && before.len() > 500 {
            eprintln!("{} series identical in Prometheus and Seer", in_seer.len());
            return true;
        }
        last = format!("prometheus {} series, seer {}\n{}", after.len(), in_seer.len(), diff(&after, &in_seer));
        false
    });
    assert!(ok, "series differ:\n{last}\nseer log:\n{}", seer.log_text());
    // Remote-written metadata is served.
    let md = get(seer.http, "/api/v1/metadata?metric=node_cpu_seconds_total").json();
    assert_eq!(md["data"]["node_cpu_seconds_total"][0]["type"], "counter", "{md}");
    // And the samples are the same: compare one scraped series through remote read.
    let prom_up = get(prom.addr, "/api/v1/query?query=up%7Bjob%3D%22node%22%7D").json();
    assert_eq!(prom_up["data"]["result"][0]["value"][1], "1");
    let seer_up = remote_read(seer.http, None, &[(0, "__name__", "up"), (0, "job", "node")], 0, i64::MAX);
    assert!(seer_up[0].samples.len() > 10 && seer_up[0].samples.iter().all(|s| s.value == 1.0));
}

#[test]
fn seer_scrapes_node_exporter_like_prometheus() {
    let tmp = tempfile::tempdir().unwrap();
    let node = node_exporter(tmp.path());
    let scrape = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n- job_name: node\n  static_configs: [{{targets: ['{}']}}]\n",
        node.addr
    );
    let seer = Seer::start(&tmp.path().join("seer"), Some(&scrape));
    let prom = prometheus(tmp.path(), &scrape);
    let matcher = "{job=\"node\"}";
    let mut last = String::new();
    let ok = wait_until(Duration::from_secs(90), || {
        let before: BTreeSet<String> = series_set(prom.addr, matcher).iter().map(|s| normalise(s)).collect();
        let in_seer = series_set(seer.http, matcher);
        let after: BTreeSet<String> = series_set(prom.addr, matcher).iter().map(|s| normalise(s)).collect();
        if before == after && before == in_seer && before.len() > 300 {
            eprintln!("{} series identical", in_seer.len());
            return true;
        }
        last = format!("prometheus {}, seer {}\n{}", after.len(), in_seer.len(), diff(&after, &in_seer));
        false
    });
    assert!(ok, "series differ:\n{last}\nseer log:\n{}", seer.log_text());
    let up = remote_read(seer.http, None, &[(0, "__name__", "up"), (0, "job", "node")], 0, i64::MAX);
    assert_eq!(up.len(), 1);
    assert!(up[0].samples.iter().all(|s| s.value == 1.0), "{:?}", up[0].samples);
    let t = get(seer.http, "/api/v1/targets").json();
    assert_eq!(t["data"]["activeTargets"][0]["health"], "up", "{t}");
    // Scrape metadata reaches /api/v1/metadata.
    let md = get(seer.http, "/api/v1/metadata?metric=node_cpu_seconds_total").json();
    assert_eq!(md["data"]["node_cpu_seconds_total"][0]["type"], "counter");
}
