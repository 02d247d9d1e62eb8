//! Errors of the log store.

use std::path::PathBuf;

/// Log store failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O call failed.
    #[error("logstore {op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The WAL failed.
    #[error(transparent)]
    Wal(#[from] seer_wal::Error),
    /// Writes outpace block writing: the head is over twice its limit and did not shrink in
    /// time. The write was not stored; the client should retry.
    #[error(
        "log store is behind: its head holds {bytes} bytes, more than {limit}, while blocks are written; retry later"
    )]
    Overloaded {
        /// Bytes in the head.
        bytes: usize,
        /// The bound.
        limit: usize,
    },
    /// A file is damaged.
    #[error("logstore: corrupt {what} in {path}: {detail}")]
    Corrupt {
        /// Which structure.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
}

impl Error {
    pub(crate) fn io(op: &'static str, path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.to_path_buf();
        move |source| Error::Io { op, path, source }
    }
}
