//! Seer's scraper against a local exporter: file-based discovery, relabeling, basic auth,
//! metric relabeling, staleness markers when a target goes away, and `up` for a failing one.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A tiny exporter: answers `/metrics` with Basic auth `u:p`, counts scrapes.
fn exporter(scrapes: Arc<AtomicUsize>) -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in l.incoming() {
            let Ok(mut s) = stream else { continue };
            let scrapes = scrapes.clone();
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 8192];
                let n = s.read(&mut buf).unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                // "u:p" in base64 is dTpw.
                let (status, body) = if !req.contains("Authorization: Basic dTpw")
                    && !req.contains("authorization: Basic dTpw")
                {
                    ("401 Unauthorized", String::new())
                } else {
                    let k = scrapes.fetch_add(1, Ordering::SeqCst);
                    (
                        "200 OK",
                        format!(
                            "# HELP app_requests_total Requests.\n# TYPE app_requests_total counter\napp_requests_total{{path=\"/\"}} {k}\ndebug_noise 1\n# TYPE lat summary\nlat{{quantile=\"0.5\"}} 0.1\n"
                        ),
                    )
                };
                let _ = write!(
                    s,
                    "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    addr
}

#[test]
fn file_sd_relabel_auth_and_staleness() {
    let tmp = tempfile::tempdir().unwrap();
    let scrapes = Arc::new(AtomicUsize::new(0));
    let target = exporter(scrapes.clone());
    let sd = tmp.path().join("targets.json");
    std::fs::write(&sd, format!(r#"[{{"targets":["{target}"],"labels":{{"env":"test","__meta_team":"payments"}}}}]"#))
        .unwrap();
    std::fs::write(tmp.path().join("secret"), "p\n").unwrap();
    let config = format!(
        r#"global: {{scrape_interval: 1s, scrape_timeout: 1s}}
scrape_configs:
  - job_name: app
    basic_auth: {{username: u, password_file: {secret}}}
    file_sd_configs: [{{files: ['{dir}/*.json'], refresh_interval: 1s}}]
    relabel_configs:
      - {{source_labels: [__meta_team], target_label: team}}
    metric_relabel_configs:
      - {{source_labels: [__name__], regex: 'debug_.*', action: drop}}
  - job_name: down
    static_configs: [{{targets: ['127.0.0.1:1']}}]
"#,
        secret = tmp.path().join("secret").display(),
        dir = tmp.path().display()
    );
    let seer = Seer::start(&tmp.path().join("data"), Some(&config));
    let want =
        format!(r#"__name__="app_requests_total",env="test",instance="{target}",job="app",path="/",team="payments""#);
    assert!(
        wait_until(Duration::from_secs(30), || series_set(seer.http, "app_requests_total").contains(&want)),
        "{:?}\n{}",
        series_set(seer.http, "{job=\"app\"}"),
        seer.log_text()
    );
    assert!(series_set(seer.http, "debug_noise").is_empty(), "metric relabeling drops it");
    // Prometheus 3 normalises quantile values.
    assert!(series_set(seer.http, "lat").iter().any(|s| s.contains(r#"quantile="0.5""#)));
    // The unreachable target has up = 0 and says why.
    assert!(wait_until(Duration::from_secs(20), || {
        remote_read(seer.http, None, &[(0, "__name__", "up"), (0, "job", "down")], 0, i64::MAX)
            .first()
            .is_some_and(|s| s.samples.iter().any(|x| x.value == 0.0))
    }));
    let t = get(seer.http, "/api/v1/targets?scrapePool=down").json();
    assert_eq!(t["data"]["activeTargets"][0]["health"], "down");
    assert!(t["data"]["activeTargets"][0]["lastError"].as_str().unwrap().contains("127.0.0.1:1"), "{t}");
    let up = remote_read(seer.http, None, &[(0, "__name__", "up"), (0, "job", "app")], 0, i64::MAX);
    assert!(up[0].samples.iter().all(|s| s.value == 1.0));

    // Remove the target from the file: its series get staleness markers.
    std::fs::write(&sd, "[]").unwrap();
    let stale = |name: &str| {
        remote_read(seer.http, None, &[(0, "__name__", name), (0, "job", "app")], 0, i64::MAX)
            .first()
            .is_some_and(|s| s.samples.last().is_some_and(|x| x.value.to_bits() == 0x7ff0_0000_0000_0002))
    };
    assert!(
        wait_until(Duration::from_secs(30), || stale("app_requests_total") && stale("up")),
        "no staleness markers\n{}",
        seer.log_text()
    );
    let n = scrapes.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(2));
    assert!(scrapes.load(Ordering::SeqCst) <= n + 1, "the removed target is no longer scraped");
}

#[test]
fn sigterm_shuts_down_cleanly_and_keeps_data() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut seer = Seer::start(&data, None);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let s = seer_model::SeriesSamples {
        labels: seer_model::Labels::from_pairs([("__name__", "kept")]),
        samples: vec![seer_model::Sample { t, v: 42.0 }],
        exemplars: vec![],
    };
    assert_eq!(remote_write(seer.http, None, &[s]).status, 204);
    seer.signal("TERM");
    let status = seer.child.wait().unwrap();
    assert!(status.success(), "exit status {status:?}\n{}", seer.log_text());
    assert!(seer.log_text().contains("msg=\"stopped\""));
    let seer = Seer::start(&data, None);
    let got = remote_read(seer.http, None, &[(0, "__name__", "kept")], 0, i64::MAX);
    assert_eq!(got[0].samples[0].value, 42.0);
    // A second process on the same directory is refused.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_seer"))
        .args(["serve", "--data-dir"])
        .arg(&data)
        .args(["--http-listen", "127.0.0.1:0", "--grpc-listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use by another Seer process"));
}
