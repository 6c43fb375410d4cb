//! Tool (function) definitions: OpenAI's cookbook rule `num_tokens_for_tools`
//! ("How to count tokens with tiktoken").
//!
//! The rule, for a non-empty list of functions:
//! - per function: `func_init` + the tokens of `name + ":" + description` (one trailing `.`
//!   of the description dropped);
//! - when `parameters.properties` is not empty: `prop_init` once, then per property
//!   `prop_key` + the tokens of `key + ":" + type + ":" + description` (one trailing `.`
//!   dropped) and, when it has an `enum`, `enum_init` once plus `enum_item` + the tokens of
//!   each item;
//! - `func_end` once after the last function.
//!
//! The constants are OpenAI's for gpt-4o and gpt-4o-mini (o200k_base) and for gpt-3.5-turbo
//! and gpt-4 (cl100k_base). Other models get the constants of their encoding and the count
//! is an estimate; so is any definition the rule does not describe (no description, nested
//! schemas, non-function tools, ...), still counted by the rule as far as it goes.

use batchkit_line::prelude::*;
use batchkit_line::{entries, Object, Value};

use crate::encoding::{normalize_model, Encoding};

/// The constants of `num_tokens_for_tools`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ToolRule {
    pub func_init: i64,
    pub prop_init: i64,
    pub prop_key: i64,
    pub enum_init: i64,
    pub enum_item: i64,
    pub func_end: i64,
}

/// gpt-4o, gpt-4o-mini (and, as an estimate, every o200k model).
pub(crate) const O200K_TOOLS: ToolRule = ToolRule {
    func_init: 7,
    prop_init: 3,
    prop_key: 3,
    enum_init: -3,
    enum_item: 3,
    func_end: 12,
};

/// gpt-3.5-turbo, gpt-4 (and, as an estimate, every cl100k model).
pub(crate) const CL100K_TOOLS: ToolRule = ToolRule {
    func_init: 10,
    prop_init: 3,
    prop_key: 3,
    enum_init: -3,
    enum_item: 3,
    func_end: 12,
};

impl ToolRule {
    pub(crate) fn for_encoding(enc: Encoding) -> ToolRule {
        match enc {
            Encoding::Cl100kBase => CL100K_TOOLS,
            Encoding::O200kBase | Encoding::O200kHarmony => O200K_TOOLS,
        }
    }
}

/// Whether the cookbook's rule is OpenAI's own for `model`: gpt-4o, gpt-4o-mini,
/// gpt-3.5-turbo (Azure: gpt-35-turbo) and gpt-4, with their dated snapshots
/// (`gpt-4o-2024-08-06`, `gpt-3.5-turbo-0125`, `gpt-4-0613`) and fine-tunes of them.
pub(crate) fn rule_is_openais(model: &str) -> bool {
    let mut m = normalize_model(model);
    if let Some(rest) = m.strip_prefix("ft:") {
        m = rest.split(':').next().unwrap_or(rest).to_string();
    }
    const COVERED: &[&str] = &[
        "gpt-4o-mini",
        "gpt-4o",
        "gpt-3.5-turbo",
        "gpt-35-turbo",
        "gpt-4",
    ];
    COVERED.iter().any(|base| match m.strip_prefix(base) {
        Some("") => true,
        Some(rest) => is_snapshot_suffix(rest),
        None => false,
    })
}

/// `-2024-08-06` or `-0613`.
fn is_snapshot_suffix(s: &str) -> bool {
    let Some(s) = s.strip_prefix('-') else {
        return false;
    };
    let digits = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = s.split('-').collect();
    match parts.as_slice() {
        [d] => digits(d, 4),
        [y, mo, d] => digits(y, 4) && digits(mo, 2) && digits(d, 2),
        _ => false,
    }
}

/// How a list of tools is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ToolShape {
    /// Chat completions `tools`: `{"type":"function","function":{name, description, parameters}}`.
    Chat,
    /// Chat completions' older `functions`: the function objects themselves.
    Functions,
    /// Responses API `tools`: `{"type":"function", name, description, parameters}`.
    Flat,
}

/// The count of a list of tools, and whether the rule covers every part of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ToolCount {
    pub tokens: u64,
    /// Every tool is a function the rule describes (the model is judged by the caller).
    pub covered: bool,
}

/// Counts `tools` by `rule`, tokenizing with `enc`.
pub(crate) fn count_tools(
    enc: Encoding,
    rule: ToolRule,
    tools: Value<'_, '_>,
    shape: ToolShape,
    dedup: bool,
) -> ToolCount {
    let Some(items) = tools.as_array() else {
        return ToolCount {
            tokens: enc.count(&tools.encode()),
            covered: false,
        };
    };
    if items.is_empty() {
        return ToolCount {
            tokens: 0,
            covered: true,
        };
    }
    let mut covered = true;
    let mut n = rule.func_end;
    for item in items.iter() {
        match function_of(item, shape, &mut covered) {
            Some(f) => n += function_tokens(enc, rule, &f, &mut covered, dedup),
            None => {
                // A tool the rule does not describe (web search, custom tools, ...): its
                // compact JSON text.
                covered = false;
                n += enc.count(&item.encode()) as i64;
            }
        }
    }
    ToolCount {
        tokens: n.max(0) as u64,
        covered,
    }
}

/// The function object of one tool entry, if it is a function.
fn function_of<'t, 'i>(
    item: Value<'t, 'i>,
    shape: ToolShape,
    covered: &mut bool,
) -> Option<Object<'t, 'i>> {
    let obj = item.as_object()?;
    let is_function = || obj.get("type").and_then(|t| t.into_string()) == Some("function");
    match shape {
        ToolShape::Functions => Some(obj),
        ToolShape::Flat => is_function().then_some(obj),
        ToolShape::Chat => {
            if !is_function() {
                return None;
            }
            if obj.keys().any(|k| k != "type" && k != "function") {
                *covered = false;
            }
            obj.get("function").and_then(|f| f.as_object())
        }
    }
}

/// The keys a function definition may have for the rule to describe it.
const FUNCTION_KEYS: &[&str] = &["name", "description", "parameters", "strict", "type"];
/// The keys of `parameters` the rule describes (`required` and `additionalProperties`
/// change nothing in it).
const PARAMETERS_KEYS: &[&str] = &["type", "properties", "required", "additionalProperties"];
/// The keys of one property the rule describes.
const PROPERTY_KEYS: &[&str] = &["type", "description", "enum"];

fn function_tokens(
    enc: Encoding,
    rule: ToolRule,
    f: &Object<'_, '_>,
    covered: &mut bool,
    dedup: bool,
) -> i64 {
    if f.keys().any(|k| !FUNCTION_KEYS.contains(&k)) {
        *covered = false;
    }
    let name = text_field(f, "name", covered);
    let desc = text_field(f, "description", covered);
    let mut n = rule.func_init + count(enc, &format!("{name}:{}", strip_dot(&desc)));
    let properties = match f.get("parameters").and_then(|p| p.as_object()) {
        Some(params) => {
            if params.keys().any(|k| !PARAMETERS_KEYS.contains(&k)) {
                *covered = false;
            }
            params.get("properties").and_then(|p| p.as_object())
        }
        None => None,
    };
    let Some(properties) = properties else {
        // The rule reads `parameters.properties`; a function without them is not described.
        *covered = false;
        return n;
    };
    if properties.is_empty() {
        return n;
    }
    n += rule.prop_init;
    for (key, prop) in entries(&properties, dedup) {
        n += rule.prop_key;
        let Some(prop) = prop.as_object() else {
            *covered = false;
            n += count(enc, &format!("{key}::"));
            continue;
        };
        if prop.keys().any(|k| !PROPERTY_KEYS.contains(&k)) {
            // Nested schemas (`items`, `properties`, `anyOf`), formats, defaults...: the real
            // prompt shows them, the rule does not.
            *covered = false;
        }
        let ty = text_field(&prop, "type", covered);
        let desc = text_field(&prop, "description", covered);
        if let Some(values) = prop.get("enum") {
            n += rule.enum_init;
            match values.as_array() {
                Some(values) => {
                    for v in values.iter() {
                        n += rule.enum_item;
                        match v.into_string() {
                            Some(s) => n += count(enc, s),
                            None => {
                                *covered = false;
                                n += count(enc, &v.encode());
                            }
                        }
                    }
                }
                None => {
                    *covered = false;
                    n += count(enc, &values.encode());
                }
            }
        }
        n += count(enc, &format!("{key}:{ty}:{}", strip_dot(&desc)));
    }
    n
}

fn count(enc: Encoding, s: &str) -> i64 {
    enc.count(s) as i64
}

/// A string field the rule reads; anything else is written as JSON and makes the count an
/// estimate (a missing field as empty text).
fn text_field(obj: &Object<'_, '_>, key: &str, covered: &mut bool) -> String {
    match obj.get(key) {
        Some(v) if v.is_str() => v.into_string().unwrap_or_default().to_string(),
        Some(other) => {
            *covered = false;
            other.encode()
        }
        None => {
            *covered = false;
            String::new()
        }
    }
}

/// The cookbook drops one trailing full stop from descriptions.
fn strip_dot(s: &str) -> &str {
    s.strip_suffix('.').unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covered_models() {
        for m in [
            "gpt-4o",
            "gpt-4o-mini",
            "gpt-4o-2024-08-06",
            "gpt-4o-mini-2024-07-18",
            "gpt-3.5-turbo",
            "gpt-3.5-turbo-0125",
            "gpt-35-turbo",
            "gpt-4",
            "gpt-4-0613",
            "openai/gpt-4o",
            "ft:gpt-4o-mini-2024-07-18:acme::abc",
        ] {
            assert!(rule_is_openais(m), "{m}");
        }
        for m in [
            "gpt-4.1",
            "gpt-4-turbo",
            "gpt-4-0125-preview",
            "gpt-4o-audio-preview",
            "gpt-4o-mini-search-preview",
            "gpt-5",
            "o3",
            "chatgpt-4o-latest",
            "gpt-3.5-turbo-16k",
            "claude-sonnet-4-5",
            "",
        ] {
            assert!(!rule_is_openais(m), "{m}");
        }
    }
}
