//! Turning discovered target groups into scrape targets: default labels, relabeling, the
//! `instance` label and the scrape URL (Prometheus 3 rules: no default port is added).

use crate::config::Job;
use crate::discovery::TargetGroup;
use crate::duration::PromDuration;
use crate::relabel::{Rule, process};
use seer_model::{Label, Labels, LabelsBuilder};
use std::collections::BTreeMap;

/// A target to scrape.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// Job (scrape pool) name.
    pub job: String,
    /// Labels before relabeling, `__meta_*` included (for the targets API).
    pub discovered: BTreeMap<String, String>,
    /// All labels after relabeling, `__meta_*` removed (URL parts included).
    pub internal: BTreeMap<String, String>,
    /// Labels attached to every sample: those not starting with `__`.
    pub labels: Labels,
    /// Full scrape URL.
    pub url: String,
    /// Interval (may be overridden by `__scrape_interval__`).
    pub interval: PromDuration,
    /// Timeout.
    pub timeout: PromDuration,
    /// Identity: internal labels and URL.
    pub hash: u64,
}

/// A target dropped by relabeling.
#[derive(Clone, Debug, PartialEq)]
pub struct DroppedTarget {
    /// Job.
    pub job: String,
    /// Labels before relabeling.
    pub discovered: BTreeMap<String, String>,
}

/// Builds the targets of one job from its groups.
pub fn build(job: &Job, groups: &[TargetGroup], rules: &[Rule]) -> (Vec<Target>, Vec<DroppedTarget>, Vec<String>) {
    let mut active = Vec::new();
    let mut dropped = Vec::new();
    let mut errors = Vec::new();
    for g in groups {
        for (i, addr) in g.targets.iter().enumerate() {
            let mut lb = LabelsBuilder::new();
            lb.set("__address__".into(), addr.clone());
            for (n, v) in &g.labels {
                if lb.get(n).is_empty() {
                    lb.set(n.clone(), v.clone());
                }
            }
            let defaults = [
                ("job", job.config.job_name.clone()),
                ("__scrape_interval__", job.interval.to_string()),
                ("__scrape_timeout__", job.timeout.to_string()),
                ("__metrics_path__", job.metrics_path.clone()),
                ("__scheme__", job.scheme.clone()),
            ];
            for (n, v) in defaults {
                if lb.get(n).is_empty() {
                    lb.set(n.into(), v);
                }
            }
            for (k, vals) in &job.config.params {
                let name = format!("__param_{k}");
                if let Some(v) = vals.first()
                    && lb.get(&name).is_empty()
                {
                    lb.set(name, v.clone());
                }
            }
            let discovered: BTreeMap<String, String> =
                lb.pairs().iter().filter(|l| !l.value.is_empty()).map(|l| (l.name.clone(), l.value.clone())).collect();
            if !process(rules, &mut lb) {
                dropped.push(DroppedTarget { job: job.config.job_name.clone(), discovered });
                continue;
            }
            match finish(job, lb, discovered) {
                Ok(t) => active.push(t),
                Err(e) => errors.push(format!("instance {i} in group {}: {e}", g.source)),
            }
        }
    }
    // Targets with the same identity are scraped once.
    let mut seen = std::collections::HashSet::new();
    active.retain(|t: &Target| seen.insert(t.hash));
    (active, dropped, errors)
}

fn finish(job: &Job, mut lb: LabelsBuilder, discovered: BTreeMap<String, String>) -> Result<Target, String> {
    let addr = lb.get("__address__").to_string();
    if addr.is_empty() {
        return Err("no address".into());
    }
    if addr.contains('/') {
        return Err(format!("{addr:?} is not a valid hostname"));
    }
    let parse = |name: &str, what: &str| -> Result<PromDuration, String> {
        let d = PromDuration::parse(lb.get(name)).map_err(|e| format!("error parsing {what}: {e}"))?;
        if d.0.is_zero() {
            return Err(format!("{what} cannot be 0"));
        }
        Ok(d)
    };
    let interval = parse("__scrape_interval__", "scrape interval")?;
    let timeout = parse("__scrape_timeout__", "scrape timeout")?;
    if timeout > interval {
        return Err(format!(
            "scrape timeout cannot be greater than scrape interval ({:?} > {:?})",
            timeout.to_string(),
            interval.to_string()
        ));
    }
    lb.retain(|l| !l.name.starts_with("__meta_"));
    if lb.get("instance").is_empty() {
        lb.set("instance".into(), addr.clone());
    }
    let internal: BTreeMap<String, String> =
        lb.pairs().iter().filter(|l| !l.value.is_empty()).map(|l| (l.name.clone(), l.value.clone())).collect();
    let public: Vec<Label> =
        internal.iter().filter(|(n, _)| !n.starts_with("__")).map(|(n, v)| Label::new(n.clone(), v.clone())).collect();
    let url = scrape_url(job, &internal);
    let mut key = String::new();
    for (n, v) in &internal {
        key.push_str(n);
        key.push('\u{ff}');
        key.push_str(v);
        key.push('\u{ff}');
    }
    key.push_str(&url);
    Ok(Target {
        job: job.config.job_name.clone(),
        discovered,
        labels: Labels::from_sorted(public),
        url,
        interval,
        timeout,
        hash: fnv64a(key.as_bytes()),
        internal,
    })
}

/// 64-bit FNV-1a.
pub fn fnv64a(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &x in b {
        h ^= x as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn scrape_url(job: &Job, internal: &BTreeMap<String, String>) -> String {
    let mut params: BTreeMap<String, Vec<String>> = job.config.params.clone();
    for (n, v) in internal {
        if let Some(k) = n.strip_prefix("__param_") {
            match params.get_mut(k) {
                Some(vals) if !vals.is_empty() => vals[0] = v.clone(),
                _ => {
                    params.insert(k.to_string(), vec![v.clone()]);
                }
            }
        }
    }
    let scheme = internal.get("__scheme__").map(String::as_str).unwrap_or("http");
    let host = internal.get("__address__").map(String::as_str).unwrap_or("");
    let path = internal.get("__metrics_path__").map(String::as_str).unwrap_or("/metrics");
    let mut url = format!("{scheme}://{host}{}", escape_path(path));
    let mut first = true;
    for (k, vals) in &params {
        for v in vals {
            url.push(if first { '?' } else { '&' });
            first = false;
            url.push_str(&form_encode(k));
            url.push('=');
            url.push_str(&form_encode(v));
        }
    }
    url
}

fn escape_path(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    if !p.starts_with('/') {
        out.push('/');
    }
    for &b in p.as_bytes() {
        let keep = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else if b == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{GlobalConfig, ScrapeConfig, resolve_jobs};
    use crate::relabel::compile_all;

    fn job(yaml: &str) -> (Job, Vec<Rule>) {
        let sc: ScrapeConfig = serde_yaml::from_str(yaml).unwrap();
        let jobs = resolve_jobs(&GlobalConfig::default(), &[sc], std::path::Path::new("/")).unwrap();
        let rules = compile_all(&jobs[0].config.relabel_configs).unwrap();
        (jobs[0].clone(), rules)
    }

    fn groups(targets: &[&str], labels: &[(&str, &str)]) -> Vec<TargetGroup> {
        vec![TargetGroup {
            targets: targets.iter().map(|s| s.to_string()).collect(),
            labels: labels.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect(),
            source: "static:0".into(),
        }]
    }

    #[test]
    fn labels_and_url() {
        let (j, r) = job("{job_name: node, scrape_interval: 15s, params: {module: [cfg], other: [o1, o2]}}");
        let (t, d, e) = build(&j, &groups(&["127.0.0.1:9100"], &[("env", "prod"), ("job", "")]), &r);
        assert!(d.is_empty() && e.is_empty());
        assert_eq!(t[0].labels.to_string(), r#"{env="prod", instance="127.0.0.1:9100", job="node"}"#);
        assert_eq!(t[0].url, "http://127.0.0.1:9100/metrics?module=cfg&other=o1&other=o2");
        assert_eq!(t[0].discovered["__scrape_interval__"], "15s");
        assert_eq!(t[0].interval.to_string(), "15s");
        // No default port in Prometheus 3.
        let (t, _, _) = build(&j, &groups(&["host"], &[]), &r);
        assert_eq!(t[0].labels.get("instance"), Some("host"));
    }

    #[test]
    fn relabeling_drops_sets_params_and_interval() {
        let (j, r) = job("{job_name: bb, metrics_path: /probe, relabel_configs: [
                {source_labels: [__address__], target_label: __param_target},
                {source_labels: [__param_target], target_label: instance},
                {target_label: __address__, replacement: 'exporter:9115'},
                {source_labels: [__param_target], regex: 'drop.*', action: drop},
                {target_label: __scrape_interval__, replacement: 70s},
                {target_label: __tmp_x, replacement: y}]}");
        let (t, d, e) = build(&j, &groups(&["https://a b", "drop.me"], &[("__meta_x", "m")]), &r);
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].discovered["__address__"], "drop.me");
        assert_eq!(t[0].url, "http://exporter:9115/probe?target=https%3A%2F%2Fa+b");
        assert_eq!(t[0].labels.to_string(), r#"{instance="https://a b", job="bb"}"#);
        assert_eq!(t[0].interval.to_string(), "1m10s");
        assert!(!t[0].internal.contains_key("__meta_x"));
        assert!(t[0].internal.contains_key("__tmp_x"));
    }

    #[test]
    fn errors() {
        let (j, r) = job("{job_name: a, relabel_configs: [{target_label: __address__, replacement: ''}]}");
        let (t, _, e) = build(&j, &groups(&["h:1"], &[]), &r);
        assert!(t.is_empty());
        assert!(e[0].contains("no address"), "{e:?}");
        let (j, r) = job(
            "{job_name: a, scrape_interval: 5s, relabel_configs: [{target_label: __scrape_timeout__, replacement: 10s}]}",
        );
        let (_, _, e) = build(&j, &groups(&["h:1"], &[]), &r);
        assert!(e[0].contains("scrape timeout cannot be greater"), "{e:?}");
    }

    #[test]
    fn duplicate_targets_are_scraped_once() {
        let (j, r) = job("{job_name: a}");
        let (t, _, _) = build(&j, &groups(&["h:1", "h:1"], &[]), &r);
        assert_eq!(t.len(), 1);
    }
}
