//! OTLP metrics over HTTP (`POST /v1/metrics`, protobuf or JSON, optionally gzip) and gRPC
//! (`opentelemetry.proto.collector.metrics.v1.MetricsService/Export`).
//!
//! Flow: decode → `seer_ingest::otlp_metrics::translate` → drop samples more than 10
//! minutes ahead → `Db::append` → `ExportMetricsServiceResponse`, with `partial_success`
//! listing what was refused (delta temporality, exponential histograms, bad names, samples
//! the store refused). Malformed bodies get 400 (gRPC `INVALID_ARGUMENT`); storage failures
//! 503 (`UNAVAILABLE`), which OTLP clients retry.

use crate::AppState;
use crate::remote_write::drop_future;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prost::Message;
use seer_ingest::proto::otlp::metrics::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use seer_ingest::{DecodeError, gzip_decompress, otlp_json, otlp_metrics};
use seer_model::TenantId;
use std::sync::Arc;

/// `google.rpc.Status`, the body of OTLP/HTTP error responses.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Encoding {
    Protobuf,
    Json,
}

/// An OTLP/HTTP response in the request's encoding.
pub(crate) fn respond(enc: Encoding, status: StatusCode, grpc_code: i32, message: String) -> Response {
    match enc {
        Encoding::Protobuf => (
            status,
            [(header::CONTENT_TYPE, "application/x-protobuf")],
            RpcStatus { code: grpc_code, message }.encode_to_vec(),
        )
            .into_response(),
        Encoding::Json => (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({"code": grpc_code, "message": message}).to_string(),
        )
            .into_response(),
    }
}

/// Decodes an OTLP/HTTP body according to its headers.
pub(crate) fn decode_body<T: Message + Default>(
    headers: &HeaderMap,
    body: &[u8],
    limit: usize,
    json: fn(&[u8]) -> Result<T, DecodeError>,
) -> Result<(T, Encoding), Response> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let enc = match media.as_str() {
        "application/x-protobuf" | "application/protobuf" => Encoding::Protobuf,
        "application/json" => Encoding::Json,
        _ => {
            return Err(respond(
                Encoding::Json,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                3,
                format!("unsupported content type {ct:?}, supported: [application/json, application/x-protobuf]"),
            ));
        }
    };
    let raw: std::borrow::Cow<'_, [u8]> = match headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_ascii_lowercase())
    {
        None => body.into(),
        Some(e) if e.is_empty() || e == "identity" => body.into(),
        Some(e) if e == "gzip" => match gzip_decompress(body, limit) {
            Ok(d) => d.into(),
            Err(e @ DecodeError::TooLarge { .. }) => {
                return Err(respond(enc, StatusCode::PAYLOAD_TOO_LARGE, 8, e.to_string()));
            }
            Err(e) => return Err(respond(enc, StatusCode::BAD_REQUEST, 3, e.to_string())),
        },
        Some(e) => {
            return Err(respond(
                enc,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                3,
                format!("unsupported compression {e:?}: only gzip or no compression is supported"),
            ));
        }
    };
    if raw.len() > limit {
        return Err(respond(
            enc,
            StatusCode::PAYLOAD_TOO_LARGE,
            8,
            format!("request body of {} bytes exceeds the limit of {limit} bytes", raw.len()),
        ));
    }
    let msg = match enc {
        Encoding::Protobuf => T::decode(&*raw).map_err(|e| DecodeError::Protobuf(e.to_string())),
        Encoding::Json => json(&raw),
    };
    match msg {
        Ok(m) => Ok((m, enc)),
        Err(e) => Err(respond(enc, StatusCode::BAD_REQUEST, 3, format!("invalid OTLP request: {e}"))),
    }
}

/// Translates and stores a metrics request. Returns the partial-success part, if any.
pub(crate) fn ingest_metrics(
    storage: &seer_tsdb::Storage,
    tenant: &TenantId,
    req: &ExportMetricsServiceRequest,
    now: i64,
) -> Result<(Option<ExportMetricsPartialSuccess>, u64, u64), String> {
    let mut t = otlp_metrics::translate(req);
    let mut future = drop_future(&mut t.series, now);
    for s in t.histograms.iter_mut() {
        let before = s.histograms.len();
        s.histograms.retain(|h| h.t <= now + crate::remote_write::MAX_AHEAD_MS);
        future += (before - s.histograms.len()) as u64;
    }
    let db = storage.tenant(tenant).map_err(|e| e.to_string())?;
    let mut report = db.append(&t.series, &t.metadata).map_err(|e| e.to_string())?;
    if !t.histograms.is_empty() {
        report.merge(db.append_histograms(&t.histograms).map_err(|e| e.to_string())?);
    }
    let mut msgs: Vec<String> = t.rejected.iter().map(|r| r.message.clone()).collect();
    if future > 0 {
        msgs.push(format!("{future} samples are more than 10 minutes in the future"));
    }
    if !report.errors.is_empty() {
        msgs.push(report.error_summary());
    }
    let rejected = t.rejected_points() + future + report.samples_rejected;
    let received = report.samples_appended + rejected;
    let partial = if msgs.is_empty() {
        None
    } else {
        Some(ExportMetricsPartialSuccess { rejected_data_points: rejected as i64, error_message: msgs.join("; ") })
    };
    Ok((partial, received, report.samples_appended))
}

pub(crate) async fn http_metrics(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let r = handle_http(&s, &headers, body).await;
    s.telemetry.request("otlp_http_metrics", r.status().as_u16());
    r
}

async fn handle_http(s: &Arc<AppState>, headers: &HeaderMap, body: Bytes) -> Response {
    let (req, enc) = match decode_body::<ExportMetricsServiceRequest>(
        headers,
        &body,
        s.limits.max_decompressed_bytes,
        otlp_json::decode_metrics,
    ) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let tenant = match s.tenant(headers) {
        Ok(t) => t,
        Err(e) => return respond(enc, StatusCode::BAD_REQUEST, 3, e),
    };
    let storage = match s.storage() {
        Ok(st) => st.clone(),
        Err(_) => return respond(enc, StatusCode::SERVICE_UNAVAILABLE, 14, "storage is not ready yet".into()),
    };
    let now = crate::now_ms();
    let res = tokio::task::spawn_blocking(move || ingest_metrics(&storage, &tenant, &req, now)).await;
    match res {
        Ok(Ok((partial, received, stored))) => {
            s.telemetry.samples("otlp", received, stored);
            let resp = ExportMetricsServiceResponse { partial_success: partial };
            match enc {
                Encoding::Protobuf => {
                    ([(header::CONTENT_TYPE, "application/x-protobuf")], resp.encode_to_vec()).into_response()
                }
                Encoding::Json => {
                    let body = match resp.partial_success {
                        Some(p) => {
                            serde_json::json!({"partialSuccess": {"rejectedDataPoints": p.rejected_data_points.to_string(), "errorMessage": p.error_message}})
                        }
                        None => serde_json::json!({}),
                    };
                    ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
                }
            }
        }
        Ok(Err(e)) => respond(enc, StatusCode::SERVICE_UNAVAILABLE, 14, format!("storage error: {e}")),
        Err(e) => respond(enc, StatusCode::INTERNAL_SERVER_ERROR, 13, format!("ingest task failed: {e}")),
    }
}

/// The tenant of a gRPC request, from its `x-scope-orgid` metadata.
pub(crate) fn grpc_tenant<T>(state: &AppState, req: &tonic::Request<T>) -> Result<TenantId, tonic::Status> {
    match req.metadata().get("x-scope-orgid").map(|v| v.to_str()) {
        None => Ok(state.default_tenant.clone()),
        Some(Ok(t)) => {
            TenantId::new(t.trim()).map_err(|e| tonic::Status::invalid_argument(format!("invalid X-Scope-OrgID: {e}")))
        }
        Some(Err(_)) => Err(tonic::Status::invalid_argument("X-Scope-OrgID is not valid ASCII")),
    }
}

/// The OTLP metrics gRPC service.
#[derive(Clone)]
pub struct OtlpMetricsGrpc {
    state: Arc<AppState>,
}

impl OtlpMetricsGrpc {
    /// Service over the shared state.
    pub fn new(state: Arc<AppState>) -> OtlpMetricsGrpc {
        OtlpMetricsGrpc { state }
    }

    async fn export(
        state: Arc<AppState>,
        req: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let tenant = grpc_tenant(&state, &req)?;
        let storage = state.storage().map_err(|_| tonic::Status::unavailable("storage is not ready yet"))?.clone();
        let msg = req.into_inner();
        let now = crate::now_ms();
        let res = tokio::task::spawn_blocking(move || ingest_metrics(&storage, &tenant, &msg, now))
            .await
            .map_err(|e| tonic::Status::internal(format!("ingest task failed: {e}")))?;
        match res {
            Ok((partial, received, stored)) => {
                state.telemetry.samples("otlp", received, stored);
                state.telemetry.request("otlp_grpc_metrics", 200);
                Ok(tonic::Response::new(ExportMetricsServiceResponse { partial_success: partial }))
            }
            Err(e) => {
                state.telemetry.request("otlp_grpc_metrics", 503);
                Err(tonic::Status::unavailable(format!("storage error: {e}")))
            }
        }
    }
}

/// gRPC plumbing written out by hand (what `tonic-build` would generate), so the build
/// needs no `protoc`. Shared by the OTLP metrics and logs services.
pub(crate) mod grpc {
    use super::*;
    use std::future::Future;
    use tonic::codegen::{Body, BoxFuture, Context, Poll, Service, StdError, http};

    /// Fully qualified service name.
    pub const METRICS_SERVICE: &str = "opentelemetry.proto.collector.metrics.v1.MetricsService";
    const MAX_MESSAGE: usize = 64 << 20;

    /// A unary gRPC method as a function of the request.
    struct FnSvc<F>(F);

    impl<Req, Resp, F, Fut> tonic::server::UnaryService<Req> for FnSvc<F>
    where
        F: FnMut(tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>> + Send + 'static,
    {
        type Response = Resp;
        type Future = BoxFuture<tonic::Response<Resp>, tonic::Status>;
        fn call(&mut self, request: tonic::Request<Req>) -> Self::Future {
            Box::pin((self.0)(request))
        }
    }

    /// Serves `req` with `export` when its path is `path` (gzip accepted, 64 MiB messages),
    /// else answers `UNIMPLEMENTED`.
    pub(crate) fn serve_unary<B, Req, Resp, F, Fut>(
        req: http::Request<B>,
        path: &'static str,
        export: F,
    ) -> BoxFuture<http::Response<tonic::body::Body>, std::convert::Infallible>
    where
        B: Body + Send + 'static,
        B::Error: Into<StdError> + Send + 'static,
        Req: Message + Default + Send + 'static,
        Resp: Message + Send + 'static,
        F: FnMut(tonic::Request<Req>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>> + Send + 'static,
    {
        if req.uri().path() == path {
            Box::pin(async move {
                let codec = tonic_prost::ProstCodec::default();
                let mut accept = tonic::codec::EnabledCompressionEncodings::default();
                accept.enable(tonic::codec::CompressionEncoding::Gzip);
                let mut grpc = tonic::server::Grpc::new(codec)
                    .apply_compression_config(accept, Default::default())
                    .apply_max_message_size_config(Some(MAX_MESSAGE), Some(MAX_MESSAGE));
                Ok(grpc.unary(FnSvc(export), req).await)
            })
        } else {
            Box::pin(async move {
                let mut response = http::Response::new(tonic::body::Body::default());
                let headers = response.headers_mut();
                headers.insert(tonic::Status::GRPC_STATUS, (tonic::Code::Unimplemented as i32).into());
                headers.insert(http::header::CONTENT_TYPE, tonic::metadata::GRPC_CONTENT_TYPE);
                Ok(response)
            })
        }
    }

    impl<B> Service<http::Request<B>> for OtlpMetricsGrpc
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
            serve_unary(req, "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export", move |r| {
                OtlpMetricsGrpc::export(state.clone(), r)
            })
        }
    }

    impl tonic::server::NamedService for OtlpMetricsGrpc {
        const NAME: &'static str = METRICS_SERVICE;
    }
}
