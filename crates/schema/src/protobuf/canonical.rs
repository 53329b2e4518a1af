//! The canonical text of a Protobuf schema: its compiled file printed back as .proto source.
//!
//! Printed from the descriptor, so layout and comments of the source are gone, and a .proto
//! text and the base64 descriptor of the same file print alike. What is printed:
//! - `syntax`, `package`, imports (with `public` / `weak`) in the file's order;
//! - options everywhere (file, message, field, oneof, enum, enum value, service, method), the
//!   standard ones (`java_package`, `go_package`, `deprecated`, `packed`, ...) and custom ones
//!   (extensions, printed as `(.full.name)`), in field-number order; `map_entry` is implied by
//!   `map<K, V>` and not printed; options of extension ranges and options the compiler could not
//!   interpret (unknown fields) are dropped;
//! - messages with, in this order: options, nested enums, fields (oneofs as blocks, proto3
//!   `optional`, proto2 labels, `map<K, V>`, groups inline, `default` and a `json_name` that is
//!   not the default one as field options), nested `extend` blocks, nested messages, `reserved`
//!   ranges and names, `extensions` ranges;
//! - enums (values with their options, reserved ranges and names), top-level `extend` blocks and
//!   services (methods with streaming and options).
//!
//! Type and custom option names are printed fully qualified (`.pkg.Msg`, `(.pkg.option)`) so
//! they resolve to the same definition wherever they are printed.
//!
//! Order: fields, enum values and top-level messages keep their declaration order. Messages are
//! printed so that compiling the text again gives the same `message_type` / `nested_type`
//! order (Confluent's message indexes count in it): a map field or a group generates its nested
//! type where it is declared, so plain nested messages that came before it are printed before
//! that field.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use prost_reflect::prost_types::FieldDescriptorProto;
use prost_reflect::{
    Cardinality, DynamicMessage, EnumDescriptor, ExtensionDescriptor, FieldDescriptor,
    FileDescriptor, Kind, MapKey, MessageDescriptor, OneofDescriptor, ServiceDescriptor, Syntax,
    Value,
};

/// The largest field number (`max` in a range).
const FIELD_NUMBER_MAX: u32 = 536_870_911;

pub(super) fn print(file: &FileDescriptor) -> String {
    let mut p = Printer {
        out: String::new(),
        proto3: file.syntax() == Syntax::Proto3,
    };
    let proto = file.file_descriptor_proto();
    p.line(
        0,
        &format!(
            "syntax = \"{}\";",
            if p.proto3 { "proto3" } else { "proto2" }
        ),
    );
    if !file.package_name().is_empty() {
        p.line(0, &format!("package {};", file.package_name()));
    }
    if !proto.dependency.is_empty() {
        p.out.push('\n');
        for (i, dependency) in proto.dependency.iter().enumerate() {
            let index = i as i32;
            let modifier = if proto.public_dependency.contains(&index) {
                "public "
            } else if proto.weak_dependency.contains(&index) {
                "weak "
            } else {
                ""
            };
            p.line(0, &format!("import {modifier}{};", quote_str(dependency)));
        }
    }
    let options = option_entries(&file.options());
    if !options.is_empty() {
        p.out.push('\n');
        for (name, value) in options {
            p.line(0, &format!("option {name} = {value};"));
        }
    }

    let extensions: Vec<ExtensionDescriptor> = file.extensions().collect();
    let mut messages = NestedMessages::new(file.messages().collect(), None, &extensions);
    for run in extension_runs(&extensions) {
        // A top-level group's type is a top-level message, generated where the extend is.
        if let Some(last) = run.iter().filter_map(|e| messages.generated_by(e)).max() {
            messages.flush_until(&mut p, 0, last, true);
        }
        p.out.push('\n');
        p.extend_block(0, run);
    }
    let remaining = messages.items.len();
    messages.flush_until(&mut p, 0, remaining, true);
    for e in file.enums() {
        p.out.push('\n');
        p.enumeration(0, &e);
    }
    for s in file.services() {
        p.out.push('\n');
        p.service(0, &s);
    }
    p.out
}

struct Printer {
    out: String,
    proto3: bool,
}

/// The nested (or top-level) messages of one scope, printed in their order, where the ones a
/// map field or a group generates are printed by that field, not as messages.
struct NestedMessages {
    items: Vec<MessageDescriptor>,
    /// Full name -> index in `items`.
    index: HashMap<String, usize>,
    /// Printed by a field (map entry, group type) rather than as a message.
    generated: Vec<bool>,
    /// Everything before this index has been printed.
    next: usize,
}

impl NestedMessages {
    fn new(
        items: Vec<MessageDescriptor>,
        fields: Option<&MessageDescriptor>,
        extensions: &[ExtensionDescriptor],
    ) -> NestedMessages {
        let index: HashMap<String, usize> = items
            .iter()
            .enumerate()
            .map(|(i, m)| (m.full_name().to_string(), i))
            .collect();
        let mut generated: Vec<bool> = items.iter().map(|m| m.is_map_entry()).collect();
        let mut mark = |kind: Kind, is_group: bool| {
            if let (true, Some(m)) = (is_group, kind.as_message()) {
                if let Some(&i) = index.get(m.full_name()) {
                    generated[i] = true;
                }
            }
        };
        if let Some(message) = fields {
            for f in message.fields() {
                mark(f.kind(), f.is_group());
            }
        }
        for e in extensions {
            mark(e.kind(), e.is_group());
        }
        NestedMessages {
            items,
            index,
            generated,
            next: 0,
        }
    }

    /// The index of the nested type `field` generates (its map entry or group type), if any.
    fn index_of_generated(&self, kind: &Kind, generates: bool) -> Option<usize> {
        let m = kind.as_message()?;
        if !generates {
            return None;
        }
        self.index.get(m.full_name()).copied()
    }

    fn generated_by(&self, e: &ExtensionDescriptor) -> Option<usize> {
        self.index_of_generated(&e.kind(), e.is_group())
    }

    fn generated_by_field(&self, f: &FieldDescriptor) -> Option<usize> {
        self.index_of_generated(&f.kind(), f.is_group() || f.is_map())
    }

    /// Prints the plain messages before index `end` not printed yet.
    fn flush_until(&mut self, p: &mut Printer, indent: usize, end: usize, top_level: bool) {
        while self.next < end && self.next < self.items.len() {
            if !self.generated[self.next] {
                if top_level {
                    p.out.push('\n');
                }
                p.message(indent, &self.items[self.next]);
            }
            self.next += 1;
        }
    }
}

/// Consecutive extensions with the same extendee (one `extend` block each).
fn extension_runs(extensions: &[ExtensionDescriptor]) -> Vec<&[ExtensionDescriptor]> {
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 1..=extensions.len() {
        if i == extensions.len()
            || extensions[i].containing_message().full_name()
                != extensions[start].containing_message().full_name()
        {
            if start < i {
                runs.push(&extensions[start..i]);
            }
            start = i;
        }
    }
    runs
}

impl Printer {
    fn line(&mut self, indent: usize, text: &str) {
        for _ in 0..indent {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn options(&mut self, indent: usize, options: &DynamicMessage) {
        for (name, value) in option_entries(options) {
            self.line(indent, &format!("option {name} = {value};"));
        }
    }

    fn message(&mut self, indent: usize, message: &MessageDescriptor) {
        self.line(indent, &format!("message {} {{", message.name()));
        self.message_body(indent + 1, message);
        self.line(indent, "}");
    }

    fn message_body(&mut self, indent: usize, message: &MessageDescriptor) {
        self.options(indent, &message.options());
        for e in message.child_enums() {
            self.enumeration(indent, &e);
        }
        let extensions: Vec<ExtensionDescriptor> = message.child_extensions().collect();
        let mut nested = NestedMessages::new(
            message.child_messages().collect(),
            Some(message),
            &extensions,
        );

        // Fields in declaration order; a oneof is printed whole at its first field.
        let mut oneofs_printed: HashSet<String> = HashSet::new();
        for raw in &message.descriptor_proto().field {
            let Some(field) = u32::try_from(raw.number())
                .ok()
                .and_then(|n| message.get_field(n))
            else {
                continue;
            };
            match field.containing_oneof().filter(|o| !o.is_synthetic()) {
                Some(oneof) => {
                    if !oneofs_printed.insert(oneof.name().to_string()) {
                        continue;
                    }
                    if let Some(last) = oneof
                        .fields()
                        .filter_map(|f| nested.generated_by_field(&f))
                        .max()
                    {
                        nested.flush_until(self, indent, last, false);
                    }
                    self.oneof(indent, &oneof);
                }
                None => {
                    if let Some(index) = nested.generated_by_field(&field) {
                        nested.flush_until(self, indent, index, false);
                    }
                    self.field(indent, &field, false);
                }
            }
        }
        for run in extension_runs(&extensions) {
            if let Some(last) = run.iter().filter_map(|e| nested.generated_by(e)).max() {
                nested.flush_until(self, indent, last, false);
            }
            self.extend_block(indent, run);
        }
        let remaining = nested.items.len();
        nested.flush_until(self, indent, remaining, false);

        let ranges: Vec<String> = message
            .reserved_ranges()
            .map(|r| field_range(r.start, r.end))
            .collect();
        if !ranges.is_empty() {
            self.line(indent, &format!("reserved {};", ranges.join(", ")));
        }
        let names: Vec<String> = message.reserved_names().map(quote_str).collect();
        if !names.is_empty() {
            self.line(indent, &format!("reserved {};", names.join(", ")));
        }
        let ranges: Vec<String> = message
            .extension_ranges()
            .map(|r| field_range(r.start, r.end))
            .collect();
        if !ranges.is_empty() {
            self.line(indent, &format!("extensions {};", ranges.join(", ")));
        }
    }

    fn oneof(&mut self, indent: usize, oneof: &OneofDescriptor) {
        self.line(indent, &format!("oneof {} {{", oneof.name()));
        self.options(indent + 1, &oneof.options());
        // In declaration order (prost-reflect lists a oneof's fields so).
        for field in oneof.fields() {
            self.field(indent + 1, &field, true);
        }
        self.line(indent, "}");
    }

    fn field(&mut self, indent: usize, field: &FieldDescriptor, in_oneof: bool) {
        let json_name = (field.json_name() != default_json_name(field.name()))
            .then(|| field.json_name().to_string());
        let view = FieldView {
            raw: field.field_descriptor_proto(),
            kind: field.kind(),
            cardinality: field.cardinality(),
            is_group: field.is_group(),
            is_map: field.is_map(),
            options: field.options(),
            json_name,
        };
        self.field_view(indent, &view, in_oneof);
    }

    fn field_view(&mut self, indent: usize, f: &FieldView, in_oneof: bool) {
        let label = if f.is_map || in_oneof {
            ""
        } else {
            match f.cardinality {
                Cardinality::Repeated => "repeated ",
                Cardinality::Required => "required ",
                Cardinality::Optional if !self.proto3 => "optional ",
                Cardinality::Optional if f.raw.proto3_optional() => "optional ",
                Cardinality::Optional => "",
            }
        };
        let type_name = if f.is_map {
            match f.kind.as_message().and_then(map_key_value) {
                Some((key, value)) => {
                    format!(
                        "map<{}, {}>",
                        type_name(&key.kind()),
                        type_name(&value.kind())
                    )
                }
                None => type_name(&f.kind),
            }
        } else if f.is_group {
            match f.kind.as_message() {
                Some(group) => format!("group {}", group.name()),
                None => type_name(&f.kind),
            }
        } else {
            type_name(&f.kind)
        };
        let name = if f.is_group { "" } else { f.raw.name() };
        let mut options = Vec::new();
        if let Some(default) = &f.raw.default_value {
            options.push(format!("default = {}", default_text(&f.kind, default)));
        }
        if let Some(json_name) = &f.json_name {
            options.push(format!("json_name = {}", quote_str(json_name)));
        }
        for (option, value) in option_entries(&f.options) {
            options.push(format!("{option} = {value}"));
        }
        let options = if options.is_empty() {
            String::new()
        } else {
            format!(" [{}]", options.join(", "))
        };
        let head = if name.is_empty() {
            format!("{label}{type_name} = {}{options}", f.raw.number())
        } else {
            format!("{label}{type_name} {name} = {}{options}", f.raw.number())
        };
        match (f.is_group, f.kind.as_message()) {
            (true, Some(group)) => {
                self.line(indent, &format!("{head} {{"));
                self.message_body(indent + 1, group);
                self.line(indent, "}");
            }
            _ => self.line(indent, &format!("{head};")),
        }
    }

    fn extend_block(&mut self, indent: usize, run: &[ExtensionDescriptor]) {
        let Some(first) = run.first() else {
            return;
        };
        self.line(
            indent,
            &format!("extend .{} {{", first.containing_message().full_name()),
        );
        for e in run {
            let view = FieldView {
                raw: e.field_descriptor_proto(),
                kind: e.kind(),
                cardinality: e.cardinality(),
                is_group: e.is_group(),
                is_map: false,
                options: e.options(),
                json_name: None,
            };
            self.field_view(indent + 1, &view, false);
        }
        self.line(indent, "}");
    }

    fn enumeration(&mut self, indent: usize, e: &EnumDescriptor) {
        self.line(indent, &format!("enum {} {{", e.name()));
        self.options(indent + 1, &e.options());
        for v in e.values() {
            let options: Vec<String> = option_entries(&v.options())
                .into_iter()
                .map(|(n, v)| format!("{n} = {v}"))
                .collect();
            let options = if options.is_empty() {
                String::new()
            } else {
                format!(" [{}]", options.join(", "))
            };
            self.line(
                indent + 1,
                &format!("{} = {}{options};", v.name(), v.number()),
            );
        }
        let ranges: Vec<String> = e
            .reserved_ranges()
            .map(|r| {
                let (start, end) = (*r.start(), *r.end());
                if start == end {
                    start.to_string()
                } else if end == i32::MAX {
                    format!("{start} to max")
                } else {
                    format!("{start} to {end}")
                }
            })
            .collect();
        if !ranges.is_empty() {
            self.line(indent + 1, &format!("reserved {};", ranges.join(", ")));
        }
        let names: Vec<String> = e.reserved_names().map(quote_str).collect();
        if !names.is_empty() {
            self.line(indent + 1, &format!("reserved {};", names.join(", ")));
        }
        self.line(indent, "}");
    }

    fn service(&mut self, indent: usize, s: &ServiceDescriptor) {
        self.line(indent, &format!("service {} {{", s.name()));
        self.options(indent + 1, &s.options());
        for m in s.methods() {
            let head = format!(
                "rpc {} ({}.{}) returns ({}.{})",
                m.name(),
                if m.is_client_streaming() {
                    "stream "
                } else {
                    ""
                },
                m.input().full_name(),
                if m.is_server_streaming() {
                    "stream "
                } else {
                    ""
                },
                m.output().full_name()
            );
            let options = option_entries(&m.options());
            if options.is_empty() {
                self.line(indent + 1, &format!("{head};"));
            } else {
                self.line(indent + 1, &format!("{head} {{"));
                for (name, value) in options {
                    self.line(indent + 2, &format!("option {name} = {value};"));
                }
                self.line(indent + 1, "}");
            }
        }
        self.line(indent, "}");
    }
}

/// A field or an extension, as the printer needs it.
struct FieldView<'a> {
    raw: &'a FieldDescriptorProto,
    kind: Kind,
    cardinality: Cardinality,
    is_group: bool,
    is_map: bool,
    options: DynamicMessage,
    /// Printed only when not the default one.
    json_name: Option<String>,
}

/// The key and value fields of a map entry; `None` when a (decoded) descriptor flags a message
/// as a map entry without them (prost-reflect's own accessors panic then).
pub(super) fn map_key_value(
    entry: &MessageDescriptor,
) -> Option<(FieldDescriptor, FieldDescriptor)> {
    Some((entry.get_field(1)?, entry.get_field(2)?))
}

fn type_name(kind: &Kind) -> String {
    match kind {
        Kind::Double => "double".into(),
        Kind::Float => "float".into(),
        Kind::Int32 => "int32".into(),
        Kind::Int64 => "int64".into(),
        Kind::Uint32 => "uint32".into(),
        Kind::Uint64 => "uint64".into(),
        Kind::Sint32 => "sint32".into(),
        Kind::Sint64 => "sint64".into(),
        Kind::Fixed32 => "fixed32".into(),
        Kind::Fixed64 => "fixed64".into(),
        Kind::Sfixed32 => "sfixed32".into(),
        Kind::Sfixed64 => "sfixed64".into(),
        Kind::Bool => "bool".into(),
        Kind::String => "string".into(),
        Kind::Bytes => "bytes".into(),
        Kind::Message(m) => format!(".{}", m.full_name()),
        Kind::Enum(e) => format!(".{}", e.full_name()),
    }
}

/// A message's field-number range `start..end` (end exclusive) as `.proto` writes it.
fn field_range(start: u32, end: u32) -> String {
    let last = end.saturating_sub(1);
    if last <= start {
        start.to_string()
    } else if last >= FIELD_NUMBER_MAX {
        format!("{start} to max")
    } else {
        format!("{start} to {last}")
    }
}

/// protoc's default JSON name: `foo_bar` -> `fooBar`.
fn default_json_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper_next = false;
    for c in name.chars() {
        if c == '_' {
            upper_next = true;
        } else if upper_next {
            out.extend(c.to_uppercase());
            upper_next = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The set options of an options message as (`name`, value text) pairs, in field-number order
/// then extensions; a repeated option gives one pair per element.
fn option_entries(options: &DynamicMessage) -> Vec<(String, String)> {
    let mut entries = Vec::new();
    for (field, value) in options.fields() {
        if field.name() == "map_entry" {
            continue;
        }
        push_option(&mut entries, field.name().to_string(), &field.kind(), value);
    }
    for (extension, value) in options.extensions() {
        push_option(
            &mut entries,
            format!("(.{})", extension.full_name()),
            &extension.kind(),
            value,
        );
    }
    entries
}

fn push_option(entries: &mut Vec<(String, String)>, name: String, kind: &Kind, value: &Value) {
    match value {
        Value::List(values) => {
            for v in values {
                if let Some(text) = value_text(kind, v) {
                    entries.push((name.clone(), text));
                }
            }
        }
        v => {
            if let Some(text) = value_text(kind, v) {
                entries.push((name, text));
            }
        }
    }
}

/// An option value as .proto source writes it; `None` for a map (options have none).
fn value_text(kind: &Kind, value: &Value) -> Option<String> {
    Some(match value {
        Value::Bool(b) => b.to_string(),
        Value::I32(n) => n.to_string(),
        Value::I64(n) => n.to_string(),
        Value::U32(n) => n.to_string(),
        Value::U64(n) => n.to_string(),
        Value::F32(x) => float_text(f64::from(*x), x.to_string()),
        Value::F64(x) => float_text(*x, x.to_string()),
        Value::String(s) => quote_str(s),
        Value::Bytes(b) => quote_bytes(b),
        Value::EnumNumber(n) => match kind.as_enum().and_then(|e| e.get_value(*n)) {
            Some(v) => v.name().to_string(),
            None => n.to_string(),
        },
        Value::Message(m) => message_text(m),
        Value::List(_) | Value::Map(_) => return None,
    })
}

/// A message-valued option in the text format .proto source takes (`{ name: value ... }`),
/// fields in number order, map entries by key, so that it prints the same every time.
fn message_text(message: &DynamicMessage) -> String {
    let mut parts = Vec::new();
    for (field, value) in message.fields() {
        text_field(&mut parts, field.name(), &field.kind(), value);
    }
    for (extension, value) in message.extensions() {
        text_field(
            &mut parts,
            &format!("[{}]", extension.full_name()),
            &extension.kind(),
            value,
        );
    }
    if parts.is_empty() {
        "{ }".to_string()
    } else {
        format!("{{ {} }}", parts.join(" "))
    }
}

fn text_field(parts: &mut Vec<String>, name: &str, kind: &Kind, value: &Value) {
    match value {
        Value::List(values) => {
            for v in values {
                text_field(parts, name, kind, v);
            }
        }
        Value::Map(map) => {
            let value_kind = kind
                .as_message()
                .and_then(|entry| entry.get_field(2))
                .map(|f| f.kind());
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            for (key, v) in entries {
                let key = match key {
                    MapKey::Bool(b) => b.to_string(),
                    MapKey::I32(n) => n.to_string(),
                    MapKey::I64(n) => n.to_string(),
                    MapKey::U32(n) => n.to_string(),
                    MapKey::U64(n) => n.to_string(),
                    MapKey::String(s) => quote_str(s),
                };
                let value = value_kind
                    .as_ref()
                    .and_then(|k| value_text(k, v))
                    .map(|text| format!(" value: {text}"))
                    .unwrap_or_default();
                parts.push(format!("{name} {{ key: {key}{value} }}"));
            }
        }
        v => {
            if let Some(text) = value_text(kind, v) {
                parts.push(format!("{name}: {text}"));
            }
        }
    }
}

fn float_text(x: f64, shortest: String) -> String {
    if x.is_nan() {
        "nan".into()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        shortest
    }
}

/// A field's `default` (as a descriptor stores it: strings raw, bytes C-escaped, enums by
/// value name) as .proto source writes it, normalised so that descriptors from protoc and
/// protox print alike.
fn default_text(kind: &Kind, default: &str) -> String {
    match kind {
        Kind::String => quote_str(default),
        Kind::Bytes => quote_bytes(&unescape_c(default)),
        Kind::Float | Kind::Double => match default {
            "inf" | "-inf" | "nan" => default.to_string(),
            _ => match default.parse::<f64>() {
                Ok(x) if matches!(kind, Kind::Float) => {
                    let x32 = x as f32;
                    float_text(f64::from(x32), x32.to_string())
                }
                Ok(x) => float_text(x, x.to_string()),
                Err(_) => default.to_string(),
            },
        },
        Kind::Int32
        | Kind::Int64
        | Kind::Uint32
        | Kind::Uint64
        | Kind::Sint32
        | Kind::Sint64
        | Kind::Fixed32
        | Kind::Fixed64
        | Kind::Sfixed32
        | Kind::Sfixed64 => match default.parse::<i128>() {
            Ok(n) => n.to_string(),
            Err(_) => default.to_string(),
        },
        Kind::Bool | Kind::Enum(_) | Kind::Message(_) => default.to_string(),
    }
}

/// A string literal: printable text as is, quotes, backslashes and control characters escaped.
fn quote_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\{:03o}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A bytes literal: printable ASCII as is, everything else as an octal escape.
fn quote_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(b as char),
            b => {
                let _ = write!(out, "\\{b:03o}");
            }
        }
    }
    out.push('"');
    out
}

/// Undoes C escaping (how descriptors store a bytes field's default).
fn unescape_c(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' || i + 1 == bytes.len() {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        i += 1;
        let c = bytes[i];
        i += 1;
        match c {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'a' => out.push(0x07),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'v' => out.push(0x0b),
            b'0'..=b'7' => {
                let mut value = u32::from(c - b'0');
                let mut digits = 1;
                while digits < 3 && i < bytes.len() && (b'0'..=b'7').contains(&bytes[i]) {
                    value = value * 8 + u32::from(bytes[i] - b'0');
                    i += 1;
                    digits += 1;
                }
                out.push((value & 0xff) as u8);
            }
            b'x' | b'X' => {
                let mut value = 0u32;
                let mut digits = 0;
                while digits < 2 && i < bytes.len() && bytes[i].is_ascii_hexdigit() {
                    value = value * 16 + char::from(bytes[i]).to_digit(16).unwrap_or(0);
                    i += 1;
                    digits += 1;
                }
                if digits == 0 {
                    out.push(b'\\');
                    out.push(c);
                } else {
                    out.push(value as u8);
                }
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn json_names_and_escapes() {
        assert_eq!(default_json_name("foo_bar_baz"), "fooBarBaz");
        assert_eq!(default_json_name("already"), "already");
        assert_eq!(quote_str("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
        assert_eq!(quote_bytes(&[0, b'a', 0xff]), "\"\\000a\\377\"");
        assert_eq!(
            unescape_c("\\000a\\377\\x41\\n"),
            vec![0, b'a', 0xff, 0x41, b'\n']
        );
        assert_eq!(field_range(5, 6), "5");
        assert_eq!(field_range(5, 11), "5 to 10");
        assert_eq!(field_range(5, 536_870_912), "5 to max");
    }
}
