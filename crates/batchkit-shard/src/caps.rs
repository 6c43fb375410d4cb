//! Per-shard caps and the greedy fit rule.

use batchkit_providers::Provider;
use serde::{Deserialize, Serialize};

/// Limits every shard must respect. `None` means unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caps {
    /// Requests (lines) per shard.
    pub max_requests: Option<u64>,
    /// Bytes per shard, as the provider sees them (uncompressed; for `--emit anthropic-body`
    /// the size of the JSON body).
    pub max_bytes: Option<u64>,
    /// Input tokens per shard (enqueued-token limits).
    pub max_tokens: Option<u64>,
    /// Embedding inputs per shard (array items counted).
    pub max_embedding_inputs: Option<u64>,
}

/// Caps given on the command line; each replaces the provider's figure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapOverrides {
    /// `--max-requests`.
    pub max_requests: Option<u64>,
    /// `--max-bytes`.
    pub max_bytes: Option<u64>,
    /// `--max-tokens` (no provider default: enqueued-token limits depend on the account).
    pub max_tokens: Option<u64>,
    /// Embedding inputs per shard.
    pub max_embedding_inputs: Option<u64>,
}

impl Caps {
    /// The provider's caps (if any), with the overrides applied on top.
    pub fn resolve(provider: Option<&Provider>, o: &CapOverrides) -> Caps {
        Caps {
            max_requests: o.max_requests.or(provider.and_then(|p| p.max_requests)),
            max_bytes: o.max_bytes.or(provider.and_then(|p| p.max_bytes)),
            max_tokens: o.max_tokens,
            max_embedding_inputs: o
                .max_embedding_inputs
                .or(provider.and_then(|p| p.max_embedding_inputs)),
        }
    }
}

/// Refuses an override above `provider`'s own cap on requests or bytes per file (a provider
/// without that cap takes any).
pub fn check_over_cap(
    provider: Option<&Provider>,
    o: &CapOverrides,
) -> Result<(), crate::ShardError> {
    let Some(p) = provider else {
        return Ok(());
    };
    for (flag, value, cap) in [
        ("max-requests", o.max_requests, p.max_requests),
        ("max-bytes", o.max_bytes, p.max_bytes),
    ] {
        if let (Some(value), Some(cap)) = (value, cap) {
            if value > cap {
                return Err(crate::ShardError::OverCap {
                    flag,
                    value,
                    provider: p.label.clone(),
                    cap,
                });
            }
        }
    }
    Ok(())
}

/// What one line weighs against the caps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Measure {
    /// Bytes the line adds to the shard.
    pub bytes: u64,
    /// Input tokens (0 when not counted).
    pub tokens: u64,
    /// Embedding inputs (0 for other endpoints).
    pub embedding_inputs: u64,
}

/// Running totals of one shard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Lines.
    pub requests: u64,
    /// Bytes, including the fixed overhead of the shard format.
    pub bytes: u64,
    /// Input tokens.
    pub tokens: u64,
    /// Embedding inputs.
    pub embedding_inputs: u64,
}

/// Which cap a line breaks on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breach {
    /// The line alone is over the byte cap.
    Bytes {
        /// Bytes the shard would hold.
        need: u64,
        /// The cap.
        cap: u64,
    },
    /// The line alone is over the token cap.
    Tokens {
        /// Tokens of the line.
        need: u64,
        /// The cap.
        cap: u64,
    },
    /// The line alone is over the embedding-input cap.
    EmbeddingInputs {
        /// Inputs of the line.
        need: u64,
        /// The cap.
        cap: u64,
    },
}

/// The fit rule: caps plus the fixed bytes every shard carries (the `{"requests":[ ]}`
/// wrapper of an Anthropic body; 0 for JSONL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fit {
    /// The caps.
    pub caps: Caps,
    /// Bytes of an empty shard.
    pub overhead: u64,
}

impl Fit {
    /// Totals of a shard holding nothing yet.
    pub fn empty(&self) -> Totals {
        Totals {
            bytes: self.overhead,
            ..Totals::default()
        }
    }

    /// Whether `m` breaks a cap even in a shard of its own.
    pub fn alone(&self, m: &Measure) -> Result<(), Breach> {
        let c = &self.caps;
        if let Some(cap) = c.max_bytes {
            let need = self.overhead.saturating_add(m.bytes);
            if need > cap {
                return Err(Breach::Bytes { need, cap });
            }
        }
        if let Some(cap) = c.max_tokens {
            if m.tokens > cap {
                return Err(Breach::Tokens {
                    need: m.tokens,
                    cap,
                });
            }
        }
        if let Some(cap) = c.max_embedding_inputs {
            if m.embedding_inputs > cap {
                return Err(Breach::EmbeddingInputs {
                    need: m.embedding_inputs,
                    cap,
                });
            }
        }
        Ok(())
    }

    /// Whether `m` may join a shard holding `t` without breaking any cap.
    #[inline]
    pub fn fits(&self, t: &Totals, m: &Measure) -> bool {
        let c = &self.caps;
        let under = |cap: Option<u64>, have: u64, add: u64| {
            cap.is_none_or(|cap| have.saturating_add(add) <= cap)
        };
        under(c.max_requests, t.requests, 1)
            && under(c.max_bytes, t.bytes, m.bytes)
            && under(c.max_tokens, t.tokens, m.tokens)
            && under(
                c.max_embedding_inputs,
                t.embedding_inputs,
                m.embedding_inputs,
            )
    }

    /// Adds `m` to `t`.
    #[inline]
    pub fn add(t: &mut Totals, m: &Measure) {
        t.requests += 1;
        t.bytes += m.bytes;
        t.tokens += m.tokens;
        t.embedding_inputs += m.embedding_inputs;
    }

    /// Cuts a sequence of lines greedily; returns the number of lines in each shard.
    /// The streaming driver applies the same rule line by line; this form serves tests and
    /// benchmarks.
    pub fn plan(&self, lines: &[Measure]) -> Result<Vec<u64>, (usize, Breach)> {
        let mut out = Vec::new();
        let mut t = self.empty();
        for (i, m) in lines.iter().enumerate() {
            self.alone(m).map_err(|b| (i, b))?;
            if t.requests > 0 && !self.fits(&t, m) {
                out.push(t.requests);
                t = self.empty();
            }
            Self::add(&mut t, m);
        }
        if t.requests > 0 {
            out.push(t.requests);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_caps_and_overrides() {
        let openai = Provider::get("openai").unwrap();
        let c = Caps::resolve(Some(openai), &CapOverrides::default());
        assert_eq!(c.max_requests, Some(50_000));
        assert_eq!(c.max_bytes, Some(209_715_200));
        assert_eq!(c.max_embedding_inputs, Some(50_000));
        assert_eq!(c.max_tokens, None);
        let o = CapOverrides {
            max_bytes: Some(1000),
            max_tokens: Some(7),
            ..Default::default()
        };
        let c = Caps::resolve(Some(openai), &o);
        assert_eq!(
            (c.max_requests, c.max_bytes, c.max_tokens),
            (Some(50_000), Some(1000), Some(7))
        );
        let a = Caps::resolve(Provider::get("anthropic"), &CapOverrides::default());
        assert_eq!(
            (a.max_requests, a.max_bytes),
            (Some(100_000), Some(256_000_000))
        );
        assert_eq!(
            Caps::resolve(None, &CapOverrides::default()),
            Caps::default()
        );
    }

    #[test]
    fn greedy_cuts_and_single_line_breaches() {
        let fit = Fit {
            caps: Caps {
                max_requests: Some(3),
                max_bytes: Some(10),
                ..Default::default()
            },
            overhead: 0,
        };
        let m = |b| Measure {
            bytes: b,
            ..Default::default()
        };
        assert_eq!(
            fit.plan(&[m(4), m(4), m(2), m(1), m(1), m(1), m(10)])
                .unwrap(),
            vec![3, 3, 1]
        );
        assert_eq!(
            fit.plan(&[m(4), m(11)]),
            Err((1, Breach::Bytes { need: 11, cap: 10 }))
        );
        let body = Fit { overhead: 5, ..fit };
        assert_eq!(
            body.plan(&[m(6)]),
            Err((0, Breach::Bytes { need: 11, cap: 10 }))
        );
        assert_eq!(body.plan(&[m(2), m(3), m(1)]).unwrap(), vec![2, 1]);
    }
}
