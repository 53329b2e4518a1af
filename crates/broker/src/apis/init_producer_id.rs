//! InitProducerId for idempotent (non-transactional) producers: a fresh producer id with epoch
//! 0. Clients such as kafka-python and the Java producer enable idempotence by default and call
//! this first. Transactional ids need the transaction coordinator, which is not built yet.

use std::sync::Arc;

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use sluice_protocol::error::ErrorCode;

use crate::broker::Broker;
use crate::request::RequestContext;

pub async fn handle(
    broker: &Arc<Broker>,
    _ctx: &RequestContext,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let fail = |code: ErrorCode| {
        InitProducerIdResponse::default()
            .with_error_code(code.0)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1)
    };
    if request.transactional_id.is_some() {
        // Transactions arrive with the transaction coordinator; say so with a fatal error
        // rather than a retriable one that would make the client loop.
        return fail(ErrorCode::INVALID_REQUEST);
    }
    let ids = broker.clone();
    match tokio::task::spawn_blocking(move || ids.producer_ids.next_id()).await {
        Ok(Ok(id)) => InitProducerIdResponse::default()
            .with_error_code(0)
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(0),
        Ok(Err(e)) => {
            tracing::warn!("cannot allocate a producer id: {e}");
            fail(ErrorCode::KAFKA_STORAGE_ERROR)
        }
        Err(_) => fail(ErrorCode::UNKNOWN_SERVER_ERROR),
    }
}
