//! Structured-output schemas between JSON Schema and Gemini's `responseSchema`, an OpenAPI
//! 3.0 subset (python-genai `types.py` `Schema`: `type` in capitals, `nullable`, `format`,
//! `enum`, `properties`, `required`, `items`, `anyOf`, counts and bounds, `propertyOrdering`;
//! ai.google.dev/api/caching#Schema). Read by the answer checks of `join` and by `convert`.

use serde_json::{Map, Value};

/// Gemini's `responseSchema` (an OpenAPI 3.0 subset) as the JSON Schema it means:
/// - `type` is an enum in capitals (`STRING`, `NUMBER`, `INTEGER`, `BOOLEAN`, `ARRAY`,
///   `OBJECT`, `NULL`), matched without regard to case;
/// - `nullable: true` adds `null` to the type (and to an `enum`);
/// - counts may be strings (`"minItems": "1"`: int64 in the API's JSON);
/// - `ref` and `defs` (root only) stand for `$ref` and `$defs`, `#/defs/x` for `#/$defs/x`;
/// - `propertyOrdering`, `example` and `default` say nothing about validity and are dropped.
pub fn openapi_to_json_schema(s: &Value) -> Value {
    let Value::Object(o) = s else {
        return s.clone();
    };
    let mut out = Map::new();
    let nullable = o.get("nullable").and_then(Value::as_bool) == Some(true);
    for (k, v) in o {
        match k.as_str() {
            "type" => {
                let t = v.as_str().map(str::to_ascii_lowercase);
                match (t, nullable) {
                    (Some(t), true) if t != "null" => {
                        out.insert("type".into(), Value::from(vec![t, "null".to_string()]));
                    }
                    (Some(t), _) => {
                        out.insert("type".into(), Value::String(t));
                    }
                    (None, _) => {}
                }
            }
            "nullable" | "propertyOrdering" | "example" | "default" => {}
            "properties" | "defs" => {
                if let Value::Object(props) = v {
                    let m = props
                        .iter()
                        .map(|(name, p)| (name.clone(), openapi_to_json_schema(p)))
                        .collect();
                    let key = if k == "defs" { "$defs" } else { "properties" };
                    out.insert(key.into(), Value::Object(m));
                }
            }
            "items" => {
                out.insert(k.clone(), openapi_to_json_schema(v));
            }
            "anyOf" | "oneOf" | "allOf" => {
                if let Value::Array(a) = v {
                    out.insert(
                        k.clone(),
                        Value::Array(a.iter().map(openapi_to_json_schema).collect()),
                    );
                }
            }
            "ref" => {
                if let Some(r) = v.as_str() {
                    let r = match r.strip_prefix("#/defs/") {
                        Some(rest) => format!("#/$defs/{rest}"),
                        None => r.to_string(),
                    };
                    out.insert("$ref".into(), Value::String(r));
                }
            }
            "enum" if nullable => {
                let mut e = v.as_array().cloned().unwrap_or_default();
                e.push(Value::Null);
                out.insert(k.clone(), Value::Array(e));
            }
            "minItems" | "maxItems" | "minLength" | "maxLength" | "minProperties"
            | "maxProperties" => {
                let n = match v {
                    Value::String(s) => s.parse::<u64>().ok().map(Value::from),
                    other => Some(other.clone()),
                };
                if let Some(n) = n {
                    out.insert(k.clone(), n);
                }
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}
