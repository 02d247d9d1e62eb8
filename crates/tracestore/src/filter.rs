//! Per-page value filters: a Bloom filter of the (scope, attribute, value) triples and span
//! names of a block page, so a search with equality conditions reads only the pages that may
//! hold a matching span.

use seer_model::trace::{AttrValue, Span};

/// Bits per distinct item (about 1 % false positives with 4 probes).
const BITS_PER_ITEM: usize = 10;
const PROBES: u64 = 4;

/// What a search requires of a span, by value: an attribute (or the span name) equal to a
/// value. A page can hold a match only if each required condition has one alternative in it.
#[derive(Clone, Debug, PartialEq)]
pub enum SearchKey {
    /// A span attribute.
    Span { key: String, value: AttrValue },
    /// A resource attribute.
    Resource { key: String, value: AttrValue },
    /// The span name.
    Name(String),
}

/// The canonical text of a value for filtering: strings as they are, integers (and floats
/// with an integral value) in decimal, booleans as `true`/`false`; other values are not
/// filtered on.
pub fn value_key(v: &AttrValue) -> Option<String> {
    match v {
        AttrValue::Str(s) => Some(format!("s{s}")),
        AttrValue::Int(i) => Some(format!("i{i}")),
        AttrValue::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(format!("i{}", *f as i64)),
        AttrValue::Bool(b) => Some(format!("b{b}")),
        _ => None,
    }
}

fn hash(scope: u8, key: &str, value: &str) -> u64 {
    // FNV-1a over scope, key, a separator and the value, then a final mix.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: u8| {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    eat(scope);
    key.bytes().for_each(&mut eat);
    eat(0xff);
    value.bytes().for_each(&mut eat);
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

impl SearchKey {
    /// The item hash; `None` when the value is not one filters hold (floats, bytes, ...).
    pub(crate) fn hash(&self) -> Option<u64> {
        match self {
            SearchKey::Span { key, value } => value_key(value).map(|v| hash(1, key, &v)),
            SearchKey::Resource { key, value } => value_key(value).map(|v| hash(0, key, &v)),
            SearchKey::Name(n) => Some(hash(2, "", n)),
        }
    }
}

/// Hashes conditions for [`page_may_match`]; a condition with an alternative that filters
/// cannot hold is dropped (it cannot rule a page out).
pub(crate) fn required_hashes(required: &[Vec<SearchKey>]) -> Vec<Vec<u64>> {
    required
        .iter()
        .filter_map(|alts| alts.iter().map(SearchKey::hash).collect::<Option<Vec<u64>>>())
        .filter(|alts| !alts.is_empty())
        .collect()
}

fn attr_hashes(scope: u8, key: &str, v: &AttrValue, out: &mut Vec<u64>) {
    if let AttrValue::Array(items) = v {
        for x in items {
            if let Some(t) = value_key(x) {
                out.push(hash(scope, key, &t));
            }
        }
    } else if let Some(t) = value_key(v) {
        out.push(hash(scope, key, &t));
    }
}

/// Appends the item hashes of `spans` to `out`.
pub(crate) fn span_hashes(spans: &[Span], out: &mut Vec<u64>) {
    let mut last_res: Option<*const seer_model::trace::Resource> = None;
    for s in spans {
        let rp = std::sync::Arc::as_ptr(&s.resource);
        if last_res != Some(rp) {
            last_res = Some(rp);
            for a in &s.resource.attrs {
                attr_hashes(0, &a.key, &a.value, out);
            }
        }
        for a in &s.attrs {
            attr_hashes(1, &a.key, &a.value, out);
        }
        out.push(hash(2, "", &s.name));
    }
}

fn probes(h: u64, m: u64) -> impl Iterator<Item = u64> {
    let h2 = (h.rotate_left(32) ^ 0x9e37_79b9_7f4a_7c15) | 1;
    (0..PROBES).map(move |i| h.wrapping_add(i.wrapping_mul(h2)) % m)
}

/// Builds the filter words of a set of item hashes (deduplicated here).
pub(crate) fn build(mut hashes: Vec<u64>) -> Vec<u64> {
    hashes.sort_unstable();
    hashes.dedup();
    let words = (hashes.len() * BITS_PER_ITEM).div_ceil(64).max(1);
    let mut bits = vec![0u64; words];
    let m = (words * 64) as u64;
    for h in hashes {
        for p in probes(h, m) {
            bits[(p / 64) as usize] |= 1 << (p % 64);
        }
    }
    bits
}

/// Whether a filter may hold the item (always true for an empty filter: none was written).
pub(crate) fn may_contain(bits: &[u64], h: u64) -> bool {
    if bits.is_empty() {
        return true;
    }
    let m = (bits.len() * 64) as u64;
    probes(h, m).all(|p| bits[(p / 64) as usize] & (1 << (p % 64)) != 0)
}

/// Whether a page with this filter can satisfy every condition (each a list of alternatives).
pub(crate) fn page_may_match(bits: &[u64], required: &[Vec<u64>]) -> bool {
    required.iter().all(|alts| alts.iter().any(|h| may_contain(bits, *h)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_hold_what_was_added() {
        let items: Vec<u64> = (0..500).map(|i| hash(1, "k", &format!("s{i}"))).collect();
        let bits = build(items.clone());
        assert!(items.iter().all(|h| may_contain(&bits, *h)));
        let fp = (1000..11_000).filter(|i| may_contain(&bits, hash(1, "k", &format!("s{i}")))).count();
        assert!(fp < 300, "false positives {fp} of 10000");
        assert!(may_contain(&[], 1));
        let k = SearchKey::Span { key: "k".into(), value: AttrValue::Str("7".into()) };
        assert!(page_may_match(&bits, &required_hashes(&[vec![k]])));
        let float = SearchKey::Span { key: "k".into(), value: AttrValue::Float(0.5) };
        assert!(required_hashes(&[vec![float]]).is_empty());
        assert_eq!(value_key(&AttrValue::Float(200.0)), value_key(&AttrValue::Int(200)));
    }
}
