//! Merges blocks into one: a k-way merge of their series in label order, samples merged
//! by time (on equal timestamps the older block's sample wins), re-encoded and recompressed.
//! Memory use is a batch of series per input block.

use crate::block::writer::BlockWriter;
use crate::block::{Block, BlockMeta, BlockSeries, Compaction};
use crate::error::Error;
use seer_model::{HistogramSample, Sample};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const BATCH: u32 = 1024;

struct Cursor<'a> {
    block: &'a Block,
    next_ordinal: u32,
    buf: std::collections::VecDeque<BlockSeries>,
}

impl Cursor<'_> {
    fn peek(&mut self) -> Result<Option<&BlockSeries>, Error> {
        if self.buf.is_empty() {
            let n = self.block.num_series() as u32;
            if self.next_ordinal >= n {
                return Ok(None);
            }
            let end = (self.next_ordinal + BATCH).min(n);
            let ords: Vec<u32> = (self.next_ordinal..end).collect();
            self.buf.extend(self.block.series(&ords)?);
            self.next_ordinal = end;
        }
        Ok(self.buf.front())
    }
}

/// Merges `blocks` (oldest first) into a new block in `dir`.
pub(crate) fn merge(dir: &Path, blocks: &[Arc<Block>], zstd_level: i32) -> Result<Option<(PathBuf, BlockMeta)>, Error> {
    let mut symbols: Vec<String> = Vec::new();
    for b in blocks {
        symbols.extend(b.symbols().iter().map(|s| s.to_string()));
    }
    symbols.sort_unstable();
    symbols.dedup();
    let mut sources: Vec<String> = blocks.iter().flat_map(|b| b.meta().compaction.sources.clone()).collect();
    sources.sort();
    sources.dedup();
    let level = blocks.iter().map(|b| b.meta().compaction.level).max().unwrap_or(1) + 1;
    let range_end = blocks.iter().map(|b| b.meta().max_time).max().unwrap_or(0);
    let mut w = BlockWriter::create(dir, symbols, Compaction { level, sources }, zstd_level)?;

    let mut cursors: Vec<Cursor<'_>> =
        blocks.iter().map(|b| Cursor { block: b, next_ordinal: 0, buf: Default::default() }).collect();
    let mut samples: Vec<Sample> = Vec::new();
    let mut part: Vec<Sample> = Vec::new();
    let mut hists: Vec<HistogramSample> = Vec::new();
    let mut hpart: Vec<HistogramSample> = Vec::new();
    loop {
        // Smallest label set among the cursors.
        let mut min: Option<seer_model::Labels> = None;
        for c in cursors.iter_mut() {
            if let Some(s) = c.peek()?
                && min.as_ref().is_none_or(|m| s.labels < *m)
            {
                min = Some(s.labels.clone());
            }
        }
        let Some(labels) = min else { break };
        samples.clear();
        hists.clear();
        for c in cursors.iter_mut() {
            let take = matches!(c.peek()?, Some(s) if s.labels == labels);
            if take {
                let s = c.buf.pop_front().expect("peeked");
                part.clear();
                hpart.clear();
                c.block.read_series(&s, i64::MIN, i64::MAX, &mut part, &mut hpart)?;
                merge_samples(&mut samples, &part);
                merge_histograms(&mut hists, std::mem::take(&mut hpart));
            }
        }
        w.add_series(&labels, &samples, &hists)?;
    }
    w.finish(range_end)
}

/// Merges sorted `add` into sorted `acc`; on equal timestamps `acc` keeps its sample.
pub(crate) fn merge_samples(acc: &mut Vec<Sample>, add: &[Sample]) {
    if add.is_empty() {
        return;
    }
    if acc.last().is_none_or(|l| l.t < add[0].t) {
        acc.extend_from_slice(add);
        return;
    }
    let old = std::mem::take(acc);
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < add.len() {
        if j >= add.len() || (i < old.len() && old[i].t <= add[j].t) {
            if j < add.len() && old[i].t == add[j].t {
                j += 1;
            }
            acc.push(old[i]);
            i += 1;
        } else {
            acc.push(add[j]);
            j += 1;
        }
    }
}

/// Merges sorted `add` into sorted `acc`; on equal timestamps `acc` keeps its sample.
pub(crate) fn merge_histograms(acc: &mut Vec<HistogramSample>, add: Vec<HistogramSample>) {
    if add.is_empty() {
        return;
    }
    if acc.last().is_none_or(|l| l.t < add[0].t) {
        acc.extend(add);
        return;
    }
    let old = std::mem::take(acc);
    let mut a = old.into_iter().peekable();
    let mut b = add.into_iter().peekable();
    loop {
        match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => {
                if x.t <= y.t {
                    if x.t == y.t {
                        b.next();
                    }
                    acc.push(a.next().expect("peeked"));
                } else {
                    acc.push(b.next().expect("peeked"));
                }
            }
            (Some(_), None) => acc.push(a.next().expect("peeked")),
            (None, Some(_)) => acc.push(b.next().expect("peeked")),
            (None, None) => break,
        }
    }
}
