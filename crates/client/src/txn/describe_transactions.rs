//! DescribeTransactions v0 (KIP-664): the state of one transactional id, asked of its
//! transaction coordinator.

use std::ops::RangeInclusive;

use kafka_protocol::messages::{
    DescribeTransactionsRequest, DescribeTransactionsResponse, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use crate::table::Table;
use crate::wire::RequestError;

pub const VERSIONS: RangeInclusive<i16> = 0..=0;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedTransaction {
    pub transactional_id: String,
    pub state: String,
    pub timeout_ms: i32,
    /// When the open transaction began, ms since the epoch; -1 when none is open.
    pub start_time_ms: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    /// The partitions in the open transaction, in the order the coordinator lists them.
    pub partitions: Vec<(String, i32)>,
}

pub fn request(transactional_id: &str) -> DescribeTransactionsRequest {
    DescribeTransactionsRequest::default().with_transactional_ids(vec![TransactionalId(
        StrBytes::from_string(transactional_id.to_string()),
    )])
}

/// The description of `transactional_id` in a response, or the error the coordinator gave
/// for it. Only TRANSACTIONAL_ID_NOT_FOUND makes a whole message; the others are meant to
/// follow the id (see [`is_not_found`]).
pub fn from_response(
    response: DescribeTransactionsResponse,
    transactional_id: &str,
) -> Result<DescribedTransaction, RequestError> {
    let Some(state) = response
        .transaction_states
        .into_iter()
        .find(|t| t.transactional_id.as_str() == transactional_id)
    else {
        return Err(RequestError::Unsupported(
            "the DescribeTransactions answer does not describe it".to_string(),
        ));
    };
    match state.error_code {
        0 => Ok(DescribedTransaction {
            transactional_id: transactional_id.to_string(),
            state: state.transaction_state.to_string(),
            timeout_ms: state.transaction_timeout_ms,
            start_time_ms: state.transaction_start_time_ms,
            producer_id: state.producer_id.0,
            producer_epoch: state.producer_epoch,
            partitions: state
                .topics
                .into_iter()
                .flat_map(|t| {
                    let topic = t.topic.0.to_string();
                    t.partitions.into_iter().map(move |p| (topic.clone(), p))
                })
                .collect(),
        }),
        code if code == ResponseError::TransactionalIdNotFound.code() => {
            Err(RequestError::Broker {
                code,
                text: format!(
                    "transactional id '{transactional_id}' does not exist \
                     (TRANSACTIONAL_ID_NOT_FOUND)"
                ),
            })
        }
        code => Err(RequestError::broker(code, "DescribeTransactions", None)),
    }
}

/// Whether `error` says the id does not exist, a message that already names the id.
pub fn is_not_found(error: &RequestError) -> bool {
    matches!(error, RequestError::Broker { code, .. }
        if *code == ResponseError::TransactionalIdNotFound.code())
}

/// The `txn describe` table: one row per (coordinator id, transaction); `now_ms` gives the
/// age of open transactions.
pub fn render(described: &[(i32, DescribedTransaction)], now_ms: i64) -> String {
    let mut table = Table::new(&[
        "COORDINATOR",
        "TRANSACTIONAL-ID",
        "PRODUCER-ID",
        "EPOCH",
        "STATE",
        "TIMEOUT-MS",
        "START-TIME-MS",
        "DURATION-MS",
        "TOPIC-PARTITIONS",
    ]);
    for (coordinator, t) in described {
        let start = if t.start_time_ms < 0 {
            "-".to_string()
        } else {
            t.start_time_ms.to_string()
        };
        // A finished transaction keeps its start time; only an open one has an age.
        let duration = if t.start_time_ms >= 0 && is_open(&t.state) {
            now_ms.saturating_sub(t.start_time_ms).max(0).to_string()
        } else {
            "-".to_string()
        };
        table.push(vec![
            coordinator.to_string(),
            t.transactional_id.clone(),
            t.producer_id.to_string(),
            t.producer_epoch.to_string(),
            t.state.clone(),
            t.timeout_ms.to_string(),
            start,
            duration,
            topic_partitions(&t.partitions),
        ]);
    }
    table.render()
}

/// Whether a transaction in `state` has begun and not yet finished: Ongoing, or being
/// committed, aborted or fenced (PrepareCommit, PrepareAbort, PrepareEpochFence).
fn is_open(state: &str) -> bool {
    state == "Ongoing" || state.starts_with("Prepare")
}

/// `orders-0,orders-1,audit-3` (Kafka's spelling of a topic-partition), sorted; `-` for none.
fn topic_partitions(partitions: &[(String, i32)]) -> String {
    if partitions.is_empty() {
        return "-".to_string();
    }
    let mut sorted = partitions.to_vec();
    sorted.sort();
    sorted.dedup();
    sorted
        .iter()
        .map(|(topic, partition)| format!("{topic}-{partition}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
    use kafka_protocol::messages::{DescribeTransactionsResponse, ProducerId, TopicName};
    use kafka_protocol::protocol::Encodable;

    fn s(text: &str) -> StrBytes {
        StrBytes::from_string(text.to_string())
    }

    fn encode<M: Encodable>(message: &M) -> Vec<u8> {
        let mut buf = Vec::new();
        message.encode(&mut buf, 0).expect("encodes");
        buf
    }

    fn open_state() -> TransactionState {
        TransactionState::default()
            .with_transactional_id(TransactionalId(s("txn-open")))
            .with_transaction_state(s("Ongoing"))
            .with_transaction_timeout_ms(60_000)
            .with_transaction_start_time_ms(1_764_496_800_250)
            .with_producer_id(ProducerId(1001))
            .with_producer_epoch(2)
            .with_topics(vec![
                TopicData::default()
                    .with_topic(TopicName(s("orders")))
                    .with_partitions(vec![1, 0]),
                TopicData::default()
                    .with_topic(TopicName(s("audit")))
                    .with_partitions(vec![3]),
            ])
    }

    fn open_described() -> DescribedTransaction {
        DescribedTransaction {
            transactional_id: "txn-open".to_string(),
            state: "Ongoing".to_string(),
            timeout_ms: 60_000,
            start_time_ms: 1_764_496_800_250,
            producer_id: 1001,
            producer_epoch: 2,
            partitions: vec![
                ("orders".to_string(), 1),
                ("orders".to_string(), 0),
                ("audit".to_string(), 3),
            ],
        }
    }

    #[test]
    fn the_request_names_the_one_id() {
        let mut expected = vec![2, 9];
        expected.extend_from_slice(b"txn-open");
        expected.push(0);
        assert_eq!(encode(&request("txn-open")), expected);
    }

    #[test]
    fn the_asked_transaction_is_read_with_its_partitions() {
        let other = TransactionState::default()
            .with_transactional_id(TransactionalId(s("other")))
            .with_transaction_state(s("Empty"));
        let response = DescribeTransactionsResponse::default()
            .with_transaction_states(vec![other, open_state()]);
        assert_eq!(from_response(response, "txn-open"), Ok(open_described()));
    }

    #[test]
    fn an_unknown_id_is_one_clear_error() {
        let missing = DescribeTransactionsResponse::default().with_transaction_states(vec![
            TransactionState::default()
                .with_error_code(105)
                .with_transactional_id(TransactionalId(s("nope")))
                .with_transaction_start_time_ms(-1)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
        ]);
        let err = from_response(missing, "nope").expect_err("not found");
        assert_eq!(
            err.to_string(),
            "transactional id 'nope' does not exist (TRANSACTIONAL_ID_NOT_FOUND)"
        );
        assert!(!err.is_retriable());
        assert!(is_not_found(&err));

        let moved = DescribeTransactionsResponse::default().with_transaction_states(vec![
            TransactionState::default()
                .with_error_code(16)
                .with_transactional_id(TransactionalId(s("t"))),
        ]);
        let err = from_response(moved, "t").expect_err("moved");
        assert_eq!(
            err.to_string(),
            "DescribeTransactions: Broker: Not coordinator (NOT_COORDINATOR)"
        );
        assert!(err.is_retriable());
        assert!(!is_not_found(&err));

        let empty = DescribeTransactionsResponse::default();
        let err = from_response(empty, "t").expect_err("absent");
        assert_eq!(
            err.to_string(),
            "the DescribeTransactions answer does not describe it"
        );
    }

    #[test]
    fn the_table_shows_age_and_sorted_partitions() {
        let done = DescribedTransaction {
            transactional_id: "txn-done".to_string(),
            state: "CompleteCommit".to_string(),
            timeout_ms: 60_000,
            start_time_ms: 1_764_496_700_000,
            producer_id: 1000,
            producer_epoch: 0,
            partitions: Vec::new(),
        };
        let text = render(&[(0, open_described()), (0, done)], 1_764_496_801_500);
        assert_eq!(
            text,
            "COORDINATOR  TRANSACTIONAL-ID  PRODUCER-ID  EPOCH  STATE           TIMEOUT-MS  \
             START-TIME-MS  DURATION-MS  TOPIC-PARTITIONS\n\
             0            txn-open          1001         2      Ongoing         60000       \
             1764496800250  1250         audit-3,orders-0,orders-1\n\
             0            txn-done          1000         0      CompleteCommit  60000       \
             1764496700000  -            -\n"
        );
        assert!(is_open("PrepareCommit") && is_open("Ongoing"));
        assert!(!is_open("CompleteAbort") && !is_open("Empty") && !is_open("Dead"));
    }
}
