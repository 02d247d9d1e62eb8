//! Segmented, checksummed write-ahead log of opaque records. The on-disk layout, repair rules
//! and fsync policies are in `FORMAT.md` next to this crate.
//!
//! Owns: segment files, framing, checksums, compression, replay with repair, checkpoints,
//! truncation and the fsync policy.
//! Must not: interpret record contents (callers own their record types), or spawn threads
//! (the owner decides when an `interval` fsync runs).
//!
//! Key decision: every record is handed to the kernel with a single `write` before
//! [`Wal::log`] returns, so an acknowledged write survives the death of the process without
//! paying an fsync per request; machine crashes are covered by the fsync policy.

use seer_encoding::crc32;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const MAGIC: &[u8; 7] = b"SEERWAL";
const VERSION: u8 = 1;
const HEADER_LEN: u64 = 8;
const FRAME_HEADER_LEN: usize = 9;
const FLAG_SNAPPY: u8 = 1;
/// Largest payload a frame may carry.
pub const MAX_RECORD_LEN: usize = 64 << 20;

/// WAL failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O call failed.
    #[error("wal {op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A record is larger than [`MAX_RECORD_LEN`].
    #[error("wal record of {0} bytes exceeds the limit of {MAX_RECORD_LEN} bytes")]
    RecordTooLarge(usize),
    /// A file does not start with the WAL magic.
    #[error("{0} is not a wal file (bad magic or version)")]
    NotAWalFile(PathBuf),
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> Error + 'a {
    move |source| Error::Io { op, path: path.to_path_buf(), source }
}

/// When the WAL calls fsync. See `FORMAT.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// After every record.
    Always,
    /// When [`Wal::sync_if_due`] is called at least this long after the last fsync.
    Interval(Duration),
    /// Only on segment close and [`Wal::close`].
    Never,
}

/// Options for [`Wal::open`].
#[derive(Clone, Debug)]
pub struct Options {
    /// Largest segment size in bytes.
    pub segment_size: u64,
    /// fsync policy.
    pub fsync: FsyncPolicy,
    /// Compress records with snappy when it makes them smaller.
    pub compress: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options { segment_size: 128 << 20, fsync: FsyncPolicy::Interval(Duration::from_secs(1)), compress: true }
    }
}

/// An open write-ahead log, appending to its newest segment.
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    opts: Options,
    file: File,
    segment: u64,
    written: u64,
    dirty: bool,
    last_sync: Instant,
    frame: Vec<u8>,
    compressor: snap::raw::Encoder,
}

impl Wal {
    /// Opens the log in `dir` (created if missing) and starts a new segment after the last
    /// existing one. Replay ([`Reader`]) must happen before, since new records go to the new
    /// segment.
    pub fn open(dir: &Path, opts: Options) -> Result<Wal, Error> {
        fs::create_dir_all(dir).map_err(io_err("create dir", dir))?;
        let (checkpoint, segments) = list(dir)?;
        let next = match (segments.last(), checkpoint) {
            (Some(&last), _) => last + 1,
            (None, Some((n, _))) => n + 1,
            (None, None) => 0,
        };
        let (file, written) = create_segment(dir, next)?;
        sync_dir(dir)?;
        Ok(Wal {
            dir: dir.to_path_buf(),
            opts,
            file,
            segment: next,
            written,
            dirty: false,
            last_sync: Instant::now(),
            frame: Vec::new(),
            compressor: snap::raw::Encoder::new(),
        })
    }

    /// The directory of the log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of the segment being written.
    pub fn current_segment(&self) -> u64 {
        self.segment
    }

    /// Appends one record. On return the record has been written to the kernel (and fsynced
    /// under [`FsyncPolicy::Always`]).
    pub fn log(&mut self, record: &[u8]) -> Result<(), Error> {
        if record.len() > MAX_RECORD_LEN {
            return Err(Error::RecordTooLarge(record.len()));
        }
        self.frame.clear();
        encode_frame(&mut self.frame, record, self.opts.compress, &mut self.compressor);
        if self.written > HEADER_LEN && self.written + self.frame.len() as u64 > self.opts.segment_size {
            self.next_segment()?;
        }
        let path = segment_path(&self.dir, self.segment);
        self.file.write_all(&self.frame).map_err(io_err("write", &path))?;
        self.written += self.frame.len() as u64;
        self.dirty = true;
        if self.opts.fsync == FsyncPolicy::Always {
            self.sync()?;
        }
        Ok(())
    }

    /// Closes the current segment (fsynced) and starts the next one. Returns the number of
    /// the closed segment; checkpoints are taken up to closed segments.
    pub fn next_segment(&mut self) -> Result<u64, Error> {
        self.sync()?;
        let closed = self.segment;
        let (file, written) = create_segment(&self.dir, closed + 1)?;
        sync_dir(&self.dir)?;
        self.file = file;
        self.segment = closed + 1;
        self.written = written;
        Ok(closed)
    }

    /// fsyncs the current segment if anything was written since the last fsync.
    pub fn sync(&mut self) -> Result<(), Error> {
        if self.dirty {
            let path = segment_path(&self.dir, self.segment);
            self.file.sync_data().map_err(io_err("fsync", &path))?;
            self.dirty = false;
        }
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Under [`FsyncPolicy::Interval`], fsyncs when the interval has passed. The owner calls
    /// this periodically.
    pub fn sync_if_due(&mut self) -> Result<(), Error> {
        if let FsyncPolicy::Interval(d) = self.opts.fsync
            && self.dirty
            && self.last_sync.elapsed() >= d
        {
            self.sync()?;
        }
        Ok(())
    }

    /// fsyncs and closes the log.
    pub fn close(mut self) -> Result<(), Error> {
        self.sync()
    }

    /// Total bytes of all WAL files (segments and checkpoint).
    pub fn disk_size(&self) -> u64 {
        dir_size(&self.dir)
    }
}

/// Sizes in bytes of the newest checkpoint (0 when there is none) and of the segments
/// after it: how much replay would load whole and how much it would replay record by record.
pub fn sizes(dir: &Path) -> Result<(u64, u64), Error> {
    if !dir.exists() {
        return Ok((0, 0));
    }
    let (checkpoint, segments) = list(dir)?;
    let after = checkpoint.as_ref().map(|(c, _)| c + 1).unwrap_or(0);
    let cp = checkpoint.and_then(|(_, p)| fs::metadata(p).ok()).map(|m| m.len()).unwrap_or(0);
    let tail = segments
        .into_iter()
        .filter(|&s| s >= after)
        .filter_map(|s| fs::metadata(segment_path(dir, s)).ok())
        .map(|m| m.len())
        .sum();
    Ok((cp, tail))
}

/// Writes `checkpoint.upto` in `dir` from `records`, then deletes older checkpoints and all
/// segments `<= upto`. `upto` must be a closed segment (see [`Wal::next_segment`]); the
/// open segment is not touched, so appends may continue while this runs.
pub fn checkpoint(dir: &Path, upto: u64, records: impl Iterator<Item = Vec<u8>>, compress: bool) -> Result<(), Error> {
    let tmp = dir.join(format!("checkpoint.{upto:08}.tmp"));
    let fin = dir.join(format!("checkpoint.{upto:08}"));
    {
        let f = File::create(&tmp).map_err(io_err("create", &tmp))?;
        let mut w = io::BufWriter::with_capacity(1 << 20, f);
        w.write_all(MAGIC).map_err(io_err("write", &tmp))?;
        w.write_all(&[VERSION]).map_err(io_err("write", &tmp))?;
        let mut frame = Vec::new();
        let mut enc = snap::raw::Encoder::new();
        for rec in records {
            if rec.len() > MAX_RECORD_LEN {
                return Err(Error::RecordTooLarge(rec.len()));
            }
            frame.clear();
            encode_frame(&mut frame, &rec, compress, &mut enc);
            w.write_all(&frame).map_err(io_err("write", &tmp))?;
        }
        let f = w.into_inner().map_err(|e| Error::Io { op: "flush", path: tmp.clone(), source: e.into_error() })?;
        f.sync_all().map_err(io_err("fsync", &tmp))?;
    }
    fs::rename(&tmp, &fin).map_err(io_err("rename", &tmp))?;
    sync_dir(dir)?;
    let (_, segments) = list(dir)?;
    for entry in fs::read_dir(dir).map_err(io_err("list", dir))? {
        let entry = entry.map_err(io_err("list", dir))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name.strip_prefix("checkpoint.") {
            let is_tmp = n.ends_with(".tmp");
            if let Ok(n) = n.trim_end_matches(".tmp").parse::<u64>()
                && (n < upto || (is_tmp && n != upto))
            {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    for s in segments.into_iter().filter(|&s| s <= upto) {
        let p = segment_path(dir, s);
        fs::remove_file(&p).map_err(io_err("remove", &p))?;
    }
    sync_dir(dir)
}

/// Appends one frame holding `record` to `frame`.
fn encode_frame(frame: &mut Vec<u8>, record: &[u8], compress: bool, enc: &mut snap::raw::Encoder) {
    let start = frame.len();
    let body = start + FRAME_HEADER_LEN;
    let mut flags = 0u8;
    if compress && record.len() > 64 {
        frame.resize(body + snap::raw::max_compress_len(record.len()), 0);
        match enc.compress(record, &mut frame[body..]) {
            Ok(n) if n < record.len() => {
                frame.truncate(body + n);
                flags = FLAG_SNAPPY;
            }
            _ => frame.truncate(body),
        }
    } else {
        frame.resize(body, 0);
    }
    if flags == 0 {
        frame.extend_from_slice(record);
    }
    let payload_len = frame.len() - body;
    let crc = crc32(&frame[body..]);
    frame[start] = flags;
    frame[start + 1..start + 5].copy_from_slice(&(payload_len as u32).to_be_bytes());
    frame[start + 5..start + 9].copy_from_slice(&crc.to_be_bytes());
}

fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:08}"))
}

fn create_segment(dir: &Path, n: u64) -> Result<(File, u64), Error> {
    let path = segment_path(dir, n);
    let mut f =
        OpenOptions::new().create(true).truncate(true).write(true).open(&path).map_err(io_err("create", &path))?;
    f.write_all(MAGIC).map_err(io_err("write", &path))?;
    f.write_all(&[VERSION]).map_err(io_err("write", &path))?;
    Ok((f, HEADER_LEN))
}

fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir).and_then(|f| f.sync_all()).map_err(io_err("fsync dir", dir))
}

fn dir_size(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .map(|rd| rd.flatten().filter_map(|e| e.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

/// Lists the newest complete checkpoint (number, path) and all segment numbers, sorted.
/// The newest checkpoint (number, path) and the segment numbers.
type Listing = (Option<(u64, PathBuf)>, Vec<u64>);

fn list(dir: &Path) -> Result<Listing, Error> {
    let mut checkpoint: Option<(u64, PathBuf)> = None;
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err("list", dir))? {
        let entry = entry.map_err(io_err("list", dir))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name.strip_prefix("checkpoint.") {
            if let Ok(n) = n.parse::<u64>()
                && checkpoint.as_ref().is_none_or(|(c, _)| n > *c)
            {
                checkpoint = Some((n, entry.path()));
            }
        } else if name.len() == 8
            && let Ok(n) = name.parse::<u64>()
        {
            segments.push(n);
        }
    }
    segments.sort_unstable();
    Ok((checkpoint, segments))
}

/// What a replay found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplayStats {
    /// Records returned.
    pub records: u64,
    /// Segments read (not counting the checkpoint).
    pub segments: u64,
    /// Damage found and repaired, described; empty when the log was clean (a torn final
    /// frame is not reported).
    pub corruption: Option<String>,
}

/// Reads all records of a WAL directory in order: the newest checkpoint, then the segments
/// after it. Memory use is one record at a time.
pub struct Reader {
    dir: PathBuf,
    files: Vec<(PathBuf, bool)>,
    idx: usize,
    cur: Option<BufReader<File>>,
    cur_offset: u64,
    buf: Vec<u8>,
    out: Vec<u8>,
    decoder: snap::raw::Decoder,
    stats: ReplayStats,
    done: bool,
}

impl Reader {
    /// Opens `dir` for replay. A missing directory reads as an empty log.
    pub fn open(dir: &Path) -> Result<Reader, Error> {
        Reader::open_upto(dir, None)
    }

    /// Opens `dir` for reading the checkpoint and the segments up to `upto` (all when
    /// `None`); used to build the next checkpoint.
    pub fn open_upto(dir: &Path, upto: Option<u64>) -> Result<Reader, Error> {
        let mut files = Vec::new();
        if dir.exists() {
            let (checkpoint, segments) = list(dir)?;
            let after = checkpoint.as_ref().map(|(c, _)| c + 1).unwrap_or(0);
            if let Some((_, p)) = checkpoint {
                files.push((p, false));
            }
            for s in segments.into_iter().filter(|&s| s >= after && upto.is_none_or(|u| s <= u)) {
                files.push((segment_path(dir, s), true));
            }
        }
        Ok(Reader {
            dir: dir.to_path_buf(),
            files,
            idx: 0,
            cur: None,
            cur_offset: 0,
            buf: Vec::new(),
            out: Vec::new(),
            decoder: snap::raw::Decoder::new(),
            stats: ReplayStats::default(),
            done: false,
        })
    }

    /// Statistics so far (complete once [`Reader::next_record`] returned `None`).
    pub fn stats(&self) -> &ReplayStats {
        &self.stats
    }

    /// Returns the next record, or `None` at the end of the log. Damage ends the log and is
    /// repaired on disk as `FORMAT.md` describes.
    pub fn next_record(&mut self) -> Result<Option<&[u8]>, Error> {
        loop {
            if self.done {
                return Ok(None);
            }
            if self.cur.is_none() {
                if self.idx >= self.files.len() {
                    self.done = true;
                    return Ok(None);
                }
                let (path, is_segment) = self.files[self.idx].clone();
                let mut f = File::open(&path).map_err(io_err("open", &path))?;
                let mut hdr = [0u8; 8];
                let n = read_full(&mut f, &mut hdr).map_err(io_err("read", &path))?;
                if n < 8 {
                    // A segment created but never written (crash right after creation).
                    if is_segment && (n == 0 || MAGIC.starts_with(&hdr[..n.min(7)])) {
                        self.idx += 1;
                        continue;
                    }
                    return Err(Error::NotAWalFile(path));
                }
                if &hdr[..7] != MAGIC || hdr[7] != VERSION {
                    return Err(Error::NotAWalFile(path));
                }
                if is_segment {
                    self.stats.segments += 1;
                }
                self.cur = Some(BufReader::with_capacity(1 << 20, f));
                self.cur_offset = HEADER_LEN;
            }
            let (path, _) = self.files[self.idx].clone();
            let r = self.cur.as_mut().expect("set above");
            let mut fh = [0u8; FRAME_HEADER_LEN];
            let n = read_full(r, &mut fh).map_err(io_err("read", &path))?;
            if n == 0 {
                self.cur = None;
                self.idx += 1;
                continue;
            }
            if n < FRAME_HEADER_LEN {
                self.damage(&path, "torn frame header")?;
                continue;
            }
            let flags = fh[0];
            let len = u32::from_be_bytes([fh[1], fh[2], fh[3], fh[4]]) as usize;
            let crc = u32::from_be_bytes([fh[5], fh[6], fh[7], fh[8]]);
            if flags & !FLAG_SNAPPY != 0 || len > MAX_RECORD_LEN {
                self.damage(&path, "invalid frame header")?;
                continue;
            }
            self.buf.resize(len, 0);
            let n = read_full(r, &mut self.buf).map_err(io_err("read", &path))?;
            if n < len {
                self.damage(&path, "torn frame")?;
                continue;
            }
            if crc32(&self.buf) != crc {
                self.damage(&path, "checksum mismatch")?;
                continue;
            }
            self.cur_offset += (FRAME_HEADER_LEN + len) as u64;
            self.stats.records += 1;
            if flags & FLAG_SNAPPY != 0 {
                let dlen = match snap::raw::decompress_len(&self.buf) {
                    Ok(l) if l <= MAX_RECORD_LEN => l,
                    _ => {
                        self.damage(&path, "bad compressed record")?;
                        continue;
                    }
                };
                self.out.resize(dlen, 0);
                if self.decoder.decompress(&self.buf, &mut self.out).is_err() {
                    self.damage(&path, "bad compressed record")?;
                    continue;
                }
                return Ok(Some(&self.out));
            }
            return Ok(Some(&self.buf));
        }
    }

    /// Handles a bad frame in the current file: truncate it there, delete later segments,
    /// and end the log.
    fn damage(&mut self, path: &Path, what: &str) -> Result<(), Error> {
        let is_last = self.idx + 1 == self.files.len();
        let (_, is_segment) = self.files[self.idx];
        let offset = self.cur_offset;
        self.cur = None;
        self.done = true;
        if !(is_last && what.starts_with("torn")) {
            self.stats.corruption = Some(format!("{what} in {} at offset {offset}", path.display()));
        }
        if is_segment {
            let f = OpenOptions::new().write(true).open(path).map_err(io_err("open", path))?;
            f.set_len(offset).map_err(io_err("truncate", path))?;
            f.sync_all().map_err(io_err("fsync", path))?;
            for (p, seg) in &self.files[self.idx + 1..] {
                if *seg {
                    fs::remove_file(p).map_err(io_err("remove", p))?;
                }
            }
            sync_dir(&self.dir)?;
        }
        Ok(())
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests;
