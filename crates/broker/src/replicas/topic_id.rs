//! Topic (and cluster) ids as Kafka prints them: the 16 bytes in URL-safe base64 without
//! padding, 22 characters.

use uuid::Uuid;

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A topic id as Kafka prints it: URL-safe base64 of its 16 bytes, without padding.
pub fn encode_topic_id(id: Uuid) -> String {
    let bytes = id.as_bytes();
    let mut out = String::with_capacity(22);
    for chunk in bytes.chunks(3) {
        let mut n = 0u32;
        for (i, b) in chunk.iter().enumerate() {
            n |= u32::from(*b) << (16 - 8 * i);
        }
        for i in 0..=chunk.len() {
            out.push(BASE64URL[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

pub fn decode_topic_id(text: &str) -> Option<Uuid> {
    if text.len() != 22 {
        return None;
    }
    let mut bits: u128 = 0;
    let mut nbits = 0;
    let mut out = Vec::with_capacity(16);
    for c in text.bytes() {
        let v = BASE64URL.iter().position(|x| *x == c)? as u128;
        bits = (bits << 6) | v;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    Uuid::from_slice(&out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_ids_print_as_kafka_does() {
        // Kafka's Uuid.toString(): URL-safe base64, no padding.
        let id = Uuid::from_bytes([0xfb; 16]);
        assert_eq!(encode_topic_id(id), "-_v7-_v7-_v7-_v7-_v7-w");
        for _ in 0..100 {
            let id = Uuid::new_v4();
            assert_eq!(decode_topic_id(&encode_topic_id(id)), Some(id));
        }
        assert_eq!(decode_topic_id("short"), None);
        assert_eq!(decode_topic_id("!!!!!!!!!!!!!!!!!!!!!!"), None);
    }
}
