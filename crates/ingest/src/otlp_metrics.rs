//! OTLP metrics → Prometheus series, following Prometheus 3.x's default translation
//! (`UnderscoreEscapingWithSuffixes`): metric names get unit and `_total`/`_ratio` suffixes,
//! attribute keys become label names, `service.name`/`service.namespace` become `job`,
//! `service.instance.id` becomes `instance`, other resource attributes go to `target_info`.
//!
//! Deliberate difference: Prometheus 3.7+ rolls back the whole request on any translation
//! error; Seer keeps the valid metrics and reports the rest as an OTLP partial success.
//! Exponential histograms (native histograms) are refused until Seer stores them.

use crate::proto::otlp::common::{AnyValue, KeyValue, any_value};
use crate::proto::otlp::metrics::{AggregationTemporality, ExportMetricsServiceRequest, metric, number_data_point};
use crate::proto::otlp::metrics::{Exemplar as PbExemplar, exemplar};
use crate::{Rejected, reject};
use seer_encoding::base64_encode;
use seer_model::{
    Exemplar, Label, Labels, LabelsBuilder, MetricMetadata, MetricType, Sample, SeriesSamples, stale_nan,
};
use std::collections::HashMap;

/// Step between `target_info` samples: half the default 5 m lookback, as Prometheus does.
const TARGET_INFO_STEP_MS: i64 = 150_000;
const NO_RECORDED_VALUE: u32 = 1;
const MAX_EXEMPLAR_RUNES: usize = 128;

/// The result of translating one request.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Translated {
    /// Series, each with its samples sorted by time.
    pub series: Vec<SeriesSamples>,
    /// Native histogram series (from exponential histograms), samples sorted by time.
    pub histograms: Vec<seer_model::SeriesHistograms>,
    /// Metadata per metric family.
    pub metadata: Vec<MetricMetadata>,
    /// Data points refused, by reason.
    pub rejected: Vec<Rejected>,
}

impl Translated {
    /// Total rejected data points.
    pub fn rejected_points(&self) -> u64 {
        self.rejected.iter().map(|r| r.count).sum()
    }
}

/// Groups samples by label set while translating.
#[derive(Default)]
struct Builder {
    index: HashMap<Labels, usize>,
    hist_index: HashMap<Labels, usize>,
    out: Translated,
    metadata_seen: HashMap<String, usize>,
}

impl Builder {
    fn push(&mut self, labels: Labels, t: i64, v: f64, exemplars: Vec<Exemplar>) {
        let i = match self.index.get(&labels) {
            Some(&i) => i,
            None => {
                self.out.series.push(SeriesSamples {
                    labels: labels.clone(),
                    samples: Vec::new(),
                    exemplars: Vec::new(),
                });
                self.index.insert(labels, self.out.series.len() - 1);
                self.out.series.len() - 1
            }
        };
        let s = &mut self.out.series[i];
        s.samples.push(Sample { t, v });
        s.exemplars.extend(exemplars);
    }

    fn push_hist(&mut self, labels: Labels, t: i64, h: seer_model::FloatHistogram) {
        let i = match self.hist_index.get(&labels) {
            Some(&i) => i,
            None => {
                self.out
                    .histograms
                    .push(seer_model::SeriesHistograms { labels: labels.clone(), histograms: Vec::new() });
                self.hist_index.insert(labels, self.out.histograms.len() - 1);
                self.out.histograms.len() - 1
            }
        };
        self.out.histograms[i].histograms.push(seer_model::HistogramSample { t, h });
    }

    fn metadata(&mut self, family: &str, kind: MetricType, help: &str, unit: &str) {
        if self.metadata_seen.contains_key(family) {
            return;
        }
        self.metadata_seen.insert(family.to_string(), self.out.metadata.len());
        self.out.metadata.push(MetricMetadata {
            metric_family: family.to_string(),
            kind,
            help: help.to_string(),
            unit: unit.to_string(),
        });
    }

    fn finish(mut self) -> Translated {
        for s in &mut self.out.series {
            s.samples.sort_by_key(|x| x.t);
            s.exemplars.sort_by_key(|e| e.t);
        }
        for s in &mut self.out.histograms {
            s.histograms.sort_by_key(|x| x.t);
        }
        self.out
    }
}

fn ns_to_ms(ns: u64) -> i64 {
    (ns / 1_000_000) as i64
}

/// Translates an OTLP metrics request.
pub fn translate(req: &ExportMetricsServiceRequest) -> Translated {
    let mut b = Builder::default();
    for rm in &req.resource_metrics {
        let empty = Vec::new();
        let rattrs = rm.resource.as_ref().map(|r| &r.attributes).unwrap_or(&empty);
        let (job, instance) = job_and_instance(rattrs);
        let mut earliest = i64::MAX;
        let mut latest = i64::MIN;
        for sm in &rm.scope_metrics {
            for m in &sm.metrics {
                let mut widen = |ns: u64| {
                    let t = ns_to_ms(ns);
                    earliest = earliest.min(t);
                    latest = latest.max(t);
                };
                match &m.data {
                    Some(metric::Data::Gauge(g)) => g.data_points.iter().for_each(|p| widen(p.time_unix_nano)),
                    Some(metric::Data::Sum(s)) => s.data_points.iter().for_each(|p| widen(p.time_unix_nano)),
                    Some(metric::Data::Histogram(h)) => h.data_points.iter().for_each(|p| widen(p.time_unix_nano)),
                    Some(metric::Data::ExponentialHistogram(h)) => {
                        h.data_points.iter().for_each(|p| widen(p.time_unix_nano))
                    }
                    Some(metric::Data::Summary(s)) => s.data_points.iter().for_each(|p| widen(p.time_unix_nano)),
                    None => {}
                }
                translate_metric(&mut b, m, job.as_deref(), instance.as_deref());
            }
        }
        if earliest <= latest {
            target_info(&mut b, rattrs, job.as_deref(), instance.as_deref(), earliest, latest);
        }
    }
    b.finish()
}

fn job_and_instance(attrs: &[KeyValue]) -> (Option<String>, Option<String>) {
    let get = |k: &str| attrs.iter().find(|kv| kv.key == k).map(|kv| any_value_string(kv.value.as_ref()));
    let job = get("service.name").map(|name| match get("service.namespace") {
        Some(ns) => format!("{ns}/{name}"),
        None => name,
    });
    (job, get("service.instance.id"))
}

/// Label set of a data point: sanitized attributes (colliding names joined with `;` in
/// key order), then `job` and `instance`, then the metric name and extras.
fn point_labels(attrs: &[KeyValue], job: Option<&str>, instance: Option<&str>) -> Result<LabelsBuilder, String> {
    let mut sorted: Vec<&KeyValue> = attrs.iter().filter(|kv| kv.key != "__name__").collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    let mut b = LabelsBuilder::new();
    for kv in sorted {
        let name = label_name(&kv.key)?;
        let value = any_value_string(kv.value.as_ref());
        let existing = b.get(&name).to_string();
        let v = if existing.is_empty() { value } else { format!("{existing};{value}") };
        b.set(name, v);
    }
    if let Some(j) = job {
        b.set("job".into(), j.to_string());
    }
    if let Some(i) = instance {
        b.set("instance".into(), i.to_string());
    }
    Ok(b)
}

fn with(b: &LabelsBuilder, extra: &[(&str, String)]) -> Labels {
    let mut b = b.clone();
    for (n, v) in extra {
        b.set(n.to_string(), v.clone());
    }
    b.build()
}

fn translate_metric(
    b: &mut Builder,
    m: &crate::proto::otlp::metrics::Metric,
    job: Option<&str>,
    instance: Option<&str>,
) {
    let Some(data) = &m.data else {
        reject(&mut b.out.rejected, format!("metric {:?} has no data", m.name), 0);
        return;
    };
    let points = match data {
        metric::Data::Gauge(g) => g.data_points.len(),
        metric::Data::Sum(s) => s.data_points.len(),
        metric::Data::Histogram(h) => h.data_points.len(),
        metric::Data::ExponentialHistogram(h) => h.data_points.len(),
        metric::Data::Summary(s) => s.data_points.len(),
    } as u64;
    let cumulative = |t: i32| t == AggregationTemporality::Cumulative as i32;
    let (kind, meta_type) = match data {
        metric::Data::Gauge(_) => (NameKind::Gauge, MetricType::Gauge),
        metric::Data::Sum(s) => {
            if !cumulative(s.aggregation_temporality) {
                reject(&mut b.out.rejected, temporality_error(&m.name), points);
                return;
            }
            if s.is_monotonic { (NameKind::Counter, MetricType::Counter) } else { (NameKind::Other, MetricType::Gauge) }
        }
        metric::Data::Histogram(h) => {
            if !cumulative(h.aggregation_temporality) {
                reject(&mut b.out.rejected, temporality_error(&m.name), points);
                return;
            }
            (NameKind::Other, MetricType::Histogram)
        }
        metric::Data::ExponentialHistogram(h) => {
            if !cumulative(h.aggregation_temporality) {
                reject(&mut b.out.rejected, temporality_error(&m.name), points);
                return;
            }
            (NameKind::Other, MetricType::Histogram)
        }
        metric::Data::Summary(_) => (NameKind::Other, MetricType::Summary),
    };
    let name = match metric_name(&m.name, &m.unit, kind) {
        Ok(n) => n,
        Err(e) => {
            reject(&mut b.out.rejected, e, points);
            return;
        }
    };
    b.metadata(&name, meta_type, &m.description, &unit_name(&m.unit));
    match data {
        metric::Data::Gauge(g) => {
            for p in &g.data_points {
                let Some(base) = labels_or_reject(b, &p.attributes, job, instance) else { continue };
                let v = if p.flags & NO_RECORDED_VALUE != 0 { stale_nan() } else { number_value(p.value) };
                b.push(with(&base, &[("__name__", name.clone())]), ns_to_ms(p.time_unix_nano), v, Vec::new());
            }
        }
        metric::Data::Sum(s) => {
            for p in &s.data_points {
                let Some(base) = labels_or_reject(b, &p.attributes, job, instance) else { continue };
                let v = if p.flags & NO_RECORDED_VALUE != 0 { stale_nan() } else { number_value(p.value) };
                let ex = p.exemplars.iter().filter_map(convert_exemplar).collect();
                b.push(with(&base, &[("__name__", name.clone())]), ns_to_ms(p.time_unix_nano), v, ex);
            }
        }
        metric::Data::Histogram(h) => {
            for p in &h.data_points {
                let Some(base) = labels_or_reject(b, &p.attributes, job, instance) else { continue };
                let t = ns_to_ms(p.time_unix_nano);
                let stale = p.flags & NO_RECORDED_VALUE != 0;
                let val = |v: f64| if stale { stale_nan() } else { v };
                if let Some(sum) = p.sum {
                    b.push(with(&base, &[("__name__", format!("{name}_sum"))]), t, val(sum), Vec::new());
                }
                b.push(with(&base, &[("__name__", format!("{name}_count"))]), t, val(p.count as f64), Vec::new());
                let mut exemplars: Vec<Exemplar> = p.exemplars.iter().filter_map(convert_exemplar).collect();
                exemplars.reverse(); // pop from the front in order
                let mut cum = 0u64;
                let bucket = format!("{name}_bucket");
                for (bound, count) in p.explicit_bounds.iter().zip(&p.bucket_counts) {
                    cum += count;
                    let mut ex = Vec::new();
                    while exemplars.last().is_some_and(|e| e.v <= *bound) {
                        ex.extend(exemplars.pop());
                    }
                    b.push(
                        with(&base, &[("__name__", bucket.clone()), ("le", format_float(*bound))]),
                        t,
                        val(cum as f64),
                        ex,
                    );
                }
                exemplars.reverse();
                b.push(
                    with(&base, &[("__name__", bucket.clone()), ("le", "+Inf".into())]),
                    t,
                    val(p.count as f64),
                    exemplars,
                );
            }
        }
        metric::Data::Summary(s) => {
            for p in &s.data_points {
                let Some(base) = labels_or_reject(b, &p.attributes, job, instance) else { continue };
                let t = ns_to_ms(p.time_unix_nano);
                let stale = p.flags & NO_RECORDED_VALUE != 0;
                let val = |v: f64| if stale { stale_nan() } else { v };
                b.push(with(&base, &[("__name__", format!("{name}_sum"))]), t, val(p.sum), Vec::new());
                b.push(with(&base, &[("__name__", format!("{name}_count"))]), t, val(p.count as f64), Vec::new());
                for q in &p.quantile_values {
                    b.push(
                        with(&base, &[("__name__", name.clone()), ("quantile", format_float(q.quantile))]),
                        t,
                        val(q.value),
                        Vec::new(),
                    );
                }
            }
        }
        metric::Data::ExponentialHistogram(h) => {
            for p in &h.data_points {
                let Some(base) = labels_or_reject(b, &p.attributes, job, instance) else { continue };
                match exponential_to_native(p) {
                    Ok(nh) => b.push_hist(with(&base, &[("__name__", name.clone())]), ns_to_ms(p.time_unix_nano), nh),
                    Err(e) => reject(&mut b.out.rejected, format!("metric {:?}: {e}", name), 1),
                }
            }
        }
    }
}

/// An OTLP exponential histogram data point as a native histogram, as Prometheus' OTLP
/// translator converts it: scale → schema (finer than 8 is merged down to 8), bucket
/// index k → k+1, zero threshold 1e-128.
pub fn exponential_to_native(
    p: &crate::proto::otlp::metrics::ExponentialHistogramDataPoint,
) -> Result<seer_model::FloatHistogram, String> {
    if p.scale < -4 {
        return Err(format!("cannot convert exponential to native histogram. Scale must be >= -4, was {}", p.scale));
    }
    let (schema, down) = if p.scale > 8 { (8, p.scale - 8) } else { (p.scale, 0) };
    let side = |b: &Option<crate::proto::otlp::metrics::Buckets>| -> Vec<(i32, f64)> {
        let mut out: Vec<(i32, f64)> = Vec::new();
        if let Some(b) = b {
            for (i, c) in b.bucket_counts.iter().enumerate() {
                let k = b.offset as i64 + i as i64;
                let idx = ((k >> down) + 1) as i32;
                match out.last_mut() {
                    Some(last) if last.0 == idx => last.1 += *c as f64,
                    _ => out.push((idx, *c as f64)),
                }
            }
        }
        out.retain(|x| x.1 != 0.0);
        out
    };
    let mut h = seer_model::FloatHistogram {
        schema,
        zero_threshold: 1e-128,
        zero_count: p.zero_count as f64,
        count: p.count as f64,
        sum: p.sum.unwrap_or(0.0),
        ..Default::default()
    };
    (h.positive_spans, h.positive_buckets) = seer_model::histogram::collapse(&side(&p.positive));
    (h.negative_spans, h.negative_buckets) = seer_model::histogram::collapse(&side(&p.negative));
    if p.flags & NO_RECORDED_VALUE != 0 {
        h = seer_model::FloatHistogram { sum: stale_nan(), ..Default::default() };
    }
    Ok(h)
}

fn labels_or_reject(
    b: &mut Builder,
    attrs: &[KeyValue],
    job: Option<&str>,
    instance: Option<&str>,
) -> Option<LabelsBuilder> {
    match point_labels(attrs, job, instance) {
        Ok(l) => Some(l),
        Err(e) => {
            reject(&mut b.out.rejected, e, 1);
            None
        }
    }
}

fn temporality_error(name: &str) -> String {
    format!(
        "invalid temporality and type combination for metric {name:?} (Seer accepts cumulative sums and histograms; configure the exporter with cumulative temporality)"
    )
}

fn number_value(v: Option<number_data_point::Value>) -> f64 {
    match v {
        Some(number_data_point::Value::AsDouble(d)) => d,
        Some(number_data_point::Value::AsInt(i)) => i as f64,
        None => 0.0,
    }
}

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

fn convert_exemplar(e: &PbExemplar) -> Option<Exemplar> {
    let v = match e.value? {
        exemplar::Value::AsDouble(d) => d,
        exemplar::Value::AsInt(i) => i as f64,
    };
    let mut pairs: Vec<Label> = Vec::new();
    let mut runes = 0;
    if !e.trace_id.is_empty() && e.trace_id.iter().any(|&b| b != 0) {
        let h = hex(&e.trace_id);
        runes += "trace_id".len() + h.len();
        pairs.push(Label::new("trace_id", h));
    }
    if !e.span_id.is_empty() && e.span_id.iter().any(|&b| b != 0) {
        let h = hex(&e.span_id);
        runes += "span_id".len() + h.len();
        pairs.push(Label::new("span_id", h));
    }
    let mut extra: Vec<Label> = Vec::new();
    let mut extra_runes = 0;
    for kv in &e.filtered_attributes {
        let v = any_value_string(kv.value.as_ref());
        extra_runes += kv.key.chars().count() + v.chars().count();
        extra.push(Label::new(kv.key.clone(), v));
    }
    if runes + extra_runes <= MAX_EXEMPLAR_RUNES {
        pairs.extend(extra);
    }
    let labels = Labels::from_pairs(pairs.into_iter().map(|l| (l.name, l.value)));
    Some(Exemplar { labels, t: ns_to_ms(e.time_unix_nano), v })
}

fn target_info(
    b: &mut Builder,
    attrs: &[KeyValue],
    job: Option<&str>,
    instance: Option<&str>,
    earliest: i64,
    latest: i64,
) {
    const IDENTIFYING: [&str; 3] = ["service.name", "service.namespace", "service.instance.id"];
    let rest: Vec<KeyValue> = attrs.iter().filter(|kv| !IDENTIFYING.contains(&kv.key.as_str())).cloned().collect();
    if rest.is_empty() || (job.is_none() && instance.is_none()) {
        return;
    }
    let Ok(base) = point_labels(&rest, job, instance) else { return };
    let labels = with(&base, &[("__name__", "target_info".into())]);
    b.metadata("target_info", MetricType::Gauge, "Target metadata", "");
    let mut t = earliest;
    while t < latest {
        b.push(labels.clone(), t, 1.0, Vec::new());
        t += TARGET_INFO_STEP_MS;
    }
    b.push(labels, latest, 1.0, Vec::new());
    // Dedupe timestamps already present from another resource in the same request.
    if let Some(&i) = b.index.get(&with(&base, &[("__name__", "target_info".into())])) {
        let s = &mut b.out.series[i];
        s.samples.sort_by_key(|x| x.t);
        s.samples.dedup_by_key(|x| x.t);
    }
}

/// Which suffix rules apply to a metric name.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NameKind {
    /// Gauges: unit "1" adds `_ratio`.
    Gauge,
    /// Monotonic sums: `_total` is added.
    Counter,
    /// Non-monotonic sums, histograms, summaries.
    Other,
}

fn unit_word(main: &str) -> &str {
    match main {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "1" => "",
        "%" => "percent",
        other => other,
    }
}

fn per_word(per: &str) -> &str {
    match per {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        other => other,
    }
}

/// Replaces runs of characters outside `[A-Za-z0-9:]` by one `_` and strips one leading `_`.
fn clean_unit(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = if c.is_ascii_alphanumeric() || c == ':' { c } else { '_' };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    match out.strip_prefix('_') {
        Some(rest) => rest.to_string(),
        None => out,
    }
}

/// The unit split into its main word and its `per_` word, cleaned.
fn unit_parts(unit: &str) -> (String, String) {
    let (main, per) = match unit.split_once('/') {
        Some((m, p)) => (m, Some(p)),
        None => (unit, None),
    };
    let main = main.trim();
    let main = if !main.is_empty() && !main.contains(['{', '}']) { unit_word(main).to_string() } else { String::new() };
    let mut per_s = String::new();
    if let Some(p) = per.filter(|p| !p.is_empty()) {
        let p = p.trim();
        if !p.is_empty() && !p.contains(['{', '}']) {
            let w = per_word(p);
            if !w.is_empty() {
                per_s = format!("per_{w}");
            }
        }
    }
    (clean_unit(&main), clean_unit(&per_s))
}

/// The Prometheus metric name for an OTLP metric.
pub fn metric_name(name: &str, unit: &str, kind: NameKind) -> Result<String, String> {
    let mut tokens: Vec<String> = name
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == ':'))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    let (mut main, mut per) = unit_parts(unit);
    if tokens.contains(&main) {
        main.clear();
    }
    if per == "per_" {
        per.clear();
    } else {
        if per.ends_with('_') {
            per.pop();
        }
        if tokens.contains(&per) {
            per.clear();
        }
    }
    if !per.is_empty() && main.ends_with('_') {
        main.pop();
    }
    if !main.is_empty() {
        tokens.push(main);
    }
    if !per.is_empty() {
        tokens.push(per);
    }
    if kind == NameKind::Counter {
        tokens.retain(|t| t != "total");
        tokens.push("total".into());
    }
    if unit == "1" && kind == NameKind::Gauge {
        tokens.retain(|t| t != "ratio");
        tokens.push("ratio".into());
    }
    let mut out = tokens.join("_");
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    if out.is_empty() {
        return Err(format!("normalization for metric {name:?} resulted in empty name"));
    }
    if out != name && out.chars().all(|c| c == '_') {
        return Err(format!("normalization for metric {name:?} resulted in invalid name {out:?}"));
    }
    Ok(out)
}

/// The unit as reported in metadata: main and per words joined.
pub fn unit_name(unit: &str) -> String {
    let (main, per) = unit_parts(unit);
    let joined = match (main.is_empty(), per.is_empty()) {
        (false, false) => format!("{main}_{per}"),
        (false, true) => main,
        (true, false) => per,
        (true, true) => String::new(),
    };
    let s = joined.strip_prefix('_').unwrap_or(&joined);
    s.strip_suffix('_').unwrap_or(s).to_string()
}

/// The Prometheus label name for an attribute key.
pub fn label_name(key: &str) -> Result<String, String> {
    if key.is_empty() {
        return Err("label name is empty".to_string());
    }
    let mut out: String = key.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "key_");
    } else if out.starts_with('_') && !out.starts_with("__") {
        out.insert_str(0, "key");
    }
    if out.chars().all(|c| c == '_') {
        return Err(format!("normalization for label name {key:?} resulted in invalid name {out:?}"));
    }
    Ok(out)
}

/// Formats a bucket bound or quantile as Go's `FormatFloat(v, 'f', -1, 64)` does.
pub fn format_float(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    if v.is_nan() {
        return "NaN".into();
    }
    format!("{v}")
}

/// The string form of an attribute value, as the OpenTelemetry Collector's `AsString`.
pub fn any_value_string(v: Option<&AnyValue>) -> String {
    let Some(v) = v.and_then(|v| v.value.as_ref()) else { return String::new() };
    match v {
        any_value::Value::StringValue(s) => s.clone(),
        any_value::Value::BoolValue(b) => b.to_string(),
        any_value::Value::IntValue(i) => i.to_string(),
        any_value::Value::DoubleValue(d) => json_float(*d),
        any_value::Value::BytesValue(b) => base64_encode(b),
        any_value::Value::ArrayValue(_) | any_value::Value::KvlistValue(_) => {
            let s = serde_json::to_string(&to_json(v)).unwrap_or_default();
            s.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
        }
    }
}

fn to_json(v: &any_value::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        any_value::Value::StringValue(s) => J::String(s.clone()),
        any_value::Value::BoolValue(b) => J::Bool(*b),
        any_value::Value::IntValue(i) => J::from(*i),
        any_value::Value::DoubleValue(d) => serde_json::Number::from_f64(*d).map(J::Number).unwrap_or(J::Null),
        any_value::Value::BytesValue(b) => J::String(base64_encode(b)),
        any_value::Value::ArrayValue(a) => {
            J::Array(a.values.iter().map(|x| x.value.as_ref().map(to_json).unwrap_or(J::Null)).collect())
        }
        any_value::Value::KvlistValue(kv) => {
            // Keys sorted, as Go's encoding/json writes maps.
            let mut entries: Vec<_> = kv.values.iter().collect();
            entries.sort_by(|a, b| a.key.cmp(&b.key));
            let mut m = serde_json::Map::new();
            for e in entries {
                m.insert(
                    e.key.clone(),
                    e.value.as_ref().and_then(|x| x.value.as_ref()).map(to_json).unwrap_or(J::Null),
                );
            }
            J::Object(m)
        }
    }
}

fn json_float(d: f64) -> String {
    if d.is_nan() {
        return "json: unsupported value: NaN".into();
    }
    if d.is_infinite() {
        return format!("json: unsupported value: {}", if d > 0.0 { "+Inf" } else { "-Inf" });
    }
    let a = d.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        let s = format!("{d:e}");
        // Rust writes 1e21 / 1.5e-7; Go's JSON form is 1e+21 / 1.5e-7.
        return match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => s,
        };
    }
    format!("{d}")
}

#[cfg(test)]
mod tests;
