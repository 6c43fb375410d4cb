//! Result lines of any provider's batch rewritten as OpenAI's batch output lines
//! (`convert --results --to openai`), so that a pipeline reads one shape whatever ran the batch.
//!
//! Every layout `join` reads is read the way `join` reads it ([`batchkit_join::result_info`]:
//! the id, the status with the stop reason's class from `stop_reasons.toml`, the usage, the
//! model and the answer text), and written as
//! `{"id","custom_id","response":{"status_code","request_id","body"},"error"}` (source:
//! <https://platform.openai.com/docs/guides/batch>, "Retrieving the results"; the body is a
//! `chat.completion`, <https://github.com/openai/openai-python/blob/main/src/openai/types/chat/chat_completion.py>):
//!
//! | join's status | `response.body.choices[0].finish_reason` / `error.code` |
//! |---|---|
//! | succeeded | `stop`, or `tool_calls` when the answer calls tools |
//! | truncated | `length` |
//! | refused | `content_filter` |
//! | expired | `error.code` `batch_expired` |
//! | canceled | `error.code` `batch_cancelled` |
//! | errored | `error` with the provider's code and message |
//!
//! Usage: `prompt_tokens` is every input token (cache reads and writes included, as OpenAI
//! counts them), `prompt_tokens_details.cached_tokens` the cache reads,
//! `completion_tokens` every output token (reasoning included) with
//! `completion_tokens_details.reasoning_tokens`. Tool calls (Anthropic and Bedrock Claude
//! `tool_use`, Nova `toolUse`, Gemini `functionCall`, Responses `function_call`) become
//! `tool_calls` with their input as a JSON string. The id is copied byte for byte as its
//! literal stands in the line. Lines already in OpenAI's chat or embeddings output shape (and
//! OpenAI-style error lines) are copied as they stand; Responses API bodies become
//! `chat.completion`s. Gemini embeddings become an embeddings `list`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use batchkit_io::{AtomicFile, Chunk, Input, ReadOptions};
use batchkit_join::{ResultInfo, Status, Text, Unjoinable, Usage};
use batchkit_line::prelude::*;
use batchkit_line::{Code, Diagnostic, ResultLayout, ResultLine, Severity};
use serde::Serialize;
use serde_json::{json, Value};

use crate::{io_err, ConvertError, ConvertSink};

/// What to convert.
#[derive(Debug, Clone)]
pub struct ResultsOptions {
    /// Result files, in order.
    pub inputs: Vec<Input>,
    /// The output file.
    pub out: PathBuf,
    /// How to read the inputs, and the memory budget.
    pub read: ReadOptions,
}

impl ResultsOptions {
    /// Options with the default reading.
    pub fn new(inputs: Vec<Input>, out: impl Into<PathBuf>) -> Self {
        ResultsOptions {
            inputs,
            out: out.into(),
            read: ReadOptions::default(),
        }
    }
}

/// What a conversion of results did: the `summary` record of `batchkit convert --results
/// --format json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ResultsSummary {
    /// The target shape (`openai`).
    pub to: String,
    /// Result lines read (blank lines excluded).
    pub lines: u64,
    /// Lines written (rewritten or kept).
    pub converted: u64,
    /// Of those, lines already in OpenAI's shape, copied as they stand.
    pub kept: u64,
    /// Lines left out: not JSON, not a result line, no id.
    pub left_out: u64,
    /// Lines written, by the status `join` gives them.
    pub statuses: BTreeMap<String, u64>,
    /// Lines written, by the layout they were read in.
    pub layouts: BTreeMap<String, u64>,
    /// Answers that call tools.
    pub tool_calls: u64,
}

/// The short name of a result layout, in summaries.
pub fn layout_name(l: ResultLayout) -> &'static str {
    match l {
        ResultLayout::OpenAi => "openai",
        ResultLayout::Anthropic => "anthropic",
        ResultLayout::Gemini => "gemini",
        ResultLayout::Vertex => "vertex",
        ResultLayout::Bedrock => "bedrock",
        ResultLayout::XAi => "xai",
        ResultLayout::VertexEmbedding => "vertex_embedding",
    }
}

enum Out {
    Blank,
    Line {
        bytes: Vec<u8>,
        status: Status,
        layout: ResultLayout,
        kept: bool,
        tools: bool,
    },
    Finding(Diagnostic),
}

fn finding(code: Code, line: u64, offset: u64, message: String) -> Out {
    Out::Finding(Diagnostic::at(
        code,
        Severity::Error,
        line,
        offset,
        message.as_str(),
    ))
}

/// A line `join` cannot read by id, in validate's words where it has them.
fn unjoinable(u: &Unjoinable, line: u64, offset: u64) -> Out {
    let (code, message) = match u {
        Unjoinable::InvalidUtf8(m) => (Code::InvalidUtf8, m.clone()),
        Unjoinable::InvalidJson(m) => (Code::InvalidJson, m.clone()),
        Unjoinable::NotObject => (Code::NotObject, "not a JSON object".to_string()),
        Unjoinable::VertexNoId => (
            Code::MissingField,
            "a Vertex AI output line without `custom_id` or `key`: nothing names its request"
                .to_string(),
        ),
        Unjoinable::MissingId => (
            Code::MissingField,
            "no id (`custom_id`, `key`, `recordId`, `metadata.key` or `batch_request_id`)"
                .to_string(),
        ),
        Unjoinable::InvalidId => (Code::WrongType, "the id is not a string".to_string()),
    };
    finding(code, line, offset, message)
}

/// What the parse of a recognised result line gives: its layout, the id's literal (range in
/// the line) and the line as a value.
struct Parsed {
    layout: ResultLayout,
    id: (usize, usize),
    value: Value,
}

fn convert_line(content: &[u8], line: u64, offset: u64, read: &ReadOptions) -> Out {
    if let Err(need) = read.budget.parse_fits(content) {
        return finding(
            Code::LineTooLarge,
            line,
            offset,
            batchkit_json::syntax::too_big_to_parse(
                content.len(),
                &batchkit_io::format_size(need),
                &batchkit_io::format_size(read.budget.total()),
            ),
        );
    }
    // The join's reading: id, status (with the stop reason's class), usage, model, text.
    let info = batchkit_join::result_info(content);
    if let Some(u) = &info.unjoinable {
        return unjoinable(u, line, offset);
    }
    if info.content.is_some() {
        // A Vertex row that names its request only by echoing it: no id to write.
        return finding(
            Code::MissingField,
            line,
            offset,
            "a Vertex AI output row without an id: only its request, echoed, says which it \
             answers; `batchkit join` matches it by content"
                .to_string(),
        );
    }
    let parsed = batchkit_line::read_located(content, |root, at| {
        let id = ResultLine::find_id(root)?;
        let range = at.string_range(id.as_str()?)?;
        let value = batchkit_line::to_serde(root);
        let layout = match ResultLine::detect(root) {
            Some(r) => refine(r.layout(), &value),
            // Gemini's error row: the id beside a `google.rpc.Status` in `status`.
            None if get(&value, &["status"]).is_some_and(Value::is_object) => ResultLayout::Gemini,
            None => return None,
        };
        Some(Parsed {
            layout,
            id: range,
            value,
        })
    });
    let Some(p) = parsed.ok().flatten() else {
        return finding(
            Code::Unconvertible,
            line,
            offset,
            "not a result line convert reads (OpenAI-style, Anthropic, Gemini, Vertex AI, Amazon Bedrock or xAI results)".to_string(),
        );
    };
    let status = info.status.unwrap_or(Status::Errored);
    if p.layout == ResultLayout::OpenAi && openai_as_it_stands(&p.value) {
        let mut bytes = content.to_vec();
        bytes.push(b'\n');
        return Out::Line {
            bytes,
            status,
            layout: p.layout,
            kept: true,
            tools: has_openai_tool_calls(&p.value),
        };
    }
    let (response, error, tools) = match status {
        Status::Succeeded | Status::Truncated | Status::Refused | Status::InvalidAnswer => {
            let (body, request_id, tools) = body_of(&p, &info, content, status);
            let r = Envelope {
                status_code: 200,
                request_id,
                body,
            };
            (json_bytes(&r), json_bytes(&Value::Null), tools)
        }
        Status::Expired => (
            json_bytes(&Value::Null),
            json_bytes(&error_of(
                &p,
                "batch_expired",
                "the batch expired before this request ran",
            )),
            false,
        ),
        Status::Canceled => (
            json_bytes(&Value::Null),
            json_bytes(&error_of(
                &p,
                "batch_cancelled",
                "the batch was cancelled before this request ran",
            )),
            false,
        ),
        Status::Errored | Status::Missing => (
            json_bytes(&Value::Null),
            json_bytes(&error_of(
                &p,
                "",
                "the provider reported an error and no answer",
            )),
            false,
        ),
    };
    let mut bytes = Vec::with_capacity(content.len() + 128);
    bytes.extend_from_slice(
        format!(
            "{{\"id\":\"batch_req_{:016x}\",\"custom_id\":",
            crate::xxh64(content)
        )
        .as_bytes(),
    );
    bytes.extend_from_slice(&content[p.id.0..p.id.0 + p.id.1]);
    bytes.extend_from_slice(b",\"response\":");
    bytes.extend_from_slice(&response);
    bytes.extend_from_slice(b",\"error\":");
    bytes.extend_from_slice(&error);
    bytes.extend_from_slice(b"}\n");
    Out::Line {
        bytes,
        status,
        layout: p.layout,
        kept: false,
        tools,
    }
}

/// A line recognised as OpenAI-style by its `custom_id` whose `response` is neither a body
/// nor a completion: a Gemini response under an echoed id (Vertex AI echoes `custom_id`).
fn refine(layout: ResultLayout, v: &Value) -> ResultLayout {
    let Some(resp) = get(v, &["response"]) else {
        return layout;
    };
    if layout != ResultLayout::OpenAi
        || get(resp, &["body"]).is_some()
        || get(resp, &["choices"]).is_some()
    {
        return layout;
    }
    if get(v, &["request"]).is_some() || get(v, &["processed_time"]).is_some() {
        ResultLayout::Vertex
    } else {
        ResultLayout::Gemini
    }
}

fn json_bytes<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_else(|_| b"null".to_vec())
}

/// `response` of an OpenAI batch output line, its fields in OpenAI's order.
#[derive(Serialize)]
struct Envelope {
    status_code: u16,
    request_id: Value,
    body: Body,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Body {
    Chat(Box<Completion>),
    Other(Value),
}

/// A `chat.completion` (openai-python `types/chat/chat_completion.py`).
#[derive(Serialize)]
struct Completion {
    id: Value,
    object: &'static str,
    /// Not reported by every provider: 0 rather than a time made up.
    created: u64,
    model: Value,
    choices: [Choice; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<UsageOut>,
}

#[derive(Serialize)]
struct Choice {
    index: u32,
    message: Message,
    logprobs: Value,
    finish_reason: &'static str,
}

#[derive(Serialize)]
struct Message {
    role: &'static str,
    content: Value,
    refusal: Value,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<ToolCall>,
}

#[derive(Serialize)]
struct ToolCall {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    function: Function,
}

#[derive(Serialize)]
struct Function {
    name: Value,
    arguments: String,
}

#[derive(Serialize)]
struct UsageOut {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    prompt_tokens_details: PromptDetails,
    completion_tokens_details: CompletionDetails,
}

#[derive(Serialize)]
struct PromptDetails {
    cached_tokens: u64,
    /// Cache writes (Anthropic's cache creation), as join reads them back.
    #[serde(skip_serializing_if = "is_zero")]
    cache_write_tokens: u64,
}

#[derive(Serialize)]
struct CompletionDetails {
    reasoning_tokens: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .filter(|v| !v.is_null())
}

fn items(v: Option<&Value>) -> impl Iterator<Item = &Value> {
    v.and_then(Value::as_array).into_iter().flatten()
}

/// An OpenAI-style line already in the chat or embeddings output shape (or an error line):
/// not a Responses API body, not vLLM's older layout (the completion itself in `response`).
fn openai_as_it_stands(v: &Value) -> bool {
    let Some(resp) = get(v, &["response"]) else {
        return true;
    };
    match get(resp, &["body"]) {
        Some(b) => {
            get(b, &["output"]).is_none()
                && get(b, &["object"]).and_then(Value::as_str) != Some("response")
        }
        None => get(resp, &["choices"]).is_none(),
    }
}

fn has_openai_tool_calls(v: &Value) -> bool {
    let body = get(v, &["response", "body"]).or_else(|| get(v, &["response"]));
    items(body.and_then(|b| get(b, &["choices"])))
        .next()
        .and_then(|c| get(c, &["message", "tool_calls"]))
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
}

/// A tool call in OpenAI's shape: `arguments` is the input as a JSON string.
fn tool_call(
    id: Option<&Value>,
    name: Option<&Value>,
    input: Option<&Value>,
    n: usize,
) -> ToolCall {
    let arguments = match input {
        Some(Value::String(s)) => s.clone(),
        Some(v) => serde_json::to_string(v).unwrap_or_default(),
        None => "{}".to_string(),
    };
    ToolCall {
        // Gemini gives calls no id: one by position, as the answer's own.
        id: id
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("call_{n}")),
        kind: "function",
        function: Function {
            name: name.cloned().unwrap_or(Value::Null),
            arguments,
        },
    }
}

/// The tool calls of an answer, in each layout's blocks.
fn tool_calls(p: &Parsed) -> Vec<ToolCall> {
    let v = &p.value;
    let mut calls = Vec::new();
    let blocks: Vec<&Value> = match p.layout {
        ResultLayout::Anthropic => items(get(v, &["result", "message", "content"])).collect(),
        ResultLayout::Bedrock => items(get(v, &["modelOutput", "content"]))
            .chain(items(get(
                v,
                &["modelOutput", "output", "message", "content"],
            )))
            .collect(),
        ResultLayout::Gemini | ResultLayout::Vertex => {
            let c = items(get(v, &["response", "candidates"])).next();
            items(c.and_then(|c| get(c, &["content", "parts"]))).collect()
        }
        ResultLayout::OpenAi => items(get(v, &["response", "body", "output"])).collect(),
        ResultLayout::XAi | ResultLayout::VertexEmbedding => Vec::new(),
    };
    for b in blocks {
        let n = calls.len();
        if get(b, &["type"]).and_then(Value::as_str) == Some("tool_use") {
            calls.push(tool_call(
                get(b, &["id"]),
                get(b, &["name"]),
                get(b, &["input"]),
                n,
            ));
        } else if let Some(u) = get(b, &["toolUse"]) {
            calls.push(tool_call(
                get(u, &["toolUseId"]),
                get(u, &["name"]),
                get(u, &["input"]),
                n,
            ));
        } else if let Some(f) = get(b, &["functionCall"]) {
            calls.push(tool_call(
                get(f, &["id"]),
                get(f, &["name"]),
                get(f, &["args"]),
                n,
            ));
        } else if get(b, &["type"]).and_then(Value::as_str) == Some("function_call") {
            calls.push(tool_call(
                get(b, &["call_id"]),
                get(b, &["name"]),
                get(b, &["arguments"]),
                n,
            ));
        }
    }
    calls
}

/// The answer text `join` reads, decoded.
fn text_of(content: &[u8], t: &Option<Text>) -> Value {
    let literal = match t {
        Some(Text::Raw { start, len }) => &content[*start..start + len],
        Some(Text::Owned(s)) => s.as_bytes(),
        None => return Value::Null,
    };
    serde_json::from_slice(literal).unwrap_or(Value::Null)
}

fn usage_of(u: &Usage) -> UsageOut {
    UsageOut {
        prompt_tokens: u.input,
        completion_tokens: u.output,
        total_tokens: u.input + u.output,
        prompt_tokens_details: PromptDetails {
            cached_tokens: u.cached,
            cache_write_tokens: u.cache_write,
        },
        completion_tokens_details: CompletionDetails {
            reasoning_tokens: u.reasoning,
        },
    }
}

/// The response body, the provider's id for the response, and whether the answer calls tools.
fn body_of(
    p: &Parsed,
    info: &ResultInfo<'_>,
    content: &[u8],
    status: Status,
) -> (Body, Value, bool) {
    let v = &p.value;
    let model = info
        .model
        .as_deref()
        .map_or(Value::Null, |m| Value::String(m.to_string()));
    // A completion in the line already: xAI's, vLLM's older layout.
    let completion = match p.layout {
        ResultLayout::XAi => get(v, &["batch_result", "response", "chat_get_completion"]),
        ResultLayout::OpenAi if get(v, &["response", "body"]).is_none() => get(v, &["response"]),
        _ => None,
    };
    if let Some(c) = completion {
        let id = get(c, &["id"]).cloned().unwrap_or(Value::Null);
        let mut body = c.clone();
        if let Some(o) = body.as_object_mut() {
            o.entry("object")
                .or_insert_with(|| "chat.completion".into());
        }
        return (
            Body::Other(body),
            id,
            has_openai_tool_calls(&json!({"response": c})),
        );
    }
    let embedding = get(v, &["response", "embedding", "values"])
        .map(|e| vec![e])
        .or_else(|| {
            get(v, &["response", "embeddings"])
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|e| get(e, &["values"])).collect())
        });
    if let Some(list) = embedding {
        let data: Vec<Value> = list
            .into_iter()
            .enumerate()
            .map(|(i, e)| json!({"object": "embedding", "index": i, "embedding": e}))
            .collect();
        let mut body = json!({"object": "list", "data": data, "model": model});
        if let Some(u) = &info.usage {
            body["usage"] = json!({"prompt_tokens": u.input, "total_tokens": u.input});
        }
        return (Body::Other(body), Value::Null, false);
    }
    let request_id = match p.layout {
        ResultLayout::Anthropic => get(v, &["result", "message", "id"]),
        ResultLayout::Bedrock => get(v, &["modelOutput", "id"]),
        ResultLayout::Gemini | ResultLayout::Vertex => get(v, &["response", "responseId"]),
        _ => get(v, &["response", "body", "id"]),
    }
    .cloned()
    .unwrap_or(Value::Null);
    let calls = tool_calls(p);
    let refusal = items(get(v, &["response", "body", "output"]))
        .flat_map(|item| items(get(item, &["content"])))
        .find(|c| get(c, &["type"]).and_then(Value::as_str) == Some("refusal"))
        .and_then(|c| get(c, &["refusal"]))
        .cloned()
        .unwrap_or(Value::Null);
    let finish = match status {
        Status::Truncated => "length",
        Status::Refused => "content_filter",
        _ if !calls.is_empty() => "tool_calls",
        _ => "stop",
    };
    let message = Message {
        role: "assistant",
        content: text_of(content, &info.text),
        refusal,
        tool_calls: calls,
    };
    let tools = !message.tool_calls.is_empty();
    let body = Completion {
        id: request_id.clone(),
        object: "chat.completion",
        created: 0,
        model,
        choices: [Choice {
            index: 0,
            message,
            logprobs: Value::Null,
            finish_reason: finish,
        }],
        usage: info.usage.as_ref().map(usage_of),
    };
    (Body::Chat(Box::new(body)), request_id, tools)
}

/// The `error` object of a result with no answer: the provider's code and message where it
/// gives them (`fixed` code when not empty: `batch_expired`, `batch_cancelled`).
fn error_of(p: &Parsed, fixed: &str, fallback: &str) -> Value {
    let v = &p.value;
    let e = match p.layout {
        ResultLayout::Anthropic => {
            get(v, &["result", "error", "error"]).or(get(v, &["result", "error"]))
        }
        ResultLayout::XAi => get(v, &["error_message"]),
        _ => get(v, &["error"]).or(get(v, &["status"])),
    };
    let text = |k: &[&str]| {
        e.and_then(|e| k.iter().find_map(|k| get(e, &[k])))
            .map(|c| match c {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
    };
    let (code, message) = match e {
        // Vertex writes the error as a string in `status`; xAI as `error_message`.
        Some(Value::String(s)) => (None, Some(s.clone())),
        _ => (
            text(&["type", "status", "errorCode", "code"]),
            text(&["message", "errorMessage"]),
        ),
    };
    let code = if fixed.is_empty() {
        code.unwrap_or_else(|| "error".to_string())
    } else {
        fixed.to_string()
    };
    json!({"code": code, "message": message.unwrap_or_else(|| fallback.to_string())})
}

/// Rewrites the result lines of `opts.inputs` as OpenAI's batch output lines into
/// `opts.out`, in input order; see the module docs. A line that is not a result line with an
/// id is a finding and is left out.
pub fn convert_results(
    opts: &ResultsOptions,
    sink: &mut dyn ConvertSink,
) -> Result<ResultsSummary, ConvertError> {
    let mut out = AtomicFile::create(&opts.out).map_err(io_err(&opts.out))?;
    let mut s = ResultsSummary {
        to: "openai".into(),
        ..ResultsSummary::default()
    };
    for input in &opts.inputs {
        batchkit_io::run(
            input,
            &opts.read,
            |chunk: &Chunk| -> Vec<Out> {
                chunk
                    .lines()
                    .map(|l| {
                        if l.is_blank() {
                            Out::Blank
                        } else {
                            convert_line(l.content, l.number, l.offset, &opts.read)
                        }
                    })
                    .collect()
            },
            |chunk: &Chunk, lines: Vec<Out>| -> Result<bool, ConvertError> {
                if let Some(o) = chunk.oversized {
                    s.lines += 1;
                    s.left_out += 1;
                    let d = Diagnostic::at(
                        Code::LineTooLarge,
                        Severity::Error,
                        o.line,
                        o.offset,
                        batchkit_json::syntax::line_too_large(
                            o.len,
                            opts.read.max_line_bytes as u64,
                        ),
                    );
                    sink.finding(&input.name, &d)
                        .map_err(ConvertError::Report)?;
                }
                for l in lines {
                    match l {
                        Out::Blank => {}
                        Out::Line {
                            bytes,
                            status,
                            layout,
                            kept,
                            tools,
                        } => {
                            s.lines += 1;
                            s.converted += 1;
                            s.kept += u64::from(kept);
                            s.tool_calls += u64::from(tools);
                            *s.statuses.entry(status.as_str().to_string()).or_default() += 1;
                            *s.layouts
                                .entry(layout_name(layout).to_string())
                                .or_default() += 1;
                            out.write_all(&bytes).map_err(io_err(&opts.out))?;
                        }
                        Out::Finding(d) => {
                            s.lines += 1;
                            s.left_out += 1;
                            sink.finding(&input.name, &d)
                                .map_err(ConvertError::Report)?;
                        }
                    }
                }
                Ok(true)
            },
        )?;
    }
    out.commit().map_err(io_err(&opts.out))?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> Value {
        match convert_line(line.as_bytes(), 1, 0, &ReadOptions::default()) {
            Out::Line { bytes, .. } => serde_json::from_slice(&bytes).unwrap(),
            _ => panic!("left out: {line}"),
        }
    }

    #[test]
    fn anthropic_tool_use_and_cache_usage() {
        let v = one(
            r#"{"custom_id":"a\u0041","result":{"type":"succeeded","message":{"id":"msg_1","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Looking."},{"type":"tool_use","id":"toolu_1","name":"lookup","input":{"q":"x"}}],"stop_reason":"tool_use","usage":{"input_tokens":10,"cache_read_input_tokens":100,"cache_creation_input_tokens":5,"output_tokens":7}}}}"#,
        );
        assert_eq!(v["custom_id"], "aA");
        let body = &v["response"]["body"];
        assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
        let call = &body["choices"][0]["message"]["tool_calls"][0];
        assert_eq!(call["function"]["arguments"], r#"{"q":"x"}"#);
        assert_eq!(call["id"], "toolu_1");
        assert_eq!(body["usage"]["prompt_tokens"], 115);
        assert_eq!(body["usage"]["prompt_tokens_details"]["cached_tokens"], 100);
        assert_eq!(body["usage"]["total_tokens"], 122);
        assert_eq!(v["response"]["request_id"], "msg_1");
    }

    #[test]
    fn ids_are_copied_as_their_literal_stands() {
        let line = r#"{"custom_id":"caf\u00e9 \"1\"","result":{"type":"expired"}}"#;
        match convert_line(line.as_bytes(), 1, 0, &ReadOptions::default()) {
            Out::Line { bytes, .. } => {
                let s = String::from_utf8(bytes).unwrap();
                assert!(s.contains(r#""custom_id":"caf\u00e9 \"1\"""#), "{s}");
                assert!(s.contains(r#""error":{"code":"batch_expired""#), "{s}");
            }
            _ => panic!(),
        }
    }

    #[test]
    fn stop_reasons_map_to_finish_reasons() {
        let gem = |reason: &str| {
            one(&format!(
                r#"{{"key":"k","response":{{"candidates":[{{"content":{{"parts":[{{"text":"t"}}]}},"finishReason":"{reason}"}}]}}}}"#
            ))["response"]["body"]["choices"][0]["finish_reason"]
                .clone()
        };
        assert_eq!(gem("STOP"), "stop");
        assert_eq!(gem("MAX_TOKENS"), "length");
        assert_eq!(gem("SAFETY"), "content_filter");
    }

    #[test]
    fn lines_that_are_not_results_are_findings() {
        for line in [
            r#"{"custom_id":"a","body":{}}"#,
            "[1]",
            "{",
            r#"{"result":{"type":"expired"}}"#,
        ] {
            assert!(
                matches!(convert_line(line.as_bytes(), 3, 9, &ReadOptions::default()), Out::Finding(d) if d.line == Some(3)),
                "{line}"
            );
        }
    }
}
