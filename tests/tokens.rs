//! `batchkit tokens` end to end.

use std::io::Write;

use serde::Deserialize;
use serde_json::Value;

use crate::util::{code, fixture, json_lines, run, run_with_stdin, Dir};

/// `batchkit tokens ARGS...` in `dir`.
fn tokens(dir: &Dir, args: &[&str]) -> std::process::Output {
    let mut c = dir.cmd();
    c.arg("tokens").args(args);
    run(c)
}

/// A fixture's path as an argument.
fn fx(name: &str) -> String {
    fixture(name).display().to_string()
}

/// The JSON Lines schema, locked: any field added or renamed fails here.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[allow(dead_code, clippy::large_enum_variant)]
enum Event {
    Request {
        file: String,
        line: u64,
        offset: u64,
        custom_id: Option<String>,
        model: Option<String>,
        encoding: String,
        /// `null` for a request with no text input (audio transcriptions).
        input_tokens: Option<u64>,
        max_output_tokens: Option<u64>,
        exact: bool,
    },
    /// The one diagnostic shape of every command (a struct of its own: serde does not deny
    /// unknown fields of an internally tagged enum's struct variants).
    Diagnostic(Diag),
    File {
        file: String,
        lines: u64,
        bytes: u64,
        requests: u64,
        input_tokens: u64,
        errors: u64,
        warnings: u64,
    },
    Error {
        code: String,
        file: String,
        line: Option<u64>,
        message: String,
    },
    Summary(Summary),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Diag {
    severity: String,
    code: String,
    file: String,
    line: u64,
    offset: u64,
    column: Option<u64>,
    custom_id: Option<String>,
    first_line: Option<u64>,
    pointer: Option<String>,
    message: String,
    context: Option<String>,
    side: Option<String>,
    first_file: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Summary {
    files: u64,
    lines: u64,
    bytes: u64,
    requests: u64,
    errors: u64,
    warnings: u64,
    input_tokens: u64,
    max_output_tokens: u64,
    requests_without_max_output: u64,
    requests_without_text_input: u64,
    exact: bool,
    ok: bool,
    aggregated_requests: u64,
    max_models: usize,
    cost: Option<Cost>,
    cost_incomplete: bool,
    unpriced_models: Vec<String>,
    cache: Option<Value>,
    queue: Option<Value>,
    models: Vec<ModelRow>,
    targets: Vec<Value>,
    prices: Prices,
    error: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Cost {
    batch_low: f64,
    batch_high: f64,
    sync_low: f64,
    sync_high: f64,
    batch_cache_low: Option<f64>,
    batch_cache_high: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct ModelRow {
    model: Option<String>,
    encoding: String,
    exact: bool,
    requests: u64,
    estimated_requests: u64,
    input_tokens: u64,
    max_output_tokens: u64,
    requests_without_max_output: u64,
    requests_without_text_input: u64,
    p50: u64,
    p95: u64,
    max: u64,
    price_entry: Option<String>,
    cost: Option<Cost>,
    cache: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Prices {
    as_of: String,
    currency: String,
    origin: String,
    sources: Vec<String>,
}

fn summary(lines: &[Value]) -> &Value {
    let last = lines.last().expect("some output");
    assert_eq!(last["type"], "summary");
    last
}

fn requests(lines: &[Value]) -> Vec<(u64, u64)> {
    lines
        .iter()
        .filter(|l| l["type"] == "request")
        .map(|l| {
            (
                l["line"].as_u64().unwrap(),
                l["input_tokens"].as_u64().unwrap(),
            )
        })
        .collect()
}

bktest!(chat_counts_match_tiktoken, |dir| {
    let out = tokens(
        &dir,
        &["--format=json", "--per-request", &fx("tokens/chat.jsonl")],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let lines = json_lines(&out);
    // Reference counts from Python tiktoken with the cookbook rule (+2,833 for the image).
    assert_eq!(
        requests(&lines),
        vec![(1, 20), (2, 35), (3, 13 + 2833), (4, 27)]
    );
    let s = summary(&lines);
    assert_eq!(s["input_tokens"], 20 + 35 + 2846 + 27);
    assert_eq!(s["exact"], true);
    assert_eq!(s["requests_without_max_output"], 1);
    // gpt-3.5-turbo-0125 (OpenAI's own batch example) is in the price table.
    assert_eq!(s["unpriced_models"], serde_json::json!([]));
    let mini = s["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "gpt-4o-mini")
        .unwrap();
    assert_eq!(mini["max_output_tokens"], 556);
    assert_eq!(
        (mini["p50"].as_u64(), mini["max"].as_u64()),
        (Some(35), Some(2846))
    );
    // 2,908 input tokens and 556 output tokens at $0.075 / $0.30 per 1M in batch.
    // Rounded to 1e-9 USD: no binary noise, nothing lost.
    assert_eq!(mini["cost"]["batch_low"], 0.0002181);
    assert_eq!(mini["cost"]["batch_high"], 0.0003849);
    // Every model of the file is priced.
    assert_eq!(s["cost_incomplete"], false);
    for l in &lines {
        serde_json::from_value::<Event>(l.clone()).unwrap_or_else(|e| panic!("{e}: {l}"));
    }
});

bktest!(embeddings_count_inputs, |dir| {
    let out = tokens(
        &dir,
        &[
            "--format=json",
            "--per-request",
            &fx("tokens/embeddings.jsonl"),
        ],
    );
    assert_eq!(code(&out), 0);
    let lines = json_lines(&out);
    assert_eq!(requests(&lines), vec![(1, 10), (2, 7)]);
    assert_eq!(lines[0]["max_output_tokens"], 0);
    assert_eq!(lines[0]["encoding"], "cl100k_base");
});

bktest!(bad_lines_are_listed_and_exit_1, |dir| {
    let out = tokens(
        &dir,
        &["--format=json", "--per-request", &fx("tokens/messy.jsonl")],
    );
    assert_eq!(code(&out), 1);
    let lines = json_lines(&out);
    let diags: Vec<(u64, u64, &str)> = lines
        .iter()
        .filter(|l| l["type"] == "diagnostic")
        .map(|l| {
            (
                l["line"].as_u64().unwrap(),
                l["offset"].as_u64().unwrap(),
                l["code"].as_str().unwrap(),
            )
        })
        .collect();
    // Offsets count the BOM and the CRLF endings.
    assert_eq!(
        diags,
        vec![
            (2, 263, "empty_line"),
            (3, 265, "invalid_json"),
            (4, 313, "not_object")
        ]
    );
    // Claude: 4 per request, 3 per message, "Be brief." and "Hello world!" 3 each.
    assert_eq!(requests(&lines), vec![(1, 20), (5, 13), (6, 3)]);
    let est: Vec<bool> = lines
        .iter()
        .filter(|l| l["type"] == "request")
        .map(|l| l["exact"] == true)
        .collect();
    assert_eq!(
        est,
        vec![true, false, false],
        "Claude and Gemini are estimates"
    );
    let s = summary(&lines);
    assert_eq!(
        (
            s["lines"].as_u64(),
            s["errors"].as_u64(),
            s["warnings"].as_u64()
        ),
        // The blank line between requests is an error, as in validate (skipped all the same).
        (Some(6), Some(3), Some(0))
    );
    assert_eq!(s["exact"], false);
    assert_eq!(s["ok"], false);
    let bad = lines.iter().find(|l| l["code"] == "invalid_json").unwrap();
    let msg = bad["message"].as_str().unwrap().to_string();
    assert!(
        msg.starts_with("not valid JSON: ") && !msg.contains("line 1"),
        "{msg}"
    );
    assert!(bad["column"].as_u64().unwrap() >= 1, "{bad}");
    assert_eq!(bad["context"], "not counted");
});

bktest!(stdin_zstd_and_path_agree, |dir| {
    let data = std::fs::read(fixture("tokens/chat.jsonl")).unwrap();
    let plain = dir.write("in.jsonl", &data);
    let z = dir.write("in.bin", zstd::encode_all(&data[..], 3).unwrap());
    let get = |out: std::process::Output| {
        assert_eq!(code(&out), 0);
        let mut l = json_lines(&out);
        for v in &mut l {
            v.as_object_mut().unwrap().remove("file");
        }
        l
    };
    let a = get(tokens(
        &dir,
        &["--format=json", "--per-request", plain.to_str().unwrap()],
    ));
    let b = get(tokens(
        &dir,
        &["--format=json", "--per-request", z.to_str().unwrap()],
    ));
    let mut stdin_cmd = dir.cmd();
    stdin_cmd.args(["tokens", "--format=json", "--per-request", "-"]);
    let c = get(run_with_stdin(stdin_cmd, &data));
    assert_eq!(a, b);
    assert_eq!(a, c);
});

bktest!(output_does_not_depend_on_threads, |dir| {
    let mut f = std::fs::File::create(dir.join("big.jsonl")).unwrap();
    for i in 0..8_000u32 {
        let model = ["gpt-4o-mini", "gpt-4", "claude-haiku-4-5"][i as usize % 3];
        let text = "lorem ipsum dolor sit amet ".repeat((i % 61) as usize);
        writeln!(
            f,
            r#"{{"custom_id":"r{i}","url":"/v1/chat/completions","body":{{"model":"{model}","messages":[{{"role":"user","content":"{text}{i}"}}],"max_tokens":{}}}}}"#,
            i % 500
        )
        .unwrap();
    }
    drop(f);
    let go = |t: &str| {
        tokens(
            &dir,
            &[
                "--format=json",
                "--per-request",
                "--threads",
                t,
                "big.jsonl",
            ],
        )
    };
    let one = go("1");
    let two = go("2");
    assert_eq!(code(&one), 0);
    assert!(
        one.stdout == two.stdout,
        "output differs between --threads 1 and 2"
    );
    let lines = json_lines(&one);
    assert_eq!(summary(&lines)["requests"], 8_000);
    assert_eq!(summary(&lines)["models"].as_array().unwrap().len(), 3);
});

bktest!(model_override_and_pricing_file, |dir| {
    let out = tokens(
        &dir,
        &[
            "--format=json",
            "--model",
            "gpt-3.5-turbo",
            "--pricing",
            &fx("tokens/pricing.toml"),
            &fx("tokens/chat.jsonl"),
        ],
    );
    assert_eq!(code(&out), 0);
    let lines = json_lines(&out);
    let s = summary(&lines);
    assert_eq!(
        s["models"].as_array().unwrap().len(),
        1,
        "every request counted as the one model"
    );
    assert_eq!(s["models"][0]["encoding"], "cl100k_base");
    assert_eq!(s["models"][0]["price_entry"], "gpt-3.5-turbo");
    assert_eq!(s["prices"]["as_of"], "2027-01-01");
    assert!(s["prices"]["origin"]
        .as_str()
        .unwrap()
        .contains("pricing.toml"));
    assert_eq!(s["unpriced_models"], serde_json::json!([]));
});

bktest!(unusable_inputs_exit_2_and_name_the_file, |dir| {
    dir.write("bad.toml", "[models.x]\ninput = \"free\"\n");
    let out = tokens(&dir, &["--pricing", "bad.toml", &fx("tokens/chat.jsonl")]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.toml"));
    let out = tokens(
        &dir,
        &["--format=json", "missing.jsonl", &fx("tokens/chat.jsonl")],
    );
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.jsonl"));
    // The readable file was still counted.
    assert_eq!(summary(&json_lines(&out))["requests"], 4);
});

bktest!(
    missing_input_gets_an_error_record_not_a_file_record,
    |dir| {
        let out = tokens(
            &dir,
            &["--format=json", "missing.jsonl", &fx("tokens/chat.jsonl")],
        );
        assert_eq!(code(&out), 2);
        let lines = json_lines(&out);
        for l in &lines {
            serde_json::from_value::<Event>(l.clone()).expect("schema");
        }
        let kinds: Vec<(&str, &str)> = lines
            .iter()
            .filter(|l| l["type"] != "summary")
            .map(|l| {
                (
                    l["type"].as_str().unwrap(),
                    l["file"].as_str().unwrap().rsplit('/').next().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [("error", "missing.jsonl"), ("file", "chat.jsonl")],
            "{lines:?}"
        );
        let err = &lines[0];
        assert!(
            err["message"].as_str().unwrap().contains("missing.jsonl"),
            "{err}"
        );
        let s = summary(&lines);
        assert_eq!(
            (s["ok"].as_bool(), s["files"].as_u64()),
            (Some(false), Some(2))
        );
        assert_eq!(s["requests"], 4);
        // People read it once, on stderr.
        let out = tokens(
            &dir,
            &["--format=human", "missing.jsonl", &fx("tokens/chat.jsonl")],
        );
        assert_eq!(code(&out), 2);
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(
            text.contains("error: ") && text.contains("missing.jsonl"),
            "{text}"
        );
        assert_eq!(text.matches("missing.jsonl").count(), 1, "{text}");
    }
);

bktest!(distinct_models_past_max_models_are_summed_as_other, |dir| {
    // 3,000 lines, each with its own model: past 1,000 models the rest are summed.
    let mut input = String::new();
    for i in 0..3000 {
        input.push_str(&format!(
            "{{\"custom_id\":\"r{i}\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{{\"model\":\"model-{i:05}\",\"max_tokens\":{},\"messages\":[{{\"role\":\"user\",\"content\":\"{}\"}}]}}}}\n",
            i % 7,
            "word ".repeat(i % 13)
        ));
    }
    dir.write("many.jsonl", &input);
    let run_with = |extra: &[&str]| {
        let mut args = vec!["--format=json", "--per-request"];
        args.extend_from_slice(extra);
        args.push("many.jsonl");
        let out = tokens(&dir, &args);
        assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
        json_lines(&out)
    };
    let lines = run_with(&[]);
    for l in &lines {
        serde_json::from_value::<Event>(l.clone()).expect("schema");
    }
    let s = summary(&lines);
    let models = s["models"].as_array().unwrap();
    assert!(models.len() <= 1001, "{}", models.len());
    assert_eq!(models.len(), 1001);
    assert_eq!(s["max_models"], 1000);
    assert_eq!(s["aggregated_requests"], 2000);
    let other = models
        .iter()
        .find(|m| m["model"] == "(other)")
        .expect("an (other) entry");
    assert_eq!(other["requests"], 2000);
    // Totals are those of the per-request records, whatever the aggregation.
    let per: Vec<&Value> = lines.iter().filter(|l| l["type"] == "request").collect();
    assert_eq!(per.len(), 3000);
    let input_sum: u64 = per
        .iter()
        .map(|l| l["input_tokens"].as_u64().unwrap())
        .sum();
    let max_out_sum: u64 = per
        .iter()
        .map(|l| l["max_output_tokens"].as_u64().unwrap())
        .sum();
    assert_eq!(s["requests"], 3000);
    assert_eq!(s["input_tokens"].as_u64(), Some(input_sum));
    assert_eq!(s["max_output_tokens"].as_u64(), Some(max_out_sum));
    let model_sum: u64 = models
        .iter()
        .map(|m| m["input_tokens"].as_u64().unwrap())
        .sum();
    assert_eq!(model_sum, input_sum);
    // A smaller cap: same totals, fewer entries.
    let small = run_with(&["--max-models", "10"]);
    let s2 = summary(&small);
    assert_eq!(s2["models"].as_array().unwrap().len(), 11);
    assert_eq!(s2["aggregated_requests"], 2990);
    assert_eq!(s2["input_tokens"], s["input_tokens"]);
    // Human output says so in one line.
    let out = tokens(
        &dir,
        &["--format=human", "--max-models", "10", "many.jsonl"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("2,990 requests of models past the first 10 are summed as (other)"),
        "{text}"
    );
});

bktest!(oversized_line_is_reported, |dir| {
    let long = format!(
        r#"{{"custom_id":"x","body":{{"model":"gpt-4o","messages":[{{"role":"user","content":"{}"}}]}}}}"#,
        "a".repeat(5000)
    );
    dir.write("in.jsonl", format!("{long}\n{long}\n"));
    let out = tokens(
        &dir,
        &["--format=json", "--max-line-bytes", "1000", "in.jsonl"],
    );
    assert_eq!(code(&out), 1);
    let lines = json_lines(&out);
    let codes: Vec<_> = lines
        .iter()
        .filter(|l| l["type"] == "diagnostic")
        .map(|l| (l["line"].clone(), l["code"].clone()))
        .collect();
    assert_eq!(
        codes,
        vec![
            (1.into(), "line_too_large".into()),
            (2.into(), "line_too_large".into())
        ]
    );
});

bktest!(human_output_is_a_table, |dir| {
    let out = tokens(&dir, &["--format=human", &fx("tokens/messy.jsonl")]);
    assert_eq!(code(&out), 1);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("error[invalid_json]"), "{text}");
    assert!(text.contains("messy.jsonl:3:"), "{text}");
    assert!(text.contains("= note: not counted"), "{text}");
    assert!(
        text.contains("claude-haiku-4-5 ~"),
        "estimates are marked: {text}"
    );
    assert!(text.contains("prices: embedded table as of"), "{text}");
    assert!(!text.contains('\x1b'), "no colour when asked for none");
});

bktest!(small_costs_show_significant_digits, |dir| {
    // text-embedding-3-small on two short requests costs a fraction of a millionth of a
    // dollar: the table shows it, not "$0.000000".
    let file = fx("tokens/embeddings.jsonl");
    let out = tokens(&dir, &["--format=json", "--no-cache-plan", &file]);
    assert_eq!(code(&out), 0);
    let lines = json_lines(&out);
    let cost = &summary(&lines)["cost"];
    let (low, sync_low) = (
        cost["batch_low"].as_f64().unwrap(),
        cost["sync_low"].as_f64().unwrap(),
    );
    assert!(low > 0.0 && low < 1e-6, "{cost}");
    let out = tokens(&dir, &["--format=human", "--no-cache-plan", &file]);
    assert_eq!(code(&out), 0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("$0.000000 "), "{text}");
    let row = text
        .lines()
        .find(|l| l.starts_with("text-embedding-3-small"))
        .unwrap_or_else(|| panic!("no row: {text}"));
    // The one money format every printer shares (join's too).
    let shown = batchkit_report::money("USD", low);
    // Significant digits after the leading zeros.
    assert!(
        shown.trim_start_matches(['$', '0', '.']).len() >= 2,
        "{shown}"
    );
    assert!(row.contains(&format!("{shown} – ")), "{row}");
    assert!(
        row.contains(&format!("{} – ", batchkit_report::money("USD", sync_low))),
        "{row}"
    );
});

/// The request records of `tokens --per-request --format=json FILE`, by custom_id, and the
/// summary; every line checked against the schema.
fn rules_run(dir: &Dir) -> (Vec<Value>, Value) {
    let out = tokens(
        dir,
        &["--format=json", "--per-request", &fx("tokens/rules.jsonl")],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let lines = json_lines(&out);
    for l in &lines {
        serde_json::from_value::<Event>(l.clone()).unwrap_or_else(|e| panic!("{e}: {l}"));
    }
    let s = summary(&lines).clone();
    let reqs = lines
        .into_iter()
        .filter(|l| l["type"] == "request")
        .collect();
    (reqs, s)
}

fn by_id<'a>(reqs: &'a [Value], id: &str) -> &'a Value {
    reqs.iter()
        .find(|r| r["custom_id"] == id)
        .unwrap_or_else(|| panic!("no request {id}"))
}

fn o200k(s: &str) -> u64 {
    batchkit_tokens::Encoding::O200kBase.count(s)
}

bktest!(response_format_adds_no_input_tokens, |dir| {
    let (reqs, _) = rules_run(&dir);
    let json_mode = by_id(&reqs, "json-mode");
    let plain = by_id(&reqs, "plain");
    // On real gpt-4o-mini batches, prompt_tokens equals the cookbook count without
    // response_format.
    let want = 3
        + (3 + o200k("system") + o200k("Reply with a JSON object."))
        + (3 + o200k("user") + o200k("Three primary colours, please."));
    assert_eq!(json_mode["input_tokens"], want);
    assert_eq!(plain["input_tokens"], want);
    assert_eq!(json_mode["exact"], true);
});

bktest!(tools_are_counted_by_the_cookbook_rule, |dir| {
    let (reqs, _) = rules_run(&dir);
    // The cookbook's weather example: 101 prompt tokens on gpt-4o.
    let weather = by_id(&reqs, "weather");
    assert_eq!(weather["input_tokens"], 101);
    assert_eq!(weather["exact"], true);
    // The same request on a model the cookbook does not cover: same rule, an estimate.
    let other = by_id(&reqs, "weather-41");
    assert_eq!(other["input_tokens"], 101);
    assert_eq!(other["exact"], false);
});

bktest!(anthropic_estimate_is_calibrated, |dir| {
    let (reqs, _) = rules_run(&dir);
    // Anthropic's batch example reports input_tokens 10 and 11 (source:
    // https://platform.claude.com/docs/en/build-with-claude/batch-processing).
    assert_eq!(by_id(&reqs, "my-first-request")["input_tokens"], 10);
    assert_eq!(by_id(&reqs, "my-second-request")["input_tokens"], 11);
    // Opus 4.7: "Hello, world" is 3 o200k tokens, 4 with the newer tokenizer's +30%.
    assert_eq!(o200k("Hello, world"), 3);
    assert_eq!(by_id(&reqs, "new-tokenizer")["input_tokens"], 4 + 3 + 4);
    for id in ["my-first-request", "my-second-request", "new-tokenizer"] {
        assert_eq!(by_id(&reqs, id)["exact"], false, "{id}");
    }
});

bktest!(audio_requests_have_no_text_count, |dir| {
    let (reqs, s) = rules_run(&dir);
    for id in ["audio-1", "audio-2"] {
        let r = by_id(&reqs, id);
        assert!(r["input_tokens"].is_null(), "{r}");
        assert_eq!(r["exact"], true, "{r}");
    }
    // In the request count, out of the token figures.
    assert_eq!(s["requests"], 10);
    assert_eq!(s["requests_without_text_input"], 2);
    let counted: u64 = reqs.iter().filter_map(|r| r["input_tokens"].as_u64()).sum();
    assert_eq!(s["input_tokens"], counted);
    assert_eq!(
        s["requests_without_max_output"], 2,
        "the two gpt-4o lines only"
    );
    let whisper = s["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "whisper-large-v3")
        .unwrap();
    assert_eq!(whisper["requests"], 2);
    assert_eq!(whisper["requests_without_text_input"], 2);
    assert_eq!(
        (
            whisper["input_tokens"].as_u64(),
            whisper["p50"].as_u64(),
            whisper["max"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );
    assert!(
        !s["unpriced_models"]
            .as_array()
            .unwrap()
            .contains(&"whisper-large-v3".into()),
        "{}",
        s["unpriced_models"]
    );
    // People are told how many requests had nothing to count.
    let out = tokens(
        &dir,
        &["--format=human", "--per-request", &fx("tokens/rules.jsonl")],
    );
    assert_eq!(code(&out), 0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "2 requests have no countable input (audio transcription / translation): left out of the token totals and percentiles"
        ),
        "{text}"
    );
    assert!(
        text.contains("audio-1  whisper-large-v3  no text input (not counted)"),
        "{text}"
    );
});

bktest!(gemini_embeddings_count_their_content, |dir| {
    let (reqs, _) = rules_run(&dir);
    let e = by_id(&reqs, "embed-1");
    assert_eq!(e["input_tokens"], o200k("What is the meaning of life?"));
    assert!(e["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(e["max_output_tokens"], 0);
    assert_eq!(e["exact"], false);
});

// `--queue-limit`: fits or not, and as many files as `shard --max-tokens` makes.
bktest!(queue_limit_matches_shard, |dir| {
    let mut text = String::new();
    for i in 0..60 {
        let words = "word ".repeat(20 + (i * 37) % 400);
        text.push_str(&format!(
            "{{\"custom_id\":\"r{i}\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{{\"model\":\"gpt-4o-mini\",\"messages\":[{{\"role\":\"user\",\"content\":\"{words}\"}}]}}}}\n"
        ));
    }
    let f = dir.write("q.jsonl", &text);
    let f = f.display().to_string();
    for limit in [1_000u64, 2_500, 5_000, 1_000_000] {
        let out = tokens(
            &dir,
            &["--format=json", "--queue-limit", &limit.to_string(), &f],
        );
        assert_eq!(code(&out), 0);
        let lines = json_lines(&out);
        let s = summary(&lines);
        let q = &s["queue"];
        assert_eq!(q["limit"], limit);
        assert_eq!(q["fits"], s["input_tokens"].as_u64().unwrap() <= limit);
        let mut c = dir.cmd();
        let outdir = dir.join(&format!("out{limit}"));
        c.args([
            "shard",
            &f,
            "--out-dir",
            outdir.to_str().unwrap(),
            "--max-tokens",
            &limit.to_string(),
        ]);
        let o = run(c);
        assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
        let m: Value =
            serde_json::from_slice(&std::fs::read(outdir.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(
            q["shards"],
            m["shards"].as_array().unwrap().len() as u64,
            "limit {limit}"
        );
    }
    // A request over the limit on its own: shard refuses, so no count of files.
    let out = tokens(&dir, &["--format=json", "--queue-limit", "50", &f]);
    let lines = json_lines(&out);
    let q = &summary(&lines)["queue"];
    assert_eq!(q["fits"], false);
    assert!(q["shards"].is_null());
    assert!(q["requests_over_limit"].as_u64().unwrap() > 0);
});

// The cost plan in JSON: batch + cache below batch for a shared prefix on a GPT-5 model.
bktest!(cost_plan_in_json, |dir| {
    let shared = "policy ".repeat(1500);
    let mut text = String::new();
    for i in 0..10 {
        text.push_str(&format!(
            "{{\"custom_id\":\"r{i}\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{{\"model\":\"gpt-5-mini\",\"messages\":[{{\"role\":\"system\",\"content\":\"{shared}\"}},{{\"role\":\"user\",\"content\":\"{i:03} hi\"}}]}}}}\n"
        ));
    }
    let f = dir.write("c.jsonl", &text);
    let out = tokens(&dir, &["--format=json", f.to_str().unwrap()]);
    let lines = json_lines(&out);
    let s = summary(&lines);
    let c = &s["cache"];
    assert_eq!(c["rule"], "openai_prefix");
    assert_eq!(c["exact"], true);
    assert_eq!(c["shared_prefixes"]["count"], 1);
    assert_eq!(c["shared_prefixes"]["longest"][0]["requests"], 10);
    let cacheable = c["cacheable_input_tokens"].as_u64().unwrap();
    assert_eq!(cacheable % 128, 0);
    assert_eq!(
        cacheable / 9,
        c["shared_prefixes"]["longest"][0]["tokens"]
            .as_u64()
            .unwrap()
    );
    assert!(
        s["cost"]["batch_cache_low"].as_f64().unwrap() < s["cost"]["batch_low"].as_f64().unwrap()
    );
    assert_eq!(
        s["models"][0]["cost"]["batch_cache_low"],
        s["cost"]["batch_cache_low"]
    );
    // Off: the cache block is null, the same counts.
    let off = tokens(
        &dir,
        &["--format=json", "--no-cache-plan", f.to_str().unwrap()],
    );
    let lines_off = json_lines(&off);
    let s_off = summary(&lines_off);
    assert!(s_off["cache"].is_null() && s_off.get("cache").is_some());
    assert_eq!(s_off["input_tokens"], s["input_tokens"]);
});

// Anthropic breakpoints with the 1-hour TTL: their writes are counted apart and priced at 2x
// input (1.25x for the default 5 minutes), so the same file costs more with "ttl":"1h".
bktest!(cost_plan_anthropic_one_hour_ttl, |dir| {
    let shared = "clause ".repeat(3000);
    let file = |ttl: &str| {
        let mut text = String::new();
        for i in 0..6 {
            text.push_str(&format!(
                "{{\"custom_id\":\"r{i}\",\"params\":{{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":16,\"system\":[{{\"type\":\"text\",\"text\":\"{shared}\",\"cache_control\":{{\"type\":\"ephemeral\"{ttl}}}}}],\"messages\":[{{\"role\":\"user\",\"content\":\"question {i}\"}}]}}}}\n"
            ));
        }
        text
    };
    let five = dir.write("five.jsonl", file(""));
    let hour = dir.write("hour.jsonl", file(",\"ttl\":\"1h\""));
    let plan = |f: &std::path::Path| {
        let out = tokens(&dir, &["--format=json", f.to_str().unwrap()]);
        let lines = json_lines(&out);
        summary(&lines).clone()
    };
    let (s5, s1) = (plan(&five), plan(&hour));
    let (c5, c1) = (&s5["cache"], &s1["cache"]);
    assert_eq!(c5["rule"], "anthropic_cache_control");
    let writes = c5["cache_write_tokens"].as_u64().unwrap();
    assert!(writes > 0, "{c5}");
    assert_eq!(c5["cache_write_1h_tokens"], 0);
    // Same prefix, same writes; all of them at the 1-hour TTL.
    assert_eq!(c1["cache_write_tokens"], writes);
    assert_eq!(c1["cache_write_1h_tokens"], writes);
    assert_eq!(c1["cacheable_input_tokens"], c5["cacheable_input_tokens"]);
    let low = |s: &Value| s["cost"]["batch_cache_low"].as_f64().unwrap();
    // The difference is the writes at 2x - 1.25x the batch input price (claude-sonnet-4-5:
    // $1.50 per 1M batch input).
    let diff = low(&s1) - low(&s5);
    let expected = writes as f64 * 0.75 * 1.5 / 1e6;
    assert!((diff - expected).abs() < 1e-8, "{diff} vs {expected}");
    // People see the writes and their TTL.
    let human = tokens(&dir, &["--format=human", hour.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&human.stdout);
    let w = writes.to_string();
    assert!(
        text.contains("cache writes: ") && text.contains("at the 1-hour TTL"),
        "{text}"
    );
    assert!(text.contains(&w[w.len() - 3..]), "{text}");
    let five_text =
        String::from_utf8_lossy(&tokens(&dir, &["--format=human", five.to_str().unwrap()]).stdout)
            .to_string();
    assert!(
        five_text.contains("cache writes: ") && !five_text.contains("1-hour"),
        "{five_text}"
    );
});

bktest!(a_result_file_is_reported_once, |dir| {
    let line = |i: u32| {
        format!(
            "{{\"id\":\"batch_req_{i}\",\"custom_id\":\"r{i}\",\"response\":{{\"status_code\":200,\"request_id\":\"q{i}\",\"body\":{{\"object\":\"chat.completion\",\"model\":\"gpt-4o\",\"choices\":[{{\"index\":0,\"message\":{{\"role\":\"assistant\",\"content\":\"hi\"}},\"finish_reason\":\"stop\"}}]}}}},\"error\":null}}\n"
        )
    };
    let p = dir.write("results.jsonl", (1..=5).map(line).collect::<String>());
    let out = tokens(&dir, &["--format", "json", &p.display().to_string()]);
    assert_eq!(code(&out), 1);
    let events = json_lines(&out);
    let findings: Vec<&Value> = events
        .iter()
        .filter(|v| v["type"] == "diagnostic")
        .collect();
    let messages: Vec<&str> = findings
        .iter()
        .map(|v| v["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 2, "{messages:#?}");
    assert!(
        messages[0].ends_with("not a request: a result file; to match results with their requests use `batchkit join --requests REQUESTS --results RESULTS --out MERGED`"),
        "{}",
        messages[0]
    );
    assert_eq!(findings[0]["line"], 1);
    assert_eq!(
        messages[1],
        "5 lines are batch results, not requests (the first is reported above); give this file to `batchkit join --results`"
    );
    let summary = events.last().unwrap();
    assert_eq!(
        (summary["errors"].as_u64(), summary["requests"].as_u64()),
        (Some(2), Some(0))
    );
});

bktest!(a_line_whose_parse_does_not_fit_is_too_large, |dir| {
    // 1.2 MB of which half is commas: its parse takes about 19 MB, over the 16 MiB long-line
    // share of a 64 MiB budget (validate reports the same line the same way).
    let dense = "0,".repeat(600_000);
    let p = dir.write(
        "dense.jsonl",
        format!(
            "{{\"custom_id\":\"dense\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{{\"model\":\"gpt-4o-mini\",\"messages\":[{{\"role\":\"user\",\"content\":\"hi\"}}],\"metadata\":{{\"dense\":[{dense}0]}}}}}}\n{{\"custom_id\":\"b\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{{\"model\":\"gpt-4o-mini\",\"messages\":[{{\"role\":\"user\",\"content\":\"hi\"}}]}}}}\n"
        ),
    );
    let p = p.display().to_string();
    let found = |job: &str| {
        let mut c = dir.cmd();
        c.args(["--format", "json", "--memory-limit", "64MiB", job, &p]);
        let out = run(c);
        let events = json_lines(&out);
        let d: Vec<(String, u64, String)> = events
            .iter()
            .filter(|v| v["type"] == "diagnostic")
            .map(|v| {
                (
                    v["code"].as_str().unwrap().to_string(),
                    v["line"].as_u64().unwrap_or(0),
                    v["message"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        (code(&out), d, events.last().cloned().unwrap())
    };
    let (code_t, tokens_found, summary) = found("tokens");
    let (_, validate_found, _) = found("validate");
    assert_eq!(code_t, 1);
    assert_eq!(tokens_found.len(), 1, "{tokens_found:?}");
    assert_eq!(tokens_found[0].0, "line_too_large");
    assert_eq!(tokens_found[0].1, 1);
    assert!(
        tokens_found[0].2.contains("--memory-limit 64.0 MiB"),
        "{tokens_found:?}"
    );
    assert!(
        validate_found.contains(&tokens_found[0]),
        "{validate_found:?}"
    );
    assert_eq!(summary["requests"], 1, "{summary}");
});
