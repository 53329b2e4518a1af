//! One blocking request/response connection to one broker, with a deadline for everything done
//! on it.
//!
//! Before the first request of any other API, the connection asks ApiVersions and checks the
//! request's version against the broker's range: a broker closes the connection on a request it
//! does not implement, and "DescribeProducers is not supported" is a better message than "the
//! connection was closed".
//!
//! Wire layouts (see `reader.rs` for the types):
//!
//! ```text
//! frame                    int32 size, then size bytes
//! request header v1        int16 api_key, int16 api_version, int32 correlation_id,
//!                          NULLABLE_STRING client_id
//! request header v2        v1, then TAGGED_FIELDS        (flexible request versions)
//! response header v0       int32 correlation_id
//! response header v1       v0, then TAGGED_FIELDS        (flexible response versions)
//!
//! ApiVersions v0 request   (empty body)
//! ApiVersions v0 response  int16 error_code, ARRAY api_keys:
//!                              int16 api_key, int16 min_version, int16 max_version
//! ```

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, RequestHeader};
use kafka_protocol::protocol::{Encodable, HeaderVersion, Request, StrBytes};

use super::{code_text, Reader};

const CLIENT_ID: &str = "sluice-cli";
/// The largest response accepted, librdkafka's default `receive.message.max.bytes`.
const RESPONSE_BYTES_MAX: usize = 100_000_000;
/// A response body is read (and its buffer grown) this much at a time, so a peer that claims a
/// large size gets memory only for bytes it really sends.
const READ_CHUNK_BYTES: usize = 1 << 20;
/// The ApiVersions version asked: v0 is classic, needs no client software name and every
/// broker since Kafka 0.10 answers it.
const API_VERSIONS_VERSION: i16 = 0;

pub struct BrokerConnection {
    /// `host:port` as given, for messages.
    address: String,
    stream: TcpStream,
    deadline: Instant,
    correlation_id: i32,
    /// The ranges the broker advertised, asked before the first request of another API.
    api_versions: Option<Vec<ApiVersionRange>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ApiVersionRange {
    api_key: i16,
    min_version: i16,
    max_version: i16,
}

impl BrokerConnection {
    /// Connects to `address` (`host:port`), trying each address it resolves to.
    pub fn open(address: &str, deadline: Instant) -> Result<Self, String> {
        let addresses = address
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {address}: {e}"))?;
        let mut last_error = format!("{address} resolves to no address");
        for socket_address in addresses {
            let remaining = remaining_until(deadline, address)?;
            match TcpStream::connect_timeout(&socket_address, remaining) {
                Ok(stream) => {
                    // Requests are written whole; Nagle would only add latency.
                    let _ = stream.set_nodelay(true);
                    return Ok(BrokerConnection {
                        address: address.to_string(),
                        stream,
                        deadline,
                        correlation_id: 0,
                        api_versions: None,
                    });
                }
                Err(e) => last_error = format!("cannot connect to {socket_address}: {e}"),
            }
        }
        Err(last_error)
    }

    /// Sends `request` at `version`, once the broker is known to support it, and returns the
    /// response body after its header.
    pub fn send<R: Request>(&mut self, request: &R, version: i16) -> Result<Vec<u8>, String> {
        self.check_version(R::KEY, version)?;
        self.round_trip(request, version)
    }

    /// The newest version of `api_key` in `oldest..=newest` that the broker supports, or
    /// `None` when it supports none of them (or not the API at all). For requests whose
    /// answer this client can read at several versions.
    pub fn newest_supported(
        &mut self,
        api_key: i16,
        oldest: i16,
        newest: i16,
    ) -> Result<Option<i16>, String> {
        let Some(range) = self.api_versions()?.iter().find(|r| r.api_key == api_key) else {
            return Ok(None);
        };
        let version = range.max_version.min(newest);
        Ok((version >= range.min_version.max(oldest)).then_some(version))
    }

    /// What the broker advertised in ApiVersions, asked on first use.
    fn api_versions(&mut self) -> Result<&[ApiVersionRange], String> {
        if self.api_versions.is_none() {
            let body = self.round_trip(&ApiVersionsRequest::default(), API_VERSIONS_VERSION)?;
            self.api_versions = Some(parse_api_versions(&body)?);
        }
        Ok(self.api_versions.as_deref().unwrap_or_default())
    }

    fn check_version(&mut self, api_key: i16, version: i16) -> Result<(), String> {
        let name = api_name(api_key);
        let address = self.address.clone();
        let ranges = self.api_versions()?;
        match ranges.iter().find(|r| r.api_key == api_key) {
            Some(r) if (r.min_version..=r.max_version).contains(&version) => Ok(()),
            Some(r) => Err(format!(
                "broker {address} supports {name} v{}-v{}, not v{version}",
                r.min_version, r.max_version
            )),
            None => Err(format!(
                "broker {address} does not support {name} (api key {api_key})"
            )),
        }
    }

    fn round_trip<R: Request>(&mut self, request: &R, version: i16) -> Result<Vec<u8>, String> {
        let name = api_name(R::KEY);
        self.correlation_id = self.correlation_id.wrapping_add(1);
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation_id)
            .with_client_id(Some(StrBytes::from_static_str(CLIENT_ID)));
        let mut frame = vec![0u8; 4]; // size, patched below
        header
            .encode(&mut frame, R::header_version(version))
            .and_then(|()| request.encode(&mut frame, version))
            .map_err(|e| format!("cannot encode {name} v{version}: {e}"))?;
        let size = i32::try_from(frame.len() - 4)
            .map_err(|_| format!("the {name} request is too large"))?;
        frame[..4].copy_from_slice(&size.to_be_bytes());

        let io_error = |e: std::io::Error| format!("talking to {}: {e}", self.address);
        self.stream
            .set_write_timeout(Some(remaining_until(self.deadline, &self.address)?))
            .map_err(io_error)?;
        self.stream.write_all(&frame).map_err(|e| match e.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => timed_out(&self.address),
            _ => io_error(e),
        })?;

        let mut size = [0u8; 4];
        self.read_exact(&mut size)?;
        let size = i32::from_be_bytes(size);
        let size = usize::try_from(size)
            .ok()
            .filter(|&s| (4..=RESPONSE_BYTES_MAX).contains(&s))
            .ok_or_else(|| format!("{} sent a response of {size} bytes", self.address))?;
        let mut response = Vec::new();
        while response.len() < size {
            let start = response.len();
            let end = size.min(start + READ_CHUNK_BYTES);
            response.resize(end, 0);
            self.read_exact(&mut response[start..end])?;
        }

        let mut r = Reader::new(&response);
        let correlation_id = r.i32()?;
        if correlation_id != self.correlation_id {
            return Err(format!(
                "{} answered correlation id {correlation_id}, expected {}",
                self.address, self.correlation_id
            ));
        }
        if R::Response::header_version(version) >= 1 {
            r.skip_tagged_fields()
                .map_err(|e| format!("{name} response header: {e}"))?;
        }
        let header_len = response.len() - r.remaining();
        response.drain(..header_len);
        Ok(response)
    }

    /// Fills `buf`, giving up at the deadline however slowly the bytes arrive.
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), String> {
        let mut filled = 0;
        while filled < buf.len() {
            let remaining = remaining_until(self.deadline, &self.address)?;
            self.stream
                .set_read_timeout(Some(remaining))
                .map_err(|e| format!("talking to {}: {e}", self.address))?;
            match self.stream.read(&mut buf[filled..]) {
                Ok(0) => return Err(format!("{} closed the connection", self.address)),
                Ok(n) => filled += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Err(timed_out(&self.address));
                }
                Err(e) => return Err(format!("reading from {}: {e}", self.address)),
            }
        }
        Ok(())
    }
}

/// `DescribeProducers` for a known api key.
fn api_name(api_key: i16) -> String {
    ApiKey::try_from(api_key)
        .map(|key| format!("{key:?}"))
        .unwrap_or_else(|_| format!("api key {api_key}"))
}

/// Smallest encoding of one ApiVersions v0 entry.
const API_VERSION_BYTES: usize = 6;

fn parse_api_versions(body: &[u8]) -> Result<Vec<ApiVersionRange>, String> {
    let mut r = Reader::new(body);
    let error_code = r.i16()?;
    if error_code != 0 {
        return Err(format!("ApiVersions: {}", code_text(error_code)));
    }
    let count = r.count(API_VERSION_BYTES)?;
    let mut ranges = Vec::with_capacity(count);
    for _ in 0..count {
        ranges.push(ApiVersionRange {
            api_key: r.i16()?,
            min_version: r.i16()?,
            max_version: r.i16()?,
        });
    }
    Ok(ranges)
}

fn timed_out(address: &str) -> String {
    format!("timed out waiting for {address}")
}

/// The time left before `deadline`, or an error once it has passed (a zero socket timeout would
/// mean "wait forever").
fn remaining_until(deadline: Instant, address: &str) -> Result<Duration, String> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(timed_out(address))
    } else {
        Ok(left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    use kafka_protocol::messages::api_versions_response::ApiVersion;
    use kafka_protocol::messages::{ApiVersionsResponse, ListTransactionsRequest};
    use kafka_protocol::protocol::Encodable;

    /// One request as a fake broker saw it.
    struct Seen {
        api_key: i16,
        api_version: i16,
        correlation_id: i32,
        /// Everything after api_key, api_version and correlation_id.
        rest: Vec<u8>,
    }

    fn read_request(socket: &mut TcpStream) -> Option<Seen> {
        let mut size = [0u8; 4];
        socket.read_exact(&mut size).ok()?;
        let mut frame = vec![0u8; usize::try_from(i32::from_be_bytes(size)).ok()?];
        socket.read_exact(&mut frame).ok()?;
        Some(Seen {
            api_key: i16::from_be_bytes([frame[0], frame[1]]),
            api_version: i16::from_be_bytes([frame[2], frame[3]]),
            correlation_id: i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]),
            rest: frame[8..].to_vec(),
        })
    }

    fn write_frame(socket: &mut TcpStream, correlation_id: i32, header_tail: &[u8], body: &[u8]) {
        let size = 4 + header_tail.len() + body.len();
        let mut frame = (size as i32).to_be_bytes().to_vec();
        frame.extend_from_slice(&correlation_id.to_be_bytes());
        frame.extend_from_slice(header_tail);
        frame.extend_from_slice(body);
        socket.write_all(&frame).expect("answer");
    }

    fn api_versions(ranges: &[(i16, i16, i16)]) -> Vec<u8> {
        let response = ApiVersionsResponse::default().with_api_keys(
            ranges
                .iter()
                .map(|&(key, min, max)| {
                    ApiVersion::default()
                        .with_api_key(key)
                        .with_min_version(min)
                        .with_max_version(max)
                })
                .collect(),
        );
        let mut body = Vec::new();
        response.encode(&mut body, 0).expect("encodes");
        body
    }

    /// A broker on a loopback port that serves one connection with `serve`.
    fn fake_broker(
        serve: impl FnOnce(&mut TcpStream) + Send + 'static,
    ) -> (String, std::thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address").to_string();
        let server = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().expect("accept");
            serve(&mut socket);
        });
        (address, server)
    }

    fn deadline() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    const LIST_TRANSACTIONS: i16 = 66;

    #[test]
    fn a_flexible_request_is_checked_sent_and_its_header_stripped() {
        let (address, server) = fake_broker(|socket| {
            let first = read_request(socket).expect("ApiVersions");
            assert_eq!((first.api_key, first.api_version), (18, 0));
            // Header v1: client id, no tagged fields; empty body.
            assert_eq!(first.rest, b"\x00\x0asluice-cli");
            let ranges = api_versions(&[(18, 0, 4), (LIST_TRANSACTIONS, 0, 2)]);
            write_frame(socket, first.correlation_id, &[], &ranges);

            let second = read_request(socket).expect("ListTransactions");
            assert_eq!((second.api_key, second.api_version), (LIST_TRANSACTIONS, 1));
            assert_eq!(second.correlation_id, first.correlation_id + 1);
            // Header v2 ends in an empty tagged-field section; then the v1 body: no state
            // filters, no producer id filters, duration -1, no tagged fields.
            let mut expected = b"\x00\x0asluice-cli\x00".to_vec();
            expected.extend_from_slice(&[1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
            expected.push(0);
            assert_eq!(second.rest, expected);
            // Response header v1 with one tagged field, which must be skipped.
            write_frame(socket, second.correlation_id, &[1, 0, 1, 0xee], b"body");
        });
        let mut connection = BrokerConnection::open(&address, deadline()).expect("connects");
        let body = connection
            .send(&ListTransactionsRequest::default(), 1)
            .expect("answered");
        assert_eq!(body, b"body");
        server.join().expect("fake broker");
    }

    #[test]
    fn an_unsupported_api_or_version_is_refused_before_sending() {
        let (address, server) = fake_broker(|socket| {
            let first = read_request(socket).expect("ApiVersions");
            let ranges = api_versions(&[(18, 0, 4), (LIST_TRANSACTIONS, 0, 0)]);
            write_frame(socket, first.correlation_id, &[], &ranges);
            // Nothing else arrives: the client hangs up.
            assert!(read_request(socket).is_none());
        });
        let mut connection = BrokerConnection::open(&address, deadline()).expect("connects");
        let err = connection
            .send(&ListTransactionsRequest::default(), 1)
            .expect_err("v1 unsupported");
        assert_eq!(
            err,
            format!("broker {address} supports ListTransactions v0-v0, not v1")
        );
        let err = connection
            .send(
                &kafka_protocol::messages::DescribeProducersRequest::default(),
                0,
            )
            .expect_err("not advertised");
        assert_eq!(
            err,
            format!("broker {address} does not support DescribeProducers (api key 61)")
        );
        drop(connection);
        server.join().expect("fake broker");
    }

    #[test]
    fn the_newest_common_version_is_chosen_from_one_api_versions_answer() {
        let (address, server) = fake_broker(|socket| {
            let first = read_request(socket).expect("ApiVersions");
            let ranges = api_versions(&[(18, 0, 4), (3, 0, 13), (60, 0, 1), (61, 3, 5)]);
            write_frame(socket, first.correlation_id, &[], &ranges);
            // Asked once: the later questions are answered from the first answer.
            assert!(read_request(socket).is_none());
        });
        let mut connection = BrokerConnection::open(&address, deadline()).expect("connects");
        assert_eq!(connection.newest_supported(3, 1, 12), Ok(Some(12)));
        assert_eq!(connection.newest_supported(60, 0, 2), Ok(Some(1)));
        assert_eq!(connection.newest_supported(61, 0, 2), Ok(None));
        assert_eq!(connection.newest_supported(61, 5, 9), Ok(Some(5)));
        assert_eq!(connection.newest_supported(66, 0, 1), Ok(None));
        drop(connection);
        server.join().expect("fake broker");
    }

    #[test]
    fn a_listener_that_hangs_up_is_an_error_not_a_hang() {
        let (address, server) = fake_broker(|socket| {
            // Answer with a frame too short to hold a correlation id.
            read_request(socket).expect("request");
            socket.write_all(&[0, 0, 0, 2, 0, 0]).expect("answer");
        });
        let mut connection = BrokerConnection::open(&address, deadline()).expect("connects");
        let err = connection
            .send(&ListTransactionsRequest::default(), 1)
            .expect_err("bad frame");
        assert_eq!(err, format!("{address} sent a response of 2 bytes"));
        server.join().expect("fake broker");

        let (address, server) = fake_broker(|socket| {
            read_request(socket).expect("request");
        });
        let mut connection = BrokerConnection::open(&address, deadline()).expect("connects");
        let err = connection
            .send(&ListTransactionsRequest::default(), 1)
            .expect_err("closed");
        assert_eq!(err, format!("{address} closed the connection"));
        server.join().expect("fake broker");
    }

    #[test]
    fn a_silent_broker_times_out_at_the_deadline() {
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let (address, server) = fake_broker(move |socket| {
            read_request(socket).expect("request");
            // Keep the connection open, silent, until the client has given up.
            let _ = done_rx.recv_timeout(Duration::from_secs(30));
        });
        let deadline = Instant::now() + Duration::from_millis(300);
        let mut connection = BrokerConnection::open(&address, deadline).expect("connects");
        let err = connection
            .send(&ListTransactionsRequest::default(), 1)
            .expect_err("silent");
        assert_eq!(err, format!("timed out waiting for {address}"));
        drop(done_tx);
        server.join().expect("fake broker");
    }

    #[test]
    fn wrong_correlation_ids_and_api_versions_errors_are_reported() {
        let (address, server) = fake_broker(|socket| {
            let first = read_request(socket).expect("request");
            write_frame(socket, first.correlation_id + 7, &[], &[0, 0, 0, 0, 0, 0]);
        });
        let mut connection = BrokerConnection::open(&address, deadline()).expect("connects");
        let err = connection
            .send(&ListTransactionsRequest::default(), 1)
            .expect_err("mismatch");
        assert_eq!(
            err,
            format!("{address} answered correlation id 8, expected 1")
        );
        server.join().expect("fake broker");

        assert_eq!(
            parse_api_versions(&[0, 35, 0, 0, 0, 0]),
            Err("ApiVersions: Broker: API version not supported (UNSUPPORTED_VERSION)".to_string())
        );
        assert!(parse_api_versions(&[0, 0, 0x7f, 0xff, 0xff, 0xff]).is_err());
        assert_eq!(
            parse_api_versions(&[0, 0, 0, 0, 0, 1, 0, 61, 0, 0, 0, 0]),
            Ok(vec![ApiVersionRange {
                api_key: 61,
                min_version: 0,
                max_version: 0
            }])
        );
    }

    #[test]
    fn unreachable_addresses_fail_with_the_reason() {
        let err = BrokerConnection::open("no-port", deadline())
            .err()
            .expect("no port");
        assert!(err.starts_with("cannot resolve no-port"), "{err}");
        let err = BrokerConnection::open("127.0.0.1:1", Instant::now())
            .err()
            .expect("past deadline");
        assert_eq!(err, "timed out waiting for 127.0.0.1:1");
    }
}
