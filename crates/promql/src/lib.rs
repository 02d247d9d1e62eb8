//! PromQL: the parser ([`parser`]) and the evaluation engine ([`execute`]) with Prometheus 3
//! semantics (delayed `__name__` removal, left-open ranges, experimental functions on).
//!
//! Owns: PromQL syntax, types, evaluation semantics and annotations.
//! Must not: know storage formats or HTTP; it reads metrics only through
//! [`seer_model::Queryable`] and stays synchronous.

mod aggregate;
mod binop;
mod eval;
mod extended;
mod functions;
mod hist_fns;
mod info;
pub mod parser;
/// Native histogram arithmetic (shared with the store).
pub use seer_model::histogram;
mod range_fns;
pub mod value;

pub use eval::{EngineOptions, QueryOutput, QueryParams, execute};
pub use value::{Annotation, Annotations, InstantSample, Level, QueryError, QueryValue, Series};
