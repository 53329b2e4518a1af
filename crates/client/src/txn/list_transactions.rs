//! ListTransactions v1 (KIP-664; v1 adds the duration filter of KIP-994): the transactional ids
//! one broker coordinates, filtered by state, producer id and age.

use std::ops::RangeInclusive;

use kafka_protocol::messages::{ListTransactionsRequest, ListTransactionsResponse, ProducerId};
use kafka_protocol::protocol::StrBytes;

use crate::table::Table;
use crate::wire::RequestError;

/// v1 has the duration filter; v0 brokers cannot filter by age (asked with a minimum age,
/// they are not asked at all, see [`request`]).
pub const VERSIONS: RangeInclusive<i16> = 1..=1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedTransaction {
    pub transactional_id: String,
    pub producer_id: i64,
    pub state: String,
}

/// One broker's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionList {
    /// The `--state` values the broker does not know; they match nothing.
    pub unknown_state_filters: Vec<String>,
    pub transactions: Vec<ListedTransaction>,
}

/// `min_duration_ms`: only transactions open at least this long (None: any).
pub fn request(
    states: &[String],
    producer_ids: &[i64],
    min_duration_ms: Option<i64>,
) -> ListTransactionsRequest {
    ListTransactionsRequest::default()
        .with_state_filters(
            states
                .iter()
                .map(|s| StrBytes::from_string(s.clone()))
                .collect(),
        )
        .with_producer_id_filters(producer_ids.iter().map(|&id| ProducerId(id)).collect())
        .with_duration_filter(min_duration_ms.unwrap_or(-1))
}

pub fn from_response(response: ListTransactionsResponse) -> Result<TransactionList, RequestError> {
    if response.error_code != 0 {
        return Err(RequestError::broker(
            response.error_code,
            "ListTransactions",
            None,
        ));
    }
    Ok(TransactionList {
        unknown_state_filters: response
            .unknown_state_filters
            .into_iter()
            .map(|s| s.to_string())
            .collect(),
        transactions: response
            .transaction_states
            .into_iter()
            .map(|t| ListedTransaction {
                transactional_id: t.transactional_id.0.to_string(),
                producer_id: t.producer_id.0,
                state: t.transaction_state.to_string(),
            })
            .collect(),
    })
}

/// The `txn list` table, rows in the order given.
pub fn render(transactions: &[ListedTransaction]) -> String {
    let mut table = Table::new(&["TRANSACTIONAL-ID", "PRODUCER-ID", "STATE"]);
    for t in transactions {
        table.push(vec![
            t.transactional_id.clone(),
            t.producer_id.to_string(),
            t.state.clone(),
        ]);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::list_transactions_response::TransactionState;
    use kafka_protocol::messages::{ListTransactionsResponse, TransactionalId};
    use kafka_protocol::protocol::Encodable;

    fn s(text: &str) -> StrBytes {
        StrBytes::from_string(text.to_string())
    }

    fn encode<M: Encodable>(message: &M) -> Vec<u8> {
        let mut buf = Vec::new();
        message.encode(&mut buf, 1).expect("encodes");
        buf
    }

    fn listed(id: &str, producer_id: i64, state: &str) -> ListedTransaction {
        ListedTransaction {
            transactional_id: id.to_string(),
            producer_id,
            state: state.to_string(),
        }
    }

    #[test]
    fn the_request_carries_every_filter() {
        let built = request(&["Ongoing".to_string()], &[7, 9], Some(5_000));
        assert_eq!(built.state_filters, vec![s("Ongoing")]);
        assert_eq!(
            built.producer_id_filters,
            vec![ProducerId(7), ProducerId(9)]
        );
        assert_eq!(built.duration_filter, 5_000);
        // v1 bytes: one state, two producer ids, the duration, no tagged fields.
        let mut expected = vec![2, 8];
        expected.extend_from_slice(b"Ongoing");
        expected.push(3);
        expected.extend_from_slice(&7i64.to_be_bytes());
        expected.extend_from_slice(&9i64.to_be_bytes());
        expected.extend_from_slice(&5_000i64.to_be_bytes());
        expected.push(0);
        assert_eq!(encode(&built), expected);

        let unfiltered = request(&[], &[], None);
        assert!(unfiltered.state_filters.is_empty());
        assert!(unfiltered.producer_id_filters.is_empty());
        assert_eq!(unfiltered.duration_filter, -1);
    }

    fn response() -> ListTransactionsResponse {
        ListTransactionsResponse::default()
            .with_unknown_state_filters(vec![s("Nonsense")])
            .with_transaction_states(vec![
                TransactionState::default()
                    .with_transactional_id(TransactionalId(s("txn-open")))
                    .with_producer_id(ProducerId(1001))
                    .with_transaction_state(s("Ongoing")),
                TransactionState::default()
                    .with_transactional_id(TransactionalId(s("txn-done")))
                    .with_producer_id(ProducerId(1000))
                    .with_transaction_state(s("CompleteCommit")),
            ])
    }

    #[test]
    fn states_and_unknown_filters_are_read() {
        assert_eq!(
            from_response(response()),
            Ok(TransactionList {
                unknown_state_filters: vec!["Nonsense".to_string()],
                transactions: vec![
                    listed("txn-open", 1001, "Ongoing"),
                    listed("txn-done", 1000, "CompleteCommit"),
                ],
            })
        );
    }

    #[test]
    fn errors_are_reported() {
        let failed = ListTransactionsResponse::default().with_error_code(14);
        let err = from_response(failed).expect_err("loading");
        assert_eq!(
            err.to_string(),
            "ListTransactions: Broker: Coordinator load in progress \
             (COORDINATOR_LOAD_IN_PROGRESS)"
        );
        assert!(err.is_retriable());
    }

    #[test]
    fn the_table_has_one_row_per_transaction() {
        let rows = vec![
            listed("txn-done", 1000, "CompleteCommit"),
            listed("txn-open", 1001, "Ongoing"),
        ];
        assert_eq!(
            render(&rows),
            "TRANSACTIONAL-ID  PRODUCER-ID  STATE\n\
             txn-done          1000         CompleteCommit\n\
             txn-open          1001         Ongoing\n"
        );
        assert_eq!(render(&[]), "TRANSACTIONAL-ID  PRODUCER-ID  STATE\n");
    }
}
