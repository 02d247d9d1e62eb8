//! LogQL for Seer's Loki-compatible API: the syntax ([`parse`]), the AST ([`ast`]), the
//! printer (`Display` on [`Expr`], re-parses to the same AST) and the log pipeline executor
//! ([`Pipeline`]): line filters, parsers, label filters, formatting stages and `unwrap`.
//!
//! Owns: LogQL syntax, AST, printing, and the semantics of line/label pipeline stages
//! (including the Go text/template subset used by `line_format` / `label_format`).
//! The query evaluator ([`engine::execute`]) runs queries over the `LogQueryable` storage seam.
//! Must not: do I/O itself, or know HTTP.
//!
//! Key decision: parsing is split in two. [`parse_syntax`] checks only the grammar;
//! [`parse`] also applies Loki's semantic checks (selectors need a matcher that cannot match
//! the empty string, aggregation/unwrap/grouping rules) and compiles every pipeline once so
//! that bad regexes and templates are parse errors, as in Loki.

pub mod ast;
pub mod engine;
mod json;
mod lexer;
mod logfmt;
mod parser;
mod pattern;
mod pipeline;
mod printer;
mod template;
mod units;

pub use ast::{Expr, LogExpr, MetricExpr, Stage};
pub use engine::{Direction, EvalError, QueryParams, QueryResult, SeriesResult, Stats, StreamResult, execute};
pub use parser::{MAX_DEPTH, MAX_QUERY_LEN, parse, parse_syntax, validate};
pub use pipeline::{
    ERR_JSON, ERR_LABEL_FILTER, ERR_LOGFMT, ERR_SAMPLE, ERR_TEMPLATE, ERROR_DETAILS_LABEL, ERROR_LABEL, Pipeline,
};

/// Errors of parsing and of pipeline construction. The `Display` texts follow Loki's wording,
/// since clients match on them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A lexical or grammar error at a position (1-based line and column).
    #[error("parse error at line {line}, col {col}: {msg}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        col: usize,
        /// `syntax error: unexpected ...`, `literal not terminated`, ...
        msg: String,
    },
    /// A semantic error without position (`parse error : ...`).
    #[error("parse error : {0}")]
    Semantic(String),
    /// A pipeline stage could not be built (bad regex, bad template, ...).
    #[error("parse error : stage '{stage}' : {msg}")]
    Stage {
        /// The stage as printed.
        stage: String,
        /// The underlying error.
        msg: String,
    },
}
