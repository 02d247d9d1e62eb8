//! HTTP and gRPC API behaviour of the real binary: remote write status codes, malformed
//! bodies, OTLP over HTTP (protobuf and JSON) and gRPC, the metadata endpoints, tenancy,
//! readiness and reload.

mod common;

use common::*;
use prost::Message;
use seer_ingest::proto::otlp::metrics::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use seer_model::{Exemplar, Labels, MetricMetadata, MetricType, Sample, SeriesSamples};
use std::time::Duration;

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn series(name: &str, labels: &[(&str, &str)], t: i64, v: f64) -> SeriesSamples {
    let mut pairs: Vec<(String, String)> = labels.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    pairs.push(("__name__".into(), name.into()));
    SeriesSamples { labels: Labels::from_pairs(pairs), samples: vec![Sample { t, v }], exemplars: vec![] }
}

#[test]
fn remote_write_status_codes_and_metadata_api() {
    let tmp = tempfile::tempdir().unwrap();
    let seer = Seer::start(&tmp.path().join("d"), None);
    let t = now();
    let mut s = series("http_requests_total", &[("job", "api"), ("code", "200")], t, 5.0);
    s.exemplars.push(Exemplar { labels: Labels::from_pairs([("trace_id", "abc")]), t, v: 1.0 });
    let md = MetricMetadata {
        metric_family: "http_requests_total".into(),
        kind: MetricType::Counter,
        help: "Requests.".into(),
        unit: String::new(),
    };
    let body = seer_ingest::remote_write::encode(&[s, series("up", &[("job", "api")], t, 1.0)], &[md]);
    let r = http(
        seer.http,
        "POST",
        "/api/v1/write",
        &[("Content-Type", "application/x-protobuf"), ("Content-Encoding", "snappy")],
        &body,
    )
    .unwrap();
    assert_eq!(r.status, 204, "{}", r.text());

    // Series, labels, values, metadata in Prometheus' shapes.
    let j = get(seer.http, "/api/v1/series?match[]=http_requests_total").json();
    assert_eq!(
        j,
        serde_json::json!({"status":"success","data":[{"__name__":"http_requests_total","code":"200","job":"api"}]})
    );
    assert_eq!(get(seer.http, "/api/v1/labels").json()["data"], serde_json::json!(["__name__", "code", "job"]));
    assert_eq!(get(seer.http, "/api/v1/label/job/values").json()["data"], serde_json::json!(["api"]));
    assert_eq!(
        get(seer.http, "/api/v1/label/__name__/values?match[]=%7Bjob%3D%22api%22%7D").json()["data"],
        serde_json::json!(["http_requests_total", "up"])
    );
    let j = get(seer.http, "/api/v1/metadata?metric=http_requests_total").json();
    assert_eq!(j["data"]["http_requests_total"][0], serde_json::json!({"type":"counter","help":"Requests.","unit":""}));
    assert_eq!(get(seer.http, "/api/v1/metadata?metric=nope").json()["data"], serde_json::json!({}));
    // Time bounds: nothing in 2001.
    assert_eq!(
        get(seer.http, "/api/v1/series?match[]=up&start=1e9&end=1000000100").json()["data"],
        serde_json::json!([])
    );
    // POST form works too; limit truncates with a warning.
    let r = http(
        seer.http,
        "POST",
        "/api/v1/series",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"match%5B%5D=%7Bjob%3D%22api%22%7D&limit=1",
    )
    .unwrap();
    let j = r.json();
    assert_eq!(j["data"].as_array().unwrap().len(), 1);
    assert_eq!(j["warnings"], serde_json::json!(["results truncated due to limit"]));

    // Errors in Prometheus' format.
    let r = get(seer.http, "/api/v1/series");
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        serde_json::json!({"status":"error","errorType":"bad_data","error":"no match[] parameter provided"})
    );
    let r = get(seer.http, "/api/v1/series?match[]=%7Ba%3D%22%22%7D");
    assert_eq!(r.json()["error"], "invalid parameter \"match[]\": match[] must contain at least one non-empty matcher");
    let r = get(seer.http, "/api/v1/series?match[]=up&start=abc");
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("invalid parameter \"start\""));
    let r = get(seer.http, "/api/v1/labels?match[]=up%7B");
    assert!(r.json()["error"].as_str().unwrap().contains("parse error"), "{}", r.text());
    let r = get(seer.http, "/api/v1/metadata?limit=abc");
    assert_eq!(r.json()["error"], "limit must be a number");
}

#[test]
fn malformed_and_refused_writes_get_4xx_with_a_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let seer = Seer::start(&tmp.path().join("d"), None);
    let post = |h: &[(&str, &str)], b: &[u8]| http(seer.http, "POST", "/api/v1/write", h, b).unwrap();
    let r = post(&[], b"hello world");
    assert_eq!(r.status, 400);
    assert!(r.text().starts_with("snappy:"), "{}", r.text());
    let r = post(&[], &snap::raw::Encoder::new().compress_vec(&[0xff, 0xff, 0xff, 0xff]).unwrap());
    assert_eq!(r.status, 400);
    assert!(r.text().starts_with("protobuf:"), "{}", r.text());
    let r = post(&[("Content-Type", "application/x-protobuf;proto=io.prometheus.write.v2.Request")], b"");
    assert_eq!(r.status, 415);
    let r = post(&[("Content-Encoding", "gzip")], b"");
    assert_eq!(r.status, 415);
    // Out of order: the good series is stored, the request gets 400 naming the problem.
    let t = now();
    assert_eq!(remote_write(seer.http, None, &[series("m", &[], t, 1.0)]).status, 204);
    let r = remote_write(seer.http, None, &[series("m", &[], t - 60_000, 2.0), series("good", &[], t, 1.0)]);
    assert_eq!(r.status, 400);
    assert!(r.text().contains("out of order sample"), "{}", r.text());
    assert_eq!(get(seer.http, "/api/v1/series?match[]=good").json()["data"].as_array().unwrap().len(), 1);
    // Future samples (> now + 10m) are refused.
    let r = remote_write(seer.http, None, &[series("future", &[], t + 3_600_000, 1.0)]);
    assert_eq!(r.status, 400);
    assert!(r.text().contains("too far in the future"), "{}", r.text());
    // Limits say what was exceeded.
    let long = "x".repeat(5000);
    let r = remote_write(seer.http, None, &[series("big", &[("v", &long)], t, 1.0)]);
    assert_eq!(r.status, 400);
    assert!(r.text().contains("more than the limit of 4096"), "{}", r.text());
    let r = remote_write(
        seer.http,
        None,
        &[SeriesSamples {
            labels: Labels::from_pairs([("job", "x")]),
            samples: vec![Sample { t, v: 1.0 }],
            exemplars: vec![],
        }],
    );
    assert!(r.text().contains("no metric name"), "{}", r.text());
    // Oversized bodies: 413.
    let r = post(&[], &vec![0u8; 70 << 20]);
    assert_eq!(r.status, 413, "{}", r.text());
    // The server is still fine.
    assert!(http_ok(seer.http, "/-/healthy"));
}

#[test]
fn tenants_never_see_each_other() {
    let tmp = tempfile::tempdir().unwrap();
    let seer = Seer::start(&tmp.path().join("d"), None);
    let t = now();
    assert_eq!(remote_write(seer.http, Some("team-a"), &[series("only_a", &[], t, 1.0)]).status, 204);
    assert_eq!(remote_write(seer.http, None, &[series("only_default", &[], t, 1.0)]).status, 204);
    let names = |tenant: Option<&str>| {
        let h: Vec<(&str, &str)> = tenant.map(|t| vec![("X-Scope-OrgID", t)]).unwrap_or_default();
        http(seer.http, "GET", "/api/v1/label/__name__/values", &h, b"").unwrap().json()["data"].clone()
    };
    assert_eq!(names(Some("team-a")), serde_json::json!(["only_a"]));
    assert_eq!(names(None), serde_json::json!(["only_default"]));
    assert_eq!(names(Some("team-b")), serde_json::json!([]));
    let r = http(seer.http, "GET", "/api/v1/labels", &[("X-Scope-OrgID", "../etc")], b"").unwrap();
    assert_eq!(r.status, 400);
    assert!(remote_read(seer.http, Some("team-b"), &[(0, "__name__", "only_a")], 0, i64::MAX).is_empty());
}

fn otlp_body() -> Vec<u8> {
    let t = now() as u64 * 1_000_000;
    format!(
        r#"{{"resourceMetrics":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"checkout"}}}},{{"key":"host.name","value":{{"stringValue":"h1"}}}}]}},
        "scopeMetrics":[{{"metrics":[
          {{"name":"queue.size","unit":"1","gauge":{{"dataPoints":[{{"timeUnixNano":"{t}","asInt":"3"}}]}}}},
          {{"name":"requests","sum":{{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[{{"timeUnixNano":"{t}","asDouble":7}}]}}}},
          {{"name":"deltas","sum":{{"aggregationTemporality":1,"isMonotonic":true,"dataPoints":[{{"timeUnixNano":"{t}","asDouble":1}}]}}}}
        ]}}]}}]}}"#
    )
    .into_bytes()
}

#[test]
fn otlp_http_json_and_protobuf() {
    let tmp = tempfile::tempdir().unwrap();
    let seer = Seer::start(&tmp.path().join("d"), None);
    let r = http(seer.http, "POST", "/v1/metrics", &[("Content-Type", "application/json")], &otlp_body()).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(j["partialSuccess"]["rejectedDataPoints"], "1");
    assert!(j["partialSuccess"]["errorMessage"].as_str().unwrap().contains("invalid temporality"));
    let set = series_set(seer.http, "{job=\"checkout\"}");
    assert!(set.contains(r#"__name__="queue_size_ratio",job="checkout""#), "{set:?}");
    assert!(set.contains(r#"__name__="requests_total",job="checkout""#), "{set:?}");
    assert!(series_set(seer.http, "target_info").contains(r#"__name__="target_info",host_name="h1",job="checkout""#));
    // The same request as protobuf, gzip-compressed, to another tenant.
    let req: ExportMetricsServiceRequest = seer_ingest::otlp_json::decode_metrics(&otlp_body()).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &req.encode_to_vec()).unwrap();
    let r = http(
        seer.http,
        "POST",
        "/v1/metrics",
        &[("Content-Type", "application/x-protobuf"), ("Content-Encoding", "gzip"), ("X-Scope-OrgID", "pb")],
        &gz.finish().unwrap(),
    )
    .unwrap();
    assert_eq!(r.status, 200);
    let resp = ExportMetricsServiceResponse::decode(r.body.as_slice()).unwrap();
    assert_eq!(resp.partial_success.unwrap().rejected_data_points, 1);
    // Malformed: 400 with a message; wrong content type: 415.
    let r =
        http(seer.http, "POST", "/v1/metrics", &[("Content-Type", "application/json")], b"{\"resourceMetrics\": 5}")
            .unwrap();
    assert_eq!(r.status, 400);
    assert!(r.json()["message"].as_str().unwrap().contains("resourceMetrics must be an array"));
    let r =
        http(seer.http, "POST", "/v1/metrics", &[("Content-Type", "application/x-protobuf")], b"\xff\xff\xff").unwrap();
    assert_eq!(r.status, 400);
    let r = http(seer.http, "POST", "/v1/metrics", &[("Content-Type", "text/plain")], b"x").unwrap();
    assert_eq!(r.status, 415);
}

#[test]
fn otlp_grpc() {
    let tmp = tempfile::tempdir().unwrap();
    let seer = Seer::start(&tmp.path().join("d"), None);
    let req: ExportMetricsServiceRequest = seer_ingest::otlp_json::decode_metrics(&otlp_body()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let resp = rt.block_on(async {
        let channel =
            tonic::transport::Channel::from_shared(format!("http://{}", seer.grpc)).unwrap().connect().await.unwrap();
        let mut client = tonic::client::Grpc::new(channel);
        client.ready().await.unwrap();
        let path =
            http::uri::PathAndQuery::from_static("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export");
        let mut request = tonic::Request::new(req);
        request.metadata_mut().insert("x-scope-orgid", "grpc".parse().unwrap());
        client
            .unary::<_, ExportMetricsServiceResponse, _>(request, path, tonic_prost::ProstCodec::default())
            .await
            .map(|r| r.into_inner())
    });
    let resp = resp.unwrap();
    assert_eq!(resp.partial_success.unwrap().rejected_data_points, 1);
    let r = http(seer.http, "GET", "/api/v1/label/__name__/values", &[("X-Scope-OrgID", "grpc")], b"").unwrap();
    assert_eq!(r.json()["data"], serde_json::json!(["queue_size_ratio", "requests_total", "target_info"]));
}

#[test]
fn lifecycle_reload_and_self_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let seer = Seer::start(&tmp.path().join("d"), Some("global: {scrape_interval: 1s}\nscrape_configs: []\n"));
    assert_eq!(get(seer.http, "/-/healthy").status, 200);
    let m = get(seer.http, "/metrics").text();
    assert!(m.contains("seer_ready 1"), "{m}");
    assert!(m.contains("process_resident_memory_bytes"));
    // Reload via HTTP: a broken file is refused with 500, a good one applied.
    let cfg = tmp.path().join("d.yml");
    std::fs::write(&cfg, "scrape_configs: [{job_name: a, bogus: 1}]\n").unwrap();
    let r = http(seer.http, "POST", "/-/reload", &[], b"").unwrap();
    assert_eq!(r.status, 500);
    assert!(r.text().contains("unknown field `bogus`"), "{}", r.text());
    // Seer scraping itself, applied by SIGHUP.
    std::fs::write(&cfg, format!("global: {{scrape_interval: 1s}}\nscrape_configs: [{{job_name: self, static_configs: [{{targets: ['{}']}}]}}]\n", seer.http)).unwrap();
    seer.signal("HUP");
    assert!(
        wait_until(Duration::from_secs(20), || series_set(seer.http, "up{job=\"self\"}").len() == 1),
        "{}",
        seer.log_text()
    );
    let t = get(seer.http, "/api/v1/targets").json();
    assert_eq!(t["data"]["activeTargets"][0]["labels"]["job"], "self");
    assert_eq!(get(seer.http, "/api/v1/status/buildinfo").json()["status"], "success");
}
