//! One target's scrape: fetch, parse, label, relabel, limit, staleness, report series.
//!
//! [`Scraper::process`] is the pure part (bytes in, samples out) and is tested without a
//! network; [`fetch`] is the HTTP part; [`crate::manager`] runs them on a timer.

use crate::config::Job;
use crate::relabel::{Rule, process as relabel};
use crate::target::Target;
use seer_ingest::exposition::{self, Format, Parsed};
use seer_model::{
    Exemplar, Label, Labels, LabelsBuilder, METRIC_NAME, MetricMetadata, Sample, SeriesSamples, stale_nan,
};
use std::collections::{HashMap, HashSet};

/// Samples with timestamps further than this in the future are dropped (Prometheus 3).
const MAX_AHEAD_MS: i64 = 10 * 60 * 1000;

/// The scrape protocols Prometheus 3 asks for, best first.
pub const ACCEPT: &str = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

/// What one scrape attempt produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScrapeResult {
    /// Samples to store: scraped series, staleness markers and the report series.
    pub series: Vec<SeriesSamples>,
    /// Metadata of the scraped families.
    pub metadata: Vec<MetricMetadata>,
    /// Why the scrape failed (`up` is 0), if it did.
    pub error: Option<String>,
    /// `scrape_samples_scraped`.
    pub samples_scraped: u64,
    /// `scrape_samples_post_metric_relabeling`.
    pub samples_post_relabel: u64,
    /// `scrape_series_added`.
    pub series_added: u64,
}

/// The body of a scrape, or why there is none.
pub enum Fetched {
    /// 200 with a body (decompressed) and its format.
    Body(Vec<u8>, Format),
    /// Any failure before parsing.
    Failed(String),
}

/// Per-target state carried between scrapes.
pub struct Scraper {
    target: Target,
    honor_labels: bool,
    honor_timestamps: bool,
    track_ts_staleness: bool,
    sample_limit: u64,
    label_limit: u64,
    label_name_length_limit: u64,
    label_value_length_limit: u64,
    metric_rules: Vec<Rule>,
    /// Series written without explicit timestamps by the last attempt, for staleness.
    seen: HashMap<Labels, ()>,
    /// Series of the last successful scrape, for `scrape_series_added`.
    cache: HashSet<u64>,
}

impl Scraper {
    /// State for a target of `job`.
    pub fn new(target: Target, job: &Job, metric_rules: Vec<Rule>) -> Scraper {
        Scraper {
            target,
            honor_labels: job.config.honor_labels,
            honor_timestamps: job.honor_timestamps,
            track_ts_staleness: job.config.track_timestamps_staleness,
            sample_limit: job.sample_limit,
            label_limit: job.label_limit,
            label_name_length_limit: job.label_name_length_limit,
            label_value_length_limit: job.label_value_length_limit,
            metric_rules,
            seen: HashMap::new(),
            cache: HashSet::new(),
        }
    }

    /// The target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Builds the final label set of an exposed sample; `None` when relabeling drops it.
    fn sample_labels(&self, name: &str, exposed: &[(String, String)]) -> Option<LabelsBuilder> {
        let mut lb = LabelsBuilder::new();
        lb.set(METRIC_NAME.into(), name.to_string());
        for (n, v) in exposed {
            lb.set(n.clone(), v.clone());
        }
        if self.honor_labels {
            for l in &self.target.labels {
                let exposed_has = exposed.iter().any(|(n, _)| *n == l.name) || (l.name == METRIC_NAME);
                if !exposed_has {
                    lb.set(l.name.clone(), l.value.clone());
                }
            }
        } else {
            let mut conflicts: Vec<(String, String)> = Vec::new();
            for l in &self.target.labels {
                let ev = lb.get(&l.name).to_string();
                if !ev.is_empty() {
                    conflicts.push((l.name.clone(), ev));
                }
                lb.set(l.name.clone(), l.value.clone());
            }
            conflicts.sort_by_key(|(n, _)| n.len());
            for (n, v) in conflicts {
                let mut name = format!("exported_{n}");
                while !lb.get(&name).is_empty() {
                    name = format!("exported_{name}");
                }
                lb.set(name, v);
            }
        }
        if !relabel(&self.metric_rules, &mut lb) {
            return None;
        }
        Some(lb)
    }

    fn check_limits(&self, labels: &Labels) -> Result<(), String> {
        let name = labels.metric_name().unwrap_or("");
        if self.label_limit > 0 && labels.len() as u64 > self.label_limit {
            return Err(format!(
                "label_limit exceeded (metric: {name}, number of labels: {}, limit: {})",
                labels.len(),
                self.label_limit
            ));
        }
        for l in labels {
            if self.label_name_length_limit > 0 && l.name.len() as u64 > self.label_name_length_limit {
                return Err(format!(
                    "label_name_length_limit exceeded (metric: {name}, label name: {}, length: {}, limit: {})",
                    l.name,
                    l.name.len(),
                    self.label_name_length_limit
                ));
            }
            if self.label_value_length_limit > 0 && l.value.len() as u64 > self.label_value_length_limit {
                return Err(format!(
                    "label_value_length_limit exceeded (metric: {name}, label name: {}, value: {:?}, length: {}, limit: {})",
                    l.name,
                    l.value,
                    l.value.len(),
                    self.label_value_length_limit
                ));
            }
        }
        Ok(())
    }

    /// Processes one attempt: `ts` is the scrape time (ms), `now` the wall clock (ms) for
    /// the future-timestamp check, `duration` the seconds the attempt took so far.
    pub fn process(&mut self, fetched: Fetched, ts: i64, now: i64, duration: f64) -> ScrapeResult {
        let mut r = ScrapeResult::default();
        let mut out: Vec<SeriesSamples> = Vec::new();
        let mut index: HashSet<Labels> = HashSet::new();
        let mut seen: HashMap<Labels, ()> = HashMap::new();
        let mut hashes: HashSet<u64> = HashSet::new();
        let mut failure: Option<String> = None;
        let mut empty_body = false;
        match fetched {
            Fetched::Failed(e) => failure = Some(e),
            Fetched::Body(body, format) => {
                empty_body = body.is_empty();
                let Parsed { samples, metadata, error } = exposition::parse(&body, format);
                r.metadata = metadata;
                r.samples_scraped = samples.len() as u64;
                for s in samples {
                    let Some(lb) = self.sample_labels(&s.name, &s.labels) else { continue };
                    let labels = lb.build();
                    if labels.get(METRIC_NAME).is_none() {
                        failure = Some("missing metric name (__name__ label)".into());
                        break;
                    }
                    if let Err(e) = self.check_limits(&labels) {
                        failure = Some(e);
                        break;
                    }
                    r.samples_post_relabel += 1;
                    if self.sample_limit > 0 && r.samples_post_relabel > self.sample_limit {
                        failure = Some("sample limit exceeded".into());
                        continue;
                    }
                    let explicit = s.timestamp.filter(|_| self.honor_timestamps);
                    let t = explicit.unwrap_or(ts);
                    if t > now + MAX_AHEAD_MS {
                        continue;
                    }
                    // The same series twice in one scrape: the first value wins.
                    if !index.insert(labels.clone()) {
                        continue;
                    }
                    let h = labels.stable_hash();
                    hashes.insert(h);
                    if !self.cache.contains(&h) {
                        r.series_added += 1;
                    }
                    if explicit.is_none() || self.track_ts_staleness {
                        seen.insert(labels.clone(), ());
                    }
                    let exemplars = s
                        .exemplar
                        .map(|e| vec![Exemplar { t: if e.t == i64::MIN { t } else { e.t }, ..e }])
                        .unwrap_or_default();
                    out.push(SeriesSamples { labels, samples: vec![Sample { t, v: s.value }], exemplars });
                }
                if failure.is_none()
                    && let Some(e) = error
                {
                    failure = Some(e.to_string());
                }
            }
        }
        let stale = |labels: &Labels| SeriesSamples {
            labels: labels.clone(),
            samples: vec![Sample { t: ts, v: stale_nan() }],
            exemplars: vec![],
        };
        if let Some(e) = failure {
            // Nothing of a failed scrape is kept; every series of the last good scrape
            // goes stale now.
            out.clear();
            for l in self.seen.keys() {
                out.push(stale(l));
            }
            self.seen.clear();
            r.error = Some(e);
        } else {
            for l in self.seen.keys() {
                if !seen.contains_key(l) {
                    out.push(stale(l));
                }
            }
            self.seen = seen;
            if !empty_body {
                self.cache = hashes;
            }
        }
        let up = if r.error.is_none() { 1.0 } else { 0.0 };
        if r.error.is_some() && matches!(r.samples_scraped, 0) {
            r.samples_post_relabel = 0;
        }
        for (name, v) in [
            ("up", up),
            ("scrape_duration_seconds", duration),
            ("scrape_samples_scraped", r.samples_scraped as f64),
            ("scrape_samples_post_metric_relabeling", r.samples_post_relabel as f64),
            ("scrape_series_added", r.series_added as f64),
        ] {
            out.push(SeriesSamples {
                labels: self.report_labels(name),
                samples: vec![Sample { t: ts, v }],
                exemplars: vec![],
            });
        }
        r.series = out;
        r
    }

    fn report_labels(&self, name: &str) -> Labels {
        let mut pairs: Vec<Label> = self.target.labels.iter().filter(|l| l.name != METRIC_NAME).cloned().collect();
        pairs.push(Label::new(METRIC_NAME, name));
        Labels::from_pairs(pairs.into_iter().map(|l| (l.name, l.value)))
    }

    /// Staleness markers for everything this target wrote last, at `ts`: for a target that
    /// goes away.
    pub fn stale_all(&mut self, ts: i64) -> Vec<SeriesSamples> {
        let mut out: Vec<SeriesSamples> = self
            .seen
            .drain()
            .map(|(l, _)| SeriesSamples {
                labels: l,
                samples: vec![Sample { t: ts, v: stale_nan() }],
                exemplars: vec![],
            })
            .collect();
        for name in [
            "up",
            "scrape_duration_seconds",
            "scrape_samples_scraped",
            "scrape_samples_post_metric_relabeling",
            "scrape_series_added",
        ] {
            out.push(SeriesSamples {
                labels: self.report_labels(name),
                samples: vec![Sample { t: ts, v: stale_nan() }],
                exemplars: vec![],
            });
        }
        out
    }
}

#[cfg(test)]
mod tests;
