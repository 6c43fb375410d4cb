//! Rewrites batch request lines from one provider's shape to another's, streaming.
//!
//! [`convert`] reads request files (OpenAI chat completions, Responses and embeddings;
//! Anthropic Messages; Gemini and Vertex `generateContent` and embeddings; Bedrock Claude and
//! Nova; the OpenAI-compatible hosts' lines and bodies) chunk by chunk, converts each line in
//! parallel ([`map`]: system prompts, roles, text and images, tools, tool calls and results,
//! `tool_choice`, sampling, stop sequences, output caps, structured-output schemas, cache
//! breakpoints) and writes the lines, in order, to one output file, made whole or not at all.
//! Plain chat lines are read straight from the parsed tree; the others through a JSON value.
//! `--cache auto` ([`CacheMode::Auto`]) adds Anthropic breakpoints where the file's requests
//! share a prefix (a second pass over a staged copy of the output). A field with no equivalent on the target is a finding (`unconvertible`, with
//! its JSON pointer) and the line is left out, unless [`ConvertOptions::lossy`], which drops
//! the field and counts it by kind. An id the target does not accept (Anthropic: 1-64
//! characters of `[A-Za-z0-9_-]`) is `invalid_custom_id`, unless [`ConvertOptions::id_map`]
//! is given: the line then gets a new id (derived from the old one, the same on every run) and
//! the map file a line `{"id":new,"original":old}`.
//!
//! [`convert_results`] ([`results`]) goes the other way for answers: result lines of any
//! provider's batch, rewritten in OpenAI's batch output shape with usage, stop reasons and
//! tool calls mapped, so that a pipeline reads one shape. [`convert_one`] converts one request
//! line in memory (what `tokens --target` prices).
//!
//! ```
//! use batchkit_convert::{convert, ConvertOptions, Target};
//! use batchkit_io::Input;
//! let dir = tempfile::tempdir().unwrap();
//! let src = dir.path().join("req.jsonl");
//! std::fs::write(&src, r#"{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"max_tokens":50}}
//! "#).unwrap();
//! let mut opts = ConvertOptions::new(vec![Input::path(&src)], Target::ANTHROPIC, dir.path().join("out.jsonl"));
//! opts.model = Some("claude-haiku-4-5".into());
//! let s = convert(&opts, &mut |_: &str, _: &batchkit_line::Diagnostic| Ok(())).unwrap();
//! assert_eq!(s.converted, 1);
//! let out = std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap();
//! assert!(out.contains(r#""system":"Be brief.""#) && out.contains(r#""max_tokens":50"#));
//! ```

mod cache;
pub mod map;
pub mod results;
mod schema;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use batchkit_io::{AtomicFile, Chunk, Input, ReadError, ReadOptions};
use batchkit_line::{Code, Diagnostic, Severity};
use serde::Serialize;
use serde_json::Value;

pub use map::Problem;
pub use results::{convert_results, ResultsOptions, ResultsSummary};

/// The line shape a target takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// OpenAI chat completions, `{custom_id, method, url, body}`.
    Chat,
    /// A chat completions body in `{custom_id, body}` (Mistral, Together, OpenRouter, ...).
    Body,
    /// OpenAI Responses, `{custom_id, method, url: "/v1/responses", body}`.
    Responses,
    /// Anthropic Message Batches, `{custom_id, params}`.
    Anthropic,
    /// Claude on Amazon Bedrock, `{recordId, modelInput}` with `anthropic_version`.
    BedrockClaude,
    /// Amazon Nova on Bedrock, `{recordId, modelInput}` (`messages-v1`).
    BedrockNova,
    /// Gemini API batch, `{key, request}`.
    Gemini,
    /// Vertex AI batch prediction, `{request}` (the id echoed in `key`).
    Vertex,
}

/// The shape lines are converted to, and the provider whose rules they follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// The line shape.
    pub shape: Shape,
    /// The provider name in providers.toml (`batchkit validate --provider`).
    name: &'static str,
}

impl Target {
    /// OpenAI chat completions.
    pub const OPENAI: Target = Target {
        shape: Shape::Chat,
        name: "openai",
    };
    /// Anthropic Message Batches.
    pub const ANTHROPIC: Target = Target {
        shape: Shape::Anthropic,
        name: "anthropic",
    };
    /// Gemini API batch.
    pub const GEMINI: Target = Target {
        shape: Shape::Gemini,
        name: "gemini",
    };

    /// By name: a provider in providers.toml (`openai`, `anthropic`, `gemini`, `vertex`,
    /// `bedrock` (Claude), and the hosts that take OpenAI's chat lines or bodies: `azure`,
    /// `groq`, `mistral`, `together`, `openrouter`, ...), or `openai-responses`,
    /// `bedrock-nova`.
    pub fn parse(name: &str) -> Option<Target> {
        let lower = name.to_ascii_lowercase();
        let (shape, name) = match lower.as_str() {
            "openai-responses" | "responses" => (Shape::Responses, "openai"),
            "anthropic" => (Shape::Anthropic, "anthropic"),
            "gemini" => (Shape::Gemini, "gemini"),
            "vertex" => (Shape::Vertex, "vertex"),
            "bedrock" | "bedrock-claude" => (Shape::BedrockClaude, "bedrock"),
            "bedrock-nova" | "nova" => (Shape::BedrockNova, "bedrock"),
            "vllm" => (Shape::Chat, "openai-compatible"),
            other => {
                let p = batchkit_providers::Provider::get(other)?;
                let shape = match p.style {
                    batchkit_providers::Style::OpenAi => Shape::Chat,
                    batchkit_providers::Style::Body => Shape::Body,
                    _ => return None,
                };
                (shape, p.name.as_str())
            }
        };
        Some(Target { shape, name })
    }

    /// The same target, with Bedrock's body chosen by the model the lines are for: Nova's
    /// for an Amazon Nova model, Claude's otherwise.
    pub fn for_model(self, model: Option<&str>) -> Target {
        match (self.shape, model) {
            (Shape::BedrockClaude, Some(m)) if m.contains("nova") => Target {
                shape: Shape::BedrockNova,
                ..self
            },
            _ => self,
        }
    }

    /// The names `parse` takes, for messages.
    pub fn choices() -> String {
        "openai, openai-responses, anthropic, gemini, vertex, bedrock, bedrock-nova, or a host that takes OpenAI's chat lines (azure, groq, mistral, together, xai, openrouter, fireworks, ...)".into()
    }

    /// The name in messages.
    pub fn label(self) -> &'static str {
        match self.shape {
            Shape::Responses => "OpenAI Responses",
            Shape::BedrockClaude => "Bedrock Claude",
            Shape::BedrockNova => "Bedrock Nova",
            _ => self
                .provider()
                .map(|p| p.label.as_str())
                .unwrap_or(self.name),
        }
    }

    /// The provider name of `batchkit validate --provider`.
    pub fn provider_name(self) -> &'static str {
        self.name
    }

    /// The provider's rules in providers.toml.
    pub fn provider(self) -> Option<&'static batchkit_providers::Provider> {
        batchkit_providers::Provider::get(self.name)
    }

    /// Where the line keeps its id.
    pub fn id_key(self) -> &'static str {
        match self.shape {
            Shape::Gemini | Shape::Vertex => "key",
            Shape::BedrockClaude | Shape::BedrockNova => "recordId",
            _ => "custom_id",
        }
    }
}

/// What `--cache` does with prompt-cache breakpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheMode {
    /// Keep the breakpoints the lines have, where the target takes them.
    #[default]
    Keep,
    /// Drop every breakpoint.
    None,
    /// Keep them, and place more where the file's requests share a prefix.
    Auto,
}

/// What to convert and how.
#[derive(Debug, Clone)]
pub struct ConvertOptions {
    /// Request files, in order.
    pub inputs: Vec<Input>,
    /// The target shape.
    pub to: Target,
    /// The output file.
    pub out: PathBuf,
    /// The target model for every line (`--model`).
    pub model: Option<String>,
    /// Target models by source model (`--model-map A=B`); before [`ConvertOptions::model`].
    pub model_map: BTreeMap<String, String>,
    /// Drop fields with no equivalent, counted by kind, instead of leaving the line out.
    pub lossy: bool,
    /// The output cap for a target that requires one, where the line has none
    /// (`--default-max-tokens`; else the model's output limit from the models table).
    pub default_max_tokens: Option<u64>,
    /// Where to write `{"id":new,"original":old}` for ids the target does not accept.
    pub id_map: Option<PathBuf>,
    /// What to do with prompt-cache breakpoints (`--cache`).
    pub cache: CacheMode,
    /// Read plain chat lines straight from the parsed tree (the same result as through a
    /// JSON value, faster); off only to compare the two.
    #[doc(hidden)]
    pub fast: bool,
    /// How to read the inputs, and the memory budget.
    pub read: ReadOptions,
}

impl ConvertOptions {
    /// Options with the defaults: no model change, strict, no id map.
    pub fn new(inputs: Vec<Input>, to: Target, out: impl Into<PathBuf>) -> Self {
        ConvertOptions {
            inputs,
            to,
            out: out.into(),
            model: None,
            model_map: BTreeMap::new(),
            lossy: false,
            default_max_tokens: None,
            id_map: None,
            cache: CacheMode::default(),
            fast: true,
            read: ReadOptions::default(),
        }
    }
}

/// What a conversion did: serialises as the `summary` record of `batchkit convert --format
/// json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ConvertSummary {
    /// The target provider.
    pub to: String,
    /// Request lines read (blank lines excluded).
    pub lines: u64,
    /// Lines written.
    pub converted: u64,
    /// Lines left out: not JSON, not a shape convert reads, a field with no equivalent, an id
    /// the target does not accept.
    pub left_out: u64,
    /// Fields dropped by `--lossy`, by kind.
    pub dropped: BTreeMap<String, u64>,
    /// Lines given an output cap the source did not have.
    pub max_tokens_added: u64,
    /// Lines given a new id (written to the id map).
    pub ids_renamed: u64,
    /// Lines written: one per converted line, except an embedding request of several
    /// inputs toward a target that takes one per line.
    pub written: u64,
    /// Prompt-cache breakpoints dropped: toward a target that caches on its own, or by
    /// `--cache none`.
    pub breakpoints_dropped: u64,
    /// Lines given prompt-cache breakpoints by `--cache auto`.
    pub lines_cached: u64,
}

/// Errors that stop a conversion.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// An input could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The output could not be written.
    #[error("{path}: {}", batchkit_io::describe(source))]
    Io {
        /// The file.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Passing a finding on failed (the printer's output is closed).
    #[error("writing findings")]
    Report(#[source] std::io::Error),
}

impl ConvertError {
    /// The input that could not be read, when that is what stopped the conversion.
    pub fn read_error(&self) -> Option<&ReadError> {
        match self {
            ConvertError::Read(r) => Some(r),
            _ => None,
        }
    }
}

/// One line's outcome, computed in parallel.
enum LineOut {
    Blank,
    /// Converted: its bytes are the next in the chunk's output.
    Line {
        lines: u64,
        dropped: Vec<String>,
        added: bool,
        breakpoints_dropped: u64,
        renamed: Option<(String, String)>,
        /// `--cache auto`: the hashes of the line's candidate prefixes.
        hashes: Vec<u64>,
    },
    Findings(Vec<Diagnostic>),
}

/// Anthropic's id rule: 1-64 characters of `[A-Za-z0-9_-]`.
#[cfg(test)]
fn anthropic_id_ok(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A new id for `old` that every target accepts (`[A-Za-z0-9_-]`, at most 57 characters),
/// the same on every run.
fn derived_id(old: &str) -> String {
    let h = xxh64(old.as_bytes());
    let keep: String = old
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .take(40)
        .collect();
    format!("{keep}-{h:016x}")
}

/// FNV-1a, 64 bits: a stable hash for derived ids.
fn xxh64(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| {
        (h ^ u64::from(x)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn finding(code: Code, line: u64, offset: u64, id: Option<&str>, pr: &Problem) -> Diagnostic {
    let mut d = Diagnostic::at(code, Severity::Error, line, offset, pr.message.as_str());
    d.pointer = Some(pr.pointer.clone());
    d.custom_id = id.map(str::to_string);
    d
}

/// The id of a request line of any shape convert reads, and where it is.
fn source_id(value: &Value) -> (Value, &'static str) {
    for (k, at) in [
        ("custom_id", "/custom_id"),
        ("key", "/key"),
        ("recordId", "/recordId"),
    ] {
        if let Some(v) = value.get(k) {
            return (v.clone(), at);
        }
    }
    match value.pointer("/metadata/key") {
        Some(v) => (v.clone(), "/metadata/key"),
        None => (Value::Null, ""),
    }
}

/// A line as read: a plain chat request, or a JSON value.
enum Parsed {
    Chat(Value, Box<map::Chat>),
    Value(Value),
}

/// What is converted: a request already read, or a line's value.
enum Request {
    Chat(Box<map::Chat>),
    Value(Value),
}

/// Converts one line, appending its output to `buf` (one buffer for a chunk's lines).
fn convert_line(
    opts: &ConvertOptions,
    content: &[u8],
    line: u64,
    offset: u64,
    buf: &mut Vec<u8>,
) -> LineOut {
    // The one JSON engine, as every command reads a line (first of a repeated key). A plain
    // chat line is read straight from the parsed tree; any other as a JSON value.
    let parsed = batchkit_line::read(content, |root| match map::openai::read_plain(root) {
        Some((id, chat)) if opts.fast => Parsed::Chat(id, Box::new(chat)),
        _ => Parsed::Value(batchkit_line::to_serde(root)),
    });
    let parsed = match parsed {
        Ok(p) => p,
        Err(e) => return LineOut::Findings(vec![Diagnostic::syntax(line, offset, e)]),
    };
    let (input, src, id_value, id_at) = match parsed {
        Parsed::Chat(id, chat) => (Request::Chat(chat), map::Source::Chat, id, "/custom_id"),
        Parsed::Value(value) => {
            if !value.is_object() {
                let found = match &value {
                    Value::Array(_) => "an array",
                    Value::String(_) => "a string",
                    Value::Number(_) => "a number",
                    Value::Bool(_) => "a boolean",
                    _ => "null",
                };
                let message = batchkit_json::syntax::not_object(found);
                return LineOut::Findings(vec![Diagnostic::at(
                    Code::NotObject,
                    Severity::Error,
                    line,
                    offset,
                    message.as_str(),
                )]);
            }
            let src = match map::source_of(&value) {
                Ok(s) => s,
                Err(pr) => {
                    return LineOut::Findings(vec![finding(
                        Code::Unconvertible,
                        line,
                        offset,
                        None,
                        &pr,
                    )])
                }
            };
            let (id_value, id_at) = source_id(&value);
            (Request::Value(value), src, id_value, id_at)
        }
    };
    let id = id_value.as_str().map(str::to_string);
    let model = |m: &str| {
        opts.model_map
            .get(m)
            .cloned()
            .or_else(|| opts.model.clone())
    };
    let default_max = |m: &str| {
        opts.default_max_tokens
            .or_else(|| batchkit_providers::models::model_facts(m).max_output_tokens)
    };
    let cx = map::LineCtx {
        to: opts.to,
        model: &model,
        default_max_tokens: &default_max,
        lossy: opts.lossy,
        cache: opts.cache,
    };
    let mut renamed = None;
    let mut out_id = id_value.clone();
    match (opts.to.provider(), &id) {
        (Some(p), Some(i)) => {
            if let Err(why) = p.id_ok(i) {
                if opts.id_map.is_some() {
                    let new = derived_id(i);
                    out_id = Value::String(new.clone());
                    renamed = Some((new, i.clone()));
                } else {
                    let pr = Problem {
                        pointer: id_at.into(),
                        message: format!("id {i:?} {why} (give --id-map to rename)"),
                    };
                    return LineOut::Findings(vec![finding(
                        Code::InvalidCustomId,
                        line,
                        offset,
                        Some(i),
                        &pr,
                    )]);
                }
            }
        }
        (_, None) => {
            let pr = Problem {
                pointer: String::new(),
                message: format!(
                    "no id (custom_id, key or recordId): {} lines need one to be joined back",
                    opts.to.label()
                ),
            };
            return LineOut::Findings(vec![finding(Code::Unconvertible, line, offset, None, &pr)]);
        }
        _ => {}
    }
    let start = buf.len();
    let converted = match input {
        Request::Chat(chat) => map::convert_chat(*chat, &out_id, &cx, Some(&mut *buf)),
        Request::Value(value) => map::convert(value, src, &out_id, &cx),
    };
    match converted {
        Ok(c) => {
            // A line written straight to `buf` is already there.
            for v in &c.lines {
                // simd-json's writer: strings escaped with SIMD (most of a line is text).
                if simd_json::serde::to_writer(&mut *buf, v).is_err() {
                    buf.truncate(start);
                    let pr = Problem {
                        pointer: String::new(),
                        message: "the converted line could not be written".into(),
                    };
                    return LineOut::Findings(vec![finding(
                        Code::Unconvertible,
                        line,
                        offset,
                        id.as_deref(),
                        &pr,
                    )]);
                }
                buf.push(b'\n');
            }
            let hashes = if auto_cache(opts) {
                let model = (opts.to.shape == Shape::BedrockClaude)
                    .then_some(opts.model.as_deref())
                    .flatten();
                cache::prefixes(&buf[start..buf.len() - 1], model)
                    .map(|p| cache::candidates(&p))
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
            LineOut::Line {
                hashes,
                lines: if c.direct { 1 } else { c.lines.len() as u64 },
                dropped: c.dropped,
                added: c.added_max_tokens,
                breakpoints_dropped: c.breakpoints_dropped,
                renamed,
            }
        }
        Err(problems) => {
            buf.truncate(start);
            LineOut::Findings(
                problems
                    .iter()
                    .map(|pr| finding(Code::Unconvertible, line, offset, id.as_deref(), pr))
                    .collect(),
            )
        }
    }
}

/// One request line converted as [`convert`] converts it, without writing it: the line (no
/// newline), or why it is left out (the first finding's message). With `opts.id_map` set, an
/// id the target does not take is renamed as `--id-map` renames it (nothing is written):
/// what `tokens --target` prices.
pub fn convert_one(opts: &ConvertOptions, content: &[u8]) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    match convert_line(opts, content, 0, 0, &mut bytes) {
        LineOut::Line { lines: 1, .. } => {
            bytes.pop();
            Ok(bytes)
        }
        LineOut::Line { lines, .. } => Err(format!(
            "becomes {lines} lines on this target (one per embedding input), priced as none"
        )),
        LineOut::Findings(ds) => Err(ds.first().map(|d| d.message.clone()).unwrap_or_default()),
        LineOut::Blank => Err("a blank line".into()),
    }
}

fn io_err(p: &std::path::Path) -> impl Fn(std::io::Error) -> ConvertError + '_ {
    move |source| ConvertError::Io {
        path: p.display().to_string(),
        source,
    }
}

/// Where findings go: `(input name, finding)`; an error (a closed pipe) stops the conversion.
pub trait ConvertSink {
    /// One finding, in input order.
    fn finding(&mut self, file: &str, d: &Diagnostic) -> std::io::Result<()>;
}

impl<F: FnMut(&str, &Diagnostic) -> std::io::Result<()>> ConvertSink for F {
    fn finding(&mut self, file: &str, d: &Diagnostic) -> std::io::Result<()> {
        self(file, d)
    }
}

/// Whether `--cache auto` places breakpoints: toward targets that take `cache_control`.
fn auto_cache(opts: &ConvertOptions) -> bool {
    opts.cache == CacheMode::Auto
        && matches!(opts.to.shape, Shape::Anthropic | Shape::BedrockClaude)
}

/// Converts `opts.inputs` to `opts.to` into `opts.out`; see the crate docs.
pub fn convert(
    opts: &ConvertOptions,
    sink: &mut dyn ConvertSink,
) -> Result<ConvertSummary, ConvertError> {
    let mut final_out = AtomicFile::create(&opts.out).map_err(io_err(&opts.out))?;
    // `--cache auto` writes the lines to a staging file first: where breakpoints go is known
    // once every line's prefixes are counted.
    let stage = if auto_cache(opts) {
        let parent = opts.out.parent().filter(|p| !p.as_os_str().is_empty());
        let dir = batchkit_io::staging::StagedDir::new_in(parent, "convert")
            .map_err(io_err(&opts.out))?;
        let path = dir.path().join("lines.jsonl");
        let file = std::fs::File::create(&path).map_err(io_err(&path))?;
        Some((dir, path, std::io::BufWriter::new(file)))
    } else {
        None
    };
    let mut counts = cache::Counts::new(opts.read.budget.cache_prefixes());
    let (mut stage_dir, mut stage_path, mut out): (_, _, Box<dyn Write>) = match stage {
        Some((d, p, w)) => (Some(d), Some(p), Box::new(w)),
        None => (None, None, Box::new(&mut final_out)),
    };
    let mut map = match &opts.id_map {
        Some(p) => Some(AtomicFile::create(p).map_err(io_err(p))?),
        None => None,
    };
    let mut s = ConvertSummary {
        to: opts.to.provider_name().to_string(),
        ..ConvertSummary::default()
    };
    for input in &opts.inputs {
        batchkit_io::run(
            input,
            &opts.read,
            |chunk: &Chunk| -> (Vec<u8>, Vec<LineOut>) {
                // Output is about the size of the input: one buffer for the chunk.
                let mut buf = Vec::with_capacity(chunk.data.len() + chunk.data.len() / 8);
                let lines = chunk
                    .lines()
                    .map(|l| {
                        if l.is_blank() {
                            LineOut::Blank
                        } else {
                            convert_line(opts, l.content, l.number, l.offset, &mut buf)
                        }
                    })
                    .collect();
                (buf, lines)
            },
            |chunk: &Chunk, (buf, lines): (Vec<u8>, Vec<LineOut>)| -> Result<bool, ConvertError> {
                // The chunk's converted lines are `buf`, in order: one write (past the
                // output's buffer, no copy).
                out.write_all(&buf).map_err(io_err(&opts.out))?;
                if let Some(o) = chunk.oversized {
                    s.lines += 1;
                    s.left_out += 1;
                    let d = Diagnostic::at(
                        Code::LineTooLarge,
                        Severity::Error,
                        o.line,
                        o.offset,
                        format!("line is {} bytes, over --max-line-bytes", o.len),
                    );
                    sink.finding(&input.name, &d)
                        .map_err(ConvertError::Report)?;
                }
                for l in lines {
                    match l {
                        LineOut::Blank => {}
                        LineOut::Line {
                            lines,
                            dropped,
                            added,
                            breakpoints_dropped,
                            renamed,
                            hashes,
                        } => {
                            counts.add(&hashes);
                            s.lines += 1;
                            s.converted += 1;
                            s.written += lines;
                            s.breakpoints_dropped += breakpoints_dropped;
                            for k in dropped {
                                *s.dropped.entry(k).or_default() += 1;
                            }
                            if added {
                                s.max_tokens_added += 1;
                            }
                            if let (Some((new, old)), Some(m)) = (renamed, map.as_mut()) {
                                s.ids_renamed += 1;
                                let rec = serde_json::json!({"id": new, "original": old});
                                let mut b = serde_json::to_vec(&rec).unwrap_or_default();
                                b.push(b'\n');
                                let p = opts.id_map.as_deref().unwrap_or(&opts.out);
                                m.write_all(&b).map_err(io_err(p))?;
                            }
                        }
                        LineOut::Findings(ds) => {
                            s.lines += 1;
                            s.left_out += 1;
                            for d in &ds {
                                sink.finding(&input.name, d).map_err(ConvertError::Report)?;
                            }
                        }
                    }
                }
                Ok(true)
            },
        )?;
    }
    out.flush().map_err(io_err(&opts.out))?;
    drop(out);
    if let (Some(dir), Some(path)) = (stage_dir.take(), stage_path.take()) {
        use std::io::BufRead;
        let model = (opts.to.shape == Shape::BedrockClaude)
            .then_some(opts.model.as_deref())
            .flatten();
        let file = std::fs::File::open(&path).map_err(io_err(&path))?;
        for line in std::io::BufReader::new(file).split(b'\n') {
            let line = line.map_err(io_err(&path))?;
            match cache::place(&line, model, &counts) {
                Some(placed) => {
                    s.lines_cached += 1;
                    final_out.write_all(&placed).map_err(io_err(&opts.out))?;
                }
                None => final_out.write_all(&line).map_err(io_err(&opts.out))?,
            }
            final_out.write_all(b"\n").map_err(io_err(&opts.out))?;
        }
        dir.close().map_err(io_err(&path))?;
    }
    final_out.commit().map_err(io_err(&opts.out))?;
    if let (Some(m), Some(p)) = (map, &opts.id_map) {
        m.commit().map_err(io_err(p))?;
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain chat lines read straight from the tree convert to the same bytes as through a
    /// JSON value, on every target; lines with more take the general reader.
    #[test]
    fn plain_lines_read_from_the_tree_convert_as_through_a_value() {
        let lines = [
            r#"{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o","messages":[{"role":"system","content":"S\u00e9 \"q\""},{"role":"user","content":"hi 👋"},{"role":"assistant","content":"yo"},{"role":"user","content":"again\n"}],"max_tokens":7,"temperature":0.1,"top_p":1e0,"stop":["x","\t"],"seed":12345678901234,"user":"u"}}"#,
            r#"{"custom_id":"b","body":{"messages":[{"role":"developer","content":""},{"role":"user","content":"x"}],"max_completion_tokens":3,"max_tokens":9,"stop":"END","temperature":2}}"#,
            r#"{"custom_id":"c","url":"/v1/chat/completions","body":{"model":"m","model":"n","messages":[{"role":"user","content":"x"}]}}"#,
            r#"{"custom_id":"d","url":"/v1/chat/completions","body":{"model":"m","messages":[{"role":"user","content":"x","role":"assistant"}],"max_tokens":-1}}"#,
            r#"{"url":"/v1/chat/completions","custom_id":"e","custom_id":"f","body":{"model":"m","messages":[{"role":"tool","content":"x"}],"stream":false}}"#,
            r#"{"custom_id":"g","method":"POST","url":"/v1/chat/completions","body":{"model":"m","messages":[{"content":"x","role":"user"}],"max_tokens":5.0,"n":1}}"#,
            r#"{"custom_id":"h","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o","messages":[{"role":"system","content":"a"},{"role":"system","content":"b \"q\" \u00e9 \u0001"},{"role":"user","content":"x\n👋"},{"role":"assistant","content":"y"},{"role":"user","content":""}],"temperature":0.7,"top_p":0.5,"stop":["\n"]}}"#,
            r#"{"custom_id":"i\u0000/","body":{"messages":[],"max_tokens":12,"temperature":1}}"#,
        ];
        let plain: Vec<bool> = lines
            .iter()
            .map(|l| {
                batchkit_line::read(l.as_bytes(), |r| map::openai::read_plain(r).is_some()).unwrap()
            })
            .collect();
        assert_eq!(plain, [true, true, false, false, false, false, true, true]);
        // The last two are written straight to the output toward Anthropic, and toward
        // Gemini and Vertex.
        for l in &lines[6..] {
            let direct = batchkit_line::read(l.as_bytes(), |r| {
                map::openai::read_plain(r)
                    .is_some_and(|(_, c)| map::anthropic::is_plain(&c) && map::gemini::is_plain(&c))
            });
            assert_eq!(direct, Ok(true), "{l}");
        }
        let dir = std::env::temp_dir();
        for to in [
            "anthropic",
            "gemini",
            "vertex",
            "openai",
            "openai-responses",
            "bedrock",
            "bedrock-nova",
            "mistral",
        ] {
            let mut opts =
                ConvertOptions::new(Vec::new(), Target::parse(to).unwrap(), dir.join("x"));
            opts.model = Some("claude-haiku-4-5".into());
            opts.lossy = true;
            for l in lines {
                let run = |fast: bool| {
                    let mut o = opts.clone();
                    o.fast = fast;
                    let mut buf = Vec::new();
                    let r = match convert_line(&o, l.as_bytes(), 1, 0, &mut buf) {
                        LineOut::Findings(d) => format!("{d:?}"),
                        LineOut::Line { dropped, added, .. } => format!("{dropped:?} {added}"),
                        LineOut::Blank => String::new(),
                    };
                    (String::from_utf8(buf).unwrap(), r)
                };
                assert_eq!(run(true), run(false), "{to}: {l}");
            }
        }
    }

    #[test]
    fn derived_ids_are_stable_and_accepted() {
        let a = derived_id("order #42 / 2026");
        assert_eq!(a, derived_id("order #42 / 2026"));
        assert!(anthropic_id_ok(&a), "{a}");
        assert_ne!(a, derived_id("order #43 / 2026"));
        assert!(anthropic_id_ok(&derived_id(&"é".repeat(100))));
    }
}
