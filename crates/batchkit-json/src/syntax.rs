//! What every command says about a line that is not one JSON value: one code, one message
//! and one column per cause, whichever parser found the problem first.
//!
//! `validate` parses with simd-json and hands its error to [`describe`]; commands that read
//! with serde_json call [`syntax_error`] on the failing line, which reads it again with
//! simd-json so that the words are the same.

use simd_json::ErrorType;

/// The two ways a line can fail to be JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyntaxKind {
    /// Not valid UTF-8 (`invalid_utf8`).
    InvalidUtf8,
    /// Not one complete JSON value (`invalid_json`).
    InvalidJson,
}

impl SyntaxKind {
    /// The finding's code.
    pub fn code(self) -> &'static str {
        match self {
            SyntaxKind::InvalidUtf8 => "invalid_utf8",
            SyntaxKind::InvalidJson => "invalid_json",
        }
    }
}

/// Why a line is not one JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Which code.
    pub kind: SyntaxKind,
    /// 1-based byte column where the problem was found, when one is known.
    pub column: Option<u64>,
    /// What is wrong, for people.
    pub message: String,
}

/// What every command says about a run of `n` blank lines (`empty_line`), lines `first` to
/// `last`: between requests (an error: providers reject it) or at the end of the file (a
/// warning: providers accept it).
pub fn blank_lines(n: u64, first: u64, last: u64, at_end: bool) -> String {
    let which = if n == 1 {
        "a blank line".to_string()
    } else {
        format!("{n} blank lines (lines {first}-{last})")
    };
    if at_end {
        format!("{which} at the end of the file; providers accept them")
    } else {
        format!("{which} between requests; batch files take one JSON request per line and no empty lines")
    }
}

/// What every command says about a line of `len` bytes over `--max-line-bytes` (`max`)
/// (`line_too_large`).
pub fn line_too_large(len: u64, max: u64) -> String {
    format!("line is {len} bytes, over --max-line-bytes ({max} bytes)")
}

/// How [`result_file`] ends: what tells its finding apart.
const RESULT_FILE: &str = ", not a request: a result file; to match results with their requests use `batchkit join --requests REQUESTS --results RESULTS --out MERGED`";

/// What every command says about the first result line of a file given as requests (`what`
/// names its layout: "an OpenAI-style output or error line").
pub fn result_file(what: &str) -> String {
    format!("this is {what}{RESULT_FILE}")
}

/// Whether `message` is [`result_file`]'s.
pub fn is_result_file(message: &str) -> bool {
    message.starts_with("this is ") && message.ends_with(RESULT_FILE)
}

/// What every command says, once at the end, about the `n` (more than one) result lines of a
/// file given as requests.
pub fn result_lines(n: u64) -> String {
    format!("{n} lines are batch results, not requests (the first is reported above); give this file to `batchkit join --results`")
}

/// What every command says about a line of `len` bytes whose parse needs about `need` bytes,
/// more than the `limit` of `--memory-limit` allows (`line_too_large`); sizes as shown.
pub fn too_big_to_parse(len: usize, need: &str, limit: &str) -> String {
    format!(
        "line is {len} bytes and needs about {need} to parse, more than --memory-limit {limit} allows; \
         raise --memory-limit"
    )
}

/// What every command says about a line that is JSON but not an object (`not_object`);
/// `found` names what it is ("an array", "a string", ...).
pub fn not_object(found: &str) -> String {
    format!("the line is {found}, not a JSON object; each line must be one request object")
}

/// How [`not_object`] names a JSON value.
pub fn kind_of(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// How a field's JSON pointer is shown in messages: `/body/model` as `body.model`.
pub fn shown(pointer: &str) -> String {
    pointer.trim_start_matches('/').replace('/', ".")
}

/// What every command says about a required field that is absent (`missing_field`).
pub fn missing_field(pointer: &str) -> String {
    format!("missing required field `{}`", shown(pointer))
}

/// What every command says about a field of the wrong JSON type (`wrong_type`): `want` and
/// `found` as "a string", "a number", ...
pub fn wrong_type(pointer: &str, want: &str, found: &str) -> String {
    format!("`{}` must be {want}, found {found}", shown(pointer))
}

/// The UTF-8 problem of `content`, if any.
pub fn utf8_error(content: &[u8]) -> Option<SyntaxError> {
    let e = std::str::from_utf8(content).err()?;
    let column = e.valid_up_to() as u64 + 1;
    Some(SyntaxError {
        kind: SyntaxKind::InvalidUtf8,
        column: Some(column),
        message: format!("the line is not valid UTF-8 (first bad byte at column {column})"),
    })
}

/// Why `content` is not one JSON value, or `None` when it is (checked with simd-json on a
/// copy; for error paths, not for every line).
pub fn syntax_error(content: &[u8]) -> Option<SyntaxError> {
    if let Some(e) = utf8_error(content) {
        return Some(e);
    }
    if crate::depth_exceeds(content) {
        return Some(SyntaxError {
            kind: SyntaxKind::InvalidJson,
            column: None,
            message: crate::depth_message(),
        });
    }
    let mut copy = content.to_vec();
    match simd_json::to_tape(&mut copy) {
        Ok(_) => None,
        Err(e) => Some(describe(&e, content)),
    }
}

/// Describes a simd-json error on `content` for people.
pub fn describe(err: &simd_json::Error, content: &[u8]) -> SyntaxError {
    if let Some(e) = utf8_error(content) {
        return e;
    }
    let e = err.error();
    // A raw control character (a NUL, say) is refused by simd-json as a bare "Syntax" error
    // at the start of the line: say what and where it is.
    if let Some((at, b, in_str)) = first_control(content) {
        if matches!(e, ErrorType::Syntax) || at <= err.index() {
            let what = if in_str {
                "a string holds a raw control character"
            } else {
                "a raw control character stands outside any string"
            };
            return SyntaxError {
                kind: SyntaxKind::InvalidJson,
                column: Some(at as u64 + 1),
                message: format!(
                    "not valid JSON: {what} (byte 0x{b:02x} at column {}; escape it as \\u{b:04x})",
                    at + 1
                ),
            };
        }
    }
    if let Some(at) = trailing_data(content) {
        let column = at as u64 + 1;
        return SyntaxError {
            kind: SyntaxKind::InvalidJson,
            column: Some(column),
            message: format!(
                "not valid JSON: trailing data after the JSON value at column {column}"
            ),
        };
    }
    let column = Some(err.index() as u64 + 1);
    let fallback;
    let last = content
        .iter()
        .rev()
        .find(|b| !b.is_ascii_whitespace())
        .copied();
    let opens = content.first().is_some_and(|&b| b == b'{' || b == b'[');
    let what = match e {
        _ if opens && !matches!(last, Some(b'}') | Some(b']')) => {
            "the line ends before the JSON value does (truncated?)"
        }
        ErrorType::Eof => "the line ends before the JSON value does (truncated?)",
        ErrorType::TrailingData => "there is data after the JSON value",
        ErrorType::UnterminatedString => "a string is not terminated",
        ErrorType::InvalidEscape | ErrorType::InvalidUnicodeEscape => {
            "a string has an invalid escape sequence"
        }
        ErrorType::InvalidUnicodeCodepoint => "a string has an invalid \\u code point",
        ErrorType::InvalidNumber | ErrorType::InvalidExponent => "a number is malformed",
        ErrorType::ExpectedObjectContent | ErrorType::ExpectedArrayContent => {
            "an object or array is malformed (trailing comma?)"
        }
        ErrorType::ExpectedObjectColon => "an object key is not followed by ':'",
        ErrorType::ExpectedMapComma | ErrorType::ExpectedArrayComma => {
            "a ',' is missing between values"
        }
        ErrorType::KeyMustBeAString | ErrorType::BadKeyType => {
            "an object key is not a double-quoted string"
        }
        ErrorType::InputTooLarge => "the line is too large for the JSON parser (4 GiB)",
        ErrorType::DepthLimitExceeded => {
            return SyntaxError {
                kind: SyntaxKind::InvalidJson,
                column: None,
                message: crate::depth_message(),
            }
        }
        _ if err.index() + 1 >= content.len() && err.character().is_none() => {
            "the line ends before the JSON value does (truncated?)"
        }
        _ => {
            fallback = match err.character() {
                Some(c) => format!("unexpected {c:?} at column {}", err.index() + 1),
                None => format!("{e:?} at column {}", err.index() + 1),
            };
            &fallback
        }
    };
    let message = if content.contains(&0) {
        format!("not valid JSON: {what} (the line contains NUL bytes)")
    } else if content.contains(&b'\'') && !content.contains(&b'"') {
        format!("not valid JSON: {what} (single quotes are not JSON string delimiters)")
    } else {
        format!("not valid JSON: {what}")
    };
    SyntaxError {
        kind: SyntaxKind::InvalidJson,
        column,
        message,
    }
}

/// Where the first byte after one complete JSON value stands, when `content` starts with a
/// complete value and holds more than whitespace after it (`{"a":1} x`, `{"a":1}{"b":2}`).
fn trailing_data(content: &[u8]) -> Option<usize> {
    let mut values =
        serde_json::Deserializer::from_slice(content).into_iter::<serde::de::IgnoredAny>();
    values.next()?.ok()?;
    let end = values.byte_offset();
    let rest = content.get(end..)?;
    rest.iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .map(|p| end + p)
}

/// The first byte below 0x20 that JSON does not allow where it stands (inside a string, any;
/// outside, all but tab, line feed and carriage return), with whether it is in a string.
fn first_control(content: &[u8]) -> Option<(usize, u8, bool)> {
    let mut in_str = false;
    let mut i = 0;
    while i < content.len() {
        let b = content[i];
        if b < 0x20 && (in_str || !matches!(b, b'\t' | b'\n' | b'\r')) {
            return Some((i, b, in_str));
        }
        match b {
            b'\\' if in_str => i += 1,
            b'"' => in_str = !in_str,
            _ => {}
        }
        i += 1;
    }
    None
}

/// The problem of a line serde_json refused: simd-json's description when it refuses it too,
/// else serde_json's own words (a number serde_json cannot hold, say).
pub fn from_serde(content: &[u8], e: &serde_json::Error) -> SyntaxError {
    if crate::is_depth_error(e) {
        return SyntaxError {
            kind: SyntaxKind::InvalidJson,
            column: None,
            message: crate::depth_message(),
        };
    }
    if let Some(s) = syntax_error(content) {
        return s;
    }
    let msg = e.to_string();
    let msg = msg.split(" at line ").next().unwrap_or(&msg);
    SyntaxError {
        kind: SyntaxKind::InvalidJson,
        column: Some(e.column() as u64),
        message: format!("not valid JSON: {msg}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_message_per_cause() {
        let e = syntax_error(br#"{"custom_id":"b", "method":"POST",}"#).unwrap();
        assert_eq!(e.kind, SyntaxKind::InvalidJson);
        assert!(e.message.starts_with("not valid JSON: "), "{}", e.message);
        let e = syntax_error(br#"{"a":"x"#).unwrap();
        assert!(e.message.contains("truncated"), "{}", e.message);
        let e = syntax_error(b"{\"a\":\"h\xffi\"}").unwrap();
        assert_eq!(e.kind, SyntaxKind::InvalidUtf8);
        assert_eq!(e.column, Some(8));
        assert!(syntax_error(br#"{"a":[1,2,{"b":null}]}"#).is_none());
        let e = syntax_error(b"{\"x\": \"a\0b\"}").unwrap();
        assert_eq!(e.column, Some(9));
        assert!(e.message.contains("raw control character"), "{}", e.message);
        assert!(
            e.message.contains("0x00") && e.message.contains("\\u0000"),
            "{}",
            e.message
        );
        let e = syntax_error(b"{\"x\":\x01 1}").unwrap();
        assert_eq!(e.column, Some(6));
        assert!(e.message.contains("outside any string"), "{}", e.message);
        // Data after a complete value is named as such, at the column where it starts.
        for (line, column) in [
            (&br#"{"a":1} x"#[..], 9),
            (br#"{"a":1}{"b":2}"#, 8),
            (br#"[1,2]  ,"#, 8),
            (b"\"s\"\t1", 5),
        ] {
            let e = syntax_error(line).unwrap();
            assert_eq!(e.column, Some(column), "{line:?}");
            assert_eq!(
                e.message,
                format!("not valid JSON: trailing data after the JSON value at column {column}")
            );
            let se = serde_json::from_slice::<serde_json::Value>(line).unwrap_err();
            assert_eq!(from_serde(line, &se), e);
        }
        assert!(syntax_error(b"{\"a\":1} \r\n").is_none());
        let e = syntax_error(br#"{"a":1"#).unwrap();
        assert!(e.message.contains("truncated"), "{}", e.message);
        // serde_json's refusal gets simd-json's words.
        let bad = br#"{"a":1,}"#;
        let se = serde_json::from_slice::<serde_json::Value>(bad).unwrap_err();
        assert_eq!(from_serde(bad, &se), syntax_error(bad).unwrap());
    }
}
