//! The actual cost of what the provider reported, at batch prices.
//!
//! Kept behind [`Prices`] so the join does not depend on where prices come from; the binary
//! passes the embedded price table. The arithmetic (cache reads and writes at their
//! multipliers) is batchkit-providers' [`BatchPrice::cost`].

pub use batchkit_providers::prices::BatchPrice;
use batchkit_providers::prices::{round_money, BilledTokens, PriceTable};

use crate::ModelUsage;

/// A source of batch prices.
pub trait Prices {
    /// The batch price of `model` (dated snapshot names resolve to their family).
    fn batch_price(&self, model: &str) -> Option<BatchPrice>;
    /// Date of the prices.
    fn as_of(&self) -> Option<String>;
}

/// No prices at all: costs come out unknown.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPrices;

impl Prices for NoPrices {
    fn batch_price(&self, _model: &str) -> Option<BatchPrice> {
        None
    }
    fn as_of(&self) -> Option<String> {
        None
    }
}

/// Cost per model (None when the model has no price) and the total over priced models
/// (None when there is usage and no model of it has a price: unknown, not free). USD,
/// rounded to 1e-9.
///
/// Cached input is charged at the cached price, cache writes at the write price of their TTL,
/// the rest of the input at the input price. Provider details the result lines cannot show
/// (Gemini charging cache reads at the synchronous rate) are not modelled.
pub fn batch_cost(models: &[ModelUsage], prices: &dyn Prices) -> (Vec<Option<f64>>, Option<f64>) {
    let mut total = 0.0;
    let mut priced = false;
    let per = models
        .iter()
        .map(|m| {
            let p = prices.batch_price(&m.model)?;
            let u = &m.usage;
            let c = p.cost(BilledTokens {
                input: u.input,
                cached: u.cached,
                cache_write: u.cache_write,
                cache_write_1h: u.cache_write_1h,
                output: u.output,
            });
            total += c;
            priced = true;
            Some(round_money(c))
        })
        .collect();
    let total = (priced || models.is_empty()).then(|| round_money(total));
    (per, total)
}

/// The price table of `batchkit tokens`, the one its cost plan uses (see
/// [`batchkit_providers::Price::batch_price`]), so planned and actual cost compare.
impl Prices for PriceTable {
    fn batch_price(&self, model: &str) -> Option<BatchPrice> {
        let (_, p) = self.lookup(model)?;
        Some(p.batch_price())
    }
    fn as_of(&self) -> Option<String> {
        Some(self.as_of.clone())
    }
}

/// The prices the `join` command uses.
pub fn default_prices() -> impl Prices {
    PriceTable::embedded()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Usage;

    struct One;
    impl Prices for One {
        fn batch_price(&self, model: &str) -> Option<BatchPrice> {
            (model == "m").then_some(BatchPrice {
                input: 1.0,
                cached_input: Some(0.5),
                cache_write: None,
                cache_write_1h: None,
                output: 2.0,
            })
        }
        fn as_of(&self) -> Option<String> {
            None
        }
    }

    #[test]
    fn cached_and_unknown_models() {
        let u = Usage {
            input: 1_000_000,
            cached: 400_000,
            output: 500_000,
            reasoning: 0,
            results: 3,
            ..Usage::default()
        };
        let models = vec![
            ModelUsage {
                model: "m".into(),
                usage: u,
                cost_usd: None,
                stop_reasons: Default::default(),
            },
            ModelUsage {
                model: "x".into(),
                usage: u,
                cost_usd: None,
                stop_reasons: Default::default(),
            },
        ];
        let (per, total) = batch_cost(&models, &One);
        assert_eq!(per, vec![Some(1.8), None]);
        assert_eq!(total, Some(1.8));
        // Nothing priced: the cost is unknown, not zero.
        let (per, total) = batch_cost(&models[1..], &One);
        assert_eq!((per, total), (vec![None], None));
        assert_eq!(batch_cost(&[], &One), (vec![], Some(0.0)));
        // Cache writes: 5-minute at 1.25x input, 1-hour at 2x, out of the plain input.
        let w = Usage {
            cache_write: 300_000,
            cache_write_1h: 100_000,
            ..u
        };
        let (per, _) = batch_cost(
            &[ModelUsage {
                model: "m".into(),
                usage: w,
                cost_usd: None,
                stop_reasons: Default::default(),
            }],
            &One,
        );
        // 0.3M plain + 0.4M cached at 0.5 + 0.2M at 1.25 + 0.1M at 2 + 0.5M output at 2.
        assert_eq!(per, vec![Some(0.3 + 0.2 + 0.25 + 0.2 + 1.0)]);
    }

    #[test]
    fn costs_are_rounded_to_a_billionth() {
        let models = vec![ModelUsage {
            model: "m".into(),
            usage: Usage {
                input: 47,
                results: 1,
                ..Usage::default()
            },
            cost_usd: None,
            stop_reasons: Default::default(),
        }];
        struct Odd;
        impl Prices for Odd {
            fn batch_price(&self, _: &str) -> Option<BatchPrice> {
                Some(BatchPrice {
                    input: 1.5,
                    cached_input: None,
                    cache_write: None,
                    cache_write_1h: None,
                    output: 0.0,
                })
            }
            fn as_of(&self) -> Option<String> {
                None
            }
        }
        let (per, total) = batch_cost(&models, &Odd);
        assert_eq!(per, vec![Some(0.0000705)]);
        assert_eq!(serde_json::to_string(&total).unwrap(), "0.0000705");
    }
}
