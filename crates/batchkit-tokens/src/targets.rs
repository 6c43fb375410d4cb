//! The same file priced on other providers and models (`tokens --target PROVIDER/MODEL`): each
//! line converted as `convert` would send it (the conversion is given by the caller, so this
//! crate does not depend on the converter), counted with the target model's tokenizer and
//! counting rule, priced under the target's price and caching rule, and cut into files under
//! the target provider's caps (`providers.toml`: `max_requests`, `max_bytes`).

use std::sync::Arc;

use batchkit_providers::Provider;
use serde::Serialize;

use crate::cache::Prefixes;
use crate::prices::PriceTable;
use crate::request::RequestCount;
use crate::totals::{PlannedCost, Totals};
use crate::Diagnostic;

/// Turns one request line (without its terminator) into the line the target gets, or says
/// why it cannot be sent there.
pub type LineConverter = Arc<dyn Fn(&[u8]) -> Result<Vec<u8>, String> + Send + Sync>;

/// A provider and model to price the file on.
#[derive(Clone)]
pub struct Target {
    /// The provider, by its name in providers.toml (its caps cut the files).
    pub provider: String,
    /// The target model: its tokenizer, its price.
    pub model: String,
    /// The line as the target gets it.
    pub convert: LineConverter,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Target({}/{})", self.provider, self.model)
    }
}

impl Target {
    /// `provider/model`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.provider, self.model)
    }
}

/// One line counted for one target: its count (or why it was not sent), its cache-prefix
/// boundaries, and the converted line's length with its newline.
pub(crate) type TargetLine = (Result<RequestCount, String>, Option<Prefixes>, u64);

/// Converts and counts `content` for `t` (in the parallel part of the read).
pub(crate) fn count_for(t: &Target, content: &[u8], plan: bool) -> TargetLine {
    match (t.convert)(content) {
        Ok(line) => {
            let (r, p) = crate::request::count_request_planned(&line, Some(&t.model), plan);
            let r = r.map_err(|d: Diagnostic| d.message);
            (r, p, line.len() as u64 + 1)
        }
        Err(why) => (Err(why), None, 0),
    }
}

/// Files a greedy cut makes under a provider's caps: a new file when the next line would pass
/// the request cap or the byte cap (a line alone over the byte cap gets a file of its own).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileCut {
    max_requests: Option<u64>,
    max_bytes: Option<u64>,
    /// Files so far.
    pub files: u64,
    requests: u64,
    bytes: u64,
}

impl FileCut {
    /// A cut under `provider`'s caps (none: one file).
    pub fn of(provider: Option<&Provider>) -> Self {
        FileCut {
            max_requests: provider.and_then(|p| p.max_requests),
            max_bytes: provider.and_then(|p| p.max_bytes),
            ..FileCut::default()
        }
    }

    /// Adds one line of `len` bytes (its newline included).
    pub fn add(&mut self, len: u64) {
        let over = self.max_requests.is_some_and(|m| self.requests + 1 > m)
            || self
                .max_bytes
                .is_some_and(|m| self.requests > 0 && self.bytes + len > m);
        if self.files == 0 || over {
            self.files += 1;
            self.requests = 0;
            self.bytes = 0;
        }
        self.requests += 1;
        self.bytes += len;
    }
}

/// What has been counted for one target.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetTotals {
    /// `provider/model`.
    pub name: String,
    /// The provider.
    pub provider: String,
    /// The model.
    pub model: String,
    /// The converted lines' counts.
    pub totals: Totals,
    /// Lines that could not be sent to the target (nothing the target takes says the same).
    pub left_out: u64,
    /// The first line left out, and why.
    pub first_left_out: Option<(String, u64, String)>,
    /// Bytes of the converted lines.
    pub bytes: u64,
    /// The cut into files under the provider's caps.
    pub cut: FileCut,
}

impl TargetTotals {
    /// Empty totals for `t`, with a prefix table of `slots` slots.
    pub fn new(t: &Target, slots: usize) -> Self {
        let mut totals = Totals::default();
        totals.set_prefix_table_slots(slots);
        TargetTotals {
            name: t.name(),
            provider: t.provider.clone(),
            model: t.model.clone(),
            totals,
            left_out: 0,
            first_left_out: None,
            bytes: 0,
            cut: FileCut::of(Provider::get(&t.provider)),
        }
    }

    /// Adds one line counted for this target.
    pub(crate) fn add(&mut self, l: TargetLine, file: &str, line: u64) {
        let (r, p, len) = l;
        match r {
            Ok(r) => {
                let r = Ok(r);
                self.totals.add(&r);
                if let (Ok(r), Some(p)) = (&r, &p) {
                    self.totals.add_prefixes(r, p, file, line);
                }
                self.bytes += len;
                self.cut.add(len);
            }
            Err(why) => {
                self.left_out += 1;
                if self.first_left_out.is_none() {
                    self.first_left_out = Some((file.to_string(), line, why));
                }
            }
        }
    }

    /// The priced record.
    pub fn summary(&self, prices: &PriceTable) -> TargetSummary {
        let s = self.totals.summary(prices);
        let mut cost = s.cost;
        // Where the provider caches only on request (Anthropic), `convert --cache auto` puts a
        // breakpoint after the shared prefix the plan finds: priced as that.
        let mut breakpoints = false;
        if let (Some(c), Some(plan)) = (cost.as_mut(), s.cache.as_ref()) {
            if let (Some(pot), Some(low), Some(high)) = (
                plan.potential_batch_cache_low,
                c.batch_cache_low,
                c.batch_cache_high,
            ) {
                if pot < low {
                    c.batch_cache_low = Some(pot);
                    c.batch_cache_high = Some(crate::prices::round_money(pot + (high - low)));
                    breakpoints = true;
                }
            }
        }
        TargetSummary {
            target: self.name.clone(),
            provider: self.provider.clone(),
            model: self.model.clone(),
            own: false,
            requests: s.requests,
            input_tokens: s.input_tokens,
            exact: s.exact,
            max_output_tokens: s.max_output_tokens,
            cost,
            cache_rule: s.cache.as_ref().and_then(|c| c.rule),
            cacheable_input_tokens: s.cache.as_ref().map(|c| {
                if breakpoints {
                    c.potential_cacheable_input_tokens
                        .unwrap_or(c.cacheable_input_tokens)
                } else {
                    c.cacheable_input_tokens
                }
            }),
            cache_breakpoints_added: breakpoints,
            bytes: self.bytes,
            files: self.cut.files,
            left_out: self.left_out,
        }
    }
}

/// The file priced on one target: the `{"type":"target",...}` record of `tokens --target`,
/// and an element of the summary's `targets`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetSummary {
    /// `provider/model`.
    pub target: String,
    /// The provider.
    pub provider: String,
    /// The model.
    pub model: String,
    /// The file's own provider and model (the first row), not a `--target`.
    pub own: bool,
    /// Requests sent.
    pub requests: u64,
    /// Input tokens of the converted lines.
    pub input_tokens: u64,
    /// Whether `input_tokens` is exact (the target's tokenizer is public and every part has a
    /// published rule).
    pub exact: bool,
    /// Output tokens the converted lines allow.
    pub max_output_tokens: u64,
    /// Sync, batch and batch + cache cost (the file's own cost's fields); `None` when the
    /// model has no price.
    pub cost: Option<PlannedCost>,
    /// The target's caching rule.
    pub cache_rule: Option<&'static str>,
    /// Input tokens that can be read from the cache.
    pub cacheable_input_tokens: Option<u64>,
    /// The batch + cache cost assumes `cache_control` breakpoints after the shared prefixes
    /// (as `convert --cache auto` places them).
    pub cache_breakpoints_added: bool,
    /// Bytes of the converted lines.
    pub bytes: u64,
    /// Files needed under the provider's caps.
    pub files: u64,
    /// Lines that cannot be sent to the target.
    pub left_out: u64,
}

impl TargetSummary {
    /// What the table is sorted by: the batch + cache cost with every allowed output token
    /// (the sum a budget must cover); unpriced last.
    pub fn sort_key(&self) -> f64 {
        self.cost
            .map(|c| c.batch_cache_high.unwrap_or(c.base.batch_high))
            .unwrap_or(f64::INFINITY)
    }
}

/// Sorts target records cheapest first (ties by name), the file's own first.
pub fn cheapest_first(t: &mut [TargetSummary]) {
    t.sort_by(|a, b| {
        b.own
            .cmp(&a.own)
            .then(a.sort_key().total_cmp(&b.sort_key()))
            .then_with(|| a.target.cmp(&b.target))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_cut_at_either_cap() {
        let mut c = FileCut {
            max_requests: Some(3),
            max_bytes: Some(100),
            ..FileCut::default()
        };
        for _ in 0..7 {
            c.add(10);
        }
        assert_eq!(c.files, 3);
        let mut c = FileCut {
            max_bytes: Some(100),
            ..FileCut::default()
        };
        for len in [60, 40, 1, 200, 5] {
            c.add(len);
        }
        // [60,40] [1] [200] [5]
        assert_eq!(c.files, 4);
        let mut none = FileCut::of(None);
        assert_eq!(none.files, 0);
        none.add(1 << 40);
        none.add(1 << 40);
        assert_eq!(none.files, 1);
    }
}
