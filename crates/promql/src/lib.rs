//! PromQL: the parser ([`parser`]) and, later, the evaluation engine.
//!
//! Owns: PromQL syntax, types, and evaluation semantics (Prometheus 3.14).
//! Must not: know storage formats or HTTP.

pub mod parser;
