//! The trace path end to end against the real binary: the OpenTelemetry Python SDK exporting a
//! three-service trace over OTLP/gRPC and OTLP/HTTP, read back from the Tempo API (JSON and
//! protobuf) and the Jaeger API and compared with what the SDK recorded; searches; the Jaeger
//! fixture search cases; OTLP errors; and `kill -9` while spans stream in.

mod common;

use common::*;
use prost::Message;
use seer_ingest::proto::otlp::common::{AnyValue, KeyValue, any_value};
use seer_ingest::proto::otlp::trace::{ExportTraceServiceRequest, ResourceSpans};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `tempopb.Trace` as Tempo sends it for `Accept: application/protobuf`.
#[derive(Clone, PartialEq, prost::Message)]
struct TempoTrace {
    #[prost(message, repeated, tag = "1")]
    batches: Vec<ResourceSpans>,
}

/// A span reduced to what the SDK and every API must agree on.
#[derive(Debug, Clone, PartialEq)]
struct Norm {
    span_id: String,
    parent: String,
    name: String,
    kind: i64,
    service: String,
    scope: String,
    start_us: u64,
    end_us: u64,
    attributes: BTreeMap<String, Value>,
    events: Vec<(String, u64, BTreeMap<String, Value>)>,
    links: Vec<(String, String, BTreeMap<String, Value>)>,
    status: i64,
    status_message: String,
}

fn run_sdk(mode: &str, endpoint: &str, suffix: &str) -> Value {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/otel_traces.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(mode)
        .arg(endpoint)
        .arg(suffix)
        .env("PYTHONPATH", pydeps())
        .output()
        .expect("python3");
    assert!(out.status.success(), "SDK script failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn map(v: &Value) -> BTreeMap<String, Value> {
    v.as_object().map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default()
}

fn truth(sdk: &Value) -> Vec<Norm> {
    let mut out: Vec<Norm> = sdk["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| Norm {
            span_id: s["span_id"].as_str().unwrap().into(),
            parent: s["parent_span_id"].as_str().unwrap().into(),
            name: s["name"].as_str().unwrap().into(),
            kind: s["kind"].as_i64().unwrap(),
            service: s["service"].as_str().unwrap().into(),
            scope: s["scope"].as_str().unwrap().into(),
            start_us: s["start"].as_u64().unwrap() / 1000,
            end_us: s["end"].as_u64().unwrap() / 1000,
            attributes: map(&s["attributes"]),
            events: s["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    (e["name"].as_str().unwrap().into(), e["time"].as_u64().unwrap() / 1000, map(&e["attributes"]))
                })
                .collect(),
            links: s["links"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| {
                    (
                        l["trace_id"].as_str().unwrap().into(),
                        l["span_id"].as_str().unwrap().into(),
                        map(&l["attributes"]),
                    )
                })
                .collect(),
            status: s["status"].as_i64().unwrap(),
            status_message: s["status_message"].as_str().unwrap().into(),
        })
        .collect();
    out.sort_by(|a, b| a.span_id.cmp(&b.span_id));
    out
}

fn b64(s: &str) -> Vec<u8> {
    seer_encoding::base64_decode(s).unwrap_or_else(|| panic!("not base64: {s}"))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// An OTLP/JSON value (as Tempo writes it) as plain JSON.
fn json_any(v: &Value) -> Value {
    if let Some(s) = v.get("stringValue") {
        return s.clone();
    }
    if let Some(i) = v.get("intValue") {
        return json!(i.as_str().map(|s| s.parse::<i64>().unwrap()).or(i.as_i64()).unwrap());
    }
    if let Some(f) = v.get("doubleValue") {
        return f.clone();
    }
    if let Some(b) = v.get("boolValue") {
        return b.clone();
    }
    if let Some(a) = v.get("arrayValue") {
        return Value::Array(a["values"].as_array().map(|x| x.iter().map(json_any).collect()).unwrap_or_default());
    }
    panic!("unexpected value {v}");
}

fn json_attrs(v: &Value) -> BTreeMap<String, Value> {
    v.as_array()
        .map(|a| a.iter().map(|kv| (kv["key"].as_str().unwrap().to_string(), json_any(&kv["value"]))).collect())
        .unwrap_or_default()
}

const KINDS: [&str; 6] = [
    "SPAN_KIND_UNSPECIFIED",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_CONSUMER",
];
const STATUS: [&str; 3] = ["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"];

/// Tempo's JSON trace (`batches` or v2's `trace.resourceSpans`).
fn from_tempo_json(batches: &Value) -> Vec<Norm> {
    let mut out = Vec::new();
    for rs in batches.as_array().unwrap() {
        let res = json_attrs(&rs["resource"]["attributes"]);
        let service = res["service.name"].as_str().unwrap().to_string();
        for ss in rs["scopeSpans"].as_array().unwrap() {
            for s in ss["spans"].as_array().unwrap() {
                out.push(Norm {
                    span_id: hex(&b64(s["spanId"].as_str().unwrap())),
                    parent: s["parentSpanId"].as_str().map(|p| hex(&b64(p))).unwrap_or_default(),
                    name: s["name"].as_str().unwrap().into(),
                    kind: KINDS.iter().position(|k| s["kind"] == *k).unwrap_or(0) as i64,
                    service: service.clone(),
                    scope: ss["scope"]["name"].as_str().unwrap_or("").into(),
                    start_us: s["startTimeUnixNano"].as_str().unwrap().parse::<u64>().unwrap() / 1000,
                    end_us: s["endTimeUnixNano"].as_str().unwrap().parse::<u64>().unwrap() / 1000,
                    attributes: json_attrs(&s["attributes"]),
                    events: s["events"]
                        .as_array()
                        .map(|evs| {
                            evs.iter()
                                .map(|e| {
                                    (
                                        e["name"].as_str().unwrap_or("").into(),
                                        e["timeUnixNano"].as_str().unwrap().parse::<u64>().unwrap() / 1000,
                                        json_attrs(&e["attributes"]),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    links: s["links"]
                        .as_array()
                        .map(|ls| {
                            ls.iter()
                                .map(|l| {
                                    (
                                        hex(&b64(l["traceId"].as_str().unwrap())),
                                        hex(&b64(l["spanId"].as_str().unwrap())),
                                        json_attrs(&l["attributes"]),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    status: STATUS.iter().position(|k| s["status"]["code"] == *k).unwrap_or(0) as i64,
                    status_message: s["status"]["message"].as_str().unwrap_or("").into(),
                });
            }
        }
    }
    out.sort_by(|a, b| a.span_id.cmp(&b.span_id));
    out
}

fn proto_any(v: &Option<AnyValue>) -> Value {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => json!(s),
        Some(any_value::Value::IntValue(i)) => json!(i),
        Some(any_value::Value::DoubleValue(f)) => json!(f),
        Some(any_value::Value::BoolValue(b)) => json!(b),
        Some(any_value::Value::ArrayValue(a)) => {
            Value::Array(a.values.iter().map(|x| proto_any(&Some(x.clone()))).collect())
        }
        other => panic!("unexpected value {other:?}"),
    }
}

fn proto_attrs(kvs: &[KeyValue]) -> BTreeMap<String, Value> {
    kvs.iter().map(|kv| (kv.key.clone(), proto_any(&kv.value))).collect()
}

fn from_tempo_proto(batches: &[ResourceSpans]) -> Vec<Norm> {
    let mut out = Vec::new();
    for rs in batches {
        let res = proto_attrs(&rs.resource.as_ref().unwrap().attributes);
        let service = res["service.name"].as_str().unwrap().to_string();
        for ss in &rs.scope_spans {
            for s in &ss.spans {
                out.push(Norm {
                    span_id: hex(&s.span_id),
                    parent: hex(&s.parent_span_id),
                    name: s.name.clone(),
                    kind: s.kind as i64,
                    service: service.clone(),
                    scope: ss.scope.as_ref().map(|x| x.name.clone()).unwrap_or_default(),
                    start_us: s.start_time_unix_nano / 1000,
                    end_us: s.end_time_unix_nano / 1000,
                    attributes: proto_attrs(&s.attributes),
                    events: s
                        .events
                        .iter()
                        .map(|e| (e.name.clone(), e.time_unix_nano / 1000, proto_attrs(&e.attributes)))
                        .collect(),
                    links: s
                        .links
                        .iter()
                        .map(|l| (hex(&l.trace_id), hex(&l.span_id), proto_attrs(&l.attributes)))
                        .collect(),
                    status: s.status.as_ref().map_or(0, |x| x.code as i64),
                    status_message: s.status.as_ref().map(|x| x.message.clone()).unwrap_or_default(),
                });
            }
        }
    }
    out.sort_by(|a, b| a.span_id.cmp(&b.span_id));
    out
}

fn jaeger_tag(t: &Value) -> (String, Value) {
    (t["key"].as_str().unwrap().to_string(), t["value"].clone())
}

/// Jaeger's UI JSON, with the tags Jaeger adds (`span.kind`, `otel.*`, `error`) turned back
/// into fields; arrays arrive as JSON text.
fn from_jaeger(trace: &Value) -> Vec<Norm> {
    let procs = trace["processes"].as_object().unwrap();
    let mut out = Vec::new();
    for s in trace["spans"].as_array().unwrap() {
        let mut attrs: BTreeMap<String, Value> = s["tags"].as_array().unwrap().iter().map(jaeger_tag).collect();
        let kind = match attrs.remove("span.kind").as_ref().and_then(|v| v.as_str()) {
            Some("internal") => 1,
            Some("server") => 2,
            Some("client") => 3,
            Some("producer") => 4,
            Some("consumer") => 5,
            _ => 0,
        };
        let status = match attrs.remove("otel.status_code").as_ref().and_then(|v| v.as_str()) {
            Some("OK") => 1,
            Some("ERROR") => 2,
            _ => 0,
        };
        if status == 2 {
            assert_eq!(attrs.remove("error"), Some(json!(true)));
        }
        let status_message =
            attrs.remove("otel.status_description").and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        let scope = attrs.remove("otel.scope.name").and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        attrs.remove("otel.scope.version");
        for v in attrs.values_mut() {
            if let Some(t) = v.as_str()
                && t.starts_with('[')
                && let Ok(parsed) = serde_json::from_str::<Value>(t)
            {
                *v = parsed;
            }
        }
        let mut parent = String::new();
        let mut links = Vec::new();
        for r in s["references"].as_array().unwrap() {
            if r["refType"] == "CHILD_OF" && parent.is_empty() {
                parent = r["spanID"].as_str().unwrap().into();
            } else {
                links.push((
                    format!("{:0>32}", r["traceID"].as_str().unwrap()),
                    r["spanID"].as_str().unwrap().to_string(),
                    BTreeMap::new(),
                ));
            }
        }
        let events = s["logs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let mut f: BTreeMap<String, Value> = l["fields"].as_array().unwrap().iter().map(jaeger_tag).collect();
                let name = f.remove("event").and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
                (name, l["timestamp"].as_u64().unwrap(), f)
            })
            .collect();
        let pid = s["processID"].as_str().unwrap();
        let start = s["startTime"].as_u64().unwrap();
        out.push(Norm {
            span_id: s["spanID"].as_str().unwrap().into(),
            parent,
            name: s["operationName"].as_str().unwrap().into(),
            kind,
            service: procs[pid]["serviceName"].as_str().unwrap().into(),
            scope,
            start_us: start,
            end_us: start + s["duration"].as_u64().unwrap(),
            attributes: attrs,
            events,
            links,
            status,
            status_message,
        });
    }
    out.sort_by(|a, b| a.span_id.cmp(&b.span_id));
    out
}

/// Jaeger's microsecond duration is `end - start` truncated, so its end may be 1 µs short;
/// links carry no attributes in Jaeger's model.
fn jaeger_view(truth: &[Norm]) -> Vec<Norm> {
    truth
        .iter()
        .map(|n| {
            let mut n = n.clone();
            n.end_us = n.start_us + ((n.end_us * 1000).saturating_sub(n.start_us * 1000)) / 1000;
            n.links = n.links.iter().map(|(t, s, _)| (t.clone(), s.clone(), BTreeMap::new())).collect();
            n
        })
        .collect()
}

fn assert_same(what: &str, got: &[Norm], want: &[Norm]) {
    assert_eq!(got.len(), want.len(), "{what}: span count");
    for (g, w) in got.iter().zip(want) {
        let mut g = g.clone();
        // ns → µs truncation differs by at most 1 µs when the API reports a duration.
        if g.end_us.abs_diff(w.end_us) <= 1 {
            g.end_us = w.end_us;
        }
        assert_eq!(&g, w, "{what}: span {}", w.name);
    }
}

fn search_ids(addr: std::net::SocketAddr, path: &str) -> BTreeSet<String> {
    let r = get(addr, path);
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.json()["traces"].as_array().unwrap().iter().map(|t| t["traceID"].as_str().unwrap().to_string()).collect()
}

fn jaeger_ids(addr: std::net::SocketAddr, path: &str) -> BTreeSet<String> {
    let r = get(addr, path);
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.json()["data"].as_array().unwrap().iter().map(|t| format!("{:0>32}", t["traceID"].as_str().unwrap())).collect()
}

#[test]
fn opentelemetry_python_sdk_three_service_trace_over_grpc_and_http() {
    assert!(
        pydeps().join("opentelemetry").exists(),
        "the OpenTelemetry Python SDK is missing from {}; scripts/test installs it",
        pydeps().display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let mut seer = Seer::start(&tmp.path().join("d"), None);
    for (mode, endpoint, suffix) in
        [("grpc", seer.grpc.to_string(), "-g"), ("http", format!("http://{}/v1/traces", seer.http), "-h")]
    {
        let sdk = run_sdk(mode, &endpoint, suffix);
        let id = sdk["trace_id"].as_str().unwrap().to_string();
        let want = truth(&sdk);
        assert_eq!(want.len(), 5);
        // Tempo, JSON (v1 and v2) and protobuf.
        let r = get(seer.http, &format!("/api/traces/{id}"));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_same(&format!("{mode} tempo v1 json"), &from_tempo_json(&r.json()["batches"]), &want);
        let r = get(seer.http, &format!("/api/v2/traces/{id}"));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_same(&format!("{mode} tempo v2 json"), &from_tempo_json(&r.json()["trace"]["resourceSpans"]), &want);
        let r =
            http(seer.http, "GET", &format!("/api/traces/{id}"), &[("Accept", "application/protobuf")], b"").unwrap();
        assert_eq!(r.status, 200);
        let t = TempoTrace::decode(r.body.as_slice()).unwrap();
        assert_same(&format!("{mode} tempo protobuf"), &from_tempo_proto(&t.batches), &want);
        // Jaeger.
        let r = get(seer.http, &format!("/jaeger/api/traces/{id}"));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_same(&format!("{mode} jaeger"), &from_jaeger(&r.json()["data"][0]), &jaeger_view(&want));

        // Searches by service, attribute and duration find it; non-matching ones do not.
        let front = format!("frontend{suffix}");
        let pay = format!("payment{suffix}");
        assert!(
            search_ids(seer.http, &format!("/api/search?tags={}", enc(&format!("service.name={front}")))).contains(&id)
        );
        let q = format!(r#"{{ resource.service.name = "{pay}" && span.payment.method = "card" && status = error }}"#);
        assert!(search_ids(seer.http, &format!("/api/search?q={}", enc(&q))).contains(&id));
        let hit = get(seer.http, &format!("/api/search?q={}", enc(&q))).json();
        let hit = hit["traces"].as_array().unwrap().iter().find(|t| t["traceID"] == json!(id)).unwrap().clone();
        assert_eq!(hit["rootServiceName"], json!(front), "{hit}");
        assert_eq!(hit["rootTraceName"], "GET /checkout", "{hit}");
        assert_eq!(hit["serviceStats"][&pay], json!({"spanCount": 1, "errorCount": 1}), "{hit}");
        assert_eq!(hit["serviceStats"][&front], json!({"spanCount": 2}), "{hit}");
        assert!(hit["durationMs"].as_u64().unwrap() >= 150, "{hit}");
        assert_eq!(hit["spanSet"]["matched"], 1, "{hit}");
        let q = format!(r#"{{ resource.service.name = "{front}" }} >> {{ name = "payment.charge" }}"#);
        assert!(search_ids(seer.http, &format!("/api/search?q={}", enc(&q))).contains(&id));
        assert!(
            search_ids(
                seer.http,
                &format!("/api/search?tags={}&minDuration=100ms", enc(&format!("service.name={front}")))
            )
            .contains(&id)
        );
        assert!(
            !search_ids(
                seer.http,
                &format!("/api/search?tags={}&maxDuration=50ms", enc(&format!("service.name={front}")))
            )
            .contains(&id)
        );
        let q = format!(r#"{{ resource.service.name = "{pay}" && span.payment.method = "cash" }}"#);
        assert!(!search_ids(seer.http, &format!("/api/search?q={}", enc(&q))).contains(&id));
        let j = |extra: &str| jaeger_ids(seer.http, &format!("/jaeger/api/traces?service={}{extra}", enc(&front)));
        assert!(j("").contains(&id));
        assert!(j(&format!("&tags={}", enc(r#"{"http.method":"GET","http.status_code":"200"}"#))).contains(&id));
        assert!(j("&minDuration=100ms").contains(&id));
        assert!(!j("&operation=nope").contains(&id));
        assert!(!j("&maxDuration=10ms&operation=GET%20%2Fcheckout").contains(&id));
        // Services, operations, dependencies.
        let svcs = get(seer.http, "/jaeger/api/services").json();
        assert!(svcs["data"].as_array().unwrap().contains(&json!(pay)), "{svcs}");
        let ops = get(seer.http, &format!("/jaeger/api/services/{}/operations", enc(&pay))).json();
        assert_eq!(ops["data"], json!(["payment.charge"]));
        let deps = get(seer.http, "/jaeger/api/dependencies").json();
        assert!(
            deps["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["parent"] == json!(format!("checkout{suffix}")) && d["child"] == json!(pay)),
            "{deps}"
        );
        eprintln!(
            "{mode}: trace {id} (5 spans, 3 services) identical from Tempo JSON v1/v2, Tempo protobuf and Jaeger; found by service, attribute, TraceQL and duration"
        );
    }
    // Tags and values.
    let tags = get(seer.http, "/api/search/tags").json();
    assert!(tags["tagNames"].as_array().unwrap().contains(&json!("payment.method")), "{tags}");
    let vals = get(seer.http, "/api/v2/search/tag/resource.service.name/values").json();
    assert!(vals["tagValues"].as_array().unwrap().contains(&json!({"type": "string", "value": "payment-g"})), "{vals}");
    let v2 = get(seer.http, "/api/v2/search/tags?scope=span").json();
    assert_eq!(v2["scopes"][0]["name"], "span");
    assert_eq!(get(seer.http, "/api/echo").text(), "echo");
    assert_eq!(get(seer.http, "/api/status/buildinfo").status, 200);
    // Span metrics and the service graph of these traces, in the metrics store (appended every
    // 15 s and at shutdown), queryable with PromQL.
    seer.stop();
    let seer = Seer::start(&tmp.path().join("d"), None);
    for suffix in ["-g", "-h"] {
        let q =
            format!(r#"sum(traces_service_graph_request_total{{client="checkout{suffix}",server="payment{suffix}"}})"#);
        let v = get(seer.http, &format!("/api/v1/query?query={}", enc(&q))).json();
        assert_eq!(v["data"]["result"][0]["value"][1], "1", "{q}: {v}");
        let q = format!(
            r#"sum(traces_service_graph_request_failed_total{{client="checkout{suffix}",server="payment{suffix}"}})"#
        );
        let v = get(seer.http, &format!("/api/v1/query?query={}", enc(&q))).json();
        assert_eq!(v["data"]["result"][0]["value"][1], "1", "{q}: {v}");
        let q = format!(r#"sum by (span_kind) (traces_spanmetrics_calls_total{{service="frontend{suffix}"}})"#);
        let v = get(seer.http, &format!("/api/v1/query?query={}", enc(&q))).json();
        assert_eq!(v["data"]["result"].as_array().map_or(0, |a| a.len()), 2, "{q}: {v}");
    }
    eprintln!("service graph: checkout -> payment 1 request, 1 failed, per transport; span metrics by kind");
}

fn fixtures_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/jaeger/integration")
}

/// Microseconds of an RFC 3339 UTC time like `2017-01-26T15:46:31.639875Z`.
fn rfc3339_us(s: &str) -> u64 {
    let (date, time) = s.trim_end_matches('Z').split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let t: Vec<i64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    let (y, m) = if d[1] <= 2 { (d[0] - 1, d[1] + 9) } else { (d[0], d[1] - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let micros: i64 = format!("{frac:0<6}")[..6].parse().unwrap();
    ((days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2]) * 1_000_000 + micros) as u64
}

#[test]
fn jaeger_fixture_search_cases() {
    let tmp = tempfile::tempdir().unwrap();
    // The fixtures are from 2017: keep everything.
    let cfg = "traces:\n  retention_period: 0s\n";
    let mut seer = Seer::start(&tmp.path().join("d"), Some(cfg));
    let mut ids_of: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in std::fs::read_dir(fixtures_dir().join("traces")).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_stem().unwrap().to_string_lossy().to_string();
        let body = std::fs::read(&p).unwrap();
        let r = http(seer.http, "POST", "/v1/traces", &[("Content-Type", "application/json")], &body).unwrap();
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        assert!(!r.text().contains("rejected"), "{name}: {}", r.text());
        let v: Value = serde_json::from_slice(&body).unwrap();
        let mut ids = BTreeSet::new();
        for rs in v["resourceSpans"].as_array().unwrap() {
            for ss in rs["scopeSpans"].as_array().unwrap() {
                for s in ss["spans"].as_array().unwrap() {
                    ids.insert(s["traceId"].as_str().unwrap().to_lowercase());
                }
            }
        }
        ids_of.insert(name, ids);
    }
    assert_eq!(ids_of.len(), 32);
    let cases: Vec<Value> =
        serde_json::from_slice(&std::fs::read(fixtures_dir().join("queries.json")).unwrap()).unwrap();
    // Once from the head, and once after a restart, from blocks (where page filters prune).
    for round in ["head", "blocks"] {
        if round == "blocks" {
            seer.stop();
            seer = Seer::start(&tmp.path().join("d"), Some(cfg));
        }
        let mut passed = 0;
        for c in &cases {
            let q = &c["Query"];
            let mut path = format!("/jaeger/api/traces?service={}", enc(q["ServiceName"].as_str().unwrap()));
            if let Some(op) = q["OperationName"].as_str().filter(|s| !s.is_empty()) {
                path.push_str(&format!("&operation={}", enc(op)));
            }
            if let Some(t) = q["Tags"].as_object() {
                path.push_str(&format!("&tags={}", enc(&Value::Object(t.clone()).to_string())));
            }
            path.push_str(&format!(
                "&start={}&end={}",
                rfc3339_us(q["StartTimeMin"].as_str().unwrap()),
                rfc3339_us(q["StartTimeMax"].as_str().unwrap())
            ));
            for (k, name) in [("DurationMin", "minDuration"), ("DurationMax", "maxDuration")] {
                let ns = q[k].as_u64().unwrap();
                if ns > 0 {
                    path.push_str(&format!("&{name}={ns}ns"));
                }
            }
            path.push_str(&format!("&limit={}", q["NumTraces"].as_u64().unwrap()));
            let got = jaeger_ids(seer.http, &path);
            let want: BTreeSet<String> = c["ExpectedFixtures"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|f| ids_of[f.as_str().unwrap()].iter().cloned())
                .collect();
            assert_eq!(got, want, "case {:?}: {path}", c["Caption"]);
            passed += 1;
        }
        eprintln!("jaeger fixture search cases ({round}): {passed} of {} passed", cases.len());
    }
    // Every fixture reads back by id with all its spans.
    for (name, ids) in &ids_of {
        for id in ids {
            let r = get(seer.http, &format!("/jaeger/api/traces/{id}"));
            assert_eq!(r.status, 200, "{name}: {}", r.text());
        }
    }
}

#[test]
fn otlp_trace_errors_and_partial_success() {
    let tmp = tempfile::tempdir().unwrap();
    let seer = Seer::start(&tmp.path().join("d"), Some("traces:\n  max_attributes_per_span: 2\n"));
    let r = http(seer.http, "POST", "/v1/traces", &[("Content-Type", "application/json")], b"{not json").unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    let r =
        http(seer.http, "POST", "/v1/traces", &[("Content-Type", "application/x-protobuf")], b"\xff\xff\xff").unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    let body = br#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"s"}}]},
      "scopeSpans":[{"spans":[
        {"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"ok","startTimeUnixNano":"1000","endTimeUnixNano":"2000"},
        {"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060709","name":"many","startTimeUnixNano":"1000","endTimeUnixNano":"2000",
         "attributes":[{"key":"a","value":{"intValue":"1"}},{"key":"b","value":{"intValue":"1"}},{"key":"c","value":{"intValue":"1"}}]},
        {"traceId":"","spanId":"0102030405060701","name":"noid"}]}]}]}"#;
    let r = http(seer.http, "POST", "/v1/traces", &[("Content-Type", "application/json")], body).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["partialSuccess"]["rejectedSpans"], "2", "{v}");
    let msg = v["partialSuccess"]["errorMessage"].as_str().unwrap();
    assert!(msg.contains("max_attributes_per_span") && msg.contains("trace id must be 16 bytes"), "{msg}");
    let r = get(seer.http, "/api/traces/0102030405060708090a0b0c0d0e0f10");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["batches"][0]["scopeSpans"][0]["spans"].as_array().unwrap().len(), 1);
    assert_eq!(get(seer.http, "/api/traces/zz").status, 400);
    assert_eq!(get(seer.http, "/api/traces/0102").status, 404);
    let r = get(seer.http, &format!("/api/search?q={}", enc("{ .a = ")));
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(get(seer.http, "/api/search?minDuration=soon").status, 400);
    assert_eq!(get(seer.http, "/jaeger/api/traces").status, 400);
}

#[test]
fn tenants_are_isolated_and_rate_limited() {
    let tmp = tempfile::tempdir().unwrap();
    // 1 MiB/s with a 1 MiB burst.
    let seer =
        Seer::start(&tmp.path().join("d"), Some("traces:\n  ingestion_rate_mb: 1\n  ingestion_burst_size_mb: 1\n"));
    let body = span_batch(7, 5).encode_to_vec();
    let post = |tenant: &str, body: &[u8]| {
        http(
            seer.http,
            "POST",
            "/v1/traces",
            &[("Content-Type", "application/x-protobuf"), ("X-Scope-OrgID", tenant)],
            body,
        )
        .unwrap()
    };
    assert_eq!(post("team-a", &body).status, 200);
    let id = trace_id_of(7);
    let read = |tenant: &str, path: &str| http(seer.http, "GET", path, &[("X-Scope-OrgID", tenant)], b"").unwrap();
    assert_eq!(read("team-a", &format!("/api/traces/{id}")).status, 200);
    assert_eq!(read("team-b", &format!("/api/traces/{id}")).status, 404);
    assert_eq!(get(seer.http, &format!("/api/traces/{id}")).status, 404, "the default tenant sees nothing");
    let j = read("team-b", "/jaeger/api/services").json();
    assert_eq!(j["data"], json!([]), "{j}");
    let j = read("team-a", "/jaeger/api/services").json();
    assert_eq!(j["data"], json!(["crash"]), "{j}");
    // Over the rate: 429 with the reason; other tenants are not affected.
    let big = span_batch(8, 15_000).encode_to_vec();
    assert!(big.len() > 1 << 20, "{}", big.len());
    let r = post("team-a", &big);
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.text().contains("traces.ingestion_rate_mb"), "{}", r.text());
    assert_eq!(
        read("team-a", &format!("/api/traces/{}", trace_id_of(8))).status,
        404,
        "nothing of a refused request is stored"
    );
    assert_eq!(post("team-c", &body).status, 200);
}

fn span_batch(batch: u64, spans: u64) -> ExportTraceServiceRequest {
    use seer_ingest::proto::otlp::resource::Resource;
    use seer_ingest::proto::otlp::trace::{ScopeSpans, Span};
    let mut tid = [0u8; 16];
    tid[..8].copy_from_slice(&batch.to_be_bytes());
    tid[15] = 1;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let list = (0..spans)
        .map(|i| Span {
            trace_id: tid.to_vec(),
            span_id: (i + 1).to_be_bytes().to_vec(),
            parent_span_id: if i == 0 { Vec::new() } else { 1u64.to_be_bytes().to_vec() },
            name: format!("op-{i}"),
            kind: 2,
            start_time_unix_nano: now + i,
            end_time_unix_nano: now + i + 1000,
            attributes: vec![KeyValue {
                key: "batch".into(),
                value: Some(AnyValue { value: Some(any_value::Value::IntValue(batch as i64)) }),
            }],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue { value: Some(any_value::Value::StringValue("crash".into())) }),
                }],
                dropped_attributes_count: 0,
            }),
            scope_spans: vec![ScopeSpans { scope: None, spans: list, schema_url: String::new() }],
            schema_url: String::new(),
        }],
    }
}

fn trace_id_of(batch: u64) -> String {
    let mut tid = [0u8; 16];
    tid[..8].copy_from_slice(&batch.to_be_bytes());
    tid[15] = 1;
    hex(&tid)
}

#[test]
fn kill_9_while_spans_stream_in_loses_no_acknowledged_span() {
    const SPANS: u64 = 20;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    let mut seer = Seer::start(&data, None);
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..2u64)
        .map(|w| {
            let (acked, stop, addr) = (acked.clone(), stop.clone(), seer.http);
            std::thread::spawn(move || {
                let mut b = w;
                let deadline = std::time::Instant::now() + Duration::from_secs(60);
                while stop.load(Ordering::Relaxed) == 0 && std::time::Instant::now() < deadline {
                    let body = span_batch(b, SPANS).encode_to_vec();
                    match http(addr, "POST", "/v1/traces", &[("Content-Type", "application/x-protobuf")], &body) {
                        Ok(r) if r.status == 200 => acked.lock().unwrap().push(b),
                        _ => break,
                    }
                    b += 2;
                }
            })
        })
        .collect();
    assert!(wait_until(Duration::from_secs(30), || acked.lock().unwrap().len() >= 400));
    seer.kill9();
    stop.store(1, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let seer = Seer::start(&data, None);
    let mut missing = Vec::new();
    for &b in &acked {
        let r = get(seer.http, &format!("/api/traces/{}", trace_id_of(b)));
        let n = if r.status == 200 {
            r.json()["batches"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|rs| rs["scopeSpans"].as_array().unwrap().iter())
                .map(|ss| ss["spans"].as_array().unwrap().len())
                .sum::<usize>()
        } else {
            0
        };
        if n != SPANS as usize {
            missing.push((b, n));
        }
    }
    assert!(missing.is_empty(), "acknowledged traces missing or incomplete after kill -9: {missing:?}");
    eprintln!(
        "{} requests ({} spans) acknowledged before kill -9, all present after restart",
        acked.len(),
        acked.len() as u64 * SPANS
    );
}

/// `n` traces of one span of `service`, trace ids from a seeded generator (random in their
/// rightmost 7 bytes, as SDKs make them); every `error_every`-th trace has an error status.
fn sampled_batch(
    service: &str,
    first: u64,
    n: u64,
    error_every: u64,
    start_ns: u64,
) -> (ExportTraceServiceRequest, Vec<(String, bool)>) {
    use seer_ingest::proto::otlp::resource::Resource;
    use seer_ingest::proto::otlp::trace::{ScopeSpans, Span, Status};
    let mut ids = Vec::new();
    let spans = (first..first + n)
        .map(|i| {
            let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
            x ^= x >> 29;
            x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x ^= x >> 32;
            let mut tid = [0u8; 16];
            tid[..8].copy_from_slice(&i.to_be_bytes());
            tid[8..].copy_from_slice(&x.to_be_bytes());
            let error = error_every > 0 && i % error_every == 0;
            ids.push((hex(&tid), error));
            Span {
                trace_id: tid.to_vec(),
                span_id: 7u64.to_be_bytes().to_vec(),
                name: "op".into(),
                kind: 2,
                start_time_unix_nano: start_ns + i * 1000,
                end_time_unix_nano: start_ns + i * 1000 + 1_000_000,
                status: error.then(|| Status { message: "boom".into(), code: 2 }),
                ..Default::default()
            }
        })
        .collect();
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue { value: Some(any_value::Value::StringValue(service.into())) }),
                }],
                dropped_attributes_count: 0,
            }),
            scope_spans: vec![ScopeSpans { scope: None, spans, schema_url: String::new() }],
            schema_url: String::new(),
        }],
    };
    (req, ids)
}

fn stored(addr: std::net::SocketAddr, ids: &[(String, bool)]) -> (usize, usize) {
    let mut kept = 0;
    let mut errors_kept = 0;
    for (id, error) in ids {
        if get(addr, &format!("/api/traces/{id}")).status == 200 {
            kept += 1;
            errors_kept += *error as usize;
        }
    }
    (kept, errors_kept)
}

fn promql(addr: std::net::SocketAddr, q: &str) -> f64 {
    let v = get(addr, &format!("/api/v1/query?query={}", enc(q))).json();
    v["data"]["result"][0]["value"][1].as_str().unwrap_or_else(|| panic!("{q}: {v}")).parse().unwrap()
}

#[test]
fn sampling_policies_and_span_metrics_counted_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    let cfg = "traces:\n  ingestion_rate_mb: 0\n  tail_sampling_after: 1s\n  sampling:\n    head:\n      services: {logging: 1, payment: 100}\n    tail:\n      enabled: true\n      policies:\n        - {type: error}\n        - {type: probabilistic, percent: 10, service: orders}\n        - {type: always, service: payment}\n";
    let mut seer = Seer::start(&data, Some(cfg));
    let start =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 - 600_000_000_000;
    let post = |req: &ExportTraceServiceRequest| {
        let r =
            http(seer.http, "POST", "/v1/traces", &[("Content-Type", "application/x-protobuf")], &req.encode_to_vec())
                .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    };
    // Head sampling: 20,000 `logging` traces at 1 %, 1,000 `payment` traces at 100 %.
    let mut logging = Vec::new();
    for k in 0..20u64 {
        let (req, ids) = sampled_batch("logging", k * 1000, 1000, 0, start);
        post(&req);
        logging.extend(ids);
    }
    let (req, payment) = sampled_batch("payment", 1_000_000, 1000, 0, start);
    post(&req);
    // Tail sampling at retention time: 10,000 `orders` traces, every 20th with an error; the
    // policy keeps errors, 10 % of `orders` and all of `payment` for the long window.
    let mut orders = Vec::new();
    for k in 0..10u64 {
        let (req, ids) = sampled_batch("orders", 2_000_000 + k * 1000, 1000, 20, start);
        post(&req);
        orders.extend(ids);
    }
    let (kept, _) = stored(seer.http, &logging);
    // Binomial(20000, 0.01): mean 200, sigma 14.07; accept 4 sigma.
    assert!((200 - 57..=200 + 57).contains(&kept), "head sampling kept {kept} of 20000 logging traces (want 200 ± 57)");
    assert_eq!(stored(seer.http, &payment).0, 1000, "payment is kept at 100 %");
    eprintln!("head sampling: logging 1 %: {kept} of 20000 traces kept (200 ± 57); payment 100 %: 1000 of 1000");
    // Before the long-term filter every orders trace is there.
    assert_eq!(stored(seer.http, &orders).0, 10_000);
    // SIGTERM writes the head as a block and appends the span metrics; after the restart the
    // block is older than `tail_sampling_after` and the filter rewrites it.
    seer.stop();
    let seer = Seer::start(&data, Some(cfg));
    let errors = orders.iter().filter(|(_, e)| *e).count();
    assert_eq!(errors, 500);
    let filtered = wait_until(Duration::from_secs(30), || stored(seer.http, &orders[..200]).0 < 200);
    assert!(filtered, "the long-term filter did not run");
    let (kept, errors_kept) = stored(seer.http, &orders);
    // Every error trace kept; Binomial(9500, 0.10) of the rest: mean 950, sigma 29.2; 4 sigma.
    assert_eq!(errors_kept, 500, "every error trace is kept");
    let rest = kept - errors_kept;
    assert!((950 - 117..=950 + 117).contains(&rest), "tail sampling kept {rest} of 9500 other traces (want 950 ± 117)");
    eprintln!(
        "tail sampling at retention time: {errors_kept} of 500 error traces kept, {rest} of 9500 others (950 ± 117)"
    );
    // Span metrics in the metrics store, queryable with PromQL: the stored spans, by service.
    let calls = promql(seer.http, r#"sum(traces_spanmetrics_calls_total{service="payment"})"#);
    assert_eq!(calls, 1000.0);
    let errs =
        promql(seer.http, r#"sum(traces_spanmetrics_calls_total{service="orders",status_code="STATUS_CODE_ERROR"})"#);
    assert_eq!(errs, 500.0);
    let dropped = promql(seer.http, r#"sum(seer_sampling_spans_total{decision="dropped",reason="head"})"#);
    assert!(dropped >= 19_000.0, "{dropped}");
    // Exemplars lead from the latency histogram to stored traces (payment traces are all kept).
    let now_s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let ex = get(
        seer.http,
        &format!(
            "/api/v1/query_exemplars?query={}&start={}&end={}",
            enc(r#"traces_spanmetrics_latency_bucket{service="payment"}"#),
            now_s - 3600,
            now_s + 60
        ),
    )
    .json();
    let trace_ids: Vec<String> = ex["data"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["exemplars"].as_array().unwrap().iter())
        .filter_map(|e| e["labels"]["trace_id"].as_str().map(String::from))
        .collect();
    assert!(!trace_ids.is_empty(), "no exemplars: {ex}");
    for id in &trace_ids {
        assert_eq!(get(seer.http, &format!("/api/traces/{id}")).status, 200, "exemplar trace {id} is stored");
    }
    eprintln!(
        "span metrics: payment calls {calls}, orders error calls {errs}; {} exemplar trace ids, all stored; \
         sampling counters: {dropped} spans dropped by head sampling",
        trace_ids.len()
    );
}

#[test]
fn traceql_metrics_over_the_tempo_api() {
    let tmp = tempfile::tempdir().unwrap();
    let seer = Seer::start(&tmp.path().join("d"), None);
    for b in 0..3u64 {
        let body = span_batch(b, 10).encode_to_vec();
        let r = http(seer.http, "POST", "/v1/traces", &[("Content-Type", "application/x-protobuf")], &body).unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let range = |q: &str| {
        let r = get(
            seer.http,
            &format!("/api/metrics/query_range?q={}&start={}&end={}&step=60s", enc(q), now - 600, now + 60),
        );
        assert_eq!(r.status, 200, "{q}: {}", r.text());
        r.json()
    };
    let total = |v: &Value| -> f64 {
        v["series"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["samples"].as_array().unwrap().iter())
            .map(|x| x["value"].as_f64().unwrap())
            .sum()
    };
    // 3 traces of 10 spans: 30 spans counted, one series per batch with `by`.
    let v = range(r#"{ resource.service.name = "crash" } | count_over_time()"#);
    assert_eq!(total(&v), 30.0, "{v}");
    let v = range(r#"{ resource.service.name = "crash" } | count_over_time() by (span.batch)"#);
    assert_eq!(v["series"].as_array().unwrap().len(), 3, "{v}");
    assert_eq!(total(&v), 30.0);
    let v = range(r#"{ name = "op-0" } | count_over_time()"#);
    assert_eq!(total(&v), 3.0, "{v}");
    // Instant form: one value per series over the whole range.
    let r = get(
        seer.http,
        &format!(
            "/api/metrics/query?q={}&start={}&end={}",
            enc(r#"{ resource.service.name = "crash" } | count_over_time()"#),
            now - 600,
            now + 60
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["series"][0]["value"], json!(30.0), "{}", r.text());
    // Errors: not a metrics query, a bad step.
    let r = get(seer.http, &format!("/api/metrics/query_range?q={}", enc("{ true }")));
    assert_eq!(r.status, 400, "{}", r.text());
    let r = get(seer.http, &format!("/api/metrics/query_range?q={}&step=soon", enc("{ true } | rate()")));
    assert_eq!(r.status, 400, "{}", r.text());
    eprintln!("traceql metrics: count_over_time 30 spans, by(span.batch) 3 series, instant 30");
}
