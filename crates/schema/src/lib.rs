//! sluice-schema: the schema registry's formats and state, free of I/O.
//!
//! # Layout
//! - `format`: [`SchemaType`], [`ParsedSchema`] and [`parse`], one face over the formats:
//!   `avro`, `protobuf` and `json_schema` (JSON Schema), each parsing, canonicalising and
//!   checking whether one schema reads data written with another.
//! - `compat`: [`CompatibilityLevel`] and the check a new version passes.
//! - `records`: the `_schemas` topic's records (Confluent's layout).
//! - `registry`: [`SchemaRegistry`], the state those records build and the write handlers;
//!   run by the broker's coordinator runtime on the leader of `_schemas`, replayed as a read
//!   view elsewhere.
//! - `error`: [`RegistryError`], with Confluent's error codes.
#![forbid(unsafe_code)]

pub mod avro;
pub mod compat;
pub mod error;
pub mod format;
pub mod json_schema;
pub mod protobuf;
pub mod records;
pub mod registry;

pub use compat::CompatibilityLevel;
pub use error::RegistryError;
pub use format::{parse, Dependency, ParsedSchema, SchemaReference, SchemaType};
pub use registry::{
    Mode, Reply, SchemaRegistry, SchemaRequest, StoredSchema, SubjectVersion, VersionSpec,
    WriteRequest, WriteResult,
};

/// The topic the registry keeps its state in (Confluent's `kafkastore.topic` default).
pub const SCHEMAS_TOPIC: &str = "_schemas";
