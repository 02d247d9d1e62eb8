use super::*;
use crate::config::{GlobalConfig, ScrapeConfig, resolve_jobs};
use crate::discovery::TargetGroup;
use crate::relabel::compile_all;
use seer_model::is_stale_nan;

fn scraper(yaml: &str) -> Scraper {
    let sc: ScrapeConfig = serde_yaml::from_str(yaml).unwrap();
    let jobs = resolve_jobs(&GlobalConfig::default(), &[sc], std::path::Path::new("/")).unwrap();
    let j = &jobs[0];
    let rules = compile_all(&j.config.relabel_configs).unwrap();
    let groups = vec![TargetGroup { targets: vec!["t:1".into()], labels: Default::default(), source: "s".into() }];
    let (targets, _, _) = crate::target::build(j, &groups, &rules);
    Scraper::new(targets[0].clone(), j, compile_all(&j.config.metric_relabel_configs).unwrap())
}

fn body(s: &str) -> Fetched {
    Fetched::Body(s.as_bytes().to_vec(), Format::Text)
}

fn get<'a>(r: &'a ScrapeResult, series: &str) -> Option<&'a SeriesSamples> {
    r.series.iter().find(|s| s.labels.to_string() == series)
}

fn report(r: &ScrapeResult, name: &str) -> f64 {
    r.series.iter().find(|s| s.labels.metric_name() == Some(name)).unwrap().samples[0].v
}

#[test]
fn labels_report_series_and_staleness() {
    let mut s = scraper("{job_name: j}");
    let r = s.process(body("a 1\nb{x=\"1\",empty=\"\"} 2\nts 3 12345\n"), 1000, 1000, 0.5);
    assert_eq!(r.error, None);
    assert_eq!(
        get(&r, r#"{__name__="a", instance="t:1", job="j"}"#).unwrap().samples,
        vec![Sample { t: 1000, v: 1.0 }]
    );
    assert!(get(&r, r#"{__name__="b", instance="t:1", job="j", x="1"}"#).is_some());
    assert_eq!(get(&r, r#"{__name__="ts", instance="t:1", job="j"}"#).unwrap().samples[0].t, 12345);
    assert_eq!(report(&r, "up"), 1.0);
    assert_eq!(report(&r, "scrape_duration_seconds"), 0.5);
    assert_eq!(report(&r, "scrape_samples_scraped"), 3.0);
    assert_eq!(report(&r, "scrape_samples_post_metric_relabeling"), 3.0);
    assert_eq!(report(&r, "scrape_series_added"), 3.0);
    // b disappears: it gets a staleness marker; ts (explicit timestamp) never does.
    let r = s.process(body("a 2\n"), 2000, 2000, 0.1);
    let b = get(&r, r#"{__name__="b", instance="t:1", job="j", x="1"}"#).unwrap();
    assert!(is_stale_nan(b.samples[0].v));
    assert_eq!(b.samples[0].t, 2000);
    assert!(get(&r, r#"{__name__="ts", instance="t:1", job="j"}"#).is_none());
    assert_eq!(report(&r, "scrape_series_added"), 0.0);
    // A failed scrape: up=0, everything stale.
    let r = s.process(Fetched::Failed("server returned HTTP status 500 Internal Server Error".into()), 3000, 3000, 0.1);
    assert_eq!(report(&r, "up"), 0.0);
    assert!(is_stale_nan(get(&r, r#"{__name__="a", instance="t:1", job="j"}"#).unwrap().samples[0].v));
    assert_eq!(report(&r, "scrape_samples_scraped"), 0.0);
    // Target removal.
    s.process(body("a 3\n"), 4000, 4000, 0.1);
    let st = s.stale_all(5000);
    assert_eq!(st.len(), 6);
    assert!(st.iter().all(|x| is_stale_nan(x.samples[0].v) && x.samples[0].t == 5000));
}

#[test]
fn honor_labels_and_exported_prefix() {
    let mut s = scraper("{job_name: hl_false}");
    let r = s.process(body("m{job=\"their_job\",instance=\"their_inst\",exported_job=\"x\"} 1\n"), 1, 1, 0.0);
    assert!(
        get(&r, r#"{__name__="m", exported_exported_job="their_job", exported_instance="their_inst", exported_job="x", instance="t:1", job="hl_false"}"#)
            .is_some(),
        "{:?}",
        r.series
    );
    let mut s = scraper("{job_name: hl, honor_labels: true}");
    let r = s.process(body("m{job=\"theirs\"} 1\nn{job=\"\"} 1\n"), 1, 1, 0.0);
    assert!(get(&r, r#"{__name__="m", instance="t:1", job="theirs"}"#).is_some());
    assert!(get(&r, r#"{__name__="n", instance="t:1"}"#).is_some(), "exposed empty job removes the label");
}

#[test]
fn metric_relabel_limits_and_duplicates() {
    let mut s =
        scraper("{job_name: j, metric_relabel_configs: [{source_labels: [__name__], regex: 'drop_.*', action: drop}]}");
    let r = s.process(body("drop_me 1\ndup 1\ndup 2\nkeep 1\n"), 1, 1, 0.0);
    assert_eq!(report(&r, "scrape_samples_scraped"), 4.0);
    assert_eq!(report(&r, "scrape_samples_post_metric_relabeling"), 3.0);
    assert_eq!(report(&r, "scrape_series_added"), 2.0);
    assert_eq!(get(&r, r#"{__name__="dup", instance="t:1", job="j"}"#).unwrap().samples[0].v, 1.0, "first wins");
    let mut s = scraper("{job_name: j, sample_limit: 2}");
    let r = s.process(body("a 1\nb 1\nc 1\n"), 1, 1, 0.0);
    assert_eq!(r.error.as_deref(), Some("sample limit exceeded"));
    assert_eq!(report(&r, "up"), 0.0);
    assert_eq!(report(&r, "scrape_samples_post_metric_relabeling"), 3.0);
    assert_eq!(r.series.len(), 5, "only report series");
    let mut s = scraper("{job_name: j, label_limit: 3}");
    let r = s.process(body("a{x=\"1\",y=\"2\"} 1\n"), 1, 1, 0.0);
    assert!(r.error.unwrap().starts_with("label_limit exceeded (metric: a, number of labels: 5, limit: 3)"));
}

#[test]
fn parse_errors_fail_the_scrape_and_future_samples_are_dropped() {
    let mut s = scraper("{job_name: j}");
    let r = s.process(body("a 1\nb 2\n{bad\n"), 1, 1, 0.0);
    assert_eq!(report(&r, "up"), 0.0);
    assert_eq!(report(&r, "scrape_samples_scraped"), 2.0);
    assert!(r.error.unwrap().contains("line 3"));
    let r = s.process(body("future 1 99999999999999\nnow 1\n"), 1000, 1000, 0.0);
    assert!(get(&r, r#"{__name__="future", instance="t:1", job="j"}"#).is_none());
    assert_eq!(report(&r, "up"), 1.0);
    // An empty body is a successful scrape of nothing.
    s.process(body("a 1\n"), 2000, 2000, 0.0);
    let r = s.process(body(""), 3000, 3000, 0.0);
    assert_eq!(report(&r, "up"), 1.0);
    assert!(is_stale_nan(get(&r, r#"{__name__="a", instance="t:1", job="j"}"#).unwrap().samples[0].v));
}

#[test]
fn openmetrics_exemplars_get_the_sample_time() {
    let mut s = scraper("{job_name: j}");
    let f = Fetched::Body(b"# TYPE c counter\nc_total 1 # {trace_id=\"abc\"} 1\n# EOF\n".to_vec(), Format::OpenMetrics);
    let r = s.process(f, 7000, 7000, 0.0);
    let c = get(&r, r#"{__name__="c_total", instance="t:1", job="j"}"#).unwrap();
    assert_eq!(c.exemplars[0].t, 7000);
    assert_eq!(r.metadata[0].metric_family, "c");
}
