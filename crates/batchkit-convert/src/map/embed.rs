//! Embedding requests: OpenAI `/v1/embeddings` (`input`: a string or strings, `dimensions`;
//! openai-python `types/embedding_create_params.py`), Gemini batch embedding lines
//! (`{key, request: {content: {parts: [{text}]}, outputDimensionality, taskType, title}}`;
//! python-genai `types.py` `EmbedContentConfig`), Vertex's Gemini Embedding lines (`{key,
//! request: {content, embed_content_config}}`) and its legacy instances (`{"content": "..."}`;
//! cloud.google.com/vertex-ai/generative-ai/docs/embeddings/batch-prediction-genai-embeddings).
//! Gemini and Vertex take one text a line: an OpenAI request of N inputs becomes N lines, the
//! id of input `i` being `ID-i`.

use serde_json::{json, Map, Value};

use super::gemini::{camel, get};
use super::{is_default, Out};
use crate::Shape;

/// An embedding request in a shape of its own.
#[derive(Debug, Default)]
pub(crate) struct Embed {
    model: Option<String>,
    /// The texts (or, from OpenAI, token arrays, which only OpenAI takes).
    inputs: Vec<Value>,
    /// Whether `input` was one string (not a list).
    single: bool,
    dimensions: Option<Value>,
    task_type: Option<Value>,
    title: Option<Value>,
    user: Option<Value>,
    base64: bool,
}

pub(crate) fn from_openai(line: &mut Value, out: &mut Out<'_, '_>) -> Embed {
    let mut e = Embed::default();
    let Some(body) = super::body(line, out) else {
        return e;
    };
    for (k, v) in body {
        match k.as_str() {
            "model" => e.model = v.as_str().map(str::to_string),
            "input" => match std::mem::take(v) {
                s @ Value::String(_) => {
                    e.single = true;
                    e.inputs = vec![s];
                }
                Value::Array(a) if a.iter().all(Value::is_number) => {
                    e.single = true;
                    e.inputs = vec![Value::Array(a)];
                }
                Value::Array(a) => e.inputs = a,
                _ => out.problem("/body/input".into(), "not a string or a list"),
            },
            "dimensions" => e.dimensions = Some(v.clone()),
            "encoding_format" if v == "float" => {}
            "encoding_format" if v == "base64" => e.base64 = true,
            "user" => e.user = Some(v.clone()),
            _ if is_default(k, v) => {}
            _ => out.unknown_key(format!("/body/{k}"), k),
        }
    }
    e
}

/// Gemini's and Vertex's `request` of an embedding line.
pub(crate) fn from_gemini(line: &mut Value, out: &mut Out<'_, '_>) -> Embed {
    let mut e = Embed {
        single: true,
        ..Embed::default()
    };
    let Some(req) = line.get_mut("request").and_then(Value::as_object_mut) else {
        out.problem("/request".into(), "not an object");
        return e;
    };
    for (k, v) in req {
        let at = format!("/request/{k}");
        match camel(k).as_ref() {
            "model" => {
                e.model = v
                    .as_str()
                    .map(|m| m.strip_prefix("models/").unwrap_or(m).to_string())
            }
            "content" => {
                let texts: Vec<&str> = get(v, "parts")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect();
                match texts.as_slice() {
                    [t] => e.inputs = vec![json!(t)],
                    _ => out.problem(at, "content of one text part converts"),
                }
            }
            "embedContentConfig" => {
                for (ck, cv) in v.as_object().into_iter().flatten() {
                    embed_config(&mut e, ck, cv, &format!("{at}/{ck}"), out);
                }
            }
            _ if is_default(k, v) => {}
            _ => embed_config(&mut e, k, v, &at, out),
        }
    }
    e
}

fn embed_config(e: &mut Embed, k: &str, v: &Value, at: &str, out: &mut Out<'_, '_>) {
    match camel(k).as_ref() {
        "outputDimensionality" => e.dimensions = Some(v.clone()),
        "taskType" => e.task_type = Some(v.clone()),
        "title" => e.title = Some(v.clone()),
        _ => out.unknown_key(at.to_string(), k),
    }
}

/// Vertex's legacy instance: the line is `{"content": "...", "task_type"?, "title"?}`.
pub(crate) fn from_vertex(line: &mut Value, out: &mut Out<'_, '_>) -> Embed {
    let mut e = Embed {
        single: true,
        ..Embed::default()
    };
    for (k, v) in line.as_object_mut().into_iter().flatten() {
        match k.as_str() {
            "content" => e.inputs = vec![std::mem::take(v)],
            "key" | "custom_id" => {}
            "task_type" => e.task_type = Some(v.clone()),
            "title" => e.title = Some(v.clone()),
            _ => out.unknown_key(format!("/{k}"), k),
        }
    }
    e
}

/// Writes the lines of `e` for the target.
pub(crate) fn write(e: Embed, id: &Value, out: &mut Out<'_, '_>) {
    let shape = out.target().shape;
    match shape {
        Shape::Chat | Shape::Body => {
            for (f, v) in [("taskType", &e.task_type), ("title", &e.title)] {
                if v.is_some() {
                    let at = match out.src {
                        super::Source::VertexEmbed => {
                            format!("/{}", if f == "taskType" { "task_type" } else { f })
                        }
                        _ => out.pointer(f),
                    };
                    out.no_equivalent(at, f, "no equivalent on OpenAI");
                }
            }
            let mut body = Map::new();
            match (out.cx.model)(e.model.as_deref().unwrap_or("")).or(e.model.clone()) {
                Some(m) => {
                    body.insert("model".into(), json!(m));
                }
                None => out.problem(String::new(), "no model: give --model"),
            }
            let input = if e.single && e.inputs.len() == 1 {
                e.inputs.into_iter().next().unwrap_or_default()
            } else {
                Value::Array(e.inputs)
            };
            body.insert("input".into(), input);
            super::put(&mut body, "dimensions", &e.dimensions);
            if e.base64 {
                body.insert("encoding_format".into(), json!("base64"));
            }
            super::put(&mut body, "user", &e.user);
            let line = if shape == Shape::Body {
                json!({"custom_id": id, "body": body})
            } else {
                json!({"custom_id": id, "method": "POST", "url": "/v1/embeddings", "body": body})
            };
            out.c.lines.push(line);
        }
        Shape::Gemini | Shape::Vertex => {
            if e.base64 {
                out.no_equivalent(
                    "/body/encoding_format".into(),
                    "encoding_format",
                    "base64: Gemini answers floats",
                );
            }
            if e.user.is_some() {
                out.no_equivalent("/body/user".into(), "user", "no equivalent on Gemini");
            }
            let n = e.inputs.len();
            for (i, text) in e.inputs.into_iter().enumerate() {
                if !text.is_string() {
                    out.problem(
                        format!("/body/input/{i}"),
                        "token arrays: Gemini embeds text only",
                    );
                    continue;
                }
                let id = match (n, id) {
                    (1, _) => id.clone(),
                    (_, Value::String(s)) => json!(format!("{s}-{i}")),
                    _ => id.clone(),
                };
                let mut config = Map::new();
                super::put(&mut config, "outputDimensionality", &e.dimensions);
                super::put(&mut config, "taskType", &e.task_type);
                super::put(&mut config, "title", &e.title);
                let mut req = Map::new();
                req.insert("content".into(), json!({"parts": [{ "text": text }]}));
                if shape == Shape::Vertex {
                    if !config.is_empty() {
                        req.insert("embedContentConfig".into(), Value::Object(config));
                    }
                } else {
                    req.extend(config);
                }
                out.c.lines.push(json!({"key": id, "request": req}));
            }
        }
        _ => out.problem(
            String::new(),
            format!(
                "an embedding request: {} has no embeddings",
                out.target().label()
            ),
        ),
    }
}
