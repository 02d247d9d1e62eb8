//! `kill -9` in the middle of a steady remote-write stream: after a restart every sample
//! that got a 2xx is there.

mod common;

use common::*;
use seer_model::{Labels, Sample, SeriesSamples};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SERIES: usize = 50;
const BATCHES: usize = 6000;
const T0: i64 = 1_700_000_000_000;

fn batch(i: usize) -> Vec<SeriesSamples> {
    (0..SERIES)
        .map(|s| SeriesSamples {
            labels: Labels::from_pairs([
                ("__name__", "crash_test".to_string()),
                ("series", s.to_string()),
                ("job", "kill9".into()),
            ]),
            samples: vec![Sample { t: T0 + i as i64 * 1000, v: (i * SERIES + s) as f64 }],
            exemplars: vec![],
        })
        .collect()
}

#[test]
fn acknowledged_samples_survive_kill_9() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut seer = Seer::start(&data, None);
    let addr = seer.http;
    let acked = Arc::new(Mutex::new(Vec::<usize>::new()));
    let sent = Arc::new(AtomicUsize::new(0));
    let writer = {
        let acked = acked.clone();
        let sent = sent.clone();
        std::thread::spawn(move || {
            for i in 0..BATCHES {
                sent.store(i, Ordering::SeqCst);
                match http(
                    addr,
                    "POST",
                    "/api/v1/write",
                    &[("Content-Encoding", "snappy")],
                    &seer_ingest::remote_write::encode(&batch(i), &[]),
                ) {
                    Ok(r) if (200..300).contains(&r.status) => acked.lock().unwrap().push(i),
                    Ok(r) => panic!("batch {i}: unexpected status {} {}", r.status, r.text()),
                    Err(_) => return, // the server is gone
                }
            }
        })
    };
    // Kill while the stream is running.
    assert!(wait_until(Duration::from_secs(120), || acked.lock().unwrap().len() >= 2500), "writer too slow");
    seer.kill9();
    writer.join().unwrap();
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 2500 && acked.len() < BATCHES, "kill must land mid-stream: {} acked", acked.len());

    let seer = Seer::start(&data, None);
    let got = remote_read(seer.http, None, &[(0, "__name__", "crash_test")], 0, i64::MAX);
    assert_eq!(got.len(), SERIES);
    let mut missing = 0;
    for ts in &got {
        let s: usize = ts.labels.iter().find(|l| l.name == "series").unwrap().value.parse().unwrap();
        let have: std::collections::HashMap<i64, f64> = ts.samples.iter().map(|x| (x.timestamp, x.value)).collect();
        for &i in &acked {
            match have.get(&(T0 + i as i64 * 1000)) {
                Some(&v) => assert_eq!(v, (i * SERIES + s) as f64),
                None => missing += 1,
            }
        }
    }
    assert_eq!(missing, 0, "acknowledged samples lost after kill -9 ({} batches acknowledged)", acked.len());
    eprintln!(
        "{} batches ({} samples) acknowledged before kill -9, all present after restart",
        acked.len(),
        acked.len() * SERIES
    );
}
