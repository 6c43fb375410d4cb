//! Running totals of a count, per model, and their priced summary.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cache::{
    BreakpointHint, CachePolicy, CacheRule, ModelCache, PrefixTable, Prefixes, SharedPrefix,
    DEFAULT_TABLE_SLOTS,
};
use crate::encoding::Encoding;
use crate::prices::{batch_cache_cost, round_money, CacheTokens, Cost, PriceTable};
use crate::request::RequestCount;
use crate::targets::{cheapest_first, FileCut, Target, TargetLine, TargetSummary, TargetTotals};
use crate::{Diagnostic, Severity};
use batchkit_line::RequestLine;
use batchkit_providers::{Provider, Style};

/// Per-model entries kept by default; requests of further models are summed as [`OTHER_MODELS`].
pub const DEFAULT_MAX_MODELS: usize = 1000;

/// The model name under which requests of models past the cap are summed.
pub const OTHER_MODELS: &str = "(other)";

/// Token counts below this are kept exactly in the per-model histogram; above, in buckets of
/// 1/32 of their power of two, so a histogram never has more than about 1,500 entries.
const EXACT_BELOW: u64 = 1024;
const SUB_BITS: u32 = 5;

/// What has been counted so far, over one or several inputs.
///
/// Memory is bounded whatever the input: at most `max_models` per-model entries (further
/// models are summed as [`OTHER_MODELS`]) plus one, each with a bounded histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct Totals {
    /// Inputs given (read or not).
    pub files: u64,
    /// Inputs that could not be read.
    pub unreadable: u64,
    /// Lines read.
    pub lines: u64,
    /// Bytes read (decompressed).
    pub bytes: u64,
    /// Lines counted as requests.
    pub requests: u64,
    /// Lines that could not be counted.
    pub errors: u64,
    /// Lines skipped with a remark (blank lines).
    pub warnings: u64,
    /// Requests summed under [`OTHER_MODELS`] because `max_models` models were already kept.
    pub aggregated_requests: u64,
    max_models: usize,
    models: BTreeMap<Option<String>, ModelTotals>,
    /// Prefix hashes of the cache plan (bounded; allocated on first use).
    table: PrefixTable,
    /// Whether some request was given to the cache plan.
    planned: bool,
    /// The file counted again for each `--target` ([`crate::Options::targets`]).
    pub targets: Vec<TargetTotals>,
    /// The provider the file's own lines are for (by their shape, url and model), once a
    /// line was seen with targets to compare to.
    own_provider: Option<&'static Provider>,
    /// The file's own lines cut under that provider's caps.
    own_cut: FileCut,
}

impl Default for Totals {
    fn default() -> Self {
        Totals::with_max_models(DEFAULT_MAX_MODELS)
    }
}

#[derive(Debug, Clone, PartialEq)]
struct ModelTotals {
    encoding: Encoding,
    requests: u64,
    exact_requests: u64,
    input_tokens: u64,
    max_output_tokens: u64,
    without_max_output: u64,
    /// Requests with no text input to count (audio transcriptions): in `requests`, not in
    /// the token figures (input, percentiles, output limits).
    without_text_input: u64,
    /// Largest input count.
    max: u64,
    /// Input tokens (bucketed, see [`bucket`]) → number of requests: percentiles exact below
    /// 1,024 tokens and within 1/32 above, in memory bounded by the number of buckets.
    histogram: BTreeMap<u64, u64>,
    /// The cache plan's figures (bounded top lists).
    cache: ModelCache,
}

/// The histogram key of `v`: itself below [`EXACT_BELOW`], else the low end of its bucket.
fn bucket(v: u64) -> u64 {
    if v < EXACT_BELOW {
        return v;
    }
    let shift = (63 - v.leading_zeros()) - SUB_BITS;
    (v >> shift) << shift
}

/// The high end of the bucket whose low end is `key`.
fn bucket_top(key: u64) -> u64 {
    if key < EXACT_BELOW {
        return key;
    }
    let shift = (63 - key.leading_zeros()) - SUB_BITS;
    key | ((1u64 << shift) - 1)
}

impl Totals {
    /// Empty totals keeping at most `max_models` per-model entries (at least one).
    pub fn with_max_models(max_models: usize) -> Self {
        Totals {
            files: 0,
            unreadable: 0,
            lines: 0,
            bytes: 0,
            requests: 0,
            errors: 0,
            warnings: 0,
            aggregated_requests: 0,
            max_models: max_models.max(1),
            models: BTreeMap::new(),
            table: PrefixTable::default(),
            planned: false,
            targets: Vec::new(),
            own_provider: None,
            own_cut: FileCut::default(),
        }
    }

    /// Sets up the totals of `targets` (once, on the first input): the prefix tables of the
    /// file's own plan and every target's share the budget's tables part.
    pub(crate) fn start_targets(&mut self, targets: &[Target], budget: &batchkit_io::Budget) {
        if targets.is_empty() || !self.targets.is_empty() {
            return;
        }
        let share = budget.tables() / 16 / (targets.len() as u64 + 1);
        let slots = if share >= DEFAULT_TABLE_SLOTS as u64 {
            DEFAULT_TABLE_SLOTS
        } else {
            // A power of two no larger than the share (at least the table's minimum).
            1usize << (63 - share.max(64).leading_zeros())
        };
        if self.requests == 0 {
            self.table = PrefixTable::with_slots(slots);
        }
        self.targets = targets
            .iter()
            .map(|t| TargetTotals::new(t, slots))
            .collect();
    }

    /// Finds the provider of the file's own lines in `chunk`, until one is found.
    pub(crate) fn own_provider_from(&mut self, chunk: &batchkit_io::Chunk) {
        if self.own_provider.is_some() {
            return;
        }
        for l in chunk.lines().filter(|l| !l.is_blank()) {
            if let Some(p) = provider_of(l.content) {
                self.own_provider = Some(p);
                self.own_cut = FileCut::of(Some(p));
                return;
            }
        }
    }

    /// Adds one counted line's length (`len`, its newline included) to the file's own cut and
    /// its counts for every target.
    pub(crate) fn add_targets(&mut self, counts: Vec<TargetLine>, len: u64, file: &str, line: u64) {
        if self.targets.is_empty() {
            return;
        }
        self.own_cut.add(len);
        for (t, c) in self.targets.iter_mut().zip(counts) {
            t.add(c, file, line);
        }
    }

    /// The file's own provider and model (the first record) and every target, priced with
    /// `prices`, cheapest first after the file's own; `own` is this file's [`Totals::summary`].
    /// Empty without targets.
    pub fn target_summaries(&self, prices: &PriceTable, own: &Summary) -> Vec<TargetSummary> {
        if self.targets.is_empty() {
            return Vec::new();
        }
        let provider = self.own_provider.map_or("(unknown)", |p| p.name.as_str());
        let model = match own.models.as_slice() {
            [one] => one.model.clone().unwrap_or_else(|| "(no model)".into()),
            many => format!("({} models)", many.len()),
        };
        let mut out = vec![TargetSummary {
            target: format!("{provider}/{model}"),
            provider: provider.to_string(),
            model,
            own: true,
            requests: own.requests,
            input_tokens: own.input_tokens,
            exact: own.exact,
            max_output_tokens: own.max_output_tokens,
            cost: own.cost,
            cache_rule: own.cache.as_ref().and_then(|c| c.rule),
            cacheable_input_tokens: own.cache.as_ref().map(|c| c.cacheable_input_tokens),
            cache_breakpoints_added: false,
            bytes: own.bytes,
            files: self.own_cut.files,
            left_out: 0,
        }];
        out.extend(self.targets.iter().map(|t| t.summary(prices)));
        cheapest_first(&mut out);
        out
    }

    /// Uses a prefix table of `slots` slots (16 bytes each) for the cache plan.
    pub fn set_prefix_table_slots(&mut self, slots: usize) {
        self.table = PrefixTable::with_slots(slots);
    }

    /// Adds one request's cache-prefix boundaries (after [`Totals::add`] of its count):
    /// looked up against the earlier requests' in input order.
    pub fn add_prefixes(&mut self, r: &RequestCount, p: &Prefixes, file: &str, line: u64) {
        self.planned = true;
        let key = if self.models.contains_key(&r.model) {
            r.model.clone()
        } else {
            Some(OTHER_MODELS.to_string())
        };
        if let Some(m) = self.models.get_mut(&key) {
            m.cache.add(&mut self.table, p, file, line);
        }
    }

    /// The cap on per-model entries.
    pub fn max_models(&self) -> usize {
        self.max_models
    }

    /// Changes the cap; models already kept stay.
    pub fn set_max_models(&mut self, max_models: usize) {
        self.max_models = max_models.max(1);
    }

    /// Adds one line's outcome.
    pub fn add(&mut self, result: &Result<RequestCount, Diagnostic>) {
        let r = match result {
            Ok(r) => r,
            Err(p) => {
                match p.severity {
                    Severity::Error => self.errors += 1,
                    Severity::Warning => self.warnings += 1,
                }
                return;
            }
        };
        self.requests += 1;
        let kept = self.models.contains_key(&r.model);
        let key = if kept || self.models.len() < self.max_models {
            r.model.clone()
        } else {
            self.aggregated_requests += 1;
            Some(OTHER_MODELS.to_string())
        };
        let m = self.models.entry(key).or_insert_with(|| ModelTotals {
            encoding: r.encoding,
            requests: 0,
            exact_requests: 0,
            input_tokens: 0,
            max_output_tokens: 0,
            without_max_output: 0,
            without_text_input: 0,
            max: 0,
            histogram: BTreeMap::new(),
            cache: ModelCache::default(),
        });
        m.requests += 1;
        m.exact_requests += u64::from(r.exact);
        // No text input (speech to text, billed by audio length): no token figures at all,
        // not even a missing output limit.
        let Some(input) = r.input_tokens else {
            m.without_text_input += 1;
            return;
        };
        match r.max_output_tokens {
            Some(n) => m.max_output_tokens += n,
            None => m.without_max_output += 1,
        }
        m.input_tokens += input;
        m.max = m.max.max(input);
        *m.histogram.entry(bucket(input)).or_default() += 1;
    }

    /// Input tokens counted so far, over all models.
    pub fn input_tokens(&self) -> u64 {
        self.models.values().map(|m| m.input_tokens).sum()
    }

    /// The totals per model, priced with `prices`.
    pub fn summary(&self, prices: &PriceTable) -> Summary {
        let mut models = Vec::new();
        let mut cost: Option<Cost> = None;
        let mut unpriced = Vec::new();
        for (name, m) in &self.models {
            let entry = name.as_deref().and_then(|n| prices.lookup(n));
            let model_cost = entry.map(|(_, p)| Cost::of(p, m.input_tokens, m.max_output_tokens));
            let cache = self.planned.then(|| {
                plan_of(
                    name.as_deref().unwrap_or(""),
                    m,
                    entry.map(|(_, p)| p),
                    model_cost,
                    self.table.approximate,
                )
            });
            let counted = m.requests - m.without_text_input;
            let planned_cost = model_cost.map(|c| PlannedCost::new(c, cache.as_ref()));
            match model_cost {
                Some(c) => cost = Some(cost.unwrap_or_default().plus(c)),
                // A model with no text input (speech to text) has no token price to miss.
                None if counted == 0 => {}
                None => unpriced.push(name.clone().unwrap_or_else(|| "(no model)".into())),
            }
            models.push(ModelSummary {
                model: name.clone(),
                encoding: m.encoding,
                exact: m.exact_requests == m.requests,
                requests: m.requests,
                estimated_requests: m.requests - m.exact_requests,
                input_tokens: m.input_tokens,
                max_output_tokens: m.max_output_tokens,
                requests_without_max_output: m.without_max_output,
                requests_without_text_input: m.without_text_input,
                p50: percentile(&m.histogram, counted, 50).min(m.max),
                p95: percentile(&m.histogram, counted, 95).min(m.max),
                max: m.max,
                price_entry: entry.map(|(k, _)| k.to_string()),
                cost: planned_cost,
                cache,
            });
        }
        let cache = self
            .planned
            .then(|| total_plan(&models, self.table.approximate));
        Summary {
            files: self.files,
            lines: self.lines,
            bytes: self.bytes,
            requests: self.requests,
            errors: self.errors,
            warnings: self.warnings,
            input_tokens: self.input_tokens(),
            max_output_tokens: models.iter().map(|m| m.max_output_tokens).sum(),
            requests_without_max_output: models.iter().map(|m| m.requests_without_max_output).sum(),
            requests_without_text_input: models.iter().map(|m| m.requests_without_text_input).sum(),
            exact: models.iter().all(|m| m.exact),
            ok: self.errors == 0 && self.unreadable == 0,
            aggregated_requests: self.aggregated_requests,
            max_models: self.max_models,
            cost: cost.map(|c| PlannedCost::new(c, cache.as_ref())),
            cost_incomplete: !unpriced.is_empty(),
            unpriced_models: unpriced,
            cache,
            queue: None,
            models,
            targets: Vec::new(),
            prices: PricesUsed {
                as_of: prices.as_of.clone(),
                currency: prices.currency.clone(),
                origin: prices.origin.clone(),
                sources: prices.sources.clone(),
            },
        }
    }
}

/// The cost plan of one model.
fn plan_of(
    name: &str,
    m: &ModelTotals,
    price: Option<&crate::prices::Price>,
    cost: Option<Cost>,
    approximate: bool,
) -> CachePlan {
    let c = &m.cache;
    let rule = c.policy.map(|p| p.rule);
    let anthropic = rule == Some(CacheRule::AnthropicCacheControl);
    let no_breakpoints = anthropic && c.requests_with_breakpoints == 0;
    let priced = |cache: CacheTokens| match (price, rule) {
        (Some(p), Some(rule)) => Some(batch_cache_cost(
            p,
            rule,
            name,
            m.input_tokens,
            cache,
            m.max_output_tokens,
        )),
        _ => cost.map(|c| (c.batch_low, c.batch_high)),
    };
    let all = priced(CacheTokens {
        reads: c.cacheable_input_tokens,
        writes: c.cache_write_tokens,
        writes_1h: c.cache_write_1h_tokens,
    });
    let none = priced(CacheTokens {
        reads: 0,
        writes: c.cache_write_tokens_no_hits,
        writes_1h: c.cache_write_1h_tokens_no_hits,
    });
    // A suggested breakpoint is priced at the default 5-minute TTL.
    let potential = anthropic.then(|| {
        priced(CacheTokens {
            reads: c.potential_cacheable_input_tokens,
            writes: c.potential_cache_write_tokens,
            writes_1h: 0,
        })
    });
    let hint = anthropic
        .then(|| c.best_hint())
        .flatten()
        .filter(|_| c.potential_cacheable_input_tokens > c.cacheable_input_tokens)
        .cloned();
    let exact = !approximate
        && m.exact_requests == m.requests
        && matches!(rule, Some(CacheRule::OpenaiPrefix) | None);
    let mut plan = CachePlan {
        rule: rule.map(CacheRule::name),
        exact,
        minimum_tokens: c.policy.map(|p| p.min_tokens),
        cacheable_input_tokens: c.cacheable_input_tokens,
        cache_write_tokens: c.cache_write_tokens,
        cache_write_1h_tokens: c.cache_write_1h_tokens,
        shared_prefixes: SharedPrefixes {
            count: c.shared_prefixes,
            longest: c.longest_sorted(),
        },
        batch_cache_low: all.map(|x| x.0),
        batch_cache_high: all.map(|x| x.1),
        batch_cache_no_hits_low: none.map(|x| x.0),
        requests_with_breakpoints: anthropic.then_some(c.requests_with_breakpoints),
        potential_cacheable_input_tokens: anthropic.then_some(c.potential_cacheable_input_tokens),
        potential_batch_cache_low: potential.flatten().map(|x| x.0),
        breakpoint: hint,
        requests_under_minimum: c.requests_under_minimum,
        longest_under_minimum: c.longest_under_minimum,
        requests_with_shared_content_not_first: c.requests_with_shared_content_not_first,
        shared_content_not_first_tokens: c.shared_content_not_first_tokens,
        advice: None,
        suggestion: None,
        policy: c.policy,
    };
    plan.suggestion = advice(name, &plan, price, no_breakpoints);
    plan
}

/// A cheaper arrangement, when there is one.
fn advice(
    name: &str,
    p: &CachePlan,
    price: Option<&crate::prices::Price>,
    no_breakpoints: bool,
) -> Option<Advice> {
    let policy = p.policy?;
    if policy.rule == CacheRule::OpenaiPrefix && p.cacheable_input_tokens > 0 {
        if let Some(price) = price {
            if price.batch_cache_read(policy.rule, name) >= price.batch_input {
                return Some(Advice::NoBatchCacheDiscount {
                    model: name.to_string(),
                    tokens: p.cacheable_input_tokens,
                });
            }
        }
    }
    if let Some(h) = &p.breakpoint {
        let saving = match (p.potential_batch_cache_low, p.batch_cache_low) {
            (Some(a), Some(b)) if b > a => Some(b - a),
            _ => None,
        };
        return Some(Advice::Breakpoint {
            add: no_breakpoints,
            hint: h.clone(),
            saving,
        });
    }
    if p.requests_with_shared_content_not_first > 0 {
        return Some(Advice::SharedContentNotFirst {
            requests: p.requests_with_shared_content_not_first,
            tokens: p.shared_content_not_first_tokens,
        });
    }
    if p.requests_under_minimum > 0 {
        return Some(Advice::UnderMinimum {
            requests: p.requests_under_minimum,
            longest: p.longest_under_minimum,
            minimum: u64::from(policy.min_tokens),
        });
    }
    None
}

/// A cheaper arrangement of the requests than the one the file has (the report crate's
/// printers word it).
#[derive(Debug, Clone, PartialEq)]
pub enum Advice {
    /// `model` gets no prompt-cache discount in Batch: its `tokens` shared-prefix tokens
    /// would bill at 10% of the batch input price on a GPT-5-family model.
    NoBatchCacheDiscount {
        /// The model.
        model: String,
        /// Its cacheable input tokens.
        tokens: u64,
    },
    /// Put a `cache_control` breakpoint at the end of the shared prefix `hint` names: `add`
    /// one (the requests have none), or move the one there is.
    Breakpoint {
        /// The requests have no breakpoint.
        add: bool,
        /// Where.
        hint: BreakpointHint,
        /// What it saves in batch, when priced.
        saving: Option<f64>,
    },
    /// `requests` requests repeat a long block (`tokens` in all) after content that differs:
    /// put the shared part first so it is a cached prefix.
    SharedContentNotFirst {
        /// Requests.
        requests: u64,
        /// Tokens of the repeated blocks.
        tokens: u64,
    },
    /// `requests` requests share a prefix of about `longest` tokens, under the model's
    /// `minimum`: none of it is cached.
    UnderMinimum {
        /// Requests.
        requests: u64,
        /// The longest such prefix, in tokens.
        longest: u64,
        /// The model's minimum cacheable prefix.
        minimum: u64,
    },
}

/// The plan over every model.
fn total_plan(models: &[ModelSummary], approximate: bool) -> CachePlan {
    let plans: Vec<&CachePlan> = models.iter().filter_map(|m| m.cache.as_ref()).collect();
    let mut rules: Vec<&str> = plans.iter().filter_map(|p| p.rule).collect();
    rules.dedup();
    let rule = match rules.as_slice() {
        [] => None,
        [one] => Some(*one),
        _ if rules.iter().all(|r| *r == rules[0]) => Some(rules[0]),
        _ => Some("mixed"),
    };
    let sum = |f: fn(&CachePlan) -> u64| plans.iter().map(|p| f(p)).sum::<u64>();
    let money = |f: fn(&CachePlan) -> Option<f64>| {
        let v: Vec<f64> = plans.iter().filter_map(|p| f(p)).collect();
        (!v.is_empty()).then(|| round_money(v.iter().sum()))
    };
    let mut longest: Vec<SharedPrefix> = plans
        .iter()
        .flat_map(|p| p.shared_prefixes.longest.iter().cloned())
        .collect();
    longest.sort_by_key(|s| (std::cmp::Reverse(s.tokens), std::cmp::Reverse(s.requests)));
    longest.truncate(5);
    let anthropic = plans
        .iter()
        .any(|p| p.potential_cacheable_input_tokens.is_some());
    CachePlan {
        rule,
        exact: !approximate && plans.iter().all(|p| p.exact),
        minimum_tokens: None,
        cacheable_input_tokens: sum(|p| p.cacheable_input_tokens),
        cache_write_tokens: sum(|p| p.cache_write_tokens),
        cache_write_1h_tokens: sum(|p| p.cache_write_1h_tokens),
        shared_prefixes: SharedPrefixes {
            count: sum(|p| p.shared_prefixes.count),
            longest,
        },
        batch_cache_low: money(|p| p.batch_cache_low),
        batch_cache_high: money(|p| p.batch_cache_high),
        batch_cache_no_hits_low: money(|p| p.batch_cache_no_hits_low),
        requests_with_breakpoints: anthropic
            .then(|| sum(|p| p.requests_with_breakpoints.unwrap_or(0))),
        potential_cacheable_input_tokens: anthropic.then(|| {
            plans
                .iter()
                .map(|p| {
                    p.potential_cacheable_input_tokens
                        .unwrap_or(p.cacheable_input_tokens)
                })
                .sum()
        }),
        potential_batch_cache_low: anthropic.then(|| {
            let v: Vec<f64> = plans
                .iter()
                .filter_map(|p| p.potential_batch_cache_low.or(p.batch_cache_low))
                .collect();
            round_money(v.iter().sum())
        }),
        breakpoint: None,
        requests_under_minimum: sum(|p| p.requests_under_minimum),
        longest_under_minimum: plans
            .iter()
            .map(|p| p.longest_under_minimum)
            .max()
            .unwrap_or(0),
        requests_with_shared_content_not_first: sum(|p| p.requests_with_shared_content_not_first),
        shared_content_not_first_tokens: sum(|p| p.shared_content_not_first_tokens),
        advice: None,
        suggestion: None,
        policy: None,
    }
}

/// Distinct shared prefixes and the longest ones.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SharedPrefixes {
    /// Distinct prefixes read by at least one request.
    pub count: u64,
    /// The longest, longest first (at most 5).
    pub longest: Vec<SharedPrefix>,
}

/// The prompt-cache plan of a model, or of the whole file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CachePlan {
    /// The caching rule (`openai_prefix`, `openai_breakpoints`, `anthropic_cache_control`,
    /// `gemini_implicit`; `mixed` in the total), `None` when the model's batch lane has no
    /// cache this plan knows.
    pub rule: Option<&'static str>,
    /// Whether the figures are exact: exact token counts, a rule modelled exactly (OpenAI's
    /// 128-token prefixes) and a prefix table that held every prefix.
    pub exact: bool,
    /// The model's minimum cacheable prefix.
    pub minimum_tokens: Option<u32>,
    /// Input tokens read from the cache if every request after the first with the same
    /// prefix hits.
    pub cacheable_input_tokens: u64,
    /// Input tokens written to the cache at a write price (Anthropic breakpoints, OpenAI from
    /// GPT-5.6), with those hits.
    pub cache_write_tokens: u64,
    /// The part of `cache_write_tokens` written at 1-hour breakpoints (Anthropic
    /// `"ttl":"1h"`, 2x input instead of 1.25x).
    pub cache_write_1h_tokens: u64,
    /// Distinct shared prefixes.
    pub shared_prefixes: SharedPrefixes,
    /// Batch cost with every possible hit: input only.
    pub batch_cache_low: Option<f64>,
    /// Batch cost with every possible hit: input and every allowed output token.
    pub batch_cache_high: Option<f64>,
    /// Batch cost of the input with no hit at all (writes still billed).
    pub batch_cache_no_hits_low: Option<f64>,
    /// Anthropic: requests with at least one `cache_control` breakpoint.
    pub requests_with_breakpoints: Option<u64>,
    /// Anthropic: input tokens breakpoints at the ends of the shared prefixes would read.
    pub potential_cacheable_input_tokens: Option<u64>,
    /// Anthropic: batch cost of the input with those breakpoints.
    pub potential_batch_cache_low: Option<f64>,
    /// Anthropic: where to put a breakpoint (line and JSON pointer of the end of the shared
    /// prefix that would read the most).
    pub breakpoint: Option<BreakpointHint>,
    /// Requests whose longest shared prefix is under the minimum.
    pub requests_under_minimum: u64,
    /// The longest such prefix, in tokens.
    pub longest_under_minimum: u64,
    /// Requests repeating a long earlier block outside their cached prefix.
    pub requests_with_shared_content_not_first: u64,
    /// Tokens of those blocks.
    pub shared_content_not_first_tokens: u64,
    /// One line on a cheaper arrangement, in words: `None` here, the printer words
    /// `suggestion` into it.
    pub advice: Option<String>,
    /// A cheaper arrangement, when there is one.
    #[serde(skip)]
    pub suggestion: Option<Advice>,
    #[serde(skip)]
    policy: Option<CachePolicy>,
}

/// Nearest-rank percentile: the smallest count that at least `pct`% of requests do not exceed
/// (above 1,024 tokens, the top of its bucket: never under the true value).
fn percentile(hist: &BTreeMap<u64, u64>, n: u64, pct: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    let rank = (n * pct).div_ceil(100).max(1);
    let mut seen = 0;
    for (&value, &count) in hist {
        seen += count;
        if seen >= rank {
            return bucket_top(value);
        }
    }
    0
}

/// A cost and, when the cost plan was made, the batch cost with every possible prompt-cache
/// hit (serialized as the cost's fields followed by `batch_cache_low` / `batch_cache_high`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PlannedCost {
    /// The cost without the cache.
    #[serde(flatten)]
    pub base: Cost,
    /// Batch price of the input with every possible cache hit (the plain batch price when
    /// the plan prices no cache); `None` without a cost plan.
    pub batch_cache_low: Option<f64>,
    /// The same with every allowed output token.
    pub batch_cache_high: Option<f64>,
}

impl PlannedCost {
    /// `base` with the cache figures of `plan`, if one was made.
    pub fn new(base: Cost, plan: Option<&CachePlan>) -> Self {
        PlannedCost {
            base,
            batch_cache_low: plan.map(|p| p.batch_cache_low.unwrap_or(base.batch_low)),
            batch_cache_high: plan.map(|p| p.batch_cache_high.unwrap_or(base.batch_high)),
        }
    }
}

/// Totals of one model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSummary {
    /// The model (`None` for requests that name none, with no `--model`).
    pub model: Option<String>,
    /// The encoding its requests were counted with.
    pub encoding: Encoding,
    /// Whether every request's count is exact.
    pub exact: bool,
    /// Requests.
    pub requests: u64,
    /// Requests whose count is an estimate.
    pub estimated_requests: u64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Sum of the requests' output limits.
    pub max_output_tokens: u64,
    /// Requests that set no output limit (left out of `max_output_tokens` and of the high cost).
    pub requests_without_max_output: u64,
    /// Requests with no text input to count (audio transcriptions and translations): in
    /// `requests`, left out of `input_tokens` and the percentiles.
    pub requests_without_text_input: u64,
    /// Median input tokens per request with text input (exact below 1,024 tokens; above, at
    /// most 1/32 over; 0 when no request has text input).
    pub p50: u64,
    /// 95th percentile of input tokens per request (exact below 1,024 tokens; above, at most
    /// 1/32 over).
    pub p95: u64,
    /// Largest request.
    pub max: u64,
    /// The price-table entry used, if any.
    pub price_entry: Option<String>,
    /// The cost, when the model has a price.
    pub cost: Option<PlannedCost>,
    /// The prompt-cache plan (when planned).
    pub cache: Option<CachePlan>,
}

/// Totals over everything counted, per model and priced: the `summary` record of
/// `batchkit tokens --format json` (its printer adds the `type`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Inputs given (read or not).
    pub files: u64,
    /// Lines read.
    pub lines: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Requests counted.
    pub requests: u64,
    /// Lines not counted.
    pub errors: u64,
    /// Lines skipped with a remark.
    pub warnings: u64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Sum of output limits.
    pub max_output_tokens: u64,
    /// Requests with no output limit.
    pub requests_without_max_output: u64,
    /// Requests with no text input to count (left out of the token figures).
    pub requests_without_text_input: u64,
    /// Whether every count is exact.
    pub exact: bool,
    /// Every line counted and every input read.
    pub ok: bool,
    /// Requests summed under the model `(other)` because `max_models` models were already
    /// listed (0 when every model has its own entry).
    pub aggregated_requests: u64,
    /// The cap on per-model entries.
    pub max_models: usize,
    /// The cost of the priced models (`None` when no model has a price).
    pub cost: Option<PlannedCost>,
    /// Some requests' model has no price: `cost` leaves them out (or is `None`).
    pub cost_incomplete: bool,
    /// Models without a price, left out of `cost`.
    pub unpriced_models: Vec<String>,
    /// The prompt-cache plan over every model (when planned).
    pub cache: Option<CachePlan>,
    /// Whether the input fits an enqueued-token limit (set by the caller that cut it).
    pub queue: Option<Queue>,
    /// Per model, in model-name order.
    pub models: Vec<ModelSummary>,
    /// The file priced on each `--target`, its own provider and model first, then cheapest
    /// first ([`Totals::target_summaries`]); empty without targets.
    pub targets: Vec<TargetSummary>,
    /// The price table used.
    pub prices: PricesUsed,
}

/// The totals of one input: the `file` record of `batchkit tokens --format json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileTotals {
    /// Input name.
    pub file: String,
    /// Lines read.
    pub lines: u64,
    /// Bytes read (decompressed).
    pub bytes: u64,
    /// Requests counted.
    pub requests: u64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Lines not counted.
    pub errors: u64,
    /// Lines skipped with a remark.
    pub warnings: u64,
}

impl FileTotals {
    /// `t` so far, under the name `file`.
    pub(crate) fn of(t: &Totals, file: &str) -> Self {
        FileTotals {
            file: file.to_string(),
            lines: t.lines,
            bytes: t.bytes,
            requests: t.requests,
            input_tokens: t.input_tokens(),
            errors: t.errors,
            warnings: t.warnings,
        }
    }

    /// What was added since `before`.
    pub(crate) fn minus(mut self, before: &FileTotals) -> Self {
        self.lines -= before.lines;
        self.bytes -= before.bytes;
        self.requests -= before.requests;
        self.input_tokens -= before.input_tokens;
        self.errors -= before.errors;
        self.warnings -= before.warnings;
        self
    }
}

/// Whether the input fits an enqueued-token limit, and how many files `shard --max-tokens`
/// cuts it into.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Queue {
    /// The limit.
    pub limit: u64,
    /// Whether the input's tokens are within it.
    pub fits: bool,
    /// Files of the greedy cut; `None` when a single request is over the limit (`shard`
    /// refuses such a file).
    pub shards: Option<u64>,
    /// Requests over the limit on their own.
    pub requests_over_limit: u64,
}

/// The price table a summary was priced with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PricesUsed {
    /// Date of the prices.
    pub as_of: String,
    /// Currency.
    pub currency: String,
    /// Embedded or a file's.
    pub origin: String,
    /// Where the prices come from.
    pub sources: Vec<String>,
}

/// The provider a request line is for: OpenAI-style lines by their url and model, other
/// shapes by the rules every provider of the shape applies.
fn provider_of(content: &[u8]) -> Option<&'static Provider> {
    batchkit_line::read(content, |root| {
        let req = RequestLine::detect(root)?;
        Some(if req.style() == Style::OpenAi {
            Provider::by_openai_line(req.url(), req.model())
        } else {
            req.style().auto_provider()
        })
    })
    .ok()
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn req(model: &str, n: u64, max: Option<u64>) -> Result<RequestCount, Diagnostic> {
        Ok(RequestCount {
            custom_id: None,
            model: Some(model.into()),
            encoding: Encoding::O200kBase,
            input_tokens: Some(n),
            max_output_tokens: max,
            exact: true,
            duplicate_keys: Vec::new(),
        })
    }

    #[test]
    fn per_model_totals_and_cost() {
        let mut t = Totals::default();
        for n in 1..=100 {
            t.add(&req("gpt-4o-mini", n, Some(10)));
        }
        t.add(&req("my-model", 7, None));
        let s = t.summary(&PriceTable::embedded());
        assert_eq!(s.requests, 101);
        assert_eq!(s.models.len(), 2);
        let m = &s.models[0];
        assert_eq!((m.p50, m.p95, m.max), (50, 95, 100));
        assert_eq!(m.input_tokens, 5050);
        assert_eq!(m.max_output_tokens, 1000);
        assert_eq!(s.requests_without_max_output, 1);
        assert_eq!(s.unpriced_models, vec!["my-model".to_string()]);
        assert_eq!(s.cost, m.cost);
        assert!(s.cost.is_some());
    }

    #[test]
    fn requests_without_text_input_stay_out_of_the_figures() {
        let audio = |model: &str| -> Result<RequestCount, Diagnostic> {
            Ok(RequestCount {
                custom_id: None,
                model: Some(model.into()),
                encoding: Encoding::O200kBase,
                input_tokens: None,
                max_output_tokens: None,
                exact: true,
                duplicate_keys: Vec::new(),
            })
        };
        let mut t = Totals::default();
        for n in [10, 20, 30] {
            t.add(&req("gpt-4o-mini", n, Some(5)));
        }
        for _ in 0..5 {
            t.add(&audio("gpt-4o-mini"));
            t.add(&audio("whisper-large-v3"));
        }
        let s = t.summary(&PriceTable::embedded());
        assert_eq!(s.requests, 13);
        assert_eq!(s.requests_without_text_input, 10);
        assert_eq!(s.input_tokens, 60);
        assert_eq!(s.requests_without_max_output, 0);
        assert!(s.exact);
        let mini = &s.models[0];
        assert_eq!(mini.requests, 8);
        assert_eq!(mini.requests_without_text_input, 5);
        // Percentiles over the three counted requests only.
        assert_eq!((mini.p50, mini.p95, mini.max), (20, 30, 30));
        let whisper = &s.models[1];
        assert_eq!((whisper.requests, whisper.input_tokens), (5, 0));
        assert_eq!((whisper.p50, whisper.p95, whisper.max), (0, 0, 0));
        // No token price to miss for a model with no text input.
        assert!(s.unpriced_models.is_empty(), "{:?}", s.unpriced_models);
    }

    #[test]
    fn models_past_the_cap_are_summed_as_other() {
        let mut t = Totals::with_max_models(3);
        for i in 0..10 {
            t.add(&req(&format!("m{i}"), 10 + i, Some(1)));
            t.add(&req("m0", 1, Some(1)));
        }
        let s = t.summary(&PriceTable::embedded());
        assert_eq!(s.models.len(), 4);
        assert_eq!(s.aggregated_requests, 7);
        let other = s
            .models
            .iter()
            .find(|m| m.model.as_deref() == Some(OTHER_MODELS))
            .unwrap();
        assert_eq!((other.requests, other.max), (7, 19));
        assert_eq!(s.requests, 20);
        assert_eq!(s.input_tokens, (10..20).sum::<u64>() + 10);
    }

    #[test]
    fn buckets_bound_the_histogram() {
        let mut t = Totals::default();
        for n in 0..200_000u64 {
            t.add(&req("m", n * 13, Some(1)));
        }
        let m = t.models.values().next().unwrap();
        assert!(m.histogram.len() < 1600, "{}", m.histogram.len());
        let s = t.summary(&PriceTable::embedded());
        let (p50, max) = (s.models[0].p50, s.models[0].max);
        assert_eq!(max, 199_999 * 13);
        let exact = 99_999 * 13;
        assert!(p50 >= exact && p50 <= exact + exact / 32, "{p50}");
    }

    proptest! {
        #[test]
        fn percentiles_stay_within_a_bucket(counts in proptest::collection::vec(0u64..10_000_000, 1..300)) {
            let mut t = Totals::default();
            for &c in &counts {
                t.add(&req("m", c, Some(1)));
            }
            let s = t.summary(&PriceTable::embedded());
            let mut sorted = counts.clone();
            sorted.sort_unstable();
            let nearest = |p: usize| sorted[(sorted.len() * p).div_ceil(100).max(1) - 1];
            for (got, want) in [(s.models[0].p50, nearest(50)), (s.models[0].p95, nearest(95))] {
                prop_assert!(got >= want && got <= want + want / 32, "{} vs {}", got, want);
            }
            prop_assert_eq!(s.models[0].max, *sorted.last().unwrap());
        }

        #[test]
        fn percentiles_match_a_sort(counts in proptest::collection::vec(0u64..1000, 1..300)) {
            let mut t = Totals::default();
            for &c in &counts {
                t.add(&req("m", c, Some(1)));
            }
            let s = t.summary(&PriceTable::embedded());
            let mut sorted = counts.clone();
            sorted.sort_unstable();
            let nearest = |p: usize| sorted[(sorted.len() * p).div_ceil(100).max(1) - 1];
            prop_assert_eq!(s.models[0].p50, nearest(50));
            prop_assert_eq!(s.models[0].p95, nearest(95));
            prop_assert_eq!(s.models[0].max, *sorted.last().unwrap());
            prop_assert_eq!(s.input_tokens, counts.iter().sum::<u64>());
        }
    }
}
