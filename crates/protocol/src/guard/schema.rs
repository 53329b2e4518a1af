//! How a message schema is written down: field types, fields with the versions they exist in,
//! and one API's schema (its versions and first flexible version). Declarative copies of
//! Kafka's message JSON schemas, walked by `walker.rs`.

/// The wire type of a field.
#[derive(Debug)]
pub(super) enum Ty {
    /// int8..int64, uint16, float64, bool, uuid: this many bytes.
    Fixed(usize),
    /// string and nullable string.
    String,
    /// bytes, nullable bytes and records.
    Bytes,
    /// An array of the inner type.
    Array(&'static Ty),
    /// A struct: its fields, then (in flexible versions) its tagged fields.
    Struct(&'static [Field]),
    /// A nullable struct: int8 1 when present (then the struct), anything else for null.
    OptionStruct(&'static [Field]),
}

pub(super) const INT8: Ty = Ty::Fixed(1);
pub(super) const INT16: Ty = Ty::Fixed(2);
pub(super) const INT32: Ty = Ty::Fixed(4);
pub(super) const INT64: Ty = Ty::Fixed(8);
pub(super) const FLOAT64: Ty = Ty::Fixed(8);
pub(super) const BOOL: Ty = Ty::Fixed(1);
pub(super) const UUID: Ty = Ty::Fixed(16);
pub(super) const STRING: Ty = Ty::String;
pub(super) const BYTES: Ty = Ty::Bytes;
pub(super) const RECORDS: Ty = Ty::Bytes;
pub(super) const ARRAY_INT32: Ty = Ty::Array(&INT32);
pub(super) const ARRAY_STRING: Ty = Ty::Array(&STRING);

/// Stands for the open end of a version range ("10+" in Kafka's JSON schemas).
pub(super) const LAST: i16 = i16::MAX;
/// `flexible_since` of an API that has no flexible version.
pub(super) const NEVER: i16 = i16::MAX;

/// One field of a message schema.
#[derive(Debug)]
pub(super) struct Field {
    pub(super) name: &'static str,
    pub(super) ty: Ty,
    /// Versions the field is present in, inclusive.
    pub(super) min_version: i16,
    pub(super) max_version: i16,
    /// `Some(tag)` for a tagged field: it travels in the tagged-field section, not in line.
    pub(super) tag: Option<u32>,
}

impl Field {
    /// A field present from `min_version` to `max_version` inclusive (`LAST` for "and later").
    pub(super) const fn new(
        name: &'static str,
        ty: Ty,
        min_version: i16,
        max_version: i16,
    ) -> Field {
        Field {
            name,
            ty,
            min_version,
            max_version,
            tag: None,
        }
    }

    /// A field present in every version of its message.
    pub(super) const fn all(name: &'static str, ty: Ty) -> Field {
        Field::new(name, ty, 0, LAST)
    }

    /// Marks the field as tagged with `tag`.
    pub(super) const fn tagged(self, tag: u32) -> Field {
        Field {
            tag: Some(tag),
            ..self
        }
    }

    pub(super) fn in_version(&self, version: i16) -> bool {
        self.min_version <= version && version <= self.max_version
    }
}

/// The request schema of one API.
#[derive(Debug)]
pub(super) struct Schema {
    pub(super) api_key: i16,
    pub(super) name: &'static str,
    /// The versions `kafka-protocol` decodes (the message's `VERSIONS`), inclusive.
    pub(super) min_version: i16,
    pub(super) max_version: i16,
    /// First flexible version (compact encodings and tagged fields), or `NEVER`.
    pub(super) flexible_since: i16,
    pub(super) body: &'static [Field],
}

impl Schema {
    pub(super) const fn new(
        api_key: i16,
        name: &'static str,
        versions: std::ops::RangeInclusive<i16>,
        flexible_since: i16,
        body: &'static [Field],
    ) -> Schema {
        Schema {
            api_key,
            name,
            min_version: *versions.start(),
            max_version: *versions.end(),
            flexible_since,
            body,
        }
    }
}
