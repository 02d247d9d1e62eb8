//! Store-level scenarios: restart, block cutting, compaction, retention, out-of-order
//! samples, crash recovery and tenant isolation.

use seer_model::{Exemplar, Labels, MatchKind, Matcher, MetricMetadata, MetricType, Sample, SeriesSamples, TenantId};
use seer_tsdb::{Db, Options, Storage};

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;

fn labels(name: &str, i: usize) -> Labels {
    Labels::from_pairs([("__name__", name.to_string()), ("instance", format!("host-{i}")), ("job", "node".into())])
}

fn batch(t: i64, n: usize) -> Vec<SeriesSamples> {
    (0..n)
        .map(|i| SeriesSamples {
            labels: labels("metric_a", i),
            samples: vec![Sample { t, v: (t / 1000) as f64 + i as f64 }],
            exemplars: vec![],
        })
        .collect()
}

fn fill(db: &Db, from: i64, to: i64, step: i64, n: usize) -> u64 {
    let mut total = 0;
    let mut t = from;
    while t < to {
        let r = db.append(&batch(t, n), &[]).unwrap();
        assert_eq!(r.samples_rejected, 0, "{:?}", r.errors);
        total += r.samples_appended;
        t += step;
    }
    total
}

fn count(db: &Db, mint: i64, maxt: i64) -> usize {
    let m = Matcher::equal("__name__", "metric_a");
    db.select(&[m], mint, maxt).unwrap().iter().map(|s| s.samples.len()).sum()
}

fn check_values(db: &Db, n: usize) {
    let m = Matcher::equal("__name__", "metric_a");
    for s in db.select(&[m], i64::MIN, i64::MAX).unwrap() {
        let i: usize = s.labels.get("instance").unwrap()[5..].parse().unwrap();
        assert!(i < n);
        for w in s.samples.windows(2) {
            assert!(w[0].t < w[1].t);
        }
        for smp in &s.samples {
            assert_eq!(smp.v, (smp.t / 1000) as f64 + i as f64);
        }
    }
}

#[test]
fn restart_replays_the_wal() {
    let d = tempfile::tempdir().unwrap();
    let db = Db::open(d.path(), Options::default()).unwrap();
    let n = fill(&db, 0, 30 * MIN, 15_000, 50);
    db.append(
        &[],
        &[MetricMetadata {
            metric_family: "metric_a".into(),
            kind: MetricType::Gauge,
            help: "h".into(),
            unit: "".into(),
        }],
    )
    .unwrap();
    drop(db); // no close: as after kill -9, only what reached the kernel is there
    let db = Db::open(d.path(), Options::default()).unwrap();
    assert_eq!(count(&db, i64::MIN, i64::MAX) as u64, n);
    assert_eq!(db.replay_report().samples, n);
    assert_eq!(db.metadata()[0].kind, MetricType::Gauge);
    check_values(&db, 50);
    // Appending after the restart continues the same series.
    fill(&db, 30 * MIN, 31 * MIN, 15_000, 50);
    assert_eq!(db.stats().head_series, 50);
}

#[test]
fn head_is_cut_into_blocks_and_queries_span_both() {
    let d = tempfile::tempdir().unwrap();
    let db = Db::open(d.path(), Options::default()).unwrap();
    let n = fill(&db, 0, 5 * HOUR, 30_000, 20);
    db.maintain().unwrap();
    let st = db.stats();
    assert_eq!(st.blocks, 1, "{st:?}");
    assert!(st.head_min_time >= 2 * HOUR);
    assert_eq!(count(&db, i64::MIN, i64::MAX) as u64, n);
    // A range crossing the block/head boundary.
    assert_eq!(count(&db, 2 * HOUR - 60_000, 2 * HOUR + 60_000), 20 * 5);
    check_values(&db, 20);
    // Series, label names and values come from both.
    let m = [Matcher::new(MatchKind::Regex, "instance", "host-1.*").unwrap()];
    assert_eq!(db.series(&m, 0, HOUR).unwrap().len(), 11);
    assert_eq!(db.label_names(&[], 0, HOUR).unwrap(), vec!["__name__", "instance", "job"]);
    assert_eq!(db.label_values("job", &[], 0, 10 * HOUR).unwrap(), vec!["node"]);
    // Restart: blocks are loaded, the WAL checkpoint restores the rest of the head.
    drop(db);
    let db = Db::open(d.path(), Options::default()).unwrap();
    assert_eq!(count(&db, i64::MIN, i64::MAX) as u64, n);
    check_values(&db, 20);
    // Samples in the range already persisted are refused.
    let r = db.append(&batch(HOUR, 1), &[]).unwrap();
    assert_eq!(r.errors[0].message, "out of bounds");
}

#[test]
fn blocks_are_compacted_and_retention_deletes_old_ones() {
    let d = tempfile::tempdir().unwrap();
    let opts = Options { retention_time: 72 * HOUR, ..Options::default() };
    let db = Db::open(d.path(), opts.clone()).unwrap();
    let mut t = 0;
    let mut appended = 0;
    while t < 100 * HOUR {
        appended += fill(&db, t, t + HOUR, 5 * MIN, 10);
        db.maintain().unwrap();
        t += HOUR;
    }
    let blocks = db.blocks();
    assert!(blocks.iter().any(|b| b.meta().compaction.level > 1), "{blocks:?}");
    // Retention: nothing that ends more than 72 h before the newest sample survives.
    let newest = db.stats().head_max_time;
    assert!(blocks.iter().all(|b| b.meta().max_time > newest - 72 * HOUR));
    let kept = count(&db, i64::MIN, i64::MAX) as u64;
    assert!(kept < appended && kept > 0);
    // Every 5-minute sample within the retained range is there exactly once.
    let first = db.blocks()[0].meta().min_time;
    assert_eq!(count(&db, first, newest) as i64, (newest - first) / (5 * MIN) * 10 + 10);
    drop(db);
    let db = Db::open(d.path(), opts).unwrap();
    assert_eq!(count(&db, i64::MIN, i64::MAX) as u64, kept);
}

#[test]
fn out_of_order_window() {
    let d = tempfile::tempdir().unwrap();
    let opts = Options { out_of_order_window: 10 * MIN, ..Options::default() };
    let db = Db::open(d.path(), opts.clone()).unwrap();
    fill(&db, 20 * MIN, 30 * MIN, MIN, 1);
    let old = |t| {
        vec![SeriesSamples {
            labels: labels("metric_a", 0),
            samples: vec![Sample { t, v: (t / 1000) as f64 }],
            exemplars: vec![],
        }]
    };
    assert_eq!(db.append(&old(25 * MIN + 1000), &[]).unwrap().samples_appended, 1);
    assert_eq!(db.append(&old(5 * MIN), &[]).unwrap().errors[0].message, "too old sample");
    drop(db);
    let db = Db::open(d.path(), opts).unwrap();
    assert_eq!(count(&db, i64::MIN, i64::MAX), 11);
    check_values(&db, 1);
    // Without a window the same sample is refused.
    let d2 = tempfile::tempdir().unwrap();
    let db2 = Db::open(d2.path(), Options::default()).unwrap();
    fill(&db2, 20 * MIN, 30 * MIN, MIN, 1);
    assert_eq!(db2.append(&old(25 * MIN + 1000), &[]).unwrap().errors[0].message, "out of order sample");
}

#[test]
fn invalid_series_are_reported_and_the_rest_is_kept() {
    let d = tempfile::tempdir().unwrap();
    let db = Db::open(d.path(), Options::default()).unwrap();
    let mut b = batch(1000, 3);
    b[1].labels = Labels::from_pairs([("job", "no-name")]);
    let r = db.append(&b, &[]).unwrap();
    assert_eq!(r.samples_appended, 2);
    assert_eq!(r.samples_rejected, 1);
    assert!(r.error_summary().contains("has no metric name"), "{}", r.error_summary());
}

#[test]
fn exemplars_survive_restart() {
    let d = tempfile::tempdir().unwrap();
    let db = Db::open(d.path(), Options::default()).unwrap();
    let mut b = batch(1000, 1);
    b[0].exemplars.push(Exemplar { labels: Labels::from_pairs([("trace_id", "abc")]), t: 1000, v: 0.5 });
    assert_eq!(db.append(&b, &[]).unwrap().exemplars_appended, 1);
    drop(db);
    let db = Db::open(d.path(), Options::default()).unwrap();
    let ex = db.exemplars(&[Matcher::equal("__name__", "metric_a")], 0, 2000);
    assert_eq!(ex.len(), 1);
    assert_eq!(ex[0].1[0].labels.get("trace_id"), Some("abc"));
}

#[test]
fn snapshot_and_flush() {
    let d = tempfile::tempdir().unwrap();
    let db = Db::open(&d.path().join("db"), Options::default()).unwrap();
    let n = fill(&db, 0, 3 * HOUR, MIN, 5);
    db.snapshot(&d.path().join("snap"), false).unwrap();
    let snap: Vec<_> = std::fs::read_dir(d.path().join("snap")).unwrap().collect();
    assert_eq!(snap.len(), 1);
    db.flush_head().unwrap();
    assert_eq!(db.stats().head_series, 0);
    assert_eq!(db.blocks().len(), 2);
    assert_eq!(count(&db, i64::MIN, i64::MAX) as u64, n);
}

#[test]
fn tenants_are_isolated() {
    let d = tempfile::tempdir().unwrap();
    let s = Storage::open(d.path(), Options::default()).unwrap();
    let a = TenantId::new("a").unwrap();
    let b = TenantId::new("b").unwrap();
    fill(&s.tenant(&a).unwrap(), 0, MIN, 15_000, 3);
    assert_eq!(count(&s.tenant(&a).unwrap(), i64::MIN, i64::MAX), 12);
    assert!(s.existing(&b).is_none());
    assert_eq!(count(&s.tenant(&b).unwrap(), i64::MIN, i64::MAX), 0);
    drop(s);
    let s = Storage::open(d.path(), Options::default()).unwrap();
    assert_eq!(s.tenants().len(), 2);
    assert_eq!(count(&s.existing(&a).unwrap(), i64::MIN, i64::MAX), 12);
}

#[test]
fn reused_series_ids_replay_correctly() {
    // A series that leaves the head frees its id; a new series reuses it. The WAL still holds
    // the old definition until the next checkpoint, so replay must redefine the id.
    let d = tempfile::tempdir().unwrap();
    let db = Db::open(d.path(), Options::default()).unwrap();
    let old =
        |t| vec![SeriesSamples { labels: labels("gone", 0), samples: vec![Sample { t, v: 1.0 }], exemplars: vec![] }];
    db.append(&old(1000), &[]).unwrap();
    fill(&db, 0, 4 * HOUR, 5 * MIN, 3);
    db.maintain().unwrap(); // cuts [0, 2h): "gone" has nothing newer, so its id is freed
    db.append(
        &[SeriesSamples {
            labels: labels("newcomer", 0),
            samples: vec![Sample { t: 4 * HOUR, v: 7.0 }],
            exemplars: vec![],
        }],
        &[],
    )
    .unwrap();
    drop(db);
    let db = Db::open(d.path(), Options::default()).unwrap();
    let newcomer = db.select(&[Matcher::equal("__name__", "newcomer")], i64::MIN, i64::MAX).unwrap();
    assert_eq!(newcomer.len(), 1);
    assert_eq!(newcomer[0].samples, vec![Sample { t: 4 * HOUR, v: 7.0 }]);
    let gone = db.select(&[Matcher::equal("__name__", "gone")], i64::MIN, i64::MAX).unwrap();
    assert_eq!(gone.len(), 1, "still in the block");
    assert_eq!(gone[0].samples.len(), 1);
    assert_eq!(db.stats().head_series, 4);
    check_values(&db, 3);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn crash_between_block_write_and_checkpoint_then_id_reuse() {
    // The state a crash leaves when a block was written but the WAL not yet checkpointed:
    // the WAL still defines a series whose samples are all in the block. Replay frees its
    // id; a new series reuses it; the next replay must redefine the id.
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("a");
    let b = d.path().join("b");
    let db = Db::open(&a, Options::default()).unwrap();
    let old =
        |t| vec![SeriesSamples { labels: labels("gone", 0), samples: vec![Sample { t, v: 1.0 }], exemplars: vec![] }];
    db.append(&old(1000), &[]).unwrap();
    fill(&db, 0, 4 * HOUR, 5 * MIN, 3);
    db.sync_wal().unwrap();
    copy_dir(&a.join("wal"), &b.join("wal"));
    db.maintain().unwrap();
    copy_dir(&a.join("blocks"), &b.join("blocks"));
    drop(db);
    let db = Db::open(&b, Options::default()).unwrap();
    assert_eq!(db.stats().head_series, 3, "\"gone\" only has data in the block");
    db.append(
        &[SeriesSamples {
            labels: labels("newcomer", 0),
            samples: vec![Sample { t: 4 * HOUR, v: 7.0 }],
            exemplars: vec![],
        }],
        &[],
    )
    .unwrap();
    drop(db);
    let db = Db::open(&b, Options::default()).unwrap();
    assert_eq!(db.stats().head_series, 4);
    let newcomer = db.select(&[Matcher::equal("__name__", "newcomer")], 0, i64::MAX).unwrap();
    assert_eq!(newcomer.len(), 1);
    assert_eq!(newcomer[0].samples, vec![Sample { t: 4 * HOUR, v: 7.0 }]);
    assert_eq!(db.series(&[Matcher::equal("__name__", "gone")], 2 * HOUR, i64::MAX).unwrap().len(), 0);
    assert_eq!(db.series(&[Matcher::equal("__name__", "gone")], 0, i64::MAX).unwrap().len(), 1);
    check_values(&db, 3);
}

#[test]
fn parallel_replay_of_many_series() {
    let d = tempfile::tempdir().unwrap();
    let db = Db::open(d.path(), Options::default()).unwrap();
    // Enough series for several slab pages, so every replay worker gets work.
    let n = fill(&db, 0, 10 * MIN, MIN, 20_000);
    drop(db);
    let db = Db::open(d.path(), Options::default()).unwrap();
    assert_eq!(db.replay_report().samples, n);
    assert_eq!(count(&db, i64::MIN, i64::MAX) as u64, n);
    check_values(&db, 20_000);
}

#[test]
fn retention_by_size_deletes_oldest_blocks() {
    let d = tempfile::tempdir().unwrap();
    let db = Db::open(d.path(), Options { retention_time: 0, ..Options::default() }).unwrap();
    for h in 0..12 {
        fill(&db, h * HOUR, (h + 1) * HOUR, MIN, 200);
        db.maintain().unwrap();
    }
    let blocks = db.blocks();
    assert!(blocks.len() >= 3, "{blocks:?}");
    let total: u64 = blocks.iter().map(|b| b.size()).sum::<u64>() + db.stats().wal_bytes;
    let oldest = blocks[0].meta().min_time;
    drop(db);
    // Reopen with a limit a bit below the current size: the oldest block goes.
    let db =
        Db::open(d.path(), Options { retention_time: 0, retention_size: total - 1, ..Options::default() }).unwrap();
    db.maintain().unwrap();
    let after = db.blocks();
    assert!(after.len() < blocks.len());
    assert!(after[0].meta().min_time > oldest);
    let size: u64 = after.iter().map(|b| b.size()).sum::<u64>() + db.stats().wal_bytes;
    assert!(size < total, "{size} > {}", total - 1);
}

#[test]
fn checkpoints_while_appending_lose_and_duplicate_nothing() {
    let d = tempfile::tempdir().unwrap();
    let opts = Options { out_of_order_window: 10 * MIN, ..Options::default() };
    let db = std::sync::Arc::new(Db::open(d.path(), opts.clone()).unwrap());
    let writer = {
        let db = db.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            for step in 0..400i64 {
                n += fill(&db, 20 * MIN + step * 1000, 20 * MIN + step * 1000 + 1, 1000, 300);
                // Every 10th step also an out-of-order sample, 5 minutes back, between two
                // in-order ones.
                if step % 10 == 0 {
                    let t = 20 * MIN + step * 1000 - 5 * MIN + 500;
                    let b = vec![SeriesSamples {
                        labels: labels("metric_a", 7),
                        samples: vec![Sample { t, v: (t / 1000) as f64 + 7.0 }],
                        exemplars: vec![],
                    }];
                    let r = db.append(&b, &[]).unwrap();
                    assert_eq!(r.samples_rejected, 0, "{:?}", r.errors);
                    n += 1;
                }
            }
            n
        })
    };
    for _ in 0..5 {
        std::thread::sleep(std::time::Duration::from_millis(30));
        db.checkpoint().unwrap();
    }
    let n = writer.join().unwrap();
    assert_eq!(count(&db, i64::MIN, i64::MAX) as u64, n);
    drop(db);
    let db = Db::open(d.path(), opts).unwrap();
    assert_eq!(count(&db, i64::MIN, i64::MAX) as u64, n, "after replay of checkpoint + WAL tail");
    check_values(&db, 300);
    // The restored open chunks continue correctly.
    fill(&db, 30 * MIN, 31 * MIN, 1000, 300);
    check_values(&db, 300);
    assert_eq!(count(&db, i64::MIN, i64::MAX) as u64, n + 60 * 300);
}

#[test]
fn maintenance_checkpoints_a_long_wal() {
    let d = tempfile::tempdir().unwrap();
    let opts = Options { checkpoint_min_wal_bytes: 4 << 20, ..Options::default() };
    let db = Db::open(d.path(), opts.clone()).unwrap();
    // Random values make the WAL large enough to cross the checkpoint threshold.
    let mut x: u64 = 1;
    let mut written = 0u64;
    for step in 0..20i64 {
        let batch: Vec<SeriesSamples> = (0..30_000)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                SeriesSamples {
                    labels: labels("noise", i),
                    samples: vec![Sample { t: step * 15_000, v: f64::from_bits(x >> 2) }],
                    exemplars: vec![],
                }
            })
            .collect();
        written += db.append(&batch, &[]).unwrap().samples_appended;
    }
    let (_, tail_before) = seer_wal::sizes(&d.path().join("wal")).unwrap();
    assert!(tail_before > 4 << 20, "{tail_before}");
    db.maintain().unwrap();
    let (cp, tail) = seer_wal::sizes(&d.path().join("wal")).unwrap();
    assert!(cp > 0 && tail < 1 << 20, "checkpoint {cp}, tail {tail}");
    drop(db);
    let db = Db::open(d.path(), opts).unwrap();
    let m = Matcher::equal("__name__", "noise");
    let got: u64 = db.select(&[m], i64::MIN, i64::MAX).unwrap().iter().map(|s| s.samples.len() as u64).sum();
    assert_eq!(got, written);
}

fn hist(i: i64) -> seer_model::FloatHistogram {
    seer_model::FloatHistogram {
        schema: 1,
        zero_threshold: 0.001,
        zero_count: 1.0,
        count: 4.0 + i as f64,
        sum: 10.0 + i as f64,
        positive_spans: vec![seer_model::BucketSpan { offset: 0, length: 2 }],
        positive_buckets: vec![1.0, 2.0 + i as f64],
        ..Default::default()
    }
}

fn hist_batch(t: i64, n: usize) -> Vec<seer_model::SeriesHistograms> {
    (0..n)
        .map(|i| seer_model::SeriesHistograms {
            labels: labels("latency", i),
            histograms: vec![seer_model::HistogramSample { t, h: hist(t / MIN) }],
        })
        .collect()
}

fn hist_count(db: &Db) -> usize {
    let m = Matcher::equal("__name__", "latency");
    let got = db.select(&[m], i64::MIN, i64::MAX).unwrap();
    for s in &got {
        for w in s.histograms.windows(2) {
            assert!(w[0].t < w[1].t);
        }
        for h in &s.histograms {
            assert_eq!(h.h.count, hist(h.t / MIN).count, "{h:?}");
        }
    }
    got.iter().map(|s| s.histograms.len()).sum()
}

#[test]
fn native_histograms_survive_restart_checkpoints_blocks_and_compaction() {
    let d = tempfile::tempdir().unwrap();
    let db = Db::open(d.path(), Options::default()).unwrap();
    let mut n = 0;
    for k in 0..(5 * 60) {
        let r = db.append_histograms(&hist_batch(k * MIN, 3)).unwrap();
        assert_eq!(r.samples_rejected, 0, "{:?}", r.errors);
        n += r.samples_appended as usize;
        // Floats in the same series too (a series may hold both).
        if k % 10 == 5 {
            db.append(
                &[SeriesSamples {
                    labels: labels("latency", 0),
                    samples: vec![Sample { t: k * MIN + 1, v: 1.0 }],
                    exemplars: vec![],
                }],
                &[],
            )
            .unwrap();
        }
    }
    assert_eq!(hist_count(&db), n);
    // Out of order and duplicates are refused with Prometheus' messages.
    let r = db.append_histograms(&hist_batch(10 * MIN, 1)).unwrap();
    assert_eq!(r.errors[0].message, "out of order sample");
    assert_eq!(r.samples_appended, 0);
    // Stored hints: the first sample of a run is Unknown, later ones NotCounterReset.
    let m = Matcher::equal("instance", "host-1");
    let s = &db.select(&[m], 0, 3 * MIN).unwrap()[0];
    assert_eq!(s.histograms[0].h.counter_reset_hint, seer_model::CounterResetHint::Unknown);
    assert_eq!(s.histograms[1].h.counter_reset_hint, seer_model::CounterResetHint::NotCounterReset);
    // Restart from the WAL.
    drop(db);
    let db = Db::open(d.path(), Options::default()).unwrap();
    assert_eq!(hist_count(&db), n);
    // Blocks and checkpoint.
    db.maintain().unwrap();
    assert!(db.stats().blocks >= 1);
    assert_eq!(hist_count(&db), n);
    drop(db);
    let db = Db::open(d.path(), Options::default()).unwrap();
    assert_eq!(hist_count(&db), n);
    db.flush_head().unwrap();
    assert_eq!(hist_count(&db), n);
    // Compaction merges histogram runs (the flush sealed everything up to 6 h).
    let mut t = 6 * 60;
    while t < 20 * 60 {
        let r = db.append_histograms(&hist_batch(t * MIN, 3)).unwrap();
        assert_eq!(r.samples_appended, 3, "{:?}", r.errors);
        n += 3;
        t += 1;
        if t % 60 == 0 {
            db.maintain().unwrap();
        }
    }
    db.maintain().unwrap();
    assert!(db.blocks().iter().any(|b| b.meta().compaction.level > 1), "{:?}", db.blocks());
    assert_eq!(hist_count(&db), n);
}
