//! The query benchmark: identical data in Seer and the Debian `prometheus` (written by remote
//! write in one run), then a fixed set of dashboard-style queries against both, alternating,
//! several rounds each. Prints the median latency per query and the ratio Seer/Prometheus,
//! checks that the answers agree, and compares peak RSS during the query phase.

use crate::http::{Conn, arg, enc, free_port, get};
use crate::proc::{spawn, status_bytes, wait_idle, wait_ready};
use crate::workload::Workload;
use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Answers normalised for comparison: label set -> points.
fn normalise(body: &[u8]) -> Result<BTreeMap<String, Vec<(String, f64)>>> {
    let v: Value = serde_json::from_slice(body)?;
    let data = &v["data"];
    let num = |x: &Value| -> f64 {
        match x.as_str().unwrap_or("NaN") {
            "NaN" => f64::NAN,
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            s => s.parse().unwrap_or(f64::NAN),
        }
    };
    let mut out = BTreeMap::new();
    match data.get("resultType").and_then(Value::as_str) {
        Some("vector") => {
            for s in data["result"].as_array().context("result")? {
                out.insert(s["metric"].to_string(), vec![(s["value"][0].to_string(), num(&s["value"][1]))]);
            }
        }
        Some("matrix") => {
            for s in data["result"].as_array().context("result")? {
                let pts = s["values"].as_array().context("values")?.iter().map(|p| (p[0].to_string(), num(&p[1])));
                out.insert(s["metric"].to_string(), pts.collect());
            }
        }
        _ => {
            // Metadata endpoints: a sorted list of strings or objects.
            let mut items: Vec<String> = data.as_array().context("data")?.iter().map(|x| x.to_string()).collect();
            items.sort();
            out.insert("list".into(), items.into_iter().map(|s| (s, 0.0)).collect());
        }
    }
    Ok(out)
}

fn agree(a: &BTreeMap<String, Vec<(String, f64)>>, b: &BTreeMap<String, Vec<(String, f64)>>) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|((ka, pa), (kb, pb))| {
            ka == kb && pa.len() == pb.len() && pa.iter().zip(pb).all(|(x, y)| x.0 == y.0 && close(x.1, y.1))
        })
}

fn close(x: f64, y: f64) -> bool {
    (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs())
}

/// For `topk`-style answers: the same values, and the series that differ all sit at the
/// cut-off value, where Kahan summation (Prometheus 2.54+, a documented change) can order
/// a tie the other way.
fn agree_up_to_ties(a: &BTreeMap<String, Vec<(String, f64)>>, b: &BTreeMap<String, Vec<(String, f64)>>) -> bool {
    let vals = |m: &BTreeMap<String, Vec<(String, f64)>>| -> Option<Vec<f64>> {
        let mut v: Vec<f64> = m.values().map(|p| (p.len() == 1).then(|| p[0].1)).collect::<Option<_>>()?;
        v.sort_by(|x, y| x.total_cmp(y));
        Some(v)
    };
    let (Some(va), Some(vb)) = (vals(a), vals(b)) else { return false };
    if va.len() != vb.len() || va.is_empty() || !va.iter().zip(&vb).all(|(x, y)| close(*x, *y)) {
        return false;
    }
    let cut = va[0];
    a.iter()
        .filter(|(k, _)| !b.contains_key(*k))
        .chain(b.iter().filter(|(k, _)| !a.contains_key(*k)))
        .all(|(_, p)| close(p[0].1, cut))
}

/// Runs the benchmark and appends the results to `bench/RESULTS.md`.
pub fn run(args: &[String]) -> Result<()> {
    let instances: usize = arg(args, "--instances").map(|s| s.parse()).transpose()?.unwrap_or(50);
    let hours: i64 = arg(args, "--hours").map(|s| s.parse()).transpose()?.unwrap_or(24);
    let rounds: usize = arg(args, "--rounds").map(|s| s.parse()).transpose()?.unwrap_or(7);
    let out = PathBuf::from(arg(args, "--out").unwrap_or_else(|| "bench/out-query".into()));
    let seer_bin = PathBuf::from(arg(args, "--seer").unwrap_or_else(|| "target/release/seer".into()));
    let prom_bin = PathBuf::from(arg(args, "--prometheus").unwrap_or_else(|| "/usr/bin/prometheus".into()));
    if !seer_bin.exists() {
        bail!("{} not found: build it with `cargo build --release -p seer`", seer_bin.display());
    }
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out)?;
    let out = out.canonicalize()?;
    let interval = 60_000i64;
    let steps = hours * 3600 * 1000 / interval;
    let mut w = Workload::new(instances * crate::workload::SERIES_PER_INSTANCE, 7);
    let n = w.len();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
    let end = now / interval * interval;
    let t0 = end - (steps - 1) * interval;
    println!("workload: {n} series, {steps} samples each at 60 s ({hours} h)");

    let seer_port = free_port();
    let seer_cfg = out.join("seer.yml");
    std::fs::write(&seer_cfg, "limits:\n  max_series_per_tenant: 0\n")?;
    let seer_args: Vec<String> = vec![
        "serve".into(),
        "--config".into(),
        seer_cfg.display().to_string(),
        "--data-dir".into(),
        out.join("seer-data").display().to_string(),
        "--http-listen".into(),
        format!("127.0.0.1:{seer_port}"),
        "--grpc-listen".into(),
        format!("127.0.0.1:{}", free_port()),
    ];
    let prom_port = free_port();
    let prom_cfg = out.join("prometheus.yml");
    std::fs::write(&prom_cfg, "global:\n  scrape_interval: 1h\n")?;
    let prom_args: Vec<String> = vec![
        format!("--config.file={}", prom_cfg.display()),
        format!("--storage.tsdb.path={}", out.join("prom-data").display()),
        format!("--web.listen-address=127.0.0.1:{prom_port}"),
        "--web.enable-remote-write-receiver".into(),
        "--storage.tsdb.retention.time=30d".into(),
    ];
    let mut seer = spawn(&seer_bin, &seer_args, &out.join("seer.log"))?;
    let mut prom = spawn(&prom_bin, &prom_args, &out.join("prometheus.log"))?;
    let seer_addr: SocketAddr = format!("127.0.0.1:{seer_port}").parse()?;
    let prom_addr: SocketAddr = format!("127.0.0.1:{prom_port}").parse()?;
    wait_ready(seer_addr, "/-/ready", Duration::from_secs(120)).context("seer did not start")?;
    wait_ready(prom_addr, "/-/ready", Duration::from_secs(120)).context("prometheus did not start")?;

    // Load the same data into both, in time order.
    let started = Instant::now();
    let mut conns = [Conn::new(seer_addr), Conn::new(prom_addr)];
    for k in 0..steps {
        w.step();
        let bodies = w.requests(t0 + k * interval, 4000);
        for c in conns.iter_mut() {
            for b in &bodies {
                let (status, body) = c.request(
                    "POST",
                    "/api/v1/write",
                    &[
                        ("Content-Type", "application/x-protobuf"),
                        ("Content-Encoding", "snappy"),
                        ("X-Prometheus-Remote-Write-Version", "0.1.0"),
                    ],
                    b,
                )?;
                if !(200..300).contains(&status) {
                    bail!("write failed: {status} {}", String::from_utf8_lossy(&body));
                }
            }
        }
    }
    println!(
        "loaded {} M samples into each in {:.0}s",
        (n as i64 * steps) as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    // Both compact what was just written; query once that background work is over and each
    // has run its periodic housekeeping at least once (Prometheus: every minute).
    std::thread::sleep(Duration::from_secs(60));
    let waited = 60.0 + wait_idle(&[seer.id(), prom.id()], Duration::from_secs(600));
    println!("both idle after {waited:.0}s");

    // Evaluate 7 s off the sample grid: Prometheus 2.x ranges are closed on the left and 3.x ranges are
    // open (a documented semantic change); with no sample on a range boundary both give the same answer.
    // 7 s also keeps every step of the 15 s and 5 m ranges off the 60 s grid.
    let t = end - 7000;
    let q = |expr: &str| format!("/api/v1/query?query={}&time={}", enc(expr), t / 1000);
    // Range queries start at least 10 minutes into the data: a rate window holding a series' first
    // sample extrapolates differently since Prometheus 2.51 (another documented change).
    let r = |expr: &str, range_s: i64, step: &str| {
        let start = (t / 1000 - range_s).max((t0 - 7000) / 1000 + 600);
        format!("/api/v1/query_range?query={}&start={start}&end={}&step={step}", enc(expr), t / 1000)
    };
    let set: Vec<(&str, String)> = vec![
        ("rate + sum by", q("sum by (job) (rate(http_requests_total[5m]))")),
        (
            "histogram_quantile over rate",
            q("histogram_quantile(0.99, sum by (job, le) (rate(http_request_duration_seconds_bucket[5m])))"),
        ),
        ("topk", q("topk(10, sum by (instance) (rate(http_requests_total[5m])))")),
        (
            "regex on high-cardinality label",
            q("sum(rate(http_requests_total{instance=~\"10\\\\.0\\\\.0\\\\.1.*\"}[5m]))"),
        ),
        ("count by", q("count by (status) (http_requests_total)")),
        ("2 h range at 15 s", r("sum by (job) (rate(http_requests_total[5m]))", 7200, "15")),
        ("24 h range at 5 m", r("sum by (method) (rate(http_requests_total[5m]))", 86_400 - 600, "300")),
        ("label values", format!("/api/v1/label/instance/values?start={}&end={}", t / 1000 - 3600, t / 1000)),
        (
            "series lookup",
            format!(
                "/api/v1/series?match[]={}&start={}&end={}",
                enc("http_requests_total{job=\"service-3\",status=\"500\"}"),
                t / 1000 - 3600,
                t / 1000
            ),
        ),
    ];

    // Peak RSS of the query phase alone: reset the high-water marks first.
    for pid in [seer.id(), prom.id()] {
        let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
    }
    let mut rows = Vec::new();
    let mut ratios = Vec::new();
    let mut all_agree = true;
    for (qi, (name, path)) in set.iter().enumerate() {
        let mut lat = [Vec::new(), Vec::new()];
        let mut answers = [Vec::new(), Vec::new()];
        // One target at a time (a warm-up, then the timed runs back to back), the first target
        // alternating between queries. Interleaving the two single requests instead measures
        // mostly whose background work (Go's GC, for one) spills into the other's request.
        let order = if qi % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let addr = [seer_addr, prom_addr][i];
            for round in 0..rounds + 1 {
                let started = Instant::now();
                let (status, body) = get(addr, path)?;
                let el = started.elapsed();
                if status != 200 {
                    bail!("{name}: status {status}: {}", String::from_utf8_lossy(&body));
                }
                if round > 0 {
                    lat[i].push(el.as_secs_f64() * 1000.0);
                }
                answers[i] = body;
            }
        }
        for l in lat.iter_mut() {
            l.sort_by(|a, b| a.partial_cmp(b).unwrap());
        }
        let med = [lat[0][rounds / 2], lat[1][rounds / 2]];
        let (na, nb) = (normalise(&answers[0])?, normalise(&answers[1])?);
        let same = agree(&na, &nb) || (name.starts_with("topk") && agree_up_to_ties(&na, &nb));
        all_agree &= same;
        if !same {
            // Keep both answers for a look: out/<query>.seer.json and .prometheus.json.
            let stem = name.replace(|c: char| !c.is_ascii_alphanumeric(), "_");
            std::fs::write(out.join(format!("{stem}.seer.json")), &answers[0])?;
            std::fs::write(out.join(format!("{stem}.prometheus.json")), &answers[1])?;
        }
        ratios.push(med[0] / med[1]);
        rows.push(format!(
            "| {name} | {:.2} | {:.2} | **{:.3}** | {} |",
            med[0],
            med[1],
            med[0] / med[1],
            if same { "yes" } else { "**no**" }
        ));
        println!(
            "{name}: seer {:.2} ms, prometheus {:.2} ms, ratio {:.3}, same answer: {same}",
            med[0],
            med[1],
            med[0] / med[1]
        );
    }
    let geo = (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64).exp();
    if let Some(secs) = arg(args, "--hold") {
        // Keep both servers up for profiling by hand.
        println!("holding: seer at {seer_addr}, prometheus at {prom_addr} for {secs}s");
        std::thread::sleep(Duration::from_secs(secs.parse()?));
    }
    let hwm = [status_bytes(seer.id(), "VmHWM"), status_bytes(prom.id(), "VmHWM")];
    let _ = seer.kill();
    let _ = prom.kill();
    let _ = seer.wait();
    let _ = prom.wait();

    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let mut report = vec![format!(
        "\n## Queries, {date}\n\n{n} series, {steps} samples each at 60 s ({hours} h), the same remote-write bytes \
         loaded into Seer and Debian Prometheus 2.42 (`{}`). Per query, one target at a time: a warm-up run, then \
         {rounds} timed runs back to back (median shown); which target goes first alternates between queries.\n\n| query | Seer ms | Prometheus ms | Seer/Prometheus | same answer |\n|---|---|---|---|---|",
        std::env::args().collect::<Vec<_>>().join(" ")
    )];
    report.extend(rows);
    report.push(format!(
        "\nGeometric mean of the ratios: **{geo:.3}** (target ≤ 0.5; every query ≤ 1.0). Peak RSS during the query \
         phase: Seer {} MB, Prometheus {} MB (**{:.3}**, target ≤ 1.0). All answers agree: {all_agree}.",
        hwm[0] >> 20,
        hwm[1] >> 20,
        hwm[0] as f64 / hwm[1] as f64
    ));
    let text = report.join("\n");
    println!("{text}");
    let results = Path::new("bench/RESULTS.md");
    let mut existing = std::fs::read_to_string(results).unwrap_or_default();
    existing.push_str(&text);
    existing.push('\n');
    std::fs::write(results, existing)?;
    Ok(())
}
