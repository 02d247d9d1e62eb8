//! The ingest benchmark: the same remote-write workload into Seer and into the Debian
//! `prometheus` in one run; then CPU per sample, peak RSS per series, bytes per sample on
//! disk (snapshot of all data as blocks) and restart (WAL replay) time and memory.

use crate::http::{Conn, arg, free_port, get, post};
use crate::proc::{cpu_seconds, dir_bytes, kill9, spawn, status_bytes, wait_ready};
use crate::workload::Workload;
use anyhow::{Context, Result, bail};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct Target {
    name: &'static str,
    addr: SocketAddr,
    child: std::process::Child,
    bin: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    data: PathBuf,
    ready_path: &'static str,
    errors: AtomicU64,
    first_error: std::sync::Mutex<Option<String>>,
}

fn metric_value(addr: SocketAddr, name: &str) -> f64 {
    let Ok((200, body)) = get(addr, "/metrics") else { return 0.0 };
    String::from_utf8_lossy(&body)
        .lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Runs the benchmark; prints and records the results.
pub fn run(args: &[String]) -> Result<()> {
    let series: usize = arg(args, "--series").map(|s| s.parse()).transpose()?.unwrap_or(1_000_000);
    let hours: f64 = arg(args, "--hours").map(|s| s.parse()).transpose()?.unwrap_or(2.0);
    let out = PathBuf::from(arg(args, "--out").unwrap_or_else(|| "bench/out".into()));
    let seer_bin = PathBuf::from(arg(args, "--seer").unwrap_or_else(|| "target/release/seer".into()));
    let prom_bin = PathBuf::from(arg(args, "--prometheus").unwrap_or_else(|| "/usr/bin/prometheus".into()));
    let per_request = 2000;
    let interval_ms = 15_000i64;
    if !seer_bin.exists() {
        bail!("{} not found: build it with `cargo build --release -p seer`", seer_bin.display());
    }
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out)?;
    let out = out.canonicalize()?;

    let mut w = Workload::new(series, 42);
    let n = w.len();
    let steps = (hours * 3600.0 * 1000.0 / interval_ms as f64).round() as i64;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
    let t0 = (now - steps * interval_ms) / interval_ms * interval_ms;
    println!("workload: {n} series, {steps} steps of 15s ({hours} h), {} samples per target", n as i64 * steps);

    // Seer.
    let seer_port = free_port();
    let seer_data = out.join("seer-data");
    let seer_cfg = out.join("seer.yml");
    std::fs::write(&seer_cfg, "limits:\n  max_series_per_tenant: 0\n")?;
    let seer_args = vec![
        "serve".into(),
        "--config".into(),
        seer_cfg.display().to_string(),
        "--data-dir".into(),
        seer_data.display().to_string(),
        "--http-listen".into(),
        format!("127.0.0.1:{seer_port}"),
        "--grpc-listen".into(),
        format!("127.0.0.1:{}", free_port()),
    ];
    // Prometheus.
    let prom_port = free_port();
    let prom_data = out.join("prom-data");
    let prom_cfg = out.join("prometheus.yml");
    std::fs::write(&prom_cfg, "global:\n  scrape_interval: 1h\n")?;
    let prom_args = vec![
        format!("--config.file={}", prom_cfg.display()),
        format!("--storage.tsdb.path={}", prom_data.display()),
        format!("--web.listen-address=127.0.0.1:{prom_port}"),
        "--web.enable-remote-write-receiver".into(),
        "--web.enable-admin-api".into(),
        "--storage.tsdb.retention.time=30d".into(),
    ];
    let start_target = |name: &'static str,
                        bin: &Path,
                        args: Vec<String>,
                        port: u16,
                        data: PathBuf,
                        ready: &'static str|
     -> Result<Target> {
        let log = out.join(format!("{name}.log"));
        let child = spawn(bin, &args, &log)?;
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        wait_ready(addr, ready, Duration::from_secs(600)).with_context(|| format!("{name} did not start"))?;
        Ok(Target {
            name,
            addr,
            child,
            bin: bin.to_path_buf(),
            args,
            log,
            data,
            ready_path: ready,
            errors: AtomicU64::new(0),
            first_error: Default::default(),
        })
    };
    let mut seer = start_target("seer", &seer_bin, seer_args, seer_port, seer_data, "/-/ready")?;
    let mut prom = start_target("prometheus", &prom_bin, prom_args, prom_port, prom_data, "/-/ready")?;
    let cpu0 = [cpu_seconds(seer.child.id()), cpu_seconds(prom.child.id())];

    // Ingest: a generator thread encodes step k+1 while senders deliver step k to both.
    let started = Instant::now();
    let (tx, rx) = std::sync::mpsc::sync_channel::<(i64, Vec<Vec<u8>>)>(2);
    let generator = std::thread::spawn(move || {
        for k in 0..steps {
            w.step();
            let t = t0 + k * interval_ms;
            if tx.send((t, w.requests(t, per_request))).is_err() {
                return;
            }
        }
    });
    let targets = [&seer, &prom];
    let mut conns: Vec<Vec<Conn>> = targets.iter().map(|t| (0..2).map(|_| Conn::new(t.addr)).collect()).collect();
    let mut sent = 0usize;
    for (k, (_t, bodies)) in rx.iter().enumerate() {
        std::thread::scope(|s| {
            for (ti, tconns) in conns.iter_mut().enumerate() {
                let target = targets[ti];
                for (ci, conn) in tconns.iter_mut().enumerate() {
                    let bodies = &bodies;
                    s.spawn(move || {
                        for body in bodies.iter().skip(ci).step_by(2) {
                            let r = conn.request(
                                "POST",
                                "/api/v1/write",
                                &[
                                    ("Content-Type", "application/x-protobuf"),
                                    ("Content-Encoding", "snappy"),
                                    ("X-Prometheus-Remote-Write-Version", "0.1.0"),
                                ],
                                body,
                            );
                            let problem = match r {
                                Ok((s, _)) if (200..300).contains(&s) => None,
                                Ok((s, b)) => Some(format!("{s}: {}", String::from_utf8_lossy(&b))),
                                Err(e) => Some(e.to_string()),
                            };
                            if let Some(p) = problem {
                                target.errors.fetch_add(1, Ordering::Relaxed);
                                target.first_error.lock().unwrap().get_or_insert(p);
                            }
                        }
                    });
                }
            }
        });
        sent += bodies.len();
        if k % 20 == 0 {
            println!(
                "step {k}/{steps} ({:.0}s): seer rss {} MB cpu {:.0}s, prometheus rss {} MB cpu {:.0}s",
                started.elapsed().as_secs_f64(),
                status_bytes(seer.child.id(), "VmRSS") >> 20,
                cpu_seconds(seer.child.id()) - cpu0[0],
                status_bytes(prom.child.id(), "VmRSS") >> 20,
                cpu_seconds(prom.child.id()) - cpu0[1],
            );
        }
    }
    generator.join().ok();
    let ingest_wall = started.elapsed();
    let samples = n as f64 * steps as f64;
    let mut report = Vec::new();
    for t in [&seer, &prom] {
        let errs = t.errors.load(Ordering::Relaxed);
        if errs > 0 {
            println!("{}: {errs} failed requests, first: {:?}", t.name, t.first_error.lock().unwrap());
        }
    }
    // Let background work (Prometheus' head GC, Seer's maintenance) settle, then measure.
    std::thread::sleep(Duration::from_secs(5));
    let cpu = [cpu_seconds(seer.child.id()) - cpu0[0], cpu_seconds(prom.child.id()) - cpu0[1]];
    let hwm = [status_bytes(seer.child.id(), "VmHWM"), status_bytes(prom.child.id(), "VmHWM")];
    let stored = [
        metric_value(seer.addr, "seer_tsdb_samples_appended_total"),
        metric_value(prom.addr, "prometheus_tsdb_head_samples_appended_total"),
    ];
    println!(
        "ingest done in {:.0}s ({sent} requests per target); samples stored: seer {} prometheus {}",
        ingest_wall.as_secs_f64(),
        stored[0],
        stored[1]
    );

    // Disk: a snapshot writes everything (head included) as blocks.
    let mut disk = [0u64; 2];
    for (i, t) in [&seer, &prom].iter().enumerate() {
        let (status, body) = post(t.addr, "/api/v1/admin/tsdb/snapshot")?;
        if status != 200 {
            bail!("{} snapshot failed: {status} {}", t.name, String::from_utf8_lossy(&body));
        }
        let s = String::from_utf8_lossy(&body);
        let name =
            s.split("\"name\":\"").nth(1).and_then(|x| x.split('"').next()).context("snapshot name")?.to_string();
        let dir = t.data.join("snapshots").join(&name);
        disk[i] = dir_bytes(&dir);
        let _ = std::fs::remove_dir_all(&dir);
    }

    // Restart after kill -9: WAL replay.
    let mut replay = [Duration::ZERO; 2];
    let mut replay_hwm = [0u64; 2];
    for (i, t) in [&mut seer, &mut prom].into_iter().enumerate() {
        kill9(&mut t.child);
        let started = Instant::now();
        t.child = spawn(&t.bin, &t.args, &t.log)?;
        let pid = t.child.id();
        wait_ready(t.addr, t.ready_path, Duration::from_secs(3600))?;
        replay[i] = started.elapsed();
        replay_hwm[i] = status_bytes(pid, "VmHWM");
    }
    for t in [&mut seer, &mut prom] {
        kill9(&mut t.child);
    }

    let per_m = |c: f64| c / (samples / 1e6);
    let rows = [
        ("CPU seconds per million samples ingested", per_m(cpu[0]), per_m(cpu[1]), "≤ 1.0"),
        ("peak RSS per active series, bytes", hwm[0] as f64 / n as f64, hwm[1] as f64 / n as f64, "≤ 0.5"),
        ("bytes per sample on disk (all data as blocks)", disk[0] as f64 / samples, disk[1] as f64 / samples, "≤ 0.5"),
        ("restart after kill -9 (WAL replay), seconds", replay[0].as_secs_f64(), replay[1].as_secs_f64(), "≤ 1.0"),
        (
            "peak RSS during replay, bytes per series",
            replay_hwm[0] as f64 / n as f64,
            replay_hwm[1] as f64 / n as f64,
            "—",
        ),
    ];
    let date = std::process::Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d %H:%M UTC")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    report.push(format!(
        "\n## Ingest, {date}\n\n{n} active series, {steps} samples each at 15 s ({hours} h, {:.0} M samples per target), remote write with 2000 series per request, \
         the same bytes sent to Seer and to Debian Prometheus 2.42 in one run (`{}`). Ingest took {:.0} s.\n\n\
         | measure | Seer | Prometheus | Seer/Prometheus | target |\n|---|---|---|---|---|",
        samples / 1e6,
        std::env::args().collect::<Vec<_>>().join(" "),
        ingest_wall.as_secs_f64()
    ));
    for (name, a, b, target) in rows {
        report.push(format!("| {name} | {a:.3} | {b:.3} | **{:.3}** | {target} |", a / b));
    }
    report.push(format!(
        "\nSamples stored: Seer {:.0}, Prometheus {:.0}. Failed requests: Seer {}, Prometheus {}.",
        stored[0],
        stored[1],
        seer.errors.load(Ordering::Relaxed),
        prom.errors.load(Ordering::Relaxed)
    ));
    let text = report.join("\n");
    println!("{text}");
    let results = Path::new("bench/RESULTS.md");
    let mut existing = std::fs::read_to_string(results).unwrap_or_else(|_| "# Benchmark results\n\nFigures measured by `bench/run-ingest` on the project's 2-core machine. Newest last.\n".into());
    existing.push_str(&text);
    existing.push('\n');
    std::fs::write(results, existing)?;
    Ok(())
}
