//! Big-endian bit streams, as used by the Gorilla sample encoding.

use crate::DecodeError;

/// Appends bits, most significant first, to a byte vector.
#[derive(Clone, Debug, Default)]
pub struct BitWriter {
    buf: Vec<u8>,
    /// Free bits in the last byte of `buf` (0..=7; 0 means the next bit starts a new byte).
    free: u8,
}

impl BitWriter {
    /// An empty stream.
    pub fn new() -> BitWriter {
        BitWriter { buf: Vec::new(), free: 0 }
    }

    /// Resumes writing a stream previously taken apart with [`BitWriter::into_parts`].
    pub fn from_parts(buf: Vec<u8>, free: u8) -> BitWriter {
        debug_assert!(free < 8);
        BitWriter { buf, free }
    }

    /// Returns the bytes and the number of unused low bits in the last byte.
    pub fn into_parts(self) -> (Vec<u8>, u8) {
        (self.buf, self.free)
    }

    /// The bytes written so far (the last byte may be partial).
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Allocated bytes.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Unused low bits in the last byte.
    pub fn free_bits(&self) -> u8 {
        self.free
    }

    /// Total bits written.
    pub fn bit_len(&self) -> usize {
        self.buf.len() * 8 - self.free as usize
    }

    /// Mutable access to the byte buffer, to manage its capacity.
    pub fn buf_mut(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Writes one bit.
    #[inline]
    pub fn write_bit(&mut self, bit: bool) {
        if self.free == 0 {
            self.buf.push(0);
            self.free = 8;
        }
        self.free -= 1;
        if bit && let Some(last) = self.buf.last_mut() {
            *last |= 1 << self.free;
        }
    }

    /// Writes the low `n` bits of `v` (n ≤ 64), most significant first.
    #[inline]
    pub fn write_bits(&mut self, v: u64, n: u8) {
        debug_assert!(n <= 64);
        let mut n = n as u32;
        let v = if n == 64 { v } else { v & ((1u64 << n) - 1) };
        // Fill the free low bits of the last byte.
        if self.free > 0 && n > 0 {
            let take = n.min(self.free as u32);
            let chunk = (v >> (n - take)) as u8 & ((1u16 << take) - 1) as u8;
            if let Some(last) = self.buf.last_mut() {
                *last |= chunk << (self.free as u32 - take);
            }
            self.free -= take as u8;
            n -= take;
        }
        // Whole bytes.
        while n >= 8 {
            n -= 8;
            self.buf.push((v >> n) as u8);
        }
        // A partial last byte.
        if n > 0 {
            self.buf.push(((v << (8 - n)) & 0xff) as u8);
            self.free = (8 - n) as u8;
        }
    }
}

/// Reads bits, most significant first, from a byte slice.
#[derive(Clone, Debug)]
pub struct BitReader<'a> {
    buf: &'a [u8],
    /// Bit position from the start.
    pos: usize,
    /// Total readable bits.
    end: usize,
}

impl<'a> BitReader<'a> {
    /// Reads all bits of `buf`.
    pub fn new(buf: &'a [u8]) -> BitReader<'a> {
        BitReader { buf, pos: 0, end: buf.len() * 8 }
    }

    /// Reads the first `bits` bits of `buf` only.
    pub fn with_len(buf: &'a [u8], bits: usize) -> BitReader<'a> {
        BitReader { buf, pos: 0, end: bits.min(buf.len() * 8) }
    }

    /// Bits left.
    pub fn remaining(&self) -> usize {
        self.end - self.pos
    }

    /// Reads one bit.
    #[inline]
    pub fn read_bit(&mut self) -> Result<bool, DecodeError> {
        if self.pos >= self.end {
            return Err(DecodeError::Truncated { offset: self.pos / 8, needed: 1 });
        }
        let b = self.buf[self.pos >> 3] & (0x80 >> (self.pos & 7)) != 0;
        self.pos += 1;
        Ok(b)
    }

    /// Reads `n` bits (n ≤ 64) as an unsigned integer.
    #[inline]
    pub fn read_bits(&mut self, n: u8) -> Result<u64, DecodeError> {
        debug_assert!(n <= 64);
        let n = n as usize;
        if self.pos + n > self.end {
            return Err(DecodeError::Truncated { offset: self.pos / 8, needed: n.div_ceil(8) });
        }
        if n == 0 {
            return Ok(0);
        }
        // Fast path: one big-endian word load when the bits lie within eight bytes.
        let byte = self.pos >> 3;
        let off = self.pos & 7;
        if off + n <= 64
            && let Some(w) = self.buf.get(byte..byte + 8)
        {
            let w = u64::from_be_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
            self.pos += n;
            return Ok((w << off) >> (64 - n));
        }
        let mut v: u64 = 0;
        let mut left = n;
        while left > 0 {
            let byte = self.buf[self.pos >> 3];
            let bit_off = self.pos & 7;
            let avail = 8 - bit_off;
            let take = left.min(avail);
            let chunk = (byte >> (avail - take)) & ((1u16 << take) - 1) as u8;
            v = (v << take) | chunk as u64;
            self.pos += take;
            left -= take;
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip() {
        let mut w = BitWriter::new();
        let items: Vec<(u64, u8)> = vec![(1, 1), (0, 1), (0b101, 3), (u64::MAX, 64), (0x1234, 13), (0, 0), (7, 64)];
        for &(v, n) in &items {
            w.write_bits(v, n);
        }
        w.write_bit(true);
        let bits = w.bit_len();
        let (buf, _) = w.into_parts();
        let mut r = BitReader::with_len(&buf, bits);
        for &(v, n) in &items {
            let mask = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
            assert_eq!(r.read_bits(n).unwrap(), v & mask);
        }
        assert!(r.read_bit().unwrap());
        assert_eq!(r.remaining(), 0);
        assert!(r.read_bit().is_err());
    }

    #[test]
    fn every_width_at_every_offset() {
        // Exercises the word-load fast path and the byte loop near the end of the buffer.
        let mut w = BitWriter::new();
        let mut items = Vec::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..2000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let n = (i % 65) as u8;
            let v = if n == 64 { x } else { x & ((1u64 << n) - 1) };
            w.write_bits(v, n);
            items.push((v, n));
        }
        let bits = w.bit_len();
        let (buf, _) = w.into_parts();
        let mut r = BitReader::with_len(&buf, bits);
        for &(v, n) in &items {
            assert_eq!(r.read_bits(n).unwrap(), v, "width {n}");
        }
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn resume_from_parts() {
        let mut w = BitWriter::new();
        w.write_bits(0b101, 3);
        let (buf, free) = w.into_parts();
        let mut w = BitWriter::from_parts(buf, free);
        w.write_bits(0b11111, 5);
        assert_eq!(w.bytes(), &[0b1011_1111]);
    }
}
