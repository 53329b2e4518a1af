//! sluice-schema: the schema registry's formats and state, free of I/O.
//!
//! # Layout
//! - `format`: [`SchemaType`], [`ParsedSchema`] and [`parse`], one face over the formats:
//!   `avro`, `protobuf` and `json_schema` (JSON Schema), each parsing, canonicalising and
//!   checking whether one schema reads data written with another.
#![forbid(unsafe_code)]

pub mod avro;
pub mod format;
pub mod json_schema;
pub mod protobuf;

pub use format::{parse, Dependency, ParsedSchema, SchemaReference, SchemaType};
