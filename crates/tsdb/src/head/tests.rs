use super::*;
use seer_model::Labels;

const RANGE: i64 = 2 * 3600 * 1000;

fn l(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

fn all(h: &Head, id: u32) -> Vec<(i64, f64)> {
    let mut out = Vec::new();
    h.samples(id, i64::MIN, i64::MAX, &mut out);
    out.into_iter().map(|s| (s.t, s.v)).collect()
}

#[test]
fn create_lookup_and_append() {
    let mut h = Head::new(RANGE);
    let a = l(&[("__name__", "up"), ("job", "a")]);
    let (id, created) = h.get_or_create(&a, 0).unwrap();
    assert!(created);
    assert_eq!(h.get_or_create(&a, 0).unwrap(), (id, false));
    for i in 0..300 {
        h.append(id, i * 1000, i as f64, 0).unwrap();
    }
    let s = all(&h, id);
    assert_eq!(s.len(), 300);
    assert_eq!(s[299], (299_000, 299.0));
    assert_eq!(h.labels_of(id).unwrap(), a);
    assert_eq!((h.mint, h.maxt), (0, 299_000));
}

#[test]
fn ordering_rules() {
    let mut h = Head::new(RANGE);
    let (id, _) = h.get_or_create(&l(&[("a", "1")]), 0).unwrap();
    h.append(id, 100, 1.0, 0).unwrap();
    assert_eq!(h.append(id, 100, 1.0, 0), Ok(false));
    assert_eq!(h.append(id, 100, 2.0, 0), Err(SampleError::Duplicate));
    assert_eq!(h.append(id, 50, 2.0, 0), Err(SampleError::OutOfOrder));
    // With a window, older samples are kept and merged in order.
    h.append(id, 200, 3.0, 0).unwrap();
    assert_eq!(h.append(id, 150, 9.0, 1000), Ok(true));
    assert_eq!(h.append(id, 150, 9.5, 1000), Err(SampleError::Duplicate));
    assert_eq!(h.append(id, -5000, 9.0, 1000), Err(SampleError::TooOld));
    assert_eq!(all(&h, id), vec![(100, 1.0), (150, 9.0), (200, 3.0)]);
    h.min_valid = 1000;
    assert_eq!(h.append(id, 999, 1.0, 0), Err(SampleError::OutOfBounds));
}

#[test]
fn chunks_do_not_cross_block_boundaries() {
    let mut h = Head::new(RANGE);
    let (id, _) = h.get_or_create(&l(&[("a", "1")]), 0).unwrap();
    for i in 0..20 {
        h.append(id, RANGE - 10 * 1000 + i * 1000, i as f64, 0).unwrap();
    }
    let s = h.series.get(id).unwrap();
    assert_eq!(s.min_time(), Some(RANGE - 10_000));
    h.truncate(RANGE);
    assert_eq!(all(&h, id).first().unwrap().0, RANGE);
    assert_eq!(all(&h, id).len(), 10);
}

#[test]
fn select_with_all_matcher_kinds() {
    let mut h = Head::new(RANGE);
    let mut ids = Vec::new();
    for (job, inst) in [("a", "1"), ("a", "2"), ("b", "1"), ("c", "")] {
        let (id, _) = h.get_or_create(&l(&[("__name__", "m"), ("job", job), ("inst", inst)]), 0).unwrap();
        ids.push(id);
    }
    let m = |k, n: &str, v: &str| Matcher::new(k, n, v).unwrap();
    assert_eq!(h.select_ids(&[m(MatchKind::Equal, "job", "a")]), vec![ids[0], ids[1]]);
    assert_eq!(h.select_ids(&[m(MatchKind::NotEqual, "job", "a")]), vec![ids[2], ids[3]]);
    assert_eq!(h.select_ids(&[m(MatchKind::Regex, "job", "a|c")]), vec![ids[0], ids[1], ids[3]]);
    assert_eq!(h.select_ids(&[m(MatchKind::NotRegex, "job", "a.*")]), vec![ids[2], ids[3]]);
    // Absent label reads as the empty string.
    assert_eq!(h.select_ids(&[m(MatchKind::Equal, "inst", "")]), vec![ids[3]]);
    assert_eq!(
        h.select_ids(&[m(MatchKind::Equal, "__name__", "m"), m(MatchKind::NotEqual, "inst", "")]),
        vec![ids[0], ids[1], ids[2]]
    );
    assert_eq!(h.select_ids(&[m(MatchKind::Equal, "nope", "x")]), Vec::<u32>::new());
    assert_eq!(h.select_ids(&[m(MatchKind::Equal, "__name__", "m"), m(MatchKind::Equal, "nope", "")]).len(), 4);
}

#[test]
fn truncate_removes_dead_series_and_frees_symbols() {
    let mut h = Head::new(RANGE);
    let (a, _) = h.get_or_create(&l(&[("__name__", "old"), ("x", "only-here")]), 0).unwrap();
    let (b, _) = h.get_or_create(&l(&[("__name__", "new")]), 0).unwrap();
    h.append(a, 1000, 1.0, 0).unwrap();
    h.append(b, 1000, 1.0, 0).unwrap();
    h.append(b, RANGE + 1000, 2.0, 0).unwrap();
    assert_eq!(h.truncate(RANGE), 1);
    assert_eq!(h.num_series(), 1);
    assert!(h.symbols.lookup("only-here").is_none());
    assert!(h.select_ids(&[Matcher::equal("__name__", "old")]).is_empty());
    assert_eq!(h.select_ids(&[Matcher::equal("__name__", "new")]), vec![b]);
    // Recreating a removed series creates it anew; freed ids are reused.
    let (a2, created) = h.get_or_create(&l(&[("__name__", "old"), ("x", "only-here")]), 0).unwrap();
    assert!(created);
    assert_eq!(a2, a);
    assert_eq!(h.select_ids(&[Matcher::equal("x", "only-here")]), vec![a2]);
}

#[test]
fn series_limit() {
    let mut h = Head::new(RANGE);
    h.get_or_create(&l(&[("a", "1")]), 1).unwrap();
    assert_eq!(h.get_or_create(&l(&[("a", "2")]), 1), Err(CreateError::SeriesLimit(1)));
}
