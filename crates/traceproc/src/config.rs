//! Pieces shared by the configuration structs of every processor: durations written as
//! Prometheus duration strings and the error returned when a configuration does not hold.

use serde::{Deserialize, Deserializer};

/// A duration in a configuration file, written as a Prometheus duration string (`10s`,
/// `500ms`, `1m30s`, `0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct ConfigDuration(pub std::time::Duration);

impl ConfigDuration {
    /// `ms` milliseconds.
    pub fn from_millis(ms: u64) -> ConfigDuration {
        ConfigDuration(std::time::Duration::from_millis(ms))
    }

    /// Nanoseconds, saturated to `u64`.
    pub fn as_nanos_u64(self) -> u64 {
        u64::try_from(self.0.as_nanos()).unwrap_or(u64::MAX)
    }
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ConfigDuration, D::Error> {
        let s = String::deserialize(d)?;
        match seer_model::parse_duration_ms(&s) {
            Some(ms) if ms >= 0 => Ok(ConfigDuration::from_millis(ms as u64)),
            _ => Err(serde::de::Error::custom(format!("not a valid duration: {s:?} (expected e.g. 10s, 500ms)"))),
        }
    }
}

/// A configuration value that parses but cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A percentage outside 0..=100 (or NaN).
    #[error("{field}: percentage {value} is not between 0 and 100")]
    Percent { field: String, value: f64 },
    /// A value that must be positive is zero.
    #[error("{0} must be greater than zero")]
    Zero(String),
    /// A tail policy lacks the parameter its type needs.
    #[error("tail policy {index} ({kind}): missing `{field}`")]
    MissingField { index: usize, kind: &'static str, field: &'static str },
    /// Histogram buckets that are not finite and strictly increasing.
    #[error("{0}: histogram buckets must be finite and strictly increasing")]
    Buckets(String),
}

/// Checks that `v` is a percentage.
pub(crate) fn check_percent(field: &str, v: f64) -> Result<(), ConfigError> {
    if (0.0..=100.0).contains(&v) { Ok(()) } else { Err(ConfigError::Percent { field: field.to_string(), value: v }) }
}

/// Checks that bucket bounds are finite and strictly increasing.
pub(crate) fn check_buckets(field: &str, b: &[f64]) -> Result<(), ConfigError> {
    if b.iter().all(|v| v.is_finite()) && b.windows(2).all(|w| w[0] < w[1]) {
        Ok(())
    } else {
        Err(ConfigError::Buckets(field.to_string()))
    }
}

/// `true`, for `#[serde(default = ...)]`.
pub(crate) fn yes() -> bool {
    true
}
