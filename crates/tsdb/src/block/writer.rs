//! Writes a block file from series given in label order.

use super::{BlockMeta, BlockStats, Compaction, EXT, FOOTER_LEN, MAGIC, SECTIONS, VERSION};
use crate::chunk::columnar;
use crate::error::Error;
use seer_encoding::{crc32, put_uvarint, put_varint};
use seer_model::{HistogramSample, Labels, Sample};
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Uncompressed bytes collected before a page is compressed and written.
const PAGE_SIZE: usize = 256 << 10;

/// Streams series into a new block file. The file appears under its final name only after
/// [`BlockWriter::finish`] has written and fsynced everything.
pub(crate) struct BlockWriter {
    tmp: PathBuf,
    dir: PathBuf,
    ulid: String,
    out: BufWriter<File>,
    pos: u64,
    zstd_level: i32,
    symbols: Vec<String>,
    page: Vec<u8>,
    /// (compressed length, raw length)
    pages: Vec<(u32, u32)>,
    series: Vec<u8>,
    series_offsets: Vec<u32>,
    postings: HashMap<(u32, u32), Vec<u32>>,
    last_labels: Option<Labels>,
    stats: BlockStats,
    mint: i64,
    compaction: Compaction,
    encode_buf: Vec<u8>,
}

impl BlockWriter {
    /// Starts a block in `dir`. `symbols` must be sorted, unique, and contain every label
    /// name and value that will be added.
    pub(crate) fn create(
        dir: &Path,
        symbols: Vec<String>,
        compaction: Compaction,
        zstd_level: i32,
    ) -> Result<BlockWriter, Error> {
        debug_assert!(symbols.windows(2).all(|w| w[0] < w[1]), "BUG: symbols not sorted");
        fs::create_dir_all(dir).map_err(Error::io("create dir", dir))?;
        let ulid = crate::ulid::new_ulid();
        let tmp = dir.join(format!("{ulid}.{EXT}.tmp"));
        let f = File::create(&tmp).map_err(Error::io("create", &tmp))?;
        let mut out = BufWriter::with_capacity(1 << 20, f);
        out.write_all(MAGIC).map_err(Error::io("write", &tmp))?;
        out.write_all(&[VERSION]).map_err(Error::io("write", &tmp))?;
        let compaction = if compaction.sources.is_empty() {
            Compaction { level: compaction.level.max(1), sources: vec![ulid.clone()] }
        } else {
            compaction
        };
        Ok(BlockWriter {
            tmp,
            dir: dir.to_path_buf(),
            ulid,
            out,
            pos: 8,
            zstd_level,
            symbols,
            page: Vec::with_capacity(PAGE_SIZE + (64 << 10)),
            pages: Vec::new(),
            series: Vec::new(),
            series_offsets: Vec::new(),
            postings: HashMap::new(),
            last_labels: None,
            stats: BlockStats::default(),
            mint: i64::MAX,
            compaction,
            encode_buf: Vec::new(),
        })
    }

    fn sym(&self, s: &str) -> Result<u32, Error> {
        self.symbols
            .binary_search_by(|x| x.as_str().cmp(s))
            .map(|i| i as u32)
            .map_err(|_| Error::Bug(format!("symbol {s:?} missing from block symbol table")))
    }

    /// Adds a series. Series must come in strictly ascending label order; `samples` and
    /// `hists` must be sorted with unique timestamps. Series without samples are skipped.
    pub(crate) fn add_series(
        &mut self,
        labels: &Labels,
        samples: &[Sample],
        hists: &[HistogramSample],
    ) -> Result<(), Error> {
        if samples.is_empty() && hists.is_empty() {
            return Ok(());
        }
        if let Some(prev) = &self.last_labels
            && prev >= labels
        {
            return Err(Error::Bug(format!("series out of order in block writer: {prev} then {labels}")));
        }
        self.encode_buf.clear();
        columnar::encode(samples, &mut self.encode_buf);
        put_uvarint(&mut self.encode_buf, hists.len() as u64);
        let mut prev_t = 0i64;
        for h in hists {
            put_varint(&mut self.encode_buf, h.t.wrapping_sub(prev_t));
            crate::histcodec::encode(&mut self.encode_buf, &h.h);
            prev_t = h.t;
        }
        let chunk_off = self.page.len() as u32;
        self.page.extend_from_slice(&self.encode_buf);
        let chunk_len = self.encode_buf.len() as u32;
        let page_idx = self.pages.len() as u32;

        let ordinal = self.series_offsets.len() as u32;
        self.series_offsets.push(self.series.len() as u32);
        put_uvarint(&mut self.series, labels.len() as u64);
        for l in labels {
            let n = self.sym(&l.name)?;
            let v = self.sym(&l.value)?;
            put_uvarint(&mut self.series, n as u64);
            put_uvarint(&mut self.series, v as u64);
            self.postings.entry((n, v)).or_default().push(ordinal);
        }
        let first = |a: Option<i64>, b: Option<i64>| match (a, b) {
            (Some(x), Some(y)) => x.min(y),
            (x, y) => x.or(y).unwrap_or(0),
        };
        let mint = first(samples.first().map(|s| s.t), hists.first().map(|h| h.t));
        let maxt = -first(samples.last().map(|s| -s.t), hists.last().map(|h| -h.t));
        put_varint(&mut self.series, mint);
        put_uvarint(&mut self.series, (maxt - mint) as u64);
        put_uvarint(&mut self.series, page_idx as u64);
        put_uvarint(&mut self.series, chunk_off as u64);
        put_uvarint(&mut self.series, chunk_len as u64);
        self.mint = self.mint.min(mint);
        self.stats.num_series += 1;
        self.stats.num_samples += (samples.len() + hists.len()) as u64;
        self.last_labels = Some(labels.clone());
        if self.page.len() >= PAGE_SIZE {
            self.flush_page()?;
        }
        Ok(())
    }

    fn flush_page(&mut self) -> Result<(), Error> {
        if self.page.is_empty() {
            return Ok(());
        }
        let mut enc = zstd::stream::Encoder::new(Vec::with_capacity(self.page.len() / 3), self.zstd_level)
            .map_err(Error::io("zstd", &self.tmp))?;
        enc.include_checksum(true).map_err(Error::io("zstd", &self.tmp))?;
        enc.write_all(&self.page).map_err(Error::io("zstd", &self.tmp))?;
        let compressed = enc.finish().map_err(Error::io("zstd", &self.tmp))?;
        self.out.write_all(&compressed).map_err(Error::io("write", &self.tmp))?;
        self.pos += compressed.len() as u64;
        self.pages.push((compressed.len() as u32, self.page.len() as u32));
        self.page.clear();
        Ok(())
    }

    fn write_section(&mut self, buf: &[u8], toc: &mut Vec<u8>) -> Result<(), Error> {
        toc.extend_from_slice(&self.pos.to_be_bytes());
        toc.extend_from_slice(&(buf.len() as u64).to_be_bytes());
        toc.extend_from_slice(&crc32(buf).to_be_bytes());
        self.out.write_all(buf).map_err(Error::io("write", &self.tmp))?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    /// Writes the index and footer, fsyncs, and renames the file into place. `range_end`
    /// is the exclusive end of the block's time range. Returns `None` (and removes the
    /// file) when no series had samples.
    pub(crate) fn finish(mut self, range_end: i64) -> Result<Option<(PathBuf, BlockMeta)>, Error> {
        if self.stats.num_series == 0 {
            drop(self.out);
            let _ = fs::remove_file(&self.tmp);
            return Ok(None);
        }
        self.flush_page()?;
        self.stats.num_pages = self.pages.len() as u64;
        let mut toc = Vec::with_capacity(SECTIONS * 20);

        // Symbols.
        let mut buf = Vec::new();
        put_uvarint(&mut buf, self.symbols.len() as u64);
        for s in &self.symbols {
            put_uvarint(&mut buf, s.len() as u64);
            buf.extend_from_slice(s.as_bytes());
        }
        self.write_section(&buf, &mut toc)?;

        // Series.
        let series = std::mem::take(&mut self.series);
        self.write_section(&series, &mut toc)?;
        drop(series);

        // Series offsets.
        buf.clear();
        put_uvarint(&mut buf, self.series_offsets.len() as u64);
        let mut prev = 0u32;
        for &o in &self.series_offsets {
            put_uvarint(&mut buf, (o - prev) as u64);
            prev = o;
        }
        self.write_section(&buf, &mut toc)?;

        // Postings, in (name, value) symbol order, which is string order.
        let mut keys: Vec<(u32, u32)> = self.postings.keys().copied().collect();
        keys.sort_unstable();
        buf.clear();
        let mut index: Vec<(u32, Vec<(u32, u64, u32)>)> = Vec::new();
        for key in keys {
            let list = self.postings.remove(&key).expect("key listed above");
            let start = buf.len() as u64;
            put_uvarint(&mut buf, list.len() as u64);
            let mut prev = 0u32;
            for (i, &o) in list.iter().enumerate() {
                put_uvarint(&mut buf, if i == 0 { o as u64 } else { (o - prev) as u64 });
                prev = o;
            }
            let len = (buf.len() as u64 - start) as u32;
            match index.last_mut() {
                Some((n, vals)) if *n == key.0 => vals.push((key.1, start, len)),
                _ => index.push((key.0, vec![(key.1, start, len)])),
            }
        }
        self.write_section(&buf, &mut toc)?;

        // Label index.
        buf.clear();
        put_uvarint(&mut buf, index.len() as u64);
        let mut prev_off = 0u64;
        for (name, vals) in &index {
            put_uvarint(&mut buf, *name as u64);
            put_uvarint(&mut buf, vals.len() as u64);
            for &(v, off, len) in vals {
                put_uvarint(&mut buf, v as u64);
                put_uvarint(&mut buf, off - prev_off);
                prev_off = off;
                put_uvarint(&mut buf, len as u64);
            }
        }
        self.write_section(&buf, &mut toc)?;

        // Page table.
        buf.clear();
        put_uvarint(&mut buf, self.pages.len() as u64);
        for &(len, raw) in &self.pages {
            put_uvarint(&mut buf, len as u64);
            put_uvarint(&mut buf, raw as u64);
        }
        self.write_section(&buf, &mut toc)?;

        // Meta.
        let meta = BlockMeta {
            ulid: self.ulid.clone(),
            min_time: self.mint,
            max_time: range_end,
            stats: self.stats.clone(),
            compaction: self.compaction.clone(),
        };
        let meta_json = serde_json::to_vec(&meta).map_err(|e| Error::Bug(format!("meta json: {e}")))?;
        self.write_section(&meta_json, &mut toc)?;

        let toc_off = self.pos;
        self.out.write_all(&toc).map_err(Error::io("write", &self.tmp))?;
        self.out.write_all(&toc_off.to_be_bytes()).map_err(Error::io("write", &self.tmp))?;
        self.out.write_all(MAGIC).map_err(Error::io("write", &self.tmp))?;
        self.out.write_all(&[VERSION]).map_err(Error::io("write", &self.tmp))?;
        debug_assert_eq!(FOOTER_LEN, 16);
        let f = self.out.into_inner().map_err(|e| Error::io("flush", &self.tmp)(e.into_error()))?;
        f.sync_all().map_err(Error::io("fsync", &self.tmp))?;
        drop(f);
        let fin = self.dir.join(format!("{}.{EXT}", self.ulid));
        fs::rename(&self.tmp, &fin).map_err(Error::io("rename", &self.tmp))?;
        File::open(&self.dir).and_then(|d| d.sync_all()).map_err(Error::io("fsync dir", &self.dir))?;
        Ok(Some((fin, meta)))
    }
}
