//! `batchkit convert`: the output is what `validate --provider TARGET` accepts, a round trip
//! gives back what both shapes hold, ids stay byte for byte or are mapped, and what does not
//! convert is named.

use serde_json::{json, Value};

use crate::util::*;

fn lines(dir: &Dir, name: &str) -> Vec<Value> {
    std::fs::read_to_string(dir.join(name))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn convert(dir: &Dir, input: &str, to: &str, out: &str, extra: &[&str]) -> Vec<Value> {
    let mut c = dir.cmd();
    c.args([
        "--format", "json", "convert", input, "--to", to, "--out", out,
    ]);
    c.args(extra);
    json_lines(&run(c))
}

fn validate_errors(dir: &Dir, file: &str, provider: &str) -> u64 {
    validate_error_list(dir, file, provider).len() as u64
}

/// The errors `validate --provider` finds, but for Bedrock's minimum of 100 records a job (a
/// fact of the file's size, not of its lines).
fn validate_error_list(dir: &Dir, file: &str, provider: &str) -> Vec<Value> {
    let mut c = dir.cmd();
    c.args(["--format", "json", "validate", "--provider", provider, file]);
    let out = json_lines(&run(c));
    out.into_iter()
        .filter(|l| {
            l["type"] == "diagnostic" && l["severity"] == "error" && l["code"] != "too_few_requests"
        })
        .collect()
}

/// The source fixtures, one a shape.
const SOURCES: [&str; 8] = [
    "openai-chat",
    "responses",
    "anthropic",
    "gemini",
    "vertex",
    "bedrock-claude",
    "bedrock-nova",
    "openrouter",
];

/// Every target, with the model flag it needs (targets whose lines name no model need none)
/// and the `validate --provider` name.
const TARGETS: [(&str, &[&str], &str); 11] = [
    ("openai", &["--model", "gpt-4o-mini"], "openai"),
    ("openai-responses", &["--model", "gpt-4.1-mini"], "openai"),
    ("anthropic", &["--model", "claude-haiku-4-5"], "anthropic"),
    ("gemini", &[], "gemini"),
    ("vertex", &[], "vertex"),
    ("bedrock", &[], "bedrock"),
    ("bedrock-nova", &[], "bedrock"),
    (
        "together",
        &["--model", "meta-llama/Llama-3.3-70B-Instruct-Turbo"],
        "together",
    ),
    ("mistral", &["--model", "mistral-small-latest"], "mistral"),
    ("groq", &["--model", "llama-3.3-70b-versatile"], "groq"),
    (
        "openrouter",
        &["--model", "meta-llama/llama-3.3-70b-instruct"],
        "openrouter",
    ),
];

fn id_of(line: &Value) -> Value {
    ["custom_id", "key", "recordId"]
        .iter()
        .find_map(|k| line.get(*k).cloned())
        .unwrap_or(Value::Null)
}

bktest!(every_pair_of_shapes_converts_and_validates, |dir| {
    for src in SOURCES {
        let path = fixture(&format!("convert/{src}.jsonl"));
        let path = path.to_str().unwrap();
        let source = lines_of(path);
        for (to, model, provider) in TARGETS {
            let out = format!("{src}.{to}.jsonl");
            let lossy_out = format!("{src}.{to}.lossy.jsonl");
            // Strict: a line is left out only for fields the target cannot say, each named
            // by a pointer into that very line.
            let ev = convert(&dir, path, to, &out, model);
            let left: Vec<&Value> = ev.iter().filter(|e| e["type"] == "diagnostic").collect();
            for d in &left {
                assert_eq!(d["code"], "unconvertible", "{src} -> {to}: {d}");
                let line = &source[d["line"].as_u64().unwrap() as usize - 1];
                let ptr = d["pointer"].as_str().unwrap();
                assert!(
                    line.pointer(ptr).is_some(),
                    "{src} -> {to}: {ptr} not in {line}"
                );
            }
            // Lossy: every line converts, the drops counted.
            let mut flags = model.to_vec();
            flags.push("--lossy");
            let ev = convert(&dir, path, to, &lossy_out, &flags);
            let s = ev.last().unwrap();
            assert_eq!(
                (s["converted"].as_u64(), s["left_out"].as_u64()),
                (Some(source.len() as u64), Some(0)),
                "{src} -> {to}: {ev:?}"
            );
            let dropped: u64 = s["dropped"]
                .as_object()
                .unwrap()
                .values()
                .map(|v| v.as_u64().unwrap())
                .sum();
            assert!(dropped as usize >= left.len(), "{src} -> {to}: {s}");
            assert_eq!(left.is_empty(), dropped == 0, "{src} -> {to}: {s}");
            let errors = validate_error_list(&dir, &lossy_out, provider);
            assert!(errors.is_empty(), "{src} -> {to}: {errors:?}");
            // Ids byte for byte.
            let got: Vec<Value> = lines(&dir, &lossy_out).iter().map(id_of).collect();
            let want: Vec<Value> = source.iter().map(id_of).collect();
            assert_eq!(got, want, "{src} -> {to}");
        }
    }
});

fn lines_of(path: &str) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

// Every source shape through every target and back, compared in OpenAI's shape: what a
// shape says survives a trip through another that says it too.
bktest!(every_shape_through_every_other_and_back, |dir| {
    for src in SOURCES {
        let path = fixture(&format!("convert/{src}.jsonl"));
        let path = path.to_str().unwrap();
        let (back_to, back_model, _) = TARGETS
            .iter()
            .find(|t| {
                t.0 == match src {
                    "openai-chat" => "openai",
                    "responses" => "openai-responses",
                    "bedrock-claude" => "bedrock",
                    s => s,
                }
            })
            .unwrap();
        // The source as OpenAI sees it (what OpenAI cannot say dropped on both sides).
        let direct = format!("{src}.direct.jsonl");
        let to_openai = ["--model", "m", "--lossy"];
        convert(&dir, path, "openai", &direct, &to_openai);
        for (to, model, _) in TARGETS {
            let there = format!("{src}.{to}.there.jsonl");
            let back = format!("{src}.{to}.back.jsonl");
            // Only lines the target holds whole make the trip.
            let went = convert(&dir, path, to, &there, model).pop().unwrap();
            let ev = convert(&dir, &there, back_to, &back, back_model);
            assert_eq!(
                ev.last().unwrap()["left_out"],
                0,
                "{src} -> {to} -> back: {ev:?}"
            );
            let again = format!("{src}.{to}.again.jsonl");
            convert(&dir, &back, "openai", &again, &to_openai);
            let want: std::collections::BTreeMap<String, Value> = lines(&dir, &direct)
                .iter()
                .map(|l| (l["custom_id"].to_string(), common_without(l, to, src)))
                .collect();
            let got = lines(&dir, &again);
            assert_eq!(
                Some(got.len() as u64),
                went["converted"].as_u64(),
                "{src} -> {to}"
            );
            for g in &got {
                assert_eq!(
                    want.get(&g["custom_id"].to_string()),
                    Some(&common_without(g, to, src)),
                    "{src} -> {to} -> {src}"
                );
            }
        }
    }
});

/// [`common`], leaving out what one side of a trip cannot hold: a model for shapes whose
/// lines name none (it is set on the job), generated tool-call ids for Gemini sources.
fn common_without(line: &Value, to: &str, src: &str) -> Value {
    let mut c = common(line);
    let no_model = |s: &str| {
        matches!(
            s,
            "gemini" | "vertex" | "bedrock" | "bedrock-nova" | "bedrock-claude"
        )
    };
    if no_model(to) || no_model(src) {
        c["model"] = Value::Null;
    }
    c
}

bktest!(
    every_fixture_line_converts_and_validates_on_each_target,
    |dir| {
        let src = fixture("convert/openai-chat.jsonl");
        let src = src.to_str().unwrap();
        let n = std::fs::read_to_string(src).unwrap().lines().count() as u64;
        for (to, extra) in [
            ("anthropic", vec!["--model", "claude-sonnet-4-5"]),
            ("gemini", vec![]),
            ("openai", vec![]),
        ] {
            let out = format!("{to}.jsonl");
            let ev = convert(&dir, src, to, &out, &extra);
            let s = ev.last().unwrap();
            assert_eq!(
                (s["converted"].as_u64(), s["left_out"].as_u64()),
                (Some(n), Some(0)),
                "{to}: {ev:?}"
            );
            assert_eq!(validate_errors(&dir, &out, to), 0, "{to}");
            // Ids byte for byte.
            let ids: Vec<Value> = lines(&dir, &out)
                .iter()
                .map(|l| l.get("custom_id").or(l.get("key")).cloned().unwrap())
                .collect();
            let want: Vec<Value> = std::fs::read_to_string(src)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap()["custom_id"].clone())
                .collect();
            assert_eq!(ids, want, "{to}");
        }
        // Gemini: a tool result names the function its call named; a system prompt is an instruction.
        let g = lines(&dir, "gemini.jsonl");
        let tools = &g[3]["request"]["contents"];
        assert_eq!(
            tools[2]["parts"][0]["functionResponse"]["name"],
            "get_weather"
        );
        assert_eq!(
            tools[2]["parts"][0]["functionResponse"]["response"],
            json!({"temp_c": 14})
        );
        assert_eq!(
            g[0]["request"]["systemInstruction"]["parts"][0]["text"],
            "You are terse."
        );
        assert_eq!(
            g[5]["request"]["generationConfig"]["responseMimeType"],
            "application/json"
        );
        // Anthropic: the forced tool, the image sources, the schema.
        let a = lines(&dir, "anthropic.jsonl");
        assert_eq!(
            a[4]["params"]["tool_choice"],
            json!({"type": "tool", "name": "get_weather"})
        );
        assert_eq!(
            a[1]["params"]["messages"][0]["content"][1]["source"]["type"],
            "url"
        );
        assert_eq!(
            a[2]["params"]["messages"][0]["content"][0]["source"]["type"],
            "base64"
        );
        assert_eq!(
            a[5]["params"]["output_config"]["format"]["type"],
            "json_schema"
        );
        assert_eq!(
            a[3]["params"]["messages"][1]["content"][0]["input"],
            json!({"city": "Paris"})
        );
    }
);

/// What a request holds that both OpenAI chat and Anthropic hold: the comparison of a round
/// trip (the cap field's name and a schema's name are OpenAI's own).
fn common(line: &Value) -> Value {
    let b = &line["body"];
    let cap = b
        .get("max_completion_tokens")
        .or(b.get("max_tokens"))
        .cloned();
    let mut msgs = b["messages"].clone();
    // One system message: where OpenAI had several (or developer ones), Anthropic has one.
    for m in msgs.as_array_mut().unwrap() {
        if m["role"] == "developer" {
            m["role"] = json!("system");
        }
        // A tool result that is JSON is compared as JSON (Gemini carries it as an object).
        if m["role"] == "tool" {
            if let Some(v) = m["content"]
                .as_str()
                .and_then(|t| serde_json::from_str::<Value>(t).ok())
            {
                m["content"] = v;
            }
        }
        // Tool-call arguments are JSON in a string: compared as JSON.
        for call in m
            .get_mut("tool_calls")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let args = call["function"]["arguments"].as_str().unwrap().to_string();
            call["function"]["arguments"] = serde_json::from_str(&args).unwrap();
        }
    }
    json!({
        "model": b["model"], "messages": msgs, "tools": b.get("tools"), "tool_choice": b.get("tool_choice"),
        "temperature": b.get("temperature"), "top_p": b.get("top_p"), "stop": b.get("stop").map(|s| if s.is_string() { json!([s]) } else { s.clone() }),
        "cap": cap, "schema": b.pointer("/response_format/json_schema/schema"),
    })
}

bktest!(
    generated_requests_through_every_target_and_back_keep_what_both_hold,
    |dir| {
        // Generated requests: text in several scripts, images, tools, calls and results, stop
        // sequences, sampling, schemas.
        let texts = [
            "Bonjour 👋",
            "日本語のテキスト",
            "fn main() { println!(\"hi\"); }",
            "Привет",
            "a\nb\tc",
        ];
        let mut src = String::new();
        for i in 0..60usize {
            let mut body = json!({"model": "gpt-4o-mini", "max_completion_tokens": 16 + i});
            let mut msgs = vec![];
            if i % 2 == 0 {
                msgs.push(json!({"role": "system", "content": "Be brief."}));
            }
            let t = texts[i % texts.len()];
            msgs.push(match i % 3 {
            0 => json!({"role": "user", "content": t}),
            1 => json!({"role": "user", "content": [{"type": "text", "text": t}, {"type": "image_url", "image_url": {"url": format!("https://example.com/{i}.png")}}]}),
            _ => json!({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/AAAA"}}, {"type": "text", "text": t}]}),
        });
            if i % 4 == 1 {
                msgs.push(json!({"role": "assistant", "content": null, "tool_calls": [{"id": format!("call_{i}"), "type": "function", "function": {"name": "lookup", "arguments": "{\"q\":\"x\",\"n\":2}"}}]}));
                msgs.push(
                json!({"role": "tool", "tool_call_id": format!("call_{i}"), "content": "found"}),
            );
                body["tools"] = json!([{"type": "function", "function": {"name": "lookup", "description": "Search", "parameters": {"type": "object", "properties": {"q": {"type": "string"}, "n": {"type": "integer"}}}}}]);
                body["tool_choice"] = if i % 8 == 1 {
                    json!("auto")
                } else {
                    json!({"type": "function", "function": {"name": "lookup"}})
                };
            }
            if i % 5 == 0 {
                body["temperature"] = json!(0.5);
                body["top_p"] = json!(0.8);
                body["stop"] = json!(["END", "###"]);
            }
            if i % 7 == 3 {
                body["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object", "properties": {"k": {"type": "string"}}}}});
            }
            body["messages"] = Value::Array(msgs);
            src += &json!({"custom_id": format!("r-{i}"), "method": "POST", "url": "/v1/chat/completions", "body": body}).to_string();
            src.push('\n');
        }
        dir.write("src.jsonl", &src);
        let before: Vec<Value> = src
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        for (to, model, provider) in TARGETS {
            let there = format!("{to}.jsonl");
            let back = format!("{to}.back.jsonl");
            let mut flags = model.to_vec();
            flags.push("--lossy");
            let ev = convert(&dir, "src.jsonl", to, &there, &flags);
            assert_eq!(ev.last().unwrap()["left_out"], 0, "{to}: {ev:?}");
            assert_eq!(
                validate_error_list(&dir, &there, provider),
                Vec::<Value>::new(),
                "{to}"
            );
            let ev = convert(&dir, &there, "openai", &back, &["--model", "gpt-4o-mini"]);
            assert_eq!(ev.last().unwrap()["left_out"], 0, "{to}: {ev:?}");
            let after = lines(&dir, &back);
            assert_eq!(before.len(), after.len(), "{to}");
            for (b, a) in before.iter().zip(&after) {
                assert_eq!(b["custom_id"], a["custom_id"], "{to}");
                assert_eq!(common(&held_by(b, to)), common(a), "{to}\n{b}\n{a}");
            }
        }
    }
);

/// `line` without what `to` cannot hold (so `--lossy` dropped it on the way): stop sequences
/// on Responses; image URLs on Bedrock; schemas on Nova; images on OpenRouter.
fn held_by(line: &Value, to: &str) -> Value {
    let mut l = line.clone();
    let b = &mut l["body"];
    let no_url = matches!(to, "bedrock" | "bedrock-nova" | "openrouter");
    let no_data = to == "openrouter";
    for m in b["messages"].as_array_mut().unwrap() {
        if let Some(parts) = m["content"].as_array_mut() {
            parts.retain(|p| match p["image_url"]["url"].as_str() {
                Some(u) if u.starts_with("data:") => !no_data,
                Some(_) => !no_url,
                None => true,
            });
            // One text part left is written as a string.
            if let [p] = parts.as_slice() {
                if p["type"] == "text" {
                    m["content"] = p["text"].clone();
                }
            }
        }
    }
    let o = b.as_object_mut().unwrap();
    if to == "openai-responses" {
        o.remove("stop");
    }
    if to == "bedrock-nova" {
        o.remove("response_format");
    }
    l
}

bktest!(
    ids_the_target_refuses_are_mapped_and_what_does_not_convert_is_named,
    |dir| {
        let src = fixture("convert/openai-unconvertible.jsonl");
        let src = src.to_str().unwrap();
        let ev = convert(
            &dir,
            src,
            "anthropic",
            "a.jsonl",
            &["--model", "claude-haiku-4-5"],
        );
        let codes: Vec<(u64, String, String)> = ev
            .iter()
            .filter(|e| e["type"] == "diagnostic")
            .map(|e| {
                (
                    e["line"].as_u64().unwrap(),
                    e["code"].as_str().unwrap().to_string(),
                    e["pointer"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        assert_eq!(
            codes,
            [
                (1, "invalid_custom_id".to_string(), "/custom_id".to_string()),
                (
                    2,
                    "unconvertible".to_string(),
                    "/body/logit_bias".to_string()
                ),
                (
                    3,
                    "unconvertible".to_string(),
                    "/body/temperature".to_string()
                ),
            ]
        );
        let s = ev.last().unwrap();
        assert_eq!(
            (s["converted"].as_u64(), s["left_out"].as_u64()),
            (Some(0), Some(3))
        );
        assert_eq!(std::fs::read_to_string(dir.join("a.jsonl")).unwrap(), "");
        // --lossy drops what does not convert, counted by kind; --id-map renames the id.
        let ev = convert(
            &dir,
            src,
            "anthropic",
            "b.jsonl",
            &[
                "--model",
                "claude-haiku-4-5",
                "--lossy",
                "--id-map",
                "ids.jsonl",
            ],
        );
        let s = ev.last().unwrap();
        assert_eq!(
            (s["converted"].as_u64(), s["ids_renamed"].as_u64()),
            (Some(3), Some(1)),
            "{s}"
        );
        assert_eq!(
            s["dropped"],
            json!({"logit_bias": 1, "seed": 1, "temperature": 1})
        );
        let map = lines(&dir, "ids.jsonl");
        assert_eq!(map.len(), 1);
        assert_eq!(map[0]["original"], "order #42 / 2026");
        let out = lines(&dir, "b.jsonl");
        assert_eq!(out[0]["custom_id"], map[0]["id"]);
        assert_eq!(validate_errors(&dir, "b.jsonl", "anthropic"), 0);
        // The same run gives the same new id.
        convert(
            &dir,
            src,
            "anthropic",
            "c.jsonl",
            &[
                "--model",
                "claude-haiku-4-5",
                "--lossy",
                "--id-map",
                "ids2.jsonl",
            ],
        );
        assert_eq!(lines(&dir, "ids2.jsonl"), map);
    }
);

bktest!(
    a_missing_cap_comes_from_the_flag_or_the_models_table,
    |dir| {
        dir.write("s.jsonl", json!({"custom_id": "x", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}}).to_string() + "\n");
        let ev = convert(
            &dir,
            "s.jsonl",
            "anthropic",
            "a.jsonl",
            &["--model", "claude-haiku-4-5"],
        );
        assert_eq!(ev.last().unwrap()["max_tokens_added"], 1);
        assert_eq!(lines(&dir, "a.jsonl")[0]["params"]["max_tokens"], 64000);
        convert(
            &dir,
            "s.jsonl",
            "anthropic",
            "b.jsonl",
            &["--model", "claude-haiku-4-5", "--default-max-tokens", "512"],
        );
        assert_eq!(lines(&dir, "b.jsonl")[0]["params"]["max_tokens"], 512);
        // No model the table knows, no flag: the line is left out, and says why.
        let ev = convert(
            &dir,
            "s.jsonl",
            "anthropic",
            "c.jsonl",
            &["--model", "claude-unknown"],
        );
        let d = ev.iter().find(|e| e["type"] == "diagnostic").unwrap();
        assert!(
            d["message"]
                .as_str()
                .unwrap()
                .contains("--default-max-tokens"),
            "{d}"
        );
    }
);

bktest!(
    the_id_map_takes_results_back_to_the_original_requests,
    |dir| {
        // Ids Anthropic refuses; converted with --id-map; results come back under the new ids.
        let ids = ["order #1", "order #2", "ok-3"];
        let src: String = ids
        .iter()
        .map(|id| json!({"custom_id": id, "method": "POST", "url": "/v1/chat/completions", "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 9}}).to_string() + "\n")
        .collect();
        dir.write("orig.jsonl", &src);
        let ev = convert(
            &dir,
            "orig.jsonl",
            "anthropic",
            "claude.jsonl",
            &["--model", "claude-haiku-4-5", "--id-map", "ids.jsonl"],
        );
        assert_eq!(ev.last().unwrap()["ids_renamed"], 2);
        let results: String = lines(&dir, "claude.jsonl")
        .iter()
        .map(|l| json!({"custom_id": l["custom_id"], "result": {"type": "succeeded", "message": {"model": "claude-haiku-4-5", "content": [{"type": "text", "text": "hello"}], "stop_reason": "end_turn", "usage": {"input_tokens": 3, "output_tokens": 1}}}}).to_string() + "\n")
        .collect();
        dir.write("results.jsonl", &results);
        let join = |extra: &[&str]| {
            let mut c = dir.cmd();
            c.args([
                "--format",
                "json",
                "join",
                "--requests",
                "orig.jsonl",
                "--results",
                "results.jsonl",
                "--out",
                "m.jsonl",
            ]);
            c.args(extra);
            json_lines(&run(c)).pop().unwrap()
        };
        let without = join(&[]);
        assert_eq!(
            (without["succeeded"].as_u64(), without["orphans"].as_u64()),
            (Some(1), Some(2))
        );
        let with = join(&["--id-map", "ids.jsonl"]);
        assert_eq!(
            (with["succeeded"].as_u64(), with["orphans"].as_u64()),
            (Some(3), Some(0)),
            "{with}"
        );
        let merged = lines(&dir, "m.jsonl");
        let got: Vec<&str> = merged
            .iter()
            .map(|m| m["custom_id"].as_str().unwrap())
            .collect();
        assert_eq!(got, ids);
        // A map that is not one is refused, naming its line.
        dir.write("bad.jsonl", "{\"id\":\"x\"}\n");
        let mut c = dir.cmd();
        c.args([
            "join",
            "--requests",
            "orig.jsonl",
            "--results",
            "results.jsonl",
            "--out",
            "n.jsonl",
            "--id-map",
            "bad.jsonl",
        ]);
        let o = run(c);
        assert_eq!(code(&o), 2);
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("bad.jsonl:1"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
);

bktest!(
    lines_that_are_not_requests_are_named_as_validate_names_them,
    |dir| {
        dir.write(
            "bad.jsonl",
            b"{\"custom_id\":\"a\",\n[1]\n\xff\xfe\n{\"custom_id\":\"b\",\"input\":{}}\n"
                .as_slice(),
        );
        let ev = convert(&dir, "bad.jsonl", "gemini", "out.jsonl", &[]);
        let codes: Vec<(u64, &str)> = ev
            .iter()
            .filter(|e| e["type"] == "diagnostic")
            .map(|e| (e["line"].as_u64().unwrap(), e["code"].as_str().unwrap()))
            .collect();
        assert_eq!(
            codes,
            [
                (1, "invalid_json"),
                (2, "not_object"),
                (3, "invalid_utf8"),
                (4, "unconvertible")
            ]
        );
        assert_eq!(ev.last().unwrap()["left_out"], 4);
        assert_eq!(std::fs::read(dir.join("out.jsonl")).unwrap(), b"");
    }
);

bktest!(embeddings_go_between_openai_gemini_and_vertex, |dir| {
    let src = fixture("convert/embeddings-openai.jsonl");
    let src = src.to_str().unwrap();
    // Gemini takes one text a line: three inputs are three lines, ids ID-0.. ID-2.
    let ev = convert(&dir, src, "gemini", "g.jsonl", &[]);
    let s = ev.last().unwrap();
    assert_eq!(
        (s["converted"].as_u64(), s["written"].as_u64()),
        (Some(2), Some(4))
    );
    let g = lines(&dir, "g.jsonl");
    let keys: Vec<&str> = g.iter().map(|l| l["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["emb-1", "emb-2-0", "emb-2-1", "emb-2-2"]);
    assert_eq!(g[0]["request"]["outputDimensionality"], 256);
    assert_eq!(
        g[2]["request"]["content"]["parts"][0]["text"],
        "second document"
    );
    assert_eq!(validate_errors(&dir, "g.jsonl", "gemini"), 0);
    convert(&dir, src, "vertex", "v.jsonl", &[]);
    assert_eq!(
        lines(&dir, "v.jsonl")[0]["request"]["embedContentConfig"]["outputDimensionality"],
        256
    );
    assert_eq!(validate_errors(&dir, "v.jsonl", "vertex"), 0);
    // And back: one text and its dimensions, under the same id.
    convert(
        &dir,
        "g.jsonl",
        "openai",
        "o.jsonl",
        &["--model", "text-embedding-3-small"],
    );
    let o = lines(&dir, "o.jsonl");
    assert_eq!(o[0], lines_of(src)[0]);
    assert_eq!(validate_errors(&dir, "o.jsonl", "openai"), 0);
    // taskType has no OpenAI equivalent; token arrays no Gemini one; chat targets no
    // embeddings at all.
    let gsrc = fixture("convert/embeddings-gemini.jsonl");
    let ev = convert(
        &dir,
        gsrc.to_str().unwrap(),
        "openai",
        "x.jsonl",
        &["--model", "text-embedding-3-small"],
    );
    let d = ev.iter().find(|e| e["type"] == "diagnostic").unwrap();
    assert_eq!(
        (d["line"].as_u64(), d["pointer"].as_str()),
        (Some(2), Some("/request/taskType"))
    );
    dir.write("tok.jsonl", json!({"custom_id": "t", "method": "POST", "url": "/v1/embeddings", "body": {"model": "text-embedding-3-small", "input": [[1, 2, 3], [4]]}}).to_string() + "\n");
    let ev = convert(&dir, "tok.jsonl", "gemini", "t.jsonl", &[]);
    assert_eq!(ev.last().unwrap()["left_out"], 1);
    let ev = convert(
        &dir,
        src,
        "anthropic",
        "a.jsonl",
        &["--model", "claude-haiku-4-5"],
    );
    assert_eq!(ev.last().unwrap()["left_out"], 2);
});

bktest!(hosts_get_their_own_field_names_and_rules, |dir| {
    dir.write("s.jsonl", json!({"custom_id": "h1", "params": {"model": "claude-haiku-4-5", "max_tokens": 50, "top_k": 5, "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}]}]}}).to_string() + "\n"
            + &json!({"custom_id": "h2", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "gpt-4o-mini", "seed": 3, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}}).to_string() + "\n");
    let m = ["--model", "x"];
    // Together: body lines, top_k kept.
    convert(&dir, "s.jsonl", "together", "t.jsonl", &m);
    let t = lines(&dir, "t.jsonl");
    assert_eq!((t[0].get("url"), &t[0]["body"]["top_k"]), (None, &json!(5)));
    // Mistral: the seed is random_seed; top_k does not convert.
    let ev = convert(&dir, "s.jsonl", "mistral", "m.jsonl", &m);
    let d = ev.iter().find(|e| e["type"] == "diagnostic").unwrap();
    assert_eq!(d["pointer"], "/params/top_k");
    assert_eq!(lines(&dir, "m.jsonl")[0]["body"]["random_seed"], 3);
    // OpenRouter takes text only.
    let ev = convert(
        &dir,
        "s.jsonl",
        "openrouter",
        "r.jsonl",
        &["--model", "x", "--lossy"],
    );
    assert_eq!(
        ev.last().unwrap()["dropped"],
        json!({"image": 1, "top_k": 1})
    );
    // A target name convert does not know is a flag error naming the choices.
    let mut c = dir.cmd();
    c.args(["convert", "s.jsonl", "--to", "nowhere", "--out", "n.jsonl"]);
    let o = run(c);
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("bedrock-nova"));
});

bktest!(cache_breakpoints_are_kept_mapped_or_dropped, |dir| {
    let src = fixture("convert/anthropic.jsonl");
    let src = src.to_str().unwrap();
    // keep: Anthropic -> Nova is a cachePoint after the system text; -> Anthropic as it was.
    convert(&dir, src, "bedrock-nova", "n.jsonl", &[]);
    assert_eq!(
        lines(&dir, "n.jsonl")[1]["modelInput"]["system"][1],
        json!({"cachePoint": {"type": "default"}})
    );
    convert(
        &dir,
        "n.jsonl",
        "anthropic",
        "a.jsonl",
        &["--model", "claude-haiku-4-5"],
    );
    assert_eq!(
        lines(&dir, "a.jsonl")[1]["params"]["system"],
        lines_of(src)[1]["params"]["system"]
    );
    // Toward targets that cache on their own, dropped and counted, without a finding.
    let ev = convert(&dir, src, "gemini", "g.jsonl", &[]);
    let s = ev.last().unwrap();
    assert_eq!(
        (s["breakpoints_dropped"].as_u64(), s["left_out"].as_u64()),
        (Some(1), Some(0))
    );
    // none: dropped toward Anthropic too.
    let ev = convert(&dir, src, "anthropic", "x.jsonl", &["--cache", "none"]);
    assert_eq!(ev.last().unwrap()["breakpoints_dropped"], 1);
    assert!(!std::fs::read_to_string(dir.join("x.jsonl"))
        .unwrap()
        .contains("cache_control"));
});

bktest!(
    schemas_map_between_json_schema_and_geminis_openapi_subset,
    |dir| {
        let line = |id: &str, schema: Value| {
            json!({"custom_id": id, "method": "POST", "url": "/v1/chat/completions", "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "max_tokens": 9, "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": schema}}}}).to_string() + "\n"
        };
        let closed = json!({"type": "object", "properties": {"k": {"type": "string"}}, "additionalProperties": false});
        let patterned = json!({"type": "object", "properties": {"k": {"type": ["string", "null"], "pattern": "^[a-z]+$"}}});
        let neither = json!({"type": "object", "properties": {"k": {"type": "string", "pattern": "^a"}}, "additionalProperties": false});
        dir.write(
            "s.jsonl",
            line("closed", closed.clone())
                + &line("patterned", patterned)
                + &line("neither", neither),
        );
        let ev = convert(&dir, "s.jsonl", "gemini", "g.jsonl", &[]);
        // What responseJsonSchema takes goes there; what only the OpenAPI subset can say goes
        // to responseSchema; what neither can say is named.
        let g = lines(&dir, "g.jsonl");
        assert_eq!(
            g[0]["request"]["generationConfig"]["responseJsonSchema"],
            closed
        );
        assert_eq!(
            g[1]["request"]["generationConfig"]["responseSchema"],
            json!({"type": "OBJECT", "properties": {"k": {"type": "STRING", "nullable": true, "pattern": "^[a-z]+$"}}})
        );
        let d: Vec<(&str, &str)> = ev
            .iter()
            .filter(|e| e["type"] == "diagnostic")
            .map(|e| (e["code"].as_str().unwrap(), e["pointer"].as_str().unwrap()))
            .collect();
        assert_eq!(
            d,
            [(
                "unconvertible",
                "/body/response_format/json_schema/schema/properties/k/pattern"
            )]
        );
        assert_eq!(validate_errors(&dir, "g.jsonl", "gemini"), 0);
        // --lossy: the schema is dropped, JSON still asked for.
        let ev = convert(&dir, "s.jsonl", "gemini", "l.jsonl", &["--lossy"]);
        assert_eq!(ev.last().unwrap()["dropped"], json!({"schema": 1}));
        assert_eq!(
            lines(&dir, "l.jsonl")[2]["request"]["generationConfig"],
            json!({"maxOutputTokens": 9, "responseMimeType": "application/json"})
        );
        // Gemini's responseSchema: JSON Schema toward OpenAI, the same OpenAPI form back to Gemini.
        let src = fixture("convert/gemini.jsonl");
        let src = src.to_str().unwrap();
        dir.write("rs.jsonl", json!({"key": "rs", "request": {"contents": [{"role": "user", "parts": [{"text": "x"}]}], "generationConfig": {"responseMimeType": "application/json", "responseSchema": {"type": "OBJECT", "properties": {"n": {"type": "INTEGER", "nullable": true}}, "propertyOrdering": ["n"]}}}}).to_string() + "\n");
        convert(
            &dir,
            "rs.jsonl",
            "openai",
            "o.jsonl",
            &["--model", "gpt-4o-mini"],
        );
        assert_eq!(
            lines(&dir, "o.jsonl")[0]["body"]["response_format"]["json_schema"]["schema"],
            json!({"type": "object", "properties": {"n": {"type": ["integer", "null"]}}})
        );
        convert(&dir, "rs.jsonl", "gemini", "rs2.jsonl", &[]);
        assert_eq!(
            lines(&dir, "rs2.jsonl")[0]["request"]["generationConfig"]["responseSchema"],
            json!({"type": "OBJECT", "properties": {"n": {"type": "INTEGER", "nullable": true}}})
        );
        // Tool parameters in the OpenAPI subset become JSON Schema.
        convert(
            &dir,
            src,
            "anthropic",
            "a.jsonl",
            &["--model", "claude-haiku-4-5"],
        );
        assert_eq!(
            lines(&dir, "a.jsonl")[3]["params"]["tools"][0]["input_schema"],
            json!({"type": "object", "properties": {"repo": {"type": "string"}}, "required": ["repo"]})
        );
    }
);

bktest!(
    cache_auto_places_breakpoints_where_requests_share_a_prefix,
    |dir| {
        // Five requests share a long system prompt (over Sonnet's 1,024-token minimum); one
        // has a prompt of its own.
        let shared: String = (0..400).map(|i| format!("rule {i} applies. ")).collect();
        let own: String = (0..400).map(|i| format!("clause {i} holds. ")).collect();
        let mut src = String::new();
        for i in 0..6 {
            let system = if i == 5 { &own } else { &shared };
            src += &(json!({"custom_id": format!("c{i}"), "method": "POST", "url": "/v1/chat/completions", "body": {"model": "gpt-4o", "max_tokens": 50, "messages": [{"role": "system", "content": system}, {"role": "user", "content": format!("question {i}")}]}}).to_string() + "\n");
        }
        dir.write("s.jsonl", &src);
        let ev = convert(
            &dir,
            "s.jsonl",
            "anthropic",
            "a.jsonl",
            &["--model", "claude-sonnet-4-5", "--cache", "auto"],
        );
        assert_eq!(ev.last().unwrap()["lines_cached"], 5, "{ev:?}");
        let a = lines(&dir, "a.jsonl");
        for (i, l) in a.iter().enumerate() {
            let system = &l["params"]["system"];
            if i < 5 {
                assert_eq!(
                    system[0]["cache_control"],
                    json!({"type": "ephemeral"}),
                    "{i}"
                );
                assert_eq!(system[0]["text"], shared.as_str());
            } else {
                assert_eq!(system, own.as_str());
            }
            // The questions differ: no breakpoint after them.
            assert!(!l["params"]["messages"]
                .to_string()
                .contains("cache_control"));
        }
        assert_eq!(validate_errors(&dir, "a.jsonl", "anthropic"), 0);
        // keep (the default) places none; toward Gemini auto places none either.
        let ev = convert(
            &dir,
            "s.jsonl",
            "anthropic",
            "k.jsonl",
            &["--model", "claude-sonnet-4-5"],
        );
        assert_eq!(ev.last().unwrap()["lines_cached"], 0);
        let ev = convert(&dir, "s.jsonl", "gemini", "g.jsonl", &["--cache", "auto"]);
        assert_eq!(ev.last().unwrap()["lines_cached"], 0);
        // The same bytes whatever the number of threads.
        let mut c = dir.cmd();
        c.args([
            "--threads",
            "1",
            "convert",
            "s.jsonl",
            "--to",
            "anthropic",
            "--model",
            "claude-sonnet-4-5",
            "--cache",
            "auto",
            "--out",
            "t1.jsonl",
        ]);
        run(c);
        assert_eq!(
            std::fs::read(dir.join("t1.jsonl")).unwrap(),
            std::fs::read(dir.join("a.jsonl")).unwrap()
        );
    }
);
