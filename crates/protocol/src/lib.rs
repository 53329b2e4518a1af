//! sluice-protocol: the thin layer between raw bytes and the `kafka-protocol` crate.
//!
//! # Layout
//! - `frame`: length-prefixed framing (4-byte big-endian size, then the message), with the size
//!   bounded before anything is allocated.
//! - `batch`: reading, validating and patching the 61-byte header of a v2 record batch; record
//!   data itself stays opaque bytes.
//! - `guard/`: a walk over a request or response that checks every array count and string/bytes
//!   length a peer claims against the bytes actually present, before `kafka-protocol` decodes
//!   (and allocates for) it. Request and response schemas, one table each; the sample encoders
//!   that prove them exist only in tests and with the `test-encoders` feature.
//! - `client/`: the wire client every Sluice component uses to talk to a broker: framing,
//!   version negotiation, bounded and guarded responses, timeouts.
//! - `records`: reading the records of v2 batches (the consuming side), every length checked;
//!   `decompress`: the five codecs with the output bounded.
//! - `fetch_response`: FetchResponse encoding that leaves record data in its own buffers.
//! - `error`: Kafka error codes used across the workspace.
#![forbid(unsafe_code)]

pub mod batch;
pub mod client;
pub mod decompress;
pub mod error;
pub mod fetch_response;
pub mod frame;
pub mod guard;
pub mod records;

pub use kafka_protocol;
