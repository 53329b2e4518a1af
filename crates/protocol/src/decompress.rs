//! Decompressing the records section of a v2 record batch, with the output bounded: a batch of a
//! few kilobytes can claim (or inflate to) gigabytes, and a reader must stop at its limit
//! instead of allocating it.
//!
//! Codecs, by the id in the batch attributes (bits 0-2):
//! ```text
//! 0 none     the records as they are
//! 1 gzip     RFC 1952 gzip stream
//! 2 snappy   either raw snappy (a varint uncompressed length, then the block), or the xerial
//!            framing Kafka's Java client writes:
//!              8 bytes magic 0x82 "SNAPPY" 0x00, int32 version, int32 compatible version,
//!              then blocks of int32 compressed length + a raw snappy block
//! 3 lz4      LZ4 frame format (the LZ4F magic 0x184D2204)
//! 4 zstd     zstd frame
//! ```

use std::io::Read;

/// xerial snappy-java's stream header magic.
const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
/// Magic, version, compatible version.
const XERIAL_HEADER_LEN: usize = 16;

/// Why the records of a batch could not be decompressed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecompressError {
    #[error("unknown compression codec {0}")]
    UnknownCodec(u8),
    #[error("decompressed records exceed the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("{codec} data is corrupt: {reason}")]
    Corrupt { codec: &'static str, reason: String },
}

/// The records section of a batch compressed with `codec`, decompressed; at most `limit` bytes.
pub fn decompress(codec: u8, data: &[u8], limit: usize) -> Result<Vec<u8>, DecompressError> {
    match codec {
        0 => {
            if data.len() > limit {
                return Err(DecompressError::TooLarge { limit });
            }
            Ok(data.to_vec())
        }
        1 => read_bounded("gzip", flate2::read::GzDecoder::new(data), limit),
        2 if data.starts_with(XERIAL_MAGIC) => xerial_snappy(data, limit),
        2 => {
            let mut out = Vec::new();
            raw_snappy(data, limit, &mut out)?;
            Ok(out)
        }
        3 => {
            let decoder = lz4::Decoder::new(data).map_err(|e| corrupt("lz4", e))?;
            read_bounded("lz4", decoder, limit)
        }
        4 => {
            let decoder = zstd::stream::read::Decoder::new(data).map_err(|e| corrupt("zstd", e))?;
            read_bounded("zstd", decoder, limit)
        }
        other => Err(DecompressError::UnknownCodec(other)),
    }
}

fn corrupt(codec: &'static str, reason: impl std::fmt::Display) -> DecompressError {
    DecompressError::Corrupt {
        codec,
        reason: reason.to_string(),
    }
}

/// Reads a streaming decoder to its end, failing once it yields more than `limit` bytes.
fn read_bounded(
    codec: &'static str,
    decoder: impl Read,
    limit: usize,
) -> Result<Vec<u8>, DecompressError> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    decoder
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| corrupt(codec, e))?;
    if out.len() > limit {
        return Err(DecompressError::TooLarge { limit });
    }
    Ok(out)
}

/// Appends one raw snappy block to `out`, its claimed length checked against what `out` may
/// still take before anything is reserved.
fn raw_snappy(block: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), DecompressError> {
    let len = snap::raw::decompress_len(block).map_err(|e| corrupt("snappy", e))?;
    if len > limit.saturating_sub(out.len()) {
        return Err(DecompressError::TooLarge { limit });
    }
    let start = out.len();
    out.resize(start + len, 0);
    let written = snap::raw::Decoder::new()
        .decompress(block, &mut out[start..])
        .map_err(|e| corrupt("snappy", e))?;
    out.truncate(start + written);
    Ok(())
}

fn xerial_snappy(data: &[u8], limit: usize) -> Result<Vec<u8>, DecompressError> {
    let mut rest = data
        .get(XERIAL_HEADER_LEN..)
        .ok_or_else(|| corrupt("snappy", "xerial header is truncated"))?;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let (len, tail) = match rest {
            [a, b, c, d, tail @ ..] => (i32::from_be_bytes([*a, *b, *c, *d]), tail),
            _ => return Err(corrupt("snappy", "xerial block length is truncated")),
        };
        let len = usize::try_from(len)
            .ok()
            .filter(|len| *len <= tail.len())
            .ok_or_else(|| corrupt("snappy", format!("xerial block of {len} bytes")))?;
        raw_snappy(&tail[..len], limit, &mut out)?;
        rest = &tail[len..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const TEXT: &[u8] = b"the same words, the same words, the same words, again and again";

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).expect("gzip");
        encoder.finish().expect("gzip")
    }

    fn lz4(data: &[u8]) -> Vec<u8> {
        let mut encoder = lz4::EncoderBuilder::new()
            .build(Vec::new())
            .expect("lz4 encoder");
        encoder.write_all(data).expect("lz4");
        let (out, result) = encoder.finish();
        result.expect("lz4");
        out
    }

    fn xerial(blocks: &[&[u8]]) -> Vec<u8> {
        let mut out = XERIAL_MAGIC.to_vec();
        out.extend_from_slice(&1i32.to_be_bytes());
        out.extend_from_slice(&1i32.to_be_bytes());
        for block in blocks {
            let compressed = snap::raw::Encoder::new()
                .compress_vec(block)
                .expect("snappy");
            out.extend_from_slice(&(compressed.len() as i32).to_be_bytes());
            out.extend_from_slice(&compressed);
        }
        out
    }

    #[test]
    fn every_codec_round_trips() {
        let raw_snappy = snap::raw::Encoder::new()
            .compress_vec(TEXT)
            .expect("snappy");
        let zstd = zstd::stream::encode_all(TEXT, 3).expect("zstd");
        for (codec, data) in [
            (0, TEXT.to_vec()),
            (1, gzip(TEXT)),
            (2, raw_snappy),
            (2, xerial(&[&TEXT[..10], &TEXT[10..]])),
            (3, lz4(TEXT)),
            (4, zstd),
        ] {
            assert_eq!(
                decompress(codec, &data, 1 << 20).as_deref(),
                Ok(TEXT),
                "codec {codec}"
            );
        }
    }

    #[test]
    fn output_beyond_the_limit_is_refused() {
        let big = vec![b'a'; 100_000];
        let zstd = zstd::stream::encode_all(&big[..], 3).expect("zstd");
        let raw_snappy = snap::raw::Encoder::new()
            .compress_vec(&big)
            .expect("snappy");
        for (codec, data) in [
            (0, big.clone()),
            (1, gzip(&big)),
            (2, raw_snappy),
            (2, xerial(&[&big[..60_000], &big[60_000..]])),
            (3, lz4(&big)),
            (4, zstd),
        ] {
            assert_eq!(
                decompress(codec, &data, 99_999),
                Err(DecompressError::TooLarge { limit: 99_999 }),
                "codec {codec}"
            );
        }
        // A raw snappy block claiming 4 GiB in five bytes is refused before any allocation.
        assert_eq!(
            decompress(2, &[0xff, 0xff, 0xff, 0xff, 0x0f], 1 << 20),
            Err(DecompressError::TooLarge { limit: 1 << 20 })
        );
    }

    #[test]
    fn corrupt_data_and_unknown_codecs_are_errors() {
        for codec in 1..=4 {
            assert!(
                matches!(
                    decompress(codec, b"\x01\x02 not compressed data", 1 << 20),
                    Err(DecompressError::Corrupt { .. })
                ),
                "codec {codec}"
            );
        }
        let mut truncated = xerial(&[TEXT]);
        truncated.truncate(truncated.len() - 3);
        assert!(decompress(2, &truncated, 1 << 20).is_err());
        assert!(decompress(2, &XERIAL_MAGIC[..], 1 << 20).is_err());
        assert_eq!(
            decompress(5, b"", 10),
            Err(DecompressError::UnknownCodec(5))
        );
    }
}
