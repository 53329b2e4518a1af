//! One client connection: read frames, run requests, write responses in request order.
//!
//! Requests on a connection are pipelined: up to `queued.max.requests` run at once (in a
//! `FuturesOrdered`, so responses leave in the order requests arrived); the connection stops
//! reading while that many are in flight. A frame that cannot be parsed closes the connection.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use futures::stream::{FuturesOrdered, StreamExt};
use sluice_protocol::frame::take_frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::apis::{self, ResponseFrame};
use crate::broker::Broker;

pub async fn serve(
    broker: Arc<Broker>,
    mut stream: TcpStream,
    peer: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
) {
    let max_frame = broker.config().socket_request_max_bytes();
    let max_in_flight = broker.config().queued_max_requests();
    let (mut reader, mut writer) = stream.split();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut in_flight = FuturesOrdered::new();
    let mut reading = true;
    loop {
        tokio::select! {
            biased;
            Some(result) = in_flight.next(), if !in_flight.is_empty() => {
                match result {
                    Ok(Some(response)) => {
                        if let Err(e) = write_response(&mut writer, response).await {
                            tracing::debug!("connection from {peer}: write failed: {e}");
                            return;
                        }
                    }
                    Ok(None) => {} // acks=0 produce: no response
                    Err(e) => {
                        tracing::warn!("closing connection from {peer}: {e}");
                        return;
                    }
                }
            }
            read = reader.read_buf(&mut buf), if reading && in_flight.len() < max_in_flight => {
                match read {
                    Ok(0) | Err(_) => reading = false,
                    Ok(_) => loop {
                        match take_frame(&mut buf, max_frame) {
                            Ok(Some(frame)) => {
                                in_flight.push_back(apis::handle(broker.clone(), frame.freeze(), peer));
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

/// Writes a response; chunked responses go out with vectored writes so record data is not
/// copied into one buffer first.
async fn write_response<W: AsyncWriteExt + Unpin>(
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
