//! [`Db`]: one tenant's metrics store. Owns the head, the WAL and the blocks, and runs
//! maintenance (cutting blocks from the head, WAL checkpoints, compaction, retention) when
//! its owner calls [`Db::maintain`].

use crate::block::writer::BlockWriter;
use crate::block::{Block, Compaction, EXT};
use crate::error::Error;
use crate::exemplars::Exemplars;
use crate::head::{CreateError, Head, MemSeries, PAGE_BITS, PAGE_SIZE, stable_hash_ids};
use crate::record::{self, Record, RefExemplar, RefHistogram, RefSample};
use seer_model::{Labels, Limits, MetricMetadata, SeriesSamples};
use seer_wal::{Reader, Wal};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

/// Hours in milliseconds.
const HOUR: i64 = 3600 * 1000;

/// Storage options of one tenant.
#[derive(Clone, Debug)]
pub struct Options {
    /// Time range of blocks cut from the head, ms (default 2 h). Head chunks never cross a
    /// multiple of it.
    pub block_range: i64,
    /// Blocks whose data is entirely older than the newest sample minus this are deleted;
    /// 0 keeps everything (default 15 d).
    pub retention_time: i64,
    /// Oldest blocks are deleted while blocks and WAL together exceed this many bytes;
    /// 0 means no size limit.
    pub retention_size: u64,
    /// Samples up to this much older than the newest sample of the tenant are accepted out
    /// of order, ms; 0 refuses out-of-order samples. At most half the block range.
    pub out_of_order_window: i64,
    /// WAL options.
    pub wal: seer_wal::Options,
    /// Ingest limits.
    pub limits: Limits,
    /// Exemplars kept (ring buffer per tenant).
    pub max_exemplars: usize,
    /// zstd level for block pages.
    pub zstd_level: i32,
    /// A checkpoint is taken once the WAL written since the last one exceeds both this many
    /// bytes and the size of that checkpoint (default 128 MiB).
    pub checkpoint_min_wal_bytes: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            block_range: 2 * HOUR,
            retention_time: 15 * 24 * HOUR,
            retention_size: 0,
            out_of_order_window: 0,
            wal: seer_wal::Options::default(),
            limits: Limits::default(),
            max_exemplars: 100_000,
            zstd_level: 3,
            checkpoint_min_wal_bytes: 128 << 20,
        }
    }
}

/// A series to append, borrowing its data. `labels` must be sorted by name, without
/// duplicate names or empty values (as in [`Labels`]).
#[derive(Clone, Copy, Debug)]
pub struct SeriesRef<'a> {
    /// Sorted label pairs.
    pub labels: &'a [(&'a str, &'a str)],
    /// Samples.
    pub samples: &'a [seer_model::Sample],
    /// Exemplars.
    pub exemplars: &'a [seer_model::Exemplar],
}

fn owned_labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_sorted(pairs.iter().map(|(n, v)| seer_model::Label::new(*n, *v)).collect())
}

/// What an append did. Bad series and samples are skipped and counted; the rest is stored.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct AppendReport {
    /// Samples stored.
    pub samples_appended: u64,
    /// Series created in the head.
    pub series_created: u64,
    /// Exemplars stored.
    pub exemplars_appended: u64,
    /// Samples refused (bad series included).
    pub samples_rejected: u64,
    /// Refusals by message, with an example series each, in first-seen order.
    pub errors: Vec<RejectReason>,
}

/// One kind of refusal in an [`AppendReport`].
#[derive(Debug, Clone, PartialEq)]
pub struct RejectReason {
    /// What was wrong, e.g. `out of order sample`.
    pub message: String,
    /// How many samples it affected.
    pub samples: u64,
    /// The first series it happened to.
    pub example: String,
}

impl AppendReport {
    fn reject(&mut self, message: &str, samples: u64, example: impl FnOnce() -> String) {
        self.samples_rejected += samples;
        if let Some(r) = self.errors.iter_mut().find(|r| r.message == message) {
            r.samples += samples;
            return;
        }
        if self.errors.len() < 16 {
            self.errors.push(RejectReason { message: message.to_string(), samples, example: example() });
        }
    }

    /// Adds another report's counts and refusals to this one.
    pub fn merge(&mut self, other: AppendReport) {
        self.samples_appended += other.samples_appended;
        self.series_created += other.series_created;
        self.exemplars_appended += other.exemplars_appended;
        for r in other.errors {
            let ex = r.example.clone();
            self.reject(&r.message, r.samples, || ex);
        }
    }

    /// One line describing the refusals, for error responses.
    pub fn error_summary(&self) -> String {
        self.errors
            .iter()
            .map(|r| format!("{} ({} samples, e.g. series {})", r.message, r.samples, r.example))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Head and storage statistics.
#[derive(Debug, Clone, Default)]
pub struct DbStats {
    /// Series in the head.
    pub head_series: u64,
    /// Smallest sample time in the head (`i64::MAX` when empty).
    pub head_min_time: i64,
    /// Largest sample time in the head (`i64::MIN` when empty).
    pub head_max_time: i64,
    /// Approximate heap bytes of the head.
    pub head_bytes: u64,
    /// Number of blocks.
    pub blocks: u64,
    /// Bytes of all block files.
    pub block_bytes: u64,
    /// Bytes of WAL files.
    pub wal_bytes: u64,
    /// Samples appended since start.
    pub samples_appended: u64,
    /// Exemplars held.
    pub exemplars: u64,
}

/// What opening a store found in its WAL.
#[derive(Debug, Clone, Default)]
pub struct ReplayReport {
    /// Records read.
    pub records: u64,
    /// Samples replayed into the head.
    pub samples: u64,
    /// Series defined.
    pub series: u64,
    /// Damage found and repaired, if any.
    pub corruption: Option<String>,
    /// Series definitions skipped because their id is out of range (damaged records).
    pub bad_series_ids: u64,
    /// Time taken.
    pub duration: std::time::Duration,
}

/// One tenant's metrics store.
pub struct Db {
    dir: PathBuf,
    opts: Options,
    pub(crate) head: RwLock<Head>,
    wal: Mutex<Wal>,
    pub(crate) blocks: RwLock<Vec<Arc<Block>>>,
    pub(crate) exemplars: Mutex<Exemplars>,
    pub(crate) metadata: RwLock<HashMap<String, MetricMetadata>>,
    maintenance: Mutex<()>,
    samples_appended: AtomicU64,
    replay: ReplayReport,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("dir", &self.dir).finish()
    }
}

fn blocks_dir(dir: &Path) -> PathBuf {
    dir.join("blocks")
}

fn wal_dir(dir: &Path) -> PathBuf {
    dir.join("wal")
}

impl Db {
    /// Opens (or creates) the store in `dir`: loads blocks, replays the WAL into the head,
    /// and opens the WAL for appending.
    pub fn open(dir: &Path, mut opts: Options) -> Result<Db, Error> {
        let started = Instant::now();
        opts.out_of_order_window = opts.out_of_order_window.clamp(0, opts.block_range / 2);
        fs::create_dir_all(dir).map_err(Error::io("create dir", dir))?;
        let blocks = load_blocks(&blocks_dir(dir))?;
        let mut head = Head::new(opts.block_range);
        head.min_valid = blocks.iter().map(|b| b.meta().max_time).max().unwrap_or(i64::MIN);
        let mut exemplars = Exemplars::new(opts.max_exemplars);
        let mut metadata = HashMap::new();
        // Series ids are slab positions and never exceed the peak number of live series by
        // more than a page; larger ids in a WAL can only come from damage.
        let max_id = match opts.limits.max_series_per_tenant {
            0 => 1 << 26,
            n => (n.saturating_mul(2).saturating_add(1 << 16)).min(u32::MAX as usize / 2),
        } as u32;
        let mut replay = replay_wal(&wal_dir(dir), &mut head, &mut exemplars, &mut metadata, max_id)?;
        let wal = Wal::open(&wal_dir(dir), opts.wal.clone())?;
        // Series whose samples all went to blocks before the crash.
        let min_valid = head.min_valid;
        head.truncate(min_valid);
        replay.duration = started.elapsed();
        Ok(Db {
            dir: dir.to_path_buf(),
            opts,
            head: RwLock::new(head),
            wal: Mutex::new(wal),
            blocks: RwLock::new(blocks),
            exemplars: Mutex::new(exemplars),
            metadata: RwLock::new(metadata),
            maintenance: Mutex::new(()),
            samples_appended: AtomicU64::new(0),
            replay,
        })
    }

    /// What the WAL replay at open found.
    pub fn replay_report(&self) -> &ReplayReport {
        &self.replay
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The options in effect.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Appends a batch: every valid series and sample is stored and logged to the WAL
    /// before this returns; invalid ones are skipped and reported. An `Err` means the WAL
    /// could not be written and nothing in the batch is durable.
    pub fn append(&self, batch: &[SeriesSamples], metadata: &[MetricMetadata]) -> Result<AppendReport, Error> {
        let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(batch.iter().map(|s| s.labels.len()).sum());
        let mut bounds = Vec::with_capacity(batch.len());
        for s in batch {
            let start = pairs.len();
            pairs.extend(s.labels.iter().map(|l| (l.name.as_str(), l.value.as_str())));
            bounds.push(start..pairs.len());
        }
        let refs: Vec<SeriesRef<'_>> = batch
            .iter()
            .zip(bounds)
            .map(|(s, b)| SeriesRef { labels: &pairs[b], samples: &s.samples, exemplars: &s.exemplars })
            .collect();
        self.append_refs(&refs, metadata)
    }

    /// [`Db::append`] for borrowed series, so that decoders can hand over label strings that
    /// point into the request body: a known series costs no allocation.
    pub fn append_refs(&self, batch: &[SeriesRef<'_>], metadata: &[MetricMetadata]) -> Result<AppendReport, Error> {
        let mut report = AppendReport::default();
        let mut new_series: Vec<(u32, Labels)> = Vec::new();
        let mut samples: Vec<RefSample> = Vec::with_capacity(batch.iter().map(|s| s.samples.len()).sum());
        let mut ooo_samples: Vec<RefSample> = Vec::new();
        let mut exemplars: Vec<RefExemplar> = Vec::new();
        let limits = &self.opts.limits;
        let mut head = self.head.write().unwrap_or_else(|e| e.into_inner());
        for s in batch {
            let example = || seer_model::pairs_to_string(s.labels);
            if let Err(e) = limits.validate_pairs(s.labels) {
                report.reject(&e.to_string(), s.samples.len() as u64, example);
                continue;
            }
            let id = match head.get_or_create_pairs(s.labels, limits.max_series_per_tenant) {
                Ok((id, created)) => {
                    if created {
                        new_series.push((id, owned_labels(s.labels)));
                        report.series_created += 1;
                    }
                    id
                }
                Err(CreateError::SeriesLimit(n)) => {
                    let msg = format!("per-tenant series limit of {n} exceeded");
                    report.reject(&msg, s.samples.len() as u64, example);
                    continue;
                }
                Err(CreateError::IdsExhausted) => {
                    report.reject("too many series", s.samples.len() as u64, example);
                    continue;
                }
            };
            for smp in s.samples {
                match head.append(id, smp.t, smp.v, self.opts.out_of_order_window) {
                    Ok(false) => samples.push(RefSample { id, t: smp.t, v: smp.v }),
                    Ok(true) => ooo_samples.push(RefSample { id, t: smp.t, v: smp.v }),
                    Err(e) => report.reject(e.message(), 1, example),
                }
            }
            if !s.exemplars.is_empty() {
                let series = owned_labels(s.labels);
                let mut ex = self.exemplars.lock().unwrap_or_else(|e| e.into_inner());
                for e in s.exemplars {
                    if ex.add(&series, e) {
                        exemplars.push(RefExemplar { id, t: e.t, v: e.v, labels: e.labels.clone() });
                    }
                }
            }
        }
        let mut changed_meta = Vec::new();
        if !metadata.is_empty() {
            let mut md = self.metadata.write().unwrap_or_else(|e| e.into_inner());
            for m in metadata {
                if md.get(&m.metric_family) != Some(m) {
                    md.insert(m.metric_family.clone(), m.clone());
                    changed_meta.push(m.clone());
                }
            }
        }
        report.samples_appended = (samples.len() + ooo_samples.len()) as u64;
        report.exemplars_appended = exemplars.len() as u64;

        // Log while still holding the head lock, so that a series definition always
        // precedes, in the WAL, every sample that refers to it.
        let mut wal = self.wal.lock().unwrap_or_else(|e| e.into_inner());
        let mut buf = Vec::new();
        if !new_series.is_empty() {
            for part in new_series.chunks(10_000) {
                let defs: Vec<(u32, &Labels)> = part.iter().map(|(id, l)| (*id, l)).collect();
                buf.clear();
                record::encode_series(&mut buf, &defs);
                wal.log(&buf)?;
            }
        }
        for (list, ooo) in [(&samples, false), (&ooo_samples, true)] {
            for part in list.chunks(50_000) {
                buf.clear();
                record::encode_samples(&mut buf, part, ooo);
                wal.log(&buf)?;
            }
        }
        for part in exemplars.chunks(10_000) {
            buf.clear();
            record::encode_exemplars(&mut buf, part);
            wal.log(&buf)?;
        }
        if !changed_meta.is_empty() {
            buf.clear();
            record::encode_metadata(&mut buf, &changed_meta);
            wal.log(&buf)?;
        }
        drop(wal);
        drop(head);
        self.samples_appended.fetch_add(report.samples_appended, Ordering::Relaxed);
        Ok(report)
    }

    /// Appends native histogram samples (in order per series; a histogram older than the
    /// series' newest histogram is refused as out of order). Logged to the WAL before this
    /// returns, like [`Db::append`].
    pub fn append_histograms(&self, batch: &[seer_model::SeriesHistograms]) -> Result<AppendReport, Error> {
        let mut report = AppendReport::default();
        let mut new_series: Vec<(u32, Labels)> = Vec::new();
        let mut logged: Vec<RefHistogram> = Vec::new();
        let limits = &self.opts.limits;
        let mut head = self.head.write().unwrap_or_else(|e| e.into_inner());
        for s in batch {
            let pairs: Vec<(&str, &str)> = s.labels.iter().map(|l| (l.name.as_str(), l.value.as_str())).collect();
            let example = || s.labels.to_string();
            if let Err(e) = limits.validate_pairs(&pairs) {
                report.reject(&e.to_string(), s.histograms.len() as u64, example);
                continue;
            }
            let id = match head.get_or_create_pairs(&pairs, limits.max_series_per_tenant) {
                Ok((id, created)) => {
                    if created {
                        new_series.push((id, s.labels.clone()));
                        report.series_created += 1;
                    }
                    id
                }
                Err(CreateError::SeriesLimit(n)) => {
                    report.reject(
                        &format!("per-tenant series limit of {n} exceeded"),
                        s.histograms.len() as u64,
                        example,
                    );
                    continue;
                }
                Err(CreateError::IdsExhausted) => {
                    report.reject("too many series", s.histograms.len() as u64, example);
                    continue;
                }
            };
            for hs in &s.histograms {
                match head.append_histogram(id, hs.t, hs.h.clone()) {
                    Ok(()) => logged.push(RefHistogram { id, t: hs.t, h: hs.h.clone() }),
                    Err(e) => report.reject(e.message(), 1, example),
                }
            }
        }
        report.samples_appended = logged.len() as u64;
        let mut wal = self.wal.lock().unwrap_or_else(|e| e.into_inner());
        let mut buf = Vec::new();
        for part in new_series.chunks(10_000) {
            let defs: Vec<(u32, &Labels)> = part.iter().map(|(id, l)| (*id, l)).collect();
            buf.clear();
            record::encode_series(&mut buf, &defs);
            wal.log(&buf)?;
        }
        for part in logged.chunks(5_000) {
            buf.clear();
            record::encode_histograms(&mut buf, part);
            wal.log(&buf)?;
        }
        drop(wal);
        drop(head);
        self.samples_appended.fetch_add(report.samples_appended, Ordering::Relaxed);
        Ok(report)
    }

    /// fsyncs the WAL if the interval policy says it is due.
    pub fn sync_wal_if_due(&self) -> Result<(), Error> {
        self.wal.lock().unwrap_or_else(|e| e.into_inner()).sync_if_due()?;
        Ok(())
    }

    /// fsyncs the WAL now.
    pub fn sync_wal(&self) -> Result<(), Error> {
        self.wal.lock().unwrap_or_else(|e| e.into_inner()).sync()?;
        Ok(())
    }

    /// Statistics.
    pub fn stats(&self) -> DbStats {
        let head = self.head.read().unwrap_or_else(|e| e.into_inner());
        let blocks = self.blocks.read().unwrap_or_else(|e| e.into_inner());
        DbStats {
            head_series: head.num_series() as u64,
            head_min_time: head.mint,
            head_max_time: head.maxt,
            head_bytes: head.heap_bytes() as u64,
            blocks: blocks.len() as u64,
            block_bytes: blocks.iter().map(|b| b.size()).sum(),
            wal_bytes: dir_size(&wal_dir(&self.dir)),
            samples_appended: self.samples_appended.load(Ordering::Relaxed),
            exemplars: self.exemplars.lock().unwrap_or_else(|e| e.into_inner()).len() as u64,
        }
    }

    /// The open blocks, oldest first.
    pub fn blocks(&self) -> Vec<Arc<Block>> {
        self.blocks.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Runs due maintenance: cuts blocks from the head while it spans more than 1.5 block
    /// ranges, compacts blocks, and applies retention. Safe to call often; one run at a
    /// time.
    pub fn maintain(&self) -> Result<(), Error> {
        let _guard = self.maintenance.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let (mint, maxt) = {
                let h = self.head.read().unwrap_or_else(|e| e.into_inner());
                (h.mint, h.maxt)
            };
            if mint == i64::MAX || maxt.saturating_sub(mint) <= self.opts.block_range / 2 * 3 {
                break;
            }
            let start = mint.div_euclid(self.opts.block_range) * self.opts.block_range;
            self.cut_head_block(start, start + self.opts.block_range)?;
        }
        self.compact_blocks()?;
        self.apply_retention()?;
        // Keep replay short: once the WAL written since the last checkpoint is larger than
        // the checkpoint itself (and than `checkpoint_min_wal_bytes`), fold it into a new one.
        let (cp, tail) = seer_wal::sizes(&wal_dir(&self.dir))?;
        if tail > cp.max(self.opts.checkpoint_min_wal_bytes) {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// Persists the head range `[start, end)` as a block, drops it from the head, and
    /// checkpoints the WAL.
    fn cut_head_block(&self, start: i64, end: i64) -> Result<(), Error> {
        let written = self.write_head_block(&blocks_dir(&self.dir), start, end)?;
        if let Some((path, _)) = written {
            let b = Arc::new(Block::open(&path)?);
            let mut blocks = self.blocks.write().unwrap_or_else(|e| e.into_inner());
            blocks.push(b);
            blocks.sort_by_key(|b| b.meta().min_time);
        }
        self.head.write().unwrap_or_else(|e| e.into_inner()).truncate(end);
        self.checkpoint()
    }

    /// Replaces the WAL written so far by a checkpoint of the head's current state: every
    /// series with its compressed chunks, out-of-order samples, exemplars and metadata.
    /// Replay then loads chunks instead of re-encoding every sample, and only the WAL
    /// written since needs sample-by-sample replay.
    ///
    /// The segment being written is closed first: every record in it and before it has
    /// already been applied to the head (appends update the head before logging, under
    /// the head lock), so the checkpoint covers it. The head is copied a page of series at
    /// a time under its read lock, so appends continue meanwhile; samples that arrive
    /// during the copy are both in the checkpoint and in the next segment, and replay
    /// skips in-order samples a series already has.
    pub fn checkpoint(&self) -> Result<(), Error> {
        let upto = self.wal.lock().unwrap_or_else(|e| e.into_inner()).next_segment()?;
        let dir = wal_dir(&self.dir);
        let pages = self.head.read().unwrap_or_else(|e| e.into_inner()).series.pages.len();
        let mut page = 0usize;
        let mut queue: std::collections::VecDeque<Vec<u8>> = Default::default();
        let mut tail_done = false;
        let records = std::iter::from_fn(|| {
            loop {
                if let Some(r) = queue.pop_front() {
                    return Some(r);
                }
                if page < pages {
                    // Series: one page of the slab under one read lock.
                    let h = self.head.read().unwrap_or_else(|e| e.into_inner());
                    let mut entries = Vec::new();
                    let mut count = 0;
                    for (i, s) in h.series.pages.get(page).map(|p| p.iter().enumerate()).into_iter().flatten() {
                        if !s.live {
                            continue;
                        }
                        let id = ((page << PAGE_BITS) + i) as u32;
                        let pairs = s.labels.chunks_exact(2).map(|x| (h.symbols.get(x[0]), h.symbols.get(x[1])));
                        record::encode_series_state_entry(&mut entries, id, pairs, s);
                        count += 1;
                        if entries.len() > 8 << 20 {
                            queue.push_back(record::series_state_record(&entries, count));
                            entries.clear();
                            count = 0;
                        }
                    }
                    drop(h);
                    page += 1;
                    if count > 0 {
                        queue.push_back(record::series_state_record(&entries, count));
                    }
                    continue;
                }
                if tail_done {
                    return None;
                }
                // Exemplars (referring to the series above) and metadata.
                tail_done = true;
                let h = self.head.read().unwrap_or_else(|e| e.into_inner());
                let ex: Vec<RefExemplar> = self
                    .exemplars
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .newer_than(h.min_valid)
                    .filter_map(|e| {
                        let id = h.lookup(&e.series, e.series.stable_hash())?;
                        Some(RefExemplar { id, t: e.exemplar.t, v: e.exemplar.v, labels: e.exemplar.labels.clone() })
                    })
                    .collect();
                drop(h);
                for part in ex.chunks(10_000) {
                    let mut b = Vec::new();
                    record::encode_exemplars(&mut b, part);
                    queue.push_back(b);
                }
                let md: Vec<MetricMetadata> =
                    self.metadata.read().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
                for part in md.chunks(10_000) {
                    let mut b = Vec::new();
                    record::encode_metadata(&mut b, part);
                    queue.push_back(b);
                }
            }
        });
        seer_wal::checkpoint(&dir, upto, records, self.opts.wal.compress)?;
        Ok(())
    }

    /// Writes the head's samples in `[start, end)` into a new block file in `dir`.
    pub(crate) fn write_head_block(
        &self,
        dir: &Path,
        start: i64,
        end: i64,
    ) -> Result<Option<(PathBuf, crate::BlockMeta)>, Error> {
        // 1. Under a read lock, copy the symbols and the label ids of the series that have
        //    data in range. Sorting happens outside the lock on symbol ranks.
        let (symbols, mut series) = {
            let h = self.head.read().unwrap_or_else(|e| e.into_inner());
            let mut syms: Vec<(String, u32)> = Vec::new();
            let mut seen = std::collections::HashSet::new();
            let mut series: Vec<(u32, Box<[u32]>)> = Vec::new();
            for (id, s) in h.series.iter() {
                let (Some(a), Some(b)) = (s.min_time(), s.max_time()) else { continue };
                if b < start || a >= end {
                    continue;
                }
                for &sym in s.labels.iter() {
                    if seen.insert(sym) {
                        syms.push((h.symbols.get(sym).to_string(), sym));
                    }
                }
                series.push((id, s.labels.clone()));
            }
            (syms, series)
        };
        if series.is_empty() {
            return Ok(None);
        }
        let mut symbols = symbols;
        symbols.sort_unstable();
        let mut rank: HashMap<u32, u32> = HashMap::with_capacity(symbols.len());
        for (i, (_, id)) in symbols.iter().enumerate() {
            rank.insert(*id, i as u32);
        }
        for (_, labels) in series.iter_mut() {
            for sym in labels.iter_mut() {
                *sym = rank[sym];
            }
        }
        series.sort_unstable_by(|a, b| a.1.cmp(&b.1));
        let names: Vec<String> = symbols.into_iter().map(|(s, _)| s).collect();
        let mut w = BlockWriter::create(
            dir,
            names.clone(),
            Compaction { level: 1, sources: Vec::new() },
            self.opts.zstd_level,
        )?;
        // 2. In batches, copy the samples under a read lock and write them outside it.
        let mut out = Vec::new();
        for part in series.chunks(2048) {
            let mut batch = Vec::with_capacity(part.len());
            {
                let h = self.head.read().unwrap_or_else(|e| e.into_inner());
                for (id, ranks) in part {
                    out.clear();
                    h.samples(*id, start, end - 1, &mut out);
                    let mut hists = Vec::new();
                    h.histograms(*id, start, end - 1, &mut hists);
                    batch.push((ranks, out.clone(), hists));
                }
            }
            for (ranks, samples, hists) in batch {
                let pairs = ranks
                    .chunks_exact(2)
                    .map(|p| seer_model::Label {
                        name: names[p[0] as usize].clone(),
                        value: names[p[1] as usize].clone(),
                    })
                    .collect();
                w.add_series(&seer_model::Labels::from_sorted(pairs), &samples, &hists)?;
            }
        }
        w.finish(end)
    }

    /// Merges adjacent blocks into larger ones: blocks that fall in one aligned window of 3,
    /// 9, 27... block ranges (up to a tenth of the retention, at most 31 days) are merged
    /// once a newer block exists past that window.
    fn compact_blocks(&self) -> Result<(), Error> {
        loop {
            let blocks = self.blocks();
            let Some(newest) = blocks.iter().map(|b| b.meta().max_time).max() else { return Ok(()) };
            let max_range = if self.opts.retention_time > 0 {
                (self.opts.retention_time / 10).min(31 * 24 * HOUR)
            } else {
                31 * 24 * HOUR
            };
            let mut plan: Option<Vec<Arc<Block>>> = None;
            let mut range = self.opts.block_range * 3;
            while range <= max_range && plan.is_none() {
                let mut groups: HashMap<i64, Vec<Arc<Block>>> = HashMap::new();
                for b in &blocks {
                    let m = b.meta();
                    let w = m.min_time.div_euclid(range);
                    // Only blocks entirely inside one window.
                    if (m.max_time - 1).div_euclid(range) == w {
                        groups.entry(w).or_default().push(b.clone());
                    }
                }
                let mut keys: Vec<i64> = groups.keys().copied().collect();
                keys.sort_unstable();
                for w in keys {
                    let g = &groups[&w];
                    if g.len() >= 2 && (w + 1) * range <= newest {
                        plan = Some(g.clone());
                        break;
                    }
                }
                range *= 3;
            }
            let Some(group) = plan else { return Ok(()) };
            self.merge_blocks(&group)?;
        }
    }

    fn merge_blocks(&self, group: &[Arc<Block>]) -> Result<(), Error> {
        let dir = blocks_dir(&self.dir);
        let written = crate::compact::merge(&dir, group, self.opts.zstd_level)?;
        let mut blocks = self.blocks.write().unwrap_or_else(|e| e.into_inner());
        if let Some((path, _)) = written {
            blocks.push(Arc::new(Block::open(&path)?));
        }
        let old: Vec<PathBuf> = group.iter().map(|b| b.path().to_path_buf()).collect();
        blocks.retain(|b| !old.iter().any(|p| p == b.path()));
        blocks.sort_by_key(|b| b.meta().min_time);
        drop(blocks);
        for p in old {
            fs::remove_file(&p).map_err(Error::io("remove", &p))?;
        }
        Ok(())
    }

    fn apply_retention(&self) -> Result<(), Error> {
        let blocks = self.blocks();
        if blocks.is_empty() {
            return Ok(());
        }
        let head_maxt = self.head.read().unwrap_or_else(|e| e.into_inner()).maxt;
        let newest = blocks.iter().map(|b| b.meta().max_time).max().unwrap_or(i64::MIN).max(head_maxt);
        let mut doomed: Vec<PathBuf> = Vec::new();
        if self.opts.retention_time > 0 {
            for b in &blocks {
                if b.meta().max_time <= newest - self.opts.retention_time {
                    doomed.push(b.path().to_path_buf());
                }
            }
        }
        if self.opts.retention_size > 0 {
            let wal = dir_size(&wal_dir(&self.dir));
            let mut total: u64 = wal + blocks.iter().map(|b| b.size()).sum::<u64>();
            for b in &blocks {
                // Oldest first.
                if total <= self.opts.retention_size {
                    break;
                }
                if !doomed.iter().any(|p| p == b.path()) {
                    doomed.push(b.path().to_path_buf());
                }
                total = total.saturating_sub(b.size());
            }
        }
        if doomed.is_empty() {
            return Ok(());
        }
        self.blocks.write().unwrap_or_else(|e| e.into_inner()).retain(|b| !doomed.iter().any(|p| p == b.path()));
        for p in doomed {
            fs::remove_file(&p).map_err(Error::io("remove", &p))?;
        }
        Ok(())
    }

    /// Writes a consistent copy of the store into `dir`: hard links to every block, plus,
    /// unless `skip_head`, the head's data as one more block (the head itself is untouched).
    pub fn snapshot(&self, dir: &Path, skip_head: bool) -> Result<(), Error> {
        let _guard = self.maintenance.lock().unwrap_or_else(|e| e.into_inner());
        fs::create_dir_all(dir).map_err(Error::io("create dir", dir))?;
        for b in self.blocks() {
            let target = dir.join(b.path().file_name().unwrap_or_default());
            if fs::hard_link(b.path(), &target).is_err() {
                fs::copy(b.path(), &target).map_err(Error::io("copy", b.path()))?;
            }
        }
        if !skip_head {
            let (mint, maxt) = {
                let h = self.head.read().unwrap_or_else(|e| e.into_inner());
                (h.mint, h.maxt)
            };
            if mint != i64::MAX {
                self.write_head_block(dir, mint, maxt + 1)?;
            }
        }
        Ok(())
    }

    /// Forces the whole head into blocks (as a shutdown or an operator would), aligned to
    /// block ranges, and checkpoints the WAL.
    pub fn flush_head(&self) -> Result<(), Error> {
        let _guard = self.maintenance.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let (mint, maxt) = {
                let h = self.head.read().unwrap_or_else(|e| e.into_inner());
                (h.mint, h.maxt)
            };
            if mint == i64::MAX || mint > maxt {
                return Ok(());
            }
            let start = mint.div_euclid(self.opts.block_range) * self.opts.block_range;
            self.cut_head_block(start, start + self.opts.block_range)?;
        }
    }

    /// fsyncs and closes the WAL.
    pub fn close(self) -> Result<(), Error> {
        let wal = self.wal.into_inner().unwrap_or_else(|e| e.into_inner());
        wal.close()?;
        Ok(())
    }
}

fn dir_size(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .map(|rd| rd.flatten().filter_map(|e| e.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

/// Opens every block in `dir`, removing leftovers of interrupted writes and blocks that a
/// finished compaction already replaced.
fn load_blocks(dir: &Path) -> Result<Vec<Arc<Block>>, Error> {
    fs::create_dir_all(dir).map_err(Error::io("create dir", dir))?;
    let mut blocks = Vec::new();
    for entry in fs::read_dir(dir).map_err(Error::io("list", dir))? {
        let entry = entry.map_err(Error::io("list", dir))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if name.ends_with(".tmp") {
            let _ = fs::remove_file(&path);
            continue;
        }
        if !name.ends_with(&format!(".{EXT}")) {
            continue;
        }
        blocks.push(Arc::new(Block::open(&path)?));
    }
    // A crash between writing a merged block and deleting its parents leaves both: the
    // parents' sources are a subset of the merged block's.
    let mut doomed = Vec::new();
    for b in &blocks {
        let m = b.meta();
        for other in &blocks {
            let o = other.meta();
            if o.ulid != m.ulid
                && o.compaction.level > m.compaction.level
                && m.compaction.sources.iter().all(|s| o.compaction.sources.contains(s))
            {
                doomed.push(b.path().to_path_buf());
                break;
            }
        }
    }
    blocks.retain(|b| !doomed.iter().any(|p| p == b.path()));
    for p in doomed {
        fs::remove_file(&p).map_err(Error::io("remove", &p))?;
    }
    blocks.sort_by_key(|b| b.meta().min_time);
    Ok(blocks)
}

/// Replays the WAL into the head. A reader thread decodes records; samples are applied in
/// batches by one worker per core, each owning every n-th page of the series slab, so a
/// series' samples stay in order. Series records are applied between batches, so every
/// sample finds its series defined.
fn replay_wal(
    dir: &Path,
    head: &mut Head,
    exemplars: &mut Exemplars,
    metadata: &mut HashMap<String, MetricMetadata>,
    max_id: u32,
) -> Result<ReplayReport, Error> {
    // 256 Ki samples per batch: replay memory stays within about 20 MB above the head.
    const BATCH: usize = 1 << 18;
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, 8);
    let mut report = ReplayReport::default();
    let mut reader = Reader::open(dir)?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Record>>(2);
    let mut read_err: Option<Error> = None;
    std::thread::scope(|scope| {
        let reader = &mut reader;
        let read_err = &mut read_err;
        scope.spawn(move || {
            let mut batch: Vec<Record> = Vec::new();
            let mut n = 0usize;
            loop {
                match reader.next_record() {
                    Ok(Some(rec)) => {
                        let Ok(r) = record::decode(rec) else { continue };
                        n += match &r {
                            Record::Samples(s) | Record::OooSamples(s) => s.len(),
                            Record::SeriesState(s) => s.len() * 64,
                            Record::Histograms(h) => h.len() * 16,
                            _ => 1,
                        };
                        batch.push(r);
                        if n >= BATCH {
                            n = 0;
                            if tx.send(std::mem::take(&mut batch)).is_err() {
                                return;
                            }
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        *read_err = Some(e.into());
                        break;
                    }
                }
            }
            let _ = tx.send(batch);
        });
        let mut pending: Vec<(RefSample, bool)> = Vec::with_capacity(BATCH);
        for batch in rx {
            for r in batch {
                match r {
                    Record::SeriesState(states) => {
                        apply_samples(head, &mut pending, threads, &mut report);
                        let (min_valid, range) = (head.min_valid, head.chunk_range);
                        for st in states {
                            if st.id == 0 || st.id >= max_id {
                                report.bad_series_ids += 1;
                                continue;
                            }
                            report.series += 1;
                            let hash = st.labels.stable_hash();
                            match head.series.get(st.id) {
                                Some(existing) if stable_hash_ids(&head.symbols, &existing.labels) == hash => {}
                                Some(_) => head.redefine(st.id, &st.labels, hash),
                                None => head.insert(st.id, &st.labels, hash),
                            }
                            if let Some(ms) = head.series.get_mut(st.id) {
                                ms.restore(st.data, min_valid, range);
                                let (a, b) = (ms.min_time(), ms.max_time());
                                if let (Some(a), Some(b)) = (a, b) {
                                    report.samples += ms.num_samples() as u64;
                                    head.mint = head.mint.min(a);
                                    head.maxt = head.maxt.max(b);
                                }
                            }
                        }
                    }
                    Record::Series(series) => {
                        apply_samples(head, &mut pending, threads, &mut report);
                        for s in series {
                            if s.id == 0 || s.id >= max_id {
                                report.bad_series_ids += 1;
                                continue;
                            }
                            report.series += 1;
                            let hash = s.labels.stable_hash();
                            match head.series.get(s.id) {
                                Some(existing) if stable_hash_ids(&head.symbols, &existing.labels) == hash => {}
                                Some(_) => head.redefine(s.id, &s.labels, hash),
                                None => head.insert(s.id, &s.labels, hash),
                            }
                        }
                    }
                    Record::Samples(samples) => {
                        pending.extend(samples.into_iter().map(|s| (s, false)));
                        if pending.len() >= BATCH {
                            apply_samples(head, &mut pending, threads, &mut report);
                        }
                    }
                    Record::OooSamples(samples) => {
                        pending.extend(samples.into_iter().map(|s| (s, true)));
                        if pending.len() >= BATCH {
                            apply_samples(head, &mut pending, threads, &mut report);
                        }
                    }
                    Record::Histograms(hs) => {
                        // Applied in log order relative to floats (the stored hints depend on it).
                        apply_samples(head, &mut pending, threads, &mut report);
                        for h in hs {
                            if h.t < head.min_valid {
                                continue;
                            }
                            // Samples restored from the checkpoint are refused as duplicates.
                            if head.append_histogram(h.id, h.t, h.h).is_ok() {
                                report.samples += 1;
                            }
                        }
                    }
                    Record::Exemplars(ex) => {
                        for e in ex {
                            if let Some(labels) = head.labels_of(e.id) {
                                exemplars.add(&labels, &seer_model::Exemplar { labels: e.labels, t: e.t, v: e.v });
                            }
                        }
                    }
                    Record::Metadata(md) => {
                        for m in md {
                            metadata.insert(m.metric_family.clone(), m);
                        }
                    }
                }
            }
        }
        apply_samples(head, &mut pending, threads, &mut report);
    });
    if let Some(e) = read_err {
        return Err(e);
    }
    head.series.rebuild_free_list();
    report.records = reader.stats().records;
    report.corruption = reader.stats().corruption.clone();
    Ok(report)
}

/// Appends replayed samples to their series in parallel (see [`replay_wal`]). In-order
/// samples a series already has (restored from the checkpoint) are skipped; out-of-order
/// ones go to the series' out-of-order buffer.
fn apply_samples(head: &mut Head, pending: &mut Vec<(RefSample, bool)>, threads: usize, report: &mut ReplayReport) {
    if pending.is_empty() {
        return;
    }
    let min_valid = head.min_valid;
    let range = head.chunk_range;
    let worker_of = |id: u32| ((id >> PAGE_BITS) as usize) % threads;
    let mut parts: Vec<Vec<(RefSample, bool)>> =
        (0..threads).map(|_| Vec::with_capacity(pending.len() / threads + 1)).collect();
    for s in pending.drain(..) {
        parts[worker_of(s.0.id)].push(s);
    }
    // Worker w gets mutable access to pages w, w + threads, w + 2·threads...
    let npages = head.series.pages.len();
    let mut tables: Vec<Vec<Option<&mut Box<[MemSeries]>>>> = (0..threads).map(|_| Vec::new()).collect();
    for t in tables.iter_mut() {
        t.resize_with(npages, || None);
    }
    for (p, page) in head.series.pages.iter_mut().enumerate() {
        tables[p % threads][p] = Some(page);
    }
    let results: Vec<(u64, i64, i64)> = std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .iter()
            .zip(tables.iter_mut())
            .map(|(part, table)| {
                scope.spawn(move || {
                    let (mut n, mut mint, mut maxt) = (0u64, i64::MAX, i64::MIN);
                    for &(s, ooo) in part {
                        if s.t < min_valid {
                            continue;
                        }
                        let Some(Some(page)) = table.get_mut((s.id >> PAGE_BITS) as usize) else { continue };
                        let ms = &mut page[s.id as usize & (PAGE_SIZE - 1)];
                        if !ms.live {
                            continue;
                        }
                        // Accepted once, so accepted again whatever the window is now.
                        let applied = if ooo { ms.replay_ooo(s.t, s.v) } else { ms.replay_in_order(s.t, s.v, range) };
                        if applied {
                            n += 1;
                            mint = mint.min(s.t);
                            maxt = maxt.max(s.t);
                        }
                    }
                    (n, mint, maxt)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or((0, i64::MAX, i64::MIN))).collect()
    });
    for (n, mint, maxt) in results {
        report.samples += n;
        head.mint = head.mint.min(mint);
        head.maxt = head.maxt.max(maxt);
    }
}
