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
