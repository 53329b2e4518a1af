//! The PROTOBUF format: a schema is one .proto file, compiled with protox (pure Rust, no
//! `protoc`) into a prost-reflect descriptor pool.
//!
//! # Input
//! A schema text is either .proto source (proto2 or proto3) or, as confluent-kafka's Python
//! `ProtobufSerializer` registers it, the base64 (standard alphabet, padding optional) of a
//! serialized `google.protobuf.FileDescriptorProto`. A text made only of base64 characters
//! (whitespace aside) is taken for a descriptor (no .proto file is: every declaration needs
//! `;` or `{`); anything else is .proto source. Imports resolve to the schema's dependencies
//! by import path (`Dependency::name`, each itself .proto source or base64), then to the
//! well-known files protox ships
//! (`google/protobuf/timestamp.proto` and the others), which need no reference. The schema
//! file itself is compiled under the name [`ROOT_FILE_NAME`]; a descriptor's own `name` is
//! replaced by it (a dependency's by its import path), as the file's name is not part of the
//! schema.
//!
//! # Canonical text
//! [`canonical`](ProtobufSchema::canonical) prints the compiled file back as .proto source (see
//! `protobuf/canonical.rs`): the same schema as .proto text (whatever its layout and comments)
//! or as a descriptor gives the same text, and that text compiles back to the same descriptor,
//! in particular with top-level and nested messages in the same order (Confluent's message
//! indexes count them). A schema whose canonical text does not compile back to the same text is
//! refused: the registry stores that text and compiles it again later.
//!
//! # Compatibility
//! [`can_read`](ProtobufSchema::can_read) applies Confluent's `ProtobufSchemaDiff` rules; see
//! `protobuf/compat.rs` for the list of what is checked.
//!
//! # Limits
//! The text's size is bounded by the HTTP layer. Decoding a descriptor allocates at most in
//! proportion to its bytes (prost), nesting is bounded by prost's recursion limit (100) for
//! descriptors and by protox's for .proto source, so the recursive walks here are bounded too.
//! prost-reflect panics on a few inconsistencies of hand-made descriptors (seen: an unknown
//! `syntax` value); [`ProtobufSchema::parse`] turns such a panic into an error.
//! Editions (`edition = "2023"`) are refused: the printer and the rules know proto2 and proto3.

mod canonical;
mod compat;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use base64::Engine;
use prost_reflect::prost::Message;
use prost_reflect::prost_types::FileDescriptorProto;
use prost_reflect::{DescriptorPool, FileDescriptor};
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};

use crate::format::{Dependency, SchemaType};

/// The name the schema's own file is compiled under (it shows in error messages).
pub const ROOT_FILE_NAME: &str = "schema.proto";

/// A .proto file that compiled, with everything it imports.
#[derive(Clone, Debug)]
pub struct ProtobufSchema {
    /// The compiled schema file; its pool holds its imports too.
    file: FileDescriptor,
    /// Computed once at parse: the registry asks for it on every registration and lookup.
    canonical: String,
}

impl ProtobufSchema {
    /// Compiles `text` (.proto source or a base64 FileDescriptorProto) with its imports found in
    /// `dependencies` or among the well-known files. The error is protox's, with the file, line
    /// and column when the source gives them.
    pub fn parse(text: &str, dependencies: &[Dependency]) -> Result<ProtobufSchema, String> {
        // prost-reflect panics on a few inconsistencies a hand-made descriptor can have (an
        // error about a name clash labelled with a file not yet in the pool; an option whose
        // bytes do not decode as its declared type): such a schema is an invalid one.
        std::panic::catch_unwind(|| ProtobufSchema::compile(text, dependencies)).unwrap_or_else(
            |_| {
                Err(format!(
                    "{}: the schema is inconsistent (the descriptor library failed on it)",
                    root_name(dependencies)
                ))
            },
        )
    }

    fn compile(text: &str, dependencies: &[Dependency]) -> Result<ProtobufSchema, String> {
        let schema = ProtobufSchema::compile_once(text, dependencies)?;
        // The registry stores the canonical text and compiles it again later: accept a schema
        // only if that text compiles back to itself. A descriptor is not checked as source is
        // (its names need not be identifiers, its defaults need not parse), so this is where a
        // bad one is refused; for source it guards against the printer missing something.
        let printed_back = ProtobufSchema::compile_once(&schema.canonical, dependencies)
            .map(|again| again.canonical == schema.canonical);
        match printed_back {
            Ok(true) => Ok(schema),
            Ok(false) => Err(format!(
                "{}: the schema does not print back as the same .proto file",
                schema.file.name()
            )),
            Err(e) => Err(format!(
                "{}: the schema does not print back as a valid .proto file ({e})",
                schema.file.name()
            )),
        }
    }

    fn compile_once(text: &str, dependencies: &[Dependency]) -> Result<ProtobufSchema, String> {
        let root_name = root_name(dependencies);
        let root = open_schema_file(&root_name, text)?;
        let mut resolver = ChainFileResolver::new();
        resolver.add(SchemaFileResolver {
            root_name: root_name.clone(),
            root,
            dependencies: dependencies
                .iter()
                .map(|d| (d.name.clone(), d.clone()))
                .collect(),
        });
        resolver.add(GoogleFileResolver::new());
        let mut compiler = protox::Compiler::with_file_resolver(resolver);
        compiler
            .open_file(&root_name)
            .map_err(|e| compile_error(&e))?;
        let pool = compiler.descriptor_pool();
        let file = pool
            .get_file_by_name(&root_name)
            .ok_or_else(|| format!("{root_name}: the schema file did not compile"))?;
        check_no_editions(&file)?;
        let canonical = canonical::print(&file);
        Ok(ProtobufSchema { file, canonical })
    }

    /// The schema as .proto source, printed from its descriptor (see the module doc).
    pub fn canonical(&self) -> String {
        self.canonical.clone()
    }

    /// The base64 of the schema's FileDescriptorProto (Confluent's `?format=serialized`).
    pub fn serialized(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(encode_without_source_info(&self.file))
    }

    /// The full names of the file's top-level messages, in declaration order (the order
    /// Confluent's message indexes count in).
    pub fn message_names(&self) -> Vec<String> {
        self.file
            .messages()
            .map(|m| m.full_name().to_string())
            .collect()
    }

    /// A payload written with this schema, after the 5-byte header of the registry's wire
    /// format: Confluent's message indexes (a zig-zag varint count, then that many zig-zag
    /// varint indexes into the file's messages and their nested ones; a count of 0 is the
    /// first message), then the message. As JSON (protobuf's JSON mapping), for display.
    pub fn decode(&self, bytes: &[u8]) -> Result<serde_json::Value, String> {
        let mut rest = bytes;
        let count = zigzag(&mut rest)?;
        let indexes: Vec<i64> = if count == 0 {
            vec![0]
        } else if !(1..=64).contains(&count) {
            return Err(format!("{count} message indexes"));
        } else {
            (0..count)
                .map(|_| zigzag(&mut rest))
                .collect::<Result<_, _>>()?
        };
        let mut message = None::<prost_reflect::MessageDescriptor>;
        for index in indexes {
            let nth = usize::try_from(index).map_err(|_| format!("message index {index}"))?;
            let found = match &message {
                None => self.file.messages().nth(nth),
                Some(parent) => parent.child_messages().nth(nth),
            };
            message = Some(found.ok_or_else(|| format!("no message at index {index}"))?);
        }
        let descriptor = message.ok_or("no message index")?;
        let decoded = prost_reflect::DynamicMessage::decode(descriptor, rest)
            .map_err(|e| format!("not a message of the schema: {e}"))?;
        serde_json::to_value(&decoded).map_err(|e| e.to_string())
    }

    /// The payload of `value` (protobuf's JSON mapping of the file's first message): message
    /// index 0, then the message, as Confluent's serializers write it.
    pub fn encode(&self, value: &serde_json::Value) -> Result<Vec<u8>, String> {
        use prost_reflect::prost::Message;
        let descriptor = self
            .file
            .messages()
            .next()
            .ok_or("the schema declares no message")?;
        let message = prost_reflect::DynamicMessage::deserialize(descriptor, value)
            .map_err(|e| format!("not a message of the schema: {e}"))?;
        let mut out = vec![0u8];
        out.extend(message.encode_to_vec());
        Ok(out)
    }

    /// The compiled file (its pool holds the imported files too).
    pub fn file_descriptor(&self) -> &FileDescriptor {
        &self.file
    }

    /// The pool the file was compiled into: the schema file and all it imports.
    pub fn descriptor_pool(&self) -> &DescriptorPool {
        self.file.parent_pool()
    }

    /// What data written with `writer` has that a reader using `self` cannot read, by
    /// Confluent's rules (see `protobuf/compat.rs`); empty when `self` reads it.
    pub fn can_read(&self, writer: &ProtobufSchema) -> Vec<String> {
        compat::check(&self.file, &writer.file)
    }
}

/// The file's FileDescriptorProto without its source code info (the positions of comments
/// and declarations in the source, which are no part of the schema), custom options kept.
fn encode_without_source_info(file: &FileDescriptor) -> Vec<u8> {
    let encoded = file.encode_to_vec();
    let descriptor =
        DescriptorPool::global().get_message_by_name("google.protobuf.FileDescriptorProto");
    let Some(descriptor) = descriptor else {
        return encoded;
    };
    // As a dynamic message, extension options the global pool does not know stay as unknown
    // fields and are encoded again.
    match prost_reflect::DynamicMessage::decode(descriptor, encoded.as_slice()) {
        Ok(mut message) => {
            message.clear_field_by_name("source_code_info");
            message.encode_to_vec()
        }
        Err(_) => encoded,
    }
}

/// [`ROOT_FILE_NAME`], unless a dependency is imported under that name.
fn root_name(dependencies: &[Dependency]) -> String {
    let mut name = ROOT_FILE_NAME.to_string();
    let mut n = 0;
    while dependencies.iter().any(|d| d.name == name) {
        n += 1;
        name = format!("schema_{n}.proto");
    }
    name
}

/// Whether `text` (without its whitespace) is a base64 FileDescriptorProto rather than .proto
/// source: only base64 characters (a .proto declaration always has a `;` or a `{`).
fn looks_like_base64(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
}

/// `text` as a protox file named `name`: parsed .proto source, or a decoded descriptor whose
/// own name is replaced by `name`.
fn open_schema_file(name: &str, text: &str) -> Result<File, String> {
    // Base64 wrapped over several lines is base64 still.
    let compact: String = text.split_ascii_whitespace().collect();
    if !looks_like_base64(&compact) {
        return File::from_source(name, text).map_err(|e| compile_error(&e));
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let mut bytes = engine.decode(&compact).map_err(|e| {
        format!("{name}: neither .proto source nor a base64 FileDescriptorProto ({e})")
    })?;
    // Check it decodes before touching it, for a clear message.
    if let Err(e) = FileDescriptorProto::decode(bytes.as_slice()) {
        return Err(format!(
            "{name}: neither .proto source nor a base64 FileDescriptorProto ({e})"
        ));
    }
    // Appending field 1 (name) replaces the descriptor's name (the last value of a singular
    // field wins) and keeps every other byte, extension options included.
    FileDescriptorProto {
        name: Some(name.to_string()),
        ..Default::default()
    }
    .encode(&mut bytes)
    .map_err(|e| format!("{name}: {e}"))?;
    File::decode_file_descriptor_proto(bytes.as_slice())
        .map_err(|e| format!("{name}: not a valid FileDescriptorProto ({e})"))
}

/// protox's message with the file, line and column when it has them (its `Debug` form adds
/// them, its `Display` form does not).
fn compile_error(error: &protox::Error) -> String {
    let debug = format!("{error:?}");
    let display = error.to_string();
    let mut message = if debug.contains(&display) {
        debug
    } else {
        format!("{debug}: {display}")
    };
    if let Some(file) = error.file() {
        if !message.contains(file) {
            message = format!("{file}: {message}");
        }
    }
    message
}

fn check_no_editions(file: &FileDescriptor) -> Result<(), String> {
    match file.file_descriptor_proto().syntax.as_deref() {
        None | Some("") | Some("proto2") | Some("proto3") => Ok(()),
        Some(other) => Err(format!(
            "{}: syntax \"{other}\" is not supported (only proto2 and proto3)",
            file.name()
        )),
    }
}

/// Finds the schema file under its root name and every dependency under its import path.
struct SchemaFileResolver {
    root_name: String,
    root: File,
    dependencies: HashMap<String, Dependency>,
}

impl FileResolver for SchemaFileResolver {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        if name == self.root_name {
            return Ok(self.root.clone());
        }
        let Some(dependency) = self.dependencies.get(name) else {
            return Err(protox::Error::file_not_found(name));
        };
        if dependency.schema_type != SchemaType::Protobuf {
            return Err(protox::Error::new(format!(
                "import '{name}' names a {} schema, not a PROTOBUF one",
                dependency.schema_type.name()
            )));
        }
        open_schema_file(name, &dependency.schema).map_err(protox::Error::new)
    }
}

/// A zig-zag varint (as Confluent writes message indexes).
fn zigzag(bytes: &mut &[u8]) -> Result<i64, String> {
    let mut raw: u64 = 0;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes
            .split_first()
            .ok_or_else(|| "the payload ends in its message indexes".to_string())?;
        *bytes = rest;
        raw |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok((raw >> 1) as i64 ^ -((raw & 1) as i64));
        }
    }
    Err("a message index is too long".into())
}
