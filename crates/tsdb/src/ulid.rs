//! ULIDs name blocks: 48 bits of milliseconds then 80 random bits, in Crockford base32,
//! so names sort by creation time.

use std::io::Read;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Returns a new ULID string for the current time.
pub(crate) fn new_ulid() -> String {
    let ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    let mut rnd = [0u8; 10];
    let filled = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut rnd)).is_ok();
    if !filled {
        // Fall back to a time- and address-derived value; uniqueness then relies on the
        // millisecond part, which is fine for one process writing blocks sequentially.
        let seed = (ms ^ (&rnd as *const _ as u64)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        rnd[..8].copy_from_slice(&seed.to_be_bytes());
    }
    encode(ms, rnd)
}

fn encode(ms: u64, rnd: [u8; 10]) -> String {
    let mut v: u128 = (ms as u128 & 0xffff_ffff_ffff) << 80;
    for (i, b) in rnd.iter().enumerate() {
        v |= (*b as u128) << (72 - 8 * i);
    }
    let mut out = [0u8; 26];
    for (i, o) in out.iter_mut().enumerate() {
        let shift = 125 - 5 * i as u32;
        *o = ALPHABET[((v >> shift) & 0x1f) as usize];
    }
    String::from_utf8(out.to_vec()).expect("ascii alphabet")
}

/// True for 26 characters of the ULID alphabet.
#[cfg(test)]
pub(crate) fn is_ulid(s: &str) -> bool {
    s.len() == 26 && s.bytes().all(|c| ALPHABET.contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_and_order() {
        let a = encode(1, [0; 10]);
        let b = encode(2, [0xff; 10]);
        assert_eq!(a, "00000000010000000000000000");
        assert!(a < b);
        assert!(is_ulid(&new_ulid()));
    }
}
