//! Values flowing through evaluation: per-step series, query results, annotations and errors.

use crate::parser::ast::Span;
use seer_model::{FloatHistogram, Labels, Sample};

/// A histogram point.
#[derive(Clone, Debug, PartialEq)]
pub struct HPoint {
    /// Milliseconds.
    pub t: i64,
    /// Value.
    pub h: FloatHistogram,
}

/// A series: during evaluation it has at most one point per evaluation step; in a matrix
/// result (range selector or subquery at the top of an instant query) it holds raw points.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Series {
    /// Labels (still including `__name__` when `drop_name` is set: delayed name removal).
    pub labels: Labels,
    /// Float points sorted by time.
    pub floats: Vec<Sample>,
    /// Histogram points sorted by time.
    pub hists: Vec<HPoint>,
    /// The metric name must be removed at the end of evaluation.
    pub drop_name: bool,
}

impl Series {
    /// A series without points.
    pub fn new(labels: Labels, drop_name: bool) -> Series {
        Series { labels, floats: Vec::new(), hists: Vec::new(), drop_name }
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.floats.len() + self.hists.len()
    }

    /// True without points.
    pub fn is_empty(&self) -> bool {
        self.floats.is_empty() && self.hists.is_empty()
    }
}

/// One element of an instant vector result.
#[derive(Clone, Debug, PartialEq)]
pub struct InstantSample {
    /// Labels.
    pub labels: Labels,
    /// Milliseconds.
    pub t: i64,
    /// Float value (when `h` is None).
    pub f: f64,
    /// Histogram value.
    pub h: Option<FloatHistogram>,
}

/// The result of a query.
#[derive(Clone, Debug, PartialEq)]
pub enum QueryValue {
    /// A scalar at a time.
    Scalar {
        /// Milliseconds.
        t: i64,
        /// Value.
        v: f64,
    },
    /// A string at a time.
    String {
        /// Milliseconds.
        t: i64,
        /// Value.
        s: String,
    },
    /// An instant vector.
    Vector(Vec<InstantSample>),
    /// A range vector, sorted by labels.
    Matrix(Vec<Series>),
}

impl QueryValue {
    /// Prometheus' `resultType`.
    pub fn type_name(&self) -> &'static str {
        match self {
            QueryValue::Scalar { .. } => "scalar",
            QueryValue::String { .. } => "string",
            QueryValue::Vector(_) => "vector",
            QueryValue::Matrix(_) => "matrix",
        }
    }
}

/// Annotation severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// `PromQL warning: ...`.
    Warning,
    /// `PromQL info: ...`.
    Info,
}

/// A warning or info produced while evaluating.
#[derive(Clone, Debug, PartialEq)]
pub struct Annotation {
    /// Severity.
    pub level: Level,
    /// Message without prefix and position.
    pub msg: String,
    /// Node that caused it (None: no position, e.g. "results truncated").
    pub span: Option<Span>,
}

impl Annotation {
    /// Rendered as the HTTP API does: `PromQL warning: <msg> (<line>:<col>)`.
    pub fn render(&self, query: &str) -> String {
        let prefix = match self.level {
            Level::Warning => "PromQL warning",
            Level::Info => "PromQL info",
        };
        match self.span {
            Some(s) => {
                let (l, c) = crate::parser::line_col(query, s.start);
                format!("{prefix}: {} ({l}:{c})", self.msg)
            }
            None => self.msg.clone(),
        }
    }
}

/// A set of annotations: one per message text; a repeated message keeps the last position.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Annotations {
    /// In insertion order of first occurrence.
    pub items: Vec<Annotation>,
}

impl Annotations {
    /// Adds an annotation.
    pub fn add(&mut self, level: Level, msg: String, span: Span) {
        match self.items.iter_mut().find(|a| a.msg == msg && a.level == level) {
            Some(a) => a.span = Some(span),
            None => self.items.push(Annotation { level, msg, span: Some(span) }),
        }
    }

    /// Adds a warning.
    pub fn warn(&mut self, msg: String, span: Span) {
        self.add(Level::Warning, msg, span);
    }

    /// Adds an info.
    pub fn info(&mut self, msg: String, span: Span) {
        self.add(Level::Info, msg, span);
    }

    /// Adds a warning without position.
    pub fn plain_warning(&mut self, msg: String) {
        if !self.items.iter().any(|a| a.msg == msg) {
            self.items.push(Annotation { level: Level::Warning, msg, span: None });
        }
    }

    /// Merges another set into this one.
    pub fn merge(&mut self, other: Annotations) {
        for a in other.items {
            match a.span {
                Some(s) => self.add(a.level, a.msg, s),
                None => self.plain_warning(a.msg),
            }
        }
    }

    /// Rendered warnings.
    pub fn warnings(&self, query: &str) -> Vec<String> {
        self.items.iter().filter(|a| a.level == Level::Warning).map(|a| a.render(query)).collect()
    }

    /// Rendered infos.
    pub fn infos(&self, query: &str) -> Vec<String> {
        self.items.iter().filter(|a| a.level == Level::Info).map(|a| a.render(query)).collect()
    }
}

/// Why a query failed; the kinds map to Prometheus' API error types.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// Invalid query or parameters (`bad_data`, 400).
    #[error("{0}")]
    BadData(String),
    /// Evaluation failed (`execution`, 422).
    #[error("{0}")]
    Execution(String),
    /// The query ran out of time (`timeout`, 503).
    #[error("{0}")]
    Timeout(String),
    /// The client went away (`canceled`, 499).
    #[error("{0}")]
    Canceled(String),
    /// Storage failed (`internal`, 500).
    #[error("{0}")]
    Storage(String),
}

impl QueryError {
    /// Prometheus' `errorType`.
    pub fn error_type(&self) -> &'static str {
        match self {
            QueryError::BadData(_) => "bad_data",
            QueryError::Execution(_) => "execution",
            QueryError::Timeout(_) => "timeout",
            QueryError::Canceled(_) => "canceled",
            QueryError::Storage(_) => "internal",
        }
    }
}

/// Shorthand for evaluation errors.
pub(crate) fn exec_err<T>(msg: impl Into<String>) -> Result<T, QueryError> {
    Err(QueryError::Execution(msg.into()))
}
