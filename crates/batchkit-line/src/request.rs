//! [`RequestLine`]: where a parsed request line keeps its id, payload, model, url and caps,
//! read from `styles.toml`.

use batchkit_providers::{Layout, Path, Style};
use simd_json::prelude::*;
use simd_json::tape::{Object, Value};

/// A line's id as [`RequestLine::id`] finds it: the value, whatever its type, and the field
/// it stands in.
#[derive(Clone, Copy)]
pub struct Id<'t, 'i> {
    /// The value (a string for a usable id).
    pub value: Value<'t, 'i>,
    /// Where it stands (`styles.toml`'s `id` or one of its `also_id`).
    pub path: &'static Path,
}

impl<'t, 'i> Id<'t, 'i> {
    /// The id, when it is a string.
    pub fn as_str(&self) -> Option<&'i str> {
        self.value.into_string()
    }

    /// The top-level key the id stands under (`metadata` for `metadata.key`).
    pub fn top_key(&self) -> &'static str {
        self.path.0.first().map_or("", String::as_str)
    }

    /// The field as people name it: `custom_id`, `metadata.key`.
    pub fn name(&self) -> String {
        self.path.0.join(".")
    }

    /// The field as a JSON pointer: `/custom_id`, `/metadata/key`.
    pub fn pointer(&self) -> String {
        self.path.pointer()
    }
}

/// The value at the first of `paths` that `root` has.
fn first_id<'t, 'i>(
    root: Value<'t, 'i>,
    paths: impl IntoIterator<Item = &'static Path>,
) -> Option<Id<'t, 'i>> {
    paths.into_iter().find_map(|path| {
        let value = path
            .0
            .iter()
            .try_fold(root, |v, k| v.as_object()?.get(k.as_str()))?;
        Some(Id { value, path })
    })
}

/// The value at `keys` from `v`, if every step is an object holding the next key.
fn walk<'t, 'i>(v: Value<'t, 'i>, keys: &[String]) -> Option<Value<'t, 'i>> {
    keys.iter()
        .try_fold(v, |v, k| v.as_object()?.get(k.as_str()))
}

/// A parsed request line seen through its shape's layout. Cheap to copy: a view of the tape.
#[derive(Clone, Copy)]
pub struct RequestLine<'t, 'i> {
    root: Value<'t, 'i>,
    style: Style,
    layout: &'static Layout,
    /// The payload, found once: most fields live in it, and are read from it.
    payload: Option<Value<'t, 'i>>,
}

impl<'t, 'i> RequestLine<'t, 'i> {
    /// `root` read as a line of shape `style` (`--provider` names it).
    pub fn new(root: Value<'t, 'i>, style: Style) -> Self {
        let layout = style.layout();
        RequestLine {
            root,
            style,
            layout,
            payload: walk(root, &layout.payload.0),
        }
    }

    /// `root` read as the shape its keys show (`--provider auto`); `None` for a value that is
    /// not an object or has no known shape.
    pub fn detect(root: Value<'t, 'i>) -> Option<Self> {
        let obj = root.as_object()?;
        Layout::detect(|k| match k.strip_prefix('/') {
            // A pointer (`/request/messages`): every step an object holding the next key.
            Some(path) => path
                .split('/')
                .try_fold(root, |v, k| v.as_object()?.get(k))
                .is_some(),
            None => obj.get(k).is_some(),
        })
        .map(|s| Self::new(root, s))
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
        let inside = &self.layout.payload.0;
        match (self.payload, path.0.strip_prefix(inside.as_slice())) {
            (Some(payload), Some(rest)) if !inside.is_empty() => walk(payload, rest),
            _ => walk(self.root, &path.0),
        }
    }

    /// The id by the one rule every command follows: the shape's id field, else the first
    /// of its `also_id` fields the line has (Gemini's `metadata.key`, an id Vertex echoes).
    /// A field that is present counts, whatever its value (`null` included: a wrong type).
    pub fn id(&self) -> Option<Id<'t, 'i>> {
        let l = self.layout;
        first_id(self.root, l.id.iter().chain(&l.also_id))
    }

    /// The id, when it is a string (a number is `wrong_type`, as it is to the providers).
    pub fn id_str(&self) -> Option<&'i str> {
        self.id()?.as_str()
    }

    /// The id of a parsed line read as shape `style` (`--provider`), or as the shape its keys
    /// show: [`RequestLine::id`]. A line of no known shape (or not an object) is read for the
    /// first id field of any shape it has, in `styles.toml` order, so that an id is matched
    /// (by `join`) and counted (by `dupes`) whatever else the line lacks.
    pub fn find_id(root: Value<'t, 'i>, style: Option<Style>) -> Option<Id<'t, 'i>> {
        let line = match style {
            Some(s) => Some(Self::new(root, s)),
            None => Self::detect(root),
        };
        match line {
            Some(r) => r.id(),
            None => first_id(
                root,
                Layout::all()
                    .iter()
                    .flat_map(|l| l.id.iter().chain(&l.also_id)),
            ),
        }
    }

    /// The field a finding about a line without an id names: the id field of shape `style`
    /// (or of the shape `root` shows), `custom_id` for a shape without one or no known shape.
    pub fn expected_id(root: Value<'t, 'i>, style: Option<Style>) -> &'static str {
        let style = style.or_else(|| Self::detect(root).map(|r| r.style));
        style
            .and_then(|s| s.layout().id.as_ref())
            .map_or("custom_id", Path::key)
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
        self.max_output().map(|(_, n)| n)
    }

    /// The first output cap the line sets as a non-negative integer, with the field it stands
    /// in (the first of the shape's `max_output` fields that holds one).
    pub fn max_output(&self) -> Option<(&'static Path, u64)> {
        self.layout
            .max_output
            .iter()
            .find_map(|p| Some((p, self.get(p)?.as_u64()?)))
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
    fn vertex_claude_and_embedding_lines_have_their_shapes() {
        let shape = |line: &str| {
            read(line.as_bytes(), |root| {
                RequestLine::detect(root).map(|r| {
                    (
                        r.style(),
                        r.id_str().map(str::to_string),
                        r.max_output_tokens(),
                        r.payload().is_some(),
                    )
                })
            })
            .unwrap()
        };
        assert_eq!(
            shape(
                r#"{"custom_id":"c","request":{"messages":[],"anthropic_version":"vertex-2023-10-16","max_tokens":9}}"#
            ),
            Some((Style::VertexClaude, Some("c".into()), Some(9), true))
        );
        assert_eq!(
            shape(r#"{"content":"text to embed"}"#),
            Some((Style::VertexEmbedding, None, None, true))
        );
        // A Gemini request keyed by custom_id stays a Vertex line.
        assert_eq!(
            shape(r#"{"custom_id":"v","request":{"contents":[]}}"#),
            Some((Style::Vertex, Some("v".into()), None, true))
        );
        // `request.messages` must be inside an object `request`.
        assert_eq!(
            shape(r#"{"request":"messages"}"#).map(|s| s.0),
            Some(Style::Vertex)
        );
    }

    #[test]
    fn wrong_types_are_not_values() {
        read(
            br#"{"custom_id":7,"url":1,"body":{"model":["x"]}}"#,
            |root| {
                let r = RequestLine::detect(root).unwrap();
                assert_eq!(r.style(), Style::OpenAi);
                assert!(r.id().is_some_and(|i| i.value.is_number()));
                assert_eq!((r.id_str(), r.url(), r.model()), (None, None, None));
            },
        )
        .unwrap();
        read(b"[1]", |root| assert!(RequestLine::detect(root).is_none())).unwrap();
    }

    #[test]
    fn one_id_rule() {
        let found = |line: &str, style: Option<Style>| {
            read(line.as_bytes(), |root| {
                RequestLine::find_id(root, style).map(|i| (i.value.encode(), i.top_key()))
            })
            .unwrap()
        };
        let s = |v: &str, k: &'static str| Some((v.to_string(), k));
        let auto = |line: &str| found(line, None);
        assert_eq!(auto(r#"{"custom_id":"a"}"#), s(r#""a""#, "custom_id"));
        assert_eq!(auto(r#"{"recordId":"b"}"#), s(r#""b""#, "recordId"));
        assert_eq!(
            auto(r#"{"request":{},"metadata":{"key":"k"}}"#),
            s(r#""k""#, "metadata")
        );
        assert_eq!(auto(r#"{"key":"g","request":{}}"#), s(r#""g""#, "key"));
        assert_eq!(auto(r#"{"custom_id":7,"body":{}}"#), s("7", "custom_id"));
        // A field that is there counts, null included (a wrong type, as validate says).
        assert_eq!(
            auto(r#"{"custom_id":null,"body":{}}"#),
            s("null", "custom_id")
        );
        assert_eq!(auto(r#"{"request":{}}"#), None);
        assert_eq!(auto(r#"[1]"#), None);
        assert_eq!(
            auto(r#"{"custom_id":"v","request":{}}"#),
            s(r#""v""#, "custom_id")
        );
        // A named shape reads its own fields only: Gemini's `metadata.key` when `key` is
        // absent; no `custom_id` for a Bedrock line.
        assert_eq!(
            found(
                r#"{"metadata":{"key":"m"},"request":{}}"#,
                Some(Style::Gemini)
            ),
            s(r#""m""#, "metadata")
        );
        assert_eq!(
            found(r#"{"custom_id":"c","modelInput":{}}"#, Some(Style::Bedrock)),
            None
        );
        let expected = |line: &str, style| {
            read(line.as_bytes(), |root| {
                RequestLine::expected_id(root, style)
            })
            .unwrap()
        };
        assert_eq!(expected(r#"{"modelInput":{}}"#, None), "recordId");
        assert_eq!(expected(r#"{"x":1}"#, None), "custom_id");
        assert_eq!(expected(r#"{"x":1}"#, Some(Style::Gemini)), "key");
        read(br#"{"request":{},"metadata":{"key":"k"}}"#, |root| {
            let id = RequestLine::detect(root).unwrap().id().unwrap();
            assert_eq!(
                (id.name(), id.pointer(), id.as_str()),
                (
                    "metadata.key".to_string(),
                    "/metadata/key".to_string(),
                    Some("k")
                )
            );
        })
        .unwrap();
    }
}
