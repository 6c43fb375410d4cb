//! Provider batch formats as data: line shape, id field and rules, allowed endpoints,
//! one-model / one-url rules and caps, each with its source. The table is
//! `data/providers.toml`, embedded at build time, so the binary needs nothing at run time.
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
}

impl Style {
    /// The provider whose rules apply when only the shape is known (`--provider auto`).
    pub fn default_provider(self) -> &'static Provider {
        let name = match self {
            Style::OpenAi => "openai",
            Style::Body => "mistral",
            Style::Anthropic => "anthropic",
            Style::Gemini => "gemini",
            Style::Vertex => "vertex",
            Style::Bedrock => "bedrock",
        };
        Provider::get(name).expect("embedded table has every default provider")
    }

    /// The fields that make up this shape, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Style::OpenAi => "OpenAI-style (custom_id, method, url, body)",
            Style::Body => "body-style (custom_id, body)",
            Style::Anthropic => "Anthropic-style (custom_id, params)",
            Style::Gemini => "Gemini-style (key, request)",
            Style::Vertex => "Vertex-style (request)",
            Style::Bedrock => "Bedrock-style (recordId, modelInput)",
        }
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
    /// Field holding the request id (`custom_id`, `key`, `recordId`), if the format has one.
    pub id_field: Option<String>,
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
    /// Where the figures come from.
    pub sources: Vec<String>,
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
    /// A provider by name (`openai`, `azure`, `anthropic`, `gemini`, `vertex`, `mistral`,
    /// `groq`, `together`, `xai`, `bedrock`, `openai-compatible`).
    pub fn get(name: &str) -> Option<&'static Provider> {
        table().get(&name.to_ascii_lowercase())
    }

    /// Every provider, by name.
    pub fn all() -> impl Iterator<Item = &'static Provider> {
        table().values()
    }

    /// Names accepted by [`Provider::get`].
    pub fn names() -> Vec<&'static str> {
        table().keys().map(|k| k.as_str()).collect()
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
        assert_eq!(b.id_field.as_deref(), Some("recordId"));
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
