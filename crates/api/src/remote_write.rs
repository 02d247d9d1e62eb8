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
            if let Some(v) = p.strip_prefix("proto=")
                && v != "prometheus.WriteRequest"
            {
                return Err(text(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    format!("{v} protobuf message is not accepted by this server; accepted [prometheus.WriteRequest]"),
                ));
            }
        }
    }
    if let Some(enc) = h.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).filter(|v| !v.trim().is_empty())
        && !enc.trim().eq_ignore_ascii_case("snappy")
    {
        return Err(text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("{enc} encoding (compression) is not accepted by this server; only snappy is acceptable"),
        ));
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

/// What a write did, handed back from the blocking thread.
struct Written {
    report: seer_tsdb::AppendReport,
    future: u64,
    decode_rejected: Vec<String>,
    received: u64,
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
    let now = crate::now_ms();
    // Decoding and appending both run on a blocking thread; the decoded series borrow
    // their label strings from the decompressed body.
    let result = tokio::task::spawn_blocking(move || -> Result<Written, Response> {
        let raw = match seer_ingest::snappy_decompress(&body, limit) {
            Ok(r) => r,
            Err(e @ DecodeError::TooLarge { .. }) => return Err(text(StatusCode::PAYLOAD_TOO_LARGE, e.to_string())),
            Err(e) => return Err(text(StatusCode::BAD_REQUEST, e.to_string())),
        };
        let view = remote_write::decode_view(&raw).map_err(|e| text(StatusCode::BAD_REQUEST, e.to_string()))?;
        let max_t = now + MAX_AHEAD_MS;
        let mut ranges: Vec<std::ops::Range<usize>> = view.series.iter().map(|s| s.samples.clone()).collect();
        let mut future = 0u64;
        let filtered: Vec<seer_model::Sample>;
        let samples: &[seer_model::Sample] = if view.samples.iter().any(|x| x.t > max_t) {
            let mut out = Vec::with_capacity(view.samples.len());
            for r in ranges.iter_mut() {
                let start = out.len();
                out.extend(view.samples[r.clone()].iter().filter(|x| x.t <= max_t));
                future += (r.len() - (out.len() - start)) as u64;
                *r = start..out.len();
            }
            filtered = out;
            &filtered
        } else {
            &view.samples
        };
        let refs: Vec<seer_tsdb::SeriesRef<'_>> = view
            .series
            .iter()
            .zip(&ranges)
            .map(|(sp, r)| seer_tsdb::SeriesRef {
                labels: &view.labels[sp.labels.clone()],
                samples: &samples[r.clone()],
                exemplars: &view.exemplars[sp.exemplars.clone()],
            })
            .collect();
        let db = storage
            .tenant(&tenant)
            .map_err(|e| text(StatusCode::INTERNAL_SERVER_ERROR, format!("storage error: {e}")))?;
        let mut report = db
            .append_refs(&refs, &view.metadata)
            .map_err(|e| text(StatusCode::INTERNAL_SERVER_ERROR, format!("storage error: {e}")))?;
        let mut decode_rejected: Vec<String> =
            view.rejected.iter().map(|r| format!("{} ({} samples)", r.message, r.count)).collect();
        let mut rejected_count: u64 = view.rejected.iter().map(|r| r.count).sum();
        let mut received = view.samples.len() as u64;
        if view.histograms > 0 {
            // Native histograms take a second, full decode of the (rare) requests that have them.
            let (mut hs, rej) =
                remote_write::decode_histograms(&raw).map_err(|e| text(StatusCode::BAD_REQUEST, e.to_string()))?;
            for s in hs.iter_mut() {
                let before = s.histograms.len();
                s.histograms.retain(|h| h.t <= max_t);
                future += (before - s.histograms.len()) as u64;
                received += before as u64;
            }
            decode_rejected.extend(rej.iter().map(|r| format!("{} ({} samples)", r.message, r.count)));
            rejected_count += rej.iter().map(|r| r.count).sum::<u64>();
            let r2 = db
                .append_histograms(&hs)
                .map_err(|e| text(StatusCode::INTERNAL_SERVER_ERROR, format!("storage error: {e}")))?;
            report.merge(r2);
        }
        Ok(Written { report, future, decode_rejected, received: received + rejected_count })
    })
    .await;
    let (report, future, mut problems, received) = match result {
        Ok(Ok(w)) => (w.report, w.future, w.decode_rejected, w.received),
        Ok(Err(resp)) => return resp,
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, format!("append task failed: {e}")),
    };
    s.telemetry.samples("remote_write", received, report.samples_appended);
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
