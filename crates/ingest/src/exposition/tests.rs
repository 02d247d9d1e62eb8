use super::*;

fn ok(body: &str, f: Format) -> Parsed {
    let p = parse(body.as_bytes(), f);
    assert_eq!(p.error, None, "{body}");
    p
}

fn err(body: &str, f: Format) -> (Parsed, ParseError) {
    let mut p = parse(body.as_bytes(), f);
    let e = p.error.take().expect("an error");
    (p, e)
}

#[test]
fn text_format_basics() {
    let body = "# HELP http_requests_total The total.\\nSecond line \\\\ done\n\
                # TYPE http_requests_total counter\n\
                http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n\
                http_requests_total{method=\"post\",code=\"400\",}    3 1395066363000\n\
                \n\
                # A comment\n\
                #HELP not metadata\n\
                msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n\
                metric_without_timestamp_and_labels 12.47\n\
                m5   {  a = \"1\" , } 6\n\
                tabbed\t{a=\"x\\ty\"}\t+Inf\n\
                nan_metric NaN\n\
                no_newline_at_end -Inf";
    let p = ok(body, Format::Text);
    assert_eq!(p.samples.len(), 8);
    assert_eq!(p.samples[0].labels, vec![("method".into(), "post".into()), ("code".into(), "200".into())]);
    assert_eq!(p.samples[0].timestamp, Some(1395066363000));
    assert_eq!(p.samples[2].labels[0].1, "C:\\DIR\\FILE.TXT");
    assert_eq!(p.samples[2].labels[1].1, "Cannot find file:\n\"FILE.TXT\"");
    assert_eq!(p.samples[4].name, "m5");
    assert_eq!(p.samples[5].labels[0].1, "x\\ty", "unknown escapes stay literal");
    assert_eq!(p.samples[5].value, f64::INFINITY);
    assert_eq!(p.samples[6].value.to_bits(), NORMAL_NAN);
    assert_eq!(p.samples[7].value, f64::NEG_INFINITY);
    let md = &p.metadata[0];
    assert_eq!(md.metric_family, "http_requests_total");
    assert_eq!(md.kind, MetricType::Counter);
    assert_eq!(md.help, "The total.\nSecond line \\ done");
}

#[test]
fn text_format_errors_keep_earlier_samples() {
    let (p, e) = err("a 1\nb 2\nc{x=1} 3\nd 4\n", Format::Text);
    assert_eq!(p.samples.len(), 2);
    assert_eq!(e.line, 3);
    let cases = [
        ("{a=\"b\"} 1", "without a metric name"),
        ("-1", "not a valid start token"),
        ("m 1 -5", "expected timestamp"),
        ("m 0x1p3", "invalid value"),
        ("m 1_0", "invalid value"),
        ("m", "expected value"),
        ("m{a=\"1\" 2", "expected comma"),
        ("# TYPE m blah", "invalid metric type"),
        ("m 1 2 3", "expected next entry"),
        ("m{a=\"unterminated} 1", "unterminated"),
    ];
    for (body, want) in cases {
        let (_, e) = err(body, Format::Text);
        assert!(e.message.contains(want), "{body}: {e}");
    }
    let (_, e) = err("a 1\n\u{0}\u{ff}", Format::Text);
    assert_eq!(e.line, 2);
}

#[test]
fn le_and_quantile_are_normalised_for_their_families() {
    let body = "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_count 2\n\
                # TYPE s summary\ns{quantile=\"0\"} 1\ns{quantile=\"0.50\"} 1\n\
                # TYPE g gauge\ng{le=\"1\"} 1\nuntyped_bucket{le=\"1\"} 1\n";
    let p = ok(body, Format::Text);
    let vals: Vec<&str> = p.samples.iter().flat_map(|s| s.labels.iter().map(|(_, v)| v.as_str())).collect();
    assert_eq!(vals, vec!["1.0", "+Inf", "0.0", "0.5", "1", "1"]);
}

#[test]
fn float_formatting_matches_go() {
    for (v, want) in [
        (1.0, "1.0"),
        (0.0, "0.0"),
        (0.5, "0.5"),
        (1e6, "1e+06"),
        (100000.0, "100000.0"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (2.5e-7, "2.5e-07"),
        (f64::INFINITY, "+Inf"),
        (123456.5, "123456.5"),
        (1234567.0, "1.234567e+06"),
    ] {
        assert_eq!(format_openmetrics_float(v), want, "{v}");
    }
}

#[test]
fn openmetrics() {
    let body = "# TYPE foo counter\n# HELP foo Foo \\\"quoted\\\".\n# UNIT foo_seconds seconds\n\
                foo_total 17.0 1520879607.789 # {trace_id=\"abc\"} 0.5 1520879607.7\n\
                foo_created 1520872607.123\n\
                # TYPE i info\ni_info{name=\"pretty\"} 1\n\
                # TYPE ss stateset\nss{ss=\"a\"} 1\n\
                # TYPE h histogram\nh_bucket{le=\"1\"} 0 # {id=\"x\"} 0.3\nh_bucket{le=\"+Inf\"} 1\n\
                # EOF\n";
    let p = ok(body, Format::OpenMetrics);
    assert_eq!(p.samples.len(), 6);
    assert_eq!(p.samples[0].timestamp, Some(1520879607789));
    let ex = p.samples[0].exemplar.as_ref().unwrap();
    assert_eq!(ex.labels.get("trace_id"), Some("abc"));
    assert_eq!(ex.t, 1520879607700);
    assert_eq!(p.samples[1].name, "foo_created");
    assert_eq!(p.samples[4].labels[0].1, "1.0");
    assert_eq!(p.samples[4].exemplar.as_ref().unwrap().t, i64::MIN, "no exemplar timestamp: the scraper fills it in");
    let foo = p.metadata.iter().find(|m| m.metric_family == "foo").unwrap();
    assert_eq!(foo.help, "Foo \"quoted\".");
    assert_eq!(foo.kind, MetricType::Counter);
    assert!(p.metadata.iter().any(|m| m.metric_family == "foo_seconds" && m.unit == "seconds"));
}

#[test]
fn openmetrics_errors() {
    assert!(err("a 1\n", Format::OpenMetrics).1.message.contains("does not end with # EOF"));
    assert!(err("a 1\n# EOF\nb 2\n", Format::OpenMetrics).1.message.contains("after # EOF"));
    assert!(err("# UNIT h seconds\n# EOF\n", Format::OpenMetrics).1.message.contains("not a suffix"));
    assert!(err("a  1\n# EOF\n", Format::OpenMetrics).1.message.contains("expected value"));
    assert!(err("\n# EOF\n", Format::OpenMetrics).1.message.contains("blank"));
    assert!(err("# TYPE x untyped\n# EOF\n", Format::OpenMetrics).1.message.contains("invalid metric type"));
    assert!(ok("# EOF", Format::OpenMetrics).samples.is_empty());
}

#[test]
fn quoted_utf8_names() {
    let p = ok("{\"my.metric\", \"my.label\"=\"v\", b=\"2\"} 1\n", Format::Text);
    assert_eq!(p.samples[0].name, "my.metric");
    assert_eq!(p.samples[0].labels, vec![("my.label".into(), "v".into()), ("b".into(), "2".into())]);
}

#[test]
fn content_type() {
    assert_eq!(Format::from_content_type(Some("application/openmetrics-text; version=1.0.0")), Format::OpenMetrics);
    assert_eq!(Format::from_content_type(Some("text/plain; version=0.0.4")), Format::Text);
    assert_eq!(Format::from_content_type(None), Format::Text);
}

#[test]
fn random_input_never_panics() {
    let alphabet = b"ab_{}=\",# \n\t\\01.eE+-INFnaTYPEHELPUNIT";
    let mut x: u64 = 11;
    for len in 0..400 {
        let mut buf = Vec::new();
        for _ in 0..len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf.push(if x.is_multiple_of(17) {
                (x >> 8) as u8
            } else {
                alphabet[(x % alphabet.len() as u64) as usize]
            });
        }
        let _ = parse(&buf, Format::Text);
        let _ = parse(&buf, Format::OpenMetrics);
    }
}
