//! Immutable block files: every stream's entries of one head cut, in zstd-compressed chunks,
//! with an index of streams and chunks at the end. Layout in `FORMAT.md`.

use crate::batch::Batch;
use crate::error::Error;
use crate::skip::{Bloom, fingerprints};
use seer_encoding::{ByteReader, DecodeError, crc32, put_uvarint, put_varint};
use seer_model::{Label, Labels};
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"SEERLOGB";
const FOOTER_MAGIC: &[u8; 4] = b"SLGE";
/// Version 2 added the chunks' skip filters to the index; version 1 files are still read.
const VERSION: u8 = 3;
const HEADER_LEN: u64 = 16;
const FOOTER_LEN: u64 = 64;
/// Largest decompressed chunk a reader accepts.
const MAX_CHUNK_RAW: usize = 64 << 20;

/// Where a chunk is and what it holds.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ChunkRef {
    pub offset: u64,
    pub len: u32,
    pub mint: i64,
    pub maxt: i64,
    pub entries: u32,
    pub raw: u32,
    /// Skip filter of the chunk's lines (empty: none, the chunk is always read).
    pub bloom: Bloom,
}

/// A stream's chunks in a block, in time order.
#[derive(Clone, Debug)]
pub(crate) struct BlockStream {
    pub labels: Labels,
    pub chunks: Vec<ChunkRef>,
}

/// Summary of a block, from its footer.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub(crate) struct BlockMeta {
    pub mint: i64,
    pub maxt: i64,
    pub entries: u64,
    /// First WAL segment not covered by this block (0: none covered).
    pub wal_next: u64,
    /// Uncompressed bytes of lines and metadata.
    pub raw: u64,
}

/// An open block: its index in memory, chunks read on demand.
#[derive(Debug)]
pub(crate) struct Block {
    pub path: PathBuf,
    file: File,
    version: u8,
    pub meta: BlockMeta,
    pub streams: Vec<BlockStream>,
}

fn put_str(dst: &mut Vec<u8>, s: &str) {
    put_uvarint(dst, s.len() as u64);
    dst.extend_from_slice(s.as_bytes());
}

/// Encodes entries `range` of a sorted batch as a chunk payload (before compression).
fn encode_chunk(b: &Batch, range: std::ops::Range<usize>, dst: &mut Vec<u8>) {
    put_uvarint(dst, range.len() as u64);
    let mut prev = b.ts[range.start];
    put_varint(dst, prev);
    // Timestamps often share a unit (ms or µs precision): store the deltas divided by their
    // greatest common divisor, which shortens each varint and leaves zstd less noise.
    let mut scale = 0u64;
    for i in range.clone().skip(1) {
        scale = gcd(scale, b.ts[i].abs_diff(b.ts[i - 1]));
    }
    let scale = scale.clamp(1, i64::MAX as u64) as i64;
    if range.len() > 1 {
        put_uvarint(dst, scale as u64);
    }
    for i in range.clone().skip(1) {
        put_varint(dst, (b.ts[i] - prev) / scale);
        prev = b.ts[i];
    }
    for i in range.clone() {
        put_uvarint(dst, b.line(i).len() as u64);
    }
    for i in range.clone() {
        dst.extend_from_slice(b.line(i).as_bytes());
    }
    for i in range {
        put_uvarint(dst, b.metadata[i].len() as u64);
        for l in &b.metadata[i] {
            put_str(dst, &l.name);
            put_str(dst, &l.value);
        }
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn decode_chunk(buf: &[u8], version: u8) -> Result<Batch, DecodeError> {
    let mut r = ByteReader::new(buf);
    let n = r.len_prefix(buf.len())?;
    let mut out = Batch::default();
    out.ts.reserve(n);
    let mut t = 0i64;
    let mut scale = 1i64;
    for i in 0..n {
        let d = r.varint()?;
        if i == 0 {
            t = d;
            if version >= 3 && n > 1 {
                scale = r.uvarint()?.clamp(1, i64::MAX as u64) as i64;
            }
        } else {
            t = t.wrapping_add(d.wrapping_mul(scale));
        }
        out.ts.push(t);
    }
    let mut total = 0usize;
    out.ends.reserve(n);
    for _ in 0..n {
        total += r.len_prefix(buf.len())?;
        if total > u32::MAX as usize {
            return Err(DecodeError::Invalid("chunk text too long".into()));
        }
        out.ends.push(total as u32);
    }
    let at = r.offset();
    let text = r.bytes(total)?;
    out.text = std::str::from_utf8(text).map_err(|_| DecodeError::BadUtf8 { offset: at })?.to_string();
    if let Some(&last) = out.ends.last() {
        // Every line boundary must be a character boundary.
        if out.ends.iter().any(|&e| !out.text.is_char_boundary(e as usize)) || last as usize != out.text.len() {
            return Err(DecodeError::Invalid("line boundary inside a character".into()));
        }
    }
    out.metadata.reserve(n);
    for _ in 0..n {
        let k = r.len_prefix(buf.len())?;
        let mut m = Vec::with_capacity(k.min(128));
        for _ in 0..k {
            let name = r.str()?.to_string();
            let value = r.str()?.to_string();
            m.push(Label { name, value });
        }
        out.metadata.push(m);
    }
    Ok(out)
}

/// Writes a block of `streams` (sorted batches, labels unique) into `dir`; returns its path.
pub(crate) fn write(
    dir: &Path,
    streams: &[(Labels, Batch)],
    wal_next: u64,
    chunk_bytes: usize,
    level: i32,
) -> Result<PathBuf, Error> {
    fs::create_dir_all(dir).map_err(Error::io("create dir", dir))?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let name = format!("{wal_next:08}-{now:x}.lblk");
    let tmp = dir.join(format!("{name}.tmp"));
    let fin = dir.join(&name);
    let f = File::create(&tmp).map_err(Error::io("create", &tmp))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    let mut header = [0u8; HEADER_LEN as usize];
    header[..8].copy_from_slice(MAGIC);
    header[8] = VERSION;
    w.write_all(&header).map_err(Error::io("write", &tmp))?;
    let mut offset = HEADER_LEN;
    let mut index = Vec::new();
    let mut meta = BlockMeta { mint: i64::MAX, maxt: i64::MIN, entries: 0, wal_next, raw: 0 };
    put_uvarint(&mut index, streams.len() as u64);
    let mut payload = Vec::new();
    let mut zc = zstd::bulk::Compressor::new(level).map_err(Error::io("zstd context", &tmp))?;
    for (labels, b) in streams {
        debug_assert!(b.is_sorted());
        put_uvarint(&mut index, labels.len() as u64);
        for l in labels.iter() {
            put_str(&mut index, &l.name);
            put_str(&mut index, &l.value);
        }
        // Cut chunks at about `chunk_bytes` of line text.
        let mut cuts = Vec::new();
        let mut start = 0;
        let mut size = 0;
        for i in 0..b.len() {
            size += b.line(i).len() + 8;
            if size >= chunk_bytes {
                cuts.push(start..i + 1);
                start = i + 1;
                size = 0;
            }
        }
        if start < b.len() {
            cuts.push(start..b.len());
        }
        put_uvarint(&mut index, cuts.len() as u64);
        for r in cuts {
            payload.clear();
            encode_chunk(b, r.clone(), &mut payload);
            let z = zc.compress(&payload).map_err(Error::io("compress", &tmp))?;
            w.write_all(&z).map_err(Error::io("write", &tmp))?;
            w.write_all(&crc32(&z).to_be_bytes()).map_err(Error::io("write", &tmp))?;
            let (mint, maxt) = (b.ts[r.start], b.ts[r.end - 1]);
            put_uvarint(&mut index, offset);
            put_uvarint(&mut index, z.len() as u64);
            put_varint(&mut index, mint);
            put_varint(&mut index, maxt);
            put_uvarint(&mut index, r.len() as u64);
            put_uvarint(&mut index, payload.len() as u64);
            let mut fps = Vec::new();
            for i in r.clone() {
                fingerprints(b.line(i).as_bytes(), &mut fps);
            }
            let bloom = Bloom::build(fps);
            put_uvarint(&mut index, bloom.bits.len() as u64);
            for w in &bloom.bits {
                index.extend_from_slice(&w.to_le_bytes());
            }
            offset += z.len() as u64 + 4;
            meta.mint = meta.mint.min(mint);
            meta.maxt = meta.maxt.max(maxt);
            meta.entries += r.len() as u64;
            meta.raw += payload.len() as u64;
        }
    }
    let index_offset = offset;
    w.write_all(&index).map_err(Error::io("write", &tmp))?;
    w.write_all(&crc32(&index).to_be_bytes()).map_err(Error::io("write", &tmp))?;
    let mut footer = Vec::with_capacity(FOOTER_LEN as usize);
    for v in [index_offset, index.len() as u64, meta.mint as u64, meta.maxt as u64, meta.entries, wal_next, meta.raw] {
        footer.extend_from_slice(&v.to_be_bytes());
    }
    let c = crc32(&footer);
    footer.extend_from_slice(&c.to_be_bytes());
    footer.extend_from_slice(FOOTER_MAGIC);
    w.write_all(&footer).map_err(Error::io("write", &tmp))?;
    let f = w.into_inner().map_err(|e| Error::Io { op: "flush", path: tmp.clone(), source: e.into_error() })?;
    f.sync_all().map_err(Error::io("fsync", &tmp))?;
    fs::rename(&tmp, &fin).map_err(Error::io("rename", &tmp))?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(Error::io("fsync", dir))?;
    Ok(fin)
}

impl Block {
    /// Opens a block and loads its index.
    pub(crate) fn open(path: &Path) -> Result<Block, Error> {
        let corrupt = |what: &'static str, detail: String| Error::Corrupt { what, path: path.to_path_buf(), detail };
        let file = File::open(path).map_err(Error::io("open", path))?;
        let size = file.metadata().map_err(Error::io("stat", path))?.len();
        if size < HEADER_LEN + FOOTER_LEN {
            return Err(corrupt("block", format!("file of {size} bytes is too short")));
        }
        let mut header = [0u8; HEADER_LEN as usize];
        file.read_exact_at(&mut header, 0).map_err(Error::io("read", path))?;
        if &header[..8] != MAGIC || !(1..=VERSION).contains(&header[8]) {
            return Err(corrupt("header", "bad magic or unsupported version".into()));
        }
        let mut footer = [0u8; FOOTER_LEN as usize];
        file.read_exact_at(&mut footer, size - FOOTER_LEN).map_err(Error::io("read", path))?;
        if &footer[60..] != FOOTER_MAGIC || crc32(&footer[..56]).to_be_bytes() != footer[56..60] {
            return Err(corrupt("footer", "bad magic or checksum".into()));
        }
        let word = |i: usize| u64::from_be_bytes(footer[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
        let (index_offset, index_len) = (word(0), word(1));
        let meta =
            BlockMeta { mint: word(2) as i64, maxt: word(3) as i64, entries: word(4), wal_next: word(5), raw: word(6) };
        if index_offset < HEADER_LEN || index_offset.saturating_add(index_len).saturating_add(4) > size - FOOTER_LEN {
            return Err(corrupt("footer", "index outside the file".into()));
        }
        let mut index = vec![0u8; index_len as usize + 4];
        file.read_exact_at(&mut index, index_offset).map_err(Error::io("read", path))?;
        let (body, c) = index.split_at(index_len as usize);
        if crc32(body).to_be_bytes() != c {
            return Err(corrupt("index", "checksum mismatch".into()));
        }
        let streams = decode_index(body, index_offset, header[8]).map_err(|e| corrupt("index", e.to_string()))?;
        Ok(Block { path: path.to_path_buf(), file, version: header[8], meta, streams })
    }

    /// Reads and decodes one chunk.
    pub(crate) fn read_chunk(&self, c: &ChunkRef) -> Result<Batch, Error> {
        let corrupt = |detail: String| Error::Corrupt { what: "chunk", path: self.path.clone(), detail };
        let mut buf = vec![0u8; c.len as usize + 4];
        self.file.read_exact_at(&mut buf, c.offset).map_err(Error::io("read", &self.path))?;
        let (z, crc) = buf.split_at(c.len as usize);
        if crc32(z).to_be_bytes() != crc {
            return Err(corrupt(format!("checksum mismatch at offset {}", c.offset)));
        }
        let raw = zstd::bulk::decompress(z, c.raw as usize).map_err(|e| corrupt(e.to_string()))?;
        decode_chunk(&raw, self.version).map_err(|e| corrupt(e.to_string()))
    }
}

fn decode_index(buf: &[u8], limit: u64, version: u8) -> Result<Vec<BlockStream>, DecodeError> {
    let mut r = ByteReader::new(buf);
    let n = r.len_prefix(buf.len())?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let k = r.len_prefix(buf.len())?;
        let mut pairs = Vec::with_capacity(k);
        for _ in 0..k {
            let name = r.str()?.to_string();
            let value = r.str()?.to_string();
            pairs.push(Label { name, value });
        }
        let labels =
            Labels::from_pairs_checked(pairs).map_err(|n| DecodeError::Invalid(format!("duplicate label {n}")))?;
        let c = r.len_prefix(buf.len())?;
        let mut chunks = Vec::with_capacity(c);
        for _ in 0..c {
            let offset = r.uvarint()?;
            let len = r.uvarint()?;
            let mint = r.varint()?;
            let maxt = r.varint()?;
            let entries = r.uvarint()?;
            let raw = r.uvarint()?;
            let mut bloom = Bloom::default();
            if version >= 2 {
                let words = r.len_prefix(r.remaining() / 8)?;
                bloom.bits.reserve(words);
                for _ in 0..words {
                    let b = r.bytes(8)?;
                    bloom.bits.push(u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]));
                }
            }
            if offset < HEADER_LEN || offset.saturating_add(len) + 4 > limit || raw as usize > MAX_CHUNK_RAW {
                return Err(DecodeError::Invalid(format!("chunk at {offset} of {len} bytes is out of bounds")));
            }
            chunks.push(ChunkRef {
                offset,
                len: len as u32,
                mint,
                maxt,
                entries: entries.min(u32::MAX as u64) as u32,
                raw: raw as u32,
                bloom,
            });
        }
        out.push(BlockStream { labels, chunks });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_open_read_and_detect_damage() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Batch::default();
        for i in 0..1000 {
            let meta = if i % 3 == 0 { vec![Label::new("trace_id", format!("t{i}"))] } else { vec![] };
            b.push(1_000 + i * 10, &format!("line {i} héllo"), meta);
        }
        let streams =
            vec![(Labels::from_pairs([("app", "a")]), b.clone()), (Labels::from_pairs([("app", "b")]), b.clone())];
        let path = write(dir.path(), &streams, 3, 4096, 3).unwrap();
        let blk = Block::open(&path).unwrap();
        assert_eq!(blk.meta.entries, 2000);
        assert_eq!((blk.meta.mint, blk.meta.maxt, blk.meta.wal_next), (1_000, 10_990, 3));
        assert_eq!(blk.streams.len(), 2);
        assert!(blk.streams[0].chunks.len() > 1);
        let mut back = Batch::default();
        for c in &blk.streams[1].chunks {
            let got = blk.read_chunk(c).unwrap();
            for i in 0..got.len() {
                back.push(got.ts[i], got.line(i), got.metadata[i].clone());
            }
        }
        assert_eq!(back, b);
        // Flip a byte in the first chunk: the read fails with a checksum error, not a panic.
        let mut bytes = fs::read(&path).unwrap();
        bytes[HEADER_LEN as usize + 3] ^= 0xff;
        fs::write(&path, &bytes).unwrap();
        let blk = Block::open(&path).unwrap();
        assert!(matches!(blk.read_chunk(&blk.streams[0].chunks[0]), Err(Error::Corrupt { .. })));
        // A truncated file does not open.
        fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
        assert!(Block::open(&path).is_err());
    }
}
