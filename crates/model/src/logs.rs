//! Log entries and streams, as the log ingest paths produce them and the log store keeps them.

use crate::labels::{Label, Labels};

/// One log line of a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// Unix time in nanoseconds.
    pub ts: i64,
    /// The line, as sent.
    pub line: String,
    /// Structured metadata (Loki 3): name/value pairs carried per line, not indexed.
    pub metadata: Vec<Label>,
}

impl LogEntry {
    /// Bytes counted against size and rate limits: the line plus every metadata name and value.
    pub fn size(&self) -> usize {
        self.line.len() + self.metadata.iter().map(|l| l.name.len() + l.value.len()).sum::<usize>()
    }
}

/// Entries of one stream, identified by its label set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogStream {
    /// Stream labels (sorted, no empty values).
    pub labels: Labels,
    /// Entries in the order they were sent.
    pub entries: Vec<LogEntry>,
}

/// The per-entry callback of [`LogQueryable::scan_entries`]: stream labels, time (Unix ns),
/// line, structured metadata; returns false to stop the scan.
pub type EntryFn<'a> = dyn FnMut(&Labels, i64, &str, &[Label]) -> bool + 'a;

/// Read access to logs for query engines (implemented by the log store).
pub trait LogQueryable: Sync {
    /// Calls `f(stream labels, ts, line, structured metadata)` for every entry with
    /// `start <= ts < end` (Unix ns) of the streams matching all `matchers`. Streams come one
    /// after another in label order; within a stream entries are NOT guaranteed to be in time
    /// order (the store hands out its batches as they are). `f` returns false to stop.
    fn scan_entries(
        &self,
        matchers: &[crate::Matcher],
        start: i64,
        end: i64,
        f: &mut EntryFn<'_>,
    ) -> Result<(), crate::StorageError>;

    /// Like [`LogQueryable::scan_entries`] for a caller that keeps only lines containing every
    /// one of `needles` (case-sensitive substrings). A store with a skip index leaves out data
    /// that cannot contain them; it may still hand out lines without them (the caller filters).
    fn scan_entries_containing(
        &self,
        matchers: &[crate::Matcher],
        needles: &[&str],
        start: i64,
        end: i64,
        f: &mut EntryFn<'_>,
    ) -> Result<(), crate::StorageError> {
        let _ = needles;
        self.scan_entries(matchers, start, end, f)
    }
}
