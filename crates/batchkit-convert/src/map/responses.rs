//! OpenAI Responses (`url: "/v1/responses"`). Sources: openai-python
//! `types/responses/response_create_params.py`, `response_input_item_param.py`,
//! `easy_input_message_param.py`, `function_tool_param.py`.

use serde_json::{json, Map, Value};

use super::{
    image_part, is_default, parse_args, put, read_openai_format, str_of, text_only,
    tool_choice_from_openai, tool_choice_openai, Chat, Out, Part, Role, Tool,
};

/// Reads a Responses body.
pub(crate) fn read(line: &mut Value, out: &mut Out<'_, '_>) -> Chat {
    let mut c = Chat::default();
    let Some(body) = super::body(line, out) else {
        return c;
    };
    // `instructions` come before the input's system messages, wherever the key is.
    if let Some(Value::String(s)) = body.get_mut("instructions").map(std::mem::take) {
        c.system.push(Part::Text(s));
    }
    for (k, v) in body {
        let at = format!("/body/{k}");
        match k.as_str() {
            "model" => c.model = v.as_str().map(str::to_string),
            "instructions" => {}
            "input" => input(&mut c, std::mem::take(v), out),
            "tools" => {
                for (i, t) in v.as_array().into_iter().flatten().enumerate() {
                    if t.get("type").and_then(Value::as_str) != Some("function") {
                        out.no_equivalent(
                            format!("{at}/{i}"),
                            "tools",
                            "only function tools convert",
                        );
                        continue;
                    }
                    c.tools.push(Tool::read(t, t.get("parameters")));
                }
            }
            "tool_choice" => c.tool_choice = tool_choice_from_openai(v),
            "parallel_tool_calls" => c.parallel_tools = v.as_bool(),
            "temperature" => c.temperature = Some(v.clone()),
            "top_p" => c.top_p = Some(v.clone()),
            "max_output_tokens" => c.max_tokens = v.as_u64(),
            "user" => c.user = Some(v.clone()),
            "text" => {
                if let Some(f) = v.get("format") {
                    read_openai_format(&mut c, f, true);
                }
            }
            _ if is_default(k, v) => {}
            _ => out.unknown_key(at, k),
        }
    }
    c
}

fn input(c: &mut Chat, v: Value, out: &mut Out<'_, '_>) {
    let items = match v {
        Value::String(s) => {
            c.push(Role::User, vec![Part::Text(s)], 0);
            return;
        }
        Value::Array(a) => a,
        _ => return,
    };
    for (i, mut item) in items.into_iter().enumerate() {
        let at = format!("/body/input/{i}");
        match item.get("type").and_then(Value::as_str) {
            Some("function_call") => {
                let args = item
                    .get("arguments")
                    .and_then(Value::as_str)
                    .unwrap_or("{}");
                match parse_args(args) {
                    Some(input) => {
                        let part = Part::ToolCall {
                            id: str_of(&item, "call_id"),
                            name: str_of(&item, "name"),
                            input,
                        };
                        c.push(Role::Assistant, vec![part], i);
                    }
                    None => out.problem(format!("{at}/arguments"), "the arguments are not JSON"),
                }
                continue;
            }
            Some("function_call_output") => {
                let content = match item.get("output") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Array(a)) => a
                        .iter()
                        .filter_map(|x| x.get("text").and_then(Value::as_str))
                        .collect(),
                    _ => String::new(),
                };
                let part = Part::ToolResult {
                    id: str_of(&item, "call_id"),
                    content,
                    is_error: false,
                };
                c.push(Role::User, vec![part], i);
                continue;
            }
            Some("message") | None => {}
            Some(other) => {
                out.problem(
                    format!("{at}/type"),
                    format!("input item {other:?} does not convert"),
                );
                continue;
            }
        }
        let role = item
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or("user")
            .to_string();
        let mut parts = Vec::new();
        match item.get_mut("content").map(std::mem::take) {
            Some(Value::String(s)) => parts.push(Part::Text(s)),
            Some(Value::Array(a)) => {
                for (j, mut part) in a.into_iter().enumerate() {
                    let pat = format!("{at}/content/{j}");
                    match part.get("type").and_then(Value::as_str) {
                        Some("input_text" | "output_text") => {
                            if let Some(Value::String(t)) = part.get_mut("text").map(std::mem::take)
                            {
                                parts.push(Part::Text(t));
                            }
                        }
                        Some("input_image") => {
                            let url = part.get("image_url").and_then(Value::as_str).unwrap_or("");
                            match image_part(url) {
                                Some(p) => parts.push(p),
                                None => out.problem(
                                    format!("{pat}/image_url"),
                                    "an image that is neither an https nor a base64 data URL",
                                ),
                            }
                        }
                        other => out.problem(
                            format!("{pat}/type"),
                            format!("content part {:?} does not convert", other.unwrap_or("")),
                        ),
                    }
                }
            }
            _ => {}
        }
        match role.as_str() {
            "system" | "developer" => c.system.extend(parts),
            "user" => c.push(Role::User, parts, i),
            "assistant" => c.push(Role::Assistant, parts, i),
            other => out.problem(
                format!("{at}/role"),
                format!("role {other:?} does not convert"),
            ),
        }
    }
}

/// Writes a Responses line.
pub(crate) fn write(mut c: Chat, id: &Value, out: &mut Out<'_, '_>) -> Value {
    let mut body = Map::new();
    match c.model_for(out.cx) {
        Some(m) => {
            body.insert("model".into(), Value::String(m));
        }
        None => out.problem(
            String::new(),
            "no model: OpenAI Responses lines name one (give --model)",
        ),
    }
    let system = c.system_texts();
    if !system.is_empty() {
        body.insert("instructions".into(), json!(system.join("\n\n")));
    }
    let images_refused = text_only(out);
    let turns = std::mem::take(&mut c.turns);
    // One user text and nothing else: the input is that string.
    let single = match turns.as_slice() {
        [t] if t.role == Role::User => match t.parts.as_slice() {
            [Part::Text(s)] => Some(s.clone()),
            _ => None,
        },
        _ => None,
    };
    if let Some(s) = single {
        body.insert("input".into(), Value::String(s));
    } else {
        let mut items = Vec::new();
        for turn in turns {
            let (role, text_kind) = match turn.role {
                Role::User => ("user", "input_text"),
                Role::Assistant => ("assistant", "output_text"),
            };
            let mut content = Vec::new();
            let mut after = Vec::new();
            for part in turn.parts {
                match part {
                    Part::Text(t) => content.push(obj! {"type" => text_kind, "text" => t}),
                    Part::ImageUrl(_) | Part::ImageData(..) if images_refused => {
                        out.no_equivalent(out.src.message(turn.at), "image", "the target takes text only")
                    }
                    Part::ImageUrl(u) => content.push(obj! {"type" => "input_image", "image_url" => u}),
                    Part::ImageData(mt, d) => content.push(
                        obj! {"type" => "input_image", "image_url" => format!("data:{mt};base64,{d}")},
                    ),
                    Part::ToolCall { id, name, input } => after.push(
                        json!({"type": "function_call", "call_id": id, "name": name, "arguments": input.to_string()}),
                    ),
                    Part::ToolResult {
                        id,
                        content: text,
                        is_error,
                    } => {
                        if is_error {
                            out.no_equivalent(
                                out.src.message(turn.at),
                                "is_error",
                                "a tool result has no error flag on OpenAI",
                            );
                        }
                        after.push(obj! {"type" => "function_call_output", "call_id" => id, "output" => text})
                    }
                    Part::Cache(_) => {}
                }
            }
            if !content.is_empty() {
                let text_only = content.len() == 1 && content[0]["type"] == text_kind;
                let content = if text_only {
                    content[0]["text"].take()
                } else {
                    Value::Array(content)
                };
                items.push(obj! {"role" => role, "content" => content});
            }
            items.extend(after);
        }
        body.insert("input".into(), Value::Array(items));
    }
    if !c.tools.is_empty() {
        let tools = c
            .tools
            .iter()
            .map(|t| {
                let mut f = Map::new();
                f.insert("type".into(), json!("function"));
                f.insert("name".into(), json!(t.name));
                if let Some(d) = &t.description {
                    f.insert("description".into(), json!(d));
                }
                f.insert("parameters".into(), t.schema.clone());
                if let Some(s) = t.strict {
                    f.insert("strict".into(), json!(s));
                }
                Value::Object(f)
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(tc) = &c.tool_choice {
        body.insert("tool_choice".into(), tool_choice_openai(tc, true));
    }
    if let Some(p) = c.parallel_tools {
        body.insert("parallel_tool_calls".into(), json!(p));
    }
    put(&mut body, "temperature", &c.temperature);
    put(&mut body, "top_p", &c.top_p);
    if let Some(n) = c.max_tokens {
        body.insert("max_output_tokens".into(), json!(n));
    }
    put(&mut body, "user", &c.user);
    c.refuse(
        &[
            "top_k",
            "stop",
            "seed",
            "n",
            "presence_penalty",
            "frequency_penalty",
        ],
        out,
    );
    match &c.json {
        Some(Some(schema)) => {
            let name = c.schema_name.clone().unwrap_or_else(|| "answer".into());
            body.insert(
                "text".into(),
                json!({"format": {"type": "json_schema", "name": name, "schema": schema}}),
            );
        }
        Some(None) => {
            body.insert("text".into(), json!({"format": {"type": "json_object"}}));
        }
        None => {}
    }
    obj! {"custom_id" => id.clone(), "method" => "POST", "url" => "/v1/responses", "body" => body}
}
