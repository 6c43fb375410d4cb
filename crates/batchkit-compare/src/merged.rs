//! Reading one merged line of `batchkit join`: its id, status and answer (the `output_text`
//! literal, verbatim), and the usage its `result` reports.

use std::borrow::Cow;

use batchkit_join::{Status, Usage};
use batchkit_line::prelude::*;
use batchkit_line::{Code, Diagnostic, Severity};

/// What a merged line holds for the comparison.
pub(crate) struct Merged<'a> {
    /// The decoded id.
    pub id: Cow<'a, str>,
    /// The status.
    pub status: Status,
    /// `output_text`'s JSON literal as it stands in the line (`null` when absent); for an
    /// answer that is a tool call (no text), the call's input as a JSON string literal.
    pub answer: Cow<'a, [u8]>,
}

/// One line read.
pub(crate) enum LineRead<'a> {
    Merged(Merged<'a>),
    /// Not a merged line: what is wrong with it.
    Problem(Diagnostic),
    /// A JSON object with a string id but no `status` and no `request`: a result line, not a
    /// merged line.
    NotMerged,
}

/// Usage and stop reason of one line's result.
pub(crate) struct Billing {
    pub usage: Usage,
    pub model: Option<String>,
    pub stop: Option<String>,
}

const NULL: &[u8] = b"null";

/// Reads merged line `content`.
pub(crate) fn read_line(content: &[u8]) -> (LineRead<'_>, Option<Billing>) {
    type Head = Option<(String, Status, Option<String>)>;
    let fail = |d: Diagnostic| -> Result<Head, Box<Diagnostic>> { Err(Box::new(d)) };
    let read =
        batchkit_line::read(content, |root| {
            if !root.is_object() {
                let found = batchkit_line::type_name(&root);
                return fail(Diagnostic::unplaced(
                    Code::NotObject,
                    Severity::Error,
                    batchkit_json::syntax::not_object(found),
                ));
            }
            let id = match root.get("custom_id") {
                None => {
                    return fail(
                        Diagnostic::unplaced(
                            Code::MissingField,
                            Severity::Error,
                            batchkit_json::syntax::missing_field("/custom_id"),
                        )
                        .with_pointer("/custom_id"),
                    )
                }
                Some(v) => match v.as_str() {
                    Some(s) => s.to_string(),
                    None => {
                        return fail(
                            Diagnostic::unplaced(
                                Code::WrongType,
                                Severity::Error,
                                batchkit_json::syntax::wrong_type(
                                    "/custom_id",
                                    "a string",
                                    batchkit_line::type_name(&v),
                                ),
                            )
                            .with_pointer("/custom_id"),
                        )
                    }
                },
            };
            let status =
                match root.get("status") {
                    None if root.get("request").is_none() => return Ok(None),
                    None => {
                        return fail(
                            Diagnostic::unplaced(
                                Code::MissingField,
                                Severity::Error,
                                batchkit_json::syntax::missing_field("/status"),
                            )
                            .with_pointer("/status"),
                        )
                    }
                    Some(v) => match v.as_str().and_then(Status::parse) {
                        Some(s) => s,
                        None => {
                            let names = Status::ALL.map(Status::as_str).join(", ");
                            return fail(Diagnostic::unplaced(
                        Code::UnsupportedValue,
                        Severity::Error,
                        format!("\"status\" is not a status of batchkit join (one of: {names})"),
                    )
                    .with_pointer("/status"));
                        }
                    },
                };
            let stop = root
                .get("stop_reason")
                .and_then(|v| v.as_str().map(str::to_string));
            Ok(Some((id, status, stop)))
        });
    let (id, status, stop) = match read {
        Err(e) => return (LineRead::Problem(Diagnostic::of_syntax(e)), None),
        Ok(Err(d)) => return (LineRead::Problem(*d), None),
        Ok(Ok(None)) => return (LineRead::NotMerged, None),
        Ok(Ok(Some(x))) => x,
    };
    let (mut answer, mut result): (&[u8], _) = (NULL, None);
    let (mut seen_answer, mut seen_result) = (false, false);
    for (key, (start, end)) in top_members(content) {
        // The first of a repeated key, as every batchkit command reads it.
        if key == b"output_text" && !seen_answer {
            answer = &content[start..end];
            seen_answer = true;
        } else if key == b"result" && !seen_result {
            result = Some(&content[start..end]);
            seen_result = true;
        }
    }
    let mut answer = Cow::Borrowed(answer);
    if *answer == *NULL {
        if let Some(call) = result
            .filter(|r| r.first() == Some(&b'{'))
            .and_then(batchkit_join::result_tool_call)
        {
            answer = Cow::Owned(serde_json::to_vec(&call).unwrap_or_else(|_| NULL.to_vec()));
        }
    }
    let billing = result
        .filter(|r| r.first() == Some(&b'{'))
        .and_then(batchkit_join::result_usage)
        .map(|(usage, model)| Billing { usage, model, stop });
    // The id borrowed from the line when its literal has no escapes (nearly always).
    let id = match find_plain(content, &id) {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(id),
    };
    (LineRead::Merged(Merged { id, status, answer }), billing)
}

/// `id` borrowed from `content`, where `"custom_id":"<id>"` stands without escapes.
fn find_plain<'a>(content: &'a [u8], id: &str) -> Option<&'a str> {
    for (key, (start, end)) in top_members(content) {
        if key == b"custom_id" {
            let inner = &content[start + 1..end - 1];
            return (inner == id.as_bytes())
                .then(|| std::str::from_utf8(inner).ok())
                .flatten();
        }
    }
    None
}

fn ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
        i += 1;
    }
    i
}

/// End of the string literal starting at `i` (its opening quote), past the closing quote.
fn string_end(b: &[u8], mut i: usize) -> usize {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// End of the JSON value starting at `i`.
fn value_end(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(b'"') => string_end(b, i),
        Some(b'{') | Some(b'[') => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = string_end(b, j);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return j + 1;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            b.len()
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n')
            {
                j += 1;
            }
            j
        }
    }
}

/// The members of the top-level object of `b` (valid JSON): each key's literal without its
/// quotes, and its value's byte range.
fn top_members(b: &[u8]) -> impl Iterator<Item = (&[u8], (usize, usize))> {
    let mut i = ws(b, 0) + 1;
    std::iter::from_fn(move || {
        i = ws(b, i);
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let kend = string_end(b, i);
        let key = &b[i + 1..kend - 1];
        i = ws(b, kend);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let vstart = ws(b, i + 1);
        let vend = value_end(b, vstart);
        i = ws(b, vend);
        if b.get(i) == Some(&b',') {
            i += 1;
        }
        Some((key, (vstart, vend)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_and_their_values() {
        let line = br#" { "a" : {"x":[1,"}"]} , "b":"q\"}", "c":12.5,"d":null}"#;
        let got: Vec<(String, String)> = top_members(line)
            .map(|(k, (s, e))| {
                (
                    String::from_utf8_lossy(k).into_owned(),
                    String::from_utf8_lossy(&line[s..e]).into_owned(),
                )
            })
            .collect();
        let want = [
            ("a", r#"{"x":[1,"}"]}"#),
            ("b", r#""q\"}""#),
            ("c", "12.5"),
            ("d", "null"),
        ];
        assert_eq!(
            got,
            want.map(|(k, v)| (k.to_string(), v.to_string())).to_vec()
        );
    }

    #[test]
    fn a_merged_line_and_its_problems() {
        let line = br#"{"custom_id":"r\u0031","status":"succeeded","request":{},"result":{"custom_id":"r1","response":{"status_code":200,"body":{"model":"gpt-4o-mini","usage":{"prompt_tokens":3,"completion_tokens":2},"choices":[{"message":{"content":"hi"},"finish_reason":"stop"}]}}},"output_text":"hi","stop_reason":"stop"}"#;
        let (r, billing) = read_line(line);
        let LineRead::Merged(m) = r else {
            panic!("not read")
        };
        assert_eq!(
            (&*m.id, m.status, &*m.answer),
            ("r1", Status::Succeeded, &b"\"hi\""[..])
        );
        let b = billing.unwrap();
        assert_eq!((b.usage.input, b.usage.output), (3, 2));
        assert_eq!(b.model.as_deref(), Some("gpt-4o-mini"));
        let code = |l: &[u8]| match read_line(l).0 {
            LineRead::Problem(d) => d.code,
            _ => panic!("no problem"),
        };
        assert_eq!(
            code(b"{\"custom_id\":1,\"status\":\"succeeded\"}"),
            Code::WrongType
        );
        assert_eq!(code(b"[1]"), Code::NotObject);
        assert_eq!(code(b"{\"custom_id\":\"x\""), Code::InvalidJson);
        assert_eq!(
            code(b"{\"custom_id\":\"x\",\"status\":\"ok\"}"),
            Code::UnsupportedValue
        );
        assert!(matches!(
            read_line(br#"{"custom_id":"x","response":{}}"#).0,
            LineRead::NotMerged
        ));
    }
}
