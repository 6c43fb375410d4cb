//! Input-token counting for `--max-tokens`, behind a trait so tests and other callers can
//! bring their own counter.

/// Counts the input tokens of one request line. Called from several threads at once.
pub trait TokenCount: Sync {
    /// Input tokens of `content` (the line without terminator or BOM).
    fn count(&self, content: &[u8]) -> Result<u64, String>;
}

impl<F: Fn(&[u8]) -> Result<u64, String> + Sync> TokenCount for F {
    fn count(&self, content: &[u8]) -> Result<u64, String> {
        self(content)
    }
}

/// The embedded tokenizers of `batchkit-tokens` (exact for OpenAI models, an estimate for
/// the others, the same figures `batchkit tokens` reports).
#[derive(Debug, Clone, Default)]
pub struct TiktokenCounter {
    /// Count every line as this model instead of the model it names.
    pub model: Option<String>,
}

impl TokenCount for TiktokenCounter {
    fn count(&self, content: &[u8]) -> Result<u64, String> {
        batchkit_tokens::count_request(content, self.model.as_deref())
            // Lines with no text input (audio transcriptions) take no room in a token cap.
            .map(|c| c.input_tokens.unwrap_or(0))
            .map_err(|p| format!("{} ({})", p.message, p.code.as_str()))
    }
}
