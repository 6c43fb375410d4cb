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

/// Something a JSON Schema says that a Gemini schema form cannot: where (a JSON pointer
/// inside the schema) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaGap {
    /// JSON pointer inside the schema.
    pub pointer: String,
    /// Why.
    pub message: String,
}

/// The keywords Gemini's `responseJsonSchema` accepts (ai.google.dev/api/generate-content
/// `GenerationConfig.response_json_schema`; python-genai `types.py`); `oneOf` is read as
/// `anyOf`. Annotations that say nothing about validity pass too.
const JSON_SCHEMA_KEYWORDS: &[&str] = &[
    "$id",
    "$defs",
    "$ref",
    "$anchor",
    "type",
    "format",
    "title",
    "description",
    "enum",
    "items",
    "prefixItems",
    "minItems",
    "maxItems",
    "minimum",
    "maximum",
    "anyOf",
    "oneOf",
    "properties",
    "additionalProperties",
    "required",
    "$schema",
    "$comment",
    "examples",
    "default",
    "propertyOrdering",
];

fn escape(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

/// The keywords of `schema` that Gemini's `responseJsonSchema` does not take, as gaps.
pub fn response_json_schema_gaps(schema: &Value) -> Vec<SchemaGap> {
    let mut gaps = Vec::new();
    json_schema_walk(schema, "", &mut gaps);
    gaps
}

fn json_schema_walk(s: &Value, at: &str, gaps: &mut Vec<SchemaGap>) {
    let Value::Object(o) = s else {
        return;
    };
    for (k, v) in o {
        let here = format!("{at}/{}", escape(k));
        if !JSON_SCHEMA_KEYWORDS.contains(&k.as_str()) {
            gaps.push(SchemaGap {
                pointer: here,
                message: format!("{k}: Gemini's responseJsonSchema does not take it"),
            });
            continue;
        }
        match (k.as_str(), v) {
            ("properties" | "$defs", Value::Object(m)) => {
                for (name, p) in m {
                    json_schema_walk(p, &format!("{here}/{}", escape(name)), gaps);
                }
            }
            ("anyOf" | "oneOf" | "prefixItems", Value::Array(a)) => {
                for (i, p) in a.iter().enumerate() {
                    json_schema_walk(p, &format!("{here}/{i}"), gaps);
                }
            }
            ("items" | "additionalProperties", Value::Object(_)) => {
                json_schema_walk(v, &here, gaps)
            }
            _ => {}
        }
    }
}

/// A JSON Schema as Gemini's `responseSchema` (the OpenAPI subset): the reverse of
/// [`openapi_to_json_schema`], or what the subset cannot say: `anyOf`/`oneOf`/`allOf`,
/// `additionalProperties`, `const`, `not`, a `$ref` outside `#/$defs` or in a cycle, enums of
/// non-strings, a type list other than one type and `null`, and keywords the subset does not
/// have.
pub fn json_schema_to_openapi(schema: &Value) -> Result<Value, Vec<SchemaGap>> {
    let mut gaps = Vec::new();
    let defs = schema.get("$defs").and_then(Value::as_object);
    if let Some(defs) = defs {
        for name in defs.keys() {
            if ref_cycle(defs, name, &mut Vec::new()) {
                gaps.push(SchemaGap {
                    pointer: format!("/$defs/{}", escape(name)),
                    message:
                        "$ref: a definition that refers to itself (responseSchema has no cycles)"
                            .into(),
                });
            }
        }
    }
    let out = to_openapi(schema, "", true, &mut gaps);
    gaps.sort_by(|a, b| a.pointer.cmp(&b.pointer));
    if gaps.is_empty() {
        Ok(out)
    } else {
        Err(gaps)
    }
}

fn ref_target(r: &str) -> Option<&str> {
    r.strip_prefix("#/$defs/")
}

fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            if let Some(t) = o.get("$ref").and_then(Value::as_str).and_then(ref_target) {
                out.push(t.to_string());
            }
            o.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

fn ref_cycle(defs: &Map<String, Value>, name: &str, path: &mut Vec<String>) -> bool {
    if path.iter().any(|p| p == name) {
        return true;
    }
    let Some(d) = defs.get(name) else {
        return false;
    };
    let mut next = Vec::new();
    refs(d, &mut next);
    path.push(name.to_string());
    let cyc = next.iter().any(|n| ref_cycle(defs, n, path));
    path.pop();
    cyc
}

fn to_openapi(s: &Value, at: &str, root: bool, gaps: &mut Vec<SchemaGap>) -> Value {
    let Value::Object(o) = s else {
        return s.clone();
    };
    let mut out = Map::new();
    let mut mine = Vec::new();
    let mut gap = |k: &str, why: &str| {
        mine.push(SchemaGap {
            pointer: format!("{at}/{}", escape(k)),
            message: format!("{k}: {why}"),
        })
    };
    let mut nullable = false;
    for (k, v) in o {
        match k.as_str() {
            "type" => {
                let types: Vec<&str> = match v {
                    Value::String(t) => vec![t.as_str()],
                    Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                    _ => Vec::new(),
                };
                let (null, rest): (Vec<&str>, Vec<&str>) =
                    types.iter().partition(|t| **t == "null");
                nullable = !null.is_empty() && !rest.is_empty();
                match rest.as_slice() {
                    [t] => {
                        out.insert("type".into(), Value::String(t.to_ascii_uppercase()));
                    }
                    [] if !null.is_empty() => {
                        out.insert("type".into(), Value::String("NULL".into()));
                    }
                    _ => gap(k, "several types: responseSchema takes one (and null)"),
                }
            }
            "properties" | "$defs" => {
                if !root && k == "$defs" {
                    gap(
                        k,
                        "definitions below the root: responseSchema takes them at the root only",
                    );
                    continue;
                }
                if let Value::Object(props) = v {
                    let m = props
                        .iter()
                        .map(|(name, p)| {
                            let here = format!("{at}/{}/{}", escape(k), escape(name));
                            (name.clone(), to_openapi(p, &here, false, gaps))
                        })
                        .collect();
                    let key = if k == "$defs" { "defs" } else { "properties" };
                    out.insert(key.into(), Value::Object(m));
                }
            }
            "items" => {
                let here = format!("{at}/items");
                out.insert(k.clone(), to_openapi(v, &here, false, gaps));
            }
            "$ref" => match v.as_str().and_then(ref_target) {
                Some(name) => {
                    out.insert("ref".into(), Value::String(format!("#/defs/{name}")));
                }
                None => gap(
                    k,
                    "a reference outside #/$defs: responseSchema cannot follow it",
                ),
            },
            "enum" => {
                let a = v.as_array().cloned().unwrap_or_default();
                if a.iter().all(|x| x.is_string() || x.is_null()) {
                    if a.iter().any(Value::is_null) {
                        nullable = true;
                    }
                    let strings: Vec<Value> = a.into_iter().filter(|x| x.is_string()).collect();
                    out.insert(k.clone(), Value::Array(strings));
                } else {
                    gap(
                        k,
                        "values that are not strings: responseSchema enums are strings",
                    );
                }
            }
            "required" | "description" | "title" | "format" | "minimum" | "maximum"
            | "minItems" | "maxItems" | "minLength" | "maxLength" | "minProperties"
            | "maxProperties" | "pattern" | "default" | "example" | "propertyOrdering" => {
                out.insert(k.clone(), v.clone());
            }
            "$schema" | "$comment" | "$id" => {}
            "additionalProperties" => gap(k, "responseSchema has no additionalProperties"),
            "anyOf" | "oneOf" | "allOf" => gap(
                k,
                "responseSchema (the OpenAPI subset) has no schema combinations",
            ),
            _ => gap(k, "responseSchema (the OpenAPI subset) has no such keyword"),
        }
    }
    gaps.extend(mine);
    if nullable {
        out.insert("nullable".into(), Value::Bool(true));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_schema_and_the_openapi_subset_map_both_ways() {
        let js = json!({"type": "object", "properties": {
            "name": {"type": "string", "description": "who"},
            "age": {"type": ["integer", "null"], "minimum": 0},
            "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}, "maxItems": 3},
            "pet": {"$ref": "#/$defs/pet"}},
            "required": ["name"],
            "$defs": {"pet": {"type": "object", "properties": {"kind": {"type": "string"}}}}});
        let oa = json_schema_to_openapi(&js).unwrap();
        assert_eq!(oa["type"], "OBJECT");
        assert_eq!(
            oa["properties"]["age"],
            json!({"type": "INTEGER", "nullable": true, "minimum": 0})
        );
        assert_eq!(oa["properties"]["pet"], json!({"ref": "#/defs/pet"}));
        assert_eq!(openapi_to_json_schema(&oa), js);
    }

    #[test]
    fn what_the_subset_cannot_say_is_named_by_pointer() {
        let js = json!({"type": "object", "additionalProperties": false, "properties": {
            "x": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "n": {"enum": [1, 2]},
            "c": {"const": "k"},
            "t": {"$ref": "#/$defs/tree"}},
            "$defs": {"tree": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/tree"}}}}}});
        let gaps: Vec<String> = json_schema_to_openapi(&js)
            .unwrap_err()
            .into_iter()
            .map(|g| g.pointer)
            .collect();
        assert_eq!(
            gaps,
            [
                "/$defs/tree",
                "/additionalProperties",
                "/properties/c/const",
                "/properties/n/enum",
                "/properties/x/anyOf"
            ]
        );
        // responseJsonSchema takes anyOf, additionalProperties and cycles, not const or pattern.
        let gaps: Vec<String> = response_json_schema_gaps(&json!({"type": "object", "properties": {
            "c": {"const": "k"}, "s": {"type": "string", "pattern": "^a"}}, "additionalProperties": false}))
            .into_iter()
            .map(|g| g.pointer)
            .collect();
        assert_eq!(gaps, ["/properties/c/const", "/properties/s/pattern"]);
    }
}
