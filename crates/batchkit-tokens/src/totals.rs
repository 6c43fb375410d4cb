//! Running totals of a count, per model, and their priced summary.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::encoding::Encoding;
use crate::prices::{Cost, PriceTable};
use crate::request::{LineProblem, RequestCount, Severity};

/// What has been counted so far, over one or several inputs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
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
    models: BTreeMap<Option<String>, ModelTotals>,
}

#[derive(Debug, Clone, PartialEq)]
struct ModelTotals {
    encoding: Encoding,
    requests: u64,
    exact_requests: u64,
    input_tokens: u64,
    max_output_tokens: u64,
    without_max_output: u64,
    /// Input tokens → number of requests with that count: exact percentiles in memory that
    /// grows with the number of distinct counts, not of requests.
    histogram: BTreeMap<u64, u64>,
}

impl Totals {
    /// Adds one line's outcome.
    pub fn add(&mut self, result: &Result<RequestCount, LineProblem>) {
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
        let m = self
            .models
            .entry(r.model.clone())
            .or_insert_with(|| ModelTotals {
                encoding: r.encoding,
                requests: 0,
                exact_requests: 0,
                input_tokens: 0,
                max_output_tokens: 0,
                without_max_output: 0,
                histogram: BTreeMap::new(),
            });
        m.requests += 1;
        m.exact_requests += u64::from(r.exact);
        m.input_tokens += r.input_tokens;
        match r.max_output_tokens {
            Some(n) => m.max_output_tokens += n,
            None => m.without_max_output += 1,
        }
        *m.histogram.entry(r.input_tokens).or_default() += 1;
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
            match model_cost {
                Some(c) => cost = Some(cost.unwrap_or_default().plus(c)),
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
                p50: percentile(&m.histogram, m.requests, 50),
                p95: percentile(&m.histogram, m.requests, 95),
                max: m.histogram.keys().next_back().copied().unwrap_or(0),
                price_entry: entry.map(|(k, _)| k.to_string()),
                cost: model_cost,
            });
        }
        Summary {
            lines: self.lines,
            bytes: self.bytes,
            requests: self.requests,
            errors: self.errors,
            warnings: self.warnings,
            input_tokens: self.input_tokens(),
            max_output_tokens: models.iter().map(|m| m.max_output_tokens).sum(),
            requests_without_max_output: models.iter().map(|m| m.requests_without_max_output).sum(),
            exact: models.iter().all(|m| m.exact),
            cost,
            unpriced_models: unpriced,
            models,
        }
    }
}

/// Nearest-rank percentile: the smallest count that at least `pct`% of requests do not exceed.
fn percentile(hist: &BTreeMap<u64, u64>, n: u64, pct: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    let rank = (n * pct).div_ceil(100).max(1);
    let mut seen = 0;
    for (&value, &count) in hist {
        seen += count;
        if seen >= rank {
            return value;
        }
    }
    0
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
    /// Median input tokens per request.
    pub p50: u64,
    /// 95th percentile of input tokens per request.
    pub p95: u64,
    /// Largest request.
    pub max: u64,
    /// The price-table entry used, if any.
    pub price_entry: Option<String>,
    /// The cost, when the model has a price.
    pub cost: Option<Cost>,
}

/// Totals over everything counted, per model and priced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
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
    /// Whether every count is exact.
    pub exact: bool,
    /// The cost of the priced models (`None` when no model has a price).
    pub cost: Option<Cost>,
    /// Models without a price, left out of `cost`.
    pub unpriced_models: Vec<String>,
    /// Per model, in model-name order.
    pub models: Vec<ModelSummary>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn req(model: &str, n: u64, max: Option<u64>) -> Result<RequestCount, LineProblem> {
        Ok(RequestCount {
            custom_id: None,
            model: Some(model.into()),
            encoding: Encoding::O200kBase,
            input_tokens: n,
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

    proptest! {
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
