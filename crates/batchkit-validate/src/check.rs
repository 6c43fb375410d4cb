//! Checks of one line in isolation. These run in parallel on chunks of lines.

use batchkit_io::{Chunk, Line};
use batchkit_line::RequestLine;
use batchkit_providers::models::{param_default, param_ranges, RefusedAt};
use batchkit_providers::{model_facts, Path, Provider, Style};
use simd_json::prelude::*;
use simd_json::tape::{Object, Value};

use crate::{Checker, LineReport};
use crate::{Code, Diagnostic, Severity};

/// Parses `content` with the one engine (batchkit-line) and calls `f` with the root value,
/// or returns the parse error.
pub(crate) use batchkit_line::read_raw as with_parsed;

/// The finding for a line whose parse would not fit the memory budget.
pub(crate) fn too_big_to_parse(content: &[u8], budget: &batchkit_io::Budget) -> Option<String> {
    budget.parse_fits(content).err().map(|need| {
        batchkit_json::syntax::too_big_to_parse(
            content.len(),
            &batchkit_io::format_size(need),
            &batchkit_io::format_size(budget.total()),
        )
    })
}

pub(crate) use batchkit_line::type_name;

struct Ctx<'r> {
    report: &'r mut LineReport,
    line: u64,
    offset: u64,
}

impl Ctx<'_> {
    fn err(&mut self, code: Code, pointer: &str, msg: String) {
        self.finding(code, Severity::Error, pointer, msg);
    }

    /// An `unsupported_value` the provider fails when the batch runs: a warning.
    fn fails_at_run(&mut self, pointer: &str, msg: String) {
        self.finding(Code::UnsupportedValue, Severity::Warning, pointer, msg);
    }

    fn finding(&mut self, code: Code, severity: Severity, pointer: &str, msg: String) {
        let mut d = Diagnostic::at(code, severity, self.line, self.offset, msg);
        if !pointer.is_empty() {
            d.pointer = Some(pointer.to_string());
        }
        self.report.diagnostics.push(d);
    }

    /// Looks up a required field of type `want`; reports missing_field / wrong_type.
    fn field<'t, 'i>(
        &mut self,
        obj: &Object<'t, 'i>,
        parent: &str,
        key: &str,
        want: Kind,
    ) -> Option<Value<'t, 'i>> {
        // The pointer is only spelled out for a finding: most lines have none.
        let pointer = || format!("{parent}/{key}");
        match obj.get(key) {
            None => {
                let p = pointer();
                self.err(
                    Code::MissingField,
                    &p,
                    batchkit_json::syntax::missing_field(&p),
                );
                None
            }
            Some(v) if !want.matches(&v) => {
                let p = pointer();
                let msg = batchkit_json::syntax::wrong_type(&p, want.name(), type_name(&v));
                self.err(Code::WrongType, &p, msg);
                None
            }
            Some(v) => Some(v),
        }
    }

    /// The field at `path` of the line's shape (`styles.toml`), of type `want`; reports
    /// missing_field / wrong_type. Its parent object is checked first by the caller.
    fn at<'t, 'i>(
        &mut self,
        req: &RequestLine<'t, 'i>,
        path: &Path,
        want: Kind,
    ) -> Option<Value<'t, 'i>> {
        match req.get(path) {
            None => {
                let p = path.pointer();
                let msg = batchkit_json::syntax::missing_field(&p);
                self.err(Code::MissingField, &p, msg);
                None
            }
            Some(v) if !want.matches(&v) => {
                let p = path.pointer();
                let msg = batchkit_json::syntax::wrong_type(&p, want.name(), type_name(&v));
                self.err(Code::WrongType, &p, msg);
                None
            }
            Some(v) => Some(v),
        }
    }

    /// [`Ctx::at`] for a field that may be absent; a shape without the field has none.
    fn optional_at<'t, 'i>(
        &mut self,
        req: &RequestLine<'t, 'i>,
        path: Option<&Path>,
        want: Kind,
    ) -> Option<Value<'t, 'i>> {
        let path = path?;
        req.get(path)?;
        self.at(req, path, want)
    }

    /// [`Ctx::at`] where the shape has the field (`styles.toml` gives its path); nothing for a
    /// shape without it.
    fn required_at<'t, 'i>(
        &mut self,
        req: &RequestLine<'t, 'i>,
        path: Option<&Path>,
        want: Kind,
    ) -> Option<Value<'t, 'i>> {
        self.at(req, path?, want)
    }

    /// The object sent to the model (`styles.toml`'s `payload`); reports it missing or not
    /// an object.
    fn payload<'t, 'i>(&mut self, req: &RequestLine<'t, 'i>) -> Option<Object<'t, 'i>> {
        self.at(req, &req.layout().payload, Kind::Obj)?.as_object()
    }

    /// An optional field that, when present, must be of type `want`.
    fn optional<'t, 'i>(
        &mut self,
        obj: &Object<'t, 'i>,
        parent: &str,
        key: &str,
        want: Kind,
    ) -> Option<Value<'t, 'i>> {
        obj.get(key)?;
        self.field(obj, parent, key, want)
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Str,
    Obj,
    Arr,
    Int,
    Any,
}

impl Kind {
    fn matches(self, v: &Value<'_, '_>) -> bool {
        match self {
            Kind::Str => v.is_str(),
            Kind::Obj => v.is_object(),
            Kind::Arr => v.is_array(),
            Kind::Int => v.is_i64() || v.is_u64(),
            Kind::Any => true,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Kind::Str => "a string",
            Kind::Obj => "an object",
            Kind::Arr => "an array",
            Kind::Int => "an integer",
            Kind::Any => "a value",
        }
    }
}

/// The id by the one id rule (batchkit-line, from `styles.toml`): the shape's id field, else
/// one of its `also_id` fields; required where the shape has an id field.
fn check_id(ctx: &mut Ctx<'_>, req: &RequestLine<'_, '_>, provider: &Provider) {
    let Some(found) = req.id() else {
        if let Some(path) = &req.layout().id {
            ctx.at(req, path, Kind::Str);
        }
        return;
    };
    let Some(id) = found.as_str() else {
        let p = found.pointer();
        let msg = batchkit_json::syntax::wrong_type(&p, "a string", type_name(&found.value));
        ctx.err(Code::WrongType, &p, msg);
        return;
    };
    ctx.report.id = Some(id.to_string());
    ctx.report.id_path = Some(found.path);
    if let Err(why) = provider.id_ok(id) {
        ctx.err(
            Code::InvalidCustomId,
            &found.pointer(),
            format!("{} {id:?} {why}", found.name()),
        );
    }
}

fn count_embedding_inputs(v: &Value<'_, '_>) -> u64 {
    match v.as_array() {
        None => 1,
        Some(a) => {
            // An array of integers is one pre-tokenised input; otherwise each item is one.
            let first_is_num = a.get(0).is_some_and(|x| x.is_number());
            if first_is_num {
                1
            } else {
                a.len() as u64
            }
        }
    }
}

/// `method`, when the line has one: what the provider takes (`POST`, Together's `FILE`).
fn check_method(ctx: &mut Ctx<'_>, m: Option<Value<'_, '_>>, p: &Provider, why: &str) {
    let Some(m) = m else {
        return;
    };
    let m = m.as_str().unwrap_or_default();
    if !p.method_allowed(m) {
        ctx.err(
            Code::InvalidMethod,
            "/method",
            format!("method {m:?} is not supported{why}"),
        );
    }
}

fn check_openai(ctx: &mut Ctx<'_>, req: &RequestLine<'_, '_>, p: &Provider) {
    let layout = req.layout();
    let m = ctx.required_at(req, layout.method.as_ref(), Kind::Str);
    check_method(ctx, m, p, "; batch requests use \"POST\"");
    let url = ctx
        .required_at(req, layout.url.as_ref(), Kind::Str)
        .and_then(|u| u.as_str().map(str::to_string));
    if let Some(u) = &url {
        if !p.url_allowed(u) {
            // Say whose endpoint it is when another provider's batches serve it.
            let other = Provider::all().find(|o| {
                o.style == Style::OpenAi
                    && o.name != p.name
                    && !o.urls.is_empty()
                    && o.url_allowed(u)
            });
            let msg = match other {
                Some(o) => format!(
                    "{} batches do not serve {u:?}, {} batches do: use --provider {}",
                    p.label, o.label, o.name
                ),
                None => format!(
                    "{} batches do not serve {u:?} (supported: {})",
                    p.label,
                    p.urls.join(", ")
                ),
            };
            ctx.err(Code::UnsupportedUrl, "/url", msg);
        }
    }
    ctx.report.url = url.clone();
    let Some(body) = ctx.payload(req) else {
        return;
    };
    if let Some(m) = ctx.required_at(req, layout.model.as_ref(), Kind::Str) {
        ctx.report.model = m.as_str().map(str::to_string);
    }
    no_stream(ctx, &body, &layout.payload);
    let endpoint = url.as_deref().unwrap_or("");
    let endpoint = endpoint.strip_prefix("/v1").unwrap_or(endpoint);
    match endpoint {
        "/chat/completions" => {
            ctx.field(&body, "/body", "messages", Kind::Arr);
        }
        "/embeddings" => {
            if let Some(v) = ctx.field(&body, "/body", "input", Kind::Any) {
                ctx.report.embedding_inputs = count_embedding_inputs(&v);
            }
        }
        "/completions" => {
            ctx.field(&body, "/body", "prompt", Kind::Any);
        }
        "/moderations" => {
            ctx.field(&body, "/body", "input", Kind::Any);
        }
        "/responses" if body.get("prompt").is_none() => {
            ctx.field(&body, "/body", "input", Kind::Any);
        }
        _ => {}
    }
}

fn check_body(ctx: &mut Ctx<'_>, req: &RequestLine<'_, '_>, p: &Provider) {
    let layout = req.layout();
    let m = ctx.optional_at(req, layout.method.as_ref(), Kind::Str);
    check_method(ctx, m, p, &format!(" by {}", p.label));
    let Some(body) = ctx.payload(req) else {
        return;
    };
    if let Some(m) = ctx.optional_at(req, layout.model.as_ref(), Kind::Str) {
        ctx.report.model = m.as_str().map(str::to_string);
    }
    ctx.optional_at(req, layout.messages.as_ref(), Kind::Arr);
    no_stream(ctx, &body, &layout.payload);
}

/// An Anthropic Messages body: in `params` (Anthropic), or in `request` (Claude on Vertex,
/// where the model is set on the job and the line names none).
fn check_anthropic(ctx: &mut Ctx<'_>, req: &RequestLine<'_, '_>) {
    let layout = req.layout();
    let Some(params) = ctx.payload(req) else {
        return;
    };
    let at = layout.payload.pointer();
    let dotted = layout.payload.0.join(".");
    let model = if req.style() == Style::Anthropic {
        ctx.required_at(req, layout.model.as_ref(), Kind::Str)
    } else {
        ctx.optional_at(req, layout.model.as_ref(), Kind::Str)
    };
    if let Some(m) = model {
        ctx.report.model = m.as_str().map(str::to_string);
    }
    if let Some(mt) = ctx.field(&params, &at, "max_tokens", Kind::Int) {
        if mt.as_i64().is_some_and(|n| n < 1) {
            ctx.err(
                Code::WrongType,
                &format!("{at}/max_tokens"),
                format!("`{dotted}.max_tokens` must be an integer of at least 1"),
            );
        }
    }
    if let Some(m) = ctx.required_at(req, layout.messages.as_ref(), Kind::Arr) {
        if m.as_array().is_some_and(|a| a.is_empty()) {
            ctx.err(
                Code::UnsupportedValue,
                &format!("{at}/messages"),
                format!("`{dotted}.messages` is empty; Anthropic fails such a request (at least one message is required)"),
            );
        }
    }
    no_stream(ctx, &params, &layout.payload);
}

/// A legacy Vertex embedding line: the instance itself, `{"content": "..."}`.
fn check_vertex_embedding(ctx: &mut Ctx<'_>, req: &RequestLine<'_, '_>) {
    let obj = req.object();
    ctx.field(&obj, "", "content", Kind::Str);
}

/// A provider that takes text only (`text_only` in providers.toml): a message part that is
/// not text (an image, audio, a file) is refused.
fn check_text_only(ctx: &mut Ctx<'_>, req: &RequestLine<'_, '_>, p: &Provider) {
    let Some(messages) = req.messages().and_then(|m| m.as_array()) else {
        return;
    };
    let base = req.layout().messages.as_ref().map(Path::pointer);
    for (i, m) in messages.iter().enumerate() {
        let Some(parts) = m.get("content").and_then(|c| c.as_array()) else {
            continue;
        };
        for (j, part) in parts.iter().enumerate() {
            let kind = part.get("type").and_then(|t| t.into_string());
            if let Some(kind) = kind.filter(|k| !matches!(*k, "text" | "input_text")) {
                ctx.err(
                    Code::UnsupportedValue,
                    &format!("{}/{i}/content/{j}/type", base.as_deref().unwrap_or("")),
                    format!("a {kind:?} part; {} batches take text only", p.label),
                );
            }
        }
    }
}

/// A batch body given as one JSON object (`{"endpoint", "model", "requests": [...]}`, as
/// OpenRouter's batch API takes it) where request lines belong.
fn batch_body(root: Value<'_, '_>) -> bool {
    root.as_object().is_some_and(|o| {
        o.get("requests").is_some_and(|r| r.is_array())
            && (o.get("endpoint").is_some() || o.get("model").is_some())
    })
}

/// Batches do not stream: a request with `stream` set, in any spelling a client or a
/// provider may read as true (`true`, `"True"`, `"true"`, `1`), fails.
fn no_stream(ctx: &mut Ctx<'_>, payload: &Object<'_, '_>, at: &Path) {
    let Some(v) = payload.get("stream") else {
        return;
    };
    let truthy = v.as_bool() == Some(true)
        || v.as_str().is_some_and(|s| {
            let s = s.trim();
            s.eq_ignore_ascii_case("true") || s == "1"
        })
        || v.cast_f64().is_some_and(|n| n != 0.0);
    if truthy {
        ctx.err(
            Code::UnsupportedValue,
            &format!("{}/stream", at.pointer()),
            format!(
                "`{}.stream` is {}; batch requests do not stream (remove it or set it to false)",
                at.0.join("."),
                shown(&v)
            ),
        );
    }
}

/// A scalar as the line spells it, cut short when long.
fn shown(v: &Value<'_, '_>) -> String {
    let mut s = v.encode();
    if s.len() > 40 {
        let mut end = 37;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Values the provider fails that the file already shows, from the model facts and the
/// parameter ranges of `models.toml`: errors where the provider refuses the file at upload,
/// warnings where the line fails when the batch runs. Under `--provider auto` a provider's
/// own rule is a warning: the file may be another host's.
fn check_values(ctx: &mut Ctx<'_>, req: &RequestLine<'_, '_>, p: &Provider, inferred: bool) {
    let Some(payload) = req.payload() else {
        return;
    };
    let at = &req.layout().payload;
    let name = |key: &str| format!("`{}.{key}`", at.0.join("."));
    let pointer = |key: &str| format!("{}/{key}", at.pointer());
    for range in param_ranges(&p.name) {
        let Some(v) = payload.get(range.param.as_str()) else {
            continue;
        };
        let Some(n) = v.cast_f64() else {
            continue;
        };
        let why = match (range.min, range.max) {
            (Some(min), _) if n < min => format!("below {min}"),
            (_, Some(max)) if n > max => format!("above {max}"),
            _ => continue,
        };
        let (severity, when) = match range.refused_at {
            RefusedAt::Upload if !inferred => (Severity::Error, "refuses the file at upload"),
            RefusedAt::Upload => (
                Severity::Warning,
                "refuses the file at upload (if this is its file)",
            ),
            RefusedAt::Run => (Severity::Warning, "fails the request when the batch runs"),
        };
        let valid = match (range.min, range.max) {
            (Some(min), Some(max)) => format!("{min} to {max}"),
            (Some(min), None) => format!("at least {min}"),
            (None, Some(max)) => format!("at most {max}"),
            (None, None) => String::new(),
        };
        ctx.finding(
            Code::UnsupportedValue,
            severity,
            &pointer(&range.param),
            format!(
                "{} is {}, {why}: {} takes {valid} and {when}",
                name(&range.param),
                shown(&v),
                p.label
            ),
        );
    }
    match req.style() {
        Style::Bedrock => {
            if payload.get("modelId").is_some() {
                ctx.fails_at_run(
                    &pointer("modelId"),
                    format!(
                        "{} is not part of a model's input: Amazon Bedrock fails the record (\"Extra inputs are not permitted\"); the model is set on the job",
                        name("modelId")
                    ),
                );
            }
            if payload.get("anthropic_version").is_some() {
                system_in_messages(ctx, &payload, at, "Amazon Bedrock");
            }
        }
        Style::Anthropic | Style::VertexClaude => system_in_messages(ctx, &payload, at, &p.label),
        Style::Gemini | Style::Vertex => {
            for key in ["thinkingConfig", "thinking_config"] {
                if payload.get(key).is_some() {
                    ctx.fails_at_run(
                        &pointer(key),
                        format!(
                            "{} belongs inside `{}.generationConfig`; {} fails the request (unknown field)",
                            name(key),
                            at.0.join("."),
                            p.label
                        ),
                    );
                }
            }
        }
        Style::OpenAi | Style::Body | Style::VertexEmbedding => {}
    }
    let Some(model) = req.model() else {
        return;
    };
    let facts = model_facts(model);
    if matches!(req.style(), Style::Anthropic | Style::VertexClaude) {
        if let Some(maker) = facts.provider.filter(|m| *m != "anthropic") {
            let maker = Provider::get(maker).map_or(maker, |m| m.label.as_str());
            ctx.fails_at_run(
                &req.layout().model.as_ref().map_or_else(String::new, Path::pointer),
                format!(
                    "model {model:?} is made by {maker}; {} batches run Claude models, so the request fails when the batch runs",
                    p.label
                ),
            );
        }
    }
    if let (Some((path, n)), Some(max)) = (req.max_output(), facts.max_output_tokens) {
        if n > max {
            ctx.fails_at_run(
                &path.pointer(),
                format!(
                    "`{}` is {}, above the {} output tokens {model} writes at most; the request fails when the batch runs",
                    path.0.join("."),
                    thousands(n),
                    thousands(max)
                ),
            );
        }
    }
    let chat = matches!(req.style(), Style::OpenAi | Style::Body)
        && req.url().is_none_or(|u| u.ends_with("/chat/completions"));
    if let (true, true, Some(cap)) = (chat, facts.reasoning, facts.cap_field) {
        if cap != "max_tokens" && payload.get("max_tokens").is_some() {
            ctx.fails_at_run(
                &pointer("max_tokens"),
                format!(
                    "{} is not taken by {model}, a reasoning model: use `{cap}`; the request fails when the batch runs",
                    name("max_tokens")
                ),
            );
        }
    }
    let effort_none = || {
        let chat = payload.get("reasoning_effort");
        let responses = payload
            .get("reasoning")
            .and_then(|r| r.as_object())
            .and_then(|r| r.get("effort"));
        chat.or(responses).and_then(|e| e.into_string()) == Some("none")
    };
    if facts.refuses.is_empty() || (facts.sampling_at_effort_none && effort_none()) {
        return;
    }
    for param in facts.refuses {
        let Some(v) = payload.get(param.as_str()) else {
            continue;
        };
        if v.is_null() || v.as_bool() == Some(false) {
            continue;
        }
        let default = param_default(param);
        if default.is_some() && v.cast_f64() == default {
            continue;
        }
        let takes = match default {
            Some(d) => format!("takes only the default ({d})"),
            None => "does not take it".to_string(),
        };
        ctx.fails_at_run(
            &pointer(param),
            format!(
                "{} is {}; {model} {takes}, so the request fails when the batch runs",
                name(param),
                shown(&v)
            ),
        );
    }
}

/// Anthropic's messages take roles `user` and `assistant`; system text goes in `system`.
fn system_in_messages(ctx: &mut Ctx<'_>, payload: &Object<'_, '_>, at: &Path, who: &str) {
    let Some(items) = payload.get("messages").and_then(|m| m.as_array()) else {
        return;
    };
    let at_name = at.0.join(".");
    for (i, m) in items.iter().enumerate() {
        let role = m.as_object().and_then(|o| o.get("role"));
        if role.and_then(|r| r.into_string()) == Some("system") {
            ctx.fails_at_run(
                &format!("{}/messages/{i}/role", at.pointer()),
                format!(
                    "role \"system\" in `{at_name}.messages` fails when the batch runs ({who} takes roles user and assistant); put system text in `{at_name}.system`"
                ),
            );
        }
    }
}

/// Gemini and Vertex take roles `user` and `model` in `contents`; system text goes in
/// `systemInstruction`.
fn check_contents(ctx: &mut Ctx<'_>, contents: &Value<'_, '_>) {
    let Some(items) = contents.as_array() else {
        return;
    };
    for (i, c) in items.iter().enumerate() {
        let role = c
            .as_object()
            .and_then(|o| o.get("role"))
            .and_then(|r| r.as_str().map(str::to_string));
        if let Some(role) = role {
            if role != "user" && role != "model" {
                ctx.err(
                    Code::UnsupportedValue,
                    &format!("/request/contents/{i}/role"),
                    format!(
                        "role {role:?} in `request.contents` fails at run time (valid roles: user, model); put system text in `request.systemInstruction`"
                    ),
                );
            }
        }
    }
}

fn check_gemini(ctx: &mut Ctx<'_>, line: &RequestLine<'_, '_>) {
    let Some(req) = ctx.payload(line) else {
        return;
    };
    // Batch embeddings take one `content` (singular) instead of `contents`.
    if req.get("contents").is_none() && req.get("content").is_some() {
        ctx.field(&req, "/request", "content", Kind::Obj);
        return;
    }
    if let Some(c) = ctx.required_at(line, line.layout().messages.as_ref(), Kind::Arr) {
        check_contents(ctx, &c);
    }
}

fn check_vertex(ctx: &mut Ctx<'_>, line: &RequestLine<'_, '_>) {
    let Some(req) = ctx.payload(line) else {
        return;
    };
    // Gemini Embedding batch lines take one `content` (and `embed_content_config`).
    if req.get("contents").is_none() && req.get("content").is_some() {
        ctx.field(&req, "/request", "content", Kind::Obj);
        return;
    }
    if let Some(c) = ctx.required_at(line, line.layout().messages.as_ref(), Kind::Arr) {
        check_contents(ctx, &c);
    }
}

/// The warning, said once per file (on its first such line), for a Vertex request line
/// without an id: Vertex writes no id into its output unless the request carries one, so
/// `join` matches each output row to the request it echoes, by content, and cannot tell
/// identical requests apart (source: providers.toml [vertex].sources).
pub(crate) fn joined_by_content(r: &LineReport) -> Option<Diagnostic> {
    if !r.parsed || r.result_line || r.id.is_some() || r.style != Some(Style::Vertex) {
        return None;
    }
    let mut d = Diagnostic::at(
        Code::MissingField,
        Severity::Warning,
        r.line,
        r.offset,
        "no request id (this line is the first; said once per file): Vertex writes no id into \
         its output, so `batchkit join` will match each output row to the request it echoes, by \
         content, and identical requests cannot be told apart (the first result goes to the \
         first of them); add a \"custom_id\" key, which Vertex echoes, to join by id"
            .to_string(),
    );
    d.pointer = Some("/custom_id".to_string());
    Some(d)
}

/// Amazon Bedrock: `{"recordId","modelInput"}`. `modelInput` is the model's own InvokeModel
/// body; a Claude body (`anthropic_version`) is checked lightly: `max_tokens` and `messages`.
///
/// Bedrock makes up an id when `recordId` is absent, but then the result cannot be joined
/// back to its request: required (`styles.toml` gives the shape an id field).
fn check_bedrock(ctx: &mut Ctx<'_>, req: &RequestLine<'_, '_>) {
    let Some(input) = ctx.payload(req) else {
        return;
    };
    if ctx
        .optional(&input, "/modelInput", "anthropic_version", Kind::Str)
        .is_some()
    {
        if let Some(mt) = ctx.field(&input, "/modelInput", "max_tokens", Kind::Int) {
            if mt.as_i64().is_some_and(|n| n < 1) {
                ctx.err(
                    Code::WrongType,
                    "/modelInput/max_tokens",
                    "`modelInput.max_tokens` must be an integer of at least 1".into(),
                );
            }
        }
        ctx.field(&input, "/modelInput", "messages", Kind::Arr);
    } else {
        ctx.optional(&input, "/modelInput", "messages", Kind::Arr);
    }
}

impl Checker {
    /// Checks every line of a chunk in isolation. Cross-line checks (duplicates, url and
    /// model rules) are added later, in order, by [`crate::FileChecker::observe`].
    pub fn check_chunk(&self, chunk: &Chunk) -> Vec<LineReport> {
        self.check_chunk_with(chunk, |_, _| ())
            .into_iter()
            .map(|(r, _)| r)
            .collect()
    }

    /// [`Checker::check_chunk`], calling `also` on each line that parsed to an object with
    /// the line and its root, inside the same parse (so a caller that reads more of the line,
    /// such as shard counting tokens, parses it once).
    pub fn check_chunk_with<R>(
        &self,
        chunk: &Chunk,
        also: impl Fn(&Line<'_>, Value<'_, '_>) -> R,
    ) -> Vec<(LineReport, Option<R>)> {
        if let Some(o) = chunk.oversized {
            let mut r = LineReport::empty(o.line, o.offset, o.len + u64::from(o.terminated));
            r.diagnostics.push(Diagnostic::at(
                Code::LineTooLarge,
                Severity::Error,
                o.line,
                o.offset,
                batchkit_json::syntax::line_too_large(o.len, self.max_line_bytes as u64),
            ));
            return vec![(r, None)];
        }
        chunk
            .lines()
            .map(|l| self.check_line_with(&l, |root| also(&l, root)))
            .collect()
    }

    /// Checks one line in isolation.
    pub fn check_line(&self, line: &Line<'_>) -> LineReport {
        self.check_line_with(line, |_| ()).0
    }

    /// [`Checker::check_line`], calling `also` with the root when the line parsed to an
    /// object (in the same parse).
    pub fn check_line_with<R>(
        &self,
        line: &Line<'_>,
        also: impl FnOnce(Value<'_, '_>) -> R,
    ) -> (LineReport, Option<R>) {
        let mut also = Some(also);
        let mut extra = None;
        let mut report = LineReport::empty(line.number, line.offset, line.raw.len() as u64);
        let mut ctx = Ctx {
            report: &mut report,
            line: line.number,
            offset: line.offset,
        };
        if line.bom {
            let error = self.provider.is_some_and(|p| p.bom_is_error);
            let who = self.provider.map_or("Azure OpenAI", |p| {
                if p.bom_is_error {
                    p.label.as_str()
                } else {
                    "Azure OpenAI"
                }
            });
            let mut d = Diagnostic::at(
                Code::Utf8Bom,
                if error { Severity::Error } else { Severity::Warning },
                line.number,
                line.offset,
                format!("the file starts with a UTF-8 byte-order mark ({who} rejects it); save it as UTF-8 without BOM"),
            );
            d.pointer = None;
            ctx.report.diagnostics.push(d);
        }
        let content = line.content;
        if content.len() > self.max_line_bytes {
            ctx.err(
                Code::LineTooLarge,
                "",
                batchkit_json::syntax::line_too_large(
                    content.len() as u64,
                    self.max_line_bytes as u64,
                ),
            );
            return (report, None);
        }
        if line.is_blank() {
            if line.terminated() {
                ctx.err(
                    Code::EmptyLine,
                    "",
                    batchkit_json::syntax::blank_lines(1, ctx.line, ctx.line, false),
                );
            }
            return (report, None);
        }
        if let Some(msg) = too_big_to_parse(content, &self.opts.budget) {
            ctx.err(Code::LineTooLarge, "", msg);
            return (report, None);
        }
        let provider = self.provider;
        let schema = self.schema.as_ref();
        let parsed = with_parsed(content, |root| {
            if !root.is_object() {
                ctx.err(
                    Code::NotObject,
                    "",
                    batchkit_json::syntax::not_object(type_name(&root)),
                );
                return;
            }
            ctx.report.parsed = true;
            for pointer in batchkit_line::duplicate_keys(root) {
                let mut d = Diagnostic::at(
                    Code::DuplicateKey,
                    Severity::Warning,
                    ctx.line,
                    ctx.offset,
                    batchkit_json::duplicate_key_message(&pointer),
                );
                d.pointer = Some(pointer);
                ctx.report.diagnostics.push(d);
            }
            if let Some(what) = crate::infer::result_shape(root) {
                ctx.report.result_line = true;
                ctx.err(
                    Code::MissingField,
                    "",
                    batchkit_json::syntax::result_file(what),
                );
                return;
            }
            if batch_body(root) {
                ctx.err(
                    Code::MissingField,
                    "",
                    "this is a batch body (one JSON object with a `requests` array, as OpenRouter's batch API takes it), not a request line: write each of its `requests` on its own line ({\"custom_id\", \"body\"}) and validate that file, with --provider openrouter".into(),
                );
                return;
            }
            let req = match provider {
                // A provider that takes several shapes reads each line as the one it shows.
                Some(p) => Some(
                    RequestLine::detect(root)
                        .filter(|r| p.takes(r.style()))
                        .unwrap_or_else(|| RequestLine::new(root, p.style)),
                ),
                None => RequestLine::detect(root),
            };
            let style = req.map(|r| r.style());
            ctx.report.style = style;
            let Some(req) = req else {
                ctx.err(
                    Code::MissingField,
                    "",
                    format!(
                        "cannot tell the request format: expected `url` and `body` (OpenAI), `body` (Mistral, Together and others), `params` (Anthropic), `key` and `request` (Gemini), `request` (Vertex), `content` (Vertex embeddings) or `recordId` and `modelInput` (Bedrock); --provider takes {}",
                        Provider::choices_line()
                    ),
                );
                return;
            };
            let p = provider.unwrap_or_else(|| match req.style() {
                // Under auto, the endpoint or the model says whose file this is.
                Style::OpenAi => crate::infer::openai_style_provider(req.url(), req.model()),
                // Else the rules every provider of the shape applies.
                style => style.auto_provider(),
            });
            ctx.report.inferred = provider.is_none().then_some(p);
            if let Some(max) = p.max_line_bytes {
                if content.len() as u64 >= max {
                    ctx.err(
                        Code::LineTooLarge,
                        "",
                        format!(
                            "line is {} bytes; {} takes requests under {max} bytes",
                            content.len(),
                            p.label
                        ),
                    );
                }
            }
            check_id(&mut ctx, &req, p);
            match req.style() {
                Style::OpenAi => check_openai(&mut ctx, &req, p),
                Style::Body => check_body(&mut ctx, &req, p),
                Style::Anthropic | Style::VertexClaude => check_anthropic(&mut ctx, &req),
                Style::Gemini => check_gemini(&mut ctx, &req),
                Style::Vertex => check_vertex(&mut ctx, &req),
                Style::Bedrock => check_bedrock(&mut ctx, &req),
                Style::VertexEmbedding => check_vertex_embedding(&mut ctx, &req),
            }
            if p.text_only {
                check_text_only(&mut ctx, &req, p);
            }
            check_values(&mut ctx, &req, p, provider.is_none());
            if let Some(f) = also.take() {
                extra = Some(f(root));
            }
        });
        if let Err(err) = parsed {
            let e = batchkit_json::syntax::describe(&err, content);
            let d = Diagnostic::syntax(ctx.line, ctx.offset, e);
            ctx.report.diagnostics.push(d);
            return (report, None);
        }
        if let (Some(schema), true) = (schema, report.parsed) {
            check_schema(schema, content, &mut report);
        }
        (report, extra)
    }
}

fn check_schema(schema: &jsonschema::Validator, content: &[u8], report: &mut LineReport) {
    let Ok(value) = batchkit_json::parse_value(content).map(|p| p.value) else {
        return;
    };
    for e in schema.iter_errors(&value).take(8) {
        let pointer = e.instance_path().to_string();
        let shown = if pointer.is_empty() {
            "/".to_string()
        } else {
            pointer.clone()
        };
        let mut d = Diagnostic::at(
            Code::SchemaViolation,
            Severity::Error,
            report.line,
            report.offset,
            format!("schema: at {shown}: {e}"),
        );
        d.pointer = Some(pointer);
        d.custom_id = report.id.clone();
        report.diagnostics.push(d);
    }
}
