//! A shard's committer: the task that commits the shard's writes as the high watermark of its
//! partition passes them, and answers the replies whose deadline passed. One per loaded shard;
//! it ends when the shard is unloaded or the broker shuts down.

use std::sync::Arc;

use sluice_coordinator::CoordinatorShard;
use tokio::sync::watch;

use super::shard::Shard;

pub(crate) async fn run<S: CoordinatorShard>(
    shard: Arc<Shard<S>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let partition = shard.log.partition.clone();
    loop {
        // Registered before the state is looked at, so that no move in between is missed
        // (`changed` keeps a permit for a notification that finds no waiter).
        let high_watermark_moved = partition.appended();
        tokio::pin!(high_watermark_moved);
        high_watermark_moved.as_mut().enable();
        let changed = shard.changed.notified();
        let (deadline, active) = shard.advance();
        if !active {
            return;
        }
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut high_watermark_moved => {}
            _ = changed => {}
            _ = sleep => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}
