//! [`ResultLine`]: a line of a batch's results (an answer, not a request), recognised the same
//! way by every command: `join` reads its id here, `validate` names a results file given as
//! requests with it.

use simd_json::prelude::*;
use simd_json::tape::Value;

/// The provider layout a result line follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultLayout {
    /// `{"custom_id", "response" | "error"}`: OpenAI and every OpenAI-style batch API (Azure,
    /// Groq, Mistral, Together, xAI, vLLM).
    OpenAi,
    /// `{"custom_id", "result"}`: Anthropic Message Batches.
    Anthropic,
    /// `{"key" | "metadata": {"key"}, "response" | "error"}`: the Gemini API.
    Gemini,
    /// `{"request", "response" | "status"}`: Vertex AI.
    Vertex,
    /// `{"recordId", "modelOutput" | "error"}`, beside the `modelInput` it repeats: Amazon
    /// Bedrock.
    Bedrock,
    /// `{"batch_request_id", "batch_result" | "error_message"}`: an entry of xAI's batch
    /// results API, one per line.
    XAi,
    /// `{"instance", "predictions" | "status"}`: Vertex AI batch embeddings with the legacy
    /// text-embedding models, the request line echoed as `instance`.
    VertexEmbedding,
}

impl ResultLayout {
    /// The line for people, as in "this is an Anthropic result line".
    pub fn describe(self) -> &'static str {
        match self {
            ResultLayout::OpenAi => "an OpenAI-style output or error line",
            ResultLayout::Anthropic => "an Anthropic result line",
            ResultLayout::Gemini => "a Gemini result line",
            ResultLayout::Vertex => "a Vertex AI output line",
            ResultLayout::Bedrock => "an Amazon Bedrock output line",
            ResultLayout::XAi => "an xAI batch result",
            ResultLayout::VertexEmbedding => "a Vertex AI embedding output line",
        }
    }
}

/// Where result lines carry the id of their request, tried in order: OpenAI-style and
/// Anthropic `custom_id`, Gemini `key` (and Vertex's, for a job that set
/// `instanceConfig.keyField`), Bedrock `recordId`, the `metadata.key` of Gemini's
/// inline-style results (Vertex echoes `custom_id` or `key` when the request had one), xAI's
/// `batch_request_id` (the `custom_id` of an uploaded request line), and the id LiteLLM
/// writes into a Vertex request's labels, which the row echoes with its request
/// (`request.labels.litellm_custom_id`, the `also_id` of the `vertex` shape in styles.toml).
const ID_FIELDS: [&[&str]; 6] = [
    &["custom_id"],
    &["key"],
    &["recordId"],
    &["metadata", "key"],
    &["batch_request_id"],
    &["request", "labels", "litellm_custom_id"],
];

/// A parsed line recognised as a result line, with its layout. Cheap to copy: a view of the
/// tape.
#[derive(Clone, Copy)]
pub struct ResultLine<'t, 'i> {
    root: Value<'t, 'i>,
    layout: ResultLayout,
}

impl<'t, 'i> ResultLine<'t, 'i> {
    /// `root` recognised as a result line: an id field beside an answer (`response`,
    /// `error`, `result`, `modelOutput`, Vertex's `status`), or a Vertex row that echoes its
    /// request (`request`, or an embedding row's `instance`) beside one. `None` for anything else, and for
    /// a line that carries a request's payload (`body`, `params`, `modelInput`), unless it is
    /// Bedrock's output line, which repeats its `modelInput` beside the answer.
    pub fn detect(root: Value<'t, 'i>) -> Option<Self> {
        let obj = root.as_object()?;
        let has = |k: &str| obj.get(k).is_some();
        let layout = if has("recordId") && (has("modelOutput") || has("error")) {
            ResultLayout::Bedrock
        } else if has("body") || has("params") || has("modelInput") {
            return None;
        } else if has("custom_id") && (has("response") || has("error")) {
            ResultLayout::OpenAi
        } else if has("custom_id") && has("result") {
            ResultLayout::Anthropic
        } else if (has("key") || metadata_key(root).is_some()) && (has("response") || has("error"))
        {
            ResultLayout::Gemini
        } else if has("request") && (has("response") || has("status")) {
            ResultLayout::Vertex
        } else if has("batch_request_id") && (has("batch_result") || has("error_message")) {
            ResultLayout::XAi
        } else if has("instance") && (has("predictions") || has("status")) {
            ResultLayout::VertexEmbedding
        } else {
            return None;
        };
        Some(ResultLine { root, layout })
    }

    /// The layout.
    pub fn layout(&self) -> ResultLayout {
        self.layout
    }

    /// The whole line.
    pub fn root(&self) -> Value<'t, 'i> {
        self.root
    }

    /// The request id the line carries ([`ResultLine::find_id`]).
    pub fn id(&self) -> Option<Value<'t, 'i>> {
        Self::find_id(self.root)
    }

    /// The request id of a line read as a result, whatever its type: the first of
    /// `custom_id`, `key`, `recordId`, `metadata.key`, `batch_request_id` and
    /// `request.labels.litellm_custom_id` present and not null (a provider
    /// writes `null` for a field a layout does not use). Every line of a results file is
    /// read this way, recognised or not, so an id is matched whatever else the line lacks.
    pub fn find_id(root: Value<'t, 'i>) -> Option<Value<'t, 'i>> {
        ID_FIELDS.iter().find_map(|path| {
            let v = path.iter().try_fold(root, |v, k| v.as_object()?.get(k))?;
            (!v.is_null()).then_some(v)
        })
    }
}

/// `metadata.key`, when `metadata` is an object that has one.
fn metadata_key<'t, 'i>(root: Value<'t, 'i>) -> Option<Value<'t, 'i>> {
    root.as_object()?.get("metadata")?.as_object()?.get("key")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read;

    fn layout(line: &str) -> Option<ResultLayout> {
        read(line.as_bytes(), |root| {
            ResultLine::detect(root).map(|r| r.layout())
        })
        .unwrap()
    }

    fn id(line: &str) -> Option<String> {
        read(line.as_bytes(), |root| {
            ResultLine::find_id(root).map(|v| v.encode())
        })
        .unwrap()
    }

    #[test]
    fn result_lines_are_recognised_by_layout() {
        use ResultLayout::*;
        let cases = [
            (
                r#"{"custom_id":"a","response":{},"error":null}"#,
                Some(OpenAi),
            ),
            (r#"{"custom_id":"a","error":{"code":"x"}}"#, Some(OpenAi)),
            (
                r#"{"custom_id":"a","result":{"type":"succeeded"}}"#,
                Some(Anthropic),
            ),
            (r#"{"key":"g","response":{}}"#, Some(Gemini)),
            (r#"{"metadata":{"key":"g"},"response":{}}"#, Some(Gemini)),
            (r#"{"request":{},"status":"","response":{}}"#, Some(Vertex)),
            (
                r#"{"recordId":"b","modelInput":{},"modelOutput":{}}"#,
                Some(Bedrock),
            ),
            (
                r#"{"recordId":"b","modelInput":{},"error":{}}"#,
                Some(Bedrock),
            ),
            (
                r#"{"batch_request_id":"x","batch_result":{"response":{}},"error_message":null}"#,
                Some(XAi),
            ),
            // Requests, and lines that are neither.
            (r#"{"custom_id":"a","body":{},"response":{}}"#, None),
            (r#"{"custom_id":"a","params":{}}"#, None),
            (r#"{"recordId":"b","modelInput":{}}"#, None),
            (r#"{"key":"g","request":{}}"#, None),
            (r#"{"metadata":"g","response":{}}"#, None),
            (
                r#"{"instance":{"content":"x"},"predictions":[],"status":""}"#,
                Some(VertexEmbedding),
            ),
            (r#"{"instance":{"content":"x"}}"#, None),
            (r#"{"response":{}}"#, None),
            (r#"[1]"#, None),
        ];
        for (line, want) in cases {
            assert_eq!(layout(line), want, "{line}");
        }
        assert_eq!(
            ResultLayout::Anthropic.describe(),
            "an Anthropic result line"
        );
    }

    #[test]
    fn ids_wherever_providers_put_them() {
        assert_eq!(
            id(r#"{"custom_id":"a","key":"b"}"#).as_deref(),
            Some(r#""a""#)
        );
        assert_eq!(
            id(r#"{"custom_id":null,"key":"b"}"#).as_deref(),
            Some(r#""b""#)
        );
        assert_eq!(id(r#"{"recordId":7}"#).as_deref(), Some("7"));
        assert_eq!(
            id(r#"{"metadata":{"key":"m","key":"n"}}"#).as_deref(),
            Some(r#""m""#)
        );
        assert_eq!(id(r#"{"metadata":{"key":null}}"#), None);
        assert_eq!(
            id(r#"{"batch_request_id":"x","batch_result":{}}"#).as_deref(),
            Some(r#""x""#)
        );
        assert_eq!(id(r#"{"metadata":"m"}"#), None);
        assert_eq!(
            id(r#"{"status":"","request":{"labels":{"litellm_custom_id":"l-1"}},"response":{}}"#)
                .as_deref(),
            Some(r#""l-1""#)
        );
        assert_eq!(
            id(r#"{"custom_id":"c","request":{"labels":{"litellm_custom_id":"l-1"}}}"#).as_deref(),
            Some(r#""c""#)
        );
        assert_eq!(id(r#""x""#), None);
    }
}
