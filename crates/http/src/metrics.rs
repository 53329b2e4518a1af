//! `/metrics`: the node's registry, encoded by `prometheus-client`: the Prometheus text format
//! (0.0.4), or OpenMetrics 1.0 when the scraper's `Accept` header names
//! `application/openmetrics-text` (as Prometheus' own scraper does). Before the node started,
//! 503: there is nothing to report yet.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::AdminState;

const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
const OPENMETRICS_TEXT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Whether `accept` asks for OpenMetrics.
fn wants_openmetrics(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"))
}

pub async fn metrics(State(state): State<Arc<AdminState>>, headers: HeaderMap) -> Response {
    let Some(node) = state.node() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "starting\n").into_response();
    };
    if let Some(broker) = &node.broker {
        broker.prepare_scrape().await;
    }
    let openmetrics = wants_openmetrics(&headers);
    let mut body = String::new();
    let encoded = node.metrics.with_registry(|registry| {
        if openmetrics {
            prometheus_client::encoding::text::encode(&mut body, registry)
        } else {
            prometheus_client::encoding::prometheus_text::encode(&mut body, registry)
        }
    });
    if let Err(e) = encoded {
        tracing::warn!("cannot encode the metrics: {e}");
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot encode the metrics\n",
        )
            .into_response();
    }
    let content_type = if openmetrics {
        OPENMETRICS_TEXT
    } else {
        PROMETHEUS_TEXT
    };
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}
