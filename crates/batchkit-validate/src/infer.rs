//! `--provider auto`: which provider's rules a file is checked by, from the evidence in its
//! lines, so that a file never fails under a provider the user did not choose.
//!
//! - OpenAI-style lines: a `url` without `/v1` (`/chat/completions`) is Azure OpenAI's;
//!   `/v1/audio/...` is Groq's (Groq files mix chat and audio lines and models); anything
//!   else OpenAI's. A file's provider moves from OpenAI to the more specific one when such a
//!   line appears.
//! - OpenAI-style lines naming Gemini models (`gemini-2.5-flash`) are Gemini's
//!   OpenAI-compatible batch (`gemini-openai`): Gemini's caps, one model per file.
//! - A shape several providers use as their own (`{custom_id, body}`: Mistral, Together,
//!   Fireworks, Novita, OpenRouter) cannot say whose file it is: it is checked by the rules
//!   all of them apply (the larger cap, a rule only where every one has it) and every one is
//!   named as a candidate.
//! - One model per file is enforced only while the file's models look like OpenAI models:
//!   `llama-3.1-8b` in an OpenAI-style line is a Groq, Together or self-hosted file, where
//!   models mix.
//! - A result line (an answer, not a request) is named as one, pointing to `join`.

use batchkit_line::{ResultLine, Value};
use batchkit_providers::{Provider, Style};

/// The provider an OpenAI-style line points to, by its `url` (only an endpoint OpenAI does
/// not serve and another provider marked `detect_by_url` in providers.toml does is
/// evidence), else by its model (a provider marked `detect_by_model`: Gemini models in
/// OpenAI lines are Gemini's OpenAI-compatible batch).
pub(crate) fn openai_style_provider(url: Option<&str>, model: Option<&str>) -> &'static Provider {
    Provider::by_openai_line(url, model)
}

/// Whether a file inferred as `from` should be checked as `to` from now on: only from the
/// default (OpenAI) to a more specific provider of the same shape.
pub(crate) fn upgrade(from: &Provider, to: &Provider) -> bool {
    from.name == "openai" && to.name != "openai" && from.style == to.style
}

/// Whether `model` names an OpenAI model (or an Azure deployment, which can be any name
/// but is treated alike once the file is Azure's): `model_prefixes` of `[openai]` in
/// providers.toml.
pub(crate) fn looks_openai_model(model: &str) -> bool {
    Style::OpenAi.default_provider().names_model(model)
}

/// Names a result line (an answer downloaded from a batch, given where requests belong), as
/// every command recognises one (batchkit-line's [`ResultLine`]).
pub(crate) fn result_shape(root: Value<'_, '_>) -> Option<&'static str> {
    ResultLine::detect(root).map(|r| r.layout().describe())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_point_to_providers() {
        assert_eq!(
            openai_style_provider(Some("/v1/chat/completions"), None).name,
            "openai"
        );
        assert_eq!(
            openai_style_provider(Some("/chat/completions"), None).name,
            "azure"
        );
        assert_eq!(
            openai_style_provider(Some("/v1/audio/transcriptions"), None).name,
            "groq"
        );
        assert_eq!(
            openai_style_provider(Some("/v1/chat/completions"), Some("gemini-2.5-flash")).name,
            "gemini-openai"
        );
        assert_eq!(
            openai_style_provider(Some("/v1/messages"), Some("gpt-4o")).name,
            "doubleword"
        );
        assert_eq!(
            openai_style_provider(Some("/v1/chat/completions"), Some("gpt-4o")).name,
            "openai"
        );
        assert!(looks_openai_model("gpt-4o-mini") && looks_openai_model("o3-mini"));
        assert!(!looks_openai_model("llama-3.1-8b-instant"));
    }
}
