//! The records of the `_schemas` topic, in the layout Confluent's Schema Registry uses, so a
//! topic written by either can be read by the other.
//!
//! Keys and values are JSON. Keys (`magic` is 1 for schemas, 0 otherwise):
//! - `{"keytype":"SCHEMA","subject":S,"version":V,"magic":1}`: one version of a subject. Value
//!   `{"subject":S,"version":V,"id":ID,"schemaType":T,"references":[...],"schema":TEXT,
//!   "deleted":BOOL}` (`schemaType` absent for AVRO, `references` absent when none); a null
//!   value (tombstone) deletes the version permanently.
//! - `{"keytype":"CONFIG","subject":S|null,"magic":0}`: the compatibility level of a subject
//!   (null: the global level). Value `{"compatibilityLevel":LEVEL}`; a tombstone removes it.
//! - `{"keytype":"MODE","subject":S|null,"magic":0}`: value `{"mode":MODE}`; tombstone removes.
//! - `{"keytype":"DELETE_SUBJECT","subject":S,"magic":0}`: value `{"subject":S,"version":V}`,
//!   every version up to V soft-deleted (read for Confluent-written topics; Sluice writes each
//!   version's record with `deleted: true` instead, which compaction keeps).
//! - `{"keytype":"CLEAR_SUBJECT",...}` and `{"keytype":"NOOP",...}`: nothing to apply.

use serde::{Deserialize, Serialize};

use crate::format::{SchemaReference, SchemaType};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SchemasKey {
    Schema {
        subject: String,
        version: i32,
    },
    Config {
        subject: Option<String>,
    },
    Mode {
        subject: Option<String>,
    },
    DeleteSubject {
        subject: String,
    },
    /// NOOP, CLEAR_SUBJECT and key types of later registries: nothing to apply.
    Ignored,
}

#[derive(Serialize, Deserialize)]
struct RawKey {
    keytype: String,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<i32>,
    magic: i32,
}

impl SchemasKey {
    pub fn encode(&self) -> Vec<u8> {
        let raw = match self {
            SchemasKey::Schema { subject, version } => RawKey {
                keytype: "SCHEMA".into(),
                subject: Some(subject.clone()),
                version: Some(*version),
                magic: 1,
            },
            SchemasKey::Config { subject } => RawKey {
                keytype: "CONFIG".into(),
                subject: subject.clone(),
                version: None,
                magic: 0,
            },
            SchemasKey::Mode { subject } => RawKey {
                keytype: "MODE".into(),
                subject: subject.clone(),
                version: None,
                magic: 0,
            },
            SchemasKey::DeleteSubject { subject } => RawKey {
                keytype: "DELETE_SUBJECT".into(),
                subject: Some(subject.clone()),
                version: None,
                magic: 0,
            },
            SchemasKey::Ignored => RawKey {
                keytype: "NOOP".into(),
                subject: None,
                version: None,
                magic: 0,
            },
        };
        serde_json::to_vec(&raw).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<SchemasKey, String> {
        let raw: RawKey =
            serde_json::from_slice(bytes).map_err(|e| format!("unreadable _schemas key: {e}"))?;
        let subject = |raw: RawKey| {
            raw.subject
                .ok_or_else(|| format!("_schemas {} key without a subject", raw.keytype))
        };
        Ok(match raw.keytype.as_str() {
            "SCHEMA" => {
                let version = raw
                    .version
                    .ok_or_else(|| "_schemas SCHEMA key without a version".to_string())?;
                SchemasKey::Schema {
                    subject: subject(raw)?,
                    version,
                }
            }
            "CONFIG" => SchemasKey::Config {
                subject: raw.subject,
            },
            "MODE" => SchemasKey::Mode {
                subject: raw.subject,
            },
            "DELETE_SUBJECT" => SchemasKey::DeleteSubject {
                subject: subject(raw)?,
            },
            _ => SchemasKey::Ignored,
        })
    }
}

/// The value of a SCHEMA record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaValue {
    pub subject: String,
    pub version: i32,
    pub id: i32,
    #[serde(rename = "schemaType", default, skip_serializing_if = "is_avro")]
    pub schema_type: SchemaType,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<SchemaReference>,
    pub schema: String,
    #[serde(default)]
    pub deleted: bool,
}

fn is_avro(t: &SchemaType) -> bool {
    *t == SchemaType::Avro
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigValue {
    #[serde(rename = "compatibilityLevel")]
    pub compatibility_level: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModeValue {
    pub mode: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteSubjectValue {
    pub subject: String,
    pub version: i32,
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("unreadable _schemas value: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_in_confluents_layout() {
        let key = SchemasKey::Schema {
            subject: "orders-value".into(),
            version: 3,
        };
        let bytes = key.encode();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"keytype":"SCHEMA","subject":"orders-value","version":3,"magic":1}"#
        );
        assert_eq!(SchemasKey::decode(&bytes).unwrap(), key);
        let global = SchemasKey::Config { subject: None };
        assert_eq!(
            std::str::from_utf8(&global.encode()).unwrap(),
            r#"{"keytype":"CONFIG","subject":null,"magic":0}"#
        );
        assert_eq!(SchemasKey::decode(&global.encode()).unwrap(), global);
        assert_eq!(
            SchemasKey::decode(br#"{"keytype":"NOOP","magic":0}"#).unwrap(),
            SchemasKey::Ignored
        );
        assert!(SchemasKey::decode(b"not json").is_err());
        assert!(SchemasKey::decode(br#"{"keytype":"SCHEMA","magic":1}"#).is_err());
    }

    #[test]
    fn schema_values_omit_avro_type_and_empty_references() {
        let v = SchemaValue {
            subject: "s".into(),
            version: 1,
            id: 7,
            schema_type: SchemaType::Avro,
            references: vec![],
            schema: "\"string\"".into(),
            deleted: false,
        };
        let text = String::from_utf8(encode(&v)).unwrap();
        assert!(!text.contains("schemaType") && !text.contains("references"));
        assert_eq!(decode::<SchemaValue>(text.as_bytes()).unwrap(), v);
        let p: SchemaValue =
            decode(br#"{"subject":"s","version":2,"id":8,"schemaType":"PROTOBUF","schema":"x"}"#)
                .unwrap();
        assert_eq!(p.schema_type, SchemaType::Protobuf);
        assert!(!p.deleted);
    }
}
