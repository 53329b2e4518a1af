//! JSON Schema schemas (Confluent's `JSON` format).
//!
//! - Parsing: the text must be a JSON object or boolean, valid against its draft's meta-schema
//!   (draft from `$schema`; draft 7 when absent, as Confluent), compiled by the `jsonschema`
//!   crate so every `$ref` resolves: local ones, and others to a referenced schema whose
//!   reference name is the `$ref` URL (nothing is fetched from the network).
//! - Canonical text: compact JSON, object keys sorted.
//! - Compatibility: Confluent's JSON Schema rules (its `SchemaDiff`), with the same change
//!   names in the messages. Checked: types (a type the writer allows must be allowed by the
//!   reader; integer -> number widens), `enum`/`const`, string `maxLength`/`minLength`/`pattern`,
//!   number `maximum`/`minimum` (inclusive and exclusive, draft 4 booleans too)/`multipleOf`,
//!   objects: properties added or removed under the open (no `additionalProperties`, or `true`),
//!   partially open (`additionalProperties` a schema) and closed (`false`) content models,
//!   `required` added (fine with a `default`) or removed, `additionalProperties` changes,
//!   `maxProperties`/`minProperties`; arrays: `items` (one schema or a tuple, with
//!   `additionalItems`/`prefixItems`), `maxItems`/`minItems`/`uniqueItems`; nested schemas
//!   recursively through `$ref` (recursive schemas included); `allOf` merged into one schema;
//!   `oneOf`/`anyOf` as sums (every writer branch read by a reader branch).
//!   Not checked: `patternProperties` patterns (a property they would cover counts as not
//!   covered), `not`, `if`/`then`/`else`, `dependencies`/`dependentSchemas`, `contains`,
//!   `propertyNames`, `unevaluated*`, `format`; a `$ref` stands for its target (keywords beside
//!   it are not compared); `$ref`s by `$id`/anchor that are not a JSON pointer are read as any
//!   schema.
//! - Bounds (the input comes from HTTP): the check follows nesting and `$ref`s [`MAX_DEPTH`]
//!   levels deep and compares at most `MAX_STEPS` schema pairs; beyond either it reports the
//!   schemas incompatible (TOO_DEEP, TOO_COMPLEX) instead of recursing on.

use std::collections::{BTreeSet, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};

use jsonschema::{Draft, Retrieve, Uri};
use serde_json::{Map, Value};

use crate::avro::write_sorted;
use crate::format::Dependency;

/// How deep the compatibility check follows nested schemas, `$ref`s included; beyond it the
/// schemas are reported incompatible rather than recursed into. Parsing is bounded by
/// serde_json's nesting limit (128).
pub const MAX_DEPTH: usize = 64;

/// How many schema pairs one check compares at most: nested `oneOf`s multiply the pairs, and
/// the input comes from HTTP. Beyond it the schemas are reported incompatible.
const MAX_STEPS: usize = 100_000;

#[derive(Clone, Debug)]
pub struct JsonSchema {
    canonical: String,
    validator: CompiledValidator,
    root: Value,
    /// Referenced schemas under the name (URL) `$ref` uses for them.
    dependencies: Vec<(String, Value)>,
}

impl JsonSchema {
    pub fn parse(text: &str, dependencies: &[Dependency]) -> Result<JsonSchema, String> {
        let root: Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
        if !root.is_object() && !root.is_boolean() {
            return Err("a JSON Schema must be a JSON object or boolean".to_string());
        }
        let mut parsed_dependencies = Vec::with_capacity(dependencies.len());
        for dependency in dependencies {
            let value: Value = serde_json::from_str(&dependency.schema).map_err(|e| {
                format!(
                    "referenced schema '{}' is not valid JSON: {e}",
                    dependency.name
                )
            })?;
            parsed_dependencies.push((dependency.name.clone(), value));
        }
        let draft = Draft::Draft7.detect(&root);
        if draft == Draft::Unknown {
            return Err(format!(
                "unsupported $schema {}: drafts 4, 6, 7, 2019-09 and 2020-12 are",
                root.get("$schema").unwrap_or(&Value::Null)
            ));
        }
        let retriever = DependencyRetriever {
            dependencies: parsed_dependencies.clone(),
        };
        // Compiling checks the schema against its meta-schema and resolves every $ref. The
        // compiler is third-party code fed with user input: a panic in it becomes an invalid
        // schema, not a dead request handler.
        let compiled = catch_unwind(AssertUnwindSafe(|| {
            jsonschema::options()
                .with_draft(draft)
                .with_retriever(retriever)
                .build(&root)
                .map_err(|e| {
                    let path = e.instance_path().to_string();
                    if path.is_empty() {
                        format!("invalid JSON Schema: {e}")
                    } else {
                        format!("invalid JSON Schema at {path}: {e}")
                    }
                })
        }));
        let validator = match compiled {
            Ok(result) => CompiledValidator(std::sync::Arc::new(result?)),
            Err(_) => return Err("invalid JSON Schema: the compiler failed on it".to_string()),
        };
        let mut canonical = String::new();
        write_sorted(&root, &mut canonical);
        Ok(JsonSchema {
            canonical,
            validator,
            root,
            dependencies: parsed_dependencies,
        })
    }

    /// The payload of `value` if it is valid for this schema (its compact JSON text), else
    /// the first reasons it is not.
    pub fn encode(&self, value: &Value) -> Result<Vec<u8>, String> {
        let problems: Vec<String> = self
            .validator
            .0
            .iter_errors(value)
            .take(3)
            .map(|e| {
                let at = e.instance_path().to_string();
                if at.is_empty() {
                    e.to_string()
                } else {
                    format!("{at}: {e}")
                }
            })
            .collect();
        if !problems.is_empty() {
            return Err(format!("not valid for the schema: {}", problems.join("; ")));
        }
        serde_json::to_vec(value).map_err(|e| e.to_string())
    }

    /// A payload written with this schema (after the registry's 5-byte header): its JSON.
    pub fn decode(&self, bytes: &[u8]) -> Result<Value, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))
    }

    pub fn canonical(&self) -> String {
        self.canonical.clone()
    }

    /// Why data valid under `writer` may be invalid under `self`; empty when it never is.
    pub fn can_read(&self, writer: &JsonSchema) -> Vec<String> {
        let mut checker = Checker {
            reader: self,
            writer,
            in_progress: HashSet::new(),
            depth: 0,
            steps: 0,
        };
        let mut errors = Vec::new();
        // The root schemas, compared as children of their documents.
        let document = Expanded {
            document: None,
            value: Value::Null,
            refs: Vec::new(),
        };
        checker.compare_children(
            &document,
            &self.root,
            &document,
            &writer.root,
            "",
            &mut errors,
        );
        if checker.steps > MAX_STEPS {
            errors.push(format!(
                "TOO_COMPLEX at '/': comparing the schemas takes more than {MAX_STEPS} steps"
            ));
        }
        let mut seen = HashSet::new();
        errors.retain(|e| seen.insert(e.clone()));
        errors
    }

    /// The document a `$ref` names: a referenced schema, by its reference name or as the end of
    /// the resolved URL.
    fn dependency(&self, url: &str) -> Option<(usize, &Value)> {
        find_dependency(&self.dependencies, url)
    }
}

fn find_dependency<'a>(
    dependencies: &'a [(String, Value)],
    url: &str,
) -> Option<(usize, &'a Value)> {
    dependencies
        .iter()
        .enumerate()
        .find(|(_, (name, _))| {
            name == url
                || url.strip_prefix("json-schema:///") == Some(name.as_str())
                || url
                    .strip_suffix(name.as_str())
                    .is_some_and(|head| head.ends_with('/'))
        })
        .map(|(index, (_, value))| (index, value))
}

/// Serves the referenced schemas to the `jsonschema` compiler; anything else is unresolvable.
struct DependencyRetriever {
    dependencies: Vec<(String, Value)>,
}

impl Retrieve for DependencyRetriever {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let url = uri.as_str();
        let url = url.split('#').next().unwrap_or(url);
        match find_dependency(&self.dependencies, url) {
            Some((_, value)) => Ok(value.clone()),
            None => {
                Err(format!("'{url}' is neither in this schema nor a referenced schema").into())
            }
        }
    }
}

/// A schema after `$ref` and `allOf` are expanded; owned, since `allOf` merges parts.
struct Expanded<'a> {
    document: Option<usize>,
    value: Value,
    /// The `$ref` targets followed to get here, to stop at recursion.
    refs: Vec<&'a Value>,
}

/// The keywords that constrain a value; any other (titles, docs, defaults, `format`, custom
/// keywords such as Confluent's `connect.index`) is an annotation.
const ASSERTIONS: [&str; 42] = [
    "type",
    "enum",
    "const",
    "multipleOf",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "items",
    "prefixItems",
    "additionalItems",
    "maxItems",
    "minItems",
    "uniqueItems",
    "contains",
    "maxContains",
    "minContains",
    "maxProperties",
    "minProperties",
    "required",
    "properties",
    "patternProperties",
    "additionalProperties",
    "dependencies",
    "dependentRequired",
    "dependentSchemas",
    "propertyNames",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "$ref",
    "$dynamicRef",
    "$recursiveRef",
    "unevaluatedProperties",
    "unevaluatedItems",
];

struct Checker<'a> {
    reader: &'a JsonSchema,
    writer: &'a JsonSchema,
    /// Pairs of `$ref` targets (by address) being compared: met again inside themselves, they
    /// count as compatible (a recursive schema against a recursive schema).
    in_progress: HashSet<(usize, usize)>,
    depth: usize,
    /// Schema pairs compared so far; see [`MAX_STEPS`].
    steps: usize,
}

impl<'a> Checker<'a> {
    fn compare_expanded(
        &mut self,
        reader: &Expanded<'a>,
        writer: &Expanded<'a>,
        path: &str,
        errors: &mut Vec<String>,
    ) {
        let at = if path.is_empty() { "/" } else { path };
        self.steps += 1;
        if self.steps > MAX_STEPS {
            errors.push(format!(
                "TOO_COMPLEX at '{at}': the schemas are too complex to compare"
            ));
            return;
        }
        if self.depth >= MAX_DEPTH {
            errors.push(format!(
                "TOO_DEEP at '{at}': the schemas nest deeper than {MAX_DEPTH} levels"
            ));
            return;
        }
        // Booleans: `true` accepts anything, `false` nothing.
        if writer.value == Value::Bool(false) || accepts_anything(&reader.value) {
            return;
        }
        if reader.value == Value::Bool(false) {
            errors.push(format!(
                "TYPE_NARROWED at '{at}': the reader schema accepts nothing"
            ));
            return;
        }
        let empty = Map::new();
        let r = reader.value.as_object().unwrap_or(&empty);
        let w = writer.value.as_object().unwrap_or(&empty);

        // Sums: every branch the writer may have written is read by the reader.
        if let Some(branches) = sum_branches(w) {
            let base = without_sums(w);
            for (i, branch) in branches.iter().enumerate() {
                let branch = self.branch(self.writer, writer, &base, branch);
                let mut found = Vec::new();
                self.depth += 1;
                self.compare_expanded(reader, &branch, path, &mut found);
                self.depth -= 1;
                if !found.is_empty() {
                    errors.push(format!(
                        "SUM_TYPE_NARROWED at '{at}': the writer's branch {i} is not read by \
                         the reader"
                    ));
                    errors.extend(found);
                }
            }
            return;
        }
        if let Some(branches) = sum_branches(r) {
            let base = without_sums(r);
            let readable = branches.iter().any(|branch| {
                let branch = self.branch(self.reader, reader, &base, branch);
                let mut scratch = Vec::new();
                self.depth += 1;
                self.compare_expanded(&branch, writer, path, &mut scratch);
                self.depth -= 1;
                scratch.is_empty()
            });
            if !readable {
                errors.push(format!(
                    "SUM_TYPE_NARROWED at '{at}': no branch of the reader's oneOf/anyOf reads \
                     the writer's schema"
                ));
            }
            return;
        }

        let reader_types = types_of(r);
        let writer_types = types_of(w);
        match (&reader_types, &writer_types) {
            (None, _) => {}
            (Some(rt), None) => errors.push(format!(
                "TYPE_NARROWED at '{at}': the writer allows any type, the reader only {}",
                join(rt)
            )),
            (Some(rt), Some(wt)) => {
                let uncovered: Vec<&str> = wt.iter().filter(|t| !covers(rt, t)).copied().collect();
                if !uncovered.is_empty() {
                    let change = if rt.iter().all(|t| wt.contains(t) || *t == "integer") {
                        "TYPE_NARROWED"
                    } else {
                        "TYPE_CHANGED"
                    };
                    errors.push(format!(
                        "{change} at '{at}': the reader does not allow {} that the writer allows \
                         (reader {}, writer {})",
                        uncovered.join(", "),
                        join(rt),
                        join(wt)
                    ));
                    return;
                }
            }
        }
        // What both may hold: the constraints on it are compared.
        let shared = |kind: &str| {
            let in_set = |set: &Option<BTreeSet<&str>>| match set {
                None => true,
                Some(set) => set.contains(kind) || (kind == "number" && set.contains("integer")),
            };
            in_set(&reader_types) && in_set(&writer_types)
        };
        compare_enum(r, w, at, errors);
        if shared("string") {
            compare_upper(r, w, "maxLength", "MAX_LENGTH", at, errors);
            compare_lower(r, w, "minLength", "MIN_LENGTH", at, errors);
            if let Some(pattern) = r.get("pattern") {
                match w.get("pattern") {
                    Some(w_pattern) if w_pattern == pattern => {}
                    Some(_) => errors.push(format!(
                        "PATTERN_CHANGED at '{at}': the reader's pattern differs from the writer's"
                    )),
                    None => errors.push(format!(
                        "PATTERN_ADDED at '{at}': the reader adds the pattern {pattern}"
                    )),
                }
            }
        }
        if shared("number") {
            compare_number_range(r, w, at, errors);
            if let Some(r_multiple) = r.get("multipleOf").and_then(Value::as_f64) {
                match w.get("multipleOf").and_then(Value::as_f64) {
                    Some(w_multiple) if is_multiple(w_multiple, r_multiple) => {}
                    Some(w_multiple) => errors.push(format!(
                        "MULTIPLE_OF_CHANGED at '{at}': the writer's multipleOf {w_multiple} is \
                         not a multiple of the reader's {r_multiple}"
                    )),
                    None => errors.push(format!(
                        "MULTIPLE_OF_ADDED at '{at}': the reader adds multipleOf {r_multiple}"
                    )),
                }
            }
        }
        if shared("object") {
            self.compare_objects(reader, writer, r, w, path, errors);
        }
        if shared("array") {
            self.compare_arrays(reader, writer, r, w, path, errors);
        }
    }

    fn compare_objects(
        &mut self,
        reader: &Expanded<'a>,
        writer: &Expanded<'a>,
        r: &Map<String, Value>,
        w: &Map<String, Value>,
        path: &str,
        errors: &mut Vec<String>,
    ) {
        let at = if path.is_empty() { "/" } else { path };
        let r_model = ContentModel::of(r);
        let w_model = ContentModel::of(w);
        match (&r_model, &w_model) {
            (ContentModel::Closed, ContentModel::Open | ContentModel::Partial(_)) => {
                errors.push(format!(
                    "ADDITIONAL_PROPERTIES_REMOVED at '{at}': the reader allows no additional \
                     properties, the writer does"
                ))
            }
            (ContentModel::Partial(_), ContentModel::Open) => errors.push(format!(
                "ADDITIONAL_PROPERTIES_NARROWED at '{at}': the reader constrains additional \
                 properties the writer leaves open"
            )),
            (ContentModel::Partial(r_extra), ContentModel::Partial(w_extra)) => {
                self.compare_children(
                    reader,
                    r_extra,
                    writer,
                    w_extra,
                    &format!("{path}/additionalProperties"),
                    errors,
                );
            }
            _ => {}
        }

        let empty = Map::new();
        let r_properties = r
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let w_properties = w
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let r_required = required_of(r);
        let w_required = required_of(w);
        let has_default =
            |property: Option<&Value>| property.and_then(|p| p.get("default")).is_some();

        for name in &r_required {
            if !w_required.contains(name) && !has_default(r_properties.get(*name)) {
                errors.push(format!(
                    "REQUIRED_ATTRIBUTE_ADDED at '{path}/required': the reader requires '{name}', \
                     which the writer does not, and gives it no default"
                ));
            }
        }

        for (name, w_property) in w_properties {
            let property_path = format!("{path}/properties/{name}");
            match r_properties.get(name) {
                Some(r_property) => self.compare_children(
                    reader,
                    r_property,
                    writer,
                    w_property,
                    &property_path,
                    errors,
                ),
                None => match &r_model {
                    ContentModel::Open => {}
                    ContentModel::Partial(r_extra) => {
                        let mut found = Vec::new();
                        self.compare_children(
                            reader,
                            r_extra,
                            writer,
                            w_property,
                            &property_path,
                            &mut found,
                        );
                        if !found.is_empty() {
                            errors.push(format!(
                                "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL at \
                                 '{property_path}': the reader's additionalProperties does not \
                                 read the writer's property '{name}'"
                            ));
                            errors.extend(found);
                        }
                    }
                    ContentModel::Closed => errors.push(format!(
                        "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL at '{property_path}': the \
                         reader has no property '{name}' and allows no additional properties"
                    )),
                },
            }
        }
        for (name, r_property) in r_properties {
            if w_properties.contains_key(name) {
                continue;
            }
            let property_path = format!("{path}/properties/{name}");
            match &w_model {
                ContentModel::Open => {
                    if !accepts_anything(r_property) {
                        errors.push(format!(
                            "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL at '{property_path}': the \
                             writer may have written any value as '{name}'"
                        ));
                    }
                }
                ContentModel::Partial(w_extra) => {
                    let mut found = Vec::new();
                    self.compare_children(
                        reader,
                        r_property,
                        writer,
                        w_extra,
                        &property_path,
                        &mut found,
                    );
                    if !found.is_empty() {
                        errors.push(format!(
                            "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL at \
                             '{property_path}': the reader's property '{name}' does not read the \
                             writer's additionalProperties"
                        ));
                        errors.extend(found);
                    }
                }
                ContentModel::Closed => {
                    if r_required.contains(&name.as_str()) && r_property.get("default").is_none() {
                        errors.push(format!(
                            "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL at \
                             '{property_path}': the reader requires '{name}', without a default"
                        ));
                    }
                }
            }
        }
        compare_upper(r, w, "maxProperties", "MAX_PROPERTIES", at, errors);
        compare_lower(r, w, "minProperties", "MIN_PROPERTIES", at, errors);
    }

    fn compare_arrays(
        &mut self,
        reader: &Expanded<'a>,
        writer: &Expanded<'a>,
        r: &Map<String, Value>,
        w: &Map<String, Value>,
        path: &str,
        errors: &mut Vec<String>,
    ) {
        let at = if path.is_empty() { "/" } else { path };
        let anything = Value::Bool(true);
        let (r_tuple, r_rest) = items_of(r, &anything);
        let (w_tuple, w_rest) = items_of(w, &anything);
        let positions = r_tuple.len().max(w_tuple.len());
        for i in 0..positions {
            let r_item = r_tuple.get(i).copied().unwrap_or(r_rest);
            let w_item = w_tuple.get(i).copied().unwrap_or(w_rest);
            self.compare_children(
                reader,
                r_item,
                writer,
                w_item,
                &format!("{path}/items/{i}"),
                errors,
            );
        }
        self.compare_children(
            reader,
            r_rest,
            writer,
            w_rest,
            &format!("{path}/items"),
            errors,
        );
        compare_upper(r, w, "maxItems", "MAX_ITEMS", at, errors);
        compare_lower(r, w, "minItems", "MIN_ITEMS", at, errors);
        let unique = |o: &Map<String, Value>| o.get("uniqueItems") == Some(&Value::Bool(true));
        if unique(r) && !unique(w) {
            errors.push(format!(
                "UNIQUE_ITEMS_ADDED at '{at}': the reader wants unique items, the writer does not"
            ));
        }
    }

    /// Follows `$ref`s (up to a bound) and merges `allOf` parts into one schema.
    /// `all_of_chain` holds the `$ref` targets whose `allOf` is being merged: a part naming one
    /// of them again adds nothing new and counts as `true`.
    fn expand(
        &mut self,
        schema: &'a JsonSchema,
        mut node: Expanded<'a>,
        all_of_chain: &mut Vec<usize>,
    ) -> Expanded<'a> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return node;
        }
        let chain_mark = all_of_chain.len();
        for _ in 0..MAX_DEPTH {
            let Some(Value::String(reference)) = node.value.get("$ref") else {
                break;
            };
            let Some((document, target)) = resolve_ref(schema, node.document, reference) else {
                // Unresolvable here (an `$id` or anchor): read as any schema.
                break;
            };
            let address = target as *const Value as usize;
            if all_of_chain.contains(&address) {
                node.value = Value::Bool(true);
                break;
            }
            all_of_chain.push(address);
            node.document = document;
            node.refs.push(target);
            node.value = target.clone();
        }
        // allOf: data valid under all parts, merged into one schema.
        if let Some(Value::Array(parts)) = node.value.get("allOf").cloned() {
            let mut merged = match &node.value {
                Value::Object(object) => {
                    let mut object = object.clone();
                    object.remove("allOf");
                    Value::Object(object)
                }
                other => other.clone(),
            };
            for part in &parts {
                let part = Expanded {
                    document: node.document,
                    value: part.clone(),
                    refs: Vec::new(),
                };
                let part = self.expand(schema, part, all_of_chain);
                merged = merge(&merged, &part.value);
            }
            node.value = merged;
        }
        all_of_chain.truncate(chain_mark);
        node
    }

    /// A `oneOf`/`anyOf` branch with the keywords beside the `oneOf`/`anyOf` merged in.
    fn branch(
        &mut self,
        schema: &'a JsonSchema,
        parent: &Expanded<'a>,
        base: &Value,
        branch: &Value,
    ) -> Expanded<'a> {
        let expanded = self.expand(
            schema,
            Expanded {
                document: parent.document,
                value: branch.clone(),
                refs: parent.refs.clone(),
            },
            &mut Vec::new(),
        );
        Expanded {
            document: expanded.document,
            value: merge(base, &expanded.value),
            refs: expanded.refs,
        }
    }

    /// Compares two subschemas found inside `reader` and `writer` (their documents kept for
    /// their local `$ref`s).
    fn compare_children(
        &mut self,
        reader: &Expanded<'a>,
        r_child: &Value,
        writer: &Expanded<'a>,
        w_child: &Value,
        path: &str,
        errors: &mut Vec<String>,
    ) {
        // The children live in the expanded (owned) values; the check re-roots them in their
        // documents by value, which is enough for local `$ref`s (they name document paths).
        let r_owned = r_child.clone();
        let w_owned = w_child.clone();
        let reader_node = Expanded {
            document: reader.document,
            value: r_owned,
            refs: reader.refs.clone(),
        };
        let writer_node = Expanded {
            document: writer.document,
            value: w_owned,
            refs: writer.refs.clone(),
        };
        if self.depth >= MAX_DEPTH {
            let at = if path.is_empty() { "/" } else { path };
            errors.push(format!(
                "TOO_DEEP at '{at}': the schemas nest deeper than {MAX_DEPTH} levels"
            ));
            return;
        }
        let reader_schema = self.reader;
        let writer_schema = self.writer;
        let reader_node = self.expand(reader_schema, reader_node, &mut Vec::new());
        let writer_node = self.expand(writer_schema, writer_node, &mut Vec::new());
        let key = (
            reader_node
                .refs
                .last()
                .map_or(0, |v| *v as *const Value as usize),
            writer_node
                .refs
                .last()
                .map_or(0, |v| *v as *const Value as usize),
        );
        // Recursion is only through `$ref`s: a pair of targets met again inside itself.
        let recursive = reader_node.refs.len() > reader.refs.len()
            && writer_node.refs.len() > writer.refs.len();
        if recursive && !self.in_progress.insert(key) {
            return;
        }
        self.depth += 1;
        self.compare_expanded(&reader_node, &writer_node, path, errors);
        self.depth -= 1;
        if recursive {
            self.in_progress.remove(&key);
        }
    }
}

/// The schema a `$ref` names: a JSON pointer into the same document, or a referenced schema
/// (with an optional pointer after `#`).
fn resolve_ref<'a>(
    schema: &'a JsonSchema,
    document: Option<usize>,
    reference: &str,
) -> Option<(Option<usize>, &'a Value)> {
    let (url, fragment) = match reference.split_once('#') {
        Some((url, fragment)) => (url, fragment),
        None => (reference, ""),
    };
    let (document, root) = if url.is_empty() {
        match document {
            None => (None, &schema.root),
            Some(index) => (Some(index), &schema.dependencies.get(index)?.1),
        }
    } else {
        let (index, value) = schema.dependency(url)?;
        (Some(index), value)
    };
    if fragment.is_empty() {
        return Some((document, root));
    }
    if !fragment.starts_with('/') {
        return None;
    }
    root.pointer(fragment).map(|target| (document, target))
}

/// Open: any additional property; Partial: additional properties valid under a schema;
/// Closed: none (`additionalProperties: false`).
enum ContentModel {
    Open,
    Partial(Value),
    Closed,
}

impl ContentModel {
    fn of(object: &Map<String, Value>) -> ContentModel {
        match object.get("additionalProperties") {
            None | Some(Value::Bool(true)) => {
                if object
                    .get("patternProperties")
                    .and_then(Value::as_object)
                    .is_some_and(|p| !p.is_empty())
                {
                    // Patterns not evaluated: properties they would cover count as not covered.
                    ContentModel::Closed
                } else {
                    ContentModel::Open
                }
            }
            Some(Value::Bool(false)) => ContentModel::Closed,
            Some(schema) if accepts_anything(schema) => ContentModel::Open,
            Some(schema) => ContentModel::Partial(schema.clone()),
        }
    }
}

/// A schema with no constraint: `true`, or an object holding only annotations.
fn accepts_anything(schema: &Value) -> bool {
    match schema {
        Value::Bool(b) => *b,
        Value::Object(object) => object.keys().all(|k| !ASSERTIONS.contains(&k.as_str())),
        _ => false,
    }
}

/// The types a schema allows; `None` for any. Without `type`, an `enum`/`const` tells.
fn types_of(object: &Map<String, Value>) -> Option<BTreeSet<&'static str>> {
    const TYPES: [&str; 7] = [
        "null", "boolean", "object", "array", "number", "integer", "string",
    ];
    let named = |name: &str| TYPES.iter().find(|t| **t == name).copied();
    match object.get("type") {
        Some(Value::String(name)) => Some(named(name).into_iter().collect()),
        Some(Value::Array(names)) => Some(
            names
                .iter()
                .filter_map(Value::as_str)
                .filter_map(named)
                .collect(),
        ),
        _ => {
            let values: Vec<&Value> = match (object.get("const"), object.get("enum")) {
                (Some(value), _) => vec![value],
                (None, Some(Value::Array(values))) => values.iter().collect(),
                _ => return None,
            };
            Some(values.into_iter().map(type_of_value).collect())
        }
    }
}

fn type_of_value(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Whether a reader allowing `types` accepts values of type `kind` (a number reads integers).
fn covers(types: &BTreeSet<&str>, kind: &str) -> bool {
    types.contains(kind) || (kind == "integer" && types.contains("number"))
}

fn join(types: &BTreeSet<&str>) -> String {
    types.iter().copied().collect::<Vec<_>>().join("|")
}

fn required_of(object: &Map<String, Value>) -> Vec<&str> {
    match object.get("required") {
        Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The branches of a `oneOf` or `anyOf`.
fn sum_branches(object: &Map<String, Value>) -> Option<&Vec<Value>> {
    ["oneOf", "anyOf"]
        .iter()
        .find_map(|key| object.get(*key).and_then(Value::as_array))
}

fn without_sums(object: &Map<String, Value>) -> Value {
    let mut object = object.clone();
    object.remove("oneOf");
    object.remove("anyOf");
    Value::Object(object)
}

/// Two schemas' constraints as one: properties and required lists joined, other keywords
/// of `extra` winning. An approximation of "valid under both", enough for comparing.
fn merge(base: &Value, extra: &Value) -> Value {
    match (base, extra) {
        (Value::Object(base), Value::Object(extra)) => {
            let mut merged = base.clone();
            for (key, value) in extra {
                let joined = match (key.as_str(), merged.get(key), value) {
                    ("properties", Some(Value::Object(a)), Value::Object(b)) => {
                        let mut properties = a.clone();
                        for (name, schema) in b {
                            properties.insert(name.clone(), schema.clone());
                        }
                        Value::Object(properties)
                    }
                    ("required", Some(Value::Array(a)), Value::Array(b)) => {
                        let mut required = a.clone();
                        required.extend(b.iter().filter(|n| !a.contains(n)).cloned());
                        Value::Array(required)
                    }
                    _ => value.clone(),
                };
                merged.insert(key.clone(), joined);
            }
            Value::Object(merged)
        }
        (_, Value::Bool(false)) | (Value::Bool(false), _) => Value::Bool(false),
        (Value::Bool(true), other) => other.clone(),
        (other, _) => other.clone(),
    }
}

/// `enum`/`const`: every value the writer allows must be one the reader allows.
fn compare_enum(
    r: &Map<String, Value>,
    w: &Map<String, Value>,
    at: &str,
    errors: &mut Vec<String>,
) {
    let allowed = |o: &Map<String, Value>| -> Option<Vec<Value>> {
        match (o.get("const"), o.get("enum")) {
            (Some(value), _) => Some(vec![value.clone()]),
            (None, Some(Value::Array(values))) => Some(values.clone()),
            _ => None,
        }
    };
    let Some(r_values) = allowed(r) else {
        return;
    };
    match allowed(w) {
        None => errors.push(format!(
            "ENUM_ARRAY_NARROWED at '{at}': the reader allows only {} of the values the writer \
             allows",
            Value::Array(r_values)
        )),
        Some(w_values) => {
            let missing: Vec<Value> = w_values
                .into_iter()
                .filter(|v| !r_values.iter().any(|r| json_equal(r, v)))
                .collect();
            if !missing.is_empty() {
                errors.push(format!(
                    "ENUM_ARRAY_NARROWED at '{at}': the reader does not allow the writer's \
                     values {}",
                    Value::Array(missing)
                ));
            }
        }
    }
}

/// JSON equality with 1 and 1.0 equal, as JSON Schema compares numbers.
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// An upper limit (`maxLength`, `maxItems`, ...): the reader's must not be below the writer's.
fn compare_upper(
    r: &Map<String, Value>,
    w: &Map<String, Value>,
    keyword: &str,
    change: &str,
    at: &str,
    errors: &mut Vec<String>,
) {
    let Some(r_limit) = r.get(keyword).and_then(Value::as_f64) else {
        return;
    };
    match w.get(keyword).and_then(Value::as_f64) {
        None => errors.push(format!(
            "{change}_ADDED at '{at}': the reader adds {keyword} {r_limit}"
        )),
        Some(w_limit) if w_limit > r_limit => errors.push(format!(
            "{change}_DECREASED at '{at}': the reader's {keyword} {r_limit} is below the writer's \
             {w_limit}"
        )),
        Some(_) => {}
    }
}

/// A lower limit (`minLength`, `minItems`, ...): the reader's must not be above the writer's.
fn compare_lower(
    r: &Map<String, Value>,
    w: &Map<String, Value>,
    keyword: &str,
    change: &str,
    at: &str,
    errors: &mut Vec<String>,
) {
    let Some(r_limit) = r.get(keyword).and_then(Value::as_f64) else {
        return;
    };
    let w_limit = w.get(keyword).and_then(Value::as_f64).unwrap_or(0.0);
    if w_limit < r_limit {
        let what = if w.contains_key(keyword) {
            "INCREASED"
        } else {
            "ADDED"
        };
        errors.push(format!(
            "{change}_{what} at '{at}': the reader's {keyword} {r_limit} is above the writer's \
             {w_limit}"
        ));
    }
}

/// A numeric bound: value, and whether it is exclusive.
type Bound = (f64, bool);

/// The tightest of `maximum` and `exclusiveMaximum` (draft 4's boolean form too), or of the
/// minimum keywords.
fn bound(object: &Map<String, Value>, upper: bool) -> Option<Bound> {
    let (inclusive, exclusive) = if upper {
        ("maximum", "exclusiveMaximum")
    } else {
        ("minimum", "exclusiveMinimum")
    };
    let mut bounds = Vec::new();
    if let Some(value) = object.get(inclusive).and_then(Value::as_f64) {
        let draft4_exclusive = object.get(exclusive) == Some(&Value::Bool(true));
        bounds.push((value, draft4_exclusive));
    }
    if let Some(value) = object.get(exclusive).and_then(Value::as_f64) {
        bounds.push((value, true));
    }
    bounds.into_iter().reduce(|a, b| {
        let b_tighter = if upper {
            b.0 < a.0 || (b.0 == a.0 && b.1)
        } else {
            b.0 > a.0 || (b.0 == a.0 && b.1)
        };
        if b_tighter {
            b
        } else {
            a
        }
    })
}

fn compare_number_range(
    r: &Map<String, Value>,
    w: &Map<String, Value>,
    at: &str,
    errors: &mut Vec<String>,
) {
    for upper in [true, false] {
        let Some((r_value, r_exclusive)) = bound(r, upper) else {
            continue;
        };
        let name = if upper { "MAXIMUM" } else { "MINIMUM" };
        match bound(w, upper) {
            None => errors.push(format!(
                "{name}_ADDED at '{at}': the reader adds a {} of {r_value}",
                name.to_ascii_lowercase()
            )),
            Some((w_value, w_exclusive)) => {
                let within = if upper {
                    w_value < r_value || (w_value == r_value && (w_exclusive || !r_exclusive))
                } else {
                    w_value > r_value || (w_value == r_value && (w_exclusive || !r_exclusive))
                };
                if !within {
                    let what = if upper { "DECREASED" } else { "INCREASED" };
                    errors.push(format!(
                        "{name}_{what} at '{at}': the reader's {} {r_value} excludes values up to \
                         the writer's {w_value}",
                        name.to_ascii_lowercase()
                    ));
                }
            }
        }
    }
}

fn is_multiple(value: f64, of: f64) -> bool {
    if of == 0.0 {
        return false;
    }
    let ratio = value / of;
    (ratio - ratio.round()).abs() < 1e-9
}

/// An array schema's positional item schemas and the schema of the items after them.
fn items_of<'v>(
    object: &'v Map<String, Value>,
    anything: &'v Value,
) -> (Vec<&'v Value>, &'v Value) {
    match (object.get("prefixItems"), object.get("items")) {
        (Some(Value::Array(tuple)), rest) => (tuple.iter().collect(), rest.unwrap_or(anything)),
        (_, Some(Value::Array(tuple))) => (
            tuple.iter().collect(),
            object.get("additionalItems").unwrap_or(anything),
        ),
        (_, Some(items)) => (Vec::new(), items),
        (_, None) => (Vec::new(), anything),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::format::SchemaType;

    fn parse(schema: &Value) -> JsonSchema {
        match JsonSchema::parse(&schema.to_string(), &[]) {
            Ok(parsed) => parsed,
            Err(e) => panic!("{schema} should parse: {e}"),
        }
    }

    fn parse_err(text: &str) -> String {
        match JsonSchema::parse(text, &[]) {
            Ok(parsed) => panic!("{text} should not parse, got {}", parsed.canonical()),
            Err(e) => e,
        }
    }

    /// An object schema with these properties, `required` and `additionalProperties` (absent
    /// when `Value::Null`).
    fn object(properties: Value, required: &[&str], additional: Value) -> Value {
        let mut schema = json!({"type": "object", "properties": properties});
        if !required.is_empty() {
            schema["required"] = json!(required);
        }
        if !additional.is_null() {
            schema["additionalProperties"] = additional;
        }
        schema
    }

    /// (rule, writer, reader, compatible: data valid under the writer is valid under the reader)
    fn compatibility_table() -> Vec<(&'static str, Value, Value, bool)> {
        let open = Value::Null;
        let closed = json!(false);
        let name = json!({"name": {"type": "string"}});
        let name_age = json!({"name": {"type": "string"}, "age": {"type": "integer"}});
        let string = |extra: Value| {
            let mut schema = json!({"type": "string"});
            if let (Some(schema), Some(extra)) = (schema.as_object_mut(), extra.as_object()) {
                schema.extend(extra.clone());
            }
            schema
        };
        let number = |extra: Value| {
            let mut schema = json!({"type": "number"});
            if let (Some(schema), Some(extra)) = (schema.as_object_mut(), extra.as_object()) {
                schema.extend(extra.clone());
            }
            schema
        };
        let tree = |value_type: &str| {
            json!({
                "definitions": {"node": {"type": "object", "properties": {
                    "value": {"type": value_type},
                    "children": {"type": "array", "items": {"$ref": "#/definitions/node"}}
                }}},
                "$ref": "#/definitions/node"
            })
        };
        vec![
            (
                "property added to an open content model: the writer may have written anything \
                 under that name",
                object(name.clone(), &[], open.clone()),
                object(name_age.clone(), &[], open.clone()),
                false,
            ),
            (
                "property with an empty schema added to an open content model",
                object(name.clone(), &[], open.clone()),
                object(
                    json!({"name": {"type": "string"}, "note": {}}),
                    &[],
                    open.clone(),
                ),
                true,
            ),
            (
                "optional property added to a closed content model: the writer never wrote it",
                object(name.clone(), &[], closed.clone()),
                object(name_age.clone(), &[], closed.clone()),
                true,
            ),
            (
                "required property added to a closed content model without a default",
                object(name.clone(), &[], closed.clone()),
                object(name_age.clone(), &["age"], closed.clone()),
                false,
            ),
            (
                "required property added to a closed content model with a default",
                object(name.clone(), &[], closed.clone()),
                object(
                    json!({"name": {"type": "string"}, "age": {"type": "integer", "default": 0}}),
                    &["age"],
                    closed.clone(),
                ),
                true,
            ),
            (
                "property added, covered by the writer's additionalProperties schema",
                object(name.clone(), &[], json!({"type": "integer"})),
                object(name_age.clone(), &[], json!({"type": "integer"})),
                true,
            ),
            (
                "property added, not covered by the writer's additionalProperties schema",
                object(name.clone(), &[], json!({"type": "string"})),
                object(name_age.clone(), &[], json!({"type": "string"})),
                false,
            ),
            (
                "property removed, the reader's content model is open",
                object(name_age.clone(), &[], open.clone()),
                object(name.clone(), &[], open.clone()),
                true,
            ),
            (
                "property removed, the reader's content model is closed",
                object(name_age.clone(), &[], closed.clone()),
                object(name.clone(), &[], closed.clone()),
                false,
            ),
            (
                "property removed, covered by the reader's additionalProperties schema",
                object(name_age.clone(), &[], json!({"type": "number"})),
                object(name.clone(), &[], json!({"type": "number"})),
                true,
            ),
            (
                "property removed, not covered by the reader's additionalProperties schema",
                object(name_age.clone(), &[], json!({"type": "integer"})),
                object(
                    json!({"age": {"type": "integer"}}),
                    &[],
                    json!({"type": "integer"}),
                ),
                false,
            ),
            (
                "required added to an existing property",
                object(name_age.clone(), &["name"], open.clone()),
                object(name_age.clone(), &["name", "age"], open.clone()),
                false,
            ),
            (
                "required removed",
                object(name_age.clone(), &["name", "age"], open.clone()),
                object(name_age.clone(), &["name"], open.clone()),
                true,
            ),
            (
                "additionalProperties false -> open: the reader accepts more",
                object(name.clone(), &[], closed.clone()),
                object(name.clone(), &[], open.clone()),
                true,
            ),
            (
                "additionalProperties open -> false: the writer may have written extra ones",
                object(name.clone(), &[], open.clone()),
                object(name.clone(), &[], closed.clone()),
                false,
            ),
            (
                "additionalProperties open -> a schema: narrowed",
                object(name.clone(), &[], open.clone()),
                object(name.clone(), &[], json!({"type": "string"})),
                false,
            ),
            (
                "additionalProperties integer -> number: extended",
                object(name.clone(), &[], json!({"type": "integer"})),
                object(name.clone(), &[], json!({"type": "number"})),
                true,
            ),
            (
                "integer -> number: the reader's number reads integers",
                json!({"type": "integer"}),
                json!({"type": "number"}),
                true,
            ),
            (
                "number -> integer: narrowed",
                json!({"type": "number"}),
                json!({"type": "integer"}),
                false,
            ),
            (
                "string -> integer: type changed",
                json!({"type": "string"}),
                json!({"type": "integer"}),
                false,
            ),
            (
                "type extended with null",
                json!({"type": "string"}),
                json!({"type": ["string", "null"]}),
                true,
            ),
            (
                "type narrowed: null removed",
                json!({"type": ["string", "null"]}),
                json!({"type": "string"}),
                false,
            ),
            (
                "any type -> a type: narrowed",
                json!({}),
                json!({"type": "string"}),
                false,
            ),
            (
                "a type -> any: extended",
                json!({"type": "string"}),
                json!(true),
                true,
            ),
            (
                "enum value added",
                json!({"enum": ["RED", "GREEN"]}),
                json!({"enum": ["RED", "GREEN", "BLUE"]}),
                true,
            ),
            (
                "enum value removed",
                json!({"enum": ["RED", "GREEN", "BLUE"]}),
                json!({"enum": ["RED", "GREEN"]}),
                false,
            ),
            (
                "enum added to a string",
                json!({"type": "string"}),
                json!({"type": "string", "enum": ["RED"]}),
                false,
            ),
            (
                "maxLength tightened",
                string(json!({"maxLength": 10})),
                string(json!({"maxLength": 5})),
                false,
            ),
            (
                "maxLength loosened",
                string(json!({"maxLength": 5})),
                string(json!({"maxLength": 10})),
                true,
            ),
            (
                "maxLength added",
                string(json!({})),
                string(json!({"maxLength": 10})),
                false,
            ),
            (
                "maxLength removed",
                string(json!({"maxLength": 10})),
                string(json!({})),
                true,
            ),
            (
                "minLength increased",
                string(json!({"minLength": 1})),
                string(json!({"minLength": 2})),
                false,
            ),
            (
                "minLength decreased",
                string(json!({"minLength": 2})),
                string(json!({"minLength": 1})),
                true,
            ),
            (
                "pattern added",
                string(json!({})),
                string(json!({"pattern": "^a"})),
                false,
            ),
            (
                "pattern removed",
                string(json!({"pattern": "^a"})),
                string(json!({})),
                true,
            ),
            (
                "maximum decreased",
                number(json!({"maximum": 100})),
                number(json!({"maximum": 50})),
                false,
            ),
            (
                "maximum increased",
                number(json!({"maximum": 50})),
                number(json!({"maximum": 100})),
                true,
            ),
            (
                "maximum made exclusive at the same value",
                number(json!({"maximum": 50})),
                number(json!({"exclusiveMaximum": 50})),
                false,
            ),
            (
                "exclusive maximum made inclusive at the same value",
                number(json!({"exclusiveMaximum": 50})),
                number(json!({"maximum": 50})),
                true,
            ),
            (
                "minimum increased",
                number(json!({"minimum": 0})),
                number(json!({"minimum": 1})),
                false,
            ),
            (
                "minimum removed",
                number(json!({"minimum": 0})),
                number(json!({})),
                true,
            ),
            (
                "multipleOf reduced to a divisor",
                number(json!({"multipleOf": 10})),
                number(json!({"multipleOf": 5})),
                true,
            ),
            (
                "multipleOf added",
                number(json!({})),
                number(json!({"multipleOf": 5})),
                false,
            ),
            (
                "array items widened",
                json!({"type": "array", "items": {"type": "integer"}}),
                json!({"type": "array", "items": {"type": "number"}}),
                true,
            ),
            (
                "array items narrowed",
                json!({"type": "array", "items": {"type": "number"}}),
                json!({"type": "array", "items": {"type": "integer"}}),
                false,
            ),
            (
                "maxItems tightened",
                json!({"type": "array", "maxItems": 10}),
                json!({"type": "array", "maxItems": 3}),
                false,
            ),
            (
                "tuple item changed",
                json!({"type": "array", "items": [{"type": "string"}, {"type": "integer"}]}),
                json!({"type": "array", "items": [{"type": "string"}, {"type": "string"}]}),
                false,
            ),
            (
                "nested object: property type narrowed",
                object(
                    json!({"address": object(json!({"zip": {"type": "number"}}), &[], open.clone())}),
                    &[],
                    open.clone(),
                ),
                object(
                    json!({"address": object(json!({"zip": {"type": "integer"}}), &[], open.clone())}),
                    &[],
                    open.clone(),
                ),
                false,
            ),
            (
                "nested object: optional property added to a closed model",
                object(
                    json!({"address": object(json!({"zip": {"type": "string"}}), &[], closed.clone())}),
                    &[],
                    open.clone(),
                ),
                object(
                    json!({"address": object(json!({"zip": {"type": "string"}, "city": {"type": "string"}}), &[], closed.clone())}),
                    &[],
                    open.clone(),
                ),
                true,
            ),
            (
                "recursive schema through $ref, unchanged",
                tree("string"),
                tree("string"),
                true,
            ),
            (
                "recursive schema through $ref, a nested type narrowed",
                tree("number"),
                tree("integer"),
                false,
            ),
            (
                "oneOf extended with a branch",
                json!({"oneOf": [{"type": "string"}, {"type": "integer"}]}),
                json!({"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]}),
                true,
            ),
            (
                "oneOf narrowed: a writer branch is not read",
                json!({"oneOf": [{"type": "string"}, {"type": "integer"}]}),
                json!({"oneOf": [{"type": "string"}]}),
                false,
            ),
            (
                "a type -> oneOf holding it",
                json!({"type": "string"}),
                json!({"oneOf": [{"type": "null"}, {"type": "string"}]}),
                true,
            ),
            (
                "allOf parts merged: a property narrowed in one part",
                json!({"allOf": [{"type": "object", "properties": {"a": {"type": "number"}}}]}),
                json!({"allOf": [{"type": "object"}, {"properties": {"a": {"type": "integer"}}}]}),
                false,
            ),
        ]
    }

    #[test]
    fn compatibility_table_follows_confluent_json_schema_rules() {
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
    fn incompatibilities_name_the_change_and_the_place() {
        let writer = parse(&object(
            json!({"name": {"type": "string", "maxLength": 10}}),
            &[],
            json!(false),
        ));
        let reader = parse(&object(
            json!({"name": {"type": "string", "maxLength": 5}, "age": {"type": "integer"}}),
            &["age"],
            json!(false),
        ));
        let errors = reader.can_read(&writer);
        for expected in [
            "MAX_LENGTH_DECREASED at '/properties/name'",
            "REQUIRED_ATTRIBUTE_ADDED at '/required'",
            "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL at '/properties/age'",
        ] {
            assert!(
                errors.iter().any(|e| e.starts_with(expected)),
                "{expected} missing from {errors:?}"
            );
        }
        let errors =
            parse(&json!({"type": "integer"})).can_read(&parse(&json!({"type": "number"})));
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("TYPE_NARROWED at '/'"), "{errors:?}");
    }

    #[test]
    fn parse_errors_are_reported() {
        assert!(parse_err("{").contains("invalid JSON"));
        assert!(parse_err("42").contains("object or boolean"));
        assert!(parse_err(r#""string""#).contains("object or boolean"));
        // Keyword values the meta-schema refuses.
        for bad in [
            r#"{"type": "strin"}"#,
            r#"{"type": "string", "maxLength": -1}"#,
            r#"{"properties": 5}"#,
            r#"{"required": "a"}"#,
            r#"{"type": "object", "additionalProperties": "no"}"#,
            r#"{"enum": 3}"#,
        ] {
            assert!(parse_err(bad).contains("invalid JSON Schema"), "{bad}");
        }
        assert!(
            parse_err(r#"{"$schema": "https://example.com/my-meta", "type": "string"}"#)
                .contains("unsupported $schema")
        );
        // A $ref to nothing.
        let missing = parse_err(r#"{"$ref": "other.json"}"#);
        assert!(missing.contains("other.json"), "{missing}");
        // Draft-specific: a boolean exclusiveMaximum is draft 4, a number draft 6 and later.
        parse(
            &json!({"$schema": "http://json-schema.org/draft-04/schema#", "maximum": 5, "exclusiveMaximum": true}),
        );
        parse_err(r#"{"maximum": 5, "exclusiveMaximum": true}"#);
        parse(
            &json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "prefixItems": [{"type": "string"}]}),
        );
        parse(&json!(true));
        parse(&json!({}));
    }

    #[test]
    fn deep_nesting_neither_overflows_a_small_stack_nor_loops() {
        // A tokio worker thread's stack is 2 MiB.
        let outcome = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(|| {
                let mut text = r#"{"type":"string"}"#.to_string();
                for _ in 0..120 {
                    text = format!(r#"{{"type":"array","items":{text}}}"#);
                }
                let deep = JsonSchema::parse(&text, &[]);
                let mut objects = r#"{"type":"string"}"#.to_string();
                for _ in 0..60 {
                    objects = format!(r#"{{"type":"object","properties":{{"a":{objects}}}}}"#);
                }
                let objects = JsonSchema::parse(&objects, &[]);
                let compared = match (&deep, &objects) {
                    (Ok(a), Ok(b)) => Some((a.can_read(a), b.can_read(b))),
                    _ => None,
                };
                // A schema whose $ref points at itself.
                let looping =
                    JsonSchema::parse(r##"{"$ref": "#"}"##, &[]).map(|s| s.can_read(&s).len());
                (deep.is_ok(), objects.is_ok(), compared, looping)
            })
            .map(|handle| handle.join());
        let Ok(Ok((deep, objects, compared, looping))) = outcome else {
            panic!("the parsing thread died");
        };
        if let Some((deep, objects)) = compared {
            // Deeper than the check follows: reported, not recursed into.
            assert!(deep.iter().any(|e| e.starts_with("TOO_DEEP")), "{deep:?}");
            // 60 levels of objects (serde_json allows no more): checked in full.
            assert!(objects.is_empty(), "{objects:?}");
        }
        assert!(deep && objects);
        // Reaching here is the check: a self-referencing schema compares in bounded time.
        let _ = looping;
    }

    #[test]
    fn odd_inputs_give_errors_not_panics() {
        let inputs = [
            r#"{"pattern": "("}"#,
            r#"{"$ref": 5}"#,
            r##"{"$ref": "#/definitions/missing"}"##,
            r##"{"$ref": "#foo"}"##,
            r##"{"$id": "https://example.com/a", "$defs": {"x": {"$anchor": "foo", "type": "string"}}, "$ref": "#foo", "$schema": "https://json-schema.org/draft/2020-12/schema"}"##,
            r#"{"$id": "not a uri"}"#,
            r#"{"$id": "%%%"}"#,
            r#"{"$ref": "%%%"}"#,
            r#"{"$ref": "http://example.com/x.json"}"#,
            r#"{"type": []}"#,
            r#"{"items": []}"#,
            r#"{"$schema": 5}"#,
            r#"{"format": "email", "type": "string"}"#,
            r#"{"dependencies": {"a": ["b"]}}"#,
            r#"{"properties": {"a": false}, "additionalProperties": {"type": "integer"}}"#,
            r#"{"type": "array", "items": [true, false], "additionalItems": false}"#,
            r#"{"oneOf": []}"#,
            r##"{"allOf": [{"$ref": "#"}]}"##,
            r##"{"definitions": {"a": {"$ref": "#/definitions/b"}, "b": {"$ref": "#/definitions/a"}}, "$ref": "#/definitions/a"}"##,
            r#"{"maximum": 1e308, "minimum": -1e308, "multipleOf": 0.0001}"#,
            r#"{"multipleOf": 0}"#,
            r#"{"enum": []}"#,
            r#"{"const": null}"#,
            r#"{"type": "integer", "maximum": 18446744073709551615}"#,
            r##"{"oneOf": [{"$ref": "#"}, {"type": "string"}]}"##,
            r##"{"anyOf": [{"$ref": "#"}], "allOf": [{"$ref": "#"}, {"$ref": "#"}]}"##,
            r##"{"type": "object", "additionalProperties": {"$ref": "#"}, "properties": {"a": {"$ref": "#"}}}"##,
            r##"{"type": "array", "items": {"anyOf": [{"$ref": "#"}, {"$ref": "#/items"}]}}"##,
            "false",
            "true",
        ];
        // On a stack as small as a tokio worker thread's (2 MiB).
        let outcome = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let mut parsed = Vec::new();
                for input in inputs {
                    if let Ok(schema) = JsonSchema::parse(input, &[]) {
                        parsed.push(schema);
                    }
                }
                for reader in &parsed {
                    for writer in &parsed {
                        let _ = reader.can_read(writer);
                    }
                }
                parsed.len()
            })
            .map(|handle| handle.join());
        let Ok(Ok(parsed)) = outcome else {
            panic!("the checking thread died");
        };
        assert!(parsed > 10, "most of these are valid schemas");
    }

    #[test]
    fn nested_sums_stop_at_the_step_budget() {
        // 30 levels of 3-branch anyOf, each naming the level below twice: a small text, 9^30
        // pairs compared naively.
        let mut definitions = Map::new();
        definitions.insert("d0".to_string(), json!({"type": "string"}));
        for level in 1..=30 {
            let below = json!({"$ref": format!("#/definitions/d{}", level - 1)});
            definitions.insert(
                format!("d{level}"),
                json!({"anyOf": [below.clone(), below, {"type": "null"}]}),
            );
        }
        let schema = json!({"definitions": definitions, "$ref": "#/definitions/d30"});
        let parsed = match JsonSchema::parse(&schema.to_string(), &[]) {
            Ok(parsed) => parsed,
            Err(e) => panic!("should parse: {e}"),
        };
        let errors = parsed.can_read(&parsed);
        assert!(
            errors.iter().any(|e| e.starts_with("TOO_COMPLEX")),
            "{errors:?}"
        );
    }

    #[test]
    fn canonical_text_ignores_layout() {
        let a = r#"{"type":"object","properties":{"b":{"type":"string","maxLength":3},"a":{"type":"integer"}},"required":["a"]}"#;
        let b = r#"
            {
              "required": [ "a" ],
              "properties": {
                "a": { "type": "integer" },
                "b": { "maxLength": 3, "type": "string" }
              },
              "type": "object"
            }"#;
        let (Ok(a), Ok(b)) = (JsonSchema::parse(a, &[]), JsonSchema::parse(b, &[])) else {
            panic!("both parse");
        };
        assert_eq!(a.canonical(), b.canonical());
        assert_eq!(
            a.canonical(),
            r#"{"properties":{"a":{"type":"integer"},"b":{"maxLength":3,"type":"string"}},"required":["a"],"type":"object"}"#
        );
        // Order inside arrays is meaning (required, enum, tuples): kept.
        assert_ne!(
            parse(&json!({"enum": [1, 2]})).canonical(),
            parse(&json!({"enum": [2, 1]})).canonical()
        );
    }

    fn dependency(name: &str, schema: &Value) -> Dependency {
        Dependency {
            name: name.to_string(),
            schema_type: SchemaType::Json,
            schema: schema.to_string(),
        }
    }

    #[test]
    fn references_resolve_to_dependencies_by_name() {
        let address = json!({"type": "object", "properties": {"zip": {"type": "string"}}});
        let narrowed =
            json!({"type": "object", "properties": {"zip": {"type": "string", "maxLength": 5}}});
        let text = json!({"type": "object", "properties": {"address": {"$ref": "address.json"}}})
            .to_string();
        let with_ref = JsonSchema::parse(&text, &[dependency("address.json", &address)]);
        let Ok(with_ref) = with_ref else {
            panic!("{with_ref:?}");
        };
        // Absolute URLs and pointers into a dependency.
        let absolute = json!({"$id": "https://example.com/schemas/customer.json", "properties": {
            "address": {"$ref": "https://example.com/schemas/address.json#/properties/zip"}}});
        let parsed = JsonSchema::parse(
            &absolute.to_string(),
            &[dependency(
                "https://example.com/schemas/address.json",
                &address,
            )],
        );
        assert!(parsed.is_ok(), "{parsed:?}");
        // Compatibility looks through the reference.
        let Ok(narrowed_ref) = JsonSchema::parse(&text, &[dependency("address.json", &narrowed)])
        else {
            panic!("narrowed should parse");
        };
        assert!(with_ref.can_read(&with_ref).is_empty());
        assert!(with_ref.can_read(&narrowed_ref).is_empty());
        let errors = narrowed_ref.can_read(&with_ref);
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("MAX_LENGTH_ADDED at '/properties/address/properties/zip'")),
            "{errors:?}"
        );
        let inline = parse(&json!({"type": "object", "properties": {"address": address}}));
        assert!(with_ref.can_read(&inline).is_empty());
        assert!(!narrowed_ref.can_read(&inline).is_empty());
        // Invalid referenced JSON.
        let bad = JsonSchema::parse(
            &text,
            &[Dependency {
                name: "address.json".to_string(),
                schema_type: SchemaType::Json,
                schema: "{".to_string(),
            }],
        );
        assert!(
            bad.as_ref().is_err_and(|e| e.contains("address.json")),
            "{bad:?}"
        );
    }
}

/// A compiled validator, shared by the clones of a schema.
#[derive(Clone)]
struct CompiledValidator(std::sync::Arc<jsonschema::Validator>);

impl std::fmt::Debug for CompiledValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CompiledValidator")
    }
}
