//! The registry's endpoints (Confluent's Schema Registry API) and what each runs: reads
//! against the registry's state, writes as a [`WriteRequest`] for the writer and the answer
//! made from its result.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};
use sluice_schema::{
    CompatibilityLevel, Mode, RegistryError, SchemaReference, SchemaRegistry, SchemaRequest,
    SchemaType, StoredSchema, SubjectVersion, VersionSpec, WriteRequest, WriteResult,
};

use super::{ok, plain_error, Answer, Call};

pub(crate) type LocalFn = fn(&Call) -> Result<Answer, RegistryError>;
pub(crate) type ReadFn = fn(&SchemaRegistry, &Call) -> Result<Answer, RegistryError>;
pub(crate) type Formatter = fn(WriteResult) -> Answer;
pub(crate) type WriteFn = fn(&Call) -> Result<(WriteRequest, Formatter), RegistryError>;

pub(crate) enum Endpoint {
    /// Needs no registry state.
    Local(LocalFn),
    Read(ReadFn),
    Write(WriteFn),
}

/// The endpoint of `call`; a 404 or 405 answer when there is none.
pub(crate) fn find(call: &Call) -> Result<Endpoint, Response> {
    use Endpoint::{Local, Read, Write};
    let s: Vec<&str> = call.segments.iter().map(String::as_str).collect();
    let m = &call.method;
    let endpoint = match (s.as_slice(), m) {
        ([], &Method::GET) => Local(|_| ok(json!({}))),
        (["schemas", "types"], &Method::GET) => Local(|_| {
            ok(json!(SchemaType::ALL
                .iter()
                .map(|t| t.name())
                .collect::<Vec<_>>()))
        }),
        (["contexts"], &Method::GET) => Local(|_| ok(json!(["."]))),
        (["schemas"], &Method::GET) => Read(list_schemas),
        (["schemas", "ids", _], &Method::GET) => Read(schema_by_id),
        (["schemas", "ids", _, "schema"], &Method::GET) => Read(schema_text_by_id),
        (["schemas", "ids", _, "subjects"], &Method::GET) => Read(subjects_by_id),
        (["schemas", "ids", _, "versions"], &Method::GET) => Read(versions_by_id),
        (["subjects"], &Method::GET) => Read(subjects),
        (["subjects", _], &Method::POST) => Read(lookup),
        (["subjects", _], &Method::DELETE) => Write(delete_subject),
        (["subjects", _, "versions"], &Method::GET) => Read(versions),
        (["subjects", _, "versions"], &Method::POST) => Write(register),
        (["subjects", _, "versions", _], &Method::GET) => Read(version),
        (["subjects", _, "versions", _], &Method::DELETE) => Write(delete_version),
        (["subjects", _, "versions", _, "schema"], &Method::GET) => Read(version_schema),
        (["subjects", _, "versions", _, "referencedby"], &Method::GET) => Read(referenced_by),
        (["config"], &Method::GET) => Read(get_config),
        (["config"], &Method::PUT) => Write(put_config),
        (["config"], &Method::DELETE) => Write(delete_config),
        (["config", _], &Method::GET) => Read(get_config),
        (["config", _], &Method::PUT) => Write(put_config),
        (["config", _], &Method::DELETE) => Write(delete_config),
        (["mode"], &Method::GET) => Read(get_mode),
        (["mode"], &Method::PUT) => Write(put_mode),
        (["mode"], &Method::DELETE) => Write(delete_mode),
        (["mode", _], &Method::GET) => Read(get_mode),
        (["mode", _], &Method::PUT) => Write(put_mode),
        (["mode", _], &Method::DELETE) => Write(delete_mode),
        (["compatibility", "subjects", _, "versions"], &Method::POST) => Read(test_all),
        (["compatibility", "subjects", _, "versions", _], &Method::POST) => Read(test_version),
        _ => {
            let known_path = matches!(
                s.as_slice(),
                [] | ["schemas", ..]
                    | ["subjects", ..]
                    | ["config", ..]
                    | ["mode", ..]
                    | ["compatibility", ..]
                    | ["contexts"]
            ) && s.len() <= 5;
            return Err(if known_path {
                plain_error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    format!("{m} is not served on /{}", s.join("/")),
                )
            } else {
                plain_error(StatusCode::NOT_FOUND, "HTTP 404 Not Found")
            });
        }
    };
    Ok(endpoint)
}

// ---------------------------------------------------------------------------------------------
// Request parts

fn segment(call: &Call, i: usize) -> &str {
    call.segments.get(i).map_or("", String::as_str)
}

fn id_of(call: &Call) -> Result<i32, RegistryError> {
    let text = segment(call, 2);
    text.parse::<i32>()
        .map_err(|_| RegistryError::SchemaNotFound(text.to_string()))
}

fn version_of(call: &Call, i: usize) -> Result<VersionSpec, RegistryError> {
    VersionSpec::parse(segment(call, i))
}

/// The subject of a `/config/{s}` or `/mode/{s}` path (`None`: the global one).
fn optional_subject(call: &Call) -> Option<String> {
    call.segments.get(1).cloned()
}

#[derive(Deserialize)]
struct SchemaBody {
    schema: Option<String>,
    #[serde(rename = "schemaType")]
    schema_type: Option<String>,
    #[serde(default)]
    references: Option<Vec<SchemaReference>>,
    id: Option<i32>,
    version: Option<i32>,
}

fn json_body<T: for<'a> Deserialize<'a>>(call: &Call) -> Result<T, RegistryError> {
    serde_json::from_slice(&call.body).map_err(|e| {
        RegistryError::BadRequest(format!("the request body is not the JSON expected: {e}"))
    })
}

fn schema_request(call: &Call) -> Result<SchemaRequest, RegistryError> {
    let body: SchemaBody = json_body(call)?;
    let schema = body
        .schema
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| RegistryError::InvalidSchema("Empty schema".into()))?;
    let schema_type = match body.schema_type.as_deref() {
        None | Some("") => SchemaType::Avro,
        Some(name) => SchemaType::from_name(name).ok_or_else(|| {
            RegistryError::InvalidSchema(format!(
                "unknown schema type '{name}' (AVRO, PROTOBUF or JSON)"
            ))
        })?,
    };
    Ok(SchemaRequest {
        schema_type,
        schema,
        references: body.references.unwrap_or_default(),
        id: body.id,
        version: body.version,
    })
}

// ---------------------------------------------------------------------------------------------
// Answers

/// `schemaType` is left out for AVRO and `references` when there are none, as Confluent.
fn schema_fields(out: &mut serde_json::Map<String, Value>, schema: &StoredSchema) {
    if schema.schema_type != SchemaType::Avro {
        out.insert("schemaType".into(), json!(schema.schema_type.name()));
    }
    if !schema.references.is_empty() {
        out.insert("references".into(), json!(schema.references));
    }
    out.insert("schema".into(), json!(schema.schema));
}

fn subject_version_json(v: &SubjectVersion) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("subject".into(), json!(v.subject));
    out.insert("version".into(), json!(v.version));
    out.insert("id".into(), json!(v.id));
    schema_fields(&mut out, &v.schema);
    if v.deleted {
        out.insert("deleted".into(), json!(true));
    }
    Value::Object(out)
}

// ---------------------------------------------------------------------------------------------
// Reads

fn list_schemas(r: &SchemaRegistry, call: &Call) -> Result<Answer, RegistryError> {
    let prefix = call.param("subjectPrefix").unwrap_or("");
    let deleted = call.flag("deleted");
    let latest_only = call.flag("latestOnly");
    let mut out = Vec::new();
    for subject in r.subjects(deleted, prefix) {
        let versions = r.versions(&subject, deleted).unwrap_or_default();
        let chosen: Vec<i32> = if latest_only {
            versions.last().copied().into_iter().collect()
        } else {
            versions
        };
        for version in chosen {
            if let Ok(v) = r.version(&subject, VersionSpec::Number(version), deleted) {
                out.push(subject_version_json(&v));
            }
        }
    }
    ok(Value::Array(out))
}

fn schema_by_id(r: &SchemaRegistry, call: &Call) -> Result<Answer, RegistryError> {
    let id = id_of(call)?;
    let schema = r
        .schema_by_id(id)
        .ok_or_else(|| RegistryError::SchemaNotFound(id.to_string()))?;
    let mut out = serde_json::Map::new();
    schema_fields(&mut out, schema);
    if let Some(format) = call.param("format").filter(|f| !f.is_empty()) {
        if let Some(text) = formatted(r, schema, format)? {
            out.insert("schema".into(), json!(text));
        }
    }
    ok(Value::Object(out))
}

/// The schema in the `format` a client asked for (`serialized`: a Protobuf schema as the
/// base64 of its FileDescriptorProto, as Confluent's `?format=serialized`); `None`: as stored.
fn formatted(
    r: &SchemaRegistry,
    schema: &StoredSchema,
    format: &str,
) -> Result<Option<String>, RegistryError> {
    if schema.schema_type != SchemaType::Protobuf || !format.eq_ignore_ascii_case("serialized") {
        return Ok(None);
    }
    let parsed = r.parse(&SchemaRequest {
        schema_type: schema.schema_type,
        schema: schema.schema.clone(),
        references: schema.references.clone(),
        id: None,
        version: None,
    })?;
    match parsed {
        sluice_schema::ParsedSchema::Protobuf(p) => Ok(Some(p.serialized())),
        _ => Ok(None),
    }
}

fn schema_text_by_id(r: &SchemaRegistry, call: &Call) -> Result<Answer, RegistryError> {
    let id = id_of(call)?;
    let schema = r
        .schema_by_id(id)
        .ok_or_else(|| RegistryError::SchemaNotFound(id.to_string()))?;
    Ok(Answer::Raw(schema.schema.clone()))
}

fn subjects_by_id(r: &SchemaRegistry, call: &Call) -> Result<Answer, RegistryError> {
    let id = id_of(call)?;
    if r.schema_by_id(id).is_none() {
        return Err(RegistryError::SchemaNotFound(id.to_string()));
    }
    let mut subjects: Vec<String> = r
        .versions_by_id(id, call.flag("deleted"))
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    subjects.dedup();
    ok(json!(subjects))
}

fn versions_by_id(r: &SchemaRegistry, call: &Call) -> Result<Answer, RegistryError> {
    let id = id_of(call)?;
    if r.schema_by_id(id).is_none() {
        return Err(RegistryError::SchemaNotFound(id.to_string()));
    }
    let out: Vec<Value> = r
        .versions_by_id(id, call.flag("deleted"))
        .into_iter()
        .map(|(subject, version)| json!({"subject": subject, "version": version}))
        .collect();
    ok(Value::Array(out))
}

fn subjects(r: &SchemaRegistry, call: &Call) -> Result<Answer, RegistryError> {
    let prefix = call.param("subjectPrefix").unwrap_or("");
    ok(json!(r.subjects(call.flag("deleted"), prefix)))
}

fn versions(r: &SchemaRegistry, call: &Call) -> Result<Answer, RegistryError> {
    ok(json!(r.versions(segment(call, 1), call.flag("deleted"))?))
}

fn version(r: &SchemaRegistry, call: &Call) -> Result<Answer, RegistryError> {
    let spec = version_of(call, 3)?;
    let v = r.version(segment(call, 1), spec, call.flag("deleted"))?;
    ok(subject_version_json(&v))
}

fn version_schema(r: &SchemaRegistry, call: &Call) -> Result<Answer, RegistryError> {
    let spec = version_of(call, 3)?;
    let v = r.version(segment(call, 1), spec, call.flag("deleted"))?;
    Ok(Answer::Raw(v.schema.schema))
}

fn referenced_by(r: &SchemaRegistry, call: &Call) -> Result<Answer, RegistryError> {
    let spec = version_of(call, 3)?;
    let v = r.version(segment(call, 1), spec, true)?;
    ok(json!(r.referenced_by(&v.subject, v.version)))
}

fn lookup(r: &SchemaRegistry, call: &Call) -> Result<Answer, RegistryError> {
    let request = schema_request(call)?;
    let v = r.lookup(segment(call, 1), &request, call.flag("deleted"))?;
    ok(subject_version_json(&v))
}

fn get_config(r: &SchemaRegistry, call: &Call) -> Result<Answer, RegistryError> {
    let level = match optional_subject(call) {
        None => r.effective_level(None),
        Some(subject) => match r.config(Some(&subject)) {
            Some(level) => level,
            None if call.flag("defaultToGlobal") => r.effective_level(None),
            None => return Err(RegistryError::SubjectCompatibilityNotConfigured(subject)),
        },
    };
    ok(json!({"compatibilityLevel": level.name()}))
}

fn get_mode(r: &SchemaRegistry, call: &Call) -> Result<Answer, RegistryError> {
    let mode = match optional_subject(call) {
        None => r.effective_mode(None),
        Some(subject) => match r.mode(Some(&subject)) {
            Some(mode) => mode,
            None if call.flag("defaultToGlobal") => r.effective_mode(None),
            None => return Err(RegistryError::SubjectModeNotConfigured(subject)),
        },
    };
    ok(json!({"mode": mode.name()}))
}

fn compatibility_answer(call: &Call, problems: Vec<String>) -> Result<Answer, RegistryError> {
    let mut out = serde_json::Map::new();
    out.insert("is_compatible".into(), json!(problems.is_empty()));
    if call.flag("verbose") {
        out.insert("messages".into(), json!(problems));
    }
    ok(Value::Object(out))
}

fn test_all(r: &SchemaRegistry, call: &Call) -> Result<Answer, RegistryError> {
    let request = schema_request(call)?;
    let problems = r.test_compatibility(segment(call, 2), None, &request)?;
    compatibility_answer(call, problems)
}

fn test_version(r: &SchemaRegistry, call: &Call) -> Result<Answer, RegistryError> {
    let request = schema_request(call)?;
    let spec = version_of(call, 4)?;
    let subject = segment(call, 2);
    // Against the latest version of a subject that has none: nothing to be incompatible with.
    if spec == VersionSpec::Latest && r.versions(subject, false).is_err() {
        r.parse(&request)?;
        return compatibility_answer(call, Vec::new());
    }
    let problems = r.test_compatibility(subject, Some(spec), &request)?;
    compatibility_answer(call, problems)
}

// ---------------------------------------------------------------------------------------------
// Writes

/// The registration endpoint, for [`super::register`].
pub(crate) fn register_fn() -> WriteFn {
    register
}

fn register(call: &Call) -> Result<(WriteRequest, Formatter), RegistryError> {
    let schema = schema_request(call)?;
    Ok((
        WriteRequest::Register {
            subject: segment(call, 1).to_string(),
            schema,
        },
        |result| match result {
            WriteResult::Registered { id, .. } => Answer::Json(StatusCode::OK, json!({"id": id})),
            other => unexpected(other),
        },
    ))
}

fn unexpected(result: WriteResult) -> Answer {
    Answer::Json(
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({"error_code": 50001, "message": format!("unexpected registry result {result:?}")}),
    )
}

fn delete_version(call: &Call) -> Result<(WriteRequest, Formatter), RegistryError> {
    Ok((
        WriteRequest::DeleteVersion {
            subject: segment(call, 1).to_string(),
            version: version_of(call, 3)?,
            permanent: call.flag("permanent"),
        },
        |result| match result {
            WriteResult::Version(v) => Answer::Json(StatusCode::OK, json!(v)),
            other => unexpected(other),
        },
    ))
}

fn delete_subject(call: &Call) -> Result<(WriteRequest, Formatter), RegistryError> {
    Ok((
        WriteRequest::DeleteSubject {
            subject: segment(call, 1).to_string(),
            permanent: call.flag("permanent"),
        },
        |result| match result {
            WriteResult::Versions(v) => Answer::Json(StatusCode::OK, json!(v)),
            other => unexpected(other),
        },
    ))
}

#[derive(Deserialize)]
struct ConfigBody {
    compatibility: Option<String>,
    #[serde(rename = "compatibilityLevel")]
    compatibility_level: Option<String>,
}

fn put_config(call: &Call) -> Result<(WriteRequest, Formatter), RegistryError> {
    let body: ConfigBody = json_body(call)?;
    let name = body
        .compatibility
        .or(body.compatibility_level)
        .ok_or(RegistryError::InvalidCompatibilityLevel)?;
    let level =
        CompatibilityLevel::from_name(&name).ok_or(RegistryError::InvalidCompatibilityLevel)?;
    Ok((
        WriteRequest::SetConfig {
            subject: optional_subject(call),
            level,
        },
        |result| match result {
            WriteResult::Level(l) => {
                Answer::Json(StatusCode::OK, json!({"compatibility": l.name()}))
            }
            other => unexpected(other),
        },
    ))
}

fn delete_config(call: &Call) -> Result<(WriteRequest, Formatter), RegistryError> {
    Ok((
        WriteRequest::DeleteConfig {
            subject: optional_subject(call),
        },
        |result| match result {
            WriteResult::Level(l) => {
                Answer::Json(StatusCode::OK, json!({"compatibilityLevel": l.name()}))
            }
            other => unexpected(other),
        },
    ))
}

#[derive(Deserialize)]
struct ModeBody {
    mode: Option<String>,
}

fn put_mode(call: &Call) -> Result<(WriteRequest, Formatter), RegistryError> {
    let body: ModeBody = json_body(call)?;
    let mode = body
        .mode
        .as_deref()
        .and_then(Mode::from_name)
        .ok_or(RegistryError::InvalidMode)?;
    Ok((
        WriteRequest::SetMode {
            subject: optional_subject(call),
            mode,
        },
        |result| match result {
            WriteResult::Mode(m) => Answer::Json(StatusCode::OK, json!({"mode": m.name()})),
            other => unexpected(other),
        },
    ))
}

fn delete_mode(call: &Call) -> Result<(WriteRequest, Formatter), RegistryError> {
    Ok((
        WriteRequest::DeleteMode {
            subject: optional_subject(call),
        },
        |result| match result {
            WriteResult::Mode(m) => Answer::Json(StatusCode::OK, json!({"mode": m.name()})),
            other => unexpected(other),
        },
    ))
}
