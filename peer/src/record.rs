//! Checksummed records: a framing a peer's own disk format can put around each
//! value, so that restoring tells a torn append from rot. The lab's disks can
//! tear an append that was not synced (a true prefix of a record is left at the
//! end of a file: it was never synced, so it is safe to drop) and can rot a byte
//! that was (a checksum fails: refuse to start rather than serve it).
//!
//! A record is a 12-byte header (the body's length, the CRC-32 (IEEE) of the
//! body, the CRC-32 of those 8 bytes; `u32` little-endian each), then the body.
//! The header's own checksum keeps rot in a length from passing for a torn tail.

/// Bytes of a record's header.
pub const HEADER_BYTES: usize = 12;

/// CRC-32 (IEEE 802.3, as zlib computes it).
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// Appends one record holding `body` to `out`.
pub fn append(out: &mut Vec<u8>, body: &[u8]) {
    let mut header = [0u8; HEADER_BYTES];
    header[..4].copy_from_slice(&(body.len() as u32).to_le_bytes());
    header[4..8].copy_from_slice(&crc32(body).to_le_bytes());
    let header_crc = crc32(&header[..8]);
    header[8..].copy_from_slice(&header_crc.to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(body);
}

/// What a file holds where a record should start.
#[derive(Debug, PartialEq, Eq)]
pub enum Record<'a> {
    /// A whole record whose checksums hold: its body, and its length on disk.
    Whole(&'a [u8], usize),
    /// The true prefix of a record: a torn append.
    Torn,
}

/// Synced data the disk damaged: which checksum failed.
#[derive(Debug, PartialEq, Eq)]
pub struct Rot(pub &'static str);

fn le_u32(bytes: &[u8]) -> u32 {
    u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes"))
}

/// Reads the record at the start of `rest`.
pub fn read(rest: &[u8]) -> Result<Record<'_>, Rot> {
    if rest.len() < HEADER_BYTES {
        return Ok(Record::Torn);
    }
    if le_u32(&rest[8..]) != crc32(&rest[..8]) {
        return Err(Rot("header checksum mismatch"));
    }
    let len = le_u32(rest) as usize;
    let body = &rest[HEADER_BYTES..];
    if body.len() < len {
        return Ok(Record::Torn);
    }
    if le_u32(&rest[4..]) != crc32(&body[..len]) {
        return Err(Rot("body checksum mismatch"));
    }
    Ok(Record::Whole(&body[..len], HEADER_BYTES + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_zlibs() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn prefixes_are_torn_and_flipped_bytes_are_rot() {
        let mut file = Vec::new();
        append(&mut file, b"hello");
        assert_eq!(read(&file), Ok(Record::Whole(b"hello", 17)));
        for cut in 0..file.len() {
            assert_eq!(read(&file[..cut]), Ok(Record::Torn), "cut at {cut}");
        }
        for at in 0..file.len() {
            let mut rotten = file.clone();
            rotten[at] ^= 0x01;
            assert!(read(&rotten).is_err(), "byte {at}");
        }
    }
}
