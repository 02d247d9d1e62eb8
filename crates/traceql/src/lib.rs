//! TraceQL (work in progress).
