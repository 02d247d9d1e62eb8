//! Checks JSON answers against the schemas of Prometheus' OpenAPI description
//! (`../shared/conformance/prometheus-http-api/openapi_3.1_golden.yaml`): types, required and
//! unexpected properties, enums, `anyOf`/`oneOf`, array bounds.

use serde_json::Value;

/// The parsed OpenAPI document.
pub struct OpenApi {
    doc: Value,
}

impl OpenApi {
    pub fn load() -> OpenApi {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/conformance/prometheus-http-api/openapi_3.1_golden.yaml");
        let text = std::fs::read_to_string(&path).expect("openapi golden file");
        let yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("openapi yaml");
        OpenApi { doc: serde_json::to_value(yaml).expect("yaml as json") }
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let mut cur = &self.doc;
                for part in r.trim_start_matches("#/").split('/') {
                    cur = &cur[part];
                }
                self.resolve(cur)
            }
            None => schema,
        }
    }

    /// Validates `v` against the component schema `name`; returns the problems found.
    pub fn check(&self, name: &str, v: &Value) -> Vec<String> {
        let schema = &self.doc["components"]["schemas"][name];
        assert!(!schema.is_null(), "no schema {name}");
        let mut errs = Vec::new();
        self.validate(schema, v, name, &mut errs);
        errs
    }

    fn validate(&self, schema: &Value, v: &Value, path: &str, errs: &mut Vec<String>) {
        let s = self.resolve(schema);
        for key in ["anyOf", "oneOf"] {
            if let Some(alts) = s.get(key).and_then(Value::as_array) {
                let ok = alts.iter().filter(|a| {
                    let mut e = Vec::new();
                    self.validate(a, v, path, &mut e);
                    e.is_empty()
                });
                let n = ok.count();
                if n == 0 || (key == "oneOf" && n > 1 && !alts.iter().all(|a| a.get("type").is_some())) {
                    errs.push(format!("{path}: matches none of the {key} alternatives: {v}"));
                }
                return;
            }
        }
        if let Some(e) = s.get("enum").and_then(Value::as_array)
            && !e.contains(v)
        {
            errs.push(format!("{path}: {v} not in {e:?}"));
        }
        let ty = s.get("type").and_then(Value::as_str);
        let type_ok = match ty {
            Some("object") => v.is_object(),
            Some("array") => v.is_array(),
            Some("string") => v.is_string(),
            Some("number") => v.is_number(),
            Some("integer") => v.is_i64() || v.is_u64(),
            Some("boolean") => v.is_boolean(),
            _ => true,
        };
        if !type_ok {
            errs.push(format!("{path}: expected {}, got {v}", ty.unwrap_or("?")));
            return;
        }
        if let Some(obj) = v.as_object() {
            let props = s.get("properties").and_then(Value::as_object);
            if let Some(req) = s.get("required").and_then(Value::as_array) {
                for r in req.iter().filter_map(Value::as_str) {
                    if !obj.contains_key(r) {
                        errs.push(format!("{path}: missing required property {r:?}"));
                    }
                }
            }
            for (k, val) in obj {
                match props.and_then(|p| p.get(k)) {
                    Some(ps) => self.validate(ps, val, &format!("{path}.{k}"), errs),
                    None => {
                        if s.get("additionalProperties") == Some(&Value::Bool(false)) {
                            errs.push(format!("{path}: unexpected property {k:?}"));
                        } else if let Some(ap) = s.get("additionalProperties").filter(|a| a.is_object()) {
                            self.validate(ap, val, &format!("{path}.{k}"), errs);
                        }
                    }
                }
            }
        }
        if let Some(arr) = v.as_array() {
            if let Some(min) = s.get("minItems").and_then(Value::as_u64)
                && (arr.len() as u64) < min
            {
                errs.push(format!("{path}: fewer than {min} items"));
            }
            if let Some(max) = s.get("maxItems").and_then(Value::as_u64)
                && (arr.len() as u64) > max
            {
                errs.push(format!("{path}: more than {max} items"));
            }
            if let Some(items) = s.get("items") {
                for (i, x) in arr.iter().enumerate() {
                    self.validate(items, x, &format!("{path}[{i}]"), errs);
                }
            }
        }
    }
}
