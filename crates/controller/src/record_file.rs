//! The record framing shared by the controller's files (Raft log, vote, committed id, snapshot),
//! and crash-safe whole-file replacement.
//!
//! # Record layout
//! ```text
//! offset  size  field
//! 0       4     body_length  u32 big-endian, >= 1
//! 4       4     crc          u32 big-endian, CRC-32C (Castagnoli) of the body
//! 8       n     body         body_length bytes
//! ```
//! A zero length is never valid: a file extended by a crash but never written reads as zeros,
//! and a zero-length body would otherwise pass its CRC (the CRC-32C of nothing is 0).
//!
//! Scanning stops at the first record that is incomplete or fails its CRC: everything before it
//! is the valid prefix, the rest is a torn tail (a write cut by a crash).

use std::fs::File;
use std::fs::OpenOptions;
use std::io;
use std::io::Write;
use std::path::Path;

/// Bytes before a record's body.
pub(crate) const RECORD_HEADER_BYTES: usize = 8;

/// Appends one framed record holding `body` to `out`.
pub(crate) fn encode_record(body: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
    let length = u32::try_from(body.len())
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("record body of {} bytes cannot be framed", body.len()),
            )
        })?;
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&crc32c::crc32c(body).to_be_bytes());
    out.extend_from_slice(body);
    Ok(())
}

/// The valid records of a file's bytes.
pub(crate) struct Scan<'a> {
    /// (position of the record in the file, its body), in file order.
    pub records: Vec<(u64, &'a [u8])>,
    /// Length of the valid prefix; `< data.len()` when there is a torn tail.
    pub valid_len: u64,
    /// Why the scan stopped before the end, if it did.
    pub torn: Option<String>,
}

/// Splits `data` into records up to the first invalid one.
pub(crate) fn scan_records(data: &[u8]) -> Scan<'_> {
    let mut records = Vec::new();
    let mut pos = 0usize;
    let torn = loop {
        let rest = &data[pos..];
        if rest.is_empty() {
            break None;
        }
        if rest.len() < RECORD_HEADER_BYTES {
            break Some(format!("{} bytes of a record header", rest.len()));
        }
        let length = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let crc = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]);
        if length == 0 {
            break Some("a zero record length".to_string());
        }
        let available = rest.len() - RECORD_HEADER_BYTES;
        if length > available {
            break Some(format!(
                "a record of {length} bytes with {available} bytes left"
            ));
        }
        let body = &rest[RECORD_HEADER_BYTES..RECORD_HEADER_BYTES + length];
        if crc32c::crc32c(body) != crc {
            break Some("a record failing its CRC".to_string());
        }
        records.push((pos as u64, body));
        pos += RECORD_HEADER_BYTES + length;
    };
    Scan {
        records,
        valid_len: pos as u64,
        torn,
    }
}

/// Replaces `dir/name` with `contents` so that a crash leaves either the old or the new file:
/// writes `name.tmp`, fsyncs it, renames it over `name`, fsyncs the directory.
pub(crate) fn replace_file(dir: &Path, name: &str, contents: &[u8]) -> io::Result<()> {
    write_and_rename(dir, name, contents, true)
}

/// Like [`replace_file`] without the fsyncs: for files that are only a hint. After a crash the
/// file may be the old one, the new one, or (on some file systems) empty or torn.
pub(crate) fn replace_file_unsynced(dir: &Path, name: &str, contents: &[u8]) -> io::Result<()> {
    write_and_rename(dir, name, contents, false)
}

fn write_and_rename(dir: &Path, name: &str, contents: &[u8], durable: bool) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        file.write_all(contents)?;
        if durable {
            file.sync_all()?;
        }
    }
    std::fs::rename(&tmp, dir.join(name))?;
    if durable {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Makes creations, renames and removals in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Reads a file written by [`replace_file`] that holds framed records: `None` when it does not
/// exist. Since it was replaced atomically, a torn record means corruption, not a crash.
pub(crate) fn read_records_file(path: &Path) -> io::Result<Option<Vec<Vec<u8>>>> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let scan = scan_records(&data);
    if let Some(why) = scan.torn {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is corrupt: {why}", path.display()),
        ));
    }
    Ok(Some(
        scan.records.into_iter().map(|(_, b)| b.to_vec()).collect(),
    ))
}

/// Removes `dir/name.tmp` left by a [`replace_file`] that a crash interrupted.
pub(crate) fn remove_stale_tmp(dir: &Path, name: &str) -> io::Result<()> {
    match std::fs::remove_file(dir.join(format!("{name}.tmp"))) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(bodies: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for b in bodies {
            encode_record(b, &mut out).unwrap();
        }
        out
    }

    #[test]
    fn round_trip() {
        let data = framed(&[b"a", b"bcd", &[0u8; 300]]);
        let scan = scan_records(&data);
        assert!(scan.torn.is_none());
        assert_eq!(scan.valid_len, data.len() as u64);
        let bodies: Vec<&[u8]> = scan.records.iter().map(|(_, b)| *b).collect();
        assert_eq!(bodies, vec![&b"a"[..], &b"bcd"[..], &[0u8; 300][..]]);
        assert_eq!(scan.records[1].0, 9);
    }

    #[test]
    fn every_cut_of_the_last_record_is_a_torn_tail() {
        let data = framed(&[b"first", b"second record"]);
        let first_len = RECORD_HEADER_BYTES + 5;
        for cut in first_len..data.len() {
            let scan = scan_records(&data[..cut]);
            assert_eq!(scan.records.len(), 1, "cut at {cut}");
            assert_eq!(scan.valid_len, first_len as u64);
            assert_eq!(scan.torn.is_some(), cut > first_len);
        }
    }

    #[test]
    fn corruption_and_zeros_stop_the_scan() {
        let mut data = framed(&[b"first", b"second"]);
        let last = data.len() - 1;
        data[last] ^= 1;
        assert_eq!(scan_records(&data).records.len(), 1);
        let mut zeros = framed(&[b"x"]);
        zeros.extend_from_slice(&[0u8; 64]);
        let scan = scan_records(&zeros);
        assert_eq!(scan.records.len(), 1);
        assert!(scan.torn.is_some());
        assert!(encode_record(b"", &mut Vec::new()).is_err());
    }

    #[test]
    fn replace_and_read() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_records_file(&dir.path().join("f")).unwrap().is_none());
        replace_file(dir.path(), "f", &framed(&[b"one"])).unwrap();
        replace_file(dir.path(), "f", &framed(&[b"two", b"three"])).unwrap();
        let records = read_records_file(&dir.path().join("f")).unwrap().unwrap();
        assert_eq!(records, vec![b"two".to_vec(), b"three".to_vec()]);
        assert!(!dir.path().join("f.tmp").exists());
        std::fs::write(dir.path().join("f"), b"\0\0\0\x09junk").unwrap();
        assert!(read_records_file(&dir.path().join("f")).is_err());
    }
}
