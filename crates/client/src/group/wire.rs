//! Big-endian reads of Kafka's classic (non-flexible) wire types from bytes a peer sent, and the
//! few writes the group commands need.
//!
//! Nothing here trusts a length or count: each is checked against the bytes that remain before
//! anything is allocated for it, so hostile input fails with a message instead of exhausting
//! memory. (The generated decoders of the `kafka-protocol` crate reserve vectors of whatever
//! length a count claims.)
//!
//! Types: int16/int32 big-endian; STRING = int16 length + UTF-8 (length -1 = null, only in
//! a NULLABLE_STRING); BYTES = int32 length + bytes (-1 = null); ARRAY = int32 count + elements.

/// Reads from the front of a byte slice.
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    pub fn take(&mut self, len: usize) -> Result<&'a [u8], String> {
        if self.bytes.len() < len {
            return Err("the message is truncated".to_string());
        }
        let (head, tail) = self.bytes.split_at(len);
        self.bytes = tail;
        Ok(head)
    }

    pub fn i16(&mut self) -> Result<i16, String> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    pub fn i32(&mut self) -> Result<i32, String> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A NULLABLE_STRING.
    pub fn nullable_string(&mut self) -> Result<Option<String>, String> {
        let len = self.i16()?;
        if len == -1 {
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| format!("negative string length {len}"))?;
        let text = std::str::from_utf8(self.take(len)?)
            .map_err(|_| "a string is not UTF-8".to_string())?;
        Ok(Some(text.to_string()))
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
        if count.saturating_mul(element_min_bytes) > self.bytes.len() {
            return Err(format!(
                "element count {count} does not fit in the {} remaining bytes",
                self.bytes.len()
            ));
        }
        Ok(count)
    }
}

/// Appends a STRING; `text` must be at most 32767 bytes (the caller checks user input).
pub fn put_string(out: &mut Vec<u8>, text: &str) {
    let len = i16::try_from(text.len()).expect("string lengths are checked by the caller");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_type() {
        let mut bytes = vec![0xff, 0xfe, 0, 0, 1, 0];
        bytes.extend_from_slice(&[0, 2, b'h', b'i', 0xff, 0xff]);
        bytes.extend_from_slice(&[0, 0, 0, 3, 1, 2, 3, 0xff, 0xff, 0xff, 0xff]);
        let mut r = Reader::new(&bytes);
        assert_eq!(r.i16(), Ok(-2));
        assert_eq!(r.i32(), Ok(0x0000_0100));
        assert_eq!(r.string(), Ok("hi".to_string()));
        assert_eq!(r.nullable_string(), Ok(None));
        assert_eq!(r.skip_bytes(), Ok(()));
        assert_eq!(r.skip_bytes(), Ok(()));
        assert_eq!(r.take(1), Err("the message is truncated".to_string()));
        assert_eq!(r.take(0), Ok(&[][..]));
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
    fn writes_strings_with_their_length() {
        let mut out = Vec::new();
        put_string(&mut out, "abc");
        assert_eq!(out, vec![0, 3, b'a', b'b', b'c']);
    }
}
