//! Avro schemas (Confluent's `AVRO` format).
//!
//! - Parsing: `apache-avro` checks the text (names, types, field and enum defaults), with the
//!   referenced schemas parsed first so their named types can be used by full name (Confluent's
//!   Avro references). A union field's default may match any branch, as the Avro 1.12 spec and
//!   `apache-avro` allow (older Java Avro wanted the first branch). Schema nesting deeper than
//!   [`MAX_DEPTH`] is refused before any recursive parser sees it: the text comes from HTTP.
//! - Canonical text: the registered JSON itself, compact, object keys sorted, and a primitive
//!   written as `{"type": "int"}` shortened to `"int"`. Docs, defaults, aliases, logical types and
//!   custom properties stay, so what `/schemas/ids/{id}` serves is the client's schema, and
//!   re-registering a re-formatted text finds the same id. (Avro's Parsing Canonical Form would
//!   drop defaults and aliases, which readers need.)
//! - Compatibility: the Avro spec's "Schema Resolution", as Java's `SchemaCompatibility` (which
//!   Confluent uses) applies it, on a model of the schema built here: `apache-avro`'s own
//!   `schema_compatibility` ignores aliases and enum defaults and reports Debug dumps.
//!   Checked: type promotions (int -> long/float/double, long -> float/double, float -> double,
//!   string <-> bytes), record/enum/fixed names (unqualified, or a reader alias naming the
//!   writer's full name), fixed sizes, enum symbols (a missing one is fine when the reader enum
//!   has a default), reader fields missing in the writer (need a default; found by name or a
//!   reader field alias), unions on either side, arrays, maps, recursive types. Not checked, as
//!   in Java: logical types (a decimal's precision/scale, ...) are read as their underlying type;
//!   field `order` is ignored.

use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};

use serde_json::{Map, Value};

use crate::format::Dependency;

/// The deepest nesting of types (records in records, arrays of arrays, ...) accepted.
pub const MAX_DEPTH: usize = 64;

/// How deep the compatibility check follows named types into each other (a chain of referenced
/// records is not bounded by one text's nesting); beyond it the pair is reported incompatible.
const MAX_CHECK_DEPTH: usize = 256;

const PRIMITIVES: [&str; 8] = [
    "null", "boolean", "int", "long", "float", "double", "bytes", "string",
];

#[derive(Clone, Debug)]
pub struct AvroSchema {
    canonical: String,
    root: Type,
    /// Every named type the schema can use, its dependencies' included; `Type::Named` indexes it.
    named: Vec<NamedType>,
}

/// A type as schema resolution sees it: logical types are their underlying type.
#[derive(Clone, Debug, PartialEq)]
enum Type {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Array(Box<Type>),
    Map(Box<Type>),
    Union(Vec<Type>),
    Named(usize),
}

#[derive(Clone, Debug)]
struct NamedType {
    full_name: String,
    /// Full names.
    aliases: Vec<String>,
    kind: NamedKind,
}

#[derive(Clone, Debug)]
enum NamedKind {
    Record(Vec<Field>),
    Enum {
        symbols: Vec<String>,
        default: Option<String>,
    },
    Fixed {
        size: u64,
    },
}

#[derive(Clone, Debug)]
struct Field {
    name: String,
    aliases: Vec<String>,
    ty: Type,
    has_default: bool,
}

impl AvroSchema {
    pub fn parse(text: &str, dependencies: &[Dependency]) -> Result<AvroSchema, String> {
        // A schema reachable along two reference paths may be listed twice.
        let mut dependency_texts: Vec<(&str, &str)> = Vec::new();
        for dependency in dependencies {
            if !dependency_texts
                .iter()
                .any(|(_, schema)| *schema == dependency.schema)
            {
                dependency_texts.push((&dependency.name, &dependency.schema));
            }
        }
        let mut dependency_values = Vec::with_capacity(dependency_texts.len());
        for (name, schema) in &dependency_texts {
            let value: Value = serde_json::from_str(schema)
                .map_err(|e| format!("referenced schema '{name}' is not valid JSON: {e}"))?;
            check_depth(&value, 0).map_err(|e| format!("referenced schema '{name}': {e}"))?;
            dependency_values.push(value);
        }
        let value: Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
        check_depth(&value, 0)?;

        validate_with_apache_avro(text, &dependency_texts)?;

        let mut builder = Builder::default();
        add_dependencies(&mut builder, &dependency_texts, &dependency_values)?;
        let root = builder.build(&value, None)?;
        let mut canonical = String::new();
        write_sorted(&canonical_schema(&value), &mut canonical);
        Ok(AvroSchema {
            canonical,
            root,
            named: builder.named,
        })
    }

    pub fn canonical(&self) -> String {
        self.canonical.clone()
    }

    /// Why data written with `writer` cannot be read with `self`; empty when it can.
    pub fn can_read(&self, writer: &AvroSchema) -> Vec<String> {
        let mut checker = Checker {
            reader: self,
            writer,
            memo: HashMap::new(),
            depth: 0,
        };
        let mut errors = Vec::new();
        checker.check(&self.root, &writer.root, "", &mut errors);
        let mut seen = HashSet::new();
        errors.retain(|e| seen.insert(e.clone()));
        errors
    }
}

/// Runs `apache-avro`'s parser, the reference for what a valid Avro schema is.
fn validate_with_apache_avro(text: &str, dependencies: &[(&str, &str)]) -> Result<(), String> {
    // The parser is third-party code fed with user input: a panic in it becomes an invalid
    // schema, not a dead request handler.
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        if dependencies.is_empty() {
            apache_avro::Schema::parse_str(text).map(|_| ())
        } else {
            apache_avro::Schema::parse_str_with_list(
                text,
                dependencies.iter().map(|(_, schema)| *schema),
            )
            .map(|_| ())
        }
    }));
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("invalid Avro schema: {e}")),
        Err(_) => Err("invalid Avro schema: the Avro parser failed on it".to_string()),
    }
}

/// Adds the dependencies' named types. They are listed deepest first; one that uses a type of a
/// later one is retried after the others.
fn add_dependencies(
    builder: &mut Builder,
    texts: &[(&str, &str)],
    values: &[Value],
) -> Result<(), String> {
    let mut pending: Vec<usize> = (0..values.len()).collect();
    while !pending.is_empty() {
        let mut still_pending = Vec::new();
        let mut last_error = None;
        for &i in &pending {
            let mut attempt = builder.clone();
            match attempt.build(&values[i], None) {
                Ok(_) => *builder = attempt,
                Err(e) => {
                    last_error = Some(format!("referenced schema '{}': {e}", texts[i].0));
                    still_pending.push(i);
                }
            }
        }
        if still_pending.len() == pending.len() {
            return Err(last_error.unwrap_or_default());
        }
        pending = still_pending;
    }
    Ok(())
}

/// Refuses schemas nested deeper than [`MAX_DEPTH`]. Recursion here is bounded by serde_json's
/// own nesting limit (128).
fn check_depth(value: &Value, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "the schema nests types deeper than {MAX_DEPTH} levels"
        ));
    }
    match value {
        Value::Array(branches) => branches
            .iter()
            .try_for_each(|branch| check_depth(branch, depth + 1)),
        Value::Object(object) => {
            for key in ["type", "items", "values"] {
                if let Some(inner @ (Value::Object(_) | Value::Array(_))) = object.get(key) {
                    check_depth(inner, depth + 1)?;
                }
            }
            if let Some(Value::Array(fields)) = object.get("fields") {
                for field in fields {
                    if let Some(ty) = field.get("type") {
                        check_depth(ty, depth + 1)?;
                    }
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Builds the resolution model from JSON `apache-avro` already accepted; its errors are a
/// backstop, not the user's first diagnosis.
#[derive(Clone, Default)]
struct Builder {
    named: Vec<NamedType>,
    by_name: HashMap<String, usize>,
}

impl Builder {
    fn build(&mut self, value: &Value, namespace: Option<&str>) -> Result<Type, String> {
        match value {
            Value::String(name) => self.resolve(name, namespace),
            Value::Array(branches) => branches
                .iter()
                .map(|branch| self.build(branch, namespace))
                .collect::<Result<Vec<_>, _>>()
                .map(Type::Union),
            Value::Object(object) => self.build_object(object, namespace),
            other => Err(format!(
                "a type must be a string, array or object, not {other}"
            )),
        }
    }

    fn build_object(
        &mut self,
        object: &Map<String, Value>,
        namespace: Option<&str>,
    ) -> Result<Type, String> {
        let type_name = match object.get("type") {
            Some(Value::String(type_name)) => type_name.as_str(),
            Some(inner @ (Value::Object(_) | Value::Array(_))) => {
                return self.build(inner, namespace)
            }
            _ => return Err("a type object needs a \"type\"".to_string()),
        };
        match type_name {
            "array" => {
                let items = object.get("items").ok_or("an array needs \"items\"")?;
                Ok(Type::Array(Box::new(self.build(items, namespace)?)))
            }
            "map" => {
                let values = object.get("values").ok_or("a map needs \"values\"")?;
                Ok(Type::Map(Box::new(self.build(values, namespace)?)))
            }
            "record" | "error" | "enum" | "fixed" => self.build_named(type_name, object, namespace),
            // Primitives (a logical type is read as its underlying type) and references.
            _ => self.resolve(type_name, namespace),
        }
    }

    fn build_named(
        &mut self,
        type_name: &str,
        object: &Map<String, Value>,
        namespace: Option<&str>,
    ) -> Result<Type, String> {
        let name = object
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("a {type_name} needs a \"name\""))?;
        let own_namespace = match object.get("namespace") {
            Some(Value::String(ns)) => Some(ns.as_str()),
            _ => namespace,
        };
        let full_name = qualify(name, own_namespace);
        // The namespace nested definitions and aliases inherit: the full name's.
        let inner_namespace = full_name.rsplit_once('.').map(|(ns, _)| ns.to_string());
        let aliases = names_in(object.get("aliases"))
            .iter()
            .map(|alias| qualify(alias, inner_namespace.as_deref()))
            .collect();
        if self.by_name.contains_key(&full_name) {
            return Err(format!("the type '{full_name}' is defined twice"));
        }
        let index = self.named.len();
        // Registered before its fields are built, so a record can contain itself.
        self.named.push(NamedType {
            full_name: full_name.clone(),
            aliases,
            kind: NamedKind::Record(Vec::new()),
        });
        self.by_name.insert(full_name, index);
        let kind = match type_name {
            "enum" => NamedKind::Enum {
                symbols: names_in(object.get("symbols")),
                default: object
                    .get("default")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            },
            "fixed" => NamedKind::Fixed {
                size: object
                    .get("size")
                    .and_then(Value::as_u64)
                    .ok_or("a fixed needs a \"size\"")?,
            },
            _ => {
                let mut fields = Vec::new();
                let Some(Value::Array(field_values)) = object.get("fields") else {
                    return Err("a record needs \"fields\"".to_string());
                };
                for field in field_values {
                    let field_name = field
                        .get("name")
                        .and_then(Value::as_str)
                        .ok_or("a record field needs a \"name\"")?;
                    let ty = field
                        .get("type")
                        .ok_or_else(|| format!("the field '{field_name}' needs a \"type\""))?;
                    let ty = self.build(ty, inner_namespace.as_deref())?;
                    if let Some(default) = field.get("default") {
                        check_number_default(field_name, &ty, default)?;
                    }
                    fields.push(Field {
                        name: field_name.to_string(),
                        aliases: names_in(field.get("aliases")),
                        ty,
                        has_default: field.get("default").is_some(),
                    });
                }
                NamedKind::Record(fields)
            }
        };
        self.named[index].kind = kind;
        Ok(Type::Named(index))
    }

    /// A primitive name, or a reference to a named type already defined: relative to the
    /// enclosing namespace first, then as a full name (Java Avro's lookup).
    fn resolve(&self, name: &str, namespace: Option<&str>) -> Result<Type, String> {
        let primitive = match name {
            "null" => Some(Type::Null),
            "boolean" => Some(Type::Boolean),
            "int" => Some(Type::Int),
            "long" => Some(Type::Long),
            "float" => Some(Type::Float),
            "double" => Some(Type::Double),
            "bytes" => Some(Type::Bytes),
            "string" => Some(Type::String),
            _ => None,
        };
        if let Some(primitive) = primitive {
            return Ok(primitive);
        }
        self.by_name
            .get(&qualify(name, namespace))
            .or_else(|| self.by_name.get(name))
            .map(|&index| Type::Named(index))
            .ok_or_else(|| format!("unknown type '{name}'"))
    }
}

/// `apache-avro` takes any integer as an int or long default; Java Avro (Confluent) wants it
/// to fit.
fn check_number_default(field: &str, ty: &Type, default: &Value) -> Result<(), String> {
    let fits = match (ty, default) {
        (Type::Int, Value::Number(n)) => n.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        (Type::Long, Value::Number(n)) => n.is_i64(),
        _ => true,
    };
    if fits {
        Ok(())
    } else {
        Err(format!(
            "invalid Avro schema: the default {default} of field '{field}' does not fit its type"
        ))
    }
}

/// A name made full: one with a dot already is; another takes the namespace, if any.
fn qualify(name: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) if !ns.is_empty() && !name.contains('.') => format!("{ns}.{name}"),
        _ => name.to_string(),
    }
}

/// The strings of a JSON array of strings (aliases, symbols); anything else is none.
fn names_in(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// The schema JSON with `{"type": "<primitive>"}` (nothing else) shortened to the primitive's
/// name, in schema positions only: a default or custom property holding such an object keeps it.
fn canonical_schema(value: &Value) -> Value {
    match value {
        Value::Array(branches) => Value::Array(branches.iter().map(canonical_schema).collect()),
        Value::Object(object) => {
            if object.len() == 1 {
                if let Some(Value::String(name)) = object.get("type") {
                    if PRIMITIVES.contains(&name.as_str()) {
                        return Value::String(name.clone());
                    }
                }
            }
            let mut out = Map::new();
            for (key, inner) in object {
                let inner = match (key.as_str(), inner) {
                    ("type", Value::Object(_) | Value::Array(_)) | ("items" | "values", _) => {
                        canonical_schema(inner)
                    }
                    ("fields", Value::Array(fields)) => {
                        Value::Array(fields.iter().map(canonical_field).collect())
                    }
                    _ => inner.clone(),
                };
                out.insert(key.clone(), inner);
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

fn canonical_field(field: &Value) -> Value {
    match field {
        Value::Object(object) => Value::Object(
            object
                .iter()
                .map(|(key, inner)| {
                    let inner = if key == "type" {
                        canonical_schema(inner)
                    } else {
                        inner.clone()
                    };
                    (key.clone(), inner)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Compact JSON with every object's keys sorted, whatever map serde_json was built with.
pub(crate) fn write_sorted(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_sorted(item, out);
            }
            out.push(']');
        }
        Value::Object(object) => {
            let mut entries: Vec<(&String, &Value)> = object.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, inner)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_sorted(inner, out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Schema resolution between a reader and a writer schema. Pairs of named types are memoized:
/// a pair met again (recursive types, types used twice) is not checked again, and a pair being
/// checked counts as readable while inside itself (Java's rule).
struct Checker<'a> {
    reader: &'a AvroSchema,
    writer: &'a AvroSchema,
    /// `None` while the pair is being checked; then its incompatibilities.
    memo: HashMap<(usize, usize), Option<Vec<String>>>,
    depth: usize,
}

impl Checker<'_> {
    /// Pushes onto `errors` why `writer` data cannot be read as `reader` at `path`.
    fn check(&mut self, reader: &Type, writer: &Type, path: &str, errors: &mut Vec<String>) {
        let at = if path.is_empty() { "/" } else { path };
        if let Type::Union(branches) = writer {
            // Each branch the writer may have written must be readable.
            for branch in branches {
                self.check(reader, branch, path, errors);
            }
            return;
        }
        if let Type::Union(branches) = reader {
            let readable = branches.iter().any(|branch| {
                let mut scratch = Vec::new();
                self.check(branch, writer, path, &mut scratch);
                scratch.is_empty()
            });
            if !readable {
                errors.push(format!(
                    "MISSING_UNION_BRANCH at '{at}': the reader's union has no branch that \
                     reads the writer's {}",
                    self.describe(self.writer, writer)
                ));
            }
            return;
        }
        match (reader, writer) {
            (Type::Null, Type::Null)
            | (Type::Boolean, Type::Boolean)
            | (Type::Int, Type::Int)
            | (Type::Long, Type::Long | Type::Int)
            | (Type::Float, Type::Float | Type::Long | Type::Int)
            | (Type::Double, Type::Double | Type::Float | Type::Long | Type::Int)
            | (Type::Bytes, Type::Bytes | Type::String)
            | (Type::String, Type::String | Type::Bytes) => {}
            (Type::Array(r), Type::Array(w)) => self.check(r, w, &format!("{path}/items"), errors),
            (Type::Map(r), Type::Map(w)) => self.check(r, w, &format!("{path}/values"), errors),
            (Type::Named(r), Type::Named(w)) => self.check_named(*r, *w, path, errors),
            _ => errors.push(format!(
                "TYPE_MISMATCH at '{at}': the reader's {} cannot read the writer's {}",
                self.describe(self.reader, reader),
                self.describe(self.writer, writer)
            )),
        }
    }

    fn check_named(&mut self, r: usize, w: usize, path: &str, errors: &mut Vec<String>) {
        match self.memo.get(&(r, w)) {
            Some(None) => return,
            Some(Some(found)) => {
                errors.extend(found.iter().cloned());
                return;
            }
            None => {}
        }
        let at = if path.is_empty() { "/" } else { path };
        let (reader_schema, writer_schema) = (self.reader, self.writer);
        let (Some(reader), Some(writer)) = (reader_schema.named.get(r), writer_schema.named.get(w))
        else {
            errors.push(format!("TYPE_MISMATCH at '{at}': unknown named type"));
            return;
        };
        if self.depth >= MAX_CHECK_DEPTH {
            errors.push(format!(
                "TYPE_MISMATCH at '{at}': named types nest deeper than {MAX_CHECK_DEPTH} levels"
            ));
            return;
        }
        self.memo.insert((r, w), None);
        self.depth += 1;
        let mut found = Vec::new();
        let kind_name = |kind: &NamedKind| match kind {
            NamedKind::Record(_) => "record",
            NamedKind::Enum { .. } => "enum",
            NamedKind::Fixed { .. } => "fixed",
        };
        let short = |full: &str| full.rsplit('.').next().unwrap_or(full).to_string();
        let same_kind =
            std::mem::discriminant(&reader.kind) == std::mem::discriminant(&writer.kind);
        if !same_kind {
            found.push(format!(
                "TYPE_MISMATCH at '{at}': the reader's {} '{}' cannot read the writer's {} '{}'",
                kind_name(&reader.kind),
                reader.full_name,
                kind_name(&writer.kind),
                writer.full_name
            ));
        } else if short(&reader.full_name) != short(&writer.full_name)
            && !reader.aliases.contains(&writer.full_name)
        {
            found.push(format!(
                "NAME_MISMATCH at '{at}': the reader's {} '{}' does not match the writer's '{}' \
                 (by name or alias)",
                kind_name(&reader.kind),
                reader.full_name,
                writer.full_name
            ));
        } else {
            match (&reader.kind, &writer.kind) {
                (NamedKind::Fixed { size: r_size }, NamedKind::Fixed { size: w_size })
                    if r_size != w_size =>
                {
                    found.push(format!(
                        "FIXED_SIZE_MISMATCH at '{at}': the reader's fixed '{}' has size \
                         {r_size}, the writer's {w_size}",
                        reader.full_name
                    ));
                }
                (
                    NamedKind::Enum {
                        symbols: r_symbols,
                        default: r_default,
                    },
                    NamedKind::Enum {
                        symbols: w_symbols, ..
                    },
                ) => {
                    let missing: Vec<&str> = w_symbols
                        .iter()
                        .filter(|symbol| !r_symbols.contains(symbol))
                        .map(String::as_str)
                        .collect();
                    if !missing.is_empty() && r_default.is_none() {
                        found.push(format!(
                            "MISSING_ENUM_SYMBOLS at '{at}': the reader's enum '{}' lacks the \
                             writer's symbols [{}] and has no default",
                            reader.full_name,
                            missing.join(", ")
                        ));
                    }
                }
                (NamedKind::Record(r_fields), NamedKind::Record(w_fields)) => {
                    for r_field in r_fields {
                        let w_field = w_fields
                            .iter()
                            .find(|w_field| w_field.name == r_field.name)
                            .or_else(|| {
                                w_fields
                                    .iter()
                                    .find(|w_field| r_field.aliases.contains(&w_field.name))
                            });
                        let field_path = format!("{path}/fields/{}", r_field.name);
                        match w_field {
                            Some(w_field) => {
                                self.check(&r_field.ty, &w_field.ty, &field_path, &mut found)
                            }
                            None if r_field.has_default => {}
                            None => found.push(format!(
                                "READER_FIELD_MISSING_DEFAULT_VALUE at '{field_path}': the \
                                 reader's field '{}' of '{}' has no default value and the \
                                 writer has no such field",
                                r_field.name, reader.full_name
                            )),
                        }
                    }
                }
                _ => {}
            }
        }
        self.depth -= 1;
        errors.extend(found.iter().cloned());
        self.memo.insert((r, w), Some(found));
    }

    fn describe(&self, schema: &AvroSchema, ty: &Type) -> String {
        match ty {
            Type::Null => "null".to_string(),
            Type::Boolean => "boolean".to_string(),
            Type::Int => "int".to_string(),
            Type::Long => "long".to_string(),
            Type::Float => "float".to_string(),
            Type::Double => "double".to_string(),
            Type::Bytes => "bytes".to_string(),
            Type::String => "string".to_string(),
            Type::Array(_) => "array".to_string(),
            Type::Map(_) => "map".to_string(),
            Type::Union(_) => "union".to_string(),
            Type::Named(index) => match schema.named.get(*index) {
                Some(named) => {
                    let kind = match named.kind {
                        NamedKind::Record(_) => "record",
                        NamedKind::Enum { .. } => "enum",
                        NamedKind::Fixed { .. } => "fixed",
                    };
                    format!("{kind} '{}'", named.full_name)
                }
                None => "named type".to_string(),
            },
        }
    }
}

/// Decoding a datum of the binary encoding, for display (the web console's message browser).
impl AvroSchema {
    /// The datum in `bytes` (written with this schema) as JSON: records as objects, unions as
    /// the branch's value, enums as their symbol, bytes and fixed as base64. Trailing bytes
    /// are an error.
    pub fn decode(&self, bytes: &[u8]) -> Result<Value, String> {
        let mut reader = AvroReader { bytes, at: 0 };
        let value = self.decode_type(&self.root, &mut reader, 0)?;
        if reader.at != bytes.len() {
            return Err(format!(
                "{} byte(s) left after the datum",
                bytes.len() - reader.at
            ));
        }
        Ok(value)
    }

    fn decode_type(
        &self,
        ty: &Type,
        r: &mut AvroReader<'_>,
        depth: usize,
    ) -> Result<Value, String> {
        use base64::Engine;
        if depth > 256 {
            return Err("the datum nests too deep".into());
        }
        Ok(match ty {
            Type::Null => Value::Null,
            Type::Boolean => Value::Bool(r.take(1)?[0] != 0),
            Type::Int | Type::Long => Value::from(r.long()?),
            Type::Float => {
                let b = r.take(4)?;
                let f = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                serde_json::Number::from_f64(f64::from(f)).map_or(Value::Null, Value::Number)
            }
            Type::Double => {
                let b = r.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                serde_json::Number::from_f64(f64::from_le_bytes(a))
                    .map_or(Value::Null, Value::Number)
            }
            Type::Bytes => {
                let len = r.length()?;
                Value::String(base64::engine::general_purpose::STANDARD.encode(r.take(len)?))
            }
            Type::String => {
                let len = r.length()?;
                Value::String(
                    std::str::from_utf8(r.take(len)?)
                        .map_err(|_| "a string is not UTF-8".to_string())?
                        .to_string(),
                )
            }
            Type::Array(item) => {
                let mut out = Vec::new();
                loop {
                    let count = r.block_count()?;
                    if count == 0 {
                        break;
                    }
                    for _ in 0..count {
                        out.push(self.decode_type(item, r, depth + 1)?);
                    }
                }
                Value::Array(out)
            }
            Type::Map(item) => {
                let mut out = serde_json::Map::new();
                loop {
                    let count = r.block_count()?;
                    if count == 0 {
                        break;
                    }
                    for _ in 0..count {
                        let len = r.length()?;
                        let key = std::str::from_utf8(r.take(len)?)
                            .map_err(|_| "a map key is not UTF-8".to_string())?
                            .to_string();
                        out.insert(key, self.decode_type(item, r, depth + 1)?);
                    }
                }
                Value::Object(out)
            }
            Type::Union(branches) => {
                let index = r.long()?;
                let branch = usize::try_from(index)
                    .ok()
                    .and_then(|i| branches.get(i))
                    .ok_or_else(|| format!("union branch {index} does not exist"))?;
                self.decode_type(branch, r, depth + 1)?
            }
            Type::Named(i) => {
                let named = self
                    .named
                    .get(*i)
                    .ok_or_else(|| "an unknown named type".to_string())?;
                match &named.kind {
                    NamedKind::Record(fields) => {
                        let mut out = serde_json::Map::new();
                        for f in fields {
                            out.insert(f.name.clone(), self.decode_type(&f.ty, r, depth + 1)?);
                        }
                        Value::Object(out)
                    }
                    NamedKind::Enum { symbols, .. } => {
                        let index = r.long()?;
                        let symbol = usize::try_from(index)
                            .ok()
                            .and_then(|i| symbols.get(i))
                            .ok_or_else(|| {
                                format!("enum symbol {index} of {} does not exist", named.full_name)
                            })?;
                        Value::String(symbol.clone())
                    }
                    NamedKind::Fixed { size } => {
                        let len = usize::try_from(*size)
                            .map_err(|_| "fixed size too large".to_string())?;
                        Value::String(
                            base64::engine::general_purpose::STANDARD.encode(r.take(len)?),
                        )
                    }
                }
            }
        })
    }
}

/// Encoding a datum from JSON (the REST proxy's `avro` embedded format).
impl AvroSchema {
    /// The binary encoding of `value` (JSON): records as objects, enums as symbols, bytes and
    /// fixed as strings of code points 0-255 (Avro's JSON encoding), unions as the branch's
    /// value or as `{"<branch type name>": value}`.
    pub fn encode(&self, value: &Value) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        self.encode_type(&self.root, value, &mut out, "", 0)?;
        Ok(out)
    }

    fn type_name(&self, ty: &Type) -> String {
        match ty {
            Type::Null => "null".into(),
            Type::Boolean => "boolean".into(),
            Type::Int => "int".into(),
            Type::Long => "long".into(),
            Type::Float => "float".into(),
            Type::Double => "double".into(),
            Type::Bytes => "bytes".into(),
            Type::String => "string".into(),
            Type::Array(_) => "array".into(),
            Type::Map(_) => "map".into(),
            Type::Union(_) => "union".into(),
            Type::Named(i) => self
                .named
                .get(*i)
                .map_or_else(String::new, |n| n.full_name.clone()),
        }
    }

    fn encode_type(
        &self,
        ty: &Type,
        value: &Value,
        out: &mut Vec<u8>,
        at: &str,
        depth: usize,
    ) -> Result<(), String> {
        if depth > 256 {
            return Err("the value nests too deep".into());
        }
        let wrong = || {
            format!(
                "{}: expected {}, got {value}",
                if at.is_empty() { "/" } else { at },
                self.type_name(ty)
            )
        };
        match ty {
            Type::Null => value.is_null().then_some(()).ok_or_else(wrong)?,
            Type::Boolean => out.push(u8::from(value.as_bool().ok_or_else(wrong)?)),
            Type::Int => {
                let n = value
                    .as_i64()
                    .filter(|n| i32::try_from(*n).is_ok())
                    .ok_or_else(wrong)?;
                write_long(out, n);
            }
            Type::Long => write_long(out, value.as_i64().ok_or_else(wrong)?),
            Type::Float => out.extend((value.as_f64().ok_or_else(wrong)? as f32).to_le_bytes()),
            Type::Double => out.extend(value.as_f64().ok_or_else(wrong)?.to_le_bytes()),
            Type::Bytes => {
                let bytes = latin1(value).ok_or_else(wrong)?;
                write_long(out, bytes.len() as i64);
                out.extend(bytes);
            }
            Type::String => {
                let text = value.as_str().ok_or_else(wrong)?;
                write_long(out, text.len() as i64);
                out.extend(text.as_bytes());
            }
            Type::Array(item) => {
                let items = value.as_array().ok_or_else(wrong)?;
                if !items.is_empty() {
                    write_long(out, items.len() as i64);
                    for (i, v) in items.iter().enumerate() {
                        self.encode_type(item, v, out, &format!("{at}/{i}"), depth + 1)?;
                    }
                }
                out.push(0);
            }
            Type::Map(item) => {
                let entries = value.as_object().ok_or_else(wrong)?;
                if !entries.is_empty() {
                    write_long(out, entries.len() as i64);
                    for (k, v) in entries {
                        write_long(out, k.len() as i64);
                        out.extend(k.as_bytes());
                        self.encode_type(item, v, out, &format!("{at}/{k}"), depth + 1)?;
                    }
                }
                out.push(0);
            }
            Type::Union(branches) => {
                // {"<type name>": value} names the branch (Avro's JSON encoding).
                if let Some((name, inner)) = value
                    .as_object()
                    .filter(|o| o.len() == 1)
                    .and_then(|o| o.iter().next())
                {
                    let named = branches.iter().position(|b| {
                        let full = self.type_name(b);
                        full == *name || full.rsplit('.').next() == Some(name.as_str())
                    });
                    if let Some(i) = named {
                        write_long(out, i as i64);
                        return self.encode_type(&branches[i], inner, out, at, depth + 1);
                    }
                }
                for (i, b) in branches.iter().enumerate() {
                    let mut tried = Vec::new();
                    if self
                        .encode_type(b, value, &mut tried, at, depth + 1)
                        .is_ok()
                    {
                        write_long(out, i as i64);
                        out.extend(tried);
                        return Ok(());
                    }
                }
                return Err(format!(
                    "{}: {value} matches no branch of the union",
                    if at.is_empty() { "/" } else { at }
                ));
            }
            Type::Named(i) => {
                let named = self.named.get(*i).ok_or("an unknown named type")?;
                match &named.kind {
                    NamedKind::Record(fields) => {
                        let object = value.as_object().ok_or_else(wrong)?;
                        for f in fields {
                            let at = format!("{at}/{}", f.name);
                            match object.get(&f.name) {
                                Some(v) => self.encode_type(&f.ty, v, out, &at, depth + 1)?,
                                // An absent field is null when its type takes null.
                                None => self
                                    .encode_type(&f.ty, &Value::Null, out, &at, depth + 1)
                                    .map_err(|_| format!("{at}: the field is missing"))?,
                            }
                        }
                    }
                    NamedKind::Enum { symbols, .. } => {
                        let symbol = value.as_str().ok_or_else(wrong)?;
                        let index = symbols.iter().position(|s| s == symbol).ok_or_else(|| {
                            format!("{at}: '{symbol}' is not a symbol of {}", named.full_name)
                        })?;
                        write_long(out, index as i64);
                    }
                    NamedKind::Fixed { size } => {
                        let bytes = latin1(value).ok_or_else(wrong)?;
                        if bytes.len() as u64 != *size {
                            return Err(format!(
                                "{at}: {} holds {size} bytes, got {}",
                                named.full_name,
                                bytes.len()
                            ));
                        }
                        out.extend(bytes);
                    }
                }
            }
        }
        Ok(())
    }
}

/// A zig-zag varint long.
fn write_long(out: &mut Vec<u8>, n: i64) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8 & 0x7f) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// The bytes a JSON string of code points 0-255 stands for.
fn latin1(value: &Value) -> Option<Vec<u8>> {
    value
        .as_str()?
        .chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect()
}

/// A cursor over an Avro binary datum.
struct AvroReader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl AvroReader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| "the datum ends early".to_string())?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    /// A zig-zag varint long.
    fn long(&mut self) -> Result<i64, String> {
        let mut raw: u64 = 0;
        for shift in (0..70).step_by(7) {
            let b = self.take(1)?[0];
            if shift == 63 && b > 1 {
                return Err("a varint is too long".into());
            }
            raw |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok((raw >> 1) as i64 ^ -((raw & 1) as i64));
            }
        }
        Err("a varint is too long".into())
    }

    /// A length that must fit what is left.
    fn length(&mut self) -> Result<usize, String> {
        let n = self.long()?;
        usize::try_from(n)
            .ok()
            .filter(|n| *n <= self.bytes.len() - self.at)
            .ok_or_else(|| format!("a length of {n} does not fit the datum"))
    }

    /// The item count of an array or map block (a negative count is followed by the block's
    /// size in bytes, which is skipped); bounded by what is left.
    fn block_count(&mut self) -> Result<usize, String> {
        let n = self.long()?;
        let count = if n < 0 {
            self.long()?;
            n.checked_neg().ok_or("a block count is out of range")?
        } else {
            n
        };
        usize::try_from(count)
            .ok()
            .filter(|c| *c <= self.bytes.len().saturating_sub(self.at).max(1) * 8)
            .ok_or_else(|| format!("a block of {count} items does not fit the datum"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::SchemaType;

    fn parse(text: &str) -> AvroSchema {
        match AvroSchema::parse(text, &[]) {
            Ok(schema) => schema,
            Err(e) => panic!("{text} should parse: {e}"),
        }
    }

    fn parse_err(text: &str) -> String {
        match AvroSchema::parse(text, &[]) {
            Ok(schema) => panic!("{text} should not parse, got {}", schema.canonical()),
            Err(e) => e,
        }
    }

    /// A record `com.example.User` with the given fields (JSON text of the array's items).
    fn user(fields: &str) -> String {
        format!(
            r#"{{"type":"record","name":"User","namespace":"com.example","fields":[{fields}]}}"#
        )
    }

    /// (rule, writer, reader, compatible: the reader reads the writer's data)
    fn compatibility_table() -> Vec<(&'static str, String, String, bool)> {
        let id_name = r#"{"name":"id","type":"int"},{"name":"name","type":"string"}"#;
        let address = |fields: &str| {
            user(&format!(
                r#"{{"name":"id","type":"int"}},{{"name":"address","type":{{"type":"record","name":"Address","fields":[{fields}]}}}}"#
            ))
        };
        let list = |fields: &str| {
            format!(
                r#"{{"type":"record","name":"Node","fields":[{{"name":"value","type":"int"}},{{"name":"next","type":["null","Node"]}}{fields}]}}"#
            )
        };
        vec![
            (
                "field added with a default: the reader fills it in",
                user(id_name),
                user(&format!(
                    r#"{id_name},{{"name":"email","type":"string","default":""}}"#
                )),
                true,
            ),
            (
                "field added without a default: the reader has nothing to fill it with",
                user(id_name),
                user(&format!(r#"{id_name},{{"name":"email","type":"string"}}"#)),
                false,
            ),
            (
                "field removed: the reader skips the writer's extra field",
                user(id_name),
                user(r#"{"name":"id","type":"int"}"#),
                true,
            ),
            (
                "int -> long widened: a promotion",
                user(r#"{"name":"id","type":"int"}"#),
                user(r#"{"name":"id","type":"long"}"#),
                true,
            ),
            (
                "long -> int narrowed: no promotion",
                user(r#"{"name":"id","type":"long"}"#),
                user(r#"{"name":"id","type":"int"}"#),
                false,
            ),
            (
                "int -> double: a promotion",
                r#""int""#.to_string(),
                r#""double""#.to_string(),
                true,
            ),
            (
                "long -> float: a promotion",
                r#""long""#.to_string(),
                r#""float""#.to_string(),
                true,
            ),
            (
                "float -> double: a promotion",
                r#""float""#.to_string(),
                r#""double""#.to_string(),
                true,
            ),
            (
                "double -> float: no promotion",
                r#""double""#.to_string(),
                r#""float""#.to_string(),
                false,
            ),
            (
                "string -> bytes: a promotion",
                r#""string""#.to_string(),
                r#""bytes""#.to_string(),
                true,
            ),
            (
                "bytes -> string: a promotion",
                r#""bytes""#.to_string(),
                r#""string""#.to_string(),
                true,
            ),
            (
                "string -> int: different types",
                user(r#"{"name":"id","type":"string"}"#),
                user(r#"{"name":"id","type":"int"}"#),
                false,
            ),
            (
                "logical type on the same underlying type: read as the underlying type",
                r#"{"type":"long","logicalType":"timestamp-millis"}"#.to_string(),
                r#""long""#.to_string(),
                true,
            ),
            (
                "enum symbol added: the reader knows every symbol written",
                r#"{"type":"enum","name":"Color","symbols":["RED","GREEN"]}"#.to_string(),
                r#"{"type":"enum","name":"Color","symbols":["RED","GREEN","BLUE"]}"#.to_string(),
                true,
            ),
            (
                "enum symbol removed: the writer may write a symbol the reader lacks",
                r#"{"type":"enum","name":"Color","symbols":["RED","GREEN","BLUE"]}"#.to_string(),
                r#"{"type":"enum","name":"Color","symbols":["RED","GREEN"]}"#.to_string(),
                false,
            ),
            (
                "enum symbol removed, the reader enum has a default: unknown symbols read as it",
                r#"{"type":"enum","name":"Color","symbols":["RED","GREEN","BLUE"]}"#.to_string(),
                r#"{"type":"enum","name":"Color","symbols":["RED","GREEN"],"default":"RED"}"#
                    .to_string(),
                true,
            ),
            (
                "union widened: the reader's union has a branch for every writer branch",
                r#"["null","string"]"#.to_string(),
                r#"["null","string","int"]"#.to_string(),
                true,
            ),
            (
                "plain type -> union holding it",
                user(r#"{"name":"name","type":"string"}"#),
                user(r#"{"name":"name","type":["null","string"],"default":null}"#),
                true,
            ),
            (
                "union narrowed: the writer's null branch has no reader branch",
                r#"["null","string"]"#.to_string(),
                r#""string""#.to_string(),
                false,
            ),
            (
                "union -> plain type reading every branch by promotion",
                r#"["int","long"]"#.to_string(),
                r#""long""#.to_string(),
                true,
            ),
            (
                "union branch promoted: int is read by the reader's long branch",
                r#"["null","int"]"#.to_string(),
                r#"["null","long"]"#.to_string(),
                true,
            ),
            (
                "record renamed: names must match",
                user(id_name),
                user(id_name).replace("\"User\"", "\"Person\""),
                false,
            ),
            (
                "record renamed with the old full name as an alias",
                user(id_name),
                user(id_name).replace("\"User\"", "\"Person\",\"aliases\":[\"com.example.User\"]"),
                true,
            ),
            (
                "record namespace changed: names are compared unqualified",
                user(id_name),
                user(id_name).replace("com.example", "org.example"),
                true,
            ),
            (
                "field renamed with the old name as a field alias",
                user(id_name),
                user(
                    r#"{"name":"id","type":"int"},{"name":"full_name","type":"string","aliases":["name"]}"#,
                ),
                true,
            ),
            (
                "fixed size changed",
                r#"{"type":"fixed","name":"Hash","size":16}"#.to_string(),
                r#"{"type":"fixed","name":"Hash","size":8}"#.to_string(),
                false,
            ),
            (
                "fixed unchanged",
                r#"{"type":"fixed","name":"Hash","size":16}"#.to_string(),
                r#"{"type":"fixed","name":"Hash","size":16,"doc":"md5"}"#.to_string(),
                true,
            ),
            (
                "enum read as a string: different types",
                r#"{"type":"enum","name":"Color","symbols":["RED"]}"#.to_string(),
                r#""string""#.to_string(),
                false,
            ),
            (
                "nested record: field added without a default",
                address(r#"{"name":"street","type":"string"}"#),
                address(r#"{"name":"street","type":"string"},{"name":"zip","type":"string"}"#),
                false,
            ),
            (
                "nested record: field added with a default",
                address(r#"{"name":"street","type":"string"}"#),
                address(
                    r#"{"name":"street","type":"string"},{"name":"zip","type":"string","default":""}"#,
                ),
                true,
            ),
            (
                "nested record: field type narrowed",
                address(r#"{"name":"number","type":"long"}"#),
                address(r#"{"name":"number","type":"int"}"#),
                false,
            ),
            (
                "array items widened",
                r#"{"type":"array","items":"int"}"#.to_string(),
                r#"{"type":"array","items":"long"}"#.to_string(),
                true,
            ),
            (
                "array items narrowed",
                r#"{"type":"array","items":"long"}"#.to_string(),
                r#"{"type":"array","items":"int"}"#.to_string(),
                false,
            ),
            (
                "map values changed",
                r#"{"type":"map","values":"string"}"#.to_string(),
                r#"{"type":"map","values":"int"}"#.to_string(),
                false,
            ),
            (
                "array read as a map",
                r#"{"type":"array","items":"string"}"#.to_string(),
                r#"{"type":"map","values":"string"}"#.to_string(),
                false,
            ),
            ("recursive record unchanged", list(""), list(""), true),
            (
                "recursive record: field added without a default",
                list(""),
                list(r#",{"name":"label","type":"string"}"#),
                false,
            ),
        ]
    }

    #[test]
    fn compatibility_table_follows_avro_schema_resolution() {
        let mut wrong = Vec::new();
        for (rule, writer, reader, compatible) in compatibility_table() {
            let errors = parse(&reader).can_read(&parse(&writer));
            if errors.is_empty() != compatible {
                wrong.push(format!(
                    "{rule}: expected compatible={compatible}, got {errors:?}"
                ));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn incompatibilities_name_the_rule_and_the_place() {
        let writer = parse(&user(r#"{"name":"id","type":"long"}"#));
        let reader = parse(&user(
            r#"{"name":"id","type":"int"},{"name":"email","type":"string"}"#,
        ));
        let errors = reader.can_read(&writer);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].starts_with("TYPE_MISMATCH at '/fields/id'")
                && errors[0].contains("reader's int cannot read the writer's long"),
            "{errors:?}"
        );
        assert!(
            errors[1].starts_with("READER_FIELD_MISSING_DEFAULT_VALUE at '/fields/email'"),
            "{errors:?}"
        );
        let errors = parse(r#"{"type":"enum","name":"E","symbols":["A"]}"#).can_read(&parse(
            r#"{"type":"enum","name":"E","symbols":["A","B","C"]}"#,
        ));
        assert_eq!(
            errors,
            vec![
                "MISSING_ENUM_SYMBOLS at '/': the reader's enum 'E' lacks the writer's symbols \
                  [B, C] and has no default"
                    .to_string()
            ]
        );
    }

    #[test]
    fn parse_errors_are_reported() {
        assert!(parse_err("{").contains("invalid JSON"));
        assert!(parse_err("").contains("invalid JSON"));
        let unknown = parse_err(&user(r#"{"name":"a","type":"Foo"}"#));
        assert!(unknown.contains("Foo"), "{unknown}");
        assert!(parse_err(r#""nosuchtype""#).contains("invalid Avro schema"));
        // Defaults that do not match their field's type.
        parse_err(&user(r#"{"name":"a","type":"int","default":"x"}"#));
        parse_err(&user(r#"{"name":"a","type":"int","default":1.5}"#));
        parse_err(&user(r#"{"name":"a","type":"string","default":null}"#));
        parse_err(&user(r#"{"name":"a","type":"boolean","default":0}"#));
        parse_err(&user(r#"{"name":"a","type":"int","default":3000000000}"#));
        parse_err(&user(
            r#"{"name":"a","type":"long","default":10000000000000000000}"#,
        ));
        parse_err(&user(
            r#"{"name":"a","type":{"type":"map","values":"int"},"default":{"k":"v"}}"#,
        ));
        parse_err(&user(
            r#"{"name":"a","type":{"type":"enum","name":"E","symbols":["A"]},"default":"X"}"#,
        ));
        parse_err(&user(
            r#"{"name":"a","type":{"type":"array","items":"int"},"default":["x"]}"#,
        ));
        // An enum default that is not one of its symbols.
        parse_err(r#"{"type":"enum","name":"E","symbols":["A"],"default":"B"}"#);
        // Structure.
        parse_err(r#"{"type":"record","name":"R"}"#);
        parse_err(r#"{"type":"enum","name":"E","symbols":["A","A"]}"#);
        parse_err(r#"{"type":"fixed","name":"F"}"#);
        parse_err(&user(
            r#"{"name":"a","type":"int"},{"name":"a","type":"int"}"#,
        ));
        parse_err("42");
        // Valid defaults still parse.
        parse(&user(
            r#"{"name":"a","type":"long","default":1},{"name":"b","type":["null","string"],"default":null},{"name":"c","type":"bytes","default":"\u00ff"}"#,
        ));
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_refused_without_overflowing_a_small_stack() {
        // A tokio worker thread's stack is 2 MiB.
        let outcome = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(|| {
                let nested = |depth: usize| {
                    let mut text = r#""int""#.to_string();
                    for _ in 0..depth {
                        text = format!(r#"{{"type":"array","items":{text}}}"#);
                    }
                    text
                };
                let deep = AvroSchema::parse(&nested(100), &[]).map(|_| ());
                let shallow = AvroSchema::parse(&nested(MAX_DEPTH), &[]).map(|_| ());
                // Records in records, as deep as serde_json lets them nest (3 JSON levels each).
                let mut records = r#""int""#.to_string();
                for level in 0..42 {
                    records = format!(
                        r#"{{"type":"record","name":"R{level}","fields":[{{"name":"f","type":{records}}}]}}"#
                    );
                }
                let records = AvroSchema::parse(&records, &[]).map(|s| s.can_read(&s));
                let unions = AvroSchema::parse(
                    &format!("{}\"int\"{}", "[".repeat(120), "]".repeat(120)),
                    &[],
                )
                .map(|_| ());
                (deep, shallow, unions, records)
            })
            .map(|handle| handle.join());
        let Ok(Ok((deep, shallow, unions, records))) = outcome else {
            panic!("the parsing thread died");
        };
        assert!(
            deep.as_ref().is_err_and(|e| e.contains("deeper than 64")),
            "{deep:?}"
        );
        assert!(shallow.is_ok(), "{shallow:?}");
        assert!(unions.is_err());
        assert!(records.as_ref().is_ok_and(Vec::is_empty), "{records:?}");
    }

    #[test]
    fn odd_inputs_give_errors_not_panics() {
        let inputs = [
            "null",
            "[]",
            "{}",
            "[[]]",
            "true",
            r#"{"type":null}"#,
            r#"{"type":{}}"#,
            r#"{"type":{"type":{"type":"int"}}}"#,
            r#"{"type":"record","name":"R","fields":{}}"#,
            r#"{"type":"record","name":"R","fields":[1]}"#,
            r#"{"type":"record","name":"R","fields":[{"name":"a"}]}"#,
            r#"{"type":"record","name":"","fields":[]}"#,
            r#"{"type":"record","name":"a..b","fields":[]}"#,
            r#"{"type":"enum","name":"E","symbols":[1]}"#,
            r#"{"type":"enum","name":"E","symbols":"A"}"#,
            r#"{"type":"fixed","name":"F","size":-1}"#,
            r#"{"type":"fixed","name":"F","size":1e30}"#,
            r#"{"type":"array"}"#,
            r#"{"type":"map","values":[]}"#,
            r#"["int","int"]"#,
            r#"[["int"]]"#,
            r#"{"type":"bytes","logicalType":"decimal","precision":-1}"#,
            r#"{"type":"bytes","logicalType":"decimal","precision":2,"scale":5}"#,
            r#"{"type":"fixed","name":"U","size":3,"logicalType":"uuid"}"#,
            r#"{"type":"fixed","name":"D","size":12,"logicalType":"duration"}"#,
            r#"{"type":"string","logicalType":"uuid"}"#,
            r#"{"type":"int","logicalType":"nope"}"#,
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"R"}]}"#,
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"R","default":{}}]}"#,
        ];
        let mut parsed = Vec::new();
        for input in inputs {
            if let Ok(schema) = AvroSchema::parse(input, &[]) {
                let again = AvroSchema::parse(&schema.canonical(), &[]);
                assert!(
                    again.is_ok(),
                    "{input}: canonical {} fails: {again:?}",
                    schema.canonical()
                );
                parsed.push(schema);
            }
        }
        for reader in &parsed {
            for writer in &parsed {
                let _ = reader.can_read(writer);
            }
        }
    }

    #[test]
    fn canonical_text_ignores_layout() {
        let a = r#"{"type":"record","name":"User","namespace":"com.example","doc":"a user",
            "fields":[{"name":"id","type":{"type":"int"}},
                      {"name":"tags","type":{"type":"array","items":{"type":"string"}},"default":[]}]}"#;
        let b = r#"
            {
              "fields" : [ {"type": "int", "name": "id"},
                           {"default": [], "name": "tags", "type": {"items": "string", "type": "array"}} ],
              "doc": "a user", "namespace": "com.example",
              "name": "User", "type": "record"
            }"#;
        assert_eq!(parse(a).canonical(), parse(b).canonical());
        assert_eq!(
            parse(a).canonical(),
            r#"{"doc":"a user","fields":[{"name":"id","type":"int"},{"default":[],"name":"tags","type":{"items":"string","type":"array"}}],"name":"User","namespace":"com.example","type":"record"}"#
        );
        // The canonical text is a schema meaning the same.
        let canonical = parse(a).canonical();
        assert_eq!(parse(&canonical).canonical(), canonical);
        assert!(parse(&canonical).can_read(&parse(a)).is_empty());
    }

    #[test]
    fn canonical_text_keeps_what_readers_need() {
        let text = r#"{"type":"record","name":"R","aliases":["Old"],"fields":[
            {"name":"m","type":{"type":"map","values":"string"},"default":{"type":"int"},"order":"ignore"},
            {"name":"t","type":{"type":"long","logicalType":"timestamp-millis"},"x-custom":{"type":"int"}},
            {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"],"default":"A","doc":"d"}}]}"#;
        let canonical = parse(text).canonical();
        for kept in [
            r#""aliases":["Old"]"#,
            r#""default":{"type":"int"}"#,
            r#""order":"ignore""#,
            r#""logicalType":"timestamp-millis""#,
            r#""x-custom":{"type":"int"}"#,
            r#""default":"A""#,
            r#""doc":"d""#,
        ] {
            assert!(canonical.contains(kept), "{kept} missing from {canonical}");
        }
        // Different schemas stay different.
        assert_ne!(
            parse(&user(r#"{"name":"id","type":"int"}"#)).canonical(),
            parse(&user(r#"{"name":"id","type":"long"}"#)).canonical()
        );
    }

    fn dependency(name: &str, schema: &str) -> Dependency {
        Dependency {
            name: name.to_string(),
            schema_type: SchemaType::Avro,
            schema: schema.to_string(),
        }
    }

    #[test]
    fn references_resolve_named_types_of_dependencies() {
        let address = r#"{"type":"record","name":"Address","namespace":"com.example","fields":[{"name":"street","type":"string"}]}"#;
        let country =
            r#"{"type":"enum","name":"Country","namespace":"com.example","symbols":["FR","DE"]}"#;
        let address_with_country = r#"{"type":"record","name":"Address","namespace":"com.example","fields":[{"name":"street","type":"string"},{"name":"country","type":"Country"}]}"#;
        let text = user(
            r#"{"name":"home","type":"com.example.Address"},{"name":"work","type":["null","Address"],"default":null}"#,
        );
        let with_refs = AvroSchema::parse(
            &text,
            &[
                dependency("com.example.Country", country),
                dependency("com.example.Address", address_with_country),
                dependency("com.example.Country", country),
            ],
        );
        assert!(with_refs.is_ok(), "{with_refs:?}");
        // Listed in the wrong order, still resolved.
        let reordered = AvroSchema::parse(
            &text,
            &[
                dependency("com.example.Address", address_with_country),
                dependency("com.example.Country", country),
            ],
        );
        assert!(reordered.is_ok(), "{reordered:?}");
        // The canonical text is the referrer's own text, the reference by name.
        let Ok(with_refs) = with_refs else { return };
        assert!(with_refs
            .canonical()
            .contains(r#""type":"com.example.Address""#));
        // Missing reference.
        let missing = AvroSchema::parse(&text, &[]);
        assert!(
            missing.as_ref().is_err_and(|e| e.contains("Address")),
            "{missing:?}"
        );
        // An invalid referenced schema.
        let bad = AvroSchema::parse(&text, &[dependency("com.example.Address", "{")]);
        assert!(
            bad.as_ref()
                .is_err_and(|e| e.contains("com.example.Address")),
            "{bad:?}"
        );
        // Compatibility across a reference: the same record written inline reads fine, a
        // referenced record that gained a field without default does not.
        let inline = parse(&user(&format!(
            r#"{{"name":"home","type":{address}}},{{"name":"work","type":["null","Address"],"default":null}}"#
        )));
        let Ok(plain) = AvroSchema::parse(&text, &[dependency("com.example.Address", address)])
        else {
            panic!("plain reference should parse");
        };
        assert!(
            plain.can_read(&inline).is_empty(),
            "{:?}",
            plain.can_read(&inline)
        );
        assert!(inline.can_read(&plain).is_empty());
        assert!(!with_refs.can_read(&inline).is_empty());
    }
}
