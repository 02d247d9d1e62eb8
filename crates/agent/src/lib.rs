//! The scrape manager: reads `scrape_configs` in Prometheus' YAML shape, discovers targets
//! (static and file-based), relabels them, scrapes them over HTTP on their interval, and
//! hands the samples (with `up`, the `scrape_*` series and staleness markers) to an
//! [`Appender`]. The rules follow Prometheus 3; the differences are listed in
//! `docs/configuration.md`.
//!
//! Owns: target discovery, relabeling, scrape loops and their timing, the targets view.
//! Must not: store or query data (it only hands samples to its [`Appender`]).
//!
//! Key decision: the per-sample logic ([`scrape::Scraper::process`]) is a pure function of
//! the response body and the previous scrape, so the Prometheus semantics are tested
//! without sockets, and the async loop around it stays small.

pub mod config;
pub mod discovery;
pub mod duration;
pub mod http;
pub mod manager;
pub mod relabel;
pub mod scrape;
pub mod target;

pub use manager::{ActiveTarget, Appender, Manager, TargetStatus, TargetsSnapshot};
