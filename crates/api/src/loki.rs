//! The Loki HTTP API: `POST /loki/api/v1/push` (JSON, snappy protobuf; gzip and deflate
//! content encodings) with Loki's status codes and messages.
//!
//! Flow of a push: decode (400 on a body that does not decode) → `seer_logstore::validate`
//! (bad streams and entries removed, messages kept) → tenant rate limit (429 for the whole
//! request, as Loki) → `LogDb::push` in `spawn_blocking` → 204, or 400/429 listing what was
//! refused while the rest is stored.

use crate::AppState;
use crate::remote_write::text;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use seer_ingest::loki_push;
use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Per-tenant ingestion rate limits (Loki's `ingestion_rate_mb` / `ingestion_burst_size_mb`).
#[derive(Debug)]
pub struct RateLimiter {
    bytes_per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// A limiter allowing `bytes_per_sec` with bursts up to `burst` bytes (0 = unlimited).
    pub fn new(bytes_per_sec: f64, burst: f64) -> RateLimiter {
        RateLimiter { bytes_per_sec, burst: burst.max(bytes_per_sec), buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes `n` bytes from the tenant's bucket; false when there are not enough.
    pub fn allow(&self, tenant: &str, n: usize) -> bool {
        if self.bytes_per_sec <= 0.0 {
            return true;
        }
        let mut b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let e = b.entry(tenant.to_string()).or_insert((self.burst, now));
        e.0 = (e.0 + now.duration_since(e.1).as_secs_f64() * self.bytes_per_sec).min(self.burst);
        e.1 = now;
        if e.0 >= n as f64 {
            e.0 -= n as f64;
            true
        } else {
            false
        }
    }

    /// The configured rate, bytes per second.
    pub fn rate(&self) -> f64 {
        self.bytes_per_sec
    }
}

/// Reads the body according to `Content-Encoding`, as Loki does: none, `snappy` (passed
/// through: the protobuf path decompresses), `gzip`, `deflate` (raw DEFLATE).
fn decode_encoding(h: &HeaderMap, body: Bytes, limit: usize) -> Result<Vec<u8>, Response> {
    let enc = h.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("").trim().to_ascii_lowercase();
    match enc.as_str() {
        "" | "snappy" => Ok(body.to_vec()),
        "gzip" => seer_ingest::gzip_decompress(&body, limit).map_err(|e| text(StatusCode::BAD_REQUEST, e.to_string())),
        "deflate" => {
            let mut out = Vec::new();
            let mut d = flate2::read::DeflateDecoder::new(&body[..]).take(limit as u64 + 1);
            d.read_to_end(&mut out).map_err(|e| text(StatusCode::BAD_REQUEST, format!("deflate: {e}")))?;
            if out.len() > limit {
                return Err(text(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("decompressed body exceeds the limit of {limit} bytes"),
                ));
            }
            Ok(out)
        }
        other => Err(text(StatusCode::BAD_REQUEST, format!("Content-Encoding {other:?} not supported"))),
    }
}

pub(crate) async fn push(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let resp = handle_push(&s, &headers, body).await;
    s.telemetry.request("loki_push", resp.status().as_u16());
    resp
}

async fn handle_push(s: &Arc<AppState>, headers: &HeaderMap, body: Bytes) -> Response {
    let tenant = match s.tenant(headers) {
        Ok(t) => t,
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    let logs = match s.logs() {
        Ok(l) => l.clone(),
        Err(e) => return e.into_response(),
    };
    let limit = s.limits.max_decompressed_bytes;
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").trim().to_string();
    let media = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if media.is_empty() {
        return text(StatusCode::BAD_REQUEST, "mime: no media type");
    }
    let raw = match decode_encoding(headers, body, limit) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let decoded = if media == "application/json" {
        loki_push::decode_json(&raw)
    } else {
        loki_push::decode_protobuf(&raw, limit)
    };
    let mut push = match decoded {
        Ok(p) => p,
        Err(e) => return text(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let now = crate::now_ms() * 1_000_000;
    let refused = seer_logstore::validate(&mut push.streams, &s.log_limits, now);
    let mut errors = push.invalid.clone();
    errors.extend(refused.messages.iter().cloned());
    let bytes: usize = push.streams.iter().flat_map(|st| st.entries.iter()).map(|e| e.size()).sum();
    let lines: usize = push.streams.iter().map(|st| st.entries.len()).sum();
    if bytes > 0 && !s.log_rate.allow(tenant.as_str(), bytes) {
        s.telemetry.samples("loki_push", lines as u64, 0);
        return text(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Ingestion rate limit exceeded for user {} (limit: {} bytes/sec) while attempting to ingest '{lines}' \
                 lines totaling '{bytes}' bytes, reduce log volume or contact your Loki administrator to see if the \
                 limit can be increased",
                tenant.as_str(),
                s.log_rate.rate() as u64
            ),
        );
    }
    let streams = push.streams;
    let t2 = tenant.clone();
    let res = tokio::task::spawn_blocking(move || -> Result<seer_logstore::PushOutcome, String> {
        if streams.is_empty() {
            return Ok(seer_logstore::PushOutcome::default());
        }
        let db = logs.get_or_create(&t2).map_err(|e| e.to_string())?;
        db.push(&streams).map_err(|e| e.to_string())
    })
    .await;
    let out = match res {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => return text(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, format!("push task failed: {e}")),
    };
    let received = lines + push.invalid_entries + refused.entries;
    s.telemetry.samples("loki_push", received as u64, out.accepted as u64);
    if !errors.is_empty() {
        let all = seer_logstore::Refused { messages: errors, entries: 0 };
        return text(StatusCode::BAD_REQUEST, all.joined());
    }
    if !out.stream_limit.is_empty() {
        return text(StatusCode::TOO_MANY_REQUESTS, out.stream_limit.join("\n"));
    }
    if !out.too_far_behind.is_empty() {
        let mut m = out.too_far_behind.join("\n");
        m.push_str(&format!(
            "\nuser '{}', total ignored: {} out of {}",
            tenant.as_str(),
            out.too_far_behind.len(),
            out.too_far_behind.len() + out.accepted + out.duplicates
        ));
        return text(StatusCode::BAD_REQUEST, m);
    }
    StatusCode::NO_CONTENT.into_response()
}
