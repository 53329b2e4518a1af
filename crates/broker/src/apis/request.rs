//! The request context handlers see, and response framing.
//!
//! Response frame layout:
//! ```text
//! 0..4   int32 size of what follows
//! 4..8   int32 correlation id (response header v0)
//! 8..    tagged fields (uvarint count, response header v1 only), then the body
//! ```

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable};

/// A response ready to write: one buffer, or several (record data kept in its own buffers).
pub enum ResponseFrame {
    One(Bytes),
    Chunks(Vec<Bytes>),
}

/// A request could not be understood; the connection is closed (Kafka does the same for
/// frames it cannot parse).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unparseable(pub String);

/// A parsed request header plus what dispatch needs.
pub struct RequestContext {
    pub api_key: ApiKey,
    pub api_version: i16,
    pub correlation_id: i32,
    pub client_id: Option<String>,
    /// The peer's address as Kafka shows client hosts ("/127.0.0.1").
    pub client_host: String,
    /// The connection's listener and principal.
    pub session: std::sync::Arc<super::session::Session>,
    /// Holds the next request of this connection back until this one's effects are done
    /// (see [`RequestContext::effects_done`]).
    order: OrderGate,
    /// Time the handler spent running so far (not waiting), for the request-time quota.
    pub busy: BusyClock,
}

/// A handler's busy time: the sum of its polls, the one running included.
#[derive(Default)]
pub struct BusyClock {
    /// Nanoseconds of the polls that have ended.
    total: std::sync::atomic::AtomicU64,
    /// When the poll running now started.
    poll_started: std::sync::Mutex<Option<std::time::Instant>>,
}

impl BusyClock {
    pub fn poll_started(&self) {
        *self.poll_started.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(std::time::Instant::now());
    }

    pub fn poll_ended(&self) {
        let started = self
            .poll_started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(started) = started {
            let spent = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            self.total
                .fetch_add(spent, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Nanoseconds so far.
    pub fn nanos(&self) -> u64 {
        let running = self
            .poll_started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map_or(0, |started| {
                u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX)
            });
        self.total
            .load(std::sync::atomic::Ordering::Relaxed)
            .saturating_add(running)
    }
}

/// The turn of one request on its connection: the next request starts once this one says its
/// effects are done, or once it is dropped (the request finished, whatever the outcome).
#[derive(Default)]
pub struct OrderGate(std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>);

impl OrderGate {
    /// A gate for one request and the receiver the next request waits on.
    pub fn new() -> (OrderGate, tokio::sync::oneshot::Receiver<()>) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        (OrderGate(std::sync::Mutex::new(Some(tx))), rx)
    }

    fn open(&self) {
        // Dropping the sender wakes the receiver; a poisoned lock still holds the sender.
        let taken = self.0.lock().unwrap_or_else(|p| p.into_inner()).take();
        drop(taken);
    }
}

impl RequestContext {
    pub fn from_header(
        api_key: ApiKey,
        header: &RequestHeader,
        session: std::sync::Arc<super::session::Session>,
    ) -> RequestContext {
        RequestContext {
            api_key,
            api_version: header.request_api_version,
            correlation_id: header.correlation_id,
            client_id: header.client_id.as_ref().map(|s| s.to_string()),
            client_host: format!("/{}", session.peer.ip()),
            session,
            order: OrderGate::default(),
            busy: BusyClock::default(),
        }
    }

    /// The principal the request acts as.
    pub fn principal(&self) -> sluice_security::KafkaPrincipal {
        self.session.principal()
    }

    /// The listener the request came through (upper case).
    pub fn listener(&self) -> &str {
        &self.session.listener.name
    }

    /// The handler's busy time so far, in nanoseconds.
    pub fn busy_nanos(&self) -> u64 {
        self.busy.nanos()
    }

    /// The gate that lets the connection's next request start.
    pub fn with_order_gate(mut self, gate: OrderGate) -> RequestContext {
        self.order = gate;
        self
    }

    /// Lets the connection's next request start before this one has answered: everything this
    /// request changes (appends, state) is done, and what remains is waiting (acks=all). A
    /// request that never calls this holds the next one back until it has finished, as Kafka
    /// holds a connection's next request until the response to the current one is sent.
    pub fn effects_done(&self) {
        self.order.open();
    }
}

/// Decodes a request body of type `R` at `version`.
pub fn decode<R: Decodable>(body: &mut Bytes, version: i16) -> Result<R, Unparseable> {
    R::decode(body, version).map_err(|e| Unparseable(format!("malformed request body: {e}")))
}

/// Frames a response: size, response header for `api_key`/`version`, then `body`.
pub fn encode_response<R: Encodable>(
    correlation_id: i32,
    api_key: ApiKey,
    version: i16,
    body: &R,
) -> Result<Bytes, Unparseable> {
    let header_version = api_key.response_header_version(version);
    encode_with_header(correlation_id, header_version, version, body)
}

pub fn encode_with_header<R: Encodable>(
    correlation_id: i32,
    header_version: i16,
    version: i16,
    body: &R,
) -> Result<Bytes, Unparseable> {
    let mut buf = BytesMut::with_capacity(256);
    buf.put_i32(0);
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut buf, header_version)
        .map_err(|e| Unparseable(format!("cannot encode response: {e}")))?;
    body.encode(&mut buf, version)
        .map_err(|e| Unparseable(format!("cannot encode response: {e}")))?;
    let size = (buf.len() - 4) as i32;
    buf[0..4].copy_from_slice(&size.to_be_bytes());
    Ok(buf.freeze())
}
