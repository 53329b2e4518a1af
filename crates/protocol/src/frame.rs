//! Length-prefixed framing.
//!
//! Wire layout of every Kafka request and response:
//! ```text
//! 0..4   int32 size, big-endian: the number of bytes that follow
//! 4..    the message (request/response header, then body)
//! ```
//! A size is checked against the configured maximum (`socket.request.max.bytes`) before any
//! buffer is reserved for it.

use bytes::{Buf, BytesMut};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("frame of {size} bytes exceeds the limit of {max} bytes (socket.request.max.bytes)")]
    TooLarge { size: usize, max: usize },
    #[error("negative frame size {0}")]
    Negative(i32),
}

/// Takes one whole frame off the front of `buf` if it is all there.
///
/// Returns `Ok(None)` when more bytes are needed. `buf` is reserved for the announced size only
/// once the size has been checked, so a peer cannot make us allocate more than `max` bytes.
pub fn take_frame(buf: &mut BytesMut, max: usize) -> Result<Option<BytesMut>, FrameError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let size = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if size < 0 {
        return Err(FrameError::Negative(size));
    }
    let size = size as usize;
    if size > max {
        return Err(FrameError::TooLarge { size, max });
    }
    if buf.len() < 4 + size {
        buf.reserve(4 + size - buf.len());
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(size)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_and_partial_frames() {
        let mut buf = BytesMut::from(&[0, 0, 0, 3, 1, 2][..]);
        assert_eq!(take_frame(&mut buf, 100).unwrap(), None);
        buf.extend_from_slice(&[3, 0, 0]);
        let frame = take_frame(&mut buf, 100).unwrap().unwrap();
        assert_eq!(&frame[..], &[1, 2, 3]);
        assert_eq!(&buf[..], &[0, 0]);
    }

    #[test]
    fn oversized_and_negative_frames_are_rejected() {
        let mut buf = BytesMut::from(&[0x7f, 0xff, 0xff, 0xff][..]);
        assert_eq!(
            take_frame(&mut buf, 1024),
            Err(FrameError::TooLarge {
                size: i32::MAX as usize,
                max: 1024
            })
        );
        assert!(
            buf.capacity() < 1024,
            "must not reserve what the peer claims"
        );
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xfe][..]);
        assert_eq!(take_frame(&mut buf, 1024), Err(FrameError::Negative(-2)));
    }
}
