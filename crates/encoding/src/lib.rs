//! Byte-level building blocks shared by Seer's file formats: unsigned and zigzag varints,
//! a big-endian bit writer/reader, a bounds-checked byte reader, and CRC-32 checksums.
//!
//! Owns: how integers and bits are laid out in bytes.
//! Must not: know about series, logs, spans, files or sockets.
//!
//! Key decision: encoders append to a caller's `&mut Vec<u8>` and decoders read from a
//! borrowed slice and return an error instead of panicking on truncated or hostile input,
//! so every decoder built on top can be fuzzed without special cases.

mod base64;
mod bits;
mod bytes;

pub use base64::{base64_decode, base64_encode};
pub use bits::{BitReader, BitWriter};
pub use bytes::{ByteReader, DecodeError, put_uvarint, put_varint, uvarint_len};

/// CRC-32 (IEEE polynomial) of `data`. Every section of every Seer file ends with one.
pub fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

/// Zigzag-encodes a signed integer so small magnitudes become small unsigned numbers.
#[inline]
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Inverse of [`zigzag`].
#[inline]
pub fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_round_trip() {
        for v in [0i64, 1, -1, 2, -2, i64::MAX, i64::MIN, 123456789, -987654321] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
    }

    #[test]
    fn crc_is_ieee() {
        // Frozen: the on-disk formats depend on this polynomial.
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }
}
