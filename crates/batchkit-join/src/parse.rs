//! Reading one request or result line: its id, and for results the status, usage, model and
//! answer text, for every provider layout (each documented by its provider's `sources` in
//! providers.toml), vLLM's older layout and the Gemini shapes seen in real files: embeddings
//! with a string `tokenCount`, `metadata.key`).
//!
//! Request and result lines are read by the one JSON engine every command uses
//! (batchkit-line: simd-json's tape, first of repeated keys, numbers beyond `f64` clamped).
//! A result line whose known fields ([`RESULT_LINE`]) have their types is read in full, ids,
//! models and answer texts borrowed from the line where they stand; a line that is valid JSON
//! but whose known fields have unexpected types is read for its id and status only.

use std::borrow::Cow;

use batchkit_line::prelude::*;
use batchkit_line::{Located, ResultLine, Value};

use batchkit_providers::stop_reasons::{self, StopClass};

use crate::answer::{Checker, Want};
use crate::Status;

/// Tokens the provider reported for one result (or a sum of them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Usage {
    /// Input tokens, cached ones included.
    #[serde(rename = "input_tokens")]
    pub input: u64,
    /// Input tokens read from a cache.
    #[serde(rename = "cached_tokens")]
    pub cached: u64,
    /// Input tokens written to a cache at a write price (Anthropic cache creation, OpenAI
    /// `cache_write_tokens`), part of `input`.
    #[serde(rename = "cache_write_tokens")]
    pub cache_write: u64,
    /// The part of `cache_write` at the 1-hour TTL (Anthropic `ephemeral_1h_input_tokens`).
    #[serde(rename = "cache_write_1h_tokens")]
    pub cache_write_1h: u64,
    /// Output tokens, reasoning included.
    #[serde(rename = "output_tokens")]
    pub output: u64,
    /// Reasoning (thinking) tokens, part of `output`.
    #[serde(rename = "reasoning_tokens")]
    pub reasoning: u64,
    /// Results that carried usage.
    #[serde(rename = "results_with_usage")]
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

/// One model's results: summed usage and the count of each stop reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub usage: Usage,
    pub stops: std::collections::BTreeMap<String, u64>,
}

/// More distinct stop reasons than this per model are counted as `(other)`: a bound on a
/// table a hostile file could grow.
const MAX_STOPS: usize = 64;

impl Tally {
    /// Counts `n` results that stopped for `reason`.
    pub fn stop(&mut self, reason: &str, n: u64) {
        if let Some(c) = self.stops.get_mut(reason) {
            *c += n;
        } else if self.stops.len() >= MAX_STOPS {
            *self.stops.entry("(other)".to_string()).or_default() += n;
        } else {
            self.stops.insert(reason.to_string(), n);
        }
    }

    /// Adds `o` to `self`.
    pub fn add(&mut self, o: &Tally) {
        self.usage.add(&o.usage);
        for (r, n) in &o.stops {
            self.stop(r, *n);
        }
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
    /// Valid JSON without an id, Vertex-shaped (`{"request": {...}}`): joined by the content
    /// key of its `request` ([`crate::content`]).
    Content(crate::content::ContentKey),
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
            RequestId::Id { .. } | RequestId::Content(_) => return None,
            RequestId::InvalidUtf8(_) => Problem::InvalidUtf8,
            RequestId::InvalidJson(_) => Problem::InvalidJson,
            RequestId::MissingId => Problem::MissingId,
            RequestId::NotObject => Problem::NotObject,
            RequestId::InvalidId => Problem::InvalidId,
        })
    }
}

/// Finds the id of a request line by the one id rule ([`batchkit_line::RequestLine::find_id`]):
/// the id field of the line's shape (`custom_id`, Gemini's `key` or `metadata.key`, Bedrock's
/// `recordId`, an id Vertex echoes), or for a line of no known shape the first id field it has.
///
/// The parse checks the whole line is UTF-8 and one JSON value (a line that is not must
/// never be copied into a merged JSON line); the id is borrowed from the line, as its literal
/// stands, when it has no escapes.
pub(crate) fn request_id(content: &[u8]) -> RequestId<'_> {
    request_id_want(content, None).0
}

/// [`request_id`], and with `checker` what the request asks its answer to be, from the same
/// parse.
pub(crate) fn request_id_want<'a>(
    content: &'a [u8],
    checker: Option<&Checker>,
) -> (RequestId<'a>, Want) {
    let mut want = Want::Nothing;
    let read = batchkit_line::read_located(content, |root, at| {
        if !root.is_object() {
            return RequestId::NotObject;
        }
        let Some(found) = batchkit_line::RequestLine::find_id(root, None) else {
            return content_request(root).unwrap_or(RequestId::MissingId);
        };
        let Some(id) = found.as_str() else {
            return RequestId::InvalidId;
        };
        if let Some(c) = checker {
            want = c.want(root);
        }
        // An id inside an object (`request.labels`) is found by where its string stands.
        let range = at
            .top_level_string(found.top_key(), id)
            .or_else(|| at.string_range(id));
        match range {
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
    let id = match read {
        Ok(r) => r,
        Err(e) if e.kind == batchkit_json::syntax::SyntaxKind::InvalidUtf8 => {
            RequestId::InvalidUtf8(e.message)
        }
        Err(e) => RequestId::InvalidJson(e.message),
    };
    (id, want)
}

/// A Vertex request line without an id (shape `vertex`, its `request` an object; or a legacy
/// embedding line, `{"content": ...}`): its content key.
fn content_request(root: Value<'_, '_>) -> Option<RequestId<'static>> {
    use batchkit_providers::Style;
    let line = batchkit_line::RequestLine::detect(root)?;
    let request = match line.style() {
        Style::Vertex => field(root, "request")?,
        // A legacy embedding line is the instance its output row echoes.
        Style::VertexEmbedding => root,
        _ => return None,
    };
    crate::content::content_key(request).map(RequestId::Content)
}

/// Everything the join keeps about one result line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ResultInfo<'a> {
    /// Decoded id, when the line has one.
    pub id: Option<Cow<'a, str>>,
    /// A Vertex row without an id: the content key of the request it echoes.
    pub content: Option<crate::content::ContentKey>,
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
    /// The provider's stop reason: its value, and its JSON string literal's range in the line.
    pub stop: Option<Stop<'a>>,
}

/// A result's stop reason, verbatim.
#[derive(Debug, PartialEq, Eq)]
pub struct Stop<'a> {
    /// The decoded value.
    pub value: Cow<'a, str>,
    /// Start and length of its JSON string literal in the line.
    pub start: usize,
    pub len: usize,
}

/// Why a result line cannot be joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unjoinable {
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
pub enum Text {
    Raw { start: usize, len: usize },
    Owned(String),
}

/// The layout of a result line as the join reads it: the fields of every provider's result
/// layout it knows, with the type each must have (sources: each provider's `sources` in
/// providers.toml). The id is read by the one result-id rule of [`ResultLine::find_id`], beside the layouts.
///
/// A line whose known fields all have their type (or are null) is read in full: id, status,
/// usage, model and answer text. A line where one does not, or where a known field is
/// repeated in its object, is read for its id and status only ([`fallback`]).
#[derive(Clone, Copy)]
enum Ty {
    /// Any value (kept as it stands, or only looked at for its type later).
    Any,
    /// A count: a non-negative integer.
    U64,
    Str,
    Bool,
    /// An object; other members are skipped.
    Obj(&'static [(&'static str, Ty)]),
    /// An array whose every element is of the type (never null).
    List(&'static Ty),
}

use Ty::{Any, Bool, List, Obj, Str, U64};

const DETAILS: Ty = Obj(&[
    ("cached_tokens", U64),
    ("cache_write_tokens", U64),
    ("reasoning_tokens", U64),
]);
/// Anthropic's breakdown of cache writes by TTL.
const CACHE_CREATION: Ty = Obj(&[("ephemeral_1h_input_tokens", U64)]);
/// OpenAI-style usage, and Anthropic's.
const USAGE: Ty = Obj(&[
    ("prompt_tokens", U64),
    ("completion_tokens", U64),
    ("input_tokens", U64),
    ("output_tokens", U64),
    ("prompt_tokens_details", DETAILS),
    ("input_tokens_details", DETAILS),
    ("completion_tokens_details", DETAILS),
    ("output_tokens_details", DETAILS),
    ("cache_creation_input_tokens", U64),
    ("cache_read_input_tokens", U64),
    ("cache_creation", CACHE_CREATION),
]);
const TYPED_TEXT: Ty = Obj(&[("type", Str), ("text", Any)]);
const CHOICE: Ty = Obj(&[("message", Obj(&[("content", Any)]))]);
const OUT_ITEM: Ty = Obj(&[("content", List(&TYPED_TEXT))]);
const BODY: Ty = Obj(&[
    ("model", Str),
    ("usage", USAGE),
    ("choices", List(&CHOICE)),
    ("output", List(&OUT_ITEM)),
]);
const GEMINI_USAGE: Ty = Obj(&[
    ("promptTokenCount", U64),
    ("cachedContentTokenCount", U64),
    ("candidatesTokenCount", U64),
    ("thoughtsTokenCount", U64),
    ("toolUsePromptTokenCount", U64),
]);
const PART: Ty = Obj(&[("text", Any), ("thought", Bool)]);
const CANDIDATE: Ty = Obj(&[("content", Obj(&[("parts", List(&PART))]))]);
const RESPONSE: Ty = Obj(&[
    ("status_code", U64),
    ("body", BODY),
    // vLLM's older layout (source: providers.toml [openai-compatible].sources): the chat completion itself in `response`.
    ("model", Str),
    ("usage", USAGE),
    ("choices", List(&CHOICE)),
    // Gemini embeddings (source: providers.toml [gemini].sources): a count, written as a string.
    ("tokenCount", Any),
    ("candidates", List(&CANDIDATE)),
    ("usageMetadata", GEMINI_USAGE),
    ("modelVersion", Str),
]);
const ANTHROPIC_RESULT: Ty = Obj(&[
    ("type", Str),
    (
        "message",
        Obj(&[
            ("model", Str),
            ("content", List(&TYPED_TEXT)),
            ("usage", USAGE),
        ]),
    ),
]);
const BEDROCK_USAGE: Ty = Obj(&[
    ("input_tokens", U64),
    ("output_tokens", U64),
    ("cache_creation_input_tokens", U64),
    ("cache_read_input_tokens", U64),
    ("cache_creation", CACHE_CREATION),
    ("inputTokens", U64),
    ("outputTokens", U64),
    ("cacheReadInputTokenCount", U64),
    ("cacheWriteInputTokenCount", U64),
]);
const TITAN_RESULT: Ty = Obj(&[("tokenCount", U64), ("outputText", Any)]);
/// Bedrock `modelOutput`: Claude (`content`, `usage`), Nova (`output.message.content`,
/// `usage.inputTokens`), Llama (`generation`, `prompt_token_count`), Titan
/// (`inputTextTokenCount`, `results[].outputText`).
const BEDROCK_OUTPUT: Ty = Obj(&[
    ("model", Str),
    ("content", List(&TYPED_TEXT)),
    ("usage", BEDROCK_USAGE),
    (
        "output",
        Obj(&[("message", Obj(&[("content", List(&TYPED_TEXT))]))]),
    ),
    ("generation", Any),
    ("prompt_token_count", U64),
    ("generation_token_count", U64),
    ("inputTextTokenCount", U64),
    ("results", List(&TITAN_RESULT)),
]);
/// An entry of xAI's batch results API: `batch_result.response.chat_get_completion` is a chat
/// completion (source: providers.toml [xai].sources).
const XAI_RESULT: Ty = Obj(&[("response", Obj(&[("chat_get_completion", BODY)]))]);
const RESULT_LINE: Ty = Obj(&[
    ("custom_id", Any),
    ("key", Any),
    // Amazon Bedrock (source: providers.toml [bedrock].sources).
    ("recordId", Any),
    // Gemini inline-style results carry the id as `metadata.key` (source: providers.toml [gemini].sources).
    ("metadata", Any),
    ("modelOutput", BEDROCK_OUTPUT),
    ("response", RESPONSE),
    ("error", Any),
    ("result", ANTHROPIC_RESULT),
    ("status", Any),
    ("processed_time", Any),
    ("request", Any),
    ("batch_request_id", Any),
    ("batch_result", XAI_RESULT),
    ("error_message", Any),
    // Vertex embeddings, legacy models (source: providers.toml [vertex].sources): the request
    // line echoed as `instance`, token counts per prediction.
    ("instance", Any),
    ("predictions", List(&EMBEDDING_PREDICTION)),
]);
const EMBEDDING_PREDICTION: Ty = Obj(&[(
    "embeddings",
    Obj(&[("statistics", Obj(&[("token_count", Any)]))]),
)]);

/// Whether `v` has type `ty`: null stands for an absent member; a member named twice in one
/// object does not fit.
fn fits(v: Value<'_, '_>, ty: &Ty) -> bool {
    match ty {
        Any => true,
        U64 => v.as_u64().is_some(),
        Str => v.is_str(),
        Bool => v.is_bool(),
        Obj(fields) => {
            let Some(o) = v.as_object() else {
                return false;
            };
            let mut seen = 0u32;
            o.iter().all(
                |(k, child)| match fields.iter().position(|(name, _)| *name == k) {
                    Some(i) => {
                        let first = seen & (1 << i) == 0;
                        seen |= 1 << i;
                        first && (child.is_null() || fits(child, &fields[i].1))
                    }
                    None => true,
                },
            )
        }
        List(elem) => v
            .as_array()
            .is_some_and(|a| a.iter().all(|e| !e.is_null() && fits(e, elem))),
    }
}

/// Member `k` of `v` when `v` is an object and the member is there and not null (the first
/// of a repeated key).
fn field<'t, 'i>(v: Value<'t, 'i>, k: &str) -> Option<Value<'t, 'i>> {
    v.get(k).filter(|x| !x.is_null())
}

fn count(v: Value<'_, '_>, k: &str) -> Option<u64> {
    field(v, k)?.as_u64()
}

fn string<'i>(v: Value<'_, 'i>, k: &str) -> Option<&'i str> {
    field(v, k)?.into_string()
}

/// The elements of array member `k` (none when it is absent).
fn items<'t, 'i>(v: Value<'t, 'i>, k: &str) -> impl Iterator<Item = Value<'t, 'i>> {
    field(v, k)
        .and_then(|a| a.as_array())
        .into_iter()
        .flat_map(|a| a.iter())
}

/// A parsed string, borrowed from the line when its literal has no escapes.
fn text_of<'a>(content: &'a [u8], at: &Located<'_>, s: &str) -> Cow<'a, str> {
    if let Some((start, len)) = at.string_range(s) {
        let inner = &content[start + 1..start + len - 1];
        if !inner.contains(&b'\\') {
            if let Ok(b) = std::str::from_utf8(inner) {
                return Cow::Borrowed(b);
            }
        }
    }
    Cow::Owned(s.to_string())
}

/// `code` of an `error`: an object's member (named once), or the one element of an array
/// read as the same record by position; when it is a string.
fn error_code<'i>(e: Value<'_, 'i>) -> Option<&'i str> {
    if let Some(o) = e.as_object() {
        if o.iter().filter(|(k, _)| *k == "code").count() > 1 {
            return None;
        }
        return string(e, "code");
    }
    let a = e.as_array()?;
    match a.len() {
        1 => a.get(0)?.into_string(),
        _ => None,
    }
}

/// Usage with Anthropic's split of input: `input_tokens` excludes cache writes and reads.
fn anthropic_usage(
    input: Option<u64>,
    write: Option<u64>,
    read: Option<u64>,
    write_1h: Option<u64>,
    output: Option<u64>,
) -> Usage {
    let (write, read) = (write.unwrap_or(0), read.unwrap_or(0));
    Usage {
        input: input.unwrap_or(0) + write + read,
        cached: read,
        cache_write: write,
        cache_write_1h: write_1h.unwrap_or(0).min(write),
        output: output.unwrap_or(0),
        reasoning: 0,
        results: 1,
    }
}

/// The 1-hour cache writes of a usage object's `cache_creation`.
fn write_1h(u: Value<'_, '_>) -> Option<u64> {
    count(field(u, "cache_creation")?, "ephemeral_1h_input_tokens")
}

/// The few facts the status rules need, gathered from either reading.
#[derive(Default)]
struct Facts<'s> {
    anthropic_type: Option<&'s str>,
    /// `error` present and not null; with its `code` when it is a string.
    error: Option<Option<&'s str>>,
    /// `status` as Vertex writes it (a string): whether it is empty.
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
        return match *t {
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

/// Reads one result line, through the one JSON engine (batchkit-line). A line that is not
/// UTF-8, or not one JSON value, is unjoinable (see [`request_id`]).
pub fn result_info(content: &[u8]) -> ResultInfo<'_> {
    let read = batchkit_line::read_located(content, |root, at| {
        if !root.is_object() {
            ResultInfo {
                unjoinable: Some(Unjoinable::NotObject),
                ..Default::default()
            }
        } else if fits(root, &RESULT_LINE) {
            typed(content, at, root)
        } else {
            fallback(content, at, root)
        }
    });
    match read {
        Ok(info) => info,
        Err(e) => ResultInfo {
            unjoinable: Some(match e.kind {
                batchkit_json::syntax::SyntaxKind::InvalidUtf8 => {
                    Unjoinable::InvalidUtf8(e.message)
                }
                _ => Unjoinable::InvalidJson(e.message),
            }),
            ..Default::default()
        },
    }
}

/// A line of the known layout ([`RESULT_LINE`]): everything the join keeps.
fn typed<'a>(content: &'a [u8], at: &Located<'_>, root: Value<'_, '_>) -> ResultInfo<'a> {
    let mut f = Facts::default();
    let mut info = ResultInfo::default();
    let id = ResultLine::find_id(root);
    if let Some(e) = field(root, "error") {
        f.error = Some(error_code(e));
    }
    if let Some(s) = field(root, "status") {
        match s.into_string() {
            Some(s) => f.status_str = Some(s.is_empty()),
            None => f.status_obj = true,
        }
    }
    f.vertex_shape = field(root, "processed_time").is_some()
        || (f.status_str.is_some() && field(root, "request").is_some())
        || field(root, "instance").is_some();
    if let Some(p) = field(root, "predictions") {
        f.response = true;
        info.usage = Some(embedding_usage(p));
    }
    let mut texts: Vec<&str> = Vec::new();
    if let Some(a) = field(root, "result") {
        f.anthropic_type = Some(string(a, "type").unwrap_or(""));
        if let Some(m) = field(a, "message") {
            info.model = string(m, "model").map(|s| text_of(content, at, s));
            if let Some(u) = field(m, "usage") {
                info.usage = Some(anthropic_usage(
                    count(u, "input_tokens"),
                    count(u, "cache_creation_input_tokens"),
                    count(u, "cache_read_input_tokens"),
                    write_1h(u),
                    count(u, "output_tokens"),
                ));
            }
            for block in items(m, "content") {
                if string(block, "type") == Some("text") {
                    texts.extend(string(block, "text"));
                }
            }
        }
    }
    if let Some(out) = field(root, "modelOutput") {
        f.response = true;
        bedrock_output(content, at, out, &mut info, &mut texts);
    }
    xai_envelope(root, &mut f);
    if let Some(c) = field(root, "batch_result")
        .and_then(|b| field(b, "response"))
        .and_then(|r| field(r, "chat_get_completion"))
    {
        info.model = string(c, "model").map(|s| text_of(content, at, s));
        completion(c, &mut info.usage, &mut texts);
    }
    if let Some(resp) = field(root, "response") {
        f.response = true;
        f.status_code = count(resp, "status_code");
        // vLLM's older layout: the completion object is the response.
        if let Some(m) = string(resp, "model") {
            info.model = Some(text_of(content, at, m));
        }
        completion(resp, &mut info.usage, &mut texts);
        if let Some(n) = field(resp, "tokenCount").and_then(|v| count_of(content, at, v)) {
            info.usage = Some(Usage {
                input: n,
                results: 1,
                ..Usage::default()
            });
        }
        if let Some(body) = field(resp, "body") {
            info.model = string(body, "model").map(|s| text_of(content, at, s));
            completion(body, &mut info.usage, &mut texts);
            for item in items(body, "output") {
                for c in items(item, "content") {
                    if string(c, "type") == Some("output_text") {
                        texts.extend(string(c, "text"));
                    }
                }
            }
        }
        if let Some(u) = field(resp, "usageMetadata") {
            let thoughts = count(u, "thoughtsTokenCount").unwrap_or(0);
            info.usage = Some(Usage {
                input: count(u, "promptTokenCount").unwrap_or(0)
                    + count(u, "toolUsePromptTokenCount").unwrap_or(0),
                cached: count(u, "cachedContentTokenCount").unwrap_or(0),
                output: count(u, "candidatesTokenCount").unwrap_or(0) + thoughts,
                reasoning: thoughts,
                results: 1,
                ..Usage::default()
            });
        }
        if let Some(m) = string(resp, "modelVersion") {
            // Vertex writes `gemini-2.0-flash-001@default`.
            info.model = Some(match m.find('@') {
                Some(i) => Cow::Owned(m[..i].to_string()),
                None => text_of(content, at, m),
            });
        }
        if let Some(c) = items(resp, "candidates").next() {
            for p in field(c, "content")
                .map(|c| items(c, "parts"))
                .into_iter()
                .flatten()
            {
                if field(p, "thought").and_then(|t| t.as_bool()) != Some(true) {
                    texts.extend(string(p, "text"));
                }
            }
        }
    }
    (info.status, info.stop) = answer_status(content, at, root, classify(&f));
    info.text = join_texts(at, &texts);
    match id {
        Some(v) => match v.into_string() {
            Some(s) => info.id = Some(text_of(content, at, s)),
            None => info.unjoinable = Some(Unjoinable::InvalidId),
        },
        None if f.vertex_shape => match echoed(root).and_then(crate::content::content_key) {
            Some(key) => info.content = Some(key),
            None => info.unjoinable = Some(Unjoinable::VertexNoId),
        },
        None => info.unjoinable = Some(Unjoinable::MissingId),
    }
    info
}

/// The request a Vertex row echoes: `request`, or an embedding row's `instance` (the whole
/// request line).
fn echoed<'t, 'i>(root: Value<'t, 'i>) -> Option<Value<'t, 'i>> {
    field(root, "request").or_else(|| field(root, "instance"))
}

/// The input tokens of a Vertex embedding row: the sum of its predictions'
/// `embeddings.statistics.token_count` (written as a number, integral or not).
fn embedding_usage(predictions: Value<'_, '_>) -> Usage {
    let input = predictions
        .as_array()
        .into_iter()
        .flat_map(|a| a.iter())
        .filter_map(|p| {
            let n = field(field(field(p, "embeddings")?, "statistics")?, "token_count")?;
            n.as_u64()
                .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f.round() as u64))
        })
        .sum();
    Usage {
        input,
        results: 1,
        ..Usage::default()
    }
}

/// xAI's envelope: a `batch_result` is an answer, a non-empty `error_message` an error.
fn xai_envelope(root: Value<'_, '_>, f: &mut Facts<'_>) {
    if field(root, "batch_result").is_some() {
        f.response = true;
    }
    if let Some(e) = field(root, "error_message") {
        if f.error.is_none() && e.into_string() != Some("") {
            f.error = Some(None);
        }
    }
}

/// The status of a result whose envelope says `status`: a succeeded one refined by its stop
/// reason (truncated, refused), which is kept as it stands in the line.
fn answer_status<'a>(
    content: &'a [u8],
    at: &Located<'_>,
    root: Value<'_, '_>,
    status: Status,
) -> (Option<Status>, Option<Stop<'a>>) {
    if status != Status::Succeeded {
        return (Some(status), None);
    }
    let Some((layout, v, refused)) = stop_reason(root) else {
        let status = if refusal(root) {
            Status::Refused
        } else {
            status
        };
        return (Some(status), None);
    };
    let status = match stop_reasons::class(layout, v) {
        StopClass::Truncated => Status::Truncated,
        StopClass::Refused => Status::Refused,
        StopClass::Succeeded if refused => Status::Refused,
        StopClass::Succeeded => Status::Succeeded,
    };
    let stop = at.string_range(v).map(|(start, len)| Stop {
        value: text_of(content, at, v),
        start,
        len,
    });
    (Some(status), stop)
}

/// The stop reason of a result line, by the layouts of the stop-reason table
/// (`batchkit_providers::stop_reasons`): the table's layout name, the value, and whether the
/// answer is a refusal whatever the value says (OpenAI chat `message.refusal`, a Responses
/// `refusal` part).
fn stop_reason<'i>(root: Value<'_, 'i>) -> Option<(&'static str, &'i str, bool)> {
    if let Some(m) = field(root, "result").and_then(|r| field(r, "message")) {
        return Some(("anthropic", string(m, "stop_reason")?, false));
    }
    if let Some(out) = field(root, "modelOutput") {
        if let Some(v) = string(out, "stopReason") {
            return Some(("bedrock-converse", v, false));
        }
        let v = string(out, "stop_reason")?;
        let llama = field(out, "generation").is_some() && field(out, "content").is_none();
        return Some((if llama { "bedrock-llama" } else { "anthropic" }, v, false));
    }
    let resp = response_of(root)?;
    let body = field(resp, "body").unwrap_or(resp);
    if let Some(choice) = items(body, "choices").next() {
        let refused = field(choice, "message")
            .and_then(|m| field(m, "refusal"))
            .is_some();
        return Some(("chat", string(choice, "finish_reason")?, refused));
    }
    if field(body, "output").is_some() || string(body, "object") == Some("response") {
        let status = string(body, "status")?;
        let reason = field(body, "incomplete_details").and_then(|d| string(d, "reason"));
        let v = match (status, reason) {
            ("incomplete", Some(r)) => r,
            _ => status,
        };
        return Some(("responses", v, responses_refusal(body)));
    }
    if let Some(c) = items(resp, "candidates").next() {
        return Some(("gemini", string(c, "finishReason")?, false));
    }
    // No candidates and a block reason: the prompt was blocked, whatever the reason (one
    // newer than the table included).
    let block = field(resp, "promptFeedback").and_then(|p| string(p, "blockReason"))?;
    Some(("gemini-prompt", block, true))
}

/// The response of a result line: `response`, or xAI's `batch_result.response.chat_get_completion`.
fn response_of<'t, 'i>(root: Value<'t, 'i>) -> Option<Value<'t, 'i>> {
    match field(root, "batch_result").and_then(|b| field(b, "response")) {
        Some(r) => field(r, "chat_get_completion"),
        None => field(root, "response"),
    }
}

/// A refusal with no stop value to read it from.
fn refusal(root: Value<'_, '_>) -> bool {
    let Some(resp) = response_of(root) else {
        return false;
    };
    let body = field(resp, "body").unwrap_or(resp);
    if let Some(choice) = items(body, "choices").next() {
        return field(choice, "message")
            .and_then(|m| field(m, "refusal"))
            .is_some();
    }
    responses_refusal(body)
}

/// A Responses body with an output `refusal` part.
fn responses_refusal(body: Value<'_, '_>) -> bool {
    items(body, "output")
        .any(|item| items(item, "content").any(|c| string(c, "type") == Some("refusal")))
}

/// Model, usage and text of a Bedrock `modelOutput`.
fn bedrock_output<'a, 'i>(
    content: &'a [u8],
    at: &Located<'_>,
    out: Value<'_, 'i>,
    info: &mut ResultInfo<'a>,
    texts: &mut Vec<&'i str>,
) {
    info.model = string(out, "model").map(|s| text_of(content, at, s));
    let mut usage = None;
    let (prompt, generation) = (
        count(out, "prompt_token_count"),
        count(out, "generation_token_count"),
    );
    if let Some(u) = field(out, "usage") {
        usage = Some(anthropic_usage(
            count(u, "input_tokens").or(count(u, "inputTokens")),
            count(u, "cache_creation_input_tokens").or(count(u, "cacheWriteInputTokenCount")),
            count(u, "cache_read_input_tokens").or(count(u, "cacheReadInputTokenCount")),
            write_1h(u),
            count(u, "output_tokens").or(count(u, "outputTokens")),
        ));
    } else if prompt.is_some() || generation.is_some() {
        usage = Some(Usage {
            input: prompt.unwrap_or(0),
            output: generation.unwrap_or(0),
            results: 1,
            ..Usage::default()
        });
    } else if let Some(n) = count(out, "inputTextTokenCount") {
        let output = items(out, "results")
            .filter_map(|r| count(r, "tokenCount"))
            .sum();
        usage = Some(Usage {
            input: n,
            output,
            results: 1,
            ..Usage::default()
        });
    }
    info.usage = usage;
    let nova = field(out, "output")
        .and_then(|o| field(o, "message"))
        .map(|m| items(m, "content"));
    for block in items(out, "content").chain(nova.into_iter().flatten()) {
        // Claude blocks have a `type`; Nova's text blocks have none.
        if matches!(string(block, "type"), Some("text") | None) {
            texts.extend(string(block, "text"));
        }
    }
    texts.extend(string(out, "generation"));
    for r in items(out, "results") {
        texts.extend(string(r, "outputText"));
    }
}

/// A token count written as a number or as a string of digits (as it stands: no escapes).
fn count_of(content: &[u8], at: &Located<'_>, v: Value<'_, '_>) -> Option<u64> {
    match v.into_string() {
        Some(s) => {
            let (start, len) = at.string_range(s)?;
            if content[start..start + len].contains(&b'\\') {
                return None;
            }
            s.parse().ok()
        }
        None => v.as_u64(),
    }
}

/// An OpenAI completion object (a response body, or vLLM's older response itself): its usage,
/// and the text of its first choice.
fn completion<'i>(obj: Value<'_, 'i>, usage: &mut Option<Usage>, texts: &mut Vec<&'i str>) {
    if let Some(u) = field(obj, "usage") {
        *usage = Some(openai_usage(u));
    }
    if let Some(choice) = items(obj, "choices").next() {
        texts.extend(
            field(choice, "message")
                .and_then(|m| field(m, "content"))
                .and_then(|v| v.into_string()),
        );
    }
}

fn openai_usage(u: Value<'_, '_>) -> Usage {
    let details = field(u, "prompt_tokens_details").or_else(|| field(u, "input_tokens_details"));
    let cached = details.and_then(|d| count(d, "cached_tokens"));
    let cache_write = details
        .and_then(|d| count(d, "cache_write_tokens"))
        .unwrap_or(0);
    let reasoning = field(u, "completion_tokens_details")
        .or_else(|| field(u, "output_tokens_details"))
        .and_then(|d| count(d, "reasoning_tokens"));
    Usage {
        input: count(u, "prompt_tokens")
            .or(count(u, "input_tokens"))
            .unwrap_or(0),
        cached: cached.unwrap_or(0),
        cache_write,
        cache_write_1h: 0,
        output: count(u, "completion_tokens")
            .or(count(u, "output_tokens"))
            .unwrap_or(0),
        reasoning: reasoning.unwrap_or(0),
        results: 1,
    }
}

/// Joins the string parts of an answer into one JSON string literal: the one part's literal
/// as it stands in the line, or the parts re-encoded.
fn join_texts(at: &Located<'_>, parts: &[&str]) -> Option<Text> {
    match parts {
        [] => None,
        [one] => Some(match at.string_range(one) {
            Some((start, len)) => Text::Raw { start, len },
            None => Text::Owned(encode_str(one)),
        }),
        many => Some(Text::Owned(encode_str(&many.concat()))),
    }
}

/// `s` as a JSON string literal, escaped the way serde_json writes one: `"`, `\` and control
/// characters only (the short forms where JSON has them).
fn encode_str(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut from = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[from..i]);
        if esc.is_empty() {
            out.push_str("\\u00");
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 0xf) as usize] as char);
        } else {
            out.push_str(esc);
        }
        from = i + 1;
    }
    out.push_str(&s[from..]);
    out.push('"');
    out
}

/// A line whose known fields do not all have their types (or repeat): its id and status.
fn fallback<'a>(content: &'a [u8], at: &Located<'_>, root: Value<'_, '_>) -> ResultInfo<'a> {
    let mut f = Facts::default();
    let has = |k: &str| root.get(k).is_some();
    if let Some(r) = field(root, "result") {
        f.anthropic_type = Some(string(r, "type").unwrap_or(""));
    }
    if let Some(e) = field(root, "error") {
        f.error = Some(string(e, "code"));
    }
    if let Some(s) = field(root, "status") {
        match s.into_string() {
            Some(s) => f.status_str = Some(s.is_empty()),
            None => f.status_obj = true,
        }
    }
    if let Some(r) = field(root, "response") {
        f.response = true;
        f.status_code = count(r, "status_code");
    }
    f.vertex_shape = has("processed_time")
        || (f.status_str.is_some() && has("request"))
        || field(root, "instance").is_some();
    if field(root, "predictions").is_some() {
        f.response = true;
    }
    if field(root, "modelOutput").is_some() {
        f.response = true;
    }
    xai_envelope(root, &mut f);
    // The stop reason is read as in a full read: a truncated answer with an odd usage field
    // is still truncated.
    let (status, stop) = answer_status(content, at, root, classify(&f));
    let mut info = ResultInfo {
        status,
        stop,
        ..Default::default()
    };
    let id = ResultLine::find_id(root);
    match id {
        Some(v) => match v.into_string() {
            Some(s) => info.id = Some(Cow::Owned(text_of(content, at, s).into_owned())),
            None => info.unjoinable = Some(Unjoinable::InvalidId),
        },
        None if f.vertex_shape => match echoed(root).and_then(crate::content::content_key) {
            Some(key) => info.content = Some(key),
            None => info.unjoinable = Some(Unjoinable::VertexNoId),
        },
        None => info.unjoinable = Some(Unjoinable::MissingId),
    }
    info
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
        // A Vertex row without an id is joined by the request it echoes; without one to read,
        // it cannot be joined.
        let v = r#"{"status":"","processed_time":"2024","request":{},"response":{"candidates":[],"modelVersion":"gemini-2.0-flash-001@default"}}"#;
        let i = result_info(v.as_bytes());
        assert_eq!((i.unjoinable, i.id), (None, None));
        assert_eq!(
            Some(i.content.unwrap()),
            batchkit_line::read(b"{}", crate::content::content_key).unwrap()
        );
        assert_eq!(i.status, Some(Status::Succeeded));
        let v =
            r#"{"status":"","processed_time":"2024","request":"x","response":{"candidates":[]}}"#;
        let i = result_info(v.as_bytes());
        assert_eq!(i.unjoinable, Some(Unjoinable::VertexNoId));
        assert_eq!(i.content, None);
        let v = r#"{"status":"Bad Request","processed_time":"2024","request":{},"custom_id":"v1"}"#;
        let i = result_info(v.as_bytes());
        assert_eq!(
            (i.id.as_deref(), i.status),
            (Some("v1"), Some(Status::Errored))
        );
    }

    /// A JSON string literal decoded by the engine.
    fn decoded(literal: &[u8]) -> Option<String> {
        batchkit_line::read(literal, |v| v.into_string().map(str::to_string)).ok()?
    }

    #[test]
    fn parts_are_joined_and_reencoded() {
        let line = r#"{"custom_id":"a","result":{"type":"succeeded","message":{"content":[{"type":"text","text":"q\"\u0001\t"},{"type":"text","text":"\u00e9/\\\u001f\b\f\r\n"}]}}}"#;
        let Some(Text::Owned(s)) = result_info(line.as_bytes()).text else {
            panic!("two parts")
        };
        assert_eq!(s, r#""q\"\u0001\té/\\\u001f\b\f\r\n""#);
        assert_eq!(
            decoded(s.as_bytes()).unwrap(),
            "q\"\u{1}\té/\\\u{1f}\u{8}\u{c}\r\n"
        );
        // A line whose numbers had to be rewritten still gives its one part as it stands.
        let big = r#"{"custom_id":"b","n":1e400,"response":{"status_code":200,"body":{"created":-1e999,"choices":[{"message":{"content":"x\u0041"}}]}}}"#;
        let Some(Text::Raw { start, len }) = result_info(big.as_bytes()).text else {
            panic!("one part")
        };
        assert_eq!(&big[start..start + len], r#""x\u0041""#);
    }

    #[test]
    fn unexpected_layouts_give_id_and_status_only() {
        // A known field repeated: the first is read, for the id and status only.
        let dup = r#"{"custom_id":"d","custom_id":"e","response":{"status_code":200,"body":{"model":"m","usage":{"prompt_tokens":1}}}}"#;
        let i = result_info(dup.as_bytes());
        assert_eq!(
            (i.id.as_deref(), i.status, i.usage, i.model),
            (Some("d"), Some(Status::Succeeded), None, None)
        );
        // A count that is not a non-negative integer.
        let neg = r#"{"custom_id":"n","response":{"status_code":200,"body":{"model":"m","usage":{"prompt_tokens":-1}}}}"#;
        let i = result_info(neg.as_bytes());
        assert_eq!((i.id.as_deref(), i.usage, i.model), (Some("n"), None, None));
        // An unknown member repeated changes nothing.
        let other =
            r#"{"custom_id":"o","x":1,"x":2,"response":{"status_code":200,"body":{"model":"m"}}}"#;
        assert_eq!(result_info(other.as_bytes()).model.as_deref(), Some("m"));
    }

    fn text_of(line: &str) -> Option<String> {
        match result_info(line.as_bytes()).text? {
            Text::Raw { start, len } => decoded(&line.as_bytes()[start..start + len]),
            Text::Owned(s) => decoded(s.as_bytes()),
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
    fn xai_results() {
        let ok = r#"{"batch_request_id":"r1","batch_result":{"response":{"chat_get_completion":{"id":"c1","object":"chat.completion","model":"grok-4-fast","choices":[{"index":0,"message":{"role":"assistant","content":"Hi."},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11,"cost_in_usd_ticks":1200}}}},"error_message":null}"#;
        let i = result_info(ok.as_bytes());
        assert_eq!(i.id.as_deref(), Some("r1"));
        assert_eq!(i.status, Some(Status::Succeeded));
        assert_eq!(i.model.as_deref(), Some("grok-4-fast"));
        assert_eq!((i.usage.unwrap().input, i.usage.unwrap().output), (9, 2));
        assert_eq!(text_of(ok).as_deref(), Some("Hi."));
        // An empty error message is no error.
        let empty = ok.replace(r#""error_message":null"#, r#""error_message":"""#);
        assert_eq!(status(&empty), Status::Succeeded);
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
        let counts = [
            br#"{"n":5}"#.as_slice(),
            br#"{"n":"5"}"#,
            br#"{"n":"\u0035"}"#,
        ];
        let counts: Vec<_> = counts
            .iter()
            .map(|l| {
                batchkit_line::read_located(l, |v, at| count_of(l, at, v.get("n").unwrap()))
                    .unwrap()
            })
            .collect();
        assert_eq!(counts, [Some(5), Some(5), None]);
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
            RequestId::Content(
                batchkit_line::read(b"{}", crate::content::content_key)
                    .unwrap()
                    .unwrap()
            )
        );
        assert_eq!(
            request_id(br#"{"metadata":"x","request":[]}"#),
            RequestId::MissingId
        );
        // One id rule for results: a repeated `metadata.key` is read for its first, as every
        // repeated key is (the full read and the id-and-status read agree).
        let dup = r#"{"metadata":{"key":"first","key":"second"},"response":{"candidates":[]}}"#;
        assert_eq!(result_info(dup.as_bytes()).id.as_deref(), Some("first"));
        let dup = r#"{"metadata":{"key":"first","key":"second"},"response":{"candidates":7}}"#;
        assert_eq!(result_info(dup.as_bytes()).id.as_deref(), Some("first"));
        // One id rule for requests: a null id is there, of the wrong type (as validate says),
        // not missing.
        assert_eq!(
            request_id(br#"{"custom_id":null,"body":{}}"#),
            RequestId::InvalidId
        );
        assert_eq!(
            request_id(br#"{"request":{},"custom_id":null}"#),
            RequestId::InvalidId
        );
    }

    #[test]
    fn odd_lines() {
        assert!(matches!(
            result_info(b"{\"custom_id\":").unjoinable,
            Some(Unjoinable::InvalidJson(_))
        ));
        assert_eq!(result_info(b"[1]").unjoinable, Some(Unjoinable::NotObject));
        // Refused as every command refuses them: a lone surrogate, nesting too deep.
        assert!(matches!(
            result_info(br#"{"custom_id":"a","x":"\ud800"}"#).unjoinable,
            Some(Unjoinable::InvalidJson(_))
        ));
        let deep = format!(
            "{{\"custom_id\":\"a\",\"x\":{}{}}}",
            "[".repeat(batchkit_json::MAX_DEPTH + 1),
            "]".repeat(batchkit_json::MAX_DEPTH + 1)
        );
        assert_eq!(
            result_info(deep.as_bytes()).unjoinable,
            Some(Unjoinable::InvalidJson(batchkit_json::depth_message()))
        );
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

    /// (status, stop reason as it stands in the line) of a result line.
    fn answer(line: &str) -> (Status, Option<&str>) {
        let i = result_info(line.as_bytes());
        let stop = i.stop.map(|s| &line[s.start..s.start + s.len]);
        (i.status.unwrap(), stop)
    }

    #[test]
    fn stop_reasons_of_every_layout() {
        use Status::{Errored, Refused, Succeeded, Truncated};
        let chat = |fr: &str, msg: &str| {
            format!(
                r#"{{"custom_id":"a","response":{{"status_code":200,"body":{{"model":"m","choices":[{{"message":{msg},"finish_reason":{fr}}}]}}}},"error":null}}"#
            )
        };
        let cases: Vec<(String, (Status, Option<&str>))> = vec![
            (chat(r#""stop""#, r#"{"content":"x","refusal":null}"#), (Succeeded, Some(r#""stop""#))),
            (chat(r#""length""#, r#"{"content":"x"}"#), (Truncated, Some(r#""length""#))),
            (chat(r#""stop""#, r#"{"content":null,"refusal":"no"}"#), (Refused, Some(r#""stop""#))),
            (chat(r#""content_filter""#, r#"{"content":null}"#), (Refused, Some(r#""content_filter""#))),
            (chat(r#""model_length""#, r#"{"content":"x"}"#), (Truncated, Some(r#""model_length""#))),
            (chat("null", r#"{"content":"x"}"#), (Succeeded, None)),
            // A refusal without any finish reason.
            (chat("null", r#"{"refusal":"no"}"#), (Refused, None)),
            // vLLM's older layout.
            (r#"{"custom_id":"a","response":{"model":"q","choices":[{"message":{"content":"x"},"finish_reason":"length","stop_reason":null}]}}"#.into(), (Truncated, Some(r#""length""#))),
            // Responses.
            (r#"{"custom_id":"a","response":{"status_code":200,"body":{"object":"response","status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"output":[]}}}"#.into(), (Truncated, Some(r#""max_output_tokens""#))),
            (r#"{"custom_id":"a","response":{"status_code":200,"body":{"object":"response","status":"incomplete","incomplete_details":{"reason":"content_filter"},"output":[]}}}"#.into(), (Refused, Some(r#""content_filter""#))),
            (r#"{"custom_id":"a","response":{"status_code":200,"body":{"object":"response","status":"completed","output":[{"type":"message","content":[{"type":"refusal","refusal":"no"}]}]}}}"#.into(), (Refused, Some(r#""completed""#))),
            // Anthropic.
            (r#"{"custom_id":"a","result":{"type":"succeeded","message":{"content":[],"stop_reason":"max_tokens"}}}"#.into(), (Truncated, Some(r#""max_tokens""#))),
            (r#"{"custom_id":"a","result":{"type":"succeeded","message":{"content":[],"stop_reason":"model_context_window_exceeded"}}}"#.into(), (Truncated, Some(r#""model_context_window_exceeded""#))),
            (r#"{"custom_id":"a","result":{"type":"succeeded","message":{"content":[],"stop_reason":"refusal"}}}"#.into(), (Refused, Some(r#""refusal""#))),
            (r#"{"custom_id":"a","result":{"type":"succeeded","message":{"content":[],"stop_reason":"pause_turn"}}}"#.into(), (Succeeded, Some(r#""pause_turn""#))),
            // The envelope first: an errored result keeps its status.
            (r#"{"custom_id":"a","result":{"type":"errored","message":{"stop_reason":"max_tokens"}}}"#.into(), (Errored, None)),
            // Gemini and Vertex.
            (r#"{"key":"a","response":{"candidates":[{"content":{"role":"model"},"finishReason":"MAX_TOKENS"}]}}"#.into(), (Truncated, Some(r#""MAX_TOKENS""#))),
            (r#"{"key":"a","response":{"candidates":[{"finishReason":"SPII"}]}}"#.into(), (Refused, Some(r#""SPII""#))),
            (r#"{"key":"a","response":{"promptFeedback":{"blockReason":"JAILBREAK"}}}"#.into(), (Refused, Some(r#""JAILBREAK""#))),
            (r#"{"key":"a","response":{"promptFeedback":{"blockReason":"A_NEW_BLOCK"}}}"#.into(), (Refused, Some(r#""A_NEW_BLOCK""#))),
            (r#"{"status":"","processed_time":"t","custom_id":"a","request":{},"response":{"candidates":[{"finishReason":"BLOCKLIST"}]}}"#.into(), (Refused, Some(r#""BLOCKLIST""#))),
            // Bedrock Claude, Nova, Llama.
            (r#"{"recordId":"a","modelOutput":{"content":[],"stop_reason":"max_tokens"}}"#.into(), (Truncated, Some(r#""max_tokens""#))),
            (r#"{"recordId":"a","modelOutput":{"output":{"message":{"content":[]}},"stopReason":"guardrail_intervened"}}"#.into(), (Refused, Some(r#""guardrail_intervened""#))),
            (r#"{"recordId":"a","modelOutput":{"generation":"x","stop_reason":"length"}}"#.into(), (Truncated, Some(r#""length""#))),
            // xAI's results API: the chat completion under `batch_result.response`.
            (r#"{"batch_request_id":"a","batch_result":{"response":{"chat_get_completion":{"model":"grok-4","choices":[{"message":{"content":"x"},"finish_reason":"stop"}]}}},"error_message":null}"#.into(), (Succeeded, Some(r#""stop""#))),
            (r#"{"batch_request_id":"a","batch_result":{"response":{"chat_get_completion":{"choices":[{"message":{"content":"x"},"finish_reason":"REASON_MAX_LEN"}]}}}}"#.into(), (Truncated, Some(r#""REASON_MAX_LEN""#))),
            (r#"{"batch_request_id":"a","batch_result":{"response":{"chat_get_completion":{"choices":[{"message":{"refusal":"no"},"finish_reason":null}]}}}}"#.into(), (Refused, None)),
            (r#"{"batch_request_id":"a","batch_result":null,"error_message":"Internal error"}"#.into(), (Errored, None)),
            // A known field of an unexpected type (a negative count): read for id and status
            // only, the stop reason still counts.
            (r#"{"custom_id":"a","response":{"status_code":200,"body":{"choices":[{"message":{"content":"x"},"finish_reason":"length"}],"usage":{"prompt_tokens":-1}}}}"#.into(), (Truncated, Some(r#""length""#))),
            (r#"{"custom_id":"a","result":{"type":"succeeded","message":{"content":"odd","stop_reason":"refusal"}}}"#.into(), (Refused, Some(r#""refusal""#))),
            // An escaped value is kept as its literal stands.
            (chat(r#""len\u0067th""#, r#"{"content":"x"}"#), (Truncated, Some(r#""len\u0067th""#))),
        ];
        for (line, want) in &cases {
            assert_eq!(&answer(line), want, "{line}");
        }
    }
}
