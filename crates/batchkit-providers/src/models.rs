//! Model facts as data (`data/models.toml`): whose model it is, which tokenizer counts it, how
//! its provider caches prompt prefixes, how many tokens it may write, and what it refuses (a
//! reasoning model's cap field and sampling parameters), with the providers' parameter ranges.
//! The file's header says how a model id finds its entry.
//!
//! ```
//! use batchkit_providers::models::{model_facts, CacheRule, TokenizerName};
//! let f = model_facts("claude-opus-4-7@20260416");
//! assert_eq!(f.provider, Some("anthropic"));
//! assert_eq!(f.tokenizer, TokenizerName::Estimate);
//! assert_eq!(f.text_scale, Some((13, 10)));
//! assert_eq!(f.cache.map(|c| (c.rule, c.min_tokens)), Some((CacheRule::AnthropicCacheControl, 2048)));
//! assert_eq!(f.max_output_tokens, Some(128_000));
//! assert_eq!(model_facts("gpt-4o-mini-2024-07-18").tokenizer, TokenizerName::O200kBase);
//! ```

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// How a model's provider caches prompt prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheRule {
    /// OpenAI before GPT-5.6: automatic, exact prefixes of at least 1,024 tokens, hits in
    /// 128-token steps.
    OpenaiPrefix,
    /// OpenAI from GPT-5.6: breakpoints at message ends (implicit or
    /// `prompt_cache_breakpoint`), no 128-token rounding, writes billed at 1.25x input.
    OpenaiBreakpoints,
    /// Anthropic: only at `cache_control` breakpoints; writes 1.25x input, reads 0.1x.
    AnthropicCacheControl,
    /// Gemini 2.5 and later: implicit, exact prefixes over the model's minimum (counted here in
    /// 128-token steps).
    GeminiImplicit,
}

impl CacheRule {
    /// The name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            CacheRule::OpenaiPrefix => "openai_prefix",
            CacheRule::OpenaiBreakpoints => "openai_breakpoints",
            CacheRule::AnthropicCacheControl => "anthropic_cache_control",
            CacheRule::GeminiImplicit => "gemini_implicit",
        }
    }

    /// One line for people.
    pub fn describe(self) -> &'static str {
        match self {
            CacheRule::OpenaiPrefix => {
                "automatic, exact prefixes from the minimum in 128-token steps"
            }
            CacheRule::OpenaiBreakpoints => {
                "automatic breakpoints at message ends, writes at 1.25x input"
            }
            CacheRule::AnthropicCacheControl => {
                "only up to cache_control breakpoints; writes 1.25x, reads 0.1x input"
            }
            CacheRule::GeminiImplicit => "implicit, exact prefixes from the minimum",
        }
    }
}

/// The caching rule of one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CachePolicy {
    /// The rule.
    pub rule: CacheRule,
    /// Shortest prefix cached, in tokens.
    pub min_tokens: u32,
}

/// The tokenizer a model is counted with (`tokenizer` in models.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenizerName {
    /// OpenAI's `o200k_base`.
    O200kBase,
    /// OpenAI's `o200k_harmony` (gpt-oss).
    O200kHarmony,
    /// OpenAI's `cl100k_base`.
    Cl100kBase,
    /// No public tokenizer: an estimate made with `o200k_base`.
    Estimate,
}

/// What the table knows of one model id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelFacts {
    /// Key in providers.toml of the provider that makes the model.
    pub provider: Option<&'static str>,
    /// The tokenizer; [`TokenizerName::Estimate`] for ids no entry names.
    pub tokenizer: TokenizerName,
    /// Estimated text tokens are multiplied by `num / den`, rounded up (Claude's newer
    /// tokenizer).
    pub text_scale: Option<(u64, u64)>,
    /// The prompt-cache rule and minimum; `None` when the table knows none (embeddings,
    /// DeepSeek, unknown models).
    pub cache: Option<CachePolicy>,
    /// Most output tokens the model writes, where a source gives it.
    pub max_output_tokens: Option<u64>,
    /// A reasoning model (OpenAI's o-series and GPT-5): its chat cap is `cap_field`, and it
    /// refuses the parameters in `refuses`.
    pub reasoning: bool,
    /// The chat-completions output cap field the model takes, where the table names one
    /// (`max_completion_tokens`: `max_tokens` fails).
    pub cap_field: Option<&'static str>,
    /// Request parameters the model refuses at a value other than the default
    /// (`param_default` in models.toml).
    pub refuses: &'static [String],
    /// The model takes the refused sampling parameters when the request sets reasoning
    /// effort `none` (GPT-5.1 and later).
    pub sampling_at_effort_none: bool,
}

/// The value a request parameter takes when it is absent (`[param_default]` in models.toml):
/// a model that refuses the parameter still takes it at this value.
pub fn param_default(name: &str) -> Option<f64> {
    table()
        .defaults
        .iter()
        .find(|d| d.param == name)
        .map(|d| d.value)
}

/// Where a provider fails a parameter value out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusedAt {
    /// The upload (or the batch's validation) refuses the file.
    Upload,
    /// The line fails when the batch runs.
    Run,
}

/// A provider's valid range for one request parameter (`[[param_range]]` in models.toml).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamRange {
    /// Keys in providers.toml of the providers the range holds for.
    pub providers: Vec<String>,
    /// The parameter, as the request names it in its payload.
    pub param: String,
    /// Smallest valid value.
    pub min: Option<f64>,
    /// Largest valid value.
    pub max: Option<f64>,
    /// Where a value out of range fails.
    pub refused_at: RefusedAt,
    /// Where the range is documented.
    pub sources: Vec<String>,
}

/// The ranges models.toml gives for `provider`'s request parameters.
pub fn param_ranges(provider: &str) -> impl Iterator<Item = &'static ParamRange> + '_ {
    table()
        .ranges
        .iter()
        .filter(move |r| r.providers.iter().any(|p| p == provider))
}

/// The model id without provider paths (`models/`, `publishers/google/models/`, `openai/`),
/// lower-cased: the form the price and model tables are keyed by.
pub fn normalize_model(model: &str) -> String {
    let base = model.rsplit('/').next().unwrap_or(model);
    base.trim().to_ascii_lowercase()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Family {
    name: String,
    #[serde(default)]
    exact: bool,
    #[serde(default)]
    later: bool,
    provider: Option<String>,
    tokenizer: Option<TokenizerName>,
    text_scale: Option<[u64; 2]>,
    cache: Option<CacheRule>,
    cache_min_tokens: Option<u32>,
    reasoning: Option<bool>,
    cap_field: Option<String>,
    refuses: Option<Vec<String>>,
    sampling_at_effort_none: Option<bool>,
    sources: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutputLimit {
    models: Vec<String>,
    max_output_tokens: u64,
    sources: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ParamDefault {
    param: String,
    value: f64,
    sources: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    start_at: Vec<String>,
    family: Vec<Family>,
    #[serde(default)]
    output_limit: Vec<OutputLimit>,
    #[serde(default)]
    param_default: Vec<ParamDefault>,
    #[serde(default)]
    param_range: Vec<ParamRange>,
}

/// A family entry, read once: its name in canonical form and where its version sits.
#[derive(Debug)]
struct Entry {
    family: Family,
    id: Id,
}

/// A model id split for matching: the canonical text (version separators as `.`), the length
/// of the part before the first digit, and the version numbers that follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Id {
    text: String,
    stem: usize,
    version: Vec<u32>,
}

impl Id {
    fn parse(s: &str) -> Id {
        let b = s.as_bytes();
        let Some(stem) = b.iter().position(u8::is_ascii_digit) else {
            return Id {
                text: s.to_string(),
                stem: s.len(),
                version: Vec::new(),
            };
        };
        let run = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
        let first = run(stem);
        if first > 2 {
            return Id {
                text: s.to_string(),
                stem,
                version: Vec::new(),
            };
        }
        let number = |from: usize, len: usize| s[from..from + len].parse::<u32>().unwrap_or(0);
        let mut version = vec![number(stem, first)];
        let mut text = s[..stem + first].to_string();
        let mut at = stem + first;
        // Further numbers: one or two digits after `.` or `-`, ending the name or followed
        // by a non-alphanumeric byte (`4-5-20250929`, `2.5-flash`; not `4-32k`, `4-0613`).
        while at < b.len() && (b[at] == b'.' || b[at] == b'-') {
            let len = run(at + 1);
            let end = at + 1 + len;
            let whole = b.get(end).is_none_or(|c| !c.is_ascii_alphanumeric());
            if len == 0 || len > 2 || !whole {
                break;
            }
            version.push(number(at + 1, len));
            text.push('.');
            text.push_str(&s[at + 1..end]);
            at = end;
        }
        text.push_str(&s[at..]);
        Id {
            text,
            stem,
            version,
        }
    }

    /// Whether `self` (an entry) matches `id`.
    fn matches(&self, exact: bool, later: bool, id: &Id) -> bool {
        if exact {
            return id.text == self.text;
        }
        if later
            && !id.version.is_empty()
            && id.text[..id.stem] == self.text[..self.stem]
            && id.version >= self.version
        {
            return true;
        }
        id.text.starts_with(&self.text)
            && !(self.text.as_bytes().last().is_some_and(u8::is_ascii_digit)
                && id
                    .text
                    .as_bytes()
                    .get(self.text.len())
                    .is_some_and(u8::is_ascii_digit))
    }

    /// Which of two matching entries is more specific.
    fn specificity(&self, exact: bool, other: &Id, other_exact: bool) -> Ordering {
        (exact, self.stem, &self.version, self.text.len()).cmp(&(
            other_exact,
            other.stem,
            &other.version,
            other.text.len(),
        ))
    }
}

struct Table {
    start_at: Vec<String>,
    entries: Vec<Entry>,
    limits: Vec<OutputLimit>,
    defaults: Vec<ParamDefault>,
    ranges: Vec<ParamRange>,
}

static TABLE: OnceLock<Table> = OnceLock::new();

fn table() -> &'static Table {
    TABLE.get_or_init(|| {
        let file: File = toml::from_str(include_str!("../data/models.toml"))
            .expect("embedded models.toml is valid");
        let entries = file
            .family
            .into_iter()
            .map(|family| {
                let id = Id::parse(&family.name.to_ascii_lowercase());
                Entry { family, id }
            })
            .collect();
        Table {
            start_at: file.start_at,
            entries,
            limits: file.output_limit,
            defaults: file.param_default,
            ranges: file.param_range,
        }
    })
}

/// The id as the family entries read it: normalized, `ft:BASE:...` as BASE, from the first
/// `start_at` marker.
fn family_id(model: &str, start_at: &[String]) -> Id {
    let mut m = normalize_model(model);
    if let Some(rest) = m.strip_prefix("ft:") {
        m = rest.split(':').next().unwrap_or(rest).to_string();
    }
    if let Some(at) = start_at.iter().filter_map(|s| m.find(s.as_str())).min() {
        m.drain(..at);
    }
    Id::parse(&m)
}

/// The most specific of the `matching` entries that gives the field `get` reads.
fn most_specific<'t, T>(
    matching: &[&'t Entry],
    get: impl Fn(&'t Family) -> Option<T>,
) -> Option<T> {
    matching
        .iter()
        .filter_map(|e| get(&e.family).map(|v| (e, v)))
        .max_by(|(a, _), (b, _)| a.id.specificity(a.family.exact, &b.id, b.family.exact))
        .map(|(_, v)| v)
}

fn lookup(model: &str) -> ModelFacts {
    let t = table();
    let id = family_id(model, &t.start_at);
    let matching: Vec<&Entry> = t
        .entries
        .iter()
        .filter(|e| e.id.matches(e.family.exact, e.family.later, &id))
        .collect();
    let m = &matching[..];
    let rule = most_specific(m, |f| f.cache);
    let min = most_specific(m, |f| f.cache_min_tokens);
    let normalized = normalize_model(model);
    let max_output_tokens = snapshot_lookup(
        t.limits
            .iter()
            .flat_map(|l| l.models.iter().map(move |m| (m.as_str(), l))),
        &normalized,
    )
    .map(|(_, l)| l.max_output_tokens);
    ModelFacts {
        provider: most_specific(m, |f| f.provider.as_deref()),
        tokenizer: most_specific(m, |f| f.tokenizer).unwrap_or(TokenizerName::Estimate),
        text_scale: most_specific(m, |f| f.text_scale).map(|[n, d]| (n, d)),
        cache: rule
            .zip(min)
            .map(|(rule, min_tokens)| CachePolicy { rule, min_tokens }),
        max_output_tokens,
        reasoning: most_specific(m, |f| f.reasoning).unwrap_or(false),
        cap_field: most_specific(m, |f| f.cap_field.as_deref()),
        refuses: most_specific(m, |f| f.refuses.as_deref()).unwrap_or(&[]),
        sampling_at_effort_none: most_specific(m, |f| f.sampling_at_effort_none).unwrap_or(false),
    }
}

/// Answers kept per thread (a file may name many models; each is looked up once).
const MEMO: usize = 4096;

/// What `data/models.toml` says of `model` (any case, with or without provider paths).
pub fn model_facts(model: &str) -> ModelFacts {
    thread_local! {
        static SEEN: RefCell<HashMap<Box<str>, ModelFacts>> = RefCell::new(HashMap::new());
    }
    SEEN.with(|seen| {
        let mut seen = seen.borrow_mut();
        if let Some(f) = seen.get(model) {
            return *f;
        }
        let f = lookup(model);
        if seen.len() >= MEMO {
            seen.clear();
        }
        seen.insert(model.into(), f);
        f
    })
}

/// The entry of `names` for the normalized id `m`: the name itself, else the longest name that
/// `m` extends with a snapshot suffix (`gpt-4o-2024-08-06` finds `gpt-4o`; `gpt-4o-mini` does
/// not). Names are compared lower-cased.
pub(crate) fn snapshot_lookup<'a, T>(
    names: impl Iterator<Item = (&'a str, T)>,
    m: &str,
) -> Option<(&'a str, T)> {
    let mut best: Option<(&'a str, T)> = None;
    for (k, v) in names {
        let exact = k.eq_ignore_ascii_case(m);
        let fits = exact
            || (m.len() > k.len()
                && m.is_char_boundary(k.len())
                && m[..k.len()].eq_ignore_ascii_case(k)
                && is_snapshot_suffix(&m[k.len()..]));
        if !fits {
            continue;
        }
        if exact {
            return Some((k, v));
        }
        if best.as_ref().is_none_or(|(b, _)| k.len() > b.len()) {
            best = Some((k, v));
        }
    }
    best
}

/// `-2024-08-06`, `-20250929`, `-001`, `-latest`, `@001`.
pub(crate) fn is_snapshot_suffix(s: &str) -> bool {
    if let Some(v) = s.strip_prefix('@') {
        return !v.is_empty();
    }
    let Some(s) = s.strip_prefix('-') else {
        return false;
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = s.split('-').collect();
    match parts.as_slice() {
        [x] => *x == "latest" || (digits(x) && (x.len() == 3 || x.len() == 8)),
        [y, m, d] => {
            digits(y) && y.len() == 4 && digits(m) && m.len() == 2 && digits(d) && d.len() == 2
        }
        _ => false,
    }
}

/// Every family entry's name and sources, every output limit's models and sources, and every
/// parameter range's: for tests and for people checking a figure.
pub fn sources() -> Vec<(String, &'static [String])> {
    let t = table();
    t.entries
        .iter()
        .map(|e| (e.family.name.clone(), e.family.sources.as_slice()))
        .chain(
            t.limits
                .iter()
                .map(|l| (l.models.join(", "), l.sources.as_slice())),
        )
        .chain(
            t.defaults
                .iter()
                .map(|d| (d.param.clone(), d.sources.as_slice())),
        )
        .chain(t.ranges.iter().map(|r| {
            (
                format!("{} {}", r.providers.join(", "), r.param),
                r.sources.as_slice(),
            )
        }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Provider;

    #[test]
    fn ids_split_into_stem_and_version() {
        let p = |s| {
            let id = Id::parse(s);
            (id.text.clone(), id.text[..id.stem].to_string(), id.version)
        };
        assert_eq!(
            p("claude-opus-4-7@20260416"),
            (
                "claude-opus-4.7@20260416".into(),
                "claude-opus-".into(),
                vec![4, 7]
            )
        );
        assert_eq!(p("gpt-4-32k").2, vec![4]);
        assert_eq!(p("gpt-4-0613").0, "gpt-4-0613");
        assert_eq!(
            p("claude-3-5-haiku-20241022").0,
            "claude-3.5-haiku-20241022"
        );
        assert_eq!(p("davinci-002").2, Vec::<u32>::new());
        assert_eq!(p("gemini-2.0-flash-001").2, vec![2, 0]);
        assert_eq!(p("gpt-oss-120b").1, "gpt-oss-");
    }

    #[test]
    fn the_table_loads_and_every_entry_has_a_source() {
        let t = table();
        assert!(t.entries.len() > 20 && !t.limits.is_empty());
        for (name, sources) in sources() {
            assert!(!sources.is_empty(), "{name} has no source");
            assert!(
                sources.iter().all(|s| !s.contains("PROVIDERS.md")),
                "{name}: cite the original source"
            );
        }
        for e in &t.entries {
            if let Some(p) = &e.family.provider {
                assert!(
                    Provider::get(p).is_some(),
                    "{}: unknown provider {p}",
                    e.family.name
                );
            }
            assert!(
                !(e.family.exact && e.family.later),
                "{}: exact and later",
                e.family.name
            );
            if e.family.later {
                // A later entry is a name and a version, nothing after it.
                let version: Vec<String> = e.id.version.iter().map(u32::to_string).collect();
                assert_eq!(
                    &e.id.text[e.id.stem..],
                    version.join("."),
                    "{}",
                    e.family.name
                );
            }
            if let Some([n, d]) = e.family.text_scale {
                assert!(n > 0 && d > 0, "{}", e.family.name);
            }
        }
        // Each output limit names a model once.
        let mut names: Vec<&str> = t
            .limits
            .iter()
            .flat_map(|l| l.models.iter().map(String::as_str))
            .collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "a model has two output limits");
    }

    #[test]
    fn output_limits_follow_snapshots_not_siblings() {
        let out = |m| model_facts(m).max_output_tokens;
        assert_eq!(out("gpt-4o-2024-08-06"), Some(16_384));
        assert_eq!(out("claude-opus-4-20250514"), Some(32_000));
        assert_eq!(out("claude-sonnet-4-5-20250929"), Some(64_000));
        assert_eq!(out("models/gemini-2.5-flash"), Some(65_536));
        assert_eq!(out("gpt-4.1-nano"), None);
        assert_eq!(out("gpt-5-mini"), None);
        assert_eq!(out("claude-opus-4-5"), None);
    }

    #[test]
    fn reasoning_models_and_what_they_refuse() {
        let f = model_facts;
        for m in [
            "o1",
            "o3-mini",
            "o4-mini-2025-04-16",
            "gpt-5",
            "gpt-5-mini",
            "gpt-5.2",
        ] {
            assert!(f(m).reasoning, "{m}");
            assert_eq!(f(m).cap_field, Some("max_completion_tokens"), "{m}");
            assert!(f(m).refuses.iter().any(|p| p == "temperature"), "{m}");
        }
        for m in [
            "gpt-4o",
            "gpt-4.1-mini",
            "gpt-5-chat-latest",
            "gpt-5.1-chat-latest",
        ] {
            assert!(!f(m).reasoning, "{m}");
            assert!(f(m).refuses.is_empty(), "{m}");
        }
        assert!(!f("gpt-5").sampling_at_effort_none);
        assert!(f("gpt-5.2").sampling_at_effort_none);
        assert!(f("claude-opus-4-7").refuses.iter().any(|p| p == "top_k"));
        assert!(f("claude-sonnet-5-5")
            .refuses
            .iter()
            .any(|p| p == "temperature"));
        assert!(f("claude-sonnet-4-5").refuses.is_empty());
        assert_eq!(param_default("temperature"), Some(1.0));
        let mistral: Vec<_> = param_ranges("mistral").map(|r| r.param.as_str()).collect();
        assert!(mistral.contains(&"temperature") && mistral.contains(&"max_tokens"));
    }
}
