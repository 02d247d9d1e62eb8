//! Native histograms as the query engine sees them: float counts, sparse buckets addressed
//! by spans, either exponential (schema -4..=8) or with custom bounds (schema -53, "NHCB"),
//! and their arithmetic (addition, reset detection, schema reduction, trimming, ...).

/// Schema number of histograms with custom bucket bounds.
pub const CUSTOM_BUCKETS_SCHEMA: i32 = -53;

/// What the producer said about counter resets since the previous sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CounterResetHint {
    /// Nothing known.
    #[default]
    Unknown,
    /// A reset happened.
    CounterReset,
    /// No reset happened.
    NotCounterReset,
    /// A gauge histogram: resets do not apply.
    Gauge,
}

/// A run of consecutive buckets: `offset` buckets after the end of the previous span (or
/// from index 0 for the first span), `length` buckets long.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct BucketSpan {
    /// Gap before this span, in buckets.
    pub offset: i32,
    /// Number of buckets in the span.
    pub length: u32,
}

/// A native histogram with float counts.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct FloatHistogram {
    /// Counter reset hint.
    pub counter_reset_hint: CounterResetHint,
    /// Resolution: bucket boundaries are powers of `2^(2^-schema)`; -53 means custom bounds.
    pub schema: i32,
    /// Observations with absolute value up to this fall into the zero bucket.
    pub zero_threshold: f64,
    /// Count of the zero bucket.
    pub zero_count: f64,
    /// Total number of observations.
    pub count: f64,
    /// Sum of the observations.
    pub sum: f64,
    /// Spans of the positive buckets.
    pub positive_spans: Vec<BucketSpan>,
    /// Spans of the negative buckets.
    pub negative_spans: Vec<BucketSpan>,
    /// Counts of the positive buckets (absolute, not deltas).
    pub positive_buckets: Vec<f64>,
    /// Counts of the negative buckets.
    pub negative_buckets: Vec<f64>,
    /// Upper bounds of the custom buckets (schema -53), `+Inf` implied after the last.
    pub custom_values: Vec<f64>,
}

impl FloatHistogram {
    /// True when the histogram uses custom bucket bounds.
    pub fn uses_custom_buckets(&self) -> bool {
        self.schema == CUSTOM_BUCKETS_SCHEMA
    }

    /// True when the histogram is a staleness marker (its sum is the stale NaN).
    pub fn is_stale(&self) -> bool {
        crate::is_stale_nan(self.sum)
    }
}

// ---- Arithmetic: add, subtract, scale, compact, reset detection, schema reduction,
// equality, trimming and bucket iteration. Buckets are handled as sorted `(index, count)`
// lists and turned back into spans; the span layout only matters for equality, which
// callers check on compacted histograms.

/// Why two histograms cannot be combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistError {
    /// One has exponential, the other custom buckets.
    IncompatibleSchema,
    /// Custom bucket bounds cannot be reconciled.
    IncompatibleBounds,
}

/// Side effects of an addition or subtraction.
#[derive(Clone, Copy, Debug, Default)]
pub struct Outcome {
    /// A counter-reset hint met a not-counter-reset hint.
    pub counter_reset_collision: bool,
    /// Custom bucket bounds differed and were intersected.
    pub bounds_reconciled: bool,
}

/// Expands spans and counts into `(index, count)` pairs.
pub fn expand(spans: &[BucketSpan], counts: &[f64]) -> Vec<(i32, f64)> {
    let mut out = Vec::with_capacity(counts.len());
    let mut idx: i32 = 0;
    let mut ci = 0;
    for (k, s) in spans.iter().enumerate() {
        idx = if k == 0 { s.offset } else { idx + s.offset };
        for _ in 0..s.length {
            if ci < counts.len() {
                out.push((idx, counts[ci]));
            }
            ci += 1;
            idx += 1;
        }
    }
    out
}

/// Builds spans and counts from sorted `(index, count)` pairs; consecutive indices share a span.
pub fn collapse(b: &[(i32, f64)]) -> (Vec<BucketSpan>, Vec<f64>) {
    let mut spans: Vec<BucketSpan> = Vec::new();
    let mut counts = Vec::with_capacity(b.len());
    let mut next: i32 = 0;
    for (k, &(i, c)) in b.iter().enumerate() {
        if k == 0 {
            spans.push(BucketSpan { offset: i, length: 1 });
        } else if i == next {
            spans.last_mut().expect("span").length += 1;
        } else {
            spans.push(BucketSpan { offset: i - next, length: 1 });
        }
        next = i + 1;
        counts.push(c);
    }
    (spans, counts)
}

fn set_pos(h: &mut FloatHistogram, b: &[(i32, f64)]) {
    (h.positive_spans, h.positive_buckets) = collapse(b);
}

fn set_neg(h: &mut FloatHistogram, b: &[(i32, f64)]) {
    (h.negative_spans, h.negative_buckets) = collapse(b);
}

/// Removes empty buckets (count exactly 0) and merges spans into maximal runs.
pub fn compact(h: &mut FloatHistogram) {
    let mut p = expand(&h.positive_spans, &h.positive_buckets);
    p.retain(|b| b.1 != 0.0);
    set_pos(h, &p);
    let mut n = expand(&h.negative_spans, &h.negative_buckets);
    n.retain(|b| b.1 != 0.0);
    set_neg(h, &n);
}

/// Multiplies every count and the sum by `f`; a negative factor makes the result a gauge.
pub fn mul(h: &mut FloatHistogram, f: f64) {
    h.zero_count *= f;
    h.count *= f;
    h.sum *= f;
    for b in h.positive_buckets.iter_mut().chain(h.negative_buckets.iter_mut()) {
        *b *= f;
    }
    if f < 0.0 {
        h.counter_reset_hint = CounterResetHint::Gauge;
    }
}

/// Divides every count and the sum by `f`; dividing by zero drops all buckets.
pub fn div(h: &mut FloatHistogram, f: f64) {
    h.zero_count /= f;
    h.count /= f;
    h.sum /= f;
    if f == 0.0 {
        h.positive_spans.clear();
        h.positive_buckets.clear();
        h.negative_spans.clear();
        h.negative_buckets.clear();
        return;
    }
    for b in h.positive_buckets.iter_mut().chain(h.negative_buckets.iter_mut()) {
        *b /= f;
    }
    if f < 0.0 {
        h.counter_reset_hint = CounterResetHint::Gauge;
    }
}

/// Upper bound of positive bucket `i` at exponential schema `s` (`2^(i * 2^-s)`).
pub fn exp_bound(i: i32, s: i32) -> f64 {
    if s < 0 {
        let e = (i as i64) << (-s);
        if e == 1024 {
            return f64::MAX;
        }
        return ldexp(1.0, e);
    }
    let mask = (1i64 << s) - 1;
    let frac_idx = (i as i64) & mask;
    let exp = ((i as i64) >> s) + 1;
    let frac = 2f64.powf(frac_idx as f64 / (1i64 << s) as f64 - 1.0);
    if frac == 0.5 && exp == 1025 {
        return f64::MAX;
    }
    ldexp(frac, exp)
}

fn ldexp(frac: f64, exp: i64) -> f64 {
    if exp > 2000 {
        return f64::INFINITY * frac.signum();
    }
    if exp < -2000 {
        return 0.0;
    }
    // Split to stay exact through subnormal and large ranges.
    let mut r = frac;
    let mut e = exp;
    while e > 1000 {
        r *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        r *= 2f64.powi(-1000);
        e += 1000;
    }
    r * 2f64.powi(e as i32)
}

/// Lower and upper bound of bucket `i` of a side (`positive`), for the histogram's schema.
pub fn bucket_bounds(h: &FloatHistogram, i: i32, positive: bool) -> (f64, f64) {
    if h.uses_custom_buckets() {
        let cv = &h.custom_values;
        let upper = if (i as usize) < cv.len() && i >= 0 { cv[i as usize] } else { f64::INFINITY };
        let lower = if i <= 0 { f64::NEG_INFINITY } else { cv.get(i as usize - 1).copied().unwrap_or(f64::INFINITY) };
        return (lower, upper);
    }
    let (l, u) = (exp_bound(i - 1, h.schema), exp_bound(i, h.schema));
    if positive { (l, u) } else { (-u, -l) }
}

/// Adjusts the receiver's hint for an addition; true on a reset/not-reset collision.
fn adjust_hint(h: &mut FloatHistogram, o: &FloatHistogram) -> bool {
    use CounterResetHint::*;
    let (a, b) = (h.counter_reset_hint, o.counter_reset_hint);
    if a == b || a == Gauge {
        return false;
    }
    if b == Gauge {
        h.counter_reset_hint = Gauge;
        return false;
    }
    if a == Unknown {
        return false;
    }
    if b == Unknown {
        h.counter_reset_hint = Unknown;
        return false;
    }
    h.counter_reset_hint = Unknown;
    true
}

/// Count of `x`'s buckets within a zero bucket widened to `t` (raised to the upper bound
/// of any bucket it cuts); returns the count and the final threshold.
fn zero_count_for_threshold(x: &FloatHistogram, mut t: f64) -> (f64, f64) {
    'outer: loop {
        let mut c = x.zero_count;
        for (i, v) in expand(&x.positive_spans, &x.positive_buckets) {
            let (l, u) = bucket_bounds(x, i, true);
            if l >= t {
                break;
            }
            c += v;
            if u > t {
                if v != 0.0 {
                    t = u;
                }
                break;
            }
        }
        for (i, v) in expand(&x.negative_spans, &x.negative_buckets) {
            let (l, u) = bucket_bounds(x, i, false);
            if u <= -t {
                break;
            }
            c += v;
            if l < -t {
                if v != 0.0 {
                    t = -l;
                    continue 'outer;
                }
                break;
            }
        }
        return (c, t);
    }
}

/// Adds (`sign` 1) or subtracts (`sign` -1) `o` into `h`.
fn add_signed(h: &mut FloatHistogram, o: &FloatHistogram, sign: f64) -> Result<Outcome, HistError> {
    if h.uses_custom_buckets() != o.uses_custom_buckets() {
        return Err(HistError::IncompatibleSchema);
    }
    let mut out = Outcome { counter_reset_collision: adjust_hint(h, o), bounds_reconciled: false };
    if h.uses_custom_buckets() {
        h.count += sign * o.count;
        h.sum += sign * o.sum;
        let hb = expand(&h.positive_spans, &h.positive_buckets);
        let ob = expand(&o.positive_spans, &o.positive_buckets);
        if h.custom_values == o.custom_values {
            let mut merged = merge(&hb, &ob, sign);
            merged.sort_by_key(|b| b.0);
            set_pos(h, &merged);
            return Ok(out);
        }
        out.bounds_reconciled = true;
        let inter: Vec<f64> = h.custom_values.iter().copied().filter(|b| o.custom_values.contains(b)).collect();
        let mut slots = vec![0.0; inter.len() + 1];
        let mut place = |cv: &[f64], b: &[(i32, f64)], s: f64| {
            for &(i, v) in b {
                let slot = if (i as usize) < cv.len() && i >= 0 {
                    let bound = cv[i as usize];
                    inter.iter().position(|&x| x >= bound).unwrap_or(inter.len())
                } else {
                    inter.len()
                };
                slots[slot] += s * v;
            }
        };
        place(&h.custom_values.clone(), &hb, 1.0);
        place(&o.custom_values, &ob, sign);
        let list: Vec<(i32, f64)> =
            slots.iter().enumerate().filter(|(_, v)| **v != 0.0).map(|(i, v)| (i as i32, *v)).collect();
        set_pos(h, &list);
        h.custom_values = inter;
        return Ok(out);
    }
    // Zero buckets: widen to the larger threshold on both sides.
    let mut o_zc = o.zero_count;
    let mut o_t = o.zero_threshold;
    while o_t != h.zero_threshold {
        if h.zero_threshold > o_t {
            (o_zc, o_t) = zero_count_for_threshold(o, h.zero_threshold);
        }
        if o_t > h.zero_threshold {
            let (zc, t) = zero_count_for_threshold(h, o_t);
            h.zero_count = zc;
            h.zero_threshold = t;
            let mut p = expand(&h.positive_spans, &h.positive_buckets);
            p.retain(|&(i, _)| bucket_bounds(h, i, true).1 > t);
            let mut n = expand(&h.negative_spans, &h.negative_buckets);
            n.retain(|&(i, _)| -bucket_bounds(h, i, false).0 > t);
            set_pos(h, &p);
            set_neg(h, &n);
            compact(h);
        }
    }
    h.zero_count += sign * o_zc;
    h.count += sign * o.count;
    h.sum += sign * o.sum;
    let mut op = expand(&o.positive_spans, &o.positive_buckets);
    let mut on = expand(&o.negative_spans, &o.negative_buckets);
    let target = h.schema.min(o.schema);
    if h.schema > target {
        reduce_resolution(h, target);
    }
    if o.schema > target {
        op = reduce_list(&op, o.schema, target);
        on = reduce_list(&on, o.schema, target);
    }
    let t = h.zero_threshold;
    op.retain(|&(i, _)| exp_bound(i, target) > t);
    on.retain(|&(i, _)| exp_bound(i, target) > t);
    let hp = expand(&h.positive_spans, &h.positive_buckets);
    let hn = expand(&h.negative_spans, &h.negative_buckets);
    let p = merge(&hp, &op, sign);
    let n = merge(&hn, &on, sign);
    set_pos(h, &p);
    set_neg(h, &n);
    Ok(out)
}

/// Merges two sorted bucket lists, adding `sign * b` into `a`.
fn merge(a: &[(i32, f64)], b: &[(i32, f64)], sign: f64) -> Vec<(i32, f64)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if j >= b.len() || (i < a.len() && a[i].0 < b[j].0) {
            out.push(a[i]);
            i += 1;
        } else if i >= a.len() || b[j].0 < a[i].0 {
            out.push((b[j].0, sign * b[j].1));
            j += 1;
        } else {
            out.push((a[i].0, a[i].1 + sign * b[j].1));
            i += 1;
            j += 1;
        }
    }
    out
}

/// `h += o`.
pub fn add(h: &mut FloatHistogram, o: &FloatHistogram) -> Result<Outcome, HistError> {
    add_signed(h, o, 1.0)
}

/// `h -= o` (the hint is not changed to gauge here).
pub fn sub(h: &mut FloatHistogram, o: &FloatHistogram) -> Result<Outcome, HistError> {
    add_signed(h, o, -1.0)
}

/// True when any count or the sum is infinite.
pub fn has_overflow(h: &FloatHistogram) -> bool {
    h.count.is_infinite()
        || h.sum.is_infinite()
        || h.zero_count.is_infinite()
        || h.positive_buckets.iter().chain(h.negative_buckets.iter()).any(|b| b.is_infinite())
}

/// The values of `hs` mapped onto the fields of `layout` (the plain sum of `hs`, which
/// fixes schema, zero threshold and custom bounds): count, sum, zero count, then the
/// positive and negative buckets of the layout in index order.
fn field_values(layout: &FloatHistogram, hs: &[FloatHistogram]) -> (Vec<i32>, Vec<i32>, Vec<Vec<f64>>) {
    let pos: Vec<i32> = expand(&layout.positive_spans, &layout.positive_buckets).into_iter().map(|b| b.0).collect();
    let neg: Vec<i32> = expand(&layout.negative_spans, &layout.negative_buckets).into_iter().map(|b| b.0).collect();
    let custom = layout.uses_custom_buckets();
    let zt = layout.zero_threshold;
    let mut rows = Vec::with_capacity(hs.len());
    for h in hs {
        let mut row = vec![0.0; 3 + pos.len() + neg.len()];
        row[0] = h.count;
        row[1] = h.sum;
        let put = |positive: bool, i: i32, v: f64, row: &mut Vec<f64>| {
            let (list, base) = if positive { (&pos, 3) } else { (&neg, 3 + pos.len()) };
            if let Ok(k) = list.binary_search(&i) {
                row[base + k] += v;
            }
        };
        if custom {
            let cv = &layout.custom_values;
            for (i, v) in expand(&h.positive_spans, &h.positive_buckets) {
                let slot = if i >= 0 && (i as usize) < h.custom_values.len() {
                    let b = h.custom_values[i as usize];
                    cv.iter().position(|&x| x >= b).unwrap_or(cv.len())
                } else {
                    cv.len()
                } as i32;
                put(true, slot, v, &mut row);
            }
        } else {
            row[2] = h.zero_count;
            for (side, spans, counts) in
                [(true, &h.positive_spans, &h.positive_buckets), (false, &h.negative_spans, &h.negative_buckets)]
            {
                let b = expand(spans, counts);
                let b = if h.schema > layout.schema { reduce_list(&b, h.schema, layout.schema) } else { b };
                for (i, v) in b {
                    if exp_bound(i, layout.schema) <= zt {
                        row[2] += v;
                    } else {
                        put(side, i, v, &mut row);
                    }
                }
            }
        }
        rows.push(row);
    }
    (pos, neg, rows)
}

fn from_fields(layout: &FloatHistogram, pos: &[i32], neg: &[i32], vals: &[f64]) -> FloatHistogram {
    let mut out = layout.clone();
    out.count = vals[0];
    out.sum = vals[1];
    if !out.uses_custom_buckets() {
        out.zero_count = vals[2];
    }
    let p: Vec<(i32, f64)> = pos.iter().enumerate().map(|(k, &i)| (i, vals[3 + k])).collect();
    let n: Vec<(i32, f64)> = neg.iter().enumerate().map(|(k, &i)| (i, vals[3 + pos.len() + k])).collect();
    set_pos(&mut out, &p);
    set_neg(&mut out, &n);
    out
}

/// Kahan–Neumaier summation step: returns the new sum and compensation.
pub fn kahan_inc(x: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + x;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= x.abs() {
        c + ((sum - t) + x)
    } else {
        c + ((x - t) + sum)
    };
    (t, c)
}

/// The sum of `hs` with compensated (Kahan–Neumaier) summation of every count; `layout` is
/// their plain sum.
pub fn kahan_values(layout: &FloatHistogram, hs: &[FloatHistogram]) -> FloatHistogram {
    let (pos, neg, rows) = field_values(layout, hs);
    let n = 3 + pos.len() + neg.len();
    let mut acc = vec![(0.0, 0.0); n];
    for row in &rows {
        for (a, &v) in acc.iter_mut().zip(row) {
            *a = kahan_inc(v, a.0, a.1);
        }
    }
    let vals: Vec<f64> = acc.iter().map(|&(s, c)| if s.is_infinite() { s } else { s + c }).collect();
    from_fields(layout, &pos, &neg, &vals)
}

/// Mean of histograms like Prometheus' `avg`: a compensated sum divided by the count,
/// switching to a compensated incremental mean once any field would overflow.
pub fn mean(layout: &FloatHistogram, hs: &[FloatHistogram]) -> FloatHistogram {
    let (pos, neg, rows) = field_values(layout, hs);
    let n = 3 + pos.len() + neg.len();
    let mut sum: Vec<f64> = rows[0].clone();
    let mut c = vec![0.0; n];
    let mut mean = vec![0.0; n];
    let mut incremental = false;
    let mut count = 1.0;
    for (i, row) in rows.iter().enumerate().skip(1) {
        count = (i + 1) as f64;
        if !incremental {
            let next: Vec<(f64, f64)> = (0..n).map(|k| kahan_inc(row[k], sum[k], c[k])).collect();
            if !next.iter().any(|x| x.0.is_infinite()) {
                for k in 0..n {
                    (sum[k], c[k]) = next[k];
                }
                continue;
            }
            incremental = true;
            for k in 0..n {
                mean[k] = sum[k] / (count - 1.0);
                c[k] /= count - 1.0;
            }
        }
        let q = (count - 1.0) / count;
        for k in 0..n {
            (mean[k], c[k]) = kahan_inc(row[k] / count, q * mean[k], q * c[k]);
        }
    }
    let vals: Vec<f64> =
        (0..n).map(|k| if incremental { mean[k] + c[k] } else { sum[k] / count + c[k] / count }).collect();
    from_fields(layout, &pos, &neg, &vals)
}

/// Maps bucket indexes to a lower schema, summing merged buckets.
fn reduce_list(b: &[(i32, f64)], from: i32, to: i32) -> Vec<(i32, f64)> {
    let shift = from - to;
    let mut out: Vec<(i32, f64)> = Vec::with_capacity(b.len());
    for &(i, v) in b {
        let t = ((i - 1) >> shift) + 1;
        match out.last_mut() {
            Some(last) if last.0 == t => last.1 += v,
            _ => out.push((t, v)),
        }
    }
    out
}

/// Lowers the resolution of an exponential histogram in place.
pub fn reduce_resolution(h: &mut FloatHistogram, to: i32) {
    if h.uses_custom_buckets() || to >= h.schema {
        return;
    }
    let p = reduce_list(&expand(&h.positive_spans, &h.positive_buckets), h.schema, to);
    let n = reduce_list(&expand(&h.negative_spans, &h.negative_buckets), h.schema, to);
    set_pos(h, &p);
    set_neg(h, &n);
    h.schema = to;
}

/// True when `cur` is a counter reset relative to `prev`.
pub fn detect_reset(cur: &FloatHistogram, prev: &FloatHistogram) -> bool {
    match cur.counter_reset_hint {
        CounterResetHint::CounterReset => return true,
        CounterResetHint::NotCounterReset => return false,
        _ => {}
    }
    if cur.count < prev.count {
        return true;
    }
    if cur.uses_custom_buckets() {
        if !prev.uses_custom_buckets() {
            return true;
        }
        let cb = expand(&cur.positive_spans, &cur.positive_buckets);
        let pb = expand(&prev.positive_spans, &prev.positive_buckets);
        if cur.custom_values == prev.custom_values {
            return bucket_decreased(&pb, &cb);
        }
        // Compare counts rolled up to the bounds both have (and +Inf).
        let mut common: Vec<f64> =
            cur.custom_values.iter().copied().filter(|b| prev.custom_values.contains(b)).collect();
        common.push(f64::INFINITY);
        let upper = |cv: &[f64], i: i32| if (i as usize) < cv.len() { cv[i as usize] } else { f64::INFINITY };
        let (mut ci, mut pi) = (0, 0);
        for bound in common {
            let (mut cs, mut ps) = (0.0, 0.0);
            while ci < cb.len() && upper(&cur.custom_values, cb[ci].0) <= bound {
                cs += cb[ci].1;
                ci += 1;
            }
            while pi < pb.len() && upper(&prev.custom_values, pb[pi].0) <= bound {
                ps += pb[pi].1;
                pi += 1;
            }
            if cs < ps {
                return true;
            }
        }
        return false;
    }
    if cur.schema > prev.schema {
        return true;
    }
    if cur.zero_threshold < prev.zero_threshold {
        return true;
    }
    let (pzc, t) = zero_count_for_threshold(prev, cur.zero_threshold);
    if t != cur.zero_threshold {
        return true;
    }
    if cur.zero_count < pzc {
        return true;
    }
    let zt = cur.zero_threshold;
    for positive in [true, false] {
        let (ps, pc, cs, cc) = if positive {
            (&prev.positive_spans, &prev.positive_buckets, &cur.positive_spans, &cur.positive_buckets)
        } else {
            (&prev.negative_spans, &prev.negative_buckets, &cur.negative_spans, &cur.negative_buckets)
        };
        let mut p = reduce_list(&expand(ps, pc), prev.schema, cur.schema);
        let mut c = expand(cs, cc);
        p.retain(|&(i, _)| exp_bound(i, cur.schema) > zt);
        c.retain(|&(i, _)| exp_bound(i, cur.schema) > zt);
        if bucket_decreased(&p, &c) {
            return true;
        }
    }
    false
}

/// True when a bucket of `prev` is missing (with a non-zero count) or smaller in `cur`.
fn bucket_decreased(prev: &[(i32, f64)], cur: &[(i32, f64)]) -> bool {
    let mut j = 0;
    for &(i, v) in prev {
        while j < cur.len() && cur[j].0 < i {
            j += 1;
        }
        if j < cur.len() && cur[j].0 == i {
            if cur[j].1 < v {
                return true;
            }
        } else if v != 0.0 {
            return true;
        }
    }
    false
}

/// Exact equality (bit patterns for counts, spans compared modulo empty spans); the hint
/// is ignored.
pub fn equals(a: &FloatHistogram, b: &FloatHistogram) -> bool {
    let mut a = a.clone();
    let mut b = b.clone();
    compact(&mut a);
    compact(&mut b);
    a.schema == b.schema
        && a.count.to_bits() == b.count.to_bits()
        && a.sum.to_bits() == b.sum.to_bits()
        && (!a.uses_custom_buckets() || a.custom_values == b.custom_values)
        && a.zero_threshold == b.zero_threshold
        && a.zero_count.to_bits() == b.zero_count.to_bits()
        && a.positive_spans == b.positive_spans
        && a.negative_spans == b.negative_spans
        && bits_eq(&a.positive_buckets, &b.positive_buckets)
        && bits_eq(&a.negative_buckets, &b.negative_buckets)
}

fn bits_eq(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// One bucket for iteration: bounds, inclusivity and count.
#[derive(Clone, Copy, Debug)]
pub struct Bucket {
    pub lower: f64,
    pub upper: f64,
    pub lower_inclusive: bool,
    pub upper_inclusive: bool,
    pub count: f64,
}

/// All buckets: negative from the most negative, the zero bucket (if its count is positive),
/// then the positive ones ascending. Bounds are clamped to the zero bucket.
pub fn all_buckets(h: &FloatHistogram) -> Vec<Bucket> {
    let mut out = Vec::new();
    if h.uses_custom_buckets() {
        for (i, c) in expand(&h.positive_spans, &h.positive_buckets) {
            let (l, u) = bucket_bounds(h, i, true);
            out.push(Bucket { lower: l, upper: u, lower_inclusive: i == 0, upper_inclusive: true, count: c });
        }
        return out;
    }
    let zt = h.zero_threshold;
    for (i, c) in expand(&h.negative_spans, &h.negative_buckets).into_iter().rev() {
        let (l, mut u) = bucket_bounds(h, i, false);
        if u > -zt && u < 0.0 {
            u = -zt;
        }
        out.push(Bucket { lower: l, upper: u, lower_inclusive: true, upper_inclusive: false, count: c });
    }
    if h.zero_count > 0.0 {
        out.push(Bucket { lower: -zt, upper: zt, lower_inclusive: true, upper_inclusive: true, count: h.zero_count });
    }
    for (i, c) in expand(&h.positive_spans, &h.positive_buckets) {
        let (mut l, u) = bucket_bounds(h, i, true);
        if l < zt && l > 0.0 {
            l = zt;
        }
        out.push(Bucket { lower: l, upper: u, lower_inclusive: false, upper_inclusive: true, count: c });
    }
    out
}

/// Go's `FloatHistogram.String()`, used as the `count_values` label value.
pub fn to_string(h: &FloatHistogram) -> String {
    let g = crate::go_format_g;
    let mut s = format!("{{count:{}, sum:{}", g(h.count), g(h.sum));
    let bucket = |s: &mut String, l: f64, u: f64, li: bool, ui: bool, c: f64| {
        s.push_str(&format!(
            ", {}{},{}{}:{}",
            if li { "[" } else { "(" },
            g(l),
            g(u),
            if ui { "]" } else { ")" },
            g(c)
        ));
    };
    if h.uses_custom_buckets() {
        for (i, c) in expand(&h.positive_spans, &h.positive_buckets) {
            if c != 0.0 {
                let (l, u) = bucket_bounds(h, i, true);
                bucket(&mut s, l, u, i == 0, true, c);
            }
        }
    } else {
        for (i, c) in expand(&h.negative_spans, &h.negative_buckets).into_iter().rev() {
            if c != 0.0 {
                let (l, u) = bucket_bounds(h, i, false);
                bucket(&mut s, l, u, true, false, c);
            }
        }
        if h.zero_count != 0.0 {
            bucket(&mut s, -h.zero_threshold, h.zero_threshold, true, true, h.zero_count);
        }
        for (i, c) in expand(&h.positive_spans, &h.positive_buckets) {
            if c != 0.0 {
                let (l, u) = bucket_bounds(h, i, true);
                bucket(&mut s, l, u, false, true, c);
            }
        }
    }
    s.push('}');
    s
}

/// `h </ x` (keep observations <= x) or `h >/ x` (keep observations >= x). Buckets cut by
/// `x` are interpolated (linearly for custom and zero buckets, exponentially otherwise); the
/// sum is rebuilt from the kept parts' midpoints. Nothing removed: `h` is returned as is.
pub fn trim(h: &FloatHistogram, x: f64, upper_trim: bool) -> FloatHistogram {
    let custom = h.uses_custom_buckets();
    let mut removed_any = false;
    let mut new_sum = 0.0;
    let mut count = 0.0;
    // (kept count, midpoint of the kept part) of one bucket [l, u]; `linear` for custom and
    // zero buckets.
    let mut cut = |l: f64, u: f64, c: f64, linear: bool| -> f64 {
        if c == 0.0 {
            return 0.0;
        }
        let mid = |a: f64, b: f64| -> f64 {
            if a == f64::NEG_INFINITY {
                b
            } else if b == f64::INFINITY {
                a
            } else if linear || (a <= 0.0 && b >= 0.0) {
                (a + b) / 2.0
            } else if b > 0.0 {
                (a * b).sqrt()
            } else {
                -(a.abs() * b.abs()).sqrt()
            }
        };
        let (f, part) = if upper_trim {
            if x >= u {
                (1.0, (l, u))
            } else if x <= l {
                (0.0, (l, l))
            } else if l == f64::NEG_INFINITY {
                (1.0, (l, x))
            } else if u == f64::INFINITY {
                (0.0, (l, x))
            } else {
                (below_fraction(l, u, x, linear), (l, x))
            }
        } else if x <= l {
            (1.0, (l, u))
        } else if x >= u {
            (0.0, (u, u))
        } else if l == f64::NEG_INFINITY {
            (0.0, (x, u))
        } else if u == f64::INFINITY {
            (1.0, (x, u))
        } else {
            (1.0 - below_fraction(l, u, x, linear), (x, u))
        };
        if f < 1.0 {
            removed_any = true;
        }
        let kept = c * f;
        if kept != 0.0 {
            new_sum += kept * mid(part.0, part.1);
        }
        count += kept;
        kept
    };
    let mut r = h.clone();
    let mut p = expand(&h.positive_spans, &h.positive_buckets);
    for b in &mut p {
        let (mut l, u) = bucket_bounds(h, b.0, true);
        if custom && l == f64::NEG_INFINITY && u > 0.0 {
            // Like Prometheus: the first custom bucket counts from 0 when it reaches into
            // the positive range and the cut is not negative; otherwise an upper cut
            // inside it drops it.
            if u.is_finite() && x >= 0.0 {
                l = 0.0;
            } else if upper_trim && x < u {
                b.1 = cut(f64::INFINITY, f64::INFINITY, b.1, custom);
                continue;
            }
        }
        b.1 = cut(l, u, b.1, custom);
    }
    let mut n = expand(&h.negative_spans, &h.negative_buckets);
    for b in &mut n {
        let (l, u) = bucket_bounds(h, b.0, false);
        b.1 = cut(l, u, b.1, false);
    }
    if !custom {
        let zt = h.zero_threshold;
        let (mut l, mut u) = (-zt, zt);
        let (has_pos, has_neg) = (!h.positive_buckets.is_empty(), !h.negative_buckets.is_empty());
        if has_pos && !has_neg {
            l = 0.0;
        } else if has_neg && !has_pos {
            u = 0.0;
        }
        r.zero_count = cut(l, u, h.zero_count, true);
    }
    if !removed_any {
        return h.clone();
    }
    set_pos(&mut r, &p);
    set_neg(&mut r, &n);
    r.count = count;
    r.sum = new_sum;
    r
}

/// Fraction of bucket [l, u] below `x` (l < x < u, both finite).
fn below_fraction(l: f64, u: f64, x: f64, linear: bool) -> f64 {
    if linear || (l <= 0.0 && u >= 0.0) {
        return (x - l) / (u - l);
    }
    if u > 0.0 {
        (x.log2() - l.log2()) / (u.log2() - l.log2())
    } else {
        1.0 - ((x.abs().log2() - u.abs().log2()) / (l.abs().log2() - u.abs().log2()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(schema: i32, pos: &[(i32, f64)]) -> FloatHistogram {
        let mut x = FloatHistogram { schema, ..Default::default() };
        set_pos(&mut x, pos);
        x.count = pos.iter().map(|b| b.1).sum();
        x
    }

    #[test]
    fn bounds() {
        assert_eq!(exp_bound(0, 0), 1.0);
        assert_eq!(exp_bound(1, 0), 2.0);
        assert_eq!(exp_bound(-1, 0), 0.5);
        assert_eq!(exp_bound(2, 1), 2.0);
        assert_eq!(exp_bound(1, -1), 4.0);
    }

    #[test]
    fn add_merges_layouts_and_schemas() {
        let mut a = h(1, &[(1, 1.0), (2, 1.0)]);
        let b = h(0, &[(1, 2.0)]);
        add(&mut a, &b).unwrap();
        assert_eq!(a.schema, 0);
        assert_eq!(expand(&a.positive_spans, &a.positive_buckets), vec![(1, 4.0)]);
        assert_eq!(a.count, 4.0);
    }

    #[test]
    fn reset_detection() {
        let a = h(0, &[(1, 2.0)]);
        let b = h(0, &[(1, 1.0), (2, 1.0)]);
        assert!(detect_reset(&b, &a));
        assert!(!detect_reset(&a, &h(0, &[(1, 1.0)])));
    }

    #[test]
    fn formats_like_go() {
        let x = FloatHistogram { count: 3.0, sum: 10.0, zero_count: 1.0, zero_threshold: 0.001, ..h(0, &[(0, 2.0)]) };
        assert_eq!(to_string(&x), "{count:3, sum:10, [-0.001,0.001]:1, (0.5,1]:2}");
    }
}
