//! `POST /api/v1/write`: Prometheus remote write 1.0.
//!
//! Flow: check headers → `seer_ingest::remote_write::decode` → drop samples more than
//! 10 minutes in the future → `Db::append` (in `spawn_blocking`) → 204, or 400 listing
//! what was refused (the rest is stored), or 5xx when nothing could be made durable.
//! Deliberate difference: Prometheus rolls back the whole request when one sample is
//! refused; Seer keeps the valid samples (the spec allows it) and still answers 400.

use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use seer_ingest::{DecodeError, remote_write};
use seer_model::SeriesSamples;
use std::sync::Arc;

/// Samples more than this far in the future are refused, as in Prometheus 3.
pub(crate) const MAX_AHEAD_MS: i64 = 10 * 60 * 1000;

pub(crate) fn text(status: StatusCode, msg: impl Into<String>) -> Response {
    let mut m = msg.into();
    m.push('\n');
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], m).into_response()
}

/// Checks Content-Type and Content-Encoding the way Prometheus 3 does.
fn check_headers(h: &HeaderMap) -> Result<(), Response> {
    if let Some(ct) = h.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).filter(|v| !v.trim().is_empty()) {
        let mut parts = ct.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        if media != "application/x-protobuf" {
            return Err(text(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("expected application/x-protobuf as the first (media) part, got {ct} content-type"),
            ));
        }
        for p in parts {
            if let Some(v) = p.strip_prefix("proto=") {
                if v != "prometheus.WriteRequest" {
                    return Err(text(
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        format!(
                            "{v} protobuf message is not accepted by this server; accepted [prometheus.WriteRequest]"
                        ),
                    ));
                }
            }
        }
    }
    if let Some(enc) = h.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).filter(|v| !v.trim().is_empty()) {
        if !enc.trim().eq_ignore_ascii_case("snappy") {
            return Err(text(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("{enc} encoding (compression) is not accepted by this server; only snappy is acceptable"),
            ));
        }
    }
    Ok(())
}

/// Removes samples newer than `now + 10m`; returns how many.
pub(crate) fn drop_future(series: &mut [SeriesSamples], now: i64) -> u64 {
    let mut n = 0;
    for s in series.iter_mut() {
        let before = s.samples.len();
        s.samples.retain(|x| x.t <= now + MAX_AHEAD_MS);
        n += (before - s.samples.len()) as u64;
    }
    n
}

pub(crate) async fn handler(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let resp = handle(&s, &headers, body).await;
    s.telemetry.request("remote_write", resp.status().as_u16());
    resp
}

async fn handle(s: &Arc<AppState>, headers: &HeaderMap, body: Bytes) -> Response {
    if let Err(r) = check_headers(headers) {
        return r;
    }
    let tenant = match s.tenant(headers) {
        Ok(t) => t,
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    let storage = match s.storage() {
        Ok(st) => st.clone(),
        Err(e) => return e.into_response(),
    };
    let limit = s.limits.max_decompressed_bytes;
    let mut batch = match remote_write::decode(&body, limit) {
        Ok(b) => b,
        Err(e @ DecodeError::TooLarge { .. }) => return text(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()),
        Err(e) => return text(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let future = drop_future(&mut batch.series, crate::now_ms());
    let received = batch.num_samples() as u64 + future + batch.rejected.iter().map(|r| r.count).sum::<u64>();
    let series = std::mem::take(&mut batch.series);
    let metadata = std::mem::take(&mut batch.metadata);
    let result = tokio::task::spawn_blocking(move || -> Result<seer_tsdb::AppendReport, String> {
        let db = storage.tenant(&tenant).map_err(|e| e.to_string())?;
        db.append(&series, &metadata).map_err(|e| e.to_string())
    })
    .await;
    let report = match result {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return text(StatusCode::INTERNAL_SERVER_ERROR, format!("storage error: {e}")),
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, format!("append task failed: {e}")),
    };
    s.telemetry.samples("remote_write", received, report.samples_appended);
    let mut problems: Vec<String> =
        batch.rejected.iter().map(|r| format!("{} ({} samples)", r.message, r.count)).collect();
    if future > 0 {
        problems.push(format!("out of bounds: timestamp is too far in the future ({future} samples)"));
    }
    if !report.errors.is_empty() {
        problems.push(report.error_summary());
    }
    if problems.is_empty() {
        StatusCode::NO_CONTENT.into_response()
    } else {
        text(
            StatusCode::BAD_REQUEST,
            format!(
                "{} of {received} samples were not written: {}",
                received - report.samples_appended,
                problems.join("; ")
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        m
    }

    #[test]
    fn header_rules() {
        assert!(check_headers(&h(&[])).is_ok());
        assert!(
            check_headers(&h(&[("content-type", "application/x-protobuf"), ("content-encoding", "snappy")])).is_ok()
        );
        assert!(check_headers(&h(&[("content-type", "application/x-protobuf;proto=prometheus.WriteRequest")])).is_ok());
        let r = check_headers(&h(&[("content-type", "application/x-protobuf;proto=io.prometheus.write.v2.Request")]))
            .unwrap_err();
        assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(check_headers(&h(&[("content-type", "application/json")])).is_err());
        assert!(check_headers(&h(&[("content-encoding", "gzip")])).is_err());
    }
}
