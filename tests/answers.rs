//! `batchkit join` checks answers against the structured output their requests asked for.

use proptest::prelude::*;
use serde_json::{json, Value};

use crate::util::*;

/// The schemas the generated requests ask for.
fn schemas() -> Vec<Value> {
    vec![
        json!({"type":"object","properties":{"label":{"type":"string","enum":["pos","neg","mixed"]},"confidence":{"type":"number"}},"required":["label","confidence"],"additionalProperties":false}),
        json!({"type":"object","properties":{"items":{"type":"array","items":{"type":"object","properties":{"name":{"type":"string"},"qty":{"type":"integer"}},"required":["name","qty"]}}},"required":["items"]}),
        json!({"type":"object","properties":{"summary":{"type":"string","maxLength":40},"lang":{"type":"string"}},"required":["summary"]}),
    ]
}

const LABELS: [&str; 3] = ["pos", "neg", "mixed"];

/// An answer of kind `k` for schema `s`: fits, misses a required field, has a wrong type,
/// is not JSON, or is cut.
fn answer(s: usize, k: u8, n: u64) -> String {
    let good = match s {
        0 => {
            json!({"label": LABELS[n as usize % 3], "confidence": (n % 100) as f64 / 100.0})
        }
        1 => json!({"items": [{"name": format!("part-{n}"), "qty": n % 7}]}),
        _ => json!({"summary": "ça va très bien 👍", "lang": "fr"}),
    };
    match k {
        0 => good.to_string(),
        1 => {
            let mut v = good;
            let key = match s {
                0 => "confidence",
                1 => "items",
                _ => "summary",
            };
            v.as_object_mut().unwrap().remove(key);
            v.to_string()
        }
        2 => {
            let mut v = good;
            match s {
                0 => v["confidence"] = json!("high"),
                1 => v["items"][0]["qty"] = json!(1.5),
                _ => v["summary"] = json!("x".repeat(41)),
            }
            v.to_string()
        }
        3 => format!("Here is the JSON you asked for: {good}"),
        _ => {
            let t = good.to_string();
            t[..t.len() / 2].to_string()
        }
    }
}

fn openai_request(id: &str, schema: &Value) -> String {
    json!({"custom_id": id, "method": "POST", "url": "/v1/chat/completions", "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "classify"}], "response_format": {"type": "json_schema", "json_schema": {"name": "out", "strict": true, "schema": schema}}}}).to_string()
}

fn openai_result(id: &str, content: &str, finish: &str) -> String {
    json!({"id": format!("b-{id}"), "custom_id": id, "response": {"status_code": 200, "request_id": "q", "body": {"object": "chat.completion", "model": "gpt-4o-mini", "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": null}, "finish_reason": finish}], "usage": {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14}}}, "error": null}).to_string()
}

/// Whether `answer` fits `schema`, by the JSON Schema library directly.
fn reference(schema: &Value, answer: &str) -> bool {
    let Ok(v) = serde_json::from_str::<Value>(answer) else {
        return false;
    };
    jsonschema::validator_for(schema).unwrap().is_valid(&v)
}

fn join_json(dir: &Dir, req: &str, res: &str, extra: &[&str], out: &str) -> Vec<Value> {
    let mut c = dir.cmd();
    c.args([
        "--format",
        "json",
        "join",
        "--requests",
        req,
        "--results",
        res,
        "--out",
        out,
    ]);
    c.args(extra);
    json_lines(&run(c))
}

fn merged(dir: &Dir, out: &str) -> Vec<Value> {
    std::fs::read_to_string(dir.join(out))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Every answer's status is what the JSON Schema library says of it; a spilled join
    /// writes the same merged file.
    #[test]
    fn statuses_follow_the_schema_library(kinds in proptest::collection::vec((0usize..3, 0u8..5, any::<bool>()), 1..60)) {
        let dir = Dir::new();
        let schemas = schemas();
        let (mut req, mut res, mut want) = (String::new(), String::new(), Vec::new());
        for (i, &(s, k, cut)) in kinds.iter().enumerate() {
            let id = format!("r{i}");
            req += &openai_request(&id, &schemas[s]);
            req.push('\n');
            let a = answer(s, k, i as u64);
            res += &openai_result(&id, &a, if cut { "length" } else { "stop" });
            res.push('\n');
            want.push(if cut {
                "truncated"
            } else if reference(&schemas[s], &a) {
                "succeeded"
            } else {
                "invalid_answer"
            });
        }
        dir.write("req.jsonl", &req);
        dir.write("res.jsonl", &res);
        let events = join_json(&dir, "req.jsonl", "res.jsonl", &[], "m.jsonl");
        let got: Vec<String> = merged(&dir, "m.jsonl").iter().map(|m| m["status"].as_str().unwrap().to_string()).collect();
        prop_assert_eq!(&got, &want);
        let summary = events.last().unwrap();
        let invalid = want.iter().filter(|w| **w == "invalid_answer").count() as u64;
        prop_assert_eq!(summary["invalid_answer"].as_u64(), Some(invalid));
        prop_assert_eq!(summary["answers_checked"].as_u64(), Some(want.iter().filter(|w| **w != "truncated").count() as u64));
        let reported = events.iter().filter(|e| e["type"] == "invalid_answer").count() as u64;
        prop_assert_eq!(reported, invalid);
        // Every invalid answer says where and why; no other line has an answer_problem.
        for m in merged(&dir, "m.jsonl") {
            let p = m.get("answer_problem");
            prop_assert_eq!(p.is_some(), m["status"] == "invalid_answer");
            if let Some(p) = p {
                prop_assert!(p["pointer"].is_string() && !p["message"].as_str().unwrap().is_empty());
            }
        }
        join_json(&dir, "req.jsonl", "res.jsonl", &["--table-limit", "64KiB"], "s.jsonl");
        prop_assert_eq!(std::fs::read(dir.join("m.jsonl")).unwrap(), std::fs::read(dir.join("s.jsonl")).unwrap());
    }
}

bktest!(
    invalid_answers_are_retried_by_default_and_say_where,
    |dir| {
        let s = &schemas()[0];
        let req = [
            openai_request("a", s),
            openai_request("b", s),
            openai_request("c", s),
        ]
        .join("\n")
            + "\n";
        let res = [
            openai_result("a", &answer(0, 0, 1), "stop"),
            openai_result("b", r#"{"label":"meh","confidence":1}"#, "stop"),
            openai_result("c", &answer(0, 4, 1), "stop"),
        ]
        .join("\n")
            + "\n";
        dir.write("req.jsonl", &req);
        dir.write("res.jsonl", &res);
        let events = join_json(
            &dir,
            "req.jsonl",
            "res.jsonl",
            &["--retry", "retry.jsonl"],
            "m.jsonl",
        );
        let m = merged(&dir, "m.jsonl");
        assert_eq!(m[0]["status"], "succeeded");
        assert_eq!(m[1]["answer_problem"]["pointer"], "/label");
        assert!(m[2]["answer_problem"]["message"]
            .as_str()
            .unwrap()
            .starts_with("cut JSON"));
        let retry = std::fs::read_to_string(dir.join("retry.jsonl")).unwrap();
        let lines: Vec<&str> = req.lines().collect();
        assert_eq!(
            retry,
            format!("{}\n{}\n", lines[1], lines[2]),
            "byte-exact request lines"
        );
        let ia = events
            .iter()
            .find(|e| e["type"] == "invalid_answer")
            .unwrap();
        assert_eq!(
            (&ia["custom_id"], &ia["file"], &ia["line"]),
            (&json!("b"), &json!("req.jsonl"), &json!(2))
        );
        // Not retried when --retry-on leaves it out.
        join_json(
            &dir,
            "req.jsonl",
            "res.jsonl",
            &["--retry", "retry2.jsonl", "--retry-on", "errored"],
            "m2.jsonl",
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("retry2.jsonl")).unwrap(),
            ""
        );
        // Human output names the request line and the pointer.
        let mut c = dir.cmd();
        c.args([
            "--format",
            "human",
            "join",
            "--requests",
            "req.jsonl",
            "--results",
            "res.jsonl",
            "--out",
            "m3.jsonl",
        ]);
        let o = run(c);
        assert_eq!(code(&o), 1);
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            text.contains("warning[invalid_answer]: answer to \"b\" at /label"),
            "{text}"
        );
        assert!(text.contains("--> req.jsonl:2"), "{text}");
    }
);

bktest!(answer_schema_and_expect_json, |dir| {
    // Requests that ask for nothing.
    let req = (0..3)
        .map(|i| json!({"custom_id": format!("p{i}"), "method": "POST", "url": "/v1/chat/completions", "body": {"model": "gpt-4o-mini", "messages": []}}).to_string() + "\n")
        .collect::<String>();
    let res = [
        openai_result("p0", r#"[1,2]"#, "stop"),
        openai_result("p1", "plain prose", "stop"),
        openai_result("p2", r#"{"k":1}"#, "stop"),
    ]
    .join("\n");
    dir.write("req.jsonl", &req);
    dir.write("res.jsonl", &res);
    let statuses = |extra: &[&str], out: &str| {
        let events = join_json(&dir, "req.jsonl", "res.jsonl", extra, out);
        assert_eq!(events.last().unwrap()["type"], "summary", "{events:?}");
        merged(&dir, out)
            .iter()
            .map(|m| m["status"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(statuses(&[], "a.jsonl"), ["succeeded"; 3]);
    assert_eq!(
        statuses(&["--expect-json"], "b.jsonl"),
        ["succeeded", "invalid_answer", "succeeded"]
    );
    dir.write("s.json", r#"{"type":"object","required":["k"]}"#);
    assert_eq!(
        statuses(&["--answer-schema", "s.json"], "c.jsonl"),
        ["invalid_answer", "invalid_answer", "succeeded"]
    );
    // A schema that is not JSON, or not a schema, stops the join before it starts (exit 2).
    dir.write("bad.json", "{");
    let mut c = dir.cmd();
    c.args([
        "join",
        "--requests",
        "req.jsonl",
        "--results",
        "res.jsonl",
        "--out",
        "d.jsonl",
        "--answer-schema",
        "bad.json",
    ]);
    let o = run(c);
    assert_eq!(code(&o), 2);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("bad.json"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!dir.join("d.jsonl").exists());
    dir.write("notschema.json", r#"{"type":12}"#);
    let mut c = dir.cmd();
    c.args([
        "join",
        "--requests",
        "req.jsonl",
        "--results",
        "res.jsonl",
        "--out",
        "d.jsonl",
        "--answer-schema",
        "notschema.json",
    ]);
    assert_eq!(code(&run(c)), 2);
});

bktest!(anthropic_tool_and_gemini_schema_answers, |dir| {
    let tool_schema =
        json!({"type":"object","properties":{"label":{"type":"string"}},"required":["label"]});
    let areq = |id: &str| {
        json!({"custom_id": id, "params": {"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": "x"}], "tools": [{"name": "classify", "input_schema": tool_schema}], "tool_choice": {"type": "tool", "name": "classify"}}}).to_string()
    };
    let ares = |id: &str, input: Value| {
        json!({"custom_id": id, "result": {"type": "succeeded", "message": {"id": "m", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "content": [{"type": "tool_use", "id": "t1", "name": "classify", "input": input}], "stop_reason": "tool_use", "usage": {"input_tokens": 10, "output_tokens": 4}}}}).to_string()
    };
    let gschema = json!({"type": "OBJECT", "properties": {"score": {"type": "INTEGER"}, "note": {"type": "STRING", "nullable": true}}, "required": ["score", "note"]});
    let greq = |id: &str| {
        json!({"key": id, "request": {"contents": [{"role": "user", "parts": [{"text": "x"}]}], "generationConfig": {"responseMimeType": "application/json", "responseSchema": gschema}}}).to_string()
    };
    let gres = |id: &str, text: &str| {
        json!({"key": id, "response": {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}], "modelVersion": "gemini-2.5-flash", "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2}}}).to_string()
    };
    dir.write("a-req.jsonl", [areq("a1"), areq("a2")].join("\n"));
    dir.write(
        "a-res.jsonl",
        [
            ares("a1", json!({"label": "x"})),
            ares("a2", json!({"lbl": "x"})),
        ]
        .join("\n"),
    );
    join_json(&dir, "a-req.jsonl", "a-res.jsonl", &[], "a.jsonl");
    let m = merged(&dir, "a.jsonl");
    assert_eq!(
        (m[0]["status"].as_str(), m[1]["status"].as_str()),
        (Some("succeeded"), Some("invalid_answer"))
    );
    dir.write(
        "g-req.jsonl",
        [greq("g1"), greq("g2"), greq("g3")].join("\n"),
    );
    dir.write(
        "g-res.jsonl",
        [
            gres("g1", r#"{"score":3,"note":null}"#),
            gres("g2", r#"{"score":"3","note":null}"#),
            gres("g3", r#"{"score":3}"#),
        ]
        .join("\n"),
    );
    join_json(&dir, "g-req.jsonl", "g-res.jsonl", &[], "g.jsonl");
    let m = merged(&dir, "g.jsonl");
    let st: Vec<_> = m.iter().map(|m| m["status"].as_str().unwrap()).collect();
    assert_eq!(st, ["succeeded", "invalid_answer", "invalid_answer"]);
    assert_eq!(m[1]["answer_problem"]["pointer"], "/score");
});

bktest!(xai_results_api_lines_join, |dir| {
    let req = |id: &str| {
        json!({"custom_id": id, "method": "POST", "url": "/v1/chat/completions", "body": {"model": "grok-4", "messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "json_object"}}}).to_string()
    };
    let res = |id: &str, content: &str, finish: &str| {
        json!({"batch_request_id": id, "batch_result": {"response": {"chat_get_completion": {"id": "c", "object": "chat.completion", "model": "grok-4", "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}], "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10, "cost_in_usd_ticks": 12345}}}}, "error_message": null}).to_string()
    };
    let failed =
        json!({"batch_request_id": "x4", "batch_result": null, "error_message": "internal error"})
            .to_string();
    dir.write(
        "req.jsonl",
        ["x1", "x2", "x3", "x4", "x5"].map(req).join("\n"),
    );
    dir.write(
        "res.jsonl",
        [
            res("x1", r#"{"a":1}"#, "stop"),
            res("x2", "{\"a\":", "length"),
            res("x3", "prose", "stop"),
            failed,
        ]
        .join("\n"),
    );
    let events = join_json(&dir, "req.jsonl", "res.jsonl", &[], "m.jsonl");
    let st: Vec<_> = merged(&dir, "m.jsonl")
        .iter()
        .map(|m| m["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        st,
        [
            "succeeded",
            "truncated",
            "invalid_answer",
            "errored",
            "missing"
        ]
    );
    let s = events.last().unwrap();
    assert_eq!(
        (s["joined"].as_u64(), s["usage"]["input_tokens"].as_u64()),
        (Some(4), Some(21))
    );
    assert_eq!(s["models"][0]["model"], "grok-4");
    assert_eq!(
        s["models"][0]["stop_reasons"],
        json!({"length": 1, "stop": 2})
    );
});
