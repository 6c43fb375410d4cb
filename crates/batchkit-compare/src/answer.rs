//! Comparing two answers: as text, then as JSON values (batchkit-json's reading: first of
//! duplicate keys, every RFC 8259 number), field by field.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::Value;

use crate::{FieldAgreement, Outcome};

/// More distinct top-level fields than this are counted as `(other)`: a bound on a table a
/// hostile file could grow.
pub(crate) const MAX_FIELDS: usize = 256;

/// The text of an answer literal: a string's content, `None` for `null`, the JSON text itself
/// for any other value.
fn text(literal: &[u8]) -> Option<Cow<'_, [u8]>> {
    match literal.first() {
        Some(b'"') => {
            let inner = &literal[1..literal.len().saturating_sub(1)];
            if !inner.contains(&b'\\') {
                return Some(Cow::Borrowed(inner));
            }
            match serde_json::from_slice::<String>(literal) {
                Ok(s) => Some(Cow::Owned(s.into_bytes())),
                Err(_) => Some(Cow::Borrowed(literal)),
            }
        }
        None => None,
        _ if literal == b"null" => None,
        _ => Some(Cow::Borrowed(literal)),
    }
}

/// An answer parsed as JSON, when it is JSON.
fn json(text: Option<&[u8]>) -> Option<Value> {
    let t = text?;
    // Prose fails on its first byte; only what may be JSON is parsed.
    let first = t.iter().find(|b| !b.is_ascii_whitespace())?;
    if !matches!(
        first,
        b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n'
    ) {
        return None;
    }
    batchkit_json::parse_value(t).ok().map(|p| p.value)
}

/// Whether two JSON values are equal: objects whatever their key order, numbers by value
/// (`1` and `1.0` are equal).
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                x == y
            } else if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
                x == y
            } else {
                x.as_f64() == y.as_f64()
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn escape(key: &str) -> String {
    format!("/{}", key.replace('~', "~0").replace('/', "~1"))
}

/// Field agreement tallies: fixed pointers (`--fields`), or every top-level field seen.
pub(crate) struct FieldTally<'f> {
    pointers: &'f [String],
    pub stats: BTreeMap<String, FieldAgreement>,
}

impl<'f> FieldTally<'f> {
    pub fn new(pointers: &'f [String]) -> Self {
        FieldTally {
            pointers,
            stats: BTreeMap::new(),
        }
    }

    fn entry(&mut self, field: &str) -> &mut FieldAgreement {
        let key = if self.stats.contains_key(field)
            || !self.pointers.is_empty()
            || self.stats.len() < MAX_FIELDS
        {
            field
        } else {
            "(other)"
        };
        self.stats
            .entry(key.to_string())
            .or_insert_with(|| FieldAgreement {
                field: key.to_string(),
                ..FieldAgreement::default()
            })
    }

    /// Counts the fields of two JSON answers; returns the pointers that differ.
    fn count(&mut self, a: &Value, b: &Value) -> Vec<String> {
        let mut differ = Vec::new();
        let mut one = |this: &mut Self, field: String, va: Option<&Value>, vb: Option<&Value>| {
            let e = this.entry(&field);
            match (va, vb) {
                (Some(x), Some(y)) => {
                    e.both += 1;
                    if json_eq(x, y) {
                        e.agree += 1;
                    } else {
                        differ.push(field);
                    }
                }
                (Some(_), None) => {
                    e.only_a += 1;
                    differ.push(field);
                }
                (None, Some(_)) => {
                    e.only_b += 1;
                    differ.push(field);
                }
                (None, None) => {}
            }
        };
        if !self.pointers.is_empty() {
            for p in self.pointers {
                one(self, p.clone(), a.pointer(p), b.pointer(p));
            }
        } else if let (Value::Object(x), Value::Object(y)) = (a, b) {
            let mut keys: Vec<&String> = x
                .keys()
                .chain(y.keys().filter(|k| !x.contains_key(*k)))
                .collect();
            keys.sort();
            for k in keys {
                one(self, escape(k), x.get(k), y.get(k));
            }
        }
        differ
    }
}

/// Compares two answers both sides gave (`output_text` literals): `same`, `json_equal` or
/// `differ`, and the fields that differ.
pub(crate) fn compare_answers(
    a: &[u8],
    b: &[u8],
    fields: &mut FieldTally<'_>,
) -> (Outcome, Vec<String>) {
    let (ta, tb) = (text(a), text(b));
    if ta == tb {
        if let Some(v) = json(ta.as_deref()) {
            fields.count(&v, &v);
        }
        return (Outcome::Same, Vec::new());
    }
    match (json(ta.as_deref()), json(tb.as_deref())) {
        (Some(x), Some(y)) => {
            let differ = fields.count(&x, &y);
            if json_eq(&x, &y) {
                (Outcome::JsonEqual, Vec::new())
            } else {
                (Outcome::Differ, differ)
            }
        }
        _ => (Outcome::Differ, Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Vec<u8> {
        serde_json::to_vec(s).unwrap()
    }

    #[test]
    fn text_then_json() {
        let mut f = FieldTally::new(&[]);
        let mut cmp = |a: &str, b: &str| compare_answers(&lit(a), &lit(b), &mut f);
        assert_eq!(cmp("yes", "yes").0, Outcome::Same);
        assert_eq!(cmp("yes", "no").0, Outcome::Differ);
        assert_eq!(
            cmp(r#"{"a":1,"b":[1,2]}"#, r#"{ "b":[1,2.0], "a":1.0 }"#).0,
            Outcome::JsonEqual
        );
        let (o, d) = cmp(r#"{"a":1,"b":2,"c":3}"#, r#"{"a":1,"b":3,"d":3}"#);
        assert_eq!(
            (o, d),
            (Outcome::Differ, vec!["/b".into(), "/c".into(), "/d".into()])
        );
        // Escaped and plain texts that read the same are the same text.
        assert_eq!(
            compare_answers(br#""a\u0062""#, b"\"ab\"", &mut f).0,
            Outcome::Same
        );
        assert_eq!(compare_answers(b"null", b"null", &mut f).0, Outcome::Same);
        assert_eq!(compare_answers(b"null", b"\"\"", &mut f).0, Outcome::Differ);
        let a = &f.stats["/a"];
        assert_eq!((a.both, a.agree), (2, 2));
        let b = &f.stats["/b"];
        assert_eq!((b.both, b.agree), (2, 1));
        assert_eq!((f.stats["/c"].only_a, f.stats["/d"].only_b), (1, 1));
    }

    #[test]
    fn pointers() {
        let ptrs = vec!["/label".to_string(), "/x/y".to_string()];
        let mut f = FieldTally::new(&ptrs);
        let (o, d) = compare_answers(
            &lit(r#"{"label":"a","x":{"y":1},"z":1}"#),
            &lit(r#"{"label":"a","x":{"y":2},"z":2}"#),
            &mut f,
        );
        assert_eq!((o, d), (Outcome::Differ, vec!["/x/y".to_string()]));
        assert_eq!(f.stats.len(), 2);
        assert_eq!((f.stats["/label"].agree, f.stats["/x/y"].agree), (1, 0));
    }
}
