//! `batchkit convert --results --to openai`: result lines of every layout join reads, rewritten
//! in OpenAI's batch output shape, join back to their requests with the statuses, answer texts
//! and usage the originals give; ids stay byte for byte; what is not a result line is named.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::util::*;

/// Every result layout's fixture with its requests (fixtures/convert-results/).
const LAYOUTS: [&str; 8] = [
    "anthropic",
    "gemini",
    "vertex",
    "bedrock",
    "openai",
    "xai",
    "gemini_embeddings",
    "escaped",
];

fn fx(name: &str) -> String {
    fixture(&format!("convert-results/{name}"))
        .display()
        .to_string()
}

fn convert_results(dir: &Dir, input: &str, out: &str, threads: &str) -> Vec<Value> {
    let mut c = dir.cmd();
    c.args([
        "--format",
        "json",
        "--threads",
        threads,
        "convert",
        "--results",
        input,
        "--to",
        "openai",
        "--out",
        out,
    ]);
    json_lines(&run(c))
}

/// Per id: status, output text and the answer's problem (the stop reason itself is worded by
/// each provider); and the summary.
type PerId = BTreeMap<String, (Value, Value, Value)>;

fn joined(dir: &Dir, requests: &str, results: &str, out: &str) -> (PerId, Value) {
    let mut c = dir.cmd();
    c.args([
        "--format",
        "json",
        "join",
        "--requests",
        requests,
        "--results",
        results,
        "--out",
        out,
    ]);
    let ev = json_lines(&run(c));
    let s = ev.last().unwrap().clone();
    assert_eq!(s["type"], "summary", "{ev:?}");
    let merged = std::fs::read_to_string(dir.join(out)).unwrap();
    let per_id = merged
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["custom_id"].as_str().unwrap().to_string(),
                (
                    v["status"].clone(),
                    v["output_text"].clone(),
                    v.get("answer_problem").cloned().unwrap_or(Value::Null),
                ),
            )
        })
        .collect();
    (per_id, s)
}

bktest!(every_layout_joins_back_with_the_same_statuses, |dir| {
    for layout in LAYOUTS {
        let requests = fx(&format!("{layout}_requests.jsonl"));
        let results = fx(&format!("{layout}_results.jsonl"));
        let out = format!("{layout}.openai.jsonl");
        let ev = convert_results(&dir, &results, &out, "4");
        let s = ev.last().unwrap();
        let n = std::fs::read_to_string(&results).unwrap().lines().count() as u64;
        assert_eq!(
            (s["converted"].as_u64(), s["left_out"].as_u64(), &s["ok"]),
            (Some(n), Some(0), &Value::Bool(true)),
            "{layout}: {ev:?}"
        );
        let (want, want_s) = joined(&dir, &requests, &results, &format!("{layout}.m1"));
        let (got, got_s) = joined(&dir, &requests, &out, &format!("{layout}.m2"));
        assert_eq!(got, want, "{layout}: statuses and answer texts");
        assert!(
            want.values().all(|(st, _, _)| st != "missing"),
            "{layout}: a fixture result did not join: {want:?}"
        );
        for k in [
            "succeeded",
            "truncated",
            "refused",
            "invalid_answer",
            "errored",
            "expired",
            "canceled",
            "missing",
            "usage",
            "cost_usd",
            "orphans",
            "unjoinable",
        ] {
            assert_eq!(got_s[k], want_s[k], "{layout}: summary {k}");
        }
        // OpenAI's batch output shape: these four fields, a response or an error.
        for l in std::fs::read_to_string(dir.join(&out)).unwrap().lines() {
            let v: Value = serde_json::from_str(l).unwrap();
            let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(keys.len(), 4, "{layout}: {l}");
            for k in ["id", "custom_id", "response", "error"] {
                assert!(v.get(k).is_some(), "{layout}: no {k} in {l}");
            }
            assert!(v["response"].is_null() != v["error"].is_null(), "{l}");
            if let Some(body) = v["response"]
                .get("body")
                .filter(|b| b["object"] == "chat.completion")
            {
                let finish = body["choices"][0]["finish_reason"].as_str().unwrap();
                assert!(
                    ["stop", "length", "tool_calls", "content_filter"].contains(&finish),
                    "{l}"
                );
                if let Some(u) = body.get("usage") {
                    assert_eq!(
                        u["total_tokens"].as_u64(),
                        Some(
                            u["prompt_tokens"].as_u64().unwrap()
                                + u["completion_tokens"].as_u64().unwrap()
                        ),
                        "{l}"
                    );
                }
            }
        }
    }
});

bktest!(usage_stop_reasons_and_tool_calls_are_mapped, |dir| {
    let out = "a.jsonl";
    convert_results(&dir, &fx("anthropic_results.jsonl"), out, "1");
    let lines: Vec<Value> = std::fs::read_to_string(dir.join(out))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let body = |i: usize| lines[i]["response"]["body"].clone();
    // a-1: 12 input + 2,048 cache reads.
    assert_eq!(body(0)["usage"]["prompt_tokens"], 2060);
    assert_eq!(
        body(0)["usage"]["prompt_tokens_details"]["cached_tokens"],
        2048
    );
    assert_eq!(body(0)["choices"][0]["finish_reason"], "stop");
    // a-2: a tool call, its input as a JSON string.
    let m = &body(1)["choices"][0];
    assert_eq!(m["finish_reason"], "tool_calls");
    assert_eq!(m["message"]["tool_calls"][0]["function"]["name"], "weather");
    let args: Value = serde_json::from_str(
        m["message"]["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(args, serde_json::json!({"city": "Oslo"}));
    assert_eq!(body(2)["choices"][0]["finish_reason"], "length");
    assert_eq!(body(3)["choices"][0]["finish_reason"], "content_filter");
    assert_eq!(lines[4]["error"]["code"], "invalid_request_error");
    assert_eq!(lines[5]["error"]["code"], "batch_expired");
    assert_eq!(lines[6]["error"]["code"], "batch_cancelled");
    // Gemini: a function call; thoughts out of the text, in the reasoning tokens.
    convert_results(&dir, &fx("gemini_results.jsonl"), "g.jsonl", "1");
    let g: Vec<Value> = std::fs::read_to_string(dir.join("g.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        g[4]["response"]["body"]["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
        r#"{"city":"Lima"}"#
    );
    let think = &g[6]["response"]["body"];
    assert_eq!(think["choices"][0]["message"]["content"], "42");
    assert_eq!(
        think["usage"]["completion_tokens_details"]["reasoning_tokens"],
        120
    );
    assert_eq!(think["usage"]["completion_tokens"], 122);
    assert_eq!(g[5]["error"]["code"], "INVALID_ARGUMENT");
});

bktest!(ids_are_kept_byte_for_byte_whatever_the_threads, |dir| {
    let src = fx("escaped_results.jsonl");
    convert_results(&dir, &src, "one.jsonl", "1");
    let out = std::fs::read_to_string(dir.join("one.jsonl")).unwrap();
    assert!(out.contains(r#""custom_id":"caf\u00e9 #1""#), "{out}");
    // Many lines, one thread or four: the same bytes, in input order.
    let mut big = String::new();
    for layout in LAYOUTS {
        big.push_str(&std::fs::read_to_string(fx(&format!("{layout}_results.jsonl"))).unwrap());
    }
    let big = big.repeat(300);
    dir.write("big.jsonl", &big);
    convert_results(&dir, "big.jsonl", "b1.jsonl", "1");
    convert_results(&dir, "big.jsonl", "b4.jsonl", "4");
    let b1 = std::fs::read(dir.join("b1.jsonl")).unwrap();
    assert_eq!(b1, std::fs::read(dir.join("b4.jsonl")).unwrap());
    let ids_in = |s: &str, field_of: fn(&Value) -> Value| -> Vec<Value> {
        s.lines()
            .map(|l| field_of(&serde_json::from_str(l).unwrap()))
            .collect()
    };
    let src_ids = ids_in(&big, |v| {
        ["custom_id", "key", "recordId", "batch_request_id"]
            .iter()
            .find_map(|k| v.get(*k).filter(|x| !x.is_null()).cloned())
            .or_else(|| v["metadata"].get("key").cloned())
            .unwrap()
    });
    let out_ids = ids_in(std::str::from_utf8(&b1).unwrap(), |v| {
        v["custom_id"].clone()
    });
    assert_eq!(out_ids, src_ids);
});

bktest!(lines_that_are_not_results_are_named_and_left_out, |dir| {
    let mut c = dir.cmd();
    c.args([
        "--format",
        "json",
        "convert",
        "--results",
        &fx("not_results.jsonl"),
        "--to",
        "openai",
        "--out",
        "o.jsonl",
    ]);
    let out = run(c);
    assert_eq!(code(&out), 1);
    let ev = json_lines(&out);
    let lines: Vec<(u64, String)> = ev
        .iter()
        .filter(|e| e["type"] == "diagnostic")
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            (2, "unconvertible".to_string()),
            (3, "invalid_json".to_string()),
            (5, "missing_field".to_string())
        ]
    );
    let s = ev.last().unwrap();
    assert_eq!(
        (s["converted"].as_u64(), s["left_out"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("o.jsonl"))
            .unwrap()
            .lines()
            .count(),
        1
    );
});

bktest!(results_go_to_openai_only, |dir| {
    let mut c = dir.cmd();
    c.args([
        "convert",
        "--results",
        &fx("anthropic_results.jsonl"),
        "--to",
        "gemini",
        "--out",
        "o.jsonl",
    ]);
    let out = run(c);
    assert_eq!(code(&out), 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--results") && err.contains("--to openai"),
        "{err}"
    );
    assert!(!dir.join("o.jsonl").exists());
});

bktest!(human_summary, |dir| {
    let transcript = |threads: &str| {
        let mut c = dir.cmd();
        c.env("NO_COLOR", "1").args([
            "--format",
            "human",
            "--threads",
            threads,
            "convert",
            "--results",
            &fx("anthropic_results.jsonl"),
            &fx("openai_results.jsonl"),
            &fx("not_results.jsonl"),
            "--to",
            "openai",
            "--out",
            &format!("out{threads}.jsonl"),
        ]);
        let out = run(c);
        let fixtures = fixture("").display().to_string();
        format!(
            "exit: {}\n----- stdout -----\n{}----- stderr -----\n{}",
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).replace(&fixtures, "[FIXTURES]/"),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let one = transcript("1");
    assert_eq!(one, transcript("4"), "output depends on --threads");
    insta::assert_snapshot!("convert_results_human", one);
});
