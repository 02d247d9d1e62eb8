//! Helpers for tests that start the real `seer` binary and real peers on 127.0.0.1.
#![allow(dead_code)]

use prost::Message;
use seer_ingest::proto::prompb;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Polls `f` every 100 ms until it returns true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    f()
}

/// An HTTP response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request with `Connection: close`.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Resp> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    // A server may answer (413) and close before reading a large body: still read the answer.
    let _ = s.write_all(body);
    let mut buf = Vec::new();
    if let Err(e) = s.read_to_end(&mut buf)
        && buf.is_empty()
    {
        return Err(e);
    }
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| std::io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad status line"))?;
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    let mut body = buf[end + 4..].to_vec();
    if headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked")) {
        body = dechunk(&body);
    }
    Ok(Resp { status, headers, body })
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = b.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..i]).trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + n]);
        b = &b[i + 2 + n + 2..];
    }
    out
}

pub fn get(addr: SocketAddr, path: &str) -> Resp {
    http(addr, "GET", path, &[], b"").unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// Percent-encodes a query parameter value.
pub fn enc(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

/// A running `seer serve`.
pub struct Seer {
    pub child: Child,
    pub http: SocketAddr,
    pub grpc: SocketAddr,
    pub data: PathBuf,
    pub log: PathBuf,
}

impl Seer {
    /// Starts Seer on `data` with an optional config file content; waits until ready.
    pub fn start(data: &Path, config: Option<&str>) -> Seer {
        Seer::start_with_ports(data, config, free_port(), free_port())
    }

    pub fn start_with_ports(data: &Path, config: Option<&str>, http_port: u16, grpc_port: u16) -> Seer {
        std::fs::create_dir_all(data).unwrap();
        let http: SocketAddr = format!("127.0.0.1:{http_port}").parse().unwrap();
        let grpc: SocketAddr = format!("127.0.0.1:{grpc_port}").parse().unwrap();
        let log = data.with_extension("log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_seer"));
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(data)
            .arg("--http-listen")
            .arg(http.to_string())
            .arg("--grpc-listen")
            .arg(grpc.to_string());
        if let Some(c) = config {
            let p = data.with_extension("yml");
            std::fs::write(&p, c).unwrap();
            cmd.arg("--config").arg(&p);
        }
        let logf = std::fs::OpenOptions::new().create(true).append(true).open(&log).unwrap();
        let child = cmd.stdout(Stdio::null()).stderr(logf).spawn().expect("start seer");
        let s = Seer { child, http, grpc, data: data.to_path_buf(), log };
        let ok = wait_until(Duration::from_secs(120), || http_ok(s.http, "/-/ready"));
        assert!(ok, "seer did not become ready; log:\n{}", std::fs::read_to_string(&s.log).unwrap_or_default());
        s
    }

    /// SIGKILL, no chance to flush anything.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait.
    pub fn stop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }

    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill").arg(format!("-{sig}")).arg(self.child.id().to_string()).status();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Seer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn http_ok(addr: SocketAddr, path: &str) -> bool {
    http(addr, "GET", path, &[], b"").map(|r| r.status == 200).unwrap_or(false)
}

/// A peer process killed on drop.
pub struct Peer {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn require(bin: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin", "/bin"] {
        let p = Path::new(dir).join(bin);
        if p.exists() {
            return p;
        }
    }
    panic!("{bin} is not installed: run scripts/test, which installs the Debian packages the tests need");
}

/// Starts the Debian `prometheus-node-exporter`.
pub fn node_exporter(dir: &Path) -> Peer {
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let log = dir.join("node_exporter.log");
    let child = Command::new(require("prometheus-node-exporter"))
        .arg(format!("--web.listen-address={addr}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start node exporter");
    let p = Peer { child, addr, log };
    assert!(wait_until(Duration::from_secs(30), || http_ok(addr, "/metrics")), "node exporter did not start");
    p
}

/// Starts the Debian `prometheus` with `config` (YAML), remote-write receiver and admin API on.
pub fn prometheus(dir: &Path, config: &str) -> Peer {
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, config.replace("$SELF", &addr.to_string())).unwrap();
    let log = dir.join("prometheus.log");
    let child = Command::new(require("prometheus"))
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("prom-data").display()))
        .arg(format!("--web.listen-address={addr}"))
        .arg("--web.enable-remote-write-receiver")
        .arg("--web.enable-admin-api")
        .arg("--web.enable-lifecycle")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start prometheus");
    let p = Peer { child, addr, log };
    assert!(
        wait_until(Duration::from_secs(60), || http_ok(addr, "/-/ready")),
        "prometheus did not become ready: {}",
        std::fs::read_to_string(&p.log).unwrap_or_default()
    );
    p
}

/// Sends a remote-write request; returns the status and body.
pub fn remote_write(addr: SocketAddr, tenant: Option<&str>, series: &[seer_model::SeriesSamples]) -> Resp {
    let body = seer_ingest::remote_write::encode(series, &[]);
    let mut h = vec![
        ("Content-Type", "application/x-protobuf"),
        ("Content-Encoding", "snappy"),
        ("X-Prometheus-Remote-Write-Version", "0.1.0"),
    ];
    if let Some(t) = tenant {
        h.push(("X-Scope-OrgID", t));
    }
    http(addr, "POST", "/api/v1/write", &h, &body).expect("remote write")
}

/// Reads raw samples back with remote read.
pub fn remote_read(
    addr: SocketAddr,
    tenant: Option<&str>,
    matchers: &[(i32, &str, &str)],
    start: i64,
    end: i64,
) -> Vec<prompb::TimeSeries> {
    let req = prompb::ReadRequest {
        queries: vec![prompb::Query {
            start_timestamp_ms: start,
            end_timestamp_ms: end,
            matchers: matchers
                .iter()
                .map(|(t, n, v)| prompb::LabelMatcher { r#type: *t, name: n.to_string(), value: v.to_string() })
                .collect(),
            hints: None,
        }],
        accepted_response_types: vec![0],
    };
    let body = snap::raw::Encoder::new().compress_vec(&req.encode_to_vec()).unwrap();
    let mut h = vec![("Content-Type", "application/x-protobuf"), ("Content-Encoding", "snappy")];
    if let Some(t) = tenant {
        h.push(("X-Scope-OrgID", t));
    }
    let r = http(addr, "POST", "/api/v1/read", &h, &body).expect("remote read");
    assert_eq!(r.status, 200, "{}", r.text());
    let raw = snap::raw::Decoder::new().decompress_vec(&r.body).unwrap();
    let mut resp = prompb::ReadResponse::decode(raw.as_slice()).unwrap();
    resp.results.pop().map(|q| q.timeseries).unwrap_or_default()
}

/// Label sets returned by a Prometheus-compatible `/api/v1/series`, as sorted strings.
pub fn series_set(addr: SocketAddr, matcher: &str) -> std::collections::BTreeSet<String> {
    let r = get(addr, &format!("/api/v1/series?match[]={}", enc(matcher)));
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    j["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let mut pairs: Vec<(String, String)> =
                o.as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect();
            pairs.sort();
            pairs.iter().map(|(k, v)| format!("{k}={v:?}")).collect::<Vec<_>>().join(",")
        })
        .collect()
}
pub mod openapi;

/// The Python packages of the OpenTelemetry SDK, installed by `scripts/test` into
/// `target/pydeps` (or wherever `SEER_PYDEPS` points).
pub fn pydeps() -> PathBuf {
    match std::env::var_os("SEER_PYDEPS") {
        Some(p) => p.into(),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/pydeps"),
    }
}
