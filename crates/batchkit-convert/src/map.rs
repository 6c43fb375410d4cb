//! One request line from one shape to another, as JSON values. The field map (sources: the
//! SDK types each provider's `sources` in providers.toml name: openai-python
//! `types/chat/completion_create_params.py`, anthropic-sdk-python
//! `types/message_create_params.py`, python-genai `types.py` `GenerateContentConfig`):
//!
//! | OpenAI chat | Anthropic Messages | Gemini `generateContent` |
//! |---|---|---|
//! | `system`/`developer` messages | `system` | `systemInstruction.parts[].text` |
//! | `user`, `assistant`, `tool` roles | `user`, `assistant`; tool results in a user turn | `user`, `model`; `functionResponse` in a user turn |
//! | text part / string | `{type: text}` | `{text}` |
//! | `image_url` (https or data URL) | `image` with a `url` or `base64` source | `fileData` / `inlineData` |
//! | `tool_calls` (arguments: a JSON string) | `tool_use` (input: an object) | `functionCall` (args: an object) |
//! | `tools[].function` | `tools[]` with `input_schema` | `functionDeclarations` with `parametersJsonSchema` |
//! | `tool_choice` auto / required / none / named | `auto` / `any` / `none` / `tool` | `functionCallingConfig.mode` AUTO / ANY / NONE, `allowedFunctionNames` |
//! | `temperature` (0-2), `top_p`, `stop` | `temperature` (0-1), `top_p`, `stop_sequences` | `temperature`, `topP`, `stopSequences` |
//! | `max_completion_tokens` / `max_tokens` | `max_tokens` (required) | `maxOutputTokens` |
//! | `seed`, `n`, penalties | ✗ | `seed`, `candidateCount`, `presencePenalty`, `frequencyPenalty` |
//! | `response_format` `json_schema` / `json_object` | `output_config.format` / ✗ | `responseMimeType` + `responseJsonSchema` |
//!
//! A field with no equivalent (✗) is a [`Problem`] naming its JSON pointer in the source line;
//! with `lossy` it is dropped and counted by kind instead. Defaults (`n: 1`, `stream: false`,
//! penalties of 0) are dropped without a word.

use serde_json::{json, Map, Value};

use crate::Target;

/// A field that does not convert: where it is in the source line, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// JSON pointer in the source line.
    pub pointer: String,
    /// Why.
    pub message: String,
}

/// What converting one line needs besides the line.
pub(crate) struct LineCtx<'a> {
    pub to: Target,
    /// The target model for the source model (`--model`, `--model-map`), when given.
    pub model: &'a dyn Fn(&str) -> Option<String>,
    /// The output cap to add where the target requires one and the line has none.
    pub default_max_tokens: &'a dyn Fn(&str) -> Option<u64>,
    pub lossy: bool,
}

/// A converted line: the new value, the kinds of fields dropped (`--lossy`), whether an output
/// cap was added.
#[derive(Debug, Default)]
pub(crate) struct Converted {
    pub value: Value,
    pub dropped: Vec<String>,
    pub added_max_tokens: bool,
}

/// The source shapes convert reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    OpenAiChat,
    Anthropic,
}

/// The shape of `line`, or why it cannot be converted.
pub(crate) fn source_of(line: &Value) -> Result<Source, Problem> {
    let obj = line.as_object().ok_or_else(|| Problem {
        pointer: String::new(),
        message: "not a JSON object".into(),
    })?;
    if obj.contains_key("params") {
        return Ok(Source::Anthropic);
    }
    if obj.contains_key("body") {
        let url = obj.get("url").and_then(Value::as_str).unwrap_or("");
        if url.ends_with("/chat/completions") || url.is_empty() {
            return Ok(Source::OpenAiChat);
        }
        return Err(Problem {
            pointer: "/url".into(),
            message: format!("{url:?}: only chat completions convert for now"),
        });
    }
    Err(Problem {
        pointer: String::new(),
        message: "not a request line convert reads (OpenAI chat completions, Anthropic Messages)"
            .into(),
    })
}

/// Converts `line` (of shape `src`, id `id`) for `cx.to`.
pub(crate) fn convert(
    mut line: Value,
    src: Source,
    id: &Value,
    cx: &LineCtx<'_>,
) -> Result<Converted, Vec<Problem>> {
    let mut chat = match src {
        Source::OpenAiChat => Chat::from_openai(&mut line, cx)?,
        Source::Anthropic => Chat::from_anthropic(&line, cx)?,
    };
    let mut out = Converted {
        dropped: std::mem::take(&mut chat.dropped),
        ..Converted::default()
    };
    let mut problems = Vec::new();
    out.value = match cx.to {
        Target::OpenAi => chat.openai_line(id, cx),
        Target::Anthropic => chat.anthropic_line(id, cx, &mut out, &mut problems),
        Target::Gemini => chat.gemini_line(id, cx, &mut out, &mut problems),
    };
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// A content part, in a shape of its own.
#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    /// An image by URL (`https:`), with its media type when known.
    ImageUrl(String),
    /// An image inline: media type and base64 data.
    ImageData(String, String),
    ToolCall {
        id: String,
        name: String,
        input: Value,
    },
    ToolResult {
        id: String,
        content: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    User,
    Assistant,
}

/// A request in a shape of its own: what converts between the shapes.
#[derive(Debug, Default)]
struct Chat {
    model: Option<String>,
    system: Vec<String>,
    turns: Vec<(Role, Vec<Part>)>,
    /// (name, description, JSON Schema of the input)
    tools: Vec<(String, Option<String>, Value)>,
    /// auto, any, none, or a tool's name
    tool_choice: Option<String>,
    parallel_tools: Option<bool>,
    temperature: Option<Value>,
    top_p: Option<Value>,
    top_k: Option<Value>,
    stop: Vec<Value>,
    max_tokens: Option<u64>,
    seed: Option<Value>,
    n: Option<Value>,
    presence_penalty: Option<Value>,
    frequency_penalty: Option<Value>,
    /// `Some(None)`: any JSON object; `Some(Some(schema))`: a JSON Schema.
    json: Option<Option<Value>>,
    schema_name: Option<String>,
    user: Option<Value>,
    dropped: Vec<String>,
}

fn p(pointer: String, message: impl Into<String>) -> Problem {
    Problem {
        pointer,
        message: message.into(),
    }
}

/// Whether `v` is a field's default, dropped without a word.
fn is_default(key: &str, v: &Value) -> bool {
    match key {
        "n" => v.as_u64() == Some(1),
        "stream" => v == &Value::Bool(false),
        "presence_penalty" | "frequency_penalty" => v.as_f64() == Some(0.0),
        "logprobs" => v == &Value::Bool(false),
        _ => v.is_null(),
    }
}

impl Chat {
    /// A field `key` at `pointer` with no equivalent: a problem, or (lossy) dropped.
    fn no_equivalent(
        &mut self,
        cx: &LineCtx<'_>,
        problems: &mut Vec<Problem>,
        pointer: String,
        key: &str,
        why: &str,
    ) {
        if cx.lossy {
            self.dropped.push(key.to_string());
        } else {
            problems.push(p(pointer, format!("{key}: {why}")));
        }
    }

    fn from_openai(line: &mut Value, cx: &LineCtx<'_>) -> Result<Chat, Vec<Problem>> {
        let mut c = Chat::default();
        let mut problems = Vec::new();
        let body = line
            .get_mut("body")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| vec![p("/body".into(), "no body object")])?;
        let target = cx.to.label();
        for (k, v) in body {
            let at = format!("/body/{k}");
            match k.as_str() {
                "model" => c.model = v.as_str().map(str::to_string),
                "messages" => c.openai_messages(std::mem::take(v), &mut problems),
                "tools" => {
                    for (i, t) in v.as_array().into_iter().flatten().enumerate() {
                        let f = t.get("function");
                        match (t.get("type").and_then(Value::as_str), f) {
                            (Some("function"), Some(f)) => c.tools.push((
                                f.get("name")
                                    .and_then(Value::as_str)
                                    .unwrap_or("")
                                    .to_string(),
                                f.get("description")
                                    .and_then(Value::as_str)
                                    .map(str::to_string),
                                f.get("parameters")
                                    .cloned()
                                    .unwrap_or_else(|| json!({"type": "object"})),
                            )),
                            _ => c.no_equivalent(
                                cx,
                                &mut problems,
                                format!("{at}/{i}"),
                                "tools",
                                "only function tools convert",
                            ),
                        }
                    }
                }
                "tool_choice" => {
                    c.tool_choice = match v {
                        Value::String(s) if s == "required" => Some("any".into()),
                        Value::String(s) => Some(s.clone()),
                        Value::Object(o) => o
                            .get("function")
                            .and_then(|f| f.get("name"))
                            .and_then(Value::as_str)
                            .map(|n| format!("tool:{n}")),
                        _ => None,
                    }
                }
                "parallel_tool_calls" => c.parallel_tools = v.as_bool(),
                "temperature" => c.temperature = Some(v.clone()),
                "top_p" => c.top_p = Some(v.clone()),
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
                "seed" => c.seed = Some(v.clone()),
                "n" if !is_default(k, v) => c.n = Some(v.clone()),
                "presence_penalty" if !is_default(k, v) => c.presence_penalty = Some(v.clone()),
                "frequency_penalty" if !is_default(k, v) => c.frequency_penalty = Some(v.clone()),
                "user" => c.user = Some(v.clone()),
                "response_format" => match v.get("type").and_then(Value::as_str) {
                    Some("json_schema") => {
                        let js = v.get("json_schema");
                        c.schema_name = js
                            .and_then(|j| j.get("name"))
                            .and_then(Value::as_str)
                            .map(str::to_string);
                        c.json = Some(js.and_then(|j| j.get("schema")).cloned());
                    }
                    Some("json_object") => c.json = Some(None),
                    _ => {}
                },
                _ if is_default(k, v) => {}
                _ => c.no_equivalent(
                    cx,
                    &mut problems,
                    at,
                    k,
                    &format!("no equivalent on {target}"),
                ),
            }
        }
        if problems.is_empty() {
            Ok(c)
        } else {
            Err(problems)
        }
    }

    /// Reads `messages`, moving their texts (the bulk of a line) rather than copying them.
    fn openai_messages(&mut self, v: Value, problems: &mut Vec<Problem>) {
        let Value::Array(messages) = v else {
            return;
        };
        for (i, mut m) in messages.into_iter().enumerate() {
            let at = format!("/body/messages/{i}");
            let mut content = m.get_mut("content").map(std::mem::take);
            let content = content.as_mut();
            let role = m.get("role").and_then(Value::as_str).unwrap_or("");
            match role {
                "system" | "developer" => {
                    self.system.extend(openai_text(content.as_deref()));
                    continue;
                }
                "tool" => {
                    let id = m
                        .get("tool_call_id")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    let content = openai_text(content.as_deref()).join("");
                    self.push(Role::User, vec![Part::ToolResult { id, content }]);
                    continue;
                }
                "user" | "assistant" => {}
                other => {
                    problems.push(p(
                        format!("{at}/role"),
                        format!("role {other:?} does not convert"),
                    ));
                    continue;
                }
            }
            let role = if role == "user" {
                Role::User
            } else {
                Role::Assistant
            };
            let mut parts = Vec::new();
            match content {
                Some(Value::String(s)) => parts.push(Part::Text(std::mem::take(s))),
                Some(Value::Array(a)) => {
                    for (j, part) in a.iter_mut().enumerate() {
                        let pat = format!("{at}/content/{j}");
                        match part.get("type").and_then(Value::as_str) {
                            Some("text") => parts.push(Part::Text(
                                match part.get_mut("text").map(std::mem::take) {
                                    Some(Value::String(t)) => t,
                                    _ => String::new(),
                                },
                            )),
                            Some("image_url") => {
                                let url = part
                                    .get("image_url")
                                    .and_then(|u| u.get("url"))
                                    .and_then(Value::as_str)
                                    .unwrap_or("");
                                match parse_data_url(url) {
                                    Some((mt, data)) => parts.push(Part::ImageData(mt, data)),
                                    None if url.starts_with("https://")
                                        || url.starts_with("http://") =>
                                    {
                                        parts.push(Part::ImageUrl(url.to_string()))
                                    }
                                    None => problems.push(p(
                                        format!("{pat}/image_url/url"),
                                        "an image URL that is neither https nor a base64 data URL",
                                    )),
                                }
                            }
                            other => problems.push(p(
                                format!("{pat}/type"),
                                format!("content part {:?} does not convert", other.unwrap_or("")),
                            )),
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
                match serde_json::from_str::<Value>(args) {
                    Ok(input) => parts.push(Part::ToolCall {
                        id: call
                            .get("id")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                        name: f
                            .and_then(|f| f.get("name"))
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                        input,
                    }),
                    Err(_) => problems.push(p(
                        format!("{at}/tool_calls/{j}/function/arguments"),
                        "the arguments are not JSON",
                    )),
                }
            }
            self.push(role, parts);
        }
    }

    /// Appends `parts` as a turn of `role`, merging tool results into the user turn before.
    fn push(&mut self, role: Role, parts: Vec<Part>) {
        let merge = matches!(parts.first(), Some(Part::ToolResult { .. }))
            && matches!(self.turns.last(), Some((Role::User, prev)) if prev.iter().all(|p| matches!(p, Part::ToolResult { .. })));
        if merge {
            if let Some((_, prev)) = self.turns.last_mut() {
                prev.extend(parts);
                return;
            }
        }
        self.turns.push((role, parts));
    }

    fn from_anthropic(line: &Value, cx: &LineCtx<'_>) -> Result<Chat, Vec<Problem>> {
        let mut c = Chat::default();
        let mut problems = Vec::new();
        let params = line
            .get("params")
            .and_then(Value::as_object)
            .ok_or_else(|| vec![p("/params".into(), "no params object")])?;
        let target = cx.to.label();
        for (k, v) in params {
            let at = format!("/params/{k}");
            match k.as_str() {
                "model" => c.model = v.as_str().map(str::to_string),
                "system" => c.system.extend(anthropic_text(v)),
                "messages" => {
                    for (i, m) in v.as_array().into_iter().flatten().enumerate() {
                        let role = match m.get("role").and_then(Value::as_str) {
                            Some("assistant") => Role::Assistant,
                            _ => Role::User,
                        };
                        let mut parts = Vec::new();
                        match m.get("content") {
                            Some(Value::String(s)) => parts.push(Part::Text(s.clone())),
                            Some(Value::Array(blocks)) => {
                                for (j, b) in blocks.iter().enumerate() {
                                    let bat = format!("/params/messages/{i}/content/{j}");
                                    match anthropic_part(b) {
                                        Some(part) => parts.push(part),
                                        None => problems.push(p(
                                            bat,
                                            format!(
                                                "content block {:?} does not convert",
                                                b.get("type").and_then(Value::as_str).unwrap_or("")
                                            ),
                                        )),
                                    }
                                }
                            }
                            _ => {}
                        }
                        c.turns.push((role, parts));
                    }
                }
                "tools" => {
                    for t in v.as_array().into_iter().flatten() {
                        c.tools.push((
                            t.get("name")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_string(),
                            t.get("description")
                                .and_then(Value::as_str)
                                .map(str::to_string),
                            t.get("input_schema")
                                .cloned()
                                .unwrap_or_else(|| json!({"type": "object"})),
                        ));
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
                        Some(v)
                    };
                    if let Some(f) =
                        f.filter(|f| f.get("type").and_then(Value::as_str) == Some("json_schema"))
                    {
                        c.json = Some(f.get("schema").cloned());
                    }
                }
                _ if is_default(k, v) => {}
                _ => c.no_equivalent(
                    cx,
                    &mut problems,
                    at,
                    k,
                    &format!("no equivalent on {target}"),
                ),
            }
        }
        if problems.is_empty() {
            Ok(c)
        } else {
            Err(problems)
        }
    }

    fn model_for(&self, cx: &LineCtx<'_>) -> Option<String> {
        let m = self.model.as_deref().unwrap_or("");
        (cx.model)(m).or_else(|| self.model.clone())
    }

    fn openai_line(&mut self, id: &Value, cx: &LineCtx<'_>) -> Value {
        let mut body = Map::new();
        if let Some(m) = self.model_for(cx) {
            body.insert("model".into(), Value::String(m));
        }
        let mut messages = Vec::new();
        if !self.system.is_empty() {
            messages.push(json!({"role": "system", "content": self.system.join("\n\n")}));
        }
        for (role, parts) in std::mem::take(&mut self.turns) {
            let mut content = Vec::new();
            let mut calls = Vec::new();
            for part in parts {
                match part {
                    Part::Text(t) => content.push(json!({"type": "text", "text": t})),
                    Part::ImageUrl(u) => content.push(json!({"type": "image_url", "image_url": {"url": u}})),
                    Part::ImageData(mt, d) => content.push(json!({"type": "image_url", "image_url": {"url": format!("data:{mt};base64,{d}")}})),
                    Part::ToolCall { id, name, input } => calls.push(json!({"id": id, "type": "function", "function": {"name": name, "arguments": input.to_string()}})),
                    Part::ToolResult { id, content: c } => messages.push(json!({"role": "tool", "tool_call_id": id, "content": c})),
                }
            }
            if content.is_empty() && calls.is_empty() {
                continue;
            }
            let role = if role == Role::User {
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
                    (true, _) => content[0]["text"].clone(),
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
        if !self.tools.is_empty() {
            let tools = self
                .tools
                .iter()
                .map(|(n, d, s)| {
                    let mut f = Map::new();
                    f.insert("name".into(), json!(n));
                    if let Some(d) = d {
                        f.insert("description".into(), json!(d));
                    }
                    f.insert("parameters".into(), s.clone());
                    json!({"type": "function", "function": f})
                })
                .collect();
            body.insert("tools".into(), Value::Array(tools));
        }
        if let Some(tc) = &self.tool_choice {
            let v = match tc.strip_prefix("tool:") {
                Some(n) => json!({"type": "function", "function": {"name": n}}),
                None if tc == "any" => json!("required"),
                None => json!(tc),
            };
            body.insert("tool_choice".into(), v);
        }
        if let Some(p) = self.parallel_tools {
            body.insert("parallel_tool_calls".into(), json!(p));
        }
        put(&mut body, "temperature", &self.temperature);
        put(&mut body, "top_p", &self.top_p);
        if !self.stop.is_empty() {
            body.insert("stop".into(), Value::Array(self.stop.clone()));
        }
        if let Some(n) = self.max_tokens {
            body.insert("max_completion_tokens".into(), json!(n));
        }
        put(&mut body, "seed", &self.seed);
        put(&mut body, "n", &self.n);
        put(&mut body, "presence_penalty", &self.presence_penalty);
        put(&mut body, "frequency_penalty", &self.frequency_penalty);
        put(&mut body, "user", &self.user);
        match &self.json {
            Some(Some(schema)) => {
                let name = self.schema_name.clone().unwrap_or_else(|| "answer".into());
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
        json!({"custom_id": id, "method": "POST", "url": "/v1/chat/completions", "body": body})
    }

    fn anthropic_line(
        &mut self,
        id: &Value,
        cx: &LineCtx<'_>,
        out: &mut Converted,
        problems: &mut Vec<Problem>,
    ) -> Value {
        let mut params = Map::new();
        let model = self.model_for(cx).unwrap_or_default();
        params.insert("model".into(), json!(model));
        let max = match self.max_tokens {
            Some(n) => Some(n),
            None => {
                let d = (cx.default_max_tokens)(&model);
                out.added_max_tokens = d.is_some();
                d
            }
        };
        match max {
            Some(n) => {
                params.insert("max_tokens".into(), json!(n));
            }
            None => problems.push(p(
                "/body/max_completion_tokens".into(),
                "Anthropic requires max_tokens: give --default-max-tokens (the model's output limit is not known)",
            )),
        }
        if !self.system.is_empty() {
            params.insert("system".into(), json!(self.system.join("\n\n")));
        }
        let mut messages = Vec::new();
        for (role, parts) in std::mem::take(&mut self.turns) {
            let blocks: Vec<Value> = parts
                .into_iter()
                .map(|part| match part {
                    Part::Text(t) => json!({"type": "text", "text": t}),
                    Part::ImageUrl(u) => json!({"type": "image", "source": {"type": "url", "url": u}}),
                    Part::ImageData(mt, d) => json!({"type": "image", "source": {"type": "base64", "media_type": mt, "data": d}}),
                    Part::ToolCall { id, name, input } => json!({"type": "tool_use", "id": id, "name": name, "input": input}),
                    Part::ToolResult { id, content } => json!({"type": "tool_result", "tool_use_id": id, "content": content}),
                })
                .collect();
            if blocks.is_empty() {
                continue;
            }
            let role = if role == Role::User {
                "user"
            } else {
                "assistant"
            };
            let content = match blocks.as_slice() {
                [b] if b["type"] == "text" => b["text"].clone(),
                _ => Value::Array(blocks),
            };
            messages.push(json!({"role": role, "content": content}));
        }
        params.insert("messages".into(), Value::Array(messages));
        if !self.tools.is_empty() {
            let tools = self
                .tools
                .iter()
                .map(|(n, d, s)| {
                    let mut t = Map::new();
                    t.insert("name".into(), json!(n));
                    if let Some(d) = d {
                        t.insert("description".into(), json!(d));
                    }
                    t.insert("input_schema".into(), s.clone());
                    Value::Object(t)
                })
                .collect();
            params.insert("tools".into(), Value::Array(tools));
        }
        let mut choice = self
            .tool_choice
            .as_ref()
            .map(|tc| match tc.strip_prefix("tool:") {
                Some(n) => json!({"type": "tool", "name": n}),
                None => json!({"type": tc}),
            });
        if self.parallel_tools == Some(false) {
            let c = choice.get_or_insert_with(|| json!({"type": "auto"}));
            c["disable_parallel_tool_use"] = json!(true);
        }
        if let Some(c) = choice {
            params.insert("tool_choice".into(), c);
        }
        if let Some(t) = &self.temperature {
            if t.as_f64().is_some_and(|t| t > 1.0) {
                if cx.lossy {
                    out.dropped.push("temperature".into());
                } else {
                    problems.push(p(
                        "/body/temperature".into(),
                        "temperature above 1: Anthropic takes 0 to 1",
                    ));
                }
            } else {
                params.insert("temperature".into(), t.clone());
            }
        }
        put(&mut params, "top_p", &self.top_p);
        put(&mut params, "top_k", &self.top_k);
        if !self.stop.is_empty() {
            params.insert("stop_sequences".into(), Value::Array(self.stop.clone()));
        }
        if let Some(u) = &self.user {
            params.insert("metadata".into(), json!({"user_id": u}));
        }
        for (key, v) in [
            ("seed", &self.seed),
            ("n", &self.n),
            ("presence_penalty", &self.presence_penalty),
            ("frequency_penalty", &self.frequency_penalty),
        ] {
            if v.is_some() {
                if cx.lossy {
                    out.dropped.push(key.into());
                } else {
                    problems.push(p(
                        format!("/body/{key}"),
                        format!("{key}: no equivalent on Anthropic"),
                    ));
                }
            }
        }
        match &self.json {
            Some(Some(schema)) => {
                params.insert(
                    "output_config".into(),
                    json!({"format": {"type": "json_schema", "schema": schema}}),
                );
            }
            Some(None) => {
                if cx.lossy {
                    out.dropped.push("response_format".into());
                } else {
                    problems.push(p(
                        "/body/response_format".into(),
                        "json_object: Anthropic asks for a schema (give the request a json_schema)",
                    ));
                }
            }
            None => {}
        }
        json!({"custom_id": id, "params": params})
    }

    fn gemini_line(
        &mut self,
        id: &Value,
        cx: &LineCtx<'_>,
        out: &mut Converted,
        problems: &mut Vec<Problem>,
    ) -> Value {
        let mut req = Map::new();
        // The tool names of the calls, for the responses that answer them.
        let mut call_names = std::collections::HashMap::new();
        let mut contents = Vec::new();
        for (role, parts) in std::mem::take(&mut self.turns) {
            let mut gparts = Vec::new();
            for part in parts {
                gparts.push(match part {
                    Part::Text(t) => json!({"text": t}),
                    Part::ImageData(mt, d) => json!({"inlineData": {"mimeType": mt, "data": d}}),
                    Part::ImageUrl(u) => match media_type_of(&u) {
                        Some(mt) => json!({"fileData": {"mimeType": mt, "fileUri": u}}),
                        None => {
                            problems.push(p("/body/messages".into(), format!("image {u}: Gemini needs its media type, which the URL does not show")));
                            continue;
                        }
                    },
                    Part::ToolCall { id, name, input } => {
                        call_names.insert(id.clone(), name.clone());
                        json!({"functionCall": {"name": name, "args": input}})
                    }
                    Part::ToolResult { id, content } => {
                        let name = call_names.get(&id).cloned().unwrap_or_default();
                        let response = match serde_json::from_str::<Value>(&content) {
                            Ok(v @ Value::Object(_)) => v,
                            _ => json!({"content": content}),
                        };
                        json!({"functionResponse": {"name": name, "response": response}})
                    }
                });
            }
            if gparts.is_empty() {
                continue;
            }
            let role = if role == Role::User { "user" } else { "model" };
            contents.push(json!({"role": role, "parts": gparts}));
        }
        req.insert("contents".into(), Value::Array(contents));
        if !self.system.is_empty() {
            req.insert(
                "systemInstruction".into(),
                json!({"parts": [{"text": self.system.join("\n\n")}]}),
            );
        }
        if !self.tools.is_empty() {
            let decls: Vec<Value> = self
                .tools
                .iter()
                .map(|(n, d, s)| {
                    let mut f = Map::new();
                    f.insert("name".into(), json!(n));
                    if let Some(d) = d {
                        f.insert("description".into(), json!(d));
                    }
                    f.insert("parametersJsonSchema".into(), s.clone());
                    Value::Object(f)
                })
                .collect();
            req.insert("tools".into(), json!([{"functionDeclarations": decls}]));
        }
        if let Some(tc) = &self.tool_choice {
            let cfg = match tc.strip_prefix("tool:") {
                Some(n) => json!({"mode": "ANY", "allowedFunctionNames": [n]}),
                None => json!({"mode": tc.to_ascii_uppercase()}),
            };
            req.insert("toolConfig".into(), json!({"functionCallingConfig": cfg}));
        }
        if self.parallel_tools == Some(false) {
            if cx.lossy {
                out.dropped.push("parallel_tool_calls".into());
            } else {
                problems.push(p(
                    "/body/parallel_tool_calls".into(),
                    "parallel_tool_calls: Gemini has no switch for it",
                ));
            }
        }
        let mut gc = Map::new();
        put(&mut gc, "temperature", &self.temperature);
        put(&mut gc, "topP", &self.top_p);
        put(&mut gc, "topK", &self.top_k);
        if !self.stop.is_empty() {
            gc.insert("stopSequences".into(), Value::Array(self.stop.clone()));
        }
        if let Some(n) = self.max_tokens {
            gc.insert("maxOutputTokens".into(), json!(n));
        }
        put(&mut gc, "seed", &self.seed);
        put(&mut gc, "candidateCount", &self.n);
        put(&mut gc, "presencePenalty", &self.presence_penalty);
        put(&mut gc, "frequencyPenalty", &self.frequency_penalty);
        if let Some(schema) = &self.json {
            gc.insert("responseMimeType".into(), json!("application/json"));
            if let Some(s) = schema {
                gc.insert("responseJsonSchema".into(), s.clone());
            }
        }
        if !gc.is_empty() {
            req.insert("generationConfig".into(), Value::Object(gc));
        }
        if self.user.is_some() {
            out.dropped.push("user".into());
        }
        json!({"key": id, "request": req})
    }
}

fn put(m: &mut Map<String, Value>, k: &str, v: &Option<Value>) {
    if let Some(v) = v {
        m.insert(k.into(), v.clone());
    }
}

/// The text of an OpenAI message's content: a string, or its text parts.
fn openai_text(content: Option<&Value>) -> Vec<String> {
    match content {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str).map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// Anthropic's `system`: a string or text blocks.
fn anthropic_text(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str).map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn anthropic_part(b: &Value) -> Option<Part> {
    let s = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    Some(match b.get("type").and_then(Value::as_str)? {
        "text" => Part::Text(s("text")),
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
            id: s("id"),
            name: s("name"),
            input: b.get("input").cloned().unwrap_or_else(|| json!({})),
        },
        "tool_result" => Part::ToolResult {
            id: s("tool_use_id"),
            content: match b.get("content") {
                Some(Value::String(t)) => t.clone(),
                Some(v) => anthropic_text(v).join(""),
                None => String::new(),
            },
        },
        _ => return None,
    })
}

/// `data:<media type>;base64,<data>`.
fn parse_data_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("data:")?;
    let (head, data) = rest.split_once(',')?;
    let mt = head.strip_suffix(";base64")?;
    Some((mt.to_string(), data.to_string()))
}

/// The image media type a URL's extension shows.
fn media_type_of(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next()?.to_ascii_lowercase();
    let ext = path.rsplit('.').next()?;
    Some(match ext {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        _ => return None,
    })
}
