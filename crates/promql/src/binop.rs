//! Binary operators: arithmetic, comparisons, set operators and vector matching.

use crate::eval::{Ctx, OutBuilder, PVal, StepReader, Steps, Value};
use crate::histogram as hist;
use crate::parser::ast::{BinOp, Card, Expr, Span, VectorMatching};
use crate::value::{QueryError, Series, exec_err};
use seer_model::{FloatHistogram, Labels, LabelsBuilder, METRIC_NAME};
use std::collections::HashMap;

/// Evaluates `lhs op rhs`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn eval_binary(
    ctx: &mut Ctx<'_>,
    st: Steps,
    op: BinOp,
    lhs: &Expr,
    rhs: &Expr,
    return_bool: bool,
    matching: Option<&VectorMatching>,
    span: Span,
) -> Result<Value, QueryError> {
    let stats = ctx.stats_hints;
    if matches!(op, BinOp::TrimUpper | BinOp::TrimLower) {
        ctx.stats_hints = false;
    }
    let l = ctx.eval(st, lhs);
    let r = ctx.eval(st, rhs);
    ctx.stats_hints = stats;
    let (l, r) = (l?, r?);
    match (l, r) {
        (Value::Scalar(mut a), Value::Scalar(b)) => {
            for (x, y) in a.iter_mut().zip(b) {
                *x = scalar_binop(op, *x, y);
            }
            Ok(Value::Scalar(a))
        }
        (Value::Vector(v), Value::Scalar(s)) => {
            Ok(Value::Vector(vector_scalar(ctx, st, op, v, &s, false, return_bool, span)))
        }
        (Value::Scalar(s), Value::Vector(v)) => {
            Ok(Value::Vector(vector_scalar(ctx, st, op, v, &s, true, return_bool, span)))
        }
        (Value::Vector(a), Value::Vector(b)) => {
            let default;
            let m = match matching {
                Some(m) => m,
                None => {
                    default = VectorMatching {
                        card: if op.is_set() { Card::ManyToMany } else { Card::OneToOne },
                        on: false,
                        labels: Vec::new(),
                        explicit: false,
                        include: Vec::new(),
                        fill_left: None,
                        fill_right: None,
                    };
                    &default
                }
            };
            let out = match op {
                BinOp::And | BinOp::Or | BinOp::Unless => set_op(st, op, a, b, m),
                _ => vector_vector(ctx, st, op, a, b, m, return_bool, span)?,
            };
            Ok(Value::Vector(out))
        }
        _ => exec_err("binary expression must contain only scalar and instant vector types"),
    }
}

/// Go's `math.Pow`, `math.Mod` and IEEE arithmetic on two floats.
pub(crate) fn arith(op: BinOp, l: f64, r: f64) -> f64 {
    match op {
        BinOp::Add => l + r,
        BinOp::Sub => l - r,
        BinOp::Mul => l * r,
        BinOp::Div => l / r,
        BinOp::Pow => l.powf(r),
        BinOp::Mod => l % r,
        BinOp::Atan2 => l.atan2(r),
        _ => f64::NAN,
    }
}

fn compare(op: BinOp, l: f64, r: f64) -> bool {
    match op {
        BinOp::Eql => l == r,
        BinOp::Neq => l != r,
        BinOp::Gtr => l > r,
        BinOp::Lss => l < r,
        BinOp::Gte => l >= r,
        BinOp::Lte => l <= r,
        _ => false,
    }
}

fn scalar_binop(op: BinOp, l: f64, r: f64) -> f64 {
    if op.is_comparison() { if compare(op, l, r) { 1.0 } else { 0.0 } } else { arith(op, l, r) }
}

/// Operators after which the result no longer has the input's meaning (the name goes).
fn changes_metric_schema(op: BinOp) -> bool {
    matches!(op, BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Pow | BinOp::Mod | BinOp::Atan2)
}

/// Result of one element operation.
pub(crate) enum Elem {
    F(f64),
    H(FloatHistogram),
}

/// What an element operation produced besides its value.
pub(crate) enum ElemNote {
    None,
    /// An info; the element is dropped.
    Info(String),
    /// A warning that drops the element (vector–vector) but not in vector–scalar operations.
    Warning(String),
    /// An info attached to a kept result.
    KeptInfo(String),
}

fn incompatible(l: &str, op: BinOp, r: &str) -> ElemNote {
    ElemNote::Info(format!(
        "incompatible sample types encountered for binary operator \"{}\": {l} {} {r}",
        op.as_str(),
        op.as_str()
    ))
}

/// One element operation: (value, keep, note). Comparisons return the left value.
pub(crate) fn elem_binop(op: BinOp, l: PVal<'_>, r: PVal<'_>) -> (Option<Elem>, bool, ElemNote) {
    match (l, r) {
        (PVal::F(a), PVal::F(b)) => match op {
            BinOp::TrimUpper | BinOp::TrimLower => (None, false, incompatible("float", op, "float")),
            _ if op.is_comparison() => (Some(Elem::F(a)), compare(op, a, b), ElemNote::None),
            _ => (Some(Elem::F(arith(op, a, b))), true, ElemNote::None),
        },
        (PVal::F(a), PVal::H(h)) => match op {
            BinOp::Mul => {
                let mut h = h.clone();
                hist::mul(&mut h, a);
                hist::compact(&mut h);
                (Some(Elem::H(h)), true, ElemNote::None)
            }
            _ => (None, false, incompatible("float", op, "histogram")),
        },
        (PVal::H(h), PVal::F(b)) => match op {
            BinOp::Mul | BinOp::Div => {
                let mut h = h.clone();
                if op == BinOp::Mul {
                    hist::mul(&mut h, b);
                } else {
                    hist::div(&mut h, b);
                }
                hist::compact(&mut h);
                (Some(Elem::H(h)), true, ElemNote::None)
            }
            BinOp::TrimUpper | BinOp::TrimLower => {
                (Some(Elem::H(hist::trim(h, b, op == BinOp::TrimUpper))), true, ElemNote::None)
            }
            _ => (None, false, incompatible("histogram", op, "float")),
        },
        (PVal::H(a), PVal::H(b)) => match op {
            BinOp::Add | BinOp::Sub => {
                let mut res = a.clone();
                let outcome = if op == BinOp::Add { hist::add(&mut res, b) } else { hist::sub(&mut res, b) };
                let what = if op == BinOp::Add { "addition" } else { "subtraction" };
                match outcome {
                    Err(hist::HistError::IncompatibleSchema) => (
                        None,
                        false,
                        ElemNote::Warning(format!(
                            "incompatible bucket layout encountered for binary operator {}",
                            op.as_str()
                        )),
                    ),
                    Err(hist::HistError::IncompatibleBounds) => (
                        None,
                        false,
                        ElemNote::Warning(format!(
                            "incompatible bucket layout encountered for binary operator {}",
                            op.as_str()
                        )),
                    ),
                    Ok(o) => {
                        if op == BinOp::Sub {
                            res.counter_reset_hint = seer_model::CounterResetHint::Gauge;
                        }
                        hist::compact(&mut res);
                        if o.counter_reset_collision {
                            return (
                                Some(Elem::H(res)),
                                true,
                                ElemNote::Warning(format!("conflicting counter resets during histogram {what}")),
                            );
                        }
                        if o.bounds_reconciled {
                            return (
                                Some(Elem::H(res)),
                                true,
                                ElemNote::KeptInfo(format!("mismatched custom buckets were reconciled during {what}")),
                            );
                        }
                        (Some(Elem::H(res)), true, ElemNote::None)
                    }
                }
            }
            BinOp::Eql => (Some(Elem::H(a.clone())), hist::equals(a, b), ElemNote::None),
            BinOp::Neq => (Some(Elem::H(a.clone())), !hist::equals(a, b), ElemNote::None),
            _ => (None, false, incompatible("histogram", op, "histogram")),
        },
    }
}

/// A vector against a scalar (`swap`: the scalar is on the left).
#[allow(clippy::too_many_arguments)]
fn vector_scalar(
    ctx: &mut Ctx<'_>,
    st: Steps,
    op: BinOp,
    series: Vec<Series>,
    scalar: &[f64],
    swap: bool,
    return_bool: bool,
    span: Span,
) -> Vec<Series> {
    let mut out = Vec::with_capacity(series.len());
    let drop = changes_metric_schema(op) || return_bool;
    for s in series {
        let mut o = Series::new(s.labels, s.drop_name || drop);
        let push = |t: i64, e: Option<Elem>, keep: bool, vector_val: PVal<'_>, o: &mut Series| {
            let mut keep = keep;
            let mut e = e;
            if op.is_comparison() && swap {
                e = Some(match vector_val {
                    PVal::F(f) => Elem::F(f),
                    PVal::H(h) => Elem::H(h.clone()),
                });
            }
            if return_bool {
                e = Some(Elem::F(if keep { 1.0 } else { 0.0 }));
                keep = true;
            }
            if keep {
                match e {
                    Some(Elem::F(f)) => o.floats.push(seer_model::Sample { t, v: f }),
                    Some(Elem::H(h)) => o.hists.push(crate::value::HPoint { t, h }),
                    None => {}
                }
            }
        };
        // Floats and histograms of one series never share a step.
        for p in &s.floats {
            let c = scalar[st.index(p.t)];
            let (l, r) = if swap { (PVal::F(c), PVal::F(p.v)) } else { (PVal::F(p.v), PVal::F(c)) };
            let (e, keep, note) = elem_binop(op, l, r);
            if note_drops_scalar(ctx, note, span) {
                continue;
            }
            push(p.t, e, keep, PVal::F(p.v), &mut o);
        }
        for p in &s.hists {
            let c = scalar[st.index(p.t)];
            let (l, r) = if swap { (PVal::F(c), PVal::H(&p.h)) } else { (PVal::H(&p.h), PVal::F(c)) };
            let (e, keep, note) = elem_binop(op, l, r);
            if note_drops_scalar(ctx, note, span) {
                continue;
            }
            push(p.t, e, keep, PVal::H(&p.h), &mut o);
        }
        if !o.is_empty() {
            out.push(o);
        }
    }
    out
}

/// Records a note of a vector–scalar element; true when the element is dropped.
fn note_drops_scalar(ctx: &mut Ctx<'_>, note: ElemNote, span: Span) -> bool {
    match note {
        ElemNote::None => false,
        ElemNote::Info(m) => {
            ctx.annotations.info(m, span);
            true
        }
        ElemNote::Warning(m) => {
            ctx.annotations.warn(m, span);
            false
        }
        ElemNote::KeptInfo(m) => {
            ctx.annotations.info(m, span);
            false
        }
    }
}

/// Unary minus: every value negated, the name dropped (at the end).
pub(crate) fn negate(mut series: Vec<Series>) -> Result<Vec<Series>, QueryError> {
    for s in &mut series {
        s.drop_name = true;
        for p in &mut s.floats {
            p.v = -p.v;
        }
        for p in &mut s.hists {
            hist::mul(&mut p.h, -1.0);
        }
    }
    Ok(series)
}

/// The matching signature of a label set: the `on` labels, or all but `__name__` and the
/// `ignoring` labels.
pub(crate) fn signature(l: &Labels, on: bool, names: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for lb in l.iter() {
        let listed = names.iter().any(|n| n == &lb.name);
        let keep = if on { listed } else { !listed && lb.name != METRIC_NAME };
        if keep {
            out.extend_from_slice(lb.name.as_bytes());
            out.push(0xff);
            out.extend_from_slice(lb.value.as_bytes());
            out.push(0xff);
        }
    }
    out
}

/// The labels a signature is built from (for error messages and fill values).
fn match_labels(l: &Labels, on: bool, names: &[String]) -> Labels {
    Labels::from_sorted(
        l.iter()
            .filter(|lb| {
                let listed = names.iter().any(|n| n == &lb.name);
                if on { listed } else { !listed && lb.name != METRIC_NAME }
            })
            .cloned()
            .collect(),
    )
}

/// Assigns dense signature ids to the series of both sides.
fn signature_ids(a: &[Series], b: &[Series], m: &VectorMatching) -> (Vec<u32>, Vec<u32>, usize) {
    let mut ids: HashMap<Vec<u8>, u32> = HashMap::new();
    let mut assign = |s: &Series| {
        let sig = signature(&s.labels, m.on, &m.labels);
        let n = ids.len() as u32;
        *ids.entry(sig).or_insert(n)
    };
    let la: Vec<u32> = a.iter().map(&mut assign).collect();
    let lb: Vec<u32> = b.iter().map(&mut assign).collect();
    (la, lb, ids.len())
}

/// `and`, `or`, `unless`.
fn set_op(st: Steps, op: BinOp, a: Vec<Series>, b: Vec<Series>, m: &VectorMatching) -> Vec<Series> {
    let (sa, sb, nsig) = signature_ids(&a, &b, m);
    let mut ra = StepReader::new(a.len());
    let mut rb = StepReader::new(b.len());
    // Output series mirror the inputs: a's first, then b's (for `or`).
    let mut oa: Vec<Series> = a.iter().map(|s| Series::new(s.labels.clone(), s.drop_name)).collect();
    let mut ob: Vec<Series> = if op == BinOp::Or {
        b.iter().map(|s| Series::new(s.labels.clone(), s.drop_name)).collect()
    } else {
        Vec::new()
    };
    let mut seen = vec![usize::MAX; nsig];
    for k in 0..st.count() {
        let ts = st.ts(k);
        match op {
            BinOp::And | BinOp::Unless => {
                for i in 0..b.len() {
                    if rb.at(&b, i, ts).is_some() {
                        seen[sb[i] as usize] = k;
                    }
                }
                for i in 0..a.len() {
                    if let Some(v) = ra.at(&a, i, ts) {
                        let present = seen[sa[i] as usize] == k;
                        if present == (op == BinOp::And) {
                            push_val(&mut oa[i], ts, v);
                        }
                    }
                }
            }
            _ => {
                for i in 0..a.len() {
                    if let Some(v) = ra.at(&a, i, ts) {
                        seen[sa[i] as usize] = k;
                        push_val(&mut oa[i], ts, v);
                    }
                }
                for i in 0..b.len() {
                    if let Some(v) = rb.at(&b, i, ts)
                        && seen[sb[i] as usize] != k
                    {
                        push_val(&mut ob[i], ts, v);
                    }
                }
            }
        }
    }
    oa.extend(ob);
    oa.retain(|s| !s.is_empty());
    oa
}

/// Appends a step value to a series.
pub(crate) fn push_val(s: &mut Series, t: i64, v: PVal<'_>) {
    match v {
        PVal::F(f) => s.floats.push(seer_model::Sample { t, v: f }),
        PVal::H(h) => s.hists.push(crate::value::HPoint { t, h: h.clone() }),
    }
}

/// Arithmetic and comparisons between two vectors with label matching.
#[allow(clippy::too_many_arguments)]
fn vector_vector(
    ctx: &mut Ctx<'_>,
    st: Steps,
    op: BinOp,
    a: Vec<Series>,
    b: Vec<Series>,
    m: &VectorMatching,
    return_bool: bool,
    span: Span,
) -> Result<Vec<Series>, QueryError> {
    let swapped = m.card == Card::OneToMany;
    // "many" is the side iterated, "one" the side indexed by signature.
    let (many, one) = if swapped { (b, a) } else { (a, b) };
    // Like Prometheus, the fill values apply to the sides after the group_right swap.
    let (fill_many, fill_one) = (m.fill_left, m.fill_right);
    let (sig_many, sig_one, nsig) = signature_ids(&many, &one, m);
    let mut r_many = StepReader::new(many.len());
    let mut r_one = StepReader::new(one.len());
    let mut one_at: Vec<(usize, u32)> = vec![(usize::MAX, 0); nsig];
    let mut pairs_out = Pairs {
        many: &many,
        one: &one,
        m,
        op,
        return_bool,
        swapped,
        out: OutBuilder::new(),
        slots: HashMap::new(),
        matched: vec![usize::MAX; nsig],
        matched_out: HashMap::new(),
        last_note: None,
    };
    let mut many_vals: Vec<(u32, PVal<'_>)> = Vec::new();
    let mut one_vals: Vec<(u32, PVal<'_>)> = Vec::new();
    for k in 0..st.count() {
        let ts = st.ts(k);
        many_vals.clear();
        one_vals.clear();
        for i in 0..many.len() {
            if let Some(v) = r_many.at(&many, i, ts) {
                many_vals.push((i as u32, v));
            }
        }
        for i in 0..one.len() {
            if let Some(v) = r_one.at(&one, i, ts) {
                one_vals.push((i as u32, v));
            }
        }
        if (many_vals.is_empty() && one_vals.is_empty())
            || ((many_vals.is_empty() || one_vals.is_empty()) && m.fill_left.is_none() && m.fill_right.is_none())
        {
            continue;
        }
        for (pos, &(i, _)) in one_vals.iter().enumerate() {
            let sig = sig_one[i as usize] as usize;
            if one_at[sig].0 == k {
                let other = &one[one_vals[one_at[sig].1 as usize].0 as usize].labels;
                let this = &one[i as usize].labels;
                let (x, y) = if this <= other { (this, other) } else { (other, this) };
                return exec_err(format!(
                    "found duplicate series for the match group {} on the {} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                    match_labels(this, m.on, &m.labels),
                    if swapped { "left" } else { "right" },
                    x,
                    y
                ));
            }
            one_at[sig] = (k, pos as u32);
        }
        let mut pairs: Vec<(u32, u32, PVal<'_>, PVal<'_>, u32)> = Vec::new();
        for &(i, lv) in &many_vals {
            let sig = sig_many[i as usize];
            if one_at[sig as usize].0 == k {
                let (j, rv) = one_vals[one_at[sig as usize].1 as usize];
                pairs.push((i, j, lv, rv, sig));
            } else if let Some(f) = fill_one {
                pairs.push((i, u32::MAX, lv, PVal::F(f), sig));
            }
        }
        for &(i, j, lv, rv, sig) in &pairs {
            pairs_out.emit(k, ts, i, j, lv, rv, sig)?;
        }
        if let Some(f) = fill_many {
            for &(j, rv) in &one_vals {
                let sig = sig_one[j as usize];
                if pairs_out.matched[sig as usize] == k {
                    continue;
                }
                pairs_out.emit(k, ts, u32::MAX, j, PVal::F(f), rv, sig)?;
            }
        }
        pairs_out.matched_out.clear();
    }
    if let Some((warn, msg)) = pairs_out.last_note.take() {
        if warn {
            ctx.annotations.warn(msg, span);
        } else {
            ctx.annotations.info(msg, span);
        }
    }
    Ok(pairs_out.out.finish())
}

/// The output of a vector-vector operation and the bookkeeping shared by all its matched
/// pairs: output slot per (many index, one index) (`u32::MAX` stands for a filled-in side),
/// the step each signature last matched at, and the last annotation.
struct Pairs<'a> {
    many: &'a [Series],
    one: &'a [Series],
    m: &'a VectorMatching,
    op: BinOp,
    return_bool: bool,
    swapped: bool,
    out: OutBuilder,
    slots: HashMap<(u32, u32), usize>,
    matched: Vec<usize>,
    matched_out: HashMap<(u32, usize), usize>,
    last_note: Option<(bool, String)>,
}

impl Pairs<'_> {
    /// Computes and records one matched pair of step `k` at `ts`. `i`/`j` index the many/one
    /// side (`u32::MAX`: filled in).
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        k: usize,
        ts: i64,
        i: u32,
        j: u32,
        lv: PVal<'_>,
        rv: PVal<'_>,
        sig: u32,
    ) -> Result<(), QueryError> {
        let (m, op, return_bool) = (self.m, self.op, self.return_bool);
        let (l, r) = if self.swapped { (rv, lv) } else { (lv, rv) };
        let (e, keep, note) = elem_binop(op, l, r);
        let mut e = e;
        match note {
            ElemNote::None => {}
            ElemNote::Info(msg) => {
                self.last_note = Some((false, msg));
                return Ok(());
            }
            ElemNote::Warning(msg) => {
                self.last_note = Some((true, msg));
                return Ok(());
            }
            ElemNote::KeptInfo(msg) => self.last_note = Some((false, msg)),
        }
        if return_bool {
            e = Some(Elem::F(if keep { 1.0 } else { 0.0 }));
        }
        let slot = match self.slots.get(&(i, j)) {
            Some(&s) => s,
            None => {
                let ml = if i != u32::MAX {
                    self.many[i as usize].labels.clone()
                } else {
                    match_labels(&self.one[j as usize].labels, m.on, &m.labels)
                };
                let ol = if j != u32::MAX {
                    self.one[j as usize].labels.clone()
                } else {
                    match_labels(&self.many[i as usize].labels, m.on, &m.labels)
                };
                let labels = result_metric(&ml, &ol, op, m);
                let s = self.out.slot(&labels, return_bool);
                self.slots.insert((i, j), s);
                s
            }
        };
        if m.card == Card::OneToOne {
            if self.matched[sig as usize] == k {
                return exec_err(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                );
            }
        } else if self.matched_out.insert((sig, slot), k).is_some() {
            return exec_err("multiple matches for labels: grouping labels must ensure unique matches");
        }
        self.matched[sig as usize] = k;
        if !keep && !return_bool {
            return Ok(());
        }
        if return_bool {
            self.out.series[slot].drop_name = true;
        }
        match e {
            Some(Elem::F(f)) => self.out.push_f(slot, ts, f),
            Some(Elem::H(h)) => self.out.push_h(slot, ts, h),
            None => Ok(()),
        }
    }
}

/// The output labels of a matched pair: the "many" side's labels, reduced for one-to-one
/// matching, plus the `group_x` labels taken from the "one" side.
fn result_metric(many: &Labels, one: &Labels, op: BinOp, m: &VectorMatching) -> Labels {
    let mut b: LabelsBuilder = many.to_builder();
    if changes_metric_schema(op) {
        b.del(METRIC_NAME);
        b.del("__type__");
        b.del("__unit__");
    }
    if m.card == Card::OneToOne {
        if m.on {
            b.retain(|l| m.labels.iter().any(|n| n == &l.name));
        } else {
            for n in &m.labels {
                b.del(n);
            }
        }
    }
    for n in &m.include {
        match one.get(n) {
            Some(v) => {
                b.set(n.clone(), v.to_string());
            }
            None => {
                b.del(n);
            }
        }
    }
    b.build()
}
