//! `batchkit tokens --target PROVIDER/MODEL`: the file priced on other providers as `convert`
//! sends it. An OpenAI target's count is the count of the file `convert` writes; the table is
//! cheapest first after the file's own row; files are cut at the target's caps; unknown and
//! unpriced targets are refused naming the flag.

use serde_json::Value;

use crate::util::*;

fn demo() -> String {
    fixture("convert-results/targets_demo.jsonl")
        .display()
        .to_string()
}

fn tokens(dir: &Dir, args: &[&str]) -> (i32, Vec<Value>) {
    let mut c = dir.cmd();
    c.args(["--format", "json", "tokens"]).args(args);
    let out = run(c);
    (code(&out), json_lines(&out))
}

fn targets(ev: &[Value]) -> Vec<Value> {
    ev.iter()
        .filter(|e| e["type"] == "target")
        .cloned()
        .collect()
}

bktest!(an_openai_target_counts_the_converted_file, |dir| {
    for (src, model) in [
        (demo(), "gpt-4o"),
        (demo(), "gpt-4.1-mini"),
        // Anthropic lines priced on OpenAI: converted, then counted exactly.
        (
            fixture("convert-results/anthropic_requests.jsonl")
                .display()
                .to_string(),
            "gpt-4o-mini",
        ),
    ] {
        let target = format!("openai/{model}");
        let (rc, ev) = tokens(&dir, &[&src, "--target", &target]);
        assert_eq!(rc, 0, "{ev:?}");
        let t = targets(&ev);
        let t = t.iter().find(|t| t["target"] == target.as_str()).unwrap();
        let mut c = dir.cmd();
        c.args([
            "--format",
            "json",
            "convert",
            &src,
            "--to",
            "openai",
            "--model",
            model,
            "--lossy",
            "--out",
            "converted.jsonl",
        ]);
        run(c);
        let (_, counted) = tokens(&dir, &["converted.jsonl"]);
        let s = counted.last().unwrap();
        assert_eq!(t["input_tokens"], s["input_tokens"], "{model}");
        assert_eq!(t["exact"], s["exact"], "{model}");
        assert_eq!(t["max_output_tokens"], s["max_output_tokens"], "{model}");
        assert_eq!(t["cost"], s["cost"], "{model}");
        assert_eq!(
            t["bytes"].as_u64(),
            Some(
                std::fs::metadata(dir.join("converted.jsonl"))
                    .unwrap()
                    .len()
            ),
            "{model}"
        );
    }
    // gpt-4o: the cookbook's rule covers its tools, so the demo file's count is exact.
    let (_, ev) = tokens(&dir, &[&demo(), "--target", "openai/gpt-4o"]);
    assert_eq!(targets(&ev)[1]["exact"], true);
    // Claude has no public tokenizer: an estimate.
    let (_, ev) = tokens(&dir, &[&demo(), "--target", "anthropic/claude-haiku-4-5"]);
    assert_eq!(targets(&ev)[1]["exact"], false);
});

bktest!(the_files_own_row_first_then_cheapest_first, |dir| {
    let (rc, ev) = tokens(
        &dir,
        &[
            &demo(),
            "--target",
            "anthropic/claude-opus-4-1",
            "--target",
            "openai/gpt-5-nano",
            "--target",
            "gemini/gemini-2.5-flash",
            "--target",
            "anthropic/claude-sonnet-4-5",
        ],
    );
    assert_eq!(rc, 0);
    let t = targets(&ev);
    assert_eq!(t.len(), 5);
    assert_eq!(t[0]["own"], true);
    assert_eq!(t[0]["target"], "openai/gpt-4o-mini");
    let s = ev.last().unwrap();
    // The file's own row is the file's own count and cost.
    assert_eq!(t[0]["input_tokens"], s["input_tokens"]);
    assert_eq!(t[0]["cost"], s["cost"]);
    // The summary carries the same records.
    let untyped: Vec<Value> = t
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.as_object_mut().unwrap().remove("type");
            r
        })
        .collect();
    assert_eq!(s["targets"], Value::Array(untyped));
    let key = |t: &Value| t["cost"]["batch_cache_high"].as_f64().unwrap();
    for w in t[1..].windows(2) {
        assert!(
            key(&w[0]) <= key(&w[1]),
            "{} before {}",
            w[0]["target"],
            w[1]["target"]
        );
    }
    // Opus costs many times what gpt-5-nano does (prices.toml): first and last.
    assert_eq!(t[1]["target"], "openai/gpt-5-nano");
    assert_eq!(t[4]["target"], "anthropic/claude-opus-4-1");
    // Every request is sent everywhere; Anthropic targets get a cache breakpoint after the
    // shared system prompt.
    for r in &t {
        assert_eq!(r["requests"], 10, "{}", r["target"]);
        assert_eq!(r["left_out"], 0, "{}", r["target"]);
    }
    let sonnet = t
        .iter()
        .find(|r| r["target"] == "anthropic/claude-sonnet-4-5")
        .unwrap();
    assert_eq!(sonnet["cache_breakpoints_added"], true);
    assert!(sonnet["cacheable_input_tokens"].as_u64().unwrap() > 0);
    assert!(key(sonnet) < sonnet["cost"]["batch_high"].as_f64().unwrap());
});

bktest!(files_needed_at_the_cap, |dir| {
    // OpenAI takes 50,000 requests a file, Anthropic 100,000 (providers.toml).
    let line = |i: usize| {
        format!(
            "{{\"custom_id\":\"r{i}\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{{\"model\":\"gpt-4o-mini\",\"messages\":[{{\"role\":\"user\",\"content\":\"Hi\"}}],\"max_tokens\":5}}}}\n"
        )
    };
    for (n, openai_files) in [(50_000, 1), (50_001, 2)] {
        let text: String = (0..n).map(line).collect();
        dir.write("many.jsonl", text);
        let (rc, ev) = tokens(
            &dir,
            &[
                "many.jsonl",
                "--no-cache-plan",
                "--target",
                "openai/gpt-4.1-mini",
                "--target",
                "anthropic/claude-haiku-4-5",
            ],
        );
        assert_eq!(rc, 0);
        let t = targets(&ev);
        let files = |name: &str| {
            t.iter().find(|r| r["target"] == name).unwrap()["files"]
                .as_u64()
                .unwrap()
        };
        assert_eq!(files("openai/gpt-4o-mini"), openai_files, "{n}");
        assert_eq!(files("openai/gpt-4.1-mini"), openai_files, "{n}");
        assert_eq!(files("anthropic/claude-haiku-4-5"), 1, "{n}");
    }
});

bktest!(unknown_and_unpriced_targets_name_the_flag, |dir| {
    for (target, says) in [
        ("nowhere/gpt-4o", "not a provider convert writes"),
        ("anthropic/claude-unreleased-9", "no price for"),
        ("gpt-4o", "PROVIDER/MODEL"),
        ("openai/", "PROVIDER/MODEL"),
    ] {
        let mut c = dir.cmd();
        c.args(["tokens", &demo(), "--target", target]);
        let out = run(c);
        assert_eq!(code(&out), 2, "{target}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--target") && err.contains(says),
            "{target}: {err}"
        );
        // JSON readers get the failed run's summary, with the same error.
        let summary: crate::util::Failed = serde_json::from_slice(&out.stdout).unwrap();
        assert!(err.contains(&summary.error.message), "{target}");
    }
    // A price added with --pricing makes the model a target.
    dir.write(
        "p.toml",
        "as_of = \"2026-12-01\"\ncurrency = \"USD\"\n[models.\"claude-unreleased-9\"]\ninput = 1.0\noutput = 5.0\nbatch_input = 0.5\n",
    );
    let (rc, ev) = tokens(
        &dir,
        &[
            &demo(),
            "--pricing",
            "p.toml",
            "--target",
            "anthropic/claude-unreleased-9",
        ],
    );
    assert_eq!(rc, 0, "{ev:?}");
    assert_eq!(targets(&ev).len(), 2);
});

bktest!(target_table_human, |dir| {
    let transcript = |threads: &str| {
        let mut c = dir.cmd();
        c.env("NO_COLOR", "1").args([
            "--format",
            "human",
            "--threads",
            threads,
            "tokens",
            &demo(),
            "--target",
            "anthropic/claude-sonnet-4-5",
            "--target",
            "gemini/gemini-2.5-flash",
            "--target",
            "openai/gpt-4.1-mini",
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
    insta::assert_snapshot!("tokens_targets_human", one);
});

/// The `target` record, field by field: a field added, renamed or dropped fails here.
#[derive(serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct TargetRecord {
    #[serde(rename = "type")]
    kind: String,
    target: String,
    provider: String,
    model: String,
    own: bool,
    requests: u64,
    input_tokens: u64,
    exact: bool,
    max_output_tokens: u64,
    cost: Option<Cost>,
    cache_rule: Option<String>,
    cacheable_input_tokens: Option<u64>,
    cache_breakpoints_added: bool,
    bytes: u64,
    files: u64,
    left_out: u64,
}

#[derive(serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct Cost {
    batch_low: f64,
    batch_high: f64,
    sync_low: f64,
    sync_high: f64,
    batch_cache_low: Option<f64>,
    batch_cache_high: Option<f64>,
}

bktest!(
    target_records_have_their_schema_and_come_before_the_summary,
    |dir| {
        for extra in [&[][..], &["--no-cache-plan"][..]] {
            let mut c = dir.cmd();
            c.args([
                "--format",
                "json",
                "tokens",
                &demo(),
                "--target",
                "gemini/gemini-2.5-pro",
            ])
            .args(extra);
            let out = run(c);
            let text = String::from_utf8(out.stdout).unwrap();
            let kinds: Vec<String> = text
                .lines()
                .map(|l| {
                    serde_json::from_str::<Value>(l).unwrap()["type"]
                        .as_str()
                        .unwrap()
                        .to_string()
                })
                .collect();
            assert_eq!(kinds, ["file", "target", "target", "summary"], "{extra:?}");
            for l in text.lines().filter(|l| l.contains(r#""type":"target""#)) {
                let r: TargetRecord = strict(l);
                assert_eq!(r.kind, "target");
                assert_eq!(r.requests, 10);
            }
        }
    }
);

bktest!(lines_convert_cannot_send_are_counted_per_target, |dir| {
    dir.write(
        "mixed.jsonl",
        concat!(
            r#"{"custom_id":"c","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}],"max_tokens":20}}"#,
            "\n",
            // Anthropic has no embeddings endpoint: no conversion sends this line there.
            r#"{"custom_id":"e","method":"POST","url":"/v1/embeddings","body":{"model":"text-embedding-3-small","input":"Hi"}}"#,
            "\n",
        ),
    );
    let (rc, ev) = tokens(
        &dir,
        &["mixed.jsonl", "--target", "anthropic/claude-haiku-4-5"],
    );
    assert_eq!(rc, 0, "{ev:?}");
    let t = targets(&ev);
    assert_eq!(
        (t[0]["requests"].as_u64(), t[0]["left_out"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(
        (t[1]["requests"].as_u64(), t[1]["left_out"].as_u64()),
        (Some(1), Some(1))
    );
    let mut c = dir.cmd();
    c.env("NO_COLOR", "1").args([
        "--format",
        "human",
        "tokens",
        "mixed.jsonl",
        "--target",
        "anthropic/claude-haiku-4-5",
    ]);
    let out = String::from_utf8(run(c).stdout).unwrap();
    assert!(
        out.contains("anthropic/claude-haiku-4-5: 1 request not priced: `convert --to anthropic` leaves it out"),
        "{out}"
    );
});
