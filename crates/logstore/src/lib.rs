//! Seer's log storage engine (the part of Loki that stores): streams identified by label set,
//! entries with structured metadata, a write-ahead log, an in-memory head, immutable block
//! files of compressed chunks cut from the head, and retention. File formats are in
//! `FORMAT.md` next to this crate.
//!
//! Owns: everything under a tenant's `logs/` directory, per-stream ordering rules (the
//! out-of-order window, duplicate dropping), the stream limit, and scans over streams.
//! Must not: depend on tokio, HTTP or LogQL; know wire formats. Query languages consume
//! [`LogDb::scan`] and build their own results.
//!
//! Key decisions:
//! - Entries of a stream are kept column-wise in a [`Batch`] (times, one text buffer, line
//!   ends), in the head and in decoded chunks alike, so a scan hands out borrowed `&str` lines
//!   without an allocation per line.
//! - A block is cut from the whole head at once (by size or age); the WAL segment opened at
//!   the cut marks what the block covers, and segments before it are deleted once the block
//!   is durable. A block records that segment, so a crash between the two steps cannot
//!   replay entries a block already holds.
//! - Each tenant is a separate [`LogDb`] in its own directory ([`LogStorage`]).

mod batch;
mod block;
mod db;
mod error;
mod limits;
mod record;
mod skip;
mod storage;

pub use batch::Batch;
pub use db::{Direction, LogDb, Options, PushOutcome, StreamInfo};
pub use error::Error;
pub use limits::{LogLimits, Refused, discover_service_name, validate};
pub use skip::{MIN_NEEDLE, needle_fingerprints};
pub use storage::LogStorage;
