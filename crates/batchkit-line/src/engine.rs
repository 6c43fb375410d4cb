//! The one JSON engine: simd-json's tape, on per-thread buffers reused from line to line.

use std::cell::RefCell;

use batchkit_json::syntax::SyntaxError;
use simd_json::prelude::*;
use simd_json::tape::{Tape, Value};
use simd_json::{Buffers, ErrorType};

struct Scratch {
    buf: Vec<u8>,
    buffers: Buffers,
    tape: Option<Tape<'static>>,
}

impl Scratch {
    fn new() -> Self {
        Scratch {
            buf: Vec::new(),
            buffers: Buffers::with_max_depth(4096, batchkit_json::MAX_DEPTH),
            tape: Some(Tape::null().reset()),
        }
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::new());
}

/// Parses `content` (one line, without terminator or BOM) and calls `f` with its root value;
/// a line that is not one JSON value is described in the words every command uses.
pub fn read<R>(content: &[u8], f: impl FnOnce(Value<'_, '_>) -> R) -> Result<R, SyntaxError> {
    read_raw(content, f).map_err(|e| batchkit_json::syntax::describe(&e, content))
}

/// [`read`], with simd-json's own error (for callers that describe it later, off the hot
/// path).
pub fn read_raw<R>(
    content: &[u8],
    f: impl FnOnce(Value<'_, '_>) -> R,
) -> Result<R, simd_json::Error> {
    // Long lines are parsed one at a time, and their buffers freed afterwards, so the
    // memory they take is counted once whatever the thread count.
    let _gate = batchkit_io::budget::big_line_gate(content.len());
    let mut f = Some(f);
    let r = parse_once(content, &mut f);
    match &r {
        // Every number RFC 8259 allows is read: one beyond f64 is clamped, the same way in
        // every command (batchkit-json).
        Err(e)
            if matches!(
                e.error(),
                ErrorType::InvalidNumber | ErrorType::InvalidExponent
            ) =>
        {
            match batchkit_json::sanitize_numbers(content) {
                Some(clean) => parse_once(&clean, &mut f),
                None => r,
            }
        }
        _ => r,
    }
}

fn parse_once<R, F: FnOnce(Value<'_, '_>) -> R>(
    content: &[u8],
    f: &mut Option<F>,
) -> Result<R, simd_json::Error> {
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        let Scratch { buf, buffers, tape } = &mut *s;
        buf.clear();
        buf.extend_from_slice(content);
        buf.resize(content.len() + simd_json::INPUT_PADDING, 0);
        let mut t: Tape<'_> = tape.take().unwrap_or_else(Tape::null).reset();
        let r = match simd_json::fill_tape_padded(buf, content.len(), buffers, &mut t) {
            Ok(()) => Ok((f.take().expect("called once"))(t.as_value())),
            Err(e) => Err(e),
        };
        *tape = Some(t.reset());
        if content.len() > batchkit_io::budget::BIG_LINE {
            *s = Scratch::new();
        }
        r
    })
}

/// What a value is, in the words of messages ("a string", "an object", ...).
pub fn type_name(v: &Value<'_, '_>) -> &'static str {
    if v.is_null() {
        "null"
    } else if v.is_bool() {
        "a boolean"
    } else if v.is_number() {
        "a number"
    } else if v.is_str() {
        "a string"
    } else if v.is_array() {
        "an array"
    } else {
        "an object"
    }
}

/// Whether any object in `v` repeats a key. No allocation: most lines have no repeat, and
/// only then are pointers spelled out by [`duplicate_keys`].
pub fn has_duplicate_keys(v: Value<'_, '_>) -> bool {
    if let Some(obj) = v.as_object() {
        let n = obj.len();
        if n > 16 {
            // Hostile input: a set, not n² comparisons.
            let mut seen = std::collections::HashSet::with_capacity(n);
            if !obj.iter().all(|(k, _)| seen.insert(k)) {
                return true;
            }
        } else {
            let mut keys: [&str; 16] = [""; 16];
            for (i, (k, _)) in obj.iter().enumerate() {
                if keys[..i].contains(&k) {
                    return true;
                }
                keys[i] = k;
            }
        }
        obj.iter().any(|(_, child)| has_duplicate_keys(child))
    } else if let Some(arr) = v.as_array() {
        arr.iter()
            .any(|c| (c.as_object().is_some() || c.as_array().is_some()) && has_duplicate_keys(c))
    } else {
        false
    }
}

/// JSON pointers of keys that repeat in their object, anywhere in `v` (empty for nearly every
/// line, found without allocating).
pub fn duplicate_keys(v: Value<'_, '_>) -> Vec<String> {
    let mut out = Vec::new();
    if has_duplicate_keys(v) {
        spell_duplicates(v, &mut String::new(), &mut out);
    }
    out
}

fn spell_duplicates(v: Value<'_, '_>, path: &mut String, out: &mut Vec<String>) {
    if let Some(obj) = v.as_object() {
        let mut seen = std::collections::HashSet::with_capacity(obj.len());
        for (k, child) in obj.iter() {
            let len = path.len();
            path.push('/');
            if k.contains(['~', '/']) {
                path.push_str(&k.replace('~', "~0").replace('/', "~1"));
            } else {
                // The usual key: nothing to escape, nothing to allocate.
                path.push_str(k);
            }
            if !seen.insert(k) {
                out.push(path.clone());
            } else {
                spell_duplicates(child, path, out);
            }
            path.truncate(len);
        }
    } else if let Some(arr) = v.as_array() {
        for (i, child) in arr.iter().enumerate() {
            if child.as_object().is_some() || child.as_array().is_some() {
                let len = path.len();
                path.push('/');
                path.push_str(&i.to_string());
                spell_duplicates(child, path, out);
                path.truncate(len);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_of_duplicate_keys_and_big_numbers() {
        let (a, dups, n) = read(br#"{"a":1,"b":{"c":2,"c":3},"a":2,"n":1e400}"#, |v| {
            let o = v.as_object().unwrap();
            (
                o.get("a").and_then(|x| x.as_u64()),
                duplicate_keys(v),
                o.get("n").and_then(|x| x.as_f64()),
            )
        })
        .unwrap();
        assert_eq!(a, Some(1));
        assert_eq!(dups, vec!["/b/c".to_string(), "/a".to_string()]);
        assert_eq!(n, Some(f64::MAX));
    }

    #[test]
    fn refusals_in_the_shared_words() {
        let e = read(br#"{"custom_id":"b",}"#, |_| ()).unwrap_err();
        assert_eq!(
            e,
            batchkit_json::syntax::syntax_error(br#"{"custom_id":"b",}"#).unwrap()
        );
        let e = read(b"{\"a\":\"\xff\"}", |_| ()).unwrap_err();
        assert_eq!(e.kind.code(), "invalid_utf8");
        let deep = "[".repeat(200) + &"]".repeat(200);
        let e = read(deep.as_bytes(), |_| ()).unwrap_err();
        assert_eq!(e.message, batchkit_json::depth_message());
    }
}
