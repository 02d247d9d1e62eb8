//! The log store opening a damaged directory: arbitrary bytes as a WAL segment and as a block
//! file. Opening may fail with an error, never panic; whatever opens must scan.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("seer-fuzz-logs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (split, rest) = data.split_at(data.len() / 2);
    let _ = std::fs::create_dir_all(dir.join("wal"));
    let _ = std::fs::create_dir_all(dir.join("blocks"));
    let mut seg = b"SEERWAL\x01".to_vec();
    seg.extend_from_slice(split);
    let _ = std::fs::write(dir.join("wal").join("00000000"), &seg);
    let mut blk = b"SEERLOGB\x03\0\0\0\0\0\0\0".to_vec();
    blk.extend_from_slice(rest);
    let _ = std::fs::write(dir.join("blocks").join("00000001-0.lblk"), &blk);
    if let Ok(db) = seer_logstore::LogDb::open(&dir, seer_logstore::Options::default()) {
        let _ = db.scan(&[], i64::MIN, i64::MAX, &mut |_, b, r| {
            for i in r {
                let _ = b.line(i);
            }
            true
        });
    }
    let _ = std::fs::remove_dir_all(&dir);
});
