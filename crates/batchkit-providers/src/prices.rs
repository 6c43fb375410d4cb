//! The price table (`data/prices.toml`, embedded at build time, extended or overridden by a
//! `--pricing` file in the same format) and the one place prices become costs: the batch
//! discount, cache reads and writes at their multipliers, the 1-hour TTL.
//!
//! ```
//! use batchkit_providers::prices::{round_money, BilledTokens, PriceTable};
//! let table = PriceTable::embedded();
//! let (entry, price) = table.lookup("gpt-4o-mini-2024-07-18").unwrap();
//! assert_eq!(entry, "gpt-4o-mini");
//! let billed = BilledTokens { input: 1_000_000, output: 1_000_000, ..Default::default() };
//! assert_eq!(round_money(price.batch_price().cost(billed)), 0.375);
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::models::{normalize_model, snapshot_lookup, CacheRule};

const EMBEDDED: &str = include_str!("../data/prices.toml");

/// A 5-minute cache write costs this many times the input price (Anthropic; OpenAI from
/// GPT-5.6). Source: prices.toml `sources` (prompt-caching pages).
pub const CACHE_WRITE_5M: f64 = 1.25;
/// A 1-hour cache write costs this many times the input price (Anthropic).
pub const CACHE_WRITE_1H: f64 = 2.0;
/// A cache read costs this many times the input price (Anthropic; OpenAI's GPT-5 family),
/// on top of the batch discount.
pub const CACHE_READ: f64 = 0.1;
/// The batch price of output where the table lists only the synchronous one: the documented
/// 50% batch discount.
pub const BATCH_DISCOUNT: f64 = 0.5;

/// Prices of one model, per 1M tokens.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Synchronous input price.
    pub input: f64,
    /// Synchronous output price (none for embeddings).
    #[serde(default)]
    pub output: Option<f64>,
    /// Batch input price.
    pub batch_input: f64,
    /// Batch output price.
    #[serde(default)]
    pub batch_output: Option<f64>,
    /// Synchronous price of input read from the prompt cache.
    #[serde(default)]
    pub cached_input: Option<f64>,
    /// Batch price of input read from the prompt cache (where the provider lists one, or by
    /// its documented rule); see [`Price::batch_cache_read`] when absent.
    #[serde(default)]
    pub batch_cached_input: Option<f64>,
    /// Synchronous price of input written to the prompt cache (5-minute TTL), where writing
    /// costs more than input.
    #[serde(default)]
    pub cache_write: Option<f64>,
    /// Batch price of input written to the prompt cache.
    #[serde(default)]
    pub batch_cache_write: Option<f64>,
    /// Where the figure comes from or what it leaves out.
    #[serde(default)]
    pub note: Option<String>,
    /// Where this entry's figures come from, with dates (every entry of the embedded table
    /// has some; optional in a `--pricing` file).
    #[serde(default)]
    pub sources: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    as_of: Option<String>,
    currency: Option<String>,
    #[serde(default)]
    sources: Vec<String>,
    #[serde(default)]
    models: BTreeMap<String, Price>,
}

/// Model prices with their date and sources.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable {
    /// Date of the newest source.
    pub as_of: String,
    /// Currency of every price (`USD`).
    pub currency: String,
    /// Where the prices come from.
    pub sources: Vec<String>,
    /// `embedded`, or `embedded + PATH` after [`PriceTable::extend_from_file`].
    pub origin: String,
    /// Prices by lower-case model name.
    pub models: BTreeMap<String, Price>,
}

/// A `--pricing` file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not a valid price table.
    #[error("{path}: not a valid price table: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong, with its line when TOML gives one.
        message: String,
    },
    /// A price is negative or not a number.
    #[error("{path}: model {model:?}: prices must be finite and not negative")]
    Invalid {
        /// The file.
        path: String,
        /// The entry.
        model: String,
    },
    /// The file prices in another currency than the table it extends.
    #[error("{path}: currency {found} differs from the embedded table's {expected}")]
    Currency {
        /// The file.
        path: String,
        /// The embedded table's currency.
        expected: String,
        /// The file's.
        found: String,
    },
}

impl PriceTable {
    /// The table built into batchkit.
    pub fn embedded() -> Self {
        let table = Self::parse(EMBEDDED, "embedded").expect("the embedded price table is valid");
        PriceTable {
            origin: "embedded".into(),
            ..table
        }
    }

    /// Parses a table in the embedded table's TOML format. `name` is used in errors.
    pub fn parse(text: &str, name: &str) -> Result<Self, PriceError> {
        let file: File = toml::from_str(text).map_err(|e| PriceError::Parse {
            path: name.into(),
            message: e.to_string().trim_end().into(),
        })?;
        for (model, p) in &file.models {
            let fine = |x: f64| x.is_finite() && x >= 0.0;
            if ![
                Some(p.input),
                p.output,
                Some(p.batch_input),
                p.batch_output,
                p.cached_input,
                p.batch_cached_input,
                p.cache_write,
                p.batch_cache_write,
            ]
            .iter()
            .flatten()
            .all(|x| fine(*x))
            {
                return Err(PriceError::Invalid {
                    path: name.into(),
                    model: model.clone(),
                });
            }
        }
        Ok(PriceTable {
            as_of: file.as_of.unwrap_or_default(),
            currency: file.currency.unwrap_or_else(|| "USD".into()),
            sources: file.sources,
            origin: name.into(),
            models: file
                .models
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
        })
    }

    /// Adds the entries of the table in `path`, replacing those of the same name; its date
    /// and sources, when it gives them, replace this table's.
    pub fn extend_from_file(&mut self, path: &Path) -> Result<(), PriceError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| PriceError::Read {
            path: name.clone(),
            source,
        })?;
        let other = Self::parse(&text, &name)?;
        if other.currency != self.currency {
            return Err(PriceError::Currency {
                path: name,
                expected: self.currency.clone(),
                found: other.currency,
            });
        }
        if !other.as_of.is_empty() {
            self.as_of = other.as_of;
        }
        if !other.sources.is_empty() {
            self.sources = other.sources;
        }
        self.origin = format!("{} + {name}", self.origin);
        self.models.extend(other.models);
        Ok(())
    }

    /// The entry for `model`: the longest name that equals it or that it extends with a
    /// snapshot suffix. `gpt-4o-2024-08-06` finds `gpt-4o`; `gpt-4o-mini` does not.
    pub fn lookup(&self, model: &str) -> Option<(&str, &Price)> {
        let m = normalize_model(model);
        if let Some((k, p)) = self.models.get_key_value(&m) {
            return Some((k.as_str(), p));
        }
        snapshot_lookup(self.models.iter().map(|(k, p)| (k.as_str(), p)), &m)
    }
}

impl Price {
    /// Batch price of output: the table's `batch_output`, else the batch discount on the
    /// synchronous price; `None` for models without output (embeddings).
    pub fn batch_output_price(&self) -> Option<f64> {
        self.batch_output
            .or(self.output.map(|o| o * BATCH_DISCOUNT))
    }

    /// Batch price of a cache read: the table's `batch_cached_input`, else the family rule
    /// (source: prices.toml `sources`, the prompt-caching pages): Anthropic and OpenAI's GPT-5
    /// family 0.1x the batch input price (multipliers stack with the batch discount), Gemini
    /// the cached price (batch bills cache reads at the normal cache rate), OpenAI models
    /// before GPT-5 no discount in Batch.
    pub fn batch_cache_read(&self, rule: CacheRule, model: &str) -> f64 {
        if let Some(p) = self.batch_cached_input {
            return p;
        }
        let m = normalize_model(model);
        match rule {
            CacheRule::AnthropicCacheControl | CacheRule::OpenaiBreakpoints => {
                CACHE_READ * self.batch_input
            }
            CacheRule::OpenaiPrefix if m.starts_with("gpt-5") => CACHE_READ * self.batch_input,
            CacheRule::OpenaiPrefix => self.batch_input,
            CacheRule::GeminiImplicit => self.cached_input.unwrap_or(self.batch_input),
        }
    }

    /// Batch price of a cache write: the table's `batch_cache_write`, else 1.25x the batch
    /// input price where writes cost extra (Anthropic 5-minute TTL, OpenAI from GPT-5.6), else
    /// the batch input price (writes are free).
    pub fn batch_cache_write_price(&self, rule: CacheRule) -> f64 {
        if let Some(p) = self.batch_cache_write {
            return p;
        }
        match rule {
            CacheRule::AnthropicCacheControl | CacheRule::OpenaiBreakpoints => {
                CACHE_WRITE_5M * self.batch_input
            }
            _ => self.batch_input,
        }
    }

    /// Batch price of a 1-hour cache write (Anthropic): 2x the batch input price.
    pub fn batch_cache_write_1h_price(&self) -> f64 {
        CACHE_WRITE_1H * self.batch_input
    }

    /// The batch prices a provider bills reported usage at: cached input at the table's
    /// `batch_cached_input` (the batch input price when the entry has none), cache writes at
    /// `batch_cache_write` (1.25x input when none), 1-hour writes at 2x input.
    pub fn batch_price(&self) -> BatchPrice {
        BatchPrice {
            input: self.batch_input,
            cached_input: self.batch_cached_input,
            cache_write: self.batch_cache_write,
            cache_write_1h: Some(self.batch_cache_write_1h_price()),
            output: self.batch_output_price().unwrap_or(0.0),
        }
    }
}

/// Batch prices of one model, USD per 1M tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchPrice {
    /// Uncached input tokens.
    pub input: f64,
    /// Cached input tokens (the input price when `None`).
    pub cached_input: Option<f64>,
    /// Input tokens written to a cache with the default (5-minute) TTL; 1.25x the input
    /// price when `None`.
    pub cache_write: Option<f64>,
    /// Input tokens written with the 1-hour TTL; 2x the input price when `None`.
    pub cache_write_1h: Option<f64>,
    /// Output tokens (reasoning included).
    pub output: f64,
}

/// Tokens a provider billed for some requests of one model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BilledTokens {
    /// Input tokens, cached and written ones included.
    pub input: u64,
    /// Input tokens read from the cache.
    pub cached: u64,
    /// Input tokens written to the cache (1-hour writes included).
    pub cache_write: u64,
    /// The part of `cache_write` at the 1-hour TTL.
    pub cache_write_1h: u64,
    /// Output tokens (reasoning included).
    pub output: u64,
}

impl BatchPrice {
    /// The cost of `t`, USD, not rounded: cached input at the cached price, cache writes at
    /// the write price of their TTL, the rest of the input at the input price.
    pub fn cost(&self, t: BilledTokens) -> f64 {
        let write_1h = t.cache_write_1h.min(t.cache_write);
        let write_5m = t.cache_write - write_1h;
        let uncached = t.input.saturating_sub(t.cached + t.cache_write) as f64;
        (uncached * self.input
            + t.cached as f64 * self.cached_input.unwrap_or(self.input)
            + write_5m as f64 * self.cache_write.unwrap_or(CACHE_WRITE_5M * self.input)
            + write_1h as f64 * self.cache_write_1h.unwrap_or(CACHE_WRITE_1H * self.input)
            + t.output as f64 * self.output)
            / 1e6
    }
}

/// Input tokens read from and written to a prompt cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheTokens {
    /// Read from the cache.
    pub reads: u64,
    /// Written to it (1-hour writes included).
    pub writes: u64,
    /// The part of `writes` at the 1-hour TTL (Anthropic): 2x input.
    pub writes_1h: u64,
}

/// Batch cost of `input` tokens of which `cache.reads` come from the cache and `cache.writes`
/// are written to it, plus up to `max_output` output tokens: (low, high).
pub fn batch_cache_cost(
    price: &Price,
    rule: CacheRule,
    model: &str,
    input: u64,
    cache: CacheTokens,
    max_output: u64,
) -> (f64, f64) {
    let m = 1e6;
    let writes_1h = cache.writes_1h.min(cache.writes);
    let plain = input.saturating_sub(cache.reads + cache.writes) as f64;
    let low = plain * price.batch_input / m
        + cache.reads as f64 * price.batch_cache_read(rule, model) / m
        + (cache.writes - writes_1h) as f64 * price.batch_cache_write_price(rule) / m
        + writes_1h as f64 * price.batch_cache_write_1h_price() / m;
    let out = price.batch_output_price().unwrap_or(0.0) * max_output as f64 / m;
    (round(low), round(low + out))
}

/// Cost of a set of requests at one model's prices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Cost {
    /// Batch price of the input alone.
    pub batch_low: f64,
    /// Batch price of the input and every allowed output token.
    pub batch_high: f64,
    /// Synchronous price of the input alone.
    pub sync_low: f64,
    /// Synchronous price of the input and every allowed output token.
    pub sync_high: f64,
}

impl Cost {
    /// The cost of `input` tokens and up to `max_output` output tokens.
    pub fn of(price: &Price, input: u64, max_output: u64) -> Cost {
        let per = |tokens: u64, p: Option<f64>| p.unwrap_or(0.0) * tokens as f64 / 1e6;
        let batch_low = per(input, Some(price.batch_input));
        let sync_low = per(input, Some(price.input));
        Cost {
            batch_low: round(batch_low),
            batch_high: round(batch_low + per(max_output, price.batch_output_price())),
            sync_low: round(sync_low),
            sync_high: round(sync_low + per(max_output, price.output)),
        }
    }

    /// Sum of two costs.
    pub fn plus(self, o: Cost) -> Cost {
        Cost {
            batch_low: round(self.batch_low + o.batch_low),
            batch_high: round(self.batch_high + o.batch_high),
            sync_low: round(self.sync_low + o.sync_low),
            sync_high: round(self.sync_high + o.sync_high),
        }
    }
}

/// To a billionth of the currency unit (1e-9 USD): below what any bill shows, yet exact for
/// a single token at any listed price, and free of binary noise such as
/// 0.00007049999999999999 in the output.
pub fn round_money(x: f64) -> f64 {
    (x * 1e9).round() / 1e9
}

fn round(x: f64) -> f64 {
    round_money(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_takes_snapshots_not_siblings() {
        let t = PriceTable::embedded();
        assert_eq!(t.lookup("gpt-4o-2024-08-06").unwrap().0, "gpt-4o");
        assert_eq!(t.lookup("gpt-4o-mini-2024-07-18").unwrap().0, "gpt-4o-mini");
        assert_eq!(
            t.lookup("claude-sonnet-4-5-20250929").unwrap().0,
            "claude-sonnet-4-5"
        );
        assert_eq!(
            t.lookup("claude-opus-4-20250514").unwrap().0,
            "claude-opus-4"
        );
        assert_eq!(
            t.lookup("publishers/google/models/gemini-2.5-flash@001")
                .unwrap()
                .0,
            "gemini-2.5-flash"
        );
        assert_eq!(
            t.lookup("models/gemini-2.0-flash-001").unwrap().0,
            "gemini-2.0-flash"
        );
        assert!(
            t.lookup("gpt-4.1-nano").is_none(),
            "no entry: not gpt-4.1's price"
        );
        assert!(t.lookup("gpt-5.3").is_none());
        assert!(t.lookup("claude-opus-4-9").is_none());
        assert!(!t.as_of.is_empty() && !t.sources.is_empty());
    }

    #[test]
    fn cost_low_and_high() {
        let t = PriceTable::embedded();
        let p = t.lookup("gpt-4o-mini").unwrap().1;
        let c = Cost::of(p, 1_000_000, 2_000_000);
        assert_eq!(
            c,
            Cost {
                batch_low: 0.075,
                batch_high: 0.675,
                sync_low: 0.15,
                sync_high: 1.35
            }
        );
        let e = t.lookup("text-embedding-3-small").unwrap().1;
        assert_eq!(Cost::of(e, 3_000_000, 0).batch_high, 0.03);
    }

    #[test]
    fn money_is_rounded_to_a_billionth() {
        assert_eq!(round_money(0.00007049999999999999), 0.0000705);
        assert_eq!(
            serde_json::to_string(&round_money(0.1 + 0.2)).unwrap(),
            "0.3"
        );
        // One token of a cheap model still shows.
        let t = PriceTable::embedded();
        let p = t.lookup("gpt-4o-mini").unwrap().1;
        assert_eq!(Cost::of(p, 1, 0).batch_low, 0.000000075);
        assert_eq!(Cost::of(p, 470, 0).sync_low, 0.0000705);
    }

    #[test]
    fn price_arithmetic() {
        let p = Price {
            input: 4.0,
            output: Some(16.0),
            batch_input: 2.0,
            batch_output: None,
            cached_input: Some(0.4),
            batch_cached_input: None,
            cache_write: None,
            batch_cache_write: None,
            note: None,
            sources: Vec::new(),
        };
        // Batch output: half the synchronous price when the table lists none.
        assert_eq!(p.batch_output_price(), Some(8.0));
        // Cache reads: 0.1x batch input (Anthropic, GPT-5 family and later), the batch input
        // before GPT-5, the cached price on Gemini.
        assert_eq!(
            p.batch_cache_read(CacheRule::AnthropicCacheControl, "claude-x"),
            0.2
        );
        assert_eq!(
            p.batch_cache_read(CacheRule::OpenaiBreakpoints, "gpt-6"),
            0.2
        );
        assert_eq!(p.batch_cache_read(CacheRule::OpenaiPrefix, "gpt-5.2"), 0.2);
        assert_eq!(p.batch_cache_read(CacheRule::OpenaiPrefix, "gpt-4o"), 2.0);
        assert_eq!(
            p.batch_cache_read(CacheRule::GeminiImplicit, "gemini-2.5-pro"),
            0.4
        );
        // Cache writes: 1.25x where they cost extra, free elsewhere; 1 hour 2x.
        assert_eq!(
            p.batch_cache_write_price(CacheRule::AnthropicCacheControl),
            2.5
        );
        assert_eq!(p.batch_cache_write_price(CacheRule::OpenaiPrefix), 2.0);
        assert_eq!(p.batch_cache_write_1h_price(), 4.0);
        // Listed prices win over the rules.
        let listed = Price {
            batch_cached_input: Some(0.3),
            batch_cache_write: Some(3.0),
            batch_output: Some(7.0),
            ..p.clone()
        };
        assert_eq!(
            listed.batch_cache_read(CacheRule::AnthropicCacheControl, "c"),
            0.3
        );
        assert_eq!(
            listed.batch_cache_write_price(CacheRule::AnthropicCacheControl),
            3.0
        );
        assert_eq!(listed.batch_output_price(), Some(7.0));
        // Reported usage: 0.3M plain at 2 + 0.4M cached at 2 (no batch cached price) +
        // 0.2M 5-minute writes at 2.5 + 0.1M 1-hour writes at 4 + 0.5M output at 8.
        let t = BilledTokens {
            input: 1_000_000,
            cached: 400_000,
            cache_write: 300_000,
            cache_write_1h: 100_000,
            output: 500_000,
        };
        assert_eq!(
            round_money(p.batch_price().cost(t)),
            0.6 + 0.8 + 0.5 + 0.4 + 4.0
        );
        // Without a table entry's figures: 1.25x and 2x the input price.
        let bare = BatchPrice {
            input: 1.0,
            cached_input: Some(0.5),
            cache_write: None,
            cache_write_1h: None,
            output: 2.0,
        };
        assert_eq!(round_money(bare.cost(t)), 0.3 + 0.2 + 0.25 + 0.2 + 1.0);
        // The cost plan: the same multipliers on planned cache reads and writes.
        let cache = CacheTokens {
            reads: 400_000,
            writes: 300_000,
            writes_1h: 100_000,
        };
        let (low, high) = batch_cache_cost(
            &p,
            CacheRule::AnthropicCacheControl,
            "claude-x",
            1_000_000,
            cache,
            500_000,
        );
        assert_eq!(low, round_money(0.6 + 0.08 + 0.5 + 0.4));
        assert_eq!(high, round_money(low + 4.0));
        // Synchronous and batch, low and high.
        let c = Cost::of(&p, 1_000_000, 1_000_000);
        assert_eq!(
            (c.batch_low, c.batch_high, c.sync_low, c.sync_high),
            (2.0, 10.0, 4.0, 20.0)
        );
    }

    #[test]
    fn the_embedded_table_cites_its_sources() {
        let t = PriceTable::embedded();
        assert!(!t.sources.is_empty());
        assert!(t.sources.iter().all(|s| !s.contains("PROVIDERS.md")));
        for (m, p) in &t.models {
            assert!(!p.sources.is_empty(), "{m} has a price and no source");
            assert!(p.sources.iter().all(|s| !s.contains("PROVIDERS.md")), "{m}");
            assert!(
                p.note
                    .as_deref()
                    .is_none_or(|n| !n.contains("PROVIDERS.md")),
                "{m}"
            );
        }
    }

    #[test]
    fn files_extend_and_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.toml");
        std::fs::write(&p, "as_of = \"2027-01-01\"\n[models.\"my-ft\"]\ninput = 1.0\nbatch_input = 0.5\n[models.\"gpt-4o\"]\ninput = 9.0\nbatch_input = 9.0\n").unwrap();
        let mut t = PriceTable::embedded();
        t.extend_from_file(&p).unwrap();
        assert_eq!(t.as_of, "2027-01-01");
        assert_eq!(t.lookup("my-ft").unwrap().1.input, 1.0);
        assert_eq!(t.lookup("gpt-4o").unwrap().1.input, 9.0);
        assert!(t.lookup("gpt-4o-mini").is_some());
        std::fs::write(&p, "[models.x]\ninput = \"cheap\"\n").unwrap();
        let e = PriceTable::embedded()
            .extend_from_file(&p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("p.toml") && e.contains("line"), "{e}");
        std::fs::write(&p, "[models.x]\ninput = -1.0\nbatch_input = 1.0\n").unwrap();
        assert!(matches!(
            PriceTable::embedded().extend_from_file(&p),
            Err(PriceError::Invalid { .. })
        ));
    }
}
