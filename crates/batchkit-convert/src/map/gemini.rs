//! Gemini API batch (`{key, request}`) and Vertex AI batch prediction (`{request}`, the id
//! echoed in `key`) lines of `generateContent` requests. Keys are read in either spelling the
//! API takes (`generationConfig` or `generation_config`) and written in camelCase. Sources:
//! python-genai `types.py` (`GenerateContentConfig`, `FunctionCall`, `FunctionResponse`,
//! `FunctionCallingConfig`), ai.google.dev/gemini-api/docs/batch-api,
//! cloud.google.com/vertex-ai/generative-ai/docs/multimodal/batch-prediction-gemini.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::{
    is_default, media_type_of, put, result_object, result_text, Chat, Out, Part, Role, Tool,
};

/// `snake_case` as `camelCase` (the API takes both).
pub(crate) fn camel(k: &str) -> std::borrow::Cow<'_, str> {
    if !k.contains('_') {
        return k.into();
    }
    let mut s = String::with_capacity(k.len());
    let mut up = false;
    for ch in k.chars() {
        if ch == '_' {
            up = true;
        } else if up {
            s.extend(ch.to_uppercase());
            up = false;
        } else {
            s.push(ch);
        }
    }
    s.into()
}

/// A field of `v` by its camelCase name, in either spelling.
pub(crate) fn get<'v>(v: &'v Value, camel_name: &str) -> Option<&'v Value> {
    let o = v.as_object()?;
    o.get(camel_name).or_else(|| {
        o.iter()
            .find(|(k, _)| camel(k) == camel_name)
            .map(|(_, v)| v)
    })
}

/// Reads `request`.
pub(crate) fn read(line: &mut Value, out: &mut Out<'_, '_>) -> Chat {
    let mut c = Chat::default();
    let Some(req) = line.get_mut("request").and_then(Value::as_object_mut) else {
        out.problem("/request".into(), "not an object");
        return c;
    };
    // Calls without ids get one, and the responses that answer them the same one (by name,
    // in order).
    let mut pending: HashMap<String, Vec<String>> = HashMap::new();
    let mut calls = 0usize;
    for (k, v) in req {
        let at = format!("/request/{k}");
        match camel(k).as_ref() {
            "model" => {
                c.model = v
                    .as_str()
                    .map(|m| m.strip_prefix("models/").unwrap_or(m).to_string())
            }
            "contents" => {
                for (i, content) in v.as_array_mut().into_iter().flatten().enumerate() {
                    let role = match content.get("role").and_then(Value::as_str) {
                        Some("model") => Role::Assistant,
                        _ => Role::User,
                    };
                    let mut parts = Vec::new();
                    let list = content.get_mut("parts").and_then(Value::as_array_mut);
                    for (j, part) in list.into_iter().flatten().enumerate() {
                        let pat = format!("{at}/{i}/parts/{j}");
                        match gemini_part(part, &mut pending, &mut calls) {
                            Ok(p) => parts.push(p),
                            Err(why) => out.problem(pat, why),
                        }
                    }
                    c.push(role, parts, i);
                }
            }
            "systemInstruction" => {
                for part in get(v, "parts")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(t) = part.get("text").and_then(Value::as_str) {
                        c.system.push(Part::Text(t.to_string()));
                    }
                }
            }
            "tools" => {
                for (i, t) in v.as_array().into_iter().flatten().enumerate() {
                    let Some(decls) = get(t, "functionDeclarations").and_then(Value::as_array)
                    else {
                        out.no_equivalent(
                            format!("{at}/{i}"),
                            "tools",
                            "only function declarations convert",
                        );
                        continue;
                    };
                    for d in decls {
                        let schema = match (get(d, "parametersJsonSchema"), get(d, "parameters")) {
                            (Some(s), _) => s.clone(),
                            (None, Some(s)) => crate::schema::openapi_to_json_schema(s),
                            (None, None) => json!({"type": "object"}),
                        };
                        c.tools.push(Tool {
                            schema,
                            strict: None,
                            ..Tool::read(d, None)
                        });
                    }
                }
            }
            "toolConfig" => {
                let Some(fc) = get(v, "functionCallingConfig") else {
                    continue;
                };
                let names: Vec<&str> = get(fc, "allowedFunctionNames")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let mode = get(fc, "mode").and_then(Value::as_str).unwrap_or("AUTO");
                c.tool_choice = match (mode, names.as_slice()) {
                    ("ANY", [one]) => Some(format!("tool:{one}")),
                    ("ANY", []) => Some("any".into()),
                    ("AUTO", []) => Some("auto".into()),
                    ("NONE", []) => Some("none".into()),
                    _ => {
                        out.no_equivalent(
                            at,
                            "toolConfig",
                            &format!("mode {mode} with {} allowed names", names.len()),
                        );
                        None
                    }
                };
            }
            "generationConfig" => generation_config(v, &mut c, &at, out),
            _ if is_default(k, v) => {}
            _ => out.unknown_key(at, k),
        }
    }
    c
}

fn gemini_part(
    part: &mut Value,
    pending: &mut HashMap<String, Vec<String>>,
    calls: &mut usize,
) -> Result<Part, String> {
    if let Some(Value::String(t)) = part.get_mut("text").map(std::mem::take) {
        if part.get("thought").and_then(Value::as_bool) == Some(true) {
            return Err("thought parts do not convert".into());
        }
        return Ok(Part::Text(t));
    }
    if let Some(d) = get(part, "inlineData") {
        let mt = get(d, "mimeType").and_then(Value::as_str).unwrap_or("");
        if !mt.starts_with("image/") {
            return Err(format!("inline data of type {mt:?}: only images convert"));
        }
        let data = d.get("data").and_then(Value::as_str).unwrap_or("");
        return Ok(Part::ImageData(mt.to_string(), data.to_string()));
    }
    if let Some(d) = get(part, "fileData") {
        let uri = get(d, "fileUri").and_then(Value::as_str).unwrap_or("");
        let mt = get(d, "mimeType").and_then(Value::as_str).unwrap_or("");
        if !mt.starts_with("image/") || !(uri.starts_with("https://") || uri.starts_with("http://"))
        {
            return Err(format!(
                "file {uri:?} ({mt}): only images at http(s) URLs convert"
            ));
        }
        return Ok(Part::ImageUrl(uri.to_string()));
    }
    if let Some(f) = get(part, "functionCall") {
        let name = super::str_of(f, "name");
        let id = match f.get("id").and_then(Value::as_str) {
            Some(id) => id.to_string(),
            None => {
                *calls += 1;
                format!("call_{}", *calls)
            }
        };
        pending.entry(name.clone()).or_default().push(id.clone());
        return Ok(Part::ToolCall {
            id,
            name,
            input: f.get("args").cloned().unwrap_or_else(|| json!({})),
        });
    }
    if let Some(f) = get(part, "functionResponse") {
        let name = super::str_of(f, "name");
        let queue = pending.entry(name.clone()).or_default();
        let id = match f.get("id").and_then(Value::as_str) {
            Some(id) => {
                queue.retain(|x| x != id);
                id.to_string()
            }
            None if !queue.is_empty() => queue.remove(0),
            None => name,
        };
        return Ok(Part::ToolResult {
            id,
            content: result_text(f.get("response").unwrap_or(&Value::Null)),
            is_error: false,
        });
    }
    Err("a part that is not text, an image, a function call or a response".into())
}

/// `generationConfig` fields by the provider-free name (as OpenAI chat names them).
const FIELDS: [(&str, &str); 11] = [
    ("temperature", "temperature"),
    ("topP", "top_p"),
    ("topK", "top_k"),
    ("stopSequences", "stop"),
    ("maxOutputTokens", "max_tokens"),
    ("seed", "seed"),
    ("candidateCount", "n"),
    ("presencePenalty", "presence_penalty"),
    ("frequencyPenalty", "frequency_penalty"),
    ("responseMimeType", "response_format"),
    ("responseJsonSchema", "schema"),
];

fn generation_config(v: &Value, c: &mut Chat, at: &str, out: &mut Out<'_, '_>) {
    let Some(o) = v.as_object() else {
        return;
    };
    let mut mime = None;
    for (k, v) in o {
        let key = camel(k);
        if let Some(field) = FIELDS.iter().find(|(g, _)| *g == key).map(|(_, f)| *f) {
            if key != k.as_str() || !at.ends_with("generationConfig") {
                out.at.push((field, format!("{at}/{k}")));
            }
        }
        match key.as_ref() {
            "temperature" => c.temperature = Some(v.clone()),
            "topP" => c.top_p = Some(v.clone()),
            "topK" => c.top_k = Some(v.clone()),
            "stopSequences" => c.stop = v.as_array().cloned().unwrap_or_default(),
            "maxOutputTokens" => c.max_tokens = v.as_u64(),
            "seed" => c.seed = Some(v.clone()),
            "candidateCount" if !is_default("n", v) => c.n = Some(v.clone()),
            "presencePenalty" if !is_default(&key, v) => c.presence_penalty = Some(v.clone()),
            "frequencyPenalty" if !is_default(&key, v) => c.frequency_penalty = Some(v.clone()),
            "responseMimeType" => mime = v.as_str(),
            "responseJsonSchema" => c.json = Some(Some(v.clone())),
            "responseSchema" => {
                c.json = Some(Some(crate::schema::openapi_to_json_schema(v)));
                c.schema_openapi = true;
                out.at.push(("schema", format!("{at}/{k}")));
            }
            _ if is_default(&key, v) => {}
            _ => out.unknown_key(format!("{at}/{k}"), k),
        }
    }
    match mime {
        Some("application/json") if c.json.is_none() => c.json = Some(None),
        Some("application/json") | Some("text/plain") | None => {}
        Some(other) => out.no_equivalent(
            format!("{at}/responseMimeType"),
            "responseMimeType",
            &format!("{other:?} has no equivalent"),
        ),
    }
}

/// Writes `{key, request}` (Gemini; Vertex echoes `key`).
pub(crate) fn write(mut c: Chat, id: &Value, out: &mut Out<'_, '_>) -> Value {
    let mut req = Map::new();
    // The tool names of the calls, for the responses that answer them.
    let mut call_names = HashMap::new();
    let mut contents = Vec::new();
    for turn in std::mem::take(&mut c.turns) {
        let mut gparts = Vec::new();
        for part in turn.parts {
            gparts.push(match part {
                Part::Text(t) => obj! {"text" => t},
                Part::ImageData(mt, d) => obj! {"inlineData" => obj! {"mimeType" => mt, "data" => d}},
                Part::ImageUrl(u) => match media_type_of(&u) {
                    Some(mt) => obj! {"fileData" => obj! {"mimeType" => mt, "fileUri" => u}},
                    None => {
                        out.problem(
                            out.src.message(turn.at),
                            format!("image {u}: Gemini needs its media type, which the URL does not show"),
                        );
                        continue;
                    }
                },
                Part::ToolCall { id, name, input } => {
                    call_names.insert(id.clone(), name.clone());
                    obj! {"functionCall" => obj! {"id" => id, "name" => name, "args" => input}}
                }
                Part::ToolResult {
                    id,
                    content,
                    is_error,
                } => {
                    if is_error {
                        out.no_equivalent(
                            out.src.message(turn.at),
                            "is_error",
                            "a function response has no error flag on Gemini",
                        );
                    }
                    let name = call_names.get(&id).cloned().unwrap_or_default();
                    obj! {"functionResponse" => obj! {"id" => id, "name" => name, "response" => result_object(&content)}}
                }
                Part::Cache(_) => continue,
            });
        }
        if gparts.is_empty() {
            continue;
        }
        let role = if turn.role == Role::User {
            "user"
        } else {
            "model"
        };
        contents.push(obj! {"role" => role, "parts" => gparts});
    }
    req.insert("contents".into(), Value::Array(contents));
    let system = c.system_texts();
    if !system.is_empty() {
        let parts: Vec<Value> = system.iter().map(|t| obj! {"text" => *t}).collect();
        req.insert("systemInstruction".into(), json!({ "parts": parts }));
    }
    if !c.tools.is_empty() {
        let decls: Vec<Value> = c
            .tools
            .iter()
            .map(|t| {
                let mut f = Map::new();
                f.insert("name".into(), json!(t.name));
                if let Some(d) = &t.description {
                    f.insert("description".into(), json!(d));
                }
                f.insert("parametersJsonSchema".into(), t.schema.clone());
                Value::Object(f)
            })
            .collect();
        req.insert("tools".into(), json!([{ "functionDeclarations": decls }]));
    }
    if let Some(tc) = &c.tool_choice {
        let cfg = match tc.strip_prefix("tool:") {
            Some(n) => json!({"mode": "ANY", "allowedFunctionNames": [n]}),
            None => json!({"mode": tc.to_ascii_uppercase()}),
        };
        req.insert("toolConfig".into(), json!({ "functionCallingConfig": cfg }));
    }
    c.refuse(&["parallel_tool_calls", "user"], out);
    let mut gc = Map::new();
    put(&mut gc, "temperature", &c.temperature);
    put(&mut gc, "topP", &c.top_p);
    put(&mut gc, "topK", &c.top_k);
    if !c.stop.is_empty() {
        gc.insert("stopSequences".into(), Value::Array(c.stop.clone()));
    }
    if let Some(n) = c.max_tokens {
        gc.insert("maxOutputTokens".into(), json!(n));
    }
    put(&mut gc, "seed", &c.seed);
    put(&mut gc, "candidateCount", &c.n);
    put(&mut gc, "presencePenalty", &c.presence_penalty);
    put(&mut gc, "frequencyPenalty", &c.frequency_penalty);
    if let Some(schema) = &c.json {
        gc.insert("responseMimeType".into(), json!("application/json"));
        if let Some(s) = schema {
            if let Some((key, s)) = response_schema(s, c.schema_openapi, out) {
                gc.insert(key.into(), s);
            }
        }
    }
    if !gc.is_empty() {
        req.insert("generationConfig".into(), Value::Object(gc));
    }
    obj! {"key" => id.clone(), "request" => req}
}

/// Whether [`write_plain`] writes `c`: text turns and system texts, and only the sampling
/// fields `generationConfig` takes as they are.
pub(crate) fn is_plain(c: &Chat) -> bool {
    c.is_plain_text()
}

/// Writes a plain request (see [`is_plain`]) as a Gemini or Vertex line straight into `buf`:
/// the bytes [`write`] and the JSON writer give (keys in the same sorted order, strings
/// escaped by the same writer), without building the value.
pub(crate) fn write_plain(c: Chat, id: &Value, buf: &mut Vec<u8>) {
    use super::write_json as val;
    use super::write_json as text;
    fn text_parts<'a>(buf: &mut Vec<u8>, texts: impl Iterator<Item = &'a str>) {
        buf.extend_from_slice(b"{\"parts\":[");
        for (i, t) in texts.enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            buf.extend_from_slice(b"{\"text\":");
            text(buf, t);
            buf.push(b'}');
        }
        buf.push(b']');
    }
    buf.extend_from_slice(b"{\"key\":");
    val(buf, id);
    buf.extend_from_slice(b",\"request\":{\"contents\":[");
    let mut first = true;
    for turn in &c.turns {
        if turn.parts.is_empty() {
            continue;
        }
        if !first {
            buf.push(b',');
        }
        first = false;
        let texts = turn.parts.iter().filter_map(|p| match p {
            Part::Text(t) => Some(t.as_str()),
            _ => None,
        });
        text_parts(buf, texts);
        buf.extend_from_slice(if turn.role == Role::User {
            b",\"role\":\"user\"}"
        } else {
            b",\"role\":\"model\"}"
        });
    }
    buf.push(b']');
    // generationConfig's keys in sorted order, as a JSON object map prints them.
    let max = c.max_tokens.map(Value::from);
    let stop = (!c.stop.is_empty()).then(|| Value::Array(c.stop.clone()));
    let config = [
        ("candidateCount", &c.n),
        ("frequencyPenalty", &c.frequency_penalty),
        ("maxOutputTokens", &max),
        ("presencePenalty", &c.presence_penalty),
        ("seed", &c.seed),
        ("stopSequences", &stop),
        ("temperature", &c.temperature),
        ("topK", &c.top_k),
        ("topP", &c.top_p),
    ];
    let mut sep = b",\"generationConfig\":{".as_slice();
    for (k, v) in config {
        if let Some(v) = v {
            buf.extend_from_slice(sep);
            sep = b",";
            buf.push(b'"');
            buf.extend_from_slice(k.as_bytes());
            buf.extend_from_slice(b"\":");
            val(buf, v);
        }
    }
    if sep == b"," {
        buf.push(b'}');
    }
    let system = c.system_texts();
    if !system.is_empty() {
        buf.extend_from_slice(b",\"systemInstruction\":");
        text_parts(buf, system.into_iter());
        buf.push(b'}');
    }
    buf.extend_from_slice(b"}}\n");
}

/// A JSON Schema as Gemini takes it: `responseJsonSchema` when it uses only the keywords that
/// takes (and the source did not give the OpenAPI form), else `responseSchema` when the
/// OpenAPI subset can say it, else the keywords neither can say, as findings (`--lossy`: the
/// schema is dropped, the answer still asked for as JSON).
fn response_schema(
    s: &Value,
    openapi_first: bool,
    out: &mut Out<'_, '_>,
) -> Option<(&'static str, Value)> {
    use batchkit_providers::schema::{json_schema_to_openapi, response_json_schema_gaps};
    if openapi_first {
        if let Ok(o) = json_schema_to_openapi(s) {
            return Some(("responseSchema", o));
        }
    }
    let gaps = response_json_schema_gaps(s);
    if gaps.is_empty() {
        return Some(("responseJsonSchema", s.clone()));
    }
    if let Ok(o) = json_schema_to_openapi(s) {
        return Some(("responseSchema", o));
    }
    let base = out.pointer("schema");
    if out.cx.lossy {
        out.c.dropped.push("schema".into());
    } else {
        for g in gaps {
            out.problem(
                format!("{base}{}", g.pointer),
                format!("schema: {}", g.message),
            );
        }
    }
    None
}
