//! The walk itself: a cursor over one buffer that follows a schema and checks every count and
//! length a peer claims against the bytes actually present (see the module doc of `guard`).

use super::schema::{Field, Ty};
use super::GuardError;

/// A cursor over one buffer. Recursion depth is bounded by the static schemas, never by input.
pub(super) struct Walker<'a> {
    buf: &'a [u8],
    pub(super) pos: usize,
    version: i16,
    pub(super) flexible: bool,
}

impl<'a> Walker<'a> {
    pub(super) fn new(buf: &'a [u8], version: i16, flexible: bool) -> Walker<'a> {
        Walker {
            buf,
            pos: 0,
            version,
            flexible,
        }
    }

    pub(super) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(super) fn take(
        &mut self,
        field: &'static str,
        needed: usize,
    ) -> Result<&'a [u8], GuardError> {
        let remaining = self.remaining();
        if needed > remaining {
            return Err(GuardError::Truncated {
                field,
                offset: self.pos,
                needed,
                remaining,
            });
        }
        let bytes = &self.buf[self.pos..self.pos + needed];
        self.pos += needed;
        Ok(bytes)
    }

    pub(super) fn int16(&mut self, field: &'static str) -> Result<i16, GuardError> {
        let b = self.take(field, 2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    pub(super) fn int32(&mut self, field: &'static str) -> Result<i32, GuardError> {
        let b = self.take(field, 4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(super) fn uvarint(&mut self, field: &'static str) -> Result<u32, GuardError> {
        let offset = self.pos;
        let mut value: u32 = 0;
        for i in 0..5 {
            let b = self.take(field, 1)?[0];
            // The fifth byte carries bits 28..31 only, and ends the varint.
            if i == 4 && b > 0x0f {
                return Err(GuardError::BadVarint { field, offset });
            }
            value |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(GuardError::BadVarint { field, offset })
    }

    /// Reads a length or count prefix: `None` for null, else the claimed size.
    fn size_prefix(
        &mut self,
        field: &'static str,
        int16_wide: bool,
    ) -> Result<Option<u64>, GuardError> {
        let offset = self.pos;
        let raw = if self.flexible {
            i64::from(self.uvarint(field)?) - 1
        } else if int16_wide {
            i64::from(self.int16(field)?)
        } else {
            i64::from(self.int32(field)?)
        };
        match raw {
            -1 => Ok(None),
            n if n < -1 => Err(GuardError::NegativeLength {
                field,
                offset,
                length: i32::try_from(n).unwrap_or(i32::MIN),
            }),
            n => Ok(Some(n.unsigned_abs())),
        }
    }

    /// Walks the in-line fields present in this version, then the tagged fields.
    pub(super) fn fields(
        &mut self,
        struct_name: &'static str,
        fields: &'static [Field],
    ) -> Result<(), GuardError> {
        for field in fields {
            if field.tag.is_none() && field.in_version(self.version) {
                self.value(field.name, &field.ty)?;
            }
        }
        if self.flexible {
            self.tagged_fields(struct_name, fields)?;
        }
        Ok(())
    }

    pub(super) fn value(&mut self, field: &'static str, ty: &'static Ty) -> Result<(), GuardError> {
        match ty {
            Ty::Fixed(n) => self.take(field, *n).map(|_| ()),
            Ty::String | Ty::Bytes => {
                let offset = self.pos;
                let Some(len) = self.size_prefix(field, matches!(ty, Ty::String))? else {
                    return Ok(());
                };
                let remaining = self.remaining();
                let len = usize::try_from(len)
                    .ok()
                    .filter(|len| *len <= remaining)
                    .ok_or(GuardError::LengthTooLarge {
                        field,
                        offset,
                        claimed: len,
                        remaining,
                    })?;
                self.take(field, len).map(|_| ())
            }
            Ty::Array(element) => {
                let offset = self.pos;
                let Some(count) = self.size_prefix(field, false)? else {
                    return Ok(());
                };
                let remaining = self.remaining();
                if count > remaining as u64 {
                    return Err(GuardError::CountTooLarge {
                        field,
                        offset,
                        claimed: count,
                        remaining,
                    });
                }
                for _ in 0..count {
                    self.value(field, element)?;
                }
                Ok(())
            }
            Ty::Struct(fields) => self.fields(field, fields),
            Ty::OptionStruct(fields) => {
                // Read as kafka-protocol reads it: present only when the marker is exactly 1.
                if self.take(field, 1)?[0] == 1 {
                    self.fields(field, fields)
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Walks a tagged-field section; `fields` are the struct's fields, some of them tagged.
    pub(super) fn tagged_fields(
        &mut self,
        struct_name: &'static str,
        fields: &'static [Field],
    ) -> Result<(), GuardError> {
        let offset = self.pos;
        let count = self.uvarint(struct_name)?;
        let remaining = self.remaining();
        if u64::from(count) > remaining as u64 {
            return Err(GuardError::CountTooLarge {
                field: struct_name,
                offset,
                claimed: u64::from(count),
                remaining,
            });
        }
        for _ in 0..count {
            let tag = self.uvarint(struct_name)?;
            let size_offset = self.pos;
            let size = self.uvarint(struct_name)?;
            let remaining = self.remaining();
            let size = usize::try_from(size)
                .ok()
                .filter(|size| *size <= remaining)
                .ok_or(GuardError::LengthTooLarge {
                    field: struct_name,
                    offset: size_offset,
                    claimed: u64::from(size),
                    remaining,
                })?;
            let known = fields
                .iter()
                .find(|f| f.tag == Some(tag) && f.in_version(self.version));
            match known {
                None => {
                    self.take(struct_name, size)?;
                }
                Some(field) => {
                    // Walk the value inside its declared size only, and insist it fills it.
                    let end = self.pos + size;
                    let mut inner = Walker {
                        buf: &self.buf[..end],
                        pos: self.pos,
                        version: self.version,
                        flexible: self.flexible,
                    };
                    inner.value(field.name, &field.ty)?;
                    if inner.pos != end {
                        return Err(GuardError::TaggedFieldSize {
                            field: field.name,
                            tag,
                            declared: size,
                            used: inner.pos - self.pos,
                        });
                    }
                    self.pos = end;
                }
            }
        }
        Ok(())
    }
}
