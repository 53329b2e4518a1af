//! Content types and embedded formats.
//!
//! A v2 content type is `application/vnd.kafka[.<embedded format>].v2+json`; `application/json`
//! is taken too (for produce it means the `json` embedded format). The embedded format says
//! how record keys and values sit in the JSON: `binary` as base64 strings, `json` as JSON
//! values. The schema-registry formats (`avro`, `protobuf`, `jsonschema`) are recognised but
//! not served yet: a request naming one is answered 415, as Confluent's proxy answers a
//! content type it does not take. Each format's (de)serializer is one arm of
//! [`ValueSerializer`] and [`ValueDeserializer`]: that is where they join.

use crate::AdminState;
use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use base64::Engine;
use serde_json::Value;
use sluice_schema::ParsedSchema;
use std::sync::Arc;

use super::RestError;

/// The content type of v2 answers without embedded data.
pub const V2_JSON: &str = "application/vnd.kafka.v2+json";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbeddedFormat {
    Binary,
    Json,
    Avro,
    Protobuf,
    JsonSchema,
}

impl EmbeddedFormat {
    pub fn from_name(name: &str) -> Option<EmbeddedFormat> {
        match name.to_ascii_lowercase().as_str() {
            "binary" => Some(EmbeddedFormat::Binary),
            "json" => Some(EmbeddedFormat::Json),
            "avro" => Some(EmbeddedFormat::Avro),
            "protobuf" => Some(EmbeddedFormat::Protobuf),
            "jsonschema" => Some(EmbeddedFormat::JsonSchema),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            EmbeddedFormat::Binary => "binary",
            EmbeddedFormat::Json => "json",
            EmbeddedFormat::Avro => "avro",
            EmbeddedFormat::Protobuf => "protobuf",
            EmbeddedFormat::JsonSchema => "jsonschema",
        }
    }

    /// The v2 content type of data in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            EmbeddedFormat::Binary => "application/vnd.kafka.binary.v2+json",
            EmbeddedFormat::Json => "application/vnd.kafka.json.v2+json",
            EmbeddedFormat::Avro => "application/vnd.kafka.avro.v2+json",
            EmbeddedFormat::Protobuf => "application/vnd.kafka.protobuf.v2+json",
            EmbeddedFormat::JsonSchema => "application/vnd.kafka.jsonschema.v2+json",
        }
    }

    /// The registry's schema type of a schema-registry format.
    pub fn schema_type(self) -> Option<sluice_schema::SchemaType> {
        match self {
            EmbeddedFormat::Avro => Some(sluice_schema::SchemaType::Avro),
            EmbeddedFormat::Protobuf => Some(sluice_schema::SchemaType::Protobuf),
            EmbeddedFormat::JsonSchema => Some(sluice_schema::SchemaType::Json),
            EmbeddedFormat::Binary | EmbeddedFormat::Json => None,
        }
    }
}

/// What one media type names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Media {
    /// `application/json`.
    Json,
    /// `application/vnd.kafka.v2+json`: v2, no embedded data.
    V2,
    /// `application/vnd.kafka.<format>.v2+json`.
    Embedded(EmbeddedFormat),
    /// `*/*`, `application/*`.
    Any,
}

fn media(text: &str) -> Option<Media> {
    let essence = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => return Some(Media::Json),
        "application/vnd.kafka.v2+json" | "application/vnd.kafka+json" => return Some(Media::V2),
        "*/*" | "application/*" => return Some(Media::Any),
        _ => {}
    }
    let rest = essence.strip_prefix("application/vnd.kafka.")?;
    let format = rest.strip_suffix(".v2+json")?;
    EmbeddedFormat::from_name(format).map(Media::Embedded)
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("?"))
        .filter(|v| !v.trim().is_empty())
}

/// The embedded format of a produce request (`application/vnd.kafka.binary.v2+json`,
/// `...json.v2+json`, or `application/json` for json); anything else is 415.
pub fn produce_format(headers: &HeaderMap) -> Result<EmbeddedFormat, RestError> {
    let given = content_type(headers);
    let format = match given.and_then(media) {
        Some(Media::Embedded(format)) => format,
        Some(Media::Json) => EmbeddedFormat::Json,
        _ => {
            return Err(RestError::unsupported_media_type(format!(
            "HTTP 415 Unsupported Media Type: produce takes application/vnd.kafka.binary.v2+json \
                 or application/vnd.kafka.json.v2+json (or application/json), not '{}'",
            given.unwrap_or("")
        )))
        }
    };
    Ok(format)
}

/// Checks the content type of a request whose body is plain JSON (consumer and v3
/// requests): none, `application/json` or `application/vnd.kafka.v2+json`.
pub fn plain_body(headers: &HeaderMap) -> Result<(), RestError> {
    match content_type(headers) {
        None => Ok(()),
        Some(given) => match media(given) {
            Some(Media::Json | Media::V2) => Ok(()),
            _ => Err(RestError::unsupported_media_type(format!(
                "HTTP 415 Unsupported Media Type: expected application/vnd.kafka.v2+json or \
                 application/json, not '{given}'"
            ))),
        },
    }
}

/// Whether the request's `Accept` takes records in `format` (none, `*/*`, `application/json`
/// and `application/vnd.kafka.v2+json` take any); a 406 (40601) otherwise.
pub fn accepts(headers: &HeaderMap, format: EmbeddedFormat) -> Result<(), RestError> {
    let Some(accept) = headers.get(header::ACCEPT) else {
        return Ok(());
    };
    let accept = accept.to_str().unwrap_or("");
    let mut named = Vec::new();
    for item in accept.split(',').filter(|i| !i.trim().is_empty()) {
        match media(item) {
            Some(Media::Embedded(f)) if f == format => return Ok(()),
            Some(Media::Embedded(f)) => named.push(f.name()),
            Some(_) => return Ok(()),
            None => named.push("?"),
        }
    }
    if named.is_empty() {
        return Ok(());
    }
    Err(RestError::format_mismatch(format!(
        "this instance reads {} and the request accepts {accept}",
        format.name()
    )))
}

/// The schema fields of a v2 produce request (`key_schema`, `key_schema_id`, `value_schema`,
/// `value_schema_id`) and its topic: what the schema-registry formats will read (subject
/// `<topic>-key` / `<topic>-value`); binary and json ignore them.
#[derive(Debug, Default, Clone)]
pub struct SchemaRefs {
    pub topic: String,
    pub key_schema: Option<String>,
    pub key_schema_id: Option<i64>,
    pub value_schema: Option<String>,
    pub value_schema_id: Option<i64>,
}

impl SchemaRefs {
    /// The schema fields of a produce body (absent or null ones are `None`).
    pub fn from_body(topic: &str, body: &Value) -> Result<SchemaRefs, RestError> {
        let text = |key: &str| -> Result<Option<String>, RestError> {
            match body.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(RestError::unprocessable(format!(
                    "\"{key}\" must be a string"
                ))),
            }
        };
        let id = |key: &str| -> Result<Option<i64>, RestError> {
            match body.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v.as_i64().map(Some).ok_or_else(|| {
                    RestError::unprocessable(format!("\"{key}\" must be a schema id"))
                }),
            }
        };
        Ok(SchemaRefs {
            topic: topic.to_string(),
            key_schema: text("key_schema")?,
            key_schema_id: id("key_schema_id")?,
            value_schema: text("value_schema")?,
            value_schema_id: id("value_schema_id")?,
        })
    }
}

/// Turns a record key or value given in a produce request into the record's bytes.
///
/// A schema-registry format joins as one more variant, built in [`ValueSerializer::for_format`]
/// from the request's [`SchemaRefs`] (looking the schema up or registering it), serializing in
/// [`ValueSerializer::serialize`] and naming its ids in [`ValueSerializer::schema_ids`].
pub enum ValueSerializer {
    /// A base64 string.
    Binary,
    /// Any JSON value, written as its compact JSON text.
    Json,
    /// Avro, Protobuf or JSON Schema: written with the key's and the value's schema (id and
    /// parsed schema) in the registry's wire format (magic byte 0, the schema id, the
    /// payload).
    Registry {
        key: Option<(i32, Arc<ParsedSchema>)>,
        value: Option<(i32, Arc<ParsedSchema>)>,
    },
}

/// A schema a produce request names for its keys or values: registered under
/// `<topic>-key` / `<topic>-value` when given as text, looked up when given by id.
async fn side_schema(
    admin: &AdminState,
    authorization: Option<&HeaderValue>,
    format: EmbeddedFormat,
    subject: String,
    text: Option<&String>,
    id: Option<i64>,
) -> Result<Option<(i32, Arc<ParsedSchema>)>, RestError> {
    let schema_type = format.schema_type().unwrap_or_default();
    let id = match (text, id) {
        (Some(text), _) => {
            let request = sluice_schema::SchemaRequest {
                schema_type,
                schema: text.clone(),
                references: Vec::new(),
                id: None,
                version: None,
            };
            crate::schema_registry::register(admin, &subject, &request, authorization)
                .await
                .map_err(registry_error)?
        }
        (None, Some(id)) => i32::try_from(id).map_err(|_| {
            RestError::new(
                40403,
                StatusCode::NOT_FOUND,
                format!("Schema {id} not found"),
            )
        })?,
        (None, None) => return Ok(None),
    };
    let parsed = crate::schema_registry::parsed_schema(admin, id)
        .await
        .map_err(registry_error)?;
    if parsed.schema_type() != schema_type {
        return Err(RestError::new(
            42205,
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "schema {id} is a {} schema, not {}",
                parsed.schema_type().name(),
                schema_type.name()
            ),
        ));
    }
    Ok(Some((id, parsed)))
}

/// A registry error as the REST proxy answers it (Confluent's REST proxy passes the
/// registry's code on for schema errors).
fn registry_error(e: sluice_schema::RegistryError) -> RestError {
    let code = e.error_code();
    let code = match code {
        42201 => 42205,
        c => c,
    };
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    RestError::new(code.max(0) as u32, status, e.to_string())
}

impl ValueSerializer {
    /// The serializer of `format`; for a schema-registry format, the request's schemas are
    /// registered (as the caller, `authorization`) or looked up first.
    pub async fn for_format(
        format: EmbeddedFormat,
        schemas: &SchemaRefs,
        admin: &AdminState,
        authorization: Option<&HeaderValue>,
    ) -> Result<ValueSerializer, RestError> {
        match format {
            EmbeddedFormat::Binary => Ok(ValueSerializer::Binary),
            EmbeddedFormat::Json => Ok(ValueSerializer::Json),
            EmbeddedFormat::Avro | EmbeddedFormat::Protobuf | EmbeddedFormat::JsonSchema => {
                let topic = &schemas.topic;
                let key = side_schema(
                    admin,
                    authorization,
                    format,
                    format!("{topic}-key"),
                    schemas.key_schema.as_ref(),
                    schemas.key_schema_id,
                )
                .await?;
                let value = side_schema(
                    admin,
                    authorization,
                    format,
                    format!("{topic}-value"),
                    schemas.value_schema.as_ref(),
                    schemas.value_schema_id,
                )
                .await?;
                Ok(ValueSerializer::Registry { key, value })
            }
        }
    }

    /// The `key_schema_id` and `value_schema_id` a produce answer names (none without a
    /// schema).
    pub fn schema_ids(&self) -> (Option<i64>, Option<i64>) {
        match self {
            ValueSerializer::Binary | ValueSerializer::Json => (None, None),
            ValueSerializer::Registry { key, value } => (
                key.as_ref().map(|(id, _)| i64::from(*id)),
                value.as_ref().map(|(id, _)| i64::from(*id)),
            ),
        }
    }

    /// The bytes of a record's key (`is_key`) or value (`None` for an absent or null one: no
    /// key, or a tombstone). `what` names it in errors (`records[3].value`).
    pub fn serialize(
        &self,
        is_key: bool,
        what: &str,
        value: Option<&Value>,
    ) -> Result<Option<Bytes>, RestError> {
        let value = match value {
            None | Some(Value::Null) => return Ok(None),
            Some(value) => value,
        };
        match self {
            ValueSerializer::Registry {
                key,
                value: value_schema,
            } => {
                let (schema, missing) = if is_key {
                    (
                        key,
                        (
                            42201,
                            "Request includes keys but does not include key schema",
                        ),
                    )
                } else {
                    (
                        value_schema,
                        (
                            42202,
                            "Request includes values but does not include value schema",
                        ),
                    )
                };
                let Some((id, schema)) = schema else {
                    return Err(RestError::new(
                        missing.0,
                        StatusCode::UNPROCESSABLE_ENTITY,
                        missing.1,
                    ));
                };
                let payload = schema.encode(value).map_err(|e| {
                    RestError::new(
                        42203,
                        StatusCode::UNPROCESSABLE_ENTITY,
                        format!("Conversion of JSON to the schema failed for {what}: {e}"),
                    )
                })?;
                let mut out = Vec::with_capacity(payload.len() + 5);
                out.push(0);
                out.extend(id.to_be_bytes());
                out.extend(payload);
                Ok(Some(Bytes::from(out)))
            }
            ValueSerializer::Binary => {
                let Value::String(text) = value else {
                    return Err(RestError::unprocessable(format!(
                        "{what}: a binary key or value is a base64 string"
                    )));
                };
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map(|b| Some(Bytes::from(b)))
                    .map_err(|e| RestError::unprocessable(format!("{what} is not base64: {e}")))
            }
            ValueSerializer::Json => serde_json::to_vec(value)
                .map(|b| Some(Bytes::from(b)))
                .map_err(|e| RestError::unprocessable(format!("{what}: {e}"))),
        }
    }
}

/// Turns a consumed record's key or value into the JSON a consumer instance answers.
pub enum ValueDeserializer {
    Binary,
    Json,
    /// Avro, Protobuf or JSON Schema: decoded with the schema the record's id names in this
    /// node's registry ([`ValueDeserializer::prepare`] fetches them).
    Registry {
        admin: Arc<AdminState>,
        schemas: std::collections::HashMap<i32, Arc<ParsedSchema>>,
    },
}

/// Schemas a consumer instance keeps (cleared when full).
const INSTANCE_SCHEMAS_MAX: usize = 256;

impl ValueDeserializer {
    pub fn for_format(
        format: EmbeddedFormat,
        admin: Arc<AdminState>,
    ) -> Result<ValueDeserializer, RestError> {
        match format {
            EmbeddedFormat::Binary => Ok(ValueDeserializer::Binary),
            EmbeddedFormat::Json => Ok(ValueDeserializer::Json),
            EmbeddedFormat::Avro | EmbeddedFormat::Protobuf | EmbeddedFormat::JsonSchema => {
                Ok(ValueDeserializer::Registry {
                    admin,
                    schemas: Default::default(),
                })
            }
        }
    }

    /// Fetches the schemas of the ids `payloads` carry that this instance does not have yet.
    pub async fn prepare<'a>(
        &mut self,
        payloads: impl Iterator<Item = Option<&'a Bytes>>,
    ) -> Result<(), RestError> {
        let ValueDeserializer::Registry { admin, schemas } = self else {
            return Ok(());
        };
        let mut wanted: Vec<i32> = payloads
            .flatten()
            .filter_map(|b| match b.as_ref() {
                [0, a, b, c, d, ..] => Some(i32::from_be_bytes([*a, *b, *c, *d])),
                _ => None,
            })
            .filter(|id| !schemas.contains_key(id))
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        for id in wanted {
            match crate::schema_registry::parsed_schema(admin, id).await {
                Ok(parsed) => {
                    if schemas.len() >= INSTANCE_SCHEMAS_MAX {
                        schemas.clear();
                    }
                    schemas.insert(id, parsed);
                }
                // Left out: the record answers the error.
                Err(sluice_schema::RegistryError::SchemaNotFound(_)) => {}
                Err(e) => return Err(registry_error(e)),
            }
        }
        Ok(())
    }

    /// `what` names the record in errors (`topic 'a' partition 0 offset 7`).
    pub fn deserialize(&self, what: &str, bytes: Option<&Bytes>) -> Result<Value, RestError> {
        let Some(bytes) = bytes else {
            return Ok(Value::Null);
        };
        match self {
            ValueDeserializer::Binary => Ok(Value::String(
                base64::engine::general_purpose::STANDARD.encode(bytes),
            )),
            ValueDeserializer::Registry { schemas, .. } => {
                let undecodable = |why: String| {
                    RestError::new(
                        50002,
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                        format!("Kafka error: the record at {what} cannot be deserialized: {why}; read it with a binary consumer instance"),
                    )
                };
                let [0, a, b, c, d, payload @ ..] = bytes.as_ref() else {
                    return Err(undecodable(
                        "it is not in the schema registry's wire format".into(),
                    ));
                };
                let id = i32::from_be_bytes([*a, *b, *c, *d]);
                let schema = schemas
                    .get(&id)
                    .ok_or_else(|| undecodable(format!("schema {id} is not registered")))?;
                schema.decode(payload).map_err(undecodable)
            }
            ValueDeserializer::Json => serde_json::from_slice(bytes).map_err(|e| {
                RestError::new(
                    50002,
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    format!("Kafka error: the record at {what} is not JSON ({e}); read it with a binary consumer instance"),
                )
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn produce_content_types() {
        let f = |v: &str| produce_format(&headers(header::CONTENT_TYPE, v)).map_err(|e| e.code);
        assert_eq!(
            f("application/vnd.kafka.binary.v2+json"),
            Ok(EmbeddedFormat::Binary)
        );
        assert_eq!(
            f("application/vnd.kafka.json.v2+json; charset=utf-8"),
            Ok(EmbeddedFormat::Json)
        );
        assert_eq!(f("application/json"), Ok(EmbeddedFormat::Json));
        assert_eq!(
            f("application/vnd.kafka.avro.v2+json"),
            Ok(EmbeddedFormat::Avro)
        );
        assert_eq!(f("application/vnd.kafka.v2+json"), Err(415));
        assert_eq!(f("text/plain"), Err(415));
        assert_eq!(
            produce_format(&HeaderMap::new()).map_err(|e| e.code),
            Err(415)
        );
    }

    #[test]
    fn accept_headers() {
        let a = |v: &str| {
            accepts(&headers(header::ACCEPT, v), EmbeddedFormat::Json).map_err(|e| e.code)
        };
        assert_eq!(a("application/vnd.kafka.json.v2+json"), Ok(()));
        assert_eq!(a("*/*"), Ok(()));
        assert_eq!(a("application/vnd.kafka.binary.v2+json"), Err(40601));
    }

    #[test]
    fn serializers() {
        let b = ValueSerializer::Binary;
        assert_eq!(
            b.serialize(false, "v", Some(&Value::String("aGk=".into())))
                .unwrap(),
            Some(Bytes::from_static(b"hi"))
        );
        assert_eq!(b.serialize(false, "v", Some(&Value::Null)).unwrap(), None);
        assert_eq!(
            b.serialize(false, "v", Some(&Value::String("!!".into())))
                .unwrap_err()
                .code,
            42201
        );
        assert_eq!(
            b.serialize(false, "v", Some(&serde_json::json!(1)))
                .unwrap_err()
                .code,
            42201
        );
        let j = ValueSerializer::Json;
        assert_eq!(
            j.serialize(false, "v", Some(&serde_json::json!({"a": 1})))
                .unwrap(),
            Some(Bytes::from_static(b"{\"a\":1}"))
        );
        let d = ValueDeserializer::Json;
        assert_eq!(
            d.deserialize("r", Some(&Bytes::from_static(b"[1]")))
                .unwrap(),
            serde_json::json!([1])
        );
        assert_eq!(
            d.deserialize("r", Some(&Bytes::from_static(b"x")))
                .unwrap_err()
                .code,
            50002
        );
    }
}
