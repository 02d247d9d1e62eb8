//! Immutable block files (`.tblk`): traces sorted by id in zstd pages, a fixed-width trace
//! table, a page table and a tag dictionary. Layout in `FORMAT.md`.

use crate::codec;
use crate::error::Error;
use crate::filter;
use seer_encoding::{ByteReader, DecodeError, crc32, put_uvarint};
use seer_model::trace::{AttrValue, Span, TraceId};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"SEERTRCB";
const FOOTER_MAGIC: &[u8; 4] = b"STRE";
const VERSION: u8 = 2;
const HEADER_LEN: u64 = 16;
const FOOTER_LEN: u64 = 11 * 8 + 8;
/// Bytes of one trace-table entry.
pub(crate) const ENTRY_LEN: usize = 48;
/// Largest decompressed page accepted on read (a guard against allocating for a damaged
/// table). A page holds at least one whole trace; a head cut at 64 MiB plus one request of at
/// most 256 MiB bounds a trace fragment well below this.
const MAX_PAGE_RAW: u32 = 1 << 30;
/// Distinct values kept per tag in a block's tag dictionary.
pub(crate) const MAX_TAG_VALUES: usize = 1000;
/// Distinct tags kept in a block's tag dictionary.
const MAX_TAGS: usize = 2000;

/// Where a tag lives, as the Tempo tag APIs group them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TagScope {
    /// A resource attribute.
    Resource = 0,
    /// A span attribute.
    Span = 1,
    /// An intrinsic (`name`, `status`, `kind`).
    Intrinsic = 2,
}

/// Typed value of a tag, as `/api/v2/search/tag/<tag>/values` reports it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TagValue {
    /// `string`, `int`, `float`, `bool`, `keyword` (status, kind) or `duration`.
    pub kind: &'static str,
    /// The value as text.
    pub value: String,
}

/// A block's tag dictionary: scope and name → values (at most [`MAX_TAG_VALUES`] each).
pub type Tags = BTreeMap<(TagScope, String), BTreeSet<TagValue>>;

/// Operations seen: (service, span name, span kind as in OTLP).
pub type Operations = BTreeSet<(String, String, u8)>;

/// Distinct operations kept per block.
const MAX_OPERATIONS: usize = 20_000;

/// What a block (or the head) can say about its spans without decoding them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dictionary {
    /// Tags and their values.
    pub tags: Tags,
    /// Service and operation names.
    pub operations: Operations,
}

impl Dictionary {
    /// Adds what `spans` contain, within the bounds.
    pub fn add(&mut self, spans: &[Span]) {
        collect_tags(&mut self.tags, spans);
        for s in spans {
            if self.operations.len() >= MAX_OPERATIONS {
                break;
            }
            let svc = s.resource.service_name();
            self.operations.insert((svc.to_string(), s.name.clone(), s.kind as u8));
        }
    }
    /// Merges another dictionary into this one.
    pub fn merge(&mut self, other: &Dictionary) {
        for (k, v) in &other.tags {
            let set = self.tags.entry(k.clone()).or_default();
            for x in v {
                if set.len() >= MAX_TAG_VALUES {
                    break;
                }
                set.insert(x.clone());
            }
        }
        self.operations.extend(other.operations.iter().cloned());
    }
}

/// A trace-table entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceEntry {
    /// Trace id.
    pub id: TraceId,
    /// Earliest span start, Unix ns.
    pub start_ns: u64,
    /// Latest span end, Unix ns.
    pub end_ns: u64,
    /// Page holding the trace.
    pub page: u32,
    /// Offset of the fragment in the decompressed page.
    pub offset: u32,
    /// Length of the fragment.
    pub len: u32,
    /// Spans in the trace.
    pub spans: u32,
}

impl TraceEntry {
    fn put(&self, dst: &mut Vec<u8>) {
        dst.extend_from_slice(&self.id);
        dst.extend_from_slice(&self.start_ns.to_le_bytes());
        dst.extend_from_slice(&self.end_ns.to_le_bytes());
        for v in [self.page, self.offset, self.len, self.spans] {
            dst.extend_from_slice(&v.to_le_bytes());
        }
    }
    fn get(b: &[u8]) -> TraceEntry {
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap_or([0; 4]));
        let mut id = [0u8; 16];
        id.copy_from_slice(&b[..16]);
        TraceEntry {
            id,
            start_ns: u64_at(16),
            end_ns: u64_at(24),
            page: u32_at(32),
            offset: u32_at(36),
            len: u32_at(40),
            spans: u32_at(44),
        }
    }
}

/// Summary of a block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockMeta {
    /// Earliest span start.
    pub mint: u64,
    /// Latest span end.
    pub maxt: u64,
    /// Traces.
    pub traces: u64,
    /// Spans.
    pub spans: u64,
    /// First WAL segment whose spans are not in this block.
    pub wal_next: u64,
    /// 1 once the block went through the long-term (tail sampling) filter.
    pub long_term: u64,
}

#[derive(Clone, Debug)]
struct PageRef {
    offset: u64,
    len: u32,
    raw: u32,
    /// The page's value filter (`filter.rs`); empty in version 1 blocks.
    filter: Vec<u64>,
}

/// An open block: its page table and tag dictionary in memory, traces read on demand.
pub struct Block {
    pub(crate) path: PathBuf,
    file: File,
    pub(crate) meta: BlockMeta,
    table_offset: u64,
    pages: Vec<PageRef>,
    pub(crate) dict: Dictionary,
}

fn value_tag(v: &AttrValue) -> Option<TagValue> {
    Some(match v {
        AttrValue::Str(s) => TagValue { kind: "string", value: s.clone() },
        AttrValue::Int(i) => TagValue { kind: "int", value: i.to_string() },
        AttrValue::Float(f) => TagValue { kind: "float", value: seer_model::go_format_g(*f) },
        AttrValue::Bool(b) => TagValue { kind: "bool", value: b.to_string() },
        _ => return None,
    })
}

/// Adds the tags of `spans` to `tags`, within the dictionary's bounds.
pub fn collect_tags(tags: &mut Tags, spans: &[Span]) {
    let mut add = |scope: TagScope, key: &str, v: Option<TagValue>| {
        let Some(v) = v else { return };
        if let Some(set) = tags.get_mut(&(scope, key.to_string())) {
            if set.len() < MAX_TAG_VALUES {
                set.insert(v);
            }
        } else if tags.len() < MAX_TAGS {
            tags.insert((scope, key.to_string()), BTreeSet::from([v]));
        }
    };
    let mut last_res: Option<*const seer_model::trace::Resource> = None;
    for s in spans {
        let rp = std::sync::Arc::as_ptr(&s.resource);
        if last_res != Some(rp) {
            last_res = Some(rp);
            for a in &s.resource.attrs {
                add(TagScope::Resource, &a.key, value_tag(&a.value));
            }
        }
        for a in &s.attrs {
            add(TagScope::Span, &a.key, value_tag(&a.value));
        }
        add(TagScope::Intrinsic, "name", Some(TagValue { kind: "string", value: s.name.clone() }));
        add(TagScope::Intrinsic, "status", Some(TagValue { kind: "keyword", value: s.status.traceql_name().into() }));
        add(TagScope::Intrinsic, "kind", Some(TagValue { kind: "keyword", value: s.kind.traceql_name().into() }));
    }
}

/// A trace ready to be written: id and its spans.
pub struct TraceToWrite {
    pub id: TraceId,
    pub spans: Vec<Span>,
}

/// Writes a block of `traces` (sorted by id, unique) into `dir`; returns its path. `dict` is
/// the traces' dictionary when the caller has it already (a head builds its own as spans
/// arrive); otherwise it is built here.
pub fn write(
    dir: &Path,
    traces: &[TraceToWrite],
    dict: Option<Dictionary>,
    wal_next: u64,
    long_term: bool,
    page_bytes: usize,
    level: i32,
) -> Result<PathBuf, Error> {
    fs::create_dir_all(dir).map_err(Error::io("create dir", dir))?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let name = format!("{wal_next:08}-{now:x}.tblk");
    let tmp = dir.join(format!("{name}.tmp"));
    let fin = dir.join(&name);
    let f = File::create(&tmp).map_err(Error::io("create", &tmp))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    let mut header = [0u8; HEADER_LEN as usize];
    header[..8].copy_from_slice(MAGIC);
    header[8] = VERSION;
    w.write_all(&header).map_err(Error::io("write", &tmp))?;
    let mut offset = HEADER_LEN;
    let mut table = Vec::with_capacity(traces.len() * ENTRY_LEN);
    let mut pages = Vec::new();
    let known = dict.is_some();
    let mut dict = dict.unwrap_or_default();
    let mut meta = BlockMeta {
        mint: u64::MAX,
        maxt: 0,
        traces: traces.len() as u64,
        spans: 0,
        wal_next,
        long_term: long_term as u64,
    };
    let mut page = Vec::with_capacity(page_bytes + (64 << 10));
    let mut page_items: Vec<u64> = Vec::new();
    for t in traces {
        let start = page.len();
        codec::encode_fragment(&mut page, &t.spans);
        let e = TraceEntry {
            id: t.id,
            start_ns: t.spans.iter().map(|s| s.start_ns).min().unwrap_or(0),
            end_ns: t.spans.iter().map(|s| s.end_ns).max().unwrap_or(0),
            page: pages.len() as u32,
            offset: start as u32,
            len: (page.len() - start) as u32,
            spans: t.spans.len() as u32,
        };
        e.put(&mut table);
        meta.mint = meta.mint.min(e.start_ns);
        meta.maxt = meta.maxt.max(e.end_ns);
        meta.spans += t.spans.len() as u64;
        if !known {
            dict.add(&t.spans);
        }
        filter::span_hashes(&t.spans, &mut page_items);
        if page.len() >= page_bytes {
            flush_page(&mut page, std::mem::take(&mut page_items), &mut w, &mut offset, &mut pages, level, &tmp)?;
        }
    }
    if !page.is_empty() {
        flush_page(&mut page, std::mem::take(&mut page_items), &mut w, &mut offset, &mut pages, level, &tmp)?;
    }
    if traces.is_empty() {
        meta.mint = 0;
    }
    let table_offset = offset;
    w.write_all(&table).map_err(Error::io("write", &tmp))?;
    w.write_all(&crc32(&table).to_be_bytes()).map_err(Error::io("write", &tmp))?;
    offset += table.len() as u64 + 4;
    let mut rest = Vec::new();
    put_uvarint(&mut rest, pages.len() as u64);
    for p in &pages {
        put_uvarint(&mut rest, p.offset);
        put_uvarint(&mut rest, p.len as u64);
        put_uvarint(&mut rest, p.raw as u64);
        put_uvarint(&mut rest, p.filter.len() as u64);
        for w in &p.filter {
            rest.extend_from_slice(&w.to_le_bytes());
        }
    }
    put_uvarint(&mut rest, dict.tags.len() as u64);
    for ((scope, key), values) in &dict.tags {
        rest.push(*scope as u8);
        put_str(&mut rest, key);
        put_uvarint(&mut rest, values.len() as u64);
        for v in values {
            rest.push(kind_code(v.kind));
            put_str(&mut rest, &v.value);
        }
    }
    put_uvarint(&mut rest, dict.operations.len() as u64);
    for (svc, name, kind) in &dict.operations {
        put_str(&mut rest, svc);
        put_str(&mut rest, name);
        rest.push(*kind);
    }
    let rest_offset = offset;
    w.write_all(&rest).map_err(Error::io("write", &tmp))?;
    w.write_all(&crc32(&rest).to_be_bytes()).map_err(Error::io("write", &tmp))?;
    let mut footer = Vec::with_capacity(FOOTER_LEN as usize);
    for v in [
        table_offset,
        traces.len() as u64,
        rest_offset,
        rest.len() as u64,
        meta.mint,
        meta.maxt,
        meta.spans,
        wal_next,
        meta.long_term,
        0,
        0,
    ] {
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

fn flush_page(
    page: &mut Vec<u8>,
    items: Vec<u64>,
    w: &mut std::io::BufWriter<File>,
    offset: &mut u64,
    pages: &mut Vec<PageRef>,
    level: i32,
    tmp: &Path,
) -> Result<(), Error> {
    let z = zstd::bulk::compress(page, level).map_err(Error::io("compress", tmp))?;
    w.write_all(&z).map_err(Error::io("write", tmp))?;
    w.write_all(&crc32(&z).to_be_bytes()).map_err(Error::io("write", tmp))?;
    pages.push(PageRef { offset: *offset, len: z.len() as u32, raw: page.len() as u32, filter: filter::build(items) });
    *offset += z.len() as u64 + 4;
    page.clear();
    Ok(())
}

fn put_str(dst: &mut Vec<u8>, s: &str) {
    put_uvarint(dst, s.len() as u64);
    dst.extend_from_slice(s.as_bytes());
}

const KINDS: [&str; 6] = ["string", "int", "float", "bool", "keyword", "duration"];

fn kind_code(k: &str) -> u8 {
    KINDS.iter().position(|x| *x == k).unwrap_or(0) as u8
}

impl Block {
    /// Opens a block, checking its checksums, and loads its page table and tags.
    pub fn open(path: &Path) -> Result<Block, Error> {
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
        let body = FOOTER_LEN as usize - 8;
        if &footer[body + 4..] != FOOTER_MAGIC || crc32(&footer[..body]).to_be_bytes() != footer[body..body + 4] {
            return Err(corrupt("footer", "bad magic or checksum".into()));
        }
        let word = |i: usize| u64::from_be_bytes(footer[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
        let (table_offset, traces, rest_offset, rest_len) = (word(0), word(1), word(2), word(3));
        let meta =
            BlockMeta { mint: word(4), maxt: word(5), traces, spans: word(6), wal_next: word(7), long_term: word(8) };
        let table_len = traces.saturating_mul(ENTRY_LEN as u64);
        if table_offset < HEADER_LEN
            || table_offset.saturating_add(table_len).saturating_add(4) != rest_offset
            || rest_offset.saturating_add(rest_len).saturating_add(4) != size - FOOTER_LEN
        {
            return Err(corrupt("footer", "sections outside the file".into()));
        }
        let mut table = vec![0u8; table_len as usize + 4];
        file.read_exact_at(&mut table, table_offset).map_err(Error::io("read", path))?;
        let (t, c) = table.split_at(table_len as usize);
        if crc32(t).to_be_bytes() != c {
            return Err(corrupt("trace table", "checksum mismatch".into()));
        }
        let mut rest = vec![0u8; rest_len as usize + 4];
        file.read_exact_at(&mut rest, rest_offset).map_err(Error::io("read", path))?;
        let (r, c) = rest.split_at(rest_len as usize);
        if crc32(r).to_be_bytes() != c {
            return Err(corrupt("page table", "checksum mismatch".into()));
        }
        let (pages, dict) =
            decode_rest(r, table_offset, header[8]).map_err(|e| corrupt("page table", e.to_string()))?;
        Ok(Block { path: path.to_path_buf(), file, meta, table_offset, pages, dict })
    }

    /// Reads the whole trace table.
    pub fn entries(&self) -> Result<Vec<TraceEntry>, Error> {
        let mut buf = vec![0u8; self.meta.traces as usize * ENTRY_LEN];
        self.file.read_exact_at(&mut buf, self.table_offset).map_err(Error::io("read", &self.path))?;
        Ok(buf.chunks_exact(ENTRY_LEN).map(TraceEntry::get).collect())
    }

    /// Reads one trace-table entry.
    pub fn entry(&self, ordinal: u32) -> Result<TraceEntry, Error> {
        if ordinal as u64 >= self.meta.traces {
            return Err(Error::Corrupt {
                what: "trace index",
                path: self.path.clone(),
                detail: "ordinal out of range".into(),
            });
        }
        let mut buf = [0u8; ENTRY_LEN];
        let at = self.table_offset + ordinal as u64 * ENTRY_LEN as u64;
        self.file.read_exact_at(&mut buf, at).map_err(Error::io("read", &self.path))?;
        Ok(TraceEntry::get(&buf))
    }

    /// Reads and decompresses one page.
    pub fn page(&self, page: u32) -> Result<Vec<u8>, Error> {
        let mut d = zstd::bulk::Decompressor::new().map_err(Error::io("zstd context", &self.path))?;
        self.page_with(page, &mut d)
    }

    /// Reads and decompresses one page with a reused zstd context (scans read many pages).
    pub fn page_with(&self, page: u32, dctx: &mut zstd::bulk::Decompressor<'static>) -> Result<Vec<u8>, Error> {
        let corrupt = |detail: String| Error::Corrupt { what: "page", path: self.path.clone(), detail };
        let Some(p) = self.pages.get(page as usize) else {
            return Err(corrupt(format!("page {page} does not exist")));
        };
        let mut buf = vec![0u8; p.len as usize + 4];
        self.file.read_exact_at(&mut buf, p.offset).map_err(Error::io("read", &self.path))?;
        let (z, crc) = buf.split_at(p.len as usize);
        if crc32(z).to_be_bytes() != crc {
            return Err(corrupt(format!("checksum mismatch at offset {}", p.offset)));
        }
        dctx.decompress(z, p.raw as usize).map_err(|e| corrupt(e.to_string()))
    }

    /// Decodes the spans of the trace at `e` from its decompressed page.
    pub fn spans_in(&self, page: &[u8], e: &TraceEntry, out: &mut Vec<Span>) -> Result<(), Error> {
        let corrupt = |detail: String| Error::Corrupt { what: "trace", path: self.path.clone(), detail };
        let end = e.offset as usize + e.len as usize;
        let Some(b) = page.get(e.offset as usize..end) else {
            return Err(corrupt("fragment outside its page".into()));
        };
        codec::decode_fragment(&mut ByteReader::new(b), &e.id, out).map_err(|x| corrupt(x.to_string()))
    }

    /// Whether page `page` may hold a span meeting every condition (hashed conditions, each a
    /// list of alternatives).
    pub(crate) fn page_may_match(&self, page: u32, required: &[Vec<u64>]) -> bool {
        self.pages.get(page as usize).is_none_or(|p| filter::page_may_match(&p.filter, required))
    }

    /// Size of the file.
    pub fn size(&self) -> u64 {
        self.file.metadata().map(|m| m.len()).unwrap_or(0)
    }
}

fn decode_rest(buf: &[u8], limit: u64, version: u8) -> Result<(Vec<PageRef>, Dictionary), DecodeError> {
    let mut r = ByteReader::new(buf);
    let n = r.len_prefix(buf.len())?;
    let mut pages = Vec::with_capacity(n);
    for _ in 0..n {
        let offset = r.uvarint()?;
        let len = r.uvarint()?;
        let raw = r.uvarint()?;
        if offset < HEADER_LEN || offset.saturating_add(len).saturating_add(4) > limit || raw > MAX_PAGE_RAW as u64 {
            return Err(DecodeError::Invalid(format!("page at {offset} of {len} bytes is outside the pages")));
        }
        let mut filter = Vec::new();
        if version >= 2 {
            let words = r.len_prefix(r.remaining() / 8)?;
            filter.reserve(words);
            for _ in 0..words {
                filter.push(u64::from_le_bytes(r.bytes(8)?.try_into().unwrap_or([0; 8])));
            }
        }
        pages.push(PageRef { offset, len: len as u32, raw: raw as u32, filter });
    }
    let n = r.len_prefix(buf.len())?;
    let mut tags = Tags::new();
    for _ in 0..n {
        let scope = match r.u8()? {
            0 => TagScope::Resource,
            1 => TagScope::Span,
            2 => TagScope::Intrinsic,
            s => return Err(DecodeError::Invalid(format!("unknown tag scope {s}"))),
        };
        let key = r.str()?.to_string();
        let k = r.len_prefix(buf.len())?;
        let mut values = BTreeSet::new();
        for _ in 0..k {
            let kind = KINDS.get(r.u8()? as usize).copied().unwrap_or("string");
            values.insert(TagValue { kind, value: r.str()?.to_string() });
        }
        tags.insert((scope, key), values);
    }
    let n = r.len_prefix(buf.len())?;
    let mut operations = Operations::new();
    for _ in 0..n {
        let svc = r.str()?.to_string();
        let name = r.str()?.to_string();
        operations.insert((svc, name, r.u8()?));
    }
    Ok((pages, Dictionary { tags, operations }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::tests::span;

    #[test]
    fn write_open_read() {
        let dir = std::env::temp_dir().join(format!("seer-tblk-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let mut traces = Vec::new();
        for t in 1..=50u8 {
            traces.push(TraceToWrite {
                id: [t; 16],
                spans: vec![
                    span(t, 1, 0, "front", "GET /", 1_000 * t as u64, 500),
                    span(t, 2, 1, "back", "q", 1_100, 10),
                ],
            });
        }
        let p = write(&dir, &traces, None, 3, false, 1024, 3).unwrap();
        let b = Block::open(&p).unwrap();
        assert_eq!(b.meta.traces, 50);
        assert_eq!(b.meta.spans, 100);
        assert_eq!(b.meta.wal_next, 3);
        assert!(b.pages.len() > 1);
        let entries = b.entries().unwrap();
        assert_eq!(entries[7], b.entry(7).unwrap());
        let e = entries[7];
        assert_eq!(e.id, [8; 16]);
        let page = b.page(e.page).unwrap();
        let mut out = Vec::new();
        b.spans_in(&page, &e, &mut out).unwrap();
        assert_eq!(out, traces[7].spans);
        let svc: Vec<&str> =
            b.dict.tags[&(TagScope::Resource, "service.name".to_string())].iter().map(|v| v.value.as_str()).collect();
        assert_eq!(svc, ["back", "front"]);
        assert_eq!(b.dict.operations.len(), 2);
        // Any damage is an error on open, never a panic.
        let bytes = fs::read(&p).unwrap();
        for i in (0..bytes.len()).step_by(97) {
            let mut d = bytes.clone();
            d[i] ^= 0x55;
            let q = dir.join("damaged.tblk");
            fs::write(&q, &d).unwrap();
            if let Ok(b) = Block::open(&q) {
                for e in b.entries().unwrap_or_default() {
                    if let Ok(pg) = b.page(e.page) {
                        let _ = b.spans_in(&pg, &e, &mut Vec::new());
                    }
                }
            }
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}
