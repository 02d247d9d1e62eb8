//! The PromQL syntax tree. Every node keeps the byte span it was parsed from, for error and
//! annotation positions (`line:col`).

use seer_model::Matcher;

/// A byte range in the query text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Span {
    /// Start byte.
    pub start: usize,
    /// End byte (exclusive).
    pub end: usize,
}

impl Span {
    /// Joins two spans.
    pub fn to(self, other: Span) -> Span {
        Span { start: self.start.min(other.start), end: self.end.max(other.end) }
    }
}

/// The type of value an expression yields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    /// A float.
    Scalar,
    /// An instant vector.
    Vector,
    /// A range vector.
    Matrix,
    /// A string.
    String,
}

impl ValueType {
    /// The name Prometheus uses in messages.
    pub fn name(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::Vector => "instant vector",
            ValueType::Matrix => "range vector",
            ValueType::String => "string",
        }
    }

    /// The name used in API `resultType`.
    pub fn result_type(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::Vector => "vector",
            ValueType::Matrix => "matrix",
            ValueType::String => "string",
        }
    }
}

/// A duration given as an expression (`5m`, `5m+1m`, `step()*2`, `min_of(range(), 1h)`).
/// Numbers are seconds.
#[derive(Clone, Debug, PartialEq)]
pub enum DurationExpr {
    /// A number of seconds (a duration literal is converted).
    Number(f64),
    /// `step()`: the query step in seconds (0 for instant queries).
    Step,
    /// `range()`: end - start in seconds (0 for instant queries).
    Range,
    /// `min_of(a, b)`.
    MinOf(Box<DurationExpr>, Box<DurationExpr>),
    /// `max_of(a, b)`.
    MaxOf(Box<DurationExpr>, Box<DurationExpr>),
    /// Unary minus.
    Neg(Box<DurationExpr>),
    /// Arithmetic.
    Binary(BinOp, Box<DurationExpr>, Box<DurationExpr>),
}

/// A duration expression with its span and, for printing, whether it was a plain literal.
#[derive(Clone, Debug, PartialEq)]
pub struct Duration {
    /// The expression.
    pub expr: DurationExpr,
    /// Where it was written.
    pub span: Span,
    /// The literal text when it was a single duration literal (printed back as written).
    pub literal_ms: Option<i64>,
}

impl Duration {
    /// A constant duration in milliseconds.
    pub fn from_ms(ms: i64, span: Span) -> Duration {
        Duration { expr: DurationExpr::Number(ms as f64 / 1000.0), span, literal_ms: Some(ms) }
    }
}

/// The `@` modifier.
#[derive(Clone, Debug, PartialEq)]
pub enum At {
    /// `@ <seconds>`, stored in ms.
    Time(i64),
    /// `@ start()`.
    Start,
    /// `@ end()`.
    End,
}

/// `anchored` / `smoothed` range selector modifiers (experimental).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extension {
    /// No modifier.
    None,
    /// `anchored`.
    Anchored,
    /// `smoothed`.
    Smoothed,
}

/// An instant vector selector.
#[derive(Clone, Debug, PartialEq)]
pub struct VectorSelector {
    /// The metric name, if given before the braces (also present as a matcher).
    pub name: Option<String>,
    /// All matchers, the name matcher included.
    pub matchers: Vec<Matcher>,
    /// `offset`.
    pub offset: Option<Duration>,
    /// `@`.
    pub at: Option<At>,
    /// `anchored`/`smoothed`.
    pub ext: Extension,
    /// Where it was written.
    pub span: Span,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
    /// `atan2`
    Atan2,
    /// `==`
    Eql,
    /// `!=`
    Neq,
    /// `>`
    Gtr,
    /// `<`
    Lss,
    /// `>=`
    Gte,
    /// `<=`
    Lte,
    /// `and`
    And,
    /// `or`
    Or,
    /// `unless`
    Unless,
    /// `</`
    TrimUpper,
    /// `>/`
    TrimLower,
}

impl BinOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Pow => "^",
            BinOp::Atan2 => "atan2",
            BinOp::Eql => "==",
            BinOp::Neq => "!=",
            BinOp::Gtr => ">",
            BinOp::Lss => "<",
            BinOp::Gte => ">=",
            BinOp::Lte => "<=",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::Unless => "unless",
            BinOp::TrimUpper => "</",
            BinOp::TrimLower => ">/",
        }
    }

    /// Comparison operators.
    pub fn is_comparison(self) -> bool {
        matches!(self, BinOp::Eql | BinOp::Neq | BinOp::Gtr | BinOp::Lss | BinOp::Gte | BinOp::Lte)
    }

    /// Set operators.
    pub fn is_set(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or | BinOp::Unless)
    }

    /// Binding power: higher binds tighter.
    pub fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And | BinOp::Unless => 2,
            BinOp::Eql
            | BinOp::Neq
            | BinOp::Gtr
            | BinOp::Lss
            | BinOp::Gte
            | BinOp::Lte
            | BinOp::TrimUpper
            | BinOp::TrimLower => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul | BinOp::Div | BinOp::Mod | BinOp::Atan2 => 5,
            BinOp::Pow => 6,
        }
    }
}

/// Vector matching cardinality.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Card {
    /// One-to-one.
    OneToOne,
    /// `group_left`.
    ManyToOne,
    /// `group_right`.
    OneToMany,
    /// Set operators.
    ManyToMany,
}

/// `on`/`ignoring`/`group_*`/`fill*` of a binary expression.
#[derive(Clone, Debug, PartialEq)]
pub struct VectorMatching {
    /// Cardinality.
    pub card: Card,
    /// `on(...)` (true) or `ignoring(...)` (false).
    pub on: bool,
    /// The listed labels.
    pub labels: Vec<String>,
    /// Whether `on`/`ignoring` was written at all.
    pub explicit: bool,
    /// `group_left(...)`/`group_right(...)` labels.
    pub include: Vec<String>,
    /// `fill_left` value (from `fill` or `fill_left`).
    pub fill_left: Option<f64>,
    /// `fill_right` value.
    pub fill_right: Option<f64>,
}

/// Aggregation operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggOp {
    /// sum
    Sum,
    /// avg
    Avg,
    /// count
    Count,
    /// min
    Min,
    /// max
    Max,
    /// group
    Group,
    /// stddev
    Stddev,
    /// stdvar
    Stdvar,
    /// topk
    Topk,
    /// bottomk
    Bottomk,
    /// quantile
    Quantile,
    /// count_values
    CountValues,
    /// limitk
    Limitk,
    /// limit_ratio
    LimitRatio,
}

impl AggOp {
    /// Parses an aggregation keyword.
    pub fn from_name(s: &str) -> Option<AggOp> {
        Some(match s {
            "sum" => AggOp::Sum,
            "avg" => AggOp::Avg,
            "count" => AggOp::Count,
            "min" => AggOp::Min,
            "max" => AggOp::Max,
            "group" => AggOp::Group,
            "stddev" => AggOp::Stddev,
            "stdvar" => AggOp::Stdvar,
            "topk" => AggOp::Topk,
            "bottomk" => AggOp::Bottomk,
            "quantile" => AggOp::Quantile,
            "count_values" => AggOp::CountValues,
            "limitk" => AggOp::Limitk,
            "limit_ratio" => AggOp::LimitRatio,
            _ => return None,
        })
    }

    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            AggOp::Sum => "sum",
            AggOp::Avg => "avg",
            AggOp::Count => "count",
            AggOp::Min => "min",
            AggOp::Max => "max",
            AggOp::Group => "group",
            AggOp::Stddev => "stddev",
            AggOp::Stdvar => "stdvar",
            AggOp::Topk => "topk",
            AggOp::Bottomk => "bottomk",
            AggOp::Quantile => "quantile",
            AggOp::CountValues => "count_values",
            AggOp::Limitk => "limitk",
            AggOp::LimitRatio => "limit_ratio",
        }
    }

    /// Whether it takes a parameter before the expression.
    pub fn has_param(self) -> bool {
        matches!(
            self,
            AggOp::Topk | AggOp::Bottomk | AggOp::Quantile | AggOp::CountValues | AggOp::Limitk | AggOp::LimitRatio
        )
    }
}

/// A PromQL expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A number.
    Number {
        /// Value.
        value: f64,
        /// Where.
        span: Span,
        /// Written as a duration literal (`5m`), in ms: printed back as a duration.
        duration_ms: Option<i64>,
    },
    /// A string (raw bytes: Go strings may hold invalid UTF-8).
    String {
        /// Value.
        value: Vec<u8>,
        /// Where.
        span: Span,
    },
    /// An instant vector selector.
    Selector(VectorSelector),
    /// `selector[range]`.
    Matrix {
        /// The selector (its offset/@ apply to the matrix).
        selector: VectorSelector,
        /// Range.
        range: Duration,
        /// Where.
        span: Span,
    },
    /// `expr[range:step]`.
    Subquery {
        /// The inner expression.
        expr: Box<Expr>,
        /// Range.
        range: Duration,
        /// Step, if written.
        step: Option<Duration>,
        /// `offset`.
        offset: Option<Duration>,
        /// `@`.
        at: Option<At>,
        /// Where.
        span: Span,
    },
    /// `( expr )`.
    Paren {
        /// Inner.
        expr: Box<Expr>,
        /// Where.
        span: Span,
    },
    /// `-expr` / `+expr`.
    Unary {
        /// True for `-`.
        neg: bool,
        /// Operand.
        expr: Box<Expr>,
        /// Where.
        span: Span,
    },
    /// A binary operation.
    Binary {
        /// Operator.
        op: BinOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
        /// `bool`.
        return_bool: bool,
        /// Matching, for operations between vectors.
        matching: Option<VectorMatching>,
        /// Where.
        span: Span,
    },
    /// An aggregation.
    Aggregate {
        /// Operator.
        op: AggOp,
        /// Aggregated expression.
        expr: Box<Expr>,
        /// Parameter (`topk(k, ...)`).
        param: Option<Box<Expr>>,
        /// Grouping labels.
        grouping: Vec<String>,
        /// `without` (true) or `by` (false).
        without: bool,
        /// Whether `by`/`without` was written.
        has_grouping: bool,
        /// Where.
        span: Span,
    },
    /// A function call.
    Call {
        /// The function.
        func: &'static super::functions::Function,
        /// Arguments.
        args: Vec<Expr>,
        /// Where.
        span: Span,
    },
}

impl Expr {
    /// The node's span.
    pub fn span(&self) -> Span {
        match self {
            Expr::Number { span, .. }
            | Expr::String { span, .. }
            | Expr::Matrix { span, .. }
            | Expr::Subquery { span, .. }
            | Expr::Paren { span, .. }
            | Expr::Unary { span, .. }
            | Expr::Binary { span, .. }
            | Expr::Aggregate { span, .. }
            | Expr::Call { span, .. } => *span,
            Expr::Selector(s) => s.span,
        }
    }

    /// The type of value the expression yields.
    pub fn value_type(&self) -> ValueType {
        match self {
            Expr::Number { .. } => ValueType::Scalar,
            Expr::String { .. } => ValueType::String,
            Expr::Selector(_) => ValueType::Vector,
            Expr::Matrix { .. } | Expr::Subquery { .. } => ValueType::Matrix,
            Expr::Paren { expr, .. } | Expr::Unary { expr, .. } => expr.value_type(),
            Expr::Binary { lhs, rhs, .. } => {
                if lhs.value_type() == ValueType::Scalar && rhs.value_type() == ValueType::Scalar {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            Expr::Aggregate { .. } => ValueType::Vector,
            Expr::Call { func, .. } => func.returns,
        }
    }

    /// Removes enclosing parentheses.
    pub fn unparen(&self) -> &Expr {
        match self {
            Expr::Paren { expr, .. } => expr.unparen(),
            e => e,
        }
    }
}
