//! One client connection: read frames, run requests, write responses in request order.
//!
//! Requests on a connection are read ahead (up to `queued.max.requests`; the connection stops
//! reading while that many are pending) and answered in the order they arrived (a
//! `FuturesOrdered`). They take effect in that order too: a request starts only once the one
//! before it has finished, or has said that its effects are done and only a wait remains
//! ([`super::RequestContext::effects_done`]: an acks=all produce, once it has appended
//! every partition, waits for replication while the next request runs). So request N's appends
//! precede request N+1's on every partition, as in Kafka, which mutes a connection while one of
//! its requests is handled; an idempotent producer with several requests in flight relies on it.
//! A frame that cannot be parsed closes the connection. A connection a quota throttles reads
//! nothing until its throttle time is over (KIP-219); requests already read are answered.
//!
//! Everything logged while serving the connection is inside a `connection` span carrying the
//! peer address, the listener and (once authenticated) the principal; each request adds its
//! own span (see [`super::handle`]).

use std::sync::Arc;

use bytes::BytesMut;
use futures::stream::{FuturesOrdered, StreamExt};
use sluice_protocol::frame::take_frame;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{oneshot, watch};
use tracing::Instrument;

use super::request::{OrderGate, ResponseFrame};
use super::session::Session;
use super::KafkaApis;

/// Serves one connection (its two halves, plain TCP or TLS) until the peer closes it, a frame
/// cannot be parsed or is refused, an authentication fails, or shutdown.
pub async fn serve<R, W>(
    apis: Arc<KafkaApis>,
    reader: R,
    writer: W,
    session: Arc<Session>,
    shutdown: watch::Receiver<bool>,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let span = tracing::info_span!(
        "connection",
        peer = %session.peer,
        listener = %session.listener.name,
        principal = tracing::field::Empty,
    );
    let principal = PrincipalField {
        span: span.clone(),
        recorded: false,
    };
    serve_in_span(apis, reader, writer, session, shutdown, principal)
        .instrument(span)
        .await
}

/// The connection span's `principal`, recorded once the session has one (at once without
/// SASL, after the SASL exchange with it).
struct PrincipalField {
    span: tracing::Span,
    recorded: bool,
}

impl PrincipalField {
    fn record_if_authenticated(&mut self, session: &Session) {
        if !self.recorded && session.is_authenticated() {
            self.span
                .record("principal", tracing::field::display(session.principal()));
            self.recorded = true;
        }
    }
}

async fn serve_in_span<R, W>(
    apis: Arc<KafkaApis>,
    mut reader: R,
    mut writer: W,
    session: Arc<Session>,
    mut shutdown: watch::Receiver<bool>,
    mut principal: PrincipalField,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    principal.record_if_authenticated(&session);
    let peer = session.peer;
    let max_frame = apis.settings.socket_request_max_bytes;
    let max_in_flight = apis.settings.queued_max_requests;
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut in_flight = FuturesOrdered::new();
    // Opens when the last request read so far lets the next one start.
    let mut previous_done: Option<oneshot::Receiver<()>> = None;
    let mut reading = true;
    loop {
        // A throttled connection (a quota, KIP-219) reads nothing until its time is up.
        let muted_until = session.muted_until();
        tokio::select! {
            biased;
            Some(result) = in_flight.next(), if !in_flight.is_empty() => {
                principal.record_if_authenticated(&session);
                match result {
                    Ok(Some(response)) => {
                        if let Err(e) = write_response(&mut writer, response).await {
                            tracing::debug!("connection from {peer}: write failed: {e}");
                            return;
                        }
                        if session.is_closing() {
                            let _ = writer.shutdown().await;
                            return;
                        }
                    }
                    Ok(None) => {} // acks=0 produce: no response
                    Err(e) => {
                        tracing::warn!("closing connection from {peer}: {e}");
                        let _ = writer.shutdown().await;
                        return;
                    }
                }
            }
            _ = tokio::time::sleep_until(muted_until.unwrap_or_else(tokio::time::Instant::now)),
                if muted_until.is_some() && in_flight.is_empty() => {}
            read = reader.read_buf(&mut buf),
                if reading && muted_until.is_none() && in_flight.len() < max_in_flight => {
                match read {
                    Ok(0) | Err(_) => reading = false,
                    Ok(_) => loop {
                        match take_frame(&mut buf, session.max_frame(max_frame)) {
                            Ok(Some(frame)) => {
                                let (gate, done) = OrderGate::new();
                                let turn = previous_done.replace(done);
                                let apis = apis.clone();
                                let session = session.clone();
                                let frame = frame.freeze();
                                in_flight.push_back(async move {
                                    let received = std::time::Instant::now();
                                    if let Some(turn) = turn {
                                        // An error only means the previous request is gone.
                                        let _ = turn.await;
                                    }
                                    super::handle(&apis, frame, &session, gate, received).await
                                });
                            }
                            Ok(None) => break,
                            Err(e) => {
                                tracing::warn!("closing connection from {peer}: {e}");
                                return;
                            }
                        }
                    },
                }
                if !reading && in_flight.is_empty() {
                    return;
                }
            }
            _ = shutdown.changed(), if in_flight.is_empty() => return,
        }
        if !reading && in_flight.is_empty() {
            return;
        }
    }
}

/// Writes a response, then flushes it (a TLS stream holds written data until flushed; a TCP
/// stream's flush does nothing).
async fn write_response<W: AsyncWriteExt + Unpin>(
    writer: &mut W,
    response: ResponseFrame,
) -> std::io::Result<()> {
    write_frame(writer, response).await?;
    writer.flush().await
}

/// Chunked responses go out with vectored writes so record data is not copied into one buffer
/// first.
async fn write_frame<W: AsyncWriteExt + Unpin>(
    writer: &mut W,
    response: ResponseFrame,
) -> std::io::Result<()> {
    match response {
        ResponseFrame::One(bytes) => writer.write_all(&bytes).await,
        ResponseFrame::Chunks(mut chunks) => {
            let mut first = 0;
            while first < chunks.len() {
                let slices: Vec<std::io::IoSlice<'_>> = chunks[first..]
                    .iter()
                    .take(64)
                    .map(|c| std::io::IoSlice::new(c))
                    .collect();
                let mut written = writer.write_vectored(&slices).await?;
                if written == 0 {
                    return Err(std::io::ErrorKind::WriteZero.into());
                }
                while written > 0 && first < chunks.len() {
                    let len = chunks[first].len();
                    if written >= len {
                        written -= len;
                        first += 1;
                    } else {
                        bytes::Buf::advance(&mut chunks[first], written);
                        written = 0;
                    }
                }
            }
            Ok(())
        }
    }
}
