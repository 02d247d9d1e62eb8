//! `info(v [, selector])`: enriches series with the data labels of info metrics
//! (`target_info` by default) that share their identifying labels (`instance`, `job`).

use crate::eval::{Ctx, OutBuilder, PVal, StepReader, Steps, Value};
use crate::functions::{eval_vector, unwrap_parens};
use crate::parser::ast::{At, Expr};
use crate::value::{QueryError, exec_err};
use seer_model::{Labels, LabelsBuilder, METRIC_NAME, MatchKind, Matcher};

const IDENTIFYING: [&str; 2] = ["instance", "job"];

/// The time at which `e` reads its data for evaluation time `ts` (offsets and `@` of the
/// first selector or subquery on the way down).
fn reference_time(ctx: &Ctx<'_>, e: &Expr, ts: i64) -> Result<i64, QueryError> {
    let at_ms = |a: &Option<At>| ctx.at_ms(a.as_ref());
    match unwrap_parens(e) {
        Expr::Selector(vs) | Expr::Matrix { selector: vs, .. } => {
            let off = match &vs.offset {
                Some(d) => ctx.duration_ms(d, true)?,
                None => 0,
            };
            Ok(at_ms(&vs.at).unwrap_or(ts) - off)
        }
        Expr::Subquery { expr, offset, at, .. } => {
            let off = match offset {
                Some(d) => ctx.duration_ms(d, true)?,
                None => 0,
            };
            reference_time(ctx, expr, at_ms(at).unwrap_or(ts) - off)
        }
        Expr::Call { args, .. } => match args.iter().find(|a| has_selector(a)) {
            Some(a) => reference_time(ctx, a, ts),
            None => Ok(ts),
        },
        Expr::Aggregate { expr, .. } | Expr::Unary { expr, .. } => reference_time(ctx, expr, ts),
        Expr::Binary { lhs, rhs, .. } => {
            if has_selector(lhs) {
                reference_time(ctx, lhs, ts)
            } else {
                reference_time(ctx, rhs, ts)
            }
        }
        _ => Ok(ts),
    }
}

fn has_selector(e: &Expr) -> bool {
    match e {
        Expr::Selector(_) | Expr::Matrix { .. } | Expr::Subquery { .. } => true,
        Expr::Paren { expr, .. } | Expr::Unary { expr, .. } | Expr::Aggregate { expr, .. } => has_selector(expr),
        Expr::Binary { lhs, rhs, .. } => has_selector(lhs) || has_selector(rhs),
        Expr::Call { args, .. } => args.iter().any(has_selector),
        _ => false,
    }
}

/// Evaluates `info()`.
pub(crate) fn eval_info(
    ctx: &mut Ctx<'_>,
    st: Steps,
    args: &[Expr],
    _span: crate::parser::ast::Span,
) -> Result<Value, QueryError> {
    let base = eval_vector(ctx, st, &args[0])?;
    let mut name_matchers: Vec<Matcher> = Vec::new();
    let mut data_matchers: Vec<Matcher> = Vec::new();
    if let Some(Expr::Selector(vs)) = args.get(1).map(unwrap_parens) {
        for m in &vs.matchers {
            if m.name == METRIC_NAME {
                name_matchers.push(m.clone());
            } else {
                data_matchers.push(m.clone());
            }
        }
    }
    if name_matchers.is_empty() {
        name_matchers.push(Matcher::equal(METRIC_NAME, "target_info"));
    } else if !name_matchers.iter().any(|m| matches!(m.kind, MatchKind::Equal | MatchKind::Regex)) {
        // Only negative name matchers: info metrics are still the `*_info` ones.
        if let Ok(m) = Matcher::new(MatchKind::Regex, METRIC_NAME, ".+_info") {
            name_matchers.push(m);
        }
    }
    let refs: Vec<i64> = (0..st.count()).map(|k| reference_time(ctx, &args[0], st.ts(k))).collect::<Result<_, _>>()?;
    let lb = ctx.lookback;
    let lo = refs.iter().copied().min().unwrap_or(st.start) - lb + 1;
    let hi = refs.iter().copied().max().unwrap_or(st.end);
    let mut sel_matchers = name_matchers.clone();
    sel_matchers.extend(data_matchers.iter().cloned());
    let infos = ctx.select(&sel_matchers, lo, hi)?;
    if infos.iter().any(|s| !s.histograms.is_empty()) {
        return exec_err("info metrics must be float series, found histogram samples");
    }
    let requires_data = data_matchers.iter().any(|m| !m.matches(""));
    // A base series is an info series itself when it matches all name matchers.
    let is_info_name = |l: &Labels| {
        let n = l.metric_name().unwrap_or("");
        name_matchers.iter().all(|m| m.matches(n))
    };
    let mut out = OutBuilder::new();
    let mut reader = StepReader::new(base.len());
    for (k, &r) in refs.iter().enumerate() {
        let ts = st.ts(k);
        // Info series with a live sample at the reference time: (series index, sample time).
        let mut live: Vec<(usize, i64)> = Vec::new();
        for (i, s) in infos.iter().enumerate() {
            if let Some(p) = s.floats.iter().rev().find(|p| p.t <= r)
                && p.t > r - lb
                && !seer_model::is_stale_nan(p.v)
            {
                live.push((i, p.t));
            }
        }
        for i in 0..base.len() {
            let Some(v) = reader.at(&base, i, ts) else { continue };
            let bl = &base[i].labels;
            let mut labels = bl.clone();
            if !is_info_name(bl) {
                let ids: Vec<(&str, &str)> = IDENTIFYING.iter().filter_map(|&n| bl.get(n).map(|v| (n, v))).collect();
                let mut chosen: Vec<(usize, i64)> = Vec::new();
                if !ids.is_empty() {
                    for &(j, t) in &live {
                        let il = &infos[j].labels;
                        if !ids.iter().all(|(n, v)| il.get(n) == Some(v)) {
                            continue;
                        }
                        let sig = |l: &Labels| {
                            (
                                l.metric_name().unwrap_or("").to_string(),
                                l.get("instance").unwrap_or("").to_string(),
                                l.get("job").unwrap_or("").to_string(),
                            )
                        };
                        match chosen.iter_mut().find(|(c, _)| sig(&infos[*c].labels) == sig(il)) {
                            Some(c) => {
                                if c.1 == t {
                                    return exec_err(format!(
                                        "found duplicate series for info metric: existing {} @ {}, new {} @ {}",
                                        infos[c.0].labels, c.1, il, t
                                    ));
                                }
                                if t > c.1 {
                                    *c = (j, t);
                                }
                            }
                            None => chosen.push((j, t)),
                        }
                    }
                }
                if chosen.is_empty() {
                    if requires_data {
                        continue;
                    }
                } else {
                    let mut b: LabelsBuilder = bl.to_builder();
                    let mut added: Vec<(String, String)> = Vec::new();
                    for &(j, _) in &chosen {
                        for l in infos[j].labels.iter() {
                            if l.name == METRIC_NAME || bl.get(&l.name).is_some() {
                                continue;
                            }
                            if !data_matchers.is_empty() && !data_matchers.iter().any(|m| m.name == l.name) {
                                continue;
                            }
                            match added.iter().find(|(n, _)| n == &l.name) {
                                Some((_, v)) if v != &l.value => {
                                    return exec_err(format!("conflicting label: {}", l.name));
                                }
                                Some(_) => {}
                                None => added.push((l.name.clone(), l.value.clone())),
                            }
                        }
                    }
                    for (n, v) in added {
                        b.set(n, v);
                    }
                    labels = b.build();
                }
            }
            let slot = out.slot(&labels, base[i].drop_name);
            match v {
                PVal::F(f) => out.push_f(slot, ts, f)?,
                PVal::H(h) => out.push_h(slot, ts, h.clone())?,
            }
        }
    }
    Ok(Value::Vector(out.finish()))
}
