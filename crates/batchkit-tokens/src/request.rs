//! Counting one request line: which API shape it has, and the counting rule of its endpoint.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::encoding::{tokenizer_for, Encoding};
use crate::image::{data_url_size, openai_image_tokens};

/// The token count of one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestCount {
    /// `custom_id` (OpenAI-style, Anthropic) or `key` (Gemini), when present.
    pub custom_id: Option<String>,
    /// The model the request was counted for (`--model` when given, else the line's).
    pub model: Option<String>,
    /// The encoding used.
    pub encoding: Encoding,
    /// Input tokens.
    pub input_tokens: u64,
    /// The most output tokens the request allows (`max_tokens`, `max_completion_tokens`,
    /// `max_output_tokens`, `maxOutputTokens`); `Some(0)` for endpoints with no output
    /// (embeddings), `None` when the request sets no limit.
    pub max_output_tokens: Option<u64>,
    /// Whether `input_tokens` is exact: the model's real tokenizer and a documented rule for
    /// every part of the request.
    pub exact: bool,
    /// JSON pointers of keys that repeat in their object (the first value was read).
    pub duplicate_keys: Vec<String>,
}

/// Why a line could not be counted (or, for a blank line, why it was skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProblem {
    /// Stable code, shared with `validate` where the meaning is the same.
    pub code: &'static str,
    /// Whether the run has a problem (errors) or only a remark (warnings).
    pub severity: Severity,
    /// What is wrong, for people.
    pub message: String,
}

/// How bad a [`LineProblem`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The line was not counted.
    Error,
    /// Nothing was lost (a blank line).
    Warning,
}

impl Severity {
    /// `"error"` or `"warning"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

fn error(code: &'static str, message: impl Into<String>) -> LineProblem {
    LineProblem {
        code,
        severity: Severity::Error,
        message: message.into(),
    }
}

/// Counts one request line (without its terminator or BOM).
///
/// `model` overrides the line's model for the tokenizer (Azure deployment names, Gemini
/// files that carry no model).
pub fn count_request(content: &[u8], model: Option<&str>) -> Result<RequestCount, LineProblem> {
    if content.iter().all(u8::is_ascii_whitespace) {
        return Err(LineProblem {
            code: "empty_line",
            severity: Severity::Warning,
            message: "blank line, skipped".into(),
        });
    }
    if let Err(e) = std::str::from_utf8(content) {
        return Err(error(
            "invalid_utf8",
            format!("invalid UTF-8 at byte {} of the line", e.valid_up_to()),
        ));
    }
    // The same reading of JSON as every other command: first of duplicate keys, any number,
    // one depth limit.
    let parsed = batchkit_json::parse_value(content).map_err(|e| {
        if batchkit_json::is_depth_error(&e) {
            return error("invalid_json", batchkit_json::depth_message());
        }
        // The line is one JSON text, so serde's "line 1" adds nothing; keep the column.
        let msg = e.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg);
        error(
            "invalid_json",
            format!("not valid JSON: {msg} (column {})", e.column()),
        )
    })?;
    let duplicate_keys = parsed.duplicate_keys;
    let value = parsed.value;
    let Value::Object(obj) = value else {
        return Err(error(
            "not_object",
            "the line is valid JSON but not an object",
        ));
    };
    let custom_id = obj
        .get("custom_id")
        .or_else(|| obj.get("key"))
        .or_else(|| obj.get("recordId"))
        .and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
    let (inner, shape) = if let Some(Value::Object(body)) = obj.get("body") {
        (body, Shape::OpenAi(obj.get("url").and_then(Value::as_str)))
    } else if let Some(Value::Object(params)) = obj.get("params") {
        (params, Shape::Anthropic)
    } else if let Some(Value::Object(request)) = obj.get("request") {
        (request, Shape::Gemini)
    } else if let Some(Value::Object(input)) = obj.get("modelInput") {
        (input, Shape::Bedrock)
    } else {
        return Err(error(
            "unknown_format",
            "no request found: expected an object `body` (OpenAI-style), `params` (Anthropic), `request` (Gemini, Vertex) or `modelInput` (Bedrock)",
        ));
    };
    let line_model = inner.get("model").and_then(Value::as_str);
    let model = model.or(line_model).map(str::to_string);
    let tokenizer = tokenizer_for(model.as_deref());
    let mut c = Counter {
        enc: tokenizer.encoding,
        exact: tokenizer.exact,
        model: model.as_deref().unwrap_or(""),
    };
    let (input_tokens, max_output_tokens) = match shape {
        Shape::OpenAi(url) => c.openai(url, inner),
        Shape::Anthropic => (c.anthropic(inner), first_u64(inner, &["max_tokens"])),
        Shape::Gemini => (c.gemini(inner), gemini_max_output(inner)),
        Shape::Bedrock => (c.bedrock(inner), bedrock_max_output(inner)),
    };
    Ok(RequestCount {
        custom_id,
        encoding: tokenizer.encoding,
        exact: c.exact,
        model,
        input_tokens,
        max_output_tokens,
        duplicate_keys,
    })
}

enum Shape<'a> {
    OpenAi(Option<&'a str>),
    Anthropic,
    Gemini,
    /// Amazon Bedrock `modelInput`: the model's own InvokeModel body (the model is set on the
    /// job, so it comes from `--model`).
    Bedrock,
}

fn first_u64(obj: &Map<String, Value>, keys: &[&str]) -> Option<u64> {
    keys.iter()
        .find_map(|k| obj.get(*k).and_then(Value::as_u64))
}

fn gemini_max_output(req: &Map<String, Value>) -> Option<u64> {
    ["generationConfig", "generation_config"]
        .iter()
        .filter_map(|k| req.get(*k).and_then(Value::as_object))
        .find_map(|g| first_u64(g, &["maxOutputTokens", "max_output_tokens"]))
}

/// Bedrock bodies: Claude `max_tokens`, Llama `max_gen_len`, Nova `inferenceConfig.maxTokens`;
/// a Titan embeddings body (`inputText` without `textGenerationConfig`) has no output.
fn bedrock_max_output(input: &Map<String, Value>) -> Option<u64> {
    first_u64(input, &["max_tokens", "max_gen_len"])
        .or_else(|| {
            input
                .get("inferenceConfig")
                .and_then(Value::as_object)
                .and_then(|c| first_u64(c, &["maxTokens", "max_new_tokens"]))
        })
        .or_else(|| {
            input
                .get("textGenerationConfig")
                .and_then(Value::as_object)
                .and_then(|c| first_u64(c, &["maxTokenCount"]))
        })
        .or_else(|| {
            (input.contains_key("inputText") && !input.contains_key("textGenerationConfig"))
                .then_some(0)
        })
}

struct Counter<'a> {
    enc: Encoding,
    exact: bool,
    model: &'a str,
}

/// The request-level fields a chat request is priced on that the cookbook rule leaves out.
const CHAT_EXTRAS: &[&str] = &["tools", "functions", "response_format", "prediction"];

impl Counter<'_> {
    fn text(&self, s: &str) -> u64 {
        self.enc.count(s)
    }

    fn openai(&mut self, url: Option<&str>, body: &Map<String, Value>) -> (u64, Option<u64>) {
        let max_out = first_u64(
            body,
            &["max_completion_tokens", "max_tokens", "max_output_tokens"],
        );
        let path = url.map(|u| u.split('?').next().unwrap_or(u).trim_end_matches('/'));
        let endpoint = match path {
            Some(p) if p.ends_with("/chat/completions") => "chat",
            Some(p) if p.ends_with("/embeddings") => "embeddings",
            Some(p) if p.ends_with("/completions") => "completions",
            Some(p) if p.ends_with("/responses") => "responses",
            Some(_) => "other",
            // No url (Mistral files: one endpoint per job): the body tells.
            None if body.contains_key("messages") => "chat",
            None if body.contains_key("prompt") => "completions",
            None if body.contains_key("input") && self.model.contains("embed") => "embeddings",
            None => "other",
        };
        match endpoint {
            "chat" => {
                let mut n = 3;
                match body.get("messages") {
                    Some(Value::Array(msgs)) => {
                        for m in msgs {
                            n += self.chat_message(m);
                        }
                    }
                    _ => self.exact = false,
                }
                for k in CHAT_EXTRAS {
                    if let Some(v) = body.get(*k) {
                        if !v.is_null() {
                            n += self.estimate_json(v);
                        }
                    }
                }
                (n, max_out)
            }
            "embeddings" => (self.token_input(body.get("input")), Some(0)),
            "completions" => (self.token_input(body.get("prompt")), max_out),
            "responses" => {
                self.exact = false;
                let mut n = 0;
                if let Some(Value::String(s)) = body.get("instructions") {
                    n += self.text(s) + 3;
                }
                match body.get("input") {
                    Some(Value::String(s)) => n += 3 + 3 + self.text(s),
                    Some(Value::Array(items)) => {
                        n += 3;
                        for item in items {
                            n += self.chat_message(item);
                        }
                    }
                    _ => {}
                }
                for k in ["tools", "text"] {
                    if let Some(v) = body.get(k) {
                        n += self.estimate_json(v);
                    }
                }
                (n, max_out)
            }
            _ => {
                // Moderations, images, videos: no token rule published; count their text.
                self.exact = false;
                let n = body
                    .iter()
                    .filter(|(k, _)| *k != "model")
                    .map(|(_, v)| self.estimate_value(v))
                    .sum();
                (n, max_out)
            }
        }
    }

    /// OpenAI's cookbook rule for one chat message: 3 + the tokens of every string field, and
    /// 1 more for a `name`.
    fn chat_message(&mut self, msg: &Value) -> u64 {
        let Value::Object(msg) = msg else {
            self.exact = false;
            return self.estimate_value(msg);
        };
        let mut n = 3;
        for (k, v) in msg {
            match v {
                Value::String(s) => n += self.text(s),
                Value::Null => {}
                Value::Array(parts) if k == "content" => {
                    for p in parts {
                        n += self.content_part(p);
                    }
                }
                // tool_calls, function_call, audio: outside the documented rule.
                other => {
                    self.exact = false;
                    n += self.estimate_value(other);
                }
            }
            if k == "name" {
                n += 1;
            }
        }
        n
    }

    fn content_part(&mut self, part: &Value) -> u64 {
        let Value::Object(p) = part else {
            if let Value::String(s) = part {
                return self.text(s);
            }
            self.exact = false;
            return 0;
        };
        match p.get("type").and_then(Value::as_str) {
            Some("text" | "input_text" | "output_text") => p
                .get("text")
                .and_then(Value::as_str)
                .map_or(0, |s| self.text(s)),
            Some("image_url" | "input_image") => {
                let (url, detail) = match p.get("image_url") {
                    Some(Value::Object(iu)) => (
                        iu.get("url").and_then(Value::as_str),
                        iu.get("detail").and_then(Value::as_str),
                    ),
                    Some(Value::String(u)) => {
                        (Some(u.as_str()), p.get("detail").and_then(Value::as_str))
                    }
                    _ => (None, p.get("detail").and_then(Value::as_str)),
                };
                let size = url.and_then(data_url_size);
                let (n, exact) = openai_image_tokens(self.model, detail, size);
                self.exact &= exact;
                n
            }
            _ => {
                // Audio, files: billed by rules a JSONL file cannot show.
                self.exact = false;
                0
            }
        }
    }

    /// Embeddings `input` / completions `prompt`: a string, strings, a token array, or
    /// token arrays.
    fn token_input(&mut self, input: Option<&Value>) -> u64 {
        match input {
            Some(Value::String(s)) => self.text(s),
            Some(Value::Array(items)) => items
                .iter()
                .map(|it| match it {
                    Value::String(s) => self.text(s),
                    Value::Number(_) => 1,
                    Value::Array(toks) => toks.len() as u64,
                    _ => {
                        self.exact = false;
                        0
                    }
                })
                .sum(),
            _ => {
                self.exact = false;
                0
            }
        }
    }

    fn anthropic(&mut self, params: &Map<String, Value>) -> u64 {
        self.exact = false;
        let mut n = 0;
        if let Some(system) = params.get("system") {
            n += self.estimate_value(system);
        }
        if let Some(Value::Array(msgs)) = params.get("messages") {
            for m in msgs {
                n += 3 + m.get("content").map_or(0, |c| self.estimate_value(c));
            }
        }
        for k in ["tools", "tool_choice", "output_format"] {
            if let Some(v) = params.get(k) {
                n += self.estimate_json(v);
            }
        }
        n
    }

    /// A Claude body counts like an Anthropic `params` body; Nova (`messages`, `system`
    /// blocks), Llama (`prompt`) and Titan (`inputText`) by the text they carry. Always an
    /// estimate.
    fn bedrock(&mut self, input: &Map<String, Value>) -> u64 {
        let mut n = self.anthropic(input);
        for k in ["prompt", "inputText"] {
            if let Some(v) = input.get(k) {
                n += self.estimate_value(v);
            }
        }
        n
    }

    fn gemini(&mut self, req: &Map<String, Value>) -> u64 {
        self.exact = false;
        let mut n = 0;
        for k in ["systemInstruction", "system_instruction", "contents"] {
            if let Some(v) = req.get(k) {
                n += self.estimate_value(v);
            }
        }
        if let Some(v) = req.get("tools") {
            n += self.estimate_json(v);
        }
        n
    }

    /// Tokens of a JSON value sent as-is (tool definitions, schemas): its compact text.
    fn estimate_json(&mut self, v: &Value) -> u64 {
        self.exact = false;
        self.text(&v.to_string())
    }

    /// An estimate for content with no published rule: the text of its string leaves, with
    /// inline media replaced by a fixed per-image figure and structural fields left out.
    fn estimate_value(&mut self, v: &Value) -> u64 {
        match v {
            Value::String(s) => self.text(s),
            Value::Array(a) => a.iter().map(|x| self.estimate_value(x)).sum(),
            Value::Object(o) => {
                if is_media(o) {
                    self.exact = false;
                    return media_estimate(o);
                }
                o.iter()
                    .filter(|(k, _)| !SKIPPED_KEYS.contains(&k.as_str()))
                    .map(|(_, x)| self.estimate_value(x))
                    .sum()
            }
            Value::Number(_) | Value::Bool(_) | Value::Null => 0,
        }
    }
}

/// Keys whose values are markup rather than text the model reads.
const SKIPPED_KEYS: &[&str] = &[
    "type",
    "role",
    "cache_control",
    "media_type",
    "mime_type",
    "mimeType",
    "id",
    "tool_use_id",
];

fn is_media(o: &Map<String, Value>) -> bool {
    matches!(
        o.get("type").and_then(Value::as_str),
        Some("image" | "document")
    ) || ["inlineData", "inline_data", "fileData", "file_data"]
        .iter()
        .any(|k| o.contains_key(*k))
}

/// Anthropic: pixels / 750, at most about 1,600 for an image of the largest size;
/// Gemini: 258 per image. Without the size, the upper figure.
fn media_estimate(o: &Map<String, Value>) -> u64 {
    if o.get("type").and_then(Value::as_str) == Some("image") {
        let data = o
            .get("source")
            .and_then(|s| s.get("data"))
            .and_then(Value::as_str);
        let size = data.and_then(|d| {
            let b64 = d.get(..d.len().min(256 << 10) / 4 * 4)?;
            data_url_size(&format!("data:x;base64,{b64}"))
        });
        return match size {
            Some((w, h)) => {
                let (w, h) = (f64::from(w), f64::from(h));
                let s = (1568.0 / w.max(h)).min(1.0);
                ((w * s) * (h * s) / 750.0).ceil() as u64
            }
            None => 1600,
        };
    }
    258
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(line: &str) -> RequestCount {
        count_request(line.as_bytes(), None).unwrap()
    }

    #[test]
    fn chat_follows_the_cookbook_rule() {
        // 3 (priming) + message 1: 3 + "system"(1) + "You are a helpful assistant."(6)
        // + message 2: 3 + "user"(1) + "Hello world!"(3) + name "bob" (1) + 1.
        let c = count(
            r#"{"custom_id":"r1","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Hello world!","name":"bob"}],"max_tokens":1000}}"#,
        );
        assert_eq!(c.input_tokens, 3 + (3 + 1 + 6) + (3 + 1 + 3 + 1 + 1));
        assert_eq!(c.max_output_tokens, Some(1000));
        assert_eq!(c.custom_id.as_deref(), Some("r1"));
        assert!(c.exact);
        assert_eq!(c.encoding, Encoding::O200kBase);
    }

    #[test]
    fn text_parts_and_images() {
        let c = count(
            r#"{"custom_id":"r","url":"/v1/chat/completions","body":{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"Hello world!"},{"type":"image_url","image_url":{"url":"https://x/y.png","detail":"low"}}]}]}}"#,
        );
        assert_eq!(c.input_tokens, 3 + 3 + 1 + 3 + 85);
        assert!(c.exact);
        assert_eq!(c.max_output_tokens, None);
    }

    #[test]
    fn embeddings_inputs() {
        let c = count(
            r#"{"custom_id":"e","url":"/v1/embeddings","body":{"model":"text-embedding-3-small","input":["Hello world!",[1,2,3,4]]}}"#,
        );
        assert_eq!(c.input_tokens, 3 + 4);
        assert_eq!(c.max_output_tokens, Some(0));
        assert_eq!(c.encoding, Encoding::Cl100kBase);
        assert!(c.exact);
        let c = count(
            r#"{"custom_id":"e","url":"/v1/embeddings","body":{"model":"text-embedding-3-small","input":[5,6,7]}}"#,
        );
        assert_eq!(c.input_tokens, 3);
    }

    #[test]
    fn other_providers_are_estimates() {
        let a = count(
            r#"{"custom_id":"a","params":{"model":"claude-sonnet-4-5","max_tokens":512,"system":"Be brief.","messages":[{"role":"user","content":"Hello world!"}]}}"#,
        );
        assert!(!a.exact);
        assert_eq!(a.max_output_tokens, Some(512));
        assert_eq!(a.input_tokens, 3 + 3 + 3);
        let g = count(
            r#"{"key":"g1","request":{"contents":[{"role":"user","parts":[{"text":"Hello world!"}]}],"generationConfig":{"maxOutputTokens":64}}}"#,
        );
        assert!(!g.exact);
        assert_eq!(g.custom_id.as_deref(), Some("g1"));
        assert_eq!(g.max_output_tokens, Some(64));
        assert_eq!(g.input_tokens, 3);
        assert_eq!(g.model, None);
    }

    #[test]
    fn bedrock_bodies_are_estimates() {
        // A Claude body counts like the same Anthropic `params` body.
        let params = r#"{"max_tokens":512,"system":"Be brief.","messages":[{"role":"user","content":[{"type":"text","text":"Hello world!"}]}]}"#;
        let a = count(&format!(r#"{{"custom_id":"a","params":{params}}}"#));
        let b = count_request(
            format!(
                r#"{{"recordId":"CALL0000001","modelInput":{}}}"#,
                params.replacen('{', r#"{"anthropic_version":"bedrock-2023-05-31","#, 1)
            )
            .as_bytes(),
            Some("anthropic.claude-sonnet-4-5-20250929-v1:0"),
        )
        .unwrap();
        assert_eq!(b.custom_id.as_deref(), Some("CALL0000001"));
        assert_eq!(
            b.model.as_deref(),
            Some("anthropic.claude-sonnet-4-5-20250929-v1:0")
        );
        assert_eq!(
            (b.input_tokens, b.max_output_tokens),
            (a.input_tokens, Some(512))
        );
        assert!(!b.exact);
        // No model in the line and no --model: counted, with no model.
        let t =
            count(r#"{"recordId":"t","modelInput":{"inputText":"Hello world!","dimensions":256}}"#);
        assert_eq!(
            (t.input_tokens, t.max_output_tokens, t.model),
            (3, Some(0), None)
        );
        let l =
            count(r#"{"recordId":"l","modelInput":{"prompt":"Hello world!","max_gen_len":128}}"#);
        assert_eq!((l.input_tokens, l.max_output_tokens), (3, Some(128)));
        let n = count(
            r#"{"recordId":"n","modelInput":{"system":[{"text":"Be brief."}],"messages":[{"role":"user","content":[{"text":"Hello world!"}]}],"inferenceConfig":{"maxTokens":10}}}"#,
        );
        assert_eq!((n.input_tokens, n.max_output_tokens), (3 + 3 + 3, Some(10)));
        assert!(!n.exact);
    }

    #[test]
    fn model_override_picks_the_tokenizer() {
        let line = br#"{"custom_id":"a","url":"/v1/chat/completions","body":{"model":"my-deployment","messages":[]}}"#;
        assert!(!count_request(line, None).unwrap().exact);
        let c = count_request(line, Some("gpt-4")).unwrap();
        assert!(c.exact);
        assert_eq!(c.encoding, Encoding::Cl100kBase);
        assert_eq!(c.model.as_deref(), Some("gpt-4"));
    }

    #[test]
    fn tools_make_it_an_estimate() {
        let c = count(
            r#"{"custom_id":"t","url":"/v1/chat/completions","body":{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}]}}"#,
        );
        assert!(!c.exact);
        assert!(c.input_tokens > 3 + 3 + 2);
    }

    #[test]
    fn bad_lines_have_codes() {
        let code = |l: &[u8]| count_request(l, None).unwrap_err().code;
        assert_eq!(code(b"   "), "empty_line");
        assert_eq!(code(b"{\"a\":"), "invalid_json");
        assert_eq!(code(b"[1]"), "not_object");
        assert_eq!(code(b"{\"a\":\"\xff\"}"), "invalid_utf8");
        assert_eq!(code(b"{\"custom_id\":\"x\"}"), "unknown_format");
        assert_eq!(
            count_request(b" ", None).unwrap_err().severity,
            Severity::Warning
        );
    }
}
