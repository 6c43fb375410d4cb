//! Amazon Nova's InvokeModel body on Bedrock (`{recordId, modelInput}`, `schemaVersion`
//! `messages-v1`). Sources: docs.aws.amazon.com/nova/latest/userguide/
//! complete-request-schema.html and nova2-userguide/request-response-schema.html (`system`,
//! `messages` of `text`, `image`, `toolUse`, `toolResult` and `cachePoint` blocks,
//! `inferenceConfig`, `toolConfig`); botocore bedrock-runtime `ToolChoice` (auto, any, tool:
//! no "none"), `ImageFormat` (png, jpeg, gif, webp: bytes only, no URLs).

use serde_json::{json, Map, Value};

use super::{is_default, Chat, Out, Part, Role, Tool};

fn image_format(media_type: &str) -> Option<&'static str> {
    Some(match media_type {
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpeg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        _ => return None,
    })
}

fn block(b: &mut Value) -> Option<Part> {
    if let Some(Value::String(t)) = b.get_mut("text").map(std::mem::take) {
        return Some(Part::Text(t));
    }
    if let Some(cp) = b.get("cachePoint") {
        return Some(Part::Cache(
            cp.get("ttl").and_then(Value::as_str).map(str::to_string),
        ));
    }
    if let Some(img) = b.get("image") {
        let format = img.get("format")?.as_str()?;
        let bytes = img.get("source")?.get("bytes")?.as_str()?;
        let mt = match format {
            "jpeg" | "jpg" => "image/jpeg".to_string(),
            f => format!("image/{f}"),
        };
        return Some(Part::ImageData(mt, bytes.to_string()));
    }
    if let Some(u) = b.get("toolUse") {
        return Some(Part::ToolCall {
            id: super::str_of(u, "toolUseId"),
            name: super::str_of(u, "name"),
            input: u.get("input").cloned().unwrap_or_else(|| json!({})),
        });
    }
    if let Some(r) = b.get("toolResult") {
        let content = r
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| match (c.get("text"), c.get("json")) {
                (Some(Value::String(t)), _) => t.clone(),
                (_, Some(j)) => j.to_string(),
                _ => String::new(),
            })
            .collect();
        return Some(Part::ToolResult {
            id: super::str_of(r, "toolUseId"),
            content,
            is_error: r.get("status").and_then(Value::as_str) == Some("error"),
        });
    }
    None
}

/// Reads a Nova `modelInput`.
pub(crate) fn read(line: &mut Value, out: &mut Out<'_, '_>) -> Chat {
    let mut c = Chat::default();
    let Some(input) = line.get_mut("modelInput").and_then(Value::as_object_mut) else {
        out.problem("/modelInput".into(), "not an object");
        return c;
    };
    for (k, v) in input {
        let at = format!("/modelInput/{k}");
        match k.as_str() {
            "schemaVersion" => {}
            "system" => {
                for b in v.as_array_mut().into_iter().flatten() {
                    if let Some(p) = block(b) {
                        c.system.push(p);
                    }
                }
            }
            "messages" => {
                for (i, m) in v.as_array_mut().into_iter().flatten().enumerate() {
                    let role = match m.get("role").and_then(Value::as_str) {
                        Some("assistant") => Role::Assistant,
                        _ => Role::User,
                    };
                    let mut parts = Vec::new();
                    let blocks = m.get_mut("content").and_then(Value::as_array_mut);
                    for (j, b) in blocks.into_iter().flatten().enumerate() {
                        match block(b) {
                            Some(p) => parts.push(p),
                            None => out.problem(
                                format!("{at}/{i}/content/{j}"),
                                "a block that is not text, an image, a tool use or result, or a cache point",
                            ),
                        }
                    }
                    c.turns.push(super::Turn { role, parts, at: i });
                }
            }
            "inferenceConfig" => {
                for (ik, iv) in v.as_object().into_iter().flatten() {
                    match ik.as_str() {
                        "maxTokens" | "max_new_tokens" => c.max_tokens = iv.as_u64(),
                        "temperature" => c.temperature = Some(iv.clone()),
                        "topP" | "top_p" => c.top_p = Some(iv.clone()),
                        "topK" | "top_k" => c.top_k = Some(iv.clone()),
                        "stopSequences" => c.stop = iv.as_array().cloned().unwrap_or_default(),
                        _ => out.unknown_key(format!("{at}/{ik}"), ik),
                    }
                }
            }
            "toolConfig" => {
                for t in v
                    .get("tools")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(spec) = t.get("toolSpec") {
                        c.tools.push(Tool {
                            strict: None,
                            ..Tool::read(spec, spec.pointer("/inputSchema/json"))
                        });
                    } else if t.get("cachePoint").is_some() {
                        if let Some(last) = c.tools.last_mut() {
                            last.cache = Some(None);
                        }
                    }
                }
                if let Some(tc) = v.get("toolChoice") {
                    c.tool_choice = if tc.get("any").is_some() {
                        Some("any".into())
                    } else if let Some(t) = tc.get("tool") {
                        Some(format!("tool:{}", super::str_of(t, "name")))
                    } else {
                        Some("auto".into())
                    };
                }
            }
            _ if is_default(k, v) => {}
            _ => out.unknown_key(at, k),
        }
    }
    c
}

/// Writes a Nova `{recordId, modelInput}` line.
pub(crate) fn write(mut c: Chat, id: &Value, out: &mut Out<'_, '_>) -> Value {
    let mut input = Map::new();
    input.insert("schemaVersion".into(), json!("messages-v1"));
    let cache_block = |ttl: Option<String>| {
        let mut cp = json!({"type": "default"});
        if let Some(t) = ttl {
            cp["ttl"] = json!(t);
        }
        json!({ "cachePoint": cp })
    };
    if !c.system.is_empty() {
        let system: Vec<Value> = std::mem::take(&mut c.system)
            .into_iter()
            .filter_map(|p| match p {
                Part::Text(t) => Some(obj! {"text" => t}),
                Part::Cache(ttl) => Some(cache_block(ttl)),
                _ => None,
            })
            .collect();
        input.insert("system".into(), Value::Array(system));
    }
    let mut messages = Vec::new();
    for turn in std::mem::take(&mut c.turns) {
        let mut blocks = Vec::new();
        for part in turn.parts {
            blocks.push(match part {
                Part::Text(t) => obj! {"text" => t},
                Part::ImageUrl(_) => {
                    out.no_equivalent(
                        out.src.message(turn.at),
                        "image_url",
                        "Nova takes images as base64 only",
                    );
                    continue;
                }
                Part::ImageData(mt, d) => match image_format(&mt) {
                    Some(f) => {
                        obj! {"image" => obj! {"format" => f, "source" => obj! {"bytes" => d}}}
                    }
                    None => {
                        out.no_equivalent(
                            out.src.message(turn.at),
                            "image",
                            &format!("{mt}: Nova takes png, jpeg, gif and webp"),
                        );
                        continue;
                    }
                },
                Part::ToolCall { id, name, input } => {
                    obj! {"toolUse" => obj! {"toolUseId" => id, "name" => name, "input" => input}}
                }
                Part::ToolResult {
                    id,
                    content,
                    is_error,
                } => {
                    let mut r =
                        obj! {"toolUseId" => id, "content" => vec![obj! {"text" => content}]};
                    if is_error {
                        r["status"] = json!("error");
                    }
                    json!({ "toolResult": r })
                }
                Part::Cache(ttl) => cache_block(ttl),
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
        messages.push(obj! {"role" => role, "content" => blocks});
    }
    input.insert("messages".into(), Value::Array(messages));
    let mut ic = Map::new();
    if let Some(n) = c.max_tokens {
        ic.insert("maxTokens".into(), json!(n));
    }
    if let Some(t) = c.temperature_0_1(out) {
        ic.insert("temperature".into(), t);
    }
    super::put(&mut ic, "topP", &c.top_p);
    super::put(&mut ic, "topK", &c.top_k);
    if !c.stop.is_empty() {
        ic.insert("stopSequences".into(), Value::Array(c.stop.clone()));
    }
    if !ic.is_empty() {
        input.insert("inferenceConfig".into(), Value::Object(ic));
    }
    if !c.tools.is_empty() {
        let mut tools = Vec::new();
        for t in &c.tools {
            let mut spec = Map::new();
            spec.insert("name".into(), json!(t.name));
            if let Some(d) = &t.description {
                spec.insert("description".into(), json!(d));
            }
            spec.insert("inputSchema".into(), json!({ "json": t.schema }));
            tools.push(json!({ "toolSpec": spec }));
            if let Some(ttl) = &t.cache {
                tools.push(cache_block(ttl.clone()));
            }
        }
        let mut cfg = Map::new();
        cfg.insert("tools".into(), Value::Array(tools));
        match c.tool_choice.as_deref() {
            Some("none") => out.no_equivalent(
                out.pointer("tool_choice"),
                "tool_choice",
                "none: Nova has no such choice (drop the tools instead)",
            ),
            Some("any") => {
                cfg.insert("toolChoice".into(), json!({"any": {}}));
            }
            Some("auto") => {
                cfg.insert("toolChoice".into(), json!({"auto": {}}));
            }
            Some(tc) => {
                let name = tc.strip_prefix("tool:").unwrap_or(tc);
                cfg.insert("toolChoice".into(), json!({"tool": {"name": name}}));
            }
            None => {}
        }
        input.insert("toolConfig".into(), Value::Object(cfg));
    }
    c.refuse(
        &[
            "seed",
            "n",
            "presence_penalty",
            "frequency_penalty",
            "user",
            "parallel_tool_calls",
            "response_format",
        ],
        out,
    );
    obj! {"recordId" => id.clone(), "modelInput" => input}
}
