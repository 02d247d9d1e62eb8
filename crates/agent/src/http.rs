//! Fetching a target over HTTP/1.1.

use crate::config::Job;
use crate::scrape::{ACCEPT, Fetched};
use crate::target::Target;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use seer_ingest::exposition::Format;
use std::time::Duration;

/// A shared HTTP client for scraping.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<HttpConnector, Empty<Bytes>>,
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpClient {
    /// A client with keep-alive connections.
    pub fn new() -> HttpClient {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(10)));
        let client = Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(300)).build(connector);
        HttpClient { client }
    }
}

fn read_secret(path: &std::path::Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("unable to read {}: {e}", path.display()))
}

/// The `Authorization` header for a job, reading secret files afresh.
pub fn authorization(job: &Job) -> Result<Option<String>, String> {
    let c = &job.config;
    if let Some(b) = &c.basic_auth {
        let user = match &b.username_file {
            Some(p) => read_secret(p)?,
            None => b.username.clone(),
        };
        let pass = match (&b.password, &b.password_file) {
            (Some(p), _) => p.clone(),
            (None, Some(f)) => read_secret(f)?,
            (None, None) => String::new(),
        };
        return Ok(Some(format!("Basic {}", seer_encoding::base64_encode(format!("{user}:{pass}").as_bytes()))));
    }
    if let Some(a) = &c.authorization {
        let kind = a.kind.clone().unwrap_or_else(|| "Bearer".into());
        let cred = match (&a.credentials, &a.credentials_file) {
            (Some(c), _) => c.clone(),
            (None, Some(f)) => read_secret(f)?,
            (None, None) => String::new(),
        };
        return Ok(Some(format!("{kind} {cred}")));
    }
    if let Some(t) = &c.bearer_token {
        return Ok(Some(format!("Bearer {t}")));
    }
    if let Some(f) = &c.bearer_token_file {
        return Ok(Some(format!("Bearer {}", read_secret(f)?)));
    }
    Ok(None)
}

/// Scrapes `target` once, within its timeout.
pub async fn fetch(client: &HttpClient, target: &Target, job: &Job) -> Fetched {
    let timeout = target.timeout.0;
    match tokio::time::timeout(timeout, fetch_inner(client, target, job)).await {
        Ok(f) => f,
        Err(_) => Fetched::Failed(format!("Get {:?}: context deadline exceeded", target.url)),
    }
}

async fn fetch_inner(client: &HttpClient, target: &Target, job: &Job) -> Fetched {
    let auth = match authorization(job) {
        Ok(a) => a,
        Err(e) => return Fetched::Failed(e),
    };
    let mut req = http::Request::get(&target.url)
        .header(http::header::ACCEPT, ACCEPT)
        .header(http::header::USER_AGENT, concat!("Seer/", env!("CARGO_PKG_VERSION")))
        .header("X-Prometheus-Scrape-Timeout-Seconds", format!("{}", target.timeout.0.as_secs_f64()));
    if job.enable_compression {
        req = req.header(http::header::ACCEPT_ENCODING, "gzip");
    } else {
        req = req.header(http::header::ACCEPT_ENCODING, "identity");
    }
    if let Some(a) = auth {
        req = req.header(http::header::AUTHORIZATION, a);
    }
    let req = match req.body(Empty::<Bytes>::new()) {
        Ok(r) => r,
        Err(e) => return Fetched::Failed(format!("invalid request for {:?}: {e}", target.url)),
    };
    let resp = match client.client.request(req).await {
        Ok(r) => r,
        Err(e) => {
            let mut msg = e.to_string();
            let mut src: Option<&dyn std::error::Error> = std::error::Error::source(&e);
            while let Some(s) = src {
                msg = format!("{msg}: {s}");
                src = s.source();
            }
            return Fetched::Failed(format!("Get {:?}: {msg}", target.url));
        }
    };
    let status = resp.status();
    if status != http::StatusCode::OK {
        return Fetched::Failed(format!(
            "server returned HTTP status {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        ));
    }
    let ct = resp.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let gzip = resp.headers().get(http::header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()) == Some("gzip");
    let limit = if job.body_size_limit > 0 { job.body_size_limit as usize } else { usize::MAX };
    let mut body = resp.into_body();
    let mut buf: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => {
                if let Some(d) = f.data_ref() {
                    buf.extend_from_slice(d);
                    if !gzip && buf.len() >= limit {
                        return Fetched::Failed("body size limit exceeded".into());
                    }
                }
            }
            Err(e) => return Fetched::Failed(format!("error reading the response body: {e}")),
        }
    }
    if gzip {
        match seer_ingest::gzip_decompress(&buf, limit.saturating_sub(1).min(1 << 30)) {
            Ok(d) => buf = d,
            Err(seer_ingest::DecodeError::TooLarge { .. }) => {
                return Fetched::Failed("body size limit exceeded".into());
            }
            Err(e) => return Fetched::Failed(format!("decompressing the response: {e}")),
        }
    }
    let format = match ct.as_deref() {
        Some(ct) if !ct.trim().is_empty() => Format::from_content_type(Some(ct)),
        _ => match job.config.fallback_scrape_protocol.as_deref() {
            Some(p) if p.starts_with("OpenMetrics") => Format::OpenMetrics,
            _ => Format::Text,
        },
    };
    Fetched::Body(buf, format)
}
