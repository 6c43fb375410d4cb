//! Anthropic Messages (`{custom_id, params}`), and the same body as Bedrock's Claude model
//! input (`{recordId, modelInput}`: no `model`, `"anthropic_version": "bedrock-2023-05-31"`;
//! docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages.html;
//! Bedrock fails image URLs, so only base64 images go there). Sources: anthropic-sdk-python
//! `types/message_create_params.py`, `cache_control_ephemeral_param.py`.

use serde_json::{json, Map, Value};

use super::{is_default, put, str_of, Chat, Out, Part, Role, Tool};
use crate::Shape;

/// The `anthropic_version` Bedrock's Claude bodies carry.
const BEDROCK_VERSION: &str = "bedrock-2023-05-31";

/// A block's `cache_control`, as a breakpoint after it.
fn cache_of(b: &Value) -> Option<Part> {
    b.get("cache_control")
        .map(|cc| Part::Cache(cc.get("ttl").and_then(Value::as_str).map(str::to_string)))
}

/// `system`: a string or text blocks.
fn system(v: &mut Value, c: &mut Chat) {
    match v {
        Value::String(s) => c.system.push(Part::Text(std::mem::take(s))),
        Value::Array(a) => {
            for b in a {
                if let Some(Value::String(t)) = b.get_mut("text").map(std::mem::take) {
                    c.system.push(Part::Text(t));
                }
                if let Some(cache) = cache_of(b) {
                    c.system.push(cache);
                }
            }
        }
        _ => {}
    }
}

fn block(b: &mut Value) -> Option<Part> {
    Some(match b.get("type").and_then(Value::as_str)? {
        "text" => Part::Text(match b.get_mut("text").map(std::mem::take) {
            Some(Value::String(t)) => t,
            _ => String::new(),
        }),
        "image" => {
            let src = b.get("source")?;
            match src.get("type").and_then(Value::as_str)? {
                "url" => Part::ImageUrl(src.get("url")?.as_str()?.to_string()),
                "base64" => Part::ImageData(
                    src.get("media_type")?.as_str()?.to_string(),
                    src.get("data")?.as_str()?.to_string(),
                ),
                _ => return None,
            }
        }
        "tool_use" => Part::ToolCall {
            id: str_of(b, "id"),
            name: str_of(b, "name"),
            input: b.get("input").cloned().unwrap_or_else(|| json!({})),
        },
        "tool_result" => Part::ToolResult {
            id: str_of(b, "tool_use_id"),
            content: match b.get("content") {
                Some(Value::String(t)) => t.clone(),
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(|x| x.get("text").and_then(Value::as_str))
                    .collect(),
                _ => String::new(),
            },
            is_error: b.get("is_error").and_then(Value::as_bool) == Some(true),
        },
        _ => return None,
    })
}

/// Reads `params` (Anthropic) or `modelInput` (Bedrock Claude).
pub(crate) fn read(line: &mut Value, out: &mut Out<'_, '_>) -> Chat {
    let mut c = Chat::default();
    let root = out.pointer("");
    let key = if line.get("params").is_some() {
        "params"
    } else {
        "modelInput"
    };
    let Some(params) = line.get_mut(key).and_then(Value::as_object_mut) else {
        out.problem(root.trim_end_matches('/').into(), "not an object");
        return c;
    };
    for (k, v) in params {
        let at = format!("{root}{k}");
        match k.as_str() {
            "model" => c.model = v.as_str().map(str::to_string),
            "anthropic_version" if key == "modelInput" => {}
            "system" => system(v, &mut c),
            "messages" => {
                for (i, m) in v.as_array_mut().into_iter().flatten().enumerate() {
                    let role = match m.get("role").and_then(Value::as_str) {
                        Some("assistant") => Role::Assistant,
                        _ => Role::User,
                    };
                    let mut parts = Vec::new();
                    match m.get_mut("content") {
                        Some(Value::String(s)) => parts.push(Part::Text(std::mem::take(s))),
                        Some(Value::Array(blocks)) => {
                            for (j, b) in blocks.iter_mut().enumerate() {
                                let cache = cache_of(b);
                                match block(b) {
                                    Some(part) => parts.push(part),
                                    None => out.problem(
                                        format!("{root}messages/{i}/content/{j}"),
                                        format!(
                                            "content block {:?} does not convert",
                                            b.get("type").and_then(Value::as_str).unwrap_or("")
                                        ),
                                    ),
                                }
                                parts.extend(cache);
                            }
                        }
                        _ => {}
                    }
                    c.turns.push(super::Turn { role, parts, at: i });
                }
            }
            "tools" => {
                for (i, t) in v.as_array().into_iter().flatten().enumerate() {
                    if t.get("type")
                        .and_then(Value::as_str)
                        .is_some_and(|t| t != "custom")
                    {
                        out.no_equivalent(
                            format!("{at}/{i}"),
                            "tools",
                            "only custom (function) tools convert",
                        );
                        continue;
                    }
                    c.tools.push(Tool {
                        cache: t
                            .get("cache_control")
                            .map(|cc| cc.get("ttl").and_then(Value::as_str).map(str::to_string)),
                        ..Tool::read(t, t.get("input_schema"))
                    });
                }
            }
            "tool_choice" => {
                c.tool_choice = match v.get("type").and_then(Value::as_str) {
                    Some("tool") => v
                        .get("name")
                        .and_then(Value::as_str)
                        .map(|n| format!("tool:{n}")),
                    Some(t) => Some(t.to_string()),
                    None => None,
                };
                if let Some(d) = v.get("disable_parallel_tool_use").and_then(Value::as_bool) {
                    c.parallel_tools = Some(!d);
                }
            }
            "temperature" => c.temperature = Some(v.clone()),
            "top_p" => c.top_p = Some(v.clone()),
            "top_k" => c.top_k = Some(v.clone()),
            "stop_sequences" => c.stop = v.as_array().cloned().unwrap_or_default(),
            "max_tokens" => c.max_tokens = v.as_u64(),
            "metadata" => c.user = v.get("user_id").cloned(),
            "output_config" | "output_format" => {
                let f = if k == "output_config" {
                    v.get("format")
                } else {
                    Some(&*v)
                };
                if let Some(f) =
                    f.filter(|f| f.get("type").and_then(Value::as_str) == Some("json_schema"))
                {
                    c.json = Some(f.get("schema").cloned());
                }
            }
            _ if is_default(k, v) => {}
            _ => out.unknown_key(at, k),
        }
    }
    c
}

/// Adds `cache_control` to the last block of `blocks`.
fn mark(blocks: &mut [Value], ttl: Option<String>) {
    if let Some(Value::Object(b)) = blocks.last_mut() {
        let mut cc = Map::new();
        cc.insert("type".into(), json!("ephemeral"));
        if let Some(t) = ttl {
            cc.insert("ttl".into(), json!(t));
        }
        b.insert("cache_control".into(), Value::Object(cc));
    }
}

/// Writes `{custom_id, params}` (Anthropic) or `{recordId, modelInput}` (Bedrock Claude).
pub(crate) fn write(mut c: Chat, id: &Value, out: &mut Out<'_, '_>) -> Value {
    let bedrock = out.target().shape == Shape::BedrockClaude;
    let mut params = Map::new();
    let model = c.model_for(out.cx);
    if bedrock {
        params.insert("anthropic_version".into(), json!(BEDROCK_VERSION));
    } else {
        match &model {
            Some(m) => {
                params.insert("model".into(), json!(m));
            }
            None => out.problem(
                String::new(),
                "no model: Anthropic lines name one (give --model)",
            ),
        }
    }
    if let Some(n) = c.cap_or_default(model.as_deref().unwrap_or(""), true, out) {
        params.insert("max_tokens".into(), json!(n));
    }
    let plain_system = c.system.iter().all(|p| matches!(p, Part::Text(_)));
    if plain_system && !c.system.is_empty() {
        params.insert(
            "system".into(),
            Value::String(c.system_texts().join("\n\n")),
        );
    } else if !c.system.is_empty() {
        let mut blocks = Vec::new();
        for part in std::mem::take(&mut c.system) {
            match part {
                Part::Text(t) => blocks.push(obj! {"type" => "text", "text" => t}),
                Part::Cache(ttl) => mark(&mut blocks, ttl),
                _ => {}
            }
        }
        params.insert("system".into(), Value::Array(blocks));
    }
    let mut messages = Vec::new();
    for turn in std::mem::take(&mut c.turns) {
        let mut blocks: Vec<Value> = Vec::new();
        let mut cached = false;
        for part in turn.parts {
            blocks.push(match part {
                Part::Text(t) => obj! {"type" => "text", "text" => t},
                Part::ImageUrl(u) if bedrock => {
                    let _ = u;
                    let at = out.src.message(turn.at);
                    out.no_equivalent(at, "image_url", "Bedrock takes images as base64 only");
                    continue;
                }
                Part::ImageUrl(u) => {
                    obj! {"type" => "image", "source" => obj! {"type" => "url", "url" => u}}
                }
                Part::ImageData(mt, d) => {
                    obj! {"type" => "image", "source" => obj! {"type" => "base64", "media_type" => mt, "data" => d}}
                }
                Part::ToolCall { id, name, input } => {
                    obj! {"type" => "tool_use", "id" => id, "name" => name, "input" => input}
                }
                Part::ToolResult {
                    id,
                    content,
                    is_error,
                } => {
                    let mut b = obj! {"type" => "tool_result", "tool_use_id" => id, "content" => content};
                    if is_error {
                        b["is_error"] = json!(true);
                    }
                    b
                }
                Part::Cache(ttl) => {
                    mark(&mut blocks, ttl);
                    cached = true;
                    continue;
                }
            });
        }
        if blocks.is_empty() {
            continue;
        }
        let role = if turn.role == Role::User {
            "user"
        } else {
            "assistant"
        };
        let content = match blocks.as_mut_slice() {
            [b] if !cached && b["type"] == "text" => b["text"].take(),
            _ => Value::Array(blocks),
        };
        messages.push(obj! {"role" => role, "content" => content});
    }
    params.insert("messages".into(), Value::Array(messages));
    if !c.tools.is_empty() {
        let tools = c
            .tools
            .iter()
            .map(|t| {
                let mut m = Map::new();
                m.insert("name".into(), json!(t.name));
                if let Some(d) = &t.description {
                    m.insert("description".into(), json!(d));
                }
                m.insert("input_schema".into(), t.schema.clone());
                if let Some(s) = t.strict {
                    m.insert("strict".into(), json!(s));
                }
                if let Some(ttl) = &t.cache {
                    let mut cc = json!({"type": "ephemeral"});
                    if let Some(ttl) = ttl {
                        cc["ttl"] = json!(ttl);
                    }
                    m.insert("cache_control".into(), cc);
                }
                Value::Object(m)
            })
            .collect();
        params.insert("tools".into(), Value::Array(tools));
    }
    let mut choice = c
        .tool_choice
        .as_ref()
        .map(|tc| match tc.strip_prefix("tool:") {
            Some(n) => json!({"type": "tool", "name": n}),
            None => json!({ "type": tc }),
        });
    if c.parallel_tools == Some(false) {
        let ch = choice.get_or_insert_with(|| json!({"type": "auto"}));
        ch["disable_parallel_tool_use"] = json!(true);
    }
    if let Some(ch) = choice {
        params.insert("tool_choice".into(), ch);
    }
    if let Some(t) = c.temperature_0_1(out) {
        params.insert("temperature".into(), t);
    }
    put(&mut params, "top_p", &c.top_p);
    put(&mut params, "top_k", &c.top_k);
    if !c.stop.is_empty() {
        params.insert("stop_sequences".into(), Value::Array(c.stop.clone()));
    }
    if let Some(u) = &c.user {
        if bedrock {
            out.unsupported("user");
        } else {
            params.insert("metadata".into(), json!({ "user_id": u }));
        }
    }
    c.refuse(&["seed", "n", "presence_penalty", "frequency_penalty"], out);
    match &c.json {
        Some(Some(schema)) => {
            params.insert(
                "output_config".into(),
                json!({"format": {"type": "json_schema", "schema": schema}}),
            );
        }
        Some(None) => out.no_equivalent(
            out.pointer("response_format"),
            "response_format",
            "json_object: Anthropic asks for a schema (give the request a json_schema)",
        ),
        None => {}
    }
    if bedrock {
        obj! {"recordId" => id.clone(), "modelInput" => params}
    } else {
        obj! {"custom_id" => id.clone(), "params" => params}
    }
}

/// Whether [`write_plain`] writes `c`: text turns and system texts, sampling that Anthropic
/// takes as it is, nothing else.
pub(crate) fn is_plain(c: &Chat) -> bool {
    c.is_plain_text()
        && c.seed.is_none()
        && c.n.is_none()
        && c.presence_penalty.is_none()
        && c.frequency_penalty.is_none()
        && c.temperature
            .as_ref()
            .is_none_or(|t| t.as_f64().is_some_and(|t| t <= 1.0))
}

/// Writes a plain request (see [`is_plain`]) as an Anthropic line straight into `buf`: the
/// bytes [`write`] and the JSON writer give (keys in the same order, strings escaped by the
/// same writer), without building the value. `false` (nothing written) when the line has a
/// finding.
pub(crate) fn write_plain(c: Chat, id: &Value, out: &mut Out<'_, '_>, buf: &mut Vec<u8>) -> bool {
    use super::write_json as val;
    use super::write_json as text;
    let model = c.model_for(out.cx);
    let Some(model) = model else {
        out.problem(
            String::new(),
            "no model: Anthropic lines name one (give --model)",
        );
        return false;
    };
    let Some(max) = c.cap_or_default(&model, true, out) else {
        return false;
    };
    // Keys in the order of a JSON object map (sorted), as [`write`]'s value prints.
    buf.extend_from_slice(b"{\"custom_id\":");
    val(buf, id);
    buf.extend_from_slice(b",\"params\":{\"max_tokens\":");
    buf.extend_from_slice(max.to_string().as_bytes());
    buf.extend_from_slice(b",\"messages\":[");
    let mut first = true;
    for turn in c.turns {
        if turn.parts.is_empty() {
            continue;
        }
        if !first {
            buf.push(b',');
        }
        first = false;
        buf.extend_from_slice(b"{\"content\":");
        match turn.parts.as_slice() {
            [Part::Text(t)] => text(buf, t),
            parts => {
                buf.push(b'[');
                for (i, p) in parts.iter().enumerate() {
                    if let Part::Text(t) = p {
                        if i > 0 {
                            buf.push(b',');
                        }
                        buf.extend_from_slice(b"{\"text\":");
                        text(buf, t);
                        buf.extend_from_slice(b",\"type\":\"text\"}");
                    }
                }
                buf.push(b']');
            }
        }
        buf.extend_from_slice(if turn.role == Role::User {
            b",\"role\":\"user\"}"
        } else {
            b",\"role\":\"assistant\"}"
        });
    }
    buf.extend_from_slice(b"],\"model\":");
    text(buf, &model);
    if !c.stop.is_empty() {
        buf.extend_from_slice(b",\"stop_sequences\":");
        val(buf, &Value::Array(c.stop));
    }
    if !c.system.is_empty() {
        buf.extend_from_slice(b",\"system\":");
        let texts: Vec<&str> = c
            .system
            .iter()
            .filter_map(|p| match p {
                Part::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        text(buf, &texts.join("\n\n"));
    }
    for (k, v) in [
        ("temperature", &c.temperature),
        ("top_k", &c.top_k),
        ("top_p", &c.top_p),
    ] {
        if let Some(v) = v {
            buf.extend_from_slice(b",\"");
            buf.extend_from_slice(k.as_bytes());
            buf.extend_from_slice(b"\":");
            val(buf, v);
        }
    }
    buf.extend_from_slice(b"}}\n");
    true
}
