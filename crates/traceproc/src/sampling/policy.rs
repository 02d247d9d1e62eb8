//! Tail policies: ordered rules deciding whether a whole trace is kept. Used by the
//! [`TailSampler`](super::TailSampler) at ingest and by [`long_term_keep`] at retention time.

use super::{Reason, Verdict, consistent_keep, rejection_threshold};
use crate::config::{ConfigDuration, ConfigError, check_percent};
use crate::metrics::attr_string;
use seer_model::trace::{Span, StatusCode, find_attr};
use serde::Deserialize;

/// The type of a tail policy rule (`type:` in the configuration).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    /// Keep when a (matching) span has status ERROR.
    Error,
    /// Keep when the trace lasted at least `threshold` (earliest start to latest end).
    Latency,
    /// Keep `percent` % of trace ids, consistently.
    Probabilistic,
    /// Keep.
    Always,
}

impl PolicyKind {
    fn as_str(self) -> &'static str {
        match self {
            PolicyKind::Error => "error",
            PolicyKind::Latency => "latency",
            PolicyKind::Probabilistic => "probabilistic",
            PolicyKind::Always => "always",
        }
    }
}

/// One rule of `policies:` as written in the configuration:
///
/// ```yaml
/// policies:
///   - type: error                  # any span with status ERROR
///   - type: latency
///     threshold: 500ms             # trace duration >= 500 ms
///   - type: always
///     service: payment             # every trace with a payment span
///   - type: probabilistic
///     percent: 10                  # 10 % of the rest, consistent by trace id
///     attribute: {key: http.route, value: /checkout}
/// ```
///
/// `service` and `attribute` narrow a rule to traces with a span of that service and/or
/// carrying that attribute (span attribute first, then resource attribute, compared as
/// text). For `error`, the error must be on such a span.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// `error`, `latency`, `probabilistic` or `always`.
    #[serde(rename = "type")]
    pub kind: PolicyKind,
    /// `latency` only: the minimum trace duration.
    #[serde(default)]
    pub threshold: Option<ConfigDuration>,
    /// `probabilistic` only: the share kept, 0 to 100.
    #[serde(default)]
    pub percent: Option<f64>,
    /// Only traces with a span of this `service.name`.
    #[serde(default)]
    pub service: Option<String>,
    /// Only traces with a span carrying this attribute value.
    #[serde(default)]
    pub attribute: Option<AttributeMatch>,
}

/// `attribute:` of a policy rule.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AttributeMatch {
    pub key: String,
    pub value: String,
}

/// The default policies: keep traces with an error, traces lasting 500 ms or more, and 10 %
/// of the rest.
pub fn default_policies() -> Vec<PolicyConfig> {
    let rule = |kind| PolicyConfig { kind, threshold: None, percent: None, service: None, attribute: None };
    vec![
        rule(PolicyKind::Error),
        PolicyConfig { threshold: Some(ConfigDuration::from_millis(500)), ..rule(PolicyKind::Latency) },
        PolicyConfig { percent: Some(10.0), ..rule(PolicyKind::Probabilistic) },
    ]
}

/// What a checked rule tests.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RuleKind {
    Error,
    Latency {
        threshold_ns: u64,
    },
    /// `threshold` is the [`rejection_threshold`] of `percent`.
    Probabilistic {
        percent: f64,
        threshold: u64,
    },
    Always,
}

/// A checked rule with its optional filters.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub kind: RuleKind,
    pub service: Option<String>,
    pub attribute: Option<AttributeMatch>,
}

impl Rule {
    fn matches(&self, span: &Span) -> bool {
        if let Some(svc) = &self.service
            && span.resource.service_name() != svc
        {
            return false;
        }
        match &self.attribute {
            None => true,
            Some(m) => find_attr(&span.attrs, &m.key)
                .or_else(|| find_attr(&span.resource.attrs, &m.key))
                .is_some_and(|v| attr_string(v) == m.value),
        }
    }

    fn unfiltered(&self) -> bool {
        self.service.is_none() && self.attribute.is_none()
    }
}

/// Ordered tail rules: the first rule that holds keeps the trace; a trace no rule keeps is
/// dropped with [`Reason::NoMatch`].
#[derive(Clone, Debug, PartialEq)]
pub struct TailPolicy {
    pub rules: Vec<Rule>,
}

impl Default for TailPolicy {
    /// [`default_policies`], checked.
    fn default() -> TailPolicy {
        TailPolicy::new(&default_policies()).expect("default policies are valid")
    }
}

impl TailPolicy {
    /// Checks the rules: `latency` needs `threshold`, `probabilistic` needs a `percent`
    /// between 0 and 100.
    pub fn new(policies: &[PolicyConfig]) -> Result<TailPolicy, ConfigError> {
        let mut rules = Vec::with_capacity(policies.len());
        for (index, p) in policies.iter().enumerate() {
            let missing = |field| ConfigError::MissingField { index, kind: p.kind.as_str(), field };
            let kind = match p.kind {
                PolicyKind::Error => RuleKind::Error,
                PolicyKind::Always => RuleKind::Always,
                PolicyKind::Latency => {
                    RuleKind::Latency { threshold_ns: p.threshold.ok_or(missing("threshold"))?.as_nanos_u64() }
                }
                PolicyKind::Probabilistic => {
                    let percent = p.percent.ok_or(missing("percent"))?;
                    check_percent(&format!("tail policy {index} (probabilistic)"), percent)?;
                    RuleKind::Probabilistic { percent, threshold: rejection_threshold(percent) }
                }
            };
            rules.push(Rule { kind, service: p.service.clone(), attribute: p.attribute.clone() });
        }
        Ok(TailPolicy { rules })
    }

    /// The decision for the spans of one trace (see [`long_term_keep`]).
    pub fn evaluate(&self, spans: &[Span]) -> Verdict {
        let Some(first) = spans.first() else { return Verdict { keep: false, reason: Reason::NoMatch } };
        for rule in &self.rules {
            let any_match = || rule.unfiltered() || spans.iter().any(|s| rule.matches(s));
            let hit = match rule.kind {
                RuleKind::Error => spans.iter().any(|s| s.status == StatusCode::Error && rule.matches(s)),
                RuleKind::Latency { threshold_ns } => trace_duration_ns(spans) >= threshold_ns && any_match(),
                RuleKind::Probabilistic { threshold, .. } => consistent_keep(&first.trace_id, threshold) && any_match(),
                RuleKind::Always => any_match(),
            };
            if hit {
                let reason = match rule.kind {
                    RuleKind::Error => Reason::Error,
                    RuleKind::Latency { .. } => Reason::Latency,
                    RuleKind::Probabilistic { .. } => Reason::Probabilistic,
                    RuleKind::Always => Reason::Always,
                };
                return Verdict { keep: true, reason };
            }
        }
        Verdict { keep: false, reason: Reason::NoMatch }
    }
}

/// Earliest start to latest end over the spans (0 for none).
pub(crate) fn trace_duration_ns(spans: &[Span]) -> u64 {
    let start = spans.iter().map(|s| s.start_ns).min().unwrap_or(0);
    let end = spans.iter().map(|s| s.end_ns).max().unwrap_or(0);
    end.saturating_sub(start)
}

/// Whether a completed trace survives into the long retention tier: the same pure decision
/// the [`TailSampler`](super::TailSampler) makes at ingest, so the store can keep every
/// trace for a short window and, when that window ends, keep only the traces this accepts.
/// `spans` must all belong to one trace.
pub fn long_term_keep(policy: &TailPolicy, spans: &[Span]) -> Verdict {
    policy.evaluate(spans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{Rng, V, from_v, span, tid};
    use seer_model::trace::{Attr, AttrValue};

    const MS: u64 = 1_000_000;

    fn policy(p: Vec<PolicyConfig>) -> TailPolicy {
        TailPolicy::new(&p).unwrap()
    }

    #[test]
    fn default_rules_in_order() {
        let p = TailPolicy::default();
        // An error span wins even on a fast trace.
        let mut t = vec![span(tid(1), 1, 0, "a", 0, 10 * MS), span(tid(1), 2, 1, "b", MS, 2 * MS)];
        t[1].status = StatusCode::Error;
        assert_eq!(long_term_keep(&p, &t), Verdict { keep: true, reason: Reason::Error });
        // Duration is earliest start to latest end, across spans: 100 ms .. 600 ms = 500 ms.
        let t = vec![span(tid(1), 1, 0, "a", 100 * MS, 300 * MS), span(tid(1), 2, 1, "b", 400 * MS, 600 * MS)];
        assert_eq!(long_term_keep(&p, &t), Verdict { keep: true, reason: Reason::Latency });
        // 499 ms without error: left to the 10 % share. Randomness 0x01010101010101 is in the
        // lowest 1 % of the range, so dropped; 0xf0... is in the top 10 %, so kept.
        let t = vec![span(tid(1), 1, 0, "a", 100 * MS, 599 * MS)];
        assert_eq!(long_term_keep(&p, &t), Verdict { keep: false, reason: Reason::NoMatch });
        let t = vec![span(tid(0xf0), 1, 0, "a", 100 * MS, 599 * MS)];
        assert_eq!(long_term_keep(&p, &t), Verdict { keep: true, reason: Reason::Probabilistic });
        assert_eq!(long_term_keep(&p, &[]), Verdict { keep: false, reason: Reason::NoMatch });
    }

    #[test]
    fn counted_outcomes_of_the_default_policy() {
        // 20,000 traces of 3 spans: every 10th has an error, every 10th (offset 5) lasts 2 s,
        // the rest last 50 ms. All 2000 error traces and all 2000 slow traces are kept; of the
        // 16,000 others 10 % are kept: 1600 expected, 4 sigma = 4 * sqrt(16000 * 0.1 * 0.9)
        // = 151.8.
        let p = TailPolicy::default();
        let mut rng = Rng(2024);
        let (mut errors, mut slow, mut prob, mut dropped) = (0, 0, 0, 0);
        for i in 0..20_000u64 {
            let id = rng.trace_id();
            let dur = if i % 10 == 5 { 2000 * MS } else { 50 * MS };
            let mut t = vec![span(id, 1, 0, "a", 0, dur), span(id, 2, 1, "b", MS, 2 * MS), span(id, 3, 2, "c", MS, MS)];
            if i % 10 == 0 {
                t[2].status = StatusCode::Error;
            }
            match long_term_keep(&p, &t) {
                Verdict { keep: true, reason: Reason::Error } => errors += 1,
                Verdict { keep: true, reason: Reason::Latency } => slow += 1,
                Verdict { keep: true, reason: Reason::Probabilistic } => prob += 1,
                Verdict { keep: false, reason: Reason::NoMatch } => dropped += 1,
                v => panic!("unexpected {v:?}"),
            }
        }
        assert_eq!((errors, slow), (2000, 2000));
        let tol = 4.0 * (16_000.0f64 * 0.1 * 0.9).sqrt();
        assert!((prob as f64 - 1600.0).abs() <= tol, "probabilistic kept {prob}, tolerance {tol}");
        assert_eq!(prob + dropped, 16_000);
        assert_eq!(prob, 1588);
    }

    #[test]
    fn filters() {
        let p = policy(vec![
            PolicyConfig {
                kind: PolicyKind::Error,
                threshold: None,
                percent: None,
                service: Some("payment".into()),
                attribute: None,
            },
            PolicyConfig {
                kind: PolicyKind::Always,
                threshold: None,
                percent: None,
                service: None,
                attribute: Some(AttributeMatch { key: "http.route".into(), value: "/checkout".into() }),
            },
        ]);
        // An error outside payment does not count.
        let mut t = vec![span(tid(1), 1, 0, "payment", 0, 1), span(tid(1), 2, 1, "cart", 0, 1)];
        t[1].status = StatusCode::Error;
        assert_eq!(p.evaluate(&t), Verdict { keep: false, reason: Reason::NoMatch });
        t[0].status = StatusCode::Error;
        assert_eq!(p.evaluate(&t), Verdict { keep: true, reason: Reason::Error });
        // Attribute on the span, or on the resource; compared as text.
        let mut t = vec![span(tid(2), 1, 0, "web", 0, 1)];
        t[0].attrs.push(Attr::new("http.route", AttrValue::Str("/checkout".into())));
        assert_eq!(p.evaluate(&t).reason, Reason::Always);
        let mut t = vec![span(tid(2), 1, 0, "web", 0, 1)];
        let mut r = (*t[0].resource).clone();
        r.attrs.push(Attr::new("http.route", AttrValue::Str("/checkout".into())));
        t[0].resource = std::sync::Arc::new(r);
        assert_eq!(p.evaluate(&t).reason, Reason::Always);
        let p = policy(vec![PolicyConfig {
            kind: PolicyKind::Always,
            threshold: None,
            percent: None,
            service: None,
            attribute: Some(AttributeMatch { key: "http.status_code".into(), value: "500".into() }),
        }]);
        let mut t = vec![span(tid(3), 1, 0, "web", 0, 1)];
        t[0].attrs.push(Attr::new("http.status_code", AttrValue::Int(500)));
        assert!(p.evaluate(&t).keep);
    }

    #[test]
    fn probabilistic_is_consistent() {
        let p = policy(vec![PolicyConfig {
            kind: PolicyKind::Probabilistic,
            threshold: None,
            percent: Some(30.0),
            service: None,
            attribute: None,
        }]);
        let mut rng = Rng(5);
        for _ in 0..1000 {
            let id = rng.trace_id();
            // Whatever spans of the trace are looked at, the decision is the trace id's.
            let a = p.evaluate(&[span(id, 1, 0, "a", 0, 1)]);
            let b = p.evaluate(&[span(id, 2, 1, "b", 5, 9), span(id, 3, 2, "c", 0, 1)]);
            assert_eq!(a, b);
        }
    }

    #[test]
    fn checks() {
        let e = TailPolicy::new(&[PolicyConfig {
            kind: PolicyKind::Latency,
            threshold: None,
            percent: None,
            service: None,
            attribute: None,
        }])
        .unwrap_err();
        assert_eq!(e.to_string(), "tail policy 0 (latency): missing `threshold`");
        let e = TailPolicy::new(&[PolicyConfig {
            kind: PolicyKind::Probabilistic,
            threshold: None,
            percent: Some(150.0),
            service: None,
            attribute: None,
        }])
        .unwrap_err();
        assert!(matches!(e, ConfigError::Percent { .. }));
        let c: Vec<PolicyConfig> = from_v(V::L(vec![
            V::M(vec![("type", V::S("probabilistic")), ("percent", V::U(5)), ("service", V::S("web"))]),
            V::M(vec![("type", V::S("always")), ("attribute", V::M(vec![("key", V::S("k")), ("value", V::S("v"))]))]),
        ]))
        .unwrap();
        let p = TailPolicy::new(&c).unwrap();
        assert_eq!(p.rules[0].kind, RuleKind::Probabilistic { percent: 5.0, threshold: rejection_threshold(5.0) });
        assert_eq!(p.rules[0].service.as_deref(), Some("web"));
        assert_eq!(p.rules[1].attribute, Some(AttributeMatch { key: "k".into(), value: "v".into() }));
        assert!(from_v::<Vec<PolicyConfig>>(V::L(vec![V::M(vec![("type", V::S("sometimes"))])])).is_err());
    }
}
