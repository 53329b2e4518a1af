//! One Sluice node running in the test process, on a thread of its own with its own tokio
//! runtime, so that a test (blocking or async) can start, stop, crash and restart it without
//! sharing a runtime with it.
//!
//! A crash ([`Node::crash`]) drops the node's runtime without the shutdown sequence: no
//! controlled shutdown, no flush, no checkpoint, no clean-shutdown marker, every connection cut.
//! What the node wrote stays as it was in the page cache, as after a `kill -9`; only the
//! blocking tasks already running (a flush, an image being applied) are let finish, for up to
//! [`BLOCKING_GRACE`], so that a restart does not open files a dying thread still writes.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use sluice_broker::{Broker, BrokerConfig, Listeners};
use tokio::sync::oneshot;

/// How long a crash waits for the node's blocking tasks.
const BLOCKING_GRACE: Duration = Duration::from_secs(5);
/// How long a node may take to start serving.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// How a running node is to end.
enum Stop {
    /// Controlled shutdown, logs flushed and closed (SIGTERM).
    Graceful,
    /// Everything dropped at once (kill -9).
    Crash,
}

/// A running node.
pub struct Node {
    /// Its client listener (its controller listener on a controller-only node).
    pub addr: SocketAddr,
    /// Every client listener's bound address, by listener name (upper case, as `listeners`
    /// names it); empty on a controller-only node.
    pub listeners: Vec<(String, SocketAddr)>,
    /// The broker's state, for tests that look inside (None on a controller-only node).
    pub broker: Option<Arc<Broker>>,
    stop: Option<oneshot::Sender<Stop>>,
    thread: Option<JoinHandle<()>>,
}

impl Node {
    /// Starts a node with `config` on `listeners` (bound by the caller, or bound from the
    /// config when `None`) and waits until it serves. Panics if it cannot start: that is a
    /// failed test.
    pub fn start(config: BrokerConfig, listeners: Listeners) -> Node {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<Stop>();
        let thread = std::thread::Builder::new()
            .name("sluice-test-node".into())
            .spawn(move || run(config, listeners, ready_tx, stop_rx))
            .expect("spawn a node thread");
        match ready_rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(Started {
                addr,
                listeners,
                broker,
            })) => Node {
                addr,
                listeners,
                broker,
                stop: Some(stop_tx),
                thread: Some(thread),
            },
            Ok(Err(e)) => {
                let _ = thread.join();
                panic!("the node did not start: {e}");
            }
            Err(_) => panic!("the node did not start within {START_TIMEOUT:?}"),
        }
    }

    /// Stops the node as SIGTERM would (leaderships handed over, logs closed) and waits.
    pub fn stop(mut self) {
        self.end(Stop::Graceful);
    }

    /// Ends the node as `kill -9` would and waits until its threads are gone.
    pub fn crash(mut self) {
        self.end(Stop::Crash);
    }

    fn end(&mut self, how: Stop) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(how);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Node {
    /// A node left running when its test ends (or panics) is crashed: fast, and nothing
    /// outlives the test.
    fn drop(&mut self) {
        self.end(Stop::Crash);
    }
}

/// What a node that started tells [`Node::start`].
struct Started {
    addr: SocketAddr,
    listeners: Vec<(String, SocketAddr)>,
    broker: Option<Arc<Broker>>,
}

type Ready = Result<Started, String>;

fn run(
    config: BrokerConfig,
    listeners: Listeners,
    ready: mpsc::Sender<Ready>,
    stop: oneshot::Receiver<Stop>,
) {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("sluice-test-node-worker")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(format!("runtime: {e}")));
            return;
        }
    };
    let handle = runtime.block_on(sluice_broker::start_with_listeners(config, listeners));
    let handle = match handle {
        Ok(h) => h,
        Err(e) => {
            let _ = ready.send(Err(e.to_string()));
            runtime.shutdown_timeout(BLOCKING_GRACE);
            return;
        }
    };
    let started = Started {
        addr: handle.local_addr,
        listeners: handle.listener_addrs.clone(),
        broker: handle.broker.clone(),
    };
    if ready.send(Ok(started)).is_err() {
        // Nobody waits for this node any more.
        runtime.shutdown_timeout(BLOCKING_GRACE);
        return;
    }
    // A dropped sender (the test is gone) counts as a crash.
    let how = runtime.block_on(stop).unwrap_or(Stop::Crash);
    match how {
        Stop::Graceful => runtime.block_on(handle.shutdown()),
        Stop::Crash => drop(handle),
    }
    runtime.shutdown_timeout(BLOCKING_GRACE);
}
