//! CreatePartitions: grow a topic's partition count.

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
use kafka_protocol::protocol::StrBytes;

use super::request::RequestContext;
use crate::cluster::TopicAdmin;

pub async fn handle(
    admin: &TopicAdmin,
    _ctx: &RequestContext,
    request: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut results = Vec::with_capacity(request.topics.len());
    for t in request.topics {
        let result = CreatePartitionsTopicResult::default().with_name(t.name.clone());
        // A null or empty list: the controller places the new partitions.
        let assignments = t.assignments.as_ref().filter(|a| !a.is_empty()).map(|a| {
            a.iter()
                .map(|a| a.broker_ids.iter().map(|b| b.0).collect::<Vec<i32>>())
                .collect::<Vec<_>>()
        });
        let outcome = admin
            .create_partitions(t.name.as_str(), t.count, assignments, request.validate_only)
            .await;
        results.push(match outcome {
            Ok(()) => result.with_error_code(0),
            Err(e) => result
                .with_error_code(e.code.0)
                .with_error_message(Some(StrBytes::from_string(e.message))),
        });
    }
    CreatePartitionsResponse::default().with_results(results)
}
