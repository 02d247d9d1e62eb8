//! The trace benchmark: generated traces (10 spans over 4 services, realistic attributes,
//! some events and errors) spread over the last hour, exported to Seer as the OpenTelemetry
//! SDK does (OTLP/HTTP protobuf, 100 traces per request).
//!
//! Reports: ingest spans/s and OTLP MB/s per Seer core (CPU includes the block written at
//! shutdown), bytes on disk per span, trace-by-id latency p50/p99 without a time range
//! (after a restart, so every trace is read from blocks), and TraceQL searches over the hour.

use crate::http::{Conn, arg, enc, free_port};
use crate::proc::{Rng, children_cpu, cpu_seconds, dir_bytes, seer_args, spawn, wait_ready};
use anyhow::{Context, Result, bail};
use prost::Message;
use seer_ingest::proto::otlp::common::{AnyValue, InstrumentationScope, KeyValue, any_value};
use seer_ingest::proto::otlp::resource::Resource;
use seer_ingest::proto::otlp::trace::{ExportTraceServiceRequest, ResourceSpans, ScopeSpans, Span, Status, span};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn kv(k: &str, v: any_value::Value) -> KeyValue {
    KeyValue { key: k.into(), value: Some(AnyValue { value: Some(v) }) }
}

fn s(v: &str) -> any_value::Value {
    any_value::Value::StringValue(v.into())
}

const SERVICES: [&str; 4] = ["frontend", "checkout", "payment", "inventory"];
const ROUTES: [&str; 6] = ["/api/cart", "/api/checkout", "/api/items/{id}", "/api/pay", "/api/stock", "/healthz"];

/// The 10 spans of one trace: frontend server root → client calls → server spans in the
/// other services → a database client span each.
fn trace_spans(r: &mut Rng, tid: &[u8; 16], start_ns: u64, out: &mut [Vec<Span>; 4]) {
    let mut next_id = r.next();
    let mut id = || {
        next_id = next_id.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        next_id.to_be_bytes().to_vec()
    };
    let error = r.below(50) == 0;
    let slow = r.below(100) == 0;
    let route = ROUTES[r.below(ROUTES.len() as u64) as usize];
    let total = if slow { 2_000_000_000 + r.below(1_000_000_000) } else { 5_000_000 + r.below(200_000_000) };
    let root = id();
    let status_code = if error { 500 } else { 200 };
    let http_attrs = |method: &str, code: i64| {
        vec![
            kv("http.request.method", s(method)),
            kv("http.route", s(route)),
            kv("http.response.status_code", any_value::Value::IntValue(code)),
            kv("url.scheme", s("http")),
            kv("network.protocol.version", s("1.1")),
        ]
    };
    let mk = |span_id: Vec<u8>,
              parent: Vec<u8>,
              name: String,
              kind: i32,
              st: u64,
              dur: u64,
              attrs: Vec<KeyValue>,
              err: bool| Span {
        trace_id: tid.to_vec(),
        span_id,
        parent_span_id: parent,
        name,
        kind,
        start_time_unix_nano: st,
        end_time_unix_nano: st + dur,
        attributes: attrs,
        status: err.then(|| Status { message: "upstream failed".into(), code: 2 }),
        flags: 0x101,
        ..Default::default()
    };
    let mut root_span =
        mk(root.clone(), vec![], format!("GET {route}"), 2, start_ns, total, http_attrs("GET", status_code), error);
    if error {
        root_span.events.push(span::Event {
            time_unix_nano: start_ns + total - 1000,
            name: "exception".into(),
            attributes: vec![
                kv("exception.type", s("UpstreamError")),
                kv("exception.message", s("payment returned 500")),
            ],
            dropped_attributes_count: 0,
        });
    }
    out[0].push(root_span);
    let part = total / 4;
    for (i, svc) in SERVICES.iter().enumerate().skip(1) {
        let cst = start_ns + part * (i as u64 - 1) / 2 + 100_000;
        let client = id();
        let err = error && *svc == "payment";
        out[0].push(mk(
            client.clone(),
            root.clone(),
            format!("POST /{svc}"),
            3,
            cst,
            part,
            http_attrs("POST", if err { 500 } else { 200 }),
            err,
        ));
        let server = id();
        out[i].push(mk(
            server.clone(),
            client,
            format!("{svc}.handle"),
            2,
            cst + 50_000,
            part - 100_000,
            http_attrs("POST", if err { 500 } else { 200 }),
            err,
        ));
        let mut db = mk(
            id(),
            server,
            "SELECT orders".into(),
            3,
            cst + 100_000,
            part / 3,
            vec![kv("db.system", s("postgresql")), kv("db.name", s("shop")), kv("db.operation", s("SELECT"))],
            false,
        );
        if r.below(10) == 0 {
            db.events.push(span::Event {
                time_unix_nano: cst + 150_000,
                name: "rows fetched".into(),
                attributes: vec![kv("rows", any_value::Value::IntValue(r.below(500) as i64))],
                dropped_attributes_count: 0,
            });
        }
        out[i].push(db);
    }
}

fn request(spans: [Vec<Span>; 4], pod: usize) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: spans
            .into_iter()
            .enumerate()
            .map(|(i, list)| ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![
                        kv("service.name", s(SERVICES[i])),
                        kv("service.version", s("2.4.1")),
                        kv("host.name", s(&format!("{}-{pod}", SERVICES[i]))),
                        kv("deployment.environment", s("prod")),
                        kv("telemetry.sdk.language", s("python")),
                    ],
                    dropped_attributes_count: 0,
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "opentelemetry.instrumentation.flask".into(),
                        version: "0.48b0".into(),
                        ..Default::default()
                    }),
                    spans: list,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            })
            .collect(),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Runs the benchmark and appends the results to `bench/RESULTS.md`.
pub fn run(args: &[String]) -> Result<()> {
    let spans_target: u64 = arg(args, "--spans").map(|s| s.parse()).transpose()?.unwrap_or(10_000_000);
    let out = PathBuf::from(arg(args, "--out").unwrap_or_else(|| "bench/out-traces".into()));
    let seer_bin = PathBuf::from(arg(args, "--seer").unwrap_or_else(|| "target/release/seer".into()));
    if !seer_bin.exists() {
        bail!("{} not found: build it with `cargo build --release -p seer`", seer_bin.display());
    }
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out)?;
    let out = out.canonicalize()?;
    let data = out.join("seer-data");
    // The bench measures throughput: no per-tenant rate limit.
    let cfg = out.join("seer.yml");
    std::fs::write(&cfg, "traces:\n  ingestion_rate_mb: 0\n")?;
    let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse()?;
    let grpc = free_port();
    let mut seer = spawn(&seer_bin, &seer_args(&cfg, &data, http, grpc), &out.join("seer.log"))?;
    wait_ready(http, "/-/ready", Duration::from_secs(120)).context("seer did not start")?;

    let traces = spans_target / 10;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos() as u64;
    let hour = 3_600_000_000_000u64;
    let t0 = now - hour;
    let mut r = Rng(0x2545_f491_4f6c_dd1d);
    let mut conn = Conn::new(http);
    let per_request = 100u64;
    let mut sample_ids = Vec::new();
    let (mut spans_sent, mut wire_bytes) = (0u64, 0u64);
    let cpu0 = cpu_seconds(seer.id());
    let started = Instant::now();
    let mut gen_secs = 0.0;
    for req_no in 0..traces.div_ceil(per_request) {
        let g = Instant::now();
        let mut parts: [Vec<Span>; 4] = Default::default();
        for k in 0..per_request {
            let n = req_no * per_request + k;
            if n >= traces {
                break;
            }
            let mut tid = [0u8; 16];
            tid[..8].copy_from_slice(&r.next().to_be_bytes());
            tid[8..].copy_from_slice(&r.next().to_be_bytes());
            if n.is_multiple_of(500) {
                sample_ids.push(tid);
            }
            // Traces spread evenly over the hour, in time order as they would arrive.
            let st = t0 + n * (hour / traces);
            trace_spans(&mut r, &tid, st, &mut parts);
        }
        spans_sent += parts.iter().map(|p| p.len() as u64).sum::<u64>();
        let body = request(parts, (req_no % 8) as usize).encode_to_vec();
        wire_bytes += body.len() as u64;
        gen_secs += g.elapsed().as_secs_f64();
        let (st, b) = conn.request("POST", "/v1/traces", &[("Content-Type", "application/x-protobuf")], &body)?;
        if st != 200 || !b.is_empty() && String::from_utf8_lossy(&b).contains("rejected") {
            bail!("export failed: {st} {}", String::from_utf8_lossy(&b));
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let ingest_cpu = cpu_seconds(seer.id()) - cpu0;
    println!(
        "sent {spans_sent} spans ({:.0} MB OTLP) in {wall:.1}s ({gen_secs:.1}s generating): {:.0} spans/s per Seer core during ingest",
        wire_bytes as f64 / 1e6,
        spans_sent as f64 / ingest_cpu
    );
    // Clean shutdown writes the head as a block; its CPU counts.
    let before = children_cpu();
    let _ = Command::new("kill").arg("-TERM").arg(seer.id().to_string()).status();
    let _ = seer.wait();
    let total_cpu = (children_cpu() - before).max(ingest_cpu);
    let spans_per_core = spans_sent as f64 / total_cpu;
    let mb_per_core = wire_bytes as f64 / 1e6 / total_cpu;
    let disk = dir_bytes(&data.join("traces"));
    let per_span = disk as f64 / spans_sent as f64;
    println!(
        "CPU including the shutdown block {total_cpu:.1}s: {spans_per_core:.0} spans/s and {mb_per_core:.1} MB/s per core; \
         disk {disk} bytes = {per_span:.1} bytes per span (OTLP protobuf: {:.1})",
        wire_bytes as f64 / spans_sent as f64
    );

    // Restart: every trace now comes from blocks. Trace by id, no time range.
    let mut seer = spawn(&seer_bin, &seer_args(&cfg, &data, http, grpc), &out.join("seer2.log"))?;
    let replay = wait_ready(http, "/-/ready", Duration::from_secs(300)).context("seer did not restart")?;
    let mut conn = Conn::new(http);
    let mut lat = Vec::with_capacity(sample_ids.len());
    // One warm-up pass over a few ids, then the measured pass over all samples.
    for id in sample_ids.iter().take(20) {
        conn.request("GET", &format!("/api/traces/{}", hex(id)), &[("Accept", "application/protobuf")], b"")?;
    }
    for id in &sample_ids {
        let t = Instant::now();
        let (st, b) =
            conn.request("GET", &format!("/api/traces/{}", hex(id)), &[("Accept", "application/protobuf")], b"")?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        if st != 200 || b.is_empty() {
            bail!("trace {} not found: {st}", hex(id));
        }
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    let (p50, p99) = (percentile(&lat, 0.5), percentile(&lat, 0.99));
    let mut lat_json = Vec::new();
    for id in sample_ids.iter().take(500) {
        let t = Instant::now();
        let (st, _) = conn.request("GET", &format!("/api/traces/{}", hex(id)), &[], b"")?;
        lat_json.push(t.elapsed().as_secs_f64() * 1000.0);
        if st != 200 {
            bail!("trace {} not found: {st}", hex(id));
        }
    }
    lat_json.sort_by(|a, b| a.total_cmp(b));
    println!(
        "trace by id over {} traces ({} spans), protobuf: p50 {p50:.2} ms, p99 {p99:.2} ms; JSON p50 {:.2} ms, p99 {:.2} ms",
        lat.len(),
        spans_sent,
        percentile(&lat_json, 0.5),
        percentile(&lat_json, 0.99)
    );
    // TraceQL searches over the hour.
    let (s0, s1) = (t0 / 1_000_000_000, now / 1_000_000_000 + 1);
    let mut searches = Vec::new();
    for q in [
        r#"{ resource.service.name = "payment" && status = error }"#,
        r#"{ span.http.route = "/api/pay" && duration > 2s }"#,
        r#"{ resource.service.name = "frontend" } >> { span.db.system = "postgresql" && duration > 1s }"#,
    ] {
        let path = format!("/api/search?q={}&start={s0}&end={s1}&limit=20", enc(q));
        let t = Instant::now();
        let (st, b) = conn.request("GET", &path, &[], b"")?;
        let secs = t.elapsed().as_secs_f64();
        if st != 200 {
            bail!("search {q}: {st} {}", String::from_utf8_lossy(&b));
        }
        let v: serde_json::Value = serde_json::from_slice(&b)?;
        let n = v["traces"].as_array().map_or(0, |a| a.len());
        println!("search {q}: {n} traces in {secs:.3}s");
        searches.push((q, n, secs));
    }
    // A search that must inspect every trace of the hour (matches none, cannot be pruned),
    // and one whose equality condition no page filter holds (pruned without reading pages).
    let mut scans = Vec::new();
    for q in [r#"{ duration > 1h }"#, r#"{ span.http.route = "/nowhere" }"#] {
        let path = format!("/api/search?q={}&start={s0}&end={s1}&limit=20", enc(q));
        let t = Instant::now();
        let (st, b) = conn.request("GET", &path, &[], b"")?;
        let secs = t.elapsed().as_secs_f64();
        if st != 200 {
            bail!("search {q}: {st} {}", String::from_utf8_lossy(&b));
        }
        let v: serde_json::Value = serde_json::from_slice(&b)?;
        let inspected = v["metrics"]["inspectedTraces"].as_u64().unwrap_or(0);
        println!("search {q}: {inspected} traces inspected in {secs:.2}s");
        scans.push((q, inspected, secs));
    }
    let _ = seer.kill();
    let _ = seer.wait();

    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let mut text = format!(
        "\n## Traces, {date}\n\n{spans_sent} spans in {traces} traces (10 spans over 4 services, HTTP and database \
         attributes, 2 % errors, 1 % slow, events on some spans) spread over the last hour, exported as OTLP/HTTP \
         protobuf, 100 traces per request (`{}`).\n\n| measure | Seer | target |\n|---|---|---|\n\
         | ingest, spans/s per Seer core (CPU includes the block written at shutdown) | **{spans_per_core:.0}** | ≥ 50,000 |\n\
         | ingest, MB/s of OTLP per Seer core | {mb_per_core:.1} | |\n\
         | trace by id, no time range, p50 / p99 ({} lookups, protobuf) | {p50:.2} ms / **{p99:.2} ms** | p99 < 10 ms |\n\
         | trace by id, JSON, p50 / p99 (500 lookups) | {:.2} ms / {:.2} ms | |\n\
         | bytes on disk per span | **{per_span:.1}** | ≤ 100 |\n\
         | OTLP protobuf bytes per span (for scale) | {:.1} | |\n\
         | restart until ready | {:.1} s | |\n\
         | TraceQL `{}` over the hour: no match, every trace decoded and evaluated | {:.2} s ({} traces) | |\n\
         | TraceQL `{}` over the hour: no match, pruned by the page value filters | {:.3} s ({} traces decoded) | |\n",
        std::env::args().collect::<Vec<_>>().join(" "),
        lat.len(),
        percentile(&lat_json, 0.5),
        percentile(&lat_json, 0.99),
        wire_bytes as f64 / spans_sent as f64,
        replay.as_secs_f64(),
        scans[0].0,
        scans[0].2,
        scans[0].1,
        scans[1].0.replace('|', "\\|"),
        scans[1].2,
        scans[1].1,
    );
    for (q, n, secs) in &searches {
        text.push_str(&format!(
            "| TraceQL `{}` over the hour, limit 20 | {secs:.3} s ({n} traces) | |\n",
            q.replace('|', "\\|")
        ));
    }
    println!("{text}");
    let results = Path::new("bench/RESULTS.md");
    let mut existing = std::fs::read_to_string(results).unwrap_or_default();
    existing.push_str(&text);
    std::fs::write(results, existing)?;
    Ok(())
}
