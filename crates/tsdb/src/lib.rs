//! Seer's metrics storage engine.
mod chunk;
mod hash;
mod head;
