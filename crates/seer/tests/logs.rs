//! The Loki-compatible log path end to end against the real binary: push (JSON, snappy
//! protobuf, gzip), LogQL over the Loki query API, label/series endpoints, Loki's errors, and
//! `kill -9` during a push stream.

mod common;

use common::*;
use prost::Message;
use seer_ingest::proto::logproto;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn now_ns() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64
}

fn push_json(addr: std::net::SocketAddr, tenant: Option<&str>, body: &str) -> Resp {
    let mut h = vec![("Content-Type", "application/json")];
    if let Some(t) = tenant {
        h.push(("X-Scope-OrgID", t));
    }
    http(addr, "POST", "/loki/api/v1/push", &h, body.as_bytes()).unwrap()
}

fn push_proto(addr: std::net::SocketAddr, req: &logproto::PushRequest) -> Resp {
    let body = snap::raw::Encoder::new().compress_vec(&req.encode_to_vec()).unwrap();
    http(addr, "POST", "/loki/api/v1/push", &[("Content-Type", "application/x-protobuf")], &body).unwrap()
}

fn query_range(addr: std::net::SocketAddr, q: &str, start: i64, end: i64, extra: &str) -> Resp {
    get(addr, &format!("/loki/api/v1/query_range?query={}&start={start}&end={end}{extra}", enc(q)))
}

/// (stream labels as JSON text, ts, line) of a streams result, in response order.
fn lines(r: &Resp) -> Vec<(String, String, String)> {
    let v = r.json();
    assert_eq!(v["data"]["resultType"], "streams", "{}", r.text());
    let mut out = Vec::new();
    for s in v["data"]["result"].as_array().unwrap() {
        for e in s["values"].as_array().unwrap() {
            out.push((s["stream"].to_string(), e[0].as_str().unwrap().to_string(), e[1].as_str().unwrap().to_string()));
        }
    }
    out
}

#[test]
fn push_and_query_like_loki() {
    let tmp = tempfile::tempdir().unwrap();
    let seer = Seer::start(&tmp.path().join("d"), None);
    let t0 = now_ns() - 60_000_000_000;
    let body = format!(
        r#"{{"streams":[{{"stream":{{"app":"api","env":"prod"}},"values":[
            ["{}","level=info msg=\"started\" status=200 took=12ms"],
            ["{}","level=error msg=\"boom <x>\" status=500 took=1.5s trace_id=abc123",{{"trace_id":"abc123"}}],
            ["{}","level=info msg=\"ok\" status=200 took=30ms"]]}},
          {{"stream":{{"app":"web"}},"values":[["{}","{{\"status\":503,\"path\":\"/a\"}}"]]}}]}}"#,
        t0,
        t0 + 1_000_000_000,
        t0 + 2_000_000_000,
        t0 + 3_000_000_000
    );
    let r = push_json(seer.http, None, &body);
    assert_eq!(r.status, 204, "{}", r.text());
    // Protobuf push with structured metadata.
    let req = logproto::PushRequest {
        streams: vec![logproto::StreamAdapter {
            labels: r#"{app="api", env="prod"}"#.into(),
            entries: vec![logproto::EntryAdapter {
                timestamp: Some(logproto::Timestamp {
                    seconds: (t0 + 4_000_000_000) / 1_000_000_000,
                    nanos: ((t0 + 4_000_000_000) % 1_000_000_000) as i32,
                }),
                line: "level=warn msg=\"slow\" status=200 took=900ms".into(),
                structured_metadata: vec![logproto::LabelPairAdapter {
                    name: "trace_id".into(),
                    value: "def456".into(),
                }],
            }],
        }],
    };
    let r = push_proto(seer.http, &req);
    assert_eq!(r.status, 204, "{}", r.text());

    let (start, end) = (t0 - 1_000_000_000, t0 + 10_000_000_000);
    // Newest first by default, limit respected, HTML-escaped lines decode back.
    let r = query_range(seer.http, r#"{app="api"}"#, start, end, "&limit=3");
    let got = lines(&r);
    assert_eq!(got.len(), 3, "{}", r.text());
    assert!(got[0].2.contains("slow") || got.iter().any(|l| l.2.contains("slow")));
    assert!(r.text().contains("\\u003cx\\u003e"), "Loki escapes < and >: {}", r.text());
    // Structured metadata joins the labels, so the lines come in several streams; within a
    // stream, backward is newest first, and the three newest lines overall are returned.
    for s in r.json()["data"]["result"].as_array().unwrap() {
        let ts: Vec<i64> =
            s["values"].as_array().unwrap().iter().map(|e| e[0].as_str().unwrap().parse().unwrap()).collect();
        assert!(ts.windows(2).all(|w| w[0] >= w[1]), "backward is newest first: {ts:?}");
    }
    let mut ts: Vec<i64> = got.iter().map(|l| l.1.parse().unwrap()).collect();
    ts.sort();
    assert_eq!(ts, vec![t0 + 1_000_000_000, t0 + 2_000_000_000, t0 + 4_000_000_000]);
    // Forward.
    let got = lines(&query_range(seer.http, r#"{app="api"}"#, start, end, "&direction=forward"));
    assert_eq!(got.len(), 4);
    assert!(got[0].2.contains("started"));
    // Line filter, parser and label filter.
    let got = lines(&query_range(seer.http, r#"{env="prod"} |= "status" | logfmt | status >= 500"#, start, end, ""));
    assert_eq!(got.len(), 1);
    assert!(got[0].2.contains("boom"));
    // The trace id finds its line by text and by structured metadata.
    let got = lines(&query_range(seer.http, r#"{service_name="api"} |= "abc123""#, start, end, ""));
    assert_eq!(got.len(), 1, "service_name is discovered from app");
    let got = lines(&query_range(seer.http, r#"{app="api"} | trace_id="def456""#, start, end, ""));
    assert_eq!(got.len(), 1);
    assert!(got[0].2.contains("slow"));
    // JSON parser.
    let got = lines(&query_range(seer.http, r#"{app="web"} | json | status >= 500"#, start, end, ""));
    assert_eq!(got.len(), 1);
    assert!(got[0].0.contains("\"path\":\"/a\""), "extracted labels join the stream labels: {}", got[0].0);
    // Metric queries: instant vector and matrix.
    let r = get(
        seer.http,
        &format!(
            "/loki/api/v1/query?query={}&time={}",
            enc(r#"sum by (app) (count_over_time({env="prod"}[1m]))"#),
            t0 + 10_000_000_000
        ),
    );
    let v = r.json();
    assert_eq!(v["data"]["resultType"], "vector", "{}", r.text());
    assert_eq!(v["data"]["result"][0]["value"][1], "4", "{}", r.text());
    assert!(v["data"]["stats"]["summary"]["totalLinesProcessed"].is_number());
    let r = query_range(seer.http, r#"sum(rate({app="api"} |= "level=error" [1m]))"#, start, end, "&step=5");
    let v = r.json();
    assert_eq!(v["data"]["resultType"], "matrix", "{}", r.text());
    // A log query as an instant query is refused, in Loki's words, as plain text.
    let r = get(seer.http, &format!("/loki/api/v1/query?query={}", enc(r#"{app="api"}"#)));
    assert_eq!(r.status, 400);
    assert!(r.text().starts_with("log queries are not supported as an instant query type"), "{}", r.text());
    // Parse errors.
    let r = query_range(seer.http, r#"{app="api"} |= "#, start, end, "");
    assert_eq!(r.status, 400);
    assert!(r.text().starts_with("parse error"), "{}", r.text());
    let r = query_range(seer.http, r#"{app=~".*"}"#, start, end, "");
    assert_eq!(r.status, 400);
    // Labels, values, series, stats, format_query.
    let qs = format!("start={start}&end={end}");
    let names = get(seer.http, &format!("/loki/api/v1/labels?{qs}")).json();
    let names: BTreeSet<String> =
        names["data"].as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect();
    assert_eq!(names, ["app", "env", "service_name"].iter().map(|s| s.to_string()).collect());
    let vals = get(seer.http, &format!("/loki/api/v1/label/app/values?{qs}")).json();
    assert_eq!(vals["data"], serde_json::json!(["api", "web"]));
    let empty = get(seer.http, &format!("/loki/api/v1/label/nope/values?{qs}"));
    assert_eq!(empty.text().trim(), r#"{"status":"success"}"#);
    let series = get(seer.http, &format!("/loki/api/v1/series?match[]={}&{qs}", enc(r#"{app="web"}"#))).json();
    assert_eq!(series["data"], serde_json::json!([{"app": "web", "service_name": "web"}]));
    let stats = get(seer.http, &format!("/loki/api/v1/index/stats?query={}&{qs}", enc(r#"{app="api"}"#))).json();
    assert_eq!(stats["streams"], 1);
    assert_eq!(stats["entries"], 4);
    let f = get(seer.http, &format!("/loki/api/v1/format_query?query={}", enc(r#"{foo=   "bar"}"#))).json();
    assert_eq!(f["data"], r#"{foo="bar"}"#);
    // Tenants are separate.
    let r = push_json(
        seer.http,
        Some("other"),
        &format!(r#"{{"streams":[{{"stream":{{"app":"x"}},"values":[["{t0}","y"]]}}]}}"#),
    );
    assert_eq!(r.status, 204);
    let got = lines(&query_range(seer.http, r#"{app="x"}"#, start, end, ""));
    assert!(got.is_empty(), "default tenant must not see tenant other");
}

#[test]
fn bad_pushes_get_lokis_errors_and_keep_the_good_part() {
    let tmp = tempfile::tempdir().unwrap();
    let seer = Seer::start(&tmp.path().join("d"), None);
    let t = now_ns();
    let r = http(seer.http, "POST", "/loki/api/v1/push", &[], b"{}").unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(r.text().trim(), "mime: no media type");
    let r = push_json(seer.http, None, "{not json");
    assert_eq!(r.status, 400);
    let r = http(
        seer.http,
        "POST",
        "/loki/api/v1/push",
        &[("Content-Type", "application/x-protobuf")],
        b"definitely not snappy",
    )
    .unwrap();
    assert_eq!(r.status, 400);
    let r = http(
        seer.http,
        "POST",
        "/loki/api/v1/push",
        &[("Content-Type", "application/json"), ("Content-Encoding", "br")],
        b"{}",
    )
    .unwrap();
    assert_eq!(r.status, 400);
    assert!(r.text().contains("not supported"), "{}", r.text());
    // One good line, one line too far in the future, one stream with a bad label string.
    let long_future = t + 3_600_000_000_000;
    let body = format!(
        r#"{{"streams":[{{"stream":{{"app":"ok"}},"values":[["{t}","good"],["{long_future}","future"]]}},{{"stream":{{"bad-name":"x"}},"values":[["{t}","z"]]}}]}}"#
    );
    let r = push_json(seer.http, None, &body);
    assert_eq!(r.status, 400);
    assert!(r.text().contains("errors like"), "{}", r.text());
    assert!(r.text().contains("timestamp too new"), "{}", r.text());
    let got = lines(&query_range(seer.http, r#"{app="ok"}"#, t - 1_000_000_000, t + 1_000_000_000, ""));
    assert_eq!(got.len(), 1, "the good line is stored");
    // gzip content encoding.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(
        &mut gz,
        format!(r#"{{"streams":[{{"stream":{{"app":"gz"}},"values":[["{t}","zipped"]]}}]}}"#).as_bytes(),
    )
    .unwrap();
    let r = http(
        seer.http,
        "POST",
        "/loki/api/v1/push",
        &[("Content-Type", "application/json"), ("Content-Encoding", "gzip")],
        &gz.finish().unwrap(),
    )
    .unwrap();
    assert_eq!(r.status, 204, "{}", r.text());
}

#[test]
fn acknowledged_lines_survive_kill_9() {
    const BATCHES: usize = 5000;
    const LINES: usize = 20;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut seer = Seer::start(&data, None);
    let addr = seer.http;
    let t0 = now_ns() - 3_000_000_000_000;
    let acked = Arc::new(Mutex::new(Vec::<usize>::new()));
    let sent = Arc::new(AtomicUsize::new(0));
    let writer = {
        let acked = acked.clone();
        let sent = sent.clone();
        std::thread::spawn(move || {
            for i in 0..BATCHES {
                sent.store(i, Ordering::SeqCst);
                let values: Vec<String> = (0..LINES)
                    .map(|k| format!(r#"["{}","batch {i} line {k}"]"#, t0 + (i * LINES + k) as i64 * 1000))
                    .collect();
                let body = format!(
                    r#"{{"streams":[{{"stream":{{"job":"kill9","part":"{}"}},"values":[{}]}}]}}"#,
                    i % 3,
                    values.join(",")
                );
                match http(addr, "POST", "/loki/api/v1/push", &[("Content-Type", "application/json")], body.as_bytes())
                {
                    Ok(r) if r.status == 204 => acked.lock().unwrap().push(i),
                    Ok(r) => panic!("batch {i}: unexpected status {} {}", r.status, r.text()),
                    Err(_) => return,
                }
            }
        })
    };
    assert!(wait_until(Duration::from_secs(120), || acked.lock().unwrap().len() >= 2000), "writer too slow");
    seer.kill9();
    writer.join().unwrap();
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 2000 && acked.len() < BATCHES, "kill must land mid-stream: {} acked", acked.len());
    let seer = Seer::start(&data, None);
    // Count per batch with a metric query over the whole span (limits do not apply to it).
    let end = t0 + (BATCHES * LINES) as i64 * 1000 + 1;
    let r = get(
        seer.http,
        &format!(
            "/loki/api/v1/query?query={}&time={}",
            enc(&format!(r#"sum(count_over_time({{job="kill9"}}[{}s]))"#, (end - t0) / 1_000_000_000 + 2)),
            end
        ),
    );
    let v = r.json();
    let total: f64 = v["data"]["result"][0]["value"][1].as_str().unwrap_or("0").parse().unwrap();
    assert!(
        total as usize >= acked.len() * LINES,
        "lost lines: {} stored, {} acknowledged",
        total,
        acked.len() * LINES
    );
    // And every acknowledged batch is there line by line (sampled: every 97th).
    for &i in acked.iter().step_by(97) {
        let q = format!(r#"{{job="kill9"}} |= "batch {i} line ""#);
        let got = lines(&query_range(seer.http, &q, t0, end, "&limit=100"));
        assert_eq!(got.len(), LINES, "batch {i}");
    }
    eprintln!(
        "{} pushes ({} lines) acknowledged before kill -9, all present after restart ({} stored)",
        acked.len(),
        acked.len() * LINES,
        total
    );
}

fn run_sdk(mode: &str, endpoint: &str, service: &str) -> String {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/otel_logs.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(mode)
        .arg(endpoint)
        .arg(service)
        .env("PYTHONPATH", pydeps())
        .output()
        .expect("python3");
    assert!(out.status.success(), "SDK script failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn opentelemetry_python_sdk_logs_over_grpc_and_http() {
    assert!(
        pydeps().join("opentelemetry").exists(),
        "the OpenTelemetry Python SDK is missing from {}; scripts/test installs it",
        pydeps().display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let seer = Seer::start(&tmp.path().join("d"), None);
    let start = now_ns() - 60_000_000_000;
    for (mode, endpoint, service) in [
        ("grpc", seer.grpc.to_string(), "checkout-grpc"),
        ("http", format!("http://{}/v1/logs", seer.http), "checkout-http"),
    ] {
        let trace_id = run_sdk(mode, &endpoint, service);
        assert_eq!(trace_id.len(), 32, "{trace_id}");
        let end = now_ns() + 60_000_000_000;
        let all = lines(&query_range(seer.http, &format!(r#"{{service_name="{service}"}}"#), start, end, ""));
        assert_eq!(all.len(), 3, "{mode}: {all:?}");
        // By the trace id in the text, and by the trace_id structured metadata.
        let by_text =
            lines(&query_range(seer.http, &format!(r#"{{service_name="{service}"}} |= "{trace_id}""#), start, end, ""));
        assert_eq!(by_text.len(), 2, "{mode}: {by_text:?}");
        let by_meta = lines(&query_range(
            seer.http,
            &format!(r#"{{service_name="{service}"}} | trace_id="{trace_id}""#),
            start,
            end,
            "",
        ));
        assert_eq!(by_meta.len(), 2, "{mode}: {by_meta:?}");
        let labels: serde_json::Value = serde_json::from_str(&by_meta[0].0).unwrap();
        assert_eq!(labels["deployment_environment"], "test", "{labels}");
        assert!(labels["span_id"].as_str().is_some_and(|s| s.len() == 16), "{labels}");
        assert!(labels["severity_text"].is_string(), "{labels}");
        let err = lines(&query_range(
            seer.http,
            &format!(r#"{{service_name="{service}"}} | severity_text="ERROR" | trace_id="{trace_id}""#),
            start,
            end,
            "",
        ));
        assert_eq!(err.len(), 1);
        assert!(err[0].2.starts_with("payment declined"), "{err:?}");
        eprintln!("{mode}: trace {trace_id} found its 2 log lines by text and by structured metadata");
    }
}

/// A minimal WebSocket client (enough to read Loki's tail frames): handshake, then text frames.
struct Ws(std::net::TcpStream);

impl Ws {
    fn connect(addr: std::net::SocketAddr, path: &str) -> Result<Ws, String> {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .unwrap();
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if s.read(&mut b).map_err(|e| e.to_string())? == 0 {
                return Err(String::from_utf8_lossy(&head).to_string());
            }
            head.push(b[0]);
        }
        let head = String::from_utf8_lossy(&head).to_string();
        if !head.starts_with("HTTP/1.1 101") {
            return Err(head);
        }
        Ok(Ws(s))
    }

    /// The next text frame.
    fn text(&mut self) -> String {
        use std::io::Read;
        loop {
            let mut h = [0u8; 2];
            self.0.read_exact(&mut h).expect("frame header");
            let mut len = (h[1] & 0x7f) as u64;
            if len == 126 {
                let mut e = [0u8; 2];
                self.0.read_exact(&mut e).unwrap();
                len = u16::from_be_bytes(e) as u64;
            } else if len == 127 {
                let mut e = [0u8; 8];
                self.0.read_exact(&mut e).unwrap();
                len = u64::from_be_bytes(e);
            }
            let mut payload = vec![0u8; len as usize];
            self.0.read_exact(&mut payload).unwrap();
            if h[0] & 0x0f == 1 {
                return String::from_utf8(payload).unwrap();
            }
        }
    }
}

#[test]
fn live_tail_over_websocket() {
    let tmp = tempfile::tempdir().unwrap();
    let seer = Seer::start(&tmp.path().join("d"), None);
    let t = now_ns();
    let push = |line: &str, ts: i64| {
        let r = push_json(
            seer.http,
            None,
            &format!(r#"{{"streams":[{{"stream":{{"app":"tail"}},"values":[["{ts}","{line}"]]}}]}}"#),
        );
        assert_eq!(r.status, 204, "{}", r.text());
    };
    push("before the tail", t - 5_000_000_000);
    let q = enc(r#"{app="tail"} |= "tail""#);
    let mut ws = Ws::connect(seer.http, &format!("/loki/api/v1/tail?query={q}&start={}", t - 60_000_000_000)).unwrap();
    let first: serde_json::Value = serde_json::from_str(&ws.text()).unwrap();
    assert_eq!(first["streams"][0]["values"][0][1], "before the tail", "{first}");
    push("during the tail", now_ns());
    let next: serde_json::Value = serde_json::from_str(&ws.text()).unwrap();
    assert_eq!(next["streams"][0]["values"][0][1], "during the tail", "{next}");
    assert_eq!(next["streams"][0]["stream"]["app"], "tail");
    // A metric query cannot be tailed.
    let r = get(seer.http, &format!("/loki/api/v1/tail?query={}", enc(r#"count_over_time({app="tail"}[1m])"#)));
    assert!(r.status == 400 || r.status == 426, "{} {}", r.status, r.text());
}
