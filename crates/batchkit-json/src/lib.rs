//! One reading of JSON for every batchkit command.
//!
//! The same bytes must mean the same thing in `validate`, `tokens`, `shard` and `join`, so
//! the rules that JSON leaves open are decided once, here:
//!
//! - **Duplicate keys**: the first value wins, and the key is reported (`duplicate_key`,
//!   a warning). RFC 8259 says names *should* be unique; parsers disagree on which value
//!   they keep, which is exactly why a provider may read a different request than you.
//! - **Numbers**: every number RFC 8259 allows is accepted. Integers beyond 64 bits become
//!   floats; a magnitude beyond `f64` (`1e400`) reads as the largest finite float, and a
//!   tiny one (`1e-400`) as zero.
//! - **Depth**: at most [`MAX_DEPTH`] nested arrays and objects, with a message that says so.
//!
//! ```
//! let p = batchkit_json::parse_value(br#"{"a":1,"a":2,"n":1e400}"#).unwrap();
//! assert_eq!(p.value["a"], 1);
//! assert_eq!(p.duplicate_keys, vec!["/a".to_string()]);
//! assert_eq!(p.value["n"].as_f64(), Some(f64::MAX));
//! ```

pub mod syntax;

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Deepest nesting of arrays and objects any command reads.
pub const MAX_DEPTH: usize = 100;

/// What every command says about a line nested too deeply.
pub fn depth_message() -> String {
    format!(
        "not valid JSON for batchkit: arrays and objects are nested deeper than {MAX_DEPTH} levels"
    )
}

/// Whether `bytes` nest arrays and objects deeper than [`MAX_DEPTH`] (strings skipped). Fast
/// when the line has few brackets, which is nearly always.
pub fn depth_exceeds(bytes: &[u8]) -> bool {
    let opens = bytes.iter().filter(|&&b| b == b'[' || b == b'{').count();
    if opens <= MAX_DEPTH {
        return false;
    }
    let mut depth = 0usize;
    let mut in_str = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_str {
            match b {
                b'\\' => i += 1,
                b'"' => in_str = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_str = true,
                b'[' | b'{' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return true;
                    }
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        i += 1;
    }
    false
}

/// What every command says about a key that appears twice in one object.
pub fn duplicate_key_message(pointer: &str) -> String {
    format!(
        "key {pointer:?} appears more than once in its object; batchkit reads the first value, other parsers may read the last"
    )
}

/// A parsed value and what was unusual about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The value, with the first of duplicate keys kept.
    pub value: Value,
    /// JSON pointers of keys that appeared more than once in their object.
    pub duplicate_keys: Vec<String>,
}

/// Parses one JSON value by the rules above.
pub fn parse_value(bytes: &[u8]) -> Result<Parsed, serde_json::Error> {
    match parse_raw(bytes) {
        Err(e) if e.to_string().contains("number out of range") => match sanitize_numbers(bytes) {
            Some(clean) => parse_raw(&clean),
            None => Err(e),
        },
        r => r,
    }
}

fn parse_raw(bytes: &[u8]) -> Result<Parsed, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let mut dups = Vec::new();
    let mut path = String::new();
    let value = Seed {
        path: &mut path,
        depth: 0,
        dups: &mut dups,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(Parsed {
        value,
        duplicate_keys: dups,
    })
}

/// Whether a serde_json error is the depth limit.
pub fn is_depth_error(e: &serde_json::Error) -> bool {
    let s = e.to_string();
    s.contains(DEPTH_TEXT) || s.contains("recursion limit")
}

const DEPTH_TEXT: &str = "nested deeper than the limit";

/// One value's reading: `path` is the JSON pointer of the value, a buffer shared down the
/// tree (pushed and cut back, copied only for a repeated key).
struct Seed<'a> {
    path: &'a mut String,
    depth: usize,
    dups: &'a mut Vec<String>,
}

fn escape_pointer(key: &str) -> Cow<'_, str> {
    if key.contains(['~', '/']) {
        Cow::Owned(key.replace('~', "~0").replace('/', "~1"))
    } else {
        Cow::Borrowed(key)
    }
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        if self.depth >= MAX_DEPTH {
            return Err(de::Error::custom(DEPTH_TEXT));
        }
        let mut out = Vec::new();
        let len = self.path.len();
        loop {
            use std::fmt::Write as _;
            let _ = write!(self.path, "/{}", out.len());
            let next = seq.next_element_seed(Seed {
                path: &mut *self.path,
                depth: self.depth + 1,
                dups: &mut *self.dups,
            });
            self.path.truncate(len);
            match next? {
                Some(v) => out.push(v),
                None => return Ok(Value::Array(out)),
            }
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        if self.depth >= MAX_DEPTH {
            return Err(de::Error::custom(DEPTH_TEXT));
        }
        let mut out = Map::new();
        let len = self.path.len();
        while let Some(key) = map.next_key::<String>()? {
            self.path.push('/');
            self.path.push_str(&escape_pointer(&key));
            if out.contains_key(&key) {
                let skipped = map.next_value::<IgnoredAny>();
                self.dups.push(self.path.clone());
                self.path.truncate(len);
                skipped?;
            } else {
                let v = map.next_value_seed(Seed {
                    path: &mut *self.path,
                    depth: self.depth + 1,
                    dups: &mut *self.dups,
                });
                self.path.truncate(len);
                out.insert(key, v?);
            }
        }
        Ok(Value::Object(out))
    }
}

/// A copy of `bytes` with every number whose magnitude `f64` cannot hold replaced (beyond
/// the largest float: the largest float, with its sign; below the smallest: `0`), or `None`
/// when no number needs it. Strings are left alone.
pub fn sanitize_numbers(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0usize;
    let mut i = 0usize;
    let mut in_str = false;
    while i < bytes.len() {
        let b = bytes[i];
        if in_str {
            match b {
                b'\\' => i += 2,
                b'"' => {
                    in_str = false;
                    i += 1;
                }
                _ => i += 1,
            }
            continue;
        }
        if b == b'"' {
            in_str = true;
            i += 1;
            continue;
        }
        if b == b'-' || b.is_ascii_digit() {
            let start = i;
            while i < bytes.len()
                && matches!(bytes[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
            {
                i += 1;
            }
            let tok = &bytes[start..i];
            if let Some(rep) = std::str::from_utf8(tok).ok().and_then(replacement) {
                let o = out.get_or_insert_with(|| Vec::with_capacity(bytes.len()));
                o.extend_from_slice(&bytes[copied..start]);
                o.extend_from_slice(rep.as_bytes());
                copied = i;
            }
            continue;
        }
        i += 1;
    }
    let mut o = out?;
    o.extend_from_slice(&bytes[copied..]);
    Some(o)
}

fn replacement(tok: &str) -> Option<&'static str> {
    let is_float = tok.contains(['.', 'e', 'E']);
    let v: f64 = tok.parse().ok()?;
    if v.is_infinite() {
        return Some(if v < 0.0 {
            "-1.7976931348623157e308"
        } else {
            "1.7976931348623157e308"
        });
    }
    let mantissa = tok.split(['e', 'E']).next().unwrap_or("");
    if is_float && v == 0.0 && mantissa.bytes().any(|b| matches!(b, b'1'..=b'9')) {
        return Some("0");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_value_wins_everywhere() {
        let p = parse_value(br#"{"a":{"b":1,"b":[2]},"a":3,"c/d":[{"x":1,"x":2}]}"#).unwrap();
        assert_eq!(p.value, serde_json::json!({"a":{"b":1},"c/d":[{"x":1}]}));
        assert_eq!(p.duplicate_keys, vec!["/a/b", "/a", "/c~1d/0/x"]);
    }

    #[test]
    fn every_rfc_number_reads() {
        let p = parse_value(
            br#"[1e400,-1e400,1e-400,18446744073709551616,-9223372036854775809,"1e400"]"#,
        )
        .unwrap();
        let a = p.value.as_array().unwrap();
        assert_eq!(a[0].as_f64(), Some(f64::MAX));
        assert_eq!(a[1].as_f64(), Some(f64::MIN));
        assert_eq!(a[2].as_f64(), Some(0.0));
        assert_eq!(a[3].as_f64(), Some(18446744073709551616.0));
        assert!(a[4].as_f64().unwrap() < -9.2e18);
        assert_eq!(a[5], "1e400");
    }

    #[test]
    fn depth_is_limited_at_the_shared_limit() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse_value(ok.as_bytes()).is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let e = parse_value(deep.as_bytes()).unwrap_err();
        assert!(is_depth_error(&e), "{e}");
        assert!(!depth_exceeds(ok.as_bytes()));
        assert!(depth_exceeds(deep.as_bytes()));
        let in_strings = format!("[\"{}\"]", "[".repeat(300));
        assert!(!depth_exceeds(in_strings.as_bytes()));
    }

    #[test]
    fn sanitizing_leaves_strings_and_ordinary_numbers() {
        assert_eq!(sanitize_numbers(br#"{"a":"1e400","b":1.5}"#), None);
        assert_eq!(
            sanitize_numbers(br#"{"a":"x\"1e999","b":1e999}"#).unwrap(),
            br#"{"a":"x\"1e999","b":1.7976931348623157e308}"#
        );
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_serde_json_on_unique_keys(v in proptest::collection::btree_map("[a-c]{1,2}", 0i64..100, 0..6)) {
            let text = serde_json::to_vec(&v).unwrap();
            let p = parse_value(&text).unwrap();
            proptest::prop_assert_eq!(p.value, serde_json::from_slice::<Value>(&text).unwrap());
            proptest::prop_assert!(p.duplicate_keys.is_empty());
        }
    }
}
