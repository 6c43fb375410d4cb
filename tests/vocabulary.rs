//! One vocabulary: the same bad line gets the same code, severity, message, line, offset and
//! column from every command that reports it, and no command emits a code outside SPEC.md's
//! table.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::util::*;

/// SPEC.md's codes.
const SPEC_CODES: &[&str] = &[
    "invalid_json",
    "not_object",
    "invalid_utf8",
    "empty_line",
    "duplicate_key",
    "missing_field",
    "wrong_type",
    "invalid_custom_id",
    "duplicate_id",
    "invalid_method",
    "unsupported_value",
    "unsupported_url",
    "url_mismatch",
    "model_mismatch",
    "schema_violation",
    "line_too_large",
    "utf8_bom",
    "too_many_requests",
    "file_too_large",
    "too_few_requests",
    "empty_file",
    "unconvertible",
];

type Finding = (Option<u64>, Option<u64>, String, String);

/// (line, code) -> (offset, column, message, severity) of every diagnostic event.
fn findings(lines: &[Value]) -> BTreeMap<(u64, String), Finding> {
    let mut m = BTreeMap::new();
    for l in lines.iter().filter(|l| l["type"] == "diagnostic") {
        let code = l["code"].as_str().unwrap().to_string();
        assert!(
            SPEC_CODES.contains(&code.as_str()),
            "code outside SPEC.md: {l}"
        );
        let Some(line) = l["line"].as_u64() else {
            continue;
        };
        let f = (
            l["offset"].as_u64(),
            l["column"].as_u64(),
            l["message"].as_str().unwrap().to_string(),
            l["severity"].as_str().unwrap().to_string(),
        );
        m.insert((line, code), f);
    }
    m
}

bktest!(every_command_words_a_bad_line_the_same, |dir| {
    let faulty = fixture("validate/openai-faulty.jsonl");
    let f = faulty.to_str().unwrap();
    let json = |args: &[&str]| {
        let mut c = dir.cmd();
        c.arg("--format=json").args(args);
        json_lines(&run(c))
    };
    let reference = findings(&json(&["validate", f]));
    assert!(reference.len() >= 12, "{reference:?}");
    let results = dir.write(
        "results.jsonl",
        "{\"id\":\"b1\",\"custom_id\":\"request-1\",\"response\":{\"status_code\":200,\"body\":{}},\"error\":null}\n",
    );
    let out = dir.join("shards");
    let merged = dir.join("merged.jsonl");
    let runs: Vec<(&str, Vec<Value>, &[u64])> = vec![
        // Lines each command must report: those it cannot read.
        ("dupes", json(&["dupes", f]), &[2, 3, 6, 13, 14, 15, 16]),
        ("tokens", json(&["tokens", f]), &[2, 3, 5, 13, 14, 15, 16]),
        (
            "shard",
            json(&["shard", f, "--out-dir", out.to_str().unwrap()]),
            &[2, 3, 4, 5, 6, 13, 14, 15, 16],
        ),
        (
            "join",
            json(&[
                "join",
                "--requests",
                f,
                "--results",
                results.to_str().unwrap(),
                "--out",
                merged.to_str().unwrap(),
            ]),
            // Line 4 is blank: an `empty_line` error, as validate and tokens say.
            &[2, 3, 4, 6, 13, 14, 15, 16],
        ),
    ];
    for (name, lines, must) in runs {
        let got = findings(&lines);
        for ((line, code), f) in &got {
            let want = reference.get(&(*line, code.clone())).unwrap_or_else(|| {
                panic!("{name}: line {line} {code} is not what validate says: {reference:?}")
            });
            assert_eq!(f, want, "{name}: line {line} {code}");
        }
        for line in must {
            assert!(
                got.keys().any(|(l, _)| l == line),
                "{name} says nothing about line {line}: {got:?}"
            );
        }
    }
});

bktest!(
    blank_lines_are_worded_alike_by_validate_tokens_and_join,
    |dir| {
        let results = dir.write("results.jsonl", "");
        for name in [
            "real/openai-blank-between.jsonl",
            "real/openai-trailing-blank.jsonl",
            "real/openai-trailing-blank-crlf.jsonl",
        ] {
            let file = fixture(name);
            let f = file.to_str().unwrap();
            let json = |args: &[&str]| {
                let mut c = dir.cmd();
                c.arg("--format=json").args(args);
                let all = findings(&json_lines(&run(c)));
                all.into_iter()
                    .filter(|((_, code), _)| code == "empty_line")
                    .collect::<BTreeMap<_, _>>()
            };
            let reference = json(&["validate", f]);
            assert_eq!(reference.len(), 1, "{name}: {reference:?}");
            let merged = dir.join("merged.jsonl");
            let join = json(&[
                "join",
                "--requests",
                f,
                "--results",
                results.to_str().unwrap(),
                "--out",
                merged.to_str().unwrap(),
            ]);
            assert_eq!(join, reference, "{name}: join");
            assert_eq!(json(&["tokens", f]), reference, "{name}: tokens");
        }
    }
);

bktest!(every_command_reads_the_same_id, |dir| {
    // Vertex lines need no id but echo one they carry (styles.toml's `also_id`): validate,
    // dupes, tokens and join all read it by the one id rule of batchkit-line.
    let contents = r#""request":{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#;
    let req = dir.write(
        "req.jsonl",
        format!(
            "{{\"custom_id\":\"v1\",{contents}}}\n{{\"metadata\":{{\"key\":\"m1\"}},{contents}}}\n{{\"custom_id\":\"v1\",{contents}}}\n"
        ),
    );
    let f = req.to_str().unwrap();
    let json = |args: &[&str]| {
        let mut c = dir.cmd();
        c.arg("--format=json").args(args);
        json_lines(&run(c))
    };
    let tokens: Vec<Value> = json(&["tokens", "--per-request", f])
        .into_iter()
        .filter(|e| e["type"] == "request")
        .map(|e| e["custom_id"].clone())
        .collect();
    assert_eq!(tokens, ["v1", "m1", "v1"]);
    let dupes: Vec<(Value, Value)> = json(&["dupes", f])
        .into_iter()
        .filter(|e| e["type"] == "duplicate")
        .map(|e| (e["custom_id"].clone(), e["lines"].clone()))
        .collect();
    assert_eq!(dupes, [(Value::from("v1"), Value::from(vec![1, 3]))]);
    let repeated = |events: Vec<Value>| -> Vec<(Value, Value)> {
        events
            .into_iter()
            .filter(|e| e["code"] == "duplicate_id")
            .map(|e| (e["line"].clone(), e["message"].clone()))
            .collect()
    };
    let validate = repeated(json(&["validate", f]));
    assert_eq!(
        validate,
        [(
            Value::from(3),
            Value::from("custom_id \"v1\" already used on line 1")
        )]
    );
    let results = dir.write("results.jsonl", "");
    let merged = dir.join("merged.jsonl");
    let join = repeated(json(&[
        "join",
        "--requests",
        f,
        "--results",
        results.to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]));
    assert_eq!(join, validate);
});
