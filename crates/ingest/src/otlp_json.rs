//! OTLP/HTTP JSON → protobuf message types.
//!
//! Follows the OTLP JSON encoding (lowerCamelCase keys, 64-bit integers as strings, trace and
//! span ids as hex, other bytes as base64) and is as lenient as the OpenTelemetry Collector's
//! decoder, which Prometheus uses: snake_case keys, integers as numbers or strings, enums as
//! numbers or names, doubles as numbers or `"NaN"`/`"Infinity"` strings, unknown keys ignored.

use crate::DecodeError;
use crate::proto::otlp::common::{AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value};
use crate::proto::otlp::logs::{ExportLogsServiceRequest, LogRecord, ResourceLogs, ScopeLogs};
use crate::proto::otlp::metrics::{
    Buckets, Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, ExportMetricsServiceRequest, Gauge,
    Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary,
    SummaryDataPoint, ValueAtQuantile, exemplar, metric, number_data_point,
};
use crate::proto::otlp::resource::Resource;
use crate::proto::otlp::trace::{ExportTraceServiceRequest, ResourceSpans, ScopeSpans, Span, Status, span};
use seer_encoding::base64_decode;
use serde_json::{Map, Value};

type Obj = Map<String, Value>;
type R<T> = Result<T, DecodeError>;

fn bad(what: impl Into<String>) -> DecodeError {
    DecodeError::Json(what.into())
}

fn parse(body: &[u8]) -> R<Obj> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(bad("the request body must be a JSON object")),
        Err(e) => Err(bad(format!("invalid JSON: {e}"))),
    }
}

/// Looks a field up by its camelCase name, then by its snake_case name.
fn get<'a>(o: &'a Obj, camel: &str) -> Option<&'a Value> {
    if let Some(v) = o.get(camel) {
        return if v.is_null() { None } else { Some(v) };
    }
    let mut snake = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            snake.push('_');
            snake.push(c.to_ascii_lowercase());
        } else {
            snake.push(c);
        }
    }
    o.get(&snake).filter(|v| !v.is_null())
}

fn obj<'a>(v: &'a Value, what: &str) -> R<&'a Obj> {
    v.as_object().ok_or_else(|| bad(format!("{what} must be an object")))
}

fn list<'a>(o: &'a Obj, key: &str) -> R<&'a [Value]> {
    match get(o, key) {
        None => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(bad(format!("{key} must be an array"))),
    }
}

fn objs<'a>(o: &'a Obj, key: &str) -> R<Vec<&'a Obj>> {
    list(o, key)?.iter().map(|v| obj(v, key)).collect()
}

fn string(o: &Obj, key: &str) -> R<String> {
    match get(o, key) {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(bad(format!("{key} must be a string"))),
    }
}

fn u64_of(v: &Value, key: &str) -> R<u64> {
    match v {
        Value::Number(n) => {
            n.as_u64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0).map(|f| f as u64))
        }
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    }
    .ok_or_else(|| bad(format!("{key} must be an unsigned integer, got {v}")))
}

fn i64_of(v: &Value, key: &str) -> R<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
    .ok_or_else(|| bad(format!("{key} must be an integer, got {v}")))
}

fn f64_of(v: &Value, key: &str) -> R<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "nan" => Some(f64::NAN),
            "infinity" | "+infinity" | "inf" | "+inf" => Some(f64::INFINITY),
            "-infinity" | "-inf" => Some(f64::NEG_INFINITY),
            t => t.parse::<f64>().ok(),
        },
        _ => None,
    }
    .ok_or_else(|| bad(format!("{key} must be a number, got {v}")))
}

fn u64_field(o: &Obj, key: &str) -> R<u64> {
    get(o, key).map(|v| u64_of(v, key)).transpose().map(|x| x.unwrap_or(0))
}

fn i64_field(o: &Obj, key: &str) -> R<i64> {
    get(o, key).map(|v| i64_of(v, key)).transpose().map(|x| x.unwrap_or(0))
}

fn u32_field(o: &Obj, key: &str) -> R<u32> {
    let v = u64_field(o, key)?;
    u32::try_from(v).map_err(|_| bad(format!("{key} is out of range: {v}")))
}

fn i32_field(o: &Obj, key: &str) -> R<i32> {
    let v = i64_field(o, key)?;
    i32::try_from(v).map_err(|_| bad(format!("{key} is out of range: {v}")))
}

fn f64_field(o: &Obj, key: &str) -> R<Option<f64>> {
    get(o, key).map(|v| f64_of(v, key)).transpose()
}

fn bool_field(o: &Obj, key: &str) -> R<bool> {
    match get(o, key) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(bad(format!("{key} must be a boolean, got {v}"))),
    }
}

/// An enum given as a number or as one of `names` (index = value).
fn enum_field(o: &Obj, key: &str, names: &[&str]) -> R<i32> {
    match get(o, key) {
        None => Ok(0),
        Some(Value::String(s)) => match names.iter().position(|n| n == s) {
            Some(i) => Ok(i as i32),
            None => s.parse::<i32>().map_err(|_| bad(format!("{key}: unknown value {s:?}"))),
        },
        Some(v) => {
            let n = i64_of(v, key)?;
            i32::try_from(n).map_err(|_| bad(format!("{key} is out of range: {n}")))
        }
    }
}

fn hex_field(o: &Obj, key: &str) -> R<Vec<u8>> {
    let s = string(o, key)?;
    let s = s.trim();
    if s.len() % 2 != 0 {
        return Err(bad(format!("{key} must be a hex string of even length, got {s:?}")));
    }
    let mut out = Vec::with_capacity(s.len() / 2);
    for i in (0..s.len()).step_by(2) {
        let b = u8::from_str_radix(s.get(i..i + 2).unwrap_or("zz"), 16)
            .map_err(|_| bad(format!("{key} must be a hex string, got {s:?}")))?;
        out.push(b);
    }
    Ok(out)
}

fn any_value(v: &Value) -> R<AnyValue> {
    let o = obj(v, "value")?;
    let value = if let Some(s) = get(o, "stringValue") {
        Some(any_value::Value::StringValue(s.as_str().ok_or_else(|| bad("stringValue must be a string"))?.to_string()))
    } else if let Some(b) = get(o, "boolValue") {
        Some(any_value::Value::BoolValue(b.as_bool().ok_or_else(|| bad("boolValue must be a boolean"))?))
    } else if let Some(i) = get(o, "intValue") {
        Some(any_value::Value::IntValue(i64_of(i, "intValue")?))
    } else if let Some(d) = get(o, "doubleValue") {
        Some(any_value::Value::DoubleValue(f64_of(d, "doubleValue")?))
    } else if let Some(a) = get(o, "arrayValue") {
        let a = obj(a, "arrayValue")?;
        Some(any_value::Value::ArrayValue(ArrayValue {
            values: list(a, "values")?.iter().map(any_value).collect::<R<_>>()?,
        }))
    } else if let Some(k) = get(o, "kvlistValue") {
        let k = obj(k, "kvlistValue")?;
        Some(any_value::Value::KvlistValue(KeyValueList { values: key_values(k, "values")? }))
    } else if let Some(b) = get(o, "bytesValue") {
        let s = b.as_str().ok_or_else(|| bad("bytesValue must be a base64 string"))?;
        Some(any_value::Value::BytesValue(base64_decode(s).ok_or_else(|| bad("bytesValue must be base64"))?))
    } else {
        None
    };
    Ok(AnyValue { value })
}

fn key_values(o: &Obj, key: &str) -> R<Vec<KeyValue>> {
    let mut out = Vec::new();
    for kv in objs(o, key)? {
        let value = match get(kv, "value") {
            Some(v) => Some(any_value(v)?),
            None => None,
        };
        out.push(KeyValue { key: string(kv, "key")?, value });
    }
    Ok(out)
}

fn resource(o: &Obj) -> R<Option<Resource>> {
    match get(o, "resource") {
        None => Ok(None),
        Some(v) => {
            let r = obj(v, "resource")?;
            Ok(Some(Resource {
                attributes: key_values(r, "attributes")?,
                dropped_attributes_count: u32_field(r, "droppedAttributesCount")?,
            }))
        }
    }
}

fn scope(o: &Obj) -> R<Option<InstrumentationScope>> {
    match get(o, "scope") {
        None => Ok(None),
        Some(v) => {
            let s = obj(v, "scope")?;
            Ok(Some(InstrumentationScope {
                name: string(s, "name")?,
                version: string(s, "version")?,
                attributes: key_values(s, "attributes")?,
                dropped_attributes_count: u32_field(s, "droppedAttributesCount")?,
            }))
        }
    }
}

const TEMPORALITY: &[&str] =
    &["AGGREGATION_TEMPORALITY_UNSPECIFIED", "AGGREGATION_TEMPORALITY_DELTA", "AGGREGATION_TEMPORALITY_CUMULATIVE"];

/// Decodes an OTLP/JSON `ExportMetricsServiceRequest`.
pub fn decode_metrics(body: &[u8]) -> R<ExportMetricsServiceRequest> {
    let root = parse(body)?;
    let mut resource_metrics = Vec::new();
    for rm in objs(&root, "resourceMetrics")? {
        let mut scope_metrics = Vec::new();
        for sm in objs(rm, "scopeMetrics")? {
            let mut metrics = Vec::new();
            for m in objs(sm, "metrics")? {
                metrics.push(decode_metric(m)?);
            }
            scope_metrics.push(ScopeMetrics { scope: scope(sm)?, metrics, schema_url: string(sm, "schemaUrl")? });
        }
        resource_metrics.push(ResourceMetrics {
            resource: resource(rm)?,
            scope_metrics,
            schema_url: string(rm, "schemaUrl")?,
        });
    }
    Ok(ExportMetricsServiceRequest { resource_metrics })
}

fn decode_metric(m: &Obj) -> R<Metric> {
    let data = if let Some(g) = get(m, "gauge") {
        let g = obj(g, "gauge")?;
        Some(metric::Data::Gauge(Gauge { data_points: number_points(g)? }))
    } else if let Some(s) = get(m, "sum") {
        let s = obj(s, "sum")?;
        Some(metric::Data::Sum(Sum {
            data_points: number_points(s)?,
            aggregation_temporality: enum_field(s, "aggregationTemporality", TEMPORALITY)?,
            is_monotonic: bool_field(s, "isMonotonic")?,
        }))
    } else if let Some(h) = get(m, "histogram") {
        let h = obj(h, "histogram")?;
        let mut data_points = Vec::new();
        for p in objs(h, "dataPoints")? {
            data_points.push(HistogramDataPoint {
                attributes: key_values(p, "attributes")?,
                start_time_unix_nano: u64_field(p, "startTimeUnixNano")?,
                time_unix_nano: u64_field(p, "timeUnixNano")?,
                count: u64_field(p, "count")?,
                sum: f64_field(p, "sum")?,
                bucket_counts: list(p, "bucketCounts")?.iter().map(|v| u64_of(v, "bucketCounts")).collect::<R<_>>()?,
                explicit_bounds: list(p, "explicitBounds")?
                    .iter()
                    .map(|v| f64_of(v, "explicitBounds"))
                    .collect::<R<_>>()?,
                exemplars: exemplars(p)?,
                flags: u32_field(p, "flags")?,
                min: f64_field(p, "min")?,
                max: f64_field(p, "max")?,
            });
        }
        Some(metric::Data::Histogram(Histogram {
            data_points,
            aggregation_temporality: enum_field(h, "aggregationTemporality", TEMPORALITY)?,
        }))
    } else if let Some(h) = get(m, "exponentialHistogram") {
        let h = obj(h, "exponentialHistogram")?;
        let mut data_points = Vec::new();
        for p in objs(h, "dataPoints")? {
            let buckets = |key: &str| -> R<Option<Buckets>> {
                match get(p, key) {
                    None => Ok(None),
                    Some(b) => {
                        let b = obj(b, key)?;
                        Ok(Some(Buckets {
                            offset: i32_field(b, "offset")?,
                            bucket_counts: list(b, "bucketCounts")?
                                .iter()
                                .map(|v| u64_of(v, "bucketCounts"))
                                .collect::<R<_>>()?,
                        }))
                    }
                }
            };
            data_points.push(ExponentialHistogramDataPoint {
                attributes: key_values(p, "attributes")?,
                start_time_unix_nano: u64_field(p, "startTimeUnixNano")?,
                time_unix_nano: u64_field(p, "timeUnixNano")?,
                count: u64_field(p, "count")?,
                sum: f64_field(p, "sum")?,
                scale: i32_field(p, "scale")?,
                zero_count: u64_field(p, "zeroCount")?,
                positive: buckets("positive")?,
                negative: buckets("negative")?,
                flags: u32_field(p, "flags")?,
                exemplars: exemplars(p)?,
                min: f64_field(p, "min")?,
                max: f64_field(p, "max")?,
                zero_threshold: f64_field(p, "zeroThreshold")?.unwrap_or(0.0),
            });
        }
        Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
            data_points,
            aggregation_temporality: enum_field(h, "aggregationTemporality", TEMPORALITY)?,
        }))
    } else if let Some(s) = get(m, "summary") {
        let s = obj(s, "summary")?;
        let mut data_points = Vec::new();
        for p in objs(s, "dataPoints")? {
            let mut quantile_values = Vec::new();
            for q in objs(p, "quantileValues")? {
                quantile_values.push(ValueAtQuantile {
                    quantile: f64_field(q, "quantile")?.unwrap_or(0.0),
                    value: f64_field(q, "value")?.unwrap_or(0.0),
                });
            }
            data_points.push(SummaryDataPoint {
                attributes: key_values(p, "attributes")?,
                start_time_unix_nano: u64_field(p, "startTimeUnixNano")?,
                time_unix_nano: u64_field(p, "timeUnixNano")?,
                count: u64_field(p, "count")?,
                sum: f64_field(p, "sum")?.unwrap_or(0.0),
                quantile_values,
                flags: u32_field(p, "flags")?,
            });
        }
        Some(metric::Data::Summary(Summary { data_points }))
    } else {
        None
    };
    Ok(Metric {
        name: string(m, "name")?,
        description: string(m, "description")?,
        unit: string(m, "unit")?,
        data,
        metadata: key_values(m, "metadata")?,
    })
}

fn number_points(o: &Obj) -> R<Vec<NumberDataPoint>> {
    let mut out = Vec::new();
    for p in objs(o, "dataPoints")? {
        let value = if let Some(d) = get(p, "asDouble") {
            Some(number_data_point::Value::AsDouble(f64_of(d, "asDouble")?))
        } else if let Some(i) = get(p, "asInt") {
            Some(number_data_point::Value::AsInt(i64_of(i, "asInt")?))
        } else {
            None
        };
        out.push(NumberDataPoint {
            attributes: key_values(p, "attributes")?,
            start_time_unix_nano: u64_field(p, "startTimeUnixNano")?,
            time_unix_nano: u64_field(p, "timeUnixNano")?,
            value,
            exemplars: exemplars(p)?,
            flags: u32_field(p, "flags")?,
        });
    }
    Ok(out)
}

fn exemplars(p: &Obj) -> R<Vec<Exemplar>> {
    let mut out = Vec::new();
    for e in objs(p, "exemplars")? {
        let value = if let Some(d) = get(e, "asDouble") {
            Some(exemplar::Value::AsDouble(f64_of(d, "asDouble")?))
        } else if let Some(i) = get(e, "asInt") {
            Some(exemplar::Value::AsInt(i64_of(i, "asInt")?))
        } else {
            None
        };
        out.push(Exemplar {
            filtered_attributes: key_values(e, "filteredAttributes")?,
            time_unix_nano: u64_field(e, "timeUnixNano")?,
            value,
            span_id: hex_field(e, "spanId")?,
            trace_id: hex_field(e, "traceId")?,
        });
    }
    Ok(out)
}

const SEVERITY: &[&str] = &[
    "SEVERITY_NUMBER_UNSPECIFIED",
    "SEVERITY_NUMBER_TRACE",
    "SEVERITY_NUMBER_TRACE2",
    "SEVERITY_NUMBER_TRACE3",
    "SEVERITY_NUMBER_TRACE4",
    "SEVERITY_NUMBER_DEBUG",
    "SEVERITY_NUMBER_DEBUG2",
    "SEVERITY_NUMBER_DEBUG3",
    "SEVERITY_NUMBER_DEBUG4",
    "SEVERITY_NUMBER_INFO",
    "SEVERITY_NUMBER_INFO2",
    "SEVERITY_NUMBER_INFO3",
    "SEVERITY_NUMBER_INFO4",
    "SEVERITY_NUMBER_WARN",
    "SEVERITY_NUMBER_WARN2",
    "SEVERITY_NUMBER_WARN3",
    "SEVERITY_NUMBER_WARN4",
    "SEVERITY_NUMBER_ERROR",
    "SEVERITY_NUMBER_ERROR2",
    "SEVERITY_NUMBER_ERROR3",
    "SEVERITY_NUMBER_ERROR4",
    "SEVERITY_NUMBER_FATAL",
    "SEVERITY_NUMBER_FATAL2",
    "SEVERITY_NUMBER_FATAL3",
    "SEVERITY_NUMBER_FATAL4",
];

/// Decodes an OTLP/JSON `ExportLogsServiceRequest`.
pub fn decode_logs(body: &[u8]) -> R<ExportLogsServiceRequest> {
    let root = parse(body)?;
    let mut resource_logs = Vec::new();
    for rl in objs(&root, "resourceLogs")? {
        let mut scope_logs = Vec::new();
        for sl in objs(rl, "scopeLogs")? {
            let mut log_records = Vec::new();
            for r in objs(sl, "logRecords")? {
                log_records.push(LogRecord {
                    time_unix_nano: u64_field(r, "timeUnixNano")?,
                    observed_time_unix_nano: u64_field(r, "observedTimeUnixNano")?,
                    severity_number: enum_field(r, "severityNumber", SEVERITY)?,
                    severity_text: string(r, "severityText")?,
                    body: get(r, "body").map(any_value).transpose()?,
                    attributes: key_values(r, "attributes")?,
                    dropped_attributes_count: u32_field(r, "droppedAttributesCount")?,
                    flags: u32_field(r, "flags")?,
                    trace_id: hex_field(r, "traceId")?,
                    span_id: hex_field(r, "spanId")?,
                    event_name: string(r, "eventName")?,
                });
            }
            scope_logs.push(ScopeLogs { scope: scope(sl)?, log_records, schema_url: string(sl, "schemaUrl")? });
        }
        resource_logs.push(ResourceLogs { resource: resource(rl)?, scope_logs, schema_url: string(rl, "schemaUrl")? });
    }
    Ok(ExportLogsServiceRequest { resource_logs })
}

/// OTLP's span kind names, by number.
pub const SPAN_KIND: &[&str] = &[
    "SPAN_KIND_UNSPECIFIED",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_CONSUMER",
];
/// OTLP's status code names, by number.
pub const STATUS_CODE: &[&str] = &["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"];

/// Decodes an OTLP/JSON `ExportTraceServiceRequest`.
pub fn decode_traces(body: &[u8]) -> R<ExportTraceServiceRequest> {
    let root = parse(body)?;
    let mut resource_spans = Vec::new();
    for rs in objs(&root, "resourceSpans")? {
        let mut scope_spans = Vec::new();
        for ss in objs(rs, "scopeSpans")? {
            let mut spans = Vec::new();
            for s in objs(ss, "spans")? {
                let mut events = Vec::new();
                for e in objs(s, "events")? {
                    events.push(span::Event {
                        time_unix_nano: u64_field(e, "timeUnixNano")?,
                        name: string(e, "name")?,
                        attributes: key_values(e, "attributes")?,
                        dropped_attributes_count: u32_field(e, "droppedAttributesCount")?,
                    });
                }
                let mut links = Vec::new();
                for l in objs(s, "links")? {
                    links.push(span::Link {
                        trace_id: hex_field(l, "traceId")?,
                        span_id: hex_field(l, "spanId")?,
                        trace_state: string(l, "traceState")?,
                        attributes: key_values(l, "attributes")?,
                        dropped_attributes_count: u32_field(l, "droppedAttributesCount")?,
                        flags: u32_field(l, "flags")?,
                    });
                }
                let status = match get(s, "status") {
                    None => None,
                    Some(st) => {
                        let st = obj(st, "status")?;
                        Some(Status { message: string(st, "message")?, code: enum_field(st, "code", STATUS_CODE)? })
                    }
                };
                spans.push(Span {
                    trace_id: hex_field(s, "traceId")?,
                    span_id: hex_field(s, "spanId")?,
                    trace_state: string(s, "traceState")?,
                    parent_span_id: hex_field(s, "parentSpanId")?,
                    flags: u32_field(s, "flags")?,
                    name: string(s, "name")?,
                    kind: enum_field(s, "kind", SPAN_KIND)?,
                    start_time_unix_nano: u64_field(s, "startTimeUnixNano")?,
                    end_time_unix_nano: u64_field(s, "endTimeUnixNano")?,
                    attributes: key_values(s, "attributes")?,
                    dropped_attributes_count: u32_field(s, "droppedAttributesCount")?,
                    events,
                    dropped_events_count: u32_field(s, "droppedEventsCount")?,
                    links,
                    dropped_links_count: u32_field(s, "droppedLinksCount")?,
                    status,
                });
            }
            scope_spans.push(ScopeSpans { scope: scope(ss)?, spans, schema_url: string(ss, "schemaUrl")? });
        }
        resource_spans.push(ResourceSpans {
            resource: resource(rs)?,
            scope_spans,
            schema_url: string(rs, "schemaUrl")?,
        });
    }
    Ok(ExportTraceServiceRequest { resource_spans })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conformance(name: &str) -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/otlp").join(name);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn upstream_examples_decode() {
        let m = decode_metrics(&conformance("metrics.json")).unwrap();
        let names: Vec<&str> = m.resource_metrics[0].scope_metrics[0].metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, vec!["my.counter", "my.gauge", "my.histogram", "my.exponential.histogram"]);
        let t = decode_traces(&conformance("trace.json")).unwrap();
        let s = &t.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(s.trace_id.len(), 16);
        assert_eq!(s.span_id.len(), 8);
        let l = decode_logs(&conformance("logs.json")).unwrap();
        assert!(!l.resource_logs[0].scope_logs[0].log_records.is_empty());
        decode_logs(&conformance("events.json")).unwrap();
    }

    #[test]
    fn lenient_forms() {
        let body = br#"{"resource_metrics":[{"scope_metrics":[{"metrics":[{"name":"x","sum":{
            "aggregation_temporality":"AGGREGATION_TEMPORALITY_CUMULATIVE","is_monotonic":true,
            "data_points":[{"time_unix_nano":1000000,"as_int":"7"},{"timeUnixNano":"2000000","asDouble":"NaN"}]}}]}]}]}"#;
        let m = decode_metrics(body).unwrap();
        let Some(metric::Data::Sum(s)) = &m.resource_metrics[0].scope_metrics[0].metrics[0].data else { panic!() };
        assert_eq!(s.aggregation_temporality, 2);
        assert_eq!(s.data_points[0].value, Some(number_data_point::Value::AsInt(7)));
        assert_eq!(s.data_points[1].time_unix_nano, 2_000_000);
    }

    #[test]
    fn errors_name_the_field() {
        let e = decode_metrics(br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","gauge":{"dataPoints":[{"timeUnixNano":"soon"}]}}]}]}]}"#)
            .unwrap_err();
        assert!(e.to_string().contains("timeUnixNano"), "{e}");
        assert!(decode_metrics(b"[1]").is_err());
        assert!(decode_metrics(b"{").is_err());
        assert!(decode_traces(br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz"}]}]}]}"#).is_err());
    }
}
