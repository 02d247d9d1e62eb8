//! OTLP logs → Loki streams, the way Loki 3's native OTLP ingestion maps them: a fixed list
//! of resource attributes become stream labels (dots → underscores), everything else —
//! other resource attributes, scope and log attributes, trace and span ids, severity — goes
//! to structured metadata; the body is the line.

use crate::otlp_metrics::{any_value_string, label_name};
use crate::proto::otlp::common::{KeyValue, any_value};
use crate::proto::otlp::logs::ExportLogsServiceRequest;
use seer_model::{Label, Labels, LogEntry, LogStream};
use std::collections::BTreeMap;

/// Resource attributes that become stream labels (Loki's
/// `default_resource_attributes_as_index_labels`).
pub const INDEX_LABELS: &[&str] = &[
    "service.name",
    "service.namespace",
    "service.instance.id",
    "deployment.environment",
    "deployment.environment.name",
    "cloud.region",
    "cloud.availability_zone",
    "k8s.cluster.name",
    "k8s.namespace.name",
    "k8s.pod.name",
    "k8s.container.name",
    "container.name",
    "k8s.replicaset.name",
    "k8s.deployment.name",
    "k8s.statefulset.name",
    "k8s.daemonset.name",
    "k8s.cronjob.name",
    "k8s.job.name",
];

/// Flattens attributes: nested maps join their keys with `_`; names are normalised like
/// Prometheus label names; values are stringified like pdata's `AsString`.
fn flatten(prefix: &str, kvs: &[KeyValue], out: &mut Vec<Label>) {
    for kv in kvs {
        let key = if prefix.is_empty() { kv.key.clone() } else { format!("{prefix}_{}", kv.key) };
        if let Some(any_value::Value::KvlistValue(m)) = kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            flatten(&key, &m.values, out);
            continue;
        }
        let Ok(name) = label_name(&key) else { continue };
        out.push(Label { name, value: any_value_string(kv.value.as_ref()) });
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Translates a request into streams; `now_ns` stamps records without any time.
pub fn translate(req: &ExportLogsServiceRequest, now_ns: i64) -> Vec<LogStream> {
    let mut by_labels: BTreeMap<Labels, Vec<LogEntry>> = BTreeMap::new();
    for rl in &req.resource_logs {
        let attrs = rl.resource.as_ref().map(|r| r.attributes.as_slice()).unwrap_or(&[]);
        let mut index = Vec::new();
        let mut rest = Vec::new();
        for kv in attrs {
            let target = if INDEX_LABELS.contains(&kv.key.as_str()) { &mut index } else { &mut rest };
            flatten("", std::slice::from_ref(kv), target);
        }
        let labels = Labels::from_pairs(index.into_iter().map(|l| (l.name, l.value)));
        for sl in &rl.scope_logs {
            let mut scope_meta = Vec::new();
            if let Some(sc) = &sl.scope {
                flatten("", &sc.attributes, &mut scope_meta);
                if !sc.name.is_empty() {
                    scope_meta.push(Label::new("scope_name", sc.name.clone()));
                }
                if !sc.version.is_empty() {
                    scope_meta.push(Label::new("scope_version", sc.version.clone()));
                }
                if sc.dropped_attributes_count != 0 {
                    scope_meta
                        .push(Label::new("scope_dropped_attributes_count", sc.dropped_attributes_count.to_string()));
                }
            }
            for r in &sl.log_records {
                let ts = if r.time_unix_nano != 0 {
                    r.time_unix_nano as i64
                } else if r.observed_time_unix_nano != 0 {
                    r.observed_time_unix_nano as i64
                } else {
                    now_ns
                };
                let mut meta = Vec::new();
                flatten("", &r.attributes, &mut meta);
                if r.time_unix_nano != 0 && r.observed_time_unix_nano != 0 {
                    meta.push(Label::new("observed_timestamp", r.observed_time_unix_nano.to_string()));
                }
                if r.severity_number != 0 {
                    meta.push(Label::new("severity_number", r.severity_number.to_string()));
                }
                if !r.severity_text.is_empty() {
                    meta.push(Label::new("severity_text", r.severity_text.clone()));
                }
                if r.dropped_attributes_count != 0 {
                    meta.push(Label::new("dropped_attributes_count", r.dropped_attributes_count.to_string()));
                }
                if r.flags != 0 {
                    meta.push(Label::new("flags", r.flags.to_string()));
                }
                if r.trace_id.iter().any(|&b| b != 0) {
                    meta.push(Label::new("trace_id", hex(&r.trace_id)));
                }
                if r.span_id.iter().any(|&b| b != 0) {
                    meta.push(Label::new("span_id", hex(&r.span_id)));
                }
                meta.extend(rest.iter().cloned());
                meta.extend(scope_meta.iter().cloned());
                meta.retain(|l| !l.value.is_empty());
                let line = any_value_string(r.body.as_ref());
                by_labels.entry(labels.clone()).or_default().push(LogEntry { ts, line, metadata: meta });
            }
        }
    }
    by_labels.into_iter().map(|(labels, entries)| LogStream { labels, entries }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::otlp::common::{AnyValue, InstrumentationScope, KeyValueList};
    use crate::proto::otlp::logs::{LogRecord, ResourceLogs, ScopeLogs};
    use crate::proto::otlp::resource::Resource;

    fn kv(k: &str, v: any_value::Value) -> KeyValue {
        KeyValue { key: k.into(), value: Some(AnyValue { value: Some(v) }) }
    }

    #[test]
    fn maps_like_loki() {
        let s = |x: &str| any_value::Value::StringValue(x.into());
        let req = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", s("checkout")), kv("host.name", s("h1"))],
                    dropped_attributes_count: 0,
                }),
                scope_logs: vec![ScopeLogs {
                    scope: Some(InstrumentationScope { name: "lib".into(), ..Default::default() }),
                    log_records: vec![LogRecord {
                        time_unix_nano: 5,
                        severity_number: 9,
                        severity_text: "INFO".into(),
                        body: Some(AnyValue {
                            value: Some(any_value::Value::KvlistValue(KeyValueList {
                                values: vec![kv("b", any_value::Value::IntValue(2)), kv("a", s("x"))],
                            })),
                        }),
                        attributes: vec![
                            kv("http.method", s("GET")),
                            kv("nested", any_value::Value::KvlistValue(KeyValueList { values: vec![kv("k", s("v"))] })),
                        ],
                        trace_id: vec![0xab; 16],
                        span_id: vec![0xcd; 8],
                        ..Default::default()
                    }],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        };
        let out = translate(&req, 99);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].labels.to_string(), r#"{service_name="checkout"}"#);
        let e = &out[0].entries[0];
        assert_eq!(e.ts, 5);
        assert_eq!(e.line, r#"{"a":"x","b":2}"#);
        let m: Vec<(String, String)> = e.metadata.iter().map(|l| (l.name.clone(), l.value.clone())).collect();
        let get = |n: &str| m.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("http_method"), Some("GET"));
        assert_eq!(get("nested_k"), Some("v"));
        assert_eq!(get("trace_id"), Some("abababababababababababababababab"));
        assert_eq!(get("span_id"), Some("cdcdcdcdcdcdcdcd"));
        assert_eq!(get("severity_text"), Some("INFO"));
        assert_eq!(get("severity_number"), Some("9"));
        assert_eq!(get("host_name"), Some("h1"));
        assert_eq!(get("scope_name"), Some("lib"));
    }
}
