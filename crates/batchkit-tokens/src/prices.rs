//! The price table and the arithmetic that turns prices into costs live in
//! batchkit-providers (`data/prices.toml`, `prices`), beside the provider and model tables;
//! `tokens` prices its totals with them.

pub use batchkit_providers::prices::{
    batch_cache_cost, round_money, CacheTokens, Cost, Price, PriceError, PriceTable,
};
