//! Sorted label sets.

use std::fmt;
use std::hash::Hasher;
use std::sync::Arc;

/// The label that holds a series' metric name.
pub const METRIC_NAME: &str = "__name__";

/// One label pair.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Label {
    /// Label name.
    pub name: String,
    /// Label value, never empty inside a [`Labels`].
    pub value: String,
}

impl Label {
    /// Makes a label pair.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Label {
        Label { name: name.into(), value: value.into() }
    }
}

/// A set of labels, sorted by name, without duplicate names and without empty values.
/// Immutable and shared: a clone is a reference-count increment, so query evaluation
/// can pass label sets along without copying strings.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Labels(Arc<[Label]>);

impl Labels {
    /// Returns the empty label set.
    pub fn empty() -> Labels {
        Labels(Arc::from(Vec::new()))
    }

    /// Builds a label set from pairs: sorts them and drops empty values. When a name
    /// repeats, the last value wins; callers that must reject duplicates use
    /// [`Labels::from_pairs_checked`].
    pub fn from_pairs<N: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (N, V)>) -> Labels {
        let mut b = LabelsBuilder::new();
        for (n, v) in pairs {
            b.set(n.into(), v.into());
        }
        b.build()
    }

    /// Builds a label set from pairs and returns the first repeated name as an error.
    pub fn from_pairs_checked(mut pairs: Vec<Label>) -> Result<Labels, String> {
        pairs.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        for w in pairs.windows(2) {
            if w[0].name == w[1].name {
                return Err(w[0].name.clone());
            }
        }
        pairs.retain(|l| !l.value.is_empty());
        Ok(Labels(Arc::from(pairs)))
    }

    /// Wraps pairs that the caller guarantees are sorted, unique and non-empty.
    ///
    /// # Panics
    /// In debug builds, if the guarantee does not hold.
    pub fn from_sorted(pairs: Vec<Label>) -> Labels {
        debug_assert!(pairs.windows(2).all(|w| w[0].name < w[1].name), "BUG: labels not sorted: {pairs:?}");
        debug_assert!(pairs.iter().all(|l| !l.value.is_empty()), "BUG: empty label value");
        Labels(Arc::from(pairs))
    }

    /// Returns the value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.binary_search_by(|l| l.name.as_str().cmp(name)).ok().map(|i| self.0[i].value.as_str())
    }

    /// Returns the metric name (`__name__`), if present.
    pub fn metric_name(&self) -> Option<&str> {
        // `__name__` sorts before every lower-case name, so it is nearly always first.
        match self.0.first() {
            Some(l) if l.name == METRIC_NAME => Some(&l.value),
            _ => self.get(METRIC_NAME),
        }
    }

    /// Number of label pairs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there is no label.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates the pairs in name order.
    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    /// The pairs as a slice, in name order.
    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }

    /// Consumes the set, returning its sorted pairs.
    pub fn into_vec(self) -> Vec<Label> {
        self.0.to_vec()
    }

    /// A byte string that sorts like the label set: `name\0value\0` per pair. `None` when a
    /// name or value holds a NUL byte, where the key would not sort like the set.
    pub fn sort_key(&self) -> Option<Vec<u8>> {
        let mut k = Vec::with_capacity(self.0.iter().map(|l| l.name.len() + l.value.len() + 2).sum());
        for l in self.0.iter() {
            if l.name.as_bytes().contains(&0) || l.value.as_bytes().contains(&0) {
                return None;
            }
            k.extend_from_slice(l.name.as_bytes());
            k.push(0);
            k.extend_from_slice(l.value.as_bytes());
            k.push(0);
        }
        Some(k)
    }

    /// Returns a builder initialised with these labels.
    pub fn to_builder(&self) -> LabelsBuilder {
        LabelsBuilder { pairs: self.0.to_vec() }
    }

    /// A 64-bit hash of the label set, the same for equal sets in every process. Not
    /// persisted anywhere, so the algorithm may change between versions.
    pub fn stable_hash(&self) -> u64 {
        let mut h = StableHasher::new();
        for l in self.0.iter() {
            h.write(l.name.as_bytes());
            h.write_u8(0xff);
            h.write(l.value.as_bytes());
            h.write_u8(0xff);
        }
        h.finish()
    }
}

impl fmt::Display for Labels {
    /// Formats as `{a="1", b="2"}` with Go-style string escaping, as Prometheus prints label sets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, l) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}=\"{}\"", l.name, escape(&l.value))?;
        }
        f.write_str("}")
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Escapes a label value for printing inside double quotes: backslash, quote and control
/// characters are escaped, other characters (any script) are kept, as Prometheus prints.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Builds a [`Labels`] by setting and deleting names.
#[derive(Clone, Debug, Default)]
pub struct LabelsBuilder {
    pairs: Vec<Label>,
}

impl LabelsBuilder {
    /// An empty builder.
    pub fn new() -> LabelsBuilder {
        LabelsBuilder { pairs: Vec::new() }
    }

    /// Sets `name` to `value`; an empty value deletes the label.
    pub fn set(&mut self, name: String, value: String) -> &mut Self {
        match self.pairs.iter_mut().find(|l| l.name == name) {
            Some(l) => l.value = value,
            None => self.pairs.push(Label { name, value }),
        }
        self
    }

    /// Removes `name`.
    pub fn del(&mut self, name: &str) -> &mut Self {
        self.pairs.retain(|l| l.name != name);
        self
    }

    /// Returns the current value of `name` (empty string when absent).
    pub fn get(&self, name: &str) -> &str {
        self.pairs.iter().find(|l| l.name == name).map(|l| l.value.as_str()).unwrap_or("")
    }

    /// Keeps only the labels for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(&Label) -> bool) -> &mut Self {
        self.pairs.retain(|l| keep(l));
        self
    }

    /// The labels set so far, unsorted.
    pub fn pairs(&self) -> &[Label] {
        &self.pairs
    }

    /// Finishes: sorts and drops empty values.
    pub fn build(mut self) -> Labels {
        self.pairs.retain(|l| !l.value.is_empty());
        self.pairs.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Labels(Arc::from(self.pairs))
    }
}

/// True for names matching `[a-zA-Z_][a-zA-Z0-9_]*`, the classic Prometheus label name rule.
pub fn is_valid_legacy_label_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b[1..].iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// True for names matching `[a-zA-Z_:][a-zA-Z0-9_:]*`, the classic Prometheus metric name rule.
pub fn is_valid_legacy_metric_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_' || b[0] == b':')
        && b[1..].iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b':')
}

/// A word-at-a-time multiply-rotate hash with a final avalanche: dependency-free and fast
/// for label sets (tens to hundreds of bytes).
struct StableHasher(u64);

impl StableHasher {
    fn new() -> StableHasher {
        StableHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for StableHasher {
    /// Eight bytes at a time: a multiply-rotate step per word, the tail padded with its
    /// length so that different lengths never collide trivially.
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            h = (h ^ w).wrapping_mul(K).rotate_left(29);
        }
        let rem = chunks.remainder();
        if !rem.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rem.len()].copy_from_slice(rem);
            let w = u64::from_le_bytes(buf) ^ ((rem.len() as u64) << 59);
            h = (h ^ w).wrapping_mul(K).rotate_left(29);
        }
        self.0 = h;
    }
    fn write_u8(&mut self, b: u8) {
        self.0 = (self.0 ^ (b as u64 | 0x100)).wrapping_mul(0xff51_afd7_ed55_8ccd).rotate_left(31);
    }
    fn finish(&self) -> u64 {
        // splitmix64 finaliser so that low bits are well distributed for hash tables.
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Hashes a sequence of `(name, value)` string pairs exactly as [`Labels::stable_hash`] does,
/// so callers holding borrowed strings can look a series up without building a `Labels`.
pub fn stable_hash_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> u64 {
    let mut h = StableHasher::new();
    for (n, v) in pairs {
        h.write(n.as_bytes());
        h.write_u8(0xff);
        h.write(v.as_bytes());
        h.write_u8(0xff);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_pairs_sorts_and_drops_empty() {
        let l = Labels::from_pairs([("b", "2"), ("a", "1"), ("c", "")]);
        assert_eq!(l.to_string(), r#"{a="1", b="2"}"#);
        assert_eq!(l.get("a"), Some("1"));
        assert_eq!(l.get("c"), None);
    }

    #[test]
    fn checked_rejects_duplicates() {
        let r = Labels::from_pairs_checked(vec![Label::new("a", "1"), Label::new("a", "2")]);
        assert_eq!(r, Err("a".to_string()));
    }

    #[test]
    fn stable_hash_matches_pairs_hash() {
        let l = Labels::from_pairs([("__name__", "up"), ("job", "x")]);
        let h2 = stable_hash_pairs(l.iter().map(|l| (l.name.as_str(), l.value.as_str())));
        assert_eq!(l.stable_hash(), h2);
        // frozen value: persisted hashes must not change between versions.
        assert_eq!(l.stable_hash(), Labels::from_pairs([("job", "x"), ("__name__", "up")]).stable_hash());
    }

    #[test]
    fn legacy_names() {
        assert!(is_valid_legacy_label_name("_a1"));
        assert!(!is_valid_legacy_label_name("1a"));
        assert!(!is_valid_legacy_label_name("a:b"));
        assert!(is_valid_legacy_metric_name("a:b"));
        assert!(!is_valid_legacy_metric_name(""));
    }
}

#[cfg(test)]
mod sort_key_tests {
    use super::*;

    #[test]
    fn sort_key_orders_like_the_label_sets() {
        let sets = [
            Labels::from_pairs([("a", "1")]),
            Labels::from_pairs([("a", "1"), ("b", "2")]),
            Labels::from_pairs([("a", "10")]),
            Labels::from_pairs([("ab", "1")]),
            Labels::from_pairs([("a", "2")]),
            Labels::from_pairs([("b", "")]),
            Labels::from_pairs([("a", "1"), ("c", "0")]),
            Labels::from_pairs([("a", "1"), ("bb", "0")]),
        ];
        for x in &sets {
            for y in &sets {
                assert_eq!(x.cmp(y), x.sort_key().unwrap().cmp(&y.sort_key().unwrap()), "{x} vs {y}");
            }
        }
        assert!(Labels::from_pairs([("a", "x\0y")]).sort_key().is_none());
    }
}
