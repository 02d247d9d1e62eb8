//! One tenant's trace store: WAL, head, blocks, the global trace-id index, cuts and retention.

use crate::block::{self, Block, BlockMeta, Dictionary, TraceEntry, TraceToWrite};
use crate::codec;
use crate::error::Error;
use crate::filter::{self, SearchKey};
use seer_encoding::{ByteReader, DecodeError, put_uvarint};
use seer_model::trace::{Span, TraceId};
use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

const RECORD_SPANS: u8 = 1;

/// Settings of a [`TraceDb`].
#[derive(Clone, Debug)]
pub struct Options {
    /// Cut a block once the head holds this many encoded bytes.
    pub head_max_bytes: usize,
    /// Cut a block once the oldest write in the head is this old.
    pub head_max_age: Duration,
    /// Encoded bytes per block page (before compression).
    pub page_bytes: usize,
    /// zstd level of block pages.
    pub zstd_level: i32,
    /// Delete blocks whose newest span ended longer ago than this (0 = keep everything).
    pub retention_ns: u64,
    /// Blocks older than this go through the long-term filter (tail sampling at retention
    /// time) once; 0 = never.
    pub long_term_after_ns: u64,
    /// Most spans a trace may gather in the head (between two cuts); spans beyond are
    /// refused. 0 = no limit.
    pub max_spans_per_trace: u32,
    /// How long a write waits for room while the head is over twice `head_max_bytes`
    /// before failing with [`Error::Overloaded`].
    pub backpressure_wait: Duration,
    /// WAL settings.
    pub wal: seer_wal::Options,
}

/// What happened to the spans of a push.
#[derive(Debug, Default, PartialEq)]
pub struct PushOutcome {
    /// Spans stored.
    pub accepted: usize,
    /// Traces over `max_spans_per_trace`, with the number of their spans refused.
    pub too_large: Vec<(TraceId, usize)>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            head_max_bytes: 64 << 20,
            head_max_age: Duration::from_secs(5 * 60),
            page_bytes: 256 << 10,
            zstd_level: 3,
            retention_ns: 14 * 24 * 3_600_000_000_000,
            long_term_after_ns: 0,
            max_spans_per_trace: 100_000,
            backpressure_wait: Duration::from_secs(30),
            wal: seer_wal::Options::default(),
        }
    }
}

#[derive(Clone, Default)]
struct HeadTrace {
    /// Fragments back to back, each prefixed by its length.
    data: Vec<u8>,
    start_ns: u64,
    end_ns: u64,
    spans: u32,
}

#[derive(Default)]
struct Head {
    traces: HashMap<TraceId, HeadTrace>,
    dict: Dictionary,
    bytes: usize,
    spans: u64,
    first_write: Option<Instant>,
}

impl Head {
    fn add(&mut self, id: TraceId, fragment: &[u8], spans: &[Span]) {
        let t = self.traces.entry(id).or_insert_with(|| HeadTrace { start_ns: u64::MAX, ..Default::default() });
        put_uvarint(&mut t.data, fragment.len() as u64);
        t.data.extend_from_slice(fragment);
        for s in spans {
            t.start_ns = t.start_ns.min(s.start_ns);
            t.end_ns = t.end_ns.max(s.end_ns);
        }
        t.spans += spans.len() as u32;
        self.bytes += fragment.len() + 40;
        self.spans += spans.len() as u64;
        self.dict.add(spans);
        if self.first_write.is_none() {
            self.first_write = Some(Instant::now());
        }
    }
}

fn decode_head_trace(id: &TraceId, t: &HeadTrace, out: &mut Vec<Span>) -> Result<(), DecodeError> {
    let mut r = ByteReader::new(&t.data);
    while !r.is_empty() {
        let n = r.len_prefix(r.remaining())?;
        let frag = r.bytes(n)?;
        codec::decode_fragment(&mut ByteReader::new(frag), id, out)?;
    }
    Ok(())
}

struct Writer {
    head: Head,
    wal: seer_wal::Wal,
}

/// Head traces taken out by a cut, readable until their block is published.
type Frozen = HashMap<TraceId, HeadTrace>;

/// The global trace-id index: for every trace in every block, (fingerprint, block, ordinal),
/// sorted by fingerprint. 16 bytes per trace in memory; one binary search finds every block
/// that holds part of a trace, and the ordinal gives its trace-table entry directly.
#[derive(Default)]
struct Published {
    blocks: Vec<(u32, Arc<Block>)>,
    index: Vec<(u64, u32, u32)>,
    frozen: Option<Arc<(Frozen, Dictionary)>>,
    next_seq: u32,
}

impl Published {
    fn add_block(&mut self, b: Arc<Block>, entries: &[TraceEntry]) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.index.extend(entries.iter().enumerate().map(|(i, e)| (fingerprint(&e.id), seq, i as u32)));
        self.blocks.push((seq, b));
    }
    fn sort(&mut self) {
        self.index.sort_unstable();
        self.blocks.sort_by_key(|(_, b)| (b.meta.mint, b.meta.maxt));
    }
    fn remove(&mut self, gone: &HashSet<u32>) {
        self.blocks.retain(|(s, _)| !gone.contains(s));
        self.index.retain(|(_, s, _)| !gone.contains(s));
    }
    fn block(&self, seq: u32) -> Option<&Arc<Block>> {
        self.blocks.iter().find(|(s, _)| *s == seq).map(|(_, b)| b)
    }
    /// Fingerprints found more than once in the index: traces (or colliding ids) with parts
    /// in several blocks.
    fn repeated(&self) -> HashSet<u64> {
        let mut out = HashSet::new();
        for w in self.index.windows(2) {
            if w[0].0 == w[1].0 {
                out.insert(w[0].0);
            }
        }
        out
    }
    fn hits(&self, id: &TraceId) -> Vec<(Arc<Block>, u32)> {
        let fp = fingerprint(id);
        let start = self.index.partition_point(|(f, _, _)| *f < fp);
        self.index[start..]
            .iter()
            .take_while(|(f, _, _)| *f == fp)
            .filter_map(|(_, s, o)| self.block(*s).map(|b| (b.clone(), *o)))
            .collect()
    }
}

/// Mixes both halves of a trace id (some generators put a timestamp in the first half).
fn fingerprint(id: &TraceId) -> u64 {
    let a = u64::from_le_bytes(id[..8].try_into().unwrap_or([0; 8]));
    let b = u64::from_le_bytes(id[8..].try_into().unwrap_or([0; 8]));
    (a.rotate_left(29) ^ b).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Counts of what a store holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Spans in the head (and a block being written).
    pub head_spans: u64,
    /// Traces in the head.
    pub head_traces: u64,
    /// Blocks.
    pub blocks: u64,
    /// Spans in blocks.
    pub block_spans: u64,
    /// Bytes of block files.
    pub block_bytes: u64,
}

/// A trace found by a scan: its id and all its spans known so far, merged across head and blocks.
pub struct FoundTrace {
    /// Trace id.
    pub id: TraceId,
    /// Spans in start order.
    pub spans: Vec<Span>,
}

/// One tenant's trace store.
pub struct TraceDb {
    dir: PathBuf,
    opts: Options,
    writer: RwLock<Writer>,
    published: RwLock<Published>,
    cut_lock: Mutex<()>,
}

fn now_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

fn encode_record(groups: &[(TraceId, Vec<Span>)], frags: &mut Vec<Vec<u8>>) -> Vec<u8> {
    let mut rec = vec![RECORD_SPANS];
    put_uvarint(&mut rec, groups.len() as u64);
    for (id, spans) in groups {
        let mut f = Vec::new();
        codec::encode_fragment(&mut f, spans);
        rec.extend_from_slice(id);
        put_uvarint(&mut rec, f.len() as u64);
        rec.extend_from_slice(&f);
        frags.push(f);
    }
    rec
}

fn replay_record(rec: &[u8], head: &mut Head) -> Result<(), DecodeError> {
    let mut r = ByteReader::new(rec);
    if r.u8()? != RECORD_SPANS {
        return Err(DecodeError::Invalid("unknown record type".into()));
    }
    let n = r.len_prefix(rec.len())?;
    for _ in 0..n {
        let mut id = [0u8; 16];
        id.copy_from_slice(r.bytes(16)?);
        let len = r.len_prefix(r.remaining())?;
        let frag = r.bytes(len)?;
        let mut spans = Vec::new();
        codec::decode_fragment(&mut ByteReader::new(frag), &id, &mut spans)?;
        head.add(id, frag, &spans);
    }
    Ok(())
}

/// Groups spans by trace id, keeping first-seen order.
pub fn group_by_trace(spans: Vec<Span>) -> Vec<(TraceId, Vec<Span>)> {
    let mut pos: HashMap<TraceId, usize> = HashMap::new();
    let mut out: Vec<(TraceId, Vec<Span>)> = Vec::new();
    for s in spans {
        match pos.get(&s.trace_id) {
            Some(&i) => out[i].1.push(s),
            None => {
                pos.insert(s.trace_id, out.len());
                out.push((s.trace_id, vec![s]));
            }
        }
    }
    out
}

impl TraceDb {
    /// Opens (creating if needed) the store in `dir`: loads blocks, replays the WAL.
    pub fn open(dir: &Path, opts: Options) -> Result<TraceDb, Error> {
        let blocks_dir = dir.join("blocks");
        let wal_dir = dir.join("wal");
        fs::create_dir_all(&blocks_dir).map_err(Error::io("create dir", &blocks_dir))?;
        let mut names: Vec<PathBuf> = Vec::new();
        for e in fs::read_dir(&blocks_dir).map_err(Error::io("list", &blocks_dir))? {
            let p = e.map_err(Error::io("list", &blocks_dir))?.path();
            match p.extension().and_then(|x| x.to_str()) {
                Some("tblk") => names.push(p),
                // A block write interrupted by a crash: its spans are still in the WAL.
                Some("tmp") => fs::remove_file(&p).map_err(Error::io("remove", &p))?,
                _ => {}
            }
        }
        names.sort();
        let mut published = Published::default();
        let mut wal_next = 0;
        for p in names {
            let b = Block::open(&p)?;
            wal_next = wal_next.max(b.meta.wal_next);
            let entries = b.entries()?;
            published.add_block(Arc::new(b), &entries);
        }
        published.sort();
        if wal_next > 0 && wal_dir.exists() {
            // Segments before `wal_next` are in a block already (a crash may have come
            // between the block and the WAL truncation).
            seer_wal::checkpoint(&wal_dir, wal_next - 1, std::iter::empty(), false)?;
        }
        let mut head = Head::default();
        if wal_dir.exists() {
            let mut r = seer_wal::Reader::open(&wal_dir)?;
            while let Some(rec) = r.next_record()? {
                // A record that does not decode was damaged after its checksum was computed
                // (impossible short of a bug); skip it rather than refuse to start.
                let _ = replay_record(rec, &mut head);
            }
        }
        let wal = seer_wal::Wal::open(&wal_dir, opts.wal.clone())?;
        Ok(TraceDb {
            dir: dir.to_path_buf(),
            opts,
            writer: RwLock::new(Writer { head, wal }),
            published: RwLock::new(published),
            cut_lock: Mutex::new(()),
        })
    }

    /// The limit of spans per trace in the head.
    pub fn max_spans_per_trace(&self) -> u32 {
        self.opts.max_spans_per_trace
    }

    /// Stores spans (any mix of traces). They are in the WAL when this returns.
    pub fn push(&self, spans: Vec<Span>) -> Result<PushOutcome, Error> {
        let mut out = PushOutcome::default();
        if spans.is_empty() {
            return Ok(out);
        }
        self.wait_for_room()?;
        let mut groups = group_by_trace(spans);
        let mut w = self.writer.write().unwrap_or_else(|e| e.into_inner());
        let max = self.opts.max_spans_per_trace;
        if max > 0 {
            for (id, spans) in groups.iter_mut() {
                let have = w.head.traces.get(id).map_or(0, |t| t.spans);
                let room = max.saturating_sub(have) as usize;
                if spans.len() > room {
                    out.too_large.push((*id, spans.len() - room));
                    spans.truncate(room);
                }
            }
            groups.retain(|(_, s)| !s.is_empty());
        }
        if groups.is_empty() {
            return Ok(out);
        }
        let mut frags = Vec::with_capacity(groups.len());
        let rec = encode_record(&groups, &mut frags);
        w.wal.log(&rec)?;
        for ((id, spans), f) in groups.iter().zip(&frags) {
            w.head.add(*id, f, spans);
            out.accepted += spans.len();
        }
        Ok(out)
    }

    /// All spans of a trace, merged from the head and every block holding part of it;
    /// `None` when no part is stored. No time range needed: the global index finds the blocks.
    pub fn trace(&self, id: &TraceId) -> Result<Option<Vec<Span>>, Error> {
        let head = {
            let w = self.writer.read().unwrap_or_else(|e| e.into_inner());
            w.head.traces.get(id).cloned()
        };
        let (frozen, hits) = {
            let p = self.published.read().unwrap_or_else(|e| e.into_inner());
            (p.frozen.as_ref().and_then(|f| f.0.get(id).cloned()), p.hits(id))
        };
        let mut spans = Vec::new();
        let mut found = false;
        for (b, ord) in hits {
            let e = b.entry(ord)?;
            if e.id != *id {
                continue;
            }
            found = true;
            let page = b.page(e.page)?;
            b.spans_in(&page, &e, &mut spans)?;
        }
        for t in frozen.iter().chain(head.iter()) {
            found = true;
            decode_head_trace(id, t, &mut spans).map_err(|e| Error::Corrupt {
                what: "head trace",
                path: self.dir.clone(),
                detail: e.to_string(),
            })?;
        }
        if !found {
            return Ok(None);
        }
        codec::dedup_spans(&mut spans);
        Ok(Some(spans))
    }

    /// Visits every trace with a span in `[start_ns, end_ns]` (newest data first), each once
    /// and complete (parts in other blocks are merged in). `visit` returns false to stop.
    pub fn scan(&self, start_ns: u64, end_ns: u64, visit: &mut dyn FnMut(FoundTrace) -> bool) -> Result<(), Error> {
        self.search(start_ns, end_ns, &[], visit)
    }

    /// Like [`TraceDb::scan`], but block pages whose value filter rules out one of the
    /// `required` conditions (each a list of alternatives, e.g. a span or a resource
    /// attribute) are not read. Traces visited may still not match: callers evaluate.
    pub fn search(
        &self,
        start_ns: u64,
        end_ns: u64,
        required: &[Vec<SearchKey>],
        visit: &mut dyn FnMut(FoundTrace) -> bool,
    ) -> Result<(), Error> {
        let required = filter::required_hashes(required);
        let overlaps = |s: u64, e: u64| e >= start_ns && s <= end_ns;
        let mut seen: HashSet<TraceId> = HashSet::new();
        // The head first: newest data.
        let head: Vec<(TraceId, HeadTrace)> = {
            let w = self.writer.read().unwrap_or_else(|e| e.into_inner());
            w.head.traces.iter().filter(|(_, t)| overlaps(t.start_ns, t.end_ns)).map(|(k, v)| (*k, v.clone())).collect()
        };
        let (frozen, blocks, repeated) = {
            let p = self.published.read().unwrap_or_else(|e| e.into_inner());
            let mut blocks: Vec<Arc<Block>> =
                p.blocks.iter().filter(|(_, b)| overlaps(b.meta.mint, b.meta.maxt)).map(|(_, b)| b.clone()).collect();
            blocks.reverse();
            (p.frozen.clone(), blocks, p.repeated())
        };
        let frozen_list: Vec<(TraceId, HeadTrace)> = frozen
            .as_ref()
            .map(|f| f.0.iter().filter(|(_, t)| overlaps(t.start_ns, t.end_ns)).map(|(k, v)| (*k, v.clone())).collect())
            .unwrap_or_default();
        for (id, _) in head.iter().chain(frozen_list.iter()) {
            if !seen.insert(*id) {
                continue;
            }
            if let Some(spans) = self.trace(id)?
                && !visit(FoundTrace { id: *id, spans })
            {
                return Ok(());
            }
        }
        let mut dctx = zstd::bulk::Decompressor::new().map_err(Error::io("zstd context", &self.dir))?;
        for b in blocks {
            let mut entries: Vec<TraceEntry> = b
                .entries()?
                .into_iter()
                .filter(|e| {
                    overlaps(e.start_ns, e.end_ns)
                        && !seen.contains(&e.id)
                        && (required.is_empty() || b.page_may_match(e.page, &required))
                })
                .collect();
            entries.sort_by_key(|e| (e.page, e.offset));
            let mut page_no = u32::MAX;
            let mut page = Vec::new();
            for e in entries {
                if !seen.insert(e.id) {
                    continue;
                }
                // Parts elsewhere (late spans): read the whole trace through the index.
                let split = repeated.contains(&fingerprint(&e.id));
                let spans = if split {
                    match self.trace(&e.id)? {
                        Some(s) => s,
                        None => continue,
                    }
                } else {
                    if e.page != page_no {
                        page = b.page_with(e.page, &mut dctx)?;
                        page_no = e.page;
                    }
                    let mut s = Vec::with_capacity(e.spans as usize);
                    b.spans_in(&page, &e, &mut s)?;
                    codec::dedup_spans(&mut s);
                    s
                };
                if !visit(FoundTrace { id: e.id, spans }) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Tags, values and operations of the data overlapping `[start_ns, end_ns]` (block
    /// granularity; the head always counts).
    pub fn dictionary(&self, start_ns: u64, end_ns: u64) -> Dictionary {
        let mut d = {
            let w = self.writer.read().unwrap_or_else(|e| e.into_inner());
            w.head.dict.clone()
        };
        let p = self.published.read().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = &p.frozen {
            d.merge(&f.1);
        }
        for (_, b) in &p.blocks {
            if b.meta.maxt >= start_ns && b.meta.mint <= end_ns {
                d.merge(&b.dict);
            }
        }
        d
    }

    /// What the store holds.
    pub fn stats(&self) -> Stats {
        let mut s = {
            let w = self.writer.read().unwrap_or_else(|e| e.into_inner());
            Stats { head_spans: w.head.spans, head_traces: w.head.traces.len() as u64, ..Default::default() }
        };
        let p = self.published.read().unwrap_or_else(|e| e.into_inner());
        for (_, b) in &p.blocks {
            s.blocks += 1;
            s.block_spans += b.meta.spans;
            s.block_bytes += b.size();
        }
        s
    }

    /// Backpressure: while the head holds more than twice its limit (writes outpace the block
    /// being written), a push waits, for at most `backpressure_wait`, then fails with [`Error::Overloaded`].
    fn wait_for_room(&self) -> Result<(), Error> {
        let limit = self.opts.head_max_bytes.saturating_mul(2);
        let deadline = Instant::now() + self.opts.backpressure_wait;
        loop {
            let bytes = self.writer.read().unwrap_or_else(|e| e.into_inner()).head.bytes;
            if bytes <= limit {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Overloaded { bytes, limit });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Cuts the head into a block when it is over its size or age, or always with `force`.
    /// Returns whether a block was written.
    pub fn cut_if_due(&self, force: bool) -> Result<bool, Error> {
        let _one = self.cut_lock.lock().unwrap_or_else(|e| e.into_inner());
        let (frozen, wal_next) = {
            let mut w = self.writer.write().unwrap_or_else(|e| e.into_inner());
            let due = w.head.bytes >= self.opts.head_max_bytes
                || w.head.first_write.is_some_and(|t| t.elapsed() >= self.opts.head_max_age);
            if w.head.traces.is_empty() || !(force || due) {
                return Ok(false);
            }
            // Spans logged from here on go to the new segment; the block covers the rest.
            let wal_next = w.wal.next_segment()? + 1;
            let old = std::mem::take(&mut w.head);
            let frozen = Arc::new((old.traces, old.dict));
            self.published.write().unwrap_or_else(|e| e.into_inner()).frozen = Some(frozen.clone());
            (frozen, wal_next)
        };
        let mut ids: Vec<&TraceId> = frozen.0.keys().collect();
        ids.sort_unstable();
        let mut traces = Vec::with_capacity(ids.len());
        for id in ids {
            let mut spans = Vec::new();
            decode_head_trace(id, &frozen.0[id], &mut spans).map_err(|e| Error::Corrupt {
                what: "head trace",
                path: self.dir.clone(),
                detail: e.to_string(),
            })?;
            codec::dedup_spans(&mut spans);
            traces.push(TraceToWrite { id: *id, spans });
        }
        // The head's dictionary covers exactly these spans: no need to build it again.
        let path = block::write(
            &self.dir.join("blocks"),
            &traces,
            Some(frozen.1.clone()),
            wal_next,
            false,
            self.opts.page_bytes,
            self.opts.zstd_level,
        )?;
        drop(traces);
        let blk = Block::open(&path)?;
        let entries = blk.entries()?;
        {
            let mut p = self.published.write().unwrap_or_else(|e| e.into_inner());
            p.add_block(Arc::new(blk), &entries);
            p.sort();
            p.frozen = None;
        }
        seer_wal::checkpoint(&self.dir.join("wal"), wal_next - 1, std::iter::empty(), false)?;
        Ok(true)
    }

    /// Deletes blocks past retention and, when `keep_long` is given, rewrites blocks older
    /// than `long_term_after_ns` keeping only the traces it accepts (tail sampling at
    /// retention time). Returns (blocks deleted, traces dropped by the long-term filter).
    pub fn apply_retention(&self, keep_long: Option<&dyn Fn(&[Span]) -> bool>) -> Result<(usize, u64), Error> {
        let now = now_ns();
        let mut deleted = 0;
        if self.opts.retention_ns > 0 {
            let cutoff = now.saturating_sub(self.opts.retention_ns);
            let gone: Vec<(u32, Arc<Block>)> = {
                let mut p = self.published.write().unwrap_or_else(|e| e.into_inner());
                let gone: Vec<(u32, Arc<Block>)> =
                    p.blocks.iter().filter(|(_, b)| b.meta.maxt < cutoff).cloned().collect();
                p.remove(&gone.iter().map(|(s, _)| *s).collect());
                gone
            };
            for (_, b) in &gone {
                fs::remove_file(&b.path).map_err(Error::io("remove", &b.path))?;
            }
            deleted = gone.len();
        }
        let mut dropped = 0;
        if let Some(keep) = keep_long
            && self.opts.long_term_after_ns > 0
        {
            let cutoff = now.saturating_sub(self.opts.long_term_after_ns);
            let due: Vec<(u32, Arc<Block>)> = {
                let p = self.published.read().unwrap_or_else(|e| e.into_inner());
                p.blocks.iter().filter(|(_, b)| b.meta.long_term == 0 && b.meta.maxt < cutoff).cloned().collect()
            };
            for (seq, b) in due {
                let _one = self.cut_lock.lock().unwrap_or_else(|e| e.into_inner());
                let mut kept = Vec::new();
                let mut page_no = u32::MAX;
                let mut page = Vec::new();
                for e in b.entries()? {
                    if e.page != page_no {
                        page = b.page(e.page)?;
                        page_no = e.page;
                    }
                    let mut spans = Vec::new();
                    b.spans_in(&page, &e, &mut spans)?;
                    if keep(&spans) {
                        kept.push(TraceToWrite { id: e.id, spans });
                    } else {
                        dropped += 1;
                    }
                }
                let path = block::write(
                    &self.dir.join("blocks"),
                    &kept,
                    None,
                    b.meta.wal_next,
                    true,
                    self.opts.page_bytes,
                    self.opts.zstd_level,
                )?;
                let nb = Block::open(&path)?;
                let entries = nb.entries()?;
                {
                    let mut p = self.published.write().unwrap_or_else(|e| e.into_inner());
                    p.remove(&HashSet::from([seq]));
                    p.add_block(Arc::new(nb), &entries);
                    p.sort();
                }
                fs::remove_file(&b.path).map_err(Error::io("remove", &b.path))?;
            }
        }
        Ok((deleted, dropped))
    }

    /// fsyncs the WAL when the policy says so.
    pub fn sync_if_due(&self) -> Result<(), Error> {
        self.writer.write().unwrap_or_else(|e| e.into_inner()).wal.sync_if_due()?;
        Ok(())
    }

    /// fsyncs the WAL.
    pub fn sync(&self) -> Result<(), Error> {
        self.writer.write().unwrap_or_else(|e| e.into_inner()).wal.sync()?;
        Ok(())
    }

    /// Writes the head to a block and syncs the WAL.
    pub fn close(&self) -> Result<(), Error> {
        self.cut_if_due(true)?;
        self.sync()
    }

    /// Block summaries (for tests and the bench).
    pub fn block_metas(&self) -> Vec<BlockMeta> {
        self.published.read().unwrap_or_else(|e| e.into_inner()).blocks.iter().map(|(_, b)| b.meta).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::tests::span;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("seer-tdb-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn push_cut_late_spans_reopen() {
        let dir = tmp("a");
        let db = TraceDb::open(&dir, Options::default()).unwrap();
        let mut spans = Vec::new();
        for t in 1..=20u8 {
            spans.push(span(t, 1, 0, "front", "GET /", 1_000_000 * t as u64, 500));
            spans.push(span(t, 2, 1, "back", "query", 1_000_000 * t as u64 + 10, 100));
        }
        db.push(spans).unwrap();
        assert_eq!(db.trace(&[3; 16]).unwrap().unwrap().len(), 2);
        assert!(db.cut_if_due(true).unwrap());
        // A late span of trace 3 arrives after its block was cut; another cut puts it in a
        // second block. Both reads merge.
        db.push(vec![span(3, 9, 2, "db", "select", 3_000_050, 10)]).unwrap();
        let t = db.trace(&[3; 16]).unwrap().unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t[2].parent_span_id, [2; 8]);
        db.cut_if_due(true).unwrap();
        // The same span sent twice is stored once.
        db.push(vec![span(3, 9, 2, "db", "select", 3_000_050, 10)]).unwrap();
        assert_eq!(db.trace(&[3; 16]).unwrap().unwrap().len(), 3);
        assert!(db.trace(&[99; 16]).unwrap().is_none());
        // The spans-per-trace limit refuses the excess of a trace.
        let small = TraceDb::open(&tmp("limit"), Options { max_spans_per_trace: 2, ..Options::default() }).unwrap();
        let spans: Vec<Span> = (1..=3u8).map(|i| span(5, i, 0, "s", "op", 1, 1)).collect();
        let out = small.push(spans).unwrap();
        assert_eq!((out.accepted, out.too_large), (2, vec![([5; 16], 1)]));
        let mut n = 0;
        db.scan(0, u64::MAX, &mut |t| {
            assert!(!t.spans.is_empty());
            if t.id == [3; 16] {
                assert_eq!(t.spans.len(), 3);
            }
            n += 1;
            true
        })
        .unwrap();
        assert_eq!(n, 20);
        let d = db.dictionary(0, u64::MAX);
        assert!(d.operations.contains(&("db".into(), "select".into(), 2)));
        drop(db);
        // Reopen without a cut: blocks plus the WAL bring everything back, once.
        let db = TraceDb::open(&dir, Options::default()).unwrap();
        assert_eq!(db.trace(&[3; 16]).unwrap().unwrap().len(), 3);
        assert_eq!(db.stats().blocks, 2);
        // Time ranges select traces.
        let mut ids = Vec::new();
        db.scan(5_000_000, 6_000_000, &mut |t| {
            ids.push(t.id[0]);
            true
        })
        .unwrap();
        ids.sort();
        assert_eq!(ids, [5, 6]);
        // Value filters (blocks only; the head is always read): a condition no page holds
        // reads nothing; one that holds finds all.
        db.cut_if_due(true).unwrap();
        let count = |req: &[Vec<SearchKey>]| {
            let mut n = 0;
            db.search(0, u64::MAX, req, &mut |_| {
                n += 1;
                true
            })
            .unwrap();
            n
        };
        let svc = |v: &str| SearchKey::Resource {
            key: "service.name".into(),
            value: seer_model::trace::AttrValue::Str(v.into()),
        };
        assert_eq!(count(&[vec![svc("nowhere")]]), 0);
        assert_eq!(count(&[vec![svc("front")]]), 20);
        let code = SearchKey::Span { key: "http.status_code".into(), value: seer_model::trace::AttrValue::Int(200) };
        assert_eq!(count(&[vec![code], vec![SearchKey::Name("query".into())]]), 20);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn writes_wait_for_room_then_fail_with_a_reason() {
        let dir = tmp("bp");
        let opts = Options { head_max_bytes: 100, backpressure_wait: Duration::from_millis(50), ..Options::default() };
        let db = TraceDb::open(&dir, opts).unwrap();
        let spans: Vec<Span> = (1..=5u8).map(|t| span(t, 1, 0, "s", "op", 1_000, 10)).collect();
        db.push(spans.clone()).unwrap();
        // The head is now over twice its limit and nothing cuts it: the next write waits, then
        // fails without storing anything.
        let e = db.push(vec![span(9, 1, 0, "s", "op", 1_000, 10)]).unwrap_err();
        assert!(e.to_string().contains("retry later"), "{e}");
        assert!(db.trace(&[9; 16]).unwrap().is_none());
        // Once a block is cut, writes go through again.
        db.cut_if_due(true).unwrap();
        db.push(vec![span(9, 1, 0, "s", "op", 1_000, 10)]).unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn long_term_filter_keeps_only_accepted_traces() {
        let dir = tmp("b");
        let opts = Options { long_term_after_ns: 1, retention_ns: 0, ..Options::default() };
        let db = TraceDb::open(&dir, opts).unwrap();
        let spans: Vec<Span> = (1..=10u8).map(|t| span(t, 1, 0, "s", "op", 1_000 * t as u64, 10)).collect();
        db.push(spans).unwrap();
        db.cut_if_due(true).unwrap();
        let keep = |s: &[Span]| s[0].trace_id[0].is_multiple_of(2);
        let (deleted, dropped) = db.apply_retention(Some(&keep)).unwrap();
        assert_eq!((deleted, dropped), (0, 5));
        assert!(db.trace(&[3; 16]).unwrap().is_none());
        assert!(db.trace(&[4; 16]).unwrap().is_some());
        // Filtered once only.
        assert_eq!(db.apply_retention(Some(&keep)).unwrap(), (0, 0));
        assert_eq!(db.block_metas()[0].long_term, 1);
        fs::remove_dir_all(&dir).unwrap();
    }
}
