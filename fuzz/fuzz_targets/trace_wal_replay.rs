//! The trace store opening a damaged directory: arbitrary bytes as a WAL segment and as a
//! block file. Opening may fail with an error, never panic; whatever opens must answer
//! trace-by-id and scans.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("seer-fuzz-traces-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (split, rest) = data.split_at(data.len() / 2);
    let _ = std::fs::create_dir_all(dir.join("wal"));
    let _ = std::fs::create_dir_all(dir.join("blocks"));
    let mut seg = b"SEERWAL\x01".to_vec();
    seg.extend_from_slice(split);
    let _ = std::fs::write(dir.join("wal").join("00000000"), &seg);
    let mut blk = b"SEERTRCB\x02\0\0\0\0\0\0\0".to_vec();
    blk.extend_from_slice(rest);
    let _ = std::fs::write(dir.join("blocks").join("00000001-0.tblk"), &blk);
    if let Ok(db) = seer_tracestore::TraceDb::open(&dir, seer_tracestore::Options::default()) {
        let _ = db.scan(0, u64::MAX, &mut |t| {
            let _ = db.trace(&t.id);
            true
        });
    }
    let _ = std::fs::remove_dir_all(&dir);
});
