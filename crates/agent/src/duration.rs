//! Prometheus durations (`1h30m`, `15s`, `500ms`, `0`) and byte sizes (`10MB`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// A duration written the Prometheus way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct PromDuration(pub Duration);

impl PromDuration {
    /// Parses `((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?` or `0`.
    pub fn parse(s: &str) -> Result<PromDuration, String> {
        seer_model::parse_duration_ms(s)
            .map(|ms| PromDuration(Duration::from_millis(ms as u64)))
            .ok_or_else(|| format!("not a valid duration string: {s:?}"))
    }

    /// Milliseconds.
    pub fn as_millis(&self) -> i64 {
        self.0.as_millis() as i64
    }
}

impl fmt::Display for PromDuration {
    /// Largest units first, zero units left out (`1m30s`, `0s`), as Prometheus prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&seer_model::format_duration_ms(self.0.as_millis() as i64))
    }
}

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PromDuration::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for PromDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// A byte size with a base-2 unit (`B`, `KB`, `MB`, `GB`, `TB`, `PB`, `EB`; `KiB` forms too).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Parses `512MB`, `1GiB`, `0`.
    pub fn parse(s: &str) -> Result<ByteSize, String> {
        let s = s.trim();
        if s == "0" {
            return Ok(ByteSize(0));
        }
        let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(|| format!("missing unit in size {s:?}"))?;
        let n: u64 = s[..split].parse().map_err(|_| format!("invalid size {s:?}"))?;
        let mult: u64 = match s[split..].trim() {
            "B" => 1,
            "KB" | "KiB" => 1 << 10,
            "MB" | "MiB" => 1 << 20,
            "GB" | "GiB" => 1 << 30,
            "TB" | "TiB" => 1 << 40,
            "PB" | "PiB" => 1 << 50,
            "EB" | "EiB" => 1 << 60,
            u => return Err(format!("unknown unit {u:?} in size {s:?}")),
        };
        n.checked_mul(mult).map(ByteSize).ok_or_else(|| format!("size {s:?} is too large"))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(0) => Ok(ByteSize(0)),
            Raw::N(n) => Err(serde::de::Error::custom(format!("size {n} needs a unit, e.g. {n}MB"))),
            Raw::S(s) => ByteSize::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for (s, ms) in
            [("0", 0), ("15s", 15_000), ("1m30s", 90_000), ("500ms", 500), ("1d", 86_400_000), ("2w", 14 * 86_400_000)]
        {
            assert_eq!(PromDuration::parse(s).unwrap().as_millis(), ms, "{s}");
        }
        for s in ["", "1", "s", "1x", "30s1m", "1.5h", "-1s"] {
            assert!(PromDuration::parse(s).is_err(), "{s}");
        }
        assert_eq!(PromDuration::parse("90s").unwrap().to_string(), "1m30s");
        assert_eq!(PromDuration(Duration::ZERO).to_string(), "0s");
        assert_eq!(PromDuration::parse("10s").unwrap().to_string(), "10s");
    }

    #[test]
    fn sizes() {
        assert_eq!(ByteSize::parse("10MB").unwrap().0, 10 << 20);
        assert_eq!(ByteSize::parse("0").unwrap().0, 0);
        assert!(ByteSize::parse("10").is_err());
        assert!(ByteSize::parse("10XB").is_err());
    }
}
