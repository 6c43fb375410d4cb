//! The models table answers what the rules in code answered before they became data: each
//! row below was printed by the code rules (batchkit-tokens' `tokenizer_for`, `cache_policy`
//! and `claude_new_tokenizer`) before they were removed.

use batchkit_providers::models::{model_facts, TokenizerName};

/// (id, encoding, exact, cache rule and minimum, newer Claude tokenizer)
type Row = (
    &'static str,
    &'static str,
    bool,
    Option<(&'static str, u32)>,
    bool,
);

#[rustfmt::skip]
const OLD: &[Row] = &[
    ("gpt-4o", "o200k_base", true, Some(("openai_prefix", 1024)), false),
    ("gpt-4o-2024-08-06", "o200k_base", true, Some(("openai_prefix", 1024)), false),
    ("GPT-4o", "o200k_base", true, Some(("openai_prefix", 1024)), false),
    ("gpt-4o-mini", "o200k_base", true, Some(("openai_prefix", 1024)), false),
    ("gpt-4o-mini-2024-07-18", "o200k_base", true, Some(("openai_prefix", 1024)), false),
    ("chatgpt-4o-latest", "o200k_base", true, Some(("openai_prefix", 1024)), false),
    ("chatgpt-4o", "o200k_base", false, Some(("openai_prefix", 1024)), false),
    ("gpt-4.1", "o200k_base", true, Some(("openai_prefix", 1024)), false),
    ("gpt-4.1-mini", "o200k_base", true, Some(("openai_prefix", 1024)), false),
    ("gpt-4.1-nano", "o200k_base", true, Some(("openai_prefix", 1024)), false),
    ("gpt-4.5-preview", "o200k_base", true, Some(("openai_prefix", 1024)), false),
    ("gpt-4.5", "o200k_base", false, Some(("openai_prefix", 1024)), false),
    ("o1", "o200k_base", true, Some(("openai_prefix", 1024)), false),
    ("o1-mini", "o200k_base", true, Some(("openai_prefix", 1024)), false),
    ("o1-2024-12-17", "o200k_base", true, Some(("openai_prefix", 1024)), false),
    ("o3", "o200k_base", true, Some(("openai_prefix", 1024)), false),
    ("o3-mini", "o200k_base", true, Some(("openai_prefix", 1024)), false),
    ("o3-pro", "o200k_base", true, Some(("openai_prefix", 1024)), false),
    ("o4-mini", "o200k_base", true, Some(("openai_prefix", 1024)), false),
    ("o4-mini-2025-04-16", "o200k_base", true, Some(("openai_prefix", 1024)), false),
    ("o4", "o200k_base", false, None, false),
    ("gpt-5", "o200k_base", true, Some(("openai_prefix", 1024)), false),
    ("gpt-5-2025-08-07", "o200k_base", true, Some(("openai_prefix", 1024)), false),
    ("gpt-5-mini", "o200k_base", true, Some(("openai_prefix", 1024)), false),
    ("gpt-5-nano", "o200k_base", true, Some(("openai_prefix", 1024)), false),
    ("gpt-5.1", "o200k_base", true, Some(("openai_prefix", 1024)), false),
    ("gpt-5.2", "o200k_base", true, Some(("openai_prefix", 1024)), false),
    ("gpt-5.4", "o200k_base", true, Some(("openai_prefix", 1024)), false),
    ("gpt-5.5", "o200k_base", true, Some(("openai_prefix", 1024)), false),
    ("gpt-5.6", "o200k_base", true, Some(("openai_breakpoints", 1024)), false),
    ("gpt-5.7-mini", "o200k_base", true, Some(("openai_breakpoints", 1024)), false),
    ("gpt-6", "o200k_base", false, Some(("openai_breakpoints", 1024)), false),
    ("gpt-7-mini", "o200k_base", false, Some(("openai_breakpoints", 1024)), false),
    ("gpt-oss-120b", "o200k_harmony", true, None, false),
    ("openai/gpt-oss-20b", "o200k_harmony", true, None, false),
    ("gpt-4", "cl100k_base", true, None, false),
    ("gpt-4-turbo", "cl100k_base", true, None, false),
    ("gpt-4-0613", "cl100k_base", true, None, false),
    ("gpt-4-32k", "cl100k_base", true, None, false),
    ("gpt-4-1106-preview", "cl100k_base", true, None, false),
    ("gpt-3.5-turbo", "cl100k_base", true, None, false),
    ("gpt-3.5-turbo-0125", "cl100k_base", true, None, false),
    ("gpt-35-turbo", "cl100k_base", true, Some(("openai_breakpoints", 1024)), false),
    ("text-embedding-3-small", "cl100k_base", true, None, false),
    ("text-embedding-3-large", "cl100k_base", true, None, false),
    ("text-embedding-ada-002", "cl100k_base", true, None, false),
    ("davinci-002", "cl100k_base", true, None, false),
    ("babbage-002", "cl100k_base", true, None, false),
    ("ft:gpt-4o-mini-2024-07-18:acme::abc", "o200k_base", true, Some(("openai_prefix", 1024)), false),
    ("ft:gpt-3.5-turbo-0125:org::x", "cl100k_base", true, None, false),
    ("gpt-40", "o200k_base", false, Some(("openai_breakpoints", 1024)), false),
    ("omni-moderation-latest", "o200k_base", false, None, false),
    ("claude-opus-4-7", "o200k_base", false, Some(("anthropic_cache_control", 2048)), true),
    ("claude-opus-4.7", "o200k_base", false, Some(("anthropic_cache_control", 2048)), true),
    ("claude-opus-4-7@20260416", "o200k_base", false, Some(("anthropic_cache_control", 2048)), true),
    ("claude-opus-4-8", "o200k_base", false, Some(("anthropic_cache_control", 1024)), true),
    ("claude-opus-4-6", "o200k_base", false, Some(("anthropic_cache_control", 4096)), false),
    ("claude-opus-4-5-20251101", "o200k_base", false, Some(("anthropic_cache_control", 4096)), false),
    ("claude-opus-4-1-20250805", "o200k_base", false, Some(("anthropic_cache_control", 1024)), false),
    ("claude-opus-4-20250514", "o200k_base", false, Some(("anthropic_cache_control", 1024)), false),
    ("claude-opus-5", "o200k_base", false, Some(("anthropic_cache_control", 512)), true),
    ("claude-opus-5-20260901", "o200k_base", false, Some(("anthropic_cache_control", 512)), true),
    ("claude-opus-5-5", "o200k_base", false, Some(("anthropic_cache_control", 512)), true),
    ("claude-sonnet-4-20250514", "o200k_base", false, Some(("anthropic_cache_control", 1024)), false),
    ("claude-sonnet-4-5-20250929", "o200k_base", false, Some(("anthropic_cache_control", 1024)), false),
    ("claude-sonnet-4-6", "o200k_base", false, Some(("anthropic_cache_control", 1024)), false),
    ("claude-sonnet-5", "o200k_base", false, Some(("anthropic_cache_control", 1024)), true),
    ("claude-sonnet-5-5", "o200k_base", false, Some(("anthropic_cache_control", 1024)), true),
    ("claude-haiku-4-5", "o200k_base", false, Some(("anthropic_cache_control", 4096)), false),
    ("claude-haiku-4-5-20251001", "o200k_base", false, Some(("anthropic_cache_control", 4096)), false),
    ("claude-haiku-5-5", "o200k_base", false, Some(("anthropic_cache_control", 1024)), true),
    ("claude-fable-5-1", "o200k_base", false, Some(("anthropic_cache_control", 512)), true),
    ("claude-mythos-5", "o200k_base", false, Some(("anthropic_cache_control", 512)), true),
    ("claude-3-5-haiku-20241022", "o200k_base", false, Some(("anthropic_cache_control", 2048)), false),
    ("claude-3-haiku-20240307", "o200k_base", false, Some(("anthropic_cache_control", 2048)), false),
    ("claude-3-5-sonnet-20241022", "o200k_base", false, Some(("anthropic_cache_control", 1024)), false),
    ("claude-3-7-sonnet-20250219", "o200k_base", false, Some(("anthropic_cache_control", 1024)), false),
    ("claude-3-opus-20240229", "o200k_base", false, Some(("anthropic_cache_control", 1024)), false),
    ("anthropic.claude-3-5-haiku-20241022-v1:0", "o200k_base", false, Some(("anthropic_cache_control", 2048)), false),
    ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "o200k_base", false, Some(("anthropic_cache_control", 1024)), false),
    ("publishers/anthropic/models/claude-opus-4-7@20260416", "o200k_base", false, Some(("anthropic_cache_control", 2048)), true),
    ("gemini-2.5-pro", "o200k_base", false, Some(("gemini_implicit", 2048)), false),
    ("gemini-2.5-flash", "o200k_base", false, Some(("gemini_implicit", 2048)), false),
    ("gemini-2.5-flash-lite", "o200k_base", false, Some(("gemini_implicit", 2048)), false),
    ("models/gemini-2.5-flash", "o200k_base", false, Some(("gemini_implicit", 2048)), false),
    ("publishers/google/models/gemini-2.5-flash@001", "o200k_base", false, Some(("gemini_implicit", 2048)), false),
    ("gemini-2.0-flash", "o200k_base", false, None, false),
    ("gemini-2.0-flash-001", "o200k_base", false, None, false),
    ("gemini-2.0-flash-lite", "o200k_base", false, None, false),
    ("gemini-1.5-pro", "o200k_base", false, None, false),
    ("gemini-3.1-pro", "o200k_base", false, Some(("gemini_implicit", 4096)), false),
    ("gemini-3.5-flash", "o200k_base", false, Some(("gemini_implicit", 4096)), false),
    // Was None: the old code read "3-pro-preview" as no version. Gemini 3.x caches from
    // 4,096 tokens like every other 3.x id.
    ("gemini-3-pro-preview", "o200k_base", false, Some(("gemini_implicit", 4096)), false),
    ("gemini-embedding-001", "o200k_base", false, None, false),
    ("deepseek-v3.2", "o200k_base", false, None, false),
    ("llama-3.1-8b-instant", "o200k_base", false, None, false),
    ("mistral-large-latest", "o200k_base", false, None, false),
    ("grok-4", "o200k_base", false, None, false),
    ("", "o200k_base", false, None, false),
];

#[test]
fn lookups_answer_as_the_code_rules_did() {
    let mut wrong = Vec::new();
    for &(id, encoding, exact, cache, new_claude) in OLD {
        let f = model_facts(id);
        let tokenizer = match (encoding, exact) {
            ("o200k_base", true) => TokenizerName::O200kBase,
            ("o200k_harmony", true) => TokenizerName::O200kHarmony,
            ("cl100k_base", true) => TokenizerName::Cl100kBase,
            ("o200k_base", false) => TokenizerName::Estimate,
            other => panic!("{id}: {other:?}"),
        };
        let got = (
            f.tokenizer,
            f.cache.map(|c| (c.rule.name(), c.min_tokens)),
            f.text_scale.is_some(),
        );
        if got != (tokenizer, cache, new_claude) {
            wrong.push(format!(
                "{id}: got {got:?}, want {:?}",
                (tokenizer, cache, new_claude)
            ));
        }
        if let Some(s) = f.text_scale {
            assert_eq!(s, (13, 10), "{id}");
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn providers_of_models() {
    assert_eq!(model_facts("gpt-4o-mini").provider, Some("openai"));
    assert_eq!(
        model_facts("us.anthropic.claude-sonnet-4-5-20250929-v1:0").provider,
        Some("anthropic")
    );
    assert_eq!(
        model_facts("models/gemini-2.5-flash").provider,
        Some("gemini")
    );
    assert_eq!(model_facts("llama-3.1-8b-instant").provider, None);
}
