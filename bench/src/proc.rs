//! Process measurements from /proc and process control.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// User + system CPU seconds of a process.
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    let Some((_, after)) = s.rsplit_once(')') else { return 0.0 };
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = 100.0;
    let u: f64 = f.get(11).and_then(|x| x.parse().ok()).unwrap_or(0.0);
    let st: f64 = f.get(12).and_then(|x| x.parse().ok()).unwrap_or(0.0);
    (u + st) / ticks
}

/// Waits until none of `pids` used more than 3 % of a core for three seconds in a row
/// (background compaction finished), at most `max`. Returns the seconds waited.
pub fn wait_idle(pids: &[u32], max: Duration) -> f64 {
    let started = Instant::now();
    let mut quiet = 0;
    let mut last: Vec<f64> = pids.iter().map(|&p| cpu_seconds(p)).collect();
    while quiet < 3 && started.elapsed() < max {
        std::thread::sleep(Duration::from_secs(1));
        let now: Vec<f64> = pids.iter().map(|&p| cpu_seconds(p)).collect();
        let busy = now.iter().zip(&last).any(|(n, l)| n - l > 0.03);
        quiet = if busy { 0 } else { quiet + 1 };
        last = now;
    }
    started.elapsed().as_secs_f64()
}

/// A `/proc/<pid>/status` field in bytes (VmHWM, VmRSS).
pub fn status_bytes(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024
}

/// Total bytes of the files under `dir`.
pub fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                total += dir_bytes(&e.path());
            } else {
                total += m.len();
            }
        }
    }
    total
}

/// Starts a process with output to `log`.
pub fn spawn(bin: &Path, args: &[String], log: &Path) -> anyhow::Result<Child> {
    let f = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
    let f2 = f.try_clone()?;
    Ok(Command::new(bin).args(args).stdout(Stdio::from(f)).stderr(Stdio::from(f2)).spawn()?)
}

/// Waits until `GET path` answers 200; returns the time it took.
pub fn wait_ready(addr: std::net::SocketAddr, path: &str, timeout: Duration) -> anyhow::Result<Duration> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Ok((200, _)) = crate::http::get(addr, path) {
            return Ok(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    anyhow::bail!("{addr}{path} not ready after {timeout:?}")
}

/// SIGKILL and reap.
pub fn kill9(c: &mut Child) {
    let _ = c.kill();
    let _ = c.wait();
}

/// A small deterministic generator (xorshift) for the generated workloads.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// CPU seconds (user + system) of the children this process has waited for.
pub fn children_cpu() -> f64 {
    // SAFETY: getrusage writes only into the zeroed struct passed to it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) } != 0 {
        return 0.0;
    }
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

/// Arguments of `seer serve` with a config file, data directory and listen addresses.
pub fn seer_args(cfg: &Path, data: &Path, http: std::net::SocketAddr, grpc: u16) -> Vec<String> {
    vec![
        "serve".into(),
        "--config".into(),
        cfg.display().to_string(),
        "--data-dir".into(),
        data.display().to_string(),
        "--http-listen".into(),
        http.to_string(),
        "--grpc-listen".into(),
        format!("127.0.0.1:{grpc}"),
    ]
}
