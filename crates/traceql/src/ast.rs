//! The TraceQL syntax tree. Parentheses are not kept: the printer puts them back where the
//! operator precedence needs them, so `parse(print(q)) == q` for every parsed query.

use seer_model::trace::{SpanKind, StatusCode};

/// A whole query: a spanset pipeline, optionally turned into a metrics query, plus hints.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub pipeline: Pipeline,
    /// `| rate() by (...)` and friends; `None` for a search query.
    pub metrics: Option<Metrics>,
    /// `with (most_recent=true, sample=0.1)`.
    pub hints: Vec<Hint>,
}

impl Query {
    /// The value of a hint, if given.
    pub fn hint(&self, name: &str) -> Option<&Static> {
        self.hints.iter().find(|h| h.name == name).map(|h| &h.value)
    }
}

/// `name = value` inside `with (...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Hint {
    pub name: String,
    pub value: Static,
}

/// Stages separated by `|`; never empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    pub stages: Vec<Stage>,
}

/// One element of a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// A spanset expression: filters combined with spanset operators.
    Spanset(SpansetExpr),
    /// `count() > 2`, `avg(duration) > 1s`.
    ScalarFilter(ScalarFilter),
    /// `by(expr)`.
    By(Expr),
    /// `select(field, ...)`; every element is an attribute or an intrinsic.
    Select(Vec<Expr>),
    /// `coalesce()`.
    Coalesce,
}

/// Spansets combined with `&&`, `||` and the structural operators.
#[derive(Debug, Clone, PartialEq)]
pub enum SpansetExpr {
    /// `{ expr }`; `{ }` is `Filter(None)` and matches every span.
    Filter(Option<Expr>),
    Binary {
        op: SpansetOp,
        lhs: Box<SpansetExpr>,
        rhs: Box<SpansetExpr>,
    },
    /// A parenthesised pipeline, e.g. `({ } | count() > 1)`.
    Pipeline(Pipeline),
}

/// Operators between spansets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpansetOp {
    And,
    Or,
    /// `>`
    Child,
    /// `<`
    Parent,
    /// `>>`
    Descendant,
    /// `<<`
    Ancestor,
    /// `~`
    Sibling,
    /// `!>`
    NotChild,
    /// `!<`
    NotParent,
    /// `!>>`
    NotDescendant,
    /// `!<<`
    NotAncestor,
    /// `!~`
    NotSibling,
    /// `&>`
    UnionChild,
    /// `&<`
    UnionParent,
    /// `&>>`
    UnionDescendant,
    /// `&<<`
    UnionAncestor,
    /// `&~`
    UnionSibling,
}

impl SpansetOp {
    pub fn as_str(self) -> &'static str {
        match self {
            SpansetOp::And => "&&",
            SpansetOp::Or => "||",
            SpansetOp::Child => ">",
            SpansetOp::Parent => "<",
            SpansetOp::Descendant => ">>",
            SpansetOp::Ancestor => "<<",
            SpansetOp::Sibling => "~",
            SpansetOp::NotChild => "!>",
            SpansetOp::NotParent => "!<",
            SpansetOp::NotDescendant => "!>>",
            SpansetOp::NotAncestor => "!<<",
            SpansetOp::NotSibling => "!~",
            SpansetOp::UnionChild => "&>",
            SpansetOp::UnionParent => "&<",
            SpansetOp::UnionDescendant => "&>>",
            SpansetOp::UnionAncestor => "&<<",
            SpansetOp::UnionSibling => "&~",
        }
    }

    /// The operator spelled by a token, if any.
    pub fn from_token(s: &str) -> Option<SpansetOp> {
        Some(match s {
            "&&" => SpansetOp::And,
            "||" => SpansetOp::Or,
            ">" => SpansetOp::Child,
            "<" => SpansetOp::Parent,
            ">>" => SpansetOp::Descendant,
            "<<" => SpansetOp::Ancestor,
            "~" => SpansetOp::Sibling,
            "!>" => SpansetOp::NotChild,
            "!<" => SpansetOp::NotParent,
            "!>>" => SpansetOp::NotDescendant,
            "!<<" => SpansetOp::NotAncestor,
            "!~" => SpansetOp::NotSibling,
            "&>" => SpansetOp::UnionChild,
            "&<" => SpansetOp::UnionParent,
            "&>>" => SpansetOp::UnionDescendant,
            "&<<" => SpansetOp::UnionAncestor,
            "&~" => SpansetOp::UnionSibling,
            _ => return None,
        })
    }

    /// `&&` and `||` bind looser than the structural operators.
    pub fn is_logical(self) -> bool {
        matches!(self, SpansetOp::And | SpansetOp::Or)
    }
}

/// `lhs op rhs` over aggregates of a spanset.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarFilter {
    /// One of `= != < <= > >=`.
    pub op: BinaryOp,
    pub lhs: ScalarExpr,
    pub rhs: ScalarExpr,
}

/// Arithmetic over aggregates and numeric literals.
#[derive(Debug, Clone, PartialEq)]
pub enum ScalarExpr {
    Static(Static),
    Aggregate(Aggregate),
    /// Unary minus.
    Neg(Box<ScalarExpr>),
    /// One of `+ - * / % ^`.
    Binary {
        op: BinaryOp,
        lhs: Box<ScalarExpr>,
        rhs: Box<ScalarExpr>,
    },
}

/// `count()`, `avg(x)`, `min(x)`, `max(x)`, `sum(x)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    pub op: AggregateOp,
    /// `None` only for `count()`.
    pub arg: Option<Box<Expr>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateOp {
    Count,
    Avg,
    Min,
    Max,
    Sum,
}

impl AggregateOp {
    pub fn as_str(self) -> &'static str {
        match self {
            AggregateOp::Count => "count",
            AggregateOp::Avg => "avg",
            AggregateOp::Min => "min",
            AggregateOp::Max => "max",
            AggregateOp::Sum => "sum",
        }
    }
}

/// A field expression: what goes inside `{ }`, `by()` and aggregates.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Static(Static),
    Attribute(Attribute),
    Intrinsic(Intrinsic),
    Unary { op: UnaryOp, expr: Box<Expr> },
    Binary { op: BinaryOp, lhs: Box<Expr>, rhs: Box<Expr> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-`
    Neg,
    /// `!`
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
    /// `=~` (fully anchored)
    Regex,
    /// `!~`
    NotRegex,
    And,
    Or,
}

impl BinaryOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Pow => "^",
            BinaryOp::Eq => "=",
            BinaryOp::Neq => "!=",
            BinaryOp::Gt => ">",
            BinaryOp::Gte => ">=",
            BinaryOp::Lt => "<",
            BinaryOp::Lte => "<=",
            BinaryOp::Regex => "=~",
            BinaryOp::NotRegex => "!~",
            BinaryOp::And => "&&",
            BinaryOp::Or => "||",
        }
    }

    pub fn is_arithmetic(self) -> bool {
        matches!(self, BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod | BinaryOp::Pow)
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq
                | BinaryOp::Neq
                | BinaryOp::Gt
                | BinaryOp::Gte
                | BinaryOp::Lt
                | BinaryOp::Lte
                | BinaryOp::Regex
                | BinaryOp::NotRegex
        )
    }

    pub fn is_logical(self) -> bool {
        matches!(self, BinaryOp::And | BinaryOp::Or)
    }

    /// Binding strength: `&& ||` < comparisons < `+ -` < `* / %` < `^` (Tempo's table).
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::And | BinaryOp::Or => 1,
            BinaryOp::Add | BinaryOp::Sub => 3,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => 4,
            BinaryOp::Pow => 6,
            _ => 2,
        }
    }

    /// The operator with its operands swapped (`a < b` is `b > a`).
    pub fn flipped(self) -> BinaryOp {
        match self {
            BinaryOp::Gt => BinaryOp::Lt,
            BinaryOp::Gte => BinaryOp::Lte,
            BinaryOp::Lt => BinaryOp::Gt,
            BinaryOp::Lte => BinaryOp::Gte,
            other => other,
        }
    }
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Static {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// Nanoseconds.
    Duration(i64),
    Status(StatusCode),
    Kind(SpanKind),
}

/// Where an attribute is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrScope {
    /// `.a`: the span's attributes, then its resource's.
    Unscoped,
    Span,
    Resource,
    Event,
    Link,
    Instrumentation,
}

impl AttrScope {
    /// The prefix before the attribute name (`"."`, `"span."`, ...).
    pub fn prefix(self) -> &'static str {
        match self {
            AttrScope::Unscoped => ".",
            AttrScope::Span => "span.",
            AttrScope::Resource => "resource.",
            AttrScope::Event => "event.",
            AttrScope::Link => "link.",
            AttrScope::Instrumentation => "instrumentation.",
        }
    }
}

/// A custom attribute reference such as `span.http.method` or `parent.resource.a`.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub scope: AttrScope,
    /// `parent.`: look the attribute up on the parent span.
    pub parent: bool,
    pub name: String,
}

impl Attribute {
    pub fn new(scope: AttrScope, name: impl Into<String>) -> Attribute {
        Attribute { scope, parent: false, name: name.into() }
    }
}

/// Fields every span (or trace, event, link) has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Intrinsic {
    Name,
    Status,
    StatusMessage,
    Kind,
    Duration,
    ChildCount,
    SpanId,
    ParentId,
    TraceId,
    RootName,
    RootServiceName,
    TraceDuration,
    NestedSetLeft,
    NestedSetRight,
    NestedSetParent,
    EventName,
    EventTimeSinceStart,
    LinkTraceId,
    LinkSpanId,
    InstrumentationName,
    InstrumentationVersion,
}

impl Intrinsic {
    /// The canonical spelling the printer uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Intrinsic::Name => "name",
            Intrinsic::Status => "status",
            Intrinsic::StatusMessage => "statusMessage",
            Intrinsic::Kind => "kind",
            Intrinsic::Duration => "duration",
            Intrinsic::ChildCount => "childCount",
            Intrinsic::SpanId => "span:id",
            Intrinsic::ParentId => "span:parentID",
            Intrinsic::TraceId => "trace:id",
            Intrinsic::RootName => "rootName",
            Intrinsic::RootServiceName => "rootServiceName",
            Intrinsic::TraceDuration => "traceDuration",
            Intrinsic::NestedSetLeft => "nestedSetLeft",
            Intrinsic::NestedSetRight => "nestedSetRight",
            Intrinsic::NestedSetParent => "nestedSetParent",
            Intrinsic::EventName => "event:name",
            Intrinsic::EventTimeSinceStart => "event:timeSinceStart",
            Intrinsic::LinkTraceId => "link:traceID",
            Intrinsic::LinkSpanId => "link:spanID",
            Intrinsic::InstrumentationName => "instrumentation:name",
            Intrinsic::InstrumentationVersion => "instrumentation:version",
        }
    }

    /// An unscoped intrinsic keyword (`name`, `duration`, ...).
    pub fn from_keyword(s: &str) -> Option<Intrinsic> {
        Some(match s {
            "name" => Intrinsic::Name,
            "status" => Intrinsic::Status,
            "statusMessage" => Intrinsic::StatusMessage,
            "kind" => Intrinsic::Kind,
            "duration" => Intrinsic::Duration,
            "childCount" => Intrinsic::ChildCount,
            "rootName" => Intrinsic::RootName,
            "rootServiceName" => Intrinsic::RootServiceName,
            "traceDuration" => Intrinsic::TraceDuration,
            "nestedSetLeft" => Intrinsic::NestedSetLeft,
            "nestedSetRight" => Intrinsic::NestedSetRight,
            "nestedSetParent" => Intrinsic::NestedSetParent,
            _ => return None,
        })
    }

    /// A scoped intrinsic (`trace:duration`, `span:id`, ...); `None` for a name that does
    /// not exist in that scope (`trace:status`, `span:rootName`).
    pub fn from_scoped(scope: &str, name: &str) -> Option<Intrinsic> {
        Some(match (scope, name) {
            ("trace", "duration") => Intrinsic::TraceDuration,
            ("trace", "rootName") => Intrinsic::RootName,
            ("trace", "rootService") => Intrinsic::RootServiceName,
            ("trace", "id") => Intrinsic::TraceId,
            ("span", "duration") => Intrinsic::Duration,
            ("span", "name") => Intrinsic::Name,
            ("span", "status") => Intrinsic::Status,
            ("span", "statusMessage") => Intrinsic::StatusMessage,
            ("span", "kind") => Intrinsic::Kind,
            ("span", "id") => Intrinsic::SpanId,
            ("span", "parentID") => Intrinsic::ParentId,
            ("span", "childCount") => Intrinsic::ChildCount,
            ("event", "name") => Intrinsic::EventName,
            ("event", "timeSinceStart") => Intrinsic::EventTimeSinceStart,
            ("link", "traceID") => Intrinsic::LinkTraceId,
            ("link", "spanID") => Intrinsic::LinkSpanId,
            ("instrumentation", "name") => Intrinsic::InstrumentationName,
            ("instrumentation", "version") => Intrinsic::InstrumentationVersion,
            _ => return None,
        })
    }

    /// True for fields of events (evaluated once per event of the span).
    pub fn is_event(self) -> bool {
        matches!(self, Intrinsic::EventName | Intrinsic::EventTimeSinceStart)
    }

    /// True for fields of links (evaluated once per link of the span).
    pub fn is_link(self) -> bool {
        matches!(self, Intrinsic::LinkTraceId | Intrinsic::LinkSpanId)
    }
}

/// The metrics part of a query: `| fn(...) by (...) [> value] [| topk(n)]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    pub func: MetricsFunc,
    /// `by (a, b)`: attributes and intrinsics.
    pub by: Vec<Expr>,
    /// `> 10` after the function: keeps only points meeting the threshold.
    pub filter: Option<(BinaryOp, Static)>,
    /// `| topk(n)` / `| bottomk(n)`.
    pub second_stage: Option<SecondStage>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MetricsFunc {
    Rate,
    CountOverTime,
    MinOverTime(Expr),
    MaxOverTime(Expr),
    AvgOverTime(Expr),
    SumOverTime(Expr),
    /// The field and the quantiles (`.99, .9, .5`).
    QuantileOverTime(Expr, Vec<f64>),
    HistogramOverTime(Expr),
    /// `compare({filter}, topN, start, end)`.
    Compare {
        filter: Option<Expr>,
        top_n: Option<i64>,
        start_end: Option<(i64, i64)>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondStage {
    TopK(i64),
    BottomK(i64),
}

/// The printed form of a field (`.a`, `span."a b"`, `duration`) as used in attribute keys.
pub fn field_name(e: &Expr) -> String {
    match e {
        Expr::Attribute(a) => a.name.clone(),
        Expr::Intrinsic(i) => i.as_str().to_string(),
        other => other.to_string(),
    }
}
