//! CreatePartitions: grow a topic's partition count.

use std::sync::Arc;

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
use kafka_protocol::protocol::StrBytes;
use sluice_protocol::error::ErrorCode;

use crate::broker::Broker;
use crate::request::RequestContext;

pub async fn handle(
    broker: &Arc<Broker>,
    _ctx: &RequestContext,
    request: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let results = request
        .topics
        .into_iter()
        .map(|t| {
            let result = CreatePartitionsTopicResult::default().with_name(t.name.clone());
            if let Some(assignments) = &t.assignments {
                let me = broker.node_id;
                if !assignments
                    .iter()
                    .all(|a| a.broker_ids.len() == 1 && a.broker_ids[0].0 == me)
                {
                    return result
                        .with_error_code(ErrorCode::INVALID_REPLICA_ASSIGNMENT.0)
                        .with_error_message(Some(StrBytes::from_static_str(
                            "Assignments must name only this broker.",
                        )));
                }
            }
            match broker
                .replicas
                .create_partitions(t.name.as_str(), t.count, request.validate_only)
            {
                Ok(()) => result.with_error_code(0),
                Err(e) => result
                    .with_error_code(e.code.0)
                    .with_error_message(Some(StrBytes::from_string(e.message))),
            }
        })
        .collect();
    CreatePartitionsResponse::default().with_results(results)
}
