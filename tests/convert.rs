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
    let mut c = dir.cmd();
    c.args(["--format", "json", "validate", "--provider", provider, file]);
    let out = json_lines(&run(c));
    out.iter()
        .filter(|l| l["type"] == "diagnostic" && l["severity"] == "error")
        .count() as u64
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

bktest!(openai_to_anthropic_and_back_keeps_what_both_hold, |dir| {
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
    convert(
        &dir,
        "src.jsonl",
        "anthropic",
        "a.jsonl",
        &["--model", "claude-haiku-4-5"],
    );
    assert_eq!(validate_errors(&dir, "a.jsonl", "anthropic"), 0);
    let ev = convert(
        &dir,
        "a.jsonl",
        "openai",
        "back.jsonl",
        &["--model", "gpt-4o-mini"],
    );
    assert_eq!(ev.last().unwrap()["left_out"], 0, "{ev:?}");
    let before: Vec<Value> = src
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let after = lines(&dir, "back.jsonl");
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b["custom_id"], a["custom_id"]);
        assert_eq!(common(b), common(a), "{b}\n{a}");
    }
});

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
