//! `/-/healthy`, `/-/ready`, `/-/reload`, with Prometheus' status codes and bodies.

use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

pub(crate) async fn healthy() -> &'static str {
    "Seer is Healthy.\n"
}

pub(crate) async fn ready(State(s): State<Arc<AppState>>) -> Response {
    if s.is_ready() {
        "Seer is Ready.\n".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response()
    }
}

pub(crate) async fn reload(State(s): State<Arc<AppState>>) -> Response {
    let Some(tx) = &s.reload else {
        return (StatusCode::FORBIDDEN, "Lifecycle API is not enabled.").into_response();
    };
    let (otx, orx) = tokio::sync::oneshot::channel();
    if tx.send(otx).await.is_err() {
        return (StatusCode::INTERNAL_SERVER_ERROR, "failed to reload config: the server is shutting down\n")
            .into_response();
    }
    match orx.await {
        Ok(Ok(())) => StatusCode::OK.into_response(),
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, format!("failed to reload config: {e}\n")).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "failed to reload config: no answer\n").into_response(),
    }
}

pub(crate) async fn reload_wrong_method() -> Response {
    (StatusCode::METHOD_NOT_ALLOWED, "Only POST or PUT requests allowed").into_response()
}
