//! Immutable blocks: one file per block holding compressed sample pages and an index
//! (symbols, series, postings, label index), described in `FORMAT.md`, section "Blocks".
//!
//! A [`Block`] keeps only small tables in memory (symbols, per-series offsets, the label
//! index and the page table) and reads series entries, postings and pages with positioned
//! reads, caching recently decompressed pages.

pub(crate) mod writer;

use crate::chunk::columnar;
use crate::head::{intersect, subtract, union_sorted};
use seer_encoding::{ByteReader, DecodeError, crc32};
use seer_model::{HistogramSample, Label, Labels, MatchKind, Matcher, Sample};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub(crate) const MAGIC: &[u8; 7] = b"SEERBLK";
pub(crate) const VERSION: u8 = 2;
pub(crate) const FOOTER_LEN: u64 = 16;
/// Sections in TOC order.
pub(crate) const SECTIONS: usize = 7;
pub(crate) const TOC_ENTRY_LEN: u64 = 20;
pub(crate) const S_SYMBOLS: usize = 0;
pub(crate) const S_SERIES: usize = 1;
pub(crate) const S_SERIES_OFFSETS: usize = 2;
pub(crate) const S_POSTINGS: usize = 3;
pub(crate) const S_LABEL_INDEX: usize = 4;
pub(crate) const S_PAGES: usize = 5;
pub(crate) const S_META: usize = 6;

/// Block file name suffix.
pub(crate) const EXT: &str = "blk";

/// Block metadata, stored as JSON in the meta section.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BlockMeta {
    /// Block id (ULID).
    pub ulid: String,
    /// Smallest sample time (inclusive, ms).
    pub min_time: i64,
    /// End of the block's range (exclusive, ms).
    pub max_time: i64,
    /// Counters.
    pub stats: BlockStats,
    /// How the block was made.
    pub compaction: Compaction,
}

/// Size counters of a block.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BlockStats {
    /// Series.
    pub num_series: u64,
    /// Samples.
    pub num_samples: u64,
    /// Compressed pages.
    pub num_pages: u64,
}

/// Compaction lineage.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Compaction {
    /// 1 for blocks cut from the head, +1 per merge.
    pub level: u32,
    /// Ids of the level-1 blocks merged into this one.
    pub sources: Vec<String>,
}

/// Errors reading a block.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// I/O.
    #[error("block {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// OS error.
        source: std::io::Error,
    },
    /// Structural damage.
    #[error("block {path} is corrupt: {what}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
}

#[derive(Clone, Copy, Debug)]
struct Section {
    off: u64,
    len: u64,
}

/// Where a series' samples are: page, offset and length in the decompressed page.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ChunkRef {
    pub page: u32,
    pub off: u32,
    pub len: u32,
}

/// One series entry of a block.
#[derive(Clone, Debug)]
pub(crate) struct BlockSeries {
    pub labels: Labels,
    pub mint: i64,
    pub maxt: i64,
    pub chunk: ChunkRef,
}

#[derive(Clone, Copy, Debug)]
struct PageInfo {
    off: u64,
    len: u32,
    raw_len: u32,
}

struct ValueEntry {
    value: u32,
    postings_off: u64,
    postings_len: u32,
}

/// An open block.
pub struct Block {
    path: PathBuf,
    file: File,
    meta: BlockMeta,
    size: u64,
    /// Sorted strings; symbol id = index.
    symbols: Vec<Box<str>>,
    series: Section,
    series_offsets: Vec<u32>,
    postings: Section,
    /// name symbol → values sorted by value string.
    label_index: HashMap<u32, Vec<ValueEntry>>,
    pages: Vec<PageInfo>,
    page_cache: Mutex<PageCache>,
    /// Format version (1: floats only; 2: floats then native histograms per series).
    version: u8,
}

struct PageCache {
    pages: Vec<(u32, Arc<Vec<u8>>)>,
}

const PAGE_CACHE_ENTRIES: usize = 8;

impl Block {
    /// Opens a block file and loads its small tables.
    pub fn open(path: &Path) -> Result<Block, BlockError> {
        let io = |source| BlockError::Io { path: path.to_path_buf(), source };
        let corrupt = |what: String| BlockError::Corrupt { path: path.to_path_buf(), what };
        let file = File::open(path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        let toc_len = SECTIONS as u64 * TOC_ENTRY_LEN;
        if size < 8 + toc_len + FOOTER_LEN {
            return Err(corrupt(format!("file of {size} bytes is too short")));
        }
        let mut footer = [0u8; FOOTER_LEN as usize];
        file.read_exact_at(&mut footer, size - FOOTER_LEN).map_err(io)?;
        if &footer[8..15] != MAGIC || !(1..=VERSION).contains(&footer[15]) {
            return Err(corrupt("bad footer magic or version".into()));
        }
        let toc_off = u64::from_be_bytes(footer[..8].try_into().expect("8 bytes"));
        if toc_off.checked_add(toc_len).is_none_or(|e| e > size - FOOTER_LEN) {
            return Err(corrupt(format!("toc offset {toc_off} out of range")));
        }
        let mut toc = vec![0u8; toc_len as usize];
        file.read_exact_at(&mut toc, toc_off).map_err(io)?;
        let mut sections = [Section { off: 0, len: 0 }; SECTIONS];
        let mut crcs = [0u32; SECTIONS];
        let mut r = ByteReader::new(&toc);
        for i in 0..SECTIONS {
            let off = r.u64_be().map_err(|e| corrupt(e.to_string()))?;
            let len = r.u64_be().map_err(|e| corrupt(e.to_string()))?;
            crcs[i] = r.u32_be().map_err(|e| corrupt(e.to_string()))?;
            if off.checked_add(len).is_none_or(|e| e > toc_off) {
                return Err(corrupt(format!("section {i} out of range")));
            }
            sections[i] = Section { off, len };
        }
        let read_section = |i: usize| -> Result<Vec<u8>, BlockError> {
            let s = sections[i];
            let mut buf = vec![0u8; s.len as usize];
            file.read_exact_at(&mut buf, s.off).map_err(io)?;
            if crc32(&buf) != crcs[i] {
                return Err(corrupt(format!("checksum mismatch in section {i}")));
            }
            Ok(buf)
        };
        let de = |e: DecodeError| corrupt(e.to_string());

        let meta_buf = read_section(S_META)?;
        let meta: BlockMeta = serde_json::from_slice(&meta_buf).map_err(|e| corrupt(format!("meta: {e}")))?;

        let sym_buf = read_section(S_SYMBOLS)?;
        let mut r = ByteReader::new(&sym_buf);
        let n = r.len_prefix(sym_buf.len()).map_err(de)?;
        let mut symbols = Vec::with_capacity(n);
        for _ in 0..n {
            symbols.push(Box::from(r.str().map_err(de)?));
        }

        let off_buf = read_section(S_SERIES_OFFSETS)?;
        let mut r = ByteReader::new(&off_buf);
        let n = r.len_prefix(off_buf.len()).map_err(de)?;
        let mut series_offsets = Vec::with_capacity(n);
        let mut acc = 0u64;
        for _ in 0..n {
            acc += r.uvarint().map_err(de)?;
            if acc > sections[S_SERIES].len {
                return Err(corrupt("series offset out of range".into()));
            }
            series_offsets.push(acc as u32);
        }

        let li_buf = read_section(S_LABEL_INDEX)?;
        let mut r = ByteReader::new(&li_buf);
        let names = r.len_prefix(li_buf.len()).map_err(de)?;
        let mut label_index = HashMap::with_capacity(names);
        let mut poff = 0u64;
        for _ in 0..names {
            let name = r.uvarint().map_err(de)? as u32;
            let nv = r.len_prefix(li_buf.len()).map_err(de)?;
            let mut vals = Vec::with_capacity(nv);
            for _ in 0..nv {
                let value = r.uvarint().map_err(de)? as u32;
                poff += r.uvarint().map_err(de)?;
                let plen = r.uvarint().map_err(de)? as u32;
                if value as usize >= symbols.len() || poff + plen as u64 > sections[S_POSTINGS].len {
                    return Err(corrupt("label index entry out of range".into()));
                }
                vals.push(ValueEntry { value, postings_off: poff, postings_len: plen });
            }
            if name as usize >= symbols.len() {
                return Err(corrupt("label name out of range".into()));
            }
            label_index.insert(name, vals);
        }

        let pg_buf = read_section(S_PAGES)?;
        let mut r = ByteReader::new(&pg_buf);
        let n = r.len_prefix(pg_buf.len()).map_err(de)?;
        let mut pages = Vec::with_capacity(n);
        let mut off = 8u64;
        for _ in 0..n {
            let len = r.uvarint().map_err(de)? as u32;
            let raw_len = r.uvarint().map_err(de)? as u32;
            pages.push(PageInfo { off, len, raw_len });
            off += len as u64;
        }
        if off > sections[S_SYMBOLS].off.min(toc_off) {
            return Err(corrupt("pages overlap the index".into()));
        }
        Ok(Block {
            path: path.to_path_buf(),
            file,
            meta,
            size,
            symbols,
            series: sections[S_SERIES],
            series_offsets,
            postings: sections[S_POSTINGS],
            label_index,
            pages,
            page_cache: Mutex::new(PageCache { pages: Vec::new() }),
            version: footer[15],
        })
    }

    /// Block metadata.
    pub fn meta(&self) -> &BlockMeta {
        &self.meta
    }

    /// File path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// File size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Number of series.
    pub(crate) fn num_series(&self) -> usize {
        self.series_offsets.len()
    }

    /// Sorted symbol table.
    pub(crate) fn symbols(&self) -> &[Box<str>] {
        &self.symbols
    }

    fn corrupt(&self, what: impl Into<String>) -> BlockError {
        BlockError::Corrupt { path: self.path.clone(), what: what.into() }
    }

    fn symbol(&self, id: u64) -> Result<&str, BlockError> {
        self.symbols.get(id as usize).map(|s| &**s).ok_or_else(|| self.corrupt(format!("symbol {id} out of range")))
    }

    fn lookup_symbol(&self, s: &str) -> Option<u32> {
        self.symbols.binary_search_by(|x| (**x).cmp(s)).ok().map(|i| i as u32)
    }

    fn read_at(&self, off: u64, len: usize) -> Result<Vec<u8>, BlockError> {
        let mut buf = vec![0u8; len];
        self.file.read_exact_at(&mut buf, off).map_err(|source| BlockError::Io { path: self.path.clone(), source })?;
        Ok(buf)
    }

    fn read_postings(&self, e: &ValueEntry) -> Result<Vec<u32>, BlockError> {
        let buf = self.read_at(self.postings.off + e.postings_off, e.postings_len as usize)?;
        let mut r = ByteReader::new(&buf);
        let de = |e: DecodeError| self.corrupt(e.to_string());
        let n = r.len_prefix(buf.len()).map_err(de)?;
        let mut out = Vec::with_capacity(n);
        let mut acc = 0u64;
        for i in 0..n {
            let d = r.uvarint().map_err(de)?;
            acc = if i == 0 { d } else { acc + d };
            if acc >= self.series_offsets.len() as u64 {
                return Err(self.corrupt("posting out of range"));
            }
            out.push(acc as u32);
        }
        Ok(out)
    }

    /// All label names, sorted.
    pub(crate) fn label_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.label_index.keys().map(|&n| self.symbols[n as usize].to_string()).collect();
        v.sort();
        v
    }

    /// All values of `name`, sorted.
    pub(crate) fn label_values(&self, name: &str) -> Vec<String> {
        let Some(n) = self.lookup_symbol(name) else { return Vec::new() };
        self.label_index
            .get(&n)
            .map(|vals| vals.iter().map(|e| self.symbols[e.value as usize].to_string()).collect())
            .unwrap_or_default()
    }

    /// Ordinals of the series matching all `matchers`, ascending (= label order).
    pub(crate) fn select(&self, matchers: &[Matcher]) -> Result<Vec<u32>, BlockError> {
        let mut include: Vec<Vec<u32>> = Vec::new();
        let mut exclude: Vec<Vec<u32>> = Vec::new();
        for m in matchers {
            let vals = self.lookup_symbol(&m.name).and_then(|n| self.label_index.get(&n));
            let Some(vals) = vals else {
                if m.matches("") {
                    continue;
                }
                return Ok(Vec::new());
            };
            if !m.matches("") {
                include.push(self.postings_matching(vals, m, true)?);
            } else if m.kind != MatchKind::Regex || m.value != ".*" {
                exclude.push(self.postings_matching(vals, m, false)?);
            }
        }
        let mut ids = if include.is_empty() {
            (0..self.series_offsets.len() as u32).collect()
        } else {
            include.sort_by_key(|l| l.len());
            let mut it = include.into_iter();
            let mut acc = it.next().unwrap_or_default();
            for l in it {
                acc = intersect(&acc, &l);
            }
            acc
        };
        for ex in exclude {
            ids = subtract(&ids, &ex);
        }
        Ok(ids)
    }

    fn postings_matching(&self, vals: &[ValueEntry], m: &Matcher, want: bool) -> Result<Vec<u32>, BlockError> {
        let mut lists = Vec::new();
        if want && let Some(exact) = m.exact_values() {
            for v in exact {
                if let Some(sym) = self.lookup_symbol(v)
                    && let Ok(i) = vals.binary_search_by(|e| e.value.cmp(&sym))
                {
                    lists.push(self.read_postings(&vals[i])?);
                }
            }
        } else {
            for e in vals {
                if m.matches(&self.symbols[e.value as usize]) == want {
                    lists.push(self.read_postings(e)?);
                }
            }
        }
        let refs: Vec<&[u32]> = lists.iter().map(|l| l.as_slice()).collect();
        Ok(union_sorted(&refs))
    }

    /// Reads the entries of series `ordinals` (ascending), coalescing adjacent reads.
    pub(crate) fn series(&self, ordinals: &[u32]) -> Result<Vec<BlockSeries>, BlockError> {
        let mut out = Vec::with_capacity(ordinals.len());
        let mut i = 0;
        while i < ordinals.len() {
            // Take a run of ordinals whose entries lie within 64 KiB.
            let start = self.entry_start(ordinals[i])?;
            let mut j = i;
            while j + 1 < ordinals.len() && self.entry_end(ordinals[j + 1])? - start <= 64 << 10 {
                j += 1;
            }
            let end = self.entry_end(ordinals[j])?;
            let buf = self.read_at(self.series.off + start, (end - start) as usize)?;
            for &o in &ordinals[i..=j] {
                let s = (self.entry_start(o)? - start) as usize;
                let e = (self.entry_end(o)? - start) as usize;
                out.push(self.decode_series(&buf[s..e])?);
            }
            i = j + 1;
        }
        Ok(out)
    }

    fn entry_start(&self, o: u32) -> Result<u64, BlockError> {
        self.series_offsets
            .get(o as usize)
            .map(|&x| x as u64)
            .ok_or_else(|| self.corrupt("series ordinal out of range"))
    }

    fn entry_end(&self, o: u32) -> Result<u64, BlockError> {
        Ok(self.series_offsets.get(o as usize + 1).map(|&x| x as u64).unwrap_or(self.series.len))
    }

    fn decode_series(&self, buf: &[u8]) -> Result<BlockSeries, BlockError> {
        let de = |e: DecodeError| self.corrupt(e.to_string());
        let mut r = ByteReader::new(buf);
        let n = r.len_prefix(buf.len()).map_err(de)?;
        let mut pairs = Vec::with_capacity(n);
        for _ in 0..n {
            let name = self.symbol(r.uvarint().map_err(de)?)?.to_string();
            let value = self.symbol(r.uvarint().map_err(de)?)?.to_string();
            pairs.push(Label { name, value });
        }
        let labels = Labels::from_pairs_checked(pairs).map_err(|n| self.corrupt(format!("duplicate label {n}")))?;
        let mint = r.varint().map_err(de)?;
        let maxt = mint.wrapping_add(r.uvarint().map_err(de)? as i64);
        let page = r.uvarint().map_err(de)? as u32;
        let off = r.uvarint().map_err(de)? as u32;
        let len = r.uvarint().map_err(de)? as u32;
        Ok(BlockSeries { labels, mint, maxt, chunk: ChunkRef { page, off, len } })
    }

    fn page(&self, idx: u32) -> Result<Arc<Vec<u8>>, BlockError> {
        {
            let cache = self.page_cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, p)) = cache.pages.iter().find(|(i, _)| *i == idx) {
                return Ok(p.clone());
            }
        }
        let info = *self.pages.get(idx as usize).ok_or_else(|| self.corrupt(format!("page {idx} out of range")))?;
        let raw = self.read_at(info.off, info.len as usize)?;
        let mut out = Vec::with_capacity(info.raw_len as usize);
        zstd::stream::copy_decode(&raw[..], &mut out).map_err(|e| self.corrupt(format!("page {idx}: {e}")))?;
        if out.len() != info.raw_len as usize {
            return Err(self.corrupt(format!("page {idx} has {} bytes, expected {}", out.len(), info.raw_len)));
        }
        let p = Arc::new(out);
        let mut cache = self.page_cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.pages.len() >= PAGE_CACHE_ENTRIES {
            cache.pages.remove(0);
        }
        cache.pages.push((idx, p.clone()));
        Ok(p)
    }

    /// Appends the float and native histogram samples of `s` within `[mint, maxt]`.
    pub(crate) fn read_series(
        &self,
        s: &BlockSeries,
        mint: i64,
        maxt: i64,
        out: &mut Vec<Sample>,
        hists: &mut Vec<HistogramSample>,
    ) -> Result<(), BlockError> {
        if s.maxt < mint || s.mint > maxt {
            return Ok(());
        }
        let page = self.page(s.chunk.page)?;
        let (a, b) = (s.chunk.off as usize, s.chunk.off as usize + s.chunk.len as usize);
        let bytes = page.get(a..b).ok_or_else(|| self.corrupt("chunk outside its page"))?;
        let start = out.len();
        let mut r = ByteReader::new(bytes);
        columnar::decode(&mut r, out).map_err(|e| self.corrupt(e.to_string()))?;
        if mint > s.mint || maxt < s.maxt {
            let mut k = start;
            for i in start..out.len() {
                if out[i].t >= mint && out[i].t <= maxt {
                    out[k] = out[i];
                    k += 1;
                }
            }
            out.truncate(k);
        }
        if self.version >= 2 {
            let de = |e: DecodeError| self.corrupt(e.to_string());
            let n = r.len_prefix(r.remaining()).map_err(de)?;
            let mut t = 0i64;
            for _ in 0..n {
                t = t.wrapping_add(r.varint().map_err(de)?);
                let h = crate::histcodec::decode(&mut r).map_err(de)?;
                if t >= mint && t <= maxt {
                    hists.push(HistogramSample { t, h });
                }
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Block").field("path", &self.path).field("meta", &self.meta).finish()
    }
}
