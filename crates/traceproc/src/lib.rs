//! Trace processors (work in progress).
