use super::*;
use crate::otlp_json;

#[test]
fn metric_names() {
    use NameKind::*;
    let cases = [
        ("http.server.request.duration", "s", Other, "http_server_request_duration_seconds"),
        ("http.server.duration", "s", Counter, "http_server_duration_seconds_total"),
        ("requests.count", "1", Counter, "requests_count_total"),
        ("cpu.utilization", "1", Gauge, "cpu_utilization_ratio"),
        ("cpu_usage_ratio", "1", Gauge, "cpu_usage_ratio"),
        ("memory.usage", "By", Gauge, "memory_usage_bytes"),
        ("throughput", "By/s", Gauge, "throughput_bytes_per_second"),
        ("requests", "1/s", Gauge, "requests_per_second"),
        ("requests", "1/s", Counter, "requests_per_second_total"),
        ("custom_metric", "{custom}", Gauge, "custom_metric"),
        ("custom_metric", "By/{custom}", Gauge, "custom_metric_bytes"),
        ("custom_metric", "custom_unit", Gauge, "custom_metric_custom_unit"),
        ("custom", "1/custom_unit", Gauge, "custom_per_custom_unit"),
        ("custom_metric", "unit@with#special/chars", Gauge, "custom_metric_unit_with_special_per_chars"),
        ("metric", " By / s ", Gauge, "metric_bytes_per_second"),
        ("metric", "By/", Gauge, "metric_bytes"),
        ("metric", "/", Gauge, "metric"),
        (
            "metric__with__multiple__underscores",
            "unit__multiple__underscores",
            Gauge,
            "metric_with_multiple_underscores_unit_multiple_underscores",
        ),
        ("response_time_seconds", "s", Gauge, "response_time_seconds"),
        ("seconds.elapsed", "s", Gauge, "seconds_elapsed"),
        ("requests_total", "", Counter, "requests_total"),
        ("total.requests", "", Counter, "requests_total"),
        ("active_connections", "", Other, "active_connections"),
        ("process.threads", "{thread}", Other, "process_threads"),
        ("123_requests", "", Counter, "_123_requests_total"),
        ("http.服务.duration", "s", Other, "http_duration_seconds"),
        ("uptime", "d", Gauge, "uptime_days"),
        ("capacity", "TiBy", Gauge, "capacity_tibibytes"),
        ("temperature", "Cel", Gauge, "temperature_celsius"),
    ];
    for (name, unit, kind, want) in cases {
        assert_eq!(metric_name(name, unit, kind).unwrap(), want, "{name} {unit} {kind:?}");
    }
    assert!(metric_name("@#$%", "", Gauge).is_err());
}

#[test]
fn label_names_and_units() {
    assert_eq!(label_name("http.method").unwrap(), "http_method");
    assert_eq!(label_name("a..b").unwrap(), "a__b");
    assert_eq!(label_name("123abc").unwrap(), "key_123abc");
    assert_eq!(label_name("_priv").unwrap(), "key_priv");
    assert_eq!(label_name("__priv").unwrap(), "__priv");
    assert!(label_name("日本").is_err());
    assert!(label_name("").is_err());
    assert_eq!(unit_name("s"), "seconds");
    assert_eq!(unit_name("By/s"), "bytes_per_second");
    assert_eq!(unit_name("1/s"), "per_second");
    assert_eq!(unit_name("1"), "");
    assert_eq!(unit_name("{req}"), "");
    assert_eq!(format_float(1.0), "1");
    assert_eq!(format_float(0.005), "0.005");
    assert_eq!(format_float(1e-9), "0.000000001");
    assert_eq!(format_float(1e21), "1000000000000000000000");
    assert_eq!(json_float(637.704), "637.704");
    assert_eq!(json_float(1e21), "1e+21");
    assert_eq!(json_float(1e-7), "1e-7");
}

fn find<'a>(t: &'a Translated, name: &str) -> Vec<&'a SeriesSamples> {
    t.series.iter().filter(|s| s.labels.metric_name() == Some(name)).collect()
}

#[test]
fn upstream_example_keeps_valid_metrics_and_reports_deltas() {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/otlp/metrics.json");
    let req = otlp_json::decode_metrics(&std::fs::read(p).unwrap()).unwrap();
    let t = translate(&req);
    let g = find(&t, "my_gauge_ratio");
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].labels.to_string(), r#"{__name__="my_gauge_ratio", job="my.service", my_gauge_attr="some value"}"#);
    assert_eq!(g[0].samples, vec![Sample { t: 1544712660300, v: 10.0 }]);
    assert!(find(&t, "target_info").is_empty(), "only service.* attributes: no target_info");
    // The delta counter and histogram and the exponential histogram are refused.
    assert_eq!(t.series.len(), 1);
    assert_eq!(t.rejected_points(), 3);
    assert!(
        t.rejected
            .iter()
            .any(|r| r.message.contains("invalid temporality and type combination for metric \"my.counter\""))
    );
}

#[test]
fn cumulative_histogram_summary_and_target_info() {
    let body = br#"{"resourceMetrics":[{"resource":{"attributes":[
        {"key":"service.name","value":{"stringValue":"api"}},
        {"key":"service.namespace","value":{"stringValue":"shop"}},
        {"key":"service.instance.id","value":{"stringValue":"i-1"}},
        {"key":"host.name","value":{"stringValue":"h1"}}]},
      "scopeMetrics":[{"metrics":[
        {"name":"http.server.duration","unit":"ms","histogram":{"aggregationTemporality":2,"dataPoints":[
          {"timeUnixNano":"600000000000","count":"5","sum":12.5,"bucketCounts":["1","2","2"],"explicitBounds":[1,10],
           "attributes":[{"key":"http.method","value":{"stringValue":"GET"}},{"key":"http_method","value":{"stringValue":"x"}}],
           "exemplars":[{"timeUnixNano":"600000000000","asDouble":0.5,"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708"},
                        {"timeUnixNano":"600000000000","asDouble":50}]}]}},
        {"name":"rpc.latency","summary":{"dataPoints":[{"timeUnixNano":"600000000000","count":"3","sum":1.5,
          "quantileValues":[{"quantile":0.5,"value":0.4},{"quantile":1,"value":0.9}]}]}},
        {"name":"requests","sum":{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[
          {"timeUnixNano":"600000000000","asInt":"7"},{"timeUnixNano":"660000000000","asInt":"9","flags":1}]}}
      ]}]}]}"#;
    let t = translate(&otlp_json::decode_metrics(body).unwrap());
    assert!(t.rejected.is_empty(), "{:?}", t.rejected);
    let b = find(&t, "http_server_duration_milliseconds_bucket");
    let les: Vec<(&str, f64)> = b.iter().map(|s| (s.labels.get("le").unwrap(), s.samples[0].v)).collect();
    assert_eq!(les, vec![("1", 1.0), ("10", 3.0), ("+Inf", 5.0)]);
    assert_eq!(b[0].labels.get("http_method"), Some("GET;x"));
    assert_eq!(b[0].labels.get("job"), Some("shop/api"));
    assert_eq!(b[0].labels.get("instance"), Some("i-1"));
    assert_eq!(b[0].exemplars.len(), 1);
    assert_eq!(b[0].exemplars[0].labels.get("trace_id"), Some("0102030405060708090a0b0c0d0e0f10"));
    assert_eq!(b[2].exemplars.len(), 1, "exemplar above the last bound goes to +Inf");
    assert_eq!(find(&t, "http_server_duration_milliseconds_sum")[0].samples[0].v, 12.5);
    assert_eq!(find(&t, "http_server_duration_milliseconds_count")[0].samples[0].v, 5.0);
    let q: Vec<&str> = find(&t, "rpc_latency").iter().map(|s| s.labels.get("quantile").unwrap()).collect();
    assert_eq!(q, vec!["0.5", "1"]);
    let r = find(&t, "requests_total");
    assert_eq!(r[0].samples[0].v, 7.0);
    assert!(seer_model::is_stale_nan(r[0].samples[1].v));
    let ti = find(&t, "target_info");
    assert_eq!(ti[0].labels.to_string(), r#"{__name__="target_info", host_name="h1", instance="i-1", job="shop/api"}"#);
    // 600 s to 660 s in 150 s steps: 600, then the final sample at 660.
    assert_eq!(ti[0].samples.iter().map(|s| s.t).collect::<Vec<_>>(), vec![600_000, 660_000]);
    let md: Vec<(&str, MetricType, &str)> =
        t.metadata.iter().map(|m| (m.metric_family.as_str(), m.kind, m.unit.as_str())).collect();
    assert!(md.contains(&("http_server_duration_milliseconds", MetricType::Histogram, "milliseconds")));
    assert!(md.contains(&("requests_total", MetricType::Counter, "")));
}
