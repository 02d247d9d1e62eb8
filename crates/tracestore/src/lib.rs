//! Trace store (work in progress).
