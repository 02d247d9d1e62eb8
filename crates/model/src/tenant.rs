//! Tenant ids.

use std::fmt;

/// The tenant used when a request carries no `X-Scope-OrgID` header.
pub const DEFAULT_TENANT: &str = "default";

/// A tenant id was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TenantError {
    /// Empty id.
    #[error("tenant id is empty")]
    Empty,
    /// Longer than [`TenantId::MAX_LEN`].
    #[error("tenant id is {len} bytes long, the limit is {max}")]
    TooLong {
        /// Actual length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A character outside `[A-Za-z0-9!-_.*'()]`, or the ids `.`/`..`.
    #[error("tenant id {0:?} contains an unsupported character (allowed: letters, digits and !-_.*'())")]
    BadCharacter(String),
}

/// A validated tenant id: 1 to 150 characters from `[A-Za-z0-9!-_.*'()]`, not `.` or `..`
/// (the rule Cortex, Mimir and Loki use). Safe to use as a directory name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    /// Longest accepted id, in bytes.
    pub const MAX_LEN: usize = 150;

    /// Validates `s`.
    pub fn new(s: &str) -> Result<TenantId, TenantError> {
        if s.is_empty() {
            return Err(TenantError::Empty);
        }
        if s.len() > Self::MAX_LEN {
            return Err(TenantError::TooLong { len: s.len(), max: Self::MAX_LEN });
        }
        let ok = s
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'!' | b'-' | b'_' | b'.' | b'*' | b'\'' | b'(' | b')'));
        if !ok || s == "." || s == ".." {
            return Err(TenantError::BadCharacter(s.to_string()));
        }
        Ok(TenantId(s.to_string()))
    }

    /// The default tenant.
    pub fn default_tenant() -> TenantId {
        TenantId(DEFAULT_TENANT.to_string())
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert!(TenantId::new("team-a_1.prod").is_ok());
        assert_eq!(TenantId::new(""), Err(TenantError::Empty));
        assert!(TenantId::new("a/b").is_err());
        assert!(TenantId::new("..").is_err());
        assert!(TenantId::new(&"x".repeat(151)).is_err());
    }
}
