//! The one JSON engine: simd-json's tape, on per-thread buffers reused from line to line.

use std::cell::RefCell;

use batchkit_json::syntax::SyntaxError;
use simd_json::prelude::*;
use simd_json::tape::{Object, Tape, Value};
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

/// [`read`], with the means to find where a parsed string stands in `content` (to copy an
/// id byte for byte, say).
pub fn read_located<R>(
    content: &[u8],
    f: impl FnOnce(Value<'_, '_>, &Located<'_>) -> R,
) -> Result<R, SyntaxError> {
    let mut f = Some(f);
    let r = parse_once(content, &mut |root, base| {
        let at = Located {
            content,
            base: Some(base),
            copy: None,
        };
        (f.take().expect("called once"))(root, &at)
    });
    match r {
        Ok(r) => Ok(r),
        Err(e) if is_number_error(&e) => match batchkit_json::sanitize_numbers(content) {
            // Numbers were rewritten: positions in the copy are not the line's.
            Some(clean) => parse_once(&clean, &mut |root, base| {
                let at = Located {
                    content,
                    base: None,
                    copy: Some((base, &clean)),
                };
                (f.take().expect("called once"))(root, &at)
            })
            .map_err(|e| batchkit_json::syntax::describe(&e, content)),
            None => Err(batchkit_json::syntax::describe(&e, content)),
        },
        Err(e) => Err(batchkit_json::syntax::describe(&e, content)),
    }
}

/// Where strings parsed by [`read_located`] stand in the line.
pub struct Located<'c> {
    content: &'c [u8],
    /// Address of the parsed copy's first byte, when its positions are the line's.
    base: Option<usize>,
    /// Otherwise the address of the parsed copy and the rewritten line it was made from.
    copy: Option<(usize, &'c [u8])>,
}

impl Located<'_> {
    /// The byte range of the string literal (quotes included) that `key`'s string value was
    /// parsed from, `key` a member of the top-level object.
    ///
    /// simd-json unescapes a string where it stands, so the parsed text starts where the
    /// literal's first character did; a line whose numbers had to be rewritten is scanned
    /// instead.
    pub fn top_level_string(&self, key: &str, parsed: &str) -> Option<(usize, usize)> {
        let start = match self.base {
            Some(base) => (parsed.as_ptr() as usize)
                .checked_sub(base)?
                .checked_sub(1)?,
            None => scan_top_level(self.content, key)?,
        };
        let len = literal_len(self.content.get(start..)?)?;
        Some((start, len))
    }
}

impl Located<'_> {
    /// The byte range of the string literal (quotes included) that `parsed`, any string value
    /// or key of the parse, was read from, wherever it stands in the line.
    ///
    /// In a line whose numbers had to be rewritten, the literal's place in the rewritten copy
    /// is carried back over the numbers that changed length (strings are never rewritten).
    pub fn string_range(&self, parsed: &str) -> Option<(usize, usize)> {
        let start = match (self.base, self.copy) {
            (Some(base), _) => (parsed.as_ptr() as usize)
                .checked_sub(base)?
                .checked_sub(1)?,
            (None, Some((base, clean))) => {
                let at = (parsed.as_ptr() as usize)
                    .checked_sub(base)?
                    .checked_sub(1)?;
                map_offset(self.content, clean, at)?
            }
            (None, None) => return None,
        };
        let len = literal_len(self.content.get(start..)?)?;
        Some((start, len))
    }
}

/// Where offset `at` of `clean` (a copy of `orig` with some numbers rewritten) stands in
/// `orig`: both are walked together, strings and punctuation byte for byte, numbers token by
/// token.
fn map_offset(orig: &[u8], clean: &[u8], at: usize) -> Option<usize> {
    let is_num = |b: u8| matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E');
    let (mut i, mut j) = (0usize, 0usize);
    while j < clean.len() {
        if j == at {
            return Some(i);
        }
        let b = clean[j];
        if b == b'"' {
            let len = literal_len(&clean[j..])?;
            if orig.get(i..i + len)? != &clean[j..j + len] {
                return None;
            }
            if at > j && at < j + len {
                return Some(i + (at - j));
            }
            i += len;
            j += len;
        } else if b == b'-' || b.is_ascii_digit() {
            while j < clean.len() && is_num(clean[j]) {
                j += 1;
            }
            while i < orig.len() && is_num(orig[i]) {
                i += 1;
            }
        } else {
            if orig.get(i) != Some(&b) {
                return None;
            }
            i += 1;
            j += 1;
        }
    }
    None
}

/// Length of the string literal at the start of `s` (quotes included).
fn literal_len(s: &[u8]) -> Option<usize> {
    if s.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    while i < s.len() {
        match s[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Start of the string value of top-level member `key`, found by scanning the line.
fn scan_top_level(s: &[u8], key: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = 0;
    let mut want_value = false;
    while i < s.len() {
        match s[i] {
            b'"' => {
                let len = literal_len(&s[i..])?;
                if want_value && depth == 1 {
                    return Some(i);
                }
                let is_key = depth == 1
                    && s[i + len..].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b':');
                want_value = is_key && &s[i + 1..i + len - 1] == key.as_bytes();
                i += len;
                continue;
            }
            b'{' | b'[' => {
                depth += 1;
                want_value = false;
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' => want_value = false,
            _ => {}
        }
        i += 1;
    }
    None
}

fn is_number_error(e: &simd_json::Error) -> bool {
    matches!(
        e.error(),
        ErrorType::InvalidNumber | ErrorType::InvalidExponent
    )
}

/// [`read`], with simd-json's own error (for callers that describe it later, off the hot
/// path).
pub fn read_raw<R>(
    content: &[u8],
    f: impl FnOnce(Value<'_, '_>) -> R,
) -> Result<R, simd_json::Error> {
    let mut f = Some(f);
    let mut call = |root: Value<'_, '_>, _base: usize| (f.take().expect("called once"))(root);
    let r = parse_once(content, &mut call);
    match &r {
        // Every number RFC 8259 allows is read: one beyond f64 is clamped, the same way in
        // every command (batchkit-json).
        Err(e) if is_number_error(e) => match batchkit_json::sanitize_numbers(content) {
            Some(clean) => parse_once(&clean, &mut call),
            None => r,
        },
        _ => r,
    }
}

/// One parse on the thread's buffers; `f` gets the root and the address of the parsed copy.
fn parse_once<R>(
    content: &[u8],
    f: &mut dyn FnMut(Value<'_, '_>, usize) -> R,
) -> Result<R, simd_json::Error> {
    // Long lines are parsed one at a time, and their buffers freed afterwards, so the
    // memory they take is counted once whatever the thread count.
    let _gate = batchkit_io::budget::big_line_gate(content.len());
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        let Scratch { buf, buffers, tape } = &mut *s;
        buf.clear();
        buf.extend_from_slice(content);
        buf.resize(content.len() + simd_json::INPUT_PADDING, 0);
        let base = buf.as_ptr() as usize;
        let mut t: Tape<'_> = tape.take().unwrap_or_else(Tape::null).reset();
        let r = match simd_json::fill_tape_padded(buf, content.len(), buffers, &mut t) {
            Ok(()) => Ok(f(t.as_value(), base)),
            Err(e) => Err(e),
        };
        *tape = Some(t.reset());
        if content.len() > batchkit_io::budget::BIG_LINE {
            *s = Scratch::new();
        }
        r
    })
}

/// The value of a parsed tree, the first of a repeated key kept (as every command reads).
pub fn to_serde(v: Value<'_, '_>) -> serde_json::Value {
    use serde_json::{Map, Value as Json};
    if let Some(o) = v.as_object() {
        let mut m = Map::new();
        for (k, child) in o.iter() {
            if !m.contains_key(k) {
                m.insert(k.to_string(), to_serde(child));
            }
        }
        Json::Object(m)
    } else if let Some(a) = v.as_array() {
        Json::Array(a.iter().map(to_serde).collect())
    } else if let Some(s) = v.as_str() {
        Json::String(s.to_string())
    } else if let Some(x) = v.as_u64() {
        Json::from(x)
    } else if let Some(x) = v.as_i64() {
        Json::from(x)
    } else if let Some(x) = v.as_f64() {
        serde_json::Number::from_f64(x).map_or(Json::Null, Json::Number)
    } else if let Some(b) = v.as_bool() {
        Json::Bool(b)
    } else {
        Json::Null
    }
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

/// The fields of `obj` in order; with `dedup` (a line [`has_duplicate_keys`]) only the
/// first of a repeated key, the one every command reads.
pub fn entries<'t, 'i>(obj: &Object<'t, 'i>, dedup: bool) -> Entries<'t, 'i> {
    Entries {
        it: obj.iter(),
        seen: dedup.then(std::collections::HashSet::new),
    }
}

/// Iterator of [`entries`].
pub struct Entries<'t, 'i> {
    it: simd_json::tape::object::Iter<'t, 'i>,
    seen: Option<std::collections::HashSet<&'i str>>,
}

impl<'t, 'i> Iterator for Entries<'t, 'i> {
    type Item = (&'i str, Value<'t, 'i>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (k, v) = self.it.next()?;
            if self.seen.as_mut().is_none_or(|seen| seen.insert(k)) {
                return Some((k, v));
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
        let keys = read(br#"{"a":1,"b":2,"a":3}"#, |v| {
            let o = v.as_object().unwrap();
            let all: Vec<_> = entries(&o, false).map(|(k, _)| k.to_string()).collect();
            let first: Vec<_> = entries(&o, true)
                .map(|(k, v)| format!("{k}{}", v.as_u64().unwrap()))
                .collect();
            (all, first)
        })
        .unwrap();
        assert_eq!(keys.0, ["a", "b", "a"]);
        assert_eq!(keys.1, ["a1", "b2"]);
    }

    #[test]
    fn ids_are_found_where_they_stand() {
        let lines: [&[u8]; 4] = [
            br#"{"custom_id":"r\"1","body":{"n":1}}"#,
            br#"{ "body" : {"custom_id":"no"}, "custom_id" : "r\u00e91" }"#,
            // A number beyond f64 makes the parse read a rewritten copy: found by scanning.
            br#"{"n":1e400,"x":"custom_id","custom_id":"after"}"#,
            br#"{"custom_id":"","n":-1e-400}"#,
        ];
        for line in lines {
            let (id, range) = read_located(line, |root, at| {
                let id = root.get("custom_id").unwrap().into_string().unwrap();
                (id.to_string(), at.top_level_string("custom_id", id))
            })
            .unwrap();
            let (start, len) = range.unwrap();
            let literal = &line[start..start + len];
            let decoded: String = serde_json_free_decode(literal);
            assert_eq!(decoded, id, "{}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn nested_strings_are_found_where_they_stand() {
        let lines: [&[u8]; 3] = [
            br#"{"a":{"b":[1,{"t":"x\"y"}]},"n":2}"#,
            br#"{"n":1e400,"a":{"b":[-1e-999,{"t":"x\u0041"}]},"m":99e999}"#,
            br#"{"a":{"b":[123456789e-500,{"t":""}]}}"#,
        ];
        for line in lines {
            let (text, range) = read_located(line, |root, at| {
                let arr = root.get("a").unwrap().get("b").unwrap();
                let t = arr.as_array().unwrap().get(1).unwrap();
                let t = t.get("t").unwrap().into_string().unwrap();
                (t.to_string(), at.string_range(t))
            })
            .unwrap();
            let (start, len) = range.unwrap();
            let literal = &line[start..start + len];
            assert_eq!(serde_json_free_decode(literal), text);
            assert_eq!(&line[start + len..start + len + 1], b"}");
        }
    }

    /// The literal's text decoded by the engine itself.
    fn serde_json_free_decode(literal: &[u8]) -> String {
        read(literal, |v| v.into_string().unwrap().to_string()).unwrap()
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
