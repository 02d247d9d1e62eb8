//! OTLP traces over HTTP (`POST /v1/traces`, protobuf or JSON, optionally gzip) and gRPC
//! (`opentelemetry.proto.collector.trace.v1.TraceService/Export`).
//!
//! Flow: decode → `seer_ingest::otlp_traces::translate` (ids and span limits; bad spans are
//! refused alone) → rate limit → the trace pipeline (span metrics, sampling) → `TraceDb::push`
//! → `ExportTraceServiceResponse`, with `partial_success` counting and naming what was
//! refused. Malformed bodies get 400 (gRPC `INVALID_ARGUMENT`), a tenant over its ingestion
//! rate 429 (`RESOURCE_EXHAUSTED`), storage failures 503 (`UNAVAILABLE`).

use crate::AppState;
use crate::otlp::{Encoding, decode_body, respond};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prost::Message;
use seer_ingest::otlp_json;
use seer_ingest::proto::otlp::trace::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use seer_model::TenantId;
use std::sync::Arc;

/// Why a traces export failed as a whole.
pub(crate) enum Failure {
    RateLimited(String),
    Storage(String),
}

/// Translates, checks and stores a traces request; returns the partial-success part.
pub(crate) fn ingest_traces(
    state: &AppState,
    tenant: &TenantId,
    req: &ExportTraceServiceRequest,
    wire_bytes: usize,
) -> Result<Option<ExportTracePartialSuccess>, Failure> {
    let t = seer_ingest::otlp_traces::translate(req, &state.span_limits);
    let received = (t.spans.len() + t.rejected) as u64;
    if !t.spans.is_empty() && !state.trace_rate.take(tenant.as_str(), wire_bytes as f64) {
        return Err(Failure::RateLimited(format!(
            "RATE_LIMITED: ingestion rate limit ({} bytes/s) exceeded while adding {wire_bytes} bytes for tenant {} \
             (traces.ingestion_rate_mb)",
            state.trace_rate.rate() as u64,
            tenant.as_str()
        )));
    }
    let traces = state.traces().map_err(|_| Failure::Storage("storage is not ready yet".into()))?;
    let spans = state.trace_pipeline.process(tenant, t.spans);
    let mut rejected = t.rejected;
    let mut messages = t.messages;
    let stored = if spans.is_empty() {
        0
    } else {
        let db = traces.get_or_create(tenant).map_err(|e| Failure::Storage(e.to_string()))?;
        let out = db.push(spans).map_err(|e| Failure::Storage(e.to_string()))?;
        rejected += out.too_large.iter().map(|(_, n)| n).sum::<usize>();
        for (id, n) in out.too_large.iter().take(10) {
            messages.push(format!(
                "TRACE_TOO_LARGE: {n} spans of trace {} refused: the trace would exceed the limit of {} spans \
                 (traces.max_spans_per_trace)",
                seer_model::trace::hex_id(id),
                db.max_spans_per_trace()
            ));
        }
        out.accepted
    };
    state.telemetry.samples("otlp_traces", received, stored as u64);
    if rejected == 0 {
        return Ok(None);
    }
    let mut msg = messages.join("; ");
    if rejected > messages.len() {
        msg.push_str(&format!(" ({rejected} spans refused in all)"));
    }
    Ok(Some(ExportTracePartialSuccess { rejected_spans: rejected as i64, error_message: msg }))
}

pub(crate) async fn http_traces(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let r = handle_http(&s, &headers, body).await;
    s.telemetry.request("otlp_http_traces", r.status().as_u16());
    r
}

async fn handle_http(s: &Arc<AppState>, headers: &HeaderMap, body: Bytes) -> Response {
    let wire = body.len();
    let (req, enc) = match decode_body::<ExportTraceServiceRequest>(
        headers,
        &body,
        s.limits.max_decompressed_bytes,
        otlp_json::decode_traces,
    ) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let tenant = match s.tenant(headers) {
        Ok(t) => t,
        Err(e) => return respond(enc, StatusCode::BAD_REQUEST, 3, e),
    };
    let state = s.clone();
    let res = tokio::task::spawn_blocking(move || ingest_traces(&state, &tenant, &req, wire)).await;
    match res {
        Ok(Ok(partial)) => {
            let resp = ExportTraceServiceResponse { partial_success: partial };
            match enc {
                Encoding::Protobuf => {
                    ([(header::CONTENT_TYPE, "application/x-protobuf")], resp.encode_to_vec()).into_response()
                }
                Encoding::Json => {
                    let body = match resp.partial_success {
                        Some(p) => serde_json::json!({"partialSuccess": {
                            "rejectedSpans": p.rejected_spans.to_string(),
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

/// The OTLP traces gRPC service.
#[derive(Clone)]
pub struct OtlpTracesGrpc {
    state: Arc<AppState>,
}

impl OtlpTracesGrpc {
    /// Service over the shared state.
    pub fn new(state: Arc<AppState>) -> OtlpTracesGrpc {
        OtlpTracesGrpc { state }
    }

    async fn export(
        state: Arc<AppState>,
        req: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let tenant = crate::otlp::grpc_tenant(&state, &req)?;
        let msg = req.into_inner();
        let wire = msg.encoded_len();
        let st = state.clone();
        let res = tokio::task::spawn_blocking(move || ingest_traces(&st, &tenant, &msg, wire))
            .await
            .map_err(|e| tonic::Status::internal(format!("ingest task failed: {e}")))?;
        match res {
            Ok(partial) => {
                state.telemetry.request("otlp_grpc_traces", 200);
                Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: partial }))
            }
            Err(Failure::RateLimited(m)) => {
                state.telemetry.request("otlp_grpc_traces", 429);
                Err(tonic::Status::resource_exhausted(m))
            }
            Err(Failure::Storage(m)) => {
                state.telemetry.request("otlp_grpc_traces", 503);
                Err(tonic::Status::unavailable(format!("storage error: {m}")))
            }
        }
    }
}

/// gRPC plumbing: the shared unary helper of `otlp.rs`.
mod grpc {
    use super::*;
    use tonic::codegen::{Body, BoxFuture, Context, Poll, Service, StdError, http};

    impl<B> Service<http::Request<B>> for OtlpTracesGrpc
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
            crate::otlp::grpc::serve_unary(
                req,
                "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                move |r| OtlpTracesGrpc::export(state.clone(), r),
            )
        }
    }

    impl tonic::server::NamedService for OtlpTracesGrpc {
        const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
    }
}
