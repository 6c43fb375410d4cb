//! Arbitrary bytes as one request line through `count_request`, under the models whose
//! counting paths differ (o200k, cl100k, embeddings, estimates, the line's own model).
//!
//! The first byte picks the `--model` override. Invariants checked:
//!
//! - no panic (deep nesting, huge numbers, bad base64 images, invalid UTF-8, ...);
//! - a counted line is valid UTF-8 JSON;
//! - an override is the model the count reports.
#![no_main]

use batchkit_tokens::count_request;
use libfuzzer_sys::fuzz_target;

const MODELS: [Option<&str>; 6] = [
    None,
    Some("gpt-4o-mini"),
    Some("gpt-4"),
    Some("text-embedding-3-small"),
    Some("claude-sonnet-4-5"),
    Some("gemini-2.5-flash"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&key, line)) = data.split_first() else {
        return;
    };
    let model = MODELS[key as usize % MODELS.len()];
    if let Ok(r) = count_request(line, model) {
        assert!(std::str::from_utf8(line).is_ok(), "counted a line that is not UTF-8");
        assert!(
            serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok(),
            "counted a line that is not JSON"
        );
        if let Some(m) = model {
            assert_eq!(r.model.as_deref(), Some(m), "the override is not the model counted");
        }
    }
});
