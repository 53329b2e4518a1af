//! The connection against scripted fake brokers on loopback: every wait bounded, every bad
//! answer a clear error.

use std::time::Duration;

use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{
    ApiVersionsResponse, DescribeProducersRequest, ListTransactionsRequest, MetadataRequest,
    MetadataResponse, ResponseHeader,
};
use kafka_protocol::protocol::Encodable;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

const WAIT: Duration = Duration::from_secs(10);

fn options() -> ConnectionOptions {
    ConnectionOptions {
        client_id: "test".to_string(),
        max_response_bytes: 1 << 20,
    }
}

/// A request as the fake broker sees it.
struct Seen {
    api_key: i16,
    version: i16,
    correlation_id: i32,
}

async fn read_request(socket: &mut TcpStream) -> Option<Seen> {
    let size = socket.read_i32().await.ok()?;
    let mut frame = vec![0u8; usize::try_from(size).ok()?];
    socket.read_exact(&mut frame).await.ok()?;
    Some(Seen {
        api_key: i16::from_be_bytes([frame[0], frame[1]]),
        version: i16::from_be_bytes([frame[2], frame[3]]),
        correlation_id: i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]),
    })
}

async fn write_response<M: Encodable>(
    socket: &mut TcpStream,
    correlation_id: i32,
    header_version: i16,
    body: &M,
    version: i16,
) {
    let mut frame = BytesMut::new();
    frame.put_i32(0);
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut frame, header_version)
        .expect("header encodes");
    body.encode(&mut frame, version).expect("body encodes");
    let size = (frame.len() - 4) as i32;
    frame[..4].copy_from_slice(&size.to_be_bytes());
    socket.write_all(&frame).await.expect("response written");
}

/// A fake broker serving one connection with `script`; returns its address.
async fn fake_broker<F, Fut>(script: F) -> (String, tokio::task::JoinHandle<()>)
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address").to_string();
    let task = tokio::spawn(async move {
        if let Ok((socket, _)) = listener.accept().await {
            script(socket).await;
        }
    });
    (addr, task)
}

fn versions(ranges: &[(i16, i16, i16)]) -> ApiVersionsResponse {
    ApiVersionsResponse::default().with_api_keys(
        ranges
            .iter()
            .map(|&(key, min, max)| {
                ApiVersion::default()
                    .with_api_key(key)
                    .with_min_version(min)
                    .with_max_version(max)
            })
            .collect(),
    )
}

#[tokio::test]
async fn versions_are_negotiated_once_and_requests_answered() {
    let (addr, broker) = fake_broker(|mut socket| async move {
        let first = read_request(&mut socket).await.expect("ApiVersions");
        assert_eq!((first.api_key, first.version), (18, 0));
        let ranges = versions(&[(3, 0, 20), (61, 0, 0), (66, 0, 5)]);
        write_response(&mut socket, first.correlation_id, 0, &ranges, 0).await;
        let metadata = read_request(&mut socket).await.expect("Metadata");
        assert_eq!((metadata.api_key, metadata.version), (3, 12));
        let answer =
            MetadataResponse::default().with_cluster_id(Some(StrBytes::from_static_str("c1")));
        write_response(&mut socket, metadata.correlation_id, 1, &answer, 12).await;
    })
    .await;
    let mut connection = Connection::connect(&addr, &options(), WAIT)
        .await
        .expect("connects");
    // Capped by the caller's newest, by kafka-protocol and the guard (Metadata v13), and by
    // the broker's advertised range.
    assert_eq!(
        connection
            .supported::<MetadataRequest>(1, 12, WAIT)
            .await
            .ok(),
        Some(Some(12))
    );
    assert_eq!(
        connection
            .supported::<ListTransactionsRequest>(0, 9, WAIT)
            .await
            .ok(),
        Some(Some(2))
    );
    assert_eq!(
        connection
            .supported::<DescribeProducersRequest>(1, 3, WAIT)
            .await
            .ok(),
        Some(None)
    );
    let err = connection
        .negotiate::<DescribeProducersRequest>(1, 3, WAIT)
        .await
        .expect_err("no common version");
    assert_eq!(
        err.to_string(),
        format!("{addr} does not support DescribeProducers v1 to v3 (it has v0 to v0)")
    );
    let response = connection
        .send(&MetadataRequest::default(), 12, WAIT)
        .await
        .expect("answered");
    assert_eq!(response.cluster_id.as_deref(), Some("c1"));
    broker.await.expect("fake broker");
}

#[tokio::test]
async fn an_oversized_frame_is_refused_before_anything_is_allocated() {
    let (addr, broker) = fake_broker(|mut socket| async move {
        read_request(&mut socket).await.expect("request");
        socket
            .write_all(&[0x7f, 0xff, 0xff, 0xff])
            .await
            .expect("size");
        let _ = read_request(&mut socket).await;
    })
    .await;
    let mut connection = Connection::connect(&addr, &options(), WAIT)
        .await
        .expect("connects");
    let err = connection
        .send(&MetadataRequest::default(), 1, WAIT)
        .await
        .expect_err("too large");
    assert!(
        matches!(
            err,
            ClientError::FrameTooLarge {
                size: 2_147_483_647,
                max: 1_048_576,
                ..
            }
        ),
        "{err}"
    );
    // The stream is out of step now: the connection refuses further requests.
    let err = connection
        .send(&MetadataRequest::default(), 1, WAIT)
        .await
        .expect_err("broken");
    assert!(matches!(err, ClientError::Broken { .. }), "{err}");
    drop(connection);
    broker.await.expect("fake broker");
}

#[tokio::test]
async fn a_hostile_body_is_refused_by_the_guard() {
    let (addr, broker) = fake_broker(|mut socket| async move {
        let seen = read_request(&mut socket).await.expect("request");
        // Correlation id, then Metadata v1 claiming 2^31-1 brokers in 2 bytes.
        let mut frame = vec![0, 0, 0, 10];
        frame.extend_from_slice(&seen.correlation_id.to_be_bytes());
        frame.extend_from_slice(&[0x7f, 0xff, 0xff, 0xff, 0, 0]);
        socket.write_all(&frame).await.expect("answer");
    })
    .await;
    let mut connection = Connection::connect(&addr, &options(), WAIT)
        .await
        .expect("connects");
    let err = connection
        .send(&MetadataRequest::default(), 1, WAIT)
        .await
        .expect_err("refused");
    assert!(
        err.to_string().contains("claims 2147483647 elements"),
        "{err}"
    );
    broker.await.expect("fake broker");
}

#[tokio::test]
async fn a_silent_broker_times_out_and_a_closed_one_is_reported() {
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let (addr, broker) = fake_broker(|mut socket| async move {
        read_request(&mut socket).await.expect("request");
        // Stay silent until the client has given up.
        let _ = tokio::time::timeout(WAIT, done_rx).await;
    })
    .await;
    let mut connection = Connection::connect(&addr, &options(), WAIT)
        .await
        .expect("connects");
    let timeout = Duration::from_millis(200);
    let err = connection
        .send(&MetadataRequest::default(), 1, timeout)
        .await
        .expect_err("silent");
    assert_eq!(
        err.to_string(),
        format!("{addr} did not answer within 200ms")
    );
    let _ = done_tx.send(());
    broker.await.expect("fake broker");

    let (addr, broker) = fake_broker(|mut socket| async move {
        read_request(&mut socket).await.expect("request");
    })
    .await;
    let mut connection = Connection::connect(&addr, &options(), WAIT)
        .await
        .expect("connects");
    let err = connection
        .send(&MetadataRequest::default(), 1, WAIT)
        .await
        .expect_err("closed");
    assert_eq!(err.to_string(), format!("{addr} closed the connection"));
    broker.await.expect("fake broker");
}

#[tokio::test]
async fn wrong_correlation_ids_and_api_versions_errors_are_reported() {
    let (addr, broker) = fake_broker(|mut socket| async move {
        let seen = read_request(&mut socket).await.expect("request");
        write_response(
            &mut socket,
            seen.correlation_id + 7,
            0,
            &MetadataResponse::default(),
            1,
        )
        .await;
    })
    .await;
    let mut connection = Connection::connect(&addr, &options(), WAIT)
        .await
        .expect("connects");
    let err = connection
        .send(&MetadataRequest::default(), 1, WAIT)
        .await
        .expect_err("mismatch");
    assert_eq!(
        err.to_string(),
        format!("{addr}: response to request 8 while waiting for 1")
    );
    broker.await.expect("fake broker");

    let (addr, broker) = fake_broker(|mut socket| async move {
        let seen = read_request(&mut socket).await.expect("request");
        let refused = ApiVersionsResponse::default().with_error_code(35);
        write_response(&mut socket, seen.correlation_id, 0, &refused, 0).await;
    })
    .await;
    let mut connection = Connection::connect(&addr, &options(), WAIT)
        .await
        .expect("connects");
    let err = connection
        .negotiate::<MetadataRequest>(1, 12, WAIT)
        .await
        .expect_err("refused");
    assert_eq!(
        err.to_string(),
        format!("{addr}: ApiVersions answered error code 35")
    );
    broker.await.expect("fake broker");
}

#[tokio::test]
async fn unreachable_addresses_fail_with_the_reason() {
    let err = Connection::connect("no-port", &options(), WAIT)
        .await
        .err()
        .expect("no port");
    assert!(
        err.to_string().starts_with("cannot resolve no-port"),
        "{err}"
    );
    // A port nothing listens on: bind one, then close it.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address").to_string();
    drop(listener);
    let err = Connection::connect(&addr, &options(), WAIT)
        .await
        .err()
        .expect("refused");
    assert!(
        err.to_string()
            .starts_with(&format!("cannot connect to {addr}")),
        "{err}"
    );
    assert!(err.is_transport());
}
