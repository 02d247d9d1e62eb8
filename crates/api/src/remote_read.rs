//! `POST /api/v1/read`: Prometheus remote read with the `SAMPLES` response type
//! (snappy-compressed `ReadResponse`). Lets a Prometheus (or any remote-read client, such
//! as Seer's own tests and benchmarks) read raw samples back.

use crate::AppState;
use crate::remote_write::text;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prost::Message;
use seer_ingest::proto::prompb::{self, ReadRequest, ReadResponse};
use seer_model::{MatchKind, Matcher};
use std::sync::Arc;

/// Most samples one read may return.
const MAX_SAMPLES: usize = 50_000_000;

pub(crate) async fn handler(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let r = handle(&s, &headers, body).await;
    s.telemetry.request("remote_read", r.status().as_u16());
    r
}

async fn handle(s: &Arc<AppState>, headers: &HeaderMap, body: Bytes) -> Response {
    let tenant = match s.tenant(headers) {
        Ok(t) => t,
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    let storage = match s.storage() {
        Ok(st) => st.clone(),
        Err(e) => return e.into_response(),
    };
    let raw = match seer_ingest::snappy_decompress(&body, s.limits.max_decompressed_bytes) {
        Ok(r) => r,
        Err(e) => return text(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let req = match ReadRequest::decode(raw.as_slice()) {
        Ok(r) => r,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("protobuf: {e}")),
    };
    if !req.accepted_response_types.is_empty() && !req.accepted_response_types.contains(&0) {
        return text(
            StatusCode::BAD_REQUEST,
            "none of the accepted response types is supported: Seer answers with SAMPLES only",
        );
    }
    let mut queries = Vec::with_capacity(req.queries.len());
    for q in req.queries {
        let mut ms = Vec::new();
        for m in q.matchers {
            let kind = match m.r#type {
                0 => MatchKind::Equal,
                1 => MatchKind::NotEqual,
                2 => MatchKind::Regex,
                3 => MatchKind::NotRegex,
                t => return text(StatusCode::BAD_REQUEST, format!("unknown matcher type {t}")),
            };
            match Matcher::new(kind, m.name, m.value) {
                Ok(m) => ms.push(m),
                Err(e) => return text(StatusCode::BAD_REQUEST, e.to_string()),
            }
        }
        queries.push((ms, q.start_timestamp_ms, q.end_timestamp_ms));
    }
    let res = tokio::task::spawn_blocking(move || -> Result<ReadResponse, String> {
        let db = storage.existing(&tenant);
        let mut results = Vec::new();
        let mut total = 0usize;
        for (ms, start, end) in queries {
            let mut ts = Vec::new();
            if let Some(db) = &db {
                for series in db.select(&ms, start, end).map_err(|e| e.to_string())? {
                    total += series.samples.len() + series.histograms.len();
                    if total > MAX_SAMPLES {
                        return Err(format!("query exceeds the limit of {MAX_SAMPLES} samples per read"));
                    }
                    ts.push(prompb::TimeSeries {
                        labels: series
                            .labels
                            .iter()
                            .map(|l| prompb::Label { name: l.name.clone(), value: l.value.clone() })
                            .collect(),
                        samples: series.samples.iter().map(|x| prompb::Sample { value: x.v, timestamp: x.t }).collect(),
                        exemplars: vec![],
                        histograms: series
                            .histograms
                            .iter()
                            .map(|h| seer_ingest::remote_write::histogram_to_proto(h.t, &h.h))
                            .collect(),
                    });
                }
            }
            results.push(prompb::QueryResult { timeseries: ts });
        }
        Ok(ReadResponse { results })
    })
    .await;
    match res {
        Ok(Ok(resp)) => {
            let body = match snap::raw::Encoder::new().compress_vec(&resp.encode_to_vec()) {
                Ok(b) => b,
                Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            };
            ([(header::CONTENT_TYPE, "application/x-protobuf"), (header::CONTENT_ENCODING, "snappy")], body)
                .into_response()
        }
        Ok(Err(e)) if e.contains("exceeds the limit") => text(StatusCode::UNPROCESSABLE_ENTITY, e),
        Ok(Err(e)) => text(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("read task failed: {e}")),
    }
}
