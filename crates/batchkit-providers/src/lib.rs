//! Provider batch formats as data: line shape, id field and rules, allowed endpoints,
//! one-model / one-url rules and caps, each with its source. The table is
//! `data/providers.toml`, embedded at build time, so the binary needs nothing at run time.
//! Beside it, [`models`] reads `data/models.toml` (tokenizer, prompt-cache rule, output limit
//! per model) and [`prices`] reads `data/prices.toml` and turns prices into costs.
//!
//! ```
//! use batchkit_providers::{Provider, Style};
//! let openai = Provider::get("openai").unwrap();
//! assert_eq!(openai.style, Style::OpenAi);
//! assert_eq!(openai.max_requests, Some(50_000));
//! assert_eq!(openai.max_bytes, Some(209_715_200));
//! assert!(openai.url_allowed("/v1/chat/completions"));
//! assert!(openai.id_ok("request-1").is_ok());
//! assert!(Provider::get("anthropic").unwrap().id_ok("bad id!").is_err());
//! ```

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

pub mod models;
pub mod prices;
pub mod schema;
pub mod stop_reasons;

pub use models::{model_facts, normalize_model, CachePolicy, CacheRule, ModelFacts, TokenizerName};
pub use prices::{
    batch_cache_cost, round_money, BatchPrice, BilledTokens, CacheTokens, Cost, Price, PriceError,
    PriceTable,
};

/// The shape of one request line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Style {
    /// `{"custom_id","method","url","body"}` (OpenAI, Azure, Groq).
    #[serde(rename = "openai")]
    OpenAi,
    /// `{"custom_id","body"}` (Mistral, Together): endpoint and model set on the job.
    Body,
    /// `{"custom_id","params"}` (Anthropic Message Batches).
    Anthropic,
    /// `{"key","request"}` (Gemini API).
    Gemini,
    /// `{"request"}` (Vertex AI), no id.
    Vertex,
    /// `{"recordId","modelInput"}` (Amazon Bedrock batch inference): the model is set on the
    /// job, `modelInput` is the model's own request body.
    Bedrock,
    /// `{"custom_id","request"}` with an Anthropic Messages body in `request` (Claude on
    /// Vertex AI): the model is set on the job.
    #[serde(rename = "vertex_claude")]
    VertexClaude,
    /// `{"content": "..."}` (Vertex AI batch embeddings with the legacy text-embedding
    /// models): the line is the instance, no id.
    #[serde(rename = "vertex_embedding")]
    VertexEmbedding,
}

impl Style {
    /// Every shape.
    pub const ALL: [Style; 8] = [
        Style::OpenAi,
        Style::Body,
        Style::Anthropic,
        Style::Gemini,
        Style::Vertex,
        Style::Bedrock,
        Style::VertexClaude,
        Style::VertexEmbedding,
    ];

    fn index(self) -> usize {
        Style::ALL
            .iter()
            .position(|&s| s == self)
            .expect("every style is listed")
    }

    /// The shape's usual provider (`provider` in styles.toml): the name a file of this
    /// shape is reported under when nothing else tells.
    pub fn default_provider(self) -> &'static Provider {
        // Asked once a line under `--provider auto`: looked up in the table once.
        static DEFAULTS: OnceLock<Vec<&'static Provider>> = OnceLock::new();
        let all = DEFAULTS.get_or_init(|| {
            Style::ALL
                .iter()
                .map(|s| {
                    let name = &s.layout().provider;
                    Provider::get(name).unwrap_or_else(|| {
                        panic!("styles.toml: {s:?}: provider {name:?} is not in providers.toml")
                    })
                })
                .collect()
        });
        all[self.index()]
    }

    /// The providers that use this shape as their own (`style` in providers.toml), by name.
    pub fn providers(self) -> impl Iterator<Item = &'static Provider> {
        Provider::all().filter(move |p| p.style == self)
    }

    /// The rules a line of this shape is checked by under `--provider auto` when nothing in
    /// the line tells providers apart: where several providers use the shape as their own
    /// (Mistral, Together, Fireworks, Novita and OpenRouter all take `{custom_id, body}`),
    /// only what every one of them would reject ([`Provider::lenient`]), with all of them
    /// named in `candidates`; else the shape's provider. OpenAI-style lines carry their own
    /// evidence (url, model): see [`Provider::by_openai_line`].
    pub fn auto_provider(self) -> &'static Provider {
        static AUTO: OnceLock<Vec<&'static Provider>> = OnceLock::new();
        let all = AUTO.get_or_init(|| {
            Style::ALL
                .iter()
                .map(|&s| {
                    let own: Vec<&'static Provider> = s.providers().collect();
                    if s == Style::OpenAi || own.len() < 2 {
                        s.default_provider()
                    } else {
                        &*Box::leak(Box::new(Provider::lenient(s.default_provider(), &own)))
                    }
                })
                .collect()
        });
        all[self.index()]
    }

    /// Where this shape keeps its fields.
    pub fn layout(self) -> &'static Layout {
        Layout::all()
            .iter()
            .find(|l| l.name == self)
            .expect("styles.toml describes every style")
    }

    /// The fields that make up this shape, for messages (`describe` in styles.toml).
    pub fn describe(self) -> &'static str {
        &self.layout().describe
    }
}

/// A JSON pointer read once: the keys from the root, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path(pub Vec<String>);

impl Path {
    fn parse(pointer: &str) -> Path {
        let keys = pointer
            .strip_prefix('/')
            .unwrap_or(pointer)
            .split('/')
            .filter(|k| !k.is_empty())
            .map(|k| k.replace("~1", "/").replace("~0", "~"))
            .collect();
        Path(keys)
    }

    /// The pointer, as written in `styles.toml` (`/body/model`).
    pub fn pointer(&self) -> String {
        self.0.iter().map(|k| format!("/{k}")).collect()
    }

    /// The last key (`model` for `/body/model`).
    pub fn key(&self) -> &str {
        self.0.last().map_or("", String::as_str)
    }
}

impl<'de> Deserialize<'de> for Path {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if !s.starts_with('/') {
            return Err(serde::de::Error::custom(format!(
                "{s:?} is not a JSON pointer"
            )));
        }
        Ok(Path::parse(&s))
    }
}

/// Where one line shape keeps its fields (`data/styles.toml`): what every command reads
/// through batchkit-line's request model.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layout {
    /// The shape.
    pub name: Style,
    /// The provider whose rules apply when only the shape is known.
    pub provider: String,
    /// The shape for people, in messages.
    pub describe: String,
    /// Key sets that identify the shape under `--provider auto` (any set, all its keys; a
    /// key starting with `/` is a JSON pointer from the root).
    pub detect: Vec<Vec<String>>,
    /// The request id; `None` when the lines carry none (Vertex).
    pub id: Option<Path>,
    /// Where else a line of this shape may carry its id, tried in order when `id` is absent.
    #[serde(default)]
    pub also_id: Vec<Path>,
    /// The object sent to the model.
    pub payload: Path,
    /// The model, when the line names it.
    pub model: Option<Path>,
    /// The endpoint.
    pub url: Option<Path>,
    /// The HTTP method.
    pub method: Option<Path>,
    /// The conversation.
    pub messages: Option<Path>,
    /// Output caps, first present wins.
    #[serde(default)]
    pub max_output: Vec<Path>,
}

#[derive(Deserialize)]
struct Layouts {
    style: Vec<Layout>,
}

static LAYOUTS: OnceLock<Vec<Layout>> = OnceLock::new();

impl Layout {
    /// Every shape, in the order `--provider auto` tries them.
    pub fn all() -> &'static [Layout] {
        LAYOUTS.get_or_init(|| {
            let t: Layouts = toml::from_str(include_str!("../data/styles.toml"))
                .expect("embedded styles.toml is valid");
            t.style
        })
    }

    /// The shape whose `detect` keys `has` reports present, first in table order (`has` is
    /// given a key, or a JSON pointer for a key that starts with `/`).
    pub fn detect(has: impl Fn(&str) -> bool) -> Option<Style> {
        Layout::all()
            .iter()
            .find(|l| l.detect.iter().any(|set| set.iter().all(|k| has(k))))
            .map(|l| l.name)
    }
}

/// One provider's rules and caps.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    /// Key in the table (`openai`, `azure`, ...); filled in on load.
    #[serde(skip)]
    pub name: String,
    /// Display name.
    pub label: String,
    /// Line shape.
    pub style: Style,
    /// Other line shapes the provider takes (per job or per model).
    #[serde(default)]
    pub also_styles: Vec<Style>,
    /// Fewest requests a batch job takes (Bedrock); a smaller file is refused.
    pub min_requests: Option<u64>,
    /// Requests per batch file.
    pub max_requests: Option<u64>,
    /// Bytes per batch file (or per request body for Anthropic).
    pub max_bytes: Option<u64>,
    /// Bytes per line.
    pub max_line_bytes: Option<u64>,
    /// Embedding inputs per batch (array items counted).
    pub max_embedding_inputs: Option<u64>,
    /// Longest id, in characters.
    pub id_max_len: Option<usize>,
    /// Id pattern, `^[CLASS]{m,n}$` (a character class of ranges and single characters, and
    /// a length range): checked by [`Provider::id_ok`].
    pub id_pattern: Option<String>,
    /// `id_pattern`, read on load.
    #[serde(skip)]
    pub id_class: Option<IdClass>,
    /// Every line must use the same model.
    pub one_model: bool,
    /// Every line must use the same url.
    pub one_url: bool,
    /// Whether a UTF-8 BOM is an error (else a warning).
    pub bom_is_error: bool,
    /// Endpoints the batch API serves (OpenAI style); empty means not checked.
    #[serde(default)]
    pub urls: Vec<String>,
    /// Allowed `method` values; empty means only `POST` when the style has a method.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Under `--provider auto`, an OpenAI-style line whose `url` this provider serves and
    /// OpenAI does not is evidence that the file is this provider's.
    #[serde(default)]
    pub detect_by_url: bool,
    /// Model-name prefixes of this provider's own models (lower case): under `--provider
    /// auto`, one-model-per-file is enforced only while a file's models have one of them.
    #[serde(default)]
    pub model_prefixes: Vec<String>,
    /// Under `--provider auto`, an OpenAI-style line whose model has one of this provider's
    /// `model_prefixes` is evidence that the file is this provider's.
    #[serde(default)]
    pub detect_by_model: bool,
    /// The provider refuses image, audio, video and file parts.
    #[serde(default)]
    pub text_only: bool,
    /// Where the figures come from.
    pub sources: Vec<String>,
    /// For the rules `--provider auto` applies to a shape several providers use
    /// ([`Style::auto_provider`]): those providers, by name; else empty.
    #[serde(skip)]
    pub candidates: Vec<String>,
}

/// The characters and length an id may have: the `^[CLASS]{m,n}$` patterns of
/// `providers.toml`, read without a regex engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdClass {
    /// Allowed characters, as inclusive ranges.
    pub ranges: Vec<(char, char)>,
    /// Fewest characters.
    pub min: usize,
    /// Most characters.
    pub max: usize,
}

impl IdClass {
    /// Reads `^[CLASS]{m,n}$` (also `{n}`, `+`, `*`); `None` for anything else.
    pub fn parse(pattern: &str) -> Option<IdClass> {
        let body = pattern.strip_prefix("^[")?.strip_suffix('$')?;
        let close = body.find(']')?;
        let (class, rep) = (&body[..close], &body[close + 1..]);
        let chars: Vec<char> = class.chars().collect();
        let mut ranges = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            if chars[i] == '\\' || (chars[i] == '^' && i == 0) {
                return None;
            }
            if i + 2 < chars.len() && chars[i + 1] == '-' {
                if chars[i] > chars[i + 2] {
                    return None;
                }
                ranges.push((chars[i], chars[i + 2]));
                i += 3;
            } else {
                ranges.push((chars[i], chars[i]));
                i += 1;
            }
        }
        let (min, max) = match rep {
            "+" => (1, usize::MAX),
            "*" => (0, usize::MAX),
            _ => {
                let inner = rep.strip_prefix('{')?.strip_suffix('}')?;
                match inner.split_once(',') {
                    Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
                    None => {
                        let n = inner.parse().ok()?;
                        (n, n)
                    }
                }
            }
        };
        (!ranges.is_empty() && min <= max).then_some(IdClass { ranges, min, max })
    }

    /// Whether `c` is in the class.
    pub fn allows(&self, c: char) -> bool {
        self.ranges.iter().any(|&(a, b)| a <= c && c <= b)
    }

    /// The class for people: "letters, digits, '-' and '_'".
    pub fn describe(&self) -> String {
        let has = |a: char, b: char| self.ranges.contains(&(a, b));
        let mut parts = Vec::new();
        let letters = has('a', 'z') && has('A', 'Z');
        if letters {
            parts.push("letters".to_string());
        }
        for &(a, b) in &self.ranges {
            if letters && ((a, b) == ('a', 'z') || (a, b) == ('A', 'Z')) {
                continue;
            }
            if (a, b) == ('0', '9') {
                parts.push("digits".to_string());
            } else if a == b {
                parts.push(format!("{a:?}"));
            } else {
                parts.push(format!("{a:?} to {b:?}"));
            }
        }
        match parts.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            Some((last, _)) => last.clone(),
            None => String::new(),
        }
    }
}

/// Providers are equal when they have the same name (each name is listed once).
impl PartialEq for Provider {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

static TABLE: OnceLock<BTreeMap<String, Provider>> = OnceLock::new();

fn table() -> &'static BTreeMap<String, Provider> {
    TABLE.get_or_init(|| {
        let mut t: BTreeMap<String, Provider> =
            toml::from_str(include_str!("../data/providers.toml"))
                .expect("embedded providers.toml is valid");
        for (k, p) in t.iter_mut() {
            p.name = k.clone();
            p.id_class = p.id_pattern.as_deref().map(|pat| {
                IdClass::parse(pat).unwrap_or_else(|| {
                    panic!("providers.toml: {k}: unsupported id_pattern {pat:?}")
                })
            });
        }
        t
    })
}

impl Provider {
    /// A provider by its name in providers.toml (`openai`, `anthropic`, `fireworks`,
    /// `gemini-openai`, ...), in any case.
    pub fn get(name: &str) -> Option<&'static Provider> {
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            table().get(&name.to_ascii_lowercase())
        } else {
            table().get(name)
        }
    }

    /// Every provider, by name.
    pub fn all() -> impl Iterator<Item = &'static Provider> {
        table().values()
    }

    /// Names accepted by [`Provider::get`].
    pub fn names() -> Vec<&'static str> {
        table().keys().map(|k| k.as_str()).collect()
    }

    /// What `--provider` accepts, for help texts and messages: `auto`, then every provider
    /// in providers.toml by name.
    pub fn choices() -> Vec<&'static str> {
        std::iter::once("auto").chain(Provider::names()).collect()
    }

    /// [`Provider::choices`] as one line: `auto, anthropic, azure, ...`.
    pub fn choices_line() -> String {
        Provider::choices().join(", ")
    }

    /// The provider an OpenAI-style line points to by its `url` under `--provider auto`: the
    /// one marked `detect_by_url` that serves it when OpenAI does not; else OpenAI.
    pub fn by_openai_url(url: Option<&str>) -> &'static Provider {
        let openai = Style::OpenAi.default_provider();
        let Some(u) = url else {
            return openai;
        };
        if openai.url_allowed(u) {
            return openai;
        }
        Provider::all()
            .find(|p| {
                p.detect_by_url
                    && p.style == Style::OpenAi
                    && !p.urls.is_empty()
                    && p.url_allowed(u)
            })
            .unwrap_or(openai)
    }

    /// The provider an OpenAI-style line points to under `--provider auto`: by its `url`
    /// ([`Provider::by_openai_url`]), else by its model (a provider marked `detect_by_model`
    /// whose `model_prefixes` name it: `gemini-2.5-flash` is Gemini's OpenAI-compatible
    /// batch); else OpenAI.
    pub fn by_openai_line(url: Option<&str>, model: Option<&str>) -> &'static Provider {
        let by_url = Provider::by_openai_url(url);
        if by_url != Style::OpenAi.default_provider() {
            return by_url;
        }
        model
            .and_then(|m| {
                Provider::all()
                    .find(|p| p.detect_by_model && p.style == Style::OpenAi && p.names_model(m))
            })
            .unwrap_or(by_url)
    }

    /// The rules every one of `providers` would apply (all of the same shape): the larger
    /// cap (none when one has none), a rule only where all have it; named after `name` (the
    /// shape's usual provider) and labelled with every one of them.
    pub fn lenient(name: &Provider, providers: &[&Provider]) -> Provider {
        fn loosest<T: Copy + Ord>(all: impl Iterator<Item = Option<T>>, most: bool) -> Option<T> {
            let v: Option<Vec<T>> = all.collect();
            let v = v?;
            if most {
                v.into_iter().max()
            } else {
                v.into_iter().min()
            }
        }
        let every = |f: fn(&Provider) -> bool| providers.iter().all(|p| f(p));
        let union = |f: fn(&Provider) -> &Vec<String>, empty_is_any: bool| {
            if empty_is_any && providers.iter().any(|p| f(p).is_empty()) {
                return Vec::new();
            }
            let mut out: Vec<String> = Vec::new();
            for p in providers {
                for u in f(p) {
                    if !out.contains(u) {
                        out.push(u.clone());
                    }
                }
            }
            out
        };
        // No `methods` means POST only: counted as such in the union.
        let methods = if providers.iter().all(|p| p.methods.is_empty()) {
            Vec::new()
        } else {
            let mut m = vec!["POST".to_string()];
            for p in providers {
                for x in &p.methods {
                    if !m.contains(x) {
                        m.push(x.clone());
                    }
                }
            }
            m
        };
        let labels: Vec<&str> = providers.iter().map(|p| p.label.as_str()).collect();
        let label = match labels.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => labels.concat(),
        };
        let same_pattern = providers
            .iter()
            .all(|p| p.id_pattern.is_some() && p.id_pattern == providers[0].id_pattern);
        Provider {
            name: name.name.clone(),
            label,
            style: name.style,
            also_styles: Vec::new(),
            min_requests: loosest(providers.iter().map(|p| p.min_requests), false),
            max_requests: loosest(providers.iter().map(|p| p.max_requests), true),
            max_bytes: loosest(providers.iter().map(|p| p.max_bytes), true),
            max_line_bytes: loosest(providers.iter().map(|p| p.max_line_bytes), true),
            max_embedding_inputs: loosest(providers.iter().map(|p| p.max_embedding_inputs), true),
            id_max_len: loosest(providers.iter().map(|p| p.id_max_len), true),
            id_pattern: same_pattern
                .then(|| providers[0].id_pattern.clone())
                .flatten(),
            id_class: same_pattern
                .then(|| providers[0].id_class.clone())
                .flatten(),
            one_model: every(|p| p.one_model),
            one_url: every(|p| p.one_url),
            bom_is_error: every(|p| p.bom_is_error),
            urls: union(|p| &p.urls, true),
            methods,
            detect_by_url: false,
            model_prefixes: Vec::new(),
            detect_by_model: false,
            text_only: every(|p| p.text_only),
            sources: union(|p| &p.sources, false),
            candidates: providers.iter().map(|p| p.name.clone()).collect(),
        }
    }

    /// Whether lines of shape `style` are this provider's: its own shape or one of
    /// `also_styles`.
    pub fn takes(&self, style: Style) -> bool {
        self.style == style || self.also_styles.contains(&style)
    }

    /// Whether `model` starts with one of this provider's `model_prefixes` (any case).
    pub fn names_model(&self, model: &str) -> bool {
        let m = model.to_ascii_lowercase();
        self.model_prefixes
            .iter()
            .any(|p| m.starts_with(p.as_str()))
    }

    /// The field holding the request id (`custom_id`, `key`, `recordId`), if the format has
    /// one: its shape's id in `styles.toml`.
    pub fn id_field(&self) -> Option<&'static str> {
        self.style.layout().id.as_ref().map(Path::key)
    }

    /// Whether `url` is an endpoint this provider's batch API serves.
    pub fn url_allowed(&self, url: &str) -> bool {
        self.urls.is_empty() || self.urls.iter().any(|u| u == url)
    }

    /// Whether `method` is accepted.
    pub fn method_allowed(&self, method: &str) -> bool {
        if self.methods.is_empty() {
            method == "POST"
        } else {
            self.methods.iter().any(|m| m == method)
        }
    }

    /// Checks an id against the provider's rules; the error says which rule.
    pub fn id_ok(&self, id: &str) -> Result<(), String> {
        if id.is_empty() {
            return Err("is empty".into());
        }
        let chars = id.chars().count();
        if let Some(max) = self.id_max_len {
            if chars > max {
                return Err(format!(
                    "is {chars} characters long; {} allows at most {max}",
                    self.label
                ));
            }
        }
        if let Some(class) = &self.id_class {
            if let Some(bad) = id.chars().find(|&c| !class.allows(c)) {
                return Err(format!(
                    "contains {bad:?}; {} allows only {}",
                    self.label,
                    class.describe()
                ));
            }
            if chars < class.min {
                return Err(format!(
                    "is {chars} characters long; {} needs at least {}",
                    self.label, class.min
                ));
            }
            if chars > class.max {
                return Err(format!(
                    "is {chars} characters long; {} allows at most {}",
                    self.label, class.max
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_style_has_a_layout_that_agrees_with_the_providers() {
        for style in Style::ALL {
            let l = style.layout();
            // Only a legacy Vertex embedding line is its own payload.
            assert_eq!(
                l.payload.0.is_empty(),
                style == Style::VertexEmbedding,
                "{style:?}"
            );
            assert!(Provider::get(&l.provider).is_some(), "{style:?}");
            assert!(!l.describe.is_empty(), "{style:?}");
            for p in l.model.iter().chain(&l.messages).chain(&l.max_output) {
                assert!(p.0.starts_with(&l.payload.0), "{style:?}: {}", p.pointer());
            }
        }
        // A provider's id field is its shape's id: a top-level key where the shape has one.
        for p in Provider::all() {
            let want = match p.style {
                Style::Gemini => Some("key"),
                Style::Vertex => None,
                Style::Bedrock => Some("recordId"),
                Style::OpenAi | Style::Body | Style::Anthropic | Style::VertexClaude => {
                    Some("custom_id")
                }
                Style::VertexEmbedding => None,
            };
            assert_eq!(p.id_field(), want, "{}", p.name);
            let id = p.style.layout().id.as_ref();
            assert!(id.is_none_or(|i| i.0.len() == 1), "{}", p.name);
        }
        let keys = |ks: &'static [&'static str]| move |k: &str| ks.contains(&k);
        assert_eq!(
            Layout::detect(keys(&["custom_id", "url", "body"])),
            Some(Style::OpenAi)
        );
        assert_eq!(
            Layout::detect(keys(&["custom_id", "body"])),
            Some(Style::Body)
        );
        assert_eq!(
            Layout::detect(keys(&["key", "request"])),
            Some(Style::Gemini)
        );
        assert_eq!(Layout::detect(keys(&["request"])), Some(Style::Vertex));
        assert_eq!(
            Layout::detect(keys(&["recordId", "modelInput"])),
            Some(Style::Bedrock)
        );
        assert_eq!(
            Layout::detect(keys(&["custom_id", "params"])),
            Some(Style::Anthropic)
        );
        assert_eq!(Layout::detect(keys(&["custom_id"])), None);
        assert_eq!(
            Style::Gemini.layout().max_output[0].pointer(),
            "/request/generationConfig/maxOutputTokens"
        );
    }

    #[test]
    fn id_patterns_are_read_from_the_data() {
        let c = IdClass::parse("^[a-zA-Z0-9_-]{1,64}$").unwrap();
        assert!(c.allows('q') && c.allows('Z') && c.allows('7') && c.allows('-'));
        assert!(!c.allows('.') && !c.allows('é'));
        assert_eq!((c.min, c.max), (1, 64));
        assert_eq!(c.describe(), "letters, digits, '_' and '-'");
        assert_eq!(IdClass::parse("^[0-9]{3}$").unwrap().max, 3);
        assert!(IdClass::parse("^(a|b)$").is_none());
        assert!(IdClass::parse("^[z-a]+$").is_none());
        // Every pattern in providers.toml is read (a bad one panics on load).
        for p in Provider::all() {
            assert_eq!(p.id_pattern.is_some(), p.id_class.is_some(), "{}", p.name);
        }
        let anthropic = Provider::get("anthropic").unwrap();
        assert!(anthropic.id_ok("req_1-a").is_ok());
        let e = anthropic.id_ok("req.1").unwrap_err();
        assert!(e.contains("'.'") && e.contains("letters, digits"), "{e}");
        assert!(anthropic.id_ok(&"x".repeat(65)).is_err());
    }

    #[test]
    fn every_provider_loads_with_sources() {
        let names = Provider::names();
        for n in [
            "openai",
            "azure",
            "anthropic",
            "gemini",
            "vertex",
            "mistral",
            "groq",
            "together",
            "xai",
            "bedrock",
            "openai-compatible",
            "fireworks",
            "novita",
            "digitalocean",
            "parasail",
            "doubleword",
            "perplexity",
            "openrouter",
            "gemini-openai",
        ] {
            assert!(names.contains(&n), "{n} missing");
            let p = Provider::get(n).unwrap();
            assert_eq!(p.name, n);
            assert!(!p.sources.is_empty(), "{n} has no source");
        }
    }

    #[test]
    fn caps_match_the_documents() {
        let g = |n| Provider::get(n).unwrap();
        assert_eq!(
            (g("openai").max_requests, g("openai").max_bytes),
            (Some(50_000), Some(209_715_200))
        );
        assert_eq!(g("azure").max_requests, Some(100_000));
        assert_eq!(g("anthropic").max_requests, Some(100_000));
        assert_eq!(g("together").max_line_bytes, Some(10_000_000));
        assert!(g("azure").bom_is_error && !g("openai").bom_is_error);
        assert!(g("openai").one_model && g("openai").one_url && !g("groq").one_url);
    }

    #[test]
    fn more_providers() {
        let g = |n| Provider::get(n).unwrap();
        let b = g("bedrock");
        assert_eq!(b.style, Style::Bedrock);
        assert_eq!(b.id_field(), Some("recordId"));
        assert_eq!(
            (b.min_requests, b.max_requests, b.max_bytes),
            (Some(100), Some(50_000), Some(1_000_000_000))
        );
        assert_eq!(Style::Bedrock.default_provider().name, "bedrock");
        assert!(b.sources.iter().any(|s| s.contains("third-party")));
        let x = g("xai");
        assert_eq!(x.style, Style::OpenAi);
        assert_eq!(
            (x.max_requests, x.max_bytes, x.max_line_bytes),
            (Some(50_000), Some(200_000_000), Some(25_000_000))
        );
        assert!(!x.one_url && !x.one_model);
        assert!(x.url_allowed("/v1/videos/extensions") && !x.url_allowed("/v1/embeddings"));
        let c = g("OpenAI-Compatible");
        assert_eq!(
            (c.max_requests, c.max_bytes, c.max_line_bytes),
            (None, None, None)
        );
        assert!(!c.one_url && !c.one_model && c.min_requests.is_none());
        for u in [
            "/v1/score",
            "/v1/rerank",
            "/v1/audio/transcriptions",
            "/v1/chat/completions",
        ] {
            assert!(c.url_allowed(u), "{u}");
        }
        assert!(g("openai").min_requests.is_none());
    }

    #[test]
    fn choices_name_every_provider_and_auto() {
        let c = Provider::choices();
        assert_eq!(c[0], "auto");
        assert_eq!(c.len(), Provider::names().len() + 1);
        for p in Provider::all() {
            assert!(c.contains(&p.name.as_str()), "{}", p.name);
        }
        let line = Provider::choices_line();
        assert!(
            line.starts_with("auto, anthropic, azure, bedrock"),
            "{line}"
        );
    }

    #[test]
    fn urls_and_model_names_point_to_providers() {
        let by = |u| Provider::by_openai_url(u).name.as_str();
        assert_eq!(by(Some("/v1/chat/completions")), "openai");
        assert_eq!(by(Some("/chat/completions")), "azure");
        assert_eq!(by(Some("/responses")), "azure");
        assert_eq!(by(Some("/v1/audio/transcriptions")), "groq");
        assert_eq!(by(Some("/v1/audio/translations")), "groq");
        // Only providers marked for it: xAI's and vLLM's endpoints say nothing.
        assert_eq!(by(Some("/v1/videos/extensions")), "openai");
        assert_eq!(by(Some("/v1/score")), "openai");
        assert_eq!(by(Some("/v1/nothing")), "openai");
        assert_eq!(by(None), "openai");
        let openai = Provider::get("openai").unwrap();
        assert!(openai.names_model("gpt-4o-mini") && openai.names_model("O3-mini"));
        assert!(openai.names_model("text-embedding-3-small") && openai.names_model("sora-2"));
        assert!(!openai.names_model("llama-3.1-8b-instant"));
        assert!(!openai.names_model("claude-opus-4-7"));
    }

    #[test]
    fn hosts_caps_and_rules() {
        let g = |n| Provider::get(n).unwrap();
        let caps = |n| {
            let p = g(n);
            (p.style, p.max_requests, p.max_bytes, p.one_model)
        };
        assert_eq!(caps("fireworks"), (Style::Body, None, None, true));
        assert_eq!(
            caps("novita"),
            (Style::Body, Some(50_000), Some(100_000_000), true)
        );
        assert_eq!(
            caps("openrouter"),
            (Style::Body, Some(5_000), Some(200_000_000), true)
        );
        assert_eq!(
            caps("parasail"),
            (Style::OpenAi, Some(50_000), Some(104_857_600), false)
        );
        assert_eq!(
            caps("doubleword"),
            (Style::OpenAi, Some(50_000), Some(104_857_600), false)
        );
        assert_eq!(
            caps("perplexity"),
            (Style::OpenAi, Some(50_000), Some(200_000_000), false)
        );
        assert_eq!(
            caps("gemini-openai"),
            (Style::OpenAi, None, Some(2_000_000_000), true)
        );
        let d = g("digitalocean");
        assert!(d.takes(Style::Anthropic) && d.takes(Style::OpenAi) && !d.takes(Style::Body));
        assert!(d.one_url && d.url_allowed("/v1/responses") && !d.url_allowed("/v1/embeddings"));
        assert!(g("openrouter").text_only && !g("together").text_only);
        let v = g("vertex");
        assert!(v.takes(Style::VertexClaude) && v.takes(Style::VertexEmbedding));
        // Doubleword ids: 64 characters, a header value (printable ASCII).
        let dw = g("doubleword");
        assert!(dw.id_ok("a b-c_1.2").is_ok());
        assert!(dw.id_ok("tab\there").is_err() && dw.id_ok("é").is_err());
        assert!(dw.id_ok(&"x".repeat(65)).is_err());
        assert!(dw.method_allowed("post") && !dw.method_allowed("GET"));
        // By url and by model under auto.
        let by = |u, m| Provider::by_openai_line(Some(u), m).name.as_str();
        assert_eq!(by("/v1/messages", None), "doubleword");
        assert_eq!(by("/v1/agent", None), "perplexity");
        assert_eq!(
            by("/v1/chat/completions", Some("gemini-2.5-flash")),
            "gemini-openai"
        );
        assert_eq!(
            by("/v1/chat/completions", Some("models/gemini-2.0-flash")),
            "gemini-openai"
        );
        assert_eq!(by("/v1/chat/completions", Some("gpt-4o")), "openai");
        assert_eq!(by("/chat/completions", Some("gemini-2.5-flash")), "azure");
    }

    #[test]
    fn auto_checks_a_shared_shape_by_what_every_candidate_rejects() {
        let body = Style::Body.auto_provider();
        assert_eq!(
            body.candidates,
            ["fireworks", "mistral", "novita", "openrouter", "together"]
        );
        assert_eq!(body.name, "mistral");
        // Fireworks states no request or byte cap, Mistral no line or id cap: none applies.
        assert_eq!(
            (
                body.max_requests,
                body.max_bytes,
                body.max_line_bytes,
                body.id_max_len
            ),
            (None, None, None, None)
        );
        assert!(!body.one_model && !body.text_only);
        assert!(body.method_allowed("POST") && body.method_allowed("FILE"));
        assert!(body.label.contains("Together AI") && body.label.contains("Fireworks"));
        // A shape only one provider uses keeps its rules.
        for s in [
            Style::Anthropic,
            Style::Gemini,
            Style::Vertex,
            Style::Bedrock,
        ] {
            assert!(
                std::ptr::eq(s.auto_provider(), s.default_provider()),
                "{s:?}"
            );
            assert!(s.auto_provider().candidates.is_empty(), "{s:?}");
        }
        assert_eq!(Style::VertexClaude.auto_provider().name, "vertex");
        assert_eq!(Style::OpenAi.auto_provider().name, "openai");
        // Two caps: the larger; no cap anywhere: none.
        let (a, b) = (
            Provider::get("novita").unwrap(),
            Provider::get("openrouter").unwrap(),
        );
        let l = Provider::lenient(a, &[a, b]);
        assert_eq!(
            (l.max_requests, l.max_bytes),
            (Some(50_000), Some(200_000_000))
        );
        assert!(l.one_model && l.label == "Novita or OpenRouter");
    }

    #[test]
    fn id_rules() {
        let a = Provider::get("anthropic").unwrap();
        assert!(a.id_ok("req_1-A").is_ok());
        assert!(a.id_ok(&"x".repeat(64)).is_ok());
        assert!(a.id_ok(&"x".repeat(65)).is_err());
        assert!(a.id_ok("has space").is_err());
        assert!(a.id_ok("").is_err());
        let o = Provider::get("openai").unwrap();
        assert!(o.id_ok("any thing/goes").is_ok());
        assert!(Provider::get("together")
            .unwrap()
            .id_ok(&"é".repeat(64))
            .is_ok());
    }
}
