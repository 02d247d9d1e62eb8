//! The skip index of block chunks: a small Bloom filter of winnowed 8-grams of every line,
//! so a needle query (`|= "<trace id>"`) reads only the chunks that may contain the needle.
//!
//! Winnowing: hash every 8-byte gram of a line, and keep the smallest hash of every window of
//! [`W`] consecutive grams. A needle occurrence of at least [`MIN_NEEDLE`] bytes contains whole
//! windows, and each of those windows is also a window of the line, so its minimum is in the
//! line's set. A chunk can hold the needle only if every window minimum of the needle is in
//! the chunk's filter; shorter needles cannot use the index. About 2/(W+1) of the grams
//! survive, and the filter spends [`BITS_PER_ITEM`] bits on each distinct one.

/// Gram length in bytes. Shorter grams saturate on hex ids: a 1 MB chunk of trace ids holds
/// nearly every hex 4-gram, so 4-grams could rule out no chunk (measured: 4.4× on the bench).
const K: usize = 8;
/// Grams per window.
const W: usize = 16;
/// Shortest needle the index can rule out.
pub const MIN_NEEDLE: usize = W + K - 1;
/// Filter bits per two distinct fingerprints (2.5 bits each: about 30 % false positives per
/// fingerprint; a needle brings several, all of which must hit). Sized on the log bench: the
/// filters are about 5 % of the store; at 2 bits (4 %) a trace-id needle read up to 15 % of
/// the chunks, too many for the 10x target.
const BITS_PER_TWO_ITEMS: usize = 5;
/// Probes per fingerprint.
const PROBES: u64 = 2;

fn gram_hash(g: &[u8]) -> u64 {
    let v = u64::from_le_bytes([g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7]]);
    (v ^ 0x5bd1_e995_9e37_79b9).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29).wrapping_mul(0xbf58_476d_1ce4_e5b9)
}

/// Appends the window minima of `text` to `out` (duplicates possible).
pub(crate) fn fingerprints(text: &[u8], out: &mut Vec<u64>) {
    if text.len() < MIN_NEEDLE {
        return;
    }
    let hashes: Vec<u64> = text.windows(K).map(gram_hash).collect();
    // Sliding-window minimum with a monotonic deque of indexes.
    let mut dq: std::collections::VecDeque<usize> = std::collections::VecDeque::new();
    let mut last = None;
    for (i, &h) in hashes.iter().enumerate() {
        while dq.back().is_some_and(|&j| hashes[j] >= h) {
            dq.pop_back();
        }
        dq.push_back(i);
        if dq.front().is_some_and(|&j| j + W <= i) {
            dq.pop_front();
        }
        if i + 1 >= W
            && let Some(&j) = dq.front()
            && last != Some(j)
        {
            out.push(hashes[j]);
            last = Some(j);
        }
    }
}

/// A Bloom filter over fingerprints.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Bloom {
    pub bits: Vec<u64>,
}

fn probes(fp: u64, m: u64) -> impl Iterator<Item = u64> {
    let h1 = fp.wrapping_mul(0xff51_afd7_ed55_8ccd);
    let h2 = (fp ^ (fp >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53) | 1;
    (0..PROBES).map(move |i| h1.wrapping_add(i.wrapping_mul(h2)) % m)
}

impl Bloom {
    /// A filter holding `fps` (deduplicated here).
    pub(crate) fn build(mut fps: Vec<u64>) -> Bloom {
        fps.sort_unstable();
        fps.dedup();
        let words = (fps.len() * BITS_PER_TWO_ITEMS).div_ceil(128).max(1);
        let mut bits = vec![0u64; words];
        let m = (words * 64) as u64;
        for fp in fps {
            for p in probes(fp, m) {
                bits[(p / 64) as usize] |= 1 << (p % 64);
            }
        }
        Bloom { bits }
    }

    /// True when every fingerprint may be present.
    pub(crate) fn may_contain_all(&self, fps: &[u64]) -> bool {
        if self.bits.is_empty() {
            return true;
        }
        let m = (self.bits.len() * 64) as u64;
        fps.iter().all(|&fp| probes(fp, m).all(|p| self.bits[(p / 64) as usize] & (1 << (p % 64)) != 0))
    }
}

/// The fingerprints a chunk must hold to contain `needle`, or `None` when the needle is too
/// short for the index.
pub fn needle_fingerprints(needle: &str) -> Option<Vec<u64>> {
    if needle.len() < MIN_NEEDLE {
        return None;
    }
    let mut fps = Vec::new();
    fingerprints(needle.as_bytes(), &mut fps);
    fps.sort_unstable();
    fps.dedup();
    Some(fps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_rules_out_a_chunk_that_contains_the_needle() {
        let mut r = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            r
        };
        let lines: Vec<String> = (0..500)
            .map(|i| {
                format!(
                    "{{\"msg\":\"line {i}\",\"trace_id\":\"{:016x}{:016x}\",\"user\":\"u-{}\"}}",
                    next(),
                    next(),
                    next() % 1000
                )
            })
            .collect();
        let mut fps = Vec::new();
        for l in &lines {
            fingerprints(l.as_bytes(), &mut fps);
        }
        let bloom = Bloom::build(fps);
        // Every substring of length >= MIN_NEEDLE of every line passes.
        for l in lines.iter().step_by(7) {
            for start in 0..l.len() - MIN_NEEDLE {
                for len in [MIN_NEEDLE, MIN_NEEDLE + 5, l.len() - start] {
                    if start + len > l.len() {
                        continue;
                    }
                    let needle = &l[start..start + len];
                    let f = needle_fingerprints(needle).unwrap();
                    assert!(bloom.may_contain_all(&f), "{needle:?} of {l:?}");
                }
            }
        }
        // Random ids not in the chunk are ruled out nearly always.
        let mut hits = 0;
        for _ in 0..1000 {
            let needle = format!("{:016x}{:016x}", next(), next());
            if bloom.may_contain_all(&needle_fingerprints(&needle).unwrap()) {
                hits += 1;
            }
        }
        // A 500-line chunk and 32-character needles: a small filter, few window minima per needle.
        assert!(hits < 250, "{hits} false positives in 1000");
        assert!(needle_fingerprints("short").is_none());
    }
}
