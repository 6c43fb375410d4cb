//! Input-token counting for `--max-tokens`, behind a trait so tests and other callers can
//! bring their own counter.

/// Counts the input tokens of one request line. Called from several threads at once.
pub trait TokenCount: Sync {
    /// Input tokens of `content` (the line without terminator or BOM).
    fn count(&self, content: &[u8]) -> Result<u64, String>;

    /// The same count when the line is already parsed (`root`, by batchkit-line's engine):
    /// shard checks and counts a line in one parse. Counts `content` again unless overridden.
    fn count_parsed(
        &self,
        content: &[u8],
        root: batchkit_line::Value<'_, '_>,
    ) -> Result<u64, String> {
        let _ = root;
        self.count(content)
    }
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
        room(batchkit_tokens::count_request(
            content,
            self.model.as_deref(),
        ))
    }

    fn count_parsed(&self, _: &[u8], root: batchkit_line::Value<'_, '_>) -> Result<u64, String> {
        room(batchkit_tokens::count_parsed(root, self.model.as_deref()))
    }
}

/// The room a counted line takes in a token cap: lines with no text input (audio
/// transcriptions) take none.
fn room(
    c: Result<batchkit_tokens::RequestCount, batchkit_tokens::Diagnostic>,
) -> Result<u64, String> {
    c.map(|c| c.input_tokens.unwrap_or(0))
        .map_err(|p| format!("{} ({})", p.message, p.code.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parsed_line_counts_as_its_bytes_do() {
        let c = TiktokenCounter::default();
        for line in [
            r#"{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o","messages":[{"role":"user","content":"Hello, world! 你好"}]}}"#,
            r#"{"custom_id":"b","params":{"model":"claude-sonnet-4-5","max_tokens":9,"messages":[{"role":"user","content":"Hi"}]}}"#,
            r#"{"custom_id":"c","method":"POST","url":"/v1/audio/transcriptions","body":{"model":"whisper-large-v3"}}"#,
        ] {
            let parsed = batchkit_line::read(line.as_bytes(), |root| {
                c.count_parsed(line.as_bytes(), root)
            })
            .unwrap();
            assert_eq!(parsed, c.count(line.as_bytes()), "{line}");
        }
        assert!(c.count(b"{\"custom_id\":\"x\"}").is_err());
    }
}
