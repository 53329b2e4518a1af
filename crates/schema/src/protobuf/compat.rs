//! Whether a Protobuf schema reads data written with another: Confluent's `ProtobufSchemaDiff`
//! rules, with the writer as Confluent's "original" and the reader as its "update" (for
//! BACKWARD the reader is the new schema).
//!
//! Messages are matched by name relative to their package (so a package change is reported
//! once, not as every message removed), fields by number, oneofs by name. Each problem is
//! reported as `RULE at #/Message/number: explanation`, RULE being Confluent's difference name.
//!
//! Incompatible (reported):
//! - `SYNTAX_CHANGED`: proto2 <-> proto3 (not a Confluent rule: the defaults, presence and
//!   enum semantics change with it);
//! - `PACKAGE_CHANGED`;
//! - `MESSAGE_REMOVED`: a message (top-level or nested) of the writer is missing;
//! - `FIELD_KIND_CHANGED`: a number reused with another kind (scalar or enum / message / map /
//!   group);
//! - `FIELD_SCALAR_KIND_CHANGED`: a scalar type outside the writer's wire-compatible group, the
//!   groups being {int32, uint32, int64, uint64, bool, enums}, {sint32, sint64},
//!   {fixed32, sfixed32}, {fixed64, sfixed64}, {string, bytes}, {float}, {double};
//! - `FIELD_NUMERIC_LABEL_CHANGED`: a numeric (or enum) field whose explicit label changed
//!   (optional / required / repeated; a proto3 field without label is not compared, as in
//!   Confluent);
//! - `FIELD_NAMED_TYPE_CHANGED`: a message-typed field (or group, or map value) now names
//!   another message (compared by name relative to its package); for a type of an imported
//!   file, also when that message does not read the writer's one (checked recursively);
//! - `REQUIRED_FIELD_ADDED`, `REQUIRED_FIELD_REMOVED` (proto2);
//! - `ONEOF_FIELD_REMOVED`: a field of a oneof that is gone from the message;
//! - `FIELD_MOVED_TO_EXISTING_ONEOF`: a field moved into a oneof together with fields that were
//!   not exclusive with it;
//! - `MULTIPLE_FIELDS_MOVED_TO_ONEOF`: several independent fields moved into one oneof.
//!
//! Compatible (not reported), as in Confluent: adding or removing a (non-required) field,
//! renaming a field, adding a message, adding / removing an oneof, adding a field to a oneof,
//! moving one field into a new oneof or out of a oneof, any enum change (enums are numbers on
//! the wire: values added, removed or renamed, an enum type replaced by another or by int32),
//! a string / bytes field becoming repeated or back.
//!
//! Not checked: options, services, extensions, field defaults.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use prost_reflect::{
    Cardinality, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor, Syntax,
};

pub(super) fn check(reader: &FileDescriptor, writer: &FileDescriptor) -> Vec<String> {
    let mut diff = Diff {
        problems: Vec::new(),
        visited: HashSet::new(),
        reader_file: reader.name().to_string(),
        writer_file: writer.name().to_string(),
    };
    if reader.syntax() != writer.syntax() {
        diff.report(
            "SYNTAX_CHANGED",
            "#/",
            format!(
                "the syntax changed from {} to {}",
                syntax_name(writer.syntax()),
                syntax_name(reader.syntax())
            ),
        );
    }
    if reader.package_name() != writer.package_name() {
        diff.report(
            "PACKAGE_CHANGED",
            "#/",
            format!(
                "the package changed from '{}' to '{}'",
                writer.package_name(),
                reader.package_name()
            ),
        );
    }
    diff.compare_message_lists(
        reader.messages().collect(),
        writer.messages().collect(),
        "#",
    );
    diff.problems
}

fn syntax_name(syntax: Syntax) -> &'static str {
    match syntax {
        Syntax::Proto2 => "proto2",
        Syntax::Proto3 => "proto3",
    }
}

struct Diff {
    problems: Vec<String>,
    /// (reader, writer) message pairs compared already (types can refer to each other).
    visited: HashSet<(String, String)>,
    reader_file: String,
    writer_file: String,
}

/// A field's type as the rules group them.
enum TypeClass {
    Scalar(ScalarKind),
    Message(MessageDescriptor),
    Group(MessageDescriptor),
    Map(Kind, Kind),
}

impl TypeClass {
    fn of(kind: &Kind, is_map: bool, is_group: bool) -> TypeClass {
        match kind {
            Kind::Message(m) if is_map => match super::canonical::map_key_value(m) {
                Some((key, value)) => TypeClass::Map(key.kind(), value.kind()),
                None => TypeClass::Message(m.clone()),
            },
            Kind::Message(m) if is_group => TypeClass::Group(m.clone()),
            Kind::Message(m) => TypeClass::Message(m.clone()),
            other => TypeClass::Scalar(ScalarKind::of(other)),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            TypeClass::Scalar(_) => "scalar",
            TypeClass::Message(_) => "message",
            TypeClass::Group(_) => "group",
            TypeClass::Map(..) => "map",
        }
    }
}

/// Scalars in one group are read as each other on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ScalarKind {
    GeneralNumber,
    SignedNumber,
    StringOrBytes,
    Fixed32,
    Fixed64,
    Float,
    Double,
}

impl ScalarKind {
    fn of(kind: &Kind) -> ScalarKind {
        match kind {
            Kind::Int32
            | Kind::Int64
            | Kind::Uint32
            | Kind::Uint64
            | Kind::Bool
            | Kind::Enum(_)
            // Not reached: messages are classified before.
            | Kind::Message(_) => ScalarKind::GeneralNumber,
            Kind::Sint32 | Kind::Sint64 => ScalarKind::SignedNumber,
            Kind::String | Kind::Bytes => ScalarKind::StringOrBytes,
            Kind::Fixed32 | Kind::Sfixed32 => ScalarKind::Fixed32,
            Kind::Fixed64 | Kind::Sfixed64 => ScalarKind::Fixed64,
            Kind::Float => ScalarKind::Float,
            Kind::Double => ScalarKind::Double,
        }
    }
}

/// A field's explicit label; `None` for a proto3 field without one (and for map fields).
fn label(field: &FieldDescriptor) -> Option<Cardinality> {
    if field.is_map() {
        return None;
    }
    let proto3 = field.parent_file().syntax() == Syntax::Proto3;
    match field.cardinality() {
        Cardinality::Optional if proto3 && !field.field_descriptor_proto().proto3_optional() => {
            None
        }
        c => Some(c),
    }
}

fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::Message(m) => m.full_name().to_string(),
        Kind::Enum(e) => e.full_name().to_string(),
        other => format!("{other:?}").to_ascii_lowercase(),
    }
}

/// A message's name relative to its package.
fn local_name(message: &MessageDescriptor) -> &str {
    let package = message.package_name();
    if package.is_empty() {
        return message.full_name();
    }
    message
        .full_name()
        .strip_prefix(package)
        .and_then(|rest| rest.strip_prefix('.'))
        .unwrap_or(message.full_name())
}

/// The non-map-entry messages of a list, by local name.
fn by_local_name(messages: Vec<MessageDescriptor>) -> BTreeMap<String, MessageDescriptor> {
    messages
        .into_iter()
        .filter(|m| !m.is_map_entry())
        .map(|m| (local_name(&m).to_string(), m))
        .collect()
}

impl Diff {
    fn report(&mut self, rule: &str, path: &str, explanation: String) {
        self.problems
            .push(format!("{rule} at {path}: {explanation}"));
    }

    /// Matches the messages of one scope by name and compares each pair.
    fn compare_message_lists(
        &mut self,
        reader: Vec<MessageDescriptor>,
        writer: Vec<MessageDescriptor>,
        path: &str,
    ) {
        let reader = by_local_name(reader);
        // In the writer's declaration order, for a stable report.
        let writer_order: Vec<MessageDescriptor> =
            writer.into_iter().filter(|m| !m.is_map_entry()).collect();
        for w in writer_order {
            let name = local_name(&w).to_string();
            let message_path = format!("{path}/{}", w.name());
            match reader.get(&name) {
                None => self.report(
                    "MESSAGE_REMOVED",
                    &message_path,
                    format!("message {} of the writer's schema is missing", name),
                ),
                Some(r) => self.compare_message(r, &w, &message_path),
            }
        }
    }

    fn compare_message(&mut self, r: &MessageDescriptor, w: &MessageDescriptor, path: &str) {
        if !self
            .visited
            .insert((r.full_name().to_string(), w.full_name().to_string()))
        {
            return;
        }
        let fields = |m: &MessageDescriptor| {
            let mut plain = BTreeMap::new();
            let mut all = BTreeMap::new();
            let mut oneof_of = BTreeMap::new();
            let mut oneofs: BTreeMap<String, Vec<u32>> = BTreeMap::new();
            for f in m.fields() {
                all.insert(f.number(), f.clone());
                match f.containing_oneof().filter(|o| !o.is_synthetic()) {
                    Some(o) => {
                        oneof_of.insert(f.number(), o.name().to_string());
                        oneofs
                            .entry(o.name().to_string())
                            .or_default()
                            .push(f.number());
                    }
                    None => {
                        plain.insert(f.number(), f);
                    }
                }
            }
            (plain, all, oneof_of, oneofs)
        };
        let (r_plain, r_all, r_oneof_of, r_oneofs) = fields(r);
        let (mut w_plain, w_all, w_oneof_of, w_oneofs) = fields(w);

        // Fields of the reader's oneofs: where they were in the writer.
        for (oneof, tags) in &r_oneofs {
            let mut origins = BTreeSet::new();
            let mut moved_from_top_level = 0;
            for tag in tags {
                w_plain.remove(tag);
                if let Some(writer_oneof) = w_oneof_of.get(tag) {
                    origins.insert(format!("oneof {writer_oneof}"));
                } else if w_all.contains_key(tag) {
                    origins.insert(format!("field {tag}"));
                    moved_from_top_level += 1;
                }
            }
            if origins.len() > 1 {
                let origins: Vec<String> = origins.into_iter().collect();
                let (rule, what) = if moved_from_top_level > 1 {
                    (
                        "MULTIPLE_FIELDS_MOVED_TO_ONEOF",
                        "several fields moved into",
                    )
                } else {
                    ("FIELD_MOVED_TO_EXISTING_ONEOF", "a field moved into")
                };
                self.report(
                    rule,
                    &format!("{path}/{oneof}"),
                    format!(
                        "{what} oneof {oneof}, which makes {} exclusive where the writer could set \
                         them together",
                        origins.join(", ")
                    ),
                );
            }
        }

        // Oneofs in both: their fields.
        for (oneof, w_tags) in &w_oneofs {
            let Some(r_tags) = r_oneofs.get(oneof) else {
                continue;
            };
            for tag in w_tags {
                let field_path = format!("{path}/{oneof}/{tag}");
                if r_tags.contains(tag) {
                    if let (Some(rf), Some(wf)) = (r_all.get(tag), w_all.get(tag)) {
                        self.compare_field(rf, wf, &field_path);
                    }
                } else if !r_all.contains_key(tag) {
                    self.report(
                        "ONEOF_FIELD_REMOVED",
                        &field_path,
                        format!("field number {tag} of oneof {oneof} was removed"),
                    );
                }
            }
        }

        // Fields outside oneofs.
        let tags: BTreeSet<u32> = w_plain.keys().chain(r_plain.keys()).copied().collect();
        for tag in tags {
            let field_path = format!("{path}/{tag}");
            match (r_plain.get(&tag), w_plain.get(&tag)) {
                (None, Some(wf)) if wf.cardinality() == Cardinality::Required => self.report(
                    "REQUIRED_FIELD_REMOVED",
                    &field_path,
                    format!("required field {} ({tag}) was removed", wf.name()),
                ),
                (Some(rf), None) if rf.cardinality() == Cardinality::Required => self.report(
                    "REQUIRED_FIELD_ADDED",
                    &field_path,
                    format!("required field {} ({tag}) was added", rf.name()),
                ),
                (Some(rf), Some(wf)) => self.compare_field(rf, wf, &field_path),
                _ => {}
            }
        }

        // Fields that moved into, out of or between oneofs: their types.
        for (tag, wf) in &w_all {
            let Some(rf) = r_all.get(tag) else {
                continue;
            };
            let (r_oneof, w_oneof) = (r_oneof_of.get(tag), w_oneof_of.get(tag));
            let compared = match (r_oneof, w_oneof) {
                (None, None) => true,
                (Some(a), Some(b)) => a == b,
                _ => false,
            };
            if !compared {
                self.compare_field(rf, wf, &format!("{path}/{tag}"));
            }
        }

        self.compare_message_lists(
            r.child_messages().collect(),
            w.child_messages().collect(),
            path,
        );
    }

    fn compare_field(&mut self, r: &FieldDescriptor, w: &FieldDescriptor, path: &str) {
        let r_class = TypeClass::of(&r.kind(), r.is_map(), r.is_group());
        let w_class = TypeClass::of(&w.kind(), w.is_map(), w.is_group());
        self.compare_types(
            (label(r), &r.kind(), r_class),
            (label(w), &w.kind(), w_class),
            path,
        );
    }

    fn compare_types(
        &mut self,
        (r_label, r_kind, r_class): (Option<Cardinality>, &Kind, TypeClass),
        (w_label, w_kind, w_class): (Option<Cardinality>, &Kind, TypeClass),
        path: &str,
    ) {
        match (r_class, w_class) {
            (TypeClass::Scalar(rs), TypeClass::Scalar(ws)) => {
                if rs != ws {
                    self.report(
                        "FIELD_SCALAR_KIND_CHANGED",
                        path,
                        format!(
                            "the type changed from {} to {}, which do not share a wire format",
                            kind_name(w_kind),
                            kind_name(r_kind)
                        ),
                    );
                } else if let (Some(rl), Some(wl)) = (r_label, w_label) {
                    if rl != wl && rs != ScalarKind::StringOrBytes {
                        self.report(
                            "FIELD_NUMERIC_LABEL_CHANGED",
                            path,
                            format!("the label of a numeric field changed from {wl:?} to {rl:?}"),
                        );
                    }
                }
            }
            (TypeClass::Message(rm), TypeClass::Message(wm))
            | (TypeClass::Group(rm), TypeClass::Group(wm)) => {
                self.compare_named_types(&rm, &wm, path);
            }
            (TypeClass::Map(rk, rv), TypeClass::Map(wk, wv)) => {
                let rk_class = TypeClass::of(&rk, false, false);
                let wk_class = TypeClass::of(&wk, false, false);
                self.compare_types((None, &rk, rk_class), (None, &wk, wk_class), path);
                let rv_class = TypeClass::of(&rv, false, false);
                let wv_class = TypeClass::of(&wv, false, false);
                self.compare_types((None, &rv, rv_class), (None, &wv, wv_class), path);
            }
            (r_class, w_class) => self.report(
                "FIELD_KIND_CHANGED",
                path,
                format!(
                    "the field changed from a {} ({}) to a {} ({})",
                    w_class.name(),
                    kind_name(w_kind),
                    r_class.name(),
                    kind_name(r_kind)
                ),
            ),
        }
    }

    fn compare_named_types(&mut self, r: &MessageDescriptor, w: &MessageDescriptor, path: &str) {
        if local_name(r) != local_name(w) {
            self.report(
                "FIELD_NAMED_TYPE_CHANGED",
                path,
                format!(
                    "the type changed from {} to {}",
                    w.full_name(),
                    r.full_name()
                ),
            );
            return;
        }
        // Messages of the compared files are compared on their own; imported ones here.
        let local = r.parent_file().name() == self.reader_file
            && w.parent_file().name() == self.writer_file;
        if local {
            return;
        }
        let before = self.problems.len();
        self.compare_message(r, w, &format!("{path}/{}", local_name(w)));
        if self.problems.len() > before {
            self.report(
                "FIELD_NAMED_TYPE_CHANGED",
                path,
                format!(
                    "{} does not read the writer's {}",
                    r.full_name(),
                    w.full_name()
                ),
            );
        }
    }
}
