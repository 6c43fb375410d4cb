//! Reading one request or result line: its id, and for results the status, usage, model and
//! answer text, for every provider layout (PROVIDERS.md §1.3–§8.3, Bedrock §13, vLLM §15,
//! and the Gemini shapes of §17: embeddings with a string `tokenCount`, `metadata.key`).
//!
//! Result lines take a typed, borrowing fast path (serde derive, unknown fields skipped without
//! being built); a line that is valid JSON but whose known fields have unexpected types falls
//! back to a `serde_json::Value` walk that still finds the id and the status.

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::Status;

/// Tokens the provider reported for one result (or a sum of them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Input tokens, cached ones included.
    pub input: u64,
    /// Input tokens read from a cache.
    pub cached: u64,
    /// Input tokens written to a cache at a write price (Anthropic cache creation, OpenAI
    /// `cache_write_tokens`), part of `input`.
    pub cache_write: u64,
    /// The part of `cache_write` at the 1-hour TTL (Anthropic `ephemeral_1h_input_tokens`).
    pub cache_write_1h: u64,
    /// Output tokens, reasoning included.
    pub output: u64,
    /// Reasoning (thinking) tokens, part of `output`.
    pub reasoning: u64,
    /// Results that carried usage.
    pub results: u64,
}

impl Usage {
    /// Adds `o` to `self`.
    pub fn add(&mut self, o: &Usage) {
        self.input += o.input;
        self.cached += o.cached;
        self.cache_write += o.cache_write;
        self.cache_write_1h += o.cache_write_1h;
        self.output += o.output;
        self.reasoning += o.reasoning;
        self.results += o.results;
    }
}

/// What a request line holds for the join.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RequestId<'a> {
    /// The id: decoded value and the raw JSON string literal's byte range in the content.
    Id {
        id: Cow<'a, str>,
        raw_start: usize,
        raw_len: usize,
    },
    /// Not valid UTF-8 (the message says where).
    InvalidUtf8(String),
    /// Not one JSON value.
    InvalidJson(String),
    /// Valid JSON without `custom_id` or `key`.
    MissingId,
    /// Valid JSON, but not an object.
    NotObject,
    /// The id is there but not a string.
    InvalidId,
}

impl RequestId<'_> {
    /// Why the line cannot be joined by id (`None` for an id).
    pub(crate) fn problem(&self) -> Option<crate::Problem> {
        use crate::Problem;
        Some(match self {
            RequestId::Id { .. } => return None,
            RequestId::InvalidUtf8(_) => Problem::InvalidUtf8,
            RequestId::InvalidJson(_) => Problem::InvalidJson,
            RequestId::MissingId => Problem::MissingId,
            RequestId::NotObject => Problem::NotObject,
            RequestId::InvalidId => Problem::InvalidId,
        })
    }
}

/// `key` of a `metadata` object, when it is one.
fn metadata_key(raw: &RawValue) -> Option<&RawValue> {
    #[derive(Deserialize)]
    struct Meta<'a> {
        #[serde(borrow)]
        key: Option<&'a RawValue>,
    }
    if !raw.get().starts_with('{') {
        return None;
    }
    non_null(serde_json::from_str::<Meta<'_>>(raw.get()).ok()?.key)
}

/// Finds the id of a request line through the one request-line model (batchkit-line): the
/// id field of the line's shape (`custom_id`, Gemini's `key` or `metadata.key`, Bedrock's
/// `recordId`), or for a line of no known shape the first id field it has.
///
/// The parse checks the whole line is UTF-8 and one JSON value (a line that is not must
/// never be copied into a merged JSON line); the id is borrowed from the line, as its literal
/// stands, when it has no escapes.
pub(crate) fn request_id(content: &[u8]) -> RequestId<'_> {
    use batchkit_line::prelude::*;
    let read = batchkit_line::read_located(content, |root, at| {
        if !root.is_object() {
            return RequestId::NotObject;
        }
        let Some((v, key)) = batchkit_line::RequestLine::find_id(root) else {
            return RequestId::MissingId;
        };
        let Some(id) = v.into_string() else {
            return RequestId::InvalidId;
        };
        match at.top_level_string(key, id) {
            Some((raw_start, raw_len)) => {
                let literal = &content[raw_start + 1..raw_start + raw_len - 1];
                let id = match std::str::from_utf8(literal) {
                    Ok(s) if !literal.contains(&b'\\') => Cow::Borrowed(s),
                    _ => Cow::Owned(id.to_string()),
                };
                RequestId::Id {
                    id,
                    raw_start,
                    raw_len,
                }
            }
            // Not where the parse says (cannot happen for a parsed string).
            None => RequestId::InvalidId,
        }
    });
    match read {
        Ok(r) => r,
        Err(e) if e.kind == batchkit_json::syntax::SyntaxKind::InvalidUtf8 => {
            RequestId::InvalidUtf8(e.message)
        }
        Err(e) => RequestId::InvalidJson(e.message),
    }
}

/// Everything the join keeps about one result line.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ResultInfo<'a> {
    /// Decoded id, when the line has one.
    pub id: Option<Cow<'a, str>>,
    /// Why the line cannot be joined (`None` when it can).
    pub unjoinable: Option<Unjoinable>,
    /// Status of the request.
    pub status: Option<Status>,
    /// Reported usage, when any.
    pub usage: Option<Usage>,
    /// Model that answered, when the line says.
    pub model: Option<Cow<'a, str>>,
    /// The answer text as one JSON string literal.
    pub text: Option<Text>,
}

/// Why a result line cannot be joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unjoinable {
    InvalidUtf8(String),
    InvalidJson(String),
    NotObject,
    /// Vertex output row without an echoed `custom_id`/`key`.
    VertexNoId,
    MissingId,
    InvalidId,
}

/// An answer text as a JSON string literal: a slice of the line, or re-encoded when it was
/// made of several parts.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Text {
    Raw { start: usize, len: usize },
    Owned(String),
}

#[derive(Deserialize)]
struct ResLine<'a> {
    #[serde(borrow)]
    custom_id: Option<&'a RawValue>,
    #[serde(borrow)]
    key: Option<&'a RawValue>,
    /// Amazon Bedrock (§13).
    #[serde(rename = "recordId", borrow)]
    record_id: Option<&'a RawValue>,
    /// Gemini inline-style results carry the id as `metadata.key` (§17.3).
    #[serde(borrow)]
    metadata: Option<&'a RawValue>,
    /// Amazon Bedrock's answer, in the model's own shape (§13).
    #[serde(rename = "modelOutput", borrow)]
    model_output: Option<BOut<'a>>,
    #[serde(borrow)]
    response: Option<Resp<'a>>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
    #[serde(borrow)]
    result: Option<AResult<'a>>,
    #[serde(borrow)]
    status: Option<&'a RawValue>,
    processed_time: Option<IgnoredAny>,
    request: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct Resp<'a> {
    status_code: Option<u64>,
    #[serde(borrow)]
    body: Option<Body<'a>>,
    /// vLLM's older layout (§15): the chat completion itself in `response`.
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    usage: Option<OUsage>,
    #[serde(borrow)]
    choices: Option<Vec<Choice<'a>>>,
    /// Gemini embeddings (§17.2): a count, written as a string.
    #[serde(rename = "tokenCount", borrow)]
    token_count: Option<&'a RawValue>,
    #[serde(borrow)]
    candidates: Option<Vec<Cand<'a>>>,
    #[serde(rename = "usageMetadata")]
    usage_metadata: Option<GUsage>,
    #[serde(rename = "modelVersion", borrow)]
    model_version: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    usage: Option<OUsage>,
    #[serde(borrow)]
    choices: Option<Vec<Choice<'a>>>,
    #[serde(borrow)]
    output: Option<Vec<OutItem<'a>>>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(borrow)]
    message: Option<ChatMsg<'a>>,
}

#[derive(Deserialize)]
struct ChatMsg<'a> {
    #[serde(borrow)]
    content: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct OutItem<'a> {
    #[serde(borrow)]
    content: Option<Vec<TypedText<'a>>>,
}

#[derive(Deserialize)]
struct TypedText<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    text: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
struct OUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    prompt_tokens_details: Option<Details>,
    input_tokens_details: Option<Details>,
    completion_tokens_details: Option<Details>,
    output_tokens_details: Option<Details>,
    cache_creation_input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation: Option<CacheCreation>,
}

#[derive(Deserialize)]
struct Details {
    cached_tokens: Option<u64>,
    cache_write_tokens: Option<u64>,
    reasoning_tokens: Option<u64>,
}

/// Anthropic's breakdown of cache writes by TTL.
#[derive(Deserialize, Default, Clone, Copy)]
struct CacheCreation {
    ephemeral_1h_input_tokens: Option<u64>,
}

/// Usage with Anthropic's split of input: `input_tokens` excludes cache writes and reads.
fn anthropic_usage(
    input: Option<u64>,
    write: Option<u64>,
    read: Option<u64>,
    creation: Option<CacheCreation>,
    output: Option<u64>,
) -> Usage {
    let (write, read) = (write.unwrap_or(0), read.unwrap_or(0));
    Usage {
        input: input.unwrap_or(0) + write + read,
        cached: read,
        cache_write: write,
        cache_write_1h: creation
            .and_then(|c| c.ephemeral_1h_input_tokens)
            .unwrap_or(0)
            .min(write),
        output: output.unwrap_or(0),
        reasoning: 0,
        results: 1,
    }
}

#[derive(Deserialize)]
#[allow(non_snake_case)]
struct GUsage {
    promptTokenCount: Option<u64>,
    cachedContentTokenCount: Option<u64>,
    candidatesTokenCount: Option<u64>,
    thoughtsTokenCount: Option<u64>,
    toolUsePromptTokenCount: Option<u64>,
}

#[derive(Deserialize)]
struct Cand<'a> {
    #[serde(borrow)]
    content: Option<GContent<'a>>,
}

#[derive(Deserialize)]
struct GContent<'a> {
    #[serde(borrow)]
    parts: Option<Vec<Part<'a>>>,
}

#[derive(Deserialize)]
struct Part<'a> {
    #[serde(borrow)]
    text: Option<&'a RawValue>,
    thought: Option<bool>,
}

#[derive(Deserialize)]
struct AResult<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    message: Option<AMessage<'a>>,
}

#[derive(Deserialize)]
struct AMessage<'a> {
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow)]
    content: Option<Vec<TypedText<'a>>>,
    usage: Option<OUsage>,
}

/// Bedrock `modelOutput`: Claude (`content`, `usage`), Nova (`output.message.content`,
/// `usage.inputTokens`), Llama (`generation`, `prompt_token_count`), Titan
/// (`inputTextTokenCount`, `results[].outputText`).
#[derive(Deserialize)]
#[allow(non_snake_case)]
struct BOut<'a> {
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow)]
    content: Option<Vec<TypedText<'a>>>,
    usage: Option<BUsage>,
    #[serde(borrow)]
    output: Option<NovaOut<'a>>,
    #[serde(borrow)]
    generation: Option<&'a RawValue>,
    prompt_token_count: Option<u64>,
    generation_token_count: Option<u64>,
    inputTextTokenCount: Option<u64>,
    #[serde(borrow)]
    results: Option<Vec<TitanResult<'a>>>,
}

#[derive(Deserialize)]
#[allow(non_snake_case)]
struct BUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation: Option<CacheCreation>,
    inputTokens: Option<u64>,
    outputTokens: Option<u64>,
    cacheReadInputTokenCount: Option<u64>,
    cacheWriteInputTokenCount: Option<u64>,
}

#[derive(Deserialize)]
struct NovaOut<'a> {
    #[serde(borrow)]
    message: Option<NovaMsg<'a>>,
}

#[derive(Deserialize)]
struct NovaMsg<'a> {
    #[serde(borrow)]
    content: Option<Vec<TypedText<'a>>>,
}

#[derive(Deserialize)]
#[allow(non_snake_case)]
struct TitanResult<'a> {
    tokenCount: Option<u64>,
    #[serde(rename = "outputText", borrow)]
    output_text: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ErrObj<'a> {
    #[serde(borrow)]
    code: Option<&'a RawValue>,
}

/// The few facts the status rules need, gathered from either parse path.
#[derive(Default)]
struct Facts<'a> {
    anthropic_type: Option<Cow<'a, str>>,
    /// `error` present and not null; with its `code` when it is a string.
    error: Option<Option<Cow<'a, str>>>,
    /// `status` as Vertex writes it (a string).
    status_str: Option<bool>,
    /// `status` present, not null and not a string (Gemini's `google.rpc.Status`).
    status_obj: bool,
    response: bool,
    status_code: Option<u64>,
    vertex_shape: bool,
}

/// The status rules of the issue: Anthropic `result.type`; OpenAI-style `error.code` then
/// `response.status_code`; Vertex `status` string; Gemini `response` vs `status`/`error`.
fn classify(f: &Facts<'_>) -> Status {
    if let Some(t) = &f.anthropic_type {
        return match t.as_ref() {
            "succeeded" => Status::Succeeded,
            "expired" => Status::Expired,
            "canceled" | "cancelled" => Status::Canceled,
            _ => Status::Errored,
        };
    }
    if let Some(code) = &f.error {
        return match code.as_deref() {
            Some("batch_expired") => Status::Expired,
            Some("batch_cancelled") | Some("batch_canceled") => Status::Canceled,
            _ => Status::Errored,
        };
    }
    if let Some(empty) = f.status_str {
        return if empty && f.response {
            Status::Succeeded
        } else {
            Status::Errored
        };
    }
    if f.status_obj {
        return Status::Errored;
    }
    if f.response {
        return match f.status_code {
            Some(c) if (200..300).contains(&c) => Status::Succeeded,
            Some(_) => Status::Errored,
            None => Status::Succeeded,
        };
    }
    Status::Errored
}

/// Reads one result line. A line that is not UTF-8 is unjoinable (see [`request_id`]).
pub(crate) fn result_info(content: &[u8]) -> ResultInfo<'_> {
    if let Err(e) = std::str::from_utf8(content) {
        return ResultInfo {
            unjoinable: Some(Unjoinable::InvalidUtf8(utf8_message(&e))),
            ..Default::default()
        };
    }
    if batchkit_json::depth_exceeds(content) {
        return ResultInfo {
            unjoinable: Some(Unjoinable::InvalidJson(batchkit_json::depth_message())),
            ..Default::default()
        };
    }
    if !is_object(content) {
        let unjoinable = match serde_json::from_slice::<IgnoredAny>(content) {
            Ok(_) => Unjoinable::NotObject,
            Err(e) => Unjoinable::InvalidJson(e.to_string()),
        };
        return ResultInfo {
            unjoinable: Some(unjoinable),
            ..Default::default()
        };
    }
    match serde_json::from_slice::<ResLine<'_>>(content) {
        Ok(r) => typed(content, r),
        // Repeated keys (first value kept) and numbers beyond f64 are read the way every
        // command reads them.
        Err(e) => match batchkit_json::parse_value(content) {
            Ok(p) => fallback(p.value),
            Err(_) => ResultInfo {
                unjoinable: Some(Unjoinable::InvalidJson(e.to_string())),
                ..Default::default()
            },
        },
    }
}

fn typed<'a>(content: &'a [u8], r: ResLine<'a>) -> ResultInfo<'a> {
    let mut f = Facts::default();
    let mut info = ResultInfo::default();
    let raw_id = non_null(r.custom_id)
        .or(non_null(r.key))
        .or(non_null(r.record_id))
        .or_else(|| metadata_key(non_null(r.metadata)?));
    if let Some(raw) = non_null(r.error) {
        let code = serde_json::from_str::<ErrObj<'_>>(raw.get())
            .ok()
            .and_then(|e| non_null(e.code))
            .and_then(decode_str);
        f.error = Some(code);
    }
    if let Some(raw) = non_null(r.status) {
        if raw.get().starts_with('"') {
            f.status_str = Some(decode_str(raw).is_some_and(|s| s.is_empty()));
        } else {
            f.status_obj = true;
        }
    }
    f.vertex_shape = r.processed_time.is_some() || (f.status_str.is_some() && r.request.is_some());
    let mut texts: Vec<&RawValue> = Vec::new();
    if let Some(a) = r.result {
        f.anthropic_type = Some(a.kind.unwrap_or(Cow::Borrowed("")));
        if let Some(m) = a.message {
            info.model = m.model;
            if let Some(u) = m.usage {
                info.usage = Some(anthropic_usage(
                    u.input_tokens,
                    u.cache_creation_input_tokens,
                    u.cache_read_input_tokens,
                    u.cache_creation,
                    u.output_tokens,
                ));
            }
            for block in m.content.into_iter().flatten() {
                if block.kind.as_deref() == Some("text") {
                    texts.extend(block.text);
                }
            }
        }
    }
    if let Some(out) = r.model_output {
        f.response = true;
        bedrock_output(out, &mut info, &mut texts);
    }
    if let Some(resp) = r.response {
        f.response = true;
        f.status_code = resp.status_code;
        // vLLM's older layout: the completion object is the response.
        if resp.model.is_some() {
            info.model = resp.model;
        }
        if let Some(u) = &resp.usage {
            info.usage = Some(openai_usage(u));
        }
        if let Some(choice) = resp.choices.and_then(|c| c.into_iter().next()) {
            texts.extend(choice.message.and_then(|m| m.content));
        }
        if let Some(n) = resp.token_count.and_then(count_of) {
            info.usage = Some(Usage {
                input: n,
                results: 1,
                ..Usage::default()
            });
        }
        if let Some(body) = resp.body {
            info.model = body.model;
            if let Some(u) = body.usage {
                info.usage = Some(openai_usage(&u));
            }
            if let Some(choice) = body.choices.and_then(|c| c.into_iter().next()) {
                texts.extend(choice.message.and_then(|m| m.content));
            }
            for item in body.output.into_iter().flatten() {
                for c in item.content.into_iter().flatten() {
                    if c.kind.as_deref() == Some("output_text") {
                        texts.extend(c.text);
                    }
                }
            }
        }
        if let Some(u) = resp.usage_metadata {
            let thoughts = u.thoughtsTokenCount.unwrap_or(0);
            info.usage = Some(Usage {
                input: u.promptTokenCount.unwrap_or(0) + u.toolUsePromptTokenCount.unwrap_or(0),
                cached: u.cachedContentTokenCount.unwrap_or(0),
                output: u.candidatesTokenCount.unwrap_or(0) + thoughts,
                reasoning: thoughts,
                results: 1,
                ..Usage::default()
            });
        }
        if let Some(m) = resp.model_version {
            // Vertex writes `gemini-2.0-flash-001@default`.
            info.model = Some(match m.find('@') {
                Some(i) => Cow::Owned(m[..i].to_string()),
                None => m,
            });
        }
        if let Some(c) = resp.candidates.and_then(|c| c.into_iter().next()) {
            for p in c.content.and_then(|c| c.parts).into_iter().flatten() {
                if p.thought != Some(true) {
                    texts.extend(p.text);
                }
            }
        }
    }
    info.status = Some(classify(&f));
    info.text = join_texts(content, &texts);
    set_id(&mut info, raw_id, f.vertex_shape);
    info
}

/// Model, usage and text of a Bedrock `modelOutput`.
fn bedrock_output<'a>(out: BOut<'a>, info: &mut ResultInfo<'a>, texts: &mut Vec<&'a RawValue>) {
    info.model = out.model;
    let mut usage = None;
    if let Some(u) = out.usage {
        usage = Some(anthropic_usage(
            u.input_tokens.or(u.inputTokens),
            u.cache_creation_input_tokens
                .or(u.cacheWriteInputTokenCount),
            u.cache_read_input_tokens.or(u.cacheReadInputTokenCount),
            u.cache_creation,
            u.output_tokens.or(u.outputTokens),
        ));
    } else if out.prompt_token_count.is_some() || out.generation_token_count.is_some() {
        usage = Some(Usage {
            input: out.prompt_token_count.unwrap_or(0),
            output: out.generation_token_count.unwrap_or(0),
            results: 1,
            ..Usage::default()
        });
    } else if let Some(n) = out.inputTextTokenCount {
        let output = out
            .results
            .iter()
            .flatten()
            .filter_map(|r| r.tokenCount)
            .sum();
        usage = Some(Usage {
            input: n,
            output,
            results: 1,
            ..Usage::default()
        });
    }
    info.usage = usage;
    let blocks = out.content.into_iter().flatten().chain(
        out.output
            .and_then(|o| o.message)
            .and_then(|m| m.content)
            .into_iter()
            .flatten(),
    );
    for block in blocks {
        // Claude blocks have a `type`; Nova's text blocks have none.
        if matches!(block.kind.as_deref(), Some("text") | None) {
            texts.extend(block.text);
        }
    }
    texts.extend(out.generation);
    for r in out.results.into_iter().flatten() {
        texts.extend(r.output_text);
    }
}

/// A token count written as a number or as a string of digits.
fn count_of(raw: &RawValue) -> Option<u64> {
    let s = raw.get();
    match s.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
        Some(digits) => digits.parse().ok(),
        None => s.parse().ok(),
    }
}

fn openai_usage(u: &OUsage) -> Usage {
    let details = u
        .prompt_tokens_details
        .as_ref()
        .or(u.input_tokens_details.as_ref());
    let cached = details.and_then(|d| d.cached_tokens);
    let cache_write = details.and_then(|d| d.cache_write_tokens).unwrap_or(0);
    let reasoning = u
        .completion_tokens_details
        .as_ref()
        .or(u.output_tokens_details.as_ref())
        .and_then(|d| d.reasoning_tokens);
    Usage {
        input: u.prompt_tokens.or(u.input_tokens).unwrap_or(0),
        cached: cached.unwrap_or(0),
        cache_write,
        cache_write_1h: 0,
        output: u.completion_tokens.or(u.output_tokens).unwrap_or(0),
        reasoning: reasoning.unwrap_or(0),
        results: 1,
    }
}

fn set_id<'a>(info: &mut ResultInfo<'a>, raw: Option<&'a RawValue>, vertex: bool) {
    match raw {
        Some(raw) => match decode_str(raw) {
            Some(id) => info.id = Some(id),
            None => info.unjoinable = Some(Unjoinable::InvalidId),
        },
        None if vertex => info.unjoinable = Some(Unjoinable::VertexNoId),
        None => info.unjoinable = Some(Unjoinable::MissingId),
    }
}

/// Joins the string parts of an answer into one JSON string literal.
fn join_texts(content: &[u8], parts: &[&RawValue]) -> Option<Text> {
    let strings: Vec<&RawValue> = parts
        .iter()
        .copied()
        .filter(|r| r.get().starts_with('"'))
        .collect();
    match strings.as_slice() {
        [] => None,
        [one] => Some(Text::Raw {
            start: offset_in(content, one.get()),
            len: one.get().len(),
        }),
        many => {
            let mut s = String::new();
            for r in many {
                s.push_str(&decode_str(r).unwrap_or_default());
            }
            Some(Text::Owned(
                serde_json::to_string(&s).expect("a string serialises"),
            ))
        }
    }
}

/// The slow path for valid JSON whose known fields have unexpected types: id and status only.
fn fallback(v: serde_json::Value) -> ResultInfo<'static> {
    use serde_json::Value;
    let Value::Object(o) = v else {
        return ResultInfo {
            unjoinable: Some(Unjoinable::NotObject),
            ..Default::default()
        };
    };
    let mut f = Facts::default();
    let get = |k: &str| o.get(k).filter(|v| !v.is_null());
    if let Some(r) = get("result") {
        f.anthropic_type = Some(Cow::Owned(
            r.get("type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        ));
    }
    if let Some(e) = get("error") {
        f.error = Some(
            e.get("code")
                .and_then(Value::as_str)
                .map(|s| Cow::Owned(s.to_string())),
        );
    }
    match get("status") {
        Some(Value::String(s)) => f.status_str = Some(s.is_empty()),
        Some(_) => f.status_obj = true,
        None => {}
    }
    if let Some(r) = get("response") {
        f.response = true;
        f.status_code = r.get("status_code").and_then(Value::as_u64);
    }
    f.vertex_shape =
        o.contains_key("processed_time") || (f.status_str.is_some() && o.contains_key("request"));
    let mut info = ResultInfo {
        status: Some(classify(&f)),
        ..Default::default()
    };
    let meta_key = get("metadata")
        .and_then(|m| m.get("key"))
        .filter(|v| !v.is_null());
    if get("modelOutput").is_some() {
        f.response = true;
        info.status = Some(classify(&f));
    }
    match get("custom_id")
        .or(get("key"))
        .or(get("recordId"))
        .or(meta_key)
    {
        Some(Value::String(s)) => info.id = Some(Cow::Owned(s.clone())),
        Some(_) => info.unjoinable = Some(Unjoinable::InvalidId),
        None if f.vertex_shape => info.unjoinable = Some(Unjoinable::VertexNoId),
        None => info.unjoinable = Some(Unjoinable::MissingId),
    }
    info
}

/// Where a line stops being UTF-8, for a diagnostic.
fn utf8_message(e: &std::str::Utf8Error) -> String {
    format!("invalid UTF-8 at byte {} of the line", e.valid_up_to())
}

/// Serde's derived structs also accept arrays (fields by position); only objects are lines.
fn is_object(content: &[u8]) -> bool {
    content.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

fn non_null(r: Option<&RawValue>) -> Option<&RawValue> {
    r.filter(|r| r.get() != "null")
}

/// Decodes a raw JSON string literal, borrowing when it has no escapes.
fn decode_str(raw: &RawValue) -> Option<Cow<'_, str>> {
    let s = raw.get();
    if !s.starts_with('"') {
        return None;
    }
    let inner = &s[1..s.len() - 1];
    if !inner.contains('\\') {
        return Some(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(s).ok().map(Cow::Owned)
}

/// Byte offset of `part` (a slice borrowed from `whole`) inside `whole`.
fn offset_in(whole: &[u8], part: &str) -> usize {
    let off = (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize);
    debug_assert!(off + part.len() <= whole.len());
    off
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(line: &str) -> Status {
        result_info(line.as_bytes()).status.unwrap()
    }

    #[test]
    fn openai_shapes() {
        let ok = r#"{"id":"b","custom_id":"r2","response":{"status_code":200,"request_id":"x","body":{"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello."}}],"usage":{"prompt_tokens":22,"completion_tokens":2,"total_tokens":24,"prompt_tokens_details":{"cached_tokens":5},"completion_tokens_details":{"reasoning_tokens":1}}}},"error":null}"#;
        let i = result_info(ok.as_bytes());
        assert_eq!(i.id.as_deref(), Some("r2"));
        assert_eq!(i.status, Some(Status::Succeeded));
        assert_eq!(i.model.as_deref(), Some("gpt-4o-mini"));
        assert_eq!(
            i.usage,
            Some(Usage {
                input: 22,
                cached: 5,
                output: 2,
                reasoning: 1,
                results: 1,
                ..Usage::default()
            })
        );
        let Some(Text::Raw { start, len }) = i.text else {
            panic!("text")
        };
        assert_eq!(&ok[start..start + len], "\"Hello.\"");
        assert_eq!(
            status(
                r#"{"custom_id":"a","response":{"status_code":400,"body":{"error":{"message":"m"}}},"error":null}"#
            ),
            Status::Errored
        );
        assert_eq!(
            status(
                r#"{"custom_id":"a","response":null,"error":{"code":"batch_expired","message":"m"}}"#
            ),
            Status::Expired
        );
        assert_eq!(
            status(r#"{"custom_id":"a","response":null,"error":{"code":"batch_cancelled"}}"#),
            Status::Canceled
        );
        assert_eq!(
            status(r#"{"custom_id":"a","error":{"code":"invalid_model","message":"m"}}"#),
            Status::Errored
        );
    }

    #[test]
    fn anthropic_gemini_vertex() {
        let a = r#"{"custom_id":"x","result":{"type":"succeeded","message":{"model":"claude","content":[{"type":"text","text":"a"},{"type":"tool_use"},{"type":"text","text":"b\n"}],"usage":{"input_tokens":11,"output_tokens":36,"cache_read_input_tokens":4,"cache_creation_input_tokens":1}}}}"#;
        let i = result_info(a.as_bytes());
        assert_eq!(i.status, Some(Status::Succeeded));
        assert_eq!(i.text, Some(Text::Owned("\"ab\\n\"".into())));
        assert_eq!(i.usage.unwrap().input, 16);
        assert_eq!(i.usage.unwrap().cached, 4);
        assert_eq!(i.usage.unwrap().cache_write, 1);
        // The TTL breakdown: 1-hour writes counted apart (never more than the writes).
        let a1 = a.replace(
            r#""cache_creation_input_tokens":1"#,
            r#""cache_creation_input_tokens":30,"cache_creation":{"ephemeral_5m_input_tokens":10,"ephemeral_1h_input_tokens":20}"#,
        );
        let u = result_info(a1.as_bytes()).usage.unwrap();
        assert_eq!((u.cache_write, u.cache_write_1h, u.input), (30, 20, 45));
        assert_eq!(
            status(r#"{"custom_id":"x","result":{"type":"expired"}}"#),
            Status::Expired
        );
        assert_eq!(
            status(r#"{"custom_id":"x","result":{"type":"canceled"}}"#),
            Status::Canceled
        );
        let g = r#"{"response":{"usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":11,"thoughtsTokenCount":829},"candidates":[{"content":{"parts":[{"text":"t","thought":true},{"text":"AI."}]}}],"modelVersion":"gemini-3.7-flash"},"key":"request_1"}"#;
        let i = result_info(g.as_bytes());
        assert_eq!(i.id.as_deref(), Some("request_1"));
        assert_eq!(i.usage.unwrap().output, 840);
        assert!(matches!(i.text, Some(Text::Raw { .. })));
        assert_eq!(
            status(r#"{"key":"k","status":{"code":3,"message":"bad"}}"#),
            Status::Errored
        );
        let v = r#"{"status":"","processed_time":"2024","request":{},"response":{"candidates":[],"modelVersion":"gemini-2.0-flash-001@default"}}"#;
        let i = result_info(v.as_bytes());
        assert_eq!(i.unjoinable, Some(Unjoinable::VertexNoId));
        assert_eq!(i.status, Some(Status::Succeeded));
        let v = r#"{"status":"Bad Request","processed_time":"2024","request":{},"custom_id":"v1"}"#;
        let i = result_info(v.as_bytes());
        assert_eq!(
            (i.id.as_deref(), i.status),
            (Some("v1"), Some(Status::Errored))
        );
    }

    fn text_of(line: &str) -> Option<String> {
        match result_info(line.as_bytes()).text? {
            Text::Raw { start, len } => serde_json::from_str(&line[start..start + len]).ok(),
            Text::Owned(s) => serde_json::from_str(&s).ok(),
        }
    }

    #[test]
    fn bedrock_output_lines() {
        let ok = r#"{"recordId":"CALL0000001","modelInput":{"anthropic_version":"bedrock-2023-05-31","max_tokens":1024,"messages":[{"role":"user","content":[{"type":"text","text":"Summarize"}]}]},"modelOutput":{"id":"msg_bdrk_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"A short "},{"type":"text","text":"summary."}],"stop_reason":"end_turn","usage":{"input_tokens":20,"output_tokens":5,"cache_read_input_tokens":3}}}"#;
        let i = result_info(ok.as_bytes());
        assert_eq!(i.id.as_deref(), Some("CALL0000001"));
        assert_eq!(i.status, Some(Status::Succeeded));
        assert_eq!(i.model.as_deref(), Some("claude-sonnet-4-5-20250929"));
        assert_eq!(
            i.usage,
            Some(Usage {
                input: 23,
                cached: 3,
                output: 5,
                reasoning: 0,
                results: 1,
                ..Usage::default()
            })
        );
        assert_eq!(text_of(ok).as_deref(), Some("A short summary."));
        let err = r#"{"recordId":"CALL0000002","modelInput":{"max_tokens":1},"error":{"errorCode":400,"errorMessage":"Malformed input request"}}"#;
        let i = result_info(err.as_bytes());
        assert_eq!(
            (i.id.as_deref(), i.status, i.usage),
            (Some("CALL0000002"), Some(Status::Errored), None)
        );
        let llama = r#"{"recordId":"L","modelInput":{"prompt":"x"},"modelOutput":{"generation":"Hi.","prompt_token_count":7,"generation_token_count":2,"stop_reason":"stop"}}"#;
        let i = result_info(llama.as_bytes());
        assert_eq!((i.usage.unwrap().input, i.usage.unwrap().output), (7, 2));
        assert_eq!(text_of(llama).as_deref(), Some("Hi."));
        let nova = r#"{"recordId":"N","modelInput":{},"modelOutput":{"output":{"message":{"role":"assistant","content":[{"text":"Yes."}]}},"usage":{"inputTokens":9,"outputTokens":2}}}"#;
        let i = result_info(nova.as_bytes());
        assert_eq!((i.usage.unwrap().input, i.usage.unwrap().output), (9, 2));
        assert_eq!(text_of(nova).as_deref(), Some("Yes."));
        let titan = r#"{"recordId":"T","modelInput":{"inputText":"x"},"modelOutput":{"embedding":[0.1,0.2],"inputTextTokenCount":4}}"#;
        let i = result_info(titan.as_bytes());
        assert_eq!(
            (i.status, i.usage.unwrap().input),
            (Some(Status::Succeeded), 4)
        );
        // The request side keys on recordId too.
        assert!(matches!(
            request_id(br#"{"recordId":"CALL0000001","modelInput":{}}"#),
            RequestId::Id { id, .. } if id == "CALL0000001"
        ));
        // Unexpected types keep the id and the status.
        let i = result_info(br#"{"recordId":"Q","modelOutput":{"content":"text","usage":7}}"#);
        assert_eq!(
            (i.id.as_deref(), i.status),
            (Some("Q"), Some(Status::Succeeded))
        );
    }

    #[test]
    fn vllm_older_layout_and_gemini_shapes() {
        // vLLM's older layout: the chat completion itself in `response`.
        let old = r#"{"id":"vllm-1","custom_id":"request-1","response":{"id":"cmpl-1","object":"chat.completion","created":1,"model":"meta-llama/Meta-Llama-3-8B-Instruct","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":21,"total_tokens":24,"completion_tokens":3}},"error":null}"#;
        let i = result_info(old.as_bytes());
        assert_eq!(i.status, Some(Status::Succeeded));
        assert_eq!(
            i.model.as_deref(),
            Some("meta-llama/Meta-Llama-3-8B-Instruct")
        );
        assert_eq!((i.usage.unwrap().input, i.usage.unwrap().output), (21, 3));
        assert_eq!(text_of(old).as_deref(), Some("Hello!"));
        // Gemini embeddings: `tokenCount` is a string.
        let emb =
            r#"{"key":"e1","response":{"embedding":{"values":[0.1,-0.2,0.3]},"tokenCount":"12"}}"#;
        let i = result_info(emb.as_bytes());
        assert_eq!(
            (i.status, i.usage.map(|u| u.input)),
            (Some(Status::Succeeded), Some(12))
        );
        assert_eq!(
            count_of(serde_json::from_str::<&RawValue>("5").unwrap()),
            Some(5)
        );
        // Gemini inline-style: the id in `metadata.key`.
        let meta = r#"{"metadata":{"key":"request_7"},"response":{"candidates":[{"content":{"parts":[{"text":"Hi"}]}}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1}}}"#;
        let i = result_info(meta.as_bytes());
        assert_eq!(i.id.as_deref(), Some("request_7"));
        assert_eq!(i.status, Some(Status::Succeeded));
        assert!(matches!(
            request_id(br#"{"metadata":{"key":"request_7"},"request":{}}"#),
            RequestId::Id { id, .. } if id == "request_7"
        ));
        assert_eq!(
            request_id(br#"{"metadata":"x","request":{}}"#),
            RequestId::MissingId
        );
    }

    #[test]
    fn odd_lines() {
        assert!(matches!(
            result_info(b"{\"custom_id\":").unjoinable,
            Some(Unjoinable::InvalidJson(_))
        ));
        assert_eq!(result_info(b"[1]").unjoinable, Some(Unjoinable::NotObject));
        assert_eq!(
            result_info(b"{\"custom_id\":7,\"response\":{}}").unjoinable,
            Some(Unjoinable::InvalidId)
        );
        // Unexpected types take the slow path and keep id and status.
        let i = result_info(
            br#"{"custom_id":"q","response":{"status_code":"200","body":"x"},"error":null}"#,
        );
        assert_eq!(
            (i.id.as_deref(), i.status),
            (Some("q"), Some(Status::Succeeded))
        );
        assert_eq!(request_id(b"[1,2]"), RequestId::NotObject);
        assert_eq!(request_id(b"{\"body\":{}}"), RequestId::MissingId);
        assert!(matches!(
            request_id(b"{\"custom_id\":\"a\""),
            RequestId::InvalidJson(_)
        ));
        assert_eq!(request_id(b"{\"custom_id\":1}"), RequestId::InvalidId);
        // Invalid UTF-8 in a string serde would skip unchecked.
        assert!(matches!(
            request_id(b"{\"custom_id\":\"a\",\"body\":\"\xff\"}"),
            RequestId::InvalidUtf8(_)
        ));
        assert!(matches!(
            result_info(b"{\"custom_id\":\"a\",\"response\":{\"x\":\"\xc3\"}}").unjoinable,
            Some(Unjoinable::InvalidUtf8(_))
        ));
        let line = br#"{"custom_id":"a\u0062","body":{}}"#;
        let RequestId::Id {
            id,
            raw_start,
            raw_len,
        } = request_id(line)
        else {
            panic!()
        };
        assert_eq!(id, "ab");
        assert_eq!(&line[raw_start..raw_start + raw_len], br#""a\u0062""#);
    }
}
