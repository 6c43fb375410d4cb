//! Amazon Bedrock, xAI and OpenAI-compatible (vLLM) files through every command, and the
//! result layouts `join` reads completely (vLLM's older layout, Gemini embeddings and
//! `metadata.key`).

use std::fs;

use serde_json::Value;

use crate::util::{code, fixture, json_lines, run, Dir};

fn fx(rel: &str) -> String {
    fixture(rel).display().to_string()
}

/// `batchkit --format json ARGS...`: exit code and JSON Lines.
fn bk(dir: &Dir, args: &[&str]) -> (i32, Vec<Value>, String) {
    let mut c = dir.cmd();
    c.args(["--format", "json"]).args(args);
    let out = run(c);
    (
        code(&out),
        json_lines(&out),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// (code, line) of every diagnostic event.
fn diags(events: &[Value]) -> Vec<(String, Option<u64>)> {
    events
        .iter()
        .filter(|e| e["type"] == "diagnostic")
        .map(|e| (e["code"].as_str().unwrap().to_string(), e["line"].as_u64()))
        .collect()
}

fn want(v: &[(&str, Option<u64>)]) -> Vec<(String, Option<u64>)> {
    v.iter().map(|(c, l)| (c.to_string(), *l)).collect()
}

fn bedrock_line(i: usize) -> String {
    format!(
        r#"{{"recordId":"CALL{i:07}","modelInput":{{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,"messages":[{{"role":"user","content":[{{"type":"text","text":"Summarize call {i}."}}]}}]}}}}"#
    ) + "\n"
}

/// Runs join; returns (exit code, events, merged lines).
fn join(dir: &Dir, req: &[&str], res: &[&str]) -> (i32, Vec<Value>, Vec<Value>) {
    let mut args = vec!["join", "--requests"];
    args.extend(req);
    args.push("--results");
    args.extend(res);
    let merged = dir.join("merged.jsonl").display().to_string();
    let retry = dir.join("retry.jsonl").display().to_string();
    args.extend(["--out", &merged, "--retry", &retry]);
    let (c, events, _) = bk(dir, &args);
    let merged = fs::read_to_string(&merged)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (c, events, merged)
}

fn statuses(merged: &[Value]) -> Vec<(&str, &str)> {
    merged
        .iter()
        .map(|m| {
            (
                m["custom_id"].as_str().unwrap(),
                m["status"].as_str().unwrap(),
            )
        })
        .collect()
}

bktest!(bedrock_is_detected_and_needs_100_records, |dir| {
    let file = fx("bedrock/requests.jsonl");
    for args in [
        vec!["validate", &file],
        vec!["validate", "--provider", "bedrock", &file],
    ] {
        let (c, ev, _) = bk(&dir, &args);
        assert_eq!(c, 1);
        assert_eq!(diags(&ev), want(&[("too_few_requests", None)]));
        let d = ev.iter().find(|e| e["type"] == "diagnostic").unwrap();
        assert!(
            d["message"].as_str().unwrap().contains("at least 100"),
            "{d}"
        );
        let s = ev.last().unwrap();
        assert_eq!(
            (s["provider"].as_str(), s["requests"].as_u64()),
            (Some("bedrock"), Some(4))
        );
    }
    let hundred: String = (0..100).map(bedrock_line).collect();
    dir.write("hundred.jsonl", &hundred);
    let (c, ev, _) = bk(&dir, &["validate", "hundred.jsonl"]);
    assert_eq!(c, 0, "{ev:?}");
    assert_eq!(ev.last().unwrap()["provider"], "bedrock");
    // Human output names the code.
    let mut h = dir.cmd();
    h.args(["--format", "human", "validate", &file]);
    let out = run(h);
    assert!(String::from_utf8_lossy(&out.stdout).contains("error[too_few_requests]"));
});

bktest!(bedrock_line_rules, |dir| {
    let (c, ev, _) = bk(
        &dir,
        &[
            "validate",
            "--provider",
            "bedrock",
            &fx("bedrock/faulty.jsonl"),
        ],
    );
    assert_eq!(c, 1);
    assert_eq!(
        diags(&ev),
        want(&[
            ("missing_field", Some(2)),
            ("wrong_type", Some(3)),
            ("wrong_type", Some(4)),
            ("missing_field", Some(5)),
            ("duplicate_id", Some(6)),
            ("too_few_requests", None),
        ])
    );
    let dup = ev.iter().find(|e| e["code"] == "duplicate_id").unwrap();
    assert_eq!(dup["first_line"], 1);
    assert!(dup["message"].as_str().unwrap().starts_with("recordId"));
});

bktest!(bedrock_dupes_key_on_record_id, |dir| {
    let file = fx("bedrock/faulty.jsonl");
    for provider in ["bedrock", "auto"] {
        let (c, ev, _) = bk(&dir, &["dupes", "--provider", provider, &file]);
        assert_eq!(c, 1, "{provider}");
        let d: Vec<&Value> = ev.iter().filter(|e| e["type"] == "duplicate").collect();
        assert_eq!(d.len(), 1, "{provider}: {ev:?}");
        assert_eq!(d[0]["custom_id"], "CALL0000001");
        assert_eq!(d[0]["lines"], serde_json::json!([1, 6]));
    }
});

bktest!(bedrock_tokens_count_claude_bodies_as_estimates, |dir| {
    let model = "anthropic.claude-sonnet-4-5-20250929-v1:0";
    let (c, ev, _) = bk(
        &dir,
        &[
            "tokens",
            "--per-request",
            "--model",
            model,
            &fx("bedrock/requests.jsonl"),
        ],
    );
    assert_eq!(c, 0, "{ev:?}");
    let reqs: Vec<&Value> = ev.iter().filter(|e| e["type"] == "request").collect();
    assert_eq!(reqs.len(), 4);
    assert_eq!(reqs[0]["custom_id"], "CALL0000001");
    assert_eq!(reqs[0]["model"], model);
    assert_eq!(reqs[0]["exact"], false);
    let maxes: Vec<u64> = reqs
        .iter()
        .map(|r| r["max_output_tokens"].as_u64().unwrap())
        .collect();
    assert_eq!(maxes, [1024, 256, 512, 64]);
    assert!(reqs.iter().all(|r| r["input_tokens"].as_u64().unwrap() > 3));
    let s = ev.last().unwrap();
    assert_eq!(s["exact"], false);
    assert_eq!(s["models"][0]["model"], model);
    // Bedrock model ids are not in the price table: unknown cost, said so.
    assert!(s["cost"].is_null());
    assert_eq!(s["cost_incomplete"], true);
    assert_eq!(s["unpriced_models"], serde_json::json!([model]));
});

bktest!(
    bedrock_shards_keep_the_manifest_and_warn_below_the_minimum,
    |dir| {
        let data: String = (0..150).map(bedrock_line).collect();
        dir.write("calls.jsonl", &data);
        let (c, ev, _) = bk(
            &dir,
            &["shard", "calls.jsonl", "-o", "one", "--provider", "bedrock"],
        );
        assert_eq!(c, 0, "{ev:?}");
        assert!(diags(&ev).is_empty(), "{ev:?}");
        let m: Value =
            serde_json::from_slice(&fs::read(dir.join("one/manifest.json")).unwrap()).unwrap();
        assert_eq!(m["provider"], "bedrock");
        assert_eq!(m["caps"]["max_requests"], 50_000);
        assert_eq!(m["caps"]["max_bytes"], 1_000_000_000);
        assert_eq!(m["shards"].as_array().unwrap().len(), 1);
        // Auto detects Bedrock, and a second shard of 50 is below Bedrock's floor: a warning.
        let (c, ev, _) = bk(
            &dir,
            &["shard", "calls.jsonl", "-o", "two", "--max-requests", "100"],
        );
        assert_eq!(c, 0, "{ev:?}");
        assert_eq!(diags(&ev), want(&[("too_few_requests", None)]));
        let w = ev.iter().find(|e| e["type"] == "diagnostic").unwrap();
        assert_eq!(w["severity"], "warning");
        assert!(w["message"]
            .as_str()
            .unwrap()
            .contains("calls-00002.jsonl holds 50"));
        let m: Value =
            serde_json::from_slice(&fs::read(dir.join("two/manifest.json")).unwrap()).unwrap();
        assert_eq!(m["provider"], "bedrock");
        let counts: Vec<u64> = m["shards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["requests"].as_u64().unwrap())
            .collect();
        assert_eq!(counts, [100, 50]);
        let back: Vec<u8> = [1, 2]
            .iter()
            .flat_map(|n| fs::read(dir.join(&format!("two/calls-0000{n}.jsonl"))).unwrap())
            .collect();
        assert_eq!(back, data.as_bytes());
    }
);

bktest!(bedrock_output_joins_on_record_id, |dir| {
    let (c, ev, merged) = join(
        &dir,
        &[&fx("bedrock/requests.jsonl")],
        &[&fx("bedrock/requests.jsonl.out")],
    );
    assert_eq!(c, 1);
    assert_eq!(
        statuses(&merged),
        [
            ("CALL0000001", "succeeded"),
            ("CALL0000002", "succeeded"),
            ("CALL0000003", "errored"),
            ("CALL0000004", "missing"),
        ]
    );
    assert_eq!(merged[0]["output_text"], "The caller asked for a refund.");
    assert_eq!(merged[1]["output_text"], "Hello!");
    assert_eq!(merged[2]["result"]["error"]["errorCode"], 400);
    let req = fs::read_to_string(fixture("bedrock/requests.jsonl")).unwrap();
    let lines: Vec<&str> = req.split_inclusive('\n').collect();
    assert_eq!(
        fs::read_to_string(dir.join("retry.jsonl")).unwrap(),
        [lines[2], lines[3]].concat()
    );
    let s = ev.last().unwrap();
    assert_eq!(s["type"], "summary");
    assert_eq!(s["usage"]["input_tokens"], 25);
    assert_eq!(s["usage"]["output_tokens"], 11);
    // 25 input and 11 output tokens at claude-sonnet-4-5's batch prices, $1.50 / $7.50 per 1M.
    assert_eq!(s["cost_usd"], 0.00012);
    assert_eq!(s["cost_incomplete"], false);
});

bktest!(xai_takes_mixed_endpoints_and_its_caps, |dir| {
    let file = fx("xai/mixed.jsonl");
    let (c, ev, _) = bk(&dir, &["validate", "--provider", "xai", &file]);
    assert_eq!((c, diags(&ev)), (0, vec![]));
    assert_eq!(ev.last().unwrap()["provider"], "xai");
    let (c, ev, _) = bk(&dir, &["validate", "--provider", "openai", &file]);
    assert_eq!(c, 1);
    let d = diags(&ev);
    assert!(d.contains(&("url_mismatch".to_string(), Some(2))), "{d:?}");
    assert!(d.contains(&("url_mismatch".to_string(), Some(3))), "{d:?}");
    let (c, ev, _) = bk(&dir, &["shard", &file, "-o", "out", "--provider", "xai"]);
    assert_eq!(c, 0, "{ev:?}");
    let m: Value =
        serde_json::from_slice(&fs::read(dir.join("out/manifest.json")).unwrap()).unwrap();
    assert_eq!(
        (
            &m["provider"],
            &m["caps"]["max_requests"],
            &m["caps"]["max_bytes"]
        ),
        (
            &serde_json::json!("xai"),
            &serde_json::json!(50_000),
            &serde_json::json!(200_000_000)
        )
    );
    let (c, ev, _) = bk(&dir, &["dupes", "--provider", "xai", &file]);
    assert_eq!(c, 0, "{ev:?}");
});

bktest!(
    openai_compatible_validates_and_joins_both_vllm_layouts,
    |dir| {
        let req = fx("openai-compatible/requests.jsonl");
        let (c, ev, _) = bk(&dir, &["validate", "--provider", "openai-compatible", &req]);
        assert_eq!((c, diags(&ev)), (0, vec![]), "{ev:?}");
        let (c, ev, _) = bk(&dir, &["validate", "--provider", "openai", &req]);
        assert_eq!(c, 1, "{ev:?}");
        let (c, ev, merged) = join(
            &dir,
            &[&req],
            &[
                &fx("openai-compatible/results_old_layout.jsonl"),
                &fx("openai-compatible/results.jsonl"),
            ],
        );
        assert_eq!(c, 1);
        assert_eq!(
            statuses(&merged),
            [
                ("request-1", "succeeded"),
                ("request-2", "succeeded"),
                ("request-3", "succeeded"),
                ("request-4", "missing"),
                ("request-5", "errored"),
            ]
        );
        // The older layout: text and usage straight under `response`.
        assert_eq!(merged[0]["output_text"], "Hello! How can I help you today?");
        assert_eq!(merged[1]["output_text"], "Hi.");
        let s = ev.last().unwrap();
        assert_eq!(s["usage"]["input_tokens"], 26 + 14 + 9);
        assert_eq!(s["usage"]["output_tokens"], 12);
        let models: Vec<&str> = s["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["model"].as_str().unwrap())
            .collect();
        assert!(
            models.contains(&"meta-llama/Meta-Llama-3-8B-Instruct"),
            "{models:?}"
        );
        // No model here has a price: the cost is unknown, not $0.
        assert!(s["cost_usd"].is_null(), "{s}");
        assert_eq!(s["cost_incomplete"], true);
    }
);

bktest!(gemini_embeddings_usage_from_string_token_counts, |dir| {
    let req = fx("gemini/embeddings_requests.jsonl");
    let (c, ev, _) = bk(&dir, &["validate", "--provider", "gemini", &req]);
    assert_eq!((c, diags(&ev)), (0, vec![]), "{ev:?}");
    let (c, ev, merged) = join(&dir, &[&req], &[&fx("gemini/embeddings_results.jsonl")]);
    assert_eq!(c, 1);
    assert_eq!(
        statuses(&merged),
        [
            ("emb-1", "succeeded"),
            ("emb-2", "succeeded"),
            ("emb-3", "errored")
        ]
    );
    let s = ev.last().unwrap();
    assert_eq!(s["usage"]["input_tokens"], 14);
    assert_eq!(s["usage"]["results_with_usage"], 2);
    assert!(s["cost_usd"].is_null());
    assert_eq!(s["cost_incomplete"], true);
});

bktest!(gemini_results_keyed_by_metadata_key_join, |dir| {
    let (c, ev, merged) = join(
        &dir,
        &[&fx("gemini/metadata_key_requests.jsonl")],
        &[&fx("gemini/metadata_key_results.jsonl")],
    );
    assert_eq!(c, 0, "{ev:?}");
    assert_eq!(
        statuses(&merged),
        [("request-1", "succeeded"), ("request-2", "succeeded")]
    );
    assert_eq!(merged[0]["output_text"], "Light scatters.");
    let s = ev.last().unwrap();
    assert_eq!(
        (s["joined"].as_u64(), s["orphans"].as_u64()),
        (Some(2), Some(0))
    );
    // 13 input and 5 output tokens at gemini-2.5-flash's batch prices, $0.15 / $1.25 per 1M:
    // rounded to 1e-9 USD, no binary noise in the output.
    assert_eq!(s["cost_usd"], 0.0000082);
    assert_eq!(s["cost_incomplete"], false);
});

// ---- More hosts, Gemini's OpenAI-compatible batch, Vertex's other line shapes ----------

/// (provider the file is written for, fixture): each validates with no finding under its
/// own `--provider` and under `--provider auto`.
const HOST_FILES: &[(&str, &str)] = &[
    ("fireworks", "providers/fireworks.jsonl"),
    ("novita", "providers/novita.jsonl"),
    ("digitalocean", "providers/digitalocean-openai.jsonl"),
    ("digitalocean", "providers/digitalocean-anthropic.jsonl"),
    ("parasail", "providers/parasail.jsonl"),
    ("doubleword", "providers/doubleword.jsonl"),
    ("perplexity", "providers/perplexity.jsonl"),
    ("openrouter", "providers/openrouter.jsonl"),
    ("gemini-openai", "providers/gemini-openai.jsonl"),
    ("vertex", "providers/vertex-embedding.jsonl"),
    ("vertex", "providers/vertex-gemini-embedding.jsonl"),
    ("vertex", "providers/vertex-claude.jsonl"),
];

bktest!(
    every_host_file_validates_under_its_provider_and_auto,
    |dir| {
        for (provider, f) in HOST_FILES {
            let file = fx(f);
            for args in [
                vec!["validate", "--provider", provider, &file],
                vec!["validate", &file],
            ] {
                let (c, ev, out) = bk(&dir, &args);
                assert_eq!(c, 0, "{args:?}: {out}");
                assert!(diags(&ev).is_empty(), "{args:?}: {out}");
                let s = ev.last().unwrap();
                assert_eq!(s["type"], "summary", "{args:?}");
                assert_eq!(s["errors"], 0, "{args:?}: {out}");
            }
            // Under its own name the summary names it.
            let (_, ev, _) = bk(&dir, &["validate", "--provider", provider, &file]);
            assert_eq!(ev.last().unwrap()["provider"], *provider, "{f}");
        }
    }
);

// What `--provider auto` says of each host's file: the provider it inferred and the
// candidates it could not tell apart.
bktest!(auto_names_what_it_infers_and_every_candidate, |dir| {
    let body = ["fireworks", "mistral", "novita", "openrouter", "together"];
    let cases: &[(&str, &str, &[&str])] = &[
        ("providers/fireworks.jsonl", "mistral", &body),
        ("providers/novita.jsonl", "mistral", &body),
        ("providers/openrouter.jsonl", "mistral", &body),
        ("providers/gemini-openai.jsonl", "gemini-openai", &[]),
        ("providers/doubleword.jsonl", "doubleword", &[]),
        ("providers/perplexity.jsonl", "perplexity", &[]),
        (
            "providers/parasail.jsonl",
            "openai",
            &["doubleword", "openai-compatible", "parasail"],
        ),
        ("providers/vertex-claude.jsonl", "vertex", &[]),
        ("providers/vertex-embedding.jsonl", "vertex", &[]),
    ];
    for (f, provider, candidates) in cases {
        let (c, ev, out) = bk(&dir, &["validate", &fx(f)]);
        assert_eq!(c, 0, "{f}: {out}");
        let s = ev.last().unwrap();
        assert_eq!(s["provider"], *provider, "{f}");
        let got: Vec<&str> = s["candidates"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap()).collect())
            .unwrap_or_default();
        assert_eq!(got, *candidates, "{f}");
    }
    // Human output names every candidate.
    let mut h = dir.cmd();
    h.args([
        "--format",
        "human",
        "validate",
        &fx("providers/fireworks.jsonl"),
    ]);
    let out = String::from_utf8_lossy(&run(h).stdout).into_owned();
    assert!(
        out.contains("(fireworks or mistral or novita or openrouter or together)"),
        "{out}"
    );
});

bktest!(
    a_body_style_file_is_judged_by_the_rules_all_candidates_share,
    |dir| {
        // Together takes several models in one file; Mistral, Novita and OpenRouter one. Under
        // auto nobody can tell whose file it is: no finding only one candidate would make.
        let mixed = "{\"custom_id\":\"t-1\",\"body\":{\"model\":\"meta-llama/Llama-3.3-70B-Instruct-Turbo\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}}\n\
                 {\"custom_id\":\"t-2\",\"body\":{\"model\":\"deepseek-ai/DeepSeek-V3\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}}\n";
        dir.write("together.jsonl", mixed);
        let (c, ev, out) = bk(&dir, &["validate", "together.jsonl"]);
        assert_eq!(c, 0, "{out}");
        assert!(diags(&ev).is_empty(), "{out}");
        // Named, each provider applies its own rule.
        for (p, want_code) in [
            ("together", 0),
            ("fireworks", 1),
            ("mistral", 1),
            ("novita", 1),
            ("openrouter", 1),
        ] {
            let (c, ev, out) = bk(&dir, &["validate", "--provider", p, "together.jsonl"]);
            assert_eq!(c, want_code, "{p}: {out}");
            if want_code == 1 {
                assert_eq!(diags(&ev), want(&[("model_mismatch", Some(2))]), "{p}");
            }
        }
        // A cap only the loosest candidate allows is no error under auto: Together's 64-character
        // ids are not Mistral's rule.
        let long = format!(
            "{{\"custom_id\":\"{}\",\"body\":{{\"messages\":[]}}}}\n",
            "x".repeat(80)
        );
        dir.write("long.jsonl", &long);
        let (c, _, out) = bk(&dir, &["validate", "long.jsonl"]);
        assert_eq!(c, 0, "{out}");
        let (c, ev, _) = bk(&dir, &["validate", "--provider", "together", "long.jsonl"]);
        assert_eq!(c, 1);
        assert_eq!(diags(&ev), want(&[("invalid_custom_id", Some(1))]));
    }
);

bktest!(host_rules_come_from_the_data, |dir| {
    // Doubleword: custom_id at most 64 characters and a valid header value.
    let line = |id: &str| {
        format!(
            "{{\"custom_id\":{},\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{{\"model\":\"m\",\"messages\":[]}}}}\n",
            serde_json::to_string(id).unwrap()
        )
    };
    dir.write(
        "dw.jsonl",
        line("ok-1") + &line(&"y".repeat(65)) + &line("tab\there") + &line("é"),
    );
    let (c, ev, _) = bk(&dir, &["validate", "--provider", "doubleword", "dw.jsonl"]);
    assert_eq!(c, 1);
    assert_eq!(
        diags(&ev),
        want(&[
            ("invalid_custom_id", Some(2)),
            ("invalid_custom_id", Some(3)),
            ("invalid_custom_id", Some(4)),
        ])
    );
    // Doubleword serves /v1/messages; OpenAI does not.
    let messages = fx("providers/doubleword.jsonl");
    let (c, ev, _) = bk(&dir, &["validate", "--provider", "openai", &messages]);
    assert_eq!(c, 1);
    assert!(diags(&ev).contains(&("unsupported_url".to_string(), Some(2))));
    // OpenRouter: 5,000 requests per batch, text only.
    let many: String = (0..5001)
        .map(|i| format!("{{\"custom_id\":\"r{i}\",\"body\":{{\"messages\":[{{\"role\":\"user\",\"content\":\"x\"}}]}}}}\n"))
        .collect();
    dir.write("or-many.jsonl", &many);
    let (c, ev, _) = bk(
        &dir,
        &["validate", "--provider", "openrouter", "or-many.jsonl"],
    );
    assert_eq!(c, 1);
    assert_eq!(diags(&ev), want(&[("too_many_requests", None)]));
    let image = "{\"custom_id\":\"i\",\"body\":{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is this?\"},{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://example.com/a.png\"}}]}]}}\n";
    dir.write("or-image.jsonl", image);
    let (c, ev, out) = bk(
        &dir,
        &["validate", "--provider", "openrouter", "or-image.jsonl"],
    );
    assert_eq!(c, 1, "{out}");
    assert_eq!(diags(&ev), want(&[("unsupported_value", Some(1))]));
    let d = ev.iter().find(|e| e["type"] == "diagnostic").unwrap();
    assert_eq!(d["pointer"], "/body/messages/0/content/1/type");
    // Novita: one model per file, 50,000 requests.
    let two = "{\"custom_id\":\"a\",\"body\":{\"model\":\"m1\",\"messages\":[]}}\n{\"custom_id\":\"b\",\"body\":{\"model\":\"m2\",\"messages\":[]}}\n";
    dir.write("nv.jsonl", two);
    let (c, ev, _) = bk(&dir, &["validate", "--provider", "novita", "nv.jsonl"]);
    assert_eq!(c, 1);
    assert_eq!(diags(&ev), want(&[("model_mismatch", Some(2))]));
    // DigitalOcean: one endpoint per job; Parasail: no /v1/responses.
    let urls = "{\"custom_id\":\"a\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":\"gpt-4o\",\"messages\":[]}}\n{\"custom_id\":\"b\",\"method\":\"POST\",\"url\":\"/v1/responses\",\"body\":{\"model\":\"gpt-4o\",\"input\":\"x\"}}\n";
    dir.write("urls.jsonl", urls);
    let (_, ev, _) = bk(
        &dir,
        &["validate", "--provider", "digitalocean", "urls.jsonl"],
    );
    assert_eq!(diags(&ev), want(&[("url_mismatch", Some(2))]));
    let (_, ev, _) = bk(&dir, &["validate", "--provider", "parasail", "urls.jsonl"]);
    assert_eq!(diags(&ev), want(&[("unsupported_url", Some(2))]));
    // Every host is a `--provider` choice, in the help and in the flag's error.
    let mut h = dir.cmd();
    h.args(["validate", "--provider", "nope", "x.jsonl"]);
    let err = String::from_utf8_lossy(&run(h).stderr).into_owned();
    for p in [
        "fireworks",
        "novita",
        "digitalocean",
        "parasail",
        "doubleword",
        "perplexity",
        "openrouter",
        "gemini-openai",
    ] {
        assert!(err.contains(p), "{p}: {err}");
    }
});

bktest!(gemini_models_in_openai_lines_take_geminis_rules, |dir| {
    // Inferred from the model names: Gemini's one model per job, its endpoints.
    let two = "{\"custom_id\":\"a\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":\"gemini-2.5-flash\",\"messages\":[]}}\n{\"custom_id\":\"b\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":\"gemini-2.5-pro\",\"messages\":[]}}\n";
    dir.write("two.jsonl", two);
    let (c, ev, out) = bk(&dir, &["validate", "two.jsonl"]);
    assert_eq!(c, 1, "{out}");
    assert_eq!(diags(&ev), want(&[("model_mismatch", Some(2))]));
    let d = ev.iter().find(|e| e["type"] == "diagnostic").unwrap();
    assert!(d["message"].as_str().unwrap().contains("Gemini"), "{d}");
    assert_eq!(ev.last().unwrap()["provider"], "gemini-openai");
    let responses = "{\"custom_id\":\"a\",\"method\":\"POST\",\"url\":\"/v1/responses\",\"body\":{\"model\":\"gemini-2.5-flash\",\"input\":\"x\"}}\n";
    dir.write("responses.jsonl", responses);
    let (c, ev, _) = bk(
        &dir,
        &["validate", "--provider", "gemini-openai", "responses.jsonl"],
    );
    assert_eq!(c, 1);
    assert_eq!(diags(&ev), want(&[("unsupported_url", Some(1))]));
    // Embeddings lines with Gemini models too.
    let emb = "{\"custom_id\":\"e\",\"method\":\"POST\",\"url\":\"/v1/embeddings\",\"body\":{\"model\":\"gemini-embedding-001\",\"input\":\"x\"}}\n";
    dir.write("emb.jsonl", emb);
    let (c, ev, _) = bk(&dir, &["validate", "emb.jsonl"]);
    assert_eq!(c, 0);
    assert_eq!(ev.last().unwrap()["provider"], "gemini-openai");
});

bktest!(vertex_line_shapes_are_counted, |dir| {
    // Each shape gets a count above zero (the Claude lines are Anthropic's own example:
    // 10 and 11 real input tokens), and embeddings no output.
    for (f, input, max_out) in [
        ("providers/vertex-claude.jsonl", Some(21), 256),
        ("providers/vertex-embedding.jsonl", None, 0),
        ("providers/vertex-gemini-embedding.jsonl", None, 0),
    ] {
        let (c, ev, out) = bk(&dir, &["tokens", &fx(f)]);
        assert_eq!(c, 0, "{f}: {out}");
        let s = ev.last().unwrap();
        assert_eq!(s["errors"], 0, "{f}: {out}");
        assert_eq!(s["requests"], 2, "{f}");
        let n = s["input_tokens"].as_u64().unwrap();
        assert!(n > 2, "{f}: {n}");
        if let Some(want) = input {
            assert_eq!(n, want, "{f}");
        }
        let _: Option<u64> = input;
        assert_eq!(s["max_output_tokens"], max_out, "{f}");
    }
    // With the job's model the cost is not zero.
    let (c, ev, _) = bk(
        &dir,
        &[
            "tokens",
            "--model",
            "claude-3-5-sonnet-20241022",
            &fx("providers/vertex-claude.jsonl"),
        ],
    );
    assert_eq!(c, 0);
    let cost = &ev.last().unwrap()["cost"];
    assert!(cost["batch_low"].as_f64().unwrap() > 0.0, "{cost}");
});

bktest!(fireworks_results_join_without_a_status_wrapper, |dir| {
    let (c, events, merged) = join(
        &dir,
        &[&fx("providers/fireworks.jsonl")],
        &[&fx("providers/fireworks_results.jsonl")],
    );
    assert_eq!(c, 1, "{events:?}");
    assert_eq!(
        statuses(&merged),
        [
            ("fw-1", "succeeded"),
            ("fw-2", "truncated"),
            ("fw-3", "succeeded")
        ]
    );
    assert_eq!(merged[0]["output_text"], "Blue.");
    let s = events.last().unwrap();
    assert_eq!(s["usage"]["input_tokens"], 57);
    assert_eq!(s["usage"]["cached_tokens"], 16);
    assert_eq!(s["usage"]["output_tokens"], 21);
    assert_eq!(s["missing"], 0);
});

bktest!(an_openrouter_batch_body_is_named, |dir| {
    let (c, ev, _) = bk(
        &dir,
        &["validate", &fx("providers/openrouter-batch-body.json")],
    );
    assert_eq!(c, 1);
    assert_eq!(diags(&ev), want(&[("missing_field", Some(1))]));
    let d = ev.iter().find(|e| e["type"] == "diagnostic").unwrap();
    let m = d["message"].as_str().unwrap();
    assert!(
        m.contains("batch body") && m.contains("--provider openrouter"),
        "{m}"
    );
});

bktest!(models_of_the_providers_batch_examples_are_priced, |dir| {
    let line = |id: &str, url: &str, model: &str, body: &str| {
        format!("{{\"custom_id\":\"{id}\",\"method\":\"POST\",\"url\":\"{url}\",\"body\":{{\"model\":\"{model}\",{body}}}}}\n")
    };
    let chat = "\"messages\":[{\"role\":\"user\",\"content\":\"Hello world\"}],\"max_tokens\":10";
    for model in ["gpt-3.5-turbo-0125", "gpt-3.5-turbo", "gpt-4"] {
        dir.write("m.jsonl", line("a", "/v1/chat/completions", model, chat));
        let (c, ev, out) = bk(&dir, &["tokens", "m.jsonl"]);
        assert_eq!(c, 0, "{out}");
        let s = ev.last().unwrap();
        assert_eq!(
            s["unpriced_models"],
            serde_json::json!([]),
            "{model}: {out}"
        );
        assert!(s["cost"]["batch_low"].as_f64().unwrap() > 0.0, "{model}");
    }
    dir.write(
        "m.jsonl",
        line(
            "a",
            "/v1/completions",
            "gpt-3.5-turbo-instruct",
            "\"prompt\":\"Say this is a test\",\"max_tokens\":7",
        ),
    );
    let (_, ev, _) = bk(&dir, &["tokens", "m.jsonl"]);
    assert_eq!(ev.last().unwrap()["unpriced_models"], serde_json::json!([]));
    let anthropic = "{\"custom_id\":\"a\",\"params\":{\"model\":\"claude-3-5-sonnet-20241022\",\"max_tokens\":1024,\"messages\":[{\"role\":\"user\",\"content\":\"Hello, world\"}]}}\n";
    dir.write("a.jsonl", anthropic);
    let (_, ev, _) = bk(&dir, &["tokens", "a.jsonl"]);
    let s = ev.last().unwrap();
    assert_eq!(s["unpriced_models"], serde_json::json!([]));
    assert_eq!(s["models"][0]["price_entry"], "claude-3-5-sonnet");
    // A model with no price is named once in the human output, whatever the number of files
    // and lines.
    let unpriced = line("u", "/v1/chat/completions", "my-own-model", chat);
    dir.write("u1.jsonl", unpriced.repeat(3));
    dir.write("u2.jsonl", unpriced.repeat(2));
    let mut h = dir.cmd();
    h.args([
        "--format", "human", "tokens", "u1.jsonl", "u2.jsonl", "a.jsonl",
    ]);
    let out = String::from_utf8_lossy(&run(h).stdout).into_owned();
    let notes: Vec<&str> = out.lines().filter(|l| l.contains("no price for")).collect();
    assert_eq!(notes.len(), 1, "{out}");
    assert_eq!(notes[0].matches("my-own-model").count(), 1, "{out}");
    assert!(!notes[0].contains("claude"), "{out}");
});
