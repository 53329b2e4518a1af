//! The schema formats a registry holds (Avro, Protobuf, JSON Schema) behind one type:
//! [`parse`] checks a schema text (with the schemas its references name) and gives a
//! [`ParsedSchema`], which knows its canonical text (what is stored, and what makes two
//! registrations of one schema the same schema) and whether it can read data written with
//! another schema ([`ParsedSchema::can_read`], the building block of every compatibility level).

use serde::{Deserialize, Serialize};

use crate::{avro, json_schema, protobuf};

/// A schema's format, named as Confluent's API names it (`schemaType`); AVRO when a request
/// names none.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub enum SchemaType {
    #[default]
    #[serde(rename = "AVRO")]
    Avro,
    #[serde(rename = "PROTOBUF")]
    Protobuf,
    #[serde(rename = "JSON")]
    Json,
}

impl SchemaType {
    /// Every format, in the order `/schemas/types` lists them.
    pub const ALL: [SchemaType; 3] = [SchemaType::Json, SchemaType::Protobuf, SchemaType::Avro];

    /// `AVRO`, `PROTOBUF` or `JSON` (any case); `None` for anything else.
    pub fn from_name(name: &str) -> Option<SchemaType> {
        match name.to_ascii_uppercase().as_str() {
            "AVRO" => Some(SchemaType::Avro),
            "PROTOBUF" => Some(SchemaType::Protobuf),
            "JSON" => Some(SchemaType::Json),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SchemaType::Avro => "AVRO",
            SchemaType::Protobuf => "PROTOBUF",
            SchemaType::Json => "JSON",
        }
    }
}

/// A reference of a schema to another registered schema (Confluent's `references` entry).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SchemaReference {
    /// How the referring schema names it: an Avro full type name, a .proto import path, a JSON
    /// Schema `$ref` URL.
    pub name: String,
    pub subject: String,
    pub version: i32,
}

/// A referenced schema's text, for the parser of the schema that refers to it. A parser gets
/// every schema reachable through references (references of references too), each under the
/// name its referrer used, the deepest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    pub name: String,
    pub schema_type: SchemaType,
    pub schema: String,
}

/// A schema that parsed: valid for its format, its references resolved.
#[derive(Clone, Debug)]
pub enum ParsedSchema {
    Avro(avro::AvroSchema),
    Protobuf(protobuf::ProtobufSchema),
    Json(json_schema::JsonSchema),
}

/// Parses `text` as a schema of `schema_type`, resolving the names it uses in `dependencies`.
/// The error says what is wrong, for the 42201 (invalid schema) answer.
pub fn parse(
    schema_type: SchemaType,
    text: &str,
    dependencies: &[Dependency],
) -> Result<ParsedSchema, String> {
    match schema_type {
        SchemaType::Avro => avro::AvroSchema::parse(text, dependencies).map(ParsedSchema::Avro),
        SchemaType::Protobuf => {
            protobuf::ProtobufSchema::parse(text, dependencies).map(ParsedSchema::Protobuf)
        }
        SchemaType::Json => {
            json_schema::JsonSchema::parse(text, dependencies).map(ParsedSchema::Json)
        }
    }
}

impl ParsedSchema {
    pub fn schema_type(&self) -> SchemaType {
        match self {
            ParsedSchema::Avro(_) => SchemaType::Avro,
            ParsedSchema::Protobuf(_) => SchemaType::Protobuf,
            ParsedSchema::Json(_) => SchemaType::Json,
        }
    }

    /// The text the registry stores and serves for this schema; two texts of one schema that
    /// differ only in layout have the same canonical text, so registering either finds the
    /// other's id.
    pub fn canonical(&self) -> String {
        match self {
            ParsedSchema::Avro(s) => s.canonical(),
            ParsedSchema::Protobuf(s) => s.canonical(),
            ParsedSchema::Json(s) => s.canonical(),
        }
    }

    /// A record's key or value written with this schema, after the 5-byte header of the
    /// registry's wire format, as JSON (for display).
    pub fn decode(&self, payload: &[u8]) -> Result<serde_json::Value, String> {
        match self {
            ParsedSchema::Avro(s) => s.decode(payload),
            ParsedSchema::Protobuf(s) => s.decode(payload),
            ParsedSchema::Json(s) => s.decode(payload),
        }
    }

    /// The payload (what follows the registry's 5-byte header) of `value` given as JSON: Avro
    /// binary (unions given as the branch's value or as `{"<branch type>": value}`), a
    /// Protobuf message of the schema's first message type, or the JSON itself once it is
    /// valid for the JSON Schema.
    pub fn encode(&self, value: &serde_json::Value) -> Result<Vec<u8>, String> {
        match self {
            ParsedSchema::Avro(s) => s.encode(value),
            ParsedSchema::Protobuf(s) => s.encode(value),
            ParsedSchema::Json(s) => s.encode(value),
        }
    }

    /// What data written with `writer` misses for a reader using `self` (Confluent's
    /// compatibility rules for the format); empty when `self` reads it. Schemas of different
    /// formats never read each other.
    pub fn can_read(&self, writer: &ParsedSchema) -> Vec<String> {
        match (self, writer) {
            (ParsedSchema::Avro(r), ParsedSchema::Avro(w)) => r.can_read(w),
            (ParsedSchema::Protobuf(r), ParsedSchema::Protobuf(w)) => r.can_read(w),
            (ParsedSchema::Json(r), ParsedSchema::Json(w)) => r.can_read(w),
            _ => vec![format!(
                "the schema type changed from {} to {}",
                writer.schema_type().name(),
                self.schema_type().name()
            )],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avro_payloads_decode_to_json() {
        let schema = parse(
            SchemaType::Avro,
            r#"{"type":"record","name":"U","fields":[{"name":"name","type":"string"},
                {"name":"age","type":"int"},{"name":"tags","type":{"type":"array","items":"string"}},
                {"name":"nick","type":["null","string"]},
                {"name":"kind","type":{"type":"enum","name":"K","symbols":["A","B"]}}]}"#,
            &[],
        )
        .unwrap();
        // "ada", 36, ["x"], null branch 0, enum B.
        let bytes = [6, b'a', b'd', b'a', 72, 2, 2, b'x', 0, 0, 2];
        assert_eq!(
            schema.decode(&bytes).unwrap(),
            serde_json::json!({"name":"ada","age":36,"tags":["x"],"nick":null,"kind":"B"})
        );
        // Short, long, and a union branch that does not exist.
        for bad in [
            &bytes[..4],
            &[6, b'a', b'd', b'a', 72, 2, 2, b'x', 0, 0, 2, 9][..],
            &[0, 72, 0, 6, 0],
        ] {
            assert!(schema.decode(bad).is_err(), "{bad:?}");
        }
        // A length larger than what is left is refused before anything is allocated.
        assert!(schema.decode(&[0xfe, 0xff, 0xff, 0xff, 0x0f]).is_err());
    }

    #[test]
    fn protobuf_payloads_decode_with_message_indexes() {
        use prost_reflect::prost::Message;
        let schema = parse(
            SchemaType::Protobuf,
            "syntax = \"proto3\"; package p; message A { int64 id = 1; } message B { string s = 1; message C { bool ok = 1; } }",
            &[],
        )
        .unwrap();
        let ParsedSchema::Protobuf(proto) = &schema else {
            panic!("a protobuf schema");
        };
        let pool = proto.descriptor_pool();
        let mut c = prost_reflect::DynamicMessage::new(pool.get_message_by_name("p.B.C").unwrap());
        c.set_field_by_name("ok", prost_reflect::Value::Bool(true));
        // Indexes [1, 0] (B, then its first nested message C), zig-zag encoded.
        let mut payload = vec![4, 2, 0];
        payload.extend(c.encode_to_vec());
        assert_eq!(
            schema.decode(&payload).unwrap(),
            serde_json::json!({"ok": true})
        );
        let mut a = prost_reflect::DynamicMessage::new(pool.get_message_by_name("p.A").unwrap());
        a.set_field_by_name("id", prost_reflect::Value::I64(7));
        let mut payload = vec![0];
        payload.extend(a.encode_to_vec());
        assert_eq!(
            schema.decode(&payload).unwrap(),
            serde_json::json!({"id": "7"})
        );
        assert!(schema.decode(&[2, 18]).is_err(), "no message 9");
        assert!(schema.decode(&[]).is_err());
    }

    #[test]
    fn json_payloads_are_their_json() {
        let schema = parse(SchemaType::Json, r#"{"type":"object"}"#, &[]).unwrap();
        assert_eq!(
            schema.decode(br#"{"a":1}"#).unwrap(),
            serde_json::json!({"a": 1})
        );
        assert!(schema.decode(b"{nope").is_err());
    }
}

#[cfg(test)]
mod encode_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn avro_values_encode_and_decode_back() {
        let schema = parse(
            SchemaType::Avro,
            r#"{"type":"record","name":"U","namespace":"n","fields":[{"name":"name","type":"string"},
                {"name":"age","type":"int"},{"name":"tags","type":{"type":"array","items":"string"}},
                {"name":"nick","type":["null","string"]},{"name":"m","type":{"type":"map","values":"long"}},
                {"name":"kind","type":{"type":"enum","name":"K","symbols":["A","B"]}}]}"#,
            &[],
        )
        .unwrap();
        let value =
            json!({"name":"ada","age":36,"tags":["x","y"],"nick":"a","m":{"k":-5},"kind":"B"});
        let bytes = schema.encode(&value).unwrap();
        assert_eq!(schema.decode(&bytes).unwrap(), value);
        // Avro's JSON encoding of a union branch, and an absent nullable field.
        let tagged =
            json!({"name":"b","age":1,"tags":[],"nick":{"string":"bee"},"m":{},"kind":"A"});
        let back = schema.decode(&schema.encode(&tagged).unwrap()).unwrap();
        assert_eq!(back["nick"], json!("bee"));
        let absent = json!({"name":"b","age":1,"tags":[],"m":{},"kind":"A"});
        assert_eq!(
            schema.decode(&schema.encode(&absent).unwrap()).unwrap()["nick"],
            json!(null)
        );
        for bad in [
            json!({"name":1,"age":1,"tags":[],"m":{},"kind":"A"}),
            json!({"name":"x","age":3_000_000_000_i64,"tags":[],"m":{},"kind":"A"}),
            json!({"name":"x","age":1,"tags":[],"m":{},"kind":"C"}),
            json!({"age":1,"tags":[],"m":{},"kind":"A"}),
            json!("not a record"),
        ] {
            assert!(schema.encode(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn protobuf_and_json_schema_values_encode() {
        let proto = parse(
            SchemaType::Protobuf,
            "syntax = \"proto3\"; message O { int64 id = 1; string item = 2; }",
            &[],
        )
        .unwrap();
        let bytes = proto.encode(&json!({"id": "5", "item": "pen"})).unwrap();
        assert_eq!(bytes[0], 0, "message index 0");
        assert_eq!(
            proto.decode(&bytes).unwrap(),
            json!({"id": "5", "item": "pen"})
        );
        assert!(proto.encode(&json!({"nope": 1})).is_err());
        let js = parse(
            SchemaType::Json,
            r#"{"type":"object","properties":{"t":{"type":"number"}},"required":["t"]}"#,
            &[],
        )
        .unwrap();
        assert_eq!(js.encode(&json!({"t": 1.5})).unwrap(), br#"{"t":1.5}"#);
        assert!(js.encode(&json!({"t": "warm"})).is_err());
        assert!(js.encode(&json!({})).is_err());
    }
}
