//! Push-time validation with Loki's limits and wording: label checks per stream, size and
//! age checks per entry, and `service_name` discovery. Invalid streams and entries are
//! removed; the messages say what was wrong (the caller answers 400 with them while the rest
//! is stored, as Loki does).

use seer_model::{Label, Labels, LogStream};

/// Loki's `limits_config` settings that apply at push time.
#[derive(Clone, Debug)]
pub struct LogLimits {
    /// Largest line in bytes (0 = no limit).
    pub max_line_size: usize,
    /// Most label names per stream, `service_name` not counted.
    pub max_label_names_per_series: usize,
    /// Longest label name.
    pub max_label_name_length: usize,
    /// Longest label value.
    pub max_label_value_length: usize,
    /// Refuse entries older than this (ns; 0 = accept any age).
    pub reject_old_samples_max_age_ns: i64,
    /// Refuse entries further in the future than this (ns).
    pub creation_grace_period_ns: i64,
    /// Largest structured metadata of an entry (names plus values, bytes).
    pub max_structured_metadata_size: usize,
    /// Most structured-metadata pairs of an entry.
    pub max_structured_metadata_entries_count: usize,
    /// Labels whose value becomes `service_name`, first present wins (empty = off).
    pub discover_service_name: Vec<String>,
}

impl Default for LogLimits {
    fn default() -> LogLimits {
        LogLimits {
            max_line_size: 256 << 10,
            max_label_names_per_series: 15,
            max_label_name_length: 1024,
            max_label_value_length: 2048,
            reject_old_samples_max_age_ns: 7 * 24 * 3_600_000_000_000,
            creation_grace_period_ns: 10 * 60_000_000_000,
            max_structured_metadata_size: 64 << 10,
            max_structured_metadata_entries_count: 128,
            discover_service_name: [
                "service",
                "app",
                "application",
                "name",
                "app_kubernetes_io_name",
                "container",
                "container_name",
                "k8s_container_name",
                "component",
                "workload",
                "job",
                "k8s_job_name",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        }
    }
}

/// What validation removed.
#[derive(Debug, Default, PartialEq)]
pub struct Refused {
    /// One message per refused stream or entry.
    pub messages: Vec<String>,
    /// Entries removed.
    pub entries: usize,
}

impl Refused {
    /// Loki's combined message: identical messages grouped, groups joined with `"; "`, each
    /// prefixed with `"<n> errors like: "` when there is more than one error.
    pub fn joined(&self) -> String {
        let mut groups: Vec<(&str, usize)> = Vec::new();
        for m in &self.messages {
            match groups.iter_mut().find(|(g, _)| *g == m) {
                Some(g) => g.1 += 1,
                None => groups.push((m, 1)),
            }
        }
        if self.messages.len() == 1 {
            return self.messages[0].clone();
        }
        groups.iter().map(|(m, n)| format!("{n} errors like: {m}")).collect::<Vec<_>>().join("; ")
    }
}

/// Adds `service_name` from the first listed label present, or `unknown_service`.
pub fn discover_service_name(labels: &Labels, list: &[String]) -> Labels {
    if list.is_empty() || labels.get("service_name").is_some() || labels.get("__aggregated_metric__").is_some() {
        return labels.clone();
    }
    let v = list.iter().find_map(|n| labels.get(n)).unwrap_or("unknown_service").to_string();
    let mut b = labels.to_builder();
    b.set("service_name".into(), v);
    b.build()
}

/// Validates `streams` in place at time `now_ns`: drops invalid streams and entries and
/// returns why.
pub fn validate(streams: &mut Vec<LogStream>, limits: &LogLimits, now_ns: i64) -> Refused {
    let mut out = Refused::default();
    streams.retain_mut(|s| {
        s.labels = discover_service_name(&s.labels, &limits.discover_service_name);
        if let Some(m) = check_labels(&s.labels, limits) {
            out.messages.push(m);
            out.entries += s.entries.len();
            return false;
        }
        let labels = &s.labels;
        s.entries.retain(|e| match check_entry(labels, e.ts, &e.line, &e.metadata, limits, now_ns) {
            None => true,
            Some(m) => {
                out.messages.push(m);
                out.entries += 1;
                false
            }
        });
        !s.entries.is_empty()
    });
    out
}

fn check_labels(labels: &Labels, l: &LogLimits) -> Option<String> {
    if labels.is_empty() {
        return Some("error at least one label pair is required per stream".into());
    }
    let counted = labels.iter().filter(|x| x.name != "service_name").count();
    if counted > l.max_label_names_per_series {
        return Some(format!(
            "entry for stream '{labels}' has {counted} label names; limit {}",
            l.max_label_names_per_series
        ));
    }
    for x in labels.iter() {
        if x.name.len() > l.max_label_name_length {
            return Some(format!("stream '{labels}' has label name too long: '{}'", x.name));
        }
        if x.value.len() > l.max_label_value_length {
            return Some(format!("stream '{labels}' has label value too long: '{}'", x.value));
        }
    }
    None
}

fn check_entry(labels: &Labels, ts: i64, line: &str, meta: &[Label], l: &LogLimits, now: i64) -> Option<String> {
    let secs = |ns: i64| crate::db::rfc3339(ns.div_euclid(1_000_000_000) * 1_000_000_000);
    if l.reject_old_samples_max_age_ns > 0 && ts < now - l.reject_old_samples_max_age_ns {
        return Some(format!(
            "entry for stream '{labels}' has timestamp too old: {}, oldest acceptable timestamp is: {}",
            secs(ts),
            secs(now - l.reject_old_samples_max_age_ns)
        ));
    }
    if ts > now + l.creation_grace_period_ns {
        return Some(format!("entry for stream '{labels}' has timestamp too new: {}", secs(ts)));
    }
    if l.max_line_size > 0 && line.len() > l.max_line_size {
        return Some(format!(
            "Max entry size '{}' bytes exceeded for stream '{labels}' while adding an entry with length '{}' bytes",
            l.max_line_size,
            line.len()
        ));
    }
    let size: usize = meta.iter().map(|m| m.name.len() + m.value.len()).sum();
    if size > l.max_structured_metadata_size {
        return Some(format!(
            "stream '{labels}' has structured metadata too large: '{size}' bytes, limit: '{}' bytes. Please see \
             `limits_config.max_structured_metadata_size` or contact your Loki administrator to increase it.",
            l.max_structured_metadata_size
        ));
    }
    if meta.len() > l.max_structured_metadata_entries_count {
        return Some(format!(
            "stream '{labels}' has too many structured metadata labels: '{}', limit: '{}'. Please see \
             `limits_config.max_structured_metadata_entries_count` or contact your Loki administrator to increase it.",
            meta.len(),
            l.max_structured_metadata_entries_count
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use seer_model::LogEntry;

    fn s(labels: &[(&str, &str)], entries: &[(i64, &str)]) -> LogStream {
        LogStream {
            labels: Labels::from_pairs(labels.iter().copied()),
            entries: entries.iter().map(|&(ts, l)| LogEntry { ts, line: l.into(), metadata: vec![] }).collect(),
        }
    }

    #[test]
    fn loki_rules() {
        let now = 1_700_000_000_000_000_000;
        let l = LogLimits { max_line_size: 10, ..LogLimits::default() };
        let many: Vec<(String, String)> = (0..16).map(|i| (format!("l{i:02}"), "v".to_string())).collect();
        let mut streams = vec![
            s(&[("app", "api")], &[(now, "ok"), (now, "this line is too long"), (now + 3_600_000_000_000, "future")]),
            LogStream {
                labels: Labels::from_pairs(many.iter().map(|(a, b)| (a.as_str(), b.as_str()))),
                entries: vec![LogEntry { ts: now, line: "x".into(), metadata: vec![] }],
            },
            s(&[("job", "j")], &[(now - 8 * 24 * 3_600_000_000_000, "old")]),
        ];
        let r = validate(&mut streams, &l, now);
        assert_eq!(streams.len(), 1);
        assert_eq!(streams[0].entries.len(), 1);
        assert_eq!(streams[0].labels.get("service_name"), Some("api"));
        assert_eq!(r.entries, 4);
        assert!(
            r.messages[0]
                .starts_with("Max entry size '10' bytes exceeded for stream '{app=\"api\", service_name=\"api\"}'")
        );
        assert!(r.messages[1].contains("has timestamp too new: 2023-11-14T23:13:20Z"), "{}", r.messages[1]);
        assert!(r.messages[2].contains("has 16 label names; limit 15"), "{}", r.messages[2]);
        assert!(r.messages[3].contains("has timestamp too old"), "{}", r.messages[3]);
        assert!(r.joined().starts_with("1 errors like: Max entry size"));
        let one = Refused { messages: vec!["a".into()], entries: 1 };
        assert_eq!(one.joined(), "a");
        let l2 =
            discover_service_name(&Labels::from_pairs([("foo", "bar")]), &LogLimits::default().discover_service_name);
        assert_eq!(l2.get("service_name"), Some("unknown_service"));
    }
}
