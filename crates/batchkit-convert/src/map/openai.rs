//! OpenAI chat completions, and the hosts that take its lines (`{custom_id, method, url,
//! body}`) or its bodies (`{custom_id, body}`: Mistral, Together, OpenRouter, ...). Host
//! differences (openai-python `types/chat/completion_create_params.py`; Mistral's
//! `random_seed`, docs.mistral.ai/api; Together's `top_k`, docs.together.ai/reference/
//! chat-completions-1; OpenRouter's batch is text only, openrouter.ai/docs/batch-quickstart).

use serde_json::{json, Map, Value};

use super::{
    image_part, is_default, parse_args, put, read_openai_format, str_of, text_only,
    tool_choice_from_openai, tool_choice_openai, Chat, Out, Part, Role, Tool,
};
use crate::Shape;

/// Reads a chat completions body.
pub(crate) fn read(line: &mut Value, out: &mut Out<'_, '_>) -> Chat {
    let mut c = Chat::default();
    let Some(body) = super::body(line, out) else {
        return c;
    };
    for (k, v) in body {
        let at = format!("/body/{k}");
        match k.as_str() {
            "model" => c.model = v.as_str().map(str::to_string),
            "messages" => messages(&mut c, std::mem::take(v), out),
            "tools" => {
                for (i, t) in v.as_array().into_iter().flatten().enumerate() {
                    let f = t.get("function");
                    match (t.get("type").and_then(Value::as_str), f) {
                        (Some("function"), Some(f)) => {
                            c.tools.push(Tool::read(f, f.get("parameters")))
                        }
                        _ => out.no_equivalent(
                            format!("{at}/{i}"),
                            "tools",
                            "only function tools convert",
                        ),
                    }
                }
            }
            "tool_choice" => c.tool_choice = tool_choice_from_openai(v),
            "parallel_tool_calls" => c.parallel_tools = v.as_bool(),
            "temperature" => c.temperature = Some(v.clone()),
            "top_p" => c.top_p = Some(v.clone()),
            "top_k" => c.top_k = Some(v.clone()),
            "stop" => match v {
                Value::String(_) => c.stop = vec![v.clone()],
                Value::Array(a) => c.stop = a.clone(),
                _ => {}
            },
            "max_completion_tokens" | "max_tokens" => {
                if c.max_tokens.is_none() {
                    c.max_tokens = v.as_u64();
                }
            }
            "seed" | "random_seed" => c.seed = Some(v.clone()),
            "n" if !is_default(k, v) => c.n = Some(v.clone()),
            "presence_penalty" if !is_default(k, v) => c.presence_penalty = Some(v.clone()),
            "frequency_penalty" if !is_default(k, v) => c.frequency_penalty = Some(v.clone()),
            "user" => c.user = Some(v.clone()),
            "response_format" => read_openai_format(&mut c, v, false),
            _ if is_default(k, v) => {}
            _ => out.unknown_key(at, k),
        }
    }
    c
}

/// The text of an OpenAI message's content: a string, or its text parts.
fn texts(content: Option<&mut Value>) -> Vec<Part> {
    match content {
        Some(Value::String(s)) => vec![Part::Text(std::mem::take(s))],
        Some(Value::Array(a)) => {
            let mut parts = Vec::new();
            for p in a {
                if let Some(Value::String(t)) = p.get_mut("text").map(std::mem::take) {
                    parts.push(Part::Text(t));
                }
                if let Some(cache) = cache_mark(p) {
                    parts.push(cache);
                }
            }
            parts
        }
        _ => Vec::new(),
    }
}

/// A breakpoint on an OpenAI content part: Anthropic's `cache_control` (which OpenRouter
/// passes through), or OpenAI's `prompt_cache_breakpoint`.
fn cache_mark(part: &Value) -> Option<Part> {
    if let Some(cc) = part.get("cache_control") {
        return Some(Part::Cache(
            cc.get("ttl").and_then(Value::as_str).map(str::to_string),
        ));
    }
    part.get("prompt_cache_breakpoint")
        .map(|_| Part::Cache(None))
}

/// Reads `messages`, moving their texts (the bulk of a line) rather than copying them.
fn messages(c: &mut Chat, v: Value, out: &mut Out<'_, '_>) {
    let Value::Array(messages) = v else {
        return;
    };
    for (i, mut m) in messages.into_iter().enumerate() {
        let at = format!("/body/messages/{i}");
        let mut content = m.get_mut("content").map(std::mem::take);
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        match role {
            "system" | "developer" => {
                c.system.extend(texts(content.as_mut()));
                continue;
            }
            "tool" => {
                let id = str_of(&m, "tool_call_id");
                let content = texts(content.as_mut())
                    .into_iter()
                    .filter_map(|p| match p {
                        Part::Text(t) => Some(t),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
                    .join("");
                c.push(
                    Role::User,
                    vec![Part::ToolResult {
                        id,
                        content,
                        is_error: false,
                    }],
                    i,
                );
                continue;
            }
            "user" | "assistant" => {}
            other => {
                out.problem(
                    format!("{at}/role"),
                    format!("role {other:?} does not convert"),
                );
                continue;
            }
        }
        let role = if role == "user" {
            Role::User
        } else {
            Role::Assistant
        };
        let mut parts = Vec::new();
        match content.as_mut() {
            Some(Value::String(s)) => parts.push(Part::Text(std::mem::take(s))),
            Some(Value::Array(a)) => {
                for (j, part) in a.iter_mut().enumerate() {
                    let pat = format!("{at}/content/{j}");
                    match part.get("type").and_then(Value::as_str) {
                        Some("text") => {
                            parts.push(Part::Text(match part.get_mut("text").map(std::mem::take) {
                                Some(Value::String(t)) => t,
                                _ => String::new(),
                            }))
                        }
                        Some("image_url") => {
                            let url = part
                                .get("image_url")
                                .and_then(|u| u.get("url"))
                                .and_then(Value::as_str)
                                .unwrap_or("");
                            match image_part(url) {
                                Some(p) => parts.push(p),
                                None => out.problem(
                                    format!("{pat}/image_url/url"),
                                    "an image URL that is neither https nor a base64 data URL",
                                ),
                            }
                        }
                        other => out.problem(
                            format!("{pat}/type"),
                            format!("content part {:?} does not convert", other.unwrap_or("")),
                        ),
                    }
                    if let Some(cache) = cache_mark(part) {
                        parts.push(cache);
                    }
                }
            }
            _ => {}
        }
        for (j, call) in m
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let f = call.get("function");
            let args = f
                .and_then(|f| f.get("arguments"))
                .and_then(Value::as_str)
                .unwrap_or("{}");
            match parse_args(args) {
                Some(input) => parts.push(Part::ToolCall {
                    id: str_of(call, "id"),
                    name: f.map(|f| str_of(f, "name")).unwrap_or_default(),
                    input,
                }),
                None => out.problem(
                    format!("{at}/tool_calls/{j}/function/arguments"),
                    "the arguments are not JSON",
                ),
            }
        }
        c.push(role, parts, i);
    }
}

/// Writes a chat completions line (or, for hosts that take bodies, a `{custom_id, body}`
/// line).
pub(crate) fn write(mut c: Chat, id: &Value, out: &mut Out<'_, '_>) -> Value {
    let host = out.target().provider_name();
    let mut body = Map::new();
    match c.model_for(out.cx) {
        Some(m) => {
            body.insert("model".into(), Value::String(m));
        }
        None if out.target().shape == Shape::Chat => out.problem(
            String::new(),
            format!(
                "no model: {} lines name one (give --model)",
                out.target().label()
            ),
        ),
        None => {}
    }
    let mut messages = Vec::new();
    for t in c.system_texts() {
        messages.push(obj! {"role" => "system", "content" => t});
    }
    let images_refused = text_only(out);
    for turn in std::mem::take(&mut c.turns) {
        let mut content = Vec::new();
        let mut calls = Vec::new();
        for part in turn.parts {
            match part {
                Part::Text(t) => content.push(obj! {"type" => "text", "text" => t}),
                Part::ImageUrl(_) | Part::ImageData(..) if images_refused => {
                    let at = out.src.message(turn.at);
                    out.no_equivalent(at, "image", "the target takes text only");
                }
                Part::ImageUrl(u) => {
                    content.push(obj! {"type" => "image_url", "image_url" => obj! {"url" => u}})
                }
                Part::ImageData(mt, d) => content.push(
                    obj! {"type" => "image_url", "image_url" => obj! {"url" => format!("data:{mt};base64,{d}")}},
                ),
                Part::ToolCall { id, name, input } => calls.push(
                    json!({"id": id, "type": "function", "function": {"name": name, "arguments": input.to_string()}}),
                ),
                Part::ToolResult {
                    id,
                    content: c,
                    is_error,
                } => {
                    if is_error {
                        let at = out.src.message(turn.at);
                        out.no_equivalent(at, "is_error", "a tool result has no error flag on OpenAI");
                    }
                    messages.push(obj! {"role" => "tool", "tool_call_id" => id, "content" => c})
                }
                Part::Cache(_) => {}
            }
        }
        if content.is_empty() && calls.is_empty() {
            continue;
        }
        let role = if turn.role == Role::User {
            "user"
        } else {
            "assistant"
        };
        let mut m = Map::new();
        m.insert("role".into(), json!(role));
        // One text part is written as a plain string, as most files do.
        let text_only = content.len() == 1 && content[0].get("type") == Some(&json!("text"));
        m.insert(
            "content".into(),
            match (text_only, content.is_empty()) {
                (true, _) => content[0]["text"].take(),
                (false, true) => Value::Null,
                (false, false) => Value::Array(content),
            },
        );
        if !calls.is_empty() {
            m.insert("tool_calls".into(), Value::Array(calls));
        }
        messages.push(Value::Object(m));
    }
    body.insert("messages".into(), Value::Array(messages));
    if !c.tools.is_empty() {
        let tools = c
            .tools
            .iter()
            .map(|t| {
                let mut f = Map::new();
                f.insert("name".into(), json!(t.name));
                if let Some(d) = &t.description {
                    f.insert("description".into(), json!(d));
                }
                f.insert("parameters".into(), t.schema.clone());
                if let Some(s) = t.strict {
                    f.insert("strict".into(), json!(s));
                }
                json!({"type": "function", "function": f})
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(tc) = &c.tool_choice {
        body.insert("tool_choice".into(), tool_choice_openai(tc, false));
    }
    if let Some(p) = c.parallel_tools {
        body.insert("parallel_tool_calls".into(), json!(p));
    }
    put(&mut body, "temperature", &c.temperature);
    put(&mut body, "top_p", &c.top_p);
    if c.top_k.is_some() {
        if matches!(host, "together" | "openai-compatible") {
            put(&mut body, "top_k", &c.top_k);
        } else {
            out.unsupported("top_k");
        }
    }
    if !c.stop.is_empty() {
        body.insert("stop".into(), Value::Array(c.stop.clone()));
    }
    if let Some(n) = c.max_tokens {
        let key = if out.target().shape == Shape::Chat && host == "openai" {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        body.insert(key.into(), json!(n));
    }
    let seed_key = if host == "mistral" {
        "random_seed"
    } else {
        "seed"
    };
    put(&mut body, seed_key, &c.seed);
    put(&mut body, "n", &c.n);
    put(&mut body, "presence_penalty", &c.presence_penalty);
    put(&mut body, "frequency_penalty", &c.frequency_penalty);
    put(&mut body, "user", &c.user);
    match &c.json {
        Some(Some(schema)) => {
            let name = c.schema_name.clone().unwrap_or_else(|| "answer".into());
            body.insert(
                "response_format".into(),
                json!({"type": "json_schema", "json_schema": {"name": name, "schema": schema}}),
            );
        }
        Some(None) => {
            body.insert("response_format".into(), json!({"type": "json_object"}));
        }
        None => {}
    }
    if out.target().shape == Shape::Body {
        obj! {"custom_id" => id.clone(), "body" => body}
    } else {
        obj! {"custom_id" => id.clone(), "method" => "POST", "url" => "/v1/chat/completions", "body" => body}
    }
}

/// A plain chat line (`custom_id`, `method`, `url`, `body` with text messages and the common
/// sampling fields) read straight from the parsed tree, without building its JSON value: the
/// id and the request, the same as [`read`] gives. `None` for a line with anything more (or a
/// repeated key), which [`read`] takes.
pub(crate) fn read_plain(root: batchkit_line::Value<'_, '_>) -> Option<(Value, Chat)> {
    use batchkit_line::to_serde;
    use simd_json::prelude::*;
    let o = root.as_object()?;
    let mut id = Value::Null;
    let mut body = None;
    let mut seen = 0u8;
    for (k, v) in o.iter() {
        let bit = match k {
            "custom_id" => {
                id = Value::String(v.as_str()?.to_string());
                1
            }
            "method" => 2,
            "url" => {
                let url = v.as_str()?;
                if url != "/v1/chat/completions" && url != "/chat/completions" {
                    return None;
                }
                4
            }
            "body" => {
                body = Some(v.as_object()?);
                8
            }
            _ => return None,
        };
        if seen & bit != 0 {
            return None;
        }
        seen |= bit;
    }
    let mut c = Chat::default();
    let mut seen = 0u32;
    for (k, v) in body?.iter() {
        let bit = match k {
            "model" => {
                c.model = v.as_str().map(str::to_string);
                1
            }
            "messages" => {
                for (i, m) in v.as_array()?.iter().enumerate() {
                    let mo = m.as_object()?;
                    if mo.len() != 2 {
                        return None;
                    }
                    let role = mo.get("role")?.into_string()?;
                    let text = mo.get("content")?.as_str()?.to_string();
                    match role {
                        "system" | "developer" => c.system.push(Part::Text(text)),
                        "user" => c.push(Role::User, vec![Part::Text(text)], i),
                        "assistant" => c.push(Role::Assistant, vec![Part::Text(text)], i),
                        _ => return None,
                    }
                }
                2
            }
            "max_completion_tokens" | "max_tokens" => {
                let n = v.as_u64()?;
                if c.max_tokens.is_none() {
                    c.max_tokens = Some(n);
                }
                if k == "max_tokens" {
                    4
                } else {
                    8
                }
            }
            "temperature" => {
                c.temperature = Some(to_serde(v));
                16
            }
            "top_p" => {
                c.top_p = Some(to_serde(v));
                32
            }
            "seed" => {
                c.seed = Some(to_serde(v));
                64
            }
            "user" => {
                c.user = Some(to_serde(v));
                128
            }
            "stop" => {
                match to_serde(v) {
                    s @ Value::String(_) => c.stop = vec![s],
                    Value::Array(a) => c.stop = a,
                    _ => {}
                }
                256
            }
            _ => return None,
        };
        if seen & bit != 0 {
            return None;
        }
        seen |= bit;
    }
    Some((id, c))
}
