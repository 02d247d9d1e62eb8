//! Varints and a bounds-checked reader.

/// A decoder met input it cannot accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended before the value did.
    #[error("unexpected end of data at offset {offset} (needed {needed} more bytes)")]
    Truncated {
        /// Where reading stopped.
        offset: usize,
        /// How many bytes were missing (at least).
        needed: usize,
    },
    /// A varint longer than 10 bytes or overflowing 64 bits.
    #[error("malformed varint at offset {offset}")]
    BadVarint {
        /// Where the varint started.
        offset: usize,
    },
    /// A string is not UTF-8.
    #[error("invalid UTF-8 string at offset {offset}")]
    BadUtf8 {
        /// Where the string started.
        offset: usize,
    },
    /// Any other structural problem, described.
    #[error("{0}")]
    Invalid(String),
}

/// Appends `v` as an unsigned LEB128 varint.
#[inline]
pub fn put_uvarint(dst: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        dst.push((v as u8) | 0x80);
        v >>= 7;
    }
    dst.push(v as u8);
}

/// Appends `v` zigzag-encoded as a varint.
#[inline]
pub fn put_varint(dst: &mut Vec<u8>, v: i64) {
    put_uvarint(dst, crate::zigzag(v))
}

/// Number of bytes [`put_uvarint`] writes for `v`.
pub fn uvarint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Reads primitive values from a borrowed slice, tracking the offset.
#[derive(Clone, Debug)]
pub struct ByteReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> ByteReader<'a> {
    /// Starts reading at the beginning of `buf`.
    pub fn new(buf: &'a [u8]) -> ByteReader<'a> {
        ByteReader { buf, pos: 0 }
    }

    /// Current offset.
    pub fn offset(&self) -> usize {
        self.pos
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// True when nothing is left.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// The unread rest of the input.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    fn need(&self, n: usize) -> Result<(), DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated { offset: self.pos, needed: n - self.remaining() });
        }
        Ok(())
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        self.need(1)?;
        let b = self.buf[self.pos];
        self.pos += 1;
        Ok(b)
    }

    /// Reads a big-endian u32.
    pub fn u32_be(&mut self) -> Result<u32, DecodeError> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Reads a big-endian u64.
    pub fn u64_be(&mut self) -> Result<u64, DecodeError> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// Reads `n` raw bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        self.need(n)?;
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Reads an unsigned LEB128 varint.
    #[inline]
    pub fn uvarint(&mut self) -> Result<u64, DecodeError> {
        let start = self.pos;
        let mut v: u64 = 0;
        let mut shift = 0u32;
        loop {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(DecodeError::Truncated { offset: self.pos, needed: 1 });
            };
            self.pos += 1;
            if shift == 63 && b > 1 {
                return Err(DecodeError::BadVarint { offset: start });
            }
            v |= ((b & 0x7f) as u64) << shift;
            if b < 0x80 {
                return Ok(v);
            }
            shift += 7;
            if shift > 63 {
                return Err(DecodeError::BadVarint { offset: start });
            }
        }
    }

    /// Reads a zigzag varint.
    #[inline]
    pub fn varint(&mut self) -> Result<i64, DecodeError> {
        Ok(crate::unzigzag(self.uvarint()?))
    }

    /// Reads a varint that must fit in `usize` and be at most `max`.
    pub fn len_prefix(&mut self, max: usize) -> Result<usize, DecodeError> {
        let at = self.pos;
        let n = self.uvarint()?;
        if n > max as u64 {
            return Err(DecodeError::Invalid(format!("length {n} at offset {at} exceeds limit {max}")));
        }
        Ok(n as usize)
    }

    /// Reads a varint-length-prefixed UTF-8 string.
    pub fn str(&mut self) -> Result<&'a str, DecodeError> {
        let n = self.len_prefix(self.remaining())?;
        let at = self.pos;
        let b = self.bytes(n)?;
        std::str::from_utf8(b).map_err(|_| DecodeError::BadUtf8 { offset: at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trip() {
        let vals = [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX];
        let mut buf = Vec::new();
        for &v in &vals {
            put_uvarint(&mut buf, v);
        }
        let mut r = ByteReader::new(&buf);
        for &v in &vals {
            assert_eq!(r.uvarint().unwrap(), v);
        }
        assert!(r.is_empty());
        assert_eq!(uvarint_len(u64::MAX), 10);
    }

    #[test]
    fn truncated_and_overlong_varints_are_errors() {
        assert!(ByteReader::new(&[0x80]).uvarint().is_err());
        assert!(ByteReader::new(&[0xff; 11]).uvarint().is_err());
        assert!(ByteReader::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]).uvarint().is_err());
    }

    #[test]
    fn strings() {
        let mut buf = Vec::new();
        put_uvarint(&mut buf, 3);
        buf.extend_from_slice(b"abc");
        put_uvarint(&mut buf, 5);
        buf.extend_from_slice(b"ab");
        let mut r = ByteReader::new(&buf);
        assert_eq!(r.str().unwrap(), "abc");
        assert!(r.str().is_err());
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x: u64 = 0x9e3779b97f4a7c15;
        for _ in 0..2000 {
            let len = (x % 16) as usize;
            let mut buf = Vec::new();
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                buf.push(x as u8);
            }
            let mut r = ByteReader::new(&buf);
            let _ = r.uvarint();
            let _ = r.str();
            let _ = r.u64_be();
        }
    }
}
