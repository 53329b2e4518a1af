//! `/livez`: 200 while the process serves HTTP at all. `/readyz`: 200 once the node may get
//! traffic (a broker registered with the controller quorum, unfenced, in touch with it and
//! caught up with the metadata log; a controller-only node once the quorum has a leader),
//! else 503 with a JSON body `{"ready":false,"reason":"..."}`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::AdminState;

pub async fn livez() -> &'static str {
    "ok\n"
}

pub async fn readyz(State(state): State<Arc<AdminState>>) -> (StatusCode, Json<Value>) {
    match readiness(&state) {
        Ok(()) => (StatusCode::OK, Json(json!({ "ready": true }))),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "ready": false, "reason": reason })),
        ),
    }
}

fn readiness(state: &AdminState) -> Result<(), String> {
    let Some(node) = state.node() else {
        return Err(
            "starting: not registered with the controller quorum and unfenced yet".to_string(),
        );
    };
    match &node.broker {
        Some(broker) => broker.readiness(),
        None => match node.controller.leader() {
            Some(_) => Ok(()),
            None => Err("the controller quorum has no leader this node knows of".to_string()),
        },
    }
}
