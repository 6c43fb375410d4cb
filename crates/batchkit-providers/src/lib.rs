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
    /// Id pattern (documentation; checked by [`Provider::id_ok`]).
    pub id_pattern: Option<String>,
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
        if self.id_pattern.is_some() {
            if let Some(bad) = id
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
            {
                return Err(format!(
                    "contains {bad:?}; {} allows only letters, digits, '-' and '_'",
                    self.label
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
