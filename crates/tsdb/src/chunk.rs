//! Sample encodings: [`xor`] for the in-memory head (appendable, Gorilla-style) and
//! [`columnar`] for immutable blocks (re-encoded for size, then compressed by pages).

pub mod columnar;
pub mod xor;
