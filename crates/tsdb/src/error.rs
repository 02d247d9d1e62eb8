//! The metrics store's error type.

use std::path::{Path, PathBuf};

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O call failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The write-ahead log failed.
    #[error(transparent)]
    Wal(#[from] seer_wal::Error),
    /// A block could not be read.
    #[error(transparent)]
    Block(#[from] crate::block::BlockError),
    /// A broken internal invariant.
    #[error("BUG: {0}")]
    Bug(String),
}

impl Error {
    /// Builds a closure that wraps an `io::Error` with the operation and path.
    pub(crate) fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
        move |source| Error::Io { op, path: path.to_path_buf(), source }
    }
}
