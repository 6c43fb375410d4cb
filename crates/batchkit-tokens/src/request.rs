//! Counting one request line: which API shape it has, and the counting rule of its endpoint.

use batchkit_line::prelude::*;
use batchkit_line::{entries, Code, Diagnostic, Object, RequestLine, Severity, Value};
use batchkit_providers::Style;
use serde::Serialize;

use crate::cache::{cache_policy, PrefixHasher, Prefixes, Ttl};
use crate::encoding::{tokenizer_for, Encoding};
use crate::image::{data_url_size, openai_image_tokens};
use crate::tools::{count_tools, rule_is_openais, ToolRule, ToolShape};

/// The token count of one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestCount {
    /// `custom_id` (OpenAI-style, Anthropic) or `key` (Gemini), when present.
    pub custom_id: Option<String>,
    /// The model the request was counted for (`--model` when given, else the line's).
    pub model: Option<String>,
    /// The encoding used.
    pub encoding: Encoding,
    /// Input tokens; `None` for endpoints with no text input to count (audio transcriptions
    /// and translations: billed by audio length), which are left out of token totals.
    pub input_tokens: Option<u64>,
    /// The most output tokens the request allows (`max_tokens`, `max_completion_tokens`,
    /// `max_output_tokens`, `maxOutputTokens`); `Some(0)` for endpoints with no output
    /// (embeddings), `None` when the request sets no limit.
    pub max_output_tokens: Option<u64>,
    /// Whether `input_tokens` is exact: the model's real tokenizer and a documented rule for
    /// every part of the request. True when `input_tokens` is `None` (nothing was estimated).
    pub exact: bool,
    /// JSON pointers of keys that repeat in their object (the first value was read).
    pub duplicate_keys: Vec<String>,
}

fn error(code: Code, message: impl Into<String>) -> Diagnostic {
    Diagnostic::unplaced(code, Severity::Error, message)
}

/// Counts one request line (without its terminator or BOM).
///
/// `model` overrides the line's model for the tokenizer (Azure deployment names, Gemini
/// files that carry no model).
pub fn count_request(content: &[u8], model: Option<&str>) -> Result<RequestCount, Diagnostic> {
    count_request_planned(content, model, false).0
}

/// [`count_request`], and with `plan` the request's cache-prefix boundaries (when its model has
/// a caching rule, see [`crate::cache_policy`]). The count is the same either way.
pub fn count_request_planned(
    content: &[u8],
    model: Option<&str>,
    plan: bool,
) -> (Result<RequestCount, Diagnostic>, Option<Prefixes>) {
    let mut prefixes = None;
    let r = count_line(content, model, plan, &mut prefixes);
    (r, prefixes)
}

fn count_line(
    content: &[u8],
    model: Option<&str>,
    plan: bool,
    prefixes: &mut Option<Prefixes>,
) -> Result<RequestCount, Diagnostic> {
    if content.iter().all(u8::is_ascii_whitespace) {
        return Err(Diagnostic::unplaced(
            Code::EmptyLine,
            Severity::Warning,
            batchkit_json::syntax::blank_lines(1, 0, 0, false),
        ));
    }
    let syntax = Diagnostic::of_syntax;
    if let Some(e) = batchkit_json::syntax::utf8_error(content) {
        return Err(syntax(e));
    }
    // The one reading of a request line every command shares (batchkit-line): first of
    // duplicate keys, any number, one depth limit; a refusal is described in validate's words.
    batchkit_line::read(content, |root| count_root(root, model, plan, prefixes)).map_err(syntax)?
}

/// [`count_request`] of a line already parsed by batchkit-line's engine (its root), for a
/// caller that reads the line for more than its count (shard checks it in the same parse).
pub fn count_parsed(root: Value<'_, '_>, model: Option<&str>) -> Result<RequestCount, Diagnostic> {
    count_root(root, model, false, &mut None)
}

fn count_root(
    root: Value<'_, '_>,
    model: Option<&str>,
    plan: bool,
    prefixes: &mut Option<Prefixes>,
) -> Result<RequestCount, Diagnostic> {
    let Some(obj) = root.as_object() else {
        return Err(error(
            Code::NotObject,
            batchkit_json::syntax::not_object(batchkit_line::type_name(&root)),
        ));
    };
    if let Some(result) = batchkit_line::ResultLine::detect(root) {
        // validate's words, said once per file by `count_input`.
        return Err(error(
            Code::MissingField,
            batchkit_json::syntax::result_file(result.layout().describe()),
        ));
    }
    let duplicate_keys = batchkit_line::duplicate_keys(root);
    let Some(req) = RequestLine::detect(root) else {
        // validate's words when the line's keys say which field is missing.
        let has = |k: &str| obj.get(k).is_some();
        let missing = if has("key") {
            Some("/request")
        } else if has("recordId") {
            Some("/modelInput")
        } else {
            None
        };
        return Err(error(
            Code::MissingField,
            match missing {
                Some(p) => batchkit_json::syntax::missing_field(p),
                None => "no request found: expected an object `body` (OpenAI-style), `params` (Anthropic), `request` (Gemini, Vertex), `modelInput` (Bedrock) or a `content` string (Vertex embeddings)".to_string(),
            },
        ));
    };
    let payload_path = &req.layout().payload;
    let inner = match req.get(payload_path) {
        Some(v) => v.as_object().ok_or_else(|| {
            let p = payload_path.pointer();
            error(
                Code::WrongType,
                batchkit_json::syntax::wrong_type(&p, "an object", batchkit_line::type_name(&v)),
            )
        })?,
        None => {
            return Err(error(
                Code::MissingField,
                batchkit_json::syntax::missing_field(&payload_path.pointer()),
            ))
        }
    };
    // Only a string is an id (a number is `wrong_type` to validate, as to the providers).
    let custom_id = req.id_str().map(str::to_string);
    let line_model = req.model();
    let model = model.or(line_model).map(str::to_string);
    let tokenizer = tokenizer_for(model.as_deref());
    let hasher = match (plan, model.as_deref()) {
        (true, Some(m)) => cache_policy(m).map(|policy| PrefixHasher::new(policy, m)),
        _ => None,
    };
    let mut c = Counter {
        enc: tokenizer.encoding,
        exact: tokenizer.exact,
        model: model.as_deref().unwrap_or(""),
        media: 0,
        p: hasher,
        base: "",
        dups: !duplicate_keys.is_empty(),
    };
    let max_out = req.max_output_tokens();
    let (input_tokens, max_output_tokens) = match req.style() {
        Style::OpenAi | Style::Body => c.openai(req.url(), &inner, max_out),
        Style::Anthropic | Style::VertexClaude => {
            c.base = if req.style() == Style::Anthropic {
                "/params"
            } else {
                "/request"
            };
            (Some(c.anthropic(&inner)), max_out)
        }
        // A legacy Vertex embedding line is its `content`; embeddings have no output.
        Style::VertexEmbedding => (Some(c.gemini(&inner)), Some(0)),
        Style::Gemini | Style::Vertex => {
            // Batch embeddings have no output.
            let max = if is_gemini_embedding(&inner) {
                Some(0)
            } else {
                max_out
            };
            (Some(c.gemini(&inner)), max)
        }
        Style::Bedrock => {
            c.base = "/modelInput";
            // A Titan embeddings body (`inputText` without `textGenerationConfig`) has no
            // output.
            let titan_embedding =
                inner.get("inputText").is_some() && inner.get("textGenerationConfig").is_none();
            let max = max_out.or(titan_embedding.then_some(0));
            (Some(c.bedrock(&inner)), max)
        }
    };
    if input_tokens.is_none() {
        c.exact = true;
    }
    if let (Some(p), Some(n)) = (c.p.take(), input_tokens) {
        let p = p.finish();
        // The walk follows the count; a shape where it could not (a Bedrock body mixing
        // messages and a prompt) gets no plan rather than a wrong one.
        if p.tokens == n {
            *prefixes = Some(p);
        }
    }
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

/// A Gemini batch embeddings line: `request.content` (singular), no `contents`, as real batch
/// embeddings files have it (source: https://ai.google.dev/gemini-api/docs/batch-api).
fn is_gemini_embedding(req: &Object<'_, '_>) -> bool {
    req.get("content").is_some() && req.get("contents").is_none()
}

struct Counter<'a> {
    enc: Encoding,
    exact: bool,
    model: &'a str,
    /// Tokens of inline media counted so far (images, documents): not text, so not scaled
    /// with the tokenizer.
    media: u64,
    /// The cache-prefix walk, when planning.
    p: Option<PrefixHasher>,
    /// JSON pointer of the request body (`/params`, `/modelInput`), for breakpoint hints.
    base: &'static str,
    /// The line repeats a key somewhere: objects are read first-key-wins.
    dups: bool,
}

/// Anthropic estimate, calibrated on Anthropic's own batch example (source: the
/// batch-processing page in `data/models.toml`'s `claude-opus-4-7` sources): "Hello, world" is
/// 3 o200k tokens and 10 real input tokens, "Hi again, friend" 4 and 11: a fixed part per
/// request and one per message.
pub(crate) const ANTHROPIC_PER_REQUEST: u64 = 4;
/// See [`ANTHROPIC_PER_REQUEST`].
pub(crate) const ANTHROPIC_PER_MESSAGE: u64 = 3;

/// The factor estimated text tokens of `model` are scaled by (`text_scale` in
/// batchkit-providers' `data/models.toml`: Claude's newer tokenizer, Opus 4.7 and later and
/// every line from version 5 on, about 30% more tokens for the same text).
pub(crate) fn text_scale(model: &str) -> Option<(u64, u64)> {
    batchkit_providers::model_facts(model).text_scale
}

impl Counter<'_> {
    fn text(&mut self, s: &str) -> u64 {
        match &mut self.p {
            None => self.enc.count(s),
            Some(p) => p.text(self.enc, s),
        }
    }

    fn openai(
        &mut self,
        url: Option<&str>,
        body: &Object<'_, '_>,
        max_out: Option<u64>,
    ) -> (Option<u64>, Option<u64>) {
        let path = url.map(|u| u.split('?').next().unwrap_or(u).trim_end_matches('/'));
        let endpoint = match path {
            Some(p)
                if p.ends_with("/audio/transcriptions") || p.ends_with("/audio/translations") =>
            {
                "audio"
            }
            Some(p) if p.ends_with("/chat/completions") => "chat",
            Some(p) if p.ends_with("/embeddings") => "embeddings",
            Some(p) if p.ends_with("/completions") => "completions",
            Some(p) if p.ends_with("/responses") => "responses",
            Some(_) => "other",
            // No url (Mistral files: one endpoint per job): the body tells.
            None if body.get("messages").is_some() => "chat",
            None if body.get("prompt").is_some() => "completions",
            None if body.get("input").is_some() && self.model.contains("embed") => "embeddings",
            None => "other",
        };
        match endpoint {
            "chat" => {
                let mut n = 3;
                // Counted in the order the prompt is rendered and cached: tools and the
                // output schema, then the messages (the sum does not depend on it).
                let present = |k: &str| body.get(k).filter(|v| !v.is_null());
                if let Some(tools) = present("tools") {
                    n += self.tools(tools, ToolShape::Chat);
                }
                if let Some(functions) = present("functions") {
                    n += self.tools(functions, ToolShape::Functions);
                }
                // `response_format` adds no input tokens: on real gpt-4o-mini batches with
                // `{"type":"json_object"}`, `prompt_tokens` equals the count without it
                // (1,010 requests compared one by one).
                // A different schema is a different prefix all the same.
                if let (Some(p), Some(rf)) = (&mut self.p, present("response_format")) {
                    p.tag(rf.encode().as_bytes());
                }
                match body.get("messages").and_then(|m| m.as_array()) {
                    Some(msgs) => {
                        for m in msgs.iter() {
                            n += self.chat_message(m);
                        }
                    }
                    None => self.exact = false,
                }
                if let Some(prediction) = present("prediction") {
                    n += self.estimate_json(prediction);
                }
                if let Some(p) = &mut self.p {
                    p.fixed(b'r', 3);
                }
                (Some(n), max_out)
            }
            "embeddings" => (Some(self.token_input(body.get("input"))), Some(0)),
            "completions" => (Some(self.token_input(body.get("prompt"))), max_out),
            // Audio in, text out (Groq, OpenAI-style files): no text input to count.
            "audio" => (None, max_out),
            "responses" => {
                self.exact = false;
                let mut n = 0;
                // `text` (the output format) adds nothing, as `response_format` in chat.
                if let Some(tools) = body.get("tools").filter(|v| !v.is_null()) {
                    n += self.tools(tools, ToolShape::Flat);
                }
                if let Some(s) = body.get("instructions").and_then(|v| v.into_string()) {
                    n += self.text(s) + 3;
                    self.fixed(b'i', 3);
                }
                if let Some(input) = body.get("input") {
                    if let Some(s) = input.into_string() {
                        self.fixed(b'u', 6);
                        n += 3 + 3 + self.text(s);
                    } else if let Some(items) = input.as_array() {
                        n += 3;
                        for item in items.iter() {
                            n += self.chat_message(item);
                        }
                        self.fixed(b'r', 3);
                    }
                }
                (Some(n), max_out)
            }
            _ => {
                // Moderations, images, videos: no token rule published; count their text.
                self.exact = false;
                let n = entries(body, self.dups)
                    .filter(|(k, _)| *k != "model")
                    .map(|(_, v)| self.estimate_value(v))
                    .sum();
                (Some(n), max_out)
            }
        }
    }

    /// OpenAI's cookbook rule for one chat message: 3 + the tokens of every string field, and
    /// 1 more for a `name`.
    fn chat_message(&mut self, value: Value<'_, '_>) -> u64 {
        let Some(msg) = value.as_object() else {
            self.exact = false;
            return self.estimate_value(value);
        };
        let mut n = 3;
        if let Some(p) = &mut self.p {
            p.block_start();
            p.fixed(b'm', 3);
        }
        for (k, v) in entries(&msg, self.dups) {
            if let Some(p) = &mut self.p {
                p.tag(k.as_bytes());
            }
            if let Some(s) = v.into_string() {
                n += self.text(s);
            } else if v.is_null() {
            } else if let Some(parts) = v.as_array().filter(|_| k == "content") {
                for p in parts.iter() {
                    n += self.content_part(p);
                }
            } else {
                // tool_calls, function_call, audio: outside the documented rule.
                self.exact = false;
                n += self.estimate_value(v);
            }
            if k == "name" {
                n += 1;
                self.fixed(b'n', 1);
            }
        }
        if let Some(p) = &mut self.p {
            let dups = self.dups;
            p.block_end(String::new, None, msg.get("content").map(|c| (c, dups)));
        }
        n
    }

    /// Structure tokens in the prefix walk (counted by the caller).
    fn fixed(&mut self, tag: u8, n: u64) {
        if let Some(p) = &mut self.p {
            p.fixed(tag, n);
        }
    }

    fn content_part(&mut self, part: Value<'_, '_>) -> u64 {
        fn str_at<'i>(o: &Object<'_, 'i>, k: &str) -> Option<&'i str> {
            o.get(k).and_then(|v| v.into_string())
        }
        let Some(p) = part.as_object() else {
            if let Some(s) = part.into_string() {
                return self.text(s);
            }
            self.exact = false;
            return 0;
        };
        match str_at(&p, "type") {
            Some("text" | "input_text" | "output_text") => {
                str_at(&p, "text").map_or(0, |s| self.text(s))
            }
            Some("image_url" | "input_image") => {
                let iu = p.get("image_url");
                let (url, detail) = match (iu.and_then(|v| v.as_object()), iu) {
                    (Some(iu), _) => (str_at(&iu, "url"), str_at(&iu, "detail")),
                    (None, Some(u)) if u.is_str() => (u.into_string(), str_at(&p, "detail")),
                    _ => (None, str_at(&p, "detail")),
                };
                let size = url.and_then(data_url_size);
                let (n, exact) = openai_image_tokens(self.model, detail, size);
                self.exact &= exact;
                if let Some(p) = &mut self.p {
                    p.tag(detail.unwrap_or("").as_bytes());
                    p.lump(url.unwrap_or("").as_bytes(), n);
                }
                n
            }
            _ => {
                // Audio, files: billed by rules a JSONL file cannot show.
                self.exact = false;
                if let Some(p) = &mut self.p {
                    p.tag(part.encode().as_bytes());
                }
                0
            }
        }
    }

    /// Embeddings `input` / completions `prompt`: a string, strings, a token array, or
    /// token arrays.
    fn token_input(&mut self, input: Option<Value<'_, '_>>) -> u64 {
        if let Some(s) = input.and_then(|v| v.into_string()) {
            return self.text(s);
        }
        let Some(items) = input.and_then(|v| v.as_array()) else {
            self.exact = false;
            return 0;
        };
        items
            .iter()
            .map(|it| {
                if let Some(s) = it.into_string() {
                    self.text(s)
                } else if it.is_number() {
                    if let Some(p) = &mut self.p {
                        p.lump(it.encode().as_bytes(), 1);
                    }
                    1
                } else if let Some(toks) = it.as_array() {
                    if let Some(p) = &mut self.p {
                        p.lump(it.encode().as_bytes(), toks.len() as u64);
                    }
                    toks.len() as u64
                } else {
                    self.exact = false;
                    0
                }
            })
            .sum()
    }

    /// An estimate: the text of the system prompt, the messages and the tool definitions with
    /// o200k_base (scaled for the newer tokenizer), media by their size, plus the calibrated
    /// fixed parts per request and per message.
    ///
    /// Counted in the order Anthropic caches a prompt (tools, system, messages), block by
    /// block, so the prefix walk sees every place a `cache_control` breakpoint can end.
    fn anthropic(&mut self, params: &Object<'_, '_>) -> u64 {
        self.exact = false;
        let media_before = self.media;
        let scale = text_scale(self.model);
        let base = self.base;
        if let Some(p) = &mut self.p {
            if let Some((num, den)) = scale {
                p.set_scale(num, den);
            }
            p.fixed(b'R', ANTHROPIC_PER_REQUEST);
        }
        let mut n = 0;
        for k in ["tools", "tool_choice", "output_format"] {
            if let Some(v) = params.get(k) {
                self.block_start();
                n += self.estimate_json(v);
                let bp = if k == "tools" {
                    last_breakpoint(v)
                } else {
                    None
                };
                self.block_end(bp, None, || match v.as_array() {
                    Some(a) if !a.is_empty() => format!("{base}/{k}/{}", a.len() - 1),
                    _ => format!("{base}/{k}"),
                });
            }
        }
        if let Some(system) = params.get("system") {
            n += self.blocks(system, &format!("{base}/system"));
        }
        let mut messages = 0;
        if let Some(msgs) = params.get("messages").and_then(|m| m.as_array()) {
            for (i, m) in msgs.iter().enumerate() {
                messages += 1;
                if let Some(p) = &mut self.p {
                    p.fixed(b'M', ANTHROPIC_PER_MESSAGE);
                    if let Some(role) = m.get("role").and_then(|r| r.into_string()) {
                        p.tag(role.as_bytes());
                    }
                }
                if let Some(c) = m.get("content") {
                    n += self.blocks(c, &format!("{base}/messages/{i}/content"));
                }
            }
        }
        if let Some(ttl) = breakpoint(params.get("cache_control")) {
            if let Some(p) = &mut self.p {
                p.last_is_breakpoint(ttl);
            }
        }
        let media = self.media - media_before;
        let mut text = n - media;
        if let Some((num, den)) = scale {
            text = (text * num).div_ceil(den);
        }
        ANTHROPIC_PER_REQUEST + ANTHROPIC_PER_MESSAGE * messages + text + media
    }

    /// A string or an array of content blocks (Anthropic `system`, message `content`), each
    /// block a place a breakpoint can end.
    fn blocks(&mut self, v: Value<'_, '_>, pointer: &str) -> u64 {
        match v.as_array() {
            Some(items) => {
                let mut n = 0;
                for (j, b) in items.iter().enumerate() {
                    self.block_start();
                    n += self.estimate_value(b);
                    let bp = breakpoint(b.get("cache_control"));
                    self.block_end(bp, Some(b), || format!("{pointer}/{j}"));
                }
                n
            }
            None => {
                self.block_start();
                let n = self.estimate_value(v);
                self.block_end(None, Some(v), || pointer.to_string());
                n
            }
        }
    }

    fn block_start(&mut self) {
        if let Some(p) = &mut self.p {
            p.block_start();
        }
    }

    fn block_end(
        &mut self,
        breakpoint: Option<Ttl>,
        content: Option<Value<'_, '_>>,
        pointer: impl FnOnce() -> String,
    ) {
        if let Some(p) = &mut self.p {
            let dups = self.dups;
            p.block_end(pointer, breakpoint, content.map(|v| (v, dups)));
        }
    }

    /// A Claude body counts like an Anthropic `params` body; Nova (`messages`, `system`
    /// blocks), Llama (`prompt`) and Titan (`inputText`) by the text they carry. Always an
    /// estimate.
    fn bedrock(&mut self, input: &Object<'_, '_>) -> u64 {
        // Claude and Nova bodies are messages, counted like Anthropic's; Titan and Llama
        // bodies are one text.
        let mut n = if input.get("messages").is_some() || input.get("system").is_some() {
            self.anthropic(input)
        } else {
            self.exact = false;
            0
        };
        for k in ["prompt", "inputText"] {
            if let Some(v) = input.get(k) {
                n += self.estimate_value(v);
            }
        }
        n
    }

    fn gemini(&mut self, req: &Object<'_, '_>) -> u64 {
        self.exact = false;
        let mut n = 0;
        // Tools first: the order a cached prefix is rendered in (the sum does not depend on it).
        if let Some(v) = req.get("tools") {
            n += self.estimate_json(v);
        }
        // `content` (singular): batch embeddings lines.
        for k in [
            "systemInstruction",
            "system_instruction",
            "contents",
            "content",
        ] {
            let Some(v) = req.get(k) else {
                continue;
            };
            match v.as_array() {
                Some(items) if self.p.is_some() => {
                    for item in items.iter() {
                        self.block_start();
                        n += self.estimate_value(item);
                        self.block_end(None, Some(item), String::new);
                    }
                }
                _ => {
                    self.block_start();
                    n += self.estimate_value(v);
                    self.block_end(None, Some(v), String::new);
                }
            }
        }
        n
    }

    /// OpenAI tool definitions by the cookbook's `num_tokens_for_tools`; exact only where the
    /// rule is OpenAI's own (chat `tools` on the models the cookbook covers, see
    /// [`rule_is_openais`]) and describes every part of the definitions.
    fn tools(&mut self, tools: Value<'_, '_>, shape: ToolShape) -> u64 {
        let rule = ToolRule::for_encoding(self.enc);
        let c = count_tools(self.enc, rule, tools, shape, self.dups);
        if !(c.covered && shape == ToolShape::Chat && rule_is_openais(self.model)) {
            self.exact = false;
        }
        if let Some(p) = &mut self.p {
            p.lump(tools.encode().as_bytes(), c.tokens);
        }
        c.tokens
    }

    /// Tokens of a JSON value sent as-is (tool definitions, schemas): its compact text.
    fn estimate_json(&mut self, v: Value<'_, '_>) -> u64 {
        self.exact = false;
        self.text(&v.encode())
    }

    /// An estimate for content with no published rule: the text of its string leaves, with
    /// inline media replaced by a fixed per-image figure and structural fields left out.
    fn estimate_value(&mut self, v: Value<'_, '_>) -> u64 {
        if let Some(s) = v.into_string() {
            return self.text(s);
        }
        if let Some(a) = v.as_array() {
            return a.iter().map(|x| self.estimate_value(x)).sum();
        }
        let Some(o) = v.as_object() else {
            // Numbers, booleans, null.
            return 0;
        };
        if is_media(&o) {
            self.exact = false;
            let n = media_estimate(&o);
            self.media += n;
            if let Some(p) = &mut self.p {
                p.media(v.encode().as_bytes(), n);
            }
            return n;
        }
        if self.p.is_none() {
            return entries(&o, self.dups)
                .filter(|(k, _)| !SKIPPED_KEYS.contains(k))
                .map(|(_, x)| self.estimate_value(x))
                .sum();
        }
        let mut n = 0;
        for (k, x) in entries(&o, self.dups) {
            if k == "cache_control" {
                continue;
            }
            if let Some(p) = &mut self.p {
                p.tag(k.as_bytes());
                if SKIPPED_KEYS.contains(&k) {
                    p.tag(x.encode().as_bytes());
                }
            }
            if !SKIPPED_KEYS.contains(&k) {
                n += self.estimate_value(x);
            }
        }
        n
    }
}

/// The breakpoint a `cache_control` value sets, if any: `"ttl":"1h"` asks for an hour,
/// anything else is the default 5 minutes.
fn breakpoint(cc: Option<Value<'_, '_>>) -> Option<Ttl> {
    let cc = cc.filter(|c| !c.is_null())?;
    Some(match cc.get("ttl").and_then(|t| t.into_string()) {
        Some("1h") => Ttl::Hour1,
        _ => Ttl::Minutes5,
    })
}

/// The breakpoint on the last of an array of blocks (or on the object), if any.
fn last_breakpoint(v: Value<'_, '_>) -> Option<Ttl> {
    let last = match v.as_array() {
        Some(a) => a.iter().last(),
        None => Some(v),
    };
    breakpoint(last.and_then(|b| b.get("cache_control")))
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

fn is_media(o: &Object<'_, '_>) -> bool {
    matches!(
        o.get("type").and_then(|t| t.into_string()),
        Some("image" | "document")
    ) || ["inlineData", "inline_data", "fileData", "file_data"]
        .iter()
        .any(|k| o.get(*k).is_some())
}

/// Anthropic: pixels / 750, at most about 1,600 for an image of the largest size;
/// Gemini: 258 per image. Without the size, the upper figure.
fn media_estimate(o: &Object<'_, '_>) -> u64 {
    if o.get("type").and_then(|t| t.into_string()) == Some("image") {
        let data = o
            .get("source")
            .and_then(|s| s.get("data"))
            .and_then(|d| d.into_string());
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
        assert_eq!(c.input_tokens, Some(3 + (3 + 1 + 6) + (3 + 1 + 3 + 1 + 1)));
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
        assert_eq!(c.input_tokens, Some(3 + 3 + 1 + 3 + 85));
        assert!(c.exact);
        assert_eq!(c.max_output_tokens, None);
    }

    #[test]
    fn embeddings_inputs() {
        let c = count(
            r#"{"custom_id":"e","url":"/v1/embeddings","body":{"model":"text-embedding-3-small","input":["Hello world!",[1,2,3,4]]}}"#,
        );
        assert_eq!(c.input_tokens, Some(3 + 4));
        assert_eq!(c.max_output_tokens, Some(0));
        assert_eq!(c.encoding, Encoding::Cl100kBase);
        assert!(c.exact);
        let c = count(
            r#"{"custom_id":"e","url":"/v1/embeddings","body":{"model":"text-embedding-3-small","input":[5,6,7]}}"#,
        );
        assert_eq!(c.input_tokens, Some(3));
    }

    #[test]
    fn other_providers_are_estimates() {
        let a = count(
            r#"{"custom_id":"a","params":{"model":"claude-sonnet-4-5","max_tokens":512,"system":"Be brief.","messages":[{"role":"user","content":"Hello world!"}]}}"#,
        );
        assert!(!a.exact);
        assert_eq!(a.max_output_tokens, Some(512));
        // Per request 4, per message 3, the text: "Be brief." 3, "Hello world!" 3.
        assert_eq!(a.input_tokens, Some(4 + 3 + 3 + 3));
        let g = count(
            r#"{"key":"g1","request":{"contents":[{"role":"user","parts":[{"text":"Hello world!"}]}],"generationConfig":{"maxOutputTokens":64}}}"#,
        );
        assert!(!g.exact);
        assert_eq!(g.custom_id.as_deref(), Some("g1"));
        assert_eq!(g.max_output_tokens, Some(64));
        assert_eq!(g.input_tokens, Some(3));
        assert_eq!(g.model, None);
    }

    #[test]
    fn anthropic_estimate_lands_on_the_real_count() {
        // Anthropic's own batch example and the input_tokens it reports (source:
        // https://platform.claude.com/docs/en/build-with-claude/batch-processing).
        let line = |model: &str, text: &str| {
            count(&format!(
                r#"{{"custom_id":"my-first-request","params":{{"model":"{model}","max_tokens":1024,"messages":[{{"role":"user","content":"{text}"}}]}}}}"#
            ))
        };
        for model in [
            "claude-sonnet-4-5",
            "claude-3-5-sonnet-20241022",
            "claude-opus-4-1",
        ] {
            let a = line(model, "Hello, world");
            assert_eq!(a.input_tokens, Some(10), "{model}");
            assert!(!a.exact);
            assert_eq!(
                line(model, "Hi again, friend").input_tokens,
                Some(11),
                "{model}"
            );
        }
        // Each further message adds its text and 3.
        let two = count(
            r#"{"custom_id":"c","params":{"model":"claude-haiku-4-5","max_tokens":8,"messages":[{"role":"user","content":"Hello, world"},{"role":"assistant","content":"Hi again, friend"}]}}"#,
        );
        assert_eq!(two.input_tokens, Some(4 + (3 + 3) + (3 + 4)));
        // The newer tokenizer: text tokens +30% (rounded up), fixed parts unchanged.
        let long = "The quick brown fox jumps over the lazy dog. ".repeat(10);
        let text = tk(Encoding::O200kBase, &long);
        for (model, scaled) in [
            ("claude-sonnet-4-5", false),
            ("claude-opus-4-6", false),
            ("claude-opus-4-7", true),
            ("claude-opus-4-8-20270101", true),
            ("claude-sonnet-5", true),
            ("claude-opus-5", true),
            ("claude-haiku-4-5-20251001", false),
        ] {
            let want = if scaled {
                (text * 13).div_ceil(10)
            } else {
                text
            };
            assert_eq!(
                line(model, &long).input_tokens,
                Some(4 + 3 + want),
                "{model}"
            );
        }
        // Images are not text: not scaled.
        let img = r#"{"custom_id":"i","params":{"model":"claude-opus-4-7","max_tokens":8,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}}]}]}}"#;
        assert_eq!(count(img).input_tokens, Some(4 + 3 + 1600));
    }

    #[test]
    fn claude_tokenizer_generations() {
        for m in [
            "claude-opus-4-7",
            "claude-opus-4.7",
            "claude-opus-4-7@20260416",
            "claude-sonnet-5",
            "claude-sonnet-5-5",
            "claude-opus-5-20260901",
            "claude-fable-5-1",
        ] {
            assert_eq!(text_scale(m), Some((13, 10)), "{m}");
        }
        for m in [
            "claude-opus-4-6",
            "claude-opus-4-20250514",
            "claude-sonnet-4-6",
            "claude-haiku-4-5",
            "claude-3-5-sonnet-20241022",
            "claude-3-opus-20240229",
            "gpt-5",
            "",
        ] {
            assert_eq!(text_scale(m), None, "{m}");
        }
    }

    #[test]
    fn gemini_embeddings_count_their_content() {
        let g = count(
            r#"{"key":"e1","request":{"output_dimensionality":3,"content":{"parts":[{"text":"What is the meaning of life?"}]}}}"#,
        );
        assert_eq!(
            g.input_tokens,
            Some(tk(Encoding::O200kBase, "What is the meaning of life?"))
        );
        assert!(g.input_tokens.unwrap() > 0);
        assert!(!g.exact);
        assert_eq!(g.max_output_tokens, Some(0), "embeddings have no output");
        assert_eq!(g.custom_id.as_deref(), Some("e1"));
    }

    #[test]
    fn audio_endpoints_have_no_text_count() {
        for url in [
            "/v1/audio/transcriptions",
            "/v1/audio/translations",
            "/openai/v1/audio/transcriptions",
        ] {
            let c = count(&format!(
                r#"{{"custom_id":"a","method":"POST","url":"{url}","body":{{"model":"whisper-large-v3","url":"https://example.com/a.mp3","language":"en","prompt":"Names: Ada, Grace."}}}}"#
            ));
            assert_eq!(c.input_tokens, None, "{url}");
            assert!(c.exact, "nothing estimated");
            assert_eq!(c.max_output_tokens, None);
        }
        // Text to speech has text input: counted.
        let c = count(
            r#"{"custom_id":"s","url":"/v1/audio/speech","body":{"model":"tts-1","input":"Hello world!","voice":"alloy"}}"#,
        );
        assert!(c.input_tokens.unwrap() > 0);
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
            (Some(3), Some(0), None)
        );
        let l =
            count(r#"{"recordId":"l","modelInput":{"prompt":"Hello world!","max_gen_len":128}}"#);
        assert_eq!((l.input_tokens, l.max_output_tokens), (Some(3), Some(128)));
        let n = count(
            r#"{"recordId":"n","modelInput":{"system":[{"text":"Be brief."}],"messages":[{"role":"user","content":[{"text":"Hello world!"}]}],"inferenceConfig":{"maxTokens":10}}}"#,
        );
        // Nova messages count like Anthropic's: 4 per request, 3 per message, the texts.
        assert_eq!(
            (n.input_tokens, n.max_output_tokens),
            (Some(4 + 3 + 3 + 3), Some(10))
        );
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

    /// Tokens by the reference implementation (tiktoken-rs), for the hand derivations below.
    fn tk(enc: Encoding, s: &str) -> u64 {
        let bpe = match enc {
            Encoding::Cl100kBase => tiktoken_rs::cl100k_base_singleton(),
            _ => tiktoken_rs::o200k_base_singleton(),
        };
        bpe.encode_with_special_tokens(s).len() as u64
    }

    fn chat_line(model: &str, messages: &str, extra: &str) -> String {
        format!(
            r#"{{"custom_id":"t","url":"/v1/chat/completions","body":{{"model":"{model}","messages":{messages}{extra}}}}}"#
        )
    }

    const WEATHER_MESSAGES: &str = r#"[{"role":"system","content":"You are a helpful assistant that can answer to questions about the weather."},{"role":"user","content":"What's the weather like in San Francisco?"}]"#;
    const WEATHER_TOOLS: &str = r#","tools":[{"type":"function","function":{"name":"get_current_weather","description":"Get the current weather in a given location","parameters":{"type":"object","properties":{"location":{"type":"string","description":"The city and state, e.g. San Francisco, CA"},"unit":{"type":"string","description":"The unit of temperature to return","enum":["celsius","fahrenheit"]}},"required":["location"]}}}]"#;

    #[test]
    fn response_format_adds_nothing() {
        let msgs = r#"[{"role":"user","content":"List three colours as JSON."}]"#;
        let plain = count(&chat_line("gpt-4o-mini", msgs, ""));
        for rf in [
            r#","response_format":{"type":"json_object"}"#,
            r#","response_format":{"type":"json_schema","json_schema":{"name":"colours","strict":true,"schema":{"type":"object","properties":{"colours":{"type":"array","items":{"type":"string"}}},"required":["colours"],"additionalProperties":false}}}"#,
            r#","response_format":{"type":"text"}"#,
        ] {
            let c = count(&chat_line("gpt-4o-mini", msgs, rf));
            assert_eq!(c.input_tokens, plain.input_tokens, "{rf}");
            assert!(c.exact, "{rf}");
        }
        let t = |s: &str| tk(Encoding::O200kBase, s);
        assert_eq!(
            plain.input_tokens,
            Some(3 + 3 + t("user") + t("List three colours as JSON."))
        );
        // The Responses API's `text` format is the same thing.
        let r = |extra: &str| {
            count(&format!(
                r#"{{"custom_id":"r","url":"/v1/responses","body":{{"model":"gpt-4o","input":"Hi"{extra}}}}}"#
            ))
            .input_tokens
        };
        assert_eq!(r(r#","text":{"format":{"type":"json_object"}}"#), r(""));
    }

    #[test]
    fn tools_follow_the_cookbook_rule() {
        // The cookbook's own example, derived by hand from the rule: func_init, the
        // "name:description" line, prop_init, per property prop_key and its
        // "key:type:description" line, enum_init and enum_item + each item, func_end.
        for (model, enc, func_init, published) in [
            ("gpt-4o", Encoding::O200kBase, 7, 101),
            ("gpt-4o-mini", Encoding::O200kBase, 7, 101),
            ("gpt-3.5-turbo", Encoding::Cl100kBase, 10, 105),
            ("gpt-4", Encoding::Cl100kBase, 10, 105),
        ] {
            let t = |s: &str| tk(enc, s);
            let messages = 3 + (3
                + t("system")
                + t("You are a helpful assistant that can answer to questions about the weather."))
                + (3 + t("user") + t("What's the weather like in San Francisco?"));
            let tools = func_init
                + t("get_current_weather:Get the current weather in a given location")
                + 3
                + (3 + t("location:string:The city and state, e.g. San Francisco, CA"))
                + (3 + t("unit:string:The unit of temperature to return") - 3
                    + (3 + t("celsius"))
                    + (3 + t("fahrenheit")))
                + 12;
            let c = count(&chat_line(model, WEATHER_MESSAGES, WEATHER_TOOLS));
            assert_eq!(c.input_tokens, Some(messages + tools), "{model}");
            // The prompt_tokens the cookbook shows the API returning for this example.
            assert_eq!(c.input_tokens, Some(published), "{model}");
            assert!(c.exact, "{model}");
        }
    }

    #[test]
    fn several_tools_and_trailing_full_stops() {
        let tools = r#","tools":[{"type":"function","function":{"name":"get_time","description":"Current time.","parameters":{"type":"object","properties":{}}}},{"type":"function","function":{"name":"set_mode","description":"Switch the lamp mode.","strict":true,"parameters":{"type":"object","properties":{"mode":{"type":"string","description":"The new mode.","enum":["on","off","dim"]},"level":{"type":"integer","description":"Brightness from 0 to 100"}},"required":["mode","level"],"additionalProperties":false}}}]"#;
        let msgs = r#"[{"role":"user","content":"Dim the lamp."}]"#;
        for (model, enc, func_init) in [
            ("gpt-4o-mini-2024-07-18", Encoding::O200kBase, 7),
            ("gpt-3.5-turbo-0125", Encoding::Cl100kBase, 10),
        ] {
            let t = |s: &str| tk(enc, s);
            let messages = 3 + 3 + t("user") + t("Dim the lamp.");
            // get_time: no properties, so no prop_init; one trailing "." dropped.
            let get_time = func_init + t("get_time:Current time");
            let set_mode = func_init
                + t("set_mode:Switch the lamp mode")
                + 3
                + (3 + t("mode:string:The new mode") - 3
                    + (3 + t("on"))
                    + (3 + t("off"))
                    + (3 + t("dim")))
                + (3 + t("level:integer:Brightness from 0 to 100"));
            let c = count(&chat_line(model, msgs, tools));
            assert_eq!(
                c.input_tokens,
                Some(messages + get_time + set_mode + 12),
                "{model}"
            );
            assert!(c.exact, "{model}");
        }
    }

    #[test]
    fn tools_outside_the_rule_are_estimates() {
        let by = |model: &str, tools: &str| count(&chat_line(model, WEATHER_MESSAGES, tools));
        // Same rule, o200k constants, but the cookbook does not cover the model.
        let covered = by("gpt-4o", WEATHER_TOOLS);
        for model in ["gpt-4.1", "gpt-5", "o3", "gpt-4o-audio-preview"] {
            let c = by(model, WEATHER_TOOLS);
            assert_eq!(c.input_tokens, covered.input_tokens, "{model}");
            assert!(!c.exact, "{model}");
        }
        // cl100k models the cookbook does not name: cl100k constants.
        let c = by("gpt-4-turbo", WEATHER_TOOLS);
        assert_eq!(c.input_tokens, by("gpt-4", WEATHER_TOOLS).input_tokens);
        assert!(!c.exact);
        // Definitions the rule does not describe.
        for tools in [
            // a nested schema
            r#","tools":[{"type":"function","function":{"name":"f","description":"d","parameters":{"type":"object","properties":{"xs":{"type":"array","description":"d","items":{"type":"string"}}}}}}]"#,
            // no description
            r#","tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{}}}}]"#,
            // no parameters
            r#","tools":[{"type":"function","function":{"name":"f","description":"d"}}]"#,
            // not a function
            r#","tools":[{"type":"custom","custom":{"name":"f"}}]"#,
        ] {
            let c = by("gpt-4o", tools);
            assert!(!c.exact, "{tools}");
            assert!(c.input_tokens > by("gpt-4o", "").input_tokens, "{tools}");
        }
        // The older `functions` parameter: the same rule, not documented for it.
        let functions = r#","functions":[{"name":"get_current_weather","description":"Get the current weather in a given location","parameters":{"type":"object","properties":{"location":{"type":"string","description":"The city and state, e.g. San Francisco, CA"},"unit":{"type":"string","description":"The unit of temperature to return","enum":["celsius","fahrenheit"]}},"required":["location"]}}]"#;
        let c = by("gpt-4o", functions);
        assert_eq!(c.input_tokens, covered.input_tokens);
        assert!(!c.exact);
        // An empty list adds nothing.
        let c = by("gpt-4o", r#","tools":[]"#);
        assert_eq!(c.input_tokens, by("gpt-4o", "").input_tokens);
        assert!(c.exact);
    }

    #[test]
    fn bad_lines_have_codes() {
        let code = |l: &[u8]| count_request(l, None).unwrap_err().code.as_str();
        assert_eq!(code(b"   "), "empty_line");
        assert_eq!(code(b"{\"a\":"), "invalid_json");
        assert_eq!(code(b"[1]"), "not_object");
        assert_eq!(code(b"{\"a\":\"\xff\"}"), "invalid_utf8");
        assert_eq!(code(b"{\"custom_id\":\"x\"}"), "missing_field");
        assert_eq!(
            count_request(b" ", None).unwrap_err().severity,
            Severity::Warning
        );
    }
}
