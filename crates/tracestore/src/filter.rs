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

/// FNV-1a, fed byte by byte, with a final mix.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn eat(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn finish(self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    }
}

/// The item hash of (scope, key, text): scope byte, key, 0xff, text.
fn start(scope: u8, key: &str) -> Fnv {
    let mut f = Fnv::new();
    f.eat(&[scope]);
    f.eat(key.as_bytes());
    f.eat(&[0xff]);
    f
}

/// The hash of a value's canonical text (`FORMAT.md`): `s<string>`, `i<decimal>` for integers
/// and floats with an integral value, `b<true|false>`; `None` for values filters do not hold.
/// Written without building the text, since every attribute of every stored span passes here.
fn value_hash(scope: u8, key: &str, v: &AttrValue) -> Option<u64> {
    let mut f = start(scope, key);
    match v {
        AttrValue::Str(s) => {
            f.eat(b"s");
            f.eat(s.as_bytes());
        }
        AttrValue::Int(i) => eat_int(&mut f, *i),
        AttrValue::Float(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => eat_int(&mut f, *x as i64),
        AttrValue::Bool(b) => {
            f.eat(b"b");
            f.eat(if *b { b"true" } else { b"false" });
        }
        _ => return None,
    }
    Some(f.finish())
}

/// `i` and the decimal digits of `i` (with a leading `-` when negative).
fn eat_int(f: &mut Fnv, i: i64) {
    let mut digits = [0u8; 20];
    let mut n = i.unsigned_abs();
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    f.eat(b"i");
    if i < 0 {
        f.eat(b"-");
    }
    f.eat(&digits[at..]);
}

fn name_hash(name: &str) -> u64 {
    let mut f = start(2, "");
    f.eat(name.as_bytes());
    f.finish()
}

impl SearchKey {
    /// The item hash; `None` when the value is not one filters hold (floats, bytes, ...).
    pub(crate) fn hash(&self) -> Option<u64> {
        match self {
            SearchKey::Span { key, value } => value_hash(1, key, value),
            SearchKey::Resource { key, value } => value_hash(0, key, value),
            SearchKey::Name(n) => Some(name_hash(n)),
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
        out.extend(items.iter().filter_map(|x| value_hash(scope, key, x)));
    } else if let Some(h) = value_hash(scope, key, v) {
        out.push(h);
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
        out.push(name_hash(&s.name));
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

    /// The item hash as `FORMAT.md` defines it, over the value's text.
    fn text_hash(scope: u8, key: &str, text: &str) -> u64 {
        let mut f = start(scope, key);
        f.eat(text.as_bytes());
        f.finish()
    }

    #[test]
    fn hashes_are_those_of_the_canonical_text() {
        let cases = [
            (AttrValue::Str("GET".into()), "sGET"),
            (AttrValue::Str(String::new()), "s"),
            (AttrValue::Int(0), "i0"),
            (AttrValue::Int(200), "i200"),
            (AttrValue::Int(-42), "i-42"),
            (AttrValue::Int(i64::MIN), "i-9223372036854775808"),
            (AttrValue::Int(i64::MAX), "i9223372036854775807"),
            (AttrValue::Float(200.0), "i200"),
            (AttrValue::Float(-3.0), "i-3"),
            (AttrValue::Bool(true), "btrue"),
            (AttrValue::Bool(false), "bfalse"),
        ];
        for (v, text) in cases {
            assert_eq!(value_hash(1, "http.status_code", &v), Some(text_hash(1, "http.status_code", text)), "{v:?}");
        }
        assert_eq!(value_hash(0, "k", &AttrValue::Float(0.5)), None);
        assert_eq!(value_hash(0, "k", &AttrValue::Bytes(vec![1])), None);
        assert_eq!(name_hash("GET /"), text_hash(2, "", "GET /"));
    }

    #[test]
    fn filters_hold_what_was_added() {
        let items: Vec<u64> = (0..500).map(|i| text_hash(1, "k", &format!("s{i}"))).collect();
        let bits = build(items.clone());
        assert!(items.iter().all(|h| may_contain(&bits, *h)));
        let fp = (1000..11_000).filter(|i| may_contain(&bits, text_hash(1, "k", &format!("s{i}")))).count();
        assert!(fp < 300, "false positives {fp} of 10000");
        assert!(may_contain(&[], 1));
        let k = SearchKey::Span { key: "k".into(), value: AttrValue::Str("7".into()) };
        assert!(page_may_match(&bits, &required_hashes(&[vec![k]])));
        let float = SearchKey::Span { key: "k".into(), value: AttrValue::Float(0.5) };
        assert!(required_hashes(&[vec![float]]).is_empty());
        assert_eq!(value_hash(1, "k", &AttrValue::Float(200.0)), value_hash(1, "k", &AttrValue::Int(200)));
    }
}
