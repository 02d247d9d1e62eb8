//! OTLP logs over HTTP (`POST /v1/logs` and Loki's `POST /otlp/v1/logs`, protobuf or JSON,
//! optionally gzip) and gRPC (`opentelemetry.proto.collector.logs.v1.LogsService/Export`).
//!
//! Flow: decode → `seer_ingest::otlp_logs::translate` (Loki's OTLP mapping) →
//! `seer_logstore::validate` → `LogDb::push` → `ExportLogsServiceResponse`, with
//! `partial_success` counting and naming what was refused. Malformed bodies get 400 (gRPC
//! `INVALID_ARGUMENT`), a tenant over its ingestion rate 429 (`RESOURCE_EXHAUSTED`),
//! storage failures 503 (`UNAVAILABLE`).

use crate::AppState;
use crate::otlp::{Encoding, decode_body, respond};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prost::Message;
use seer_ingest::otlp_json;
use seer_ingest::proto::otlp::logs::{ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse};
use seer_model::TenantId;
use std::sync::Arc;

/// Why a logs export failed as a whole.
pub(crate) enum Failure {
    RateLimited(String),
    Storage(String),
}

/// Translates, validates and stores a logs request; returns the partial-success part.
pub(crate) fn ingest_logs(
    state: &AppState,
    tenant: &TenantId,
    req: &ExportLogsServiceRequest,
) -> Result<Option<ExportLogsPartialSuccess>, Failure> {
    let now = crate::now_ms() * 1_000_000;
    let mut streams = seer_ingest::otlp_logs::translate(req, now);
    let refused = seer_logstore::validate(&mut streams, &state.log_limits, now);
    let lines = state.log_rate.admit(tenant.as_str(), &streams).map_err(Failure::RateLimited)?;
    let logs = state.logs().map_err(|_| Failure::Storage("storage is not ready yet".into()))?;
    let out = if streams.is_empty() {
        seer_logstore::PushOutcome::default()
    } else {
        let db = logs.get_or_create(tenant).map_err(|e| Failure::Storage(e.to_string()))?;
        db.push(&streams).map_err(|e| Failure::Storage(e.to_string()))?
    };
    state.telemetry.samples("otlp_logs", (lines + refused.entries) as u64, out.accepted as u64);
    let mut msgs = refused.messages.clone();
    msgs.extend(out.too_far_behind.iter().cloned());
    msgs.extend(out.stream_limit.iter().cloned());
    let rejected = refused.entries + out.too_far_behind.len() + out.stream_limit_entries;
    if msgs.is_empty() {
        return Ok(None);
    }
    let joined = seer_logstore::Refused { messages: msgs, entries: rejected }.joined();
    Ok(Some(ExportLogsPartialSuccess { rejected_log_records: rejected as i64, error_message: joined }))
}

pub(crate) async fn http_logs(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let r = handle_http(&s, &headers, body).await;
    s.telemetry.request("otlp_http_logs", r.status().as_u16());
    r
}

async fn handle_http(s: &Arc<AppState>, headers: &HeaderMap, body: Bytes) -> Response {
    let (req, enc) = match decode_body::<ExportLogsServiceRequest>(
        headers,
        &body,
        s.limits.max_decompressed_bytes,
        otlp_json::decode_logs,
    ) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let tenant = match s.tenant(headers) {
        Ok(t) => t,
        Err(e) => return respond(enc, StatusCode::BAD_REQUEST, 3, e),
    };
    let state = s.clone();
    let res = tokio::task::spawn_blocking(move || ingest_logs(&state, &tenant, &req)).await;
    match res {
        Ok(Ok(partial)) => {
            let resp = ExportLogsServiceResponse { partial_success: partial };
            match enc {
                Encoding::Protobuf => {
                    ([(header::CONTENT_TYPE, "application/x-protobuf")], resp.encode_to_vec()).into_response()
                }
                Encoding::Json => {
                    let body = match resp.partial_success {
                        Some(p) => serde_json::json!({"partialSuccess": {
                            "rejectedLogRecords": p.rejected_log_records.to_string(),
                            "errorMessage": p.error_message}}),
                        None => serde_json::json!({}),
                    };
                    ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
                }
            }
        }
        Ok(Err(Failure::RateLimited(m))) => respond(enc, StatusCode::TOO_MANY_REQUESTS, 8, m),
        Ok(Err(Failure::Storage(m))) => {
            respond(enc, StatusCode::SERVICE_UNAVAILABLE, 14, format!("storage error: {m}"))
        }
        Err(e) => respond(enc, StatusCode::INTERNAL_SERVER_ERROR, 13, format!("ingest task failed: {e}")),
    }
}

/// The OTLP logs gRPC service.
#[derive(Clone)]
pub struct OtlpLogsGrpc {
    state: Arc<AppState>,
}

impl OtlpLogsGrpc {
    /// Service over the shared state.
    pub fn new(state: Arc<AppState>) -> OtlpLogsGrpc {
        OtlpLogsGrpc { state }
    }

    async fn export(
        state: Arc<AppState>,
        req: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        let tenant = crate::otlp::grpc_tenant(&state, &req)?;
        let msg = req.into_inner();
        let st = state.clone();
        let res = tokio::task::spawn_blocking(move || ingest_logs(&st, &tenant, &msg))
            .await
            .map_err(|e| tonic::Status::internal(format!("ingest task failed: {e}")))?;
        match res {
            Ok(partial) => {
                state.telemetry.request("otlp_grpc_logs", 200);
                Ok(tonic::Response::new(ExportLogsServiceResponse { partial_success: partial }))
            }
            Err(Failure::RateLimited(m)) => {
                state.telemetry.request("otlp_grpc_logs", 429);
                Err(tonic::Status::resource_exhausted(m))
            }
            Err(Failure::Storage(m)) => {
                state.telemetry.request("otlp_grpc_logs", 503);
                Err(tonic::Status::unavailable(format!("storage error: {m}")))
            }
        }
    }
}

/// gRPC plumbing: the shared unary helper of `otlp.rs`.
mod grpc {
    use super::*;
    use tonic::codegen::{Body, BoxFuture, Context, Poll, Service, StdError, http};

    impl<B> Service<http::Request<B>> for OtlpLogsGrpc
    where
        B: Body + Send + 'static,
        B::Error: Into<StdError> + Send + 'static,
    {
        type Response = http::Response<tonic::body::Body>;
        type Error = std::convert::Infallible;
        type Future = BoxFuture<Self::Response, Self::Error>;

        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, req: http::Request<B>) -> Self::Future {
            let state = self.state.clone();
            crate::otlp::grpc::serve_unary(req, "/opentelemetry.proto.collector.logs.v1.LogsService/Export", move |r| {
                OtlpLogsGrpc::export(state.clone(), r)
            })
        }
    }

    impl tonic::server::NamedService for OtlpLogsGrpc {
        const NAME: &'static str = "opentelemetry.proto.collector.logs.v1.LogsService";
    }
}
