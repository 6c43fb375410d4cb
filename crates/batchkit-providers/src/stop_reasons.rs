//! How each result layout says an answer finished, was cut or was refused: the table is
//! `data/stop_reasons.toml`, embedded at build time.
//!
//! ```
//! use batchkit_providers::stop_reasons::{class, StopClass};
//! assert_eq!(class("chat", "length"), StopClass::Truncated);
//! assert_eq!(class("anthropic", "refusal"), StopClass::Refused);
//! assert_eq!(class("gemini", "A_NEW_VALUE"), StopClass::Succeeded);
//! ```

use std::sync::OnceLock;

use serde::Deserialize;

/// What a stop reason says about the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopClass {
    /// Finished on its own (also every value the table does not list as cut or refused).
    Succeeded,
    /// Cut by the output cap or the context window.
    Truncated,
    /// Refused or filtered.
    Refused,
}

/// One result layout's stop field and values.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopLayout {
    /// The name `join` looks the layout up by.
    pub name: String,
    /// What the layout covers.
    pub describe: String,
    /// JSON pointer to the stop value in a result line.
    pub field: String,
    /// Where a second value refines the first (Responses' `incomplete_details.reason`).
    #[serde(default)]
    pub reason_field: Option<String>,
    /// Values of a finished answer.
    pub succeeded: Vec<String>,
    /// Values of a cut answer.
    pub truncated: Vec<String>,
    /// Values of a refused or filtered answer.
    pub refused: Vec<String>,
    /// Documented values that are none of the above (they count as succeeded).
    #[serde(default)]
    pub other: Vec<String>,
    /// Where the values come from.
    pub sources: Vec<String>,
}

#[derive(Deserialize)]
struct Table {
    layout: Vec<StopLayout>,
}

static TABLE: OnceLock<Vec<StopLayout>> = OnceLock::new();

/// Every layout of the table.
pub fn layouts() -> &'static [StopLayout] {
    TABLE.get_or_init(|| {
        let t: Table = toml::from_str(include_str!("../data/stop_reasons.toml"))
            .expect("embedded stop_reasons.toml is valid");
        t.layout
    })
}

/// The layout named `name`.
pub fn layout(name: &str) -> Option<&'static StopLayout> {
    layouts().iter().find(|l| l.name == name)
}

/// The class of stop value `value` in layout `name`; an unknown layout or value is
/// [`StopClass::Succeeded`].
pub fn class(name: &str, value: &str) -> StopClass {
    let Some(l) = layout(name) else {
        return StopClass::Succeeded;
    };
    if l.truncated.iter().any(|v| v == value) {
        StopClass::Truncated
    } else if l.refused.iter().any(|v| v == value) {
        StopClass::Refused
    } else {
        StopClass::Succeeded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_loads_and_cites() {
        for l in layouts() {
            assert!(!l.sources.is_empty(), "{}", l.name);
            assert!(l.sources.iter().all(|s| s.starts_with("https://")));
            assert!(l.field.starts_with('/'));
        }
        assert_eq!(class("chat", "stop"), StopClass::Succeeded);
        assert_eq!(class("chat", "content_filter"), StopClass::Refused);
        assert_eq!(
            class("responses", "max_output_tokens"),
            StopClass::Truncated
        );
        assert_eq!(class("gemini", "MAX_TOKENS"), StopClass::Truncated);
        assert_eq!(class("gemini", "SPII"), StopClass::Refused);
        assert_eq!(
            class("gemini-prompt", "PROHIBITED_CONTENT"),
            StopClass::Refused
        );
        assert_eq!(
            class("bedrock-converse", "guardrail_intervened"),
            StopClass::Refused
        );
        assert_eq!(class("bedrock-llama", "length"), StopClass::Truncated);
        assert_eq!(class("anthropic", "pause_turn"), StopClass::Succeeded);
    }
}
