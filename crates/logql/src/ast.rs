//! The LogQL syntax tree. Parentheses leave no node behind: the printer puts them back where
//! precedence needs them.

use seer_model::Matcher;

/// A whole query.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A log query: selector plus pipeline.
    Log(LogExpr),
    /// A metric query.
    Metric(MetricExpr),
}

/// A stream selector with its pipeline.
#[derive(Clone, Debug, PartialEq)]
pub struct LogExpr {
    /// The stream matchers inside `{...}`.
    pub matchers: Vec<Matcher>,
    /// The stages, left to right.
    pub pipeline: Vec<Stage>,
}

/// One pipeline stage.
#[derive(Clone, Debug, PartialEq)]
pub enum Stage {
    /// `|= "a" or "b"`, `!~ "re"`, `|= ip("10.0.0.0/8")`, ...
    LineFilter(LineFilter),
    /// `| json` (no params: everything) or `| json a="x.y[0]", b`.
    Json(Vec<ExtractParam>),
    /// `| logfmt [--strict] [--keep-empty] [params]`.
    Logfmt {
        /// `--strict`: stop at the first malformed pair with an error.
        strict: bool,
        /// `--keep-empty`: keep standalone keys and empty values.
        keep_empty: bool,
        /// Requested keys; empty means all.
        params: Vec<ExtractParam>,
    },
    /// `| regexp "re"` (named groups become labels).
    Regexp(String),
    /// `| pattern "<a> <_> <b>"`.
    Pattern(String),
    /// `| unpack`.
    Unpack,
    /// `| a="b" and c > 5`.
    LabelFilter(LabelFilterExpr),
    /// `| line_format "tmpl"`.
    LineFormat(String),
    /// `| label_format a="tmpl", b=c`.
    LabelFormat(Vec<LabelFmt>),
    /// `| drop a, b="v"`.
    Drop(Vec<DropKeepItem>),
    /// `| keep a, b="v"`.
    Keep(Vec<DropKeepItem>),
    /// `| decolorize`.
    Decolorize,
}

/// The operator of a line filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineFilterOp {
    /// `|=`
    Contains,
    /// `!=`
    NotContains,
    /// `|~`
    Regex,
    /// `!~`
    NotRegex,
    /// `|>`
    Pattern,
    /// `!>`
    NotPattern,
}

impl LineFilterOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            LineFilterOp::Contains => "|=",
            LineFilterOp::NotContains => "!=",
            LineFilterOp::Regex => "|~",
            LineFilterOp::NotRegex => "!~",
            LineFilterOp::Pattern => "|>",
            LineFilterOp::NotPattern => "!>",
        }
    }

    /// True for the negative operators (`!=`, `!~`, `!>`).
    pub fn is_negative(self) -> bool {
        matches!(self, LineFilterOp::NotContains | LineFilterOp::NotRegex | LineFilterOp::NotPattern)
    }
}

/// One operand of a line filter.
#[derive(Clone, Debug, PartialEq)]
pub enum FilterValue {
    /// A string (substring, regex or pattern, depending on the operator).
    Str(String),
    /// `ip("...")`: an address, a CIDR or a range `a-b`.
    Ip(String),
}

/// A line filter with its `or` alternatives. With a positive operator the line must match
/// any value; with a negative one it must match none.
#[derive(Clone, Debug, PartialEq)]
pub struct LineFilter {
    /// The operator.
    pub op: LineFilterOp,
    /// At least one value.
    pub values: Vec<FilterValue>,
}

/// A `json` / `logfmt` parameter: label `name` from `expr` (a JSON path or a logfmt key).
#[derive(Clone, Debug, PartialEq)]
pub struct ExtractParam {
    /// The label to set.
    pub name: String,
    /// The path or key; for the bare form `a` it equals `name`.
    pub expr: String,
}

/// A label filter tree. `and` binds tighter than `or`.
#[derive(Clone, Debug, PartialEq)]
pub enum LabelFilterExpr {
    /// Both sides must pass (`and`, `,` or a space).
    And(Box<LabelFilterExpr>, Box<LabelFilterExpr>),
    /// Either side passes.
    Or(Box<LabelFilterExpr>, Box<LabelFilterExpr>),
    /// A leaf.
    Pred(LabelPredicate),
}

/// Numeric comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `==` (or `=`)
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
}

impl CmpOp {
    /// The operator as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
        }
    }

    /// Applies the comparison.
    pub fn cmp<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
        }
    }
}

/// A label filter leaf.
#[derive(Clone, Debug, PartialEq)]
pub enum LabelPredicate {
    /// `name = "v"`, `!=`, `=~`, `!~`: a missing label compares as `""`.
    String(Matcher),
    /// `name > 5`: the value is parsed as a float.
    Number {
        /// Label name.
        name: String,
        /// Operator.
        op: CmpOp,
        /// Right-hand side.
        value: f64,
    },
    /// `name > 10s`: the value is parsed as a Go duration.
    Duration {
        /// Label name.
        name: String,
        /// Operator.
        op: CmpOp,
        /// Right-hand side in nanoseconds.
        nanos: i64,
    },
    /// `name > 20MB`: the value is parsed as a humanized byte size.
    Bytes {
        /// Label name.
        name: String,
        /// Operator.
        op: CmpOp,
        /// Right-hand side in bytes.
        bytes: u64,
    },
    /// `name = ip("...")` / `name != ip("...")`.
    Ip {
        /// Label name.
        name: String,
        /// `!=`.
        negated: bool,
        /// Address, CIDR or range.
        pattern: String,
    },
}

/// One `label_format` item.
#[derive(Clone, Debug, PartialEq)]
pub enum LabelFmt {
    /// `dst=src`: move `src` to `dst`.
    Rename {
        /// New name.
        dst: String,
        /// Old name.
        src: String,
    },
    /// `dst="{{...}}"`: set `dst` from a template.
    Template {
        /// Target name.
        dst: String,
        /// Template text.
        tmpl: String,
    },
}

impl LabelFmt {
    /// The target label.
    pub fn dst(&self) -> &str {
        match self {
            LabelFmt::Rename { dst, .. } | LabelFmt::Template { dst, .. } => dst,
        }
    }
}

/// A `drop` / `keep` item: a bare name, or a matcher that must match the value.
#[derive(Clone, Debug, PartialEq)]
pub enum DropKeepItem {
    /// `name`
    Name(String),
    /// `name="v"`, `name=~"re"`, ...
    Matcher(Matcher),
}

/// How `unwrap` converts the label value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnwrapConv {
    /// Plain float parsing.
    Float,
    /// `duration(x)`: Go duration, in seconds.
    Duration,
    /// `duration_seconds(x)`: same as `duration`.
    DurationSeconds,
    /// `bytes(x)`: humanized bytes.
    Bytes,
}

/// `| unwrap x` plus the label filters that follow it.
#[derive(Clone, Debug, PartialEq)]
pub struct Unwrap {
    /// The label holding the value.
    pub label: String,
    /// The conversion.
    pub conv: UnwrapConv,
    /// Label filters after `unwrap` (they see conversion errors).
    pub post_filters: Vec<LabelFilterExpr>,
}

/// Range aggregation operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeOp {
    /// `rate`
    Rate,
    /// `rate_counter`
    RateCounter,
    /// `count_over_time`
    CountOverTime,
    /// `bytes_rate`
    BytesRate,
    /// `bytes_over_time`
    BytesOverTime,
    /// `absent_over_time`
    AbsentOverTime,
    /// `sum_over_time`
    SumOverTime,
    /// `avg_over_time`
    AvgOverTime,
    /// `min_over_time`
    MinOverTime,
    /// `max_over_time`
    MaxOverTime,
    /// `stddev_over_time`
    StddevOverTime,
    /// `stdvar_over_time`
    StdvarOverTime,
    /// `quantile_over_time`
    QuantileOverTime,
    /// `first_over_time`
    FirstOverTime,
    /// `last_over_time`
    LastOverTime,
}

impl RangeOp {
    /// Every operator, for lookups.
    pub const ALL: [RangeOp; 15] = [
        RangeOp::Rate,
        RangeOp::RateCounter,
        RangeOp::CountOverTime,
        RangeOp::BytesRate,
        RangeOp::BytesOverTime,
        RangeOp::AbsentOverTime,
        RangeOp::SumOverTime,
        RangeOp::AvgOverTime,
        RangeOp::MinOverTime,
        RangeOp::MaxOverTime,
        RangeOp::StddevOverTime,
        RangeOp::StdvarOverTime,
        RangeOp::QuantileOverTime,
        RangeOp::FirstOverTime,
        RangeOp::LastOverTime,
    ];

    /// The function name.
    pub fn as_str(self) -> &'static str {
        match self {
            RangeOp::Rate => "rate",
            RangeOp::RateCounter => "rate_counter",
            RangeOp::CountOverTime => "count_over_time",
            RangeOp::BytesRate => "bytes_rate",
            RangeOp::BytesOverTime => "bytes_over_time",
            RangeOp::AbsentOverTime => "absent_over_time",
            RangeOp::SumOverTime => "sum_over_time",
            RangeOp::AvgOverTime => "avg_over_time",
            RangeOp::MinOverTime => "min_over_time",
            RangeOp::MaxOverTime => "max_over_time",
            RangeOp::StddevOverTime => "stddev_over_time",
            RangeOp::StdvarOverTime => "stdvar_over_time",
            RangeOp::QuantileOverTime => "quantile_over_time",
            RangeOp::FirstOverTime => "first_over_time",
            RangeOp::LastOverTime => "last_over_time",
        }
    }

    /// Looks a name up, case-insensitively.
    pub fn from_name(name: &str) -> Option<RangeOp> {
        RangeOp::ALL.iter().copied().find(|op| op.as_str().eq_ignore_ascii_case(name))
    }
}

/// Vector aggregation operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VectorOp {
    /// `sum`
    Sum,
    /// `avg`
    Avg,
    /// `min`
    Min,
    /// `max`
    Max,
    /// `stddev`
    Stddev,
    /// `stdvar`
    Stdvar,
    /// `count`
    Count,
    /// `topk`
    Topk,
    /// `bottomk`
    Bottomk,
    /// `sort`
    Sort,
    /// `sort_desc`
    SortDesc,
}

impl VectorOp {
    /// Every operator, for lookups.
    pub const ALL: [VectorOp; 11] = [
        VectorOp::Sum,
        VectorOp::Avg,
        VectorOp::Min,
        VectorOp::Max,
        VectorOp::Stddev,
        VectorOp::Stdvar,
        VectorOp::Count,
        VectorOp::Topk,
        VectorOp::Bottomk,
        VectorOp::Sort,
        VectorOp::SortDesc,
    ];

    /// The function name.
    pub fn as_str(self) -> &'static str {
        match self {
            VectorOp::Sum => "sum",
            VectorOp::Avg => "avg",
            VectorOp::Min => "min",
            VectorOp::Max => "max",
            VectorOp::Stddev => "stddev",
            VectorOp::Stdvar => "stdvar",
            VectorOp::Count => "count",
            VectorOp::Topk => "topk",
            VectorOp::Bottomk => "bottomk",
            VectorOp::Sort => "sort",
            VectorOp::SortDesc => "sort_desc",
        }
    }

    /// Looks a name up, case-insensitively.
    pub fn from_name(name: &str) -> Option<VectorOp> {
        VectorOp::ALL.iter().copied().find(|op| op.as_str().eq_ignore_ascii_case(name))
    }
}

/// `by (...)` or `without (...)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Grouping {
    /// `without` instead of `by`.
    pub without: bool,
    /// The labels (may be empty).
    pub labels: Vec<String>,
}

/// `op(inner[range] offset o)` with optional unwrap, parameter and grouping.
#[derive(Clone, Debug, PartialEq)]
pub struct RangeAgg {
    /// The function.
    pub op: RangeOp,
    /// Selector and pipeline (before `unwrap`).
    pub inner: LogExpr,
    /// The range in milliseconds.
    pub range_ms: i64,
    /// The offset in milliseconds (0 when absent).
    pub offset_ms: i64,
    /// `| unwrap ...`.
    pub unwrap: Option<Unwrap>,
    /// `quantile_over_time`'s φ.
    pub param: Option<f64>,
    /// `by`/`without` after the call.
    pub grouping: Option<Grouping>,
}

/// `op [grouping] ([param,] inner)`.
#[derive(Clone, Debug, PartialEq)]
pub struct VectorAgg {
    /// The operator.
    pub op: VectorOp,
    /// `by` / `without`.
    pub grouping: Option<Grouping>,
    /// `topk`/`bottomk`'s k.
    pub param: Option<i64>,
    /// The aggregated expression.
    pub inner: Box<MetricExpr>,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOpKind {
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
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `and`
    And,
    /// `or`
    Or,
    /// `unless`
    Unless,
}

impl BinOpKind {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinOpKind::Add => "+",
            BinOpKind::Sub => "-",
            BinOpKind::Mul => "*",
            BinOpKind::Div => "/",
            BinOpKind::Mod => "%",
            BinOpKind::Pow => "^",
            BinOpKind::Eq => "==",
            BinOpKind::Ne => "!=",
            BinOpKind::Gt => ">",
            BinOpKind::Ge => ">=",
            BinOpKind::Lt => "<",
            BinOpKind::Le => "<=",
            BinOpKind::And => "and",
            BinOpKind::Or => "or",
            BinOpKind::Unless => "unless",
        }
    }

    /// Precedence, higher binds tighter.
    pub fn precedence(self) -> u8 {
        match self {
            BinOpKind::Or => 1,
            BinOpKind::And | BinOpKind::Unless => 2,
            BinOpKind::Eq | BinOpKind::Ne | BinOpKind::Gt | BinOpKind::Ge | BinOpKind::Lt | BinOpKind::Le => 3,
            BinOpKind::Add | BinOpKind::Sub => 4,
            BinOpKind::Mul | BinOpKind::Div | BinOpKind::Mod => 5,
            BinOpKind::Pow => 6,
        }
    }

    /// True for `==`, `!=`, `>`, `>=`, `<`, `<=`.
    pub fn is_comparison(self) -> bool {
        self.precedence() == 3
    }

    /// True for `and`, `or`, `unless`.
    pub fn is_set(self) -> bool {
        matches!(self, BinOpKind::And | BinOpKind::Or | BinOpKind::Unless)
    }

    /// Applies the operator to two scalars, Loki style: division and modulo by zero give NaN,
    /// comparisons give 0 or 1. Set operators return `None`.
    pub fn apply_scalar(self, a: f64, b: f64) -> Option<f64> {
        let bool_f = |x: bool| if x { 1.0 } else { 0.0 };
        Some(match self {
            BinOpKind::Add => a + b,
            BinOpKind::Sub => a - b,
            BinOpKind::Mul => a * b,
            BinOpKind::Div => {
                if b == 0.0 {
                    f64::NAN
                } else {
                    a / b
                }
            }
            BinOpKind::Mod => {
                if b == 0.0 {
                    f64::NAN
                } else {
                    a % b
                }
            }
            BinOpKind::Pow => a.powf(b),
            BinOpKind::Eq => bool_f(a == b),
            BinOpKind::Ne => bool_f(a != b),
            BinOpKind::Gt => bool_f(a > b),
            BinOpKind::Ge => bool_f(a >= b),
            BinOpKind::Lt => bool_f(a < b),
            BinOpKind::Le => bool_f(a <= b),
            BinOpKind::And | BinOpKind::Or | BinOpKind::Unless => return None,
        })
    }
}

/// `on(...)` / `ignoring(...)` with an optional `group_left/right(...)`.
#[derive(Clone, Debug, PartialEq)]
pub struct VectorMatching {
    /// `on` (true) or `ignoring` (false).
    pub on: bool,
    /// The matching labels.
    pub labels: Vec<String>,
    /// `group_left` / `group_right`.
    pub group: Option<GroupModifier>,
}

/// `group_left(...)` / `group_right(...)`.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupModifier {
    /// `group_left` (true) or `group_right` (false).
    pub left: bool,
    /// Labels to copy from the "one" side.
    pub include: Vec<String>,
}

/// A binary operation between metric expressions.
#[derive(Clone, Debug, PartialEq)]
pub struct BinOp {
    /// The operator.
    pub op: BinOpKind,
    /// `bool` modifier on comparisons.
    pub return_bool: bool,
    /// Vector matching.
    pub matching: Option<VectorMatching>,
    /// Left side.
    pub lhs: Box<MetricExpr>,
    /// Right side.
    pub rhs: Box<MetricExpr>,
}

/// `label_replace(inner, "dst", "replacement", "src", "regex")`.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelReplace {
    /// The input.
    pub inner: Box<MetricExpr>,
    /// Destination label.
    pub dst: String,
    /// Replacement with `$1` references.
    pub replacement: String,
    /// Source label.
    pub src: String,
    /// Regex (anchored when evaluated).
    pub regex: String,
}

/// A metric expression.
#[derive(Clone, Debug, PartialEq)]
pub enum MetricExpr {
    /// A range aggregation over a log selector.
    RangeAgg(RangeAgg),
    /// A vector aggregation.
    VectorAgg(VectorAgg),
    /// A binary operation.
    BinOp(BinOp),
    /// A number literal.
    Literal(f64),
    /// `vector(x)`.
    Vector(f64),
    /// `label_replace(...)`.
    LabelReplace(LabelReplace),
}

impl Expr {
    /// Every log expression in the query (one per range aggregation, or the query itself).
    pub fn log_exprs(&self) -> Vec<&LogExpr> {
        let mut out = Vec::new();
        match self {
            Expr::Log(l) => out.push(l),
            Expr::Metric(m) => m.collect_log_exprs(&mut out),
        }
        out
    }
}

impl MetricExpr {
    fn collect_log_exprs<'a>(&'a self, out: &mut Vec<&'a LogExpr>) {
        match self {
            MetricExpr::RangeAgg(r) => out.push(&r.inner),
            MetricExpr::VectorAgg(v) => v.inner.collect_log_exprs(out),
            MetricExpr::BinOp(b) => {
                b.lhs.collect_log_exprs(out);
                b.rhs.collect_log_exprs(out);
            }
            MetricExpr::LabelReplace(l) => l.inner.collect_log_exprs(out),
            MetricExpr::Literal(_) | MetricExpr::Vector(_) => {}
        }
    }
}
