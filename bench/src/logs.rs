//! The log benchmark: a generated corpus of realistic lines (nginx-style access logs and JSON
//! application logs with trace ids) across a few hundred streams, pushed to Seer as Promtail
//! does (snappy protobuf), then measured against physical-limit anchors on the raw file:
//! `zstd -3` for size, `grep -c` / `rg -c` for scan time.
//!
//! Reports: ingest MB/s per Seer core, bytes on disk per raw byte (after a clean shutdown, so
//! everything is in blocks), a needle query (a trace id in one line), a literal `|=` filter
//! matching 1 % of lines, and `sum by (job) (rate({format="json"} | json | status >= 500 [5m]))`.

use crate::http::{Conn, arg, enc, free_port, get};
use crate::proc::{Rng, children_cpu, cpu_seconds, dir_bytes, seer_args, spawn, wait_ready};
use anyhow::{Context, Result, bail};
use prost::Message;
use seer_ingest::proto::logproto;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const SERVICES: &[&str] =
    &["checkout", "payment", "cart", "search", "auth", "gateway", "inventory", "shipping", "email", "recommend"];
const PODS: usize = 30;
const PATHS: &[&str] = &[
    "/api/v1/items",
    "/api/v1/cart",
    "/api/v1/checkout",
    "/api/v1/users/me",
    "/static/app.js",
    "/healthz",
    "/api/v1/search",
    "/api/v1/orders",
];
const MSGS: &[&str] = &[
    "request completed",
    "order placed",
    "cache miss, loading from database",
    "user authenticated",
    "payment authorised",
    "inventory reserved",
    "retrying upstream call",
    "slow query detected",
];
/// The literal the 1 % filter looks for.
pub const LITERAL: &str = "deadline exceeded";

struct Stream {
    labels: String,
    job: &'static str,
    nginx: bool,
    pod: usize,
}

fn streams() -> Vec<Stream> {
    let mut out = Vec::new();
    for &job in SERVICES {
        for pod in 0..PODS {
            let nginx = job == "gateway";
            let format = if nginx { "nginx" } else { "json" };
            out.push(Stream {
                labels: format!(r#"{{job="{job}", namespace="prod", pod="{job}-{pod:02}", format="{format}"}}"#),
                job,
                nginx,
                pod,
            });
        }
    }
    out
}

fn hex(r: &mut Rng, n: usize) -> String {
    let mut s = String::with_capacity(n);
    while s.len() < n {
        s.push_str(&format!("{:016x}", r.next()));
    }
    s.truncate(n);
    s
}

/// One line of stream `s` at `ts_ns`.
fn line(r: &mut Rng, s: &Stream, ts_ns: i64) -> String {
    let secs = ts_ns / 1_000_000_000;
    let ms = (ts_ns / 1_000_000) % 1000;
    let status = match r.below(100) {
        0..=1 => 500 + r.below(4) as u32,
        2..=6 => 404,
        7..=9 => 301,
        _ => 200,
    };
    let rare = r.below(100) == 0;
    let path = PATHS[r.below(PATHS.len() as u64) as usize];
    if s.nginx {
        let (h, m, sec) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
        format!(
            r#"10.{}.{}.{} - - [22/Nov/2026:{h:02}:{m:02}:{sec:02} +0000] "{} {path}/{} HTTP/1.1" {status} {} "-" "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0" rt={}.{:03} request_id={}{}"#,
            r.below(256),
            r.below(256),
            r.below(256),
            if r.below(5) == 0 { "POST" } else { "GET" },
            r.below(100_000),
            200 + r.below(50_000),
            r.below(2),
            r.below(1000),
            hex(r, 16),
            if rare { format!(" upstream_error=\"{LITERAL}\"") } else { String::new() }
        )
    } else {
        let level = if status >= 500 {
            "error"
        } else if r.below(10) == 0 {
            "warn"
        } else {
            "info"
        };
        let msg = if rare { LITERAL } else { MSGS[r.below(MSGS.len() as u64) as usize] };
        format!(
            r#"{{"ts":"{secs}.{ms:03}","level":"{level}","service":"{}","pod":"{}-{:02}","msg":"{msg}","status":{status},"duration_ms":{},"path":"{path}","trace_id":"{}","span_id":"{}","user_id":"u-{}"}}"#,
            s.job,
            s.job,
            s.pod,
            r.below(2000),
            hex(r, 32),
            hex(r, 16),
            r.below(100_000)
        )
    }
}

fn tool_available(name: &str) -> bool {
    Command::new(name).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Runs `sh -c cmd`, returning stdout and the wall time.
fn timed_sh(cmd: &str) -> Result<(String, f64)> {
    let started = Instant::now();
    let out = Command::new("sh").arg("-c").arg(cmd).output().with_context(|| cmd.to_string())?;
    let el = started.elapsed().as_secs_f64();
    if !out.status.success() && out.stdout.is_empty() {
        bail!("{cmd}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok((String::from_utf8_lossy(&out.stdout).trim().to_string(), el))
}

/// Runs `query_range` `rounds` times; returns the median seconds and the last body.
fn time_query(addr: SocketAddr, q: &str, start: i64, end: i64, extra: &str, rounds: usize) -> Result<(f64, Vec<u8>)> {
    let path = format!("/loki/api/v1/query_range?query={}&start={start}&end={end}{extra}", enc(q));
    let mut times = Vec::new();
    let mut body = Vec::new();
    for _ in 0..rounds {
        let started = Instant::now();
        let (status, b) = get(addr, &path)?;
        times.push(started.elapsed().as_secs_f64());
        if status != 200 {
            bail!("{q}: {status} {}", String::from_utf8_lossy(&b));
        }
        body = b;
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok((times[times.len() / 2], body))
}

/// Runs the benchmark and appends the results to `bench/RESULTS.md`.
pub fn run(args: &[String]) -> Result<()> {
    let gb: f64 = arg(args, "--gb").map(|s| s.parse()).transpose()?.unwrap_or(2.0);
    let hours: i64 = arg(args, "--hours").map(|s| s.parse()).transpose()?.unwrap_or(6);
    let out = PathBuf::from(arg(args, "--out").unwrap_or_else(|| "bench/out-logs".into()));
    let seer_bin = PathBuf::from(arg(args, "--seer").unwrap_or_else(|| "target/release/seer".into()));
    if !seer_bin.exists() {
        bail!("{} not found: build it with `cargo build --release -p seer`", seer_bin.display());
    }
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out)?;
    let out = out.canonicalize()?;
    let target_bytes = (gb * 1e9) as u64;
    let streams = streams();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos() as i64;
    let end = now - 60_000_000_000;
    let start = end - hours * 3_600_000_000_000;

    let cfg = out.join("seer.yml");
    std::fs::write(
        &cfg,
        "logs:\n  ingestion_rate_mb: 0\n  max_global_streams_per_user: 0\n  reject_old_samples_max_age: 0s\n",
    )?;
    let data = out.join("seer-data");
    let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse()?;
    let grpc = free_port();
    let mut seer = spawn(&seer_bin, &seer_args(&cfg, &data, http, grpc), &out.join("seer.log"))?;
    wait_ready(http, "/-/ready", Duration::from_secs(120)).context("seer did not start")?;

    // Generate and push in time slices: every stream gets its lines of the slice in order.
    let raw_path = out.join("corpus.log");
    let mut raw = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&raw_path)?);
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    // Lines average about 247 bytes; 240 keeps the corpus at or above the target size.
    let per_line = 240u64;
    let lines_total = target_bytes / per_line;
    let lines_per_stream = (lines_total / streams.len() as u64).max(1);
    let slices = 600u64;
    let per_slice = lines_per_stream.div_ceil(slices);
    let dt = (end - start) / (lines_per_stream as i64 + 1);
    let mut conn = Conn::new(http);
    let (mut bytes, mut lines) = (0u64, 0u64);
    // Needles: the trace ids of JSON lines spread evenly over the corpus.
    const NEEDLES: u64 = 20;
    let mut needles: Vec<(String, u64)> = Vec::new();
    let cpu0 = cpu_seconds(seer.id());
    let startup_cpu = cpu0;
    let started = Instant::now();
    let mut k_line = vec![0u64; streams.len()];
    for _slice in 0..slices {
        let mut req = logproto::PushRequest { streams: Vec::with_capacity(streams.len()) };
        let mut req_bytes = 0usize;
        for (si, s) in streams.iter().enumerate() {
            let mut entries = Vec::new();
            for _ in 0..per_slice {
                if k_line[si] >= lines_per_stream {
                    break;
                }
                let ts = start + (k_line[si] as i64 + 1) * dt + si as i64;
                k_line[si] += 1;
                let l = line(&mut r, s, ts);
                raw.write_all(l.as_bytes())?;
                raw.write_all(b"\n")?;
                bytes += l.len() as u64;
                lines += 1;
                if (needles.len() as u64) < NEEDLES
                    && !s.nginx
                    && lines >= (needles.len() as u64 * 2 + 1) * lines_total / (NEEDLES * 2)
                    && let Some(p) = l.find("\"trace_id\":\"")
                {
                    needles.push((l[p + 12..p + 44].to_string(), lines));
                }
                req_bytes += l.len();
                entries.push(logproto::EntryAdapter {
                    timestamp: Some(logproto::Timestamp {
                        seconds: ts / 1_000_000_000,
                        nanos: (ts % 1_000_000_000) as i32,
                    }),
                    line: l,
                    structured_metadata: vec![],
                });
                if req_bytes >= 1 << 20 {
                    break;
                }
            }
            if !entries.is_empty() {
                req.streams.push(logproto::StreamAdapter { labels: s.labels.clone(), entries });
            }
            if req_bytes >= 1 << 20 {
                let body = snap::raw::Encoder::new().compress_vec(&req.encode_to_vec())?;
                let (st, b) =
                    conn.request("POST", "/loki/api/v1/push", &[("Content-Type", "application/x-protobuf")], &body)?;
                if st != 204 {
                    bail!("push failed: {st} {}", String::from_utf8_lossy(&b));
                }
                req.streams.clear();
                req_bytes = 0;
            }
        }
        if !req.streams.is_empty() {
            let body = snap::raw::Encoder::new().compress_vec(&req.encode_to_vec())?;
            let (st, b) =
                conn.request("POST", "/loki/api/v1/push", &[("Content-Type", "application/x-protobuf")], &body)?;
            if st != 204 {
                bail!("push failed: {st} {}", String::from_utf8_lossy(&b));
            }
        }
    }
    raw.flush()?;
    drop(raw);
    let ingest_wall = started.elapsed().as_secs_f64();
    let ingest_cpu = cpu_seconds(seer.id()) - cpu0;
    let mb = bytes as f64 / 1e6;
    println!(
        "pushed {lines} lines, {mb:.0} MB in {ingest_wall:.1}s: {:.1} MB/s wall, {:.1} MB/s per Seer core ({ingest_cpu:.1} CPU s)",
        mb / ingest_wall,
        mb / ingest_cpu
    );

    // Clean shutdown writes the head as a block; then everything on disk is blocks. The CPU
    // of that last block counts too: take the process' whole CPU time once it has exited.
    let before = children_cpu();
    let _ = Command::new("kill").arg("-TERM").arg(seer.id().to_string()).status();
    let _ = seer.wait();
    let total_cpu = children_cpu() - before;
    let ingest_cpu = ingest_cpu.max(total_cpu - startup_cpu);
    println!("Seer CPU including the shutdown block: {ingest_cpu:.1}s: {:.1} MB/s per core", mb / ingest_cpu);
    let disk = dir_bytes(&data.join("logs"));
    let (zstd_out, zstd_secs) = timed_sh(&format!("zstd -3 -T1 -c {} | wc -c", raw_path.display()))?;
    let zstd_bytes: u64 = zstd_out.trim().parse().unwrap_or(0);
    println!(
        "on disk: {disk} bytes ({:.4} per raw byte); zstd -3: {zstd_bytes} bytes in {zstd_secs:.1}s; Seer/zstd = {:.3}",
        disk as f64 / bytes as f64,
        disk as f64 / zstd_bytes as f64
    );

    let mut seer = spawn(&seer_bin, &seer_args(&cfg, &data, http, grpc), &out.join("seer2.log"))?;
    wait_ready(http, "/-/ready", Duration::from_secs(300)).context("seer did not restart")?;
    let (s0, s1) = (start - 1, end + 1);
    // The literal filter over the whole corpus, as a count, against grep -c and rg -c.
    let lit_q = format!(r#"sum(count_over_time({{namespace="prod"}} |= "{LITERAL}" [{}h]))"#, hours + 1);
    let lit_path = format!("/loki/api/v1/query?query={}&time={}", enc(&lit_q), s1);
    let mut lit_times = Vec::new();
    let mut lit_count = String::new();
    for _ in 0..3 {
        let t = Instant::now();
        let (st, b) = get(http, &lit_path)?;
        lit_times.push(t.elapsed().as_secs_f64());
        if st != 200 {
            bail!("literal query: {st} {}", String::from_utf8_lossy(&b));
        }
        let v: serde_json::Value = serde_json::from_slice(&b)?;
        lit_count = v["data"]["result"][0]["value"][1].as_str().unwrap_or("?").to_string();
    }
    lit_times.sort_by(|a, b| a.total_cmp(b));
    let lit_secs = lit_times[1];
    let (grep_count, grep_secs) = timed_sh(&format!("grep -c -F '{LITERAL}' {}", raw_path.display()))?;
    let rg = if tool_available("rg") {
        Some(timed_sh(&format!("rg -c -F '{LITERAL}' {}", raw_path.display()))?)
    } else {
        None
    };
    println!(
        "literal |= \"{LITERAL}\": Seer {lit_count} lines in {lit_secs:.2}s; grep -c {grep_count} in {grep_secs:.2}s (Seer/grep {:.2}){}",
        lit_secs / grep_secs,
        rg.as_ref().map(|(c, s)| format!("; rg -c {c} in {s:.2}s")).unwrap_or_default()
    );
    // The needles, one query each; their total time against the same number of scans
    // without the skip index (a regex filter is not used as a needle). How many chunks a
    // needle's filter lets through depends on the needle (how many window minima it holds),
    // so one needle is not a measurement.
    let mut needle_times = Vec::new();
    let mut found = 0usize;
    for (needle, _) in &needles {
        let (secs, body) = time_query(http, &format!(r#"{{namespace="prod"}} |= "{needle}""#), s0, s1, "&limit=10", 1)?;
        let v: serde_json::Value = serde_json::from_slice(&body)?;
        found += v["data"]["result"]
            .as_array()
            .map(|a| a.iter().map(|s| s["values"].as_array().map_or(0, |x| x.len())).sum::<usize>())
            .unwrap_or(0);
        needle_times.push(secs);
    }
    let needle_total: f64 = needle_times.iter().sum();
    let needle_secs = needle_total / needle_times.len() as f64;
    needle_times.sort_by(|a, b| a.total_cmp(b));
    let (needle_median, needle_max) = (needle_times[needle_times.len() / 2], needle_times[needle_times.len() - 1]);
    let mut noskip = Vec::new();
    for (needle, _) in needles.iter().step_by(7) {
        noskip.push(time_query(http, &format!(r#"{{namespace="prod"}} |~ "{needle}""#), s0, s1, "&limit=10", 1)?.0);
    }
    let noskip_secs = noskip.iter().sum::<f64>() / noskip.len() as f64;
    let needle = format!("{} trace ids", needles.len());
    println!(
        "needles: {} trace ids, {found} line(s) found, mean {needle_secs:.3}s (median {needle_median:.3}s, max {needle_max:.3}s); \
         without the skip index {noskip_secs:.3}s ({:.1}x on the mean)",
        needles.len(),
        noskip_secs / needle_secs
    );
    // The JSON metric query over the whole corpus.
    let json_q = r#"sum by (job) (rate({format="json"} | json | status >= 500 [5m]))"#;
    let (json_secs, _) = time_query(http, json_q, s0, s1, "&step=300", 1)?;
    println!("{json_q}: {json_secs:.2}s");
    let _ = seer.kill();
    let _ = seer.wait();

    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let text = format!(
        "\n## Logs, {date}\n\n{lines} lines, {mb:.0} MB raw (nginx access logs and JSON application logs with trace ids, {} streams, \
         {hours} h), pushed as snappy protobuf 1 MB at a time (`{}`).\n\n| measure | Seer | anchor | ratio | target |\n|---|---|---|---|---|\n\
         | ingest, MB/s per Seer core | {:.1} | | | ≥ 30 |\n\
         | bytes on disk (blocks, after shutdown) | {disk} | zstd -3: {zstd_bytes} | **{:.3}** | ≤ 1.0 |\n\
         | literal `\\|= \"{LITERAL}\"` (1 % of lines), count over the corpus | {lit_secs:.2} s | grep -c: {grep_secs:.2} s | **{:.2}** | ≤ 3 |\n\
         | needle query, mean of {needle} spread over the corpus (median {needle_median:.3} s, slowest {needle_max:.3} s) | {needle_secs:.3} s | without skip index: {noskip_secs:.3} s | **{:.1}×** faster | ≥ 10× |\n\
         | `{json_q}` | {json_secs:.2} s | | | |\n\n\
         Ingest wall time {ingest_wall:.1} s ({:.1} MB/s). grep -c found {grep_count} lines, Seer {lit_count}; the needle queries returned {found} line(s) in all.{}\n",
        streams.len(),
        std::env::args().collect::<Vec<_>>().join(" "),
        mb / ingest_cpu,
        disk as f64 / zstd_bytes as f64,
        lit_secs / grep_secs,
        noskip_secs / needle_secs,
        mb / ingest_wall,
        rg.map(|(c, s)| format!(" rg -c: {c} lines in {s:.2} s.")).unwrap_or_default()
    );
    println!("{text}");
    let results = Path::new("bench/RESULTS.md");
    let mut existing = std::fs::read_to_string(results).unwrap_or_default();
    existing.push_str(&text);
    std::fs::write(results, existing)?;
    Ok(())
}
