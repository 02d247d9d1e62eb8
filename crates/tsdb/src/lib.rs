//! Seer's metrics storage engine (a TSDB in the manner of Prometheus'): a write-ahead log,
//! an in-memory head of Gorilla-compressed chunks with an inverted index, immutable block
//! files cut from the head and compacted, retention by time and size, an out-of-order
//! window, exemplars and metadata. File formats are in `FORMAT.md` next to this crate.
//!
//! Owns: everything on disk under a tenant's metrics directory, and the in-memory head.
//! Must not: depend on tokio, HTTP or any query language; know wire formats.
//!
//! Key decisions:
//! - Head chunks stay in memory (no memory-mapped chunk files); blocks re-encode samples
//!   column-wise (delta-of-delta times, decimal or XOR values) and compress 256 KiB pages
//!   with zstd, which is what makes them several times smaller than Gorilla chunks.
//! - One `RwLock` guards the head; writers log to the WAL while holding it, so a series
//!   definition always precedes its samples in the log. Long reads (queries, block cuts)
//!   take the lock in batches and never hold it for a whole scan.
//! - Each tenant is a separate [`Db`] in its own directory ([`Storage`]), so tenants cannot
//!   see each other's data by construction.

mod block;
mod chunk;
mod compact;
mod db;
mod error;
mod exemplars;
mod hash;
mod head;
mod histcodec;
mod query;
mod record;
mod storage;
mod ulid;

pub use block::{Block, BlockError, BlockMeta, BlockStats, Compaction};
pub use db::{AppendReport, Db, DbStats, Options, RejectReason, ReplayReport, SeriesRef};
pub use error::Error;
pub use exemplars::StoredExemplar;
pub use query::{HeadStatus, Series};
pub use storage::Storage;
