//! TraceQL for Seer's Tempo-compatible API: the syntax ([`parse`]), the tree ([`ast`]), the
//! printer (`Display` on [`Query`], re-parses to the same tree), Tempo's semantic checks
//! ([`validate`]), the evaluator of search queries over the spans of one trace ([`eval`]) and
//! the evaluator of metrics queries over many traces ([`MetricsEvaluator`]).
//!
//! Owns: the TraceQL language (search and metrics syntax, hints), what a search query
//! means for one trace (which spans match, how they group into spansets, which attributes
//! `by()`, `select()` and aggregates attach) and what a metrics query computes from the
//! traces it is given (series of per-step values).
//! Must not: do I/O, know how or where spans are stored, know HTTP, or use async. Finding
//! the traces of a time range and rendering series are the caller's job.
//!
//! Key decisions:
//! * Precedence is Tempo's: `&&` and `||` bind equally (left to right) and looser than the
//!   comparisons and structural operators, which bind looser than arithmetic.
//! * Regular expressions are fully anchored, as in Tempo: `name =~ "foo"` matches only `foo`.
//! * Nesting is bounded by [`MAX_DEPTH`], so no input can overflow the stack of the parser,
//!   the printer or the evaluator.

pub mod ast;
mod conditions;
mod eval;
mod lexer;
mod metrics;
mod parser;
mod printer;
mod validate;

pub use ast::{Query, Static};
pub use conditions::{Condition, conditions};
pub use eval::{EvalError, MatchedSpan, SpanSet, Value, eval, eval_pipeline};
pub use metrics::{MAX_EXEMPLARS, MAX_SERIES, MAX_STEPS, MetricsEvaluator, MetricsRequest, MetricsSeries};
pub use parser::parse;
pub use printer::format_duration;
pub use validate::validate;

/// Deepest nesting of parentheses, operators and pipelines a query may have.
pub const MAX_DEPTH: usize = 256;
/// Longest query accepted, in bytes.
pub const MAX_QUERY_LEN: usize = 1 << 20;

/// A syntax error, worded like Tempo's (`parse error at line 1, col 3: syntax error: ...`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parse error at line {line}, col {col}: {msg}")]
pub struct ParseError {
    pub line: usize,
    pub col: usize,
    pub msg: String,
}

/// A query that parses but means nothing (mismatched types, invalid regex, ...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid TraceQL query: {0}")]
pub struct ValidateError(pub String);

/// Either kind of error from [`parse_and_validate`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Validate(#[from] ValidateError),
}

/// Parses and validates a query: what the HTTP layer runs on `q=`.
pub fn parse_and_validate(src: &str) -> Result<Query, Error> {
    let q = parse(src)?;
    validate(&q)?;
    Ok(q)
}

/// Compiles a TraceQL regular expression: anchored at both ends, with a size limit.
pub(crate) fn compile_regex(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(&format!("^(?:{pattern})$")).size_limit(1 << 20).build()
}
