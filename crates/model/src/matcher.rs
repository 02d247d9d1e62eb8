//! Label matchers: `=`, `!=`, `=~`, `!~`.

use regex::Regex;
use std::fmt;

/// The four matcher kinds of PromQL and LogQL stream selectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchKind {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`
    Regex,
    /// `!~`
    NotRegex,
}

impl MatchKind {
    /// The operator as written in a selector.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchKind::Equal => "=",
            MatchKind::NotEqual => "!=",
            MatchKind::Regex => "=~",
            MatchKind::NotRegex => "!~",
        }
    }
}

/// A matcher could not be built.
#[derive(Debug, thiserror::Error)]
pub enum MatcherError {
    /// The regular expression does not compile.
    #[error("invalid regular expression {pattern:?}: {reason}")]
    BadRegex {
        /// The pattern as given.
        pattern: String,
        /// The compiler's message.
        reason: String,
    },
}

/// One label matcher. Regular expressions are fully anchored and `.` matches a newline,
/// as in Prometheus 3.
#[derive(Clone, Debug)]
pub struct Matcher {
    /// Label name.
    pub name: String,
    /// Operator.
    pub kind: MatchKind,
    /// Literal value or pattern.
    pub value: String,
    regex: Option<Regex>,
    /// For regexes that are a plain alternation of literals (`a|b|c`), the sorted literals.
    set: Option<Vec<String>>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Matcher) -> bool {
        self.name == other.name && self.kind == other.kind && self.value == other.value
    }
}

impl Matcher {
    /// Builds a matcher; compiles the pattern for the regex kinds.
    pub fn new(kind: MatchKind, name: impl Into<String>, value: impl Into<String>) -> Result<Matcher, MatcherError> {
        let name = name.into();
        let value = value.into();
        let (regex, set) = match kind {
            MatchKind::Regex | MatchKind::NotRegex => {
                let re = Regex::new(&format!("^(?s:{value})$"))
                    .map_err(|e| MatcherError::BadRegex { pattern: value.clone(), reason: e.to_string() })?;
                (Some(re), literal_alternation(&value))
            }
            _ => (None, None),
        };
        Ok(Matcher { name, kind, value, regex, set })
    }

    /// Shorthand for an `=` matcher.
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Matcher {
        Matcher { name: name.into(), kind: MatchKind::Equal, value: value.into(), regex: None, set: None }
    }

    /// True when `value` (the empty string for an absent label) satisfies the matcher.
    pub fn matches(&self, value: &str) -> bool {
        match self.kind {
            MatchKind::Equal => value == self.value,
            MatchKind::NotEqual => value != self.value,
            MatchKind::Regex => self.regex_matches(value),
            MatchKind::NotRegex => !self.regex_matches(value),
        }
    }

    fn regex_matches(&self, value: &str) -> bool {
        if let Some(set) = &self.set {
            return set.binary_search_by(|s| s.as_str().cmp(value)).is_ok();
        }
        match &self.regex {
            Some(re) => re.is_match(value),
            None => false,
        }
    }

    /// True when the matcher accepts the empty string, i.e. it also selects series that lack
    /// the label.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// For `=` matchers and literal alternations, the exact values that match; lets the index
    /// look postings up directly instead of scanning all values of a label.
    pub fn exact_values(&self) -> Option<Vec<&str>> {
        match self.kind {
            MatchKind::Equal => Some(vec![self.value.as_str()]),
            MatchKind::Regex => self.set.as_ref().map(|s| s.iter().map(|v| v.as_str()).collect()),
            _ => None,
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}\"{}\"", self.name, self.kind.as_str(), crate::labels::escape(&self.value))
    }
}

/// Returns the literals when `pattern` is `lit1|lit2|...` with no regex metacharacters.
fn literal_alternation(pattern: &str) -> Option<Vec<String>> {
    const META: &[char] = &['\\', '.', '+', '*', '?', '(', ')', '[', ']', '{', '}', '^', '$'];
    if pattern.contains(META) {
        return None;
    }
    let mut v: Vec<String> = pattern.split('|').map(str::to_string).collect();
    v.sort();
    v.dedup();
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_is_anchored_and_dot_matches_newline() {
        let m = Matcher::new(MatchKind::Regex, "a", "fo.").unwrap();
        assert!(m.matches("foo"));
        assert!(m.matches("fo\n"));
        assert!(!m.matches("xfoo"));
        assert!(!m.matches("fooo"));
    }

    #[test]
    fn literal_alternation_fast_path_agrees_with_regex() {
        let m = Matcher::new(MatchKind::Regex, "a", "x|yy|").unwrap();
        assert_eq!(m.exact_values(), Some(vec!["", "x", "yy"]));
        let re = Regex::new("^(?s:x|yy|)$").unwrap();
        for v in ["x", "yy", "", "y", "xyy"] {
            assert_eq!(m.matches(v), re.is_match(v), "{v}");
        }
        assert!(m.matches_empty());
    }

    #[test]
    fn bad_regex_is_an_error() {
        let e = Matcher::new(MatchKind::Regex, "a", "(").unwrap_err();
        assert!(e.to_string().contains("invalid regular expression"));
    }

    #[test]
    fn negative_kinds() {
        assert!(Matcher::new(MatchKind::NotEqual, "a", "x").unwrap().matches(""));
        assert!(!Matcher::new(MatchKind::NotRegex, "a", ".*").unwrap().matches("z"));
    }
}
