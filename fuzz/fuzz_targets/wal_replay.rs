//! WAL replay of hostile input: either raw segment bytes (framing, checksums, repair), or
//! records wrapped in valid frames so the metrics store's record decoding and replay into
//! the head are exercised. Must repair, skip or report, never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("seer-fuzz-wal-{}", std::process::id()));
    let wal = dir.join("wal");
    let _ = std::fs::remove_dir_all(&dir);
    if std::fs::create_dir_all(&wal).is_err() || data.is_empty() {
        return;
    }
    if data[0] & 1 == 0 {
        let mut seg = b"SEERWAL\x01".to_vec();
        seg.extend_from_slice(&data[1..]);
        if std::fs::write(wal.join("00000000"), &seg).is_err() {
            return;
        }
    } else {
        let Ok(mut w) = seer_wal::Wal::open(&wal, seer_wal::Options::default()) else { return };
        let mut rest = &data[1..];
        while let Some((&len, tail)) = rest.split_first() {
            let n = (len as usize).min(tail.len());
            let _ = w.log(&tail[..n]);
            rest = &tail[n..];
        }
        let _ = w.close();
    }
    // Opening a store replays its WAL.
    let _ = seer_tsdb::Db::open(&dir, seer_tsdb::Options::default());
    let _ = std::fs::remove_dir_all(&dir);
});
