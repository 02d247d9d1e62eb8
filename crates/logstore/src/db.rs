//! One tenant's log store: WAL, head, blocks, cuts and retention.

use crate::batch::Batch;
use crate::block::{self, Block};
use crate::error::Error;
use crate::record::{self, Record};
use seer_model::{Labels, LogStream, Matcher};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Settings of a [`LogDb`].
#[derive(Clone, Debug)]
pub struct Options {
    /// An entry older than its stream's newest entry by more than this is refused (Loki:
    /// half of `max_chunk_age`, 1 h).
    pub out_of_order_window_ns: i64,
    /// Most streams with entries in the head (Loki's `max_global_streams_per_user`; 0 = no limit).
    pub max_streams: usize,
    /// Cut a block once the head holds this many bytes of lines and metadata.
    pub head_max_bytes: usize,
    /// Cut a block once the oldest write in the head is this old.
    pub head_max_age: Duration,
    /// Line bytes per block chunk (before compression).
    pub chunk_bytes: usize,
    /// Head bytes per stream before its open batch is sealed (sealed batches are shared with
    /// readers without copying).
    pub seal_bytes: usize,
    /// zstd level of block chunks.
    pub zstd_level: i32,
    /// Delete blocks whose newest entry is older than this (0 = keep everything).
    pub retention_ns: i64,
    /// How long a write waits for room while the head is over twice `head_max_bytes`
    /// before failing with [`Error::Overloaded`].
    pub backpressure_wait: Duration,
    /// WAL settings.
    pub wal: seer_wal::Options,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            out_of_order_window_ns: 3_600_000_000_000,
            max_streams: 5000,
            head_max_bytes: 128 << 20,
            head_max_age: Duration::from_secs(30 * 60),
            chunk_bytes: 512 << 10,
            seal_bytes: 256 << 10,
            zstd_level: 8,
            retention_ns: 0,
            backpressure_wait: Duration::from_secs(30),
            wal: seer_wal::Options::default(),
        }
    }
}

/// Scan order wanted by a caller (callers with a limit keep the first entries in this order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Oldest first.
    Forward,
    /// Newest first (Loki's default).
    Backward,
}

/// What happened to the entries of a push.
#[derive(Debug, Default, PartialEq)]
pub struct PushOutcome {
    /// Entries stored.
    pub accepted: usize,
    /// Exact repeats of a stream's last entry, dropped without error (as Loki does).
    pub duplicates: usize,
    /// Entries refused for being too far behind their stream's newest entry, with Loki's message.
    pub too_far_behind: Vec<String>,
    /// Streams refused because the tenant has too many, with Loki's message.
    pub stream_limit: Vec<String>,
    /// Entries lost with the refused streams.
    pub stream_limit_entries: usize,
}

/// A stream's labels and how much it holds in a time range (for series and stats APIs).
#[derive(Clone, Debug, PartialEq)]
pub struct StreamInfo {
    /// Labels.
    pub labels: Labels,
    /// Entries in range (chunk granularity for blocks).
    pub entries: u64,
    /// Bytes of lines in range (chunk granularity for blocks).
    pub bytes: u64,
    /// Chunks (block chunks plus head batches) touched.
    pub chunks: u64,
}

struct HeadStream {
    labels: Labels,
    wal_id: u64,
    sealed: Vec<Arc<Batch>>,
    open: Batch,
    max_ts: i64,
    last: Option<(i64, String)>,
}

impl HeadStream {
    fn entries(&self) -> usize {
        self.sealed.iter().map(|b| b.len()).sum::<usize>() + self.open.len()
    }
}

#[derive(Default)]
struct Head {
    streams: Vec<HeadStream>,
    by_labels: HashMap<Labels, usize>,
    bytes: usize,
    first_write: Option<Instant>,
}

struct Writer {
    head: Head,
    wal: seer_wal::Wal,
    next_wal_id: u64,
}

/// Streams taken out of the head by a cut, readable until their block is published.
type Frozen = Vec<(Labels, Vec<Arc<Batch>>)>;

#[derive(Default)]
struct Published {
    blocks: Vec<Arc<Block>>,
    frozen: Option<Arc<Frozen>>,
}

/// One tenant's log store.
pub struct LogDb {
    dir: PathBuf,
    opts: Options,
    writer: RwLock<Writer>,
    published: RwLock<Published>,
    cut_lock: Mutex<()>,
}

/// A consistent view for one scan.
struct Snapshot {
    head: Vec<(Labels, Vec<Arc<Batch>>)>,
    frozen: Option<Arc<Frozen>>,
    blocks: Vec<Arc<Block>>,
}

fn now_ns() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)
}

/// RFC 3339 in UTC with the precision Go's `time.Time.String()`-free formatting uses in
/// Loki's messages (`2006-01-02T15:04:05Z` plus fractional seconds when non-zero).
pub(crate) fn rfc3339(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let mut s = format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", sod / 3600, sod / 60 % 60, sod % 60);
    if frac != 0 {
        let f = format!("{frac:09}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

impl LogDb {
    /// Opens (creating if needed) the store in `dir`: loads blocks, replays the WAL.
    pub fn open(dir: &Path, opts: Options) -> Result<LogDb, Error> {
        let blocks_dir = dir.join("blocks");
        let wal_dir = dir.join("wal");
        fs::create_dir_all(&blocks_dir).map_err(Error::io("create dir", &blocks_dir))?;
        let mut blocks = Vec::new();
        let mut names: Vec<PathBuf> = Vec::new();
        for e in fs::read_dir(&blocks_dir).map_err(Error::io("list", &blocks_dir))? {
            let p = e.map_err(Error::io("list", &blocks_dir))?.path();
            match p.extension().and_then(|x| x.to_str()) {
                Some("lblk") => names.push(p),
                // A block write interrupted by a crash: its entries are still in the WAL.
                Some("tmp") => fs::remove_file(&p).map_err(Error::io("remove", &p))?,
                _ => {}
            }
        }
        names.sort();
        let mut wal_next = 0;
        for p in names {
            let b = Block::open(&p)?;
            wal_next = wal_next.max(b.meta.wal_next);
            blocks.push(Arc::new(b));
        }
        blocks.sort_by_key(|b| (b.meta.mint, b.meta.maxt));
        if wal_next > 0 && wal_dir.exists() {
            // Segments before `wal_next` are in a block already (a crash may have come
            // between the block and the WAL truncation).
            seer_wal::checkpoint(&wal_dir, wal_next - 1, std::iter::empty(), false)?;
        }
        let mut head = Head::default();
        let mut ids: HashMap<u64, usize> = HashMap::new();
        let mut next_wal_id = 0;
        if wal_dir.exists() {
            let mut r = seer_wal::Reader::open(&wal_dir)?;
            while let Some(rec) = r.next_record()? {
                let Ok(rec) = record::decode(rec) else { continue };
                match rec {
                    Record::Streams(list) => {
                        for (id, labels) in list {
                            next_wal_id = next_wal_id.max(id + 1);
                            let idx = head.stream_index(labels, id);
                            ids.insert(id, idx);
                        }
                    }
                    Record::Entries(list) => {
                        for (id, entries) in list {
                            let Some(&idx) = ids.get(&id) else { continue };
                            for (ts, line, meta) in entries {
                                head.append(idx, ts, &line, meta, opts.seal_bytes);
                            }
                        }
                    }
                }
            }
        }
        // Streams without entries (defined just before a crash) are not kept.
        if head.bytes > 0 {
            head.first_write = Some(Instant::now());
        }
        let wal = seer_wal::Wal::open(&wal_dir, opts.wal.clone())?;
        Ok(LogDb {
            dir: dir.to_path_buf(),
            opts,
            writer: RwLock::new(Writer { head, wal, next_wal_id }),
            published: RwLock::new(Published { blocks, frozen: None }),
            cut_lock: Mutex::new(()),
        })
    }

    /// Stores `streams` (already validated by the caller). Each entry is written to the WAL
    /// before this returns; entries too far behind their stream and streams over the limit
    /// are refused and reported.
    pub fn push(&self, streams: &[LogStream]) -> Result<PushOutcome, Error> {
        self.wait_for_room()?;
        let mut out = PushOutcome::default();
        let mut w = self.writer.write().unwrap_or_else(|e| e.into_inner());
        let w = &mut *w;
        let mut new_streams: Vec<usize> = Vec::new();
        // (request stream, head index, entries accepted) in request order.
        let mut plan: Vec<(usize, usize, Vec<usize>)> = Vec::new();
        let mut pending_max: HashMap<usize, (i64, Option<(i64, String)>)> = HashMap::new();
        for (si, s) in streams.iter().enumerate() {
            if s.entries.is_empty() {
                continue;
            }
            let idx = match w.head.by_labels.get(&s.labels) {
                Some(&i) => i,
                None => {
                    if self.opts.max_streams > 0 && w.head.streams.len() >= self.opts.max_streams {
                        out.stream_limit.push(format!(
                            "Maximum active stream limit exceeded when trying to create stream {}, reduce the number of \
                             active streams (reduce labels or reduce label values), or contact your Loki administrator \
                             to see if the limit can be increased",
                            s.labels
                        ));
                        out.stream_limit_entries += s.entries.len();
                        continue;
                    }
                    let id = w.next_wal_id;
                    w.next_wal_id += 1;
                    let idx = w.head.stream_index(s.labels.clone(), id);
                    new_streams.push(idx);
                    idx
                }
            };
            let hs = &w.head.streams[idx];
            let (mut max_ts, mut last) = pending_max.remove(&idx).unwrap_or((hs.max_ts, hs.last.clone()));
            let mut keep = Vec::with_capacity(s.entries.len());
            for (ei, e) in s.entries.iter().enumerate() {
                if let Some((lt, ll)) = &last
                    && *lt == e.ts
                    && *ll == e.line
                {
                    out.duplicates += 1;
                    continue;
                }
                if max_ts != i64::MIN && e.ts < max_ts.saturating_sub(self.opts.out_of_order_window_ns) {
                    out.too_far_behind.push(format!(
                        "entry with timestamp {} ignored, reason: 'entry too far behind, entry timestamp is: {}, oldest \
                         acceptable timestamp is: {}',",
                        rfc3339(e.ts),
                        rfc3339(e.ts),
                        rfc3339(max_ts - self.opts.out_of_order_window_ns)
                    ));
                    continue;
                }
                max_ts = max_ts.max(e.ts);
                last = Some((e.ts, e.line.clone()));
                keep.push(ei);
            }
            pending_max.insert(idx, (max_ts, last));
            if !keep.is_empty() {
                plan.push((si, idx, keep));
            }
        }
        // Log, then apply: a crash after the log write replays what the client may not have
        // seen acknowledged, never the reverse.
        let mut rec = Vec::new();
        if !new_streams.is_empty() {
            let defs: Vec<(u64, &Labels)> =
                new_streams.iter().map(|&i| (w.head.streams[i].wal_id, &w.head.streams[i].labels)).collect();
            record::encode_streams(&mut rec, defs.into_iter());
            w.wal.log(&rec)?;
        }
        if !plan.is_empty() {
            rec.clear();
            record::begin_entries(&mut rec, plan.len());
            for (si, idx, keep) in &plan {
                let s = &streams[*si];
                record::encode_stream_entries(
                    &mut rec,
                    w.head.streams[*idx].wal_id,
                    keep.iter()
                        .map(|&i| (s.entries[i].ts, s.entries[i].line.as_str(), s.entries[i].metadata.as_slice())),
                );
            }
            w.wal.log(&rec)?;
            for (si, idx, keep) in &plan {
                for &i in keep {
                    let e = &streams[*si].entries[i];
                    w.head.append(*idx, e.ts, &e.line, e.metadata.clone(), self.opts.seal_bytes);
                    out.accepted += 1;
                }
            }
            if w.head.first_write.is_none() {
                w.head.first_write = Some(Instant::now());
            }
        }
        // Streams created but left without entries are removed again.
        for &i in new_streams.iter().rev() {
            if w.head.streams[i].entries() == 0 && i + 1 == w.head.streams.len() {
                let s = w.head.streams.pop().expect("index checked");
                w.head.by_labels.remove(&s.labels);
            }
        }
        w.wal.sync_if_due()?;
        Ok(out)
    }

    /// Flushes the WAL to disk if the fsync interval is due (call periodically).
    pub fn sync_if_due(&self) -> Result<(), Error> {
        self.writer.write().unwrap_or_else(|e| e.into_inner()).wal.sync_if_due()?;
        Ok(())
    }

    fn snapshot(&self, start: i64, end: i64) -> Snapshot {
        let w = self.writer.read().unwrap_or_else(|e| e.into_inner());
        let p = self.published.read().unwrap_or_else(|e| e.into_inner());
        let mut head = Vec::new();
        for s in &w.head.streams {
            let mut batches: Vec<Arc<Batch>> = s
                .sealed
                .iter()
                .filter(|b| b.ts.first().is_some_and(|&t| t < end) && b.ts.last().is_some_and(|&t| t >= start))
                .cloned()
                .collect();
            if !s.open.is_empty() {
                let r = s.open.range(start, end);
                if !r.is_empty() {
                    let mut b = Batch::default();
                    for i in r {
                        b.push(s.open.ts[i], s.open.line(i), s.open.metadata[i].clone());
                    }
                    batches.push(Arc::new(b));
                }
            }
            if !batches.is_empty() {
                head.push((s.labels.clone(), batches));
            }
        }
        Snapshot { head, frozen: p.frozen.clone(), blocks: p.blocks.clone() }
    }

    /// Calls `f` with every batch of entries of the streams matching `matchers` that may hold
    /// entries with `start <= ts < end`, and the index range of those entries in the batch.
    /// A stream's batches come one after another (all of one stream, then the next); each
    /// batch is in time order, but a stream's batches may overlap in time. `f` returns false
    /// to stop the scan. Streams come in label order.
    pub fn scan(
        &self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
        f: &mut dyn FnMut(&Labels, &Batch, std::ops::Range<usize>) -> bool,
    ) -> Result<(), Error> {
        self.scan_needles(matchers, &[], start, end, f)
    }

    /// [`LogDb::scan`] for callers that keep only lines containing every one of `needles`
    /// (fingerprints from [`crate::needle_fingerprints`]): block chunks whose skip filter
    /// rules a needle out are not read. Other batches are handed out as by `scan`.
    pub fn scan_needles(
        &self,
        matchers: &[Matcher],
        needles: &[Vec<u64>],
        start: i64,
        end: i64,
        f: &mut dyn FnMut(&Labels, &Batch, std::ops::Range<usize>) -> bool,
    ) -> Result<(), Error> {
        let snap = self.snapshot(start, end);
        enum Src<'a> {
            Batches(&'a [Arc<Batch>]),
            Block(&'a Block, usize),
        }
        let mut by_stream: std::collections::BTreeMap<&Labels, Vec<Src<'_>>> = std::collections::BTreeMap::new();
        let matches = |l: &Labels| matchers.iter().all(|m| m.matches(l.get(&m.name).unwrap_or("")));
        for b in &snap.blocks {
            if b.meta.maxt < start || b.meta.mint >= end {
                continue;
            }
            for (i, s) in b.streams.iter().enumerate() {
                if matches(&s.labels) {
                    by_stream.entry(&s.labels).or_default().push(Src::Block(b, i));
                }
            }
        }
        if let Some(fr) = &snap.frozen {
            for (l, batches) in fr.iter() {
                if matches(l) {
                    by_stream.entry(l).or_default().push(Src::Batches(batches));
                }
            }
        }
        for (l, batches) in &snap.head {
            if matches(l) {
                by_stream.entry(l).or_default().push(Src::Batches(batches));
            }
        }
        for (labels, srcs) in by_stream {
            for src in srcs {
                match src {
                    Src::Block(b, i) => {
                        for c in &b.streams[i].chunks {
                            if c.maxt < start || c.mint >= end {
                                continue;
                            }
                            if !needles.iter().all(|n| c.bloom.may_contain_all(n)) {
                                continue;
                            }
                            let batch = b.read_chunk(c)?;
                            let r = batch.range(start, end);
                            if !r.is_empty() && !f(labels, &batch, r) {
                                return Ok(());
                            }
                        }
                    }
                    Src::Batches(list) => {
                        for batch in list {
                            let r = batch.range(start, end);
                            if !r.is_empty() && !f(labels, batch, r) {
                                return Ok(());
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Streams matching `matchers` with entries that may fall in `[start, end)`, in label
    /// order, with entry and byte counts at chunk granularity (as Loki's index stats).
    pub fn streams(&self, matchers: &[Matcher], start: i64, end: i64) -> Vec<StreamInfo> {
        let snap = self.snapshot(start, end);
        let mut out: std::collections::BTreeMap<Labels, StreamInfo> = std::collections::BTreeMap::new();
        let matches = |l: &Labels| matchers.iter().all(|m| m.matches(l.get(&m.name).unwrap_or("")));
        let mut add = |l: &Labels, entries: u64, bytes: u64| {
            let e = out.entry(l.clone()).or_insert_with(|| StreamInfo {
                labels: l.clone(),
                entries: 0,
                bytes: 0,
                chunks: 0,
            });
            e.entries += entries;
            e.bytes += bytes;
            e.chunks += 1;
        };
        for b in &snap.blocks {
            if b.meta.maxt < start || b.meta.mint >= end {
                continue;
            }
            for s in &b.streams {
                if !matches(&s.labels) {
                    continue;
                }
                for c in s.chunks.iter().filter(|c| c.maxt >= start && c.mint < end) {
                    add(&s.labels, c.entries as u64, c.raw as u64);
                }
            }
        }
        let frozen = snap.frozen.as_deref().map(|f| f.as_slice()).unwrap_or(&[]);
        for (l, batches) in frozen.iter().chain(snap.head.iter()) {
            if !matches(l) {
                continue;
            }
            for b in batches {
                let r = b.range(start, end);
                if !r.is_empty() {
                    add(l, r.len() as u64, b.text.len() as u64);
                }
            }
        }
        out.into_values().collect()
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
            if w.head.bytes == 0 || !(force || due) {
                return Ok(false);
            }
            // Entries logged from here on go to the new segment; the block covers the rest.
            let wal_next = w.wal.next_segment()? + 1;
            let old = std::mem::take(&mut w.head);
            // Streams stay known (ordering window, duplicate check) in the new head; their
            // definitions go to the new segment, since older segments are deleted after the cut.
            let mut frozen: Frozen = Vec::with_capacity(old.streams.len());
            for s in old.streams {
                // Streams that received nothing since the previous cut stop counting as active.
                if s.entries() == 0 {
                    continue;
                }
                let carried = HeadStream {
                    labels: s.labels.clone(),
                    wal_id: s.wal_id,
                    sealed: Vec::new(),
                    open: Batch::default(),
                    max_ts: s.max_ts,
                    last: s.last,
                };
                let mut batches = s.sealed;
                if !s.open.is_empty() {
                    batches.push(Arc::new(seal(s.open)));
                }
                frozen.push((s.labels, batches));
                let i = w.head.streams.len();
                w.head.by_labels.insert(carried.labels.clone(), i);
                w.head.streams.push(carried);
            }
            if !w.head.streams.is_empty() {
                let mut rec = Vec::new();
                let defs: Vec<(u64, &Labels)> = w.head.streams.iter().map(|s| (s.wal_id, &s.labels)).collect();
                record::encode_streams(&mut rec, defs.into_iter());
                w.wal.log(&rec)?;
            }
            let frozen = Arc::new(frozen);
            self.published.write().unwrap_or_else(|e| e.into_inner()).frozen = Some(frozen.clone());
            (frozen, wal_next)
        };
        let mut streams: Vec<(Labels, Batch)> = frozen
            .iter()
            .filter(|(_, b)| b.iter().any(|b| !b.is_empty()))
            .map(|(l, batches)| (l.clone(), merge_sorted(batches)))
            .collect();
        streams.sort_by(|a, b| a.0.cmp(&b.0));
        let path =
            block::write(&self.dir.join("blocks"), &streams, wal_next, self.opts.chunk_bytes, self.opts.zstd_level)?;
        let blk = Arc::new(Block::open(&path)?);
        {
            let mut p = self.published.write().unwrap_or_else(|e| e.into_inner());
            p.blocks.push(blk);
            p.blocks.sort_by_key(|b| (b.meta.mint, b.meta.maxt));
            p.frozen = None;
        }
        seer_wal::checkpoint(&self.dir.join("wal"), wal_next - 1, std::iter::empty(), false)?;
        Ok(true)
    }

    /// Deletes blocks whose newest entry is older than the retention period. Returns how
    /// many were deleted.
    pub fn apply_retention(&self) -> Result<usize, Error> {
        if self.opts.retention_ns <= 0 {
            return Ok(0);
        }
        let cutoff = now_ns() - self.opts.retention_ns;
        let gone: Vec<Arc<Block>> = {
            let mut p = self.published.write().unwrap_or_else(|e| e.into_inner());
            let (old, keep): (Vec<_>, Vec<_>) = p.blocks.drain(..).partition(|b| b.meta.maxt < cutoff);
            p.blocks = keep;
            old
        };
        for b in &gone {
            fs::remove_file(&b.path).map_err(Error::io("remove", &b.path))?;
        }
        Ok(gone.len())
    }

    /// fsyncs the WAL.
    pub fn sync(&self) -> Result<(), Error> {
        self.writer.write().unwrap_or_else(|e| e.into_inner()).wal.sync()?;
        Ok(())
    }

    /// Writes the head to a block and syncs the WAL.
    pub fn close(&self) -> Result<(), Error> {
        self.cut_if_due(true)?;
        self.writer.write().unwrap_or_else(|e| e.into_inner()).wal.sync()?;
        Ok(())
    }
}

impl Head {
    fn stream_index(&mut self, labels: Labels, wal_id: u64) -> usize {
        if let Some(&i) = self.by_labels.get(&labels) {
            self.streams[i].wal_id = wal_id;
            return i;
        }
        let i = self.streams.len();
        self.by_labels.insert(labels.clone(), i);
        self.streams.push(HeadStream {
            labels,
            wal_id,
            sealed: Vec::new(),
            open: Batch::default(),
            max_ts: i64::MIN,
            last: None,
        });
        i
    }

    fn append(&mut self, idx: usize, ts: i64, line: &str, meta: Vec<seer_model::Label>, seal_bytes: usize) {
        let s = &mut self.streams[idx];
        let size = line.len() + meta.iter().map(|l| l.name.len() + l.value.len()).sum::<usize>();
        s.open.push(ts, line, meta);
        s.max_ts = s.max_ts.max(ts);
        s.last = Some((ts, line.to_string()));
        self.bytes += size;
        if s.open.text.len() >= seal_bytes || s.open.text.len() + line.len() >= u32::MAX as usize / 2 {
            let b = std::mem::take(&mut s.open);
            s.sealed.push(Arc::new(seal(b)));
        }
    }
}

/// A batch made immutable: sorted by time.
fn seal(b: Batch) -> Batch {
    if b.is_sorted() { b } else { b.sorted() }
}

/// One sorted batch from several sorted (possibly overlapping) ones.
fn merge_sorted(batches: &[Arc<Batch>]) -> Batch {
    let mut out = Batch::default();
    let mut pos = vec![0usize; batches.len()];
    loop {
        let mut best: Option<usize> = None;
        for (k, b) in batches.iter().enumerate() {
            if pos[k] < b.len() && best.is_none_or(|j| b.ts[pos[k]] < batches[j].ts[pos[j]]) {
                best = Some(k);
            }
        }
        let Some(k) = best else { break };
        let b = &batches[k];
        let i = pos[k];
        out.push(b.ts[i], b.line(i), b.metadata[i].clone());
        pos[k] += 1;
    }
    out
}

impl seer_model::LogQueryable for LogDb {
    fn scan_entries(
        &self,
        matchers: &[Matcher],
        start: i64,
        end: i64,
        f: &mut seer_model::EntryFn<'_>,
    ) -> Result<(), seer_model::StorageError> {
        self.scan_entries_containing(matchers, &[], start, end, f)
    }

    fn scan_entries_containing(
        &self,
        matchers: &[Matcher],
        needles: &[&str],
        start: i64,
        end: i64,
        f: &mut seer_model::EntryFn<'_>,
    ) -> Result<(), seer_model::StorageError> {
        let fps: Vec<Vec<u64>> = needles.iter().filter_map(|n| crate::needle_fingerprints(n)).collect();
        // The longest needle is searched in each batch's text at once; only the lines it hits
        // are checked for the other needles and handed out.
        let longest = needles.iter().copied().filter(|n| !n.is_empty()).max_by_key(|n| n.len());
        if let Some(needle) = longest {
            let finder = memchr::memmem::Finder::new(needle.as_bytes());
            let mut hit = Vec::new();
            return self
                .scan_needles(matchers, &fps, start, end, &mut |l, b, r| {
                    lines_containing(b, r, &finder, &mut hit);
                    for &i in &hit {
                        let line = b.line(i);
                        if needles.iter().all(|n| line.contains(n)) && !f(l, b.ts[i], line, &b.metadata[i]) {
                            return false;
                        }
                    }
                    true
                })
                .map_err(|e| seer_model::StorageError(e.to_string()));
        }
        self.scan_needles(matchers, &fps, start, end, &mut |l, b, r| {
            for i in r {
                if !f(l, b.ts[i], b.line(i), &b.metadata[i]) {
                    return false;
                }
            }
            true
        })
        .map_err(|e| seer_model::StorageError(e.to_string()))
    }
}

/// The lines of `r` that contain the finder's needle, in order, found with one search over the
/// batch's text. A match that runs across line ends (lines are stored back to back) only
/// marks the lines it touches as candidates, so each candidate is checked on its own.
fn lines_containing(b: &Batch, r: std::ops::Range<usize>, finder: &memchr::memmem::Finder<'_>, out: &mut Vec<usize>) {
    out.clear();
    if r.is_empty() {
        return;
    }
    let n = finder.needle().len();
    let base = if r.start == 0 { 0 } else { b.ends[r.start - 1] as usize };
    let stop = b.ends[r.end - 1] as usize;
    let text = &b.text.as_bytes()[base..stop];
    let line_of = |abs: usize| b.ends.partition_point(|&e| (e as usize) <= abs);
    let mut next = r.start;
    for pos in finder.find_iter(text) {
        let first = line_of(base + pos).max(next);
        let last = line_of(base + pos + n.max(1) - 1).min(r.end - 1);
        for i in first..=last {
            if b.line(i).as_bytes().windows(n).any(|w| w == finder.needle()) || n == 0 {
                out.push(i);
            }
        }
        next = last + 1;
        if next >= r.end {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seer_model::{Label, LogEntry};

    fn stream(labels: &[(&str, &str)], entries: &[(i64, &str)]) -> LogStream {
        LogStream {
            labels: Labels::from_pairs(labels.iter().copied()),
            entries: entries.iter().map(|&(ts, l)| LogEntry { ts, line: l.into(), metadata: vec![] }).collect(),
        }
    }

    fn all(db: &LogDb, matchers: &[Matcher]) -> Vec<(String, i64, String)> {
        let mut out = Vec::new();
        db.scan(matchers, i64::MIN, i64::MAX, &mut |l, b, r| {
            for i in r {
                out.push((l.to_string(), b.ts[i], b.line(i).to_string()));
            }
            true
        })
        .unwrap();
        out.sort();
        out
    }

    #[test]
    fn rfc3339_formats_like_go() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000_500_000_000), "2023-11-14T22:13:20.5Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999999999Z");
    }

    #[test]
    fn pushes_wait_for_room_then_fail_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let opts = Options { head_max_bytes: 10, backpressure_wait: Duration::from_millis(50), ..Options::default() };
        let db = LogDb::open(dir.path(), opts).unwrap();
        let h = 3_600_000_000_000i64;
        db.push(&[stream(&[("app", "a")], &[(10 * h, "a line longer than twenty bytes")])]).unwrap();
        // Over twice the limit and nothing cuts: the next push waits, then fails unstored.
        let e = db.push(&[stream(&[("app", "a")], &[(10 * h + 1, "second")])]).unwrap_err();
        assert!(matches!(e, Error::Overloaded { .. }), "{e}");
        assert!(e.to_string().contains("retry later"), "{e}");
        assert_eq!(all(&db, &[]).len(), 1);
        db.cut_if_due(true).unwrap();
        db.push(&[stream(&[("app", "a")], &[(10 * h + 1, "second")])]).unwrap();
        assert_eq!(all(&db, &[]).len(), 2);
    }

    #[test]
    fn push_scan_cut_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let opts = Options { seal_bytes: 64, chunk_bytes: 128, ..Options::default() };
        let db = LogDb::open(dir.path(), opts.clone()).unwrap();
        let h = 3_600_000_000_000i64;
        let out = db
            .push(&[
                stream(&[("app", "a")], &[(10 * h, "one"), (10 * h + 1, "two"), (10 * h + 1, "two")]),
                stream(&[("app", "b")], &[(10 * h, "bee")]),
            ])
            .unwrap();
        assert_eq!((out.accepted, out.duplicates), (3, 1));
        // Out of order within the window is fine; more than 1 h behind is refused.
        let out = db.push(&[stream(&[("app", "a")], &[(10 * h - 5, "early"), (8 * h, "too old")])]).unwrap();
        assert_eq!(out.accepted, 1);
        assert_eq!(out.too_far_behind.len(), 1);
        assert!(out.too_far_behind[0].contains("entry too far behind"), "{}", out.too_far_behind[0]);
        let a = Matcher::equal("app", "a");
        let want = vec![
            ("{app=\"a\"}".to_string(), 10 * h - 5, "early".to_string()),
            ("{app=\"a\"}".to_string(), 10 * h, "one".to_string()),
            ("{app=\"a\"}".to_string(), 10 * h + 1, "two".to_string()),
        ];
        assert_eq!(all(&db, std::slice::from_ref(&a)), want);
        // Restart without a cut: the WAL brings everything back.
        drop(db);
        let db = LogDb::open(dir.path(), opts.clone()).unwrap();
        assert_eq!(all(&db, std::slice::from_ref(&a)), want);
        // Cut to a block, push more, restart: blocks plus WAL.
        assert!(db.cut_if_due(true).unwrap());
        assert_eq!(all(&db, std::slice::from_ref(&a)), want);
        let meta = vec![Label::new("trace_id", "t1")];
        let out = db
            .push(&[LogStream {
                labels: Labels::from_pairs([("app", "a")]),
                entries: vec![LogEntry { ts: 11 * h, line: "after".into(), metadata: meta.clone() }],
            }])
            .unwrap();
        assert_eq!(out.accepted, 1);
        // The ordering window survives the cut.
        let out = db.push(&[stream(&[("app", "a")], &[(9 * h, "old")])]).unwrap();
        assert_eq!(out.too_far_behind.len(), 1);
        drop(db);
        let db = LogDb::open(dir.path(), opts).unwrap();
        let got = all(&db, std::slice::from_ref(&a));
        assert_eq!(got.len(), 4);
        assert_eq!(got[3].2, "after");
        let infos = db.streams(&[], i64::MIN, i64::MAX);
        assert_eq!(infos.len(), 2);
        assert_eq!(infos[0].entries, 4);
        let mut metas = Vec::new();
        db.scan(std::slice::from_ref(&a), 11 * h, 11 * h + 1, &mut |_, b, r| {
            for i in r {
                metas.push(b.metadata[i].clone());
            }
            true
        })
        .unwrap();
        assert_eq!(metas, vec![meta]);
        // Time bounds are [start, end).
        assert_eq!(db.streams(&[], 11 * h + 1, i64::MAX).len(), 0);
    }

    #[test]
    fn cuts_without_restart_neither_lose_nor_duplicate() {
        let dir = tempfile::tempdir().unwrap();
        let opts = Options { seal_bytes: 64, chunk_bytes: 128, ..Options::default() };
        let db = LogDb::open(dir.path(), opts.clone()).unwrap();
        let mut want = 0;
        for round in 0..3i64 {
            let entries: Vec<(i64, String)> = (0..50).map(|i| (round * 1000 + i, format!("r{round} e{i}"))).collect();
            let refs: Vec<(i64, &str)> = entries.iter().map(|(t, l)| (*t, l.as_str())).collect();
            assert_eq!(db.push(&[stream(&[("app", "a")], &refs)]).unwrap().accepted, 50);
            want += 50;
            assert!(db.cut_if_due(true).unwrap());
            assert_eq!(all(&db, &[]).len(), want);
        }
        // One more batch only in the WAL, then a crash-like reopen and a clean one.
        assert_eq!(db.push(&[stream(&[("app", "b")], &[(5000, "wal only")])]).unwrap().accepted, 1);
        drop(db);
        let db = LogDb::open(dir.path(), opts.clone()).unwrap();
        assert_eq!(all(&db, &[]).len(), want + 1);
        db.close().unwrap();
        drop(db);
        let db = LogDb::open(dir.path(), opts).unwrap();
        assert_eq!(all(&db, &[]).len(), want + 1);
        let wal_files = std::fs::read_dir(dir.path().join("wal")).unwrap().count();
        assert!(wal_files <= 3, "old WAL segments are deleted after a cut: {wal_files}");
    }

    #[test]
    fn needle_scans_skip_chunks_that_cannot_match() {
        let dir = tempfile::tempdir().unwrap();
        let opts = Options { chunk_bytes: 2048, ..Options::default() };
        let db = LogDb::open(dir.path(), opts).unwrap();
        let lines: Vec<(i64, String)> = (0..2000)
            .map(|i| (i, format!("request done trace_id={:032x} status=200", (i as u128) * 0x9e37_79b9_7f4a_7c15)))
            .collect();
        let refs: Vec<(i64, &str)> = lines.iter().map(|(t, l)| (*t, l.as_str())).collect();
        db.push(&[stream(&[("app", "a")], &refs)]).unwrap();
        db.cut_if_due(true).unwrap();
        let needle = format!("{:032x}", 1234u128 * 0x9e37_79b9_7f4a_7c15);
        let count = |needles: &[Vec<u64>]| {
            let (mut batches, mut hits) = (0, 0);
            db.scan_needles(&[], needles, i64::MIN, i64::MAX, &mut |_, b, r| {
                batches += 1;
                hits += r.filter(|&i| b.line(i).contains(&needle)).count();
                true
            })
            .unwrap();
            (batches, hits)
        };
        let (all_batches, all_hits) = count(&[]);
        let (few, hits) = count(&[crate::needle_fingerprints(&needle).unwrap()]);
        assert_eq!((all_hits, hits), (1, 1));
        assert!(all_batches > 20 && few * 8 <= all_batches, "read {few} of {all_batches} chunks");
    }

    #[test]
    fn needle_search_finds_every_line_and_only_those() {
        let mut b = Batch::default();
        let lines = ["abcab", "cabc", "xx", "abc", "", "zabcabc", "ab", "c"];
        for (i, l) in lines.iter().enumerate() {
            b.push(i as i64, l, vec![]);
        }
        for needle in ["abc", "ca", "c", "bcab", "x", "zz"] {
            let finder = memchr::memmem::Finder::new(needle.as_bytes());
            for lo in 0..lines.len() {
                for hi in lo..=lines.len() {
                    let mut got = Vec::new();
                    lines_containing(&b, lo..hi, &finder, &mut got);
                    let want: Vec<usize> = (lo..hi).filter(|&i| lines[i].contains(needle)).collect();
                    assert_eq!(got, want, "{needle:?} in {lo}..{hi}");
                }
            }
        }
    }

    #[test]
    fn stream_limit() {
        let dir = tempfile::tempdir().unwrap();
        let db = LogDb::open(dir.path(), Options { max_streams: 1, ..Options::default() }).unwrap();
        let out = db.push(&[stream(&[("a", "1")], &[(1, "x")]), stream(&[("a", "2")], &[(1, "y"), (2, "z")])]).unwrap();
        assert_eq!(out.accepted, 1);
        assert_eq!(out.stream_limit_entries, 2);
        assert!(out.stream_limit[0].starts_with("Maximum active stream limit exceeded"));
    }
}
