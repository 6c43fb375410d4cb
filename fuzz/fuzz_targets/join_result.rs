//! Arbitrary bytes as one result line (and as one request line) through the join's parsers.
//!
//! Invariants checked:
//!
//! - no panic;
//! - a line that yields an id (result or request) is valid UTF-8 and one JSON value: only
//!   such lines are ever copied into a merged line;
//! - a result line with an id has a status;
//! - the answer text, when there is one, is a JSON string literal (it is copied verbatim into
//!   the merged line's `output_text`).
#![no_main]

use batchkit_join::hot::{request_id, result_status, result_text};
use libfuzzer_sys::fuzz_target;

fn is_json(line: &[u8]) -> bool {
    std::str::from_utf8(line).is_ok()
        && serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok()
}

fuzz_target!(|data: &[u8]| {
    let (id, status) = result_status(data);
    if id.is_some() {
        assert!(is_json(data), "a result line with an id is not JSON");
        assert!(status.is_some(), "a result line with an id has no status");
    }
    if let Some(text) = result_text(data) {
        assert!(is_json(data), "answer text taken from a line that is not JSON");
        let v: serde_json::Value = serde_json::from_slice(&text)
            .unwrap_or_else(|e| panic!("output_text is not JSON ({e}): {text:?}"));
        assert!(v.is_string(), "output_text is not a string: {v}");
    }
    if request_id(data).is_some() {
        assert!(is_json(data), "a request line with an id is not JSON");
    }
});
