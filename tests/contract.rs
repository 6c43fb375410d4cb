//! The JSON Lines contract every command keeps, locked across commands: one `summary` line
//! last, also when the run fails (its keys as in a run that was done, all null but `ok`
//! false and the `error`); the same keys on every record of a type, absent values `null`;
//! per-file records are `file` records; `files` is a count wherever it appears.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::util::{code, fixture, run, Dir};

/// The keys of a JSON object line, in the order written.
fn keys_in_order(line: &str) -> Vec<String> {
    // serde_json's maps sort their keys: read the keys off the text instead.
    let v: Value = serde_json::from_str(line).expect("a JSON line");
    let Value::Object(m) = &v else {
        panic!("not an object: {line}")
    };
    let mut found: Vec<(usize, String)> = m
        .keys()
        .map(|k| {
            let quoted = format!("{}:", serde_json::to_string(k).unwrap());
            // Top-level keys: the first occurrence of `"key":` at depth 1.
            let at = top_level_position(line, &quoted)
                .unwrap_or_else(|| panic!("{k} not at the top level of {line}"));
            (at, k.clone())
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, k)| k).collect()
}

/// Where `needle` (a quoted key and its colon) first appears at nesting depth 1 of `line`.
fn top_level_position(line: &str, needle: &str) -> Option<usize> {
    let b = line.as_bytes();
    let (mut depth, mut in_str, mut esc) = (0i32, false, false);
    for i in 0..b.len() {
        let c = b[i];
        if in_str {
            match (esc, c) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth -= 1,
            b'"' => {
                if depth == 1 && line[i..].starts_with(needle) {
                    return Some(i);
                }
                in_str = true;
            }
            _ => {}
        }
    }
    None
}

/// Runs `batchkit --format json ARGS` in `dir`: (exit code, stdout lines, stderr).
fn json_run(dir: &Dir, args: &[&str]) -> (i32, Vec<String>, String) {
    let mut c = dir.cmd();
    c.args(["--format", "json"]).args(args);
    let out = run(c);
    let stdout = String::from_utf8(out.stdout.clone()).expect("UTF-8 stdout");
    (
        code(&out),
        stdout.lines().map(str::to_string).collect(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Checks the one-summary rule on a run's lines; returns the summary.
fn summary_last(args: &[&str], lines: &[String]) -> Value {
    let summaries: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with(r#"{"type":"summary""#))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        summaries,
        vec![lines.len() - 1],
        "{args:?}: one summary, last: {lines:#?}"
    );
    serde_json::from_str(lines.last().unwrap()).unwrap()
}

fn fx(rel: &str) -> String {
    fixture(rel).display().to_string()
}

bktest!(
    every_command_ends_with_one_summary_with_the_same_keys_done_or_failed,
    |dir| {
        let valid = fx("validate/openai-valid.jsonl");
        let req = fx("join/openai_requests.jsonl");
        let res = fx("join/openai_output.jsonl");
        let merged = fx("compare/openai_merged.jsonl");
        let merged_b = fx("compare/anthropic_merged.jsonl");
        // (command, a run that is done, runs that stop)
        type Case<'a> = (&'a str, Vec<&'a str>, Vec<Vec<&'a str>>);
        let cases: Vec<Case> = vec![
            (
                "validate",
                vec!["validate", &valid],
                vec![
                    vec!["validate", "--bogus-flag", &valid],
                    vec!["validate", "--provider", "nope", &valid],
                ],
            ),
            (
                "dupes",
                vec!["dupes", &valid],
                vec![
                    vec![
                        "dupes",
                        "--write-unique",
                        "u.jsonl",
                        &valid,
                        "missing.jsonl",
                    ],
                    vec!["dupes", "--write-unique", &valid, &valid],
                ],
            ),
            (
                "tokens",
                vec!["tokens", &valid],
                vec![
                    vec!["tokens", "--threads", "100000", &valid],
                    vec!["tokens", "--max-models", "x", &valid],
                ],
            ),
            (
                "shard",
                vec!["shard", &valid, "--out-dir", "sh", "--max-requests", "2"],
                vec![
                    vec!["shard", "missing.jsonl", "--out-dir", "sh2"],
                    vec!["shard", &valid, "--out-dir", "/dev/full/x"],
                ],
            ),
            (
                "join",
                vec![
                    "join",
                    "--requests",
                    &req,
                    "--results",
                    &res,
                    "--out",
                    "m.jsonl",
                ],
                vec![
                    vec![
                        "join",
                        "--requests",
                        &req,
                        "--results",
                        "missing.jsonl",
                        "--out",
                        "m2.jsonl",
                    ],
                    vec![
                        "join",
                        "--requests",
                        &req,
                        "--results",
                        &res,
                        "--out",
                        "/dev/full",
                    ],
                ],
            ),
            (
                "compare",
                vec!["compare", &merged, &merged_b],
                vec![vec!["compare", "missing.jsonl", &merged_b]],
            ),
            (
                "convert",
                vec!["convert", &valid, "--to", "anthropic", "--out", "c.jsonl"],
                vec![
                    vec![
                        "convert",
                        "missing.jsonl",
                        "--to",
                        "anthropic",
                        "--out",
                        "c2.jsonl",
                    ],
                    vec!["convert", &valid, "--to", "nowhere", "--out", "c3.jsonl"],
                ],
            ),
        ];
        for (command, done, failing) in &cases {
            let (rc, lines, _) = json_run(&dir, done);
            assert!(rc == 0 || rc == 1, "{done:?}: exit {rc}: {lines:#?}");
            let s = summary_last(done, &lines);
            assert!(s["error"].is_null() && s.get("error").is_some(), "{done:?}");
            assert_eq!(
                s["ok"],
                Value::Bool(rc == 0),
                "{done:?}: ok follows the exit code"
            );
            let keys = keys_in_order(lines.last().unwrap());
            assert_eq!(keys.first().map(String::as_str), Some("type"));
            // The failure summary's key list is the printer's, which must be this one.
            let declared = batchkit_report::summary_keys(command).unwrap();
            let own: Vec<String> = keys
                .iter()
                .filter(|k| !matches!(k.as_str(), "type" | "ok" | "error"))
                .cloned()
                .collect();
            assert_eq!(
                own, declared,
                "{command}: summary_keys drifted from the summary"
            );
            if let Some(files) = s.get("files") {
                assert!(files.is_u64(), "{command}: files is a count: {s}");
            }
            for args in failing {
                let (rc, lines, stderr) = json_run(&dir, args);
                assert_eq!(rc, 2, "{args:?}: {lines:#?} {stderr}");
                let f = summary_last(args, &lines);
                let fkeys: BTreeSet<String> =
                    keys_in_order(lines.last().unwrap()).into_iter().collect();
                let dkeys: BTreeSet<String> = keys.iter().cloned().collect();
                assert_eq!(
                    fkeys, dkeys,
                    "{args:?}: the same keys as a run that was done"
                );
                assert_eq!(f["ok"], Value::Bool(false), "{args:?}");
                let e = &f["error"];
                assert!(
                    e["code"].is_string() && e["message"].is_string(),
                    "{args:?}: {f}"
                );
                assert!(
                    stderr.contains(e["message"].as_str().unwrap()),
                    "{args:?}: the error stderr gives: {stderr} / {e}"
                );
                // Only an input that could not be read leaves counts: the run went on with
                // the others (validate, tokens, dupes without an output file).
                let partial = lines.iter().any(|l| l.starts_with(r#"{"type":"file""#));
                if !partial {
                    for (k, v) in f.as_object().unwrap() {
                        if !matches!(k.as_str(), "type" | "ok" | "error") {
                            assert!(v.is_null(), "{args:?}: {k} is {v} in a stopped run");
                        }
                    }
                }
            }
        }
    }
);

bktest!(inputs_that_cannot_be_read_are_the_summary_error, |dir| {
    let valid = fx("validate/openai-valid.jsonl");
    for command in ["validate", "tokens", "dupes"] {
        let (rc, lines, _) = json_run(&dir, &[command, &valid, "missing.jsonl"]);
        assert_eq!(rc, 2, "{command}");
        let s = summary_last(&[command], &lines);
        assert_eq!(s["ok"], Value::Bool(false), "{command}");
        assert_eq!(s["files"], Value::from(2), "{command}: {s}");
        assert_eq!(s["error"]["code"], "unreadable", "{command}: {s}");
        assert_eq!(s["error"]["file"], "missing.jsonl", "{command}: {s}");
        // The error event says the same, with the same keys.
        let ev: Value = lines
            .iter()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|v| v["type"] == "error")
            .unwrap();
        assert_eq!(ev["message"], s["error"]["message"], "{command}");
        assert_eq!(ev["code"], s["error"]["code"], "{command}");
        // The readable one has its file record; validate gives the missing one a record too.
        let files: Vec<String> = lines
            .iter()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|v| v["type"] == "file")
            .map(|v| v["file"].as_str().unwrap().to_string())
            .collect();
        assert!(files.contains(&valid), "{command}: {files:?}");
    }
});

bktest!(records_of_a_type_have_the_same_keys_in_every_run, |dir| {
    // (command, record type) -> the key lists seen, with the run that printed them.
    let mut seen: BTreeMap<(String, String), BTreeMap<Vec<String>, String>> = BTreeMap::new();
    let mut note = |command: &str, args: &[String], lines: &[String]| {
        for l in lines {
            let v: Value = serde_json::from_str(l).unwrap();
            let kind = v["type"].as_str().unwrap_or("?").to_string();
            seen.entry((command.to_string(), kind))
                .or_default()
                .entry(keys_in_order(l))
                .or_insert_with(|| format!("{args:?}"));
        }
    };
    let fixtures = crate::validate::all_jsonl_fixtures();
    let mut k = 0;
    for f in &fixtures {
        let f = f.display().to_string();
        let mut runs: Vec<(&str, Vec<String>)> = vec![
            ("validate", vec!["validate".into(), f.clone()]),
            ("dupes", vec!["dupes".into(), f.clone()]),
            (
                "tokens",
                vec!["tokens".into(), "--per-request".into(), f.clone()],
            ),
        ];
        k += 1;
        runs.push((
            "shard",
            vec![
                "shard".into(),
                f.clone(),
                "--out-dir".into(),
                format!("sh{k}"),
                "--max-requests".into(),
                "3".into(),
            ],
        ));
        runs.push((
            "convert",
            vec![
                "convert".into(),
                f.clone(),
                "--to".into(),
                "gemini".into(),
                "--out".into(),
                format!("c{k}.jsonl"),
            ],
        ));
        for (command, args) in runs {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            let (_, lines, _) = json_run(&dir, &a);
            note(command, &args, &lines);
        }
    }
    for (r, o) in [
        ("openai_requests.jsonl", "openai_output.jsonl"),
        ("anthropic_requests.jsonl", "anthropic_results.jsonl"),
        ("vertex_requests.jsonl", "vertex_predictions.jsonl"),
        ("gemini_requests.jsonl", "gemini_results.jsonl"),
        ("responses_requests.jsonl", "responses_results.jsonl"),
    ] {
        let (r, o) = (fx(&format!("join/{r}")), fx(&format!("join/{o}")));
        if !std::path::Path::new(&r).exists() || !std::path::Path::new(&o).exists() {
            continue;
        }
        k += 1;
        let args: Vec<String> = ["join", "--requests", &r, "--results", &o, "--out"]
            .iter()
            .map(|s| s.to_string())
            .chain([format!("m{k}.jsonl")])
            .collect();
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let (_, lines, _) = json_run(&dir, &a);
        note("join", &args, &lines);
    }
    let mut bad = Vec::new();
    for ((command, kind), shapes) in &seen {
        if shapes.len() > 1 {
            bad.push(format!("{command} {kind}: {shapes:#?}"));
        }
    }
    assert!(
        bad.is_empty(),
        "records of one type with different keys:\n{}",
        bad.join("\n")
    );
    // The run covered the record types each command has.
    for (command, kind) in [
        ("validate", "file"),
        ("validate", "diagnostic"),
        ("dupes", "file"),
        ("dupes", "duplicate"),
        ("tokens", "file"),
        ("tokens", "request"),
        ("shard", "shard"),
        ("convert", "summary"),
        ("join", "summary"),
    ] {
        assert!(
            seen.contains_key(&(command.to_string(), kind.to_string())),
            "{command} printed no {kind} record"
        );
    }
});
