//! `--raise-max-tokens`: the output cap of a truncated request, raised in the line that goes
//! to the retry file, every other byte kept.
//!
//! The cap field is the one [`RequestLine::max_output`] reads: the first of the
//! shape's `max_output` fields in `styles.toml` that holds a non-negative integer, each step
//! of its path the first of duplicate keys, as the JSON engine reads them. Its number
//! literal is found exactly: the engine gives the position of the key's string literal
//! ([`batchkit_line::Located::string_range`]), and the value follows it after the `:`.

use batchkit_line::prelude::*;
use batchkit_line::{RequestLine, Value};
use batchkit_providers::models::model_facts;

/// Why a truncated request line goes to the retry file unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unchanged {
    /// Not a JSON object of a known shape, or none of its shape's cap fields is there.
    NoCap,
    /// A cap field is there, but none holds a non-negative integer (`1024.0`, `"1024"`).
    NotInteger,
    /// The cap already reaches the model's output limit: the retry would be cut again.
    AtLimit,
    /// Multiplied, the cap stays the same number (a cap of 0).
    Same,
}

/// What [`raise_cap`] makes of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Raise {
    /// The number literal at `at` (a byte range of the line) becomes `new`.
    Raised {
        /// Start and end of the literal in the line.
        at: (usize, usize),
        /// The cap the line sets.
        old: u64,
        /// The raised cap.
        new: u64,
    },
    /// The line stays as it is.
    Unchanged(Unchanged),
}

/// Checks a `--raise-max-tokens` factor: a finite number above 1.
pub fn check_factor(factor: f64) -> Result<f64, String> {
    if factor.is_finite() && factor > 1.0 {
        Ok(factor)
    } else {
        Err(format!(
            "--raise-max-tokens must be a finite number above 1 (got {factor})"
        ))
    }
}

/// `old` multiplied by `factor`, rounded up to an integer. A product within rounding error of
/// an integer is that integer (`1000 * 1.1` is 1100, not 1101).
pub fn multiply(old: u64, factor: f64) -> u64 {
    let p = old as f64 * factor;
    let n = p.round();
    let r = if (p - n).abs() <= 1e-12 * p.max(1.0) {
        n
    } else {
        p.ceil()
    };
    // `as` saturates: a product beyond u64 is u64::MAX.
    r as u64
}

/// The output cap of request line `content` (no terminator, no BOM) multiplied by `factor`
/// (above 1; see [`check_factor`]), rounded up, and held to the model's output limit where
/// `models.toml` knows the model the line names.
pub fn raise_cap(content: &[u8], factor: f64) -> Raise {
    let found = batchkit_line::read_located(content, |root, at| {
        let line = RequestLine::detect(root)?;
        let limit = line.model().and_then(|m| model_facts(m).max_output_tokens);
        let Some((path, v)) = line.max_output() else {
            let present = line
                .layout()
                .max_output
                .iter()
                .any(|p| line.get(p).is_some());
            return Some(Err(if present {
                Unchanged::NotInteger
            } else {
                Unchanged::NoCap
            }));
        };
        // The key the engine read the cap from: its literal's place in the line.
        let (key, _) = field(root, &path.0)?;
        Some(Ok((at.string_range(key), v, limit)))
    });
    let (key_at, old, limit) = match found {
        Ok(Some(Ok(f))) => f,
        Ok(Some(Err(why))) => return Raise::Unchanged(why),
        Ok(None) | Err(_) => return Raise::Unchanged(Unchanged::NoCap),
    };
    let Some(at) = key_at.and_then(|(s, len)| number_after_key(content, s + len)) else {
        return Raise::Unchanged(Unchanged::NotInteger);
    };
    // The literal must say exactly the number the engine read: digits only.
    let lit = &content[at.0..at.1];
    if !lit.iter().all(u8::is_ascii_digit)
        || (lit.len() > 1 && lit[0] == b'0')
        || std::str::from_utf8(lit).ok().and_then(|s| s.parse().ok()) != Some(old)
    {
        return Raise::Unchanged(Unchanged::NotInteger);
    }
    if limit.is_some_and(|l| old >= l) {
        return Raise::Unchanged(Unchanged::AtLimit);
    }
    let mut new = multiply(old, factor);
    if let Some(l) = limit {
        new = new.min(l);
    }
    if new <= old {
        return Raise::Unchanged(Unchanged::Same);
    }
    Raise::Raised { at, old, new }
}

/// The key and value at `keys` from `v`, each step the first member of that name (the
/// engine's rule for duplicate keys).
fn field<'t, 'i>(v: Value<'t, 'i>, keys: &[String]) -> Option<(&'i str, Value<'t, 'i>)> {
    let (last, steps) = keys.split_last()?;
    let parent = steps
        .iter()
        .try_fold(v, |v, k| v.as_object()?.get(k.as_str()))?;
    let obj = parent.as_object()?;
    let found = obj.iter().find(|(k, _)| *k == last.as_str());
    found
}

/// The byte range of the number literal that follows the key literal ending at `from`:
/// whitespace, `:`, whitespace, then the number.
fn number_after_key(s: &[u8], from: usize) -> Option<(usize, usize)> {
    let ws = |i: &mut usize| {
        while s
            .get(*i)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        {
            *i += 1;
        }
    };
    let mut i = from;
    ws(&mut i);
    if s.get(i) != Some(&b':') {
        return None;
    }
    i += 1;
    ws(&mut i);
    let start = i;
    while s
        .get(i)
        .is_some_and(|b| matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
    {
        i += 1;
    }
    (i > start).then_some((start, i))
}

/// Writes `raw` (a whole request line, `content` a slice of it) with the number at `at` of
/// `content` replaced by `new`.
pub(crate) fn spliced<'a>(
    raw: &'a [u8],
    content: &[u8],
    at: (usize, usize),
    new: &'a [u8],
) -> [&'a [u8]; 3] {
    let base = content.as_ptr() as usize - raw.as_ptr() as usize;
    [&raw[..base + at.0], new, &raw[base + at.1..]]
}

// Tests that read `Located` keep their positions honest: a line whose numbers had to be
// rewritten (a number beyond f64 elsewhere) is covered below.
#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The line with its cap raised, or `None` when unchanged.
    fn raised(line: &str, factor: f64) -> Result<String, Unchanged> {
        match raise_cap(line.as_bytes(), factor) {
            Raise::Raised { at, new, .. } => {
                let digits = new.to_string();
                let parts = spliced(line.as_bytes(), line.as_bytes(), at, digits.as_bytes());
                Ok(String::from_utf8(parts.concat()).unwrap())
            }
            Raise::Unchanged(w) => Err(w),
        }
    }

    #[test]
    fn every_shape_has_its_cap_raised() {
        // (line, factor, expected). Models without an output limit in models.toml, so only
        // the factor counts.
        let cases: &[(&str, f64, &str)] = &[
            // OpenAI chat: max_completion_tokens, or the older max_tokens.
            (
                r#"{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"o3","max_completion_tokens":1000,"messages":[]}}"#,
                2.0,
                r#"{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"o3","max_completion_tokens":2000,"messages":[]}}"#,
            ),
            (
                r#"{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-3.5-turbo","max_tokens":300}}"#,
                1.5,
                r#"{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-3.5-turbo","max_tokens":450}}"#,
            ),
            // Responses: max_output_tokens.
            (
                r#"{"custom_id":"r","method":"POST","url":"/v1/responses","body":{"model":"o3","input":"hi","max_output_tokens":1000}}"#,
                1.1,
                r#"{"custom_id":"r","method":"POST","url":"/v1/responses","body":{"model":"o3","input":"hi","max_output_tokens":1100}}"#,
            ),
            // Anthropic: params.max_tokens.
            (
                r#"{"custom_id":"c","params":{"model":"claude-3-haiku-20240307","max_tokens":1024,"messages":[{"role":"user","content":"hi"}]}}"#,
                2.0,
                r#"{"custom_id":"c","params":{"model":"claude-3-haiku-20240307","max_tokens":2048,"messages":[{"role":"user","content":"hi"}]}}"#,
            ),
            // Bedrock Claude: modelInput.max_tokens.
            (
                r#"{"recordId":"b1","modelInput":{"anthropic_version":"bedrock-2023-05-31","max_tokens":500,"messages":[]}}"#,
                3.0,
                r#"{"recordId":"b1","modelInput":{"anthropic_version":"bedrock-2023-05-31","max_tokens":1500,"messages":[]}}"#,
            ),
            // Bedrock Nova / Converse: inferenceConfig.maxTokens, or max_new_tokens.
            (
                r#"{"recordId":"b2","modelInput":{"messages":[],"inferenceConfig":{"temperature":0.5,"maxTokens":700}}}"#,
                2.0,
                r#"{"recordId":"b2","modelInput":{"messages":[],"inferenceConfig":{"temperature":0.5,"maxTokens":1400}}}"#,
            ),
            (
                r#"{"recordId":"b3","modelInput":{"messages":[],"inferenceConfig":{"max_new_tokens":10}}}"#,
                1.25,
                r#"{"recordId":"b3","modelInput":{"messages":[],"inferenceConfig":{"max_new_tokens":13}}}"#,
            ),
            // Bedrock Llama: max_gen_len.
            (
                r#"{"recordId":"b4","modelInput":{"prompt":"hi","max_gen_len":512,"temperature":0}}"#,
                2.0,
                r#"{"recordId":"b4","modelInput":{"prompt":"hi","max_gen_len":1024,"temperature":0}}"#,
            ),
            // Gemini inline requests and Vertex: generationConfig.maxOutputTokens.
            (
                r#"{"key":"g","request":{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"maxOutputTokens":8000}}}"#,
                2.0,
                r#"{"key":"g","request":{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"maxOutputTokens":16000}}}"#,
            ),
            (
                r#"{"request":{"contents":[],"generationConfig":{"temperature":1,"maxOutputTokens":100}}}"#,
                1.01,
                r#"{"request":{"contents":[],"generationConfig":{"temperature":1,"maxOutputTokens":101}}}"#,
            ),
            // Mistral, Together, xAI, Groq, vLLM: an OpenAI-like body.
            (
                r#"{"custom_id":"m","body":{"model":"mistral-small-latest","max_tokens":256,"messages":[]}}"#,
                2.0,
                r#"{"custom_id":"m","body":{"model":"mistral-small-latest","max_tokens":512,"messages":[]}}"#,
            ),
            (
                r#"{"custom_id":"t","body":{"model":"meta-llama/Llama-3.3-70B-Instruct-Turbo","max_tokens":99}}"#,
                1.5,
                r#"{"custom_id":"t","body":{"model":"meta-llama/Llama-3.3-70B-Instruct-Turbo","max_tokens":149}}"#,
            ),
            (
                r#"{"custom_id":"x","method":"POST","url":"/v1/chat/completions","body":{"model":"grok-3-mini","max_tokens":1000}}"#,
                2.0,
                r#"{"custom_id":"x","method":"POST","url":"/v1/chat/completions","body":{"model":"grok-3-mini","max_tokens":2000}}"#,
            ),
            (
                r#"{"custom_id":"q","method":"POST","url":"/v1/chat/completions","body":{"model":"llama-3.1-8b-instant","max_completion_tokens":64}}"#,
                2.0,
                r#"{"custom_id":"q","method":"POST","url":"/v1/chat/completions","body":{"model":"llama-3.1-8b-instant","max_completion_tokens":128}}"#,
            ),
        ];
        for (line, factor, want) in cases {
            assert_eq!(raised(line, *factor).as_deref(), Ok(*want), "{line}");
        }
    }

    #[test]
    fn capped_at_the_model_limit() {
        // models.toml: gpt-4o writes at most 16,384 tokens; claude-sonnet-4-5 64,000;
        // gemini-2.5-flash 65,536.
        let gpt = |n: u64| {
            format!(
                r#"{{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{{"model":"gpt-4o-2024-08-06","max_tokens":{n}}}}}"#
            )
        };
        assert_eq!(raised(&gpt(10_000), 2.0), Ok(gpt(16_384)));
        assert_eq!(raised(&gpt(4_000), 2.0), Ok(gpt(8_000)));
        assert_eq!(raised(&gpt(16_384), 2.0), Err(Unchanged::AtLimit));
        // A cap beyond the table's limit is not lowered.
        assert_eq!(raised(&gpt(20_000), 2.0), Err(Unchanged::AtLimit));
        let claude =
            r#"{"custom_id":"c","params":{"model":"claude-sonnet-4-5","max_tokens":40000}}"#;
        assert_eq!(
            raised(claude, 4.0).as_deref(),
            Ok(r#"{"custom_id":"c","params":{"model":"claude-sonnet-4-5","max_tokens":64000}}"#)
        );
        let gemini = r#"{"key":"g","request":{"model":"models/gemini-2.5-flash","generationConfig":{"maxOutputTokens":65536}}}"#;
        assert_eq!(raised(gemini, 2.0), Err(Unchanged::AtLimit));
    }

    #[test]
    fn lines_without_an_integer_cap_are_left_alone() {
        let no = |line: &str| raised(line, 2.0).unwrap_err();
        assert_eq!(
            no(r#"{"custom_id":"a","body":{"model":"o3"}}"#),
            Unchanged::NoCap
        );
        assert_eq!(no(r#"{"nothing":1}"#), Unchanged::NoCap);
        assert_eq!(no(r#"[1,2]"#), Unchanged::NoCap);
        assert_eq!(no(r#"{"custom_id":"#), Unchanged::NoCap);
        assert_eq!(
            no(r#"{"custom_id":"a","body":{"max_tokens":100.0}}"#),
            Unchanged::NotInteger
        );
        assert_eq!(
            no(r#"{"custom_id":"a","body":{"max_tokens":1e3}}"#),
            Unchanged::NotInteger
        );
        assert_eq!(
            no(r#"{"custom_id":"a","body":{"max_tokens":"100"}}"#),
            Unchanged::NotInteger
        );
        assert_eq!(
            no(r#"{"custom_id":"a","body":{"max_tokens":-5}}"#),
            Unchanged::NotInteger
        );
        assert_eq!(
            no(r#"{"custom_id":"a","body":{"max_tokens":null}}"#),
            Unchanged::NotInteger
        );
        assert_eq!(
            no(r#"{"custom_id":"a","body":{"max_tokens":0}}"#),
            Unchanged::Same
        );
        // Beyond u64: not a cap the engine reads as an integer.
        assert_eq!(
            no(r#"{"custom_id":"a","body":{"max_tokens":99999999999999999999999}}"#),
            Unchanged::NotInteger
        );
    }

    #[test]
    fn the_first_integer_cap_field_of_the_shape_is_raised() {
        // styles.toml order: max_completion_tokens before max_tokens, whatever the line's.
        assert_eq!(
            raised(
                r#"{"custom_id":"a","body":{"max_tokens":10,"max_completion_tokens":20}}"#,
                2.0
            )
            .as_deref(),
            Ok(r#"{"custom_id":"a","body":{"max_tokens":10,"max_completion_tokens":40}}"#)
        );
        // A field that is not an integer is passed over, as RequestLine::max_output_tokens
        // passes it.
        assert_eq!(
            raised(
                r#"{"custom_id":"a","body":{"max_completion_tokens":"x","max_tokens":10}}"#,
                2.0
            )
            .as_deref(),
            Ok(r#"{"custom_id":"a","body":{"max_completion_tokens":"x","max_tokens":20}}"#)
        );
    }

    #[test]
    fn duplicate_keys_first_wins() {
        assert_eq!(
            raised(
                r#"{"custom_id":"a","body":{"max_tokens":10,"max_tokens":500}}"#,
                2.0
            )
            .as_deref(),
            Ok(r#"{"custom_id":"a","body":{"max_tokens":20,"max_tokens":500}}"#)
        );
        // A duplicated parent: the first `body` is the one read.
        assert_eq!(
            raised(
                r#"{"custom_id":"a","body":{"max_tokens":10},"body":{"max_tokens":7}}"#,
                2.0
            )
            .as_deref(),
            Ok(r#"{"custom_id":"a","body":{"max_tokens":20},"body":{"max_tokens":7}}"#)
        );
        // The first duplicate not an integer: the engine reads that one, so no cap there.
        assert_eq!(
            raised(
                r#"{"custom_id":"a","body":{"max_tokens":"x","max_tokens":7}}"#,
                2.0
            ),
            Err(Unchanged::NotInteger)
        );
    }

    #[test]
    fn fields_inside_strings_and_elsewhere_are_not_touched() {
        let line = r#"{"custom_id":"\"max_tokens\":5","body":{"messages":[{"role":"user","content":"{\"max_tokens\": 5, \"body\":{\"max_tokens\":5}}"}],"metadata":{"max_tokens":5},"max_tokens":5}}"#;
        let want = r#"{"custom_id":"\"max_tokens\":5","body":{"messages":[{"role":"user","content":"{\"max_tokens\": 5, \"body\":{\"max_tokens\":5}}"}],"metadata":{"max_tokens":5},"max_tokens":10}}"#;
        assert_eq!(raised(line, 2.0).as_deref(), Ok(want));
        // A cap field only inside a nested object or a string: no cap.
        assert_eq!(
            raised(
                r#"{"custom_id":"a","body":{"x":{"max_tokens":5},"y":"\"max_tokens\":5"}}"#,
                2.0
            ),
            Err(Unchanged::NoCap)
        );
    }

    #[test]
    fn escaped_keys_spacing_and_big_numbers_elsewhere() {
        // The key written with an escape is the same key to the engine.
        assert_eq!(
            raised(r#"{"custom_id":"a","body":{"max\u005ftokens" :  7 }}"#, 2.0).as_deref(),
            Ok(r#"{"custom_id":"a","body":{"max\u005ftokens" :  14 }}"#)
        );
        // A number beyond f64 elsewhere: the engine parses a rewritten copy, positions are
        // carried back to the line.
        assert_eq!(
            raised(
                r#"{"custom_id":"a","x":1e999,"body":{"y":123456789012345678901234567890,"max_tokens":7}}"#,
                2.0
            )
            .as_deref(),
            Ok(r#"{"custom_id":"a","x":1e999,"body":{"y":123456789012345678901234567890,"max_tokens":14}}"#)
        );
    }

    #[test]
    fn multiplying_rounds_up_without_float_noise() {
        assert_eq!(multiply(1000, 1.1), 1100);
        assert_eq!(multiply(3, 1.1), 4);
        assert_eq!(multiply(7, 1.5), 11);
        assert_eq!(multiply(100, 1.07), 107);
        assert_eq!(multiply(u64::MAX / 2, 4.0), u64::MAX);
        assert!(check_factor(1.0).is_err());
        assert!(check_factor(0.5).is_err());
        assert!(check_factor(f64::NAN).is_err());
        assert!(check_factor(f64::INFINITY).is_err());
        assert_eq!(check_factor(1.5), Ok(1.5));
    }

    #[test]
    fn crlf_and_bom_stay_around_the_line() {
        let raw = b"\xEF\xBB\xBF{\"custom_id\":\"a\",\"body\":{\"max_tokens\":9}}\r\n";
        let content = &raw[3..raw.len() - 2];
        let Raise::Raised { at, new, .. } = raise_cap(content, 2.0) else {
            panic!("not raised")
        };
        let digits = new.to_string();
        assert_eq!(
            spliced(raw, content, at, digits.as_bytes()).concat(),
            b"\xEF\xBB\xBF{\"custom_id\":\"a\",\"body\":{\"max_tokens\":18}}\r\n"
        );
    }

    /// A JSON string literal of `s`, with some characters escaped in other ways.
    fn literal(s: &str, escape_all: bool) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c if escape_all && c.is_ascii_alphabetic() => {
                    out.push_str(&format!("\\u{:04X}", c as u32))
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    /// A random JSON value (no cap fields at its top).
    fn value() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            any::<i32>().prop_map(|n| n.to_string()),
            (any::<f32>())
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| format!("{f:?}")),
            ".{0,12}".prop_map(|s| literal(&s, false)),
            Just("null".to_string()),
            Just("true".to_string()),
            // Text that looks like a cap field.
            Just(r#""\"max_tokens\": 5, \"maxOutputTokens\":3""#.to_string()),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec(("(max_tokens|[a-z]{1,6})", inner), 0..4).prop_map(|v| {
                    let fields: Vec<String> = v
                        .into_iter()
                        .map(|(k, v)| format!("{}:{v}", literal(&k, false)))
                        .collect();
                    format!("{{{}}}", fields.join(","))
                }),
            ]
        })
    }

    fn ws() -> impl Strategy<Value = String> {
        "[ \t\r\n]{0,3}"
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn only_the_cap_number_changes(
            others in prop::collection::vec(("[a-z_]{1,8}|.{1,5}", value()), 0..5),
            spaces in prop::collection::vec(ws(), 8),
            pos in 0usize..6,
            cap in 0u64..200_000,
            factor in 1.01f64..8.0,
            escaped in any::<bool>(),
            model in prop_oneof![Just("gpt-4o"), Just("o3"), Just("claude-sonnet-4-5"), Just("gpt-4.1")],
            dup in any::<bool>(),
            anthropic in any::<bool>(),
        ) {
            let s = |i: usize| spaces[i].as_str();
            let key = literal(if anthropic { "max_tokens" } else { "max_completion_tokens" }, escaped);
            let cap_field = format!("{}{key}{}:{}{cap}{}", s(0), s(1), s(2), s(3));
            let mut fields: Vec<String> = others
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "max_tokens" | "max_completion_tokens" | "model" | "max_output_tokens"))
                .map(|(k, v)| format!("{}{}{}:{}{v}", s(4), literal(k, false), s(5), s(6)))
                .collect();
            fields.push(format!("\"model\":{}", literal(model, escaped)));
            let at = pos.min(fields.len());
            fields.insert(at, cap_field);
            if dup {
                fields.push(format!("{key}:{}", cap + 1));
            }
            let payload = format!("{{{}}}", fields.join(","));
            let line = if anthropic {
                format!(r#"{{"custom_id":"p","params":{payload}{}}}"#, s(7))
            } else {
                format!(r#"{{"custom_id":"p",{}"body":{payload}}}"#, s(7))
            };
            let limit = model_facts(model).max_output_tokens;
            match raised(&line, factor) {
                Ok(new_line) => {
                    // The one difference: the cap's digits.
                    let (a, b) = (line.as_bytes(), new_line.as_bytes());
                    let head = a.iter().zip(b).take_while(|(x, y)| x == y).count();
                    let tail = a.iter().rev().zip(b.iter().rev()).take_while(|(x, y)| x == y).count();
                    let tail = tail.min(a.len() - head).min(b.len() - head);
                    let old_mid = &line[head..a.len() - tail];
                    let new_mid = &new_line[head..b.len() - tail];
                    prop_assert!(old_mid.bytes().all(|c| c.is_ascii_digit()), "{old_mid:?}");
                    prop_assert!(new_mid.bytes().all(|c| c.is_ascii_digit()), "{new_mid:?}");
                    // Where the cap stands: right after the cap key and its colon.
                    let before = &line[..head];
                    let key_end = before.trim_end_matches(|c: char| c.is_ascii_digit());
                    let key_end = key_end.trim_end_matches([' ', '\t', '\r', '\n']);
                    let key_end = key_end.strip_suffix(':').unwrap().trim_end_matches([' ', '\t', '\r', '\n']);
                    prop_assert!(key_end.ends_with(&key), "{line}");
                    // The whole number, as it was and as it is now.
                    let start = key_end.len();
                    let rest = &line[start..];
                    let digits_at = rest.find(|c: char| c.is_ascii_digit()).unwrap();
                    let old: String = rest[digits_at..].chars().take_while(char::is_ascii_digit).collect();
                    prop_assert_eq!(old.parse::<u64>().unwrap(), cap);
                    let new: u64 = new_line[start + digits_at..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap();
                    prop_assert!(new > cap);
                    prop_assert!(new >= (cap as f64 * factor).floor() as u64 || limit == Some(new));
                    prop_assert!(new <= (cap as f64 * factor).ceil() as u64);
                    if let Some(l) = limit {
                        prop_assert!(new <= l);
                    }
                    // And JSON reads the new line with the new cap, the rest alike.
                    let v_old: serde_json::Value = serde_json::from_str(&line).unwrap();
                    let v_new: serde_json::Value = serde_json::from_str(&new_line).unwrap();
                    let k = if anthropic { "params" } else { "body" };
                    let name = if anthropic { "max_tokens" } else { "max_completion_tokens" };
                    let mut v_back = v_new.clone();
                    v_back[k][name] = v_old[k][name].clone();
                    // serde_json keeps the last of duplicate keys: compare without them.
                    if !dup {
                        prop_assert_eq!(&v_back, &v_old);
                        prop_assert_eq!(v_new[k][name].as_u64(), Some(new));
                    }
                }
                Err(why) => {
                    match why {
                        Unchanged::AtLimit => prop_assert!(limit.is_some_and(|l| cap >= l)),
                        Unchanged::Same => prop_assert_eq!(cap, 0),
                        other => prop_assert!(false, "{other:?} for {line}"),
                    }
                }
            }
        }
    }
}
