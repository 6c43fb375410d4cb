//! [`RequestLine`]: where a parsed request line keeps its id, payload, model, url and caps,
//! read from `styles.toml`.

use batchkit_providers::{Layout, Path, Style};
use simd_json::prelude::*;
use simd_json::tape::{Object, Value};

/// A parsed request line seen through its shape's layout. Cheap to copy: a view of the tape.
#[derive(Clone, Copy)]
pub struct RequestLine<'t, 'i> {
    root: Value<'t, 'i>,
    style: Style,
    layout: &'static Layout,
}

impl<'t, 'i> RequestLine<'t, 'i> {
    /// `root` read as a line of shape `style` (`--provider` names it).
    pub fn new(root: Value<'t, 'i>, style: Style) -> Self {
        RequestLine {
            root,
            style,
            layout: style.layout(),
        }
    }

    /// `root` read as the shape its keys show (`--provider auto`); `None` for a value that is
    /// not an object or has no known shape.
    pub fn detect(root: Value<'t, 'i>) -> Option<Self> {
        let obj = root.as_object()?;
        Layout::detect(|k| obj.get(k).is_some()).map(|s| Self::new(root, s))
    }

    /// The shape.
    pub fn style(&self) -> Style {
        self.style
    }

    /// Where the shape keeps its fields.
    pub fn layout(&self) -> &'static Layout {
        self.layout
    }

    /// The whole line.
    pub fn root(&self) -> Value<'t, 'i> {
        self.root
    }

    /// The line's top-level object.
    pub fn object(&self) -> Object<'t, 'i> {
        self.root.as_object().expect("a request line is an object")
    }

    /// The value at `path`, if every step is an object holding the next key.
    pub fn get(&self, path: &Path) -> Option<Value<'t, 'i>> {
        path.0
            .iter()
            .try_fold(self.root, |v, k| v.as_object()?.get(k.as_str()))
    }

    /// The id field's value, whatever its type (`None` when absent or the shape has no id).
    pub fn id(&self) -> Option<Value<'t, 'i>> {
        self.get(self.layout.id.as_ref()?)
    }

    /// The id wherever a line may carry one: its shape's id field or `also_id` fields, and
    /// for a line of no known shape the first id field of any shape it has (the join reads
    /// ids this way, so an id is matched whatever else the line lacks). Returns the value and
    /// the top-level key it was found under (the first step of its path).
    pub fn find_id(root: Value<'t, 'i>) -> Option<(Value<'t, 'i>, &'static str)> {
        let at = |p: &'static Path| {
            let v =
                p.0.iter()
                    .try_fold(root, |v, k| v.as_object()?.get(k.as_str()))?;
            (!v.is_null()).then(|| (v, p.0.first().map_or("", String::as_str)))
        };
        let paths = |l: &'static Layout| l.id.iter().chain(&l.also_id);
        match Self::detect(root) {
            Some(r) => paths(r.layout).find_map(at),
            None => Layout::all().iter().flat_map(paths).find_map(at),
        }
    }

    /// The id, when it is a string (a number is `wrong_type`, as it is to the providers).
    pub fn id_str(&self) -> Option<&'i str> {
        self.id()?.into_string()
    }

    /// The object sent to the model, when it is an object.
    pub fn payload(&self) -> Option<Object<'t, 'i>> {
        self.get(&self.layout.payload)?.as_object()
    }

    /// The model the line names, when it names one as a string.
    pub fn model(&self) -> Option<&'i str> {
        self.get(self.layout.model.as_ref()?)?.into_string()
    }

    /// The endpoint, when the shape has one and it is a string.
    pub fn url(&self) -> Option<&'i str> {
        self.get(self.layout.url.as_ref()?)?.into_string()
    }

    /// The HTTP method, when the shape has one and it is a string.
    pub fn method(&self) -> Option<&'i str> {
        self.get(self.layout.method.as_ref()?)?.into_string()
    }

    /// The conversation, whatever its type.
    pub fn messages(&self) -> Option<Value<'t, 'i>> {
        self.get(self.layout.messages.as_ref()?)
    }

    /// The first output cap the line sets as a non-negative integer.
    pub fn max_output_tokens(&self) -> Option<u64> {
        self.layout
            .max_output
            .iter()
            .find_map(|p| self.get(p)?.as_u64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read;

    #[test]
    fn every_shape_is_read_from_its_layout() {
        type Case<'a> = (
            &'a str,
            Style,
            Option<&'a str>,
            Option<&'a str>,
            Option<u64>,
        );
        let lines: [Case<'_>; 6] = [
            (
                r#"{"custom_id":"o","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o","max_completion_tokens":7,"max_tokens":9}}"#,
                Style::OpenAi,
                Some("o"),
                Some("gpt-4o"),
                Some(7),
            ),
            (
                r#"{"custom_id":"m","body":{"model":"mistral-small","max_tokens":3}}"#,
                Style::Body,
                Some("m"),
                Some("mistral-small"),
                Some(3),
            ),
            (
                r#"{"custom_id":"a","params":{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[]}}"#,
                Style::Anthropic,
                Some("a"),
                Some("claude-sonnet-4-5"),
                Some(1024),
            ),
            (
                r#"{"key":"g","request":{"contents":[],"generation_config":{"max_output_tokens":12}}}"#,
                Style::Gemini,
                Some("g"),
                None,
                Some(12),
            ),
            (
                r#"{"request":{"contents":[],"generationConfig":{"maxOutputTokens":5}}}"#,
                Style::Vertex,
                None,
                None,
                Some(5),
            ),
            (
                r#"{"recordId":"b","modelInput":{"inferenceConfig":{"maxTokens":4}}}"#,
                Style::Bedrock,
                Some("b"),
                None,
                Some(4),
            ),
        ];
        for (line, style, id, model, max) in lines {
            read(line.as_bytes(), |root| {
                let r = RequestLine::detect(root).unwrap();
                assert_eq!(r.style(), style, "{line}");
                assert_eq!(r.id_str(), id, "{line}");
                assert_eq!(r.model(), model, "{line}");
                assert_eq!(r.max_output_tokens(), max, "{line}");
                assert!(r.payload().is_some(), "{line}");
            })
            .unwrap();
        }
    }

    #[test]
    fn wrong_types_are_not_values() {
        read(
            br#"{"custom_id":7,"url":1,"body":{"model":["x"]}}"#,
            |root| {
                let r = RequestLine::detect(root).unwrap();
                assert_eq!(r.style(), Style::OpenAi);
                assert!(r.id().is_some_and(|v| v.is_number()));
                assert_eq!((r.id_str(), r.url(), r.model()), (None, None, None));
            },
        )
        .unwrap();
        read(b"[1]", |root| assert!(RequestLine::detect(root).is_none())).unwrap();
    }

    #[test]
    fn ids_for_the_join() {
        let found = |line: &str| {
            read(line.as_bytes(), |root| {
                RequestLine::find_id(root).map(|(v, k)| (v.encode(), k))
            })
            .unwrap()
        };
        let s = |v: &str, k: &'static str| Some((v.to_string(), k));
        assert_eq!(found(r#"{"custom_id":"a"}"#), s(r#""a""#, "custom_id"));
        assert_eq!(found(r#"{"recordId":"b"}"#), s(r#""b""#, "recordId"));
        assert_eq!(
            found(r#"{"request":{},"metadata":{"key":"k"}}"#),
            s(r#""k""#, "metadata")
        );
        assert_eq!(found(r#"{"key":"g","request":{}}"#), s(r#""g""#, "key"));
        assert_eq!(found(r#"{"custom_id":7,"body":{}}"#), s("7", "custom_id"));
        assert_eq!(found(r#"{"custom_id":null,"body":{}}"#), None);
        assert_eq!(found(r#"{"request":{}}"#), None);
        assert_eq!(
            found(r#"{"custom_id":"v","request":{}}"#),
            s(r#""v""#, "custom_id")
        );
    }
}
