//! The field encodings of Kafka's coordinator record schemas, shared by the records of
//! `__consumer_offsets` and `__transaction_state`:
//! ```text
//! int8 / int16 / int32 / int64   big-endian
//! string            int16 length, then that many bytes of UTF-8 (length -1: null)
//! bytes             int32 length, then that many bytes (length -1: null, read as empty)
//! array             int32 count, then the elements
//! ```
//! Readers check every length against the bytes left, so a damaged record is an error, never a
//! panic or a huge allocation.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// A record that cannot be read: skipped with a warning when state is loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RecordError(pub String);

/// Writes a string. Names reaching a coordinator passed the request guard, far below
/// `i16::MAX` bytes; a longer one would be cut at that length.
pub fn put_str(out: &mut BytesMut, s: &str) {
    let n = s.len().min(i16::MAX as usize);
    out.put_i16(n as i16);
    out.put_slice(&s.as_bytes()[..n]);
}

pub fn put_opt_str(out: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_str(out, s),
        None => out.put_i16(-1),
    }
}

pub fn put_bytes(out: &mut BytesMut, b: &[u8]) {
    out.put_i32(i32::try_from(b.len()).unwrap_or(i32::MAX));
    out.put_slice(b);
}

fn need(r: &Bytes, n: usize) -> Result<(), RecordError> {
    if r.remaining() < n {
        return Err(RecordError(format!(
            "truncated: need {n} bytes, {} remain",
            r.remaining()
        )));
    }
    Ok(())
}

pub fn get_i8(r: &mut Bytes) -> Result<i8, RecordError> {
    need(r, 1)?;
    Ok(r.get_i8())
}

pub fn get_i16(r: &mut Bytes) -> Result<i16, RecordError> {
    need(r, 2)?;
    Ok(r.get_i16())
}

pub fn get_i32(r: &mut Bytes) -> Result<i32, RecordError> {
    need(r, 4)?;
    Ok(r.get_i32())
}

pub fn get_i64(r: &mut Bytes) -> Result<i64, RecordError> {
    need(r, 8)?;
    Ok(r.get_i64())
}

/// An array count, bounded by the bytes left (`min_size` bytes per element at least). A null
/// array (-1) reads as empty.
pub fn get_count(r: &mut Bytes, min_size: usize) -> Result<usize, RecordError> {
    let n = get_i32(r)?;
    if n == -1 {
        return Ok(0);
    }
    let n = usize::try_from(n).map_err(|_| RecordError(format!("negative count {n}")))?;
    if n.saturating_mul(min_size) > r.remaining() {
        return Err(RecordError(format!("count {n} exceeds the record")));
    }
    Ok(n)
}

pub fn get_opt_str(r: &mut Bytes) -> Result<Option<String>, RecordError> {
    let len = get_i16(r)?;
    let Ok(len) = usize::try_from(len) else {
        return Ok(None);
    };
    need(r, len)?;
    let raw = r.split_to(len);
    String::from_utf8(raw.to_vec())
        .map(Some)
        .map_err(|_| RecordError("string is not UTF-8".into()))
}

pub fn get_str(r: &mut Bytes) -> Result<String, RecordError> {
    get_opt_str(r)?.ok_or_else(|| RecordError("null where a string is required".into()))
}

pub fn get_bytes(r: &mut Bytes) -> Result<Bytes, RecordError> {
    let len = get_i32(r)?;
    let Ok(len) = usize::try_from(len) else {
        return Ok(Bytes::new());
    };
    need(r, len)?;
    Ok(r.split_to(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_and_short_input_is_an_error() {
        let mut out = BytesMut::new();
        put_str(&mut out, "héllo");
        put_opt_str(&mut out, None);
        put_bytes(&mut out, b"xyz");
        out.put_i32(2);
        let full = out.freeze();
        let mut r = full.clone();
        assert_eq!(get_str(&mut r).unwrap(), "héllo");
        assert_eq!(get_opt_str(&mut r).unwrap(), None);
        assert_eq!(&get_bytes(&mut r).unwrap()[..], b"xyz");
        assert!(get_count(&mut r, 1).is_err(), "2 elements in 0 bytes");
        for cut in 0..full.len() - 4 {
            let mut r = full.slice(..cut);
            let read = get_str(&mut r)
                .and_then(|_| get_opt_str(&mut r))
                .and_then(|_| get_bytes(&mut r));
            assert!(read.is_err(), "cut {cut}");
        }
    }
}
