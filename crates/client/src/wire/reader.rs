//! Big-endian reads of Kafka's wire types from bytes a peer sent, classic and flexible.
//!
//! Nothing here trusts a length or count: each is checked against the bytes that remain before
//! anything is allocated for it, so hostile input fails with a message instead of exhausting
//! memory. (The generated decoders of the `kafka-protocol` crate reserve vectors of whatever
//! length a count claims, which is why responses are read here and not with them.)
//!
//! Types:
//! ```text
//! int8/16/32/64        big-endian
//! BOOLEAN              one byte, 0 = false
//! STRING               int16 length + UTF-8 (length -1 = null, only in a NULLABLE_STRING)
//! BYTES                int32 length + bytes (-1 = null)
//! ARRAY                int32 count + elements
//! UNSIGNED_VARINT      7 bits per byte, low group first, high bit = more; at most 5 bytes
//! COMPACT_STRING       uvarint length+1 (0 = null, only in a COMPACT_NULLABLE_STRING) + UTF-8
//! COMPACT_ARRAY        uvarint count+1 (0 = null) + elements
//! TAGGED_FIELDS        uvarint count, then per field: uvarint tag, uvarint size, size bytes
//! ```

/// Reads from the front of a byte slice.
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.bytes.len()
    }

    pub fn take(&mut self, len: usize) -> Result<&'a [u8], String> {
        if self.bytes.len() < len {
            return Err("the message is truncated".to_string());
        }
        let (head, tail) = self.bytes.split_at(len);
        self.bytes = tail;
        Ok(head)
    }

    pub fn i8(&mut self) -> Result<i8, String> {
        Ok(i8::from_be_bytes([self.take(1)?[0]]))
    }

    /// A BOOLEAN: one byte, any value but 0 is true (as Kafka reads it).
    pub fn boolean(&mut self) -> Result<bool, String> {
        Ok(self.take(1)?[0] != 0)
    }

    pub fn i16(&mut self) -> Result<i16, String> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    pub fn i32(&mut self) -> Result<i32, String> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn i64(&mut self) -> Result<i64, String> {
        let b = self.take(8)?;
        let mut be = [0u8; 8];
        be.copy_from_slice(b);
        Ok(i64::from_be_bytes(be))
    }

    /// A NULLABLE_STRING.
    pub fn nullable_string(&mut self) -> Result<Option<String>, String> {
        let len = self.i16()?;
        if len == -1 {
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| format!("negative string length {len}"))?;
        self.utf8(len).map(Some)
    }

    /// A STRING, which may not be null.
    pub fn string(&mut self) -> Result<String, String> {
        self.nullable_string()?
            .ok_or_else(|| "a required string is null".to_string())
    }

    /// BYTES (null reads as empty), skipped over.
    pub fn skip_bytes(&mut self) -> Result<(), String> {
        let len = self.i32()?;
        if len == -1 {
            return Ok(());
        }
        let len = usize::try_from(len).map_err(|_| format!("negative bytes length {len}"))?;
        self.take(len).map(|_| ())
    }

    /// An ARRAY count whose elements, at `element_min_bytes` each, fit in what remains.
    pub fn count(&mut self, element_min_bytes: usize) -> Result<usize, String> {
        let count = self.i32()?;
        let count =
            usize::try_from(count).map_err(|_| format!("negative element count {count}"))?;
        self.check_fits(count, element_min_bytes)
    }

    /// An UNSIGNED_VARINT. Longer than 5 bytes, or above u32::MAX, is an error: Kafka never
    /// writes one, and `kafka-protocol` would silently drop the high bits.
    pub fn uvarint(&mut self) -> Result<u32, String> {
        let mut value: u64 = 0;
        for i in 0..5 {
            let byte = self.take(1)?[0];
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return u32::try_from(value)
                    .map_err(|_| format!("varint {value} does not fit in 32 bits"));
            }
        }
        Err("a varint is longer than 5 bytes".to_string())
    }

    /// A COMPACT_NULLABLE_STRING.
    pub fn compact_nullable_string(&mut self) -> Result<Option<String>, String> {
        let Some(len) = self.uvarint()?.checked_sub(1) else {
            return Ok(None);
        };
        // u32 always fits in usize on the targets Sluice builds for; saturating keeps a 16-bit
        // target failing as "truncated" rather than wrapping.
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        self.utf8(len).map(Some)
    }

    /// A COMPACT_STRING, which may not be null.
    pub fn compact_string(&mut self) -> Result<String, String> {
        self.compact_nullable_string()?
            .ok_or_else(|| "a required string is null".to_string())
    }

    /// A COMPACT_ARRAY count (not null) whose elements, at `element_min_bytes` each, fit in
    /// what remains.
    pub fn compact_count(&mut self, element_min_bytes: usize) -> Result<usize, String> {
        let Some(count) = self.uvarint()?.checked_sub(1) else {
            return Err("a required array is null".to_string());
        };
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        self.check_fits(count, element_min_bytes)
    }

    /// TAGGED_FIELDS, skipped over: the responses read here use no tagged field.
    pub fn skip_tagged_fields(&mut self) -> Result<(), String> {
        let count = self.uvarint()?;
        for _ in 0..count {
            // Each field takes at least two bytes, so a huge count fails fast as truncated.
            let _tag = self.uvarint()?;
            let size = self.uvarint()?;
            self.take(usize::try_from(size).unwrap_or(usize::MAX))?;
        }
        Ok(())
    }

    fn utf8(&mut self, len: usize) -> Result<String, String> {
        let text = std::str::from_utf8(self.take(len)?)
            .map_err(|_| "a string is not UTF-8".to_string())?;
        Ok(text.to_string())
    }

    fn check_fits(&self, count: usize, element_min_bytes: usize) -> Result<usize, String> {
        if count.saturating_mul(element_min_bytes) > self.bytes.len() {
            return Err(format!(
                "element count {count} does not fit in the {} remaining bytes",
                self.bytes.len()
            ));
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_classic_type() {
        let mut bytes = vec![0xff, 0xfe, 0, 0, 1, 0];
        bytes.extend_from_slice(&[0, 2, b'h', b'i', 0xff, 0xff]);
        bytes.extend_from_slice(&[0, 0, 0, 3, 1, 2, 3, 0xff, 0xff, 0xff, 0xff]);
        bytes.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfd]);
        let mut r = Reader::new(&bytes);
        assert_eq!(r.i16(), Ok(-2));
        assert_eq!(r.i32(), Ok(0x0000_0100));
        assert_eq!(r.string(), Ok("hi".to_string()));
        assert_eq!(r.nullable_string(), Ok(None));
        assert_eq!(r.skip_bytes(), Ok(()));
        assert_eq!(r.skip_bytes(), Ok(()));
        assert_eq!(r.remaining(), 8);
        assert_eq!(r.i64(), Ok(-3));
        assert_eq!(r.take(1), Err("the message is truncated".to_string()));
        assert_eq!(r.take(0), Ok(&[][..]));
    }

    #[test]
    fn reads_bytes_and_booleans() {
        let mut r = Reader::new(&[0xff, 0x07, 0, 1, 2]);
        assert_eq!(r.i8(), Ok(-1));
        assert_eq!(r.i8(), Ok(7));
        assert_eq!(r.boolean(), Ok(false));
        assert_eq!(r.boolean(), Ok(true));
        assert_eq!(r.boolean(), Ok(true));
        assert!(r.boolean().is_err());
    }

    #[test]
    fn reads_every_flexible_type() {
        let mut bytes = vec![0x96, 0x01]; // uvarint 150
        bytes.extend_from_slice(&[3, b'o', b'k', 0]); // "ok", then null
        bytes.extend_from_slice(&[3, 0, 0]); // array of 2, elements follow
        bytes.extend_from_slice(&[2, 7, 1, 0xaa, 0, 0, 9]); // 2 tagged fields, then a byte
        let mut r = Reader::new(&bytes);
        assert_eq!(r.uvarint(), Ok(150));
        assert_eq!(r.compact_string(), Ok("ok".to_string()));
        assert_eq!(r.compact_nullable_string(), Ok(None));
        assert_eq!(r.compact_count(1), Ok(2));
        assert_eq!(r.take(2), Ok(&[0u8, 0][..]));
        assert_eq!(r.skip_tagged_fields(), Ok(()));
        assert_eq!(r.take(1), Ok(&[9u8][..]));
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn lengths_and_counts_are_checked() {
        assert!(Reader::new(&[0xff, 0xff]).string().is_err());
        assert!(Reader::new(&[0x80, 0x00]).nullable_string().is_err());
        assert!(Reader::new(&[0, 5, b'a']).string().is_err());
        assert!(Reader::new(&[0, 1, 0xc3]).string().is_err());
        assert!(Reader::new(&[0, 0, 0, 9, 1]).skip_bytes().is_err());
        assert!(Reader::new(&[0xff, 0xff, 0xff, 0xfe]).skip_bytes().is_err());
        let err = Reader::new(&[0x7f, 0xff, 0xff, 0xff, 0])
            .count(1)
            .expect_err("too many");
        assert!(err.contains("does not fit"), "{err}");
        assert_eq!(Reader::new(&[0, 0, 0, 2, 0, 0, 0, 0]).count(2), Ok(2));
        assert!(Reader::new(&[0, 0, 0, 2, 0, 0, 0]).count(2).is_err());
        assert!(Reader::new(&[0xff, 0xff, 0xff, 0xff]).count(1).is_err());
    }

    #[test]
    fn flexible_lengths_and_counts_are_checked() {
        // u32::MAX elements claimed by five bytes.
        let huge = [0xff, 0xff, 0xff, 0xff, 0x0f];
        let err = Reader::new(&huge).compact_count(1).expect_err("too many");
        assert!(err.contains("does not fit"), "{err}");
        assert!(Reader::new(&huge).compact_string().is_err());
        assert!(Reader::new(&[0]).compact_count(1).is_err());
        assert!(Reader::new(&[0]).compact_string().is_err());
        assert!(Reader::new(&[3, b'a']).compact_string().is_err());
        assert!(Reader::new(&[2, 0xc3]).compact_string().is_err());
        // Six bytes, and five whose value needs more than 32 bits.
        assert!(Reader::new(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01])
            .uvarint()
            .is_err());
        assert!(Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x1f])
            .uvarint()
            .is_err());
        assert!(Reader::new(&[0x80]).uvarint().is_err());
        // A tagged field claiming more bytes than there are, and a huge field count.
        assert!(Reader::new(&[1, 0, 5, 1]).skip_tagged_fields().is_err());
        assert!(Reader::new(&huge).skip_tagged_fields().is_err());
    }
}
