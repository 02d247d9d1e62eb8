//! Per-tenant ingest limits and the validation of one series against them.

use crate::{Labels, METRIC_NAME};

/// Limits applied to every series written, whatever protocol it came by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most labels one series may have (including `__name__`).
    pub max_label_names_per_series: usize,
    /// Longest label name, in bytes.
    pub max_label_name_length: usize,
    /// Longest label value, in bytes.
    pub max_label_value_length: usize,
    /// Most active (in-memory) series per tenant; 0 means unlimited.
    pub max_series_per_tenant: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_label_names_per_series: 64,
            max_label_name_length: 1024,
            max_label_value_length: 4096,
            max_series_per_tenant: 5_000_000,
        }
    }
}

/// A series breaks a limit or is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeriesError {
    /// No `__name__` label.
    #[error("series {0} has no metric name")]
    NoMetricName(String),
    /// Too many labels.
    #[error("series {series} has {count} labels, more than the limit of {limit}")]
    TooManyLabels {
        /// The series, printed.
        series: String,
        /// Its label count.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A label name is too long.
    #[error("label name {name:?} is {len} bytes long, more than the limit of {limit} (series {series})")]
    NameTooLong {
        /// The series, printed.
        series: String,
        /// Name, cut to 64 bytes.
        name: String,
        /// Length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A label value is too long.
    #[error("value of label {name:?} is {len} bytes long, more than the limit of {limit} (series {series})")]
    ValueTooLong {
        /// The series, printed.
        series: String,
        /// Label name.
        name: String,
        /// Length.
        len: usize,
        /// The limit.
        limit: usize,
    },
}

fn short(s: &str) -> String {
    let s = s.to_string();
    if s.len() <= 200 {
        return s;
    }
    let mut end = 200;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

fn cut(s: &str, n: usize) -> String {
    let mut end = s.len().min(n);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

impl Limits {
    /// Checks one series' labels. Names may be any UTF-8 (Prometheus 3 rules).
    pub fn validate(&self, labels: &Labels) -> Result<(), SeriesError> {
        let pairs: Vec<(&str, &str)> = labels.iter().map(|l| (l.name.as_str(), l.value.as_str())).collect();
        self.validate_pairs(&pairs)
    }

    /// [`Limits::validate`] for borrowed, sorted label pairs.
    pub fn validate_pairs(&self, pairs: &[(&str, &str)]) -> Result<(), SeriesError> {
        let series = || short(&pairs_to_string(pairs));
        if !pairs.iter().any(|(n, _)| *n == METRIC_NAME) {
            return Err(SeriesError::NoMetricName(series()));
        }
        if pairs.len() > self.max_label_names_per_series {
            return Err(SeriesError::TooManyLabels {
                series: series(),
                count: pairs.len(),
                limit: self.max_label_names_per_series,
            });
        }
        for (n, v) in pairs {
            if n.len() > self.max_label_name_length {
                return Err(SeriesError::NameTooLong {
                    series: series(),
                    name: cut(n, 64),
                    len: n.len(),
                    limit: self.max_label_name_length,
                });
            }
            if v.len() > self.max_label_value_length {
                return Err(SeriesError::ValueTooLong {
                    series: series(),
                    name: cut(n, 64),
                    len: v.len(),
                    limit: self.max_label_value_length,
                });
            }
        }
        Ok(())
    }
}

/// Formats label pairs as `{a="1", b="2"}`, as [`Labels`] prints.
pub fn pairs_to_string(pairs: &[(&str, &str)]) -> String {
    let mut s = String::from("{");
    for (i, (n, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(n);
        s.push_str("=\"");
        s.push_str(&crate::labels::escape(v));
        s.push('"');
    }
    s.push('}');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_enforced_with_clear_messages() {
        let l = Limits {
            max_label_names_per_series: 2,
            max_label_name_length: 3,
            max_label_value_length: 4,
            max_series_per_tenant: 0,
        };
        assert!(l.validate(&Labels::from_pairs([("__name__", "up")])).is_err()); // name "__name__" is 8 bytes > 3
        let l = Limits { max_label_name_length: 10, ..l };
        assert!(l.validate(&Labels::from_pairs([("__name__", "up")])).is_ok());
        let e = l.validate(&Labels::from_pairs([("a", "1")])).unwrap_err();
        assert!(e.to_string().contains("no metric name"));
        let e = l.validate(&Labels::from_pairs([("__name__", "up"), ("a", "1"), ("b", "2")])).unwrap_err();
        assert!(e.to_string().contains("3 labels, more than the limit of 2"), "{e}");
        let e = l.validate(&Labels::from_pairs([("__name__", "up"), ("a", "12345")])).unwrap_err();
        assert!(e.to_string().contains("5 bytes long, more than the limit of 4"), "{e}");
    }
}
