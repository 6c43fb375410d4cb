//! Answers checked against what their request asked for: structured output.
//!
//! A request line says what its answer must be (sources: each provider's `sources` in
//! providers.toml, and the SDK types named below):
//! - OpenAI chat and the hosts that copy it: `body.response_format`, `json_schema` (its
//!   `json_schema.schema`, strict or not) or `json_object` (any JSON object); openai-python
//!   `types/shared_params/response_format_json_schema.py`.
//! - OpenAI Responses: `body.text.format`, flat `json_schema` (its `schema`) or
//!   `json_object`; openai-python `types/responses/response_format_text_json_schema_config_param.py`.
//! - Anthropic (`params`) and Bedrock Claude (`modelInput`): `output_config.format`, or the
//!   older `output_format`, `{type: json_schema, schema}`; a forced tool (`tool_choice`
//!   `{type: tool, name}`, or `{type: any}`) whose `input_schema` the `tool_use` block's
//!   `input` must fit; anthropic-sdk-python `types/output_config_param.py`.
//! - Bedrock Converse and Nova: `modelInput.outputConfig.textFormat` with the schema as a JSON
//!   string at `structure.jsonSchema.schema`; a forced tool in `toolConfig` (`toolSpec.inputSchema.json`);
//!   botocore bedrock-runtime `OutputFormat`, `JsonSchemaDefinition`.
//! - Gemini and Vertex: `request.generationConfig.responseMimeType` `application/json`, with
//!   `responseJsonSchema` (JSON Schema) or `responseSchema` (the OpenAPI subset, mapped to JSON
//!   Schema by [`openapi_to_json_schema`]); python-genai `types.py` `Schema`, `GenerationConfig`.
//!
//! `--answer-schema` replaces the request's schema for every request; `--expect-json` asks for
//! JSON of requests that ask for nothing. Only answers that finished (`succeeded`) are checked:
//! a truncated or refused answer keeps that status.
//!
//! Schemas are compiled once per distinct schema: the request's schema is hashed where it
//! stands in the parsed line (XXH3-128, seeded per process), and the compiled validator kept in
//! a cache bounded by the budget's share for it ([`batchkit_io::Budget::answer_schemas`]),
//! oldest out first. A schema larger than that share, or one that does not compile, is not
//! used: its answers are only checked to be JSON.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher, RandomState};

use std::sync::{Arc, Mutex};
use xxhash_rust::xxh3::Xxh3;

use serde_json::Value as Json;
use simd_json::prelude::*;
use simd_json::tape::Value;

/// A compiled schema (`None`: it did not compile, or is too large to hold).
pub(crate) struct Compiled {
    validator: Option<jsonschema::Validator>,
}

/// What a request asks its answer to be.
#[derive(Clone, Default)]
pub(crate) enum Want {
    /// Nothing: the answer is not checked.
    #[default]
    Nothing,
    /// JSON; with `object`, a JSON object.
    Json { object: bool },
    /// JSON that fits a schema.
    Schema(Arc<Compiled>),
    /// A call of one of these tools, its input fitting the tool's schema.
    Tool(Vec<(String, Option<Arc<Compiled>>)>),
}

/// The first way an answer breaks what was asked: a JSON pointer into the answer and words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AnswerProblem {
    pub pointer: String,
    pub message: String,
}

impl AnswerProblem {
    fn at_root(message: impl Into<String>) -> Self {
        AnswerProblem {
            pointer: String::new(),
            message: message.into(),
        }
    }

    /// `{"pointer":...,"message":...}`, as the merged line holds it.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = b"{\"pointer\":".to_vec();
        out.extend(serde_json::to_vec(&self.pointer).unwrap_or_default());
        out.extend_from_slice(b",\"message\":");
        out.extend(serde_json::to_vec(&self.message).unwrap_or_default());
        out.push(b'}');
        out
    }
}

/// Where schemas come from, which decides how they are read.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    JsonSchema,
    OpenApi,
    /// A JSON Schema held as a JSON string (Bedrock Converse).
    JsonString,
}

struct Cache {
    map: HashMap<u128, Arc<Compiled>>,
    order: VecDeque<(u128, u64)>,
    held: u64,
}

/// The answer checks of one join: options and the schema cache (shared by the threads).
pub(crate) struct Checker {
    /// `--answer-schema`: every request's schema.
    all: Option<Arc<Compiled>>,
    /// `--expect-json`.
    expect_json: bool,
    cache: Mutex<Cache>,
    limit: u64,
    /// The hash's seed, drawn per process: a file cannot aim at a collision.
    seed: u64,
}

/// Bytes a compiled schema is taken to hold, from the length of its JSON.
fn cost(source_len: usize) -> u64 {
    source_len as u64 * 24 + 4096
}

impl Checker {
    /// Checks with `answer_schema` (`--answer-schema`, already parsed) for every request,
    /// `expect_json`, and `limit` bytes for compiled schemas.
    pub fn new(
        answer_schema: Option<&Json>,
        expect_json: bool,
        limit: u64,
    ) -> Result<Checker, String> {
        let all = match answer_schema {
            Some(s) => Some(Arc::new(Compiled {
                validator: Some(jsonschema::validator_for(s).map_err(|e| e.to_string())?),
            })),
            None => None,
        };
        Ok(Checker {
            all,
            expect_json,
            cache: Mutex::new(Cache {
                map: HashMap::new(),
                order: VecDeque::new(),
                held: 0,
            }),
            limit,
            seed: RandomState::new().build_hasher().finish(),
        })
    }

    /// Whether request line `content` may ask anything of its answer: a cheap look for the
    /// keys every ask goes through, before a parse (always, with `--answer-schema` or
    /// `--expect-json`).
    pub fn may_ask(&self, content: &[u8]) -> bool {
        self.all.is_some()
            || self.expect_json
            || [
                &b"format\""[..],
                b"Format\"",
                b"tool_choice\"",
                b"toolChoice\"",
                b"responseMimeType\"",
            ]
            .iter()
            .any(|k| memchr::memmem::find(content, k).is_some())
    }

    /// What request line `root` asks its answer to be, with the options applied.
    pub fn want(&self, root: Value<'_, '_>) -> Want {
        let asked = self.asked(root);
        match (asked, &self.all) {
            (Want::Tool(tools), Some(s)) => Want::Tool(
                tools
                    .into_iter()
                    .map(|(n, _)| (n, Some(s.clone())))
                    .collect(),
            ),
            (_, Some(s)) => Want::Schema(s.clone()),
            (Want::Nothing, None) if self.expect_json => Want::Json { object: false },
            (w, None) => w,
        }
    }

    /// What the request itself asks for.
    fn asked(&self, root: Value<'_, '_>) -> Want {
        if let Some(body) = field(root, "body") {
            if let Some(rf) = field(body, "response_format") {
                return self.openai_format(rf, |f| field(field(f, "json_schema")?, "schema"));
            }
            if let Some(tf) = field(body, "text").and_then(|t| field(t, "format")) {
                return self.openai_format(tf, |f| field(f, "schema"));
            }
            return Want::Nothing;
        }
        if let Some(p) = field(root, "params").or_else(|| field(root, "modelInput")) {
            return self.anthropic(p);
        }
        if let Some(gc) = field(root, "request").and_then(|r| field(r, "generationConfig")) {
            let json = string(gc, "responseMimeType")
                .is_some_and(|m| m.eq_ignore_ascii_case("application/json"));
            if !json {
                return Want::Nothing;
            }
            if let Some(s) = field(gc, "responseJsonSchema") {
                return Want::Schema(self.compiled(Kind::JsonSchema, s));
            }
            if let Some(s) = field(gc, "responseSchema") {
                return Want::Schema(self.compiled(Kind::OpenApi, s));
            }
            return Want::Json { object: false };
        }
        Want::Nothing
    }

    fn openai_format<'t, 'i>(
        &self,
        f: Value<'t, 'i>,
        schema: impl FnOnce(Value<'t, 'i>) -> Option<Value<'t, 'i>>,
    ) -> Want {
        match string(f, "type") {
            Some("json_schema") => match schema(f) {
                Some(s) => Want::Schema(self.compiled(Kind::JsonSchema, s)),
                None => Want::Json { object: false },
            },
            Some("json_object") => Want::Json { object: true },
            _ => Want::Nothing,
        }
    }

    /// Anthropic `params`, or a Bedrock `modelInput` (Claude's fields, or Converse's).
    fn anthropic(&self, p: Value<'_, '_>) -> Want {
        let format = field(p, "output_config")
            .and_then(|c| field(c, "format"))
            .or_else(|| field(p, "output_format"));
        if let Some(f) = format {
            if string(f, "type") == Some("json_schema") {
                return match field(f, "schema") {
                    Some(s) => Want::Schema(self.compiled(Kind::JsonSchema, s)),
                    None => Want::Json { object: false },
                };
            }
        }
        if let Some(tf) = field(p, "outputConfig").and_then(|c| field(c, "textFormat")) {
            if string(tf, "type") == Some("json_schema") {
                let s = field(tf, "structure")
                    .and_then(|s| field(s, "jsonSchema"))
                    .and_then(|j| field(j, "schema"));
                return match s {
                    Some(s) => Want::Schema(self.compiled(Kind::JsonString, s)),
                    None => Want::Json { object: false },
                };
            }
        }
        if let Some(tc) = field(p, "tool_choice") {
            let tools = items(p, "tools").filter_map(|t| Some((string(t, "name")?, t)));
            let named = match string(tc, "type") {
                Some("tool") => string(tc, "name"),
                Some("any") => None,
                _ => return Want::Nothing,
            };
            let picked = tools
                .filter(|(n, _)| named.is_none_or(|w| w == *n))
                .map(|(n, t)| {
                    let s = field(t, "input_schema").map(|s| self.compiled(Kind::JsonSchema, s));
                    (n.to_string(), s)
                })
                .collect::<Vec<_>>();
            return match (picked.is_empty(), named) {
                (false, _) => Want::Tool(picked),
                (true, Some(n)) => Want::Tool(vec![(n.to_string(), None)]),
                (true, None) => Want::Nothing,
            };
        }
        if let Some(tc) = field(p, "toolConfig") {
            let choice = field(tc, "toolChoice");
            let named = choice
                .and_then(|c| field(c, "tool"))
                .and_then(|t| string(t, "name"));
            let any = choice.and_then(|c| field(c, "any")).is_some();
            if named.is_none() && !any {
                return Want::Nothing;
            }
            let picked = items(tc, "tools")
                .filter_map(|t| field(t, "toolSpec"))
                .filter_map(|s| Some((string(s, "name")?, s)))
                .filter(|(n, _)| named.is_none_or(|w| w == *n))
                .map(|(n, s)| {
                    let schema = field(s, "inputSchema")
                        .and_then(|i| field(i, "json"))
                        .map(|j| self.compiled(Kind::JsonSchema, j));
                    (n.to_string(), schema)
                })
                .collect::<Vec<_>>();
            return match (picked.is_empty(), named) {
                (false, _) => Want::Tool(picked),
                (true, Some(n)) => Want::Tool(vec![(n.to_string(), None)]),
                (true, None) => Want::Nothing,
            };
        }
        Want::Nothing
    }

    /// The compiled schema of `s`, from the cache or compiled now.
    fn compiled(&self, kind: Kind, s: Value<'_, '_>) -> Arc<Compiled> {
        let mut h = Xxh3::with_seed(self.seed);
        h.update(&[kind as u8]);
        let size = hash_tree(s, &mut h);
        let key = h.digest128();
        if let Some(c) = self
            .cache
            .lock()
            .map(|c| c.map.get(&key).cloned())
            .ok()
            .flatten()
        {
            return c;
        }
        let held = cost(size);
        let validator = if held > self.limit {
            None
        } else {
            compile(kind, s)
        };
        let c = Arc::new(Compiled { validator });
        if held <= self.limit {
            if let Ok(mut cache) = self.cache.lock() {
                while cache.held + held > self.limit {
                    let Some((old, n)) = cache.order.pop_front() else {
                        break;
                    };
                    cache.map.remove(&old);
                    cache.held -= n;
                }
                if cache.map.insert(key, c.clone()).is_none() {
                    cache.order.push_back((key, held));
                    cache.held += held;
                }
            }
        }
        c
    }

    /// How the answer of a succeeded request breaks what was asked (`None`: it does not, or
    /// nothing was asked). `text` is the answer text as a JSON string literal, `result` the
    /// result line, `stop` the stop reason's literal.
    pub fn check(
        &self,
        want: &Want,
        text: Option<&[u8]>,
        result: &[u8],
        stop: Option<&[u8]>,
    ) -> Option<AnswerProblem> {
        let (object, schema) = match want {
            Want::Nothing => return None,
            Want::Tool(tools) => return check_tool(tools, result),
            Want::Json { object } => (*object, None),
            Want::Schema(c) => (false, c.validator.as_ref()),
        };
        let Some(lit) = text else {
            // An answer that is a tool call is not checked as text.
            if stop.is_some_and(|s| {
                matches!(
                    s,
                    b"\"tool_calls\"" | b"\"tool_use\"" | b"\"function_call\""
                )
            }) {
                return None;
            }
            return Some(AnswerProblem::at_root("no text"));
        };
        let Ok(Some(text)) = batchkit_line::read(lit, |v| v.as_str().map(str::to_string)) else {
            return Some(AnswerProblem::at_root("the text cannot be read"));
        };
        // The one JSON engine, as every command reads JSON (first of a repeated key).
        let value = match batchkit_line::read(text.as_bytes(), batchkit_line::to_serde) {
            Ok(v) => v,
            Err(_) => {
                let e = batchkit_json::parse_value(text.as_bytes()).err();
                return Some(AnswerProblem::at_root(not_json(&text, e.as_ref())));
            }
        };
        if object && !value.is_object() {
            return Some(AnswerProblem::at_root(format!(
                "{}, not a JSON object",
                json_type(&value)
            )));
        }
        schema.and_then(|v| violation(v, &value))
    }
}

/// The first violation of `value` against `v`.
fn violation(v: &jsonschema::Validator, value: &Json) -> Option<AnswerProblem> {
    if v.is_valid(value) {
        return None;
    }
    let e = v.validate(value).err()?;
    let mut message = e.to_string();
    shorten(&mut message, 240);
    Some(AnswerProblem {
        pointer: e.instance_path().to_string(),
        message,
    })
}

fn shorten(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
}

/// Words for an answer that is not JSON: cut (the parse ran out) or not JSON at all.
fn not_json(text: &str, e: Option<&serde_json::Error>) -> String {
    if text.trim().is_empty() {
        return "empty, not JSON".into();
    }
    match e {
        Some(e) if e.classify() == serde_json::error::Category::Eof => {
            format!("cut JSON: it ends at byte {}", text.len())
        }
        Some(e) => format!("not JSON: {e}"),
        None => "not JSON".into(),
    }
}

fn json_type(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// A forced tool's answer: the first `tool_use` (Anthropic, Bedrock Claude) or `toolUse`
/// (Converse) block naming one of `tools`, or the first OpenAI chat `tool_calls` entry naming
/// one (what `convert --results` writes), its input against that tool's schema.
fn check_tool(tools: &[(String, Option<Arc<Compiled>>)], result: &[u8]) -> Option<AnswerProblem> {
    /// A call's input: a value, absent, or (OpenAI's `arguments` string) not JSON.
    enum Input {
        Value(Json),
        Missing,
        NotJson,
    }
    let found = batchkit_line::read(result, |root| {
        let pick = |name: Option<&str>| name.and_then(|n| tools.iter().position(|(t, _)| t == n));
        let content = field(root, "result")
            .and_then(|r| field(r, "message"))
            .or_else(|| field(root, "modelOutput"));
        let blocks = content.and_then(|content| {
            field(content, "content").or_else(|| {
                field(content, "output")
                    .and_then(|o| field(o, "message"))
                    .and_then(|m| field(m, "content"))
            })
        });
        for b in blocks
            .and_then(|b| b.as_array())
            .into_iter()
            .flat_map(|a| a.iter())
        {
            let (name, input) = if string(b, "type") == Some("tool_use") {
                (string(b, "name"), b.get("input"))
            } else if let Some(u) = field(b, "toolUse") {
                (string(u, "name"), u.get("input"))
            } else {
                continue;
            };
            let Some(i) = pick(name) else {
                continue;
            };
            let input = input.map_or(Input::Missing, |v| Input::Value(batchkit_line::to_serde(v)));
            return Some((i, input));
        }
        let body = field(root, "response").map(|r| field(r, "body").unwrap_or(r))?;
        let message = items(body, "choices")
            .next()
            .and_then(|c| field(c, "message"))?;
        for call in items(message, "tool_calls").filter_map(|c| field(c, "function")) {
            let Some(i) = pick(string(call, "name")) else {
                continue;
            };
            let input = match string(call, "arguments") {
                Some(a) => match serde_json::from_str(a) {
                    Ok(v) => Input::Value(v),
                    Err(_) => Input::NotJson,
                },
                None => Input::Missing,
            };
            return Some((i, input));
        }
        None
    })
    .ok()
    .flatten();
    let names = || {
        tools
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some((i, input)) = found else {
        return Some(AnswerProblem::at_root(format!(
            "no call of the forced tool ({})",
            names()
        )));
    };
    let input = match input {
        Input::Value(v) => v,
        Input::Missing => {
            return Some(AnswerProblem::at_root(format!(
                "the call of {} has no input",
                tools[i].0
            )))
        }
        Input::NotJson => {
            return Some(AnswerProblem::at_root(format!(
                "the call of {} has arguments that are not JSON",
                tools[i].0
            )))
        }
    };
    let v = tools[i].1.as_ref()?.validator.as_ref()?;
    violation(v, &input)
}

/// The first tool call of result line `result` as JSON text, for an answer that is a call
/// rather than text: Anthropic and Bedrock Claude `tool_use` input, Converse `toolUse` input,
/// OpenAI chat `tool_calls` and Responses `function_call` arguments (a JSON string already),
/// Gemini `functionCall` args; xAI's results as OpenAI chat.
pub(crate) fn tool_call(result: &[u8]) -> Option<String> {
    batchkit_line::read(result, |root| {
        let as_text = |v: Value<'_, '_>| match v.as_str() {
            Some(s) => s.to_string(),
            None => batchkit_line::to_serde(v).to_string(),
        };
        if let Some(m) = field(root, "result").and_then(|r| field(r, "message")) {
            return items(m, "content")
                .find(|b| string(*b, "type") == Some("tool_use"))
                .and_then(|b| b.get("input"))
                .map(as_text);
        }
        if let Some(out) = field(root, "modelOutput") {
            let converse = field(out, "output")
                .and_then(|o| field(o, "message"))
                .map(|m| {
                    items(m, "content")
                        .filter_map(|b| field(b, "toolUse"))
                        .collect::<Vec<_>>()
                });
            if let Some(u) = converse.and_then(|c| c.into_iter().next()) {
                return u.get("input").map(as_text);
            }
            return items(out, "content")
                .find(|b| string(*b, "type") == Some("tool_use"))
                .and_then(|b| b.get("input"))
                .map(as_text);
        }
        let resp = match field(root, "batch_result").and_then(|b| field(b, "response")) {
            Some(r) => field(r, "chat_get_completion")?,
            None => field(root, "response")?,
        };
        let body = field(resp, "body").unwrap_or(resp);
        if let Some(choice) = items(body, "choices").next() {
            let call = field(choice, "message")
                .and_then(|m| items(m, "tool_calls").next())
                .and_then(|c| field(c, "function"))?;
            return call.get("arguments").map(as_text);
        }
        if let Some(item) =
            items(body, "output").find(|i| string(*i, "type") == Some("function_call"))
        {
            return item.get("arguments").map(as_text);
        }
        let c = items(resp, "candidates").next()?;
        let part = field(c, "content")
            .map(|c| {
                items(c, "parts")
                    .filter_map(|p| field(p, "functionCall"))
                    .collect::<Vec<_>>()
            })?
            .into_iter()
            .next()?;
        part.get("args").map(as_text)
    })
    .ok()
    .flatten()
}

/// Compiles schema `s` read as `kind`.
fn compile(kind: Kind, s: Value<'_, '_>) -> Option<jsonschema::Validator> {
    let schema = match kind {
        Kind::JsonSchema => batchkit_line::to_serde(s),
        Kind::OpenApi => openapi_to_json_schema(&batchkit_line::to_serde(s)),
        Kind::JsonString => {
            batchkit_json::parse_value(s.as_str()?.as_bytes())
                .ok()?
                .value
        }
    };
    jsonschema::validator_for(&schema).ok()
}

/// Hashes the tree under `v` (keys in order, every member); returns about how many bytes
/// its JSON takes.
fn hash_tree(v: Value<'_, '_>, h: &mut Xxh3) -> usize {
    fn both(h: &mut Xxh3, b: &[u8]) {
        h.update(b);
    }
    if let Some(o) = v.as_object() {
        both(h, b"{");
        let mut n = 2;
        for (k, child) in o.iter() {
            both(h, &(k.len() as u64).to_le_bytes());
            both(h, k.as_bytes());
            n += k.len() + 4 + hash_tree(child, h);
        }
        both(h, b"}");
        n
    } else if let Some(a) = v.as_array() {
        both(h, b"[");
        let mut n = 2;
        for child in a.iter() {
            n += 1 + hash_tree(child, h);
        }
        both(h, b"]");
        n
    } else if let Some(s) = v.as_str() {
        both(h, b"s");
        both(h, &(s.len() as u64).to_le_bytes());
        both(h, s.as_bytes());
        s.len() + 2
    } else if let Some(x) = v.as_u64() {
        both(h, b"u");
        both(h, &x.to_le_bytes());
        8
    } else if let Some(x) = v.as_i64() {
        both(h, b"i");
        both(h, &x.to_le_bytes());
        8
    } else if let Some(x) = v.as_f64() {
        both(h, b"f");
        both(h, &x.to_bits().to_le_bytes());
        8
    } else if let Some(x) = v.as_bool() {
        both(h, if x { b"t" } else { b"b" });
        5
    } else {
        both(h, b"n");
        4
    }
}

pub use batchkit_providers::schema::openapi_to_json_schema;

fn field<'t, 'i>(v: Value<'t, 'i>, k: &str) -> Option<Value<'t, 'i>> {
    v.get(k).filter(|x| !x.is_null())
}

fn string<'i>(v: Value<'_, 'i>, k: &str) -> Option<&'i str> {
    field(v, k)?.into_string()
}

fn items<'t, 'i>(v: Value<'t, 'i>, k: &str) -> impl Iterator<Item = Value<'t, 'i>> {
    field(v, k)
        .and_then(|a| a.as_array())
        .into_iter()
        .flat_map(|a| a.iter())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checker() -> Checker {
        Checker::new(None, false, 1 << 20).unwrap()
    }

    fn want(c: &Checker, line: &str) -> Want {
        batchkit_line::read(line.as_bytes(), |root| c.want(root)).unwrap()
    }

    fn lit(s: &str) -> Vec<u8> {
        serde_json::to_vec(s).unwrap()
    }

    fn check(c: &Checker, w: &Want, answer: &str) -> Option<AnswerProblem> {
        c.check(w, Some(&lit(answer)), b"{}", Some(b"\"stop\""))
    }

    const SCHEMA: &str = r#"{"type":"object","properties":{"label":{"type":"string","enum":["a","b"]},"score":{"type":"number"}},"required":["label","score"],"additionalProperties":false}"#;

    #[test]
    fn openai_json_schema_answers() {
        let c = checker();
        let line = format!(
            r#"{{"custom_id":"1","body":{{"model":"m","response_format":{{"type":"json_schema","json_schema":{{"name":"x","strict":true,"schema":{SCHEMA}}}}}}}}}"#
        );
        let w = want(&c, &line);
        assert!(matches!(w, Want::Schema(_)));
        assert_eq!(check(&c, &w, r#"{"label":"a","score":1}"#), None);
        let p = check(&c, &w, r#"{"label":"c","score":1}"#).unwrap();
        assert_eq!(p.pointer, "/label");
        let p = check(&c, &w, r#"{"label":"a","score":"1"}"#).unwrap();
        assert_eq!(p.pointer, "/score");
        let p = check(&c, &w, r#"{"label":"a"}"#).unwrap();
        assert_eq!(p.pointer, "");
        assert!(p.message.contains("score"), "{}", p.message);
        let p = check(&c, &w, r#"{"label":"a","sco"#).unwrap();
        assert!(p.message.contains("cut JSON"), "{}", p.message);
        let p = check(&c, &w, "Sure! Here is the JSON").unwrap();
        assert!(p.message.contains("not JSON"), "{}", p.message);
        // One compile for the same schema, however often it comes.
        let again = want(&c, &line);
        match (&w, &again) {
            (Want::Schema(a), Want::Schema(b)) => assert!(Arc::ptr_eq(a, b)),
            _ => panic!("no schema"),
        }
    }

    #[test]
    fn json_object_responses_and_expect_json() {
        let c = checker();
        let w = want(
            &c,
            r#"{"custom_id":"1","body":{"response_format":{"type":"json_object"}}}"#,
        );
        assert_eq!(check(&c, &w, r#"{"a":1}"#), None);
        assert!(check(&c, &w, "[1]").unwrap().message.contains("an array"));
        let w = want(
            &c,
            &format!(
                r#"{{"custom_id":"1","body":{{"text":{{"format":{{"type":"json_schema","name":"x","schema":{SCHEMA}}}}}}}}}"#
            ),
        );
        assert!(check(&c, &w, r#"{"label":"b"}"#).is_some());
        let plain = r#"{"custom_id":"1","body":{"messages":[]}}"#;
        assert!(matches!(want(&c, plain), Want::Nothing));
        let e = Checker::new(None, true, 1 << 20).unwrap();
        let w = want(&e, plain);
        assert_eq!(check(&e, &w, "[1]"), None);
        assert!(check(&e, &w, "no").is_some());
    }

    #[test]
    fn answer_schema_overrides_the_request() {
        let s: Json = serde_json::from_str(r#"{"type":"array"}"#).unwrap();
        let c = Checker::new(Some(&s), false, 1 << 20).unwrap();
        let line = format!(
            r#"{{"custom_id":"1","body":{{"response_format":{{"type":"json_schema","json_schema":{{"schema":{SCHEMA}}}}}}}}}"#
        );
        let w = want(&c, &line);
        assert_eq!(check(&c, &w, "[1]"), None);
        assert!(check(&c, &w, r#"{"label":"a","score":1}"#).is_some());
    }

    #[test]
    fn anthropic_output_config_and_forced_tools() {
        let c = checker();
        let w = want(
            &c,
            &format!(
                r#"{{"custom_id":"1","params":{{"model":"claude","max_tokens":9,"output_config":{{"format":{{"type":"json_schema","schema":{SCHEMA}}}}}}}}}"#
            ),
        );
        assert!(check(&c, &w, r#"{"label":"a","score":2}"#).is_none());
        let line = format!(
            r#"{{"custom_id":"1","params":{{"tools":[{{"name":"other","input_schema":{{"type":"object"}}}},{{"name":"classify","input_schema":{SCHEMA}}}],"tool_choice":{{"type":"tool","name":"classify"}}}}}}"#
        );
        let w = want(&c, &line);
        let result = |input: &str| {
            format!(
                r#"{{"custom_id":"1","result":{{"type":"succeeded","message":{{"content":[{{"type":"text","text":"x"}},{{"type":"tool_use","id":"t","name":"classify","input":{input}}}],"stop_reason":"tool_use"}}}}}}"#
            )
        };
        let ok = result(r#"{"label":"b","score":0.5}"#);
        assert_eq!(
            c.check(&w, None, ok.as_bytes(), Some(b"\"tool_use\"")),
            None
        );
        let bad = result(r#"{"label":"b"}"#);
        assert!(c.check(&w, None, bad.as_bytes(), None).is_some());
        let none = r#"{"custom_id":"1","result":{"type":"succeeded","message":{"content":[{"type":"text","text":"no"}]}}}"#;
        let p = c.check(&w, Some(b"\"no\""), none.as_bytes(), None).unwrap();
        assert!(p.message.contains("classify"), "{}", p.message);
    }

    #[test]
    fn gemini_response_schema_is_mapped() {
        let c = checker();
        let line = r#"{"key":"k","request":{"contents":[],"generationConfig":{"responseMimeType":"application/json","responseSchema":{"type":"OBJECT","properties":{"n":{"type":"INTEGER","nullable":true},"tags":{"type":"ARRAY","items":{"type":"STRING","enum":["x","y"]},"minItems":"1"}},"required":["tags"],"propertyOrdering":["n","tags"]}}}}"#;
        let w = want(&c, line);
        assert_eq!(check(&c, &w, r#"{"n":null,"tags":["x"]}"#), None);
        assert_eq!(check(&c, &w, r#"{"n":3,"tags":["y","x"]}"#), None);
        assert_eq!(
            check(&c, &w, r#"{"n":1.5,"tags":["x"]}"#).unwrap().pointer,
            "/n"
        );
        assert_eq!(
            check(&c, &w, r#"{"tags":["z"]}"#).unwrap().pointer,
            "/tags/0"
        );
        assert!(
            check(&c, &w, r#"{"tags":[]}"#).is_some(),
            "minItems as a string"
        );
        let no_schema =
            r#"{"key":"k","request":{"generationConfig":{"responseMimeType":"application/json"}}}"#;
        let w = want(&c, no_schema);
        assert!(check(&c, &w, "{").is_some());
    }

    #[test]
    fn converse_schema_string() {
        let c = checker();
        let line = format!(
            r#"{{"recordId":"1","modelInput":{{"outputConfig":{{"textFormat":{{"type":"json_schema","structure":{{"jsonSchema":{{"schema":{}}}}}}}}}}}}}"#,
            serde_json::to_string(SCHEMA).unwrap()
        );
        let w = want(&c, &line);
        assert!(check(&c, &w, r#"{"label":"a","score":1}"#).is_none());
        assert!(check(&c, &w, r#"{"label":"a"}"#).is_some());
    }

    #[test]
    fn the_cache_keeps_to_its_limit() {
        let c = Checker::new(None, false, 64 << 10).unwrap();
        for i in 0..500 {
            let line = format!(
                r#"{{"custom_id":"1","body":{{"response_format":{{"type":"json_schema","json_schema":{{"schema":{{"type":"object","required":["f{i}"]}}}}}}}}}}"#
            );
            let w = want(&c, &line);
            let answer = format!(r#"{{"f{i}":1}}"#);
            assert_eq!(check(&c, &w, &answer), None);
            assert!(check(&c, &w, "{}").is_some());
        }
        let cache = c.cache.lock().unwrap();
        assert!(cache.held <= 64 << 10);
        assert!(cache.map.len() < 500 && !cache.map.is_empty());
    }

    #[test]
    fn the_first_tool_call_of_each_layout() {
        let cases = [
            (
                r#"{"custom_id":"a","result":{"type":"succeeded","message":{"content":[{"type":"text","text":"x"},{"type":"tool_use","name":"t","input":{"b":1,"a":[2]}}]}}}"#,
                r#"{"a":[2],"b":1}"#,
            ),
            (
                r#"{"custom_id":"a","response":{"status_code":200,"body":{"choices":[{"message":{"content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"t","arguments":"{\"x\": 1}"}}]}}]}}}"#,
                r#"{"x": 1}"#,
            ),
            (
                r#"{"custom_id":"a","response":{"status_code":200,"body":{"object":"response","output":[{"type":"function_call","name":"t","arguments":"{\"y\":2}"}]}}}"#,
                r#"{"y":2}"#,
            ),
            (
                r#"{"key":"a","response":{"candidates":[{"content":{"parts":[{"functionCall":{"name":"t","args":{"z":3}}}]}}]}}"#,
                r#"{"z":3}"#,
            ),
            (
                r#"{"recordId":"a","modelOutput":{"output":{"message":{"content":[{"toolUse":{"name":"t","input":{"w":4}}}]}}}}"#,
                r#"{"w":4}"#,
            ),
            (
                r#"{"recordId":"a","modelOutput":{"content":[{"type":"tool_use","name":"t","input":{"v":5}}]}}"#,
                r#"{"v":5}"#,
            ),
        ];
        for (line, want) in cases {
            assert_eq!(tool_call(line.as_bytes()).as_deref(), Some(want), "{line}");
        }
        let text = r#"{"custom_id":"a","response":{"status_code":200,"body":{"choices":[{"message":{"content":"hi"}}]}}}"#;
        assert_eq!(tool_call(text.as_bytes()), None);
    }

    #[test]
    fn no_text_unless_a_tool_call() {
        let c = checker();
        let w = want(
            &c,
            r#"{"custom_id":"1","body":{"response_format":{"type":"json_object"}}}"#,
        );
        assert!(c.check(&w, None, b"{}", Some(b"\"stop\"")).is_some());
        assert!(c.check(&w, None, b"{}", Some(b"\"tool_calls\"")).is_none());
    }
}
