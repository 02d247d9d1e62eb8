use super::*;

fn read_all(dir: &Path) -> (Vec<Vec<u8>>, ReplayStats) {
    let mut r = Reader::open(dir).unwrap();
    let mut out = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        out.push(rec.to_vec());
    }
    (out, r.stats().clone())
}

fn rec(i: usize) -> Vec<u8> {
    // Mix compressible and incompressible records.
    if i.is_multiple_of(2) {
        vec![(i % 251) as u8; 100 + i]
    } else {
        (0..i * 3).map(|k| (k * 7919 % 256) as u8).collect()
    }
}

#[test]
fn write_and_replay_across_segments() {
    let d = tempfile::tempdir().unwrap();
    let opts = Options { segment_size: 4096, ..Options::default() };
    let mut w = Wal::open(d.path(), opts.clone()).unwrap();
    for i in 0..200 {
        w.log(&rec(i)).unwrap();
    }
    assert!(w.current_segment() > 3);
    w.close().unwrap();
    let (recs, stats) = read_all(d.path());
    assert_eq!(recs.len(), 200);
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r, &rec(i));
    }
    assert_eq!(stats.corruption, None);
    // Reopening starts a new segment and keeps the old records.
    let mut w = Wal::open(d.path(), opts).unwrap();
    w.log(b"more").unwrap();
    drop(w);
    let (recs, _) = read_all(d.path());
    assert_eq!(recs.len(), 201);
    assert_eq!(recs[200], b"more");
}

#[test]
fn torn_tail_is_repaired_silently() {
    let d = tempfile::tempdir().unwrap();
    let mut w = Wal::open(d.path(), Options::default()).unwrap();
    for i in 0..10 {
        w.log(&rec(i)).unwrap();
    }
    let seg = segment_path(d.path(), w.current_segment());
    drop(w);
    let len = fs::metadata(&seg).unwrap().len();
    // Cut the last frame in half, as a crash during write would.
    let f = OpenOptions::new().write(true).open(&seg).unwrap();
    f.set_len(len - 5).unwrap();
    let (recs, stats) = read_all(d.path());
    assert_eq!(recs.len(), 9);
    assert_eq!(stats.corruption, None);
    // The repair truncated the file to the last good frame: appending works and reads back.
    let mut w = Wal::open(d.path(), Options::default()).unwrap();
    w.log(b"after").unwrap();
    drop(w);
    let (recs, _) = read_all(d.path());
    assert_eq!(recs.len(), 10);
}

#[test]
fn corruption_in_the_middle_drops_the_rest_and_is_reported() {
    let d = tempfile::tempdir().unwrap();
    let opts = Options { segment_size: 1024, compress: false, ..Options::default() };
    let mut w = Wal::open(d.path(), opts).unwrap();
    for i in 0..50 {
        w.log(&rec(i)).unwrap();
    }
    drop(w);
    // Flip a byte inside the first frame's payload of segment 0.
    let seg0 = segment_path(d.path(), 0);
    let mut bytes = fs::read(&seg0).unwrap();
    bytes[HEADER_LEN as usize + FRAME_HEADER_LEN + 3] ^= 0xff;
    fs::File::create(&seg0).unwrap().write_all(&bytes).unwrap();
    let (recs, stats) = read_all(d.path());
    assert_eq!(recs.len(), 0);
    assert!(stats.corruption.unwrap().contains("checksum mismatch"));
    let (_, segs) = list(d.path()).unwrap();
    assert_eq!(segs, vec![0]);
}

#[test]
fn checkpoint_replaces_old_segments() {
    let d = tempfile::tempdir().unwrap();
    let opts = Options { segment_size: 2048, ..Options::default() };
    let mut w = Wal::open(d.path(), opts).unwrap();
    for i in 0..40 {
        w.log(&rec(i)).unwrap();
    }
    let upto = w.next_segment().unwrap();
    w.log(b"tail").unwrap();
    // Reading up to the closed segment sees the old records but not the new one.
    let mut r = Reader::open_upto(d.path(), Some(upto)).unwrap();
    let mut n = 0;
    while let Some(rec) = r.next_record().unwrap() {
        assert_ne!(rec, b"tail");
        n += 1;
    }
    assert_eq!(n, 40);
    let summary: Vec<Vec<u8>> = vec![b"summary-1".to_vec(), b"summary-2".to_vec()];
    checkpoint(d.path(), upto, summary.into_iter(), true).unwrap();
    drop(w);
    let (recs, _) = read_all(d.path());
    assert_eq!(recs, vec![b"summary-1".to_vec(), b"summary-2".to_vec(), b"tail".to_vec()]);
    let (cp, segs) = list(d.path()).unwrap();
    assert_eq!(cp.unwrap().0, upto);
    assert!(segs.iter().all(|&s| s > upto));
}

#[test]
fn random_garbage_never_panics() {
    let d = tempfile::tempdir().unwrap();
    let mut x: u64 = 42;
    for round in 0..50 {
        let _ = fs::remove_dir_all(d.path());
        fs::create_dir_all(d.path()).unwrap();
        let mut bytes = b"SEERWAL\x01".to_vec();
        for _ in 0..(round * 13) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            bytes.push(x as u8);
        }
        fs::write(segment_path(d.path(), 0), &bytes).unwrap();
        let mut r = Reader::open(d.path()).unwrap();
        while let Ok(Some(_)) = r.next_record() {}
    }
}

#[test]
fn oversized_record_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let mut w = Wal::open(d.path(), Options::default()).unwrap();
    assert!(matches!(w.log(&vec![0u8; MAX_RECORD_LEN + 1]), Err(Error::RecordTooLarge(_))));
}
