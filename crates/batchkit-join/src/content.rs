//! Joining by content: a Vertex AI output row carries no id unless its request had one, but it
//! echoes the request it answers (`{"status", "processed_time", "request", "response"}`;
//! source: providers.toml [vertex].sources). The join then matches the echoed `request` to
//! the request line's `request` by a canonical form of both, hashed to a [`ContentKey`].
//!
//! The canonical form reads the two alike wherever the service may have re-serialised the
//! request: object members in any order (a key named twice counts once, the first), names in
//! `snake_case` or `camelCase` (`generation_config` is `generationConfig`), a member whose
//! value is `null` as absent, numbers by value (`1`, `1.0` and `1e0` are one number), strings
//! by their decoded value (`"\u0041"` is `"A"`). Arrays keep their order.
//!
//! Identical requests have one key: the join matches them in order, the first result to the
//! first request not yet matched (see `probe::FirstLines::claim_content`), and cannot tell
//! which of them a given answer belongs to.

use batchkit_line::prelude::*;
use batchkit_line::Value;
use xxhash_rust::xxh3::Xxh3;

/// The marker byte that opens a content key: never the first byte of a decoded id (ids are
/// UTF-8 text, where 0xFF never occurs), so content keys and ids share the join's tables
/// without ever being equal.
const MARK: u8 = 0xFF;

/// Bytes of a [`ContentKey`]: the marker and a 128-bit hash of the canonical form.
pub(crate) const KEY_LEN: usize = 17;

/// The key a request is joined by when it has no id.
pub(crate) type ContentKey = [u8; KEY_LEN];

/// Whether `key`, a key of the join's tables, is a content key rather than an id.
pub(crate) fn is_content_key(key: &[u8]) -> bool {
    key.len() == KEY_LEN && key[0] == MARK
}

/// The content key of `request` (the `request` object of a Vertex request line, or the one a
/// Vertex output row echoes); `None` when it is not an object.
pub(crate) fn content_key(request: Value<'_, '_>) -> Option<ContentKey> {
    request.as_object()?;
    let mut h = Xxh3::new();
    canonical(request, &mut h, &mut Vec::new());
    let mut key = [0u8; KEY_LEN];
    key[0] = MARK;
    key[1..].copy_from_slice(&h.digest128().to_le_bytes());
    Some(key)
}

/// A member name as the canonical form reads it: ASCII letters folded to lower case and `_`
/// left out, so `max_output_tokens` and `maxOutputTokens` are one name.
fn fold_name(name: &str, out: &mut Vec<u8>) {
    out.clear();
    out.extend(
        name.bytes()
            .filter(|b| *b != b'_')
            .map(|b| b.to_ascii_lowercase()),
    );
}

fn tag(h: &mut Xxh3, t: u8, n: u64) {
    h.update(&[t]);
    h.update(&n.to_le_bytes());
}

/// Feeds the canonical form of `v` to `h` (types tagged, lengths given, so no two forms run
/// together). `scratch` is reused for folded names.
fn canonical(v: Value<'_, '_>, h: &mut Xxh3, scratch: &mut Vec<u8>) {
    if let Some(o) = v.as_object() {
        // Members by folded name, the first of a name kept, nulls left out.
        let mut members: Vec<(Vec<u8>, Value<'_, '_>)> = Vec::with_capacity(o.len());
        for (k, child) in o.iter() {
            if child.is_null() {
                continue;
            }
            fold_name(k, scratch);
            if members.iter().any(|(n, _)| *n == *scratch) {
                continue;
            }
            members.push((scratch.clone(), child));
        }
        members.sort_by(|a, b| a.0.cmp(&b.0));
        tag(h, b'{', members.len() as u64);
        for (name, child) in members {
            tag(h, b'k', name.len() as u64);
            h.update(&name);
            canonical(child, h, scratch);
        }
    } else if let Some(a) = v.as_array() {
        tag(h, b'[', a.len() as u64);
        for e in a.iter() {
            canonical(e, h, scratch);
        }
    } else if let Some(s) = v.as_str() {
        tag(h, b's', s.len() as u64);
        h.update(s.as_bytes());
    } else if let Some(b) = v.as_bool() {
        tag(h, b'b', u64::from(b));
    } else if v.is_null() {
        tag(h, b'n', 0);
    } else {
        number(v, h);
    }
}

/// A number by value: an integral value as an integer (whether written `2`, `2.0` or `2e0`),
/// any other as its `f64` bits.
fn number(v: Value<'_, '_>, h: &mut Xxh3) {
    let int: Option<i128> = if let Some(u) = v.as_u64() {
        Some(i128::from(u))
    } else if let Some(i) = v.as_i64() {
        Some(i128::from(i))
    } else {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 1.7e38)
            .map(|f| f as i128)
    };
    match int {
        Some(i) => {
            h.update(b"i");
            h.update(&i.to_le_bytes());
        }
        None => {
            let f = v.as_f64().unwrap_or(0.0);
            h.update(b"f");
            h.update(&f.to_bits().to_le_bytes());
        }
    }
}

/// The content key of the JSON object `json` (tests).
#[cfg(test)]
pub(crate) fn content_key_of(json: &[u8]) -> ContentKey {
    batchkit_line::read(json, content_key)
        .expect("JSON")
        .expect("an object")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(line: &str) -> Option<ContentKey> {
        batchkit_line::read(line.as_bytes(), content_key).unwrap()
    }

    #[test]
    fn one_request_however_it_is_written() {
        let a = key(
            r#"{"contents":[{"role":"user","parts":[{"text":"Hi A"}]}],"generationConfig":{"temperature":0.5,"maxOutputTokens":256}}"#,
        );
        let same = [
            // Another key order and case, numbers and strings written otherwise, a null.
            r#"{"generation_config":{"max_output_tokens":256.0,"temperature":5e-1},"contents":[{"parts":[{"text":"Hi \u0041"}],"role":"user"}]}"#,
            r#"{"contents":[{"role":"user","parts":[{"text":"Hi A"}]}],"generationConfig":{"temperature":0.50,"maxOutputTokens":2.56e2,"topK":null}}"#,
            // A name repeated: the first counts.
            r#"{"contents":[{"role":"user","parts":[{"text":"Hi A"}]}],"generationConfig":{"temperature":0.5,"maxOutputTokens":256},"contents":[]}"#,
        ];
        assert!(a.is_some());
        for s in same {
            assert_eq!(key(s), a, "{s}");
        }
        let other = [
            r#"{"contents":[{"role":"user","parts":[{"text":"Hi a"}]}],"generationConfig":{"temperature":0.5,"maxOutputTokens":256}}"#,
            r#"{"contents":[{"role":"user","parts":[{"text":"Hi A"}]}],"generationConfig":{"temperature":0.5,"maxOutputTokens":257}}"#,
            r#"{"contents":[{"role":"user","parts":[{"text":"Hi A"}]}],"generationConfig":{"temperature":0.5,"maxOutputTokens":"256"}}"#,
            r#"{"contents":[{"parts":[{"text":"Hi A"}],"role":"user"},{"role":"user"}],"generationConfig":{"temperature":0.5,"maxOutputTokens":256}}"#,
            r#"{"contents":[{"role":"user","parts":[{"text":"Hi A"}]}],"generationConfig":{"temperature":0.5}}"#,
        ];
        for s in other {
            assert_ne!(key(s), a, "{s}");
        }
        assert_eq!(key("[1]"), None);
        assert!(is_content_key(&a.unwrap()));
        assert!(!is_content_key(b"custom-id-of-17by"));
    }
}
