//! The embedded BPE encodings and which model uses which.

use std::sync::OnceLock;

use serde::Serialize;

use crate::bpe::{Ranks, MEMOS};
use crate::split::{self, split, Pattern};

/// A tokenizer embedded in the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// gpt-4o, gpt-4.1, gpt-4.5, gpt-5, o1/o3/o4 families.
    O200kBase,
    /// gpt-oss: the o200k ranks and pattern with other special tokens, so ordinary text
    /// encodes exactly as with o200k_base.
    O200kHarmony,
    /// gpt-4, gpt-3.5-turbo, text-embedding-3 and ada-002.
    Cl100kBase,
}

/// How a model's requests are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tokenizer {
    /// The encoding used.
    pub encoding: Encoding,
    /// Whether it is the model's real tokenizer. When false, the counts are an estimate made
    /// with `o200k_base` as a stand-in (Claude, Gemini and other models without a public
    /// tokenizer embedded here).
    pub exact: bool,
}

impl Encoding {
    /// The name tiktoken gives it.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::O200kBase => "o200k_base",
            Encoding::O200kHarmony => "o200k_harmony",
            Encoding::Cl100kBase => "cl100k_base",
        }
    }

    /// Tokens of `text`, special-token text counted as ordinary text (as the API does for
    /// user content): the length of tiktoken's `encode_ordinary`, without building it.
    pub fn count(self, text: &str) -> u64 {
        self.count_each(text, |_, _| {})
    }

    /// [`Encoding::count`], calling `each` with every pre-token piece and its token count,
    /// in order (the prefix analysis hashes pieces as they are counted).
    pub(crate) fn count_each(self, text: &str, mut each: impl FnMut(&[u8], u32)) -> u64 {
        let (pattern, slot) = self.kind();
        let ranks = ranks(slot);
        MEMOS.with(|memos| {
            let mut memos = memos.borrow_mut();
            let memo = &mut memos[slot];
            let mut total = 0u64;
            split(pattern, text, |piece| {
                let n = memo.count(ranks, piece);
                each(piece, n);
                total += u64::from(n);
            });
            total
        })
    }

    fn kind(self) -> (Pattern, usize) {
        match self {
            Encoding::O200kBase | Encoding::O200kHarmony => (Pattern::O200k, 0),
            Encoding::Cl100kBase => (Pattern::Cl100k, 1),
        }
    }

    /// Loads the ranks now rather than on first use (so a benchmark or a progress bar does
    /// not count the start-up).
    pub fn warm_up(self) {
        let _ = ranks(self.kind().1);
        split::warm_up();
    }
}

/// The ranks of o200k (slot 0) or cl100k (slot 1): OpenAI's published `.tiktoken` files
/// (the copies tiktoken-rs embeds; the tests check their SHA-256), packed by `build.rs`,
/// loaded on first use.
fn ranks(slot: usize) -> &'static Ranks {
    static RANKS: [OnceLock<Ranks>; 2] = [OnceLock::new(), OnceLock::new()];
    RANKS[slot].get_or_init(|| {
        Ranks::load(match slot {
            0 => include_bytes!(concat!(env!("OUT_DIR"), "/o200k_base.ranks")),
            _ => include_bytes!(concat!(env!("OUT_DIR"), "/cl100k_base.ranks")),
        })
    })
}

pub use batchkit_providers::normalize_model;

/// The tokenizer for `model`: `tokenizer` in batchkit-providers' `data/models.toml` (which
/// follows tiktoken's model map); an estimate with `o200k_base` for models it names no
/// tokenizer for.
pub fn tokenizer_for(model: Option<&str>) -> Tokenizer {
    use batchkit_providers::TokenizerName;
    let name = model.map_or(TokenizerName::Estimate, |m| {
        batchkit_providers::model_facts(m).tokenizer
    });
    let (encoding, exact) = match name {
        TokenizerName::O200kBase => (Encoding::O200kBase, true),
        TokenizerName::O200kHarmony => (Encoding::O200kHarmony, true),
        TokenizerName::Cl100kBase => (Encoding::Cl100kBase, true),
        TokenizerName::Estimate => (Encoding::O200kBase, false),
    };
    Tokenizer { encoding, exact }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_map_follows_tiktoken() {
        let enc = |m| tokenizer_for(Some(m));
        assert_eq!(enc("gpt-4o-mini-2024-07-18").encoding, Encoding::O200kBase);
        assert!(enc("gpt-5.2").exact);
        assert_eq!(enc("o3-mini").encoding, Encoding::O200kBase);
        assert_eq!(enc("gpt-4-turbo").encoding, Encoding::Cl100kBase);
        assert_eq!(enc("gpt-4").encoding, Encoding::Cl100kBase);
        assert_eq!(enc("text-embedding-3-small").encoding, Encoding::Cl100kBase);
        assert_eq!(enc("openai/gpt-oss-120b").encoding, Encoding::O200kHarmony);
        assert_eq!(
            enc("ft:gpt-4o-mini-2024-07-18:acme::abc").encoding,
            Encoding::O200kBase
        );
        assert!(!enc("claude-sonnet-4-5").exact);
        assert!(!enc("gemini-2.5-flash").exact);
        assert!(!enc("gpt-40").exact, "a near miss is not an OpenAI model");
        assert!(!tokenizer_for(None).exact);
    }

    #[test]
    fn known_counts() {
        // Reference values from tiktoken.
        assert_eq!(Encoding::O200kBase.count("Hello world!"), 3);
        assert_eq!(Encoding::Cl100kBase.count("Hello world!"), 3);
        assert_eq!(Encoding::Cl100kBase.count("tiktoken is great!"), 6);
        assert_eq!(Encoding::O200kBase.count(""), 0);
        assert_eq!(Encoding::O200kBase.count("<|endoftext|>"), 7);
    }
}
