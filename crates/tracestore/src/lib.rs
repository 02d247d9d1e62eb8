//! Seer's trace storage engine (the part of Tempo that stores): spans grouped by trace in a
//! write-ahead log, an in-memory head, and immutable block files cut from the head, with a
//! global trace-id index and retention. File formats are in `FORMAT.md` next to this crate.
//!
//! Owns: everything under a tenant's `traces/` directory, trace-by-id lookups (merging parts
//! of a trace that arrived late and landed in several blocks), time-range scans, the tag and
//! operation dictionaries, and retention including the long-term (tail-sampling) filter.
//! Must not: depend on tokio, HTTP, TraceQL or sampling policies; know wire formats. Query
//! code consumes [`TraceDb::scan`] and [`TraceDb::trace`]; the long-term filter is a
//! predicate handed in by the caller.
//!
//! Key decisions:
//! - One binary form of a trace fragment (`codec`) serves the WAL, the head and block pages:
//!   resources and scopes stored once per fragment, parents as indexes within the fragment.
//! - Trace-by-id needs no time range: a global in-memory index of 16 bytes per trace
//!   (fingerprint, block, ordinal) leads to fixed-width trace-table entries on disk, so a
//!   lookup is one binary search, one 48-byte read and one page read per block holding part
//!   of the trace.
//! - Each tenant is a separate [`TraceDb`] in its own directory ([`TraceStorage`]).

mod block;
mod codec;
mod db;
mod error;
mod filter;
mod storage;

pub use block::{BlockMeta, Dictionary, Operations, TagScope, TagValue, Tags};
pub use codec::{decode_fragment, dedup_spans, encode_fragment};
pub use db::{FoundTrace, Options, PushOutcome, Stats, TraceDb, group_by_trace};
pub use error::Error;
pub use filter::SearchKey;
pub use storage::TraceStorage;
