//! One request line from one shape to another, through one provider-free request ([`Chat`],
//! or [`Embed`] for embeddings). Each shape has a module that reads it into that request and
//! writes it back out: [`openai`] (chat completions, and the OpenAI-compatible hosts, with
//! or without `method`/`url`), [`responses`] (OpenAI Responses), [`anthropic`] (Message
//! Batches and Bedrock's Claude body), [`gemini`] (Gemini and Vertex `generateContent`),
//! [`bedrock`] (Amazon Nova's Invoke body) and [`embed`] (OpenAI `/v1/embeddings`, Gemini
//! and Vertex embedding lines). The field map (sources: the SDK types each provider's
//! `sources` in providers.toml name: openai-python `types/chat/completion_create_params.py`
//! and `types/responses/response_create_params.py`, anthropic-sdk-python
//! `types/message_create_params.py`, python-genai `types.py` `GenerateContentConfig`,
//! botocore bedrock-runtime `ContentBlock`, docs.aws.amazon.com/nova/latest/userguide/
//! complete-request-schema.html):
//!
//! | | OpenAI chat | Responses | Anthropic / Bedrock Claude | Gemini / Vertex | Bedrock Nova |
//! |---|---|---|---|---|---|
//! | system | `system`/`developer` messages | `instructions` | `system` | `systemInstruction` | `system[].text` |
//! | text | string / `text` part | `input_text` / `output_text` | `text` block | `{text}` | `{text}` |
//! | image | `image_url` (https or data URL) | `input_image` | `image` source url / base64 | `fileData` / `inlineData` | `image.source.bytes` (no URLs) |
//! | tool call | `tool_calls` (arguments a JSON string) | `function_call` item | `tool_use` | `functionCall` | `toolUse` |
//! | tool result | `tool` message | `function_call_output` item | `tool_result` in a user turn | `functionResponse` (named) | `toolResult` |
//! | tools | `tools[].function` | flat `tools[]` | `input_schema` | `functionDeclarations` | `toolConfig.tools[].toolSpec` |
//! | tool choice | auto / required / none / named | same | auto / any / none / tool | AUTO / ANY / NONE | auto / any / tool (no none) |
//! | sampling | `temperature` (0-2), `top_p` | same | `temperature` (0-1), `top_p`, `top_k` | `temperature`, `topP`, `topK` | `inferenceConfig` |
//! | stop | `stop` | ✗ | `stop_sequences` | `stopSequences` | `stopSequences` |
//! | cap | `max_completion_tokens` | `max_output_tokens` | `max_tokens` (required) | `maxOutputTokens` | `maxTokens` |
//! | `seed`, `n`, penalties | yes | ✗ | ✗ | `seed`, `candidateCount`, penalties | ✗ |
//! | schema | `response_format` | `text.format` | `output_config.format` | `responseJsonSchema` (`responseSchema`) | ✗ |
//! | cache breakpoint | automatic | automatic | `cache_control` | implicit | `cachePoint` |
//!
//! A field with no equivalent (✗) is a [`Problem`] naming its JSON pointer in the source
//! line; with `lossy` it is dropped and counted by kind instead. Defaults (`n: 1`,
//! `stream: false`, penalties of 0) are dropped without a word.

/// A JSON object from keys and values, moving the values in (`json!` serialises its
/// arguments by reference, copying every text).
macro_rules! obj {
    ($($k:literal => $v:expr),* $(,)?) => {{
        let mut m = serde_json::Map::new();
        $( m.insert($k.to_string(), serde_json::Value::from($v)); )*
        serde_json::Value::Object(m)
    }};
}

pub(crate) mod anthropic;
pub(crate) mod bedrock;
pub(crate) mod embed;
pub(crate) mod gemini;
pub(crate) mod openai;
pub(crate) mod responses;

use serde_json::{json, Map, Value};

use crate::{CacheMode, Shape, Target};

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
    pub cache: CacheMode,
}

/// A converted line: the new lines (one, or one per input of a split embedding request), the
/// kinds of fields dropped (`--lossy`), whether an output cap was added, cache breakpoints
/// dropped and placed.
#[derive(Debug, Default)]
pub(crate) struct Converted {
    pub lines: Vec<Value>,
    pub dropped: Vec<String>,
    pub added_max_tokens: bool,
    pub breakpoints_dropped: u64,
    /// The line was written straight to the output buffer (one line).
    pub direct: bool,
}

/// The source shapes convert reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// OpenAI chat completions, with `url` or in a `{custom_id, body}` line.
    Chat,
    /// OpenAI Responses.
    Responses,
    /// Anthropic Messages (`params`).
    Anthropic,
    /// A Claude body on Bedrock (`modelInput` with `anthropic_version`).
    BedrockClaude,
    /// An Amazon Nova body on Bedrock (`modelInput` with `messages`).
    BedrockNova,
    /// Gemini or Vertex `generateContent` (`request` with `contents`).
    Gemini,
    /// OpenAI `/v1/embeddings`.
    OpenAiEmbed,
    /// Gemini or Vertex embedding (`request` with `content`).
    GeminiEmbed,
    /// Vertex's legacy embedding instance (`{"content": "..."}`).
    VertexEmbed,
}

impl Source {
    /// The pointer of the object the request's fields are in.
    fn root(self) -> &'static str {
        match self {
            Source::Chat | Source::Responses | Source::OpenAiEmbed => "/body",
            Source::Anthropic => "/params",
            Source::BedrockClaude | Source::BedrockNova => "/modelInput",
            Source::Gemini | Source::GeminiEmbed => "/request",
            Source::VertexEmbed => "",
        }
    }

    /// The pointer of a field of the provider-free request (named as OpenAI chat names it) in
    /// this shape, for findings raised while writing.
    pub(crate) fn pointer(self, field: &str) -> String {
        let name = match (self, field) {
            (Source::Chat, "schema") => "response_format/json_schema/schema",
            (Source::Chat, f) => f,
            (Source::Responses, "schema") => "text/format/schema",
            (Source::Responses, "max_tokens") => "max_output_tokens",
            (Source::Responses, "response_format") => "text/format",
            (Source::Responses, "messages") => "input",
            (Source::Responses, f) => f,
            (Source::Anthropic | Source::BedrockClaude, f) => match f {
                "schema" => "output_config/format/schema",
                "stop" => "stop_sequences",
                "response_format" => "output_config",
                "user" => "metadata",
                "parallel_tool_calls" => "tool_choice/disable_parallel_tool_use",
                f => f,
            },
            (Source::BedrockNova, f) => match f {
                "temperature" => "inferenceConfig/temperature",
                "top_p" => "inferenceConfig/topP",
                "top_k" => "inferenceConfig/topK",
                "stop" => "inferenceConfig/stopSequences",
                "max_tokens" => "inferenceConfig/maxTokens",
                "tools" => "toolConfig/tools",
                "tool_choice" => "toolConfig/toolChoice",
                f => f,
            },
            (Source::Gemini, f) => match f {
                "messages" => "contents",
                "system" => "systemInstruction",
                "tool_choice" => "toolConfig",
                "tools" => "tools",
                "temperature" => "generationConfig/temperature",
                "top_p" => "generationConfig/topP",
                "top_k" => "generationConfig/topK",
                "stop" => "generationConfig/stopSequences",
                "max_tokens" => "generationConfig/maxOutputTokens",
                "seed" => "generationConfig/seed",
                "n" => "generationConfig/candidateCount",
                "presence_penalty" => "generationConfig/presencePenalty",
                "frequency_penalty" => "generationConfig/frequencyPenalty",
                "response_format" => "generationConfig/responseMimeType",
                "schema" => "generationConfig/responseJsonSchema",
                f => f,
            },
            (_, f) => f,
        };
        format!("{}/{name}", self.root())
    }

    /// The pointer of message (or content, or input item) `i`.
    pub(crate) fn message(self, i: usize) -> String {
        let list = match self {
            Source::Responses => "input",
            Source::Gemini => "contents",
            _ => "messages",
        };
        format!("{}/{list}/{i}", self.root())
    }
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
    if let Some(input) = obj.get("modelInput") {
        if input.get("anthropic_version").is_some() {
            return Ok(Source::BedrockClaude);
        }
        if input.get("messages").is_some() {
            return Ok(Source::BedrockNova);
        }
        return Err(p(
            "/modelInput".into(),
            "only Claude (anthropic_version) and Nova (messages) model inputs convert",
        ));
    }
    if let Some(req) = obj.get("request") {
        if req.get("contents").is_none() && req.get("content").is_some() {
            return Ok(Source::GeminiEmbed);
        }
        if req.get("messages").is_some() {
            return Err(p(
                "/request".into(),
                "Claude-on-Vertex lines do not convert (convert the Anthropic lines instead)",
            ));
        }
        return Ok(Source::Gemini);
    }
    if obj.contains_key("body") {
        let url = obj.get("url").and_then(Value::as_str).unwrap_or("");
        let endpoint = url.strip_prefix("/v1").unwrap_or(url);
        return match endpoint {
            "/chat/completions" | "" => Ok(Source::Chat),
            "/responses" => Ok(Source::Responses),
            "/embeddings" => Ok(Source::OpenAiEmbed),
            _ => Err(p(
                "/url".into(),
                format!("{url:?}: only chat completions, responses and embeddings convert"),
            )),
        };
    }
    if obj.get("content").is_some_and(Value::is_string) {
        return Ok(Source::VertexEmbed);
    }
    Err(p(
        String::new(),
        "not a request line convert reads (OpenAI chat completions, Responses or embeddings; Anthropic Messages; Gemini or Vertex; Bedrock Claude or Nova)",
    ))
}

/// Converts a chat request already read (by [`openai::read_plain`]) for `cx.to`.
///
/// With `direct`, a plain request toward Anthropic is written straight into `direct` (then
/// [`Converted::lines`] is empty and [`Converted::direct`] set).
pub(crate) fn convert_chat(
    chat: Chat,
    id: &Value,
    cx: &LineCtx<'_>,
    direct: Option<&mut Vec<u8>>,
) -> Result<Converted, Vec<Problem>> {
    let mut out = Out {
        cx,
        src: Source::Chat,
        problems: Vec::new(),
        c: Converted::default(),
        at: Vec::new(),
    };
    match direct {
        Some(buf) if cx.to.shape == Shape::Anthropic && anthropic::is_plain(&chat) => {
            out.c.direct = anthropic::write_plain(chat, id, &mut out, buf);
        }
        Some(buf)
            if matches!(cx.to.shape, Shape::Gemini | Shape::Vertex) && gemini::is_plain(&chat) =>
        {
            gemini::write_plain(chat, id, buf);
            out.c.direct = true;
        }
        _ => write_chat(chat, id, &mut out),
    }
    if out.problems.is_empty() {
        Ok(out.c)
    } else {
        Err(out.problems)
    }
}

fn write_chat(mut chat: Chat, id: &Value, out: &mut Out<'_, '_>) {
    chat.apply_cache(out);
    let v = match out.cx.to.shape {
        Shape::Chat | Shape::Body => openai::write(chat, id, out),
        Shape::Responses => responses::write(chat, id, out),
        Shape::Anthropic | Shape::BedrockClaude => anthropic::write(chat, id, out),
        Shape::BedrockNova => bedrock::write(chat, id, out),
        Shape::Gemini | Shape::Vertex => gemini::write(chat, id, out),
    };
    out.c.lines.push(v);
}

/// Converts `line` (of shape `src`, id `id`) for `cx.to`.
pub(crate) fn convert(
    mut line: Value,
    src: Source,
    id: &Value,
    cx: &LineCtx<'_>,
) -> Result<Converted, Vec<Problem>> {
    let mut out = Out {
        cx,
        src,
        problems: Vec::new(),
        c: Converted::default(),
        at: Vec::new(),
    };
    if matches!(
        src,
        Source::OpenAiEmbed | Source::GeminiEmbed | Source::VertexEmbed
    ) {
        let e = match src {
            Source::OpenAiEmbed => embed::from_openai(&mut line, &mut out),
            Source::GeminiEmbed => embed::from_gemini(&mut line, &mut out),
            _ => embed::from_vertex(&mut line, &mut out),
        };
        if out.problems.is_empty() {
            embed::write(e, id, &mut out);
        }
    } else {
        let chat = match src {
            Source::Chat => openai::read(&mut line, &mut out),
            Source::Responses => responses::read(&mut line, &mut out),
            Source::Anthropic | Source::BedrockClaude => anthropic::read(&mut line, &mut out),
            Source::BedrockNova => bedrock::read(&mut line, &mut out),
            _ => gemini::read(&mut line, &mut out),
        };
        if out.problems.is_empty() {
            write_chat(chat, id, &mut out);
        }
    }
    if out.problems.is_empty() {
        Ok(out.c)
    } else {
        Err(out.problems)
    }
}

/// The state of one line's conversion: findings, drops and counts.
pub(crate) struct Out<'a, 'c> {
    pub cx: &'a LineCtx<'c>,
    pub src: Source,
    pub problems: Vec<Problem>,
    pub c: Converted,
    /// Where a field is in this line when not where [`Source::pointer`] says (a key spelt
    /// another way).
    pub at: Vec<(&'static str, String)>,
}

impl Out<'_, '_> {
    /// The pointer of a field of the provider-free request in the source line.
    pub(crate) fn pointer(&self, field: &str) -> String {
        match self.at.iter().find(|(f, _)| *f == field) {
            Some((_, at)) => at.clone(),
            None => self.src.pointer(field),
        }
    }

    /// A field `key` at `pointer` with no equivalent: a problem, or (lossy) dropped.
    pub(crate) fn no_equivalent(&mut self, pointer: String, key: &str, why: &str) {
        if self.cx.lossy {
            self.c.dropped.push(key.to_string());
        } else {
            self.problems.push(p(pointer, format!("{key}: {why}")));
        }
    }

    /// A source field (by its provider-free name) that the target cannot say.
    pub(crate) fn unsupported(&mut self, field: &str) {
        let why = format!("no equivalent on {}", self.cx.to.label());
        self.no_equivalent(self.pointer(field), field, &why);
    }

    /// A source key read that has no place in the provider-free request.
    pub(crate) fn unknown_key(&mut self, at: String, key: &str) {
        let why = format!("no equivalent on {}", self.cx.to.label());
        self.no_equivalent(at, key, &why);
    }

    pub(crate) fn problem(&mut self, pointer: String, message: impl Into<String>) {
        self.problems.push(p(pointer, message));
    }

    pub(crate) fn target(&self) -> Target {
        self.cx.to
    }
}

/// A content part, in a shape of its own.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Part {
    Text(String),
    /// An image by URL (`https:`).
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
        is_error: bool,
    },
    /// A cache breakpoint after the part before it (its TTL, when given).
    Cache(Option<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    User,
    Assistant,
}

/// One turn: its role, parts, and the index of the source message it came from.
#[derive(Debug)]
pub(crate) struct Turn {
    pub role: Role,
    pub parts: Vec<Part>,
    pub at: usize,
}

/// The line's `body` object, or `None` with the problem reported.
pub(crate) fn body<'a>(
    line: &'a mut Value,
    out: &mut Out<'_, '_>,
) -> Option<&'a mut serde_json::Map<String, Value>> {
    let body = line.get_mut("body").and_then(Value::as_object_mut);
    if body.is_none() {
        out.problem("/body".into(), "no body object");
    }
    body
}

/// A tool definition.
#[derive(Debug, Clone)]
pub(crate) struct Tool {
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema of the input.
    pub schema: Value,
    pub strict: Option<bool>,
    /// A cache breakpoint after this tool.
    pub cache: Option<Option<String>>,
}

impl Tool {
    /// A tool definition read from `d`'s `name`, `description` and `strict`, with input
    /// schema `schema` (any object when there is none), no cache breakpoint.
    pub(crate) fn read(d: &Value, schema: Option<&Value>) -> Tool {
        Tool {
            name: str_of(d, "name"),
            description: d
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_string),
            schema: schema
                .cloned()
                .unwrap_or_else(|| serde_json::json!({"type": "object"})),
            strict: d.get("strict").and_then(Value::as_bool),
            cache: None,
        }
    }
}

/// A request in a shape of its own: what converts between the shapes.
#[derive(Debug, Default)]
pub(crate) struct Chat {
    pub model: Option<String>,
    /// Text and cache breakpoints.
    pub system: Vec<Part>,
    pub turns: Vec<Turn>,
    pub tools: Vec<Tool>,
    /// auto, any, none, or `tool:NAME`
    pub tool_choice: Option<String>,
    pub parallel_tools: Option<bool>,
    pub temperature: Option<Value>,
    pub top_p: Option<Value>,
    pub top_k: Option<Value>,
    pub stop: Vec<Value>,
    pub max_tokens: Option<u64>,
    pub seed: Option<Value>,
    pub n: Option<Value>,
    pub presence_penalty: Option<Value>,
    pub frequency_penalty: Option<Value>,
    /// `Some(None)`: any JSON object; `Some(Some(schema))`: a JSON Schema.
    pub json: Option<Option<Value>>,
    pub schema_name: Option<String>,
    /// The schema came as Gemini's `responseSchema` (the OpenAPI subset).
    pub schema_openapi: bool,
    pub user: Option<Value>,
}

pub(crate) fn p(pointer: String, message: impl Into<String>) -> Problem {
    Problem {
        pointer,
        message: message.into(),
    }
}

/// Whether `v` is a field's default, dropped without a word.
pub(crate) fn is_default(key: &str, v: &Value) -> bool {
    match key {
        "n" | "candidateCount" => v.as_u64() == Some(1),
        "stream" => v == &Value::Bool(false),
        "presence_penalty" | "frequency_penalty" | "presencePenalty" | "frequencyPenalty" => {
            v.as_f64() == Some(0.0)
        }
        "logprobs" | "responseLogprobs" => v == &Value::Bool(false),
        _ => v.is_null(),
    }
}

impl Chat {
    /// Appends `parts` as a turn of `role`, merging tool results into the user turn of tool
    /// results before, and tool calls into the assistant turn before.
    pub(crate) fn push(&mut self, role: Role, parts: Vec<Part>, at: usize) {
        let tool_result = |p: &Part| matches!(p, Part::ToolResult { .. });
        let merge = match (role, parts.first(), self.turns.last()) {
            (Role::User, Some(first), Some(prev)) if tool_result(first) => {
                prev.role == Role::User && prev.parts.iter().all(tool_result)
            }
            (Role::Assistant, Some(Part::ToolCall { .. }), Some(prev)) => {
                prev.role == Role::Assistant
                    && parts.iter().all(|p| matches!(p, Part::ToolCall { .. }))
            }
            _ => false,
        };
        if merge {
            if let Some(prev) = self.turns.last_mut() {
                prev.parts.extend(parts);
                return;
            }
        }
        self.turns.push(Turn { role, parts, at });
    }

    /// The model the target line names: the mapped one, else the source's.
    pub(crate) fn model_for(&self, cx: &LineCtx<'_>) -> Option<String> {
        let m = self.model.as_deref().unwrap_or("");
        (cx.model)(m).or_else(|| self.model.clone())
    }

    /// The system prompt's texts, without breakpoints.
    /// Text turns and system texts, no tools, structured output or `user`: what the
    /// straight-to-bytes writers take (each target adds its own sampling conditions).
    pub(crate) fn is_plain_text(&self) -> bool {
        let text = |p: &Part| matches!(p, Part::Text(_));
        self.tools.is_empty()
            && self.tool_choice.is_none()
            && self.parallel_tools.is_none()
            && self.json.is_none()
            && self.user.is_none()
            && self.system.iter().all(text)
            && self.turns.iter().all(|t| t.parts.iter().all(text))
    }

    pub(crate) fn system_texts(&self) -> Vec<&str> {
        self.system
            .iter()
            .filter_map(|p| match p {
                Part::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Applies `--cache`: toward targets that take breakpoints they stay (`keep`, `auto`);
    /// toward the others, and with `none`, they are removed and counted.
    fn apply_cache(&mut self, out: &mut Out<'_, '_>) {
        let takes = matches!(
            out.cx.to.shape,
            Shape::Anthropic | Shape::BedrockClaude | Shape::BedrockNova
        );
        if takes && out.cx.cache != CacheMode::None {
            return;
        }
        let mut n = 0u64;
        let is_cache = |p: &Part| matches!(p, Part::Cache(_));
        n += self.system.iter().filter(|p| is_cache(p)).count() as u64;
        self.system.retain(|p| !is_cache(p));
        for t in &mut self.turns {
            n += t.parts.iter().filter(|p| is_cache(p)).count() as u64;
            t.parts.retain(|p| !is_cache(p));
        }
        for t in &mut self.tools {
            n += u64::from(t.cache.take().is_some());
        }
        out.c.breakpoints_dropped += n;
    }

    /// The target's output cap: the line's, else the default (counted), else a problem when
    /// the target requires one.
    pub(crate) fn cap_or_default(
        &self,
        model: &str,
        required: bool,
        out: &mut Out<'_, '_>,
    ) -> Option<u64> {
        if self.max_tokens.is_some() || !required {
            return self.max_tokens;
        }
        let d = (out.cx.default_max_tokens)(model);
        out.c.added_max_tokens = d.is_some();
        if d.is_none() {
            let label = out.cx.to.label();
            out.problem(
                out.pointer("max_tokens"),
                format!("{label} requires max_tokens: give --default-max-tokens (the model's output limit is not known)"),
            );
        }
        d
    }

    /// Sampling and penalty fields the target has no place for.
    pub(crate) fn refuse(&self, fields: &[&str], out: &mut Out<'_, '_>) {
        for f in fields {
            let present = match *f {
                "seed" => self.seed.is_some(),
                "n" => self.n.is_some(),
                "presence_penalty" => self.presence_penalty.is_some(),
                "frequency_penalty" => self.frequency_penalty.is_some(),
                "top_k" => self.top_k.is_some(),
                "stop" => !self.stop.is_empty(),
                "user" => self.user.is_some(),
                "parallel_tool_calls" => self.parallel_tools == Some(false),
                "response_format" => self.json.is_some(),
                _ => false,
            };
            if present {
                out.unsupported(f);
            }
        }
    }

    /// Temperature for a target that takes 0 to 1.
    pub(crate) fn temperature_0_1(&self, out: &mut Out<'_, '_>) -> Option<Value> {
        let t = self.temperature.as_ref()?;
        if t.as_f64().is_some_and(|t| t > 1.0) {
            let label = out.cx.to.label();
            out.no_equivalent(
                out.pointer("temperature"),
                "temperature",
                &format!("above 1: {label} takes 0 to 1"),
            );
            return None;
        }
        Some(t.clone())
    }
}

/// Writes `v` as JSON into `buf` with the writer every converted line goes through (the
/// straight-to-bytes paths write what the value path writes).
pub(crate) fn write_json<T: serde::Serialize + ?Sized>(buf: &mut Vec<u8>, v: &T) {
    let _ = simd_json::serde::to_writer(&mut *buf, v);
}

pub(crate) fn put(m: &mut Map<String, Value>, k: &str, v: &Option<Value>) {
    if let Some(v) = v {
        m.insert(k.into(), v.clone());
    }
}

pub(crate) fn str_of(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

/// Tool-call arguments (a JSON string) as the object the other shapes carry.
pub(crate) fn parse_args(args: &str) -> Option<Value> {
    serde_json::from_str::<Value>(args).ok()
}

/// A tool result's text as the object Gemini's `functionResponse` needs: the JSON object it
/// is, else `{"content": text}`.
pub(crate) fn result_object(content: &str) -> Value {
    match serde_json::from_str::<Value>(content) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({ "content": content }),
    }
}

/// The reverse of [`result_object`].
pub(crate) fn result_text(v: &Value) -> String {
    match v {
        Value::Object(o) if o.len() == 1 => match o.get("content") {
            Some(Value::String(s)) => s.clone(),
            _ => v.to_string(),
        },
        Value::String(s) => s.clone(),
        _ => v.to_string(),
    }
}

/// `data:<media type>;base64,<data>`.
pub(crate) fn parse_data_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("data:")?;
    let (head, data) = rest.split_once(',')?;
    let mt = head.strip_suffix(";base64")?;
    Some((mt.to_string(), data.to_string()))
}

/// An image URL as a part: a data URL inline, http(s) by URL, else `None`.
pub(crate) fn image_part(url: &str) -> Option<Part> {
    match parse_data_url(url) {
        Some((mt, data)) => Some(Part::ImageData(mt, data)),
        None if url.starts_with("https://") || url.starts_with("http://") => {
            Some(Part::ImageUrl(url.to_string()))
        }
        None => None,
    }
}

/// The image media type a URL's extension shows.
pub(crate) fn media_type_of(url: &str) -> Option<&'static str> {
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

/// The target's name for a tool choice of `auto`, `any`, `none` or `tool:NAME`.
pub(crate) fn tool_choice_openai(tc: &str, flat: bool) -> Value {
    match tc.strip_prefix("tool:") {
        Some(n) if flat => json!({"type": "function", "name": n}),
        Some(n) => json!({"type": "function", "function": {"name": n}}),
        None if tc == "any" => json!("required"),
        None => json!(tc),
    }
}

/// OpenAI's tool choice (chat or Responses) in the provider-free form.
pub(crate) fn tool_choice_from_openai(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if s == "required" => Some("any".into()),
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o
            .get("function")
            .and_then(|f| f.get("name"))
            .or_else(|| o.get("name"))
            .and_then(Value::as_str)
            .map(|n| format!("tool:{n}")),
        _ => None,
    }
}

/// A structured-output request in OpenAI's `response_format` (chat) or `text.format`
/// (Responses) form.
pub(crate) fn read_openai_format(c: &mut Chat, v: &Value, flat: bool) {
    match v.get("type").and_then(Value::as_str) {
        Some("json_schema") => {
            let js = if flat { Some(v) } else { v.get("json_schema") };
            c.schema_name = js
                .and_then(|j| j.get("name"))
                .and_then(Value::as_str)
                .map(str::to_string);
            c.json = Some(js.and_then(|j| j.get("schema")).cloned());
        }
        Some("json_object") => c.json = Some(None),
        _ => {}
    }
}

/// Whether the target refuses image parts (OpenRouter's batch is text only).
pub(crate) fn text_only(out: &Out<'_, '_>) -> bool {
    out.cx.to.provider().is_some_and(|p| p.text_only)
}
